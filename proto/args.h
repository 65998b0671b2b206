/* Typed, validating decoding of a request's named arguments.
 *
 * A handler declares its arguments as a table and calls rpc_args_parse() once; the table
 * says each field's type, whether it is required and its limits, so a handler cannot
 * forget a check. Unknown names are refused (a typo must not be silently ignored), and
 * every error message names the offending field. Strings are copied out NUL-terminated;
 * NUL bytes inside them are refused. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/rpc.h"

enum rpc_arg_type {
        RPC_ARG_STR,   /* char *, malloc'd; limits: min/max length in bytes */
        RPC_ARG_INT,   /* int64_t; limits: min/max value */
        RPC_ARG_BOOL,  /* bool */
        RPC_ARG_STRV,  /* char **, NULL-terminated, malloc'd; max = max count, max_len per item */
        RPC_ARG_MAP,   /* const msgpack_object *, a map; max = max pairs; valid during the handler only */
        RPC_ARG_ARRAY, /* const msgpack_object *, an array; max = max items; valid during the handler only */
        RPC_ARG_BIN,   /* struct rpc_bin (str or bin accepted; may contain NUL); max = max bytes */
};

enum {
        RPC_ARG_REQUIRED = 1 << 0,
        RPC_ARG_NULLABLE = 1 << 1,  /* nil is accepted and leaves the default */
        RPC_ARG_UTF8 = 1 << 2,      /* strings must be valid UTF-8 */
        RPC_ARG_PRINTABLE = 1 << 3, /* no control characters (< 0x20, 0x7f) in strings */
};

struct rpc_bin {
        const char *ptr; /* into the request's zone: valid during the handler only */
        size_t len;
};

struct rpc_arg {
        const char *name;
        enum rpc_arg_type type;
        unsigned flags;
        size_t offset;    /* offsetof() into the caller's struct */
        int64_t min, max; /* see enum rpc_arg_type */
        size_t max_len;   /* RPC_ARG_STRV: per item */
        /* Optional extra check, called after the type checks; return <0 and fill e to refuse. */
        int (*check)(const struct rpc_arg *a, void *field, struct rpc_error *e);
};

#define RPC_ARGS_MAX_FIELDS 64

/* Parses params (the request's params array) into the struct at out according to args.
 * Fields that are absent keep what the caller put there (defaults). On error nothing
 * allocated is left behind, e is filled in with code RPC_INVALID and -EINVAL returned.
 * String defaults must be NULL or malloc'd: they are freed when replaced or on failure. */
int rpc_args_parse(const msgpack_object *params, const struct rpc_arg *args, size_t n, void *out,
                   struct rpc_error *e);

/* Frees the strings and string arrays that rpc_args_parse() allocated into out. */
void rpc_args_free(const struct rpc_arg *args, size_t n, void *out);
