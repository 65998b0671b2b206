/* Unit tests of svc-host/hostd-instance.c against a temporary root: initialize writes the
 * files (and only after every check passed), symlink escapes are refused with openat2 and
 * with the by-hand fallback, removal never follows a symlink or enters a mount, and the
 * line splitter of hostd-install.c. Needs root for ownership checks and mounts; skips
 * otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "tests/svc-host/tmproot.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-instance.h"
#include "proto/spec.h"

static char tmpl[] = "/tmp/test-hostd-XXXXXX";

static bool exists(const char *rel) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        return lstat(p, &st) == 0;
}

static char *slurp(const char *rel) {
        char p[512];
        _cleanup_fclose_ FILE *f = NULL;
        char *buf = calloc(1, 65536);

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        f = fopen(p, "re");
        cr_assert_not_null(f, "%s", p);
        (void) !fread(buf, 1, 65535, f);
        return buf;
}

static void setup(void) {
        if (geteuid() != 0)
                cr_skip_test("needs root (ownership checks, mounts)");
        memcpy(tmpl, "/tmp/test-hostd-XXXXXX", sizeof(tmpl));
        root = mkdtemp(tmpl);
        cr_assert_not_null(root);
        sh("mkdir -p instances runtime installation overlays/a/left4dead2/cfg overlays/b "
           "overlays/nested/deep;"
           "chmod 755 . instances runtime;"
           "echo 'sv_a 1' >overlays/a/left4dead2/cfg/server.cfg;"
           "ln -s a overlays/alias_to_a;"
           "ln -s /etc overlays/abs;"
           "ln -s ../installation overlays/up;"
           "ln -s nested/../../installation overlays/sneaky;"
           "mkdir -p victim && echo precious >victim/file");
}

static void teardown(void) {
        char cmd[600];

        if (!root)
                return;
        snprintf(cmd, sizeof(cmd), "umount -R '%s/runtime/x/merged' 2>/dev/null; rm -rf '%s'", root, root);
        (void) run_shell(cmd);
        root = NULL;
        openat2_force_fallback(false);
}

static int init(const char *name, const char *text, struct rpc_error *e) {
        struct instance_spec s = {};
        int r;

        *e = (struct rpc_error){};
        r = spec_parse(text, strlen(text), 1, 65535, &s, e);
        cr_assert_eq(r, 0, "spec refused: %s", e->message);
        r = instance_initialize(root, name, text, strlen(text), &s, e);
        instance_spec_done(&s);
        return r;
}

TestSuite(instance, .init = setup, .fini = teardown);

static void writes_files(void) {
        struct rpc_error e;
        _cleanup_free_ char *env = NULL, *cfg = NULL, *alias = NULL, *spec = NULL;
        const char *text = "port: 27015\noverlays: [{path: a, alias: ov_a}, b, alias_to_a/left4dead2]\n"
                           "config: [exec server_ov_a]\n";

        cr_assert_eq(init("x", text, &e), 0, "%s", e.message);
        env = slurp("instances/x/instance.env");
        cfg = slurp("instances/x/server.cfg");
        alias = slurp("instances/x/server_ov_a.cfg");
        spec = slurp("instances/x/spec.yaml");
        cr_assert(strstr(env, "L4D2_PORT=27015\n"));
        cr_assert(strstr(env, "/overlays/a:"));
        cr_assert_str_eq(cfg, "exec server_ov_a\n");
        cr_assert_str_eq(alias, "sv_a 1\n");
        cr_assert_str_eq(spec, text);
        cr_assert(exists("runtime/x/upper") && exists("runtime/x/work") && exists("runtime/x/merged"));
        cr_assert_not(exists("instances/.x.new"));

        /* Re-initialize replaces the whole set (a dropped alias disappears). */
        cr_assert_eq(init("x", "port: 27016\n", &e), 0, "%s", e.message);
        free(env);
        env = slurp("instances/x/instance.env");
        cr_assert(strstr(env, "L4D2_PORT=27016\n"));
        cr_assert_not(exists("instances/x/server_ov_a.cfg"));
        cr_assert_not(exists("instances/.x.new"));
}

Test(instance, writes_files) {
        writes_files();
}

Test(instance, writes_files_fallback) {
        openat2_force_fallback(true);
        writes_files();
}

static void escapes_refused(void) {
        const char *bad[] = {"abs", "up", "sneaky", "missing", "abs/passwd"};
        struct rpc_error e;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char text[128];
                snprintf(text, sizeof(text), "port: 27015\noverlays: [b, %s]\n", bad[i]);
                cr_assert_lt(init("evil", text, &e), 0, "%s accepted", bad[i]);
                cr_assert_eq(e.code, RPC_INVALID, "%s: %s", bad[i], e.message);
                cr_assert(strstr(e.message, "overlays[1]"), "%s: %s", bad[i], e.message);
                cr_assert_not(exists("instances/evil"), "%s: something was written", bad[i]);
                cr_assert_not(exists("runtime/evil"), "%s: something was written", bad[i]);
        }
        /* A symlink that stays inside overlays/ is fine. */
        cr_assert_eq(init("good", "port: 27015\noverlays: [alias_to_a]\n", &e), 0, "%s", e.message);
}

