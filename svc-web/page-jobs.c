/* Jobs in the browser: a job's page with its live log, its event stream, cancel, the admin's
 * list of all jobs and the game install; and what the fleet pages share (page-fleet.h).
 *
 * jobd is the truth for jobs: nothing about them is copied into web.db but the id of a
 * server's last job. Who may see a job: the user it was made for ("web:<id>"), or an admin;
 * jobs without such an owner (the CLI's, the system's) show to admins only, as "system". */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"
#include "proto/names.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-jobwatch.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-spec.h"
#include "svc-web/webd-sse.h"

/* ---- shared ----------------------------------------------------------------------------------- */

int64_t page_path_id(const char *path, const char *prefix, const char **ret_rest) {
        const char *p;
        int64_t id = 0;
        size_t n = 0;

        if (strncmp(path, prefix, strlen(prefix)) != 0)
                return 0;
        p = path + strlen(prefix);
        if (*p < '1' || *p > '9')
                return 0;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
                if (n >= 18)
                        return 0;
                id = id * 10 + (*p - '0');
        }
        if (*p && *p != '/')
                return 0;
        if (ret_rest)
                *ret_rest = p;
        return id;
}

bool page_may_see(const struct webd_rq *rq, int64_t owner_id) {
        return rq->authed && (rq->user.id == owner_id || rq->user.is_admin);
}

void page_job_owner(int64_t user_id, char buf[PAGE_JOB_OWNER_MAX]) {
        snprintf(buf, PAGE_JOB_OWNER_MAX, "web:%" PRId64, user_id);
}

int64_t page_job_owner_id(const char *owner) {
        int64_t id = 0;

        if (!owner || strncmp(owner, "web:", 4) != 0 || owner[4] < '1' || owner[4] > '9' ||
            strlen(owner) > 22)
                return 0;
        for (const char *p = owner + 4; *p; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                id = id * 10 + (*p - '0');
        }
        return id;
}

void page_state_badge(struct html *h, const char *state, const char *text) {
        char klass[64];

        snprintf(klass, sizeof(klass), "state %s", state && *state ? state : "unknown");
        html_elem(h, "span");
        html_attr(h, "class", klass);
        html_text(h, text ?: state);
        html_close(h, "span");
}

bool page_job_done(const char *state) {
        return streq(state, "succeeded") || streq(state, "failed") || streq(state, "cancelled");
}

int page_submit_job(struct webd_rq *rq, const char *kind, int64_t owner_id, const char *extra_subject,
                    const struct rpc_buf *payload, webd_rq_reply_fn fn, void *arg) {
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
        char owner[PAGE_JOB_OWNER_MAX], user[40];
        int r;

        rpc_buf_init(&b, 2u * 1024u * 1024u);
        page_job_owner(owner_id, owner);
        snprintf(user, sizeof(user), "user:%" PRId64, owner_id);
        pk = rpc_params_begin(&m, &b.pk);
        rpc_pack_kv_str(pk, "kind", kind);
        rpc_pack_kv_str(pk, "owner", owner);
        rpc_pack_key(pk, "subjects");
        msgpack_pack_array(pk, extra_subject ? 2 : 1);
        rpc_pack_str(pk, user);
        if (extra_subject)
                rpc_pack_str(pk, extra_subject);
        if (payload) {
                rpc_pack_key(pk, "payload");
                /* Already packed: its bytes are one complete object. */
                (void) pk->callback(pk->data, payload->data, payload->len);
        }
        r = rpc_map_end(&m);
        if (r >= 0 && !rpc_buf_ok(&b))
                r = -ENOBUFS;
        if (r >= 0)
                r = webd_rq_call(rq, WEBD_PEER_JOBS, "jobs.submit", &b, fn, arg);
        rpc_buf_done(&b);
        return r;
}

/* ---- reading a job ---------------------------------------------------------------------------- */

const msgpack_object *page_reply_job(const struct rpc_core_reply *r) {
        const msgpack_object *j = r->failed ? NULL : obj_get(r->result, "job");
        return j && j->type == MSGPACK_OBJECT_MAP ? j : NULL;
}

struct with_job {
        page_job_render_fn fn;
        void *arg;
};

