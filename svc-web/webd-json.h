/* A small JSON writer for webd's HTTP responses.
 *
 * It appends to a growable buffer and tracks commas itself, so a handler writes
 *   json_object_begin(j); json_kv_str(j, "status", "ok"); json_object_end(j);
 * and never formats JSON by hand. Strings are escaped for JSON *and* for embedding in
 * HTML (<, >, & and ' become \u escapes), invalid UTF-8 becomes U+FFFD, so whatever a
 * user or a peer daemon sent can be written without a second thought. Like rpc_buf, a
 * failed allocation or passing the cap sets `failed` and later calls do nothing: check
 * json_ok() once at the end. No I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json {
        char *data;
        size_t len, alloc;
        size_t cap; /* 0 = unlimited */
        bool failed;
        unsigned depth;
        /* Per open container: whether the next value needs a comma before it, and whether
         * the container is an object (whose values follow keys). */
        bool need_comma[JSON_MAX_DEPTH + 1];
        bool after_key;
};

void json_init(struct json *j, size_t cap);
void json_done(struct json *j);
bool json_ok(const struct json *j);
/* Hands the NUL-terminated text to the caller (who frees it); the writer is reset. */
char *json_steal(struct json *j, size_t *ret_len);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* Inside an object: the key of the next value. */
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *s); /* NULL writes null */
void json_strn(struct json *j, const char *s, size_t n);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* Key + value shorthands. */
void json_kv_str(struct json *j, const char *key, const char *value);
void json_kv_int(struct json *j, const char *key, int64_t value);
void json_kv_uint(struct json *j, const char *key, uint64_t value);
void json_kv_bool(struct json *j, const char *key, bool value);

/* Appends the escaped body of a JSON string (without quotes) to j's buffer. Exposed for
 * the SSE encoder and for tests. */
void json_escape_append(struct json *j, const char *s, size_t n);
