/* Unit tests of the pure job model: states and transitions, kinds, payload validation and
 * canonical packing, keys, subjects, output line sanitizing and capping. */
#include <criterion/criterion.h>

#include "proto/rpc.h"
#include "svc-jobs/jobd-job.h"

/* ---- states ------------------------------------------------------------------------------ */

Test(job_state, names_round_trip) {
        for (int s = 0; s < _JOB_STATE_MAX; s++)
                cr_assert_eq(job_state_from_string(job_state_to_string(s)), s);
        cr_assert_eq(job_state_from_string("done"), -EINVAL);
        cr_assert_eq(job_state_from_string(""), -EINVAL);
        cr_assert_eq(job_state_from_string(NULL), -EINVAL);
        cr_assert_null(job_state_to_string(_JOB_STATE_MAX));
}

/* Every (from, to) pair: exactly these are legal. */
Test(job_state, every_transition) {
        static const bool legal[_JOB_STATE_MAX][_JOB_STATE_MAX] = {
                [JOB_QUEUED] = {[JOB_RUNNING] = true, [JOB_CANCELLED] = true},
                [JOB_RUNNING] = {[JOB_SUCCEEDED] = true,
                                 [JOB_FAILED] = true,
                                 [JOB_CANCELLING] = true,
                                 [JOB_QUEUED] = true},
                [JOB_CANCELLING] = {[JOB_CANCELLED] = true, [JOB_SUCCEEDED] = true, [JOB_FAILED] = true},
        };
        int n_legal = 0;

        for (int from = 0; from < _JOB_STATE_MAX; from++)
                for (int to = 0; to < _JOB_STATE_MAX; to++) {
                        cr_expect_eq(job_transition_ok(from, to), legal[from][to], "%s -> %s",
                                     job_state_to_string(from), job_state_to_string(to));
                        n_legal += legal[from][to];
                }
        cr_assert_eq(n_legal, 9);
}

Test(job_state, terminal_states_are_final) {
        for (int s = 0; s < _JOB_STATE_MAX; s++) {
                bool terminal = s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
                cr_assert_eq(job_state_is_terminal(s), terminal);
                if (terminal)
                        for (int to = 0; to < _JOB_STATE_MAX; to++)
                                cr_assert_not(job_transition_ok(s, to));
        }
}

/* ---- kinds and payloads ------------------------------------------------------------------ */

Test(job_kind, names_and_flags) {
        for (int k = 0; k < _JOB_KIND_MAX; k++)
                cr_assert_eq(job_kind_from_string(job_kind_to_string(k)), k);
        cr_assert_eq(job_kind_from_string("server.restart"), -EINVAL);
        cr_assert(job_kind_info(JOB_SERVER_START)->idempotent);
        cr_assert_not(job_kind_info(JOB_OVERLAY_BUILD)->idempotent);
        cr_assert(job_kind_info(JOB_OVERLAY_BUILD)->coalesce);
        cr_assert_not(job_kind_info(JOB_SERVER_START)->coalesce);
        cr_assert_str_eq(job_kind_to_string(JOB_OVERLAY_DELETE), "overlay.delete");
        cr_assert(job_kind_info(JOB_OVERLAY_DELETE)->idempotent, "hostd: a missing overlay is success");
        cr_assert(job_kind_info(JOB_OVERLAY_DELETE)->coalesce);
}

/* Builds a msgpack map object from a packed buffer. */
struct obj {
        msgpack_unpacked unp;
        struct rpc_buf b;
};

static const msgpack_object *obj_from(struct obj *o) {
        size_t off = 0;
        msgpack_unpacked_init(&o->unp);
        cr_assert_eq(msgpack_unpack_next(&o->unp, o->b.data, o->b.len, &off), MSGPACK_UNPACK_SUCCESS);
        return &o->unp.data;
}

static void obj_done(struct obj *o) {
        msgpack_unpacked_destroy(&o->unp);
        rpc_buf_done(&o->b);
}

/* Packs a map of string pairs (value NULL: the next pair's value is an array of "a","b"). */
static int parse_kv(enum job_kind k, struct job_payload *p, struct rpc_error *e, size_t n,
                    const char *const *kv) {
        struct obj o;
        int r;

        rpc_buf_init(&o.b, 0);
        msgpack_pack_map(&o.b.pk, n);
        for (size_t i = 0; i < n; i++) {
                rpc_pack_str(&o.b.pk, kv[2 * i]);
                if (streq(kv[2 * i], "overlays")) {
                        msgpack_pack_array(&o.b.pk, 2);
                        rpc_pack_str(&o.b.pk, "a");
                        rpc_pack_str(&o.b.pk, kv[2 * i + 1]);
                } else
                        rpc_pack_str(&o.b.pk, kv[2 * i + 1]);
        }
        r = job_payload_parse(k, obj_from(&o), p, e);
        obj_done(&o);
        return r;
}

