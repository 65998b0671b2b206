/* Unit tests of web.db (svc-web/webd-db.c): migrations from every earlier version, the
 * file mode, users and their guards, sessions and their expiry, the append-only audit log,
 * and that a change is all-or-nothing (also under SIGKILL). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-web/webd-db.h"

#define SEC 1000000ll

static char dir[64], path[128];

static void setup(void) {
        snprintf(dir, sizeof(dir), "/tmp/test-webd-db-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/web.db", dir);
}

/* The directory holds only flat files (web.db, -wal, -shm, a symlink). */
static void teardown(void) {
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d)))
                if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        (void) rmdir(dir);
}

TestSuite(webd_db, .init = setup, .fini = teardown);

/* Raw SQL on the file, as an older webd (or an admin) would write it. */
static int raw_sql(const char *sql) {
        sqlite3 *s;
        char *err = NULL;
        int rc;

        cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
        rc = sqlite3_exec(s, sql, NULL, NULL, &err);
        sqlite3_free(err);
        sqlite3_close(s);
        return rc;
}

static long long raw_count(const char *sql) {
        sqlite3 *s;
        sqlite3_stmt *st;
        long long n = -1;

        cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(s));
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(s);
        return n;
}

static struct webd_db *open_db(void) {
        struct webd_db *db = NULL;

        cr_assert_eq(webd_db_open(path, &db), 0);
        return db;
}

/* ---- migrations ------------------------------------------------------------------------- */

/* Per version v: SQL that writes data in schema v (run after opening at v), and a check,
 * run after migrating to the newest version, that the data survived. fill[0] is the empty
 * file. Migration 2 adds fill[1]/check[1], migration 3 fill[2]/check[2], migration 4
 * fill[3]/check[3]. */
static const char *const fill[WEBD_DB_VERSION] = {
        [0] = NULL,
        [1] = "INSERT INTO users (username, password_hash, password_changed_usec, created_usec) "
              "VALUES ('old', 'h', 1, 1);"
              "INSERT INTO audit (at_usec, kind, result) VALUES (1, 'login', 'ok');",
        [2] = "INSERT INTO users (username, password_hash, password_changed_usec, created_usec) "
              "VALUES ('v2', 'h', 1, 1);"
              "INSERT INTO blueprints (owner_id, name, created_usec, updated_usec) VALUES (1, 'bp', 1, 1);"
              "INSERT INTO blueprint_overlays (blueprint_id, position, overlay) VALUES (1, 0, 'standard');"
              "INSERT INTO servers (owner_id, blueprint_id, name, port, rcon_password, created_usec, "
              "updated_usec) VALUES (1, 1, 's', 27015, 'pw', 1, 1);",
        [3] = "INSERT INTO users (username, password_hash, password_changed_usec, created_usec) "
              "VALUES ('v3', 'h', 1, 1);"
              "INSERT INTO overlays (owner_id, type, name, created_usec, updated_usec) "
              "VALUES (1, 'files', 'maps', 1, 1);"
              "INSERT INTO audit (at_usec, kind, object, result) VALUES (5, 'overlay.create', 'overlay:1', "
              "'ok');",
};
static const char *const check[WEBD_DB_VERSION] = {
        [0] = NULL,
        [1] = "SELECT COUNT(*) FROM users u, audit a WHERE u.username = 'old' AND a.kind = 'login' "
              "AND (SELECT COUNT(*) FROM servers) = 0",
        [2] = "SELECT COUNT(*) FROM servers s JOIN blueprint_overlays bo ON bo.blueprint_id = "
              "s.blueprint_id "
              "WHERE bo.overlay = 'standard' AND (SELECT COUNT(*) FROM overlays) = 0",
        /* The old entry survives, gains an empty token, and is still not deletable. */
        [3] = "SELECT COUNT(*) FROM audit a, overlays o WHERE a.object = 'overlay:1' AND a.token IS NULL "
              "AND o.name = 'maps' AND (SELECT COUNT(*) FROM api_tokens) = 0 "
              "AND (SELECT cutoff_usec FROM audit_retention) = 0",
};

Test(webd_db, migrate_from_every_earlier_version) {
        for (int v = 0; v < WEBD_DB_VERSION; v++) {
                struct webd_db *db = NULL;

                teardown();
                setup();
                cr_assert_eq(webd_db_open_at_version(path, v, &db), 0, "version %d", v);
                cr_assert_eq(webd_db_version(db), v);
                webd_db_close(db);
                if (fill[v])
                        cr_assert_eq(raw_sql(fill[v]), SQLITE_OK, "fill %d", v);
                db = open_db();
                cr_assert_eq(webd_db_version(db), WEBD_DB_VERSION);
                cr_assert_eq(webd_db_integrity_check(db), 0);
                webd_db_close(db);
                if (check[v])
                        cr_assert_eq(raw_count(check[v]), 1, "check %d", v);
                /* Opening again is a no-op. */
                db = open_db();
                cr_assert_eq(webd_db_version(db), WEBD_DB_VERSION);
                webd_db_close(db);
        }
}

