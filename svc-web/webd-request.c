/* See webd-request.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sodium.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-request.h"
#include "svc-web/webd-sse.h"

/* Every HTML answer. No inline script or style anywhere: htmx is configured to fit
 * (includeIndicatorStyles, allowEval off), and inline event handlers are refused by the
 * HTML writer itself. */
#define CSP                                                                                                 \
        "default-src 'self'; img-src 'self' data: https://*.steamstatic.com; frame-ancestors 'none'; "      \
        "form-action 'self'; base-uri 'none'"

/* The reason phrases of the statuses webd answers with. */
static const char *reason(int status) {
        switch (status) {
        case 200:
                return "OK";
        case 303:
                return "See Other";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 409:
                return "Conflict";
        case 413:
                return "Payload Too Large";
        case 415:
                return "Unsupported Media Type";
        case 429:
                return "Too Many Requests";
        case 503:
                return "Service Unavailable";
        default:
                return status < 500 ? "Error" : "Internal Server Error";
        }
}

static void rq_dispose(void *p) {
        struct webd_rq *rq = p;

        webd_user_done(&rq->user);
        webd_session_done(&rq->session);
        webd_token_done(&rq->token);
        form_done(&rq->form);
        sodium_memzero(rq->session_hash, sizeof(rq->session_hash));
}

const char *webd_rq_header(struct webd_rq *rq, const h2o_token_t *token, bool *dup) {
        ssize_t i = h2o_find_header(&rq->req->headers, token, -1);
        h2o_iovec_t v;

        if (i < 0)
                return NULL;
        if (h2o_find_header(&rq->req->headers, token, i) >= 0) {
                if (dup)
                        *dup = true;
                return NULL;
        }
        v = rq->req->headers.entries[i].value;
        return h2o_strdup(&rq->req->pool, v.base, v.len).base;
}

const char *webd_rq_header_str(struct webd_rq *rq, const char *name, bool *dup) {
        ssize_t i = h2o_find_header_by_str(&rq->req->headers, name, strlen(name), -1);
        h2o_iovec_t v;

        if (i < 0)
                return NULL;
        if (h2o_find_header_by_str(&rq->req->headers, name, strlen(name), i) >= 0) {
                if (dup)
                        *dup = true;
                return NULL;
        }
        v = rq->req->headers.entries[i].value;
        return h2o_strdup(&rq->req->pool, v.base, v.len).base;
}

bool webd_rq_is_htmx(struct webd_rq *rq) {
        const char *v = webd_rq_header_str(rq, "hx-request", NULL);
        return v && streq(v, "true");
}

static bool address_trusted(const struct l4m_config *c, const char *addr) {
        for (char **p = c->web_trusted_proxies; p && *p; p++)
                if (streq(*p, addr))
                        return true;
        return false;
}

/* The peer, or — when the peer is a trusted proxy — the rightmost address of
 * X-Forwarded-For that is not a trusted proxy itself (everything left of it is what the
 * client claimed). */
static void rq_find_address(struct webd_rq *rq) {
        struct sockaddr_storage ss;
        socklen_t len = rq->req->conn->callbacks->get_peername(rq->req->conn, (struct sockaddr *) &ss);
        const char *xff;
        char *copy, *p;

        snprintf(rq->address, sizeof(rq->address), "local");
        if (len > 0 && ss.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, rq->address,
                          sizeof(rq->address));
        else if (len > 0 && ss.ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, rq->address,
                          sizeof(rq->address));
        if (!address_trusted(rq->w->config, rq->address))
                return;
        xff = webd_rq_header_str(rq, "x-forwarded-for", NULL);
        if (!xff)
                return;
        copy = h2o_strdup(&rq->req->pool, xff, SIZE_MAX).base;
        while ((p = strrchr(copy, ',')) || *copy) {
                char *item = p ? p + 1 : copy;
                unsigned char buf[sizeof(struct in6_addr)];

                item += strspn(item, " \t");
                item[strcspn(item, " \t")] = 0;
                if (inet_pton(AF_INET, item, buf) != 1 && inet_pton(AF_INET6, item, buf) != 1)
                        return; /* garbage: keep the proxy's address rather than guess */
                snprintf(rq->address, sizeof(rq->address), "%s", item);
                if (!address_trusted(rq->w->config, item) || !p)
                        return;
                *p = 0;
        }
}

