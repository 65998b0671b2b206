/* The journal side of logd: one shared sd_journal for the whole daemon, reads, and
 * followers.
 *
 * Design (docs/logs.md has the measurements behind it):
 *   - One sd_journal, opened at start-up. Its inotify fd sits in the sd-event loop
 *     (sd_journal_get_fd / sd_journal_get_events / sd_journal_process); nothing ever
 *     calls sd_journal_wait. A read or a follower step sets the journal's matches for
 *     its target, seeks, iterates, and leaves; nothing is kept positioned between steps.
 *   - A follower is a position (a cursor, or "from the head" / "from a time") plus its
 *     target. Each step re-seeks with sd_journal_seek_cursor and skips the entry the
 *     cursor names (sd_journal_test_cursor), so there is no gap and no duplicate, across
 *     journal rotation too (SD_JOURNAL_INVALIDATE just re-reads the file list).
 *   - The journal is the buffer. A follower whose connection has more than half its
 *     output cap queued stops being stepped; the connection's drain hook resumes it
 *     from its cursor. A stalled client therefore costs its cursor and its connection's
 *     bounded output buffer, nothing more. It loses entries only if the journal itself
 *     deletes them (vacuum) before it catches up; it is then sent {type: "lost"}.
 *   - Work per wakeup is capped (LOGD_STEP_ENTRIES per follower per round, rounds run
 *     from a defer source below the connections' priority), so one busy unit cannot
 *     starve other clients. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "proto/server.h"
#include "svc-logs/logd-target.h"

#define LOGD_LINES_DEFAULT  200
#define LOGD_LINES_MAX      10000
#define LOGD_STEP_ENTRIES   256        /* per follower per round */
#define LOGD_READ_MAX_BYTES (4u << 20) /* one logs.read reply, at most */
#define LOGD_FOLLOWERS_MAX  1024

struct logd;

struct logd_stats {
        unsigned followers;
        unsigned paused;
        uint64_t entries_sent;
        uint64_t lost;
        uint64_t wakeups;
        uint64_t invalidations;
        uint64_t current_from_bus;     /* "current" answered by systemd over D-Bus */
        uint64_t current_from_journal; /* ... by the journal's newest entry (fallback) */
};

/* journal_dir NULL: the local system journal; else the journal files in that directory
 * (tests and benchmarks). use_bus: ask systemd for a unit's current InvocationID. */
int logd_new(sd_event *e, const char *journal_dir, bool use_bus, struct logd **ret);
struct logd *logd_free(struct logd *l);
/* Where jobd listens (for the job target), and the message size limit for its answers. */
int logd_set_jobs_socket(struct logd *l, const char *path, size_t max_message_bytes);
void logd_get_stats(const struct logd *l, struct logd_stats *ret);

/* A request after argument validation. */
struct logd_request {
        struct logd_target target;
        enum logd_inv inv_mode;
        char inv_id[LOGD_ID128_LEN + 1];
        int64_t lines;            /* tail length when neither since nor after_cursor is given */
        int64_t since_usec;       /* -1: none */
        const char *after_cursor; /* NULL: none; copied */
};

/* logs.read: answers the call now or (while the current invocation is looked up) later. */
int logd_read(struct logd *l, struct rpc_call *call, const struct logd_request *req);
/* logs.follow: streams until the client cancels or leaves; for a job target, until the job
 * has ended and its window is over (then answers {cursor, job: {id, state}}). */
int logd_follow(struct logd *l, struct rpc_call *call, const struct logd_request *req);
