/* See webd-db.h. */
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "daemon/sqlite.h"
#include "base/util.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-db-internal.h"

/* Migrations, applied in order; migration i brings the schema from version i to i + 1.
 * Never edit a released step: add a new one, bump WEBD_DB_VERSION, and give
 * tests/svc-web/test-db.c's fill[] an entry that writes data in the old schema. */
static const char *const migrations[WEBD_DB_VERSION] = {
        /* 0 → 1: users, sessions, the audit log. */
        "CREATE TABLE users ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  username TEXT NOT NULL UNIQUE COLLATE NOCASE"
        "    CHECK (length(username) BETWEEN 1 AND 64),"
        "  password_hash TEXT NOT NULL,"
        "  is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),"
        "  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"
        "  must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),"
        "  password_changed_usec INTEGER NOT NULL,"
        "  created_usec INTEGER NOT NULL);"
        "CREATE TABLE sessions ("
        "  id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  csrf TEXT NOT NULL,"
        "  created_usec INTEGER NOT NULL,"
        "  last_seen_usec INTEGER NOT NULL,"
        "  idle_expires_usec INTEGER NOT NULL,"
        "  absolute_expires_usec INTEGER NOT NULL,"
        "  address TEXT,"
        "  user_agent TEXT) WITHOUT ROWID;"
        "CREATE INDEX sessions_by_user ON sessions(user_id, last_seen_usec);"
        "CREATE INDEX sessions_by_expiry ON sessions(idle_expires_usec);"
        "CREATE TABLE audit ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  at_usec INTEGER NOT NULL,"
        "  actor TEXT,"
        "  kind TEXT NOT NULL,"
        "  object TEXT,"
        "  address TEXT,"
        "  result TEXT NOT NULL,"
        "  detail TEXT);"
        "CREATE INDEX audit_by_actor ON audit(actor, id);"
        "CREATE INDEX audit_by_kind ON audit(kind, id);"
        "CREATE INDEX audit_by_object ON audit(object, id);"
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
        "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
        "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",
        /* 1 → 2: blueprints (with their ordered overlays) and servers. Owners are not
         * cascaded: a user who owns either is not deleted (the admin page says so). */
        "CREATE TABLE blueprints ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  owner_id INTEGER NOT NULL REFERENCES users(id),"
        "  name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 128),"
        "  arguments TEXT NOT NULL DEFAULT '' CHECK (length(CAST(arguments AS BLOB)) <= 4096),"
        "  config TEXT NOT NULL DEFAULT '' CHECK (length(CAST(config AS BLOB)) <= 65536),"
        "  created_usec INTEGER NOT NULL,"
        "  updated_usec INTEGER NOT NULL,"
        "  UNIQUE (owner_id, name));"
        "CREATE TABLE blueprint_overlays ("
        "  blueprint_id INTEGER NOT NULL REFERENCES blueprints(id) ON DELETE CASCADE,"
        "  position INTEGER NOT NULL CHECK (position BETWEEN 0 AND 63),"
        "  overlay TEXT NOT NULL CHECK (length(overlay) BETWEEN 1 AND 64),"
        "  expose INTEGER NOT NULL DEFAULT 0 CHECK (expose IN (0, 1)),"
        "  PRIMARY KEY (blueprint_id, position),"
        "  UNIQUE (blueprint_id, overlay)) WITHOUT ROWID;"
        "CREATE INDEX blueprint_overlays_by_overlay ON blueprint_overlays(overlay);"
        "CREATE TABLE servers ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  owner_id INTEGER NOT NULL REFERENCES users(id),"
        "  blueprint_id INTEGER NOT NULL REFERENCES blueprints(id),"
        "  name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 128),"
        "  hostname TEXT NOT NULL DEFAULT '' CHECK (length(CAST(hostname AS BLOB)) <= 128),"
        "  port INTEGER NOT NULL UNIQUE CHECK (port BETWEEN 1 AND 65535),"
        "  rcon_password TEXT NOT NULL,"
        "  desired INTEGER NOT NULL DEFAULT 0 CHECK (desired IN (0, 1, 2)),"
        "  last_job_id INTEGER NOT NULL DEFAULT 0,"
        "  run_spec_hash TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  updated_usec INTEGER NOT NULL,"
        "  UNIQUE (owner_id, name));"
        "CREATE INDEX servers_by_blueprint ON servers(blueprint_id);",
        /* 2 → 3: overlays. owner_id NULL is a system overlay (an admin's, usable by everyone);
         * names are unique among the system ones and per owner. On the host an overlay is
         * web-<id> (ids are never reused: AUTOINCREMENT), what blueprint_overlays names. */
        "CREATE TABLE overlays ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  owner_id INTEGER REFERENCES users(id),"
        "  type TEXT NOT NULL CHECK (type IN ('script', 'files', 'workshop')),"
        "  name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 128),"
        "  script TEXT NOT NULL DEFAULT '' CHECK (length(CAST(script AS BLOB)) <= 262144),"
        "  last_job_id INTEGER NOT NULL DEFAULT 0,"
        "  deleting INTEGER NOT NULL DEFAULT 0 CHECK (deleting IN (0, 1)),"
        "  created_usec INTEGER NOT NULL,"
        "  updated_usec INTEGER NOT NULL);"
        "CREATE UNIQUE INDEX overlays_system_name ON overlays(name) WHERE owner_id IS NULL;"
        "CREATE UNIQUE INDEX overlays_owner_name ON overlays(owner_id, name) WHERE owner_id IS NOT NULL;"
        /* A server adopted from an instance made with l4d2ctl keeps that instance's name;
         * NULL is web-<id>. */
        "ALTER TABLE servers ADD COLUMN instance TEXT CHECK (instance IS NULL OR length(instance) BETWEEN 1 "
        "AND 64);"
        "CREATE UNIQUE INDEX servers_by_instance ON servers(instance) WHERE instance IS NOT NULL;",
        /* 3 → 4: API tokens (webd-tokens.h), the token an audit entry came through, and the
         * audit log's retention: entries older than audit_retention's cutoff may be deleted,
         * nothing else, and the cutoff only moves forward (webd_db_audit_prune). */
        "CREATE TABLE api_tokens ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 64),"
        "  secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),"
        "  scopes TEXT NOT NULL CHECK (length(scopes) BETWEEN 1 AND 512),"
        "  servers TEXT NOT NULL DEFAULT '' CHECK (length(servers) <= 2048),"
        "  allow TEXT NOT NULL DEFAULT '' CHECK (length(allow) <= 2048),"
        "  created_usec INTEGER NOT NULL,"
        "  expires_usec INTEGER NOT NULL DEFAULT 0,"
        "  last_used_usec INTEGER NOT NULL DEFAULT 0,"
        "  last_used_address TEXT,"
        "  UNIQUE (user_id, name));"
        "ALTER TABLE audit ADD COLUMN token TEXT;"
        "CREATE TABLE audit_retention ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  cutoff_usec INTEGER NOT NULL);"
        "INSERT INTO audit_retention VALUES (1, 0);"
        "DROP TRIGGER audit_no_delete;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
        "  WHEN old.at_usec >= (SELECT cutoff_usec FROM audit_retention WHERE id = 1)"
        "  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
        "CREATE TRIGGER audit_retention_forward BEFORE UPDATE ON audit_retention"
        "  WHEN new.cutoff_usec < old.cutoff_usec OR new.id != old.id"
        "  BEGIN SELECT RAISE(ABORT, 'the retention cutoff only moves forward'); END;"
        "CREATE TRIGGER audit_retention_no_delete BEFORE DELETE ON audit_retention"
        "  BEGIN SELECT RAISE(ABORT, 'the retention cutoff stays'); END;"
        "CREATE INDEX audit_by_time ON audit(at_usec);",
};

