/* jobs.db: the durable store of jobd (SQLite in WAL mode).
 *
 * Every state change and every output line is committed before jobd acknowledges or shows
 * it. Submissions and state changes commit with synchronous=FULL (they survive a power
 * loss); output lines with synchronous=NORMAL (they survive a crash of jobd; the next state
 * change's fsync makes them power-safe too), since a build can print thousands of lines a
 * second. The schema is versioned with PRAGMA user_version and migrated step by step inside
 * one transaction when the database is opened. jobd is the only writer; the busy timeout
 * covers an admin reading it with the sqlite3 shell. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc-jobs/jobd-job.h"

#define JOBD_DB_VERSION 4

struct jobd_db;

/* A job as stored. Strings and payload are malloc'd (job_record_done frees them). */
/* The peer that submitted a job, from SO_PEERCRED (not what it claims): the owner says on
 * whose behalf, this says who asked. uid -1: not recorded (a job from before version 4). */
struct job_submitter {
        int64_t uid, pid;
};

struct job_record {
        int64_t id;
        enum job_kind kind;
        char *owner;
        struct job_submitter submitter;
        enum job_state state;
        char **subjects;
        char *keys;    /* job_keys_format() text */
        void *payload; /* canonical packed payload (job_payload_pack) */
        size_t payload_len;
        bool has_exit_code;
        int64_t exit_code;
        char *error;                                                      /* NULL if none */
        int attempts;                                                     /* how many times it was started */
        uint64_t created_usec, started_usec, finished_usec, updated_usec; /* realtime; 0 = not yet */
        int64_t last_seq; /* highest output line sequence number; 0 = no output */
        char **units;     /* the systemd units it ran (NULL-terminated; NULL = none yet) */
};

void job_record_done(struct job_record *r);

struct job_line {
        int64_t seq;
        const char *stream;
        const char *text;
        uint64_t usec;
};

struct job_filter {
        const char *owner, *subject; /* NULL = any */
        int state, kind;             /* -1 = any */
        int64_t before_id;           /* 0 = from the newest */
        unsigned limit;
};

/* Opens (creating if needed) and migrates to JOBD_DB_VERSION. -EPROTONOSUPPORT if the file
 * is from a newer jobd. */
int jobd_db_open(const char *path, struct jobd_db **ret);
/* Tests: migrates only up to version (0 = leave empty). */
int jobd_db_open_at_version(const char *path, int version, struct jobd_db **ret);
struct jobd_db *jobd_db_close(struct jobd_db *db);
int jobd_db_version(struct jobd_db *db);
/* Runs PRAGMA integrity_check; 0 if "ok", -EUCLEAN otherwise. */
int jobd_db_integrity_check(struct jobd_db *db);
const char *jobd_db_errmsg(struct jobd_db *db);

/* Stores a new job (state queued) with its subjects, in one durable transaction; sets j->id. */
int jobd_db_insert(struct jobd_db *db, struct job_record *j);
/* Stores n new jobs in one durable transaction (one fsync for all: jobd's group commit). All
 * or nothing: on failure none is stored and no record gets an id. */
int jobd_db_insert_many(struct jobd_db *db, struct job_record *const *jobs, size_t n);
/* Writes j's state and result fields if the stored state still is `from` (else -ESTALE), plus
 * an optional line, in one durable transaction. */
int jobd_db_update(struct jobd_db *db, const struct job_record *j, enum job_state from,
                   const struct job_line *line);
/* Replaces the job's list of units (validated by the caller; NULL or empty = none). */
int jobd_db_set_units(struct jobd_db *db, int64_t job_id, char *const *units);
/* Appends one output line (already sanitized). */
int jobd_db_append_line(struct jobd_db *db, int64_t job_id, const struct job_line *line);
/* -ENOENT if there is no such job. */
int jobd_db_get(struct jobd_db *db, int64_t id, struct job_record *ret);
/* Calls cb for each matching job, newest first, at most f->limit. The record is valid during
 * the call only. A negative return from cb stops and is returned. */
int jobd_db_list(struct jobd_db *db, const struct job_filter *f,
                 int (*cb)(const struct job_record *j, void *userdata), void *userdata);
/* Every queued, running and cancelling job, oldest first. */
int jobd_db_foreach_active(struct jobd_db *db, int (*cb)(const struct job_record *j, void *userdata),
                           void *userdata);
/* Output lines with seq > after_seq, at most limit, in order; the line is valid during cb. */
int jobd_db_lines(struct jobd_db *db, int64_t id, int64_t after_seq, unsigned limit,
                  int (*cb)(const struct job_line *l, void *userdata), void *userdata);
/* Counts (tests, health). */
int jobd_db_count_jobs(struct jobd_db *db, int state, int64_t *ret);
/* Deletes terminal jobs that finished before before_usec, with their lines and subjects. */
int jobd_db_prune(struct jobd_db *db, uint64_t before_usec, int64_t *ret_deleted);
