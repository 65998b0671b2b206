/* Descriptors with answers: the server core and the client core joined by a real AF_UNIX
 * socketpair, moved by fdpass_send/fdpass_recv the way the transports do, in slices small
 * enough that answers split across several sends. Each descriptor must reach the answer it
 * was attached to, and none may leak. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <msgpack.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/client-core.h"
#include "proto/fdpass.h"
#include "proto/server.h"

/* A pipe whose read end carries `tag` (what the far side reads back). */
static int tagged_fd(const char *tag) {
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(write(p[1], tag, strlen(tag)), (ssize_t) strlen(tag));
        close(p[1]);
        return p[0];
}

static bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

static unsigned open_fds(void) {
        unsigned n = 0;
        for (int fd = 0; fd < 256; fd++)
                n += fd_open(fd);
        return n;
}

/* t.fd {tag}: answers "ok" with a pipe carrying tag; t.nofd: a plain answer; t.failfd: attaches
 * one, then fails (the descriptor must be closed, not sent). */
static int m_fd(struct rpc_call *call, const msgpack_object *params, void *ud) {
        const msgpack_object *tag = rpc_map_get(&params->via.array.ptr[0], "tag");
        char buf[32] = "";
        if (tag && tag->type == MSGPACK_OBJECT_STR && tag->via.str.size < sizeof(buf))
                memcpy(buf, tag->via.str.ptr, tag->via.str.size);
        cr_assert_eq(rpc_call_attach_fd(call, tagged_fd(buf)), 0);
        cr_assert_eq(rpc_call_attach_fd(call, tagged_fd("second")), -EBUSY);
        rpc_pack_str(rpc_call_result(call), buf);
        return rpc_call_reply(call);
}

static int m_nofd(struct rpc_call *call, const msgpack_object *params, void *ud) {
        /* Big enough that it spans several of the test's sends. */
        static char big[3000];
        memset(big, 'x', sizeof(big) - 1);
        rpc_pack_str(rpc_call_result(call), big);
        return rpc_call_reply(call);
}

static int m_failfd(struct rpc_call *call, const msgpack_object *params, void *ud) {
        cr_assert_eq(rpc_call_attach_fd(call, tagged_fd("never")), 0);
        return rpc_call_fail(call, RPC_CONFLICT, "no");
}

static int try_result, try_fd;
static int m_tryfd(struct rpc_call *call, const msgpack_object *params, void *ud) {
        try_fd = tagged_fd("try");
        try_result = rpc_call_attach_fd(call, try_fd);
        return rpc_call_reply_nil(call);
}

static const struct rpc_method methods[] = {
        {"t.tryfd", m_tryfd, RPC_MAY_ANYONE},
        {"t.fd", m_fd, RPC_MAY_ANYONE},
        {"t.nofd", m_nofd, RPC_MAY_ANYONE},
        {"t.failfd", m_failfd, RPC_MAY_ANYONE},
};

static void want_write(struct rpc_conn *c, void *t) {
}
static const struct rpc_conn_ops passing = {.want_write = want_write, .passes_fds = true};
static const struct rpc_conn_ops not_passing = {.want_write = want_write};

struct got {
        unsigned n;
        char result[8][32];
        char from_fd[8][32];
        bool failed[8];
};

static void on_reply(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *r, void *ud) {
        struct got *g = ud;
        unsigned i = g->n++;
        int fd;

        cr_assert(i < 8);
        g->failed[i] = r->failed;
        if (!r->failed && r->result->type == MSGPACK_OBJECT_STR)
                snprintf(g->result[i], sizeof(g->result[i]), "%.*s", (int) MIN(r->result->via.str.size, 31u),
                         r->result->via.str.ptr);
        fd = rpc_core_reply_take_fd(r);
        cr_assert_eq(rpc_core_reply_take_fd(r), -1, "taken twice");
        if (fd >= 0) {
                ssize_t k = read(fd, g->from_fd[i], sizeof(g->from_fd[i]) - 1);
                cr_assert_geq(k, 0);
                close(fd);
        }
}

