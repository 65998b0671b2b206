/* The loop-agnostic half of the skeleton (see daemon.h); the loop bindings are in
 * daemon-sdevent.c and daemon-h2o.c, behind daemon-loop.h.
 *
 * Start-up follows style.md rule 21: options → config → server → loop → signals → the
 * daemon's setup → sockets → READY=1 → loop → STOPPING=1 → teardown. Once a daemon decided
 * to stop it never accepts again, and an inherited listener is closed, never shutdown():
 * systemd keeps its copy, and a connection waiting in the backlog starts the next instance. */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <systemd/sd-daemon.h>

#include "base/log.h"
#include "daemon/daemon-loop.h"
#include "proto/args.h"
#include "proto/map.h"
#include "proto/names.h"

/* ---- sys.* -------------------------------------------------------------------------------- */

struct sys_info {
        const char *name;
        unsigned long long start_usec;
        struct rpc_server *server;
        struct daemon *daemon;
};

static int sys_version(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        const struct sys_info *si = userdata;
        msgpack_packer *pk;
        struct rpc_map m;
        struct rpc_error e;
        int r = rpc_args_parse(params, NULL, 0, NULL, &e);
        if (r < 0)
                return rpc_call_fail_error(call, &e);
        pk = rpc_map_begin(&m, rpc_call_result(call));
        rpc_pack_kv_str(pk, "service", si->name);
        rpc_pack_kv_str(pk, "version", LEFT4ME_VERSION);
        rpc_pack_kv_str(pk, "revision", LEFT4ME_GIT_REV);
        rpc_pack_kv_uint(pk, "protocol", RPC_PROTOCOL_VERSION);
        (void) rpc_map_end(&m); /* a miscount fails the output: the peer is dropped, never misled */
        return rpc_call_reply(call);
}

static int sys_health(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        const struct sys_info *si = userdata;
        struct daemon *d = si->daemon;
        msgpack_packer *pk;
        struct rpc_map m;
        struct rpc_error e;
        int r = rpc_args_parse(params, NULL, 0, NULL, &e);
        if (r < 0)
                return rpc_call_fail_error(call, &e);
        pk = rpc_map_begin(&m, rpc_call_result(call));
        rpc_pack_kv_str(pk, "status", "ok");
        rpc_pack_kv_str(pk, "service", si->name);
        rpc_pack_kv_str(pk, "version", LEFT4ME_VERSION);
        rpc_pack_kv_uint(pk, "pid", (uint64_t) getpid());
        rpc_pack_kv_uint(pk, "uptime_usec", now_usec() - si->start_usec);
        rpc_pack_kv_uint(pk, "connections", rpc_server_connections(si->server));
        rpc_pack_kv_uint(pk, "busy", rpc_server_busy(si->server));
        rpc_pack_kv_uint(pk, "requests", rpc_server_requests(si->server));
        if (d->def->health)
                d->def->health(d, d->userdata, pk);
        (void) rpc_map_end(&m); /* a miscount fails the output: the peer is dropped, never misled */
        return rpc_call_reply(call);
}

static const struct rpc_method sys_methods[] = {
        {"sys.version", sys_version, RPC_MAY_ANYONE},
        {"sys.health", sys_health, RPC_MAY_ANYONE},
};

/* Who the callers are (proto/server.h): the users and the group of proto/names.h, looked up
 * once at start. A missing user or group is a class nobody is in, so the methods open to it
 * are open to root alone. */
static uid_t user_uid(const char *name) {
        struct passwd *pw = getpwnam(name);
        return pw ? pw->pw_uid : (uid_t) -1;
}

struct rpc_identities daemon_identities(void) {
        struct group *g = getgrnam(L4M_GROUP_OPERATORS);

        return (struct rpc_identities){
                .jobd = user_uid(L4M_USER_JOBD),
                .logd = user_uid(L4M_USER_LOGD),
                .webd = user_uid(L4M_USER_WEBD),
                .operators = g ? g->gr_gid : (gid_t) -1,
        };
}

/* ---- accessors ---------------------------------------------------------------------------- */