#define USER_COLUMNS                                                                                        \
        "id, username, password_hash, is_admin, active, must_change_password, password_changed_usec, "      \
        "created_usec"
#define SESSION_COLUMNS                                                                                     \
        "id_hash, user_id, csrf, created_usec, last_seen_usec, idle_expires_usec, absolute_expires_usec, "  \
        "address, user_agent"

/* "The user is the last active admin": refuses a change that would leave none. */
#define LAST_ADMIN_SQL                                                                                      \
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND is_admin = 1 AND active = 1) AND NOT EXISTS " \
        "(SELECT 1 FROM users WHERE id != ?1 AND is_admin = 1 AND active = 1)"

enum {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_AUDIT_INSERT,
        STMT_AUDIT_QUERY,
        STMT_AUDIT_CUTOFF,
        STMT_AUDIT_PRUNE,
        STMT_USER_INSERT,
        STMT_USER_GET,
        STMT_USER_GET_BY_NAME,
        STMT_USER_LIST,
        STMT_USER_SET_PASSWORD,
        STMT_USER_REHASH,
        STMT_USER_SET_ACTIVE,
        STMT_USER_SET_ADMIN,
        STMT_USER_DELETE,
        STMT_USER_LAST_ADMIN,
        STMT_SESSION_INSERT,
        STMT_SESSION_TRIM,
        STMT_SESSION_LOOKUP,
        STMT_SESSION_TOUCH,
        STMT_SESSION_DELETE,
        STMT_SESSIONS_DELETE_USER,
        STMT_SESSIONS_DELETE_USER_EXCEPT,
        STMT_SESSIONS_LIST_USER,
        STMT_SESSIONS_PRUNE,
        STMT_TOKENS_DELETE_USER,
        _STMT_MAX,
};
_Static_assert(_STMT_MAX <= WDB_CORE_STMTS, "webd_db.stmt[] is too small");

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_AUDIT_INSERT] =
                "INSERT INTO audit (at_usec, actor, kind, object, address, result, detail, token) VALUES "
                "(?1, substr(?2, 1, 4096), substr(?3, 1, 4096), substr(?4, 1, 4096), "
                "substr(?5, 1, 4096), substr(?6, 1, 4096), substr(?7, 1, 4096), substr(?8, 1, 4096))",
        [STMT_AUDIT_QUERY] =
                "SELECT id, at_usec, actor, kind, object, address, result, detail, token FROM audit "
                "WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR kind = ?2) "
                "AND (?3 IS NULL OR object = ?3) AND (?4 IS NULL OR result = ?4) "
                "AND (?5 = 0 OR at_usec >= ?5) AND (?6 = 0 OR at_usec < ?6) "
                "AND (?7 = 0 OR id < ?7) ORDER BY id DESC LIMIT ?8",
        /* max(): a cutoff given earlier than the stored one keeps the stored one (the trigger
         * would refuse moving it back, failing the prune for nothing). */
        [STMT_AUDIT_CUTOFF] = "UPDATE audit_retention SET cutoff_usec = max(cutoff_usec, ?1) WHERE id = 1",
        /* The stored cutoff, not the one given: the same bound the delete trigger checks. */
        [STMT_AUDIT_PRUNE] =
                "DELETE FROM audit WHERE at_usec < (SELECT cutoff_usec FROM audit_retention WHERE id = 1)",
        [STMT_USER_INSERT] =
                "INSERT INTO users (username, password_hash, is_admin, active, must_change_password, "
                "password_changed_usec, created_usec) VALUES (?, ?, ?, 1, ?, ?, ?)",
        [STMT_USER_GET] = "SELECT " USER_COLUMNS " FROM users WHERE id = ?",
        [STMT_USER_GET_BY_NAME] = "SELECT " USER_COLUMNS " FROM users WHERE username = ?",
        [STMT_USER_LIST] = "SELECT " USER_COLUMNS " FROM users ORDER BY username LIMIT 10000",
        [STMT_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?, must_change_password = ?, "
                                   "password_changed_usec = ? WHERE id = ?",
        [STMT_USER_REHASH] = "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
        [STMT_USER_SET_ACTIVE] = "UPDATE users SET active = ? WHERE id = ?",
        [STMT_TOKENS_DELETE_USER] = "DELETE FROM api_tokens WHERE user_id = ?",
        [STMT_USER_SET_ADMIN] = "UPDATE users SET is_admin = ? WHERE id = ?",
        [STMT_USER_DELETE] = "DELETE FROM users WHERE id = ?",
        [STMT_USER_LAST_ADMIN] = LAST_ADMIN_SQL,
        [STMT_SESSION_INSERT] = "INSERT INTO sessions (" SESSION_COLUMNS ") VALUES "
                                "(?, ?, ?, ?, ?, ?, ?, ?, substr(?, 1, 256))",
        [STMT_SESSION_TRIM] =
                "DELETE FROM sessions WHERE user_id = ?1 AND id_hash NOT IN (SELECT id_hash FROM "
                "sessions WHERE user_id = ?1 ORDER BY last_seen_usec DESC, created_usec DESC "
                "LIMIT ?2)",
        [STMT_SESSION_LOOKUP] = "SELECT s.id_hash, s.user_id, s.csrf, s.created_usec, s.last_seen_usec, "
                                "s.idle_expires_usec, s.absolute_expires_usec, s.address, s.user_agent, "
                                "u.id, u.username, u.password_hash, u.is_admin, u.active, "
                                "u.must_change_password, u.password_changed_usec, u.created_usec "
                                "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
        [STMT_SESSION_TOUCH] = "UPDATE sessions SET last_seen_usec = ?1, idle_expires_usec = "
                               "min(?1 + ?2, absolute_expires_usec) WHERE id_hash = ?3",
        [STMT_SESSION_DELETE] = "DELETE FROM sessions WHERE id_hash = ?",
        [STMT_SESSIONS_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?",
        [STMT_SESSIONS_DELETE_USER_EXCEPT] = "DELETE FROM sessions WHERE user_id = ? AND id_hash != ?",
        [STMT_SESSIONS_LIST_USER] = "SELECT " SESSION_COLUMNS " FROM sessions WHERE user_id = ? "
                                    "ORDER BY last_seen_usec DESC LIMIT 1000",
        [STMT_SESSIONS_PRUNE] =
                "DELETE FROM sessions WHERE idle_expires_usec <= ?1 OR absolute_expires_usec <= ?1",
};

const char *webd_db_errmsg(struct webd_db *db) {
        return db && db->db ? sqlite3_errmsg(db->db) : "no database";
}

/* Runs a statement that returns no rows (or whose rows we ignore) and resets it. */
static int stmt_run(struct webd_db *db, int id) {
        sqlite3_stmt *s = db->stmt[id];
        int rc = sqlite3_step(s);
        wdb_stmt_clear(s);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int wdb_run(sqlite3_stmt *s) {
        int rc = sqlite3_step(s);

        wdb_stmt_clear(s);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
                return 0;
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
                return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -EBUSY : -EEXIST;
        return db_errno(rc);
}

int wdb_query_int(sqlite3_stmt *s, int64_t *ret) {
        int rc = sqlite3_step(s), r = 0;

        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(s, 0);
        else
                r = db_errno(rc) ?: -EIO;
        wdb_stmt_clear(s);
        return r;
}

int wdb_tx_begin(struct webd_db *db) {
        return stmt_run(db, STMT_BEGIN);
}

int wdb_tx_end(struct webd_db *db, int r) {
        if (r >= 0) {
                int c = stmt_run(db, STMT_COMMIT);
                if (c >= 0)
                        return r;
                r = c;
        }
        (void) stmt_run(db, STMT_ROLLBACK);
        return r;
}

int webd_db_version(struct webd_db *db) {
        int v = 0, r = db_user_version(db->db, &v);
        return r < 0 ? r : v;
}

struct webd_db *webd_db_close(struct webd_db *db) {
        if (!db)
                return NULL;
        for (int i = 0; i < _STMT_MAX; i++)
                (void) sqlite3_finalize(db->stmt[i]);
        wdb_fleet_finalize(db);
        wdb_overlays_finalize(db);
        wdb_tokens_finalize(db);
        (void) sqlite3_close(db->db);
        free(db);
        return NULL;
}

/* Creates the file 0600 before SQLite sees it (SQLite would use 0644 & ~umask), and
 * tightens an existing one. SQLite gives -wal and -shm the database file's mode. */
static int create_private(const char *path) {
        _cleanup_close_ int fd = -1;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0600) < 0)
                return -errno;
        return 0;
}

