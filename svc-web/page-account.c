/* The account area: the dashboard, login and logout, the profile with its password change
 * and its list of sessions.
 *
 * Login: the form's token is also a cookie (WEBD_LOGIN_COOKIE), checked by the dispatcher
 * with the Origin rules. Then the rate limits (per address and per username, 20 attempts
 * in 60 s, original-left4me.md §4), then argon2id on a worker (webd-passwords.h). An
 * unknown user, a deactivated one and a wrong password all take the dummy or real hash
 * path and get the very same page. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd-page.h"
#include "svc-web/webd-passwords.h"
#include "svc-web/webd-request.h"

#define LOGIN_FAILED "Wrong username or password."

/* ---- rate limits ------------------------------------------------------------------------------ */

/* 0, or the seconds to wait: the limit is reached for the address or the username. */
static unsigned limited(struct webd *w, const char *address, const char *username) {
        uint64_t now = now_usec();
        uint64_t a = ratelimit_retry_after_usec(w->rl_address, address, now);
        uint64_t u = ratelimit_retry_after_usec(w->rl_username, username, now);

        return (unsigned) ((MAX(a, u) + 999999u) / 1000000u);
}

static void count_attempt(struct webd *w, const char *address, const char *username) {
        uint64_t now = now_usec();

        (void) ratelimit_attempt(w->rl_address, address, now);
        (void) ratelimit_attempt(w->rl_username, username, now);
        webd_limits_changed(w);
}

static int too_many(struct webd_rq *rq, unsigned wait, const char *who) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%u", MAX(wait, 1u));
        webd_rq_add_header(rq, "retry-after", buf);
        webd_rq_audit(rq, who, "login", NULL, "rate-limited", NULL);
        return webd_rq_error(
                rq, 429, "Too many attempts",
                "Too many attempts for this account or from this address. Wait a minute and try "
                "again.");
}

/* ---- the dashboard ---------------------------------------------------------------------------- */

static int route_dashboard(struct webd_rq *rq) {
        struct html h;

        html_init(&h, 0);
        page_begin(rq, &h, "Dashboard");
        html_elem(&h, "h1");
        html_textf(&h, "Welcome, %s", rq->user.username);
        html_close(&h, "h1");
        html_elem(&h, "section");
        html_attr(&h, "class", "cards");
        html_elem(&h, "article");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Servers");
        html_elem_text(&h, "p", "Your game servers will be listed here.");
        html_close(&h, "article");
        html_elem(&h, "article");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Your account");
        html_elem(&h, "p");
        html_text(&h, rq->user.is_admin ? "Administrator. " : "Regular user. ");
        html_elem(&h, "a");
        html_attr(&h, "href", "/profile");
        html_text(&h, "Profile and sessions");
        html_close(&h, "a");
        html_close(&h, "p");
        html_close(&h, "article");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, 200, &h);
}

/* ---- login ------------------------------------------------------------------------------------ */

