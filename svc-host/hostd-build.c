/* Sandboxed overlay builds. See hostd-build.h and docs/sandbox.md (every directive and why). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-build.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-instance.h"
#include "proto/spec.h"

#define RECHECK_USEC       (5ULL * 1000000ULL) /* fallback state check while running */
#define EOF_GRACE_USEC     (5ULL * 1000000ULL) /* wait for the pipes after the unit ended */
#define DEADLINE_SLACK_SEC 120ULL              /* beyond RuntimeMaxSec: stop it ourselves */
/* The journal copy of a build's output (docs/sandbox.md "Output"): at most this many lines per
 * interval per build; the rest are counted and named in one line. The caller's stream (and
 * jobd's job log) always gets every line. */
#define JOURNAL_INTERVAL_USEC (30ULL * 1000000ULL)
#define JOURNAL_BURST         5000u

/* ---- results ---------------------------------------------------------------------------------- */

const char *build_result_to_string(enum build_result r) {
        static const char *const names[] = {
                [BUILD_SUCCESS] = "success", [BUILD_FAILED] = "failed",       [BUILD_TIMEOUT] = "timeout",
                [BUILD_OOM] = "oom",         [BUILD_CANCELLED] = "cancelled",
        };
        return (unsigned) r < ELEMENTSOF(names) ? names[r] : "failed";
}

enum build_result build_result_from_unit(const char *unit_result, int32_t exec_code, int32_t exec_status,
                                         bool cancelled, int *ret_exit_code) {
        int code;

        /* ExecMainCode is a CLD_* code: exited (status = exit status) or killed/dumped
         * (status = signal number). 0: the main process never ran. */
        if (exec_code == CLD_EXITED)
                code = exec_status;
        else if (exec_code == CLD_KILLED || exec_code == CLD_DUMPED)
                code = 128 + exec_status;
        else
                code = -1;
        *ret_exit_code = code;

        if (cancelled)
                return BUILD_CANCELLED;
        if (!unit_result)
                return BUILD_FAILED;
        if (streq(unit_result, "timeout"))
                return BUILD_TIMEOUT;
        if (streq(unit_result, "oom-kill"))
                return BUILD_OOM;
        if (streq(unit_result, "success") && exec_code == CLD_EXITED && exec_status == 0)
                return BUILD_SUCCESS;
        return BUILD_FAILED;
}

/* ---- a running build ------------------------------------------------------------------------- */

enum { P_OUT, P_ERR, _P_MAX };
static const char *const stream_names[_P_MAX] = {"stdout", "stderr"};

struct build {
        sd_event *event;
        struct hostd_bus *bus;
        char id[NAME_LEN_MAX + 1];
        char unit[UNIT_NAME_MAX];
        char script_name[128]; /* below <root>/tmp */
        int tmpfd, dirfd;
        int fd[_P_MAX];
        sd_event_source *io[_P_MAX];
        struct line_splitter split[_P_MAX];
        sd_bus_slot *watch;
        sd_event_source *recheck, *grace, *deadline, *done_source;
        build_line_cb line_cb;
        build_done_cb done_cb;
        void *userdata;
        uint64_t deadline_usec;
        struct build_pool *pool;
        struct build_lease lease;
        bool leased;
        uid_t owner_uid; /* left4me-build: who owns the overlay once published */
        gid_t owner_gid;

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
        /* the journal copy's rate limit */
        uint64_t journal_window;            /* start of the current interval (monotonic µs) */
        unsigned journal_lines;             /* lines written in it */
        unsigned long long journal_dropped; /* not written in it */
};

static void check_status(struct build *b);

static bool pipes_closed(const struct build *b) {
        return b->fd[P_OUT] < 0 && b->fd[P_ERR] < 0;
}

