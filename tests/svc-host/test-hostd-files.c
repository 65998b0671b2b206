/* hostd's file operations on an overlay (svc-host/hostd-files.c) against a temporary root, as
 * root: every hostile path, symlinks planted to /etc/shadow and into another overlay, the size
 * cap, uploads still open for writing, and that an edit leaves the generation it came from as
 * it was (same inode, same bytes). The merged view of a server on a real overlay mount. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-host/hostd-files.h"
#include "svc-host/hostd-fs.h"
#include "svc-host/hostd-overlay.h"
#include "svc-host/hostd.h"
#include "tests/svc-host/tmproot.h"

/* hostd.c's; no build runs here. */
bool hostd_overlay_building(struct hostd *h, const char *id) {
        return false;
}

#define OWNER 4000

static char tmpl[] = "/tmp/test-hostd-files-XXXXXX";
static struct files_ctx ctx;

static void setup_root(void) {
        if (geteuid() != 0)
                cr_skip_test("needs root (chown, mount)");
        root = mkdtemp(tmpl);
        cr_assert(root);
        sh("mkdir -m 0755 overlays runtime instances installation");
        ctx = (struct files_ctx){.owner_uid = OWNER, .owner_gid = OWNER, .max_bytes = 1ull << 30};
        ctx.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(ctx.rootfd, 0);
        openat2_force_fallback(false);
}

static void teardown_root(void) {
        if (root) {
                char cmd[600];
                snprintf(cmd, sizeof(cmd), "umount '%s'/runtime/*/merged 2>/dev/null; rm -rf '%s'", root,
                         root);
                (void) run_shell(cmd);
        }
        safe_close(ctx.rootfd);
        root = NULL;
        snprintf(tmpl, sizeof(tmpl), "/tmp/test-hostd-files-XXXXXX");
}

TestSuite(files, .init = setup_root, .fini = teardown_root);

static struct stat stat_rel(const char *rel) {
        char p[1024];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        cr_assert_eq(lstat(p, &st), 0, "%s: %s", rel, strerror(errno));
        return st;
}

static uint64_t write_ok(const char *id, const char *path, const char *text) {
        struct rpc_error e = {};
        uint64_t g = 0;

        cr_assert_eq(files_write(&ctx, id, path, text, strlen(text), false, &g, &e), 0, "write %s: %s", path,
                     e.message);
        return g;
}

static uint64_t mkdir_ok(const char *id, const char *path) {
        struct rpc_error e = {};
        uint64_t g = 0;

        cr_assert_eq(files_mkdir(&ctx, id, path, &g, &e), 0, "mkdir %s: %s", path, e.message);
        return g;
}

/* The generations of id that exist, as "1 2 3". */
static void gens_are(const char *id, const char *want) {
        sh("test \"$(ls overlays/.gen/%s | sort -n | tr '\\n' ' ')\" = '%s '", id, want);
}