Test(instance, escapes_refused) {
        escapes_refused();
}

Test(instance, escapes_refused_fallback) {
        openat2_force_fallback(true);
        escapes_refused();
}

Test(instance, alias_cfg_symlink_refused) {
        struct rpc_error e;

        sh("mkdir -p overlays/c/left4dead2/cfg && ln -s /etc/passwd overlays/c/left4dead2/cfg/server.cfg");
        cr_assert_lt(init("y", "port: 27015\noverlays: [{path: c, alias: c}]\n", &e), 0);
        cr_assert(strstr(e.message, "server.cfg"), "%s", e.message);
        cr_assert_not(exists("instances/y"));
        sh("rm overlays/c/left4dead2/cfg/server.cfg && mkfifo overlays/c/left4dead2/cfg/server.cfg");
        cr_assert_lt(init("y", "port: 27015\noverlays: [{path: c, alias: c}]\n", &e), 0,
                     "a FIFO must not block");
        cr_assert_not(exists("instances/y"));
        /* No server.cfg at all: an empty copy, so "exec server_c" does not fail. */
        sh("rm overlays/c/left4dead2/cfg/server.cfg");
        cr_assert_eq(init("y", "port: 27015\noverlays: [{path: c, alias: c}]\n", &e), 0, "%s", e.message);
        cr_assert(exists("instances/y/server_c.cfg"));
}

Test(instance, untrusted_instances_dir) {
        struct rpc_error e;

        sh("chmod 777 instances");
        cr_assert_lt(init("z", "port: 27015\n", &e), 0);
        cr_assert_not(exists("instances/z"));
        sh("chmod 755 instances && chown 65534 instances");
        cr_assert_lt(init("z", "port: 27015\n", &e), 0);
        sh("chown 0 instances && mv instances i2 && ln -s i2 instances");
        cr_assert_lt(init("z", "port: 27015\n", &e), 0, "instances/ as a symlink");
        cr_assert_not(exists("i2/z"));
}

/* The root and every directory above it: root's, not writable by others (sticky /tmp is
 * fine), no symlink on the way, because PID 1 resolves the units' paths below it as strings. */
Test(instance, untrusted_root_or_ancestor) {
        char path[600];
        int fd;

        sh("mkdir -p -m 0755 up/state && ln -s up lnk");
        snprintf(path, sizeof(path), "%s/up/state", root);
        fd = root_open(path);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        close(fd);
        sh("chmod 0775 up");
        cr_assert_eq(root_open(path), -EPERM, "a group-writable ancestor");
        sh("chmod 01777 up");
        fd = root_open(path);
        cr_assert_geq(fd, 0, "a sticky ancestor, as /tmp");
        close(fd);
        sh("chmod 01777 up/state");
        cr_assert_eq(root_open(path), -EPERM, "the root itself world-writable, even sticky");
        sh("chmod 0755 up up/state && chown 65534 up");
        cr_assert_eq(root_open(path), -EPERM, "an ancestor a service user owns");
        sh("chown 0 up");
        snprintf(path, sizeof(path), "%s/lnk/state", root);
        cr_assert_eq(root_open(path), -ELOOP, "a symlink on the way");
        cr_assert_eq(root_open("relative"), -EINVAL);
}

Test(instance, remove_never_follows_symlinks) {
        struct rpc_error e;
        bool existed = false;

        cr_assert_eq(init("x", "port: 27015\n", &e), 0, "%s", e.message);
        sh("ln -s ../../../victim runtime/x/upper/link && ln -s \"$PWD/victim\" runtime/x/upper/abs &&"
           "mkdir -p runtime/x/upper/d/e/f && touch runtime/x/upper/d/e/f/g && chmod 000 runtime/x/upper/d");
        cr_assert_eq(instance_remove(root, "x", &existed, &e), 0, "%s", e.message);
        cr_assert(existed);
        cr_assert_not(exists("runtime/x"));
        cr_assert_not(exists("instances/x"));
        cr_assert(exists("victim/file"), "followed a symlink out");
        cr_assert_eq(instance_remove(root, "x", &existed, &e), 0, "missing is success");
        cr_assert_not(existed);
}

