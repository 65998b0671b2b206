/* overlayfs mount/umount of one instance. See hostd-mount.h.
 *
 * The mount is made from file descriptors: every layer is opened O_PATH beneath its
 * allowlisted root, the process changes into /proc/self/fd, and the option string names
 * the layers by fd number ("lowerdir=5:6:7,upperdir=8,workdir=9"). So what is mounted is
 * exactly what was validated (no path is looked up twice), and 500 layers fit in the one
 * page mount(2) accepts for options. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-firewall.h"
#include "svc-host/hostd-instance.h"
#include "svc-host/hostd-mount.h"
#include "svc-host/hostd-overlay.h"
#include "proto/spec.h"

static const char *const allowed_roots[] = {"installation", "overlays", "workshop_cache"};
#define ROOT_OVERLAYS 1 /* allowed_roots[ROOT_OVERLAYS] */

/* Enters PID 1's mount namespace when we are in another one (a unit with a private
 * namespace), so that the mount is the host's. */
static int enter_host_mount_ns(void) {
        _cleanup_close_ int fd = -1;
        struct stat a, b;

        if (stat("/proc/self/ns/mnt", &a) < 0 || stat("/proc/1/ns/mnt", &b) < 0)
                return 0; /* cannot tell (no /proc/1): stay */
        if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return 0;
        fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "Cannot open PID 1's mount namespace: %m");
        if (setns(fd, CLONE_NEWNS) < 0)
                return log_error_errno(-errno, "Cannot enter PID 1's mount namespace: %m");
        log_debug("Entered PID 1's mount namespace");
        return 0;
}

/* Opens one L4D2_LOWERDIRS entry beneath its allowlisted root. The installation is the last
 * layer, itself and nothing below it; an overlay or workshop item is a directory below its
 * root, never the root (which would stack every tenant's overlays). An overlay ref resolves to
 * its current generation (hostd-overlay.h), recorded in *layer (layer->id[0] stays 0 for
 * the other roots). -EPERM otherwise. */
