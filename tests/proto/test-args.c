/* Declarative argument parsing: every type, every refusal, and nothing leaked on failure. */
#include <criterion/criterion.h>
#include <stddef.h>

#include "proto/args.h"
#include "proto/utf8.h"

struct a {
        char *name;
        int64_t port;
        bool force;
        char **tags;
        const msgpack_object *opts;
        struct rpc_bin blob;
};

static const struct rpc_arg args[] = {
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8 | RPC_ARG_PRINTABLE, offsetof(struct a, name),
         1, 64},
        {"port", RPC_ARG_INT, 0, offsetof(struct a, port), 1, 65535},
        {"force", RPC_ARG_BOOL, RPC_ARG_NULLABLE, offsetof(struct a, force)},
        {"tags", RPC_ARG_STRV, 0, offsetof(struct a, tags), 0, 3, 8},
        {"opts", RPC_ARG_MAP, 0, offsetof(struct a, opts), 0, 4},
        {"blob", RPC_ARG_BIN, 0, offsetof(struct a, blob), 0, 16},
};

/* Builds params [ {..} ] from a callback, parses, returns r and fills e/out. */
static msgpack_unpacked parsed;
static struct rpc_buf parsed_bytes; /* the objects point into it */

static int parse(void (*fill)(msgpack_packer *), struct a *out, struct rpc_error *e) {
        size_t off = 0;
        rpc_buf_init(&parsed_bytes, 0);
        fill(&parsed_bytes.pk);
        msgpack_unpacked_init(&parsed);
        cr_assert_eq(msgpack_unpack_next(&parsed, parsed_bytes.data, parsed_bytes.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
        *out = (struct a){.port = 27015};
        return rpc_args_parse(&parsed.data, args, ELEMENTSOF(args), out, e);
}

static void done(struct a *out) {
        rpc_args_free(args, ELEMENTSOF(args), out);
        msgpack_unpacked_destroy(&parsed);
        rpc_buf_done(&parsed_bytes);
}

static void f_good(msgpack_packer *pk) {
        rpc_pack_params_map(pk, 5);
        rpc_pack_kv_str(pk, "name", "srv-1");
        rpc_pack_kv_int(pk, "port", 27016);
        rpc_pack_kv_bool(pk, "force", true);
        rpc_pack_key(pk, "tags");
        msgpack_pack_array(pk, 2);
        rpc_pack_str(pk, "a");
        rpc_pack_str(pk, "bb");
        rpc_pack_key(pk, "blob");
        msgpack_pack_bin(pk, 2);
        msgpack_pack_bin_body(pk, "\0\1", 2);
}

Test(args, good) {
        struct a a;
        struct rpc_error e;
        cr_assert_eq(parse(f_good, &a, &e), 0);
        cr_assert_str_eq(a.name, "srv-1");
        cr_assert_eq(a.port, 27016);
        cr_assert(a.force);
        cr_assert_str_eq(a.tags[0], "a");
        cr_assert_str_eq(a.tags[1], "bb");
        cr_assert_null(a.tags[2]);
        cr_assert_eq(a.blob.len, 2u);
        done(&a);
}

static void f_minimal(msgpack_packer *pk) {
        rpc_pack_params_map(pk, 1);
        rpc_pack_kv_str(pk, "name", "x");
}

Test(args, defaults_kept) {
        struct a a;
        struct rpc_error e;
        cr_assert_eq(parse(f_minimal, &a, &e), 0);
        cr_assert_eq(a.port, 27015);
        cr_assert(!a.force);
        cr_assert_null(a.tags);
        done(&a);
}

#define BAD(fn, body, want)                                                                                 \
        static void fn(msgpack_packer *pk) body Test(args, fn) {                                            \
                struct a a;                                                                                 \
                struct rpc_error e = {};                                                                    \
                cr_assert_eq(parse(fn, &a, &e), -EINVAL);                                                   \
                cr_assert_eq(e.code, RPC_INVALID);                                                          \
                cr_assert(strstr(e.message, want) != NULL, "message '%s' lacks '%s'", e.message, want);     \
                cr_assert_null(a.name, "nothing may be left allocated");                                    \
                cr_assert_null(a.tags);                                                                     \
                done(&a);                                                                                   \
        }

BAD(
        missing_required,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_int(pk, "port", 1);
        },
        "name: is required")
BAD(
        unknown_arg,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_int(pk, "prot", 1);
        },
        "'prot': unknown argument")
BAD(
        twice,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_str(pk, "name", "y");
        },
        "name: given twice")
BAD(
        wrong_type,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_int(pk, "name", 5);
        },
        "name: must be a string")
BAD(
        too_long,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_str(pk, "name",
                                "0123456789012345678901234567890123456789012345678901234567890123456789");
        },
        "name: must be at most 64 bytes")
BAD(
        empty,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_str(pk, "name", "");
        },
        "name: must be at least 1 bytes")
BAD(
        nul_inside,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_key(pk, "name");
                rpc_pack_strn(pk, "a\0b", 3);
        },
        "name: must not contain NUL")
