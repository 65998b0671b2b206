/* webd's methods on web.sock, for `l4d2ctl web ...` run by root: the admin bootstrap (a
 * first admin without a browser) and the audit log on the command line. docs/web.md lists
 * them. Only root may call them (the socket is the suite's, but accounts are root's). */
#pragma once

#include <stddef.h>

#include "proto/server.h"

extern const struct rpc_method webd_methods[];
extern const size_t webd_n_methods;
