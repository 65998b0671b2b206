/* Shared plumbing of l4d2ctl's subcommands: global options, connecting to a service,
 * printing errors as one line and mapping them to the documented exit codes. */
#pragma once

#include <stdbool.h>

#include "daemon/config.h"
#include "proto/client.h"
#include "proto/rpc.h"

/* Exit codes (docs/cli.md). */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_INVALID = 3,
        EXIT_NOT_FOUND = 4,
        EXIT_CONFLICT = 5,
        EXIT_DENIED = 6,
        EXIT_UNAVAILABLE = 7,
        EXIT_TIMEOUT = 8,
        EXIT_CANCELLED = 9,
};

struct cli_ctx {
        struct l4m_config config;
        const char *socket_dir; /* --socket-dir, overrides config paths.run */
        bool json;              /* --json given globally */
        int timeout_ms;         /* --timeout, per wait for data */
};

/* Connects to a service's socket ("host", "jobs", "logs", "web"); on failure prints one line
 * ("l4d2ctl: cannot reach the host service at /run/left4me/host.sock: ...") and returns the
 * exit code to use (> 0). Returns 0 on success. */
int cli_connect(const struct cli_ctx *ctx, const char *service, struct rpc_client **ret);

/* Prints "l4d2ctl: <context>: <message>" and returns the exit code for code. */
int cli_fail(const struct rpc_error *e, const char *context);
int cli_exit_code(enum rpc_code code);
/* Prints a usage error and returns EXIT_USAGE. */
int cli_usage(const char *fmt, ...) _printf_(1, 2);

/* Calls method and handles every failure: prints the error and returns an exit code > 0;
 * returns 0 with *reply filled (caller calls rpc_reply_done). */
int cli_call(const struct cli_ctx *ctx, struct rpc_client *c, const char *method,
             const struct rpc_buf *params, rpc_notify_cb on_notify, void *userdata, struct rpc_reply *reply);

/* Prints a msgpack object as JSON (strings escaped; binary as base64-free escaped text). */
void cli_print_json(const msgpack_object *o);
/* Writes o as JSON into a FILE. */
void cli_fprint_json(FILE *f, const msgpack_object *o);

/* Subcommands implemented in other files (cli/cmd-*.c). Each returns an exit code. */
struct cli_command {
        const char *name;
        const char *summary;
        int (*run)(int argc, char **argv, const struct cli_ctx *ctx);
};
