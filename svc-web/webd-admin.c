/* See webd-admin.h. Changes are recorded in the audit log with actor "cli" (the peer's uid
 * in the detail), like the pages record theirs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/args.h"
#include "svc-web/webd-admin.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-spec.h"
#include "svc-web/webd-passwords.h"
#include "svc-web/webd.h"

static int fail_with(struct rpc_call *call, const struct rpc_error *e) {
        return rpc_call_fail_error(call, e);
}

static struct webd_audit cli_audit(struct rpc_call *call, const char *kind, const char *object,
                                   char detail[64]) {
        snprintf(detail, 64, "uid %u", (unsigned) rpc_call_peer(call)->uid);
        return (struct webd_audit){.at_usec = (int64_t) realtime_usec(),
                                   .actor = "cli",
                                   .kind = kind,
                                   .object = object,
                                   .result = "ok",
                                   .detail = detail};
}

static int check_username(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;

        for (const char *c = s; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f) {
                        rpc_error_set(e, RPC_INVALID,
                                      "username: may not contain spaces or control characters");
                        return -EINVAL;
                }
        return 0;
}

static int check_password(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;

        switch (auth_password_policy(s, strlen(s))) {
        case 0:
                return 0;
        case -EINVAL:
                rpc_error_set(e, RPC_INVALID, "password: too short (at least %u bytes)", AUTH_PASSWORD_MIN);
                return -EINVAL;
        case -E2BIG:
                rpc_error_set(e, RPC_INVALID, "password: too long (at most %u bytes)", AUTH_PASSWORD_MAX);
                return -EINVAL;
        default:
                rpc_error_set(e, RPC_INVALID, "password: must be valid UTF-8 without NUL");
                return -EINVAL;
        }
}

struct user_args {
        char *username, *password;
        bool admin, must_change;
};

static const struct rpc_arg user_args[] = {
        {"username", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, offsetof(struct user_args, username), 1,
         WEBD_DB_USERNAME_MAX, 0, check_username},
        {"password", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct user_args, password), 0, AUTH_PASSWORD_MAX,
         0, check_password},
        {"admin", RPC_ARG_BOOL, 0, offsetof(struct user_args, admin)},
        {"must_change", RPC_ARG_BOOL, 0, offsetof(struct user_args, must_change)},
};

static void wipe_args(struct user_args *a) {
        if (a->password)
                sodium_memzero(a->password, strlen(a->password));
        rpc_args_free(user_args, ELEMENTSOF(user_args), a);
}

/* ---- user.create, user.passwd: hashing on a worker ------------------------------------------- */

static void on_abandon(struct rpc_call *call, void *userdata) {
        /* The job runs to its end anyway (it cannot be stopped half-way); done() answers. */
}

static void create_done(struct pw_job *j) {
        struct rpc_call *call = j->userdata;
        struct webd *w = j->w;
        char detail[64];
        struct webd_audit a = cli_audit(call, "user.create", j->name, detail);
        int64_t id = 0;
        msgpack_packer *pk;
        int r;

        if (j->super.cancelled || j->hash_r < 0) {
                rpc_call_fail(call, RPC_UNAVAILABLE, "the password could not be hashed");
                goto finish;
        }
        r = webd_db_user_create(w->db, j->name, j->new_hash, j->flag, j->user_id != 0, a.at_usec, &a, &id);
        if (r == -EEXIST)
                rpc_call_fail(call, RPC_CONFLICT, "user '%s' exists already", j->name);
        else if (r < 0)
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        else {
                pk = rpc_call_result(call);
                msgpack_pack_map(pk, 2);
                rpc_pack_kv_int(pk, "id", id);
                rpc_pack_kv_str(pk, "username", j->name);
                rpc_call_reply(call);
        }
finish:
        pw_job_free(j);
}

static void passwd_done(struct pw_job *j) {
        struct rpc_call *call = j->userdata;
        struct webd *w = j->w;
        char object[32], detail[64];
        struct webd_audit a;
        int r;

        snprintf(object, sizeof(object), "user:%lld", (long long) j->user_id);
        a = cli_audit(call, "user.password", object, detail);
        if (j->super.cancelled || j->hash_r < 0) {
                rpc_call_fail(call, RPC_UNAVAILABLE, "the password could not be hashed");
                goto finish;
        }
        /* An admin reset: every session of the user ends. */
        r = webd_db_user_set_password(w->db, j->user_id, j->new_hash, j->flag, a.at_usec, NULL, &a);
        if (r == -ENOENT)
                rpc_call_fail(call, RPC_NOT_FOUND, "no user '%s'", j->name);
        else if (r < 0)
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        else
                rpc_call_reply_nil(call);
finish:
        pw_job_free(j);
}

static int submit(struct rpc_call *call, struct pw_job *j) {
        if (pw_job_submit(j, NULL) < 0) {
                pw_job_free(j);
                return rpc_call_fail(call, RPC_UNAVAILABLE, "busy hashing passwords; try again");
        }
        rpc_call_set_abandon(call, on_abandon, NULL);
        rpc_call_defer(call);
        return 0;
}

