/* The shared journal, reads and followers: see logd-stream.h for the design. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/rpc.h"
#include "proto/map.h"
#include "svc-logs/logd-entry.h"
#include "svc-logs/logd-jobs.h"
#include "svc-logs/logd-stream.h"

#define BUS_TIMEOUT_USEC (2ULL * 1000000ULL)
/* jobd must answer jobs.get within this; a follower of a running job asks again this often. */
#define JOBS_TIMEOUT_USEC (5ULL * 1000000ULL)
#define JOB_POLL_USEC     (1ULL * 1000000ULL)

enum pos_kind {
        POS_HEAD,     /* from the first entry that matches */
        POS_REALTIME, /* from the first entry at or after realtime */
        POS_CURSOR,   /* at (inclusive) or after the entry cursor names */
};

/* A logs.read waiting for the current invocation id, or a follower. */
struct req {
        struct logd *logd;
        struct rpc_call *call;
        struct req *prev, *next;
        bool follow;
        bool in_followers; /* else in logd->pending */
        struct logd_request r;
        char after_cursor[LOGD_CURSOR_MAX];
        sd_bus_slot *slot;

        /* the current invocation (LOGD_INV_CURRENT); "" = none known */
        char current[LOGD_ID128_LEN + 1];

        /* follower position */
        enum pos_kind pos;
        bool pos_inclusive; /* POS_CURSOR: the named entry itself is next */
        bool pos_own;       /* POS_CURSOR: it named an entry of ours, so its absence is a loss */
        char cursor[LOGD_CURSOR_MAX];
        uint64_t realtime;
        bool dirty;  /* may have entries to send */
        bool paused; /* its connection's output is over the mark: wait for drain */
        bool caught_up_once;
        bool current_silent; /* the next run seen becomes current without an announcement */

        /* kind job: the jobs.get in flight, the timeout / poll timer, what jobd said last */
        struct logd_jobq *jobs;
        sd_event_source *job_timer;
        char job_state[16];
};

struct logd {
        sd_event *event;
        sd_journal *journal;
        sd_event_source *io, *timer, *pump;
        sd_bus *bus;
        bool use_bus;
        char *jobs_socket;
        struct mp_limits jobs_limits;
        bool bus_warned;
        struct req *followers, *pending;
        unsigned n_followers;
        struct logd_stats stats;
        struct logd_entry entry; /* scratch: one entry at a time */
};

static void req_list_add(struct req **head, struct req *q) {
        q->prev = NULL;
        q->next = *head;
        if (*head)
                (*head)->prev = q;
        *head = q;
}

static void req_list_remove(struct req **head, struct req *q) {
        if (q->prev)
                q->prev->next = q->next;
        else if (*head == q)
                *head = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->prev = q->next = NULL;
}

/* Unlinks and frees q; does not touch q->call. */
static void req_free(struct req *q) {
        struct logd *l;

        if (!q)
                return;
        l = q->logd;
        if (q->in_followers) {
                req_list_remove(&l->followers, q);
                l->n_followers--;
        } else
                req_list_remove(&l->pending, q);
        sd_bus_slot_unref(q->slot);
        logd_jobq_free(q->jobs);
        sd_event_source_disable_unref(q->job_timer);
        free(q);
}

/* ---- journal helpers ------------------------------------------------------------------- */

/* Sets the journal's matches to target t, restricted to invocation inv if non-empty. */
static int apply_matches(struct logd *l, const struct logd_target *t, const char *inv) {
        struct logd_matches m;
        int r;

        sd_journal_flush_matches(l->journal);
        logd_target_matches(t, inv, &m);
        if (m.n == 0)
                /* No matches would select every entry of the journal: never read like that. */
                return log_error_errno(-EINVAL, "No journal match for target '%s'", t->unit);
        for (size_t i = 0; i < m.n; i++) {
                r = m.term[i][0] ? sd_journal_add_match(l->journal, m.term[i], 0)
                                 : sd_journal_add_disjunction(l->journal);
                if (r < 0)
                        return log_error_errno(r, "Failed to add journal match '%s': %m", m.term[i]);
        }
        return 0;
}

/* The invocation of the newest entry of unit t that names one: the fallback when systemd
 * cannot be asked (no bus) or no longer knows the unit (not loaded). */
static void current_from_journal(struct logd *l, const struct logd_target *t, char ret[LOGD_ID128_LEN + 1]) {
        ret[0] = '\0';
        if (apply_matches(l, t, NULL) < 0 || sd_journal_seek_tail(l->journal) < 0)
                return;
        for (unsigned i = 0; i < 64 && sd_journal_previous(l->journal) > 0; i++) {
                (void) logd_entry_read_invocation(l->journal, ret);
                if (ret[0])
                        return;
        }
}

/* Positions f at a cursor of its own (not the client's): at it (inclusive) or just after it. */
static void position_at_cursor(struct req *f, const char *cursor, bool inclusive) {
        f->pos = POS_CURSOR;
        f->pos_inclusive = inclusive;
        f->pos_own = true;
        snprintf(f->cursor, sizeof f->cursor, "%s", cursor);
}

