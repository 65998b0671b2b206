/* Unit tests of svc-host/hostd-build.c: the transient unit's property list (built into a
 * real sd-bus message, sealed and read back into "Name=value" text), unit names, the
 * mapping of the unit's Result/ExecMain* to a build result, and the overlay dir helpers
 * (generations: prepare, publish o+rX without following links, commit, collect, remove)
 * against a temporary root. The
 * file system tests need root (chown); they skip otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "base/util.h"
#include "tests/svc-host/busprops.h"
#include "tests/svc-host/tmproot.h"
#include "svc-host/hostd-build.h"
#include "svc-host/hostd-firewall.h"

static int append_build(sd_bus_message *m, const void *spec) {
        return build_append_properties(m, spec);
}

static int build_props(const struct build_unit_spec *spec, struct props *out) {
        return props_read(append_build, spec, out);
}

static struct build_unit_spec default_spec(int out_fd, int err_fd) {
        return (struct build_unit_spec){
                .description = "test build",
                .user = "left4me-build-3",
                .slice = "l4d2-build-3.slice",
                .exec_helper = "/usr/local/lib/left4me/left4me-build-exec",
                .overlay_dir = "/var/lib/left4me/overlays/o1",
                .script_path = "/var/lib/left4me/tmp/build-o1-7.sh",
                .limits = {.memory_max = 4ULL << 30,
                           .tasks_max = 512,
                           .cpu_quota_percent = 200,
                           .runtime_max_sec = 3600},
                .stdout_fd = out_fd,
                .stderr_fd = err_fd,
        };
}

Test(build_props, the_original_directive_set_and_more) {
        struct build_unit_spec spec = default_spec(1, 2);
        struct props p;
        static const struct {
                const char *name, *value;
        } expect[] = {
                {"Slice", "l4d2-build-3.slice"},
                {"Type", "exec"},
                {"CollectMode", "inactive"},
                {"ExecStart", "[(/usr/local/lib/left4me/left4me-build-exec "
                              "[/usr/local/lib/left4me/left4me-build-exec, /bin/bash, "
                              "/script.sh] no)]"},
                {"WorkingDirectory", "/overlay"},
                {"StandardInput", "null"},
                {"StandardOutputFileDescriptor", "fd"},
                {"StandardErrorFileDescriptor", "fd"},
                {"User", "left4me-build-3"},
                {"Group", "left4me-build-3"},
                {"UMask", "18"},
                {"NoNewPrivileges", "yes"},
                {"CapabilityBoundingSet", "0"},
                {"AmbientCapabilities", "0"},
                {"OOMScoreAdjust", "500"},
                {"KeyringMode", "private"},
                {"ProtectSystem", "strict"},
                {"ProtectHome", "yes"},
                {"PrivateTmp", "yes"},
                {"PrivateDevices", "yes"},
                {"PrivateIPC", "yes"},
                {"ProtectKernelTunables", "yes"},
                {"ProtectKernelModules", "yes"},
                {"ProtectKernelLogs", "yes"},
                {"ProtectControlGroups", "yes"},
                {"ProtectClock", "yes"},
                {"ProtectHostname", "yes"},
                {"ProtectProc", "invisible"},
                {"ProcSubset", "pid"},
                {"RestrictNamespaces", "0"},
                {"RestrictAddressFamilies", "(yes [AF_INET, AF_INET6, AF_UNIX])"},
                {"RestrictSUIDSGID", "yes"},
                {"RestrictRealtime", "yes"},
                {"LockPersonality", "yes"},
                {"MemoryDenyWriteExecute", "yes"},
                {"SystemCallArchitectures", "[native]"},
                {"SystemCallErrorNumber", "1"},
                {"TemporaryFileSystem",
                 "[(/etc ), (/var/lib ), (/run mode=0755,size=1M,nosuid,nodev,noexec), "
                 "(/dev/shm size=64M,mode=1777,nosuid,nodev,noexec)]"},
                {"BindPaths", "[(/var/lib/left4me/overlays/o1 /overlay no 0)]"},
                {"MemoryMax", "4294967296"},
                {"MemorySwapMax", "0"},
                {"TasksMax", "512"},
                {"CPUQuotaPerSecUSec", "2000000"},
                {"RuntimeMaxUSec", "3600000000"},
                {"LimitCORE", "0"},
                {"Requires", "[left4me-firewall.service]"},
                {"After", "[left4me-firewall.service]"},
        };

        cr_assert_eq(build_props(&spec, &p), 0);
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                const char *v = prop(&p, expect[i].name);
                cr_assert(v, "%s is missing", expect[i].name);
                cr_assert_str_eq(v, expect[i].value, "%s", expect[i].name);
        }
        /* Each property once (SystemCallFilter twice: allow list, then deny list). */
        for (size_t i = 0; i < p.n; i++)
                if (!streq(p.name[i], "SystemCallFilter"))
                        cr_assert_null(prop_nth(&p, p.name[i], 1), "%s twice", p.name[i]);
        cr_assert_null(prop(&p, "AddRef"), "AddRef is refused on systemd's private socket");
        cr_assert_null(prop(&p, "PrivateNetwork"), "downloads need the network");
        cr_assert_null(prop(&p, "InaccessiblePaths"), "/run is an empty tmpfs: nothing of it to mask");
        props_free(&p);
}

