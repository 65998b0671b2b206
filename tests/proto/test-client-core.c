/* The loop-agnostic client core, driven in-process: the test plays the server by packing
 * its messages and reading the core's output. */
#include <criterion/criterion.h>
#include <msgpack.h>

#include "proto/client-core.h"

#define MAX_SEEN 64

struct seen_notify {
        uint32_t msgid;
        int64_t seq;
};

struct rec {
        unsigned n_replies, n_notifies;
        uint32_t reply_msgid;
        struct rpc_core_reply last;
        char message[RPC_ERROR_MESSAGE_MAX];
        int64_t result; /* the result's integer, or -1 */
        struct seen_notify notifies[MAX_SEEN];
        struct rpc_core **free_on_reply; /* frees the core from inside the callback */
        bool cancel_on_notify;
        int feed_result; /* of a feed from inside on_notify */
};

static void on_notify(struct rpc_core *c, uint32_t msgid, const msgpack_object *payload, void *userdata) {
        struct rec *r = userdata;
        int64_t seq = payload->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t) payload->via.u64 : -1;

        if (r->n_notifies < MAX_SEEN)
                r->notifies[r->n_notifies] = (struct seen_notify){msgid, seq};
        r->n_notifies++;
        if (r->cancel_on_notify)
                cr_assert_eq(rpc_core_cancel(c, msgid), 0);
        r->feed_result = rpc_core_feed(c, "\xc0", 1);
        if (r->free_on_reply)
                *r->free_on_reply = rpc_core_free(*r->free_on_reply);
}

static void on_reply(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *rep, void *userdata) {
        struct rec *r = userdata;

        r->n_replies++;
        r->reply_msgid = msgid;
        r->last = *rep;
        memcpy(r->message, rep->error.message, sizeof(r->message));
        r->result = rep->result && rep->result->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                            ? (int64_t) rep->result->via.u64
                            : -1;
        r->last.result = NULL; /* not valid after the callback */
        r->last.raw = NULL;
        if (r->free_on_reply)
                *r->free_on_reply = rpc_core_free(*r->free_on_reply);
}

static struct rpc_core *core_new(unsigned max_calls, size_t max_out, size_t max_bytes) {
        struct rpc_core_config cfg = {
                .limits = {.max_bytes = max_bytes},
                .max_calls = max_calls,
                .max_out_bytes = max_out,
                .peer_name = "test service",
        };
        struct rpc_core *c;
        cr_assert_eq(rpc_core_new(&cfg, NULL, NULL, &c), 0);
        return c;
}

static uint32_t call(struct rpc_core *c, const char *method, struct rec *r) {
        uint32_t id = 0;
        cr_assert_eq(rpc_core_call(c, method, NULL, on_notify, on_reply, r, &id), 0);
        cr_assert_neq(id, 0u);
        return id;
}

/* Server messages. */
static void pack_response(struct rpc_buf *b, uint32_t msgid, uint64_t result) {
        rpc_pack_response_head(&b->pk, msgid);
        (void) msgpack_pack_uint64(&b->pk, result);
}

static void pack_notify(struct rpc_buf *b, uint32_t msgid, uint64_t seq) {
        rpc_pack_stream_notify_head(&b->pk, "test.stream", msgid);
        (void) msgpack_pack_uint64(&b->pk, seq);
}

static int feed_buf(struct rpc_core *c, struct rpc_buf *b) {
        int r;
        cr_assert(rpc_buf_ok(b));
        r = rpc_core_feed(c, b->data, b->len);
        rpc_buf_clear(b);
        return r;
}