/* ---- notifications ----------------------------------------------------------------------- */

static void notify_invocation(struct req *f, const char *id) {
        msgpack_packer *pk = rpc_call_notify(f->call);
        if (!pk)
                return;
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "type", "invocation");
        rpc_pack_kv_str(mpk, "invocation_id", id);
        (void) rpc_map_end(&map);
}

static void notify_lost(struct req *f) {
        msgpack_packer *pk = rpc_call_notify(f->call);
        f->logd->stats.lost++;
        if (!pk)
                return;
        /* The journal deleted (vacuumed) entries this follower had not read yet; how many
         * of them matched is not knowable any more. */
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "type", "lost");
        rpc_pack_kv_nil(mpk, "count");
        rpc_pack_kv_str(mpk, "reason",
                        "the journal no longer holds the entries after this follower's position");
        (void) rpc_map_end(&map);
}

/* ---- followers ----------------------------------------------------------------------------- */

/* Tells f it has everything the journal holds for it so far (the backlog is complete, or
 * a burst is over). Its packer call also flushes what was packed before it: see
 * docs/logs.md on rpc_call_notify. */
static void notify_caught_up(struct req *f) {
        msgpack_packer *pk = rpc_call_notify(f->call);
        if (!pk)
                return;
        f->caught_up_once = true;
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "type", "caught_up");
        if (f->pos == POS_CURSOR)
                rpc_pack_kv_str(mpk, "cursor", f->cursor);
        else
                rpc_pack_kv_nil(mpk, "cursor");
        (void) rpc_map_end(&map);
}

static bool over_mark(struct req *f) {
        size_t cap = rpc_call_output_cap(f->call);
        size_t mark = cap ? cap / 2 : (size_t) 1 << 20;
        return rpc_call_output_pending(f->call) >= mark;
}

static void pump_schedule(struct logd *l) {
        (void) sd_event_source_set_enabled(l->pump, SD_EVENT_ON);
}

static void on_drain(struct rpc_call *call, void *userdata);

static void mark_all_dirty(struct logd *l) {
        for (struct req *f = l->followers; f; f = f->next)
                f->dirty = true;
        if (l->followers)
                pump_schedule(l);
}

/* ---- jobs --------------------------------------------------------------------------------- */

static bool is_job(const struct req *q) {
        return q->r.target.kind == LOGD_KIND_JOB;
}

/* A job's journal can be read once jobd named a unit and the job has started. */
static bool job_readable(const struct logd_target *t) {
        return t->kind != LOGD_KIND_JOB || (t->n_units > 0 && t->window_start > 0);
}

/* Answers a job follower once its job has ended and its window is over; frees f. Returns 1. */
static int finish_job_follower(struct req *f) {
        struct rpc_call *call = f->call;
        msgpack_packer *pk = rpc_call_result(call);

        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        if (f->pos == POS_CURSOR)
                rpc_pack_kv_str(mpk, "cursor", f->cursor);
        else
                rpc_pack_kv_nil(mpk, "cursor");
        rpc_pack_key(mpk, "job");
        struct rpc_map inner;
        msgpack_packer *ipk = rpc_map_begin(&inner, mpk);
        rpc_pack_kv_int(ipk, "id", f->r.target.job_id);
        rpc_pack_kv_str(ipk, "state", f->job_state);
        (void) rpc_map_end(&inner);
        (void) rpc_map_end(&map);
        (void) rpc_call_reply(call);
        req_free(f);
        return 1;
}

/* After the journal had nothing more for job follower f: is its window over? */
static bool job_window_over(const struct req *f) {
        const struct logd_target *t = &f->r.target;
        return logd_job_state_is_final(f->job_state) &&
               (!job_readable(t) || (t->window_end > 0 && realtime_usec() >= t->window_end));
}

/* Sends up to LOGD_STEP_ENTRIES new entries to f. Leaves f->dirty set if it stopped on
 * the budget, clears it once the journal has nothing more for f, sets f->paused when the
 * connection's output is over the mark. */
