/* left4me-jobd: the durable job queue and executor (docs/jobs.md).
 *
 * jobs.sock methods (who may call which: the table at the end):
 *   jobs.submit {kind, owner, subjects?, payload?}  → {job, coalesced}
 *   jobs.get    {id}                                → {job}
 *   jobs.list   {owner?, subject?, state?, kind?, limit?, before_id?} → {jobs, next_before_id}
 *   jobs.log    {id, after_seq?, limit?}            → {lines, next_seq, state, done}
 *   jobs.watch  {id, after_seq?}    streams {type: line|state, ...}, then → {job}
 *   jobs.cancel {id}                                → {job} */
#include <pwd.h>
#include <stdio.h>

#include "daemon/daemon.h"
#include "daemon/sqlite.h"
#include "base/log.h"
#include "proto/args.h"
#include "proto/map.h"
#include "svc-jobs/jobd-manager.h"

#define LIST_LIMIT_MAX  500
#define LIST_LIMIT_DEF  50
#define LOG_LIMIT_MAX   5000
#define LOG_LIMIT_DEF   1000
#define LOG_REPLY_BYTES (1024 * 1024)

static int check_kind(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;
        if (s && job_kind_from_string(s) < 0)
                return rpc_error_set(
                        e, RPC_INVALID,
                        "%s: unknown kind '%s' (install, server.start, server.stop, server.reset, "
                        "server.delete, overlay.build, overlay.delete)",
                        a->name, s);
        return 0;
}

static int check_state(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;
        if (s && job_state_from_string(s) < 0)
                return rpc_error_set(
                        e, RPC_INVALID,
                        "%s: unknown state '%s' (queued, running, cancelling, succeeded, failed, "
                        "cancelled)",
                        a->name, s);
        return 0;
}

static int check_owner(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;
        if (s && !job_owner_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: must be 1..%d bytes of printable UTF-8", a->name,
                                     JOB_OWNER_MAX);
        return 0;
}

static int check_subject(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;
        if (s && !job_subject_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: must look like 'server:<name>' (" NAME_PATTERN ")",
                                     a->name);
        return 0;
}

static int check_subjects(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        char **v = *(char ***) field;
        for (size_t i = 0; v && v[i]; i++)
                if (!job_subject_valid(v[i]))
                        return rpc_error_set(e, RPC_INVALID,
                                             "%s[%zu]: must look like 'server:<name>' (" NAME_PATTERN ")",
                                             a->name, i);
        return 0;
}

static int fail_with(struct rpc_call *call, const struct rpc_error *e) {
        return rpc_call_fail_error(call, e);
}

/* ---- who is asking (docs/jobs.md, "Owners") ----------------------------------------------
 *
 * The owner of a job is not what a caller claims but what the kernel says it is
 * (SO_PEERCRED, classified by proto/server.c): root may act as anyone; webd as its web
 * users ("web:<user>"); an operator only as "cli:<login name>", and sees and cancels only
 * those jobs; logd reads any job (jobs.get, for its units). */

struct caller {
        enum rpc_caller kind;
        char owner[JOB_OWNER_MAX + 1]; /* cli:<name>: the one owner an operator acts as */
        uid_t uid;
        pid_t pid;
};

static void caller_of(struct rpc_call *call, struct caller *ret) {
        const struct rpc_peer *p = rpc_call_peer(call);
        struct passwd *pw;

        *ret = (struct caller){.kind = p->caller, .uid = p->uid, .pid = p->pid};
        if (ret->kind != RPC_CALLER_OPERATOR)
                return; /* acts as anyone or as web users: no name to look up (NSS per request) */
        pw = getpwuid(ret->uid);
        if (pw)
                snprintf(ret->owner, sizeof(ret->owner), "cli:%s", pw->pw_name);
        else
                snprintf(ret->owner, sizeof(ret->owner), "cli:%u", (unsigned) ret->uid);
}

/* May the caller act as (submit for, list, see, cancel the jobs of) owner? */
static bool caller_may_act_as(const struct caller *c, const char *owner) {
        switch (c->kind) {
        case RPC_CALLER_ROOT:
                return true;
        case RPC_CALLER_WEBD:
                return strncmp(owner, "web:", 4) == 0;
        case RPC_CALLER_OPERATOR:
                return streq(owner, c->owner);
        default:
                return false; /* the method table already refused anyone else */
        }
}

/* May the caller see (list, get, read the log of, watch, cancel) owner's jobs? Root, webd
 * (which applies its own users' rules) and logd (a job's units) see all. */
