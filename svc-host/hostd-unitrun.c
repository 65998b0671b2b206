/* One run of a transient service with its output streamed. See hostd-unitrun.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-lines.h"
#include "svc-host/hostd-unitrun.h"

#define RECHECK_USEC   (5ULL * 1000000ULL) /* fallback state check while running */
#define EOF_GRACE_USEC (5ULL * 1000000ULL) /* wait for the pipes after the unit ended */

static const char *const stream_names[_UNIT_RUN_STREAMS] = {"stdout", "stderr"};

const char *unit_run_stream_name(unsigned stream) {
        return stream < _UNIT_RUN_STREAMS ? stream_names[stream] : "?";
}

struct unit_run {
        sd_event *event;
        struct hostd_bus *bus;
        char unit[UNIT_NAME_MAX];
        int fd[_UNIT_RUN_STREAMS];
        sd_event_source *io[_UNIT_RUN_STREAMS];
        struct line_splitter split[_UNIT_RUN_STREAMS];
        sd_bus_slot *watch;
        sd_event_source *recheck, *grace, *deadline, *done_source;
        unit_run_line_cb line_cb;
        unit_run_done_cb done_cb;
        void *userdata;

        bool start_pending;  /* StartTransientUnit sent, its job not finished */
        bool started;        /* the start job finished (whatever its result) */
        bool start_failed;   /* StartTransientUnit itself failed */
        bool status_pending; /* a GetAll in flight */
        bool status_again;   /* something changed while it was in flight */
        bool stop_pending;
        bool unit_done;     /* seen inactive/failed after the start */
        bool grace_expired; /* the pipes stayed open too long after the unit ended */
        bool cancelled;
        bool finished;
        int start_error;
        char message[384];
        struct unit_status st;
};

static void check_status(struct unit_run *u);

static bool pipes_closed(const struct unit_run *u) {
        return u->fd[UNIT_RUN_STDOUT] < 0 && u->fd[UNIT_RUN_STDERR] < 0;
}

static int on_done_deferred(sd_event_source *s, void *userdata) {
        struct unit_run *u = userdata;
        unit_run_done_cb cb = u->done_cb;

        u->done_source = sd_event_source_disable_unref(u->done_source);
        u->done_cb = NULL;
        if (u->start_failed) {
                if (cb)
                        cb(u->start_error, NULL, u->cancelled, u->message, u->userdata);
                return 0;
        }
        /* A failed unit stays (CollectMode=inactive) until it is reset: hostd has its result. */
        if (u->started && streq(u->st.active_state, "failed"))
                (void) unit_reset_failed(u->bus, u->unit);
        if (cb)
                cb(0, &u->st, u->cancelled, "", u->userdata);
        return 0;
}

/* Calls done_cb from a fresh loop iteration once the unit is over and its output drained. */
static void maybe_finish(struct unit_run *u) {
        if (u->finished)
                return;
        if (!u->start_failed && (!u->unit_done || (!pipes_closed(u) && !u->grace_expired)))
                return;
        u->finished = true;
        for (unsigned p = 0; p < _UNIT_RUN_STREAMS; p++) {
                u->io[p] = sd_event_source_disable_unref(u->io[p]);
                u->fd[p] = safe_close(u->fd[p]);
        }
        u->recheck = sd_event_source_disable_unref(u->recheck);
        u->grace = sd_event_source_disable_unref(u->grace);
        u->deadline = sd_event_source_disable_unref(u->deadline);
        u->watch = sd_bus_slot_unref(u->watch);
        if (sd_event_add_defer(u->event, &u->done_source, on_done_deferred, u) < 0)
                (void) on_done_deferred(NULL, u);
}

static void on_line(unsigned p, const char *line, void *userdata) {
        struct unit_run *u = userdata;

        if (u->line_cb)
                u->line_cb(p, line, u->userdata);
}

/* Reads what is there; at EOF closes the pipe. Returns 1 at EOF. */
static int drain(struct unit_run *u, unsigned p) {
        return line_pipe_drain(&u->fd[p], &u->io[p], &u->split[p], p, on_line, u);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct unit_run *u = userdata;

        for (unsigned p = 0; p < _UNIT_RUN_STREAMS; p++)
                if (u->io[p] == s) {
                        (void) drain(u, p);
                        break;
                }
        if (pipes_closed(u)) {
                /* systemd closes its copies when the unit is over: look now. */
                if (u->unit_done)
                        maybe_finish(u);
                else if (u->started)
                        check_status(u);
        }
        return 0;
}

static int on_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        struct unit_run *u = userdata;

        log_warning("%s: output pipes still open %llu s after the unit ended; giving up on them", u->unit,
                    (unsigned long long) (EOF_GRACE_USEC / 1000000ULL));
        for (unsigned p = 0; p < _UNIT_RUN_STREAMS; p++)
                (void) drain(u, p);
        u->grace_expired = true;
        maybe_finish(u);
        return 0;
}

