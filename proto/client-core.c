#include <stdarg.h>
#include <stdio.h>

#include "proto/client-core.h"

/* Received bytes are taken in slices of this size, each scanned before the next is appended,
 * so the input buffer never holds more than one partial message plus one slice. */
#define FEED_SLICE (64u * 1024u)

struct core_call {
        uint32_t msgid;
        bool cancelled;
        rpc_core_notify_t on_notify;
        rpc_core_reply_t on_reply;
        void *userdata;
        struct core_call *prev, *next;
};

struct rpc_core {
        struct rpc_core_config cfg;
        const struct rpc_core_ops *ops;
        void *transport;

        struct rpc_buf in, out;
        struct mp_scanner scan;
        /* Descriptors received (rpc_core_feed_fd), each with the stream position of the byte
         * it came with; in_pos is the position of in.data[0]. */
        uint64_t in_pos;
        struct {
                uint64_t pos;
                int fd;
        } fds[RPC_CORE_MAX_FDS];
        size_t n_fds;

        uint32_t next_msgid;
        unsigned n_calls;
        struct core_call *calls;
        unsigned long long stray;

        int broken;     /* 0, or the error that ended the connection */
        unsigned depth; /* nesting of core functions that may call back */
        bool freed;     /* rpc_core_free() ran inside a callback */
};

int rpc_core_new(const struct rpc_core_config *cfg, const struct rpc_core_ops *ops, void *transport,
                 struct rpc_core **ret) {
        struct rpc_core *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        if (cfg)
                c->cfg = *cfg;
        mp_limits_normalize(&c->cfg.limits);
        if (c->cfg.max_calls == 0)
                c->cfg.max_calls = RPC_CORE_DEFAULT_MAX_CALLS;
        if (c->cfg.max_out_bytes == 0)
                c->cfg.max_out_bytes = RPC_CORE_DEFAULT_MAX_OUT_BYTES;
        if (!c->cfg.peer_name)
                c->cfg.peer_name = "service";
        c->ops = ops;
        c->transport = transport;
        rpc_buf_init(&c->in, 0);
        rpc_buf_init(&c->out, c->cfg.max_out_bytes);
        mp_scanner_init(&c->scan, &c->cfg.limits);
        c->next_msgid = 1;
        *ret = c;
        return 0;
}

static void call_unlink(struct rpc_core *c, struct core_call *k) {
        if (k->prev)
                k->prev->next = k->next;
        else
                c->calls = k->next;
        if (k->next)
                k->next->prev = k->prev;
        c->n_calls--;
}

static void drop_calls(struct rpc_core *c) {
        while (c->calls) {
                struct core_call *k = c->calls;
                call_unlink(c, k);
                free(k);
        }
}

static void drop_fds(struct rpc_core *c, size_t n) {
        n = MIN(n, c->n_fds);
        for (size_t i = 0; i < n; i++)
                safe_close(c->fds[i].fd);
        memmove(c->fds, c->fds + n, (c->n_fds - n) * sizeof(c->fds[0]));
        c->n_fds -= n;
}

static void really_free(struct rpc_core *c) {
        drop_calls(c);
        drop_fds(c, c->n_fds);
        rpc_buf_done(&c->in);
        rpc_buf_done(&c->out);
        free(c);
}

struct rpc_core *rpc_core_free(struct rpc_core *c) {
        if (!c)
                return NULL;
        if (c->depth > 0) {
                /* A callback of ours is on the stack and will return into core code. */
                c->freed = true;
                drop_calls(c);
                return NULL;
        }
        really_free(c);
        return NULL;
}

void rpc_core_freep(struct rpc_core **c) {
        *c = rpc_core_free(*c);
}

/* Brackets every entry point that may run callbacks; the deferred free happens in leave(). */
static void enter(struct rpc_core *c) {
        c->depth++;
}

/* Returns false if the core is gone (the caller must not touch it any more). */
static bool leave(struct rpc_core *c) {
        if (--c->depth == 0 && c->freed) {
                really_free(c);
                return false;
        }
        return true;
}

static struct core_call *find_call(const struct rpc_core *c, uint32_t msgid) {
        for (struct core_call *k = c->calls; k; k = k->next)
                if (k->msgid == msgid)
                        return k;
        return NULL;
}

