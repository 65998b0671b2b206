/* File operations on one overlay and the read-only view of a server's merged tree. See
 * hostd-files.h and docs/host.md, "File operations". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon/daemon.h"
#include "proto/args.h"
#include "proto/map.h"
#include "proto/names.h"
#include "proto/server.h"
#include "proto/spec.h"
#include "proto/utf8.h"
#include "svc-host/hostd-files.h"
#include "svc-host/hostd-fs.h"
#include "svc-host/hostd-overlay.h"
#include "svc-host/hostd-sandbox.h"
#include "svc-host/hostd.h"

/* No symlink is followed anywhere on a path a caller names: a link planted in an overlay (by
 * a build, or an operator) is listed, never gone through. */
#define RESOLVE_NOLINKS (RESOLVE_SAFE | RESOLVE_NO_SYMLINKS)

/* ---- paths ------------------------------------------------------------------------------------ */

int files_path_check(const char *field, const char *path, bool allow_root, struct rpc_error *e) {
        size_t len, comp = 0;

        if (!path)
                return rpc_error_set(e, RPC_INVALID, "%s: missing", field);
        len = strnlen(path, FILES_PATH_MAX + 1);
        if (len > FILES_PATH_MAX)
                return rpc_error_set(e, RPC_INVALID, "%s: longer than %u bytes", field, FILES_PATH_MAX);
        if (len == 0) {
                if (allow_root)
                        return 0;
                return rpc_error_set(e, RPC_INVALID, "%s: the overlay's root cannot be used here", field);
        }
        if (path[0] == '/')
                return rpc_error_set(e, RPC_INVALID, "%s: '%s' must be relative (no leading '/')", field,
                                     path);
        for (size_t i = 0; i <= len; i++) {
                size_t n;

                if (i < len && path[i] != '/')
                        continue;
                n = i - comp;
                if (n == 0)
                        return rpc_error_set(e, RPC_INVALID,
                                             "%s: '%s' has an empty name (a '//' or a trailing '/')", field,
                                             path);
                if ((n == 1 && path[comp] == '.') || (n == 2 && path[comp] == '.' && path[comp + 1] == '.'))
                        return rpc_error_set(e, RPC_INVALID, "%s: '%s' may not contain '.' or '..'", field,
                                             path);
                if (n > FILES_NAME_MAX)
                        return rpc_error_set(e, RPC_INVALID, "%s: a name in it is longer than %u bytes",
                                             field, FILES_NAME_MAX);
                comp = i + 1;
        }
        return 0;
}

static int name_check(const char *field, const char *name, struct rpc_error *e) {
        int r = files_path_check(field, name, false, e);

        if (r >= 0 && strchr(name, '/'))
                return rpc_error_set(e, RPC_INVALID, "%s: '%s' must be a name, without '/'", field, name);
        return r;
}

/* Splits path into its folder ("" for the root) and its last name. */
static void path_split(const char *path, char *dir, size_t dir_size, const char **ret_name) {
        const char *slash = strrchr(path, '/');

        if (!slash) {
                dir[0] = 0;
                *ret_name = path;
                return;
        }
        snprintf(dir, dir_size, "%.*s", (int) (slash - path), path);
        *ret_name = slash + 1;
}

/* What went wrong resolving path, said for a person. */
static int resolve_error(struct rpc_error *e, int r, const char *path) {
        const char *p = path[0] ? path : "/";

        switch (r) {
        case -ENOENT:
                return rpc_error_set(e, RPC_NOT_FOUND, "'%s' does not exist", p);
        case -ELOOP:
                return rpc_error_set(e, RPC_INVALID,
                                     "'%s' is or goes through a symlink; symlinks are not followed", p);
        case -EXDEV:
                return rpc_error_set(e, RPC_INVALID, "'%s' leads out of the tree; refused", p);
        case -ENOTDIR:
                return rpc_error_set(e, RPC_INVALID, "'%s' goes through something that is not a folder", p);
        case -ENAMETOOLONG:
                return rpc_error_set(e, RPC_INVALID, "'%s' is too long", p);
        default:
                return rpc_error_set(e, RPC_INTERNAL, "cannot open '%s': %s", p, strerror(-r));
        }
}

/* Opens path ("" = the tree itself) beneath base, no symlink followed. */
static int open_beneath(int base, const char *path, int flags, uint64_t extra) {
        return openat2_fd(base, path[0] ? path : ".", flags, 0, RESOLVE_NOLINKS | extra);
}

/* ---- listings ----------------------------------------------------------------------------------- */

const char *file_type_to_string(enum file_type t) {
        static const char *const names[] = {"file", "dir", "symlink", "other", "deleted"};
        return (unsigned) t < ELEMENTSOF(names) ? names[t] : "other";
}

void file_listing_done(struct file_listing *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i].target);
        free(l->entries);
        *l = (struct file_listing){};
}

static int entry_cmp(const void *a, const void *b) {
        const struct file_entry *x = a, *y = b;
        bool dx = x->type == FILE_TYPE_DIR, dy = y->type == FILE_TYPE_DIR;

        if (dx != dy)
                return dx ? -1 : 1;
        return strcmp(x->name, y->name); /* compares as unsigned char: bytewise */
}

static void entry_from_stat(struct file_entry *f, const struct stat *st, bool whiteouts) {
        f->type = S_ISREG(st->st_mode)   ? FILE_TYPE_FILE
                  : S_ISDIR(st->st_mode) ? FILE_TYPE_DIR
                  : S_ISLNK(st->st_mode) ? FILE_TYPE_SYMLINK
                                         : FILE_TYPE_OTHER;
        /* overlayfs records a deletion in the upper dir as a character device 0:0. */
        if (whiteouts && S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
                f->type = FILE_TYPE_DELETED;
        f->size = st->st_size > 0 ? (uint64_t) st->st_size : 0;
        f->mtime_usec = (uint64_t) st->st_mtim.tv_sec * 1000000ULL + (uint64_t) st->st_mtim.tv_nsec / 1000;
        f->mode = st->st_mode & 07777;
}

/* A symlink's text, and whether it resolves beneath base (from its own folder dir, symlinks
 * inside followed, never out of base: an absolute target or one climbing out is broken). */
static int entry_symlink(int base, int dfd, const char *dir, struct file_entry *f) {
        char target[PATH_MAX], *full = NULL;
        _cleanup_close_ int fd = -1;
        ssize_t n;

        n = readlinkat(dfd, f->name, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        f->target = strdup(target);
        if (!f->target)
                return -ENOMEM;
        if (asprintf(&full, "%s%s%s", dir, dir[0] ? "/" : "", target) < 0)
                return -ENOMEM;
        fd = target[0] == '/' ? -EXDEV : openat2_fd(base, full, O_PATH, 0, RESOLVE_SAFE);
        free(full);
        f->broken = fd < 0;
        return 0;
}

/* One level of dir beneath base into ret: the first FILES_LIST_MAX in listing order, kept by
 * sorting a buffer of twice that whenever it fills, so a folder of a million names costs
 * time but no more memory. */
static int list_level(int base, const char *dir, bool whiteouts, uint64_t extra_resolve,
                      struct file_listing *ret, struct rpc_error *e) {
        const size_t cap = 2 * FILES_LIST_MAX;
        _cleanup_free_ struct file_entry *v = NULL;
        struct stat st;
        struct dirent *de;
        size_t n = 0;
        bool truncated = false;
        DIR *d;
        int fd, r = 0;

        fd = open_beneath(base, dir, O_RDONLY | O_DIRECTORY, extra_resolve);
        if (fd < 0) {
                if (fd == -ENOTDIR)
                        return rpc_error_set(e, RPC_INVALID, "'%s' is not a folder", dir);
                return resolve_error(e, fd, dir);
        }
        v = calloc(cap, sizeof(*v));
        d = v ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return rpc_error_set(e, RPC_INTERNAL, "cannot list '%s': %s", dir,
                                     strerror(v ? errno : ENOMEM));
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile */
                if (n == cap) {
                        qsort(v, n, sizeof(*v), entry_cmp);
                        n = FILES_LIST_MAX;
                        truncated = true;
                }
                v[n] = (struct file_entry){};
                snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
                entry_from_stat(&v[n], &st, whiteouts);
                n++;
        }
        if (errno != 0)
                r = -errno;
        if (r >= 0) {
                qsort(v, n, sizeof(*v), entry_cmp);
                if (n > FILES_LIST_MAX) {
                        n = FILES_LIST_MAX;
                        truncated = true;
                }
                for (size_t i = 0; i < n && r >= 0; i++)
                        if (v[i].type == FILE_TYPE_SYMLINK)
                                r = entry_symlink(base, dirfd(d), dir, &v[i]);
        }
        closedir(d);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(v[i].target);
                return rpc_error_set(e, RPC_INTERNAL, "cannot list '%s': %s", dir, strerror(-r));
        }
        ret->entries = TAKE_PTR(v);
        ret->n = n;
        ret->truncated = truncated;
        return 0;
}

