/* webd's RPC client adapter (svc-web/webd-client.c) on a real h2o evloop against a real
 * daemon: left4me-testd, started with --listen on a temporary socket. Plain calls, error
 * replies, streams (several interleaved on one connection), rpc.cancel, the daemon dying
 * mid-stream, and freeing the client from inside its own callback. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "base/util.h"
#include "svc-web/webd-client.h"
#include "tests/proto/testd-run.h"

static const char *sock_path;
static h2o_loop_t *loop;

static void setup(void) {
        sock_path = testd_start();
        cr_assert_not_null(sock_path, "%s did not start listening", LEFT4ME_TESTD);
        loop = h2o_evloop_create();
}

static void kill_daemon(void) {
        testd_kill();
}

static void teardown(void) {
        testd_cleanup();
}

TestSuite(webd_client, .init = setup, .fini = teardown, .timeout = 30);

struct rec {
        unsigned replies, notifies;
        int64_t last_seq;
        struct rpc_core_reply last;
        char message[RPC_ERROR_MESSAGE_MAX];
        char text[64];
        int64_t sent;
        unsigned cancel_after; /* 0: never */
        struct webd_client **free_in_notify;
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
                *r->free_in_notify = webd_client_free(*r->free_in_notify);
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
                (void) h2o_evloop_run(loop, 10);
        cr_assert_geq(*counter, want, "timed out waiting (%u of %u)", *counter, want);
}

static struct webd_client *client_new(void) {
        struct rpc_core_config cfg = {.peer_name = "test service"};
        struct webd_client *c;

        cr_assert_eq(webd_client_new(loop, sock_path, &cfg, &c), 0);
        return c;
}

static void call_stream(struct webd_client *c, int64_t count, struct rec *r, uint32_t *ret_id) {
        struct rpc_buf p;

        rpc_buf_init(&p, 0);
        rpc_pack_params_map(&p.pk, 1);
        rpc_pack_kv_int(&p.pk, "count", count);
        r->last_seq = -1;
        cr_assert_eq(rpc_core_call(webd_client_core(c), "test.stream", &p, on_notify, on_reply, r, ret_id),
                     0);
        rpc_buf_done(&p);
}

Test(webd_client, call_and_error_reply) {
        struct webd_client *c = client_new();
        struct rec ok = {}, bad = {};
        struct rpc_buf p;

        rpc_buf_init(&p, 0);
        rpc_pack_params_map(&p.pk, 1);
        rpc_pack_kv_str(&p.pk, "text", "hello over h2o");
        cr_assert_eq(rpc_core_call(webd_client_core(c), "test.echo", &p, NULL, on_reply, &ok, NULL), 0);
        rpc_buf_clear(&p);
        rpc_pack_params_map(&p.pk, 1);
        rpc_pack_kv_int(&p.pk, "errno", ENOENT);
        cr_assert_eq(rpc_core_call(webd_client_core(c), "test.fail", &p, NULL, on_reply, &bad, NULL), 0);
        run_until(&bad.replies, 1);
        run_until(&ok.replies, 1);
        cr_assert_not(ok.last.failed, "%s", ok.message);
        cr_assert_str_eq(ok.text, "hello over h2o");
        cr_assert(bad.last.failed);
        cr_assert_eq(bad.last.transport_error, 0);
        cr_assert_eq(bad.last.error.code, RPC_NOT_FOUND);
        rpc_buf_done(&p);
        webd_client_free(c);
}

Test(webd_client, interleaved_streams_on_one_connection) {
        struct webd_client *c = client_new();
        struct rec r[3] = {};

        for (int i = 0; i < 3; i++)
                call_stream(c, 20 + i * 10, &r[i], NULL);
        for (int i = 0; i < 3; i++)
                run_until(&r[i].replies, 1);
        for (int i = 0; i < 3; i++) {
                cr_assert_not(r[i].last.failed, "%s", r[i].message);
                cr_assert_eq(r[i].notifies, 20u + i * 10u);
                cr_assert_eq(r[i].sent, 20 + i * 10);
        }
        cr_assert_eq(rpc_core_calls(webd_client_core(c)), 0u);
        webd_client_free(c);
}

Test(webd_client, cancel_ends_a_stream) {
        struct webd_client *c = client_new();
        struct rec r = {.cancel_after = 3};

        call_stream(c, 100000, &r, NULL);
        run_until(&r.replies, 1);
        cr_assert(r.last.failed);
        cr_assert_eq(r.last.transport_error, 0);
        cr_assert_eq(r.last.error.code, RPC_CANCELLED, "%s", r.message);
        cr_assert_lt(r.notifies, 1000u, "the stream went on after the cancel");
        webd_client_free(c);
}

Test(webd_client, daemon_dying_mid_stream_is_a_transport_error) {
        struct webd_client *c = client_new();
        struct rec r = {};

        call_stream(c, 100000, &r, NULL);
        run_until(&r.notifies, 5);
        kill_daemon();
        run_until(&r.replies, 1);
        cr_assert_lt(r.last.transport_error, 0);
        cr_assert_eq(r.last.error.code, RPC_UNAVAILABLE);
        cr_assert(strstr(r.message, "test service"), "%s", r.message);
        cr_assert_lt(rpc_core_broken(webd_client_core(c)), 0);
        cr_assert_lt(rpc_core_call(webd_client_core(c), "test.echo", NULL, NULL, on_reply, &r, NULL), 0);
        webd_client_free(c);
}

Test(webd_client, free_from_inside_a_callback) {
        struct webd_client *c = client_new();
        struct rec r = {.free_in_notify = &c};

        call_stream(c, 1000, &r, NULL);
        run_until(&r.notifies, 1);
        cr_assert_null(c);
        /* The loop goes on without the client; its socket is closed. */
        for (int i = 0; i < 5; i++)
                (void) h2o_evloop_run(loop, 10);
        cr_assert_eq(r.notifies, 1u);
        cr_assert_eq(r.replies, 0u);
}

Test(webd_client, nobody_listening) {
        struct webd_client *c = NULL;

        cr_assert_eq(webd_client_new(loop, "/nonexistent/left4me/test.sock", NULL, &c), -ENOENT);
        cr_assert_null(c);
}
