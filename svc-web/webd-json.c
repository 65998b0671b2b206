/* See webd-json.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "svc-web/webd-json.h"

void json_init(struct json *j, size_t cap) {
        memset(j, 0, sizeof(*j));
        j->cap = cap;
}

void json_done(struct json *j) {
        free(j->data);
        json_init(j, j->cap);
}

bool json_ok(const struct json *j) {
        return !j->failed && j->depth == 0;
}

char *json_steal(struct json *j, size_t *ret_len) {
        char *p;

        if (j->failed)
                return NULL;
        if (!j->data) {
                p = strdup("");
                if (!p)
                        return NULL;
        } else
                p = j->data;
        if (ret_len)
                *ret_len = j->len;
        j->data = NULL;
        json_done(j);
        return p;
}

/* Appends n raw bytes, growing geometrically; keeps one spare byte for the final NUL. */
static void append(struct json *j, const char *s, size_t n) {
        if (j->failed)
                return;
        if (j->cap > 0 && j->len + n > j->cap) {
                j->failed = true;
                return;
        }
        if (j->len + n + 1 > j->alloc) {
                size_t a = j->alloc ? j->alloc : 256;
                while (a < j->len + n + 1)
                        a *= 2;
                char *d = realloc(j->data, a);
                if (!d) {
                        j->failed = true;
                        return;
                }
                j->data = d;
                j->alloc = a;
        }
        memcpy(j->data + j->len, s, n);
        j->len += n;
        j->data[j->len] = '\0';
}

/* Called before every value and key: writes the separating comma when needed. */
static void before_value(struct json *j) {
        if (j->after_key) {
                j->after_key = false;
                return;
        }
        if (j->need_comma[j->depth])
                append(j, ",", 1);
        j->need_comma[j->depth] = true;
}

static void open_container(struct json *j, char c) {
        before_value(j);
        if (j->depth >= JSON_MAX_DEPTH) {
                j->failed = true;
                return;
        }
        append(j, &c, 1);
        j->depth++;
        j->need_comma[j->depth] = false;
}

static void close_container(struct json *j, char c) {
        if (j->depth == 0) {
                j->failed = true;
                return;
        }
        append(j, &c, 1);
        j->depth--;
        j->after_key = false;
}

void json_object_begin(struct json *j) {
        open_container(j, '{');
}
void json_object_end(struct json *j) {
        close_container(j, '}');
}
void json_array_begin(struct json *j) {
        open_container(j, '[');
}
void json_array_end(struct json *j) {
        close_container(j, ']');
}

void json_key(struct json *j, const char *key) {
        json_str(j, key);
        append(j, ":", 1);
        j->after_key = true;
}

void json_escape_append(struct json *j, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0, run = 0;

        /* Copies runs of plain bytes at once; escapes the rest one by one. */
        while (i < n) {
                unsigned char c = p[i];
                char esc[8];
                size_t esc_len = 0, l;

                if (c >= 0x80) {
                        l = utf8_seq_len(p + i, n - i);
                        if (l > 0) {
                                i += l;
                                run += l;
                                continue;
                        }
                        memcpy(esc, "\\ufffd", 6);
                        esc_len = 6;
                } else if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) c;
                        esc_len = 2;
                } else if (c == '\n') {
                        memcpy(esc, "\\n", 2);
                        esc_len = 2;
                } else if (c == '\r') {
                        memcpy(esc, "\\r", 2);
                        esc_len = 2;
                } else if (c == '\t') {
                        memcpy(esc, "\\t", 2);
                        esc_len = 2;
                } else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' || c == '\'') {
                        esc[0] = '\\';
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        esc_len = 6;
                } else {
                        i++;
                        run++;
                        continue;
                }
                append(j, s + i - run, run);
                run = 0;
                append(j, esc, esc_len);
                i++;
        }
        append(j, s + i - run, run);
}

void json_strn(struct json *j, const char *s, size_t n) {
        before_value(j);
        append(j, "\"", 1);
        json_escape_append(j, s, n);
        append(j, "\"", 1);
}

void json_str(struct json *j, const char *s) {
        if (!s) {
                json_null(j);
                return;
        }
        json_strn(j, s, strlen(s));
}

void json_int(struct json *j, int64_t v) {
        char b[32];
        int n = snprintf(b, sizeof(b), "%" PRId64, v);

        before_value(j);
        append(j, b, (size_t) n);
}

void json_uint(struct json *j, uint64_t v) {
        char b[32];
        int n = snprintf(b, sizeof(b), "%" PRIu64, v);

        before_value(j);
        append(j, b, (size_t) n);
}

void json_bool(struct json *j, bool v) {
        before_value(j);
        if (v)
                append(j, "true", 4);
        else
                append(j, "false", 5);
}

void json_null(struct json *j) {
        before_value(j);
        append(j, "null", 4);
}

void json_kv_str(struct json *j, const char *key, const char *value) {
        json_key(j, key);
        json_str(j, value);
}

void json_kv_int(struct json *j, const char *key, int64_t value) {
        json_key(j, key);
        json_int(j, value);
}

void json_kv_uint(struct json *j, const char *key, uint64_t value) {
        json_key(j, key);
        json_uint(j, value);
}

void json_kv_bool(struct json *j, const char *key, bool value) {
        json_key(j, key);
        json_bool(j, value);
}
