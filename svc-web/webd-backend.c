/* See webd-backend.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd-backend.h"
#include "svc-web/webd-client.h"
#include "svc-web/webd.h"

struct peer {
        struct webd_backend *all;
        enum webd_peer id;
        char path[108];
        struct webd_client *client; /* NULL while closed */
        struct webd_client *dead;   /* broke; freed once its calls have all been answered */
        h2o_timeout_entry_t reap;
        h2o_linklist_t calls_list;
        unsigned calls;
        h2o_timeout_entry_t idle; /* closes the connection once no call is left */
};

struct webd_backend {
        struct webd *w;
        h2o_loop_t *loop;
        h2o_timeout_t call_timeout, idle_timeout, zero;
        struct peer peers[_WEBD_PEER_MAX];
};

struct webd_call {
        struct peer *p;
        h2o_linklist_t link;
        struct webd_client *client; /* the connection it went out on */
        uint32_t msgid;
        webd_notify_fn on_notify;
        webd_reply_fn on_reply;
        void *userdata;
        h2o_timeout_entry_t timeout;
};

static const char *const peer_names[_WEBD_PEER_MAX] = {
        [WEBD_PEER_HOST] = "host service",
        [WEBD_PEER_JOBS] = "job service",
        [WEBD_PEER_LOGS] = "log service",
};
static const char *const peer_sockets[_WEBD_PEER_MAX] = {
        [WEBD_PEER_HOST] = "host",
        [WEBD_PEER_JOBS] = "jobs",
        [WEBD_PEER_LOGS] = "logs",
};

const char *webd_peer_name(enum webd_peer peer) {
        return (unsigned) peer < _WEBD_PEER_MAX ? peer_names[peer] : "service";
}

static void peer_close(struct peer *p) {
        if (h2o_timeout_is_linked(&p->idle))
                h2o_timeout_unlink(&p->idle);
        if (h2o_timeout_is_linked(&p->reap))
                h2o_timeout_unlink(&p->reap);
        p->client = webd_client_free(p->client);
        p->dead = webd_client_free(p->dead);
}

static void on_reap(h2o_timeout_entry_t *entry) {
        struct peer *p = H2O_STRUCT_FROM_MEMBER(struct peer, reap, entry);

        p->dead = webd_client_free(p->dead);
}

static void on_idle(h2o_timeout_entry_t *entry) {
        struct peer *p = H2O_STRUCT_FROM_MEMBER(struct peer, idle, entry);

        if (p->calls == 0)
                peer_close(p);
}

static void call_free(struct webd_call *c) {
        struct peer *p = c->p;

        if (h2o_timeout_is_linked(&c->timeout))
                h2o_timeout_unlink(&c->timeout);
        h2o_linklist_unlink(&c->link);
        free(c);
        p->calls--;
        if (p->calls == 0 && p->client && !h2o_timeout_is_linked(&p->idle))
                h2o_timeout_link(p->all->loop, &p->all->idle_timeout, &p->idle);
        if (p->calls == 0)
                webd_idle_check(p->all->w);
}

static void core_notify(struct rpc_core *core, uint32_t msgid, const msgpack_object *payload,
                        void *userdata) {
        struct webd_call *c = userdata;

        if (c->on_notify)
                c->on_notify(c, payload, c->userdata);
}

static void core_reply(struct rpc_core *core, uint32_t msgid, const struct rpc_core_reply *r,
                       void *userdata) {
        struct webd_call *c = userdata;
        struct peer *p = c->p;

        c->on_reply(c, r, c->userdata);
        /* A broken connection is not reused: the next call reconnects. It is freed only on
         * the next loop iteration, as freeing the core now would drop the other calls on it
         * without their answers. */
        if (r->transport_error < 0 && p->client == c->client) {
                if (p->dead) /* an older one, long answered */
                        p->dead = webd_client_free(p->dead);
                p->dead = p->client;
                p->client = NULL;
                if (!h2o_timeout_is_linked(&p->reap))
                        h2o_timeout_link(p->all->loop, &p->all->zero, &p->reap);
        }
        call_free(c);
}

static void on_call_timeout(h2o_timeout_entry_t *entry) {
        struct webd_call *c = H2O_STRUCT_FROM_MEMBER(struct webd_call, timeout, entry);
        struct rpc_core *core = webd_client_core(c->client);
        struct rpc_core_reply r = {.transport_error = -ETIMEDOUT, .failed = true, .fd = -1};

        (void) rpc_error_set(&r.error, RPC_TIMEOUT, "the %s did not answer within %u s",
                             webd_peer_name(c->p->id), WEBD_CALL_TIMEOUT_MS / 1000u);
        if (core) {
                (void) rpc_core_cancel(core, c->msgid);
                (void) rpc_core_forget(core, c->msgid);
        }
        c->on_reply(c, &r, c->userdata);
        call_free(c);
}

