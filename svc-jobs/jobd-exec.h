/* Runs one job: its kind's short list of hostd calls, one after another, over one connection
 * to host.sock. Streamed output of the calls and jobd's own step lines go to on_line; the
 * outcome to on_done, exactly once and never from inside exec_new(). Neither callback may
 * free the exec: the caller frees it later (from its own event). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "proto/scan.h"
#include "svc-jobs/jobd-job.h"

/* How long hostd gets to confirm a cancel before jobd drops the connection (hostd treats a
 * vanished client like a cancel, so the work stops either way). */
#define EXEC_CANCEL_TIMEOUT_USEC (10ULL * 1000000ULL)

struct exec;

struct exec_result {
        enum job_state state; /* JOB_SUCCEEDED, JOB_FAILED or JOB_CANCELLED */
        bool has_exit_code;
        int64_t exit_code;
        /* The host service could not be reached or dropped the call: the outcome is unknown,
         * so an idempotent job may be run again. */
        bool host_lost;
        char error[JOB_ERROR_MAX]; /* empty on success */
};

struct exec_ops {
        void (*on_line)(struct exec *x, const char *stream, const char *text, size_t len, void *userdata);
        void (*on_done)(struct exec *x, const struct exec_result *r, void *userdata);
        /* Optional: hostd named a systemd unit the job runs (a notification's or a result's
         * `unit` field, e.g. overlay.build's transient unit). Not validated here. */
        void (*on_unit)(struct exec *x, const char *unit, size_t len, void *userdata);
};

/* The hostd calls a kind is made of (for docs and tests): NULL-terminated. */
const char *const *exec_steps(enum job_kind kind);

/* Starts running (from the next loop iteration). p is copied. */
int exec_new(sd_event *e, const char *host_socket, const struct mp_limits *limits, enum job_kind kind,
             const struct job_payload *p, const struct exec_ops *ops, void *userdata, struct exec **ret);
/* Asks the running call to stop; no further steps start. The outcome still comes via on_done. */
void exec_cancel(struct exec *x);
struct exec *exec_free(struct exec *x);
