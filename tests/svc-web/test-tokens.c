/* Unit tests of API tokens (svc-web/webd-tokens.c): the pure parts (scopes, address ranges
 * and allow-lists, durations, the secret's format) and the rows in web.db (create, lookup,
 * touch, list, delete; the name, quota, expiry and deactivation rules; what a row webd did
 * not write grants). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-tokens.h"

#define SEC 1000000ll

/* ---- scopes ------------------------------------------------------------------------------ */

Test(webd_tokens, scope_names_round_trip) {
        char buf[256];
        unsigned bits = 0;
        const char *bad = NULL;

        for (unsigned i = 0; i < WEBD_SCOPES_N; i++) {
                const char *n = webd_scope_name(1u << i);
                cr_assert_not_null(n, "bit %u has no name", i);
                cr_assert_eq(webd_scope_from_name(n), (int) (1u << i), "%s", n);
        }
        cr_assert_null(webd_scope_name(0));
        cr_assert_null(webd_scope_name(3)); /* two bits */
        cr_assert_null(webd_scope_name(1u << WEBD_SCOPES_N));

        cr_assert_eq(webd_scopes_format(WEBD_SCOPES_ALL, buf, sizeof(buf)), 0);
        cr_assert_eq(webd_scopes_parse(buf, &bits, &bad), 0);
        cr_assert_eq(bits, WEBD_SCOPES_ALL);
        for (unsigned s = 0; s <= WEBD_SCOPES_ALL; s += 37) {
                cr_assert_eq(webd_scopes_format(s, buf, sizeof(buf)), 0);
                cr_assert_eq(webd_scopes_parse(buf, &bits, &bad), 0, "%s", buf);
                cr_assert_eq(bits, s, "'%s' read back as %#x, not %#x", buf, bits, s);
        }
        /* In the vocabulary's order, whatever order they were given in. */
        cr_assert_eq(webd_scopes_parse(" jobs.read,server.read\tserver.read ", &bits, &bad), 0);
        cr_assert_eq(bits, WEBD_SCOPE_JOBS_READ | WEBD_SCOPE_SERVER_READ);
        cr_assert_eq(webd_scopes_format(bits, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "server.read jobs.read");
        cr_assert_eq(webd_scopes_parse("", &bits, &bad), 0);
        cr_assert_eq(bits, 0u);
        cr_assert_eq(webd_scopes_format(0, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "");
        cr_assert_eq(webd_scopes_format(WEBD_SCOPES_ALL, buf, 12), -ENOBUFS);
        cr_assert_eq(webd_scopes_format(WEBD_SCOPE_SERVER_READ, buf, 0), -ENOBUFS);
}

Test(webd_tokens, unknown_scope_names) {
        unsigned bits = 99;
        const char *bad = NULL;
        const char *s = "server.read server.reed jobs.read";

        cr_assert_eq(webd_scope_from_name("server.reed"), -EINVAL);
        cr_assert_eq(webd_scope_from_name("SERVER.READ"), -EINVAL);
        cr_assert_eq(webd_scope_from_name("server.read "), -EINVAL);
        cr_assert_eq(webd_scope_from_name("server"), -EINVAL);
        cr_assert_eq(webd_scope_from_name(""), -EINVAL);
        cr_assert_eq(webd_scope_from_name(NULL), -EINVAL);
        cr_assert_eq(webd_scopes_parse(s, &bits, &bad), -EINVAL);
        cr_assert_eq(bad, s + 12, "the bad name is not pointed at: '%s'", bad);
        cr_assert_eq(bits, 99u, "a refused list changed the result");
        cr_assert_eq(webd_scopes_parse("server.read,*", &bits, &bad), -EINVAL);
        cr_assert_str_eq(bad, "*");
}

/* ---- address ranges ------------------------------------------------------------------------ */

Test(webd_tokens, cidr_parse_valid) {
        struct webd_cidr c;
        uint8_t want[16];

        cr_assert_eq(webd_cidr_parse("10.0.0.0/8", &c), 0);
        cr_assert_eq(c.family, AF_INET);
        cr_assert_eq(c.prefix, 8u);
        cr_assert_eq(c.addr[0], 10);
        cr_assert_eq(webd_cidr_parse("192.0.2.7", &c), 0);
        cr_assert_eq(c.prefix, 32u, "one address is a /32");
        cr_assert_eq(webd_cidr_parse("192.0.2.7/32", &c), 0);
        cr_assert_eq(c.prefix, 32u);
        cr_assert_eq(webd_cidr_parse("0.0.0.0/0", &c), 0);
        cr_assert_eq(c.prefix, 0u);
        cr_assert_eq(webd_cidr_parse("2001:db8::/32", &c), 0);
        cr_assert_eq(c.family, AF_INET6);
        cr_assert_eq(c.prefix, 32u);
        cr_assert_eq(inet_pton(AF_INET6, "2001:db8::", want), 1);
        cr_assert_arr_eq(c.addr, want, 16);
        cr_assert_eq(webd_cidr_parse("::1", &c), 0);
        cr_assert_eq(c.prefix, 128u);
        cr_assert_eq(webd_cidr_parse("2001:db8::1/128", &c), 0);
        cr_assert_eq(webd_cidr_parse("::/0", &c), 0);
        cr_assert_eq(c.prefix, 0u);
        cr_assert_eq(webd_cidr_parse("10.0.0.0/0", &c), -EINVAL, "/0 with bits set is a typo");
}

Test(webd_tokens, cidr_parse_refused) {
        static const char *const bad[] = {
                "10.1.2.3/8", /* host bits set: not silently 10/8 */
                "2001:db8::1/32",
                "/",
                "/8",
                "10.0.0.0/",
                "10.0.0.0/33",
                "::/129",
                "1.2.3.4/08", /* a leading zero */
                "1.2.3.4/-1",
                "1.2.3.4/+8",
                "1.2.3.4/ 8",
                "1.2.3.4/8 ",
                "1.2.3.4/8x",
                "1.2.3.4/99999999999999999999",
                "1.2.3",
                "1.2.3.4.5",
                "256.0.0.0",
                " 1.2.3.4",
                "1.2.3.4 ",
                "10.0.0.0/8,10.1.0.0/16",
                "fe80::1%eth0",
                "localhost",
                "garbage",
                "",
                "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc/8",
        };
        struct webd_cidr c;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(webd_cidr_parse(bad[i], &c), -EINVAL, "'%s' was accepted", bad[i]);
        cr_assert_eq(webd_cidr_parse(NULL, &c), -EINVAL);
}

Test(webd_tokens, cidr_match) {
        struct webd_cidr v4, v4host, v6, all4, all6;

        cr_assert_eq(webd_cidr_parse("10.0.0.0/8", &v4), 0);
        cr_assert_eq(webd_cidr_parse("192.0.2.7", &v4host), 0);
        cr_assert_eq(webd_cidr_parse("2001:db8::/32", &v6), 0);
        cr_assert_eq(webd_cidr_parse("0.0.0.0/0", &all4), 0);
        cr_assert_eq(webd_cidr_parse("::/0", &all6), 0);

        cr_assert(webd_cidr_match(&v4, "10.0.0.1"));
        cr_assert(webd_cidr_match(&v4, "10.255.255.255"));
        cr_assert_not(webd_cidr_match(&v4, "11.0.0.1"));
        cr_assert_not(webd_cidr_match(&v4, "9.255.255.255"));
        cr_assert(webd_cidr_match(&v4host, "192.0.2.7"));
        cr_assert_not(webd_cidr_match(&v4host, "192.0.2.8"));
        /* The IPv4 client as a dual-stack socket shows it. */
        cr_assert(webd_cidr_match(&v4, "::ffff:10.1.2.3"));
        cr_assert_not(webd_cidr_match(&v4, "::ffff:11.1.2.3"));
        cr_assert(webd_cidr_match(&v4host, "::ffff:192.0.2.7"));
        /* Other IPv6 addresses that embed the same bits are not IPv4 clients. */
        cr_assert_not(webd_cidr_match(&v4, "::10.1.2.3"));
        cr_assert_not(webd_cidr_match(&v4, "64:ff9b::10.1.2.3"));
        cr_assert_not(webd_cidr_match(&all4, "2001:db8::1"), "an IPv6 client matched 0.0.0.0/0");
        cr_assert(webd_cidr_match(&all4, "203.0.113.9"));

        cr_assert(webd_cidr_match(&v6, "2001:db8::1"));
        cr_assert(webd_cidr_match(&v6, "2001:db8:ffff::1"));
        cr_assert_not(webd_cidr_match(&v6, "2001:db9::1"));
        cr_assert_not(webd_cidr_match(&v6, "10.0.0.1"), "an IPv4 client matched a v6 range");
        cr_assert(webd_cidr_match(&all6, "::1"));
        cr_assert_not(webd_cidr_match(&all6, "127.0.0.1"));

        cr_assert_not(webd_cidr_match(&v4, NULL));
        cr_assert_not(webd_cidr_match(&v4, ""));
        cr_assert_not(webd_cidr_match(&v4, "10.0.0.1/8"));
        cr_assert_not(webd_cidr_match(&v4, "garbage"));
}

Test(webd_tokens, allow_lists) {
        struct webd_cidr c[WEBD_TOKEN_ALLOW_MAX];
        char many[1024] = "";
        const char *bad = NULL;
        const char *s = "10.0.0.0/8 192.0.2.300 ::1";

        cr_assert_eq(webd_allow_parse("", c, ELEMENTSOF(c), &bad), 0);
        cr_assert_eq(webd_allow_parse(NULL, c, ELEMENTSOF(c), &bad), 0);
        cr_assert_eq(webd_allow_parse(" 10.0.0.0/8, ::1 ,192.0.2.7", c, ELEMENTSOF(c), &bad), 3);
        cr_assert_eq(c[1].family, AF_INET6);
        cr_assert_eq(webd_allow_parse(s, c, ELEMENTSOF(c), &bad), -EINVAL);
        cr_assert_eq(bad, s + 11, "the bad range is not pointed at: '%s'", bad);

        for (unsigned i = 0; i < WEBD_TOKEN_ALLOW_MAX; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.%u.0/24 ", i);
        cr_assert_eq(webd_allow_parse(many, c, ELEMENTSOF(c), &bad), (int) WEBD_TOKEN_ALLOW_MAX);
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.99.0/24");
        cr_assert_eq(webd_allow_parse(many, c, ELEMENTSOF(c), &bad), -E2BIG);

        /* Empty allows everyone; a list allows its ranges only. */
        cr_assert(webd_allow_match(NULL, "203.0.113.9"));
        cr_assert(webd_allow_match("", "203.0.113.9"));
        cr_assert(webd_allow_match("10.0.0.0/8 2001:db8::/32", "10.9.9.9"));
        cr_assert(webd_allow_match("10.0.0.0/8 2001:db8::/32", "2001:db8::5"));
        cr_assert(webd_allow_match("10.0.0.0/8,2001:db8::/32", "::ffff:10.9.9.9"));
        cr_assert_not(webd_allow_match("10.0.0.0/8 2001:db8::/32", "203.0.113.9"));
        cr_assert_not(webd_allow_match("10.0.0.0/8", NULL));
        /* A stored list that does not parse (edited by hand, or too long) allows nobody. */
        cr_assert_not(webd_allow_match("10.0.0.0/8 junk", "10.1.1.1"));
        cr_assert_not(webd_allow_match("10.1.2.3/8", "10.1.2.3"));
        cr_assert_not(webd_allow_match(many, "10.0.0.1"), "a list over the cap allowed its first range");
}

/* ---- durations ------------------------------------------------------------------------------ */

Test(webd_tokens, durations) {
        cr_assert_eq(webd_duration_parse("90d"), 90ll * 86400);
        cr_assert_eq(webd_duration_parse("12h"), 12ll * 3600);
        cr_assert_eq(webd_duration_parse("1w"), 7ll * 86400);
        cr_assert_eq(webd_duration_parse("30m"), 1800);
        cr_assert_eq(webd_duration_parse("1s"), 1);
        cr_assert_eq(webd_duration_parse("366d"), (int64_t) WEBD_TOKEN_EXPIRY_MAX_SEC);
        cr_assert_eq(webd_duration_parse("52w"), 52ll * 7 * 86400);

        cr_assert_eq(webd_duration_parse("367d"), -ERANGE);
        cr_assert_eq(webd_duration_parse("53w"), -ERANGE);
        cr_assert_eq(webd_duration_parse("8785h"), -ERANGE);
        cr_assert_eq(webd_duration_parse("99999999999999999999999d"), -ERANGE, "an overflow wrapped");

        static const char *const bad[] = {"0d",  "0",   "00d", "05d", "1y",  "",   "5",    "d5", "+5d",
                                          "-5d", " 5d", "5d ", "5 d", "5dd", "5D", "1.5d", "5d5"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(webd_duration_parse(bad[i]), -EINVAL, "'%s' was not refused as -EINVAL",
                             bad[i]);
        cr_assert_eq(webd_duration_parse(NULL), -EINVAL);
}

/* ---- secrets -------------------------------------------------------------------------------- */

Test(webd_tokens, secrets) {
        char a[WEBD_TOKEN_SECRET_LEN + 1], b[WEBD_TOKEN_SECRET_LEN + 1], bad[WEBD_TOKEN_SECRET_LEN + 2];
        uint8_t ha[WEBD_DB_HASH_BYTES], hb[WEBD_DB_HASH_BYTES], again[WEBD_DB_HASH_BYTES];

        cr_assert_geq(sodium_init(), 0);
        cr_assert_eq(WEBD_TOKEN_SECRET_LEN, 47u);
        webd_token_secret_new(a);
        webd_token_secret_new(b);
        cr_assert_eq(strlen(a), WEBD_TOKEN_SECRET_LEN);
        cr_assert_eq(strncmp(a, WEBD_TOKEN_PREFIX, 4), 0, "%s", a);
        cr_assert_eq(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43u,
                     "%s", a);
        cr_assert_str_neq(a, b);
        cr_assert_eq(webd_token_secret_hash(a, strlen(a), ha), 0);
        cr_assert_eq(webd_token_secret_hash(b, strlen(b), hb), 0);
        cr_assert_eq(webd_token_secret_hash(a, strlen(a), again), 0);
        cr_assert_arr_eq(ha, again, sizeof(ha), "the hash is not a function of the secret");
        cr_assert_arr_neq(ha, hb, sizeof(ha));

        /* Wrong prefix, length or alphabet: refused before any database sees it. */
        memcpy(bad, a, sizeof(a));
        bad[0] = 'L';
        cr_assert_eq(webd_token_secret_hash(bad, strlen(bad), hb), -EINVAL);
        memcpy(bad, "l4m-", 4);
        cr_assert_eq(webd_token_secret_hash(bad, strlen(bad), hb), -EINVAL);
        memcpy(bad, a, sizeof(a));
        cr_assert_eq(webd_token_secret_hash(bad, WEBD_TOKEN_SECRET_LEN - 1, hb), -EINVAL, "one short");
        snprintf(bad, sizeof(bad), "%sA", a);
        cr_assert_eq(webd_token_secret_hash(bad, strlen(bad), hb), -EINVAL, "one long");
        memcpy(bad, a, sizeof(a));
        for (const char *c = "+/=.~ \n"; *c; c++) {
                bad[20] = *c;
                cr_assert_eq(webd_token_secret_hash(bad, strlen(bad), hb), -EINVAL, "'%c' accepted", *c);
        }
        memcpy(bad, a, sizeof(a));
        bad[30] = 0; /* a NUL inside the counted length */
        cr_assert_eq(webd_token_secret_hash(bad, WEBD_TOKEN_SECRET_LEN, hb), -EINVAL);
        cr_assert_eq(webd_token_secret_hash(NULL, WEBD_TOKEN_SECRET_LEN, hb), -EINVAL);
        cr_assert_eq(webd_token_secret_hash("", 0, hb), -EINVAL);
}

/* ---- web.db ---------------------------------------------------------------------------------- */

static char dir[64], path[128];
static struct webd_db *db;

static void setup(void) {
        cr_assert_geq(sodium_init(), 0);
        snprintf(dir, sizeof(dir), "/tmp/test-webd-tokens-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/web.db", dir);
        cr_assert_eq(webd_db_open(path, &db), 0);
}

/* The directory holds only flat files (web.db, -wal, -shm). */
static void teardown(void) {
        DIR *d;
        struct dirent *e;

        db = webd_db_close(db);
        d = opendir(dir);
        if (!d)
                return;
        while ((e = readdir(d)))
                if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        (void) rmdir(dir);
}

TestSuite(webd_tokens_db, .init = setup, .fini = teardown);

static int64_t user(const char *name, bool admin) {
        int64_t id = 0;

        cr_assert_eq(webd_db_user_create(db, name, "$argon2id$fake", admin, false, SEC, NULL, &id), 0, "%s",
                     name);
        return id;
}

/* Stores a token named name for uid; returns its id, its secret in secret (may be NULL). */
static int make(int64_t uid, const char *name, unsigned scopes, int64_t expires_usec,
                char secret[WEBD_TOKEN_SECRET_LEN + 1], int64_t *ret_id) {
        char s[WEBD_TOKEN_SECRET_LEN + 1];
        uint8_t hash[WEBD_DB_HASH_BYTES];
        struct webd_token t = {.user_id = uid,
                               .name = (char *) name,
                               .scopes = scopes,
                               .created_usec = 10 * SEC,
                               .expires_usec = expires_usec};

        webd_token_secret_new(s);
        cr_assert_eq(webd_token_secret_hash(s, strlen(s), hash), 0);
        if (secret)
                memcpy(secret, s, sizeof(s));
        return webd_db_token_create(db, &t, hash, NULL, ret_id);
}

static int lookup(const char *secret, int64_t now_usec, struct webd_token *t, struct webd_user *u) {
        uint8_t hash[WEBD_DB_HASH_BYTES];

        cr_assert_eq(webd_token_secret_hash(secret, strlen(secret), hash), 0);
        return webd_db_token_lookup(db, hash, now_usec, t, u);
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

static int raw_sql(const char *sql) {
        sqlite3 *s;
        char *err = NULL;
        int rc;

        cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
        rc = sqlite3_exec(s, sql, NULL, NULL, &err);
        cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ?: "?");
        sqlite3_free(err);
        sqlite3_close(s);
        return rc;
}

struct seen {
        int n;
        int64_t ids[64];
        char users[64][32];
};

static int collect(const struct webd_token *t, void *userdata) {
        struct seen *s = userdata;

        cr_assert_lt(s->n, 64);
        s->ids[s->n] = t->id;
        snprintf(s->users[s->n], sizeof(s->users[0]), "%s", t->username ?: "(null)");
        s->n++;
        return 0;
}

Test(webd_tokens_db, create_lookup_touch_list_delete) {
        int64_t alice = user("alice", false), bob = user("bob", false), id = 0, id2 = 0, id3 = 0;
        char secret[WEBD_TOKEN_SECRET_LEN + 1], other[WEBD_TOKEN_SECRET_LEN + 1];
        uint8_t hash[WEBD_DB_HASH_BYTES];
        struct webd_token t = {.user_id = alice,
                               .name = "deploy",
                               .scopes = WEBD_SCOPE_SERVER_READ | WEBD_SCOPE_SERVER_CONTROL,
                               .servers = {3, 7},
                               .n_servers = 2,
                               .allow = "10.0.0.0/8 ::1",
                               .created_usec = 10 * SEC,
                               .expires_usec = 0},
                          got = {};
        struct webd_user u = {};
        struct webd_audit au = {.at_usec = 10 * SEC,
                                .actor = "cli",
                                .kind = "token.create",
                                .object = "user:1",
                                .result = "ok",
                                .detail = "deploy"};
        struct seen s = {};

        webd_token_secret_new(secret);
        cr_assert_eq(webd_token_secret_hash(secret, strlen(secret), hash), 0);
        cr_assert_eq(webd_db_token_create(db, &t, hash, &au, &id), 0);
        cr_assert_gt(id, 0);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM audit WHERE kind = 'token.create'"), 1,
                     "no audit entry");
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM api_tokens WHERE length(secret_hash) = 32"), 1,
                     "not stored as its hash");

        cr_assert_eq(lookup(secret, 20 * SEC, &got, &u), 0);
        cr_assert_eq(got.id, id);
        cr_assert_eq(got.user_id, alice);
        cr_assert_str_eq(got.name, "deploy");
        cr_assert_str_eq(got.username, "alice");
        cr_assert_eq(got.scopes, WEBD_SCOPE_SERVER_READ | WEBD_SCOPE_SERVER_CONTROL);
        cr_assert_eq(got.n_servers, 2u);
        cr_assert_eq(got.servers[0], 3);
        cr_assert_eq(got.servers[1], 7);
        cr_assert(webd_token_allows_server(&got, 7));
        cr_assert_not(webd_token_allows_server(&got, 4));
        cr_assert_str_eq(got.allow, "10.0.0.0/8 ::1");
        cr_assert_eq(got.created_usec, 10 * SEC);
        cr_assert_eq(got.last_used_usec, 0);
        cr_assert_null(got.last_used_address);
        cr_assert_eq(u.id, alice);
        cr_assert_str_eq(u.username, "alice");
        webd_token_done(&got);
        webd_user_done(&u);
        /* ret_user may be NULL. */
        cr_assert_eq(lookup(secret, 20 * SEC, &got, NULL), 0);
        webd_token_done(&got);

        /* An unknown secret. */
        webd_token_secret_new(other);
        cr_assert_eq(lookup(other, 20 * SEC, &got, NULL), -ENOENT);

        cr_assert_eq(webd_db_token_touch(db, id, 30 * SEC, "192.0.2.1"), 0);
        cr_assert_eq(webd_db_token_get(db, id, &got), 0);
        cr_assert_eq(got.last_used_usec, 30 * SEC);
        cr_assert_str_eq(got.last_used_address, "192.0.2.1");
        webd_token_done(&got);
        cr_assert_eq(webd_db_token_touch(db, id + 100, 30 * SEC, "192.0.2.1"), -ENOENT);
        cr_assert_eq(webd_db_token_get(db, id + 100, &got), -ENOENT);

        /* One with no servers and no allow-list: every server, any address. */
        cr_assert_eq(make(alice, "ci", WEBD_SCOPE_JOBS_READ, 0, NULL, &id2), 0);
        cr_assert_eq(webd_db_token_get(db, id2, &got), 0);
        cr_assert_eq(got.n_servers, 0u);
        cr_assert(webd_token_allows_server(&got, 12345));
        cr_assert_null(got.allow);
        webd_token_done(&got);
        cr_assert_eq(make(bob, "deploy", WEBD_SCOPE_FILES_READ, 0, NULL, &id3), 0, "names are per user");

        /* By user, then newest first; one user's only. */
        cr_assert_eq(webd_db_token_list(db, 0, collect, &s), 0);
        cr_assert_eq(s.n, 3);
        cr_assert_eq(s.ids[0], id2);
        cr_assert_eq(s.ids[1], id);
        cr_assert_eq(s.ids[2], id3);
        cr_assert_str_eq(s.users[0], "alice");
        cr_assert_str_eq(s.users[2], "bob");
        s = (struct seen){};
        cr_assert_eq(webd_db_token_list(db, bob, collect, &s), 0);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(s.ids[0], id3);

        /* Delete: only with the right user (or 0: any), once. */
        cr_assert_eq(webd_db_token_delete(db, id, bob, NULL), -ENOENT, "bob revoked alice's token");
        cr_assert_eq(webd_db_token_get(db, id, &got), 0);
        webd_token_done(&got);
        cr_assert_eq(webd_db_token_delete(db, id, alice, NULL), 0);
        cr_assert_eq(lookup(secret, 20 * SEC, &got, NULL), -ENOENT, "a revoked token still works");
        cr_assert_eq(webd_db_token_delete(db, id, alice, NULL), -ENOENT);
        cr_assert_eq(webd_db_token_delete(db, id3, 0, NULL), 0);
        s = (struct seen){};
        cr_assert_eq(webd_db_token_list(db, 0, collect, &s), 0);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(s.ids[0], id2);
}

Test(webd_tokens_db, create_refuses) {
        int64_t alice = user("alice", false), id = 0;
        uint8_t hash[WEBD_DB_HASH_BYTES] = {1};
        char name[80];
        struct webd_token t = {
                .user_id = alice, .name = "x", .scopes = WEBD_SCOPE_SERVER_READ, .created_usec = 1};

        cr_assert_eq(make(alice, "deploy", WEBD_SCOPE_SERVER_READ, 0, NULL, &id), 0);
        cr_assert_eq(make(alice, "deploy", WEBD_SCOPE_JOBS_READ, 0, NULL, NULL), -EEXIST,
                     "the name was taken");
        cr_assert_eq(make(alice + 100, "deploy", WEBD_SCOPE_JOBS_READ, 0, NULL, NULL), -ENOENT,
                     "no such user");
        cr_assert_eq(make(alice, "", WEBD_SCOPE_JOBS_READ, 0, NULL, NULL), -EINVAL);
        memset(name, 'n', WEBD_TOKEN_NAME_MAX + 1);
        name[WEBD_TOKEN_NAME_MAX + 1] = 0;
        cr_assert_eq(make(alice, name, WEBD_SCOPE_JOBS_READ, 0, NULL, NULL), -EINVAL, "a 65-byte name");
        name[WEBD_TOKEN_NAME_MAX] = 0;
        cr_assert_eq(make(alice, name, WEBD_SCOPE_JOBS_READ, 0, NULL, NULL), 0, "a 64-byte name");
        cr_assert_eq(make(alice, "tab\there", WEBD_SCOPE_JOBS_READ, 0, NULL, NULL), -EINVAL);
        cr_assert_eq(make(alice, "none", 0, 0, NULL, NULL), -EINVAL, "no scope");
        cr_assert_eq(make(alice, "unknown", 1u << WEBD_SCOPES_N, 0, NULL, NULL), -EINVAL, "an unknown bit");
        cr_assert_eq(make(alice, "past", WEBD_SCOPE_JOBS_READ, -1, NULL, NULL), -EINVAL);
        t.allow = "10.1.2.3/8";
        cr_assert_eq(webd_db_token_create(db, &t, hash, NULL, NULL), -EINVAL, "a bad allow-list");
        t.allow = NULL;
        t.servers[0] = -3;
        t.n_servers = 1;
        cr_assert_eq(webd_db_token_create(db, &t, hash, NULL, NULL), -EINVAL, "a bad server id");
        t.n_servers = WEBD_TOKEN_SERVERS_MAX + 1;
        cr_assert_eq(webd_db_token_create(db, &t, hash, NULL, NULL), -EINVAL, "too many servers");
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM api_tokens"), 2);
}

Test(webd_tokens_db, quota) {
        int64_t alice = user("alice", false), bob = user("bob", false);
        char name[16], sql[128];

        for (unsigned i = 0; i < WEBD_TOKENS_PER_USER; i++) {
                snprintf(name, sizeof(name), "t%u", i);
                cr_assert_eq(make(alice, name, WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), 0, "%s", name);
        }
        cr_assert_eq(make(alice, "one-more", WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), -EDQUOT);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM api_tokens"), (long long) WEBD_TOKENS_PER_USER);
        cr_assert_eq(make(bob, "t0", WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), 0, "the quota is per user");
        /* Revoking one makes room again. */
        snprintf(sql, sizeof(sql), "DELETE FROM api_tokens WHERE name = 't0' AND user_id = %lld",
                 (long long) alice);
        cr_assert_eq(raw_sql(sql), SQLITE_OK);
        cr_assert_eq(make(alice, "one-more", WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), 0);
}

Test(webd_tokens_db, expiry) {
        int64_t alice = user("alice", false);
        char secret[WEBD_TOKEN_SECRET_LEN + 1];
        struct webd_token t = {};

        cr_assert_eq(make(alice, "short", WEBD_SCOPE_SERVER_READ, 100 * SEC, secret, NULL), 0);
        cr_assert_eq(lookup(secret, 99 * SEC, &t, NULL), 0);
        webd_token_done(&t);
        cr_assert_eq(lookup(secret, 100 * SEC, &t, NULL), -ETIMEDOUT, "at its expiry");
        cr_assert_eq(lookup(secret, 1000 * SEC, &t, NULL), -ETIMEDOUT);
        cr_assert_null(t.name, "a refused lookup filled the token");
        /* It is still listed (and counted) until revoked. */
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM api_tokens"), 1);
}

Test(webd_tokens_db, deactivation_deletes_and_deletion_cascades) {
        int64_t alice = user("alice", false), bob = user("bob", false);
        char a1[WEBD_TOKEN_SECRET_LEN + 1], b1[WEBD_TOKEN_SECRET_LEN + 1];
        struct webd_token t = {};
        struct seen s = {};

        (void) user("root", true); /* deactivating must not hit the last-admin guard */
        cr_assert_eq(make(alice, "a1", WEBD_SCOPE_SERVER_READ, 0, a1, NULL), 0);
        cr_assert_eq(make(alice, "a2", WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), 0);
        cr_assert_eq(make(bob, "b1", WEBD_SCOPE_SERVER_READ, 0, b1, NULL), 0);

        cr_assert_eq(webd_db_user_set_active(db, alice, false, NULL), 0);
        cr_assert_eq(lookup(a1, 20 * SEC, &t, NULL), -ENOENT, "a deactivated user's token works");
        cr_assert_eq(webd_db_token_list(db, alice, collect, &s), 0);
        cr_assert_eq(s.n, 0, "deactivation left %d tokens", s.n);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM api_tokens t JOIN users u ON u.id = t.user_id "
                               "WHERE u.username = 'alice'"),
                     0);
        /* Reactivating does not bring them back. */
        cr_assert_eq(webd_db_user_set_active(db, alice, true, NULL), 0);
        cr_assert_eq(lookup(a1, 20 * SEC, &t, NULL), -ENOENT);
        cr_assert_eq(lookup(b1, 20 * SEC, &t, NULL), 0, "bob's token went with alice's");
        webd_token_done(&t);

        cr_assert_eq(webd_db_user_delete(db, bob, NULL), 0);
        cr_assert_eq(lookup(b1, 20 * SEC, &t, NULL), -ENOENT);
        cr_assert_eq(raw_count("SELECT COUNT(*) FROM api_tokens"), 0, "a deleted user's tokens stayed");
}

