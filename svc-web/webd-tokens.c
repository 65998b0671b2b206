/* See webd-tokens.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/util.h"
#include "daemon/sqlite.h"
#include "svc-web/webd-db-internal.h"
#include "svc-web/webd-tokens.h"

/* ---- scopes ------------------------------------------------------------------------------ */

static const char *const scope_names[WEBD_SCOPES_N] = {
        "server.read", "server.control", "server.console",  "files.read",
        "files.write", "blueprint.read", "blueprint.write", "jobs.read",
};

const char *webd_scope_name(unsigned bit) {
        for (unsigned i = 0; i < WEBD_SCOPES_N; i++)
                if (bit == 1u << i)
                        return scope_names[i];
        return NULL;
}

static int scope_from(const char *name, size_t len) {
        for (unsigned i = 0; i < WEBD_SCOPES_N; i++)
                if (strlen(scope_names[i]) == len && memcmp(scope_names[i], name, len) == 0)
                        return (int) (1u << i);
        return -EINVAL;
}

int webd_scope_from_name(const char *name) {
        return name ? scope_from(name, strlen(name)) : -EINVAL;
}

#define SEPARATORS " ,\t\n"

int webd_scopes_parse(const char *s, unsigned *ret, const char **ret_bad) {
        unsigned bits = 0;

        for (const char *p = s ?: ""; *p;) {
                size_t n;
                int b;

                p += strspn(p, SEPARATORS);
                n = strcspn(p, SEPARATORS);
                if (n == 0)
                        break;
                b = scope_from(p, n);
                if (b < 0) {
                        if (ret_bad)
                                *ret_bad = p;
                        return -EINVAL;
                }
                bits |= (unsigned) b;
                p += n;
        }
        *ret = bits;
        return 0;
}

int webd_scopes_format(unsigned scopes, char *buf, size_t len) {
        size_t n = 0;

        if (len == 0)
                return -ENOBUFS;
        buf[0] = 0;
        for (unsigned i = 0; i < WEBD_SCOPES_N; i++) {
                if (!(scopes & (1u << i)))
                        continue;
                n += (size_t) snprintf(buf + n, len - MIN(n, len), "%s%s", n ? " " : "", scope_names[i]);
                if (n >= len)
                        return -ENOBUFS;
        }
        return 0;
}

/* ---- address ranges ------------------------------------------------------------------------ */

int webd_cidr_parse(const char *s, struct webd_cidr *ret) {
        char addr[INET6_ADDRSTRLEN + 1];
        const char *slash = s ? strchr(s, '/') : NULL;
        size_t alen = slash ? (size_t) (slash - s) : (s ? strlen(s) : 0);
        struct webd_cidr c = {};
        unsigned bits;

        if (!s || alen == 0 || alen >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, s, alen);
        addr[alen] = 0;
        if (inet_pton(AF_INET, addr, c.addr) == 1)
                c.family = AF_INET;
        else if (inet_pton(AF_INET6, addr, c.addr) == 1)
                c.family = AF_INET6;
        else
                return -EINVAL;
        bits = c.family == AF_INET ? 32 : 128;
        c.prefix = bits;
        if (slash) {
                char *end;
                unsigned long p;

                if (!(slash[1] >= '0' && slash[1] <= '9') || (slash[1] == '0' && slash[2]))
                        return -EINVAL;
                errno = 0;
                p = strtoul(slash + 1, &end, 10);
                if (errno || *end || p > bits)
                        return -EINVAL;
                c.prefix = (unsigned) p;
        }
        /* Bits set past the prefix: "10.1.2.3/8" is a typo for something, not 10/8. */
        for (unsigned i = c.prefix; i < bits; i++)
                if (c.addr[i / 8] & (0x80u >> (i % 8)))
                        return -EINVAL;
        *ret = c;
        return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix) {
        unsigned full = prefix / 8, rest = prefix % 8;

        if (memcmp(a, b, full) != 0)
                return false;
        return rest == 0 || ((a[full] ^ b[full]) & (uint8_t) (0xffu << (8 - rest))) == 0;
}

bool webd_cidr_match(const struct webd_cidr *c, const char *address) {
        uint8_t a[16];

        if (!address)
                return false;
        if (inet_pton(AF_INET, address, a) == 1)
                return c->family == AF_INET && prefix_equal(a, c->addr, c->prefix);
        if (inet_pton(AF_INET6, address, a) != 1)
                return false;
        if (c->family == AF_INET6)
                return prefix_equal(a, c->addr, c->prefix);
        /* ::ffff:a.b.c.d is the IPv4 client a dual-stack socket shows. */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return memcmp(a, mapped, sizeof(mapped)) == 0 && prefix_equal(a + 12, c->addr, c->prefix);
}