/* ---- the current generation ----------------------------------------------------------------------- */

/* Opens overlay id's current generation (O_RDONLY|O_DIRECTORY): 1 with the fd in *ret_fd, 0
 * when it has none yet, < 0 with e. */
static int current_open(int rootfd, const char *id, int *ret_fd, uint64_t *ret_gen, struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, idfd = -1;
        char name[24];
        uint64_t g = 0;
        int fd, r;

        *ret_fd = -1;
        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "overlay: " NAME_MUST_MATCH);
        ofd = overlays_dir_open(rootfd, false);
        if (ofd == -ENOENT)
                return 0;
        if (ofd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/: %s", strerror(-ofd));
        r = overlay_current(ofd, id, &g);
        if (r == -ENOENT)
                return 0;
        if (r == -EMEDIUMTYPE)
                return rpc_error_set(e, RPC_CONFLICT, "overlays/%s is a symlink hostd did not make", id);
        if (r < 0)
                return rpc_error_set(e, RPC_CONFLICT, "overlays/%s is not a directory", id);
        if (r == 0)
                fd = dir_open_nofollow(ofd, id);
        else {
                idfd = overlay_gen_dir_open(ofd, id, false);
                if (idfd < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                             strerror(-idfd));
                snprintf(name, sizeof(name), "%" PRIu64, g);
                fd = dir_open_nofollow(idfd, name);
        }
        if (fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot open generation %" PRIu64 " of '%s': %s", g,
                                     id, strerror(-fd));
        *ret_fd = fd;
        *ret_gen = g;
        return 1;
}

int files_list(int rootfd, const char *id, const char *path, struct file_listing *ret, struct rpc_error *e) {
        _cleanup_close_ int gfd = -1;
        uint64_t g = 0;
        int r;

        *ret = (struct file_listing){};
        r = files_path_check("path", path, true, e);
        if (r < 0)
                return r;
        r = current_open(rootfd, id, &gfd, &g, e);
        if (r <= 0)
                return r; /* none yet: nothing in it */
        r = list_level(gfd, path, false, 0, ret, e);
        if (r < 0)
                return r;
        ret->has_generation = true;
        ret->generation = g;
        return 0;
}

/* Opens path beneath base for reading: a regular file, or a directory when dirs_ok. */
static int open_for_reading(int base, const char *path, bool dirs_ok, uint64_t extra, struct stat *ret_st,
                            struct rpc_error *e) {
        _cleanup_close_ int fd = -1;
        int r;

        /* O_NONBLOCK: a FIFO planted there must not hang hostd's loop; cleared below. */
        fd = open_beneath(base, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, extra);
        if (fd < 0)
                return resolve_error(e, fd, path);
        if (fstat(fd, ret_st) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "'%s': %s", path, strerror(errno));
        if (S_ISDIR(ret_st->st_mode)) {
                if (!dirs_ok)
                        return rpc_error_set(e, RPC_INVALID, "'%s' is a folder", path[0] ? path : "/");
                r = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "'%s': %s", path, strerror(errno));
                safe_close(fd);
                return r;
        }
        if (!S_ISREG(ret_st->st_mode))
                return rpc_error_set(e, RPC_INVALID, "'%s' is not a regular file", path);
        if (fcntl(fd, F_SETFL, 0) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "'%s': %s", path, strerror(errno));
        return TAKE_FD(fd);
}

/* NUL or invalid UTF-8 in the first bytes: the editor shows it as binary. A sequence cut off
 * by the end of what was looked at is not held against the file. */
static bool looks_binary(const char *p, size_t n, bool cut) {
        for (size_t i = 0; i < n;) {
                size_t k;
                if (p[i] == 0)
                        return true;
                k = utf8_seq_len(p + i, n - i);
                if (k == 0)
                        return !(cut && n - i < 4 && ((unsigned char) p[i] & 0xc0) == 0xc0);
                i += k;
        }
        return false;
}

int files_read(int rootfd, const char *id, const char *path, struct file_content *ret, struct rpc_error *e) {
        _cleanup_close_ int gfd = -1, fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        uint64_t g;
        int r;

        *ret = (struct file_content){};
        r = files_path_check("path", path, false, e);
        if (r < 0)
                return r;
        r = current_open(rootfd, id, &gfd, &g, e);
        if (r < 0)
                return r;
        if (r == 0)
                return rpc_error_set(e, RPC_NOT_FOUND, "'%s' does not exist (overlay '%s' is empty)", path,
                                     id);
        fd = open_for_reading(gfd, path, false, 0, &st, e);
        if (fd < 0)
                return fd;
        if ((uint64_t) st.st_size > FILES_EDIT_MAX) {
                char size[32];
                overlay_format_bytes((uint64_t) st.st_size, size, sizeof(size));
                return rpc_error_set(e, RPC_INVALID,
                                     "'%s' is %s, over the 1 MiB an editor opens; download it", path, size);
        }
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "cannot read '%s': %s", path, strerror(errno));
                if (k == 0)
                        break; /* shorter now: what is there (published files never change) */
                len += (size_t) k;
        }
        ret->size = len;
        ret->binary = looks_binary(buf, MIN(len, (size_t) FILES_SNIFF_BYTES), len > FILES_SNIFF_BYTES);
        ret->len = len;
        ret->data = TAKE_PTR(buf);
        return 0;
}

int files_open(int rootfd, const char *id, const char *path, struct stat *ret_st, bool *ret_pinned,
               struct rpc_error *e) {
        _cleanup_close_ int gfd = -1;
        struct stat st;
        uint64_t g;
        int r, fd;

        *ret_pinned = false;
        r = files_path_check("path", path, true, e);
        if (r < 0)
                return r;
        r = current_open(rootfd, id, &gfd, &g, e);
        if (r < 0)
                return r;
        if (r == 0)
                return rpc_error_set(e, RPC_NOT_FOUND, "'%s' does not exist (overlay '%s' is empty)",
                                     path[0] ? path : "/", id);
        fd = open_for_reading(gfd, path, true, 0, ret_st, e);
        if (fd < 0 || !S_ISDIR(ret_st->st_mode))
                return fd;
        /* A folder is walked file by file long after this answer, and its generation may stop
         * being current meanwhile: the caller gets the generation's root, share-locked, and the
         * lock (with the descriptor) keeps overlay_gc away until the walk is done. A file needs
         * none: its inode outlives its name. */
        safe_close(fd);
        if (flock(gfd, LOCK_SH | LOCK_NB) < 0 || fstat(gfd, &st) < 0 || st.st_nlink == 0)
                /* LOCK_EX held, or already gone: overlay_gc is removing it right now. */
                return rpc_error_set(e, RPC_CONFLICT, "overlay '%s' changed meanwhile; try again", id);
        *ret_pinned = true;
        return TAKE_FD(gfd);
}

/* ---- edits: a new generation each ----------------------------------------------------------------- */

/* The change an edit makes inside the new generation (open as gen_fd, root's until published). */
typedef int (*edit_fn)(int gen_fd, void *userdata, struct rpc_error *e);

/* The steps of a build from "current": a new generation filled from the current one (files
 * the current one published are hardlinked, so they are never written, only replaced), the
 * change, the size cap, publishing (everything left4me-build's, files 0644 and dirs 0755 for
 * what hostd writes), the switch. A failure anywhere discards the new generation: the
 * current one is as it was. */
