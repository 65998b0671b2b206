/* The game install: steamcmd in transient units of its own, as user left4me-steam, its output
 * streamed line by line into the event loop (hostd-unitrun.h).
 *
 * An install is three steps, each a unit left4me-install-<n>-<step>.service under the sandbox
 * of hostd-steamcmd.h, run one after the other: steamcmd forcing the windows and then the
 * linux platform payload (app 222860 is no longer installable with the linux platform alone,
 * see anchors.md §3.3), then the links ~left4me-steam/.steam/sdk32|sdk64/steamclient.so.
 * hostd itself writes the step markers between them, so a line steamcmd prints can never
 * pass for one. A step that fails ends the install. Cancelling stops the running unit
 * (systemd kills its whole cgroup). hostd itself needs neither the network nor the 32-bit
 * system calls for this; the units have them. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "svc-host/hostd-lines.h"
#include "svc-host/hostd-steamcmd.h"
#include "svc-host/hostd-systemd.h"

#define STEAM_APP_ID "222860"

struct hostd_install;

struct install_params {
        sd_event *event;
        struct hostd_bus *bus;
        const char *steamcmd; /* absolute path (steamcmd.sh derives its root from $0) */
        const char *root;     /* <root>/installation is the install dir */
        const char *user;     /* run as this user (INSTALL_USER) */
        unsigned long long n; /* the run number in the unit names */
};

/* stream is "stdout", "stderr" or "step"; line has no newline and is NUL-terminated. */
typedef void (*install_line_cb)(const char *stream, const char *line, void *userdata);
/* r = 0 success; -ECANCELED cancelled; -EEXIST a unit name was taken; other < 0 failure,
 * message says why. */
typedef void (*install_done_cb)(int r, const char *message, void *userdata);

/* Starts the first step. Errors before it runs: -ENOENT (steamcmd missing: message), -ESRCH
 * (no such user), -ENOTCONN and friends (systemd unreachable), others. On success done_cb is
 * called exactly once later, never from inside install_start. */
int install_start(const struct install_params *p, install_line_cb line_cb, install_done_cb done_cb,
                  void *userdata, struct hostd_install **ret, char *errbuf, size_t errlen);
/* Stops the running step's unit; done_cb follows with -ECANCELED once it is inactive. */
void install_cancel(struct hostd_install *i);
/* Frees (a unit still running is asked to stop) without calling done_cb. */
struct hostd_install *install_free(struct hostd_install *i);
/* The unit of the step running now ("" before the first and after the last). */
const char *install_unit(const struct hostd_install *i);
