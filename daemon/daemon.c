#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <systemd/sd-daemon.h>

#include "daemon/daemon.h"
#include "base/log.h"
#include "proto/args.h"
#include "proto/server-sdevent.h"

struct daemon {
        const struct daemon_def *def;
        struct l4m_config config;
        sd_event *event;
        struct rpc_server *server;
        struct rpc_sdevent *adapter;
        struct sys_info sys;
        void *userdata;
};

/* ---- sys.* -------------------------------------------------------------------------------- */

static int sys_version(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        const struct sys_info *si = userdata;
        msgpack_packer *pk;
        struct rpc_error e;
        int r = rpc_args_parse(params, NULL, 0, NULL, &e);
        if (r < 0)
                return rpc_call_fail_error(call, &e);
        pk = rpc_call_result(call);
        (void) msgpack_pack_map(pk, 4);
        rpc_pack_kv_str(pk, "service", si->name);
        rpc_pack_kv_str(pk, "version", LEFT4ME_VERSION);
        rpc_pack_kv_str(pk, "revision", LEFT4ME_GIT_REV);
        rpc_pack_kv_uint(pk, "protocol", RPC_PROTOCOL_VERSION);
        return rpc_call_reply(call);
}

static int sys_health(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        const struct sys_info *si = userdata;
        size_t extra = si->health ? si->health(si->health_ctx, si->health_userdata, NULL) : 0;
        msgpack_packer *pk;
        struct rpc_error e;
        int r = rpc_args_parse(params, NULL, 0, NULL, &e);
        if (r < 0)
                return rpc_call_fail_error(call, &e);
        pk = rpc_call_result(call);
        (void) msgpack_pack_map(pk, 8 + extra);
        rpc_pack_kv_str(pk, "status", "ok");
        rpc_pack_kv_str(pk, "service", si->name);
        rpc_pack_kv_str(pk, "version", LEFT4ME_VERSION);
        rpc_pack_kv_uint(pk, "pid", (uint64_t) getpid());
        rpc_pack_kv_uint(pk, "uptime_usec", now_usec() - si->start_usec);
        rpc_pack_kv_uint(pk, "connections", rpc_server_connections(si->server));
        rpc_pack_kv_uint(pk, "busy", rpc_server_busy(si->server));
        rpc_pack_kv_uint(pk, "requests", rpc_server_requests(si->server));
        if (extra)
                (void) si->health(si->health_ctx, si->health_userdata, pk);
        return rpc_call_reply(call);
}

const struct rpc_method sys_methods[2] = {
        {"sys.version", sys_version, RPC_ACCESS_ANY},
        {"sys.health", sys_health, RPC_ACCESS_ANY},
};

/* ---- accessors ---------------------------------------------------------------------------- */

sd_event *daemon_event(struct daemon *d) {
        return d->event;
}

struct rpc_server *daemon_server(struct daemon *d) {
        return d->server;
}

const struct l4m_config *daemon_config(struct daemon *d) {
        return &d->config;
}

void *daemon_userdata(struct daemon *d) {
        return d->userdata;
}

void daemon_status(struct daemon *d, const char *fmt, ...) {
        char buf[256];
        va_list ap;
        (void) d;
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        (void) sd_notifyf(0, "STATUS=%s", buf);
}

static size_t daemon_health(void *ctx, void *userdata, msgpack_packer *pk) {
        struct daemon *d = ctx;
        return d->def->health(d, userdata, pk);
}

/* ---- start-up ----------------------------------------------------------------------------- */

static void help(const struct daemon_def *def) {
        printf("%s: %s\n\n"
               "Usage: %s [OPTIONS]%s\n\n"
               "Runs as a systemd socket-activated service; for development it can listen itself.\n\n"
               "Options:\n"
               "  -c, --config PATH     configuration file (default: $LEFT4ME_CONFIG or %s)\n"
               "  -l, --listen PATH     listen on this Unix socket instead of sockets from systemd\n"
               "  -i, --idle-exit SEC   exit after SEC seconds without connections or work\n"
               "                        (default: limits.idle_exit_sec; 0 = never)\n"
               "  -h, --help            show this help\n"
               "  -V, --version         show the version\n",
               def->name, def->description, def->name, def->subcommand_help ? " | COMMAND ..." : "",
               LEFT4ME_DEFAULT_CONFIG);
        if (def->subcommand_help)
                printf("\nCommands:\n%s", def->subcommand_help);
}

