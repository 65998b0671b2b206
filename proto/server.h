/* The server side of MessagePack-RPC, independent of any event loop.
 *
 * A transport adapter (proto/server-sdevent.c for sd-event, svc-web's for h2o) owns the
 * socket: it creates an rpc_conn at accept with the peer's credentials, feeds received
 * bytes with rpc_conn_feed(), writes what rpc_conn_output() holds, and frees the conn
 * when the socket closes. The core frames, scans, decodes, checks access and dispatches
 * to a static method table.
 *
 * A handler gets an rpc_call. It answers exactly once, now or later, with rpc_call_reply()
 * (after packing the result into rpc_call_result()) or rpc_call_fail(); a streaming handler
 * first sends any number of rpc_call_notify() payloads. If the handler returns < 0 without
 * answering, the core answers with the error mapped from the errno. If the connection goes
 * away (or the client sends rpc.cancel) while a call is pending, the call's on_abandon hook
 * runs; the handler must then stop its work and still call rpc_call_reply/fail (which just
 * free the call). */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "proto/rpc.h"
#include "proto/scan.h"

struct rpc_server;
struct rpc_conn;
struct rpc_call;

/* Who a peer is, decided once when it connects, from SO_PEERCRED: by uid first (root, then
 * the daemons' own users), and only then by the operators' group. A daemon's user is never
 * an operator, even though its unit puts it in that group to reach the sockets
 * (docs/architecture.md, "Users, groups and paths"). */
enum rpc_caller {
        RPC_CALLER_NONE,     /* could connect, but is none of the below */
        RPC_CALLER_ROOT,     /* uid 0 */
        RPC_CALLER_OPERATOR, /* a member of the operators' group (primary or supplementary) */
        RPC_CALLER_JOBD,     /* the users jobd, logd and webd run as */
        RPC_CALLER_LOGD,
        RPC_CALLER_WEBD,
        _RPC_CALLER_MAX,
};

/* Masks of rpc_caller for a method's `callers`. */
#define RPC_MAY(c)     (1u << (c))
#define RPC_MAY_ANYONE ((1u << _RPC_CALLER_MAX) - 1)
#define RPC_MAY_ADMIN  (RPC_MAY(RPC_CALLER_ROOT) | RPC_MAY(RPC_CALLER_OPERATOR))
#define RPC_MAY_ROOT   RPC_MAY(RPC_CALLER_ROOT)

/* The uids and gid behind the classes. 0 (what a zeroed config holds) or -1 = no such user
 * or group: nobody falls in that class (root is a class of its own, never "gid 0"). */
struct rpc_identities {
        uid_t jobd, logd, webd;
        gid_t operators;
};

const char *rpc_caller_to_string(enum rpc_caller c);

typedef int (*rpc_handler_t)(struct rpc_call *call, const msgpack_object *params, void *userdata);

struct rpc_method {
        const char *name;
        rpc_handler_t handler;
        unsigned callers; /* RPC_MAY(...) | ...: who may call it; anyone else gets RPC_DENIED */
};

struct rpc_server_config {
        struct mp_limits limits; /* per incoming message */
        unsigned max_conns;      /* further connections are refused with an error and closed */
        /* One caller cannot take every connection: a uid other than root and the daemons'
         * (identities) gets at most max_conns_per_uid (0: max_conns / 4, at least 1), and all
         * of them together leave reserved_conns (0: max_conns / 8, at least 1 when
         * max_conns > 1) to root and the daemons, so an operator's `sudo l4d2ctl` and the
         * daemons' own requests get in while others hog. */
        unsigned max_conns_per_uid;
        unsigned reserved_conns;
        struct rpc_identities identities; /* zeroed: only root is known */
        /* A connection with nothing pending (no call, no unread output, no partial message) is
         * closed after idle_timeout_usec; a message that has begun must be complete within
         * message_timeout_usec, else the peer gets an error and is closed. 0 = never. */
        uint64_t idle_timeout_usec, message_timeout_usec;
        size_t max_out_bytes; /* per connection; a client that stops reading is dropped */
        unsigned max_calls;   /* pending calls per connection */
        /* Two method tables, looked up in order, each with the userdata its handlers get:
         * the daemon's own methods, and the shared sys.* ones. */
        const struct rpc_method *methods;
        size_t n_methods;
        void *userdata;
        const struct rpc_method *methods2;
        size_t n_methods2;
        void *userdata2;
        void *idle_userdata; /* for on_idle_changed */
        /* Called whenever the server becomes idle (no connections, no busy work) or stops
         * being idle, so the adapter can arm or disarm its idle-exit timer. */
        void (*on_idle_changed)(struct rpc_server *s, bool idle, void *userdata);
};

