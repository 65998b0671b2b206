/* Envelope encoding/decoding and the loop-agnostic server core, driven in-process: bytes in,
 * bytes out, no sockets. */
#include <criterion/criterion.h>
#include <msgpack.h>

#include "proto/args.h"
#include "proto/rpc.h"
#include "proto/server.h"

static msgpack_unpacked unpack_one(const char *data, size_t len, size_t *off) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        cr_assert_eq(msgpack_unpack_next(&u, data, len, off), MSGPACK_UNPACK_SUCCESS);
        return u;
}

Test(rpc, request_round_trip) {
        struct rpc_buf b;
        struct rpc_msg m;
        struct rpc_error e;
        bool has_id;
        size_t off = 0;
        msgpack_unpacked u;

        rpc_buf_init(&b, 0);
        rpc_pack_request_head(&b.pk, 42, "instance.start");
        rpc_pack_params_map(&b.pk, 1);
        rpc_pack_kv_str(&b.pk, "name", "7");
        u = unpack_one(b.data, b.len, &off);
        cr_assert_eq(rpc_msg_decode(&u.data, &m, &has_id, &e), 0);
        cr_assert_eq(m.type, RPC_REQUEST);
        cr_assert_eq(m.msgid, 42u);
        cr_assert_eq(m.method_len, strlen("instance.start"));
        cr_assert(memcmp(m.method, "instance.start", m.method_len) == 0);
        cr_assert(rpc_obj_is_str(rpc_map_get(&m.params->via.array.ptr[0], "name"), "7"));
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&b);
}

Test(rpc, error_response_round_trip) {
        struct rpc_buf b;
        struct rpc_msg m;
        struct rpc_error e, got;
        bool has_id;
        size_t off = 0;
        msgpack_unpacked u;

        rpc_buf_init(&b, 0);
        rpc_pack_error_response(&b.pk, 7, RPC_CONFLICT, "name: 'x' exists");
        u = unpack_one(b.data, b.len, &off);
        cr_assert_eq(rpc_msg_decode(&u.data, &m, &has_id, &e), 0);
        cr_assert_eq(m.type, RPC_RESPONSE);
        cr_assert_eq(rpc_error_decode(m.error, &got), 1);
        cr_assert_eq(got.code, RPC_CONFLICT);
        cr_assert_str_eq(got.message, "name: 'x' exists");
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&b);
}

Test(rpc, code_names_round_trip) {
        for (int c = 1; c < _RPC_CODE_MAX; c++) {
                const char *s = rpc_code_to_string((enum rpc_code) c);
                cr_assert_eq(rpc_code_from_string(s, strlen(s)), (enum rpc_code) c);
                cr_assert_eq(rpc_code_from_errno(rpc_code_to_errno((enum rpc_code) c)), (enum rpc_code) c,
                             "%s", s);
        }
        cr_assert_eq(rpc_code_from_string("bogus", 5), RPC_INTERNAL);
}

static void expect_bad_envelope(void (*pack)(msgpack_packer *), bool want_id) {
        struct rpc_buf b;
        struct rpc_msg m;
        struct rpc_error e = {};
        bool has_id;
        size_t off = 0;
        msgpack_unpacked u;
        rpc_buf_init(&b, 0);
        pack(&b.pk);
        u = unpack_one(b.data, b.len, &off);
        cr_assert_eq(rpc_msg_decode(&u.data, &m, &has_id, &e), -EBADMSG);
        cr_assert_eq(has_id, want_id);
        cr_assert_eq(e.code, RPC_INVALID);
        cr_assert(strlen(e.message) > 0);
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&b);
}

