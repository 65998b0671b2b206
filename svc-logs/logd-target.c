/* Target validation and the journal matches of a target: see logd-target.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "svc-logs/logd-target.h"

static const char *const kind_names[_LOGD_KIND_MAX] = {
        [LOGD_KIND_SERVER] = "server",
        [LOGD_KIND_BUILD] = "build",
        [LOGD_KIND_SERVICE] = "service",
        [LOGD_KIND_JOB] = "job",
};

/* Our own services whose logs anyone in group left4me may read. */
static const char *const service_names[] = {"host", "jobs", "logs", "web"};

const char *logd_kind_to_string(enum logd_kind k) {
        return k >= 0 && k < _LOGD_KIND_MAX ? kind_names[k] : NULL;
}

bool logd_id128_is_valid(const char *s) {
        if (!s || strlen(s) != LOGD_ID128_LEN)
                return false;
        for (size_t i = 0; i < LOGD_ID128_LEN; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

int logd_target_from_parts(const char *kind, const char *name, const char *unit, struct logd_target *ret,
                           struct rpc_error *e) {
        return logd_target_parse(kind, name, unit, -1, ret, e);
}

int logd_target_parse(const char *kind, const char *name, const char *unit, int64_t id,
                      struct logd_target *ret, struct rpc_error *e) {
        struct logd_target t = {};
        int n;

        if (!kind)
                return rpc_error_set(e, RPC_INVALID,
                                     "target.kind: required (server, build, service or job)");
        if (id >= 0 && (streq(kind, "server") || streq(kind, "build") || streq(kind, "service")))
                return rpc_error_set(e, RPC_INVALID, "target.id: only for kind job");
        if (streq(kind, "job")) {
                t.kind = LOGD_KIND_JOB;
                if (name || unit)
                        return rpc_error_set(e, RPC_INVALID, "target.%s: not allowed for kind job (use id)",
                                             name ? "name" : "unit");
                if (id < 0)
                        return rpc_error_set(e, RPC_INVALID, "target.id: required for kind job");
                if (id == 0)
                        return rpc_error_set(e, RPC_INVALID, "target.id: must be a job id (1 or more)");
                t.job_id = id;
                *ret = t;
                return 0;
        }
        if (streq(kind, "server")) {
                t.kind = LOGD_KIND_SERVER;
                if (unit)
                        return rpc_error_set(e, RPC_INVALID,
                                             "target.unit: not allowed for kind server (use name)");
                if (!name)
                        return rpc_error_set(e, RPC_INVALID, "target.name: required for kind server");
                if (!name_is_valid(name))
                        return rpc_error_set(e, RPC_INVALID, "target.name: " NAME_MUST_MATCH);
                n = server_unit_name(name, t.unit, sizeof t.unit) < 0 ? -1 : 0;
        } else if (streq(kind, "build")) {
                t.kind = LOGD_KIND_BUILD;
                if (name)
                        return rpc_error_set(e, RPC_INVALID,
                                             "target.name: not allowed for kind build (use unit)");
                if (!unit)
                        return rpc_error_set(e, RPC_INVALID, "target.unit: required for kind build");
                if (!build_unit_is_valid(unit, strlen(unit)))
                        return rpc_error_set(e, RPC_INVALID,
                                             "target.unit: must be " BUILD_UNIT_PREFIX
                                             "<overlay>-<n>" UNIT_SUFFIX);
                n = snprintf(t.unit, sizeof t.unit, "%s", unit);
        } else if (streq(kind, "service")) {
                t.kind = LOGD_KIND_SERVICE;
                if (unit)
                        return rpc_error_set(e, RPC_INVALID,
                                             "target.unit: not allowed for kind service (use name)");
                if (!name)
                        return rpc_error_set(e, RPC_INVALID, "target.name: required for kind service");
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(service_names); i++)
                        ok = ok || streq(name, service_names[i]);
                if (!ok)
                        return rpc_error_set(e, RPC_INVALID, "target.name: must be host, jobs, logs or web");
                n = snprintf(t.unit, sizeof t.unit, "left4me-%s.service", name);
        } else
                return rpc_error_set(e, RPC_INVALID, "target.kind: must be server, build, service or job");

        if (n < 0 || (size_t) n >= sizeof t.unit)
                return rpc_error_set(e, RPC_INVALID, "target: unit name too long");
        *ret = t;
        return 0;
}

bool logd_job_state_is_final(const char *state) {
        return state && (streq(state, "succeeded") || streq(state, "failed") || streq(state, "cancelled"));
}

int logd_target_set_job(struct logd_target *t, const struct logd_job_info *info, struct rpc_error *e) {
        char units[LOGD_JOB_UNITS_MAX][UNIT_NAME_MAX];
        size_t n = t->n_units;
        uint64_t start = 0, end = 0;
        bool changed;

        memcpy(units, t->units, sizeof units);
        for (size_t i = 0; i < info->n_units; i++) {
                const char *u = info->units[i];
                size_t len = info->units_len[i];
                bool have = false;

                if (!server_unit_is_valid(u, len) && !build_unit_is_valid(u, len))
                        return rpc_error_set(e, RPC_INTERNAL,
                                             "job %lld: the job service named an invalid unit",
                                             (long long) t->job_id);
                for (size_t k = 0; k < n && !have; k++)
                        have = strlen(units[k]) == len && memcmp(units[k], u, len) == 0;
                if (have)
                        continue;
                if (n >= LOGD_JOB_UNITS_MAX)
                        return rpc_error_set(e, RPC_INTERNAL, "job %lld: more than %d units",
                                             (long long) t->job_id, LOGD_JOB_UNITS_MAX);
                memcpy(units[n], u, len);
                units[n][len] = '\0';
                n++;
        }
        if (info->started_usec > 0) {
                start = info->started_usec;
                if (logd_job_state_is_final(info->state))
                        end = MAX(info->finished_usec, start) + LOGD_JOB_MARGIN_USEC;
        }
        changed = n != t->n_units || start != t->window_start || end != t->window_end;
        memcpy(t->units, units, sizeof units);
        t->n_units = n;
        t->window_start = start;
        t->window_end = end;
        snprintf(t->unit, sizeof t->unit, "%s", n > 0 ? t->units[0] : "");
        return changed;
}

int logd_inv_parse(const struct logd_target *t, const char *s, enum logd_inv *ret_mode,
                   char ret_id[LOGD_ID128_LEN + 1], struct rpc_error *e) {
        ret_id[0] = '\0';
        if (t->kind == LOGD_KIND_JOB) {
                /* A job's window spans whatever runs its units had. */
                if (s && !streq(s, "all"))
                        return rpc_error_set(e, RPC_INVALID,
                                             "invocation: only \"all\" for kind job (its time window "
                                             "selects the runs)");
                *ret_mode = LOGD_INV_ALL;
                return 0;
        }
        if (!s) {
                *ret_mode = t->kind == LOGD_KIND_SERVER ? LOGD_INV_CURRENT : LOGD_INV_ALL;
                return 0;
        }
        if (streq(s, "current")) {
                *ret_mode = LOGD_INV_CURRENT;
                return 0;
        }
        if (streq(s, "all")) {
                *ret_mode = LOGD_INV_ALL;
                return 0;
        }
        if (!logd_id128_is_valid(s))
                return rpc_error_set(
                        e, RPC_INVALID,
                        "invocation: must be \"current\", \"all\" or a 32-hex-digit invocation id");
        for (size_t i = 0; i < LOGD_ID128_LEN; i++)
                ret_id[i] = (char) tolower((unsigned char) s[i]);
        ret_id[LOGD_ID128_LEN] = '\0';
        *ret_mode = LOGD_INV_ID;
        return 0;
}

static void add_term(struct logd_matches *m, const char *field, const char *value) {
        /* Callers pass validated units and ids, so the sizes always fit. */
        if (m->n >= LOGD_MATCH_TERMS_MAX)
                return;
        if (field)
                (void) snprintf(m->term[m->n], LOGD_MATCH_TERM_MAX, "%s=%s", field, value);
        else
                m->term[m->n][0] = '\0';
        m->n++;
}

/* hostd's lines of the build units among units[]: nothing if there is none. */
static void add_build_output_terms(struct logd_matches *m, const char (*units)[UNIT_NAME_MAX], size_t n) {
        bool any = false;

        for (size_t i = 0; i < n; i++) {
                if (!build_unit_is_valid(units[i], strlen(units[i])))
                        continue;
                if (!any) {
                        add_term(m, NULL, NULL);
                        add_term(m, "_SYSTEMD_UNIT", LOGD_HOST_UNIT);
                        add_term(m, "_UID", "0");
                        any = true;
                }
                add_term(m, LOGD_BUILD_UNIT_FIELD, units[i]);
        }
}

void logd_target_matches(const struct logd_target *t, const char *invocation_id, struct logd_matches *ret) {
        bool inv = !isempty(invocation_id);

        *ret = (struct logd_matches){};
        if (t->kind == LOGD_KIND_JOB) {
                if (t->n_units == 0)
                        return;
                for (size_t i = 0; i < t->n_units; i++)
                        add_term(ret, "_SYSTEMD_UNIT", t->units[i]);
                add_term(ret, NULL, NULL);
                add_term(ret, "_PID", "1");
                for (size_t i = 0; i < t->n_units; i++)
                        add_term(ret, "UNIT", t->units[i]);
                add_build_output_terms(ret, t->units, t->n_units);
                return;
        }
        add_term(ret, "_SYSTEMD_UNIT", t->unit);
        if (inv)
                add_term(ret, "_SYSTEMD_INVOCATION_ID", invocation_id);
        add_term(ret, NULL, NULL);
        add_term(ret, "_PID", "1");
        add_term(ret, "UNIT", t->unit);
        if (inv)
                add_term(ret, "INVOCATION_ID", invocation_id);
        if (t->kind == LOGD_KIND_BUILD)
                add_build_output_terms(ret, &t->unit, 1);
}
