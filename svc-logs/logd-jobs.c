#include <errno.h>
#include <string.h>

#include "proto/client-sdevent.h"
#include "proto/map.h"
#include "svc-logs/logd-jobs.h"

struct logd_jobq {
        struct rpc_sdclient *client;
        int64_t job_id;
        logd_jobq_done_t done;
        void *userdata;
};

static void on_reply(struct rpc_core *core, uint32_t msgid, const struct rpc_core_reply *rep,
                     void *userdata) {
        struct logd_jobq *q = userdata;
        struct rpc_error e = {};
        int r = 0;

        if (rep->transport_error < 0)
                r = rpc_error_set(&e, RPC_UNAVAILABLE, "the job service is unavailable: %s",
                                  strerror(-rep->transport_error));
        else if (rep->failed && rep->error.code == RPC_NOT_FOUND)
                r = rpc_error_set(&e, RPC_NOT_FOUND, "job %lld: no such job", (long long) q->job_id);
        else if (rep->failed)
                r = rpc_error_set(&e, rep->error.code == RPC_INVALID ? RPC_INVALID : RPC_UNAVAILABLE,
                                  "the job service refused: %s", rep->error.message);
        /* done may free q: nothing touches q after it. The client's memory, and so the result,
         * stays valid until this callback chain has returned. */
        q->done(r, r < 0 ? NULL : rep->result, &e, q->userdata);
}

int logd_jobq_start(sd_event *e, const char *socket, const struct mp_limits *limits, int64_t job_id,
                    logd_jobq_done_t done, void *userdata, struct logd_jobq **ret) {
        struct rpc_core_config cfg = {.peer_name = "job service"};
        struct logd_jobq *q;
        struct rpc_buf b;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->job_id = job_id;
        q->done = done;
        q->userdata = userdata;
        if (limits)
                cfg.limits = *limits;
        r = rpc_sdclient_new(e, socket, &cfg, &q->client);
        if (r < 0) {
                free(q);
                return r;
        }
        rpc_buf_init(&b, 0);
        {
                struct rpc_map m;
                rpc_pack_kv_int(rpc_params_begin(&m, &b.pk), "id", job_id);
                r = rpc_map_end(&m);
        }
        r = r >= 0 && rpc_buf_ok(&b)
                    ? rpc_core_call(rpc_sdclient_core(q->client), "jobs.get", &b, NULL, on_reply, q, NULL)
                    : -ENOMEM;
        rpc_buf_done(&b);
        if (r < 0) {
                logd_jobq_free(q);
                return r;
        }
        *ret = q;
        return 0;
}

struct logd_jobq *logd_jobq_free(struct logd_jobq *q) {
        if (!q)
                return NULL;
        rpc_sdclient_free(q->client);
        free(q);
        return NULL;
}

static bool obj_usec(const msgpack_object *o, uint64_t *ret) {
        *ret = 0;
        if (!o || o->type == MSGPACK_OBJECT_NIL)
                return true;
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return false;
        *ret = o->via.u64;
        return true;
}

int logd_jobs_parse(const msgpack_object *result, struct logd_target *t, char *state, size_t state_size,
                    struct rpc_error *e) {
        const msgpack_object *job =
                result && result->type == MSGPACK_OBJECT_MAP ? rpc_map_get(result, "job") : NULL;
        const msgpack_object *id, *st_obj, *units, *started, *finished;
        const char *names[LOGD_JOB_UNITS_MAX];
        size_t lens[LOGD_JOB_UNITS_MAX];
        char st[32];
        struct logd_job_info info = {.units = names, .units_len = lens};
        int r;

        if (!job || job->type != MSGPACK_OBJECT_MAP)
                goto bad;
        id = rpc_map_get(job, "id");
        st_obj = rpc_map_get(job, "state");
        units = rpc_map_get(job, "units");
        started = rpc_map_get(job, "started_usec");
        finished = rpc_map_get(job, "finished_usec");
        if (!id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || id->via.u64 != (uint64_t) t->job_id ||
            !st_obj || st_obj->type != MSGPACK_OBJECT_STR ||
            st_obj->via.str.size >= MIN(state_size, sizeof st) || !obj_usec(started, &info.started_usec) ||
            !obj_usec(finished, &info.finished_usec))
                goto bad;
        if (units && units->type != MSGPACK_OBJECT_NIL) {
                if (units->type != MSGPACK_OBJECT_ARRAY)
                        goto bad;
                if (units->via.array.size > LOGD_JOB_UNITS_MAX)
                        return rpc_error_set(e, RPC_INTERNAL, "job %lld: more than %d units",
                                             (long long) t->job_id, LOGD_JOB_UNITS_MAX);
                for (uint32_t i = 0; i < units->via.array.size; i++) {
                        const msgpack_object *u = &units->via.array.ptr[i];
                        if (u->type != MSGPACK_OBJECT_STR)
                                goto bad;
                        names[i] = u->via.str.ptr;
                        lens[i] = u->via.str.size;
                }
                info.n_units = units->via.array.size;
        }
        memcpy(st, st_obj->via.str.ptr, st_obj->via.str.size);
        st[st_obj->via.str.size] = '\0';
        info.state = st;
        r = logd_target_set_job(t, &info, e);
        if (r < 0)
                return r;
        memcpy(state, st, st_obj->via.str.size + 1);
        return r;
bad:
        return rpc_error_set(e, RPC_INTERNAL, "job %lld: the job service's answer is malformed",
                             (long long) t->job_id);
}