Test(instance, remove_refuses_mounted) {
        struct rpc_error e;
        bool existed;
        char path[512];

        cr_assert_eq(init("x", "port: 27015\n", &e), 0, "%s", e.message);
        snprintf(path, sizeof(path), "%s/runtime/x/merged", root);
        if (mount("tmpfs", path, "tmpfs", 0, NULL) < 0)
                cr_skip_test("cannot mount a tmpfs here: %s", strerror(errno));
        sh("echo keep >runtime/x/merged/file");
        cr_assert_lt(instance_remove(root, "x", &existed, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT, "%s", e.message);
        cr_assert(exists("runtime/x/merged/file"), "deleted through a mount");
        cr_assert(exists("instances/x"));
        /* A mount deeper inside is never entered either. */
        cr_assert_eq(umount(path), 0);
        sh("mkdir -p runtime/x/upper/m");
        snprintf(path, sizeof(path), "%s/runtime/x/upper/m", root);
        cr_assert_eq(mount("tmpfs", path, "tmpfs", 0, NULL), 0);
        sh("echo keep >runtime/x/upper/m/file");
        cr_assert_lt(instance_remove(root, "x", &existed, &e), 0);
        cr_assert(exists("runtime/x/upper/m/file"), "deleted through a nested mount");
        cr_assert_eq(umount(path), 0);
        cr_assert_eq(instance_remove(root, "x", &existed, &e), 0, "%s", e.message);
}

/* A game (or a build) can nest directories deeper than any limit of ours and longer than
 * PATH_MAX; delete removes them all, with a file and a symlink at every level, and follows
 * none of the symlinks. */
Test(instance, remove_any_depth) {
        struct rpc_error e;
        bool existed;
        char path[512];
        int fd;

        cr_assert_eq(init("deep", "port: 27015\n", &e), 0, "%s", e.message);
        sh("echo outside >outside.txt");
        snprintf(path, sizeof(path), "%s/runtime/deep/upper", root);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        for (int i = 0; i < 3000; i++) { /* 3000 levels of "dd/": beyond PATH_MAX */
                int next, f;
                cr_assert_eq(mkdirat(fd, "dd", 0755), 0, "level %d: %s", i, strerror(errno));
                f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                cr_assert_geq(f, 0);
                close(f);
                snprintf(path, sizeof(path), "%s/outside.txt", root);
                cr_assert_eq(symlinkat(path, fd, "l"), 0);
                next = openat(fd, "dd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                cr_assert_geq(next, 0);
                close(fd);
                fd = next;
        }
        close(fd);
        cr_assert_eq(instance_remove(root, "deep", &existed, &e), 0, "%s", e.message);
        cr_assert(existed);
        cr_assert_not(exists("runtime/deep"), "the deep tree is still there");
        cr_assert(exists("outside.txt"), "a symlink was followed");
}

/* chown_tree_at moves what the old owners had, leaves root's files and symlink targets
 * alone, and re-owns a symlink itself. */
Test(instance, chown_tree_moves_only_the_old_owners) {
        char path[512];
        struct stat st;
        int fd;

        if (geteuid() != 0)
                cr_skip_test("needs root to chown");
        sh("mkdir -p t/a/b && echo x >t/a/b/f && echo r >t/a/root-file && echo o >outside && "
           "ln -s ../../outside t/a/link && echo y >t/a/other && chown -Rh 1234:1234 t && "
           "chown 1235:1235 t/a/other && chown 0:0 t/a/root-file outside");
        snprintf(path, sizeof(path), "%s", root);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(chown_tree_at(fd, "t", (const uid_t[]){1234, 1235}, 2, 4321, 4321), 6,
                     "t, a, b, f, link, other");
        close(fd);
        snprintf(path, sizeof(path), "%s/t/a/other", root);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_uid, 4321, "the second old owner's file");
        snprintf(path, sizeof(path), "%s/t/a/b/f", root);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_uid, 4321);
        snprintf(path, sizeof(path), "%s/t/a/root-file", root);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_uid, 0, "root's file was re-owned");
        snprintf(path, sizeof(path), "%s/outside", root);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_uid, 0, "a symlink was followed");
        snprintf(path, sizeof(path), "%s/t/a/link", root);
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert_eq(st.st_uid, 4321, "the symlink itself is re-owned");
}

/* Two instances on one port: the second is refused, naming the holder, and nothing of it is
 * written; re-initializing the holder keeps its port; a freed port can be taken. */