const char *webd_rq_cookie(struct webd_rq *rq, const char *name) {
        bool dup = false;
        const char *header = webd_rq_header(rq, H2O_TOKEN_COOKIE, &dup);
        struct form f = {};
        const char *v;
        char *ret = NULL;

        if (!header)
                return NULL;
        if (form_parse_cookies(&f, header, strlen(header), NULL) < 0)
                return NULL;
        /* Two cookies of one name (one set by a sibling path or host): trust neither. */
        if (form_get_one(&f, name, &v) == 0)
                ret = h2o_strdup(&rq->req->pool, v, SIZE_MAX).base;
        form_done(&f);
        return ret;
}

static int rq_load_session(struct webd_rq *rq) {
        const char *cookie = webd_rq_cookie(rq, WEBD_SESSION_COOKIE);
        int r;

        if (!cookie || auth_session_hash(cookie, strlen(cookie), rq->session_hash) < 0)
                return 0;
        r = webd_db_session_lookup(rq->w->db, rq->session_hash, (int64_t) rq->now_usec, &rq->session,
                                   &rq->user);
        if (r == -ENOENT || r == -ETIMEDOUT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "web.db: session lookup failed: %s", webd_db_errmsg(rq->w->db));
        rq->authed = true;
        if (rq->now_usec >= (uint64_t) rq->session.last_seen_usec + WEBD_SESSION_TOUCH_USEC) {
                r = webd_db_session_touch(rq->w->db, rq->session_hash, (int64_t) rq->now_usec,
                                          (int64_t) rq->w->config->web_session_idle_sec * 1000000);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "web.db: cannot mark a session seen: %s",
                                          webd_db_errmsg(rq->w->db));
        }
        return 0;
}

int webd_rq_new(struct webd *w, h2o_req_t *req, bool bare, struct webd_rq **ret) {
        struct webd_rq *rq = h2o_mem_alloc_shared(&req->pool, sizeof(*rq), rq_dispose);
        h2o_iovec_t path = req->path_normalized;
        int r;

        *rq = (struct webd_rq){.w = w, .req = req, .now_usec = realtime_usec()};
        rq->path = h2o_strdup(&req->pool, path.base, path.len).base;
        if (req->query_at != SIZE_MAX)
                rq->query = h2o_strdup(&req->pool, req->path.base + req->query_at + 1,
                                       req->path.len - req->query_at - 1)
                                    .base;
        else
                rq->query = "";
        rq_find_address(rq);
        *ret = rq;
        if (bare)
                return 0;
        r = rq_load_session(rq);
        return r < 0 ? -EIO : 0;
}

/* The plain fields of a multipart body as urlencoded text, so they go through the same
 * parser (and limits) as every form; files stay in rq->multipart. */
static char *multipart_fields(struct webd_rq *rq, const struct multipart *m, size_t *ret_len) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = 0, k = 0;
        char *out;

        for (size_t i = 0; i < m->n; i++)
                if (!m->parts[i].filename)
                        n += 3 * (m->parts[i].name_len + m->parts[i].len) + 2;
        out = h2o_mem_alloc_pool(&rq->req->pool, n + 1);
        for (size_t i = 0; i < m->n; i++) {
                const struct multipart_part *p = &m->parts[i];
                if (p->filename)
                        continue;
                if (k > 0)
                        out[k++] = '&';
                for (unsigned pass = 0; pass < 2; pass++) {
                        const unsigned char *s = (const unsigned char *) (pass ? p->data : p->name);
                        size_t len = pass ? p->len : p->name_len;
                        if (pass)
                                out[k++] = '=';
                        for (size_t j = 0; j < len; j++) {
                                out[k++] = '%';
                                out[k++] = hex[s[j] >> 4];
                                out[k++] = hex[s[j] & 15];
                        }
                }
        }
        out[k] = 0;
        *ret_len = k;
        return out;
}

static int parse_multipart(struct webd_rq *rq, const char *ct, h2o_iovec_t body, bool *sent) {
        struct multipart_limits lim = {.max_bytes = rq->w->config->max_message_bytes};
        size_t len;
        char *text;
        int r;

        rq->multipart = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*rq->multipart));
        r = multipart_parse(rq->multipart, ct, strlen(ct), body.base ?: "", body.len, &lim);
        if (r < 0) {
                *sent = true;
                return webd_rq_error(rq,
                                     r == -E2BIG         ? 413
                                     : r == -EMEDIUMTYPE ? 415
                                                         : 400,
                                     "Bad upload", multipart_err_to_string(rq->multipart->err));
        }
        text = multipart_fields(rq, rq->multipart, &len);
        r = form_parse_urlencoded(&rq->form, text, len, NULL);
        if (r < 0) {
                *sent = true;
                return webd_rq_error(rq, r == -E2BIG ? 413 : 400, "Bad form",
                                     form_err_to_string(rq->form.err));
        }
        return 0;
}

