/* Servers: a row in web.db (name, blueprint, port, RCON password, desired state) and an
 * instance on the host named web-<id>. The actual state is never stored: it is what hostd
 * says (instance.list for the list, instance.status for one), and a drift warning shows
 * when it differs from the desired one. Every change on the host is a job in jobd; the page
 * that follows shows it (303 to /jobs/<id>).
 *
 * Delete marks the row `deleting` and submits the delete job (after cancelling the
 * server's queued jobs); the row goes when a page next sees the host without the instance,
 * so nothing depends on webd staying awake for it. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"
#include "proto/names.h"
#include "svc-web/page-fleet.h"
#include "svc-web/webd-hostlist.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-json.h"
#include "svc-web/webd-obj.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-spec.h"
#include "svc-web/webd-statefeed.h"
#include "svc-web/webd-sse.h"

#define SERVERS "/servers"

static void rcon_generate(char out[WEBD_RCON_PASSWORD_LEN + 1]) {
        static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

        for (unsigned i = 0; i < WEBD_RCON_PASSWORD_LEN; i++)
                out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
        out[WEBD_RCON_PASSWORD_LEN] = 0;
}

static int load_visible(struct webd_rq *rq, int64_t id, struct webd_server *s) {
        int r = id ? webd_db_server_get(rq->w->db, id, s) : -ENOENT;

        if (r >= 0 && !page_may_see(rq, s->owner_id)) {
                webd_server_done(s);
                r = -ENOENT;
        }
        return r;
}

static int not_found(struct webd_rq *rq) {
        return webd_rq_error(rq, 404, "Not found", "There is no such server.");
}

/* The state to show: hostd's, or "deleting"; "absent" when the host has no instance. */
static const char *state_text(const char *state) {
        if (streq(state, "running"))
                return "running";
        if (streq(state, "starting"))
                return "starting";
        if (streq(state, "stopping"))
                return "stopping";
        if (streq(state, "stopped"))
                return "stopped";
        if (streq(state, "failed"))
                return "failed";
        if (streq(state, "absent"))
                return "not created";
        if (streq(state, "deleting"))
                return "deleting";
        return "unknown";
}

/* The drift rule: desired running but not running (or starting), or desired stopped but
 * running. NULL if none (or while a lifecycle job may still be moving it). */
const char *page_drift(enum webd_desired desired, const char *actual, bool job_active) {
        if (job_active || desired == WEBD_DESIRED_DELETING || streq(actual, "unknown"))
                return NULL;
        if (desired == WEBD_DESIRED_RUNNING && !streq(actual, "running") && !streq(actual, "starting"))
                return "This server should be running but is not (a crash, a manual stop or a reboot?). "
                       "Start it again, or stop it to clear this warning.";
        if (desired == WEBD_DESIRED_STOPPED && (streq(actual, "running") || streq(actual, "starting")))
                return "This server should be stopped but is running (started outside left4me?).";
        return NULL;
}

/* ---- the list ---------------------------------------------------------------------------------- */

/* One instance.list entry per host instance, by name. */
static const msgpack_object *host_entry(const msgpack_object_array *list, const char *name) {
        for (uint32_t i = 0; list && i < list->size; i++)
                if (obj_str_is(&list->ptr[i], "name", name))
                        return &list->ptr[i];
        return NULL;
}

static const msgpack_object_array *list_of(const struct rpc_core_reply *r) {
        if (r->failed || !r->result)
                return NULL;
        if (r->result->type == MSGPACK_OBJECT_ARRAY)
                return &r->result->via.array;
        return obj_array(r->result, "instances");
}

struct list_ctx {
        struct webd_rq *rq;
        struct html *h;
        const msgpack_object_array *host;
        bool host_known;
        unsigned n;
        int64_t gone[64]; /* deleting rows whose instance is gone: dropped after the walk */
        size_t n_gone;
};

static int list_row(const struct webd_server *s, void *userdata) {
        struct list_ctx *c = userdata;
        struct html *h = c->h;
        char inst[NAME_LEN_MAX + 1], href[48], state[16] = "unknown";
        const msgpack_object *e;

        snprintf(inst, sizeof(inst), "%s", s->instance);
        e = host_entry(c->host, inst);
        if (e)
                obj_str(e, "state", state, sizeof(state));
        else if (c->host_known)
                snprintf(state, sizeof(state), "absent");
        if (s->desired == WEBD_DESIRED_DELETING) {
                if (c->host_known && !e && c->n_gone < ELEMENTSOF(c->gone)) {
                        c->gone[c->n_gone++] = s->id;
                        return 0;
                }
                snprintf(state, sizeof(state), "deleting");
        }
        c->n++;
        html_elem(h, "tr");
        html_attr(h, "data-server", inst);
        html_elem(h, "td");
        snprintf(href, sizeof(href), SERVERS "/%" PRId64, s->id);
        html_elem(h, "a");
        html_attr(h, "href", href);
        html_text(h, s->name);
        html_close(h, "a");
        html_close(h, "td");
        if (c->rq->user.is_admin)
                html_elem_text(h, "td", s->owner_name);
        html_elem(h, "td");
        page_state_badge(h, state, state_text(state));
        if (page_drift(s->desired, state, false)) {
                html_elem(h, "span");
                html_attr(h, "class", "drift");
                html_attr(h, "title", "desired and actual state differ");
                html_text(h, " ⚠");
                html_close(h, "span");
        }
        html_close(h, "td");
        html_elem(h, "td");
        html_textf(h, "%u", s->port);
        html_close(h, "td");
        html_elem_text(h, "td", s->blueprint_name);
        html_close(h, "tr");
        return 0;
}

struct blueprint_options {
        struct html *h;
        int64_t selected;
        unsigned n;
        bool with_owner; /* "owner: name" (the adopt form lists everyone's) */
};

static int blueprint_option(const struct webd_blueprint *b, void *userdata) {
        struct blueprint_options *c = userdata;
        char v[24];

        c->n++;
        snprintf(v, sizeof(v), "%" PRId64, b->id);
        html_elem(c->h, "option");
        html_attr(c->h, "value", v);
        if (b->id == c->selected)
                html_attr(c->h, "selected", NULL);
        if (c->with_owner)
                html_textf(c->h, "%s: ", b->owner_name);
        html_text(c->h, b->name);
        html_close(c->h, "option");
        return 0;
}

/* A <select name=blueprint_id> of owner's blueprints; how many there are. */
static unsigned blueprint_select(struct webd_rq *rq, struct html *h, int64_t owner_id, int64_t selected) {
        struct blueprint_options c = {.h = h, .selected = selected};

        page_select_begin(h, NULL, "Blueprint", "f-blueprint_id", "blueprint_id", true);
        (void) webd_db_blueprint_list(rq->w->db, owner_id, blueprint_option, &c);
        page_select_end(h);
        return c.n;
}

