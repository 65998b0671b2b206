/* See webd-html.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "svc-web/webd-html.h"

/* The elements pages may use. A table rather than "any [a-z]+" so a typo fails in a test
 * and so void-ness and raw-text-ness are known per element. */
enum {
        EL_VOID = 1 << 0, /* no content, no end tag */
        EL_RAW = 1 << 1,  /* raw text (script, style): the writer allows no text inside */
};

static const struct element {
        const char *name;
        unsigned flags;
} elements[] = {
        {"a"},
        {"abbr"},
        {"area", EL_VOID},
        {"article"},
        {"aside"},
        {"b"},
        {"base", EL_VOID},
        {"blockquote"},
        {"body"},
        {"br", EL_VOID},
        {"button"},
        {"caption"},
        {"code"},
        {"col", EL_VOID},
        {"colgroup"},
        {"datalist"},
        {"dd"},
        {"details"},
        {"dialog"},
        {"div"},
        {"dl"},
        {"dt"},
        {"em"},
        {"embed", EL_VOID},
        {"fieldset"},
        {"figcaption"},
        {"figure"},
        {"footer"},
        {"form"},
        {"h1"},
        {"h2"},
        {"h3"},
        {"h4"},
        {"h5"},
        {"h6"},
        {"head"},
        {"header"},
        {"hr", EL_VOID},
        {"html"},
        {"i"},
        {"img", EL_VOID},
        {"input", EL_VOID},
        {"kbd"},
        {"label"},
        {"legend"},
        {"li"},
        {"link", EL_VOID},
        {"main"},
        {"mark"},
        {"menu"},
        {"meta", EL_VOID},
        {"meter"},
        {"nav"},
        {"noscript"},
        {"ol"},
        {"optgroup"},
        {"option"},
        {"output"},
        {"p"},
        {"path"},
        {"pre"},
        {"progress"},
        {"q"},
        {"s"},
        {"samp"},
        {"script", EL_RAW},
        {"section"},
        {"select"},
        {"small"},
        {"source", EL_VOID},
        {"span"},
        {"strong"},
        {"style", EL_RAW},
        {"sub"},
        {"summary"},
        {"sup"},
        {"svg"},
        {"table"},
        {"tbody"},
        {"td"},
        {"template"},
        {"textarea"},
        {"tfoot"},
        {"th"},
        {"thead"},
        {"time"},
        {"title"},
        {"tr"},
        {"track", EL_VOID},
        {"u"},
        {"ul"},
        {"use"},
        {"var"},
        {"wbr", EL_VOID},
};

/* Attributes whose value is a URL the browser may navigate to or load. */
static const char *const url_attrs[] = {
        "action",  "cite",   "formaction", "href", "hx-delete",   "hx-get",     "hx-patch",
        "hx-post", "hx-put", "poster",     "src",  "sse-connect", "xlink:href",
};

void html_init(struct html *h, size_t cap) {
        memset(h, 0, sizeof(*h));
        h->cap = cap ? cap : HTML_DEFAULT_CAP;
}

void html_done(struct html *h) {
        free(h->data);
        html_init(h, h->cap);
}

int html_error(const struct html *h) {
        return h->error;
}

static void fail(struct html *h, int error) {
        if (!h->error)
                h->error = error;
}

static void append(struct html *h, const char *s, size_t n) {
        if (h->error || n == 0)
                return;
        if (h->len + n > h->cap) {
                fail(h, -E2BIG);
                return;
        }
        if (h->len + n + 1 > h->alloc) {
                size_t a = h->alloc ? h->alloc : 1024;
                while (a < h->len + n + 1)
                        a *= 2;
                char *d = realloc(h->data, a);
                if (!d) {
                        fail(h, -ENOMEM);
                        return;
                }
                h->data = d;
                h->alloc = a;
        }
        memcpy(h->data + h->len, s, n);
        h->len += n;
        h->data[h->len] = '\0';
}

