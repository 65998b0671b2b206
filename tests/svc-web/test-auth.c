/* Unit tests of svc-web/webd-auth.c: password hashing and policy, the dummy verify,
 * sessions, CSRF, the Origin check and the rate limiter. Hashes use low argon2 limits
 * (passed as a parameter) except in the test that checks the defaults themselves. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "base/util.h"
#include "svc-web/webd-auth.h"

static const struct auth_pwhash_params fast = {.opslimit = 1, .memlimit = 8192};

static void setup(void) {
        cr_assert_eq(auth_init(), 0);
}

TestSuite(auth, .init = setup);
TestSuite(ratelimit, .init = setup);

Test(auth, defaults_meet_owasp_minimum) {
        struct auth_pwhash_params d = AUTH_PWHASH_DEFAULT;
        char h[AUTH_HASH_SIZE];
        unsigned long long m = 0, t = 0;

        cr_assert_geq(d.memlimit, 19u << 20);
        cr_assert_geq(d.opslimit, 2);
        /* And the hash made with them says so (m in KiB, t). */
        cr_assert_eq(auth_password_hash("correct horse", 13, NULL, h), 0);
        cr_assert(strneq(h, "$argon2id$v=19$", 15), "%s", h);
        cr_assert_eq(sscanf(h, "$argon2id$v=19$m=%llu,t=%llu,", &m, &t), 2, "%s", h);
        cr_assert_geq(m, 19u * 1024);
        cr_assert_geq(t, 2);
        cr_assert_eq(auth_password_verify(h, "correct horse", 13), 0);
        cr_assert_eq(auth_password_needs_rehash(h, NULL), 0);
}

Test(auth, hash_and_verify) {
        char h[AUTH_HASH_SIZE], h2[AUTH_HASH_SIZE];

        cr_assert_eq(auth_password_hash("s3cret-pass", 11, &fast, h), 0);
        cr_assert_eq(auth_password_verify(h, "s3cret-pass", 11), 0);
        cr_assert_eq(auth_password_verify(h, "s3cret-pasS", 11), -EACCES);
        cr_assert_eq(auth_password_verify(h, "s3cret-pas", 10), -EACCES);
        cr_assert_eq(auth_password_verify(h, "", 0), -EACCES);
        /* Salted: the same password hashes differently. */
        cr_assert_eq(auth_password_hash("s3cret-pass", 11, &fast, h2), 0);
        cr_assert_str_neq(h, h2);
        /* Bytes after a NUL count: the length is what is hashed. */
        cr_assert_eq(auth_password_hash("ab\0cdefgh", 9, &fast, h), 0);
        cr_assert_eq(auth_password_verify(h, "ab", 2), -EACCES);
}

Test(auth, verify_refuses_malformed_and_foreign_hashes) {
        char big[AUTH_HASH_SIZE + 10];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cr_assert_eq(auth_password_verify("", "x", 1), -EACCES);
        cr_assert_eq(auth_password_verify("$argon2id$garbage", "x", 1), -EACCES);
        cr_assert_eq(auth_password_verify("plaintext", "plaintext", 9), -EACCES);
        cr_assert_eq(auth_password_verify("pbkdf2:sha256:260000$salt$"
                                          "0000000000000000000000000000000000000000000000000000000000000000",
                                          "x", 1),
                     -EACCES);
        cr_assert_eq(auth_password_verify(big, "x", 1), -EACCES);
        cr_assert_eq(auth_password_verify(NULL, "x", 1), -EACCES);
}

Test(auth, length_limits) {
        char h[AUTH_HASH_SIZE], pw[AUTH_PASSWORD_MAX + 1];

        memset(pw, 'p', sizeof(pw));
        cr_assert_eq(auth_password_hash(pw, AUTH_PASSWORD_MAX, &fast, h), 0);
        cr_assert_eq(auth_password_verify(h, pw, AUTH_PASSWORD_MAX), 0);
        cr_assert_eq(auth_password_hash(pw, AUTH_PASSWORD_MAX + 1, &fast, h), -E2BIG);
        cr_assert_eq(auth_password_verify(h, pw, AUTH_PASSWORD_MAX + 1), -EACCES);
        cr_assert_eq(auth_password_hash("", 0, &fast, h), -EINVAL);
}