static void p_not_array(msgpack_packer *pk) {
        msgpack_pack_map(pk, 0);
}
static void p_short(msgpack_packer *pk) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_int(pk, 0);
        msgpack_pack_int(pk, 1);
}
static void p_bad_type(msgpack_packer *pk) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 3);
        msgpack_pack_int(pk, 1);
        rpc_pack_str(pk, "x");
        msgpack_pack_array(pk, 0);
}
static void p_big_id(msgpack_packer *pk) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_uint64(pk, 1ULL << 40);
        rpc_pack_str(pk, "x");
        msgpack_pack_array(pk, 0);
}
static void p_neg_id(msgpack_packer *pk) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_int(pk, -1);
        rpc_pack_str(pk, "x");
        msgpack_pack_array(pk, 0);
}
static void p_empty_method(msgpack_packer *pk) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_int(pk, 1);
        rpc_pack_str(pk, "");
        msgpack_pack_array(pk, 0);
}
static void p_long_method(msgpack_packer *pk) {
        char s[RPC_METHOD_MAX + 2];
        memset(s, 'm', sizeof(s) - 1);
        s[sizeof(s) - 1] = 0;
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_int(pk, 1);
        rpc_pack_str(pk, s);
        msgpack_pack_array(pk, 0);
}
static void p_params_map(msgpack_packer *pk) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_int(pk, 1);
        rpc_pack_str(pk, "x");
        msgpack_pack_map(pk, 0);
}
static void p_method_int(msgpack_packer *pk) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_int(pk, 1);
        msgpack_pack_int(pk, 5);
        msgpack_pack_array(pk, 0);
}

Test(rpc, malformed_envelopes_are_named) {
        expect_bad_envelope(p_not_array, false);
        expect_bad_envelope(p_short, false);
        expect_bad_envelope(p_bad_type, false);
        expect_bad_envelope(p_big_id, false);
        expect_bad_envelope(p_neg_id, false);
        expect_bad_envelope(p_empty_method, true);
        expect_bad_envelope(p_long_method, true);
        expect_bad_envelope(p_params_map, true);
        expect_bad_envelope(p_method_int, true);
}

Test(rpc, buffer_cap_fails_sticky) {
        struct rpc_buf b;
        rpc_buf_init(&b, 10);
        rpc_pack_str(&b.pk, "0123456789abcdef");
        cr_assert(!rpc_buf_ok(&b));
        rpc_pack_str(&b.pk, "x");
        cr_assert(!rpc_buf_ok(&b));
        rpc_buf_clear(&b);
        rpc_pack_str(&b.pk, "x");
        cr_assert(rpc_buf_ok(&b));
        rpc_buf_done(&b);
}

/* ---- server core, in-process --------------------------------------------------------------- */

static struct rpc_call *kept;

