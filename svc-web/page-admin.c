/* The admin area: users (list, create, activate, deactivate, delete, role, password) and
 * the audit log. Every route is WEBD_R_ADMIN. The guards are the original's: not on
 * yourself, never the last active admin (web.db refuses it inside the same transaction),
 * and — once servers, blueprints and overlays have owners in web.db — not a user who still
 * owns any (webd_user_owned() says what they own). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-passwords.h"
#include "svc-web/webd-request.h"

#define USERS "/admin/users"

/* What a user still owns, as a sentence for the refusal, or NULL. */
static const char *webd_user_owned(struct webd *w, int64_t user_id, char *buf, size_t len) {
        unsigned servers = 0, blueprints = 0, overlays = 0;

        if (webd_db_user_owns(w->db, user_id, &servers, &blueprints) < 0 ||
            webd_db_user_overlays(w->db, user_id, &overlays) < 0)
                return "rows web.db cannot count now";
        if (servers == 0 && blueprints == 0 && overlays == 0)
                return NULL;
        snprintf(buf, len, "%u server%s, %u blueprint%s and %u private overlay%s", servers,
                 servers == 1 ? "" : "s", blueprints, blueprints == 1 ? "" : "s", overlays,
                 overlays == 1 ? "" : "s");
        return buf;
}

static void object_of(char buf[32], int64_t id) {
        snprintf(buf, 32, "user:%lld", (long long) id);
}

/* ---- the users page --------------------------------------------------------------------------- */

struct list_ctx {
        struct webd_rq *rq;
        struct html *h;
};

static void user_action(struct webd_rq *rq, struct html *h, int64_t id, const char *what, const char *text,
                        const char *klass, const char *confirm) {
        char action[96];

        snprintf(action, sizeof(action), USERS "/%lld/%s", (long long) id, what);
        page_action(rq, h, action, text, klass, confirm);
}

static int user_row(const struct webd_user *u, void *userdata) {
        struct list_ctx *c = userdata;
        struct html *h = c->h;
        bool self = u->id == c->rq->user.id;
        char action[96];

        html_elem(h, "tr");
        html_elem(h, "td");
        html_text(h, u->username);
        if (self) {
                html_elem(h, "span");
                html_attr(h, "class", "badge");
                html_text(h, "you");
                html_close(h, "span");
        }
        html_close(h, "td");
        html_elem_text(h, "td", u->is_admin ? "admin" : "regular");
        html_elem(h, "td");
        html_elem(h, "span");
        html_attr(h, "class", u->active ? "state ok" : "state off");
        html_text(h, u->active ? "active" : "deactivated");
        html_close(h, "span");
        if (u->must_change_password)
                html_text(h, " · must change password");
        html_close(h, "td");
        html_elem(h, "td");
        page_time(h, u->created_usec);
        html_close(h, "td");
        html_elem(h, "td");
        html_attr(h, "class", "actions");
        if (!self) {
                user_action(c->rq, h, u->id, u->active ? "deactivate" : "activate",
                            u->active ? "Deactivate" : "Activate", "secondary", NULL);
                user_action(c->rq, h, u->id, u->is_admin ? "regular" : "admin",
                            u->is_admin ? "Make regular" : "Make admin", "secondary", NULL);
                user_action(c->rq, h, u->id, "delete", "Delete", "danger", "Delete this user for good?");
        }
        /* Setting a password: a small form of its own, inside a <details> to stay compact. */
        html_elem(h, "details");
        html_elem_text(h, "summary", "Set password");
        snprintf(action, sizeof(action), USERS "/%lld/password", (long long) u->id);
        page_form_begin(c->rq, h, action, NULL);
        {
                char label[160];
                snprintf(label, sizeof(label), "New password for %s", u->username);
                html_elem(h, "label");
                html_attr(h, "class", "sr-only");
                html_text(h, label);
                html_elem(h, "input");
                html_attr(h, "type", "password");
                html_attr(h, "name", "new_password");
                html_attr(h, "autocomplete", "new-password");
                html_attr(h, "required", NULL);
                html_close(h, "label");
        }
        html_elem(h, "label");
        html_elem(h, "input");
        html_attr(h, "type", "checkbox");
        html_attr(h, "name", "must_change");
        html_attr(h, "value", "1");
        html_attr(h, "checked", NULL);
        html_text(h, " must change at next login");
        html_close(h, "label");
        page_button(h, "Set", "secondary");
        html_close(h, "form");
        html_close(h, "details");
        html_close(h, "td");
        html_close(h, "tr");
        return 0;
}

