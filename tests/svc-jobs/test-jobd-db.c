/* Unit tests of jobs.db: migrations (empty, v1, newer), round trips, optimistic state
 * updates, lines, listing filters and paging, pruning. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/sqlite.h"
#include "svc-jobs/jobd-db.h"

static char dir[64], path[128];

static void setup(void) {
        snprintf(dir, sizeof(dir), "/tmp/test-jobd-db-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/jobs.db", dir);
}

static void teardown(void) {
        static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
        char p[200];
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
                (void) unlink(p);
        }
        (void) rmdir(dir);
}

TestSuite(jobd_db, .init = setup, .fini = teardown);

static void raw_exec(const char *sql) {
        sqlite3 *db;
        char *err = NULL;
        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
        sqlite3_close(db);
}

static int64_t raw_int(const char *sql) {
        sqlite3 *db;
        sqlite3_stmt *s;
        int64_t v = -1;
        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
        if (sqlite3_step(s) == SQLITE_ROW)
                v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
}

static struct job_record new_job(enum job_kind k, const char *owner, char **subjects) {
        return (struct job_record){
                .kind = k,
                .owner = (char *) owner,
                .subjects = subjects,
                .keys = (char *) "x install\n",
                .payload = (void *) "\x80",
                .payload_len = 1,
                .created_usec = 1000,
        };
}

Test(jobd_db, migrate_from_empty) {
        struct jobd_db *db;

        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_version(db), JOBD_DB_VERSION);
        cr_assert_eq(jobd_db_integrity_check(db), 0);
        jobd_db_close(db);
        cr_assert_eq(raw_int("PRAGMA user_version"), JOBD_DB_VERSION);
        /* Opening again changes nothing. */
        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_version(db), JOBD_DB_VERSION);
        jobd_db_close(db);
        cr_assert_eq(raw_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs_active'"), 1);
}

Test(jobd_db, migrate_from_v1_keeps_data) {
        struct jobd_db *db;
        struct job_record r;

        cr_assert_eq(jobd_db_open_at_version(path, 1, &db), 0);
        cr_assert_eq(jobd_db_version(db), 1);
        jobd_db_close(db);
        /* Rows as a v1 jobd wrote them: one finished, one queued (never started). */
        raw_exec("INSERT INTO jobs (kind, owner, state, keys, payload, exit_code, created_usec, "
                 "started_usec, "
                 "finished_usec, updated_usec) VALUES ('install', 'alice', 'succeeded', 'x install\n', "
                 "x'80', 0, "
                 "10, 11, 12, 12);"
                 "INSERT INTO jobs (kind, owner, state, keys, payload, created_usec, updated_usec) VALUES "
                 "('install', 'bob', 'queued', 'x install\n', x'80', 20, 20);"
                 "INSERT INTO job_lines VALUES (1, 1, 'stdout', 'hello', 11);"
                 "INSERT INTO job_subjects VALUES ('server:s1', 1);");
        cr_assert_eq(raw_int("SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name = 'attempts'"), 0);

        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_version(db), JOBD_DB_VERSION);
        cr_assert_eq(jobd_db_get(db, 1, &r), 0);
        cr_assert_str_eq(r.owner, "alice");
        cr_assert_eq(r.state, JOB_SUCCEEDED);
        cr_assert_eq(r.attempts, 1);
        cr_assert_eq(r.last_seq, 1);
        cr_assert_str_eq(r.subjects[0], "server:s1");
        cr_assert(r.has_exit_code);
        job_record_done(&r);
        cr_assert_eq(jobd_db_get(db, 2, &r), 0);
        cr_assert_eq(r.attempts, 0);
        cr_assert_eq(r.started_usec, 0);
        job_record_done(&r);
        cr_assert_eq(jobd_db_integrity_check(db), 0);
        jobd_db_close(db);
}

