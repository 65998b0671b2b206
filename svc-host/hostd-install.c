/* steamcmd in transient units of its own. See hostd-install.h. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-fs.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-unitrun.h"

enum step { STEP_WINDOWS, STEP_LINUX, STEP_LINK, _STEP_MAX };

static const char *const step_names[_STEP_MAX] = {"windows", "linux", "link"};
static const char *const step_markers[_STEP_MAX] = {
        "Step: downloading windows platform payload...",
        "Step: downloading linux platform payload...",
        "Step: linking steamclient.so...",
};

/* Points $1/steamclient.so at $2 through a temporary name and a rename, so a server starting
 * meanwhile sees the old link or the new one, never none. Arguments, not a composed command
 * line: no path is ever parsed by the shell. */
#define LINK_SCRIPT                                                                                         \
        "mkdir -p -- \"$1\" && ln -sfn -- \"$2\" \"$1/.steamclient.so.tmp\" && "                            \
        "mv -Tf -- \"$1/.steamclient.so.tmp\" \"$1/steamclient.so\" && echo \"Linked $1/steamclient.so -> " \
        "$2\" || { echo \"warning: cannot link $1/steamclient.so -> $2\" >&2; exit 1; }"

struct hostd_install {
        sd_event *event;
        struct hostd_bus *bus;
        /* Sized so that every path made from them below fits PATH_MAX. */
        char steamcmd[PATH_MAX - 64];
        char steamcmd_dir[PATH_MAX - 64];
        char install_dir[PATH_MAX - 64];
        char root[PATH_MAX - 128];
        char home[PATH_MAX - 64];
        char user[64];
        char own_unit[UNIT_NAME_MAX]; /* hostd's own service, "" if none */
        unsigned long long n;
        enum step step;
        /* One run per step; a finished one is freed with the install, not from inside its own
         * callback. */
        struct unit_run *run[_STEP_MAX];
        char unit[UNIT_NAME_MAX];
        install_line_cb line_cb;
        install_done_cb done_cb;
        void *userdata;
        bool cancelled;
        bool finished;
};

static void emit(struct hostd_install *i, const char *stream, const char *fmt, ...) _printf_(3, 4);
static void emit(struct hostd_install *i, const char *stream, const char *fmt, ...) {
        char line[PATH_MAX * 2 + 128];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (i->line_cb)
                i->line_cb(stream, line, i->userdata);
}

static void finish(struct hostd_install *i, int r, const char *fmt, ...) _printf_(3, 4);
static void finish(struct hostd_install *i, int r, const char *fmt, ...) {
        install_done_cb cb = i->done_cb;
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        i->finished = true;
        i->done_cb = NULL;
        i->unit[0] = 0;
        if (cb)
                cb(r, msg, i->userdata);
}

static void on_run_line(unsigned stream, const char *line, void *userdata) {
        struct hostd_install *i = userdata;

        if (i->line_cb)
                i->line_cb(unit_run_stream_name(stream), line, i->userdata);
}

static int start_step(struct hostd_install *i, enum step step, struct rpc_error *e);

static void on_run_done(int r, const struct unit_status *st, bool cancelled, const char *message,
                        void *userdata) {
        struct hostd_install *i = userdata;
        struct rpc_error e = {};
        int code;

        if (r < 0) {
                finish(i, r, "install failed: %s", message);
                return;
        }
        if (cancelled || i->cancelled) {
                finish(i, -ECANCELED, "install cancelled");
                return;
        }
        /* ExecMainCode is a CLD_* code: exited (status = exit status) or killed/dumped
         * (status = signal number). */
        code = st->exec_main_code == CLD_EXITED ? st->exec_main_status
               : st->exec_main_code == 0        ? -1
                                                : 128 + st->exec_main_status;
        if (!streq(st->result, "success") || code != 0) {
                if (i->step == STEP_LINK)
                        finish(i, -EIO,
                               "install failed (the steamclient.so links: unit result '%s', status %d)",
                               st->result[0] ? st->result : "?", code);
                else {
                        emit(i, "stderr", "steamcmd (%s pass) exited with status %d", step_names[i->step],
                             code);
                        finish(i, -EIO,
                               "install failed (steamcmd %s pass exited with status %d; unit result '%s')",
                               step_names[i->step], code, st->result[0] ? st->result : "?");
                }
                return;
        }
        if (i->step + 1 < _STEP_MAX) {
                r = start_step(i, i->step + 1, &e);
                if (r < 0)
                        finish(i, r, "install failed: %s", e.message);
                return;
        }
        emit(i, "step", "Step: installation complete.");
        finish(i, 0, "%s", "");
}

