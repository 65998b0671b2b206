/* See utf8.h. */
#include <stdint.h>
#include <string.h>

#include "proto/utf8.h"

size_t utf8_seq_len(const void *p, size_t n) {
        const unsigned char *s = p;
        unsigned char c = s[0];
        uint32_t cp;
        size_t len;

        if (c < 0x80)
                return 1;
        /* 0x80..0xc1 are continuation bytes or overlong two-byte leads, 0xf5.. lead past U+10FFFF. */
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                cp = c & 0x07;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

bool utf8_is_valid(const char *s, size_t n) {
        for (size_t i = 0, l; i < n; i += l) {
                l = utf8_seq_len(s + i, n - i);
                if (l == 0)
                        return false;
        }
        return true;
}

size_t utf8_sanitize(const void *in, size_t n, char *out, size_t max, bool *ret_truncated) {
        const unsigned char *p = in;
        size_t i = 0, o = 0;

        while (i < n) {
                size_t l = utf8_seq_len(p + i, n - i);
                const void *src = l ? (const void *) (p + i) : (const void *) UTF8_REPLACEMENT;
                size_t outl = l ? l : UTF8_REPLACEMENT_LEN;

                if (o + outl > max)
                        break;
                memcpy(out + o, src, outl);
                o += outl;
                i += l ? l : 1;
        }
        if (ret_truncated)
                *ret_truncated = i < n;
        return o;
}
