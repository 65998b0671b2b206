/* See webd-page.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "svc-web/webd-page.h"

/* htmx reads its configuration from this meta tag: no inline style for indicators and no
 * eval, so a strict CSP holds. Error answers are whole pages saying what went wrong, so
 * they are shown like any other (htmx would otherwise leave the old page in place). */
#define HTMX_CONFIG                                                                                         \
        "{\"includeIndicatorStyles\":false,\"allowEval\":false,\"allowScriptTags\":false,"                  \
        "\"responseHandling\":[{\"code\":\"204\",\"swap\":false},{\"code\":\".*\",\"swap\":true}]}"

static const struct {
        const char *code, *text;
} flashes[] = {
        {"logged-out", "You are logged out."},
        {"password-changed", "Your password was changed. Your other sessions were ended."},
        {"must-change", "Please choose a new password before you go on."},
        {"sessions-ended", "Your other sessions were ended."},
        {"user-created", "The user was created."},
        {"user-updated", "The user was updated."},
        {"user-deleted", "The user was deleted."},
        {"password-set", "The password was set."},
        {"blueprint-saved", "The blueprint was saved. Servers use it from their next start."},
        {"blueprint-deleted", "The blueprint was deleted."},
        {"blueprint-cloned", "This is the copy; rename it as you like."},
        {"server-adopted", "The instance is a server here now; its next start uses the blueprint."},
        {"overlay-created", "The overlay was made. Write its script and build it."},
        {"overlay-saved", "The overlay was saved."},
        {"overlay-building", "The build was submitted; its output follows below."},
        {"overlay-deleted", "The overlay was deleted."},
        {"overlay-removing", "The overlay is being removed from the host."},
        {"files-changed",
         "Done: the overlay has a new generation; running servers keep theirs until they restart."},
        {"server-created", "The server was created. Start it when you are ready."},
        {"server-saved", "The server was saved. A new hostname or blueprint applies at the next start."},
        {"server-deleting", "The server is being deleted."},
        {"server-deleted", "The server was deleted."},
        {"token-revoked", "The token was revoked: it no longer works."},
        {"rcon-rotated", "A new RCON password was made; it applies at the next start."},
        {"job-cancelled", "The job was cancelled."},
        {"job-ended", "The job had already ended."},
        {"job-exists", "This server is already being started: this is that job."},
};

const char *page_flash_text(const char *code) {
        for (size_t i = 0; code && i < ELEMENTSOF(flashes); i++)
                if (streq(flashes[i].code, code))
                        return flashes[i].text;
        return NULL;
}

static void script(struct html *h, const char *src) {
        html_elem(h, "script");
        html_attr(h, "src", src);
        html_attr(h, "defer", NULL);
        html_close(h, "script");
}

static void nav_link(struct webd_rq *rq, struct html *h, const char *href, const char *text) {
        bool here = streq(rq->path, href) || (strlen(href) > 1 && strneq(rq->path, href, strlen(href)));

        html_elem(h, "a");
        html_attr(h, "href", href);
        if (here)
                html_attr(h, "aria-current", "page");
        html_text(h, text);
        html_close(h, "a");
}

static void flash(struct webd_rq *rq, struct html *h) {
        struct form q = {};
        const char *code, *text;

        if (!*rq->query || form_parse_query(&q, rq->query, strlen(rq->query), NULL) < 0)
                return;
        code = form_get(&q, "m");
        text = page_flash_text(code);
        if (text) {
                html_elem(h, "div");
                html_attr(h, "class", "flash");
                html_attr(h, "role", "status");
                html_text(h, text);
                html_close(h, "div");
        }
        form_done(&q);
}

