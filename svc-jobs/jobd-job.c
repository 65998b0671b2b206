#include <stdio.h>

#include "proto/args.h"
#include "proto/map.h"
#include "proto/names.h"
#include "proto/spec.h"
#include "proto/utf8.h"
#include "svc-jobs/jobd-job.h"

static const char *const state_names[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",       [JOB_RUNNING] = "running", [JOB_CANCELLING] = "cancelling",
        [JOB_SUCCEEDED] = "succeeded", [JOB_FAILED] = "failed",   [JOB_CANCELLED] = "cancelled",
};

const char *job_state_to_string(enum job_state s) {
        return (unsigned) s < _JOB_STATE_MAX ? state_names[s] : NULL;
}

int job_state_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int i = 0; i < _JOB_STATE_MAX; i++)
                if (streq(s, state_names[i]))
                        return i;
        return -EINVAL;
}

bool job_state_is_terminal(enum job_state s) {
        return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

bool job_transition_ok(enum job_state from, enum job_state to) {
        switch (from) {
        case JOB_QUEUED:
                return to == JOB_RUNNING || to == JOB_CANCELLED;
        case JOB_RUNNING:
                return to == JOB_SUCCEEDED || to == JOB_FAILED || to == JOB_CANCELLING || to == JOB_QUEUED;
        case JOB_CANCELLING:
                return to == JOB_CANCELLED || to == JOB_SUCCEEDED || to == JOB_FAILED;
        default:
                return false;
        }
}

/* Which kinds are retried after a run died half-way: everything hostd does for a server is
 * idempotent by its contract (initialize rewrites, start/stop of a started/stopped unit is a
 * no-op, reset/delete succeed when already gone), and steamcmd's app_update validates what is
 * there. A build script is arbitrary bash, so a build is not run twice behind the user's back.
 * An overlay's delete is idempotent too (hostd answers existed: false when it is gone). */
static const struct job_kind_info kinds[_JOB_KIND_MAX] = {
        [JOB_INSTALL] = {"install", true, true},
        [JOB_SERVER_START] = {"server.start", true, false},
        [JOB_SERVER_STOP] = {"server.stop", true, false},
        [JOB_SERVER_RESET] = {"server.reset", true, false},
        [JOB_SERVER_DELETE] = {"server.delete", true, false},
        [JOB_OVERLAY_BUILD] = {"overlay.build", false, true},
        [JOB_OVERLAY_DELETE] = {"overlay.delete", true, true},
};

const struct job_kind_info *job_kind_info(enum job_kind k) {
        return (unsigned) k < _JOB_KIND_MAX ? &kinds[k] : NULL;
}

const char *job_kind_to_string(enum job_kind k) {
        return (unsigned) k < _JOB_KIND_MAX ? kinds[k].name : NULL;
}

int job_kind_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int i = 0; i < _JOB_KIND_MAX; i++)
                if (streq(s, kinds[i].name))
                        return i;
        return -EINVAL;
}

void job_keys_free(struct job_key *keys, size_t n) {
        if (!keys)
                return;
        for (size_t i = 0; i < n; i++)
                free(keys[i].name);
        free(keys);
}

/* ---- names ------------------------------------------------------------------------------- */

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool job_subject_valid(const char *s) {
        const char *colon;
        size_t tag;

        if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        colon = strchr(s, ':');
        if (!colon)
                return false;
        tag = (size_t) (colon - s);
        if (tag > 32)
                return false;
        for (size_t i = 1; i < tag; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return name_is_valid(colon + 1);
}

bool job_owner_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n < 1 || n > JOB_OWNER_MAX || !utf8_is_valid(s, n))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

bool job_stream_valid(const char *s, size_t n) {
        static const char *const streams[] = {"stdout", "stderr", "step", "info"};
        for (size_t i = 0; i < ELEMENTSOF(streams); i++)
                if (n == strlen(streams[i]) && memcmp(s, streams[i], n) == 0)
                        return true;
        return false;
}

bool job_unit_valid(const char *s, size_t n) {
        return server_unit_is_valid(s, n) || build_unit_is_valid(s, n);
}

