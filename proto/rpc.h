/* MessagePack-RPC framing (https://github.com/msgpack-rpc/msgpack-rpc/blob/master/spec.md):
 *   request       [0, msgid, method, params]
 *   response      [1, msgid, error, result]
 *   notification  [2, method, params]
 *
 * Our conventions on top (docs/protocol.md):
 *   - params is [] or [ {name: value, ...} ]: one map of named arguments;
 *   - error is nil or {code: "<code>", message: "<text>"} with a code from enum rpc_code;
 *   - a streaming call sends notifications [2, <its method>, [msgid, payload]] and then one
 *     response with the same msgid;
 *   - a client may send [2, "rpc.cancel", [msgid]] to end a call early (it then answers
 *     with error "cancelled").
 * This module only encodes and decodes; it does no I/O and never logs. */
#pragma once

#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define RPC_PROTOCOL_VERSION 1

enum rpc_type {
        RPC_REQUEST = 0,
        RPC_RESPONSE = 1,
        RPC_NOTIFY = 2,
};

/* Wire names are fixed; values are only used in memory. */
enum rpc_code {
        RPC_OK = 0,
        RPC_INVALID,
        RPC_NOT_FOUND,
        RPC_CONFLICT,
        RPC_DENIED,
        RPC_UNAVAILABLE,
        RPC_CANCELLED,
        RPC_INTERNAL,
        RPC_TIMEOUT,
        _RPC_CODE_MAX,
};

#define RPC_ERROR_MESSAGE_MAX 512
#define RPC_METHOD_MAX        64

struct rpc_error {
        enum rpc_code code;
        char message[RPC_ERROR_MESSAGE_MAX];
};

const char *rpc_code_to_string(enum rpc_code c);
enum rpc_code rpc_code_from_string(const char *s, size_t n); /* unknown → RPC_INTERNAL */
enum rpc_code rpc_code_from_errno(int negative_errno);
int rpc_code_to_errno(enum rpc_code c); /* negative */

/* Sets e and returns the matching negative errno, so `return rpc_error_set(e, ...)` works. */
int rpc_error_set(struct rpc_error *e, enum rpc_code code, const char *fmt, ...) _printf_(3, 4);
int rpc_error_setv(struct rpc_error *e, enum rpc_code code, const char *fmt, va_list ap) _printf_(3, 0);

/* ---- output buffer ------------------------------------------------------------------- */

/* A growable byte buffer that a msgpack_packer writes into. Allocation failure or growing
 * past `cap` sets `failed` and drops further writes, so packing code need not check every
 * call: check rpc_buf_ok() once at the end. */
struct rpc_buf {
        char *data;
        size_t len, alloc;
        size_t cap; /* 0 = unlimited */
        bool failed;
        msgpack_packer pk;
};

void rpc_buf_init(struct rpc_buf *b, size_t cap);
void rpc_buf_done(struct rpc_buf *b);
void rpc_buf_clear(struct rpc_buf *b); /* keeps memory, clears failure */
bool rpc_buf_ok(const struct rpc_buf *b);
int rpc_buf_append(struct rpc_buf *b, const void *data, size_t n);
void rpc_buf_consume(struct rpc_buf *b, size_t n);             /* drops n bytes from the front */
int rpc_buf_write_cb(void *data, const char *buf, size_t len); /* msgpack_packer_write */

/* ---- packing helpers ----------------------------------------------------------------- */

void rpc_pack_str(msgpack_packer *pk, const char *s); /* NULL packs nil */
void rpc_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void rpc_pack_kv_str(msgpack_packer *pk, const char *key, const char *value);
void rpc_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value);
void rpc_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t value);
void rpc_pack_kv_bool(msgpack_packer *pk, const char *key, bool value);
void rpc_pack_kv_nil(msgpack_packer *pk, const char *key);
void rpc_pack_key(msgpack_packer *pk, const char *key); /* then pack the value yourself */

/* Packs `[0, msgid, method, ` : the caller then packs the params array. */
void rpc_pack_request_head(msgpack_packer *pk, uint32_t msgid, const char *method);
/* Packs the params array head for named arguments: `[ {` with n pairs to follow. n = 0 packs [].
 * A count written by hand can disagree with the pairs: prefer rpc_params_begin() (proto/map.h),
 * which counts them; this stays for frames built on purpose (tests, hostile input). */
void rpc_pack_params_map(msgpack_packer *pk, size_t n);
/* Packs `[1, msgid, nil, ` : the caller then packs the result object. */
void rpc_pack_response_head(msgpack_packer *pk, uint32_t msgid);
/* Packs a complete error response. */
void rpc_pack_error_response(msgpack_packer *pk, uint32_t msgid, enum rpc_code code, const char *message);
/* Packs `[2, method, [msgid, ` : the caller then packs the payload object. */
void rpc_pack_stream_notify_head(msgpack_packer *pk, const char *method, uint32_t msgid);
/* Packs a complete protocol-level error notification: [2, "rpc.error", [{code, message}]]. */
void rpc_pack_error_notify(msgpack_packer *pk, enum rpc_code code, const char *message);

/* ---- decoding -------------------------------------------------------------------------- */

/* A decoded message. Pointers point into the msgpack object (owned by the caller's zone);
 * strings are not NUL-terminated. */
struct rpc_msg {
        enum rpc_type type;
        uint32_t msgid;
        const char *method; /* request, notification */
        size_t method_len;
        const msgpack_object *params; /* request, notification: an array */
        const msgpack_object *error;  /* response: nil or map */
        const msgpack_object *result; /* response */
};

/* Checks the envelope's shape. On failure fills e (naming what is wrong) and returns
 * -EBADMSG; *ret_has_msgid tells whether msgid was readable so an error reply is possible. */
int rpc_msg_decode(const msgpack_object *o, struct rpc_msg *ret, bool *ret_has_msgid, struct rpc_error *e);

/* Reads an error object ({code, message}) of a response into e. Returns 0 if it is nil (no
 * error), 1 if it holds an error. A malformed error object becomes RPC_INTERNAL. */
int rpc_error_decode(const msgpack_object *o, struct rpc_error *e);

/* Small object helpers. */
bool rpc_obj_is_str(const msgpack_object *o, const char *s);
const msgpack_object *rpc_map_get(const msgpack_object *map, const char *key); /* NULL if absent */
