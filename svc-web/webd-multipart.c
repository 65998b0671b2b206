/* See webd-multipart.h. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "proto/utf8.h"
#include "svc-web/webd-multipart.h"

static const char *const err_names[_MULTIPART_ERR_MAX] = {
        [MULTIPART_ERR_NONE] = "none",
        [MULTIPART_ERR_TOO_BIG] = "body too long",
        [MULTIPART_ERR_NOT_FORM_DATA] = "not multipart/form-data",
        [MULTIPART_ERR_BAD_CONTENT_TYPE] = "malformed Content-Type",
        [MULTIPART_ERR_NO_BOUNDARY] = "no boundary in the Content-Type",
        [MULTIPART_ERR_BAD_BOUNDARY] = "invalid boundary",
        [MULTIPART_ERR_NO_DELIMITER] = "no boundary line in the body",
        [MULTIPART_ERR_BARE_LF] = "a line not ended by CRLF",
        [MULTIPART_ERR_BAD_DELIMITER_LINE] = "malformed boundary line",
        [MULTIPART_ERR_TRUNCATED] = "body ends before the closing boundary",
        [MULTIPART_ERR_TOO_MANY_PARTS] = "too many parts",
        [MULTIPART_ERR_HEADERS_TOO_BIG] = "part headers too long",
        [MULTIPART_ERR_TOO_MANY_HEADERS] = "too many part headers",
        [MULTIPART_ERR_BAD_HEADER] = "malformed part header",
        [MULTIPART_ERR_NO_DISPOSITION] = "a part without Content-Disposition",
        [MULTIPART_ERR_BAD_DISPOSITION] = "malformed or repeated Content-Disposition",
        [MULTIPART_ERR_BAD_ESCAPE] = "invalid backslash escape",
        [MULTIPART_ERR_NO_NAME] = "a part without a name",
        [MULTIPART_ERR_NAME_TOO_LONG] = "field name too long",
        [MULTIPART_ERR_BAD_NAME] = "control character in a field name",
        [MULTIPART_ERR_FILENAME_TOO_LONG] = "file name too long",
        [MULTIPART_ERR_BAD_FILENAME] = "file name is not a plain name",
        [MULTIPART_ERR_BAD_UTF8] = "invalid UTF-8",
};

const char *multipart_err_to_string(enum multipart_err e) {
        return e >= 0 && e < _MULTIPART_ERR_MAX ? err_names[e] : "unknown";
}

static const struct multipart_limits default_limits = {
        .max_bytes = MULTIPART_MAX_BYTES,
        .max_parts = MULTIPART_MAX_PARTS,
        .max_header_bytes = MULTIPART_MAX_HEADER_BYTES,
        .max_header_lines = MULTIPART_MAX_HEADER_LINES,
        .max_name = MULTIPART_MAX_NAME,
        .max_filename = MULTIPART_MAX_FILENAME,
};

static int err_to_errno(enum multipart_err e) {
        switch (e) {
        case MULTIPART_ERR_NONE:
                return 0;
        case MULTIPART_ERR_TOO_BIG:
        case MULTIPART_ERR_TOO_MANY_PARTS:
        case MULTIPART_ERR_HEADERS_TOO_BIG:
        case MULTIPART_ERR_TOO_MANY_HEADERS:
        case MULTIPART_ERR_NAME_TOO_LONG:
        case MULTIPART_ERR_FILENAME_TOO_LONG:
                return -E2BIG;
        case MULTIPART_ERR_NOT_FORM_DATA:
                return -EMEDIUMTYPE;
        case MULTIPART_ERR_NO_DELIMITER:
        case MULTIPART_ERR_BARE_LF:
        case MULTIPART_ERR_BAD_DELIMITER_LINE:
                return -EBADMSG;
        case MULTIPART_ERR_TRUNCATED:
                return -ENODATA;
        case MULTIPART_ERR_BAD_UTF8:
                return -EILSEQ;
        default:
                return -EINVAL;
        }
}

/* One parse: the output, the caps in force, and the input that err_offset counts in. */
struct parser {
        struct multipart *m;
        struct multipart_limits lim;
        const char *base;
};

/* Latches the failure, drops what was parsed, and returns the errno form. */
static int fail(struct parser *ps, enum multipart_err e, const char *at) {
        ps->m->n = 0;
        ps->m->err = e;
        ps->m->err_offset = (size_t) (at - ps->base);
        return err_to_errno(e);
}

