/* Overlays: the layers a blueprint stacks over the game install. web.db has the name, scope
 * and a script overlay's script (webd-overlays.h); hostd has the content (overlays/web-<id>,
 * in generations); jobd builds it. So a page is web.db's row plus what hostd says of the
 * host side (overlay.list: the current generation; instance.list: which generation each
 * running server mounts) plus the last job (jobs.get), each optional: a daemon that does not
 * answer leaves its part out with a notice, never the page.
 *
 * Who sees what: system overlays everyone, a private one its owner (and admins); anybody
 * else gets 404. Who changes what: admins the system ones, the owner (or an admin) a private
 * one. A script is shown to those who may change the overlay only: it may hold a download
 * token, and using an overlay needs its name, not its recipe. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"
#include "proto/utf8.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-spec.h"

#define OVERLAYS "/overlays"

/* ---- who may do what -------------------------------------------------------------------------- */

static bool may_see(const struct webd_rq *rq, const struct webd_overlay *o) {
        return o->owner_id == 0 || page_may_see(rq, o->owner_id);
}

static bool may_change(const struct webd_rq *rq, const struct webd_overlay *o) {
        return o->owner_id == 0 ? rq->user.is_admin : page_may_see(rq, o->owner_id);
}

bool page_overlay_may_see(const struct webd_rq *rq, const struct webd_overlay *o) {
        return may_see(rq, o);
}

bool page_overlay_may_change(const struct webd_rq *rq, const struct webd_overlay *o) {
        return may_change(rq, o) && !o->deleting;
}

/* Who changed an overlay and when goes with owning it, not with using it: a system overlay
 * is everyone's to see and stack, but it has no owner, so its history is the admins' (the
 * same people who may change it). */
static bool may_see_history(const struct webd_rq *rq, const struct webd_overlay *o) {
        return may_change(rq, o);
}

static int not_found(struct webd_rq *rq) {
        return webd_rq_error(rq, 404, "Not found", "There is no such overlay.");
}

static int load_visible(struct webd_rq *rq, int64_t id, struct webd_overlay *o) {
        int r = id ? webd_db_overlay_get(rq->w->db, id, o) : -ENOENT;

        if (r >= 0 && !may_see(rq, o)) {
                webd_overlay_done(o);
                r = -ENOENT;
        }
        return r;
}

static void overlay_audit(struct webd_rq *rq, struct webd_audit *a, const char *kind, char *object,
                          size_t len, int64_t id, const char *detail) {
        if (id)
                snprintf(object, len, "overlay:%" PRId64, id);
        else
                snprintf(object, len, "overlay:new");
        *a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                 .actor = rq->user.username,
                                 .kind = kind,
                                 .object = object,
                                 .address = rq->address,
                                 .result = "ok",
                                 .detail = detail};
}

/* ---- what the host says ------------------------------------------------------------------------- */

/* overlay.list, kept for one request: the current generation of each overlay on the host. */
struct host_gens {
        bool known;
        char error[640];
        uint32_t n;
        const msgpack_object *items; /* the reply's maps, valid during the reply only */
};

static void host_gens_from_reply(const struct rpc_core_reply *r, struct host_gens *g) {
        *g = (struct host_gens){};
        if (r->failed) {
                snprintf(g->error, sizeof(g->error),
                         "The host's side of the overlays is unknown for now (%s).", r->error.message);
                return;
        }
        g->known = true;
        if (r->result && r->result->type == MSGPACK_OBJECT_ARRAY) {
                g->n = r->result->via.array.size;
                g->items = r->result->via.array.ptr;
        }
}

/* The map overlay.list has for web-<id>, or NULL (never built, or removed). */
static const msgpack_object *host_gen(const struct host_gens *g, int64_t id) {
        char name[32];

        webd_host_name(id, name, sizeof(name));
        for (uint32_t i = 0; i < g->n; i++)
                if (obj_str_is(&g->items[i], "id", name))
                        return &g->items[i];
        return NULL;
}

/* "1.3 GiB": the size hostd recorded when it built the generation. */
static void size_text(struct html *h, int64_t bytes) {
        static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
        double v = (double) bytes;
        unsigned u = 0;

        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        if (u == 0)
                html_textf(h, "%" PRId64 " bytes", bytes);
        else
                html_textf(h, "%.1f %s", v, units[u]);
}

static void scope_text(struct html *h, const struct webd_overlay *o) {
        if (o->owner_id == 0)
                html_text(h, "system");
        else
                html_textf(h, "private (%s)", o->owner_name ?: "?");
}

static void type_badge(struct html *h, const struct webd_overlay *o) {
        html_elem(h, "span");
        html_attr(h, "class", "badge");
        html_text(h, webd_overlay_type_to_string(o->type));
        html_close(h, "span");
}

/* ---- the list ------------------------------------------------------------------------------------ */

#define GONE_MAX 64u /* removals finished per page view, at most */

struct list_ctx {
        struct webd_rq *rq;
        struct html *h;
        const struct host_gens *g;
        unsigned n, n_gone;
        int64_t gone[GONE_MAX]; /* being removed, and the host has no more of it */
};

/* A row marked for removal whose overlay the host no longer has: its removal is done. */
static bool removal_done(const struct webd_overlay *o, const struct host_gens *g) {
        return o->deleting && g->known && !host_gen(g, o->id);
}

