/* See busprops.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "base/util.h"
#include "tests/svc-host/busprops.h"

/* ---- reading the property list back ------------------------------------------------------- */

/* Appends a textual rendering of the next complete value to buf. */
static int render(sd_bus_message *m, char *buf, size_t len);

static void cat(char *buf, size_t len, const char *fmt, ...) _printf_(3, 4);
static void cat(char *buf, size_t len, const char *fmt, ...) {
        size_t n = strlen(buf);
        va_list ap;

        if (n >= len - 1)
                return;
        va_start(ap, fmt);
        vsnprintf(buf + n, len - n, fmt, ap);
        va_end(ap);
}

static int render(sd_bus_message *m, char *buf, size_t len) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r;
        switch (type) {
        case 'a':
        case 'r':
        case 'v':
        case 'e': {
                bool first = true;
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                cat(buf, len, type == 'a' ? "[" : type == 'v' ? "" : "(");
                while ((r = sd_bus_message_peek_type(m, NULL, NULL)) > 0) {
                        if (!first)
                                cat(buf, len, type == 'a' ? ", " : " ");
                        first = false;
                        r = render(m, buf, len);
                        if (r < 0)
                                return r;
                }
                cat(buf, len, type == 'a' ? "]" : type == 'v' ? "" : ")");
                return sd_bus_message_exit_container(m);
        }
        case 's':
        case 'o': {
                const char *s;
                r = sd_bus_message_read_basic(m, type, &s);
                if (r >= 0)
                        cat(buf, len, "%s", s);
                return r;
        }
        case 'b': {
                int b;
                r = sd_bus_message_read_basic(m, type, &b);
                if (r >= 0)
                        cat(buf, len, "%s", b ? "yes" : "no");
                return r;
        }
        case 'y': {
                uint8_t v;
                r = sd_bus_message_read_basic(m, type, &v);
                if (r >= 0)
                        cat(buf, len, "%u", v);
                return r;
        }
        case 'i': {
                int32_t v;
                r = sd_bus_message_read_basic(m, type, &v);
                if (r >= 0)
                        cat(buf, len, "%d", v);
                return r;
        }
        case 'u': {
                uint32_t v;
                r = sd_bus_message_read_basic(m, type, &v);
                if (r >= 0)
                        cat(buf, len, "%u", v);
                return r;
        }
        case 't': {
                uint64_t v;
                r = sd_bus_message_read_basic(m, type, &v);
                if (r >= 0)
                        cat(buf, len, "%llu", (unsigned long long) v);
                return r;
        }
        case 'h': {
                int fd;
                r = sd_bus_message_read_basic(m, type, &fd);
                if (r >= 0)
                        cat(buf, len, "fd");
                return r;
        }
        default:
                return -EINVAL;
        }
}

void props_free(struct props *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->name[i]);
                free(p->value[i]);
        }
}

/* The value of the i-th property called name ("" and false if absent). */
const char *prop_nth(const struct props *p, const char *name, unsigned nth) {
        for (size_t i = 0; i < p->n; i++)
                if (streq(p->name[i], name) && nth-- == 0)
                        return p->value[i];
        return NULL;
}

const char *prop(const struct props *p, const char *name) {
        return prop_nth(p, name, 0);
}

int props_read(int (*append)(sd_bus_message *m, const void *spec), const void *spec, struct props *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int sv[2], r;

        /* A bus that never talks to anybody: message construction only needs it started. */
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_geq(sd_bus_new(&bus), 0);
        cr_assert_geq(sd_bus_set_fd(bus, sv[0], sv[0]), 0);
        cr_assert_geq(sd_bus_start(bus), 0);
        cr_assert_geq(sd_bus_message_new_method_call(
                              bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "StartTransientUnit"),
                      0);
        cr_assert_geq(sd_bus_message_append(m, "ss", "x.service", "fail"), 0);
        cr_assert_geq(sd_bus_message_open_container(m, 'a', "(sv)"), 0);
        r = append(m, spec);
        close(sv[1]);
        if (r < 0)
                return r;
        cr_assert_geq(sd_bus_message_close_container(m), 0);
        cr_assert_geq(sd_bus_message_append(m, "a(sa(sv))", 0), 0);
        cr_assert_geq(sd_bus_message_seal(m, 1, 0), 0);
        cr_assert_geq(sd_bus_message_rewind(m, true), 0);
        cr_assert_geq(sd_bus_message_skip(m, "ss"), 0);
        cr_assert_geq(sd_bus_message_enter_container(m, 'a', "(sv)"), 0);
        *out = (struct props){};
        while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
                const char *name;
                char value[8192] = "";

                cr_assert_geq(sd_bus_message_read(m, "s", &name), 0);
                cr_assert_geq(render(m, value, sizeof(value)), 0, "cannot render %s", name);
                cr_assert_lt(out->n, MAX_PROPS);
                out->name[out->n] = strdup(name);
                out->value[out->n] = strdup(value);
                out->n++;
                cr_assert_geq(sd_bus_message_exit_container(m), 0);
        }
        cr_assert_geq(r, 0);
        return 0;
}
