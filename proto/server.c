#include <grp.h>
#include <stdarg.h>
#include <stdio.h>

#include "proto/server.h"

#define FEED_SLICE (64u * 1024u)

struct rpc_call {
        struct rpc_server *server;
        struct rpc_conn *conn; /* NULL once the connection is gone */
        struct rpc_peer peer;
        uint32_t msgid;
        char method[RPC_METHOD_MAX + 1];
        bool in_handler, answered, deferred, cancelled;
        int fd;             /* to send with the answer (rpc_call_attach_fd), or -1 */
        uint64_t reply_pos; /* where in the connection's output stream the answer begins */
        void (*on_abandon)(struct rpc_call *c, void *userdata);
        void *abandon_userdata;
        void (*on_drain)(struct rpc_call *c, void *userdata);
        struct rpc_buf scratch; /* where packing goes when nobody listens */
        struct rpc_call *prev, *next;
};

struct rpc_conn {
        struct rpc_server *server;
        struct rpc_peer peer;
        const struct rpc_conn_ops *ops;
        void *transport;
        struct rpc_buf in;
        size_t in_off;
        struct mp_scanner scan;
        struct rpc_buf out;
        /* Descriptors owed with the output: each goes with the byte at stream position pos
         * (out_pos: the position of out.data[0]), in order; at most one per pending call. */
        uint64_t out_pos;
        struct {
                uint64_t pos;
                int fd;
        } * fds;
        size_t n_fds, cap_fds;
        bool in_feed, closing, eof;
        /* Timeouts (rpc_conn_deadline): when the connection last became idle or started a
         * message, in the adapter's clock; 0 = not. activity counts messages handled. */
        uint64_t idle_since, partial_since;
        unsigned long long activity, activity_seen;
        unsigned n_calls;
        struct rpc_call *calls;
        struct rpc_conn *prev, *next;
};

struct rpc_server {
        struct rpc_server_config cfg;
        unsigned n_conns;
        unsigned busy;
        bool idle, stopping;
        unsigned long long requests;
        struct rpc_conn *conns;
};

/* ---- server ----------------------------------------------------------------------------- */

static void update_idle(struct rpc_server *s) {
        bool idle = s->n_conns == 0 && s->busy == 0;
        if (idle == s->idle)
                return;
        s->idle = idle;
        if (s->cfg.on_idle_changed)
                s->cfg.on_idle_changed(s, idle, s->cfg.idle_userdata);
}

int rpc_server_new(const struct rpc_server_config *cfg, struct rpc_server **ret) {
        struct rpc_server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->cfg = *cfg;
        mp_limits_normalize(&s->cfg.limits);
        if (s->cfg.max_conns == 0)
                s->cfg.max_conns = 64;
        if (s->cfg.max_conns_per_uid == 0)
                s->cfg.max_conns_per_uid = MAX(s->cfg.max_conns / 4, 1u);
        if (s->cfg.reserved_conns == 0)
                s->cfg.reserved_conns = s->cfg.max_conns > 1 ? MAX(s->cfg.max_conns / 8, 1u) : 0;
        if (s->cfg.reserved_conns >= s->cfg.max_conns)
                s->cfg.reserved_conns = s->cfg.max_conns - 1;
        if (s->cfg.max_out_bytes == 0)
                s->cfg.max_out_bytes = 4u * 1024u * 1024u;
        /* A reply must always fit, or a legitimate large answer would kill its connection. */
        if (s->cfg.max_out_bytes < 2 * s->cfg.limits.max_bytes)
                s->cfg.max_out_bytes = 2 * s->cfg.limits.max_bytes;
        if (s->cfg.max_calls == 0)
                s->cfg.max_calls = 64;
        s->idle = true;
        *ret = s;
        return 0;
}

struct rpc_server *rpc_server_free(struct rpc_server *s) {
        if (!s)
                return NULL;
        while (s->conns)
                rpc_conn_free(s->conns);
        free(s);
        return NULL;
}

void rpc_server_freep(struct rpc_server **s) {
        *s = rpc_server_free(*s);
}

