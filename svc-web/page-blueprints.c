/* Blueprints: what a server is made from (launch arguments, server.cfg lines, an ordered
 * list of overlays). Private per user; an admin sees and edits everyone's.
 *
 * The overlay picker works without JavaScript: its add, up, down and remove buttons submit
 * the form with an `op` field, and the page comes back with the list changed and nothing
 * saved. left4me.js does the same in place (and drag and drop, and the exec preview). The
 * submitted order of `overlay_ids` is the layer order, first = top.
 *
 * Which overlays a blueprint may stack: those the host has (hostd's overlay.list) that its
 * owner may use. A web overlay (web-<id>, page-overlays.c) is usable when it is a system one
 * or the owner's own (web.db checks this again on every store); the host's other overlays
 * were made by the operator with l4d2ctl and are open to all. An overlay that was never built
 * is not on the host yet, so not offered; a blueprint naming one the host lacks is refused. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/names.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-spec.h"

#define BLUEPRINTS        "/blueprints"
#define HOST_OVERLAYS_MAX 1024u

/* The overlays a blueprint's owner may stack, kept for one request. */
struct host_overlays {
        bool known; /* hostd answered */
        char error[640];
        size_t n;
        char (*ids)[WEBD_OVERLAY_ID_MAX + 1];
        char (*labels)[WEBD_NAME_MAX + 1]; /* a web overlay's name, else the id */
};

/* The web overlays owner_id may stack, from web.db, by id. */
struct usable {
        struct webd_rq *rq;
        size_t n, cap;
        int64_t *ids;
        char (*names)[WEBD_NAME_MAX + 1];
};

static int usable_add(const struct webd_overlay *x, void *userdata) {
        struct usable *u = userdata;

        if (x->deleting || u->n == u->cap)
                return 0;
        u->ids[u->n] = x->id;
        snprintf(u->names[u->n++], sizeof(u->names[0]), "%s", x->name);
        return 0;
}

static void overlays_from_reply(struct webd_rq *rq, const struct rpc_core_reply *r, int64_t owner_id,
                                struct host_overlays *o) {
        const msgpack_object_array *a = NULL;
        struct usable u = {rq, 0, HOST_OVERLAYS_MAX, NULL, NULL};

        *o = (struct host_overlays){};
        if (r->failed) {
                snprintf(o->error, sizeof(o->error), "The overlays cannot be listed: %s", r->error.message);
                return;
        }
        if (r->result && r->result->type == MSGPACK_OBJECT_ARRAY)
                a = &r->result->via.array;
        else
                a = obj_array(r->result, "overlays");
        o->known = true;
        if (!a)
                return;
        o->ids = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*o->ids) * MIN(a->size, HOST_OVERLAYS_MAX) + 1);
        o->labels =
                h2o_mem_alloc_pool(&rq->req->pool, sizeof(*o->labels) * MIN(a->size, HOST_OVERLAYS_MAX) + 1);
        u.ids = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*u.ids) * u.cap);
        u.names = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*u.names) * u.cap);
        /* The owner's view: system overlays and their own (not everyone's, for an admin). */
        (void) webd_db_overlay_list(rq->w->db, owner_id, false, usable_add, &u);
        for (uint32_t i = 0; i < a->size && o->n < HOST_OVERLAYS_MAX; i++) {
                char id[WEBD_OVERLAY_ID_MAX + 1];
                int64_t web = webd_host_id(obj_str(&a->ptr[i], "id", id, sizeof(id)));
                const char *label = id;

                if (!name_is_valid(id))
                        continue;
                if (web) {
                        label = NULL;
                        for (size_t j = 0; j < u.n && !label; j++)
                                if (u.ids[j] == web)
                                        label = u.names[j];
                        if (!label)
                                continue; /* another user's, or being removed */
                }
                memcpy(o->ids[o->n], id, sizeof(id));
                snprintf(o->labels[o->n++], sizeof(o->labels[0]), "%s", label);
        }
}

static bool overlay_known(const struct host_overlays *o, const char *id) {
        for (size_t i = 0; i < o->n; i++)
                if (streq(o->ids[i], id))
                        return true;
        return false;
}

