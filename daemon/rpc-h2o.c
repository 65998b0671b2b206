/* See rpc-h2o.h.
 *
 * Writes: h2o's evloop keeps pointers to the iovecs it was given until the write
 * completes, while the core may append to (and so move) its output buffer at any time.
 * So each write sends a private copy of the first n output bytes, and only when h2o says
 * they are out does the adapter call rpc_conn_consumed(n). The core therefore counts
 * in-flight bytes as pending, and its per-connection output cap covers them.
 *
 * Freeing: a connection is only ever destroyed from an h2o callback of its own socket
 * (read, write completion) or from rpc_h2o_free, never from want_write, which the core
 * may call while it is in the middle of something. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon/rpc-h2o.h"

#define ACCEPT_RETRY_MS 100 /* after EMFILE/ENFILE: wait for an fd to be freed */
#define MAX_LISTENERS   4
/* h2o's timeouts have one fixed length per list, while a connection's deadline moves: one
 * tick a second checks every connection's deadline (at most limits.max_connections). */
#define DEADLINE_TICK_MS 1000

struct rpc_h2o_conn {
        struct rpc_h2o *owner;
        h2o_linklist_t link;
        h2o_socket_t *sock;
        struct rpc_conn *conn;
        char *wbuf; /* the bytes of the write in flight */
        size_t wlen, walloc;
        bool writing; /* an h2o_socket_write is in flight */
        bool eof;     /* the peer closed its writing side */
        bool closing; /* close once the output is flushed */
        bool destroying;
};

struct rpc_h2o {
        h2o_loop_t *loop;
        struct rpc_server *server;
        h2o_socket_t *listeners[MAX_LISTENERS];
        size_t n_listeners;
        h2o_linklist_t conns;
        unsigned n_conns;
        bool listening;
        h2o_timeout_t accept_retry;
        h2o_timeout_entry_t accept_retry_entry;
        h2o_timeout_t tick;
        h2o_timeout_entry_t tick_entry;
};

static uint64_t now_usec_of(struct rpc_h2o *a) {
        return h2o_now(a->loop) * 1000ULL;
}

/* Notes the connection's state for its deadline (idle or partial since when). */
static void conn_note(struct rpc_h2o_conn *c) {
        if (c->conn && !c->destroying)
                (void) rpc_conn_deadline(c->conn, now_usec_of(c->owner));
}

static void tick_arm(struct rpc_h2o *a) {
        if (a->n_conns > 0 && !h2o_timeout_is_linked(&a->tick_entry))
                h2o_timeout_link(a->loop, &a->tick, &a->tick_entry);
}

static void conn_flush(struct rpc_h2o_conn *c);

static void conn_destroy(struct rpc_h2o_conn *c) {
        if (c->destroying)
                return;
        c->destroying = true;
        h2o_linklist_unlink(&c->link);
        c->owner->n_conns--;
        /* Abandon hooks of pending calls may reply: want_write ignores a destroying conn. */
        c->conn = rpc_conn_free(c->conn);
        h2o_socket_close(c->sock);
        free(c->wbuf);
        free(c);
}

/* Whether the connection has nothing more to do: the core wants it closed, or the peer
 * has hung up and every call it made has been answered. */
static bool conn_finished(struct rpc_h2o_conn *c) {
        return c->closing || rpc_conn_closing(c->conn) || (c->eof && rpc_conn_pending_calls(c->conn) == 0);
}

static void on_write_done(h2o_socket_t *sock, const char *err) {
        struct rpc_h2o_conn *c = sock->data;

        c->writing = false;
        if (err) {
                log_debug("rpc connection: write failed (%s), closing", err);
                conn_destroy(c);
                return;
        }
        rpc_conn_consumed(c->conn, c->wlen);
        c->wlen = 0;
        conn_flush(c);
        if (!c->writing && conn_finished(c)) {
                conn_destroy(c);
                return;
        }
        conn_note(c);
}