static int list_page(struct webd_rq *rq, const struct rpc_core_reply *r, int status, const char *error,
                     const char *name, const char *port) {
        struct webd_server_filter f = {.owner_id = rq->user.is_admin ? 0 : rq->user.id};
        struct html h;
        struct list_ctx c = {.rq = rq, .h = &h, .host = r ? list_of(r) : NULL};
        char range[64];
        unsigned nb;

        c.host_known = c.host != NULL;
        html_init(&h, 0);
        page_begin(rq, &h, "Servers");
        html_elem_text(&h, "h1", "Servers");
        if (error)
                page_alert(&h, "error", error);
        if (!c.host_known)
                page_alert(&h, "warning", "The host service is unavailable: states are unknown for now.");
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "servers");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Name");
        if (rq->user.is_admin)
                html_elem_text(&h, "th", "Owner");
        html_elem_text(&h, "th", "State");
        html_elem_text(&h, "th", "Port");
        html_elem_text(&h, "th", "Blueprint");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        if (webd_db_server_list(rq->w->db, &f, list_row, &c) < 0)
                log_error("web.db: cannot list servers: %s", webd_db_errmsg(rq->w->db));
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        if (c.n == 0)
                html_elem_text(&h, "p", "No servers yet.");
        else {
                html_elem(&h, "div");
                html_attr(&h, "hidden", NULL);
                html_attr(&h, "id", "state-feed");
                html_attr(&h, "data-state-feed", SERVERS "/events");
                html_close(&h, "div");
        }
        for (size_t i = 0; i < c.n_gone; i++) {
                char object[48];
                struct webd_audit a;
                snprintf(object, sizeof(object), "server:%" PRId64, c.gone[i]);
                a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                        .actor = "system",
                                        .kind = "server.removed",
                                        .object = object,
                                        .result = "ok",
                                        .detail = "the host has no instance any more"};
                (void) webd_db_server_delete(rq->w->db, c.gone[i], &a);
        }

        html_elem(&h, "section");
        html_attr(&h, "class", "card narrow");
        html_elem_text(&h, "h2", "New server");
        page_form_begin(rq, &h, SERVERS, NULL);
        page_input(&h, "Name", "text", "name", name, "off", true);
        nb = blueprint_select(rq, &h, rq->user.id, 0);
        snprintf(range, sizeof(range), "Port (empty: the next free one of %u–%u)", rq->w->config->port_start,
                 rq->w->config->port_end);
        page_input(&h, range, "number", "port", port, "off", false);
        page_button(&h, "Create server", "primary");
        html_close(&h, "form");
        if (nb == 0) {
                html_elem(&h, "p");
                html_text(&h, "You need a blueprint first: ");
                html_elem(&h, "a");
                html_attr(&h, "href", "/blueprints");
                html_text(&h, "make one");
                html_close(&h, "a");
                html_text(&h, ".");
                html_close(&h, "p");
        }
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

static int list_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        return list_page(rq, r, 200, NULL, NULL, NULL);
}

/* GET /servers */
static int route_list(struct webd_rq *rq) {
        int r = webd_hostlist_get(rq, false, list_reply, NULL);
        return r < 0 ? list_page(rq, NULL, 200, NULL, NULL, NULL) : 0;
}

/* POST /servers, after instance.list: the ports the host uses are taken too. */
static int create_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        const msgpack_object_array *host = list_of(r);
        const char *name = webd_rq_field(rq, "name"), *port_s = webd_rq_field(rq, "port"),
                   *bp_s = webd_rq_field(rq, "blueprint_id"), *err;
        unsigned ports[1024], port_given = 0, port = 0;
        size_t n_ports = 0;
        long long bp = 0, pv = 0;
        char rcon[WEBD_RCON_PASSWORD_LEN + 1], msg[256], object[48], to[64];
        struct webd_server s;
        struct webd_audit a;
        int64_t id = 0;
        int rr;

        if (!host)
                return list_page(rq, r, 503,
                                 "The host service is unavailable, so free ports cannot be checked. "
                                 "Try again in a moment.",
                                 name, port_s);
        err = webd_check_name(name);
        if (err)
                return list_page(rq, r, 400, err, name, port_s);
        if (!bp_s || safe_atoi64(bp_s, 1, INT64_MAX, &bp) < 0)
                return list_page(rq, r, 400, "Choose a blueprint.", name, port_s);
        if (!isempty(port_s)) {
                if (safe_atoi64(port_s, 1, 65535, &pv) < 0)
                        return list_page(rq, r, 400, "The port must be a number.", name, port_s);
                port_given = (unsigned) pv;
        }
        for (uint32_t i = 0; i < host->size && n_ports < ELEMENTSOF(ports); i++) {
                int64_t p = obj_int(&host->ptr[i], "port", 0);
                if (p > 0 && p <= 65535)
                        ports[n_ports++] = (unsigned) p;
        }
        rcon_generate(rcon);
        s = (struct webd_server){.owner_id = rq->user.id,
                                 .blueprint_id = bp,
                                 .name = (char *) name,
                                 .hostname = "",
                                 .rcon_password = rcon,
                                 .port = port_given};
        snprintf(object, sizeof(object), "server:new");
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "server.create",
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = name};
        rr = webd_db_server_create(rq->w->db, &s, rq->w->config->port_start, rq->w->config->port_end, ports,
                                   n_ports, (int64_t) rq->now_usec, &a, &id, &port);
        switch (rr) {
        case 0:
                snprintf(to, sizeof(to), SERVERS "/%" PRId64 "?m=server-created", id);
                return webd_rq_redirect(rq, to);
        case -EEXIST:
                return list_page(rq, r, 409, "You already have a server with that name.", name, port_s);
        case -EADDRINUSE:
                snprintf(msg, sizeof(msg), "Port %u is taken.", port_given);
                return list_page(rq, r, 409, msg, name, port_s);
        case -ENOSPC:
                snprintf(msg, sizeof(msg), "Every port of %u–%u is taken.", rq->w->config->port_start,
                         rq->w->config->port_end);
                return list_page(rq, r, 409, msg, name, port_s);
        case -ERANGE:
                snprintf(msg, sizeof(msg), "The port must lie in %u–%u.", rq->w->config->port_start,
                         rq->w->config->port_end);
                return list_page(rq, r, 400, msg, name, port_s);
        case -ENOENT:
                return list_page(rq, r, 400, "Choose one of your blueprints.", name, port_s);
        case -EINVAL:
                return list_page(rq, r, 400, "Check the name.", name, port_s);
        default:
                return list_page(rq, r, 500, "The server could not be stored.", name, port_s);
        }
}

/* POST /servers */
static int route_create(struct webd_rq *rq) {
        int r = webd_hostlist_get(rq, true, create_reply, NULL);
        return r < 0 ? list_page(rq, NULL, 503, "The host service is unavailable. Try again in a moment.",
                                 webd_rq_field(rq, "name"), webd_rq_field(rq, "port"))
                     : 0;
}

