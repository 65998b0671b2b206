#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "svc-jobs/jobd-hostclient.h"

#define READ_CHUNK 65536

struct hostclient {
        sd_event_source *io;
        int fd;
        bool connecting;
        bool broken; /* the connection failed; no further I/O */
        unsigned in_dispatch;
        bool free_pending;

        struct mp_limits limits;
        struct mp_scanner scanner;
        struct rpc_buf in, out;

        uint32_t next_msgid;
        bool pending;
        uint32_t msgid;
        hostclient_notify_t on_notify;
        hostclient_reply_t on_reply;
        void *userdata;
};

static struct hostclient *really_free(struct hostclient *h) {
        sd_event_source_disable_unref(h->io);
        safe_close(h->fd);
        rpc_buf_done(&h->in);
        rpc_buf_done(&h->out);
        free(h);
        return NULL;
}

struct hostclient *hostclient_free(struct hostclient *h) {
        if (!h)
                return NULL;
        if (h->in_dispatch > 0) {
                /* Inside our own callback chain: stop all I/O now, release memory afterwards. */
                h->free_pending = true;
                h->pending = false;
                if (h->io)
                        (void) sd_event_source_set_enabled(h->io, SD_EVENT_OFF);
                return NULL;
        }
        return really_free(h);
}

bool hostclient_call_pending(const struct hostclient *h) {
        return h && h->pending;
}

static void update_events(struct hostclient *h) {
        uint32_t ev = EPOLLIN;

        if (h->broken || h->free_pending)
                return;
        if (h->connecting || h->out.len > 0)
                ev |= EPOLLOUT;
        (void) sd_event_source_set_io_events(h->io, ev);
}

/* Completes the pending call (if any) with r. */
static void complete(struct hostclient *h, const struct hostclient_reply *r) {
        hostclient_reply_t cb = h->on_reply;
        void *ud = h->userdata;

        if (!h->pending)
                return;
        h->pending = false;
        h->on_notify = NULL;
        h->on_reply = NULL;
        if (cb)
                cb(h, r, ud);
}

static void fail_transport(struct hostclient *h, int error, const char *fmt, ...) _printf_(3, 4);
static void fail_transport(struct hostclient *h, int error, const char *fmt, ...) {
        struct hostclient_reply r = {.transport_error = error < 0 ? error : -EIO, .failed = true};
        va_list ap;

        h->broken = true;
        if (h->io)
                (void) sd_event_source_set_enabled(h->io, SD_EVENT_OFF);
        va_start(ap, fmt);
        (void) rpc_error_setv(&r.error, RPC_UNAVAILABLE, fmt, ap);
        va_end(ap);
        complete(h, &r);
}

