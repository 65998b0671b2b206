/* A blocking MessagePack-RPC client for the CLI and tests: one connection, one call at a
 * time, timeouts on connect and on silence, streaming calls delivered to a callback. It is
 * the blocking adapter of proto/client-core.h, which does the framing, scanning, matching
 * and cancelling for every client in the tree. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>

#include "proto/rpc.h"
#include "proto/scan.h"

struct rpc_client;

/* Connects to an AF_UNIX stream socket. -ENOENT/-ECONNREFUSED: nobody listens; -EACCES:
 * the socket's permissions refuse us. */
int rpc_client_connect(const char *path, int timeout_ms, struct rpc_client **ret);
struct rpc_client *rpc_client_free(struct rpc_client *c);
void rpc_client_freep(struct rpc_client **c);

/* A streaming notification: payload is valid during the callback. Return < 0 to cancel the
 * call (the client sends rpc.cancel and keeps reading until the final response). */
typedef int (*rpc_notify_cb)(const msgpack_object *payload, void *userdata);

struct rpc_reply {
        msgpack_unpacked unp;         /* the objects of result ... */
        char *raw;                    /* ... point into this copy of the message's bytes */
        const msgpack_object *result; /* valid until rpc_reply_done() */
        bool failed;                  /* the server answered with an error */
        struct rpc_error error;       /* if failed */
};

/* Calls method with params (a packed params array: rpc_pack_params_map(..) then the pairs;
 * NULL sends []). timeout_ms bounds each wait for data (-1: forever). On transport failure
 * returns < 0 (-ETIMEDOUT, -ECONNRESET, -EBADMSG ...) and fills e; when the server answered,
 * returns 0 and ret says whether it was an error. Call rpc_reply_done() after. */
int rpc_client_call(struct rpc_client *c, const char *method, const struct rpc_buf *params, int timeout_ms,
                    rpc_notify_cb on_notify, void *userdata, struct rpc_reply *ret, struct rpc_error *e);
void rpc_reply_done(struct rpc_reply *r);

/* Sends raw bytes (tests of hostile input). */
int rpc_client_send_raw(struct rpc_client *c, const void *data, size_t n);
