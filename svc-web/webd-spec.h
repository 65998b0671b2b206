/* From a blueprint and a server to the spec.yaml a start job carries (original-left4me.md
 * §3.2), and the checks of what users type into those forms. Pure: no I/O, no logging.
 *
 * The rendered spec:
 *
 *   port: <the server's port>
 *   overlays:                        the blueprint's, first = top layer
 *     - "<id>"                       or {path: "<id>", alias: "overlay_<id>"} when exposed
 *   arguments: [...]                 the blueprint's launch arguments, split at whitespace
 *   config:
 *     - exec server_overlay_<id>     one per exposed overlay, bottom layer first, so the
 *                                    cfg of a higher layer runs later and wins (cvars are
 *                                    last-wins, as the top layer's files win)
 *     - <the blueprint's lines>
 *     - hostname "<hostname>"        the server's, else "<username> <server name>"
 *     - rcon_password "<password>"   last of all: nothing above can override it
 *
 * The result goes through proto/spec's parser before it is submitted (the same one hostd
 * and jobd use), so a spec webd sends is one they accept. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "svc-web/webd-fleet.h"

#define WEBD_SPEC_HASH_HEX 33u /* 16 bytes of BLAKE2b in hex, and the NUL */

/* A display name (blueprint, server): 1..WEBD_NAME_MAX bytes of valid UTF-8 without control
 * characters and without the bidirectional overrides (U+202A..U+202E, U+2066..U+2069) that
 * would make one name look like another. NULL if fine, else the sentence to show. */
const char *webd_check_name(const char *name);
/* A server's hostname: empty, or like a name but also without '"' (it is quoted in
 * server.cfg, which has no escape). */
const char *webd_check_hostname(const char *hostname);
/* A blueprint's fields, as the spec will use them: every argument (whitespace-separated) a
 * valid srcds argument that hostd does not reserve, every config line valid, an exposed
 * overlay's alias within the spec's limit. 0, or -EINVAL with the sentence in err. */
int webd_check_blueprint(const struct webd_blueprint *b, char *err, size_t errlen);

/* The hostname line's value: the server's, or "<owner> <name>" with '"' replaced. */
void webd_spec_hostname(const struct webd_server *s, char *buf, size_t len);
/* The spec text for server s from blueprint b (malloc'd, NUL-terminated). -ENOMEM, or -EINVAL
 * with err if the result would not parse (a field that passed none of the checks above). */
int webd_spec_render(const struct webd_blueprint *b, const struct webd_server *s, char **ret, char *err,
                     size_t errlen);
/* The exec lines of b's exposed overlays, in the order they run, for the live preview: calls
 * cb with each "exec server_overlay_<id>". */
void webd_spec_exec_lines(const struct webd_blueprint *b, void (*cb)(const char *line, void *userdata),
                          void *userdata);
/* The hex BLAKE2b-128 of a spec, to tell whether a running server's spec is the current one. */
void webd_spec_hash(const char *spec, char out[WEBD_SPEC_HASH_HEX]);
/* The name on the host of a web.db server (its instance) or overlay: "web-<id>", a form jobd
 * and hostd reserve for webd's jobs, so nothing made with l4d2ctl collides with or changes
 * one made here. */
void webd_host_name(int64_t id, char *buf, size_t len);
/* The id of such a name, or 0. */
int64_t webd_host_id(const char *name);
