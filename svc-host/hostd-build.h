/* Sandboxed overlay builds (overlay.build): an overlay's build script runs in a transient
 * systemd service, left4me-build-<id>-<n>.service in l4d2-build-<k>.slice, as the
 * unprivileged user left4me-build-<k> leased for it (hostd-pool.h: no two builds share a
 * uid), with the overlay dir bound at /overlay and the script bound
 * read-only at /script.sh, under the directive set of docs/sandbox.md. Its stdout and
 * stderr are pipes whose write ends are handed to the unit (StandardOutputFileDescriptor /
 * StandardErrorFileDescriptor), so lines reach the caller as they are written; the result
 * comes from the unit's Result / ExecMainStatus once it is inactive.
 *
 * The build writes a new, empty generation of the overlay (overlays/.gen/ID/N, handed to
 * the lease, 0755; hostd-overlay.h). After a successful run it is published (handed to
 * left4me-build, o+rX, no write bit for others, no set-id bit, no symlink followed) and made
 * current; a failed, cancelled or unpublishable one is removed and the overlay stays as it
 * was. Nothing outside it changes. The lease is
 * given back once the unit is over. hostd.c keeps one build per overlay.
 *
 * The unit's property list is hostd-sandbox.h's, the overlay dir work hostd-overlay.h's; this
 * file runs one build. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "proto/rpc.h"
#include "svc-host/hostd-overlay.h"
#include "svc-host/hostd-pool.h"
#include "svc-host/hostd-sandbox.h"
#include "svc-host/hostd-systemd.h"

enum build_result { BUILD_SUCCESS, BUILD_FAILED, BUILD_TIMEOUT, BUILD_OOM, BUILD_CANCELLED };
const char *build_result_to_string(enum build_result r);
/* Maps the unit's Service.Result and ExecMainCode/ExecMainStatus (and whether hostd stopped
 * it on a cancel) to a result and an exit code (the script's status, 128+N for a signal). */
enum build_result build_result_from_unit(const char *unit_result, int32_t exec_code, int32_t exec_status,
                                         bool cancelled, int *ret_exit_code);

/* ---- a running build ---------------------------------------------------------------------- */

struct build;

struct build_params {
        sd_event *event;
        struct hostd_bus *bus;
        struct build_pool *pool; /* the build users; outlives the build */
        const char *exec_helper; /* left4me-build-exec's absolute path */
        const char *root;
        const char *id;
        const char *script;
        size_t script_len;
        struct build_limits limits;
        uint64_t overlay_max_bytes; /* the generation's cap (overlay_size); 0: none */
        bool from_current;          /* base "current": start from the current generation's content */
        unsigned long long n;       /* the run number in the unit name */
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
/* The generation a successful build made current (overlays/.gen/ID/N); 0 otherwise. */
uint64_t build_generation(const struct build *b);
/* Why a build whose script succeeded still failed (over the size cap, cannot be published or
 * made current), for people; NULL otherwise. */
const char *build_error(const struct build *b);