static void on_unit_over(struct unit_run *u) {
        u->unit_done = true;
        for (unsigned p = 0; p < _UNIT_RUN_STREAMS; p++)
                (void) drain(u, p);
        if (!pipes_closed(u) && !u->grace &&
            sd_event_add_time_relative(u->event, &u->grace, CLOCK_MONOTONIC, EOF_GRACE_USEC, 0, on_grace,
                                       u) < 0)
                u->grace_expired = true;
        maybe_finish(u);
}

static bool state_is_over(const char *active_state) {
        return streq(active_state, "inactive") || streq(active_state, "failed");
}

static void on_status(int r, const struct unit_status *st, const char *message, void *userdata) {
        struct unit_run *u = userdata;

        u->status_pending = false;
        if (u->finished || u->unit_done)
                return;
        if (r < 0)
                log_debug("%s: cannot read its state: %s", u->unit, message ?: strerror(-r));
        else if (streq(st->load_state, "not-found")) {
                /* Collected: it went inactive (a failed unit stays), i.e. it succeeded, unless
                 * the signals told us more on its way out. */
                snprintf(u->st.active_state, sizeof(u->st.active_state), "inactive");
                if (!u->st.result[0])
                        snprintf(u->st.result, sizeof(u->st.result), "success");
                if (u->st.exec_main_code == 0)
                        u->st.exec_main_code = CLD_EXITED, u->st.exec_main_status = 0;
                on_unit_over(u);
                return;
        } else {
                int32_t code = u->st.exec_main_code, status = u->st.exec_main_status;

                u->st = *st;
                if (u->st.exec_main_code == 0 && code != 0)
                        u->st.exec_main_code = code, u->st.exec_main_status = status;
                if (state_is_over(st->active_state)) {
                        on_unit_over(u);
                        return;
                }
        }
        if (u->status_again) {
                u->status_again = false;
                check_status(u);
        }
}

static void check_status(struct unit_run *u) {
        int r;

        if (u->finished || u->unit_done || !u->started)
                return;
        if (u->status_pending) {
                u->status_again = true;
                return;
        }
        r = unit_get_status(u->bus, u->unit, on_status, u);
        if (r >= 0)
                u->status_pending = true;
}

/* A PropertiesChanged signal: what it carries is merged in. The last ones of a unit that is
 * collected at once arrive before it goes, so they are the only record of its result. */