Test(auth, policy) {
        char pw[AUTH_PASSWORD_MAX + 1];

        memset(pw, 'p', sizeof(pw));
        cr_assert_eq(auth_password_policy("1234567", 7), -EINVAL);
        cr_assert_eq(auth_password_policy("12345678", 8), 0);
        cr_assert_eq(auth_password_policy(pw, AUTH_PASSWORD_MAX), 0);
        cr_assert_eq(auth_password_policy(pw, AUTH_PASSWORD_MAX + 1), -E2BIG);
        cr_assert_eq(auth_password_policy("1234\0"
                                          "5678",
                                          9),
                     -EILSEQ);
        cr_assert_eq(auth_password_policy("12345678\xff", 9), -EILSEQ);
        cr_assert_eq(auth_password_policy("p\xc3\xa4ssw\xc3\xb6rd", 10), 0);
        cr_assert_eq(auth_password_policy(NULL, 0), -EINVAL);
}

Test(auth, needs_rehash) {
        struct auth_pwhash_params more = {.opslimit = 2, .memlimit = 8192};
        char h[AUTH_HASH_SIZE];

        cr_assert_eq(auth_password_hash("password1", 9, &fast, h), 0);
        cr_assert_eq(auth_password_needs_rehash(h, &fast), 0);
        cr_assert_eq(auth_password_needs_rehash(h, &more), 1);
        cr_assert_eq(auth_password_needs_rehash(h, NULL), 1); /* weaker than the default */
        cr_assert_eq(auth_password_needs_rehash("nonsense", NULL), -EINVAL);
        cr_assert_eq(auth_password_needs_rehash(NULL, NULL), -EINVAL);
}

Test(auth, dummy_verify_for_unknown_users) {
        struct auth_dummy d;
        char h[AUTH_HASH_SIZE];

        cr_assert_eq(auth_dummy_init(&d, &fast), 0);
        cr_assert_eq(atomic_load(&d.runs), 0);
        /* Made only when first needed (webd has a worker do it right after start-up). */
        cr_assert_not(d.ready);
        cr_assert_eq(auth_dummy_ensure(&d), 0);
        cr_assert(strneq(d.hash, "$argon2id$", 10));
        cr_assert_eq(auth_password_verify(d.hash, d.pw, strlen(d.pw)), -EACCES,
                     "the dummy's password is wiped once hashed");
        cr_assert_eq(auth_password_hash("password1", 9, &fast, h), 0);

        cr_assert_eq(auth_login_verify(&d, h, "password1", 9), 0);
        cr_assert_eq(auth_login_verify(&d, h, "password2", 9), -EACCES);
        cr_assert_eq(atomic_load(&d.runs), 0); /* a known user never touches the dummy */
        cr_assert_eq(auth_login_verify(&d, NULL, "password1", 9), -EACCES);
        cr_assert_eq(auth_login_verify(&d, NULL, "", 0), -EACCES);
        cr_assert_eq(atomic_load(&d.runs), 2);
}

struct worker {
        char hash[AUTH_HASH_SIZE];
        char pw[32];
        int r_hash, r_ok, r_bad;
};

static void *worker_run(void *arg) {
        struct worker *w = arg;

        w->r_hash = auth_password_hash(w->pw, strlen(w->pw), &fast, w->hash);
        w->r_ok = auth_password_verify(w->hash, w->pw, strlen(w->pw));
        w->r_bad = auth_password_verify(w->hash, "wrong-password", 14);
        return NULL;
}

Test(auth, hashing_from_worker_threads) {
        struct worker w[8] = {};
        pthread_t t[8];

        for (int i = 0; i < 8; i++) {
                snprintf(w[i].pw, sizeof(w[i].pw), "password-%d", i);
                cr_assert_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                cr_assert_eq(pthread_join(t[i], NULL), 0);
                cr_assert_eq(w[i].r_hash, 0);
                cr_assert_eq(w[i].r_ok, 0);
                cr_assert_eq(w[i].r_bad, -EACCES);
        }
        cr_assert_eq(auth_password_verify(w[0].hash, w[1].pw, strlen(w[1].pw)), -EACCES);
}

