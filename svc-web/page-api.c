/* /api/v1/: the JSON API for scripts, with scoped tokens (docs/api.md).
 *
 * Every route here is WEBD_R_API: the dispatcher has checked the Bearer token, its user, its
 * address allow-list and the route's scope, and audited the call, before the handler runs.
 * A handler then makes the same checks a page makes of the token's user (a token never does
 * more than its user can) and one more: a token limited to some servers sees only those.
 * The server actions are the pages' own (page_server_action), so an action through the API
 * is the same job, the same desired state and the same audit entry as a click. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "proto/map.h"
#include "proto/names.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-request.h"

#define API            "/api/v1"
#define API_JOBS_LIMIT 100

/* ---- JSON helpers ------------------------------------------------------------------------------ */

/* A daemon's msgpack answer as JSON, as it came (maps with string keys, arrays, scalars);
 * deeper than 8 levels, or a binary, is written as null: nothing jobd sends is either. */
static void json_msgpack(struct json *j, const msgpack_object *o, unsigned depth) {
        switch (o ? o->type : MSGPACK_OBJECT_NIL) {
        case MSGPACK_OBJECT_BOOLEAN:
                json_bool(j, o->via.boolean);
                return;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                json_uint(j, o->via.u64);
                return;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                json_int(j, o->via.i64);
                return;
        case MSGPACK_OBJECT_STR:
                json_strn(j, o->via.str.ptr, o->via.str.size);
                return;
        case MSGPACK_OBJECT_ARRAY:
                if (depth >= 8)
                        break;
                json_array_begin(j);
                for (uint32_t i = 0; i < o->via.array.size; i++)
                        json_msgpack(j, &o->via.array.ptr[i], depth + 1);
                json_array_end(j);
                return;
        case MSGPACK_OBJECT_MAP:
                if (depth >= 8)
                        break;
                json_object_begin(j);
                for (uint32_t i = 0; i < o->via.map.size; i++) {
                        const msgpack_object_kv *kv = &o->via.map.ptr[i];
                        char key[64];

                        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size >= sizeof(key))
                                continue;
                        memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
                        key[kv->key.via.str.size] = 0;
                        json_key(j, key);
                        json_msgpack(j, &kv->val, depth + 1);
                }
                json_object_end(j);
                return;
        default:
                break;
        }
        json_null(j);
}

static int answer(struct webd_rq *rq, int status, struct json *j) {
        static const char *const reasons[] = {[200] = "OK", [201] = "Created", [202] = "Accepted"};
        return webd_send_json(rq->req, status, status <= 202 ? reasons[status] : "OK", j);
}

static int not_found(struct webd_rq *rq, const char *what) {
        char msg[64];

        snprintf(msg, sizeof(msg), "There is no such %s.", what);
        return webd_rq_error(rq, 404, "Not found", msg);
}

/* The query's one value of name, or NULL (a bad query is no value: callers then refuse). */
static const char *query_get(struct webd_rq *rq, const char *name, bool *bad) {
        struct form q = {};
        const char *v = NULL, *ret = NULL;

        if (!*rq->query)
                return NULL;
        if (form_parse_query(&q, rq->query, strlen(rq->query), NULL) < 0) {
                *bad = true;
                return NULL;
        }
        if (form_get_one(&q, name, &v) == 0 && *v)
                ret = h2o_strdup(&rq->req->pool, v, SIZE_MAX).base;
        form_done(&q);
        return ret;
}

/* ---- /api/v1/me -------------------------------------------------------------------------------- */

static void token_json(struct json *j, const struct webd_token *t) {
        json_object_begin(j);
        json_kv_int(j, "id", t->id);
        json_kv_str(j, "name", t->name);
        json_key(j, "scopes");
        json_array_begin(j);
        for (unsigned i = 0; i < WEBD_SCOPES_N; i++)
                if (t->scopes & (1u << i))
                        json_str(j, webd_scope_name(1u << i));
        json_array_end(j);
        json_key(j, "servers");
        json_array_begin(j);
        for (size_t i = 0; i < t->n_servers; i++)
                json_int(j, t->servers[i]);
        json_array_end(j);
        json_kv_int(j, "expires_usec", t->expires_usec);
        json_object_end(j);
}