static void emit(struct build *b, const char *stream, const char *fmt, ...) _printf_(3, 4);
static void emit(struct build *b, const char *stream, const char *fmt, ...) {
        char line[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (b->line_cb)
                b->line_cb(stream, line, b->userdata);
}

/* One line of the build's output into the journal, as hostd's entry naming the build
 * (logd shows it with the build's unit: svc-logs/logd-target.h). stdout PRIORITY=6 (info),
 * stderr 4 (warning: tools write progress and diagnostics there, so not "err"). A failure is
 * ignored: the journal copy is a convenience, the build and its stream go on. */
static void journal_note_dropped(struct build *b) {
        if (b->journal_dropped == 0)
                return;
        (void) sd_journal_send(
                "MESSAGE=%llu lines of build output were not written to the journal (more than "
                "%u in %llu s); the job's log has every line",
                b->journal_dropped, JOURNAL_BURST, (unsigned long long) (JOURNAL_INTERVAL_USEC / 1000000ULL),
                "PRIORITY=4", "SYSLOG_IDENTIFIER=left4me-build", "LEFT4ME_BUILD_UNIT=%s", b->unit,
                "LEFT4ME_BUILD_STREAM=info", NULL);
        b->journal_dropped = 0;
}

static void journal_line(struct build *b, unsigned p, const char *line) {
        uint64_t now = now_usec();

        if (b->journal_lines == 0 || now - b->journal_window >= JOURNAL_INTERVAL_USEC) {
                journal_note_dropped(b);
                b->journal_window = now;
                b->journal_lines = 0;
        }
        if (b->journal_lines >= JOURNAL_BURST) {
                b->journal_dropped++;
                return;
        }
        b->journal_lines++;
        (void) sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", p == P_ERR ? 4 : 6,
                               "SYSLOG_IDENTIFIER=left4me-build", "LEFT4ME_BUILD_UNIT=%s", b->unit,
                               "LEFT4ME_BUILD_STREAM=%s", stream_names[p], NULL);
}

static void release_unit(struct build *b) {
        if (b->unit[0] && b->started && streq(b->st.active_state, "failed"))
                (void) unit_reset_failed(b->bus, b->unit);
}

/* Only once the unit is over (or never ran): its processes are gone with its cgroup, and
 * the pool also checks the slice is empty before leasing the uid again. */
static void give_lease(struct build *b) {
        if (b->leased)
                build_pool_give(b->pool, &b->lease);
        b->leased = false;
}

static void cleanup_files(struct build *b) {
        if (b->tmpfd >= 0 && b->script_name[0])
                (void) unlinkat(b->tmpfd, b->script_name, 0);
        b->script_name[0] = 0;
}

static int on_done_deferred(sd_event_source *s, void *userdata) {
        struct build *b = userdata;
        build_done_cb cb = b->done_cb;
        enum build_result result = BUILD_FAILED;
        int exit_code = -1, r = 0, n;

        b->done_source = sd_event_source_disable_unref(b->done_source);
        b->done_cb = NULL;
        if (b->start_failed) {
                r = b->start_error;
                cleanup_files(b);
                give_lease(b);
                if (cb)
                        cb(r, BUILD_FAILED, -1, b->message, b->userdata);
                return 0;
        }
        result = build_result_from_unit(b->st.result, b->st.exec_main_code, b->st.exec_main_status,
                                        b->cancelled, &exit_code);
        n = overlay_publish(b->dirfd, b->owner_uid, b->owner_gid);
        if (n < 0)
                log_warning("%s: cannot publish overlays/%s (hand it to %s, make it world-readable): %s",
                            b->unit, b->id, BUILD_USER, strerror(-n));
        cleanup_files(b);
        release_unit(b);
        give_lease(b);
        snprintf(b->message, sizeof(b->message), "%s: %s (unit result '%s', exit code %d)", b->unit,
                 build_result_to_string(result), b->st.result[0] ? b->st.result : "?", exit_code);
        if (cb)
                cb(0, result, exit_code, b->message, b->userdata);
        return 0;
}

/* Calls done_cb from a fresh loop iteration once the unit is over and its output drained. */
static void maybe_finish(struct build *b) {
        if (b->finished)
                return;
        if (!b->start_failed && (!b->unit_done || (!pipes_closed(b) && !b->grace_expired)))
                return;
        b->finished = true;
        journal_note_dropped(b);
        for (unsigned p = 0; p < _P_MAX; p++) {
                b->io[p] = sd_event_source_disable_unref(b->io[p]);
                b->fd[p] = safe_close(b->fd[p]);
        }
        b->recheck = sd_event_source_disable_unref(b->recheck);
        b->grace = sd_event_source_disable_unref(b->grace);
        b->deadline = sd_event_source_disable_unref(b->deadline);
        b->watch = sd_bus_slot_unref(b->watch);
        if (sd_event_add_defer(b->event, &b->done_source, on_done_deferred, b) < 0)
                (void) on_done_deferred(NULL, b);
}

