/* The job model of jobd, free of I/O: kinds and what they may carry, states and the legal
 * transitions between them, resource keys derived from a job's payload, subject tags, and
 * the sanitizing of output lines. Everything here is pure so it can be unit-tested
 * exhaustively (tests/svc-jobs/test-jobd-job.c). */
#pragma once

#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/names.h"
#include "proto/rpc.h"

/* A line of output is stored with at most this many bytes (cut at a UTF-8 boundary). */
#define JOB_LINE_MAX 4096
/* Per-job cap on stored lines; further ones are counted and reported at the end. */
#define JOB_LINES_MAX    200000
#define JOB_OWNER_MAX    128
#define JOB_SUBJECT_MAX  (32 + 1 + NAME_LEN_MAX)
#define JOB_SUBJECTS_MAX 16
#define JOB_OVERLAYS_MAX 499          /* as hostd: the kernel stacks 500 lower layers, one is the install */
#define JOB_SPEC_MAX     (512 * 1024) /* under the 1 MiB message limit, with room for the rest */
#define JOB_SCRIPT_MAX   (256 * 1024)
#define JOB_ERROR_MAX    RPC_ERROR_MESSAGE_MAX
/* A crashed or disconnected run of an idempotent kind is retried until this many attempts. */
#define JOB_ATTEMPTS_MAX 2

enum job_state {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_CANCELLING,
        JOB_SUCCEEDED,
        JOB_FAILED,
        JOB_CANCELLED,
        _JOB_STATE_MAX,
};

const char *job_state_to_string(enum job_state s);
/* Returns the state, or -EINVAL. */
int job_state_from_string(const char *s);
bool job_state_is_terminal(enum job_state s);
static inline bool job_state_is_active(enum job_state s) {
        return !job_state_is_terminal(s);
}
/* The state machine: queued → running | cancelled; running → succeeded | failed | cancelling |
 * queued (retry after the executor or hostd died); cancelling → cancelled | succeeded | failed
 * (the host call may finish before the cancel reaches it). Terminal states are final. */
bool job_transition_ok(enum job_state from, enum job_state to);

enum job_kind {
        JOB_INSTALL,
        JOB_SERVER_START,
        JOB_SERVER_STOP,
        JOB_SERVER_RESET,
        JOB_SERVER_DELETE,
        JOB_OVERLAY_BUILD,
        JOB_OVERLAY_DELETE,
        _JOB_KIND_MAX,
};

struct job_kind_info {
        const char *name;
        bool idempotent; /* safe to run again after a run died half-way: retried once */
        bool coalesce;   /* a submit identical to a queued job returns that job */
};

const struct job_kind_info *job_kind_info(enum job_kind k);
const char *job_kind_to_string(enum job_kind k);
int job_kind_from_string(const char *s);

enum job_key_mode {
        JOB_KEY_SHARED,
        JOB_KEY_EXCLUSIVE,
};

struct job_key {
        char *name; /* "install", "server:<id>", "overlay:<id>" */
        enum job_key_mode mode;
};

void job_keys_free(struct job_key *keys, size_t n);

/* What a job carries, after validation. Which fields a kind takes:
 *   install           nothing
 *   server.start      server (required), spec (required), overlays (optional)
 *   server.stop/reset/delete  server (required), overlays (optional)
 *   overlay.build     overlay (required), script (required), base (optional: "empty", the
 *                     default, stored as absent, or "current")
 *   overlay.delete    overlay (required) */
struct job_payload {
        char *server;
        char *overlay;
        char *spec;
        char *script;
        char **overlays; /* NULL-terminated, may be NULL */
        char *base;      /* overlay.build: "current", or NULL for empty */
};

void job_payload_done(struct job_payload *p);
/* Validates a payload map (or nil for "empty") for kind k into ret. Unknown fields are refused;
 * messages name the field as "payload.<field>". */
int job_payload_parse(enum job_kind k, const msgpack_object *map, struct job_payload *ret,
                      struct rpc_error *e);
/* Packs the canonical form of p (a map; fields in a fixed order) so identical payloads pack
 * to identical bytes: the database compares them byte-wise for coalescing. */
void job_payload_pack(const struct job_payload *p, msgpack_packer *pk);
/* Packs p without its bulky text fields (spec, script), for listings. */
void job_payload_pack_brief(const struct job_payload *p, msgpack_packer *pk);
/* Reads a packed payload back (from the database), validating it again. */
int job_payload_unpack(enum job_kind k, const void *data, size_t len, struct job_payload *ret);

/* The resource keys of a job of kind k with payload p (architecture.md §2). */
int job_keys_derive(enum job_kind k, const struct job_payload *p, struct job_key **ret, size_t *ret_n);
/* Text form for storage: one "<x|s> <name>" per line. */
int job_keys_format(const struct job_key *keys, size_t n, char **ret);
int job_keys_parse(const char *s, struct job_key **ret, size_t *ret_n);

/* The subject tags implied by the payload (server:<id>, overlay:<id>) merged with the
 * caller's extra ones, deduplicated, sorted. */
int job_subjects_derive(enum job_kind k, const struct job_payload *p, char *const *extra, char ***ret);

bool job_subject_valid(const char *s);          /* <tag>:<name>, tag = [a-z][a-z0-9_-]{0,31} */
bool job_owner_valid(const char *s);            /* 1..128 bytes, UTF-8, no control characters */
bool job_stream_valid(const char *s, size_t n); /* stdout, stderr, step, info */

/* The systemd units a job ran, as hostd reports them (logd reads their journal). */
#define JOB_UNITS_MAX 16
/* left4me-server@<name>.service or left4me-build-<name>-<n>.service (n decimal, no leading 0). */
bool job_unit_valid(const char *s, size_t n);
/* Adds unit (n bytes) to the NULL-terminated list *units (may be NULL) unless it is there.
 * Returns 1 if added, 0 if already there, -EINVAL for a name job_unit_valid() refuses, -E2BIG
 * when the list is full, -ENOMEM. */
int job_units_add(char ***units, const char *unit, size_t n);

/* Makes a storable line out of n bytes: invalid UTF-8 becomes U+FFFD, control characters
 * other than tab become U+FFFD too, a trailing CR/LF is dropped, and the result is cut at a
 * character boundary to at most JOB_LINE_MAX bytes. out must hold JOB_LINE_MAX + 1 bytes.
 * Returns the output length; *ret_truncated says whether anything was cut. */
size_t job_line_sanitize(const char *in, size_t n, char *out, bool *ret_truncated);
/* A line of jobd's own: printf into buf (size bytes). Returns its length, cut to what fits, or
 * < 0 on a format error. */
int job_line_vformat(char *buf, size_t size, const char *fmt, va_list ap) _printf_(3, 0);
