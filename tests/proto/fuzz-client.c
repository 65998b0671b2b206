/* libFuzzer target for the client side: whatever a server (or something pretending to be
 * one) sends back. The input is fed to a client core with calls in flight, some streaming,
 * across arbitrary read boundaries; callbacks cancel, forget, start new calls and free the
 * core from inside, as the daemons' adapters do. Built by `make fuzz-client` with clang. */
#include <stddef.h>
#include <stdint.h>

#include "proto/client-core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fstate {
        struct rpc_core *core;
        uint8_t mode; /* what callbacks do, from the input's second byte */
        unsigned events;
};

static void on_reply(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *r, void *userdata);

static void on_notify(struct rpc_core *c, uint32_t msgid, const msgpack_object *payload, void *userdata) {
        struct fstate *f = userdata;

        f->events++;
        /* Touch the payload so a bad pointer shows under ASan. */
        if (payload->type == MSGPACK_OBJECT_STR && payload->via.str.size > 0)
                f->mode ^= (uint8_t) payload->via.str.ptr[0];
        switch (f->events % 5) {
        case 0:
                if (f->mode & 1)
                        (void) rpc_core_cancel(c, msgid);
                break;
        case 1:
                if (f->mode & 2)
                        (void) rpc_core_forget(c, msgid);
                break;
        case 2:
                if (f->mode & 4)
                        (void) rpc_core_call(c, "x.again", NULL, on_notify, on_reply, f, NULL);
                break;
        case 3:
                if ((f->mode & 0x18) == 0x18)
                        f->core = rpc_core_free(f->core);
                break;
        }
}

static void on_reply(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *r, void *userdata) {
        struct fstate *f = userdata;

        f->events++;
        if (!r->failed && r->result && r->result->type == MSGPACK_OBJECT_MAP)
                (void) rpc_map_get(r->result, "x");
        if (r->raw && r->raw_len > 0)
                f->mode ^= (uint8_t) r->raw[r->raw_len - 1];
        if ((f->mode & 0x60) == 0x60)
                f->core = rpc_core_free(f->core);
        else if (f->mode & 0x80)
                (void) rpc_core_call(c, "x.next", NULL, on_notify, on_reply, f, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct rpc_core_config cfg = {
                .limits = {.max_bytes = 8192, .max_depth = 16, .max_elems = 2048},
                .max_calls = 8,
                .max_out_bytes = 4096,
        };
        struct fstate f = {};
        size_t off = 2, step;

        if (size < 2 || size > 65536)
                return 0;
        if (rpc_core_new(&cfg, NULL, NULL, &f.core) < 0)
                return 0;
        f.mode = data[1];
        /* Calls 1..4, so that replies written by hand (and found by mutation) match. */
        for (int i = 0; i < 4; i++)
                (void) rpc_core_call(f.core, i % 2 ? "x.stream" : "x.get", NULL, on_notify, on_reply, &f,
                                     NULL);
        step = (size_t) (data[0] % 17) + 1;
        while (off < size && f.core) {
                size_t n = MIN(step, size - off), len;
                if (rpc_core_feed(f.core, data + off, n) < 0)
                        break;
                (void) rpc_core_output(f.core, &len);
                rpc_core_consumed(f.core, len / 2);
                off += n;
        }
        if (f.core)
                rpc_core_eof(f.core);
        f.core = rpc_core_free(f.core);
        return 0;
}
