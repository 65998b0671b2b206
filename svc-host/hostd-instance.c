/* Instance files below fixed directory fds. See hostd-instance.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "svc-host/hostd-instance.h"

#define RESOLVE_SAFE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

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

int root_open(const char *root) {
        return RET_NERRNO(open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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

static int rm_rf_children(int fd, unsigned depth);

static int rm_rf_one(int dirfd, const char *name, unsigned depth) {
        struct stat st;
        int r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int fd = -1;

                if (depth >= RM_MAX_DEPTH)
                        return -ELOOP;
                r = is_mount_root_at(dirfd, name);
                if (r > 0)
                        return -EBUSY;
                fd = openat2_fd(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
                                RESOLVE_SAFE | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
                if (fd == -ENOENT)
                        return 0;
                if (fd < 0)
                        return fd;
                r = rm_rf_children(fd, depth + 1);
                if (r < 0)
                        return r;
                if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return -errno;
                return 0;
        }
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int rm_rf_children(int fd, unsigned depth) {
        DIR *d;
        struct dirent *de;
        int dfd, r = 0;

        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return -errno;
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = rm_rf_one(fd, de->d_name, depth);
                if (r < 0)
                        break;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r;
}

int rm_rf_at(int dirfd, const char *name) {
        return rm_rf_one(dirfd, name, 0);
}

bool game_user_ids(uid_t *ret_uid, gid_t *ret_gid) {
        struct passwd *pw = getpwnam(GAME_USER);

        if (!pw) {
                *ret_uid = 0;
                *ret_gid = 0;
                return false;
        }
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return true;
}

/* mkdirat that accepts an existing directory (not a symlink), then fixes owner and mode. */
static int mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
                return -errno;
        fd = dir_open_nofollow(dirfd, name);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return -errno;
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