static int route_me(struct webd_rq *rq) {
        struct json j;

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_key(&j, "user");
        json_object_begin(&j);
        json_kv_int(&j, "id", rq->user.id);
        json_kv_str(&j, "username", rq->user.username);
        json_kv_bool(&j, "admin", rq->user.is_admin);
        json_object_end(&j);
        json_key(&j, "token");
        token_json(&j, &rq->token);
        json_object_end(&j);
        return answer(rq, 200, &j);
}

/* ---- servers ----------------------------------------------------------------------------------- */

struct servers_ctx {
        struct webd_rq *rq;
        struct json *j;
        const msgpack_object_array *host;
        bool host_known;
        int64_t only; /* one server (GET /servers/ID), or 0 */
        unsigned n;
};

static void server_json(struct json *j, const struct webd_server *s, const char *state) {
        json_object_begin(j);
        json_kv_int(j, "id", s->id);
        json_kv_str(j, "name", s->name);
        json_kv_str(j, "owner", s->owner_name);
        json_kv_str(j, "instance", s->instance);
        json_kv_uint(j, "port", s->port);
        json_kv_str(j, "hostname", s->hostname);
        json_kv_int(j, "blueprint_id", s->blueprint_id);
        json_kv_str(j, "blueprint", s->blueprint_name);
        json_kv_str(j, "desired", webd_desired_to_string(s->desired));
        json_kv_str(j, "state", state);
        json_kv_int(j, "last_job_id", s->last_job_id);
        json_object_end(j);
}

static int server_row(const struct webd_server *s, void *userdata) {
        struct servers_ctx *c = userdata;
        char state[16] = "unknown";

        if ((c->only && s->id != c->only) || !webd_rq_may_server(c->rq, s->id))
                return 0;
        for (uint32_t i = 0; c->host && i < c->host->size; i++)
                if (obj_str_is(&c->host->ptr[i], "name", s->instance)) {
                        obj_str(&c->host->ptr[i], "state", state, sizeof(state));
                        break;
                }
        if (c->host_known && streq(state, "unknown"))
                snprintf(state, sizeof(state), "absent");
        if (s->desired == WEBD_DESIRED_DELETING)
                snprintf(state, sizeof(state), "deleting");
        server_json(c->j, s, state);
        c->n++;
        return 0;
}

/* After the host's list (shared with the pages, webd-hostlist.h): each server with its state;
 * "unknown" for all while hostd is away, so a list still answers. */
static int servers_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct servers_ctx c = {.rq = rq, .only = (int64_t) (intptr_t) arg};
        struct webd_server_filter f = {.owner_id = rq->user.is_admin ? 0 : rq->user.id};
        struct json j;

        if (r && !r->failed && r->result && r->result->type == MSGPACK_OBJECT_ARRAY)
                c.host = &r->result->via.array;
        c.host_known = c.host != NULL;
        c.j = &j;
        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        if (!c.only) {
                json_key(&j, "servers");
                json_array_begin(&j);
        } else
                json_key(&j, "server");
        if (webd_db_server_list(rq->w->db, &f, server_row, &c) < 0) {
                json_done(&j);
                return webd_rq_error(rq, 500, "Internal error", "The web database failed.");
        }
        if (c.only && c.n == 0) {
                json_done(&j);
                return not_found(rq, "server");
        }
        if (!c.only)
                json_array_end(&j);
        json_kv_bool(&j, "host_available", c.host_known);
        json_object_end(&j);
        return answer(rq, 200, &j);
}

