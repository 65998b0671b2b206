/* The skeleton's h2o-evloop binding (webd): the RPC transport of rpc-h2o.c, the signalfd
 * read as an h2o socket, and an h2o timeout for idle exit. */
#include <sys/signalfd.h>

#include "base/log.h"
#include "daemon/daemon-h2o.h"
#include "daemon/daemon-loop.h"
#include "daemon/rpc-h2o.h"

struct h2o_binding {
        struct daemon *daemon;
        h2o_evloop_t *loop;
        struct rpc_h2o *rpc;
        h2o_socket_t *signals;
        h2o_timeout_t idle_timeout;
        h2o_timeout_entry_t idle_entry;
        bool idle_initialized, keep_loop;
};

static struct h2o_binding *B(struct daemon *d) {
        return d->loop_data;
}

h2o_evloop_t *daemon_h2o_loop(struct daemon *d) {
        return d->loop == &daemon_loop_h2o && d->loop_data ? B(d)->loop : NULL;
}

void daemon_h2o_keep_loop(struct daemon *d) {
        B(d)->keep_loop = true;
}

static void on_idle_timeout(h2o_timeout_entry_t *entry) {
        struct h2o_binding *b = H2O_STRUCT_FROM_MEMBER(struct h2o_binding, idle_entry, entry);

        daemon_on_idle_timer(b->daemon);
}

static int h2o_binding_init(struct daemon *d) {
        struct h2o_binding *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        d->loop_data = b;
        b->daemon = d;
        b->loop = h2o_evloop_create();
        r = rpc_h2o_new((h2o_loop_t *) b->loop, d->server, &b->rpc);
        if (r < 0)
                return r;
        /* h2o's timeouts have one fixed length each; 1 ms keeps a disabled one valid. */
        h2o_timeout_init(b->loop, &b->idle_timeout, d->idle_usec ? d->idle_usec / 1000 : 1);
        b->idle_entry.cb = on_idle_timeout;
        b->idle_initialized = true;
        return 0;
}

static int h2o_binding_add_rpc_listener(struct daemon *d, int fd) {
        return rpc_h2o_add_listener(B(d)->rpc, fd);
}

static void on_signals(h2o_socket_t *sock, const char *err) {
        struct daemon *d = sock->data;

        if (err) {
                log_error("Signal fd failed (%s), stopping.", err);
                daemon_stop(d, "signal fd failed");
                return;
        }
        while (sock->input->size >= sizeof(struct signalfd_siginfo)) {
                struct signalfd_siginfo si;

                memcpy(&si, sock->input->bytes, sizeof(si));
                h2o_buffer_consume(&sock->input, sizeof(si));
                daemon_on_signal(d, (int) si.ssi_signo);
        }
}

static int h2o_binding_watch_signals(struct daemon *d, int sfd) {
        struct h2o_binding *b = B(d);

        b->signals = h2o_evloop_socket_create(b->loop, sfd, 0);
        if (!b->signals) {
                safe_close(sfd);
                return log_error_errno(-ENOMEM, "Failed to watch the signalfd: %m");
        }
        b->signals->data = d;
        h2o_socket_read_start(b->signals, on_signals);
        return 0;
}

static void h2o_binding_set_idle_timer(struct daemon *d, bool armed) {
        struct h2o_binding *b = B(d);
        bool linked;

        if (!b->idle_initialized)
                return;
        linked = h2o_timeout_is_linked(&b->idle_entry);
        if (armed && !linked)
                h2o_timeout_link(b->loop, &b->idle_timeout, &b->idle_entry);
        else if (!armed && linked)
                h2o_timeout_unlink(&b->idle_entry);
}

static int h2o_binding_run_once(struct daemon *d) {
        if (h2o_evloop_run(B(d)->loop, INT32_MAX) != 0 && errno != EINTR)
                return -errno;
        return 0;
}

static void h2o_binding_stop_listening(struct daemon *d) {
        rpc_h2o_stop_listening(B(d)->rpc);
}

static void h2o_binding_shutdown(struct daemon *d) {
        struct h2o_binding *b = B(d);

        if (b->idle_initialized) {
                h2o_binding_set_idle_timer(d, false);
                h2o_timeout_dispose(b->loop, &b->idle_timeout);
                b->idle_initialized = false;
        }
        b->rpc = rpc_h2o_free(b->rpc);
        if (b->signals) {
                h2o_socket_close(b->signals);
                b->signals = NULL;
        }
}

static void h2o_binding_free(struct daemon *d) {
        struct h2o_binding *b = B(d);

        h2o_binding_shutdown(d);
        if (b->loop) {
                /* Lets h2o free the sockets closed above (disposal is deferred to the loop). */
                (void) h2o_evloop_run(b->loop, 0);
                if (!b->keep_loop)
                        h2o_evloop_destroy(b->loop);
        }
        free(b);
        d->loop_data = NULL;
}

const struct daemon_loop daemon_loop_h2o = {
        .init = h2o_binding_init,
        .add_rpc_listener = h2o_binding_add_rpc_listener,
        .watch_signals = h2o_binding_watch_signals,
        .set_idle_timer = h2o_binding_set_idle_timer,
        .run_once = h2o_binding_run_once,
        .stop_listening = h2o_binding_stop_listening,
        .shutdown = h2o_binding_shutdown,
        .free = h2o_binding_free,
};