static int edit(const struct files_ctx *c, const char *id, edit_fn fn, void *userdata, uint64_t *ret_gen,
                struct rpc_error *e) {
        _cleanup_close_ int gen_fd = -1;
        struct overlay_fill_stats fs;
        unsigned long long t0 = now_usec();
        uint64_t g = 0, bytes = 0;
        int r;

        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "overlay: " NAME_MUST_MATCH);
        /* Root's while it is made: nobody else can write into it before it is published. */
        gen_fd = overlay_gen_prepare(c->rootfd, id, 0, 0, &g, e);
        if (gen_fd < 0)
                return gen_fd;
        r = overlay_gen_fill(c->rootfd, id, gen_fd, 0, 0, c->owner_uid, c->owner_gid, &fs, e);
        if (r < 0)
                goto fail;
        r = fn(gen_fd, userdata, e);
        if (r < 0)
                goto fail;
        r = overlay_size(gen_fd, &bytes);
        if (r < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot measure generation %" PRIu64 " of '%s': %s", g,
                                  id, strerror(-r));
                goto fail;
        }
        if (bytes > c->max_bytes) {
                char have[32], cap[32];
                overlay_format_bytes(bytes, have, sizeof(have));
                overlay_format_bytes(c->max_bytes, cap, sizeof(cap));
                r = rpc_error_set(
                        e, RPC_INVALID,
                        "overlay '%s' would be %s, over the cap of %s (sandbox.overlay_max_bytes); "
                        "nothing changed",
                        id, have, cap);
                goto fail;
        }
        overlay_gen_record_size(gen_fd, bytes);
        r = overlay_publish(gen_fd, c->owner_uid, c->owner_gid);
        if (r < 0) {
                r = rpc_error_set(e, RPC_INTERNAL, "cannot publish generation %" PRIu64 " of '%s': %s", g,
                                  id, strerror(-r));
                goto fail;
        }
        r = overlay_gen_commit(c->rootfd, id, g, e);
        if (r < 0)
                goto fail;
        log_debug("Overlay '%s': generation %" PRIu64 " from %" PRIu64 " (%" PRIu64 " linked, %" PRIu64
                  " copied) in %llu ms",
                  id, g, fs.generation, fs.linked, fs.copied, (now_usec() - t0) / 1000);
        *ret_gen = g;
        return 0;
fail:
        overlay_gen_discard(c->rootfd, id, g);
        return r;
}

/* Opens the folder of path in the new generation: its fd, and the last name. */
static int edit_parent(int gen_fd, const char *path, const char **ret_name, struct rpc_error *e) {
        char dir[FILES_PATH_MAX + 1];
        int fd;

        path_split(path, dir, sizeof(dir), ret_name);
        fd = open_beneath(gen_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "folder '%s' does not exist", dir);
        if (fd == -ENOTDIR)
                return rpc_error_set(e, RPC_INVALID, "'%s' is not a folder", dir);
        if (fd < 0)
                return resolve_error(e, fd, dir);
        return fd;
}

/* A new name beside name in dfd for hostd's own temporary file. */
static void tmp_name(char *buf, size_t size, const char *what) {
        uint64_t r = 0;

        (void) getrandom(&r, sizeof(r), GRND_NONBLOCK);
        snprintf(buf, size, ".left4me-%s-%016" PRIx64, what, r);
}

struct write_args {
        const char *path;
        const void *data;
        size_t len;
        bool create;
};

static int do_write(int gen_fd, void *userdata, struct rpc_error *e) {
        const struct write_args *a = userdata;
        _cleanup_close_ int dfd = -1, fd = -1;
        const char *name;
        char tmp[64];
        struct stat st;
        int r;

        dfd = edit_parent(gen_fd, a->path, &name, e);
        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (a->create)
                        return rpc_error_set(e, RPC_CONFLICT, "'%s' exists", a->path);
                if (S_ISDIR(st.st_mode))
                        return rpc_error_set(e, RPC_INVALID, "'%s' is a folder", a->path);
                if (S_ISLNK(st.st_mode))
                        return rpc_error_set(e, RPC_INVALID, "'%s' is a symlink; symlinks are not followed",
                                             a->path);
        }
        /* A new file renamed over the name: the old one may be a hardlink shared with the
         * generations servers run on, and is never written. */
        tmp_name(tmp, sizeof(tmp), "write");
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot create '%s': %s", a->path, strerror(errno));
        r = loop_write(fd, a->data, a->len);
        if (r >= 0)
                r = RET_NERRNO(fchmod(fd, 0644)); /* not the umask's */
        if (r >= 0)
                r = RET_NERRNO(fsync(fd));
        if (r >= 0)
                r = RET_NERRNO(renameat(dfd, tmp, dfd, name));
        if (r < 0) {
                (void) unlinkat(dfd, tmp, 0);
                return rpc_error_set(e, RPC_INTERNAL, "cannot write '%s': %s", a->path, strerror(-r));
        }
        return 0;
}

int files_write(const struct files_ctx *c, const char *id, const char *path, const void *data, size_t len,
                bool create, uint64_t *ret_gen, struct rpc_error *e) {
        struct write_args a = {path, data, len, create};
        int r;

        r = files_path_check("path", path, false, e);
        if (r < 0)
                return r;
        if (len > FILES_EDIT_MAX)
                return rpc_error_set(e, RPC_INVALID, "data: more than 1 MiB; upload it");
        return edit(c, id, do_write, &a, ret_gen, e);
}