int webd_rq_parse_form(struct webd_rq *rq, bool multipart, bool *sent) {
        const char *ct = webd_rq_header(rq, H2O_TOKEN_CONTENT_TYPE, NULL);
        h2o_iovec_t body = rq->req->entity;
        int r;

        *sent = false;
        if (multipart && ct && strncasecmp(ct, "multipart/form-data", 19) == 0)
                return parse_multipart(rq, ct, body, sent);
        if (body.base && body.len > 0 &&
            (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
             (ct[33] && ct[33] != ';' && ct[33] != ' '))) {
                *sent = true;
                return webd_rq_error(rq, 415, "Unsupported form",
                                     "Forms are sent as application/x-www-form-urlencoded.");
        }
        r = form_parse_urlencoded(&rq->form, body.base ? body.base : "", body.base ? body.len : 0, NULL);
        if (r == -E2BIG) {
                *sent = true;
                return webd_rq_error(rq, 413, "Form too large", form_err_to_string(rq->form.err));
        }
        if (r < 0) {
                *sent = true;
                return webd_rq_error(rq, 400, "Bad form", form_err_to_string(rq->form.err));
        }
        return 0;
}

const char *webd_rq_origin(struct webd_rq *rq) {
        const char *host, *scheme;

        if (rq->w->config->web_public_origin)
                return rq->w->config->web_public_origin;
        /* h2o moves Host into the authority (HTTP/1.1 requires one). */
        if (!rq->req->input.authority.base || rq->req->input.authority.len == 0)
                return NULL;
        host = h2o_strdup(&rq->req->pool, rq->req->input.authority.base, rq->req->input.authority.len).base;
        /* Behind a TLS proxy the browser's origin is https even though we speak HTTP. */
        scheme = rq->w->tls || rq->w->config->web_behind_proxy ? "https://" : "http://";
        return h2o_concat(&rq->req->pool, h2o_iovec_init(scheme, strlen(scheme)),
                          h2o_iovec_init(host, strlen(host)), h2o_iovec_init("", 1))
                .base;
}

bool webd_rq_csrf_ok(struct webd_rq *rq, const char *expected) {
        bool dup = false;
        const char *origin = webd_rq_header_str(rq, "origin", &dup);
        const char *site = webd_rq_header_str(rq, "sec-fetch-site", &dup);
        const char *token = webd_rq_header_str(rq, "x-csrf-token", &dup);
        const char *allowed[2] = {webd_rq_origin(rq), NULL};

        size_t fields = form_count(&rq->form, "csrf_token");
        const char *field = fields == 1 ? form_get(&rq->form, "csrf_token") : NULL;

        if (dup || !allowed[0] || fields > 1 || (!token && !field))
                return false;
        /* htmx sends the header and the form its field: each one given must be right. */
        if (token && auth_check_request(origin, site, allowed, expected, token, strlen(token)) < 0)
                return false;
        return !field || auth_check_request(origin, site, allowed, expected, field, strlen(field)) == 0;
}

const char *webd_rq_field(struct webd_rq *rq, const char *name) {
        const char *v;
        return form_get_one(&rq->form, name, &v) == 0 ? v : NULL;
}

/* ---- answers ---------------------------------------------------------------------------------- */

void webd_rq_add_header(struct webd_rq *rq, const char *name, const char *value) {
        h2o_iovec_t n = h2o_strdup(&rq->req->pool, name, SIZE_MAX);
        h2o_iovec_t v = h2o_strdup(&rq->req->pool, value, SIZE_MAX);

        h2o_add_header_by_str(&rq->req->pool, &rq->req->res.headers, n.base, n.len, 0, NULL, v.base, v.len);
}

void webd_rq_html_headers(h2o_req_t *req) {
        static const struct {
                const char *name, *value;
        } headers[] = {
                {"content-security-policy", CSP},
                {"referrer-policy", "same-origin"},
                {"cross-origin-opener-policy", "same-origin"},
                {"x-frame-options", "DENY"},
                {"cache-control", "no-store"},
        };

        for (size_t i = 0; i < ELEMENTSOF(headers); i++)
                h2o_add_header_by_str(&req->pool, &req->res.headers, headers[i].name,
                                      strlen(headers[i].name), 0, NULL, headers[i].value,
                                      strlen(headers[i].value));
}