/* Transport callbacks of one connection. */
struct rpc_conn_ops {
        /* Output became non-empty outside rpc_conn_feed() (an async reply or notification).
         * It may be called before a notification's payload is packed: arm the write for
         * later (next loop iteration), do not write from inside this callback. */
        void (*want_write)(struct rpc_conn *c, void *transport);
        /* The transport sends the descriptors rpc_conn_output_fd() names (an AF_UNIX socket);
         * without it rpc_call_attach_fd() refuses. */
        bool passes_fds;
};

struct rpc_peer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        unsigned n_groups;
        gid_t groups[64];
        enum rpc_caller caller; /* set by rpc_conn_new() from the above */
};

int rpc_server_new(const struct rpc_server_config *cfg, struct rpc_server **ret);
struct rpc_server *rpc_server_free(struct rpc_server *s);
void rpc_server_freep(struct rpc_server **s);

/* Replaces the config's on_idle_changed hook (the loop adapter installs itself). */
void rpc_server_set_idle_hook(struct rpc_server *s, void (*cb)(struct rpc_server *, bool, void *),
                              void *userdata);
/* Sets the userdata of the first method table (known only after the daemon set itself up). */
void rpc_server_set_userdata(struct rpc_server *s, void *userdata);
unsigned rpc_server_connections(const struct rpc_server *s);
bool rpc_server_is_idle(const struct rpc_server *s);
/* Work that must keep the daemon alive without a connection (a running job). */
void rpc_server_busy_ref(struct rpc_server *s);
void rpc_server_busy_unref(struct rpc_server *s);
unsigned rpc_server_busy(const struct rpc_server *s);
unsigned long long rpc_server_requests(const struct rpc_server *s);
/* Closes every connection's pending calls and refuses further ones (graceful stop). */
void rpc_server_set_stopping(struct rpc_server *s);

/* Reads SO_PEERCRED and SO_PEERGROUPS of a connected AF_UNIX socket. A TCP socket gets
 * uid/gid -1 (no access beyond RPC_ACCESS_ANY). */
int rpc_peer_from_socket(int fd, struct rpc_peer *ret);
bool rpc_peer_in_group(const struct rpc_peer *p, gid_t g);
enum rpc_caller rpc_peer_classify(const struct rpc_peer *p, const struct rpc_identities *ids);

/* Creates a connection. When the server is at its connection limit, returns -EMFILE and
 * ret holds a connection whose output is one error notification: write it, then close. */
int rpc_conn_new(struct rpc_server *s, const struct rpc_peer *peer, const struct rpc_conn_ops *ops,
                 void *transport, struct rpc_conn **ret);
/* Abandons pending calls (their on_abandon hooks run), then frees. */
struct rpc_conn *rpc_conn_free(struct rpc_conn *c);

/* Feeds received bytes. Returns 0 to keep going, or < 0 when the connection must be closed
 * once rpc_conn_output() has been flushed (a framing error: an error notification is queued;
 * -ECONNRESET when the output cap was exceeded: close at once). */
int rpc_conn_feed(struct rpc_conn *c, const void *data, size_t n);
/* Tells the core the peer closed its writing side; pending calls keep running. */
void rpc_conn_eof(struct rpc_conn *c);

