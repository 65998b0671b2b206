/* /profile/tokens: a user's API tokens (docs/api.md). Made here or by `l4d2ctl web token
 * create`; the secret is shown once, on the page that answers the create (never stored:
 * web.db keeps its hash), and every token can be revoked at once. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-request.h"
#include "svc-web/webd-tokens.h"

#define TOKENS "/profile/tokens"

static const struct {
        const char *value, *text;
} expiries[] = {
        {"30d", "30 days"}, {"7d", "7 days"}, {"90d", "90 days"}, {"366d", "a year"}, {"", "never"},
};

static void scopes_text(struct html *h, unsigned scopes) {
        char buf[256];

        if (webd_scopes_format(scopes, buf, sizeof(buf)) < 0 || !*buf)
                snprintf(buf, sizeof(buf), "none");
        html_elem(h, "code");
        html_text(h, buf);
        html_close(h, "code");
}

struct list_ctx {
        struct webd_rq *rq;
        struct html *h;
        unsigned n;
};

static int token_row(const struct webd_token *t, void *userdata) {
        struct list_ctx *c = userdata;
        struct html *h = c->h;
        char action[64];

        c->n++;
        html_elem(h, "tr");
        html_attr(h, "data-token", t->name);
        html_elem_text(h, "td", t->name);
        html_elem(h, "td");
        scopes_text(h, t->scopes);
        html_close(h, "td");
        html_elem(h, "td");
        if (t->n_servers == 0)
                html_text(h, "all");
        for (size_t i = 0; i < t->n_servers; i++)
                html_textf(h, "%s#%" PRId64, i ? " " : "", t->servers[i]);
        html_close(h, "td");
        html_elem_text(h, "td", t->allow ?: "any");
        html_elem(h, "td");
        if (t->expires_usec)
                page_time(h, t->expires_usec);
        else
                html_text(h, "never");
        html_close(h, "td");
        html_elem(h, "td");
        if (t->last_used_usec) {
                page_time(h, t->last_used_usec);
                html_textf(h, " from %s", t->last_used_address ?: "?");
        } else
                html_text(h, "never");
        html_close(h, "td");
        html_elem(h, "td");
        snprintf(action, sizeof(action), TOKENS "/%" PRId64 "/revoke", t->id);
        page_action(c->rq, h, action, "Revoke", "danger",
                    "Revoke this token? Scripts using it stop at once.");
        html_close(h, "td");
        html_close(h, "tr");
        return 0;
}

struct server_opts {
        struct html *h;
        const struct form *sel; /* the posted form, to keep choices after an error */
};

static bool posted(const struct form *f, const char *name, const char *value) {
        for (size_t i = 0; f && i < f->n_fields; i++)
                if (streq(f->fields[i].name, name) && streq(f->fields[i].value, value))
                        return true;
        return false;
}

static int server_option(const struct webd_server *s, void *userdata) {
        struct server_opts *o = userdata;
        char id[24];

        snprintf(id, sizeof(id), "%" PRId64, s->id);
        html_elem(o->h, "label");
        html_elem(o->h, "input");
        html_attr(o->h, "type", "checkbox");
        html_attr(o->h, "name", "server_ids");
        html_attr(o->h, "value", id);
        if (posted(o->sel, "server_ids", id))
                html_attr(o->h, "checked", NULL);
        html_textf(o->h, " %s (#%s)", s->name, id);
        html_close(o->h, "label");
        return 0;
}

/* The list, the create form (keeping what was posted after an error), and the secret of a
 * token just made. */