static bool caller_may_see(const struct caller *c, const char *owner) {
        return c->kind != RPC_CALLER_OPERATOR || streq(owner, c->owner);
}

static int refuse_owner(struct rpc_call *call, const struct caller *c, const char *what, const char *owner) {
        if (c->kind == RPC_CALLER_WEBD)
                return rpc_call_fail(call, RPC_DENIED, "webd may %s only as web:<user>, not as '%s'", what,
                                     owner);
        return rpc_call_fail(call, RPC_DENIED, "uid %u may %s only as '%s', not as '%s'", (unsigned) c->uid,
                             what, c->owner, owner);
}

/* For get, log, watch, cancel: answers and returns < 0 unless the caller may see job id. A job
 * that does not exist is left to the method (not_found). */
static int check_job_access(struct rpc_call *call, struct manager *m, int64_t id) {
        struct job_record rec;
        struct caller c;
        bool ok;
        int r;

        caller_of(call, &c);
        if (c.kind != RPC_CALLER_OPERATOR)
                return 0;
        r = jobd_db_get(manager_db(m), id, &rec);
        if (r < 0)
                return 0;
        ok = caller_may_see(&c, rec.owner);
        job_record_done(&rec);
        if (ok)
                return 0;
        return rpc_call_fail(call, RPC_DENIED, "job %lld belongs to another owner (you are '%s')",
                             (long long) id, c.owner);
}

/* Answers {job: <job>} (full, and coalesced if coalesced_field) with rec. */
static int reply_record(struct rpc_call *call, const struct job_record *rec, bool coalesced_field,
                        bool coalesced) {
        msgpack_packer *pk = rpc_call_result(call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_key(mpk, "job");
        manager_pack_job(mpk, rec, true);
        if (coalesced_field)
                rpc_pack_kv_bool(mpk, "coalesced", coalesced);
        (void) rpc_map_end(&map);
        return rpc_call_reply(call);
}

/* Answers {job: <job>} (full) for id, as stored. */
static int reply_job(struct rpc_call *call, struct manager *m, int64_t id, bool coalesced_field,
                     bool coalesced) {
        struct job_record rec;
        int r;

        r = jobd_db_get(manager_db(m), id, &rec);
        if (r == -ENOENT)
                return rpc_call_fail(call, RPC_NOT_FOUND, "job %lld: no such job", (long long) id);
        if (r < 0)
                return rpc_call_fail(call, RPC_INTERNAL, "job %lld: cannot read: %s", (long long) id,
                                     strerror(-r));
        r = reply_record(call, &rec, coalesced_field, coalesced);
        job_record_done(&rec);
        return r;
}

/* ---- jobs.submit ------------------------------------------------------------------------- */

struct submit_args {
        char *kind;
        char *owner;
        char **subjects;
        const msgpack_object *payload;
};

static const struct rpc_arg submit_args[] = {
        {"kind", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct submit_args, kind), 1, 32, 0, check_kind},
        {"owner", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct submit_args, owner), 1, JOB_OWNER_MAX, 0,
         check_owner},
        {"subjects", RPC_ARG_STRV, RPC_ARG_NULLABLE, offsetof(struct submit_args, subjects), 0,
         JOB_SUBJECTS_MAX, JOB_SUBJECT_MAX, check_subjects},
        {"payload", RPC_ARG_MAP, RPC_ARG_NULLABLE, offsetof(struct submit_args, payload), 0, 16, 0, NULL},
};

