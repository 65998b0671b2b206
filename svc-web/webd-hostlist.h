/* The host's instances (hostd's instance.list), shared by every page that shows servers.
 *
 * A page view must not cost a hostd call per server, nor one per view under load: the list
 * is asked for once and the answer kept for WEBD_HOSTLIST_TTL_MS; requests that come while
 * a call is out wait for that same call (single flight). The answer is kept as the bytes
 * hostd sent and unpacked once into a zone of its own, so every waiter reads the same
 * objects. A waiter whose client goes away is dropped; the call goes on for the others. */
#pragma once

#include "svc-web/webd-request.h"

#define WEBD_HOSTLIST_TTL_MS 1000u

struct webd_hostlist;

int webd_hostlist_new(struct webd *w, struct webd_hostlist **ret);
void webd_hostlist_free(struct webd_hostlist *l);
/* Calls fn with the list's reply (r->result the array) from the cache or once hostd
 * answers; fresh (for a port choice) skips the cached answer but joins a call in flight.
 * Returns 0, or < 0 without calling fn. */
int webd_hostlist_get(struct webd_rq *rq, bool fresh, webd_rq_reply_fn fn, void *arg);
/* The same for webd's own use (the state feed): a fresh answer, or the call in flight. fn
 * gets r->result (the array), or r->failed. */
int webd_hostlist_refresh(struct webd_hostlist *l, void (*fn)(const struct rpc_core_reply *r, void *arg),
                          void *arg);
/* Forgets the cached answer (after a change on the host that the next page must see). */
void webd_hostlist_invalidate(struct webd_hostlist *l);
/* hostd calls made, and page views answered from the cache or a shared call (the bench). */
void webd_hostlist_stats(const struct webd_hostlist *l, unsigned long long *ret_calls,
                         unsigned long long *ret_shared);
