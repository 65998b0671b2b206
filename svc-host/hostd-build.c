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

#include "common/log.h"
#include "common/util.h"
#include "svc-host/hostd-build.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-instance.h"
#include "proto/spec.h"

#define LINE_MAX_BYTES     4096u
#define STOP_TIMEOUT_USEC  (10ULL * 1000000ULL) /* SIGTERM, then SIGKILL after this */
#define RECHECK_USEC       (5ULL * 1000000ULL)  /* fallback state check while running */
#define EOF_GRACE_USEC     (5ULL * 1000000ULL)  /* wait for the pipes after the unit ended */
#define DEADLINE_SLACK_SEC 120ULL               /* beyond RuntimeMaxSec: stop it ourselves */
/* The journal copy of a build's output (docs/sandbox.md "Output"): at most this many lines per
 * interval per build; the rest are counted and named in one line. The caller's stream (and
 * jobd's job log) always gets every line. */
#define JOURNAL_INTERVAL_USEC (30ULL * 1000000ULL)
#define JOURNAL_BURST         5000u

/* ---- the unit's properties ------------------------------------------------------------------ */

static int append_bool(sd_bus_message *m, const char *name, bool v) {
        return sd_bus_message_append(m, "(sv)", name, "b", (int) v);
}

static int append_str(sd_bus_message *m, const char *name, const char *v) {
        return sd_bus_message_append(m, "(sv)", name, "s", v);
}

static int append_u64(sd_bus_message *m, const char *name, uint64_t v) {
        return sd_bus_message_append(m, "(sv)", name, "t", v);
}