Test(webd_db, schema_of_version_1) {
        webd_db_close(open_db());
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                               "('users', 'sessions', 'audit')"),
                     3);
        /* The audit log's two, and the two that keep its retention cutoff moving forward only. */
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
                               "('audit_no_update', 'audit_no_delete', 'audit_retention_forward', "
                               "'audit_retention_no_delete')"),
                     4);
        {
                sqlite3 *s;
                sqlite3_stmt *st;
                cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
                cr_assert_eq(sqlite3_prepare_v2(s, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
                cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
                cr_assert_str_eq((const char *) sqlite3_column_text(st, 0), "wal");
                sqlite3_finalize(st);
                sqlite3_close(s);
        }
}

Test(webd_db, newer_database_refused) {
        struct webd_db *db = NULL;

        webd_db_close(open_db());
        cr_assert_eq(raw_sql("PRAGMA user_version = 99"), SQLITE_OK);
        cr_assert_eq(webd_db_open(path, &db), -EPROTONOSUPPORT);
        cr_assert_null(db);
        cr_assert_eq(webd_db_open_at_version(path, WEBD_DB_VERSION + 1, &db), -EINVAL);
}

Test(webd_db, not_a_database) {
        struct webd_db *db = NULL;
        FILE *f = fopen(path, "w");

        cr_assert_not_null(f);
        for (int i = 0; i < 200; i++)
                fputs("this is not an SQLite database, just text. ", f);
        fclose(f);
        cr_assert_eq(webd_db_open(path, &db), -EUCLEAN);
}

Test(webd_db, file_mode_0600) {
        struct webd_db *db;
        struct stat st;
        char wal[160];
        mode_t old = umask(0);

        db = open_db();
        cr_assert_eq(webd_db_user_create(db, "alice", "h", false, false, SEC, NULL, NULL), 0);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600);
        snprintf(wal, sizeof(wal), "%s-wal", path);
        cr_assert_eq(stat(wal, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600);
        webd_db_close(db);
        /* An existing file with a looser mode is tightened. */
        cr_assert_eq(chmod(path, 0644), 0);
        db = open_db();
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600);
        webd_db_close(db);
        umask(old);
}

Test(webd_db, symlink_refused) {
        struct webd_db *db = NULL;
        char target[160];

        snprintf(target, sizeof(target), "%s/elsewhere", dir);
        cr_assert_eq(symlink(target, path), 0);
        cr_assert_eq(webd_db_open(path, &db), -ELOOP);
}

/* ---- users ------------------------------------------------------------------------------ */

static int64_t mkuser(struct webd_db *db, const char *name, bool admin) {
        int64_t id = 0;

        cr_assert_eq(webd_db_user_create(db, name, "$argon2id$fake", admin, false, 10 * SEC, NULL, &id), 0,
                     "%s", name);
        cr_assert_gt(id, 0);
        return id;
}

Test(webd_db, user_create_get_list) {
        struct webd_db *db = open_db();
        struct webd_user u = {};
        int64_t a, b;

        a = mkuser(db, "alice", true);
        cr_assert_eq(webd_db_user_create(db, "bob", "hash-b", false, true, 20 * SEC, NULL, &b), 0);
        cr_assert_eq(webd_db_user_get(db, a, &u), 0);
        cr_assert_str_eq(u.username, "alice");
        cr_assert_str_eq(u.password_hash, "$argon2id$fake");
        cr_assert(u.is_admin && u.active && !u.must_change_password);
        cr_assert_eq(u.created_usec, 10 * SEC);
        cr_assert_eq(u.password_changed_usec, 10 * SEC);
        webd_user_done(&u);
        cr_assert_eq(webd_db_user_get_by_name(db, "bob", &u), 0);
        cr_assert_eq(u.id, b);
        cr_assert(!u.is_admin && u.must_change_password);
        webd_user_done(&u);
        /* Names are unique case-insensitively, and found that way. */
        cr_assert_eq(webd_db_user_create(db, "ALICE", "h", false, false, SEC, NULL, NULL), -EEXIST);
        cr_assert_eq(webd_db_user_get_by_name(db, "Bob", &u), 0);
        webd_user_done(&u);
        cr_assert_eq(webd_db_user_get_by_name(db, "carol", &u), -ENOENT);
        cr_assert_eq(webd_db_user_get_by_name(db, "", &u), -ENOENT);
        cr_assert_eq(webd_db_user_get(db, 999, &u), -ENOENT);
        webd_db_close(db);
}

static int count_cb(const struct webd_user *u, void *ud) {
        char *names = ud;
        strncat(names, u->username, 100);
        strncat(names, ",", 100);
        return 0;
}