/* A token deactivated by hand (an older webd, an admin's SQL) grants nothing either. */
Test(webd_tokens_db, inactive_user_by_raw_sql) {
        int64_t alice = user("alice", false);
        char secret[WEBD_TOKEN_SECRET_LEN + 1];
        struct webd_token t = {};

        cr_assert_eq(make(alice, "a1", WEBD_SCOPE_SERVER_READ, 0, secret, NULL), 0);
        cr_assert_eq(raw_sql("UPDATE users SET active = 0 WHERE username = 'alice'"), SQLITE_OK);
        cr_assert_eq(lookup(secret, 20 * SEC, &t, NULL), -ENOENT);
}

/* A scope name web.db holds but this webd does not know (a newer webd wrote it, or a hand)
 * grants no scope at all, not the names it does know. */
Test(webd_tokens_db, unknown_stored_scope_grants_nothing) {
        int64_t alice = user("alice", false), id = 0;
        char secret[WEBD_TOKEN_SECRET_LEN + 1];
        struct webd_token t = {};

        cr_assert_eq(make(alice, "future", WEBD_SCOPE_SERVER_READ, 0, secret, &id), 0);
        cr_assert_eq(raw_sql("UPDATE api_tokens SET scopes = 'server.read server.destroy'"), SQLITE_OK);
        cr_assert_eq(lookup(secret, 20 * SEC, &t, NULL), 0);
        cr_assert_eq(t.scopes, 0u, "an unknown name granted %#x", t.scopes);
        webd_token_done(&t);
        cr_assert_eq(webd_db_token_get(db, id, &t), 0);
        cr_assert_eq(t.scopes, 0u);
        webd_token_done(&t);

        /* Garbage in the allow column: no address gets in. */
        cr_assert_eq(raw_sql("UPDATE api_tokens SET scopes = 'jobs.read', allow = '10.0.0.0/8 nonsense'"),
                     SQLITE_OK);
        cr_assert_eq(lookup(secret, 20 * SEC, &t, NULL), 0);
        cr_assert_eq(t.scopes, WEBD_SCOPE_JOBS_READ);
        cr_assert_not(webd_allow_match(t.allow, "10.1.1.1"), "a broken stored allow-list let an address in");
        webd_token_done(&t);
}

