/* web.db: webd's own store (SQLite in WAL mode): users, sessions and the audit log.
 *
 * Same scheme as jobs.db (svc-jobs/jobd-db.h): the schema is versioned with PRAGMA
 * user_version and migrated step by step in one transaction at open; every change below
 * is one transaction with synchronous=FULL, so a kill or a power cut leaves either the old
 * or the new state, never half of it (a password change and the end of the user's other
 * sessions commit together, and so does the audit entry passed along with a change). The
 * file (and SQLite's -wal/-shm beside it, which inherit its mode) is 0600: it holds
 * password hashes.
 *
 * Sessions are stored by the hash of their id only (webd-auth.h); lookups check the idle
 * and the absolute expiry. Ending sessions is part of the changes that need it: a new
 * password ends every other session of the user, deactivation and a role change end all of
 * them. The last active admin cannot be deleted, deactivated or demoted (-EBUSY).
 *
 * The audit table is append-only: a trigger refuses UPDATE, and DELETE of any entry not
 * older than the retention cutoff (webd_db_audit_prune, which only moves it forward), so
 * even a bug in webd cannot rewrite history (an admin with the sqlite3 shell can, by
 * dropping the triggers).
 *
 * Blocking: every call is a short indexed statement on a small database; webd calls them
 * on its loop. Not thread-safe: one connection, used from one thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBD_DB_VERSION 4

#define WEBD_DB_USERNAME_MAX      64u    /* bytes; enforced by the schema too */
#define WEBD_DB_SESSIONS_PER_USER 32u    /* the oldest are ended beyond this */
#define WEBD_DB_UA_MAX            256u   /* characters of User-Agent kept */
#define WEBD_DB_AUDIT_TEXT_MAX    4096u  /* characters kept of each audit text field */
#define WEBD_DB_PAGE_MAX          500u   /* rows per audit page, and the default */
#define WEBD_DB_LIST_MAX          10000u /* users listed at most */
#define WEBD_DB_HASH_BYTES        32u

struct webd_db;

/* Opens (creating it 0600 if needed) and migrates to WEBD_DB_VERSION. -EPROTONOSUPPORT if
 * the file is from a newer webd, -EUCLEAN if it is not a database. */
int webd_db_open(const char *path, struct webd_db **ret);
/* Tests: migrates only up to version (0 = leave empty); only a full open prepares the
 * statements, so nothing else may be called on such a handle but close/version. */
int webd_db_open_at_version(const char *path, int version, struct webd_db **ret);
struct webd_db *webd_db_close(struct webd_db *db);
int webd_db_version(struct webd_db *db);
int webd_db_integrity_check(struct webd_db *db);
const char *webd_db_errmsg(struct webd_db *db);

/* ---- audit ------------------------------------------------------------------------------ */

/* One entry. Strings may be NULL except kind and result. Times are realtime microseconds. */
struct webd_audit {
        int64_t id; /* set when stored */
        int64_t at_usec;
        const char *actor;   /* username, or "system", "cli" */
        const char *kind;    /* "login", "logout", "user.create", "user.delete", ... */
        const char *object;  /* what it acted on: "user:3" */
        const char *address; /* client address */
        const char *result;  /* "ok", "denied", "failed", "rate-limited" */
        const char *detail;
        const char *token; /* the API token's name the request came with; NULL: none */
};

int webd_db_audit_append(struct webd_db *db, const struct webd_audit *a, int64_t *ret_id);

struct webd_audit_filter {
        const char *actor, *kind, *object, *result; /* NULL = any; exact match */
        int64_t since_usec, until_usec;             /* 0 = unbounded; since <= at < until */
        int64_t before_id;                          /* 0 = from the newest */
        unsigned limit;                             /* 0 or > WEBD_DB_PAGE_MAX = WEBD_DB_PAGE_MAX */
};
/* Strings are valid during the callback only. A negative return from cb stops and is
 * returned. */
typedef int (*webd_audit_cb)(const struct webd_audit *a, void *userdata);
/* Calls cb for matching entries, newest first, at most f->limit; *ret_next_before_id is
 * the before_id of the next page, 0 if this was the last one. */
int webd_db_audit_query(struct webd_db *db, const struct webd_audit_filter *f, webd_audit_cb cb,
                        void *userdata, int64_t *ret_next_before_id);
/* The audit log's retention (web.audit_retention_days): moves the stored cutoff forward to
 * cutoff_usec (a later stored one is kept: it never moves back) and deletes the entries
 * older than the cutoff, in one transaction. Returns how many were deleted, or -errno.
 * Entries at or after the cutoff are never deleted: web.db's trigger refuses it. */
int webd_db_audit_prune(struct webd_db *db, int64_t cutoff_usec);

/* ---- users ------------------------------------------------------------------------------ */