/* What the picker shows for id: its name for a web overlay, else the id. */
static const char *overlay_label(const struct host_overlays *o, const char *id) {
        for (size_t i = 0; i < o->n; i++)
                if (streq(o->ids[i], id))
                        return o->labels[i];
        return id;
}

/* ---- the form ----------------------------------------------------------------------------------- */

static void overlay_row(struct html *h, const struct webd_bp_overlay *x, const char *label, size_t i,
                        size_t n) {
        char value[WEBD_OVERLAY_ID_MAX + 16];

        html_elem(h, "li");
        html_attr(h, "class", "overlay-row");
        html_attr(h, "draggable", "true");
        html_attr(h, "data-overlay", x->id);
        html_attr(h, "data-label", label);
        html_elem(h, "input");
        html_attr(h, "type", "hidden");
        html_attr(h, "name", "overlay_ids");
        html_attr(h, "value", x->id);
        html_elem(h, "span");
        html_attr(h, "class", "overlay-name");
        html_text(h, label);
        html_close(h, "span");
        html_elem(h, "label");
        html_elem(h, "input");
        html_attr(h, "type", "checkbox");
        html_attr(h, "name", "expose_overlay_ids");
        html_attr(h, "value", x->id);
        if (x->expose)
                html_attr(h, "checked", NULL);
        html_textf(h, " exec its server.cfg");
        html_close(h, "label");
        html_elem(h, "span");
        html_attr(h, "class", "row-buttons");
        for (const char *const *op = (const char *const[]){"up", "down", "remove", NULL}; *op; op++) {
                if ((streq(*op, "up") && i == 0) || (streq(*op, "down") && i + 1 == n))
                        continue;
                snprintf(value, sizeof(value), "%s:%s", *op, x->id);
                html_elem(h, "button");
                html_attr(h, "type", "submit");
                html_attr(h, "name", "op");
                html_attr(h, "value", value);
                html_attr(h, "formnovalidate", NULL);
                html_attr(h, "class", streq(*op, "remove") ? "link danger" : "link");
                html_attr(h, "data-op", *op);
                if (streq(*op, "up")) {
                        html_attr(h, "aria-label", "Move up");
                        html_text(h, "↑");
                } else if (streq(*op, "down")) {
                        html_attr(h, "aria-label", "Move down");
                        html_text(h, "↓");
                } else {
                        html_attr(h, "aria-label", "Remove");
                        html_text(h, "×");
                }
                html_close(h, "button");
        }
        html_close(h, "span");
        html_close(h, "li");
}

static void preview_line(const char *line, void *userdata) {
        struct html *h = userdata;
        html_textf(h, "%s\n", line);
}

