/* A daemon built on daemon/daemon.c with test methods only: the black-box tests of the
 * protocol layer (framing, limits, hostile input, streaming, cancel, idle exit) run against
 * it, so they do not depend on any real daemon's behaviour. */
#include <stddef.h>

#include "daemon/daemon.h"
#include "base/log.h"
#include "proto/args.h"

struct testd {
        sd_event *event;
};

/* test.echo {value?}: answers with what it got. */
static int test_echo(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct {
                const msgpack_object *value;
                char *text;
                int64_t number;
        } a = {};
        static const struct rpc_arg args[] = {
                {"value", RPC_ARG_MAP, 0, offsetof(typeof(a), value), 0, 1000},
                {"text", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(typeof(a), text), 0, 4096},
                {"number", RPC_ARG_INT, 0, offsetof(typeof(a), number), -1000, 1000},
        };
        struct rpc_error e;
        msgpack_packer *pk;

        if (rpc_args_parse(params, args, ELEMENTSOF(args), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        pk = rpc_call_result(call);
        (void) msgpack_pack_map(pk, 3);
        rpc_pack_key(pk, "value");
        if (a.value)
                (void) msgpack_pack_object(pk, *a.value);
        else
                (void) msgpack_pack_nil(pk);
        rpc_pack_kv_str(pk, "text", a.text);
        rpc_pack_kv_int(pk, "number", a.number);
        rpc_args_free(args, ELEMENTSOF(args), &a);
        return rpc_call_reply(call);
}

struct stream {
        struct rpc_call *call;
        sd_event_source *timer;
        int64_t left, sent;
        bool abandoned;
};

static void stream_free(struct stream *s) {
        sd_event_source_disable_unref(s->timer);
        free(s);
}

static int stream_tick(sd_event_source *src, uint64_t usec, void *userdata) {
        struct stream *s = userdata;
        msgpack_packer *pk;

        if (s->abandoned) {
                (void) rpc_call_fail(s->call, RPC_CANCELLED, "stream cancelled after %lld items",
                                     (long long) s->sent);
                stream_free(s);
                return 0;
        }
        if (s->left == 0) {
                pk = rpc_call_result(s->call);
                (void) msgpack_pack_map(pk, 1);
                rpc_pack_kv_int(pk, "sent", s->sent);
                (void) rpc_call_reply(s->call);
                stream_free(s);
                return 0;
        }
        pk = rpc_call_notify(s->call);
        if (pk) {
                (void) msgpack_pack_map(pk, 2);
                rpc_pack_kv_str(pk, "line", "tick");
                rpc_pack_kv_int(pk, "seq", s->sent);
        }
        s->sent++;
        s->left--;
        (void) sd_event_source_set_time_relative(src, 1000);
        (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        return 0;
}

static void stream_abandon(struct rpc_call *call, void *userdata) {
        struct stream *s = userdata;
        s->abandoned = true;
        (void) sd_event_source_set_time_relative(s->timer, 0);
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

/* test.stream {count}: sends count notifications 1 ms apart, then {sent}. */
static int test_stream(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct testd *t = userdata;
        struct {
                int64_t count;
        } a = {.count = 3};
        static const struct rpc_arg args[] = {
                {"count", RPC_ARG_INT, 0, offsetof(typeof(a), count), 0, 1000000},
        };
        struct rpc_error e;
        struct stream *s;
        int r;

        if (rpc_args_parse(params, args, ELEMENTSOF(args), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->call = call;
        s->left = a.count;
        /* accuracy 1 µs: the default 250 ms slack would make each tick wait that long */
        r = sd_event_add_time_relative(t->event, &s->timer, CLOCK_MONOTONIC, 0, 1, stream_tick, s);
        if (r < 0) {
                free(s);
                return r;
        }
        rpc_call_set_abandon(call, stream_abandon, s);
        rpc_call_defer(call);
        return 0;
}

/* test.fail {errno}: a handler that returns an error without answering. */
static int test_fail(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct {
                int64_t err;
        } a = {.err = EIO};
        static const struct rpc_arg args[] = {
                {"errno", RPC_ARG_INT, RPC_ARG_REQUIRED, offsetof(typeof(a), err), 1, 4095},
        };
        struct rpc_error e;
        if (rpc_args_parse(params, args, ELEMENTSOF(args), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        return (int) -a.err;
}

static int test_root(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return rpc_call_reply_nil(call);
}

static const struct rpc_method methods[] = {
        {"test.echo", test_echo, RPC_MAY_ANYONE}, {"test.stream", test_stream, RPC_MAY_ANYONE},
        {"test.fail", test_fail, RPC_MAY_ANYONE}, {"test.group", test_root, RPC_MAY_ADMIN},
        {"test.root", test_root, RPC_MAY_ROOT},
};

static int setup(struct daemon *d, void **ret) {
        static struct testd t;
        t.event = daemon_event(d);
        *ret = &t;
        return 0;
}

static const struct daemon_def def = {
        .name = "left4me-testd",
        .service = "test",
        .description = "protocol test daemon (tests only)",
        .methods = methods,
        .n_methods = ELEMENTSOF(methods),
        .setup = setup,
};

int main(int argc, char **argv) {
        return daemon_main(argc, argv, &def) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