void page_begin(struct webd_rq *rq, struct html *h, const char *title) {
        char hx_headers[128];

        html_doctype(h);
        html_elem(h, "html");
        html_attr(h, "lang", "en");
        html_elem(h, "head");
        html_elem(h, "meta");
        html_attr(h, "charset", "utf-8");
        html_elem(h, "meta");
        html_attr(h, "name", "viewport");
        html_attr(h, "content", "width=device-width, initial-scale=1");
        html_elem(h, "meta");
        html_attr(h, "name", "htmx-config");
        html_attr(h, "content", HTMX_CONFIG);
        html_elem(h, "title");
        html_textf(h, "%s · left4me", title);
        html_close(h, "title");
        html_elem(h, "link");
        html_attr(h, "rel", "stylesheet");
        html_attr(h, "href", "/static/left4me.css");
        html_elem(h, "link");
        html_attr(h, "rel", "icon");
        html_attr(h, "href", "/static/favicon.svg");
        script(h, "/static/htmx.min.js");
        script(h, "/static/sse.js");
        script(h, "/static/left4me.js");
        if (rq->want_editor)
                script(h, "/static/editor.js");
        html_close(h, "head");

        html_elem(h, "body");
        if (rq->authed) {
                /* htmx sends the token with every request it makes; forms carry their own. */
                snprintf(hx_headers, sizeof(hx_headers), "{\"X-CSRF-Token\":\"%s\"}", rq->session.csrf);
                html_attr(h, "hx-headers", hx_headers);
                html_attr(h, "hx-boost", "true");
        }
        html_elem(h, "header");
        html_attr(h, "class", "topbar");
        html_elem(h, "a");
        html_attr(h, "class", "brand");
        html_attr(h, "href", "/");
        html_text(h, "left4me");
        html_close(h, "a");
        if (rq->authed) {
                html_elem(h, "nav");
                html_attr(h, "aria-label", "Main");
                nav_link(rq, h, "/", "Dashboard");
                nav_link(rq, h, "/servers", "Servers");
                nav_link(rq, h, "/blueprints", "Blueprints");
                nav_link(rq, h, "/overlays", "Overlays");
                if (rq->user.is_admin) {
                        nav_link(rq, h, "/admin", "Admin");
                        nav_link(rq, h, "/admin/jobs", "Jobs");
                        nav_link(rq, h, "/admin/users", "Users");
                        nav_link(rq, h, "/admin/audit", "Audit log");
                }
                html_close(h, "nav");
                html_elem(h, "div");
                html_attr(h, "class", "me");
                nav_link(rq, h, "/profile", rq->user.username);
                page_action(rq, h, "/logout", "Log out", "link", NULL);
                html_close(h, "div");
        }
        html_close(h, "header");
        html_elem(h, "main");
        html_attr(h, "id", "main");
        flash(rq, h);
}

void page_end(struct webd_rq *rq, struct html *h) {
        html_close(h, "main");
        html_elem(h, "footer");
        html_textf(h, "left4me %s", LEFT4ME_VERSION);
        html_close(h, "footer");
        html_close(h, "body");
        html_close(h, "html");
}

static void form_open(struct html *h, const char *action) {
        html_elem(h, "form");
        html_attr(h, "method", "post");
        html_attr(h, "action", action);
}

static void csrf_field(struct webd_rq *rq, struct html *h, const char *token) {
        html_elem(h, "input");
        html_attr(h, "type", "hidden");
        html_attr(h, "name", "csrf_token");
        html_attr(h, "value", token ?: (rq->authed ? rq->session.csrf : ""));
}

void page_form_begin(struct webd_rq *rq, struct html *h, const char *action, const char *token) {
        form_open(h, action);
        csrf_field(rq, h, token);
}

void page_input(struct html *h, const char *label, const char *type, const char *name, const char *value,
                const char *autocomplete, bool required) {
        char id[96];

        snprintf(id, sizeof(id), "f-%s", name);
        html_elem(h, "div");
        html_attr(h, "class", "field");
        html_elem(h, "label");
        html_attr(h, "for", id);
        html_text(h, label);
        html_close(h, "label");
        html_elem(h, "input");
        html_attr(h, "id", id);
        html_attr(h, "type", type);
        html_attr(h, "name", name);
        if (value)
                html_attr(h, "value", value);
        if (autocomplete)
                html_attr(h, "autocomplete", autocomplete);
        if (required)
                html_attr(h, "required", NULL);
        html_close(h, "div");
}