static int tokens_page(struct webd_rq *rq, int status, const char *error, const char *secret,
                       const char *secret_name) {
        struct html h;
        struct list_ctx c = {rq, &h};
        struct webd_server_filter f = {.owner_id = rq->user.id};
        struct server_opts so = {&h, error ? &rq->form : NULL};
        const char *name = error ? webd_rq_field(rq, "name") : NULL;
        const char *allow = error ? webd_rq_field(rq, "allow") : NULL;
        const char *expires = error ? webd_rq_field(rq, "expires") : NULL;

        html_init(&h, 0);
        page_begin(rq, &h, "API tokens");
        html_elem_text(&h, "h1", "API tokens");
        html_elem(&h, "p");
        html_attr(&h, "class", "muted");
        html_text(&h, "A token lets a script use the JSON API (/api/v1/) as you, limited to what you choose "
                      "here. See the API documentation for the calls.");
        html_close(&h, "p");
        if (secret) {
                html_elem(&h, "section");
                html_attr(&h, "class", "card");
                html_attr(&h, "id", "new-token");
                html_elem(&h, "h2");
                html_textf(&h, "Token \"%s\" created", secret_name);
                html_close(&h, "h2");
                page_alert(&h, "warning", "Copy the secret now: it is not shown again.");
                html_elem(&h, "input");
                html_attr(&h, "type", "text");
                html_attr(&h, "readonly", NULL);
                html_attr(&h, "id", "token-secret");
                html_attr(&h, "aria-label", "The token's secret");
                html_attr(&h, "value", secret);
                html_elem(&h, "p");
                html_elem(&h, "code");
                html_textf(&h, "curl -H 'Authorization: Bearer %s' %s/api/v1/me", secret,
                           webd_rq_origin(rq));
                html_close(&h, "code");
                html_close(&h, "p");
                html_close(&h, "section");
        }

        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Your tokens");
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "tokens");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Name");
        html_elem_text(&h, "th", "Scopes");
        html_elem_text(&h, "th", "Servers");
        html_elem_text(&h, "th", "Addresses");
        html_elem_text(&h, "th", "Expires");
        html_elem_text(&h, "th", "Last used");
        html_elem_text(&h, "th", "");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        (void) webd_db_token_list(rq->w->db, rq->user.id, token_row, &c);
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (c.n == 0)
                html_elem_text(&h, "p", "No tokens yet.");
        html_close(&h, "section");

        html_elem(&h, "section");
        html_attr(&h, "class", "card narrow");
        html_elem_text(&h, "h2", "New token");
        if (error)
                page_alert(&h, "error", error);
        page_form_begin(rq, &h, TOKENS, NULL);
        page_input(&h, "Name", "text", "name", name, "off", true);
        html_elem(&h, "fieldset");
        html_elem_text(&h, "legend", "Scopes");
        for (unsigned i = 0; i < WEBD_SCOPES_N; i++) {
                const char *s = webd_scope_name(1u << i);
                html_elem(&h, "label");
                html_elem(&h, "input");
                html_attr(&h, "type", "checkbox");
                html_attr(&h, "name", "scope");
                html_attr(&h, "value", s);
                if (posted(so.sel, "scope", s))
                        html_attr(&h, "checked", NULL);
                html_text(&h, " ");
                html_text(&h, s);
                html_close(&h, "label");
        }
        html_close(&h, "fieldset");
        html_elem(&h, "fieldset");
        html_elem_text(&h, "legend", "Servers (none ticked: all of yours)");
        (void) webd_db_server_list(rq->w->db, &f, server_option, &so);
        html_close(&h, "fieldset");
        page_select_begin(&h, NULL, "Expires after", "expires", "expires", false);
        for (size_t i = 0; i < ELEMENTSOF(expiries); i++)
                page_option(&h, expiries[i].value, expiries[i].text,
                            expires ? streq(expires, expiries[i].value) : i == 0);
        page_select_end(&h);
        page_input(&h,
                   "Client addresses (optional: addresses or ranges like 192.0.2.0/24, separated by spaces)",
                   "text", "allow", allow, "off", false);
        page_button(&h, "Create token", "primary");
        html_close(&h, "form");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

static int route_list(struct webd_rq *rq) {
        return tokens_page(rq, 200, NULL, NULL, NULL);
}