void rpc_server_set_idle_hook(struct rpc_server *s, void (*cb)(struct rpc_server *, bool, void *),
                              void *userdata) {
        s->cfg.on_idle_changed = cb;
        s->cfg.idle_userdata = userdata;
}

void rpc_server_set_userdata(struct rpc_server *s, void *userdata) {
        s->cfg.userdata = userdata;
}

unsigned rpc_server_connections(const struct rpc_server *s) {
        return s->n_conns;
}

bool rpc_server_is_idle(const struct rpc_server *s) {
        return s->n_conns == 0 && s->busy == 0;
}

void rpc_server_busy_ref(struct rpc_server *s) {
        s->busy++;
        update_idle(s);
}

void rpc_server_busy_unref(struct rpc_server *s) {
        if (s->busy > 0)
                s->busy--;
        update_idle(s);
}

unsigned rpc_server_busy(const struct rpc_server *s) {
        return s->busy;
}

unsigned long long rpc_server_requests(const struct rpc_server *s) {
        return s->requests;
}

static void call_abandon(struct rpc_call *c, bool conn_gone);

void rpc_server_set_stopping(struct rpc_server *s) {
        s->stopping = true;
        for (struct rpc_conn *c = s->conns; c; c = c->next)
                for (struct rpc_call *k = c->calls, *next; k; k = next) {
                        next = k->next;
                        call_abandon(k, false);
                }
}

/* ---- peers ------------------------------------------------------------------------------- */

int rpc_peer_from_socket(int fd, struct rpc_peer *ret) {
        struct ucred uc;
        socklen_t l = sizeof(uc);
        gid_t groups[ELEMENTSOF(ret->groups)];
        socklen_t gl = sizeof(groups);

        *ret = (struct rpc_peer){.pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1};
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0) {
                if (errno == ENOPROTOOPT || errno == EOPNOTSUPP)
                        return 0; /* not AF_UNIX: no identity */
                return -errno;
        }
        if (l != sizeof(uc))
                return -EIO;
        ret->pid = uc.pid;
        ret->uid = uc.uid;
        ret->gid = uc.gid;
        /* Supplementary groups; more than we keep means we only see the first ones, which can
         * only deny, never grant, access. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0) {
                ret->n_groups = gl / sizeof(gid_t);
                memcpy(ret->groups, groups, ret->n_groups * sizeof(gid_t));
        }
        return 0;
}

bool rpc_peer_in_group(const struct rpc_peer *p, gid_t g) {
        if (g == (gid_t) -1)
                return false;
        if (p->gid == g)
                return true;
        for (unsigned i = 0; i < p->n_groups; i++)
                if (p->groups[i] == g)
                        return true;
        return false;
}

static bool known_id(unsigned id) {
        return id != 0 && id != (unsigned) -1;
}

enum rpc_caller rpc_peer_classify(const struct rpc_peer *p, const struct rpc_identities *ids) {
        if (p->uid == 0)
                return RPC_CALLER_ROOT;
        if (p->uid == (uid_t) -1) /* not AF_UNIX: nobody we know */
                return RPC_CALLER_NONE;
        if (known_id(ids->jobd) && p->uid == ids->jobd)
                return RPC_CALLER_JOBD;
        if (known_id(ids->logd) && p->uid == ids->logd)
                return RPC_CALLER_LOGD;
        if (known_id(ids->webd) && p->uid == ids->webd)
                return RPC_CALLER_WEBD;
        if (known_id(ids->operators) && rpc_peer_in_group(p, ids->operators))
                return RPC_CALLER_OPERATOR;
        return RPC_CALLER_NONE;
}

const char *rpc_caller_to_string(enum rpc_caller c) {
        static const char *const names[_RPC_CALLER_MAX] = {
                [RPC_CALLER_NONE] = "other users",   [RPC_CALLER_ROOT] = "root",
                [RPC_CALLER_OPERATOR] = "operators", [RPC_CALLER_JOBD] = "jobd",
                [RPC_CALLER_LOGD] = "logd",          [RPC_CALLER_WEBD] = "webd",
        };
        return (unsigned) c < _RPC_CALLER_MAX ? names[c] : "?";
}

