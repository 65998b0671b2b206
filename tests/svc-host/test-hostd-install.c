/* Unit tests of svc-host/hostd-steamcmd.c: the property list of the game install's transient
 * units (built into a real sd-bus message and read back), including what must not be there:
 * hostd's own unit gave up the network and the 32-bit system calls to these units, so they
 * must have them, and must not have what would break steamcmd or hand it more than it needs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "base/util.h"
#include "svc-host/hostd-steamcmd.h"
#include "tests/svc-host/busprops.h"

static int append_steamcmd(sd_bus_message *m, const void *spec) {
        return steamcmd_append_properties(m, spec);
}

static int steamcmd_props(const struct steamcmd_unit_spec *spec, struct props *out) {
        return props_read(append_steamcmd, spec, out);
}

static char *pass_argv[] = {"/var/lib/left4me/steam/steamcmd.sh",
                            "+@sSteamCmdForcePlatformType",
                            "linux",
                            "+force_install_dir",
                            "/var/lib/left4me/installation",
                            "+login",
                            "anonymous",
                            "+app_update",
                            "222860",
                            "validate",
                            "+quit",
                            NULL};
static const struct steamcmd_command pass_cmd[] = {{pass_argv, false}};

static struct steamcmd_unit_spec default_spec(int out_fd, int err_fd) {
        return (struct steamcmd_unit_spec){
                .description = "test install",
                .user = "left4me-steam",
                .home = "/var/lib/left4me/steam",
                .root = "/var/lib/left4me",
                .install_dir = "/var/lib/left4me/installation",
                .steamcmd_dir = "/var/lib/left4me/steam",
                .commands = pass_cmd,
                .n_commands = 1,
                .stdout_fd = out_fd,
                .stderr_fd = err_fd,
        };
}

Test(steamcmd_props, the_directive_set) {
        struct steamcmd_unit_spec spec = default_spec(1, 2);
        struct props p;
        static const struct {
                const char *name, *value;
        } expect[] = {
                {"Description", "test install"},
                {"Type", "exec"},
                {"CollectMode", "inactive"},
                {"ExecStart",
                 "[(/var/lib/left4me/steam/steamcmd.sh [/var/lib/left4me/steam/steamcmd.sh, "
                 "+@sSteamCmdForcePlatformType, linux, +force_install_dir, /var/lib/left4me/installation, "
                 "+login, anonymous, +app_update, 222860, validate, +quit] no)]"},
                {"Environment",
                 "[HOME=/var/lib/left4me/steam, USER=left4me-steam, PATH=/usr/local/bin:/usr/bin:/bin, "
                 "LANG=C.UTF-8]"},
                {"WorkingDirectory", "/var/lib/left4me/steam"},
                {"StandardInput", "null"},
                {"StandardOutputFileDescriptor", "fd"},
                {"StandardErrorFileDescriptor", "fd"},
                {"User", "left4me-steam"},
                {"Group", "left4me-steam"},
                {"UMask", "18"},
                {"NoNewPrivileges", "yes"},
                {"RemoveIPC", "yes"},
                {"PrivateUsers", "yes"},
                {"CapabilityBoundingSet", "0"},
                {"AmbientCapabilities", "0"},
                {"KeyringMode", "private"},
                {"ProtectSystem", "strict"},
                {"ProtectHome", "yes"},
                {"PrivateTmp", "yes"},
                {"PrivateDevices", "yes"},
                {"DevicePolicy", "closed"},
                {"PrivateIPC", "yes"},
                {"ProtectKernelTunables", "yes"},
                {"ProtectKernelModules", "yes"},
                {"ProtectKernelLogs", "yes"},
                {"ProtectControlGroups", "yes"},
                {"ProtectClock", "yes"},
                {"ProtectHostname", "yes"},
                {"ProtectProc", "invisible"},
                {"RestrictNamespaces", "0"},
                {"RestrictSUIDSGID", "yes"},
                {"RestrictRealtime", "yes"},
                {"LockPersonality", "yes"},
                /* What hostd's own unit no longer has: the network and the 32-bit ABI. */
                {"RestrictAddressFamilies", "(yes [AF_INET, AF_INET6, AF_UNIX])"},
                {"SystemCallArchitectures", "[native, x86]"},
                {"SystemCallErrorNumber", "1"},
                {"TemporaryFileSystem",
                 "[(/var/lib/left4me ro), (/dev/shm size=128M,mode=1777,nosuid,nodev,noexec)]"},
                {"BindPaths", "[(/var/lib/left4me/installation /var/lib/left4me/installation no 0), "
                              "(/var/lib/left4me/steam /var/lib/left4me/steam no 0)]"},
                {"IPAddressDeny",
                 "[(2 [169, 254, 0, 0] 16), (10 [254, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] "
                 "10), (2 [224, 0, 0, 0] 4), (10 [255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
                 "0] 8)]"},
                {"TimeoutStopUSec", "10000000"},
                {"LimitCORE", "0"},
        };

        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                const char *v = prop(&p, expect[i].name);
                cr_assert(v, "%s is missing", expect[i].name);
                cr_assert_str_eq(v, expect[i].value, "%s", expect[i].name);
        }
        /* Each property once (SystemCallFilter twice: allow list, then deny list). */
        for (size_t i = 0; i < p.n; i++)
                if (!streq(p.name[i], "SystemCallFilter"))
                        cr_assert_null(prop_nth(&p, p.name[i], 1), "%s twice", p.name[i]);
        /* What must not be there. */
        cr_assert_null(prop(&p, "PrivateNetwork"), "steamcmd downloads");
        cr_assert_null(prop(&p, "MemoryDenyWriteExecute"), "steamcmd maps W+X memory");
        cr_assert_null(prop(&p, "ProcSubset"), "steamcmd reads /proc/cpuinfo");
        cr_assert_null(prop(&p, "ReadWritePaths"), "writable only through the two binds");
        cr_assert_null(prop(&p, "BindReadOnlyPaths"),
                       "steamcmd's dir is in home: writable, not bound again");
        cr_assert_null(prop(&p, "AddRef"), "refused on systemd's private socket");
        cr_assert_null(prop(&p, "DynamicUser"), "the install belongs to left4me-steam");
        cr_assert_null(prop(&p, "SupplementaryGroups"), "no left4me group: no socket, no config");
        cr_assert_null(prop(&p, "Slice"),
                       "not a build: l4d2-build.slice's limits are not for a 10 GB download");
        cr_assert_null(prop(&p, "BindsTo"), "no unit of hostd's given, none bound to");
        props_free(&p);
}