static int follower_step(struct logd *l, struct req *f) {
        sd_journal *j = l->journal;
        const struct logd_target *t = &f->r.target;
        bool have = false, job = is_job(f);
        unsigned sent = 0;
        int r;

        if (!job_readable(t)) {
                /* A job that has not started or has no units yet: nothing to read. */
                f->dirty = false;
                return job_window_over(f) ? finish_job_follower(f) : 0;
        }
        r = apply_matches(l, t, f->r.inv_mode == LOGD_INV_ID ? f->r.inv_id : NULL);
        if (r < 0)
                return r;
        switch (f->pos) {
        case POS_HEAD:
                r = job ? sd_journal_seek_realtime_usec(j, t->window_start) : sd_journal_seek_head(j);
                break;
        case POS_REALTIME:
                r = sd_journal_seek_realtime_usec(j, f->realtime);
                break;
        case POS_CURSOR:
                r = sd_journal_seek_cursor(j, f->cursor);
                break;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to seek the journal: %m");

        if (f->pos == POS_CURSOR && !f->pos_inclusive) {
                r = sd_journal_next(j);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the journal: %m");
                if (r == 0) {
                        f->dirty = false;
                        if (!f->caught_up_once)
                                notify_caught_up(f);
                        return job && job_window_over(f) ? finish_job_follower(f) : 0;
                }
                if (sd_journal_test_cursor(j, f->cursor) <= 0) {
                        /* The entry we stood on is gone: the next one is new to us. */
                        have = true;
                        if (f->pos_own)
                                notify_lost(f);
                }
        }

        for (unsigned n = 0; n < LOGD_STEP_ENTRIES; n++) {
                if (!rpc_call_alive(f->call)) {
                        f->dirty = false;
                        return 0;
                }
                if (over_mark(f)) {
                        /* The drain hook is one-shot: arm it each time we pause. */
                        f->paused = true;
                        rpc_call_set_drain(f->call, on_drain);
                        return 0;
                }
                r = have ? 1 : sd_journal_next(j);
                have = false;
                if (r < 0)
                        return log_error_errno(r, "Failed to read the journal: %m");
                if (r == 0) {
                        f->dirty = false;
                        if (sent > 0 || !f->caught_up_once)
                                notify_caught_up(f);
                        return job && job_window_over(f) ? finish_job_follower(f) : 0;
                }
                if (logd_entry_read(j, &l->entry) < 0)
                        continue; /* a corrupt entry: skip it */
                if (job && t->window_end > 0 && l->entry.realtime_usec > t->window_end) {
                        /* Past the end of the job's window: the job's part is complete. */
                        if (sent > 0)
                                notify_caught_up(f);
                        return finish_job_follower(f);
                }
                if (job && l->entry.realtime_usec < t->window_start) {
                        /* Before the job started: not the job's; step over it. */
                        position_at_cursor(f, l->entry.cursor, false);
                        continue;
                }

                if (f->r.inv_mode == LOGD_INV_CURRENT && l->entry.invocation_id[0] &&
                    !streq(l->entry.invocation_id, f->current)) {
                        /* A new run of the unit (a restart): say so, then follow it. */
                        memcpy(f->current, l->entry.invocation_id, sizeof f->current);
                        if (!f->current_silent)
                                notify_invocation(f, f->current);
                        f->current_silent = false;
                }

                msgpack_packer *pk = rpc_call_notify(f->call);
                if (pk) {
                        logd_entry_pack(pk, &l->entry, "entry");
                        l->stats.entries_sent++;
                        sent++;
                }
                position_at_cursor(f, l->entry.cursor, false);
        }
        return 0; /* budget used up: still dirty */
}

/* One round over all followers; stays enabled while any has more to send. Runs at a lower
 * priority than the connections, so their I/O goes first between rounds. */
static int on_pump(sd_event_source *s, void *userdata) {
        struct logd *l = userdata;
        bool more = false;
        int r;

        for (struct req *f = l->followers, *next; f; f = next) {
                next = f->next;
                if (!f->dirty || f->paused)
                        continue;
                r = follower_step(l, f);
                if (r > 0)
                        continue; /* answered and freed (a job's window is over) */
                if (r < 0)
                        f->dirty = false; /* logged; the next journal change retries */
                if (f->dirty && !f->paused)
                        more = true;
        }
        if (!more)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static void on_drain(struct rpc_call *call, void *userdata) {
        struct req *f = userdata;

        if (!f->paused)
                return;
        f->paused = false;
        f->dirty = true;
        pump_schedule(f->logd);
}

static void on_abandon(struct rpc_call *call, void *userdata) {
        struct req *q = userdata;

        req_free(q);
        (void) rpc_call_fail(call, RPC_CANCELLED, "cancelled");
}

/* ---- journal wakeups ------------------------------------------------------------------- */

static void update_timer(struct logd *l) {
        uint64_t t = UINT64_MAX;

        /* Only unreliable journal fds (files on network file systems) need polling. */
        if (sd_journal_get_timeout(l->journal, &t) < 0 || t == UINT64_MAX) {
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(l->timer, t);
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
}

static void journal_process(struct logd *l) {
        int r;

        l->stats.wakeups++;
        r = sd_journal_process(l->journal);
        if (r < 0)
                log_warning_errno(r, "Failed to process journal changes, ignoring: %m");
        else if (r != SD_JOURNAL_NOP) {
                if (r == SD_JOURNAL_INVALIDATE)
                        l->stats.invalidations++;
                mark_all_dirty(l);
        }
        update_timer(l);
}

static int on_journal_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        journal_process(userdata);
        return 0;
}

static int on_journal_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        journal_process(userdata);
        return 0;
}

/* ---- reads ------------------------------------------------------------------------------- */

/* Packs the reply of a logs.read for q, whose current invocation (if any) is resolved. */
static int do_read(struct logd *l, struct req *q) {
        sd_journal *j = l->journal;
        struct rpc_buf b;
        const char *inv = NULL;
        char last_cursor[LOGD_CURSOR_MAX] = "";
        size_t count = 0, budget, hard_limit, used = 0;
        int64_t limit = q->r.lines;
        bool more = false, lost = false, have = false, none = false, job = is_job(q);
        uint64_t wstart = q->r.target.window_start, wend = q->r.target.window_end, rt;
        int r;

        if (!job_readable(&q->r.target))
                none = true; /* a job that has not started or has no units: no entries yet */
        switch (q->r.inv_mode) {
        case LOGD_INV_CURRENT:
                inv = q->current;
                none = !q->current[0];
                break;
        case LOGD_INV_ID:
                inv = q->r.inv_id;
                break;
        default:
                break;
        }

        /* The reply goes into the connection's output buffer, which may hold other calls'
         * output already: use at most half of what is left, so the cap is never hit. */
        {
                size_t cap = rpc_call_output_cap(q->call), pending = rpc_call_output_pending(q->call);
                budget = cap > pending ? (cap - pending) / 2 : 0;
                budget = MIN(budget, (size_t) LOGD_READ_MAX_BYTES);
        }
        hard_limit = budget;
        rpc_buf_init(&b, 2 * budget + 2 * (LOGD_MESSAGE_MAX + 1024));

        if (q->r.after_cursor)
                snprintf(last_cursor, sizeof last_cursor, "%s", q->r.after_cursor);

        if (none || limit == 0)
                goto reply;

        r = apply_matches(l, &q->r.target, inv);
        if (r < 0)
                goto fail;

        if (q->r.after_cursor) {
                r = sd_journal_seek_cursor(j, q->r.after_cursor);
                if (r < 0) {
                        rpc_buf_done(&b);
                        return rpc_call_fail(q->call, RPC_INVALID, "after_cursor: not a journal cursor");
                }
                r = sd_journal_next(j);
                if (r < 0)
                        goto fail;
                if (r > 0 && sd_journal_test_cursor(j, q->r.after_cursor) <= 0) {
                        have = true; /* the cursor's entry is gone; this one is new */
                        lost = true;
                }
                if (r == 0)
                        goto reply;
        } else if (q->r.since_usec >= 0) {
                r = sd_journal_seek_realtime_usec(j, job ? MAX((uint64_t) q->r.since_usec, wstart)
                                                         : (uint64_t) q->r.since_usec);
                if (r < 0)
                        goto fail;
        } else {
                /* The last `limit` entries: walk back from the tail within the byte budget,
                 * then read forward from the oldest one. */
                _cleanup_free_ char *oldest = NULL;
                int64_t k = 0;
                size_t est = 0;

                /* A job that ended: from the end of its window backwards. */
                r = job && wend > 0 ? sd_journal_seek_realtime_usec(j, wend + 1) : sd_journal_seek_tail(j);
                if (r < 0)
                        goto fail;
                while (k < limit) {
                        const void *d;
                        size_t dl = 0;
                        r = sd_journal_previous(j);
                        if (r < 0)
                                goto fail;
                        if (r == 0)
                                break;
                        if (job && sd_journal_get_realtime_usec(j, &rt) >= 0) {
                                if (wend > 0 && rt > wend)
                                        continue;
                                if (rt < wstart)
                                        break;
                        }
                        if (sd_journal_get_data(j, "MESSAGE", &d, &dl) < 0)
                                dl = 0;
                        /* Invalid UTF-8 can grow a message up to 3x when sanitized; the
                         * forward pass below has room for that (hard_limit). */
                        size_t e = 300 + MIN(dl, (size_t) LOGD_MESSAGE_MAX);
                        if (k > 0 && est + e > budget) {
                                more = true;
                                break;
                        }
                        est += e;
                        k++;
                        free(oldest);
                        oldest = NULL;
                        r = sd_journal_get_cursor(j, &oldest);
                        if (r < 0)
                                goto fail;
                }
                if (k == limit && sd_journal_previous(j) > 0 &&
                    (!job || (sd_journal_get_realtime_usec(j, &rt) >= 0 && rt >= wstart)))
                        more = true;
                if (k == 0)
                        goto reply;
                r = sd_journal_seek_cursor(j, oldest);
                if (r < 0)
                        goto fail;
                limit = k;
                hard_limit = budget > 65536 ? 2 * budget - 65536 : budget;
        }

        while ((int64_t) count < limit) {
                r = have ? 1 : sd_journal_next(j);
                have = false;
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                if (logd_entry_read(j, &l->entry) < 0)
                        continue;
                if (job && l->entry.realtime_usec < wstart)
                        continue;
                if (job && wend > 0 && l->entry.realtime_usec > wend)
                        break;
                size_t sz = logd_entry_packed_size(&l->entry);
                if (count > 0 && used + sz > hard_limit) {
                        more = true;
                        break;
                }
                used += sz;
                logd_entry_pack(&b.pk, &l->entry, NULL);
                memcpy(last_cursor, l->entry.cursor, sizeof last_cursor);
                count++;
        }
        if (!more && (q->r.after_cursor || q->r.since_usec >= 0) && (int64_t) count == limit &&
            sd_journal_next(j) > 0 &&
            (!job || wend == 0 || (sd_journal_get_realtime_usec(j, &rt) >= 0 && rt <= wend)))
                more = true;

reply:
        if (!rpc_buf_ok(&b)) {
                rpc_buf_done(&b);
                return rpc_call_fail(q->call, RPC_INTERNAL, "out of memory packing the reply");
        }
        {
                msgpack_packer *pk = rpc_call_result(q->call);
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_key(mpk, "entries");
                msgpack_pack_array(mpk, count);
                if (b.len > 0)
                        mpk->callback(mpk->data, b.data, b.len);
                if (last_cursor[0])
                        rpc_pack_kv_str(mpk, "cursor", last_cursor);
                else
                        rpc_pack_kv_nil(mpk, "cursor");
                rpc_pack_kv_bool(mpk, "more", more);
                rpc_pack_kv_bool(mpk, "lost", lost);
                if (q->r.inv_mode == LOGD_INV_ALL || !inv || !inv[0])
                        rpc_pack_kv_nil(mpk, "invocation_id");
                else
                        rpc_pack_kv_str(mpk, "invocation_id", inv);
                (void) rpc_map_end(&map);
        }
        rpc_buf_done(&b);
        l->stats.entries_sent += count;
        return rpc_call_reply(q->call);

fail:
        rpc_buf_done(&b);
        log_error_errno(r, "Failed to read the journal for '%s': %m", q->r.target.unit);
        return rpc_call_fail(q->call, RPC_INTERNAL, "failed to read the journal: %s", strerror(-r));
}

/* ---- starting a follower ------------------------------------------------------------------- */

/* Positions follower f after the newest entry of its unit (or at the head if it has none). */
static int position_at_tail(struct logd *l, struct req *f) {
        _cleanup_free_ char *c = NULL;
        int r;

        r = apply_matches(l, &f->r.target, f->r.inv_mode == LOGD_INV_ID ? f->r.inv_id : NULL);
        if (r < 0)
                return r;
        r = sd_journal_seek_tail(l->journal);
        if (r < 0)
                return r;
        r = sd_journal_previous(l->journal);
        if (r < 0)
                return r;
        if (r == 0) {
                f->pos = POS_HEAD;
                return 0;
        }
        r = sd_journal_get_cursor(l->journal, &c);
        if (r < 0)
                return r;
        position_at_cursor(f, c, false);
        return 0;
}

/* Positions f at the oldest of the last r.lines entries (of its current invocation). */
static int position_backlog(struct logd *l, struct req *f) {
        _cleanup_free_ char *oldest = NULL;
        const char *inv = f->r.inv_mode == LOGD_INV_ID        ? f->r.inv_id
                          : f->r.inv_mode == LOGD_INV_CURRENT ? f->current
                                                              : NULL;
        int64_t k = 0;
        int r;

        if (f->r.lines == 0 || (f->r.inv_mode == LOGD_INV_CURRENT && !f->current[0]))
                return position_at_tail(l, f);

        r = apply_matches(l, &f->r.target, inv);
        if (r < 0)
                return r;
        r = sd_journal_seek_tail(l->journal);
        if (r < 0)
                return r;
        while (k < f->r.lines) {
                r = sd_journal_previous(l->journal);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                k++;
                free(oldest);
                oldest = NULL;
                r = sd_journal_get_cursor(l->journal, &oldest);
                if (r < 0)
                        return r;
        }
        if (k == 0)
                return position_at_tail(l, f);
        position_at_cursor(f, oldest, true);
        return 0;
}

/* Positions job follower f at the oldest of the last r.lines entries of its job's window, or
 * at the window's start if it has none (or none are readable yet). */
static int position_job(struct logd *l, struct req *f) {
        const struct logd_target *t = &f->r.target;
        _cleanup_free_ char *oldest = NULL;
        uint64_t rt;
        int64_t k = 0;
        int r;

        f->pos = POS_REALTIME;
        f->realtime = t->window_start;
        if (!job_readable(t))
                return 0;
        if (f->r.lines == 0 && t->window_end == 0)
                return position_at_tail(l, f);
        r = apply_matches(l, t, NULL);
        if (r < 0)
                return r;
        r = t->window_end > 0 ? sd_journal_seek_realtime_usec(l->journal, t->window_end + 1)
                              : sd_journal_seek_tail(l->journal);
        if (r < 0)
                return r;
        while (k < f->r.lines) {
                r = sd_journal_previous(l->journal);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_journal_get_realtime_usec(l->journal, &rt);
                if (r < 0)
                        return r;
                if (t->window_end > 0 && rt > t->window_end)
                        continue;
                if (rt < t->window_start)
                        break;
                k++;
                free(oldest);
                oldest = NULL;
                r = sd_journal_get_cursor(l->journal, &oldest);
                if (r < 0)
                        return r;
        }
        if (k == 0) {
                /* Nothing in the window yet (lines 0 of an ended job: nothing at all). */
                if (f->r.lines == 0)
                        return position_at_tail(l, f);
                return 0;
        }
        position_at_cursor(f, oldest, true);
        return 0;
}

static int start_follower(struct logd *l, struct req *f) {
        int r;

        if (f->r.after_cursor) {
                /* Check the cursor's syntax now, so a bad one is an error reply. */
                r = sd_journal_seek_cursor(l->journal, f->r.after_cursor);
                if (r < 0) {
                        struct rpc_call *call = f->call;
                        req_free(f);
                        return rpc_call_fail(call, RPC_INVALID, "after_cursor: not a journal cursor");
                }
                position_at_cursor(f, f->r.after_cursor, false);
                /* A client resuming was following the run its cursor is in: continue with
                 * that run, so a restart it missed is announced after that run's rest. */
                if (f->r.inv_mode == LOGD_INV_CURRENT && apply_matches(l, &f->r.target, NULL) >= 0 &&
                    sd_journal_seek_cursor(l->journal, f->r.after_cursor) >= 0 &&
                    sd_journal_next(l->journal) > 0 &&
                    sd_journal_test_cursor(l->journal, f->r.after_cursor) > 0) {
                        char inv[LOGD_ID128_LEN + 1];
                        (void) logd_entry_read_invocation(l->journal, inv);
                        if (inv[0])
                                memcpy(f->current, inv, sizeof f->current);
                }
        } else if (f->r.since_usec >= 0) {
                f->pos = POS_REALTIME;
                f->realtime = is_job(f) ? MAX((uint64_t) f->r.since_usec, f->r.target.window_start)
                                        : (uint64_t) f->r.since_usec;
                /* From a time: the first run seen is the one followed, unannounced. */
                f->current[0] = '\0';
                f->current_silent = true;
        } else {
                r = is_job(f) ? position_job(l, f) : position_backlog(l, f);
                if (r < 0) {
                        struct rpc_call *call = f->call;
                        req_free(f);
                        log_error_errno(r, "Failed to position a follower: %m");
                        return rpc_call_fail(call, RPC_INTERNAL, "failed to read the journal: %s",
                                             strerror(-r));
                }
        }

        req_list_remove(&l->pending, f);
        req_list_add(&l->followers, f);
        f->in_followers = true;
        l->n_followers++;
        f->dirty = true;
        pump_schedule(l);
        return 0;
}

/* ---- the current invocation ------------------------------------------------------------- */

/* Continues q once its current invocation is known (or not needed). */
static int req_resolved(struct logd *l, struct req *q) {
        if (q->r.inv_mode == LOGD_INV_CURRENT) {
                if (q->current[0])
                        l->stats.current_from_bus++;
                else {
                        current_from_journal(l, &q->r.target, q->current);
                        l->stats.current_from_journal++;
                }
        }
        if (q->follow)
                return start_follower(l, q);

        /* do_read answers the call (freeing it, and so its abandon hook) before q goes. */
        (void) do_read(l, q);
        req_free(q);
        return 0;
}

static int on_bus_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct req *q = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        const void *p;
        size_t n = 0;
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (err)
                log_debug("InvocationID of '%s' not available from systemd (%s), using the journal",
                          q->r.target.unit, err->name);
        else if ((r = sd_bus_message_enter_container(m, 'v', "ay")) < 0 ||
                 (r = sd_bus_message_read_array(m, 'y', &p, &n)) < 0)
                log_warning_errno(r, "Failed to parse systemd's reply for '%s', using the journal: %m",
                                  q->r.target.unit);
        else if (n == 16) {
                static const char hex[] = "0123456789abcdef";
                const uint8_t *b = p;
                bool zero = true;
                for (size_t i = 0; i < 16; i++) {
                        q->current[2 * i] = hex[b[i] >> 4];
                        q->current[2 * i + 1] = hex[b[i] & 15];
                        zero = zero && b[i] == 0;
                }
                q->current[LOGD_ID128_LEN] = '\0';
                if (zero)
                        q->current[0] = '\0';
        }
        (void) req_resolved(q->logd, q);
        return 0;
}

