/* See webd-http.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-sse.h"

#define HTTP_ACCEPT_RETRY_MS 100
#define HTTP_ACCEPT_BURST    16

/* The h2o handler that runs our route table: h2o hands us &super. */
struct webd_handler {
        h2o_handler_t super;
        struct webd *w;
};

/* ---- response helpers ---------------------------------------------------------------- */

static void add_common_headers(h2o_req_t *req) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                              H2O_STRLIT("nosniff"));
}

int webd_send_text(h2o_req_t *req, int status, const char *reason, const char *content_type,
                   const char *body, size_t len) {
        req->res.status = status;
        req->res.reason = reason;
        /* h2o keeps a pointer to header values: copy into the request's pool. */
        h2o_iovec_t ct = h2o_strdup(&req->pool, content_type, SIZE_MAX);

        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct.base, ct.len);
        add_common_headers(req);
        /* h2o_send_inline copies the body into the request's pool. */
        h2o_send_inline(req, body, len);
        return 0;
}

int webd_send_json(h2o_req_t *req, int status, const char *reason, struct json *j) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        if (json_ok(j))
                text = json_steal(j, &len);
        json_done(j);
        if (!text) {
                static const char oops[] =
                        "{\"error\":{\"code\":\"internal\",\"message\":\"response too large\"}}";
                return webd_send_text(req, 500, "Internal Server Error", "application/json", oops,
                                      STRLEN(oops));
        }
        req->res.content_length = len;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        return webd_send_text(req, status, reason, "application/json", text, len);
}

int webd_send_error(h2o_req_t *req, int status, const char *reason, const char *code, const char *fmt, ...) {
        struct json j;
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_key(&j, "error");
        json_object_begin(&j);
        json_kv_str(&j, "code", code);
        json_kv_str(&j, "message", msg);
        json_object_end(&j);
        json_object_end(&j);
        return webd_send_json(req, status, reason, &j);
}

/* ---- routes -------------------------------------------------------------------------- */

/* GET /health: for load balancers, the e2e tests and `curl`. Cheap: no I/O. */
static int route_health(struct webd *w, h2o_req_t *req) {
        struct json j;

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_kv_str(&j, "status", "ok");
        json_kv_str(&j, "service", WEBD_NAME);
        json_kv_str(&j, "version", LEFT4ME_VERSION);
        json_object_end(&j);
        return webd_send_json(req, 200, "OK", &j);
}

/* GET /: a placeholder until the web UI lands. */
static int route_index(struct webd *w, h2o_req_t *req) {
        static const char page[] =
                "<!doctype html>\n"
                "<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<link rel=\"stylesheet\" href=\"/static/left4me.css\"><title>left4me</title></head>\n"
                "<body><h1>left4me</h1><p>" WEBD_NAME " " LEFT4ME_VERSION
                " is running. See <a href=\"/health\">/health</a>.</p></body></html>\n";

        return webd_send_text(req, 200, "OK", "text/html; charset=utf-8", page, STRLEN(page));
}

/* GET /events: the "sys" event stream. Today it says hello and sends heartbeats; the web
 * UI's streams (server state, job output, logs) are further topics on the same hub. */
static int route_events(struct webd *w, h2o_req_t *req) {
        struct sse_stream *s;
        struct json j;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r;

        r = sse_stream_start(&w->sse, req, "sys", &s);
        if (r < 0)
                return webd_send_error(req, 503, "Service Unavailable", "unavailable",
                                       "cannot start event stream");

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_kv_str(&j, "service", WEBD_NAME);
        json_kv_str(&j, "version", LEFT4ME_VERSION);
        json_object_end(&j);
        if (json_ok(&j))
                data = json_steal(&j, &len);
        json_done(&j);
        if (data)
                (void) sse_stream_send(s, NULL, "hello", data, len);
        return 0;
}

static const struct webd_route routes[] = {
        {"GET", "/", route_index},
        {"GET", "/health", route_health},
        {"GET", "/events", route_events},
};

