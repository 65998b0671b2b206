/* See webd-fleet.h. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "daemon/sqlite.h"
#include "proto/names.h"
#include "svc-web/webd-db-internal.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-spec.h"

#define BP_COLUMNS                                                                                          \
        "b.id, b.owner_id, b.name, b.arguments, b.config, b.created_usec, b.updated_usec, u.username, "     \
        "(SELECT COUNT(*) FROM servers s WHERE s.blueprint_id = b.id)"
#define SERVER_COLUMNS                                                                                      \
        "s.id, s.owner_id, s.blueprint_id, s.name, s.hostname, s.rcon_password, s.port, s.desired, "        \
        "s.last_job_id, s.run_spec_hash, s.created_usec, s.updated_usec, u.username, b.name, "              \
        "coalesce(s.instance, 'web-' || s.id)"

enum {
        F_BP_INSERT,
        F_BP_UPDATE,
        F_BP_GET,
        F_BP_LIST,
        F_BP_DELETE,
        F_BP_IN_USE,
        F_BPO_CLEAR,
        F_BPO_INSERT,
        F_BPO_GET,
        F_SERVER_INSERT,
        F_SERVER_UPDATE,
        F_SERVER_GET,
        F_SERVER_LIST,
        F_SERVER_LIST_OWNER,
        F_SERVER_DESIRED,
        F_SERVER_RCON,
        F_SERVER_DELETE,
        F_SERVER_PORTS,
        F_SERVER_PORT_TAKEN,
        F_BP_OF_OWNER,
        F_USER_OWNS,
        F_SERVER_BY_WEB_NAME,
        F_SERVER_BY_INSTANCE,
        F_SERVER_INSTANCE,
        _F_MAX,
};
_Static_assert(_F_MAX <= WDB_FLEET_STMTS, "webd_db.fleet[] is too small");

static const char *const fleet_sql[_F_MAX] = {
        [F_BP_INSERT] = "INSERT INTO blueprints (owner_id, name, arguments, config, created_usec, "
                        "updated_usec) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        [F_BP_UPDATE] = "UPDATE blueprints SET name = ?2, arguments = ?3, config = ?4, updated_usec = ?5 "
                        "WHERE id = ?1",
        [F_BP_GET] = "SELECT " BP_COLUMNS " FROM blueprints b JOIN users u ON u.id = b.owner_id "
                     "WHERE b.id = ?",
        [F_BP_LIST] = "SELECT " BP_COLUMNS " FROM blueprints b JOIN users u ON u.id = b.owner_id "
                      "WHERE ?1 = 0 OR b.owner_id = ?1 ORDER BY u.username, b.name LIMIT 5000",
        [F_BP_DELETE] = "DELETE FROM blueprints WHERE id = ?",
        [F_BP_IN_USE] = "SELECT EXISTS (SELECT 1 FROM servers WHERE blueprint_id = ?)",
        [F_BPO_CLEAR] = "DELETE FROM blueprint_overlays WHERE blueprint_id = ?",
        [F_BPO_INSERT] = "INSERT INTO blueprint_overlays (blueprint_id, position, overlay, expose) "
                         "VALUES (?, ?, ?, ?)",
        [F_BPO_GET] = "SELECT overlay, expose FROM blueprint_overlays WHERE blueprint_id = ? "
                      "ORDER BY position LIMIT 64",
        [F_SERVER_INSERT] = "INSERT INTO servers (owner_id, blueprint_id, name, hostname, port, "
                            "rcon_password, created_usec, updated_usec, instance) VALUES (?1, ?2, ?3, ?4, "
                            "?5, ?6, ?7, ?7, ?8)",
        [F_SERVER_UPDATE] =
                "UPDATE servers SET name = ?2, hostname = ?3, blueprint_id = ?4, updated_usec = ?5 "
                "WHERE id = ?1",
        [F_SERVER_GET] = "SELECT " SERVER_COLUMNS " FROM servers s JOIN users u ON u.id = s.owner_id "
                         "JOIN blueprints b ON b.id = s.blueprint_id WHERE s.id = ?",
        [F_SERVER_LIST] = "SELECT " SERVER_COLUMNS " FROM servers s JOIN users u ON u.id = s.owner_id "
                          "JOIN blueprints b ON b.id = s.blueprint_id WHERE (?1 = 0 OR s.owner_id = ?1) "
                          "AND (?2 = 0 OR s.blueprint_id = ?2) ORDER BY u.username, s.name LIMIT 5000",
        /* One owner's (the common page): the UNIQUE (owner_id, name) index gives the order,
         * where the general form's ORs make SQLite scan and sort. */
        [F_SERVER_LIST_OWNER] = "SELECT " SERVER_COLUMNS " FROM servers s JOIN users u ON u.id = s.owner_id "
                                "JOIN blueprints b ON b.id = s.blueprint_id WHERE s.owner_id = ?1 "
                                "ORDER BY s.name LIMIT 5000",
        [F_SERVER_DESIRED] = "UPDATE servers SET desired = ?2, last_job_id = ?3, "
                             "run_spec_hash = coalesce(?4, run_spec_hash), updated_usec = ?5 WHERE id = ?1",
        [F_SERVER_RCON] = "UPDATE servers SET rcon_password = ?2, updated_usec = ?3 WHERE id = ?1",
        [F_SERVER_DELETE] = "DELETE FROM servers WHERE id = ?",
        [F_SERVER_PORTS] = "SELECT port FROM servers WHERE port BETWEEN ?1 AND ?2 ORDER BY port",
        [F_SERVER_PORT_TAKEN] = "SELECT EXISTS (SELECT 1 FROM servers WHERE port = ?)",
        [F_BP_OF_OWNER] = "SELECT EXISTS (SELECT 1 FROM blueprints WHERE id = ?1 AND owner_id = ?2)",
        [F_SERVER_BY_WEB_NAME] = "SELECT id FROM servers WHERE id = ? AND instance IS NULL",
        [F_SERVER_BY_INSTANCE] = "SELECT id FROM servers WHERE instance = ?",
        [F_SERVER_INSTANCE] = "SELECT coalesce(instance, 'web-' || id) FROM servers WHERE id = ?",
        [F_USER_OWNS] = "SELECT (SELECT COUNT(*) FROM servers WHERE owner_id = ?1), "
                        "(SELECT COUNT(*) FROM blueprints WHERE owner_id = ?1)",
};

