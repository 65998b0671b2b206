/* See names.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/names.h"

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool name_is_valid_n(const char *s, size_t n) {
        if (!s || n < 1 || n > NAME_LEN_MAX || !is_lower_alnum(s[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

bool name_is_web(const char *s) {
        const char *p;

        if (!s || strncmp(s, WEB_NAME_PREFIX, strlen(WEB_NAME_PREFIX)) != 0)
                return false;
        p = s + strlen(WEB_NAME_PREFIX);
        if (*p < '1' || *p > '9')
                return false;
        while (*p >= '0' && *p <= '9')
                p++;
        return *p == 0;
}

bool overlay_base_is_valid(const char *s) {
        return s && (strcmp(s, OVERLAY_BASE_EMPTY) == 0 || strcmp(s, OVERLAY_BASE_CURRENT) == 0);
}

bool server_name_is_valid(const char *s) {
        return name_is_valid(s) && strlen(s) <= SERVER_NAME_LEN_MAX;
}

int server_user_name(const char *name, char *buf, size_t len) {
        if (!server_name_is_valid(name))
                return -EINVAL;
        if ((size_t) snprintf(buf, len, SERVER_USER_PREFIX "%s", name) >= len)
                return -ENAMETOOLONG;
        return 0;
}

bool name_is_valid(const char *s) {
        return s && name_is_valid_n(s, strnlen(s, NAME_LEN_MAX + 1));
}

static int unit_name_put(char *buf, size_t len, int n) {
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

int server_unit_name(const char *name, char *buf, size_t len) {
        if (!name_is_valid(name))
                return -EINVAL;
        return unit_name_put(buf, len, snprintf(buf, len, SERVER_UNIT_PREFIX "%s" UNIT_SUFFIX, name));
}

int build_unit_name(const char *overlay, unsigned long long n, char *buf, size_t len) {
        if (!name_is_valid(overlay) || n == 0 || n > BUILD_RUN_MAX)
                return -EINVAL;
        return unit_name_put(buf, len,
                             snprintf(buf, len, BUILD_UNIT_PREFIX "%s-%llu" UNIT_SUFFIX, overlay, n));
}

/* The part of s (n bytes) between prefix and UNIT_SUFFIX, or NULL if s is not shaped so. */
static const char *unit_body(const char *s, size_t n, const char *prefix, size_t *ret_len) {
        size_t p = strlen(prefix), q = sizeof(UNIT_SUFFIX) - 1;

        if (!s || n <= p + q || memchr(s, 0, n) || memcmp(s, prefix, p) != 0 ||
            memcmp(s + n - q, UNIT_SUFFIX, q) != 0)
                return NULL;
        *ret_len = n - p - q;
        return s + p;
}

bool server_unit_is_valid(const char *s, size_t n) {
        size_t len;
        const char *body = unit_body(s, n, SERVER_UNIT_PREFIX, &len);

        return body && name_is_valid_n(body, len);
}

bool build_unit_is_valid(const char *s, size_t n) {
        size_t len, nlen;
        const char *body = unit_body(s, n, BUILD_UNIT_PREFIX, &len), *dash;

        if (!body)
                return false;
        /* The run number follows the last '-'; the overlay name before it may hold '-'. */
        dash = memrchr(body, '-', len);
        if (!dash || !name_is_valid_n(body, (size_t) (dash - body)))
                return false;
        nlen = len - (size_t) (dash - body) - 1;
        if (nlen < 1 || nlen > 10 || (dash[1] == '0' && nlen > 1))
                return false;
        for (size_t i = 1; i <= nlen; i++)
                if (dash[i] < '0' || dash[i] > '9')
                        return false;
        return true;
}