static void blueprint_form(struct webd_rq *rq, struct html *h, const char *action,
                           const struct webd_blueprint *b, const struct host_overlays *o,
                           const char *submit) {
        html_elem(h, "form");
        html_attr(h, "method", "post");
        html_attr(h, "action", action);
        html_attr(h, "class", "blueprint-form");
        html_elem(h, "input");
        html_attr(h, "type", "hidden");
        html_attr(h, "name", "csrf_token");
        html_attr(h, "value", rq->session.csrf);
        page_input(h, "Name", "text", "name", b->name, "off", true);
        page_input(h, "Launch arguments (for example: +map c1m1_hotel -tickrate 60)", "text", "arguments",
                   b->arguments, "off", false);
        html_elem(h, "div");
        html_attr(h, "class", "field");
        html_elem(h, "label");
        html_attr(h, "for", "f-config");
        html_text(h, "server.cfg lines");
        html_close(h, "label");
        html_elem(h, "textarea");
        html_attr(h, "id", "f-config");
        html_attr(h, "name", "config");
        html_attr(h, "rows", "8");
        html_attr(h, "spellcheck", "false");
        html_attr(h, "data-editor", "srccfg");
        html_text(h, b->config ?: "");
        html_close(h, "textarea");
        html_close(h, "div");

        html_elem(h, "fieldset");
        html_attr(h, "class", "overlay-picker");
        html_elem_text(h, "legend", "Overlays (first = top layer: its files win)");
        html_elem(h, "ol");
        html_attr(h, "id", "overlay-list");
        for (size_t i = 0; i < b->n_overlays; i++)
                overlay_row(h, &b->overlays[i], overlay_label(o, b->overlays[i].id), i, b->n_overlays);
        html_close(h, "ol");
        if (o->known) {
                page_select_begin(h, "field inline", "Add overlay", "f-add", "add_overlay", false);
                page_option(h, "", "—", false);
                for (size_t i = 0; i < o->n; i++) {
                        bool used = false;
                        for (size_t j = 0; j < b->n_overlays; j++)
                                used = used || streq(b->overlays[j].id, o->ids[i]);
                        if (!used)
                                page_option(h, o->ids[i], o->labels[i], false);
                }
                html_close(h, "select");
                html_elem(h, "button");
                html_attr(h, "type", "submit");
                html_attr(h, "name", "op");
                html_attr(h, "value", "add");
                html_attr(h, "formnovalidate", NULL);
                html_attr(h, "class", "secondary");
                html_attr(h, "data-op", "add");
                html_text(h, "Add");
                html_close(h, "button");
                html_close(h, "div");
        } else
                page_alert(h, "warning", o->error[0] ? o->error : "The overlays cannot be listed now.");
        html_elem(h, "p");
        html_text(h, "These lines run first, from the bottom layer up:");
        html_close(h, "p");
        html_elem(h, "pre");
        html_attr(h, "class", "preview");
        html_attr(h, "id", "exec-preview");
        webd_spec_exec_lines(b, preview_line, h);
        html_close(h, "pre");
        html_close(h, "fieldset");
        page_button(h, submit, "primary");
        html_close(h, "form");
}

/* Reads the form into b (strings point into the form). The op field (add, up:<id>,
 * down:<id>, remove:<id>) changes the list; *ret_op says one was given. -EINVAL with err. */
static int blueprint_from_form(struct webd_rq *rq, struct webd_blueprint *b, bool *ret_op, char *err,
                               size_t errlen) {
        const struct form *f = &rq->form;
        const char *op = webd_rq_field(rq, "op");

        b->name = (char *) (form_get(f, "name") ?: "");
        b->arguments = (char *) (form_get(f, "arguments") ?: "");
        b->config = (char *) (form_get(f, "config") ?: "");
        b->n_overlays = 0;
        for (size_t i = 0; i < f->n_fields; i++) {
                if (!streq(f->fields[i].name, "overlay_ids"))
                        continue;
                if (b->n_overlays == WEBD_BP_OVERLAYS_MAX) {
                        snprintf(err, errlen, "At most %u overlays in a blueprint.", WEBD_BP_OVERLAYS_MAX);
                        return -EINVAL;
                }
                if (!name_is_valid(f->fields[i].value)) {
                        snprintf(err, errlen, "Overlay %zu is not a valid overlay.", b->n_overlays + 1);
                        return -EINVAL;
                }
                snprintf(b->overlays[b->n_overlays++].id, sizeof(b->overlays[0].id), "%s",
                         f->fields[i].value);
        }
        for (size_t i = 0; i < f->n_fields; i++) {
                if (!streq(f->fields[i].name, "expose_overlay_ids"))
                        continue;
                for (size_t j = 0; j < b->n_overlays; j++)
                        if (streq(b->overlays[j].id, f->fields[i].value))
                                b->overlays[j].expose = true;
        }
        *ret_op = op != NULL;
        if (!op)
                return 0;
        if (streq(op, "add")) {
                const char *add = form_get(f, "add_overlay");
                if (isempty(add))
                        return 0;
                if (!name_is_valid(add) || b->n_overlays == WEBD_BP_OVERLAYS_MAX) {
                        snprintf(err, errlen, "That overlay cannot be added.");
                        return -EINVAL;
                }
                for (size_t j = 0; j < b->n_overlays; j++)
                        if (streq(b->overlays[j].id, add))
                                return 0;
                snprintf(b->overlays[b->n_overlays++].id, sizeof(b->overlays[0].id), "%s", add);
                return 0;
        }
        for (size_t j = 0; j < b->n_overlays; j++) {
                struct webd_bp_overlay t;
                const char *colon = strchr(op, ':');
                if (!colon || !streq(colon + 1, b->overlays[j].id))
                        continue;
                if (strneq(op, "up:", 3) && j > 0) {
                        t = b->overlays[j - 1];
                        b->overlays[j - 1] = b->overlays[j];
                        b->overlays[j] = t;
                } else if (strneq(op, "down:", 5) && j + 1 < b->n_overlays) {
                        t = b->overlays[j + 1];
                        b->overlays[j + 1] = b->overlays[j];
                        b->overlays[j] = t;
                } else if (strneq(op, "remove:", 7)) {
                        memmove(&b->overlays[j], &b->overlays[j + 1],
                                (b->n_overlays - j - 1) * sizeof(b->overlays[0]));
                        b->n_overlays--;
                }
                break;
        }
        return 0;
}