int webd_rq_send_html(struct webd_rq *rq, int status, struct html *h) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = html_finish(h, &text, &len);
        if (r < 0) {
                static const char oops[] =
                        "<!doctype html><title>Error</title><p>Something went wrong.</p>\n";
                log_error_errno(r, "HTML for %s failed: %m", rq->path);
                webd_rq_html_headers(rq->req);
                return webd_send_text(rq->req, 500, "Internal Server Error", "text/html; charset=utf-8",
                                      oops, STRLEN(oops));
        }
        webd_rq_html_headers(rq->req);
        return webd_send_text(rq->req, status, reason(status), "text/html; charset=utf-8", text, len);
}

int webd_rq_redirect(struct webd_rq *rq, const char *location) {
        if (!form_next_ok(location))
                location = "/";
        webd_rq_add_header(rq, "location", location);
        if (webd_rq_is_htmx(rq))
                webd_rq_add_header(rq, "hx-redirect", location);
        webd_rq_html_headers(rq->req);
        return webd_send_text(rq->req, 303, "See Other", "text/plain; charset=utf-8", "", 0);
}

/* The JSON error's code for a status: what a script branches on. */
static const char *error_code(int status) {
        switch (status) {
        case 401:
                return "unauthenticated";
        case 403:
                return "forbidden";
        case 404:
                return "not_found";
        case 409:
                return "conflict";
        case 413:
                return "too_large";
        case 429:
                return "rate_limited";
        case 503:
                return "unavailable";
        default:
                return status >= 500 ? "internal" : "invalid";
        }
}

int webd_rq_error(struct webd_rq *rq, int status, const char *title, const char *message) {
        struct html h;

        if (rq->json)
                return webd_send_error(rq->req, status, reason(status), error_code(status), "%s", message);
        html_init(&h, 0);
        page_begin(rq, &h, title);
        html_elem_text(&h, "h1", title);
        html_elem_text(&h, "p", message);
        html_elem(&h, "p");
        html_elem(&h, "a");
        html_attr(&h, "href", "/");
        html_text(&h, "Back to the dashboard");
        html_close(&h, "a");
        html_close(&h, "p");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

void webd_rq_set_cookie(struct webd_rq *rq, const char *name, const char *value, uint64_t max_age_sec) {
        char buf[512];

        if (!value)
                snprintf(buf, sizeof(buf), "%s=; Max-Age=0; Secure; HttpOnly; SameSite=Strict; Path=/",
                         name);
        else if (max_age_sec)
                snprintf(buf, sizeof(buf), "%s=%s; Max-Age=%llu; Secure; HttpOnly; SameSite=Strict; Path=/",
                         name, value, (unsigned long long) max_age_sec);
        else
                snprintf(buf, sizeof(buf), "%s=%s; Secure; HttpOnly; SameSite=Strict; Path=/", name, value);
        webd_rq_add_header(rq, "set-cookie", buf);
}

void webd_rq_audit(struct webd_rq *rq, const char *actor, const char *kind, const char *object,
                   const char *result, const char *detail) {
        struct webd_audit a = {
                .at_usec = (int64_t) rq->now_usec,
                .actor = actor ?: (rq->authed ? rq->user.username : "anonymous"),
                .kind = kind,
                .object = object,
                .address = rq->address,
                .result = result,
                .detail = detail,
                .token = rq->token_name,
        };
        int r = webd_db_audit_append(rq->w->db, &a, NULL);

        if (r < 0)
                log_error_errno(r, "web.db: cannot record '%s' in the audit log: %s", kind,
                                webd_db_errmsg(rq->w->db));
}

int webd_rq_login(struct webd_rq *rq, const struct webd_user *user) {
        char cookie[AUTH_SESSION_COOKIE_LEN + 1], csrf[AUTH_CSRF_LEN + 1];
        const char *ua = webd_rq_header(rq, H2O_TOKEN_USER_AGENT, NULL);
        struct webd_session s = {
                .user_id = user->id,
                .csrf = csrf,
                .created_usec = (int64_t) rq->now_usec,
                .last_seen_usec = (int64_t) rq->now_usec,
                .absolute_expires_usec =
                        (int64_t) (rq->now_usec + (uint64_t) rq->w->config->web_session_max_sec * 1000000u),
                .address = rq->address,
                .user_agent = (char *) (ua ?: ""),
        };
        int r;

        s.idle_expires_usec =
                MIN(s.absolute_expires_usec,
                    (int64_t) (rq->now_usec + (uint64_t) rq->w->config->web_session_idle_sec * 1000000u));
        r = auth_session_new(cookie, s.id_hash);
        if (r < 0)
                return r;
        auth_csrf_new(csrf);
        r = webd_db_session_create(rq->w->db, &s);
        if (r < 0)
                return log_error_errno(r, "web.db: cannot store a session: %s", webd_db_errmsg(rq->w->db));
        /* A session cookie (no Max-Age): the server's expiries decide, and closing the
         * browser forgets it. */
        webd_rq_set_cookie(rq, WEBD_SESSION_COOKIE, cookie, 0);
        sodium_memzero(cookie, sizeof(cookie));
        return 0;
}

/* ---- calls to the other daemons ------------------------------------------------------------- */

/* Lives in the request's pool: when h2o frees the pool (the client left) while the call is
 * out, the call is cancelled, so its reply never touches the freed request. */
struct rq_call {
        struct webd_rq *rq;
        struct webd_call *call; /* NULL once answered */
        webd_rq_reply_fn fn;
        void *arg;
};

static void rq_call_dispose(void *p) {
        struct rq_call *b = p;

        if (b->call)
                webd_call_cancel(b->call);
        b->call = NULL;
}

static void rq_call_reply(struct webd_call *c, const struct rpc_core_reply *r, void *userdata) {
        struct rq_call *b = userdata;

        b->call = NULL;
        (void) b->fn(b->rq, r, b->arg);
}

int webd_rq_call(struct webd_rq *rq, enum webd_peer peer, const char *method, const struct rpc_buf *params,
                 webd_rq_reply_fn fn, void *arg) {
        struct rq_call *b = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*b), rq_call_dispose);
        int r;

        *b = (struct rq_call){.rq = rq, .fn = fn, .arg = arg};
        r = webd_call(rq->w->backends, peer, method, params, WEBD_CALL_TIMEOUT_MS, NULL, rq_call_reply, b,
                      &b->call);
        if (r < 0)
                b->call = NULL;
        return r;
}