static void append_str(struct html *h, const char *s) {
        append(h, s, strlen(s));
}

/* Ends a pending start tag: every operation but html_attr does this first. */
static void end_start_tag(struct html *h) {
        if (h->in_start_tag) {
                append(h, ">", 1);
                h->in_start_tag = false;
        }
}

int html_finish(struct html *h, char **ret, size_t *ret_len) {
        int r;

        end_start_tag(h); /* a trailing void element */
        r = h->error;
        if (r >= 0 && h->depth > 0)
                r = -EPROTO;
        if (r >= 0 && !h->data) {
                h->data = strdup("");
                if (!h->data)
                        r = -ENOMEM;
        }
        if (r < 0) {
                html_done(h);
                return r;
        }
        *ret = TAKE_PTR(h->data);
        if (ret_len)
                *ret_len = h->len;
        html_done(h);
        return 0;
}

/* The one escaper, for text and attribute values alike: the five characters that can end
 * a text run, a quoted attribute or start a character reference all become references, so
 * the same function is safe in both contexts. Tab, LF and CR pass; other controls, NUL
 * and bytes that are not UTF-8 become U+FFFD (a parse error or a mojibake vector
 * otherwise). */
static void escape(struct html *h, const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0, run = 0;

        while (i < n) {
                unsigned char c = p[i];
                const char *esc;
                size_t l = 1;

                if (c >= 0x80) {
                        l = utf8_seq_len(p + i, n - i);
                        if (l > 0) {
                                i += l;
                                run += l;
                                continue;
                        }
                        esc = "\xef\xbf\xbd";
                        l = 1;
                } else if (c == '&')
                        esc = "&amp;";
                else if (c == '<')
                        esc = "&lt;";
                else if (c == '>')
                        esc = "&gt;";
                else if (c == '"')
                        esc = "&quot;";
                else if (c == '\'')
                        esc = "&#39;";
                else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                        esc = "\xef\xbf\xbd";
                else {
                        i++;
                        run++;
                        continue;
                }
                append(h, s + i - run, run);
                run = 0;
                append_str(h, esc);
                i += l;
        }
        append(h, s + i - run, run);
}

static int element_cmp(const void *key, const void *e) {
        return strcmp(key, ((const struct element *) e)->name);
}

/* The table is sorted by name (test-html checks it): a page writes hundreds of elements,
 * and a linear scan of ~100 names each was a third of a server list's time. */
static const struct element *element_find(const char *name) {
        return bsearch(name, elements, ELEMENTSOF(elements), sizeof(elements[0]), element_cmp);
}

bool html_elements_sorted(void) {
        for (size_t i = 1; i < ELEMENTSOF(elements); i++)
                if (strcmp(elements[i - 1].name, elements[i].name) >= 0)
                        return false;
        return true;
}

void html_doctype(struct html *h) {
        end_start_tag(h);
        append_str(h, "<!DOCTYPE html>\n");
}

void html_elem(struct html *h, const char *name) {
        const struct element *e;

        end_start_tag(h);
        if (h->error)
                return;
        e = name ? element_find(name) : NULL;
        if (!e) {
                fail(h, -EINVAL);
                return;
        }
        if (!(e->flags & EL_VOID)) {
                if (h->depth >= HTML_MAX_DEPTH) {
                        fail(h, -E2BIG);
                        return;
                }
                h->stack[h->depth++] = e->name;
        }
        append(h, "<", 1);
        append_str(h, e->name);
        h->in_start_tag = true;
}

static bool attr_name_ok(const char *name) {
        if (isempty(name) || strlen(name) > 64)
                return false;
        /* Inline event handlers: refused outright (CSP has no 'unsafe-inline'). */
        if ((name[0] == 'o' || name[0] == 'O') && (name[1] == 'n' || name[1] == 'N'))
                return false;
        if (strneq(name, "hx-on", 5))
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == ':'))
                        return false;
        return name[0] >= 'a' && name[0] <= 'z';
}