/* ---- pages ------------------------------------------------------------------------------------- */

struct list_ctx {
        struct webd_rq *rq;
        struct html *h;
        unsigned n;
};

static int list_row(const struct webd_blueprint *b, void *userdata) {
        struct list_ctx *c = userdata;
        char href[48];

        c->n++;
        html_elem(c->h, "tr");
        html_elem(c->h, "td");
        snprintf(href, sizeof(href), BLUEPRINTS "/%" PRId64, b->id);
        html_elem(c->h, "a");
        html_attr(c->h, "href", href);
        html_text(c->h, b->name);
        html_close(c->h, "a");
        html_close(c->h, "td");
        if (c->rq->user.is_admin)
                html_elem_text(c->h, "td", b->owner_name);
        html_elem(c->h, "td");
        html_textf(c->h, "%u", b->n_servers);
        html_close(c->h, "td");
        html_elem(c->h, "td");
        page_time(c->h, b->updated_usec);
        html_close(c->h, "td");
        html_close(c->h, "tr");
        return 0;
}

/* GET /blueprints (after overlay.list), and the create form again after a refusal. */
static int list_page(struct webd_rq *rq, int status, const char *error, const struct webd_blueprint *draft,
                     const struct host_overlays *o) {
        struct html h;
        struct list_ctx c = {rq, &h, 0};
        struct webd_blueprint empty = {.name = "", .arguments = "", .config = ""};

        html_init(&h, 0);
        rq->want_editor = true; /* the form's server.cfg field */
        page_begin(rq, &h, "Blueprints");
        html_elem_text(&h, "h1", "Blueprints");
        if (error)
                page_alert(&h, "error", error);
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "blueprints");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Name");
        if (rq->user.is_admin)
                html_elem_text(&h, "th", "Owner");
        html_elem_text(&h, "th", "Servers");
        html_elem_text(&h, "th", "Changed");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        if (webd_db_blueprint_list(rq->w->db, rq->user.is_admin ? 0 : rq->user.id, list_row, &c) < 0)
                log_error("web.db: cannot list blueprints: %s", webd_db_errmsg(rq->w->db));
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (c.n == 0)
                html_elem_text(&h, "p", "No blueprints yet: make the first one below.");
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "New blueprint");
        blueprint_form(rq, &h, BLUEPRINTS, draft ?: &empty, o, "Create blueprint");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

struct server_names {
        struct html *h;
        unsigned n;
};

static int server_name_item(const struct webd_server *s, void *userdata) {
        struct server_names *c = userdata;
        char href[48];

        c->n++;
        snprintf(href, sizeof(href), "/servers/%" PRId64, s->id);
        html_elem(c->h, "li");
        html_elem(c->h, "a");
        html_attr(c->h, "href", href);
        html_text(c->h, s->name);
        html_close(c->h, "a");
        html_close(c->h, "li");
        return 0;
}