const struct webd_route *webd_route_find(const struct webd_route *table, size_t n, const char *method,
                                         size_t method_len, const char *path, size_t path_len,
                                         bool *ret_path_known) {
        bool known = false;

        for (size_t i = 0; i < n; i++) {
                const struct webd_route *r = &table[i];
                size_t pl = strlen(r->path);
                bool match;

                if (pl > 1 && r->path[pl - 1] == '/')
                        match = path_len >= pl && memcmp(path, r->path, pl) == 0;
                else
                        match = path_len == pl && memcmp(path, r->path, pl) == 0;
                if (!match)
                        continue;
                known = true;
                if ((method_len == strlen(r->method) && memcmp(method, r->method, method_len) == 0) ||
                    (streq(r->method, "GET") && method_len == 4 && memcmp(method, "HEAD", 4) == 0)) {
                        if (ret_path_known)
                                *ret_path_known = true;
                        return r;
                }
        }
        if (ret_path_known)
                *ret_path_known = known;
        return NULL;
}

/* Builds the Allow header for a path that exists under other methods. */
static void add_allow_header(h2o_req_t *req, const char *path, size_t path_len) {
        char allow[128] = "";
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                bool known = false;
                const struct webd_route *r = webd_route_find(
                        &routes[i], 1, routes[i].method, strlen(routes[i].method), path, path_len, &known);
                if (!r)
                        continue;
                n += (size_t) snprintf(allow + n, sizeof(allow) - MIN(n, sizeof(allow)), "%s%s",
                                       n ? ", " : "", r->method);
                if (n >= sizeof(allow))
                        break;
        }
        if (n > 0 && n < sizeof(allow)) {
                /* h2o keeps a pointer to header values: the value must live in the pool. */
                h2o_iovec_t v = h2o_strdup(&req->pool, allow, n);
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, v.base, v.len);
        }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
        struct webd *w = ((struct webd_handler *) self)->w;
        const struct webd_route *r;
        h2o_iovec_t path = req->path_normalized;
        bool known = false;

        r = webd_route_find(routes, ELEMENTSOF(routes), req->method.base, req->method.len, path.base,
                            path.len, &known);
        if (r)
                return r->handler(w, req) < 0 ? -1 : 0;
        if (known) {
                add_allow_header(req, path.base, path.len);
                return webd_send_error(req, 405, "Method Not Allowed", "invalid", "method not allowed");
        }
        /* The path is the client's: JSON-escaped by the writer, and capped. */
        return webd_send_error(req, 404, "Not Found", "not_found", "no such page: '%.*s'",
                               (int) MIN(path.len, 200u), path.base);
}

/* ---- listeners and connection counting ----------------------------------------------- */

static void on_http_accept(h2o_socket_t *listener, const char *err);

static void http_set_accepting(struct webd *w, bool on) {
        if (on == w->http_accepting)
                return;
        w->http_accepting = on;
        for (size_t i = 0; i < w->n_http_listeners; i++) {
                if (on)
                        h2o_socket_read_start(w->http_listeners[i], on_http_accept);
                else
                        h2o_socket_read_stop(w->http_listeners[i]);
        }
}

static void http_resume_accepting(struct webd *w) {
        if (w->exiting || w->http_conns >= w->http_conns_max ||
            h2o_timeout_is_linked(&w->http_accept_retry_entry))
                return;
        http_set_accepting(w, true);
}

/* Runs when h2o has disposed a connection's socket (keep-alive timeout, client gone,
 * response done with Connection: close). */
static void on_http_conn_close(void *data) {
        struct webd *w = data;

        w->http_conns--;
        http_resume_accepting(w);
        webd_idle_check(w);
}

static void on_http_accept(h2o_socket_t *listener, const char *err) {
        struct webd *w = listener->data;

        if (err || w->exiting)
                return;
        for (unsigned i = 0; i < HTTP_ACCEPT_BURST; i++) {
                h2o_socket_t *sock = h2o_evloop_socket_accept(listener);

                if (!sock) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                log_warning_errno(-errno, "http: cannot accept: %m; pausing for %d ms",
                                                  HTTP_ACCEPT_RETRY_MS);
                                http_set_accepting(w, false);
                                h2o_timeout_link(w->loop, &w->http_accept_retry,
                                                 &w->http_accept_retry_entry);
                        }
                        break;
                }
                w->http_conns++;
                w->http_conns_total++;
                /* Set before h2o_accept: h2o's own server counts connections the same way. */
                sock->on_close.cb = on_http_conn_close;
                sock->on_close.data = w;
                h2o_accept(&w->accept_ctx, sock);
                if (w->http_conns >= w->http_conns_max) {
                        log_notice("http: %u connections open, not accepting more until one closes",
                                   w->http_conns);
                        http_set_accepting(w, false);
                        break;
                }
        }
        webd_idle_check(w);
}