Test(auth, session_ids) {
        char c1[AUTH_SESSION_COOKIE_LEN + 1], c2[AUTH_SESSION_COOKIE_LEN + 1];
        uint8_t h1[AUTH_SESSION_HASH_BYTES], h2[AUTH_SESSION_HASH_BYTES], h[AUTH_SESSION_HASH_BYTES];

        cr_assert_eq(auth_session_new(c1, h1), 0);
        cr_assert_eq(auth_session_new(c2, h2), 0);
        cr_assert_eq(strlen(c1), 32);
        cr_assert_str_neq(c1, c2);
        cr_assert_neq(memcmp(h1, h2, sizeof(h1)), 0);
        for (const char *p = c1; *p; p++)
                cr_assert((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
        /* The stored hash is a hash, not the cookie. */
        cr_assert_neq(memcmp(h1, c1, 16), 0);
        cr_assert_eq(auth_session_hash(c1, 32, h), 0);
        cr_assert_eq(memcmp(h, h1, sizeof(h)), 0);
        cr_assert_eq(auth_session_hash(c2, 32, h), 0);
        cr_assert_eq(memcmp(h, h2, sizeof(h)), 0);
}

Test(auth, session_cookie_format_strict) {
        uint8_t h[AUTH_SESSION_HASH_BYTES];
        char up[] = "0123456789ABCDEF0123456789abcdef";

        cr_assert_eq(auth_session_hash("0123456789abcdef0123456789abcdef", 32, h), 0);
        cr_assert_eq(auth_session_hash(up, 32, h), -EINVAL);
        cr_assert_eq(auth_session_hash("0123456789abcdef0123456789abcde", 31, h), -EINVAL);
        cr_assert_eq(auth_session_hash("0123456789abcdef0123456789abcdef0", 33, h), -EINVAL);
        cr_assert_eq(auth_session_hash("0123456789abcdef:123456789abcdef", 32, h), -EINVAL);
        cr_assert_eq(auth_session_hash("0123456789abcdef 123456789abcdef", 32, h), -EINVAL);
        cr_assert_eq(auth_session_hash("0123456789abcdef\0"
                                       "123456789abcdef",
                                       32, h),
                     -EINVAL);
        cr_assert_eq(auth_session_hash(NULL, 32, h), -EINVAL);
}

Test(auth, csrf) {
        char t1[AUTH_CSRF_LEN + 1], t2[AUTH_CSRF_LEN + 1], wrong[AUTH_CSRF_LEN + 1];

        auth_csrf_new(t1);
        auth_csrf_new(t2);
        cr_assert_eq(strlen(t1), AUTH_CSRF_LEN);
        cr_assert_str_neq(t1, t2);
        for (const char *p = t1; *p; p++)
                cr_assert((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                          *p == '-' || *p == '_');
        cr_assert(auth_csrf_ok(t1, t1, strlen(t1)));
        cr_assert(!auth_csrf_ok(t1, t2, strlen(t2)));
        memcpy(wrong, t1, sizeof(wrong));
        wrong[AUTH_CSRF_LEN - 1] ^= 1;
        cr_assert(!auth_csrf_ok(t1, wrong, AUTH_CSRF_LEN));
        cr_assert(!auth_csrf_ok(t1, t1, AUTH_CSRF_LEN - 1));
        cr_assert(!auth_csrf_ok(t1, "", 0));
        cr_assert(!auth_csrf_ok(t1, NULL, 0));
        cr_assert(!auth_csrf_ok("", "", 0)); /* a session without a token never matches */
        cr_assert(!auth_csrf_ok(NULL, t1, strlen(t1)));
}

static const char *const origins[] = {"https://l4d2.example", "http://127.0.0.1:8080", NULL};

Test(auth, origin_check) {
        cr_assert_eq(auth_check_origin(NULL, NULL, origins), 0);
        cr_assert_eq(auth_check_origin("https://l4d2.example", NULL, origins), 0);
        cr_assert_eq(auth_check_origin("HTTPS://L4D2.example", NULL, origins), 0);
        cr_assert_eq(auth_check_origin("http://127.0.0.1:8080", "same-origin", origins), 0);
        cr_assert_eq(auth_check_origin(NULL, "same-origin", origins), 0);
        cr_assert_eq(auth_check_origin(NULL, "none", origins), 0);

        cr_assert_eq(auth_check_origin("https://evil.example", NULL, origins), -EPERM);
        cr_assert_eq(auth_check_origin("https://l4d2.example.evil", NULL, origins), -EPERM);
        cr_assert_eq(auth_check_origin("http://l4d2.example", NULL, origins), -EPERM);
        cr_assert_eq(auth_check_origin("https://l4d2.example:444", NULL, origins), -EPERM);
        cr_assert_eq(auth_check_origin("null", NULL, origins), -EPERM);
        cr_assert_eq(auth_check_origin("", NULL, origins), -EPERM);
        cr_assert_eq(auth_check_origin(NULL, "cross-site", origins), -EPERM);
        cr_assert_eq(auth_check_origin(NULL, "same-site", origins), -EPERM);
        cr_assert_eq(auth_check_origin(NULL, "", origins), -EPERM);
        /* Both present: both must pass. */
        cr_assert_eq(auth_check_origin("https://l4d2.example", "cross-site", origins), -EPERM);
        cr_assert_eq(auth_check_origin("https://evil.example", "same-origin", origins), -EPERM);
        /* No allowed origins configured: any Origin header is foreign. */
        cr_assert_eq(auth_check_origin("https://l4d2.example", NULL, NULL), -EPERM);
}

Test(auth, request_check_origin_beats_token) {
        char t[AUTH_CSRF_LEN + 1];

        auth_csrf_new(t);
        /* A valid token does not save a foreign origin. */
        cr_assert_eq(auth_check_request("https://evil.example", NULL, origins, t, t, strlen(t)), -EPERM);
        cr_assert_eq(auth_check_request(NULL, "cross-site", origins, t, t, strlen(t)), -EPERM);
        /* Neither header: the token decides. */
        cr_assert_eq(auth_check_request(NULL, NULL, origins, t, t, strlen(t)), 0);
        cr_assert_eq(auth_check_request(NULL, NULL, origins, t, "x", 1), -EPERM);
        cr_assert_eq(auth_check_request(NULL, NULL, origins, t, NULL, 0), -EPERM);
        /* Right origin, wrong token. */
        cr_assert_eq(auth_check_request("https://l4d2.example", "same-origin", origins, t, "x", 1), -EPERM);
        cr_assert_eq(auth_check_request("https://l4d2.example", "same-origin", origins, t, t, strlen(t)), 0);
}

#define SEC 1000000ull

Test(ratelimit, twenty_per_sixty_seconds_sliding) {
        struct ratelimit *rl;
        uint64_t t0 = 1000 * SEC;

        cr_assert_eq(ratelimit_new(RATELIMIT_MAX_KEYS, RATELIMIT_MAX_ATTEMPTS, RATELIMIT_WINDOW_USEC, &rl),
                     0);
        /* 20 attempts spread over 19 s pass, the 21st does not. */
        for (unsigned i = 0; i < 20; i++)
                cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + i * SEC), 0, "attempt %u", i);
        cr_assert(ratelimit_limited(rl, "10.0.0.1", t0 + 20 * SEC));
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 20 * SEC), -EBUSY);
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 59 * SEC), -EBUSY);
        /* Other keys are independent. */
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.2", t0 + 20 * SEC), 0);
        /* Sliding: at t0+60 s the first attempt left the window, so exactly one more passes. */
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 60 * SEC), 0);
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 60 * SEC), -EBUSY);
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 61 * SEC), 0);
        /* After a whole quiet window, the full budget is back. */
        for (unsigned i = 0; i < 20; i++)
                cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 200 * SEC), 0);
        cr_assert_eq(ratelimit_attempt(rl, "10.0.0.1", t0 + 200 * SEC), -EBUSY);
        ratelimit_free(rl);
}