int webd_db_open_at_version(const char *path, int version, struct webd_db **ret) {
        struct webd_db *db;
        int r;

        if (version < 0 || version > WEBD_DB_VERSION)
                return -EINVAL;
        r = create_private(path);
        if (r < 0)
                return r;
        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        r = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, &db->db);
        if (r < 0)
                goto fail;
        /* synchronous=FULL: web.db writes are few (logins, admin actions, a touch per
         * minute per session), and each must survive a power cut. */
        r = db_exec(db->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                            "PRAGMA trusted_schema = OFF; PRAGMA secure_delete = ON;");
        if (r < 0)
                goto fail;
        r = db_migrate(db->db, migrations, WEBD_DB_VERSION, version);
        if (r < 0)
                goto fail;
        if (version == WEBD_DB_VERSION) {
                r = db_prepare_all(db->db, stmt_sql, db->stmt, _STMT_MAX);
                if (r >= 0)
                        r = wdb_fleet_prepare(db);
                if (r >= 0)
                        r = wdb_overlays_prepare(db);
                if (r >= 0)
                        r = wdb_tokens_prepare(db);
                if (r < 0)
                        goto fail;
        }
        *ret = db;
        return 0;
fail:
        webd_db_close(db);
        return r;
}

int webd_db_open(const char *path, struct webd_db **ret) {
        return webd_db_open_at_version(path, WEBD_DB_VERSION, ret);
}

