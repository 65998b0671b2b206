/* Safe file system primitives below directory fds. See hostd-fs.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-fs.h"

/* openat2()'s resolution done by hand, one component at a time, for when the syscall is
 * missing or filtered (ENOSYS: an old kernel, or a seccomp filter that predates it). Every
 * component is opened O_NOFOLLOW relative to the previous one; a symlink is refused
 * (RESOLVE_NO_SYMLINKS) or expanded in place if relative, and ".." never climbs above
 * dirfd (RESOLVE_BENEATH); absolute symlinks are refused (-EXDEV), as openat2 does. */
#define FALLBACK_MAX_DEPTH 64
static int openat2_fallback(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve) {
        int stack[FALLBACK_MAX_DEPTH];
        unsigned depth = 0, links = 0;
        _cleanup_free_ char *todo = NULL;
        char *p;
        int r;

        if (path[0] == '/')
                return -EXDEV;
        todo = strdup(path);
        if (!todo)
                return -ENOMEM;
        stack[0] = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (stack[0] < 0)
                return -errno;
        p = todo;
        for (;;) {
                char *slash, *name;
                struct stat st;
                bool last;

                while (*p == '/')
                        p++;
                name = p;
                slash = strchr(p, '/');
                if (slash) {
                        *slash = 0;
                        p = slash + 1;
                        while (*p == '/')
                                p++;
                } else
                        p += strlen(p);
                last = *p == 0;

                if (streq(name, "") || streq(name, ".")) {
                        if (last) {
                                r = openat(stack[depth], ".", flags | O_CLOEXEC, mode);
                                r = r < 0 ? -errno : r;
                                goto finish;
                        }
                        continue;
                }
                if (streq(name, "..")) {
                        if (depth == 0) {
                                r = -EXDEV;
                                goto finish;
                        }
                        safe_close(stack[depth--]);
                        if (last) {
                                r = openat(stack[depth], ".", flags | O_CLOEXEC, mode);
                                r = r < 0 ? -errno : r;
                                goto finish;
                        }
                        continue;
                }
                if (fstatat(stack[depth], name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n;
                        char *rest;

                        if ((resolve & RESOLVE_NO_SYMLINKS) || ++links > 40) {
                                r = -ELOOP;
                                goto finish;
                        }
                        n = readlinkat(stack[depth], name, target, sizeof(target) - 1);
                        if (n < 0) {
                                r = -errno;
                                goto finish;
                        }
                        target[n] = 0;
                        if (target[0] == '/') {
                                r = -EXDEV;
                                goto finish;
                        }
                        if (asprintf(&rest, "%s/%s", target, p) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        free(todo);
                        todo = rest;
                        p = todo;
                        continue;
                }
                if (last) {
                        r = openat(stack[depth], name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
                        r = r < 0 ? -errno : r;
                        goto finish;
                }
                if (depth + 1 >= FALLBACK_MAX_DEPTH) {
                        r = -ELOOP;
                        goto finish;
                }
                r = openat(stack[depth], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (r < 0) {
                        r = errno == ELOOP ? -ELOOP : -errno;
                        goto finish;
                }
                stack[++depth] = r;
        }
finish:
        for (unsigned i = 0; i <= depth; i++)
                safe_close(stack[i]);
        return r;
}

static bool no_openat2 = false;

void openat2_force_fallback(bool b) {
        no_openat2 = b;
}

int openat2_fd(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = resolve,
        };

        if (!no_openat2)
                for (unsigned i = 0; i < 16; i++) {
                        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
                        if (fd >= 0)
                                return (int) fd;
                        if (errno == ENOSYS) {
                                no_openat2 = true;
                                break;
                        }
                        if (errno != EAGAIN)
                                return -errno;
                }
        if (!no_openat2)
                return -EAGAIN;
        return openat2_fallback(dirfd, path, flags, (flags & (O_CREAT | O_TMPFILE)) ? mode : 0, resolve);
}

int dir_open_nofollow(int dirfd, const char *path) {
        return openat2_fd(dirfd, path, O_RDONLY | O_DIRECTORY, 0, RESOLVE_SAFE | RESOLVE_NO_SYMLINKS);
}

/* A directory root may rely on: root's, and nobody else may rename or add entries in it. An
 * ancestor may be world-writable if sticky (/tmp): others cannot rename root's entries there. */
static bool dir_is_trusted(const struct stat *st, bool ancestor) {
        if (st->st_uid != 0)
                return false;
        if (!(st->st_mode & 022))
                return true;
        return ancestor && (st->st_mode & S_ISVTX);
}

int root_open(const char *root) {
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int fd = -1;
        size_t at = 1;
        struct stat st;

        /* PID 1 resolves the units' EnvironmentFile= and BindPaths= below root as strings, so
         * every directory on the way must be one only root can change: walked from / one
         * component at a time, no symlink followed. */
        if (!root || root[0] != '/')
                return -EINVAL;
        copy = strdup(root);
        if (!copy)
                return -ENOMEM;
        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (;;) {
                char *name, *end;
                bool last;
                int next;

                while (copy[at] == '/')
                        at++;
                last = copy[at] == 0;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (!dir_is_trusted(&st, !last)) {
                        log_error("'%.*s'%s%s must be owned by root and not writable by group or others "
                                  "(owner %u, mode %04o); refusing to use it",
                                  last     ? (int) strlen(root)
                                  : at > 1 ? (int) at - 1
                                           : 1,
                                  root, last ? "" : ", on the way to ", last ? "" : root,
                                  (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
                        return -EPERM;
                }
                if (last)
                        break;
                name = copy + at;
                end = strchr(name, '/');
                if (end)
                        *end = 0;
                next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        int r = -errno;
                        if ((r == -ENOTDIR || r == -ELOOP) &&
                            fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
                                r = -ELOOP;
                        if (r == -ELOOP || r == -ENOTDIR)
                                log_error("'%s': '%s' is %s; paths.root must be a path of directories "
                                          "(PID 1 would follow what hostd does not)",
                                          root, name, r == -ELOOP ? "a symlink" : "not a directory");
                        return r;
                }
                safe_close(fd);
                fd = next;
                at += strlen(name);
                if (end)
                        *end = '/';
        }
        return TAKE_FD(fd);
}

int trusted_dir_open(int rootfd, const char *name) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = dir_open_nofollow(rootfd, name);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_uid != 0 || (st.st_mode & 022)) {
                log_error("'%s' below the root must be owned by root and not group/other-writable "
                          "(owner %u, mode %04o); refusing to use it",
                          name, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        return TAKE_FD(fd);
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = openat2_fd(dirfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0,
                        RESOLVE_SAFE | RESOLVE_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                size_t cap = (size_t) st.st_size;
                ssize_t n;

                if (len == cap) {
                        /* The file may have grown since fstat: check there is nothing more. */
                        char c;
                        n = read(fd, &c, 1);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        if (n > 0)
                                return -EFBIG;
                        break;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
                  gid_t gid) {
        _cleanup_close_ int fd = -1;
        char tmp[NAME_MAX + 1];
        int r;

        if (strchr(name, '/') || strlen(name) > NAME_MAX - 16)
                return -EINVAL;
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        (void) unlinkat(dirfd, tmp, 0); /* a leftover (or a planted symlink: unlinked, not followed) */
        fd = openat2_fd(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 07777,
                        RESOLVE_SAFE | RESOLVE_NO_SYMLINKS);
        if (fd < 0)
                return fd;
        r = loop_write(fd, data, len);
        if (r >= 0 && (uid != (uid_t) -1 || gid != (gid_t) -1))
                r = RET_NERRNO(fchown(fd, uid, gid));
        if (r >= 0)
                r = RET_NERRNO(fchmod(fd, mode & 07777)); /* umask and fchown may have changed it */
        if (r >= 0)
                r = RET_NERRNO(fsync(fd));
        if (r >= 0)
                r = RET_NERRNO(renameat(dirfd, tmp, dirfd, name));
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

int is_mount_root_at(int dirfd, const char *path) {
        struct statx sx;

        if (statx(dirfd, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &sx) < 0)
                return -errno;
        if (!(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
                return -EOPNOTSUPP;
        return !!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Removal without recursion and without a depth limit an attacker could exceed: a build or
 * a game can nest directories as deep as the file system allows, and delete, reset and
 * overlay.delete must remove whatever they made. The walk keeps at most RM_MAX_OPEN
 * directories open; a directory found deeper than that is renamed up into the top of the
 * tree being removed (the same file system, below root-owned dirs nobody else writes, and
 * its owner is stopped) and the top is scanned again, so every entry is visited a bounded
 * number of times and no fd or stack frame grows with the depth. */
struct rm_level {
        DIR *d;
        char name[NAME_MAX + 1]; /* this level's name in the level above */
};

static int rm_level_open(int parent_fd, const char *name, struct rm_level *ret) {
        _cleanup_close_ int fd = -1;
        int r = is_mount_root_at(parent_fd, name);

        if (r > 0)
                return -EBUSY;
        fd = openat2_fd(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
                        RESOLVE_SAFE | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
        if (fd < 0)
                return fd;
        ret->d = fdopendir(fd);
        if (!ret->d)
                return -errno;
        TAKE_FD(fd);
        snprintf(ret->name, sizeof(ret->name), "%s", name);
        return 0;
}

/* Empties the directory open as levels[0]. */
static int rm_tree_contents(struct rm_level *levels) {
        unsigned depth = 0, hoisted = 0;
        bool again;
        int r = 0;

        do {
                again = false;
                rewinddir(levels[0].d);
                while (r >= 0) {
                        struct rm_level *cur = &levels[depth];
                        struct dirent *de;
                        struct stat st;
                        int fd = dirfd(cur->d);

                        errno = 0;
                        de = readdir(cur->d);
                        if (!de) {
                                if (errno != 0) {
                                        r = -errno;
                                        break;
                                }
                                if (depth == 0)
                                        break;
                                /* This level is empty: remove it from the one above. */
                                closedir(cur->d);
                                cur->d = NULL;
                                depth--;
                                if (unlinkat(dirfd(levels[depth].d), cur->name, AT_REMOVEDIR) < 0 &&
                                    errno != ENOENT)
                                        r = -errno;
                                continue;
                        }
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno != ENOENT)
                                        r = -errno;
                                continue;
                        }
                        if (!S_ISDIR(st.st_mode)) {
                                if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT)
                                        r = -errno;
                                continue;
                        }
                        if (depth + 1 < RM_MAX_OPEN) {
                                r = rm_level_open(fd, de->d_name, &levels[depth + 1]);
                                if (r == -ENOENT)
                                        r = 0;
                                else if (r >= 0)
                                        depth++;
                                continue;
                        }
                        /* Too deep to open: move it up to the top, to be walked from there. */
                        for (;;) {
                                char up[64];
                                snprintf(up, sizeof(up), ".left4me-rm-%u", hoisted++);
                                if (renameat2(fd, de->d_name, dirfd(levels[0].d), up, RENAME_NOREPLACE) >= 0)
                                        break;
                                if (errno != EEXIST) {
                                        r = -errno;
                                        break;
                                }
                        }
                        again = true;
                }
        } while (r >= 0 && again);
        for (unsigned i = 1; i <= depth; i++)
                if (levels[i].d)
                        closedir(levels[i].d);
        return r;
}

static int rm_rf_one(int dirfd, const char *name) {
        struct rm_level levels[RM_MAX_OPEN] = {};
        struct stat st;
        int r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        return -errno;
                return 0;
        }
        r = rm_level_open(dirfd, name, &levels[0]);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = rm_tree_contents(levels);
        closedir(levels[0].d);
        if (r < 0)
                return r;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static bool uid_in(uid_t u, const uid_t *set, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (set[i] == u)
                        return true;
        return false;
}

static int chown_children(int fd, dev_t dev, const uid_t *from, size_t n_from, uid_t uid, gid_t gid,
                          unsigned depth) {
        DIR *d;
        struct dirent *de;
        int dfd, n = 0, r = 0;

        if (depth >= CHOWN_MAX_DEPTH)
                return -ELOOP;
        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return -errno;
        }
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT)
                                r = -errno;
                        continue;
                }
                if (st.st_dev != dev)
                        continue;
                if (uid_in(st.st_uid, from, n_from) && (st.st_uid != uid || st.st_gid != gid)) {
                        if (fchownat(fd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
                                r = -errno;
                                continue;
                        }
                        n++;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int cfd =
                                openat2_fd(fd, de->d_name, O_RDONLY | O_DIRECTORY, 0,
                                           RESOLVE_SAFE | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
                        if (cfd == -ENOENT)
                                continue;
                        if (cfd < 0) {
                                r = cfd;
                                continue;
                        }
                        int k = chown_children(cfd, dev, from, n_from, uid, gid, depth + 1);
                        if (k < 0)
                                r = k;
                        else
                                n += k;
                }
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r < 0 ? r : n;
}

int chown_tree_at(int dirfd, const char *name, const uid_t *from, size_t n_from, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = openat2_fd(dirfd, name, O_RDONLY | O_DIRECTORY, 0,
                                            RESOLVE_SAFE | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
        struct stat st;
        int n;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        n = chown_children(fd, st.st_dev, from, n_from, uid, gid, 0);
        if (n < 0)
                return n;
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return -errno;
        return n + 1;
}

int rm_rf_at(int dirfd, const char *name) {
        return rm_rf_one(dirfd, name);
}