static int append_strv(sd_bus_message *m, const char *name, char **v) {
        int r;

        r = unit_prop_open(m, name, "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, v);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

/* (bas): an allow list (true) or a deny list (false) of names. */
static int append_list(sd_bus_message *m, const char *name, bool allow, char **v) {
        int r;

        r = unit_prop_open(m, name, "(bas)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "bas");
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) allow);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, v);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

struct bind {
        const char *source, *dest;
        bool ignore_missing;
};

/* a(ssbt): source, destination, ignore a missing source, mount flags (0: not recursive). */
static int append_binds(sd_bus_message *m, const char *name, const struct bind *b, size_t n) {
        int r;

        r = unit_prop_open(m, name, "a(ssbt)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ssbt)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(m, "(ssbt)", b[i].source, b[i].dest, (int) b[i].ignore_missing,
                                          (uint64_t) 0);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

/* Addresses the build must never reach: this host, the LAN, link-local (cloud metadata at
 * 169.254.169.254), multicast and the reserved ranges. Public internet stays reachable. */
static const char *const denied_addresses[] = {
        "0.0.0.0/8",     "127.0.0.0/8",    "10.0.0.0/8",  "100.64.0.0/10", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",   "::/127",
        "fe80::/10",     "fc00::/7",       "ff00::/8",
};

static int append_ip_deny(sd_bus_message *m) {
        int r;

        r = unit_prop_open(m, "IPAddressDeny", "a(iayu)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(iayu)");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(denied_addresses); i++) {
                char addr[64];
                unsigned char bytes[16];
                const char *slash = strchr(denied_addresses[i], '/');
                int family = strchr(denied_addresses[i], ':') ? AF_INET6 : AF_INET;

                snprintf(addr, sizeof(addr), "%.*s", (int) (slash - denied_addresses[i]),
                         denied_addresses[i]);
                long long prefix;

                if (inet_pton(family, addr, bytes) != 1 ||
                    safe_atoi64(slash + 1, 0, family == AF_INET ? 32 : 128, &prefix) < 0)
                        return -EINVAL;
                r = sd_bus_message_open_container(m, 'r', "iayu");
                if (r >= 0)
                        r = sd_bus_message_append(m, "i", (int32_t) family);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', bytes, family == AF_INET ? 4 : 16);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", (uint32_t) prefix);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

/* The properties every build gets whatever its spec; docs/sandbox.md says why each. */
static const char *const fixed_bools[] = {
        /* identity and privilege */
        "NoNewPrivileges",
        "RemoveIPC",
        /* file system */
        "PrivateTmp",
        "PrivateDevices",
        /* kernel interfaces */
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "PrivateIPC",
        "RestrictSUIDSGID",
        "RestrictRealtime",
        "LockPersonality",
        "MemoryDenyWriteExecute",
};

static const struct {
        const char *name, *value;
} fixed_strs[] = {
        {"Type", "exec"},
        /* Collected once inactive; a failed one stays until hostd read its result and reset
         * it. (AddRef=yes would keep it for hostd, but systemd refuses it on its private
         * socket, which has no bus names to track.) */
        {"CollectMode", "inactive"},
        {"WorkingDirectory", "/overlay"},
        {"StandardInput", "null"},
        {"KeyringMode", "private"},
        {"ProtectSystem", "strict"},
        {"ProtectHome", "yes"},
        {"DevicePolicy", "closed"},
        {"ProtectProc", "invisible"},
        {"ProcSubset", "pid"},
        {"OOMPolicy", "stop"},
};

static const struct {
        const char *name;
        uint64_t value;
} fixed_u64s[] = {
        {"CapabilityBoundingSet", 0},
        {"AmbientCapabilities", 0},
        {"RestrictNamespaces", 0}, /* the allowed set: none */
        {"MemorySwapMax", 0},
        {"TimeoutStopUSec", STOP_TIMEOUT_USEC},
        {"LimitCORE", 0},
        {"LimitCORESoft", 0},
};

int build_append_properties(sd_bus_message *m, const struct build_unit_spec *s) {
        char *exec_argv[] = {"/bin/bash", "/script.sh", NULL};
        char *env[] = {"HOME=/tmp",    "TMPDIR=/tmp",      "PATH=/usr/bin:/usr/sbin:/bin:/sbin",
                       "LANG=C.UTF-8", "OVERLAY=/overlay", NULL};
        char *families[] = {"AF_INET", "AF_INET6", "AF_UNIX", NULL};
        /* @system-service is systemd's list for ordinary services; @network-io is part of it
         * already and named for the downloads. The deny list removes what an ordinary service
         * may do but a build never needs (ptrace, mount, module loading, clock, swap, raw
         * I/O, reboot, ...), so these fail with EPERM even where a capability would allow. */
        char *syscalls_allow[] = {"@system-service", "@network-io", NULL};
        char *syscalls_deny[] = {"@clock",  "@cpu-emulation", "@debug",      "@module",
                                 "@mount",  "@obsolete",      "@privileged", "@raw-io",
                                 "@reboot", "@swap",          NULL};
        char *archs[] = {"native", NULL};
        /* /run/lock: the one world-writable directory of the host that ProtectSystem=strict
         * leaves writable (it is a mount of its own below /run, seen in the container). */
        char *tmpfs[] = {"/etc", "/var/lib", "/run/lock", NULL};
        char *inaccessible[] = {"-/run/left4me", "-/run/dbus", "-/run/user", NULL};
        const struct bind ro[] = {
                {s->resolv_conf ?: "/etc/resolv.conf", "/etc/resolv.conf", true},
                {"/etc/ssl", "/etc/ssl", true},
                {"/etc/ca-certificates", "/etc/ca-certificates", true},
                {"/etc/nsswitch.conf", "/etc/nsswitch.conf", true},
                {"/etc/alternatives", "/etc/alternatives", true},
                {s->script_path, "/script.sh", false},
        };
        const struct bind rw[] = {{s->overlay_dir, "/overlay", false}};
        int r;

        if (!s->overlay_dir || !s->script_path || !s->user)
                return -EINVAL;

        /* What it is and where it runs. */
        r = append_str(m, "Description", s->description ?: "left4me overlay build");
        if (r >= 0)
                r = append_str(m, "Slice", BUILD_SLICE);
        if (r >= 0)
                r = unit_prop_exec_start(m, exec_argv);
        if (r >= 0)
                r = append_strv(m, "Environment", env);
        if (r >= 0 && s->stdout_fd >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardOutputFileDescriptor", "h", s->stdout_fd);
        if (r >= 0 && s->stderr_fd >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardErrorFileDescriptor", "h", s->stderr_fd);

        /* Identity and privilege. */
        if (r >= 0)
                r = append_str(m, "User", s->user);
        if (r >= 0)
                r = append_str(m, "Group", s->user);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "UMask", "u", (uint32_t) 0022);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "OOMScoreAdjust", "i", (int32_t) 500);

        /* File system. */
        if (r >= 0) {
                /* a(ss): path, options. The host's /etc (shadow, left4me.yaml, ssh keys) and
                 * /var/lib (the databases, other overlays, instances) are replaced by empty
                 * tmpfs; what a download needs is bound back read-only below. */
                r = unit_prop_open(m, "TemporaryFileSystem", "a(ss)");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "(ss)");
                for (size_t i = 0; r >= 0 && tmpfs[i]; i++)
                        r = sd_bus_message_append(m, "(ss)", tmpfs[i], "");
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = unit_prop_close(m);
        }
        if (r >= 0)
                r = append_binds(m, "BindReadOnlyPaths", ro, ELEMENTSOF(ro));
        if (r >= 0)
                r = append_binds(m, "BindPaths", rw, ELEMENTSOF(rw));
        if (r >= 0)
                r = append_strv(m, "InaccessiblePaths", inaccessible);

        /* Kernel interfaces. */
        if (r >= 0)
                r = append_list(m, "RestrictAddressFamilies", true, families);
        if (r >= 0)
                r = append_list(m, "SystemCallFilter", true, syscalls_allow);
        if (r >= 0)
                r = append_list(m, "SystemCallFilter", false, syscalls_deny);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "SystemCallErrorNumber", "i", (int32_t) EPERM);
        if (r >= 0)
                r = append_strv(m, "SystemCallArchitectures", archs);

        /* Network. */
        if (r >= 0)
                r = append_ip_deny(m);

        /* Limits. */
        if (r >= 0)
                r = append_u64(m, "MemoryMax", s->limits.memory_max);
        if (r >= 0)
                r = append_u64(m, "TasksMax", s->limits.tasks_max);
        if (r >= 0)
                r = append_u64(m, "CPUQuotaPerSecUSec", (uint64_t) s->limits.cpu_quota_percent * 10000ULL);
        if (r >= 0)
                r = append_u64(m, "RuntimeMaxUSec", (uint64_t) s->limits.runtime_max_sec * 1000000ULL);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_bools); i++)
                r = append_bool(m, fixed_bools[i], true);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_strs); i++)
                r = append_str(m, fixed_strs[i].name, fixed_strs[i].value);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_u64s); i++)
                r = append_u64(m, fixed_u64s[i].name, fixed_u64s[i].value);
        return r;
}

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

