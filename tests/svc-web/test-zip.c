/* The streamed zip writer (svc-web/webd-zip.c), read back by an independent reader: python3's
 * zipfile checks the names, sizes, modes, mtimes, CRCs (testzip) and every file's bytes
 * against the tree on disk. Hostile entries (a symlink to /etc/shadow, one to a sibling, a
 * FIFO) must leave no trace; a tree deeper than the cap must not crash; files that change
 * while read must leave a valid archive; no descriptor outlives webd_zip_free. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svc-web/webd-zip.h"

/* argv: zip, tree, root, then what the tree's special cases expect. Walks the tree itself
 * (no symlink followed) for the names the archive must hold, exactly those. */
static const char VERIFY_PY[] =
        "import os, stat, sys, zipfile, struct\n"
        "zpath, tree, root = sys.argv[1], sys.argv[2], sys.argv[3]\n"
        "maxdepth = int(sys.argv[4]) if len(sys.argv) > 4 else 1000\n"
        "pre = root + '/' if root else ''\n"
        "want = {}\n"
        "if root: want[pre] = tree\n"
        "def walk(d, rel, depth):\n"
        "    for n in os.listdir(d):\n"
        "        p = os.path.join(d, n); st = os.lstat(p)\n"
        "        if stat.S_ISDIR(st.st_mode):\n"
        "            if depth + 1 > maxdepth: continue\n"
        "            want[pre + rel + n + '/'] = p; walk(p, rel + n + '/', depth + 1)\n"
        "        elif stat.S_ISREG(st.st_mode): want[pre + rel + n] = p\n"
        "walk(tree, '', 0)\n"
        "z = zipfile.ZipFile(zpath)\n"
        "assert z.testzip() is None, 'bad CRC'\n"
        "names = z.namelist()\n"
        "assert len(names) == len(set(names)), 'duplicate names'\n"
        "assert set(names) == set(want), ('names', sorted(set(names) ^ set(want)))\n"
        "for i in z.infolist():\n"
        "    p = want[i.filename]; st = os.lstat(p)\n"
        "    mode = i.external_attr >> 16\n"
        "    if i.is_dir():\n"
        "        assert stat.S_ISDIR(mode) and i.file_size == 0, i.filename\n"
        "    else:\n"
        "        assert stat.S_ISREG(mode), i.filename\n"
        "        assert stat.S_IMODE(mode) == (0o755 if st.st_mode & 0o111 else 0o644), (i.filename, "
        "oct(mode))\n"
        "        assert i.compress_type == zipfile.ZIP_STORED\n"
        "        assert i.file_size == st.st_size, (i.filename, i.file_size, st.st_size)\n"
        "        assert z.read(i) == open(p, 'rb').read(), i.filename\n"
        "        assert i.flag_bits & 0x8, 'data descriptor'\n"
        "    x = i.extra; mt = None\n"
        "    while len(x) >= 4:\n"
        "        t, l = struct.unpack('<HH', x[:4])\n"
        "        if t == 0x5455 and x[4] & 1: mt = struct.unpack('<i', x[5:9])[0]\n"
        "        x = x[4 + l:]\n"
        "    assert mt == int(st.st_mtime), (i.filename, mt, st.st_mtime)\n"
        "print('zip ok:', len(names), 'entries')\n";

static char tmpdir[64];
static char verify_path[128];

