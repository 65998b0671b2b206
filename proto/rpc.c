#include <stdio.h>

#include "proto/rpc.h"
#include "proto/map.h"

static const char *const code_names[_RPC_CODE_MAX] = {
        [RPC_OK] = "ok",
        [RPC_INVALID] = "invalid",
        [RPC_NOT_FOUND] = "not_found",
        [RPC_CONFLICT] = "conflict",
        [RPC_DENIED] = "denied",
        [RPC_UNAVAILABLE] = "unavailable",
        [RPC_CANCELLED] = "cancelled",
        [RPC_INTERNAL] = "internal",
        [RPC_TIMEOUT] = "timeout",
};

const char *rpc_code_to_string(enum rpc_code c) {
        if ((unsigned) c >= _RPC_CODE_MAX)
                return "internal";
        return code_names[c];
}

enum rpc_code rpc_code_from_string(const char *s, size_t n) {
        for (unsigned i = 1; i < _RPC_CODE_MAX; i++)
                if (strlen(code_names[i]) == n && memcmp(code_names[i], s, n) == 0)
                        return (enum rpc_code) i;
        return RPC_INTERNAL;
}

enum rpc_code rpc_code_from_errno(int r) {
        switch (-r) {
        case EINVAL:
        case EBADMSG:
        case E2BIG:
        case ERANGE:
        case ENAMETOOLONG:
        case EMSGSIZE:
        case ELOOP:
                return RPC_INVALID;
        case ENOENT:
        case ENXIO:
        case ESRCH:
                return RPC_NOT_FOUND;
        case EEXIST:
        case EBUSY:
        case EALREADY:
        case ENOTEMPTY:
                return RPC_CONFLICT;
        case EACCES:
        case EPERM:
                return RPC_DENIED;
        case ECONNREFUSED:
        case EHOSTDOWN:
        case ENOTCONN:
        case ECONNRESET:
        case EPIPE:
        case EAGAIN:
                return RPC_UNAVAILABLE;
        case ECANCELED:
                return RPC_CANCELLED;
        case ETIMEDOUT:
        case ETIME:
                return RPC_TIMEOUT;
        default:
                return RPC_INTERNAL;
        }
}

int rpc_code_to_errno(enum rpc_code c) {
        switch (c) {
        case RPC_OK:
                return 0;
        case RPC_INVALID:
                return -EINVAL;
        case RPC_NOT_FOUND:
                return -ENOENT;
        case RPC_CONFLICT:
                return -EBUSY;
        case RPC_DENIED:
                return -EACCES;
        case RPC_UNAVAILABLE:
                return -ECONNREFUSED;
        case RPC_CANCELLED:
                return -ECANCELED;
        case RPC_TIMEOUT:
                return -ETIMEDOUT;
        default:
                return -EIO;
        }
}

int rpc_error_setv(struct rpc_error *e, enum rpc_code code, const char *fmt, va_list ap) {
        if (e) {
                e->code = code;
                (void) vsnprintf(e->message, sizeof(e->message), fmt, ap);
        }
        return rpc_code_to_errno(code);
}