Test(jobd_db, migrate_from_v2_records_units) {
        struct jobd_db *db;
        struct job_record r;

        cr_assert_eq(jobd_db_open_at_version(path, 2, &db), 0);
        cr_assert_eq(jobd_db_version(db), 2);
        jobd_db_close(db);
        /* Rows as a v2 jobd wrote them:
         *   1 server.start, ran, one server: subject (+ a user: one)  → its server unit
         *   2 server.stop, queued (never ran)                          → none
         *   3 server.start, ran, two server: subjects (a caller's tag)  → none (ambiguous)
         *   4 overlay.build, ran, hostd's info line naming its unit    → that unit
         *   5 overlay.build, failed before hostd said anything         → none
         *   6 install                                                  → none */
        raw_exec(
                "INSERT INTO jobs (kind, owner, state, keys, payload, attempts, created_usec, started_usec, "
                "finished_usec, updated_usec) VALUES "
                "('server.start', 'a', 'succeeded', 'x server:s1\n', x'80', 1, 10, 11, 12, 12),"
                "('server.stop', 'a', 'queued', 'x server:s2\n', x'80', 0, 20, NULL, NULL, 20),"
                "('server.start', 'a', 'failed', 'x server:s3\n', x'80', 1, 30, 31, 32, 32),"
                "('overlay.build', 'a', 'succeeded', 'x overlay:ov-x\n', x'80', 1, 40, 41, 42, 42),"
                "('overlay.build', 'a', 'failed', 'x overlay:ov\n', x'80', 1, 50, 51, 52, 52),"
                "('install', 'a', 'succeeded', 'x install\n', x'80', 1, 60, 61, 62, 62);"
                "INSERT INTO job_subjects VALUES ('server:s1', 1), ('user:7', 1), ('server:s2', 2),"
                "  ('server:s3', 3), ('server:zz', 3), ('overlay:ov-x', 4), ('overlay:ov', 5);"
                "INSERT INTO job_lines VALUES (4, 1, 'step', 'Step: overlay.build', 41),"
                "  (4, 2, 'info', 'Running the build script in left4me-build-ov-x-17.service (as "
                "left4me-build, MemoryMax=1, TasksMax=2, CPUQuota=3%, RuntimeMaxSec=4)', 41),"
                "  (4, 3, 'stdout', 'Running the build script in left4me-build-evil-1.service (as x', 41),"
                "  (5, 1, 'stderr', 'overlay.build failed (unavailable): no systemd', 51);");

        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_version(db), JOBD_DB_VERSION);
        static const char *const want[] = {
                [1] = "left4me-server@s1.service", [4] = "left4me-build-ov-x-17.service"};
        for (int64_t id = 1; id <= 6; id++) {
                cr_assert_eq(jobd_db_get(db, id, &r), 0, "job %lld", (long long) id);
                if (id < (int64_t) ELEMENTSOF(want) && want[id]) {
                        cr_assert_eq(strv_length(r.units), 1, "job %lld", (long long) id);
                        cr_assert_str_eq(r.units[0], want[id]);
                        cr_assert(job_unit_valid(r.units[0], strlen(r.units[0])));
                } else
                        cr_assert_eq(strv_length(r.units), 0, "job %lld has %s", (long long) id,
                                     r.units && r.units[0] ? r.units[0] : "-");
                job_record_done(&r);
        }
        cr_assert_eq(jobd_db_integrity_check(db), 0);
        jobd_db_close(db);
}

Test(jobd_db, units_round_trip) {
        struct jobd_db *db;
        struct job_record j = new_job(JOB_OVERLAY_BUILD, "o", NULL), r;
        char **units = NULL;

        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_insert(db, &j), 0);
        cr_assert_eq(jobd_db_get(db, j.id, &r), 0);
        cr_assert_eq(strv_length(r.units), 0);
        job_record_done(&r);

        cr_assert_eq(job_units_add(&units, "left4me-build-ov-5.service", 26), 1);
        cr_assert_eq(job_units_add(&units, "left4me-build-ov-5.service", 26), 0);
        cr_assert_eq(job_units_add(&units, "left4me-server@s.service", 24), 1);
        cr_assert_eq(jobd_db_set_units(db, j.id, units), 0);
        cr_assert_eq(jobd_db_get(db, j.id, &r), 0);
        cr_assert_eq(strv_length(r.units), 2);
        cr_assert_str_eq(r.units[0], "left4me-build-ov-5.service");
        cr_assert_str_eq(r.units[1], "left4me-server@s.service");
        job_record_done(&r);
        cr_assert_eq(jobd_db_set_units(db, 999, units), -ENOENT);
        cr_assert_eq(jobd_db_set_units(db, j.id, NULL), 0);
        cr_assert_eq(jobd_db_get(db, j.id, &r), 0);
        cr_assert_eq(strv_length(r.units), 0);
        job_record_done(&r);
        strv_free(units);
        jobd_db_close(db);
}

