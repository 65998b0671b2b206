/* See webd-sse.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "svc-web/webd-sse.h"

#define SSE_ID_MAX 256 /* Last-Event-ID bytes we keep */

struct sse_stream {
        h2o_generator_t super; /* first: h2o hands us &super */
        struct sse_hub *hub;
        h2o_req_t *req;
        h2o_linklist_t link; /* in hub->streams while attached */
        h2o_timeout_entry_t heartbeat;
        struct sse_buf pending;     /* formatted, not yet handed to h2o */
        struct sse_buf inflight;    /* handed to h2o_send, waiting for proceed() */
        char *topic;                /* from req->pool */
        char *last_event_id;        /* from req->pool, or NULL */
        const char *owner;          /* who opened it (for per-session caps), from req->pool */
        const char *address;        /* the client's address (per-address caps), from req->pool */
        unsigned long long dropped; /* events dropped since the last overflow notice */
        bool sending;               /* an h2o_send is in flight */
        bool closing;               /* send FINAL once everything is out */
        bool done;                  /* FINAL sent, or h2o stopped us */
        h2o_socket_t *sock;         /* watched for the client's EOF, or NULL */
        h2o_linklist_t watch_link;  /* in `watched` while sock is */
};

/* h2o 2.2's HTTP/1 stops reading while it answers a request, so a client that closes an
 * event stream is noticed only when a write fails (two heartbeats later), and its stream
 * holds a slot of the per-session cap until then: a user who navigates quickly runs out.
 * So each stream reads its socket itself for the EOF. h2o gives the read callback only the
 * socket, hence this list to find the stream by it. */
static h2o_linklist_t watched = {&watched, &watched};
#define SSE_CLIENT_JUNK_MAX 4096u /* bytes a client may send on an event stream */

/* ---- formatting ---------------------------------------------------------------------- */

void sse_buf_done(struct sse_buf *b) {
        free(b->data);
        *b = (struct sse_buf){};
}

static int buf_reserve(struct sse_buf *b, size_t extra) {
        size_t a;
        char *d;

        if (b->len + extra <= b->alloc)
                return 0;
        a = b->alloc ? b->alloc : 1024;
        while (a < b->len + extra)
                a *= 2;
        d = realloc(b->data, a);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->alloc = a;
        return 0;
}

static void buf_put(struct sse_buf *b, const char *s, size_t n) {
        /* Space was reserved by the caller. */
        memcpy(b->data + b->len, s, n);
        b->len += n;
}

/* Writes a field value with CR, LF and NUL removed; returns the bytes written. */
static void buf_put_field(struct sse_buf *b, const char *s) {
        for (; *s; s++)
                if (*s != '\r' && *s != '\n')
                        b->data[b->len++] = *s;
}

static size_t field_len(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (*s != '\r' && *s != '\n')
                        n++;
        return n;
}

long sse_format_event(struct sse_buf *b, size_t cap, const char *id, const char *event, const char *data,
                      size_t data_len) {
        size_t need = 1, lines = 1, old = b->len; /* the blank line ending the event */
        int r;

        /* Count first, so the cap decision is made before anything is written. */
        if (id)
                need += STRLEN("id: \n") + field_len(id);
        if (event)
                need += STRLEN("event: \n") + field_len(event);
        for (size_t i = 0; i < data_len; i++)
                if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= data_len || data[i + 1] != '\n')))
                        lines++;
        need += lines * STRLEN("data: \n") + data_len; /* line breaks are replaced, not added */

        if (cap > 0 && b->len + need > cap)
                return -ENOBUFS;
        r = buf_reserve(b, need);
        if (r < 0)
                return r;

        if (id) {
                buf_put(b, "id: ", 4);
                buf_put_field(b, id);
                buf_put(b, "\n", 1);
        }
        if (event) {
                buf_put(b, "event: ", 7);
                buf_put_field(b, event);
                buf_put(b, "\n", 1);
        }
        buf_put(b, "data: ", 6);
        for (size_t i = 0; i < data_len; i++) {
                char c = data[i];

                if (c == '\r' && i + 1 < data_len && data[i + 1] == '\n')
                        continue; /* the LF that follows ends the line */
                if (c == '\r' || c == '\n')
                        buf_put(b, "\ndata: ", 7);
                else if (c == '\0')
                        buf_put(b, " ", 1); /* a NUL would be passed through as U+0000 */
                else
                        b->data[b->len++] = c;
        }
        buf_put(b, "\n\n", 2);
        return (long) (b->len - old);
}

long sse_format_comment(struct sse_buf *b, size_t cap, const char *text) {
        size_t need = STRLEN(": \n\n") + field_len(text), old = b->len;
        int r;

        if (cap > 0 && b->len + need > cap)
                return -ENOBUFS;
        r = buf_reserve(b, need);
        if (r < 0)
                return r;
        buf_put(b, ": ", 2);
        buf_put_field(b, text);
        buf_put(b, "\n\n", 2);
        return (long) (b->len - old);
}