static int m_echo(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct {
                char *s;
        } a = {};
        static const struct rpc_arg args[] = {{"s", RPC_ARG_STR, RPC_ARG_REQUIRED, 0, 0, 100}};
        struct rpc_error e;
        if (rpc_args_parse(params, args, 1, &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        rpc_pack_str(rpc_call_result(call), a.s);
        free(a.s);
        return rpc_call_reply(call);
}

static int abandoned;
static void on_abandon(struct rpc_call *c, void *ud) {
        abandoned++;
}

static int m_defer(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        kept = call;
        rpc_call_set_abandon(call, on_abandon, NULL);
        rpc_call_defer(call);
        return 0;
}

static int m_noanswer(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return 0;
}

static int m_errno(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return -EEXIST;
}

static const struct rpc_method methods[] = {
        {"t.echo", m_echo, RPC_MAY_ANYONE},
        {"t.defer", m_defer, RPC_MAY_ANYONE},
        {"t.noanswer", m_noanswer, RPC_MAY_ANYONE},
        {"t.errno", m_errno, RPC_MAY_ANYONE},
        {"t.group", m_echo, RPC_MAY_ADMIN},
        {"t.root", m_echo, RPC_MAY_ROOT},
        {"t.jobd", m_echo, RPC_MAY_ADMIN | RPC_MAY(RPC_CALLER_JOBD)},
        {"t.nobody", m_echo, 0},
};

/* The daemons' users and the operators' group of these tests. */
#define TEST_IDS                                                                                            \
        { .jobd = 900, .logd = 901, .webd = 902, .operators = 1234 }

static int kicks;
static void want_write(struct rpc_conn *c, void *t) {
        kicks++;
}
static const struct rpc_conn_ops ops = {.want_write = want_write};

static struct rpc_server *new_server(void) {
        struct rpc_server_config cfg = {
                .limits = {.max_bytes = 4096},
                .max_conns = 2,
                .identities = TEST_IDS,
                .methods = methods,
                .n_methods = ELEMENTSOF(methods),
        };
        struct rpc_server *s;
        cr_assert_eq(rpc_server_new(&cfg, &s), 0);
        return s;
}

static void pack_echo(struct rpc_buf *b, uint32_t id, const char *method, const char *s) {
        rpc_pack_request_head(&b->pk, id, method);
        rpc_pack_params_map(&b->pk, 1);
        rpc_pack_kv_str(&b->pk, "s", s);
}

/* Decodes all complete messages of the connection's output into an array of objects. */
struct out {
        msgpack_unpacked u[16];
        int n;
};

static void read_output(struct rpc_conn *c, struct out *o) {
        size_t len, off = 0;
        const char *p = rpc_conn_output(c, &len);
        o->n = 0;
        while (off < len && o->n < 16) {
                msgpack_unpacked_init(&o->u[o->n]);
                cr_assert_eq(msgpack_unpack_next(&o->u[o->n], p, len, &off), MSGPACK_UNPACK_SUCCESS);
                o->n++;
        }
        rpc_conn_consumed(c, len);
}

static void out_done(struct out *o) {
        for (int i = 0; i < o->n; i++)
                msgpack_unpacked_destroy(&o->u[i]);
}

static void expect_response(const msgpack_object *o, uint32_t id, const char *code) {
        struct rpc_msg m;
        struct rpc_error e;
        bool has_id;
        cr_assert_eq(rpc_msg_decode(o, &m, &has_id, &e), 0);
        cr_assert_eq(m.type, RPC_RESPONSE);
        cr_assert_eq(m.msgid, id);
        if (code) {
                cr_assert_eq(rpc_error_decode(m.error, &e), 1);
                cr_assert_str_eq(rpc_code_to_string(e.code), code, "message: %s", e.message);
        } else
                cr_assert_eq(m.error->type, MSGPACK_OBJECT_NIL);
}

Test(server, pipelined_requests_in_one_feed) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        struct rpc_peer peer = {.uid = 1000, .gid = 1000};
        struct rpc_buf b;
        struct out o;

        cr_assert_eq(rpc_conn_new(s, &peer, &ops, NULL, &c), 0);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 1, "t.echo", "a");
        pack_echo(&b, 2, "t.echo", "b");
        pack_echo(&b, 3, "t.nope", "c");
        pack_echo(&b, 4, "t.errno", "d");
        pack_echo(&b, 5, "t.noanswer", "e");
        cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
        read_output(c, &o);
        cr_assert_eq(o.n, 5);
        expect_response(&o.u[0].data, 1, NULL);
        cr_assert(rpc_obj_is_str(&o.u[0].data.via.array.ptr[3], "a"));
        expect_response(&o.u[1].data, 2, NULL);
        expect_response(&o.u[2].data, 3, "invalid");
        expect_response(&o.u[3].data, 4, "conflict");
        expect_response(&o.u[4].data, 5, "internal");
        out_done(&o);
        rpc_buf_done(&b);
        rpc_conn_free(c);
        rpc_server_free(s);
}

Test(server, split_at_every_byte_gives_the_same_answer) {
        struct rpc_buf b;
        rpc_buf_init(&b, 0);
        pack_echo(&b, 9, "t.echo", "split me");
        for (size_t cut = 0; cut <= b.len; cut++) {
                struct rpc_server *s = new_server();
                struct rpc_conn *c;
                struct out o;
                cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
                cr_assert_eq(rpc_conn_feed(c, b.data, cut), 0);
                cr_assert_eq(rpc_conn_feed(c, b.data + cut, b.len - cut), 0);
                read_output(c, &o);
                cr_assert_eq(o.n, 1, "cut %zu", cut);
                expect_response(&o.u[0].data, 9, NULL);
                out_done(&o);
                rpc_conn_free(c);
                rpc_server_free(s);
        }
        rpc_buf_done(&b);
}