/* ---- the detail page --------------------------------------------------------------------------- */

struct detail {
        int64_t id;
        bool have_status;
        char status_error[768];
        char state[16];
        int64_t memory, cpu_usec, since_usec, restarts;
        /* what the current run mounts (instance.status overlays), against what is current */
        size_t n_mounted;
        struct {
                char id[WEBD_OVERLAY_ID_MAX + 1];
                int64_t generation;
        } mounted[WEBD_BP_OVERLAYS_MAX];
        bool overlays_changed;
};

static void lifecycle_button(struct webd_rq *rq, struct html *h, int64_t id, const char *what,
                             const char *text, const char *klass, const char *confirm) {
        char action[64];

        snprintf(action, sizeof(action), SERVERS "/%" PRId64 "/%s", id, what);
        page_action(rq, h, action, text, klass, confirm);
}

/* A <dialog> with a form (rename, delete): opened by a button through left4me.js; without JS
 * the <details> fallback shows the form in place. */
static void dialog_begin(struct html *h, const char *id, const char *button, const char *title) {
        html_elem(h, "details");
        html_attr(h, "class", "dialog-fallback");
        html_attr(h, "data-dialog", id);
        html_elem_text(h, "summary", button);
        html_elem(h, "div");
        html_attr(h, "class", "dialog-body");
        html_attr(h, "id", id);
        html_attr(h, "role", "group");
        html_attr(h, "aria-label", title);
        html_elem_text(h, "h3", title);
}

static void dialog_end(struct html *h) {
        html_close(h, "div");
        html_close(h, "details");
}

bool page_needs_restart(const char *state, bool overlays_changed, const char *run_spec_hash,
                        const char *spec_hash) {
        if (!streq(state, "running"))
                return false;
        /* An overlay was rebuilt: the run still mounts the generation it started with. */
        if (overlays_changed)
                return true;
        /* Never started from here (adopted, say): nothing to compare with. */
        if (!run_spec_hash || !spec_hash)
                return false;
        return !streq(run_spec_hash, spec_hash);
}

static bool needs_restart(struct webd_rq *rq, const struct webd_server *s, const char *state,
                          bool overlays_changed) {
        struct webd_blueprint b = {};
        _cleanup_free_ char *spec = NULL;
        char err[256], hash[WEBD_SPEC_HASH_HEX] = "";

        if (streq(state, "running") && !overlays_changed && s->run_spec_hash &&
            webd_db_blueprint_get(rq->w->db, s->blueprint_id, &b) >= 0) {
                if (webd_spec_render(&b, s, &spec, err, sizeof(err)) >= 0)
                        webd_spec_hash(spec, hash);
                webd_blueprint_done(&b);
        }
        return page_needs_restart(state, overlays_changed, s->run_spec_hash, hash[0] ? hash : NULL);
}