int runtime_ensure(int rootfd, const char *name, struct rpc_error *e) {
        _cleanup_close_ int runtime_fd = -1, fd = -1;
        uid_t guid;
        gid_t ggid;
        int r;

        (void) game_user_ids(&guid, &ggid);
        runtime_fd = trusted_dir_open(rootfd, "runtime");
        if (runtime_fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open runtime/: %s", strerror(-runtime_fd));
        r = mkdir_owned(runtime_fd, name, 0750, 0, ggid);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot create runtime/%s: %s", name, strerror(-r));
        fd = dir_open_nofollow(runtime_fd, name);
        if (fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open runtime/%s: %s", name, strerror(-fd));
        /* upper belongs to the game (its writes land there); work is the kernel's; merged is
         * the mount point (its attributes come from upper's root once mounted). */
        r = mkdir_owned(fd, "upper", 0755, guid, ggid);
        if (r >= 0)
                r = mkdir_owned(fd, "work", 0700, 0, 0);
        if (r >= 0 && is_mount_root_at(fd, "merged") <= 0)
                r = mkdir_owned(fd, "merged", 0755, 0, 0);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot create runtime/%s/{upper,work,merged}: %s",
                                     name, strerror(-r));
        return TAKE_FD(fd);
}

/* Copies <overlay>/left4dead2/cfg/server.cfg (if any; else an empty file) to dir/server_<alias>.cfg. */
static int copy_alias_cfg(int overlay_fd, int dirfd, const char *ref, const char *alias, gid_t ggid,
                          struct rpc_error *e) {
        _cleanup_free_ char *data = NULL;
        char fname[NAME_MAX + 1];
        size_t len = 0;
        int r;

        r = read_file_at(overlay_fd, "left4dead2/cfg/server.cfg", FILE_MAX_BYTES, &data, &len);
        if (r == -ENOENT)
                len = 0;
        else if (r < 0)
                return rpc_error_set(e, RPC_INVALID, "overlays: '%s/left4dead2/cfg/server.cfg': %s", ref,
                                     r == -EFBIG                  ? "larger than 1 MiB"
                                     : r == -EBADFD               ? "not a regular file"
                                     : r == -ELOOP || r == -EXDEV ? "is a symlink"
                                                                  : strerror(-r));
        snprintf(fname, sizeof(fname), "server_%s.cfg", alias);
        r = write_file_at(dirfd, fname, data ?: "", len, 0640, 0, ggid);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot write %s: %s", fname, strerror(-r));
        return 0;
}

int instance_initialize(const char *root, const char *name, const char *spec_text, size_t spec_len,
                        const struct instance_spec *spec, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, overlays_fd = -1, instances_fd = -1, stage_fd = -1, rfd = -1;
        _cleanup_free_ char *env = NULL, *cfg = NULL;
        _cleanup_free_ int *ofds = NULL;
        char stage[NAME_LEN_MAX + 16];
        uid_t guid;
        gid_t ggid;
        int r;

        if (!name_is_valid(name))
                return rpc_error_set(e, RPC_INVALID, "name: " NAME_MUST_MATCH);
        (void) game_user_ids(&guid, &ggid);

        rootfd = root_open(root);
        if (rootfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open root '%s': %s", root, strerror(-rootfd));

        /* 1. Every overlay must exist below overlays/ after resolving symlinks. */
        ofds = calloc(spec->n_overlays + 1, sizeof(int));
        if (!ofds)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        for (size_t i = 0; i < spec->n_overlays; i++)
                ofds[i] = -1;
        if (spec->n_overlays > 0) {
                overlays_fd = dir_open_nofollow(rootfd, "overlays");
                if (overlays_fd < 0) {
                        r = rpc_error_set(e, overlays_fd == -ENOENT ? RPC_INVALID : RPC_INTERNAL,
                                          "overlays: cannot open %s/overlays: %s", root,
                                          strerror(-overlays_fd));
                        goto finish;
                }
        }
        for (size_t i = 0; i < spec->n_overlays; i++) {
                const char *ref = spec->overlays[i].path;
                int fd = openat2_fd(overlays_fd, ref, O_PATH | O_DIRECTORY, 0, RESOLVE_SAFE);

                if (fd < 0) {
                        r = rpc_error_set(e, RPC_INVALID, "overlays[%zu]: '%s' %s", i, ref,
                                          fd == -ENOENT                  ? "does not exist in overlays/"
                                          : fd == -ENOTDIR               ? "is not a directory"
                                          : fd == -EXDEV || fd == -ELOOP ? "leads outside overlays/"
                                                                         : strerror(-fd));
                        goto finish;
                }
                ofds[i] = fd;
        }

        /* 2. Render. */
        r = spec_render_env(spec, root, &env);
        if (r >= 0)
                r = spec_render_server_cfg(spec, &cfg);
        if (r < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "out of memory");
                goto finish;
        }

        /* 3. Write a new directory next to the old one, then swap it in. */
        instances_fd = trusted_dir_open(rootfd, "instances");
        if (instances_fd < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot open %s/instances: %s", root,
                                  strerror(-instances_fd));
                goto finish;
        }
        snprintf(stage, sizeof(stage), ".%s.new", name);
        r = rm_rf_at(instances_fd, stage);
        if (r >= 0)
                r = mkdir_owned(instances_fd, stage, 0750, 0, ggid);
        if (r >= 0) {
                stage_fd = dir_open_nofollow(instances_fd, stage);
                r = stage_fd < 0 ? stage_fd : 0;
        }
        if (r >= 0)
                r = write_file_at(stage_fd, "spec.yaml", spec_text, spec_len, 0640, 0, ggid);
        if (r >= 0)
                r = write_file_at(stage_fd, "instance.env", env, strlen(env), 0640, 0, ggid);
        if (r >= 0)
                r = write_file_at(stage_fd, "server.cfg", cfg, strlen(cfg), 0640, 0, ggid);
        if (r < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot write instances/%s: %s", name, strerror(-r));
                goto fail_stage;
        }
        for (size_t i = 0; i < spec->n_overlays; i++) {
                if (!spec->overlays[i].alias)
                        continue;
                r = copy_alias_cfg(ofds[i], stage_fd, spec->overlays[i].path, spec->overlays[i].alias, ggid,
                                   e);
                if (r < 0)
                        goto fail_stage;
        }
        if (fsync(stage_fd) < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot sync instances/%s: %m", name);
                goto fail_stage;
        }

        if (renameat2(instances_fd, stage, instances_fd, name, RENAME_NOREPLACE) < 0) {
                if (errno != EEXIST) {
                        r = rpc_error_set(e, RPC_INTERNAL, "cannot rename into instances/%s: %m", name);
                        goto fail_stage;
                }
                /* Replace atomically: a unit starting now reads the old or the new file set. */
                if (renameat2(instances_fd, stage, instances_fd, name, RENAME_EXCHANGE) < 0) {
                        r = rpc_error_set(e, RPC_INTERNAL, "cannot replace instances/%s: %m", name);
                        goto fail_stage;
                }
                r = rm_rf_at(instances_fd, stage);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove the old instances/%s, ignoring: %m", stage);
        }
        (void) fsync(instances_fd);

        /* 4. The runtime dirs. */
        rfd = runtime_ensure(rootfd, name, e);
        r = rfd < 0 ? rfd : 0;
        goto finish;

fail_stage:
        (void) rm_rf_at(instances_fd, stage);
finish:
        for (size_t i = 0; i < spec->n_overlays; i++)
                safe_close(ofds[i]);
        return r;
}

