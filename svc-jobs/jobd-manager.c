/* The job manager: the view of active jobs over jobs.db. See jobd-manager-internal.h for how
 * its files divide the work. */
#include <assert.h>
#include <stdio.h>

#include "base/log.h"
#include "proto/map.h"
#include "svc-jobs/jobd-exec.h"
#include "svc-jobs/jobd-manager-internal.h"
#include "svc-jobs/jobd-sched.h"

struct jobd_db *manager_db(struct manager *m) {
        return m->db;
}

void manager_counts(const struct manager *m, unsigned *ret_queued, unsigned *ret_running) {
        *ret_queued = m->n_active - m->n_running;
        *ret_running = m->n_running;
}

/* The group commit's bounds and the order of the deferred work (see "group commit" below). */
#define BATCH_MAX       256
#define BATCH_MAX_BYTES (8u * 1024 * 1024)
#define BATCH_MAX_USEC  (5 * 1000ULL)
#define COMMIT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)
/* The scheduling pass (O(active jobs)) runs after the sockets' events too, so it does not sit
 * between a commit and the writing of its answers, and before the next commit. */
#define SCHEDULE_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 1)

/* Keeps the daemon from idle-exiting while any job is queued or running. */
static void update_busy(struct manager *m) {
        bool want = m->n_active > 0;

        if (want == m->busy || !m->server)
                return;
        m->busy = want;
        if (want)
                rpc_server_busy_ref(m->server);
        else
                rpc_server_busy_unref(m->server);
}

/* Arms the watchdog that runs the commit and the scheduling pass within BATCH_MAX_USEC even if
 * the sockets never leave the loop quiet (see "group commit" below), unless it is armed. */
static void watchdog_arm(struct manager *m) {
        uint64_t now;
        int on = 0;

        if (sd_event_source_get_enabled(m->commit_timer, &on) >= 0 && on == SD_EVENT_OFF &&
            sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0 &&
            sd_event_source_set_time(m->commit_timer, now + BATCH_MAX_USEC) >= 0)
                (void) sd_event_source_set_enabled(m->commit_timer, SD_EVENT_ONESHOT);
}

void schedule_soon(struct manager *m) {
        (void) sd_event_source_set_enabled(m->schedule_source, SD_EVENT_ONESHOT);
        watchdog_arm(m);
}

/* ---- the active list --------------------------------------------------------------------- */

struct active *active_free(struct active *a) {
        if (!a)
                return NULL;
        job_record_done(&a->rec);
        job_payload_done(&a->payload);
        job_keys_free(a->keys, a->n_keys);
        exec_free(a->exec);
        free(a);
        return NULL;
}

struct active *active_find(struct manager *m, int64_t id) {
        for (struct active *a = m->head; a; a = a->next)
                if (a->rec.id == id)
                        return a;
        return NULL;
}

/* Inserts keeping id order (a retried job keeps its place). */
static void active_link(struct manager *m, struct active *a) {
        struct active *after = m->tail;

        while (after && after->rec.id > a->rec.id)
                after = after->prev;
        a->prev = after;
        a->next = after ? after->next : m->head;
        if (a->next)
                a->next->prev = a;
        else
                m->tail = a;
        if (after)
                after->next = a;
        else
                m->head = a;
        a->m = m;
        m->n_active++;
        update_busy(m);
}

void active_unlink(struct manager *m, struct active *a) {
        if (a->prev)
                a->prev->next = a->next;
        else
                m->head = a->next;
        if (a->next)
                a->next->prev = a->prev;
        else
                m->tail = a->prev;
        a->prev = a->next = NULL;
        m->n_active--;
        update_busy(m);
}

/* Takes ownership of *rec's contents on success. */
static int active_new(struct manager *m, struct job_record *rec, struct active **ret) {
        struct active *a;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        r = job_payload_unpack(rec->kind, rec->payload, rec->payload_len, &a->payload);
        if (r >= 0)
                r = job_keys_parse(rec->keys, &a->keys, &a->n_keys);
        if (r < 0) {
                active_free(a);
                return r;
        }
        a->rec = *rec;
        *rec = (struct job_record){};
        a->next_seq = a->rec.last_seq + 1;
        *ret = a;
        return 0;
}

