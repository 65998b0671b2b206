/* The directory of an overlay, <root>/overlays/ID: what a build writes and servers stack. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto/rpc.h"

/* Creates <root>/overlays/ID if missing (overlays/ must be root's and not writable by
 * others), refuses a symlink, and hands it to uid:gid (a build's lease) with mode 0755,
 * with every entry below it that one of the n_from uids owns (the published owner, the other
 * leases). Returns an O_DIRECTORY fd of it, or < 0 with e filled. */
int overlay_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, const uid_t *from, size_t n_from,
                    struct rpc_error *e);
/* Publishes what a build left below dirfd: everything owned by uid:gid (the fixed owner,
 * left4me-build); o+r on files, o+rx on directories and on files that are executable by
 * someone; no group/other write, set-id or sticky bit; FIFOs, sockets and devices removed,
 * hardlinks broken. Never follows a symlink (a symlink itself is re-owned), never descends
 * into another mount. Returns the number of changes, or < 0. */
int overlay_publish(int dirfd, uid_t uid, gid_t gid);
/* Removes <root>/overlays/ID (never following a symlink, never entering a mount). Missing is
 * success; *ret_existed says whether it was there. */
int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e);
