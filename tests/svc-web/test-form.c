/* Unit tests of the form, query and cookie parsers and the `next` validator
 * (svc-web/webd-form.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "svc-web/webd-form.h"

static int parse(struct form *f, const char *s) {
        return form_parse_urlencoded(f, s, strlen(s), NULL);
}

Test(form, basic_pairs_plus_and_percent) {
        struct form f;

        cr_assert_eq(parse(&f, "username=alice&password=a+b%20c%26d%3D&empty=&flag"), 0);
        cr_assert_eq(f.n_fields, 4);
        cr_assert_str_eq(form_get(&f, "username"), "alice");
        cr_assert_str_eq(form_get(&f, "password"), "a b c&d=");
        cr_assert_str_eq(form_get(&f, "empty"), "");
        cr_assert_str_eq(form_get(&f, "flag"), "");
        cr_assert_null(form_get(&f, "nope"));
        form_done(&f);
}

Test(form, names_are_decoded_too_and_utf8_passes) {
        struct form f;

        cr_assert_eq(parse(&f, "a%5Bb%5d=caf%C3%A9&n%C3%A4me=%E2%82%AC"), 0);
        cr_assert_str_eq(form_get(&f, "a[b]"), "caf\xc3\xa9");
        cr_assert_str_eq(form_get(&f, "n\xc3\xa4me"), "\xe2\x82\xac");
        form_done(&f);
}

Test(form, empty_segments_and_input) {
        struct form f;

        cr_assert_eq(parse(&f, "&&a=1&&"), 0);
        cr_assert_eq(f.n_fields, 1);
        form_done(&f);
        cr_assert_eq(parse(&f, ""), 0);
        cr_assert_eq(f.n_fields, 0);
        form_done(&f);
}

Test(form, value_keeps_equals_and_newlines) {
        struct form f;

        cr_assert_eq(parse(&f, "cfg=a%3Db=c&x=l1%0D%0Al2"), 0);
        cr_assert_str_eq(form_get(&f, "cfg"), "a=b=c");
        cr_assert_str_eq(form_get(&f, "x"), "l1\r\nl2");
        cr_assert_eq(f.fields[1].value_len, 6);
        form_done(&f);
}

Test(form, duplicates) {
        struct form f;
        const char *v = NULL;

        cr_assert_eq(parse(&f, "overlay_ids=3&overlay_ids=1&name=x&name=y&one=1"), 0);
        cr_assert_eq(form_count(&f, "overlay_ids"), 2);
        cr_assert_str_eq(f.fields[0].value, "3");
        cr_assert_str_eq(f.fields[1].value, "1");
        cr_assert_eq(form_get_one(&f, "name", &v), -ENOTUNIQ);
        cr_assert_eq(form_get_one(&f, "missing", &v), -ENOENT);
        cr_assert_null(v);
        cr_assert_eq(form_get_one(&f, "one", &v), 0);
        cr_assert_str_eq(v, "1");
        form_done(&f);
}

static void expect_err(const char *in, size_t len, int r, enum form_err e) {
        struct form f;

        cr_assert_eq(form_parse_urlencoded(&f, in, len, NULL), r, "'%s'", in);
        cr_assert_eq(f.err, e, "'%s': %s", in, form_err_to_string(f.err));
        cr_assert_eq(f.n_fields, 0);
        cr_assert_null(f.fields);
        form_done(&f);
}

Test(form, bad_escapes) {
        expect_err("a=%", 3, -EINVAL, FORM_ERR_BAD_ESCAPE);
        expect_err("a=%4", 4, -EINVAL, FORM_ERR_BAD_ESCAPE);
        expect_err("a=%zz", 5, -EINVAL, FORM_ERR_BAD_ESCAPE);
        expect_err("%g1=b", 5, -EINVAL, FORM_ERR_BAD_ESCAPE);
        /* "%4&" must not borrow the separator as a digit. */
        expect_err("a=%4&b=1", 8, -EINVAL, FORM_ERR_BAD_ESCAPE);
}

Test(form, nul_refused_raw_and_encoded) {
        expect_err("a=x%00y", 7, -EINVAL, FORM_ERR_NUL);
        expect_err("a%00=y", 6, -EINVAL, FORM_ERR_NUL);
        expect_err("a=x\0y", 5, -EINVAL, FORM_ERR_NUL);
}