static int detail_render(struct webd_rq *rq, void *arg, const msgpack_object *job) {
        struct detail *d = arg;
        struct webd_server s = {};
        struct html h;
        char inst[NAME_LEN_MAX + 1], buf[512], action[64], href[320];
        const char *drift, *state = d->have_status ? d->state : "unknown";
        bool job_active = job && !page_job_done(obj_str(job, "state", buf, sizeof(buf)));
        int r;

        if (load_visible(rq, d->id, &s) < 0)
                return not_found(rq);
        if (s.desired == WEBD_DESIRED_DELETING && d->have_status && streq(d->state, "absent")) {
                char object[48];
                struct webd_audit a;
                snprintf(object, sizeof(object), "server:%" PRId64, s.id);
                a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                        .actor = "system",
                                        .kind = "server.removed",
                                        .object = object,
                                        .result = "ok",
                                        .detail = "the host has no instance any more"};
                (void) webd_db_server_delete(rq->w->db, s.id, &a);
                webd_server_done(&s);
                return webd_rq_redirect(rq, SERVERS "?m=server-deleted");
        }
        if (s.desired == WEBD_DESIRED_DELETING)
                state = "deleting";
        snprintf(inst, sizeof(inst), "%s", s.instance);

        html_init(&h, 0);
        page_begin(rq, &h, s.name);
        html_elem(&h, "div");
        html_attr(&h, "class", "state-cluster");
        html_elem_text(&h, "h1", s.name);
        html_elem(&h, "span");
        html_attr(&h, "id", "server-state");
        html_attr(&h, "data-server", inst);
        page_state_badge(&h, state, state_text(state));
        html_close(&h, "span");
        if (needs_restart(rq, &s, state, d->overlays_changed)) {
                html_elem(&h, "span");
                html_attr(&h, "class", "badge warning");
                html_attr(&h, "id", "needs-restart");
                html_text(&h, "needs restart");
                html_close(&h, "span");
        }
        html_close(&h, "div");
        if (s.owner_id != rq->user.id) {
                snprintf(buf, sizeof(buf), "This server belongs to %s; you act on it as an admin.",
                         s.owner_name);
                page_alert(&h, "notice", buf);
        }
        if (!d->have_status && d->status_error[0])
                page_alert(&h, "warning", d->status_error);
        drift = page_drift(s.desired, state, job_active);
        if (drift)
                page_alert(&h, "warning drift", drift);

        /* Actions, by state. */
        html_elem(&h, "div");
        html_attr(&h, "class", "actions");
        html_attr(&h, "id", "server-actions");
        if (s.desired != WEBD_DESIRED_DELETING) {
                bool up = streq(state, "running") || streq(state, "starting");
                if (!up)
                        lifecycle_button(rq, &h, s.id, "start", "Start", "primary", NULL);
                if (up || streq(state, "unknown")) {
                        lifecycle_button(rq, &h, s.id, "restart", "Restart", "secondary", NULL);
                        lifecycle_button(rq, &h, s.id, "stop", "Stop", "secondary", NULL);
                }
                lifecycle_button(
                        rq, &h, s.id, "reset", "Reset", "secondary",
                        "Reset wipes this server's game state and logs (it is stopped first). Go on?");
        }
        html_close(&h, "div");
        if (job) {
                html_elem(&h, "p");
                html_attr(&h, "class", "last-job");
                html_text(&h, "Last job: ");
                page_job_sentence(&h, job);
                html_close(&h, "p");
        }

        html_elem(&h, "dl");
        html_attr(&h, "class", "facts");
        html_elem_text(&h, "dt", "Connect");
        html_elem(&h, "dd");
        {
                const char *host = webd_rq_header(rq, H2O_TOKEN_HOST, NULL);
                char hostname[128];
                size_t n = host ? strcspn(host, ":") : 0;
                snprintf(hostname, sizeof(hostname), "%.*s", (int) n, host ?: "");
                if (!*hostname || strchr(hostname, '[') || strpbrk(hostname, "\"<> "))
                        snprintf(hostname, sizeof(hostname), "HOST");
                snprintf(buf, sizeof(buf), "steam://run/550//+connect %s:%u", hostname, s.port);
                snprintf(href, sizeof(href), "steam://run/550//+connect%%20%s:%u", hostname, s.port);
                html_elem(&h, "a");
                if (html_url_ok(href))
                        html_attr(&h, "href", href);
                html_attr(&h, "id", "connect");
                html_text(&h, buf);
                html_close(&h, "a");
        }
        html_close(&h, "dd");
        snprintf(buf, sizeof(buf), "%u", s.port);
        page_fact(&h, "Port", buf);
        html_elem_text(&h, "dt", "Blueprint");
        html_elem(&h, "dd");
        snprintf(href, sizeof(href), "/blueprints/%" PRId64, s.blueprint_id);
        html_elem(&h, "a");
        html_attr(&h, "href", href);
        html_text(&h, s.blueprint_name);
        html_close(&h, "a");
        html_close(&h, "dd");
        webd_spec_hostname(&s, buf, sizeof(buf));
        page_fact(&h, "Hostname", buf);
        page_fact(&h, "Desired", webd_desired_to_string(s.desired));
        page_fact(&h, "Instance", inst);
        if (d->memory > 0) {
                snprintf(buf, sizeof(buf), "%.1f MiB", (double) d->memory / (1024.0 * 1024.0));
                page_fact(&h, "Memory", buf);
        }
        if (d->cpu_usec > 0) {
                snprintf(buf, sizeof(buf), "%.1f s", (double) d->cpu_usec / 1e6);
                page_fact(&h, "CPU time", buf);
        }
        page_fact_time(&h, "Since", d->since_usec);
        if (d->restarts > 0) {
                snprintf(buf, sizeof(buf), "%" PRId64, d->restarts);
                page_fact(&h, "Restarts", buf);
        }
        html_close(&h, "dl");
        html_elem(&h, "p");
        snprintf(href, sizeof(href), SERVERS "/%" PRId64 "/jobs", s.id);
        html_elem(&h, "a");
        html_attr(&h, "href", href);
        html_text(&h, "All jobs of this server");
        html_close(&h, "a");
        html_text(&h, " · ");
        snprintf(href, sizeof(href), SERVERS "/%" PRId64 "/files", s.id);
        html_elem(&h, "a");
        html_attr(&h, "href", href);
        html_text(&h, "Its files, and where each comes from");
        html_close(&h, "a");
        html_close(&h, "p");

        /* Settings: hostname and blueprint inline; rename and delete in dialogs. */
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Settings");
        snprintf(action, sizeof(action), SERVERS "/%" PRId64, s.id);
        page_form_begin(rq, &h, action, NULL);
        html_elem(&h, "input");
        html_attr(&h, "type", "hidden");
        html_attr(&h, "name", "name");
        html_attr(&h, "value", s.name);
        page_input(&h, "Hostname (empty: \"<user> <server name>\")", "text", "hostname", s.hostname, "off",
                   false);
        (void) blueprint_select(rq, &h, s.owner_id, s.blueprint_id);
        page_button(&h, "Save", "secondary");
        html_close(&h, "form");
        html_elem(&h, "div");
        html_attr(&h, "class", "field");
        html_elem_text(&h, "span", "RCON password: ");
        html_elem(&h, "code");
        html_attr(&h, "id", "rcon-password");
        html_text(&h, s.rcon_password);
        html_close(&h, "code");
        lifecycle_button(rq, &h, s.id, "rcon", "New password", "link",
                         "A new RCON password takes effect at the next start. Go on?");
        html_close(&h, "div");
        dialog_begin(&h, "rename-dialog", "Rename", "Rename the server");
        page_form_begin(rq, &h, action, NULL);
        page_input(&h, "New name", "text", "name", s.name, "off", true);
        html_elem(&h, "input");
        html_attr(&h, "type", "hidden");
        html_attr(&h, "name", "hostname");
        html_attr(&h, "value", s.hostname);
        snprintf(buf, sizeof(buf), "%" PRId64, s.blueprint_id);
        html_elem(&h, "input");
        html_attr(&h, "type", "hidden");
        html_attr(&h, "name", "blueprint_id");
        html_attr(&h, "value", buf);
        page_button(&h, "Rename", "primary");
        html_close(&h, "form");
        dialog_end(&h);
        if (s.desired != WEBD_DESIRED_DELETING) {
                dialog_begin(&h, "delete-dialog", "Delete", "Delete the server");
                html_elem_text(&h, "p",
                               "The server is stopped and its files on the host are removed for good.");
                lifecycle_button(rq, &h, s.id, "delete", "Delete for good", "danger", NULL);
                dialog_end(&h);
        }
        html_close(&h, "section");

        /* The journal of the current run, live. */
        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Console output");
        snprintf(href, sizeof(href), SERVERS "/%" PRId64 "/log/events", s.id);
        page_log_panel(&h, "journal", "journal", href);
        html_close(&h, "section");

        /* What was done to it, by whom: the audit log's entries for "server:ID". */
        {
                char object[48];
                snprintf(object, sizeof(object), "server:%" PRId64, s.id);
                snprintf(href, sizeof(href), SERVERS "/%" PRId64 "/history", s.id);
                page_audit_section(rq, &h, object, href);
        }
        page_end(rq, &h);
        webd_server_done(&s);
        r = webd_rq_send_html(rq, 200, &h);
        return r;
}

static int detail_after_overlays(struct webd_rq *rq, struct detail *d);

/* overlay.list: does the run mount the current generation of each of its overlays? */
static int detail_overlays_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct detail *d = arg;
        const msgpack_object_array *a = NULL;

        if (!r->failed && r->result && r->result->type == MSGPACK_OBJECT_ARRAY)
                a = &r->result->via.array;
        for (size_t i = 0; a && i < d->n_mounted; i++)
                for (uint32_t j = 0; j < a->size; j++)
                        if (obj_str_is(&a->ptr[j], "id", d->mounted[i].id) &&
                            obj_int(&a->ptr[j], "generation", -1) != d->mounted[i].generation)
                                d->overlays_changed = true;
        return detail_after_overlays(rq, d);
}

static int detail_status_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct detail *d = arg;

        if (!r->failed) {
                d->have_status = true;
                obj_str(r->result, "state", d->state, sizeof(d->state));
                d->memory = obj_int(r->result, "memory_bytes", 0);
                d->cpu_usec = obj_int(r->result, "cpu_usec", 0);
                d->since_usec = obj_int(r->result, "since_usec", 0);
                d->restarts = obj_int(r->result, "restarts", 0);
                {
                        const msgpack_object_array *m = obj_array(r->result, "overlays");
                        for (uint32_t i = 0; m && i < m->size && d->n_mounted < ELEMENTSOF(d->mounted);
                             i++) {
                                obj_str(&m->ptr[i], "id", d->mounted[d->n_mounted].id,
                                        sizeof(d->mounted[0].id));
                                d->mounted[d->n_mounted++].generation =
                                        obj_int(&m->ptr[i], "generation", -1);
                        }
                }
        } else if (r->transport_error == 0 && r->error.code == RPC_NOT_FOUND) {
                d->have_status = true;
                snprintf(d->state, sizeof(d->state), "absent");
        } else
                snprintf(d->status_error, sizeof(d->status_error),
                         "The host service is unavailable: the state is unknown for now (%s).",
                         r->error.message);
        if (d->n_mounted > 0 &&
            webd_rq_call(rq, WEBD_PEER_HOST, "overlay.list", NULL, detail_overlays_reply, d) >= 0)
                return 0;
        return detail_after_overlays(rq, d);
}

