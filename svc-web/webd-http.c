/* See webd-http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-request.h"
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
static int route_health(struct webd_rq *rq) {
        struct json j;

        json_init(&j, WEBD_JSON_CAP);
        json_object_begin(&j);
        json_kv_str(&j, "status", "ok");
        json_kv_str(&j, "service", WEBD_NAME);
        json_kv_str(&j, "version", LEFT4ME_VERSION);
        json_object_end(&j);
        return webd_send_json(rq->req, 200, "OK", &j);
}

/* GET /events: the "sys" event stream, for logged-in users only. Today it says hello and
 * sends heartbeats; the web UI's streams (server state, job output, logs) are further
 * topics on the same hub. Streams hold a connection each for as long as the page is open,
 * so they get caps of their own below the connection limit: an ordinary request must
 * always find a connection. */
static int route_events(struct webd_rq *rq) {
        struct sse_stream *s;
        struct json j;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;

        if (webd_rq_sse_start(rq, "sys", &s) != 0)
                return 0;
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

static const struct webd_route base_routes[] = {
        {"GET", "/health", route_health, WEBD_R_BARE | WEBD_R_JSON},
        {"GET", "/events", route_events, WEBD_R_AUTH | WEBD_R_JSON},
};

static const struct {
        const struct webd_route *routes;
        const size_t *n;
} tables[] = {
        {base_routes, &(const size_t){ELEMENTSOF(base_routes)}},
        {page_account_routes, &page_account_n_routes},
        {page_admin_routes, &page_admin_n_routes},
        {page_jobs_routes, &page_jobs_n_routes},
        {page_servers_routes, &page_servers_n_routes},
        {page_blueprints_routes, &page_blueprints_n_routes},
        {page_overlays_routes, &page_overlays_n_routes},
        {page_tokens_routes, &page_tokens_n_routes},
        {page_api_routes, &page_api_n_routes},
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

static const struct webd_route *find_route(const char *method, size_t method_len, const char *path,
                                           size_t path_len, bool *ret_known) {
        bool known = false;

        *ret_known = false;
        for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
                const struct webd_route *r = webd_route_find(tables[t].routes, *tables[t].n, method,
                                                             method_len, path, path_len, &known);
                if (r)
                        return r;
                *ret_known = *ret_known || known;
        }
        return NULL;
}

/* Builds the Allow header for a path that exists under other methods. */
static void add_allow_header(h2o_req_t *req, const char *path, size_t path_len) {
        char allow[128] = "";
        size_t n = 0;

        for (size_t t = 0; t < ELEMENTSOF(tables); t++)
                for (size_t i = 0; i < *tables[t].n; i++) {
                        const struct webd_route *rt = &tables[t].routes[i];
                        bool known = false;

                        if (!webd_route_find(rt, 1, rt->method, strlen(rt->method), path, path_len, &known))
                                continue;
                        n += (size_t) snprintf(allow + n, sizeof(allow) - MIN(n, sizeof(allow)), "%s%s",
                                               n ? ", " : "", rt->method);
                        if (n >= sizeof(allow))
                                break;
                }
        if (n > 0 && n < sizeof(allow)) {
                /* h2o keeps a pointer to header values: the value must live in the pool. */
                h2o_iovec_t v = h2o_strdup(&req->pool, allow, n);
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, v.base, v.len);
        }
}