static int on_submit(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct manager *m = userdata;
        struct submit_args a = {};
        struct job_payload p = {};
        struct caller c;
        struct rpc_error e;
        int64_t id = 0;
        int kind, r;

        r = rpc_args_parse(params, submit_args, ELEMENTSOF(submit_args), &a, &e);
        if (r < 0)
                return fail_with(call, &e);
        caller_of(call, &c);
        if (!caller_may_act_as(&c, a.owner)) {
                r = refuse_owner(call, &c, "submit jobs", a.owner);
                rpc_args_free(submit_args, ELEMENTSOF(submit_args), &a);
                return r;
        }
        log_info("Job submission of kind %s for '%s' by uid %u (pid %d)", a.kind, a.owner, (unsigned) c.uid,
                 (int) c.pid);
        kind = job_kind_from_string(a.kind);
        r = job_payload_parse(kind, a.payload, &p, &e);
        /* The web UI's instance names are its own: an operator cannot start, stop or delete a
         * server of a web user by naming it (webd decides which of its users may). */
        if (r >= 0 && p.server && name_is_web(p.server) && c.kind != RPC_CALLER_ROOT &&
            c.kind != RPC_CALLER_WEBD)
                r = rpc_error_set(&e, RPC_DENIED, "instance '%s' belongs to the web UI: act on it there",
                                  p.server);
        /* Its overlays likewise: an operator cannot rebuild or delete what a web user built. */
        if (r >= 0 && p.overlay && name_is_web(p.overlay) && c.kind != RPC_CALLER_ROOT &&
            c.kind != RPC_CALLER_WEBD)
                r = rpc_error_set(&e, RPC_DENIED, "overlay '%s' belongs to the web UI: act on it there",
                                  p.overlay);
        if (r >= 0)
                r = manager_submit(m, call, kind, a.owner,
                                   &(struct job_submitter){.uid = c.uid, .pid = c.pid}, a.subjects, &p, &id,
                                   &e);
        job_payload_done(&p);
        rpc_args_free(submit_args, ELEMENTSOF(submit_args), &a);
        if (r < 0)
                return fail_with(call, &e);
        if (r > 0) /* coalesced into a job that is already stored */
                return reply_job(call, m, id, true, true);
        return 0; /* deferred: on_submitted answers after the group commit */
}

/* The group commit's answer to one submission (manager_submitted_t). */
static void on_submitted(struct manager *m, struct rpc_call *call, int64_t id, bool coalesced,
                         const struct job_record *rec, const struct rpc_error *e) {
        if (e)
                (void) fail_with(call, e);
        else if (rec)
                (void) reply_record(call, rec, true, coalesced);
        else
                (void) reply_job(call, m, id, true, coalesced);
}

/* ---- jobs.get / jobs.cancel -------------------------------------------------------------- */

struct id_args {
        int64_t id;
        int64_t after_seq;
        int64_t limit;
};

static const struct rpc_arg id_args[] = {
        {"id", RPC_ARG_INT, RPC_ARG_REQUIRED, offsetof(struct id_args, id), 1, INT64_MAX, 0, NULL},
};