int instance_remove(const char *root, const char *name, bool *ret_existed, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, runtime_fd = -1, instances_fd = -1, nfd = -1;
        bool existed = false;
        int r;

        if (!name_is_valid(name))
                return rpc_error_set(e, RPC_INVALID, "name: " NAME_MUST_MATCH);
        rootfd = root_open(root);
        if (rootfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open root '%s': %s", root, strerror(-rootfd));

        runtime_fd = trusted_dir_open(rootfd, "runtime");
        if (runtime_fd < 0 && runtime_fd != -ENOENT)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open runtime/: %s", strerror(-runtime_fd));
        if (runtime_fd >= 0) {
                nfd = dir_open_nofollow(runtime_fd, name);
                if (nfd >= 0) {
                        existed = true;
                        if (is_mount_root_at(nfd, "merged") > 0)
                                return rpc_error_set(
                                        e, RPC_CONFLICT,
                                        "runtime/%s/merged is still mounted (is the server running?)", name);
                }
                r = rm_rf_at(runtime_fd, name);
                if (r < 0)
                        return rpc_error_set(e, r == -EBUSY ? RPC_CONFLICT : RPC_INTERNAL,
                                             "cannot remove runtime/%s: %s", name, strerror(-r));
        }

        instances_fd = trusted_dir_open(rootfd, "instances");
        if (instances_fd < 0 && instances_fd != -ENOENT)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open instances/: %s", strerror(-instances_fd));
        if (instances_fd >= 0) {
                char stage[NAME_LEN_MAX + 16];

                if (faccessat(instances_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                        existed = true;
                r = rm_rf_at(instances_fd, name);
                if (r < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "cannot remove instances/%s: %s", name,
                                             strerror(-r));
                snprintf(stage, sizeof(stage), ".%s.new", name);
                (void) rm_rf_at(instances_fd, stage);
        }
        if (ret_existed)
                *ret_existed = existed;
        return 0;
}

int instance_read_spec(const char *root, const char *name, char **ret, size_t *ret_len,
                       struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, instances_fd = -1, nfd = -1;
        int r;

        if (!name_is_valid(name))
                return rpc_error_set(e, RPC_INVALID, "name: " NAME_MUST_MATCH);
        rootfd = root_open(root);
        if (rootfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open root '%s': %s", root, strerror(-rootfd));
        instances_fd = trusted_dir_open(rootfd, "instances");
        if (instances_fd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "instance '%s' is not initialized", name);
        if (instances_fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open instances/: %s", strerror(-instances_fd));
        nfd = dir_open_nofollow(instances_fd, name);
        if (nfd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "instance '%s' is not initialized", name);
        if (nfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open instances/%s: %s", name, strerror(-nfd));
        r = read_file_at(nfd, "spec.yaml", SPEC_MAX_BYTES, ret, ret_len);
        if (r == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "instance '%s' has no spec.yaml", name);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot read instances/%s/spec.yaml: %s", name,
                                     r == -EFBIG    ? "larger than 1 MiB"
                                     : r == -EBADFD ? "not a regular file"
                                     : r == -ELOOP  ? "is a symlink"
                                                    : strerror(-r));
        return 0;
}

int instance_inspect(const char *root, const char *name, struct instance_files *ret) {
        _cleanup_close_ int rootfd = -1, dfd = -1, nfd = -1;
        struct instance_files f = {};

        if (!name_is_valid(name))
                return -EINVAL;
        rootfd = root_open(root);
        if (rootfd < 0)
                return rootfd;
        dfd = trusted_dir_open(rootfd, "instances");
        if (dfd >= 0) {
                nfd = dir_open_nofollow(dfd, name);
                if (nfd >= 0) {
                        _cleanup_free_ char *env = NULL;
                        size_t len;

                        f.initialized = true;
                        if (read_file_at(nfd, "instance.env", FILE_MAX_BYTES, &env, &len) >= 0)
                                (void) env_parse_port(env, len, &f.port);
                }
        }
        dfd = safe_close(dfd);
        nfd = safe_close(nfd);
        dfd = trusted_dir_open(rootfd, "runtime");
        if (dfd >= 0) {
                nfd = dir_open_nofollow(dfd, name);
                if (nfd >= 0) {
                        f.runtime = true;
                        f.mounted = is_mount_root_at(nfd, "merged") > 0;
                }
        }
        *ret = f;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int instance_list(const char *root, char ***ret) {
        _cleanup_close_ int rootfd = -1, dfd = -1;
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0, alloc = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        rootfd = root_open(root);
        if (rootfd < 0)
                return rootfd;
        dfd = trusted_dir_open(rootfd, "instances");
        if (dfd == -ENOENT) {
                v = calloc(1, sizeof(char *));
                if (!v)
                        return -ENOMEM;
                *ret = TAKE_PTR(v);
                return 0;
        }
        if (dfd < 0)
                return dfd;
        d = fdopendir(dfd);
        if (!d)
                return -errno;
        dfd = -1; /* owned by d now */
        v = calloc(1, sizeof(char *));
        if (!v) {
                closedir(d);
                return -ENOMEM;
        }
        while ((errno = 0, de = readdir(d))) {
                if (!name_is_valid(de->d_name))
                        continue;
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (n >= 100000) {
                        r = -E2BIG;
                        break;
                }
                if (n + 2 > alloc) {
                        size_t na = alloc ? alloc * 2 : 16;
                        char **nv = realloc(v, na * sizeof(char *));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                        alloc = na;
                }
                v[n] = strdup(de->d_name);
                if (!v[n]) {
                        r = -ENOMEM;
                        break;
                }
                v[++n] = NULL;
        }
        if (r >= 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = TAKE_PTR(v);
        return 0;
}
