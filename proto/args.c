#include <stdio.h>

#include "proto/args.h"
#include "proto/utf8.h"

static bool has_control(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f)
                        return true;
        }
        return false;
}

static int check_string(const struct rpc_arg *a, const char *what, const msgpack_object *o, size_t min,
                        size_t max, struct rpc_error *e) {
        const char *p;
        size_t n;

        if (o->type != MSGPACK_OBJECT_STR)
                return rpc_error_set(e, RPC_INVALID, "%s: must be a string", what);
        p = o->via.str.ptr;
        n = o->via.str.size;
        if (n < min)
                return rpc_error_set(e, RPC_INVALID, "%s: must be at least %zu bytes", what, min);
        if (n > max)
                return rpc_error_set(e, RPC_INVALID, "%s: must be at most %zu bytes", what, max);
        if (memchr(p, 0, n))
                return rpc_error_set(e, RPC_INVALID, "%s: must not contain NUL bytes", what);
        if ((a->flags & RPC_ARG_UTF8) && !utf8_is_valid(p, n))
                return rpc_error_set(e, RPC_INVALID, "%s: must be valid UTF-8", what);
        if ((a->flags & RPC_ARG_PRINTABLE) && has_control(p, n))
                return rpc_error_set(e, RPC_INVALID, "%s: must not contain control characters", what);
        return 0;
}

static int copy_string(const msgpack_object *o, char **ret) {
        char *s = malloc(o->via.str.size + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, o->via.str.ptr, o->via.str.size);
        s[o->via.str.size] = 0;
        *ret = s;
        return 0;
}

static int parse_field(const struct rpc_arg *a, const msgpack_object *v, void *field, struct rpc_error *e) {
        int r;

        switch (a->type) {
        case RPC_ARG_STR: {
                char *s;
                r = check_string(a, a->name, v, (size_t) MAX(a->min, 0), (size_t) MAX(a->max, 0), e);
                if (r < 0)
                        return r;
                if (copy_string(v, &s) < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "%s: out of memory", a->name);
                free(*(char **) field);
                *(char **) field = s;
                return 0;
        }
        case RPC_ARG_INT: {
                int64_t x;
                if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                        if (v->via.u64 > INT64_MAX)
                                return rpc_error_set(e, RPC_INVALID, "%s: must be at most %lld", a->name,
                                                     (long long) a->max);
                        x = (int64_t) v->via.u64;
                } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                        x = v->via.i64;
                else
                        return rpc_error_set(e, RPC_INVALID, "%s: must be an integer", a->name);
                if (x < a->min || x > a->max)
                        return rpc_error_set(e, RPC_INVALID, "%s: must be between %lld and %lld", a->name,
                                             (long long) a->min, (long long) a->max);
                *(int64_t *) field = x;
                return 0;
        }
        case RPC_ARG_BOOL:
                if (v->type != MSGPACK_OBJECT_BOOLEAN)
                        return rpc_error_set(e, RPC_INVALID, "%s: must be true or false", a->name);
                *(bool *) field = v->via.boolean;
                return 0;
        case RPC_ARG_STRV: {
                char **strv;
                uint32_t n;
                if (v->type != MSGPACK_OBJECT_ARRAY)
                        return rpc_error_set(e, RPC_INVALID, "%s: must be an array of strings", a->name);
                n = v->via.array.size;
                if ((int64_t) n < a->min || (int64_t) n > a->max)
                        return rpc_error_set(e, RPC_INVALID, "%s: must have %lld to %lld items", a->name,
                                             (long long) a->min, (long long) a->max);
                for (uint32_t i = 0; i < n; i++) {
                        char what[RPC_METHOD_MAX + 32];
                        snprintf(what, sizeof(what), "%s[%u]", a->name, i);
                        r = check_string(a, what, &v->via.array.ptr[i], 0, a->max_len, e);
                        if (r < 0)
                                return r;
                }
                strv = calloc((size_t) n + 1, sizeof(char *));
                if (!strv)
                        return rpc_error_set(e, RPC_INTERNAL, "%s: out of memory", a->name);
                for (uint32_t i = 0; i < n; i++)
                        if (copy_string(&v->via.array.ptr[i], &strv[i]) < 0) {
                                strv_free(strv);
                                return rpc_error_set(e, RPC_INTERNAL, "%s: out of memory", a->name);
                        }
                strv_free(*(char ***) field);
                *(char ***) field = strv;
                return 0;
        }
        case RPC_ARG_MAP:
                if (v->type != MSGPACK_OBJECT_MAP)
                        return rpc_error_set(e, RPC_INVALID, "%s: must be a map", a->name);
                if ((int64_t) v->via.map.size > a->max)
                        return rpc_error_set(e, RPC_INVALID, "%s: must have at most %lld entries", a->name,
                                             (long long) a->max);
                *(const msgpack_object **) field = v;
                return 0;
        case RPC_ARG_ARRAY:
                if (v->type != MSGPACK_OBJECT_ARRAY)
                        return rpc_error_set(e, RPC_INVALID, "%s: must be an array", a->name);
                if ((int64_t) v->via.array.size > a->max)
                        return rpc_error_set(e, RPC_INVALID, "%s: must have at most %lld items", a->name,
                                             (long long) a->max);
                *(const msgpack_object **) field = v;
                return 0;
        case RPC_ARG_BIN: {
                struct rpc_bin *b = field;
                if (v->type == MSGPACK_OBJECT_STR) {
                        b->ptr = v->via.str.ptr;
                        b->len = v->via.str.size;
                } else if (v->type == MSGPACK_OBJECT_BIN) {
                        b->ptr = v->via.bin.ptr;
                        b->len = v->via.bin.size;
                } else
                        return rpc_error_set(e, RPC_INVALID, "%s: must be a string or binary", a->name);
                if ((int64_t) b->len < a->min || (int64_t) b->len > a->max)
                        return rpc_error_set(e, RPC_INVALID, "%s: must be %lld to %lld bytes", a->name,
                                             (long long) a->min, (long long) a->max);
                return 0;
        }
        }
        return rpc_error_set(e, RPC_INTERNAL, "%s: unknown argument type", a->name);
}

