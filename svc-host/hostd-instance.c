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

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-instance.h"
#include "svc-host/hostd-overlay.h"

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

/* mkdirat that accepts an existing directory (not a symlink), then fixes owner and mode;
 * only_new: an existing one keeps its owner. */
static int mkdir_owned_ex(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, bool only_new) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        bool created = mkdirat(dirfd, name, mode) >= 0;

        if (!created && errno != EEXIST)
                return -errno;
        fd = dir_open_nofollow(dirfd, name);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((created || !only_new) && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return -errno;
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

static int mkdir_owned(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid) {
        return mkdir_owned_ex(dirfd, name, mode, uid, gid, false);
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
        /* upper belongs to the game (its writes land there): created as left4me-game, then
         * handed by the mount to the server's own dynamic user, which it keeps; work is the
         * kernel's; merged is the mount point (its attributes come from upper's root). */
        r = mkdir_owned_ex(fd, "upper", 0755, guid, ggid, true);
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

/* Where the instance methods start: a valid name, and the root's fd (or e filled, -errno). */
static int instance_open_root(const char *root, const char *name, struct rpc_error *e) {
        int fd;

        if (!name_is_valid(name))
                return rpc_error_set(e, RPC_INVALID, "name: " NAME_MUST_MATCH);
        fd = root_open(root);
        if (fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open root '%s': %s", root, strerror(-fd));
        return fd;
}

/* The other instance that holds port, if any: two servers on one port would have the second
 * fail to bind, or (UDP with SO_REUSEADDR in plugins) share its traffic. 1 and the name in
 * holder if taken, 0 if free, or a negative errno. */
static int port_holder(const char *root, const char *name, unsigned port, char *holder, size_t len) {
        _cleanup_strv_free_ char **names = NULL;
        int r = instance_list(root, &names);

        if (r < 0)
                return r;
        for (char **n = names; *n; n++) {
                struct instance_files f;
                if (streq(*n, name) || instance_inspect(root, *n, &f) < 0 || f.port != port)
                        continue;
                snprintf(holder, len, "%s", *n);
                return 1;
        }
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

        (void) game_user_ids(&guid, &ggid);
        rootfd = instance_open_root(root, name, e);
        if (rootfd < 0)
                return rootfd;
        {
                char holder[NAME_LEN_MAX + 1];
                r = port_holder(root, name, spec->port, holder, sizeof(holder));
                if (r < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "port: cannot read the other instances: %s",
                                             strerror(-r));
                if (r > 0)
                        return rpc_error_set(e, RPC_CONFLICT, "port: %u is taken by instance '%s'",
                                             spec->port, holder);
        }

        /* 1. Every overlay must exist below overlays/ after resolving symlinks. */
        ofds = calloc(spec->n_overlays + 1, sizeof(int));
        if (!ofds)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        for (size_t i = 0; i < spec->n_overlays; i++)
                ofds[i] = -1;
        if (spec->n_overlays > 0) {
                overlays_fd = overlays_dir_open(rootfd, false);
                if (overlays_fd < 0) {
                        r = rpc_error_set(e, overlays_fd == -ENOENT ? RPC_INVALID : RPC_INTERNAL,
                                          "overlays: cannot open %s/overlays: %s%s", root,
                                          strerror(-overlays_fd),
                                          overlays_fd == -EPERM
                                                  ? " (must be root's and not writable by group or others)"
                                                  : "");
                        goto finish;
                }
        }
        for (size_t i = 0; i < spec->n_overlays; i++) {
                const char *ref = spec->overlays[i].path;
                struct overlay_layer layer;
                int fd = overlay_ref_open(overlays_fd, ref, &layer);

                if (fd < 0) {
                        r = rpc_error_set(e, RPC_INVALID, "overlays[%zu]: '%s' %s", i, ref,
                                          fd == -ENOENT                  ? "does not exist in overlays/"
                                          : fd == -ENOTDIR               ? "is not a directory"
                                          : fd == -EXDEV || fd == -ELOOP ? "leads outside its overlay"
                                          : fd == -EINVAL                ? "is not an overlay ref (a name "
                                                                           "starting with '.' is hostd's)"
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

        rootfd = instance_open_root(root, name, e);
        if (rootfd < 0)
                return rootfd;

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

        rootfd = instance_open_root(root, name, e);
        if (rootfd < 0)
                return rootfd;
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

int instance_mount_error(const char *root, const char *name, uint64_t since_usec, char *buf, size_t len) {
        _cleanup_close_ int rootfd = -1, runtime_fd = -1, nfd = -1;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t n;
        int r;

        if (!name_is_valid(name) || len == 0)
                return -EINVAL;
        rootfd = root_open(root);
        if (rootfd < 0)
                return rootfd;
        runtime_fd = trusted_dir_open(rootfd, "runtime");
        if (runtime_fd < 0)
                return runtime_fd == -ENOENT ? 0 : runtime_fd;
        nfd = dir_open_nofollow(runtime_fd, name);
        if (nfd < 0)
                return nfd == -ENOENT ? 0 : nfd;
        if (fstatat(nfd, MOUNT_ERROR_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != 0)
                return 0; /* not one the mount helper (root) wrote */
        if ((uint64_t) st.st_mtim.tv_sec * 1000000ULL + (uint64_t) st.st_mtim.tv_nsec / 1000 < since_usec)
                return 0;
        r = read_file_at(nfd, MOUNT_ERROR_FILE, 4096, &text, &n);
        if (r < 0)
                return r;
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
                n--;
        snprintf(buf, len, "%.*s", (int) n, text);
        return 1;
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