static int stop_cb(const struct webd_user *u, void *ud) {
        (*(int *) ud)++;
        return -ECANCELED;
}

Test(webd_db, user_list_and_bad_names) {
        struct webd_db *db = open_db();
        char names[256] = "", long_name[WEBD_DB_USERNAME_MAX + 2];
        int n = 0;

        mkuser(db, "carol", false);
        mkuser(db, "alice", true);
        mkuser(db, "bob", false);
        cr_assert_eq(webd_db_user_list(db, count_cb, names), 0);
        cr_assert_str_eq(names, "alice,bob,carol,");
        cr_assert_eq(webd_db_user_list(db, stop_cb, &n), -ECANCELED);
        cr_assert_eq(n, 1);
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        cr_assert_eq(webd_db_user_create(db, long_name, "h", false, false, SEC, NULL, NULL), -EINVAL);
        long_name[WEBD_DB_USERNAME_MAX] = '\0';
        cr_assert_eq(webd_db_user_create(db, long_name, "h", false, false, SEC, NULL, NULL), 0);
        cr_assert_eq(webd_db_user_create(db, "", "h", false, false, SEC, NULL, NULL), -EINVAL);
        cr_assert_eq(webd_db_user_create(db, "dave", "", false, false, SEC, NULL, NULL), -EINVAL);
        webd_db_close(db);
}

static void mksession(struct webd_db *db, int64_t user, uint8_t tag, int64_t now, uint8_t ret_hash[32]) {
        struct webd_session s = {
                .user_id = user,
                .csrf = (char *) "csrf-token",
                .created_usec = now,
                .last_seen_usec = now,
                .idle_expires_usec = now + 3600 * SEC,
                .absolute_expires_usec = now + 7 * 86400 * SEC,
                .address = (char *) "192.0.2.1",
                .user_agent = (char *) "test/1.0",
        };
        memset(s.id_hash, tag, sizeof(s.id_hash));
        cr_assert_eq(webd_db_session_create(db, &s), 0);
        if (ret_hash)
                memcpy(ret_hash, s.id_hash, 32);
}

static int lookup(struct webd_db *db, const uint8_t *h, int64_t now) {
        struct webd_session s = {};
        struct webd_user u = {};
        int r = webd_db_session_lookup(db, h, now, &s, &u);
        webd_session_done(&s);
        webd_user_done(&u);
        return r;
}

Test(webd_db, set_password_ends_other_sessions) {
        struct webd_db *db = open_db();
        uint8_t s1[32], s2[32], s3[32];
        struct webd_user u = {};
        int64_t a = mkuser(db, "alice", false), b = mkuser(db, "bob", false);

        mksession(db, a, 1, 100 * SEC, s1);
        mksession(db, a, 2, 100 * SEC, s2);
        mksession(db, b, 3, 100 * SEC, s3);
        cr_assert_eq(webd_db_user_set_password(db, a, "new-hash", false, 200 * SEC, s1, NULL), 0);
        cr_assert_eq(lookup(db, s1, 201 * SEC), 0);
        cr_assert_eq(lookup(db, s2, 201 * SEC), -ENOENT);
        cr_assert_eq(lookup(db, s3, 201 * SEC), 0); /* another user's: untouched */
        cr_assert_eq(webd_db_user_get(db, a, &u), 0);
        cr_assert_str_eq(u.password_hash, "new-hash");
        cr_assert_eq(u.password_changed_usec, 200 * SEC);
        webd_user_done(&u);
        /* An admin reset (keep nothing) that also demands a change at next login. */
        cr_assert_eq(webd_db_user_set_password(db, a, "reset-hash", true, 300 * SEC, NULL, NULL), 0);
        cr_assert_eq(lookup(db, s1, 301 * SEC), -ENOENT);
        cr_assert_eq(webd_db_user_get(db, a, &u), 0);
        cr_assert(u.must_change_password);
        webd_user_done(&u);
        cr_assert_eq(webd_db_user_set_password(db, 999, "x", false, SEC, NULL, NULL), -ENOENT);
        cr_assert_eq(webd_db_user_set_password(db, a, "", false, SEC, NULL, NULL), -EINVAL);
        webd_db_close(db);
}

