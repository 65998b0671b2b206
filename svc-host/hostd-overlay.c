/* Overlay directories: prepared before a build, published after it, removed on delete.
 * See hostd-overlay.h. */
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
#include "proto/names.h"
#include "svc-host/hostd-fs.h"
#include "svc-host/hostd-overlay.h"
#include "svc-host/hostd-sandbox.h"

/* ---- the overlay dir --------------------------------------------------------------------------- */

static int overlays_dir_open(int rootfd, bool create) {
        int fd;

        fd = trusted_dir_open(rootfd, "overlays");
        if (fd == -ENOENT && create) {
                if (mkdirat(rootfd, "overlays", 0755) < 0 && errno != EEXIST)
                        return -errno;
                fd = trusted_dir_open(rootfd, "overlays");
        }
        return fd;
}

int overlay_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, fd = -1;
        struct stat st;

        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "id: " NAME_MUST_MATCH);
        ofd = overlays_dir_open(rootfd, true);
        if (ofd < 0)
                return rpc_error_set(
                        e, ofd == -EPERM ? RPC_INTERNAL : RPC_INTERNAL, "overlays/: %s%s", strerror(-ofd),
                        ofd == -EPERM ? " (must be root's and not writable by group or others)" : "");
        if (mkdirat(ofd, id, 0755) < 0 && errno != EEXIST)
                return rpc_error_set(e, RPC_INTERNAL, "cannot create overlays/%s: %s", id, strerror(errno));
        fd = dir_open_nofollow(ofd, id);
        if (fd < 0)
                return rpc_error_set(e, fd == -ELOOP || fd == -ENOTDIR ? RPC_CONFLICT : RPC_INTERNAL,
                                     "overlays/%s: %s%s", id, strerror(-fd),
                                     fd == -ELOOP || fd == -ENOTDIR ? " (not a directory; delete it first)"
                                                                    : "");
        if (fstat(fd, &st) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/%s: %s", id, strerror(errno));
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot hand overlays/%s to %s: %s", id, BUILD_USER,
                                     strerror(errno));
        if ((st.st_mode & 07777) != 0755 && fchmod(fd, 0755) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot chmod overlays/%s: %s", id, strerror(errno));
        return TAKE_FD(fd);
}

/* Publishing recurses; a build that nests deeper fails to publish (ELOOP) rather than
 * exhaust hostd's stack or fds. Removing such a tree still works (rm_rf_at has no limit). */
#define PUBLISH_MAX_DEPTH 256u

static int publish_children(int dirfd, dev_t dev, unsigned depth);

static int publish_one(int dirfd, const char *name, dev_t dev, unsigned depth) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        mode_t want;
        int n = 0, r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return 0; /* symlinks, FIFOs, sockets, devices: left alone */
        if (st.st_dev != dev)
                return 0; /* another mount: not ours */
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
        want = st.st_mode & 07777 & ~(mode_t) (S_ISUID | S_ISGID);
        want |= S_IROTH;
        if (S_ISDIR(st.st_mode) || (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
                want |= S_IXOTH;
        if (S_ISDIR(st.st_mode))
                want |= S_IRUSR | S_IXUSR; /* so the owner can still walk what we publish */
        if (want != (st.st_mode & 07777)) {
                if (fchmod(fd, want) < 0)
                        return -errno;
                n++;
        }
        if (S_ISDIR(st.st_mode)) {
                if (depth >= PUBLISH_MAX_DEPTH)
                        return -ELOOP;
                r = publish_children(fd, dev, depth + 1);
                if (r < 0)
                        return r;
                n += r;
                TAKE_FD(fd); /* publish_children took it */
        }
        return n;
}

/* Takes ownership of fd. */
static int publish_children(int fd, dev_t dev, unsigned depth) {
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
                r = publish_one(dirfd(d), de->d_name, dev, depth);
                if (r < 0)
                        break;
                n += r;
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r < 0 ? r : n;
}

int overlay_publish(int dirfd) {
        struct stat st;
        int fd;

        if (fstat(dirfd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_mode & 07777) != 0755 && fchmod(dirfd, 0755) < 0)
                return -errno;
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return publish_children(fd, st.st_dev, 0);
}

int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e) {
        _cleanup_close_ int rootfd = -1, ofd = -1;
        struct stat st;
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
        if (fstatat(ofd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return rpc_error_set(e, RPC_INTERNAL, "overlays/%s: %s", id, strerror(errno));
        }
        *ret_existed = true;
        r = rm_rf_at(ofd, id);
        if (r < 0)
                return rpc_error_set(e, r == -EBUSY ? RPC_CONFLICT : RPC_INTERNAL,
                                     "cannot remove overlays/%s: %s%s", id, strerror(-r),
                                     r == -EBUSY ? " (something is mounted inside)" : "");
        return 0;
}