struct rpc_server *daemon_server(struct daemon *d) {
        return d->server;
}

const struct l4m_config *daemon_config(struct daemon *d) {
        return &d->config;
}

void *daemon_userdata(struct daemon *d) {
        return d->userdata;
}

bool daemon_activated(struct daemon *d) {
        return d->n_passed > 0;
}

/* ---- idle and stop ------------------------------------------------------------------------ */

static bool daemon_is_idle(struct daemon *d) {
        return !d->stopping && rpc_server_is_idle(d->server) &&
               (!d->def->is_idle || d->def->is_idle(d, d->userdata));
}

void daemon_idle_check(struct daemon *d) {
        /* Not before READY: setup may still be adding work that keeps us alive. */
        if (!d->ready || d->idle_usec == 0)
                return;
        d->loop->set_idle_timer(d, daemon_is_idle(d));
}

static void on_server_idle_changed(struct rpc_server *s, bool idle, void *userdata) {
        daemon_idle_check(userdata);
}

void daemon_on_idle_timer(struct daemon *d) {
        /* The timer and a new connection can race within one loop iteration. */
        if (!daemon_is_idle(d)) {
                daemon_idle_check(d);
                return;
        }
        log_info("No connections for %llu s, exiting.", (unsigned long long) (d->idle_usec / 1000000));
        daemon_stop(d, "idle");
}

void daemon_on_signal(struct daemon *d, int signo) {
        log_info("Received %s, stopping.", strsignal(signo));
        daemon_stop(d, "signal");
}

void daemon_stop(struct daemon *d, const char *why) {
        if (d->stopping)
                return;
        d->stopping = true;
        d->loop->stop_listening(d);
        if (d->idle_usec > 0)
                d->loop->set_idle_timer(d, false);
        /* Pending calls end now (their abandon hooks stop the work behind them), while the
         * daemon's state they point into still exists. */
        rpc_server_set_stopping(d->server);
        (void) sd_notifyf(0, "STOPPING=1\nSTATUS=Stopping (%s).", why);
        if (d->def->stop)
                d->def->stop(d, d->userdata);
}

static bool daemon_done(struct daemon *d) {
        return d->stopping && (!d->def->drained || d->def->drained(d, d->userdata));
}

/* ---- sockets ------------------------------------------------------------------------------ */