/* ---- lines and state changes ------------------------------------------------------------- */

/* Stores one output line of an active job and shows it to its watchers. */
void add_line(struct active *a, const char *stream, const char *text, size_t len) {
        struct manager *m = a->m;
        char buf[JOB_LINE_MAX + 1];
        struct job_line l;
        int r;

        if (a->next_seq > JOB_LINES_MAX) {
                a->dropped_lines++;
                return;
        }
        (void) job_line_sanitize(text, len, buf, NULL);
        l = (struct job_line){.seq = a->next_seq, .stream = stream, .text = buf, .usec = wall_usec()};
        r = jobd_db_append_line(m->db, a->rec.id, &l);
        if (r < 0) {
                a->dropped_lines++;
                log_error_errno(r, "Failed to store a line of job %lld, dropping it: %m (%s)",
                                (long long) a->rec.id, jobd_db_errmsg(m->db));
                return;
        }
        a->next_seq++;
        watchers_line(m, a->rec.id, &l);
}

void add_linef(struct active *a, const char *stream, const char *fmt, ...) {
        char buf[JOB_LINE_MAX];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = job_line_vformat(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n >= 0)
                add_line(a, stream, buf, (size_t) n);
}

/* Commits a's new state (already set in next) with an optional line, in one transaction; on
 * success a->rec takes next's fields. */
int commit_state(struct active *a, struct job_record *next, const char *stream, const char *fmt, ...) {
        struct manager *m = a->m;
        char buf[JOB_LINE_MAX + 1], raw[JOB_LINE_MAX];
        struct job_line l = {};
        enum job_state from = a->rec.state;
        va_list ap;
        int r;

        if (!job_transition_ok(from, next->state))
                return log_error_errno(-EINVAL, "Refusing to move job %lld from %s to %s.",
                                       (long long) a->rec.id, job_state_to_string(from),
                                       job_state_to_string(next->state));
        next->updated_usec = wall_usec();
        if (fmt) {
                int n;
                va_start(ap, fmt);
                n = job_line_vformat(raw, sizeof(raw), fmt, ap);
                va_end(ap);
                (void) job_line_sanitize(raw, n < 0 ? 0 : (size_t) n, buf, NULL);
                l = (struct job_line){
                        .seq = a->next_seq, .stream = stream, .text = buf, .usec = next->updated_usec};
        }
        r = jobd_db_update(m->db, next, from, fmt ? &l : NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to store the state of job %lld: %m (%s)",
                                       (long long) a->rec.id, jobd_db_errmsg(m->db));
        a->rec.state = next->state;
        a->rec.has_exit_code = next->has_exit_code;
        a->rec.exit_code = next->exit_code;
        if (next->error != a->rec.error) {
                free(a->rec.error);
                a->rec.error = next->error ? strdup(next->error) : NULL;
        }
        a->rec.attempts = next->attempts;
        a->rec.started_usec = next->started_usec;
        a->rec.finished_usec = next->finished_usec;
        a->rec.updated_usec = next->updated_usec;
        if (fmt) {
                a->next_seq++;
                watchers_line(m, a->rec.id, &l);
        }
        return 0;
}

/* A shallow copy of a's record to modify and commit (strings stay a's). */
struct job_record record_next(const struct active *a, enum job_state state) {
        struct job_record n = a->rec;
        n.state = state;
        return n;
}

/* The executor of a finished run may be the caller up the stack: park it, and free it at the
 * next scheduling pass. The array has room for one per worker (allocated at start-up): runs
 * only start in that pass, right after it empties the array. */
void park_exec(struct manager *m, struct active *a) {
        if (!a->exec)
                return;
        assert(m->n_dead < m->n_dead_alloc);
        m->dead[m->n_dead++] = TAKE_PTR(a->exec);
}

/* Moves a (now terminal) out of the active list and tells its watchers. */
void retire(struct active *a) {
        struct manager *m = a->m;

        park_exec(m, a);
        active_unlink(m, a);
        watchers_state(m, NULL, &a->rec);
        active_free(a);
        schedule_soon(m);
}

