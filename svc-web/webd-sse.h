/* Server-Sent Events for webd: one generator per streaming response (style.md §C).
 *
 * A route handler calls sse_stream_start(); from then on the stream belongs to the hub:
 * events published to its topic are formatted ("id:", "event:", one "data:" line per
 * line of the payload) into the stream's pending buffer and sent whenever h2o is ready
 * for more (one h2o_send in flight, the next one after proceed()). A comment heartbeat
 * (": ping") goes out after every `heartbeat_ms` of silence, so proxies keep the
 * connection and a dead client is noticed by the write failing.
 *
 * Slow consumers: each stream's unsent bytes are capped at `max_pending`. An event that
 * does not fit is dropped and counted; once the stream has drained, it gets one
 * "event: overflow" whose data is {"dropped": N}, so the page can reload what it missed
 * (or reconnect with Last-Event-ID). Memory per stream is therefore bounded no matter
 * how fast events are published.
 *
 * Lifetime: the stream is allocated from the request's pool. h2o calls stop() when the
 * client goes away and disposes the pool afterwards; both unlink the stream from the hub
 * and its timer, so a publish never touches a dead stream. */
#pragma once

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSE_DEFAULT_HEARTBEAT_MS 15000u
#define SSE_DEFAULT_MAX_PENDING  (256u * 1024u)
#define SSE_MAX_SEND             (64u * 1024u) /* bytes handed to one h2o_send */

/* A plain growable byte buffer (the formatting half is testable without h2o). */
struct sse_buf {
        char *data;
        size_t len, alloc;
};

void sse_buf_done(struct sse_buf *b);
/* Appends one event. id and event may be NULL; CR, LF and NUL in them are dropped (they
 * would end the field). Every line of data (split at LF, CRLF or CR) becomes its own
 * "data:" line. If the result would make b longer than cap (0 = no cap), nothing is
 * appended and -ENOBUFS is returned; -ENOMEM on allocation failure; else the number of
 * bytes appended. */
long sse_format_event(struct sse_buf *b, size_t cap, const char *id, const char *event, const char *data,
                      size_t data_len);
/* Appends a comment line (": text\n\n"), used for heartbeats. Same returns. */
long sse_format_comment(struct sse_buf *b, size_t cap, const char *text);

struct sse_hub {
        h2o_loop_t *loop;
        h2o_linklist_t streams;
        h2o_timeout_t heartbeat;
        uint64_t heartbeat_ms;
        size_t max_pending;
        unsigned n_streams;
        unsigned long long events_dropped; /* over the hub's lifetime */
};

struct sse_stream;

void sse_hub_init(struct sse_hub *hub, h2o_loop_t *loop, uint64_t heartbeat_ms, size_t max_pending);
/* Detaches every stream (none is sent to again) and disposes the timer. */
void sse_hub_done(struct sse_hub *hub);
/* Ends every stream cleanly (graceful stop): what is queued is sent, then the response
 * ends, so the connection can close. */
void sse_hub_close_all(struct sse_hub *hub);

/* Starts an event-stream response on req, subscribed to topic (copied). last_event_id is
 * what the client sent in Last-Event-ID (NULL if none), kept for the caller to replay
 * from. Returns 0 and the stream, or a negative errno (the caller then answers with an
 * error response itself). */
int sse_stream_start(struct sse_hub *hub, h2o_req_t *req, const char *topic, struct sse_stream **ret);
/* The same, recording who opened it (a session's key) and from where, so the caller can
 * cap streams per session and per address with sse_hub_count(). */
int sse_stream_start_for(struct sse_hub *hub, h2o_req_t *req, const char *topic, const char *owner,
                         const char *address, struct sse_stream **ret);
/* Streams open for owner or (||) from address; NULL matches nothing. */
unsigned sse_hub_count(const struct sse_hub *hub, const char *owner, const char *address);
const char *sse_stream_last_event_id(const struct sse_stream *s);

/* Queues one event on one stream. Returns 0, -ENOBUFS if it was dropped (over the cap),
 * or -ESHUTDOWN if the stream has ended. */
int sse_stream_send(struct sse_stream *s, const char *id, const char *event, const char *data,
                    size_t data_len);
/* Ends the stream cleanly after what is queued has been sent. */
void sse_stream_close(struct sse_stream *s);

/* Queues the event on every stream subscribed to topic. Returns how many streams took it. */
unsigned sse_hub_publish(struct sse_hub *hub, const char *topic, const char *id, const char *event,
                         const char *data, size_t data_len);