static void remove_row(struct webd_rq *rq, int64_t id) {
        char object[48];
        struct webd_audit a;
        int r;

        snprintf(object, sizeof(object), "overlay:%" PRId64, id);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = "system",
                                .kind = "overlay.removed",
                                .object = object,
                                .result = "ok",
                                .detail = "the host has no overlay any more"};
        r = webd_db_overlay_delete(rq->w->db, id, &a);
        if (r < 0 && r != -ENOENT)
                log_error("web.db: cannot remove overlay %" PRId64 ": %s", id, strerror(-r));
}

static int list_row(const struct webd_overlay *o, void *userdata) {
        struct list_ctx *c = userdata;
        struct html *h = c->h;
        const msgpack_object *gen = c->g->known ? host_gen(c->g, o->id) : NULL;
        char href[48];

        if (removal_done(o, c->g) && c->n_gone < GONE_MAX) {
                c->gone[c->n_gone++] = o->id; /* removed after the list: not while reading it */
                return 0;
        }
        c->n++;
        snprintf(href, sizeof(href), OVERLAYS "/%" PRId64, o->id);
        html_elem(h, "tr");
        html_elem(h, "td");
        html_attr(h, "data-label", "Name");
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_text(h, o->name);
        html_close(h, "a");
        if (o->deleting) {
                html_text(h, " ");
                page_state_badge(h, "deleting", "being removed");
        }
        html_close(h, "td");
        html_elem(h, "td");
        html_attr(h, "data-label", "Type");
        type_badge(h, o);
        html_close(h, "td");
        html_elem(h, "td");
        html_attr(h, "data-label", "Scope");
        scope_text(h, o);
        html_close(h, "td");
        html_elem(h, "td");
        html_attr(h, "data-label", "Blueprints");
        html_textf(h, "%u", o->n_blueprints);
        html_close(h, "td");
        html_elem(h, "td");
        html_attr(h, "data-label", "Content");
        if (!c->g->known)
                html_text(h, "unknown");
        else if (!gen)
                html_text(h, "not built yet");
        else {
                html_textf(h, "generation %" PRId64 ", ", obj_int(gen, "generation", 0));
                if (obj_int(gen, "bytes", -1) >= 0) {
                        size_text(h, obj_int(gen, "bytes", 0));
                        html_text(h, ", ");
                }
                page_time(h, obj_int(gen, "built_usec", 0));
        }
        html_close(h, "td");
        html_close(h, "tr");
        return 0;
}

static void create_form(struct webd_rq *rq, struct html *h, const char *name) {
        html_elem(h, "section");
        html_attr(h, "class", "card");
        html_elem_text(h, "h2", "New overlay");
        page_form_begin(rq, h, OVERLAYS, NULL);
        page_input(h, "Name", "text", "name", name ?: "", "off", true);
        page_select_begin(h, NULL, "Type", "f-type", "type", false);
        page_option(h, "script", "script: a bash script builds its files", true);
        page_option(h, "files", "files: folders and files you upload and edit here", false);
        page_select_end(h);
        page_select_begin(h, NULL, "Scope", "f-scope", "scope", false);
        page_option(h, "private", "private: only you", true);
        if (rq->user.is_admin)
                page_option(h, "system", "system: every user may stack it", false);
        page_select_end(h);
        page_button(h, "Create overlay", "primary");
        html_close(h, "form");
        html_close(h, "section");
}

static int list_page(struct webd_rq *rq, int status, const char *error, const char *draft_name,
                     const struct host_gens *g) {
        struct html h;
        struct list_ctx c = {.rq = rq, .h = &h, .g = g};

        html_init(&h, 0);
        page_begin(rq, &h, "Overlays");
        html_elem_text(&h, "h1", "Overlays");
        if (error)
                page_alert(&h, "error", error);
        if (!g->known)
                page_alert(&h, "warning", g->error);
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "overlays");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Name");
        html_elem_text(&h, "th", "Type");
        html_elem_text(&h, "th", "Scope");
        html_elem_text(&h, "th", "Blueprints");
        html_elem_text(&h, "th", "Content");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        if (webd_db_overlay_list(rq->w->db, rq->user.id, rq->user.is_admin, list_row, &c) < 0)
                log_error("web.db: cannot list overlays: %s", webd_db_errmsg(rq->w->db));
        for (unsigned i = 0; i < c.n_gone; i++)
                remove_row(rq, c.gone[i]);
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (c.n == 0)
                html_elem_text(&h, "p", "No overlays yet: make the first one below.");
        create_form(rq, &h, draft_name);
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

static int list_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct host_gens g;

        host_gens_from_reply(r, &g);
        return list_page(rq, 200, NULL, NULL, &g);
}

/* GET /overlays */
static int route_list(struct webd_rq *rq) {
        return page_overlay_list(rq, list_reply, NULL);
}