Test(steamcmd_props, bound_to_hostds_unit) {
        struct steamcmd_unit_spec spec = default_spec(-1, -1);
        struct props p;

        spec.binds_to = "left4me-host.service";
        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        cr_assert_str_eq(prop(&p, "BindsTo"), "[left4me-host.service]");
        cr_assert_null(prop(&p, "After"), "BindsTo= alone: the install starts while hostd runs");
        props_free(&p);
}

Test(steamcmd_props, syscall_filter_denies_the_dangerous_groups) {
        struct steamcmd_unit_spec spec = default_spec(-1, -1);
        const char *allow, *deny;
        struct props p;

        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        allow = prop_nth(&p, "SystemCallFilter", 0);
        deny = prop_nth(&p, "SystemCallFilter", 1);
        cr_assert(allow && deny);
        cr_assert_str_eq(allow, "(yes [@system-service])");
        cr_assert(strneq(deny, "(no [", 5), "%s", deny);
        for (const char *const *g = (const char *const[]){"@mount", "@debug", "@module", "@privileged",
                                                          "@raw-io", "@reboot", "@swap", "@clock", NULL};
             *g; g++)
                cr_assert(strstr(deny, *g), "%s not denied: %s", *g, deny);
        cr_assert_null(prop(&p, "StandardOutputFileDescriptor"), "no fd given, none passed");
        cr_assert_null(prop(&p, "StandardErrorFileDescriptor"), "no fd given, none passed");
        props_free(&p);
}