static int props_cb(sd_bus_message *m, int stdout_fd, int stderr_fd, void *userdata) {
        struct steamcmd_unit_spec *spec = userdata;

        spec->stdout_fd = stdout_fd;
        spec->stderr_fd = stderr_fd;
        return steamcmd_append_properties(m, spec);
}

/* Which file each sdk link points at: steamcmd's own copy, else the install's. Checked here
 * (a read, as root, of paths that only choose a string); the unit makes the links. */
static const char *link_target(const char *t1, const char *t2) {
        return access(t1, R_OK) >= 0 ? t1 : access(t2, R_OK) >= 0 ? t2 : NULL;
}

/* Starts the unit of step; 1: nothing to run (the step was skipped and the install went on
 * or finished), 0: started, < 0: e says why. */
static int start_step(struct hostd_install *i, enum step step, struct rpc_error *e) {
        char desc[128], dir32[PATH_MAX], dir64[PATH_MAX], t[4][PATH_MAX];
        const char *target32, *target64;
        char *pass_argv[] = {i->steamcmd,
                             "+@sSteamCmdForcePlatformType",
                             (char *) step_names[step],
                             "+force_install_dir",
                             i->install_dir,
                             "+login",
                             "anonymous",
                             "+app_update",
                             STEAM_APP_ID,
                             "validate",
                             "+quit",
                             NULL};
        char *link32[] = {"/bin/sh", "-c", LINK_SCRIPT, "link", dir32, NULL, NULL};
        char *link64[] = {"/bin/sh", "-c", LINK_SCRIPT, "link", dir64, NULL, NULL};
        struct steamcmd_command cmds[2];
        struct steamcmd_unit_spec spec;
        size_t n = 0;
        int r;

        i->step = step;
        emit(i, "step", "%s", step_markers[step]);
        if (step == STEP_LINK) {
                snprintf(t[0], sizeof(t[0]), "%s/linux32/steamclient.so", i->steamcmd_dir);
                snprintf(t[1], sizeof(t[1]), "%s/bin/steamclient.so", i->install_dir);
                snprintf(t[2], sizeof(t[2]), "%s/linux64/steamclient.so", i->steamcmd_dir);
                snprintf(t[3], sizeof(t[3]), "%s/bin/linux64/steamclient.so", i->install_dir);
                snprintf(dir32, sizeof(dir32), "%s/.steam/sdk32", i->home);
                snprintf(dir64, sizeof(dir64), "%s/.steam/sdk64", i->home);
                target32 = link_target(t[0], t[1]);
                target64 = link_target(t[2], t[3]);
                if (target32) {
                        link32[5] = (char *) target32;
                        cmds[n++] = (struct steamcmd_command){link32, true};
                } else
                        emit(i, "stderr", "warning: no steamclient.so for sdk32 (looked at %s and %s)", t[0],
                             t[1]);
                if (target64) {
                        link64[5] = (char *) target64;
                        cmds[n++] = (struct steamcmd_command){link64, true};
                } else
                        emit(i, "stderr", "warning: no steamclient.so for sdk64 (looked at %s and %s)", t[2],
                             t[3]);
                if (n == 0) {
                        emit(i, "step", "Step: installation complete.");
                        finish(i, 0, "%s", "");
                        return 1;
                }
                snprintf(desc, sizeof(desc), "left4me game install: steamclient.so links");
        } else {
                cmds[n++] = (struct steamcmd_command){pass_argv, false};
                snprintf(desc, sizeof(desc), "left4me game install: steamcmd (%s pass)", step_names[step]);
        }
        r = snprintf(i->unit, sizeof(i->unit), INSTALL_UNIT_PREFIX "%llu-%s" UNIT_SUFFIX, i->n,
                     step_names[step]);
        if (r < 0 || (size_t) r >= sizeof(i->unit))
                return rpc_error_set(e, RPC_INTERNAL, "unit name too long");
        spec = (struct steamcmd_unit_spec){
                .description = desc,
                .user = i->user,
                .home = i->home,
                .root = i->root,
                .install_dir = i->install_dir,
                .steamcmd_dir = i->steamcmd_dir,
                .commands = cmds,
                .n_commands = n,
                .stdout_fd = -1,
                .stderr_fd = -1,
                .binds_to = i->own_unit[0] ? i->own_unit : NULL,
        };
        return unit_run_start(
                &(struct unit_run_params){
                        .event = i->event,
                        .bus = i->bus,
                        .unit = i->unit,
                        .props = props_cb,
                        .props_userdata = &spec,
                },
                on_run_line, on_run_done, i, &i->run[step], e);
}