Test(webd_db, set_active_ends_all_sessions_and_guards_last_admin) {
        struct webd_db *db = open_db();
        int64_t admin = mkuser(db, "root", true), user = mkuser(db, "bob", false);
        struct webd_user u = {};
        uint8_t s1[32], s2[32];

        mksession(db, user, 1, 100 * SEC, s1);
        mksession(db, user, 2, 100 * SEC, s2);
        cr_assert_eq(webd_db_user_set_active(db, user, false, NULL), 0);
        cr_assert_eq(lookup(db, s1, 101 * SEC), -ENOENT);
        cr_assert_eq(lookup(db, s2, 101 * SEC), -ENOENT);
        cr_assert_eq(webd_db_user_get(db, user, &u), 0);
        cr_assert(!u.active);
        webd_user_done(&u);
        cr_assert_eq(webd_db_user_set_active(db, user, true, NULL), 0);
        /* The only active admin cannot be deactivated... */
        cr_assert_eq(webd_db_user_set_active(db, admin, false, NULL), -EBUSY);
        cr_assert_eq(webd_db_user_get(db, admin, &u), 0);
        cr_assert(u.active);
        webd_user_done(&u);
        /* ...until there is another. */
        cr_assert_eq(webd_db_user_set_admin(db, user, true, NULL), 0);
        cr_assert_eq(webd_db_user_set_active(db, admin, false, NULL), 0);
        cr_assert_eq(webd_db_user_set_active(db, user, false, NULL), -EBUSY);
        cr_assert_eq(webd_db_user_set_active(db, 999, true, NULL), -ENOENT);
        webd_db_close(db);
}

Test(webd_db, session_of_inactive_user_never_valid) {
        struct webd_db *db = open_db();
        int64_t user = mkuser(db, "bob", false);
        uint8_t s1[32];

        mksession(db, user, 1, 100 * SEC, s1);
        /* Even if a session row survived (written behind webd's back), it is refused. */
        cr_assert_eq(raw_sql("UPDATE users SET active = 0"), SQLITE_OK);
        cr_assert_eq(lookup(db, s1, 101 * SEC), -ENOENT);
        webd_db_close(db);
}

Test(webd_db, set_admin_ends_sessions_and_guards_last_admin) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "root", true), b = mkuser(db, "bob", false), c = mkuser(db, "carol", true);
        uint8_t s1[32], s2[32];
        struct webd_user u = {};

        mksession(db, b, 1, 100 * SEC, s1);
        mksession(db, c, 2, 100 * SEC, s2);
        cr_assert_eq(webd_db_user_set_admin(db, b, true, NULL), 0);
        cr_assert_eq(lookup(db, s1, 101 * SEC), -ENOENT);
        cr_assert_eq(webd_db_user_set_admin(db, c, false, NULL), 0);
        cr_assert_eq(lookup(db, s2, 101 * SEC), -ENOENT);
        cr_assert_eq(webd_db_user_set_admin(db, b, false, NULL), 0);
        cr_assert_eq(webd_db_user_set_admin(db, a, false, NULL), -EBUSY);
        cr_assert_eq(webd_db_user_get(db, a, &u), 0);
        cr_assert(u.is_admin);
        webd_user_done(&u);
        /* An inactive admin does not count as the remaining one. */
        cr_assert_eq(webd_db_user_set_admin(db, c, true, NULL), 0);
        cr_assert_eq(webd_db_user_set_active(db, c, false, NULL), 0);
        cr_assert_eq(webd_db_user_set_admin(db, a, false, NULL), -EBUSY);
        webd_db_close(db);
}

Test(webd_db, delete_guards_and_cascade) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "root", true), b = mkuser(db, "bob", false);
        struct webd_user u = {};
        uint8_t s1[32];

        mksession(db, b, 1, 100 * SEC, s1);
        cr_assert_eq(webd_db_user_delete(db, a, NULL), -EBUSY);
        cr_assert_eq(webd_db_user_get(db, a, &u), 0);
        webd_user_done(&u);
        cr_assert_eq(webd_db_user_delete(db, b, NULL), 0);
        cr_assert_eq(webd_db_user_get(db, b, &u), -ENOENT);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM sessions"), 0);
        cr_assert_eq(webd_db_user_delete(db, b, NULL), -ENOENT);
        /* With a second active admin the first can go; an inactive admin can always go. */
        int64_t c = mkuser(db, "carol", true);
        cr_assert_eq(webd_db_user_delete(db, a, NULL), 0);
        int64_t d = mkuser(db, "dave", true);
        cr_assert_eq(webd_db_user_set_active(db, d, false, NULL), 0);
        cr_assert_eq(webd_db_user_delete(db, c, NULL), -EBUSY);
        cr_assert_eq(webd_db_user_delete(db, d, NULL), 0);
        /* The name is free again; ids are never reused (AUTOINCREMENT). */
        int64_t b2 = mkuser(db, "bob", false);
        cr_assert_gt(b2, d);
        webd_db_close(db);
}

/* ---- sessions --------------------------------------------------------------------------- */

