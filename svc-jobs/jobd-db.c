#include <sqlite3.h>
#include <stdio.h>

#include "base/log.h"
#include "daemon/sqlite.h"
#include "svc-jobs/jobd-db.h"

/* Migrations, applied in order; migration i brings the schema from version i to i + 1.
 * Never edit a released step: add a new one and bump JOBD_DB_VERSION. */
static const char *const migrations[JOBD_DB_VERSION] = {
        /* 0 → 1: the first schema. */
        "CREATE TABLE jobs ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  kind TEXT NOT NULL,"
        "  owner TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN"
        "    ('queued','running','cancelling','succeeded','failed','cancelled')),"
        "  keys TEXT NOT NULL,"
        "  payload BLOB NOT NULL,"
        "  exit_code INTEGER,"
        "  error TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  started_usec INTEGER,"
        "  finished_usec INTEGER,"
        "  updated_usec INTEGER NOT NULL);"
        "CREATE TABLE job_subjects ("
        "  subject TEXT NOT NULL,"
        "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
        "  PRIMARY KEY (subject, job_id)) WITHOUT ROWID;"
        "CREATE INDEX job_subjects_by_job ON job_subjects(job_id);"
        "CREATE TABLE job_lines ("
        "  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
        "  seq INTEGER NOT NULL,"
        "  stream TEXT NOT NULL,"
        "  line TEXT NOT NULL,"
        "  usec INTEGER NOT NULL,"
        "  PRIMARY KEY (job_id, seq)) WITHOUT ROWID;"
        "CREATE INDEX jobs_by_owner ON jobs(owner, id);",

        /* 1 → 2: retry accounting (a crashed run of an idempotent kind is retried once), and
         * indexes for the scheduler's start-up scan and for listing by kind. Jobs that were
         * already started count as one attempt. */
        "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
        "UPDATE jobs SET attempts = 1 WHERE started_usec IS NOT NULL;"
        "CREATE INDEX jobs_active ON jobs(state, id) WHERE state IN ('queued','running','cancelling');"
        "CREATE INDEX jobs_by_kind ON jobs(kind, id);",

        /* 2 → 3: the systemd units a job ran (newline-separated; NULL = none), for logd's job
         * target. Filled in for jobs that already ran from what is known without the payload:
         * a server job that has exactly one server:<id> subject ran left4me-server@<id>.service;
         * a build's unit is named in hostd's first info line ("Running the build script in U
         * (as ..."). */
        "ALTER TABLE jobs ADD COLUMN units TEXT;"
        "UPDATE jobs SET units = (SELECT 'left4me-server@' || substr(subject, 8) || '.service'"
        "  FROM job_subjects WHERE job_id = jobs.id AND subject GLOB 'server:*')"
        " WHERE kind GLOB 'server.*' AND started_usec IS NOT NULL"
        " AND (SELECT COUNT(*) FROM job_subjects WHERE job_id = jobs.id AND subject GLOB 'server:*') = 1;"
        "UPDATE jobs SET units = (SELECT substr(line, 29, instr(line, ' (as ') - 29) FROM job_lines"
        "  WHERE job_id = jobs.id AND stream = 'info'"
        "  AND line GLOB 'Running the build script in left4me-build-*.service (as *' ORDER BY seq LIMIT 1)"
        " WHERE kind = 'overlay.build';",

        /* 3 → 4: who submitted (the peer's uid and pid from SO_PEERCRED); NULL for older jobs. */
        "ALTER TABLE jobs ADD COLUMN submitter_uid INTEGER;"
        "ALTER TABLE jobs ADD COLUMN submitter_pid INTEGER;",
};

enum {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_INSERT_JOB,
        STMT_INSERT_SUBJECT,
        STMT_UPDATE_JOB,
        STMT_INSERT_LINE,
        STMT_GET_JOB,
        STMT_ACTIVE,
        STMT_LINES,
        STMT_SYNC_FULL,
        STMT_SYNC_NORMAL,
        STMT_SET_UNITS,
        _STMT_MAX,
};