int webd_db_integrity_check(struct webd_db *db) {
        return db_integrity_check(db->db);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void bind_hash(sqlite3_stmt *s, int i, const uint8_t *h) {
        (void) sqlite3_bind_blob(s, i, h, WEBD_DB_HASH_BYTES, SQLITE_STATIC);
}

/* Reads a user from columns off..off+7 (USER_COLUMNS order). Strings are borrowed from
 * the statement unless copy. */
static int user_from_row(sqlite3_stmt *s, int off, bool copy, struct webd_user *u) {
        bool ok = true;

        *u = (struct webd_user){
                .id = sqlite3_column_int64(s, off),
                .is_admin = sqlite3_column_int(s, off + 3),
                .active = sqlite3_column_int(s, off + 4),
                .must_change_password = sqlite3_column_int(s, off + 5),
                .password_changed_usec = sqlite3_column_int64(s, off + 6),
                .created_usec = sqlite3_column_int64(s, off + 7),
        };
        if (copy) {
                u->username = wdb_col_dup(s, off + 1, &ok);
                u->password_hash = wdb_col_dup(s, off + 2, &ok);
        } else {
                u->username = (char *) wdb_col_text(s, off + 1);
                u->password_hash = (char *) wdb_col_text(s, off + 2);
        }
        if (!ok) {
                webd_user_done(u);
                return -ENOMEM;
        }
        return 0;
}

static int session_from_row(sqlite3_stmt *s, bool copy, struct webd_session *x) {
        const void *h = sqlite3_column_blob(s, 0);
        bool ok = true;

        *x = (struct webd_session){
                .user_id = sqlite3_column_int64(s, 1),
                .created_usec = sqlite3_column_int64(s, 3),
                .last_seen_usec = sqlite3_column_int64(s, 4),
                .idle_expires_usec = sqlite3_column_int64(s, 5),
                .absolute_expires_usec = sqlite3_column_int64(s, 6),
        };
        if (h && sqlite3_column_bytes(s, 0) == WEBD_DB_HASH_BYTES)
                memcpy(x->id_hash, h, WEBD_DB_HASH_BYTES);
        if (copy) {
                x->csrf = wdb_col_dup(s, 2, &ok);
                x->address = wdb_col_dup(s, 7, &ok);
                x->user_agent = wdb_col_dup(s, 8, &ok);
        } else {
                x->csrf = (char *) wdb_col_text(s, 2);
                x->address = (char *) wdb_col_text(s, 7);
                x->user_agent = (char *) wdb_col_text(s, 8);
        }
        if (!ok) {
                webd_session_done(x);
                return -ENOMEM;
        }
        return 0;
}

void webd_user_done(struct webd_user *u) {
        if (!u)
                return;
        free(u->username);
        free(u->password_hash);
        *u = (struct webd_user){};
}

void webd_session_done(struct webd_session *s) {
        if (!s)
                return;
        free(s->csrf);
        free(s->address);
        free(s->user_agent);
        *s = (struct webd_session){};
}

/* ---- audit ------------------------------------------------------------------------------ */

static int audit_insert(struct webd_db *db, const struct webd_audit *a, int64_t *ret_id) {
        sqlite3_stmt *s = db->stmt[STMT_AUDIT_INSERT];
        int r;

        if (isempty(a->kind) || isempty(a->result))
                return -EINVAL;
        (void) sqlite3_bind_int64(s, 1, a->at_usec);
        wdb_bind_text(s, 2, a->actor);
        wdb_bind_text(s, 3, a->kind);
        wdb_bind_text(s, 4, a->object);
        wdb_bind_text(s, 5, a->address);
        wdb_bind_text(s, 6, a->result);
        wdb_bind_text(s, 7, a->detail);
        wdb_bind_text(s, 8, a->token);
        r = stmt_run(db, STMT_AUDIT_INSERT);
        if (r >= 0 && ret_id)
                *ret_id = sqlite3_last_insert_rowid(db->db);
        return r;
}

int webd_db_audit_append(struct webd_db *db, const struct webd_audit *a, int64_t *ret_id) {
        int r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        return wdb_tx_end(db, audit_insert(db, a, ret_id));
}

int webd_db_audit_query(struct webd_db *db, const struct webd_audit_filter *f, webd_audit_cb cb,
                        void *userdata, int64_t *ret_next_before_id) {
        sqlite3_stmt *s = db->stmt[STMT_AUDIT_QUERY];
        unsigned limit = f->limit == 0 || f->limit > WEBD_DB_PAGE_MAX ? WEBD_DB_PAGE_MAX : f->limit;
        int64_t last_id = 0;
        unsigned n = 0;
        int rc, r = 0;

        wdb_bind_text(s, 1, f->actor);
        wdb_bind_text(s, 2, f->kind);
        wdb_bind_text(s, 3, f->object);
        wdb_bind_text(s, 4, f->result);
        (void) sqlite3_bind_int64(s, 5, f->since_usec);
        (void) sqlite3_bind_int64(s, 6, f->until_usec);
        (void) sqlite3_bind_int64(s, 7, f->before_id);
        /* One more than the page, to know whether there is a next one. */
        (void) sqlite3_bind_int64(s, 8, (sqlite3_int64) limit + 1);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_audit a = {
                        .id = sqlite3_column_int64(s, 0),
                        .at_usec = sqlite3_column_int64(s, 1),
                        .actor = wdb_col_text(s, 2),
                        .kind = wdb_col_text(s, 3),
                        .object = wdb_col_text(s, 4),
                        .address = wdb_col_text(s, 5),
                        .result = wdb_col_text(s, 6),
                        .detail = wdb_col_text(s, 7),
                        .token = wdb_col_text(s, 8),
                };
                if (n == limit)
                        break;
                n++;
                last_id = a.id;
                r = cb(&a, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        if (r >= 0 && ret_next_before_id)
                *ret_next_before_id = rc == SQLITE_ROW && n == limit ? last_id : 0;
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

/* One transaction: a prune that fails half-way leaves neither a moved cutoff nor a part
 * deleted. The count is read before COMMIT (sqlite3_changes is the last statement's). */
int webd_db_audit_prune(struct webd_db *db, int64_t cutoff_usec) {
        int r = wdb_tx_begin(db);

        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(db->stmt[STMT_AUDIT_CUTOFF], 1, cutoff_usec);
        r = wdb_run(db->stmt[STMT_AUDIT_CUTOFF]);
        if (r >= 0)
                r = wdb_run(db->stmt[STMT_AUDIT_PRUNE]);
        if (r >= 0)
                r = sqlite3_changes(db->db);
        return wdb_tx_end(db, r);
}

int wdb_audit(struct webd_db *db, const struct webd_audit *audit) {
        return audit ? audit_insert(db, audit, NULL) : 0;
}

int wdb_audit_created(struct webd_db *db, const struct webd_audit *audit, const char *kind, int64_t id) {
        struct webd_audit a;
        char object[48];

        if (!audit)
                return 0;
        a = *audit;
        snprintf(object, sizeof(object), "%s:%" PRId64, kind, id);
        a.object = object;
        return audit_insert(db, &a, NULL);
}

/* ---- users ------------------------------------------------------------------------------ */

int webd_db_user_create(struct webd_db *db, const char *username, const char *password_hash, bool is_admin,
                        bool must_change_password, int64_t now_usec, const struct webd_audit *audit,
                        int64_t *ret_id) {
        sqlite3_stmt *s = db->stmt[STMT_USER_INSERT];
        int64_t id;
        int r;

        if (isempty(username) || strlen(username) > WEBD_DB_USERNAME_MAX || isempty(password_hash))
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        wdb_bind_text(s, 1, username);
        wdb_bind_text(s, 2, password_hash);
        (void) sqlite3_bind_int(s, 3, is_admin);
        (void) sqlite3_bind_int(s, 4, must_change_password);
        (void) sqlite3_bind_int64(s, 5, now_usec);
        (void) sqlite3_bind_int64(s, 6, now_usec);
        r = stmt_run(db, STMT_USER_INSERT);
        id = sqlite3_last_insert_rowid(db->db);
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        if (r >= 0 && ret_id)
                *ret_id = id;
        return r;
}

static int user_get(struct webd_db *db, int stmt, struct webd_user *ret) {
        sqlite3_stmt *s = db->stmt[stmt];
        int rc, r;

        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                r = user_from_row(s, 0, true, ret);
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(s);
        return r;
}

int webd_db_user_get(struct webd_db *db, int64_t id, struct webd_user *ret) {
        (void) sqlite3_bind_int64(db->stmt[STMT_USER_GET], 1, id);
        return user_get(db, STMT_USER_GET, ret);
}

int webd_db_user_get_by_name(struct webd_db *db, const char *username, struct webd_user *ret) {
        if (isempty(username))
                return -ENOENT;
        wdb_bind_text(db->stmt[STMT_USER_GET_BY_NAME], 1, username);
        return user_get(db, STMT_USER_GET_BY_NAME, ret);
}

int webd_db_user_list(struct webd_db *db, webd_user_cb cb, void *userdata) {
        sqlite3_stmt *s = db->stmt[STMT_USER_LIST];
        int rc, r = 0;

        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_user u;
                (void) user_from_row(s, 0, false, &u);
                r = cb(&u, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

/* Inside a transaction: -EBUSY if id is the last active admin. */
static int refuse_last_admin(struct webd_db *db, int64_t id) {
        sqlite3_stmt *s = db->stmt[STMT_USER_LAST_ADMIN];
        int rc, r;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                r = sqlite3_column_int(s, 0) ? -EBUSY : 0;
        else
                r = db_errno(rc) ?: -EIO;
        wdb_stmt_clear(s);
        return r;
}

int wdb_changed_one(struct webd_db *db, int r) {
        return r >= 0 && sqlite3_changes(db->db) == 0 ? -ENOENT : r;
}

static int sessions_delete_user(struct webd_db *db, int64_t user_id, const uint8_t *keep) {
        int stmt = keep ? STMT_SESSIONS_DELETE_USER_EXCEPT : STMT_SESSIONS_DELETE_USER;
        sqlite3_stmt *s = db->stmt[stmt];
        int r;

        (void) sqlite3_bind_int64(s, 1, user_id);
        if (keep)
                bind_hash(s, 2, keep);
        r = stmt_run(db, stmt);
        return r < 0 ? r : sqlite3_changes(db->db);
}

int webd_db_user_set_password(struct webd_db *db, int64_t id, const char *password_hash,
                              bool must_change_password, int64_t now_usec, const uint8_t *keep_session,
                              const struct webd_audit *audit) {
        sqlite3_stmt *s = db->stmt[STMT_USER_SET_PASSWORD];
        int r;

        if (isempty(password_hash))
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        wdb_bind_text(s, 1, password_hash);
        (void) sqlite3_bind_int(s, 2, must_change_password);
        (void) sqlite3_bind_int64(s, 3, now_usec);
        (void) sqlite3_bind_int64(s, 4, id);
        r = wdb_changed_one(db, stmt_run(db, STMT_USER_SET_PASSWORD));
        if (r >= 0)
                r = sessions_delete_user(db, id, keep_session);
        if (r >= 0)
                r = wdb_audit(db, audit);
        return wdb_tx_end(db, r < 0 ? r : 0);
}

int webd_db_user_rehash(struct webd_db *db, int64_t id, const char *old_hash, const char *new_hash) {
        sqlite3_stmt *s = db->stmt[STMT_USER_REHASH];
        int r;

        if (isempty(old_hash) || isempty(new_hash))
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        wdb_bind_text(s, 1, new_hash);
        (void) sqlite3_bind_int64(s, 2, id);
        wdb_bind_text(s, 3, old_hash);
        r = wdb_changed_one(db, stmt_run(db, STMT_USER_REHASH));
        return wdb_tx_end(db, r < 0 ? r : 0);
}

/* set_active and set_admin: one flag, the last-admin guard when it is cleared, and the end
 * of all the user's sessions (a role change must not leave a session with stale rights). */
static int user_set_flag(struct webd_db *db, int stmt, int64_t id, bool value,
                         const struct webd_audit *audit) {
        sqlite3_stmt *s = db->stmt[stmt];
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = value ? 0 : refuse_last_admin(db, id);
        if (r >= 0) {
                (void) sqlite3_bind_int(s, 1, value);
                (void) sqlite3_bind_int64(s, 2, id);
                r = wdb_changed_one(db, stmt_run(db, stmt));
        }
        if (r >= 0)
                r = sessions_delete_user(db, id, NULL);
        /* A deactivated user's tokens die with their sessions: reactivating does not bring
         * back a secret that may have leaked meanwhile. */
        if (r >= 0 && stmt == STMT_USER_SET_ACTIVE && !value) {
                (void) sqlite3_bind_int64(db->stmt[STMT_TOKENS_DELETE_USER], 1, id);
                r = stmt_run(db, STMT_TOKENS_DELETE_USER);
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        return wdb_tx_end(db, r < 0 ? r : 0);
}

int webd_db_user_set_active(struct webd_db *db, int64_t id, bool active, const struct webd_audit *audit) {
        return user_set_flag(db, STMT_USER_SET_ACTIVE, id, active, audit);
}

int webd_db_user_set_admin(struct webd_db *db, int64_t id, bool is_admin, const struct webd_audit *audit) {
        return user_set_flag(db, STMT_USER_SET_ADMIN, id, is_admin, audit);
}

int webd_db_user_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit) {
        sqlite3_stmt *s = db->stmt[STMT_USER_DELETE];
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = refuse_last_admin(db, id);
        if (r >= 0) {
                /* Sessions go with the user (ON DELETE CASCADE). */
                (void) sqlite3_bind_int64(s, 1, id);
                r = wdb_changed_one(db, stmt_run(db, STMT_USER_DELETE));
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        return wdb_tx_end(db, r);
}

/* ---- sessions --------------------------------------------------------------------------- */

int webd_db_session_create(struct webd_db *db, const struct webd_session *x) {
        sqlite3_stmt *s = db->stmt[STMT_SESSION_INSERT];
        int r;

        if (isempty(x->csrf) || x->absolute_expires_usec <= x->created_usec)
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        bind_hash(s, 1, x->id_hash);
        (void) sqlite3_bind_int64(s, 2, x->user_id);
        wdb_bind_text(s, 3, x->csrf);
        (void) sqlite3_bind_int64(s, 4, x->created_usec);
        (void) sqlite3_bind_int64(s, 5, x->last_seen_usec ?: x->created_usec);
        (void) sqlite3_bind_int64(s, 6, MIN(x->idle_expires_usec, x->absolute_expires_usec));
        (void) sqlite3_bind_int64(s, 7, x->absolute_expires_usec);
        wdb_bind_text(s, 8, x->address);
        wdb_bind_text(s, 9, x->user_agent);
        r = stmt_run(db, STMT_SESSION_INSERT);
        if (r >= 0) {
                s = db->stmt[STMT_SESSION_TRIM];
                (void) sqlite3_bind_int64(s, 1, x->user_id);
                (void) sqlite3_bind_int(s, 2, WEBD_DB_SESSIONS_PER_USER);
                r = stmt_run(db, STMT_SESSION_TRIM);
        }
        return wdb_tx_end(db, r);
}

static int session_delete(struct webd_db *db, const uint8_t *id_hash) {
        bind_hash(db->stmt[STMT_SESSION_DELETE], 1, id_hash);
        return wdb_changed_one(db, stmt_run(db, STMT_SESSION_DELETE));
}

int webd_db_session_lookup(struct webd_db *db, const uint8_t id_hash[WEBD_DB_HASH_BYTES], int64_t now_usec,
                           struct webd_session *ret, struct webd_user *ret_user) {
        sqlite3_stmt *s = db->stmt[STMT_SESSION_LOOKUP];
        struct webd_session x = {};
        struct webd_user u = {};
        bool expired = false, active = false;
        int rc, r;

        bind_hash(s, 1, id_hash);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                r = session_from_row(s, true, &x);
                if (r >= 0) {
                        r = user_from_row(s, 9, true, &u);
                        if (r < 0)
                                webd_session_done(&x);
                }
                expired = now_usec >= sqlite3_column_int64(s, 5) || now_usec >= sqlite3_column_int64(s, 6);
                active = sqlite3_column_int(s, 13);
        } else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(s);
        if (r < 0)
                return r;
        if (expired || !active) {
                webd_session_done(&x);
                webd_user_done(&u);
                if (!expired)
                        return -ENOENT; /* inactive: its sessions were ended; never valid */
                r = wdb_tx_begin(db);
                if (r >= 0)
                        r = wdb_tx_end(db, session_delete(db, id_hash));
                return r < 0 && r != -ENOENT ? r : -ETIMEDOUT;
        }
        *ret = x;
        if (ret_user)
                *ret_user = u;
        else
                webd_user_done(&u);
        return 0;
}

int webd_db_session_touch(struct webd_db *db, const uint8_t id_hash[WEBD_DB_HASH_BYTES], int64_t now_usec,
                          int64_t idle_usec) {
        sqlite3_stmt *s = db->stmt[STMT_SESSION_TOUCH];
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, now_usec);
        (void) sqlite3_bind_int64(s, 2, idle_usec);
        bind_hash(s, 3, id_hash);
        return wdb_tx_end(db, wdb_changed_one(db, stmt_run(db, STMT_SESSION_TOUCH)));
}

int webd_db_session_delete(struct webd_db *db, const uint8_t id_hash[WEBD_DB_HASH_BYTES]) {
        int r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        return wdb_tx_end(db, session_delete(db, id_hash));
}

int webd_db_sessions_delete_user(struct webd_db *db, int64_t user_id, const uint8_t *keep) {
        int r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        return wdb_tx_end(db, sessions_delete_user(db, user_id, keep));
}

int webd_db_sessions_list_user(struct webd_db *db, int64_t user_id, webd_session_cb cb, void *userdata) {
        sqlite3_stmt *s = db->stmt[STMT_SESSIONS_LIST_USER];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, user_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_session x;
                (void) session_from_row(s, false, &x);
                r = cb(&x, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

int webd_db_sessions_prune(struct webd_db *db, int64_t now_usec) {
        int r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(db->stmt[STMT_SESSIONS_PRUNE], 1, now_usec);
        r = stmt_run(db, STMT_SESSIONS_PRUNE);
        return wdb_tx_end(db, r < 0 ? r : sqlite3_changes(db->db));
}