static void call(struct rpc_core *c, const char *method, const char *tag, struct got *g) {
        struct rpc_buf p;
        uint32_t id;
        rpc_buf_init(&p, 0);
        rpc_pack_params_map(&p.pk, tag ? 1 : 0);
        if (tag)
                rpc_pack_kv_str(&p.pk, "tag", tag);
        cr_assert_eq(rpc_core_call(c, method, &p, NULL, on_reply, g, &id), 0);
        rpc_buf_done(&p);
}

/* Moves the client's requests into the server, then the server's output to the client in
 * sends of at most `slice` bytes, as server-sdevent.c does. */
static void pump(struct rpc_core *cl, struct rpc_conn *conn, int sv_sock, int cl_sock, size_t slice) {
        size_t n;
        const void *p = rpc_core_output(cl, &n);
        cr_assert_eq(rpc_conn_feed(conn, p, n), 0);
        rpc_core_consumed(cl, n);
        for (;;) {
                size_t off, next;
                const void *q = rpc_conn_output(conn, &n);
                int fd = rpc_conn_output_fd(conn, &off, &next);
                ssize_t k;
                if (n == 0)
                        break;
                n = MIN(n, slice);
                if (fd >= 0 && off > 0) {
                        n = MIN(n, off);
                        fd = -1;
                } else if (fd >= 0)
                        n = MIN(n, next);
                k = fdpass_send(sv_sock, q, n, MSG_DONTWAIT, fd);
                cr_assert_gt(k, 0, "send: %s", strerror((int) -k));
                rpc_conn_consumed(conn, (size_t) k);
                for (;;) {
                        char buf[97]; /* odd, so reads split messages too */
                        int fds[FDPASS_MAX_FDS];
                        size_t n_fds;
                        ssize_t r = fdpass_recv(cl_sock, buf, sizeof(buf), MSG_DONTWAIT, fds, &n_fds);
                        if (r == -EAGAIN)
                                break;
                        cr_assert_gt(r, 0);
                        for (size_t i = 0; i < n_fds; i++)
                                cr_assert_eq(rpc_core_feed_fd(cl, fds[i]), 0);
                        cr_assert_eq(rpc_core_feed(cl, buf, (size_t) r), 0);
                }
        }
}

struct pair {
        struct rpc_server *s;
        struct rpc_conn *conn;
        struct rpc_core *cl;
        int sk[2];
};

static void pair_new(struct pair *p, const struct rpc_conn_ops *ops) {
        struct rpc_server_config cfg = {
                .max_conns = 4,
                .max_out_bytes = 1 << 20,
                .max_calls = 16,
                .methods = methods,
                .n_methods = sizeof(methods) / sizeof(methods[0]),
        };
        cr_assert_eq(rpc_server_new(&cfg, &p->s), 0);
        cr_assert_eq(rpc_conn_new(p->s, NULL, ops, NULL, &p->conn), 0);
        cr_assert_eq(rpc_core_new(NULL, NULL, NULL, &p->cl), 0);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->sk), 0);
}

static void pair_free(struct pair *p) {
        rpc_core_free(p->cl);
        rpc_conn_free(p->conn);
        rpc_server_free(p->s);
        close(p->sk[0]);
        close(p->sk[1]);
}