/* POST /overlays: type, name, scope. */
static int route_create(struct webd_rq *rq) {
        const char *name = webd_rq_field(rq, "name") ?: "";
        const char *type = webd_rq_field(rq, "type") ?: "";
        const char *scope = webd_rq_field(rq, "scope") ?: "private";
        struct host_gens none = {.known = true};
        struct webd_overlay o = {};
        char object[48], to[64];
        const char *m;
        struct webd_audit a;
        int64_t id = 0;
        int t, r;

        t = webd_overlay_type_from_string(type);
        if (t < 0)
                return list_page(rq, 400, "Choose the type: script, files or workshop.", name, &none);
        if (t == WEBD_OVERLAY_WORKSHOP)
                return list_page(rq, 400,
                                 "Only script and files overlays can be made here so far; workshop overlays "
                                 "are not available yet.",
                                 name, &none);
        if (!streq(scope, "private") && !streq(scope, "system"))
                return list_page(rq, 400, "The scope is private or system.", name, &none);
        if (streq(scope, "system") && !rq->user.is_admin) {
                webd_rq_audit(rq, NULL, "overlay.create", "overlay:new", "denied", "system scope");
                return list_page(rq, 403, "Only an admin makes system overlays.", name, &none);
        }
        m = webd_check_name(name);
        if (m)
                return list_page(rq, 400, m, name, &none);
        o = (struct webd_overlay){.owner_id = streq(scope, "system") ? 0 : rq->user.id,
                                  .type = (enum webd_overlay_type) t,
                                  .name = (char *) name};
        overlay_audit(rq, &a, "overlay.create", object, sizeof(object), 0, name);
        r = webd_db_overlay_create(rq->w->db, &o, (int64_t) rq->now_usec, &a, &id);
        if (r == -EEXIST)
                return list_page(rq, 409,
                                 o.owner_id ? "You already have an overlay with that name."
                                            : "There is a system overlay with that name already.",
                                 name, &none);
        if (r < 0)
                return list_page(rq, 500, "The overlay could not be stored.", name, &none);
        snprintf(to, sizeof(to), OVERLAYS "/%" PRId64 "?m=overlay-created", id);
        return webd_rq_redirect(rq, to);
}

/* ---- the detail page ----------------------------------------------------------------------------- */

struct detail {
        int64_t id;
        int status;
        char error[768];
        const char *draft_name, *draft_script; /* a refused form, shown again */
        struct host_gens g;
        bool have_gen;
        int64_t generation, built_usec, bytes; /* bytes -1: unknown */
        /* instance.list, copied: which generation each instance mounts of this overlay. */
        bool instances_known;
        size_t n_mounts;
        struct {
                int64_t server_id;
                int64_t generation;
        } mounts[256];
};

struct users_ctx {
        struct webd_rq *rq;
        struct html *h;
        unsigned n, hidden;
        const struct detail *d;
};

static int user_item(const struct webd_overlay_user *u, void *userdata) {
        struct users_ctx *c = userdata;
        char href[48];

        if (!page_may_see(c->rq, u->owner_id)) {
                c->hidden++; /* another user's blueprint stacking a system overlay: not named */
                return 0;
        }
        c->n++;
        snprintf(href, sizeof(href), "/blueprints/%" PRId64, u->blueprint_id);
        html_elem(c->h, "li");
        html_elem(c->h, "a");
        html_attr(c->h, "href", href);
        html_text(c->h, u->blueprint_name);
        html_close(c->h, "a");
        if (u->owner_id != c->rq->user.id)
                html_textf(c->h, " (%s)", u->owner_name);
        html_close(c->h, "li");
        return 0;
}

/* "And 3 blueprints of other users." */
static void others_line(struct html *h, const struct users_ctx *c) {
        if (!c->hidden)
                return;
        html_elem(h, "p");
        html_textf(h, "%s%u blueprint%s of other users.", c->n ? "And " : "", c->hidden,
                   c->hidden == 1 ? "" : "s");
        html_close(h, "p");
}

static int server_item(const struct webd_server *s, void *userdata) {
        struct users_ctx *c = userdata;
        const struct detail *d = c->d;
        char href[48];
        int64_t mounted = -1;

        if (!page_may_see(c->rq, s->owner_id))
                return 0;
        for (size_t i = 0; i < d->n_mounts; i++)
                if (d->mounts[i].server_id == s->id)
                        mounted = d->mounts[i].generation;
        c->n++;
        snprintf(href, sizeof(href), "/servers/%" PRId64, s->id);
        html_elem(c->h, "tr");
        html_elem(c->h, "td");
        html_attr(c->h, "data-label", "Server");
        html_elem(c->h, "a");
        html_attr(c->h, "href", href);
        html_text(c->h, s->name);
        html_close(c->h, "a");
        html_close(c->h, "td");
        html_elem(c->h, "td");
        html_attr(c->h, "data-label", "Mounts");
        if (!d->instances_known)
                html_text(c->h, "unknown");
        else if (mounted < 0)
                html_text(c->h, "not running");
        else {
                html_textf(c->h, "generation %" PRId64, mounted);
                if (d->have_gen && mounted != d->generation) {
                        html_text(c->h, " ");
                        html_elem(c->h, "span");
                        html_attr(c->h, "class", "badge warning needs-restart");
                        html_text(c->h, "needs restart");
                        html_close(c->h, "span");
                }
        }
        html_close(c->h, "td");
        html_close(c->h, "tr");
        return 0;
}

/* The servers whose blueprints stack it, per blueprint. */
static int server_rows(const struct webd_overlay_user *u, void *userdata) {
        struct users_ctx *c = userdata;
        struct webd_server_filter f = {.blueprint_id = u->blueprint_id};

        return webd_db_server_list(c->rq->w->db, &f, server_item, c);
}

