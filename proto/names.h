/* The names every daemon and l4d2ctl agree on: the grammar of instance, overlay and
 * blueprint names, the systemd units made from them, and the words an error uses to say a
 * name is wrong. One definition, so a name one program accepts is one every other accepts.
 * Pure; no allocation, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Instance, overlay and blueprint names: [a-z0-9][a-z0-9_-]{0,63}. Only lower-case ASCII,
 * so a name is a valid path component, systemd unit instance and journal match as it is. */
#define NAME_LEN_MAX 64u
#define NAME_PATTERN "[a-z0-9][a-z0-9_-]{0,63}"
/* The error wording after "<field>: ". */
#define NAME_MUST_MATCH "must match " NAME_PATTERN

bool name_is_valid(const char *s);
/* The same on the first n bytes of s (no NUL needed). */
bool name_is_valid_n(const char *s, size_t n);

/* Users and groups (docs/architecture.md, "Users, groups and paths"); units/left4me.sysusers
 * creates them and tests/lint.sh checks that it names these. hostd runs as root. */
#define L4M_GROUP_OPERATORS "left4me"       /* people who use l4d2ctl; gates the sockets */
#define L4M_USER_JOBD       "left4me-jobs"  /* jobd */
#define L4M_USER_LOGD       "left4me-logs"  /* logd */
#define L4M_USER_WEBD       "left4me-web"   /* webd */
#define L4M_USER_STEAM      "left4me-steam" /* steamcmd; owns the game install */
#define L4M_USER_GAME       "left4me-game"  /* the game servers */
#define L4M_USER_BUILD      "left4me-build" /* owns published overlays; runs nothing */

/* Each running build has a kernel uid of its own, leased by hostd from a fixed pool:
 * left4me-build-0 .. left4me-build-15 (units/left4me.sysusers creates exactly these; lint
 * checks). With one shared uid, ProtectProc=invisible hid nothing between two builds: one
 * could see, signal and enter the other through /proc/PID/root. The pool's size is the most
 * builds that run at once. */
#define L4M_BUILD_USER_PREFIX "left4me-build-"
#define L4M_BUILD_USERS       16u

/* Each game server runs as a user of its own, systemd's dynamic user l4m-<name>
 * (DynamicUser= in left4me-server@.service), so servers cannot signal, trace or read each
 * other. systemd takes user names of at most 31 bytes, hence a server's name is at most 27. */
#define SERVER_USER_PREFIX  "l4m-"
#define SERVER_NAME_LEN_MAX 27u
#define SERVER_NAME_MUST                                                                                    \
        "a server's name is at most 27 characters (its game runs as user l4m-<name>, and user names are "   \
        "at most 31)"
/* name_is_valid() and at most SERVER_NAME_LEN_MAX bytes. */
bool server_name_is_valid(const char *s);
int server_user_name(const char *name, char *buf, size_t len);
/* The web UI's instances and overlays are named "web-<id>" (its server or overlay id,
 * decimal, no leading zero): a form only root and webd (directly or through its jobs) may
 * use, so one made with l4d2ctl never takes a web server's or overlay's name, and an
 * operator cannot change what a web user built or runs. Whether s is of that form. */
#define WEB_NAME_PREFIX "web-"
bool name_is_web(const char *s);

/* What an overlay build starts from (overlay.build's and the overlay.build job's `base`):
 * an empty generation (the default) or a copy of the current one. */
#define OVERLAY_BASE_EMPTY   "empty"
#define OVERLAY_BASE_CURRENT "current"
#define OVERLAY_BASE_MUST    "must be 'empty' or 'current'"
bool overlay_base_is_valid(const char *s);

/* Units: left4me-server@<name>.service runs an instance's game server,
 * left4me-build-<overlay>-<n>.service one build of an overlay (n: 1..9999999999, decimal,
 * no leading zero). */
#define SERVER_UNIT_PREFIX "left4me-server@"
#define BUILD_UNIT_PREFIX  "left4me-build-"
#define UNIT_SUFFIX        ".service"
#define BUILD_RUN_MAX      9999999999ULL
/* Room for any unit name above and its NUL (the longest, a build unit, is 97 bytes). */
#define UNIT_NAME_MAX 128u

/* Write the unit name into buf (len bytes). -EINVAL: name (or n) not valid; -ENAMETOOLONG:
 * buf too small. */
int server_unit_name(const char *name, char *buf, size_t len);
int build_unit_name(const char *overlay, unsigned long long n, char *buf, size_t len);

/* Whether the n bytes at s (no NUL among them) are a server's or a build's unit name. */
bool server_unit_is_valid(const char *s, size_t n);
bool build_unit_is_valid(const char *s, size_t n);
