/* The property list of steamcmd's transient units. See hostd-steamcmd.h and docs/host.md
 * ("Install"). */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "svc-host/hostd-steamcmd.h"
#include "svc-host/hostd-systemd.h"

#define STOP_TIMEOUT_USEC (10ULL * 1000000ULL) /* SIGTERM, then SIGKILL after this */

bool path_is_inside(const char *path, const char *dir) {
        size_t n = strlen(dir);

        if (streq(dir, "/"))
                return path[0] == '/';
        return strneq(path, dir, n) && (path[n] == 0 || path[n] == '/');
}

/* Link-local (cloud metadata at 169.254.169.254) is never a download source. Loopback and the
 * LAN stay reachable: a LAN Steam cache is a common setup, and the real steamcmd cannot be
 * run here to prove it never talks to itself over 127.0.0.1. */
static const char *const denied_addresses[] = {"169.254.0.0/16", "fe80::/10", "224.0.0.0/4", "ff00::/8"};

static const char *const fixed_bools[] = {
        /* identity and privilege */
        "NoNewPrivileges",
        "RemoveIPC",
        "PrivateUsers",
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
};

static const struct {
        const char *name, *value;
} fixed_strs[] = {
        /* Collected once inactive; a failed one stays until hostd read its result and reset it. */
        {"CollectMode", "inactive"},  {"StandardInput", "null"}, {"KeyringMode", "private"},
        {"ProtectSystem", "strict"},  {"ProtectHome", "yes"},    {"DevicePolicy", "closed"},
        {"ProtectProc", "invisible"},
};

static const struct {
        const char *name;
        uint64_t value;
} fixed_u64s[] = {
        {"CapabilityBoundingSet", 0},
        {"AmbientCapabilities", 0},
        {"RestrictNamespaces", 0}, /* the allowed set: none */
        {"TimeoutStopUSec", STOP_TIMEOUT_USEC},
        {"LimitCORE", 0},
        {"LimitCORESoft", 0},
};

static int append_exec(sd_bus_message *m, const struct steamcmd_command *c, size_t n) {
        int r = unit_prop_open(m, "ExecStart", "a(sasb)");

        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = sd_bus_message_open_container(m, 'r', "sasb");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c[i].argv[0]);
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, c[i].argv);
                if (r >= 0)
                        r = sd_bus_message_append(m, "b", (int) c[i].ignore_failure);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

int steamcmd_append_properties(sd_bus_message *m, const struct steamcmd_unit_spec *s) {
        char env_home[4200], env_user[64];
        char *env[] = {env_home, env_user, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};
        /* steamcmd downloads from Steam's CDN; AF_UNIX for its own processes. */
        char *families[] = {"AF_INET", "AF_INET6", "AF_UNIX", NULL};
        /* An ordinary service's calls, without what a download never needs (mount, module
         * loading, ptrace, clock, swap, raw I/O, reboot, the set-id and chown calls of
         * @privileged): those fail with EPERM. */
        char *syscalls_allow[] = {"@system-service", NULL};
        char *syscalls_deny[] = {"@clock",  "@cpu-emulation", "@debug",      "@module",
                                 "@mount",  "@obsolete",      "@privileged", "@raw-io",
                                 "@reboot", "@swap",          NULL};
        /* steamcmd (linux32/steamcmd) is a 32-bit program. */
        char *archs[] = {"native", "x86", NULL};
        /* paths.root (the other tenants' overlays, the instances, the databases) is an empty
         * read-only tmpfs with the two directories it writes bound back; /dev/shm is its own
         * (PrivateDevices= binds the host's). */
        char *tmpfs[] = {(char *) s->root, "ro", "/dev/shm", "size=128M,mode=1777,nosuid,nodev,noexec",
                         NULL};
        const struct unit_bind rw[] = {{s->install_dir, s->install_dir, false}, {s->home, s->home, false}};
        const struct unit_bind ro[] = {{s->steamcmd_dir, s->steamcmd_dir, false}};
        bool bind_steamcmd;
        int r;

        if (!s->user || !s->home || s->home[0] != '/' || !s->root || s->root[0] != '/' ||
            streq(s->root, "/") || !s->install_dir || s->install_dir[0] != '/' || !s->commands ||
            s->n_commands == 0)
                return -EINVAL;
        for (size_t i = 0; i < s->n_commands; i++)
                if (!s->commands[i].argv || !s->commands[i].argv[0] || s->commands[i].argv[0][0] != '/')
                        return -EINVAL;
        if (strlen(s->home) > sizeof(env_home) - 8 || strlen(s->user) > sizeof(env_user) - 8)
                return -EINVAL;
        snprintf(env_home, sizeof(env_home), "HOME=%s", s->home);
        snprintf(env_user, sizeof(env_user), "USER=%s", s->user);
        bind_steamcmd = s->steamcmd_dir && s->steamcmd_dir[0] == '/' && !streq(s->steamcmd_dir, "/") &&
                        !path_is_inside(s->steamcmd_dir, s->home) &&
                        !path_is_inside(s->steamcmd_dir, s->install_dir);

        /* What it is. */
        r = unit_prop_str(m, "Description", s->description ?: "left4me game install (steamcmd)");
        if (r >= 0)
                r = unit_prop_str(m, "Type", s->n_commands > 1 ? "oneshot" : "exec");
        if (r >= 0)
                r = append_exec(m, s->commands, s->n_commands);
        if (r >= 0)
                r = unit_prop_strv(m, "Environment", env);
        if (r >= 0)
                r = unit_prop_str(m, "WorkingDirectory", s->home);
        if (r >= 0 && s->stdout_fd >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardOutputFileDescriptor", "h", s->stdout_fd);
        if (r >= 0 && s->stderr_fd >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardErrorFileDescriptor", "h", s->stderr_fd);
        if (r >= 0 && s->binds_to)
                r = unit_prop_strv(m, "BindsTo", (char *[]){(char *) s->binds_to, NULL});

        /* Identity: the install's owner, never root. UMask 0022: the game servers read it. */
        if (r >= 0)
                r = unit_prop_str(m, "User", s->user);
        if (r >= 0)
                r = unit_prop_str(m, "Group", s->user);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "UMask", "u", (uint32_t) 0022);

        /* File system: writable only the install dir and steam's home. */
        if (r >= 0)
                r = unit_prop_tmpfs(m, tmpfs);
        if (r >= 0)
                r = unit_prop_binds(m, "BindPaths", rw, ELEMENTSOF(rw));
        if (r >= 0 && bind_steamcmd)
                r = unit_prop_binds(m, "BindReadOnlyPaths", ro, ELEMENTSOF(ro));

        /* Kernel interfaces. No MemoryDenyWriteExecute= (steamcmd maps W+X memory) and no
         * ProcSubset=pid (it reads /proc/cpuinfo). */
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
        if (r >= 0)
                r = unit_prop_ip_list(m, "IPAddressDeny", denied_addresses, ELEMENTSOF(denied_addresses));

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_bools); i++)
                r = unit_prop_bool(m, fixed_bools[i], true);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_strs); i++)
                r = unit_prop_str(m, fixed_strs[i].name, fixed_strs[i].value);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed_u64s); i++)
                r = unit_prop_u64(m, fixed_u64s[i].name, fixed_u64s[i].value);
        return r;
}
