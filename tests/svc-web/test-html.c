/* Unit tests of webd's HTML writer (svc-web/webd-html.c): escaping per character and
 * context, balance, void elements, URL attributes, UTF-8, caps. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "svc-web/webd-html.h"

static char *finish(struct html *h) {
        char *s = NULL;

        cr_assert_eq(html_finish(h, &s, NULL), 0);
        return s;
}

static char *text_in(const char *elem, const char *text) {
        struct html h;

        html_init(&h, 0);
        html_elem_text(&h, elem, text);
        return finish(&h);
}

static char *attr_of(const char *elem, const char *name, const char *value) {
        struct html h;

        html_init(&h, 0);
        html_elem(&h, elem);
        html_attr(&h, name, value);
        html_close(&h, elem);
        return finish(&h);
}

/* One test per special character per context: text, a plain attribute, a URL attribute,
 * and RCDATA (<textarea>, <title>). */
static const struct {
        const char *in, *out;
} specials[] = {
        {"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"},
};

#define SPECIAL_TESTS(i)                                                                                    \
        Test(html, special_##i##_text) {                                                                    \
                char want[64], *s = text_in("p", specials[i].in);                                           \
                snprintf(want, sizeof(want), "<p>%s</p>", specials[i].out);                                 \
                cr_assert_str_eq(s, want);                                                                  \
                free(s);                                                                                    \
        }                                                                                                   \
        Test(html, special_##i##_rcdata) {                                                                  \
                char want[64], *s = text_in("textarea", specials[i].in);                                    \
                snprintf(want, sizeof(want), "<textarea>%s</textarea>", specials[i].out);                   \
                cr_assert_str_eq(s, want);                                                                  \
                free(s);                                                                                    \
        }                                                                                                   \
        Test(html, special_##i##_attr) {                                                                    \
                char want[64], *s = attr_of("div", "title", specials[i].in);                                \
                snprintf(want, sizeof(want), "<div title=\"%s\"></div>", specials[i].out);                  \
                cr_assert_str_eq(s, want);                                                                  \
                free(s);                                                                                    \
        }                                                                                                   \
        Test(html, special_##i##_url_attr) {                                                                \
                char in[32], want[64], *s;                                                                  \
                snprintf(in, sizeof(in), "/x?q=%s", specials[i].in);                                        \
                s = attr_of("a", "href", in);                                                               \
                snprintf(want, sizeof(want), "<a href=\"/x?q=%s\"></a>", specials[i].out);                  \
                cr_assert_str_eq(s, want);                                                                  \
                free(s);                                                                                    \
        }

SPECIAL_TESTS(0)
SPECIAL_TESTS(1)
SPECIAL_TESTS(2)
SPECIAL_TESTS(3)
SPECIAL_TESTS(4)

Test(html, mixed_breakout_attempt) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_elem(&h, "input");
        html_attr(&h, "value", "\"><script>alert('x')</script>");
        s = finish(&h);
        /* input is void: no end tag, and the attribute stays inside its quotes. */
        cr_assert_str_eq(s, "<input value=\"&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\">");
        free(s);
}

Test(html, entity_text_is_escaped_not_interpreted) {
        char *s = text_in("p", "&lt;&#60;");
        cr_assert_str_eq(s, "<p>&amp;lt;&amp;#60;</p>");
        free(s);
}

Test(html, nested_balanced_and_doctype) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_doctype(&h);
        html_elem(&h, "html");
        html_attr(&h, "lang", "en");
        html_elem(&h, "body");
        html_elem(&h, "ul");
        html_elem_text(&h, "li", "a");
        html_elem_text(&h, "li", "b");
        html_close(&h, "ul");
        html_close_to(&h, 0);
        s = finish(&h);
        cr_assert_str_eq(
                s, "<!DOCTYPE html>\n<html lang=\"en\"><body><ul><li>a</li><li>b</li></ul></body></html>");
        free(s);
}

Test(html, unclosed_refused) {
        struct html h;
        char *s = NULL;

        html_init(&h, 0);
        html_elem(&h, "div");
        html_text(&h, "x");
        cr_assert_eq(html_finish(&h, &s, NULL), -EPROTO);
        cr_assert_null(s);
}

Test(html, wrong_close_refused) {
        struct html h;
        char *s = NULL;

        html_init(&h, 0);
        html_elem(&h, "div");
        html_elem(&h, "span");
        html_close(&h, "div");
        cr_assert_eq(html_error(&h), -EPROTO);
        /* Latched: later correct calls do not un-fail it. */
        html_close(&h, "span");
        html_close(&h, "div");
        cr_assert_eq(html_finish(&h, &s, NULL), -EPROTO);
}