static bool caller_allowed(enum rpc_caller c, unsigned callers) {
        return (unsigned) c < _RPC_CALLER_MAX && (callers & RPC_MAY(c));
}

/* "permission denied: 'm' is for root, operators and jobd (you are webd)" */
static void format_denial(char *buf, size_t len, const char *method, size_t method_len, unsigned callers,
                          enum rpc_caller you) {
        size_t n = 0, k = 0, total = (size_t) __builtin_popcount(callers & RPC_MAY_ANYONE);

        n += (size_t) snprintf(buf, len, "permission denied: '%.*s' is for ", (int) method_len, method);
        for (unsigned c = 0; c < _RPC_CALLER_MAX && n < len; c++) {
                if (!(callers & RPC_MAY(c)))
                        continue;
                k++;
                n += (size_t) snprintf(buf + n, len - n, "%s%s",
                                       k == 1       ? ""
                                       : k == total ? " and "
                                                    : ", ",
                                       rpc_caller_to_string(c));
        }
        if (total == 0 && n < len)
                n += (size_t) snprintf(buf + n, len - n, "nobody");
        if (n < len)
                snprintf(buf + n, len - n, " (you are %s)",
                         you == RPC_CALLER_NONE ? "none of them: not root, not in the operators' group"
                                                : rpc_caller_to_string(you));
}

/* ---- connections ------------------------------------------------------------------------- */

static void conn_kick(struct rpc_conn *c) {
        if (!c->in_feed && c->out.len > 0 && c->ops && c->ops->want_write)
                c->ops->want_write(c, c->transport);
}

/* NULL when peer may have another connection, else why not (see rpc_server_config). */
static const char *conn_refusal(const struct rpc_server *s, const struct rpc_peer *peer) {
        uid_t uid = peer->uid;
        unsigned mine = 0;

        if (s->n_conns >= s->cfg.max_conns)
                return "too many connections, try again later";
        if (peer->caller == RPC_CALLER_ROOT || peer->caller == RPC_CALLER_JOBD ||
            peer->caller == RPC_CALLER_LOGD || peer->caller == RPC_CALLER_WEBD)
                return NULL;
        if (s->n_conns >= s->cfg.max_conns - s->cfg.reserved_conns)
                return "too many connections, try again later";
        for (const struct rpc_conn *c = s->conns; c; c = c->next)
                if (c->peer.uid == uid && ++mine >= s->cfg.max_conns_per_uid)
                        return "too many connections from this user, close some first";
        return NULL;
}

int rpc_conn_new(struct rpc_server *s, const struct rpc_peer *peer, const struct rpc_conn_ops *ops,
                 void *transport, struct rpc_conn **ret) {
        struct rpc_conn *c = calloc(1, sizeof(*c));
        const char *refusal;

        if (!c)
                return -ENOMEM;
        c->server = s;
        /* No peer: nobody (a transport without credentials). */
        c->peer = peer ? *peer : (struct rpc_peer){.uid = (uid_t) -1, .gid = (gid_t) -1};
        c->peer.caller = rpc_peer_classify(&c->peer, &s->cfg.identities);
        refusal = conn_refusal(s, &c->peer);
        c->ops = ops;
        c->transport = transport;
        rpc_buf_init(&c->in, 0);
        rpc_buf_init(&c->out, s->cfg.max_out_bytes);
        mp_scanner_init(&c->scan, &s->cfg.limits);
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        update_idle(s);
        *ret = c;
        if (refusal) {
                rpc_pack_error_notify(&c->out.pk, RPC_UNAVAILABLE, refusal);
                c->closing = true;
                return -EMFILE;
        }
        return 0;
}

static void call_free(struct rpc_call *k);

struct rpc_conn *rpc_conn_free(struct rpc_conn *c) {
        struct rpc_server *s;

