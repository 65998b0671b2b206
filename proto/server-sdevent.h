/* sd-event adapter for proto/server.h: listens on the passed sockets, accepts, reads and
 * writes. Idle exit is the daemon skeleton's (daemon/daemon.c), not the transport's. */
#pragma once

#include <systemd/sd-event.h>

#include "proto/server.h"

struct rpc_sdevent;

/* Wraps server in the loop. */
int rpc_sdevent_new(sd_event *e, struct rpc_server *server, struct rpc_sdevent **ret);
struct rpc_sdevent *rpc_sdevent_free(struct rpc_sdevent *a);
/* Starts accepting on a listening socket (takes ownership of fd). */
int rpc_sdevent_add_listener(struct rpc_sdevent *a, int fd);
/* Stops accepting (once we decided to exit we must never accept again). */
void rpc_sdevent_stop_listening(struct rpc_sdevent *a);
