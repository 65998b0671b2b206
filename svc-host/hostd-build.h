/* Sandboxed overlay builds (overlay.build): an overlay's build script runs in a transient
 * systemd service, left4me-build-<id>-<n>.service in l4d2-build.slice, as the unprivileged
 * user left4me-build, with the overlay dir bound at /overlay and the script bound
 * read-only at /script.sh, under the directive set of docs/sandbox.md. Its stdout and
 * stderr are pipes whose write ends are handed to the unit (StandardOutputFileDescriptor /
 * StandardErrorFileDescriptor), so lines reach the caller as they are written; the result
 * comes from the unit's Result / ExecMainStatus once it is inactive.
 *
 * The overlay dir is prepared (created below <root>/overlays, owned by left4me-build, 0755)
 * before the run and made world-readable (o+rX, no symlink followed, setuid/setgid bits
 * dropped) after it; nothing outside it changes. hostd.c keeps one build per overlay. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "proto/rpc.h"
#include "svc-host/hostd-systemd.h"

#define BUILD_USER           "left4me-build"
#define BUILD_SLICE          "l4d2-build.slice"
#define BUILD_SCRIPT_MAX     (1024u * 1024u)
#define BUILD_SANDBOX_RESOLV "/etc/left4me/sandbox-resolv.conf"

struct build_limits {
        uint64_t memory_max;        /* bytes; MemoryMax (MemorySwapMax is always 0) */
        unsigned tasks_max;         /* TasksMax */
        unsigned cpu_quota_percent; /* CPUQuota */
        unsigned runtime_max_sec;   /* RuntimeMaxSec: the walltime kill */
};

/* What the transient unit is made of. Paths are host paths. */
struct build_unit_spec {
        const char *description;
        const char *user;        /* User= and Group= */
        const char *overlay_dir; /* bound read-write at /overlay */
        const char *script_path; /* bound read-only at /script.sh */
        const char *resolv_conf; /* bound read-only at /etc/resolv.conf; NULL: the host's, if any */
        struct build_limits limits;
        int stdout_fd, stderr_fd; /* < 0: not passed (journal) */
};

/* Appends the unit's properties as (sv) entries into an open a(sv) container: the complete
 * sandbox. Exposed for the unit tests. */
int build_append_properties(sd_bus_message *m, const struct build_unit_spec *s);

enum build_result { BUILD_SUCCESS, BUILD_FAILED, BUILD_TIMEOUT, BUILD_OOM, BUILD_CANCELLED };
const char *build_result_to_string(enum build_result r);
/* Maps the unit's Service.Result and ExecMainCode/ExecMainStatus (and whether hostd stopped
 * it on a cancel) to a result and an exit code (the script's status, 128+N for a signal). */
enum build_result build_result_from_unit(const char *unit_result, int32_t exec_code, int32_t exec_status,
                                         bool cancelled, int *ret_exit_code);

/* Creates <root>/overlays/ID if missing (overlays/ must be root's and not writable by
 * others), refuses a symlink, and hands it to uid:gid with mode 0755. Returns an O_DIRECTORY
 * fd of it, or < 0 with e filled. */
int overlay_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, struct rpc_error *e);
/* Makes everything below dirfd world-readable: o+r on files, o+rx on directories and on
 * files that are executable by someone; drops setuid/setgid bits. Never follows a symlink,
 * never descends into another mount; symlinks, FIFOs, sockets and devices are left alone.
 * Returns the number of entries changed, or < 0. */
int overlay_publish(int dirfd);
/* Removes <root>/overlays/ID (never following a symlink, never entering a mount). Missing is
 * success; *ret_existed says whether it was there. */
int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e);

/* ---- a running build ---------------------------------------------------------------------- */

struct build;

struct build_params {
        sd_event *event;
        struct hostd_bus *bus;
        const char *root;
        const char *id;
        const char *script;
        size_t script_len;
        struct build_limits limits;
        unsigned long long n; /* the run number in the unit name */
};

/* stream: "stdout", "stderr" or "info"; line without its newline. */
typedef void (*build_line_cb)(const char *stream, const char *line, void *userdata);
/* r < 0: the build could not be run (message says why; -EEXIST: the unit name is taken,
 * -ENOTCONN and friends: systemd is unreachable). r = 0: it ran; result and exit_code. */
typedef void (*build_done_cb)(int r, enum build_result result, int exit_code, const char *message,
                              void *userdata);

/* Prepares the overlay dir and the script file and asks systemd to start the unit. Errors
 * before anything runs fill e. On success, done_cb is called exactly once later (never from
 * inside build_start). */
int build_start(const struct build_params *p, build_line_cb line_cb, build_done_cb done_cb, void *userdata,
                struct build **ret, struct rpc_error *e);
/* Stops the unit (StopUnit); done_cb follows with BUILD_CANCELLED once it is inactive. */
void build_cancel(struct build *b);
/* Frees without calling done_cb; a unit still running is asked to stop. */
struct build *build_free(struct build *b);
const char *build_unit(const struct build *b);
const char *build_id(const struct build *b);