        if (!c)
                return NULL;
        s = c->server;
        while (c->calls) {
                struct rpc_call *k = c->calls;
                call_abandon(k, true); /* unlinks k from c */
        }
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        for (size_t i = 0; i < c->n_fds; i++)
                safe_close(c->fds[i].fd);
        free(c->fds);
        rpc_buf_done(&c->in);
        rpc_buf_done(&c->out);
        free(c);
        update_idle(s);
        return NULL;
}

const void *rpc_conn_output(struct rpc_conn *c, size_t *ret_len) {
        *ret_len = c->out.len;
        return c->out.data;
}

int rpc_conn_output_fd(const struct rpc_conn *c, size_t *ret_offset, size_t *ret_next) {
        *ret_next = c->n_fds > 1 ? (size_t) (c->fds[1].pos - c->out_pos) : SIZE_MAX;
        if (c->n_fds == 0)
                return -1;
        /* A descriptor whose byte was consumed has been dropped in rpc_conn_consumed(). */
        *ret_offset = (size_t) (c->fds[0].pos - c->out_pos);
        return c->fds[0].fd;
}

void rpc_conn_consumed(struct rpc_conn *c, size_t n) {
        size_t half = c->server->cfg.max_out_bytes / 2, done = 0;

        n = MIN(n, c->out.len);
        rpc_buf_consume(&c->out, n);
        c->out_pos += n;
        /* Sent with their bytes (the transport's contract): the kernel holds its own copies. */
        while (done < c->n_fds && c->fds[done].pos < c->out_pos)
                safe_close(c->fds[done++].fd);
        if (done > 0) {
                memmove(c->fds, c->fds + done, (c->n_fds - done) * sizeof(*c->fds));
                c->n_fds -= done;
        }
        if (c->out.len > half)
                return;
        for (struct rpc_call *k = c->calls, *next; k; k = next) {
                next = k->next;
                if (k->on_drain) {
                        void (*cb)(struct rpc_call *, void *) = k->on_drain;
                        k->on_drain = NULL;
                        cb(k, k->abandon_userdata);
                }
        }
}

bool rpc_conn_closing(const struct rpc_conn *c) {
        return c->closing;
}

bool rpc_conn_broken(const struct rpc_conn *c) {
        return c->out.failed;
}

unsigned rpc_conn_pending_calls(const struct rpc_conn *c) {
        return c->n_calls;
}

void rpc_conn_eof(struct rpc_conn *c) {
        c->eof = true;
}

/* ---- calls ------------------------------------------------------------------------------- */

static void call_unlink(struct rpc_call *k) {
        struct rpc_conn *c = k->conn;
        if (!c)
                return;
        if (k->prev)
                k->prev->next = k->next;
        else
                c->calls = k->next;
        if (k->next)
                k->next->prev = k->prev;
        k->prev = k->next = NULL;
        c->n_calls--;
        k->conn = NULL;
}

static void call_free(struct rpc_call *k) {
        call_unlink(k);
        k->fd = safe_close(k->fd);
        rpc_buf_done(&k->scratch);
        free(k);
}

static void call_abandon(struct rpc_call *k, bool conn_gone) {
        void (*cb)(struct rpc_call *, void *) = k->on_abandon;

        k->on_abandon = NULL;
        k->on_drain = NULL;
        k->cancelled = true;
        if (conn_gone)
                call_unlink(k);
        if (cb)
                cb(k, k->abandon_userdata);
}

const struct rpc_peer *rpc_call_peer(const struct rpc_call *c) {
        return &c->peer;
}

bool rpc_call_alive(const struct rpc_call *c) {
        return c->conn && !c->cancelled && !c->conn->out.failed;
}

size_t rpc_call_output_pending(const struct rpc_call *c) {
        return c->conn ? c->conn->out.len : 0;
}

size_t rpc_call_output_cap(const struct rpc_call *c) {
        return c->server->cfg.max_out_bytes;
}

void rpc_call_set_abandon(struct rpc_call *c, void (*on_abandon)(struct rpc_call *, void *),
                          void *userdata) {
        c->on_abandon = on_abandon;
        c->abandon_userdata = userdata;
}