/* Runs argv[0] (a full path) with its output shown; returns its exit status, -1 if killed. */
static int run(char *const argv[]) {
        int st;
        pid_t pid = fork();

        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void) {
        FILE *f;

        snprintf(tmpdir, sizeof(tmpdir), "/tmp/l4m-zip-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(verify_path, sizeof(verify_path), "%s/verify.py", tmpdir);
        f = fopen(verify_path, "w");
        cr_assert_not_null(f);
        fputs(VERIFY_PY, f);
        fclose(f);
}

static void teardown(void) {
        (void) run((char *const[]){"/bin/rm", "-rf", tmpdir, NULL});
}

TestSuite(zip, .init = setup, .fini = teardown);

/* dir/rel, in a buffer that the next call reuses. */
static const char *at(const char *dir, const char *rel) {
        static char buf[512];

        snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
        return buf;
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
        cr_assert_eq(write(fd, p, n), (ssize_t) n);
        close(fd);
}

static unsigned count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        cr_assert_not_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* The tree of the task: nested folders, an empty folder, an empty file, 3 MiB of random
 * bytes, an executable, a non-ASCII name, and three things to leave out. */
static void make_tree(const char *t) {
        static uint8_t big[3 * 1024 * 1024];

        cr_assert_eq(mkdir(t, 0755), 0);
        mkdir(at(t, "a"), 0755);
        mkdir(at(t, "a/b"), 0755);
        mkdir(at(t, "a/b/c"), 0755);
        mkdir(at(t, "empty-dir"), 0755);
        write_file(at(t, "a/b/c/deep.txt"), "deep\n", 5, 0644);
        write_file(at(t, "a/small.txt"), "hello\n", 6, 0644);
        write_file(at(t, "empty.txt"), "", 0, 0644);
        write_file(at(t, "run.sh"), "#!/bin/sh\necho hi\n", 18, 0755);
        write_file(at(t, "caf\xc3\xa9.cfg"), "sv_cheats 0\n", 12, 0644);
        for (size_t i = 0; i < sizeof(big); i += 256)
                cr_assert_eq(getrandom(big + i, 256, 0), 256);
        write_file(at(t, "a/big.bin"), big, sizeof(big), 0600);
        cr_assert_eq(symlink("/etc/shadow", at(t, "shadow")), 0);
        cr_assert_eq(symlink("a/small.txt", at(t, "sibling")), 0);
        cr_assert_eq(mkfifo(at(t, "fifo"), 0644), 0);
}

/* Streams the folder at tree into out with slices of cap bytes; returns the object (not
 * freed, for its counters) after the archive is complete. */
static struct webd_zip *stream(const char *tree, const char *root, size_t cap, const char *out) {
        struct webd_zip *z = NULL;
        uint8_t *buf = malloc(cap);
        int dfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ssize_t n;

        cr_assert_not_null(buf);
        cr_assert_geq(dfd, 0);
        cr_assert_geq(ofd, 0);
        cr_assert_eq(webd_zip_new(dfd, root, &z), 0);
        while ((n = webd_zip_next(z, buf, cap)) > 0) {
                cr_assert_leq((size_t) n, cap);
                cr_assert_eq(write(ofd, buf, (size_t) n), n);
        }
        cr_assert_eq(n, 0, "webd_zip_next: %s", strerror((int) -n));
        cr_assert_eq(webd_zip_next(z, buf, cap), 0, "complete stays complete");
        close(ofd);
        free(buf);
        return z;
}

/* maxdepth: folders deeper than this are not expected in the archive (NULL: no limit). */
static void verify(const char *zip, const char *tree, const char *root, const char *maxdepth) {
        char *argv[] = {"/usr/bin/python3", verify_path,       (char *) zip, (char *) tree,
                        (char *) root,      (char *) maxdepth, NULL};

        cr_assert_eq(run(argv), 0, "zipfile rejected %s", zip);
}

static void tree_case(size_t cap, const char *root) {
        char tree[128], zip[128];
        struct webd_zip *z;
        unsigned fds = count_fds();

        snprintf(tree, sizeof(tree), "%s/t", tmpdir);
        snprintf(zip, sizeof(zip), "%s/t.zip", tmpdir);
        make_tree(tree);
        z = stream(tree, root, cap, zip);
        cr_assert_eq(webd_zip_skipped(z), 3, "skipped %u", webd_zip_skipped(z));
        cr_assert_eq(webd_zip_changed(z), 0);
        webd_zip_free(z);
        cr_assert_eq(count_fds(), fds, "a descriptor left open");
        verify(zip, tree, root, NULL);
}

Test(zip, tree_64k_with_root) {
        tree_case(64 * 1024, "folder");
}

Test(zip, tree_4097_at_top) {
        tree_case(4097, "");
}

/* Neither the link's target's bytes nor the link itself: grep the raw archive. */
Test(zip, no_link_target_bytes) {
        char tree[128], zip[128], p[192];
        struct webd_zip *z;
        FILE *f;
        static char data[8 * 1024 * 1024];
        size_t n;

        snprintf(tree, sizeof(tree), "%s/t", tmpdir);
        snprintf(zip, sizeof(zip), "%s/t.zip", tmpdir);
        cr_assert_eq(mkdir(tree, 0755), 0);
        write_file(at(tmpdir, "secret"), "TOPSECRET-1234\n", 15, 0644);
        cr_assert_eq(symlink("../secret", at(tree, "out")), 0);
        snprintf(p, sizeof(p), "%s/abs", tree);
        cr_assert_eq(symlink(tmpdir, p), 0);
        z = stream(tree, "x", 65536, zip);
        cr_assert_eq(webd_zip_skipped(z), 2);
        webd_zip_free(z);
        f = fopen(zip, "rb");
        n = fread(data, 1, sizeof(data), f);
        fclose(f);
        cr_assert_null(memmem(data, n, "TOPSECRET", 9));
        cr_assert_null(memmem(data, n, "secret", 6), "not even the link's target name");
        verify(zip, tree, "x", NULL);
}

/* 70 folders deep, a file in each: everything to depth 64 goes in, the 65th folder counts
 * once as skipped and its contents are not looked at. */
Test(zip, deeper_than_the_cap) {
        char tree[128], zip[128];
        struct webd_zip *z;
        int fd;

        snprintf(tree, sizeof(tree), "%s/t", tmpdir);
        snprintf(zip, sizeof(zip), "%s/t.zip", tmpdir);
        cr_assert_eq(mkdir(tree, 0755), 0);
        fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < 70; i++) {
                int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                int next;

                cr_assert_eq(write(f, "x", 1), 1);
                close(f);
                cr_assert_eq(mkdirat(fd, "d", 0755), 0);
                next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                cr_assert_geq(next, 0);
                close(fd);
                fd = next;
        }
        close(fd);
        z = stream(tree, "deep", 65536, zip);
        cr_assert_eq(webd_zip_skipped(z), 1, "skipped %u", webd_zip_skipped(z));
        webd_zip_free(z);
        verify(zip, tree, "deep", "64");
}

