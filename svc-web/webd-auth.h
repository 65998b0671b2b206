/* Passwords, sessions, CSRF, login rate limits and the Origin check: the pure parts of
 * webd's authentication, on libsodium.
 *
 * Threads: argon2id is slow on purpose (tens of milliseconds and 19+ MiB per call), so
 * webd will run auth_password_hash/verify (and auth_login_verify) on a worker thread, off
 * the h2o loop, and hand the result back to the loop. Everything here is safe for that:
 * there is no global state besides libsodium's own, initialised once by auth_init() on
 * the main thread before any worker starts; the dummy-hash counter is atomic. The rate
 * limiter and the rest are loop-only data structures (not locked). */
#pragma once

#include <sodium.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1 (libsodium always uses p = 1). */
#define AUTH_PWHASH_MEMLIMIT_MIN (19u << 20)
#define AUTH_PWHASH_OPSLIMIT_MIN 2u
#define AUTH_PASSWORD_MIN        8u    /* bytes, as the original's MIN_PASSWORD_LENGTH */
#define AUTH_PASSWORD_MAX        1024u /* bytes: bounds the work an unauthenticated POST causes */
#define AUTH_HASH_SIZE           crypto_pwhash_STRBYTES /* incl. the NUL */

struct auth_pwhash_params {
        unsigned long long opslimit;
        size_t memlimit;
};

/* What webd uses: at least the OWASP minimum. Tests pass lower limits explicitly. */
#define AUTH_PWHASH_DEFAULT                                                                                 \
        ((struct auth_pwhash_params){.opslimit = AUTH_PWHASH_OPSLIMIT_MIN,                                  \
                                     .memlimit = AUTH_PWHASH_MEMLIMIT_MIN})

/* sodium_init() once, on the main thread, before any worker thread. -EIO if it fails. */
int auth_init(void);

/* 0 if pw is acceptable as a new password: AUTH_PASSWORD_MIN..MAX bytes, no NUL, valid
 * UTF-8. -EINVAL if too short, -E2BIG if too long, -EILSEQ if it holds a NUL or is not
 * UTF-8 (so a handler can say which). */
int auth_password_policy(const char *pw, size_t len);

/* Hashes pw into ret (a NUL-terminated "$argon2id$..." string). params NULL = default.
 * Length is checked (-EINVAL/-E2BIG) but not the rest of the policy, so an admin CLI may
 * set whatever it is told. -ENOMEM if argon2 cannot get its memory. */
int auth_password_hash(const char *pw, size_t len, const struct auth_pwhash_params *params,
                       char ret[AUTH_HASH_SIZE]);
/* 0 if pw matches hash, -EACCES if not (or if hash is malformed, or pw too long). */
int auth_password_verify(const char *hash, const char *pw, size_t len);
/* 1 if hash was made with other limits than params (NULL = default) and should be
 * replaced at the next successful login, 0 if not, -EINVAL if it is not an argon2id hash. */
int auth_password_needs_rehash(const char *hash, const struct auth_pwhash_params *params);

/* The timing-oracle guard: a hash of a random password with the same parameters as real
 * ones, verified when the user does not exist (or is inactive), so "no such user" takes as
 * long as "wrong password". One per process. Making it costs an argon2id hash (~25 ms), so
 * init only picks the password: the hash is made by the first worker that needs it
 * (auth_dummy_ensure, under a mutex), and webd has one made right after start-up, off
 * the loop and after READY=1, so a cold start does not wait for it. */
struct auth_dummy {
        char hash[AUTH_HASH_SIZE];
        char pw[33];
        struct auth_pwhash_params params;
        bool have_params, ready;
        int error;
        pthread_mutex_t lock;
        atomic_ulong runs; /* how many times the dummy verify ran (tests, sys.health) */
};
int auth_dummy_init(struct auth_dummy *d, const struct auth_pwhash_params *params);
/* Makes the hash if it is not made yet (on a worker: it blocks for the hash). 0 or the
 * hashing error. */
int auth_dummy_ensure(struct auth_dummy *d);
/* The login check: verifies pw against user_hash, or, if user_hash is NULL (unknown or
 * inactive user), against the dummy and fails. 0 = the password is right. */
