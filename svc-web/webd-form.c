/* See webd-form.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "proto/utf8.h"
#include "svc-web/webd-form.h"
#include "svc-web/webd-html.h"

static const char *const err_names[_FORM_ERR_MAX] = {
        [FORM_ERR_NONE] = "none",
        [FORM_ERR_TOO_BIG] = "input too long",
        [FORM_ERR_TOO_MANY_FIELDS] = "too many fields",
        [FORM_ERR_NAME_TOO_LONG] = "field name too long",
        [FORM_ERR_VALUE_TOO_LONG] = "field value too long",
        [FORM_ERR_BAD_ESCAPE] = "invalid percent escape",
        [FORM_ERR_NUL] = "NUL byte",
        [FORM_ERR_CONTROL] = "control character in a field name",
        [FORM_ERR_BAD_UTF8] = "invalid UTF-8",
        [FORM_ERR_EMPTY_NAME] = "empty field name",
        [FORM_ERR_NOMEM] = "out of memory",
};

const char *form_err_to_string(enum form_err e) {
        return e >= 0 && e < _FORM_ERR_MAX ? err_names[e] : "unknown";
}

static const struct form_limits default_limits = {
        .max_bytes = FORM_MAX_BYTES,
        .max_fields = FORM_MAX_FIELDS,
        .max_name = FORM_MAX_NAME,
        .max_value = FORM_MAX_VALUE,
};

static int err_to_errno(enum form_err e) {
        switch (e) {
        case FORM_ERR_NONE:
                return 0;
        case FORM_ERR_TOO_BIG:
        case FORM_ERR_TOO_MANY_FIELDS:
        case FORM_ERR_NAME_TOO_LONG:
        case FORM_ERR_VALUE_TOO_LONG:
                return -E2BIG;
        case FORM_ERR_BAD_UTF8:
                return -EILSEQ;
        case FORM_ERR_NOMEM:
                return -ENOMEM;
        default:
                return -EINVAL;
        }
}

void form_done(struct form *f) {
        free(f->fields);
        free(f->_buf);
        *f = (struct form){};
}

/* Latches the failure, drops what was parsed, and returns the errno form. */
static int form_fail(struct form *f, enum form_err e, size_t offset) {
        form_done(f);
        f->err = e;
        f->err_offset = offset;
        return err_to_errno(e);
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool utf8_ok(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;

        for (size_t i = 0; i < n;) {
                size_t l = utf8_seq_len(p + i, n - i);
                if (l == 0)
                        return false;
                i += l;
        }
        return true;
}

/* Decodes src[0..n) into dst (room for n bytes: decoding never grows). Returns the decoded
 * length, or -1 with *ret_err and *ret_at set. */
static long decode(const char *src, size_t n, char *dst, bool plus_is_space, enum form_err *ret_err,
                   size_t *ret_at) {
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                char c = src[i];
                if (c == '%') {
                        if (n - i < 3 || hexval(src[i + 1]) < 0 || hexval(src[i + 2]) < 0) {
                                *ret_err = FORM_ERR_BAD_ESCAPE;
                                *ret_at = i;
                                return -1;
                        }
                        c = (char) (hexval(src[i + 1]) << 4 | hexval(src[i + 2]));
                        i += 2;
                } else if (c == '+' && plus_is_space)
                        c = ' ';
                if (c == '\0') {
                        *ret_err = FORM_ERR_NUL;
                        *ret_at = i;
                        return -1;
                }
                dst[o++] = c;
        }
        return (long) o;
}

static bool name_has_control(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return true;
        return false;
}

/* Sets up the single buffer: every segment "name=value" of raw length L decodes into at
 * most L + 2 bytes (two NULs, the '=' dropped), and segments are separated by at least one
 * byte, so 2 * len + 2 always suffices. */
static int form_begin(struct form *f, size_t len, const struct form_limits *lim) {
        *f = (struct form){};
        if (len > lim->max_bytes)
                return form_fail(f, FORM_ERR_TOO_BIG, lim->max_bytes);
        f->_buf = malloc(2 * len + 2);
        if (!f->_buf)
                return form_fail(f, FORM_ERR_NOMEM, 0);
        return 0;
}

