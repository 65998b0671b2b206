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
#include "daemon/daemon-h2o.h"
#include "proto/server.h"
#include "svc-web/webd-auth.h"
#include "svc-web/webd-sse.h"

#define WEBD_NAME     "left4me-webd"
#define WEBD_DRAIN_MS 3000u

/* Event streams hold a connection each: at most half of the connections, web.sse_per_session
 * (4) per session and web.sse_per_address (8) per client address, so ordinary requests always
 * find one. */
/* Password hashing: worker threads, and jobs that may wait for one (beyond: 503). */
#define WEBD_HASH_THREADS 2u
#define WEBD_HASH_QUEUE   32u

struct webd_db;
struct webd_work;
struct webd_backend;
struct webd_hostlist;
struct webd_jobwatch;
struct webd_statefeed;
struct ratelimit;

/* webd's own command-line settings (the skeleton parses --config, --listen, --idle-exit). */
struct webd_options {
        const char *http_addr;       /* --http ADDR:PORT (development) */
        const char *web_dir;         /* --web-dir: static files; NULL = the installed dir */
        long long sse_heartbeat_sec; /* --sse-heartbeat; < 0 = default */
};

struct webd {
        struct webd_options opts;
        struct daemon *daemon;
        const struct l4m_config *config;
        char *web_dir;

        h2o_evloop_t *loop; /* the skeleton's (daemon_h2o_loop) */
        bool exiting;

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
        unsigned sse_max_streams;
        unsigned long long sse_refused, csrf_refused;
        unsigned long long api_calls, api_refused; /* API requests let in, and refused (401, 403) */
        bool tls;                                  /* HTTPS terminated here */

        /* the web UI (webd-request.c, page-*.c) */
        struct webd_db *db;
        struct webd_work *work;
        struct webd_backend *backends;    /* calls to hostd, jobd, logd (webd-backend.h) */
        struct webd_hostlist *hostlist;   /* instance.list, cached and shared (webd-hostlist.h) */
        struct webd_jobwatch *jobwatch;   /* one jobs.watch per followed job (webd-jobwatch.h) */
        struct webd_statefeed *statefeed; /* server states pushed to pages (webd-statefeed.h) */
        struct webd_uploads *uploads;     /* uploads in progress (webd-uploads.h, page-files.c) */
        h2o_timeout_t uploads_sweep;
        h2o_timeout_entry_t uploads_entry; /* drops quiet uploads while there are any */
        bool uploads_initialized;
        struct auth_dummy dummy;
        struct ratelimit *rl_address, *rl_username;
        h2o_timeout_t rl_quiet;
        h2o_timeout_entry_t rl_quiet_entry; /* re-checks idleness once the windows have passed */
        bool rl_quiet_initialized;

        /* stop (webd.c) */
        h2o_timeout_t drain_timeout; /* after a stop: how long open HTTP connections may finish */
        h2o_timeout_entry_t drain_entry;
        bool drain_initialized, drain_expired;
};

/* webd.c */
int webd_main(int argc, char **argv);
/* Re-evaluates idleness (HTTP connections here, RPC in the skeleton) and arms or disarms
 * the idle-exit timer. Called whenever an HTTP connection opens or closes. */
void webd_idle_check(struct webd *w);
/* After a rate-limit attempt: keeps webd from idle-exiting until the windows have passed. */
void webd_limits_changed(struct webd *w);