static int login_page(struct webd_rq *rq, int status, const char *next, const char *username,
                      const char *error) {
        char token[AUTH_CSRF_LEN + 1];
        struct html h;

        /* A fresh token for every form shown; the cookie lives as long as the browser. */
        auth_csrf_new(token);
        webd_rq_set_cookie(rq, WEBD_LOGIN_COOKIE, token, 0);
        html_init(&h, 0);
        page_begin(rq, &h, "Log in");
        html_elem(&h, "section");
        html_attr(&h, "class", "narrow");
        html_elem_text(&h, "h1", "Log in");
        if (error)
                page_alert(&h, "error", error);
        page_form_begin(rq, &h, "/login", token);
        if (next && form_next_ok(next) && !streq(next, "/")) {
                html_elem(&h, "input");
                html_attr(&h, "type", "hidden");
                html_attr(&h, "name", "next");
                html_attr(&h, "value", next);
        }
        page_input(&h, "Username", "text", "username", username, "username", true);
        page_input(&h, "Password", "password", "password", NULL, "current-password", true);
        page_button(&h, "Log in", "primary");
        html_close(&h, "form");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

static const char *query_next(struct webd_rq *rq) {
        struct form q = {};
        const char *next = NULL, *v;

        if (*rq->query && form_parse_query(&q, rq->query, strlen(rq->query), NULL) == 0 &&
            form_get_one(&q, "next", &v) == 0 && form_next_ok(v))
                next = h2o_strdup(&rq->req->pool, v, SIZE_MAX).base;
        form_done(&q);
        return next;
}

static int route_login_get(struct webd_rq *rq) {
        const char *next = query_next(rq);

        if (rq->authed)
                return webd_rq_redirect(rq, next ?: "/");
        return login_page(rq, 200, next, NULL, NULL);
}

static void login_done(struct pw_job *j) {
        struct webd_rq *rq = j->userdata;
        struct webd *w = j->w;
        struct webd_user u = {};
        int r;

        if (!j->super.req) /* the client left: nothing to answer */
                goto finish;
        if (j->super.cancelled) {
                pw_busy(rq);
                goto finish;
        }
        /* The user may have changed while the hash ran: judge by what is stored now. */
        r = j->verify_r;
        if (r == 0 && (webd_db_user_get(w->db, j->user_id, &u) < 0 || !u.active ||
                       !streq(u.password_hash, j->verify_hash)))
                r = -EACCES;
        if (r < 0) {
                webd_rq_audit(rq, j->name, "login", NULL, "failed", NULL);
                login_page(rq, 401, j->next, j->name, LOGIN_FAILED);
                goto finish;
        }
        if (j->rehashed && webd_db_user_rehash(w->db, u.id, j->verify_hash, j->new_hash) == 0)
                log_info("Password hash of user %s rehashed with the current limits.", u.username);
        ratelimit_clear(w->rl_address, rq->address);
        ratelimit_clear(w->rl_username, u.username);
        if (webd_rq_login(rq, &u) < 0) {
                webd_rq_error(rq, 500, "Error", "The session could not be stored.");
                goto finish;
        }
        webd_rq_set_cookie(rq, WEBD_LOGIN_COOKIE, NULL, 0);
        {
                char object[32];
                snprintf(object, sizeof(object), "user:%lld", (long long) u.id);
                webd_rq_audit(rq, u.username, "login", object, "ok", NULL);
        }
        webd_rq_redirect(rq,
                         u.must_change_password ? "/profile?m=must-change" : (j->next[0] ? j->next : "/"));
finish:
        webd_user_done(&u);
        pw_job_free(j);
}

static int route_login_post(struct webd_rq *rq) {
        struct webd *w = rq->w;
        const char *username = webd_rq_field(rq, "username"), *password = webd_rq_field(rq, "password");
        const char *next = form_count(&rq->form, "next") ? webd_rq_field(rq, "next") : "/";
        struct webd_user u = {};
        struct pw_job *j;
        unsigned wait;
        int r;

        if (!username || !password || !next)
                return login_page(rq, 400, NULL, NULL, "Enter a username and a password.");
        if (!form_next_ok(next))
                next = "/";
        if (strlen(username) > WEBD_DB_USERNAME_MAX || strlen(password) > AUTH_PASSWORD_MAX) {
                webd_rq_audit(rq, "anonymous", "login", NULL, "failed", "over-long field");
                return login_page(rq, 401, next, NULL, LOGIN_FAILED);
        }
        wait = limited(w, rq->address, username);
        if (wait)
                return too_many(rq, wait, username);
        count_attempt(w, rq->address, username);

        r = webd_db_user_get_by_name(w->db, username, &u);
        if (r < 0 && r != -ENOENT)
                return webd_rq_error(rq, 500, "Error", "The user database failed.");
        j = pw_job_new(w, login_done, rq);
        if (!j ||
            pw_job_verify(j, r == 0 && u.active ? u.password_hash : NULL, password, strlen(password)) < 0) {
                webd_user_done(&u);
                pw_job_free(j);
                return webd_rq_error(rq, 500, "Error", "Out of memory.");
        }
        j->user_id = r == 0 ? u.id : 0;
        snprintf(j->name, sizeof(j->name), "%s", username);
        snprintf(j->next, sizeof(j->next), "%s", next);
        webd_user_done(&u);
        if (pw_job_submit(j, rq->req) < 0) {
                pw_job_free(j);
                return pw_busy(rq);
        }
        return 0;
}

static int route_logout(struct webd_rq *rq) {
        char object[32];

        snprintf(object, sizeof(object), "user:%lld", (long long) rq->user.id);
        (void) webd_db_session_delete(rq->w->db, rq->session_hash);
        webd_rq_audit(rq, NULL, "logout", object, "ok", NULL);
        webd_rq_set_cookie(rq, WEBD_SESSION_COOKIE, NULL, 0);
        return webd_rq_redirect(rq, "/login?m=logged-out");
}

/* ---- profile ---------------------------------------------------------------------------------- */

struct sessions_ctx {
        struct webd_rq *rq;
        struct html *h;
};

static int session_row(const struct webd_session *s, void *userdata) {
        struct sessions_ctx *c = userdata;
        struct html *h = c->h;
        bool current = memcmp(s->id_hash, c->rq->session_hash, sizeof(s->id_hash)) == 0;

        html_elem(h, "tr");
        html_elem(h, "td");
        html_text(h, s->user_agent && *s->user_agent ? s->user_agent : "unknown browser");
        if (current) {
                html_elem(h, "span");
                html_attr(h, "class", "badge");
                html_text(h, "this one");
                html_close(h, "span");
        }
        html_close(h, "td");
        html_elem_text(h, "td", s->address ?: "");
        html_elem(h, "td");
        page_time(h, s->created_usec);
        html_close(h, "td");
        html_elem(h, "td");
        page_time(h, s->last_seen_usec);
        html_close(h, "td");
        html_close(h, "tr");
        return 0;
}

static int profile_page(struct webd_rq *rq, int status, const char *error) {
        struct html h;
        struct sessions_ctx c = {rq, &h};

        html_init(&h, 0);
        page_begin(rq, &h, "Profile");
        html_elem(&h, "h1");
        html_text(&h, rq->user.username);
        html_close(&h, "h1");
        html_elem(&h, "p");
        html_attr(&h, "class", "muted");
        html_text(&h, rq->user.is_admin ? "Administrator" : "Regular user");
        html_text(&h, " · password changed ");
        page_time(&h, rq->user.password_changed_usec);
        html_close(&h, "p");

        html_elem(&h, "section");
        html_attr(&h, "class", "card narrow");
        html_elem_text(&h, "h2", "Change password");
        if (error)
                page_alert(&h, "error", error);
        page_form_begin(rq, &h, "/profile/password", NULL);
        page_input(&h, "Current password", "password", "current_password", NULL, "current-password", true);
        page_input(&h, "New password (at least 8 characters)", "password", "new_password", NULL,
                   "new-password", true);
        page_input(&h, "Repeat the new password", "password", "confirm_new_password", NULL, "new-password",
                   true);
        page_button(&h, "Change password", "primary");
        html_close(&h, "form");
        html_close(&h, "section");

        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "Sessions");
        html_elem(&h, "div");
        html_attr(&h, "class", "table-wrap");
        html_elem(&h, "table");
        html_elem(&h, "thead");
        html_elem(&h, "tr");
        html_elem_text(&h, "th", "Browser");
        html_elem_text(&h, "th", "Address");
        html_elem_text(&h, "th", "Logged in");
        html_elem_text(&h, "th", "Last seen");
        html_close(&h, "tr");
        html_close(&h, "thead");
        html_elem(&h, "tbody");
        (void) webd_db_sessions_list_user(rq->w->db, rq->user.id, session_row, &c);
        html_close(&h, "tbody");
        html_close(&h, "table");
        html_close(&h, "div");
        page_action(rq, &h, "/profile/sessions/end-others", "Log out everywhere else", "secondary", NULL);
        html_close(&h, "section");

        html_elem(&h, "section");
        html_attr(&h, "class", "card");
        html_elem_text(&h, "h2", "API tokens");
        html_elem(&h, "p");
        html_text(&h, "For scripts that use the JSON API: ");
        html_elem(&h, "a");
        html_attr(&h, "href", "/profile/tokens");
        html_text(&h, "your API tokens");
        html_close(&h, "a");
        html_text(&h, ".");
        html_close(&h, "p");
        html_close(&h, "section");
        page_end(rq, &h);
        return webd_rq_send_html(rq, status, &h);
}

