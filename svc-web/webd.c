/* webd's life: config, sockets (from systemd or, for development, bound by us), the RPC
 * server, signals and idle exit, all driven by h2o's evloop.
 *
 * Startup follows style.md rule 21: config → sockets → types checked → registered in the
 * loop → READY=1 → loop → STOPPING=1 → dispose. Idle exit follows §A.1: when neither the
 * HTTP listener nor the RPC server has a connection (keep-alive and SSE connections are
 * connections) and the RPC core has no busy work, a one-shot timer is armed; when it
 * fires and that is still true, webd stops accepting for good and leaves the loop.
 * systemd keeps the listening sockets, so a request arriving afterwards waits in the
 * backlog and starts us again. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-rpc.h"
#include "svc-web/webd.h"

#define RPC_MAX_OUT_BYTES (8u * 1024u * 1024u)
#define RPC_MAX_CALLS     64u

/* webd's own RPC methods on web.sock: none yet (the admin commands come with the web
 * UI); sys.version and sys.health come from daemon/daemon.c's shared table. */
static const struct rpc_method webd_methods[] = {};

/* ---- idle exit ----------------------------------------------------------------------- */

static bool webd_is_idle(const struct webd *w) {
        return w->http_conns == 0 && (!w->server || rpc_server_is_idle(w->server));
}

void webd_idle_check(struct webd *w) {
        bool linked;

        if (!w->idle_timeout_initialized || w->idle_exit_ms == 0)
                return;
        linked = h2o_timeout_is_linked(&w->idle_entry);
        if (!w->exiting && webd_is_idle(w)) {
                if (!linked)
                        h2o_timeout_link(w->loop, &w->idle_timeout, &w->idle_entry);
        } else if (linked)
                h2o_timeout_unlink(&w->idle_entry);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry) {
        struct webd *w = H2O_STRUCT_FROM_MEMBER(struct webd, idle_entry, entry);

        /* Re-check: the timer and a new connection can race within one loop iteration. */
        if (!webd_is_idle(w)) {
                log_debug("Idle timer fired even though there are connections, ignoring.");
                return;
        }
        log_info("No connections for %llu s, exiting.", (unsigned long long) (w->idle_exit_ms / 1000));
        webd_stop(w, "idle");
}

static void on_rpc_idle_changed(struct rpc_server *s, bool idle, void *userdata) {
        webd_idle_check(userdata);
}

void webd_stop(struct webd *w, const char *why) {
        if (w->exiting)
                return;
        w->exiting = true;
        /* From here on nothing is accepted: connections that arrive wait in the backlog
         * for the next instance (systemd keeps the listeners). */
        webd_http_stop_listening(w);
        if (w->rpc)
                webd_rpc_stop_listening(w->rpc);
        if (w->server)
                rpc_server_set_stopping(w->server);
        if (h2o_timeout_is_linked(&w->idle_entry))
                h2o_timeout_unlink(&w->idle_entry);
        (void) sd_notifyf(0, "STOPPING=1\nSTATUS=Stopping (%s).", why);

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
        if (w->http_conns > 0 && w->idle_timeout_initialized)
                h2o_timeout_link(w->loop, &w->drain_timeout, &w->drain_entry);
}

static void on_drain_timeout(h2o_timeout_entry_t *entry) {
        struct webd *w = H2O_STRUCT_FROM_MEMBER(struct webd, drain_entry, entry);

        w->drain_expired = true;
}

/* The loop runs until a stop was decided and the HTTP connections are gone (or the drain
 * time is up). */
static bool webd_done(const struct webd *w) {
        return w->exiting && (w->http_conns == 0 || w->drain_expired);
}

/* ---- signals ------------------------------------------------------------------------- */

/* SIGTERM and SIGINT arrive on a signalfd that h2o's loop reads like any socket. */
static void on_signal(h2o_socket_t *sock, const char *err) {
        struct webd *w = sock->data;

        if (err) {
                log_error("Signal fd failed (%s), stopping.", err);
                webd_stop(w, "signal fd failed");
                return;
        }
        while (sock->input->size >= sizeof(struct signalfd_siginfo)) {
                struct signalfd_siginfo si;

                memcpy(&si, sock->input->bytes, sizeof(si));
                h2o_buffer_consume(&sock->input, sizeof(si));
                log_info("Received %s, stopping.", strsignal((int) si.ssi_signo));
                webd_stop(w, "signal");
        }
}