/* Asks systemd for the unit's InvocationID property without blocking. Returns 1 if the
 * answer will come to on_bus_reply, 0 if the bus cannot be used (use the journal). */
static int ask_systemd(struct logd *l, struct req *q) {
        _cleanup_free_ char *path = NULL;
        sd_bus_message *m = NULL;
        int r;

        if (!l->use_bus)
                return 0;
        if (l->bus && !sd_bus_is_open(l->bus))
                l->bus = sd_bus_flush_close_unref(l->bus);
        if (!l->bus) {
                r = sd_bus_open_system(&l->bus);
                if (r >= 0)
                        r = sd_bus_attach_event(l->bus, l->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0) {
                        if (!l->bus_warned)
                                log_info_errno(r, "System bus not available (%m): the current invocation "
                                                  "of a unit comes from the journal");
                        l->bus_warned = true;
                        l->bus = sd_bus_flush_close_unref(l->bus);
                        return 0;
                }
        }
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", q->r.target.unit, &path);
        if (r < 0)
                return 0;
        r = sd_bus_message_new_method_call(l->bus, &m, "org.freedesktop.systemd1", path,
                                           "org.freedesktop.DBus.Properties", "Get");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", "org.freedesktop.systemd1.Unit", "InvocationID");
        if (r >= 0)
                r = sd_bus_call_async(l->bus, &q->slot, m, on_bus_reply, q, BUS_TIMEOUT_USEC);
        sd_bus_message_unref(m);
        if (r < 0) {
                log_debug_errno(r, "Failed to ask systemd about '%s', using the journal: %m",
                                q->r.target.unit);
                return 0;
        }
        return 1;
}