/* RFC 7230 tchar. */
static bool tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 2046 bchars (the space is checked apart: not last). */
static bool bchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("'()+_,-./:=? ", c));
}

static bool control(char c) {
        return (unsigned char) c < 0x20 || c == 0x7f;
}

static const char *skip_ows(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

static bool token_is(const char *s, size_t n, const char *lit) {
        return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* Reads a parameter value at *pp, a quoted-string or a token, into dst (cap bytes; NULL to
 * only skip it) and moves *pp past it. syntax is the code for malformed input there,
 * too_long the one for a value over cap. */
static int param_value(struct parser *ps, const char **pp, const char *end, enum multipart_err syntax,
                       char *dst, size_t cap, enum multipart_err too_long, size_t *ret_len) {
        const char *start = *pp, *p = start;
        size_t n = 0;

        if (p < end && *p == '"') {
                for (p++;; p++) {
                        char c;

                        if (p >= end)
                                return fail(ps, syntax, start); /* unterminated */
                        c = *p;
                        if (c == '"')
                                break;
                        if (c == '\\') {
                                /* Only what needs it: a browser that sends a raw '\' in a
                                 * name (today's do) would otherwise lose it silently. */
                                if (end - p < 2 || (p[1] != '"' && p[1] != '\\'))
                                        return fail(ps, MULTIPART_ERR_BAD_ESCAPE, p);
                                c = *++p;
                        }
                        if (n >= cap)
                                return fail(ps, too_long, start);
                        if (dst)
                                dst[n] = c;
                        n++;
                }
                *pp = p + 1;
        } else {
                for (; p < end && tchar(*p); p++) {
                        if (n >= cap)
                                return fail(ps, too_long, start);
                        if (dst)
                                dst[n] = *p;
                        n++;
                }
                if (n == 0)
                        return fail(ps, syntax, start);
                *pp = p;
        }
        *ret_len = n;
        return 0;
}

/* Moves *pp over OWS ";" OWS name "=" to the start of the next parameter's value. Returns
 * 1 with the name, 0 at the end of the input (only OWS left), or a failure. */
static int next_param(struct parser *ps, const char **pp, const char *end, enum multipart_err syntax,
                      const char **ret_name, size_t *ret_name_len) {
        const char *p = skip_ows(*pp, end), *name;

        if (p == end)
                return 0;
        if (*p != ';')
                return fail(ps, syntax, p);
        p = skip_ows(p + 1, end);
        name = p;
        while (p < end && tchar(*p))
                p++;
        if (p == name || p == end || *p != '=')
                return fail(ps, syntax, p);
        *ret_name = name;
        *ret_name_len = (size_t) (p - name);
        *pp = p + 1;
        return 1;
}

/* The request's Content-Type: "multipart/form-data" and exactly one boundary parameter,
 * which becomes m->_delim = CRLF "--" boundary. */
static int parse_content_type(struct parser *ps, const char *ct, size_t ct_len) {
        struct multipart *m = ps->m;
        const char *p = skip_ows(ct, ct + ct_len), *end = ct + ct_len, *type = p, *name;
        bool have = false;
        size_t nl, bl = 0;
        int r;

        while (p < end && *p != ';' && *p != ' ' && *p != '\t')
                p++;
        if (!token_is(type, (size_t) (p - type), "multipart/form-data"))
                return fail(ps, MULTIPART_ERR_NOT_FORM_DATA, type);
        while ((r = next_param(ps, &p, end, MULTIPART_ERR_BAD_CONTENT_TYPE, &name, &nl)) > 0) {
                const char *v = p;
                bool is_b = token_is(name, nl, "boundary");

                if (is_b && have)
                        return fail(ps, MULTIPART_ERR_BAD_CONTENT_TYPE, name);
                r = param_value(ps, &p, end, MULTIPART_ERR_BAD_CONTENT_TYPE, is_b ? m->_delim + 4 : NULL,
                                is_b ? MULTIPART_MAX_BOUNDARY : SIZE_MAX, MULTIPART_ERR_BAD_BOUNDARY,
                                is_b ? &bl : &nl);
                if (r < 0)
                        return r;
                if (is_b) {
                        have = true;
                        if (bl == 0 || m->_delim[4 + bl - 1] == ' ')
                                return fail(ps, MULTIPART_ERR_BAD_BOUNDARY, v);
                        for (size_t i = 0; i < bl; i++)
                                if (!bchar(m->_delim[4 + i]))
                                        return fail(ps, MULTIPART_ERR_BAD_BOUNDARY, v);
                }
        }
        if (r < 0)
                return r;
        if (!have)
                return fail(ps, MULTIPART_ERR_NO_BOUNDARY, end);
        memcpy(m->_delim, "\r\n--", 4);
        m->_delim[4 + bl] = '\0';
        m->_delim_len = 4 + bl;
        return 0;
}

static int check_name(struct parser *ps, const char *s, size_t n, const char *at) {
        if (n == 0)
                return fail(ps, MULTIPART_ERR_NO_NAME, at);
        for (size_t i = 0; i < n; i++)
                if (control(s[i]))
                        return fail(ps, MULTIPART_ERR_BAD_NAME, at);
        if (!utf8_is_valid(s, n))
                return fail(ps, MULTIPART_ERR_BAD_UTF8, at);
        return 0;
}

/* A browser sends the base name of the chosen file; whatever else arrives was made by hand,
 * and the name will end up in a path on the host. */
static int check_filename(struct parser *ps, const char *s, size_t n, const char *at) {
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                return fail(ps, MULTIPART_ERR_BAD_FILENAME, at);
        for (size_t i = 0; i < n; i++)
                if (control(s[i]) || s[i] == '/' || s[i] == '\\')
                        return fail(ps, MULTIPART_ERR_BAD_FILENAME, at);
        if (!utf8_is_valid(s, n))
                return fail(ps, MULTIPART_ERR_BAD_UTF8, at);
        return 0;
}

/* Content-Disposition: form-data; name="..."[; filename="..."]; other parameters (filename*
 * included: RFC 7578 §4.2 says not to send it) are ignored. Fills part i's name/filename. */
static int parse_disposition(struct parser *ps, const char *v, const char *end, struct multipart_part *part,
                             size_t i) {
        struct multipart *m = ps->m;
        const char *p = v, *name;
        bool have_name = false, have_file = false;
        size_t nl, len;
        int r;

        while (p < end && tchar(*p))
                p++;
        if (!token_is(v, (size_t) (p - v), "form-data"))
                return fail(ps, MULTIPART_ERR_BAD_DISPOSITION, v);
        while ((r = next_param(ps, &p, end, MULTIPART_ERR_BAD_DISPOSITION, &name, &nl)) > 0) {
                const char *at = p;

                if (token_is(name, nl, "name")) {
                        if (have_name)
                                return fail(ps, MULTIPART_ERR_BAD_DISPOSITION, name);
                        have_name = true;
                        r = param_value(ps, &p, end, MULTIPART_ERR_BAD_DISPOSITION, m->_names[i],
                                        ps->lim.max_name, MULTIPART_ERR_NAME_TOO_LONG, &len);
                        if (r < 0)
                                return r;
                        r = check_name(ps, m->_names[i], len, at);
                        if (r < 0)
                                return r;
                        m->_names[i][len] = '\0';
                        part->name = m->_names[i];
                        part->name_len = len;
                } else if (token_is(name, nl, "filename")) {
                        if (have_file)
                                return fail(ps, MULTIPART_ERR_BAD_DISPOSITION, name);
                        have_file = true;
                        r = param_value(ps, &p, end, MULTIPART_ERR_BAD_DISPOSITION, m->_filenames[i],
                                        ps->lim.max_filename, MULTIPART_ERR_FILENAME_TOO_LONG, &len);
                        if (r < 0)
                                return r;
                        r = check_filename(ps, m->_filenames[i], len, at);
                        if (r < 0)
                                return r;
                        m->_filenames[i][len] = '\0';
                        part->filename = m->_filenames[i];
                        part->filename_len = len;
                } else {
                        r = param_value(ps, &p, end, MULTIPART_ERR_BAD_DISPOSITION, NULL, SIZE_MAX,
                                        MULTIPART_ERR_BAD_DISPOSITION, &len);
                        if (r < 0)
                                return r;
                }
        }
        if (r < 0)
                return r;
        if (!have_name)
                return fail(ps, MULTIPART_ERR_NO_NAME, v);
        return 0;
}

/* One part: body[ps_off..de) between the CRLF ending a delimiter line and the CRLF of the
 * next delimiter. Header lines up to an empty one, then the data. */
static int parse_part(struct parser *ps, const char *start, const char *de) {
        struct multipart *m = ps->m;
        struct multipart_part *part = &m->parts[m->n];
        const char *p = start;
        /* The cap counts the empty line's CRLF too, so scanning stops within it. */
        const char *cap_end =
                (size_t) (de - start) > ps->lim.max_header_bytes ? start + ps->lim.max_header_bytes : de;
        bool have_cd = false;
        size_t lines = 0;
        int r;

        *part = (struct multipart_part){};
        for (;;) {
                const char *line = p, *eol = p, *colon, *v, *vend;

                while (eol < cap_end && *eol != '\r' && *eol != '\n')
                        eol++;
                if (eol == cap_end || (*eol == '\r' && cap_end - eol < 2)) {
                        /* No complete line before the cap or the next delimiter. */
                        if (cap_end < de)
                                return fail(ps, MULTIPART_ERR_HEADERS_TOO_BIG, start);
                        return fail(ps, MULTIPART_ERR_BAD_HEADER, eol);
                }
                if (*eol == '\n')
                        return fail(ps, MULTIPART_ERR_BARE_LF, eol);
                if (eol[1] != '\n')
                        return fail(ps, MULTIPART_ERR_BAD_HEADER, eol); /* bare CR */
                p = eol + 2;
                if (eol == line)
                        break; /* the empty line: data follows */
                if (++lines > ps->lim.max_header_lines)
                        return fail(ps, MULTIPART_ERR_TOO_MANY_HEADERS, line);
                /* obs-fold (RFC 7230 §3.2.4) would let two readers see different headers. */
                if (*line == ' ' || *line == '\t')
                        return fail(ps, MULTIPART_ERR_BAD_HEADER, line);
                colon = line;
                while (colon < eol && tchar(*colon))
                        colon++;
                if (colon == line || colon == eol || *colon != ':')
                        return fail(ps, MULTIPART_ERR_BAD_HEADER, colon);
                v = skip_ows(colon + 1, eol);
                vend = eol;
                while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                        vend--;
                if (token_is(line, (size_t) (colon - line), "content-disposition")) {
                        if (have_cd)
                                return fail(ps, MULTIPART_ERR_BAD_DISPOSITION, line);
                        have_cd = true;
                        /* Controls inside its quoted strings are left to the name and
                         * filename checks, which say which one was wrong. */
                        r = parse_disposition(ps, v, vend, part, m->n);
                        if (r < 0)
                                return r;
                } else
                        for (const char *c = v; c < vend; c++)
                                if (control(*c) && *c != '\t')
                                        return fail(ps, MULTIPART_ERR_BAD_HEADER, c);
        }
        if (!have_cd)
                return fail(ps, MULTIPART_ERR_NO_DISPOSITION, start);
        part->data = p;
        part->len = (size_t) (de - p);
        m->n++;
        return 0;
}

/* After "--boundary": transport padding (RFC 2046 allows LWSP) and CRLF. Moves *pp past it. */
static int delimiter_line_end(struct parser *ps, const char **pp, const char *end) {
        const char *p = skip_ows(*pp, end);

        if (p == end || (*p == '\r' && end - p < 2))
                return fail(ps, MULTIPART_ERR_TRUNCATED, end);
        if (*p == '\n')
                return fail(ps, MULTIPART_ERR_BARE_LF, p);
        if (*p != '\r' || p[1] != '\n')
                return fail(ps, MULTIPART_ERR_BAD_DELIMITER_LINE, *pp);
        *pp = p + 2;
        return 0;
}

/* Not found with CRLF: if the LF-only form is there, say so rather than "truncated". */
static int no_delimiter(struct parser *ps, const char *from, const char *end, enum multipart_err e) {
        struct multipart *m = ps->m;
        const char *lf = memmem(from, (size_t) (end - from), m->_delim + 1, m->_delim_len - 1);

        return lf ? fail(ps, MULTIPART_ERR_BARE_LF, lf) : fail(ps, e, end);
}

int multipart_parse(struct multipart *m, const char *content_type, size_t ct_len, const char *body,
                    size_t len, const struct multipart_limits *lim) {
        struct parser ps = {.m = m, .lim = lim ? *lim : default_limits, .base = content_type};
        const char *end = body + len, *p, *d;
        size_t dl;
        int r;

        /* A zero field takes the default, so a caller sets only what it means to change. */
        if (!ps.lim.max_bytes)
                ps.lim.max_bytes = default_limits.max_bytes;
        if (!ps.lim.max_parts)
                ps.lim.max_parts = default_limits.max_parts;
        if (!ps.lim.max_header_bytes)
                ps.lim.max_header_bytes = default_limits.max_header_bytes;
        if (!ps.lim.max_header_lines)
                ps.lim.max_header_lines = default_limits.max_header_lines;
        if (!ps.lim.max_name)
                ps.lim.max_name = default_limits.max_name;
        if (!ps.lim.max_filename)
                ps.lim.max_filename = default_limits.max_filename;
        ps.lim.max_parts = MIN(ps.lim.max_parts, (size_t) MULTIPART_MAX_PARTS);
        ps.lim.max_name = MIN(ps.lim.max_name, (size_t) MULTIPART_MAX_NAME);
        ps.lim.max_filename = MIN(ps.lim.max_filename, (size_t) MULTIPART_MAX_FILENAME);
        m->n = 0;
        m->err = MULTIPART_ERR_NONE;
        m->err_offset = 0;

        r = parse_content_type(&ps, content_type, ct_len);
        if (r < 0)
                return r;
        ps.base = body;
        if (len > ps.lim.max_bytes)
                return fail(&ps, MULTIPART_ERR_TOO_BIG, body + ps.lim.max_bytes);
        d = m->_delim;
        dl = m->_delim_len;

        /* The first delimiter may open the body without the CRLF (RFC 2046 §5.1.1); else it
         * ends the preamble. */
        if (len >= dl - 2 && memcmp(body, d + 2, dl - 2) == 0)
                p = body + dl - 2;
        else {
                const char *x = memmem(body, len, d, dl);
                if (!x)
                        return no_delimiter(&ps, body, end, MULTIPART_ERR_NO_DELIMITER);
                p = x + dl;
        }
        for (;;) {
                const char *start, *next;

                /* p is just past a "--boundary". */
                if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
                        /* The close delimiter: padding, then the end or CRLF and an epilogue
                         * we ignore. */
                        const char *q = skip_ows(p + 2, end);

                        if (q == end)
                                return 0;
                        if (*q == '\n')
                                return fail(&ps, MULTIPART_ERR_BARE_LF, q);
                        if (*q != '\r')
                                return fail(&ps, MULTIPART_ERR_BAD_DELIMITER_LINE, p);
                        if (end - q < 2)
                                return fail(&ps, MULTIPART_ERR_TRUNCATED, end);
                        if (q[1] != '\n')
                                return fail(&ps, MULTIPART_ERR_BAD_DELIMITER_LINE, p);
                        return 0;
                }
                if (end - p == 1 && *p == '-')
                        return fail(&ps, MULTIPART_ERR_TRUNCATED, end);
                r = delimiter_line_end(&ps, &p, end);
                if (r < 0)
                        return r;
                start = p;
                if (m->n >= ps.lim.max_parts)
                        return fail(&ps, MULTIPART_ERR_TOO_MANY_PARTS, start);
                /* The part ends at the first CRLF--boundary, whatever follows it. */
                next = memmem(start, (size_t) (end - start), d, dl);
                if (!next)
                        return no_delimiter(&ps, start, end, MULTIPART_ERR_TRUNCATED);
                r = parse_part(&ps, start, next);
                if (r < 0)
                        return r;
                p = next + dl;
        }
}

const struct multipart_part *multipart_field(const struct multipart *m, const char *name) {
        const struct multipart_part *found = NULL;

        for (size_t i = 0; i < m->n; i++)
                if (streq(m->parts[i].name, name)) {
                        if (found)
                                return NULL;
                        found = &m->parts[i];
                }
        return found;
}

size_t multipart_count(const struct multipart *m, const char *name) {
        size_t n = 0;

        for (size_t i = 0; i < m->n; i++)
                n += streq(m->parts[i].name, name);
        return n;
}