static int do_mkdir(int gen_fd, void *userdata, struct rpc_error *e) {
        const char *path = userdata;
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int cur = -1;
        char *p, *slash;
        bool made = false;

        if (!copy)
                return rpc_error_set(e, RPC_INTERNAL, "out of memory");
        cur = fcntl(gen_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return rpc_error_set(e, RPC_INTERNAL, "%s", strerror(errno));
        for (p = copy;; p = slash + 1) {
                struct stat st;
                int next;

                slash = strchr(p, '/');
                if (slash)
                        *slash = 0;
                made = false;
                if (mkdirat(cur, p, 0755) >= 0)
                        made = true;
                else if (errno != EEXIST)
                        return rpc_error_set(e, RPC_INTERNAL, "cannot create '%s': %s", path,
                                             strerror(errno));
                if (fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "'%s': %s", path, strerror(errno));
                if (S_ISLNK(st.st_mode))
                        return rpc_error_set(e, RPC_INVALID,
                                             "'%s' goes through a symlink; symlinks are not followed", path);
                if (!S_ISDIR(st.st_mode))
                        return rpc_error_set(e, slash ? RPC_INVALID : RPC_CONFLICT,
                                             "'%.*s' exists and is not a folder",
                                             (int) (p + strlen(p) - copy), path);
                next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return rpc_error_set(e, RPC_INTERNAL, "'%s': %s", path, strerror(errno));
                if (made && fchmod(next, 0755) < 0) { /* not the umask's */
                        safe_close(next);
                        return rpc_error_set(e, RPC_INTERNAL, "'%s': %s", path, strerror(errno));
                }
                safe_close(cur);
                cur = next;
                if (!slash)
                        break;
        }
        if (!made)
                return rpc_error_set(e, RPC_CONFLICT, "'%s' exists", path);
        return 0;
}

int files_mkdir(const struct files_ctx *c, const char *id, const char *path, uint64_t *ret_gen,
                struct rpc_error *e) {
        int r = files_path_check("path", path, false, e);

        if (r < 0)
                return r;
        return edit(c, id, do_mkdir, (void *) path, ret_gen, e);
}

struct move_args {
        const char *path; /* what */
        const char *to;   /* the folder it goes to */
        const char *name; /* its name there */
};

static int do_move(int gen_fd, void *userdata, struct rpc_error *e) {
        const struct move_args *a = userdata;
        _cleanup_close_ int sfd = -1, tfd = -1;
        const char *name;
        struct stat st;

        sfd = edit_parent(gen_fd, a->path, &name, e);
        if (sfd < 0)
                return sfd;
        /* The entry itself may be a symlink (moving the link moves no target); what it is in is
         * resolved without any. */
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return rpc_error_set(e, errno == ENOENT ? RPC_NOT_FOUND : RPC_INTERNAL, "'%s' %s", a->path,
                                     errno == ENOENT ? "does not exist" : strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                size_t n = strlen(a->path);
                if (strncmp(a->to, a->path, n) == 0 && (a->to[n] == 0 || a->to[n] == '/'))
                        return rpc_error_set(e, RPC_INVALID, "cannot move folder '%s' into itself ('%s')",
                                             a->path, a->to);
        }
        tfd = open_beneath(gen_fd, a->to, O_RDONLY | O_DIRECTORY, 0);
        if (tfd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "folder '%s' does not exist", a->to[0] ? a->to : "/");
        if (tfd == -ENOTDIR)
                return rpc_error_set(e, RPC_INVALID, "'%s' is not a folder", a->to);
        if (tfd < 0)
                return resolve_error(e, tfd, a->to);
        if (renameat2(sfd, name, tfd, a->name, RENAME_NOREPLACE) < 0) {
                if (errno == EEXIST)
                        return rpc_error_set(e, RPC_CONFLICT, "'%s%s%s' exists", a->to, a->to[0] ? "/" : "",
                                             a->name);
                if (errno == EINVAL)
                        return rpc_error_set(e, RPC_INVALID, "cannot move folder '%s' into itself", a->path);
                return rpc_error_set(e, RPC_INTERNAL, "cannot move '%s': %s", a->path, strerror(errno));
        }
        return 0;
}

int files_rename(const struct files_ctx *c, const char *id, const char *path, const char *name,
                 uint64_t *ret_gen, struct rpc_error *e) {
        char dir[FILES_PATH_MAX + 1];
        const char *old;
        struct move_args a;
        int r;

        r = files_path_check("path", path, false, e);
        if (r >= 0)
                r = name_check("name", name, e);
        if (r < 0)
                return r;
        path_split(path, dir, sizeof(dir), &old);
        if (streq(old, name))
                return rpc_error_set(e, RPC_CONFLICT, "'%s' has that name already", path);
        if (strlen(dir) + 1 + strlen(name) > FILES_PATH_MAX)
                return rpc_error_set(e, RPC_INVALID, "name: the path would be longer than %u bytes",
                                     FILES_PATH_MAX);
        a = (struct move_args){path, dir, name};
        return edit(c, id, do_move, &a, ret_gen, e);
}

int files_move(const struct files_ctx *c, const char *id, const char *path, const char *to,
               uint64_t *ret_gen, struct rpc_error *e) {
        char dir[FILES_PATH_MAX + 1];
        const char *name;
        struct move_args a;
        int r;

        r = files_path_check("path", path, false, e);
        if (r >= 0)
                r = files_path_check("to", to, true, e);
        if (r < 0)
                return r;
        path_split(path, dir, sizeof(dir), &name);
        if (strlen(to) + 1 + strlen(name) > FILES_PATH_MAX)
                return rpc_error_set(e, RPC_INVALID, "to: the path would be longer than %u bytes",
                                     FILES_PATH_MAX);
        a = (struct move_args){path, to, name};
        return edit(c, id, do_move, &a, ret_gen, e);
}

struct delete_args {
        const char *path;
        bool recursive;
};

static int do_delete(int gen_fd, void *userdata, struct rpc_error *e) {
        const struct delete_args *a = userdata;
        _cleanup_close_ int dfd = -1;
        const char *name;
        struct stat st;
        int r;

        dfd = edit_parent(gen_fd, a->path, &name, e);
        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return rpc_error_set(e, errno == ENOENT ? RPC_NOT_FOUND : RPC_INTERNAL, "'%s' %s", a->path,
                                     errno == ENOENT ? "does not exist" : strerror(errno));
        if (!S_ISDIR(st.st_mode))
                r = RET_NERRNO(unlinkat(dfd, name, 0)); /* a symlink: the link, never its target */
        else {
                r = RET_NERRNO(unlinkat(dfd, name, AT_REMOVEDIR));
                if (r == -ENOTEMPTY || r == -EEXIST) {
                        if (!a->recursive)
                                return rpc_error_set(e, RPC_CONFLICT,
                                                     "folder '%s' is not empty; delete it with recursive",
                                                     a->path);
                        r = rm_rf_at(dfd, name); /* never follows a link, never enters a mount */
                }
        }
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot delete '%s': %s", a->path, strerror(-r));
        return 0;
}

int files_delete(const struct files_ctx *c, const char *id, const char *path, bool recursive,
                 uint64_t *ret_gen, struct rpc_error *e) {
        struct delete_args a = {path, recursive};
        int r = files_path_check("path", path, false, e);

        if (r < 0)
                return r;
        return edit(c, id, do_delete, &a, ret_gen, e);
}

/* ---- uploads ------------------------------------------------------------------------------------ */

int files_upload_open(int rootfd, const char *id, int *ret_ro, struct rpc_error *e) {
        _cleanup_close_ int ofd = -1, idfd = -1, fd = -1;
        char self[64];
        uint64_t g;
        int r;

        if (!name_is_valid(id))
                return rpc_error_set(e, RPC_INVALID, "overlay: " NAME_MUST_MATCH);
        ofd = overlays_dir_open(rootfd, true);
        if (ofd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/: %s", strerror(-ofd));
        r = overlay_current(ofd, id, &g);
        if (r == -EMEDIUMTYPE || r == -ENOTDIR)
                return rpc_error_set(e, RPC_CONFLICT, "overlays/%s is %s; delete it first", id,
                                     r == -EMEDIUMTYPE ? "a symlink hostd did not make" : "not a directory");
        /* In the generations' own directory: the same file system, so the commit links it in
         * (a file cannot be linked across file systems), and root's (nobody else sees it). */
        idfd = overlay_gen_dir_open(ofd, id, true);
        if (idfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                     strerror(-idfd));
        fd = openat(idfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return rpc_error_set(e, RPC_INTERNAL,
                                     "cannot create an upload in overlays/" OVERLAY_GENS_DIR "/%s: %s", id,
                                     strerror(errno));
        /* hostd keeps only a read-only copy: at the commit, the read lease then tells whether
         * anyone else still can write it. */
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        *ret_ro = open(self, O_RDONLY | O_CLOEXEC);
        if (*ret_ro < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot reopen the upload: %s", strerror(errno));
        return TAKE_FD(fd);
}

struct link_args {
        const char *path;
        int fd;
        bool replace;
};

static int do_link(int gen_fd, void *userdata, struct rpc_error *e) {
        const struct link_args *a = userdata;
        _cleanup_close_ int dfd = -1;
        const char *name;
        char self[64], tmp[64];
        struct stat st;

        dfd = edit_parent(gen_fd, a->path, &name, e);
        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (!a->replace)
                        return rpc_error_set(e, RPC_CONFLICT, "'%s' exists", a->path);
                if (S_ISDIR(st.st_mode))
                        return rpc_error_set(e, RPC_INVALID, "'%s' is a folder", a->path);
                if (S_ISLNK(st.st_mode))
                        return rpc_error_set(e, RPC_INVALID, "'%s' is a symlink; symlinks are not followed",
                                             a->path);
        }
        /* Through /proc/self/fd with AT_SYMLINK_FOLLOW: AT_EMPTY_PATH would need
         * CAP_DAC_READ_SEARCH, which hostd's unit does not give. */
        snprintf(self, sizeof(self), "/proc/self/fd/%d", a->fd);
        tmp_name(tmp, sizeof(tmp), "upload");
        if (linkat(AT_FDCWD, self, dfd, tmp, AT_SYMLINK_FOLLOW) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot link the upload in at '%s': %s", a->path,
                                     strerror(errno));
        if (renameat2(dfd, tmp, dfd, name, a->replace ? 0 : RENAME_NOREPLACE) < 0) {
                int k = errno;
                (void) unlinkat(dfd, tmp, 0);
                return rpc_error_set(e, k == EEXIST ? RPC_CONFLICT : RPC_INTERNAL,
                                     "cannot put the upload at '%s': %s", a->path, strerror(k));
        }
        return 0;
}

/* The current generation's answer to "is path free for it": refusals decided before the
 * upload is handed over keep it, so the caller can ask again (replace, another name). */
static int commit_precheck(int rootfd, const char *id, const char *path, bool replace, struct rpc_error *e) {
        _cleanup_close_ int gfd = -1, dfd = -1;
        char dir[FILES_PATH_MAX + 1];
        const char *name;
        struct stat st;
        uint64_t g;
        int r;

        r = current_open(rootfd, id, &gfd, &g, e);
        if (r <= 0)
                return r;
        path_split(path, dir, sizeof(dir), &name);
        dfd = open_beneath(gfd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (dfd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "folder '%s' does not exist", dir);
        if (dfd < 0)
                return resolve_error(e, dfd, dir);
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (!replace)
                return rpc_error_set(e, RPC_CONFLICT, "'%s' exists", path);
        if (S_ISDIR(st.st_mode))
                return rpc_error_set(e, RPC_INVALID, "'%s' is a folder", path);
        if (S_ISLNK(st.st_mode))
                return rpc_error_set(e, RPC_INVALID, "'%s' is a symlink; symlinks are not followed", path);
        return 0;
}

int files_commit(const struct files_ctx *c, const char *id, int ro, const char *path, bool replace,
                 uint64_t *ret_gen, uint64_t *ret_size, bool *ret_consumed, struct rpc_error *e) {
        struct link_args a = {path, ro, replace};
        struct stat st;
        int r;

        *ret_consumed = false;
        r = files_path_check("path", path, false, e);
        if (r < 0)
                return r;
        r = commit_precheck(c->rootfd, id, path, replace, e);
        if (r < 0)
                return r;
        /* A writer that kept its descriptor could change the file after it is published to
         * running servers: a read lease is granted only while nobody has it open for writing
         * (EAGAIN otherwise), and nobody can open it anew (it has no name; hostd's /proc is not
         * theirs). Taken while the file is still root's: hostd has no CAP_LEASE, and a lease
         * needs the owner. It goes with hostd's descriptor (closed by the caller). */
        if (fcntl(ro, F_SETLEASE, F_RDLCK) < 0) {
                if (errno == EAGAIN || errno == EBUSY)
                        return rpc_error_set(e, RPC_CONFLICT,
                                             "close the upload before committing it (it is still "
                                             "open for writing)");
                return rpc_error_set(e, RPC_INTERNAL, "cannot lease the upload: %s", strerror(errno));
        }
        if (fstat(ro, &st) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot stat the upload: %s", strerror(errno));
        *ret_consumed = true;
        if ((uint64_t) st.st_size > c->max_bytes) {
                char have[32], cap[32];
                overlay_format_bytes((uint64_t) st.st_size, have, sizeof(have));
                overlay_format_bytes(c->max_bytes, cap, sizeof(cap));
                return rpc_error_set(e, RPC_INVALID,
                                     "the upload is %s, over the cap of %s (sandbox.overlay_max_bytes)",
                                     have, cap);
        }
        if (fsync(ro) < 0 || fchown(ro, c->owner_uid, c->owner_gid) < 0 || fchmod(ro, 0644) < 0)
                return rpc_error_set(e, RPC_INTERNAL, "cannot hand the upload over: %s", strerror(errno));
        r = edit(c, id, do_link, &a, ret_gen, e);
        if (r < 0)
                return r;
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

/* ---- a server's merged view ------------------------------------------------------------------------ */

/* One layer of a server's view: the server's own upper dir, an overlay generation, a workshop
 * item, the installation; fd -1 when it cannot be told (the record does not match). */
struct view_layer {
        char label[OVERLAY_REF_MAX + 1];
        int fd;     /* O_PATH of the layer's root */
        int dir_fd; /* the folder being listed in it, or -1 */
};

struct files_view {
        struct view_layer *layers;
        size_t n;
};

struct files_view *files_view_free(struct files_view *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n; i++) {
                safe_close(v->layers[i].fd);
                safe_close(v->layers[i].dir_fd);
        }
        free(v->layers);
        free(v);
        return NULL;
}

static void files_view_freep(struct files_view **v) {
        files_view_free(*v);
}

/* Opens runtime/NAME (RPC_NOT_FOUND when the server has none). */
static int runtime_open(int rootfd, const char *name, struct rpc_error *e) {
        _cleanup_close_ int rfd = -1;
        int fd;

        if (!name_is_valid(name))
                return rpc_error_set(e, RPC_INVALID, "name: " NAME_MUST_MATCH);
        rfd = trusted_dir_open(rootfd, "runtime");
        if (rfd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "server '%s' does not exist", name);
        if (rfd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "runtime/: %s", strerror(-rfd));
        fd = dir_open_nofollow(rfd, name);
        if (fd == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "server '%s' does not exist", name);
        if (fd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "runtime/%s: %s", name, strerror(-fd));
        return fd;
}

static int merged_open(int runtime_fd, const char *name, struct rpc_error *e) {
        int r = is_mount_root_at(runtime_fd, "merged");

        if (r == 0 || r == -ENOENT)
                return rpc_error_set(e, RPC_NOT_FOUND, "server '%s' is not mounted (not running)", name);
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "runtime/%s/merged: %s", name, strerror(-r));
        r = dir_open_nofollow(runtime_fd, "merged");
        if (r < 0)
                return rpc_error_set(e, RPC_INTERNAL, "runtime/%s/merged: %s", name, strerror(-r));
        return r;
}

static int view_add(struct files_view *v, const char *label, int fd) {
        struct view_layer *n = realloc(v->layers, (v->n + 1) * sizeof(*n));

        if (!n) {
                safe_close(fd);
                return -ENOMEM;
        }
        v->layers = n;
        snprintf(n[v->n].label, sizeof(n[v->n].label), "%s", label);
        n[v->n].fd = fd;
        n[v->n].dir_fd = -1;
        v->n++;
        return 0;
}

/* The layers of NAME's mount, top first: upper, then L4D2_LOWERDIRS with each overlay ref at
 * the generation runtime/NAME/layers recorded (the mount's own record; instance.env may have
 * been rewritten by an initialize since), the installation last. When the two do not agree
 * the overlays' layers are unknown (fd -1), never guessed. */
static int view_build(int rootfd, const char *root, int runtime_fd, const char *name,
                      struct files_view **ret) {
        _cleanup_(files_view_freep) struct files_view *v = calloc(1, sizeof(*v));
        _cleanup_close_ int ifd = -1, nfd = -1, ofd = -1;
        _cleanup_free_ struct overlay_layer *rec = NULL;
        _cleanup_free_ char *env = NULL;
        _cleanup_strv_free_ char **lower = NULL;
        const char *rootpath = root;
        size_t n_rec = 0, k = 0, n_over = 0, len, rl = strlen(root);
        int r;

        if (!v)
                return -ENOMEM;
        r = view_add(v, "upper", dir_open_nofollow(runtime_fd, "upper"));
        if (r < 0)
                return r;
        ifd = trusted_dir_open(rootfd, "instances");
        if (ifd >= 0)
                nfd = dir_open_nofollow(ifd, name);
        if (nfd < 0 || read_file_at(nfd, "instance.env", FILE_MAX_BYTES, &env, &len) < 0 ||
            env_parse_lowerdirs(env, len, &lower) < 0)
                goto done;
        if (layers_read(runtime_fd, &rec, &n_rec) < 0)
                n_rec = 0;
        for (char **l = lower; *l; l++)
                if (strncmp(*l, rootpath, rl) == 0 && strncmp(*l + rl, "/overlays/", 10) == 0)
                        n_over++;
        ofd = overlays_dir_open(rootfd, false);
        for (char **l = lower; *l; l++) {
                const char *rest = strncmp(*l, rootpath, rl) == 0 && (*l)[rl] == '/' ? *l + rl + 1 : NULL;
                char path[PATH_MAX];
                int fd = -1;

                if (rest && strncmp(rest, "overlays/", 9) == 0) {
                        const char *ref = rest + 9, *sub = strchr(ref, '/');
                        struct overlay_layer *L = n_over == n_rec && k < n_rec ? &rec[k] : NULL;
                        struct stat st;

                        k++;
                        if (!L || ofd < 0) {
                                r = view_add(v, "", -1);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        /* Generation 0 is a plain overlays/ID, or .gen/ID/0 once a commit moved it. */
                        if (L->generation == 0 && fstatat(ofd, L->id, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                            S_ISDIR(st.st_mode))
                                snprintf(path, sizeof(path), "%s%s", L->id, sub ?: "");
                        else
                                snprintf(path, sizeof(path), OVERLAY_GENS_DIR "/%s/%" PRIu64 "%s", L->id,
                                         L->generation, sub ?: "");
                        fd = openat2_fd(ofd, path, O_PATH | O_DIRECTORY, 0, RESOLVE_SAFE);
                        r = view_add(v, L->id, fd);
                } else if (rest && strncmp(rest, "workshop_cache/", 15) == 0) {
                        fd = openat2_fd(rootfd, rest, O_PATH | O_DIRECTORY, 0, RESOLVE_SAFE);
                        r = view_add(v, "workshop", fd);
                } else if (rest && streq(rest, "installation")) {
                        fd = dir_open_nofollow(rootfd, "installation");
                        r = view_add(v, "installation", fd);
                } else
                        r = view_add(v, "", -1);
                if (r < 0)
                        return r;
        }
done:
        *ret = TAKE_PTR(v);
        return 0;
}

/* Which layer each entry of dir comes from: the topmost that has the name. */
static void view_label(struct files_view *v, const char *dir, struct file_listing *l) {
        for (size_t i = 0; i < v->n; i++)
                if (v->layers[i].fd >= 0)
                        v->layers[i].dir_fd = open_beneath(v->layers[i].fd, dir, O_PATH | O_DIRECTORY, 0);
        for (size_t j = 0; j < l->n; j++) {
                l->entries[j].layer = NULL;
                for (size_t i = 0; i < v->n; i++) {
                        struct stat st;
                        if (v->layers[i].dir_fd < 0)
                                continue;
                        if (fstatat(v->layers[i].dir_fd, l->entries[j].name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
                                break; /* a whiteout: not there (never listed in merged) */
                        l->entries[j].layer = v->layers[i].label[0] ? v->layers[i].label : NULL;
                        break;
                }
        }
}

/* The checked path's server: its merged view (returned) and its runtime dir (*ret_runtime_fd). */
static int merged_at(int rootfd, const char *name, const char *path, int *ret_runtime_fd,
                     struct rpc_error *e) {
        int r;

        r = files_path_check("path", path, true, e);
        if (r < 0)
                return r;
        *ret_runtime_fd = runtime_open(rootfd, name, e);
        if (*ret_runtime_fd < 0)
                return *ret_runtime_fd;
        return merged_open(*ret_runtime_fd, name, e);
}

int files_instance_list(int rootfd, const char *root, const char *name, const char *path,
                        struct file_listing *ret, struct files_view **ret_view, struct rpc_error *e) {
        _cleanup_close_ int runtime_fd = -1, mfd = -1;
        _cleanup_(files_view_freep) struct files_view *v = NULL;
        int r;

        *ret = (struct file_listing){};
        mfd = merged_at(rootfd, name, path, &runtime_fd, e);
        if (mfd < 0)
                return mfd;
        r = list_level(mfd, path, false, RESOLVE_NO_XDEV, ret, e);
        if (r < 0)
                return r;
        r = view_build(rootfd, root, runtime_fd, name, &v);
        if (r < 0) {
                file_listing_done(ret);
                return rpc_error_set(e, RPC_INTERNAL, "cannot tell the layers of '%s': %s", name,
                                     strerror(-r));
        }
        view_label(v, path, ret);
        *ret_view = TAKE_PTR(v);
        return 0;
}

int files_instance_open(int rootfd, const char *name, const char *path, struct stat *ret_st,
                        struct rpc_error *e) {
        _cleanup_close_ int runtime_fd = -1, mfd = -1;

        mfd = merged_at(rootfd, name, path, &runtime_fd, e);
        if (mfd < 0)
                return mfd;
        return open_for_reading(mfd, path, true, RESOLVE_NO_XDEV, ret_st, e);
}

int files_instance_changes(int rootfd, const char *name, const char *path, struct file_listing *ret,
                           struct rpc_error *e) {
        _cleanup_close_ int runtime_fd = -1, ufd = -1;
        int r;

        *ret = (struct file_listing){};
        r = files_path_check("path", path, true, e);
        if (r < 0)
                return r;
        runtime_fd = runtime_open(rootfd, name, e);
        if (runtime_fd < 0)
                return runtime_fd;
        ufd = dir_open_nofollow(runtime_fd, "upper");
        if (ufd == -ENOENT)
                return 0; /* never started: nothing changed */
        if (ufd < 0)
                return rpc_error_set(e, RPC_INTERNAL, "runtime/%s/upper: %s", name, strerror(-ufd));
        r = list_level(ufd, path, true, RESOLVE_NO_XDEV, ret, e);
        if (r == -ENOENT && e->code == RPC_NOT_FOUND && path[0]) {
                *e = (struct rpc_error){};
                return 0; /* the server changed nothing below path */
        }
        return r;
}

/* ---- hostd's methods -------------------------------------------------------------------------------- */

/* Who may act on which overlay (docs/host.md, "File operations"): webd only on the web UI's own
 * (web-<id>), operators never on those (as overlay.build), root on all. */
static int check_overlay_caller(struct rpc_call *call, const char *id) {
        enum rpc_caller who = rpc_call_peer(call)->caller;

        if (who == RPC_CALLER_WEBD && !name_is_web(id))
                return rpc_call_fail(
                        call, RPC_DENIED,
                        "overlay '%s' is not the web UI's: webd may act only on web-<id> overlays", id);
        if (who == RPC_CALLER_OPERATOR && name_is_web(id))
                return rpc_call_fail(call, RPC_DENIED, "overlay '%s' belongs to the web UI: act on it there",
                                     id);
        return 0;
}

static int check_instance_caller(struct rpc_call *call, const char *name) {
        if (rpc_call_peer(call)->caller == RPC_CALLER_WEBD && !name_is_web(name))
                return rpc_call_fail(
                        call, RPC_DENIED,
                        "server '%s' is not the web UI's: webd may look only at web-<id> servers", name);
        return 0;
}

static int check_id(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;

        if (!name_is_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: " NAME_MUST_MATCH, a->name);
        return 0;
}

static int check_path(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        return files_path_check(a->name, *(char **) field, true, e);
}

/* All arguments of all file methods; each method's table names those it takes. */
struct file_args {
        char *overlay; /* or the server's name */
        char *path;
        char *name;
        char *to;
        char *upload;
        struct rpc_bin data;
        bool create, recursive, replace;
};

#define ARG_OVERLAY                                                                                         \
        {                                                                                                   \
                "overlay", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct file_args, overlay), 1,           \
                        NAME_LEN_MAX, 0, check_id                                                           \
        }
#define ARG_NAME_OF_SERVER                                                                                  \
        {                                                                                                   \
                "name", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct file_args, overlay), 1,              \
                        NAME_LEN_MAX, 0, check_id                                                           \
        }
#define ARG_PATH(flags)                                                                                     \
        { "path", RPC_ARG_STR, flags, offsetof(struct file_args, path), 0, FILES_PATH_MAX, 0, check_path }

static const struct rpc_arg path_args[] = {ARG_OVERLAY, ARG_PATH(RPC_ARG_REQUIRED)};
static const struct rpc_arg write_args_table[] = {
        ARG_OVERLAY,
        ARG_PATH(RPC_ARG_REQUIRED),
        {"data", RPC_ARG_BIN, RPC_ARG_REQUIRED, offsetof(struct file_args, data), 0, FILES_EDIT_MAX, 0,
         NULL},
        {"create", RPC_ARG_BOOL, RPC_ARG_NULLABLE, offsetof(struct file_args, create), 0, 0, 0, NULL},
};
static const struct rpc_arg rename_args[] = {
        ARG_OVERLAY,
        ARG_PATH(RPC_ARG_REQUIRED),
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct file_args, name), 1, FILES_NAME_MAX, 0,
         NULL},
};
static const struct rpc_arg move_args_table[] = {
        ARG_OVERLAY,
        ARG_PATH(RPC_ARG_REQUIRED),
        {"to", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct file_args, to), 0, FILES_PATH_MAX, 0,
         check_path},
};
static const struct rpc_arg delete_args_table[] = {
        ARG_OVERLAY,
        ARG_PATH(RPC_ARG_REQUIRED),
        {"recursive", RPC_ARG_BOOL, RPC_ARG_NULLABLE, offsetof(struct file_args, recursive), 0, 0, 0, NULL},
};
static const struct rpc_arg overlay_args[] = {ARG_OVERLAY};
#define ARG_UPLOAD                                                                                          \
        { "upload", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct file_args, upload), 32, 32, 0, NULL }
static const struct rpc_arg commit_args[] = {
        ARG_OVERLAY,
        ARG_UPLOAD,
        ARG_PATH(RPC_ARG_REQUIRED),
        {"replace", RPC_ARG_BOOL, RPC_ARG_NULLABLE, offsetof(struct file_args, replace), 0, 0, 0, NULL},
};
static const struct rpc_arg abort_args[] = {ARG_OVERLAY, ARG_UPLOAD};
static const struct rpc_arg instance_args[] = {ARG_NAME_OF_SERVER, ARG_PATH(RPC_ARG_REQUIRED)};
static const struct rpc_arg changes_args[] = {ARG_NAME_OF_SERVER, ARG_PATH(RPC_ARG_NULLABLE)};

/* What a file method does once its arguments are parsed, the caller checked and the state root
 * open (rootfd, borrowed); it answers the call. */
typedef int (*file_body)(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd);

/* Every file method: parse, check the root and the caller, open the root, run, free. */
static int file_method(struct hostd *h, struct rpc_call *call, const msgpack_object *params,
                       const struct rpc_arg *t, size_t n, bool instance, file_body body) {
        _cleanup_close_ int rootfd = -1;
        struct file_args a = {};
        struct rpc_error e = {};
        int r;

        if (rpc_args_parse(params, t, n, &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        if (!a.path && !(a.path = strdup(""))) /* instance.changes without one: the top */
                r = rpc_call_fail(call, RPC_INTERNAL, "out of memory");
        else if (!h->root_ok)
                r = rpc_call_fail(call, RPC_UNAVAILABLE, "paths.root '%s' is not usable", h->cfg->root);
        else
                r = instance ? check_instance_caller(call, a.overlay)
                             : check_overlay_caller(call, a.overlay);
        if (r >= 0) {
                rootfd = root_open(h->cfg->root);
                r = rootfd < 0 ? rpc_call_fail(call, RPC_INTERNAL, "cannot open %s: %s", h->cfg->root,
                                               strerror(-rootfd))
                               : body(h, call, &a, rootfd);
        }
        rpc_args_free(t, n, &a);
        return r;
}

#define FILE_METHOD(method, table, instance, body)                                                          \
        int hostd_method_##method(struct rpc_call *call, const msgpack_object *params, void *userdata) {    \
                return file_method(userdata, call, params, table, ELEMENTSOF(table), instance, body);       \
        }

/* The ctx of an edit: left4me-build owns what is published. */
static int edit_ctx(struct hostd *h, struct rpc_call *call, const char *id, int rootfd,
                    struct files_ctx *c) {
        struct passwd *pw;

        if (hostd_overlay_building(h, id))
                return rpc_call_fail(call, RPC_CONFLICT,
                                     "overlay '%s' is being built; try again when it is done", id);
        errno = 0;
        pw = getpwnam(BUILD_USER);
        if (!pw)
                return rpc_call_fail(call, RPC_UNAVAILABLE,
                                     "no user " BUILD_USER " to own the overlay's files");
        c->owner_uid = pw->pw_uid;
        c->owner_gid = pw->pw_gid;
        c->max_bytes = h->cfg->sandbox_overlay_max_bytes;
        c->rootfd = rootfd;
        return 0;
}

static int reply_generation(struct rpc_call *call, uint64_t g, const uint64_t *size) {
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, rpc_call_result(call));

        rpc_pack_kv_uint(mpk, "generation", g);
        if (size)
                rpc_pack_kv_uint(mpk, "size", *size);
        (void) rpc_map_end(&map);
        return rpc_call_reply(call);
}

static void pack_listing(msgpack_packer *pk, const char *path, const struct file_listing *l, bool gen,
                         bool layers) {
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);

        if (gen) {
                if (l->has_generation)
                        rpc_pack_kv_uint(mpk, "generation", l->generation);
                else
                        rpc_pack_kv_nil(mpk, "generation");
        }
        rpc_pack_kv_str(mpk, "path", path);
        rpc_pack_key(mpk, "entries");
        msgpack_pack_array(mpk, l->n);
        for (size_t i = 0; i < l->n; i++) {
                const struct file_entry *f = &l->entries[i];
                struct rpc_map em;
                msgpack_packer *epk = rpc_map_begin(&em, mpk);

                /* Names are bytes from the file system (not always UTF-8): sent as they are. */
                rpc_pack_key(epk, "name");
                rpc_pack_strn(epk, f->name, strlen(f->name));
                rpc_pack_kv_str(epk, "type", file_type_to_string(f->type));
                rpc_pack_kv_uint(epk, "size", f->size);
                rpc_pack_kv_uint(epk, "mtime_usec", f->mtime_usec);
                rpc_pack_kv_uint(epk, "mode", f->mode);
                if (f->type == FILE_TYPE_SYMLINK) {
                        rpc_pack_kv_str(epk, "target", f->target);
                        rpc_pack_kv_bool(epk, "broken", f->broken);
                }
                if (layers)
                        rpc_pack_kv_str(epk, "layer", f->layer); /* nil: cannot be told */
                (void) rpc_map_end(&em);
        }
        rpc_pack_kv_bool(mpk, "truncated", l->truncated);
        (void) rpc_map_end(&map);
}

static int list_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        struct file_listing l = {};
        struct rpc_error e = {};
        int r;

        r = files_list(rootfd, a->overlay, a->path, &l, &e);
        if (r < 0)
                r = rpc_call_fail_error(call, &e);
        else {
                pack_listing(rpc_call_result(call), a->path, &l, true, false);
                r = rpc_call_reply(call);
        }
        file_listing_done(&l);
        return r;
}
FILE_METHOD(file_list, path_args, false, list_body)

static int read_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        _cleanup_free_ void *data = NULL;
        struct file_content fc = {};
        struct rpc_error e = {};
        struct rpc_map map;
        msgpack_packer *mpk;

        if (files_read(rootfd, a->overlay, a->path, &fc, &e) < 0)
                return rpc_call_fail_error(call, &e);
        data = fc.data;
        mpk = rpc_map_begin(&map, rpc_call_result(call));
        rpc_pack_kv_uint(mpk, "size", fc.size);
        rpc_pack_kv_bool(mpk, "binary", fc.binary);
        rpc_pack_key(mpk, "data");
        msgpack_pack_bin(mpk, fc.len);
        msgpack_pack_bin_body(mpk, fc.data, fc.len);
        (void) rpc_map_end(&map);
        return rpc_call_reply(call);
}
FILE_METHOD(file_read, path_args, false, read_body)

