/* The job manager's parts and the state they share. jobd-manager.h is the manager's API; this
 * header is only for its own files:
 *
 *   jobd-manager.c   the in-memory view of active (queued, running, cancelling) jobs over
 *                    jobs.db: the active list, committing lines and state changes, submit,
 *                    cancel, recovery at start-up, packing a job
 *   jobd-dispatch.c  the scheduling pass and the executors of running jobs
 *   jobd-watch.c     the watchers that follow a job's output (jobs.watch)
 *
 * Every change is committed to the database first, then shown to watchers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "base/util.h"
#include "proto/scan.h"
#include "svc-jobs/jobd-manager.h"

struct exec;
struct sched_job;

struct active {
        struct manager *m;
        struct active *prev, *next;
        struct job_record rec; /* as committed */
        struct job_payload payload;
        struct job_key *keys;
        size_t n_keys;
        struct exec *exec;
        int64_t next_seq;
        uint64_t dropped_lines;
};

struct watcher {
        struct manager *m;
        struct watcher *prev, *next;
        struct rpc_call *call;
        int64_t job_id;
        int64_t next_seq;
        bool waiting_drain;
};

/* A submission waiting for the group commit (see batch_add in jobd-manager.c). */
struct pending {
        struct rpc_call *call;
        struct job_record rec; /* to store; empty if it coalesces */
        ssize_t into;          /* >= 0: coalesces into batch[into] of the same batch */
        int64_t id;            /* once committed */
        struct active *a;      /* once committed: the job it made (or coalesced into) */
};

struct manager {
        sd_event *event;
        struct rpc_server *server;
        char *host_socket;
        unsigned workers;
        struct mp_limits limits;
        struct jobd_db *db;

        struct active *head, *tail; /* in id (submission) order */
        unsigned n_active, n_running;
        bool busy;
        struct watcher *watchers;

        sd_event_source *schedule_source;

        /* The group commit: submissions not yet stored, the deferred source that stores them
         * once the loop has nothing else to dispatch, the timer that stores them if it never
         * has, and who answers the calls. */
        struct pending *batch;
        size_t n_batch, batch_alloc, batch_bytes;
        sd_event_source *commit_source, *commit_timer;
        manager_submitted_t on_submitted;
        struct exec **dead; /* finished executors, freed at the next scheduling pass */
        size_t n_dead, n_dead_alloc;
};

static inline uint64_t wall_usec(void) {
        return realtime_usec();
}

/* ---- jobd-manager.c ---- */
void schedule_soon(struct manager *m);
/* Reads job id from the database; not there: e says not_found. */
int job_lookup(struct manager *m, int64_t id, struct job_record *ret, struct rpc_error *e);
struct active *active_find(struct manager *m, int64_t id);
void active_unlink(struct manager *m, struct active *a);
struct active *active_free(struct active *a);
/* Stores one output line of an active job and shows it to its watchers. */
void add_line(struct active *a, const char *stream, const char *text, size_t len);
void add_linef(struct active *a, const char *stream, const char *fmt, ...) _printf_(3, 4);
/* Commits a's new state (already set in next) with an optional line, in one transaction; on
 * success a->rec takes next's fields. */
int commit_state(struct active *a, struct job_record *next, const char *stream, const char *fmt, ...)
        _printf_(4, 5);
/* A shallow copy of a's record to modify and commit (strings stay a's). */
struct job_record record_next(const struct active *a, enum job_state state);
/* Parks a's finished executor, to be freed at the next scheduling pass. */
void park_exec(struct manager *m, struct active *a);
/* Moves a (now terminal) out of the active list and tells its watchers. */
void retire(struct active *a);

/* ---- jobd-dispatch.c ---- */
/* The scheduling pass (a deferred event source, enabled by schedule_soon()). */
int on_schedule(sd_event_source *s, void *userdata);
/* The active jobs as the pure scheduler sees them; (*ret_map)[i] is the job of (*ret_jobs)[i].
 * Returns their number. */
int snapshot(struct manager *m, struct sched_job **ret_jobs, struct active ***ret_map);

/* ---- jobd-watch.c ---- */
void watcher_unlink(struct watcher *w);
/* A line or a state change of job_id for its watchers (a: the active job, NULL once it ended). */
void watchers_line(struct manager *m, int64_t job_id, const struct job_line *l);
void watchers_state(struct manager *m, const struct active *a, const struct job_record *rec);