/* ---- asking jobd about a job ----------------------------------------------------------------
 *
 * A job target is resolved with jobs.get over jobs.sock (svc-logs/logd-jobs.c: connect, one
 * call, close). A follower of a job that has
 * not ended asks again every JOB_POLL_USEC: that is how it learns new units (a build's unit is
 * recorded once hostd started it) and the job's end. jobs.watch would also tell the end, but it
 * streams every output line of the job to us, which logd has no use for. */

static void on_jobs_reply(int r, const msgpack_object *result, const struct rpc_error *err, void *userdata);
static int on_job_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int job_timer_arm(struct req *q, uint64_t usec) {
        int r;

        if (!q->job_timer)
                return sd_event_add_time_relative(q->logd->event, &q->job_timer, CLOCK_MONOTONIC, usec, 0,
                                                  on_job_timer, q);
        r = sd_event_source_set_time_relative(q->job_timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(q->job_timer, SD_EVENT_ONESHOT);
        return r;
}

/* Sends jobs.get {id} for q; the answer comes to on_jobs_reply. */
static int job_ask(struct req *q) {
        struct logd *l = q->logd;
        int r;

        q->jobs = logd_jobq_free(q->jobs);
        if (!l->jobs_socket)
                return -ENOENT;
        r = logd_jobq_start(l->event, l->jobs_socket, &l->jobs_limits, q->r.target.job_id, on_jobs_reply, q,
                            &q->jobs);
        if (r >= 0)
                r = job_timer_arm(q, JOBS_TIMEOUT_USEC);
        if (r < 0)
                q->jobs = logd_jobq_free(q->jobs);
        return r;
}

/* Ends a job request that is not following yet with an error; frees q. */
static void job_fail(struct req *q, const struct rpc_error *e) {
        struct rpc_call *call = q->call;

        req_free(q);
        (void) rpc_call_fail_error(call, e);
}

static void on_jobs_reply(int r, const msgpack_object *result, const struct rpc_error *err, void *userdata) {
        struct req *q = userdata;
        struct rpc_error e = *err;

        /* Its connection is released only once this callback returns; result stays valid. */
        q->jobs = logd_jobq_free(q->jobs);
        if (r >= 0)
                r = logd_jobs_parse(result, &q->r.target, q->job_state, sizeof q->job_state, &e);

        if (!q->in_followers) {
                /* The first answer: the request can start, or fails. */
                if (r < 0) {
                        job_fail(q, &e);
                        return;
                }
                if (q->follow) {
                        /* Keep asking while it runs (or to notice its window is over). */
                        r = job_timer_arm(q, JOB_POLL_USEC);
                        if (r < 0) {
                                (void) rpc_error_set(&e, RPC_INTERNAL, "cannot arm a timer: %s",
                                                     strerror(-r));
                                job_fail(q, &e);
                                return;
                        }
                } else
                        (void) sd_event_source_set_enabled(q->job_timer, SD_EVENT_OFF);
                (void) req_resolved(q->logd, q);
                return;
        }

        /* A follower's poll. */
        if (r < 0 && e.code == RPC_NOT_FOUND) {
                (void) rpc_error_set(&e, RPC_NOT_FOUND, "job %lld: no longer exists",
                                     (long long) q->r.target.job_id);
                job_fail(q, &e);
                return;
        }
        if (r < 0)
                log_debug("Job %lld: %s; asking again", (long long) q->r.target.job_id, e.message);
        else if (r > 0) {
                /* Started (its window opens) or a new unit: read from the window's start. */
                if (q->pos == POS_REALTIME && q->realtime < q->r.target.window_start)
                        q->realtime = q->r.target.window_start;
                q->dirty = true;
                pump_schedule(q->logd);
        } else if (logd_job_state_is_final(q->job_state)) {
                q->dirty = true;
                pump_schedule(q->logd);
        }
        if (job_timer_arm(q, JOB_POLL_USEC) < 0)
                log_warning("Job %lld: cannot arm the poll timer; the follower stays until cancelled",
                            (long long) q->r.target.job_id);
}

static int on_job_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct req *q = userdata;
        struct rpc_error e = {};
        int r;

        if (!q->in_followers) {
                (void) rpc_error_set(&e, RPC_UNAVAILABLE, "the job service did not answer within %llu s",
                                     (unsigned long long) (JOBS_TIMEOUT_USEC / 1000000ULL));
                job_fail(q, &e);
                return 0;
        }
        if (logd_job_state_is_final(q->job_state)) {
                /* Ended: nothing more to ask; look again whether the window is over. */
                q->dirty = true;
                pump_schedule(q->logd);
                (void) job_timer_arm(q, JOB_POLL_USEC);
                return 0;
        }
        r = job_ask(q); /* drops a poll still in flight */
        if (r < 0) {
                log_debug_errno(r, "Job %lld: cannot ask the job service (%m); trying again",
                                (long long) q->r.target.job_id);
                (void) job_timer_arm(q, JOB_POLL_USEC);
        }
        return 0;
}

