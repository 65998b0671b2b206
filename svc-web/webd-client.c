/* See webd-client.h.
 *
 * Writes: h2o keeps the iovecs it was given until the write completes, while the core may
 * append to (and so move) its output buffer at any time. So each write sends a private copy
 * of the first n output bytes, and only when h2o says they are out does the adapter call
 * rpc_core_consumed(n): the core's output cap therefore covers the bytes in flight too.
 *
 * The core's want_write only links a zero-length h2o timeout; the write starts from that
 * callback. Starting it inside want_write could fail (memory for the copy) and break the
 * connection, running the calls' callbacks from inside the rpc_core_call that queued one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/util.h"
#include "proto/fdpass.h"
#include "svc-web/webd-client.h"

struct webd_client {
        h2o_socket_t *sock;
        struct rpc_core *core;
        const char *peer_name;
        char *wbuf; /* the bytes of the write in flight */
        size_t wlen, walloc;
        bool writing;
        h2o_loop_t *loop;
        h2o_timeout_t zero; /* fires on the next loop iteration */
        h2o_timeout_entry_t kick;
        bool in_cb;        /* one of our h2o callbacks is on the stack */
        bool free_pending; /* webd_client_free() ran inside it */
};

static void really_free(struct webd_client *c) {
        if (h2o_timeout_is_linked(&c->kick))
                h2o_timeout_unlink(&c->kick);
        h2o_timeout_dispose(c->loop, &c->zero);
        /* h2o drops a pending write's callback when the socket closes. */
        if (c->sock)
                h2o_socket_close(c->sock);
        rpc_core_free(c->core);
        free(c->wbuf);
        free(c);
}

struct webd_client *webd_client_free(struct webd_client *c) {
        if (!c)
                return NULL;
        if (c->in_cb) {
                c->free_pending = true;
                c->core = rpc_core_free(c->core); /* deferred by the core while it calls back */
                return NULL;
        }
        really_free(c);
        return NULL;
}

void webd_client_freep(struct webd_client **c) {
        *c = webd_client_free(*c);
}

struct rpc_core *webd_client_core(struct webd_client *c) {
        return c ? c->core : NULL;
}

static void on_write_done(h2o_socket_t *sock, const char *err);

/* Starts writing the core's pending output unless a write is in flight. Never frees. */
static void flush(struct webd_client *c) {
        const void *out;
        size_t n;
        h2o_iovec_t vec;

        if (c->writing || c->free_pending || !c->core || rpc_core_broken(c->core) < 0)
                return;
        out = rpc_core_output(c->core, &n);
        if (n == 0)
                return;
        if (n > c->walloc) {
                char *p = realloc(c->wbuf, n);
                if (!p) {
                        rpc_core_fail(c->core, -ENOMEM, "out of memory writing to the %s", c->peer_name);
                        return;
                }
                c->wbuf = p;
                c->walloc = n;
        }
        memcpy(c->wbuf, out, n);
        c->wlen = n;
        c->writing = true;
        vec = h2o_iovec_init(c->wbuf, n);
        h2o_socket_write(c->sock, &vec, 1, on_write_done);
}

/* Ends one of our h2o callbacks: write what is queued, or stop reading once the core broke;
 * then the deferred free. */
static void cb_end(struct webd_client *c) {
        if (!c->free_pending) {
                if (rpc_core_broken(c->core) < 0)
                        h2o_socket_read_stop(c->sock);
                else
                        flush(c);
        }
        c->in_cb = false;
        if (c->free_pending)
                really_free(c);
}

static void on_kick(h2o_timeout_entry_t *entry) {
        struct webd_client *c = H2O_STRUCT_FROM_MEMBER(struct webd_client, kick, entry);

        c->in_cb = true;
        cb_end(c);
}

static void on_write_done(h2o_socket_t *sock, const char *err) {
        struct webd_client *c = sock->data;

        c->in_cb = true;
        c->writing = false;
        if (err)
                rpc_core_fail(c->core, -EPIPE, "lost the connection to the %s: %s", c->peer_name, err);
        else
                rpc_core_consumed(c->core, c->wlen);
        c->wlen = 0;
        cb_end(c);
}

/* h2o's own read() would drop the descriptors hostd sends with an answer (SCM_RIGHTS), so
 * the socket only tells us it is readable (h2o_socket_dont_read) and we recvmsg() here. The
 * loop is level-triggered: a budget per wake-up keeps one busy peer from starving the rest. */
static void on_read(h2o_socket_t *sock, const char *err) {
        struct webd_client *c = sock->data;
        int fd = h2o_socket_get_fd(sock);

        c->in_cb = true;
        for (unsigned round = 0; round < 16 && !c->free_pending && rpc_core_broken(c->core) == 0; round++) {
                char buf[64 * 1024];
                int fds[FDPASS_MAX_FDS];
                size_t n_fds;
                ssize_t k = fdpass_recv(fd, buf, sizeof(buf), MSG_DONTWAIT, fds, &n_fds);

                if (k == -EINTR)
                        continue;
                if (k == -EAGAIN)
                        break;
                if (k < 0) {
                        rpc_core_fail(c->core, (int) k, "lost the connection to the %s: %s", c->peer_name,
                                      strerror((int) -k));
                        break;
                }
                for (size_t i = 0; i < n_fds && i < FDPASS_MAX_FDS; i++)
                        (void) rpc_core_feed_fd(c->core, fds[i]);
                if (k == 0) {
                        rpc_core_eof(c->core);
                        break;
                }
                (void) rpc_core_feed(c->core, buf, (size_t) k);
        }
        if (err && !c->free_pending && rpc_core_broken(c->core) == 0)
                rpc_core_fail(c->core, -ECONNRESET, "lost the connection to the %s: %s", c->peer_name, err);
        cb_end(c);
}

static void on_want_write(struct rpc_core *core, void *transport) {
        struct webd_client *c = transport;

        if (!c->writing && !h2o_timeout_is_linked(&c->kick))
                h2o_timeout_link(c->loop, &c->zero, &c->kick);
}

static const struct rpc_core_ops client_ops = {
        .want_write = on_want_write,
};

int webd_client_new(h2o_loop_t *loop, const char *path, const struct rpc_core_config *cfg,
                    struct webd_client **ret) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct webd_client *c;
        size_t n = strlen(path);
        int fd, r;

        if (n == 0 || n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->peer_name = cfg && cfg->peer_name ? cfg->peer_name : "service";
        c->loop = loop;
        h2o_timeout_init(loop, &c->zero, 0);
        c->kick.cb = on_kick;
        r = rpc_core_new(cfg, &client_ops, c, &c->core);
        if (r < 0) {
                really_free(c);
                return r;
        }
        /* h2o 2.2.5's h2o_socket_connect() asks for IPPROTO_TCP, which AF_UNIX refuses: connect
         * here. A local stream connect completes at once or fails (EAGAIN: backlog full). */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                safe_close(fd);
                really_free(c);
                return r;
        }
        c->sock = h2o_evloop_socket_create(loop, fd, 0);
        if (!c->sock) {
                safe_close(fd);
                really_free(c);
                return -ENOMEM;
        }
        c->sock->data = c;
        h2o_socket_dont_read(c->sock, 1);
        h2o_socket_read_start(c->sock, on_read);
        *ret = c;
        return 0;
}