/* The posted choices into t; an error sentence, or NULL. */
static const char *token_from_form(struct webd_rq *rq, struct webd_token *t) {
        const char *name = webd_rq_field(rq, "name"), *expires = webd_rq_field(rq, "expires"),
                   *allow = webd_rq_field(rq, "allow");
        struct webd_cidr cidr[WEBD_TOKEN_ALLOW_MAX];
        const struct form *f = &rq->form;

        if (!name || !*name)
                return "Give the token a name.";
        if (strlen(name) > WEBD_TOKEN_NAME_MAX)
                return "The name is too long (at most 64 bytes).";
        t->name = (char *) name;
        for (size_t i = 0; i < f->n_fields; i++) {
                const char *n = f->fields[i].name, *v = f->fields[i].value;
                long long id;

                if (streq(n, "scope")) {
                        int b = webd_scope_from_name(v);
                        if (b < 0)
                                return "Unknown scope.";
                        t->scopes |= (unsigned) b;
                } else if (streq(n, "server_ids")) {
                        struct webd_server s = {};
                        bool mine;

                        if (safe_atoi64(v, 1, INT64_MAX, &id) < 0 ||
                            webd_db_server_get(rq->w->db, id, &s) < 0)
                                return "There is no such server.";
                        mine = s.owner_id == rq->user.id;
                        webd_server_done(&s);
                        /* Only your own: an admin's token still acts on others' servers only
                         * through its own rights, and a list of them would be a second place
                         * that grants it. */
                        if (!mine)
                                return "There is no such server.";
                        if (t->n_servers == WEBD_TOKEN_SERVERS_MAX)
                                return "At most 64 servers.";
                        if (!webd_token_allows_server(t, id) || t->n_servers == 0)
                                t->servers[t->n_servers++] = id;
                }
        }
        if (t->scopes == 0)
                return "Choose at least one scope.";
        if (expires && *expires) {
                int64_t sec = webd_duration_parse(expires);
                if (sec < 0)
                        return "The expiry is not a duration (for example 30d).";
                t->expires_usec = (int64_t) rq->now_usec + sec * 1000000;
        }
        if (allow && *allow) {
                int n = webd_allow_parse(allow, cidr, ELEMENTSOF(cidr), NULL);
                if (n == -E2BIG)
                        return "At most 16 address ranges.";
                if (n < 0)
                        return "An address range is not valid (for example 192.0.2.0/24 or 2001:db8::/32).";
                t->allow = (char *) allow;
        }
        return NULL;
}

/* POST /profile/tokens */
static int route_create(struct webd_rq *rq) {
        struct webd_token t = {.user_id = rq->user.id, .created_usec = (int64_t) rq->now_usec};
        char secret[WEBD_TOKEN_SECRET_LEN + 1], object[48];
        uint8_t hash[WEBD_DB_HASH_BYTES];
        const char *err = token_from_form(rq, &t);
        struct webd_audit a;
        int64_t id = 0;
        int r;

        if (err)
                return tokens_page(rq, 400, err, NULL, NULL);
        webd_token_secret_new(secret);
        (void) webd_token_secret_hash(secret, strlen(secret), hash);
        snprintf(object, sizeof(object), "user:%" PRId64, rq->user.id);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "token.create",
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = t.name};
        r = webd_db_token_create(rq->w->db, &t, hash, &a, &id);
        if (r == -EEXIST)
                return tokens_page(rq, 409, "You have a token of that name already.", NULL, NULL);
        if (r == -EDQUOT)
                return tokens_page(rq, 409, "You have 50 tokens: revoke one first.", NULL, NULL);
        if (r < 0) {
                log_error_errno(r, "web.db: cannot store a token: %s", webd_db_errmsg(rq->w->db));
                return tokens_page(rq, 500, "The token could not be stored.", NULL, NULL);
        }
        r = tokens_page(rq, 201, NULL, secret, t.name);
        sodium_memzero(secret, sizeof(secret));
        return r;
}

/* POST /profile/tokens/ID/revoke: only one's own (404 otherwise, as for every other row). */
static int route_post(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, TOKENS "/", &rest);
        char object[48];
        struct webd_audit a;
        int r;

        if (!id || !streq(rest, "/revoke"))
                return webd_rq_error(rq, 404, "Not found", "There is no such token.");
        snprintf(object, sizeof(object), "token:%" PRId64, id);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "token.revoke",
                                .object = object,
                                .address = rq->address,
                                .result = "ok"};
        r = webd_db_token_delete(rq->w->db, id, rq->user.id, &a);
        if (r == -ENOENT)
                return webd_rq_error(rq, 404, "Not found", "There is no such token.");
        if (r < 0)
                return webd_rq_error(rq, 500, "Not revoked", "The token could not be revoked.");
        return webd_rq_redirect(rq, TOKENS "?m=token-revoked");
}

const struct webd_route page_tokens_routes[] = {
        {"GET", TOKENS, route_list, WEBD_R_AUTH},
        {"POST", TOKENS, route_create, WEBD_R_AUTH},
        {"POST", TOKENS "/", route_post, WEBD_R_AUTH},
};
const size_t page_tokens_n_routes = ELEMENTSOF(page_tokens_routes);