bool rpc_core_call_pending(const struct rpc_core *c, uint32_t msgid) {
        return find_call(c, msgid) != NULL;
}

unsigned rpc_core_calls(const struct rpc_core *c) {
        return c->n_calls;
}

unsigned long long rpc_core_stray(const struct rpc_core *c) {
        return c->stray;
}

int rpc_core_broken(const struct rpc_core *c) {
        return c->broken;
}

const void *rpc_core_output(const struct rpc_core *c, size_t *ret_len) {
        *ret_len = c->out.len;
        return c->out.data;
}

void rpc_core_consumed(struct rpc_core *c, size_t n) {
        rpc_buf_consume(&c->out, n);
}

/* ---- output ------------------------------------------------------------------------------ */

/* Ends packing one message that started at output length mark: a message that did not fit
 * (cap or memory) is taken back whole, so the stream never holds half a message. */
static int out_commit(struct rpc_core *c, size_t mark) {
        if (!rpc_buf_ok(&c->out)) {
                c->out.len = mark;
                c->out.failed = false;
                return -ENOBUFS;
        }
        if (c->depth == 0 && c->out.len > 0 && c->ops && c->ops->want_write)
                c->ops->want_write(c, c->transport);
        return 0;
}

int rpc_core_send_raw(struct rpc_core *c, const void *data, size_t n) {
        size_t mark = c->out.len;

        if (c->broken)
                return c->broken;
        (void) rpc_buf_append(&c->out, data, n);
        return out_commit(c, mark);
}

static uint32_t pick_msgid(struct rpc_core *c) {
        /* Ids wrap after 2^32 calls; skip 0 (easier to spot in traces) and any still in use,
         * of which there are at most max_calls. */
        for (;;) {
                uint32_t id = c->next_msgid++;
                if (id != 0 && !find_call(c, id))
                        return id;
        }
}

int rpc_core_call(struct rpc_core *c, const char *method, const struct rpc_buf *params,
                  rpc_core_notify_t on_notify, rpc_core_reply_t on_reply, void *userdata,
                  uint32_t *ret_msgid) {
        struct core_call *k;
        size_t mark = c->out.len, mlen = method ? strlen(method) : 0;
        int r;

        if (c->broken)
                return c->broken;
        if (mlen == 0 || mlen > RPC_METHOD_MAX)
                return -EINVAL;
        if (c->n_calls >= c->cfg.max_calls)
                return -EBUSY;
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->msgid = pick_msgid(c);
        k->on_notify = on_notify;
        k->on_reply = on_reply;
        k->userdata = userdata;

        rpc_pack_request_head(&c->out.pk, k->msgid, method);
        if (params && params->len > 0)
                (void) rpc_buf_append(&c->out, params->data, params->len);
        else
                (void) msgpack_pack_array(&c->out.pk, 0);
        /* Linked before out_commit: want_write may look at the calls. */
        k->next = c->calls;
        if (c->calls)
                c->calls->prev = k;
        c->calls = k;
        c->n_calls++;
        r = out_commit(c, mark);
        if (r < 0) {
                call_unlink(c, k);
                free(k);
                return r;
        }
        if (ret_msgid)
                *ret_msgid = k->msgid;
        return 0;
}

int rpc_core_cancel(struct rpc_core *c, uint32_t msgid) {
        struct core_call *k = find_call(c, msgid);
        size_t mark = c->out.len;
        int r;

        if (!k)
                return -ENOENT;
        if (k->cancelled)
                return -EALREADY;
        if (c->broken)
                return c->broken;
        (void) msgpack_pack_array(&c->out.pk, 3);
        (void) msgpack_pack_uint8(&c->out.pk, RPC_NOTIFY);
        rpc_pack_str(&c->out.pk, "rpc.cancel");
        (void) msgpack_pack_array(&c->out.pk, 1);
        (void) msgpack_pack_uint32(&c->out.pk, msgid);
        r = out_commit(c, mark);
        if (r >= 0)
                k->cancelled = true;
        return r;
}

int rpc_core_forget(struct rpc_core *c, uint32_t msgid) {
        struct core_call *k = find_call(c, msgid);

        if (!k)
                return -ENOENT;
        call_unlink(c, k);
        free(k);
        return 0;
}

/* ---- failure ----------------------------------------------------------------------------- */

