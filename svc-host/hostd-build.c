/* Sandboxed overlay builds. See hostd-build.h and docs/sandbox.md (every directive and why). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#include "svc-host/hostd-instance.h"
#include "svc-host/hostd-unitrun.h"
#include "proto/spec.h"

#define DEADLINE_SLACK_SEC 120ULL /* beyond RuntimeMaxSec: stop it ourselves */
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

/* The unit's own run (pipes, state, stop) is hostd-unitrun.h's; this adds the overlay dir, the
 * script file, the journal copy of the output and the result. */
struct build {
        struct unit_run *run;
        char id[NAME_LEN_MAX + 1];
        char unit[UNIT_NAME_MAX];
        char script_name[128]; /* below <root>/tmp */
        int tmpfd, dirfd;
        build_line_cb line_cb;
        build_done_cb done_cb;
        void *userdata;
        struct build_pool *pool;
        struct build_lease lease;
        bool leased;
        uid_t owner_uid; /* left4me-build: who owns the overlay once published */
        gid_t owner_gid;
        bool finished;
        uint64_t generation; /* the one this build makes (overlays/.gen/ID/N) */
        uint64_t max_bytes;  /* its cap; 0: none */
        char error[320];     /* build_error() */
        char root[PATH_MAX];
        char message[768];
        /* the journal copy's rate limit */
        uint64_t journal_window;            /* start of the current interval (monotonic µs) */
        unsigned journal_lines;             /* lines written in it */
        unsigned long long journal_dropped; /* not written in it */
};

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
        (void) sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", p == UNIT_RUN_STDERR ? 4 : 6,
                               "SYSLOG_IDENTIFIER=left4me-build", "LEFT4ME_BUILD_UNIT=%s", b->unit,
                               "LEFT4ME_BUILD_STREAM=%s", unit_run_stream_name(p), NULL);
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

static void on_run_done(int r, const struct unit_status *st, bool cancelled, const char *message,
                        void *userdata) {
        struct build *b = userdata;
        build_done_cb cb = b->done_cb;
        enum build_result result;
        int exit_code = -1, n;

        b->finished = true;
        b->done_cb = NULL;
        journal_note_dropped(b);
        if (r < 0) {
                _cleanup_close_ int rootfd = root_open(b->root);

                if (rootfd >= 0)
                        overlay_gen_discard(rootfd, b->id, b->generation);
                b->generation = 0;
                cleanup_files(b);
                give_lease(b);
                /* -ENOENT: a unit it Requires= did not start; a build requires only the rules. */
                if (r == -ENOENT)
                        snprintf(b->message, sizeof(b->message),
                                 "%s (%s, the build network rules, is not running: systemctl status %s)",
                                 message ?: "cannot start", BUILD_NET_RULES_UNIT, BUILD_NET_RULES_UNIT);
                else
                        snprintf(b->message, sizeof(b->message), "%s", message ?: strerror(-r));
                if (cb)
                        cb(r, BUILD_FAILED, -1, b->message, b->userdata);
                return;
        }
        result = build_result_from_unit(st->result, st->exec_main_code, st->exec_main_status, cancelled,
                                        &exit_code);
        /* Only a build that succeeded and is published becomes the current generation; the
         * rest is removed, and the overlay is as it was. */
        /* The cap first, by stats alone: a generation over it is never published (publishing
         * copies hardlinked files, which the cap thereby bounds too). */
        if (result == BUILD_SUCCESS) {
                uint64_t bytes = 0;
                char have[32], cap[32];

                n = overlay_size(b->dirfd, &bytes);
                if (n < 0) {
                        snprintf(b->error, sizeof(b->error),
                                 "cannot measure overlay '%s' generation %" PRIu64 ": %s%s", b->id,
                                 b->generation, strerror(-n),
                                 n == -ELOOP ? " (nested deeper than 256 directories)" : "");
                        result = BUILD_FAILED;
                } else if (b->max_bytes > 0 && bytes > b->max_bytes) {
                        overlay_format_bytes(bytes, have, sizeof(have));
                        overlay_format_bytes(b->max_bytes, cap, sizeof(cap));
                        snprintf(b->error, sizeof(b->error),
                                 "overlay '%s' generation %" PRIu64
                                 " is %s, over the cap of %s (sandbox.overlay_max_bytes); discarded",
                                 b->id, b->generation, have, cap);
                        result = BUILD_FAILED;
                } else
                        overlay_gen_record_size(b->dirfd, bytes);
        }
        if (result == BUILD_SUCCESS) {
                n = overlay_publish(b->dirfd, b->owner_uid, b->owner_gid);
                if (n < 0) {
                        log_warning(
                                "%s: cannot publish overlays/%s (hand it to %s, make it world-readable): %s",
                                b->unit, b->id, BUILD_USER, strerror(-n));
                        snprintf(b->error, sizeof(b->error), "cannot publish overlay '%s': %s%s", b->id,
                                 strerror(-n), n == -ELOOP ? " (nested deeper than 256 directories)" : "");
                        result = BUILD_FAILED;
                }
        }
        if (result == BUILD_SUCCESS) {
                _cleanup_close_ int rootfd = root_open(b->root);
                struct rpc_error e = {};

                if (rootfd < 0 || overlay_gen_commit(rootfd, b->id, b->generation, &e) < 0) {
                        snprintf(b->error, sizeof(b->error), "cannot make overlay '%s' current: %.160s",
                                 b->id, rootfd < 0 ? strerror(-rootfd) : e.message);
                        result = BUILD_FAILED;
                }
        }
        if (result != BUILD_SUCCESS) {
                _cleanup_close_ int rootfd = root_open(b->root);
                if (rootfd >= 0)
                        overlay_gen_discard(rootfd, b->id, b->generation);
                b->generation = 0;
        }
        cleanup_files(b);
        give_lease(b);
        if (b->error[0])
                emit(b, "info", "%s", b->error);
        snprintf(b->message, sizeof(b->message), "%s: %s (unit result '%s', exit code %d)%s%s", b->unit,
                 build_result_to_string(result), st->result[0] ? st->result : "?", exit_code,
                 b->error[0] ? "; " : "", b->error);
        if (cb)
                cb(0, result, exit_code, b->message, b->userdata);
}

