/* See webd-spec.h. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "proto/spec.h"
#include "proto/utf8.h"
#include "svc-web/webd-spec.h"

#define ALIAS_PREFIX "overlay_"

/* U+202A..U+202E (E2 80 AA..AE) and U+2066..U+2069 (E2 81 A6..A9). */
static bool has_bidi_override(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                                     (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
                        return true;
        return false;
}

static bool has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

const char *webd_check_name(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n == 0)
                return "Enter a name.";
        if (n > WEBD_NAME_MAX)
                return "The name is too long (at most 128 bytes).";
        if (!utf8_is_valid(name, n) || has_control(name))
                return "The name may not contain control characters.";
        if (has_bidi_override(name))
                return "The name may not contain text-direction overrides.";
        return NULL;
}

const char *webd_check_hostname(const char *hostname) {
        size_t n = hostname ? strlen(hostname) : 0;

        if (n == 0)
                return NULL;
        if (n > WEBD_HOSTNAME_MAX)
                return "The hostname is too long (at most 128 bytes).";
        if (!utf8_is_valid(hostname, n) || has_control(hostname) || has_bidi_override(hostname))
                return "The hostname may not contain control characters or text-direction overrides.";
        if (strchr(hostname, '"'))
                return "The hostname may not contain double quotes (server.cfg cannot escape them).";
        return NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Calls cb for each whitespace-separated word of text (copied into a bounded buffer). */
static int each_word(const char *text, int (*cb)(const char *word, void *userdata), void *userdata) {
        char word[SPEC_MAX_ARG_LEN + 2];

        for (const char *p = text ?: ""; *p;) {
                size_t n;
                int r;

                p += strspn(p, " \t\r\n");
                n = strcspn(p, " \t\r\n");
                if (n == 0)
                        break;
                /* One byte over the limit is enough for the check to refuse it. */
                snprintf(word, sizeof(word), "%.*s", (int) MIN(n, SPEC_MAX_ARG_LEN + 1), p);
                r = cb(word, userdata);
                if (r < 0)
                        return r;
                p += n;
        }
        return 0;
}

/* Calls cb for each non-empty line of text (CR before LF dropped). */
static int each_line(const char *text, int (*cb)(const char *line, size_t n, void *userdata),
                     void *userdata) {
        for (const char *p = text ?: ""; *p;) {
                size_t n = strcspn(p, "\n"), m = n;
                int r;

                if (m > 0 && p[m - 1] == '\r')
                        m--;
                if (m > 0) {
                        r = cb(p, m, userdata);
                        if (r < 0)
                                return r;
                }
                p += n;
                if (*p == '\n')
                        p++;
        }
        return 0;
}

struct check_ctx {
        char *err;
        size_t errlen;
        unsigned n;
};

static int check_argument(const char *word, void *userdata) {
        struct check_ctx *c = userdata;
        const char *reserved;

        if (++c->n > SPEC_MAX_ARGUMENTS)
                return fail(c->err, c->errlen, "At most %u launch arguments.", SPEC_MAX_ARGUMENTS);
        if (!spec_argument_is_valid(word))
                return fail(c->err, c->errlen,
                            "Launch argument %u is not allowed: at most 256 bytes, without quotes, "
                            "backslashes, '$' or '`'.",
                            c->n);
        reserved = spec_argument_reserved(word);
        if (reserved)
                return fail(c->err, c->errlen, "Launch argument %u sets %s, which the host decides.", c->n,
                            reserved);
        return 0;
}

static int check_line(const char *line, size_t n, void *userdata) {
        struct check_ctx *c = userdata;
        char buf[SPEC_MAX_LINE_LEN + 1];

        if (++c->n > SPEC_MAX_CONFIG - WEBD_BP_OVERLAYS_MAX - 2)
                return fail(c->err, c->errlen, "The config has too many lines.");
        if (n > SPEC_MAX_LINE_LEN)
                return fail(c->err, c->errlen, "Config line %u is too long (at most 4096 bytes).", c->n);
        memcpy(buf, line, n);
        buf[n] = 0;
        if (!spec_config_line_is_valid(buf))
                return fail(c->err, c->errlen, "Config line %u has control characters or is not UTF-8.",
                            c->n);
        return 0;
}

int webd_check_blueprint(const struct webd_blueprint *b, char *err, size_t errlen) {
        struct check_ctx c = {err, errlen, 0};
        const char *m = webd_check_name(b->name);
        int r;

        if (m)
                return fail(err, errlen, "%s", m);
        if (strlen(b->arguments ?: "") > WEBD_ARGUMENTS_MAX)
                return fail(err, errlen, "The launch arguments are too long (at most 4096 bytes).");
        if (strlen(b->config ?: "") > WEBD_CONFIG_MAX)
                return fail(err, errlen, "The config is too long (at most 64 KiB).");
        r = each_word(b->arguments, check_argument, &c);
        if (r < 0)
                return r;
        c.n = 0;
        r = each_line(b->config, check_line, &c);
        if (r < 0)
                return r;
        if (b->n_overlays > WEBD_BP_OVERLAYS_MAX)
                return fail(err, errlen, "At most %u overlays in a blueprint.", WEBD_BP_OVERLAYS_MAX);
        for (size_t i = 0; i < b->n_overlays; i++) {
                if (!name_is_valid(b->overlays[i].id))
                        return fail(err, errlen, "Overlay %zu is not a valid overlay.", i + 1);
                if (b->overlays[i].expose &&
                    strlen(ALIAS_PREFIX) + strlen(b->overlays[i].id) > SPEC_MAX_ALIAS_LEN)
                        return fail(err, errlen, "Overlay %s has too long a name to expose its server.cfg.",
                                    b->overlays[i].id);
                for (size_t j = 0; j < i; j++)
                        if (streq(b->overlays[i].id, b->overlays[j].id))
                                return fail(err, errlen, "Overlay %s is listed twice.", b->overlays[i].id);
        }
        return 0;
}

void webd_spec_hostname(const struct webd_server *s, char *buf, size_t len) {
        if (!isempty(s->hostname))
                snprintf(buf, len, "%s", s->hostname);
        else
                snprintf(buf, len, "%s %s", s->owner_name ?: "", s->name ?: "");
        for (char *p = buf; *p; p++)
                if (*p == '"' || (unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '\'';
}

/* ---- rendering -------------------------------------------------------------------------- */

struct out {
        char *data;
        size_t len, alloc;
        bool failed;
};

static void out_add(struct out *o, const char *s, size_t n) {
        if (o->failed)
                return;
        if (o->len + n + 1 > o->alloc) {
                size_t na = MAX(o->alloc * 2, o->len + n + 1024);
                char *t = realloc(o->data, na);
                if (!t) {
                        o->failed = true;
                        return;
                }
                o->data = t;
                o->alloc = na;
        }
        memcpy(o->data + o->len, s, n);
        o->len += n;
        o->data[o->len] = 0;
}

static void out_str(struct out *o, const char *s) {
        out_add(o, s, strlen(s));
}

/* A YAML double-quoted scalar: lines are checked free of control characters, so only '\'
 * and '"' need escaping. */
static void out_quoted(struct out *o, const char *s, size_t n) {
        out_add(o, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '"' || s[i] == '\\')
                        out_add(o, "\\", 1);
                out_add(o, s + i, 1);
        }
        out_add(o, "\"", 1);
}

static void out_item(struct out *o, const char *s, size_t n) {
        out_str(o, "  - ");
        out_quoted(o, s, n);
        out_str(o, "\n");
}

static int render_argument(const char *word, void *userdata) {
        out_item(userdata, word, strlen(word));
        return 0;
}

static int render_line(const char *line, size_t n, void *userdata) {
        out_item(userdata, line, n);
        return 0;
}

static void render_exec(const char *line, void *userdata) {
        out_item(userdata, line, strlen(line));
}

void webd_spec_exec_lines(const struct webd_blueprint *b, void (*cb)(const char *line, void *userdata),
                          void *userdata) {
        char line[sizeof("exec server_" ALIAS_PREFIX) + WEBD_OVERLAY_ID_MAX];

        for (size_t i = b->n_overlays; i-- > 0;)
                if (b->overlays[i].expose) {
                        snprintf(line, sizeof(line), "exec server_" ALIAS_PREFIX "%s", b->overlays[i].id);
                        cb(line, userdata);
                }
}

int webd_spec_render(const struct webd_blueprint *b, const struct webd_server *s, char **ret, char *err,
                     size_t errlen) {
        struct out o = {};
        char buf[WEBD_HOSTNAME_MAX * 2 + 160];
        struct instance_spec parsed = {};
        struct rpc_error e = {};
        int r;

        snprintf(buf, sizeof(buf), "port: %u\noverlays:", s->port);
        out_str(&o, buf);
        out_str(&o, b->n_overlays ? "\n" : " []\n");
        for (size_t i = 0; i < b->n_overlays; i++) {
                const char *id = b->overlays[i].id;
                if (b->overlays[i].expose) {
                        out_str(&o, "  - {path: ");
                        out_quoted(&o, id, strlen(id));
                        out_str(&o, ", alias: \"" ALIAS_PREFIX);
                        out_str(&o, id);
                        out_str(&o, "\"}\n");
                } else
                        out_item(&o, id, strlen(id));
        }
        out_str(&o, "arguments:");
        out_str(&o,
                isempty(b->arguments) || !b->arguments[strspn(b->arguments, " \t\r\n")] ? " []\n" : "\n");
        (void) each_word(b->arguments, render_argument, &o);
        out_str(&o, "config:\n");
        webd_spec_exec_lines(b, render_exec, &o);
        (void) each_line(b->config, render_line, &o);
        {
                char host[WEBD_HOSTNAME_MAX * 2 + 4];
                webd_spec_hostname(s, host, sizeof(host));
                snprintf(buf, sizeof(buf), "hostname \"%s\"", host);
                out_item(&o, buf, strlen(buf));
        }
        snprintf(buf, sizeof(buf), "rcon_password \"%s\"", s->rcon_password ?: "");
        out_item(&o, buf, strlen(buf));
        if (o.failed) {
                free(o.data);
                return -ENOMEM;
        }
        /* The same parser as hostd's, with the port taken as given (hostd checks the range). */
        r = spec_parse(o.data, o.len, 1, 65535, &parsed, &e);
        if (r < 0) {
                free(o.data);
                return fail(err, errlen, "The blueprint does not make a valid spec: %s", e.message);
        }
        instance_spec_done(&parsed);
        *ret = o.data;
        return 0;
}

void webd_spec_hash(const char *spec, char out[WEBD_SPEC_HASH_HEX]) {
        unsigned char h[16];

        (void) crypto_generichash(h, sizeof(h), (const unsigned char *) spec, strlen(spec), NULL, 0);
        (void) sodium_bin2hex(out, WEBD_SPEC_HASH_HEX, h, sizeof(h));
}

void webd_host_name(int64_t server_id, char *buf, size_t len) {
        snprintf(buf, len, "web-%" PRId64, server_id);
}

int64_t webd_host_id(const char *instance) {
        const char *p;
        int64_t id = 0;

        if (!instance || strncmp(instance, "web-", 4) != 0)
                return 0;
        p = instance + 4;
        if (*p < '1' || *p > '9' || strlen(p) > 18)
                return 0;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                id = id * 10 + (*p - '0');
        }
        return id;
}