Test(server, peers_are_classified_by_uid_first) {
        struct rpc_identities ids = TEST_IDS, none = {0};
        struct rpc_peer stranger = {.uid = 1000, .gid = 1000};
        struct rpc_peer member = {.uid = 1001, .gid = 1001, .n_groups = 2, .groups = {5, 1234}};
        struct rpc_peer primary = {.uid = 1002, .gid = 1234};
        struct rpc_peer root = {.uid = 0, .gid = 0};
        /* The daemons' units put them in the operators' group to reach the sockets: they
         * stay what their uid says. */
        struct rpc_peer jobd = {.uid = 900, .gid = 900, .n_groups = 1, .groups = {1234}};
        struct rpc_peer logd = {.uid = 901, .gid = 1234}, webd = {.uid = 902, .gid = 902};
        struct rpc_peer tcp = {.uid = (uid_t) -1, .gid = (gid_t) -1};
        struct rpc_peer in_root_group = {.uid = 1003, .gid = 0};

        cr_assert_eq(rpc_peer_classify(&stranger, &ids), RPC_CALLER_NONE);
        cr_assert_eq(rpc_peer_classify(&member, &ids), RPC_CALLER_OPERATOR);
        cr_assert_eq(rpc_peer_classify(&primary, &ids), RPC_CALLER_OPERATOR);
        cr_assert_eq(rpc_peer_classify(&root, &ids), RPC_CALLER_ROOT);
        cr_assert_eq(rpc_peer_classify(&jobd, &ids), RPC_CALLER_JOBD);
        cr_assert_eq(rpc_peer_classify(&logd, &ids), RPC_CALLER_LOGD);
        cr_assert_eq(rpc_peer_classify(&webd, &ids), RPC_CALLER_WEBD);
        cr_assert_eq(rpc_peer_classify(&tcp, &ids), RPC_CALLER_NONE);
        /* A zeroed table knows root alone; gid 0 is not an operators' group. */
        cr_assert_eq(rpc_peer_classify(&in_root_group, &none), RPC_CALLER_NONE);
        cr_assert_eq(rpc_peer_classify(&jobd, &none), RPC_CALLER_NONE);
        cr_assert_eq(rpc_peer_classify(&member, &none), RPC_CALLER_NONE);
        cr_assert_eq(rpc_peer_classify(&root, &none), RPC_CALLER_ROOT);
}

/* The error message of response i of o. */
static const char *response_message(struct out *o, int i) {
        static struct rpc_error e;
        cr_assert_eq(rpc_error_decode(&o->u[i].data.via.array.ptr[2], &e), 1);
        return e.message;
}

Test(server, each_method_is_open_to_its_callers_only) {
        struct rpc_server *s = new_server();
        struct rpc_peer stranger = {.uid = 1000, .gid = 1000};
        struct rpc_peer member = {.uid = 1001, .gid = 1001, .n_groups = 2, .groups = {5, 1234}};
        struct rpc_peer root = {.uid = 0, .gid = 0};
        struct rpc_peer jobd = {.uid = 900, .gid = 900, .n_groups = 1, .groups = {1234}};
        struct rpc_peer webd = {.uid = 902, .gid = 902, .n_groups = 1, .groups = {1234}};
        const struct rpc_peer *peers[] = {&stranger, &member, &root, &jobd, &webd, NULL};
        /* t.echo, t.group (admin), t.root, t.jobd (admin + jobd), t.nobody */
        const char *want[][5] = {
                {NULL, "denied", "denied", "denied", "denied"}, /* stranger */
                {NULL, NULL, "denied", NULL, "denied"},         /* operator */
                {NULL, NULL, NULL, NULL, "denied"},             /* root */
                {NULL, "denied", "denied", NULL, "denied"},     /* jobd: not an operator */
                {NULL, "denied", "denied", "denied", "denied"}, /* webd */
                {NULL, "denied", "denied", "denied", "denied"}, /* no credentials */
        };
        const char *names[] = {"t.echo", "t.group", "t.root", "t.jobd", "t.nobody"};

        for (size_t i = 0; i < ELEMENTSOF(peers); i++) {
                struct rpc_conn *c;
                struct rpc_buf b;
                struct out o;
                cr_assert_eq(rpc_conn_new(s, peers[i], &ops, NULL, &c), 0);
                rpc_buf_init(&b, 0);
                for (size_t m = 0; m < ELEMENTSOF(names); m++)
                        pack_echo(&b, (uint32_t) m + 1, names[m], "x");
                cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
                read_output(c, &o);
                cr_assert_eq(o.n, (int) ELEMENTSOF(names));
                for (size_t m = 0; m < ELEMENTSOF(names); m++)
                        expect_response(&o.u[m].data, (uint32_t) m + 1, want[i][m]);
                if (i == 4) /* the denial says who may and who you are */
                        cr_assert_str_eq(response_message(&o, 3),
                                         "permission denied: 't.jobd' is for root, operators and jobd "
                                         "(you are webd)");
                if (i == 0) {
                        cr_assert_str_eq(response_message(&o, 2),
                                         "permission denied: 't.root' is for root (you are none of them: "
                                         "not root, not in the operators' group)");
                        cr_assert_str_eq(response_message(&o, 4),
                                         "permission denied: 't.nobody' is for nobody (you are none of "
                                         "them: not root, not in the operators' group)");
                }
                out_done(&o);
                rpc_buf_done(&b);
                rpc_conn_free(c);
        }
        rpc_server_free(s);
}