static void on_line(unsigned p, const char *line, void *userdata) {
        struct build *b = userdata;

        if (b->line_cb)
                b->line_cb(stream_names[p], line, b->userdata);
        journal_line(b, p, line);
}

/* Reads what is there; at EOF closes the pipe. Returns 1 at EOF. */
static int drain(struct build *b, unsigned p) {
        return line_pipe_drain(&b->fd[p], &b->io[p], &b->split[p], p, on_line, b);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct build *b = userdata;

        for (unsigned p = 0; p < _P_MAX; p++)
                if (b->io[p] == s) {
                        (void) drain(b, p);
                        break;
                }
        if (pipes_closed(b)) {
                /* systemd closes its copies when the unit is over: look now. */
                if (b->unit_done)
                        maybe_finish(b);
                else if (b->started)
                        check_status(b);
        }
        return 0;
}

static int on_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        struct build *b = userdata;

        log_warning("%s: output pipes still open %llu s after the unit ended; giving up on them", b->unit,
                    (unsigned long long) (EOF_GRACE_USEC / 1000000ULL));
        for (unsigned p = 0; p < _P_MAX; p++)
                (void) drain(b, p);
        b->grace_expired = true;
        maybe_finish(b);
        return 0;
}

static void on_unit_over(struct build *b) {
        b->unit_done = true;
        for (unsigned p = 0; p < _P_MAX; p++)
                (void) drain(b, p);
        if (!pipes_closed(b) && !b->grace &&
            sd_event_add_time_relative(b->event, &b->grace, CLOCK_MONOTONIC, EOF_GRACE_USEC, 0, on_grace,
                                       b) < 0)
                b->grace_expired = true;
        maybe_finish(b);
}

static bool state_is_over(const char *active_state) {
        return streq(active_state, "inactive") || streq(active_state, "failed");
}

static void on_status(int r, const struct unit_status *st, const char *message, void *userdata) {
        struct build *b = userdata;

        b->status_pending = false;
        if (b->finished || b->unit_done)
                return;
        if (r < 0)
                log_debug("%s: cannot read its state: %s", b->unit, message ?: strerror(-r));
        else if (streq(st->load_state, "not-found")) {
                /* Collected: it went inactive (a failed unit stays), i.e. it succeeded, unless
                 * the signals told us more on its way out. */
                snprintf(b->st.active_state, sizeof(b->st.active_state), "inactive");
                if (!b->st.result[0])
                        snprintf(b->st.result, sizeof(b->st.result), "success");
                if (b->st.exec_main_code == 0)
                        b->st.exec_main_code = CLD_EXITED, b->st.exec_main_status = 0;
                on_unit_over(b);
                return;
        } else {
                int32_t code = b->st.exec_main_code, status = b->st.exec_main_status;

                b->st = *st;
                if (b->st.exec_main_code == 0 && code != 0)
                        b->st.exec_main_code = code, b->st.exec_main_status = status;
                if (state_is_over(st->active_state)) {
                        on_unit_over(b);
                        return;
                }
        }
        if (b->status_again) {
                b->status_again = false;
                check_status(b);
        }
}

static void check_status(struct build *b) {
        int r;

        if (b->finished || b->unit_done || !b->started)
                return;
        if (b->status_pending) {
                b->status_again = true;
                return;
        }
        r = unit_get_status(b->bus, b->unit, on_status, b);
        if (r >= 0)
                b->status_pending = true;
}

/* A PropertiesChanged signal: what it carries is merged in. The last ones of a unit that is
 * collected at once arrive before it goes, so they are the only record of its result. */