/* ---- the overlay dir --------------------------------------------------------------------------- */

static int overlays_dir_open(int rootfd, bool create) {
        int fd;

        fd = trusted_dir_open(rootfd, "overlays");
        if (fd == -ENOENT && create) {
                if (mkdirat(rootfd, "overlays", 0755) < 0 && errno != EEXIST)
                        return -errno;
                fd = trusted_dir_open(rootfd, "overlays");
        }
        return fd;
}

int overlay_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, fd = -1;
        struct stat st;

        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "id: " NAME_MUST_MATCH);
        ofd = overlays_dir_open(rootfd, true);
        if (ofd < 0)
                return rpc_error_set(
                        e, ofd == -EPERM ? RPC_INTERNAL : RPC_INTERNAL, "overlays/: %s%s", strerror(-ofd),
                        ofd == -EPERM ? " (must be root's and not writable by group or others)" : "");
        if (mkdirat(ofd, id, 0755) < 0 && errno != EEXIST)
                return rpc_error_set(e, RPC_INTERNAL, "cannot create overlays/%s: %s", id, strerror(errno));
        fd = dir_open_nofollow(ofd, id);
        if (fd < 0)
                return rpc_error_set(e, fd == -ELOOP || fd == -ENOTDIR ? RPC_CONFLICT : RPC_INTERNAL,
                                     "overlays/%s: %s%s", id, strerror(-fd),
                                     fd == -ELOOP || fd == -ENOTDIR ? " (not a directory; delete it first)"
                                                                    : "");
        if (fstat(fd, &st) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/%s: %s", id, strerror(errno));
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot hand overlays/%s to %s: %s", id, BUILD_USER,
                                     strerror(errno));
        if ((st.st_mode & 07777) != 0755 && fchmod(fd, 0755) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot chmod overlays/%s: %s", id, strerror(errno));
        return TAKE_FD(fd);
}

static int publish_children(int dirfd, dev_t dev, unsigned depth);

static int publish_one(int dirfd, const char *name, dev_t dev, unsigned depth) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        mode_t want;
        int n = 0, r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return 0; /* symlinks, FIFOs, sockets, devices: left alone */
        if (st.st_dev != dev)
                return 0; /* another mount: not ours */
        /* O_NOFOLLOW + the type check again on the fd: what we chmod is what we looked at. */
        fd = openat(dirfd, name,
                    (S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK | O_NOCTTY) |
                            O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) || st.st_dev != dev)
                return 0;
        want = st.st_mode & 07777 & ~(mode_t) (S_ISUID | S_ISGID);
        want |= S_IROTH;
        if (S_ISDIR(st.st_mode) || (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
                want |= S_IXOTH;
        if (S_ISDIR(st.st_mode))
                want |= S_IRUSR | S_IXUSR; /* so the owner can still walk what we publish */
        if (want != (st.st_mode & 07777)) {
                if (fchmod(fd, want) < 0)
                        return -errno;
                n++;
        }
        if (S_ISDIR(st.st_mode)) {
                if (depth >= RM_MAX_DEPTH)
                        return -ELOOP;
                r = publish_children(fd, dev, depth + 1);
                if (r < 0)
                        return r;
                n += r;
                TAKE_FD(fd); /* publish_children took it */
        }
        return n;
}

/* Takes ownership of fd. */
static int publish_children(int fd, dev_t dev, unsigned depth) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        int n = 0, r = 0;

        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = publish_one(dirfd(d), de->d_name, dev, depth);
                if (r < 0)
                        break;
                n += r;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r < 0 ? r : n;
}