/* Starts writing the core's pending output unless a write is in flight. Never destroys. */
static void conn_flush(struct rpc_h2o_conn *c) {
        const void *out;
        size_t n;
        h2o_iovec_t vec;

        if (c->writing || c->destroying)
                return;
        out = rpc_conn_output(c->conn, &n);
        if (n == 0)
                return;
        if (n > c->walloc) {
                char *p = realloc(c->wbuf, n);
                if (!p) {
                        /* Try again on the next event; the core's cap bounds n. */
                        log_warning("rpc connection: out of memory for %zu output bytes, dropping it", n);
                        c->closing = true;
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

static void on_want_write(struct rpc_conn *conn, void *transport) {
        struct rpc_h2o_conn *c = transport;

        if (!c || c->destroying)
                return;
        conn_flush(c);
}

static const struct rpc_conn_ops conn_ops = {
        .want_write = on_want_write,
};

static void on_read(h2o_socket_t *sock, const char *err) {
        struct rpc_h2o_conn *c = sock->data;
        int r;

        if (err) {
                if (err != h2o_socket_error_closed) {
                        log_debug("rpc connection: read failed (%s), closing", err);
                        conn_destroy(c);
                        return;
                }
                /* Orderly EOF: answer what was asked, then close. */
                c->eof = true;
                h2o_socket_read_stop(sock);
                rpc_conn_eof(c->conn);
                conn_flush(c);
                if (!c->writing && conn_finished(c))
                        conn_destroy(c);
                return;
        }

        if (sock->input->size > 0) {
                r = rpc_conn_feed(c->conn, sock->input->bytes, sock->input->size);
                h2o_buffer_consume(&sock->input, sock->input->size);
                if (r == -ECONNRESET || rpc_conn_broken(c->conn)) {
                        log_debug("rpc connection: over its output cap, dropping it");
                        conn_destroy(c);
                        return;
                }
                if (r < 0) {
                        /* A framing error: the core queued an error notification. Read no
                         * more; close once it is written. */
                        c->closing = true;
                        h2o_socket_read_stop(sock);
                }
        }
        conn_flush(c);
        if (!c->writing && conn_finished(c)) {
                conn_destroy(c);
                return;
        }
        conn_note(c);
}

static void on_tick(h2o_timeout_entry_t *entry) {
        struct rpc_h2o *a = H2O_STRUCT_FROM_MEMBER(struct rpc_h2o, tick_entry, entry);
        uint64_t now = now_usec_of(a);
        h2o_linklist_t *l, *next;

        for (l = a->conns.next; l != &a->conns; l = next) {
                struct rpc_h2o_conn *c = H2O_STRUCT_FROM_MEMBER(struct rpc_h2o_conn, link, l);

                next = l->next;
                if (!c->conn || rpc_conn_deadline(c->conn, now) > now)
                        continue;
                log_debug("rpc connection: idle or stalled past its deadline, closing");
                rpc_conn_expire(c->conn);
                c->closing = true;
                h2o_socket_read_stop(c->sock);
                conn_flush(c);
                if (!c->writing)
                        conn_destroy(c);
        }
        tick_arm(a);
}

static void listeners_set_reading(struct rpc_h2o *a, bool on);

static void on_accept(h2o_socket_t *listener, const char *err) {
        struct rpc_h2o *a = listener->data;
        struct rpc_h2o_conn *c;
        struct rpc_peer peer;
        h2o_socket_t *sock;
        int r;

        if (err || !a->listening)
                return;

        /* Drain the backlog a little at a time so one burst cannot starve the loop. */
        for (unsigned i = 0; i < 16; i++) {
                sock = h2o_evloop_socket_accept(listener);
                if (!sock) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                log_warning_errno(-errno, "rpc: cannot accept: %m; pausing for %d ms",
                                                  ACCEPT_RETRY_MS);
                                listeners_set_reading(a, false);
                                h2o_timeout_link(a->loop, &a->accept_retry, &a->accept_retry_entry);
                        }
                        return;
                }

                r = rpc_peer_from_socket(h2o_socket_get_fd(sock), &peer);
                if (r < 0) {
                        log_warning_errno(r, "rpc: cannot read peer credentials, refusing connection: %m");
                        h2o_socket_close(sock);
                        continue;
                }

                c = calloc(1, sizeof(*c));
                if (!c) {
                        log_warning("rpc: out of memory, refusing connection");
                        h2o_socket_close(sock);
                        continue;
                }
                c->owner = a;
                c->sock = sock;
                sock->data = c;
                h2o_linklist_insert(&a->conns, &c->link);
                a->n_conns++;

                r = rpc_conn_new(a->server, &peer, &conn_ops, c, &c->conn);
                if (r == -EMFILE && c->conn) {
                        /* Over the connection limit: the conn holds one error notification.
                         * Write it, then close; read nothing. */
                        log_notice("rpc: connection limit reached, refusing pid %d uid %d", (int) peer.pid,
                                   (int) peer.uid);
                        c->closing = true;
                        conn_flush(c);
                        if (!c->writing)
                                conn_destroy(c);
                        continue;
                }
                if (r < 0) {
                        log_warning_errno(r, "rpc: cannot set up connection: %m");
                        c->conn = NULL;
                        conn_destroy(c);
                        continue;
                }
                log_debug("rpc: connection from pid %d uid %d", (int) peer.pid, (int) peer.uid);
                h2o_socket_read_start(sock, on_read);
                conn_note(c);
                tick_arm(a);
        }
}

static void listeners_set_reading(struct rpc_h2o *a, bool on) {
        for (size_t i = 0; i < a->n_listeners; i++) {
                if (on)
                        h2o_socket_read_start(a->listeners[i], on_accept);
                else
                        h2o_socket_read_stop(a->listeners[i]);
        }
}

static void on_accept_retry(h2o_timeout_entry_t *entry) {
        struct rpc_h2o *a = H2O_STRUCT_FROM_MEMBER(struct rpc_h2o, accept_retry_entry, entry);

        if (a->listening)
                listeners_set_reading(a, true);
}

int rpc_h2o_new(h2o_loop_t *loop, struct rpc_server *server, struct rpc_h2o **ret) {
        struct rpc_h2o *a = calloc(1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        a->loop = loop;
        a->server = server;
        a->listening = true;
        h2o_linklist_init_anchor(&a->conns);
        h2o_timeout_init(loop, &a->accept_retry, ACCEPT_RETRY_MS);
        a->accept_retry_entry.cb = on_accept_retry;
        h2o_timeout_init(loop, &a->tick, DEADLINE_TICK_MS);
        a->tick_entry.cb = on_tick;
        *ret = a;
        return 0;
}

int rpc_h2o_add_listener(struct rpc_h2o *a, int fd) {
        h2o_socket_t *sock;

        if (a->n_listeners >= MAX_LISTENERS) {
                safe_close(fd);
                return -E2BIG;
        }
        sock = h2o_evloop_socket_create(a->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        if (!sock) {
                safe_close(fd);
                return -ENOMEM;
        }
        sock->data = a;
        a->listeners[a->n_listeners++] = sock;
        if (a->listening)
                h2o_socket_read_start(sock, on_accept);
        return 0;
}

void rpc_h2o_stop_listening(struct rpc_h2o *a) {
        a->listening = false;
        listeners_set_reading(a, false);
        if (h2o_timeout_is_linked(&a->accept_retry_entry))
                h2o_timeout_unlink(&a->accept_retry_entry);
}

struct rpc_h2o *rpc_h2o_free(struct rpc_h2o *a) {
        if (!a)
                return NULL;
        rpc_h2o_stop_listening(a);
        while (!h2o_linklist_is_empty(&a->conns))
                conn_destroy(H2O_STRUCT_FROM_MEMBER(struct rpc_h2o_conn, link, a->conns.next));
        /* Closes our copies of the listening fds; systemd keeps its own (no shutdown()). */
        for (size_t i = 0; i < a->n_listeners; i++)
                h2o_socket_close(a->listeners[i]);
        if (h2o_timeout_is_linked(&a->tick_entry))
                h2o_timeout_unlink(&a->tick_entry);
        h2o_timeout_dispose(a->loop, &a->tick);
        h2o_timeout_dispose(a->loop, &a->accept_retry);
        free(a);
        return NULL;
}
