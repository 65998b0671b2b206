/* libFuzzer target for webd's multipart/form-data parser. An input is a Content-Type line
 * and the body after its LF; the body is also parsed with a fixed boundary "B" and small
 * caps, so the fuzzer reaches the part parser without first having to guess a boundary
 * that matches. Besides "no crash, no read out of bounds" it checks what webd relies on:
 * parts lie inside the body and none contains the delimiter, names and filenames are
 * within the caps, NUL-terminated UTF-8 without controls, filenames without '/' or '\',
 * a failure leaves no parts and names its reason. Built by `make fuzz-multipart` with
 * clang; `make test-fuzz-smoke` runs it briefly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "svc-web/webd-multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t n, size_t max) {
        if (n > max || strlen(s) != n || !utf8_is_valid(s, n))
                abort();
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        abort();
}

static void check(const struct multipart *m, int r, const char *ct, size_t ct_len, const char *body,
                  size_t len, const struct multipart_limits *lim) {
        if (r < 0) {
                if (m->n != 0 || m->err == MULTIPART_ERR_NONE || m->err >= _MULTIPART_ERR_MAX ||
                    m->err_offset > (ct_len > len ? ct_len : len))
                        abort();
                (void) ct;
                return;
        }
        if (r != 0 || m->err != MULTIPART_ERR_NONE || m->n > lim->max_parts || m->n > MULTIPART_MAX_PARTS)
                abort();
        for (size_t i = 0; i < m->n; i++) {
                const struct multipart_part *p = &m->parts[i];

                if (p->data < body || p->len > len || p->data + p->len > body + len)
                        abort();
                if (memmem(p->data, p->len, m->_delim, m->_delim_len))
                        abort();
                if (p->name_len == 0)
                        abort();
                check_string(p->name, p->name_len, lim->max_name);
                if (p->filename) {
                        check_string(p->filename, p->filename_len, lim->max_filename);
                        if (memchr(p->filename, '/', p->filename_len) ||
                            memchr(p->filename, '\\', p->filename_len) || strcmp(p->filename, ".") == 0 ||
                            strcmp(p->filename, "..") == 0)
                                abort();
                }
                /* multipart_field agrees with multipart_count. */
                if ((multipart_field(m, p->name) != NULL) != (multipart_count(m, p->name) == 1))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct multipart_limits small = {.max_bytes = 8192,
                                                      .max_parts = 4,
                                                      .max_header_bytes = 256,
                                                      .max_header_lines = 4,
                                                      .max_name = 8,
                                                      .max_filename = 16};
        static const struct multipart_limits big = {MULTIPART_MAX_BYTES,        MULTIPART_MAX_PARTS,
                                                    MULTIPART_MAX_HEADER_BYTES, MULTIPART_MAX_HEADER_LINES,
                                                    MULTIPART_MAX_NAME,         MULTIPART_MAX_FILENAME};
        static const char fixed_ct[] = "multipart/form-data; boundary=B";
        const char *nl;
        struct multipart *m;
        char *ct, *body;
        size_t ct_len, len;
        int r;

        if (size > 65536)
                return 0;
        m = malloc(sizeof(*m));
        if (!m)
                return 0;
        /* Exact-size copies, so ASan catches a read one byte past either. */
        nl = memchr(data, '\n', size);
        ct_len = nl ? (size_t) (nl - (const char *) data) : size;
        len = nl ? size - ct_len - 1 : 0;
        ct = malloc(ct_len ? ct_len : 1);
        body = malloc(len ? len : 1);
        if (ct && body) {
                memcpy(ct, data, ct_len);
                if (len)
                        memcpy(body, nl + 1, len);
                r = multipart_parse(m, ct, ct_len, body, len, NULL);
                check(m, r, ct, ct_len, body, len, &big);
        }
        free(ct);
        free(body);

        body = malloc(size ? size : 1);
        if (body) {
                memcpy(body, data, size);
                r = multipart_parse(m, fixed_ct, sizeof(fixed_ct) - 1, body, size, &small);
                check(m, r, fixed_ct, sizeof(fixed_ct) - 1, body, size, &small);
                free(body);
        }
        free(m);
        return 0;
}
