/* libFuzzer target for webd's peer-facing text parsers: urlencoded bodies, query strings,
 * the Cookie header, the `next` validator, and the HTML writer fed with what they decoded.
 * Besides "no crash, no leak" it checks the invariants the rest of webd relies on: decoded
 * strings are NUL-free valid UTF-8 within the caps, an accepted `next` starts with one '/',
 * and escaped output never contains a raw '<' or '"' from the input. Built by
 * `make fuzz-form` with clang; `make test-fuzz-smoke` runs it briefly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "svc-web/webd-form.h"
#include "svc-web/webd-html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fields(const struct form *f, const struct form_limits *lim) {
        if (f->n_fields > lim->max_fields)
                abort();
        for (size_t i = 0; i < f->n_fields; i++) {
                const struct form_field *x = &f->fields[i];
                size_t nl = strlen(x->name);

                if (nl == 0 || nl > lim->max_name || x->value_len > lim->max_value ||
                    strlen(x->value) != x->value_len)
                        abort();
                for (size_t j = 0; j < x->value_len;) {
                        size_t l = utf8_seq_len((const unsigned char *) x->value + j, x->value_len - j);
                        if (l == 0)
                                abort();
                        j += l;
                }
        }
}

static void render(const struct form *f) {
        struct html h;
        char *out = NULL;

        html_init(&h, 1 << 16);
        html_elem(&h, "ul");
        for (size_t i = 0; i < f->n_fields; i++) {
                html_elem(&h, "li");
                html_elem(&h, "a");
                html_attr(&h, "href", f->fields[i].value);
                html_attr(&h, "title", f->fields[i].name);
                html_text(&h, f->fields[i].value);
                html_close(&h, "a");
                html_close(&h, "li");
        }
        html_close(&h, "ul");
        if (html_finish(&h, &out, NULL) == 0) {
                /* The only '<' are our tags, the only '"' our attribute quotes. */
                size_t lt = 0, quot = 0;
                for (const char *p = out; *p; p++) {
                        lt += *p == '<';
                        quot += *p == '"';
                }
                if (lt != 2 + 4 * f->n_fields || quot != 4 * f->n_fields)
                        abort();
                free(out);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct form_limits small = {
                .max_bytes = 512, .max_fields = 8, .max_name = 16, .max_value = 32};
        static const struct form_limits big = {FORM_MAX_BYTES, FORM_MAX_FIELDS, FORM_MAX_NAME,
                                               FORM_MAX_VALUE};
        const char *s = (const char *) data;
        struct form f;
        char *z;

        if (size > 65536)
                return 0;
        if (form_parse_urlencoded(&f, s, size, NULL) == 0) {
                check_fields(&f, &big);
                render(&f);
                for (size_t i = 0; i < f.n_fields; i++)
                        if (form_next_ok(f.fields[i].value) &&
                            (f.fields[i].value[0] != '/' || f.fields[i].value[1] == '/' ||
                             strchr(f.fields[i].value, '\\')))
                                abort();
        }
        form_done(&f);
        if (form_parse_query(&f, s, size, &small) == 0)
                check_fields(&f, &small);
        form_done(&f);
        if (form_parse_cookies(&f, s, size, &small) == 0) {
                check_fields(&f, &small);
                render(&f);
        }
        form_done(&f);

        z = strndup(s, size);
        if (z) {
                if (form_next_ok(z) && (z[0] != '/' || z[1] == '/' || z[1] == '\\'))
                        abort();
                (void) html_url_ok(z);
                free(z);
        }
        return 0;
}