static void script_form(struct webd_rq *rq, struct html *h, const struct webd_overlay *o,
                        const struct detail *d) {
        char action[48];

        snprintf(action, sizeof(action), OVERLAYS "/%" PRId64, o->id);
        page_form_begin(rq, h, action, NULL);
        html_attr(h, "class", "overlay-form");
        page_input(h, "Name", "text", "name", d->draft_name ?: o->name, "off", true);
        html_elem(h, "div");
        html_attr(h, "class", "field");
        html_elem(h, "label");
        html_attr(h, "for", "f-script");
        html_text(h,
                  "Build script (bash; it writes the overlay's files below $OVERLAY, which mirrors the game "
                  "root: $OVERLAY/left4dead2/cfg/…)");
        html_close(h, "label");
        html_elem(h, "textarea");
        html_attr(h, "id", "f-script");
        html_attr(h, "name", "script");
        html_attr(h, "rows", "18");
        html_attr(h, "spellcheck", "false");
        html_attr(h, "data-editor", "bash");
        html_text(h, d->draft_script ?: o->script ?: "");
        html_close(h, "textarea");
        html_close(h, "div");
        html_elem(h, "div");
        html_attr(h, "class", "actions");
        for (const char *const *b =
                     (const char *const[]){"save", "Save", "secondary", "build", "Save and build", "primary",
                                           "rebuild", "Save, reset and rebuild", "secondary", NULL};
             *b; b += 3) {
                html_elem(h, "button");
                html_attr(h, "type", "submit");
                html_attr(h, "name", "action");
                html_attr(h, "value", b[0]);
                html_attr(h, "class", b[2]);
                html_text(h, b[1]);
                html_close(h, "button");
        }
        html_close(h, "div");
        html_elem(h, "p");
        html_attr(h, "class", "hint");
        html_text(
                h,
                "A build runs in a sandbox with public internet access only. \"Save and build\" starts from "
                "a copy of the current content; \"Save, reset and rebuild\" from an empty directory. "
                "Servers pick a new build up at their next start.");
        html_close(h, "p");
        html_close(h, "form");
}

static void rename_form(struct webd_rq *rq, struct html *h, const struct webd_overlay *o,
                        const struct detail *d) {
        char action[48];

        snprintf(action, sizeof(action), OVERLAYS "/%" PRId64, o->id);
        page_form_begin(rq, h, action, NULL);
        page_input(h, "Name", "text", "name", d->draft_name ?: o->name, "off", true);
        page_button(h, "Rename", "secondary");
        html_close(h, "form");
}

/* The generations below the current one that running servers still mount (hostd keeps a
 * generation while a mount records it, docs/host.md): "1 (2 servers)". */
static void older_generations(struct html *h, const struct detail *d) {
        int64_t seen[ELEMENTSOF(d->mounts)];
        size_t n = 0;

        if (!d->instances_known || !d->have_gen)
                return;
        for (size_t i = 0; i < d->n_mounts; i++) {
                bool dup = d->mounts[i].generation == d->generation;
                for (size_t j = 0; j < n && !dup; j++)
                        dup = seen[j] == d->mounts[i].generation;
                if (!dup)
                        seen[n++] = d->mounts[i].generation;
        }
        if (n == 0)
                return;
        html_elem_text(h, "dt", "Older, still mounted");
        html_elem(h, "dd");
        html_attr(h, "id", "older-generations");
        for (size_t j = 0; j < n; j++) {
                unsigned users = 0;
                for (size_t i = 0; i < d->n_mounts; i++)
                        users += d->mounts[i].generation == seen[j];
                html_textf(h, "%s%" PRId64 " (%u server%s)", j ? ", " : "", seen[j], users,
                           users == 1 ? "" : "s");
        }
        html_close(h, "dd");
}

