/* Unit tests of webd's JSON writer (svc-web/webd-json.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "svc-web/webd-json.h"

static char *finish(struct json *j) {
        char *s;

        cr_assert(json_ok(j));
        s = json_steal(j, NULL);
        cr_assert_not_null(s);
        return s;
}

Test(json, object_with_commas) {
        struct json j;
        char *s;

        json_init(&j, 0);
        json_object_begin(&j);
        json_kv_str(&j, "status", "ok");
        json_kv_int(&j, "n", -5);
        json_kv_uint(&j, "u", 18446744073709551615ull);
        json_kv_bool(&j, "b", true);
        json_key(&j, "list");
        json_array_begin(&j);
        json_int(&j, 1);
        json_null(&j);
        json_object_begin(&j);
        json_object_end(&j);
        json_array_begin(&j);
        json_array_end(&j);
        json_array_end(&j);
        json_kv_str(&j, "nil", NULL);
        json_object_end(&j);
        s = finish(&j);
        cr_assert_str_eq(s, "{\"status\":\"ok\",\"n\":-5,\"u\":18446744073709551615,\"b\":true,"
                            "\"list\":[1,null,{},[]],\"nil\":null}");
        free(s);
}

Test(json, escapes_for_json_and_html) {
        struct json j;
        char *s;

        json_init(&j, 0);
        json_str(&j, "a\"b\\c\nd\re\tf\x01<script>&'");
        s = finish(&j);
        cr_assert_str_eq(s, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001\\u003cscript\\u003e\\u0026\\u0027\"");
        free(s);
}

Test(json, utf8_kept_invalid_replaced) {
        struct json j;
        char *s;

        json_init(&j, 0);
        /* valid 2-, 3-, 4-byte sequences; then a lone continuation byte, an overlong '/',
         * a surrogate, a truncated sequence at the end */
        json_str(&j, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
        s = finish(&j);
        cr_assert_str_eq(s, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd|"
                            "\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
        free(s);
}

Test(json, embedded_nul_with_strn) {
        struct json j;
        char *s;

        json_init(&j, 0);
        json_strn(&j, "a\0b", 3);
        s = finish(&j);
        cr_assert_str_eq(s, "\"a\\u0000b\"");
        free(s);
}

Test(json, cap_fails_cleanly) {
        struct json j;

        json_init(&j, 16);
        json_object_begin(&j);
        json_kv_str(&j, "key", "a value that does not fit");
        json_object_end(&j);
        cr_assert_not(json_ok(&j));
        cr_assert_null(json_steal(&j, NULL));
        json_done(&j);
}

Test(json, unbalanced_is_not_ok) {
        struct json j;

        json_init(&j, 0);
        json_object_begin(&j);
        cr_assert_not(json_ok(&j));
        json_done(&j);

        json_init(&j, 0);
        json_array_end(&j);
        cr_assert_not(json_ok(&j));
        json_done(&j);
}

Test(json, depth_limit) {
        struct json j;

        json_init(&j, 0);
        for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
                json_array_begin(&j);
        cr_assert(j.failed);
        json_done(&j);
}

Test(json, empty_document) {
        struct json j;
        size_t n = 99;
        char *s;

        json_init(&j, 0);
        s = json_steal(&j, &n);
        cr_assert_not_null(s);
        cr_assert_str_eq(s, "");
        free(s);
}