int wdb_fleet_prepare(struct webd_db *db) {
        return db_prepare_all(db->db, fleet_sql, db->fleet, _F_MAX);
}

void wdb_fleet_finalize(struct webd_db *db) {
        wdb_finalize_all(db->fleet, _F_MAX);
}

static int run(struct webd_db *db, int id) {
        return wdb_run(db->fleet[id]);
}

static int query_int(struct webd_db *db, int id, int64_t *ret) {
        return wdb_query_int(db->fleet[id], ret);
}

static bool text_ok(const char *t, size_t min, size_t max) {
        size_t n = t ? strlen(t) : 0;
        return t && n >= min && n <= max;
}

/* ---- blueprints ------------------------------------------------------------------------- */

void webd_blueprint_done(struct webd_blueprint *b) {
        if (!b)
                return;
        free(b->name);
        free(b->arguments);
        free(b->config);
        free(b->owner_name);
        *b = (struct webd_blueprint){};
}

static int blueprint_valid(const struct webd_blueprint *b) {
        if (!text_ok(b->name, 1, WEBD_NAME_MAX) || !text_ok(b->arguments ?: "", 0, WEBD_ARGUMENTS_MAX) ||
            !text_ok(b->config ?: "", 0, WEBD_CONFIG_MAX) || b->n_overlays > WEBD_BP_OVERLAYS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < b->n_overlays; i++) {
                if (!text_ok(b->overlays[i].id, 1, WEBD_OVERLAY_ID_MAX))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(b->overlays[i].id, b->overlays[j].id))
                                return -EINVAL;
        }
        return 0;
}

static int overlays_store(struct webd_db *db, int64_t id, const struct webd_blueprint *b) {
        sqlite3_stmt *s = db->fleet[F_BPO_INSERT];
        int r;

        (void) sqlite3_bind_int64(db->fleet[F_BPO_CLEAR], 1, id);
        r = run(db, F_BPO_CLEAR);
        for (size_t i = 0; r >= 0 && i < b->n_overlays; i++) {
                int64_t web_overlay = webd_host_id(b->overlays[i].id);

                /* Another user's private overlay (or one being removed) is never stacked, whoever
                 * asks; the host's own overlays are the operator's, open to all. */
                if (web_overlay) {
                        r = webd_db_overlay_usable(db, web_overlay, b->owner_id);
                        if (r == 0)
                                r = -EACCES;
                        if (r < 0)
                                break;
                }
                (void) sqlite3_bind_int64(s, 1, id);
                (void) sqlite3_bind_int64(s, 2, (int64_t) i);
                wdb_bind_text(s, 3, b->overlays[i].id);
                (void) sqlite3_bind_int(s, 4, b->overlays[i].expose);
                r = run(db, F_BPO_INSERT);
        }
        return r;
}

