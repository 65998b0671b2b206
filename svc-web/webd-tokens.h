/* API tokens: what a token may do (scopes, servers, client addresses, expiry), its secret,
 * and its rows in web.db (the rules of webd-db.h hold: one transaction per change with its
 * optional audit entry, malloc'd strings freed by webd_token_done, callback records valid
 * during the call only).
 *
 * A token acts as its user and never beyond: every check a page makes of the user is made
 * of the token's user too, and the token narrows it further (scopes, servers, addresses).
 * web.db stores only the BLAKE2b-256 hash of the secret, as for sessions: the secret is
 * shown once, when it is made. A token of a deactivated user is gone (deactivation deletes
 * them in its transaction); a deleted user's go with the user (cascade). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc-web/webd-db.h"

/* The fixed vocabulary. A bit's meaning never changes; web.db stores the names. */
enum webd_scope {
        WEBD_SCOPE_SERVER_READ = 1u << 0,     /* servers: list, status */
        WEBD_SCOPE_SERVER_CONTROL = 1u << 1,  /* start, stop, restart */
        WEBD_SCOPE_SERVER_CONSOLE = 1u << 2,  /* RCON commands (with the console) */
        WEBD_SCOPE_FILES_READ = 1u << 3,      /* a files overlay's listing and files */
        WEBD_SCOPE_FILES_WRITE = 1u << 4,     /* writing and deleting them */
        WEBD_SCOPE_BLUEPRINT_READ = 1u << 5,  /* blueprints: list, one */
        WEBD_SCOPE_BLUEPRINT_WRITE = 1u << 6, /* create, update */
        WEBD_SCOPE_JOBS_READ = 1u << 7,       /* jobs: list, one, follow */
};
#define WEBD_SCOPES_N   8u
#define WEBD_SCOPES_ALL ((1u << WEBD_SCOPES_N) - 1u)

/* "server.read" for WEBD_SCOPE_SERVER_READ; NULL for anything but one known bit. */
const char *webd_scope_name(unsigned bit);
/* The bit of a name; -EINVAL for an unknown one. */
int webd_scope_from_name(const char *name);
/* Names separated by spaces or commas → bits. -EINVAL names the first unknown one in
 * *ret_bad (a pointer into s, not terminated: up to the next separator). */
int webd_scopes_parse(const char *s, unsigned *ret, const char **ret_bad);
/* Bits → "a b c" in the vocabulary's order; -ENOBUFS if len is too small. */
int webd_scopes_format(unsigned scopes, char *buf, size_t len);

#define WEBD_TOKEN_NAME_MAX    64u /* bytes */
#define WEBD_TOKEN_SERVERS_MAX 64u /* servers a token may be limited to */
#define WEBD_TOKEN_ALLOW_MAX   16u /* address ranges of its allow-list */
#define WEBD_TOKENS_PER_USER   50u /* live tokens per user */
#define WEBD_TOKEN_PREFIX      "l4m_"
/* The secret: the prefix, then 32 random bytes as unpadded base64url (43 characters). The
 * prefix lets secret scanners (and people) recognise one in a paste. */
#define WEBD_TOKEN_SECRET_LEN (sizeof(WEBD_TOKEN_PREFIX) - 1 + 43)
/* The longest expiry: a year. A token without one lives until revoked. */
#define WEBD_TOKEN_EXPIRY_MAX_SEC (366ull * 24 * 3600)

/* A network and prefix length: "10.0.0.0/8", "2001:db8::/32", or one address. */
struct webd_cidr {
        int family; /* AF_INET, AF_INET6 */
        uint8_t addr[16];
        unsigned prefix;
};
/* -EINVAL for anything else (a host part with bits set beyond the prefix is refused, so a
 * typo does not silently widen the range). */
int webd_cidr_parse(const char *s, struct webd_cidr *ret);
/* Whether address (as webd_rq.address holds it: the client by the trusted_proxies rule) lies
 * in c. An IPv4-mapped IPv6 address matches an IPv4 range. */
bool webd_cidr_match(const struct webd_cidr *c, const char *address);
/* A list of ranges separated by spaces or commas, at most WEBD_TOKEN_ALLOW_MAX; "" is none.
 * Returns how many, or -EINVAL (*ret_bad as in webd_scopes_parse), -E2BIG. */
int webd_allow_parse(const char *s, struct webd_cidr *ret, size_t n_max, const char **ret_bad);
/* Whether address is in the allow-list text (NULL or "" allows every address). */
bool webd_allow_match(const char *allow, const char *address);

/* A duration: N followed by s, m, h, d or w ("90d", "12h"); 0 and more than
 * WEBD_TOKEN_EXPIRY_MAX_SEC are refused. Seconds, or -EINVAL / -ERANGE. */
int64_t webd_duration_parse(const char *s);

struct webd_token {
        int64_t id, user_id;
        char *name;
        unsigned scopes;
        int64_t servers[WEBD_TOKEN_SERVERS_MAX]; /* the only servers it may touch */
        size_t n_servers;                        /* 0: every server its user may */
        char *allow;                             /* ranges, space-separated; NULL: any address */
        int64_t created_usec;
        int64_t expires_usec; /* 0: never */
        int64_t last_used_usec;
        char *last_used_address;
        char *username; /* of user_id, filled by lookups and lists */
};
void webd_token_done(struct webd_token *t);
/* Whether the token may touch server id (its set, or every server with an empty set). */
bool webd_token_allows_server(const struct webd_token *t, int64_t id);

/* A new secret (randombytes_buf: libsodium must be initialised). */
void webd_token_secret_new(char ret[WEBD_TOKEN_SECRET_LEN + 1]);
/* The hash web.db keys a token by. -EINVAL for anything that is not a secret of ours (wrong
 * prefix, length or alphabet), so garbage never reaches the database. */
int webd_token_secret_hash(const char *secret, size_t len, uint8_t ret[WEBD_DB_HASH_BYTES]);

/* Stores t (user_id, name, scopes, servers, allow, created_usec, expires_usec) under hash.
 * -EEXIST if the user has a token of that name, -EDQUOT past WEBD_TOKENS_PER_USER, -ENOENT if
 * the user is gone, -EINVAL for an empty or over-long name, no scope, or a bad field. */
int webd_db_token_create(struct webd_db *db, const struct webd_token *t,
                         const uint8_t hash[WEBD_DB_HASH_BYTES], const struct webd_audit *audit,
                         int64_t *ret_id);
/* The token of a hash and its user, if it has not expired at now_usec and the user is
 * active: -ENOENT if unknown, -ETIMEDOUT if expired. ret_user may be NULL. */
int webd_db_token_lookup(struct webd_db *db, const uint8_t hash[WEBD_DB_HASH_BYTES], int64_t now_usec,
                         struct webd_token *ret, struct webd_user *ret_user);
int webd_db_token_get(struct webd_db *db, int64_t id, struct webd_token *ret);
/* Marks the token used (callers do so at most once a minute per token: a durable write). */
int webd_db_token_touch(struct webd_db *db, int64_t id, int64_t now_usec, const char *address);
/* user_id's tokens (0: everyone's), by user then newest first. */
typedef int (*webd_token_cb)(const struct webd_token *t, void *userdata);
int webd_db_token_list(struct webd_db *db, int64_t user_id, webd_token_cb cb, void *userdata);
/* Revokes (deletes) token id; with user_id != 0 only if it is that user's. -ENOENT otherwise. */
int webd_db_token_delete(struct webd_db *db, int64_t id, int64_t user_id, const struct webd_audit *audit);