Test(server, connection_limit_answers_then_closes) {
        struct rpc_server *s = new_server();
        struct rpc_peer root = {.uid = 0};
        struct rpc_conn *a, *b, *c;
        struct out o;
        /* As root, whom no share or reserve limits: max_conns holds for everyone. */
        cr_assert_eq(rpc_conn_new(s, &root, &ops, NULL, &a), 0);
        cr_assert_eq(rpc_conn_new(s, &root, &ops, NULL, &b), 0);
        cr_assert_eq(rpc_conn_new(s, &root, &ops, NULL, &c), -EMFILE);
        cr_assert(rpc_conn_closing(c));
        read_output(c, &o);
        cr_assert_eq(o.n, 1);
        cr_assert_eq(o.u[0].data.via.array.ptr[0].via.u64, RPC_NOTIFY);
        out_done(&o);
        rpc_conn_free(c);
        rpc_conn_free(b);
        rpc_conn_free(a);
        cr_assert(rpc_server_is_idle(s));
        rpc_server_free(s);
}

/* The refusal a connection got: its one notification's message. */
static void expect_refused(struct rpc_conn *c, const char *message) {
        struct out o;
        struct rpc_error e;

        cr_assert(rpc_conn_closing(c));
        read_output(c, &o);
        cr_assert_eq(o.n, 1);
        cr_assert_eq(rpc_error_decode(&o.u[0].data.via.array.ptr[2].via.array.ptr[0], &e), 1);
        cr_assert_str_eq(e.message, message);
        out_done(&o);
}

Test(server, one_uid_cannot_take_every_connection) {
        struct rpc_server_config cfg = {.max_conns = 8,
                                        .identities = TEST_IDS,
                                        .methods = methods,
                                        .n_methods = ELEMENTSOF(methods)};
        struct rpc_peer alice = {.uid = 1000}, bob = {.uid = 1001}, root = {.uid = 0}, daemon = {.uid = 900};
        struct rpc_peer other = {.uid = 3000};
        struct rpc_conn *c[16], *refused;
        struct rpc_server *s;
        unsigned n = 0;

        cr_assert_eq(rpc_server_new(&cfg, &s), 0);
        /* A uid's share is max_conns / 4 = 2; a refused connection is freed once its error
         * is out, as the transport does. */
        cr_assert_eq(rpc_conn_new(s, &alice, &ops, NULL, &c[n++]), 0);
        cr_assert_eq(rpc_conn_new(s, &alice, &ops, NULL, &c[n++]), 0);
        cr_assert_eq(rpc_conn_new(s, &alice, &ops, NULL, &refused), -EMFILE);
        expect_refused(refused, "too many connections from this user, close some first");
        rpc_conn_free(refused);
        /* Others still get in, up to max_conns - reserved (8 - 1 = 7) for all of them. */
        cr_assert_eq(rpc_conn_new(s, &bob, &ops, NULL, &c[n++]), 0);
        cr_assert_eq(rpc_conn_new(s, &bob, &ops, NULL, &c[n++]), 0);
        for (uid_t u = 2000; u < 2003; u++) {
                struct rpc_peer p = {.uid = u};
                cr_assert_eq(rpc_conn_new(s, &p, &ops, NULL, &c[n++]), 0);
        }
        cr_assert_eq(rpc_server_connections(s), 7);
        cr_assert_eq(rpc_conn_new(s, &other, &ops, NULL, &refused), -EMFILE,
                     "the reserve is not for uid 3000");
        expect_refused(refused, "too many connections, try again later");
        rpc_conn_free(refused);
        /* The reserve is for root and the daemons' users; max_conns holds for everyone. */
        cr_assert_eq(rpc_conn_new(s, &root, &ops, NULL, &c[n++]), 0);
        cr_assert_eq(rpc_conn_new(s, &daemon, &ops, NULL, &refused), -EMFILE);
        rpc_conn_free(refused);
        rpc_conn_free(c[--n]);
        cr_assert_eq(rpc_conn_new(s, &daemon, &ops, NULL, &c[n++]), 0);
        for (unsigned i = 0; i < n; i++)
                rpc_conn_free(c[i]);
        cr_assert(rpc_server_is_idle(s));
        rpc_server_free(s);
}