BAD(
        bad_utf8,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_str(pk, "name", "\xc3\x28");
        },
        "name: must be valid UTF-8")
BAD(
        overlong_utf8,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_str(pk, "name", "\xc0\xaf");
        },
        "UTF-8")
BAD(
        control_char,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_str(pk, "name", "a\nb");
        },
        "control characters")
BAD(
        port_range,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_int(pk, "port", 70000);
        },
        "port: must be between 1 and 65535")
BAD(
        port_negative,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_int(pk, "port", -1);
        },
        "port: must be between")
BAD(
        port_huge,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_uint(pk, "port", UINT64_MAX);
        },
        "port: must be at most")
BAD(
        port_string,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_str(pk, "port", "80");
        },
        "port: must be an integer")
BAD(
        bool_int,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_kv_int(pk, "force", 1);
        },
        "force: must be true or false")
BAD(
        tags_too_many,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_key(pk, "tags");
                msgpack_pack_array(pk, 4);
                for (int i = 0; i < 4; i++)
                        rpc_pack_str(pk, "t");
        },
        "tags: must have 0 to 3 items")
BAD(
        tag_too_long,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_key(pk, "tags");
                msgpack_pack_array(pk, 2);
                rpc_pack_str(pk, "ok");
                rpc_pack_str(pk, "waytoolongtag");
        },
        "tags[1]: must be at most 8 bytes")
BAD(
        tag_not_string,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_key(pk, "tags");
                msgpack_pack_array(pk, 1);
                msgpack_pack_nil(pk);
        },
        "tags[0]: must be a string")
BAD(
        opts_too_big,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_key(pk, "opts");
                msgpack_pack_map(pk, 5);
                for (int i = 0; i < 5; i++) {
                        msgpack_pack_int(pk, i);
                        msgpack_pack_int(pk, i);
                }
        },
        "opts: must have at most 4 entries")
BAD(
        blob_too_big,
        {
                rpc_pack_params_map(pk, 2);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_key(pk, "blob");
                msgpack_pack_bin(pk, 17);
                msgpack_pack_bin_body(pk, "0123456789abcdefg", 17);
        },
        "blob: must be 0 to 16 bytes")
BAD(
        params_not_array, { msgpack_pack_map(pk, 0); }, "params: must be an array")
BAD(
        params_two,
        {
                msgpack_pack_array(pk, 2);
                msgpack_pack_map(pk, 0);
                msgpack_pack_map(pk, 0);
        },
        "params: must be []")
BAD(
        params_positional,
        {
                msgpack_pack_array(pk, 1);
                rpc_pack_str(pk, "x");
        },
        "params[0]: must be a map")
BAD(
        key_not_string,
        {
                rpc_pack_params_map(pk, 1);
                msgpack_pack_int(pk, 1);
                msgpack_pack_int(pk, 1);
        },
        "argument names must be strings")
BAD(
        required_nil,
        {
                rpc_pack_params_map(pk, 1);
                rpc_pack_kv_nil(pk, "name");
        },
        "name: must be a string")

/* A failure late in the map must free what earlier fields allocated. */
BAD(
        late_failure_frees,
        {
                rpc_pack_params_map(pk, 3);
                rpc_pack_kv_str(pk, "name", "x");
                rpc_pack_key(pk, "tags");
                msgpack_pack_array(pk, 1);
                rpc_pack_str(pk, "t");
                rpc_pack_kv_int(pk, "port", 0);
        },
        "port: must be between")

static void f_nullable(msgpack_packer *pk) {
        rpc_pack_params_map(pk, 2);
        rpc_pack_kv_str(pk, "name", "x");
        rpc_pack_kv_nil(pk, "force");
}

Test(args, nullable_nil_keeps_default) {
        struct a a;
        struct rpc_error e;
        cr_assert_eq(parse(f_nullable, &a, &e), 0);
        cr_assert(!a.force);
        done(&a);
}

Test(args, no_args_method_refuses_any) {
        struct rpc_buf b;
        msgpack_unpacked u;
        struct rpc_error e;
        size_t off = 0;
        rpc_buf_init(&b, 0);
        rpc_pack_params_map(&b.pk, 1);
        rpc_pack_kv_int(&b.pk, "x", 1);
        msgpack_unpacked_init(&u);
        msgpack_unpack_next(&u, b.data, b.len, &off);
        cr_assert_eq(rpc_args_parse(&u.data, NULL, 0, NULL, &e), -EINVAL);
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&b);
}

Test(utf8, valid_and_invalid) {
        cr_assert(utf8_is_valid("héllo €𝄞", strlen("héllo €𝄞")));
        cr_assert(!utf8_is_valid("\xed\xa0\x80", 3), "surrogate");
        cr_assert(!utf8_is_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
        cr_assert(!utf8_is_valid("\xe2\x82", 2), "truncated");
        cr_assert(!utf8_is_valid("\xff", 1));
}
