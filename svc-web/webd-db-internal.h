/* web.db's insides, shared by the files that implement webd-db.h: webd-db.c (schema,
 * users, sessions, the audit log) and webd-fleet.c (blueprints and servers). Nothing
 * outside them includes this. */
#pragma once

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "svc-web/webd-db.h"

#define WDB_CORE_STMTS    32 /* webd-db.c's statements, at most */
#define WDB_FLEET_STMTS   40 /* webd-fleet.c's */
#define WDB_OVERLAY_STMTS 24 /* webd-overlays.c's */
#define WDB_TOKEN_STMTS   12 /* webd-tokens.c's */

struct webd_db {
        sqlite3 *db;
        sqlite3_stmt *stmt[WDB_CORE_STMTS];
        sqlite3_stmt *fleet[WDB_FLEET_STMTS];
        sqlite3_stmt *overlay[WDB_OVERLAY_STMTS];
        sqlite3_stmt *token[WDB_TOKEN_STMTS];
};

int wdb_tx_begin(struct webd_db *db);
/* Commits if r >= 0 (returning r, or the commit's error), else rolls back and returns r. */
int wdb_tx_end(struct webd_db *db, int r);
/* Stores the optional audit entry of a change, inside its transaction. */
int wdb_audit(struct webd_db *db, const struct webd_audit *audit);
/* The same for a create: the entry's object becomes "<kind>:<id>" of the row just made (the
 * caller knew no id), so the row's own history starts with its creation. */
int wdb_audit_created(struct webd_db *db, const struct webd_audit *audit, const char *kind, int64_t id);
/* After an UPDATE or DELETE by id: -ENOENT if it touched no row. */
int wdb_changed_one(struct webd_db *db, int r);
/* webd-fleet.c: prepares its statements (at open), finalizes them (at close). */
int wdb_fleet_prepare(struct webd_db *db);
void wdb_fleet_finalize(struct webd_db *db);
/* webd-overlays.c's, the same. */
int wdb_overlays_prepare(struct webd_db *db);
void wdb_overlays_finalize(struct webd_db *db);
/* webd-tokens.c's, the same. */
int wdb_tokens_prepare(struct webd_db *db);
void wdb_tokens_finalize(struct webd_db *db);
/* Steps a statement that returns no rows, and resets it; maps a constraint failure to -EEXIST
 * (the only constraints a valid caller can hit are the UNIQUE ones), a foreign key's to -EBUSY. */
int wdb_run(sqlite3_stmt *s);
/* Steps a statement whose one row holds one integer, and resets it. */
int wdb_query_int(sqlite3_stmt *s, int64_t *ret);

/* Finalizes a module's statements (at close; NULL ones are fine). */
static inline void wdb_finalize_all(sqlite3_stmt **stmts, int n) {
        for (int i = 0; i < n; i++) {
                (void) sqlite3_finalize(stmts[i]);
                stmts[i] = NULL;
        }
}

static inline void wdb_stmt_clear(sqlite3_stmt *s) {
        (void) sqlite3_reset(s);
        (void) sqlite3_clear_bindings(s);
}

static inline void wdb_bind_text(sqlite3_stmt *s, int i, const char *t) {
        if (t)
                (void) sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
        else
                (void) sqlite3_bind_null(s, i);
}

static inline const char *wdb_col_text(sqlite3_stmt *s, int i) {
        return (const char *) sqlite3_column_text(s, i);
}

/* A malloc'd copy of a column; *ok is cleared if the copy failed. NULL stays NULL. */
static inline char *wdb_col_dup(sqlite3_stmt *s, int i, bool *ok) {
        const char *t = wdb_col_text(s, i);
        char *d;

        if (!t)
                return NULL;
        d = strdup(t);
        if (!d)
                *ok = false;
        return d;
}
