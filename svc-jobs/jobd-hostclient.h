/* A non-blocking MessagePack-RPC client inside an sd-event loop: one connection, one call at a
 * time, streamed notifications delivered as they arrive. jobd runs each job's hostd calls
 * through one of these (proto/client.h blocks, which a daemon must not).
 *
 * Input is walked by the proto scanner before anything is unpacked, exactly as the server
 * side does, so a misbehaving peer costs at most limits.max_bytes of memory. Nothing here
 * is specific to hostd: it could move to proto/ (proto/client-sdevent.{c,h}). */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "proto/rpc.h"
#include "proto/scan.h"

struct hostclient;

struct hostclient_reply {
        int transport_error;          /* < 0: the connection broke; the call's outcome is unknown */
        bool failed;                  /* transport error, or the server answered with an error */
        struct rpc_error error;       /* if failed */
        const msgpack_object *result; /* if !failed: valid during the callback only */
};

typedef void (*hostclient_notify_t)(struct hostclient *h, const msgpack_object *payload, void *userdata);
typedef void (*hostclient_reply_t)(struct hostclient *h, const struct hostclient_reply *r, void *userdata);

/* Connects to an AF_UNIX stream socket without blocking. -ENOENT/-ECONNREFUSED/-EACCES at once
 * if nobody listens or we may not; a full backlog is waited for. */
int hostclient_new(sd_event *e, const char *path, const struct mp_limits *limits, struct hostclient **ret);
/* Frees (closing the connection; a server sees the client gone). Safe from inside the
 * client's own callbacks: the memory is released once the callback returns. */
struct hostclient *hostclient_free(struct hostclient *h);

/* Starts a call. params is a packed params array (NULL: []). -EBUSY if a call is pending.
 * on_reply runs exactly once, unless the client is freed first. */
int hostclient_call(struct hostclient *h, const char *method, const struct rpc_buf *params,
                    hostclient_notify_t on_notify, hostclient_reply_t on_reply, void *userdata);
/* Asks the server to end the pending call early ([2, "rpc.cancel", [msgid]]). */
int hostclient_cancel(struct hostclient *h);
bool hostclient_call_pending(const struct hostclient *h);
