/* See webd-statefeed.h. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/names.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-spec.h"
#include "svc-web/webd-sse.h"
#include "svc-web/webd-statefeed.h"
#include "svc-web/webd.h"

struct sub {
        struct webd_statefeed *f;
        struct sse_stream *s;
        int64_t user_id; /* 0: an admin, every server */
        unsigned char last[16];
        bool sent;
        h2o_linklist_t link;
};

struct webd_statefeed {
        struct webd *w;
        h2o_linklist_t subs;
        unsigned n;
        h2o_timeout_t tick;
        h2o_timeout_entry_t tick_entry;
        bool asking; /* a refresh is out */
};

struct build_ctx {
        struct json *j;
        const msgpack_object_array *host;
};

static int add_server(const struct webd_server *s, void *userdata) {
        struct build_ctx *c = userdata;
        char inst[NAME_LEN_MAX + 1], state[16] = "absent";

        snprintf(inst, sizeof(inst), "%s", s->instance);
        for (uint32_t i = 0; c->host && i < c->host->size; i++)
                if (obj_str_is(&c->host->ptr[i], "name", inst)) {
                        obj_str(&c->host->ptr[i], "state", state, sizeof(state));
                        break;
                }
        if (s->desired == WEBD_DESIRED_DELETING)
                snprintf(state, sizeof(state), "deleting");
        json_object_begin(c->j);
        json_kv_int(c->j, "id", s->id);
        json_kv_str(c->j, "instance", inst);
        json_kv_str(c->j, "state", state);
        json_object_end(c->j);
        return 0;
}

/* Sends sub the servers of its user if they changed since its last event. */
static void push(struct webd_statefeed *f, struct sub *x, const msgpack_object_array *host) {
        struct webd_server_filter filter = {.owner_id = x->user_id};
        struct build_ctx c;
        struct json j;
        unsigned char h[16];
        _cleanup_free_ char *data = NULL;
        size_t len = 0;

        json_init(&j, 1024u * 1024u);
        c = (struct build_ctx){&j, host};
        json_object_begin(&j);
        json_key(&j, "servers");
        json_array_begin(&j);
        (void) webd_db_server_list(f->w->db, &filter, add_server, &c);
        json_array_end(&j);
        json_object_end(&j);
        if (json_ok(&j))
                data = json_steal(&j, &len);
        json_done(&j);
        if (!data)
                return;
        (void) crypto_generichash(h, sizeof(h), (const unsigned char *) data, len, NULL, 0);
        if (x->sent && memcmp(h, x->last, sizeof(h)) == 0)
                return;
        memcpy(x->last, h, sizeof(h));
        x->sent = true;
        (void) sse_stream_send(x->s, NULL, "servers", data, len);
}

static void arm(struct webd_statefeed *f) {
        if (f->n > 0 && !h2o_timeout_is_linked(&f->tick_entry))
                h2o_timeout_link(f->w->loop, &f->tick, &f->tick_entry);
}

static void on_list(const struct rpc_core_reply *r, void *arg) {
        struct webd_statefeed *f = arg;
        const msgpack_object_array *host = NULL;

        f->asking = false;
        if (!r->failed && r->result && r->result->type == MSGPACK_OBJECT_ARRAY)
                host = &r->result->via.array;
        /* Without hostd there is nothing new to say; the badges keep what they show. */
        if (host)
                for (h2o_linklist_t *l = f->subs.next; l != &f->subs; l = l->next)
                        push(f, H2O_STRUCT_FROM_MEMBER(struct sub, link, l), host);
        arm(f);
}

static void ask(struct webd_statefeed *f) {
        if (f->asking || f->n == 0)
                return;
        if (webd_hostlist_refresh(f->w->hostlist, on_list, f) >= 0)
                f->asking = true;
        else
                arm(f);
}

static void on_tick(h2o_timeout_entry_t *e) {
        struct webd_statefeed *f = H2O_STRUCT_FROM_MEMBER(struct webd_statefeed, tick_entry, e);

        ask(f);
}

int webd_statefeed_new(struct webd *w, struct webd_statefeed **ret) {
        struct webd_statefeed *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->w = w;
        h2o_linklist_init_anchor(&f->subs);
        h2o_timeout_init(w->loop, &f->tick, WEBD_STATEFEED_MS);
        f->tick_entry.cb = on_tick;
        *ret = f;
        return 0;
}

void webd_statefeed_free(struct webd_statefeed *f) {
        if (!f)
                return;
        while (!h2o_linklist_is_empty(&f->subs)) {
                struct sub *x = H2O_STRUCT_FROM_MEMBER(struct sub, link, f->subs.next);
                h2o_linklist_unlink(&x->link);
                x->f = NULL;
        }
        if (h2o_timeout_is_linked(&f->tick_entry))
                h2o_timeout_unlink(&f->tick_entry);
        h2o_timeout_dispose(f->w->loop, &f->tick);
        free(f);
}

unsigned webd_statefeed_streams(const struct webd_statefeed *f) {
        return f ? f->n : 0;
}

static void sub_dispose(void *p) {
        struct sub *x = p;

        if (!x->f)
                return;
        h2o_linklist_unlink(&x->link);
        if (--x->f->n == 0 && h2o_timeout_is_linked(&x->f->tick_entry))
                h2o_timeout_unlink(&x->f->tick_entry);
        x->f = NULL;
}

int webd_statefeed_join(struct webd_rq *rq, struct sse_stream *s) {
        struct webd_statefeed *f = rq->w->statefeed;
        struct sub *x = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*x), sub_dispose);

        *x = (struct sub){.f = f, .s = s, .user_id = rq->user.is_admin ? 0 : rq->user.id};
        h2o_linklist_insert(&f->subs, &x->link);
        f->n++;
        /* The first event at once: the page may be older than the list. */
        ask(f);
        return 0;
}
