/* The client side of MessagePack-RPC, independent of any event loop: the mirror of
 * proto/server.h.
 *
 * A transport adapter owns the socket (proto/client.c blocks for the CLI,
 * proto/client-sdevent.c runs in an sd-event loop, svc-web/webd-client.c in h2o's evloop).
 * It feeds received bytes with rpc_core_feed(), writes what rpc_core_output() holds and
 * reports how much went out with rpc_core_consumed(), and tells the core when the peer hung
 * up (rpc_core_eof) or the socket failed (rpc_core_fail).
 *
 * The core frames and pre-scans replies exactly as the server does requests (proto/scan.h:
 * nothing reaches msgpack-c before it is complete and within limits), matches them to the
 * calls in flight by msgid, delivers a streaming call's notifications, and sends rpc.cancel.
 * Everything a peer can make us hold is capped: one message (limits.max_bytes), the calls in
 * flight (max_calls), and the output not yet written (max_out_bytes).
 *
 * Every call started with rpc_core_call() gets exactly one on_reply, unless it is forgotten
 * (rpc_core_forget) or the core is freed first. When the connection breaks, every pending
 * call gets on_reply with transport_error < 0. Callbacks may call any function of the core,
 * including rpc_core_free(). Nothing here does I/O or logs. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/rpc.h"
#include "proto/scan.h"

#define RPC_CORE_DEFAULT_MAX_CALLS     64u
#define RPC_CORE_DEFAULT_MAX_OUT_BYTES (4u * 1024u * 1024u)
/* Descriptors received and not yet matched to an answer. */
#define RPC_CORE_MAX_FDS 8u

struct rpc_core;

struct rpc_core_config {
        struct mp_limits limits; /* per received message; zero fields get the scanner's defaults */
        unsigned max_calls;      /* calls in flight; more are refused with -EBUSY (0: default) */
        size_t max_out_bytes;    /* unwritten output; a request beyond it gets -ENOBUFS (0: default) */
        const char *peer_name;   /* names the peer in error messages: "the <peer_name> closed ..."
                                  * (NULL: "service"); must outlive the core */
};

/* How a call ended. */
struct rpc_core_reply {
        int transport_error;          /* < 0: the connection broke; the call's outcome is unknown */
        bool failed;                  /* transport error, or the server answered with an error */
        struct rpc_error error;       /* if failed */
        const msgpack_object *result; /* if !failed: valid during the callback only */
        const char *raw;              /* the response's bytes (NULL on a transport error), valid */
        size_t raw_len;               /* during the callback only: copy them to keep the result */
        int fd; /* a descriptor that came with the answer, or -1: closed after the callback
                 * unless taken with rpc_core_reply_take_fd() */
};

/* Takes the answer's descriptor (the caller closes it); -1 if none came. */
int rpc_core_reply_take_fd(const struct rpc_core_reply *r);

typedef void (*rpc_core_notify_t)(struct rpc_core *c, uint32_t msgid, const msgpack_object *payload,
                                  void *userdata);
typedef void (*rpc_core_reply_t)(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *r,
                                 void *userdata);

/* Transport callbacks. */
struct rpc_core_ops {
        /* Output became non-empty outside rpc_core_feed() (a call or cancel was queued). Arm the
         * write; do not free the core from here. */
        void (*want_write)(struct rpc_core *c, void *transport);
};

int rpc_core_new(const struct rpc_core_config *cfg, const struct rpc_core_ops *ops, void *transport,
                 struct rpc_core **ret);
/* Drops every pending call without calling back, then frees. From inside one of the core's
 * callbacks, the memory is released once the outermost core function returns. */
struct rpc_core *rpc_core_free(struct rpc_core *c);
void rpc_core_freep(struct rpc_core **c);

/* ---- calls ---------------------------------------------------------------------------- */

/* Queues [0, msgid, method, params]. params is a packed params array (rpc_pack_params_map()
 * then the pairs; NULL sends []). on_notify (may be NULL) gets the payload of each stream
 * notification [2, method, [msgid, payload]]. Returns 0 and the msgid, or -EBUSY (max_calls
 * in flight), -ENOBUFS (output cap, or out of memory while packing), -ENOMEM, -EINVAL (method
 * empty or longer than RPC_METHOD_MAX), or the connection's error once it is broken. Nothing
 * is queued on failure. */
int rpc_core_call(struct rpc_core *c, const char *method, const struct rpc_buf *params,
                  rpc_core_notify_t on_notify, rpc_core_reply_t on_reply, void *userdata,
                  uint32_t *ret_msgid);
/* Queues [2, "rpc.cancel", [msgid]]. The call stays pending: the server answers it, with
 * error "cancelled" or with its result if it finished first. -ENOENT if msgid is not pending,
 * -EALREADY if it was cancelled before. */
int rpc_core_cancel(struct rpc_core *c, uint32_t msgid);
/* Drops a pending call without calling back; a late answer to it is ignored. Does not tell
 * the server (rpc_core_cancel first if it should stop). -ENOENT if msgid is not pending. */
int rpc_core_forget(struct rpc_core *c, uint32_t msgid);
bool rpc_core_call_pending(const struct rpc_core *c, uint32_t msgid);
unsigned rpc_core_calls(const struct rpc_core *c);
/* Answers and notifications that matched no pending call (late, or the peer's mistake). */
unsigned long long rpc_core_stray(const struct rpc_core *c);

/* Queues raw bytes as they are (tests of hostile input), under the same output cap. */
int rpc_core_send_raw(struct rpc_core *c, const void *data, size_t n);

/* ---- transport ------------------------------------------------------------------------ */

/* Feeds received bytes; complete messages are dispatched (callbacks run) before it returns.
 * Returns 0, or < 0 once the connection is broken (a framing error or an rpc.error from the
 * server): every pending call has been answered with a transport error; close the socket.
 * -EDEADLK from inside one of the core's callbacks (feed from the transport's own callback). */
int rpc_core_feed(struct rpc_core *c, const void *data, size_t n);
/* A descriptor received (SCM_RIGHTS) with the first of the bytes fed next: feed it before
 * them. It goes to the answer that begins with that byte (rpc_core_reply.fd); one that came
 * with no answer is closed. Takes ownership (closed on error: -EMFILE when
 * RPC_CORE_MAX_FDS are waiting, or the connection's error once broken). */
int rpc_core_feed_fd(struct rpc_core *c, int fd);
/* The peer closed the connection: pending calls get a transport error (-ECONNRESET). */
void rpc_core_eof(struct rpc_core *c);
/* The transport failed (connect, send, recv): pending calls get error (< 0) with the message. */
void rpc_core_fail(struct rpc_core *c, int error, const char *fmt, ...) _printf_(3, 4);
/* 0 while usable, else the error that broke it. */
int rpc_core_broken(const struct rpc_core *c);

/* Pending output, and how much of it the transport wrote. */
const void *rpc_core_output(const struct rpc_core *c, size_t *ret_len);
void rpc_core_consumed(struct rpc_core *c, size_t n);
