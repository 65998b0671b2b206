#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proto/client.h"

#define READ_CHUNK (64u * 1024u)

struct rpc_client {
        int fd;
        uint32_t next_msgid;
        struct mp_limits limits;
        struct rpc_buf in;
        size_t in_off;
};

int rpc_client_connect(const char *path, int timeout_ms, struct rpc_client **ret) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct rpc_client *c;
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);

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
        c->fd = TAKE_FD(fd);
        c->next_msgid = 1;
        mp_limits_normalize(&c->limits);
        /* Replies (a page of jobs, a log backfill) may be bigger than requests. */
        c->limits.max_bytes = 64u * 1024u * 1024u;
        c->limits.max_elems = 4u * 1024u * 1024u;
        rpc_buf_init(&c->in, 0);
        *ret = c;
        return 0;
}

struct rpc_client *rpc_client_free(struct rpc_client *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        rpc_buf_done(&c->in);
        free(c);
        return NULL;
}

void rpc_client_freep(struct rpc_client **c) {
        *c = rpc_client_free(*c);
}

int rpc_client_fd(const struct rpc_client *c) {
        return c->fd;
}

void rpc_client_set_limits(struct rpc_client *c, const struct mp_limits *l) {
        c->limits = *l;
        mp_limits_normalize(&c->limits);
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

int rpc_client_send_raw(struct rpc_client *c, const void *data, size_t n) {
        const char *p = data;
        while (n > 0) {
                ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = wait_fd(c->fd, POLLOUT, 30000);
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

/* Reads the next complete message into *u. msgpack-c's objects point into the bytes they were
 * unpacked from, so the message is copied to *raw, which the caller owns. */
static int read_message(struct rpc_client *c, int timeout_ms, msgpack_unpacked *u, char **raw) {
        struct mp_scanner s;

        mp_scanner_init(&s, &c->limits);
        for (;;) {
                if (c->in.len > c->in_off) {
                        long r =
                                mp_scan(&s, (const uint8_t *) c->in.data + c->in_off, c->in.len - c->in_off);
                        if (r < 0)
                                return (int) r;
                        if (r > 0) {
                                size_t off = 0;
                                msgpack_unpack_return ur;
                                char *copy = malloc((size_t) r);
                                if (!copy)
                                        return -ENOMEM;
                                memcpy(copy, c->in.data + c->in_off, (size_t) r);
                                free(*raw);
                                *raw = copy;
                                ur = msgpack_unpack_next(u, copy, (size_t) r, &off);
                                c->in_off += (size_t) r;
                                if (c->in_off == c->in.len) {
                                        c->in.len = 0;
                                        c->in_off = 0;
                                }
                                return ur == MSGPACK_UNPACK_SUCCESS ? 0 : -ENOMEM;
                        }
                }
                if (c->in_off > 0) {
                        rpc_buf_consume(&c->in, c->in_off);
                        c->in_off = 0;
                        mp_scanner_reset(&s);
                }
                {
                        char buf[READ_CHUNK];
                        ssize_t k;
                        int r = wait_fd(c->fd, POLLIN, timeout_ms);
                        if (r < 0)
                                return r;
                        k = recv(c->fd, buf, sizeof(buf), 0);
                        if (k < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                return -errno;
                        }
                        if (k == 0)
                                return -ECONNRESET;
                        if (rpc_buf_append(&c->in, buf, (size_t) k) < 0)
                                return -ENOMEM;
                }
        }
}

static int send_cancel(struct rpc_client *c, uint32_t msgid) {
        struct rpc_buf b;
        int r;
        rpc_buf_init(&b, 0);
        (void) msgpack_pack_array(&b.pk, 3);
        (void) msgpack_pack_uint8(&b.pk, RPC_NOTIFY);
        rpc_pack_str(&b.pk, "rpc.cancel");
        (void) msgpack_pack_array(&b.pk, 1);
        (void) msgpack_pack_uint32(&b.pk, msgid);
        r = rpc_buf_ok(&b) ? rpc_client_send_raw(c, b.data, b.len) : -ENOMEM;
        rpc_buf_done(&b);
        return r;
}

int rpc_client_call(struct rpc_client *c, const char *method, const struct rpc_buf *params, int timeout_ms,
                    rpc_notify_cb on_notify, void *userdata, struct rpc_reply *ret, struct rpc_error *e) {
        struct rpc_buf req;
        uint32_t msgid = c->next_msgid++;
        bool cancelled = false;
        int r;

        memset(ret, 0, sizeof(*ret));
        msgpack_unpacked_init(&ret->unp);

        rpc_buf_init(&req, 0);
        rpc_pack_request_head(&req.pk, msgid, method);
        if (params && params->len > 0)
                (void) rpc_buf_append(&req, params->data, params->len);
        else
                (void) msgpack_pack_array(&req.pk, 0);
        if (!rpc_buf_ok(&req)) {
                rpc_buf_done(&req);
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        }
        r = rpc_client_send_raw(c, req.data, req.len);
        rpc_buf_done(&req);
        if (r < 0)
                return rpc_error_set(e, rpc_code_from_errno(r), "cannot send request: %s", strerror(-r)), r;

        for (;;) {
                struct rpc_msg m;
                struct rpc_error de;
                bool has_id;

                msgpack_unpacked_destroy(&ret->unp);
                msgpack_unpacked_init(&ret->unp);
                r = read_message(c, timeout_ms, &ret->unp, &ret->raw);
                if (r == -ETIMEDOUT)
                        return rpc_error_set(e, RPC_TIMEOUT, "no answer within %d ms", timeout_ms), r;
                if (r == -ECONNRESET)
                        return rpc_error_set(e, RPC_UNAVAILABLE, "the service closed the connection"), r;
                if (r < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "bad data from the service: %s", strerror(-r)),
                               r;
                if (rpc_msg_decode(&ret->unp.data, &m, &has_id, &de) < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "bad message from the service: %s",
                                             de.message),
                               -EBADMSG;
                if (m.type == RPC_NOTIFY) {
                        if (m.method_len == STRLEN("rpc.error") &&
                            memcmp(m.method, "rpc.error", m.method_len) == 0) {
                                struct rpc_error pe;
                                if (m.params->via.array.size == 1 &&
                                    rpc_error_decode(&m.params->via.array.ptr[0], &pe) > 0) {
                                        *e = pe;
                                        return rpc_code_to_errno(pe.code);
                                }
                                return rpc_error_set(e, RPC_INTERNAL, "protocol error"), -EPROTO;
                        }
                        /* Stream items: [msgid, payload] */
                        if (m.params->via.array.size == 2 &&
                            m.params->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                            m.params->via.array.ptr[0].via.u64 == msgid && on_notify && !cancelled) {
                                if (on_notify(&m.params->via.array.ptr[1], userdata) < 0) {
                                        cancelled = true;
                                        (void) send_cancel(c, msgid);
                                }
                        }
                        continue;
                }
                if (m.type != RPC_RESPONSE || m.msgid != msgid)
                        continue;
                if (rpc_error_decode(m.error, &ret->error) > 0)
                        ret->failed = true;
                ret->result = m.result;
                return 0;
        }
}

void rpc_reply_done(struct rpc_reply *r) {
        msgpack_unpacked_destroy(&r->unp);
        free(r->raw);
        r->raw = NULL;
        r->result = NULL;
}