static int detail_render(struct webd_rq *rq, void *arg, const msgpack_object *job) {
        struct detail *d = arg;
        struct webd_overlay o = {};
        struct html h;
        struct users_ctx uc;
        char buf[256], href[64], host[32];
        bool change;
        int r;

        if (load_visible(rq, d->id, &o) < 0)
                return not_found(rq);
        if (o.deleting && d->g.known && !d->have_gen) {
                webd_overlay_done(&o);
                remove_row(rq, d->id);
                return webd_rq_redirect(rq, OVERLAYS "?m=overlay-deleted");
        }
        change = may_change(rq, &o);
        webd_host_name(o.id, host, sizeof(host));

        html_init(&h, 0);
        rq->want_editor = change && o.type == WEBD_OVERLAY_SCRIPT;
        page_begin(rq, &h, o.name);
        html_elem(&h, "div");
        html_attr(&h, "class", "state-cluster");
        html_elem(&h, "h1");
        html_text(&h, "Overlay ");
        html_elem_text(&h, "q", o.name);
        html_close(&h, "h1");
        type_badge(&h, &o);
        if (job) {
                char state[16];
                snprintf(href, sizeof(href), "/jobs/%" PRId64, obj_int(job, "id", 0));
                obj_str(job, "state", state, sizeof(state));
                html_elem(&h, "span");
                html_attr(&h, "id", "build-state");
                html_attr(&h, "data-job-state", href);
                page_state_badge(&h, state, state);
                html_close(&h, "span");
        }
        html_close(&h, "div");
        if (d->error[0])
                page_alert(&h, "error", d->error);
        if (o.deleting)
                page_alert(&h, "notice", "This overlay is being removed from the host.");
        if (!d->g.known)
                page_alert(&h, "warning", d->g.error);
        if (o.owner_id && o.owner_id != rq->user.id) {
                snprintf(buf, sizeof(buf), "This overlay belongs to %s; you see it as an admin.",
                         o.owner_name);
                page_alert(&h, "notice", buf);
        }

        html_elem(&h, "dl");
        html_attr(&h, "class", "facts");
        page_fact(&h, "Type", webd_overlay_type_to_string(o.type));
        html_elem_text(&h, "dt", "Scope");
        html_elem(&h, "dd");
        scope_text(&h, &o);
        html_close(&h, "dd");
        page_fact(&h, "On the host", host);
        html_elem_text(&h, "dt", "Current generation");
        html_elem(&h, "dd");
        html_attr(&h, "id", "generation");
        if (!d->g.known)
                html_text(&h, "unknown");
        else if (!d->have_gen)
                html_text(&h, "none: not built yet");
        else {
                html_textf(&h, "%" PRId64 ", built ", d->generation);
                page_time(&h, d->built_usec);
        }
        html_close(&h, "dd");
        if (d->have_gen && d->bytes >= 0) {
                html_elem_text(&h, "dt", "Size");
                html_elem(&h, "dd");
                html_attr(&h, "id", "overlay-size");
                size_text(&h, d->bytes);
                html_close(&h, "dd");
        }
        older_generations(&h, d);
        if (job) {
                html_elem_text(&h, "dt", "Last job");
                html_elem(&h, "dd");
                page_job_sentence(&h, job);
                if (obj_int(job, "finished_usec", 0)) {
                        html_text(&h, ", ");
                        page_time(&h, obj_int(job, "finished_usec", 0));
                }
                html_close(&h, "dd");
        }
        page_fact_time(&h, "Changed", o.updated_usec);
        html_close(&h, "dl");

        /* The last build's output: live while it runs, replayed after. Only for those who may
         * see the job (its owner, an admin). */
        if (job && (rq->user.is_admin ||
                    page_job_owner_id(obj_str(job, "owner", buf, sizeof(buf))) == rq->user.id)) {
                html_elem(&h, "section");
                html_attr(&h, "class", "card");
                html_elem_text(&h, "h2", "Build output");
                snprintf(href, sizeof(href), "/jobs/%" PRId64 "/events", obj_int(job, "id", 0));
                page_log_panel(&h, "build-log", "job-log", href);
                html_close(&h, "section");
        }

        if (change && !o.deleting) {
                html_elem(&h, "section");
                html_attr(&h, "class", "card");
                if (o.type == WEBD_OVERLAY_SCRIPT) {
                        html_elem_text(&h, "h2", "Script");
                        script_form(rq, &h, &o, d);
                } else {
                        html_elem_text(&h, "h2", "Settings");
                        rename_form(rq, &h, &o, d);
                }
                html_close(&h, "section");
        }

        if (o.type == WEBD_OVERLAY_FILES && !o.deleting) {
                snprintf(href, sizeof(href), OVERLAYS "/%" PRId64 "/files", o.id);
                html_elem(&h, "p");
                html_elem(&h, "a");
                html_attr(&h, "href", href);
                html_attr(&h, "class", "button");
                html_text(&h, change ? "Browse and edit its files" : "Browse its files");
                html_close(&h, "a");
                html_close(&h, "p");
        }

        html_elem_text(&h, "h2", "Used by");
        html_elem(&h, "ul");
        html_attr(&h, "id", "overlay-blueprints");
        uc = (struct users_ctx){rq, &h, 0, 0, d};
        (void) webd_db_overlay_users(rq->w->db, o.id, user_item, &uc);
        html_close(&h, "ul");
        if (uc.n == 0 && uc.hidden == 0)
                html_elem_text(&h, "p", "No blueprint stacks it.");
        others_line(&h, &uc);
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "overlay-servers");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Server");
        html_elem_text(&h, "th", "Mounts");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        uc.n = 0;
        (void) webd_db_overlay_users(rq->w->db, o.id, server_rows, &uc);
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");

        html_elem(&h, "p");
        snprintf(href, sizeof(href), OVERLAYS "/%" PRId64 "/jobs", o.id);
        html_elem(&h, "a");
        html_attr(&h, "href", href);
        html_text(&h, "All jobs of this overlay");
        html_close(&h, "a");
        html_close(&h, "p");
        if (may_see_history(rq, &o)) {
                char object[48];
                snprintf(object, sizeof(object), "overlay:%" PRId64, o.id);
                snprintf(href, sizeof(href), OVERLAYS "/%" PRId64 "/history", o.id);
                page_audit_section(rq, &h, object, href);
        }
        if (change) {
                snprintf(href, sizeof(href), OVERLAYS "/%" PRId64 "/delete", o.id);
                html_elem(&h, "div");
                html_attr(&h, "class", "actions");
                page_action(rq, &h, href, o.deleting ? "Remove again" : "Delete", "danger",
                            "Delete this overlay and its files on the host?");
                html_close(&h, "div");
        }
        page_end(rq, &h);
        webd_overlay_done(&o);
        r = webd_rq_send_html(rq, d->status, &h);
        return r;
}

/* Then the last job, for its state and output. */
static int detail_after_instances(struct webd_rq *rq, struct detail *d) {
        struct webd_overlay o = {};
        int64_t last = 0;

        if (load_visible(rq, d->id, &o) < 0)
                return not_found(rq);
        last = o.last_job_id;
        webd_overlay_done(&o);
        return page_with_job(rq, last, detail_render, d);
}

