/* The h2o-evloop adapter for the loop-agnostic MessagePack-RPC core (proto/server.h),
 * the counterpart of proto/server-sdevent.c for daemons that run h2o's loop (webd). It is
 * in daemon/, not proto/, because it logs (accept failures, refused connections).
 *
 * It accepts on listening AF_UNIX sockets, reads SO_PEERCRED at accept, feeds received
 * bytes to rpc_conn_feed(), writes rpc_conn_output() with one h2o_socket_write in flight
 * at a time, and closes a connection once the core asks for it and its output is out.
 * Idle accounting stays in the core (rpc_server_is_idle / on_idle_changed). */
#pragma once

#include <h2o.h>

#include "proto/server.h"

struct rpc_h2o;

int rpc_h2o_new(h2o_loop_t *loop, struct rpc_server *server, struct rpc_h2o **ret);
/* Closes every connection (their pending calls are abandoned) and the listeners. */
struct rpc_h2o *rpc_h2o_free(struct rpc_h2o *a);

/* Starts accepting on a listening socket; takes ownership of fd (closed on free; never
 * shutdown(), systemd keeps its own copy). */
int rpc_h2o_add_listener(struct rpc_h2o *a, int fd);
/* Stops accepting for good (once we decided to exit we must never accept again). */
void rpc_h2o_stop_listening(struct rpc_h2o *a);
