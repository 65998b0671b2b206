/* Overlays: <root>/overlays/ID, what a build writes and servers stack, in generations.
 *
 *   overlays/ID            -> .gen/ID/N   a symlink hostd made: the current generation
 *   overlays/.gen/ID/N/                   generation N (root's dirs above it, no service
 *                                         user can rename or swap one)
 *   overlays/ID/                          a plain directory an operator made: generation 0
 *   runtime/NAME/layers                   what the mount of NAME stacked: "ID N" a line
 *
 * A build makes generation N = (highest there) + 1 in a fresh directory, and only once it
 * succeeded and is published does the symlink switch to it (one rename: a crash before
 * leaves the old one current and N unreachable, removed by the next build of ID). The mount
 * resolves each ref to the current generation under a shared lock of overlays/ and records
 * it; a generation below the current one is removed (under the exclusive lock) once no
 * mounted instance records it. docs/host.md, "Overlay generations". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/names.h"
#include "proto/rpc.h"

#define OVERLAY_GENS_DIR    ".gen"
#define OVERLAY_LAYERS_FILE "layers"
#define OVERLAY_REF_MAX     255u
#define OVERLAYS_LIST_MAX   10000u

/* One overlay layer of a mount: the overlay (the ref's first component) and its generation
 * (0: a plain directory). */
struct overlay_layer {
        char id[OVERLAY_REF_MAX + 1];
        uint64_t generation;
};

/* Opens overlays/ (root's, not writable by group or others: -EPERM otherwise), creating it
 * (root, 0755) if asked. */
int overlays_dir_open(int rootfd, bool create);
/* Takes (LOCK_SH: a mount resolving refs; LOCK_EX: removing generations) the lock of the
 * overlays/ fd; blocks. */
int overlays_lock(int overlays_fd, bool exclusive);

/* A ref: 1-255 bytes of '/'-separated components of A-Z a-z 0-9 . _ - (no empty, '.' or
 * '..' component), the first not starting with '.' (those names are hostd's). */
bool overlay_ref_is_valid(const char *ref);
/* overlays/ID: 1 and its generation for a symlink hostd made, 0 (generation 0) for a plain
 * directory; -ENOENT; -EMEDIUMTYPE for a symlink hostd did not make; -ENOTDIR otherwise. */
int overlay_current(int overlays_fd, const char *id, uint64_t *ret_gen);
/* Opens ref (O_PATH, a directory) in the current generation of its overlay, the rest of the
 * ref resolved beneath that generation (a symlink in it cannot lead to another overlay or
 * generation). An operator's alias (a root-owned symlink overlays/A -> B) is followed while its
 * target is a ref. ret says which overlay and generation. -EINVAL for a bad ref, -EXDEV for a
 * symlink that leads anywhere else. */
int overlay_ref_open(int overlays_fd, const char *ref, struct overlay_layer *ret);

/* Opens overlays/.gen (id NULL) or overlays/.gen/ID, root's and not writable by group or
 * others, creating them (root, 0755) if asked. */
int overlay_gen_dir_open(int overlays_fd, const char *id, bool create);
/* Creates the next generation of ID below overlays/.gen/ID (removing what a crashed build
 * left above the current one), handed to uid:gid with mode 0755; refuses (conflict) when
 * overlays/ID is something hostd did not make. Returns its fd and *ret_gen, or < 0 with e. */
int overlay_gen_prepare(int rootfd, const char *id, uid_t uid, gid_t gid, uint64_t *ret_gen,
                        struct rpc_error *e);
/* Fills a new generation (gen_fd, from overlay_gen_prepare) with the content of ID's current
 * one, before a build from "current": directories are made anew for the lease (lease_uid:gid,
 * their modes), symlinks copied (owned by the lease, never followed), regular files that the
 * lease can neither write nor re-mode (owner_uid:gid's, left4me-build: published ones) are
 * hardlinked, anything else (an operator's plain directory) copied for the lease; FIFOs,
 * sockets, devices and other mounts are left out. The old generation is never changed. 0
 * when there is no current generation (nothing to fill), 1 when filled, < 0 with e. */
