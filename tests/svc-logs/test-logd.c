/* Unit tests of logd's pure parts (target validation and matches, entry encoding) and of
 * the sd-journal cursor behaviour the follower logic relies on (on a journal file written
 * by systemd-journal-remote, when that is installed). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>

#include "proto/args.h"
#include "proto/rpc.h"
#include "proto/utf8.h"
#include "svc-logs/logd-entry.h"
#include "svc-logs/logd-target.h"

/* ---- targets ----------------------------------------------------------------------------- */

Test(target, server_ok) {
        struct logd_target t;
        struct rpc_error e;
        cr_assert_eq(logd_target_from_parts("server", "42", NULL, &t, &e), 0);
        cr_assert_str_eq(t.unit, "left4me-server@42.service");
        cr_assert_eq(t.kind, LOGD_KIND_SERVER);
        cr_assert_eq(logd_target_from_parts("server", "a_b-c9", NULL, &t, &e), 0);
        cr_assert_str_eq(t.unit, "left4me-server@a_b-c9.service");
        char n64[65];
        memset(n64, 'a', 64);
        n64[64] = 0;
        cr_assert_eq(logd_target_from_parts("server", n64, NULL, &t, &e), 0);
}

Test(target, hostile_server_names) {
        static const char *bad[] = {
                "",
                "-x",
                "_x",
                "A",
                "a/b",
                "..",
                "a.b",
                "a b",
                "a\nb",
                "a*",
                "a@b",
                "x.service",
                "a=b",
                "a;b",
                "UNIT=x",
                "a\\x2d",
                "é",
                "a\tb",
                "a+b",
                "a,b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
        };
        struct logd_target t;
        struct rpc_error e;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                cr_assert_eq(logd_target_from_parts("server", bad[i], NULL, &t, &e), -EINVAL,
                             "accepted '%s'", bad[i]);
                cr_assert_eq(e.code, RPC_INVALID);
                cr_assert(strstr(e.message, "target.name") != NULL, "%s", e.message);
        }
}

