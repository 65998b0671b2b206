/* webd's calls to hostd, jobd and logd, from inside h2o's loop.
 *
 * One connection per daemon, made on the first call and shared by every request (the
 * protocol multiplexes calls by msgid), so a slow call holds up only its own request.
 * Nothing blocks: the connect is non-blocking, replies come back as callbacks. The
 * connection closes after WEBD_BACKEND_IDLE_MS without calls, so the daemons can still
 * exit when idle; the next call reconnects (socket activation starts the daemon if
 * needed). A call that gets no answer within its timeout is cancelled and answered with
 * -ETIMEDOUT; a broken connection answers every call on it with its error and is dropped,
 * so the next call starts afresh: a restarting daemon costs the requests in flight, never
 * the ones after.
 *
 * A call bound to a request (webd_rq_call, webd-request.h) is cancelled and forgotten when
 * the client goes away, so a reply never reaches a freed request. */
#pragma once

#include <h2o.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/client-core.h"
#include "proto/rpc.h"

#define WEBD_BACKEND_IDLE_MS   2000u
#define WEBD_CALL_TIMEOUT_MS   5000u
#define WEBD_BACKEND_MAX_CALLS 1024u /* in flight per daemon; the SSE followers count */

enum webd_peer {
        WEBD_PEER_HOST,
        WEBD_PEER_JOBS,
        WEBD_PEER_LOGS,
        _WEBD_PEER_MAX,
};

struct webd;
struct webd_call;
struct webd_backend;

/* The reply: r as the core gives it (r->transport_error < 0: no answer, -ETIMEDOUT for the
 * timeout). The call is freed after this returns. */
typedef void (*webd_reply_fn)(struct webd_call *c, const struct rpc_core_reply *r, void *userdata);
/* One stream notification's payload. */
typedef void (*webd_notify_fn)(struct webd_call *c, const msgpack_object *payload, void *userdata);

int webd_backends_new(struct webd *w, struct webd_backend **ret);
void webd_backends_free(struct webd_backend *b);
/* Calls in flight, over all daemons (webd does not idle-exit while there are any). */
unsigned webd_backends_calls(const struct webd_backend *b);

/* Starts a call. params may be NULL ([]). timeout_ms 0 = none (streams that follow).
 * Returns 0 and the call (valid until its reply callback returns or it is cancelled), or a
 * negative errno without calling back: -ECONNREFUSED/-ENOENT (nobody listens), -EBUSY (too
 * many calls), -ENOMEM. */
int webd_call(struct webd_backend *b, enum webd_peer peer, const char *method, const struct rpc_buf *params,
              uint64_t timeout_ms, webd_notify_fn on_notify, webd_reply_fn on_reply, void *userdata,
              struct webd_call **ret);
/* Tells the daemon to stop (rpc.cancel), forgets the call and frees it: no callback. */
void webd_call_cancel(struct webd_call *c);

/* The name of a daemon for messages: "host service", "job service", "log service". */
const char *webd_peer_name(enum webd_peer peer);
