/* The h2o-evloop adapter for the loop-agnostic MessagePack-RPC core (proto/server.h),
 * the counterpart of proto/server-sdevent.c for webd, which runs h2o's loop instead of
 * sd-event.
 *
 * It accepts on listening AF_UNIX sockets, reads SO_PEERCRED at accept, feeds received
 * bytes to rpc_conn_feed(), writes rpc_conn_output() with one h2o_socket_write in flight
 * at a time, and closes a connection once the core asks for it and its output is out.
 * Idle accounting stays in the core (rpc_server_is_idle / on_idle_changed). */
#pragma once

#include <h2o.h>

#include "proto/server.h"

struct webd_rpc;

int webd_rpc_new(h2o_loop_t *loop, struct rpc_server *server, struct webd_rpc **ret);
/* Closes every connection (their pending calls are abandoned) and the listeners. */
struct webd_rpc *webd_rpc_free(struct webd_rpc *a);

/* Starts accepting on a listening socket; takes ownership of fd (closed on free; never
 * shutdown(), systemd keeps its own copy). */
int webd_rpc_add_listener(struct webd_rpc *a, int fd);
/* Stops accepting for good (once we decided to exit we must never accept again). */
void webd_rpc_stop_listening(struct webd_rpc *a);