Test(target, kinds_and_fields) {
        struct logd_target t;
        struct rpc_error e;
        cr_assert_eq(logd_target_from_parts(NULL, "1", NULL, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.kind"));
        cr_assert_eq(logd_target_from_parts("unit", "1", NULL, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.kind"));
        cr_assert_eq(logd_target_from_parts("server", NULL, NULL, &t, &e), -EINVAL);
        cr_assert_eq(logd_target_from_parts("server", "1", "left4me-server@1.service", &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.unit"));

        cr_assert_eq(logd_target_from_parts("service", "jobs", NULL, &t, &e), 0);
        cr_assert_str_eq(t.unit, "left4me-jobs.service");
        cr_assert_eq(logd_target_from_parts("service", "logs", NULL, &t, &e), 0);
        cr_assert_eq(logd_target_from_parts("service", "web", NULL, &t, &e), 0);
        cr_assert_eq(logd_target_from_parts("service", "host", NULL, &t, &e), 0);
        cr_assert_eq(logd_target_from_parts("service", "sshd", NULL, &t, &e), -EINVAL);
        cr_assert_eq(logd_target_from_parts("service", "server@1", NULL, &t, &e), -EINVAL);
        cr_assert_eq(logd_target_from_parts("service", NULL, "left4me-jobs.service", &t, &e), -EINVAL);
}

Test(target, build_units) {
        static const char *good[] = {
                "left4me-build-7-1.service",
                "left4me-build-my-overlay-12.service",
                "left4me-build-a_b-4294967295.service",
                "left4me-build-x-0.service",
        };
        static const char *bad[] = {
                "left4me-build-7.service",
                "left4me-build--1.service",
                "left4me-build-7-01.service",
                "left4me-build-7-1.socket",
                "left4me-build-7-1.service ",
                "left4me-build-7-1x.service",
                "left4me-server@1.service",
                "sshd.service",
                "left4me-build-A-1.service",
                "left4me-build-7-12345678901.service",
                "left4me-build-7-.service",
                "left4me-build-.-1.service",
                "xleft4me-build-7-1.service",
                "left4me-build-7-1.service/..",
                "",
        };
        struct logd_target t;
        struct rpc_error e;
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                cr_assert_eq(logd_target_from_parts("build", NULL, good[i], &t, &e), 0, "refused '%s'",
                             good[i]);
                cr_assert_str_eq(t.unit, good[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(logd_target_from_parts("build", NULL, bad[i], &t, &e), -EINVAL, "accepted '%s'",
                             bad[i]);
        cr_assert_eq(logd_target_from_parts("build", "7", NULL, &t, &e), -EINVAL);
}

Test(target, invocation_argument) {
        struct logd_target srv, svc;
        struct rpc_error e;
        enum logd_inv m;
        char id[LOGD_ID128_LEN + 1];

        cr_assert_eq(logd_target_from_parts("server", "1", NULL, &srv, &e), 0);
        cr_assert_eq(logd_target_from_parts("service", "jobs", NULL, &svc, &e), 0);
        cr_assert_eq(logd_inv_parse(&srv, NULL, &m, id, &e), 0);
        cr_assert_eq(m, LOGD_INV_CURRENT);
        cr_assert_eq(logd_inv_parse(&svc, NULL, &m, id, &e), 0);
        cr_assert_eq(m, LOGD_INV_ALL);
        cr_assert_eq(logd_inv_parse(&srv, "all", &m, id, &e), 0);
        cr_assert_eq(m, LOGD_INV_ALL);
        cr_assert_eq(logd_inv_parse(&svc, "current", &m, id, &e), 0);
        cr_assert_eq(m, LOGD_INV_CURRENT);
        cr_assert_eq(logd_inv_parse(&srv, "0123456789ABCDEF0123456789abcdef", &m, id, &e), 0);
        cr_assert_eq(m, LOGD_INV_ID);
        cr_assert_str_eq(id, "0123456789abcdef0123456789abcdef");
        cr_assert_eq(logd_inv_parse(&srv, "0123456789abcdef0123456789abcde", &m, id, &e), -EINVAL);
        cr_assert_eq(logd_inv_parse(&srv, "0123456789abcdef0123456789abcdeg", &m, id, &e), -EINVAL);
        cr_assert_eq(logd_inv_parse(&srv, "x=1", &m, id, &e), -EINVAL);
        cr_assert(strstr(e.message, "invocation"));
}

Test(target, matches) {
        struct logd_target t;
        struct rpc_error e;
        struct logd_matches m;

        cr_assert_eq(logd_target_from_parts("server", "9", NULL, &t, &e), 0);
        logd_target_matches(&t, NULL, &m);
        cr_assert_eq(m.n, 4);
        cr_assert_str_eq(m.term[0], "_SYSTEMD_UNIT=left4me-server@9.service");
        cr_assert_str_eq(m.term[1], "");
        cr_assert_str_eq(m.term[2], "_PID=1");
        cr_assert_str_eq(m.term[3], "UNIT=left4me-server@9.service");

        logd_target_matches(&t, "0123456789abcdef0123456789abcdef", &m);
        cr_assert_eq(m.n, 6);
        cr_assert_str_eq(m.term[1], "_SYSTEMD_INVOCATION_ID=0123456789abcdef0123456789abcdef");
        cr_assert_str_eq(m.term[2], "");
        cr_assert_str_eq(m.term[5], "INVOCATION_ID=0123456789abcdef0123456789abcdef");

        /* Services and servers never get hostd's build lines. */
        cr_assert_eq(logd_target_from_parts("service", "host", NULL, &t, &e), 0);
        logd_target_matches(&t, NULL, &m);
        cr_assert_eq(m.n, 4);

        /* A build: also hostd's lines naming it, from hostd's unit as root only. */
        cr_assert_eq(logd_target_from_parts("build", NULL, "left4me-build-ov-3.service", &t, &e), 0);
        logd_target_matches(&t, NULL, &m);
        cr_assert_eq(m.n, 8);
        cr_assert_str_eq(m.term[0], "_SYSTEMD_UNIT=left4me-build-ov-3.service");
        cr_assert_str_eq(m.term[3], "UNIT=left4me-build-ov-3.service");
        cr_assert_str_eq(m.term[4], "");
        cr_assert_str_eq(m.term[5], "_SYSTEMD_UNIT=left4me-host.service");
        cr_assert_str_eq(m.term[6], "_UID=0");
        cr_assert_str_eq(m.term[7], "LEFT4ME_BUILD_UNIT=left4me-build-ov-3.service");
        /* An invocation restricts the unit's and systemd's groups, not hostd's lines. */
        logd_target_matches(&t, "0123456789abcdef0123456789abcdef", &m);
        cr_assert_eq(m.n, 10);
        cr_assert_str_eq(m.term[1], "_SYSTEMD_INVOCATION_ID=0123456789abcdef0123456789abcdef");
        cr_assert_str_eq(m.term[5], "INVOCATION_ID=0123456789abcdef0123456789abcdef");
        cr_assert_str_eq(m.term[6], "");
        cr_assert_str_eq(m.term[7], "_SYSTEMD_UNIT=left4me-host.service");
        cr_assert_str_eq(m.term[8], "_UID=0");
        cr_assert_str_eq(m.term[9], "LEFT4ME_BUILD_UNIT=left4me-build-ov-3.service");
}

Test(target, job_parse) {
        struct logd_target t;
        struct rpc_error e;

        cr_assert_eq(logd_target_parse("job", NULL, NULL, 42, &t, &e), 0);
        cr_assert_eq(t.kind, LOGD_KIND_JOB);
        cr_assert_eq(t.job_id, 42);
        cr_assert_eq(t.n_units, 0);
        cr_assert_eq(t.window_start, 0);
        cr_assert_str_eq(logd_kind_to_string(t.kind), "job");
        cr_assert_eq(logd_target_parse("job", NULL, NULL, INT64_MAX, &t, &e), 0);

        cr_assert_eq(logd_target_parse("job", NULL, NULL, -1, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.id: required"), "%s", e.message);
        cr_assert_eq(logd_target_parse("job", NULL, NULL, 0, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.id"), "%s", e.message);
        cr_assert_eq(logd_target_parse("job", "1", NULL, 1, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.name"), "%s", e.message);
        cr_assert_eq(logd_target_parse("job", NULL, "left4me-build-a-1.service", 1, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.unit"), "%s", e.message);
        cr_assert_eq(logd_target_parse("server", "1", NULL, 1, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.id"), "%s", e.message);
        cr_assert_eq(logd_target_parse("build", NULL, "left4me-build-a-1.service", 3, &t, &e), -EINVAL);
        cr_assert_eq(logd_target_parse("Job", NULL, NULL, 1, &t, &e), -EINVAL);
        cr_assert(strstr(e.message, "target.kind"), "%s", e.message);
        /* Without an id the old entry point behaves as before, and refuses a job. */
        cr_assert_eq(logd_target_from_parts("job", NULL, NULL, &t, &e), -EINVAL);

        enum logd_inv mode;
        char id[LOGD_ID128_LEN + 1];
        cr_assert_eq(logd_target_parse("job", NULL, NULL, 1, &t, &e), 0);
        cr_assert_eq(logd_inv_parse(&t, NULL, &mode, id, &e), 0);
        cr_assert_eq(mode, LOGD_INV_ALL);
        cr_assert_eq(logd_inv_parse(&t, "all", &mode, id, &e), 0);
        cr_assert_eq(logd_inv_parse(&t, "current", &mode, id, &e), -EINVAL);
        cr_assert_eq(logd_inv_parse(&t, "0123456789abcdef0123456789abcdef", &mode, id, &e), -EINVAL);
}

static int set_job(struct logd_target *t, const char *state, const char *const *units, size_t n,
                   uint64_t start, uint64_t end, struct rpc_error *e) {
        size_t lens[LOGD_JOB_UNITS_MAX + 2];
        for (size_t i = 0; i < n; i++)
                lens[i] = strlen(units[i]);
        struct logd_job_info info = {.state = state,
                                     .units = units,
                                     .units_len = lens,
                                     .n_units = n,
                                     .started_usec = start,
                                     .finished_usec = end};
        return logd_target_set_job(t, &info, e);
}

Test(target, job_units_and_window) {
        struct logd_target t;
        struct rpc_error e;
        struct logd_matches m;
        const char *b[] = {"left4me-build-ov-5.service"};
        const char *two[] = {"left4me-server@s1.service", "left4me-build-ov-5.service"};

        cr_assert_eq(logd_target_parse("job", NULL, NULL, 7, &t, &e), 0);
        /* Queued: no units, no window; no match terms (the reader must not read then). */
        cr_assert_eq(set_job(&t, "queued", NULL, 0, 0, 0, &e), 0);
        logd_target_matches(&t, NULL, &m);
        cr_assert_eq(m.n, 0);
        /* Running with its build unit: window open at the end. */
        cr_assert_eq(set_job(&t, "running", b, 1, 1000, 0, &e), 1);
        cr_assert_eq(t.n_units, 1);
        cr_assert_str_eq(t.units[0], b[0]);
        cr_assert_str_eq(t.unit, b[0]);
        cr_assert_eq(t.window_start, 1000);
        cr_assert_eq(t.window_end, 0);
        cr_assert_eq(set_job(&t, "running", b, 1, 1000, 0, &e), 0, "nothing changed");
        /* Units only grow: a later answer without one keeps it; a second unit is added. */
        cr_assert_eq(set_job(&t, "running", two, 2, 1000, 0, &e), 1);
        cr_assert_eq(t.n_units, 2);
        cr_assert_str_eq(t.units[1], "left4me-server@s1.service");
        cr_assert_eq(set_job(&t, "running", NULL, 0, 1000, 0, &e), 0);
        cr_assert_eq(t.n_units, 2);
        /* Ended: the window closes at the end plus the margin. */
        cr_assert_eq(set_job(&t, "succeeded", two, 2, 1000, 5000, &e), 1);
        cr_assert_eq(t.window_end, 5000 + LOGD_JOB_MARGIN_USEC);
        cr_assert(logd_job_state_is_final("succeeded") && logd_job_state_is_final("failed") &&
                  logd_job_state_is_final("cancelled"));
        cr_assert(!logd_job_state_is_final("running") && !logd_job_state_is_final("cancelling") &&
                  !logd_job_state_is_final(NULL));

        logd_target_matches(&t, NULL, &m);
        cr_assert_eq(m.n, 10);
        cr_assert_str_eq(m.term[0], "_SYSTEMD_UNIT=left4me-build-ov-5.service");
        cr_assert_str_eq(m.term[1], "_SYSTEMD_UNIT=left4me-server@s1.service");
        cr_assert_str_eq(m.term[2], "");
        cr_assert_str_eq(m.term[3], "_PID=1");
        cr_assert_str_eq(m.term[4], "UNIT=left4me-build-ov-5.service");
        cr_assert_str_eq(m.term[5], "UNIT=left4me-server@s1.service");
        /* hostd's lines for the build unit only (a server's output is its own). */
        cr_assert_str_eq(m.term[6], "");
        cr_assert_str_eq(m.term[7], "_SYSTEMD_UNIT=left4me-host.service");
        cr_assert_str_eq(m.term[8], "_UID=0");
        cr_assert_str_eq(m.term[9], "LEFT4ME_BUILD_UNIT=left4me-build-ov-5.service");
        /* A server job has no hostd group. */
        {
                struct logd_target s1;
                const char *srv[] = {"left4me-server@s1.service"};
                cr_assert_eq(logd_target_parse("job", NULL, NULL, 6, &s1, &e), 0);
                cr_assert_eq(set_job(&s1, "running", srv, 1, 1000, 0, &e), 1);
                logd_target_matches(&s1, NULL, &m);
                cr_assert_eq(m.n, 4);
        }

        /* Whatever jobd says, only our server and build units become matches. */
        static const char *const bad[] = {
                "sshd.service",
                "left4me-web.service",
                "left4me-server@.service",
                "left4me-server@A.service",
                "left4me-server@a.service\n_PID=1",
                "left4me-server@a.service _PID=1",
                "_SYSTEMD_UNIT=x",
                "left4me-build-ov-01.service",
                "left4me-build-ov.service",
                "left4me-server@../x.service",
                "",
                "left4me-server@a.socket",
                "init.scope",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct logd_target u;
                cr_assert_eq(logd_target_parse("job", NULL, NULL, 8, &u, &e), 0);
                cr_assert_lt(set_job(&u, "running", &bad[i], 1, 1, 0, &e), 0, "accepted '%s'", bad[i]);
                cr_assert_eq(e.code, RPC_INTERNAL);
                cr_assert_eq(u.n_units, 0, "'%s' left a unit behind", bad[i]);
        }
        /* A NUL inside a unit name (lengths are explicit) is refused too. */
        {
                struct logd_target u;
                const char *nul[] = {"left4me-server@a\0.service"};
                size_t len = 25;
                struct logd_job_info info = {.state = "running",
                                             .units = nul,
                                             .units_len = &len,
                                             .n_units = 1,
                                             .started_usec = 1};
                cr_assert_eq(logd_target_parse("job", NULL, NULL, 8, &u, &e), 0);
                cr_assert_lt(logd_target_set_job(&u, &info, &e), 0);
        }
        /* At most LOGD_JOB_UNITS_MAX units. */
        {
                struct logd_target u;
                char names[LOGD_JOB_UNITS_MAX + 1][64];
                const char *p[LOGD_JOB_UNITS_MAX + 1];
                for (int i = 0; i <= LOGD_JOB_UNITS_MAX; i++) {
                        snprintf(names[i], sizeof names[i], "left4me-build-o-%d.service", i + 1);
                        p[i] = names[i];
                }
                cr_assert_eq(logd_target_parse("job", NULL, NULL, 9, &u, &e), 0);
                cr_assert_eq(set_job(&u, "running", p, LOGD_JOB_UNITS_MAX, 1, 0, &e), 1);
                logd_target_matches(&u, NULL, &m);
                cr_assert_eq(m.n, 3 * LOGD_JOB_UNITS_MAX + 5);
                cr_assert_leq(m.n, LOGD_MATCH_TERMS_MAX);
                cr_assert_str_eq(m.term[m.n - 1], "LEFT4ME_BUILD_UNIT=left4me-build-o-16.service");
                cr_assert_lt(set_job(&u, "running", p, LOGD_JOB_UNITS_MAX + 1, 1, 0, &e), 0);
                cr_assert_eq(u.n_units, LOGD_JOB_UNITS_MAX);
        }
}

/* ---- UTF-8 sanitizing ------------------------------------------------------------------- */

static size_t san(const char *in, size_t n, char *out, size_t max, bool *trunc) {
        return utf8_sanitize(in, n, out, max, trunc);
}

Test(entry, utf8_valid_passes_through) {
        const char s[] = "plain ascii, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80, tab\tand NUL\0end";
        char out[128];
        bool t;
        size_t n = san(s, sizeof s - 1, out, sizeof out, &t);
        cr_assert_eq(n, sizeof s - 1);
        cr_assert_eq(memcmp(out, s, n), 0);
        cr_assert_not(t);
        cr_assert(utf8_is_valid(out, n));
}

Test(entry, utf8_invalid_replaced) {
        static const struct {
                const char *in;
                size_t n;
                const char *want;
        } cases[] = {
                {"a\xff"
                 "b",
                 3,
                 "a\xef\xbf\xbd"
                 "b"},
                {"\x80", 1, "\xef\xbf\xbd"},                                 /* lone continuation */
                {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
                {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
                {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
                {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > 10FFFF */
                {"\xc3", 1, "\xef\xbf\xbd"}, /* truncated sequence */
                {"x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd"},
        };
        char out[64];
        bool t;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n = san(cases[i].in, cases[i].n, out, sizeof out, &t);
                cr_assert_eq(n, strlen(cases[i].want), "case %zu: %zu bytes", i, n);
                cr_assert_eq(memcmp(out, cases[i].want, n), 0, "case %zu", i);
                cr_assert(utf8_is_valid(out, n));
                cr_assert_not(t);
        }
}

Test(entry, utf8_all_bytes_always_valid) {
        /* Every byte value in every position: the output is always valid UTF-8. */
        char in[4], out[16];
        bool t;
        for (unsigned a = 0; a < 256; a++)
                for (unsigned b = 0; b < 256; b += 3) {
                        in[0] = (char) a, in[1] = (char) b, in[2] = (char) (a ^ b), in[3] = (char) 0x80;
                        size_t n = san(in, 4, out, sizeof out, &t);
                        cr_assert(utf8_is_valid(out, n));
                }
}

Test(entry, truncation_at_character_boundary) {
        char in[LOGD_MESSAGE_MAX + 100], out[LOGD_MESSAGE_MAX];
        bool t;
        /* 3-byte characters do not divide 16384: the cut must not split one. */
        for (size_t i = 0; i + 3 <= sizeof in; i += 3)
                memcpy(in + i, "\xe2\x82\xac", 3);
        size_t n = san(in, sizeof in - (sizeof in % 3), out, LOGD_MESSAGE_MAX, &t);
        cr_assert(t);
        cr_assert_eq(n, LOGD_MESSAGE_MAX - LOGD_MESSAGE_MAX % 3);
        cr_assert(utf8_is_valid(out, n));

        /* Replacement characters count at their 3 bytes. */
        memset(in, 0xff, sizeof in);
        n = san(in, sizeof in, out, LOGD_MESSAGE_MAX, &t);
        cr_assert(t);
        cr_assert_eq(n % 3, 0);
        cr_assert(n > LOGD_MESSAGE_MAX - 3);

        /* Exactly at the limit: not truncated. */
        memset(in, 'x', LOGD_MESSAGE_MAX);
        n = san(in, LOGD_MESSAGE_MAX, out, LOGD_MESSAGE_MAX, &t);
        cr_assert_eq(n, LOGD_MESSAGE_MAX);
        cr_assert_not(t);
}

/* ---- packing ------------------------------------------------------------------------------ */

static const msgpack_object *get(const msgpack_object *map, const char *k) {
        return rpc_map_get(map, k);
}

Test(entry, pack_roundtrip) {
        struct logd_entry *e = calloc(1, sizeof *e);
        struct rpc_buf b;
        msgpack_unpacked u;
        size_t off = 0;

        snprintf(e->cursor, sizeof e->cursor, "s=1;i=2");
        e->realtime_usec = 1700000000000001ULL;
        e->priority = 3;
        snprintf(e->invocation_id, sizeof e->invocation_id, "0123456789abcdef0123456789abcdef");
        memcpy(e->message, "bin\0ary", 7);
        e->message_len = 7;
        e->truncated = true;

        rpc_buf_init(&b, 0);
        logd_entry_pack(&b.pk, e, "entry");
        cr_assert(rpc_buf_ok(&b));
        cr_assert_leq(b.len, logd_entry_packed_size(e));
        msgpack_unpacked_init(&u);
        cr_assert_eq(msgpack_unpack_next(&u, b.data, b.len, &off), MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *o = &u.data;
        cr_assert_eq(o->type, MSGPACK_OBJECT_MAP);
        cr_assert(rpc_obj_is_str(get(o, "type"), "entry"));
        cr_assert(rpc_obj_is_str(get(o, "cursor"), "s=1;i=2"));
        cr_assert_eq(get(o, "realtime_usec")->via.u64, 1700000000000001ULL);
        cr_assert_eq(get(o, "priority")->via.u64, 3);
        cr_assert(rpc_obj_is_str(get(o, "invocation_id"), "0123456789abcdef0123456789abcdef"));
        const msgpack_object *m = get(o, "message");
        cr_assert_eq(m->type, MSGPACK_OBJECT_STR);
        cr_assert_eq(m->via.str.size, 7);
        cr_assert_eq(memcmp(m->via.str.ptr, "bin\0ary", 7), 0);
        cr_assert_eq(get(o, "truncated")->via.boolean, true);

        /* No priority, no invocation, not truncated, no type. */
        e->priority = -1;
        e->invocation_id[0] = 0;
        e->truncated = false;
        rpc_buf_clear(&b);
        logd_entry_pack(&b.pk, e, NULL);
        off = 0;
        cr_assert_eq(msgpack_unpack_next(&u, b.data, b.len, &off), MSGPACK_UNPACK_SUCCESS);
        o = &u.data;
        cr_assert_eq(o->via.map.size, 5);
        cr_assert_eq(get(o, "priority")->type, MSGPACK_OBJECT_NIL);
        cr_assert_eq(get(o, "invocation_id")->type, MSGPACK_OBJECT_NIL);
        cr_assert_null(get(o, "truncated"));
        cr_assert_null(get(o, "type"));
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&b);
        free(e);
}

/* ---- the journal: entry reading and the cursor rules followers rely on --------------------- */

#define JR   "/lib/systemd/systemd-journal-remote"
#define INV1 "00000000000000000000000000000001"
#define INV2 "00000000000000000000000000000002"

static char jdir[] = "/tmp/test-logd-XXXXXX";

/* Runs prog with two arguments, output discarded; returns its exit status or -1. */
static int run(const char *prog, const char *a1, const char *a2) {
        int st;
        pid_t pid = fork();
        if (pid == 0) {
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execl(prog, prog, a1, a2, (char *) NULL);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes export-format text (with binary fields) through journal-remote into jdir/t.journal. */
static void write_journal(void) {
        char path[128], out[160];
        FILE *f;
        int n = 0;

        cr_assert_not_null(mkdtemp(jdir));
        snprintf(path, sizeof path, "%s/in.export", jdir);
        f = fopen(path, "w");
        cr_assert_not_null(f);
#define HEAD(unit)                                                                                          \
        fprintf(f,                                                                                          \
                "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID="                              \
                "0123456789abcdef0123456789abcdef\n",                                                       \
                1700000000 + n, 1000 + n),                                                                  \
                n++, fprintf(f, "_SYSTEMD_UNIT=%s\n_PID=77\n", unit)
        for (int i = 0; i < 3; i++) {
                HEAD("left4me-server@1.service");
                fprintf(f, "_SYSTEMD_INVOCATION_ID=" INV1 "\nPRIORITY=6\nMESSAGE=one %d\n\n", i);
                HEAD("left4me-server@2.service");
                fprintf(f, "_SYSTEMD_INVOCATION_ID=" INV2 "\nMESSAGE=two %d\n\n", i);
        }
        /* A binary message with a newline, NUL and invalid UTF-8. */
        HEAD("left4me-server@1.service");
        fprintf(f, "_SYSTEMD_INVOCATION_ID=" INV1 "\nPRIORITY=3\nMESSAGE\n");
        static const char bin[] = "a\nb\0c\xff";
        uint64_t le = sizeof bin - 1;
        fwrite(&le, 8, 1, f);
        fwrite(bin, 1, sizeof bin - 1, f);
        fprintf(f, "\n\n");
        /* A huge message. */
        HEAD("left4me-server@1.service");
        fprintf(f, "_SYSTEMD_INVOCATION_ID=" INV1 "\nMESSAGE=");
        for (int i = 0; i < 100000; i++)
                fputc('x', f);
        fprintf(f, "\n\n");
        /* A forged INVOCATION_ID from a non-PID-1 process without the trusted field. */
        fprintf(f,
                "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID="
                "0123456789abcdef0123456789abcdef\n",
                1700000000 + n, 1000 + n);
        n++;
        fprintf(f, "_PID=99\nUNIT=left4me-server@1.service\nINVOCATION_ID=" INV2 "\nMESSAGE=forged\n\n");
        /* Build b-1: systemd's start, hostd's output lines (root, hostd's unit, hostd's run id),
         * the script's own journal line, and forgeries naming b-1 from elsewhere. */
#define BU "left4me-build-b-1.service"
        fprintf(f,
                "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID="
                "0123456789abcdef0123456789abcdef\n",
                1700000000 + n, 1000 + n);
        n++;
        fprintf(f, "_SYSTEMD_UNIT=init.scope\n_PID=1\nUNIT=" BU "\nINVOCATION_ID=" INV2
                   "\nMESSAGE=Started b-1\n\n");
        for (int i = 0; i < 2; i++) {
                HEAD("left4me-host.service");
                fprintf(f,
                        "_UID=0\n_SYSTEMD_INVOCATION_ID=" INV1 "\nPRIORITY=%d\nLEFT4ME_BUILD_UNIT=" BU
                        "\nMESSAGE=build out %d\n\n",
                        i ? 4 : 6, i);
        }
        HEAD(BU);
        fprintf(f, "_UID=990\n_SYSTEMD_INVOCATION_ID=" INV2 "\nMESSAGE=build own\n\n");
        /* from another build's unit (it can write to the journal socket) */
        HEAD("left4me-build-c-1.service");
        fprintf(f, "_UID=990\nLEFT4ME_BUILD_UNIT=" BU "\nMESSAGE=forged by c\n\n");
        /* from hostd's cgroup but not root (steamcmd) */
        HEAD("left4me-host.service");
        fprintf(f, "_UID=1000\nLEFT4ME_BUILD_UNIT=" BU "\nMESSAGE=forged by steamcmd\n\n");
        /* hostd's line for another build */
        HEAD("left4me-host.service");
        fprintf(f, "_UID=0\nLEFT4ME_BUILD_UNIT=left4me-build-c-1.service\nMESSAGE=c out\n\n");
#undef BU
        fclose(f);
        snprintf(out, sizeof out, "--output=%s/t.journal", jdir);
        cr_assert_eq(run(JR, out, path), 0);
#undef HEAD
}

static void journal_fini(void) {
        (void) run("/bin/rm", "-rf", jdir);
}

static sd_journal *open_journal(void) {
        sd_journal *j = NULL;
        if (access(JR, X_OK) != 0)
                cr_skip_test("systemd-journal-remote is not installed");
        write_journal();
        cr_assert_eq(sd_journal_open_directory(&j, jdir, 0), 0);
        (void) sd_journal_set_data_threshold(j, LOGD_MESSAGE_MAX + 64);
        return j;
}

static void add_matches(sd_journal *j, const char *name, const char *inv) {
        struct logd_target t;
        struct logd_matches m;
        struct rpc_error e;
        cr_assert_eq(logd_target_from_parts("server", name, NULL, &t, &e), 0);
        sd_journal_flush_matches(j);
        logd_target_matches(&t, inv, &m);
        for (size_t i = 0; i < m.n; i++)
                cr_assert_geq(m.term[i][0] ? sd_journal_add_match(j, m.term[i], 0)
                                           : sd_journal_add_disjunction(j),
                              0);
}

Test(journal, entries_read_and_sanitized, .fini = journal_fini) {
        sd_journal *j = open_journal();
        struct logd_entry *e = calloc(1, sizeof *e);
        int n = 0;

        add_matches(j, "1", NULL);
        while (sd_journal_next(j) > 0) {
                cr_assert_eq(logd_entry_read(j, e), 0);
                cr_assert(utf8_is_valid(e->message, e->message_len));
                if (n < 3) {
                        char want[16];
                        snprintf(want, sizeof want, "one %d", n);
                        cr_assert_str_eq(e->message, want);
                        cr_assert_eq(e->priority, 6);
                        cr_assert_str_eq(e->invocation_id, INV1);
                        cr_assert_not(e->truncated);
                } else if (n == 3) {
                        cr_assert_eq(e->message_len, 8, "%zu", e->message_len);
                        cr_assert_eq(memcmp(e->message, "a\nb\0c\xef\xbf\xbd", 8), 0);
                        cr_assert_eq(e->priority, 3);
                } else if (n == 4) {
                        cr_assert(e->truncated);
                        cr_assert_eq(e->message_len, LOGD_MESSAGE_MAX);
                        cr_assert_eq(e->priority, -1);
                }
                n++;
        }
        /* The forged entry (UNIT= without _PID=1) is not part of the target. */
        cr_assert_eq(n, 5);
        sd_journal_close(j);
        free(e);
}

Test(journal, forged_invocation_id_ignored, .fini = journal_fini) {
        sd_journal *j = open_journal();
        char inv[LOGD_ID128_LEN + 1];
        cr_assert_eq(sd_journal_add_match(j, "MESSAGE=forged", 0), 0);
        cr_assert_eq(sd_journal_next(j), 1);
        cr_assert_eq(logd_entry_read_invocation(j, inv), 0);
        cr_assert_str_eq(inv, "");
        sd_journal_close(j);
}

Test(journal, invocation_filter, .fini = journal_fini) {
        sd_journal *j = open_journal();
        int n = 0;
        add_matches(j, "2", INV2);
        while (sd_journal_next(j) > 0)
                n++;
        cr_assert_eq(n, 3);
        add_matches(j, "2", INV1);
        cr_assert_eq(sd_journal_seek_head(j), 0);
        cr_assert_eq(sd_journal_next(j), 0);
        sd_journal_close(j);
}

/* hostd's output lines of a build are the build's; forged ones from another unit or from a
 * non-root process in hostd's unit are not, nor another build's. */
Test(journal, build_output_lines, .fini = journal_fini) {
        sd_journal *j = open_journal();
        struct logd_entry *e = calloc(1, sizeof *e);
        struct logd_target t;
        struct logd_matches m;
        struct rpc_error err;
        const char *want[] = {"Started b-1", "build out 0", "build out 1", "build own"};
        size_t n = 0;

        for (int inv = 0; inv < 2; inv++) {
                cr_assert_eq(logd_target_from_parts("build", NULL, "left4me-build-b-1.service", &t, &err),
                             0);
                sd_journal_flush_matches(j);
                logd_target_matches(&t, inv ? INV2 : NULL, &m);
                for (size_t i = 0; i < m.n; i++)
                        cr_assert_geq(m.term[i][0] ? sd_journal_add_match(j, m.term[i], 0)
                                                   : sd_journal_add_disjunction(j),
                                      0);
                cr_assert_eq(sd_journal_seek_head(j), 0);
                n = 0;
                while (sd_journal_next(j) > 0) {
                        cr_assert_eq(logd_entry_read(j, e), 0);
                        cr_assert_lt(n, ELEMENTSOF(want), "extra entry '%s'", e->message);
                        cr_assert_str_eq(e->message, want[n]);
                        if (n == 1 || n == 2) {
                                /* hostd's run id is not the build's: none */
                                cr_assert_str_eq(e->invocation_id, "");
                                cr_assert_eq(e->priority, n == 1 ? 6 : 4);
                        }
                        if (n == 3)
                                cr_assert_str_eq(e->invocation_id, INV2);
                        n++;
                }
                cr_assert_eq(n, ELEMENTSOF(want));
        }
        sd_journal_close(j);
        free(e);
}

/* Resuming: seek_cursor + next lands ON the cursor's entry (so the follower skips it when
 * test_cursor says so); an anchor cursor of another unit's entry gives the next entry of
 * ours; nothing is lost or repeated across every split point. */
Test(journal, cursor_resume_no_gap_no_duplicate, .fini = journal_fini) {
        sd_journal *j = open_journal();
        char *cursors[8] = {};
        int n = 0;

        add_matches(j, "1", NULL);
        while (sd_journal_next(j) > 0 && n < 8)
                cr_assert_eq(sd_journal_get_cursor(j, &cursors[n++]), 0);
        cr_assert_eq(n, 5);

        for (int split = 0; split < n; split++) {
                int got = 0;
                cr_assert_eq(sd_journal_seek_cursor(j, cursors[split]), 0);
                cr_assert_eq(sd_journal_next(j), 1);
                cr_assert_gt(sd_journal_test_cursor(j, cursors[split]), 0, "split %d", split);
                while (sd_journal_next(j) > 0) {
                        char *c = NULL;
                        cr_assert_eq(sd_journal_get_cursor(j, &c), 0);
                        cr_assert_str_eq(c, cursors[split + 1 + got], "split %d", split);
                        free(c);
                        got++;
                }
                cr_assert_eq(split + 1 + got, n, "split %d: %d after", split, got);
        }

        /* An anchor on another unit's entry ("two 0", between "one 0" and "one 1"). */
        {
                char *anchor = NULL;
                sd_journal_flush_matches(j);
                cr_assert_eq(sd_journal_add_match(j, "MESSAGE=two 0", 0), 0);
                cr_assert_eq(sd_journal_seek_head(j), 0);
                cr_assert_eq(sd_journal_next(j), 1);
                cr_assert_eq(sd_journal_get_cursor(j, &anchor), 0);
                add_matches(j, "1", NULL);
                cr_assert_eq(sd_journal_seek_cursor(j, anchor), 0);
                cr_assert_eq(sd_journal_next(j), 1);
                cr_assert_eq(sd_journal_test_cursor(j, anchor), 0);
                cr_assert_gt(sd_journal_test_cursor(j, cursors[1]), 0);
                free(anchor);
        }

        /* Junk cursors are refused. */
        cr_assert_lt(sd_journal_seek_cursor(j, "junk"), 0);
        cr_assert_lt(sd_journal_seek_cursor(j, ""), 0);
        for (int i = 0; i < n; i++)
                free(cursors[i]);
        sd_journal_close(j);
}