static int form_add(struct form *f, const char *name, const char *value, size_t value_len,
                    const struct form_limits *lim, size_t *alloc, size_t at) {
        if (f->n_fields >= lim->max_fields)
                return form_fail(f, FORM_ERR_TOO_MANY_FIELDS, at);
        if (f->n_fields == *alloc) {
                size_t a = *alloc ? *alloc * 2 : 16;
                struct form_field *nf;

                a = MIN(a, lim->max_fields);
                nf = reallocarray(f->fields, a, sizeof(*nf));
                if (!nf)
                        return form_fail(f, FORM_ERR_NOMEM, at);
                f->fields = nf;
                *alloc = a;
        }
        f->fields[f->n_fields++] = (struct form_field){name, value, value_len};
        return 0;
}

static int parse_pairs(struct form *f, const char *data, size_t len, const struct form_limits *lim) {
        size_t alloc = 0, o = 0;
        int r;

        if (!lim)
                lim = &default_limits;
        r = form_begin(f, len, lim);
        if (r < 0)
                return r;
        for (size_t start = 0; start < len;) {
                const char *seg = data + start, *amp, *eq;
                size_t seg_len, name_raw, at;
                enum form_err e;
                char *name, *value;
                long nl, vl;

                amp = memchr(seg, '&', len - start);
                seg_len = amp ? (size_t) (amp - seg) : len - start;
                if (seg_len == 0) {
                        start++;
                        continue;
                }
                eq = memchr(seg, '=', seg_len);
                name_raw = eq ? (size_t) (eq - seg) : seg_len;
                if (name_raw == 0)
                        return form_fail(f, FORM_ERR_EMPTY_NAME, start);

                name = f->_buf + o;
                nl = decode(seg, name_raw, name, true, &e, &at);
                if (nl < 0)
                        return form_fail(f, e, start + at);
                if ((size_t) nl > lim->max_name)
                        return form_fail(f, FORM_ERR_NAME_TOO_LONG, start);
                if (name_has_control(name, (size_t) nl))
                        return form_fail(f, FORM_ERR_CONTROL, start);
                if (!utf8_ok(name, (size_t) nl))
                        return form_fail(f, FORM_ERR_BAD_UTF8, start);
                name[nl] = '\0';
                o += (size_t) nl + 1;

                value = f->_buf + o;
                vl = 0;
                if (eq) {
                        size_t voff = name_raw + 1;
                        vl = decode(seg + voff, seg_len - voff, value, true, &e, &at);
                        if (vl < 0)
                                return form_fail(f, e, start + voff + at);
                        if ((size_t) vl > lim->max_value)
                                return form_fail(f, FORM_ERR_VALUE_TOO_LONG, start + voff);
                        if (!utf8_ok(value, (size_t) vl))
                                return form_fail(f, FORM_ERR_BAD_UTF8, start + voff);
                }
                value[vl] = '\0';
                o += (size_t) vl + 1;

                r = form_add(f, name, value, (size_t) vl, lim, &alloc, start);
                if (r < 0)
                        return r;
                start += seg_len + 1;
        }
        return 0;
}

int form_parse_urlencoded(struct form *f, const char *data, size_t len, const struct form_limits *lim) {
        return parse_pairs(f, data, len, lim);
}

int form_parse_query(struct form *f, const char *query, size_t len, const struct form_limits *lim) {
        /* A fragment never reaches a server; if one does, it is not part of the query. */
        const char *hash = memchr(query, '#', len);
        return parse_pairs(f, query, hash ? (size_t) (hash - query) : len, lim);
}