static void on_changed(const struct unit_status *c, void *userdata) {
        struct build *b = userdata;

        if (b->finished || b->unit_done)
                return;
        if (c->active_state[0])
                snprintf(b->st.active_state, sizeof(b->st.active_state), "%s", c->active_state);
        if (c->result[0])
                snprintf(b->st.result, sizeof(b->st.result), "%s", c->result);
        if (c->exec_main_code != 0)
                b->st.exec_main_code = c->exec_main_code, b->st.exec_main_status = c->exec_main_status;
        if (b->started && c->active_state[0] && state_is_over(c->active_state))
                on_unit_over(b);
}

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata) {
        struct build *b = userdata;

        check_status(b);
        (void) sd_event_source_set_time_relative(s, RECHECK_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void on_stopped(int r, const char *result, const char *message, void *userdata) {
        struct build *b = userdata;

        b->stop_pending = false;
        if (r < 0)
                log_warning("%s: stop failed: %s", b->unit, message ?: strerror(-r));
        check_status(b);
}

static void stop_unit(struct build *b) {
        if (b->stop_pending || b->unit_done || b->finished)
                return;
        if (unit_stop(b->bus, b->unit, false, on_stopped, b) >= 0)
                b->stop_pending = true;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        struct build *b = userdata;

        log_warning("%s: still running %llu s past RuntimeMaxSec; stopping it", b->unit, DEADLINE_SLACK_SEC);
        stop_unit(b);
        return 0;
}

static void on_started(int r, const char *result, const char *message, void *userdata) {
        struct build *b = userdata;

        b->start_pending = false;
        if (r < 0) {
                b->start_failed = true;
                b->start_error = r;
                snprintf(b->message, sizeof(b->message), "cannot start %s: %s", b->unit,
                         message ?: strerror(-r));
                maybe_finish(b);
                return;
        }
        if (streq(result, "dependency")) {
                /* Requires=left4me-firewall.service failed: the unit never ran (and, inactive,
                 * is collected at once, which would look like success). */
                b->start_failed = true;
                b->start_error = -ENOENT;
                snprintf(b->message, sizeof(b->message),
                         "cannot start %s: %s, the build network rules, is not running (systemctl status "
                         "%s)",
                         b->unit, BUILD_NET_RULES_UNIT, BUILD_NET_RULES_UNIT);
                maybe_finish(b);
                return;
        }
        b->started = true;
        if (!streq(result, "done"))
                log_info("%s: start job ended with '%s'", b->unit, result);
        if (b->cancelled)
                stop_unit(b);
        check_status(b);
}

static int props_cb(sd_bus_message *m, void *userdata) {
        return build_append_properties(m, userdata);
}

static int tmp_dir_open(int rootfd) {
        int fd = dir_open_nofollow(rootfd, "tmp");

        if (fd == -ENOENT) {
                if (mkdirat(rootfd, "tmp", 0700) < 0 && errno != EEXIST)
                        return -errno;
                fd = dir_open_nofollow(rootfd, "tmp");
        }
        return fd;
}

int build_start(const struct build_params *p, build_line_cb line_cb, build_done_cb done_cb, void *userdata,
                struct build **ret, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, o_w = -1, e_w = -1;
        char overlay_path[PATH_MAX], script_path[PATH_MAX], desc[160];
        struct build_unit_spec spec = {};
        struct build *b;
        struct passwd *pw;
        uid_t from[L4M_BUILD_USERS + 1];
        size_t n_from;
        int pfd[2], r;

        if (!name_is_valid(p->id))
                return rpc_error_set(e, RPC_INVALID, "id: " NAME_MUST_MATCH);
        if (memchr(p->script, 0, p->script_len))
                return rpc_error_set(e, RPC_INVALID, "script: must not contain NUL bytes");
        if (!p->exec_helper || p->exec_helper[0] != '/' || access(p->exec_helper, X_OK) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "%s is not installed next to left4me-hostd (%s)",
                                     BUILD_EXEC_HELPER,
                                     p->exec_helper ?: "where hostd runs from is unknown");
        pw = getpwnam(BUILD_USER);
        if (!pw)
                return rpc_error_set(e, RPC_UNAVAILABLE,
                                     "user '%s' does not exist (systemd-sysusers creates it)", BUILD_USER);
        if (pw->pw_uid == 0 || pw->pw_gid == 0)
                return rpc_error_set(e, RPC_INTERNAL, "user '%s' is root", BUILD_USER);

        b = calloc(1, sizeof(*b));
        if (!b)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        b->owner_uid = pw->pw_uid;
        b->owner_gid = pw->pw_gid;
        b->pool = p->pool;
        r = build_pool_take(b->pool, &b->lease);
        if (r < 0) {
                free(b);
                if (r == -EBUSY)
                        return rpc_error_set(
                                e, RPC_UNAVAILABLE,
                                "all %u build users are in use (a build stays on its user until "
                                "its last process is gone); try again later",
                                L4M_BUILD_USERS);
                if (r == -ENOENT)
                        return rpc_error_set(e, RPC_UNAVAILABLE,
                                             "no build user exists (" L4M_BUILD_USER_PREFIX "0 .. %u; "
                                             "systemd-sysusers creates them)",
                                             L4M_BUILD_USERS - 1);
                if (r == -EOPNOTSUPP)
                        return rpc_error_set(
                                e, RPC_INTERNAL,
                                "cannot tell whether a build user is free: no cgroup2 hierarchy "
                                "at /sys/fs/cgroup or /sys/fs/cgroup/unified");
                return rpc_error_set(e, RPC_INTERNAL, "cannot lease a build user: %s", strerror(-r));
        }
        b->leased = true;
        b->tmpfd = b->dirfd = -1;
        for (unsigned k = 0; k < _P_MAX; k++) {
                b->fd[k] = -1;
                if (line_splitter_init(&b->split[k], CHILD_LINE_MAX) < 0) {
                        build_free(b);
                        return rpc_error_set(e, RPC_INTERNAL, "out of memory");
                }
        }
        b->event = sd_event_ref(p->event);
        b->bus = p->bus;
        b->line_cb = line_cb;
        b->done_cb = done_cb;
        b->userdata = userdata;
        snprintf(b->id, sizeof(b->id), "%s", p->id);
        r = build_unit_name(p->id, p->n, b->unit, sizeof(b->unit));
        if (r < 0) {
                build_free(b);
                return rpc_error_set(e, RPC_INTERNAL, "unit name: %s", strerror(-r));
        }

        rootfd = root_open(p->root);
        if (rootfd < 0) {
                build_free(b);
                return rpc_error_set(e, RPC_INTERNAL, "cannot open %s: %s", p->root, strerror(-rootfd));
        }
        /* What the last build of this overlay left: published (the fixed owner's), or, after a
         * failed publish, some lease's. */
        n_from = build_pool_uids(b->pool, from, L4M_BUILD_USERS);
        from[n_from++] = b->owner_uid;
        b->dirfd = overlay_prepare(rootfd, p->id, b->lease.uid, b->lease.gid, from, n_from, e);
        if (b->dirfd < 0) {
                r = b->dirfd;
                build_free(b);
                return r;
        }
        b->tmpfd = tmp_dir_open(rootfd);
        if (b->tmpfd < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot open %s/tmp: %s", p->root, strerror(-b->tmpfd));
                build_free(b);
                return r;
        }
        /* Root's, 0644: readable by the sandbox user through the bind (tmp/ itself is 0700). */
        snprintf(b->script_name, sizeof(b->script_name), "build-%s-%llu.sh", p->id, p->n);
        r = write_file_at(b->tmpfd, b->script_name, p->script, p->script_len, 0644, 0, 0);
        if (r < 0) {
                b->script_name[0] = 0;
                build_free(b);
                return rpc_error_set(e, RPC_INTERNAL, "cannot write the script to %s/tmp: %s", p->root,
                                     strerror(-r));
        }
        snprintf(overlay_path, sizeof(overlay_path), "%s/overlays/%s", p->root, p->id);
        snprintf(script_path, sizeof(script_path), "%s/tmp/%s", p->root, b->script_name);

        if (pipe2(pfd, O_CLOEXEC) < 0)
                goto fail_errno;
        b->fd[P_OUT] = pfd[0], o_w = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                goto fail_errno;
        b->fd[P_ERR] = pfd[0], e_w = pfd[1];
        for (unsigned k = 0; k < _P_MAX; k++) {
                (void) fcntl(b->fd[k], F_SETFL, fcntl(b->fd[k], F_GETFL) | O_NONBLOCK);
                r = sd_event_add_io(b->event, &b->io[k], b->fd[k], EPOLLIN, on_io, b);
                if (r < 0)
                        goto fail_r;
        }

        r = unit_watch(b->bus, b->unit, on_changed, b, &b->watch);
        if (r < 0) {
                build_free(b);
                return rpc_error_set(e, RPC_UNAVAILABLE, "cannot reach systemd: %s", strerror(-r));
        }

        snprintf(desc, sizeof(desc), "left4me overlay build of '%s'", p->id);
        spec = (struct build_unit_spec){
                .description = desc,
                .user = b->lease.user,
                .slice = b->lease.slice,
                .exec_helper = p->exec_helper,
                .overlay_dir = overlay_path,
                .script_path = script_path,
                .resolv_conf = access(BUILD_SANDBOX_RESOLV, R_OK) >= 0 ? BUILD_SANDBOX_RESOLV : NULL,
                .limits = p->limits,
                .stdout_fd = o_w,
                .stderr_fd = e_w,
        };
        r = unit_start_transient(b->bus, b->unit, props_cb, &spec, on_started, b);
        if (r < 0) {
                build_free(b);
                return rpc_error_set(e, RPC_UNAVAILABLE, "cannot reach systemd: %s", strerror(-r));
        }
        b->start_pending = true;
        /* The message holds its own copies of the write ends; ours close here, so EOF comes
         * when the unit's processes and systemd let go of theirs. */
        o_w = safe_close(o_w);
        e_w = safe_close(e_w);

        r = sd_event_add_time_relative(b->event, &b->recheck, CLOCK_MONOTONIC, RECHECK_USEC, 0, on_recheck,
                                       b);
        if (r >= 0 && p->limits.runtime_max_sec > 0)
                r = sd_event_add_time_relative(b->event, &b->deadline, CLOCK_MONOTONIC,
                                               ((uint64_t) p->limits.runtime_max_sec + DEADLINE_SLACK_SEC) *
                                                       1000000ULL,
                                               0, on_deadline, b);
        if (r < 0)
                log_warning("%s: cannot arm its timers: %s", b->unit, strerror(-r));
        /* Before the first line, so the line callback can name the unit (build_unit()). */
        *ret = b;
        emit(b, "info",
             "Running the build script in %s (as %s, MemoryMax=%llu, TasksMax=%u, CPUQuota=%u%%, "
             "RuntimeMaxSec=%u)",
             b->unit, b->lease.user, (unsigned long long) p->limits.memory_max, p->limits.tasks_max,
             p->limits.cpu_quota_percent, p->limits.runtime_max_sec);
        return 0;

fail_errno:
        r = -errno;
fail_r:
        build_free(b);
        return rpc_error_set(e, RPC_INTERNAL, "cannot set up the output pipes: %s", strerror(-r));
}

void build_cancel(struct build *b) {
        if (!b || b->finished)
                return;
        b->cancelled = true;
        if (b->started)
                stop_unit(b);
        /* else: on_started stops it once the start job is done */
}

struct build *build_free(struct build *b) {
        if (!b)
                return NULL;
        if (b->bus)
                unit_ops_forget(b->bus, b);
        if (!b->finished && (b->started || b->start_pending) && !b->unit_done && b->unit[0]) {
                log_notice("%s: hostd lets go of a running build; stopping it", b->unit);
                (void) unit_stop(b->bus, b->unit, false, NULL, NULL);
        }
        b->done_source = sd_event_source_disable_unref(b->done_source);
        b->recheck = sd_event_source_disable_unref(b->recheck);
        b->grace = sd_event_source_disable_unref(b->grace);
        b->deadline = sd_event_source_disable_unref(b->deadline);
        b->watch = sd_bus_slot_unref(b->watch);
        for (unsigned k = 0; k < _P_MAX; k++) {
                b->io[k] = sd_event_source_disable_unref(b->io[k]);
                safe_close(b->fd[k]);
                line_splitter_done(&b->split[k]);
        }
        cleanup_files(b);
        /* A unit still running keeps its slice populated, so the pool will not hand its uid to
         * another build until it is gone, whoever asks. */
        give_lease(b);
        safe_close(b->tmpfd);
        safe_close(b->dirfd);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

const char *build_unit(const struct build *b) {
        return b->unit;
}