Test(ratelimit, empty_key_never_bucketed) {
        struct ratelimit *rl;

        cr_assert_eq(ratelimit_new(16, 2, 60 * SEC, &rl), 0);
        for (int i = 0; i < 100; i++) {
                cr_assert_eq(ratelimit_attempt(rl, "", SEC), 0);
                cr_assert_eq(ratelimit_attempt(rl, NULL, SEC), 0);
        }
        cr_assert(!ratelimit_limited(rl, "", SEC));
        cr_assert_eq(ratelimit_keys(rl), 0);
        ratelimit_clear(rl, "");
        ratelimit_free(rl);
}

Test(ratelimit, clear_on_success) {
        struct ratelimit *rl;

        cr_assert_eq(ratelimit_new(16, 3, 60 * SEC, &rl), 0);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(ratelimit_attempt(rl, "alice", SEC), 0);
        cr_assert_eq(ratelimit_attempt(rl, "alice", SEC), -EBUSY);
        cr_assert_eq(ratelimit_keys(rl), 1);
        ratelimit_clear(rl, "alice");
        cr_assert_eq(ratelimit_keys(rl), 0);
        cr_assert(!ratelimit_limited(rl, "alice", SEC));
        cr_assert_eq(ratelimit_attempt(rl, "alice", SEC), 0);
        ratelimit_clear(rl, "nobody"); /* harmless */
        ratelimit_free(rl);
}