Test(webd_db, session_lookup_returns_session_and_user) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "alice", true);
        struct webd_session s = {};
        struct webd_user u = {};
        uint8_t h[32], other[32];

        mksession(db, a, 7, 100 * SEC, h);
        cr_assert_eq(webd_db_session_lookup(db, h, 101 * SEC, &s, &u), 0);
        cr_assert_eq(memcmp(s.id_hash, h, 32), 0);
        cr_assert_eq(s.user_id, a);
        cr_assert_str_eq(s.csrf, "csrf-token");
        cr_assert_str_eq(s.address, "192.0.2.1");
        cr_assert_str_eq(s.user_agent, "test/1.0");
        cr_assert_eq(s.created_usec, 100 * SEC);
        cr_assert_str_eq(u.username, "alice");
        cr_assert(u.is_admin);
        webd_session_done(&s);
        webd_user_done(&u);
        cr_assert_eq(webd_db_session_lookup(db, h, 101 * SEC, &s, NULL), 0);
        webd_session_done(&s);
        memset(other, 8, sizeof(other));
        cr_assert_eq(lookup(db, other, 101 * SEC), -ENOENT);
        webd_db_close(db);
}

Test(webd_db, idle_expiry_and_touch) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "alice", false);
        uint8_t h[32];

        mksession(db, a, 1, 0, h); /* idle 1 h, absolute 7 d */
        cr_assert_eq(lookup(db, h, 3599 * SEC), 0);
        cr_assert_eq(webd_db_session_touch(db, h, 3000 * SEC, 3600 * SEC), 0);
        cr_assert_eq(lookup(db, h, 6599 * SEC), 0);
        cr_assert_eq(lookup(db, h, 6600 * SEC), -ETIMEDOUT);
        /* Expired sessions are deleted at lookup. */
        cr_assert_eq(lookup(db, h, 6600 * SEC), -ENOENT);
        cr_assert_eq(webd_db_session_touch(db, h, 7000 * SEC, 3600 * SEC), -ENOENT);
        webd_db_close(db);
}

Test(webd_db, absolute_expiry_beats_touch) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "alice", false);
        int64_t abs = 7 * 86400 * SEC;
        struct webd_session s = {};
        uint8_t h[32];

        mksession(db, a, 1, 0, h);
        /* Touched every 30 minutes for a week: the idle expiry never passes the absolute. */
        for (int64_t t = 0; t < abs; t += 1800 * SEC)
                cr_assert_eq(webd_db_session_touch(db, h, t, 3600 * SEC), 0);
        cr_assert_eq(webd_db_session_lookup(db, h, abs - 1, &s, NULL), 0);
        cr_assert_leq(s.idle_expires_usec, abs);
        webd_session_done(&s);
        cr_assert_eq(lookup(db, h, abs), -ETIMEDOUT);
        webd_db_close(db);
}

Test(webd_db, session_delete_and_delete_all_but_one) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "alice", false);
        uint8_t h1[32], h2[32], h3[32];

        mksession(db, a, 1, 100 * SEC, h1);
        mksession(db, a, 2, 100 * SEC, h2);
        mksession(db, a, 3, 100 * SEC, h3);
        cr_assert_eq(webd_db_session_delete(db, h3), 0);
        cr_assert_eq(webd_db_session_delete(db, h3), -ENOENT);
        cr_assert_eq(webd_db_sessions_delete_user(db, a, h1), 1);
        cr_assert_eq(lookup(db, h1, 101 * SEC), 0);
        cr_assert_eq(lookup(db, h2, 101 * SEC), -ENOENT);
        cr_assert_eq(webd_db_sessions_delete_user(db, a, NULL), 1);
        cr_assert_eq(webd_db_sessions_delete_user(db, a, NULL), 0);
        webd_db_close(db);
}

static int session_list_cb(const struct webd_session *s, void *ud) {
        uint8_t *tags = ud;
        size_t n = strlen((char *) tags);
        tags[n] = (uint8_t) ('0' + s->id_hash[0]);
        return 0;
}

Test(webd_db, sessions_listed_newest_first_capped_and_pruned) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "alice", false), b = mkuser(db, "bob", false);
        uint8_t tags[64] = {}, h[32];

        mksession(db, a, 1, 100 * SEC, NULL);
        mksession(db, a, 3, 300 * SEC, NULL);
        mksession(db, a, 2, 200 * SEC, NULL);
        mksession(db, b, 9, 100 * SEC, NULL);
        cr_assert_eq(webd_db_sessions_list_user(db, a, session_list_cb, tags), 0);
        cr_assert_str_eq((char *) tags, "321");
        /* The per-user cap ends the least recently seen. */
        for (int i = 0; i < (int) WEBD_DB_SESSIONS_PER_USER + 5; i++)
                mksession(db, b, (uint8_t) (100 + i), 1000 * SEC + i, NULL);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM sessions WHERE user_id = 2"),
                     WEBD_DB_SESSIONS_PER_USER);
        memset(h, 9, sizeof(h));
        cr_assert_eq(lookup(db, h, 1100 * SEC), -ENOENT);
        memset(h, 100 + WEBD_DB_SESSIONS_PER_USER + 4, sizeof(h));
        cr_assert_eq(lookup(db, h, 1100 * SEC), 0);
        /* Prune: everything idle for more than an hour. */
        cr_assert_eq(webd_db_sessions_prune(db, 200 * SEC + 3600 * SEC), 2);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM sessions WHERE user_id = 1"), 1);
        cr_assert_eq(webd_db_sessions_prune(db, 200 * SEC + 3600 * SEC), 0);
        webd_db_close(db);
}

