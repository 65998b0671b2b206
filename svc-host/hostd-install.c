/* steamcmd in a child process group. See hostd-install.h. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-lines.h"

/* ---- the child ------------------------------------------------------------------------- */

enum { P_OUT, P_ERR, P_STEP, _P_MAX };
static const char *const stream_names[_P_MAX] = {"stdout", "stderr", "step"};

struct hostd_install {
        sd_event *event;
        pid_t pid;
        sd_event_source *child_source;
        sd_event_source *io[_P_MAX];
        int fd[_P_MAX];
        struct line_splitter split[_P_MAX];
        install_line_cb line_cb;
        install_done_cb done_cb;
        void *userdata;
        bool cancelled;
        bool exited;
        int status;
};

static void step(const char *msg) {
        (void) loop_write(3, msg, strlen(msg));
        (void) loop_write(3, "\n", 1);
}

/* Runs one steamcmd pass in the foreground; returns its exit status (or 127/128+sig). */
static int run_pass(const char *steamcmd, const char *platform, const char *install_dir) {
        char *argv[] = {(char *) steamcmd,
                        "+@sSteamCmdForcePlatformType",
                        (char *) platform,
                        "+force_install_dir",
                        (char *) install_dir,
                        "+login",
                        "anonymous",
                        "+app_update",
                        STEAM_APP_ID,
                        "validate",
                        "+quit",
                        NULL};
        int status;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return 127;
        if (pid == 0) {
                (void) close(3);
                execv(steamcmd, argv);
                fprintf(stderr, "cannot execute %s: %s\n", steamcmd, strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 127;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Points dir/steamclient.so at the first existing target. */
static void link_steamclient(const char *home, const char *sdk, const char *t1, const char *t2) {
        char dir[PATH_MAX - 64], link[PATH_MAX], tmp[PATH_MAX];
        const char *target = access(t1, R_OK) >= 0 ? t1 : access(t2, R_OK) >= 0 ? t2 : NULL;

        if (!target) {
                fprintf(stderr, "warning: no steamclient.so for %s (looked at %s and %s)\n", sdk, t1, t2);
                return;
        }
        if (strlen(home) > sizeof(dir) - 16)
                return;
        snprintf(dir, sizeof(dir), "%s/.steam", home);
        (void) mkdir(dir, 0755);
        snprintf(dir, sizeof(dir), "%s/.steam/%s", home, sdk);
        (void) mkdir(dir, 0755);
        snprintf(link, sizeof(link), "%s/steamclient.so", dir);
        snprintf(tmp, sizeof(tmp), "%s/.steamclient.so.tmp", dir);
        (void) unlink(tmp);
        if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
                fprintf(stderr, "warning: cannot link %s -> %s: %s\n", link, target, strerror(errno));
                (void) unlink(tmp);
                return;
        }
        printf("Linked %s -> %s\n", link, target);
}

_noreturn_ static void child_main(const char *steamcmd, const char *root, const struct passwd *pw) {
        char install_dir[PATH_MAX - 64], sc_dir[PATH_MAX - 64], t1[PATH_MAX], t2[PATH_MAX];
        char *slash;
        int r;

        snprintf(install_dir, sizeof(install_dir), "%s/installation", root);
        snprintf(sc_dir, sizeof(sc_dir), "%s", steamcmd);
        slash = strrchr(sc_dir, '/');
        if (slash)
                *slash = 0;

        step("Step: downloading windows platform payload...");
        r = run_pass(steamcmd, "windows", install_dir);
        if (r != 0) {
                fprintf(stderr, "steamcmd (windows pass) exited with status %d\n", r);
                _exit(r > 0 && r < 256 ? r : 1);
        }
        step("Step: downloading linux platform payload...");
        r = run_pass(steamcmd, "linux", install_dir);
        if (r != 0) {
                fprintf(stderr, "steamcmd (linux pass) exited with status %d\n", r);
                _exit(r > 0 && r < 256 ? r : 1);
        }
        step("Step: linking steamclient.so...");
        snprintf(t1, sizeof(t1), "%s/linux32/steamclient.so", sc_dir);
        snprintf(t2, sizeof(t2), "%s/bin/steamclient.so", install_dir);
        link_steamclient(pw->pw_dir, "sdk32", t1, t2);
        snprintf(t1, sizeof(t1), "%s/linux64/steamclient.so", sc_dir);
        snprintf(t2, sizeof(t2), "%s/bin/linux64/steamclient.so", install_dir);
        link_steamclient(pw->pw_dir, "sdk64", t1, t2);
        fflush(stdout);
        step("Step: installation complete.");
        _exit(0);
}

static void on_line(unsigned p, const char *line, void *userdata) {
        struct hostd_install *i = userdata;

        if (i->line_cb)
                i->line_cb(stream_names[p], line, i->userdata);
}

/* Reads what is available on pipe p; returns 1 at EOF, 0 otherwise. */
static int drain(struct hostd_install *i, unsigned p) {
        return line_pipe_drain(&i->fd[p], &i->io[p], &i->split[p], p, on_line, i);
}

static void maybe_done(struct hostd_install *i) {
        install_done_cb cb = i->done_cb;
        char msg[128];
        int r = 0;

        if (!i->exited)
                return;
        for (unsigned p = 0; p < _P_MAX; p++)
                if (i->fd[p] >= 0)
                        return;
        if (i->cancelled) {
                r = -ECANCELED;
                snprintf(msg, sizeof(msg), "install cancelled");
        } else if (i->status != 0) {
                r = -EIO;
                snprintf(msg, sizeof(msg), "install failed (steamcmd step exited with status %d)",
                         i->status);
        } else
                msg[0] = 0;
        i->done_cb = NULL;
        if (cb)
                cb(r, msg, i->userdata);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct hostd_install *i = userdata;

        for (unsigned p = 0; p < _P_MAX; p++)
                if (i->io[p] == s) {
                        (void) drain(i, p);
                        break;
                }
        maybe_done(i);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct hostd_install *i = userdata;

        i->exited = true;
        i->status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        /* Whatever it left running in its group goes too. */
        (void) kill(-i->pid, SIGKILL);
        /* Lines still buffered in the pipes; a surviving writer cannot keep us waiting. */
        for (unsigned p = 0; p < _P_MAX; p++) {
                if (drain(i, p) == 0) {
                        i->io[p] = sd_event_source_disable_unref(i->io[p]);
                        i->fd[p] = safe_close(i->fd[p]);
                }
        }
        i->child_source = sd_event_source_disable_unref(i->child_source);
        maybe_done(i);
        return 0;
}

int install_start(sd_event *e, const struct install_params *p, install_line_cb line_cb,
                  install_done_cb done_cb, void *userdata, struct hostd_install **ret, char *errbuf,
                  size_t errlen) {
        _cleanup_close_ int o_r = -1, o_w = -1, e_r = -1, e_w = -1, s_r = -1, s_w = -1;
        struct hostd_install *i;
        struct passwd *pw;
        int pfd[2], r;
        pid_t pid;

        if (!p->steamcmd || p->steamcmd[0] != '/' || access(p->steamcmd, X_OK) < 0) {
                snprintf(errbuf, errlen, "steamcmd is not an executable at '%s' (paths.steamcmd)",
                         p->steamcmd ?: "");
                return -ENOENT;
        }
        pw = getpwnam(p->user);
        if (!pw) {
                snprintf(errbuf, errlen, "user '%s' does not exist (systemd-sysusers creates it)", p->user);
                return -ESRCH;
        }

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        o_r = pfd[0], o_w = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        e_r = pfd[0], e_w = pfd[1];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        s_r = pfd[0], s_w = pfd[1];

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        for (unsigned k = 0; k < _P_MAX; k++) {
                i->fd[k] = -1;
                if (line_splitter_init(&i->split[k], CHILD_LINE_MAX) < 0) {
                        install_free(i);
                        return -ENOMEM;
                }
        }
        i->event = sd_event_ref(e);
        i->line_cb = line_cb;
        i->done_cb = done_cb;
        i->userdata = userdata;

        /* Copy what the child needs before fork: getpwnam's buffer is not ours after it. */
        {
                struct passwd cpw = *pw;
                char home[PATH_MAX];
                gid_t gid = pw->pw_gid;
                uid_t uid = pw->pw_uid;

                snprintf(home, sizeof(home), "%s", pw->pw_dir);
                cpw.pw_dir = home;

                pid = fork();
                if (pid < 0) {
                        r = -errno;
                        install_free(i);
                        return r;
                }
                if (pid == 0) {
                        sigset_t ss;
                        char env_home[PATH_MAX + 8];
                        char *envp_min[] = {NULL};

                        (void) setpgid(0, 0);
                        sigemptyset(&ss);
                        (void) sigprocmask(SIG_SETMASK, &ss, NULL);
                        for (int sig = 1; sig < _NSIG; sig++)
                                (void) signal(sig, SIG_DFL);
                        if (dup2(o_w, STDOUT_FILENO) < 0 || dup2(e_w, STDERR_FILENO) < 0 || dup2(s_w, 3) < 0)
                                _exit(126);
                        {
                                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                                if (devnull >= 0 && devnull != STDIN_FILENO)
                                        (void) dup2(devnull, STDIN_FILENO);
                        }
                        (void) close_range(4, ~0U, 0);
                        if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
                                fprintf(stderr, "cannot drop privileges to '%s': %s\n", cpw.pw_name ?: "?",
                                        strerror(errno));
                                _exit(126);
                        }
                        if (uid != 0 && setuid(0) >= 0)
                                _exit(126); /* privileges were not dropped for good */
                        environ = envp_min;
                        snprintf(env_home, sizeof(env_home), "%s", home);
                        setenv("HOME", env_home, 1);
                        setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
                        setenv("LANG", "C.UTF-8", 1);
                        setenv("USER", p->user, 1);
                        if (chdir(home) < 0)
                                (void) chdir("/");
                        umask(0022);
                        setvbuf(stdout, NULL, _IOLBF, 0);
                        child_main(p->steamcmd, p->root, &cpw);
                }
        }
        (void) setpgid(pid, pid); /* both sides, so kill(-pid) works whoever runs first */
        i->pid = pid;

        i->fd[P_OUT] = TAKE_FD(o_r);
        i->fd[P_ERR] = TAKE_FD(e_r);
        i->fd[P_STEP] = TAKE_FD(s_r);
        for (unsigned k = 0; k < _P_MAX; k++) {
                (void) fcntl(i->fd[k], F_SETFL, fcntl(i->fd[k], F_GETFL) | O_NONBLOCK);
                r = sd_event_add_io(e, &i->io[k], i->fd[k], EPOLLIN, on_io, i);
                if (r < 0)
                        goto fail;
        }
        r = sd_event_add_child(e, &i->child_source, pid, WEXITED, on_child, i);
        if (r < 0)
                goto fail;
        *ret = i;
        return 0;

fail:
        i->done_cb = NULL;
        install_free(i);
        snprintf(errbuf, errlen, "cannot watch the install process: %s", strerror(-r));
        return r;
}

void install_cancel(struct hostd_install *i) {
        if (!i || i->exited)
                return;
        i->cancelled = true;
        (void) kill(-i->pid, SIGKILL);
}

struct hostd_install *install_free(struct hostd_install *i) {
        if (!i)
                return NULL;
        if (i->pid > 0 && !i->exited) {
                (void) kill(-i->pid, SIGKILL);
                (void) waitpid(i->pid, NULL, 0);
        }
        i->child_source = sd_event_source_disable_unref(i->child_source);
        for (unsigned k = 0; k < _P_MAX; k++) {
                i->io[k] = sd_event_source_disable_unref(i->io[k]);
                safe_close(i->fd[k]);
                line_splitter_done(&i->split[k]);
        }
        sd_event_unref(i->event);
        free(i);
        return NULL;
}
