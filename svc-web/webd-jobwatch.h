/* A job's log for many browsers at once: one jobs.watch per job, however many follow it.
 *
 * The first follower of a job starts a watch from the job's first line; every line is kept
 * (formatted as the SSE data it is sent as) in a buffer of the job's most recent lines and
 * published to the hub's topic "job:<id>", which every follower's stream is subscribed to.
 * A follower that joins later, or reconnects with Last-Event-ID, is first sent the lines
 * after its id from the buffer, then gets the live ones, so its stream has no gap and no
 * duplicate. Only a follower that needs lines the buffer no longer holds (a long build,
 * followed from its start after the buffer filled) gets a watch of its own. The watch goes
 * when its last follower does; a watch that breaks (jobd restarting) is started again from
 * the last line it had. So jobd sees one call per followed job, and webd's memory per
 * follower is its stream's.
 *
 * Caps: the buffer holds at most WEBD_JOBWATCH_LINES lines and WEBD_JOBWATCH_BYTES bytes per
 * job, at most WEBD_JOBWATCH_MAX jobs are watched at once (past it, a follower gets a watch of
 * its own, which the backend's call cap bounds). */
#pragma once

#include <msgpack.h>
#include <stdint.h>

#include "svc-web/webd-request.h"

#define WEBD_JOBWATCH_LINES 2000u
#define WEBD_JOBWATCH_BYTES (1024u * 1024u)
#define WEBD_JOBWATCH_MAX   256u

struct webd_jobwatch;
struct sse_stream;

int webd_jobwatch_new(struct webd *w, struct webd_jobwatch **ret);
void webd_jobwatch_free(struct webd_jobwatch *jw);
/* Makes stream s (already started, bound to rq) a follower of job_id from after_seq.
 * 1 if it was taken (lines will come, and the stream ends after the job's end), 0 if not
 * (the caller watches on its own), < 0 on ENOMEM. */
int webd_jobwatch_follow(struct webd_rq *rq, struct sse_stream *s, int64_t job_id, int64_t after_seq);
/* The SSE data of a jobs.watch line notification ({seq, stream, line}) and of a state or a
 * final job ({state, text, exit_code, error}); malloc'd, NULL on ENOMEM. */
char *webd_job_line_json(const msgpack_object *p, int64_t *ret_seq, size_t *ret_len);
char *webd_job_state_json(const msgpack_object *p, size_t *ret_len);
/* Jobs watched and their followers (sys.health and the bench). */
void webd_jobwatch_stats(const struct webd_jobwatch *jw, unsigned *ret_jobs, unsigned *ret_followers);