Test(zip, not_a_directory) {
        char p[128];
        struct webd_zip *z = NULL;
        unsigned fds;
        int fd;

        snprintf(p, sizeof(p), "%s/file", tmpdir);
        write_file(p, "x", 1, 0644);
        fds = count_fds();
        fd = open(p, O_RDONLY | O_CLOEXEC);
        cr_assert_eq(webd_zip_new(fd, "", &z), -ENOTDIR);
        cr_assert_null(z);
        cr_assert_eq(count_fds(), fds, "the descriptor is closed on error too");
        fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(webd_zip_new(fd, "a/b", &z), -EINVAL);
        fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_eq(webd_zip_new(fd, "..", &z), -EINVAL);
        cr_assert_eq(count_fds(), fds);
        cr_assert_null(webd_zip_free(NULL));
}

/* A download the client abandons midway: free closes the open folders and the open file. */
Test(zip, free_midway_closes_everything) {
        char tree[128];
        struct webd_zip *z = NULL;
        static uint8_t buf[4097];
        unsigned fds;

        snprintf(tree, sizeof(tree), "%s/t", tmpdir);
        make_tree(tree);
        fds = count_fds();
        cr_assert_eq(webd_zip_new(open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "t", &z), 0);
        for (int i = 0; i < 20; i++)
                cr_assert_gt(webd_zip_next(z, buf, sizeof(buf)), 0);
        cr_assert_gt(count_fds(), fds);
        webd_zip_free(z);
        cr_assert_eq(count_fds(), fds);
}

/* One file in a folder, changed after the first slice: the entry keeps the announced size. */
static void changing_case(bool shrink) {
        char tree[128], zip[128], p[192], keep[16];
        static uint8_t data[300000], buf[4097];
        struct webd_zip *z = NULL;
        ssize_t n;
        int ofd, fd;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 7 + 1);
        snprintf(tree, sizeof(tree), "%s/t", tmpdir);
        snprintf(zip, sizeof(zip), "%s/t.zip", tmpdir);
        cr_assert_eq(mkdir(tree, 0755), 0);
        snprintf(p, sizeof(p), "%s/f.bin", tree);
        write_file(p, data, 200000, 0644);

        cr_assert_eq(webd_zip_new(open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "", &z), 0);
        ofd = open(zip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        n = webd_zip_next(z, buf, sizeof(buf));
        cr_assert_gt(n, 0);
        cr_assert_eq(write(ofd, buf, (size_t) n), n);
        fd = open(p, O_WRONLY | O_CLOEXEC);
        if (shrink)
                cr_assert_eq(ftruncate(fd, 10000), 0);
        else
                cr_assert_eq(pwrite(fd, data + 200000, 100000, 200000), 100000);
        close(fd);
        while ((n = webd_zip_next(z, buf, sizeof(buf))) > 0)
                cr_assert_eq(write(ofd, buf, (size_t) n), n);
        cr_assert_eq(n, 0);
        close(ofd);
        cr_assert_eq(webd_zip_changed(z), 1);
        cr_assert_eq(webd_zip_skipped(z), 0);
        webd_zip_free(z);

        /* The entry: 200000 bytes, the file's first ones, then zeros if it shrank. */
        snprintf(keep, sizeof(keep), "%d", shrink ? 10000 : 200000);
        cr_assert_eq(run((char *const[]){"/usr/bin/python3", "-c",
                                         "import zipfile, sys\n"
                                         "z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n"
                                         "d = z.read('f.bin'); assert len(d) == 200000\n"
                                         "f = open(sys.argv[2], 'rb').read(); n = int(sys.argv[3])\n"
                                         "assert d[:n] == f[:n] and d[n:] == bytes(200000 - n)\n",
                                         zip, p, keep, NULL}),
                     0);
}