static int open_lowerdir(const char *root, const int allow_fds[], const char *path, bool last,
                         struct overlay_layer *layer) {
        size_t rl = strlen(root);

        layer->id[0] = 0;
        if (path[0] != '/' || strncmp(path, root, rl) != 0 || path[rl] != '/')
                return -EPERM;
        for (size_t i = 0; i < ELEMENTSOF(allowed_roots); i++) {
                const char *rest = path + rl + 1;
                size_t al = strlen(allowed_roots[i]);

                bool is_install = streq(allowed_roots[i], "installation");

                if (strncmp(rest, allowed_roots[i], al) != 0)
                        continue;
                if (rest[al] == 0 && is_install && last)
                        rest = ".";
                else if (rest[al] == '/' && rest[al + 1] && !is_install && !last)
                        rest += al + 1;
                else if (rest[al] == 0 || rest[al] == '/')
                        return -EPERM;
                else
                        continue;
                if (allow_fds[i] < 0)
                        return allow_fds[i] == -EPERM ? -EPERM : -ENOENT;
                if (streq(allowed_roots[i], "overlays")) {
                        /* Not a ref (a '.' name is hostd's own, .gen among them): no layer. */
                        if (!overlay_ref_is_valid(rest))
                                return -EPERM;
                        return overlay_ref_open(allow_fds[i], rest, layer);
                }
                return openat2_fd(allow_fds[i], rest, O_PATH | O_DIRECTORY, 0,
                                  RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
        }
        return -EPERM;
}

/* Hands runtime/NAME/upper to the server's own user, l4m-NAME: systemd allocated it (a
 * dynamic user, resolved through nss-systemd) before this ExecStartPre ran, from a hash of
 * the name, so it is usually the uid of the last run and nothing changes. When it is not (a
 * collision, or the first start), the game's files move over with it. */
static int upper_to_server_user(int runtime_fd, const char *name) {
        char user[SERVER_NAME_LEN_MAX + sizeof(SERVER_USER_PREFIX)];
        struct passwd *pw;
        struct stat st;
        int r;

        r = server_user_name(name, user, sizeof(user));
        if (r < 0)
                return log_error_errno(r, "'%s' is too long for a server's user name (" SERVER_NAME_MUST ")",
                                       name);
        errno = 0;
        pw = getpwnam(user);
        if (!pw) {
                /* Outside the unit (an admin mounting by hand) the dynamic user does not exist:
                 * upper keeps its owner, and the next start hands it over. In the unit it always
                 * exists, unless nss-systemd is missing, which the game's start then shows. */
                log_warning("No user %s (the server is not running, or /etc/nsswitch.conf lacks "
                            "systemd for passwd): runtime/%s/upper keeps its owner",
                            user, name);
                return 0;
        }
        if (pw->pw_uid == 0)
                return log_error_errno(-EPERM, "User %s is root; refusing to hand it runtime/%s/upper", user,
                                       name);
        if (fstatat(runtime_fd, "upper", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return log_error_errno(-errno, "Cannot stat runtime/%s/upper: %m", name);
        if (st.st_uid == pw->pw_uid && st.st_gid == pw->pw_gid)
                return 0;
        r = chown_tree_at(runtime_fd, "upper", &st.st_uid, 1, pw->pw_uid, pw->pw_gid);
        if (r < 0)
                return log_error_errno(r, "Cannot hand runtime/%s/upper to %s (uid %u)%s: %m", name, user,
                                       (unsigned) pw->pw_uid,
                                       r == -ELOOP ? ", it nests too deep; reset the server" : "");
        log_info("Handed runtime/%s/upper (%d entries) to %s (uid %u)", name, r, user,
                 (unsigned) pw->pw_uid);
        return 0;
}

/* Copies instances/NAME/{server.cfg,server_*.cfg} into upper/left4dead2/cfg/ (owned by root,
 * readable by the game), and removes server_*.cfg files there that the instance no longer
 * has. Done before the mount: writing to an upper dir under a live mount is undefined. The
 * upper dir belongs to the game, so nothing below it is followed if it is a symlink. */
static int stage_cfgs(int instance_fd, int runtime_fd, const char *name) {
        _cleanup_close_ int upper_fd = -1, l4d2_fd = -1, cfg_fd = -1, ifd2 = -1;
        uid_t guid;
        gid_t ggid;
        DIR *d;
        struct dirent *de;
        int r = 0;

        upper_fd = dir_open_nofollow(runtime_fd, "upper");
        if (upper_fd < 0)
                return log_error_errno(upper_fd, "Cannot open runtime/%s/upper: %m", name);
        /* The dirs it makes belong to whoever owns upper: the server's own user by now. */
        {
                struct stat ust;
                if (fstat(upper_fd, &ust) < 0)
                        return log_error_errno(-errno, "Cannot stat runtime/%s/upper: %m", name);
                guid = ust.st_uid;
                ggid = ust.st_gid;
        }
        if (mkdirat(upper_fd, "left4dead2", 0755) >= 0)
                (void) fchownat(upper_fd, "left4dead2", guid, ggid, AT_SYMLINK_NOFOLLOW);
        l4d2_fd = dir_open_nofollow(upper_fd, "left4dead2");
        if (l4d2_fd < 0)
                return log_error_errno(l4d2_fd, "Cannot open runtime/%s/upper/left4dead2 (a symlink?): %m",
                                       name);
        if (mkdirat(l4d2_fd, "cfg", 0755) >= 0)
                (void) fchownat(l4d2_fd, "cfg", guid, ggid, AT_SYMLINK_NOFOLLOW);
        cfg_fd = dir_open_nofollow(l4d2_fd, "cfg");
        if (cfg_fd < 0)
                return log_error_errno(cfg_fd,
                                       "Cannot open runtime/%s/upper/left4dead2/cfg (a symlink?): %m", name);

        /* Stale aliases first. */
        {
                int dfd = fcntl(cfg_fd, F_DUPFD_CLOEXEC, 3);
                DIR *cd = dfd >= 0 ? fdopendir(dfd) : NULL;

                if (!cd) {
                        safe_close(dfd);
                        return log_error_errno(-errno, "Cannot list runtime/%s/upper/left4dead2/cfg: %m",
                                               name);
                }
                while ((de = readdir(cd))) {
                        size_t l = strlen(de->d_name);
                        if (l < 11 || strncmp(de->d_name, "server_", 7) != 0 ||
                            !streq(de->d_name + l - 4, ".cfg"))
                                continue;
                        if (faccessat(instance_fd, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                                continue;
                        if (unlinkat(cfg_fd, de->d_name, 0) < 0 && errno != ENOENT && errno != EISDIR)
                                log_warning_errno(-errno, "Cannot remove stale %s, ignoring: %m",
                                                  de->d_name);
                }
                closedir(cd);
        }

        ifd2 = fcntl(instance_fd, F_DUPFD_CLOEXEC, 3);
        if (ifd2 < 0)
                return -errno;
        d = fdopendir(ifd2);
        if (!d)
                return -errno;
        ifd2 = -1;
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *data = NULL;
                size_t len = 0, l = strlen(de->d_name);

                if (!streq(de->d_name, "server.cfg") &&
                    (l < 11 || strncmp(de->d_name, "server_", 7) != 0 || !streq(de->d_name + l - 4, ".cfg")))
                        continue;
                r = read_file_at(instance_fd, de->d_name, FILE_MAX_BYTES, &data, &len);
                if (r < 0) {
                        log_error_errno(r, "Cannot read instances/%s/%s: %m", name, de->d_name);
                        break;
                }
                r = write_file_at(cfg_fd, de->d_name, data, len, 0640, 0, ggid);
                if (r < 0) {
                        log_error_errno(r, "Cannot write runtime/%s/upper/left4dead2/cfg/%s: %m", name,
                                        de->d_name);
                        break;
                }
        }
        closedir(d);
        return r < 0 ? r : 0;
}

/* Leaves the reason of a failed mount in runtime/NAME/mount-error: the failure happens in
 * the unit's ExecStartPre=, so hostd, waiting for the start job, learns only "failed"; with
 * this it can tell its caller why (and stop the unit instead of letting it retry). */
static void record_mount_error(int runtime_fd, const char *name, const char *why, int r) {
        char buf[600];
        uid_t guid;
        gid_t ggid;
        int n;

        (void) game_user_ids(&guid, &ggid);
        if (why)
                n = snprintf(buf, sizeof(buf), "%s\n", why);
        else
                n = snprintf(buf, sizeof(buf), "cannot mount the overlay of '%s': %s\n", name, strerror(-r));
        if (n > 0 &&
            write_file_at(runtime_fd, MOUNT_ERROR_FILE, buf, strnlen(buf, sizeof(buf)), 0640, 0, ggid) < 0)
                log_warning("Cannot record the mount error in runtime/%s/%s", name, MOUNT_ERROR_FILE);
}

/* What mount and umount start with: check the name (and, to mount, that root can stand in an
 * overlayfs option string), enter the host's mount namespace, open root. Returns root's fd, or
 * < 0 (logged). */
static int subcommand_open_root(const char *root, const char *name, bool plain_root) {
        int r, fd;

        if (!name_is_valid(name))
                return log_error_errno(-EINVAL, "Invalid instance name '%s'", name);
        if (plain_root && !spec_root_is_valid(root))
                return log_error_errno(-EINVAL, "paths.root '%s' is not usable", root);
        r = enter_host_mount_ns();
        if (r < 0)
                return r;
        fd = root_open(root);
        if (fd < 0)
                return log_error_errno(fd, "Cannot open '%s': %m", root);
        return fd;
}

int hostd_mount(const char *root, const char *name) {
        _cleanup_close_ int rootfd = -1, instances_fd = -1, instance_fd = -1, runtime_fd = -1;
        _cleanup_close_ int upper_fd = -1, work_fd = -1, merged_fd = -1, cwd_fd = -1;
        _cleanup_strv_free_ char **lower = NULL;
        _cleanup_free_ char *env = NULL, *opts = NULL;
        _cleanup_free_ int *lfds = NULL;
        _cleanup_free_ struct overlay_layer *layers = NULL;
        size_t n_layers = 0;
        int allow_fds[ELEMENTSOF(allowed_roots)] = {-1, -1, -1};
        struct rpc_error e = {};
        size_t n, len, optlen;
        char target[32], why[512] = "";
        int r;

        rootfd = subcommand_open_root(root, name, true);
        if (rootfd < 0)
                return rootfd;
        instances_fd = trusted_dir_open(rootfd, "instances");
        if (instances_fd < 0)
                return log_error_errno(instances_fd, "Cannot open %s/instances: %m", root);
        instance_fd = dir_open_nofollow(instances_fd, name);
        if (instance_fd < 0)
                return log_error_errno(instance_fd, "Instance '%s' is not initialized (instances/%s): %m",
                                       name, name);
        r = read_file_at(instance_fd, "instance.env", FILE_MAX_BYTES, &env, &len);
        if (r < 0)
                return log_error_errno(r, "Cannot read instances/%s/instance.env: %m", name);
        r = env_parse_lowerdirs(env, len, &lower);
        if (r == -ENOENT)
                return log_error_errno(r, "instances/%s/instance.env has no L4D2_LOWERDIRS", name);
        if (r == -E2BIG)
                return log_error_errno(r, "L4D2_LOWERDIRS of '%s' has more than %u entries", name,
                                       SPEC_MAX_LAYERS);
        if (r < 0)
                return log_error_errno(r, "L4D2_LOWERDIRS of '%s' is empty or has an empty entry", name);

        runtime_fd = runtime_ensure(rootfd, name, &e);
        if (runtime_fd < 0)
                return log_error_errno(runtime_fd, "%s", e.message);
        /* A reason left by an earlier attempt is not this attempt's. */
        (void) unlinkat(runtime_fd, MOUNT_ERROR_FILE, 0);
        r = is_mount_root_at(runtime_fd, "merged");
        if (r < 0)
                return log_error_errno(r, "Cannot check runtime/%s/merged: %m", name);
        if (r > 0) {
                log_info("runtime/%s/merged is already mounted", name);
                return 0;
        }

        /* The upper dir first: the lock below is held only from resolving the layers to the
         * mount, not while a first start hands a big upper dir to the server's user. */
        r = upper_to_server_user(runtime_fd, name);
        if (r < 0)
                goto finish;
        r = stage_cfgs(instance_fd, runtime_fd, name);
        if (r < 0)
                goto finish;
        /* overlays/ must be root's (a service user could otherwise swap what a ref resolves
         * in); the installation and workshop_cache are content, owned by their writers. */
        for (size_t i = 0; i < ELEMENTSOF(allowed_roots); i++)
                allow_fds[i] = streq(allowed_roots[i], "overlays")
                                       ? overlays_dir_open(rootfd, false)
                                       : dir_open_nofollow(rootfd, allowed_roots[i]);
        if (allow_fds[ROOT_OVERLAYS] == -EPERM)
                log_error("%s/overlays must be root's and not writable by group or others", root);
        /* Shared: no generation this mount resolves is collected before it is recorded. */
        if (allow_fds[ROOT_OVERLAYS] >= 0) {
                r = overlays_lock(allow_fds[ROOT_OVERLAYS], false);
                if (r < 0) {
                        log_error_errno(r, "Cannot lock %s/overlays: %m", root);
                        goto finish;
                }
        }
        n = strv_length(lower);
        lfds = calloc(n, sizeof(int));
        layers = calloc(n, sizeof(*layers));
        if (!lfds || !layers) {
                r = log_error_errno(-ENOMEM, "Out of memory");
                goto finish;
        }
        for (size_t i = 0; i < n; i++)
                lfds[i] = -1;
        for (size_t i = 0; i < n; i++) {
                lfds[i] = open_lowerdir(root, allow_fds, lower[i], i == n - 1, &layers[n_layers]);
                if (lfds[i] >= 0 && layers[n_layers].id[0])
                        n_layers++;
                if (lfds[i] == -EPERM) {
                        r = log_error_errno(-EPERM,
                                            "Lower dir %zu of %zu, '%s', is not a directory below "
                                            "%s/{overlays,workshop_cache} (or, last, %s/installation "
                                            "itself); refusing to mount",
                                            i + 1, n, lower[i], root, root);
                        goto finish;
                }
                if (lfds[i] < 0) {
                        r = log_error_errno(lfds[i], "Lower dir '%s' cannot be used (%s): %m", lower[i],
                                            lfds[i] == -EXDEV || lfds[i] == -ELOOP
                                                    ? "leads outside its root"
                                                    : "missing or not a directory");
                        goto finish;
                }
        }

        upper_fd = openat2_fd(runtime_fd, "upper", O_PATH | O_DIRECTORY, 0,
                              RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        work_fd = openat2_fd(runtime_fd, "work", O_PATH | O_DIRECTORY, 0,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        merged_fd = openat2_fd(runtime_fd, "merged", O_PATH | O_DIRECTORY, 0,
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (upper_fd < 0 || work_fd < 0 || merged_fd < 0) {
                r = log_error_errno(upper_fd < 0  ? upper_fd
                                    : work_fd < 0 ? work_fd
                                                  : merged_fd,
                                    "Cannot open runtime/%s/{upper,work,merged}: %m", name);
                goto finish;
        }

        optlen = 64 + n * 12;
        opts = malloc(optlen);
        if (!opts) {
                r = log_error_errno(-ENOMEM, "Out of memory");
                goto finish;
        }
        {
                size_t o = 0;
                o += (size_t) snprintf(opts + o, optlen - o, "lowerdir=");
                for (size_t i = 0; i < n; i++)
                        o += (size_t) snprintf(opts + o, optlen - o, "%s%d", i ? ":" : "", lfds[i]);
                o += (size_t) snprintf(opts + o, optlen - o, ",upperdir=%d,workdir=%d", upper_fd, work_fd);
                if (o >= optlen || o >= (size_t) sysconf(_SC_PAGESIZE)) {
                        r = log_error_errno(-E2BIG, "Overlay options too long (%zu bytes)", o);
                        goto finish;
                }
        }
        snprintf(target, sizeof(target), "%d", merged_fd);

        /* Before the mount, under the lock: what this mount stacks is never collected. */
        r = layers_write(runtime_fd, layers, n_layers);
        if (r < 0) {
                log_error_errno(r, "Cannot record the layers in runtime/%s/" OVERLAY_LAYERS_FILE ": %m",
                                name);
                goto finish;
        }

        cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (chdir("/proc/self/fd") < 0) {
                r = log_error_errno(-errno, "Cannot change into /proc/self/fd: %m");
                goto finish;
        }
        r = RET_NERRNO(mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, opts));
        if (cwd_fd >= 0)
                (void) fchdir(cwd_fd);
        else
                (void) chdir("/");
        if (r < 0) {
                struct statfs sfs;

                if (fstatfs(runtime_fd, &sfs) >= 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC) {
                        snprintf(why, sizeof(why),
                                 "runtime/%s is on an overlayfs, which cannot hold an overlay's upper dir; "
                                 "put %s/runtime on ext4, xfs, btrfs or a tmpfs instead",
                                 name, root);
                        log_error("%s", why);
                }
                log_error_errno(r, "Cannot mount the overlay of '%s' (%zu lower dirs): %m", name, n);
                goto finish;
        }
        if (is_mount_root_at(runtime_fd, "merged") <= 0) {
                r = log_error_errno(-EIO, "runtime/%s/merged is not a mount point after mounting", name);
                goto finish;
        }
        log_info("Mounted runtime/%s/merged: %zu overlay(s) over the installation", name, n - 1);
        r = 0;

finish:
        for (size_t i = 0; lfds && i < n; i++)
                safe_close(lfds[i]);
        for (size_t i = 0; i < ELEMENTSOF(allowed_roots); i++)
                safe_close(allow_fds[i]);
        if (r < 0 && runtime_fd >= 0) {
                (void) unlinkat(runtime_fd, OVERLAY_LAYERS_FILE, 0);
                record_mount_error(runtime_fd, name, why[0] ? why : NULL, r);
        }
        return r;
}

int hostd_umount(const char *root, const char *name) {
        _cleanup_close_ int rootfd = -1, runtime_fd = -1, nfd = -1, work_fd = -1;
        char path[64];
        int r;

        rootfd = subcommand_open_root(root, name, false);
        if (rootfd < 0)
                return rootfd;
        runtime_fd = trusted_dir_open(rootfd, "runtime");
        if (runtime_fd == -ENOENT)
                return 0;
        if (runtime_fd < 0)
                return log_error_errno(runtime_fd, "Cannot open %s/runtime: %m", root);
        nfd = dir_open_nofollow(runtime_fd, name);
        if (nfd == -ENOENT)
                return 0;
        if (nfd < 0)
                return log_error_errno(nfd, "Cannot open runtime/%s: %m", name);

        snprintf(path, sizeof(path), "/proc/self/fd/%d/merged", nfd);
        for (unsigned tries = 0; (r = is_mount_root_at(nfd, "merged")) > 0; tries++) {
                if (umount2(path, UMOUNT_NOFOLLOW) >= 0) {
                        log_info("Unmounted runtime/%s/merged", name);
                        continue;
                }
                if (errno == EINVAL) /* not a mount point after all */
                        break;
                if (errno != EBUSY || tries >= 50)
                        return log_error_errno(-errno, "Cannot unmount runtime/%s/merged: %m", name);
                if (tries == 49) {
                        log_warning("runtime/%s/merged stays busy; detaching it lazily", name);
                        if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) >= 0)
                                continue;
                }
                nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot check runtime/%s/merged: %m", name);

        /* The kernel leaves work/work behind, owned by root with mode 000. */
        work_fd = dir_open_nofollow(nfd, "work");
        if (work_fd >= 0) {
                r = rm_rf_at(work_fd, "work");
                if (r < 0)
                        return log_error_errno(r, "Cannot remove runtime/%s/work/work: %m", name);
                (void) rm_rf_at(work_fd, "index");
        }
        /* What it stacked is free now: collect the generations nothing else mounts. */
        (void) unlinkat(nfd, OVERLAY_LAYERS_FILE, 0);
        r = overlay_gc(rootfd, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot collect unused overlay generations, ignoring: %m");
        return 0;
}

int hostd_subcommand(int argc, char **argv, const struct l4m_config *cfg) {
        bool m;

        /* daemon_main() passes the arguments after its options, the subcommand first; accept a
         * leading program name too (as daemon.h describes it). */
        if (argc >= 1 && !streq(argv[0], "mount") && !streq(argv[0], "umount") &&
            !streq(argv[0], "firewall")) {
                argc--;
                argv++;
        }
        if (argc >= 1 && streq(argv[0], "firewall")) {
                if (argc != 1) {
                        log_error("Usage: left4me-hostd firewall");
                        return -EINVAL;
                }
                return hostd_firewall(cfg->port_start, cfg->port_end);
        }
        if (argc < 1 || !(streq(argv[0], "mount") || streq(argv[0], "umount"))) {
                log_error("Unknown command '%s' (see --help)", argc >= 1 ? argv[0] : "");
                return -ENOTSUP;
        }
        m = streq(argv[0], "mount");
        if (argc != 2) {
                log_error("Usage: left4me-hostd %s NAME", argv[0]);
                return -EINVAL;
        }
        return m ? hostd_mount(cfg->root, argv[1]) : hostd_umount(cfg->root, argv[1]);
}