static bool method_is_safe(const h2o_req_t *req) {
        return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

/* The route's flags, before its handler: login, role, the password that must be changed,
 * and for unsafe methods the form and the CSRF check. 1 if the handler may run. */
static int enforce(struct webd_rq *rq, const struct webd_route *r) {
        bool sent = false;
        const char *expected;

        if (r->flags & WEBD_R_API) {
                if (!webd_rq_api_auth(rq, WEBD_R_SCOPE_OF(r->flags)))
                        return 0;
                /* No CSRF check: a browser never adds the Authorization header by itself. */
                if (!method_is_safe(rq->req) && !(r->flags & WEBD_R_RAW) &&
                    (webd_rq_parse_form(rq, false, &sent) < 0 || sent))
                        return 0;
                return 1;
        }
        if ((r->flags & (WEBD_R_AUTH | WEBD_R_ADMIN)) && !rq->authed) {
                if (method_is_safe(rq->req) && !(r->flags & WEBD_R_JSON)) {
                        char next[FORM_NEXT_MAX + 16];
                        const char *target = h2o_strdup(&rq->req->pool, rq->req->path.base,
                                                        MIN(rq->req->path.len, (size_t) FORM_NEXT_MAX))
                                                     .base;
                        _cleanup_free_ char *enc = NULL;

                        /* The query is kept, so a bookmark survives the login. */
                        if (streq(rq->path, "/") || !form_next_ok(target))
                                return webd_rq_redirect(rq, "/login"), 0;
                        enc = form_urlencode(target);
                        snprintf(next, sizeof(next), "/login?next=%s", enc ?: "%2F");
                        return webd_rq_redirect(rq, next), 0;
                }
                return webd_rq_error(rq, 401, "Not logged in", "Log in to do this."), 0;
        }
        if ((r->flags & WEBD_R_ADMIN) && !rq->user.is_admin)
                return webd_rq_error(rq, 403, "Forbidden", "Only administrators may do this."), 0;
        if (rq->authed && rq->user.must_change_password && !(r->flags & WEBD_R_PW_OK)) {
                if (method_is_safe(rq->req))
                        return webd_rq_redirect(rq, "/profile?m=must-change"), 0;
                return webd_rq_error(rq, 403, "Password change needed",
                                     "Choose a new password on your profile page first."),
                       0;
        }
        if (method_is_safe(rq->req))
                return 1;
        if (!(r->flags & WEBD_R_RAW) &&
            (webd_rq_parse_form(rq, r->flags & WEBD_R_MULTIPART, &sent) < 0 || sent))
                return 0;
        if (r->flags & WEBD_R_LOGIN)
                expected = webd_rq_cookie(rq, WEBD_LOGIN_COOKIE);
        else
                expected = rq->authed ? rq->session.csrf : NULL;
        if (!expected || !webd_rq_csrf_ok(rq, expected)) {
                rq->w->csrf_refused++;
                return webd_rq_error(
                               rq, 403, "Request refused",
                               "This form was stale or came from another site. Reload the page and try "
                               "again."),
                       0;
        }
        return 1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
        struct webd *w = ((struct webd_handler *) self)->w;
        const struct webd_route *r;
        struct webd_rq *rq;
        h2o_iovec_t path = req->path_normalized;
        bool known = false;

        r = find_route(req->method.base, req->method.len, path.base, path.len, &known);
        if (!r) {
                if (known) {
                        add_allow_header(req, path.base, path.len);
                        return webd_send_error(req, 405, "Method Not Allowed", "invalid",
                                               "method not allowed");
                }
                if (webd_rq_new(w, req, true, &rq) < 0)
                        return -1;
                return webd_rq_error(rq, 404, "Not found", "There is no such page.") < 0 ? -1 : 0;
        }
        /* An API route never looks at the session cookie: a logged-in browser is not enough. */
        if (webd_rq_new(w, req, r->flags & (WEBD_R_BARE | WEBD_R_API), &rq) < 0) {
                webd_rq_html_headers(req);
                return webd_send_error(req, 500, "Internal Server Error", "internal",
                                       "the web database failed");
        }
        rq->json = r->flags & (WEBD_R_JSON | WEBD_R_API);
        if (!enforce(rq, r))
                return 0;
        return r->handler(rq) < 0 ? -1 : 0;
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

/* Plain HTTP is for loopback (browsers accept the Secure cookie there) or behind a TLS
 * proxy; anywhere else a browser could not log in, and passwords would cross the network
 * in the clear. */
static int check_plain_http(struct webd *w, int fd) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char addr[INET6_ADDRSTRLEN] = "?";
        bool loopback;

        if (w->tls || w->config->web_behind_proxy || getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return 0;
        if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) &ss;
                loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
                inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        } else if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &ss;
                loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                           (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
                inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        } else
                return 0; /* AF_UNIX: a local proxy */
        if (loopback)
                return 0;
        return log_error_errno(
                -EPERM,
                "Refusing plain HTTP on %s: browsers will not keep the session cookie there and "
                "passwords would travel in the clear. Set web.tls_cert and web.tls_key, or "
                "web.behind_proxy: true when a TLS proxy is in front (deploy/README.md).",
                addr);
}