Test(html, close_with_nothing_open) {
        struct html h;

        html_init(&h, 0);
        html_close(&h, NULL);
        cr_assert_eq(html_error(&h), -EPROTO);
        html_done(&h);
}

Test(html, void_elements) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_elem(&h, "p");
        html_text(&h, "a");
        html_elem(&h, "br");
        html_text(&h, "b");
        html_elem(&h, "input");
        html_attr(&h, "type", "checkbox");
        html_attr(&h, "checked", NULL);
        html_elem(&h, "img");
        html_attr(&h, "src", "/static/x.png");
        html_attr(&h, "alt", "");
        html_close(&h, "p");
        cr_assert_eq(html_depth(&h), 0);
        s = finish(&h);
        cr_assert_str_eq(
                s, "<p>a<br>b<input type=\"checkbox\" checked><img src=\"/static/x.png\" alt=\"\"></p>");
        free(s);
}

Test(html, void_element_cannot_be_closed) {
        struct html h;

        html_init(&h, 0);
        html_elem(&h, "br");
        html_close(&h, "br");
        cr_assert_eq(html_error(&h), -EPROTO);
        html_done(&h);
}

Test(html, attribute_after_content_refused) {
        struct html h;

        html_init(&h, 0);
        html_elem(&h, "p");
        html_text(&h, "x");
        html_attr(&h, "class", "y");
        cr_assert_eq(html_error(&h), -EPROTO);
        html_done(&h);
}

Test(html, unknown_element_and_bad_attribute_names) {
        const char *bad_attrs[] = {"onclick", "ONload", "hx-on:click", "a b", "x\"y",
                                   "x=y",     "",       "Class",       "1a"};
        struct html h;

        html_init(&h, 0);
        html_elem(&h, "blink");
        cr_assert_eq(html_error(&h), -EINVAL);
        html_done(&h);
        html_init(&h, 0);
        html_elem(&h, "p><script");
        cr_assert_eq(html_error(&h), -EINVAL);
        html_done(&h);
        for (size_t i = 0; i < ELEMENTSOF(bad_attrs); i++) {
                html_init(&h, 0);
                html_elem(&h, "p");
                html_attr(&h, bad_attrs[i], "v");
                cr_assert_eq(html_error(&h), -EINVAL, "%s", bad_attrs[i]);
                html_done(&h);
        }
        html_init(&h, 0);
        html_elem(&h, "div");
        html_attr(&h, "data-id", "1");
        html_attr(&h, "hx-target", "#x");
        html_attr(&h, "aria-label", "y");
        html_close(&h, "div");
        cr_assert_eq(html_error(&h), 0);
        html_done(&h);
}

Test(html, no_text_in_script_or_style) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_elem(&h, "script");
        html_attr(&h, "src", "/static/htmx.min.js");
        html_close(&h, "script");
        s = finish(&h);
        cr_assert_str_eq(s, "<script src=\"/static/htmx.min.js\"></script>");
        free(s);
        html_init(&h, 0);
        html_elem(&h, "style");
        html_text(&h, "</style><script>");
        cr_assert_eq(html_error(&h), -EPROTO);
        html_done(&h);
}

static const char *const good_urls[] = {
        "/",
        "/servers/1",
        "servers?x=1&y=2",
        "#top",
        "?page=2",
        "",
        "http://example.com/x",
        "HTTPS://example.com",
        "HtTp://h",
        "a/b:c",
        "/x#a:b",
        "/x?a=b:c",
};

static const char *const bad_urls[] = {
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:alert(1)",
        "\tjavascript:x",
        "\x01javascript:x",
        "java\tscript:x",
        "java\nscript:x",
        "java\rscript:x",
        "javascript\x0c:x",
        "vbscript:x",
        "data:text/html,<b>",
        "DATA:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil",
        "http:evil",
        "https:/evil",
        "http:///evil",
        "mailto:a@b",
        "blob:x",
        "/x y",
        "/\x7f",
        "/caf\xc3\xa9",
        "x\x1b:y",
        "http://",
};

Test(html, url_check) {
        for (size_t i = 0; i < ELEMENTSOF(good_urls); i++)
                cr_assert(html_url_ok(good_urls[i]), "'%s' refused", good_urls[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad_urls); i++)
                cr_assert(!html_url_ok(bad_urls[i]), "'%s' accepted", bad_urls[i]);
        cr_assert(!html_url_ok(NULL));
}