Test(webd_db, session_fields_capped_and_checked) {
        struct webd_db *db = open_db();
        int64_t a = mkuser(db, "alice", false);
        struct webd_session s = {.user_id = a,
                                 .csrf = (char *) "t",
                                 .created_usec = 1,
                                 .idle_expires_usec = 100,
                                 .absolute_expires_usec = 50};
        char ua[2000];

        memset(ua, 'u', sizeof(ua) - 1);
        ua[sizeof(ua) - 1] = '\0';
        s.user_agent = ua;
        cr_assert_eq(webd_db_session_create(db, &s), 0);
        cr_assert_eq(raw_count("SELECT length(user_agent) FROM sessions"), WEBD_DB_UA_MAX);
        /* The idle expiry never exceeds the absolute one. */
        cr_assert_eq(raw_count("SELECT idle_expires_usec FROM sessions"), 50);
        s.id_hash[0] = 1;
        s.absolute_expires_usec = 1;
        cr_assert_eq(webd_db_session_create(db, &s), -EINVAL);
        s.absolute_expires_usec = 50;
        s.csrf = NULL;
        cr_assert_eq(webd_db_session_create(db, &s), -EINVAL);
        /* Same id twice: refused. Unknown user: refused (foreign key). */
        s.csrf = (char *) "t";
        s.id_hash[0] = 0;
        cr_assert_eq(webd_db_session_create(db, &s), -EEXIST);
        s.id_hash[0] = 2;
        s.user_id = 999;
        cr_assert_lt(webd_db_session_create(db, &s), 0);
        webd_db_close(db);
}

/* ---- audit ------------------------------------------------------------------------------ */

struct seen {
        int n;
        int64_t ids[64];
        char kinds[512];
};

static int audit_cb(const struct webd_audit *a, void *ud) {
        struct seen *s = ud;
        s->ids[s->n++] = a->id;
        strncat(s->kinds, a->kind, 20);
        strncat(s->kinds, ",", 2);
        return 0;
}

static void audit(struct webd_db *db, int64_t at, const char *actor, const char *kind, const char *result) {
        struct webd_audit a = {
                .at_usec = at,
                .actor = actor,
                .kind = kind,
                .object = "user:1",
                .address = "192.0.2.1",
                .result = result,
                .detail = "d",
        };
        cr_assert_eq(webd_db_audit_append(db, &a, NULL), 0);
}

Test(webd_db, audit_is_append_only) {
        struct webd_db *db = open_db();
        struct webd_audit a = {.at_usec = SEC, .kind = "login", .result = "ok"};
        int64_t id = 0;

        cr_assert_eq(webd_db_audit_append(db, &a, &id), 0);
        cr_assert_gt(id, 0);
        cr_assert_neq(raw_sql("UPDATE audit SET result = 'denied'"), SQLITE_OK);
        cr_assert_neq(raw_sql("DELETE FROM audit"), SQLITE_OK);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit WHERE result = 'ok'"), 1);
        /* kind and result are required. */
        a.kind = NULL;
        cr_assert_eq(webd_db_audit_append(db, &a, NULL), -EINVAL);
        a.kind = "login";
        a.result = "";
        cr_assert_eq(webd_db_audit_append(db, &a, NULL), -EINVAL);
        webd_db_close(db);
}

Test(webd_db, audit_query_filters_and_pages) {
        struct webd_db *db = open_db();
        struct webd_audit_filter f = {};
        struct seen s = {};
        int64_t next = -1;

        audit(db, 1 * SEC, "alice", "login", "ok");
        audit(db, 2 * SEC, "bob", "login", "denied");
        audit(db, 3 * SEC, "alice", "user.create", "ok");
        audit(db, 4 * SEC, "alice", "logout", "ok");
        audit(db, 5 * SEC, "bob", "login", "ok");

        cr_assert_eq(webd_db_audit_query(db, &f, audit_cb, &s, &next), 0);
        cr_assert_str_eq(s.kinds, "login,logout,user.create,login,login,");
        cr_assert_eq(next, 0);

        s = (struct seen){};
        f = (struct webd_audit_filter){.actor = "alice"};
        cr_assert_eq(webd_db_audit_query(db, &f, audit_cb, &s, &next), 0);
        cr_assert_str_eq(s.kinds, "logout,user.create,login,");

        s = (struct seen){};
        f = (struct webd_audit_filter){.kind = "login", .result = "ok"};
        cr_assert_eq(webd_db_audit_query(db, &f, audit_cb, &s, &next), 0);
        cr_assert_eq(s.n, 2);

        s = (struct seen){};
        f = (struct webd_audit_filter){.since_usec = 2 * SEC, .until_usec = 4 * SEC};
        cr_assert_eq(webd_db_audit_query(db, &f, audit_cb, &s, &next), 0);
        cr_assert_str_eq(s.kinds, "user.create,login,");

        s = (struct seen){};
        f = (struct webd_audit_filter){.object = "user:2"};
        cr_assert_eq(webd_db_audit_query(db, &f, audit_cb, &s, &next), 0);
        cr_assert_eq(s.n, 0);

        /* Pages of two: 5 4 | 3 2 | 1, then nothing. */
        f = (struct webd_audit_filter){.limit = 2};
        int pages = 0, total = 0;
        do {
                s = (struct seen){};
                cr_assert_eq(webd_db_audit_query(db, &f, audit_cb, &s, &next), 0);
                cr_assert_leq(s.n, 2);
                if (s.n > 1)
                        cr_assert_gt(s.ids[0], s.ids[1]);
                total += s.n;
                pages++;
                f.before_id = next;
        } while (next != 0);
        cr_assert_eq(total, 5);
        cr_assert_eq(pages, 3);
        webd_db_close(db);
}