int daemon_listen_unix(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);
        struct stat st;

        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A stale socket of an earlier run is ours to replace; any other file is not (a typo in
         * --listen must not delete someone's data): bind() then fails with EADDRINUSE. */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        (void) chmod(path, 0660); /* as the .socket units: owner and group only */
        if (listen(fd, DAEMON_LISTEN_BACKLOG) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int daemon_add_socket(struct daemon *d, int fd, const char *name) {
        int r = 0;

        if (d->def->socket) {
                r = d->def->socket(d, d->userdata, fd, name);
                if (r < 0) {
                        safe_close(fd);
                        return log_error_errno(r, "Failed to listen on socket '%s': %m", name);
                }
        }
        if (r == 0) {
                if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) <= 0) {
                        safe_close(fd);
                        return log_error_errno(-EINVAL, "Socket '%s' is not a listening Unix stream socket.",
                                               name);
                }
                r = d->loop->add_rpc_listener(d, fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen on socket '%s': %m", name);
        }
        d->n_listeners++;
        return 0;
}

/* The sockets systemd passed, by their FileDescriptorName= (LISTEN_FDNAMES). */
static int add_passed_sockets(struct daemon *d, char **names) {
        for (int i = 0; i < d->n_passed; i++) {
                int fd = SD_LISTEN_FDS_START + i, r;
                const char *name = names && names[i] ? names[i] : "unknown";

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                        r = log_error_errno(-EINVAL, "Passed fd %d ('%s') is not a listening stream socket.",
                                            fd, name);
                else
                        r = daemon_add_socket(d, fd, name);
                if (r < 0) {
                        for (int k = i + 1; k < d->n_passed; k++)
                                safe_close(SD_LISTEN_FDS_START + k);
                        return r;
                }
        }
        return 0;
}

/* ---- signals ------------------------------------------------------------------------------ */

static int setup_signals(struct daemon *d) {
        sigset_t ss;
        int fd;

        /* A client that vanishes mid-write must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");
        fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create the signalfd: %m");
        return d->loop->watch_signals(d, fd);
}

/* ---- start-up ----------------------------------------------------------------------------- */

static void help(const struct daemon_def *def) {
        printf("%s: %s\n\n"
               "Usage: %s [OPTIONS]%s\n\n"
               "Runs as a systemd socket-activated service; for development it can listen itself.\n\n"
               "Options:\n"
               "  -c, --config PATH     configuration file (default: $LEFT4ME_CONFIG or %s)\n"
               "  -l, --listen PATH     listen on this Unix socket instead of sockets from systemd\n"
               "                        (replaces a stale socket there, never another file)\n"
               "  -i, --idle-exit SEC   exit after SEC seconds without connections or work\n"
               "                        (0..%u, 0 = never; default: limits.idle_exit_sec)\n"
               "%s"
               "  -h, --help            show this help\n"
               "  -V, --version         show the version\n",
               def->name, def->description, def->name, def->subcommand_help ? " | COMMAND ..." : "",
               LEFT4ME_DEFAULT_CONFIG, L4M_IDLE_EXIT_MAX_SEC, def->options_help ?: "");
        if (def->subcommand_help)
                printf("\nCommands:\n%s", def->subcommand_help);
}

static void config_warn(const char *msg, void *userdata) {
        (void) userdata;
        log_warning("%s", msg);
}

/* The common options plus the daemon's own, in one getopt_long table. */
static int build_options(const struct daemon_def *def, struct option **ret) {
        static const struct option common[] = {
                {"config", required_argument, NULL, 'c'},    {"listen", required_argument, NULL, 'l'},
                {"idle-exit", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
        };
        size_t n = 0;
        struct option *o;

        while (def->options && def->options[n].name)
                n++;
        o = calloc(ELEMENTSOF(common) + n + 1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        memcpy(o, common, sizeof(common));
        if (n)
                memcpy(o + ELEMENTSOF(common), def->options, n * sizeof(*o));
        *ret = o;
        return 0;
}

int daemon_main(int argc, char **argv, const struct daemon_def *def) {
        struct daemon d = {.def = def, .loop = def->loop ?: &daemon_loop_sdevent, .start_usec = now_usec()};
        _cleanup_free_ struct option *options = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *config_path = NULL, *listen_path = NULL;
        bool bound_listen = false;
        struct sys_info sys;
        long long idle = -1;
        char err[600];
        int c, r;

        log_setup(def->name);
        r = build_options(def, &options);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        /* Stop at the first non-option so subcommands keep their own arguments. */
        while ((c = getopt_long(argc, argv, "+c:l:i:hV", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'l':
                        listen_path = optarg;
                        break;
                case 'i':
                        if (safe_atoi64(optarg, 0, L4M_IDLE_EXIT_MAX_SEC, &idle) < 0)
                                return log_error_errno(-EINVAL, "--idle-exit: '%s' is not 0..%u seconds.",
                                                       optarg, L4M_IDLE_EXIT_MAX_SEC);
                        break;
                case 'h':
                        help(def);
                        return 0;
                case 'V':
                        printf("%s %s (%s)\n", def->name, LEFT4ME_VERSION, LEFT4ME_GIT_REV);
                        return 0;
                case '?':
                        return -EINVAL; /* getopt said why */
                default:
                        if (!def->option)
                                return -EINVAL;
                        r = def->option(c, optarg);
                        if (r < 0)
                                return r;
                }

        r = config_init_defaults(&d.config);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the configuration: %m");
        r = config_load(&d.config, config_path, err, sizeof(err), config_warn, NULL);
        if (r < 0) {
                log_error("Bad configuration: %s", err);
                goto finish;
        }

        if (optind < argc) {
                if (!def->subcommand) {
                        r = log_error_errno(-EINVAL, "Unexpected argument '%s' (see --help).", argv[optind]);
                        goto finish;
                }
                r = def->subcommand(argc - optind, argv + optind, &d.config);
                goto finish;
        }

        d.idle_usec =
                (uint64_t) (idle >= 0 ? (unsigned long long) idle : d.config.idle_exit_sec) * 1000000ULL;
        r = rpc_server_new(
                &(struct rpc_server_config){
                        .limits = {.max_bytes = d.config.max_message_bytes},
                        .max_conns = d.config.max_connections,
                        .idle_timeout_usec = (uint64_t) d.config.idle_connection_sec * 1000000ULL,
                        .message_timeout_usec = (uint64_t) d.config.message_timeout_sec * 1000000ULL,
                        .max_out_bytes = def->max_out_bytes,
                        .max_calls = def->max_calls,
                        .identities = daemon_identities(),
                        .methods = def->methods,
                        .n_methods = def->n_methods,
                        .methods2 = sys_methods,
                        .n_methods2 = ELEMENTSOF(sys_methods),
                        .userdata2 = &sys,
                        .idle_userdata = &d,
                        .on_idle_changed = on_server_idle_changed,
                },
                &d.server);
        if (r < 0) {
                log_error_errno(r, "Failed to create the server: %m");
                goto finish;
        }
        sys = (struct sys_info){
                .name = def->name, .start_usec = d.start_usec, .server = d.server, .daemon = &d};

        r = d.loop->init(&d);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the event loop: %m");
                goto finish;
        }
        r = setup_signals(&d);
        if (r < 0)
                goto finish;

        d.n_passed = sd_listen_fds_with_names(1, &names);
        if (d.n_passed < 0) {
                r = log_error_errno(d.n_passed, "Failed to receive sockets from systemd: %m");
                d.n_passed = 0;
                goto finish;
        }

        if (def->setup) {
                r = def->setup(&d, &d.userdata);
                if (r < 0)
                        goto finish;
        }
        /* The method table's userdata can only be known now. */
        rpc_server_set_userdata(d.server, d.userdata);

        if (d.n_passed > 0) {
                if (listen_path)
                        log_warning("Sockets were passed by systemd; ignoring --listen.");
                r = add_passed_sockets(&d, names);
                if (r < 0)
                        goto finish;
        } else if (listen_path) {
                int fd = daemon_listen_unix(listen_path);
                if (fd < 0) {
                        r = log_error_errno(fd, "Failed to listen on '%s': %m", listen_path);
                        goto finish;
                }
                bound_listen = true;
                r = daemon_add_socket(&d, fd, "listen");
                if (r < 0)
                        goto finish;
                log_info("Listening for RPC on '%s'.", listen_path);
        }
        if (d.n_listeners == 0) {
                r = log_error_errno(-EINVAL,
                                    "No sockets passed; start me through my .socket unit, or use --listen "
                                    "PATH%s.",
                                    def->listen_hint ?: "");
                goto finish;
        }

        if (def->ready)
                def->ready(&d, d.userdata);
        d.ready = true;
        (void) sd_notifyf(0, "READY=1\nSTATUS=Serving %u socket(s); idle exit after %llu s.", d.n_listeners,
                          (unsigned long long) (d.idle_usec / 1000000));
        log_info("%s %s ready (%u socket(s), idle exit %s).", def->name, LEFT4ME_VERSION, d.n_listeners,
                 d.idle_usec ? "on" : "off");
        daemon_idle_check(&d);

        while (!daemon_done(&d)) {
                r = d.loop->run_once(&d);
                if (r < 0) {
                        log_error_errno(r, "Event loop failed: %m");
                        break;
                }
        }
        if (!d.stopping)
                (void) sd_notify(0, "STOPPING=1");

finish:
        d.stopping = true;
        if (d.loop_data)
                d.loop->shutdown(&d);
        if (def->teardown && d.userdata)
                def->teardown(&d, d.userdata);
        d.server = rpc_server_free(d.server);
        /* The --listen socket is ours (systemd's are not): remove its file. */
        if (bound_listen)
                (void) unlink(listen_path);
        if (d.loop_data)
                d.loop->free(&d);
        config_done(&d.config);
        return r < 0 ? r : 0;
}