void rpc_call_set_drain(struct rpc_call *c, void (*on_drain)(struct rpc_call *, void *)) {
        c->on_drain = on_drain;
}

void rpc_call_defer(struct rpc_call *c) {
        c->deferred = true;
}

static msgpack_packer *call_packer(struct rpc_call *c) {
        if (c->conn)
                return &c->conn->out.pk;
        /* Nobody will read it; keep memory bounded. */
        rpc_buf_clear(&c->scratch);
        if (c->scratch.cap == 0)
                rpc_buf_init(&c->scratch, 1);
        return &c->scratch.pk;
}

int rpc_call_attach_fd(struct rpc_call *c, int fd) {
        if (fd < 0)
                return -EBADF;
        if (c->fd >= 0) {
                safe_close(fd);
                return -EBUSY;
        }
        if (!c->conn || !c->conn->ops || !c->conn->ops->passes_fds) {
                safe_close(fd);
                return c->conn ? -EOPNOTSUPP : -ECONNRESET;
        }
        c->fd = fd;
        return 0;
}

/* Queues the call's descriptor with the answer that begins at reply_pos. */
static void call_queue_fd(struct rpc_call *k) {
        struct rpc_conn *c = k->conn;

        if (k->fd < 0 || !c || c->out.failed)
                return; /* call_free() closes it */
        if (c->n_fds == c->cap_fds) {
                size_t cap = c->cap_fds ? c->cap_fds * 2 : 4;
                void *p = reallocarray(c->fds, cap, sizeof(*c->fds));
                if (!p)
                        return; /* the answer goes without it; the caller sees none came */
                c->fds = p;
                c->cap_fds = cap;
        }
        c->fds[c->n_fds].pos = k->reply_pos;
        c->fds[c->n_fds++].fd = k->fd;
        k->fd = -1;
}

msgpack_packer *rpc_call_result(struct rpc_call *c) {
        msgpack_packer *pk = call_packer(c);
        if (c->conn)
                c->reply_pos = c->conn->out_pos + c->conn->out.len;
        rpc_pack_response_head(pk, c->msgid);
        return pk;
}

static int call_finish(struct rpc_call *c) {
        struct rpc_conn *conn = c->conn;
        int r = 0;

        c->answered = true;
        if (conn) {
                if (conn->out.failed)
                        r = -ECONNRESET;
                conn_kick(conn);
        }
        if (!c->in_handler)
                call_free(c);
        else
                call_unlink(c);
        return r;
}

int rpc_call_reply(struct rpc_call *c) {
        call_queue_fd(c);
        return call_finish(c);
}

int rpc_call_reply_nil(struct rpc_call *c) {
        (void) msgpack_pack_nil(rpc_call_result(c));
        return rpc_call_reply(c);
}

int rpc_call_fail_error(struct rpc_call *c, const struct rpc_error *e) {
        enum rpc_code code = e->code == RPC_OK ? RPC_INTERNAL : e->code;
        rpc_pack_error_response(call_packer(c), c->msgid, code, e->message);
        (void) call_finish(c);
        return rpc_code_to_errno(code);
}

int rpc_call_fail(struct rpc_call *c, enum rpc_code code, const char *fmt, ...) {
        struct rpc_error e;
        va_list ap;
        va_start(ap, fmt);
        (void) rpc_error_setv(&e, code, fmt, ap);
        va_end(ap);
        return rpc_call_fail_error(c, &e);
}

