/* SQLite helpers shared by jobs.db and web.db: errno mapping, statements without results,
 * and versioned migrations. Above proto/ because they log (at debug level, the SQL error). */
#pragma once

#include <sqlite3.h>

#include <stddef.h>

/* Makes sure the directory of the database file at path is one only this process's user may
 * enter: creates it (0700) if missing, else requires a real directory (no symlink) owned by
 * the effective uid with no group or other access, because SQLite's -wal and -shm files
 * appear beside the database with the process's umask and would otherwise be readable. On
 * failure err says why in a sentence the daemon can log. */
int db_dir_prepare(const char *path, char *err, size_t errlen);
/* SQLite result code → 0 or a negative errno (-EBUSY, -ENOSPC, -EIO, ...). */
int db_errno(int rc);
/* Opens path with flags (SQLITE_OPEN_*), extended result codes and a 5 s busy timeout: how
 * both databases want their connection. *ret is set (to close) even on failure. */
int db_open(const char *path, int flags, sqlite3 **ret);
/* Runs sql (one or more statements without results); 0 or a negative errno. */
int db_exec(sqlite3 *db, const char *sql);
/* PRAGMA user_version. */
int db_user_version(sqlite3 *db, int *ret);
/* Brings the schema from its user_version to target by running migrations[v] for each v in
 * between, all in one IMMEDIATE transaction: a crash half-way leaves the old version intact.
 * A file newer than latest (written by a later release) is refused: -EPROTONOSUPPORT. */
int db_migrate(sqlite3 *db, const char *const *migrations, int latest, int target);
/* Prepares n persistent statements (a NULL entry of sql is left NULL); on failure the ones
 * prepared stay in stmts for the caller's close to finalize. */
int db_prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **stmts, int n);
/* PRAGMA integrity_check: 0 if "ok", -EUCLEAN if not, or a negative errno. */
int db_integrity_check(sqlite3 *db);
