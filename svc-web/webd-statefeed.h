/* Server states, pushed: the badges of the server list and of a server's page change when
 * the host's state does, without the page polling.
 *
 * Streams join the feed of their user (an admin's: every server). While any stream is in
 * it, webd asks hostd for instance.list every WEBD_STATEFEED_MS (the shared, single-flight
 * call of webd-hostlist.h: one call for all streams, and the pages' own views use the same
 * answer) and sends each stream a "servers" event, {"servers": [{id, instance, state,
 * text}]} of the servers its user sees, when that differs from what it sent last. A page
 * carries this on the one stream it already has (the journal on a server's page), or on
 * /servers/events for the list. */
#pragma once

#include "svc-web/webd-request.h"

#define WEBD_STATEFEED_MS 2000u

struct webd_statefeed;
struct sse_stream;

int webd_statefeed_new(struct webd *w, struct webd_statefeed **ret);
void webd_statefeed_free(struct webd_statefeed *f);
/* Adds stream s (started for rq) to rq's user's feed; the first event comes at once when the
 * host's list is at hand. -ENOMEM. */
int webd_statefeed_join(struct webd_rq *rq, struct sse_stream *s);
unsigned webd_statefeed_streams(const struct webd_statefeed *f);
