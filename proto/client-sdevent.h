/* sd-event adapter for proto/client-core.h: one non-blocking AF_UNIX connection inside an
 * sd-event loop. jobd calls hostd through it, logd calls jobd. Calls, cancels and their
 * callbacks are the core's (rpc_sdclient_core()); this adapter only connects, reads, writes,
 * and turns socket failures into the core's transport errors. */
#pragma once

#include <systemd/sd-event.h>

#include "proto/client-core.h"

struct rpc_sdclient;

/* Connects to path without blocking: -ENOENT/-ECONNREFUSED/-EACCES at once if nobody listens
 * or we may not; a full backlog is waited for in the loop (calls queue meanwhile). cfg may
 * be NULL (the core's defaults). */
int rpc_sdclient_new(sd_event *e, const char *path, const struct rpc_core_config *cfg,
                     struct rpc_sdclient **ret);
/* Closes the connection (the server sees the client gone and abandons its calls) and drops
 * pending calls without calling back. Safe from inside the core's callbacks. */
struct rpc_sdclient *rpc_sdclient_free(struct rpc_sdclient *c);
void rpc_sdclient_freep(struct rpc_sdclient **c);
/* The core, to start, cancel or forget calls on. NULL once freed. */
struct rpc_core *rpc_sdclient_core(struct rpc_sdclient *c);