Test(ratelimit, key_cap_and_eviction) {
        struct ratelimit *rl;
        char key[32];

        cr_assert_eq(ratelimit_new(4, 2, 60 * SEC, &rl), 0);
        /* "victim" is limited and then kept busy; three others fill the table. */
        cr_assert_eq(ratelimit_attempt(rl, "victim", 1 * SEC), 0);
        cr_assert_eq(ratelimit_attempt(rl, "victim", 1 * SEC), 0);
        for (int i = 0; i < 3; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                cr_assert_eq(ratelimit_attempt(rl, key, (2 + (uint64_t) i) * SEC), 0);
        }
        cr_assert_eq(ratelimit_keys(rl), 4);
        cr_assert_eq(ratelimit_attempt(rl, "victim", 10 * SEC), -EBUSY);
        /* A fifth key evicts the least recently active one (k0), not the limited victim. */
        cr_assert_eq(ratelimit_attempt(rl, "new", 11 * SEC), 0);
        cr_assert_eq(ratelimit_keys(rl), 4);
        cr_assert(ratelimit_limited(rl, "victim", 12 * SEC));
        /* Many more keys: the count never passes the cap. */
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "flood%d", i);
                (void) ratelimit_attempt(rl, key, 13 * SEC);
        }
        cr_assert_eq(ratelimit_keys(rl), 4);
        /* Expired slots are reused first. */
        cr_assert_eq(ratelimit_attempt(rl, "late", 500 * SEC), 0);
        cr_assert_eq(ratelimit_keys(rl), 4);
        ratelimit_free(rl);
}

Test(ratelimit, long_keys_and_bad_arguments) {
        struct ratelimit *rl;
        char big[10000];

        cr_assert_eq(ratelimit_new(0, 1, 1, &rl), -EINVAL);
        cr_assert_eq(ratelimit_new(1, 0, 1, &rl), -EINVAL);
        cr_assert_eq(ratelimit_new(1, 1, 0, &rl), -EINVAL);
        cr_assert_eq(ratelimit_new(2, 1, 60 * SEC, &rl), 0);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cr_assert_eq(ratelimit_attempt(rl, big, SEC), 0);
        cr_assert_eq(ratelimit_attempt(rl, big, SEC), -EBUSY);
        big[0] = 'y';
        cr_assert_eq(ratelimit_attempt(rl, big, SEC), 0);
        cr_assert_null(ratelimit_free(rl));
        cr_assert_null(ratelimit_free(NULL));
}