static void config_warn(const char *msg, void *userdata) {
        (void) userdata;
        log_warning("%s", msg);
}

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

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;
        log_info("Received %s, exiting.", strsignal((int) si->ssi_signo));
        rpc_sdevent_stop_listening(d->adapter);
        return sd_event_exit(d->event, 0);
}

int daemon_main(int argc, char **argv, const struct daemon_def *def) {
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},    {"listen", required_argument, NULL, 'l'},
                {"idle-exit", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},         {}};
        struct daemon d = {.def = def};
        const char *config_path = NULL, *listen_path = NULL;
        long long idle = -1;
        char err[600];
        int c, r, n_fds;
        struct group *g;
        struct rpc_server_config sc;

        log_setup(def->name);
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
                default:
                        return -EINVAL;
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

        g = getgrnam("left4me");
        sc = (struct rpc_server_config){
                .limits = {.max_bytes = d.config.max_message_bytes},
                .max_conns = d.config.max_connections,
                .group = g ? g->gr_gid : (gid_t) -1,
                .methods = def->methods,
                .n_methods = def->n_methods,
                .methods2 = sys_methods,
                .n_methods2 = ELEMENTSOF(sys_methods),
                .userdata2 = &d.sys,
        };
        r = rpc_server_new(&sc, &d.server);
        if (r < 0) {
                log_error_errno(r, "Failed to create the server: %m");
                goto finish;
        }
        d.sys = (struct sys_info){.name = def->name, .start_usec = now_usec(), .server = d.server};
        if (def->health) {
                d.sys.health = daemon_health;
                d.sys.health_ctx = &d;
        }

        r = sd_event_default(&d.event);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate the event loop: %m");
                goto finish;
        }
        {
                sigset_t ss;
                sigemptyset(&ss);
                sigaddset(&ss, SIGTERM);
                sigaddset(&ss, SIGINT);
                sigprocmask(SIG_BLOCK, &ss, NULL);
                (void) sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d);
                (void) sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d);
                /* A client that vanishes mid-write must not kill us. */
                signal(SIGPIPE, SIG_IGN);
        }

        r = rpc_sdevent_new(d.event, d.server,
                            (uint64_t) (idle >= 0 ? (unsigned long long) idle : d.config.idle_exit_sec) *
                                    1000000ULL,
                            &d.adapter);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the listener: %m");
                goto finish;
        }

        if (listen_path) {
                int fd = daemon_listen_unix(listen_path);
                if (fd < 0) {
                        r = log_error_errno(fd, "Failed to listen on '%s': %m", listen_path);
                        goto finish;
                }
                r = rpc_sdevent_add_listener(d.adapter, fd);
                n_fds = 1;
        } else {
                n_fds = sd_listen_fds(1);
                if (n_fds < 0) {
                        r = log_error_errno(n_fds, "Failed to receive sockets from systemd: %m");
                        goto finish;
                }
                if (n_fds == 0) {
                        r = log_error_errno(-EINVAL,
                                            "No sockets passed; start me through my .socket unit, or "
                                            "use --listen PATH.");
                        goto finish;
                }
                for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n_fds; fd++) {
                        if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) <= 0) {
                                r = log_error_errno(
                                        -EINVAL, "Passed fd %d is not a listening Unix stream socket.", fd);
                                goto finish;
                        }
                        r = rpc_sdevent_add_listener(d.adapter, fd);
                        if (r < 0) {
                                log_error_errno(r, "Failed to watch fd %d: %m", fd);
                                goto finish;
                        }
                }
        }
        if (r < 0)
                goto finish;

        if (def->setup) {
                r = def->setup(&d, &d.userdata);
                if (r < 0)
                        goto finish;
        }

        /* The method table's and the health hook's userdata can only be known now. */
        rpc_server_set_userdata(d.server, d.userdata);
        d.sys.health_userdata = d.userdata;

        (void) sd_notify(0, "READY=1\nSTATUS=Serving.");
        log_debug("Ready with %d socket(s).", n_fds);
        r = sd_event_loop(d.event);
        (void) sd_notify(0, "STOPPING=1");
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");

        if (def->teardown)
                def->teardown(&d, d.userdata);
finish:
        d.adapter = rpc_sdevent_free(d.adapter);
        d.server = rpc_server_free(d.server);
        d.event = sd_event_unref(d.event);
        config_done(&d.config);
        return r;
}