int webd_backends_new(struct webd *w, struct webd_backend **ret) {
        struct webd_backend *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        b->w = w;
        b->loop = w->loop;
        h2o_timeout_init(b->loop, &b->call_timeout, WEBD_CALL_TIMEOUT_MS);
        h2o_timeout_init(b->loop, &b->idle_timeout, WEBD_BACKEND_IDLE_MS);
        h2o_timeout_init(b->loop, &b->zero, 0);
        for (int i = 0; i < _WEBD_PEER_MAX; i++) {
                struct peer *p = &b->peers[i];
                p->all = b;
                p->id = (enum webd_peer) i;
                p->idle.cb = on_idle;
                p->reap.cb = on_reap;
                h2o_linklist_init_anchor(&p->calls_list);
                r = config_socket_path(w->config, peer_sockets[i], p->path, sizeof(p->path));
                if (r < 0) {
                        webd_backends_free(b);
                        return r;
                }
        }
        *ret = b;
        return 0;
}

void webd_backends_free(struct webd_backend *b) {
        if (!b)
                return;
        /* Freeing a client drops its calls without calling back; their memory goes here. */
        for (int i = 0; i < _WEBD_PEER_MAX; i++) {
                struct peer *p = &b->peers[i];
                peer_close(p);
                while (!h2o_linklist_is_empty(&p->calls_list)) {
                        struct webd_call *c =
                                H2O_STRUCT_FROM_MEMBER(struct webd_call, link, p->calls_list.next);
                        if (h2o_timeout_is_linked(&c->timeout))
                                h2o_timeout_unlink(&c->timeout);
                        h2o_linklist_unlink(&c->link);
                        free(c);
                }
        }
        h2o_timeout_dispose(b->loop, &b->call_timeout);
        h2o_timeout_dispose(b->loop, &b->idle_timeout);
        h2o_timeout_dispose(b->loop, &b->zero);
        free(b);
}

unsigned webd_backends_calls(const struct webd_backend *b) {
        unsigned n = 0;

        if (b)
                for (int i = 0; i < _WEBD_PEER_MAX; i++)
                        n += b->peers[i].calls;
        return n;
}

int webd_call(struct webd_backend *b, enum webd_peer peer, const char *method, const struct rpc_buf *params,
              uint64_t timeout_ms, webd_notify_fn on_notify, webd_reply_fn on_reply, void *userdata,
              struct webd_call **ret) {
        struct peer *p;
        struct webd_call *c;
        int r;

        if ((unsigned) peer >= _WEBD_PEER_MAX || !on_reply)
                return -EINVAL;
        p = &b->peers[peer];
        if (p->calls >= WEBD_BACKEND_MAX_CALLS)
                return -EBUSY;
        /* The daemon went away while nothing was asked (its connection broke with no call to
         * tell): start afresh rather than fail this call on the old connection. */
        if (p->client && rpc_core_broken(webd_client_core(p->client)) < 0) {
                p->client = webd_client_free(p->client);
                if (h2o_timeout_is_linked(&p->idle))
                        h2o_timeout_unlink(&p->idle);
        }
        if (!p->client) {
                struct rpc_core_config cfg = {.max_calls = WEBD_BACKEND_MAX_CALLS,
                                              .peer_name = peer_names[peer]};
                r = webd_client_new(b->loop, p->path, &cfg, &p->client);
                if (r < 0)
                        return r;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct webd_call){.p = p,
                                .client = p->client,
                                .on_notify = on_notify,
                                .on_reply = on_reply,
                                .userdata = userdata,
                                .timeout = {.cb = on_call_timeout}};
        r = rpc_core_call(webd_client_core(p->client), method, params, core_notify, core_reply, c,
                          &c->msgid);
        if (r < 0) {
                free(c);
                if (rpc_core_broken(webd_client_core(p->client)) < 0)
                        p->client = webd_client_free(p->client);
                return r;
        }
        p->calls++;
        h2o_linklist_insert(&p->calls_list, &c->link);
        if (h2o_timeout_is_linked(&p->idle))
                h2o_timeout_unlink(&p->idle);
        if (timeout_ms) {
                /* h2o's timeouts have one fixed duration each: every call uses the default. */
                h2o_timeout_link(b->loop, &b->call_timeout, &c->timeout);
        }
        if (ret)
                *ret = c;
        return 0;
}

void webd_call_cancel(struct webd_call *c) {
        struct rpc_core *core;

        if (!c)
                return;
        core = c->client == c->p->client || c->client == c->p->dead ? webd_client_core(c->client) : NULL;
        if (core) {
                (void) rpc_core_cancel(core, c->msgid);
                (void) rpc_core_forget(core, c->msgid);
        }
        call_free(c);
}