static int users_page(struct webd_rq *rq, int status, const char *error, const char *username) {
        struct html h;
        struct list_ctx c = {rq, &h};

        html_init(&h, 0);
        page_begin(rq, &h, "Users");
        html_elem_text(&h, "h1", "Users");
        if (error)
                page_alert(&h, "error", error);
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_attr(&h, "id", "users");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Name");
        html_elem_text(&h, "th", "Role");
        html_elem_text(&h, "th", "State");
        html_elem_text(&h, "th", "Created");
        html_elem_text(&h, "th", "Actions");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        if (webd_db_user_list(rq->w->db, user_row, &c) < 0)
                log_error("web.db: cannot list users: %s", webd_db_errmsg(rq->w->db));
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");

        html_elem(&h, "section");
        html_attr(&h, "class", "card narrow");
        html_elem_text(&h, "h2", "New user");
        page_form_begin(rq, &h, USERS, NULL);
        page_input(&h, "Username", "text", "username", username, "off", true);
        page_input(&h, "Password (at least 8 characters)", "password", "password", NULL, "new-password",
                   true);
        html_elem(&h, "div");
        html_attr(&h, "class", "field check");
        html_elem(&h, "label");
        html_elem(&h, "input");
        html_attr(&h, "type", "checkbox");
        html_attr(&h, "name", "is_admin");
        html_attr(&h, "value", "1");
        html_text(&h, " Administrator");
        html_close(&h, "label");
        html_elem(&h, "label");
        html_elem(&h, "input");
        html_attr(&h, "type", "checkbox");
        html_attr(&h, "name", "must_change");
        html_attr(&h, "value", "1");
        html_attr(&h, "checked", NULL);
        html_text(&h, " Must change the password at first login");
        html_close(&h, "label");
        html_close(&h, "div");
        page_button(&h, "Create user", "primary");
        html_close(&h, "form");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

static int route_users(struct webd_rq *rq) {
        return users_page(rq, 200, NULL, NULL);
}

/* ---- changes ---------------------------------------------------------------------------------- */

static bool checked(struct webd_rq *rq, const char *name) {
        const char *v = form_get(&rq->form, name);
        return v && streq(v, "1");
}

static const char *username_error(const char *name) {
        if (!name || !*name)
                return "Enter a username.";
        if (strlen(name) > WEBD_DB_USERNAME_MAX)
                return "The username is too long (at most 64 bytes).";
        for (const char *c = name; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return "The username may not contain spaces or control characters.";
        return NULL;
}

static void create_done(struct pw_job *j) {
        struct webd_rq *rq = j->userdata;
        struct webd_audit a;
        int64_t id = 0;
        int r;

        if (!j->super.req)
                goto finish;
        if (j->super.cancelled || j->hash_r < 0) {
                j->super.cancelled ? pw_busy(rq)
                                   : webd_rq_error(rq, 500, "Error", "The password could not be hashed.");
                goto finish;
        }
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "user.create",
                                .object = j->name,
                                .address = rq->address,
                                .result = "ok",
                                .detail = j->flag ? "admin" : "regular"};
        r = webd_db_user_create(rq->w->db, j->name, j->new_hash, j->flag, j->must_change,
                                (int64_t) rq->now_usec, &a, &id);
        if (r == -EEXIST) {
                users_page(rq, 409, "A user of that name exists already.", j->name);
                goto finish;
        }
        if (r < 0) {
                users_page(rq, 400, "The user could not be created.", j->name);
                goto finish;
        }
        webd_rq_redirect(rq, USERS "?m=user-created");
finish:
        pw_job_free(j);
}

static int route_user_create(struct webd_rq *rq) {
        const char *name = webd_rq_field(rq, "username"), *pw = webd_rq_field(rq, "password");
        const char *err = username_error(name) ?: pw_policy_error(pw);
        struct webd_user existing = {};
        struct pw_job *j;

        if (err)
                return users_page(rq, 400, err, name);
        if (webd_db_user_get_by_name(rq->w->db, name, &existing) == 0) {
                webd_user_done(&existing);
                return users_page(rq, 409, "A user of that name exists already.", name);
        }
        j = pw_job_new(rq->w, create_done, rq);
        if (!j || pw_job_hash(j, pw, strlen(pw)) < 0) {
                pw_job_free(j);
                return webd_rq_error(rq, 500, "Error", "Out of memory.");
        }
        snprintf(j->name, sizeof(j->name), "%s", name);
        j->flag = checked(rq, "is_admin");
        j->must_change = checked(rq, "must_change");
        if (pw_job_submit(j, rq->req) < 0) {
                pw_job_free(j);
                return pw_busy(rq);
        }
        return 0;
}

static void set_password_done(struct pw_job *j) {
        struct webd_rq *rq = j->userdata;
        struct webd_audit a;
        char object[32];
        int r;

        if (!j->super.req)
                goto finish;
        if (j->super.cancelled || j->hash_r < 0) {
                j->super.cancelled ? pw_busy(rq)
                                   : webd_rq_error(rq, 500, "Error", "The password could not be hashed.");
                goto finish;
        }
        object_of(object, j->user_id);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "user.password",
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = j->flag ? "must change at next login" : NULL};
        /* An admin reset ends every session of that user, the admin's own included if it is
         * the admin's own password. */
        r = webd_db_user_set_password(rq->w->db, j->user_id, j->new_hash, j->flag, (int64_t) rq->now_usec,
                                      j->user_id == rq->user.id ? rq->session_hash : NULL, &a);
        if (r < 0)
                users_page(rq, r == -ENOENT ? 404 : 500, "The password could not be set.", NULL);
        else
                webd_rq_redirect(rq, USERS "?m=password-set");
finish:
        pw_job_free(j);
}

