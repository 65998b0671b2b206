/* web.db's blueprints and servers (the rest of web.db is webd-db.h; same rules: each change
 * is one transaction with its optional audit entry, strings in results are malloc'd and
 * freed with the *_done function, callbacks' records are valid during the call only).
 *
 * Ownership is stored, not checked, here: the pages decide who may see what (an owner, or
 * an admin) and answer 404 otherwise. What is checked here is what must hold whoever asks:
 * names unique per owner, ports unique, a blueprint in use is not deleted, a server's
 * blueprint belongs to the server's owner. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc-web/webd-db.h"

#define WEBD_NAME_MAX          128u          /* bytes of a blueprint's or a server's name */
#define WEBD_HOSTNAME_MAX      128u          /* bytes of a server's hostname */
#define WEBD_ARGUMENTS_MAX     4096u         /* bytes of a blueprint's launch arguments */
#define WEBD_CONFIG_MAX        (64u * 1024u) /* bytes of a blueprint's server.cfg lines */
#define WEBD_BP_OVERLAYS_MAX   64u           /* overlays in one blueprint */
#define WEBD_OVERLAY_ID_MAX    64u           /* a host overlay id: [a-z0-9][a-z0-9_-]{0,63} */
#define WEBD_RCON_PASSWORD_LEN 24u
#define WEBD_FLEET_LIST_MAX    5000u /* rows listed at most */

struct webd_bp_overlay {
        char id[WEBD_OVERLAY_ID_MAX + 1];
        bool expose; /* exec the overlay's server.cfg (as server_overlay_<id>.cfg) */
};

struct webd_blueprint {
        int64_t id, owner_id;
        char *name, *arguments, *config;
        char *owner_name; /* the owner's username */
        int64_t created_usec, updated_usec;
        unsigned n_servers; /* servers using it */
        size_t n_overlays;
        struct webd_bp_overlay overlays[WEBD_BP_OVERLAYS_MAX]; /* first = top layer */
};
void webd_blueprint_done(struct webd_blueprint *b);

/* -EEXIST if the owner has a blueprint of that name, -EINVAL for an empty or too long field
 * or a duplicate overlay, -EACCES for a web overlay (web-<id>) the owner may not stack
 * (webd_db_overlay_usable). */
int webd_db_blueprint_create(struct webd_db *db, const struct webd_blueprint *b, int64_t now_usec,
                             const struct webd_audit *audit, int64_t *ret_id);
/* Replaces name, arguments, config and the overlay list of b->id. -ENOENT, -EEXIST, -EINVAL,
 * -EACCES. */
int webd_db_blueprint_update(struct webd_db *db, const struct webd_blueprint *b, int64_t now_usec,
                             const struct webd_audit *audit);
int webd_db_blueprint_get(struct webd_db *db, int64_t id, struct webd_blueprint *ret);
/* owner_id 0 = everyone's; by owner, then name. Records come without overlays. */
typedef int (*webd_blueprint_cb)(const struct webd_blueprint *b, void *userdata);
int webd_db_blueprint_list(struct webd_db *db, int64_t owner_id, webd_blueprint_cb cb, void *userdata);
/* -EBUSY while a server uses it (webd_db_server_list with blueprint_id names them). */
int webd_db_blueprint_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit);

enum webd_desired {
        WEBD_DESIRED_STOPPED,
        WEBD_DESIRED_RUNNING,
        WEBD_DESIRED_DELETING, /* the row goes once the host side is gone */
};
const char *webd_desired_to_string(enum webd_desired d);

struct webd_server {
        int64_t id, owner_id, blueprint_id;
        char *name, *hostname, *rcon_password;
        char *owner_name, *blueprint_name; /* joined */
        unsigned port;
        enum webd_desired desired;
        int64_t last_job_id; /* 0 = none */
        char *run_spec_hash; /* the spec of the last start submitted (NULL = never) */
        /* On the host: web-<id>, or (adopted) the name of an instance made with l4d2ctl. Read:
         * always set; create: NULL for web-<id>. */
        char *instance;
        int64_t created_usec, updated_usec;
};
void webd_server_done(struct webd_server *s);

/* s->port 0 = the lowest free port of [lo, hi] that neither web.db nor host_ports (ports the
 * host's instances use, any order) holds. -EEXIST (name taken), -EADDRINUSE (the port is
 * taken), -ENOSPC (no port left), -ERANGE (port outside [lo, hi]), -ENOENT (the blueprint is
 * not the owner's), -EINVAL. *ret_port is the port given. */
int webd_db_server_create(struct webd_db *db, const struct webd_server *s, unsigned lo, unsigned hi,
                          const unsigned *host_ports, size_t n_host_ports, int64_t now_usec,
                          const struct webd_audit *audit, int64_t *ret_id, unsigned *ret_port);
/* Name, hostname and blueprint of s->id. -ENOENT (no such server, or the blueprint is not
 * the server owner's), -EEXIST, -EINVAL. */
int webd_db_server_update(struct webd_db *db, const struct webd_server *s, int64_t now_usec,
                          const struct webd_audit *audit);
int webd_db_server_get(struct webd_db *db, int64_t id, struct webd_server *ret);
struct webd_server_filter {
        int64_t owner_id;     /* 0 = any */
        int64_t blueprint_id; /* 0 = any */
};
typedef int (*webd_server_cb)(const struct webd_server *s, void *userdata);
int webd_db_server_list(struct webd_db *db, const struct webd_server_filter *f, webd_server_cb cb,
                        void *userdata);
/* Records a lifecycle action: the desired state, the job that carries it out, and for a
 * start the hash of the spec it renders (NULL keeps the old one). -ENOENT. */
int webd_db_server_set_desired(struct webd_db *db, int64_t id, enum webd_desired d, int64_t job_id,
                               const char *spec_hash, int64_t now_usec, const struct webd_audit *audit);
int webd_db_server_set_rcon(struct webd_db *db, int64_t id, const char *password, int64_t now_usec,
                            const struct webd_audit *audit);
/* The server whose instance on the host is `instance` (web-<id>, or an adopted name), or 0. */
int64_t webd_db_server_id_of(struct webd_db *db, const char *instance);
/* Its instance name into buf. -ENOENT. */
int webd_db_server_instance(struct webd_db *db, int64_t id, char *buf, size_t len);
/* Removes the row (after the host side is gone). -ENOENT. */
int webd_db_server_delete(struct webd_db *db, int64_t id, const struct webd_audit *audit);

/* What the user owns, for the refusal to delete them. */
int webd_db_user_owns(struct webd_db *db, int64_t user_id, unsigned *ret_servers, unsigned *ret_blueprints);

/* Pure: the lowest port of [lo, hi] in neither used list; 0 if none. Exposed for tests. */
unsigned webd_port_pick(unsigned lo, unsigned hi, const unsigned *a, size_t na, const unsigned *b,
                        size_t nb);
