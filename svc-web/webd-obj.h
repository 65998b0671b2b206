/* Reading the maps hostd, jobd and logd answer with: a field, as a string, an integer or a
 * bool, with a default when it is missing or of another type (a daemon of another version
 * must not crash a page). Strings are copied into the caller's buffer, cut if too long. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/rpc.h"

static inline const msgpack_object *obj_get(const msgpack_object *map, const char *key) {
        return map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, key) : NULL;
}

/* The string at key into buf ("" if absent); returns buf. */
static inline const char *obj_str(const msgpack_object *map, const char *key, char *buf, size_t len) {
        const msgpack_object *o = obj_get(map, key);

        if (len == 0)
                return buf;
        buf[0] = 0;
        if (o && (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN)) {
                size_t n = o->via.str.size < len - 1 ? o->via.str.size : len - 1;
                memcpy(buf, o->via.str.ptr, n);
                buf[n] = 0;
                /* A NUL inside would cut the text silently; make it visible instead. */
                for (size_t i = 0; i < n; i++)
                        if (buf[i] == 0)
                                buf[i] = '?';
        }
        return buf;
}

static inline bool obj_str_is(const msgpack_object *map, const char *key, const char *s) {
        const msgpack_object *o = obj_get(map, key);
        return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
               memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static inline int64_t obj_int(const msgpack_object *map, const char *key, int64_t def) {
        const msgpack_object *o = obj_get(map, key);

        if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
                return (int64_t) o->via.u64;
        if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                return o->via.i64;
        return def;
}

static inline bool obj_bool(const msgpack_object *map, const char *key, bool def) {
        const msgpack_object *o = obj_get(map, key);
        return o && o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : def;
}

/* The array at key, or NULL. */
static inline const msgpack_object_array *obj_array(const msgpack_object *map, const char *key) {
        const msgpack_object *o = obj_get(map, key);
        return o && o->type == MSGPACK_OBJECT_ARRAY ? &o->via.array : NULL;
}