static int with_job_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct with_job *w = arg;
        return w->fn(rq, w->arg, page_reply_job(r));
}

int page_with_job(struct webd_rq *rq, int64_t job_id, page_job_render_fn fn, void *arg) {
        struct with_job *w;

        if (job_id <= 0)
                return fn(rq, arg, NULL);
        w = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*w));
        *w = (struct with_job){fn, arg};
        if (webd_rq_call_id(rq, WEBD_PEER_JOBS, "jobs.get", job_id, with_job_reply, w) < 0)
                return fn(rq, arg, NULL); /* jobd away: the page without its job */
        return 0;
}

static int64_t job_server_id(struct webd_rq *rq, const msgpack_object *job);

/* Whether rq may see this job: its user, or an admin; through a token limited to some
 * servers, only those servers' jobs. */
bool page_may_see_job(struct webd_rq *rq, const msgpack_object *job) {
        char owner[64];
        int64_t server;

        obj_str(job, "owner", owner, sizeof(owner));
        if (!rq->user.is_admin &&
            !(page_job_owner_id(owner) != 0 && page_job_owner_id(owner) == rq->user.id))
                return false;
        if (!rq->token_name || rq->token.n_servers == 0)
                return true;
        server = job_server_id(rq, job);
        return server && webd_rq_may_server(rq, server);
}

static int get_job(struct webd_rq *rq, int64_t id, webd_rq_reply_fn fn, void *arg) {
        return webd_rq_call_id(rq, WEBD_PEER_JOBS, "jobs.get", id, fn, arg);
}

static const char *job_state_text(const char *state) {
        if (streq(state, "queued"))
                return "queued";
        if (streq(state, "running"))
                return "running";
        if (streq(state, "cancelling"))
                return "cancelling";
        if (streq(state, "succeeded"))
                return "succeeded";
        if (streq(state, "failed"))
                return "failed";
        if (streq(state, "cancelled"))
                return "cancelled";
        return "unknown";
}

/* The subject "server:web-<id>" of a job, as a link target, or 0. */
static int64_t job_server_id(struct webd_rq *rq, const msgpack_object *job) {
        const msgpack_object_array *a = obj_array(job, "subjects");
        char s[80];

        for (uint32_t i = 0; a && i < a->size; i++) {
                const msgpack_object *o = &a->ptr[i];
                size_t n;
                if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= sizeof(s))
                        continue;
                n = o->via.str.size;
                memcpy(s, o->via.str.ptr, n);
                s[n] = 0;
                if (strncmp(s, "server:", 7) == 0 && webd_db_server_id_of(rq->w->db, s + 7))
                        return webd_db_server_id_of(rq->w->db, s + 7);
        }
        return 0;
}

void page_job_sentence(struct html *h, const msgpack_object *job) {
        char kind[32], state[16], href[48], err[256];
        int64_t id = obj_int(job, "id", 0);

        obj_str(job, "kind", kind, sizeof(kind));
        obj_str(job, "state", state, sizeof(state));
        snprintf(href, sizeof(href), "/jobs/%" PRId64, id);
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_textf(h, "%s #%" PRId64, kind, id);
        html_close(h, "a");
        html_text(h, " ");
        html_elem(h, "span");
        html_attr(h, "data-job-state", href);
        page_state_badge(h, state, job_state_text(state));
        html_close(h, "span");
        if (obj_str(job, "error", err, sizeof(err))[0]) {
                html_text(h, ": ");
                html_text(h, err);
        }
}