/* RFC 6265 cookie-octet: printable ASCII except space, '"', ',', ';' and '\'. */
static bool cookie_octet(unsigned char c) {
        return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

/* RFC 6265 cookie-name is an RFC 2616 token. */
static bool token_char(unsigned char c) {
        return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

int form_parse_cookies(struct form *f, const char *header, size_t len, const struct form_limits *lim) {
        size_t alloc = 0, o = 0;
        int r;

        if (!lim)
                lim = &default_limits;
        r = form_begin(f, len, lim);
        if (r < 0)
                return r;
        if (memchr(header, '\0', len))
                return form_fail(f, FORM_ERR_NUL,
                                 (size_t) ((const char *) memchr(header, '\0', len) - header));
        for (size_t start = 0; start < len;) {
                const char *seg = header + start, *semi, *eq, *v;
                size_t seg_len, nl, vl;
                bool ok = true;

                semi = memchr(seg, ';', len - start);
                seg_len = semi ? (size_t) (semi - seg) : len - start;
                /* Trim optional whitespace around the pair. */
                while (seg_len > 0 && (seg[0] == ' ' || seg[0] == '\t')) {
                        seg++;
                        seg_len--;
                }
                while (seg_len > 0 && (seg[seg_len - 1] == ' ' || seg[seg_len - 1] == '\t'))
                        seg_len--;
                start += (semi ? (size_t) (semi - (header + start)) : len - start) + 1;
                if (seg_len == 0)
                        continue;

                eq = memchr(seg, '=', seg_len);
                if (!eq || eq == seg) {
                        f->cookies_skipped++;
                        continue;
                }
                nl = (size_t) (eq - seg);
                v = eq + 1;
                vl = seg_len - nl - 1;
                if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                        v++;
                        vl -= 2;
                }
                for (size_t i = 0; i < nl && ok; i++)
                        ok = token_char((unsigned char) seg[i]);
                for (size_t i = 0; i < vl && ok; i++)
                        ok = cookie_octet((unsigned char) v[i]);
                if (!ok || nl > lim->max_name || vl > lim->max_value) {
                        f->cookies_skipped++;
                        continue;
                }
                memcpy(f->_buf + o, seg, nl);
                f->_buf[o + nl] = '\0';
                memcpy(f->_buf + o + nl + 1, v, vl);
                f->_buf[o + nl + 1 + vl] = '\0';
                r = form_add(f, f->_buf + o, f->_buf + o + nl + 1, vl, lim, &alloc, (size_t) (seg - header));
                if (r < 0)
                        return r;
                o += nl + vl + 2;
        }
        return 0;
}

const char *form_get(const struct form *f, const char *name) {
        for (size_t i = 0; i < f->n_fields; i++)
                if (streq(f->fields[i].name, name))
                        return f->fields[i].value;
        return NULL;
}

size_t form_count(const struct form *f, const char *name) {
        size_t n = 0;

        for (size_t i = 0; i < f->n_fields; i++)
                if (streq(f->fields[i].name, name))
                        n++;
        return n;
}

int form_get_one(const struct form *f, const char *name, const char **ret) {
        const char *v = NULL;

        for (size_t i = 0; i < f->n_fields; i++)
                if (streq(f->fields[i].name, name)) {
                        if (v)
                                return -ENOTUNIQ;
                        v = f->fields[i].value;
                }
        if (!v)
                return -ENOENT;
        *ret = v;
        return 0;
}

bool form_next_ok(const char *next) {
        size_t n;

        if (!next || next[0] != '/')
                return false;
        n = strnlen(next, FORM_NEXT_MAX + 1);
        if (n > FORM_NEXT_MAX)
                return false;
        /* "//host" and "/\host" are network-path references to another host. */
        if (next[1] == '/' || next[1] == '\\')
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) next[i];
                if (c <= 0x20 || c >= 0x7f || c == '\\')
                        return false;
                if (c == '%') {
                        /* The string is NUL-terminated, so next[i + 2] is read only when
                         * next[i + 1] was a hex digit, not the terminator. */
                        int hi = hexval(next[i + 1]);
                        int lo = hi >= 0 ? hexval(next[i + 2]) : -1;
                        int d;

                        if (hi < 0 || lo < 0)
                                return false;
                        /* An encoded '/', '\', '%' (double encoding) or control is only ever an
                         * attempt to survive one more decoding as "//", "/\" or a header
                         * break. */
                        d = hi << 4 | lo;
                        if (d == '/' || d == '\\' || d == '%' || d < 0x20 || d == 0x7f)
                                return false;
                }
        }
        return true;
}

const char *form_next_or_root(const char *next) {
        return form_next_ok(next) ? next : "/";
}

char *form_urlencode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out = malloc(3 * n + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr("-._~/", *p))
                        *o++ = (char) *p;
                else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = 0;
        return out;
}