int webd_rq_call_id(struct webd_rq *rq, enum webd_peer peer, const char *method, int64_t id,
                    webd_rq_reply_fn fn, void *arg) {
        struct rpc_buf b;
        struct rpc_map m;
        int r;

        rpc_buf_init(&b, 0);
        rpc_pack_kv_int(rpc_params_begin(&m, &b.pk), "id", id);
        r = rpc_map_end(&m);
        if (r >= 0)
                r = webd_rq_call(rq, peer, method, &b, fn, arg);
        rpc_buf_done(&b);
        return r;
}

int webd_rq_sse_start(struct webd_rq *rq, const char *topic, struct sse_stream **ret) {
        struct webd *w = rq->w;
        char owner[2 * WEBD_DB_HASH_BYTES + 1];

        sodium_bin2hex(owner, sizeof(owner), rq->session_hash, sizeof(rq->session_hash));
        if (w->sse.n_streams >= w->sse_max_streams ||
            sse_hub_count(&w->sse, owner, NULL) >= w->config->web_sse_per_session ||
            sse_hub_count(&w->sse, NULL, rq->address) >= w->config->web_sse_per_address) {
                w->sse_refused++;
                webd_rq_add_header(rq, "retry-after", "10");
                (void) webd_send_error(rq->req, 503, "Service Unavailable", "unavailable",
                                       "too many event streams are open; close a tab or try again later");
                return 1;
        }
        if (sse_stream_start_for(&w->sse, rq->req, topic, owner, rq->address, ret) < 0) {
                (void) webd_send_error(rq->req, 503, "Service Unavailable", "unavailable",
                                       "cannot start event stream");
                return 1;
        }
        return 0;
}

void webd_sse_end_unavailable(struct sse_stream *s, enum webd_peer peer) {
        char msg[96];
        int n = snprintf(msg, sizeof(msg), "{\"message\":\"the %s is unavailable; reconnecting\"}",
                         webd_peer_name(peer));

        (void) sse_stream_send(s, NULL, "unavailable", msg, (size_t) n);
        sse_stream_close(s);
}

int webd_rq_unavailable(struct webd_rq *rq, enum webd_peer peer, int error) {
        char msg[256];

        snprintf(msg, sizeof(msg),
                 "The %s is unavailable (%s). This page works again as soon as it is back.",
                 webd_peer_name(peer), strerror(error < 0 ? -error : EIO));
        webd_rq_add_header(rq, "retry-after", "2");
        return webd_rq_error(rq, 503, "Service unavailable", msg);
}

