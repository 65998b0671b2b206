/* webd's part of its life in the daemon skeleton (daemon/daemon.h, on the h2o binding):
 * its options, the HTTP side's set-up and teardown, which passed socket is HTTP, what counts
 * as idle, and the drain after a stop.
 *
 * Idle exit follows §A.1: when neither the HTTP listener nor the RPC server has a
 * connection (keep-alive and SSE connections are connections) and the RPC core has no busy
 * work, the skeleton arms its one-shot timer; when it fires and that is still true, webd
 * stops accepting for good and leaves the loop once its HTTP connections are gone. systemd
 * keeps the listening sockets, so a request arriving afterwards waits in the backlog and
 * starts us again. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon/sqlite.h"
#include "svc-web/webd-admin.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-work.h"
#include "svc-web/webd.h"
#include "svc-web/webd-backend.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd-jobwatch.h"
#include "svc-web/webd-statefeed.h"
#include "svc-web/webd-uploads.h"
#include "svc-web/page-fleet.h"

#define RPC_MAX_OUT_BYTES (8u * 1024u * 1024u)
#define RPC_MAX_CALLS     64u

static struct webd_options arg_opts = {.sse_heartbeat_sec = -1};

/* ---- idle and stop ------------------------------------------------------------------- */

void webd_idle_check(struct webd *w) {
        if (w->daemon)
                daemon_idle_check(w->daemon);
}

/* When the newest rate-limit window ends, or 0 if all have. */
static uint64_t limits_quiet_at(const struct webd *w) {
        uint64_t at = 0, now = now_usec();

        if (w->rl_address)
                at = MAX(at, ratelimit_quiet_at(w->rl_address));
        if (w->rl_username)
                at = MAX(at, ratelimit_quiet_at(w->rl_username));
        return at > now ? at : 0;
}

static void on_limits_quiet(h2o_timeout_entry_t *entry) {
        struct webd *w = H2O_STRUCT_FROM_MEMBER(struct webd, rl_quiet_entry, entry);

        webd_limits_changed(w);
        webd_idle_check(w);
}

/* The windows live in memory, so webd stays up until they have passed; a timer notices. */
void webd_limits_changed(struct webd *w) {
        uint64_t at = limits_quiet_at(w);

        if (!w->rl_quiet_initialized || at == 0 || h2o_timeout_is_linked(&w->rl_quiet_entry))
                return;
        h2o_timeout_link(w->loop, &w->rl_quiet, &w->rl_quiet_entry);
}

static bool webd_is_idle(struct daemon *d, void *userdata) {
        const struct webd *w = userdata;
        return w->http_conns == 0 && limits_quiet_at(w) == 0 &&
               (!w->work || webd_work_pending(w->work) == 0) && webd_uploads_count(w->uploads) == 0;
}

static void on_drain_timeout(h2o_timeout_entry_t *entry) {
        struct webd *w = H2O_STRUCT_FROM_MEMBER(struct webd, drain_entry, entry);

        w->drain_expired = true;
}

/* The skeleton decided to stop (and stopped RPC): stop HTTP the same way. */
static void webd_stop(struct daemon *d, void *userdata) {
        struct webd *w = userdata;

        w->exiting = true;
        /* From here on nothing is accepted: connections that arrive wait in the backlog
         * for the next instance (systemd keeps the listeners). */
        webd_http_stop_listening(w);

        /* HTTP/1 keep-alive ends after the response in progress; event streams end now.
         * Idle keep-alive connections would wait for h2o's request timeout (10 s), so the
         * drain timer bounds the wait. */
        if (w->http_initialized) {
                h2o_context_request_shutdown(&w->ctx);
                sse_hub_close_all(&w->sse);
                /* Idle keep-alive connections wait in h2o's request-read timeout (10 s);
                 * h2o 2.2.5 has no call to close them, but its timeouts expire entries by
                 * registered_at + timeout, so a zero timeout closes them on the next loop
                 * iteration (reqread_on_timeout), the normal way. */
                w->ctx.http1.req_timeout.timeout = 0;
                w->ctx.http2.idle_timeout.timeout = 0;
        }
        if (w->http_conns > 0 && w->drain_initialized)
                h2o_timeout_link(w->loop, &w->drain_timeout, &w->drain_entry);
}