static int route_profile(struct webd_rq *rq) {
        return profile_page(rq, 200,
                            rq->user.must_change_password ? "Choose a new password to go on." : NULL);
}

static void password_done(struct pw_job *j) {
        struct webd_rq *rq = j->userdata;
        struct webd *w = j->w;
        char object[32];
        struct webd_audit a;
        int r;

        if (!j->super.req)
                goto finish;
        if (j->super.cancelled) {
                pw_busy(rq);
                goto finish;
        }
        snprintf(object, sizeof(object), "user:%lld", (long long) rq->user.id);
        if (j->verify_r < 0) {
                webd_rq_audit(rq, NULL, "password.change", object, "denied", "wrong current password");
                profile_page(rq, 400, "The current password is wrong.");
                goto finish;
        }
        if (j->hash_r < 0) {
                profile_page(rq, 500, "The new password could not be hashed.");
                goto finish;
        }
        ratelimit_clear(w->rl_username, rq->user.username);
        a = (struct webd_audit){.at_usec = (int64_t) rq->now_usec,
                                .actor = rq->user.username,
                                .kind = "password.change",
                                .object = object,
                                .address = rq->address,
                                .result = "ok"};
        /* The new hash, the end of every other session and the audit entry: one commit. */
        r = webd_db_user_set_password(w->db, rq->user.id, j->new_hash, false, (int64_t) rq->now_usec,
                                      rq->session_hash, &a);
        if (r < 0) {
                webd_rq_error(rq, 500, "Error", "The password could not be stored.");
                goto finish;
        }
        webd_rq_redirect(rq, "/profile?m=password-changed");
finish:
        pw_job_free(j);
}