enum edit_kind { EDIT_WRITE, EDIT_MKDIR, EDIT_RENAME, EDIT_MOVE, EDIT_DELETE };

static int edit_run(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd,
                    enum edit_kind k) {
        static const char *const what[] = {
                [EDIT_WRITE] = "write", [EDIT_MKDIR] = "mkdir",   [EDIT_RENAME] = "rename",
                [EDIT_MOVE] = "move",   [EDIT_DELETE] = "delete",
        };
        struct files_ctx c;
        struct rpc_error e = {};
        uint64_t g = 0;
        int r;

        r = edit_ctx(h, call, a->overlay, rootfd, &c);
        if (r < 0)
                return r;
        switch (k) {
        case EDIT_WRITE:
                r = files_write(&c, a->overlay, a->path, a->data.ptr, a->data.len, a->create, &g, &e);
                break;
        case EDIT_MKDIR:
                r = files_mkdir(&c, a->overlay, a->path, &g, &e);
                break;
        case EDIT_RENAME:
                r = files_rename(&c, a->overlay, a->path, a->name, &g, &e);
                break;
        case EDIT_MOVE:
                r = files_move(&c, a->overlay, a->path, a->to, &g, &e);
                break;
        case EDIT_DELETE:
                r = files_delete(&c, a->overlay, a->path, a->recursive, &g, &e);
                break;
        }
        if (r < 0) {
                log_full_errno(e.code == RPC_INTERNAL ? LOG_ERR : LOG_INFO, 0, "file.%s in overlay '%s': %s",
                               what[k], a->overlay, e.message);
                return rpc_call_fail_error(call, &e);
        }
        log_info("Overlay '%s': file.%s '%s' made generation %" PRIu64, a->overlay, what[k], a->path, g);
        return reply_generation(call, g, NULL);
}