int webd_rq_rpc_error(struct webd_rq *rq, enum webd_peer peer, const struct rpc_core_reply *r) {
        int status;

        if (r->transport_error < 0)
                return webd_rq_unavailable(rq, peer, r->transport_error);
        switch (r->error.code) {
        case RPC_INVALID:
                status = 400;
                break;
        case RPC_NOT_FOUND:
                status = 404;
                break;
        case RPC_CONFLICT:
                status = 409;
                break;
        case RPC_DENIED:
                status = 403;
                break;
        case RPC_UNAVAILABLE:
        case RPC_TIMEOUT:
                status = 503;
                break;
        default:
                status = 500;
        }
        return webd_rq_error(rq, status, status == 503 ? "Service unavailable" : "That did not work",
                             r->error.message);
}

/* ---- API tokens ------------------------------------------------------------------------------- */

static int api_unauthenticated(struct webd_rq *rq, const char *message) {
        rq->w->api_refused++;
        webd_rq_add_header(rq, "www-authenticate", "Bearer realm=\"left4me\"");
        return webd_rq_error(rq, 401, "Not authenticated", message);
}

static void api_audit(struct webd_rq *rq, const char *result, const char *detail) {
        char what[160];

        snprintf(what, sizeof(what), "%.*s %s%s%s", (int) MIN(rq->req->method.len, (size_t) 8),
                 rq->req->method.base, rq->path, detail ? ": " : "", detail ?: "");
        webd_rq_audit(rq, NULL, "api.call", NULL, result, what);
}

int webd_rq_api_auth(struct webd_rq *rq, unsigned need) {
        bool dup = false;
        const char *auth = webd_rq_header(rq, H2O_TOKEN_AUTHORIZATION, &dup);
        uint8_t hash[WEBD_DB_HASH_BYTES];
        const char *secret;
        int r;

        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
                return api_unauthenticated(rq, dup ? "Send one Authorization header."
                                                   : "Send Authorization: Bearer <token> (a cookie is not "
                                                     "enough for the API)."),
                       0;
        secret = auth + 7 + strspn(auth + 7, " ");
        if (webd_token_secret_hash(secret, strlen(secret), hash) < 0)
                return api_unauthenticated(rq, "That is not a left4me API token."), 0;
        r = webd_db_token_lookup(rq->w->db, hash, (int64_t) rq->now_usec, &rq->token, &rq->user);
        sodium_memzero(hash, sizeof(hash));
        if (r == -ENOENT)
                return api_unauthenticated(rq, "Unknown or revoked token."), 0;
        if (r == -ETIMEDOUT)
                return api_unauthenticated(rq, "The token has expired."), 0;
        if (r < 0) {
                log_error_errno(r, "web.db: token lookup failed: %s", webd_db_errmsg(rq->w->db));
                return webd_rq_error(rq, 500, "Internal error", "The web database failed."), 0;
        }
        rq->authed = true;
        rq->token_name = rq->token.name;
        if (!webd_allow_match(rq->token.allow, rq->address)) {
                char why[96];

                snprintf(why, sizeof(why), "address %s not allowed", rq->address);
                api_audit(rq, "denied", why);
                rq->w->api_refused++;
                return webd_rq_error(rq, 403, "Forbidden", "This token may not be used from this address."),
                       0;
        }
        if (need & ~rq->token.scopes) {
                char msg[128];
                const char *missing = webd_scope_name(1u << __builtin_ctz(need & ~rq->token.scopes));

                snprintf(msg, sizeof(msg), "missing scope %s", missing);
                api_audit(rq, "denied", msg);
                rq->w->api_refused++;
                snprintf(msg, sizeof(msg), "This token lacks the scope %s.", missing);
                return webd_send_error(rq->req, 403, "Forbidden", "missing_scope", "%s", msg), 0;
        }
        if (rq->now_usec >= (uint64_t) rq->token.last_used_usec + WEBD_SESSION_TOUCH_USEC) {
                r = webd_db_token_touch(rq->w->db, rq->token.id, (int64_t) rq->now_usec, rq->address);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "web.db: cannot mark a token used: %s",
                                          webd_db_errmsg(rq->w->db));
        }
        api_audit(rq, "ok", NULL);
        rq->w->api_calls++;
        return 1;
}

bool webd_rq_may_server(const struct webd_rq *rq, int64_t id) {
        return !rq->token_name || webd_token_allows_server(&rq->token, id);
}