static int servers_get(struct webd_rq *rq, int64_t only) {
        if (webd_hostlist_get(rq, false, servers_reply, (void *) (intptr_t) only) < 0)
                return servers_reply(rq, NULL, (void *) (intptr_t) only);
        return 0;
}

static int route_servers(struct webd_rq *rq) {
        return servers_get(rq, 0);
}

/* GET /api/v1/servers/ID */
static int route_server_get(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, API "/servers/", &rest);
        struct webd_server s = {};

        if (!id || *rest || !webd_rq_may_server(rq, id) || webd_db_server_get(rq->w->db, id, &s) < 0)
                return not_found(rq, "server");
        if (!page_may_see(rq, s.owner_id)) {
                webd_server_done(&s);
                return not_found(rq, "server");
        }
        webd_server_done(&s);
        return servers_get(rq, id);
}

/* POST /api/v1/servers/ID/{start,stop,restart} */
static int route_server_post(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, API "/servers/", &rest);

        if (!id || !(streq(rest, "/start") || streq(rest, "/stop") || streq(rest, "/restart")))
                return not_found(rq, "server action");
        return page_server_action(rq, id, rest + 1);
}

int page_api_job_accepted(struct webd_rq *rq, int64_t job_id, int64_t server_id, bool existing) {
        char location[64];
        struct json j;

        snprintf(location, sizeof(location), API "/jobs/%" PRId64, job_id);
        webd_rq_add_header(rq, "location", location);
        json_init(&j, 4096);
        json_object_begin(&j);
        json_key(&j, "job");
        json_object_begin(&j);
        json_kv_int(&j, "id", job_id);
        json_kv_str(&j, "url", location);
        json_object_end(&j);
        json_kv_int(&j, "server_id", server_id);
        /* A second start while one is queued lands on that job, as on the page. */
        json_kv_bool(&j, "existing", existing);
        json_object_end(&j);
        return answer(rq, existing ? 200 : 202, &j);
}

/* ---- jobs -------------------------------------------------------------------------------------- */

static int jobs_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object_array *jobs = r->failed ? NULL : obj_array(r->result, "jobs");
        struct json j;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_key(&j, "jobs");
        json_array_begin(&j);
        for (uint32_t i = 0; jobs && i < jobs->size; i++)
                if (page_may_see_job(rq, &jobs->ptr[i]))
                        json_msgpack(&j, &jobs->ptr[i], 0);
        json_array_end(&j);
        json_kv_int(&j, "next_before_id", obj_int(r->result, "next_before_id", 0));
        json_object_end(&j);
        return answer(rq, 200, &j);
}

/* GET /api/v1/jobs?server=ID&state=S&kind=K&before=ID: the user's jobs, newest first. */
static int route_jobs(struct webd_rq *rq) {
        bool bad = false;
        const char *server = query_get(rq, "server", &bad), *state = query_get(rq, "state", &bad),
                   *kind = query_get(rq, "kind", &bad), *before = query_get(rq, "before", &bad);
        char owner[PAGE_JOB_OWNER_MAX], subject[NAME_LEN_MAX + 16];
        long long server_id = 0, before_id = 0;
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
        int r;

        if (bad || (server && safe_atoi64(server, 1, INT64_MAX, &server_id) < 0) ||
            (before && safe_atoi64(before, 1, INT64_MAX, &before_id) < 0) || (state && strlen(state) > 16) ||
            (kind && strlen(kind) > 32))
                return webd_rq_error(rq, 400, "Bad query",
                                     "server and before take ids; state and kind names.");
        subject[0] = 0;
        if (server_id) {
                char inst[NAME_LEN_MAX + 1];
                struct webd_server s = {};

                if (!webd_rq_may_server(rq, server_id) || webd_db_server_get(rq->w->db, server_id, &s) < 0)
                        return not_found(rq, "server");
                bad = !page_may_see(rq, s.owner_id);
                snprintf(inst, sizeof(inst), "%s", s.instance);
                webd_server_done(&s);
                if (bad)
                        return not_found(rq, "server");
                snprintf(subject, sizeof(subject), "server:%s", inst);
        }
        page_job_owner(rq->user.id, owner);
        rpc_buf_init(&b, 0);
        pk = rpc_params_begin(&m, &b.pk);
        rpc_pack_kv_str(pk, "owner", owner);
        if (subject[0])
                rpc_pack_kv_str(pk, "subject", subject);
        if (state)
                rpc_pack_kv_str(pk, "state", state);
        if (kind)
                rpc_pack_kv_str(pk, "kind", kind);
        if (before_id)
                rpc_pack_kv_int(pk, "before_id", before_id);
        rpc_pack_kv_int(pk, "limit", API_JOBS_LIMIT);
        r = rpc_map_end(&m);
        if (r >= 0)
                r = webd_rq_call(rq, WEBD_PEER_JOBS, "jobs.list", &b, jobs_reply, NULL);
        rpc_buf_done(&b);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_JOBS, r) : 0;
}

