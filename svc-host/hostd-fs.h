/* Safe file system primitives for hostd: every path is resolved beneath a directory fd with
 * openat2() (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, and RESOLVE_NO_SYMLINKS where no
 * symlink is legitimate), so a file planted by the game or a build cannot redirect a read or
 * write of hostd's outside the tree it meant. Used by the instance files, the overlay
 * mounts and the builds. trusted_dir_open() logs why it refuses a directory. */
#pragma once

#include <linux/openat2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RESOLVE_SAFE   (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
#define FILE_MAX_BYTES (1024u * 1024u)
/* Directories rm_rf_at keeps open at once (not a depth limit: deeper ones are moved up). */
#define RM_MAX_OPEN 32u

/* openat2() with the given resolve flags; retries EAGAIN. Returns an fd or -errno. Where
 * openat2 is unavailable (ENOSYS: old kernel, or a seccomp filter that does not know it,
 * as systemd 252's SystemCallFilter=@system-service) the same resolution is done by hand,
 * component by component with O_NOFOLLOW (RESOLVE_NO_XDEV and RESOLVE_NO_MAGICLINKS are
 * then implied by refusing absolute symlinks). */
int openat2_fd(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve);
/* Tests: use the by-hand resolution even where openat2 works. */
void openat2_force_fallback(bool b);
/* Opens a directory below dirfd without following any symlink; O_DIRECTORY|O_CLOEXEC. */
int dir_open_nofollow(int dirfd, const char *path);
/* Opens root (an absolute path from the config), which with every directory above it must
 * be root's and not writable by group or others (an ancestor may be sticky, as /tmp), with
 * no symlink on the way: -EPERM (logged) otherwise, -ELOOP for a symlink. */
int root_open(const char *root);
/* Opens root/<name> (instances, runtime) and checks it is a directory owned by root and not
 * writable by group or others: -EPERM otherwise. */
int trusted_dir_open(int rootfd, const char *name);

/* Reads a regular file below dirfd (no symlinks, at most max bytes: -EFBIG). *ret is
 * NUL-terminated. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes a file below dirfd atomically (a temporary file, fsync, renameat); never follows a
 * symlink. uid/gid (uid_t) -1 leave the owner alone. */
int write_file_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode, uid_t uid,
                  gid_t gid);
/* Removes name below dirfd and everything in it, at any depth, never following symlinks and
 * never descending into another mount (-EBUSY). Missing is success. */
int rm_rf_at(int dirfd, const char *name);
/* Hands the directory name below dirfd, and everything in it that one of the n_from uids
 * owns, to uid:gid, never following a symlink (a symlink itself is re-owned) and never
 * crossing into another mount. Other owners' entries (root's staged files) are left as they
 * are. At most CHOWN_MAX_DEPTH levels: -ELOOP beyond. Returns how many entries changed (the
 * directory itself counts as one). */
#define CHOWN_MAX_DEPTH 256u
int chown_tree_at(int dirfd, const char *name, const uid_t *from, size_t n_from, uid_t uid, gid_t gid);
/* 1 if path below dirfd is the root of a mount, 0 if not, -ENOENT if absent. */
int is_mount_root_at(int dirfd, const char *path);