Test(instance, one_port_one_instance) {
        struct rpc_error e;
        struct instance_files f;

        cr_assert_eq(init("holder", "port: 27030\n", &e), 0, "%s", e.message);
        cr_assert_lt(init("second", "port: 27030\n", &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert_str_eq(e.message, "port: 27030 is taken by instance 'holder'");
        cr_assert_eq(instance_inspect(root, "second", &f), 0);
        cr_assert_not(f.initialized, "the refused instance left files");
        cr_assert_eq(init("holder", "port: 27030\nconfig: [\"sv_cheats 0\"]\n", &e), 0, "%s", e.message);
        cr_assert_eq(init("holder", "port: 27031\n", &e), 0, "%s", e.message);
        cr_assert_eq(init("second", "port: 27030\n", &e), 0, "%s", e.message);
}

Test(instance, inspect_and_list) {
        struct rpc_error e;
        struct instance_files f;
        char **names = NULL;

        cr_assert_eq(init("b2", "port: 27020\n", &e), 0);
        cr_assert_eq(init("a1", "port: 27021\n", &e), 0);
        sh("mkdir instances/.c3.new instances/BAD && touch instances/file1");
        cr_assert_eq(instance_inspect(root, "b2", &f), 0);
        cr_assert(f.initialized && f.runtime && !f.mounted);
        cr_assert_eq(f.port, 27020);
        cr_assert_eq(instance_inspect(root, "nope", &f), 0);
        cr_assert_not(f.initialized || f.runtime);
        cr_assert_eq(instance_list(root, &names), 0);
        cr_assert_eq(strv_length(names), 2);
        cr_assert_str_eq(names[0], "a1");
        cr_assert_str_eq(names[1], "b2");
        strv_free(names);
}

/* The reason a failed mount leaves for hostd: only a regular file of root's, only when written
 * since the start began, one line. */
Test(instance, mount_error) {
        struct rpc_error e;
        char buf[128];
        unsigned long long now = realtime_usec();

        cr_assert_eq(init("m", "port: 27022\n", &e), 0, "%s", e.message);
        cr_assert_eq(instance_mount_error(root, "m", 0, buf, sizeof(buf)), 0, "no file: no reason");
        cr_assert_eq(instance_mount_error(root, "absent", 0, buf, sizeof(buf)), 0);
        sh("printf 'runtime/m is on an overlayfs\\n' >runtime/m/" MOUNT_ERROR_FILE);
        cr_assert_eq(instance_mount_error(root, "m", now - 5000000, buf, sizeof(buf)), 1);
        cr_assert_str_eq(buf, "runtime/m is on an overlayfs");
        cr_assert_eq(instance_mount_error(root, "m", now + 60000000, buf, sizeof(buf)), 0,
                     "a reason older than the start is not its reason");
        sh("rm runtime/m/" MOUNT_ERROR_FILE " && ln -s /etc/passwd runtime/m/" MOUNT_ERROR_FILE);
        cr_assert_eq(instance_mount_error(root, "m", 0, buf, sizeof(buf)), 0, "a symlink is not followed");
        sh("rm runtime/m/" MOUNT_ERROR_FILE " && echo theirs >runtime/m/" MOUNT_ERROR_FILE
           " && chown 65534 runtime/m/" MOUNT_ERROR_FILE);
        cr_assert_eq(instance_mount_error(root, "m", 0, buf, sizeof(buf)), 0, "not written by root");
        cr_assert_eq(instance_mount_error(root, "../m", 0, buf, sizeof(buf)), -EINVAL);
}

Test(instance, bad_names) {
        struct instance_spec s = {};
        struct rpc_error e;
        bool existed;

        cr_assert_lt(instance_initialize(root, "../x", "", 0, &s, &e), 0);
        cr_assert_lt(instance_remove(root, "..", &existed, &e), 0);
        cr_assert_lt(instance_remove(root, "", &existed, &e), 0);
        cr_assert(exists("instances"));
}

/* ---- line splitter ----------------------------------------------------------------------- */

struct lines {
        char *v[32];
        size_t n;
};

static void collect(const char *line, void *userdata) {
        struct lines *l = userdata;
        cr_assert_lt(l->n, 32u);
        l->v[l->n++] = strdup(line);
}

Test(lines, split) {
        struct line_splitter s;
        struct lines l = {};
        const char *in = "one\ntwo\r\nthr";

        cr_assert_eq(line_splitter_init(&s, 8), 0);
        for (size_t i = 0; in[i]; i++) /* byte by byte */
                line_splitter_feed(&s, in + i, 1, collect, &l);
        line_splitter_feed(&s, "ee\n\n0123456789abcdef01\n", 23, collect, &l);
        line_splitter_flush(&s, collect, &l);
        line_splitter_flush(&s, collect, &l);
        cr_assert_eq(l.n, 7);
        cr_assert_str_eq(l.v[0], "one");
        cr_assert_str_eq(l.v[1], "two");
        cr_assert_str_eq(l.v[2], "three");
        cr_assert_str_eq(l.v[3], "");
        cr_assert_str_eq(l.v[4], "01234567", "long lines come in pieces of max bytes");
        cr_assert_str_eq(l.v[5], "89abcdef");
        cr_assert_str_eq(l.v[6], "01");
        line_splitter_done(&s);
        for (size_t i = 0; i < l.n; i++)
                free(l.v[i]);
}
