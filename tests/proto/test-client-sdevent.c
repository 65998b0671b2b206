/* The sd-event client adapter (proto/client-sdevent.c) in a real sd-event loop against
 * left4me-testd: calls, error replies, interleaved streams on one connection, rpc.cancel, the
 * daemon dying mid-stream, and freeing the client from inside its own callback. jobd (to
 * hostd) and logd (to jobd) run on it. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "base/util.h"
#include "proto/client-sdevent.h"
#include "tests/proto/testd-run.h"

static const char *sock_path;
static sd_event *event;

static void setup(void) {
        sock_path = testd_start();
        cr_assert_not_null(sock_path, "%s did not start listening", LEFT4ME_TESTD);
        cr_assert_geq(sd_event_new(&event), 0);
}

static void teardown(void) {
        testd_cleanup();
        event = sd_event_unref(event);
}

TestSuite(client_sdevent, .init = setup, .fini = teardown, .timeout = 30);

struct rec {
        unsigned replies, notifies;
        int64_t last_seq;
        struct rpc_core_reply last;
        char message[RPC_ERROR_MESSAGE_MAX];
        char text[64];
        int64_t sent;
        unsigned cancel_after;
        struct rpc_sdclient **free_in_notify;
};

static void on_notify(struct rpc_core *c, uint32_t msgid, const msgpack_object *payload, void *userdata) {
        struct rec *r = userdata;
        const msgpack_object *seq = rpc_map_get(payload, "seq");

        r->notifies++;
        if (seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                cr_assert_eq((int64_t) seq->via.u64, r->last_seq + 1, "stream items out of order");
                r->last_seq = (int64_t) seq->via.u64;
        }
        if (r->cancel_after && r->notifies == r->cancel_after)
                cr_assert_eq(rpc_core_cancel(c, msgid), 0);
        if (r->free_in_notify)
                *r->free_in_notify = rpc_sdclient_free(*r->free_in_notify);
}

static void on_reply(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *rep, void *userdata) {
        struct rec *r = userdata;
        const msgpack_object *o;

        r->replies++;
        r->last = *rep;
        r->last.result = NULL;
        r->last.raw = NULL;
        memcpy(r->message, rep->error.message, sizeof(r->message));
        if (rep->failed)
                return;
        o = rpc_map_get(rep->result, "text");
        if (o && o->type == MSGPACK_OBJECT_STR)
                snprintf(r->text, sizeof(r->text), "%.*s", (int) o->via.str.size, o->via.str.ptr);
        o = rpc_map_get(rep->result, "sent");
        if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                r->sent = (int64_t) o->via.u64;
}

static void run_until(const unsigned *counter, unsigned want) {
        unsigned long long deadline = now_usec() + 10ULL * 1000000ULL;

        while (*counter < want && now_usec() < deadline)
                (void) sd_event_run(event, 10000);
        cr_assert_geq(*counter, want, "timed out waiting (%u of %u)", *counter, want);
}

static struct rpc_sdclient *client_new(void) {
        struct rpc_core_config cfg = {.peer_name = "test service"};
        struct rpc_sdclient *c;

        cr_assert_eq(rpc_sdclient_new(event, sock_path, &cfg, &c), 0);
        return c;
}

static void call_stream(struct rpc_sdclient *c, int64_t count, struct rec *r) {
        struct rpc_buf p;

        rpc_buf_init(&p, 0);
        rpc_pack_params_map(&p.pk, 1);
        rpc_pack_kv_int(&p.pk, "count", count);
        r->last_seq = -1;
        cr_assert_eq(rpc_core_call(rpc_sdclient_core(c), "test.stream", &p, on_notify, on_reply, r, NULL),
                     0);
        rpc_buf_done(&p);
}

Test(client_sdevent, call_and_error_reply) {
        struct rpc_sdclient *c = client_new();
        struct rec ok = {}, bad = {};
        struct rpc_buf p;

        rpc_buf_init(&p, 0);
        rpc_pack_params_map(&p.pk, 1);
        rpc_pack_kv_str(&p.pk, "text", "hello over sd-event");
        cr_assert_eq(rpc_core_call(rpc_sdclient_core(c), "test.echo", &p, NULL, on_reply, &ok, NULL), 0);
        rpc_buf_clear(&p);
        rpc_pack_params_map(&p.pk, 1);
        rpc_pack_kv_int(&p.pk, "errno", EACCES);
        cr_assert_eq(rpc_core_call(rpc_sdclient_core(c), "test.fail", &p, NULL, on_reply, &bad, NULL), 0);
        run_until(&ok.replies, 1);
        run_until(&bad.replies, 1);
        cr_assert_not(ok.last.failed, "%s", ok.message);
        cr_assert_str_eq(ok.text, "hello over sd-event");
        cr_assert(bad.last.failed && bad.last.transport_error == 0);
        cr_assert_eq(bad.last.error.code, RPC_DENIED);
        rpc_buf_done(&p);
        rpc_sdclient_free(c);
}

Test(client_sdevent, interleaved_streams_on_one_connection) {
        struct rpc_sdclient *c = client_new();
        struct rec r[3] = {};

        for (int i = 0; i < 3; i++)
                call_stream(c, 15 + i * 10, &r[i]);
        for (int i = 0; i < 3; i++)
                run_until(&r[i].replies, 1);
        for (int i = 0; i < 3; i++) {
                cr_assert_not(r[i].last.failed, "%s", r[i].message);
                cr_assert_eq(r[i].notifies, 15u + i * 10u);
                cr_assert_eq(r[i].sent, 15 + i * 10);
        }
        rpc_sdclient_free(c);
}

Test(client_sdevent, cancel_ends_a_stream) {
        struct rpc_sdclient *c = client_new();
        struct rec r = {.cancel_after = 3};

        call_stream(c, 100000, &r);
        run_until(&r.replies, 1);
        cr_assert(r.last.failed && r.last.transport_error == 0);
        cr_assert_eq(r.last.error.code, RPC_CANCELLED, "%s", r.message);
        cr_assert_lt(r.notifies, 1000u);
        rpc_sdclient_free(c);
}

Test(client_sdevent, daemon_dying_mid_stream_is_a_transport_error) {
        struct rpc_sdclient *c = client_new();
        struct rec r = {};

        call_stream(c, 100000, &r);
        run_until(&r.notifies, 5);
        testd_kill();
        run_until(&r.replies, 1);
        cr_assert_lt(r.last.transport_error, 0);
        cr_assert_eq(r.last.error.code, RPC_UNAVAILABLE);
        cr_assert(strstr(r.message, "test service closed the connection"), "%s", r.message);
        rpc_sdclient_free(c);
}

Test(client_sdevent, free_from_inside_a_callback) {
        struct rpc_sdclient *c = client_new();
        struct rec r = {.free_in_notify = &c};

        call_stream(c, 1000, &r);
        run_until(&r.notifies, 1);
        cr_assert_null(c);
        for (int i = 0; i < 5; i++)
                (void) sd_event_run(event, 10000);
        cr_assert_eq(r.notifies, 1u);
        cr_assert_eq(r.replies, 0u);
}

Test(client_sdevent, nobody_listening) {
        struct rpc_sdclient *c = NULL;

        cr_assert_eq(rpc_sdclient_new(event, "/nonexistent/left4me/test.sock", NULL, &c), -ENOENT);
        cr_assert_null(c);
}
