/* The files of one instance: <root>/instances/NAME/ (spec.yaml, instance.env, server.cfg,
 * server_<alias>.cfg; written by root, readable by left4me-game) and
 * <root>/runtime/NAME/{upper,work,merged} (the overlay mount of the running game).
 *
 * Path safety: every path is resolved beneath a directory fd (hostd-fs.h), so neither a
 * hostile spec nor a file planted by the game or a build can make hostd read or write
 * outside its tree. The root, every directory above it, instances/ and runtime/ must be
 * owned by root and not writable by group or others (hostd-fs.h root_open, trusted_dir_open):
 * PID 1 resolves the server unit's EnvironmentFile= and BindPaths= below them as strings.
 *
 * Used by hostd.c (initialize/delete/reset/status/list) and hostd-mount.c (the mount and
 * umount subcommands run from the server unit). All calls are synchronous file system
 * work on local disk; none of them waits for another process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <sys/types.h>

#include "proto/names.h"
#include "proto/rpc.h"
#include "proto/spec.h"
#include "svc-host/hostd-fs.h"

#define GAME_USER    L4M_USER_GAME
#define INSTALL_USER L4M_USER_STEAM

/* The game user's ids; false (and root's) when the user does not exist (development). */
bool game_user_ids(uid_t *ret_uid, gid_t *ret_gid);

/* Validates the spec's overlays against the file system (they exist below overlays/, are
 * directories and do not leave it through symlinks), then writes instances/NAME/ atomically
 * (a new directory swapped in with RENAME_EXCHANGE) and creates runtime/NAME/. On a bad
 * overlay fills e with RPC_INVALID; on file system trouble with RPC_INTERNAL. */
int instance_initialize(const char *root, const char *name, const char *spec_text, size_t spec_len,
                        const struct instance_spec *spec, struct rpc_error *e);
/* Creates runtime/NAME/{upper,work,merged} with their owners if missing. Returns an fd of
 * runtime/NAME. */
int runtime_ensure(int rootfd, const char *name, struct rpc_error *e);
/* Removes runtime/NAME then instances/NAME. Refuses (-EBUSY, RPC_CONFLICT) while
 * runtime/NAME/merged is still mounted. Missing is success; *ret_existed says whether
 * anything was there. */
int instance_remove(const char *root, const char *name, bool *ret_existed, struct rpc_error *e);

/* The stored instances/NAME/spec.yaml (at most SPEC_MAX_BYTES; *ret NUL-terminated),
 * read beneath the root fd without following symlinks. RPC_NOT_FOUND when the instance
 * is not initialized (or has no spec.yaml), RPC_INTERNAL otherwise. */
int instance_read_spec(const char *root, const char *name, char **ret, size_t *ret_len, struct rpc_error *e);

/* Facts for status: does instances/NAME exist, the port from its instance.env (0 if
 * unknown), whether merged is mounted. Never fails for a missing instance. */
struct instance_files {
        bool initialized;
        bool runtime;
        bool mounted;
        unsigned port;
};
/* runtime/NAME/mount-error: the reason the last mount of NAME failed (written by
 * "left4me-hostd mount", removed when a mount begins). */
#define MOUNT_ERROR_FILE "mount-error"
/* Copies that reason (one line, no newline) into buf if the file exists and was written at or
 * after since_usec (CLOCK_REALTIME); returns 1 then, 0 if there is none, or a negative errno. */
int instance_mount_error(const char *root, const char *name, uint64_t since_usec, char *buf, size_t len);

int instance_inspect(const char *root, const char *name, struct instance_files *ret);
/* The valid instance names below instances/ (sorted), NULL-terminated. */
int instance_list(const char *root, char ***ret);