int install_start(const struct install_params *p, install_line_cb line_cb, install_done_cb done_cb,
                  void *userdata, struct hostd_install **ret, char *errbuf, size_t errlen) {
        struct hostd_install *i;
        struct rpc_error e = {};
        struct passwd *pw;
        char *slash;
        int r;

        if (!p->steamcmd || p->steamcmd[0] != '/' || strlen(p->steamcmd) >= PATH_MAX - 64 ||
            access(p->steamcmd, X_OK) < 0) {
                snprintf(errbuf, errlen, "steamcmd is not an executable at '%s' (paths.steamcmd)",
                         p->steamcmd ?: "");
                return -ENOENT;
        }
        if (!p->root || p->root[0] != '/' || streq(p->root, "/") || strlen(p->root) >= PATH_MAX - 128) {
                snprintf(errbuf, errlen, "paths.root '%s' cannot hold an install", p->root ?: "");
                return -EINVAL;
        }
        {
                /* PID 1 binds <root>/installation into steamcmd's units by path. */
                _cleanup_close_ int rootfd = root_open(p->root);
                if (rootfd < 0) {
                        snprintf(errbuf, errlen,
                                 "paths.root '%s': %s (it and every directory above it must be root's "
                                 "and not writable by group or others, no symlink on the way)",
                                 p->root, strerror(-rootfd));
                        return rootfd == -ENOENT ? -ENOENT : -EPERM;
                }
        }
        pw = getpwnam(p->user);
        if (!pw) {
                snprintf(errbuf, errlen, "user '%s' does not exist (systemd-sysusers creates it)", p->user);
                return -ESRCH;
        }
        if (pw->pw_uid == 0 || !pw->pw_dir || pw->pw_dir[0] != '/' || streq(pw->pw_dir, "/") ||
            strlen(pw->pw_dir) >= PATH_MAX - 64 || strlen(p->user) >= sizeof(i->user)) {
                snprintf(errbuf, errlen, "user '%s' is root or has no usable home ('%s')", p->user,
                         pw->pw_dir ?: "");
                return -ESRCH;
        }

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->event = sd_event_ref(p->event);
        i->bus = p->bus;
        i->n = p->n;
        i->line_cb = line_cb;
        i->done_cb = done_cb;
        i->userdata = userdata;
        snprintf(i->steamcmd, sizeof(i->steamcmd), "%s", p->steamcmd);
        snprintf(i->steamcmd_dir, sizeof(i->steamcmd_dir), "%s", p->steamcmd);
        slash = strrchr(i->steamcmd_dir, '/');
        if (slash == i->steamcmd_dir)
                slash[1] = 0;
        else
                *slash = 0;
        snprintf(i->root, sizeof(i->root), "%s", p->root);
        snprintf(i->install_dir, sizeof(i->install_dir), "%s/installation", p->root);
        snprintf(i->home, sizeof(i->home), "%s", pw->pw_dir);
        snprintf(i->user, sizeof(i->user), "%s", p->user);
        {
                _cleanup_free_ char *own = NULL;

                /* Under systemd, hostd's unit; by hand a scope or nothing, and no binding. */
                if (sd_pid_get_unit(0, &own) >= 0 && strlen(own) < sizeof(i->own_unit) &&
                    strlen(own) > strlen(UNIT_SUFFIX) &&
                    streq(own + strlen(own) - strlen(UNIT_SUFFIX), UNIT_SUFFIX))
                        snprintf(i->own_unit, sizeof(i->own_unit), "%s", own);
        }

        r = start_step(i, STEP_WINDOWS, &e);
        if (r < 0) {
                i->done_cb = NULL;
                install_free(i);
                snprintf(errbuf, errlen, "%s", e.message);
                return e.code == RPC_UNAVAILABLE ? -ENOTCONN : r;
        }
        *ret = i;
        return 0;
}

void install_cancel(struct hostd_install *i) {
        if (!i || i->finished)
                return;
        i->cancelled = true;
        unit_run_cancel(i->run[i->step]);
}

struct hostd_install *install_free(struct hostd_install *i) {
        if (!i)
                return NULL;
        for (unsigned k = 0; k < _STEP_MAX; k++)
                i->run[k] = unit_run_free(i->run[k]);
        sd_event_unref(i->event);
        free(i);
        return NULL;
}

const char *install_unit(const struct hostd_install *i) {
        return i->unit;
}
