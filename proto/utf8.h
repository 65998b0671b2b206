/* UTF-8 as RFC 3629 defines it: overlong forms, surrogates (U+D800..U+DFFF) and code points
 * past U+10FFFF are not UTF-8. The one decoder every daemon and l4d2ctl uses, so a string
 * one of them accepts is accepted by all. Pure; no allocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The Unicode replacement character U+FFFD, as UTF-8. */
#define UTF8_REPLACEMENT     "\xef\xbf\xbd"
#define UTF8_REPLACEMENT_LEN 3u

/* Length (1..4) of the valid UTF-8 sequence at p, of which n > 0 bytes are available; 0 if
 * the bytes there are not one. */
size_t utf8_seq_len(const void *p, size_t n);

/* Whether the n bytes at s are valid UTF-8 (NUL counts as a character). */
bool utf8_is_valid(const char *s, size_t n);

/* Copies the n bytes at in to out as valid UTF-8, writing at most max bytes: each byte that
 * does not start a valid sequence becomes U+FFFD. Stops before a character that would not
 * fit; *ret_truncated (if not NULL) says whether input was left over. Returns the bytes
 * written (out is not NUL-terminated). */
size_t utf8_sanitize(const void *in, size_t n, char *out, size_t max, bool *ret_truncated);
