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

int overlay_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, const uid_t *from, size_t n_from,
                    struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, fd = -1;
        struct stat st;
        int r;

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
        /* The whole tree: a rebuild changes and removes what the last build left, which the
         * publish handed to the fixed owner (or, if it failed half-way, another lease still
         * owns). Never a symlink's target, never into another mount, nobody else's entries. */
        r = chown_tree_at(ofd, id, from, n_from, uid, gid); /* the dir itself whoever owns it */
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot hand overlays/%s to uid %u: %s%s", id,
                                     (unsigned) uid, strerror(-r),
                                     r == -ELOOP ? " (nested too deep; delete the overlay)" : "");
        if ((st.st_mode & 07777) != 0755 && fchmod(fd, 0755) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot chmod overlays/%s: %s", id, strerror(errno));
        return TAKE_FD(fd);
}

/* Publishing recurses; a build that nests deeper fails to publish (ELOOP) rather than
 * exhaust hostd's stack or fds. Removing such a tree still works (rm_rf_at has no limit). */
#define PUBLISH_MAX_DEPTH 256u

struct publish_owner {
        uid_t uid;
        gid_t gid;
};

static int publish_children(int dirfd, dev_t dev, const struct publish_owner *o, unsigned depth);

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
        want = st.st_mode & 0755;
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
