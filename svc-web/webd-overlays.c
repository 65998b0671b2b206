/* See webd-overlays.h. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "daemon/sqlite.h"
#include "svc-web/webd-db-internal.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-overlays.h"

#define OVERLAY_COLUMNS                                                                                     \
        "o.id, o.owner_id, o.type, o.name, o.last_job_id, o.deleting, o.created_usec, o.updated_usec, "     \
        "u.username, (SELECT COUNT(*) FROM blueprint_overlays bo WHERE bo.overlay = 'web-' || o.id)"

enum {
        O_INSERT,
        O_GET,
        O_GET_SCRIPT,
        O_LIST,
        O_LIST_ALL,
        O_UPDATE,
        O_UPDATE_SCRIPT,
        O_SET_JOB,
        O_SET_DELETING,
        O_DELETE,
        O_IN_USE,
        O_USERS,
        O_USABLE,
        O_SEED_FIND,
        O_USER_OWNS,
        _O_MAX,
};
_Static_assert(_O_MAX <= WDB_OVERLAY_STMTS, "webd_db.overlay[] is too small");

static const char *const overlay_sql[_O_MAX] = {
        [O_INSERT] = "INSERT INTO overlays (owner_id, type, name, script, created_usec, updated_usec) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        [O_GET] = "SELECT " OVERLAY_COLUMNS " FROM overlays o LEFT JOIN users u ON u.id = o.owner_id "
                  "WHERE o.id = ?",
        [O_GET_SCRIPT] = "SELECT script FROM overlays WHERE id = ?",
        [O_LIST] = "SELECT " OVERLAY_COLUMNS " FROM overlays o LEFT JOIN users u ON u.id = o.owner_id "
                   "WHERE o.owner_id IS NULL OR o.owner_id = ?1 "
                   "ORDER BY o.owner_id IS NOT NULL, o.name LIMIT 5000",
        [O_LIST_ALL] = "SELECT " OVERLAY_COLUMNS " FROM overlays o LEFT JOIN users u ON u.id = o.owner_id "
                       "ORDER BY o.owner_id IS NOT NULL, u.username, o.name LIMIT 5000",
        [O_UPDATE] = "UPDATE overlays SET name = ?2, updated_usec = ?3 WHERE id = ?1",
        [O_UPDATE_SCRIPT] = "UPDATE overlays SET name = ?2, script = ?4, updated_usec = ?3 WHERE id = ?1",
        [O_SET_JOB] = "UPDATE overlays SET last_job_id = ?2, updated_usec = ?3 WHERE id = ?1",
        [O_SET_DELETING] =
                "UPDATE overlays SET deleting = 1, last_job_id = ?2, updated_usec = ?3 WHERE id = ?1",
        [O_DELETE] = "DELETE FROM overlays WHERE id = ?",
        [O_IN_USE] = "SELECT EXISTS (SELECT 1 FROM blueprint_overlays WHERE overlay = 'web-' || ?1)",
        [O_USERS] = "SELECT b.id, b.owner_id, b.name, u.username FROM blueprint_overlays bo "
                    "JOIN blueprints b ON b.id = bo.blueprint_id JOIN users u ON u.id = b.owner_id "
                    "WHERE bo.overlay = 'web-' || ?1 ORDER BY u.username, b.name LIMIT 5000",
        [O_USABLE] = "SELECT EXISTS (SELECT 1 FROM overlays WHERE id = ?1 AND deleting = 0 "
                     "AND (owner_id IS NULL OR owner_id = ?2))",
        [O_SEED_FIND] = "SELECT id, type FROM overlays WHERE owner_id IS NULL AND name = ?",
        [O_USER_OWNS] = "SELECT COUNT(*) FROM overlays WHERE owner_id = ?",
};

int wdb_overlays_prepare(struct webd_db *db) {
        return db_prepare_all(db->db, overlay_sql, db->overlay, _O_MAX);
}

void wdb_overlays_finalize(struct webd_db *db) {
        wdb_finalize_all(db->overlay, _O_MAX);
}

static const char *const type_names[_WEBD_OVERLAY_TYPE_MAX] = {
        [WEBD_OVERLAY_SCRIPT] = "script",
        [WEBD_OVERLAY_FILES] = "files",
        [WEBD_OVERLAY_WORKSHOP] = "workshop",
};

const char *webd_overlay_type_to_string(enum webd_overlay_type t) {
        return (unsigned) t < _WEBD_OVERLAY_TYPE_MAX ? type_names[t] : NULL;
}

int webd_overlay_type_from_string(const char *s) {
        for (int i = 0; s && i < _WEBD_OVERLAY_TYPE_MAX; i++)
                if (streq(s, type_names[i]))
                        return i;
        return -EINVAL;
}

void webd_overlay_done(struct webd_overlay *o) {
        if (!o)
                return;
        free(o->name);
        free(o->script);
        free(o->owner_name);
        *o = (struct webd_overlay){};
}

static bool text_ok(const char *t, size_t min, size_t max) {
        size_t n = t ? strlen(t) : 0;
        return t && n >= min && n <= max;
}

static void bind_owner(sqlite3_stmt *s, int i, int64_t owner_id) {
        if (owner_id)
                (void) sqlite3_bind_int64(s, i, owner_id);
        else
                (void) sqlite3_bind_null(s, i);
}

static int insert(struct webd_db *db, int64_t owner_id, enum webd_overlay_type type, const char *name,
                  const char *script, int64_t now_usec, int64_t *ret_id) {
        sqlite3_stmt *s = db->overlay[O_INSERT];
        int r;

        bind_owner(s, 1, owner_id);
        wdb_bind_text(s, 2, webd_overlay_type_to_string(type));
        wdb_bind_text(s, 3, name);
        wdb_bind_text(s, 4, script ?: "");
        (void) sqlite3_bind_int64(s, 5, now_usec);
        r = wdb_run(s);
        if (r == -EBUSY) /* the owner's row is gone */
                return -ENOENT;
        if (r >= 0)
                *ret_id = sqlite3_last_insert_rowid(db->db);
        return r;
}