int overlay_publish(int dirfd) {
        struct stat st;
        int fd;

        if (fstat(dirfd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_mode & 07777) != 0755 && fchmod(dirfd, 0755) < 0)
                return -errno;
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return publish_children(fd, st.st_dev, 0);
}

int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, ofd = -1;
        struct stat st;
        int r;

        *ret_existed = false;
        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "id: " NAME_MUST_MATCH);
        rootfd = root_open(root);
        if (rootfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open %s: %s", root, strerror(-rootfd));
        ofd = overlays_dir_open(rootfd, false);
        if (ofd == -ENOENT)
                return 0;
        if (ofd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/: %s", strerror(-ofd));
        if (fstatat(ofd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return rpc_error_set(e, RPC_INTERNAL, "overlays/%s: %s", id, strerror(errno));
        }
        *ret_existed = true;
        r = rm_rf_at(ofd, id);
        if (r < 0)
                return rpc_error_set(e, r == -EBUSY ? RPC_CONFLICT : RPC_INTERNAL,
                                     "cannot remove overlays/%s: %s%s", id, strerror(-r),
                                     r == -EBUSY ? " (something is mounted inside)" : "");
        return 0;
}

/* ---- a running build ------------------------------------------------------------------------- */

enum { P_OUT, P_ERR, _P_MAX };
static const char *const stream_names[_P_MAX] = {"stdout", "stderr"};

struct build {
        sd_event *event;
        struct hostd_bus *bus;
        char id[NAME_LEN_MAX + 1];
        char unit[128];
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
                if (cb)
                        cb(r, BUILD_FAILED, -1, b->message, b->userdata);
                return 0;
        }
        result = build_result_from_unit(b->st.result, b->st.exec_main_code, b->st.exec_main_status,
                                        b->cancelled, &exit_code);
        n = overlay_publish(b->dirfd);
        if (n < 0)
                log_warning("%s: cannot make overlays/%s world-readable: %s", b->unit, b->id, strerror(-n));
        cleanup_files(b);
        release_unit(b);
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

static void on_line(const char *line, void *userdata);

struct line_ctx {
        struct build *b;
        unsigned p;
};

static void on_line(const char *line, void *userdata) {
        struct line_ctx *c = userdata;

        if (c->b->line_cb)
                c->b->line_cb(stream_names[c->p], line, c->b->userdata);
        journal_line(c->b, c->p, line);
}

/* Reads what is there; at EOF closes the pipe. Returns 1 at EOF. */
static int drain(struct build *b, unsigned p) {
        char buf[8192];
        struct line_ctx c = {b, p};

        for (;;) {
                ssize_t n;

                if (b->fd[p] < 0)
                        return 1;
                n = read(b->fd[p], buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0) {
                        line_splitter_flush(&b->split[p], on_line, &c);
                        b->io[p] = sd_event_source_disable_unref(b->io[p]);
                        b->fd[p] = safe_close(b->fd[p]);
                        return 1;
                }
                line_splitter_feed(&b->split[p], buf, (size_t) n, on_line, &c);
        }
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
        uid_t uid;
        gid_t gid;
        int pfd[2], r;

        if (!name_is_valid(p->id))
                return rpc_error_set(e, RPC_INVALID, "id: " NAME_MUST_MATCH);
        if (memchr(p->script, 0, p->script_len))
                return rpc_error_set(e, RPC_INVALID, "script: must not contain NUL bytes");
        pw = getpwnam(BUILD_USER);
        if (!pw)
                return rpc_error_set(e, RPC_UNAVAILABLE,
                                     "user '%s' does not exist (systemd-sysusers creates it)", BUILD_USER);
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (uid == 0)
                return rpc_error_set(e, RPC_INTERNAL, "user '%s' is root", BUILD_USER);

        b = calloc(1, sizeof(*b));
        if (!b)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        b->tmpfd = b->dirfd = -1;
        for (unsigned k = 0; k < _P_MAX; k++) {
                b->fd[k] = -1;
                if (line_splitter_init(&b->split[k], LINE_MAX_BYTES) < 0) {
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
        b->dirfd = overlay_prepare(rootfd, p->id, uid, gid, e);
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
                .user = BUILD_USER,
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
             b->unit, BUILD_USER, (unsigned long long) p->limits.memory_max, p->limits.tasks_max,
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
        safe_close(b->tmpfd);
        safe_close(b->dirfd);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

const char *build_unit(const struct build *b) {
        return b->unit;
}

const char *build_id(const struct build *b) {
        return b->id;
}