int rpc_error_set(struct rpc_error *e, enum rpc_code code, const char *fmt, ...) {
        va_list ap;
        int r;
        va_start(ap, fmt);
        r = rpc_error_setv(e, code, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- buffer ---------------------------------------------------------------------------- */

void rpc_buf_init(struct rpc_buf *b, size_t cap) {
        *b = (struct rpc_buf){.cap = cap};
        msgpack_packer_init(&b->pk, b, rpc_buf_write_cb);
}

void rpc_buf_done(struct rpc_buf *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->alloc = 0;
}

void rpc_buf_clear(struct rpc_buf *b) {
        b->len = 0;
        b->failed = false;
}

bool rpc_buf_ok(const struct rpc_buf *b) {
        return !b->failed;
}

int rpc_buf_append(struct rpc_buf *b, const void *data, size_t n) {
        if (b->failed)
                return -ENOBUFS;
        if (n == 0)
                return 0;
        if (b->cap > 0 && (b->len + n > b->cap || b->len + n < b->len)) {
                b->failed = true;
                return -ENOBUFS;
        }
        if (b->len + n > b->alloc) {
                size_t na = b->alloc ? b->alloc : 256;
                char *p;
                while (na < b->len + n) {
                        if (na > SIZE_MAX / 2) {
                                b->failed = true;
                                return -ENOMEM;
                        }
                        na *= 2;
                }
                p = realloc(b->data, na);
                if (!p) {
                        b->failed = true;
                        return -ENOMEM;
                }
                b->data = p;
                b->alloc = na;
        }
        memcpy(b->data + b->len, data, n);
        b->len += n;
        return 0;
}

void rpc_buf_consume(struct rpc_buf *b, size_t n) {
        if (n >= b->len) {
                b->len = 0;
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
}

int rpc_buf_write_cb(void *data, const char *buf, size_t len) {
        return rpc_buf_append(data, buf, len) < 0 ? -1 : 0;
}

/* ---- packing ----------------------------------------------------------------------------- */

void rpc_pack_strn(msgpack_packer *pk, const char *s, size_t n) {
        (void) msgpack_pack_str(pk, n);
        (void) msgpack_pack_str_body(pk, s, n);
}

void rpc_pack_str(msgpack_packer *pk, const char *s) {
        if (!s)
                (void) msgpack_pack_nil(pk);
        else
                rpc_pack_strn(pk, s, strlen(s));
}

void rpc_pack_key(msgpack_packer *pk, const char *key) {
        rpc_pack_str(pk, key);
}

void rpc_pack_kv_str(msgpack_packer *pk, const char *key, const char *value) {
        rpc_pack_key(pk, key);
        rpc_pack_str(pk, value);
}

void rpc_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value) {
        rpc_pack_key(pk, key);
        (void) msgpack_pack_int64(pk, value);
}

void rpc_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t value) {
        rpc_pack_key(pk, key);
        (void) msgpack_pack_uint64(pk, value);
}

void rpc_pack_kv_bool(msgpack_packer *pk, const char *key, bool value) {
        rpc_pack_key(pk, key);
        if (value)
                (void) msgpack_pack_true(pk);
        else
                (void) msgpack_pack_false(pk);
}

void rpc_pack_kv_nil(msgpack_packer *pk, const char *key) {
        rpc_pack_key(pk, key);
        (void) msgpack_pack_nil(pk);
}

void rpc_pack_request_head(msgpack_packer *pk, uint32_t msgid, const char *method) {
        (void) msgpack_pack_array(pk, 4);
        (void) msgpack_pack_uint8(pk, RPC_REQUEST);
        (void) msgpack_pack_uint32(pk, msgid);
        rpc_pack_str(pk, method);
}

void rpc_pack_params_map(msgpack_packer *pk, size_t n) {
        if (n == 0) {
                (void) msgpack_pack_array(pk, 0);
                return;
        }
        (void) msgpack_pack_array(pk, 1);
        (void) msgpack_pack_map(pk, n);
}

void rpc_pack_response_head(msgpack_packer *pk, uint32_t msgid) {
        (void) msgpack_pack_array(pk, 4);
        (void) msgpack_pack_uint8(pk, RPC_RESPONSE);
        (void) msgpack_pack_uint32(pk, msgid);
        (void) msgpack_pack_nil(pk);
}

static void pack_error_object(msgpack_packer *pk, enum rpc_code code, const char *message) {
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "code", rpc_code_to_string(code));
        rpc_pack_kv_str(mpk, "message", message ? message : "");
        (void) rpc_map_end(&map);
}

void rpc_pack_error_response(msgpack_packer *pk, uint32_t msgid, enum rpc_code code, const char *message) {
        (void) msgpack_pack_array(pk, 4);
        (void) msgpack_pack_uint8(pk, RPC_RESPONSE);
        (void) msgpack_pack_uint32(pk, msgid);
        pack_error_object(pk, code, message);
        (void) msgpack_pack_nil(pk);
}

void rpc_pack_stream_notify_head(msgpack_packer *pk, const char *method, uint32_t msgid) {
        (void) msgpack_pack_array(pk, 3);
        (void) msgpack_pack_uint8(pk, RPC_NOTIFY);
        rpc_pack_str(pk, method);
        (void) msgpack_pack_array(pk, 2);
        (void) msgpack_pack_uint32(pk, msgid);
}

void rpc_pack_error_notify(msgpack_packer *pk, enum rpc_code code, const char *message) {
        (void) msgpack_pack_array(pk, 3);
        (void) msgpack_pack_uint8(pk, RPC_NOTIFY);
        rpc_pack_str(pk, "rpc.error");
        (void) msgpack_pack_array(pk, 1);
        pack_error_object(pk, code, message);
}

/* ---- decoding ---------------------------------------------------------------------------- */

static bool obj_is_uint(const msgpack_object *o, uint64_t max, uint64_t *ret) {
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= max) {
                *ret = o->via.u64;
                return true;
        }
        return false;
}