/* Breaks the connection: every pending call ends with a transport error. Callbacks may free
 * the core (the caller holds enter()), which also drops the calls not yet told. */
static void break_connection(struct rpc_core *c, int error, enum rpc_code code, const char *fmt, va_list ap)
        _printf_(4, 0);
static void break_connection(struct rpc_core *c, int error, enum rpc_code code, const char *fmt,
                             va_list ap) {
        struct rpc_core_reply rep = {.transport_error = error < 0 ? error : -EIO, .failed = true, .fd = -1};

        if (c->broken)
                return;
        c->broken = rep.transport_error;
        (void) rpc_error_setv(&rep.error, code, fmt, ap);
        while (c->calls && !c->freed) {
                struct core_call *k = c->calls;
                rpc_core_reply_t cb = k->on_reply;
                void *ud = k->userdata;
                uint32_t id = k->msgid;

                call_unlink(c, k);
                free(k);
                if (cb)
                        cb(c, id, &rep, ud);
        }
}

static void fail_code(struct rpc_core *c, int error, enum rpc_code code, const char *fmt, ...)
        _printf_(4, 5);
static void fail_code(struct rpc_core *c, int error, enum rpc_code code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        break_connection(c, error, code, fmt, ap);
        va_end(ap);
}

void rpc_core_fail(struct rpc_core *c, int error, const char *fmt, ...) {
        enum rpc_code code = rpc_code_from_errno(error);
        va_list ap;

        /* Whatever broke the transport, the service is out of reach for this call. */
        if (code == RPC_INTERNAL || code == RPC_INVALID)
                code = RPC_UNAVAILABLE;
        enter(c);
        va_start(ap, fmt);
        break_connection(c, error, code, fmt, ap);
        va_end(ap);
        (void) leave(c);
}

void rpc_core_eof(struct rpc_core *c) {
        enter(c);
        if (c->n_calls > 0)
                fail_code(c, -ECONNRESET, RPC_UNAVAILABLE, "the %s closed the connection mid-call",
                          c->cfg.peer_name);
        else if (!c->broken)
                c->broken = -ECONNRESET;
        (void) leave(c);
}

/* ---- input ------------------------------------------------------------------------------- */

/* The descriptor that came with the message at stream positions [start, start + len), or -1;
 * those that came before it belong to no answer (a peer's mistake) and are closed, as are
 * extra ones with this message. */
static int take_fd(struct rpc_core *c, uint64_t start, size_t len) {
        size_t i = 0;
        int fd = -1;

        while (i < c->n_fds && c->fds[i].pos < start)
                i++;
        c->stray += i;
        drop_fds(c, i);
        if (c->n_fds > 0 && c->fds[0].pos < start + len) {
                fd = c->fds[0].fd;
                c->fds[0].fd = -1;
                for (i = 1; i < c->n_fds && c->fds[i].pos < start + len; i++)
                        c->stray++;
                drop_fds(c, i);
        }
        return fd;
}

int rpc_core_reply_take_fd(const struct rpc_core_reply *r) {
        /* Every reply is a local of dispatch_response(), which closes what is left. */
        struct rpc_core_reply *w = (struct rpc_core_reply *) r;
        int fd = w->fd;
        w->fd = -1;
        return fd;
}

static void dispatch_response(struct rpc_core *c, const struct rpc_msg *m, const char *data, size_t len,
                              uint64_t pos) {
        struct core_call *k = find_call(c, m->msgid);
        struct rpc_core_reply rep = {.raw = data, .raw_len = len, .fd = take_fd(c, pos, len)};
        rpc_core_reply_t cb;
        void *ud;

        if (!k) {
                c->stray++; /* a late answer to a call we forgot, or the peer's mistake */
                safe_close(rep.fd);
                return;
        }
        cb = k->on_reply;
        ud = k->userdata;
        call_unlink(c, k);
        free(k);
        if (rpc_error_decode(m->error, &rep.error) > 0)
                rep.failed = true;
        else
                rep.result = m->result;
        if (cb)
                cb(c, m->msgid, &rep, ud);
        safe_close(rep.fd);
}

