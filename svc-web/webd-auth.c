/* See webd-auth.h. */
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "proto/utf8.h"
#include "svc-web/webd-auth.h"
#include "svc-web/webd-html.h"

int auth_init(void) {
        /* 0: initialised now; 1: already. Both are fine. */
        return sodium_init() < 0 ? -EIO : 0;
}

int auth_password_policy(const char *pw, size_t len) {
        if (!pw || len < AUTH_PASSWORD_MIN)
                return -EINVAL;
        if (len > AUTH_PASSWORD_MAX)
                return -E2BIG;
        for (size_t i = 0; i < len;) {
                size_t l = pw[i] ? utf8_seq_len((const unsigned char *) pw + i, len - i) : 0;
                if (l == 0)
                        return -EILSEQ;
                i += l;
        }
        return 0;
}

int auth_password_hash(const char *pw, size_t len, const struct auth_pwhash_params *params,
                       char ret[AUTH_HASH_SIZE]) {
        struct auth_pwhash_params p = params ? *params : AUTH_PWHASH_DEFAULT;

        if (!pw || len == 0)
                return -EINVAL;
        if (len > AUTH_PASSWORD_MAX)
                return -E2BIG;
        /* libsodium fails only when argon2 cannot allocate its memory (or limits are out of
         * range, which our constants are not). */
        if (crypto_pwhash_str_alg(ret, pw, len, p.opslimit, p.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
                return -ENOMEM;
        return 0;
}

int auth_password_verify(const char *hash, const char *pw, size_t len) {
        if (!hash || !pw || len > AUTH_PASSWORD_MAX || strnlen(hash, AUTH_HASH_SIZE) >= AUTH_HASH_SIZE)
                return -EACCES;
        /* Only our own algorithm: a stored hash of another kind is refused, not trusted. */
        if (!strneq(hash, crypto_pwhash_argon2id_STRPREFIX, STRLEN(crypto_pwhash_argon2id_STRPREFIX)))
                return -EACCES;
        return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : -EACCES;
}

int auth_password_needs_rehash(const char *hash, const struct auth_pwhash_params *params) {
        struct auth_pwhash_params p = params ? *params : AUTH_PWHASH_DEFAULT;
        int r;

        if (!hash || strnlen(hash, AUTH_HASH_SIZE) >= AUTH_HASH_SIZE ||
            !strneq(hash, crypto_pwhash_argon2id_STRPREFIX, STRLEN(crypto_pwhash_argon2id_STRPREFIX)))
                return -EINVAL;
        r = crypto_pwhash_str_needs_rehash(hash, p.opslimit, p.memlimit);
        return r < 0 ? -EINVAL : r > 0;
}

int auth_dummy_init(struct auth_dummy *d, const struct auth_pwhash_params *params) {
        uint8_t raw[16];

        /* A random password nobody knows: the dummy can never match by accident. */
        randombytes_buf(raw, sizeof(raw));
        (void) sodium_bin2hex(d->pw, sizeof(d->pw), raw, sizeof(raw));
        sodium_memzero(raw, sizeof(raw));
        d->have_params = params != NULL;
        if (params)
                d->params = *params;
        d->ready = false;
        d->error = 0;
        atomic_init(&d->runs, 0);
        return -pthread_mutex_init(&d->lock, NULL);
}

int auth_dummy_ensure(struct auth_dummy *d) {
        int r;

        pthread_mutex_lock(&d->lock);
        if (!d->ready) {
                d->error = auth_password_hash(d->pw, strlen(d->pw), d->have_params ? &d->params : NULL,
                                              d->hash);
                d->ready = d->error == 0;
                if (d->ready)
                        sodium_memzero(d->pw, sizeof(d->pw));
        }
        r = d->ready ? 0 : d->error;
        pthread_mutex_unlock(&d->lock);
        return r;
}

int auth_login_verify(struct auth_dummy *d, const char *user_hash, const char *pw, size_t len) {
        if (user_hash)
                return auth_password_verify(user_hash, pw, len);
        /* Same work as a real verify, same answer as a wrong password. */
        if (auth_dummy_ensure(d) == 0)
                (void) auth_password_verify(d->hash, pw, len);
        atomic_fetch_add(&d->runs, 1);
        return -EACCES;
}

/* ---- sessions and CSRF ------------------------------------------------------------------ */

int auth_session_new(char ret_cookie[AUTH_SESSION_COOKIE_LEN + 1],
                     uint8_t ret_hash[AUTH_SESSION_HASH_BYTES]) {
        uint8_t id[AUTH_SESSION_ID_BYTES];

        /* randombytes_buf reads the kernel's CSPRNG (getrandom) and never fails. */
        randombytes_buf(id, sizeof(id));
        (void) sodium_bin2hex(ret_cookie, AUTH_SESSION_COOKIE_LEN + 1, id, sizeof(id));
        (void) crypto_generichash(ret_hash, AUTH_SESSION_HASH_BYTES, id, sizeof(id), NULL, 0);
        sodium_memzero(id, sizeof(id));
        return 0;
}

int auth_session_hash(const char *cookie, size_t len, uint8_t ret_hash[AUTH_SESSION_HASH_BYTES]) {
        uint8_t id[AUTH_SESSION_ID_BYTES];
        size_t n = 0;

        if (!cookie || len != AUTH_SESSION_COOKIE_LEN)
                return -EINVAL;
        /* Exactly our own format, so one session has exactly one spelling (no "ABCD" vs
         * "abcd", no separators sodium_hex2bin could be told to skip). */
        for (size_t i = 0; i < len; i++)
                if (!((cookie[i] >= '0' && cookie[i] <= '9') || (cookie[i] >= 'a' && cookie[i] <= 'f')))
                        return -EINVAL;
        if (sodium_hex2bin(id, sizeof(id), cookie, len, NULL, &n, NULL) != 0 || n != sizeof(id))
                return -EINVAL;
        (void) crypto_generichash(ret_hash, AUTH_SESSION_HASH_BYTES, id, sizeof(id), NULL, 0);
        sodium_memzero(id, sizeof(id));
        return 0;
}

void auth_csrf_new(char ret[AUTH_CSRF_LEN + 1]) {
        uint8_t raw[AUTH_CSRF_BYTES];

        randombytes_buf(raw, sizeof(raw));
        (void) sodium_bin2base64(ret, AUTH_CSRF_LEN + 1, raw, sizeof(raw),
                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
}

bool auth_csrf_ok(const char *expected, const char *given, size_t given_len) {
        size_t n;

        if (isempty(expected) || !given)
                return false;
        n = strlen(expected);
        /* The length is not secret (always AUTH_CSRF_LEN); the bytes are compared in
         * constant time. */
        if (given_len != n)
                return false;
        return sodium_memcmp(expected, given, n) == 0;
}

int auth_check_origin(const char *origin, const char *sec_fetch_site, const char *const *allowed_origins) {
        if (sec_fetch_site && !streq(sec_fetch_site, "same-origin") && !streq(sec_fetch_site, "none"))
                return -EPERM;
        if (origin) {
                bool ok = false;

                for (const char *const *a = allowed_origins; a && *a && !ok; a++)
                        ok = !isempty(*a) && strcasecmp(*a, origin) == 0;
                if (!ok)
                        return -EPERM;
        }
        return 0;
}

int auth_check_request(const char *origin, const char *sec_fetch_site, const char *const *allowed_origins,
                       const char *csrf_expected, const char *csrf_given, size_t csrf_given_len) {
        if (auth_check_origin(origin, sec_fetch_site, allowed_origins) < 0)
                return -EPERM;
        return auth_csrf_ok(csrf_expected, csrf_given, csrf_given_len) ? 0 : -EPERM;
}

/* ---- rate limiter ------------------------------------------------------------------------ */

struct rl_slot {
        uint8_t id[16];
        bool used;
        unsigned head, count; /* ring of the last `count` attempt times, oldest at head */
        uint64_t last;
};

struct ratelimit {
        unsigned max_keys, max_attempts;
        uint64_t window_usec;
        size_t n_used;
        uint8_t hash_key[crypto_generichash_KEYBYTES]; /* random: key hashes are unguessable */
        struct rl_slot *slots;
        uint64_t *times; /* max_keys × max_attempts */
};

int ratelimit_new(unsigned max_keys, unsigned max_attempts, uint64_t window_usec, struct ratelimit **ret) {
        struct ratelimit *rl;

        if (max_keys == 0 || max_attempts == 0 || window_usec == 0)
                return -EINVAL;
        rl = calloc(1, sizeof(*rl));
        if (!rl)
                return -ENOMEM;
        rl->max_keys = max_keys;
        rl->max_attempts = max_attempts;
        rl->window_usec = window_usec;
        randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
        rl->slots = calloc(max_keys, sizeof(*rl->slots));
        rl->times = calloc((size_t) max_keys * max_attempts, sizeof(*rl->times));
        if (!rl->slots || !rl->times) {
                ratelimit_free(rl);
                return -ENOMEM;
        }
        *ret = rl;
        return 0;
}

struct ratelimit *ratelimit_free(struct ratelimit *rl) {
        if (!rl)
                return NULL;
        free(rl->slots);
        free(rl->times);
        free(rl);
        return NULL;
}

size_t ratelimit_keys(const struct ratelimit *rl) {
        return rl->n_used;
}

static void key_id(const struct ratelimit *rl, const char *key, uint8_t id[16]) {
        (void) crypto_generichash(id, 16, (const uint8_t *) key, strlen(key), rl->hash_key,
                                  sizeof(rl->hash_key));
}

static struct rl_slot *slot_find(struct ratelimit *rl, const uint8_t id[16]) {
        for (unsigned i = 0; i < rl->max_keys; i++)
                if (rl->slots[i].used && memcmp(rl->slots[i].id, id, 16) == 0)
                        return &rl->slots[i];
        return NULL;
}

static uint64_t *slot_times(struct ratelimit *rl, const struct rl_slot *s) {
        return rl->times + (size_t) (s - rl->slots) * rl->max_attempts;
}

/* Drops attempts that have left the window. A time from the future (the caller's clock is
 * monotonic, so only in tests) counts as inside it. */
static void slot_expire(struct ratelimit *rl, struct rl_slot *s, uint64_t now) {
        uint64_t *t = slot_times(rl, s);

        while (s->count > 0 && t[s->head] + rl->window_usec <= now) {
                s->head = (s->head + 1) % rl->max_attempts;
                s->count--;
        }
}

static struct rl_slot *slot_new(struct ratelimit *rl, const uint8_t id[16], uint64_t now) {
        struct rl_slot *victim = NULL;

        for (unsigned i = 0; i < rl->max_keys; i++) {
                struct rl_slot *s = &rl->slots[i];
                if (!s->used) {
                        victim = s;
                        rl->n_used++;
                        break;
                }
                if (s->last + rl->window_usec <= now) {
                        victim = s; /* its window is over: nothing is lost */
                        break;
                }
                if (!victim || s->last < victim->last)
                        victim = s;
        }
        *victim = (struct rl_slot){.used = true};
        memcpy(victim->id, id, 16);
        return victim;
}

bool ratelimit_limited(struct ratelimit *rl, const char *key, uint64_t now_usec) {
        uint8_t id[16];
        struct rl_slot *s;

        if (isempty(key))
                return false;
        key_id(rl, key, id);
        s = slot_find(rl, id);
        if (!s)
                return false;
        slot_expire(rl, s, now_usec);
        return s->count >= rl->max_attempts;
}

int ratelimit_attempt(struct ratelimit *rl, const char *key, uint64_t now_usec) {
        uint8_t id[16];
        struct rl_slot *s;

        if (isempty(key))
                return 0;
        key_id(rl, key, id);
        s = slot_find(rl, id);
        if (s) {
                slot_expire(rl, s, now_usec);
                if (s->count >= rl->max_attempts) {
                        /* Still counts as activity for eviction: a key under attack is the
                         * last one to be forgotten. */
                        s->last = MAX(s->last, now_usec);
                        return -EBUSY;
                }
        } else
                s = slot_new(rl, id, now_usec);
        slot_times(rl, s)[(s->head + s->count) % rl->max_attempts] = now_usec;
        s->count++;
        s->last = now_usec;
        return 0;
}

uint64_t ratelimit_retry_after_usec(struct ratelimit *rl, const char *key, uint64_t now_usec) {
        uint8_t id[16];
        struct rl_slot *s;
        uint64_t oldest;

        if (isempty(key))
                return 0;
        key_id(rl, key, id);
        s = slot_find(rl, id);
        if (!s)
                return 0;
        slot_expire(rl, s, now_usec);
        if (s->count < rl->max_attempts)
                return 0;
        oldest = slot_times(rl, s)[s->head];
        return oldest + rl->window_usec > now_usec ? oldest + rl->window_usec - now_usec : 0;
}

uint64_t ratelimit_quiet_at(const struct ratelimit *rl) {
        uint64_t newest = 0;

        /* Keys cleared by a success do not count; n_used tells when none is left. */
        if (rl->n_used == 0)
                return 0;
        for (unsigned i = 0; i < rl->max_keys; i++) {
                const struct rl_slot *s = &rl->slots[i];
                if (s->used && s->count > 0)
                        newest = MAX(newest, s->last);
        }
        return newest ? newest + rl->window_usec : 0;
}

void ratelimit_clear(struct ratelimit *rl, const char *key) {
        uint8_t id[16];
        struct rl_slot *s;

        if (isempty(key))
                return;
        key_id(rl, key, id);
        s = slot_find(rl, id);
        if (s) {
                *s = (struct rl_slot){};
                rl->n_used--;
        }
}
