/* The skeleton every daemon (hostd, jobd, logd, webd, the test daemon) runs in, whatever its
 * event loop: argument parsing (--config, --listen PATH, --idle-exit SEC, --help, --version,
 * plus a daemon's own options), config loading, the RPC server with sys.version and
 * sys.health and the left4me group, the named sockets from systemd (LISTEN_FDNAMES) or a
 * --listen socket for development, SIGTERM/SIGINT on a signalfd, sd_notify
 * READY/STATUS/STOPPING, and idle exit. A daemon supplies its method table, hooks, and the
 * loop binding it runs on (daemon_loop_sdevent, the default, or daemon_loop_h2o); the
 * skeleton drives that loop and never nests one loop in another. */
#pragma once

#include <getopt.h>
#include <systemd/sd-event.h>

#include "daemon/config.h"
#include "proto/server.h"

/* The listen backlog of a socket we bind ourselves (--listen, webd's --http): the same as the
 * .socket units' Backlog=, so development behaves like activation. */
#define DAEMON_LISTEN_BACKLOG 128

struct daemon;
struct daemon_loop; /* a loop binding: daemon-sdevent.c, daemon-h2o.c */

extern const struct daemon_loop daemon_loop_sdevent;

struct daemon_def {
        const char *name;               /* "left4me-hostd" */
        const char *service;            /* "host": picks the default socket path for --listen */
        const char *description;        /* one line for --help */
        const struct daemon_loop *loop; /* NULL: sd-event */
        const struct rpc_method *methods;
        size_t n_methods;
        /* RPC limits beyond the config's; 0 = proto's defaults. */
        size_t max_out_bytes;
        unsigned max_calls;

        /* Options of the daemon's own (long ones; a NULL-terminated array), handled by
         * option(): returns 0, or < 0 after logging why. Their lines for --help. Optional. */
        const struct option *options;
        int (*option)(int c, const char *arg);
        const char *options_help;
        /* Appended to "use --listen PATH" when no socket was passed (webd: its --http). */
        const char *listen_hint;

        /* Called once the config, the server and the loop exist, before the sockets are
         * added; sets up state, returns < 0 to fail (after logging why). */
        int (*setup)(struct daemon *d, void **ret_userdata);
        /* A socket systemd passed, with its name (FileDescriptorName=), or one a daemon added
         * with daemon_add_socket(). Returns > 0 if the daemon took it (owns fd now), 0 to let
         * the skeleton serve RPC on it, < 0 on failure. Optional: all sockets are RPC. */
        int (*socket)(struct daemon *d, void *userdata, int fd, const char *name);
        /* Just before READY=1. Optional. */
        void (*ready)(struct daemon *d, void *userdata);
        /* Idle means no RPC connection, no busy work, and is_idle() true. Optional. */
        bool (*is_idle)(struct daemon *d, void *userdata);
        /* The daemon decided to stop (signal, idle): stop accepting on sockets of its own.
         * The loop runs on until drained() is true (optional: stop at once). */
        void (*stop)(struct daemon *d, void *userdata);
        bool (*drained)(struct daemon *d, void *userdata);
        /* Called after the loop ended and the RPC transport was closed, before the loop is
         * freed; frees state. */
        void (*teardown)(struct daemon *d, void *userdata);
        /* Adds daemon-specific pairs to sys.health's map (which counts them: proto/map.h).
         * Optional. */
        void (*health)(struct daemon *d, void *userdata, msgpack_packer *pk);
        /* Extra subcommands handled instead of running the daemon (hostd's "mount NAME"):
         * argv[0] is the subcommand, argv[1..] its arguments. Returns < 0 on failure. Optional. */
        int (*subcommand)(int argc, char **argv, const struct l4m_config *cfg);
        const char *subcommand_help;
};

int daemon_main(int argc, char **argv, const struct daemon_def *def);
/* The uids of the daemons' users and the operators' gid, as this host names them. */
struct rpc_identities daemon_identities(void);

/* The sd-event loop, or NULL when the daemon runs another binding. */
sd_event *daemon_event(struct daemon *d);
struct rpc_server *daemon_server(struct daemon *d);
const struct l4m_config *daemon_config(struct daemon *d);
void *daemon_userdata(struct daemon *d);
/* Whether systemd passed sockets (then --listen and the like are ignored). */
bool daemon_activated(struct daemon *d);

/* Routes a listening socket of the daemon's own making (webd's --http) like a passed one:
 * through def->socket, else as an RPC listener. Takes fd. Logs on failure. */
int daemon_add_socket(struct daemon *d, int fd, const char *name);
/* Re-evaluates idleness and arms or disarms the idle-exit timer; call it when something
 * def->is_idle looks at changed. The RPC server's own changes are seen without it. */
void daemon_idle_check(struct daemon *d);
/* Stops for good: no more accepting anywhere, pending RPC calls ended, STOPPING=1; the loop
 * is left once def->drained allows. Safe to call more than once. */
void daemon_stop(struct daemon *d, const char *why);

/* Binds and listens on a Unix stream socket at path (mode 0660), non-blocking and
 * close-on-exec. An existing socket file there is replaced; any other file is left alone and
 * the call fails (-EADDRINUSE). Returns the fd or a negative errno. */
int daemon_listen_unix(const char *path);