Test(form, invalid_utf8_refused) {
        expect_err("a=%FF", 5, -EILSEQ, FORM_ERR_BAD_UTF8);
        expect_err("a=%C0%AF", 8, -EILSEQ, FORM_ERR_BAD_UTF8);
        expect_err("a=%ED%A0%80", 11, -EILSEQ, FORM_ERR_BAD_UTF8);
        expect_err("a=%E2%82", 8, -EILSEQ, FORM_ERR_BAD_UTF8);
        expect_err("%FF=1", 5, -EILSEQ, FORM_ERR_BAD_UTF8);
        expect_err("a=\xff", 3, -EILSEQ, FORM_ERR_BAD_UTF8);
}

Test(form, control_in_name_and_empty_name) {
        expect_err("a%0Ab=1", 7, -EINVAL, FORM_ERR_CONTROL);
        expect_err("=1", 2, -EINVAL, FORM_ERR_EMPTY_NAME);
        expect_err("a=1&=2", 6, -EINVAL, FORM_ERR_EMPTY_NAME);
}

Test(form, limits) {
        struct form_limits lim = {.max_bytes = 64, .max_fields = 3, .max_name = 4, .max_value = 5};
        struct form f;
        char big[100];

        memset(big, 'a', sizeof(big));
        cr_assert_eq(form_parse_urlencoded(&f, big, sizeof(big), &lim), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_TOO_BIG);
        form_done(&f);
        cr_assert_eq(form_parse_urlencoded(&f, "a&b&c&d", 7, &lim), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_TOO_MANY_FIELDS);
        form_done(&f);
        cr_assert_eq(form_parse_urlencoded(&f, "a&b&c", 5, &lim), 0);
        form_done(&f);
        cr_assert_eq(form_parse_urlencoded(&f, "abcde=1", 7, &lim), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_NAME_TOO_LONG);
        form_done(&f);
        /* Limits apply to the decoded length: %61 is one byte. */
        cr_assert_eq(form_parse_urlencoded(&f, "%61%61%61%61=%61%61%61%61%61", 28, &lim), 0);
        form_done(&f);
        cr_assert_eq(form_parse_urlencoded(&f, "a=123456", 8, &lim), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_VALUE_TOO_LONG);
        form_done(&f);
}

Test(form, default_field_cap_is_256) {
        char *buf = malloc(257 * 4 + 1);
        struct form f;
        size_t n = 0;

        for (int i = 0; i < 257; i++)
                n += (size_t) snprintf(buf + n, 5, "a=1&");
        cr_assert_eq(form_parse_urlencoded(&f, buf, n, NULL), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_TOO_MANY_FIELDS);
        form_done(&f);
        cr_assert_eq(form_parse_urlencoded(&f, buf, 256 * 4, NULL), 0);
        cr_assert_eq(f.n_fields, 256);
        form_done(&f);
        free(buf);
}

Test(form, query_stops_at_fragment) {
        struct form f;

        cr_assert_eq(form_parse_query(&f, "next=%2Fservers&x=1#frag&y=2", 28, NULL), 0);
        cr_assert_str_eq(form_get(&f, "next"), "/servers");
        cr_assert_null(form_get(&f, "y"));
        form_done(&f);
}

Test(form, error_strings) {
        for (int e = 0; e < _FORM_ERR_MAX; e++)
                cr_assert_not_null(form_err_to_string(e));
        cr_assert_str_eq(form_err_to_string(_FORM_ERR_MAX), "unknown");
}

static int cookies(struct form *f, const char *s) {
        return form_parse_cookies(f, s, strlen(s), NULL);
}

Test(cookie, pairs_spaces_quotes) {
        struct form f;

        cr_assert_eq(cookies(&f, "l4m_session=0123abcd;  theme=\"dark\" ;other=a%20b;x="), 0);
        cr_assert_eq(f.n_fields, 4);
        cr_assert_str_eq(form_get(&f, "l4m_session"), "0123abcd");
        cr_assert_str_eq(form_get(&f, "theme"), "dark");
        cr_assert_str_eq(form_get(&f, "other"), "a%20b"); /* opaque: not decoded */
        cr_assert_str_eq(form_get(&f, "x"), "");
        cr_assert_eq(f.cookies_skipped, 0);
        form_done(&f);
}

