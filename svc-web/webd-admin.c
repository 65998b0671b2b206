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
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-spec.h"
#include "svc-web/webd-passwords.h"
#include "svc-web/webd-tokens.h"
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
        char *actor, *kind, *object;
        int64_t before_id, limit;
};
static const struct rpc_arg audit_args[] = {
        {"actor", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct audit_args, actor), 1, 256},
        {"kind", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct audit_args, kind), 1, 256},
        {"object", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct audit_args, object), 1, 256},
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
        f = (struct webd_audit_filter){.actor = a.actor,
                                       .kind = a.kind,
                                       .object = a.object,
                                       .before_id = a.before_id,
                                       .limit = (unsigned) a.limit};
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

/* ---- token.create, token.list, token.revoke ------------------------------------------------------ */

/* Longer than any name of the vocabulary, so an unknown one is still named in the error. */
#define SCOPE_ARG_MAX 32
/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" is 49 bytes. */
#define ALLOW_ARG_MAX    64
#define DURATION_ARG_MAX 32

struct token_args {
        char *username, *name, *expires;
        char **scopes, **allow;
        const msgpack_object *servers;
        int64_t id;
};

static const struct rpc_arg token_create_args[] = {
        {"username", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, offsetof(struct token_args, username), 1,
         WEBD_DB_USERNAME_MAX},
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8 | RPC_ARG_PRINTABLE,
         offsetof(struct token_args, name), 1, WEBD_TOKEN_NAME_MAX},
        /* A name may repeat (a script's --scope lists overlap), hence more items than names. */
        {"scopes", RPC_ARG_STRV, RPC_ARG_REQUIRED | RPC_ARG_UTF8 | RPC_ARG_PRINTABLE,
         offsetof(struct token_args, scopes), 1, 4 * WEBD_SCOPES_N, SCOPE_ARG_MAX},
        {"servers", RPC_ARG_ARRAY, 0, offsetof(struct token_args, servers), 0, WEBD_TOKEN_SERVERS_MAX},
        {"expires", RPC_ARG_STR, RPC_ARG_UTF8 | RPC_ARG_PRINTABLE, offsetof(struct token_args, expires), 1,
         DURATION_ARG_MAX},
        {"allow", RPC_ARG_STRV, RPC_ARG_UTF8 | RPC_ARG_PRINTABLE, offsetof(struct token_args, allow), 0,
         WEBD_TOKEN_ALLOW_MAX, ALLOW_ARG_MAX},
};

static const struct rpc_arg token_list_args[] = {
        {"username", RPC_ARG_STR, RPC_ARG_UTF8, offsetof(struct token_args, username), 1,
         WEBD_DB_USERNAME_MAX},
};

static const struct rpc_arg token_revoke_args[] = {
        {"id", RPC_ARG_INT, RPC_ARG_REQUIRED, offsetof(struct token_args, id), 1, INT64_MAX},
};

static void pack_scopes(msgpack_packer *pk, unsigned scopes) {
        msgpack_pack_array(pk, (size_t) __builtin_popcount(scopes & WEBD_SCOPES_ALL));
        for (unsigned i = 0; i < WEBD_SCOPES_N; i++)
                if (scopes & (1u << i))
                        rpc_pack_str(pk, webd_scope_name(1u << i));
}

/* The words of a stored list ("a b", or "a,b" as webd-tokens.h also reads it) as an array. */
static void pack_words(msgpack_packer *pk, const char *s) {
        static const char sep[] = " ,\t\n";
        size_t n = 0;

        for (const char *p = s ?: ""; *(p += strspn(p, sep)); p += strcspn(p, sep))
                n++;
        msgpack_pack_array(pk, n);
        for (const char *p = s ?: ""; *(p += strspn(p, sep)); p += strcspn(p, sep))
                rpc_pack_strn(pk, p, strcspn(p, sep));
}

/* Checks the arguments that need no database: scopes, expiry and allow-list, into t (its
 * allow points into allow_buf). Fails the call and returns < 0 on the first bad one. */
static int token_check(struct rpc_call *call, const struct token_args *a, struct webd_token *t,
                       int64_t *ret_duration_sec, char *allow_buf, size_t allow_len) {
        size_t n = 0;

        for (size_t i = 0; a->scopes[i]; i++) {
                int b = webd_scope_from_name(a->scopes[i]);
                if (b < 0) {
                        char known[256];
                        (void) webd_scopes_format(WEBD_SCOPES_ALL, known, sizeof(known));
                        return rpc_call_fail(call, RPC_INVALID, "scopes: unknown scope '%s' (known: %s)",
                                             a->scopes[i], known);
                }
                t->scopes |= (unsigned) b;
        }
        *ret_duration_sec = 0;
        if (a->expires) {
                int64_t d = webd_duration_parse(a->expires);
                if (d == -ERANGE)
                        return rpc_call_fail(call, RPC_INVALID, "expires: '%s' is longer than a year (366d)",
                                             a->expires);
                if (d < 0)
                        return rpc_call_fail(call, RPC_INVALID,
                                             "expires: '%s' is not a duration: a positive number and a unit "
                                             "(s, m, h, d or w), like 90d or 12h",
                                             a->expires);
                *ret_duration_sec = d;
        }
        allow_buf[0] = 0;
        for (size_t i = 0; a->allow && a->allow[i]; i++) {
                struct webd_cidr c;
                if (webd_cidr_parse(a->allow[i], &c) < 0)
                        return rpc_call_fail(call, RPC_INVALID,
                                             "allow: '%s' is not an address or a range like 10.0.0.0/8 or "
                                             "2001:db8::/32 (with no bits set past the prefix)",
                                             a->allow[i]);
                /* Cannot overflow: at most WEBD_TOKEN_ALLOW_MAX items of ALLOW_ARG_MAX bytes. */
                n += (size_t) snprintf(allow_buf + n, allow_len - MIN(n, allow_len), "%s%s", n ? " " : "",
                                       a->allow[i]);
        }
        t->allow = allow_buf[0] ? allow_buf : NULL;
        return 0;
}