/* Decodes the core's output as one message and drops it. */
static void take_output(struct rpc_core *c, struct rpc_msg *ret, msgpack_unpacked *u) {
        size_t len, off = 0;
        const char *out = rpc_core_output(c, &len);
        struct rpc_error e;
        bool has_id;

        msgpack_unpacked_init(u);
        cr_assert_eq(msgpack_unpack_next(u, out, len, &off), MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(rpc_msg_decode(&u->data, ret, &has_id, &e), 0, "%s", e.message);
        rpc_core_consumed(c, off);
}

Test(client_core, call_packs_a_request) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rpc_buf params;
        struct rpc_msg m;
        msgpack_unpacked u;
        struct rec r = {};
        uint32_t id;
        size_t len;

        rpc_buf_init(&params, 0);
        rpc_pack_params_map(&params.pk, 1);
        rpc_pack_kv_str(&params.pk, "name", "7");
        cr_assert_eq(rpc_core_call(c, "instance.start", &params, NULL, on_reply, &r, &id), 0);
        take_output(c, &m, &u);
        cr_assert_eq(m.type, RPC_REQUEST);
        cr_assert_eq(m.msgid, id);
        cr_assert(m.method_len == strlen("instance.start") &&
                  !memcmp(m.method, "instance.start", m.method_len));
        cr_assert(rpc_obj_is_str(rpc_map_get(&m.params->via.array.ptr[0], "name"), "7"));
        msgpack_unpacked_destroy(&u);
        (void) rpc_core_output(c, &len);
        cr_assert_eq(len, 0u);
        cr_assert_eq(rpc_core_calls(c), 1u);
        cr_assert_eq(rpc_core_call(c, "", NULL, NULL, on_reply, &r, &id), -EINVAL);
        rpc_buf_done(&params);
        rpc_core_free(c);
}

Test(client_core, reply_fed_byte_by_byte) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec r = {};
        struct rpc_buf b;
        uint32_t id = call(c, "test.echo", &r);

        rpc_buf_init(&b, 0);
        pack_notify(&b, id, 5);
        pack_response(&b, id, 4242);
        for (size_t i = 0; i < b.len; i++) {
                cr_assert_eq(rpc_core_feed(c, b.data + i, 1), 0);
                if (i + 1 < b.len)
                        cr_assert_eq(r.n_replies, 0u, "answered before the last byte (%zu)", i);
        }
        cr_assert_eq(r.n_notifies, 1u);
        cr_assert_eq(r.notifies[0].seq, 5);
        cr_assert_eq(r.feed_result, -EDEADLK, "a callback fed the core it was called from");
        cr_assert_eq(r.n_replies, 1u);
        cr_assert_eq(r.reply_msgid, id);
        cr_assert_not(r.last.failed);
        cr_assert_eq(r.result, 4242);
        cr_assert_eq(rpc_core_calls(c), 0u);
        rpc_buf_done(&b);
        rpc_core_free(c);
}