int logd_set_jobs_socket(struct logd *l, const char *path, size_t max_message_bytes) {
        char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        free(l->jobs_socket);
        l->jobs_socket = p;
        l->jobs_limits = (struct mp_limits){.max_bytes = max_message_bytes};
        mp_limits_normalize(&l->jobs_limits);
        return 0;
}

/* ---- entry points ----------------------------------------------------------------------- */

static int req_start(struct logd *l, struct rpc_call *call, const struct logd_request *r, bool follow) {
        struct req *q;

        if (follow && l->n_followers >= LOGD_FOLLOWERS_MAX) {
                (void) rpc_call_fail(call, RPC_UNAVAILABLE, "too many followers (%u)", LOGD_FOLLOWERS_MAX);
                return 0;
        }
        q = calloc(1, sizeof *q);
        if (!q) {
                (void) rpc_call_fail(call, RPC_INTERNAL, "out of memory");
                return 0;
        }
        q->logd = l;
        q->call = call;
        q->follow = follow;
        q->r = *r;
        if (r->after_cursor) {
                snprintf(q->after_cursor, sizeof q->after_cursor, "%s", r->after_cursor);
                q->r.after_cursor = q->after_cursor;
        }
        req_list_add(&l->pending, q);
        rpc_call_set_abandon(call, on_abandon, q);

        /* From here on the call is always answered by us, so the handler returns 0. */
        rpc_call_defer(call);
        if (q->r.target.kind == LOGD_KIND_JOB) {
                int k = job_ask(q);
                if (k < 0) {
                        struct rpc_error e = {};
                        (void) rpc_error_set(&e, RPC_UNAVAILABLE, "the job service is unavailable (%s: %s)",
                                             l->jobs_socket ?: "jobs.sock", strerror(-k));
                        job_fail(q, &e);
                }
                return 0;
        }
        if (q->r.inv_mode == LOGD_INV_CURRENT && ask_systemd(l, q) > 0)
                return 0;
        (void) req_resolved(l, q);
        return 0;
}