static int route_password(struct webd_rq *rq) {
        struct webd *w = rq->w;
        const char *cur = webd_rq_field(rq, "current_password"), *new = webd_rq_field(rq, "new_password"),
                   *confirm = webd_rq_field(rq, "confirm_new_password");
        const char *err;
        struct pw_job *j;
        unsigned wait;

        if (!cur || !new || !confirm)
                return profile_page(rq, 400, "Fill in all three fields.");
        if (!streq(new, confirm))
                return profile_page(rq, 400, "The new passwords do not match.");
        err = pw_policy_error(new);
        if (err)
                return profile_page(rq, 400, err);
        if (strlen(cur) > AUTH_PASSWORD_MAX)
                return profile_page(rq, 400, "The current password is wrong.");
        wait = limited(w, rq->address, rq->user.username);
        if (wait)
                return too_many(rq, wait, rq->user.username);
        count_attempt(w, rq->address, rq->user.username);

        j = pw_job_new(w, password_done, rq);
        if (!j || pw_job_verify(j, rq->user.password_hash, cur, strlen(cur)) < 0 ||
            pw_job_hash(j, new, strlen(new)) < 0) {
                pw_job_free(j);
                return webd_rq_error(rq, 500, "Error", "Out of memory.");
        }
        if (pw_job_submit(j, rq->req) < 0) {
                pw_job_free(j);
                return pw_busy(rq);
        }
        return 0;
}

static int route_end_others(struct webd_rq *rq) {
        char object[32], detail[32];
        int n = webd_db_sessions_delete_user(rq->w->db, rq->user.id, rq->session_hash);

        if (n < 0)
                return webd_rq_error(rq, 500, "Error", "The sessions could not be ended.");
        snprintf(object, sizeof(object), "user:%lld", (long long) rq->user.id);
        snprintf(detail, sizeof(detail), "%d session(s)", n);
        webd_rq_audit(rq, NULL, "sessions.end", object, "ok", detail);
        return webd_rq_redirect(rq, "/profile?m=sessions-ended");
}

const struct webd_route page_account_routes[] = {
        {"GET", "/", route_dashboard, WEBD_R_AUTH},
        {"GET", "/login", route_login_get, WEBD_R_PW_OK},
        {"POST", "/login", route_login_post, WEBD_R_LOGIN | WEBD_R_PW_OK},
        {"POST", "/logout", route_logout, WEBD_R_AUTH | WEBD_R_PW_OK},
        {"GET", "/profile", route_profile, WEBD_R_AUTH | WEBD_R_PW_OK},
        {"POST", "/profile/password", route_password, WEBD_R_AUTH | WEBD_R_PW_OK},
        {"POST", "/profile/sessions/end-others", route_end_others, WEBD_R_AUTH | WEBD_R_PW_OK},
};
const size_t page_account_n_routes = ELEMENTSOF(page_account_routes);
