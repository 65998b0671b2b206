/* Overlays and their generations: prepared before a build, published after it, made current,
 * collected, removed on delete. See hostd-overlay.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/names.h"
#include "svc-host/hostd-fs.h"
#include "svc-host/hostd-overlay.h"
#include "svc-host/hostd-sandbox.h"

/* ---- publishing ------------------------------------------------------------------------------ */

/* Publishing recurses; a build that nests deeper fails to publish (ELOOP) rather than
 * exhaust hostd's stack or fds. Removing such a tree still works (rm_rf_at has no limit). */
#define PUBLISH_MAX_DEPTH 256u

struct publish_owner {
        uid_t uid;
        gid_t gid;
};

static int publish_children(int dirfd, dev_t dev, const struct publish_owner *o, unsigned depth);

/* The mode publishing gives a file or directory: its owner's bits, o+r, o+x where anyone may
 * execute (and on directories), no group/other write, set-id or sticky bit. */
static mode_t publish_mode(const struct stat *st) {
        mode_t want = (st->st_mode & 0755) | S_IROTH;

        if (S_ISDIR(st->st_mode) || (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
                want |= S_IXOTH;
        if (S_ISDIR(st->st_mode))
                want |= S_IRUSR | S_IXUSR; /* so the owner can still walk what we publish */
        return want;
}

/* Replaces the regular file name (open as fd) with a copy of its own: a hardlink shares its
 * inode with another name, maybe outside the overlay, which the chmod below would change
 * too, and which whoever holds that name could change under the game later. */
static int break_hardlink(int dirfd, const char *name, int fd, const struct stat *st) {
        char tmp[64];
        _cleanup_close_ int out = -1;
        int r = 0;

        snprintf(tmp, sizeof(tmp), ".left4me-unlink-%lu", (unsigned long) st->st_ino);
        (void) unlinkat(dirfd, tmp, 0);
        out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 0755);
        if (out < 0)
                return -errno;
        for (;;) {
                char buf[64 * 1024];
                ssize_t k = read(fd, buf, sizeof(buf)), w = 0;
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                while (w < k) {
                        ssize_t m = write(out, buf + w, (size_t) (k - w));
                        if (m < 0 && errno == EINTR)
                                continue;
                        if (m < 0) {
                                r = -errno;
                                break;
                        }
                        w += m;
                }
                if (r < 0)
                        break;
        }
        if (r >= 0 && fchown(out, st->st_uid, st->st_gid) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r < 0 ? r : 1;
}

static int publish_one(int dirfd, const char *name, dev_t dev, const struct publish_owner *o,
                       unsigned depth) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        mode_t want;
        int n = 0, r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (st.st_dev != dev)
                return 0; /* another mount: not ours */
        if (S_ISLNK(st.st_mode)) {
                /* Resolved inside the game's merged view, never followed here; re-owned
                 * itself, so nothing is left with the build's uid. */
                if (st.st_uid == o->uid && st.st_gid == o->gid)
                        return 0;
                if (fchownat(dirfd, name, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT ? 0 : -errno;
                return 1;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                /* FIFOs, sockets, device nodes have no place in game content (and a FIFO
                 * would block a game that opens it): removed. */
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        return -errno;
                return 1;
        }
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
        /* A file with more names that is already published as it is (the fixed owner's, its
         * mode what we would set) is one a build from "current" inherited (overlay_gen_fill):
         * shared with the older generations, which nobody but root can change, and left
         * alone here (nothing below changes it). Every other hardlink is broken. */
        if (S_ISREG(st.st_mode) && st.st_nlink > 1 && st.st_uid == o->uid && st.st_gid == o->gid &&
            publish_mode(&st) == (st.st_mode & 07777))
                return 0;
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
                r = break_hardlink(dirfd, name, fd, &st);
                if (r < 0)
                        return r;
                n += r;
                fd = safe_close(fd);
                fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                if (fstat(fd, &st) < 0)
                        return -errno;
        }
        /* One fixed owner, not the build's leased uid: the next build that gets that uid (of
         * another overlay) must not own this one. chown before chmod: it clears set-id bits. */
        if ((st.st_uid != o->uid || st.st_gid != o->gid)) {
                if (fchown(fd, o->uid, o->gid) < 0)
                        return -errno;
                n++;
        }
        /* A lower layer of game servers: nobody but its owner writes it, and nothing in it
         * runs with another's privileges (no setuid, setgid or sticky bit, no group or other
         * write bit). */
        want = publish_mode(&st);
        if (want != (st.st_mode & 07777)) {
                if (fchmod(fd, want) < 0)
                        return -errno;
                n++;
        }
        if (S_ISDIR(st.st_mode)) {
                if (depth >= PUBLISH_MAX_DEPTH)
                        return -ELOOP;
                r = publish_children(fd, dev, o, depth + 1);
                if (r < 0)
                        return r;
                n += r;
                TAKE_FD(fd); /* publish_children took it */
        }
        return n;
}

/* Takes ownership of fd. */
static int publish_children(int fd, dev_t dev, const struct publish_owner *o, unsigned depth) {
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
                r = publish_one(dirfd(d), de->d_name, dev, o, depth);
                if (r < 0)
                        break;
                n += r;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r < 0 ? r : n;
}

int overlay_publish(int dirfd, uid_t uid, gid_t gid) {
        const struct publish_owner o = {uid, gid};
        struct stat st;
        int fd, n;

        if (fstat(dirfd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = publish_children(fd, st.st_dev, &o, 0);
        if (n < 0)
                return n;
        /* The top last: until the tree is done the build's uid keeps it, and a failed publish
         * leaves the next prepare something to find. */
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(dirfd, uid, gid) < 0)
                return -errno;
        if ((st.st_mode & 07777) != 0755 && fchmod(dirfd, 0755) < 0)
                return -errno;
        return n;
}

/* ---- size --------------------------------------------------------------------------------------- */

static uint64_t entry_bytes(const struct stat *st) {
        uint64_t blocks = (uint64_t) st->st_blocks * 512u;
        if (S_ISREG(st->st_mode) && st->st_size > 0 && (uint64_t) st->st_size > blocks)
                return (uint64_t) st->st_size;
        return blocks;
}

/* Takes ownership of fd. */
static int size_children(int fd, dev_t dev, uint64_t *sum, unsigned depth) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                struct stat st;
                int cfd;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        break;
                }
                if (st.st_dev != dev)
                        continue; /* another mount: publishing leaves it alone too */
                *sum = entry_bytes(&st) > UINT64_MAX - *sum ? UINT64_MAX : *sum + entry_bytes(&st);
                if (!S_ISDIR(st.st_mode))
                        continue;
                if (depth >= PUBLISH_MAX_DEPTH) {
                        r = -ELOOP;
                        break;
                }
                cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        break;
                }
                r = size_children(cfd, dev, sum, depth + 1);
                if (r < 0)
                        break;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r;
}