static int job_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object *job = page_reply_job(r);
        struct json j;

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        if (!job || !page_may_see_job(rq, job))
                return not_found(rq, "job");
        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_key(&j, "job");
        json_msgpack(&j, job, 0);
        json_object_end(&j);
        return answer(rq, 200, &j);
}

/* GET /api/v1/jobs/ID, GET /api/v1/jobs/ID/events (the page's stream: the same checks) */
static int route_job(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, API "/jobs/", &rest);
        int r;

        if (!id)
                return not_found(rq, "job");
        if (streq(rest, "/events"))
                return page_job_events(rq, id);
        if (*rest)
                return not_found(rq, "job");
        r = webd_rq_call_id(rq, WEBD_PEER_JOBS, "jobs.get", id, job_reply, NULL);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_JOBS, r) : 0;
}

/* ---- blueprints -------------------------------------------------------------------------------- */

static void blueprint_json(struct json *j, const struct webd_blueprint *b, bool with_overlays) {
        json_object_begin(j);
        json_kv_int(j, "id", b->id);
        json_kv_str(j, "name", b->name);
        json_kv_str(j, "owner", b->owner_name);
        json_kv_str(j, "arguments", b->arguments);
        json_kv_str(j, "config", b->config);
        json_kv_uint(j, "servers", b->n_servers);
        if (with_overlays) {
                /* First = the top layer, as the form lists them. */
                json_key(j, "overlays");
                json_array_begin(j);
                for (size_t i = 0; i < b->n_overlays; i++) {
                        json_object_begin(j);
                        json_kv_str(j, "id", b->overlays[i].id);
                        json_kv_bool(j, "expose", b->overlays[i].expose);
                        json_object_end(j);
                }
                json_array_end(j);
        }
        json_kv_int(j, "updated_usec", b->updated_usec);
        json_object_end(j);
}

static int blueprint_row(const struct webd_blueprint *b, void *userdata) {
        blueprint_json(userdata, b, false);
        return 0;
}

static int route_blueprints(struct webd_rq *rq) {
        struct json j;

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_key(&j, "blueprints");
        json_array_begin(&j);
        if (webd_db_blueprint_list(rq->w->db, rq->user.is_admin ? 0 : rq->user.id, blueprint_row, &j) < 0) {
                json_done(&j);
                return webd_rq_error(rq, 500, "Internal error", "The web database failed.");
        }
        json_array_end(&j);
        json_object_end(&j);
        return answer(rq, 200, &j);
}

static int route_blueprint(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, API "/blueprints/", &rest);
        struct webd_blueprint b = {};
        struct json j;

        if (!id || *rest || webd_db_blueprint_get(rq->w->db, id, &b) < 0)
                return not_found(rq, "blueprint");
        if (!page_may_see(rq, b.owner_id)) {
                webd_blueprint_done(&b);
                return not_found(rq, "blueprint");
        }
        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_key(&j, "blueprint");
        blueprint_json(&j, &b, true);
        json_object_end(&j);
        webd_blueprint_done(&b);
        return answer(rq, 200, &j);
}

