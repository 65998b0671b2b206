/* proto/names: the grammar and the unit names built from it agree with each other. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "proto/names.h"
#include "proto/utf8.h"

Test(names, grammar) {
        const char *good[] = {"a", "0", "web1", "s_1-x",
                              "1234567890123456789012345678901234567890123456789012345678901234"};
        const char *bad[] = {
                "",   "-a",  "_a",  "A",
                "aB", "a b", "a/b", "..",
                ".a", "a.b", "ü",   "12345678901234567890123456789012345678901234567890123456789012345",
                "a\n"};

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                cr_assert(name_is_valid(good[i]), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_not(name_is_valid(bad[i]), "%s", bad[i]);
        cr_assert_not(name_is_valid(NULL));
        cr_assert(name_is_valid_n("ab/c", 2));
        cr_assert_not(name_is_valid_n("ab/c", 3));
}

Test(names, web_names) {
        const char *web[] = {"web-1", "web-42", "web-1234567890"};
        const char *other[] = {"web-", "web-0", "web-01", "web-1a", "web1", "web-x", "xweb-1", "web--1"};

        for (size_t i = 0; i < ELEMENTSOF(web); i++)
                cr_assert(name_is_web(web[i]), "%s", web[i]);
        for (size_t i = 0; i < ELEMENTSOF(other); i++)
                cr_assert_not(name_is_web(other[i]), "%s", other[i]);
        cr_assert_not(name_is_web(NULL));
        cr_assert(overlay_base_is_valid("empty"));
        cr_assert(overlay_base_is_valid("current"));
        cr_assert_not(overlay_base_is_valid("Current"));
        cr_assert_not(overlay_base_is_valid(""));
        cr_assert_not(overlay_base_is_valid(NULL));
}

Test(names, server_names_fit_a_user_name) {
        char buf[64];
        cr_assert(server_name_is_valid("s42"));
        cr_assert(server_name_is_valid("abcdefghijklmnopqrstuvwxyz0"), "27 characters");
        cr_assert_not(server_name_is_valid("abcdefghijklmnopqrstuvwxyz01"), "28 characters");
        cr_assert_not(server_name_is_valid("Bad"));
        cr_assert_eq(server_user_name("s42", buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "l4m-s42");
        cr_assert_eq(strlen(SERVER_USER_PREFIX) + SERVER_NAME_LEN_MAX, 31u, "systemd's user name limit");
        cr_assert_eq(server_user_name("abcdefghijklmnopqrstuvwxyz01", buf, sizeof(buf)), -EINVAL);
        cr_assert_eq(server_user_name("s42", buf, 5), -ENAMETOOLONG);
}

Test(names, units_round_trip) {
        char buf[UNIT_NAME_MAX];

        cr_assert_eq(server_unit_name("s1", buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "left4me-server@s1.service");
        cr_assert(server_unit_is_valid(buf, strlen(buf)));
        cr_assert_not(build_unit_is_valid(buf, strlen(buf)));

        cr_assert_eq(build_unit_name("my-ov", BUILD_RUN_MAX, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "left4me-build-my-ov-9999999999.service");
        cr_assert(build_unit_is_valid(buf, strlen(buf)));
        cr_assert_not(server_unit_is_valid(buf, strlen(buf)));

        cr_assert_eq(server_unit_name("Bad", buf, sizeof buf), -EINVAL);
        cr_assert_eq(build_unit_name("ov", 0, buf, sizeof buf), -EINVAL);
        cr_assert_eq(build_unit_name("ov", BUILD_RUN_MAX + 1, buf, sizeof buf), -EINVAL);
        cr_assert_eq(server_unit_name("s1", buf, 10), -ENAMETOOLONG);
}

Test(utf8, sanitize) {
        char out[16];
        bool trunc;
        size_t n = utf8_sanitize("a\xff"
                                 "b",
                                 3, out, sizeof out, &trunc);

        cr_assert_eq(n, 5);
        cr_assert(memcmp(out, "a" UTF8_REPLACEMENT "b", 5) == 0);
        cr_assert_not(trunc);
        n = utf8_sanitize("\xe2\x82\xac\xe2\x82\xac", 6, out, 4, &trunc);
        cr_assert_eq(n, 3, "stops before a character that does not fit");
        cr_assert(trunc);
        cr_assert_eq(utf8_seq_len("\xc0\x80", 2), 0, "overlong");
        cr_assert_eq(utf8_seq_len("\xe2\x82", 2), 0, "cut short");
}
