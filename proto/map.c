/* See map.h. */
#include <errno.h>
#include <stdint.h>

#include "proto/map.h"
#include "proto/scan.h"

msgpack_packer *rpc_map_begin(struct rpc_map *m, msgpack_packer *out) {
        *m = (struct rpc_map){.out = out};
        rpc_buf_init(&m->body, 0);
        return &m->body.pk;
}

msgpack_packer *rpc_params_begin(struct rpc_map *m, msgpack_packer *out) {
        msgpack_packer *pk = rpc_map_begin(m, out);
        m->params = true;
        return pk;
}

void rpc_map_done(struct rpc_map *m) {
        rpc_buf_done(&m->body);
}

long rpc_count_objects(const void *p, size_t len) {
        /* Our own output: no limit but the bytes themselves. */
        const struct mp_limits limits = {
                .max_bytes = SIZE_MAX, .max_depth = MP_MAX_DEPTH_LIMIT, .max_elems = SIZE_MAX};
        const uint8_t *b = p;
        long n = 0;

        while (len > 0) {
                long l = mp_scan_buffer(b, len, &limits);
                if (l <= 0)
                        return -EBADMSG;
                b += l;
                len -= (size_t) l;
                n++;
        }
        return n;
}

/* A map that cannot be written must not leave a frame that looks whole. */
static int fail_out(struct rpc_map *m, int r) {
        if (m->out->callback == rpc_buf_write_cb)
                ((struct rpc_buf *) m->out->data)->failed = true;
        rpc_map_done(m);
        return r;
}

int rpc_map_end(struct rpc_map *m) {
        long n;
        int r;

        if (!rpc_buf_ok(&m->body))
                return fail_out(m, -ENOBUFS);
        n = rpc_count_objects(m->body.data, m->body.len);
        if (n < 0 || n % 2 != 0)
                return fail_out(m, -EBADMSG);
        if (m->params) {
                (void) msgpack_pack_array(m->out, n > 0 ? 1 : 0);
                if (n == 0) {
                        rpc_map_done(m);
                        return 0;
                }
        }
        (void) msgpack_pack_map(m->out, (size_t) n / 2);
        /* The pairs are MessagePack already: copy them as bytes. */
        r = m->body.len > 0 ? m->out->callback(m->out->data, m->body.data, m->body.len) : 0;
        rpc_map_done(m);
        return r < 0 ? -ENOBUFS : 0;
}
