/* webd's HTTP side on h2o 2.2.5: listeners with connection counting, the route table,
 * response helpers, static files and the SSE hub.
 *
 * Requests are matched against one static route table (exact paths, or prefixes ending
 * in '/'), in order. A path that exists with another method gets 405 and an Allow
 * header; anything else 404. Everything under /static/ is served from the web dir
 * ($(PREFIX)/share/left4me/web/ by default) by h2o's file handler, which normalises the
 * path first, so "..", "%2e%2e" and friends never leave that directory.
 *
 * Pages live in svc-web/page-<area>.c, each with its own route table (method, path,
 * handler, flags); a handler gets a struct webd_rq (webd-request.h) whose session, role
 * and CSRF checks the dispatcher has already made, answers with webd_rq_send_html /
 * webd_rq_redirect / webd_rq_error (or a webd_send_* helper) and returns 0. */
#pragma once

#include <h2o.h>
#include <stdbool.h>

#include "svc-web/webd-json.h"
#include "svc-web/webd.h"

#define WEBD_JSON_CAP (4u * 1024u * 1024u) /* the largest JSON body we build */

struct webd_rq;
typedef int (*webd_route_fn)(struct webd_rq *rq);

struct webd_route {
        const char *method; /* "GET", "POST", ...; HEAD matches GET routes */
        const char *path;   /* exact, or a prefix if it ends with '/' */
        webd_route_fn handler;
        unsigned flags; /* WEBD_R_* (webd-request.h) */
};

/* The route tables of the page areas (svc-web/page-*.c), looked up in this order. */
extern const struct webd_route page_account_routes[];
extern const size_t page_account_n_routes;
extern const struct webd_route page_admin_routes[];
extern const size_t page_admin_n_routes;
extern const struct webd_route page_jobs_routes[];
extern const size_t page_jobs_n_routes;
extern const struct webd_route page_servers_routes[];
extern const size_t page_servers_n_routes;
extern const struct webd_route page_blueprints_routes[];
extern const size_t page_blueprints_n_routes;
extern const struct webd_route page_overlays_routes[];
extern const size_t page_overlays_n_routes;
extern const struct webd_route page_tokens_routes[];
extern const size_t page_tokens_n_routes;
extern const struct webd_route page_api_routes[];
extern const size_t page_api_n_routes;

int webd_http_init(struct webd *w);
void webd_http_done(struct webd *w);
/* Starts accepting HTTP on a listening TCP (or AF_UNIX) socket; takes ownership of fd. */
int webd_http_add_listener(struct webd *w, int fd);
/* Stops accepting for good. */
void webd_http_stop_listening(struct webd *w);

/* Looks a request up in a route table: returns the route, or NULL with *ret_path_known
 * telling whether the path exists under another method (405 rather than 404). Pure;
 * exposed for tests. */
const struct webd_route *webd_route_find(const struct webd_route *table, size_t n, const char *method,
                                         size_t method_len, const char *path, size_t path_len,
                                         bool *ret_path_known);

/* Response helpers. All of them take over the request; return 0. */
int webd_send_text(h2o_req_t *req, int status, const char *reason, const char *content_type,
                   const char *body, size_t len);
/* Sends j's text (j is emptied) as application/json; a failed writer becomes a 500. */
int webd_send_json(h2o_req_t *req, int status, const char *reason, struct json *j);
/* {"error": {"code": code, "message": "..."}} with the given status. */
int webd_send_error(h2o_req_t *req, int status, const char *reason, const char *code, const char *fmt, ...)
        _printf_(5, 6);