/* instance.list: the generation of this overlay each web server mounts. */
static int detail_instances_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct detail *d = arg;
        const msgpack_object_array *a = NULL;
        char host[32];

        webd_host_name(d->id, host, sizeof(host));
        if (!r->failed && r->result && r->result->type == MSGPACK_OBJECT_ARRAY)
                a = &r->result->via.array;
        d->instances_known = a != NULL;
        for (uint32_t i = 0; a && i < a->size && d->n_mounts < ELEMENTSOF(d->mounts); i++) {
                const msgpack_object_array *layers = obj_array(&a->ptr[i], "overlays");
                char name[64];
                int64_t sid =
                        webd_db_server_id_of(rq->w->db, obj_str(&a->ptr[i], "name", name, sizeof(name)));

                for (uint32_t j = 0; sid && layers && j < layers->size; j++)
                        if (obj_str_is(&layers->ptr[j], "id", host)) {
                                d->mounts[d->n_mounts].server_id = sid;
                                d->mounts[d->n_mounts++].generation =
                                        obj_int(&layers->ptr[j], "generation", 0);
                                break;
                        }
        }
        return detail_after_instances(rq, d);
}

static int detail_gens_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct detail *d = arg;
        const msgpack_object *gen;

        host_gens_from_reply(r, &d->g);
        gen = d->g.known ? host_gen(&d->g, d->id) : NULL;
        if (gen) {
                d->have_gen = true;
                d->generation = obj_int(gen, "generation", 0);
                d->built_usec = obj_int(gen, "built_usec", 0);
                d->bytes = obj_int(gen, "bytes", -1);
        }
        d->g.items = NULL; /* the reply's objects go with it */
        d->g.n = 0;
        if (webd_hostlist_get(rq, false, detail_instances_reply, d) >= 0)
                return 0;
        return detail_after_instances(rq, d);
}

static struct detail *detail_new(struct webd_rq *rq, int64_t id, int status) {
        struct detail *d = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*d));

        memset(d, 0, sizeof(*d));
        d->id = id;
        d->status = status;
        return d;
}

static int detail_start(struct webd_rq *rq, struct detail *d) {
        return page_overlay_list(rq, detail_gens_reply, d);
}

/* GET /overlays/<id>/history: 404 for those who may see the overlay but not its history. */
static int route_history(struct webd_rq *rq, const struct webd_overlay *o) {
        _cleanup_free_ char *title = NULL;
        char object[48], back[48];

        if (!may_see_history(rq, o))
                return not_found(rq);
        if (asprintf(&title, "History of the overlay %s", o->name) < 0)
                return webd_rq_error(rq, 500, "Out of memory", "The page could not be made.");
        snprintf(object, sizeof(object), "overlay:%" PRId64, o->id);
        snprintf(back, sizeof(back), OVERLAYS "/%" PRId64, o->id);
        return page_audit_history(rq, title, object, back, "Back to the overlay");
}

/* GET /overlays/<id>, /overlays/<id>/jobs, /overlays/<id>/history */
static int route_detail(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, OVERLAYS "/", &rest);
        struct webd_overlay o = {};
        char subject[48], back[48];

        if (!id || load_visible(rq, id, &o) < 0)
                return not_found(rq);
        if (strneq(rest, "/files", 6) && (rest[6] == 0 || rest[6] == '/')) {
                int r = page_files_get(rq, &o, may_change(rq, &o) && !o.deleting, rest + 6);
                webd_overlay_done(&o);
                return r;
        }
        if (streq(rest, "/history")) {
                int r = route_history(rq, &o);
                webd_overlay_done(&o);
                return r;
        }
        webd_overlay_done(&o);
        if (streq(rest, "/jobs")) {
                char host[32];
                webd_host_name(id, host, sizeof(host));
                snprintf(subject, sizeof(subject), "overlay:%s", host);
                snprintf(back, sizeof(back), OVERLAYS "/%" PRId64, id);
                if (!rq->user.is_admin) {
                        char owner[PAGE_JOB_OWNER_MAX];
                        page_job_owner(rq->user.id, owner);
                        return page_job_list(rq, owner, subject, back);
                }
                return page_job_list(rq, NULL, subject, back);
        }
        if (*rest)
                return not_found(rq);
        return detail_start(rq, detail_new(rq, id, 200));
}

/* ---- changes -------------------------------------------------------------------------------------- */

/* A textarea posts CRLF line ends; bash would read each CR as part of a word. */
static char *script_from_form(struct webd_rq *rq, const char *s) {
        size_t n = strlen(s);
        char *out = h2o_mem_alloc_pool(&rq->req->pool, n + 1), *w = out;

        for (const char *p = s; *p; p++)
                if (!(p[0] == '\r' && p[1] == '\n'))
                        *w++ = *p;
        *w = 0;
        return out;
}

static const char *check_script(const char *script) {
        size_t n = strlen(script);

        if (n > WEBD_SCRIPT_MAX)
                return "The script is too long (at most 256 KiB).";
        if (!utf8_is_valid(script, n))
                return "The script is not valid UTF-8 text.";
        return NULL;
}

/* A refused change: the detail page again, with the error and the form as it was sent. */
static int refuse(struct webd_rq *rq, int64_t id, int status, const char *error, const char *name,
                  const char *script) {
        struct detail *d = detail_new(rq, id, status);

        snprintf(d->error, sizeof(d->error), "%s", error);
        d->draft_name = name;
        d->draft_script = script;
        return detail_start(rq, d);
}

struct build {
        int64_t overlay_id;
        bool fresh; /* from empty (rebuild) */
        struct rpc_buf payload;
};

static void build_dispose(void *p) {
        struct build *b = p;
        rpc_buf_done(&b->payload);
}

static void payload_dispose(void *p) {
        rpc_buf_done(p);
}

