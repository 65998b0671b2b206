/* The job manager of jobd: the in-memory view of active (queued, running, cancelling) jobs
 * over jobs.db, the scheduling pass, the executors of running jobs, and the watchers that
 * follow a job's output (jobd-manager.c, jobd-dispatch.c, jobd-watch.c). Every change is
 * committed to the database first, then shown. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "proto/server.h"
#include "svc-jobs/jobd-db.h"
#include "svc-jobs/jobd-job.h"

/* Submissions are refused (unavailable) beyond this many active jobs. */
#define MANAGER_MAX_ACTIVE 10000
/* Finished jobs are deleted this long after they finished. */
#define MANAGER_RETENTION_USEC (30ULL * 24 * 3600 * 1000000ULL)

struct manager;

/* The answer to a submission that manager_submit() took: after the batch it is in was
 * committed (e NULL; id, coalesced, and rec the job as stored, or NULL: read it), or failed
 * to be (e says why; nothing of it is stored). */
typedef void (*manager_submitted_t)(struct manager *m, struct rpc_call *call, int64_t id, bool coalesced,
                                    const struct job_record *rec, const struct rpc_error *e);

struct manager_config {
        sd_event *event;
        struct rpc_server *server; /* for busy refs; NULL in tests */
        const char *db_path;
        const char *host_socket;
        unsigned workers;
        size_t max_message_bytes;
        manager_submitted_t on_submitted;
};

int manager_new(const struct manager_config *c, struct manager **ret);
struct manager *manager_free(struct manager *m);
struct jobd_db *manager_db(struct manager *m);
void manager_counts(const struct manager *m, unsigned *ret_queued, unsigned *ret_running);

/* Submits a new job. subjects are the caller's extra tags (validated). Returns:
 *   < 0  refused (e says why); call is untouched, answer it;
 *   1    coalesced into a queued job that is already stored (*ret_id): answer now;
 *   0    call is deferred and joins the group commit: on_submitted answers it once the
 *        batch is durable (or failed), never before. */
int manager_submit(struct manager *m, struct rpc_call *call, enum job_kind kind, const char *owner,
                   const struct job_submitter *by, char *const *subjects, const struct job_payload *p,
                   int64_t *ret_id, struct rpc_error *e);
/* queued → cancelled now; running → cancelling (the host call is cancelled). */
int manager_cancel(struct manager *m, int64_t id, struct rpc_error *e);
/* Streams the job's lines after after_seq, then live lines and state changes, then answers
 * the call with {job} once the job has ended. Takes over the (deferred) call. */
int manager_watch(struct manager *m, struct rpc_call *call, int64_t id, int64_t after_seq,
                  struct rpc_error *e);

/* Packs a job as a map; full includes the payload's spec/script texts. */
void manager_pack_job(msgpack_packer *pk, const struct job_record *j, bool full);