#define JOB_COLUMNS                                                                                         \
        "id, kind, owner, state, keys, payload, exit_code, error, attempts, created_usec, started_usec, "   \
        "finished_usec, updated_usec, (SELECT MAX(seq) FROM job_lines WHERE job_id = jobs.id), "            \
        "(SELECT group_concat(subject, char(10)) FROM job_subjects WHERE job_id = jobs.id), units, "        \
        "submitter_uid, submitter_pid"

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_INSERT_JOB] =
                "INSERT INTO jobs (kind, owner, state, keys, payload, attempts, created_usec, "
                "updated_usec, submitter_uid, submitter_pid) VALUES (?, ?, 'queued', ?, ?, 0, ?, ?, "
                "?, ?)",
        [STMT_INSERT_SUBJECT] = "INSERT OR IGNORE INTO job_subjects (subject, job_id) VALUES (?, ?)",
        [STMT_UPDATE_JOB] =
                "UPDATE jobs SET state = ?, exit_code = ?, error = ?, attempts = ?, "
                "started_usec = ?, finished_usec = ?, updated_usec = ? WHERE id = ? AND state = ?",
        [STMT_INSERT_LINE] =
                "INSERT INTO job_lines (job_id, seq, stream, line, usec) VALUES (?, ?, ?, ?, ?)",
        [STMT_GET_JOB] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?",
        [STMT_ACTIVE] = "SELECT " JOB_COLUMNS " FROM jobs WHERE state IN ('queued','running','cancelling') "
                        "ORDER BY id",
        [STMT_LINES] = "SELECT seq, stream, line, usec FROM job_lines WHERE job_id = ? AND seq > ? "
                       "ORDER BY seq LIMIT ?",
        [STMT_SYNC_FULL] = "PRAGMA synchronous = FULL",
        [STMT_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
        [STMT_SET_UNITS] = "UPDATE jobs SET units = ? WHERE id = ?",
};

struct jobd_db {
        sqlite3 *db;
        sqlite3_stmt *stmt[_STMT_MAX];
        int sync_full; /* -1 unknown */
};

const char *jobd_db_errmsg(struct jobd_db *db) {
        return db && db->db ? sqlite3_errmsg(db->db) : "no database";
}

/* Runs a statement to completion and resets it. */
static int stmt_run(struct jobd_db *db, int id) {
        sqlite3_stmt *s = db->stmt[id];
        int rc = sqlite3_step(s);
        (void) sqlite3_reset(s);
        (void) sqlite3_clear_bindings(s);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
}

static int set_sync(struct jobd_db *db, bool full) {
        int r;

        if (db->sync_full == (int) full)
                return 0;
        r = stmt_run(db, full ? STMT_SYNC_FULL : STMT_SYNC_NORMAL);
        if (r >= 0)
                db->sync_full = full;
        return r;
}

static int tx_begin(struct jobd_db *db, bool durable) {
        int r = set_sync(db, durable);
        if (r < 0)
                return r;
        return stmt_run(db, STMT_BEGIN);
}

static int tx_end(struct jobd_db *db, int r) {
        if (r >= 0) {
                r = stmt_run(db, STMT_COMMIT);
                if (r >= 0)
                        return 0;
        }
        (void) stmt_run(db, STMT_ROLLBACK);
        return r;
}

int jobd_db_version(struct jobd_db *db) {
        int v = 0, r = db_user_version(db->db, &v);
        return r < 0 ? r : v;
}

struct jobd_db *jobd_db_close(struct jobd_db *db) {
        if (!db)
                return NULL;
        for (int i = 0; i < _STMT_MAX; i++)
                (void) sqlite3_finalize(db->stmt[i]);
        (void) sqlite3_close(db->db);
        free(db);
        return NULL;
}

