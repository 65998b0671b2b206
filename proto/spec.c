/* Instance spec parsing, validation and rendering. See spec.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/util.h"
#include "proto/args.h"
#include "proto/utf8.h"
#include "proto/spec.h"

void instance_spec_done(struct instance_spec *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_overlays; i++) {
                free(s->overlays[i].path);
                free(s->overlays[i].alias);
        }
        free(s->overlays);
        strv_free(s->arguments);
        strv_free(s->config);
        *s = (struct instance_spec){};
}

static bool char_is_ref(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
}

bool spec_ref_is_valid(const char *ref) {
        size_t n;
        const char *p;

        if (!ref)
                return false;
        n = strlen(ref);
        if (n < 1 || n > SPEC_MAX_REF_LEN)
                return false;
        p = ref;
        for (;;) {
                const char *end = strchrnul(p, '/');
                size_t len = (size_t) (end - p);

                if (len == 0)
                        return false; /* leading '/', "//" or trailing '/' */
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (size_t i = 0; i < len; i++)
                        if (!char_is_ref(p[i]))
                                return false;
                if (!*end)
                        return true;
                p = end + 1;
        }
}

bool spec_alias_is_valid(const char *alias) {
        size_t n;

        if (!alias)
                return false;
        n = strlen(alias);
        if (n < 1 || n > SPEC_MAX_ALIAS_LEN)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = alias[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

bool spec_argument_is_valid(const char *arg) {
        size_t n;

        if (!arg)
                return false;
        n = strlen(arg);
        if (n < 1 || n > SPEC_MAX_ARG_LEN || !utf8_is_valid(arg, n))
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) arg[i];
                if (c <= 0x20 || c == 0x7f || strchr("\"'\\$`", c))
                        return false;
        }
        return true;
}

const char *spec_argument_reserved(const char *arg) {
        /* What hostd sets on the command line itself (units/left4me-server@.service.in): the
         * game's port and address, the ports srcds binds beside it, and the game directory.
         * srcds takes the last of repeated options, so one of these later in L4D2_ARGS would
         * win over hostd's. Both prefixes, and any case: the engine ignores case. */
        static const char *const reserved[] = {"port",       "hostport", "ip",    "hostip",
                                               "clientport", "tv_port",  "sport", "game"};

        if (!arg || (arg[0] != '+' && arg[0] != '-'))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (strcasecmp(arg + 1, reserved[i]) == 0)
                        return reserved[i];
        return NULL;
}

bool spec_config_line_is_valid(const char *line) {
        size_t n;

        if (!line)
                return false;
        n = strlen(line);
        if (n > SPEC_MAX_LINE_LEN || !utf8_is_valid(line, n))
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) line[i];
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

bool spec_root_is_valid(const char *root) {
        size_t n;

        if (!root || root[0] != '/')
                return false;
        n = strlen(root);
        if (n > 1024)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) root[i];
                if (c <= 0x20 || c == 0x7f || strchr(":,\"'\\$`", c))
                        return false;
        }
        return true;
}

/* ---- YAML ------------------------------------------------------------------------------ */

struct yp {
        yaml_parser_t parser;
        yaml_event_t ev;
        bool have_ev;
        struct rpc_error *e;
};