int overlay_size(int dirfd, uint64_t *ret_bytes) {
        struct stat st;
        uint64_t sum;
        int fd, r;

        if (fstat(dirfd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        sum = entry_bytes(&st);
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = size_children(fd, st.st_dev, &sum, 0);
        if (r < 0)
                return r;
        *ret_bytes = sum;
        return 0;
}

void overlay_format_bytes(uint64_t bytes, char *buf, size_t size) {
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = (double) bytes;
        size_t u = 0;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units))
                v /= 1024, u++;
        if (u == 0)
                snprintf(buf, size, "%" PRIu64 " B", bytes);
        else if (v == (double) (uint64_t) v)
                snprintf(buf, size, "%" PRIu64 " %s", (uint64_t) v, units[u]);
        else
                snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* ---- overlays/ and refs ------------------------------------------------------------------------ */

int overlays_dir_open(int rootfd, bool create) {
        int fd;

        fd = trusted_dir_open(rootfd, "overlays");
        if (fd == -ENOENT && create) {
                if (mkdirat(rootfd, "overlays", 0755) < 0 && errno != EEXIST)
                        return -errno;
                fd = trusted_dir_open(rootfd, "overlays");
        }
        return fd;
}

int overlays_lock(int overlays_fd, bool exclusive) {
        for (;;) {
                if (flock(overlays_fd, exclusive ? LOCK_EX : LOCK_SH) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static bool ref_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
}

bool overlay_ref_is_valid(const char *ref) {
        size_t len, comp = 0;

        if (!ref)
                return false;
        len = strnlen(ref, OVERLAY_REF_MAX + 1);
        if (len == 0 || len > OVERLAY_REF_MAX || ref[0] == '.')
                return false;
        for (size_t i = 0; i <= len; i++) {
                if (i == len || ref[i] == '/') {
                        size_t n = i - comp;
                        if (n == 0 || (n == 1 && ref[comp] == '.') ||
                            (n == 2 && ref[comp] == '.' && ref[comp + 1] == '.'))
                                return false;
                        comp = i + 1;
                        continue;
                }
                if (!ref_char_ok(ref[i]))
                        return false;
        }
        return true;
}

/* "N" of a generation directory: decimal, no leading zero (so one number has one name). */
static bool parse_gen(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!s[0] || (s[0] == '0' && s[1]) || strlen(s) > 19)
                return false;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = v;
        return true;
}

int overlay_current(int overlays_fd, const char *id, uint64_t *ret_gen) {
        char target[PATH_MAX], want[PATH_MAX];
        struct stat st;
        uint64_t g;
        ssize_t n;

        if (fstatat(overlays_fd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                *ret_gen = 0;
                return 0;
        }
        if (!S_ISLNK(st.st_mode))
                return -ENOTDIR;
        n = readlinkat(overlays_fd, id, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        /* Exactly what overlay_gen_commit writes, and owned by root: anything else was not
         * made by hostd and is not followed. */
        snprintf(want, sizeof(want), OVERLAY_GENS_DIR "/%s/", id);
        if (st.st_uid != 0 || strncmp(target, want, strlen(want)) != 0 ||
            !parse_gen(target + strlen(want), &g))
                return -EMEDIUMTYPE;
        *ret_gen = g;
        return 1;
}

/* An operator's alias (root's symlink overlays/A -> B, in root's overlays/): followed as far
 * as its target is itself a ref, so what is recorded is the overlay it names, never a path
 * into .gen or out of overlays/. */
#define REF_ALIAS_HOPS 8

static int ref_open(int overlays_fd, const char *ref, struct overlay_layer *ret, unsigned hops) {
        _cleanup_close_ int base = -1;
        const char *slash, *rest;
        char path[PATH_MAX];
        uint64_t g = 0;
        int r;

        if (!overlay_ref_is_valid(ref))
                return hops > 0 ? -EXDEV : -EINVAL;
        slash = strchr(ref, '/');
        rest = slash ? slash + 1 : NULL;
        snprintf(ret->id, sizeof(ret->id), "%.*s", (int) (slash ? (size_t) (slash - ref) : strlen(ref)),
                 ref);
        r = overlay_current(overlays_fd, ret->id, &g);
        if (r == -EMEDIUMTYPE) {
                char target[PATH_MAX], next[PATH_MAX];
                struct stat st;
                ssize_t n;

                if (hops >= REF_ALIAS_HOPS || fstatat(overlays_fd, ret->id, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    st.st_uid != 0)
                        return -EXDEV;
                n = readlinkat(overlays_fd, ret->id, target, sizeof(target) - 1);
                if (n < 0)
                        return -errno;
                target[n] = 0;
                if ((size_t) snprintf(next, sizeof(next), "%s%s%s", target, rest ? "/" : "", rest ?: "") >=
                    sizeof(next))
                        return -ENAMETOOLONG;
                return ref_open(overlays_fd, next, ret, hops + 1);
        }
        if (r < 0)
                return r;
        if (r > 0)
                snprintf(path, sizeof(path), OVERLAY_GENS_DIR "/%s/%" PRIu64, ret->id, g);
        else
                snprintf(path, sizeof(path), "%s", ret->id);
        base = openat2_fd(overlays_fd, path, O_PATH | O_DIRECTORY, 0, RESOLVE_SAFE | RESOLVE_NO_SYMLINKS);
        if (base < 0)
                return base;
        ret->generation = g;
        if (!rest)
                return TAKE_FD(base);
        return openat2_fd(base, rest, O_PATH | O_DIRECTORY, 0, RESOLVE_SAFE);
}

int overlay_ref_open(int overlays_fd, const char *ref, struct overlay_layer *ret) {
        return ref_open(overlays_fd, ref, ret, 0);
}

/* ---- runtime/NAME/layers ----------------------------------------------------------------------- */

int layers_write(int runtime_name_fd, const struct overlay_layer *l, size_t n) {
        _cleanup_free_ char *buf = NULL;
        size_t cap = n * (OVERLAY_REF_MAX + 24) + 1, o = 0;

        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        buf[0] = 0;
        for (size_t i = 0; i < n; i++)
                o += (size_t) snprintf(buf + o, cap - o, "%s %" PRIu64 "\n", l[i].id, l[i].generation);
        return write_file_at(runtime_name_fd, OVERLAY_LAYERS_FILE, buf, o, 0640, 0, (gid_t) -1);
}

int layers_read(int runtime_name_fd, struct overlay_layer **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct overlay_layer *v = NULL;
        size_t len, n = 0;
        struct stat st;
        char *p, *nl;
        int r;

        /* Only hostd's mount (root) writes it; runtime/NAME is root's, the game writes only
         * in upper/. */
        if (fstatat(runtime_name_fd, OVERLAY_LAYERS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != 0)
                return -EPERM;
        r = read_file_at(runtime_name_fd, OVERLAY_LAYERS_FILE, 500u * (OVERLAY_REF_MAX + 24), &text, &len);
        if (r < 0)
                return r;
        v = calloc(500, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (p = text; *p; p = nl + 1) {
                char *sp;
                nl = strchr(p, '\n');
                if (!nl || n >= 500)
                        return -EBADMSG;
                *nl = 0;
                sp = strchr(p, ' ');
                if (!sp)
                        return -EBADMSG;
                *sp = 0;
                if (strlen(p) > OVERLAY_REF_MAX || !parse_gen(sp + 1, &v[n].generation))
                        return -EBADMSG;
                snprintf(v[n].id, sizeof(v[n].id), "%s", p);
                n++;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int overlay_uses(int rootfd, struct overlay_use **ret, size_t *ret_n) {
        _cleanup_close_ int rfd = -1;
        _cleanup_free_ struct overlay_use *v = NULL;
        size_t n = 0, alloc = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        rfd = trusted_dir_open(rootfd, "runtime");
        if (rfd == -ENOENT)
                return 0;
        if (rfd < 0)
                return rfd;
        d = fdopendir(rfd);
        if (!d)
                return -errno;
        rfd = -1;
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                _cleanup_close_ int nfd = -1;
                _cleanup_free_ struct overlay_layer *l = NULL;
                size_t nl = 0;
                int k;

                if (!name_is_valid(de->d_name) || strlen(de->d_name) >= sizeof(v->instance))
                        continue;
                nfd = dir_open_nofollow(dirfd(d), de->d_name);
                if (nfd < 0)
                        continue;
                /* A record without a mount is a mount that failed or a helper killed half-way:
                 * it pins nothing. */
                if (is_mount_root_at(nfd, "merged") <= 0)
                        continue;
                k = layers_read(nfd, &l, &nl);
                if (k == -ENOENT)
                        continue;
                if (k < 0) {
                        /* Unreadable: keep everything rather than guess. */
                        r = k;
                        break;
                }
                if (n + nl > alloc) {
                        size_t na = (n + nl) * 2 + 8;
                        struct overlay_use *nv = realloc(v, na * sizeof(*v));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                        alloc = na;
                }
                for (size_t i = 0; i < nl; i++) {
                        snprintf(v[n].instance, sizeof(v[n].instance), "%s", de->d_name);
                        v[n].layer = l[i];
                        n++;
                }
        }
        if (r >= 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static bool gen_in_use(const struct overlay_use *u, size_t n, const char *id, uint64_t g) {
        for (size_t i = 0; i < n; i++)
                if (u[i].layer.generation == g && streq(u[i].layer.id, id))
                        return true;
        return false;
}

/* ---- generations ------------------------------------------------------------------------------- */

/* overlays/.gen/ID, root's and 0755 (created if asked). */
int overlay_gen_dir_open(int overlays_fd, const char *id, bool create) {
        _cleanup_close_ int gfd = -1;

        if (create && mkdirat(overlays_fd, OVERLAY_GENS_DIR, 0755) < 0 && errno != EEXIST)
                return -errno;
        gfd = trusted_dir_open(overlays_fd, OVERLAY_GENS_DIR);
        if (gfd < 0 || !id)
                return gfd < 0 ? gfd : TAKE_FD(gfd);
        if (create && mkdirat(gfd, id, 0755) < 0 && errno != EEXIST)
                return -errno;
        return trusted_dir_open(gfd, id);
}

/* Calls fn for every generation directory below .gen/ID (open as fd). */
static int gens_foreach(int id_fd, int (*fn)(int id_fd, const char *name, uint64_t g, void *u), void *u) {
        int dfd = fcntl(id_fd, F_DUPFD_CLOEXEC, 3);
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return -errno;
        }
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                uint64_t g;
                if (parse_gen(de->d_name, &g))
                        r = fn(id_fd, de->d_name, g, u);
        }
        if (r >= 0 && errno)
                r = -errno;
        closedir(d);
        return r;
}

struct prepare_scan {
        const char *id;
        uint64_t current, max;
};

static int prepare_one(int id_fd, const char *name, uint64_t g, void *u) {
        struct prepare_scan *s = u;
        int r;

        if (g > s->max)
                s->max = g;
        if (g <= s->current)
                return 0;
        /* Above the current one: a build that never became current (hostd crashed, or a build
         * an earlier hostd lost is still writing: then this fails and the next build retries). */
        r = rm_rf_at(id_fd, name);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot remove overlays/" OVERLAY_GENS_DIR "/%s/%s, a build that never "
                                  "became current, ignoring: %m",
                                  s->id, name);
        else
                log_info("Removed overlays/" OVERLAY_GENS_DIR "/%s/%s, a build that never became current",
                         s->id, name);
        return 0;
}

int overlay_gen_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, uint64_t *ret_gen,
                        struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, idfd = -1, fd = -1;
        struct prepare_scan s = {.id = id};
        char name[24];
        int r;

        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "id: " NAME_MUST_MATCH);
        ofd = overlays_dir_open(rootfd, true);
        if (ofd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/: %s%s", strerror(-ofd),
                                     ofd == -EPERM ? " (must be root's and not writable by group or others)"
                                                   : "");
        r = overlay_current(ofd, id, &s.current);
        if (r == -ENOENT)
                s.current = 0;
        else if (r < 0)
                return rpc_error_set(e, RPC_CONFLICT, "overlays/%s is %s; delete it first", id,
                                     r == -EMEDIUMTYPE ? "a symlink hostd did not make" : "not a directory");
        idfd = overlay_gen_dir_open(ofd, id, true);
        if (idfd < 0)
                return rpc_error_set(
                        e, RPC_INTERNAL, "overlays/" OVERLAY_GENS_DIR "/%s: %s%s", id, strerror(-idfd),
                        idfd == -EPERM ? " (must be root's and not writable by group or others)" : "");
        s.max = s.current;
        r = gens_foreach(idfd, prepare_one, &s);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot list overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                     strerror(-r));
        if (s.max >= UINT64_MAX / 2)
                return rpc_error_set(e, RPC_INTERNAL, "overlay '%s' has run out of generation numbers", id);
        snprintf(name, sizeof(name), "%" PRIu64, s.max + 1);
        if (mkdirat(idfd, name, 0700) < 0)
                return rpc_error_set(e, RPC_INTERNAL,
                                     "cannot create overlays/" OVERLAY_GENS_DIR "/%s/%s: %s", id, name,
                                     strerror(errno));
        fd = dir_open_nofollow(idfd, name);
        if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, 0755) < 0) {
                r = fd < 0 ? fd : -errno;
                (void) unlinkat(idfd, name, AT_REMOVEDIR);
                return rpc_error_set(e, RPC_INTERNAL,
                                     "cannot hand overlays/" OVERLAY_GENS_DIR "/%s/%s to uid %u: %s", id,
                                     name, (unsigned) uid, strerror(-r));
        }
        *ret_gen = s.max + 1;
        return TAKE_FD(fd);
}

/* ---- filling a generation from the current one ------------------------------------------------- */

struct fill_ctx {
        dev_t dev;
        uid_t lease_uid, owner_uid;
        gid_t lease_gid, owner_gid;
        struct overlay_fill_stats *stats;
};

/* Whether a regular file may be shared with the new generation as a hardlink: it must be
 * one the build's lease can neither write nor re-mode (owned by left4me-build, not the lease,
 * no group or other write bit), and exactly what publishing leaves (no set-id or sticky
 * bit), so publishing the new generation keeps it as it is rather than copying it. An
 * operator's plain directory (generation 0) may hold anything else: copied. */
static bool fill_may_link(const struct fill_ctx *c, const struct stat *st) {
        return st->st_uid == c->owner_uid && st->st_gid == c->owner_gid && c->owner_uid != c->lease_uid &&
               (st->st_mode & (S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH)) == 0 &&
               (st->st_mode & S_IROTH);
}

static int fill_copy(int sfd, const struct stat *st, int dst, const char *name, const struct fill_ctx *c) {
        _cleanup_close_ int out = -1;
        int r = 0;

        out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return -errno;
        for (off_t left = st->st_size; left > 0;) {
                ssize_t k = copy_file_range(sfd, NULL, out, NULL, (size_t) MIN(left, (off_t) 1 << 30), 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break; /* shrank meanwhile (an operator's file): what is there */
                left -= k;
        }
        if (r >= 0 && (fchown(out, c->lease_uid, c->lease_gid) < 0 || fchmod(out, st->st_mode & 0755) < 0))
                r = -errno;
        if (r < 0)
                (void) unlinkat(dst, name, 0);
        return r;
}

static int fill_dir(int src, int dst, const struct fill_ctx *c, unsigned depth);

static int fill_one(int src, int dst, const char *name, const struct fill_ctx *c, unsigned depth) {
        _cleanup_close_ int sfd = -1, dfd = -1;
        struct stat st;
        char target[PATH_MAX];
        ssize_t n;
        int r;

        if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (st.st_dev != c->dev)
                return 0; /* another mount: not content */
        if (S_ISLNK(st.st_mode)) {
                n = readlinkat(src, name, target, sizeof(target) - 1);
                if (n < 0)
                        return -errno;
                target[n] = 0;
                if (symlinkat(target, dst, name) < 0 ||
                    fchownat(dst, name, c->lease_uid, c->lease_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                c->stats->symlinks++;
                return 0;
        }
        if (S_ISDIR(st.st_mode)) {
                if (depth >= PUBLISH_MAX_DEPTH)
                        return -ELOOP;
                sfd = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0)
                        return errno == ENOENT ? 0 : -errno;
                /* The build's own: it may add, remove and rename entries (never change an
                 * inherited file: those are left4me-build's). */
                if (mkdirat(dst, name, 0700) < 0)
                        return -errno;
                dfd = dir_open_nofollow(dst, name);
                if (dfd < 0)
                        return dfd;
                if (fchown(dfd, c->lease_uid, c->lease_gid) < 0 ||
                    fchmod(dfd, (st.st_mode & 0755) | S_IRWXU) < 0)
                        return -errno;
                c->stats->dirs++;
                r = fill_dir(TAKE_FD(sfd), dfd, c, depth + 1);
                return r;
        }
        if (!S_ISREG(st.st_mode))
                return 0; /* publishing removes FIFOs, sockets and devices anyway */
        sfd = openat(src, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(sfd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_dev != c->dev)
                return 0;
        /* By name (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH), never following a symlink,
         * then checked: what was linked is the inode we looked at, or it goes again. */
        if (fill_may_link(c, &st) && linkat(src, name, dst, name, 0) >= 0) {
                struct stat lst;
                if (fstatat(dst, name, &lst, AT_SYMLINK_NOFOLLOW) >= 0 && lst.st_ino == st.st_ino &&
                    lst.st_dev == st.st_dev) {
                        c->stats->linked++;
                        return 0;
                }
                if (unlinkat(dst, name, 0) < 0)
                        return -errno;
        }
        r = fill_copy(sfd, &st, dst, name, c);
        if (r < 0)
                return r;
        c->stats->copied++;
        return 0;
}

/* Takes ownership of src. */
static int fill_dir(int src, int dst, const struct fill_ctx *c, unsigned depth) {
        DIR *d = fdopendir(src);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = -errno;
                safe_close(src);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = fill_one(dirfd(d), dst, de->d_name, c, depth);
                if (r < 0)
                        break;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r;
}

int overlay_gen_fill(int rootfd, const char *id, int gen_fd, uid_t lease_uid, gid_t lease_gid,
                     uid_t owner_uid, gid_t owner_gid, struct overlay_fill_stats *ret_stats,
                     struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, idfd = -1, src = -1;
        struct fill_ctx c = {.lease_uid = lease_uid,
                             .lease_gid = lease_gid,
                             .owner_uid = owner_uid,
                             .owner_gid = owner_gid,
                             .stats = ret_stats};
        struct stat st;
        char name[24];
        uint64_t g = 0;
        int r;

        *ret_stats = (struct overlay_fill_stats){};
        ofd = overlays_dir_open(rootfd, false);
        if (ofd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/: %s", strerror(-ofd));
        r = overlay_current(ofd, id, &g);
        if (r == -ENOENT)
                return 0; /* the first build: "current" of nothing is empty */
        if (r < 0)
                return rpc_error_set(e, RPC_CONFLICT, "overlays/%s is not an overlay hostd can read", id);
        if (r == 0)
                src = dir_open_nofollow(ofd, id); /* an operator's plain directory, generation 0 */
        else {
                idfd = overlay_gen_dir_open(ofd, id, false);
                if (idfd < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                             strerror(-idfd));
                snprintf(name, sizeof(name), "%" PRIu64, g);
                src = dir_open_nofollow(idfd, name);
        }
        if (src < 0 || fstat(src, &st) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open generation %" PRIu64 " of '%s': %s", g,
                                     id, strerror(src < 0 ? -src : errno));
        c.dev = st.st_dev;
        ret_stats->generation = g;
        r = fill_dir(TAKE_FD(src), gen_fd, &c, 0);
        if (r < 0)
                return rpc_error_set(
                        e, RPC_INTERNAL, "cannot fill generation of '%s' from generation %" PRIu64 ": %s%s",
                        id, g, strerror(-r), r == -ELOOP ? " (nested deeper than 256 directories)" : "");
        return 1;
}

int overlay_gen_commit(int rootfd, const char *id, uint64_t gen, struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, idfd = -1;
        char target[PATH_MAX], tmp[NAME_LEN_MAX + 16];
        uint64_t cur = 0;
        int r, was;

        ofd = overlays_dir_open(rootfd, false);
        if (ofd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/: %s", strerror(-ofd));
        idfd = overlay_gen_dir_open(ofd, id, false);
        if (idfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                     strerror(-idfd));
        was = overlay_current(ofd, id, &cur);
        if (was < 0 && was != -ENOENT)
                return rpc_error_set(e, RPC_CONFLICT,
                                     "overlays/%s changed during the build (%s); not replaced", id,
                                     strerror(-was));
        snprintf(target, sizeof(target), OVERLAY_GENS_DIR "/%s/%" PRIu64, id, gen);
        snprintf(tmp, sizeof(tmp), ".%s.new", id);
        /* A directory there is a plain one an earlier commit exchanged out and crashed before
         * moving it to generation 0 (a server may still mount it): moved there now. */
        if (unlinkat(ofd, tmp, 0) < 0 && errno == EISDIR &&
            renameat2(ofd, tmp, idfd, "0", RENAME_NOREPLACE) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot move overlays/%s to generation 0: %s", tmp,
                                     strerror(errno));
        if (symlinkat(target, ofd, tmp) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot create overlays/%s: %s", tmp, strerror(errno));
        if (was == 0) {
                /* A plain directory: it becomes generation 0, where a server mounting it keeps
                 * it until it stops. */
                if (renameat2(ofd, tmp, ofd, id, RENAME_EXCHANGE) < 0) {
                        r = -errno;
                        (void) unlinkat(ofd, tmp, 0);
                        return rpc_error_set(e, RPC_INTERNAL, "cannot switch overlays/%s: %s", id,
                                             strerror(-r));
                }
                if (renameat2(ofd, tmp, idfd, "0", RENAME_NOREPLACE) < 0) {
                        log_warning_errno(-errno,
                                          "Cannot move the old overlays/%s to generation 0, "
                                          "removing it: %m",
                                          id);
                        (void) rm_rf_at(ofd, tmp);
                }
        } else if (renameat(ofd, tmp, ofd, id) < 0) {
                r = -errno;
                (void) unlinkat(ofd, tmp, 0);
                return rpc_error_set(e, RPC_INTERNAL, "cannot switch overlays/%s: %s", id, strerror(-r));
        }
        (void) fsync(ofd);
        r = overlay_gc(rootfd, id);
        if (r < 0)
                log_warning_errno(r, "Cannot collect old generations of overlay '%s', ignoring: %m", id);
        return 0;
}

void overlay_gen_discard(int rootfd, const char *id, uint64_t gen) {
        _cleanup_close_ int ofd = -1, idfd = -1;
        char name[24];
        int r;

        if (gen == 0)
                return; /* never a build's: an operator's directory */
        ofd = overlays_dir_open(rootfd, false);
        if (ofd >= 0)
                idfd = overlay_gen_dir_open(ofd, id, false);
        if (idfd < 0)
                return;
        snprintf(name, sizeof(name), "%" PRIu64, gen);
        r = rm_rf_at(idfd, name);
        if (r < 0)
                log_warning_errno(r, "Cannot remove overlays/" OVERLAY_GENS_DIR "/%s/%s, ignoring: %m", id,
                                  name);
}

struct gc_scan {
        const char *id;
        uint64_t current;
        const struct overlay_use *uses;
        size_t n_uses;
        int removed;
};

static int gc_one(int id_fd, const char *name, uint64_t g, void *u) {
        struct gc_scan *s = u;
        _cleanup_close_ int gen_fd = -1;
        int r;

        /* Above the current one is a build (running, or lost): overlay_gen_prepare's. */
        if (g >= s->current || gen_in_use(s->uses, s->n_uses, s->id, g))
                return 0;
        /* A folder download holds a shared lock on it (files_open): kept for a later collection.
         * Held exclusively while it goes, so no download starts on a half-removed tree. */
        gen_fd = dir_open_nofollow(id_fd, name);
        if (gen_fd >= 0 && flock(gen_fd, LOCK_EX | LOCK_NB) < 0) {
                log_info("Generation %s of overlay '%s' is being downloaded; kept for now", name, s->id);
                return 0;
        }
        r = rm_rf_at(id_fd, name);
        if (r < 0) {
                log_warning_errno(r, "Cannot remove generation %s of overlay '%s', ignoring: %m", name,
                                  s->id);
                return 0;
        }
        log_info("Removed generation %s of overlay '%s' (nothing mounts it)", name, s->id);
        s->removed++;
        return 0;
}

static int gc_id(int ofd, int gfd, const char *id, const struct overlay_use *uses, size_t n_uses) {
        _cleanup_close_ int idfd = -1;
        struct gc_scan s = {.id = id, .uses = uses, .n_uses = n_uses};
        int r;

        r = overlay_current(ofd, id, &s.current);
        if (r <= 0)
                return 0; /* no generations in use by name: a first build, or a delete's business */
        idfd = trusted_dir_open(gfd, id);
        if (idfd < 0)
                return idfd == -ENOENT ? 0 : idfd;
        r = gens_foreach(idfd, gc_one, &s);
        return r < 0 ? r : s.removed;
}

int overlay_gc(int rootfd, const char *id) {
        _cleanup_close_ int ofd = -1, gfd = -1;
        _cleanup_free_ struct overlay_use *uses = NULL;
        size_t n_uses = 0;
        int r, n = 0;

        ofd = overlays_dir_open(rootfd, false);
        if (ofd == -ENOENT)
                return 0;
        if (ofd < 0)
                return ofd;
        /* Exclusive: no mount is between resolving a generation and recording it. */
        r = overlays_lock(ofd, true);
        if (r < 0)
                return r;
        gfd = overlay_gen_dir_open(ofd, NULL, false);
        if (gfd == -ENOENT)
                return 0;
        if (gfd < 0)
                return gfd;
        r = overlay_uses(rootfd, &uses, &n_uses);
        if (r < 0)
                return r;
        if (id)
                return gc_id(ofd, gfd, id, uses, n_uses);
        {
                int dfd = fcntl(gfd, F_DUPFD_CLOEXEC, 3);
                struct dirent *de;
                DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;

                if (!d) {
                        safe_close(dfd);
                        return -errno;
                }
                while ((errno = 0, de = readdir(d)))
                        if (name_is_valid(de->d_name)) {
                                int k = gc_id(ofd, gfd, de->d_name, uses, n_uses);
                                if (k > 0)
                                        n += k;
                        }
                closedir(d);
        }
        return n;
}

/* ---- delete ------------------------------------------------------------------------------------ */

int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, ofd = -1, gfd = -1;
        _cleanup_free_ struct overlay_use *uses = NULL;
        size_t n_uses = 0;
        struct stat st;
        bool existed = false;
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
        r = overlays_lock(ofd, true);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot lock overlays/: %s", strerror(-r));
        r = overlay_uses(rootfd, &uses, &n_uses);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot tell which servers use overlay '%s': %s", id,
                                     strerror(-r));
        {
                char names[256] = "";
                size_t o = 0, k = 0;

                for (size_t i = 0; i < n_uses; i++) {
                        bool dup = false;
                        if (!streq(uses[i].layer.id, id))
                                continue;
                        for (size_t j = 0; j < i; j++)
                                dup = dup || (streq(uses[j].layer.id, id) &&
                                              streq(uses[j].instance, uses[i].instance));
                        if (dup)
                                continue;
                        if (o < sizeof(names))
                                o += (size_t) snprintf(names + o, sizeof(names) - o, "%s'%s'", k ? ", " : "",
                                                       uses[i].instance);
                        k++;
                }
                if (k > 0)
                        return rpc_error_set(e, RPC_CONFLICT,
                                             "overlay '%s' is mounted by %s %s; stop %s first (it keeps "
                                             "its generation until then)",
                                             id, k == 1 ? "server" : "servers", names,
                                             k == 1 ? "it" : "them");
        }
        if (fstatat(ofd, id, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                existed = true;
                r = S_ISLNK(st.st_mode) ? RET_NERRNO(unlinkat(ofd, id, 0)) : rm_rf_at(ofd, id);
                if (r < 0)
                        return rpc_error_set(e, r == -EBUSY ? RPC_CONFLICT : RPC_INTERNAL,
                                             "cannot remove overlays/%s: %s%s", id, strerror(-r),
                                             r == -EBUSY ? " (something is mounted inside)" : "");
        } else if (errno != ENOENT)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/%s: %s", id, strerror(errno));
        gfd = overlay_gen_dir_open(ofd, NULL, false);
        if (gfd >= 0 && fstatat(gfd, id, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                existed = true;
                r = rm_rf_at(gfd, id);
                if (r < 0)
                        return rpc_error_set(e, r == -EBUSY ? RPC_CONFLICT : RPC_INTERNAL,
                                             "cannot remove overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                             strerror(-r));
        }
        {
                char tmp[NAME_LEN_MAX + 16];
                snprintf(tmp, sizeof(tmp), ".%s.new", id);
                (void) rm_rf_at(ofd, tmp); /* a commit's leftover; nothing mounts it (checked above) */
        }
        *ret_existed = existed;
        return 0;
}

/* ---- list -------------------------------------------------------------------------------------- */

static int cmp_info(const void *a, const void *b) {
        return strcmp(((const struct overlay_info *) a)->id, ((const struct overlay_info *) b)->id);
}

#define SIZE_XATTR "trusted.left4me.bytes"

void overlay_gen_record_size(int gen_fd, uint64_t bytes) {
        char v[24];
        int n = snprintf(v, sizeof(v), "%" PRIu64, bytes);

        (void) fsetxattr(gen_fd, SIZE_XATTR, v, (size_t) n, 0);
}

/* The recorded size of the generation overlays/id points at, or UINT64_MAX. */
static uint64_t gen_recorded_size(int overlays_fd, const char *id) {
        _cleanup_close_ int fd = openat(overlays_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char v[24];
        ssize_t n;
        uint64_t bytes = 0;

        if (fd < 0)
                return UINT64_MAX;
        n = fgetxattr(fd, SIZE_XATTR, v, sizeof(v) - 1);
        if (n <= 0)
                return UINT64_MAX;
        v[n] = 0;
        for (ssize_t i = 0; i < n; i++) {
                if (v[i] < '0' || v[i] > '9' || bytes > (UINT64_MAX - 9) / 10)
                        return UINT64_MAX;
                bytes = bytes * 10 + (uint64_t) (v[i] - '0');
        }
        return bytes;
}

int overlay_list(int rootfd, struct overlay_info **ret, size_t *ret_n) {
        _cleanup_close_ int ofd = -1;
        _cleanup_free_ struct overlay_info *v = NULL;
        size_t n = 0, alloc = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        ofd = overlays_dir_open(rootfd, false);
        if (ofd == -ENOENT)
                return 0;
        if (ofd < 0)
                return ofd;
        d = fdopendir(ofd);
        if (!d)
                return -errno;
        ofd = -1;
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                struct stat st;
                uint64_t g;

                if (!overlay_ref_is_valid(de->d_name) || strchr(de->d_name, '/'))
                        continue;
                if (overlay_current(dirfd(d), de->d_name, &g) < 0 ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (n >= OVERLAYS_LIST_MAX) {
                        r = -E2BIG;
                        break;
                }
                if (n >= alloc) {
                        size_t na = alloc ? alloc * 2 : 16;
                        struct overlay_info *nv = realloc(v, na * sizeof(*v));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                        alloc = na;
                }
                snprintf(v[n].id, sizeof(v[n].id), "%s", de->d_name);
                v[n].generation = g;
                /* The link is made when the generation becomes current; a plain directory
                 * has only its own mtime. */
                v[n].built_usec =
                        (uint64_t) st.st_mtim.tv_sec * 1000000ULL + (uint64_t) st.st_mtim.tv_nsec / 1000;
                v[n].bytes = g > 0 ? gen_recorded_size(dirfd(d), de->d_name) : UINT64_MAX;
                n++;
        }
        if (r >= 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        if (n > 0)
                qsort(v, n, sizeof(*v), cmp_info);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}