Test(jobd_db, migrate_from_v3_submitter_unknown_then_recorded) {
        struct jobd_db *db;
        struct job_record j = new_job(JOB_INSTALL, "cli:alice", NULL), r;

        cr_assert_eq(jobd_db_open_at_version(path, 3, &db), 0);
        jobd_db_close(db);
        raw_exec(
                "INSERT INTO jobs (kind, owner, state, keys, payload, attempts, created_usec, updated_usec) "
                "VALUES ('install', 'cli:bob', 'queued', 'x install\n', x'80', 0, 10, 10)");
        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_version(db), 4);
        cr_assert_eq(jobd_db_get(db, 1, &r), 0);
        cr_assert_eq(r.submitter.uid, -1, "a job from before v4 has no submitter");
        job_record_done(&r);

        j.submitter = (struct job_submitter){.uid = 1001, .pid = 4242};
        cr_assert_eq(jobd_db_insert(db, &j), 0);
        cr_assert_eq(jobd_db_get(db, j.id, &r), 0);
        cr_assert_eq(r.submitter.uid, 1001);
        cr_assert_eq(r.submitter.pid, 4242);
        cr_assert_str_eq(r.owner, "cli:alice");
        job_record_done(&r);
        jobd_db_close(db);
}

Test(jobd_db, newer_database_refused) {
        struct jobd_db *db;

        cr_assert_eq(jobd_db_open(path, &db), 0);
        jobd_db_close(db);
        raw_exec("PRAGMA user_version = 99");
        cr_assert_eq(jobd_db_open(path, &db), -EPROTONOSUPPORT);
        cr_assert_eq(raw_int("PRAGMA user_version"), 99);
}

Test(jobd_db, not_a_database) {
        struct jobd_db *db;
        FILE *f = fopen(path, "w");
        fputs("this is not sqlite, just a text file that is long enough to have a header........", f);
        fclose(f);
        cr_assert_lt(jobd_db_open(path, &db), 0);
}

Test(jobd_db, insert_update_lines) {
        char *subj[] = {"server:s1", "user:x", NULL};
        struct job_record j = new_job(JOB_SERVER_START, "alice", subj), r, next;
        struct job_line l = {.seq = 1, .stream = "stdout", .text = "one", .usec = 5};
        struct jobd_db *db;

        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_insert(db, &j), 0);
        cr_assert_eq(j.id, 1);
        cr_assert_eq(jobd_db_get(db, 1, &r), 0);
        cr_assert_eq(r.state, JOB_QUEUED);
        cr_assert_eq(r.kind, JOB_SERVER_START);
        cr_assert_eq(strv_length(r.subjects), 2);
        cr_assert_eq(r.payload_len, 1);
        cr_assert_eq(r.last_seq, 0);
        cr_assert_not(r.has_exit_code);
        job_record_done(&r);
        cr_assert_eq(jobd_db_get(db, 2, &r), -ENOENT);

        next = j;
        next.state = JOB_RUNNING;
        next.attempts = 1;
        next.started_usec = 7;
        cr_assert_eq(jobd_db_update(db, &next, JOB_QUEUED, NULL), 0);
        /* A second writer that still thinks the job is queued loses, and its line is not kept. */
        l.seq = 9;
        cr_assert_eq(jobd_db_update(db, &next, JOB_QUEUED, &l), -ESTALE);
        l.seq = 1;
        cr_assert_eq(jobd_db_append_line(db, 1, &l), 0);
        cr_assert_eq(jobd_db_append_line(db, 1, &l), -EEXIST); /* same seq twice */
        next.state = JOB_SUCCEEDED;
        next.has_exit_code = true;
        next.exit_code = 3;
        next.error = "boom";
        next.finished_usec = 8;
        l = (struct job_line){.seq = 2, .stream = "info", .text = "done", .usec = 8};
        cr_assert_eq(jobd_db_update(db, &next, JOB_RUNNING, &l), 0);
        cr_assert_eq(jobd_db_get(db, 1, &r), 0);
        cr_assert_eq(r.state, JOB_SUCCEEDED);
        cr_assert_eq(r.exit_code, 3);
        cr_assert_str_eq(r.error, "boom");
        cr_assert_eq(r.attempts, 1);
        cr_assert_eq(r.started_usec, 7);
        cr_assert_eq(r.finished_usec, 8);
        cr_assert_eq(r.last_seq, 2);
        job_record_done(&r);
        jobd_db_close(db);
        cr_assert_eq(raw_int("SELECT COUNT(*) FROM job_lines WHERE seq = 9"), 0);
}

struct lines_seen {
        int n;
        int64_t last;
        size_t longest;
};

static int count_line(const struct job_line *l, void *userdata) {
        struct lines_seen *s = userdata;
        s->n++;
        cr_assert_gt(l->seq, s->last);
        s->last = l->seq;
        s->longest = MAX(s->longest, strlen(l->text));
        return 0;
}