static void bind_blueprint(sqlite3_stmt *s, const struct webd_blueprint *b, int64_t now_usec) {
        wdb_bind_text(s, 2, b->name);
        wdb_bind_text(s, 3, b->arguments ?: "");
        wdb_bind_text(s, 4, b->config ?: "");
        (void) sqlite3_bind_int64(s, 5, now_usec);
}

int webd_db_blueprint_create(struct webd_db *db, const struct webd_blueprint *b, int64_t now_usec,
                             const struct webd_audit *audit, int64_t *ret_id) {
        sqlite3_stmt *s = db->fleet[F_BP_INSERT];
        int64_t id = 0;
        int r;

        r = blueprint_valid(b);
        if (r < 0)
                return r;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, b->owner_id);
        bind_blueprint(s, b, now_usec);
        r = run(db, F_BP_INSERT);
        if (r == -EBUSY) /* the owner's row is gone */
                r = -ENOENT;
        if (r >= 0) {
                id = sqlite3_last_insert_rowid(db->db);
                r = overlays_store(db, id, b);
        }
        if (r >= 0)
                r = wdb_audit_created(db, audit, "blueprint", id);
        r = wdb_tx_end(db, r);
        if (r >= 0 && ret_id)
                *ret_id = id;
        return r < 0 ? r : 0;
}

int webd_db_blueprint_update(struct webd_db *db, const struct webd_blueprint *b, int64_t now_usec,
                             const struct webd_audit *audit) {
        sqlite3_stmt *s = db->fleet[F_BP_UPDATE];
        int r;

        r = blueprint_valid(b);
        if (r < 0)
                return r;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, b->id);
        bind_blueprint(s, b, now_usec);
        r = wdb_changed_one(db, run(db, F_BP_UPDATE));
        if (r >= 0)
                r = overlays_store(db, b->id, b);
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

static int blueprint_from_row(sqlite3_stmt *s, bool copy, struct webd_blueprint *b) {
        bool ok = true;

        *b = (struct webd_blueprint){
                .id = sqlite3_column_int64(s, 0),
                .owner_id = sqlite3_column_int64(s, 1),
                .created_usec = sqlite3_column_int64(s, 5),
                .updated_usec = sqlite3_column_int64(s, 6),
                .n_servers = (unsigned) sqlite3_column_int(s, 8),
        };
        if (!copy) {
                b->name = (char *) wdb_col_text(s, 2);
                b->arguments = (char *) wdb_col_text(s, 3);
                b->config = (char *) wdb_col_text(s, 4);
                b->owner_name = (char *) wdb_col_text(s, 7);
                return 0;
        }
        b->name = wdb_col_dup(s, 2, &ok);
        b->arguments = wdb_col_dup(s, 3, &ok);
        b->config = wdb_col_dup(s, 4, &ok);
        b->owner_name = wdb_col_dup(s, 7, &ok);
        if (!ok) {
                webd_blueprint_done(b);
                return -ENOMEM;
        }
        return 0;
}