static int setup_signals(struct webd *w) {
        sigset_t mask;
        int fd;

        /* h2o writes to sockets with writev(): a vanished client must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");
        fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create signalfd: %m");
        w->signal_sock = h2o_evloop_socket_create(w->loop, fd, 0);
        w->signal_sock->data = w;
        h2o_socket_read_start(w->signal_sock, on_signal);
        return 0;
}

/* ---- sockets ------------------------------------------------------------------------- */

enum listener_kind { LISTENER_HTTP, LISTENER_RPC };

static int add_listener(struct webd *w, int fd, enum listener_kind kind) {
        if (kind == LISTENER_HTTP)
                return webd_http_add_listener(w, fd);
        return webd_rpc_add_listener(w->rpc, fd);
}

/* The sockets systemd passed. Names come from FileDescriptorName= (http, rpc); a socket
 * without a known name is classified by its family (AF_UNIX → rpc, INET → http), so
 * `systemd-socket-activate -l PORT -l PATH` works without --fdname too. Returns the number
 * of sockets taken. */
static int take_passed_sockets(struct webd *w) {
        _cleanup_strv_free_ char **names = NULL;
        int n, r, taken = 0;

        n = sd_listen_fds_with_names(1, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to get sockets from systemd: %m");

        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "unknown";
                enum listener_kind kind;

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        log_error("Passed fd %d ('%s') is not a listening stream socket.", fd, name);
                        r = -EINVAL;
                        goto fail;
                }
                if (streq(name, "http"))
                        kind = LISTENER_HTTP;
                else if (streq(name, "rpc"))
                        kind = LISTENER_RPC;
                else if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0)
                        kind = LISTENER_RPC;
                else
                        kind = LISTENER_HTTP;
                if (!streq(name, "http") && !streq(name, "rpc"))
                        log_notice("Passed socket '%s' has no known name; using it for %s by its family.",
                                   name, kind == LISTENER_HTTP ? "HTTP" : "RPC");
                r = add_listener(w, fd, kind);
                if (r < 0) {
                        /* add_listener closed fd; close the ones not yet taken. */
                        for (int k = i + 1; k < n; k++)
                                safe_close(SD_LISTEN_FDS_START + k);
                        return log_error_errno(r, "Failed to listen on passed socket '%s': %m", name);
                }
                taken++;
        }
        return taken;
fail:
        for (int k = taken; k < n; k++)
                safe_close(SD_LISTEN_FDS_START + k);
        return r;
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