static int job_page_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object *job = page_reply_job(r);
        char kind[32], state[16], owner[64], err[1024], href[64];
        int64_t id, sid;
        struct html h;

        if (r->failed && r->transport_error == 0 && r->error.code == RPC_NOT_FOUND)
                return webd_rq_error(rq, 404, "Not found", "There is no such job.");
        if (r->failed || !job)
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        if (!page_may_see_job(rq, job))
                return webd_rq_error(rq, 404, "Not found", "There is no such job.");
        id = obj_int(job, "id", 0);
        obj_str(job, "kind", kind, sizeof(kind));
        obj_str(job, "state", state, sizeof(state));
        obj_str(job, "owner", owner, sizeof(owner));
        sid = job_server_id(rq, job);

        html_init(&h, 0);
        page_begin(rq, &h, "Job");
        html_elem(&h, "h1");
        html_textf(&h, "Job #%" PRId64 ": %s ", id, kind);
        html_elem(&h, "span");
        snprintf(href, sizeof(href), "/jobs/%" PRId64, id);
        html_attr(&h, "data-job-state", href);
        page_state_badge(&h, state, job_state_text(state));
        html_close(&h, "span");
        html_close(&h, "h1");
        html_elem(&h, "dl");
        html_attr(&h, "class", "facts");
        page_fact(&h, "For", page_job_owner_id(owner) ? owner : "system");
        if (sid) {
                char link[48];
                snprintf(link, sizeof(link), "/servers/%" PRId64, sid);
                html_elem_text(&h, "dt", "Server");
                html_elem(&h, "dd");
                html_elem(&h, "a");
                html_attr(&h, "href", link);
                html_textf(&h, "server %" PRId64, sid);
                html_close(&h, "a");
                html_close(&h, "dd");
        }
        page_fact_time(&h, "Queued", obj_int(job, "created_usec", 0));
        page_fact_time(&h, "Started", obj_int(job, "started_usec", 0));
        page_fact_time(&h, "Finished", obj_int(job, "finished_usec", 0));
        if (obj_str(job, "error", err, sizeof(err))[0])
                page_fact(&h, "Error", err);
        html_close(&h, "dl");
        if (!page_job_done(state) && !streq(state, "cancelling")) {
                char action[64];
                snprintf(action, sizeof(action), "/jobs/%" PRId64 "/cancel", id);
                page_action(rq, &h, action, "Cancel", "danger", "Cancel this job?");
        }
        html_elem_text(&h, "h2", "Output");
        snprintf(href, sizeof(href), "/jobs/%" PRId64 "/events", id);
        page_log_panel(&h, "job-log", "job-log", href);
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}

static int start_or_unavailable(struct webd_rq *rq, int r, enum webd_peer peer) {
        return r < 0 ? webd_rq_unavailable(rq, peer, r) : 0;
}

/* ---- the job's event stream ------------------------------------------------------------------- */

char *webd_job_line_json(const msgpack_object *p, int64_t *ret_seq, size_t *ret_len) {
        char stream[16];
        const msgpack_object *line = obj_get(p, "line");
        struct json j;
        char *data = NULL;
        int64_t seq = obj_int(p, "seq", 0);

        json_init(&j, 64u * 1024u);
        json_object_begin(&j);
        json_kv_int(&j, "seq", seq);
        json_kv_str(&j, "stream", obj_str(p, "stream", stream, sizeof(stream)));
        json_key(&j, "line");
        if (line && line->type == MSGPACK_OBJECT_STR)
                json_strn(&j, line->via.str.ptr, line->via.str.size);
        else
                json_str(&j, "");
        json_object_end(&j);
        if (json_ok(&j))
                data = json_steal(&j, ret_len);
        json_done(&j);
        *ret_seq = seq;
        return data;
}

char *webd_job_state_json(const msgpack_object *p, size_t *ret_len) {
        char state[16], err[1024];
        struct json j;
        char *data = NULL;

        json_init(&j, 16u * 1024u);
        json_object_begin(&j);
        json_kv_str(&j, "state", obj_str(p, "state", state, sizeof(state)));
        json_kv_str(&j, "text", job_state_text(state));
        json_kv_int(&j, "exit_code", obj_int(p, "exit_code", -1));
        json_kv_str(&j, "error", obj_str(p, "error", err, sizeof(err)));
        json_object_end(&j);
        if (json_ok(&j))
                data = json_steal(&j, ret_len);
        json_done(&j);
        return data;
}

static void watch_line(struct sse_stream *s, const msgpack_object *p) {
        size_t len = 0;
        int64_t seq = 0;
        _cleanup_free_ char *data = webd_job_line_json(p, &seq, &len);
        char id[24];

        snprintf(id, sizeof(id), "%" PRId64, seq);
        if (data)
                (void) sse_stream_send(s, id, "line", data, len);
}

