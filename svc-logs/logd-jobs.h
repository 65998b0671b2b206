/* logd's client of jobd: one jobs.get {id} over jobs.sock through the sd-event RPC client
 * (proto/client-sdevent.h), and the reading of its answer into a job target.
 *
 * Each ask is its own connection (connect, one call, close), so jobd's idle exit is never held
 * up by a follower that waits between polls. The timeout and the polling are the caller's
 * (svc-logs/logd-stream.c): they depend on the request. */
#pragma once

#include <msgpack.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "proto/rpc.h"
#include "proto/scan.h"
#include "svc-logs/logd-target.h"

struct logd_jobq;

/* The outcome of one ask. r < 0 with e filled: the job service was unreachable or failed
 * (RPC_UNAVAILABLE, or RPC_INVALID passed on), or has no such job (RPC_NOT_FOUND). r == 0:
 * result is jobs.get's answer, valid during the callback only. */
typedef void (*logd_jobq_done_t)(int r, const msgpack_object *result, const struct rpc_error *e,
                                 void *userdata);

/* Connects to socket and sends jobs.get {id: job_id}; done runs once, unless the ask is
 * freed first. */
int logd_jobq_start(sd_event *e, const char *socket, const struct mp_limits *limits, int64_t job_id,
                    logd_jobq_done_t done, void *userdata, struct logd_jobq **ret);
/* Drops the ask (closing its connection). Safe from inside done. */
struct logd_jobq *logd_jobq_free(struct logd_jobq *q);

/* Takes jobs.get's {job: {id, state, units, started_usec, finished_usec}} into t (a job
 * target) and state (its NUL-terminated state, at most state_size - 1 bytes). Returns 1 if t's
 * units or window changed, 0 if not, or < 0 with e filled. */
int logd_jobs_parse(const msgpack_object *result, struct logd_target *t, char *state, size_t state_size,
                    struct rpc_error *e);