Test(files, paths_are_validated) {
        struct rpc_error e = {};
        char long_name[300], long_path[5000];

        cr_assert_eq(files_path_check("path", "", true, &e), 0);
        cr_assert_eq(files_path_check("path", "a/b.txt", false, &e), 0);
        cr_assert_eq(files_path_check("path", ".hidden/x..y", false, &e), 0, "dots inside a name are fine");
        cr_assert_lt(files_path_check("path", "", false, &e), 0);
        cr_assert(strstr(e.message, "root"), "%s", e.message);
        const char *bad[] = {"..",  "a/..",        "../x", "a/../b", ".",  "./a",
                             "a/.", "/etc/shadow", "/",    "a//b",   "a/", "//a"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                e = (struct rpc_error){};
                cr_assert_lt(files_path_check("path", bad[i], true, &e), 0, "'%s' passed", bad[i]);
                cr_assert_eq(e.code, RPC_INVALID);
                cr_assert(strstr(e.message, "path: "), "the field is named: %s", e.message);
        }
        memset(long_name, 'x', 256);
        long_name[256] = 0;
        cr_assert_lt(files_path_check("path", long_name, true, &e), 0, "a 256-byte name");
        cr_assert(strstr(e.message, "255"), "%s", e.message);
        long_name[255] = 0;
        cr_assert_eq(files_path_check("path", long_name, true, &e), 0, "255 bytes are fine");
        for (size_t i = 0; i < 4096; i++)
                long_path[i] = i % 200 == 199 ? '/' : 'a';
        long_path[4096] = 0;
        cr_assert_lt(files_path_check("path", long_path, true, &e), 0, "4096 bytes");
        long_path[4095] = 0;
        cr_assert_eq(files_path_check("path", long_path, true, &e), 0, "4095 bytes: %s", e.message);

        /* The operations refuse them before touching anything. */
        uint64_t g;
        cr_assert_lt(files_write(&ctx, "o1", "../escape", "x", 1, false, &g, &e), 0);
        cr_assert_lt(files_write(&ctx, "o1", "/tmp/escape", "x", 1, false, &g, &e), 0);
        cr_assert_lt(files_mkdir(&ctx, "o1", "a/../../b", &g, &e), 0);
        cr_assert_lt(files_rename(&ctx, "o1", "a", "b/c", &g, &e), 0, "a new name with a '/'");
        cr_assert_lt(files_rename(&ctx, "o1", "a", "..", &g, &e), 0);
        cr_assert_lt(files_move(&ctx, "o1", "a", "..", &g, &e), 0);
        cr_assert_lt(files_write(&ctx, "../o1", "a", "x", 1, false, &g, &e), 0, "a bad overlay id");
        sh("test ! -e overlays/.gen && test ! -e escape && test ! -e /tmp/escape");
}

Test(files, an_overlay_without_a_generation_lists_empty_and_starts_from_empty) {
        struct file_listing l = {};
        struct rpc_error e = {};

        cr_assert_eq(files_list(ctx.rootfd, "o1", "", &l, &e), 0, "%s", e.message);
        cr_assert_not(l.has_generation);
        cr_assert_eq(l.n, 0);
        cr_assert_eq(mkdir_ok("o1", "cfg/sub"), 1, "the first edit is generation 1");
        cr_assert_eq(write_ok("o1", "cfg/sub/server.cfg", "hostname x\n"), 2);
        sh("test \"$(readlink overlays/o1)\" = .gen/o1/2 && grep -qx 'hostname x' "
           "overlays/o1/cfg/sub/server.cfg");
        cr_assert_eq(files_list(ctx.rootfd, "o1", "cfg", &l, &e), 0, "%s", e.message);
        cr_assert(l.has_generation);
        cr_assert_eq(l.generation, 2);
        cr_assert_eq(l.n, 1);
        cr_assert_str_eq(l.entries[0].name, "sub");
        cr_assert_eq(l.entries[0].type, FILE_TYPE_DIR);
        file_listing_done(&l);
        /* Published: left4me-build's (here OWNER), files 0644, dirs 0755. */
        struct stat st = stat_rel("overlays/o1/cfg/sub/server.cfg");
        cr_assert_eq(st.st_uid, OWNER);
        cr_assert_eq(st.st_mode & 07777, 0644);
        st = stat_rel("overlays/o1/cfg/sub");
        cr_assert_eq(st.st_uid, OWNER);
        cr_assert_eq(st.st_mode & 07777, 0755);
        st = stat_rel("overlays/.gen/o1/2");
        cr_assert_eq(st.st_uid, OWNER);
}