#define EDIT_METHOD(kind, method, table)                                                                    \
        static int method##_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) { \
                return edit_run(h, call, a, rootfd, kind);                                                  \
        }                                                                                                   \
        FILE_METHOD(method, table, false, method##_body)

EDIT_METHOD(EDIT_WRITE, file_write, write_args_table)
EDIT_METHOD(EDIT_MKDIR, file_mkdir, path_args)
EDIT_METHOD(EDIT_RENAME, file_rename, rename_args)
EDIT_METHOD(EDIT_MOVE, file_move, move_args_table)
EDIT_METHOD(EDIT_DELETE, file_delete, delete_args_table)

/* Answers {type, size, mtime_usec} with fd attached (taken); beneath: the folder's path below
 * fd, for a pinned generation root (see files_open), or NULL. */
static int reply_fd(struct rpc_call *call, int fd, const struct stat *st, const char *beneath) {
        struct rpc_map map;
        msgpack_packer *mpk;
        int r;

        r = rpc_call_attach_fd(call, fd);
        if (r < 0)
                return rpc_call_fail(call, r == -EOPNOTSUPP ? RPC_UNAVAILABLE : RPC_INTERNAL,
                                     "cannot pass a descriptor: %s", strerror(-r));
        mpk = rpc_map_begin(&map, rpc_call_result(call));
        rpc_pack_kv_str(mpk, "type", S_ISDIR(st->st_mode) ? "dir" : "file");
        rpc_pack_kv_uint(mpk, "size", st->st_size > 0 ? (uint64_t) st->st_size : 0);
        rpc_pack_kv_uint(mpk, "mtime_usec",
                         (uint64_t) st->st_mtim.tv_sec * 1000000ULL + (uint64_t) st->st_mtim.tv_nsec / 1000);
        if (beneath)
                rpc_pack_kv_str(mpk, "beneath", beneath);
        (void) rpc_map_end(&map);
        return rpc_call_reply(call);
}

static int open_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        struct rpc_error e = {};
        struct stat st;
        bool pinned = false;
        int fd;

        fd = files_open(rootfd, a->overlay, a->path, &st, &pinned, &e);
        if (fd < 0)
                return rpc_call_fail_error(call, &e);
        return reply_fd(call, fd, &st, pinned ? a->path : NULL);
}
FILE_METHOD(file_open, path_args, false, open_body)