int jobd_db_open_at_version(const char *path, int version, struct jobd_db **ret) {
        struct jobd_db *db;
        int r;

        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->sync_full = -1;
        r = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, &db->db);
        if (r < 0)
                goto fail;
        r = db_exec(db->db,
                    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;");
        if (r < 0)
                goto fail;
        r = db_migrate(db->db, migrations, JOBD_DB_VERSION, version);
        if (r < 0)
                goto fail;
        if (version == JOBD_DB_VERSION) {
                r = db_prepare_all(db->db, stmt_sql, db->stmt, _STMT_MAX);
                if (r < 0)
                        goto fail;
        }
        *ret = db;
        return 0;
fail:
        jobd_db_close(db);
        return r;
}

int jobd_db_open(const char *path, struct jobd_db **ret) {
        return jobd_db_open_at_version(path, JOBD_DB_VERSION, ret);
}

int jobd_db_integrity_check(struct jobd_db *db) {
        return db_integrity_check(db->db);
}

void job_record_done(struct job_record *r) {
        if (!r)
                return;
        free(r->owner);
        strv_free(r->subjects);
        free(r->keys);
        free(r->payload);
        free(r->error);
        strv_free(r->units);
        *r = (struct job_record){};
}

/* ---- writing ----------------------------------------------------------------------------- */

static void bind_usec(sqlite3_stmt *s, int i, uint64_t usec) {
        if (usec)
                (void) sqlite3_bind_int64(s, i, (sqlite3_int64) usec);
        else
                (void) sqlite3_bind_null(s, i);
}

/* The job row and its subjects, inside the caller's transaction. */
static int insert_one(struct jobd_db *db, const struct job_record *j, int64_t *ret_id) {
        sqlite3_stmt *s = db->stmt[STMT_INSERT_JOB];
        int64_t id;
        int r;

        (void) sqlite3_bind_text(s, 1, job_kind_to_string(j->kind), -1, SQLITE_STATIC);
        (void) sqlite3_bind_text(s, 2, j->owner, -1, SQLITE_STATIC);
        (void) sqlite3_bind_text(s, 3, j->keys, -1, SQLITE_STATIC);
        (void) sqlite3_bind_blob(s, 4, j->payload, (int) j->payload_len, SQLITE_STATIC);
        (void) sqlite3_bind_int64(s, 5, (sqlite3_int64) j->created_usec);
        (void) sqlite3_bind_int64(s, 6, (sqlite3_int64) j->created_usec);
        if (j->submitter.uid >= 0) {
                (void) sqlite3_bind_int64(s, 7, j->submitter.uid);
                (void) sqlite3_bind_int64(s, 8, j->submitter.pid);
        } else {
                (void) sqlite3_bind_null(s, 7);
                (void) sqlite3_bind_null(s, 8);
        }
        r = stmt_run(db, STMT_INSERT_JOB);
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(db->db);
        for (char **i = j->subjects; i && *i; i++) {
                s = db->stmt[STMT_INSERT_SUBJECT];
                (void) sqlite3_bind_text(s, 1, *i, -1, SQLITE_STATIC);
                (void) sqlite3_bind_int64(s, 2, id);
                r = stmt_run(db, STMT_INSERT_SUBJECT);
                if (r < 0)
                        return r;
        }
        *ret_id = id;
        return 0;
}