static int on_user_create(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct user_args a = {};
        struct webd_user u = {};
        struct rpc_error e;
        struct pw_job *j;

        if (rpc_args_parse(params, user_args, ELEMENTSOF(user_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (!a.password) {
                wipe_args(&a);
                return rpc_call_fail(call, RPC_INVALID, "password: required");
        }
        if (webd_db_user_get_by_name(w->db, a.username, &u) == 0) {
                webd_user_done(&u);
                rpc_call_fail(call, RPC_CONFLICT, "user '%s' exists already", a.username);
                wipe_args(&a);
                return 0;
        }
        j = pw_job_new(w, create_done, call);
        if (!j || pw_job_hash(j, a.password, strlen(a.password)) < 0) {
                pw_job_free(j);
                wipe_args(&a);
                return -ENOMEM;
        }
        snprintf(j->name, sizeof(j->name), "%s", a.username);
        j->flag = a.admin;
        j->user_id = a.must_change;
        wipe_args(&a);
        return submit(call, j);
}

static int on_user_passwd(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct user_args a = {};
        struct webd_user u = {};
        struct rpc_error e;
        struct pw_job *j;
        int r;

        if (rpc_args_parse(params, user_args, ELEMENTSOF(user_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (!a.password || a.admin) {
                rpc_call_fail(call, RPC_INVALID,
                              a.password ? "admin: not an argument of user.passwd" : "password: required");
                wipe_args(&a);
                return 0;
        }
        r = webd_db_user_get_by_name(w->db, a.username, &u);
        if (r < 0) {
                rpc_call_fail(call, RPC_NOT_FOUND, "no user '%s'", a.username);
                wipe_args(&a);
                return 0;
        }
        j = pw_job_new(w, passwd_done, call);
        if (!j || pw_job_hash(j, a.password, strlen(a.password)) < 0) {
                pw_job_free(j);
                webd_user_done(&u);
                wipe_args(&a);
                return -ENOMEM;
        }
        snprintf(j->name, sizeof(j->name), "%s", a.username);
        j->user_id = u.id;
        j->flag = a.must_change;
        webd_user_done(&u);
        wipe_args(&a);
        return submit(call, j);
}

/* ---- user.activate, user.deactivate, user.list -------------------------------------------------- */

struct name_args {
        char *username;
};
static const struct rpc_arg name_args[] = {
        {"username", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, offsetof(struct name_args, username), 1,
         WEBD_DB_USERNAME_MAX},
};

static int set_active(struct rpc_call *call, const msgpack_object *params, struct webd *w, bool active) {
        struct name_args a = {};
        struct webd_user u = {};
        struct rpc_error e;
        char object[32], detail[64];
        struct webd_audit au;
        int r;

        if (rpc_args_parse(params, name_args, ELEMENTSOF(name_args), &a, &e) < 0)
                return fail_with(call, &e);
        r = webd_db_user_get_by_name(w->db, a.username, &u);
        if (r < 0) {
                rpc_call_fail(call, RPC_NOT_FOUND, "no user '%s'", a.username);
                goto finish;
        }
        snprintf(object, sizeof(object), "user:%lld", (long long) u.id);
        au = cli_audit(call, active ? "user.activate" : "user.deactivate", object, detail);
        r = webd_db_user_set_active(w->db, u.id, active, &au);
        if (r == -EBUSY)
                rpc_call_fail(call, RPC_CONFLICT, "'%s' is the last active admin", a.username);
        else if (r < 0)
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        else
                rpc_call_reply_nil(call);
finish:
        webd_user_done(&u);
        rpc_args_free(name_args, ELEMENTSOF(name_args), &a);
        return 0;
}

static int on_user_activate(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return set_active(call, params, userdata, true);
}

static int on_user_deactivate(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return set_active(call, params, userdata, false);
}

struct list_ctx {
        msgpack_packer *pk;
        unsigned n;
        bool count_only;
};

static int pack_user(const struct webd_user *u, void *userdata) {
        struct list_ctx *c = userdata;

        c->n++;
        if (c->count_only)
                return 0;
        msgpack_pack_map(c->pk, 7);
        rpc_pack_kv_int(c->pk, "id", u->id);
        rpc_pack_kv_str(c->pk, "username", u->username);
        rpc_pack_kv_bool(c->pk, "admin", u->is_admin);
        rpc_pack_kv_bool(c->pk, "active", u->active);
        rpc_pack_kv_bool(c->pk, "must_change_password", u->must_change_password);
        rpc_pack_kv_int(c->pk, "created_usec", u->created_usec);
        rpc_pack_kv_int(c->pk, "password_changed_usec", u->password_changed_usec);
        return 0;
}

static int on_user_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct list_ctx c = {.count_only = true};
        struct rpc_error e;

        if (rpc_args_parse(params, NULL, 0, NULL, &e) < 0)
                return fail_with(call, &e);
        /* Counted first: a msgpack array needs its length up front. */
        if (webd_db_user_list(w->db, pack_user, &c) < 0)
                return rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        c.pk = rpc_call_result(call);
        msgpack_pack_map(c.pk, 1);
        rpc_pack_str(c.pk, "users");
        msgpack_pack_array(c.pk, c.n);
        c.count_only = false;
        c.n = 0;
        (void) webd_db_user_list(w->db, pack_user, &c);
        return rpc_call_reply(call);
}

/* ---- audit.list --------------------------------------------------------------------------------- */

struct audit_args {
        char *actor, *kind;
        int64_t before_id, limit;
};
static const struct rpc_arg audit_args[] = {
        {"actor", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct audit_args, actor), 1, 256},
        {"kind", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct audit_args, kind), 1, 256},
        {"before_id", RPC_ARG_INT, 0, offsetof(struct audit_args, before_id), 1, INT64_MAX},
        {"limit", RPC_ARG_INT, 0, offsetof(struct audit_args, limit), 1, WEBD_DB_PAGE_MAX},
};

struct audit_ctx {
        msgpack_packer *pk;
        unsigned n;
        bool count_only;
};

static int pack_audit(const struct webd_audit *a, void *userdata) {
        struct audit_ctx *c = userdata;

        c->n++;
        if (c->count_only)
                return 0;
        msgpack_pack_map(c->pk, 9);
        rpc_pack_kv_int(c->pk, "id", a->id);
        rpc_pack_kv_int(c->pk, "at_usec", a->at_usec);
        rpc_pack_kv_str(c->pk, "actor", a->actor);
        rpc_pack_kv_str(c->pk, "kind", a->kind);
        rpc_pack_kv_str(c->pk, "object", a->object);
        rpc_pack_kv_str(c->pk, "address", a->address);
        rpc_pack_kv_str(c->pk, "result", a->result);
        rpc_pack_kv_str(c->pk, "detail", a->detail);
        rpc_pack_kv_str(c->pk, "token", a->token);
        return 0;
}

static int on_audit_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct audit_args a = {.limit = 50};
        struct audit_ctx c = {.count_only = true};
        struct webd_audit_filter f;
        struct rpc_error e;
        int64_t next = 0;
        int r;

        if (rpc_args_parse(params, audit_args, ELEMENTSOF(audit_args), &a, &e) < 0)
                return fail_with(call, &e);
        f = (struct webd_audit_filter){
                .actor = a.actor, .kind = a.kind, .before_id = a.before_id, .limit = (unsigned) a.limit};
        r = webd_db_audit_query(w->db, &f, pack_audit, &c, &next);
        if (r >= 0) {
                c.pk = rpc_call_result(call);
                msgpack_pack_map(c.pk, 2);
                rpc_pack_str(c.pk, "entries");
                msgpack_pack_array(c.pk, c.n);
                c.count_only = false;
                r = webd_db_audit_query(w->db, &f, pack_audit, &c, &next);
                rpc_pack_kv_int(c.pk, "next_before_id", next);
        }
        rpc_args_free(audit_args, ELEMENTSOF(audit_args), &a);
        if (r < 0)
                return rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        return rpc_call_reply(call);
}

/* ---- overlay.seed: the shipped example script overlays ------------------------------------------- */

struct seed_args {
        char *name, *script;
};
static const struct rpc_arg seed_args[] = {
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, offsetof(struct seed_args, name), 1,
         WEBD_NAME_MAX},
        {"script", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, offsetof(struct seed_args, script), 1,
         WEBD_SCRIPT_MAX},
};

static int on_overlay_seed(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct seed_args a = {};
        struct rpc_error e;
        char detail[64];
        const char *m;
        struct webd_audit au;
        int64_t id = 0;
        bool created = false;
        int r;

        if (rpc_args_parse(params, seed_args, ELEMENTSOF(seed_args), &a, &e) < 0)
                return fail_with(call, &e);
        m = webd_check_name(a.name);
        if (m) {
                rpc_call_fail(call, RPC_INVALID, "name: %s", m);
                goto finish;
        }
        au = cli_audit(call, "overlay.seed", a.name, detail);
        r = webd_db_overlay_seed(w->db, a.name, a.script, (int64_t) realtime_usec(), &au, &id, &created);
        if (r == -EEXIST)
                rpc_call_fail(call, RPC_CONFLICT, "the system overlay '%s' is not a script overlay", a.name);
        else if (r < 0)
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        else {
                msgpack_packer *pk = rpc_call_result(call);
                msgpack_pack_map(pk, 2);
                rpc_pack_kv_int(pk, "id", id);
                rpc_pack_kv_bool(pk, "created", created);
                rpc_call_reply(call);
        }
finish:
        rpc_args_free(seed_args, ELEMENTSOF(seed_args), &a);
        return 0;
}

const struct rpc_method webd_methods[] = {
        {"user.create", on_user_create, RPC_MAY_ROOT},
        {"user.passwd", on_user_passwd, RPC_MAY_ROOT},
        {"user.activate", on_user_activate, RPC_MAY_ROOT},
        {"user.deactivate", on_user_deactivate, RPC_MAY_ROOT},
        {"user.list", on_user_list, RPC_MAY_ROOT},
        {"audit.list", on_audit_list, RPC_MAY_ROOT},
        {"overlay.seed", on_overlay_seed, RPC_MAY_ROOT},
};
const size_t webd_n_methods = ELEMENTSOF(webd_methods);