Test(job_payload, valid_per_kind) {
        struct job_payload p = {};
        struct rpc_error e;

        cr_assert_eq(job_payload_parse(JOB_INSTALL, NULL, &p, &e), 0);
        job_payload_done(&p);
        cr_assert_eq(parse_kv(JOB_SERVER_START, &p, &e, 3,
                              (const char *const[]){"server", "s1", "spec", "port: 1\n", "overlays", "b"}),
                     0, "%s", e.message);
        cr_assert_str_eq(p.server, "s1");
        cr_assert_str_eq(p.spec, "port: 1\n");
        cr_assert_str_eq(p.overlays[1], "b");
        job_payload_done(&p);
        cr_assert_eq(parse_kv(JOB_SERVER_STOP, &p, &e, 1, (const char *const[]){"server", "s1"}), 0);
        job_payload_done(&p);
        cr_assert_eq(parse_kv(JOB_OVERLAY_BUILD, &p, &e, 2,
                              (const char *const[]){"overlay", "o-1", "script", "echo hi\n"}),
                     0);
        cr_assert_str_eq(p.overlay, "o-1");
        job_payload_done(&p);
        cr_assert_eq(parse_kv(JOB_OVERLAY_DELETE, &p, &e, 1, (const char *const[]){"overlay", "o-1"}), 0);
        cr_assert_str_eq(p.overlay, "o-1");
        cr_assert_null(p.script);
        job_payload_done(&p);
}

Test(job_payload, refused) {
        struct job_payload p = {};
        struct rpc_error e;

        /* install takes nothing */
        cr_assert_lt(parse_kv(JOB_INSTALL, &p, &e, 1, (const char *const[]){"server", "s1"}), 0);
        cr_assert(strstr(e.message, "payload"), "%s", e.message);
        /* missing required */
        cr_assert_lt(parse_kv(JOB_SERVER_START, &p, &e, 1, (const char *const[]){"server", "s1"}), 0);
        cr_assert(strstr(e.message, "payload.spec"), "%s", e.message);
        /* spec on a stop */
        cr_assert_lt(
                parse_kv(JOB_SERVER_STOP, &p, &e, 2, (const char *const[]){"server", "s1", "spec", "x"}), 0);
        cr_assert(strstr(e.message, "spec"), "%s", e.message);
        /* bad names */
        cr_assert_lt(parse_kv(JOB_SERVER_STOP, &p, &e, 1, (const char *const[]){"server", "../etc"}), 0);
        cr_assert(strstr(e.message, "payload.server"), "%s", e.message);
        cr_assert_lt(parse_kv(JOB_SERVER_STOP, &p, &e, 1, (const char *const[]){"server", "Upper"}), 0);
        cr_assert_lt(parse_kv(JOB_SERVER_STOP, &p, &e, 1, (const char *const[]){"server", ""}), 0);
        cr_assert_lt(parse_kv(JOB_OVERLAY_BUILD, &p, &e, 2,
                              (const char *const[]){"overlay", "-x", "script", "x"}),
                     0);
        /* overlay.delete: the overlay only, a valid name */
        cr_assert_lt(parse_kv(JOB_OVERLAY_DELETE, &p, &e, 0, (const char *const[]){NULL}), 0);
        cr_assert(strstr(e.message, "payload.overlay"), "%s", e.message);
        cr_assert_lt(parse_kv(JOB_OVERLAY_DELETE, &p, &e, 1, (const char *const[]){"overlay", "a/b"}), 0);
        cr_assert(strstr(e.message, "payload.overlay"), "%s", e.message);
        cr_assert_lt(parse_kv(JOB_OVERLAY_DELETE, &p, &e, 2,
                              (const char *const[]){"overlay", "o", "script", "x"}),
                     0);
        cr_assert(strstr(e.message, "script"), "%s", e.message);
        /* overlays: bad item, duplicate */
        cr_assert_lt(
                parse_kv(JOB_SERVER_STOP, &p, &e, 2, (const char *const[]){"server", "s", "overlays", "B/"}),
                0);
        cr_assert(strstr(e.message, "payload.overlays[1]"), "%s", e.message);
        cr_assert_lt(
                parse_kv(JOB_SERVER_STOP, &p, &e, 2, (const char *const[]){"server", "s", "overlays", "a"}),
                0);
        cr_assert(strstr(e.message, "twice"), "%s", e.message);
        /* not a map */
        {
                msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 3};
                cr_assert_lt(job_payload_parse(JOB_INSTALL, &o, &p, &e), 0);
        }
        cr_assert_null(p.server);
}