static void on_changed(const struct unit_status *c, void *userdata) {
        struct unit_run *u = userdata;

        if (u->finished || u->unit_done)
                return;
        if (c->active_state[0])
                snprintf(u->st.active_state, sizeof(u->st.active_state), "%s", c->active_state);
        if (c->result[0])
                snprintf(u->st.result, sizeof(u->st.result), "%s", c->result);
        if (c->exec_main_code != 0)
                u->st.exec_main_code = c->exec_main_code, u->st.exec_main_status = c->exec_main_status;
        if (u->started && c->active_state[0] && state_is_over(c->active_state))
                on_unit_over(u);
}

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata) {
        struct unit_run *u = userdata;

        check_status(u);
        (void) sd_event_source_set_time_relative(s, RECHECK_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void on_stopped(int r, const char *result, const char *message, void *userdata) {
        struct unit_run *u = userdata;

        u->stop_pending = false;
        if (r < 0)
                log_warning("%s: stop failed: %s", u->unit, message ?: strerror(-r));
        check_status(u);
}

static void stop_unit(struct unit_run *u) {
        if (u->stop_pending || u->unit_done || u->finished)
                return;
        if (unit_stop(u->bus, u->unit, false, on_stopped, u) >= 0)
                u->stop_pending = true;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        struct unit_run *u = userdata;

        log_warning("%s: still running past its deadline; stopping it", u->unit);
        stop_unit(u);
        return 0;
}

static void on_started(int r, const char *result, const char *message, void *userdata) {
        struct unit_run *u = userdata;

        u->start_pending = false;
        if (r < 0) {
                u->start_failed = true;
                u->start_error = r;
                snprintf(u->message, sizeof(u->message), "cannot start %s: %s", u->unit,
                         message ?: strerror(-r));
                maybe_finish(u);
                return;
        }
        if (streq(result, "dependency")) {
                /* A unit it Requires= failed: it never ran, and, inactive, it is collected at
                 * once, which would read as success. */
                u->start_failed = true;
                u->start_error = -ENOENT;
                snprintf(u->message, sizeof(u->message), "cannot start %s: a unit it requires did not start",
                         u->unit);
                maybe_finish(u);
                return;
        }
        u->started = true;
        if (!streq(result, "done"))
                log_info("%s: start job ended with '%s'", u->unit, result);
        if (u->cancelled)
                stop_unit(u);
        check_status(u);
}

struct props_ctx {
        const struct unit_run_params *p;
        int out_w, err_w;
};

static int props_cb(sd_bus_message *m, void *userdata) {
        struct props_ctx *c = userdata;

        return c->p->props(m, c->out_w, c->err_w, c->p->props_userdata);
}

int unit_run_start(const struct unit_run_params *p, unit_run_line_cb line_cb, unit_run_done_cb done_cb,
                   void *userdata, struct unit_run **ret, struct rpc_error *e) {
        _cleanup_close_ int o_w = -1, e_w = -1;
        struct unit_run *u;
        int pfd[2], r;

        if (!p->unit || strlen(p->unit) >= UNIT_NAME_MAX)
                return rpc_error_set(e, RPC_INTERNAL, "bad unit name");
        u = calloc(1, sizeof(*u));
        if (!u)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        for (unsigned k = 0; k < _UNIT_RUN_STREAMS; k++) {
                u->fd[k] = -1;
                if (line_splitter_init(&u->split[k], CHILD_LINE_MAX) < 0) {
                        unit_run_free(u);
                        return rpc_error_set(e, RPC_INTERNAL, "out of memory");
                }
        }
        u->event = sd_event_ref(p->event);
        u->bus = p->bus;
        u->line_cb = line_cb;
        u->done_cb = done_cb;
        u->userdata = userdata;
        snprintf(u->unit, sizeof(u->unit), "%s", p->unit);

        if (pipe2(pfd, O_CLOEXEC) < 0)
                goto fail_errno;
        u->fd[UNIT_RUN_STDOUT] = pfd[0], o_w = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                goto fail_errno;
        u->fd[UNIT_RUN_STDERR] = pfd[0], e_w = pfd[1];
        for (unsigned k = 0; k < _UNIT_RUN_STREAMS; k++) {
                (void) fcntl(u->fd[k], F_SETFL, fcntl(u->fd[k], F_GETFL) | O_NONBLOCK);
                r = sd_event_add_io(u->event, &u->io[k], u->fd[k], EPOLLIN, on_io, u);
                if (r < 0)
                        goto fail_r;
        }

        r = unit_watch(u->bus, u->unit, on_changed, u, &u->watch);
        if (r < 0) {
                unit_run_free(u);
                return rpc_error_set(e, RPC_UNAVAILABLE, "cannot reach systemd: %s", strerror(-r));
        }
        r = unit_start_transient(u->bus, u->unit, props_cb, &(struct props_ctx){p, o_w, e_w}, on_started, u);
        if (r < 0) {
                unit_run_free(u);
                return rpc_error_set(e, RPC_UNAVAILABLE, "cannot reach systemd: %s", strerror(-r));
        }
        u->start_pending = true;
        /* The message holds its own copies of the write ends; ours close here, so EOF comes
         * when the unit's processes and systemd let go of theirs. */
        o_w = safe_close(o_w);
        e_w = safe_close(e_w);

        r = sd_event_add_time_relative(u->event, &u->recheck, CLOCK_MONOTONIC, RECHECK_USEC, 0, on_recheck,
                                       u);
        if (r >= 0 && p->deadline_usec > 0)
                r = sd_event_add_time_relative(u->event, &u->deadline, CLOCK_MONOTONIC, p->deadline_usec, 0,
                                               on_deadline, u);
        if (r < 0)
                log_warning("%s: cannot arm its timers: %s", u->unit, strerror(-r));
        *ret = u;
        return 0;

fail_errno:
        r = -errno;
fail_r:
        unit_run_free(u);
        return rpc_error_set(e, RPC_INTERNAL, "cannot set up the output pipes: %s", strerror(-r));
}

void unit_run_cancel(struct unit_run *u) {
        if (!u || u->finished)
                return;
        u->cancelled = true;
        if (u->started)
                stop_unit(u);
        /* else: on_started stops it once the start job is done */
}

struct unit_run *unit_run_free(struct unit_run *u) {
        if (!u)
                return NULL;
        if (u->bus)
                unit_ops_forget(u->bus, u);
        if (!u->finished && (u->started || u->start_pending) && !u->unit_done) {
                log_notice("%s: hostd lets go of a running unit; stopping it", u->unit);
                (void) unit_stop(u->bus, u->unit, false, NULL, NULL);
        }
        u->done_source = sd_event_source_disable_unref(u->done_source);
        u->recheck = sd_event_source_disable_unref(u->recheck);
        u->grace = sd_event_source_disable_unref(u->grace);
        u->deadline = sd_event_source_disable_unref(u->deadline);
        u->watch = sd_bus_slot_unref(u->watch);
        for (unsigned k = 0; k < _UNIT_RUN_STREAMS; k++) {
                u->io[k] = sd_event_source_disable_unref(u->io[k]);
                safe_close(u->fd[k]);
                line_splitter_done(&u->split[k]);
        }
        sd_event_unref(u->event);
        free(u);
        return NULL;
}

const char *unit_run_unit(const struct unit_run *u) {
        return u->unit;
}