Test(fdpass, each_descriptor_reaches_its_own_answer) {
        static const size_t slices[] = {1, 7, 64, 1 << 16};
        unsigned before = open_fds();

        for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
                struct pair p;
                struct got g = {};
                pair_new(&p, &passing);
                call(p.cl, "t.fd", "one", &g);
                call(p.cl, "t.nofd", NULL, &g);
                call(p.cl, "t.fd", "two", &g);
                call(p.cl, "t.failfd", NULL, &g);
                call(p.cl, "t.fd", "three", &g);
                call(p.cl, "t.fd", "four", &g);
                pump(p.cl, p.conn, p.sk[0], p.sk[1], slices[i]);
                cr_assert_eq(g.n, 6u, "slice %zu: %u answers", slices[i], g.n);
                cr_assert_str_eq(g.result[0], "one");
                cr_assert_str_eq(g.from_fd[0], "one", "slice %zu", slices[i]);
                cr_assert_str_eq(g.from_fd[1], "", "the plain answer got a descriptor");
                cr_assert_str_eq(g.from_fd[2], "two");
                cr_assert(g.failed[3]);
                cr_assert_str_eq(g.from_fd[3], "", "a failed call sent its descriptor");
                cr_assert_str_eq(g.from_fd[4], "three");
                cr_assert_str_eq(g.from_fd[5], "four");
                pair_free(&p);
        }
        cr_assert_eq(open_fds(), before, "descriptors leaked");
}

Test(fdpass, a_transport_that_cannot_pass_refuses_and_closes) {
        struct pair p;
        struct got g = {};
        unsigned before = open_fds();

        pair_new(&p, &not_passing);
        call(p.cl, "t.tryfd", NULL, &g);
        pump(p.cl, p.conn, p.sk[0], p.sk[1], 1 << 16);
        cr_assert_eq(try_result, -EOPNOTSUPP);
        cr_assert(!fd_open(try_fd), "a refused descriptor was left open");
        cr_assert_eq(g.n, 1u);
        cr_assert(!g.failed[0]);
        cr_assert_str_eq(g.from_fd[0], "");
        pair_free(&p);
        cr_assert_eq(open_fds(), before);
}

Test(fdpass, stray_descriptors_are_closed_and_counted) {
        struct rpc_core *c;
        struct rpc_buf b;
        struct got g = {};
        uint32_t id;
        int early = tagged_fd("early"), extra[RPC_CORE_MAX_FDS + 1];

        cr_assert_eq(rpc_core_new(NULL, NULL, NULL, &c), 0);
        cr_assert_eq(rpc_core_call(c, "t.x", NULL, NULL, on_reply, &g, &id), 0);
        rpc_buf_init(&b, 0);
        /* A descriptor with a notification nobody asked for, then the answer without one. */
        rpc_pack_stream_notify_head(&b.pk, "t.x", 999);
        (void) msgpack_pack_nil(&b.pk);
        cr_assert_eq(rpc_core_feed_fd(c, early), 0);
        cr_assert_eq(rpc_core_feed(c, b.data, b.len), 0);
        rpc_buf_clear(&b);
        rpc_pack_response_head(&b.pk, id);
        rpc_pack_str(&b.pk, "plain");
        cr_assert_eq(rpc_core_feed(c, b.data, b.len), 0);
        cr_assert_eq(g.n, 1u);
        cr_assert_str_eq(g.from_fd[0], "", "the answer took a descriptor that came before it");
        cr_assert(!fd_open(early), "the stray descriptor is still open");
        cr_assert_geq(rpc_core_stray(c), 2u);
        /* A peer flooding descriptors: beyond the cap they are closed at once. */
        for (unsigned i = 0; i <= RPC_CORE_MAX_FDS; i++) {
                extra[i] = tagged_fd("flood");
                cr_assert_eq(rpc_core_feed_fd(c, extra[i]), i < RPC_CORE_MAX_FDS ? 0 : -EMFILE);
        }
        cr_assert(!fd_open(extra[RPC_CORE_MAX_FDS]));
        cr_assert_eq(rpc_core_feed_fd(c, -1), -EBADF);
        rpc_core_free(c);
        for (unsigned i = 0; i < RPC_CORE_MAX_FDS; i++)
                cr_assert(!fd_open(extra[i]), "freeing the core left descriptor %u open", i);
        rpc_buf_done(&b);
}