Test(job_payload, canonical_packing) {
        struct job_payload a = {}, b = {}, back = {};
        struct rpc_buf ba, bb;
        struct rpc_error e;

        /* Same content, keys in a different order: same bytes. */
        cr_assert_eq(parse_kv(JOB_SERVER_START, &a, &e, 3,
                              (const char *const[]){"server", "s1", "spec", "port: 1\n", "overlays", "b"}),
                     0);
        cr_assert_eq(parse_kv(JOB_SERVER_START, &b, &e, 3,
                              (const char *const[]){"overlays", "b", "spec", "port: 1\n", "server", "s1"}),
                     0);
        rpc_buf_init(&ba, 0);
        rpc_buf_init(&bb, 0);
        job_payload_pack(&a, &ba.pk);
        job_payload_pack(&b, &bb.pk);
        cr_assert_eq(ba.len, bb.len);
        cr_assert_eq(memcmp(ba.data, bb.data, ba.len), 0);
        cr_assert_eq(job_payload_unpack(JOB_SERVER_START, ba.data, ba.len, &back), 0);
        cr_assert_str_eq(back.spec, "port: 1\n");
        /* Wrong kind for the stored bytes, and garbage, are refused. */
        job_payload_done(&back);
        cr_assert_lt(job_payload_unpack(JOB_OVERLAY_BUILD, ba.data, ba.len, &back), 0);
        cr_assert_lt(job_payload_unpack(JOB_SERVER_START, "\xc1", 1, &back), 0);
        cr_assert_lt(job_payload_unpack(JOB_SERVER_START, ba.data, ba.len - 1, &back), 0);
        rpc_buf_done(&ba);
        rpc_buf_done(&bb);
        job_payload_done(&a);
        job_payload_done(&b);
}

Test(job_payload, overlay_build_base) {
        struct job_payload cur = {}, empty = {}, none = {}, back = {};
        struct rpc_buf bc, be, bn;
        struct rpc_error e;

        cr_assert_eq(parse_kv(JOB_OVERLAY_BUILD, &cur, &e, 3,
                              (const char *const[]){"overlay", "o", "script", "x", "base", "current"}),
                     0, "%s", e.message);
        cr_assert_str_eq(cur.base, "current");
        cr_assert_eq(parse_kv(JOB_OVERLAY_BUILD, &empty, &e, 3,
                              (const char *const[]){"overlay", "o", "script", "x", "base", "empty"}),
                     0, "%s", e.message);
        cr_assert_null(empty.base, "empty is the default, stored as no base");
        cr_assert_eq(parse_kv(JOB_OVERLAY_BUILD, &none, &e, 2,
                              (const char *const[]){"overlay", "o", "script", "x"}),
                     0);
        cr_assert_lt(parse_kv(JOB_OVERLAY_BUILD, &back, &e, 3,
                              (const char *const[]){"overlay", "o", "script", "x", "base", "previous"}),
                     0);
        cr_assert(strstr(e.message, "payload.base: must be 'empty' or 'current'"), "%s", e.message);
        cr_assert_lt(parse_kv(JOB_OVERLAY_DELETE, &back, &e, 2,
                              (const char *const[]){"overlay", "o", "base", "current"}),
                     0);
        rpc_buf_init(&bc, 0);
        rpc_buf_init(&be, 0);
        rpc_buf_init(&bn, 0);
        job_payload_pack(&cur, &bc.pk);
        job_payload_pack(&empty, &be.pk);
        job_payload_pack(&none, &bn.pk);
        /* part of the coalescing identity: current differs, empty and none are the same bytes */
        cr_assert(be.len == bn.len && memcmp(be.data, bn.data, be.len) == 0);
        cr_assert(bc.len != bn.len || memcmp(bc.data, bn.data, bn.len) != 0);
        cr_assert_eq(job_payload_unpack(JOB_OVERLAY_BUILD, bc.data, bc.len, &back), 0);
        cr_assert_str_eq(back.base, "current");
        job_payload_done(&back);
        rpc_buf_done(&bc);
        rpc_buf_done(&be);
        rpc_buf_done(&bn);
        job_payload_done(&cur);
        job_payload_done(&empty);
        job_payload_done(&none);
}

