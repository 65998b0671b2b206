/* Targets of logs.read / logs.follow, and the exact journal matches each one means.
 *
 * A caller never supplies a journal match: it names a target, which is validated here
 * and turned into a fixed set of matches on trusted (underscore) fields, so a caller can
 * read the logs of our units and nothing else:
 *
 *   {kind: "server",  name: "<instance>"}  left4me-server@<instance>.service
 *   {kind: "build",   unit: "left4me-build-<id>-<n>.service"}
 *   {kind: "service", name: "host"|"jobs"|"logs"|"web"}  left4me-<name>.service
 *   {kind: "job",     id: <job id>}  the units jobd recorded for the job (left4me-server@…,
 *                     left4me-build-…), within the job's time window; the caller names only
 *                     the id, the units come from jobd and are validated like the above
 *
 * For unit U (and optionally invocation I) the matches are
 *   (_SYSTEMD_UNIT=U [_SYSTEMD_INVOCATION_ID=I])  OR  (_PID=1 UNIT=U [INVOCATION_ID=I])
 * i.e. what the unit's processes logged, plus what systemd (PID 1, a trusted field)
 * logged about the unit ("Started ...", "Main process exited, status=..."). A build unit
 * (and a job's build units) also gets
 *   OR  (_SYSTEMD_UNIT=left4me-host.service _UID=0 LEFT4ME_BUILD_UNIT=U)
 * the script's output lines, which hostd reads from the unit's pipes and writes to the journal
 * itself (svc-host/hostd-build.c). LEFT4ME_BUILD_UNIT= is an ordinary field anyone can write;
 * it is believed only together with the trusted _SYSTEMD_UNIT (hostd's cgroup: a build writing
 * to the journal from its own unit has its own) and _UID=0 (hostd; steamcmd, its only other
 * process, runs as left4me). These lines carry no invocation id (they are not hostd's run, and
 * hostd does not know the build's), so an invocation restricts only the other two groups: a
 * build unit's name is never reused. This module is pure: it does no I/O, so it is unit-tested
 * in full. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto/names.h"
#include "proto/rpc.h"

enum logd_kind {
        LOGD_KIND_SERVER,
        LOGD_KIND_BUILD,
        LOGD_KIND_SERVICE,
        LOGD_KIND_JOB,
        _LOGD_KIND_MAX,
};

/* Which runs of the unit: the current one (servers' default), all, or one given id. */
enum logd_inv {
        LOGD_INV_CURRENT,
        LOGD_INV_ALL,
        LOGD_INV_ID,
        _LOGD_INV_MAX,
};

#define LOGD_ID128_LEN 32 /* an invocation id: 32 lower-case hex digits */

#define LOGD_JOB_UNITS_MAX 16 /* as jobd's JOB_UNITS_MAX */

/* Where hostd's build output lines come from (see above). */
#define LOGD_HOST_UNIT        "left4me-host.service"
#define LOGD_BUILD_UNIT_FIELD "LEFT4ME_BUILD_UNIT"

/* A job's entries are those of its units from its start to its end plus this margin (systemd's
 * messages about a unit's end and the last buffered output arrive just after the job ends). */
#define LOGD_JOB_MARGIN_USEC (2ULL * 1000000ULL)

struct logd_target {
        enum logd_kind kind;
        char unit[UNIT_NAME_MAX]; /* server, build, service; for a job its first unit or "" */
        /* kind job: */
        int64_t job_id;
        size_t n_units;
        char units[LOGD_JOB_UNITS_MAX][UNIT_NAME_MAX];
        uint64_t window_start; /* realtime µs; 0: the job has not started (no entries) */
        uint64_t window_end;   /* realtime µs; 0: still running (open end) */
};

/* 32 hex digits (either case accepted; the stored form is lower case). */
bool logd_id128_is_valid(const char *s);

const char *logd_kind_to_string(enum logd_kind k);

/* Validates a target given as its parts (kind, and name or unit: exactly one of them,
 * as the kind requires). Fills ret, or e (naming the field: "target.name: ...") and
 * returns -EINVAL. */
int logd_target_from_parts(const char *kind, const char *name, const char *unit, struct logd_target *ret,
                           struct rpc_error *e);
/* The same with the job id field too (id < 0: not given). A job target leaves its units empty:
 * logd_target_set_job() fills them from jobd's answer. */
int logd_target_parse(const char *kind, const char *name, const char *unit, int64_t id,
                      struct logd_target *ret, struct rpc_error *e);

/* What jobd said about a job (jobs.get): */
struct logd_job_info {
        const char *state;        /* "queued", "running", ... */
        const char *const *units; /* n_units names, not NUL-terminated: units_len[i] bytes each */
        const size_t *units_len;
        size_t n_units;
        uint64_t started_usec, finished_usec; /* 0: not yet */
};
/* Sets t's units (each must be a server or build unit name as logd accepts them; anything
 * else is refused with RPC_INTERNAL naming the job, nothing is set) and its window. Units only
 * ever grow while a job runs: units t has that info lacks are kept. Returns 1 if t's units or
 * window changed, 0 if not, < 0 on error. */
int logd_target_set_job(struct logd_target *t, const struct logd_job_info *info, struct rpc_error *e);
bool logd_job_state_is_final(const char *state);

/* Parses the invocation argument: NULL means the default for the kind (current for
 * servers, all for builds and services); else "current", "all", or a 32-hex-digit id
 * (written lower case into ret_id). */
int logd_inv_parse(const struct logd_target *t, const char *s, enum logd_inv *ret_mode,
                   char ret_id[LOGD_ID128_LEN + 1], struct rpc_error *e);

/* The match terms for unit t and invocation id (NULL or "" = any run). A term "" stands
 * for a disjunction (sd_journal_add_disjunction). A job's units U1..Un give
 *   (_SYSTEMD_UNIT=U1 OR ... _SYSTEMD_UNIT=Un)  OR  (_PID=1 (UNIT=U1 OR ... UNIT=Un))
 * (sd-journal ORs matches on the same field), and if build units B1..Bk are among them
 *   OR  (_SYSTEMD_UNIT=left4me-host.service _UID=0 (LEFT4ME_BUILD_UNIT=B1 OR ... Bk)).
 * A job without units gives no terms: the caller must not read the journal then (no matches
 * would mean every entry). */
#define LOGD_MATCH_TERMS_MAX (3 * LOGD_JOB_UNITS_MAX + 6)
#define LOGD_MATCH_TERM_MAX  (UNIT_NAME_MAX + 32)
struct logd_matches {
        size_t n;
        char term[LOGD_MATCH_TERMS_MAX][LOGD_MATCH_TERM_MAX];
};
void logd_target_matches(const struct logd_target *t, const char *invocation_id, struct logd_matches *ret);