/* The loop runs until the HTTP connections are gone (or the drain time is up). */
static bool webd_drained(struct daemon *d, void *userdata) {
        const struct webd *w = userdata;
        return w->http_conns == 0 || w->drain_expired;
}

/* ---- sockets ------------------------------------------------------------------------- */

/* A socket systemd passed. Names come from FileDescriptorName= (http, rpc); a socket
 * without a known name is classified by its family (AF_UNIX → rpc, INET → http), so
 * `systemd-socket-activate -l PORT -l PATH` works without --fdname too. */
static int webd_socket(struct daemon *d, void *userdata, int fd, const char *name) {
        struct webd *w = userdata;
        bool http;
        int r;

        if (streq(name, "rpc"))
                return 0;
        http = streq(name, "http") || sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) <= 0;
        if (!streq(name, "http"))
                log_notice("Passed socket '%s' has no known name; using it for %s by its family.", name,
                           http ? "HTTP" : "RPC");
        if (!http)
                return 0;
        r = webd_http_add_listener(w, fd);
        return r < 0 ? r : 1;
}

/* --http ADDR:PORT ("127.0.0.1:8080", "[::1]:8080"): binds the HTTP socket ourselves. */
static int bind_tcp(const char *spec) {
        _cleanup_free_ char *host = NULL;
        const char *colon = strrchr(spec, ':');
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
        struct addrinfo *ai = NULL;
        _cleanup_close_ int fd = -1;
        long long port;
        int r, one = 1;

        if (!colon || colon == spec || safe_atoi64(colon + 1, 1, 65535, &port) < 0)
                return log_error_errno(-EINVAL, "--http: '%s' is not ADDR:PORT.", spec);
        if (spec[0] == '[' && colon[-1] == ']')
                host = strndup(spec + 1, (size_t) (colon - spec - 2));
        else
                host = strndup(spec, (size_t) (colon - spec));
        if (!host)
                return log_error_errno(-ENOMEM, "Out of memory.");
        r = getaddrinfo(host, colon + 1, &hints, &ai);
        if (r != 0)
                return log_error_errno(-EINVAL, "--http: '%s' is not a numeric address: %s", spec,
                                       gai_strerror(r));

        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = log_error_errno(-errno, "Failed to create socket: %m");
                goto finish;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                r = log_error_errno(-errno, "Failed to bind '%s': %m", spec);
                goto finish;
        }
        if (listen(fd, DAEMON_LISTEN_BACKLOG) < 0) {
                r = log_error_errno(-errno, "Failed to listen on '%s': %m", spec);
                goto finish;
        }
        r = TAKE_FD(fd);
finish:
        freeaddrinfo(ai);
        return r;
}

/* ---- set-up and teardown ------------------------------------------------------------- */

/* webd's fields in sys.health. */
static void webd_health(struct daemon *d, void *userdata, msgpack_packer *pk) {
        struct webd *w = userdata;

        rpc_pack_kv_uint(pk, "http_connections", w ? w->http_conns : 0);
        rpc_pack_kv_uint(pk, "http_connections_total", w ? w->http_conns_total : 0);
        rpc_pack_kv_uint(pk, "sse_streams", w ? w->sse.n_streams : 0);
        rpc_pack_kv_uint(pk, "sse_events_dropped", w ? w->sse.events_dropped : 0);
        rpc_pack_kv_uint(pk, "sse_refused", w ? w->sse_refused : 0);
        rpc_pack_kv_uint(pk, "csrf_refused", w ? w->csrf_refused : 0);
        rpc_pack_kv_uint(pk, "api_calls", w ? w->api_calls : 0);
        rpc_pack_kv_uint(pk, "api_refused", w ? w->api_refused : 0);
        rpc_pack_kv_uint(pk, "hash_jobs_pending", w && w->work ? webd_work_pending(w->work) : 0);
        rpc_pack_kv_uint(pk, "hash_jobs_refused", w && w->work ? webd_work_refused(w->work) : 0);
        rpc_pack_kv_uint(pk, "dummy_hash_runs", w ? atomic_load(&w->dummy.runs) : 0);
        {
                unsigned jobs = 0, followers = 0;
                unsigned long long calls = 0, shared = 0;
                if (w && w->jobwatch)
                        webd_jobwatch_stats(w->jobwatch, &jobs, &followers);
                if (w)
                        webd_hostlist_stats(w->hostlist, &calls, &shared);
                rpc_pack_kv_uint(pk, "jobs_watched", jobs);
                rpc_pack_kv_uint(pk, "job_followers", followers);
                rpc_pack_kv_uint(pk, "backend_calls", w ? webd_backends_calls(w->backends) : 0);
                rpc_pack_kv_uint(pk, "host_list_calls", calls);
                rpc_pack_kv_uint(pk, "host_list_shared", shared);
        }
}