Test(cookie, malformed_pairs_skipped_not_fatal) {
        struct form f;

        cr_assert_eq(cookies(&f, "novalue; =x; a b=1; bad=\"q\"x\"; c=\\x; ok=1; d=\x80; e=a,b"), 0);
        cr_assert_eq(f.n_fields, 1);
        cr_assert_str_eq(form_get(&f, "ok"), "1");
        cr_assert_eq(f.cookies_skipped, 7);
        form_done(&f);
}

Test(cookie, duplicate_detected) {
        struct form f;
        const char *v;

        cr_assert_eq(cookies(&f, "s=1; s=2"), 0);
        cr_assert_eq(form_get_one(&f, "s", &v), -ENOTUNIQ);
        form_done(&f);
}

Test(cookie, nul_and_caps) {
        struct form_limits lim = {.max_bytes = 32, .max_fields = 2, .max_name = 8, .max_value = 8};
        struct form f;

        cr_assert_eq(form_parse_cookies(&f, "a=1\0; b=2", 9, NULL), -EINVAL);
        cr_assert_eq(f.err, FORM_ERR_NUL);
        form_done(&f);
        cr_assert_eq(form_parse_cookies(&f, "a=1; b=2; c=3", 13, &lim), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_TOO_MANY_FIELDS);
        form_done(&f);
        cr_assert_eq(form_parse_cookies(&f, "a=123456789; b=2", 16, &lim), 0);
        cr_assert_eq(f.n_fields, 1); /* an oversized cookie is skipped like a malformed one */
        cr_assert_eq(f.cookies_skipped, 1);
        form_done(&f);
        cr_assert_eq(form_parse_cookies(&f, "a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8", 38, &lim), -E2BIG);
        cr_assert_eq(f.err, FORM_ERR_TOO_BIG);
        form_done(&f);
}

Test(next, accepted) {
        const char *ok[] = {"/",         "/servers",      "/servers/1?tab=files&x=1",
                            "/a/b#frag", "/x%20y",        "/caf%C3%A9",
                            "/a:b",      "/login?next=/x"};
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                cr_assert(form_next_ok(ok[i]), "'%s' refused", ok[i]);
        cr_assert_str_eq(form_next_or_root("/servers"), "/servers");
}

Test(next, refused) {
        const char *bad[] = {
                "",
                "servers",
                "//evil.example",
                "//evil.example/x",
                "/\\evil.example",
                "\\\\evil",
                "/x\\y",
                "http://evil.example",
                "https://evil.example/",
                "HTTP://evil",
                "javascript:alert(1)",
                " /x",
                "/x y",
                "/x\ty",
                "/x\r\nSet-Cookie: a=b",
                "/\x7f",
                "/caf\xc3\xa9",
                "/%2f%2fevil.example",
                "/%2F/evil.example",
                "/%5cevil.example",
                "/%5Cevil",
                "/x%2fy",
                "/%252f%252fevil",
                "/%0d%0aSet-Cookie:x",
                "/%00",
                "/%7f",
                "/%",
                "/%4",
                "/%zz",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(!form_next_ok(bad[i]), "'%s' accepted", bad[i]);
        cr_assert(!form_next_ok(NULL));
        cr_assert_str_eq(form_next_or_root("//evil"), "/");
        cr_assert_str_eq(form_next_or_root(NULL), "/");
}

Test(next, length_capped) {
        char *s = malloc(FORM_NEXT_MAX + 2);

        memset(s, 'a', FORM_NEXT_MAX + 1);
        s[0] = '/';
        s[FORM_NEXT_MAX] = '\0';
        cr_assert(form_next_ok(s));
        s[FORM_NEXT_MAX] = 'a';
        s[FORM_NEXT_MAX + 1] = '\0';
        cr_assert(!form_next_ok(s));
        free(s);
}

Test(next, decoded_by_the_query_parser_first) {
        /* The full path a browser sends: ?next=%2F%2Fevil decodes once to "//evil". */
        struct form f;

        cr_assert_eq(form_parse_query(&f, "next=%2F%2Fevil.example", 23, NULL), 0);
        cr_assert(!form_next_ok(form_get(&f, "next")));
        form_done(&f);
        cr_assert_eq(form_parse_query(&f, "next=%2Fservers%2F1", 19, NULL), 0);
        cr_assert(form_next_ok(form_get(&f, "next")));
        form_done(&f);
}
