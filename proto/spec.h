/* Instance specs (spec.yaml) and the files rendered from them.
 *
 * Everything here is pure: no file system, no logging, so any daemon can link it (hostd
 * writes instances from it; jobd can read the overlays a spec stacks to derive resource
 * keys). It parses the YAML text a caller sent, validates every field (naming the field in
 * the error), and renders instance.env and server.cfg from the result; the file system
 * checks (does an overlay exist, does it stay inside overlays/ after symlinks) are
 * svc-host/hostd-instance.c's.
 *
 *   port: 27015                 required; inside the configured port range
 *   overlays:                   optional; first = top layer (highest precedence)
 *     - standard                a ref: a relative path below <root>/overlays
 *     - {path: "12", alias: overlay_12}   also copies its cfg/server.cfg to server_<alias>.cfg
 *   arguments: [+map, c1m1_hotel]         optional; extra srcds arguments (L4D2_ARGS)
 *   config: ["sv_cheats 0"]    optional; the lines of the generated server.cfg
 *
 * Unknown keys are ignored (their values may be anything); YAML aliases and anchors are
 * refused (they only serve to amplify). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto/names.h"
#include "proto/rpc.h"

#define SPEC_MAX_BYTES (1024u * 1024u)
/* overlayfs stacks at most 500 lower layers (OVL_MAX_STACK); the installation is one. */
#define SPEC_MAX_LAYERS    500u
#define SPEC_MAX_OVERLAYS  (SPEC_MAX_LAYERS - 1u)
#define SPEC_MAX_REF_LEN   255u
#define SPEC_MAX_ALIAS_LEN 64u
#define SPEC_MAX_ARGUMENTS 64u
#define SPEC_MAX_ARG_LEN   256u
#define SPEC_MAX_CONFIG    4096u
#define SPEC_MAX_LINE_LEN  4096u

struct overlay_ref {
        char *path;  /* relative to <root>/overlays, validated by spec_ref_is_valid() */
        char *alias; /* NULL, or [A-Za-z0-9_-]{1,64} */
};

struct instance_spec {
        unsigned port;
        struct overlay_ref *overlays;
        size_t n_overlays;
        char **arguments; /* NULL-terminated, never NULL after a successful parse */
        char **config;    /* NULL-terminated, never NULL after a successful parse */
};

void instance_spec_done(struct instance_spec *s);

/* An overlay ref: relative, 1..255 bytes, '/'-separated components of [A-Za-z0-9._-] that
 * are neither empty, "." nor ".." (so no absolute path, no "..", no "//", no trailing '/',
 * and nothing that would need escaping in an overlayfs option string). */
bool spec_ref_is_valid(const char *ref);
bool spec_alias_is_valid(const char *alias);
/* A srcds argument: 1..256 bytes of valid UTF-8 without whitespace, control characters or
 * any of " ' \ $ ` (they would be interpreted by systemd's EnvironmentFile= and $VAR
 * splitting). */
bool spec_argument_is_valid(const char *arg);
/* A server.cfg line: valid UTF-8, at most 4096 bytes, no control characters (< 0x20, 0x7f). */
bool spec_config_line_is_valid(const char *line);

/* Parses and validates spec text (at most SPEC_MAX_BYTES). The port must lie in
 * [port_min, port_max]. On failure fills e (code RPC_INVALID, message naming the field,
 * e.g. "overlays[3].path: must be relative") and returns -EINVAL; *ret is written only on
 * success. */
/* The option arg would override (srcds takes the last of repeated options), such as
 * "+hostport", or NULL: what hostd alone decides may not appear in arguments. */
const char *spec_argument_reserved(const char *arg);
int spec_parse(const char *text, size_t len, unsigned port_min, unsigned port_max, struct instance_spec *ret,
               struct rpc_error *e);

/* The overlayfs lower dirs of a spec, top first: <root>/overlays/<ref> for each overlay in
 * order, then <root>/installation. Returns a NULL-terminated malloc'd array. */
int spec_lowerdirs(const struct instance_spec *s, const char *root, char ***ret);

/* instance.env: L4D2_PORT, L4D2_ARGS (the arguments joined by spaces) and L4D2_LOWERDIRS
 * (the lower dirs joined by ':'), for the unit's EnvironmentFile=. */
int spec_render_env(const struct instance_spec *s, const char *root, char **ret);
/* server.cfg: the config lines, each ended by "\n"; empty when there are none. */
int spec_render_server_cfg(const struct instance_spec *s, char **ret);

/* Whether root can be written into instance.env and an overlayfs option string unquoted:
 * absolute, no whitespace, control characters, ':', ',', quotes, '\', '$' or '`'. */
bool spec_root_is_valid(const char *root);

/* Parses the L4D2_LOWERDIRS value of an instance.env (the text of the whole file) into a
 * NULL-terminated array of paths. Errors: -ENOENT (no such line), -EINVAL (empty value or an
 * empty entry), -E2BIG (more than SPEC_MAX_LAYERS entries). */
int env_parse_lowerdirs(const char *text, size_t len, char ***ret);
/* Reads L4D2_PORT from an instance.env text; -ENOENT if absent, -EINVAL if malformed. */
int env_parse_port(const char *text, size_t len, unsigned *ret);