static void watch_state(struct sse_stream *s, const msgpack_object *p, const char *event) {
        size_t len = 0;
        _cleanup_free_ char *data = webd_job_state_json(p, &len);

        if (data)
                (void) sse_stream_send(s, NULL, event, data, len);
}

/* A follower's own jobs.watch (when the shared one cannot take it: webd-jobwatch.h). It
 * lives in the request's pool; the client leaving cancels the call. */
struct own_watch {
        struct webd_call *call; /* NULL once answered */
        struct sse_stream *s;
};

static void own_watch_dispose(void *p) {
        struct own_watch *o = p;

        if (o->call)
                webd_call_cancel(o->call);
}

static void own_watch_notify(struct webd_call *c, const msgpack_object *payload, void *userdata) {
        struct own_watch *o = userdata;

        if (obj_str_is(payload, "type", "line"))
                watch_line(o->s, payload);
        else if (obj_str_is(payload, "type", "state"))
                watch_state(o->s, payload, "state");
}

/* The watch ends when the job has (the final {job}), or when jobd went away: then the
 * stream ends without "end" and the browser reconnects with Last-Event-ID by itself. */
static void own_watch_reply(struct webd_call *c, const struct rpc_core_reply *r, void *userdata) {
        struct own_watch *o = userdata;
        const msgpack_object *job = page_reply_job(r);

        o->call = NULL;
        if (!job) {
                webd_sse_end_unavailable(o->s, WEBD_PEER_JOBS);
                return;
        }
        watch_state(o->s, job, "end");
        sse_stream_close(o->s);
}

/* jobd is away: a stream that says so and ends, so the browser's EventSource tries again by
 * itself (an error status would make it give up for good). Nothing of the job is told. */
static int stream_unavailable(struct webd_rq *rq) {
        struct sse_stream *s;

        if (webd_rq_sse_start(rq, "job", &s) == 0)
                webd_sse_end_unavailable(s, WEBD_PEER_JOBS);
        return 0;
}

/* After jobs.get said the job exists and may be seen: the stream, then jobs.watch. */
static int events_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object *job = page_reply_job(r);
        struct own_watch *o;
        struct sse_stream *s;
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
        int64_t after = (int64_t) (intptr_t) arg;
        int rr;

        if (r->failed && r->transport_error == 0 && r->error.code == RPC_NOT_FOUND)
                return webd_send_error(rq->req, 404, "Not Found", "not_found", "no such job");
        if (r->failed || !job)
                return stream_unavailable(rq);
        if (!page_may_see_job(rq, job))
                return webd_send_error(rq->req, 404, "Not Found", "not_found", "no such job");
        if (webd_rq_sse_start(rq, "job", &s) != 0)
                return 0;
        /* One watch per job, shared by its followers; a watch of its own only if that fails. */
        rr = webd_jobwatch_follow(rq, s, obj_int(job, "id", 0), after);
        if (rr != 0) {
                if (rr < 0)
                        sse_stream_close(s);
                return 0;
        }
        o = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*o), own_watch_dispose);
        *o = (struct own_watch){.s = s};
        rpc_buf_init(&b, 0);
        pk = rpc_params_begin(&m, &b.pk);
        rpc_pack_kv_int(pk, "id", obj_int(job, "id", 0));
        rpc_pack_kv_int(pk, "after_seq", after);
        rr = rpc_map_end(&m);
        if (rr >= 0)
                rr = webd_call(rq->w->backends, WEBD_PEER_JOBS, "jobs.watch", &b, 0, own_watch_notify,
                               own_watch_reply, o, &o->call);
        rpc_buf_done(&b);
        if (rr < 0) {
                o->call = NULL;
                webd_sse_end_unavailable(s, WEBD_PEER_JOBS);
        }
        return 0;
}

/* The resume point: Last-Event-ID (a reconnecting EventSource), else ?after= (a page that
 * reopens its stream itself, as a hidden tab's does when it is shown again). */
static int64_t resume_seq(struct webd_rq *rq) {
        const char *v = webd_rq_header_str(rq, "last-event-id", NULL);
        struct form q = {};
        long long n = 0;

        if (v && safe_atoi64(v, 0, INT64_MAX, &n) >= 0)
                return n;
        if (*rq->query && form_parse_query(&q, rq->query, strlen(rq->query), NULL) >= 0) {
                const char *a = form_get(&q, "after");
                if (a && safe_atoi64(a, 0, INT64_MAX, &n) < 0)
                        n = 0;
                form_done(&q);
        }
        return n;
}

