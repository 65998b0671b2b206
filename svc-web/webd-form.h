/* Parsers for what a browser sends us as name/value pairs: application/x-www-form-urlencoded
 * bodies, query strings, and the Cookie header; and the validator of the `next` redirect.
 *
 * Every input is peer-controlled, so every dimension is capped (total bytes, fields, name
 * and value length) and every refusal has its own code (form_err) so a handler can answer
 * 400/413 with a reason and a test can tell the cases apart. Decoded names and values are
 * NUL-terminated, valid UTF-8 and contain no NUL. Duplicate names are kept in order;
 * form_get_one() lets a caller demand exactly one (a login form with two "username"
 * fields is an attack or a bug, not a choice). No I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define FORM_MAX_BYTES  (1u << 20)
#define FORM_MAX_FIELDS 256u
#define FORM_MAX_NAME   128u
#define FORM_MAX_VALUE  (256u << 10)
#define FORM_NEXT_MAX   2048u

enum form_err {
        FORM_ERR_NONE,
        FORM_ERR_TOO_BIG,         /* input longer than max_bytes (-E2BIG) */
        FORM_ERR_TOO_MANY_FIELDS, /* more than max_fields pairs (-E2BIG) */
        FORM_ERR_NAME_TOO_LONG,   /* a decoded name longer than max_name (-E2BIG) */
        FORM_ERR_VALUE_TOO_LONG,  /* a decoded value longer than max_value (-E2BIG) */
        FORM_ERR_BAD_ESCAPE,      /* '%' not followed by two hex digits (-EINVAL) */
        FORM_ERR_NUL,             /* a NUL byte, raw or %00 (-EINVAL) */
        FORM_ERR_CONTROL,         /* a control character in a name (-EINVAL) */
        FORM_ERR_BAD_UTF8,        /* a name or value that is not UTF-8 (-EILSEQ) */
        FORM_ERR_EMPTY_NAME,      /* "=value" (-EINVAL) */
        FORM_ERR_NOMEM,           /* (-ENOMEM) */
        _FORM_ERR_MAX,
};

const char *form_err_to_string(enum form_err e);

struct form_limits {
        size_t max_bytes, max_fields, max_name, max_value;
};

struct form_field {
        const char *name, *value;
        size_t value_len;
};

struct form {
        struct form_field *fields;
        size_t n_fields;
        char *_buf; /* all decoded strings, one allocation */
        enum form_err err;
        size_t err_offset;      /* byte offset in the input where parsing stopped */
        size_t cookies_skipped; /* Cookie header only: malformed pairs ignored */
};

/* Parses an application/x-www-form-urlencoded body or a query string (without the '?'):
 * '&'-separated, '+' is a space, %XX decoded, empty segments skipped, a segment without
 * '=' is a name with an empty value. lim NULL = the FORM_MAX_* defaults. On failure returns
 * a negative errno, sets f->err and leaves f empty. f must be freed with form_done(). */
int form_parse_urlencoded(struct form *f, const char *data, size_t len, const struct form_limits *lim);
int form_parse_query(struct form *f, const char *query, size_t len, const struct form_limits *lim);
/* Parses a Cookie header: "a=b; c=d". Values are taken as they are (no decoding; one
 * pair of surrounding double quotes removed). A pair that is malformed (no '=', empty
 * name, bytes RFC 6265 does not allow) is skipped and counted, not fatal: other
 * applications on the same host may set cookies we cannot control. Caps as above. */
int form_parse_cookies(struct form *f, const char *header, size_t len, const struct form_limits *lim);
void form_done(struct form *f);

/* The first value named name, or NULL. */
const char *form_get(const struct form *f, const char *name);
size_t form_count(const struct form *f, const char *name);
/* Exactly one value: 0 and *ret, -ENOENT if none, -ENOTUNIQ if more than one. */
int form_get_one(const struct form *f, const char *name, const char **ret);

/* Whether next (already decoded once by the query/form parser) is a safe target for a
 * redirect after login: a local absolute path "/..." of printable ASCII, at most
 * FORM_NEXT_MAX bytes; not "//host" or "/\host", no backslash anywhere, no scheme, no
 * control characters or spaces; and no percent-encoded '/', '\', '%' or control byte, so
 * a second decoding (by a proxy or a browser) cannot turn it into one of those. */
bool form_next_ok(const char *next);
/* next if form_next_ok(next), else "/". */
const char *form_next_or_root(const char *next);

/* Percent-encodes s for a query value ('/' and RFC 3986's unreserved characters stay);
 * malloc'd, NULL on ENOMEM. */
char *form_urlencode(const char *s);