/* ---- streams ------------------------------------------------------------------------- */

static void unwatch(struct sse_stream *s) {
        if (h2o_linklist_is_linked(&s->watch_link))
                h2o_linklist_unlink(&s->watch_link);
}

static void stream_detach(struct sse_stream *s) {
        if (h2o_linklist_is_linked(&s->link)) {
                h2o_linklist_unlink(&s->link);
                s->hub->n_streams--;
        }
        if (h2o_timeout_is_linked(&s->heartbeat))
                h2o_timeout_unlink(&s->heartbeat);
}

static void stream_rearm_heartbeat(struct sse_stream *s) {
        if (s->done)
                return;
        if (h2o_timeout_is_linked(&s->heartbeat))
                h2o_timeout_unlink(&s->heartbeat);
        h2o_timeout_link(s->hub->loop, &s->hub->heartbeat, &s->heartbeat);
}

/* Hands the next chunk to h2o if none is in flight. Called after queueing and from
 * proceed(). Never sends an empty IN_PROGRESS chunk (h2o forbids it). */
static void stream_flush(struct sse_stream *s) {
        struct sse_buf t;
        h2o_iovec_t vec;

        if (s->done || s->sending)
                return;
        if (s->inflight.len == 0) {
                if (s->pending.len == 0 && s->dropped > 0) {
                        char data[64];
                        int n = snprintf(data, sizeof(data), "{\"dropped\":%llu}", s->dropped);

                        /* No cap: this one notice must get through, and it is small. */
                        if (sse_format_event(&s->pending, 0, NULL, "overflow", data, (size_t) n) >= 0)
                                s->dropped = 0;
                }
                /* Swap: what was pending is now in flight; the old in-flight memory is
                 * reused for the next pending bytes. */
                t = s->inflight;
                s->inflight = s->pending;
                s->pending = t;
                s->pending.len = 0;
        }
        if (s->inflight.len == 0) {
                if (s->closing) {
                        s->done = true;
                        stream_detach(s);
                        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_FINAL);
                }
                return;
        }
        vec = h2o_iovec_init(s->inflight.data, s->inflight.len);
        s->sending = true;
        if (s->closing && s->pending.len == 0 && s->dropped == 0) {
                s->done = true;
                stream_detach(s);
                h2o_send(s->req, &vec, 1, H2O_SEND_STATE_FINAL);
                return;
        }
        h2o_send(s->req, &vec, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* The client closed its end (or sends what an event stream never should): end the stream;
 * the final write fails and h2o closes the connection, which frees the request. */
static void on_client_read(h2o_socket_t *sock, const char *err) {
        struct sse_stream *s = NULL;

        for (h2o_linklist_t *l = watched.next; l != &watched; l = l->next) {
                struct sse_stream *x = H2O_STRUCT_FROM_MEMBER(struct sse_stream, watch_link, l);
                if (x->sock == sock) {
                        s = x;
                        break;
                }
        }
        if (!s) {
                h2o_socket_read_stop(sock);
                return;
        }
        if (!err && sock->input->size <= SSE_CLIENT_JUNK_MAX)
                return;
        h2o_socket_read_stop(sock);
        unwatch(s);
        s->sock = NULL;
        if (s->done)
                return;
        stream_detach(s);
        s->closing = true;
        s->pending.len = 0;
        s->dropped = 0;
        stream_flush(s);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req) {
        struct sse_stream *s = (struct sse_stream *) g;

        s->sending = false;
        s->inflight.len = 0;
        stream_flush(s);
}

/* The client went away or the request is being torn down: never send again. */
static void on_stop(h2o_generator_t *g, h2o_req_t *req) {
        struct sse_stream *s = (struct sse_stream *) g;

        s->done = true;
        stream_detach(s);
        unwatch(s);
}

static void on_dispose(void *p) {
        struct sse_stream *s = p;

        s->done = true;
        stream_detach(s);
        unwatch(s);
        sse_buf_done(&s->pending);
        sse_buf_done(&s->inflight);
}

static void on_heartbeat(h2o_timeout_entry_t *entry) {
        struct sse_stream *s = H2O_STRUCT_FROM_MEMBER(struct sse_stream, heartbeat, entry);

        /* A heartbeat that does not fit means the client is far behind already; the cap
         * handling will tell it. Either way, try again after the next interval. */
        (void) sse_format_comment(&s->pending, s->hub->max_pending, "ping");
        stream_flush(s);
        stream_rearm_heartbeat(s);
}

unsigned sse_hub_count(const struct sse_hub *hub, const char *owner, const char *address) {
        unsigned n = 0;

        for (h2o_linklist_t *l = hub->streams.next; l != &hub->streams; l = l->next) {
                const struct sse_stream *s = H2O_STRUCT_FROM_MEMBER(struct sse_stream, link, l);

                if ((owner && s->owner && streq(owner, s->owner)) ||
                    (address && s->address && streq(address, s->address)))
                        n++;
        }
        return n;
}

int sse_stream_start(struct sse_hub *hub, h2o_req_t *req, const char *topic, struct sse_stream **ret) {
        return sse_stream_start_for(hub, req, topic, NULL, NULL, ret);
}

int sse_stream_start_for(struct sse_hub *hub, h2o_req_t *req, const char *topic, const char *owner,
                         const char *address, struct sse_stream **ret) {
        struct sse_stream *s;
        ssize_t i;

        s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), on_dispose);
        *s = (struct sse_stream){
                .super = {.proceed = on_proceed, .stop = on_stop},
                .hub = hub,
                .req = req,
                .heartbeat = {.cb = on_heartbeat},
        };
        s->topic = h2o_strdup(&req->pool, topic, SIZE_MAX).base;
        if (owner)
                s->owner = h2o_strdup(&req->pool, owner, SIZE_MAX).base;
        if (address)
                s->address = h2o_strdup(&req->pool, address, SIZE_MAX).base;
        i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
        if (i >= 0) {
                h2o_iovec_t v = req->headers.entries[i].value;
                s->last_event_id = h2o_strdup(&req->pool, v.base, MIN(v.len, (size_t) SSE_ID_MAX)).base;
        }

        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/event-stream; charset=utf-8"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-cache, no-store"));
        /* Reverse proxies (nginx) must not buffer the stream. */
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL,
                              H2O_STRLIT("no"));
        h2o_start_response(req, &s->super);

        h2o_linklist_insert(&hub->streams, &s->link);
        hub->n_streams++;

        /* The first bytes send the headers; "retry:" tells EventSource how long to wait
         * before reconnecting after we went away (an idle exit, a restart). */
        if (buf_reserve(&s->pending, 16) == 0)
                buf_put(&s->pending, "retry: 2000\n\n", 13);
        stream_flush(s);
        stream_rearm_heartbeat(s);
        if (req->conn && req->conn->callbacks->get_socket)
                s->sock = req->conn->callbacks->get_socket(req->conn);
        if (s->sock && !s->done) {
                h2o_linklist_insert(&watched, &s->watch_link);
                h2o_socket_read_start(s->sock, on_client_read);
        }
        if (ret)
                *ret = s;
        return 0;
}