Test(zip, file_shrinks_while_read) {
        changing_case(true);
}

Test(zip, file_grows_while_read) {
        changing_case(false);
}

/* 5 GiB (sparse): past 4 GiB the sizes need zip64, which libarchive's writer puts in the
 * local header and data descriptor without seeking. The archive is written sparse too. */
Test(zip, zip64_sparse_5g, .timeout = 120) {
        char tree[128], zip[128], p[192];
        static uint8_t buf[1024 * 1024], zero[1024 * 1024];
        struct webd_zip *z = NULL;
        off_t off = 0;
        ssize_t n;
        int fd, ofd;

        snprintf(tree, sizeof(tree), "%s/t", tmpdir);
        snprintf(zip, sizeof(zip), "%s/t.zip", tmpdir);
        cr_assert_eq(mkdir(tree, 0755), 0);
        write_file(at(tree, "small.txt"), "before\n", 7, 0644);
        snprintf(p, sizeof(p), "%s/huge.bin", tree);
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_eq(ftruncate(fd, 5LL << 30), 0);
        cr_assert_eq(pwrite(fd, "end", 3, (5LL << 30) - 3), 3);
        close(fd);
        write_file(at(tree, "z-after.txt"), "after\n", 6, 0644);

        cr_assert_eq(webd_zip_new(open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "", &z), 0);
        ofd = open(zip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        while ((n = webd_zip_next(z, buf, sizeof(buf))) > 0) {
                if ((size_t) n == sizeof(buf) && memcmp(buf, zero, sizeof(buf)) == 0)
                        off += n; /* a hole */
                else {
                        cr_assert_eq(pwrite(ofd, buf, (size_t) n, off), n);
                        off += n;
                }
        }
        cr_assert_eq(n, 0);
        cr_assert_eq(ftruncate(ofd, off), 0);
        close(ofd);
        webd_zip_free(z);
        cr_assert_gt(off, 5LL << 30);
        /* The 5 GiB of zeros the kernel put in the page cache for the holes: not needed again. */
        fd = open(p, O_RDONLY | O_CLOEXEC);
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);

        /* From the central directory: the names, the 5 GiB size and the offsets past 4 GiB
         * (zip64 extra fields); the small files' CRCs; the huge one's last bytes where its
         * local header says its data is. Its CRC is not checked: 5 GiB through Python. */
        cr_assert_eq(
                run((char *const[]){
                        "/usr/bin/python3", "-c",
                        "import zipfile, struct, sys\n"
                        "z = zipfile.ZipFile(sys.argv[1]); i = {x.filename: x for x in z.infolist()}\n"
                        "assert sorted(i) == ['huge.bin', 'small.txt', 'z-after.txt'], i\n"
                        "h = i['huge.bin']; assert h.file_size == h.compress_size == 5 << 30\n"
                        "assert h.extract_version >= 45\n"
                        "assert all(x.header_offset > 5 << 30 for x in i.values() if x.header_offset > "
                        "h.header_offset)\n"
                        "assert z.read('small.txt') == b'before\\n'\n"
                        "assert z.read('z-after.txt') == b'after\\n'\n"
                        "f = open(sys.argv[1], 'rb'); f.seek(h.header_offset)\n"
                        "lh = f.read(30); n, e = struct.unpack('<HH', lh[26:30])\n"
                        "assert struct.unpack('<II', lh[18:26]) == (0xffffffff, 0xffffffff)\n"
                        "f.seek(h.header_offset + 30 + n + e + (5 << 30) - 3); assert f.read(3) == b'end'\n",
                        zip, NULL}),
                0);
}
