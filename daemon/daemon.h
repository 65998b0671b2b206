/* The skeleton every sd-event daemon (hostd, jobd, logd) runs in: argument parsing
 * (--config, --listen PATH, --idle-exit SEC, --help, --version), config loading, the
 * passed sockets (or a --listen socket for development), sys.version and sys.health,
 * sd_notify READY/STATUS/STOPPING, SIGTERM/SIGINT, idle exit. A daemon supplies its method
 * table and two hooks. */
#pragma once

#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "proto/server.h"

/* The listen backlog of a socket we bind ourselves (--listen, webd's --http): the same as the
 * .socket units' Backlog=, so development behaves like activation. */
#define DAEMON_LISTEN_BACKLOG 128

struct daemon;

struct daemon_def {
        const char *name;        /* "left4me-hostd" */
        const char *service;     /* "host": picks the default socket path for --listen */
        const char *description; /* one line for --help */
        const struct rpc_method *methods;
        size_t n_methods;
        /* Called after config and loop exist, before READY=1; set up state, return < 0 to fail. */
        int (*setup)(struct daemon *d, void **ret_userdata);
        /* Called after the loop exited, to free state. */
        void (*teardown)(struct daemon *d, void *userdata);
        /* Adds daemon-specific fields to sys.health (a map's pairs); returns how many pairs it
         * will pack when pk is NULL, packs them otherwise. Optional. */
        size_t (*health)(struct daemon *d, void *userdata, msgpack_packer *pk);
        /* Extra subcommands handled instead of running the daemon (hostd's "mount NAME"):
         * argv[0] is the subcommand, argv[1..] its arguments. Returns < 0 on failure. Optional. */
        int (*subcommand)(int argc, char **argv, const struct l4m_config *cfg);
        const char *subcommand_help;
};

int daemon_main(int argc, char **argv, const struct daemon_def *def);

/* Binds and listens on a Unix stream socket at path (mode 0660), non-blocking and
 * close-on-exec. An existing socket file there is replaced; any other file is left alone and
 * the call fails (-EADDRINUSE). Returns the fd or a negative errno. */
int daemon_listen_unix(const char *path);

sd_event *daemon_event(struct daemon *d);
struct rpc_server *daemon_server(struct daemon *d);
const struct l4m_config *daemon_config(struct daemon *d);
void *daemon_userdata(struct daemon *d);
/* Sets STATUS= for systemctl status. */
void daemon_status(struct daemon *d, const char *fmt, ...) _printf_(2, 3);

/* sys.version / sys.health for any server (webd adds them to its own table). */
struct sys_info {
        const char *name;
        unsigned long long start_usec;
        struct rpc_server *server;
        size_t (*health)(void *ctx, void *userdata, msgpack_packer *pk);
        void *health_ctx, *health_userdata;
};
/* The sys.* table; its handlers take a struct sys_info * as userdata (methods2/userdata2). */
extern const struct rpc_method sys_methods[2];