/* The servers a token is limited to: each must exist and be u's (an admin's may be any),
 * since a token acts as its user and never beyond. Repeats are dropped. */
static int token_servers(struct rpc_call *call, struct webd *w, const msgpack_object *servers,
                         const struct webd_user *u, struct webd_token *t) {
        for (uint32_t i = 0; servers && i < servers->via.array.size; i++) {
                const msgpack_object *o = &servers->via.array.ptr[i];
                struct webd_server s = {};
                int64_t id;
                bool theirs, seen = false;
                int r;

                if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0 || o->via.u64 > INT64_MAX)
                        return rpc_call_fail(call, RPC_INVALID, "servers[%u]: must be a server id", i);
                id = (int64_t) o->via.u64;
                r = webd_db_server_get(w->db, id, &s);
                if (r == -ENOENT)
                        return rpc_call_fail(call, RPC_NOT_FOUND, "servers: no server %lld", (long long) id);
                if (r < 0)
                        return rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
                theirs = s.owner_id == u->id || u->is_admin;
                webd_server_done(&s);
                if (!theirs)
                        return rpc_call_fail(call, RPC_INVALID, "servers: server %lld is not %s's",
                                             (long long) id, u->username);
                for (size_t k = 0; k < t->n_servers; k++)
                        seen = seen || t->servers[k] == id;
                if (!seen)
                        t->servers[t->n_servers++] = id;
        }
        return 0;
}