int jobd_db_insert_many(struct jobd_db *db, struct job_record *const *jobs, size_t n) {
        _cleanup_free_ int64_t *ids = NULL;
        int r;

        if (n == 0)
                return 0;
        ids = calloc(n, sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        r = tx_begin(db, true);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = insert_one(db, jobs[i], &ids[i]);
        r = tx_end(db, r);
        if (r < 0)
                return r; /* rolled back: none of them exists, none gets an id */
        for (size_t i = 0; i < n; i++) {
                jobs[i]->id = ids[i];
                jobs[i]->state = JOB_QUEUED;
                jobs[i]->updated_usec = jobs[i]->created_usec;
        }
        return 0;
}

int jobd_db_insert(struct jobd_db *db, struct job_record *j) {
        return jobd_db_insert_many(db, &j, 1);
}

static int insert_line(struct jobd_db *db, int64_t job_id, const struct job_line *l) {
        sqlite3_stmt *s = db->stmt[STMT_INSERT_LINE];

        (void) sqlite3_bind_int64(s, 1, job_id);
        (void) sqlite3_bind_int64(s, 2, l->seq);
        (void) sqlite3_bind_text(s, 3, l->stream, -1, SQLITE_STATIC);
        (void) sqlite3_bind_text(s, 4, l->text, -1, SQLITE_STATIC);
        (void) sqlite3_bind_int64(s, 5, (sqlite3_int64) l->usec);
        return stmt_run(db, STMT_INSERT_LINE);
}

int jobd_db_update(struct jobd_db *db, const struct job_record *j, enum job_state from,
                   const struct job_line *line) {
        sqlite3_stmt *s = db->stmt[STMT_UPDATE_JOB];
        int r;

        r = tx_begin(db, true);
        if (r < 0)
                return r;
        (void) sqlite3_bind_text(s, 1, job_state_to_string(j->state), -1, SQLITE_STATIC);
        if (j->has_exit_code)
                (void) sqlite3_bind_int64(s, 2, j->exit_code);
        else
                (void) sqlite3_bind_null(s, 2);
        if (j->error)
                (void) sqlite3_bind_text(s, 3, j->error, -1, SQLITE_STATIC);
        else
                (void) sqlite3_bind_null(s, 3);
        (void) sqlite3_bind_int(s, 4, j->attempts);
        bind_usec(s, 5, j->started_usec);
        bind_usec(s, 6, j->finished_usec);
        (void) sqlite3_bind_int64(s, 7, (sqlite3_int64) j->updated_usec);
        (void) sqlite3_bind_int64(s, 8, j->id);
        (void) sqlite3_bind_text(s, 9, job_state_to_string(from), -1, SQLITE_STATIC);
        r = stmt_run(db, STMT_UPDATE_JOB);
        if (r >= 0 && sqlite3_changes(db->db) != 1)
                r = -ESTALE;
        if (r >= 0 && line)
                r = insert_line(db, j->id, line);
        return tx_end(db, r);
}

int jobd_db_set_units(struct jobd_db *db, int64_t job_id, char *const *units) {
        sqlite3_stmt *s = db->stmt[STMT_SET_UNITS];
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        for (char *const *u = units; u && *u; u++)
                len += strlen(*u) + 1;
        if (len > 0) {
                text = malloc(len);
                if (!text)
                        return -ENOMEM;
                len = 0;
                for (char *const *u = units; u && *u; u++) {
                        size_t n = strlen(*u);
                        if (len > 0)
                                text[len++] = '\n';
                        memcpy(text + len, *u, n);
                        len += n;
                }
                text[len] = 0;
        }
        /* Like an output line: survives a crash of jobd; the next state change's fsync makes it
         * power-safe. */
        r = set_sync(db, false);
        if (r < 0)
                return r;
        if (text)
                (void) sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
        else
                (void) sqlite3_bind_null(s, 1);
        (void) sqlite3_bind_int64(s, 2, job_id);
        r = stmt_run(db, STMT_SET_UNITS);
        if (r >= 0 && sqlite3_changes(db->db) != 1)
                r = -ENOENT;
        return r;
}

int jobd_db_append_line(struct jobd_db *db, int64_t job_id, const struct job_line *line) {
        int r = set_sync(db, false);
        if (r < 0)
                return r;
        /* A single statement is its own transaction. */
        return insert_line(db, job_id, line);
}

/* ---- reading ----------------------------------------------------------------------------- */

static int dup_text(sqlite3_stmt *s, int col, char **ret) {
        const unsigned char *t = sqlite3_column_text(s, col);
        if (!t) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup((const char *) t);
        return *ret ? 0 : -ENOMEM;
}

static int split_lines(const char *s, char ***ret) {
        size_t n = 0, m = 0;
        char **v;

        for (const char *p = s; p && *p; p++)
                n += *p == '\n';
        v = calloc(n + 2, sizeof(char *));
        if (!v)
                return -ENOMEM;
        while (s && *s) {
                const char *nl = strchrnul(s, '\n');
                v[m] = strndup(s, (size_t) (nl - s));
                if (!v[m]) {
                        strv_free(v);
                        return -ENOMEM;
                }
                m++;
                s = *nl ? nl + 1 : nl;
        }
        *ret = v;
        return 0;
}

/* Reads the JOB_COLUMNS of the current row. -EBADMSG for a row this jobd cannot understand. */
static int read_record(sqlite3_stmt *s, struct job_record *ret) {
        struct job_record j = {};
        const void *blob;
        int k, st, r;

        j.id = sqlite3_column_int64(s, 0);
        k = job_kind_from_string((const char *) sqlite3_column_text(s, 1));
        st = job_state_from_string((const char *) sqlite3_column_text(s, 3));
        if (k < 0 || st < 0)
                return -EBADMSG;
        j.kind = k;
        j.state = st;
        r = dup_text(s, 2, &j.owner);
        if (r >= 0)
                r = dup_text(s, 4, &j.keys);
        if (r >= 0)
                r = dup_text(s, 7, &j.error);
        if (r >= 0)
                r = split_lines((const char *) sqlite3_column_text(s, 14), &j.subjects);
        if (r >= 0)
                r = split_lines((const char *) sqlite3_column_text(s, 15), &j.units);
        if (r >= 0) {
                blob = sqlite3_column_blob(s, 5);
                j.payload_len = (size_t) sqlite3_column_bytes(s, 5);
                j.payload = malloc(j.payload_len ?: 1);
                if (!j.payload)
                        r = -ENOMEM;
                else if (j.payload_len)
                        memcpy(j.payload, blob, j.payload_len);
        }
        if (r < 0 || !j.owner || !j.keys) {
                job_record_done(&j);
                return r < 0 ? r : -EBADMSG;
        }
        j.has_exit_code = sqlite3_column_type(s, 6) != SQLITE_NULL;
        j.exit_code = sqlite3_column_int64(s, 6);
        j.attempts = sqlite3_column_int(s, 8);
        j.created_usec = (uint64_t) sqlite3_column_int64(s, 9);
        j.started_usec = (uint64_t) sqlite3_column_int64(s, 10);
        j.finished_usec = (uint64_t) sqlite3_column_int64(s, 11);
        j.updated_usec = (uint64_t) sqlite3_column_int64(s, 12);
        j.last_seq = sqlite3_column_int64(s, 13);
        j.submitter.uid = sqlite3_column_type(s, 16) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 16);
        j.submitter.pid = sqlite3_column_int64(s, 17);
        *ret = j;
        return 0;
}