int page_job_events(struct webd_rq *rq, int64_t job_id) {
        int r = get_job(rq, job_id, events_reply, (void *) (intptr_t) resume_seq(rq));
        return r < 0 ? stream_unavailable(rq) : 0;
}

/* ---- routes ----------------------------------------------------------------------------------- */

/* GET /jobs/<id>, GET /jobs/<id>/events */
static int route_job_get(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, "/jobs/", &rest);

        if (!id)
                return webd_rq_error(rq, 404, "Not found", "There is no such job.");
        if (!*rest)
                return start_or_unavailable(rq, get_job(rq, id, job_page_reply, NULL), WEBD_PEER_JOBS);
        if (streq(rest, "/events"))
                return page_job_events(rq, id);
        return webd_rq_error(rq, 404, "Not found", "There is no such page.");
}

static int cancel_done(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        int64_t id = (int64_t) (intptr_t) arg;
        char object[32], to[64];

        snprintf(object, sizeof(object), "job:%" PRId64, id);
        if (r->failed && r->transport_error == 0 && r->error.code == RPC_CONFLICT) {
                webd_rq_audit(rq, NULL, "job.cancel", object, "failed", "already ended");
                snprintf(to, sizeof(to), "/jobs/%" PRId64 "?m=job-ended", id);
                return webd_rq_redirect(rq, to);
        }
        if (r->failed) {
                webd_rq_audit(rq, NULL, "job.cancel", object, "failed", r->error.message);
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        }
        webd_rq_audit(rq, NULL, "job.cancel", object, "ok", NULL);
        snprintf(to, sizeof(to), "/jobs/%" PRId64 "?m=job-cancelled", id);
        return webd_rq_redirect(rq, to);
}

/* The job exists and rq may cancel it (the same rule as seeing it). */
static int cancel_checked(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object *job = page_reply_job(r);
        int rr;

        if (r->failed && r->transport_error == 0 && r->error.code == RPC_NOT_FOUND)
                return webd_rq_error(rq, 404, "Not found", "There is no such job.");
        if (r->failed || !job)
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        if (!page_may_see_job(rq, job))
                return webd_rq_error(rq, 404, "Not found", "There is no such job.");
        rr = webd_rq_call_id(rq, WEBD_PEER_JOBS, "jobs.cancel", obj_int(job, "id", 0), cancel_done, arg);
        return start_or_unavailable(rq, rr, WEBD_PEER_JOBS);
}

/* POST /jobs/<id>/cancel */
static int route_job_post(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, "/jobs/", &rest);

        if (!id || !streq(rest, "/cancel"))
                return webd_rq_error(rq, 404, "Not found", "There is no such job.");
        return start_or_unavailable(rq, get_job(rq, id, cancel_checked, (void *) (intptr_t) id),
                                    WEBD_PEER_JOBS);
}

/* ---- job lists -------------------------------------------------------------------------------- */

/* One table row per job. */
static void job_row(struct webd_rq *rq, struct html *h, const msgpack_object *job, bool with_owner) {
        char kind[32], state[16], owner[64], href[48];
        int64_t id = obj_int(job, "id", 0), sid = job_server_id(rq, job);

        obj_str(job, "kind", kind, sizeof(kind));
        obj_str(job, "state", state, sizeof(state));
        obj_str(job, "owner", owner, sizeof(owner));
        html_elem(h, "tr");
        html_elem(h, "td");
        snprintf(href, sizeof(href), "/jobs/%" PRId64, id);
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_textf(h, "#%" PRId64, id);
        html_close(h, "a");
        html_close(h, "td");
        html_elem_text(h, "td", kind);
        html_elem(h, "td");
        page_state_badge(h, state, job_state_text(state));
        html_close(h, "td");
        if (with_owner)
                html_elem_text(h, "td", page_job_owner_id(owner) ? owner : "system");
        html_elem(h, "td");
        if (sid) {
                snprintf(href, sizeof(href), "/servers/%" PRId64, sid);
                html_elem(h, "a");
                html_attr(h, "href", href);
                html_textf(h, "server %" PRId64, sid);
                html_close(h, "a");
        }
        html_close(h, "td");
        html_elem(h, "td");
        page_time(h, obj_int(job, "created_usec", 0));
        html_close(h, "td");
        html_close(h, "tr");
}