Test(jobd_db, lines_paged_and_capped) {
        struct job_record j = new_job(JOB_INSTALL, "a", NULL);
        char big[9000], clean[JOB_LINE_MAX + 1];
        struct jobd_db *db;
        struct lines_seen s = {};

        cr_assert_eq(jobd_db_open(path, &db), 0);
        cr_assert_eq(jobd_db_insert(db, &j), 0);
        memset(big, 'z', sizeof(big));
        (void) job_line_sanitize(big, sizeof(big), clean, NULL);
        for (int i = 1; i <= 300; i++) {
                struct job_line l = {
                        .seq = i, .stream = "stdout", .text = i == 100 ? clean : "x", .usec = 1};
                cr_assert_eq(jobd_db_append_line(db, j.id, &l), 0);
        }
        cr_assert_eq(jobd_db_lines(db, j.id, 0, 256, count_line, &s), 0);
        cr_assert_eq(s.n, 256);
        cr_assert_eq(s.longest, JOB_LINE_MAX);
        cr_assert_eq(jobd_db_lines(db, j.id, s.last, 256, count_line, &s), 0);
        cr_assert_eq(s.n, 300);
        cr_assert_eq(s.last, 300);
        jobd_db_close(db);
}

static int count_job(const struct job_record *j, void *userdata) {
        int64_t *v = userdata;
        v[0]++;
        v[1] = j->id;
        return 0;
}

Test(jobd_db, list_filters_and_paging) {
        char *s1[] = {"server:s1", NULL}, *s2[] = {"server:s2", NULL};
        struct jobd_db *db;
        int64_t v[2];

        cr_assert_eq(jobd_db_open(path, &db), 0);
        for (int i = 0; i < 30; i++) {
                struct job_record j = new_job(i % 3 ? JOB_SERVER_STOP : JOB_INSTALL, i % 2 ? "odd" : "even",
                                              i % 5 ? s1 : s2);
                cr_assert_eq(jobd_db_insert(db, &j), 0);
        }
#define LIST(...)                                                                                           \
        ({                                                                                                  \
                struct job_filter f = {__VA_ARGS__};                                                        \
                if (!f.state)                                                                               \
                        f.state = -1;                                                                       \
                if (!f.kind)                                                                                \
                        f.kind = -1;                                                                        \
                if (!f.limit)                                                                               \
                        f.limit = 100;                                                                      \
                v[0] = v[1] = 0;                                                                            \
                cr_assert_eq(jobd_db_list(db, &f, count_job, v), 0);                                        \
                v[0];                                                                                       \
        })
        cr_assert_eq(LIST(), 30);
        cr_assert_eq(v[1], 1); /* newest first: the last one seen is the oldest */
        cr_assert_eq(LIST(.owner = "odd"), 15);
        cr_assert_eq(LIST(.subject = "server:s2"), 6);
        cr_assert_eq(LIST(.kind = JOB_SERVER_STOP), 20);
        cr_assert_eq(LIST(.state = JOB_RUNNING), 0);
        cr_assert_eq(LIST(.state = JOB_RUNNING, .owner = "even"), 0);
        cr_assert_eq(LIST(.owner = "even", .kind = JOB_SERVER_STOP), 10);
        cr_assert_eq(LIST(.limit = 7), 7);
        cr_assert_eq(v[1], 24);
        cr_assert_eq(LIST(.limit = 7, .before_id = 24), 7);
        cr_assert_eq(v[1], 17);
        cr_assert_eq(LIST(.before_id = 3), 2);
        cr_assert_eq(LIST(.owner = "nobody' OR 1=1 --"), 0);
        v[0] = 0;
        cr_assert_eq(jobd_db_foreach_active(db, count_job, v), 0);
        cr_assert_eq(v[0], 30);
        jobd_db_close(db);
}

Test(jobd_db, prune_finished_only) {
        struct jobd_db *db;
        int64_t deleted = -1, n;

        cr_assert_eq(jobd_db_open(path, &db), 0);
        for (int i = 0; i < 4; i++) {
                struct job_record j = new_job(JOB_INSTALL, "a", (char *[]){"server:s", NULL}), next;
                struct job_line l = {.seq = 1, .stream = "info", .text = "x", .usec = 1};
                cr_assert_eq(jobd_db_insert(db, &j), 0);
                cr_assert_eq(jobd_db_append_line(db, j.id, &l), 0);
                if (i < 3) {
                        next = j;
                        next.state = JOB_CANCELLED;
                        next.finished_usec = i == 0 ? 100 : 5000;
                        cr_assert_eq(jobd_db_update(db, &next, JOB_QUEUED, NULL), 0);
                }
        }
        cr_assert_eq(jobd_db_prune(db, 1000, &deleted), 0);
        cr_assert_eq(deleted, 1);
        cr_assert_eq(jobd_db_count_jobs(db, -1, &n), 0);
        cr_assert_eq(n, 3);
        jobd_db_close(db);
        cr_assert_eq(raw_int("SELECT COUNT(*) FROM job_lines"), 3);
        cr_assert_eq(raw_int("SELECT COUNT(*) FROM job_subjects"), 3);
}

