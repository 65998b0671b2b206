/* See webd-passwords.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "svc-web/webd-passwords.h"
#include "svc-web/webd-request.h"
#include "svc-web/webd.h"

static void pw_run(struct webd_job *job) {
        struct pw_job *j = (struct pw_job *) job;

        if (j->verify) {
                j->verify_r = auth_login_verify(&j->w->dummy, j->verify_hash[0] ? j->verify_hash : NULL,
                                                j->verify_pw, j->verify_len);
                if (j->verify_r == 0 && !j->hash_new &&
                    auth_password_needs_rehash(j->verify_hash, NULL) == 1)
                        j->rehashed =
                                auth_password_hash(j->verify_pw, j->verify_len, NULL, j->new_hash) == 0;
        }
        if (j->hash_new && (!j->verify || j->verify_r == 0))
                j->hash_r = auth_password_hash(j->new_pw, j->new_len, NULL, j->new_hash);
}

static void pw_done(struct webd_job *job) {
        struct pw_job *j = (struct pw_job *) job;

        j->done(j);
}

struct pw_job *pw_job_new(struct webd *w, pw_done_fn done, void *userdata) {
        struct pw_job *j = calloc(1, sizeof(*j));

        if (!j)
                return NULL;
        j->super.run = pw_run;
        j->super.done = pw_done;
        j->w = w;
        j->done = done;
        j->userdata = userdata;
        j->verify_r = -EACCES;
        j->hash_r = -EINVAL;
        return j;
}

static void wipe(char **pw, size_t len) {
        if (*pw) {
                sodium_memzero(*pw, len);
                free(*pw);
                *pw = NULL;
        }
}

struct pw_job *pw_job_free(struct pw_job *j) {
        if (!j)
                return NULL;
        wipe(&j->verify_pw, j->verify_len);
        wipe(&j->new_pw, j->new_len);
        sodium_memzero(j->new_hash, sizeof(j->new_hash));
        free(j);
        return NULL;
}

static int copy_pw(char **dst, size_t *dst_len, const char *pw, size_t len) {
        *dst = malloc(len + 1);
        if (!*dst)
                return -ENOMEM;
        memcpy(*dst, pw, len);
        (*dst)[len] = 0;
        *dst_len = len;
        return 0;
}

int pw_job_verify(struct pw_job *j, const char *hash, const char *pw, size_t len) {
        j->verify = true;
        if (hash && strlen(hash) < sizeof(j->verify_hash))
                snprintf(j->verify_hash, sizeof(j->verify_hash), "%s", hash);
        return copy_pw(&j->verify_pw, &j->verify_len, pw, len);
}

int pw_job_hash(struct pw_job *j, const char *pw, size_t len) {
        j->hash_new = true;
        return copy_pw(&j->new_pw, &j->new_len, pw, len);
}

int pw_job_submit(struct pw_job *j, h2o_req_t *req) {
        int r;

        if (req)
                webd_job_bind_req(&j->super, req);
        r = webd_work_submit(j->w->work, &j->super);
        if (r < 0 && j->super._req_slot) {
                /* The caller frees the job now: the pool must not reach it later. */
                *j->super._req_slot = NULL;
                j->super._req_slot = NULL;
        }
        return r;
}

const char *pw_policy_error(const char *pw) {
        switch (pw ? auth_password_policy(pw, strlen(pw)) : -EINVAL) {
        case 0:
                return NULL;
        case -EINVAL:
                return "The password is too short: use at least 8 characters.";
        case -E2BIG:
                return "The password is too long: use at most 1024 bytes.";
        default:
                return "The password must be valid text.";
        }
}

int pw_busy(struct webd_rq *rq) {
        webd_rq_add_header(rq, "retry-after", "1");
        return webd_rq_error(rq, 503, "Busy",
                             "The server is busy checking passwords. Try again in a moment.");
}
