/* One run of a transient service whose output streams into the loop, shared by the overlay
 * builds (hostd-build.h) and the game install (hostd-install.h).
 *
 * unit_run_start() makes two pipes, hands their write ends to the unit as its stdout and
 * stderr (StandardOutputFileDescriptor / StandardErrorFileDescriptor), asks systemd for the
 * unit with StartTransientUnit and reads the read ends, split into lines, as they are
 * written. The run is over once the unit is inactive or failed and both pipes are closed
 * (or, if something the unit left behind keeps them open, a grace period after the unit
 * ended); then done_cb gets the unit's last state: Result, ExecMainCode/ExecMainStatus.
 * A failed unit is reset (collected) after that; the caller's props set CollectMode=inactive
 * so a successful one goes by itself. Cancelling stops the unit (StopUnit: systemd's
 * SIGTERM, then SIGKILL, to the whole cgroup).
 *
 * The state comes from the unit's PropertiesChanged signals, a GetAll when they say
 * something changed, and a slow timer as the fallback (the signals die with the bus
 * connection). Nothing here blocks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "proto/rpc.h"
#include "svc-host/hostd-systemd.h"

enum { UNIT_RUN_STDOUT, UNIT_RUN_STDERR, _UNIT_RUN_STREAMS };

/* "stdout", "stderr". */
const char *unit_run_stream_name(unsigned stream);

struct unit_run;

/* Appends the unit's properties (complete (sv) entries, like unit_props_cb) with stdout_fd
 * and stderr_fd as its stdout and stderr. */
typedef int (*unit_run_props_cb)(sd_bus_message *m, int stdout_fd, int stderr_fd, void *userdata);

struct unit_run_params {
        sd_event *event;
        struct hostd_bus *bus;
        const char *unit;
        unit_run_props_cb props;
        void *props_userdata; /* used only inside unit_run_start() */
        /* > 0: stop the unit if it still runs this long after the start (a backstop to the
         * unit's own RuntimeMaxSec=, which systemd enforces). */
        uint64_t deadline_usec;
};

/* stream: UNIT_RUN_STDOUT or UNIT_RUN_STDERR; line without its newline. */
typedef void (*unit_run_line_cb)(unsigned stream, const char *line, void *userdata);
/* r < 0: the unit could not be run (message says why; -EEXIST: the name is taken, -ENOTCONN
 * and friends: systemd is unreachable, -ENOENT: a unit it requires did not start); st is NULL. r = 0: it
 * ran, st is its last state (result, exec_main_code, exec_main_status; a unit collected before hostd looked
 * reads as result "success", exited 0) and cancelled says whether unit_run_cancel() stopped it. */
typedef void (*unit_run_done_cb)(int r, const struct unit_status *st, bool cancelled, const char *message,
                                 void *userdata);

/* Starts the unit. Errors before anything runs fill e (unavailable: systemd unreachable;
 * internal). On success done_cb is called exactly once later, never from inside this. */
int unit_run_start(const struct unit_run_params *p, unit_run_line_cb line_cb, unit_run_done_cb done_cb,
                   void *userdata, struct unit_run **ret, struct rpc_error *e);
/* Stops the unit; done_cb follows with cancelled = true once it is inactive. */
void unit_run_cancel(struct unit_run *u);
/* Frees without calling done_cb; a unit still running is asked to stop. */
struct unit_run *unit_run_free(struct unit_run *u);
const char *unit_run_unit(const struct unit_run *u);
