/* Password work for the pages and the admin socket, off the loop: verify a password
 * (against a user's hash, or the dummy for unknown users), hash a new one, and rehash a
 * verified one whose hash was made with older limits. The job copies the passwords and
 * wipes them when freed; done() runs on the loop (webd-work.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc-web/webd-auth.h"
#include "svc-web/webd-work.h"

struct webd;
struct pw_job;
typedef void (*pw_done_fn)(struct pw_job *j);

struct pw_job {
        struct webd_job super;
        struct webd *w;
        pw_done_fn done;
        void *userdata; /* the caller's: a struct webd_rq (valid while super.req is set), an rpc_call */

        /* what to do */
        bool verify;   /* check verify_pw against verify_hash (or the dummy, if it is empty) */
        bool hash_new; /* hash new_pw */
        char *verify_pw, *new_pw;
        size_t verify_len, new_len;
        char verify_hash[AUTH_HASH_SIZE];

        /* results */
        int verify_r;                  /* 0 = the password was right */
        int hash_r;                    /* 0 = new_hash holds the new password's hash */
        char new_hash[AUTH_HASH_SIZE]; /* hash_new's, or a rehash of verify_pw */
        bool rehashed;                 /* verified, and new_hash replaces an outdated hash */

        /* the caller's context */
        int64_t user_id;
        char name[128], next[2048 + 1];
        bool flag;
        bool must_change; /* the account must choose a new password at its next login */
};

/* What the pages answer: a new password against the policy (NULL if fine, else the sentence
 * to show), and the 503 when the hashing queue is full. */
const char *pw_policy_error(const char *pw);
struct webd_rq;
int pw_busy(struct webd_rq *rq);

/* NULL on ENOMEM. */
struct pw_job *pw_job_new(struct webd *w, pw_done_fn done, void *userdata);
struct pw_job *pw_job_free(struct pw_job *j);
/* Copies the password; hash NULL = verify against the dummy (and fail). -ENOMEM. */
int pw_job_verify(struct pw_job *j, const char *hash, const char *pw, size_t len);
int pw_job_hash(struct pw_job *j, const char *pw, size_t len);
/* Queues it, bound to req if not NULL. -EBUSY if the queue is full (the caller answers
 * 503 and frees the job). */
int pw_job_submit(struct pw_job *j, h2o_req_t *req);
