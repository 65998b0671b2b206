/* The skeleton's binding to h2o's evloop (webd): the loop is h2o's own, and RPC, the
 * signalfd and the idle timer run in it; no sd-event loop runs beside or inside it. */
#pragma once

#include <h2o.h>

#include "daemon/daemon.h"

extern const struct daemon_loop daemon_loop_h2o;

/* The h2o loop of a daemon running daemon_loop_h2o (NULL otherwise). */
h2o_evloop_t *daemon_h2o_loop(struct daemon *d);
/* From teardown: connections h2o cannot close from outside are still open, so the loop
 * must not be destroyed (exit() cleans up). */
void daemon_h2o_keep_loop(struct daemon *d);