int rpc_msg_decode(const msgpack_object *o, struct rpc_msg *ret, bool *ret_has_msgid, struct rpc_error *e) {
        const msgpack_object *a;
        uint64_t type, id;

        *ret_has_msgid = false;
        memset(ret, 0, sizeof(*ret));
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3 || o->via.array.size > 4)
                return rpc_error_set(e, RPC_INVALID, "message: must be an array of 3 or 4 elements"),
                       -EBADMSG;
        a = o->via.array.ptr;
        if (!obj_is_uint(&a[0], 2, &type))
                return rpc_error_set(e, RPC_INVALID, "message[0]: type must be 0, 1 or 2"), -EBADMSG;
        ret->type = (enum rpc_type) type;

        switch (ret->type) {
        case RPC_REQUEST:
                if (o->via.array.size != 4)
                        return rpc_error_set(e, RPC_INVALID, "request: must have 4 elements"), -EBADMSG;
                if (!obj_is_uint(&a[1], UINT32_MAX, &id))
                        return rpc_error_set(e, RPC_INVALID, "request[1]: msgid must be a uint32"), -EBADMSG;
                ret->msgid = (uint32_t) id;
                *ret_has_msgid = true;
                if (a[2].type != MSGPACK_OBJECT_STR || a[2].via.str.size == 0 ||
                    a[2].via.str.size > RPC_METHOD_MAX)
                        return rpc_error_set(e, RPC_INVALID,
                                             "request[2]: method must be a string of 1..%d bytes",
                                             RPC_METHOD_MAX),
                               -EBADMSG;
                ret->method = a[2].via.str.ptr;
                ret->method_len = a[2].via.str.size;
                if (a[3].type != MSGPACK_OBJECT_ARRAY)
                        return rpc_error_set(e, RPC_INVALID, "request[3]: params must be an array"),
                               -EBADMSG;
                ret->params = &a[3];
                return 0;
        case RPC_RESPONSE:
                if (o->via.array.size != 4)
                        return rpc_error_set(e, RPC_INVALID, "response: must have 4 elements"), -EBADMSG;
                if (!obj_is_uint(&a[1], UINT32_MAX, &id))
                        return rpc_error_set(e, RPC_INVALID, "response[1]: msgid must be a uint32"),
                               -EBADMSG;
                ret->msgid = (uint32_t) id;
                *ret_has_msgid = true;
                if (a[2].type != MSGPACK_OBJECT_NIL && a[2].type != MSGPACK_OBJECT_MAP)
                        return rpc_error_set(e, RPC_INVALID, "response[2]: error must be nil or a map"),
                               -EBADMSG;
                ret->error = &a[2];
                ret->result = &a[3];
                return 0;
        case RPC_NOTIFY:
                if (o->via.array.size != 3)
                        return rpc_error_set(e, RPC_INVALID, "notification: must have 3 elements"), -EBADMSG;
                if (a[1].type != MSGPACK_OBJECT_STR || a[1].via.str.size == 0 ||
                    a[1].via.str.size > RPC_METHOD_MAX)
                        return rpc_error_set(e, RPC_INVALID, "notification[1]: method must be a string"),
                               -EBADMSG;
                ret->method = a[1].via.str.ptr;
                ret->method_len = a[1].via.str.size;
                if (a[2].type != MSGPACK_OBJECT_ARRAY)
                        return rpc_error_set(e, RPC_INVALID, "notification[2]: params must be an array"),
                               -EBADMSG;
                ret->params = &a[2];
                return 0;
        }
        return -EBADMSG;
}

bool rpc_obj_is_str(const msgpack_object *o, const char *s) {
        size_t n = strlen(s);
        return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
               memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *rpc_map_get(const msgpack_object *map, const char *key) {
        if (!map || map->type != MSGPACK_OBJECT_MAP)
                return NULL;
        for (uint32_t i = 0; i < map->via.map.size; i++)
                if (rpc_obj_is_str(&map->via.map.ptr[i].key, key))
                        return &map->via.map.ptr[i].val;
        return NULL;
}

int rpc_error_decode(const msgpack_object *o, struct rpc_error *e) {
        const msgpack_object *code, *msg;

        if (!o || o->type == MSGPACK_OBJECT_NIL)
                return 0;
        e->code = RPC_INTERNAL;
        e->message[0] = 0;
        if (o->type != MSGPACK_OBJECT_MAP) {
                snprintf(e->message, sizeof(e->message), "malformed error object");
                return 1;
        }
        code = rpc_map_get(o, "code");
        msg = rpc_map_get(o, "message");
        if (code && code->type == MSGPACK_OBJECT_STR)
                e->code = rpc_code_from_string(code->via.str.ptr, code->via.str.size);
        if (msg && msg->type == MSGPACK_OBJECT_STR)
                snprintf(e->message, sizeof(e->message), "%.*s", (int) MIN(msg->via.str.size, 511u),
                         msg->via.str.ptr);
        if (e->code == RPC_OK)
                e->code = RPC_INTERNAL;
        return 1;
}