/* The point of generations: a running server's generation never changes. */
Test(files, an_edit_makes_a_new_generation_and_leaves_the_old_one_as_it_was) {
        struct rpc_error e = {};
        struct stat keep_before, f_before, st;
        uint64_t g;

        mkdir_ok("o1", "a");
        write_ok("o1", "a/f", "one");
        g = write_ok("o1", "keep", "kept");
        cr_assert_eq(g, 3);
        keep_before = stat_rel("overlays/.gen/o1/3/keep");
        f_before = stat_rel("overlays/.gen/o1/3/a/f");
        /* A server mounts generation 3: a layers record and a mount point that is mounted. */
        sh("mkdir -p runtime/s1/merged && echo 'o1 3' >runtime/s1/layers && mount -t tmpfs none "
           "runtime/s1/merged");
        cr_assert_eq(write_ok("o1", "a/f", "two"), 4);
        sh("grep -qx one overlays/.gen/o1/3/a/f && grep -qx two overlays/.gen/o1/4/a/f");
        st = stat_rel("overlays/.gen/o1/3/a/f");
        cr_assert_eq(st.st_ino, f_before.st_ino, "the old generation's file is the same inode");
        cr_assert_eq(st.st_mtim.tv_nsec, f_before.st_mtim.tv_nsec);
        st = stat_rel("overlays/.gen/o1/4/keep");
        cr_assert_eq(st.st_ino, keep_before.st_ino, "unchanged files are shared (hardlinked)");
        cr_assert_eq(st.st_mode & 07777, 0644);
        /* Every kind of edit leaves 3 as it was. */
        cr_assert_eq(files_rename(&ctx, "o1", "keep", "kept", &g, &e), 0, "%s", e.message);
        cr_assert_eq(files_move(&ctx, "o1", "kept", "a", &g, &e), 0, "%s", e.message);
        cr_assert_eq(files_delete(&ctx, "o1", "a/f", false, &g, &e), 0, "%s", e.message);
        sh("test -e overlays/o1/a/kept && test ! -e overlays/o1/a/f && test ! -e overlays/o1/keep");
        sh("grep -qx one overlays/.gen/o1/3/a/f && grep -qx kept overlays/.gen/o1/3/keep");
        st = stat_rel("overlays/.gen/o1/3/keep");
        cr_assert_eq(st.st_ino, keep_before.st_ino);
        cr_assert_eq(st.st_nlink, 2, "shared with the current generation only (4-6 were collected)");
        gens_are("o1", "3 7");
        sh("umount runtime/s1/merged");
}

Test(files, listing_orders_caps_and_marks_symlinks) {
        struct file_listing l = {};
        struct rpc_error e = {};

        mkdir_ok("o1", "d");
        sh("cd overlays/o1/d && for i in $(seq 1 600); do echo $i >f$i; done && mkdir zdir Adir && "
           "ln -s zdir good && ln -s missing dangling && ln -s /etc/shadow shadow && ln -s ../../.. up");
        cr_assert_eq(files_list(ctx.rootfd, "o1", "d", &l, &e), 0, "%s", e.message);
        cr_assert_eq(l.n, FILES_LIST_MAX);
        cr_assert(l.truncated);
        cr_assert_str_eq(l.entries[0].name, "Adir", "folders first, bytewise");
        cr_assert_str_eq(l.entries[1].name, "zdir");
        cr_assert_str_eq(l.entries[2].name, "dangling");
        cr_assert_str_eq(l.entries[3].name, "f1");
        cr_assert_str_eq(l.entries[4].name, "f10");
        for (size_t i = 3; i + 1 < l.n; i++)
                cr_assert_lt(strcmp(l.entries[i].name, l.entries[i + 1].name), 0);
        file_listing_done(&l);
        sh("cd overlays/o1/d && rm f*");
        cr_assert_eq(files_list(ctx.rootfd, "o1", "d", &l, &e), 0, "%s", e.message);
        cr_assert_not(l.truncated);
        cr_assert_eq(l.n, 6);
        for (size_t i = 0; i < l.n; i++) {
                const struct file_entry *f = &l.entries[i];
                if (streq(f->name, "shadow")) {
                        cr_assert_eq(f->type, FILE_TYPE_SYMLINK);
                        cr_assert_str_eq(f->target, "/etc/shadow");
                        cr_assert(f->broken, "an absolute target does not resolve beneath the generation");
                } else if (streq(f->name, "up")) {
                        cr_assert(f->broken, "climbs out");
                } else if (streq(f->name, "dangling")) {
                        cr_assert(f->broken);
                } else if (streq(f->name, "good")) {
                        cr_assert_not(f->broken, "a folder beside it");
                }
        }
        file_listing_done(&l);
}

/* Links planted in a generation (an operator, or a build from before): shown, never gone
 * through, with openat2 and with the by-hand resolution. */
