/* A nonblocking A2S_INFO query in the sd-event loop (the codec is svc-host/a2s.h): one UDP
 * socket connected to 127.0.0.1:port, the challenge handshake L4D2 requires, and a short
 * deadline. Used by status and list. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "svc-host/a2s.h"

/* r = 0 and info on success; -ETIMEDOUT, -ECONNREFUSED (nothing listens), -EPROTO or a
 * parser error otherwise. Called exactly once, from the loop (never from a2s_query_start). */
typedef void (*a2s_done_cb)(int r, const struct a2s_info *info, void *userdata);

int a2s_query_start(sd_event *e, uint16_t port, uint64_t timeout_usec, a2s_done_cb cb, void *userdata);