static int detail_page(struct webd_rq *rq, int status, const char *error, const struct webd_blueprint *b,
                       const struct host_overlays *o) {
        struct webd_server_filter f = {.blueprint_id = b->id};
        struct html h;
        struct server_names sn = {&h, 0};
        char action[64];

        html_init(&h, 0);
        rq->want_editor = true;
        page_begin(rq, &h, b->name);
        html_elem(&h, "h1");
        html_text(&h, "Blueprint ");
        html_elem_text(&h, "q", b->name);
        html_close(&h, "h1");
        if (error)
                page_alert(&h, "error", error);
        if (b->owner_id != rq->user.id)
                page_alert(&h, "notice", "This blueprint belongs to another user; you see it as an admin.");
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        snprintf(action, sizeof(action), BLUEPRINTS "/%" PRId64, b->id);
        blueprint_form(rq, &h, action, b, o, "Save");
        html_close(&h, "section");
        html_elem_text(&h, "h2", "Servers using it");
        html_elem(&h, "ul");
        html_attr(&h, "id", "blueprint-servers");
        (void) webd_db_server_list(rq->w->db, &f, server_name_item, &sn);
        html_close(&h, "ul");
        if (sn.n == 0)
                html_elem_text(&h, "p", "None. A server picks this blueprint up at its next start.");
        html_elem(&h, "div");
        html_attr(&h, "class", "actions");
        snprintf(action, sizeof(action), BLUEPRINTS "/%" PRId64 "/clone", b->id);
        page_action(rq, &h, action, "Clone", "secondary", NULL);
        snprintf(action, sizeof(action), BLUEPRINTS "/%" PRId64 "/delete", b->id);
        page_action(rq, &h, action, "Delete", "danger", "Delete this blueprint?");
        html_close(&h, "div");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

/* ---- routes ------------------------------------------------------------------------------------ */

int page_overlay_list(struct webd_rq *rq, webd_rq_reply_fn fn, void *arg) {
        int r = webd_rq_call(rq, WEBD_PEER_HOST, "overlay.list", NULL, fn, arg);
        if (r < 0) {
                /* hostd is not reachable: the page still works, without what hostd knows. */
                struct rpc_core_reply fake = {.transport_error = r, .failed = true, .fd = -1};
                (void) rpc_error_set(&fake.error, RPC_UNAVAILABLE, "the host service is unavailable (%s)",
                                     strerror(-r));
                return fn(rq, &fake, arg);
        }
        return 0;
}

static int list_with_overlays(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct host_overlays o;

        overlays_from_reply(rq, r, rq->user.id, &o);
        return list_page(rq, 200, NULL, NULL, &o);
}

/* GET /blueprints */
static int route_list(struct webd_rq *rq) {
        return page_overlay_list(rq, list_with_overlays, NULL);
}

static int load_visible(struct webd_rq *rq, int64_t id, struct webd_blueprint *b) {
        int r = id ? webd_db_blueprint_get(rq->w->db, id, b) : -ENOENT;

        if (r >= 0 && !page_may_see(rq, b->owner_id)) {
                webd_blueprint_done(b);
                r = -ENOENT;
        }
        return r;
}

static int detail_with_overlays(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        int64_t id = (int64_t) (intptr_t) arg;
        struct webd_blueprint b = {};
        struct host_overlays o;
        int rr;

        if (load_visible(rq, id, &b) < 0)
                return webd_rq_error(rq, 404, "Not found", "There is no such blueprint.");
        overlays_from_reply(rq, r, b.owner_id, &o);
        rr = detail_page(rq, 200, NULL, &b, &o);
        webd_blueprint_done(&b);
        return rr;
}

/* GET /blueprints/<id> */
static int route_detail(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, BLUEPRINTS "/", &rest);
        struct webd_blueprint b = {};

        if (!id || *rest || load_visible(rq, id, &b) < 0)
                return webd_rq_error(rq, 404, "Not found", "There is no such blueprint.");
        webd_blueprint_done(&b);
        return page_overlay_list(rq, detail_with_overlays, (void *) (intptr_t) id);
}

