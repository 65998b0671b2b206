/* The scheduler of jobd: pure functions over the active jobs' resource keys
 * (architecture.md §2 "Scheduling by resource keys").
 *
 * A key held in mode exclusive conflicts with any other holder of that key; shared holders
 * only conflict with exclusive ones. A queued job starts when none of its keys conflicts
 * with a running job's, nor with a job queued before it (so jobs wait in submission order
 * per key: a stream of shared holders cannot starve an exclusive one). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "svc-jobs/jobd-job.h"

struct sched_job {
        int64_t id;
        enum job_kind kind;
        bool running; /* running or cancelling: holds its keys */
        const struct job_key *keys;
        size_t n_keys;
        const void *payload; /* canonical packed payload, for coalescing */
        size_t payload_len;
};

/* True if the two key sets cannot be held at the same time. */
bool sched_conflict(const struct job_key *a, size_t na, const struct job_key *b, size_t nb);

/* jobs holds every active job; the queued ones in submission order. Writes to ret (room for n
 * indices) the queued jobs that may start now, in order, at most free_workers of them.
 * Returns how many, or -ENOMEM. */
ssize_t sched_pick(const struct sched_job *jobs, size_t n, unsigned free_workers, size_t *ret);

/* The index of the first queued job that a new submission of (kind, payload) coalesces into:
 * same kind, a kind that coalesces, byte-identical canonical payload. -1 if none. */
ssize_t sched_coalesce(const struct sched_job *jobs, size_t n, enum job_kind kind, const void *payload,
                       size_t payload_len);
