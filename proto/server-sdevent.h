/* sd-event adapter for proto/server.h: listens on the passed sockets, accepts, reads,
 * writes, and runs the idle-exit timer. */
#pragma once

#include <systemd/sd-event.h>

#include "proto/server.h"

struct rpc_sdevent;

/* Wraps server in the loop. idle_exit_usec = 0 disables idle exit; when it fires the
 * loop is exited with code 0. The adapter installs itself as the server's idle hook. */
int rpc_sdevent_new(sd_event *e, struct rpc_server *server, uint64_t idle_exit_usec,
                    struct rpc_sdevent **ret);
struct rpc_sdevent *rpc_sdevent_free(struct rpc_sdevent *a);
/* Starts accepting on a listening socket (takes ownership of fd). */
int rpc_sdevent_add_listener(struct rpc_sdevent *a, int fd);
/* Stops accepting (once we decided to exit we must never accept again). */
void rpc_sdevent_stop_listening(struct rpc_sdevent *a);
