/* See webd-jobwatch.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"
#include "svc-web/webd-jobwatch.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-sse.h"
#include "svc-web/webd.h"

struct line {
        int64_t seq;
        char *data; /* the SSE data: {"seq","stream","line"} */
        size_t len;
};

struct job {
        struct webd_jobwatch *jw;
        h2o_linklist_t link; /* in jw->jobs */
        int64_t id;
        struct webd_call *call; /* jobs.watch, or NULL */
        int64_t last_seq;       /* the newest line received */
        int64_t have_from;      /* every line from this seq to last_seq is in the ring */
        struct line ring[WEBD_JOBWATCH_LINES];
        unsigned head, n; /* ring: oldest at head */
        size_t bytes;
        char *end_data; /* the final state, once the job has ended */
        size_t end_len;
        h2o_linklist_t followers;
        unsigned n_followers;
        bool in_cb; /* a callback of ours is on the stack: free later */
        bool dead;
};

struct follower {
        struct job *job; /* NULL once detached */
        struct sse_stream *s;
        int64_t sent_seq;
        h2o_linklist_t link;
};

struct webd_jobwatch {
        struct webd *w;
        h2o_linklist_t jobs;
        unsigned n_jobs;
};

int webd_jobwatch_new(struct webd *w, struct webd_jobwatch **ret) {
        struct webd_jobwatch *jw = calloc(1, sizeof(*jw));

        if (!jw)
                return -ENOMEM;
        jw->w = w;
        h2o_linklist_init_anchor(&jw->jobs);
        *ret = jw;
        return 0;
}

static void job_free(struct job *j) {
        if (j->call)
                webd_call_cancel(j->call);
        j->call = NULL;
        while (!h2o_linklist_is_empty(&j->followers)) {
                struct follower *f = H2O_STRUCT_FROM_MEMBER(struct follower, link, j->followers.next);
                h2o_linklist_unlink(&f->link);
                f->job = NULL;
        }
        for (unsigned i = 0; i < j->n; i++)
                free(j->ring[(j->head + i) % WEBD_JOBWATCH_LINES].data);
        free(j->end_data);
        if (h2o_linklist_is_linked(&j->link)) {
                h2o_linklist_unlink(&j->link);
                j->jw->n_jobs--;
        }
        free(j);
}

/* Frees the job unless one of its callbacks is running (that one frees it at its end). */
static void job_release(struct job *j) {
        if (j->in_cb)
                j->dead = true;
        else
                job_free(j);
}

void webd_jobwatch_free(struct webd_jobwatch *jw) {
        if (!jw)
                return;
        while (!h2o_linklist_is_empty(&jw->jobs))
                job_free(H2O_STRUCT_FROM_MEMBER(struct job, link, jw->jobs.next));
        free(jw);
}

void webd_jobwatch_stats(const struct webd_jobwatch *jw, unsigned *ret_jobs, unsigned *ret_followers) {
        unsigned f = 0;

        for (h2o_linklist_t *l = jw->jobs.next; l != &jw->jobs; l = l->next)
                f += H2O_STRUCT_FROM_MEMBER(struct job, link, l)->n_followers;
        *ret_jobs = jw->n_jobs;
        *ret_followers = f;
}

static void ring_push(struct job *j, int64_t seq, char *data, size_t len) {
        while (j->n > 0 && (j->n == WEBD_JOBWATCH_LINES || j->bytes + len > WEBD_JOBWATCH_BYTES)) {
                struct line *old = &j->ring[j->head];
                j->bytes -= old->len;
                free(old->data);
                j->head = (j->head + 1) % WEBD_JOBWATCH_LINES;
                j->n--;
                /* The oldest line left is where the complete run starts now. */
                j->have_from = j->n ? j->ring[j->head].seq : seq;
        }
        j->ring[(j->head + j->n) % WEBD_JOBWATCH_LINES] =
                (struct line){.seq = seq, .data = data, .len = len};
        j->n++;
        j->bytes += len;
        j->last_seq = seq;
}

static void send_line(struct follower *f, const struct line *l) {
        char id[24];

        if (l->seq <= f->sent_seq)
                return;
        snprintf(id, sizeof(id), "%" PRId64, l->seq);
        (void) sse_stream_send(f->s, id, "line", l->data, l->len);
        f->sent_seq = l->seq;
}

/* The job ended (end_data set) or cannot be watched (NULL: "unavailable"): every follower's
 * stream gets the last word and ends. */
static void finish_all(struct job *j) {
        while (!h2o_linklist_is_empty(&j->followers)) {
                struct follower *f = H2O_STRUCT_FROM_MEMBER(struct follower, link, j->followers.next);
                h2o_linklist_unlink(&f->link);
                f->job = NULL;
                j->n_followers--;
                if (!j->end_data) {
                        webd_sse_end_unavailable(f->s, WEBD_PEER_JOBS);
                        continue;
                }
                (void) sse_stream_send(f->s, NULL, "end", j->end_data, j->end_len);
                sse_stream_close(f->s);
        }
}