int webd_db_overlay_create(struct webd_db *db, const struct webd_overlay *o, int64_t now_usec,
                           const struct webd_audit *audit, int64_t *ret_id) {
        int64_t id = 0;
        int r;

        if (!webd_overlay_type_to_string(o->type) || !text_ok(o->name, 1, WEBD_NAME_MAX) ||
            !text_ok(o->script ?: "", 0, WEBD_SCRIPT_MAX) || o->owner_id < 0)
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = insert(db, o->owner_id, o->type, o->name, o->script, now_usec, &id);
        if (r >= 0)
                r = wdb_audit_created(db, audit, "overlay", id);
        r = wdb_tx_end(db, r);
        if (r >= 0 && ret_id)
                *ret_id = id;
        return r < 0 ? r : 0;
}

static int overlay_from_row(sqlite3_stmt *s, bool copy, struct webd_overlay *o) {
        int t = webd_overlay_type_from_string(wdb_col_text(s, 2));
        bool ok = true;

        *o = (struct webd_overlay){
                .id = sqlite3_column_int64(s, 0),
                .owner_id = sqlite3_column_int64(s, 1), /* NULL reads as 0 */
                .type = t < 0 ? WEBD_OVERLAY_SCRIPT : (enum webd_overlay_type) t,
                .last_job_id = sqlite3_column_int64(s, 4),
                .deleting = sqlite3_column_int(s, 5) != 0,
                .created_usec = sqlite3_column_int64(s, 6),
                .updated_usec = sqlite3_column_int64(s, 7),
                .n_blueprints = (unsigned) sqlite3_column_int(s, 9),
        };
        if (!copy) {
                o->name = (char *) wdb_col_text(s, 3);
                o->owner_name = (char *) wdb_col_text(s, 8);
                return 0;
        }
        o->name = wdb_col_dup(s, 3, &ok);
        o->owner_name = wdb_col_dup(s, 8, &ok);
        if (!ok || !o->name) {
                webd_overlay_done(o);
                return -ENOMEM;
        }
        return 0;
}

int webd_db_overlay_get(struct webd_db *db, int64_t id, struct webd_overlay *ret) {
        sqlite3_stmt *s = db->overlay[O_GET], *sc = db->overlay[O_GET_SCRIPT];
        struct webd_overlay o = {};
        bool ok = true;
        int rc, r;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        r = rc == SQLITE_ROW ? overlay_from_row(s, true, &o) : rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(s);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(sc, 1, id);
        rc = sqlite3_step(sc);
        if (rc == SQLITE_ROW)
                o.script = wdb_col_dup(sc, 0, &ok);
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(sc);
        if (r >= 0 && (!ok || !o.script))
                r = -ENOMEM;
        if (r < 0) {
                webd_overlay_done(&o);
                return r;
        }
        *ret = o;
        return 0;
}

