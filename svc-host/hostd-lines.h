/* Output of hostd's children (steamcmd, build scripts) as lines: a splitter, and the read loop
 * of a non-blocking pipe that feeds it, shared by installs and builds. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

/* Longer lines of a child's output are passed on in pieces of this many bytes. */
#define CHILD_LINE_MAX 4096u

/* Splits a byte stream into lines: feed bytes, get complete lines (without "\n", a trailing
 * "\r" removed); a line longer than max is delivered in pieces of max bytes. Exposed for the
 * unit tests. */
struct line_splitter {
        char *buf;
        size_t len, max;
};
int line_splitter_init(struct line_splitter *s, size_t max);
void line_splitter_done(struct line_splitter *s);
void line_splitter_feed(struct line_splitter *s, const char *data, size_t n,
                        void (*cb)(const char *line, void *userdata), void *userdata);
/* Delivers what is left (a last line without a newline). */
void line_splitter_flush(struct line_splitter *s, void (*cb)(const char *line, void *userdata),
                         void *userdata);

/* A line read from pipe p of a child (p: the caller's index of the pipe, passed through). */
typedef void (*line_pipe_cb)(unsigned p, const char *line, void *userdata);

/* Reads what is available on the non-blocking *fd and hands s's complete lines to cb. At EOF
 * (or a read error) delivers the last line, disables *io and closes *fd. Returns 1 once the
 * pipe is closed, 0 when it would block. */
int line_pipe_drain(int *fd, sd_event_source **io, struct line_splitter *s, unsigned p, line_pipe_cb cb,
                    void *userdata);
