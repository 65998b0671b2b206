/* The h2o-evloop adapter for the client core (proto/client-core.h): webd's connection to
 * jobd, logd or hostd, the counterpart of proto/client-sdevent.c for a daemon that runs h2o's
 * loop. Calls, streams, cancels and their callbacks are the core's (webd_client_core()); this
 * adapter connects, reads, writes with one h2o_socket_write in flight, and turns socket
 * failures into the core's transport errors. It depends only on h2o's evloop API. */
#pragma once

#include <h2o.h>

#include "proto/client-core.h"

struct webd_client;

/* Connects to the AF_UNIX socket at path without blocking: -ENOENT/-ECONNREFUSED/-EACCES if
 * nobody listens or we may not, -EAGAIN if its backlog is full (try again later). cfg may be
 * NULL (the core's defaults). */
int webd_client_new(h2o_loop_t *loop, const char *path, const struct rpc_core_config *cfg,
                    struct webd_client **ret);
/* Closes the connection (the server abandons its calls) and drops pending calls without
 * calling back. Safe from inside the core's callbacks. */
struct webd_client *webd_client_free(struct webd_client *c);
void webd_client_freep(struct webd_client **c);
/* The core, to start, cancel or forget calls on. NULL once freed. */
struct rpc_core *webd_client_core(struct webd_client *c);
