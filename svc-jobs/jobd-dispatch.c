/* The scheduling pass and the executors of running jobs. See jobd-manager-internal.h. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "proto/map.h"
#include "svc-jobs/jobd-exec.h"
#include "svc-jobs/jobd-manager-internal.h"
#include "svc-jobs/jobd-sched.h"

/* ---- execution --------------------------------------------------------------------------- */

static void on_exec_line(struct exec *x, const char *stream, const char *text, size_t len, void *userdata) {
        add_line(userdata, stream, text, len);
}

static void on_exec_done(struct exec *x, const struct exec_result *result, void *userdata) {
        struct active *a = userdata;
        struct manager *m = a->m;
        const struct job_kind_info *info = job_kind_info(a->rec.kind);
        struct exec_result res = *result;
        struct job_record next;
        int r;

        m->n_running--;
        if (a->rec.state == JOB_RUNNING && res.state == JOB_CANCELLED) {
                /* Nobody here asked: the host service ended the call itself (it is stopping). */
                res.state = JOB_FAILED;
                res.host_lost = true;
                snprintf(res.error, sizeof(res.error), "the host service cancelled the call");
        }
        if (a->dropped_lines > 0) {
                uint64_t dropped = a->dropped_lines;
                a->next_seq = MIN(a->next_seq, (int64_t) JOB_LINES_MAX); /* room for the notices */
                add_linef(a, "info", "%llu further output lines were not stored (limit %d lines per job)",
                          (unsigned long long) dropped, JOB_LINES_MAX);
        }

        if (res.host_lost && res.state == JOB_FAILED && a->rec.state == JOB_RUNNING && info->idempotent &&
            a->rec.attempts < JOB_ATTEMPTS_MAX) {
                next = record_next(a, JOB_QUEUED);
                r = commit_state(a, &next, "info", "lost the host service (%s); running the job again",
                                 res.error);
                if (r >= 0) {
                        /* Stays active, back in the queue at its old place. */
                        park_exec(m, a);
                        watchers_state(m, a, &a->rec);
                        schedule_soon(m);
                        return;
                }
        }

        next = record_next(a, res.state);
        next.finished_usec = wall_usec();
        next.has_exit_code = res.has_exit_code;
        next.exit_code = res.exit_code;
        next.error = res.error[0] ? (char *) res.error : NULL;
        if (!job_transition_ok(a->rec.state, next.state))
                next.state = JOB_FAILED;
        switch (next.state) {
        case JOB_SUCCEEDED:
                r = commit_state(a, &next, "info", "job succeeded");
                break;
        case JOB_CANCELLED:
                r = commit_state(a, &next, "info", "job cancelled");
                break;
        default:
                r = commit_state(a, &next, "stderr", "job failed: %s",
                                 res.error[0] ? res.error : "unknown error");
                break;
        }
        if (r < 0)
                log_error("Job %lld ended %s but that could not be stored; jobd will settle it at its next "
                          "start.",
                          (long long) a->rec.id, job_state_to_string(next.state));
        retire(a);
}

/* Records a unit hostd named (once per unit), so jobs.get can tell logd whose journal to read. */
static void add_unit(struct active *a, const char *unit, size_t len) {
        struct manager *m = a->m;
        int r;

        r = job_units_add(&a->rec.units, unit, len);
        if (r == 0)
                return;
        if (r < 0) {
                log_warning_errno(r, "Job %lld: not recording unit '%.*s': %m", (long long) a->rec.id,
                                  (int) MIN(len, (size_t) UNIT_NAME_MAX), unit);
                return;
        }
        r = jobd_db_set_units(m->db, a->rec.id, a->rec.units);
        if (r < 0)
                log_error_errno(r, "Failed to store the units of job %lld: %m (%s)", (long long) a->rec.id,
                                jobd_db_errmsg(m->db));
}

static void on_exec_unit(struct exec *x, const char *unit, size_t len, void *userdata) {
        add_unit(userdata, unit, len);
}

static const struct exec_ops exec_ops = {
        .on_line = on_exec_line,
        .on_done = on_exec_done,
        .on_unit = on_exec_unit,
};

static void start_job(struct manager *m, struct active *a) {
        struct job_record next;
        int r;

        /* A server job runs (starts, stops, resets) the server's unit, whatever hostd answers. */
        if (a->payload.server) {
                char unit[UNIT_NAME_MAX];
                if (server_unit_name(a->payload.server, unit, sizeof(unit)) == 0)
                        add_unit(a, unit, strlen(unit));
        }
        next = record_next(a, JOB_RUNNING);
        next.attempts = a->rec.attempts + 1;
        next.started_usec = wall_usec();
        if (next.attempts > 1)
                r = commit_state(a, &next, "info", "starting attempt %d", next.attempts);
        else
                r = commit_state(a, &next, NULL, NULL);
        if (r < 0)
                return; /* stays queued; tried again at the next pass */
        m->n_running++;
        watchers_state(m, a, &a->rec);
        r = exec_new(m->event, m->host_socket, &m->limits, a->rec.kind, &a->payload, &exec_ops, a, &a->exec);
        if (r < 0) {
                struct exec_result res = {.state = JOB_FAILED};
                snprintf(res.error, sizeof(res.error), "cannot start the executor: %s", strerror(-r));
                on_exec_done(NULL, &res, a);
        }
}

/* The active jobs as the pure scheduler sees them; map[i] is the job of jobs[i]. */
int snapshot(struct manager *m, struct sched_job **ret_jobs, struct active ***ret_map) {
        _cleanup_free_ struct sched_job *jobs = NULL;
        _cleanup_free_ struct active **map = NULL;
        size_t n = 0;

        jobs = calloc(m->n_active ?: 1, sizeof(*jobs));
        map = calloc(m->n_active ?: 1, sizeof(*map));
        if (!jobs || !map)
                return -ENOMEM;
        for (struct active *a = m->head; a; a = a->next) {
                jobs[n] = (struct sched_job){
                        .id = a->rec.id,
                        .kind = a->rec.kind,
                        .running = a->rec.state != JOB_QUEUED,
                        .keys = a->keys,
                        .n_keys = a->n_keys,
                        .payload = a->rec.payload,
                        .payload_len = a->rec.payload_len,
                };
                map[n++] = a;
        }
        *ret_jobs = TAKE_PTR(jobs);
        *ret_map = TAKE_PTR(map);
        return (int) n;
}

int on_schedule(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;
        _cleanup_free_ struct sched_job *jobs = NULL;
        _cleanup_free_ struct active **map = NULL;
        _cleanup_free_ size_t *picked = NULL;
        ssize_t k;
        int n;

        for (size_t i = 0; i < m->n_dead; i++)
                exec_free(m->dead[i]);
        m->n_dead = 0;

        if (m->n_active == 0 || m->n_running >= m->workers)
                return 0;
        n = snapshot(m, &jobs, &map);
        picked = calloc((size_t) MAX(n, 1), sizeof(*picked));
        if (n < 0 || !picked)
                return log_error_errno(-ENOMEM, "Cannot schedule: %m");
        k = sched_pick(jobs, (size_t) n, m->workers - m->n_running, picked);
        if (k < 0)
                return log_error_errno((int) k, "Cannot schedule: %m");
        for (ssize_t i = 0; i < k; i++)
                start_job(m, map[picked[i]]);
        return 0;
}