void page_log_panel(struct html *h, const char *id, const char *kind, const char *href) {
        char attr[32];

        snprintf(attr, sizeof(attr), "data-%s", kind);
        html_elem(h, "pre");
        html_attr(h, "class", "log");
        html_attr(h, "id", id);
        html_attr(h, attr, href);
        html_attr(h, "aria-live", streq(kind, "journal") ? "off" : "polite");
        html_close(h, "pre");
        html_elem(h, "p");
        html_attr(h, "class", "stream-status");
        html_attr(h, "data-stream-status", id);
        html_close(h, "p");
}

void page_select_begin(struct html *h, const char *klass, const char *label, const char *id,
                       const char *name, bool required) {
        html_elem(h, "div");
        html_attr(h, "class", klass ?: "field");
        html_elem(h, "label");
        html_attr(h, "for", id);
        html_text(h, label);
        html_close(h, "label");
        html_elem(h, "select");
        html_attr(h, "id", id);
        html_attr(h, "name", name);
        if (required)
                html_attr(h, "required", NULL);
}

void page_option(struct html *h, const char *value, const char *text, bool selected) {
        html_elem(h, "option");
        html_attr(h, "value", value);
        if (selected)
                html_attr(h, "selected", NULL);
        html_text(h, text);
        html_close(h, "option");
}

void page_select_end(struct html *h) {
        html_close(h, "select");
        html_close(h, "div");
}

void page_button(struct html *h, const char *text, const char *klass) {
        html_elem(h, "button");
        html_attr(h, "type", "submit");
        if (klass)
                html_attr(h, "class", klass);
        html_text(h, text);
        html_close(h, "button");
}

void page_action(struct webd_rq *rq, struct html *h, const char *action, const char *text, const char *klass,
                 const char *confirm) {
        form_open(h, action);
        html_attr(h, "class", "inline");
        if (confirm)
                html_attr(h, "data-confirm", confirm);
        csrf_field(rq, h, NULL);
        page_button(h, text, klass);
        html_close(h, "form");
}

void page_alert(struct html *h, const char *klass, const char *text) {
        html_elem(h, "div");
        html_attr(h, "class", klass);
        html_attr(h, "role", "alert");
        html_text(h, text);
        html_close(h, "div");
}

void page_time(struct html *h, int64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        char buf[32], iso[32];

        if (usec <= 0 || !gmtime_r(&t, &tm)) {
                html_text(h, "—");
                return;
        }
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
        html_elem(h, "time");
        html_attr(h, "datetime", iso);
        html_text(h, buf);
        html_close(h, "time");
}

void page_fact(struct html *h, const char *term, const char *value) {
        html_elem_text(h, "dt", term);
        html_elem_text(h, "dd", value);
}

void page_fact_time(struct html *h, const char *term, int64_t usec) {
        if (usec <= 0)
                return;
        html_elem_text(h, "dt", term);
        html_elem(h, "dd");
        page_time(h, usec);
        html_close(h, "dd");
}

/* ---- the audit log ---------------------------------------------------------------------------- */

#define AUDIT_SECTION_ROWS 20u
#define AUDIT_PAGE_ROWS    100u

struct audit_rows {
        struct html *h;
        unsigned columns;
        int n;
};

static int audit_row(const struct webd_audit *e, void *userdata) {
        struct audit_rows *c = userdata;
        struct html *h = c->h;

        html_elem(h, "tr");
        html_elem(h, "td");
        page_time(h, e->at_usec);
        html_close(h, "td");
        html_elem(h, "td");
        html_text(h, e->actor ?: "");
        if (e->token) {
                html_text(h, " via token ");
                html_elem_text(h, "q", e->token);
        }
        html_close(h, "td");
        html_elem_text(h, "td", e->kind);
        if (c->columns & PAGE_AUDIT_OBJECT)
                html_elem_text(h, "td", e->object ?: "");
        html_elem_text(h, "td", e->result);
        if (c->columns & PAGE_AUDIT_ADDRESS)
                html_elem_text(h, "td", e->address ?: "");
        html_elem_text(h, "td", e->detail ?: "");
        html_close(h, "tr");
        c->n++;
        return 0;
}