static void dispatch_notify(struct rpc_core *c, const struct rpc_msg *m) {
        const msgpack_object *p = m->params;
        struct core_call *k;

        if (m->method_len == STRLEN("rpc.error") && memcmp(m->method, "rpc.error", m->method_len) == 0) {
                /* The server gave up on the connection (limits, too many connections) and
                 * closes it after this: its code says why. */
                struct rpc_error pe = {.code = RPC_INTERNAL, .message = "protocol error"};
                if (p->via.array.size >= 1)
                        (void) rpc_error_decode(&p->via.array.ptr[0], &pe);
                fail_code(c, -ECONNRESET, pe.code, "the %s ended the connection: %s", c->cfg.peer_name,
                          pe.message);
                return;
        }
        if (p->via.array.size != 2 || p->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            p->via.array.ptr[0].via.u64 > UINT32_MAX) {
                c->stray++; /* not a stream item: nothing else is defined for servers to send */
                return;
        }
        k = find_call(c, (uint32_t) p->via.array.ptr[0].via.u64);
        if (!k) {
                c->stray++;
                return;
        }
        if (k->on_notify)
                k->on_notify(c, k->msgid, &p->via.array.ptr[1], k->userdata);
}

static void handle_message(struct rpc_core *c, const char *data, size_t len, uint64_t pos) {
        msgpack_unpacked u;
        struct rpc_error e;
        struct rpc_msg m;
        size_t off = 0;
        bool has_id;

        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
                /* The scanner vouched for the framing, so only memory can fail here. */
                msgpack_unpacked_destroy(&u);
                fail_code(c, -ENOMEM, RPC_INTERNAL, "out of memory decoding a message from the %s",
                          c->cfg.peer_name);
                return;
        }
        if (rpc_msg_decode(&u.data, &m, &has_id, &e) < 0)
                fail_code(c, -EBADMSG, RPC_INTERNAL, "malformed message from the %s: %s", c->cfg.peer_name,
                          e.message);
        else if (m.type == RPC_RESPONSE)
                dispatch_response(c, &m, data, len, pos);
        else if (m.type == RPC_NOTIFY)
                dispatch_notify(c, &m);
        else
                c->stray++; /* a request: we serve nothing */
        msgpack_unpacked_destroy(&u);
}

static void process_input(struct rpc_core *c) {
        size_t off = 0;

        while (off < c->in.len && !c->broken && !c->freed) {
                long r = mp_scan(&c->scan, (const uint8_t *) c->in.data + off, c->in.len - off);
                if (r == 0)
                        break;
                if (r < 0) {
                        fail_code(c, (int) r, RPC_INTERNAL, "unacceptable message from the %s (%s)",
                                  c->cfg.peer_name, mp_scan_strerror(r));
                        break;
                }
                mp_scanner_reset(&c->scan);
                handle_message(c, c->in.data + off, (size_t) r, c->in_pos + off);
                off += (size_t) r;
        }
        if (!c->freed) {
                rpc_buf_consume(&c->in, off);
                c->in_pos += off;
        }
}

int rpc_core_feed_fd(struct rpc_core *c, int fd) {
        if (fd < 0)
                return -EBADF;
        if (c->broken || c->n_fds == RPC_CORE_MAX_FDS) {
                safe_close(fd);
                c->stray++;
                return c->broken ? c->broken : -EMFILE;
        }
        c->fds[c->n_fds].pos = c->in_pos + c->in.len;
        c->fds[c->n_fds++].fd = fd;
        return 0;
}

int rpc_core_feed(struct rpc_core *c, const void *data, size_t n) {
        const char *p = data;
        int r;

        if (c->broken)
                return c->broken;
        /* From inside a callback the message being dispatched points into the input buffer,
         * which appending could move. */
        if (c->depth > 0)
                return -EDEADLK;
        enter(c);
        while (n > 0 && !c->broken && !c->freed) {
                size_t k = MIN(n, FEED_SLICE);
                if (rpc_buf_append(&c->in, p, k) < 0) {
                        fail_code(c, -ENOMEM, RPC_INTERNAL, "out of memory reading from the %s",
                                  c->cfg.peer_name);
                        break;
                }
                p += k;
                n -= k;
                process_input(c);
        }
        r = c->freed ? -ECANCELED : c->broken;
        if (!leave(c))
                return -ECANCELED;
        if (r == 0 && c->out.len > 0 && c->ops && c->ops->want_write)
                c->ops->want_write(c, c->transport); /* callbacks queued calls */
        return r;
}