/* ---- keys and subjects ------------------------------------------------------------------- */

Test(job_keys, derive_format_parse) {
        char *ov[] = {"o1", "o2", NULL};
        struct job_payload p = {.server = "s1", .overlays = ov};
        struct job_key *k = NULL, *k2 = NULL;
        size_t n = 0, n2 = 0;
        char *text = NULL;

        cr_assert_eq(job_keys_derive(JOB_SERVER_START, &p, &k, &n), 0);
        cr_assert_eq(n, 4);
        cr_assert_str_eq(k[0].name, "server:s1");
        cr_assert_eq(k[0].mode, JOB_KEY_EXCLUSIVE);
        cr_assert_str_eq(k[1].name, "install");
        cr_assert_eq(k[1].mode, JOB_KEY_SHARED);
        cr_assert_str_eq(k[3].name, "overlay:o2");
        cr_assert_eq(k[3].mode, JOB_KEY_SHARED);
        cr_assert_eq(job_keys_format(k, n, &text), 0);
        cr_assert_str_eq(text, "x server:s1\ns install\ns overlay:o1\ns overlay:o2\n");
        cr_assert_eq(job_keys_parse(text, &k2, &n2), 0);
        cr_assert_eq(n2, n);
        for (size_t i = 0; i < n; i++) {
                cr_assert_str_eq(k2[i].name, k[i].name);
                cr_assert_eq(k2[i].mode, k[i].mode);
        }
        free(text);
        job_keys_free(k, n);
        job_keys_free(k2, n2);

        cr_assert_eq(job_keys_derive(JOB_INSTALL, &p, &k, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(k[0].name, "install");
        cr_assert_eq(k[0].mode, JOB_KEY_EXCLUSIVE);
        job_keys_free(k, n);
        p = (struct job_payload){.overlay = "o7"};
        cr_assert_eq(job_keys_derive(JOB_OVERLAY_BUILD, &p, &k, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(k[0].name, "overlay:o7");
        cr_assert_eq(k[0].mode, JOB_KEY_EXCLUSIVE);
        job_keys_free(k, n);
        cr_assert_eq(job_keys_derive(JOB_OVERLAY_DELETE, &p, &k, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(k[0].name, "overlay:o7");
        cr_assert_eq(k[0].mode, JOB_KEY_EXCLUSIVE, "a delete waits for a running build and the reverse");
        job_keys_free(k, n);

        cr_assert_lt(job_keys_parse("q install\n", &k, &n), 0);
        cr_assert_lt(job_keys_parse("x\n", &k, &n), 0);
}

Test(job_subjects, derive_dedupe_sort) {
        struct job_payload p = {.server = "s1"};
        char *extra[] = {"user:bob", "server:s1", "blueprint:b2", NULL};
        char **v = NULL;

        cr_assert_eq(job_subjects_derive(JOB_SERVER_STOP, &p, extra, &v), 0);
        cr_assert_eq(strv_length(v), 3);
        cr_assert_str_eq(v[0], "blueprint:b2");
        cr_assert_str_eq(v[1], "server:s1");
        cr_assert_str_eq(v[2], "user:bob");
        strv_free(v);
        p = (struct job_payload){.overlay = "o7"};
        cr_assert_eq(job_subjects_derive(JOB_OVERLAY_DELETE, &p, NULL, &v), 0);
        cr_assert_eq(strv_length(v), 1);
        cr_assert_str_eq(v[0], "overlay:o7");
        strv_free(v);

        cr_assert(job_subject_valid("server:s1"));
        cr_assert(job_subject_valid("overlay:a-b_c"));
        cr_assert_not(job_subject_valid("server:"));
        cr_assert_not(job_subject_valid(":x"));
        cr_assert_not(job_subject_valid("Server:x"));
        cr_assert_not(job_subject_valid("server:x y"));
        cr_assert_not(job_subject_valid("server"));
        cr_assert(job_owner_valid("user 42 (émile)"));
        cr_assert_not(job_owner_valid(""));
        cr_assert_not(job_owner_valid("a\nb"));
        cr_assert_not(job_owner_valid("\xff"));
}

/* ---- lines ------------------------------------------------------------------------------- */

Test(job_line, capped_at_4096_bytes) {
        char in[10000], out[JOB_LINE_MAX + 1];
        bool trunc;
        size_t n;

        memset(in, 'a', sizeof(in));
        n = job_line_sanitize(in, sizeof(in), out, &trunc);
        cr_assert_eq(n, JOB_LINE_MAX);
        cr_assert(trunc);
        cr_assert_eq(strlen(out), JOB_LINE_MAX);

        n = job_line_sanitize(in, JOB_LINE_MAX, out, &trunc);
        cr_assert_eq(n, JOB_LINE_MAX);
        cr_assert_not(trunc);

        /* A two-byte character straddling the cap is left out whole. */
        memcpy(in + JOB_LINE_MAX - 1, "\xc3\xa9", 2);
        n = job_line_sanitize(in, JOB_LINE_MAX + 1, out, &trunc);
        cr_assert_eq(n, JOB_LINE_MAX - 1);
        cr_assert(trunc);
}

Test(job_line, sanitized) {
        char out[JOB_LINE_MAX + 1];
        size_t n;

        n = job_line_sanitize("hello\r\n", 7, out, NULL);
        cr_assert_eq(n, 5);
        cr_assert_str_eq(out, "hello");
        n = job_line_sanitize("a\xff"
                              "b",
                              3, out, NULL);
        cr_assert_str_eq(out, "a\xef\xbf\xbd"
                              "b");
        n = job_line_sanitize("a\x1b[0mb\tc", 8, out, NULL);
        cr_assert_str_eq(out, "a\xef\xbf\xbd[0mb\tc");
        n = job_line_sanitize("x\0y", 3, out, NULL);
        cr_assert_str_eq(out, "x\xef\xbf\xbdy");
        n = job_line_sanitize("\xc3\xa9t\xc3\xa9", 5, out, NULL);
        cr_assert_str_eq(out, "\xc3\xa9t\xc3\xa9");
        /* overlong and surrogate encodings are not UTF-8 */
        n = job_line_sanitize("\xc0\xaf", 2, out, NULL);
        cr_assert_str_eq(out, "\xef\xbf\xbd\xef\xbf\xbd");
        n = job_line_sanitize("\xed\xa0\x80", 3, out, NULL);
        cr_assert_eq(n, 9);
        n = job_line_sanitize("", 0, out, NULL);
        cr_assert_eq(n, 0);
}

Test(job, unit_names) {
        static const char *const good[] = {
                "left4me-server@s1.service",
                "left4me-server@a.service",
                "left4me-build-ov-1.service",
                "left4me-build-my-overlay-1700000000.service",
                "left4me-build-x-0.service",
                "left4me-server@0123456789012345678901234567890123456789012345678901234567890123.service",
        };
        static const char *const bad[] = {
                "",
                "left4me-server@.service",
                "left4me-server@S1.service",
                "left4me-server@../x.service",
                "left4me-server@a b.service",
                "left4me-server@a.socket",
                "left4me-server@a.service\n",
                "left4me-build-ov.service",
                "left4me-build-ov-01.service",
                "left4me-build--1.service",
                "left4me-build-ov-12345678901.service",
                "left4me-build-ov-1x.service",
                "sshd.service",
                "left4me-web.service",
                "left4me-server@a.service.service",
                "_SYSTEMD_UNIT=sshd.service",
                "left4me-server@01234567890123456789012345678901234567890123456789012345678901234.service",
        };
        char **units = NULL;

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                cr_assert(job_unit_valid(good[i], strlen(good[i])), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(!job_unit_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
        /* An embedded NUL and a length that cuts the name are refused. */
        cr_assert(!job_unit_valid("left4me-server@a\0.service", 25));
        cr_assert(!job_unit_valid("left4me-server@a.service", 20));

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(job_units_add(&units, bad[i], strlen(bad[i])), -EINVAL);
        cr_assert_null(units);
        for (int i = 0; i < JOB_UNITS_MAX; i++) {
                char u[64];
                int n = snprintf(u, sizeof(u), "left4me-build-o-%d.service", i + 1);
                cr_assert_eq(job_units_add(&units, u, (size_t) n), 1);
                cr_assert_eq(job_units_add(&units, u, (size_t) n), 0);
        }
        cr_assert_eq(strv_length(units), JOB_UNITS_MAX);
        cr_assert_eq(job_units_add(&units, "left4me-server@x.service", 24), -E2BIG);
        strv_free(units);
}