/* Deadlines: idle from the last message, a partial message from its first byte, none while
 * a call is pending; expiry closes, with an error only for a partial message. */
Test(server, connection_deadlines) {
        struct rpc_server_config cfg = {.max_conns = 4,
                                        .idle_timeout_usec = 60 * 1000000ULL,
                                        .message_timeout_usec = 10 * 1000000ULL,
                                        .methods = methods,
                                        .n_methods = ELEMENTSOF(methods)};
        struct rpc_peer root = {.uid = 0};
        const uint64_t S = 1000000ULL;
        struct rpc_server *s;
        struct rpc_conn *c;
        struct rpc_buf b;
        struct out o;

        cr_assert_eq(rpc_server_new(&cfg, &s), 0);
        cr_assert_eq(rpc_conn_new(s, &root, &ops, NULL, &c), 0);
        cr_assert_eq(rpc_conn_deadline(c, 100 * S), 160 * S, "idle from the first look");
        cr_assert_eq(rpc_conn_deadline(c, 130 * S), 160 * S, "idle time does not restart by itself");

        /* A whole message: answered; the idle time restarts from the next look. */
        rpc_buf_init(&b, 0);
        pack_echo(&b, 1, "t.echo", "x");
        cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
        cr_assert_eq(rpc_conn_deadline(c, 140 * S), UINT64_MAX, "output not yet read: not idle");
        read_output(c, &o);
        out_done(&o);
        cr_assert_eq(rpc_conn_deadline(c, 150 * S), 210 * S, "idle anew after the message");

        /* Half a message: 10 s from its first byte, however slowly the rest trickles in. */
        rpc_buf_done(&b);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 2, "t.echo", "partial message");
        cr_assert_eq(rpc_conn_feed(c, b.data, 3), 0);
        cr_assert_eq(rpc_conn_deadline(c, 200 * S), 210 * S);
        cr_assert_eq(rpc_conn_feed(c, b.data + 3, 2), 0);
        cr_assert_eq(rpc_conn_deadline(c, 205 * S), 210 * S, "more bytes do not extend it");
        rpc_conn_expire(c);
        cr_assert(rpc_conn_closing(c));
        read_output(c, &o);
        cr_assert_eq(o.n, 1, "the peer is told why");
        cr_assert_eq(o.u[0].data.via.array.ptr[0].via.u64, RPC_NOTIFY);
        out_done(&o);
        rpc_conn_free(c);

        /* A pending call (a stream, a deferred answer) keeps it from being idle. */
        cr_assert_eq(rpc_conn_new(s, &root, &ops, NULL, &c), 0);
        rpc_buf_done(&b);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 3, "t.defer", "x");
        cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
        cr_assert_eq(rpc_conn_deadline(c, 300 * S), UINT64_MAX);
        cr_assert_eq(rpc_conn_deadline(c, 900 * S), UINT64_MAX);
        rpc_call_reply(kept);
        read_output(c, &o);
        out_done(&o);
        cr_assert_eq(rpc_conn_deadline(c, 901 * S), 961 * S, "idle once answered");
        /* An idle close says nothing: the peer sees EOF. */
        rpc_conn_expire(c);
        cr_assert(rpc_conn_closing(c));
        read_output(c, &o);
        cr_assert_eq(o.n, 0);
        out_done(&o);
        rpc_conn_free(c);
        rpc_buf_done(&b);
        rpc_server_free(s);
}