Test(build_props, syscall_filter_allows_service_calls_and_denies_the_dangerous_groups) {
        struct build_unit_spec spec = default_spec(-1, -1);
        const char *allow, *deny;
        struct props p;

        cr_assert_eq(build_props(&spec, &p), 0);
        allow = prop_nth(&p, "SystemCallFilter", 0);
        deny = prop_nth(&p, "SystemCallFilter", 1);
        cr_assert(allow && deny);
        cr_assert_str_eq(
                allow,
                "(yes [@system-service, @network-io, landlock_create_ruleset, landlock_restrict_self])");
        cr_assert(strneq(deny, "(no [", 5), "%s", deny);
        for (const char *const *g = (const char *const[]){"@mount", "@debug", "@module", "@privileged",
                                                          "@raw-io", "@reboot", "@swap", "@clock", NULL};
             *g; g++)
                cr_assert(strstr(deny, *g), "%s not denied: %s", *g, deny);
        cr_assert_null(prop(&p, "StandardOutputFileDescriptor"), "no fd given, none passed");
        props_free(&p);
}

Test(build_props, etc_gets_back_only_what_a_download_needs) {
        struct build_unit_spec spec = default_spec(-1, -1);
        const char *ro;
        struct props p;

        cr_assert_eq(build_props(&spec, &p), 0);
        ro = prop(&p, "BindReadOnlyPaths");
        cr_assert_str_eq(ro, "[(/etc/resolv.conf /etc/resolv.conf yes 0), (/etc/ssl /etc/ssl yes 0), "
                             "(/etc/ca-certificates /etc/ca-certificates yes 0), (/etc/nsswitch.conf "
                             "/etc/nsswitch.conf yes 0), (/etc/alternatives /etc/alternatives yes 0), "
                             "(/var/lib/left4me/tmp/build-o1-7.sh /script.sh no 0)]");
        cr_assert_null(strstr(ro, "shadow"));
        cr_assert_null(strstr(ro, "left4me/left4me.yaml"));
        props_free(&p);

        spec.resolv_conf = BUILD_SANDBOX_RESOLV;
        cr_assert_eq(build_props(&spec, &p), 0);
        cr_assert(strstr(prop(&p, "BindReadOnlyPaths"),
                         "(/etc/left4me/sandbox-resolv.conf /etc/resolv.conf yes 0)"));
        props_free(&p);
}

Test(build_props, environment_and_limits_follow_the_config) {
        struct build_unit_spec spec = default_spec(-1, -1);
        struct props p;

        spec.limits = (struct build_limits){
                .memory_max = 123456789, .tasks_max = 7, .cpu_quota_percent = 50, .runtime_max_sec = 2};
        cr_assert_eq(build_props(&spec, &p), 0);
        cr_assert_str_eq(prop(&p, "MemoryMax"), "123456789");
        cr_assert_str_eq(prop(&p, "TasksMax"), "7");
        cr_assert_str_eq(prop(&p, "CPUQuotaPerSecUSec"), "500000");
        cr_assert_str_eq(prop(&p, "RuntimeMaxUSec"), "2000000");
        cr_assert_str_eq(prop(&p, "MemorySwapMax"), "0");
        cr_assert_str_eq(prop(&p, "Environment"),
                         "[HOME=/tmp, TMPDIR=/tmp, PATH=/usr/bin:/usr/sbin:/bin:/sbin, LANG=C.UTF-8, "
                         "OVERLAY=/overlay]");
        props_free(&p);
}

Test(build_props, ip_deny_covers_host_lan_link_local_multicast) {
        struct build_unit_spec spec = default_spec(-1, -1);
        const char *v;
        struct props p;

        cr_assert_eq(build_props(&spec, &p), 0);
        v = prop(&p, "IPAddressDeny");
        cr_assert(v);
        /* (family [bytes] prefix): AF_INET = 2, AF_INET6 = 10 */
        static const char *const must[] = {
                "(2 [127, 0, 0, 0] 8)",
                "(2 [10, 0, 0, 0] 8)",
                "(2 [172, 16, 0, 0] 12)",
                "(2 [192, 168, 0, 0] 16)",
                "(2 [169, 254, 0, 0] 16)",
                "(2 [100, 64, 0, 0] 10)",
                "(2 [224, 0, 0, 0] 4)",
                "(2 [0, 0, 0, 0] 8)",
                "(10 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] 127)",
                "(10 [254, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] 10)",
                "(10 [252, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] 7)",
                "(10 [255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] 8)",
        };
        for (size_t i = 0; i < ELEMENTSOF(must); i++)
                cr_assert(strstr(v, must[i]), "%s not in %s", must[i], v);
        cr_assert_null(prop(&p, "IPAddressAllow"));
        props_free(&p);
}

Test(build_props, refuses_missing_paths) {
        struct build_unit_spec spec = default_spec(-1, -1);
        struct props p;

        spec.overlay_dir = NULL;
        cr_assert_eq(build_props(&spec, &p), -EINVAL);
        spec = default_spec(-1, -1);
        spec.script_path = NULL;
        cr_assert_eq(build_props(&spec, &p), -EINVAL);
}

/* ---- names and results -------------------------------------------------------------------- */