struct list_args {
        char title[160];
        char base[256]; /* the page's path and filters, for the "older" link */
        char back[64];  /* a link back (the server), or "" */
        bool with_owner;
};

static int list_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct list_args *a = arg;
        const msgpack_object_array *jobs = r->failed ? NULL : obj_array(r->result, "jobs");
        int64_t next = r->failed ? 0 : obj_int(r->result, "next_before_id", 0);
        struct html h;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        html_init(&h, 0);
        page_begin(rq, &h, a->title);
        html_elem_text(&h, "h1", a->title);
        if (*a->back) {
                html_elem(&h, "p");
                html_elem(&h, "a");
                html_attr(&h, "href", a->back);
                html_text(&h, "Back to the server");
                html_close(&h, "a");
                html_close(&h, "p");
        }
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "jobs");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Job");
        html_elem_text(&h, "th", "Kind");
        html_elem_text(&h, "th", "State");
        if (a->with_owner)
                html_elem_text(&h, "th", "For");
        html_elem_text(&h, "th", "Server");
        html_elem_text(&h, "th", "Queued");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        for (uint32_t i = 0; jobs && i < jobs->size; i++)
                job_row(rq, &h, &jobs->ptr[i], a->with_owner);
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (!jobs || jobs->size == 0)
                html_elem_text(&h, "p", "No jobs.");
        if (next > 0) {
                char more[320];
                snprintf(more, sizeof(more), "%s%sbefore=%" PRId64, a->base,
                         strchr(a->base, '?') ? "&" : "?", next);
                html_elem(&h, "p");
                html_elem(&h, "a");
                html_attr(&h, "href", more);
                html_attr(&h, "rel", "next");
                html_text(&h, "Older jobs");
                html_close(&h, "a");
                html_close(&h, "p");
        }
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}

static const char *const job_states[] = {"queued",    "running", "cancelling",
                                         "succeeded", "failed",  "cancelled"};
static const char *const job_kinds[] = {"install",      "server.start",  "server.stop",
                                        "server.reset", "server.delete", "overlay.build"};

static bool one_of(const char *v, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(v, list[i]))
                        return true;
        return false;
}

int page_job_list(struct webd_rq *rq, const char *owner, const char *subject, const char *back) {
        struct list_args *a = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*a));
        struct form q = {};
        const char *state = NULL, *kind = NULL, *v;
        long long before = 0;
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
        int r;

        *a = (struct list_args){.with_owner = !owner};
        snprintf(a->back, sizeof(a->back), "%s", back ?: "");
        if (*rq->query && form_parse_query(&q, rq->query, strlen(rq->query), NULL) < 0)
                return webd_rq_error(rq, 400, "Bad query", form_err_to_string(q.err));
        if ((v = form_get(&q, "state")) && *v) {
                if (!one_of(v, job_states, ELEMENTSOF(job_states))) {
                        form_done(&q);
                        return webd_rq_error(rq, 400, "Bad query", "Unknown job state.");
                }
                state = v;
        }
        if ((v = form_get(&q, "kind")) && *v) {
                if (!one_of(v, job_kinds, ELEMENTSOF(job_kinds))) {
                        form_done(&q);
                        return webd_rq_error(rq, 400, "Bad query", "Unknown job kind.");
                }
                kind = v;
        }
        if ((v = form_get(&q, "before")) && *v && safe_atoi64(v, 1, INT64_MAX, &before) < 0) {
                form_done(&q);
                return webd_rq_error(rq, 400, "Bad query", "before must be a job id.");
        }
        if (!owner && (v = form_get(&q, "owner")) && *v) {
                if (strlen(v) > 64 || strchr(v, '&')) {
                        form_done(&q);
                        return webd_rq_error(rq, 400, "Bad query", "Unknown owner.");
                }
                owner = h2o_strdup(&rq->req->pool, v, SIZE_MAX).base;
        }
        snprintf(a->title, sizeof(a->title), "%s", subject ? "Server jobs" : "All jobs");
        snprintf(a->base, sizeof(a->base), "%s?state=%s&kind=%s", rq->path, state ?: "", kind ?: "");
        rpc_buf_init(&b, 0);
        pk = rpc_params_begin(&m, &b.pk);
        if (owner)
                rpc_pack_kv_str(pk, "owner", owner);
        if (subject)
                rpc_pack_kv_str(pk, "subject", subject);
        if (state)
                rpc_pack_kv_str(pk, "state", state);
        if (kind)
                rpc_pack_kv_str(pk, "kind", kind);
        if (before)
                rpc_pack_kv_int(pk, "before_id", before);
        rpc_pack_kv_int(pk, "limit", 50);
        r = rpc_map_end(&m);
        form_done(&q);
        if (r >= 0)
                r = webd_rq_call(rq, WEBD_PEER_JOBS, "jobs.list", &b, list_reply, a);
        rpc_buf_done(&b);
        return start_or_unavailable(rq, r, WEBD_PEER_JOBS);
}