/* ---- operations -------------------------------------------------------------------------- */

/* ---- group commit -----------------------------------------------------------------------
 *
 * A submission is acknowledged only once it is durable, and an fsync costs as much as the
 * rest of a submission together (docs/performance.md). So submissions that arrive together
 * share one: manager_submit() parks the call in m->batch; commit_source, a deferred source
 * of lower priority than the sockets', runs once the loop has dispatched every request that
 * was readable, and stores the whole batch in one transaction (jobd_db_insert_many); only
 * then are the calls answered, all of them with the job, or all of them with the error if
 * the commit failed. Nothing is visible (active list, scheduler, jobs.get) before the
 * commit. A lone submitter's batch of one is stored in the same loop iteration. The batch
 * is bounded: at BATCH_MAX entries or BATCH_MAX_BYTES of payload the commit runs before
 * anything else, and commit_timer stores it within BATCH_MAX_USEC if other work kept the
 * loop busy all along. The timer is a watchdog, armed by the first batch that finds it off
 * and left to expire (flushing whatever batch is there then), not re-armed per batch: that
 * would cost a lone submitter three timerfd calls per job. */
static void batch_flush(struct manager *m) {
        _cleanup_free_ struct job_record **recs = NULL;
        struct pending *batch = TAKE_PTR(m->batch);
        size_t n = m->n_batch, n_recs = 0;
        struct rpc_error e;
        int r;

        m->n_batch = m->batch_alloc = m->batch_bytes = 0;
        (void) sd_event_source_set_enabled(m->commit_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->commit_source, COMMIT_PRIORITY);
        if (n == 0)
                return;

        recs = calloc(n, sizeof(*recs));
        if (recs) {
                for (size_t i = 0; i < n; i++)
                        if (batch[i].into < 0)
                                recs[n_recs++] = &batch[i].rec;
                r = jobd_db_insert_many(m->db, recs, n_recs);
        } else
                r = -ENOMEM;
        if (r < 0) {
                log_error_errno(r, "Failed to store %zu new job(s): %m (%s)", n_recs, jobd_db_errmsg(m->db));
                rpc_error_set(&e, RPC_UNAVAILABLE, "cannot store the job: %s", strerror(-r));
        } else
                log_debug("Stored %zu new job(s) in one commit (%zu submission(s)).", n_recs, n);

        for (size_t i = 0; i < n && r >= 0; i++) {
                struct pending *p = &batch[i];
                struct active *a;
                int k;

                if (p->into >= 0) {
                        p->id = batch[p->into].id;
                        p->a = batch[p->into].a;
                        continue;
                }
                p->id = p->rec.id;
                /* Committed: from here on the job exists whatever happens to this process. */
                k = active_new(m, &p->rec, &a);
                if (k < 0) {
                        log_error_errno(k,
                                        "Job %lld is stored but cannot be scheduled until jobd restarts: %m",
                                        (long long) p->id);
                        continue;
                }
                active_link(m, a);
                p->a = a;
        }
        if (r >= 0)
                schedule_soon(m);
        /* The records are as committed (the scheduling pass that may start them comes after):
         * the answers need not read them back. */
        for (size_t i = 0; i < n; i++) {
                const struct job_record *rec = batch[i].a ? &batch[i].a->rec : NULL;
                m->on_submitted(m, batch[i].call, batch[i].id, batch[i].into >= 0, rec, r < 0 ? &e : NULL);
                job_record_done(&batch[i].rec);
        }
        free(batch);
}

static int on_commit(sd_event_source *s, void *userdata) {
        batch_flush(userdata);
        return 0;
}

static int on_commit_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        int on = 0;

        batch_flush(m); /* if the loop was quiet, the batch was stored long ago */
        /* The scheduling pass waits for a quiet loop too (SCHEDULE_PRIORITY): not forever. */
        if (sd_event_source_get_enabled(m->schedule_source, &on) >= 0 && on != SD_EVENT_OFF) {
                (void) sd_event_source_set_enabled(m->schedule_source, SD_EVENT_OFF);
                (void) on_schedule(m->schedule_source, m);
        }
        return 0;
}