Test(client_core, interleaved_streams_go_to_their_calls) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec a = {}, b = {};
        struct rpc_buf m;
        uint32_t ia = call(c, "test.stream", &a), ib = call(c, "test.stream", &b);

        cr_assert_neq(ia, ib);
        rpc_buf_init(&m, 0);
        for (uint64_t i = 0; i < 10; i++)
                pack_notify(&m, i % 2 ? ib : ia, i);
        pack_response(&m, ib, 2); /* answered in the other order than asked */
        pack_notify(&m, ia, 10);
        pack_response(&m, ia, 1);
        cr_assert_eq(feed_buf(c, &m), 0);

        cr_assert_eq(a.n_notifies, 6u);
        cr_assert_eq(b.n_notifies, 5u);
        for (unsigned i = 0; i < 5; i++) {
                cr_assert_eq(a.notifies[i].msgid, ia);
                cr_assert_eq(a.notifies[i].seq, 2 * i);
                cr_assert_eq(b.notifies[i].msgid, ib);
                cr_assert_eq(b.notifies[i].seq, 2 * i + 1);
        }
        cr_assert_eq(a.notifies[5].seq, 10);
        cr_assert(a.n_replies == 1 && a.result == 1);
        cr_assert(b.n_replies == 1 && b.result == 2);
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, peer_closing_mid_stream_fails_the_calls) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec a = {}, b = {};
        struct rpc_buf m;
        uint32_t ia = call(c, "test.stream", &a);

        (void) call(c, "test.echo", &b);
        rpc_buf_init(&m, 0);
        pack_notify(&m, ia, 0);
        pack_response(&m, ia, 9);
        /* Half of the next message, then the peer goes away. */
        cr_assert_eq(rpc_core_feed(c, m.data, m.len - 3), 0);
        cr_assert_eq(a.n_notifies, 1u);
        cr_assert_eq(a.n_replies, 0u);
        rpc_core_eof(c);
        cr_assert_eq(a.n_replies, 1u);
        cr_assert_eq(b.n_replies, 1u);
        cr_assert_eq(a.last.transport_error, -ECONNRESET);
        cr_assert(a.last.failed);
        cr_assert_eq(a.last.error.code, RPC_UNAVAILABLE);
        cr_assert(strstr(a.message, "test service closed the connection"), "%s", a.message);
        cr_assert_eq(rpc_core_broken(c), -ECONNRESET);
        cr_assert_eq(rpc_core_call(c, "test.echo", NULL, NULL, on_reply, &b, NULL), -ECONNRESET);
        cr_assert_eq(rpc_core_feed(c, m.data, m.len), -ECONNRESET);
        cr_assert_eq(a.n_replies, 1u, "a broken core dispatched more");
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, oversized_reply_breaks_the_connection) {
        struct rpc_core *c = core_new(0, 0, 1024);
        struct rec r = {};
        struct rpc_buf m;
        char big[2000];
        uint32_t id = call(c, "test.echo", &r);

        memset(big, 'x', sizeof(big));
        rpc_buf_init(&m, 0);
        rpc_pack_response_head(&m.pk, id);
        rpc_pack_strn(&m.pk, big, sizeof(big));
        /* Refused from the header on: no need to wait for (or buffer) the whole string. */
        cr_assert_eq(rpc_core_feed(c, m.data, 20), -EMSGSIZE);
        cr_assert_eq(r.n_replies, 1u);
        cr_assert_eq(r.last.transport_error, -EMSGSIZE);
        cr_assert(strstr(r.message, "too large"), "%s", r.message);
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, container_bomb_is_refused_before_unpacking) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec r = {};
        /* [1, 1, nil, array32 of 2^32-1 elements]: msgpack-c would reserve ~100 GB for it. */
        static const uint8_t bomb[] = {0x94, 0x01, 0x01, 0xc0, 0xdd, 0xff, 0xff, 0xff, 0xff};

        (void) call(c, "test.echo", &r);
        cr_assert_lt(rpc_core_feed(c, bomb, sizeof(bomb)), 0);
        cr_assert_eq(r.n_replies, 1u);
        cr_assert_lt(r.last.transport_error, 0);
        rpc_core_free(c);
}