static int count_audit_cb(const struct webd_audit *a, void *ud) {
        (*(int *) ud)++;
        return 0;
}

static int stop_audit_cb(const struct webd_audit *a, void *ud) {
        (*(int *) ud)++;
        return -ECANCELED;
}

Test(webd_db, audit_page_limit_capped) {
        struct webd_db *db = open_db();
        struct webd_audit_filter f = {.limit = 100000};
        struct webd_audit a = {.kind = "k", .result = "ok"};
        int n = 0;
        int64_t next;

        for (unsigned i = 0; i < WEBD_DB_PAGE_MAX + 10; i++) {
                a.at_usec = i;
                cr_assert_eq(webd_db_audit_append(db, &a, NULL), 0);
        }
        cr_assert_eq(webd_db_audit_query(db, &f, count_audit_cb, &n, &next), 0);
        cr_assert_eq(n, (int) WEBD_DB_PAGE_MAX);
        cr_assert_gt(next, 0);
        n = 0;
        f.before_id = next;
        cr_assert_eq(webd_db_audit_query(db, &f, count_audit_cb, &n, &next), 0);
        cr_assert_eq(n, 10);
        cr_assert_eq(next, 0);
        /* A negative return from the callback stops and is returned. */
        n = 0;
        f.before_id = 0;
        cr_assert_eq(webd_db_audit_query(db, &f, stop_audit_cb, &n, &next), -ECANCELED);
        cr_assert_eq(n, 1);
        webd_db_close(db);
}

Test(webd_db, audit_text_fields_capped) {
        struct webd_db *db = open_db();
        char detail[10000];
        struct webd_audit a = {.kind = "k", .result = "ok", .detail = detail};

        memset(detail, 'd', sizeof(detail) - 1);
        detail[sizeof(detail) - 1] = '\0';
        cr_assert_eq(webd_db_audit_append(db, &a, NULL), 0);
        cr_assert_eq(raw_count("SELECT length(detail) FROM audit"), WEBD_DB_AUDIT_TEXT_MAX);
        webd_db_close(db);
}

/* ---- audit retention -------------------------------------------------------------------- */

Test(webd_db, audit_prune_deletes_only_older) {
        struct webd_db *db = open_db();

        /* Nothing stored: nothing deleted, the cutoff still moves. */
        cr_assert_eq(webd_db_audit_prune(db, 2 * SEC), 0);
        cr_assert_eq(raw_count("SELECT cutoff_usec FROM audit_retention"), 2 * SEC);
        for (int i = 1; i <= 5; i++)
                audit(db, i * SEC, "alice", "login", "ok");
        /* 1 s is before the stored cutoff of 2 s; 2 s is at it and stays. */
        cr_assert_eq(webd_db_audit_prune(db, 2 * SEC), 1);
        cr_assert_eq(raw_count("SELECT MIN(at_usec) FROM audit"), 2 * SEC);
        /* 3 s: deletes 2 s only (the count is this prune's). */
        cr_assert_eq(webd_db_audit_prune(db, 3 * SEC), 1);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 3);
        cr_assert_eq(raw_count("SELECT MIN(at_usec) FROM audit"), 3 * SEC);
        /* Again at the same cutoff: nothing left to delete. */
        cr_assert_eq(webd_db_audit_prune(db, 3 * SEC), 0);
        /* Past every entry: all of them. */
        cr_assert_eq(webd_db_audit_prune(db, 6 * SEC), 3);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 0);
        webd_db_close(db);
}

