/* The pre-validation scanner: it must accept every valid message at exactly its length,
 * ask for more on every proper prefix, and refuse hostile shapes before any allocation. */
#include <criterion/criterion.h>
#include <msgpack.h>

#include "proto/rpc.h"
#include "proto/scan.h"

/* A message touching every type family. */
static void pack_sample(struct rpc_buf *b) {
        msgpack_packer *pk = &b->pk;
        rpc_pack_request_head(pk, 4000000000u, "sample.method");
        rpc_pack_params_map(pk, 12);
        rpc_pack_kv_str(pk, "s", "hello");
        rpc_pack_kv_int(pk, "neg", -123456789012LL);
        rpc_pack_kv_uint(pk, "big", UINT64_MAX);
        rpc_pack_kv_bool(pk, "t", true);
        rpc_pack_kv_nil(pk, "n");
        rpc_pack_key(pk, "f");
        msgpack_pack_double(pk, 3.25);
        rpc_pack_key(pk, "f32");
        msgpack_pack_float(pk, 1.5f);
        rpc_pack_key(pk, "bin");
        msgpack_pack_bin(pk, 3);
        msgpack_pack_bin_body(pk, "\0\1\2", 3);
        rpc_pack_key(pk, "ext");
        msgpack_pack_ext(pk, 5, 7);
        msgpack_pack_ext_body(pk, "abcde", 5);
        rpc_pack_key(pk, "nested");
        msgpack_pack_array(pk, 2);
        msgpack_pack_map(pk, 1);
        rpc_pack_kv_int(pk, "x", 1);
        msgpack_pack_array(pk, 0);
        rpc_pack_key(pk, "longstr");
        {
                char s[300];
                memset(s, 'a', sizeof(s));
                rpc_pack_strn(pk, s, sizeof(s));
        }
        rpc_pack_key(pk, "arr16");
        msgpack_pack_array(pk, 20);
        for (int i = 0; i < 20; i++)
                msgpack_pack_int(pk, i * 1000);
}

Test(scan, complete_message_has_its_length) {
        struct rpc_buf b;
        rpc_buf_init(&b, 0);
        pack_sample(&b);
        cr_assert(rpc_buf_ok(&b));
        cr_assert_eq(mp_scan_buffer((const uint8_t *) b.data, b.len, NULL), (long) b.len);
        rpc_buf_done(&b);
}

Test(scan, every_prefix_is_incomplete) {
        struct rpc_buf b;
        rpc_buf_init(&b, 0);
        pack_sample(&b);
        for (size_t i = 0; i < b.len; i++)
                cr_assert_eq(mp_scan_buffer((const uint8_t *) b.data, i, NULL), 0, "prefix %zu", i);
        rpc_buf_done(&b);
}

Test(scan, resumable_byte_by_byte) {
        struct rpc_buf b;
        struct mp_scanner s;
        rpc_buf_init(&b, 0);
        pack_sample(&b);
        mp_scanner_init(&s, NULL);
        for (size_t i = 1; i < b.len; i++)
                cr_assert_eq(mp_scan(&s, (const uint8_t *) b.data, i), 0);
        cr_assert_eq(mp_scan(&s, (const uint8_t *) b.data, b.len), (long) b.len);
        rpc_buf_done(&b);
}

Test(scan, two_messages_yield_the_first) {
        struct rpc_buf b;
        size_t first;
        rpc_buf_init(&b, 0);
        pack_sample(&b);
        first = b.len;
        pack_sample(&b);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) b.data, b.len, NULL), (long) first);
        rpc_buf_done(&b);
}

Test(scan, scalar_top_level) {
        cr_assert_eq(mp_scan_buffer((const uint8_t *) "\x05", 1, NULL), 1);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) "\xcd\x01", 2, NULL), 0);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) "\xcd\x01\x02", 3, NULL), 3);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) "\x90", 1, NULL), 1);
}

