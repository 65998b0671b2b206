/* Benchmark of jobd's storage layer (svc-jobs/jobd-db.c) beside raw SQLite doing the same
 * transactions with hand-written prepared statements, in the same file settings (WAL;
 * synchronous FULL for submissions and state changes, NORMAL for output lines).
 *
 *   enqueue     one durable transaction per job: the job row and one subject
 *   full cycle  enqueue; queued → running; 3 output lines; running → succeeded with a line
 *
 * Prints jobs/s for both and the ratio layer/raw (1.0 = no overhead). Usage:
 *   jobs-bench-db [N] [DIR]   (default 2000 jobs in a temporary directory under /var/tmp) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/util.h"
#include "svc-jobs/jobd-db.h"

static double secs(void) {
        return (double) now_usec() / 1e6;
}

static void die(const char *what, int r) {
        fprintf(stderr, "jobs-bench-db: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

/* Removes a database with its WAL and shared-memory files (a stale WAL would be replayed). */
static void remove_db(const char *path) {
        char p[512];
        (void) unlink(path);
        snprintf(p, sizeof(p), "%s-wal", path);
        (void) unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        (void) unlink(p);
}

/* ---- through jobd-db ---------------------------------------------------------------------- */

static double layer_run(const char *path, int n, bool full_cycle) {
        char *subjects[] = {"server:s1", NULL};
        struct jobd_db *db;
        double t0;
        int r;

        remove_db(path);
        r = jobd_db_open(path, &db);
        if (r < 0)
                die("open", r);
        t0 = secs();
        for (int i = 0; i < n; i++) {
                struct job_record j =
                                          {
                                                  .kind = JOB_SERVER_STOP,
                                                  .owner = "bench",
                                                  .subjects = subjects,
                                                  .keys = "x server:s1\ns install\n",
                                                  .payload = "\x81\xa6server\xa2s1",
                                                  .payload_len = 10,
                                                  .created_usec = realtime_usec(),
                                          },
                                  next;
                r = jobd_db_insert(db, &j);
                if (r < 0)
                        die("insert", r);
                if (!full_cycle)
                        continue;
                next = j;
                next.state = JOB_RUNNING;
                next.attempts = 1;
                next.started_usec = next.updated_usec = realtime_usec();
                r = jobd_db_update(db, &next, JOB_QUEUED, NULL);
                for (int k = 1; r >= 0 && k <= 3; k++) {
                        struct job_line l = {.seq = k,
                                             .stream = "stdout",
                                             .text = "some output of the step",
                                             .usec = realtime_usec()};
                        r = jobd_db_append_line(db, j.id, &l);
                }
                if (r >= 0) {
                        struct job_line l = {.seq = 4,
                                             .stream = "info",
                                             .text = "job succeeded",
                                             .usec = realtime_usec()};
                        next.state = JOB_SUCCEEDED;
                        next.finished_usec = next.updated_usec = realtime_usec();
                        r = jobd_db_update(db, &next, JOB_RUNNING, &l);
                }
                if (r < 0)
                        die("cycle", r);
        }
        t0 = secs() - t0;
        jobd_db_close(db);
        return n / t0;
}

/* ---- raw SQLite, same transactions ---------------------------------------------------------- */

static sqlite3 *raw_db;

static void raw_exec(const char *sql) {
        char *err = NULL;
        if (sqlite3_exec(raw_db, sql, NULL, NULL, &err) != SQLITE_OK) {
                fprintf(stderr, "jobs-bench-db: %s: %s\n", sql, err);
                exit(EXIT_FAILURE);
        }
}

static sqlite3_stmt *prep(const char *sql) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(raw_db, sql, -1, &s, NULL) != SQLITE_OK) {
                fprintf(stderr, "jobs-bench-db: %s: %s\n", sql, sqlite3_errmsg(raw_db));
                exit(EXIT_FAILURE);
        }
        return s;
}

static void step(sqlite3_stmt *s) {
        if (sqlite3_step(s) != SQLITE_DONE) {
                fprintf(stderr, "jobs-bench-db: step: %s\n", sqlite3_errmsg(raw_db));
                exit(EXIT_FAILURE);
        }
        sqlite3_reset(s);
}