int webd_allow_parse(const char *s, struct webd_cidr *ret, size_t n_max, const char **ret_bad) {
        size_t k = 0;

        for (const char *p = s ?: ""; *p;) {
                char one[INET6_ADDRSTRLEN + 8];
                size_t n;

                p += strspn(p, SEPARATORS);
                n = strcspn(p, SEPARATORS);
                if (n == 0)
                        break;
                if (k == n_max)
                        return -E2BIG;
                if (n >= sizeof(one) || (memcpy(one, p, n), one[n] = 0, webd_cidr_parse(one, &ret[k]) < 0)) {
                        if (ret_bad)
                                *ret_bad = p;
                        return -EINVAL;
                }
                k++;
                p += n;
        }
        return (int) k;
}

bool webd_allow_match(const char *allow, const char *address) {
        struct webd_cidr c[WEBD_TOKEN_ALLOW_MAX];
        int n;

        if (isempty(allow))
                return true;
        n = webd_allow_parse(allow, c, ELEMENTSOF(c), NULL);
        /* A list that no longer parses allows nobody: fail closed. */
        for (int i = 0; i < n; i++)
                if (webd_cidr_match(&c[i], address))
                        return true;
        return false;
}

int64_t webd_duration_parse(const char *s) {
        static const struct {
                char unit;
                uint64_t sec;
        } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
        uint64_t n = 0;
        const char *p = s;

        if (!s || !(*p >= '1' && *p <= '9'))
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                n = n * 10 + (uint64_t) (*p - '0');
                if (n > WEBD_TOKEN_EXPIRY_MAX_SEC)
                        return -ERANGE;
        }
        if (!p[0] || p[1])
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (units[i].unit == *p)
                        return n * units[i].sec > WEBD_TOKEN_EXPIRY_MAX_SEC ? -ERANGE
                                                                            : (int64_t) (n * units[i].sec);
        return -EINVAL;
}

/* ---- secrets ------------------------------------------------------------------------------- */

