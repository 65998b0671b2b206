/* The build users' pool. See hostd-pool.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-host/hostd-pool.h"

static int lookup_nss(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
        struct passwd *pw;

        errno = 0;
        pw = getpwnam(name);
        if (!pw)
                return errno > 0 && errno != ENOENT && errno != ESRCH ? -errno : -ENOENT;
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return 0;
}

static bool is_cgroup2(const char *path) {
        struct statfs fs;

        return statfs(path, &fs) >= 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* The unified hierarchy systemd keeps its units in: /sys/fs/cgroup, or, on a hybrid setup
 * (the e2e container), /sys/fs/cgroup/unified. */
static const char *cgroup_root(struct build_pool *p) {
        if (!p->cgroup_root) {
                if (is_cgroup2("/sys/fs/cgroup"))
                        p->cgroup_root = "/sys/fs/cgroup";
                else if (is_cgroup2("/sys/fs/cgroup/unified"))
                        p->cgroup_root = "/sys/fs/cgroup/unified";
        }
        return p->cgroup_root;
}

int cgroup_is_populated(const char *root, const char *path) {
        char fn[512], buf[256];
        _cleanup_close_ int fd = -1;
        ssize_t n;

        if ((size_t) snprintf(fn, sizeof(fn), "%s/%s/cgroup.events", root, path) >= sizeof(fn))
                return -ENAMETOOLONG;
        fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        /* "populated 1": a process in this cgroup or one below it. */
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, "populated ", 10) == 0)
                        return l[10] == '1';
        return -EBADMSG;
}

static int user_of(struct build_pool *p, unsigned k, struct build_lease *l) {
        *l = (struct build_lease){.index = k};
        snprintf(l->user, sizeof(l->user), L4M_BUILD_USER_PREFIX "%u", k);
        snprintf(l->slice, sizeof(l->slice), BUILD_POOL_SLICE_FMT, k);
        return (p->lookup ?: lookup_nss)(l->user, &l->uid, &l->gid);
}

int build_pool_take(struct build_pool *p, struct build_lease *ret) {
        const char *root = cgroup_root(p);
        bool any_user = false;
        int err = 0;

        if (!root)
                return -EOPNOTSUPP;
        for (unsigned i = 0; i < L4M_BUILD_USERS; i++) {
                unsigned k = (p->next + i) % L4M_BUILD_USERS;
                struct build_lease l;
                char path[128];
                int r;

                if (p->held[k]) {
                        any_user = true;
                        continue;
                }
                r = user_of(p, k, &l);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        err = r;
                        continue;
                }
                any_user = true;
                if (l.uid == 0 || l.gid == 0) {
                        err = -EPERM; /* a pool user that is root would be no sandbox at all */
                        continue;
                }
                snprintf(path, sizeof(path), BUILD_POOL_CGROUP "/%s", l.slice);
                r = cgroup_is_populated(root, path);
                if (r < 0) {
                        err = r; /* cannot tell: not free */
                        continue;
                }
                if (r > 0)
                        continue; /* an earlier hostd's build, still there */
                p->held[k] = true;
                p->next = (k + 1) % L4M_BUILD_USERS;
                *ret = l;
                return 0;
        }
        if (!any_user)
                return err ?: -ENOENT;
        return err == -EPERM ? err : -EBUSY;
}

void build_pool_give(struct build_pool *p, const struct build_lease *l) {
        if (l->index < L4M_BUILD_USERS)
                p->held[l->index] = false;
}

size_t build_pool_uids(struct build_pool *p, uid_t *uids, size_t n) {
        size_t m = 0;

        for (unsigned k = 0; k < L4M_BUILD_USERS && m < n; k++) {
                struct build_lease l;

                if (user_of(p, k, &l) >= 0)
                        uids[m++] = l.uid;
        }
        return m;
}