/* TLS terminated by webd: HTTP/1.1 only (no ALPN, so no HTTP/2), TLS 1.2 or newer. */
static int tls_init(struct webd *w) {
        const struct l4m_config *c = w->config;
        SSL_CTX *ctx;

        if (!c->web_tls_cert)
                return 0;
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return log_error_errno(-ENOMEM, "Cannot create the TLS context.");
        (void) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_use_certificate_chain_file(ctx, c->web_tls_cert) != 1) {
                SSL_CTX_free(ctx);
                return log_error_errno(-EINVAL, "web.tls_cert: cannot load a PEM certificate from %s.",
                                       c->web_tls_cert);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, c->web_tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                SSL_CTX_free(ctx);
                return log_error_errno(-EINVAL, "web.tls_key: cannot load the key of %s from %s.",
                                       c->web_tls_cert, c->web_tls_key);
        }
        w->accept_ctx.ssl_ctx = ctx;
        w->tls = true;
        log_info("TLS: serving HTTPS with %s.", c->web_tls_cert);
        return 0;
}

int webd_http_add_listener(struct webd *w, int fd) {
        h2o_socket_t *sock;
        int r;

        r = check_plain_http(w, fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }

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
        int r;
        h2o_hostconf_t *hostconf;
        h2o_pathconf_t *pathconf;
        struct webd_handler *h;

        h2o_config_init(&w->globalconf);
        w->globalconf.server_name = h2o_iovec_init(H2O_STRLIT(WEBD_NAME));
        /* No HTTP/2 at all: libh2o 2.2.5 predates the Rapid Reset fix, and one HTTP/2
         * connection would carry a hundred event streams past the connection cap. In h2o
         * 2.2 this flag governs both the h2c upgrade and the prior-knowledge preface. */
        w->globalconf.http1.upgrade_to_http2 = 0;
        /* Requests carry forms at most; the config's message limit is generous for them. */
        w->globalconf.max_request_entity_size = w->config->max_message_bytes;
        hostconf = h2o_config_register_host(&w->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);

        /* h2o picks the first registered path that matches, so /static/ goes first. */
        pathconf = h2o_config_register_path(hostconf, "/static/", 0);
        /* SEND_COMPRESSED: a file with a .gz copy beside it (the editor bundle, built by
         * webd.mk) goes out as that copy to clients that accept gzip, 376 KiB as 122. */
        h2o_file_register(pathconf, w->web_dir, NULL, NULL, H2O_FILE_FLAG_SEND_COMPRESSED);

        pathconf = h2o_config_register_path(hostconf, "/", 0);
        h = (struct webd_handler *) h2o_create_handler(pathconf, sizeof(*h));
        h->super.on_req = on_req;
        h->w = w;

        /* TLS first: a context, once made, links timers into the loop that only its dispose
         * unlinks, and h2o_evloop_destroy() asserts there are none left (a bad key aborted
         * webd's exit). */
        r = tls_init(w);
        if (r < 0) {
                h2o_config_dispose(&w->globalconf);
                return r;
        }
        h2o_context_init(&w->ctx, w->loop, &w->globalconf);
        w->accept_ctx.ctx = &w->ctx;
        w->accept_ctx.hosts = w->globalconf.hosts;

        w->http_conns_max = w->config->max_connections ? w->config->max_connections : 64;
        w->sse_max_streams = MAX(1u, w->http_conns_max / 2);
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
        if (w->accept_ctx.ssl_ctx)
                SSL_CTX_free(w->accept_ctx.ssl_ctx);
        w->accept_ctx.ssl_ctx = NULL;
        w->http_initialized = false;
}