static int flush_out(struct hostclient *h) {
        while (h->out.len > 0) {
                ssize_t k = send(h->fd, h->out.data, h->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                rpc_buf_consume(&h->out, (size_t) k);
        }
        update_events(h);
        return 0;
}

/* Handles one complete, scanned message. */
static void dispatch(struct hostclient *h, const msgpack_object *o) {
        struct rpc_error e;
        struct rpc_msg m;
        bool has_msgid;

        if (rpc_msg_decode(o, &m, &has_msgid, &e) < 0) {
                fail_transport(h, -EBADMSG, "malformed message from the host service: %s", e.message);
                return;
        }
        if (m.type == RPC_RESPONSE) {
                struct hostclient_reply r = {};
                if (!h->pending || m.msgid != h->msgid)
                        return; /* a late answer to a call we gave up on */
                if (rpc_error_decode(m.error, &r.error) > 0)
                        r.failed = true;
                else
                        r.result = m.result;
                complete(h, &r);
                return;
        }
        if (m.type == RPC_NOTIFY) {
                const msgpack_object *p = m.params;
                if (m.method_len == STRLEN("rpc.error") &&
                    memcmp(m.method, "rpc.error", m.method_len) == 0) {
                        struct rpc_error pe = {};
                        if (p && p->type == MSGPACK_OBJECT_ARRAY && p->via.array.size >= 1)
                                (void) rpc_error_decode(&p->via.array.ptr[0], &pe);
                        fail_transport(h, -ECONNRESET, "the host service refused the connection: %s",
                                       pe.message[0] ? pe.message : "protocol error");
                        return;
                }
                if (!p || p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 ||
                    p->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                        return; /* not a stream notification of ours: ignore */
                if (h->pending && p->via.array.ptr[0].via.u64 == h->msgid && h->on_notify)
                        h->on_notify(h, &p->via.array.ptr[1], h->userdata);
                return;
        }
        /* A request from the server: we serve nothing. */
}

static void process_input(struct hostclient *h) {
        while (h->in.len > 0 && !h->broken && !h->free_pending) {
                msgpack_unpacked unp;
                size_t off = 0;
                long n;

                n = mp_scan(&h->scanner, (const uint8_t *) h->in.data, h->in.len);
                if (n == 0)
                        return;
                if (n < 0) {
                        fail_transport(h, -EBADMSG, "unacceptable message from the host service (%s)",
                                       n == -EMSGSIZE ? "too large"
                                       : n == -ELOOP  ? "nested too deep"
                                       : n == -E2BIG  ? "too many objects"
                                                      : "not MessagePack");
                        return;
                }
                msgpack_unpacked_init(&unp);
                if (msgpack_unpack_next(&unp, h->in.data, (size_t) n, &off) != MSGPACK_UNPACK_SUCCESS) {
                        msgpack_unpacked_destroy(&unp);
                        fail_transport(h, -EBADMSG, "undecodable message from the host service");
                        return;
                }
                dispatch(h, &unp.data);
                msgpack_unpacked_destroy(&unp);
                rpc_buf_consume(&h->in, (size_t) n);
                mp_scanner_reset(&h->scanner);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct hostclient *h = userdata;
        int r;

        h->in_dispatch++;
        if (h->connecting && (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err != 0) {
                        fail_transport(h, -err, "cannot connect to the host service: %s", strerror(err));
                        goto finish;
                }
                h->connecting = false;
        }
        if (revents & EPOLLOUT) {
                r = flush_out(h);
                if (r < 0) {
                        fail_transport(h, r, "lost the connection to the host service: %s", strerror(-r));
                        goto finish;
                }
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                        char buf[READ_CHUNK];
                        ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                if (errno == EAGAIN)
                                        break;
                                fail_transport(h, -errno, "lost the connection to the host service: %m");
                                goto finish;
                        }
                        if (k == 0) {
                                process_input(h);
                                if (!h->broken && !h->free_pending)
                                        fail_transport(h, -ECONNRESET,
                                                       "the host service closed the connection mid-call");
                                goto finish;
                        }
                        if (rpc_buf_append(&h->in, buf, (size_t) k) < 0) {
                                fail_transport(h, -ENOMEM, "out of memory reading from the host service");
                                goto finish;
                        }
                        process_input(h);
                        if (h->broken || h->free_pending)
                                goto finish;
                }
        }
finish:
        h->in_dispatch--;
        if (h->free_pending && h->in_dispatch == 0)
                really_free(h);
        return 0;
}

int hostclient_new(sd_event *e, const char *path, const struct mp_limits *limits, struct hostclient **ret) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct hostclient *h;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path));

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->fd = -1;
        h->limits = limits ? *limits : (struct mp_limits){};
        mp_limits_normalize(&h->limits);
        mp_scanner_init(&h->scanner, &h->limits);
        rpc_buf_init(&h->in, 0);
        rpc_buf_init(&h->out, 0);
        h->next_msgid = 1;

        h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (h->fd < 0) {
                r = -errno;
                goto fail;
        }
        if (connect(h->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != EAGAIN && errno != EINPROGRESS) {
                        r = -errno;
                        goto fail;
                }
                h->connecting = true;
        }
        r = sd_event_add_io(e, &h->io, h->fd, EPOLLIN | (h->connecting ? EPOLLOUT : 0), on_io, h);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(h->io, "hostclient");
        *ret = h;
        return 0;
fail:
        really_free(h);
        return r;
}

static int send_out(struct hostclient *h) {
        int r;

        if (!rpc_buf_ok(&h->out))
                return -ENOMEM;
        if (h->connecting) {
                update_events(h);
                return 0;
        }
        r = flush_out(h);
        return r;
}

int hostclient_call(struct hostclient *h, const char *method, const struct rpc_buf *params,
                    hostclient_notify_t on_notify, hostclient_reply_t on_reply, void *userdata) {
        int r;

        if (h->pending)
                return -EBUSY;
        if (h->broken || h->free_pending)
                return -ECONNRESET;
        h->msgid = h->next_msgid++;
        rpc_pack_request_head(&h->out.pk, h->msgid, method);
        if (params)
                (void) rpc_buf_append(&h->out, params->data, params->len);
        else
                msgpack_pack_array(&h->out.pk, 0);
        r = send_out(h);
        if (r < 0) {
                h->broken = true;
                return r;
        }
        h->pending = true;
        h->on_notify = on_notify;
        h->on_reply = on_reply;
        h->userdata = userdata;
        return 0;
}

int hostclient_cancel(struct hostclient *h) {
        if (!h->pending || h->broken)
                return -ENOTCONN;
        /* [2, "rpc.cancel", [msgid]] */
        msgpack_pack_array(&h->out.pk, 3);
        msgpack_pack_int(&h->out.pk, RPC_NOTIFY);
        rpc_pack_str(&h->out.pk, "rpc.cancel");
        msgpack_pack_array(&h->out.pk, 1);
        msgpack_pack_uint32(&h->out.pk, h->msgid);
        return send_out(h);
}
