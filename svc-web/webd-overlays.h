/* web.db's overlays (the rules of webd-fleet.h hold: one transaction per change with its
 * optional audit entry, malloc'd strings freed by webd_overlay_done, callback records valid
 * during the call only).
 *
 * An overlay is system (owner_id 0: an admin made it, every user may stack it) or private
 * (one user's). On the host it is the overlay web-<id> (webd_host_name); hostd holds its
 * content and generations, jobd its builds; web.db keeps what users decide: the name, the
 * scope, a script overlay's script, and which job last built or removed it.
 *
 * Checked here whoever asks: names unique among the system overlays and per owner, an overlay
 * a blueprint stacks is not deleted (nor marked for deletion). Who may see or change one is
 * the pages' to decide. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc-web/webd-db.h"

#define WEBD_SCRIPT_MAX (256u * 1024u) /* bytes of a script overlay's script (jobd's cap) */

enum webd_overlay_type {
        WEBD_OVERLAY_SCRIPT,
        WEBD_OVERLAY_FILES,
        WEBD_OVERLAY_WORKSHOP,
        _WEBD_OVERLAY_TYPE_MAX,
};
const char *webd_overlay_type_to_string(enum webd_overlay_type t);
/* -EINVAL for anything else. */
int webd_overlay_type_from_string(const char *s);

struct webd_overlay {
        int64_t id;
        int64_t owner_id; /* 0 = system */
        enum webd_overlay_type type;
        char *name, *script;
        char *owner_name;      /* NULL for a system overlay */
        int64_t last_job_id;   /* the last build (or removal) submitted; 0 = none */
        bool deleting;         /* a removal from the host was submitted; the row goes after it */
        unsigned n_blueprints; /* blueprints stacking it */
        int64_t created_usec, updated_usec;
};
void webd_overlay_done(struct webd_overlay *o);

/* o->owner_id, type, name (and script). -EEXIST (the name is taken in that scope), -ENOENT
 * (the owner is gone), -EINVAL. */
int webd_db_overlay_create(struct webd_db *db, const struct webd_overlay *o, int64_t now_usec,
                           const struct webd_audit *audit, int64_t *ret_id);
int webd_db_overlay_get(struct webd_db *db, int64_t id, struct webd_overlay *ret);
/* What viewer may see: the system overlays and viewer's own (everyone's with all), system
 * first, then by owner and name. Records come without their script. */
typedef int (*webd_overlay_cb)(const struct webd_overlay *o, void *userdata);
int webd_db_overlay_list(struct webd_db *db, int64_t viewer_id, bool all, webd_overlay_cb cb,
                         void *userdata);
/* Name and script (script NULL: unchanged). -ENOENT, -EEXIST, -EINVAL. */
int webd_db_overlay_update(struct webd_db *db, int64_t id, const char *name, const char *script,
                           int64_t now_usec, const struct webd_audit *audit);
/* The job that now builds (or removes) it. -ENOENT. */
int webd_db_overlay_set_job(struct webd_db *db, int64_t id, int64_t job_id, int64_t now_usec);
/* Marks it for removal with the job that removes it from the host. -EBUSY while a blueprint
 * stacks it, -ENOENT. */
int webd_db_overlay_set_deleting(struct webd_db *db, int64_t id, int64_t job_id, int64_t now_usec,
                                 const struct webd_audit *audit);
/* Removes the row (once the host has no overlay web-<id>). -EBUSY while a blueprint stacks it,
 * -ENOENT. */
int webd_db_overlay_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit);

/* The blueprints stacking it, by owner and name. */
struct webd_overlay_user {
        int64_t blueprint_id, owner_id;
        const char *blueprint_name, *owner_name;
};
typedef int (*webd_overlay_user_cb)(const struct webd_overlay_user *u, void *userdata);
int webd_db_overlay_users(struct webd_db *db, int64_t id, webd_overlay_user_cb cb, void *userdata);

/* May a blueprint of owner_id stack it: a system overlay or owner_id's own, not being
 * removed. 0 = no (or no such overlay), 1 = yes, < 0 on error. */
int webd_db_overlay_usable(struct webd_db *db, int64_t id, int64_t owner_id);

/* The seeding of system script overlays (l4d2ctl web seed-script-overlays): the system
 * overlay of that name gets the script (its id kept), or is created. *ret_created says which;
 * -EEXIST if a system overlay of that name is of another type. */
int webd_db_overlay_seed(struct webd_db *db, const char *name, const char *script, int64_t now_usec,
                         const struct webd_audit *audit, int64_t *ret_id, bool *ret_created);

/* What a user owns, for the refusal to delete them: their private overlays. */
int webd_db_user_overlays(struct webd_db *db, int64_t user_id, unsigned *ret_n);