int webd_db_blueprint_get(struct webd_db *db, int64_t id, struct webd_blueprint *ret) {
        sqlite3_stmt *s = db->fleet[F_BP_GET], *o = db->fleet[F_BPO_GET];
        int rc, r;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                r = blueprint_from_row(s, true, ret);
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(s);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(o, 1, id);
        while ((rc = sqlite3_step(o)) == SQLITE_ROW && ret->n_overlays < WEBD_BP_OVERLAYS_MAX) {
                struct webd_bp_overlay *x = &ret->overlays[ret->n_overlays++];
                snprintf(x->id, sizeof(x->id), "%s", wdb_col_text(o, 0) ?: "");
                x->expose = sqlite3_column_int(o, 1);
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(o);
        if (r < 0)
                webd_blueprint_done(ret);
        return r;
}

int webd_db_blueprint_list(struct webd_db *db, int64_t owner_id, webd_blueprint_cb cb, void *userdata) {
        sqlite3_stmt *s = db->fleet[F_BP_LIST];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, owner_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_blueprint b;
                (void) blueprint_from_row(s, false, &b);
                r = cb(&b, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

int webd_db_blueprint_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit) {
        int64_t in_use = 0;
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(db->fleet[F_BP_IN_USE], 1, id);
        r = query_int(db, F_BP_IN_USE, &in_use);
        if (r >= 0 && in_use)
                r = -EBUSY;
        if (r >= 0) {
                (void) sqlite3_bind_int64(db->fleet[F_BP_DELETE], 1, id);
                r = wdb_changed_one(db, run(db, F_BP_DELETE));
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

/* ---- servers ---------------------------------------------------------------------------- */

static const char *const desired_names[] = {
        [WEBD_DESIRED_STOPPED] = "stopped",
        [WEBD_DESIRED_RUNNING] = "running",
        [WEBD_DESIRED_DELETING] = "deleting",
};

const char *webd_desired_to_string(enum webd_desired d) {
        return (unsigned) d < ELEMENTSOF(desired_names) ? desired_names[d] : "unknown";
}

void webd_server_done(struct webd_server *s) {
        if (!s)
                return;
        free(s->name);
        free(s->hostname);
        free(s->rcon_password);
        free(s->owner_name);
        free(s->blueprint_name);
        free(s->run_spec_hash);
        free(s->instance);
        *s = (struct webd_server){};
}

static bool in_list(unsigned p, const unsigned *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (a[i] == p)
                        return true;
        return false;
}

unsigned webd_port_pick(unsigned lo, unsigned hi, const unsigned *a, size_t na, const unsigned *b,
                        size_t nb) {
        if (lo == 0 || lo > hi || hi > 65535)
                return 0;
        /* Linear in the range: at most 65535 candidates against lists of at most a few
         * thousand servers; the lists are unsorted (the host's come in name order). */
        for (unsigned p = lo; p <= hi; p++)
                if (!in_list(p, a, na) && !in_list(p, b, nb))
                        return p;
        return 0;
}

/* The ports web.db holds in [lo, hi], malloc'd. */
static int db_ports(struct webd_db *db, unsigned lo, unsigned hi, unsigned **ret, size_t *ret_n) {
        sqlite3_stmt *s = db->fleet[F_SERVER_PORTS];
        _cleanup_free_ unsigned *a = NULL;
        size_t n = 0, alloc = 0;
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, lo);
        (void) sqlite3_bind_int64(s, 2, hi);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                if (n == alloc) {
                        size_t na = alloc ? alloc * 2 : 64;
                        unsigned *t = reallocarray(a, na, sizeof(*a));
                        if (!t) {
                                r = -ENOMEM;
                                break;
                        }
                        a = t;
                        alloc = na;
                }
                a[n++] = (unsigned) sqlite3_column_int(s, 0);
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        *ret_n = n;
        return 0;
}

/* Inside a transaction: -ENOENT unless the blueprint is the owner's. */
static int blueprint_of_owner(struct webd_db *db, int64_t blueprint_id, int64_t owner_id) {
        int64_t yes = 0;
        int r;

        (void) sqlite3_bind_int64(db->fleet[F_BP_OF_OWNER], 1, blueprint_id);
        (void) sqlite3_bind_int64(db->fleet[F_BP_OF_OWNER], 2, owner_id);
        r = query_int(db, F_BP_OF_OWNER, &yes);
        return r < 0 ? r : yes ? 0 : -ENOENT;
}

static int server_valid(const struct webd_server *s) {
        if (!text_ok(s->name, 1, WEBD_NAME_MAX) || !text_ok(s->hostname ?: "", 0, WEBD_HOSTNAME_MAX))
                return -EINVAL;
        return 0;
}

int64_t webd_db_server_id_of(struct webd_db *db, const char *instance) {
        int64_t web = webd_host_id(instance), id = 0;
        sqlite3_stmt *s;

        if (!instance)
                return 0;
        if (web) {
                s = db->fleet[F_SERVER_BY_WEB_NAME];
                (void) sqlite3_bind_int64(s, 1, web);
        } else {
                s = db->fleet[F_SERVER_BY_INSTANCE];
                wdb_bind_text(s, 1, instance);
        }
        return wdb_query_int(s, &id) < 0 ? 0 : id;
}

int webd_db_server_instance(struct webd_db *db, int64_t id, char *buf, size_t len) {
        sqlite3_stmt *s = db->fleet[F_SERVER_INSTANCE];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                snprintf(buf, len, "%s", wdb_col_text(s, 0) ?: "");
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(s);
        return r;
}

int webd_db_server_create(struct webd_db *db, const struct webd_server *x, unsigned lo, unsigned hi,
                          const unsigned *host_ports, size_t n_host_ports, int64_t now_usec,
                          const struct webd_audit *audit, int64_t *ret_id, unsigned *ret_port) {
        sqlite3_stmt *s = db->fleet[F_SERVER_INSERT];
        _cleanup_free_ unsigned *ports = NULL;
        size_t n_ports = 0;
        unsigned port = x->port;
        int64_t id = 0;
        int r;

        r = server_valid(x);
        if (r < 0)
                return r;
        if (!text_ok(x->rcon_password, 1, 128))
                return -EINVAL;
        /* An adopted instance: a name l4d2ctl could have made, never one of webd's own. */
        if (x->instance && (!server_name_is_valid(x->instance) || name_is_web(x->instance)))
                return -EINVAL;
        if (port && (port < lo || port > hi))
                return -ERANGE;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = blueprint_of_owner(db, x->blueprint_id, x->owner_id);
        if (r >= 0 && port == 0) {
                r = db_ports(db, lo, hi, &ports, &n_ports);
                if (r >= 0) {
                        port = webd_port_pick(lo, hi, ports, n_ports, host_ports, n_host_ports);
                        if (port == 0)
                                r = -ENOSPC;
                }
        } else if (r >= 0) {
                int64_t taken = 0;
                (void) sqlite3_bind_int64(db->fleet[F_SERVER_PORT_TAKEN], 1, port);
                r = query_int(db, F_SERVER_PORT_TAKEN, &taken);
                if (r >= 0 && (taken || in_list(port, host_ports, n_host_ports)))
                        r = -EADDRINUSE;
        }
        if (r >= 0) {
                (void) sqlite3_bind_int64(s, 1, x->owner_id);
                (void) sqlite3_bind_int64(s, 2, x->blueprint_id);
                wdb_bind_text(s, 3, x->name);
                wdb_bind_text(s, 4, x->hostname ?: "");
                (void) sqlite3_bind_int64(s, 5, port);
                wdb_bind_text(s, 6, x->rcon_password);
                (void) sqlite3_bind_int64(s, 7, now_usec);
                wdb_bind_text(s, 8, x->instance);
                r = run(db, F_SERVER_INSERT);
                id = sqlite3_last_insert_rowid(db->db);
        }
        if (r >= 0)
                r = wdb_audit_created(db, audit, "server", id);
        r = wdb_tx_end(db, r);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        if (ret_port)
                *ret_port = port;
        return 0;
}

int webd_db_server_update(struct webd_db *db, const struct webd_server *x, int64_t now_usec,
                          const struct webd_audit *audit) {
        sqlite3_stmt *s = db->fleet[F_SERVER_UPDATE];
        struct webd_server cur = {};
        int r;

        r = server_valid(x);
        if (r < 0)
                return r;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        r = webd_db_server_get(db, x->id, &cur);
        if (r >= 0)
                r = blueprint_of_owner(db, x->blueprint_id, cur.owner_id);
        webd_server_done(&cur);
        if (r >= 0) {
                (void) sqlite3_bind_int64(s, 1, x->id);
                wdb_bind_text(s, 2, x->name);
                wdb_bind_text(s, 3, x->hostname ?: "");
                (void) sqlite3_bind_int64(s, 4, x->blueprint_id);
                (void) sqlite3_bind_int64(s, 5, now_usec);
                r = wdb_changed_one(db, run(db, F_SERVER_UPDATE));
        }
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

static int server_from_row(sqlite3_stmt *q, bool copy, struct webd_server *s) {
        bool ok = true;
        int d = sqlite3_column_int(q, 7);

        *s = (struct webd_server){
                .id = sqlite3_column_int64(q, 0),
                .owner_id = sqlite3_column_int64(q, 1),
                .blueprint_id = sqlite3_column_int64(q, 2),
                .port = (unsigned) sqlite3_column_int(q, 6),
                .desired =
                        d >= 0 && d <= WEBD_DESIRED_DELETING ? (enum webd_desired) d : WEBD_DESIRED_STOPPED,
                .last_job_id = sqlite3_column_int64(q, 8),
                .created_usec = sqlite3_column_int64(q, 10),
                .updated_usec = sqlite3_column_int64(q, 11),
        };
        if (!copy) {
                s->name = (char *) wdb_col_text(q, 3);
                s->hostname = (char *) wdb_col_text(q, 4);
                s->rcon_password = (char *) wdb_col_text(q, 5);
                s->run_spec_hash = (char *) wdb_col_text(q, 9);
                s->owner_name = (char *) wdb_col_text(q, 12);
                s->blueprint_name = (char *) wdb_col_text(q, 13);
                s->instance = (char *) wdb_col_text(q, 14);
                return 0;
        }
        s->name = wdb_col_dup(q, 3, &ok);
        s->hostname = wdb_col_dup(q, 4, &ok);
        s->rcon_password = wdb_col_dup(q, 5, &ok);
        s->run_spec_hash = wdb_col_dup(q, 9, &ok);
        s->owner_name = wdb_col_dup(q, 12, &ok);
        s->blueprint_name = wdb_col_dup(q, 13, &ok);
        s->instance = wdb_col_dup(q, 14, &ok);
        if (!ok) {
                webd_server_done(s);
                return -ENOMEM;
        }
        return 0;
}

int webd_db_server_get(struct webd_db *db, int64_t id, struct webd_server *ret) {
        sqlite3_stmt *s = db->fleet[F_SERVER_GET];
        int rc, r;

        (void) sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                r = server_from_row(s, true, ret);
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
        wdb_stmt_clear(s);
        return r;
}

int webd_db_server_list(struct webd_db *db, const struct webd_server_filter *f, webd_server_cb cb,
                        void *userdata) {
        bool by_owner = f && f->owner_id && !f->blueprint_id;
        sqlite3_stmt *s = db->fleet[by_owner ? F_SERVER_LIST_OWNER : F_SERVER_LIST];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, f ? f->owner_id : 0);
        if (!by_owner)
                (void) sqlite3_bind_int64(s, 2, f ? f->blueprint_id : 0);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct webd_server x;
                (void) server_from_row(s, false, &x);
                r = cb(&x, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(rc);
        wdb_stmt_clear(s);
        return r < 0 ? r : 0;
}

int webd_db_server_set_desired(struct webd_db *db, int64_t id, enum webd_desired d, int64_t job_id,
                               const char *spec_hash, int64_t now_usec, const struct webd_audit *audit) {
        sqlite3_stmt *s = db->fleet[F_SERVER_DESIRED];
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, id);
        (void) sqlite3_bind_int(s, 2, (int) d);
        (void) sqlite3_bind_int64(s, 3, job_id);
        wdb_bind_text(s, 4, spec_hash);
        (void) sqlite3_bind_int64(s, 5, now_usec);
        r = wdb_changed_one(db, run(db, F_SERVER_DESIRED));
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

int webd_db_server_set_rcon(struct webd_db *db, int64_t id, const char *password, int64_t now_usec,
                            const struct webd_audit *audit) {
        sqlite3_stmt *s = db->fleet[F_SERVER_RCON];
        int r;

        if (!text_ok(password, 1, 128))
                return -EINVAL;
        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(s, 1, id);
        wdb_bind_text(s, 2, password);
        (void) sqlite3_bind_int64(s, 3, now_usec);
        r = wdb_changed_one(db, run(db, F_SERVER_RCON));
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

int webd_db_server_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit) {
        int r;

        r = wdb_tx_begin(db);
        if (r < 0)
                return r;
        (void) sqlite3_bind_int64(db->fleet[F_SERVER_DELETE], 1, id);
        r = wdb_changed_one(db, run(db, F_SERVER_DELETE));
        if (r >= 0)
                r = wdb_audit(db, audit);
        r = wdb_tx_end(db, r);
        return r < 0 ? r : 0;
}

int webd_db_user_owns(struct webd_db *db, int64_t user_id, unsigned *ret_servers, unsigned *ret_blueprints) {
        sqlite3_stmt *s = db->fleet[F_USER_OWNS];
        int rc, r = 0;

        (void) sqlite3_bind_int64(s, 1, user_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *ret_servers = (unsigned) sqlite3_column_int(s, 0);
                *ret_blueprints = (unsigned) sqlite3_column_int(s, 1);
        } else
                r = db_errno(rc) ?: -EIO;
        wdb_stmt_clear(s);
        return r;
}
