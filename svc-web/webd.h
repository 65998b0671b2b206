/* left4me-webd: the web service. One struct webd owns the h2o loop and everything in it:
 * the HTTP side (webd-http.c: routes, JSON, static files, SSE), the admin RPC side
 * (webd-rpc.c over proto/server.h), signals and the idle-exit timer (webd.c).
 *
 * Unlike hostd/jobd/logd it does not run daemon/daemon.c's sd-event loop: h2o brings its
 * own evloop, and everything (RPC sockets, signals, timers) is driven from it. */
#pragma once

#include <h2o.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "proto/server.h"
#include "svc-web/webd-sse.h"

#define WEBD_NAME     "left4me-webd"
#define WEBD_DRAIN_MS 3000u

/* Command-line settings (arg_* in main.c end up here). */
struct webd_options {
        const char *config_path;     /* NULL: $LEFT4ME_CONFIG or the default */
        const char *listen_path;     /* --listen: bind the RPC socket here (development) */
        const char *http_addr;       /* --http ADDR:PORT (development) */
        const char *web_dir;         /* --web-dir: static files; NULL = the installed dir */
        long long idle_exit_sec;     /* --idle-exit; < 0 = from the config */
        long long sse_heartbeat_sec; /* --sse-heartbeat; < 0 = default */
};

struct webd {
        struct webd_options opts;
        struct l4m_config config;
        char *web_dir;
        unsigned long long start_usec;

        h2o_evloop_t *loop;
        bool exiting;
        int exit_status; /* 0, or a negative errno that made us stop */

        /* HTTP (webd-http.c) */
        h2o_globalconf_t globalconf;
        h2o_context_t ctx;
        h2o_accept_ctx_t accept_ctx;
        bool http_initialized;
        h2o_socket_t *http_listeners[4];
        size_t n_http_listeners;
        bool http_accepting; /* listeners are read-started */
        unsigned http_conns; /* open HTTP connections (keep-alive and SSE included) */
        unsigned http_conns_max;
        unsigned long long http_conns_total;
        h2o_timeout_t http_accept_retry;
        h2o_timeout_entry_t http_accept_retry_entry;
        struct sse_hub sse;

        /* RPC (webd-rpc.c) */
        struct rpc_server *server;
        struct webd_rpc *rpc;
        struct sys_info sys;

        /* signals, idle exit (webd.c) */
        h2o_socket_t *signal_sock;
        uint64_t idle_exit_ms; /* 0 = never */
        h2o_timeout_t idle_timeout;
        h2o_timeout_entry_t idle_entry;
        bool idle_timeout_initialized;
        h2o_timeout_t drain_timeout; /* after a stop: how long open HTTP connections may finish */
        h2o_timeout_entry_t drain_entry;
        bool drain_expired;
        bool bound_listen_path; /* --listen: we created the socket file, remove it at exit */
};

/* webd.c */
int webd_run(const struct webd_options *opts);
/* Re-evaluates idleness (both listeners' connections, RPC busy work) and arms or disarms
 * the idle-exit timer. Called whenever a connection opens or closes. */
void webd_idle_check(struct webd *w);
/* Stops accepting on every listener, for good, ends event streams and asks open HTTP
 * connections to finish; the loop is left once they have closed or after WEBD_DRAIN_MS. */
void webd_stop(struct webd *w, const char *why);
