/* proto/map: the header count comes from what was packed, and a pair without its value
 * cannot reach the wire. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "proto/map.h"

Test(map, same_bytes_as_a_correct_hand_count) {
        struct rpc_buf want, got;
        struct rpc_map m, inner;
        msgpack_packer *mp, *ip;

        rpc_buf_init(&want, 0);
        rpc_buf_init(&got, 0);
        (void) msgpack_pack_map(&want.pk, 2);
        rpc_pack_kv_str(&want.pk, "a", "x");
        rpc_pack_key(&want.pk, "b");
        (void) msgpack_pack_map(&want.pk, 1);
        rpc_pack_kv_uint(&want.pk, "c", 7);

        mp = rpc_map_begin(&m, &got.pk);
        rpc_pack_kv_str(mp, "a", "x");
        rpc_pack_key(mp, "b");
        ip = rpc_map_begin(&inner, mp);
        rpc_pack_kv_uint(ip, "c", 7);
        cr_assert_eq(rpc_map_end(&inner), 0);
        cr_assert_eq(rpc_map_end(&m), 0);

        cr_assert(rpc_buf_ok(&got));
        cr_assert_eq(got.len, want.len);
        cr_assert(memcmp(got.data, want.data, want.len) == 0);
        rpc_buf_done(&want);
        rpc_buf_done(&got);
}

Test(map, a_key_without_value_is_caught) {
        struct rpc_buf out;
        struct rpc_map m;
        msgpack_packer *mp;

        rpc_buf_init(&out, 0);
        (void) msgpack_pack_array(&out.pk, 1);
        mp = rpc_map_begin(&m, &out.pk);
        rpc_pack_kv_str(mp, "a", "x");
        rpc_pack_key(mp, "b"); /* what a miscount used to be: a pair the header promised */
        cr_assert_eq(rpc_map_end(&m), -EBADMSG);
        cr_assert_not(rpc_buf_ok(&out), "the frame is marked failed, so it is never sent");
        rpc_buf_done(&out);
}

Test(map, empty_map_and_params) {
        struct rpc_buf out;
        struct rpc_map m;

        rpc_buf_init(&out, 0);
        (void) rpc_map_begin(&m, &out.pk);
        cr_assert_eq(rpc_map_end(&m), 0);
        (void) rpc_params_begin(&m, &out.pk);
        cr_assert_eq(rpc_map_end(&m), 0);
        rpc_pack_kv_bool(rpc_params_begin(&m, &out.pk), "f", true);
        cr_assert_eq(rpc_map_end(&m), 0);
        /* {} then [] then [{"f": true}] */
        cr_assert_eq(out.len, 1 + 1 + 5);
        cr_assert(memcmp(out.data,
                         "\x80\x90\x91\x81\xa1"
                         "f\xc3",
                         7) == 0);
        rpc_buf_done(&out);
}

Test(map, count_objects) {
        cr_assert_eq(rpc_count_objects("", 0), 0);
        cr_assert_eq(rpc_count_objects("\x01\x02\xc0", 3), 3);
        cr_assert_eq(rpc_count_objects("\x92\x01", 2), -EBADMSG, "a cut-off array");
        cr_assert_eq(rpc_count_objects("\xc1", 1), -EBADMSG);
}
