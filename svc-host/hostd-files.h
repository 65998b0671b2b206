/* File operations on one overlay (the web UI's files overlays), and the read-only view of a
 * server's merged tree: docs/host.md, "File operations".
 *
 * Every edit makes a new generation, the steps a build takes (hostd-overlay.h): prepare,
 * fill from the current one (published files hardlinked, never written through), the change,
 * size cap, publish, commit. A running server keeps the generation it mounted. Every path is
 * resolved beneath the generation (or the merged view) with no symlink followed.
 *
 * The files_* functions below do the work and know nothing of RPC calls (the unit tests call
 * them); the method handlers at the end are hostd's glue, registered in hostd.c. */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "proto/rpc.h"

struct hostd;
struct rpc_call;

#define FILES_PATH_MAX      4095u               /* bytes of a path (PATH_MAX less its NUL) */
#define FILES_NAME_MAX      255u                /* bytes of one name */
#define FILES_LIST_MAX      500u                /* entries of one listing */
#define FILES_EDIT_MAX      (1024u * 1024u)     /* file.read / file.write data */
#define FILES_SNIFF_BYTES   8192u               /* what binary detection looks at */
#define FILES_UPLOADS_MAX   32u                 /* pending uploads, all callers together */
#define FILES_UPLOAD_TTL_US (3600ull * 1000000) /* a pending upload is dropped after that */

/* A path in an overlay: "" (the root, only when allow_root) or '/'-separated names, no
 * leading '/', no empty, '.' or '..' name, each at most 255 bytes, at most 4095 in all.
 * Fills e (RPC_INVALID, naming field) when it is not. */
int files_path_check(const char *field, const char *path, bool allow_root, struct rpc_error *e);

/* What every edit needs: the root, who owns published files (left4me-build) and the cap. */
struct files_ctx {
        int rootfd;
        uid_t owner_uid;
        gid_t owner_gid;
        uint64_t max_bytes; /* sandbox.overlay_max_bytes */
};

enum file_type { FILE_TYPE_FILE, FILE_TYPE_DIR, FILE_TYPE_SYMLINK, FILE_TYPE_OTHER, FILE_TYPE_DELETED };
const char *file_type_to_string(enum file_type t);

struct file_entry {
        char name[FILES_NAME_MAX + 1];
        enum file_type type;
        uint64_t size, mtime_usec;
        mode_t mode;       /* permission bits */
        char *target;      /* symlinks: their text */
        bool broken;       /* symlinks: the target does not resolve beneath the tree */
        const char *layer; /* instance.files: where it comes from (points into the view) */
};

struct file_listing {
        bool has_generation; /* false: the overlay has none yet (entries empty) */
        uint64_t generation;
        struct file_entry *entries;
        size_t n;
        bool truncated; /* more than FILES_LIST_MAX */
};
void file_listing_done(struct file_listing *l);

/* One level of path in overlay id's current generation, directories first, then by name. */
int files_list(int rootfd, const char *id, const char *path, struct file_listing *ret, struct rpc_error *e);

/* A file for the editor: its size, whether it looks binary, and its bytes (at most
 * FILES_EDIT_MAX; larger is RPC_INVALID, naming the size). */
struct file_content {
        uint64_t size;
        bool binary;
        char *data;
        size_t len;
};
int files_read(int rootfd, const char *id, const char *path, struct file_content *ret, struct rpc_error *e);

/* Opens path in overlay id's current generation read-only for a caller to read by itself.
 * Returns the fd; *ret_st the stat of path. A regular file: its fd. A directory: the
 * generation's root (O_DIRECTORY) with a shared flock that pins the generation against
 * overlay_gc for as long as the descriptor lives (*ret_pinned); the caller opens path
 * beneath it. */
int files_open(int rootfd, const char *id, const char *path, struct stat *ret_st, bool *ret_pinned,
               struct rpc_error *e);

/* The edits. Each makes a new generation of id and returns its number in *ret_gen. */
int files_write(const struct files_ctx *c, const char *id, const char *path, const void *data, size_t len,
                bool create, uint64_t *ret_gen, struct rpc_error *e);
int files_mkdir(const struct files_ctx *c, const char *id, const char *path, uint64_t *ret_gen,
                struct rpc_error *e);
int files_rename(const struct files_ctx *c, const char *id, const char *path, const char *name,
                 uint64_t *ret_gen, struct rpc_error *e);
int files_move(const struct files_ctx *c, const char *id, const char *path, const char *to,
               uint64_t *ret_gen, struct rpc_error *e);
int files_delete(const struct files_ctx *c, const char *id, const char *path, bool recursive,
                 uint64_t *ret_gen, struct rpc_error *e);

/* Uploads: an O_TMPFILE (root's, 0600, read-write) in overlays/.gen/ID/, for the caller to
 * fill through its descriptor. Returns the read-write fd; *ret_ro a read-only copy of hostd's. */
int files_upload_open(int rootfd, const char *id, int *ret_ro, struct rpc_error *e);
/* Links the upload (hostd's read-only copy ro) in at path: refused (RPC_CONFLICT) while
 * anyone holds it open for writing (a read lease, taken while the file is still root's), when
 * the name is taken and !replace. *ret_consumed says whether the upload is used up (false: a
 * refusal the caller may retry after fixing it). */
int files_commit(const struct files_ctx *c, const char *id, int ro, const char *path, bool replace,
                 uint64_t *ret_gen, uint64_t *ret_size, bool *ret_consumed, struct rpc_error *e);

/* A server's merged view, runtime/NAME/merged (RPC_NOT_FOUND "not mounted" otherwise):
 * one level with each entry's layer ("upper", an overlay id, "workshop", "installation"). */
struct files_view;
struct files_view *files_view_free(struct files_view *v);
/* root: paths.root as instance.env names it. */
int files_instance_list(int rootfd, const char *root, const char *name, const char *path,
                        struct file_listing *ret, struct files_view **ret_view, struct rpc_error *e);
/* Opens path in the merged view read-only (a file, or a directory). */
int files_instance_open(int rootfd, const char *name, const char *path, struct stat *ret_st,
                        struct rpc_error *e);
/* One level of runtime/NAME/upper (what the server changed), whiteouts as FILE_TYPE_DELETED. */
int files_instance_changes(int rootfd, const char *name, const char *path, struct file_listing *ret,
                           struct rpc_error *e);

/* ---- hostd's methods (hostd.c's table) --------------------------------------------------------- */

int hostd_method_file_list(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_read(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_write(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_mkdir(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_rename(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_move(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_delete(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_open(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_upload(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_commit(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_file_abort(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_instance_files(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_instance_open(struct rpc_call *call, const msgpack_object *params, void *userdata);
int hostd_method_instance_changes(struct rpc_call *call, const msgpack_object *params, void *userdata);

/* Drops every pending upload (hostd's teardown). */
void files_uploads_free(struct hostd *h);