static void on_http_accept_retry(h2o_timeout_entry_t *entry) {
        struct webd *w = H2O_STRUCT_FROM_MEMBER(struct webd, http_accept_retry_entry, entry);

        http_resume_accepting(w);
}

int webd_http_add_listener(struct webd *w, int fd) {
        h2o_socket_t *sock;

        if (w->n_http_listeners >= ELEMENTSOF(w->http_listeners)) {
                safe_close(fd);
                return log_error_errno(-E2BIG, "Too many HTTP sockets passed.");
        }
        sock = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        sock->data = w;
        w->http_listeners[w->n_http_listeners++] = sock;
        if (w->http_accepting)
                h2o_socket_read_start(sock, on_http_accept);
        return 0;
}

void webd_http_stop_listening(struct webd *w) {
        http_set_accepting(w, false);
        if (h2o_timeout_is_linked(&w->http_accept_retry_entry))
                h2o_timeout_unlink(&w->http_accept_retry_entry);
}

/* ---- set-up -------------------------------------------------------------------------- */

int webd_http_init(struct webd *w) {
        h2o_hostconf_t *hostconf;
        h2o_pathconf_t *pathconf;
        struct webd_handler *h;

        h2o_config_init(&w->globalconf);
        w->globalconf.server_name = h2o_iovec_init(H2O_STRLIT(WEBD_NAME));
        /* Requests carry forms at most; the config's message limit is generous for them. */
        w->globalconf.max_request_entity_size = w->config->max_message_bytes;
        hostconf = h2o_config_register_host(&w->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);

        /* h2o picks the first registered path that matches, so /static/ goes first. */
        pathconf = h2o_config_register_path(hostconf, "/static/", 0);
        h2o_file_register(pathconf, w->web_dir, NULL, NULL, 0);

        pathconf = h2o_config_register_path(hostconf, "/", 0);
        h = (struct webd_handler *) h2o_create_handler(pathconf, sizeof(*h));
        h->super.on_req = on_req;
        h->w = w;

        h2o_context_init(&w->ctx, w->loop, &w->globalconf);
        w->accept_ctx.ctx = &w->ctx;
        w->accept_ctx.hosts = w->globalconf.hosts;

        w->http_conns_max = w->config->max_connections ? w->config->max_connections : 64;
        h2o_timeout_init(w->loop, &w->http_accept_retry, HTTP_ACCEPT_RETRY_MS);
        w->http_accept_retry_entry.cb = on_http_accept_retry;
        w->http_accepting = true;

        sse_hub_init(&w->sse, w->loop,
                     w->opts.sse_heartbeat_sec > 0 ? (uint64_t) w->opts.sse_heartbeat_sec * 1000u : 0, 0);
        w->http_initialized = true;
        return 0;
}

void webd_http_done(struct webd *w) {
        if (!w->http_initialized)
                return;
        webd_http_stop_listening(w);
        sse_hub_done(&w->sse);
        /* Our copies of the listening fds; systemd keeps its own, we never shutdown(). */
        for (size_t i = 0; i < w->n_http_listeners; i++)
                h2o_socket_close(w->http_listeners[i]);
        w->n_http_listeners = 0;
        h2o_timeout_dispose(w->loop, &w->http_accept_retry);
        /* h2o_context_request_shutdown() (webd_stop) links HTTP/2's graceful-shutdown
         * ticker into the context's one-second timeout; in 2.2.5 nothing unlinks it, and
         * h2o_context_dispose asserts that every timeout is empty. */
        if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
                h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&w->ctx);
        h2o_config_dispose(&w->globalconf);
        w->http_initialized = false;
}
