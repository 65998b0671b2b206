#include <sys/socket.h>

#include "proto/fdpass.h"
#include "proto/server-sdevent.h"

#define READ_CHUNK    (64u * 1024u)
#define MAX_LISTENERS 8

struct sd_conn {
        struct rpc_sdevent *owner;
        int fd;
        sd_event_source *io;
        sd_event_source *timer; /* the connection's deadline (rpc_conn_deadline) */
        struct rpc_conn *conn;
        bool closing, eof;
        struct sd_conn *prev, *next;
};

struct rpc_sdevent {
        sd_event *event;
        struct rpc_server *server;
        sd_event_source *listeners[MAX_LISTENERS];
        unsigned n_listeners;
        bool stopped;
        struct sd_conn *conns;
};

static void sd_conn_free(struct sd_conn *c) {
        if (!c)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->owner->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->io = sd_event_source_disable_unref(c->io);
        c->timer = sd_event_source_disable_unref(c->timer);
        /* Free the rpc conn first: abandon hooks may still look at the call. */
        c->conn = rpc_conn_free(c->conn);
        safe_close(c->fd);
        free(c);
}

static int update_events(struct sd_conn *c) {
        size_t n;
        uint32_t ev = EPOLLIN;
        (void) rpc_conn_output(c->conn, &n);
        if (n > 0)
                ev |= EPOLLOUT;
        if (c->closing || c->eof)
                ev &= ~(uint32_t) EPOLLIN;
        return sd_event_source_set_io_events(c->io, ev);
}

/* Writes as much pending output as the socket takes. Returns < 0 if the connection is dead. */
static int flush_out(struct sd_conn *c) {
        for (;;) {
                size_t n, fd_off, next_off;
                const void *p = rpc_conn_output(c->conn, &n);
                int fd = rpc_conn_output_fd(c->conn, &fd_off, &next_off);
                ssize_t k;
                if (n == 0)
                        return 0;
                /* Up to the byte a descriptor goes with, then from it with the descriptor. */
                if (fd >= 0 && fd_off > 0) {
                        n = MIN(n, fd_off);
                        fd = -1;
                } else if (fd >= 0)
                        n = MIN(n, next_off);
                k = fdpass_send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT, fd);
                if (k < 0) {
                        if (k == -EINTR)
                                continue;
                        if (k == -EAGAIN)
                                return 0;
                        return (int) k;
                }
                rpc_conn_consumed(c->conn, (size_t) k);
        }
}

static void settle(struct sd_conn *c);

static int on_conn_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct sd_conn *c = userdata;

        rpc_conn_expire(c->conn);
        settle(c);
        return 0;
}

/* One timer per connection, moved to its current deadline (or switched off). */
static int arm_timer(struct sd_conn *c) {
        uint64_t now, deadline;
        int r;

        r = sd_event_now(c->owner->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        deadline = rpc_conn_deadline(c->conn, now);
        if (deadline == UINT64_MAX)
                return c->timer ? sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) : 0;
        if (!c->timer)
                return sd_event_add_time(c->owner->event, &c->timer, CLOCK_MONOTONIC, deadline, 0,
                                         on_conn_timer, c);
        r = sd_event_source_set_time(c->timer, deadline);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* After any activity: flush, then decide whether to keep, close or wait for output. */
static void settle(struct sd_conn *c) {
        size_t n;
        if (rpc_conn_broken(c->conn) || flush_out(c) < 0) {
                sd_conn_free(c);
                return;
        }
        (void) rpc_conn_output(c->conn, &n);
        /* After a protocol error: close once the error is out. After the peer's EOF: close
         * once the calls it is waiting for have been answered. */
        if (n == 0 &&
            (c->closing || rpc_conn_closing(c->conn) || (c->eof && rpc_conn_pending_calls(c->conn) == 0))) {
                sd_conn_free(c);
                return;
        }
        if (update_events(c) < 0 || arm_timer(c) < 0)
                sd_conn_free(c);
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct sd_conn *c = userdata;

        if (revents & EPOLLIN) {
                char buf[READ_CHUNK];
                ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (k < 0 && errno != EAGAIN && errno != EINTR) {
                        sd_conn_free(c);
                        return 0;
                }
                if (k == 0) {
                        /* The peer is done sending; it may still wait for answers. */
                        c->eof = true;
                        rpc_conn_eof(c->conn);
                }
                if (k > 0 && rpc_conn_feed(c->conn, buf, (size_t) k) < 0)
                        c->closing = true;
        } else if (revents & (EPOLLHUP | EPOLLERR)) {
                sd_conn_free(c);
                return 0;
        }
        settle(c);
        return 0;
}

static void on_want_write(struct rpc_conn *conn, void *transport) {
        struct sd_conn *c = transport;
        (void) conn;
        /* Only arm EPOLLOUT; the loop writes on its next iteration. Writing here would send a
         * notification's header before its payload is packed (the core calls this from
         * rpc_call_notify), and the payload would then wait for the next event. */
        (void) sd_event_source_set_io_events(c->io, c->closing || c->eof ? EPOLLOUT : EPOLLIN | EPOLLOUT);
}

static const struct rpc_conn_ops sd_conn_ops = {
        .want_write = on_want_write,
        .passes_fds = true,
};

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct rpc_sdevent *a = userdata;
        struct rpc_peer peer;
        struct sd_conn *c;
        int cfd, r;

        if (a->stopped)
                return 0;
        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0; /* EAGAIN, or the peer gave up: nothing to do */

        r = rpc_peer_from_socket(cfd, &peer);
        if (r < 0) {
                safe_close(cfd);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(cfd);
                return 0;
        }
        c->owner = a;
        c->fd = cfd;
        c->next = a->conns;
        if (a->conns)
                a->conns->prev = c;
        a->conns = c;
        r = rpc_conn_new(a->server, &peer, &sd_conn_ops, c, &c->conn);
        if (r == -ENOMEM) {
                c->conn = NULL;
                sd_conn_free(c);
                return 0;
        }
        if (r < 0)
                c->closing = true; /* over the limit: it holds one error notification */
        r = sd_event_add_io(a->event, &c->io, cfd, EPOLLIN, on_conn_io, c);
        if (r < 0) {
                sd_conn_free(c);
                return 0;
        }
        settle(c);
        return 0;
}

int rpc_sdevent_new(sd_event *e, struct rpc_server *server, struct rpc_sdevent **ret) {
        struct rpc_sdevent *a = calloc(1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(e);
        a->server = server;
        *ret = a;
        return 0;
}

struct rpc_sdevent *rpc_sdevent_free(struct rpc_sdevent *a) {
        if (!a)
                return NULL;
        while (a->conns)
                sd_conn_free(a->conns);
        rpc_sdevent_stop_listening(a);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

int rpc_sdevent_add_listener(struct rpc_sdevent *a, int fd) {
        int r;
        if (a->n_listeners >= MAX_LISTENERS) {
                safe_close(fd);
                return -E2BIG;
        }
        r = sd_event_add_io(a->event, &a->listeners[a->n_listeners], fd, EPOLLIN, on_accept, a);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(a->listeners[a->n_listeners], true);
        a->n_listeners++;
        return 0;
}

void rpc_sdevent_stop_listening(struct rpc_sdevent *a) {
        /* Closing our copy is fine; the service manager keeps its own and never loses a
         * connection that waits in the backlog. We never shutdown() it. */
        for (unsigned i = 0; i < a->n_listeners; i++)
                a->listeners[i] = sd_event_source_disable_unref(a->listeners[i]);
        a->n_listeners = 0;
        a->stopped = true;
}