/* Then the last job, for its sentence. */
static int detail_after_overlays(struct webd_rq *rq, struct detail *d) {
        struct webd_server s = {};
        int64_t last = 0;

        if (load_visible(rq, d->id, &s) < 0)
                return not_found(rq);
        last = s.last_job_id;
        webd_server_done(&s);
        return page_with_job(rq, last, detail_render, d);
}

static int instance_call(struct webd_rq *rq, int64_t id, const char *method, webd_rq_reply_fn fn,
                         void *arg) {
        struct rpc_buf b;
        struct rpc_map m;
        char inst[NAME_LEN_MAX + 1];
        int r;

        (void) webd_db_server_instance(rq->w->db, id, inst, sizeof(inst));
        rpc_buf_init(&b, 0);
        rpc_pack_kv_str(rpc_params_begin(&m, &b.pk), "name", inst);
        r = rpc_map_end(&m);
        if (r >= 0)
                r = webd_rq_call(rq, WEBD_PEER_HOST, method, &b, fn, arg);
        rpc_buf_done(&b);
        return r;
}

/* ---- the journal stream ------------------------------------------------------------------------ */

struct follow {
        struct webd_call *call;
        struct sse_stream *s;
};

static void follow_dispose(void *p) {
        struct follow *f = p;

        if (f->call)
                webd_call_cancel(f->call);
        f->call = NULL;
}

static void follow_notify(struct webd_call *c, const msgpack_object *p, void *userdata) {
        struct follow *f = userdata;
        char cursor[512], inv[40];
        _cleanup_free_ char *data = NULL;
        struct json j;
        size_t len = 0;

        if (obj_str_is(p, "type", "entry")) {
                const msgpack_object *msg = obj_get(p, "message");
                json_init(&j, 64u * 1024u);
                json_object_begin(&j);
                json_key(&j, "message");
                if (msg && (msg->type == MSGPACK_OBJECT_STR || msg->type == MSGPACK_OBJECT_BIN))
                        json_strn(&j, msg->via.str.ptr, msg->via.str.size);
                else
                        json_str(&j, "");
                json_kv_int(&j, "usec", obj_int(p, "realtime_usec", 0));
                json_kv_int(&j, "priority", obj_int(p, "priority", 6));
                json_object_end(&j);
                if (json_ok(&j))
                        data = json_steal(&j, &len);
                json_done(&j);
                if (data)
                        (void) sse_stream_send(f->s, obj_str(p, "cursor", cursor, sizeof(cursor)), "entry",
                                               data, len);
        } else if (obj_str_is(p, "type", "invocation")) {
                char d[80];
                snprintf(d, sizeof(d), "{\"invocation_id\":\"%s\"}",
                         obj_str(p, "invocation_id", inv, sizeof(inv)));
                for (char *q = d; *q; q++)
                        if (*q == '\\')
                                *q = '?';
                (void) sse_stream_send(f->s, NULL, "restart", d, strlen(d));
        } else if (obj_str_is(p, "type", "lost")) {
                static const char lost[] =
                        "{\"message\":\"the journal dropped lines before they were read\"}";
                (void) sse_stream_send(f->s, NULL, "lost", lost, sizeof(lost) - 1);
        } else if (obj_str_is(p, "type", "caught_up"))
                (void) sse_stream_send(f->s, NULL, "caught_up", "{}", 2);
}

/* logd ended the follow (it stopped, or went away): the stream ends without a final event
 * and the browser reconnects with Last-Event-ID (the last cursor). */
static void follow_reply(struct webd_call *c, const struct rpc_core_reply *r, void *userdata) {
        struct follow *f = userdata;

        f->call = NULL;
        webd_sse_end_unavailable(f->s, WEBD_PEER_LOGS);
}

static int route_log_events(struct webd_rq *rq, int64_t id) {
        const char *last = webd_rq_header_str(rq, "last-event-id", NULL);
        struct webd_server s = {};
        struct follow *f;
        struct sse_stream *stream;
        struct rpc_buf b;
        struct rpc_map m, t;
        msgpack_packer *pk, *tp;
        char inst[NAME_LEN_MAX + 1];
        int r;

        if (load_visible(rq, id, &s) < 0)
                return webd_send_error(rq->req, 404, "Not Found", "not_found", "no such server");
        webd_server_done(&s);
        if (!last && *rq->query) {
                struct form q = {};
                if (form_parse_query(&q, rq->query, strlen(rq->query), NULL) >= 0 && form_get(&q, "after"))
                        last = h2o_strdup(&rq->req->pool, form_get(&q, "after"), SIZE_MAX).base;
                form_done(&q);
        }
        /* A journal cursor is printable ASCII of bounded length; anything else starts afresh. */
        if (last && (strlen(last) > 400 || strpbrk(last, " \"\\")))
                last = NULL;
        (void) webd_db_server_instance(rq->w->db, id, inst, sizeof(inst));
        rpc_buf_init(&b, 0);
        pk = rpc_params_begin(&m, &b.pk);
        rpc_pack_key(pk, "target");
        tp = rpc_map_begin(&t, pk);
        rpc_pack_kv_str(tp, "kind", "server");
        rpc_pack_kv_str(tp, "name", inst);
        (void) rpc_map_end(&t);
        if (last && *last)
                rpc_pack_kv_str(pk, "after_cursor", last);
        else
                rpc_pack_kv_int(pk, "lines", 200);
        r = rpc_map_end(&m);
        if (r < 0 || !rpc_buf_ok(&b)) {
                rpc_buf_done(&b);
                return webd_send_error(rq->req, 500, "Internal Server Error", "internal", "out of memory");
        }
        if (webd_rq_sse_start(rq, "journal", &stream) != 0) {
                rpc_buf_done(&b);
                return 0;
        }
        /* The page's one stream carries its server's state too. */
        (void) webd_statefeed_join(rq, stream);
        f = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*f), follow_dispose);
        *f = (struct follow){.s = stream};
        r = webd_call(rq->w->backends, WEBD_PEER_LOGS, "logs.follow", &b, 0, follow_notify, follow_reply, f,
                      &f->call);
        rpc_buf_done(&b);
        if (r < 0) {
                f->call = NULL;
                webd_sse_end_unavailable(f->s, WEBD_PEER_LOGS);
        }
        return 0;
}