void rpc_args_free(const struct rpc_arg *args, size_t n, void *out) {
        for (size_t i = 0; i < n; i++) {
                void *field = (char *) out + args[i].offset;
                if (args[i].type == RPC_ARG_STR) {
                        free(*(char **) field);
                        *(char **) field = NULL;
                } else if (args[i].type == RPC_ARG_STRV) {
                        strv_free(*(char ***) field);
                        *(char ***) field = NULL;
                }
        }
}

/* A nullable required field given as nil is still missing. */
static bool field_set(const struct rpc_arg *a, const void *out) {
        const void *field = (const char *) out + a->offset;
        switch (a->type) {
        case RPC_ARG_STR:
                return *(char *const *) field != NULL;
        case RPC_ARG_STRV:
                return *(char **const *) field != NULL;
        case RPC_ARG_MAP:
        case RPC_ARG_ARRAY:
                return *(const msgpack_object *const *) field != NULL;
        case RPC_ARG_BIN:
                return ((const struct rpc_bin *) field)->ptr != NULL;
        default:
                return true;
        }
}

int rpc_args_parse(const msgpack_object *params, const struct rpc_arg *args, size_t n, void *out,
                   struct rpc_error *e) {
        const msgpack_object *map = NULL;
        bool seen[RPC_ARGS_MAX_FIELDS] = {};
        int r;

        if (n > RPC_ARGS_MAX_FIELDS)
                return rpc_error_set(e, RPC_INTERNAL, "too many argument fields declared");
        if (!params || params->type != MSGPACK_OBJECT_ARRAY)
                return rpc_error_set(e, RPC_INVALID, "params: must be an array");
        if (params->via.array.size > 1)
                return rpc_error_set(e, RPC_INVALID, "params: must be [] or [ {name: value, ...} ]");
        if (params->via.array.size == 1) {
                map = &params->via.array.ptr[0];
                if (map->type == MSGPACK_OBJECT_NIL)
                        map = NULL;
                else if (map->type != MSGPACK_OBJECT_MAP)
                        return rpc_error_set(e, RPC_INVALID, "params[0]: must be a map of named arguments");
        }

        if (map)
                for (uint32_t i = 0; i < map->via.map.size; i++) {
                        const msgpack_object *k = &map->via.map.ptr[i].key;
                        const msgpack_object *v = &map->via.map.ptr[i].val;
                        size_t j;

                        if (k->type != MSGPACK_OBJECT_STR) {
                                r = rpc_error_set(e, RPC_INVALID, "params: argument names must be strings");
                                goto fail;
                        }
                        for (j = 0; j < n; j++)
                                if (rpc_obj_is_str(k, args[j].name))
                                        break;
                        if (j == n) {
                                r = rpc_error_set(e, RPC_INVALID, "'%.*s': unknown argument",
                                                  (int) MIN(k->via.str.size, 64u), k->via.str.ptr);
                                goto fail;
                        }
                        if (seen[j]) {
                                r = rpc_error_set(e, RPC_INVALID, "%s: given twice", args[j].name);
                                goto fail;
                        }
                        seen[j] = true;
                        if (v->type == MSGPACK_OBJECT_NIL && (args[j].flags & RPC_ARG_NULLABLE))
                                continue; /* nil = "use the default"; a required one is caught below */
                        r = parse_field(&args[j], v, (char *) out + args[j].offset, e);
                        if (r < 0)
                                goto fail;
                        if (args[j].check) {
                                r = args[j].check(&args[j], (char *) out + args[j].offset, e);
                                if (r < 0)
                                        goto fail;
                        }
                }

        for (size_t j = 0; j < n; j++)
                if ((args[j].flags & RPC_ARG_REQUIRED) && (!seen[j] || !field_set(&args[j], out))) {
                        r = rpc_error_set(e, RPC_INVALID, "%s: is required", args[j].name);
                        goto fail;
                }
        return 0;

fail:
        rpc_args_free(args, n, out);
        return r < 0 ? r : -EINVAL;
}
