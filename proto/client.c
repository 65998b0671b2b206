#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proto/client-core.h"
#include "proto/client.h"

#define READ_CHUNK (64u * 1024u)

/* The blocking adapter of proto/client-core.h: the socket is non-blocking, and each call
 * polls it until the core has delivered that call's reply. */
struct rpc_client {
        int fd;
        struct mp_limits limits;
        struct rpc_core *core;
};

static int client_core_new(struct rpc_client *c) {
        struct rpc_core_config cfg = {.limits = c->limits};
        return rpc_core_new(&cfg, NULL, NULL, &c->core);
}

int rpc_client_connect(const char *path, int timeout_ms, struct rpc_client **ret) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct rpc_client *c;
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);
        int r;

        if (n == 0 || n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);

        /* A blocking connect: on AF_UNIX it waits for room in a full backlog (the service is
         * starting), bounded by SO_SNDTIMEO. A non-blocking one would fail with EAGAIN and
         * not keep trying. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (timeout_ms >= 0) {
                struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
                if (tv.tv_sec == 0 && tv.tv_usec == 0)
                        tv.tv_usec = 1;
                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
        }
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        mp_limits_normalize(&c->limits);
        /* Replies (a page of jobs, a log backfill) may be bigger than requests. */
        c->limits.max_bytes = 64u * 1024u * 1024u;
        c->limits.max_elems = 4u * 1024u * 1024u;
        r = client_core_new(c);
        if (r < 0) {
                free(c);
                return r;
        }
        c->fd = TAKE_FD(fd);
        *ret = c;
        return 0;
}

struct rpc_client *rpc_client_free(struct rpc_client *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        rpc_core_free(c->core);
        free(c);
        return NULL;
}

void rpc_client_freep(struct rpc_client **c) {
        *c = rpc_client_free(*c);
}

static int wait_fd(int fd, short events, int timeout_ms) {
        struct pollfd p = {.fd = fd, .events = events};
        for (;;) {
                int k = poll(&p, 1, timeout_ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ETIMEDOUT;
                return 0;
        }
}

static int send_all(int fd, const void *data, size_t n) {
        const char *p = data;
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = wait_fd(fd, POLLOUT, 30000);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Writes everything the core has queued. */
static int flush_core(struct rpc_client *c) {
        size_t n;
        const void *p = rpc_core_output(c->core, &n);
        int r;

        if (n == 0)
                return 0;
        r = send_all(c->fd, p, n);
        if (r < 0)
                return r;
        rpc_core_consumed(c->core, n);
        return 0;
}

int rpc_client_send_raw(struct rpc_client *c, const void *data, size_t n) {
        int r = flush_core(c);
        return r < 0 ? r : send_all(c->fd, data, n);
}

/* One call's state while rpc_client_call() waits for it. */
struct pending {
        struct rpc_reply *ret;
        rpc_notify_cb on_notify;
        void *userdata;
        bool done, cancelled;
        int r; /* < 0: transport failure, described in e */
        struct rpc_error e;
};

static void on_core_notify(struct rpc_core *core, uint32_t msgid, const msgpack_object *payload,
                           void *userdata) {
        struct pending *p = userdata;

        if (!p->on_notify || p->cancelled)
                return;
        if (p->on_notify(payload, p->userdata) < 0) {
                /* Keep reading: the server answers the cancel with the final response. */
                p->cancelled = true;
                (void) rpc_core_cancel(core, msgid);
        }
}

static void on_core_reply(struct rpc_core *core, uint32_t msgid, const struct rpc_core_reply *rep,
                          void *userdata) {
        struct pending *p = userdata;
        struct rpc_reply *ret = p->ret;
        size_t off = 0;

        p->done = true;
        if (rep->transport_error < 0) {
                p->r = rep->transport_error;
                p->e = rep->error;
                return;
        }
        /* The core's objects live only during this callback; the caller keeps the result until
         * rpc_reply_done(), so unpack a copy of the message's bytes. */
        ret->raw = malloc(rep->raw_len);
        if (!ret->raw ||
            (memcpy(ret->raw, rep->raw, rep->raw_len),
             msgpack_unpack_next(&ret->unp, ret->raw, rep->raw_len, &off) != MSGPACK_UNPACK_SUCCESS)) {
                p->r = rpc_error_set(&p->e, RPC_INTERNAL, "out of memory");
                return;
        }
        ret->result = &ret->unp.data.via.array.ptr[3];
        ret->failed = rep->failed;
        if (rep->failed)
                ret->error = rep->error;
}

int rpc_client_call(struct rpc_client *c, const char *method, const struct rpc_buf *params, int timeout_ms,
                    rpc_notify_cb on_notify, void *userdata, struct rpc_reply *ret, struct rpc_error *e) {
        struct pending p = {.ret = ret, .on_notify = on_notify, .userdata = userdata};
        uint32_t msgid;
        int r;

        memset(ret, 0, sizeof(*ret));
        msgpack_unpacked_init(&ret->unp);

        r = rpc_core_call(c->core, method, params, on_core_notify, on_core_reply, &p, &msgid);
        if (r == -ENOBUFS || r == -ENOMEM)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        if (r == -EINVAL)
                return rpc_error_set(e, RPC_INVALID, "method '%s': must be 1..%d bytes", method,
                                     RPC_METHOD_MAX);
        if (r < 0)
                return rpc_error_set(e, RPC_UNAVAILABLE, "cannot send request: %s", strerror(-r)), r;

        while (!p.done) {
                char buf[READ_CHUNK];
                ssize_t k;

                r = flush_core(c);
                if (r < 0) {
                        rpc_core_fail(c->core, r, "cannot send request: %s", strerror(-r));
                        break;
                }
                r = wait_fd(c->fd, POLLIN, timeout_ms);
                if (r == -ETIMEDOUT) {
                        /* A late answer on this connection is ignored as stray. */
                        (void) rpc_core_forget(c->core, msgid);
                        return rpc_error_set(e, RPC_TIMEOUT, "no answer within %d ms", timeout_ms), r;
                }
                if (r < 0) {
                        rpc_core_fail(c->core, r, "cannot wait for the service: %s", strerror(-r));
                        break;
                }
                k = recv(c->fd, buf, sizeof(buf), 0);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        rpc_core_fail(c->core, -errno, "cannot read from the service: %m");
                else if (k == 0)
                        rpc_core_eof(c->core);
                else
                        (void) rpc_core_feed(c->core, buf, (size_t) k);
        }
        if (p.r < 0) {
                *e = p.e;
                return p.r;
        }
        return 0;
}

void rpc_reply_done(struct rpc_reply *r) {
        msgpack_unpacked_destroy(&r->unp);
        free(r->raw);
        r->raw = NULL;
        r->result = NULL;
}