/* GET /servers/<id>/history: the server's audit entries (the caller checked who may see it). */
static int route_history(struct webd_rq *rq, const struct webd_server *s) {
        char object[48], back[48], title[WEBD_NAME_MAX + 32];

        snprintf(object, sizeof(object), "server:%" PRId64, s->id);
        snprintf(back, sizeof(back), SERVERS "/%" PRId64, s->id);
        snprintf(title, sizeof(title), "History of %s", s->name);
        return page_audit_history(rq, title, object, back, "Back to the server");
}

/* GET /servers/<id>, /servers/<id>/jobs, /servers/<id>/history, /servers/<id>/log/events */
static int route_get(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, SERVERS "/", &rest);
        struct webd_server s = {};
        struct detail *d;
        char subject[NAME_LEN_MAX + 16], back[48];
        int r;

        if (streq(rq->path, SERVERS "/events")) {
                /* The list page's live badges. */
                struct sse_stream *stream;
                if (webd_rq_sse_start(rq, "servers", &stream) != 0)
                        return 0;
                if (webd_statefeed_join(rq, stream) < 0)
                        sse_stream_close(stream);
                return 0;
        }
        if (!id)
                return not_found(rq);
        if (streq(rest, "/log/events"))
                return route_log_events(rq, id);
        if (load_visible(rq, id, &s) < 0)
                return not_found(rq);
        if (strneq(rest, "/files", 6) && (rest[6] == 0 || rest[6] == '/')) {
                char inst[NAME_LEN_MAX + 1];
                (void) webd_db_server_instance(rq->w->db, id, inst, sizeof(inst));
                r = page_server_files(rq, id, s.name, inst, rest + 6);
                webd_server_done(&s);
                return r;
        }
        if (streq(rest, "/history")) {
                r = route_history(rq, &s);
                webd_server_done(&s);
                return r;
        }
        webd_server_done(&s);
        if (streq(rest, "/jobs")) {
                char inst[NAME_LEN_MAX + 1];
                (void) webd_db_server_instance(rq->w->db, id, inst, sizeof(inst));
                snprintf(subject, sizeof(subject), "server:%s", inst);
                snprintf(back, sizeof(back), SERVERS "/%" PRId64, id);
                return page_job_list(rq, NULL, subject, back);
        }
        if (*rest)
                return not_found(rq);
        d = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*d));
        *d = (struct detail){.id = id};
        r = instance_call(rq, id, "instance.status", detail_status_reply, d);
        if (r < 0) {
                struct rpc_core_reply fake = {.transport_error = r, .failed = true, .fd = -1};
                (void) rpc_error_set(&fake.error, RPC_UNAVAILABLE, "%s", strerror(-r));
                return detail_status_reply(rq, &fake, d);
        }
        return 0;
}

/* ---- changes ----------------------------------------------------------------------------------- */

static void server_audit(struct webd_rq *rq, struct webd_audit *a, const char *kind, char object[48],
                         int64_t id, const char *detail) {
        snprintf(object, 48, "server:%" PRId64, id);
        *a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                 .actor = rq->user.username,
                                 .kind = kind,
                                 .object = object,
                                 .address = rq->address,
                                 .result = "ok",
                                 .detail = detail,
                                 .token = rq->token_name};
}

/* POST /servers/<id>: name, hostname, blueprint. */
static int server_update(struct webd_rq *rq, struct webd_server *s) {
        const char *name = webd_rq_field(rq, "name"), *hostname = webd_rq_field(rq, "hostname"),
                   *bp_s = webd_rq_field(rq, "blueprint_id"), *err;
        struct webd_server u = *s;
        long long bp = 0;
        char object[48], to[64];
        struct webd_audit a;
        int r;

        err = webd_check_name(name);
        if (!err)
                err = webd_check_hostname(hostname ?: "");
        if (!err && (!bp_s || safe_atoi64(bp_s, 1, INT64_MAX, &bp) < 0))
                err = "Choose a blueprint.";
        if (err)
                return webd_rq_error(rq, 400, "Not saved", err);
        u.name = (char *) name;
        u.hostname = (char *) (hostname ?: "");
        u.blueprint_id = bp;
        server_audit(rq, &a, "server.update", object, s->id, name);
        r = webd_db_server_update(rq->w->db, &u, (int64_t) rq->now_usec, &a);
        if (r == -EEXIST)
                return webd_rq_error(rq, 409, "Not saved", "There is already a server with that name.");
        if (r == -ENOENT)
                return webd_rq_error(rq, 400, "Not saved", "Choose one of the owner's blueprints.");
        if (r < 0)
                return webd_rq_error(rq, 500, "Not saved", "The server could not be stored.");
        snprintf(to, sizeof(to), SERVERS "/%" PRId64 "?m=server-saved", s->id);
        return webd_rq_redirect(rq, to);
}

static int server_rcon(struct webd_rq *rq, struct webd_server *s) {
        char rcon[WEBD_RCON_PASSWORD_LEN + 1], object[48], to[64];
        struct webd_audit a;

        rcon_generate(rcon);
        server_audit(rq, &a, "server.rcon", object, s->id, "rotated");
        if (webd_db_server_set_rcon(rq->w->db, s->id, rcon, (int64_t) rq->now_usec, &a) < 0)
                return webd_rq_error(rq, 500, "Not saved", "The password could not be stored.");
        snprintf(to, sizeof(to), SERVERS "/%" PRId64 "?m=rcon-rotated", s->id);
        return webd_rq_redirect(rq, to);
}

/* A lifecycle action in flight: what to submit, and what to record once jobd has it. */
struct action {
        int64_t server_id, owner_id;
        const char *what; /* start, stop, restart, reset, delete */
        const char *kind; /* the job kind submitted now */
        enum webd_desired desired;
        char spec_hash[WEBD_SPEC_HASH_HEX];
        bool then_start; /* restart: a start after the stop */
        struct rpc_buf payload;
        bool have_payload;
};

static void action_dispose(void *p) {
        struct action *a = p;

        if (a->have_payload)
                rpc_buf_done(&a->payload);
}

/* The payload of a server job: {server, overlays[, spec]}. */
static int pack_payload(struct action *a, const char *inst, const struct webd_blueprint *b,
                        const char *spec) {
        struct rpc_map m;
        msgpack_packer *pk;

        if (a->have_payload)
                rpc_buf_done(&a->payload);
        rpc_buf_init(&a->payload, 2u * 1024u * 1024u);
        a->have_payload = true;
        pk = rpc_map_begin(&m, &a->payload.pk);
        rpc_pack_kv_str(pk, "server", inst);
        rpc_pack_key(pk, "overlays");
        msgpack_pack_array(pk, b ? b->n_overlays : 0);
        for (size_t i = 0; b && i < b->n_overlays; i++)
                rpc_pack_str(pk, b->overlays[i].id);
        if (spec)
                rpc_pack_kv_str(pk, "spec", spec);
        if (rpc_map_end(&m) < 0 || !rpc_buf_ok(&a->payload))
                return -ENOBUFS;
        return 0;
}