struct overlay_fill_stats {
        uint64_t generation; /* the one it was filled from */
        uint64_t dirs, linked, copied, symlinks;
};
int overlay_gen_fill(int rootfd, const char *id, int gen_fd, uid_t lease_uid, gid_t lease_gid,
                     uid_t owner_uid, gid_t owner_gid, struct overlay_fill_stats *ret_stats,
                     struct rpc_error *e);
/* Makes generation gen (published) the current one of ID; a plain directory that was
 * there becomes generation 0. Then collects ID's unused generations. */
int overlay_gen_commit(int rootfd, const char *id, uint64_t gen, struct rpc_error *e);
/* Removes generation gen (> 0) of ID (a build that failed, or was cancelled). */
void overlay_gen_discard(int rootfd, const char *id, uint64_t gen);
/* Removes every generation below the current one that no mounted instance records (only
 * ID's, or all with id NULL). Returns how many, or < 0. */
int overlay_gc(int rootfd, const char *id);

/* Publishes what a build left below dirfd: everything owned by uid:gid (the fixed owner,
 * left4me-build); o+r on files, o+rx on directories and on files that are executable by
 * someone; no group/other write, set-id or sticky bit; FIFOs, sockets and devices removed,
 * hardlinks broken. Never follows a symlink (a symlink itself is re-owned), never descends
 * into another mount. Returns the number of changes, or < 0. */
int overlay_publish(int dirfd, uid_t uid, gid_t gid);
/* The size of what is below dirfd, as a cap counts it: every name on its own (a hardlinked
 * file once per name), a regular file at the larger of its length and its allocated blocks
 * (a sparse file counts at what a copy of it may grow to, a preallocated one at what it takes
 * on disk), directories and symlinks at their blocks; saturating. Never follows a symlink nor
 * enters another mount; -ELOOP deeper than publishing goes. Only stats: run before
 * publishing, so a build over the cap is never published (whose hardlink copies it bounds). */
int overlay_size(int dirfd, uint64_t *ret_bytes);
/* Records a generation's size (overlay_size) on its directory, as the xattr
 * trusted.left4me.bytes: only CAP_SYS_ADMIN sets or reads trusted.*, so a build cannot forge
 * it. Best effort (a file system without xattrs: no size is reported). */
void overlay_gen_record_size(int gen_fd, uint64_t bytes);
/* "21.3 GiB", "512 KiB", "17 B": bytes for a message. */
void overlay_format_bytes(uint64_t bytes, char *buf, size_t size);
/* Removes overlays/ID and all its generations (never following a symlink, never entering a
 * mount). Refused (RPC_CONFLICT, naming them) while a mounted instance uses any generation of
 * it. Missing is success; *ret_existed says whether it was there. */
int overlay_remove(const char *root, const char *id, bool *ret_existed, struct rpc_error *e);

/* runtime/NAME/layers (root, 0640): the overlay layers of the mount, in layer order. */
int layers_write(int runtime_name_fd, const struct overlay_layer *l, size_t n);
/* -ENOENT if there is no record. */
int layers_read(int runtime_name_fd, struct overlay_layer **ret, size_t *ret_n);

/* Which mounted instance uses which generation: one entry per overlay layer. */
struct overlay_use {
        char instance[NAME_LEN_MAX + 1];
        struct overlay_layer layer;
};
int overlay_uses(int rootfd, struct overlay_use **ret, size_t *ret_n);

/* The current generation of every overlay (plain directories: 0, built_usec their mtime),
 * sorted by id. */
struct overlay_info {
        char id[OVERLAY_REF_MAX + 1];
        uint64_t generation;
        uint64_t built_usec; /* when it became current (CLOCK_REALTIME) */
        uint64_t bytes;      /* its size as its build measured it; UINT64_MAX: unknown */
};
int overlay_list(int rootfd, struct overlay_info **ret, size_t *ret_n);