int webd_db_overlay_list(struct webd_db *db, int64_t viewer_id, bool all, webd_overlay_cb cb,
                         void *userdata) {
        sqlite3_stmt *s = db->overlay[all ? O_LIST_ALL : O_LIST];
        int rc, r = 0;

        if (!all)
                (void) sqlite3_bind_int64(s, 1, viewer_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_overlay o;
                (void) overlay_from_row(s, false, &o);
                r = cb(&o, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

int webd_db_overlay_update(struct webd_db *db, int64_t id, const char *name, const char *script,
                           int64_t now_usec, const struct webd_audit *audit) {
        sqlite3_stmt *s = db->overlay[script ? O_UPDATE_SCRIPT : O_UPDATE];
        int r;

        if (!text_ok(name, 1, WEBD_NAME_MAX) || (script && !text_ok(script, 0, WEBD_SCRIPT_MAX)))
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, id);
        wdb_bind_text(s, 2, name);
        (void) sqlite3_bind_int64(s, 3, now_usec);
        if (script)
                wdb_bind_text(s, 4, script);
        r = wdb_changed_one(db, wdb_run(s));
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

int webd_db_overlay_set_job(struct webd_db *db, int64_t id, int64_t job_id, int64_t now_usec) {
        sqlite3_stmt *s = db->overlay[O_SET_JOB];

        (void) sqlite3_bind_int64(s, 1, id);
        (void) sqlite3_bind_int64(s, 2, job_id);
        (void) sqlite3_bind_int64(s, 3, now_usec);
        return wdb_changed_one(db, wdb_run(s));
}

/* Inside a transaction: -EBUSY while a blueprint stacks overlay id. */
static int refuse_in_use(struct webd_db *db, int64_t id) {
        int64_t used = 0;
        int r;

        (void) sqlite3_bind_int64(db->overlay[O_IN_USE], 1, id);
        r = wdb_query_int(db->overlay[O_IN_USE], &used);
        return r < 0 ? r : used ? -EBUSY : 0;
}

int webd_db_overlay_set_deleting(struct webd_db *db, int64_t id, int64_t job_id, int64_t now_usec,
                                 const struct webd_audit *audit) {
        sqlite3_stmt *s = db->overlay[O_SET_DELETING];
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = refuse_in_use(db, id);
        if (r >= 0) {
                (void) sqlite3_bind_int64(s, 1, id);
                (void) sqlite3_bind_int64(s, 2, job_id);
                (void) sqlite3_bind_int64(s, 3, now_usec);
                r = wdb_changed_one(db, wdb_run(s));
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

int webd_db_overlay_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit) {
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = refuse_in_use(db, id);
        if (r >= 0) {
                (void) sqlite3_bind_int64(db->overlay[O_DELETE], 1, id);
                r = wdb_changed_one(db, wdb_run(db->overlay[O_DELETE]));
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

int webd_db_overlay_users(struct webd_db *db, int64_t id, webd_overlay_user_cb cb, void *userdata) {
        sqlite3_stmt *s = db->overlay[O_USERS];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_overlay_user u = {
                        .blueprint_id = sqlite3_column_int64(s, 0),
                        .owner_id = sqlite3_column_int64(s, 1),
                        .blueprint_name = wdb_col_text(s, 2),
                        .owner_name = wdb_col_text(s, 3),
                };
                r = cb(&u, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

int webd_db_overlay_usable(struct webd_db *db, int64_t id, int64_t owner_id) {
        sqlite3_stmt *s = db->overlay[O_USABLE];
        int64_t yes = 0;
        int r;

        (void) sqlite3_bind_int64(s, 1, id);
        (void) sqlite3_bind_int64(s, 2, owner_id);
        r = wdb_query_int(s, &yes);
        return r < 0 ? r : yes ? 1 : 0;
}

int webd_db_overlay_seed(struct webd_db *db, const char *name, const char *script, int64_t now_usec,
                         const struct webd_audit *audit, int64_t *ret_id, bool *ret_created) {
        sqlite3_stmt *s = db->overlay[O_SEED_FIND];
        int64_t id = 0;
        bool created = false;
        int rc, r;

        if (!text_ok(name, 1, WEBD_NAME_MAX) || !text_ok(script, 0, WEBD_SCRIPT_MAX))
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        wdb_bind_text(s, 1, name);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                id = sqlite3_column_int64(s, 0);
                if (!streq(wdb_col_text(s, 1) ?: "", "script"))
                        r = -EEXIST;
        } else if (rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        if (r >= 0 && id) {
                sqlite3_stmt *u = db->overlay[O_UPDATE_SCRIPT];
                (void) sqlite3_bind_int64(u, 1, id);
                wdb_bind_text(u, 2, name);
                (void) sqlite3_bind_int64(u, 3, now_usec);
                wdb_bind_text(u, 4, script);
                r = wdb_run(u);
        } else if (r >= 0) {
                r = insert(db, 0, WEBD_OVERLAY_SCRIPT, name, script, now_usec, &id);
                created = true;
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        if (ret_created)
                *ret_created = created;
        return 0;
}

int webd_db_user_overlays(struct webd_db *db, int64_t user_id, unsigned *ret_n) {
        int64_t n = 0;
        int r;

        (void) sqlite3_bind_int64(db->overlay[O_USER_OWNS], 1, user_id);
        r = wdb_query_int(db->overlay[O_USER_OWNS], &n);
        if (r >= 0)
                *ret_n = (unsigned) n;
        return r;
}