/* db_dir_prepare (daemon/sqlite.c): the database's directory is the daemon's own and 0700. */
Test(jobd_db, database_dir_must_be_private) {
        char sub[100], db[300], err[512], link[100];
        struct stat st;

        snprintf(sub, sizeof(sub), "%s/jobs", dir);
        snprintf(db, sizeof(db), "%s/jobs.db", sub);
        cr_assert_eq(db_dir_prepare(db, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(stat(sub, &st), 0, "a missing dir is created");
        cr_assert_eq(st.st_mode & 07777, 0700);
        cr_assert_eq(db_dir_prepare(db, err, sizeof(err)), 0, "an existing private dir is fine: %s", err);

        cr_assert_eq(chmod(sub, 0750), 0);
        cr_assert_eq(db_dir_prepare(db, err, sizeof(err)), -EPERM);
        cr_assert(strstr(err, "mode 0700") && strstr(err, "mode 0750"), "%s", err);
        cr_assert_eq(chmod(sub, 0700), 0);
        if (geteuid() == 0) { /* someone else's private dir is not ours either */
                cr_assert_eq(chown(sub, 65534, 65534), 0);
                cr_assert_eq(db_dir_prepare(db, err, sizeof(err)), -EPERM);
                cr_assert(strstr(err, "uid 65534"), "%s", err);
                cr_assert_eq(chown(sub, 0, 0), 0);
        }

        /* A symlink in place of the directory is refused, even to a private dir. */
        snprintf(link, sizeof(link), "%s/alias", dir);
        cr_assert_eq(symlink(sub, link), 0);
        snprintf(db, sizeof(db), "%s/jobs.db", link);
        cr_assert_lt(db_dir_prepare(db, err, sizeof(err)), 0);
        cr_assert_eq(unlink(link), 0);

        cr_assert_eq(db_dir_prepare("jobs.db", err, sizeof(err)), -EINVAL);
        cr_assert_eq(rmdir(sub), 0);
}

/* The group commit's storage: a batch is one transaction, all or nothing. */
Test(jobd_db, insert_many_all_or_nothing) {
        struct jobd_db *db;
        char *subj[] = {"user:7", NULL};
        struct job_record a = new_job(JOB_INSTALL, "a", subj), b = new_job(JOB_INSTALL, "b", NULL),
                          bad = new_job(JOB_INSTALL, NULL, NULL), r;
        struct job_record *ok[] = {&a, &b}, *mixed[] = {&a, &bad, &b};
        int64_t n = -1;

        cr_assert_eq(jobd_db_open(path, &db), 0);
        /* owner NULL breaks a NOT NULL constraint in the middle: nothing of the batch stays. */
        a.id = b.id = 0;
        cr_assert_lt(jobd_db_insert_many(db, mixed, ELEMENTSOF(mixed)), 0);
        cr_assert_eq(a.id, 0, "a record of a failed batch got an id");
        cr_assert_eq(b.id, 0);
        cr_assert_eq(jobd_db_count_jobs(db, -1, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(raw_int("SELECT COUNT(*) FROM job_subjects"), 0);

        cr_assert_eq(jobd_db_insert_many(db, ok, ELEMENTSOF(ok)), 0);
        cr_assert_gt(a.id, 0);
        cr_assert_eq(b.id, a.id + 1, "ids follow the batch's order");
        cr_assert_eq(a.state, JOB_QUEUED);
        cr_assert_eq(jobd_db_get(db, a.id, &r), 0);
        cr_assert_str_eq(r.owner, "a");
        cr_assert_eq(strv_length(r.subjects), 1);
        job_record_done(&r);
        cr_assert_eq(jobd_db_count_jobs(db, JOB_QUEUED, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(jobd_db_insert_many(db, NULL, 0), 0);
        cr_assert_eq(jobd_db_integrity_check(db), 0);
        jobd_db_close(db);
}