Test(build_names, unit_name) {
        char buf[128];

        cr_assert_eq(build_unit_name("o1", 42, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "left4me-build-o1-42.service");
        cr_assert_eq(build_unit_name("my_overlay-2", 9999999999ULL, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "left4me-build-my_overlay-2-9999999999.service");
        cr_assert_eq(build_unit_name("o1", 0, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(build_unit_name("o1", 10000000000ULL, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(build_unit_name("../x", 1, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(build_unit_name("A", 1, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(build_unit_name("", 1, buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(build_unit_name("o1", 1, buf, 10), -ENAMETOOLONG);
}

Test(build_results, mapping) {
        static const struct {
                const char *result;
                int32_t code, status;
                bool cancelled;
                enum build_result want;
                int exit_code;
        } t[] = {
                {"success", CLD_EXITED, 0, false, BUILD_SUCCESS, 0},
                {"exit-code", CLD_EXITED, 3, false, BUILD_FAILED, 3},
                {"signal", CLD_KILLED, SIGKILL, false, BUILD_FAILED, 137},
                {"core-dump", CLD_DUMPED, SIGSEGV, false, BUILD_FAILED, 139},
                {"timeout", CLD_KILLED, SIGTERM, false, BUILD_TIMEOUT, 143},
                {"oom-kill", CLD_KILLED, SIGKILL, false, BUILD_OOM, 137},
                {"oom-kill", CLD_EXITED, 1, false, BUILD_OOM, 1},
                /* A clean SIGTERM of the main process is "success" to systemd, not to us. */
                {"success", CLD_KILLED, SIGTERM, false, BUILD_FAILED, 143},
                {"success", CLD_KILLED, SIGTERM, true, BUILD_CANCELLED, 143},
                {"exit-code", CLD_EXITED, 217, false, BUILD_FAILED, 217}, /* systemd's EXIT_USER */
                {"resources", 0, 0, false, BUILD_FAILED, -1},
                {"", 0, 0, false, BUILD_FAILED, -1},
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                int code = -2;
                enum build_result r =
                        build_result_from_unit(t[i].result, t[i].code, t[i].status, t[i].cancelled, &code);
                cr_assert_eq(r, t[i].want, "case %zu (%s): %s", i, t[i].result, build_result_to_string(r));
                cr_assert_eq(code, t[i].exit_code, "case %zu: exit code %d", i, code);
        }
        cr_assert_eq(build_result_from_unit(NULL, 0, 0, false, &(int){0}), BUILD_FAILED);
        cr_assert_str_eq(build_result_to_string(BUILD_SUCCESS), "success");
        cr_assert_str_eq(build_result_to_string(BUILD_FAILED), "failed");
        cr_assert_str_eq(build_result_to_string(BUILD_TIMEOUT), "timeout");
        cr_assert_str_eq(build_result_to_string(BUILD_OOM), "oom");
        cr_assert_str_eq(build_result_to_string(BUILD_CANCELLED), "cancelled");
}

/* ---- the overlay dir ---------------------------------------------------------------------- */

static char tmpl[] = "/tmp/test-hostd-build-XXXXXX";

static mode_t mode_of(const char *rel) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        cr_assert_eq(lstat(p, &st), 0, "%s: %s", rel, strerror(errno));
        return st.st_mode & 07777;
}

static bool exists_rel(const char *rel) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        return lstat(p, &st) == 0;
}

static uid_t owner_of(const char *rel) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        cr_assert_eq(lstat(p, &st), 0, "%s: %s", rel, strerror(errno));
        return st.st_uid;
}

static void setup_root(void) {
        if (geteuid() != 0)
                cr_skip_test("needs root (chown)");
        root = mkdtemp(tmpl);
        cr_assert(root);
        sh("mkdir -m 0755 overlays tmp outside runtime && echo secret >outside/secret && chmod 0600 "
           "outside/secret");
}

static void teardown_root(void) {
        if (root) {
                char cmd[600];
                snprintf(cmd, sizeof(cmd), "umount '%s'/runtime/*/merged 2>/dev/null", root);
                (void) run_shell(cmd);
                snprintf(cmd, sizeof(cmd), "chmod -R u+rwX '%s' 2>/dev/null; rm -rf '%s'", root, root);
                (void) run_shell(cmd);
        }
        root = NULL;
        snprintf(tmpl, sizeof(tmpl), "/tmp/test-hostd-build-XXXXXX");
}

TestSuite(overlay_dir, .init = setup_root, .fini = teardown_root);

static int prepare(int rootfd, const char *id, uint64_t *gen, struct rpc_error *e) {
        return overlay_gen_prepare(rootfd, id, 65534, 65534, gen, e);
}

Test(overlay_dir, prepare_makes_a_new_generation_for_the_lease) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct rpc_error e = {};
        uint64_t g = 0;
        int fd;

        fd = prepare(rootfd, "o1", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        cr_assert_eq(g, 1);
        cr_assert_eq(owner_of("overlays/.gen/o1/1"), 65534);
        cr_assert_eq(mode_of("overlays/.gen/o1/1"), 0755);
        cr_assert_eq(owner_of("overlays/.gen/o1"), 0, "the generations' dir is root's");
        cr_assert_eq(mode_of("overlays/.gen/o1"), 0755);
        cr_assert_not(exists_rel("overlays/o1"), "not current before the commit");
}

Test(overlay_dir, prepare_refuses_a_symlink_and_leaves_its_target_alone) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct rpc_error e = {};
        uint64_t g;

        sh("ln -s ../outside overlays/evil");
        cr_assert_lt(prepare(rootfd, "evil", &g, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT, "%s", e.message);
        cr_assert(strstr(e.message, "symlink hostd did not make"), "%s", e.message);
        cr_assert_eq(owner_of("outside"), 0, "the target was chowned");
        cr_assert_eq(mode_of("outside"), 0755);
        /* One that looks like hostd's but is not root's. */
        sh("mkdir -p overlays/.gen/evil2/1 && ln -s .gen/evil2/1 overlays/evil2 && chown -h 65534 "
           "overlays/evil2");
        cr_assert_lt(prepare(rootfd, "evil2", &g, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT, "%s", e.message);
}

Test(overlay_dir, prepare_refuses_untrusted_overlays_dir) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct rpc_error e = {};
        uint64_t g;

        sh("chmod 0777 overlays");
        cr_assert_lt(prepare(rootfd, "o1", &g, &e), 0);
        cr_assert(strstr(e.message, "overlays/"), "%s", e.message);
        sh("test ! -e overlays/.gen");
        sh("chmod 0755 overlays && chown 65534 overlays");
        cr_assert_lt(prepare(rootfd, "o1", &g, &e), 0);
        /* A generations' dir someone else owns: swapped in by a service user. */
        sh("chown 0 overlays && mkdir -p overlays/.gen/o1 && chown 65534 overlays/.gen/o1");
        cr_assert_lt(prepare(rootfd, "o1", &g, &e), 0);
        cr_assert(strstr(e.message, "must be root's"), "%s", e.message);
        sh("test ! -e overlays/.gen/o1/1");
}

Test(overlay_dir, prepare_refuses_bad_ids) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct rpc_error e = {};
        uint64_t g;

        cr_assert_lt(prepare(rootfd, "..", &g, &e), 0);
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert_lt(prepare(rootfd, "a/b", &g, &e), 0);
        cr_assert_lt(prepare(rootfd, "", &g, &e), 0);
        cr_assert_lt(prepare(rootfd, ".gen", &g, &e), 0);
        sh("test ! -e overlays/.gen");
}

/* Build, commit, build again: each generation in a directory of its own, the link switched
 * only by the commit; a generation that never became current (a crash) is removed by the
 * next prepare; the old ones go once nothing mounts them. */
Test(overlay_dir, generations_switch_only_on_commit_and_are_collected) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct rpc_error e = {};
        uint64_t g = 0;
        int fd;

        fd = prepare(rootfd, "o1", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        sh("echo one >overlays/.gen/o1/1/f");
        cr_assert_gt(overlay_publish(fd, 4000, 4000), 0);
        close(fd);
        cr_assert_eq(overlay_gen_commit(rootfd, "o1", g, &e), 0, "%s", e.message);
        sh("test \"$(readlink overlays/o1)\" = .gen/o1/1 && grep -qx one overlays/o1/f");
        sh("test \"$(stat -c %%u overlays/o1)\" = 0");

        fd = prepare(rootfd, "o1", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        cr_assert_eq(g, 2);
        close(fd);
        /* hostd dies here: 2 stays, unreachable; 1 is still current. */
        sh("grep -qx one overlays/o1/f");
        fd = prepare(rootfd, "o1", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        cr_assert_eq(g, 3, "numbers are never reused");
        sh("test ! -e overlays/.gen/o1/2");
        sh("echo three >overlays/.gen/o1/3/f");
        cr_assert_eq(overlay_gen_commit(rootfd, "o1", 3, &e), 0, "%s", e.message);
        sh("grep -qx three overlays/o1/f");
        sh("test ! -e overlays/.gen/o1/1"); /* nothing mounted it */

        /* A failed build: discarded, the current one untouched. */
        fd = prepare(rootfd, "o1", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        overlay_gen_discard(rootfd, "o1", g);
        sh("test ! -e overlays/.gen/o1/4 && grep -qx three overlays/o1/f");
        overlay_gen_discard(rootfd, "o1", 0); /* never an operator's dir */
}

/* A server mounting a generation keeps it: the record in runtime/NAME/layers (with merged a
 * mount point) pins it until the server stops; delete is refused, naming the server. */
Test(overlay_dir, a_mounted_generation_is_kept_and_delete_is_refused) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), nfd = -1;
        struct rpc_error e = {};
        struct overlay_layer l[2];
        bool existed;
        uint64_t g;
        int fd;

        for (int i = 0; i < 2; i++) {
                fd = prepare(rootfd, "o5", &g, &e);
                cr_assert_geq(fd, 0, "%s", e.message);
                close(fd);
                sh("echo %d >overlays/.gen/o5/%d/f", i + 1, i + 1);
                if (i == 0)
                        cr_assert_eq(overlay_gen_commit(rootfd, "o5", g, &e), 0, "%s", e.message);
        }
        /* s1 mounted generation 1 (a tmpfs stands in for the overlay). */
        sh("mkdir -p -m 0755 runtime/s1/merged && mount -t tmpfs none runtime/s1/merged");
        nfd = open(root, O_RDONLY | O_DIRECTORY);
        {
                _cleanup_close_ int r1 = openat(nfd, "runtime/s1", O_RDONLY | O_DIRECTORY);
                _cleanup_close_ int ofd = overlays_dir_open(rootfd, false);
                cr_assert_geq(ofd, 0);
                fd = overlay_ref_open(ofd, "o5", &l[0]);
                cr_assert_geq(fd, 0);
                close(fd);
                cr_assert_str_eq(l[0].id, "o5");
                cr_assert_eq(l[0].generation, 1);
                cr_assert_eq(layers_write(r1, l, 1), 0);
        }
        cr_assert_eq(overlay_gen_commit(rootfd, "o5", 2, &e), 0, "%s", e.message);
        sh("grep -qx 2 overlays/o5/f && grep -qx 1 overlays/.gen/o5/1/f");
        cr_assert_lt(overlay_remove(root, "o5", &existed, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert(strstr(e.message, "server 's1'"), "%s", e.message);
        sh("grep -qx 2 overlays/o5/f");
        /* The server stops: the record goes, the next collection takes 1. */
        sh("umount runtime/s1/merged");
        cr_assert_eq(overlay_gc(rootfd, NULL), 1);
        sh("test ! -e overlays/.gen/o5/1 && grep -qx 2 overlays/o5/f");
        cr_assert_eq(overlay_remove(root, "o5", &existed, &e), 0, "%s", e.message);
        cr_assert(existed);
        sh("test ! -e overlays/o5 && test ! -L overlays/o5 && test ! -e overlays/.gen/o5");
}

/* An operator's plain directory is generation 0; a build replaces it and it stays, as
 * generation 0, until nothing mounts it. */
Test(overlay_dir, a_plain_directory_is_generation_0) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ofd = -1;
        struct rpc_error e = {};
        struct overlay_layer l;
        uint64_t g;
        int fd;

        sh("mkdir -p overlays/o6/sub && echo hand >overlays/o6/f");
        ofd = overlays_dir_open(rootfd, false);
        fd = overlay_ref_open(ofd, "o6/sub", &l);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(l.generation, 0);
        cr_assert_str_eq(l.id, "o6");
        fd = prepare(rootfd, "o6", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        cr_assert_eq(g, 1);
        sh("test -d overlays/o6/sub"); /* still the plain dir */
        cr_assert_eq(overlay_gen_commit(rootfd, "o6", g, &e), 0, "%s", e.message);
        sh("test \"$(readlink overlays/o6)\" = .gen/o6/1 && test ! -e overlays/o6/sub");
        /* Moved to generation 0 and collected at once: nothing mounted it. */
        sh("test ! -e overlays/.gen/o6/0");
        {
                struct overlay_info *v = NULL;
                size_t n = 0;
                sh("mkdir -p overlays/hand overlays/.hidden && touch overlays/file");
                cr_assert_eq(overlay_list(rootfd, &v, &n), 0);
                cr_assert_eq(n, 2, "%zu", n);
                cr_assert_str_eq(v[0].id, "hand");
                cr_assert_eq(v[0].generation, 0);
                cr_assert_str_eq(v[1].id, "o6");
                cr_assert_eq(v[1].generation, 1);
                cr_assert_gt(v[1].built_usec, 0);
                free(v);
        }
}

/* hostd died between exchanging an operator's directory out and moving it to generation 0:
 * the next commit moves it there, and a server still mounting it keeps it. */
Test(overlay_dir, a_commit_interrupted_after_the_exchange_is_finished_by_the_next) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r2 = -1;
        struct rpc_error e = {};
        struct overlay_layer l = {.id = "o9", .generation = 0};
        uint64_t g;
        int fd;

        fd = prepare(rootfd, "o9", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        cr_assert_eq(overlay_gen_commit(rootfd, "o9", g, &e), 0, "%s", e.message);
        sh("mkdir overlays/.o9.new && echo hand >overlays/.o9.new/f");
        sh("mkdir -p -m 0755 runtime/s2/merged && mount -t tmpfs none runtime/s2/merged");
        r2 = openat(rootfd, "runtime/s2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(layers_write(r2, &l, 1), 0);
        fd = prepare(rootfd, "o9", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        cr_assert_eq(overlay_gen_commit(rootfd, "o9", g, &e), 0, "%s", e.message);
        sh("grep -qx hand overlays/.gen/o9/0/f && test ! -e overlays/.o9.new");
        sh("test \"$(readlink overlays/o9)\" = .gen/o9/2 && test ! -e overlays/.gen/o9/1");
}

/* Refs: a '.' name is hostd's, a symlink in a generation stays inside it. */
Test(overlay_dir, refs_stay_in_their_generation) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ofd = -1;
        struct rpc_error e = {};
        struct overlay_layer l;
        uint64_t g;
        int fd;

        fd = prepare(rootfd, "o7", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        sh("mkdir -p overlays/.gen/o7/1/in overlays/other && ln -s ../../../other overlays/.gen/o7/1/out && "
           "ln -s in overlays/.gen/o7/1/alias");
        cr_assert_eq(overlay_gen_commit(rootfd, "o7", g, &e), 0, "%s", e.message);
        ofd = overlays_dir_open(rootfd, false);
        cr_assert_eq(overlay_ref_open(ofd, ".gen/o7/1", &l), -EINVAL);
        cr_assert_eq(overlay_ref_open(ofd, "o7/../other", &l), -EINVAL);
        cr_assert_eq(overlay_ref_open(ofd, "o7/out", &l), -EXDEV);
        fd = overlay_ref_open(ofd, "o7/alias", &l);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        close(fd);
        cr_assert_eq(l.generation, 1);
        /* An operator's alias is followed to the overlay it names, never into .gen. */
        sh("ln -s o7/in overlays/alias && ln -s .gen/o7/1 overlays/sneaky && ln -s ../outside overlays/out");
        fd = overlay_ref_open(ofd, "alias", &l);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        close(fd);
        cr_assert_str_eq(l.id, "o7");
        cr_assert_eq(l.generation, 1);
        cr_assert_eq(overlay_ref_open(ofd, "sneaky", &l), -EXDEV);
        cr_assert_eq(overlay_ref_open(ofd, "out", &l), -EXDEV);
        cr_assert(!overlay_ref_is_valid(""));
        cr_assert(!overlay_ref_is_valid("a//b"));
        cr_assert(!overlay_ref_is_valid("a/./b"));
        cr_assert(!overlay_ref_is_valid("a b"));
        cr_assert(overlay_ref_is_valid("Maps/versus.v2"));
}

/* overlay.delete of a tree deeper than any recursion limit (a hostile build's 5000 levels,
 * far beyond PATH_MAX). */
Test(overlay_dir, delete_removes_a_5000_deep_generation) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct rpc_error e = {};
        bool existed;
        uint64_t g;
        int fd;

        fd = prepare(rootfd, "o8", &g, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        for (int i = 0; i < 5000; i++) {
                int c;
                cr_assert_eq(mkdirat(fd, "d", 0755), 0);
                c = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                cr_assert_geq(c, 0);
                close(fd);
                fd = c;
        }
        close(fd);
        cr_assert_eq(overlay_gen_commit(rootfd, "o8", g, &e), 0, "%s", e.message);
        cr_assert_eq(overlay_remove(root, "o8", &existed, &e), 0, "%s", e.message);
        cr_assert(existed);
        sh("test ! -e overlays/.gen/o8 && test ! -L overlays/o8");
}

Test(overlay_dir, publish_makes_world_readable_without_following_links) {
        _cleanup_close_ int dfd = -1;
        int n;

        sh("mkdir -p overlays/o1/d/deep && chmod 0700 overlays/o1/d overlays/o1/d/deep");
        sh("echo a >overlays/o1/d/deep/file && chmod 0600 overlays/o1/d/deep/file");
        sh("echo b >overlays/o1/tool && chmod 0700 overlays/o1/tool");
        sh("echo c >overlays/o1/suid && chmod 04755 overlays/o1/suid");
        sh("ln -s ../../outside/secret overlays/o1/link && mkfifo -m 0600 overlays/o1/fifo");
        dfd = open(root, O_RDONLY | O_DIRECTORY);
        cr_assert_geq(dfd, 0);
        {
                _cleanup_close_ int ofd = openat(dfd, "overlays/o1", O_RDONLY | O_DIRECTORY);
                n = overlay_publish(ofd, 0, 0);
        }
        cr_assert_eq(n, 6, "changed %d", n); /* d, deep, file, tool, suid; the FIFO removed */
        cr_assert_eq(mode_of("overlays/o1/d"), 0705);
        cr_assert_eq(mode_of("overlays/o1/d/deep"), 0705);
        cr_assert_eq(mode_of("overlays/o1/d/deep/file"), 0604);
        cr_assert_eq(mode_of("overlays/o1/tool"), 0705);
        cr_assert_eq(mode_of("overlays/o1/suid"), 0755, "setuid bit dropped");
        cr_assert_not(exists_rel("overlays/o1/fifo"), "a FIFO is no game content");
        cr_assert_eq(mode_of("outside/secret"), 0600, "the link's target was changed");
        /* Idempotent. */
        {
                _cleanup_close_ int ofd = openat(dfd, "overlays/o1", O_RDONLY | O_DIRECTORY);
                cr_assert_eq(overlay_publish(ofd, 0, 0), 0);
        }
}

/* What a hostile build leaves: world-writable dirs and files, setgid and sticky bits, a
 * hardlink to a file outside the overlay, a socket. Published, nothing is group- or
 * world-writable or set-id, the outside file is untouched, the link is a copy. */
Test(overlay_dir, publish_leaves_nothing_writable_or_shared) {
        _cleanup_close_ int dfd = -1;
        struct stat st_out, st_in;

        sh("mkdir -p overlays/o3/open && chmod 0777 overlays/o3/open && chmod 01777 overlays/o3");
        sh("echo w >overlays/o3/open/file && chmod 0666 overlays/o3/open/file");
        sh("echo g >overlays/o3/sgid && chmod 02775 overlays/o3/sgid");
        sh("echo mine >outside/linked && chmod 0640 outside/linked && ln outside/linked overlays/o3/hard");
        sh("python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"overlays/o3/sock\")'");
        dfd = open(root, O_RDONLY | O_DIRECTORY);
        cr_assert_geq(dfd, 0);
        {
                _cleanup_close_ int ofd = openat(dfd, "overlays/o3", O_RDONLY | O_DIRECTORY);
                cr_assert_gt(overlay_publish(ofd, 0, 0), 0);
        }
        cr_assert_eq(mode_of("overlays/o3"), 0755);
        cr_assert_eq(mode_of("overlays/o3/open"), 0755);
        cr_assert_eq(mode_of("overlays/o3/open/file"), 0644);
        cr_assert_eq(mode_of("overlays/o3/sgid"), 0755);
        cr_assert_eq(mode_of("overlays/o3/hard"), 0644);
        cr_assert_eq(mode_of("outside/linked"), 0640, "the hardlink's other name was changed");
        cr_assert_eq(fstatat(dfd, "outside/linked", &st_out, 0), 0);
        cr_assert_eq(fstatat(dfd, "overlays/o3/hard", &st_in, 0), 0);
        cr_assert_neq(st_out.st_ino, st_in.st_ino, "still one inode");
        cr_assert_eq(st_in.st_nlink, 1);
        cr_assert_eq(st_out.st_nlink, 1);
        cr_assert_not(exists_rel("overlays/o3/sock"), "a socket is no game content");
        sh("grep -qx mine overlays/o3/hard");
}

Test(overlay_dir, size_counts_what_a_cap_must) {
        _cleanup_close_ int dfd = -1;
        uint64_t bytes = 0, empty = 0;
        char buf[32];

        sh("mkdir -p overlays/sz/d overlays/sz2 && head -c 1048576 /dev/zero >overlays/sz/d/real");
        dfd = open(root, O_RDONLY | O_DIRECTORY);
        cr_assert_geq(dfd, 0);
        {
                _cleanup_close_ int ofd = openat(dfd, "overlays/sz2", O_RDONLY | O_DIRECTORY);
                cr_assert_eq(overlay_size(ofd, &empty), 0);
        }
        /* a sparse file counts at its length, a second name of a file again, a symlink's
         * target not at all */
        sh("truncate -s 3M overlays/sz/sparse && ln overlays/sz/d/real overlays/sz/again && "
           "head -c 8388608 /dev/zero >outside/big && ln -s ../../outside/big overlays/sz/link");
        {
                _cleanup_close_ int ofd = openat(dfd, "overlays/sz", O_RDONLY | O_DIRECTORY);
                cr_assert_eq(overlay_size(ofd, &bytes), 0);
        }
        cr_assert_geq(bytes, 5ULL << 20, "%" PRIu64, bytes);
        cr_assert_lt(bytes, (5ULL << 20) + 64 * 1024 + 4 * empty, "%" PRIu64, bytes);
        overlay_format_bytes(17, buf, sizeof(buf));
        cr_assert_str_eq(buf, "17 B");
        overlay_format_bytes(20ULL << 30, buf, sizeof(buf));
        cr_assert_str_eq(buf, "20 GiB");
        overlay_format_bytes((uint64_t) (21.3 * (1ULL << 30)), buf, sizeof(buf));
        cr_assert_str_eq(buf, "21.3 GiB");
        overlay_format_bytes(1536, buf, sizeof(buf));
        cr_assert_str_eq(buf, "1.5 KiB");
}

Test(overlay_dir, remove_never_follows_links) {
        struct rpc_error e = {};
        bool existed = true;

        sh("ln -s ../outside overlays/evil && mkdir -p overlays/o2/x && ln -s ../../outside/secret "
           "overlays/o2/x/l");
        cr_assert_eq(overlay_remove(root, "evil", &existed, &e), 0, "%s", e.message);
        cr_assert(existed);
        sh("test -f outside/secret && test ! -e overlays/evil && test ! -L overlays/evil");
        cr_assert_eq(overlay_remove(root, "o2", &existed, &e), 0, "%s", e.message);
        sh("test -f outside/secret && test ! -e overlays/o2");
        cr_assert_eq(overlay_remove(root, "o2", &existed, &e), 0);
        cr_assert(!existed);
        cr_assert_lt(overlay_remove(root, "../outside", &existed, &e), 0);
        cr_assert_eq(e.code, RPC_INVALID);
        sh("test -f outside/secret");
}

/* ---- the build users' pool --------------------------------------------------------------- */

static char cg_tmpl[] = "/tmp/test-hostd-pool-XXXXXX";
static char *cg_root;
static unsigned pool_users = L4M_BUILD_USERS; /* how many of the pool's users "exist" */

static int fake_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
        unsigned k;

        if (sscanf(name, L4M_BUILD_USER_PREFIX "%u", &k) != 1 || k >= pool_users)
                return -ENOENT;
        *ret_uid = *ret_gid = 60000 + k;
        return 0;
}

static void set_slice(unsigned k, const char *events) {
        char cmd[1024];

        snprintf(cmd, sizeof(cmd),
                 "mkdir -p %s/" BUILD_POOL_CGROUP
                 "/l4d2-build-%u.slice && printf '%s' >%s/" BUILD_POOL_CGROUP
                 "/l4d2-build-%u.slice/cgroup.events",
                 cg_root, k, events, cg_root, k);
        cr_assert_eq(run_shell(cmd), 0);
}

static void pool_setup(void) {
        cg_root = mkdtemp(cg_tmpl);
        cr_assert_not_null(cg_root);
        pool_users = L4M_BUILD_USERS;
}

static void pool_teardown(void) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cg_root);
        (void) run_shell(cmd);
        snprintf(cg_tmpl, sizeof(cg_tmpl), "/tmp/test-hostd-pool-XXXXXX");
}

TestSuite(build_pool, .init = pool_setup, .fini = pool_teardown);

/* Never two builds on one user: every lease held is a different uid, the 17th is refused
 * with -EBUSY, one given back is leased again. */
Test(build_pool, each_lease_is_a_user_of_its_own) {
        struct build_pool p = {.cgroup_root = cg_root, .lookup = fake_lookup};
        struct build_lease l[L4M_BUILD_USERS], extra;

        for (unsigned i = 0; i < L4M_BUILD_USERS; i++) {
                cr_assert_eq(build_pool_take(&p, &l[i]), 0);
                for (unsigned j = 0; j < i; j++)
                        cr_assert_neq(l[i].uid, l[j].uid, "leases %u and %u share a uid", i, j);
                cr_assert_eq(l[i].uid, 60000 + l[i].index);
        }
        cr_assert_str_eq(l[0].user, "left4me-build-0");
        cr_assert_str_eq(l[0].slice, "l4d2-build-0.slice");
        cr_assert_eq(build_pool_take(&p, &extra), -EBUSY);
        build_pool_give(&p, &l[5]);
        cr_assert_eq(build_pool_take(&p, &extra), 0);
        cr_assert_eq(extra.index, 5);
}

/* A slice with a process left (a build an earlier hostd started, still stopping) is not
 * leased, though this pool never held it; once empty it is. Unreadable state counts as busy. */
Test(build_pool, a_populated_slice_is_not_free) {
        struct build_pool p = {.cgroup_root = cg_root, .lookup = fake_lookup};
        struct build_lease l;

        pool_users = 2;
        set_slice(0, "populated 1\nfrozen 0\n");
        set_slice(1, "frozen 0\npopulated 1\n");
        cr_assert_eq(build_pool_take(&p, &l), -EBUSY);
        set_slice(1, "populated 0\nfrozen 0\n");
        cr_assert_eq(build_pool_take(&p, &l), 0);
        cr_assert_eq(l.index, 1);
        build_pool_give(&p, &l);
        set_slice(1, "garbage\n");
        cr_assert_lt(build_pool_take(&p, &l), 0, "unparsable cgroup.events taken as free");
}

Test(build_pool, missing_users) {
        struct build_pool p = {.cgroup_root = cg_root, .lookup = fake_lookup};
        struct build_lease l;
        uid_t uids[L4M_BUILD_USERS];

        pool_users = 0;
        cr_assert_eq(build_pool_take(&p, &l), -ENOENT);
        cr_assert_eq(build_pool_uids(&p, uids, L4M_BUILD_USERS), 0);
        pool_users = 3;
        cr_assert_eq(build_pool_uids(&p, uids, L4M_BUILD_USERS), 3);
        cr_assert_eq(build_pool_take(&p, &l), 0);
        cr_assert_lt(l.index, 3u);
}

/* ---- the network rules ------------------------------------------------------------------- */

Test(firewall, ruleset) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        const uid_t uids[] = {990, 989, 988};

        cr_assert_not_null(f);
        cr_assert_eq(firewall_ruleset(f, uids, 3, 27015, 27115), 0);
        fclose(f);
        cr_assert(strstr(buf, "delete table inet left4me\n"), "%s", buf);
        cr_assert(strstr(buf, "elements = { 990, 989, 988 }"), "%s", buf);
        cr_assert(strstr(buf, "meta skuid @build_uids fib daddr type local counter reject"), "%s", buf);
        cr_assert(strstr(buf, "tcp dport 27015-27115 iif != \"lo\" counter reject with tcp reset"), "%s",
                  buf);
        cr_assert(strstr(buf, "ip daddr != 127.0.0.0/8"), "%s", buf);
        cr_assert(strstr(buf, "ip6 daddr != ::1"), "%s", buf);
        cr_assert_null(strstr(buf, "udp"), "UDP is left open: %s", buf);
        /* nft itself accepts it (a dry run), where it is installed and we may ask the kernel. */
        if (geteuid() == 0 && access("/usr/sbin/nft", X_OK) == 0) {
                char fn[] = "/tmp/test-hostd-nft-XXXXXX", cmd[128];
                int fd = mkstemp(fn);

                cr_assert_geq(fd, 0);
                cr_assert_eq(write(fd, buf, len), (ssize_t) len);
                close(fd);
                snprintf(cmd, sizeof(cmd), "/usr/sbin/nft -c -f %s", fn);
                cr_assert_eq(run_shell(cmd), 0, "nft -c refused: %s", buf);
                unlink(fn);
        }
        free(buf);
        f = open_memstream(&buf, &len);
        cr_assert_eq(firewall_ruleset(f, uids, 0, 27015, 27115), -EINVAL, "no uid: a rule for nobody");
        cr_assert_eq(firewall_ruleset(f, uids, 3, 27115, 27015), -EINVAL);
        cr_assert_eq(firewall_ruleset(f, uids, 3, 0, 10), -EINVAL);
        fclose(f);
        free(buf);
}