Test(server, hostile_header_closes_with_error) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        struct out o;
        const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
        cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
        cr_assert_lt(rpc_conn_feed(c, bomb, sizeof(bomb)), 0);
        cr_assert(rpc_conn_closing(c));
        read_output(c, &o);
        cr_assert_eq(o.n, 1);
        cr_assert(rpc_obj_is_str(&o.u[0].data.via.array.ptr[1], "rpc.error"));
        out_done(&o);
        /* Nothing more is accepted on a closing connection. */
        cr_assert_lt(rpc_conn_feed(c, "\x90", 1), 0);
        rpc_conn_free(c);
        rpc_server_free(s);
}

Test(server, oversized_message_refused) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        struct rpc_buf b;
        char big[5000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 1, "t.echo", big);
        cr_assert_lt(rpc_conn_feed(c, b.data, b.len), 0);
        rpc_buf_done(&b);
        rpc_conn_free(c);
        rpc_server_free(s);
}

Test(server, deferred_call_answers_later_and_kicks_transport) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        struct rpc_buf b;
        struct out o;
        cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 77, "t.defer", "x");
        kept = NULL;
        cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
        cr_assert_not_null(kept);
        cr_assert_eq(rpc_conn_pending_calls(c), 1u);
        kicks = 0;
        msgpack_pack_int(rpc_call_notify(kept), 5);
        cr_assert_gt(kicks, 0);
        rpc_pack_str(rpc_call_result(kept), "done");
        cr_assert_eq(rpc_call_reply(kept), 0);
        cr_assert_eq(rpc_conn_pending_calls(c), 0u);
        read_output(c, &o);
        cr_assert_eq(o.n, 2);
        cr_assert_eq(o.u[0].data.via.array.ptr[0].via.u64, RPC_NOTIFY);
        expect_response(&o.u[1].data, 77, NULL);
        out_done(&o);
        rpc_buf_done(&b);
        rpc_conn_free(c);
        rpc_server_free(s);
}

Test(server, closing_connection_abandons_calls) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        struct rpc_buf b;
        cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 1, "t.defer", "x");
        kept = NULL;
        abandoned = 0;
        cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
        rpc_conn_free(c);
        cr_assert_eq(abandoned, 1);
        cr_assert(!rpc_call_alive(kept));
        cr_assert_null(rpc_call_notify(kept));
        /* Answering an orphan only frees it (ASan checks). */
        cr_assert_eq(rpc_call_fail(kept, RPC_CANCELLED, "gone"), -ECANCELED);
        rpc_buf_done(&b);
        rpc_server_free(s);
}

Test(server, rpc_cancel_notification) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        struct rpc_buf b;
        cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
        rpc_buf_init(&b, 0);
        pack_echo(&b, 5, "t.defer", "x");
        msgpack_pack_array(&b.pk, 3);
        msgpack_pack_int(&b.pk, 2);
        rpc_pack_str(&b.pk, "rpc.cancel");
        msgpack_pack_array(&b.pk, 1);
        msgpack_pack_int(&b.pk, 5);
        abandoned = 0;
        cr_assert_eq(rpc_conn_feed(c, b.data, b.len), 0);
        cr_assert_eq(abandoned, 1);
        cr_assert(!rpc_call_alive(kept));
        (void) rpc_call_fail(kept, RPC_CANCELLED, "cancelled");
        cr_assert_eq(rpc_conn_pending_calls(c), 0u);
        rpc_buf_done(&b);
        rpc_conn_free(c);
        rpc_server_free(s);
}

Test(server, idle_tracking) {
        struct rpc_server *s = new_server();
        struct rpc_conn *c;
        cr_assert(rpc_server_is_idle(s));
        cr_assert_eq(rpc_conn_new(s, NULL, &ops, NULL, &c), 0);
        cr_assert(!rpc_server_is_idle(s));
        rpc_conn_free(c);
        cr_assert(rpc_server_is_idle(s));
        rpc_server_busy_ref(s);
        cr_assert(!rpc_server_is_idle(s));
        rpc_server_busy_unref(s);
        cr_assert(rpc_server_is_idle(s));
        rpc_server_free(s);
}
