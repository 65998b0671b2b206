/* webd's one HTML writer: escaping by default, balanced by construction.
 *
 * Pages never format HTML by hand. They open elements (html_elem), add attributes right
 * after (html_attr), write text (html_text) and close (html_close). The writer
 *   - escapes every text and attribute value completely (& < > " ' in every context),
 *     replaces invalid UTF-8, NUL and other C0 controls with U+FFFD;
 *   - checks URL attributes (href, src, action, formaction, hx-get...): only local or
 *     relative references and http(s) pass, anything else (javascript:, data:, //host,
 *     a backslash, a control character) is written as "#" and counted;
 *   - knows the void elements (<br>, <input>, ...) and keeps a stack of the open ones, so
 *     a page cannot close the wrong element or leave one open: html_finish() refuses;
 *   - refuses unknown element names, attribute names outside [a-z0-9-], and inline event
 *     handlers (on*): the CSP forbids inline script, so they could only be a mistake;
 *   - refuses text inside <script> and <style> (escaping does not apply there);
 *   - stops at its output cap instead of truncating.
 * Like the JSON writer, the first failure is latched in `error` and later calls do
 * nothing: check html_finish() once at the end. No I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define HTML_MAX_DEPTH   64
#define HTML_DEFAULT_CAP (4u << 20)

struct html {
        char *data;
        size_t len, alloc;
        size_t cap;            /* 0 = HTML_DEFAULT_CAP */
        int error;             /* first failure (negative errno), 0 if none */
        bool in_start_tag;     /* "<name" written, attributes may still follow */
        unsigned urls_refused; /* URL attribute values replaced by "#" */
        unsigned depth;
        const char *stack[HTML_MAX_DEPTH]; /* open non-void elements (static names) */
};

void html_init(struct html *h, size_t cap);
void html_done(struct html *h);
/* 0, or the latched error: -E2BIG (cap), -ENOMEM, -EPROTO (misuse: wrong close, attribute
 * after content, text in <script>), -EINVAL (unknown element, bad attribute name). */
int html_error(const struct html *h);
/* Checks that everything is closed and hands the NUL-terminated text to the caller, who
 * frees it. -EPROTO if an element is still open. The writer is reset either way. */
int html_finish(struct html *h, char **ret, size_t *ret_len);

void html_doctype(struct html *h);
/* Opens <name ...>; void elements are never pushed and need no close. */
void html_elem(struct html *h, const char *name);
/* An attribute of the element just opened. value NULL writes the bare name (boolean). */
void html_attr(struct html *h, const char *name, const char *value);
void html_attr_int(struct html *h, const char *name, int64_t value);
/* Closes the innermost open element; name must match it (catches mistakes in tests). */
void html_close(struct html *h, const char *name);
/* Closes open elements until depth (as from html_depth) is reached. */
void html_close_to(struct html *h, unsigned depth);
unsigned html_depth(const struct html *h);

void html_text(struct html *h, const char *s);
void html_textn(struct html *h, const char *s, size_t n);
void html_textf(struct html *h, const char *fmt, ...) _printf_(2, 3);
/* Shorthand: <name>text</name>. */
void html_elem_text(struct html *h, const char *name, const char *text);

/* Appends markup as is. Only for compile-time constants reviewed as such (an SVG icon);
 * never for anything a user, a peer daemon or a file supplied. */
void html_raw_trusted_markup(struct html *h, const char *markup);

/* Whether url may appear in an href/src/action: a relative reference or a local absolute
 * path (not //host, no backslash), or http:// / https://; no control characters or
 * spaces anywhere. */
bool html_url_ok(const char *url);
/* Whether the element table is sorted (element lookup is a binary search): for the tests. */
bool html_elements_sorted(void);