/* A servers column with no valid id (a hand-edited row) limits the token to nothing, never
 * to every server, as an empty list would. */
Test(webd_tokens_db, broken_stored_servers_match_nothing) {
        int64_t alice = user("alice", false);
        char secret[WEBD_TOKEN_SECRET_LEN + 1];
        struct webd_token t = {};

        cr_assert_eq(make(alice, "limited", WEBD_SCOPE_SERVER_READ, 0, secret, NULL), 0);
        cr_assert_eq(lookup(secret, 20 * SEC, &t, NULL), 0);
        cr_assert(webd_token_allows_server(&t, 7), "an unlimited token refused a server");
        webd_token_done(&t);
        cr_assert_eq(raw_sql("UPDATE api_tokens SET servers = 'x -4 0'"), SQLITE_OK);
        cr_assert_eq(lookup(secret, 20 * SEC, &t, NULL), 0);
        cr_assert_not(webd_token_allows_server(&t, 7), "a broken servers list allowed server 7");
        cr_assert_not(webd_token_allows_server(&t, 1));
        webd_token_done(&t);
}

/* Expired tokens do not use up the cap: a user whose old tokens ran out can make new ones. */
Test(webd_tokens_db, expired_tokens_do_not_count) {
        int64_t alice = user("alice", false);
        char name[16];

        for (unsigned i = 0; i < WEBD_TOKENS_PER_USER; i++) {
                snprintf(name, sizeof(name), "old%u", i);
                /* Created at 10 s (make's clock), each expired at 5 s. */
                cr_assert_eq(make(alice, name, WEBD_SCOPE_SERVER_READ, 5 * SEC, NULL, NULL), 0, "%s", name);
        }
        cr_assert_eq(make(alice, "new", WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), 0, "expired tokens counted");
        for (unsigned i = 1; i < WEBD_TOKENS_PER_USER; i++) {
                snprintf(name, sizeof(name), "live%u", i);
                cr_assert_eq(make(alice, name, WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), 0, "%s", name);
        }
        cr_assert_eq(make(alice, "one-more", WEBD_SCOPE_SERVER_READ, 0, NULL, NULL), -EDQUOT);
}