static int instance_open_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        struct rpc_error e = {};
        struct stat st;
        int fd;

        fd = files_instance_open(rootfd, a->overlay, a->path, &st, &e);
        if (fd < 0)
                return rpc_call_fail_error(call, &e);
        return reply_fd(call, fd, &st, NULL);
}
FILE_METHOD(instance_open, instance_args, true, instance_open_body)

/* ---- pending uploads ---- */

struct files_upload {
        struct files_upload *next;
        struct hostd *h;
        char token[33];
        char id[NAME_LEN_MAX + 1];
        uid_t uid; /* who made it: only they commit or abort it */
        int fd;    /* hostd's read-only copy */
        sd_event_source *expire;
};

static void upload_drop(struct hostd *h, struct files_upload *u) {
        for (struct files_upload **p = &h->uploads; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        h->n_uploads--;
                        break;
                }
        sd_event_source_disable_unref(u->expire);
        safe_close(u->fd); /* the lease, if any, goes with it */
        free(u);
        rpc_server_busy_unref(daemon_server(h->daemon));
}

void files_uploads_free(struct hostd *h) {
        while (h->uploads) {
                struct files_upload *u = h->uploads;
                h->uploads = u->next;
                sd_event_source_disable_unref(u->expire);
                safe_close(u->fd);
                free(u);
        }
        h->n_uploads = 0;
}

