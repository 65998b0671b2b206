/* Watchers: the calls that follow a job's output and state (jobs.watch). See
 * jobd-manager-internal.h. */
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

#define WATCH_BATCH 256

static void pump(struct watcher *w);

/* ---- watchers ---------------------------------------------------------------------------- */

void watcher_unlink(struct watcher *w) {
        struct manager *m = w->m;
        if (w->prev)
                w->prev->next = w->next;
        else if (m->watchers == w)
                m->watchers = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
}

static void on_watch_abandon(struct rpc_call *call, void *userdata) {
        struct watcher *w = userdata;

        watcher_unlink(w);
        (void) rpc_call_fail(call, RPC_CANCELLED, "watch ended by the client");
        free(w);
}

static void on_watch_drain(struct rpc_call *call, void *userdata) {
        struct watcher *w = userdata;
        w->waiting_drain = false;
        pump(w);
}

static bool output_full(struct watcher *w) {
        return rpc_call_output_pending(w->call) > rpc_call_output_cap(w->call) / 2;
}

static void send_line(struct watcher *w, const struct job_line *l) {
        msgpack_packer *pk = rpc_call_notify(w->call);

        if (!pk)
                return;
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "type", "line");
        rpc_pack_kv_int(mpk, "seq", l->seq);
        rpc_pack_kv_str(mpk, "stream", l->stream);
        rpc_pack_kv_str(mpk, "line", l->text);
        rpc_pack_kv_uint(mpk, "usec", l->usec);
        (void) rpc_map_end(&map);
        w->next_seq = l->seq + 1;
}

static int pump_line(const struct job_line *l, void *userdata) {
        send_line(userdata, l);
        return 0;
}

/* Sends stored lines from w->next_seq while the client keeps up; once the job has ended and
 * every line is out, answers the call with the job and frees the watcher. */
static void pump(struct watcher *w) {
        struct manager *m = w->m;
        struct job_record rec;
        int r;

        for (;;) {
                int64_t before = w->next_seq;

                if (!rpc_call_alive(w->call))
                        return; /* the abandon hook cleans up */
                if (output_full(w)) {
                        w->waiting_drain = true;
                        rpc_call_set_drain(w->call, on_watch_drain);
                        return;
                }
                r = jobd_db_lines(m->db, w->job_id, w->next_seq - 1, WATCH_BATCH, pump_line, w);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the lines of job %lld: %m",
                                        (long long) w->job_id);
                        break;
                }
                if (w->next_seq == before)
                        break; /* caught up */
        }
        if (active_find(m, w->job_id))
                return; /* live lines follow */

        /* The job has ended and everything is sent. */
        watcher_unlink(w);
        rpc_call_set_abandon(w->call, NULL, NULL);
        r = jobd_db_get(m->db, w->job_id, &rec);
        if (r < 0)
                (void) rpc_call_fail(w->call, RPC_INTERNAL, "cannot read job %lld: %s",
                                     (long long) w->job_id, strerror(-r));
        else {
                msgpack_packer *pk = rpc_call_result(w->call);
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_key(mpk, "job");
                manager_pack_job(mpk, &rec, false);
                (void) rpc_map_end(&map);
                (void) rpc_call_reply(w->call);
                job_record_done(&rec);
        }
        free(w);
}

void watchers_line(struct manager *m, int64_t job_id, const struct job_line *l) {
        for (struct watcher *w = m->watchers, *next; w; w = next) {
                next = w->next;
                if (w->job_id != job_id || w->waiting_drain)
                        continue;
                if (w->next_seq == l->seq && !output_full(w))
                        send_line(w, l);
                else
                        pump(w);
        }
}

void watchers_state(struct manager *m, const struct active *a, const struct job_record *rec) {
        for (struct watcher *w = m->watchers, *next; w; w = next) {
                msgpack_packer *pk;

                next = w->next;
                if (w->job_id != rec->id)
                        continue;
                pk = rpc_call_notify(w->call);
                if (pk) {
                        struct rpc_map map;
                        msgpack_packer *mpk = rpc_map_begin(&map, pk);
                        rpc_pack_kv_str(mpk, "type", "state");
                        rpc_pack_kv_str(mpk, "state", job_state_to_string(rec->state));
                        if (rec->has_exit_code)
                                rpc_pack_kv_int(mpk, "exit_code", rec->exit_code);
                        else
                                rpc_pack_kv_nil(mpk, "exit_code");
                        rpc_pack_kv_str(mpk, "error", rec->error);
                        (void) rpc_map_end(&map);
                }
                if (!a && !w->waiting_drain)
                        pump(w); /* the job ended: finish the watch */
        }
}

int manager_watch(struct manager *m, struct rpc_call *call, int64_t id, int64_t after_seq,
                  struct rpc_error *e) {
        struct job_record rec;
        struct watcher *w;
        int r;

        r = job_lookup(m, id, &rec, e);
        if (r < 0)
                return r;
        job_record_done(&rec);

        w = calloc(1, sizeof(*w));
        if (!w)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        *w = (struct watcher){.m = m, .call = call, .job_id = id, .next_seq = after_seq + 1};
        w->next = m->watchers;
        if (w->next)
                w->next->prev = w;
        m->watchers = w;
        rpc_call_defer(call);
        rpc_call_set_abandon(call, on_watch_abandon, w);
        pump(w);
        return 0;
}