Test(client_core, cancel_sends_rpc_cancel_and_waits_for_the_answer) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec r = {};
        struct rpc_buf m;
        struct rpc_msg msg;
        msgpack_unpacked u;
        uint32_t id = call(c, "test.stream", &r);

        take_output(c, &msg, &u); /* the request */
        msgpack_unpacked_destroy(&u);
        cr_assert_eq(rpc_core_cancel(c, id), 0);
        cr_assert_eq(rpc_core_cancel(c, id), -EALREADY);
        cr_assert_eq(rpc_core_cancel(c, id + 100), -ENOENT);
        take_output(c, &msg, &u);
        cr_assert_eq(msg.type, RPC_NOTIFY);
        cr_assert(msg.method_len == 10 && !memcmp(msg.method, "rpc.cancel", 10));
        cr_assert_eq(msg.params->via.array.size, 1u);
        cr_assert_eq(msg.params->via.array.ptr[0].via.u64, id);
        msgpack_unpacked_destroy(&u);
        cr_assert(rpc_core_call_pending(c, id));

        rpc_buf_init(&m, 0);
        rpc_pack_error_response(&m.pk, id, RPC_CANCELLED, "stream cancelled after 3 items");
        cr_assert_eq(feed_buf(c, &m), 0);
        cr_assert_eq(r.n_replies, 1u);
        cr_assert(r.last.failed);
        cr_assert_eq(r.last.transport_error, 0);
        cr_assert_eq(r.last.error.code, RPC_CANCELLED);
        cr_assert_str_eq(r.message, "stream cancelled after 3 items");
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, unknown_msgids_are_ignored) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec r = {};
        struct rpc_buf m;
        uint32_t id = call(c, "test.stream", &r);

        rpc_buf_init(&m, 0);
        pack_notify(&m, id + 1, 1);
        pack_response(&m, id + 1, 1);
        pack_response(&m, 0, 1);
        /* Not stream items, and a request: nothing for a client. */
        (void) msgpack_pack_array(&m.pk, 3);
        (void) msgpack_pack_uint8(&m.pk, RPC_NOTIFY);
        rpc_pack_str(&m.pk, "test.other");
        (void) msgpack_pack_array(&m.pk, 0);
        rpc_pack_request_head(&m.pk, 5, "client.method");
        (void) msgpack_pack_array(&m.pk, 0);
        cr_assert_eq(feed_buf(c, &m), 0);
        cr_assert_eq(r.n_notifies, 0u);
        cr_assert_eq(r.n_replies, 0u);
        cr_assert_eq(rpc_core_stray(c), 5u);
        cr_assert(rpc_core_call_pending(c, id));

        /* A forgotten call's late answer is one of them, too. */
        cr_assert_eq(rpc_core_forget(c, id), 0);
        cr_assert_eq(rpc_core_forget(c, id), -ENOENT);
        pack_response(&m, id, 1);
        cr_assert_eq(feed_buf(c, &m), 0);
        cr_assert_eq(r.n_replies, 0u);
        cr_assert_eq(rpc_core_stray(c), 6u);
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, error_replies) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec a = {}, b = {};
        struct rpc_buf m;
        uint32_t ia = call(c, "test.echo", &a), ib = call(c, "test.echo", &b);

        rpc_buf_init(&m, 0);
        rpc_pack_error_response(&m.pk, ia, RPC_NOT_FOUND, "name: no such server");
        /* An error object that is not {code, message}: still a failure, never a success. */
        (void) msgpack_pack_array(&m.pk, 4);
        (void) msgpack_pack_uint8(&m.pk, RPC_RESPONSE);
        (void) msgpack_pack_uint32(&m.pk, ib);
        (void) msgpack_pack_map(&m.pk, 1);
        rpc_pack_kv_int(&m.pk, "code", 7);
        (void) msgpack_pack_nil(&m.pk);
        cr_assert_eq(feed_buf(c, &m), 0);
        cr_assert(a.last.failed && a.last.transport_error == 0);
        cr_assert_eq(a.last.error.code, RPC_NOT_FOUND);
        cr_assert_str_eq(a.message, "name: no such server");
        cr_assert(b.last.failed && b.last.transport_error == 0);
        cr_assert_eq(b.last.error.code, RPC_INTERNAL);
        cr_assert_eq(rpc_core_broken(c), 0, "an error reply is not a broken connection");
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, rpc_error_notification_ends_every_call) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec a = {}, b = {};
        struct rpc_buf m;

        (void) call(c, "test.echo", &a);
        (void) call(c, "test.echo", &b);
        rpc_buf_init(&m, 0);
        rpc_pack_error_notify(&m.pk, RPC_UNAVAILABLE, "too many connections, try again later");
        cr_assert_eq(feed_buf(c, &m), -ECONNRESET);
        cr_assert(a.n_replies == 1 && b.n_replies == 1);
        cr_assert_eq(a.last.transport_error, -ECONNRESET);
        cr_assert_eq(a.last.error.code, RPC_UNAVAILABLE);
        cr_assert(strstr(a.message, "too many connections"), "%s", a.message);
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, malformed_envelope_breaks_the_connection) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec r = {};
        struct rpc_buf m;

        (void) call(c, "test.echo", &r);
        rpc_buf_init(&m, 0);
        (void) msgpack_pack_array(&m.pk, 2); /* [1, "x"]: no such message */
        (void) msgpack_pack_uint8(&m.pk, 1);
        rpc_pack_str(&m.pk, "x");
        cr_assert_eq(feed_buf(c, &m), -EBADMSG);
        cr_assert_eq(r.last.transport_error, -EBADMSG);
        cr_assert(strstr(r.message, "malformed message"), "%s", r.message);
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, calls_in_flight_and_output_are_capped) {
        struct rpc_core *c = core_new(3, 256, 0);
        struct rec r = {};
        struct rpc_buf big;
        char blob[300];
        size_t before, after;

        for (int i = 0; i < 3; i++)
                (void) call(c, "a", &r);
        cr_assert_eq(rpc_core_call(c, "a", NULL, NULL, on_reply, &r, NULL), -EBUSY);
        cr_assert_eq(rpc_core_forget(c, 1), 0);

        /* A request that does not fit leaves the output exactly as it was. */
        memset(blob, 'y', sizeof(blob));
        rpc_buf_init(&big, 0);
        rpc_pack_params_map(&big.pk, 1);
        rpc_pack_key(&big.pk, "blob");
        rpc_pack_strn(&big.pk, blob, sizeof(blob));
        (void) rpc_core_output(c, &before);
        cr_assert_eq(rpc_core_call(c, "a", &big, NULL, on_reply, &r, NULL), -ENOBUFS);
        (void) rpc_core_output(c, &after);
        cr_assert_eq(after, before);
        cr_assert_eq(rpc_core_calls(c), 2u);
        cr_assert_eq(rpc_core_call(c, "a", NULL, NULL, on_reply, &r, NULL), 0, "a small one still fits");
        rpc_buf_done(&big);
        rpc_core_free(c);
}