static int on_upload_expire(sd_event_source *s, uint64_t usec, void *userdata) {
        struct files_upload *u = userdata;

        log_info("Upload for overlay '%s' was not committed within an hour; dropped", u->id);
        upload_drop(u->h, u);
        return 0;
}

static struct files_upload *upload_find(struct hostd *h, const char *token, const char *id, uid_t uid) {
        for (struct files_upload *u = h->uploads; u; u = u->next)
                if (streq(u->token, token) && streq(u->id, id) && u->uid == uid)
                        return u;
        return NULL;
}

static int upload_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        _cleanup_free_ struct files_upload *u = NULL;
        _cleanup_close_ int fd = -1;
        struct rpc_error e = {};
        unsigned char raw[16];
        struct rpc_map map;
        msgpack_packer *mpk;
        int r;

        if (h->n_uploads >= FILES_UPLOADS_MAX)
                return rpc_call_fail(
                        call, RPC_UNAVAILABLE,
                        "%u uploads are pending already; commit or abort one, or wait for one to expire",
                        h->n_uploads);
        u = calloc(1, sizeof(*u));
        if (!u || getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
                return rpc_call_fail(call, RPC_INTERNAL, "cannot make an upload token");
        u->fd = -1;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(u->token + 2 * i, 3, "%02x", raw[i]);
        fd = files_upload_open(rootfd, a->overlay, &u->fd, &e);
        if (fd < 0)
                return rpc_call_fail_error(call, &e);
        r = sd_event_add_time_relative(h->event, &u->expire, CLOCK_MONOTONIC, FILES_UPLOAD_TTL_US, 0,
                                       on_upload_expire, u);
        if (r < 0)
                r = rpc_call_fail(call, RPC_INTERNAL, "cannot arm the upload's expiry: %s", strerror(-r));
        else if ((r = rpc_call_attach_fd(call, TAKE_FD(fd))) < 0)
                r = rpc_call_fail(call, r == -EOPNOTSUPP ? RPC_UNAVAILABLE : RPC_INTERNAL,
                                  "cannot pass a descriptor: %s", strerror(-r));
        if (r < 0) {
                sd_event_source_disable_unref(u->expire);
                safe_close(u->fd);
                return r;
        }
        u->h = h;
        u->uid = rpc_call_peer(call)->uid;
        snprintf(u->id, sizeof(u->id), "%s", a->overlay);
        mpk = rpc_map_begin(&map, rpc_call_result(call));
        rpc_pack_kv_str(mpk, "upload", u->token);
        (void) rpc_map_end(&map);
        u->next = h->uploads;
        h->uploads = TAKE_PTR(u);
        h->n_uploads++;
        /* Pending work: hostd must not exit idle and lose it. */
        rpc_server_busy_ref(daemon_server(h->daemon));
        return rpc_call_reply(call);
}
FILE_METHOD(file_upload, overlay_args, false, upload_body)

static int commit_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        struct files_upload *u = upload_find(h, a->upload, a->overlay, rpc_call_peer(call)->uid);
        struct files_ctx c;
        struct rpc_error e = {};
        uint64_t g = 0, size = 0;
        bool consumed = false;
        int r;

        if (!u)
                return rpc_call_fail(
                        call, RPC_NOT_FOUND,
                        "no upload '%s' pending for overlay '%s' (committed, aborted, or expired after an "
                        "hour)",
                        a->upload, a->overlay);
        r = edit_ctx(h, call, a->overlay, rootfd, &c);
        if (r < 0)
                return r;
        r = files_commit(&c, a->overlay, u->fd, a->path, a->replace, &g, &size, &consumed, &e);
        if (consumed)
                upload_drop(h, u);
        if (r < 0) {
                log_full_errno(e.code == RPC_INTERNAL ? LOG_ERR : LOG_INFO, 0,
                               "file.commit in overlay '%s': %s%s", a->overlay, e.message,
                               consumed ? " (upload dropped)" : "");
                return rpc_call_fail_error(call, &e);
        }
        log_info("Overlay '%s': file.commit '%s' (%" PRIu64 " bytes) made generation %" PRIu64, a->overlay,
                 a->path, size, g);
        return reply_generation(call, g, &size);
}
FILE_METHOD(file_commit, commit_args, false, commit_body)

static int abort_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        struct files_upload *u = upload_find(h, a->upload, a->overlay, rpc_call_peer(call)->uid);
        struct rpc_map map;
        msgpack_packer *mpk;

        if (!u)
                return rpc_call_fail(call, RPC_NOT_FOUND, "no upload '%s' pending for overlay '%s'",
                                     a->upload, a->overlay);
        upload_drop(h, u);
        mpk = rpc_map_begin(&map, rpc_call_result(call));
        rpc_pack_kv_str(mpk, "upload", a->upload);
        (void) rpc_map_end(&map);
        return rpc_call_reply(call);
}
FILE_METHOD(file_abort, abort_args, false, abort_body)

/* ---- instance views ---- */

static int instance_list(struct rpc_call *call, struct hostd *h, struct file_args *a, int rootfd,
                         bool changes) {
        struct file_listing l = {};
        struct files_view *v = NULL;
        struct rpc_error e = {};
        int r;

        r = changes ? files_instance_changes(rootfd, a->overlay, a->path, &l, &e)
                    : files_instance_list(rootfd, h->cfg->root, a->overlay, a->path, &l, &v, &e);
        if (r < 0)
                r = rpc_call_fail_error(call, &e);
        else {
                pack_listing(rpc_call_result(call), a->path, &l, false, !changes);
                r = rpc_call_reply(call);
        }
        file_listing_done(&l);
        files_view_free(v);
        return r;
}

static int instance_files_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        return instance_list(call, h, a, rootfd, false);
}
FILE_METHOD(instance_files, instance_args, true, instance_files_body)

static int instance_changes_body(struct hostd *h, struct rpc_call *call, struct file_args *a, int rootfd) {
        return instance_list(call, h, a, rootfd, true);
}
FILE_METHOD(instance_changes, changes_args, true, instance_changes_body)
