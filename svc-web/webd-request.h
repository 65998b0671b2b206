/* One request as the web UI's pages see it: who is asking (the session and its user, the
 * client address), what they sent (the form body, the query), and how to answer (an HTML
 * page with the security headers, a redirect, an error page, a cookie).
 *
 * webd-http.c's dispatcher makes a struct webd_rq for every route, loads the session, and
 * enforces the route's flags before the handler runs: a login for WEBD_R_AUTH, the admin
 * role for WEBD_R_ADMIN, and for every unsafe method the body's parse and the CSRF check
 * (token and Origin), so a handler cannot forget one. Everything lives in the request's
 * memory pool and is freed with it. Page code never touches sockets or SQL itself beyond
 * web.db's calls. */
#pragma once

#include <h2o.h>
#include <stdbool.h>
#include <stdint.h>

#include "svc-web/webd-auth.h"
#include "svc-web/webd-backend.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-form.h"
#include "svc-web/webd-multipart.h"
#include "svc-web/webd-html.h"
#include "svc-web/webd-tokens.h"
#include "svc-web/webd.h"

/* The session cookie: __Host- means Secure, Path=/ and no Domain, so no other host or path
 * can set or shadow it. Browsers accept Secure cookies over plain HTTP on loopback only,
 * which is why webd refuses plain HTTP elsewhere unless a TLS proxy is in front. */
#define WEBD_SESSION_COOKIE "__Host-left4me"
/* Before login there is no session to hold the CSRF token: the login form's token is also
 * set as this cookie (double submit), so a foreign page cannot post a login. */
#define WEBD_LOGIN_COOKIE "__Host-left4me-login"
/* A session is marked seen (a durable write) at most this often. */
#define WEBD_SESSION_TOUCH_USEC (60ull * 1000000ull)

enum {
        WEBD_R_AUTH = 1 << 0,      /* a logged-in user; else GET → /login?next=, others → 401 */
        WEBD_R_ADMIN = 1 << 1,     /* an admin (implies AUTH); else 403 */
        WEBD_R_PW_OK = 1 << 2,     /* reachable while the user must change their password */
        WEBD_R_BARE = 1 << 3,      /* no session lookup at all (/health) */
        WEBD_R_LOGIN = 1 << 4,     /* unsafe methods check the login cookie's token, not a session's */
        WEBD_R_JSON = 1 << 5,      /* errors as JSON, not pages */
        WEBD_R_MULTIPART = 1 << 7, /* unsafe methods may also send multipart/form-data */
        WEBD_R_RAW = 1 << 6,       /* the body is the handler's, not a form: the CSRF token comes
                                    * in X-CSRF-Token (an upload's slice) */
        WEBD_R_API = 1 << 8,       /* /api/v1/: a Bearer token, never a cookie (so no CSRF token:
                                    * nothing ambient authenticates it); errors as JSON; the
                                    * token must hold WEBD_R_SCOPE(...) */
};
/* The scopes (webd-tokens.h) an API route needs, in the flags' upper half. */
#define WEBD_R_SCOPE(s)    ((unsigned) (s) << 16)
#define WEBD_R_SCOPE_OF(f) ((unsigned) (f) >> 16)

struct webd_rq {
        struct webd *w;
        h2o_req_t *req;
        const char *path;  /* normalised, NUL-terminated, without the query */
        const char *query; /* after '?', NUL-terminated, "" if none */
        char address[64];  /* the client: the peer, or X-Forwarded-For from a trusted proxy */
        uint64_t now_usec; /* realtime, once per request */
        bool json;         /* the route answers errors as JSON */
        bool want_editor;  /* page_begin loads the code editor (pages with one only) */

        bool authed;
        struct webd_user user;
        struct webd_session session;
        uint8_t session_hash[WEBD_DB_HASH_BYTES];
        struct webd_token token; /* an API request's (WEBD_R_API) */
        const char *token_name;  /* its name, in every audit entry of the request; NULL: a page */

        struct form form;            /* the urlencoded body of an unsafe request */
        struct multipart *multipart; /* a multipart/form-data body (WEBD_R_MULTIPART), or NULL */
};

/* Creates the request's context and loads its session (unless bare). Never fails for what
 * the client sent: a bad or unknown cookie is just no session. -ENOMEM, or -EIO if web.db
 * failed (→ 500). */
int webd_rq_new(struct webd *w, h2o_req_t *req, bool bare, struct webd_rq **ret);

/* The single value of a request header, NUL-terminated in the pool; NULL if absent. A
 * header sent more than once gives NULL and sets *dup (when it matters: Origin, Cookie). */
const char *webd_rq_header(struct webd_rq *rq, const h2o_token_t *token, bool *dup);
const char *webd_rq_header_str(struct webd_rq *rq, const char *name, bool *dup);
/* Whether this is an htmx request (HX-Request: true): fragments instead of full pages. */
bool webd_rq_is_htmx(struct webd_rq *rq);