static int setup_sockets(struct webd *w) {
        int n, fd, r;

        n = take_passed_sockets(w);
        if (n < 0)
                return n;
        if (n > 0) {
                if (w->opts.listen_path || w->opts.http_addr)
                        log_warning("Sockets were passed by systemd; ignoring --listen/--http.");
                if (w->n_http_listeners == 0)
                        log_warning("No HTTP socket was passed; serving only the RPC socket.");
                return 0;
        }

        if (!w->opts.listen_path && !w->opts.http_addr)
                return log_error_errno(-EINVAL,
                                       "No sockets passed by systemd; for development, use --listen PATH "
                                       "and/or --http ADDR:PORT.");
        if (w->opts.listen_path) {
                fd = daemon_listen_unix(w->opts.listen_path);
                if (fd < 0)
                        return log_error_errno(fd, "Failed to listen on '%s': %m", w->opts.listen_path);
                r = webd_rpc_add_listener(w->rpc, fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen on '%s': %m", w->opts.listen_path);
                w->bound_listen_path = true;
                log_info("Listening for RPC on '%s'.", w->opts.listen_path);
        }
        if (w->opts.http_addr) {
                fd = bind_tcp(w->opts.http_addr);
                if (fd < 0)
                        return fd;
                r = webd_http_add_listener(w, fd);
                if (r < 0)
                        return r;
                log_info("Listening for HTTP on '%s'.", w->opts.http_addr);
        }
        return 0;
}

/* ---- RPC ----------------------------------------------------------------------------- */

/* webd's fields in sys.health. */
static size_t webd_health(void *ctx, void *userdata, msgpack_packer *pk) {
        struct webd *w = ctx;

        if (!pk)
                return 4;
        rpc_pack_kv_uint(pk, "http_connections", w->http_conns);
        rpc_pack_kv_uint(pk, "http_connections_total", w->http_conns_total);
        rpc_pack_kv_uint(pk, "sse_streams", w->sse.n_streams);
        rpc_pack_kv_uint(pk, "sse_events_dropped", w->sse.events_dropped);
        return 4;
}

static int setup_rpc(struct webd *w) {
        struct rpc_server_config cfg = {
                .limits = {.max_bytes = w->config.max_message_bytes},
                .max_conns = w->config.max_connections,
                .max_out_bytes = RPC_MAX_OUT_BYTES,
                .max_calls = RPC_MAX_CALLS,
                .group = (gid_t) -1,
                .methods = webd_methods,
                .n_methods = ELEMENTSOF(webd_methods),
                .userdata = w,
                .methods2 = sys_methods,
                .n_methods2 = ELEMENTSOF(sys_methods),
                .userdata2 = &w->sys,
                .idle_userdata = w,
                .on_idle_changed = on_rpc_idle_changed,
        };
        struct group *g;
        int r;

        mp_limits_normalize(&cfg.limits);
        /* Admin commands will be RPC_ACCESS_GROUP: root or a member of left4me. */
        g = getgrnam("left4me");
        if (g)
                cfg.group = g->gr_gid;

        r = rpc_server_new(&cfg, &w->server);
        if (r < 0)
                return log_error_errno(r, "Failed to create the RPC server: %m");
        w->sys = (struct sys_info){
                .name = WEBD_NAME,
                .start_usec = w->start_usec,
                .server = w->server,
                .health = webd_health,
                .health_ctx = w,
        };
        r = webd_rpc_new((h2o_loop_t *) w->loop, w->server, &w->rpc);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the RPC transport: %m");
        return 0;
}

/* ---- run ----------------------------------------------------------------------------- */

static void on_config_warning(const char *msg, void *userdata) {
        log_warning("%s", msg);
}

static int webd_setup(struct webd *w) {
        char errbuf[512] = "";
        int r;

        r = config_load(&w->config, w->opts.config_path, errbuf, sizeof(errbuf), on_config_warning, NULL);
        if (r < 0)
                return log_error_errno(r, "Bad configuration: %s", errbuf[0] ? errbuf : "(no details)");

        if (w->opts.idle_exit_sec >= 0)
                w->idle_exit_ms = (uint64_t) w->opts.idle_exit_sec * 1000u;
        else
                w->idle_exit_ms = (uint64_t) w->config.idle_exit_sec * 1000u;

        w->web_dir = strdup(w->opts.web_dir ? w->opts.web_dir : LEFT4ME_WEBDIR);
        if (!w->web_dir)
                return log_error_errno(-ENOMEM, "Out of memory.");

        w->loop = h2o_evloop_create();
        r = webd_http_init(w);
        if (r < 0)
                return r;
        r = setup_rpc(w);
        if (r < 0)
                return r;
        r = setup_sockets(w);
        if (r < 0)
                return r;
        r = setup_signals(w);
        if (r < 0)
                return r;

        h2o_timeout_init(w->loop, &w->idle_timeout, w->idle_exit_ms ? w->idle_exit_ms : 1);
        w->idle_entry.cb = on_idle_timeout;
        h2o_timeout_init(w->loop, &w->drain_timeout, WEBD_DRAIN_MS);
        w->drain_entry.cb = on_drain_timeout;
        w->idle_timeout_initialized = true;
        webd_idle_check(w);
        return 0;
}

static void webd_teardown(struct webd *w) {
        if (w->loop && w->idle_timeout_initialized) {
                if (h2o_timeout_is_linked(&w->idle_entry))
                        h2o_timeout_unlink(&w->idle_entry);
                h2o_timeout_dispose(w->loop, &w->idle_timeout);
                if (h2o_timeout_is_linked(&w->drain_entry))
                        h2o_timeout_unlink(&w->drain_entry);
                h2o_timeout_dispose(w->loop, &w->drain_timeout);
                w->idle_timeout_initialized = false;
        }
        w->exiting = true;
        if (w->rpc)
                w->rpc = webd_rpc_free(w->rpc);
        if (w->signal_sock) {
                h2o_socket_close(w->signal_sock);
                w->signal_sock = NULL;
        }
        /* Let h2o finish what it deferred (zero-delay timers of finished requests, socket
         * disposal) before its context goes away. */
        for (int i = 0; w->loop && i < 8; i++)
                (void) h2o_evloop_run(w->loop, 0);
        if (w->http_conns > 0) {
                /* h2o 2.2.5 cannot close a connection from outside, and disposing the
                 * context under a live one aborts: leave them to exit(). */
                log_notice("%u HTTP connection(s) still open at exit, closing them hard.", w->http_conns);
                webd_http_stop_listening(w);
        } else
                webd_http_done(w);
        /* Lets h2o free the sockets closed above (disposal is deferred to the loop). */
        if (w->loop)
                (void) h2o_evloop_run(w->loop, 0);
        w->server = rpc_server_free(w->server);
        /* The --listen socket is ours (systemd's sockets are not): remove its file. */
        if (w->bound_listen_path)
                (void) unlink(w->opts.listen_path);
        if (w->loop && w->http_conns == 0) {
                h2o_evloop_destroy(w->loop);
                w->loop = NULL;
        }
        free(w->web_dir);
        config_done(&w->config);
}

int webd_run(const struct webd_options *opts) {
        struct webd w = {.opts = *opts, .start_usec = now_usec()};
        int r;

        r = config_init_defaults(&w.config);
        if (r < 0)
                return log_error_errno(r, "Failed to initialize the configuration: %m");

        r = webd_setup(&w);
        if (r < 0)
                goto finish;

        (void) sd_notifyf(0, "READY=1\nSTATUS=Serving (%zu HTTP, RPC) socket(s); idle exit after %llu s.",
                          w.n_http_listeners, (unsigned long long) (w.idle_exit_ms / 1000));
        log_info("%s %s ready (idle exit %s).", WEBD_NAME, LEFT4ME_VERSION, w.idle_exit_ms ? "on" : "off");

        while (!webd_done(&w)) {
                if (h2o_evloop_run(w.loop, INT32_MAX) != 0 && errno != EINTR) {
                        r = log_error_errno(-errno, "Event loop failed: %m");
                        break;
                }
        }

finish:
        webd_teardown(&w);
        return r < 0 ? r : 0;
}
