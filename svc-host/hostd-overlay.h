/* The directory of an overlay, <root>/overlays/ID: what a build writes and servers stack. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proto/rpc.h"

/* Creates <root>/overlays/ID if missing (overlays/ must be root's and not writable by
 * others), refuses a symlink, and hands it to uid:gid with mode 0755. Returns an O_DIRECTORY
 * fd of it, or < 0 with e filled. */
int overlay_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, struct rpc_error *e);
/* Makes everything below dirfd world-readable: o+r on files, o+rx on directories and on
 * files that are executable by someone; drops setuid/setgid bits. Never follows a symlink,
 * never descends into another mount; symlinks, FIFOs, sockets and devices are left alone.
 * Returns the number of entries changed, or < 0. */
int overlay_publish(int dirfd);
/* Removes <root>/overlays/ID (never following a symlink, never entering a mount). Missing is
 * success; *ret_existed says whether it was there. */
int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e);