static void on_run_line(unsigned p, const char *line, void *userdata) {
        struct build *b = userdata;

        if (b->line_cb)
                b->line_cb(unit_run_stream_name(p), line, b->userdata);
        journal_line(b, p, line);
}

static int props_cb(sd_bus_message *m, int stdout_fd, int stderr_fd, void *userdata) {
        struct build_unit_spec *spec = userdata;

        spec->stdout_fd = stdout_fd;
        spec->stderr_fd = stderr_fd;
        return build_append_properties(m, spec);
}

/* The script is bound into the unit by its path: tmp/ must be root's like the rest. */
static int tmp_dir_open(int rootfd) {
        int fd = trusted_dir_open(rootfd, "tmp");

        if (fd == -ENOENT) {
                if (mkdirat(rootfd, "tmp", 0700) < 0 && errno != EEXIST)
                        return -errno;
                fd = trusted_dir_open(rootfd, "tmp");
        }
        return fd;
}

/* tmp/build-ID-<n>.sh of builds of ID a lost hostd started (killed before it could remove
 * them): this hostd runs one build of ID at a time and has not written this one's yet. A lost
 * build still running keeps its script, which systemd bound into it by inode. */
static void remove_lost_scripts(int tmpfd, const char *id) {
        char prefix[NAME_LEN_MAX + 16];
        int dfd = fcntl(tmpfd, F_DUPFD_CLOEXEC, 3);
        struct dirent *de;
        size_t pl;
        DIR *d;

        if (dfd < 0)
                return;
        d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return;
        }
        pl = (size_t) snprintf(prefix, sizeof(prefix), "build-%s-", id);
        while ((de = readdir(d))) {
                const char *n = de->d_name + pl;
                size_t k = 0;

                if (strncmp(de->d_name, prefix, pl) != 0)
                        continue;
                while (n[k] >= '0' && n[k] <= '9')
                        k++;
                if (k == 0 || !streq(n + k, ".sh"))
                        continue; /* another overlay's (ids may contain '-') */
                if (unlinkat(dirfd(d), de->d_name, 0) >= 0)
                        log_info("Removed tmp/%s, the script of a build an earlier hostd lost", de->d_name);
        }
        closedir(d);
}