Test(html, bad_url_written_as_hash_in_every_url_attribute) {
        const char *attrs[] = {"href", "src", "action", "formaction", "hx-get", "hx-post", "sse-connect"};

        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                struct html h;
                char want[64], *s;

                html_init(&h, 0);
                html_elem(&h, "div");
                html_attr(&h, attrs[i], "javascript:alert(1)");
                html_close(&h, "div");
                cr_assert_eq(h.urls_refused, 1);
                s = finish(&h);
                snprintf(want, sizeof(want), "<div %s=\"#\"></div>", attrs[i]);
                cr_assert_str_eq(s, want);
                free(s);
        }
}

Test(html, entity_encoded_scheme_stays_inert) {
        /* The writer escapes '&', so the browser sees the literal text "&#106;avascript:..."
         * (a relative reference), never a decoded "javascript:". */
        char *s = attr_of("a", "href", "&#106;avascript:alert(1)");
        cr_assert_str_eq(s, "<a href=\"&amp;#106;avascript:alert(1)\"></a>");
        free(s);
        s = attr_of("a", "href", "javascript&colon;alert(1)");
        cr_assert_str_eq(s, "<a href=\"javascript&amp;colon;alert(1)\"></a>");
        free(s);
        /* A non-URL attribute is not checked (it is not navigable) but is still escaped. */
        s = attr_of("a", "title", "javascript:x");
        cr_assert_str_eq(s, "<a title=\"javascript:x\"></a>");
        free(s);
}

Test(html, invalid_utf8_replaced) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"a\xff"
                 "b",
                 "a\xef\xbf\xbd"
                 "b"},
                {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                                 /* overlong '/' */
                {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                 /* surrogate */
                {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
                {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},                                 /* truncated */
                {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
                {"a\x01"
                 "b\x7f"
                 "c\td\ne",
                 "a\xef\xbf\xbd"
                 "b\xef\xbf\xbd"
                 "c\td\ne"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char want[128], *s = text_in("p", cases[i].in);
                snprintf(want, sizeof(want), "<p>%s</p>", cases[i].out);
                cr_assert_str_eq(s, want, "case %zu", i);
                free(s);
                s = attr_of("p", "title", cases[i].in);
                snprintf(want, sizeof(want), "<p title=\"%s\"></p>", cases[i].out);
                cr_assert_str_eq(s, want, "attr case %zu", i);
                free(s);
        }
}

Test(html, nul_in_counted_text_replaced) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_elem(&h, "p");
        html_textn(&h, "a\0b", 3);
        html_close(&h, "p");
        s = finish(&h);
        cr_assert_str_eq(s, "<p>a\xef\xbf\xbd"
                            "b</p>");
        free(s);
}

Test(html, textf_and_int_attr) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_elem(&h, "td");
        html_attr_int(&h, "colspan", -3);
        html_textf(&h, "%d<%s", 2, "&");
        html_close(&h, "td");
        s = finish(&h);
        cr_assert_str_eq(s, "<td colspan=\"-3\">2&lt;&amp;</td>");
        free(s);
}

Test(html, cap_fails_instead_of_truncating) {
        struct html h;
        char *s = NULL;

        html_init(&h, 64);
        html_elem(&h, "p");
        for (int i = 0; i < 100; i++)
                html_text(&h, "<<<<");
        html_close(&h, "p");
        cr_assert_eq(html_error(&h), -E2BIG);
        cr_assert_eq(html_finish(&h, &s, NULL), -E2BIG);
        cr_assert_null(s);
}

Test(html, depth_capped) {
        struct html h;

        html_init(&h, 0);
        for (int i = 0; i < HTML_MAX_DEPTH + 1; i++)
                html_elem(&h, "div");
        cr_assert_eq(html_error(&h), -E2BIG);
        html_done(&h);
}

Test(html, raw_trusted_markup) {
        struct html h;
        char *s;

        html_init(&h, 0);
        html_elem(&h, "span");
        html_raw_trusted_markup(&h, "<svg></svg>");
        html_close(&h, "span");
        s = finish(&h);
        cr_assert_str_eq(s, "<span><svg></svg></span>");
        free(s);
}

Test(html, empty_document) {
        struct html h;
        size_t n = 1;
        char *s = NULL;

        html_init(&h, 0);
        cr_assert_eq(html_finish(&h, &s, &n), 0);
        cr_assert_str_eq(s, "");
        cr_assert_eq(n, 0);
        free(s);
}

Test(html, element_table_is_sorted_for_the_binary_search) {
        struct html h;
        char *out = NULL;
        size_t len = 0;

        cr_assert(html_elements_sorted());
        /* The first, a middle and the last name of the table are all found. */
        html_init(&h, 0);
        html_elem(&h, "a");
        html_close(&h, "a");
        html_elem(&h, "table");
        html_close(&h, "table");
        html_elem(&h, "wbr");
        cr_assert_eq(html_finish(&h, &out, &len), 0);
        free(out);
}