/* A save (create or update) waits for overlay.list, to refuse overlays the host lacks. */
static int save_with_overlays(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        int64_t id = (int64_t) (intptr_t) arg; /* 0 = create */
        struct webd_blueprint cur = {}, b = {};
        struct host_overlays o;
        char err[768] = "", object[48], to[64];
        bool op = false;
        int rr, status = 400;
        struct webd_audit a;

        if (id && load_visible(rq, id, &cur) < 0)
                return webd_rq_error(rq, 404, "Not found", "There is no such blueprint.");
        b.id = id;
        b.owner_id = id ? cur.owner_id : rq->user.id;
        overlays_from_reply(rq, r, b.owner_id, &o);
        rr = blueprint_from_form(rq, &b, &op, err, sizeof(err));
        if (rr >= 0 && op) {
                /* A picker button without JavaScript: show the form again, changed, unsaved. */
                status = 200;
                goto again;
        }
        if (rr >= 0)
                rr = webd_check_blueprint(&b, err, sizeof(err));
        if (rr >= 0 && !o.known && b.n_overlays > 0) {
                snprintf(err, sizeof(err), "%s",
                         o.error[0] ? o.error : "The overlays cannot be checked now.");
                status = 503;
                goto again;
        }
        for (size_t i = 0; rr >= 0 && i < b.n_overlays; i++)
                if (!overlay_known(&o, b.overlays[i].id)) {
                        snprintf(err, sizeof(err), "There is no overlay %s you may use.", b.overlays[i].id);
                        rr = -EINVAL;
                }
        if (rr < 0)
                goto again;

        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = id ? "blueprint.update" : "blueprint.create",
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = b.name,
                                .token = rq->token_name};
        if (id) {
                snprintf(object, sizeof(object), "blueprint:%" PRId64, id);
                rr = webd_db_blueprint_update(rq->w->db, &b, (int64_t) rq->now_usec, &a);
        } else {
                snprintf(object, sizeof(object), "blueprint:new");
                rr = webd_db_blueprint_create(rq->w->db, &b, (int64_t) rq->now_usec, &a, &id);
        }
        if (rr == -EACCES) {
                /* The overlay became unusable between overlay.list and the store. */
                snprintf(err, sizeof(err), "One of the overlays is not one this blueprint's owner may use.");
                status = 403;
                goto again;
        }
        if (rr == -EEXIST) {
                snprintf(err, sizeof(err), "%s already has a blueprint with that name.",
                         b.owner_id == rq->user.id ? "You" : "Its owner");
                status = 409;
                goto again;
        }
        if (rr < 0) {
                snprintf(err, sizeof(err), "The blueprint could not be stored.");
                status = 500;
                goto again;
        }
        webd_blueprint_done(&cur);
        if (rq->token_name)
                return page_api_saved(rq, "blueprint", id, b.id ? 200 : 201);
        snprintf(to, sizeof(to), BLUEPRINTS "/%" PRId64 "?m=blueprint-saved", id);
        return webd_rq_redirect(rq, to);

again:
        if (rq->token_name) {
                /* The API: the sentence the form would show, as JSON; a picker op is no API call.
                 * (b's strings are the form's: nothing of b to free.) */
                webd_blueprint_done(&cur);
                return webd_rq_error(rq, op ? 400 : status, "Not saved", err[0] ? err : "Unknown field op.");
        }
        rr = b.id ? detail_page(rq, status, err[0] ? err : NULL, &b, &o)
                  : list_page(rq, status, err[0] ? err : NULL, &b, &o);
        webd_blueprint_done(&cur);
        return rr;
}

int page_blueprint_save(struct webd_rq *rq, int64_t id) {
        return page_overlay_list(rq, save_with_overlays, (void *) (intptr_t) id);
}

/* POST /blueprints */
static int route_create(struct webd_rq *rq) {
        return page_overlay_list(rq, save_with_overlays, NULL);
}