/* Adds a submission to the batch (taking *rec's contents; into: see struct pending). */
static int batch_add(struct manager *m, struct rpc_call *call, struct job_record *rec, ssize_t into) {
        if (m->n_batch == m->batch_alloc) {
                size_t n = m->batch_alloc ? 2 * m->batch_alloc : 16;
                struct pending *v = realloc(m->batch, n * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                m->batch = v;
                m->batch_alloc = n;
        }
        m->batch[m->n_batch++] = (struct pending){.call = call, .rec = *rec, .into = into};
        m->batch_bytes += rec->payload_len;
        *rec = (struct job_record){};
        rpc_call_defer(call);
        if (m->n_batch == 1) {
                (void) sd_event_source_set_enabled(m->commit_source, SD_EVENT_ONESHOT);
                watchdog_arm(m);
        }
        if (m->n_batch >= BATCH_MAX || m->batch_bytes >= BATCH_MAX_BYTES)
                (void) sd_event_source_set_priority(m->commit_source, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

/* The job of the batch that a submission of (kind, payload, owner) coalesces into, or -1: the
 * same rule as sched_coalesce() over the queued jobs, the batch being the newest of them. */
static ssize_t batch_coalesce(struct manager *m, enum job_kind kind, const void *payload, size_t len,
                              const char *owner) {
        for (size_t i = 0; i < m->n_batch; i++) {
                const struct job_record *r = &m->batch[i].rec;
                if (m->batch[i].into >= 0 || r->kind != kind || r->payload_len != len ||
                    memcmp(r->payload, payload, len) != 0)
                        continue;
                return streq(r->owner, owner) ? (ssize_t) i : -1;
        }
        return -1;
}

int manager_submit(struct manager *m, struct rpc_call *call, enum job_kind kind, const char *owner,
                   const struct job_submitter *by, char *const *subjects, const struct job_payload *p,
                   int64_t *ret_id, struct rpc_error *e) {
        _cleanup_(job_record_done) struct job_record rec = {};
        struct job_key *keys = NULL;
        struct rpc_buf b;
        size_t n_keys = 0, n_new = 0;
        int r;

        rpc_buf_init(&b, 0);
        job_payload_pack(p, &b.pk);
        if (!rpc_buf_ok(&b)) {
                rpc_buf_done(&b);
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        }

        if (job_kind_info(kind)->coalesce) {
                _cleanup_free_ struct sched_job *jobs = NULL;
                _cleanup_free_ struct active **map = NULL;
                ssize_t i;
                int n = snapshot(m, &jobs, &map);

                if (n < 0) {
                        rpc_buf_done(&b);
                        return rpc_error_set(e, RPC_INTERNAL, "out of memory");
                }
                i = sched_coalesce(jobs, (size_t) n, kind, b.data, b.len);
                /* Only into a job of the same owner: another's id would let the caller watch and
                 * cancel a job that is not its own. */
                if (i >= 0 && streq(map[i]->rec.owner, owner)) {
                        rpc_buf_done(&b);
                        *ret_id = map[i]->rec.id;
                        return 1;
                }
                if (i < 0) {
                        /* Not stored yet: the answer waits for the same commit. */
                        i = batch_coalesce(m, kind, b.data, b.len, owner);
                        if (i >= 0) {
                                rpc_buf_done(&b);
                                r = batch_add(m, call, &rec, i);
                                return r < 0 ? rpc_error_set(e, RPC_INTERNAL, "out of memory") : 0;
                        }
                }
        }
        for (size_t i = 0; i < m->n_batch; i++)
                n_new += m->batch[i].into < 0;
        if (m->n_active + n_new >= MANAGER_MAX_ACTIVE) {
                rpc_buf_done(&b);
                return rpc_error_set(e, RPC_UNAVAILABLE, "the queue is full (%u active jobs)", m->n_active);
        }

        rec.kind = kind;
        rec.payload = b.data; /* takes the buffer */
        rec.payload_len = b.len;
        rec.owner = strdup(owner);
        rec.submitter = *by;
        r = rec.owner ? job_keys_derive(kind, p, &keys, &n_keys) : -ENOMEM;
        if (r >= 0)
                r = job_keys_format(keys, n_keys, &rec.keys);
        job_keys_free(keys, n_keys);
        if (r >= 0)
                r = job_subjects_derive(kind, p, subjects, &rec.subjects);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot prepare the job: %s", strerror(-r));
        rec.created_usec = wall_usec();
        r = batch_add(m, call, &rec, -1);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        return 0;
}

int job_lookup(struct manager *m, int64_t id, struct job_record *ret, struct rpc_error *e) {
        int r = jobd_db_get(m->db, id, ret);

        if (r == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "job %lld: no such job", (long long) id);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "job %lld: cannot read: %s", (long long) id,
                                     strerror(-r));
        return 0;
}

int manager_cancel(struct manager *m, int64_t id, struct rpc_error *e) {
        struct active *a = active_find(m, id);
        struct job_record next;
        int r;

        if (!a) {
                struct job_record rec;
                r = job_lookup(m, id, &rec, e);
                if (r < 0)
                        return r;
                r = rpc_error_set(e, RPC_CONFLICT, "job %lld already ended (%s)", (long long) id,
                                  job_state_to_string(rec.state));
                job_record_done(&rec);
                return r;
        }
        switch (a->rec.state) {
        case JOB_QUEUED:
                next = record_next(a, JOB_CANCELLED);
                next.finished_usec = wall_usec();
                next.error = (char *) "cancelled before it started";
                r = commit_state(a, &next, "stderr", "job cancelled before it started");
                if (r < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "cannot store the cancel: %s", strerror(-r));
                retire(a);
                return 0;
        case JOB_RUNNING:
                next = record_next(a, JOB_CANCELLING);
                r = commit_state(a, &next, "info", "cancel requested");
                if (r < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "cannot store the cancel: %s", strerror(-r));
                watchers_state(m, a, &a->rec);
                if (a->exec)
                        exec_cancel(a->exec);
                return 0;
        default:
                return 0; /* already cancelling */
        }
}

/* ---- start-up ---------------------------------------------------------------------------- */

struct recover_ctx {
        struct manager *m;
        struct job_record *recs;
        size_t n, alloc;
};

static int collect(const struct job_record *j, void *userdata) {
        struct recover_ctx *c = userdata;
        struct job_record copy = *j;

        if (c->n == c->alloc) {
                size_t n = c->alloc ? 2 * c->alloc : 64;
                struct job_record *v = realloc(c->recs, n * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->recs = v;
                c->alloc = n;
        }
        /* The callback's record is freed after it returns: steal its allocations. */
        ((struct job_record *) j)->owner = NULL;
        ((struct job_record *) j)->subjects = NULL;
        ((struct job_record *) j)->keys = NULL;
        ((struct job_record *) j)->payload = NULL;
        ((struct job_record *) j)->error = NULL;
        ((struct job_record *) j)->units = NULL;
        c->recs[c->n++] = copy;
        return 0;
}

/* Settles what a previous jobd left behind (documented in docs/jobs.md):
 *   running, idempotent kind, attempts left → queued again, with a line saying why;
 *   running otherwise                      → failed, "the executor died";
 *   cancelling                             → cancelled.
 * Then loads every queued job. */
static int recover(struct manager *m) {
        struct recover_ctx c = {.m = m};
        int r;

        r = jobd_db_foreach_active(m->db, collect, &c);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < c.n; i++) {
                struct job_record *j = &c.recs[i];
                struct active *a;

                r = active_new(m, j, &a);
                if (r < 0) {
                        log_error_errno(r, "Job %lld in jobs.db cannot be read, ignoring: %m",
                                        (long long) j->id);
                        continue;
                }
                active_link(m, a);
                if (a->rec.state == JOB_RUNNING) {
                        struct job_record next;
                        if (job_kind_info(a->rec.kind)->idempotent && a->rec.attempts < JOB_ATTEMPTS_MAX) {
                                next = record_next(a, JOB_QUEUED);
                                r = commit_state(
                                        a, &next, "info",
                                        "jobd stopped while this job was running; running it again");
                                log_info("Job %lld (%s) was running when jobd stopped; queued again.",
                                         (long long) a->rec.id, job_kind_to_string(a->rec.kind));
                        } else {
                                next = record_next(a, JOB_FAILED);
                                next.finished_usec = wall_usec();
                                next.error = (char *) "the executor died";
                                r = commit_state(
                                        a, &next, "stderr",
                                        "jobd stopped while this job was running; the executor died "
                                        "(attempt %d; %s is not run again)",
                                        a->rec.attempts, job_kind_to_string(a->rec.kind));
                                log_info("Job %lld (%s) was running when jobd stopped; marked failed.",
                                         (long long) a->rec.id, job_kind_to_string(a->rec.kind));
                        }
                } else if (a->rec.state == JOB_CANCELLING) {
                        struct job_record next = record_next(a, JOB_CANCELLED);
                        next.finished_usec = wall_usec();
                        next.error = (char *) "cancelled";
                        r = commit_state(a, &next, "info",
                                         "jobd stopped while cancelling this job; job cancelled");
                } else
                        r = 0;
                if (r < 0)
                        goto finish;
                if (a->rec.state != JOB_QUEUED) {
                        active_unlink(m, a);
                        active_free(a);
                }
        }
        r = 0;
finish:
        for (size_t i = 0; i < c.n; i++)
                job_record_done(&c.recs[i]);
        free(c.recs);
        return r;
}

int manager_new(const struct manager_config *c, struct manager **ret) {
        struct manager *m;
        int64_t pruned = 0;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(c->event);
        m->server = c->server;
        m->on_submitted = c->on_submitted;
        m->workers = MAX(c->workers, 1u);
        m->limits = (struct mp_limits){.max_bytes = c->max_message_bytes};
        mp_limits_normalize(&m->limits);
        m->n_dead_alloc = m->workers;
        m->dead = calloc(m->n_dead_alloc, sizeof(*m->dead));
        m->host_socket = strdup(c->host_socket);
        if (!m->host_socket || !m->dead) {
                r = -ENOMEM;
                goto fail;
        }
        r = sd_event_add_defer(m->event, &m->schedule_source, on_schedule, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(m->schedule_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(m->schedule_source, "jobd-schedule");
        (void) sd_event_source_set_priority(m->schedule_source, SCHEDULE_PRIORITY);
        r = sd_event_add_defer(m->event, &m->commit_source, on_commit, m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(m->commit_source, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->commit_source, COMMIT_PRIORITY);
        (void) sd_event_source_set_description(m->commit_source, "jobd-commit");
        r = sd_event_add_time(m->event, &m->commit_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_commit_timer,
                              m);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(m->commit_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(m->commit_timer, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_description(m->commit_timer, "jobd-commit-timer");

        r = jobd_db_open(c->db_path, &m->db);
        if (r < 0) {
                log_error_errno(r, "Failed to open the job database '%s': %m", c->db_path);
                goto fail;
        }
        r = recover(m);
        if (r < 0) {
                log_error_errno(r, "Failed to recover the jobs of the previous run: %m");
                goto fail;
        }
        if (jobd_db_prune(m->db, wall_usec() - MANAGER_RETENTION_USEC, &pruned) < 0)
                log_warning("Failed to delete old jobs, ignoring: %s", jobd_db_errmsg(m->db));
        else if (pruned > 0)
                log_info("Deleted %lld jobs that finished more than 30 days ago.", (long long) pruned);
        schedule_soon(m);
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        /* Submissions not yet committed are not stored: say so (their connections are gone
         * already at a stop; this frees the calls). */
        for (size_t i = 0; i < m->n_batch; i++) {
                (void) rpc_call_fail(m->batch[i].call, RPC_UNAVAILABLE, "the job service is stopping");
                job_record_done(&m->batch[i].rec);
        }
        free(m->batch);
        sd_event_source_disable_unref(m->commit_source);
        sd_event_source_disable_unref(m->commit_timer);
        while (m->watchers) {
                struct watcher *w = m->watchers;
                watcher_unlink(w);
                rpc_call_set_abandon(w->call, NULL, NULL);
                (void) rpc_call_fail(w->call, RPC_UNAVAILABLE, "the job service is stopping");
                free(w);
        }
        /* Running jobs stay "running" in the database: the next start settles them. */
        while (m->head) {
                struct active *a = m->head;
                active_unlink(m, a);
                active_free(a);
        }
        for (size_t i = 0; i < m->n_dead; i++)
                exec_free(m->dead[i]);
        free(m->dead);
        sd_event_source_disable_unref(m->schedule_source);
        jobd_db_close(m->db);
        free(m->host_socket);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

/* ---- packing ----------------------------------------------------------------------------- */

static void pack_usec(msgpack_packer *pk, const char *key, uint64_t usec) {
        if (usec)
                rpc_pack_kv_uint(pk, key, usec);
        else
                rpc_pack_kv_nil(pk, key);
}

void manager_pack_job(msgpack_packer *pk, const struct job_record *j, bool full) {
        struct job_payload p = {};
        struct job_key *keys = NULL;
        size_t n_keys = 0;

        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_int(mpk, "id", j->id);
        rpc_pack_kv_str(mpk, "kind", job_kind_to_string(j->kind));
        rpc_pack_kv_str(mpk, "owner", j->owner);
        rpc_pack_kv_str(mpk, "state", job_state_to_string(j->state));
        rpc_pack_key(mpk, "subjects");
        msgpack_pack_array(mpk, strv_length(j->subjects));
        for (char **s = j->subjects; s && *s; s++)
                rpc_pack_str(mpk, *s);
        rpc_pack_key(mpk, "keys");
        if (job_keys_parse(j->keys, &keys, &n_keys) < 0)
                n_keys = 0;
        msgpack_pack_array(mpk, n_keys);
        for (size_t i = 0; i < n_keys; i++) {
                struct rpc_map inner;
                msgpack_packer *ipk = rpc_map_begin(&inner, mpk);
                rpc_pack_kv_str(ipk, "key", keys[i].name);
                rpc_pack_kv_str(ipk, "mode", keys[i].mode == JOB_KEY_EXCLUSIVE ? "exclusive" : "shared");
                (void) rpc_map_end(&inner);
        }
        job_keys_free(keys, n_keys);
        rpc_pack_key(mpk, "payload");
        if (job_payload_unpack(j->kind, j->payload, j->payload_len, &p) >= 0) {
                if (full)
                        job_payload_pack(&p, mpk);
                else
                        job_payload_pack_brief(&p, mpk);
                job_payload_done(&p);
        } else
                msgpack_pack_nil(mpk);
        if (j->has_exit_code)
                rpc_pack_kv_int(mpk, "exit_code", j->exit_code);
        else
                rpc_pack_kv_nil(mpk, "exit_code");
        rpc_pack_kv_str(mpk, "error", j->error);
        rpc_pack_kv_int(mpk, "attempts", j->attempts);
        rpc_pack_key(mpk, "submitter");
        if (j->submitter.uid >= 0) {
                struct rpc_map sm;
                msgpack_packer *spk = rpc_map_begin(&sm, mpk);
                rpc_pack_kv_int(spk, "uid", j->submitter.uid);
                rpc_pack_kv_int(spk, "pid", j->submitter.pid);
                (void) rpc_map_end(&sm);
        } else
                msgpack_pack_nil(mpk);
        pack_usec(mpk, "created_usec", j->created_usec);
        pack_usec(mpk, "started_usec", j->started_usec);
        pack_usec(mpk, "finished_usec", j->finished_usec);
        pack_usec(mpk, "updated_usec", j->updated_usec);
        rpc_pack_kv_int(mpk, "lines", j->last_seq);
        rpc_pack_key(mpk, "units");
        msgpack_pack_array(mpk, strv_length(j->units));
        for (char **u = j->units; u && *u; u++)
                rpc_pack_str(mpk, *u);
        (void) rpc_map_end(&map);
}