/* Timeouts, for the adapter's timer. After any activity (bytes fed, output written, a call
 * answered), with the adapter's monotonic clock: the time by which the connection must show
 * progress, or UINT64_MAX for none. When that time comes, rpc_conn_expire() queues why (for a
 * partial message) and marks the connection closing: flush, then close. */
uint64_t rpc_conn_deadline(struct rpc_conn *c, uint64_t now_usec);
void rpc_conn_expire(struct rpc_conn *c);

/* Pending output, and how much of it the transport managed to write. */
const void *rpc_conn_output(struct rpc_conn *c, size_t *ret_len);
void rpc_conn_consumed(struct rpc_conn *c, size_t n);
/* The next descriptor to send, and at which offset into rpc_conn_output() its byte is; -1 if
 * none. The transport writes at most up to that offset, then the bytes from there, up to the
 * following descriptor's offset (*ret_next, SIZE_MAX if none), in one sendmsg() with the
 * descriptor (SCM_RIGHTS); rpc_conn_consumed() past its byte closes the core's copy. */
int rpc_conn_output_fd(const struct rpc_conn *c, size_t *ret_offset, size_t *ret_next);
/* True once the core wants the connection closed after its output is flushed. */
bool rpc_conn_closing(const struct rpc_conn *c);
/* True if the connection must be dropped now (output cap exceeded). */
bool rpc_conn_broken(const struct rpc_conn *c);
unsigned rpc_conn_pending_calls(const struct rpc_conn *c);

/* ---- calls ---------------------------------------------------------------------------- */

const struct rpc_peer *rpc_call_peer(const struct rpc_call *c);
/* False once the connection is gone or the client cancelled: stop producing. */
bool rpc_call_alive(const struct rpc_call *c);
/* Bytes waiting in the connection's output buffer (for producer backpressure). */
size_t rpc_call_output_pending(const struct rpc_call *c);
size_t rpc_call_output_cap(const struct rpc_call *c);

/* Hook run once when the call is abandoned (connection closed, rpc.cancel, server stop). */
void rpc_call_set_abandon(struct rpc_call *c, void (*on_abandon)(struct rpc_call *c, void *userdata),
                          void *userdata);
/* Hook run when the connection's output drained below half its cap (resume producing). */
void rpc_call_set_drain(struct rpc_call *c, void (*on_drain)(struct rpc_call *c, void *userdata));
/* Marks the call as answered later: the handler returns 0 without replying. */
void rpc_call_defer(struct rpc_call *c);

/* Returns a packer positioned to write one result object. Pack exactly one object, then
 * call rpc_call_reply(). If the call is abandoned, the packer writes to a scratch buffer. */
msgpack_packer *rpc_call_result(struct rpc_call *c);
/* Completes the call after the result was packed; frees it. Returns 0 or -ECONNRESET if
 * the connection was over its output cap. */
int rpc_call_reply(struct rpc_call *c);
/* Sends fd (SCM_RIGHTS) with the call's answer: the descriptor arrives with the answer's
 * first byte (docs/protocol.md, "Descriptors"). Takes ownership: the core closes its copy
 * once sent, when the call fails or is abandoned instead, or on error. One per call: -EBUSY
 * if one is attached already, -EBADF for fd < 0, -EOPNOTSUPP when the transport cannot pass
 * descriptors (fd closed in every error case). */
int rpc_call_attach_fd(struct rpc_call *c, int fd);
/* Shorthand: reply with nil. */
int rpc_call_reply_nil(struct rpc_call *c);
/* Answers with an error and frees the call. Returns the negative errno of the code. */
int rpc_call_fail(struct rpc_call *c, enum rpc_code code, const char *fmt, ...) _printf_(3, 4);
int rpc_call_fail_error(struct rpc_call *c, const struct rpc_error *e);
/* Returns a packer for one notification payload of a streaming call; pack exactly one
 * object. Returns NULL if the call is no longer alive. */
msgpack_packer *rpc_call_notify(struct rpc_call *c);