int job_units_add(char ***units, const char *unit, size_t n) {
        size_t k = strv_length(*units);
        char **v;

        if (!job_unit_valid(unit, n))
                return -EINVAL;
        for (size_t i = 0; i < k; i++)
                if (strlen((*units)[i]) == n && memcmp((*units)[i], unit, n) == 0)
                        return 0;
        if (k >= JOB_UNITS_MAX)
                return -E2BIG;
        v = realloc(*units, (k + 2) * sizeof(char *));
        if (!v)
                return -ENOMEM;
        *units = v;
        v[k] = strndup(unit, n);
        v[k + 1] = NULL;
        if (!v[k])
                return -ENOMEM;
        return 1;
}

/* ---- payloads ---------------------------------------------------------------------------- */

void job_payload_done(struct job_payload *p) {
        if (!p)
                return;
        free(p->server);
        free(p->overlay);
        free(p->spec);
        free(p->script);
        free(p->base);
        strv_free(p->overlays);
        *p = (struct job_payload){};
}

static int check_name(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        if (!name_is_valid(*(char **) field))
                return rpc_error_set(e, RPC_INVALID, "%s: " NAME_MUST_MATCH, a->name);
        return 0;
}

static int check_names(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        char **v = *(char ***) field;
        for (size_t i = 0; v && v[i]; i++) {
                if (!name_is_valid(v[i]))
                        return rpc_error_set(e, RPC_INVALID, "%s[%zu]: " NAME_MUST_MATCH, a->name, i);
                for (size_t j = 0; j < i; j++)
                        if (streq(v[i], v[j]))
                                return rpc_error_set(e, RPC_INVALID, "%s[%zu]: '%s' is listed twice",
                                                     a->name, i, v[i]);
        }
        return 0;
}