/* GET /admin/jobs */
static int route_admin_jobs(struct webd_rq *rq) {
        return page_job_list(rq, NULL, NULL, NULL);
}

/* ---- the admin page: install the game ---------------------------------------------------------- */

static int install_done(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object *job = page_reply_job(r);
        char to[64];

        if (r->failed || !job) {
                webd_rq_audit(rq, NULL, "game.install", "game", "failed", r->error.message);
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        }
        webd_rq_audit(rq, NULL, "game.install", "game", "ok",
                      obj_bool(r->result, "coalesced", false) ? "coalesced" : NULL);
        snprintf(to, sizeof(to), "/jobs/%" PRId64, obj_int(job, "id", 0));
        return webd_rq_redirect(rq, to);
}

/* POST /admin/install */
static int route_admin_install(struct webd_rq *rq) {
        return start_or_unavailable(
                rq, page_submit_job(rq, "install", rq->user.id, NULL, NULL, install_done, NULL),
                WEBD_PEER_JOBS);
}

/* GET /admin, after instance.list: the install, and the host's instances web.db does not
 * know (made with l4d2ctl, like the `make run` demo). */
static int admin_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object_array *list = NULL;
        struct html h;
        unsigned n = 0;

        if (!r->failed && r->result && r->result->type == MSGPACK_OBJECT_ARRAY)
                list = &r->result->via.array;
        html_init(&h, 0);
        page_begin(rq, &h, "Admin");
        html_elem_text(&h, "h1", "Admin");
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "The game");
        html_elem_text(&h, "p",
                       "Installs Left 4 Dead 2 with steamcmd, or updates it. Servers wait while it runs.");
        page_action(rq, &h, "/admin/install", "Install or update the game", "primary", NULL);
        html_elem(&h, "p");
        html_elem(&h, "a");
        html_attr(&h, "href", "/admin/jobs?kind=install");
        html_text(&h, "Earlier installs");
        html_close(&h, "a");
        html_close(&h, "p");
        html_close(&h, "section");

        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Unmanaged instances");
        if (!list)
                page_alert(&h, "warning",
                           "The host service is unavailable: its instances cannot be listed now.");
        html_elem(&h, "ul");
        html_attr(&h, "id", "unmanaged");
        for (uint32_t i = 0; list && i < list->size; i++) {
                char name[64], state[16];
                struct webd_server s = {};
                int64_t sid;
                obj_str(&list->ptr[i], "name", name, sizeof(name));
                sid = webd_db_server_id_of(rq->w->db, name);
                if (sid && webd_db_server_get(rq->w->db, sid, &s) >= 0) {
                        webd_server_done(&s);
                        continue;
                }
                n++;
                html_elem(&h, "li");
                html_elem_text(&h, "code", name);
                html_text(&h, " ");
                page_state_badge(&h, obj_str(&list->ptr[i], "state", state, sizeof(state)), NULL);
                html_textf(&h, " port %" PRId64, obj_int(&list->ptr[i], "port", 0));
                if (server_name_is_valid(name)) {
                        char action[128], confirm[160];
                        snprintf(action, sizeof(action), "/admin/instances/%s/delete", name);
                        snprintf(confirm, sizeof(confirm),
                                 "Stop %s and remove its files from the host for good?", name);
                        page_action(rq, &h, action, "Remove", "danger", confirm);
                        page_adopt_form(rq, &h, name);
                }
                html_close(&h, "li");
        }
        html_close(&h, "ul");
        if (list && n == 0)
                html_elem_text(&h, "p", "None: every instance on the host belongs to a server here.");
        else if (n > 0)
                html_elem_text(&h, "p",
                               "These were made with l4d2ctl: manage them there, remove them here (a "
                               "server.delete job), or adopt one: it becomes a server of the blueprint's "
                               "owner, keeps its name and port, and its next start uses the blueprint.");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}