static int build_submitted(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct build *b = arg;
        const msgpack_object *job = page_reply_job(r);
        int64_t job_id = job ? obj_int(job, "id", 0) : 0;
        char object[48], to[64];
        int rr;

        snprintf(object, sizeof(object), "overlay:%" PRId64, b->overlay_id);
        if (r->failed || job_id <= 0) {
                webd_rq_audit(rq, NULL, "overlay.build", object, "failed", r->error.message);
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        }
        rr = webd_db_overlay_set_job(rq->w->db, b->overlay_id, job_id, (int64_t) rq->now_usec);
        if (rr < 0)
                log_error("web.db: cannot record job %" PRId64 " of overlay %" PRId64 ": %s", job_id,
                          b->overlay_id, strerror(-rr));
        webd_rq_audit(rq, NULL, "overlay.build", object, "ok", b->fresh ? "from empty" : "from current");
        snprintf(to, sizeof(to), OVERLAYS "/%" PRId64 "?m=overlay-building", b->overlay_id);
        return webd_rq_redirect(rq, to);
}

static int submit_build(struct webd_rq *rq, const struct webd_overlay *o, const char *script, bool fresh) {
        struct build *b = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*b), build_dispose);
        char host[32];
        struct rpc_map m;
        msgpack_packer *pk;
        int r;

        memset(b, 0, sizeof(*b));
        b->overlay_id = o->id;
        b->fresh = fresh;
        webd_host_name(o->id, host, sizeof(host));
        rpc_buf_init(&b->payload, 2u * WEBD_SCRIPT_MAX);
        pk = rpc_map_begin(&m, &b->payload.pk);
        rpc_pack_kv_str(pk, "overlay", host);
        rpc_pack_kv_str(pk, "script", script);
        rpc_pack_kv_str(pk, "base", fresh ? "empty" : "current");
        r = rpc_map_end(&m);
        if (r >= 0 && !rpc_buf_ok(&b->payload))
                r = -ENOBUFS;
        if (r >= 0)
                r = page_submit_job(rq, "overlay.build", o->owner_id ?: rq->user.id, NULL, &b->payload,
                                    build_submitted, b);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_JOBS, r) : 0;
}

/* POST /overlays/<id>: name, and for a script overlay script and action (save, build,
 * rebuild). */
static int overlay_update(struct webd_rq *rq, struct webd_overlay *o) {
        const char *name = webd_rq_field(rq, "name") ?: "";
        const char *action = webd_rq_field(rq, "action") ?: "save";
        const char *raw = webd_rq_field(rq, "script");
        char *script = o->type == WEBD_OVERLAY_SCRIPT && raw ? script_from_form(rq, raw) : NULL;
        char object[48], to[64];
        struct webd_audit a;
        const char *m;
        int r;

        if (o->deleting)
                return refuse(rq, o->id, 409, "This overlay is being removed; it cannot be changed.", NULL,
                              NULL);
        if (!streq(action, "save") && !streq(action, "build") && !streq(action, "rebuild"))
                return refuse(rq, o->id, 400, "Unknown action: save, build or rebuild.", name, script);
        if (o->type != WEBD_OVERLAY_SCRIPT && !streq(action, "save"))
                return refuse(rq, o->id, 400, "Only a script overlay is built.", name, NULL);
        m = webd_check_name(name);
        if (!m && script)
                m = check_script(script);
        if (!m && !streq(action, "save") && !*(script ?: o->script ?: ""))
                m = "The script is empty: write what the build should put below $OVERLAY first.";
        if (m)
                return refuse(rq, o->id, 400, m, name, script);
        overlay_audit(rq, &a, "overlay.update", object, sizeof(object), o->id, name);
        r = webd_db_overlay_update(rq->w->db, o->id, name, script, (int64_t) rq->now_usec, &a);
        if (r == -EEXIST)
                return refuse(rq, o->id, 409,
                              o->owner_id ? "The owner has another overlay with that name."
                                          : "There is a system overlay with that name already.",
                              name, script);
        if (r < 0)
                return refuse(rq, o->id, r == -ENOENT ? 404 : 500, "The overlay could not be stored.", name,
                              script);
        if (streq(action, "save")) {
                snprintf(to, sizeof(to), OVERLAYS "/%" PRId64 "?m=overlay-saved", o->id);
                return webd_rq_redirect(rq, to);
        }
        return submit_build(rq, o, script ?: o->script, streq(action, "rebuild"));
}

static int refuse_in_use(struct webd_rq *rq, const struct webd_overlay *o) {
        struct html h;
        struct users_ctx uc;
        char object[48];

        snprintf(object, sizeof(object), "overlay:%" PRId64, o->id);
        webd_rq_audit(rq, NULL, "overlay.delete", object, "denied", "in use");
        html_init(&h, 0);
        page_begin(rq, &h, "Overlay in use");
        html_elem_text(&h, "h1", "This overlay is in use");
        html_elem(&h, "p");
        html_attr(&h, "role", "alert");
        html_text(&h, "These blueprints stack it; take it out of them first:");
        html_close(&h, "p");
        html_elem(&h, "ul");
        html_attr(&h, "id", "overlay-blueprints");
        uc = (struct users_ctx){rq, &h, 0, 0, NULL};
        (void) webd_db_overlay_users(rq->w->db, o->id, user_item, &uc);
        html_close(&h, "ul");
        others_line(&h, &uc);
        page_end(rq, &h);
        return webd_rq_send_html(rq, 409, &h);
}

