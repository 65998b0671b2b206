/* See hostd-lines.h. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-host/hostd-lines.h"

int line_splitter_init(struct line_splitter *s, size_t max) {
        *s = (struct line_splitter){.max = max};
        s->buf = malloc(max + 1);
        return s->buf ? 0 : -ENOMEM;
}

void line_splitter_done(struct line_splitter *s) {
        free(s->buf);
        s->buf = NULL;
}

static void deliver(struct line_splitter *s, void (*cb)(const char *, void *), void *userdata) {
        if (s->len > 0 && s->buf[s->len - 1] == '\r')
                s->len--;
        s->buf[s->len] = 0;
        cb(s->buf, userdata);
        s->len = 0;
}

void line_splitter_feed(struct line_splitter *s, const char *data, size_t n,
                        void (*cb)(const char *line, void *userdata), void *userdata) {
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        deliver(s, cb, userdata);
                        continue;
                }
                if (s->len == s->max)
                        deliver(s, cb, userdata);
                s->buf[s->len++] = data[i];
        }
}

void line_splitter_flush(struct line_splitter *s, void (*cb)(const char *line, void *userdata),
                         void *userdata) {
        if (s->len > 0)
                deliver(s, cb, userdata);
}

/* ---- pipes ----------------------------------------------------------------------------- */

struct pipe_line_ctx {
        line_pipe_cb cb;
        unsigned p;
        void *userdata;
};

static void on_split_line(const char *line, void *userdata) {
        struct pipe_line_ctx *c = userdata;
        c->cb(c->p, line, c->userdata);
}

int line_pipe_drain(int *fd, sd_event_source **io, struct line_splitter *s, unsigned p, line_pipe_cb cb,
                    void *userdata) {
        struct pipe_line_ctx c = {cb, p, userdata};
        char buf[8192];

        for (;;) {
                ssize_t n;

                if (*fd < 0)
                        return 1;
                n = read(*fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0) {
                        line_splitter_flush(s, on_split_line, &c);
                        *io = sd_event_source_disable_unref(*io);
                        *fd = safe_close(*fd);
                        return 1;
                }
                line_splitter_feed(s, buf, (size_t) n, on_split_line, &c);
        }
}