static int check_base(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;
        if (s && !overlay_base_is_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: " OVERLAY_BASE_MUST, a->name);
        return 0;
}

#define P(f) offsetof(struct job_payload, f)
#define ARG_SERVER                                                                                          \
        { "server", RPC_ARG_STR, RPC_ARG_REQUIRED, P(server), 1, NAME_LEN_MAX, 0, check_name }
#define ARG_OVERLAYS                                                                                        \
        { "overlays", RPC_ARG_STRV, 0, P(overlays), 0, JOB_OVERLAYS_MAX, NAME_LEN_MAX, check_names }

static const struct rpc_arg args_install[] = {
        {"_", RPC_ARG_BOOL, 0, 0, 0, 0, 0, NULL}, /* placeholder: never matches a real key */
};
static const struct rpc_arg args_server_start[] = {
        ARG_SERVER,
        {"spec", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, P(spec), 1, JOB_SPEC_MAX, 0, NULL},
        ARG_OVERLAYS,
};
static const struct rpc_arg args_server_other[] = {
        ARG_SERVER,
        ARG_OVERLAYS,
};
#define ARG_OVERLAY                                                                                         \
        { "overlay", RPC_ARG_STR, RPC_ARG_REQUIRED, P(overlay), 1, NAME_LEN_MAX, 0, check_name }
static const struct rpc_arg args_overlay_build[] = {
        ARG_OVERLAY,
        {"script", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, P(script), 1, JOB_SCRIPT_MAX, 0, NULL},
        {"base", RPC_ARG_STR, 0, P(base), 1, 16, 0, check_base},
};
static const struct rpc_arg args_overlay_delete[] = {
        ARG_OVERLAY,
};

static void kind_args(enum job_kind k, const struct rpc_arg **ret, size_t *ret_n) {
        switch (k) {
        case JOB_INSTALL:
                *ret = args_install, *ret_n = 0;
                break;
        case JOB_SERVER_START:
                *ret = args_server_start, *ret_n = ELEMENTSOF(args_server_start);
                break;
        case JOB_OVERLAY_BUILD:
                *ret = args_overlay_build, *ret_n = ELEMENTSOF(args_overlay_build);
                break;
        case JOB_OVERLAY_DELETE:
                *ret = args_overlay_delete, *ret_n = ELEMENTSOF(args_overlay_delete);
                break;
        default:
                *ret = args_server_other, *ret_n = ELEMENTSOF(args_server_other);
                break;
        }
}

/* A server.start's overlay keys come from its spec, not from the caller's list: a caller that
 * left an overlay out would otherwise start a server on it while that overlay is being built.
 * The spec is parsed as hostd will parse it (proto/spec.c; the port range is hostd's to check),
 * so a bad spec is refused here, before it waits in the queue. Each ref's first component that
 * is an overlay id is added to p->overlays (what the caller listed stays: it only adds shared
 * keys). */
static int overlays_from_spec(struct job_payload *p, struct rpc_error *e) {
        struct instance_spec spec = {};
        struct rpc_error se = {};
        size_t n = strv_length(p->overlays);
        int r;

        r = spec_parse(p->spec, strlen(p->spec), 1, 65535, &spec, &se);
        if (r < 0)
                return rpc_error_set(e, RPC_INVALID, "payload.spec: %s", se.message);
        for (size_t i = 0; i < spec.n_overlays; i++) {
                char id[NAME_LEN_MAX + 1];
                const char *ref = spec.overlays[i].path;
                size_t len = strcspn(ref, "/");
                bool have = false;
                char **v;

                if (len > NAME_LEN_MAX)
                        continue;
                memcpy(id, ref, len);
                id[len] = 0;
                if (!name_is_valid(id))
                        continue; /* not one of ours to build (a hand-made directory) */
                for (size_t j = 0; j < n && !have; j++)
                        have = streq(p->overlays[j], id);
                if (have)
                        continue;
                if (n >= JOB_OVERLAYS_MAX) {
                        instance_spec_done(&spec);
                        return rpc_error_set(e, RPC_INVALID, "payload.spec: more than %d overlays",
                                             JOB_OVERLAYS_MAX);
                }
                v = realloc(p->overlays, (n + 2) * sizeof(char *));
                if (!v || !(v[n] = strdup(id))) {
                        if (v)
                                p->overlays = v;
                        instance_spec_done(&spec);
                        return rpc_error_set(e, RPC_INTERNAL, "out of memory");
                }
                v[++n] = NULL;
                p->overlays = v;
        }
        instance_spec_done(&spec);
        return 0;
}

int job_payload_parse(enum job_kind k, const msgpack_object *map, struct job_payload *ret,
                      struct rpc_error *e) {
        struct job_payload p = {};
        const struct rpc_arg *args;
        msgpack_object params;
        size_t n;
        int r;

        if ((unsigned) k >= _JOB_KIND_MAX)
                return rpc_error_set(e, RPC_INVALID, "kind: unknown");
        if (map && map->type != MSGPACK_OBJECT_NIL && map->type != MSGPACK_OBJECT_MAP)
                return rpc_error_set(e, RPC_INVALID, "payload: must be a map");

        /* rpc_args_parse takes a params array [ {map} ]: wrap the payload map in one. */
        params = (msgpack_object){.type = MSGPACK_OBJECT_ARRAY};
        if (map && map->type == MSGPACK_OBJECT_MAP) {
                params.via.array.size = 1;
                params.via.array.ptr = (msgpack_object *) map;
        }
        kind_args(k, &args, &n);
        r = rpc_args_parse(&params, args, n, &p, e);
        if (r < 0) {
                char msg[RPC_ERROR_MESSAGE_MAX];
                snprintf(msg, sizeof(msg), "%s", e->message);
                if (msg[0] == '\'' || strneq(msg, "params", 6))
                        (void) rpc_error_set(e, RPC_INVALID, "payload: %s", msg);
                else
                        (void) rpc_error_set(e, RPC_INVALID, "payload.%s", msg);
                return r;
        }
        /* "empty" is the default: stored as no base, so {base: "empty"} and {} are one payload
         * (and coalesce). */
        if (p.base && streq(p.base, OVERLAY_BASE_EMPTY)) {
                free(p.base);
                p.base = NULL;
        }
        if (k == JOB_SERVER_START) {
                r = overlays_from_spec(&p, e);
                if (r < 0) {
                        job_payload_done(&p);
                        return r;
                }
        }
        *ret = p;
        return 0;
}

/* Fields always packed in this order, absent ones left out, so equal payloads are equal bytes. */
static void payload_pack(const struct job_payload *p, msgpack_packer *pk, bool brief) {
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        if (p->server)
                rpc_pack_kv_str(mpk, "server", p->server);
        if (p->overlay)
                rpc_pack_kv_str(mpk, "overlay", p->overlay);
        if (p->overlays) {
                rpc_pack_key(mpk, "overlays");
                msgpack_pack_array(mpk, strv_length(p->overlays));
                for (char **i = p->overlays; *i; i++)
                        rpc_pack_str(mpk, *i);
        }
        if (p->base)
                rpc_pack_kv_str(mpk, "base", p->base);
        if (!brief && p->spec)
                rpc_pack_kv_str(mpk, "spec", p->spec);
        if (!brief && p->script)
                rpc_pack_kv_str(mpk, "script", p->script);
        (void) rpc_map_end(&map);
}

void job_payload_pack(const struct job_payload *p, msgpack_packer *pk) {
        payload_pack(p, pk, false);
}

void job_payload_pack_brief(const struct job_payload *p, msgpack_packer *pk) {
        payload_pack(p, pk, true);
}

int job_payload_unpack(enum job_kind k, const void *data, size_t len, struct job_payload *ret) {
        msgpack_unpacked unp;
        struct rpc_error e;
        size_t off = 0;
        int r;

        msgpack_unpacked_init(&unp);
        if (msgpack_unpack_next(&unp, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
                msgpack_unpacked_destroy(&unp);
                return -EBADMSG;
        }
        r = job_payload_parse(k, &unp.data, ret, &e);
        msgpack_unpacked_destroy(&unp);
        return r < 0 ? -EBADMSG : 0;
}

/* ---- keys and subjects ------------------------------------------------------------------- */

static int key_add(struct job_key **keys, size_t *n, const char *prefix, const char *name,
                   enum job_key_mode m) {
        struct job_key *k;
        char *s;

        if (asprintf(&s, "%s%s", prefix, name ?: "") < 0)
                return -ENOMEM;
        k = realloc(*keys, (*n + 1) * sizeof(**keys));
        if (!k) {
                free(s);
                return -ENOMEM;
        }
        k[*n] = (struct job_key){.name = s, .mode = m};
        *keys = k;
        (*n)++;
        return 0;
}

int job_keys_derive(enum job_kind k, const struct job_payload *p, struct job_key **ret, size_t *ret_n) {
        struct job_key *keys = NULL;
        size_t n = 0;
        int r = 0;

        switch (k) {
        case JOB_INSTALL:
                r = key_add(&keys, &n, "install", NULL, JOB_KEY_EXCLUSIVE);
                break;
        case JOB_OVERLAY_BUILD:
        case JOB_OVERLAY_DELETE: /* waits for a running build of it; a build after it waits too */
                if (!p->overlay)
                        return -EINVAL;
                r = key_add(&keys, &n, "overlay:", p->overlay, JOB_KEY_EXCLUSIVE);
                break;
        case JOB_SERVER_START:
        case JOB_SERVER_STOP:
        case JOB_SERVER_RESET:
        case JOB_SERVER_DELETE:
                if (!p->server)
                        return -EINVAL;
                r = key_add(&keys, &n, "server:", p->server, JOB_KEY_EXCLUSIVE);
                if (r >= 0)
                        r = key_add(&keys, &n, "install", NULL, JOB_KEY_SHARED);
                for (char **i = p->overlays; r >= 0 && i && *i; i++)
                        r = key_add(&keys, &n, "overlay:", *i, JOB_KEY_SHARED);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0) {
                job_keys_free(keys, n);
                return r;
        }
        *ret = keys;
        *ret_n = n;
        return 0;
}

int job_keys_format(const struct job_key *keys, size_t n, char **ret) {
        size_t len = 1;
        char *s, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(keys[i].name) + 3;
        s = p = malloc(len);
        if (!s)
                return -ENOMEM;
        *p = 0;
        for (size_t i = 0; i < n; i++)
                p += snprintf(p, len - (size_t) (p - s), "%c %s\n",
                              keys[i].mode == JOB_KEY_EXCLUSIVE ? 'x' : 's', keys[i].name);
        *ret = s;
        return 0;
}

int job_keys_parse(const char *s, struct job_key **ret, size_t *ret_n) {
        struct job_key *keys = NULL;
        size_t n = 0;
        int r;

        while (s && *s) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t) (nl - s) : strlen(s);
                _cleanup_free_ char *name = NULL;
                enum job_key_mode m;

                if (len < 3 || (s[0] != 'x' && s[0] != 's') || s[1] != ' ') {
                        job_keys_free(keys, n);
                        return -EBADMSG;
                }
                m = s[0] == 'x' ? JOB_KEY_EXCLUSIVE : JOB_KEY_SHARED;
                name = strndup(s + 2, len - 2);
                if (!name) {
                        job_keys_free(keys, n);
                        return -ENOMEM;
                }
                r = key_add(&keys, &n, name, NULL, m);
                if (r < 0) {
                        job_keys_free(keys, n);
                        return r;
                }
                s += len + (nl ? 1 : 0);
        }
        *ret = keys;
        *ret_n = n;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int job_subjects_derive(enum job_kind k, const struct job_payload *p, char *const *extra, char ***ret) {
        size_t n = strv_length(extra), m = 0;
        char **v;

        v = calloc(n + 2, sizeof(char *));
        if (!v)
                return -ENOMEM;
        if ((k == JOB_SERVER_START || k == JOB_SERVER_STOP || k == JOB_SERVER_RESET ||
             k == JOB_SERVER_DELETE) &&
            p->server) {
                if (asprintf(&v[m], "server:%s", p->server) < 0)
                        goto oom;
                m++;
        } else if ((k == JOB_OVERLAY_BUILD || k == JOB_OVERLAY_DELETE) && p->overlay) {
                if (asprintf(&v[m], "overlay:%s", p->overlay) < 0)
                        goto oom;
                m++;
        }
        for (size_t i = 0; i < n; i++) {
                v[m] = strdup(extra[i]);
                if (!v[m])
                        goto oom;
                m++;
        }
        qsort(v, m, sizeof(char *), cmp_str);
        /* Drop duplicates in place. */
        if (m > 1) {
                size_t w = 1;
                for (size_t i = 1; i < m; i++) {
                        if (streq(v[i], v[w - 1]))
                                free(v[i]);
                        else
                                v[w++] = v[i];
                }
                for (size_t i = w; i < m; i++)
                        v[i] = NULL;
        }
        *ret = v;
        return 0;
oom:
        strv_free(v);
        return -ENOMEM;
}

/* ---- lines ------------------------------------------------------------------------------- */

size_t job_line_sanitize(const char *in, size_t n, char *out, bool *ret_truncated) {
        const unsigned char *p = (const unsigned char *) in;
        size_t i = 0, o = 0;
        bool truncated = false;

        while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r'))
                n--;
        while (i < n) {
                size_t len = utf8_seq_len(p + i, n - i);
                const char *src = in + i;
                size_t out_len = len;

                if (len == 0 || (len == 1 && ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f))) {
                        src = UTF8_REPLACEMENT;
                        out_len = UTF8_REPLACEMENT_LEN;
                        len = 1;
                }
                if (o + out_len > JOB_LINE_MAX) {
                        truncated = true;
                        break;
                }
                memcpy(out + o, src, out_len);
                o += out_len;
                i += len;
        }
        out[o] = 0;
        if (ret_truncated)
                *ret_truncated = truncated;
        return o;
}

int job_line_vformat(char *buf, size_t size, const char *fmt, va_list ap) {
        int n = vsnprintf(buf, size, fmt, ap);
        return n < 0 ? n : (int) MIN((size_t) n, size - 1);
}