/* ---- the audit log's retention ------------------------------------------------------- */

#define AUDIT_PRUNE_MS (24u * 3600u * 1000u)

/* One webd per process (webd_setup's static struct), so the timer lives here rather than in
 * struct webd. */
static struct {
        struct webd *w;
        h2o_timeout_t timeout;
        h2o_timeout_entry_t entry;
        bool initialized;
} audit_prune;

/* Deletes the audit entries older than web.audit_retention_days (0: none). A failure is
 * logged and left for the next prune: the entries only wait longer. */
static void audit_prune_now(struct webd *w) {
        unsigned days = w->config->web_audit_retention_days;
        int64_t cutoff;
        int r;

        if (days == 0)
                return;
        /* A clock before the epoch plus the retention gives a cutoff ≤ 0, which web.db
         * ignores (the cutoff never moves back). */
        cutoff = (int64_t) realtime_usec() - (int64_t) days * 86400 * 1000000;
        r = webd_db_audit_prune(w->db, cutoff);
        if (r < 0)
                log_warning_errno(r, "Cannot prune the audit log (%s), ignoring: %m", webd_db_errmsg(w->db));
        else if (r > 0)
                log_info("Pruned %d audit log entr%s older than %u day%s.", r, r == 1 ? "y" : "ies", days,
                         days == 1 ? "" : "s");
}

/* webd usually exits when idle long before a day has passed and prunes again at its next
 * start; the timer is for one that stays up (an open event stream, a busy site). */
static void on_audit_prune(h2o_timeout_entry_t *entry) {
        struct webd *w = audit_prune.w;

        audit_prune_now(w);
        if (!w->exiting)
                h2o_timeout_link(w->loop, &audit_prune.timeout, &audit_prune.entry);
}

static void audit_prune_start(struct webd *w) {
        audit_prune_now(w);
        if (w->config->web_audit_retention_days == 0)
                return;
        audit_prune.w = w;
        h2o_timeout_init(w->loop, &audit_prune.timeout, AUDIT_PRUNE_MS);
        audit_prune.entry = (h2o_timeout_entry_t){.cb = on_audit_prune};
        audit_prune.initialized = true;
        h2o_timeout_link(w->loop, &audit_prune.timeout, &audit_prune.entry);
}

static void audit_prune_stop(void) {
        if (!audit_prune.initialized)
                return;
        if (h2o_timeout_is_linked(&audit_prune.entry))
                h2o_timeout_unlink(&audit_prune.entry);
        h2o_timeout_dispose(audit_prune.w->loop, &audit_prune.timeout);
        audit_prune.initialized = false;
}

/* web.db, the password workers, the dummy hash and the login rate limiters. */
static struct webd_job dummy_warm;
static struct webd *dummy_warm_webd;

static void dummy_warm_run(struct webd_job *j) {
        (void) auth_dummy_ensure(&dummy_warm_webd->dummy);
}

/* A pending job keeps webd from idling: look again now that it is done. */
static void dummy_warm_done(struct webd_job *j) {
        if (!j->cancelled && !dummy_warm_webd->exiting)
                webd_idle_check(dummy_warm_webd);
}