Test(webd_db, audit_prune_cutoff_never_moves_back) {
        struct webd_db *db = open_db();

        for (int i = 1; i <= 5; i++)
                audit(db, i * SEC, "alice", "login", "ok");
        cr_assert_eq(webd_db_audit_prune(db, 3 * SEC), 2);
        /* An earlier cutoff keeps the stored one, and deletes nothing more. */
        cr_assert_eq(webd_db_audit_prune(db, 1 * SEC), 0);
        cr_assert_eq(raw_count("SELECT cutoff_usec FROM audit_retention"), 3 * SEC);
        cr_assert_eq(webd_db_audit_prune(db, 0), 0);
        cr_assert_eq(raw_count("SELECT cutoff_usec FROM audit_retention"), 3 * SEC);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 3);
        /* Nor can raw SQL move it back, or delete the row. */
        cr_assert_neq(raw_sql("UPDATE audit_retention SET cutoff_usec = 0"), SQLITE_OK);
        cr_assert_neq(raw_sql("DELETE FROM audit_retention"), SQLITE_OK);
        cr_assert_eq(raw_count("SELECT cutoff_usec FROM audit_retention"), 3 * SEC);
        webd_db_close(db);
}

Test(webd_db, audit_delete_of_newer_entry_still_refused_after_prune) {
        struct webd_db *db = open_db();

        audit(db, 1 * SEC, "alice", "login", "ok");
        audit(db, 5 * SEC, "alice", "logout", "ok");
        cr_assert_eq(webd_db_audit_prune(db, 3 * SEC), 1);
        /* The trigger, not the prune, keeps what is at or after the cutoff. */
        cr_assert_neq(raw_sql("DELETE FROM audit"), SQLITE_OK);
        cr_assert_neq(raw_sql("DELETE FROM audit WHERE at_usec = 5000000"), SQLITE_OK);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 1);
        /* An entry written later with an old time is older than the cutoff: deletable, as
         * the next prune would. */
        audit(db, 2 * SEC, "alice", "login", "ok");
        cr_assert_eq(raw_sql("DELETE FROM audit WHERE at_usec = 2000000"), SQLITE_OK);
        cr_assert_neq(raw_sql("UPDATE audit SET result = 'denied'"), SQLITE_OK);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit WHERE result = 'ok'"), 1);
        webd_db_close(db);
}

/* ---- all or nothing --------------------------------------------------------------------- */

Test(webd_db, change_and_its_audit_commit_together) {
        struct webd_db *db = open_db();
        struct webd_audit ok = {.at_usec = SEC, .actor = "cli", .kind = "user.create", .result = "ok"};
        struct webd_audit bad = {.at_usec = SEC, .actor = "cli", .kind = "", .result = "ok"};
        struct webd_user u = {};
        int64_t a;

        cr_assert_eq(webd_db_user_create(db, "alice", "h", true, false, SEC, &ok, &a), 0);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 1);
        /* A bad audit entry fails the whole change: no user without its record. */
        cr_assert_eq(webd_db_user_create(db, "bob", "h", false, false, SEC, &bad, NULL), -EINVAL);
        cr_assert_eq(webd_db_user_get_by_name(db, "bob", &u), -ENOENT);
        /* A refused change stores no audit entry either (the caller records the refusal). */
        ok.kind = "user.delete";
        cr_assert_eq(webd_db_user_delete(db, a, &ok), -EBUSY);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 1);
        cr_assert_eq(webd_db_user_set_admin(db, a, false, &ok), -EBUSY);
        cr_assert_eq(webd_db_user_set_active(db, a, false, &ok), -EBUSY);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 1);
        /* And a change that works stores it. */
        int64_t b = mkuser(db, "bob", false);
        cr_assert_eq(webd_db_user_set_password(db, b, "h2", false, 2 * SEC, NULL, &ok), 0);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit"), 2);
        webd_db_close(db);
}

Test(webd_db, sigkill_loses_nothing_committed) {
        int p[2];
        pid_t pid;
        long acked = 0;
        char c;

        webd_db_close(open_db());
        cr_assert_eq(pipe(p), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct webd_db *db;
                close(p[0]);
                if (webd_db_open(path, &db) < 0)
                        _exit(1);
                for (int i = 0;; i++) {
                        char name[32];
                        snprintf(name, sizeof(name), "user%d", i);
                        if (webd_db_user_create(db, name, "h", false, false, SEC, NULL, NULL) < 0)
                                _exit(2);
                        if (write(p[1], "x", 1) != 1)
                                _exit(3);
                }
        }
        close(p[1]);
        while (acked < 50 && read(p[0], &c, 1) == 1)
                acked++;
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        close(p[0]);

        struct webd_db *db = open_db();
        cr_assert_eq(webd_db_integrity_check(db), 0);
        webd_db_close(db);
        cr_assert_geq(raw_count("SELECT COUNT(*) FROM users"), acked);
        /* Every committed user is whole (the names are consecutive from 0). */
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM users WHERE username = 'user' || (id - 1)"),
                     raw_count("SELECT COUNT(*) FROM users"));
}