msgpack_packer *rpc_call_notify(struct rpc_call *c) {
        msgpack_packer *pk;
        if (!rpc_call_alive(c))
                return NULL;
        pk = &c->conn->out.pk;
        rpc_pack_stream_notify_head(pk, c->method, c->msgid);
        conn_kick(c->conn);
        return pk;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static const struct rpc_method *find_method(const struct rpc_server *s, const char *name, size_t n,
                                            void **ret_userdata) {
        const struct rpc_method *tables[2] = {s->cfg.methods, s->cfg.methods2};
        size_t counts[2] = {s->cfg.n_methods, s->cfg.n_methods2};
        void *uds[2] = {s->cfg.userdata, s->cfg.userdata2};

        for (unsigned t = 0; t < 2; t++)
                for (size_t i = 0; i < counts[t]; i++)
                        if (strlen(tables[t][i].name) == n && memcmp(tables[t][i].name, name, n) == 0) {
                                *ret_userdata = uds[t];
                                return &tables[t][i];
                        }
        return NULL;
}

static void dispatch_request(struct rpc_conn *c, const struct rpc_msg *m) {
        struct rpc_server *s = c->server;
        const struct rpc_method *meth;
        struct rpc_call *k;
        void *ud = NULL;
        int r;

        s->requests++;
        meth = find_method(s, m->method, m->method_len, &ud);
        if (!meth) {
                char buf[RPC_METHOD_MAX + 64];
                snprintf(buf, sizeof(buf), "unknown method '%.*s'", (int) m->method_len, m->method);
                rpc_pack_error_response(&c->out.pk, m->msgid, RPC_INVALID, buf);
                return;
        }
        if (!caller_allowed(c->peer.caller, meth->callers)) {
                char buf[RPC_METHOD_MAX + 192];
                format_denial(buf, sizeof(buf), m->method, m->method_len, meth->callers, c->peer.caller);
                rpc_pack_error_response(&c->out.pk, m->msgid, RPC_DENIED, buf);
                return;
        }
        if (s->stopping) {
                rpc_pack_error_response(&c->out.pk, m->msgid, RPC_UNAVAILABLE, "service is shutting down");
                return;
        }
        if (c->n_calls >= s->cfg.max_calls) {
                rpc_pack_error_response(&c->out.pk, m->msgid, RPC_CONFLICT, "too many calls in flight");
                return;
        }

        k = calloc(1, sizeof(*k));
        if (!k) {
                rpc_pack_error_response(&c->out.pk, m->msgid, RPC_INTERNAL, "out of memory");
                return;
        }
        k->server = s;
        k->conn = c;
        k->peer = c->peer;
        k->msgid = m->msgid;
        k->fd = -1;
        memcpy(k->method, m->method, m->method_len);
        k->method[m->method_len] = 0;
        k->next = c->calls;
        if (c->calls)
                c->calls->prev = k;
        c->calls = k;
        c->n_calls++;

        k->in_handler = true;
        r = meth->handler(k, m->params, ud);
        k->in_handler = false;

        if (k->answered) {
                call_free(k);
                return;
        }
        if (r < 0) {
                struct rpc_error e;
                rpc_error_set(&e, rpc_code_from_errno(r), "%s: %s", k->method, strerror(-r));
                (void) rpc_call_fail_error(k, &e);
                return;
        }
        if (!k->deferred)
                (void) rpc_call_fail(k, RPC_INTERNAL, "%s: handler did not answer", k->method);
}

static void dispatch_notify(struct rpc_conn *c, const struct rpc_msg *m) {
        const msgpack_object *p = m->params;
        uint32_t id;

        if (m->method_len != STRLEN("rpc.cancel") || memcmp(m->method, "rpc.cancel", m->method_len) != 0)
                return; /* nothing else is defined for clients to send */
        if (p->via.array.size != 1 || p->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            p->via.array.ptr[0].via.u64 > UINT32_MAX)
                return;
        id = (uint32_t) p->via.array.ptr[0].via.u64;
        for (struct rpc_call *k = c->calls; k; k = k->next)
                if (k->msgid == id && !k->cancelled) {
                        call_abandon(k, false);
                        return;
                }
}

static void handle_message(struct rpc_conn *c, const char *data, size_t len) {
        msgpack_unpacked u;
        struct rpc_msg m;
        struct rpc_error e;
        size_t off = 0;
        bool has_id;
        msgpack_unpack_return ur;

        msgpack_unpacked_init(&u);
        ur = msgpack_unpack_next(&u, data, len, &off);
        if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
                /* The scanner vouched for the framing, so only memory can fail here. */
                rpc_pack_error_notify(&c->out.pk, RPC_INTERNAL, "cannot decode message");
                msgpack_unpacked_destroy(&u);
                return;
        }
        if (rpc_msg_decode(&u.data, &m, &has_id, &e) < 0) {
                if (has_id)
                        rpc_pack_error_response(&c->out.pk, m.msgid, e.code, e.message);
                else
                        rpc_pack_error_notify(&c->out.pk, e.code, e.message);
        } else if (m.type == RPC_REQUEST)
                dispatch_request(c, &m);
        else if (m.type == RPC_NOTIFY)
                dispatch_notify(c, &m);
        /* Responses: we never call clients, so there is nothing to match them to. */
        msgpack_unpacked_destroy(&u);
}