static int yp_fail(struct yp *y, const char *fmt, ...) _printf_(2, 3);
static int yp_fail(struct yp *y, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) rpc_error_setv(y->e, RPC_INVALID, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static unsigned yp_line(const struct yp *y) {
        return (unsigned) y->ev.start_mark.line + 1;
}

/* Reads the next event into y->ev. Refuses aliases and anchors. */
static int yp_next(struct yp *y) {
        if (y->have_ev) {
                yaml_event_delete(&y->ev);
                y->have_ev = false;
        }
        if (!yaml_parser_parse(&y->parser, &y->ev))
                return yp_fail(y, "spec: line %u: %s", (unsigned) y->parser.problem_mark.line + 1,
                               y->parser.problem ?: "malformed YAML");
        y->have_ev = true;
        switch (y->ev.type) {
        case YAML_ALIAS_EVENT:
                return yp_fail(y, "spec: line %u: YAML aliases are not allowed", yp_line(y));
        case YAML_SCALAR_EVENT:
                if (y->ev.data.scalar.anchor)
                        return yp_fail(y, "spec: line %u: YAML anchors are not allowed", yp_line(y));
                break;
        case YAML_SEQUENCE_START_EVENT:
                if (y->ev.data.sequence_start.anchor)
                        return yp_fail(y, "spec: line %u: YAML anchors are not allowed", yp_line(y));
                break;
        case YAML_MAPPING_START_EVENT:
                if (y->ev.data.mapping_start.anchor)
                        return yp_fail(y, "spec: line %u: YAML anchors are not allowed", yp_line(y));
                break;
        default:
                break;
        }
        return 0;
}

/* Skips the value whose first event is the current one. */
static int yp_skip_value(struct yp *y) {
        unsigned depth = 0;

        for (;;) {
                int r;

                switch (y->ev.type) {
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        depth++;
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        break;
                case YAML_SCALAR_EVENT:
                        break;
                default:
                        return yp_fail(y, "spec: line %u: unexpected YAML event", yp_line(y));
                }
                if (depth == 0)
                        return 0;
                r = yp_next(y);
                if (r < 0)
                        return r;
        }
}

/* The current event as a string scalar (copied). field names it for the error. */
static int yp_scalar_dup(struct yp *y, const char *field, char **ret) {
        const char *v;
        size_t n;
        char *s;

        if (y->ev.type != YAML_SCALAR_EVENT)
                return yp_fail(y, "%s: must be a string", field);
        v = (const char *) y->ev.data.scalar.value;
        n = y->ev.data.scalar.length;
        if (strnlen(v, n) != n)
                return yp_fail(y, "%s: contains a NUL byte", field);
        if (!utf8_is_valid(v, n))
                return yp_fail(y, "%s: is not valid UTF-8", field);
        s = strndup(v, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static bool yp_is_null(const struct yp *y) {
        const char *v = (const char *) y->ev.data.scalar.value;

        if (y->ev.type != YAML_SCALAR_EVENT || y->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        return streq(v, "") || streq(v, "~") || streq(v, "null") || streq(v, "Null") || streq(v, "NULL");
}

/* A list of strings, each checked by valid(). The current event is the value's first. */
static int yp_parse_strv(struct yp *y, const char *field, size_t max, bool (*valid)(const char *),
                         const char *what, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0, alloc = 0;
        int r;

        if (yp_is_null(y)) {
                v = calloc(1, sizeof(char *));
                if (!v)
                        return -ENOMEM;
                *ret = TAKE_PTR(v);
                return 0;
        }
        if (y->ev.type != YAML_SEQUENCE_START_EVENT)
                return yp_fail(y, "%s: must be a list", field);
        v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (;;) {
                char name[64];
                char *s = NULL;

                r = yp_next(y);
                if (r < 0)
                        return r;
                if (y->ev.type == YAML_SEQUENCE_END_EVENT)
                        break;
                snprintf(name, sizeof(name), "%s[%zu]", field, n);
                if (n >= max)
                        return yp_fail(y, "%s: at most %zu entries", field, max);
                r = yp_scalar_dup(y, name, &s);
                if (r < 0)
                        return r;
                if (!valid(s)) {
                        free(s);
                        return yp_fail(y, "%s: %s", name, what);
                }
                if (n + 2 > alloc) {
                        size_t na = alloc ? alloc * 2 : 8;
                        char **nv = realloc(v, na * sizeof(char *));
                        if (!nv) {
                                free(s);
                                return -ENOMEM;
                        }
                        v = nv;
                        alloc = na;
                }
                v[n++] = s;
                v[n] = NULL;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static int yp_parse_overlay_map(struct yp *y, const char *field, struct overlay_ref *ret) {
        _cleanup_free_ char *path = NULL, *alias = NULL;
        int r;

        for (;;) {
                _cleanup_free_ char *key = NULL;
                char name[96];

                r = yp_next(y);
                if (r < 0)
                        return r;
                if (y->ev.type == YAML_MAPPING_END_EVENT)
                        break;
                r = yp_scalar_dup(y, field, &key);
                if (r < 0)
                        return r == -EINVAL ? yp_fail(y, "%s: keys must be strings", field) : r;
                r = yp_next(y);
                if (r < 0)
                        return r;
                if (streq(key, "path") || streq(key, "alias")) {
                        char **dst = streq(key, "path") ? &path : &alias;

                        snprintf(name, sizeof(name), "%s.%s", field, key);
                        if (*dst)
                                return yp_fail(y, "%s: given twice", name);
                        if (dst == &alias && yp_is_null(y))
                                continue;
                        r = yp_scalar_dup(y, name, dst);
                        if (r < 0)
                                return r;
                } else {
                        r = yp_skip_value(y);
                        if (r < 0)
                                return r;
                }
        }
        if (!path)
                return yp_fail(y, "%s.path: is required", field);
        if (!spec_ref_is_valid(path))
                return yp_fail(y,
                               "%s.path: must be a relative path below overlays/ (components of "
                               "A-Z a-z 0-9 . _ -, no '..', at most %u bytes)",
                               field, SPEC_MAX_REF_LEN);
        if (alias && !spec_alias_is_valid(alias))
                return yp_fail(y, "%s.alias: must be 1-%u characters of A-Z a-z 0-9 _ -", field,
                               SPEC_MAX_ALIAS_LEN);
        ret->path = TAKE_PTR(path);
        ret->alias = TAKE_PTR(alias);
        return 0;
}

static int yp_parse_overlays(struct yp *y, struct instance_spec *s) {
        size_t alloc = 0;
        int r;

        if (yp_is_null(y))
                return 0;
        if (y->ev.type != YAML_SEQUENCE_START_EVENT)
                return yp_fail(y, "overlays: must be a list");
        for (;;) {
                char name[32];
                struct overlay_ref o = {};

                r = yp_next(y);
                if (r < 0)
                        return r;
                if (y->ev.type == YAML_SEQUENCE_END_EVENT)
                        break;
                snprintf(name, sizeof(name), "overlays[%zu]", s->n_overlays);
                if (s->n_overlays >= SPEC_MAX_OVERLAYS)
                        return yp_fail(y, "overlays: at most %u overlays (%u layers with the installation)",
                                       SPEC_MAX_OVERLAYS, SPEC_MAX_LAYERS);
                if (y->ev.type == YAML_SCALAR_EVENT) {
                        r = yp_scalar_dup(y, name, &o.path);
                        if (r < 0)
                                return r;
                        if (!spec_ref_is_valid(o.path)) {
                                free(o.path);
                                return yp_fail(y,
                                               "%s: must be a relative path below overlays/ (components of "
                                               "A-Z a-z 0-9 . _ -, no '..', at most %u bytes)",
                                               name, SPEC_MAX_REF_LEN);
                        }
                } else if (y->ev.type == YAML_MAPPING_START_EVENT) {
                        r = yp_parse_overlay_map(y, name, &o);
                        if (r < 0)
                                return r;
                } else
                        return yp_fail(y, "%s: must be a string or a mapping {path, alias}", name);

                if (s->n_overlays + 1 > alloc) {
                        size_t na = alloc ? alloc * 2 : 8;
                        struct overlay_ref *nv = realloc(s->overlays, na * sizeof(*nv));
                        if (!nv) {
                                free(o.path);
                                free(o.alias);
                                return -ENOMEM;
                        }
                        s->overlays = nv;
                        alloc = na;
                }
                s->overlays[s->n_overlays++] = o;
        }

        for (size_t i = 0; i < s->n_overlays; i++)
                for (size_t j = 0; j < i; j++) {
                        if (streq(s->overlays[i].path, s->overlays[j].path))
                                return yp_fail(y, "overlays[%zu]: '%s' is already overlays[%zu]", i,
                                               s->overlays[i].path, j);
                        if (s->overlays[i].alias && s->overlays[j].alias &&
                            streq(s->overlays[i].alias, s->overlays[j].alias))
                                return yp_fail(y,
                                               "overlays[%zu].alias: '%s' is already used by overlays[%zu]",
                                               i, s->overlays[i].alias, j);
                }
        return 0;
}

static int yp_parse_port(struct yp *y, unsigned port_min, unsigned port_max, unsigned *ret) {
        const char *v;
        size_t n;
        unsigned long p = 0;

        if (y->ev.type != YAML_SCALAR_EVENT || yp_is_null(y))
                return yp_fail(y, "port: must be a number");
        v = (const char *) y->ev.data.scalar.value;
        n = y->ev.data.scalar.length;
        if (n < 1 || n > 5)
                return yp_fail(y, "port: must be a number between %u and %u", port_min, port_max);
        for (size_t i = 0; i < n; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return yp_fail(y, "port: must be a number between %u and %u", port_min, port_max);
                p = p * 10 + (unsigned long) (v[i] - '0');
        }
        if (p < port_min || p > port_max || p < 1 || p > 65535)
                return yp_fail(y, "port: %lu is outside the allowed range %u-%u", p, port_min, port_max);
        *ret = (unsigned) p;
        return 0;
}

static bool valid_config_line(const char *s) {
        return spec_config_line_is_valid(s);
}

static int yp_parse_document(struct yp *y, unsigned port_min, unsigned port_max, struct instance_spec *s) {
        bool have_port = false, have_overlays = false;
        int r;

        r = yp_next(y);
        if (r < 0)
                return r;
        if (y->ev.type != YAML_STREAM_START_EVENT)
                return yp_fail(y, "spec: malformed YAML");
        r = yp_next(y);
        if (r < 0)
                return r;
        if (y->ev.type == YAML_STREAM_END_EVENT)
                return yp_fail(y, "port: is required (the spec is empty)");
        if (y->ev.type != YAML_DOCUMENT_START_EVENT)
                return yp_fail(y, "spec: malformed YAML");
        r = yp_next(y);
        if (r < 0)
                return r;
        if (yp_is_null(y))
                return yp_fail(y, "port: is required (the spec is empty)");
        if (y->ev.type != YAML_MAPPING_START_EVENT)
                return yp_fail(y, "spec: must be a mapping (port, overlays, arguments, config)");

        for (;;) {
                _cleanup_free_ char *key = NULL;

                r = yp_next(y);
                if (r < 0)
                        return r;
                if (y->ev.type == YAML_MAPPING_END_EVENT)
                        break;
                if (y->ev.type != YAML_SCALAR_EVENT)
                        return yp_fail(y, "spec: line %u: keys must be strings", yp_line(y));
                r = yp_scalar_dup(y, "spec: key", &key);
                if (r < 0)
                        return r;
                r = yp_next(y);
                if (r < 0)
                        return r;
                if (streq(key, "port")) {
                        if (have_port)
                                return yp_fail(y, "port: given twice");
                        have_port = true;
                        r = yp_parse_port(y, port_min, port_max, &s->port);
                } else if (streq(key, "overlays")) {
                        if (have_overlays)
                                return yp_fail(y, "overlays: given twice");
                        have_overlays = true;
                        r = yp_parse_overlays(y, s);
                } else if (streq(key, "arguments")) {
                        if (s->arguments)
                                return yp_fail(y, "arguments: given twice");
                        r = yp_parse_strv(y, "arguments", SPEC_MAX_ARGUMENTS, spec_argument_is_valid,
                                          "must be 1-256 bytes without whitespace, control characters, "
                                          "quotes, '\\', '$' or '`'",
                                          &s->arguments);
                        for (size_t i = 0; r >= 0 && s->arguments && s->arguments[i]; i++)
                                if (spec_argument_reserved(s->arguments[i]))
                                        r = yp_fail(y,
                                                    "arguments[%zu]: '%s' is set by left4me (the port from "
                                                    "port:, "
                                                    "the address, the other ports and the game directory); "
                                                    "remove it",
                                                    i, s->arguments[i]);
                } else if (streq(key, "config")) {
                        if (s->config)
                                return yp_fail(y, "config: given twice");
                        r = yp_parse_strv(y, "config", SPEC_MAX_CONFIG, valid_config_line,
                                          "must be at most 4096 bytes without control characters",
                                          &s->config);
                } else
                        r = yp_skip_value(y); /* unknown keys are ignored */
                if (r < 0)
                        return r;
        }

        r = yp_next(y);
        if (r < 0)
                return r;
        if (y->ev.type != YAML_DOCUMENT_END_EVENT)
                return yp_fail(y, "spec: malformed YAML");
        r = yp_next(y);
        if (r < 0)
                return r;
        if (y->ev.type != YAML_STREAM_END_EVENT)
                return yp_fail(y, "spec: must hold exactly one YAML document");

        if (!have_port)
                return yp_fail(y, "port: is required");
        return 0;
}

int spec_parse(const char *text, size_t len, unsigned port_min, unsigned port_max, struct instance_spec *ret,
               struct rpc_error *e) {
        struct instance_spec s = {};
        struct yp y = {.e = e};
        int r;

        if (len > SPEC_MAX_BYTES)
                return rpc_error_set(e, RPC_INVALID, "spec: larger than %u bytes", SPEC_MAX_BYTES);
        if (strnlen(text, len) != len)
                return rpc_error_set(e, RPC_INVALID, "spec: contains a NUL byte");
        if (!utf8_is_valid(text, len))
                return rpc_error_set(e, RPC_INVALID, "spec: is not valid UTF-8");
        if (!yaml_parser_initialize(&y.parser))
                return rpc_error_set(e, RPC_INTERNAL, "spec: out of memory");
        yaml_parser_set_input_string(&y.parser, (const unsigned char *) text, len);
        yaml_parser_set_encoding(&y.parser, YAML_UTF8_ENCODING);

        r = yp_parse_document(&y, port_min, port_max, &s);
        if (y.have_ev)
                yaml_event_delete(&y.ev);
        yaml_parser_delete(&y.parser);
        if (r == -ENOMEM)
                (void) rpc_error_set(e, RPC_INTERNAL, "spec: out of memory");
        if (r >= 0 && !s.arguments && !(s.arguments = calloc(1, sizeof(char *))))
                r = rpc_error_set(e, RPC_INTERNAL, "spec: out of memory");
        if (r >= 0 && !s.config && !(s.config = calloc(1, sizeof(char *))))
                r = rpc_error_set(e, RPC_INTERNAL, "spec: out of memory");
        if (r < 0) {
                instance_spec_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- rendering ------------------------------------------------------------------------- */

/* A small string builder: on allocation failure it sets failed and stops growing. */
struct sbuf {
        char *p;
        size_t len, alloc;
        bool failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
        if (b->failed)
                return;
        if (b->len + n + 1 > b->alloc) {
                size_t na = MAX(b->alloc * 2, b->len + n + 64);
                char *np = realloc(b->p, na);
                if (!np) {
                        b->failed = true;
                        return;
                }
                b->p = np;
                b->alloc = na;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

static void sb_adds(struct sbuf *b, const char *s) {
        sb_add(b, s, strlen(s));
}

static int sb_finish(struct sbuf *b, char **ret) {
        if (!b->failed && !b->p)
                sb_add(b, "", 0);
        if (b->failed) {
                free(b->p);
                return -ENOMEM;
        }
        *ret = b->p;
        return 0;
}

int spec_lowerdirs(const struct instance_spec *s, const char *root, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0;

        v = calloc(s->n_overlays + 2, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_overlays; i++)
                if (asprintf(&v[n++], "%s/overlays/%s", root, s->overlays[i].path) < 0) {
                        v[--n] = NULL;
                        return -ENOMEM;
                }
        if (asprintf(&v[n++], "%s/installation", root) < 0) {
                v[--n] = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

int spec_render_env(const struct instance_spec *s, const char *root, char **ret) {
        _cleanup_strv_free_ char **lower = NULL;
        struct sbuf b = {};
        char port[16];
        int r;

        r = spec_lowerdirs(s, root, &lower);
        if (r < 0)
                return r;
        snprintf(port, sizeof(port), "%u", s->port);
        sb_adds(&b, "# Written by left4me-hostd from spec.yaml; read by left4me-server@.service.\n");
        sb_adds(&b, "L4D2_PORT=");
        sb_adds(&b, port);
        sb_adds(&b, "\nL4D2_ARGS=");
        for (char **a = s->arguments; a && *a; a++) {
                if (a != s->arguments)
                        sb_adds(&b, " ");
                sb_adds(&b, *a);
        }
        sb_adds(&b, "\nL4D2_LOWERDIRS=");
        for (char **l = lower; *l; l++) {
                if (l != lower)
                        sb_adds(&b, ":");
                sb_adds(&b, *l);
        }
        sb_adds(&b, "\n");
        return sb_finish(&b, ret);
}

int spec_render_server_cfg(const struct instance_spec *s, char **ret) {
        struct sbuf b = {};

        for (char **l = s->config; l && *l; l++) {
                sb_adds(&b, *l);
                sb_adds(&b, "\n");
        }
        return sb_finish(&b, ret);
}

/* ---- instance.env ------------------------------------------------------------------------ */

/* Finds "KEY=" at the start of a line; returns the value and its length (to the line end). */
static int env_find(const char *text, size_t len, const char *key, const char **ret, size_t *ret_len) {
        size_t klen = strlen(key);
        size_t i = 0;

        while (i < len) {
                const char *line = text + i;
                const char *nl = memchr(line, '\n', len - i);
                size_t ll = nl ? (size_t) (nl - line) : len - i;

                if (ll > klen && memcmp(line, key, klen) == 0 && line[klen] == '=') {
                        *ret = line + klen + 1;
                        *ret_len = ll - klen - 1;
                        return 0;
                }
                i += ll + 1;
        }
        return -ENOENT;
}

int env_parse_lowerdirs(const char *text, size_t len, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        const char *val;
        size_t vlen, n = 0, count = 1;
        int r;

        r = env_find(text, len, "L4D2_LOWERDIRS", &val, &vlen);
        if (r < 0)
                return r;
        if (vlen == 0)
                return -EINVAL;
        for (size_t i = 0; i < vlen; i++)
                if (val[i] == ':')
                        count++;
        if (count > SPEC_MAX_LAYERS)
                return -E2BIG;
        v = calloc(count + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t start = 0; start <= vlen;) {
                const char *c = memchr(val + start, ':', vlen - start);
                size_t end = c ? (size_t) (c - val) : vlen;

                if (end == start)
                        return -EINVAL;
                v[n] = strndup(val + start, end - start);
                if (!v[n])
                        return -ENOMEM;
                if (strlen(v[n]) != end - start)
                        return -EINVAL;
                n++;
                start = end + 1;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

int env_parse_port(const char *text, size_t len, unsigned *ret) {
        const char *val;
        size_t vlen;
        unsigned long p = 0;
        int r;

        r = env_find(text, len, "L4D2_PORT", &val, &vlen);
        if (r < 0)
                return r;
        if (vlen < 1 || vlen > 5)
                return -EINVAL;
        for (size_t i = 0; i < vlen; i++) {
                if (val[i] < '0' || val[i] > '9')
                        return -EINVAL;
                p = p * 10 + (unsigned long) (val[i] - '0');
        }
        if (p < 1 || p > 65535)
                return -EINVAL;
        *ret = (unsigned) p;
        return 0;
}