int page_api_saved(struct webd_rq *rq, const char *what, int64_t id, int status) {
        struct json j;

        json_init(&j, 4096);
        json_object_begin(&j);
        json_key(&j, what);
        json_object_begin(&j);
        json_kv_int(&j, "id", id);
        json_object_end(&j);
        json_object_end(&j);
        return answer(rq, status, &j);
}

/* POST /api/v1/blueprints: the form's fields (name, arguments, config, overlay_ids repeated in
 * layer order, expose_overlay_ids); POST /api/v1/blueprints/ID replaces them all. */
static int route_blueprint_create(struct webd_rq *rq) {
        return page_blueprint_save(rq, 0);
}

static int route_blueprint_update(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, API "/blueprints/", &rest);
        struct webd_blueprint b = {};
        bool mine;

        if (!id || *rest || webd_db_blueprint_get(rq->w->db, id, &b) < 0)
                return not_found(rq, "blueprint");
        mine = page_may_see(rq, b.owner_id);
        webd_blueprint_done(&b);
        return mine ? page_blueprint_save(rq, id) : not_found(rq, "blueprint");
}

/* ---- files ------------------------------------------------------------------------------------- */

/* /api/v1/overlays/ID/files[/content]: a files overlay's listing and files (page-files.c). */
static int route_overlay_files(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, API "/overlays/", &rest);
        struct webd_overlay o = {};
        int r;

        if (!id || !strneq(rest, "/files", 6) || (rest[6] && rest[6] != '/') ||
            webd_db_overlay_get(rq->w->db, id, &o) < 0)
                return not_found(rq, "overlay");
        if (!page_overlay_may_see(rq, &o)) {
                webd_overlay_done(&o);
                return not_found(rq, "overlay");
        }
        r = page_files_api(rq, &o, page_overlay_may_change(rq, &o), rest + 6);
        webd_overlay_done(&o);
        return r;
}

/* ---- the table --------------------------------------------------------------------------------- */

#define R(scope) (WEBD_R_API | WEBD_R_SCOPE(scope))

const struct webd_route page_api_routes[] = {
        {"GET", API "/me", route_me, WEBD_R_API},
        {"GET", API "/servers", route_servers, R(WEBD_SCOPE_SERVER_READ)},
        {"GET", API "/servers/", route_server_get, R(WEBD_SCOPE_SERVER_READ)},
        {"POST", API "/servers/", route_server_post, R(WEBD_SCOPE_SERVER_CONTROL)},
        {"GET", API "/jobs", route_jobs, R(WEBD_SCOPE_JOBS_READ)},
        {"GET", API "/jobs/", route_job, R(WEBD_SCOPE_JOBS_READ)},
        {"GET", API "/blueprints", route_blueprints, R(WEBD_SCOPE_BLUEPRINT_READ)},
        {"GET", API "/blueprints/", route_blueprint, R(WEBD_SCOPE_BLUEPRINT_READ)},
        {"POST", API "/blueprints", route_blueprint_create, R(WEBD_SCOPE_BLUEPRINT_WRITE)},
        {"POST", API "/blueprints/", route_blueprint_update, R(WEBD_SCOPE_BLUEPRINT_WRITE)},
        {"GET", API "/overlays/", route_overlay_files, R(WEBD_SCOPE_FILES_READ)},
        /* The body is the file's bytes, not a form. */
        {"PUT", API "/overlays/", route_overlay_files, R(WEBD_SCOPE_FILES_WRITE) | WEBD_R_RAW},
        {"DELETE", API "/overlays/", route_overlay_files, R(WEBD_SCOPE_FILES_WRITE) | WEBD_R_RAW},
};
const size_t page_api_n_routes = ELEMENTSOF(page_api_routes);
