/* See webd-hostlist.h. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "proto/map.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd.h"

struct waiter {
        struct webd_hostlist *l;
        struct webd_rq *rq; /* NULL: a waiter of webd's own (raw_fn), malloc'd */
        webd_rq_reply_fn fn;
        void (*raw_fn)(const struct rpc_core_reply *r, void *arg);
        void *arg;
        h2o_linklist_t link; /* in l->waiters until answered or its client leaves */
};

struct webd_hostlist {
        struct webd *w;
        struct webd_call *call; /* in flight, or NULL */
        h2o_linklist_t waiters;
        /* the last answer */
        bool have;
        uint64_t at_ms;
        struct rpc_core_reply reply; /* result points into zone; raw into bytes */
        char *bytes;
        msgpack_unpacked unpacked; /* of bytes, while have */
        unsigned long long calls, shared;
};

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void drop_answer(struct webd_hostlist *l) {
        if (l->have)
                msgpack_unpacked_destroy(&l->unpacked);
        l->have = false;
        free(l->bytes);
        l->bytes = NULL;
}

int webd_hostlist_new(struct webd *w, struct webd_hostlist **ret) {
        struct webd_hostlist *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->w = w;
        h2o_linklist_init_anchor(&l->waiters);
        *ret = l;
        return 0;
}

void webd_hostlist_free(struct webd_hostlist *l) {
        if (!l)
                return;
        if (l->call)
                webd_call_cancel(l->call);
        /* Waiters live in their requests' pools: only unlink them (webd's own are freed). */
        while (!h2o_linklist_is_empty(&l->waiters)) {
                struct waiter *x = H2O_STRUCT_FROM_MEMBER(struct waiter, link, l->waiters.next);
                h2o_linklist_unlink(&x->link);
                if (!x->rq)
                        free(x);
        }
        drop_answer(l);
        free(l);
}

void webd_hostlist_invalidate(struct webd_hostlist *l) {
        if (l)
                drop_answer(l);
}

void webd_hostlist_stats(const struct webd_hostlist *l, unsigned long long *ret_calls,
                         unsigned long long *ret_shared) {
        *ret_calls = l ? l->calls : 0;
        *ret_shared = l ? l->shared : 0;
}

/* Keeps a successful answer: its bytes, unpacked once (the response [1, msgid, nil, result],
 * the same bytes the core checked). */
static void keep(struct webd_hostlist *l, const struct rpc_core_reply *r) {
        size_t off = 0;

        drop_answer(l);
        if (r->failed || !r->raw || r->raw_len == 0)
                return;
        l->bytes = malloc(r->raw_len);
        if (!l->bytes)
                return;
        memcpy(l->bytes, r->raw, r->raw_len);
        msgpack_unpacked_init(&l->unpacked);
        if (msgpack_unpack_next(&l->unpacked, l->bytes, r->raw_len, &off) != MSGPACK_UNPACK_SUCCESS ||
            l->unpacked.data.type != MSGPACK_OBJECT_ARRAY || l->unpacked.data.via.array.size != 4) {
                msgpack_unpacked_destroy(&l->unpacked);
                free(l->bytes);
                l->bytes = NULL;
                return;
        }
        l->have = true;
        l->reply = (struct rpc_core_reply){
                .result = &l->unpacked.data.via.array.ptr[3], .raw = l->bytes, .raw_len = r->raw_len};
        l->at_ms = now_ms();
}

static void waiter_dispose(void *p) {
        struct waiter *x = p;

        if (h2o_linklist_is_linked(&x->link))
                h2o_linklist_unlink(&x->link);
}

static void on_reply(struct webd_call *c, const struct rpc_core_reply *r, void *userdata) {
        struct webd_hostlist *l = userdata;
        const struct rpc_core_reply *give = r;

        l->call = NULL;
        keep(l, r);
        if (l->have)
                give = &l->reply;
        /* A waiter's fn may start another list call (it joins the next flight). */
        while (!h2o_linklist_is_empty(&l->waiters)) {
                struct waiter *x = H2O_STRUCT_FROM_MEMBER(struct waiter, link, l->waiters.next);
                h2o_linklist_unlink(&x->link);
                if (x->rq)
                        (void) x->fn(x->rq, give, x->arg);
                else {
                        x->raw_fn(give, x->arg);
                        free(x);
                }
        }
}

static int enqueue(struct webd_hostlist *l, struct waiter *x) {
        int r;

        if (l->call) {
                l->shared++;
                h2o_linklist_insert(&l->waiters, &x->link);
                return 0;
        }
        {
                /* brief: the states from one systemd call, not a property read per unit
                 * (docs/scaling.md); the pages that need more ask instance.status. */
                struct rpc_buf params;
                struct rpc_map m;

                rpc_buf_init(&params, 0);
                rpc_pack_kv_bool(rpc_params_begin(&m, &params.pk), "brief", true);
                r = rpc_map_end(&m);
                if (r >= 0)
                        r = webd_call(l->w->backends, WEBD_PEER_HOST, "instance.list", &params,
                                      WEBD_CALL_TIMEOUT_MS, NULL, on_reply, l, &l->call);
                rpc_buf_done(&params);
        }
        if (r < 0) {
                l->call = NULL;
                return r;
        }
        l->calls++;
        h2o_linklist_insert(&l->waiters, &x->link);
        return 0;
}

int webd_hostlist_get(struct webd_rq *rq, bool fresh, webd_rq_reply_fn fn, void *arg) {
        struct webd_hostlist *l = rq->w->hostlist;
        struct waiter *x;

        if (!fresh && l->have && now_ms() - l->at_ms < WEBD_HOSTLIST_TTL_MS) {
                l->shared++;
                return fn(rq, &l->reply, arg);
        }
        x = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*x), waiter_dispose);
        *x = (struct waiter){.l = l, .rq = rq, .fn = fn, .arg = arg};
        return enqueue(l, x);
}

int webd_hostlist_refresh(struct webd_hostlist *l, void (*fn)(const struct rpc_core_reply *r, void *arg),
                          void *arg) {
        struct waiter *x = calloc(1, sizeof(*x));
        int r;

        if (!x)
                return -ENOMEM;
        *x = (struct waiter){.l = l, .raw_fn = fn, .arg = arg};
        r = enqueue(l, x);
        if (r < 0)
                free(x);
        return r;
}