static int submit_step(struct webd_rq *rq, struct action *a);

static int submitted(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct action *a = arg;
        const msgpack_object *job = page_reply_job(r);
        int64_t job_id = job ? obj_int(job, "id", 0) : 0;
        char object[48], to[64];
        struct webd_audit au;
        int rr;

        if (r->failed || job_id <= 0) {
                snprintf(object, sizeof(object), "server:%" PRId64, a->server_id);
                webd_rq_audit(rq, NULL, a->kind, object, "failed", r->error.message);
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        }
        server_audit(rq, &au, a->kind, object, a->server_id, NULL);
        rr = webd_db_server_set_desired(rq->w->db, a->server_id, a->desired, job_id,
                                        a->spec_hash[0] ? a->spec_hash : NULL, (int64_t) rq->now_usec, &au);
        if (rr < 0)
                log_error("web.db: cannot record job %" PRId64 " of server %" PRId64 ": %s", job_id,
                          a->server_id, strerror(-rr));
        if (a->then_start) {
                a->then_start = false;
                a->what = "start";
                return submit_step(rq, a);
        }
        if (rq->token_name)
                return page_api_job_accepted(rq, job_id, a->server_id, false);
        if (streq(a->what, "delete"))
                return webd_rq_redirect(rq, SERVERS "?m=server-deleting");
        snprintf(to, sizeof(to), "/jobs/%" PRId64, job_id);
        return webd_rq_redirect(rq, to);
}

/* Renders what the current blueprint makes (for a start) and submits the job. */
static int submit_step(struct webd_rq *rq, struct action *a) {
        struct webd_server s = {};
        struct webd_blueprint b = {};
        _cleanup_free_ char *spec = NULL;
        char inst[NAME_LEN_MAX + 1], err[512];
        int r;

        if (webd_db_server_get(rq->w->db, a->server_id, &s) < 0)
                return not_found(rq);
        if (webd_db_blueprint_get(rq->w->db, s.blueprint_id, &b) < 0) {
                webd_server_done(&s);
                return webd_rq_error(rq, 500, "Not started", "The server's blueprint cannot be read.");
        }
        snprintf(inst, sizeof(inst), "%s", s.instance);
        a->spec_hash[0] = 0;
        if (streq(a->what, "start")) {
                r = webd_spec_render(&b, &s, &spec, err, sizeof(err));
                if (r < 0) {
                        webd_server_done(&s);
                        webd_blueprint_done(&b);
                        return webd_rq_error(rq, 400, "Not started", err);
                }
                webd_spec_hash(spec, a->spec_hash);
                a->kind = "server.start";
                a->desired = WEBD_DESIRED_RUNNING;
        } else if (streq(a->what, "stop") || streq(a->what, "restart")) {
                a->kind = "server.stop";
                a->desired = WEBD_DESIRED_STOPPED;
                a->then_start = streq(a->what, "restart");
        } else if (streq(a->what, "reset")) {
                a->kind = "server.reset";
                a->desired = WEBD_DESIRED_STOPPED;
        } else {
                a->kind = "server.delete";
                a->desired = WEBD_DESIRED_DELETING;
        }
        r = pack_payload(a, inst, &b, spec);
        webd_server_done(&s);
        webd_blueprint_done(&b);
        if (r >= 0)
                r = page_submit_job(rq, a->kind, a->owner_id, NULL, &a->payload, submitted, a);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_JOBS, r) : 0;
}

static void ignore_reply(struct webd_call *c, const struct rpc_core_reply *r, void *userdata) {
}

/* Before a delete: the server's queued jobs are cancelled. jobd handles one connection's
 * calls in order, so the cancels land before the delete is queued. */
static int delete_after_list(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct action *a = arg;
        const msgpack_object_array *jobs = r->failed ? NULL : obj_array(r->result, "jobs");

        if (r->failed)
                return webd_rq_rpc_error(rq, WEBD_PEER_JOBS, r);
        for (uint32_t i = 0; jobs && i < jobs->size; i++) {
                struct rpc_buf b;
                struct rpc_map m;
                rpc_buf_init(&b, 0);
                rpc_pack_kv_int(rpc_params_begin(&m, &b.pk), "id", obj_int(&jobs->ptr[i], "id", 0));
                if (rpc_map_end(&m) >= 0)
                        (void) webd_call(rq->w->backends, WEBD_PEER_JOBS, "jobs.cancel", &b,
                                         WEBD_CALL_TIMEOUT_MS, NULL, ignore_reply, NULL, NULL);
                rpc_buf_done(&b);
        }
        return submit_step(rq, a);
}

/* Two tabs pressing Start: the second lands on the job the first made. */
static int start_after_last(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct action *a = arg;
        const msgpack_object *job = page_reply_job(r);
        char state[16], kind[32], to[64];

        if (job && !page_job_done(obj_str(job, "state", state, sizeof(state))) &&
            streq(obj_str(job, "kind", kind, sizeof(kind)), "server.start")) {
                if (rq->token_name)
                        return page_api_job_accepted(rq, obj_int(job, "id", 0), a->server_id, true);
                snprintf(to, sizeof(to), "/jobs/%" PRId64 "?m=job-exists", obj_int(job, "id", 0));
                return webd_rq_redirect(rq, to);
        }
        return submit_step(rq, a);
}

static int server_lifecycle(struct webd_rq *rq, struct webd_server *s, const char *what) {
        struct action *a = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*a), action_dispose);
        struct rpc_buf b;
        struct rpc_map m;
        int r = 0;

        *a = (struct action){.server_id = s->id, .owner_id = s->owner_id, .what = what};
        if (s->desired == WEBD_DESIRED_DELETING)
                return webd_rq_error(rq, 409, "Being deleted", "This server is being deleted.");
        rpc_buf_init(&b, 0);
        if (streq(what, "start") && s->last_job_id > 0)
                r = webd_rq_call_id(rq, WEBD_PEER_JOBS, "jobs.get", s->last_job_id, start_after_last, a);
        else if (streq(what, "delete")) {
                char inst[NAME_LEN_MAX + 1], subject[NAME_LEN_MAX + 16];
                msgpack_packer *pk = rpc_params_begin(&m, &b.pk);
                snprintf(inst, sizeof(inst), "%s", s->instance);
                snprintf(subject, sizeof(subject), "server:%s", inst);
                rpc_pack_kv_str(pk, "subject", subject);
                rpc_pack_kv_str(pk, "state", "queued");
                rpc_pack_kv_int(pk, "limit", 500);
                r = rpc_map_end(&m);
                if (r >= 0)
                        r = webd_rq_call(rq, WEBD_PEER_JOBS, "jobs.list", &b, delete_after_list, a);
        } else {
                rpc_buf_done(&b);
                return submit_step(rq, a);
        }
        rpc_buf_done(&b);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_JOBS, r) : 0;
}

