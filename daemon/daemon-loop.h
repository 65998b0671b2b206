/* Between the skeleton (daemon.c) and its loop bindings (daemon-sdevent.c, daemon-h2o.c);
 * daemons never include this. A binding owns the loop, the RPC transport on it, the watch on
 * the signalfd and the idle timer; the skeleton decides what happens and when. */
#pragma once

#include "daemon/daemon.h"

struct daemon_loop {
        /* Creates the loop and the RPC transport for d->server; d->loop_data is the binding's. */
        int (*init)(struct daemon *d);
        /* Serves RPC on a listening socket; takes fd (closed on failure too). */
        int (*add_rpc_listener)(struct daemon *d, int fd);
        /* Watches the signalfd (takes it); calls daemon_on_signal() for each signal read. */
        int (*watch_signals)(struct daemon *d, int sfd);
        /* Arms the one-shot idle timer of d->idle_usec if it is not armed, or disarms it; it
         * calls daemon_on_idle_timer() when it fires. */
        void (*set_idle_timer)(struct daemon *d, bool armed);
        /* Runs one iteration of the loop (waiting for something to happen). */
        int (*run_once)(struct daemon *d);
        /* Stops accepting RPC connections, for good. */
        void (*stop_listening)(struct daemon *d);
        /* After the loop: closes the RPC connections and listeners, the signal watch, the
         * timer. The loop itself stays until free(). */
        void (*shutdown)(struct daemon *d);
        void (*free)(struct daemon *d);
};

struct daemon {
        const struct daemon_def *def;
        const struct daemon_loop *loop;
        void *loop_data;
        struct l4m_config config;
        struct rpc_server *server;
        void *userdata;
        uint64_t idle_usec; /* 0 = never */
        unsigned long long start_usec;
        unsigned n_listeners;
        int n_passed; /* sockets from systemd */
        bool ready, stopping;
};

void daemon_on_signal(struct daemon *d, int signo);
void daemon_on_idle_timer(struct daemon *d);