Test(scan, array32_claiming_four_billion_is_refused_at_once) {
        const uint8_t m[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
        long r = mp_scan_buffer(m, sizeof(m), NULL);
        cr_assert(r == -E2BIG || r == -EMSGSIZE, "got %ld", r);
}

Test(scan, map32_claim_is_refused) {
        const uint8_t m[] = {0xdf, 0x80, 0x00, 0x00, 0x00};
        long r = mp_scan_buffer(m, sizeof(m), NULL);
        cr_assert(r < 0);
}

Test(scan, count_must_fit_the_remaining_bytes) {
        /* 1000 elements cannot follow in a 100-byte message. */
        struct mp_limits l = {.max_bytes = 100};
        const uint8_t m[] = {0xdc, 0x03, 0xe8};
        cr_assert_eq(mp_scan_buffer(m, sizeof(m), &l), -EMSGSIZE);
}

Test(scan, str32_claiming_four_gigabytes_is_refused) {
        const uint8_t m[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
        cr_assert_eq(mp_scan_buffer(m, sizeof(m), NULL), -EMSGSIZE);
        const uint8_t b[] = {0xc6, 0x7f, 0xff, 0xff, 0xff};
        cr_assert_eq(mp_scan_buffer(b, sizeof(b), NULL), -EMSGSIZE);
        const uint8_t e[] = {0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01};
        cr_assert_eq(mp_scan_buffer(e, sizeof(e), NULL), -EMSGSIZE);
}

Test(scan, size_limit_is_exact) {
        struct mp_limits l = {.max_bytes = 4096};
        uint8_t m[4096];
        /* str16 of 4093 bytes = 4096 in all: allowed; one more byte is not. */
        m[0] = 0xda;
        m[1] = 0x0f;
        m[2] = 0xfd;
        memset(m + 3, 'x', sizeof(m) - 3);
        cr_assert_eq(mp_scan_buffer(m, 4096, &l), 4096);
        m[2] = 0xfe;
        cr_assert_eq(mp_scan_buffer(m, 4096, &l), -EMSGSIZE);
}

Test(scan, depth_limit) {
        uint8_t m[80];
        struct mp_limits l = {.max_depth = 32};
        memset(m, 0x91, sizeof(m)); /* [[[[...]]]] */
        m[32] = 0x01;
        cr_assert_eq(mp_scan_buffer(m, 33, &l), 33, "32 levels are allowed");
        m[32] = 0x91;
        m[33] = 0x01;
        cr_assert_eq(mp_scan_buffer(m, 34, &l), -ELOOP);
}

Test(scan, element_limit) {
        struct mp_limits l = {.max_elems = 100};
        struct rpc_buf b;
        rpc_buf_init(&b, 0);
        msgpack_pack_array(&b.pk, 99);
        for (int i = 0; i < 99; i++)
                msgpack_pack_nil(&b.pk);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) b.data, b.len, &l), (long) b.len);
        rpc_buf_clear(&b);
        msgpack_pack_array(&b.pk, 100);
        for (int i = 0; i < 100; i++)
                msgpack_pack_nil(&b.pk);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) b.data, b.len, &l), -E2BIG);
        rpc_buf_done(&b);
}

Test(scan, never_used_byte) {
        cr_assert_eq(mp_scan_buffer((const uint8_t *) "\xc1", 1, NULL), -EBADMSG);
        cr_assert_eq(mp_scan_buffer((const uint8_t *) "\x92\x01\xc1", 3, NULL), -EBADMSG);
}

Test(scan, garbage_never_overreads_or_crashes) {
        uint8_t buf[512];
        unsigned seed = 12345;
        for (int round = 0; round < 20000; round++) {
                size_t n = (size_t) (rand_r(&seed) % sizeof(buf));
                long r;
                for (size_t i = 0; i < n; i++)
                        buf[i] = (uint8_t) rand_r(&seed);
                r = mp_scan_buffer(buf, n, NULL);
                cr_assert(r <= (long) n);
                if (r > 0) {
                        msgpack_unpacked u;
                        size_t off = 0;
                        msgpack_unpacked_init(&u);
                        cr_assert_eq(msgpack_unpack_next(&u, (const char *) buf, (size_t) r, &off),
                                     MSGPACK_UNPACK_SUCCESS);
                        cr_assert_eq(off, (size_t) r);
                        msgpack_unpacked_destroy(&u);
                }
        }
}

/* Flip every bit of a valid message: whatever the scanner accepts must unpack to exactly the
 * length it claimed (the scanner and msgpack-c agree on framing). */
Test(scan, bit_flip_sweep_agrees_with_msgpack) {
        struct rpc_buf b;
        rpc_buf_init(&b, 0);
        pack_sample(&b);
        for (size_t i = 0; i < b.len; i++)
                for (int bit = 0; bit < 8; bit++) {
                        long r;
                        b.data[i] ^= (char) (1 << bit);
                        r = mp_scan_buffer((const uint8_t *) b.data, b.len, NULL);
                        if (r > 0) {
                                msgpack_unpacked u;
                                size_t off = 0;
                                msgpack_unpacked_init(&u);
                                cr_assert_eq(msgpack_unpack_next(&u, b.data, (size_t) r, &off),
                                             MSGPACK_UNPACK_SUCCESS, "byte %zu bit %d", i, bit);
                                cr_assert_eq(off, (size_t) r);
                                msgpack_unpacked_destroy(&u);
                        }
                        b.data[i] ^= (char) (1 << bit);
                }
        rpc_buf_done(&b);
}