int page_audit_table(struct webd_rq *rq, struct html *h, const char *id, const struct webd_audit_filter *f,
                     unsigned columns, int64_t *ret_next) {
        struct audit_rows c = {.h = h, .columns = columns};
        int64_t next = 0;
        int r;

        html_elem(h, "div");
        html_attr(h, "class", "table-wrap");
        html_elem(h, "table");
        html_attr(h, "id", id);
        html_elem(h, "thead");
        html_elem(h, "tr");
        html_elem_text(h, "th", "When");
        html_elem_text(h, "th", "Who");
        html_elem_text(h, "th", "What");
        if (columns & PAGE_AUDIT_OBJECT)
                html_elem_text(h, "th", "Object");
        html_elem_text(h, "th", "Result");
        if (columns & PAGE_AUDIT_ADDRESS)
                html_elem_text(h, "th", "From");
        html_elem_text(h, "th", "Detail");
        html_close(h, "tr");
        html_close(h, "thead");
        html_elem(h, "tbody");
        r = webd_db_audit_query(rq->w->db, f, audit_row, &c, &next);
        html_close(h, "tbody");
        html_close(h, "table");
        html_close(h, "div");
        if (r < 0) {
                page_alert(h, "error", "The audit log could not be read.");
                return r;
        }
        if (c.n == 0)
                html_elem_text(h, "p", "Nothing recorded.");
        if (ret_next)
                *ret_next = next;
        return c.n;
}

void page_audit_more(struct html *h, const char *base, int64_t next) {
        char more[768];

        if (next <= 0)
                return;
        if ((size_t) snprintf(more, sizeof(more), "%s%sbefore=%" PRId64, base, strchr(base, '?') ? "&" : "?",
                              next) >= sizeof(more))
                return;
        html_elem(h, "p");
        html_elem(h, "a");
        html_attr(h, "href", more);
        html_attr(h, "rel", "next");
        html_text(h, "Older entries");
        html_close(h, "a");
        html_close(h, "p");
}

void page_audit_section(struct webd_rq *rq, struct html *h, const char *object, const char *all_href) {
        struct webd_audit_filter f = {.object = object, .limit = AUDIT_SECTION_ROWS};

        html_elem(h, "section");
        html_attr(h, "class", "card");
        html_attr(h, "id", "history");
        html_elem_text(h, "h2", "History");
        (void) page_audit_table(rq, h, "history-entries", &f, 0, NULL);
        html_elem(h, "p");
        html_elem(h, "a");
        html_attr(h, "href", all_href);
        html_text(h, "All history");
        html_close(h, "a");
        html_close(h, "p");
        html_close(h, "section");
}

int page_audit_history(struct webd_rq *rq, const char *title, const char *object, const char *back,
                       const char *back_text) {
        struct webd_audit_filter f = {.object = object, .limit = AUDIT_PAGE_ROWS};
        struct form q = {};
        const char *v;
        long long before = 0;
        int64_t next = 0;
        struct html h;

        if (*rq->query && form_parse_query(&q, rq->query, strlen(rq->query), NULL) < 0)
                return webd_rq_error(rq, 400, "Bad query", form_err_to_string(q.err));
        v = form_get(&q, "before");
        if (v && *v && safe_atoi64(v, 1, INT64_MAX, &before) < 0) {
                form_done(&q);
                return webd_rq_error(rq, 400, "Bad query", "before must be an entry id.");
        }
        form_done(&q);
        f.before_id = before;
        html_init(&h, 0);
        page_begin(rq, &h, title);
        html_elem_text(&h, "h1", title);
        html_elem(&h, "p");
        html_elem(&h, "a");
        html_attr(&h, "href", back);
        html_text(&h, back_text);
        html_close(&h, "a");
        html_close(&h, "p");
        if (page_audit_table(rq, &h, "history", &f, 0, &next) >= 0)
                page_audit_more(&h, rq->path, next);
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}