static bool is_url_attr(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(url_attrs); i++)
                if (streq(url_attrs[i], name))
                        return true;
        return false;
}

static bool ascii_prefix_ci(const char *s, size_t n, const char *prefix) {
        size_t l = strlen(prefix);
        if (n != l)
                return false;
        for (size_t i = 0; i < l; i++) {
                char c = s[i];
                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                if (c != prefix[i])
                        return false;
        }
        return true;
}

bool html_url_ok(const char *url) {
        size_t n;

        if (!url)
                return false;
        /* Browsers strip leading/trailing spaces and C0 controls and drop tab/LF/CR inside
         * a URL ("java\tscript:" is javascript:). Rather than model that, refuse any such
         * byte anywhere: legitimate URLs percent-encode them. A backslash is a slash to
         * the URL parser ("/\host" is "//host"). Non-ASCII must arrive percent-encoded. */
        for (const unsigned char *p = (const unsigned char *) url; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
                        return false;
        if (url[0] == '/' && url[1] == '/')
                return false; /* network-path reference: another host */
        /* A scheme is whatever precedes the first ':' that comes before any '/', '?', '#'.
         * Anything else (a path, a query, a fragment, "") is relative to our origin. */
        n = strcspn(url, ":/?#");
        if (url[n] != ':')
                return true;
        if (!ascii_prefix_ci(url, n, "http") && !ascii_prefix_ci(url, n, "https"))
                return false;
        /* http(s) must name a host: "http:evil" or "https:/x" are odd enough to refuse. */
        return url[n + 1] == '/' && url[n + 2] == '/' && url[n + 3] != '\0' && url[n + 3] != '/';
}

void html_attr(struct html *h, const char *name, const char *value) {
        if (h->error)
                return;
        if (!h->in_start_tag) {
                fail(h, -EPROTO);
                return;
        }
        if (!attr_name_ok(name)) {
                fail(h, -EINVAL);
                return;
        }
        append(h, " ", 1);
        append_str(h, name);
        if (!value)
                return;
        if (is_url_attr(name) && !html_url_ok(value)) {
                h->urls_refused++;
                value = "#";
        }
        append(h, "=\"", 2);
        escape(h, value, strlen(value));
        append(h, "\"", 1);
}

void html_attr_int(struct html *h, const char *name, int64_t value) {
        char buf[32];

        (void) snprintf(buf, sizeof(buf), "%" PRId64, value);
        html_attr(h, name, buf);
}

void html_close(struct html *h, const char *name) {
        end_start_tag(h);
        if (h->error)
                return;
        if (h->depth == 0 || (name && !streq(h->stack[h->depth - 1], name))) {
                fail(h, -EPROTO);
                return;
        }
        h->depth--;
        append(h, "</", 2);
        append_str(h, h->stack[h->depth]);
        append(h, ">", 1);
}

void html_close_to(struct html *h, unsigned depth) {
        while (!h->error && h->depth > depth)
                html_close(h, NULL);
}

unsigned html_depth(const struct html *h) {
        return h->depth;
}

void html_textn(struct html *h, const char *s, size_t n) {
        end_start_tag(h);
        if (h->error || !s)
                return;
        if (h->depth > 0 && element_find(h->stack[h->depth - 1])->flags & EL_RAW) {
                fail(h, -EPROTO);
                return;
        }
        escape(h, s, n);
}

void html_text(struct html *h, const char *s) {
        if (s)
                html_textn(h, s, strlen(s));
}

void html_textf(struct html *h, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0) {
                s = NULL;
                fail(h, -ENOMEM);
                return;
        }
        html_textn(h, s, (size_t) n);
}

void html_elem_text(struct html *h, const char *name, const char *text) {
        html_elem(h, name);
        html_text(h, text);
        html_close(h, name);
}

void html_raw_trusted_markup(struct html *h, const char *markup) {
        end_start_tag(h);
        append_str(h, markup);
}