void webd_token_secret_new(char ret[WEBD_TOKEN_SECRET_LEN + 1]) {
        const size_t plen = sizeof(WEBD_TOKEN_PREFIX) - 1;
        uint8_t raw[32];

        randombytes_buf(raw, sizeof(raw));
        memcpy(ret, WEBD_TOKEN_PREFIX, plen);
        (void) sodium_bin2base64(ret + plen, WEBD_TOKEN_SECRET_LEN + 1 - plen, raw, sizeof(raw),
                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
}

int webd_token_secret_hash(const char *secret, size_t len, uint8_t ret[WEBD_DB_HASH_BYTES]) {
        const size_t plen = sizeof(WEBD_TOKEN_PREFIX) - 1;

        if (!secret || len != WEBD_TOKEN_SECRET_LEN || memcmp(secret, WEBD_TOKEN_PREFIX, plen) != 0)
                return -EINVAL;
        for (size_t i = plen; i < len; i++) {
                char c = secret[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_'))
                        return -EINVAL;
        }
        (void) crypto_generichash(ret, WEBD_DB_HASH_BYTES, (const unsigned char *) secret, len, NULL, 0);
        return 0;
}

/* ---- web.db -------------------------------------------------------------------------------- */

#define TOKEN_COLUMNS                                                                                       \
        "t.id, t.user_id, t.name, t.scopes, t.servers, t.allow, t.created_usec, t.expires_usec, "           \
        "t.last_used_usec, t.last_used_address, u.username"

enum {
        T_INSERT,
        T_COUNT,
        T_LOOKUP,
        T_GET,
        T_TOUCH,
        T_LIST,
        T_LIST_ALL,
        T_DELETE,
        T_USER_EXISTS,
        _T_MAX,
};
_Static_assert(_T_MAX <= WDB_TOKEN_STMTS, "webd_db.token[] is too small");

static const char *const token_sql[_T_MAX] = {
        [T_INSERT] = "INSERT INTO api_tokens (user_id, name, secret_hash, scopes, servers, allow, "
                     "created_usec, expires_usec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [T_COUNT] = "SELECT COUNT(*) FROM api_tokens WHERE user_id = ?1 AND (expires_usec = 0 OR "
                    "expires_usec > ?2)",
        [T_LOOKUP] = "SELECT " TOKEN_COLUMNS ", u.active FROM api_tokens t JOIN users u ON u.id = t.user_id "
                     "WHERE t.secret_hash = ?",
        [T_GET] = "SELECT " TOKEN_COLUMNS " FROM api_tokens t JOIN users u ON u.id = t.user_id "
                  "WHERE t.id = ?",
        [T_TOUCH] = "UPDATE api_tokens SET last_used_usec = ?2, last_used_address = substr(?3, 1, 64) "
                    "WHERE id = ?1",
        [T_LIST] = "SELECT " TOKEN_COLUMNS " FROM api_tokens t JOIN users u ON u.id = t.user_id "
                   "WHERE t.user_id = ? ORDER BY t.id DESC LIMIT 1000",
        [T_LIST_ALL] = "SELECT " TOKEN_COLUMNS " FROM api_tokens t JOIN users u ON u.id = t.user_id "
                       "ORDER BY u.username, t.id DESC LIMIT 10000",
        [T_DELETE] = "DELETE FROM api_tokens WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)",
        [T_USER_EXISTS] = "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)",
};

int wdb_tokens_prepare(struct webd_db *db) {
        return db_prepare_all(db->db, token_sql, db->token, _T_MAX);
}

void wdb_tokens_finalize(struct webd_db *db) {
        wdb_finalize_all(db->token, _T_MAX);
}

void webd_token_done(struct webd_token *t) {
        if (!t)
                return;
        free(t->name);
        free(t->allow);
        free(t->last_used_address);
        free(t->username);
        *t = (struct webd_token){};
}

bool webd_token_allows_server(const struct webd_token *t, int64_t id) {
        if (t->n_servers == 0)
                return true;
        for (size_t i = 0; i < t->n_servers; i++)
                if (t->servers[i] == id)
                        return true;
        return false;
}

/* "3 7 12": ids of at most WEBD_TOKEN_SERVERS_MAX servers. */
static int servers_format(const struct webd_token *t, char *buf, size_t len) {
        size_t n = 0;

        buf[0] = 0;
        if (t->n_servers > WEBD_TOKEN_SERVERS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < t->n_servers; i++) {
                if (t->servers[i] <= 0)
                        return -EINVAL;
                n += (size_t) snprintf(buf + n, len - MIN(n, len), "%s%" PRId64, i ? " " : "",
                                       t->servers[i]);
                if (n >= len)
                        return -ENOBUFS;
        }
        return 0;
}

/* Fails closed: a stored list that holds no valid id (only a hand-edited row can) limits the
 * token to a server that cannot exist, never to "every server" (an empty list). */
static void servers_read(const char *s, struct webd_token *t) {
        bool listed = !isempty(s);

        t->n_servers = 0;
        for (const char *p = s ?: ""; *p && t->n_servers < WEBD_TOKEN_SERVERS_MAX;) {
                char *end;
                long long v = strtoll(p, &end, 10);

                if (end == p)
                        break;
                if (v > 0)
                        t->servers[t->n_servers++] = v;
                p = end;
        }
        if (listed && t->n_servers == 0)
                t->servers[t->n_servers++] = -1;
}

static int token_from_row(sqlite3_stmt *s, struct webd_token *t) {
        bool ok = true;
        const char *bad = NULL;

        *t = (struct webd_token){
                .id = sqlite3_column_int64(s, 0),
                .user_id = sqlite3_column_int64(s, 1),
                .created_usec = sqlite3_column_int64(s, 6),
                .expires_usec = sqlite3_column_int64(s, 7),
                .last_used_usec = sqlite3_column_int64(s, 8),
        };
        /* A name web.db knows but this webd does not grants nothing (fail closed). */
        if (webd_scopes_parse(wdb_col_text(s, 3), &t->scopes, &bad) < 0)
                t->scopes = 0;
        servers_read(wdb_col_text(s, 4), t);
        t->name = wdb_col_dup(s, 2, &ok);
        t->allow = isempty(wdb_col_text(s, 5)) ? NULL : wdb_col_dup(s, 5, &ok);
        t->last_used_address = wdb_col_dup(s, 9, &ok);
        t->username = wdb_col_dup(s, 10, &ok);
        if (!ok) {
                webd_token_done(t);
                return -ENOMEM;
        }
        return 0;
}

static bool name_ok(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > WEBD_TOKEN_NAME_MAX)
                return false;
        for (const char *c = name; *c; c++)
                if ((unsigned char) *c < ' ' || *c == 0x7f)
                        return false;
        return true;
}

int webd_db_token_create(struct webd_db *db, const struct webd_token *t,
                         const uint8_t hash[WEBD_DB_HASH_BYTES], const struct webd_audit *audit,
                         int64_t *ret_id) {
        sqlite3_stmt *s = db->token[T_INSERT];
        struct webd_cidr cidr[WEBD_TOKEN_ALLOW_MAX];
        char scopes[512], servers[WEBD_TOKEN_SERVERS_MAX * 21];
        int64_t exists = 0, count = 0;
        int r;

        if (!name_ok(t->name) || t->scopes == 0 || (t->scopes & ~WEBD_SCOPES_ALL) || t->expires_usec < 0 ||
            webd_scopes_format(t->scopes, scopes, sizeof(scopes)) < 0 ||
            servers_format(t, servers, sizeof(servers)) < 0 ||
            webd_allow_parse(t->allow, cidr, ELEMENTSOF(cidr), NULL) < 0)
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(db->token[T_USER_EXISTS], 1, t->user_id);
        r = wdb_query_int(db->token[T_USER_EXISTS], &exists);
        if (r >= 0 && !exists)
                r = -ENOENT;
        if (r >= 0) {
                /* Expired tokens do not count against the cap (their rows stay until revoked). */
                (void) sqlite3_bind_int64(db->token[T_COUNT], 1, t->user_id);
                (void) sqlite3_bind_int64(db->token[T_COUNT], 2, t->created_usec);
                r = wdb_query_int(db->token[T_COUNT], &count);
        }
        if (r >= 0 && count >= WEBD_TOKENS_PER_USER)
                r = -EDQUOT;
        if (r >= 0) {
                (void) sqlite3_bind_int64(s, 1, t->user_id);
                wdb_bind_text(s, 2, t->name);
                (void) sqlite3_bind_blob(s, 3, hash, WEBD_DB_HASH_BYTES, SQLITE_STATIC);
                wdb_bind_text(s, 4, scopes);
                wdb_bind_text(s, 5, servers);
                wdb_bind_text(s, 6, t->allow ?: "");
                (void) sqlite3_bind_int64(s, 7, t->created_usec);
                (void) sqlite3_bind_int64(s, 8, t->expires_usec);
                r = wdb_run(s);
        }
        if (r >= 0) {
                int64_t id = sqlite3_last_insert_rowid(db->db);
                if (ret_id)
                        *ret_id = id;
                r = wdb_audit_created(db, audit, "token", id);
        }
        return wdb_tx_end(db, r);
}

int webd_db_token_lookup(struct webd_db *db, const uint8_t hash[WEBD_DB_HASH_BYTES], int64_t now_usec,
                         struct webd_token *ret, struct webd_user *ret_user) {
        sqlite3_stmt *s = db->token[T_LOOKUP];
        struct webd_token t = {};
        bool active = false;
        int rc, r = -ENOENT;

        (void) sqlite3_bind_blob(s, 1, hash, WEBD_DB_HASH_BYTES, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                active = sqlite3_column_int(s, 11);
                r = token_from_row(s, &t);
        } else if (rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        if (r < 0)
                return r;
        if (!active)
                r = -ENOENT;
        else if (t.expires_usec && now_usec >= t.expires_usec)
                r = -ETIMEDOUT;
        if (r >= 0 && ret_user)
                r = webd_db_user_get(db, t.user_id, ret_user);
        if (r < 0) {
                webd_token_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int webd_db_token_get(struct webd_db *db, int64_t id, struct webd_token *ret) {
        sqlite3_stmt *s = db->token[T_GET];
        int rc, r = -ENOENT;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                r = token_from_row(s, ret);
        else if (rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r;
}

int webd_db_token_touch(struct webd_db *db, int64_t id, int64_t now_usec, const char *address) {
        sqlite3_stmt *s = db->token[T_TOUCH];

        (void) sqlite3_bind_int64(s, 1, id);
        (void) sqlite3_bind_int64(s, 2, now_usec);
        wdb_bind_text(s, 3, address);
        return wdb_changed_one(db, wdb_run(s));
}

int webd_db_token_list(struct webd_db *db, int64_t user_id, webd_token_cb cb, void *userdata) {
        sqlite3_stmt *s = db->token[user_id ? T_LIST : T_LIST_ALL];
        int rc, r = 0;

        if (user_id)
                (void) sqlite3_bind_int64(s, 1, user_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_token t;

                r = token_from_row(s, &t);
                if (r >= 0)
                        r = cb(&t, userdata);
                webd_token_done(&t);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

int webd_db_token_delete(struct webd_db *db, int64_t id, int64_t user_id, const struct webd_audit *audit) {
        sqlite3_stmt *s = db->token[T_DELETE];
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, id);
        (void) sqlite3_bind_int64(s, 2, user_id);
        r = wdb_changed_one(db, wdb_run(s));
        if (r >= 0)
                r = wdb_audit(db, audit);
        return wdb_tx_end(db, r);
}