static int blueprint_delete(struct webd_rq *rq, struct webd_blueprint *b) {
        struct webd_server_filter f = {.blueprint_id = b->id};
        struct html h;
        struct server_names sn = {&h, 0};
        char object[48];
        struct webd_audit a;
        int r;

        snprintf(object, sizeof(object), "blueprint:%" PRId64, b->id);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "blueprint.delete",
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = b->name};
        r = webd_db_blueprint_delete(rq->w->db, b->id, &a);
        if (r == -EBUSY) {
                html_init(&h, 0);
                page_begin(rq, &h, "Blueprint in use");
                html_elem_text(&h, "h1", "This blueprint is in use");
                html_elem(&h, "p");
                html_attr(&h, "role", "alert");
                html_text(&h, "These servers use it; give them another blueprint or delete them first:");
                html_close(&h, "p");
                html_elem(&h, "ul");
                html_attr(&h, "id", "blueprint-servers");
                (void) webd_db_server_list(rq->w->db, &f, server_name_item, &sn);
                html_close(&h, "ul");
                page_end(rq, &h);
                webd_rq_audit(rq, NULL, "blueprint.delete", object, "denied", "in use");
                return webd_rq_send_html(rq, 409, &h);
        }
        if (r < 0)
                return webd_rq_error(rq, r == -ENOENT ? 404 : 500, "Not deleted",
                                     "The blueprint could not be deleted.");
        return webd_rq_redirect(rq, BLUEPRINTS "?m=blueprint-deleted");
}

static int blueprint_clone(struct webd_rq *rq, struct webd_blueprint *b) {
        struct webd_blueprint c = *b;
        char name[WEBD_NAME_MAX + 1], object[48], to[64];
        struct webd_audit a;
        int64_t id = 0;
        int r = -EEXIST;

        c.owner_id = rq->user.id; /* an admin's clone is the admin's */
        for (unsigned n = 1; r == -EEXIST && n <= 20; n++) {
                if (n == 1)
                        snprintf(name, sizeof(name), "%.*s (copy)", (int) (WEBD_NAME_MAX - 7), b->name);
                else
                        snprintf(name, sizeof(name), "%.*s (copy %u)", (int) (WEBD_NAME_MAX - 12), b->name,
                                 n);
                c.name = name;
                snprintf(object, sizeof(object), "blueprint:%" PRId64, b->id);
                a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                        .actor = rq->user.username,
                                        .kind = "blueprint.clone",
                                        .object = object,
                                        .address = rq->address,
                                        .result = "ok",
                                        .detail = name};
                r = webd_db_blueprint_create(rq->w->db, &c, (int64_t) rq->now_usec, &a, &id);
        }
        if (r < 0)
                return webd_rq_error(rq, 500, "Not cloned", "The blueprint could not be cloned.");
        snprintf(to, sizeof(to), BLUEPRINTS "/%" PRId64 "?m=blueprint-cloned", id);
        return webd_rq_redirect(rq, to);
}

/* POST /blueprints/<id>, /blueprints/<id>/delete, /blueprints/<id>/clone */
static int route_post(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, BLUEPRINTS "/", &rest);
        struct webd_blueprint b = {};
        int r;

        if (!id || load_visible(rq, id, &b) < 0)
                return webd_rq_error(rq, 404, "Not found", "There is no such blueprint.");
        if (!*rest) {
                webd_blueprint_done(&b);
                return page_overlay_list(rq, save_with_overlays, (void *) (intptr_t) id);
        }
        if (streq(rest, "/delete"))
                r = blueprint_delete(rq, &b);
        else if (streq(rest, "/clone"))
                r = blueprint_clone(rq, &b);
        else
                r = webd_rq_error(rq, 404, "Not found", "There is no such action.");
        webd_blueprint_done(&b);
        return r;
}

const struct webd_route page_blueprints_routes[] = {
        {"GET", BLUEPRINTS, route_list, WEBD_R_AUTH},
        {"POST", BLUEPRINTS, route_create, WEBD_R_AUTH},
        {"GET", BLUEPRINTS "/", route_detail, WEBD_R_AUTH},
        {"POST", BLUEPRINTS "/", route_post, WEBD_R_AUTH},
};
const size_t page_blueprints_n_routes = ELEMENTSOF(page_blueprints_routes);