/* Parses the body (application/x-www-form-urlencoded; with multipart also
 * multipart/form-data, whose plain fields go into rq->form and all parts into
 * rq->multipart) into rq->form. 0, or an error page was sent (the caller returns its value):
 * 415 for another type, 400/413 for bad input. */
int webd_rq_parse_form(struct webd_rq *rq, bool multipart, bool *sent);
/* The CSRF check of an unsafe request: Origin/Sec-Fetch-Site, then the token (form field
 * csrf_token or header X-CSRF-Token) against expected. */
bool webd_rq_csrf_ok(struct webd_rq *rq, const char *expected);
/* The origins a state-changing request may come from: web.public_origin, else this
 * request's own scheme://Host. */
const char *webd_rq_origin(struct webd_rq *rq);
/* The cookie's value (raw), or NULL. */
const char *webd_rq_cookie(struct webd_rq *rq, const char *name);
/* One form field, exactly once: NULL if missing or given twice. */
const char *webd_rq_field(struct webd_rq *rq, const char *name);

/* ---- answers (each takes over the request and returns 0) ---------------------------------- */

/* Sends h's page (finished here) with the HTML security headers; a writer failure is a 500. */
int webd_rq_send_html(struct webd_rq *rq, int status, struct html *h);
/* 303 See Other to a local path (also HX-Redirect for htmx requests). */
int webd_rq_redirect(struct webd_rq *rq, const char *location);
/* A generic error page (the shell, a title, one sentence), or JSON for WEBD_R_JSON routes. */
int webd_rq_error(struct webd_rq *rq, int status, const char *title, const char *message);
/* Adds Set-Cookie for name (always __Host-: Secure; HttpOnly; SameSite=Strict; Path=/);
 * value NULL deletes it. max_age_sec 0 = a browser-session cookie. */
void webd_rq_set_cookie(struct webd_rq *rq, const char *name, const char *value, uint64_t max_age_sec);
/* Adds the headers every HTML answer carries (CSP and friends). */
void webd_rq_html_headers(h2o_req_t *req);
void webd_rq_add_header(struct webd_rq *rq, const char *name, const char *value);

/* ---- calls to the other daemons ------------------------------------------------------------- */

/* A reply to a call made for this request. r->failed with r->transport_error < 0: the daemon
 * did not answer (stopped, restarting, slow: webd_rq_unavailable() says so). */
typedef int (*webd_rq_reply_fn)(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg);
/* Calls method on peer for rq (WEBD_CALL_TIMEOUT_MS). If the client goes away first, the call
 * is cancelled and fn never runs. fn answers the request (or starts another call) and returns
 * 0. Returns 0, or the error of webd_call() without calling fn. */
int webd_rq_call(struct webd_rq *rq, enum webd_peer peer, const char *method, const struct rpc_buf *params,
                 webd_rq_reply_fn fn, void *arg);
/* The same for the most common call: params {id: id} (jobs.get, jobs.cancel). */
int webd_rq_call_id(struct webd_rq *rq, enum webd_peer peer, const char *method, int64_t id,
                    webd_rq_reply_fn fn, void *arg);
/* Starts an event stream for rq under the caps (web.sse_per_session, web.sse_per_address,
 * half of the connections in all): 0 and the stream, or 1 when a 503 was sent instead. */
struct sse_stream;
int webd_rq_sse_start(struct webd_rq *rq, const char *topic, struct sse_stream **ret);
/* Ends an event stream because the peer is away: one "unavailable" event naming it, so the
 * page can say so, then the end, after which EventSource reconnects by itself. */
void webd_sse_end_unavailable(struct sse_stream *s, enum webd_peer peer);
/* The page for a daemon that did not answer (503: "The job service is unavailable ..."). */
int webd_rq_unavailable(struct webd_rq *rq, enum webd_peer peer, int error);
/* Answers an RPC error from a daemon as the page would: invalid → 400, not_found → 404,
 * conflict → 409, denied → 403, unavailable/timeout → 503, else 500; the daemon's message is
 * shown (escaped). */
int webd_rq_rpc_error(struct webd_rq *rq, enum webd_peer peer, const struct rpc_core_reply *r);

/* An API request: the Bearer token, its user, its address allow-list and the route's scope.
 * 1 if the handler may run; else the answer (401, 403) was sent. Every call with a valid
 * token is audited (kind api.call, with the token's name). */
int webd_rq_api_auth(struct webd_rq *rq, unsigned need_scopes);
/* Whether this API request may touch server id (404 for the caller if not). Pages: true. */
bool webd_rq_may_server(const struct webd_rq *rq, int64_t id);

/* Records an audit entry for this request (actor = the user, or `actor` if given). */
void webd_rq_audit(struct webd_rq *rq, const char *actor, const char *kind, const char *object,
                   const char *result, const char *detail);
/* Starts a session for user (a new id: never one the client chose), sets the cookie. */
int webd_rq_login(struct webd_rq *rq, const struct webd_user *user);
