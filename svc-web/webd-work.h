/* A small pool of worker threads for the work webd must never do on its loop: argon2id
 * (tens of milliseconds and 19+ MiB per call, on purpose). A job is submitted from the loop,
 * run() runs on a worker, done() runs back on the loop, delivered through an
 * h2o_multithread_queue. The queue of waiting jobs is bounded: beyond it submit() says
 * -EBUSY and the caller answers 503 with Retry-After, so a login flood costs a bounded
 * amount of memory and never delays requests that need no hashing.
 *
 * A job that answers an HTTP request binds it (webd_job_bind_req): if the client goes away
 * before done() runs, h2o frees the request and job->req becomes NULL, so done() can tell
 * and must not respond. The job belongs to the submitter, who frees it in done(). */
#pragma once

#include <h2o.h>
#include <stdbool.h>

struct webd_job;
typedef void (*webd_job_fn)(struct webd_job *j);

struct webd_job {
        h2o_multithread_message_t _msg; /* the result's link back to the loop */
        h2o_linklist_t _queued;         /* waiting for a worker */
        webd_job_fn run;                /* on a worker thread: touches only the job */
        webd_job_fn done;               /* on the loop; cancelled = true if the pool was freed first */
        h2o_req_t *req;                 /* the request it answers, NULL once that is gone */
        void **_req_slot;
        bool cancelled;
};

struct webd_work;

int webd_work_new(h2o_loop_t *loop, unsigned threads, unsigned max_queued, struct webd_work **ret);
/* Stops the workers (each finishes its current job), then calls done() of every job not
 * yet delivered, with cancelled set for those never run. */
struct webd_work *webd_work_free(struct webd_work *w);
/* 0, or -EBUSY if max_queued jobs already wait (nothing is queued). */
int webd_work_submit(struct webd_work *w, struct webd_job *j);
/* Makes j->req track req's lifetime. Call before submitting; done() may then respond to
 * j->req if it is not NULL, and free the job. */
void webd_job_bind_req(struct webd_job *j, h2o_req_t *req);
/* Jobs submitted and not yet delivered (queued + running + results in flight). */
unsigned webd_work_pending(const struct webd_work *w);
unsigned long long webd_work_refused(const struct webd_work *w);