static int start_watch(struct job *j);

static void on_notify(struct webd_call *c, const msgpack_object *p, void *userdata) {
        struct job *j = userdata;
        size_t len = 0;
        int64_t seq = 0;
        char *data;

        j->in_cb = true;
        if (obj_str_is(p, "type", "line")) {
                data = webd_job_line_json(p, &seq, &len);
                if (data && seq > j->last_seq) {
                        ring_push(j, seq, data, len);
                        for (h2o_linklist_t *l = j->followers.next; l != &j->followers; l = l->next)
                                send_line(H2O_STRUCT_FROM_MEMBER(struct follower, link, l),
                                          &j->ring[(j->head + j->n - 1) % WEBD_JOBWATCH_LINES]);
                } else
                        free(data);
        } else if (obj_str_is(p, "type", "state")) {
                data = webd_job_state_json(p, &len);
                for (h2o_linklist_t *l = j->followers.next; data && l != &j->followers; l = l->next)
                        (void) sse_stream_send(H2O_STRUCT_FROM_MEMBER(struct follower, link, l)->s, NULL,
                                               "state", data, len);
                free(data);
        }
        j->in_cb = false;
        if (j->dead)
                job_free(j);
}

static void on_reply(struct webd_call *c, const struct rpc_core_reply *r, void *userdata) {
        struct job *j = userdata;
        const msgpack_object *job = r->failed ? NULL : obj_get(r->result, "job");

        j->call = NULL;
        j->in_cb = true;
        if (job && job->type == MSGPACK_OBJECT_MAP)
                j->end_data = webd_job_state_json(job, &j->end_len);
        else if (r->transport_error < 0 && start_watch(j) >= 0) {
                /* jobd went away: watch again from the last line, the followers wait. */
                j->in_cb = false;
                if (j->dead)
                        job_free(j);
                return;
        }
        finish_all(j);
        j->in_cb = false;
        /* Every follower has its last word; one that comes later watches afresh. */
        job_free(j);
}

static int start_watch(struct job *j) {
        struct rpc_buf b;
        struct rpc_map m;
        msgpack_packer *pk;
        int r;

        rpc_buf_init(&b, 0);
        pk = rpc_params_begin(&m, &b.pk);
        rpc_pack_kv_int(pk, "id", j->id);
        rpc_pack_kv_int(pk, "after_seq", j->last_seq);
        r = rpc_map_end(&m);
        if (r >= 0)
                r = webd_call(j->jw->w->backends, WEBD_PEER_JOBS, "jobs.watch", &b, 0, on_notify, on_reply,
                              j, &j->call);
        rpc_buf_done(&b);
        if (r < 0)
                j->call = NULL;
        return r;
}

static void follower_dispose(void *p) {
        struct follower *f = p;
        struct job *j = f->job;

        if (!j)
                return;
        h2o_linklist_unlink(&f->link);
        f->job = NULL;
        if (--j->n_followers == 0)
                job_release(j);
}

static struct job *job_find(struct webd_jobwatch *jw, int64_t id) {
        for (h2o_linklist_t *l = jw->jobs.next; l != &jw->jobs; l = l->next) {
                struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, link, l);
                if (j->id == id && !j->dead)
                        return j;
        }
        return NULL;
}

int webd_jobwatch_follow(struct webd_rq *rq, struct sse_stream *s, int64_t job_id, int64_t after_seq) {
        struct webd_jobwatch *jw = rq->w->jobwatch;
        struct job *j = job_find(jw, job_id);
        struct follower *f;

        if (!j) {
                if (jw->n_jobs >= WEBD_JOBWATCH_MAX)
                        return 0;
                j = calloc(1, sizeof(*j));
                if (!j)
                        return -ENOMEM;
                *j = (struct job){.jw = jw, .id = job_id, .have_from = 1};
                h2o_linklist_init_anchor(&j->followers);
                if (start_watch(j) < 0) {
                        free(j);
                        return 0;
                }
                h2o_linklist_insert(&jw->jobs, &j->link);
                jw->n_jobs++;
        }
        /* Lines the ring no longer holds: this follower watches on its own. */
        if (after_seq + 1 < j->have_from) {
                if (j->n_followers == 0)
                        job_release(j);
                return 0;
        }
        f = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*f), follower_dispose);
        *f = (struct follower){.job = j, .s = s, .sent_seq = after_seq};
        for (unsigned i = 0; i < j->n; i++)
                send_line(f, &j->ring[(j->head + i) % WEBD_JOBWATCH_LINES]);
        h2o_linklist_insert(&j->followers, &f->link);
        j->n_followers++;
        return 1;
}