Test(client_core, free_from_inside_a_callback) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec a = {.free_on_reply = &c}, b = {};
        struct rpc_buf m;
        uint32_t ia = call(c, "test.echo", &a), ib = call(c, "test.echo", &b);

        rpc_buf_init(&m, 0);
        pack_response(&m, ia, 1);
        pack_response(&m, ib, 2); /* never delivered: the core is gone */
        cr_assert_eq(rpc_core_feed(c, m.data, m.len), -ECANCELED);
        cr_assert_null(c);
        cr_assert_eq(a.n_replies, 1u);
        cr_assert_eq(b.n_replies, 0u);
        rpc_buf_done(&m);
}

Test(client_core, free_from_inside_a_failure_callback) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec a = {.free_on_reply = &c}, b = {.free_on_reply = &c};

        (void) call(c, "test.echo", &a);
        (void) call(c, "test.echo", &b);
        rpc_core_fail(c, -EPIPE, "lost the connection: %s", strerror(EPIPE));
        cr_assert_null(c);
        cr_assert_eq(a.n_replies + b.n_replies, 1u, "calls were answered after the free");
}

Test(client_core, cancel_from_inside_a_notification) {
        struct rpc_core *c = core_new(0, 0, 0);
        struct rec r = {.cancel_on_notify = true};
        struct rpc_buf m;
        struct rpc_msg msg;
        msgpack_unpacked u;
        uint32_t id = call(c, "test.stream", &r);

        take_output(c, &msg, &u);
        msgpack_unpacked_destroy(&u);
        rpc_buf_init(&m, 0);
        pack_notify(&m, id, 0);
        cr_assert_eq(feed_buf(c, &m), 0);
        take_output(c, &msg, &u);
        cr_assert(msg.type == RPC_NOTIFY && msg.method_len == 10 && !memcmp(msg.method, "rpc.cancel", 10));
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&m);
        rpc_core_free(c);
}

Test(client_core, many_pipelined_replies_in_one_feed) {
        struct rpc_core *c = core_new(200, 0, 0);
        struct rec r[200] = {};
        uint32_t ids[200];
        struct rpc_buf m;

        for (int i = 0; i < 200; i++)
                ids[i] = call(c, "test.echo", &r[i]);
        rpc_buf_init(&m, 0);
        for (int i = 199; i >= 0; i--)
                pack_response(&m, ids[i], (uint64_t) i);
        cr_assert_eq(feed_buf(c, &m), 0);
        for (int i = 0; i < 200; i++)
                cr_assert(r[i].n_replies == 1 && r[i].result == i);
        cr_assert_eq(rpc_core_calls(c), 0u);
        rpc_buf_done(&m);
        rpc_core_free(c);
}