static int process_input(struct rpc_conn *c) {
        while (c->in_off < c->in.len && !c->closing && !c->out.failed) {
                long r = mp_scan(&c->scan, (const uint8_t *) c->in.data + c->in_off, c->in.len - c->in_off);
                if (r == 0)
                        break;
                if (r < 0) {
                        /* Framing is lost: say why, then close after the output is flushed. */
                        rpc_pack_error_notify(&c->out.pk, RPC_INVALID, mp_scan_strerror(r));
                        c->closing = true;
                        return (int) r;
                }
                mp_scanner_reset(&c->scan);
                c->activity++;
                handle_message(c, c->in.data + c->in_off, (size_t) r);
                c->in_off += (size_t) r;
        }
        if (c->in_off > 0) {
                rpc_buf_consume(&c->in, c->in_off);
                c->in_off = 0;
        }
        return 0;
}

/* ---- timeouts -------------------------------------------------------------------------- */

static bool conn_partial(const struct rpc_conn *c) {
        return c->in.len > 0;
}

uint64_t rpc_conn_deadline(struct rpc_conn *c, uint64_t now_usec) {
        const struct rpc_server_config *cfg = &c->server->cfg;
        size_t out_len = c->out.len;

        if (c->closing)
                return UINT64_MAX;             /* it goes once its output is out */
        if (c->activity != c->activity_seen) { /* a message since: the idle time starts anew */
                c->activity_seen = c->activity;
                c->idle_since = 0;
        }
        if (conn_partial(c)) {
                c->idle_since = 0;
                if (c->partial_since == 0)
                        c->partial_since = now_usec ?: 1;
                return cfg->message_timeout_usec ? c->partial_since + cfg->message_timeout_usec : UINT64_MAX;
        }
        c->partial_since = 0;
        /* Not idle while a call is pending (a deferred answer, a stream such as logs.follow) or
         * output waits for the peer to read it (the output cap deals with a peer that never
         * does). */
        if (c->n_calls > 0 || out_len > 0) {
                c->idle_since = 0;
                return UINT64_MAX;
        }
        if (c->idle_since == 0)
                c->idle_since = now_usec ?: 1;
        return cfg->idle_timeout_usec ? c->idle_since + cfg->idle_timeout_usec : UINT64_MAX;
}

void rpc_conn_expire(struct rpc_conn *c) {
        if (c->closing)
                return;
        if (conn_partial(c)) {
                char buf[96];
                snprintf(buf, sizeof(buf), "message incomplete after %llu s, closing",
                         (unsigned long long) (c->server->cfg.message_timeout_usec / 1000000ULL));
                rpc_pack_error_notify(&c->out.pk, RPC_TIMEOUT, buf);
        }
        c->closing = true;
}

int rpc_conn_feed(struct rpc_conn *c, const void *data, size_t n) {
        const char *p = data;
        int r = 0;

        if (c->closing)
                return -EPIPE;
        c->in_feed = true;
        while (n > 0 && r == 0) {
                size_t k = MIN(n, FEED_SLICE);
                if (rpc_buf_append(&c->in, p, k) < 0) {
                        c->closing = true;
                        r = -ENOMEM;
                        break;
                }
                p += k;
                n -= k;
                r = process_input(c);
        }
        c->in_feed = false;
        if (c->out.failed)
                return -ECONNRESET;
        if (r == 0 && c->closing)
                r = -EPIPE;
        return r;
}