static void symlinks_are_never_followed(bool fallback) {
        struct file_listing l = {};
        struct file_content fc = {};
        struct rpc_error e = {};
        struct stat shadow_before, st;
        uint64_t g, cur;
        int fd;

        openat2_force_fallback(fallback);
        write_ok("o2", "secret", "other overlay's");
        mkdir_ok("o1", "a");
        cur = write_ok("o1", "a/f", "x");
        sh("cd overlays/.gen/o1/%" PRIu64 " && ln -s /etc/shadow shadow && ln -s ../../o2/1 other && "
           "ln -s ../../../../o2 other2 && ln -s /etc etc",
           cur);
        cr_assert_eq(stat("/etc/shadow", &shadow_before), 0);

        cr_assert_eq(files_list(ctx.rootfd, "o1", "", &l, &e), 0, "%s", e.message);
        cr_assert_eq(l.n, 5, "a, etc, other, other2, shadow");
        file_listing_done(&l);

        cr_assert_lt(files_read(ctx.rootfd, "o1", "shadow", &fc, &e), 0, "read through a link");
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert(strstr(e.message, "symlink"), "%s", e.message);
        cr_assert_lt(files_read(ctx.rootfd, "o1", "other/secret", &fc, &e), 0);
        cr_assert(strstr(e.message, "symlink"), "%s", e.message);
        cr_assert_lt(files_read(ctx.rootfd, "o1", "etc/shadow", &fc, &e), 0);
        cr_assert_lt(files_open(ctx.rootfd, "o1", "shadow", &st, &(bool){false}, &e), 0,
                     "open through a link");
        cr_assert_lt(files_open(ctx.rootfd, "o1", "other", &st, &(bool){false}, &e), 0,
                     "open a linked folder");
        cr_assert_lt(files_list(ctx.rootfd, "o1", "other2", &l, &e), 0, "list through a link");
        cr_assert(strstr(e.message, "symlink"), "%s", e.message);

        cr_assert_lt(files_write(&ctx, "o1", "shadow", "x", 1, false, &g, &e), 0, "write over a link");
        cr_assert(strstr(e.message, "symlink"), "%s", e.message);
        cr_assert_lt(files_write(&ctx, "o1", "other/secret", "x", 1, false, &g, &e), 0, "write through one");
        cr_assert_lt(files_write(&ctx, "o1", "etc/passwd", "x", 1, false, &g, &e), 0);
        cr_assert_lt(files_mkdir(&ctx, "o1", "other/new", &g, &e), 0);
        cr_assert_lt(files_move(&ctx, "o1", "a/f", "other", &g, &e), 0, "move into a linked folder");
        cr_assert(strstr(e.message, "symlink"), "%s", e.message);
        cr_assert_lt(files_move(&ctx, "o1", "other/secret", "", &g, &e), 0, "move out through a link");
        cr_assert_lt(files_delete(&ctx, "o1", "other/secret", false, &g, &e), 0);
        cr_assert_lt(files_rename(&ctx, "o1", "etc/passwd", "x", &g, &e), 0);

        sh("grep -qx \"other overlay's\" overlays/o2/secret && test \"$(ls overlays/o2)\" = secret");
        cr_assert_eq(stat("/etc/shadow", &st), 0);
        cr_assert_eq(st.st_ino, shadow_before.st_ino);
        cr_assert_eq(st.st_mtim.tv_nsec, shadow_before.st_mtim.tv_nsec);
        cr_assert_eq(st.st_size, shadow_before.st_size);
        sh("test \"$(readlink overlays/o1)\" = .gen/o1/%" PRIu64 "", cur); /* nothing made current */

        /* The link itself may be renamed or deleted (the link, not what it points at). */
        cr_assert_eq(files_delete(&ctx, "o1", "shadow", false, &g, &e), 0, "%s", e.message);
        cr_assert_eq(files_delete(&ctx, "o1", "etc", true, &g, &e), 0, "%s", e.message);
        cr_assert_eq(stat("/etc/passwd", &st), 0, "deleting the link 'etc' left /etc alone");
        fd = open("/etc/shadow", O_RDONLY);
        cr_assert_geq(fd, 0);
        close(fd);
}

Test(files, symlinks_to_shadow_and_another_overlay_are_listed_and_never_followed) {
        symlinks_are_never_followed(false);
}

Test(files, symlinks_are_never_followed_without_openat2) {
        symlinks_are_never_followed(true);
}