static double raw_run(const char *path, int n, bool full_cycle) {
        sqlite3_stmt *ins, *subj, *upd, *line, *begin, *commit, *full, *normal;
        double t0;

        struct jobd_db *schema;

        remove_db(path);
        if (jobd_db_open(path, &schema) < 0)
                die("create schema", EIO);
        jobd_db_close(schema);
        if (sqlite3_open(path, &raw_db) != SQLITE_OK)
                die("open raw", EIO);
        /* The very schema jobd uses (made by jobd-db), so only the layer itself differs. */
        raw_exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
        ins = prep("INSERT INTO jobs (kind, owner, state, keys, payload, created_usec, updated_usec) "
                   "VALUES ('server.stop', 'bench', 'queued', 'x server:s1\n', x'81', ?, ?)");
        subj = prep("INSERT INTO job_subjects VALUES ('server:s1', ?)");
        upd = prep("UPDATE jobs SET state = ?, updated_usec = ? WHERE id = ? AND state = ?");
        line = prep("INSERT INTO job_lines VALUES (?, ?, 'stdout', 'some output of the step', ?)");
        begin = prep("BEGIN IMMEDIATE");
        commit = prep("COMMIT");
        full = prep("PRAGMA synchronous = FULL");
        normal = prep("PRAGMA synchronous = NORMAL");

        t0 = secs();
        step(full);
        for (int i = 0; i < n; i++) {
                sqlite3_int64 id, now = (sqlite3_int64) realtime_usec();
                if (full_cycle && i > 0)
                        step(full); /* after the lines (NORMAL) */
                step(begin);
                sqlite3_bind_int64(ins, 1, now);
                sqlite3_bind_int64(ins, 2, now);
                step(ins);
                id = sqlite3_last_insert_rowid(raw_db);
                sqlite3_bind_int64(subj, 1, id);
                step(subj);
                step(commit);
                if (!full_cycle)
                        continue;
                step(begin);
                sqlite3_bind_text(upd, 1, "running", -1, SQLITE_STATIC);
                sqlite3_bind_int64(upd, 2, now);
                sqlite3_bind_int64(upd, 3, id);
                sqlite3_bind_text(upd, 4, "queued", -1, SQLITE_STATIC);
                step(upd);
                step(commit);
                step(normal);
                for (int k = 1; k <= 3; k++) {
                        sqlite3_bind_int64(line, 1, id);
                        sqlite3_bind_int64(line, 2, k);
                        sqlite3_bind_int64(line, 3, now);
                        step(line);
                }
                step(full);
                step(begin);
                sqlite3_bind_text(upd, 1, "succeeded", -1, SQLITE_STATIC);
                sqlite3_bind_int64(upd, 2, now);
                sqlite3_bind_int64(upd, 3, id);
                sqlite3_bind_text(upd, 4, "running", -1, SQLITE_STATIC);
                step(upd);
                sqlite3_bind_int64(line, 1, id);
                sqlite3_bind_int64(line, 2, 4);
                sqlite3_bind_int64(line, 3, now);
                step(line);
                step(commit);
        }
        t0 = secs() - t0;
        sqlite3_finalize(ins);
        sqlite3_finalize(subj);
        sqlite3_finalize(upd);
        sqlite3_finalize(line);
        sqlite3_finalize(begin);
        sqlite3_finalize(commit);
        sqlite3_finalize(full);
        sqlite3_finalize(normal);
        sqlite3_close(raw_db);
        return n / t0;
}

int main(int argc, char **argv) {
        char dir[256], path[300];
        double le, re, lc, rc;
        long long v = 2000;
        int n;

        if (argc > 1 && safe_atoi64(argv[1], 2, 10000000, &v) < 0)
                die("N must be 2..10000000", EINVAL);
        n = (int) v;

        if (argc > 2)
                snprintf(dir, sizeof(dir), "%s", argv[2]);
        else {
                snprintf(dir, sizeof(dir), "/var/tmp/jobs-bench-XXXXXX");
                if (!mkdtemp(dir))
                        die("mkdtemp", errno);
        }
        snprintf(path, sizeof(path), "%s/jobs.db", dir);
        /* Alternate, so neither side always runs on a warm cache. */
        re = raw_run(path, n, false);
        le = layer_run(path, n, false);
        rc = raw_run(path, n / 2, true);
        lc = layer_run(path, n / 2, true);
        printf("jobs.db storage layer vs raw SQLite (%d jobs, WAL, FULL for state, NORMAL for lines) in "
               "%s\n",
               n, dir);
        printf("  enqueue      layer %8.0f jobs/s   raw %8.0f jobs/s   ratio %.2f\n", le, re, le / re);
        printf("  full cycle   layer %8.0f jobs/s   raw %8.0f jobs/s   ratio %.2f\n", lc, rc, lc / rc);
        remove_db(path);
        if (argc <= 2)
                (void) rmdir(dir);
        return 0;
}