int jobd_db_get(struct jobd_db *db, int64_t id, struct job_record *ret) {
        sqlite3_stmt *s = db->stmt[STMT_GET_JOB];
        int rc, r;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                r = read_record(s, ret);
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        (void) sqlite3_reset(s);
        return r;
}

/* Steps s and calls cb per row; rows this jobd cannot read are skipped with a warning. */
static int foreach_row(sqlite3_stmt *s, int (*cb)(const struct job_record *j, void *userdata),
                       void *userdata) {
        int rc, r = 0;

        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct job_record j;
                r = read_record(s, &j);
                if (r == -EBADMSG) {
                        log_warning("Job %lld in jobs.db has an unknown kind or state, ignoring.",
                                    (long long) sqlite3_column_int64(s, 0));
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                r = cb(&j, userdata);
                job_record_done(&j);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        return r;
}

int jobd_db_foreach_active(struct jobd_db *db, int (*cb)(const struct job_record *j, void *userdata),
                           void *userdata) {
        sqlite3_stmt *s = db->stmt[STMT_ACTIVE];
        int r = foreach_row(s, cb, userdata);
        (void) sqlite3_reset(s);
        return r;
}

int jobd_db_list(struct jobd_db *db, const struct job_filter *f,
                 int (*cb)(const struct job_record *j, void *userdata), void *userdata) {
        char sql[1024];
        sqlite3_stmt *s;
        int rc, r, i = 1;

        /* Only the filters in use become conditions, so SQLite can pick the matching index. */
        snprintf(sql, sizeof(sql),
                 "SELECT " JOB_COLUMNS " FROM jobs WHERE 1%s%s%s%s%s ORDER BY id DESC LIMIT ?",
                 f->owner ? " AND owner = ?" : "",
                 f->subject ? " AND id IN (SELECT job_id FROM job_subjects WHERE subject = ?)" : "",
                 f->state >= 0 ? " AND state = ?" : "", f->kind >= 0 ? " AND kind = ?" : "",
                 f->before_id > 0 ? " AND id < ?" : "");
        rc = sqlite3_prepare_v2(db->db, sql, -1, &s, NULL);
        if (rc != SQLITE_OK)
                return db_errno(rc);
        if (f->owner)
                (void) sqlite3_bind_text(s, i++, f->owner, -1, SQLITE_STATIC);
        if (f->subject)
                (void) sqlite3_bind_text(s, i++, f->subject, -1, SQLITE_STATIC);
        if (f->state >= 0)
                (void) sqlite3_bind_text(s, i++, job_state_to_string(f->state), -1, SQLITE_STATIC);
        if (f->kind >= 0)
                (void) sqlite3_bind_text(s, i++, job_kind_to_string(f->kind), -1, SQLITE_STATIC);
        if (f->before_id > 0)
                (void) sqlite3_bind_int64(s, i++, f->before_id);
        (void) sqlite3_bind_int(s, i, (int) f->limit);
        r = foreach_row(s, cb, userdata);
        (void) sqlite3_finalize(s);
        return r;
}

int jobd_db_lines(struct jobd_db *db, int64_t id, int64_t after_seq, unsigned limit,
                  int (*cb)(const struct job_line *l, void *userdata), void *userdata) {
        sqlite3_stmt *s = db->stmt[STMT_LINES];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, id);
        (void) sqlite3_bind_int64(s, 2, after_seq);
        (void) sqlite3_bind_int(s, 3, (int) limit);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct job_line l = {
                        .seq = sqlite3_column_int64(s, 0),
                        .stream = (const char *) sqlite3_column_text(s, 1),
                        .text = (const char *) sqlite3_column_text(s, 2),
                        .usec = (uint64_t) sqlite3_column_int64(s, 3),
                };
                if (!l.stream || !l.text)
                        continue;
                r = cb(&l, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        (void) sqlite3_reset(s);
        return r;
}

int jobd_db_count_jobs(struct jobd_db *db, int state, int64_t *ret) {
        sqlite3_stmt *s;
        int rc;

        rc = sqlite3_prepare_v2(db->db,
                                state >= 0 ? "SELECT COUNT(*) FROM jobs WHERE state = ?"
                                           : "SELECT COUNT(*) FROM jobs",
                                -1, &s, NULL);
        if (rc != SQLITE_OK)
                return db_errno(rc);
        if (state >= 0)
                (void) sqlite3_bind_text(s, 1, job_state_to_string(state), -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(s, 0);
        (void) sqlite3_finalize(s);
        return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int jobd_db_prune(struct jobd_db *db, uint64_t before_usec, int64_t *ret_deleted) {
        sqlite3_stmt *s;
        int rc, r;

        r = tx_begin(db, true);
        if (r < 0)
                return r;
        rc = sqlite3_prepare_v2(db->db,
                                "DELETE FROM jobs WHERE state IN ('succeeded','failed','cancelled') "
                                "AND finished_usec < ?",
                                -1, &s, NULL);
        if (rc != SQLITE_OK)
                return tx_end(db, db_errno(rc));
        (void) sqlite3_bind_int64(s, 1, (sqlite3_int64) before_usec);
        rc = sqlite3_step(s);
        (void) sqlite3_finalize(s);
        r = rc == SQLITE_DONE ? 0 : db_errno(rc);
        if (r >= 0 && ret_deleted)
                *ret_deleted = sqlite3_changes(db->db);
        return tx_end(db, r);
}