Test(files, a_folder_cannot_move_into_itself) {
        struct rpc_error e = {};
        uint64_t g;

        mkdir_ok("o1", "a/b/c");
        cr_assert_lt(files_move(&ctx, "o1", "a", "a", &g, &e), 0);
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert(strstr(e.message, "into itself"), "%s", e.message);
        cr_assert_lt(files_move(&ctx, "o1", "a", "a/b/c", &g, &e), 0);
        cr_assert(strstr(e.message, "into itself"), "%s", e.message);
        /* a name beginning the same is not below it */
        mkdir_ok("o1", "ab");
        cr_assert_eq(files_move(&ctx, "o1", "a", "ab", &g, &e), 0, "%s", e.message);
        sh("test -d overlays/o1/ab/a/b/c");
        mkdir_ok("o1", "x/a");
        cr_assert_lt(files_move(&ctx, "o1", "x/a", "ab", &g, &e), 0, "the name is taken there");
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert_lt(files_rename(&ctx, "o1", "x", "ab", &g, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert_lt(files_move(&ctx, "o1", "nothing", "ab", &g, &e), 0);
        cr_assert_eq(e.code, RPC_NOT_FOUND);
}

Test(files, over_the_size_cap_nothing_changes) {
        struct rpc_error e = {};
        char *big = calloc(1, 200 * 1024);
        uint64_t g, cur;

        cr_assert(big);
        cur = write_ok("o1", "small", "small");
        ctx.max_bytes = 100 * 1024;
        memset(big, 'x', 200 * 1024);
        cr_assert_lt(files_write(&ctx, "o1", "big", big, 200 * 1024, false, &g, &e), 0);
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert(strstr(e.message, "over the cap of 100 KiB"), "%s", e.message);
        sh("test \"$(readlink overlays/o1)\" = .gen/o1/%" PRIu64 " && test ! -e overlays/o1/big", cur);
        gens_are("o1", "1");
        sh("test -z \"$(find overlays -name '.left4me-*')\"");
        free(big);
}

Test(files, deletes_and_creates_say_what_is_in_the_way) {
        struct rpc_error e = {};
        uint64_t g;

        mkdir_ok("o1", "full/sub");
        write_ok("o1", "full/f", "x");
        mkdir_ok("o1", "empty");
        cr_assert_lt(files_delete(&ctx, "o1", "full", false, &g, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert(strstr(e.message, "not empty"), "%s", e.message);
        sh("test -e overlays/o1/full/f");
        cr_assert_eq(files_delete(&ctx, "o1", "empty", false, &g, &e), 0, "%s", e.message);
        cr_assert_eq(files_delete(&ctx, "o1", "full", true, &g, &e), 0, "%s", e.message);
        sh("test ! -e overlays/o1/full && test ! -e overlays/o1/empty");
        cr_assert_lt(files_delete(&ctx, "o1", "full", true, &g, &e), 0);
        cr_assert_eq(e.code, RPC_NOT_FOUND);
        write_ok("o1", "f", "x");
        cr_assert_lt(files_write(&ctx, "o1", "f", "y", 1, true, &g, &e), 0, "create refuses a taken name");
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert(strstr(e.message, "exists"), "%s", e.message);
        cr_assert_lt(files_write(&ctx, "o1", "nodir/f", "y", 1, false, &g, &e), 0);
        cr_assert_eq(e.code, RPC_NOT_FOUND);
        cr_assert_lt(files_write(&ctx, "o1", "f/g", "y", 1, false, &g, &e), 0, "a file as a folder");
        cr_assert_lt(files_mkdir(&ctx, "o1", "f", &g, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        mkdir_ok("o1", "d");
        cr_assert_lt(files_mkdir(&ctx, "o1", "d", &g, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert_lt(files_write(&ctx, "o1", "d", "y", 1, false, &g, &e), 0, "a folder is not overwritten");
        sh("test -d overlays/o1/d && grep -qx x overlays/o1/f");
}

Test(files, read_caps_and_detects_binary) {
        struct file_content fc = {};
        struct rpc_error e = {};
        char *big;

        write_ok("o1", "t.cfg", "sv_cheats 0 // ünïcode\n");
        cr_assert_eq(files_read(ctx.rootfd, "o1", "t.cfg", &fc, &e), 0, "%s", e.message);
        cr_assert_not(fc.binary);
        cr_assert_eq(fc.len, strlen("sv_cheats 0 // ünïcode\n"));
        free(fc.data);
        sh("printf 'a\\0b' >overlays/o1/nul && printf '\\377\\376' >overlays/o1/latin1");
        cr_assert_eq(files_read(ctx.rootfd, "o1", "nul", &fc, &e), 0, "%s", e.message);
        cr_assert(fc.binary);
        cr_assert_eq(fc.len, 3);
        free(fc.data);
        cr_assert_eq(files_read(ctx.rootfd, "o1", "latin1", &fc, &e), 0, "%s", e.message);
        cr_assert(fc.binary);
        free(fc.data);
        sh("head -c 3355443 /dev/zero >overlays/o1/big && mkfifo overlays/o1/fifo && mkdir overlays/o1/dir");
        cr_assert_lt(files_read(ctx.rootfd, "o1", "big", &fc, &e), 0);
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert(strstr(e.message, "is 3.2 MiB, over the 1 MiB an editor opens; download it"), "%s",
                  e.message);
        cr_assert_lt(files_read(ctx.rootfd, "o1", "fifo", &fc, &e), 0, "a FIFO neither hangs nor reads");
        cr_assert_lt(files_read(ctx.rootfd, "o1", "dir", &fc, &e), 0);
        cr_assert_lt(files_read(ctx.rootfd, "o1", "missing", &fc, &e), 0);
        cr_assert_eq(e.code, RPC_NOT_FOUND);
        big = calloc(1, FILES_EDIT_MAX + 1);
        cr_assert_lt(files_write(&ctx, "o1", "x", big, FILES_EDIT_MAX + 1, false, &(uint64_t){0}, &e), 0);
        free(big);
}

Test(files, open_gives_read_only_descriptors) {
        struct rpc_error e = {};
        struct stat st;
        char buf[8] = "";
        bool pinned = true;
        int fd;

        mkdir_ok("o1", "d");
        write_ok("o1", "d/f", "hello");
        fd = files_open(ctx.rootfd, "o1", "d/f", &st, &pinned, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        cr_assert(S_ISREG(st.st_mode));
        cr_assert_not(pinned, "a file needs no pin");
        cr_assert_eq(read(fd, buf, sizeof(buf)), 5);
        cr_assert_lt(write(fd, "x", 1), 0, "read-only");
        cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
        close(fd);
        fd = files_open(ctx.rootfd, "o1", "", &st, &pinned, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert(pinned);
        cr_assert_eq(faccessat(fd, "d/f", R_OK, 0), 0, "a folder's fd walks its tree");
        close(fd);
}

/* A folder download walks its generation long after hostd answered: while its descriptor
 * lives, the generation is not collected even though it stopped being current; once it is
 * closed, the next collection takes it. */
Test(files, a_folder_being_downloaded_pins_its_generation) {
        struct rpc_error e = {};
        struct stat st, d_st;
        bool pinned = false;
        int fd, sub;

        mkdir_ok("o1", "d");
        cr_assert_eq(write_ok("o1", "d/f", "hello"), 2);
        fd = files_open(ctx.rootfd, "o1", "d", &st, &pinned, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        cr_assert(pinned && S_ISDIR(st.st_mode));
        /* The descriptor is the generation's root; the folder is below it. */
        sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cr_assert_geq(sub, 0);
        cr_assert_eq(fstat(sub, &d_st), 0);
        cr_assert_eq(d_st.st_ino, st.st_ino, "the stat answered is the folder's");
        cr_assert_eq(write_ok("o1", "d/g", "more"), 3);
        cr_assert_eq(write_ok("o1", "d/h", "again"), 4);
        gens_are("o1", "2 4");
        cr_assert_eq(faccessat(sub, "f", R_OK, 0), 0, "the pinned generation is whole");
        cr_assert_neq(faccessat(sub, "g", F_OK, 0), 0, "and is what it was");
        close(sub);
        close(fd);
        cr_assert_eq(write_ok("o1", "d/i", "last"), 5);
        gens_are("o1", "5");
}

Test(files, uploads_are_committed_only_once_closed) {
        struct rpc_error e = {};
        uint64_t g = 0, size = 0;
        bool consumed = true;
        int rw, ro;
        struct stat st;

        write_ok("o1", "existing", "old");
        rw = files_upload_open(ctx.rootfd, "o1", &ro, &e);
        cr_assert_geq(rw, 0, "%s", e.message);
        cr_assert_eq(fstat(rw, &st), 0);
        cr_assert_eq(st.st_uid, 0);
        cr_assert_eq(st.st_mode & 07777, 0600);
        cr_assert_eq(st.st_nlink, 0, "nameless until committed");
        cr_assert_eq(loop_write(rw, "uploaded bytes\n", 15), 0);

        /* The writer still holds it: it could change the file after servers see it. */
        cr_assert_lt(files_commit(&ctx, "o1", ro, "new", false, &g, &size, &consumed, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert(strstr(e.message, "close the upload before committing it"), "%s", e.message);
        cr_assert_not(consumed, "the caller may close and commit again");
        gens_are("o1", "1");
        /* A mapping counts as a writer as long as the descriptor it came from. */
        close(rw);

        cr_assert_lt(files_commit(&ctx, "o1", ro, "existing", false, &g, &size, &consumed, &e), 0);
        cr_assert_eq(e.code, RPC_CONFLICT);
        cr_assert(strstr(e.message, "exists"), "%s", e.message);
        cr_assert_not(consumed, "the caller may ask again with replace");
        cr_assert_lt(files_commit(&ctx, "o1", ro, "nodir/x", false, &g, &size, &consumed, &e), 0);
        cr_assert_not(consumed);

        cr_assert_eq(files_commit(&ctx, "o1", ro, "existing", true, &g, &size, &consumed, &e), 0, "%s",
                     e.message);
        cr_assert(consumed);
        cr_assert_eq(g, 2);
        cr_assert_eq(size, 15);
        close(ro);
        sh("grep -qx 'uploaded bytes' overlays/o1/existing");
        st = stat_rel("overlays/o1/existing");
        cr_assert_eq(st.st_uid, OWNER);
        cr_assert_eq(st.st_mode & 07777, 0644);
        cr_assert_eq(st.st_nlink, 1);
        sh("test -z \"$(find overlays -name '.left4me-*')\"");
}

Test(files, an_upload_over_the_cap_leaves_nothing) {
        struct rpc_error e = {};
        uint64_t g = 0, size = 0;
        bool consumed = false;
        int rw, ro;

        write_ok("o1", "f", "x");
        ctx.max_bytes = 64 * 1024;
        rw = files_upload_open(ctx.rootfd, "o1", &ro, &e);
        cr_assert_geq(rw, 0, "%s", e.message);
        cr_assert_eq(ftruncate(rw, 65 * 1024), 0);
        close(rw);
        cr_assert_lt(files_commit(&ctx, "o1", ro, "big", false, &g, &size, &consumed, &e), 0);
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert(strstr(e.message, "over the cap"), "%s", e.message);
        cr_assert(consumed);
        close(ro);
        gens_are("o1", "1");
        sh("test ! -e overlays/o1/big && test -z \"$(find overlays -name '.left4me-*')\"");
        /* Just under the file cap, but the overlay as a whole is over it: also nothing. */
        rw = files_upload_open(ctx.rootfd, "o1", &ro, &e);
        cr_assert_eq(ftruncate(rw, 63 * 1024), 0);
        close(rw);
        cr_assert_lt(files_commit(&ctx, "o1", ro, "big", false, &g, &size, &consumed, &e), 0);
        cr_assert(strstr(e.message, "would be"), "%s", e.message);
        close(ro);
        gens_are("o1", "1");
}

/* A server's merged view on a real overlay mount: the layer of each entry, and what it
 * changed (whiteouts shown as deleted). */
Test(files, the_merged_view_says_where_each_file_comes_from) {
        struct file_listing l = {};
        struct files_view *v = NULL;
        struct rpc_error e = {};
        struct stat st;
        uint64_t g1, g2;
        int fd;

        mkdir_ok("base", "left4dead2/cfg");
        g1 = write_ok("base", "left4dead2/cfg/base.cfg", "base");
        write_ok("base", "left4dead2/cfg/gone.cfg", "gone");
        g1 = write_ok("base", "left4dead2/cfg/both.cfg", "base");
        mkdir_ok("top", "left4dead2/cfg");
        g2 = write_ok("top", "left4dead2/cfg/both.cfg", "top");
        sh("mkdir -p installation/left4dead2/cfg && echo inst >installation/left4dead2/cfg/inst.cfg");
        cr_assert_lt(files_instance_list(ctx.rootfd, root, "s1", "", &l, &v, &e), 0);
        cr_assert_eq(e.code, RPC_NOT_FOUND);
        sh("mkdir -p instances/s1 runtime/s1/upper/left4dead2/cfg runtime/s1/work runtime/s1/merged");
        cr_assert_lt(files_instance_list(ctx.rootfd, root, "s1", "", &l, &v, &e), 0);
        cr_assert_eq(e.code, RPC_NOT_FOUND);
        cr_assert(strstr(e.message, "not mounted"), "%s", e.message);
        sh("printf 'L4D2_PORT=27015\\nL4D2_LOWERDIRS=%s/overlays/top:%s/overlays/base:%s/installation\\n' "
           ">instances/s1/instance.env && printf 'top %" PRIu64 "\\nbase %" PRIu64 "\\n' >runtime/s1/layers",
           root, root, root, g2, g1);
        sh("echo server >runtime/s1/upper/left4dead2/cfg/server.cfg && "
           "mount -t overlay overlay -o "
           "lowerdir=overlays/top:overlays/base:installation,upperdir=runtime/s1/upper,"
           "workdir=runtime/s1/work runtime/s1/merged && rm runtime/s1/merged/left4dead2/cfg/gone.cfg");
        /* A later edit does not change what the server sees, nor the layer it names. */
        write_ok("top", "left4dead2/cfg/later.cfg", "later");

        cr_assert_eq(files_instance_list(ctx.rootfd, root, "s1", "left4dead2/cfg", &l, &v, &e), 0, "%s",
                     e.message);
        cr_assert_eq(l.n, 4, "base, both, inst, server (gone is deleted, later is not mounted)");
        for (size_t i = 0; i < l.n; i++) {
                const struct file_entry *f = &l.entries[i];
                const char *want = streq(f->name, "server.cfg") ? "upper"
                                   : streq(f->name, "both.cfg") ? "top"
                                   : streq(f->name, "base.cfg") ? "base"
                                                                : "installation";
                cr_assert(f->layer, "%s has no layer", f->name);
                cr_assert_str_eq(f->layer, want, "%s", f->name);
        }
        file_listing_done(&l);
        v = files_view_free(v);
        cr_assert_eq(files_instance_list(ctx.rootfd, root, "s1", "", &l, &v, &e), 0, "%s", e.message);
        cr_assert_eq(l.n, 1);
        cr_assert_str_eq(l.entries[0].layer, "upper", "a merged folder is the topmost's");
        file_listing_done(&l);
        v = files_view_free(v);

        cr_assert_eq(files_instance_changes(ctx.rootfd, "s1", "left4dead2/cfg", &l, &e), 0, "%s", e.message);
        cr_assert_eq(l.n, 2);
        cr_assert_str_eq(l.entries[0].name, "gone.cfg");
        cr_assert_eq(l.entries[0].type, FILE_TYPE_DELETED, "a whiteout");
        cr_assert_str_eq(l.entries[1].name, "server.cfg");
        file_listing_done(&l);

        fd = files_instance_open(ctx.rootfd, "s1", "left4dead2/cfg/both.cfg", &st, &e);
        cr_assert_geq(fd, 0, "%s", e.message);
        close(fd);
        sh("ln -s /etc/shadow runtime/s1/upper/left4dead2/cfg/evil");
        cr_assert_lt(files_instance_open(ctx.rootfd, "s1", "left4dead2/cfg/evil", &st, &e), 0);
        cr_assert(strstr(e.message, "symlink"), "%s", e.message);
        cr_assert_lt(files_instance_list(ctx.rootfd, root, "s1", "../..", &l, &v, &e), 0);
        sh("umount runtime/s1/merged");
}