/* POST /admin/users/<id>/<action> */
static int route_user_action(struct webd_rq *rq) {
        struct webd *w = rq->w;
        const char *rest = rq->path + STRLEN(USERS "/");
        char *end = NULL, object[32];
        long long id = strtoll(rest, &end, 10);
        const char *action, *owned, *kind;
        char owned_buf[96];
        struct webd_user u = {};
        struct webd_audit a;
        int r;

        if (!end || end == rest || *end != '/' || id <= 0 || *rest == '0')
                return webd_rq_error(rq, 404, "Not found", "There is no such user.");
        action = end + 1;
        r = webd_db_user_get(w->db, id, &u);
        if (r < 0)
                return webd_rq_error(rq, 404, "Not found", "There is no such user.");
        object_of(object, id);

        if (streq(action, "password")) {
                const char *pw = webd_rq_field(rq, "new_password"), *err = pw_policy_error(pw);
                struct pw_job *j;

                webd_user_done(&u);
                if (err)
                        return users_page(rq, 400, err, NULL);
                j = pw_job_new(w, set_password_done, rq);
                if (!j || pw_job_hash(j, pw, strlen(pw)) < 0) {
                        pw_job_free(j);
                        return webd_rq_error(rq, 500, "Error", "Out of memory.");
                }
                j->user_id = id;
                j->flag = checked(rq, "must_change");
                if (pw_job_submit(j, rq->req) < 0) {
                        pw_job_free(j);
                        return pw_busy(rq);
                }
                return 0;
        }

        if (id == rq->user.id) {
                webd_user_done(&u);
                return users_page(rq, 409, "You cannot deactivate, delete or change the role of yourself.",
                                  NULL);
        }
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .object = object,
                                .address = rq->address,
                                .result = "ok",
                                .detail = u.username};
        if (streq(action, "activate") || streq(action, "deactivate")) {
                a.kind = kind = streq(action, "activate") ? "user.activate" : "user.deactivate";
                r = webd_db_user_set_active(w->db, id, streq(action, "activate"), &a);
        } else if (streq(action, "admin") || streq(action, "regular")) {
                a.kind = kind = streq(action, "admin") ? "user.promote" : "user.demote";
                r = webd_db_user_set_admin(w->db, id, streq(action, "admin"), &a);
        } else if (streq(action, "delete")) {
                a.kind = kind = "user.delete";
                owned = webd_user_owned(w, id, owned_buf, sizeof(owned_buf));
                if (owned) {
                        char msg[256];
                        snprintf(msg, sizeof(msg), "%s still owns %s; delete or hand them over first.",
                                 u.username, owned);
                        webd_user_done(&u);
                        return users_page(rq, 409, msg, NULL);
                }
                r = webd_db_user_delete(w->db, id, &a);
        } else {
                webd_user_done(&u);
                return webd_rq_error(rq, 404, "Not found", "There is no such action.");
        }
        if (r == -EBUSY) {
                webd_rq_audit(rq, NULL, kind, object, "denied", "the last active admin");
                webd_user_done(&u);
                return users_page(rq, 409, "That would leave no active administrator.", NULL);
        }
        webd_user_done(&u);
        if (r < 0)
                return users_page(rq, 500, "The change could not be stored.", NULL);
        return webd_rq_redirect(rq,
                                streq(action, "delete") ? USERS "?m=user-deleted" : USERS "?m=user-updated");
}

