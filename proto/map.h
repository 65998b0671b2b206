/* Maps whose header count is the number of pairs actually packed.
 *
 * MessagePack writes a map's pair count before its pairs, so a hand-counted
 * msgpack_pack_map(pk, N) that disagrees with the pairs that follow makes a corrupt frame
 * that the peer misreads from that point on. Instead, pack the pairs through the map's own
 * packer; rpc_map_end() counts the objects written, writes the header with the real count
 * and then the pairs. An odd number of objects (a key without its value) is refused: the map
 * is not written, the destination rpc_buf (if that is what `out` writes to) is marked failed
 * so the frame is never sent, and -EBADMSG is returned.
 *
 *         struct rpc_map m;
 *         msgpack_packer *mp = rpc_map_begin(&m, pk);
 *         rpc_pack_kv_str(mp, "name", name);
 *         if (port)
 *                 rpc_pack_kv_uint(mp, "port", port);
 *         r = rpc_map_end(&m);
 *
 * A value may itself be a map (begin it on the outer map's packer). rpc_map_done() frees a
 * map that is abandoned without rpc_map_end(). */
#pragma once

#include <msgpack.h>
#include <stdbool.h>

#include "proto/rpc.h"

struct rpc_map {
        msgpack_packer *out; /* where the finished map goes */
        struct rpc_buf body; /* the pairs, until rpc_map_end() */
        bool params;         /* a request's params: `[ {pairs} ]`, or `[]` without pairs */
};

/* Returns the packer to pack the pairs with (keys and values alternating). */
msgpack_packer *rpc_map_begin(struct rpc_map *m, msgpack_packer *out);
/* The same for a request's named arguments: rpc_map_end() packs `[ {pairs} ]`, or `[]`
 * when there are none (as rpc_pack_params_map() with a count does). */
msgpack_packer *rpc_params_begin(struct rpc_map *m, msgpack_packer *out);
/* Writes the map to out and frees m. 0, or -EBADMSG (odd object count, nothing written),
 * -ENOMEM/-ENOBUFS (packing the body failed; out's rpc_buf is marked failed too). */
int rpc_map_end(struct rpc_map *m);
void rpc_map_done(struct rpc_map *m);

/* The number of complete MessagePack objects that fill the len bytes at p exactly, or
 * -EBADMSG if they do not. Exposed for the unit tests. */
long rpc_count_objects(const void *p, size_t len);