static int on_token_create(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct token_args a = {};
        struct webd_user u = {};
        struct webd_token t = {};
        struct rpc_error e;
        char allow[WEBD_TOKEN_ALLOW_MAX * (ALLOW_ARG_MAX + 1)];
        char secret[WEBD_TOKEN_SECRET_LEN + 1], object[32], detail[64], detail_full[160];
        uint8_t hash[WEBD_DB_HASH_BYTES];
        struct webd_audit au;
        msgpack_packer *pk;
        int64_t duration = 0, id = 0;
        int r;

        if (rpc_args_parse(params, token_create_args, ELEMENTSOF(token_create_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (token_check(call, &a, &t, &duration, allow, sizeof(allow)) < 0)
                goto finish;
        r = webd_db_user_get_by_name(w->db, a.username, &u);
        if (r == -ENOENT) {
                rpc_call_fail(call, RPC_NOT_FOUND, "no user '%s'", a.username);
                goto finish;
        }
        if (r < 0) {
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
                goto finish;
        }
        /* Deactivation deletes a user's tokens; one made now would be dead on arrival. */
        if (!u.active) {
                rpc_call_fail(call, RPC_INVALID, "user is deactivated: '%s'", u.username);
                goto finish;
        }
        if (token_servers(call, w, a.servers, &u, &t) < 0)
                goto finish;

        t.user_id = u.id;
        t.name = a.name;
        snprintf(object, sizeof(object), "user:%lld", (long long) u.id);
        au = cli_audit(call, "token.create", object, detail);
        /* The token's id is known only once stored (in the same transaction as this entry):
         * the entry names the user and the token's name. Never the secret. */
        snprintf(detail_full, sizeof(detail_full), "%s; token '%s'", detail, a.name);
        au.detail = detail_full;
        t.created_usec = au.at_usec;
        t.expires_usec = duration ? au.at_usec + duration * 1000000 : 0;

        webd_token_secret_new(secret);
        r = webd_token_secret_hash(secret, strlen(secret), hash);
        if (r >= 0)
                r = webd_db_token_create(w->db, &t, hash, &au, &id);
        switch (r) {
        case 0:
                break;
        case -EEXIST:
                rpc_call_fail(call, RPC_CONFLICT,
                              "the token name '%s' is taken: %s has a token of that name", a.name,
                              u.username);
                goto finish;
        case -EDQUOT:
                rpc_call_fail(call, RPC_CONFLICT, "%s has %u tokens: at most %u tokens per user", u.username,
                              WEBD_TOKENS_PER_USER, WEBD_TOKENS_PER_USER);
                goto finish;
        case -ENOENT:
                rpc_call_fail(call, RPC_NOT_FOUND, "no user '%s'", a.username);
                goto finish;
        case -EINVAL:
                rpc_call_fail(call, RPC_INVALID, "the token was refused by web.db's checks");
                goto finish;
        default:
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
                goto finish;
        }

        pk = rpc_call_result(call);
        msgpack_pack_map(pk, 6);
        rpc_pack_kv_int(pk, "id", id);
        rpc_pack_kv_str(pk, "name", a.name);
        rpc_pack_kv_str(pk, "username", u.username);
        rpc_pack_kv_str(pk, "secret", secret);
        rpc_pack_key(pk, "scopes");
        pack_scopes(pk, t.scopes);
        rpc_pack_kv_int(pk, "expires_usec", t.expires_usec);
        rpc_call_reply(call);
finish:
        sodium_memzero(secret, sizeof(secret));
        webd_user_done(&u);
        rpc_args_free(token_create_args, ELEMENTSOF(token_create_args), &a);
        return 0;
}

struct token_list_ctx {
        msgpack_packer *pk;
        unsigned n;
        bool count_only;
};

static int pack_token(const struct webd_token *t, void *userdata) {
        struct token_list_ctx *c = userdata;

        c->n++;
        if (c->count_only)
                return 0;
        msgpack_pack_map(c->pk, 10);
        rpc_pack_kv_int(c->pk, "id", t->id);
        rpc_pack_kv_str(c->pk, "username", t->username);
        rpc_pack_kv_str(c->pk, "name", t->name);
        rpc_pack_key(c->pk, "scopes");
        pack_scopes(c->pk, t->scopes);
        rpc_pack_key(c->pk, "servers");
        msgpack_pack_array(c->pk, t->n_servers);
        for (size_t i = 0; i < t->n_servers; i++)
                msgpack_pack_int64(c->pk, t->servers[i]);
        rpc_pack_key(c->pk, "allow");
        pack_words(c->pk, t->allow);
        rpc_pack_kv_int(c->pk, "created_usec", t->created_usec);
        rpc_pack_kv_int(c->pk, "expires_usec", t->expires_usec);
        rpc_pack_kv_int(c->pk, "last_used_usec", t->last_used_usec);
        rpc_pack_kv_str(c->pk, "last_used_address", t->last_used_address);
        return 0;
}

static int on_token_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct token_args a = {};
        struct token_list_ctx c = {.count_only = true};
        struct webd_user u = {};
        struct rpc_error e;
        int r;

        if (rpc_args_parse(params, token_list_args, ELEMENTSOF(token_list_args), &a, &e) < 0)
                return fail_with(call, &e);
        if (a.username) {
                r = webd_db_user_get_by_name(w->db, a.username, &u);
                if (r < 0) {
                        if (r == -ENOENT)
                                rpc_call_fail(call, RPC_NOT_FOUND, "no user '%s'", a.username);
                        else
                                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
                        goto finish;
                }
        }
        /* Counted first: a msgpack array needs its length up front. */
        if (webd_db_token_list(w->db, u.id, pack_token, &c) < 0) {
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
                goto finish;
        }
        c.pk = rpc_call_result(call);
        msgpack_pack_map(c.pk, 1);
        rpc_pack_str(c.pk, "tokens");
        msgpack_pack_array(c.pk, c.n);
        c.count_only = false;
        c.n = 0;
        (void) webd_db_token_list(w->db, u.id, pack_token, &c);
        rpc_call_reply(call);
finish:
        webd_user_done(&u);
        rpc_args_free(token_list_args, ELEMENTSOF(token_list_args), &a);
        return 0;
}

static int on_token_revoke(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct webd *w = userdata;
        struct token_args a = {};
        struct webd_token t = {};
        struct rpc_error e;
        char object[32], detail[64], detail_full[192];
        struct webd_audit au;
        int r;

        if (rpc_args_parse(params, token_revoke_args, ELEMENTSOF(token_revoke_args), &a, &e) < 0)
                return fail_with(call, &e);
        r = webd_db_token_get(w->db, a.id, &t);
        if (r == 0) {
                snprintf(object, sizeof(object), "token:%lld", (long long) a.id);
                au = cli_audit(call, "token.revoke", object, detail);
                snprintf(detail_full, sizeof(detail_full), "%s; token '%s' of %s", detail, t.name,
                         t.username ?: "?");
                au.detail = detail_full;
                r = webd_db_token_delete(w->db, a.id, 0, &au);
        }
        if (r == -ENOENT)
                rpc_call_fail(call, RPC_NOT_FOUND, "no token %lld", (long long) a.id);
        else if (r < 0)
                rpc_call_fail(call, RPC_INTERNAL, "web.db: %s", webd_db_errmsg(w->db));
        else
                rpc_call_reply_nil(call);
        webd_token_done(&t);
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
        {"token.create", on_token_create, RPC_MAY_ROOT},
        {"token.list", on_token_list, RPC_MAY_ROOT},
        {"token.revoke", on_token_revoke, RPC_MAY_ROOT},
};
const size_t webd_n_methods = ELEMENTSOF(webd_methods);
