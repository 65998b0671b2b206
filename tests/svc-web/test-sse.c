/* Unit tests of the SSE formatting half (svc-web/webd-sse.c): field sanitising, multi-line
 * data, and the per-stream cap. The h2o half is exercised by the black-box test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "svc-web/webd-sse.h"

static void expect(const struct sse_buf *b, const char *want) {
        cr_assert_eq(b->len, strlen(want), "len %zu, want %zu: '%.*s'", b->len, strlen(want), (int) b->len,
                     b->data);
        cr_assert(memcmp(b->data, want, b->len) == 0, "got '%.*s'", (int) b->len, b->data);
}

Test(sse, event_with_id_and_name) {
        struct sse_buf b = {};
        long n = sse_format_event(&b, 0, "42", "state", "{\"a\":1}", 7);

        cr_assert_eq(n, (long) b.len);
        expect(&b, "id: 42\nevent: state\ndata: {\"a\":1}\n\n");
        sse_buf_done(&b);
}

Test(sse, multiline_data_each_line_prefixed) {
        struct sse_buf b = {};
        const char *d = "<p>one</p>\n<p>two</p>\r\n<p>three</p>\rend";

        cr_assert_gt(sse_format_event(&b, 0, NULL, NULL, d, strlen(d)), 0);
        expect(&b, "data: <p>one</p>\ndata: <p>two</p>\ndata: <p>three</p>\ndata: end\n\n");
        sse_buf_done(&b);
}

Test(sse, empty_data_and_trailing_newline) {
        struct sse_buf b = {};

        cr_assert_gt(sse_format_event(&b, 0, NULL, "x", "", 0), 0);
        cr_assert_gt(sse_format_event(&b, 0, NULL, NULL, "a\n", 2), 0);
        expect(&b, "event: x\ndata: \n\ndata: a\ndata: \n\n");
        sse_buf_done(&b);
}

Test(sse, fields_cannot_inject_lines) {
        struct sse_buf b = {};

        cr_assert_gt(sse_format_event(&b, 0, "1\n\ndata: evil", "a\rb\nc", "x\0y", 3), 0);
        expect(&b, "id: 1data: evil\nevent: abc\ndata: x y\n\n");
        sse_buf_done(&b);
}

Test(sse, cap_drops_whole_events) {
        struct sse_buf b = {};
        long first = sse_format_event(&b, 64, NULL, "e", "0123456789", 10);

        cr_assert_gt(first, 0);
        /* fills up to the cap, then refuses without writing anything */
        while (sse_format_event(&b, 64, NULL, "e", "0123456789", 10) > 0)
                ;
        size_t len = b.len;
        cr_assert_leq(len, 64);
        cr_assert_eq(sse_format_event(&b, 64, NULL, "e", "0123456789", 10), -ENOBUFS);
        cr_assert_eq(b.len, len);
        cr_assert_eq(sse_format_comment(&b, len, "ping"), -ENOBUFS);
        cr_assert_eq(b.len, len);
        sse_buf_done(&b);
}

Test(sse, comment) {
        struct sse_buf b = {};

        cr_assert_eq(sse_format_comment(&b, 0, "ping"), 8);
        expect(&b, ": ping\n\n");
        sse_buf_done(&b);
}

Test(sse, large_payload_grows) {
        struct sse_buf b = {};
        static char big[200000];

        memset(big, 'a', sizeof(big));
        for (size_t i = 1000; i < sizeof(big); i += 1000)
                big[i] = '\n';
        cr_assert_gt(sse_format_event(&b, 0, NULL, NULL, big, sizeof(big)), (long) sizeof(big));
        cr_assert_eq(memcmp(b.data + b.len - 2, "\n\n", 2), 0);
        sse_buf_done(&b);
}
