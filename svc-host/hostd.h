/* hostd's internals shared by its files: the daemon state, the per-instance lock, the argument
 * helpers every instance method starts with, and the lifecycle call (start/stop/delete/reset)
 * that the stale-mount unmount (hostd-umount.c) finishes. Not an API: only svc-host/ uses it.
 *
 *   hostd.c         method glue: arguments, initialize, lifecycle, spec, install, builds, main
 *   hostd-status.c  instance.status and instance.list (systemd state, files, A2S)
 *   hostd-umount.c  unmounting a stale overlay with a transient "left4me-hostd umount" unit */
#pragma once

#include <limits.h>
#include <msgpack.h>
#include <stdbool.h>

#include "proto/args.h"
#include "proto/names.h"
#include "proto/server.h"
#include "svc-host/hostd-pool.h"

struct daemon;
struct l4m_config;
struct hostd_bus;
struct install_run;
struct build_run;
struct files_upload;

struct busy_name {
        struct busy_name *next;
        char name[NAME_LEN_MAX + 1];
        const char *op;
};

struct hostd {
        struct daemon *daemon;
        sd_event *event;
        const struct l4m_config *cfg;
        struct hostd_bus *bus;
        struct busy_name *busy;
        struct install_run *install;
        struct build_run *builds; /* one per overlay at most */
        unsigned n_builds;
        struct files_upload *uploads; /* file.upload's, pending a commit (hostd-files.c) */
        unsigned n_uploads;
        struct build_pool build_pool;
        unsigned long long build_seq;
        unsigned long long install_seq;
        bool root_ok;
        char self_exe[PATH_MAX];    /* for "left4me-hostd umount NAME" as a transient unit */
        char config_path[PATH_MAX]; /* the config it read, absolute; "" for the defaults */
        char build_exec[PATH_MAX];  /* left4me-build-exec next to self_exe; "" if unknown */
};

enum unit_call_kind { CALL_START, CALL_STOP, CALL_DELETE, CALL_RESET };
extern const char *const unit_call_names[];

struct unit_call {
        struct hostd *h;
        struct rpc_call *call;
        enum unit_call_kind kind;
        char name[NAME_LEN_MAX + 1];
        char unit[UNIT_NAME_MAX];
        char note[512];                  /* why a stale mount was not unmounted (added to a conflict),
                                          * or why a start's mount failed */
        unsigned long long started_usec; /* CLOCK_REALTIME, when the call began */
};

/* Whether a build of overlay id runs (file edits refuse then: hostd-files.c). */
bool hostd_overlay_building(struct hostd *h, const char *id);

/* Claims name for op; fails the call with "conflict" if another operation holds it. */
int busy_claim(struct hostd *h, struct rpc_call *call, const char *name, const char *op);
void busy_release(struct hostd *h, const char *name);

/* The prologue of every method: parses params by the args table into out, then checks that
 * paths.root can be used. On failure the call is answered (invalid, unavailable), nothing is
 * left allocated in out, and < 0 is returned. */
int method_args(struct hostd *h, struct rpc_call *call, const msgpack_object *params,
                const struct rpc_arg *args, size_t n, void *out);

/* {name}: the arguments of the instance methods. */
struct name_args {
        char *name;
};
int method_name_args(struct hostd *h, struct rpc_call *call, const msgpack_object *params,
                     struct name_args *a);
void name_args_free(struct name_args *a);

/* Whether a bus error means systemd cannot be reached at all (rather than refused). */
bool bus_unreachable(int r);
void unit_call_free(struct unit_call *u);
/* Removes the instance's files and answers u's call (conflict while still mounted). */
void finish_removal(struct unit_call *u);

/* The overlay of u's instance is still mounted after its unit stopped: if the unit is really
 * over, unmount it with a transient unit, then finish the removal and free u. < 0: nothing was
 * started (the caller finishes the removal itself). */
int stale_mount_unmount(struct unit_call *u);

int hostd_method_status(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_list(struct rpc_call *call, const msgpack_object *params, void *userdata);