static int webd_ui_setup(struct webd *w) {
        char path[4096], err[512];
        int r;

        r = auth_init();
        if (r < 0)
                return log_error_errno(r, "libsodium cannot be initialised.");
        if ((size_t) snprintf(path, sizeof(path), "%s/" WEB_DB_PATH, w->config->root) >= sizeof(path))
                return log_error_errno(-ENAMETOOLONG, "paths.root is too long.");
        r = db_dir_prepare(path, err, sizeof(err));
        if (r < 0)
                return log_error_errno(r, "%s", err);
        r = webd_db_open(path, &w->db);
        if (r < 0)
                return log_error_errno(r, "Cannot open %s: %m", path);
        audit_prune_start(w);
        r = auth_dummy_init(&w->dummy, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot prepare the dummy password hash: %m");
        r = ratelimit_new(RATELIMIT_MAX_KEYS, RATELIMIT_MAX_ATTEMPTS, RATELIMIT_WINDOW_USEC, &w->rl_address);
        if (r >= 0)
                r = ratelimit_new(RATELIMIT_MAX_KEYS, RATELIMIT_MAX_ATTEMPTS, RATELIMIT_WINDOW_USEC,
                                  &w->rl_username);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        h2o_timeout_init(w->loop, &w->rl_quiet, RATELIMIT_WINDOW_USEC / 1000u + 100u);
        w->rl_quiet_entry.cb = on_limits_quiet;
        w->rl_quiet_initialized = true;
        r = webd_backends_new(w, &w->backends);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the connections to the other services: %m");
        r = webd_hostlist_new(w, &w->hostlist);
        if (r >= 0)
                r = webd_jobwatch_new(w, &w->jobwatch);
        if (r >= 0)
                r = webd_statefeed_new(w, &w->statefeed);
        if (r >= 0)
                r = webd_uploads_new(&w->uploads);
        if (r >= 0)
                page_files_init(w);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        /* Threads last: nothing above may fail with them running. */
        r = webd_work_new(w->loop, WEBD_HASH_THREADS, WEBD_HASH_QUEUE, &w->work);
        if (r < 0)
                return log_error_errno(r, "Cannot start the password workers: %m");
        /* The dummy hash on a worker now, so the loop (and READY=1) need not wait for it. */
        dummy_warm = (struct webd_job){.run = dummy_warm_run, .done = dummy_warm_done};
        dummy_warm_webd = w;
        if (webd_work_submit(w->work, &dummy_warm) < 0)
                log_warning("The dummy password hash will be made at the first failed login.");
        (void) webd_db_sessions_prune(w->db, (int64_t) time(NULL) * 1000000);
        return 0;
}

static void webd_ui_done(struct webd *w) {
        w->work = webd_work_free(w->work);
        webd_jobwatch_free(w->jobwatch);
        w->jobwatch = NULL;
        webd_hostlist_free(w->hostlist);
        w->hostlist = NULL;
        page_files_done(w);
        w->uploads = webd_uploads_free(w->uploads);
        webd_statefeed_free(w->statefeed);
        w->statefeed = NULL;
        webd_backends_free(w->backends);
        w->backends = NULL;
        if (w->rl_quiet_initialized) {
                if (h2o_timeout_is_linked(&w->rl_quiet_entry))
                        h2o_timeout_unlink(&w->rl_quiet_entry);
                h2o_timeout_dispose(w->loop, &w->rl_quiet);
                w->rl_quiet_initialized = false;
        }
        w->rl_address = ratelimit_free(w->rl_address);
        w->rl_username = ratelimit_free(w->rl_username);
        audit_prune_stop();
        w->db = webd_db_close(w->db);
}

static int webd_setup(struct daemon *d, void **ret_userdata) {
        static struct webd webd;
        struct webd *w = &webd;
        int fd, r;

        *w = (struct webd){
                .opts = arg_opts, .daemon = d, .config = daemon_config(d), .loop = daemon_h2o_loop(d)};
        w->web_dir = strdup(w->opts.web_dir ? w->opts.web_dir : LEFT4ME_WEBDIR);
        if (!w->web_dir)
                return log_error_errno(-ENOMEM, "Out of memory.");
        h2o_timeout_init(w->loop, &w->drain_timeout, WEBD_DRAIN_MS);
        w->drain_entry.cb = on_drain_timeout;
        w->drain_initialized = true;
        /* Returned before the first failure can happen, so teardown frees what we made. */
        *ret_userdata = w;

        r = webd_ui_setup(w);
        if (r < 0)
                return r;
        r = webd_http_init(w);
        if (r < 0)
                return r;
        if (w->opts.http_addr) {
                if (daemon_activated(d)) {
                        log_warning("Sockets were passed by systemd; ignoring --http.");
                        return 0;
                }
                fd = bind_tcp(w->opts.http_addr);
                if (fd < 0)
                        return fd;
                r = daemon_add_socket(d, fd, "http");
                if (r < 0)
                        return r;
                log_info("Listening for HTTP on '%s'.", w->opts.http_addr);
        }
        return 0;
}

static void webd_ready(struct daemon *d, void *userdata) {
        struct webd *w = userdata;

        if (daemon_activated(d) && w->n_http_listeners == 0)
                log_warning("No HTTP socket was passed; serving only the RPC socket.");
}

/* After the loop; the skeleton has closed the RPC side already and frees the loop after. */
static void webd_teardown(struct daemon *d, void *userdata) {
        struct webd *w = userdata;

        w->exiting = true;
        if (w->drain_initialized) {
                if (h2o_timeout_is_linked(&w->drain_entry))
                        h2o_timeout_unlink(&w->drain_entry);
                h2o_timeout_dispose(w->loop, &w->drain_timeout);
                w->drain_initialized = false;
        }
        /* Let h2o finish what it deferred (zero-delay timers of finished requests, socket
         * disposal) before its context goes away. */
        for (int i = 0; i < 8; i++)
                (void) h2o_evloop_run(w->loop, 0);
        if (w->http_conns > 0) {
                /* h2o 2.2.5 cannot close a connection from outside, and disposing the
                 * context under a live one aborts: leave them to exit(). */
                log_notice("%u HTTP connection(s) still open at exit, closing them hard.", w->http_conns);
                webd_http_stop_listening(w);
                daemon_h2o_keep_loop(d);
        } else
                webd_http_done(w);
        webd_ui_done(w);
        free(w->web_dir);
        w->web_dir = NULL;
        w->daemon = NULL;
}

/* ---- options ------------------------------------------------------------------------- */

enum { ARG_HTTP = 0x100, ARG_WEB_DIR, ARG_SSE_HEARTBEAT };

static const struct option webd_options[] = {
        {"http", required_argument, NULL, ARG_HTTP},
        {"web-dir", required_argument, NULL, ARG_WEB_DIR},
        {"sse-heartbeat", required_argument, NULL, ARG_SSE_HEARTBEAT},
        {},
};

static int webd_option(int c, const char *arg) {
        switch (c) {
        case ARG_HTTP:
                arg_opts.http_addr = arg;
                return 0;
        case ARG_WEB_DIR:
                arg_opts.web_dir = arg;
                return 0;
        case ARG_SSE_HEARTBEAT:
                if (safe_atoi64(arg, 1, 3600, &arg_opts.sse_heartbeat_sec) < 0)
                        return log_error_errno(-EINVAL, "--sse-heartbeat: '%s' is not 1..3600 seconds.",
                                               arg);
                return 0;
        }
        return -EINVAL;
}

_Static_assert(SSE_DEFAULT_HEARTBEAT_MS == 15000u, "--help below says 15");

static const struct daemon_def webd_def = {
        .name = WEBD_NAME,
        .service = "web",
        .description = "The left4me web service: HTTP (the web UI, GET /health) and the admin RPC socket.\n"
                       "Normally started by systemd with two sockets named 'http' and 'rpc'\n"
                       "(left4me-web.socket, left4me-web-rpc.socket); exits when idle.",
        .loop = &daemon_loop_h2o,
        .methods = webd_methods,
        /* .n_methods: webd-admin.c's table size, set in webd_main */
        .max_out_bytes = RPC_MAX_OUT_BYTES,
        .max_calls = RPC_MAX_CALLS,
        .options = webd_options,
        .option = webd_option,
        .options_help =
                "      --http ADDR:PORT  without systemd: bind HTTP at ADDR:PORT (e.g. 127.0.0.1:8080)\n"
                "      --web-dir DIR     static files served under /static/ (default: " LEFT4ME_WEBDIR ")\n"
                "      --sse-heartbeat SEC  seconds between event-stream heartbeats (default: 15)\n",
        .listen_hint = " and/or --http ADDR:PORT",
        .setup = webd_setup,
        .socket = webd_socket,
        .ready = webd_ready,
        .is_idle = webd_is_idle,
        .stop = webd_stop,
        .drained = webd_drained,
        .teardown = webd_teardown,
        .health = webd_health,
};

int webd_main(int argc, char **argv) {
        struct daemon_def def = webd_def;

        def.n_methods = webd_n_methods;
        return daemon_main(argc, argv, &def);
}