int build_start(const struct build_params *p, build_line_cb line_cb, build_done_cb done_cb, void *userdata,
                struct build **ret, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1;
        char overlay_path[PATH_MAX], script_path[PATH_MAX], desc[160], fill_note[320] = "";
        struct build_unit_spec spec = {};
        struct build *b;
        struct passwd *pw;
        int r;

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
        b->max_bytes = p->overlay_max_bytes;
        b->tmpfd = b->dirfd = -1;
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
        /* A new generation, empty: the current one stays as it is for the servers that mount
         * it, whatever the script does. */
        snprintf(b->root, sizeof(b->root), "%s", p->root);
        b->dirfd = overlay_gen_prepare(rootfd, p->id, b->lease.uid, b->lease.gid, &b->generation, e);
        if (b->dirfd < 0) {
                r = b->dirfd;
                b->generation = 0;
                build_free(b);
                return r;
        }
        /* From "current": the new generation starts as a copy of the current one, its files
         * hardlinked where the lease cannot change them (docs/host.md, "Overlay generations"). */
        if (p->from_current) {
                struct overlay_fill_stats fs;
                unsigned long long t0 = now_usec();

                r = overlay_gen_fill(rootfd, p->id, b->dirfd, b->lease.uid, b->lease.gid, b->owner_uid,
                                     b->owner_gid, &fs, e);
                if (r < 0) {
                        overlay_gen_discard(rootfd, p->id, b->generation);
                        b->generation = 0;
                        build_free(b);
                        return r;
                }
                if (r == 0)
                        snprintf(fill_note, sizeof(fill_note),
                                 "Generation %" PRIu64 " starts empty: '%s' has no current generation",
                                 b->generation, p->id);
                else
                        snprintf(fill_note, sizeof(fill_note),
                                 "Generation %" PRIu64 " starts from generation %" PRIu64 ": %" PRIu64
                                 " directories, %" PRIu64 " files linked, %" PRIu64 " copied, %" PRIu64
                                 " symlinks (%llu ms)",
                                 b->generation, fs.generation, fs.dirs, fs.linked, fs.copied, fs.symlinks,
                                 (now_usec() - t0) / 1000);
        }
        b->tmpfd = tmp_dir_open(rootfd);
        if (b->tmpfd < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot open %s/tmp: %s", p->root, strerror(-b->tmpfd));
                build_free(b);
                return r;
        }
        remove_lost_scripts(b->tmpfd, p->id);
        /* Root's, 0644: readable by the sandbox user through the bind (tmp/ itself is 0700). */
        snprintf(b->script_name, sizeof(b->script_name), "build-%s-%llu.sh", p->id, p->n);
        r = write_file_at(b->tmpfd, b->script_name, p->script, p->script_len, 0644, 0, 0);
        if (r < 0) {
                b->script_name[0] = 0;
                build_free(b);
                return rpc_error_set(e, RPC_INTERNAL, "cannot write the script to %s/tmp: %s", p->root,
                                     strerror(-r));
        }
        snprintf(overlay_path, sizeof(overlay_path), "%s/overlays/" OVERLAY_GENS_DIR "/%s/%" PRIu64, p->root,
                 p->id, b->generation);
        snprintf(script_path, sizeof(script_path), "%s/tmp/%s", p->root, b->script_name);

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
                .stdout_fd = -1,
                .stderr_fd = -1,
        };
        r = unit_run_start(
                &(struct unit_run_params){
                        .event = p->event,
                        .bus = p->bus,
                        .unit = b->unit,
                        .props = props_cb,
                        .props_userdata = &spec,
                        .deadline_usec =
                                p->limits.runtime_max_sec > 0
                                        ? ((uint64_t) p->limits.runtime_max_sec + DEADLINE_SLACK_SEC) *
                                                  1000000ULL
                                        : 0,
                },
                on_run_line, on_run_done, b, &b->run, e);
        if (r < 0) {
                build_free(b);
                return r;
        }
        /* Before the first line, so the line callback can name the unit (build_unit()). */
        *ret = b;
        emit(b, "info",
             "Running the build script in %s (as %s, MemoryMax=%llu, TasksMax=%u, CPUQuota=%u%%, "
             "RuntimeMaxSec=%u)",
             b->unit, b->lease.user, (unsigned long long) p->limits.memory_max, p->limits.tasks_max,
             p->limits.cpu_quota_percent, p->limits.runtime_max_sec);
        if (fill_note[0])
                emit(b, "info", "%s", fill_note);
        return 0;
}

void build_cancel(struct build *b) {
        if (!b || b->finished)
                return;
        unit_run_cancel(b->run);
}

struct build *build_free(struct build *b) {
        if (!b)
                return NULL;
        b->run = unit_run_free(b->run); /* asks systemd to stop a unit still running */
        cleanup_files(b);
        /* A unit still running may still write it: the next build of the overlay removes it. */
        /* A unit still running keeps its slice populated, so the pool will not hand its uid to
         * another build until it is gone, whoever asks. */
        give_lease(b);
        safe_close(b->tmpfd);
        safe_close(b->dirfd);
        free(b);
        return NULL;
}

const char *build_unit(const struct build *b) {
        return b->unit;
}

uint64_t build_generation(const struct build *b) {
        return b->generation;
}

const char *build_error(const struct build *b) {
        return b->error[0] ? b->error : NULL;
}