Test(steamcmd_props, no_capability_no_root) {
        struct steamcmd_unit_spec spec = default_spec(-1, -1);
        struct props p;

        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        cr_assert_str_eq(prop(&p, "CapabilityBoundingSet"), "0");
        cr_assert_str_neq(prop(&p, "User"), "root");
        cr_assert_str_eq(prop(&p, "NoNewPrivileges"), "yes");
        props_free(&p);
}

Test(steamcmd_props, steamcmd_elsewhere_is_bound_read_only) {
        struct steamcmd_unit_spec spec = default_spec(-1, -1);
        struct props p;

        /* Below paths.root (hidden by the tmpfs) but outside home and the install: bound back. */
        spec.steamcmd_dir = "/var/lib/left4me/tools/steamcmd";
        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        cr_assert_str_eq(prop(&p, "BindReadOnlyPaths"),
                         "[(/var/lib/left4me/tools/steamcmd /var/lib/left4me/tools/steamcmd no 0)]");
        props_free(&p);

        /* Inside the install dir: writable already, not bound again. */
        spec.steamcmd_dir = "/var/lib/left4me/installation/steamcmd";
        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        cr_assert_null(prop(&p, "BindReadOnlyPaths"));
        props_free(&p);

        /* A prefix that is not a parent directory ("steam" vs "steamcmd") is outside. */
        spec.steamcmd_dir = "/var/lib/left4me/steamcmd";
        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        cr_assert_str_eq(prop(&p, "BindReadOnlyPaths"),
                         "[(/var/lib/left4me/steamcmd /var/lib/left4me/steamcmd no 0)]");
        props_free(&p);
}

Test(steamcmd_props, several_commands_run_as_a_oneshot) {
        struct steamcmd_unit_spec spec = default_spec(-1, -1);
        char *a1[] = {"/bin/sh", "-c", "x", "link", "/h/.steam/sdk32", "/t32", NULL};
        char *a2[] = {"/bin/sh", "-c", "x", "link", "/h/.steam/sdk64", "/t64", NULL};
        const struct steamcmd_command cmds[] = {{a1, true}, {a2, true}};
        struct props p;

        spec.commands = cmds;
        spec.n_commands = 2;
        cr_assert_eq(steamcmd_props(&spec, &p), 0);
        cr_assert_str_eq(prop(&p, "Type"), "oneshot");
        cr_assert_str_eq(prop(&p, "ExecStart"),
                         "[(/bin/sh [/bin/sh, -c, x, link, /h/.steam/sdk32, /t32] yes), "
                         "(/bin/sh [/bin/sh, -c, x, link, /h/.steam/sdk64, /t64] yes)]");
        props_free(&p);
}

Test(steamcmd_props, refuses_what_it_cannot_sandbox) {
        struct steamcmd_unit_spec spec;
        struct props p;
        char *relative[] = {"steamcmd.sh", NULL};
        const struct steamcmd_command rel_cmd[] = {{relative, false}};

        spec = default_spec(-1, -1);
        spec.home = NULL;
        cr_assert_eq(steamcmd_props(&spec, &p), -EINVAL);
        spec = default_spec(-1, -1);
        spec.root = "/"; /* a tmpfs over / would hide everything */
        cr_assert_eq(steamcmd_props(&spec, &p), -EINVAL);
        spec = default_spec(-1, -1);
        spec.install_dir = "installation";
        cr_assert_eq(steamcmd_props(&spec, &p), -EINVAL);
        spec = default_spec(-1, -1);
        spec.n_commands = 0;
        cr_assert_eq(steamcmd_props(&spec, &p), -EINVAL);
        spec = default_spec(-1, -1);
        spec.commands = rel_cmd;
        cr_assert_eq(steamcmd_props(&spec, &p), -EINVAL);
}

Test(steamcmd_props, path_is_inside) {
        cr_assert(path_is_inside("/a/b", "/a"));
        cr_assert(path_is_inside("/a", "/a"));
        cr_assert(path_is_inside("/a/b/c", "/a/b"));
        cr_assert_not(path_is_inside("/ab", "/a"));
        cr_assert_not(path_is_inside("/a", "/a/b"));
        cr_assert(path_is_inside("/x", "/"));
}