static int delete_submitted(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        int64_t id = (int64_t) (intptr_t) arg;
        const msgpack_object *job = page_reply_job(r);
        int64_t job_id = job ? obj_int(job, "id", 0) : 0;
        char object[48];

        snprintf(object, sizeof(object), "overlay:%" PRId64, id);
        if (r->failed || job_id <= 0) {
                /* The row stays marked: its page offers "Remove again". */
                webd_rq_audit(rq, NULL, "overlay.remove", object, "failed", r->error.message);
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        }
        if (webd_db_overlay_set_job(rq->w->db, id, job_id, (int64_t) rq->now_usec) < 0)
                log_error("web.db: cannot record job %" PRId64 " of overlay %" PRId64, job_id, id);
        return webd_rq_redirect(rq, OVERLAYS "?m=overlay-removing");
}

/* POST /overlays/<id>/delete, after overlay.list. Never built and never given a job: the row
 * goes now. Otherwise it is marked (no blueprint may stack it from then on; web.db refuses
 * the mark while one does) and an overlay.delete job removes it from the host, behind any
 * build of it; the row goes when a page next sees the host without it. */
static int delete_after_gens(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        int64_t id = (int64_t) (intptr_t) arg;
        struct webd_overlay o = {};
        struct host_gens g;
        char object[48], host[32];
        struct webd_audit a;
        struct rpc_buf *payload;
        struct rpc_map m;
        int rr;

        if (load_visible(rq, id, &o) < 0 || !may_change(rq, &o)) {
                webd_overlay_done(&o);
                return not_found(rq);
        }
        host_gens_from_reply(r, &g);
        if (!g.known) {
                webd_overlay_done(&o);
                return webd_rq_error(rq, 503, "Not deleted", g.error);
        }
        overlay_audit(rq, &a, "overlay.delete", object, sizeof(object), id, o.name);
        if (!host_gen(&g, id) && o.last_job_id == 0) {
                rr = webd_db_overlay_delete(rq->w->db, id, &a);
                if (rr >= 0)
                        rr = webd_rq_redirect(rq, OVERLAYS "?m=overlay-deleted");
        } else {
                rr = webd_db_overlay_set_deleting(rq->w->db, id, 0, (int64_t) rq->now_usec, &a);
                if (rr >= 0) {
                        payload = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*payload), payload_dispose);
                        rpc_buf_init(payload, 0);
                        webd_host_name(id, host, sizeof(host));
                        rpc_pack_kv_str(rpc_map_begin(&m, &payload->pk), "overlay", host);
                        (void) rpc_map_end(&m);
                        rr = page_submit_job(rq, "overlay.delete", o.owner_id ?: rq->user.id, NULL, payload,
                                             delete_submitted, (void *) (intptr_t) id);
                        if (rr < 0)
                                rr = webd_rq_unavailable(rq, WEBD_PEER_JOBS, rr);
                }
        }
        if (rr == -EBUSY)
                rr = refuse_in_use(rq, &o);
        else if (rr < 0)
                rr = webd_rq_error(rq, rr == -ENOENT ? 404 : 500, "Not deleted",
                                   "The overlay could not be deleted.");
        webd_overlay_done(&o);
        return rr;
}

/* POST /overlays/<id>, /overlays/<id>/delete */
static int route_post(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, OVERLAYS "/", &rest);
        struct webd_overlay o = {};
        int r;

        if (!id || load_visible(rq, id, &o) < 0)
                return not_found(rq);
        if (!may_change(rq, &o)) {
                char object[48];
                snprintf(object, sizeof(object), "overlay:%" PRId64, id);
                webd_rq_audit(rq, NULL, "overlay.update", object, "denied", "system overlay");
                webd_overlay_done(&o);
                return webd_rq_error(rq, 403, "Not allowed", "Only an admin changes a system overlay.");
        }
        if (!*rest)
                r = overlay_update(rq, &o);
        else if (strneq(rest, "/files/", 7) && !o.deleting)
                r = page_files_post(rq, &o, rest + 6);
        else if (streq(rest, "/delete")) {
                if (o.n_blueprints > 0)
                        r = refuse_in_use(rq, &o);
                else
                        r = page_overlay_list(rq, delete_after_gens, (void *) (intptr_t) id);
        } else
                r = not_found(rq);
        webd_overlay_done(&o);
        return r;
}

/* PUT /overlays/<id>/files/uploads/<token>: a slice of an upload (its body is the bytes). */
static int route_put(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, OVERLAYS "/", &rest);
        struct webd_overlay o = {};
        int r;

        if (!id || load_visible(rq, id, &o) < 0)
                return not_found(rq);
        if (!may_change(rq, &o) || o.deleting || !strneq(rest, "/files/", 7))
                r = not_found(rq);
        else
                r = page_files_put(rq, &o, rest + 6);
        webd_overlay_done(&o);
        return r;
}

const struct webd_route page_overlays_routes[] = {
        {"GET", OVERLAYS, route_list, WEBD_R_AUTH},
        {"POST", OVERLAYS, route_create, WEBD_R_AUTH},
        {"GET", OVERLAYS "/", route_detail, WEBD_R_AUTH},
        {"POST", OVERLAYS "/", route_post, WEBD_R_AUTH | WEBD_R_MULTIPART},
        {"PUT", OVERLAYS "/", route_put, WEBD_R_AUTH | WEBD_R_RAW | WEBD_R_JSON},
};
const size_t page_overlays_n_routes = ELEMENTSOF(page_overlays_routes);
