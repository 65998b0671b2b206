/* libFuzzer target for everything that touches untrusted bytes on our sockets: the scanner,
 * the unpacker it guards, envelope decoding, argument parsing, and the server core's
 * framing across arbitrary read boundaries. Built by `make fuzz` with clang. */
#include <stddef.h>
#include <stdint.h>

#include "proto/args.h"
#include "proto/rpc.h"
#include "proto/scan.h"
#include "proto/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fargs {
        char *name;
        int64_t port;
        bool flag;
        char **list;
        const msgpack_object *map;
        struct rpc_bin bin;
};

static const struct rpc_arg fuzz_args[] = {
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8 | RPC_ARG_PRINTABLE,
         offsetof(struct fargs, name), 1, 64},
        {"port", RPC_ARG_INT, 0, offsetof(struct fargs, port), 1, 65535},
        {"flag", RPC_ARG_BOOL, RPC_ARG_NULLABLE, offsetof(struct fargs, flag)},
        {"list", RPC_ARG_STRV, 0, offsetof(struct fargs, list), 0, 16, 64},
        {"map", RPC_ARG_MAP, 0, offsetof(struct fargs, map), 0, 16},
        {"bin", RPC_ARG_BIN, 0, offsetof(struct fargs, bin), 0, 1024},
};

static int m_args(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct fargs a = {};
        struct rpc_error e;
        if (rpc_args_parse(params, fuzz_args, ELEMENTSOF(fuzz_args), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        rpc_args_free(fuzz_args, ELEMENTSOF(fuzz_args), &a);
        return rpc_call_reply_nil(call);
}

static struct rpc_call *deferred;

static int m_defer(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        if (deferred)
                (void) rpc_call_reply_nil(deferred);
        deferred = call;
        rpc_call_defer(call);
        (void) rpc_call_notify(call);
        return 0;
}

static void on_abandon(struct rpc_call *c, void *ud) {
}

static const struct rpc_method methods[] = {
        {"a", m_args, RPC_MAY_ANYONE},
        {"d", m_defer, RPC_MAY_ANYONE},
        {"g", m_args, RPC_MAY_ADMIN},
};

static const struct rpc_conn_ops ops = {};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct rpc_server_config cfg = {
                .limits = {.max_bytes = 8192, .max_depth = 16, .max_elems = 2048},
                .max_out_bytes = 64 * 1024,
                .methods = methods,
                .n_methods = ELEMENTSOF(methods),
                .identities = {.operators = 5},
        };
        struct rpc_server *s;
        struct rpc_conn *c;
        struct rpc_peer peer = {.uid = 1000, .gid = 5};
        size_t off = 0, step;

        if (size > 65536)
                return 0;

        /* 1. The scanner on the whole input, and msgpack-c on what it vouches for. */
        {
                long r = mp_scan_buffer(data, size, &cfg.limits);
                if (r > 0) {
                        msgpack_unpacked u;
                        struct rpc_msg m;
                        struct rpc_error e;
                        bool has_id;
                        size_t uoff = 0;
                        msgpack_unpacked_init(&u);
                        if (msgpack_unpack_next(&u, (const char *) data, (size_t) r, &uoff) !=
                                    MSGPACK_UNPACK_SUCCESS ||
                            uoff != (size_t) r)
                                __builtin_trap(); /* scanner and unpacker disagree on framing */
                        if (rpc_msg_decode(&u.data, &m, &has_id, &e) == 0 && m.params) {
                                struct fargs a = {};
                                if (rpc_args_parse(m.params, fuzz_args, ELEMENTSOF(fuzz_args), &a, &e) == 0)
                                        rpc_args_free(fuzz_args, ELEMENTSOF(fuzz_args), &a);
                        }
                        msgpack_unpacked_destroy(&u);
                }
        }

        /* 2. The server core, fed in slices whose sizes come from the first byte. */
        if (rpc_server_new(&cfg, &s) < 0)
                return 0;
        if (rpc_conn_new(s, &peer, &ops, NULL, &c) < 0) {
                rpc_conn_free(c);
                rpc_server_free(s);
                return 0;
        }
        step = size > 0 ? (size_t) (data[0] % 17) + 1 : 1;
        deferred = NULL;
        while (off < size) {
                size_t n = MIN(step, size - off), len;
                if (rpc_conn_feed(c, data + off, n) < 0)
                        break;
                (void) rpc_conn_output(c, &len);
                rpc_conn_consumed(c, len / 2);
                off += n;
        }
        if (deferred)
                rpc_call_set_abandon(deferred, on_abandon, NULL);
        rpc_conn_free(c);
        if (deferred)
                (void) rpc_call_reply_nil(deferred);
        deferred = NULL;
        rpc_server_free(s);
        return 0;
}