int auth_login_verify(struct auth_dummy *d, const char *user_hash, const char *pw, size_t len);

/* Sessions. The cookie carries 128 random bits as 32 lowercase hex digits; web.db keeps
 * only their BLAKE2b-256 hash, so a copy of the database does not yield live sessions. */
#define AUTH_SESSION_ID_BYTES   16u
#define AUTH_SESSION_COOKIE_LEN (2 * AUTH_SESSION_ID_BYTES)
#define AUTH_SESSION_HASH_BYTES 32u
/* CSRF token: 256 random bits, base64url without padding (43 characters). */
#define AUTH_CSRF_BYTES 32u
#define AUTH_CSRF_LEN   43u

int auth_session_new(char ret_cookie[AUTH_SESSION_COOKIE_LEN + 1],
                     uint8_t ret_hash[AUTH_SESSION_HASH_BYTES]);
/* Hashes a cookie value from a request; -EINVAL unless it is exactly 32 lowercase hex digits. */
int auth_session_hash(const char *cookie, size_t len, uint8_t ret_hash[AUTH_SESSION_HASH_BYTES]);
void auth_csrf_new(char ret[AUTH_CSRF_LEN + 1]);
/* Constant-time comparison of the session's token with the submitted one (any length,
 * NULL = missing). */
bool auth_csrf_ok(const char *expected, const char *given, size_t given_len);

/* The cross-site request check for state-changing requests, on top of the CSRF token:
 *   - Sec-Fetch-Site present: only "same-origin" and "none" (typed URL, bookmark) pass;
 *   - Origin present: must equal one of allowed_origins exactly ("null" never does);
 *   - neither present (old browsers, curl): pass; the CSRF token alone decides.
 * Both headers are checked when both are present. allowed_origins is NULL-terminated
 * ("https://l4d2.example", "http://127.0.0.1:8080"). 0 or -EPERM. */
int auth_check_origin(const char *origin, const char *sec_fetch_site, const char *const *allowed_origins);
/* Both checks: origin and then the token. 0 or -EPERM. */
int auth_check_request(const char *origin, const char *sec_fetch_site, const char *const *allowed_origins,
                       const char *csrf_expected, const char *csrf_given, size_t csrf_given_len);

/* A sliding-window rate limiter: at most max_attempts in any window_usec per key (client
 * address, or username). Time is passed in, so tests need no clock. Keys are stored as a
 * 128-bit hash (any length, constant memory). At most max_keys keys are tracked; when
 * full, a key whose window is over is reused, else the one least recently attempted is
 * evicted: a flood of distinct keys can therefore free a limited key, which is why login
 * checks the address and the username bucket both. An empty or NULL key is never limited
 * (the original's rule: a blank username form is not a guess). */
#define RATELIMIT_MAX_ATTEMPTS 20u
#define RATELIMIT_WINDOW_USEC  (60ull * 1000000ull)
#define RATELIMIT_MAX_KEYS     4096u

struct ratelimit;
int ratelimit_new(unsigned max_keys, unsigned max_attempts, uint64_t window_usec, struct ratelimit **ret);
struct ratelimit *ratelimit_free(struct ratelimit *rl);
/* Counts one attempt for key at now_usec: 0 if allowed, -EBUSY if the key already had
 * max_attempts in the window (the refused attempt is not counted, so waiting helps). */
int ratelimit_attempt(struct ratelimit *rl, const char *key, uint64_t now_usec);
/* Whether an attempt would be refused, without counting one. */
bool ratelimit_limited(struct ratelimit *rl, const char *key, uint64_t now_usec);
/* How long until key may try again (0 if it may now): the Retry-After of a refusal. */
uint64_t ratelimit_retry_after_usec(struct ratelimit *rl, const char *key, uint64_t now_usec);
/* When every window will have passed (the newest attempt of any key still tracked + the
 * window; cleared keys do not count), 0 if none is tracked. webd does not idle-exit before then: its windows
 * live in memory, and an exit must not hand an attacker a fresh allowance. */
uint64_t ratelimit_quiet_at(const struct ratelimit *rl);
/* Forgets key: after a successful login. */
void ratelimit_clear(struct ratelimit *rl, const char *key);
size_t ratelimit_keys(const struct ratelimit *rl);