int logd_read(struct logd *l, struct rpc_call *call, const struct logd_request *r) {
        return req_start(l, call, r, false);
}

int logd_follow(struct logd *l, struct rpc_call *call, const struct logd_request *r) {
        return req_start(l, call, r, true);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int logd_new(sd_event *e, const char *journal_dir, bool use_bus, struct logd **ret) {
        struct logd *l;
        int fd, r;

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(e);
        l->use_bus = use_bus;

        if (journal_dir)
                r = sd_journal_open_directory(&l->journal, journal_dir, 0);
        else
                r = sd_journal_open(&l->journal, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0) {
                log_error_errno(r, "Failed to open the journal%s%s: %m", journal_dir ? " in " : "",
                                journal_dir ? journal_dir : "");
                goto fail;
        }
        /* Compressed fields are decompressed only as far as a message can be sent. */
        (void) sd_journal_set_data_threshold(l->journal, LOGD_MESSAGE_MAX + 64);

        /* Get the fd early: changes from now on wake us. */
        fd = sd_journal_get_fd(l->journal);
        if (fd < 0) {
                r = log_error_errno(fd, "Failed to get the journal's fd: %m");
                goto fail;
        }
        r = sd_journal_get_events(l->journal);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(e, &l->io, fd, (uint32_t) r, on_journal_io, l);
        if (r < 0)
                goto fail;
        r = sd_event_add_time(e, &l->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_journal_timer, l);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        update_timer(l);

        r = sd_event_add_defer(e, &l->pump, on_pump, l);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_priority(l->pump, SD_EVENT_PRIORITY_NORMAL + 10);
        (void) sd_event_source_set_enabled(l->pump, SD_EVENT_OFF);

        *ret = l;
        return 0;
fail:
        if (r >= 0)
                r = -EIO;
        logd_free(l);
        return r;
}

struct logd *logd_free(struct logd *l) {
        if (!l)
                return NULL;
        /* Calls still open at shutdown are answered (which frees them and their hooks). */
        while (l->followers || l->pending) {
                struct req *q = l->followers ? l->followers : l->pending;
                struct rpc_call *call = q->call;
                req_free(q);
                if (call)
                        (void) rpc_call_fail(call, RPC_UNAVAILABLE, "log service is stopping");
        }
        sd_event_source_disable_unref(l->io);
        sd_event_source_disable_unref(l->timer);
        sd_event_source_disable_unref(l->pump);
        sd_bus_flush_close_unref(l->bus);
        free(l->jobs_socket);
        sd_journal_close(l->journal);
        sd_event_unref(l->event);
        free(l);
        return NULL;
}

void logd_get_stats(const struct logd *l, struct logd_stats *ret) {
        *ret = l->stats;
        ret->followers = l->n_followers;
        ret->paused = 0;
        for (const struct req *f = l->followers; f; f = f->next)
                ret->paused += f->paused;
}
