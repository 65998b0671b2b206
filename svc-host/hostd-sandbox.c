/* The property list of a build's transient unit: the sandbox. See hostd-sandbox.h and
 * docs/sandbox.md (every directive and why). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-sandbox.h"
#include "svc-host/hostd-systemd.h"

#define STOP_TIMEOUT_USEC (10ULL * 1000000ULL) /* SIGTERM, then SIGKILL after this */

/* ---- the unit's properties ------------------------------------------------------------------ */

/* Addresses the build must never reach: this host, the LAN, link-local (cloud metadata at
 * 169.254.169.254), multicast and the reserved ranges. Public internet stays reachable. */
static const char *const denied_addresses[] = {
        "0.0.0.0/8",     "127.0.0.0/8",    "10.0.0.0/8",  "100.64.0.0/10", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",   "::/127",
        "fe80::/10",     "fc00::/7",       "ff00::/8",
};

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
        /* The helper scopes the build with Landlock (abstract Unix sockets, signals), then
         * execs bash. */
        char *exec_argv[] = {(char *) s->exec_helper, "/bin/bash", "/script.sh", NULL};
        char *env[] = {"HOME=/tmp",    "TMPDIR=/tmp",      "PATH=/usr/bin:/usr/sbin:/bin:/sbin",
                       "LANG=C.UTF-8", "OVERLAY=/overlay", NULL};
        char *families[] = {"AF_INET", "AF_INET6", "AF_UNIX", NULL};
        /* @system-service is systemd's list for ordinary services; @network-io is part of it
         * already and named for the downloads. The deny list removes what an ordinary service
         * may do but a build never needs (ptrace, mount, module loading, clock, swap, raw
         * I/O, reboot, ...), so these fail with EPERM even where a capability would allow. */
        char *syscalls_allow[] = {"@system-service", "@network-io",
                                  /* left4me-build-exec's Landlock scope (systemd 252 has no
                                   * @sandbox group): they only ever take rights away. */
                                  "landlock_create_ruleset", "landlock_restrict_self", NULL};
        char *syscalls_deny[] = {"@clock",  "@cpu-emulation", "@debug",      "@module",
                                 "@mount",  "@obsolete",      "@privileged", "@raw-io",
                                 "@reboot", "@swap",          NULL};
        char *archs[] = {"native", NULL};
        /* Path, options. /run: the host's sockets live there (journald's, which would let a
         * build forge entries, userdb, nscd, resolved, ours), and /run/lock is world-writable;
         * a build needs none of it (its output goes to hostd through pipes). /dev/shm:
         * PrivateDevices= binds the host's into the private /dev. */
        char *tmpfs[] = {"/etc",     "",
                         "/var/lib", "",
                         "/run",     "mode=0755,size=1M,nosuid,nodev,noexec",
                         "/dev/shm", "size=64M,mode=1777,nosuid,nodev,noexec",
                         NULL};
        const struct unit_bind ro[] = {
                {s->resolv_conf ?: "/etc/resolv.conf", "/etc/resolv.conf", true},
                {"/etc/ssl", "/etc/ssl", true},
                {"/etc/ca-certificates", "/etc/ca-certificates", true},
                {"/etc/nsswitch.conf", "/etc/nsswitch.conf", true},
                {"/etc/alternatives", "/etc/alternatives", true},
                {s->script_path, "/script.sh", false},
        };
        const struct unit_bind rw[] = {{s->overlay_dir, "/overlay", false}};
        int r;

        if (!s->overlay_dir || !s->script_path || !s->user || !s->exec_helper || s->exec_helper[0] != '/')
                return -EINVAL;

        /* What it is and where it runs. */
        r = unit_prop_str(m, "Description", s->description ?: "left4me overlay build");
        if (r >= 0)
                r = unit_prop_str(m, "Slice", s->slice ?: BUILD_SLICE);
        if (r >= 0)
                r = unit_prop_exec_start(m, exec_argv);
        if (r >= 0)
                r = unit_prop_strv(m, "Environment", env);
        if (r >= 0 && s->stdout_fd >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardOutputFileDescriptor", "h", s->stdout_fd);
        if (r >= 0 && s->stderr_fd >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardErrorFileDescriptor", "h", s->stderr_fd);

        /* Identity and privilege. */
        if (r >= 0)
                r = unit_prop_str(m, "User", s->user);
        if (r >= 0)
                r = unit_prop_str(m, "Group", s->user);
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
                for (size_t i = 0; r >= 0 && tmpfs[i]; i += 2)
                        r = sd_bus_message_append(m, "(ss)", tmpfs[i], tmpfs[i + 1]);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = unit_prop_close(m);
        }
        if (r >= 0)
                r = unit_prop_binds(m, "BindReadOnlyPaths", ro, ELEMENTSOF(ro));
        if (r >= 0)
                r = unit_prop_binds(m, "BindPaths", rw, ELEMENTSOF(rw));

        /* Kernel interfaces. */
        if (r >= 0)
                r = unit_prop_list(m, "RestrictAddressFamilies", true, families);
        if (r >= 0)
                r = unit_prop_list(m, "SystemCallFilter", true, syscalls_allow);
        if (r >= 0)
                r = unit_prop_list(m, "SystemCallFilter", false, syscalls_deny);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "SystemCallErrorNumber", "i", (int32_t) EPERM);
        if (r >= 0)
                r = unit_prop_strv(m, "SystemCallArchitectures", archs);

        /* Network. IPAddressDeny= cannot name this host's own public addresses; the nftables
         * rules of left4me-firewall.service reject every local destination for the build
         * users. Requires=: no rules, no build (and stopping them stops running builds). */
        if (r >= 0)
                r = unit_prop_ip_list(m, "IPAddressDeny", denied_addresses, ELEMENTSOF(denied_addresses));
        if (r >= 0)
                r = unit_prop_strv(m, "Requires", (char *[]){(char *) BUILD_NET_RULES_UNIT, NULL});
        if (r >= 0)
                r = unit_prop_strv(m, "After", (char *[]){(char *) BUILD_NET_RULES_UNIT, NULL});

        /* Limits. */
        if (r >= 0)
                r = unit_prop_u64(m, "MemoryMax", s->limits.memory_max);
        if (r >= 0)
                r = unit_prop_u64(m, "TasksMax", s->limits.tasks_max);
        if (r >= 0)
                r = unit_prop_u64(m, "CPUQuotaPerSecUSec",
                                  (uint64_t) s->limits.cpu_quota_percent * 10000ULL);
        if (r >= 0)
                r = unit_prop_u64(m, "RuntimeMaxUSec", (uint64_t) s->limits.runtime_max_sec * 1000000ULL);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_bools); i++)
                r = unit_prop_bool(m, fixed_bools[i], true);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_strs); i++)
                r = unit_prop_str(m, fixed_strs[i].name, fixed_strs[i].value);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_u64s); i++)
                r = unit_prop_u64(m, fixed_u64s[i].name, fixed_u64s[i].value);
        return r;
}