/* POST /servers/<id>[/<action>] */
static int route_post(struct webd_rq *rq) {
        const char *rest = NULL;
        int64_t id = page_path_id(rq->path, SERVERS "/", &rest);
        struct webd_server s = {};
        int r;

        if (!id || load_visible(rq, id, &s) < 0)
                return not_found(rq);
        if (!*rest)
                r = server_update(rq, &s);
        else if (streq(rest, "/rcon"))
                r = server_rcon(rq, &s);
        else if (streq(rest, "/start") || streq(rest, "/stop") || streq(rest, "/restart") ||
                 streq(rest, "/reset") || streq(rest, "/delete"))
                r = server_lifecycle(rq, &s, rest + 1);
        else
                r = not_found(rq);
        webd_server_done(&s);
        return r;
}

int page_server_action(struct webd_rq *rq, int64_t id, const char *what) {
        struct webd_server s = {};
        int r;

        if (!webd_rq_may_server(rq, id) || load_visible(rq, id, &s) < 0)
                return not_found(rq);
        r = server_lifecycle(rq, &s, what);
        webd_server_done(&s);
        return r;
}

/* ---- adopting an instance made with l4d2ctl --------------------------------------------------------- */

void page_adopt_form(struct webd_rq *rq, struct html *h, const char *instance) {
        struct blueprint_options c = {.h = h, .with_owner = true};
        char action[NAME_LEN_MAX + 32], id[NAME_LEN_MAX + 16];

        snprintf(action, sizeof(action), "/admin/instances/%s/adopt", instance);
        snprintf(id, sizeof(id), "adopt-%s", instance);
        page_form_begin(rq, h, action, NULL);
        html_attr(h, "class", "adopt");
        page_select_begin(h, "field inline", "Blueprint (its owner owns the server)", id, "blueprint_id",
                          true);
        (void) webd_db_blueprint_list(rq->w->db, 0, blueprint_option, &c);
        page_select_end(h);
        page_button(h, "Adopt", "secondary");
        html_close(h, "form");
}

struct adopt {
        char instance[NAME_LEN_MAX + 1];
        int64_t blueprint_id;
};

/* After a fresh instance.list: the instance must still be there, unmanaged; the server gets
 * its port (whatever the range: it had it first) and the blueprint's owner. */
static int adopt_reply(struct webd_rq *rq, const struct rpc_core_reply *r, void *arg) {
        struct adopt *ad = arg;
        const msgpack_object_array *host = list_of(r);
        const msgpack_object *e = NULL;
        struct webd_blueprint b = {};
        char rcon[WEBD_RCON_PASSWORD_LEN + 1], state[16] = "", object[NAME_LEN_MAX + 16], to[64];
        struct webd_server s;
        struct webd_audit a;
        int64_t id = 0, port;
        int rr;

        if (!host)
                return webd_rq_unavailable(rq, WEBD_PEER_HOST, r->transport_error ?: -EHOSTDOWN);
        for (uint32_t i = 0; i < host->size && !e; i++)
                if (obj_str_is(&host->ptr[i], "name", ad->instance))
                        e = &host->ptr[i];
        if (!e)
                return webd_rq_error(rq, 404, "Not adopted", "The host has no such instance (any more).");
        if (webd_db_server_id_of(rq->w->db, ad->instance))
                return webd_rq_error(rq, 409, "Not adopted",
                                     "This instance belongs to a server here already.");
        port = obj_int(e, "port", 0);
        if (port <= 0 || port > 65535)
                return webd_rq_error(
                        rq, 409, "Not adopted",
                        "The instance has no port (it was never initialized): remove it instead.");
        if (webd_db_blueprint_get(rq->w->db, ad->blueprint_id, &b) < 0)
                return webd_rq_error(rq, 400, "Not adopted", "Choose a blueprint.");
        obj_str(e, "state", state, sizeof(state));
        rcon_generate(rcon);
        s = (struct webd_server){.owner_id = b.owner_id,
                                 .blueprint_id = b.id,
                                 .name = ad->instance,
                                 .hostname = "",
                                 .rcon_password = rcon,
                                 .port = (unsigned) port,
                                 .instance = ad->instance};
        snprintf(object, sizeof(object), "instance:%s", ad->instance);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "server.adopt",
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = b.owner_name};
        rr = webd_db_server_create(rq->w->db, &s, 1, 65535, NULL, 0, (int64_t) rq->now_usec, &a, &id, NULL);
        webd_blueprint_done(&b);
        if (rr == -EEXIST)
                return webd_rq_error(rq, 409, "Not adopted",
                                     "The blueprint's owner has a server of that name already.");
        if (rr == -EADDRINUSE)
                return webd_rq_error(rq, 409, "Not adopted", "A server here has that instance's port.");
        if (rr < 0)
                return webd_rq_error(rq, 500, "Not adopted", "The server could not be stored.");
        /* What it does now is what it is meant to do, until someone decides otherwise. */
        if (streq(state, "running") || streq(state, "starting"))
                (void) webd_db_server_set_desired(rq->w->db, id, WEBD_DESIRED_RUNNING, 0, NULL,
                                                  (int64_t) rq->now_usec, NULL);
        webd_hostlist_invalidate(rq->w->hostlist);
        snprintf(to, sizeof(to), SERVERS "/%" PRId64 "?m=server-adopted", id);
        return webd_rq_redirect(rq, to);
}

int page_server_adopt(struct webd_rq *rq, const char *instance) {
        const char *bp_s = webd_rq_field(rq, "blueprint_id");
        struct adopt *ad;
        long long bp = 0;
        int r;

        if (!bp_s || safe_atoi64(bp_s, 1, INT64_MAX, &bp) < 0)
                return webd_rq_error(rq, 400, "Not adopted", "Choose a blueprint.");
        if (name_is_web(instance) || webd_db_server_id_of(rq->w->db, instance))
                return webd_rq_error(rq, 409, "Not adopted",
                                     "This instance belongs to a server here already.");
        ad = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*ad));
        snprintf(ad->instance, sizeof(ad->instance), "%s", instance);
        ad->blueprint_id = bp;
        r = webd_hostlist_get(rq, true, adopt_reply, ad);
        return r < 0 ? webd_rq_unavailable(rq, WEBD_PEER_HOST, r) : 0;
}

const struct webd_route page_servers_routes[] = {
        {"GET", SERVERS, route_list, WEBD_R_AUTH},
        {"POST", SERVERS, route_create, WEBD_R_AUTH},
        {"GET", SERVERS "/", route_get, WEBD_R_AUTH},
        {"POST", SERVERS "/", route_post, WEBD_R_AUTH},
};
const size_t page_servers_n_routes = ELEMENTSOF(page_servers_routes);