const char *sse_stream_last_event_id(const struct sse_stream *s) {
        return s->last_event_id;
}

int sse_stream_send(struct sse_stream *s, const char *id, const char *event, const char *data,
                    size_t data_len) {
        long r;

        if (s->done || s->closing)
                return -ESHUTDOWN;
        r = sse_format_event(&s->pending, s->hub->max_pending, id, event, data, data_len);
        if (r < 0) {
                s->dropped++;
                s->hub->events_dropped++;
                return -ENOBUFS;
        }
        stream_flush(s);
        stream_rearm_heartbeat(s);
        return 0;
}

void sse_stream_close(struct sse_stream *s) {
        if (s->done || s->closing)
                return;
        s->closing = true;
        stream_flush(s);
}

/* ---- hub ----------------------------------------------------------------------------- */

void sse_hub_init(struct sse_hub *hub, h2o_loop_t *loop, uint64_t heartbeat_ms, size_t max_pending) {
        *hub = (struct sse_hub){
                .loop = loop,
                .heartbeat_ms = heartbeat_ms ? heartbeat_ms : SSE_DEFAULT_HEARTBEAT_MS,
                .max_pending = max_pending ? max_pending : SSE_DEFAULT_MAX_PENDING,
        };
        h2o_linklist_init_anchor(&hub->streams);
        h2o_timeout_init(loop, &hub->heartbeat, hub->heartbeat_ms);
}

void sse_hub_done(struct sse_hub *hub) {
        while (!h2o_linklist_is_empty(&hub->streams)) {
                struct sse_stream *s = H2O_STRUCT_FROM_MEMBER(struct sse_stream, link, hub->streams.next);

                stream_detach(s);
                s->done = true;
        }
        h2o_timeout_dispose(hub->loop, &hub->heartbeat);
}

void sse_hub_close_all(struct sse_hub *hub) {
        h2o_linklist_t *l, *next;

        for (l = hub->streams.next; l != &hub->streams; l = next) {
                next = l->next;
                sse_stream_close(H2O_STRUCT_FROM_MEMBER(struct sse_stream, link, l));
        }
}

unsigned sse_hub_publish(struct sse_hub *hub, const char *topic, const char *id, const char *event,
                         const char *data, size_t data_len) {
        unsigned n = 0;
        h2o_linklist_t *l, *next;

        /* sse_stream_send may end a stream (FINAL) and unlink it: walk with a saved next. */
        for (l = hub->streams.next; l != &hub->streams; l = next) {
                struct sse_stream *s = H2O_STRUCT_FROM_MEMBER(struct sse_stream, link, l);

                next = l->next;
                if (!streq(s->topic, topic))
                        continue;
                if (sse_stream_send(s, id, event, data, data_len) == 0)
                        n++;
        }
        return n;
}