/* ---- the audit log ---------------------------------------------------------------------------- */

/* GET /admin/audit: every entry, filtered by actor, kind and object (exact matches). */
static int route_audit(struct webd_rq *rq) {
        struct form q = {};
        struct webd_audit_filter f = {.limit = 100};
        const char *v;
        long long before = 0;
        int64_t next = 0;
        struct html h;
        char base[512];

        if (*rq->query && form_parse_query(&q, rq->query, strlen(rq->query), NULL) < 0)
                return webd_rq_error(rq, 400, "Bad query", form_err_to_string(q.err));
        if ((v = form_get(&q, "actor")) && *v)
                f.actor = v;
        if ((v = form_get(&q, "kind")) && *v)
                f.kind = v;
        if ((v = form_get(&q, "object")) && *v)
                f.object = v;
        if ((v = form_get(&q, "before")) && *v) {
                if (safe_atoi64(v, 1, INT64_MAX, &before) < 0) {
                        form_done(&q);
                        return webd_rq_error(rq, 400, "Bad query", "before must be an entry id.");
                }
                f.before_id = before;
        }
        html_init(&h, 0);
        page_begin(rq, &h, "Audit log");
        html_elem_text(&h, "h1", "Audit log");
        html_elem(&h, "form");
        html_attr(&h, "method", "get");
        html_attr(&h, "action", "/admin/audit");
        html_attr(&h, "class", "filters");
        page_input(&h, "User", "text", "actor", f.actor, "off", false);
        page_input(&h, "Kind", "text", "kind", f.kind, "off", false);
        page_input(&h, "Object (server:3, overlay:5, user:2)", "text", "object", f.object, "off", false);
        page_button(&h, "Filter", "secondary");
        html_close(&h, "form");
        if (page_audit_table(rq, &h, "audit", &f, PAGE_AUDIT_OBJECT | PAGE_AUDIT_ADDRESS, &next) >= 0 &&
            next > 0) {
                _cleanup_free_ char *actor = form_urlencode(f.actor ?: ""),
                                    *kind = form_urlencode(f.kind ?: ""),
                                    *object = form_urlencode(f.object ?: "");
                /* Filters too long for the link end the paging here rather than page unfiltered. */
                if (actor && kind && object &&
                    (size_t) snprintf(base, sizeof(base), "/admin/audit?actor=%s&kind=%s&object=%s", actor,
                                      kind, object) < sizeof(base))
                        page_audit_more(&h, base, next);
        }
        page_end(rq, &h);
        form_done(&q);
        return webd_rq_send_html(rq, 200, &h);
}

const struct webd_route page_admin_routes[] = {
        {"GET", USERS, route_users, WEBD_R_ADMIN},
        {"POST", USERS, route_user_create, WEBD_R_ADMIN},
        {"POST", USERS "/", route_user_action, WEBD_R_ADMIN},
        {"GET", "/admin/audit", route_audit, WEBD_R_ADMIN},
};
const size_t page_admin_n_routes = ELEMENTSOF(page_admin_routes);