struct webd_user {
        int64_t id;
        char *username;
        char *password_hash;
        bool is_admin, active, must_change_password;
        int64_t password_changed_usec, created_usec;
};
void webd_user_done(struct webd_user *u);

/* Every change takes an optional audit entry (NULL = none) stored in the same transaction. */

/* -EEXIST if the name is taken (names compare case-insensitively in ASCII), -EINVAL if it
 * is empty or longer than WEBD_DB_USERNAME_MAX. */
int webd_db_user_create(struct webd_db *db, const char *username, const char *password_hash, bool is_admin,
                        bool must_change_password, int64_t now_usec, const struct webd_audit *audit,
                        int64_t *ret_id);
/* -ENOENT if there is none. ret is filled with malloc'd strings (webd_user_done). */
int webd_db_user_get(struct webd_db *db, int64_t id, struct webd_user *ret);
int webd_db_user_get_by_name(struct webd_db *db, const char *username, struct webd_user *ret);
/* By username; the record is valid during the callback only. */
typedef int (*webd_user_cb)(const struct webd_user *u, void *userdata);
int webd_db_user_list(struct webd_db *db, webd_user_cb cb, void *userdata);
/* Sets the hash and password_changed_at and ends every session of the user except
 * keep_session (a session id hash; NULL = end them all: an admin reset). */
int webd_db_user_set_password(struct webd_db *db, int64_t id, const char *password_hash,
                              bool must_change_password, int64_t now_usec, const uint8_t *keep_session,
                              const struct webd_audit *audit);
/* Replaces a hash made with older limits by new_hash, the same password's: nothing else
 * changes (no session ends, password_changed_at stays). -ENOENT if the hash is no longer
 * old_hash (the password was changed meanwhile). */
int webd_db_user_rehash(struct webd_db *db, int64_t id, const char *old_hash, const char *new_hash);
/* Ends all of the user's sessions (also on activation: there are none, harmless).
 * -EBUSY if it would deactivate the last active admin. */
int webd_db_user_set_active(struct webd_db *db, int64_t id, bool active, const struct webd_audit *audit);
/* Ends all of the user's sessions. -EBUSY if it would demote the last active admin. */
int webd_db_user_set_admin(struct webd_db *db, int64_t id, bool is_admin, const struct webd_audit *audit);
/* Deletes the user and their sessions. -EBUSY if they are the last active admin. (Refusing
 * self-deletion and users who still own servers is the caller's: it knows the actor and
 * the other tables.) */
int webd_db_user_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit);

/* ---- sessions --------------------------------------------------------------------------- */

struct webd_session {
        uint8_t id_hash[WEBD_DB_HASH_BYTES];
        int64_t user_id;
        char *csrf;
        int64_t created_usec, last_seen_usec;
        int64_t idle_expires_usec;     /* last_seen + idle timeout, capped by the absolute */
        int64_t absolute_expires_usec; /* created + the maximum lifetime */
        char *address, *user_agent;
};
void webd_session_done(struct webd_session *s);

/* Stores s (strings are copied; user_agent cut to WEBD_DB_UA_MAX characters). Beyond
 * WEBD_DB_SESSIONS_PER_USER, the user's least recently seen sessions are ended. */
int webd_db_session_create(struct webd_db *db, const struct webd_session *s);
/* The session and its user, if the session exists, neither expiry has passed at now_usec
 * and the user is active. -ENOENT if unknown (or the user is inactive), -ETIMEDOUT if it
 * expired (and it is deleted). ret_user may be NULL. */
int webd_db_session_lookup(struct webd_db *db, const uint8_t id_hash[WEBD_DB_HASH_BYTES], int64_t now_usec,
                           struct webd_session *ret, struct webd_user *ret_user);
/* Marks the session seen at now_usec: the idle expiry moves to now + idle_usec (never past
 * the absolute one). -ENOENT if it is gone. Callers touch at most once a minute per session:
 * each touch is a durable write. */
int webd_db_session_touch(struct webd_db *db, const uint8_t id_hash[WEBD_DB_HASH_BYTES], int64_t now_usec,
                          int64_t idle_usec);
/* -ENOENT if there was none. */
int webd_db_session_delete(struct webd_db *db, const uint8_t id_hash[WEBD_DB_HASH_BYTES]);
/* Ends all sessions of user_id except keep (NULL = all); returns how many. */
int webd_db_sessions_delete_user(struct webd_db *db, int64_t user_id, const uint8_t *keep);
/* The user's sessions, most recently seen first; valid during the callback only. */
typedef int (*webd_session_cb)(const struct webd_session *s, void *userdata);
int webd_db_sessions_list_user(struct webd_db *db, int64_t user_id, webd_session_cb cb, void *userdata);
/* Deletes every expired session; returns how many. */
int webd_db_sessions_prune(struct webd_db *db, int64_t now_usec);