static int on_get(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct id_args a = {};
        struct rpc_error e;

        if (rpc_args_parse(params, id_args, ELEMENTSOF(id_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (check_job_access(call, userdata, a.id) < 0)
                return 0;
        return reply_job(call, userdata, a.id, false, false);
}

static int on_cancel(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct id_args a = {};
        struct rpc_error e;

        if (rpc_args_parse(params, id_args, ELEMENTSOF(id_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (check_job_access(call, userdata, a.id) < 0)
                return 0;
        if (manager_cancel(userdata, a.id, &e) < 0)
                return fail_with(call, &e);
        return reply_job(call, userdata, a.id, false, false);
}

/* ---- jobs.list --------------------------------------------------------------------------- */

struct list_args {
        char *owner, *subject, *state, *kind;
        int64_t limit, before_id;
};

static const struct rpc_arg list_args[] = {
        {"owner", RPC_ARG_STR, RPC_ARG_NULLABLE, offsetof(struct list_args, owner), 1, JOB_OWNER_MAX, 0,
         check_owner},
        {"subject", RPC_ARG_STR, RPC_ARG_NULLABLE, offsetof(struct list_args, subject), 1, JOB_SUBJECT_MAX,
         0, check_subject},
        {"state", RPC_ARG_STR, RPC_ARG_NULLABLE, offsetof(struct list_args, state), 1, 16, 0, check_state},
        {"kind", RPC_ARG_STR, RPC_ARG_NULLABLE, offsetof(struct list_args, kind), 1, 32, 0, check_kind},
        {"limit", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct list_args, limit), 1, LIST_LIMIT_MAX, 0,
         NULL},
        {"before_id", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct list_args, before_id), 1, INT64_MAX, 0,
         NULL},
};

struct list_ctx {
        struct job_record *recs;
        size_t n;
};

static int list_collect(const struct job_record *j, void *userdata) {
        struct list_ctx *c = userdata;
        /* Steal the record's allocations (it is freed after we return). */
        c->recs[c->n++] = *j;
        *(struct job_record *) j = (struct job_record){};
        return 0;
}

static int on_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct manager *m = userdata;
        struct list_args a = {.limit = LIST_LIMIT_DEF};
        struct list_ctx c = {};
        struct caller caller;
        struct job_filter f;
        struct rpc_error e;
        msgpack_packer *pk;
        int r;

        if (rpc_args_parse(params, list_args, ELEMENTSOF(list_args), &a, &e) < 0)
                return fail_with(call, &e);
        caller_of(call, &caller);
        if (a.owner && !caller_may_see(&caller, a.owner)) {
                r = refuse_owner(call, &caller, "list jobs", a.owner);
                rpc_args_free(list_args, ELEMENTSOF(list_args), &a);
                return r;
        }
        f = (struct job_filter){
                /* An operator lists its own jobs, whatever it asked. */
                .owner = caller.kind == RPC_CALLER_OPERATOR ? caller.owner : a.owner,
                .subject = a.subject,
                .state = a.state ? job_state_from_string(a.state) : -1,
                .kind = a.kind ? job_kind_from_string(a.kind) : -1,
                .before_id = a.before_id,
                .limit = (unsigned) a.limit,
        };
        c.recs = calloc((size_t) a.limit, sizeof(*c.recs));
        r = c.recs ? jobd_db_list(manager_db(m), &f, list_collect, &c) : -ENOMEM;
        rpc_args_free(list_args, ELEMENTSOF(list_args), &a);
        if (r < 0) {
                for (size_t i = 0; i < c.n; i++)
                        job_record_done(&c.recs[i]);
                free(c.recs);
                return rpc_call_fail(call, RPC_INTERNAL, "cannot list jobs: %s", strerror(-r));
        }
        pk = rpc_call_result(call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_key(mpk, "jobs");
        msgpack_pack_array(mpk, c.n);
        for (size_t i = 0; i < c.n; i++)
                manager_pack_job(mpk, &c.recs[i], false);
        if (c.n == (size_t) f.limit && c.n > 0)
                rpc_pack_kv_int(mpk, "next_before_id", c.recs[c.n - 1].id);
        else
                rpc_pack_kv_nil(mpk, "next_before_id");
        (void) rpc_map_end(&map);
        for (size_t i = 0; i < c.n; i++)
                job_record_done(&c.recs[i]);
        free(c.recs);
        return rpc_call_reply(call);
}

/* ---- jobs.log ---------------------------------------------------------------------------- */

static const struct rpc_arg log_args[] = {
        {"id", RPC_ARG_INT, RPC_ARG_REQUIRED, offsetof(struct id_args, id), 1, INT64_MAX, 0, NULL},
        {"after_seq", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct id_args, after_seq), 0, INT64_MAX, 0,
         NULL},
        {"limit", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct id_args, limit), 1, LOG_LIMIT_MAX, 0, NULL},
};

struct log_ctx {
        struct rpc_buf lines;
        size_t n;
        int64_t last_seq;
};

static int log_collect(const struct job_line *l, void *userdata) {
        struct log_ctx *c = userdata;

        if (c->lines.len > LOG_REPLY_BYTES)
                return -ENOBUFS; /* the client pages on with next_seq */
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, &c->lines.pk);
        rpc_pack_kv_int(mpk, "seq", l->seq);
        rpc_pack_kv_str(mpk, "stream", l->stream);
        rpc_pack_kv_str(mpk, "line", l->text);
        rpc_pack_kv_uint(mpk, "usec", l->usec);
        (void) rpc_map_end(&map);
        c->n++;
        c->last_seq = l->seq;
        return 0;
}

static int on_log(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct manager *m = userdata;
        struct id_args a = {.limit = LOG_LIMIT_DEF};
        struct log_ctx c = {};
        struct job_record rec;
        struct rpc_error e;
        msgpack_packer *pk;
        int r;

        if (rpc_args_parse(params, log_args, ELEMENTSOF(log_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (check_job_access(call, m, a.id) < 0)
                return 0;
        /* Read the state first: if it is terminal, every line is already stored. */
        r = jobd_db_get(manager_db(m), a.id, &rec);
        if (r == -ENOENT)
                return rpc_call_fail(call, RPC_NOT_FOUND, "job %lld: no such job", (long long) a.id);
        if (r < 0)
                return rpc_call_fail(call, RPC_INTERNAL, "job %lld: cannot read: %s", (long long) a.id,
                                     strerror(-r));
        rpc_buf_init(&c.lines, 0);
        c.last_seq = a.after_seq;
        r = jobd_db_lines(manager_db(m), a.id, a.after_seq, (unsigned) a.limit, log_collect, &c);
        if ((r < 0 && r != -ENOBUFS) || !rpc_buf_ok(&c.lines)) {
                rpc_buf_done(&c.lines);
                job_record_done(&rec);
                return rpc_call_fail(call, RPC_INTERNAL, "cannot read the log: %s",
                                     strerror(r < 0 ? -r : ENOMEM));
        }
        pk = rpc_call_result(call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_key(mpk, "lines");
        msgpack_pack_array(mpk, c.n);
        (void) msgpack_pack_str_body(mpk, c.lines.data, c.lines.len); /* the packed maps, verbatim */
        rpc_pack_kv_int(mpk, "next_seq", c.last_seq);
        rpc_pack_kv_str(mpk, "state", job_state_to_string(rec.state));
        rpc_pack_kv_bool(mpk, "done", job_state_is_terminal(rec.state) && c.last_seq >= rec.last_seq);
        (void) rpc_map_end(&map);
        rpc_buf_done(&c.lines);
        job_record_done(&rec);
        return rpc_call_reply(call);
}

/* ---- jobs.watch -------------------------------------------------------------------------- */

static const struct rpc_arg watch_args[] = {
        {"id", RPC_ARG_INT, RPC_ARG_REQUIRED, offsetof(struct id_args, id), 1, INT64_MAX, 0, NULL},
        {"after_seq", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct id_args, after_seq), 0, INT64_MAX, 0,
         NULL},
};

static int on_watch(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct id_args a = {};
        struct rpc_error e;

        if (rpc_args_parse(params, watch_args, ELEMENTSOF(watch_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (check_job_access(call, userdata, a.id) < 0)
                return 0;
        if (manager_watch(userdata, call, a.id, a.after_seq, &e) < 0)
                return fail_with(call, &e);
        return 0;
}

/* ---- the daemon -------------------------------------------------------------------------- */

/* Operators and webd (for its users) use the queue; logd only looks up a job's units. What
 * each may see of it is the owner rules above. */
#define JOBS_USERS (RPC_MAY_ADMIN | RPC_MAY(RPC_CALLER_WEBD))

static const struct rpc_method methods[] = {
        {"jobs.submit", on_submit, JOBS_USERS}, {"jobs.get", on_get, JOBS_USERS | RPC_MAY(RPC_CALLER_LOGD)},
        {"jobs.list", on_list, JOBS_USERS},     {"jobs.log", on_log, JOBS_USERS},
        {"jobs.watch", on_watch, JOBS_USERS},   {"jobs.cancel", on_cancel, JOBS_USERS},
};

static int setup(struct daemon *d, void **ret_userdata) {
        const struct l4m_config *cfg = daemon_config(d);
        char host[512], db[1024], err[1200];
        struct manager *m;
        int r;

        r = config_socket_path(cfg, "host", host, sizeof(host));
        if (r < 0)
                return log_error_errno(r, "Failed to build the host socket path: %m");
        if ((size_t) snprintf(db, sizeof(db), "%s/" JOBS_DB_PATH, cfg->root) >= sizeof(db))
                return log_error_errno(-ENAMETOOLONG, "paths.root is too long");
        r = db_dir_prepare(db, err, sizeof(err));
        if (r < 0)
                return log_error_errno(r, "The job database's directory is not safe: %s", err);
        r = manager_new(
                &(struct manager_config){
                        .event = daemon_event(d),
                        .server = daemon_server(d),
                        .db_path = db,
                        .host_socket = host,
                        .workers = cfg->job_workers,
                        .max_message_bytes = cfg->max_message_bytes,
                        .on_submitted = on_submitted,
                },
                &m);
        if (r < 0)
                return r;
        log_info("Job database '%s', %u worker(s), host service at '%s'.", db, MAX(cfg->job_workers, 1u),
                 host);
        *ret_userdata = m;
        return 0;
}

static void teardown(struct daemon *d, void *userdata) {
        manager_free(userdata);
}

static void health(struct daemon *d, void *userdata, msgpack_packer *pk) {
        struct manager *m = userdata;
        unsigned queued = 0, running = 0;

        if (m)
                manager_counts(m, &queued, &running);
        rpc_pack_kv_uint(pk, "queued", queued);
        rpc_pack_kv_uint(pk, "running", running);
        rpc_pack_kv_uint(pk, "workers", MAX(daemon_config(d)->job_workers, 1u));
}

static const struct daemon_def def = {
        .name = "left4me-jobd",
        .service = "jobs",
        .description = "The durable job queue and executor of left4me.",
        .methods = methods,
        .n_methods = ELEMENTSOF(methods),
        .setup = setup,
        .teardown = teardown,
        .health = health,
};

int main(int argc, char **argv) {
        return daemon_main(argc, argv, &def) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