static int remove_done(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const char *name = arg;
        const msgpack_object *job = page_reply_job(r);
        char object[80], to[64];

        snprintf(object, sizeof(object), "instance:%s", name);
        if (r->failed || !job) {
                webd_rq_audit(rq, NULL, "instance.remove", object, "failed", r->error.message);
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        }
        webd_rq_audit(rq, NULL, "instance.remove", object, "ok", NULL);
        snprintf(to, sizeof(to), "/jobs/%" PRId64, obj_int(job, "id", 0));
        return webd_rq_redirect(rq, to);
}

/* POST /admin/instances/<name>/delete: an instance web.db does not know (made with l4d2ctl),
 * removed by a server.delete job. A web server's own instance is deleted from its page. */
static int route_admin_instance(struct webd_rq *rq) {
        const char *rest = rq->path + STRLEN("/admin/instances/");
        size_t n = strcspn(rest, "/");
        char name[SERVER_NAME_LEN_MAX + 2];
        struct webd_server s = {};
        int64_t sid;
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
        int r;

        if (n == 0 || n > SERVER_NAME_LEN_MAX || (!streq(rest + n, "/delete") && !streq(rest + n, "/adopt")))
                return webd_rq_error(rq, 404, "Not found", "There is no such instance.");
        memcpy(name, rest, n);
        name[n] = 0;
        if (!server_name_is_valid(name))
                return webd_rq_error(rq, 404, "Not found", "There is no such instance.");
        if (streq(rest + n, "/adopt"))
                return page_server_adopt(rq, name);
        sid = webd_db_server_id_of(rq->w->db, name);
        if (sid && webd_db_server_get(rq->w->db, sid, &s) >= 0) {
                webd_server_done(&s);
                return webd_rq_error(
                        rq, 409, "A server's instance",
                        "This instance belongs to a server here: delete the server from its page.");
        }
        rpc_buf_init(&b, 0);
        pk = rpc_map_begin(&m, &b.pk);
        rpc_pack_kv_str(pk, "server", name);
        rpc_pack_key(pk, "overlays");
        msgpack_pack_array(pk, 0);
        r = rpc_map_end(&m);
        if (r >= 0)
                r = page_submit_job(rq, "server.delete", rq->user.id, NULL, &b, remove_done,
                                    h2o_strdup(&rq->req->pool, name, SIZE_MAX).base);
        rpc_buf_done(&b);
        return start_or_unavailable(rq, r, WEBD_PEER_JOBS);
}

/* GET /admin */
static int route_admin(struct webd_rq *rq) {
        int r = webd_hostlist_get(rq, false, admin_reply, NULL);
        if (r < 0) {
                struct rpc_core_reply fake = {.transport_error = r, .failed = true, .fd = -1};
                return admin_reply(rq, &fake, NULL);
        }
        return 0;
}

const struct webd_route page_jobs_routes[] = {
        {"GET", "/admin", route_admin, WEBD_R_ADMIN},
        {"GET", "/jobs/", route_job_get, WEBD_R_AUTH},
        {"POST", "/jobs/", route_job_post, WEBD_R_AUTH},
        {"GET", "/admin/jobs", route_admin_jobs, WEBD_R_ADMIN},
        {"POST", "/admin/install", route_admin_install, WEBD_R_ADMIN},
        {"POST", "/admin/instances/", route_admin_instance, WEBD_R_ADMIN},
};
const size_t page_jobs_n_routes = ELEMENTSOF(page_jobs_routes);
