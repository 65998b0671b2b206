/* The game install: steamcmd run in a child process of its own process group, as user
 * left4me, its output streamed line by line into the event loop.
 *
 * The child (a small supervisor that has dropped root) runs steamcmd twice, forcing the
 * windows and then the linux platform payloads (app 222860 is no longer installable with
 * the linux platform alone, see anchors.md §3.3), then links
 * ~left4me/.steam/sdk32|sdk64/steamclient.so. It reports its step markers on a separate
 * pipe, so a line steamcmd prints can never pass for one. Cancelling kills the whole
 * process group. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "svc-host/hostd-lines.h"

#define STEAM_APP_ID "222860"

struct hostd_install;

struct install_params {
        const char *steamcmd; /* absolute path (steamcmd.sh derives its root from $0) */
        const char *root;     /* <root>/installation is the install dir */
        const char *user;     /* run as this user ("left4me") */
};

/* stream is "stdout", "stderr" or "step"; line has no newline and is NUL-terminated. */
typedef void (*install_line_cb)(const char *stream, const char *line, void *userdata);
/* r = 0 success; -ECANCELED cancelled; other < 0 failure, message says why. */
typedef void (*install_done_cb)(int r, const char *message, void *userdata);

/* Starts the child. Errors before it runs: -ENOENT (steamcmd missing: message), -ESRCH (no
 * such user), others. On success done_cb is called exactly once later. */
int install_start(sd_event *e, const struct install_params *p, install_line_cb line_cb,
                  install_done_cb done_cb, void *userdata, struct hostd_install **ret, char *errbuf,
                  size_t errlen);
/* Kills the process group; done_cb follows with -ECANCELED once the child is reaped. */
void install_cancel(struct hostd_install *i);
/* Frees (kills the group if still running, without calling done_cb). */
struct hostd_install *install_free(struct hostd_install *i);
