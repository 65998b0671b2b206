/* Unit tests of the scheduler: every pair of kinds (same and different subjects), submission
 * order per key, the worker limit, coalescing. */
#include <criterion/criterion.h>

#include "svc-jobs/jobd-sched.h"

struct sample {
        const char *label;
        enum job_kind kind;
        struct job_payload p;
};

static char *ov_a[] = {"oa", NULL};
static char *ov_b[] = {"ob", NULL};

/* A job of every kind, for two servers, two overlays. */
static const struct sample samples[] = {
        {"install", JOB_INSTALL, {}},
        {"start s1 [oa]", JOB_SERVER_START, {.server = "s1", .spec = "x", .overlays = ov_a}},
        {"start s2 [oa]", JOB_SERVER_START, {.server = "s2", .spec = "x", .overlays = ov_a}},
        {"stop s1", JOB_SERVER_STOP, {.server = "s1"}},
        {"stop s2 [ob]", JOB_SERVER_STOP, {.server = "s2", .overlays = ov_b}},
        {"reset s1", JOB_SERVER_RESET, {.server = "s1"}},
        {"delete s2", JOB_SERVER_DELETE, {.server = "s2"}},
        {"build oa", JOB_OVERLAY_BUILD, {.overlay = "oa", .script = "x"}},
        {"build ob", JOB_OVERLAY_BUILD, {.overlay = "ob", .script = "x"}},
        {"delete overlay oa", JOB_OVERLAY_DELETE, {.overlay = "oa"}},
        {"delete overlay ob", JOB_OVERLAY_DELETE, {.overlay = "ob"}},
};
#define N_SAMPLES ELEMENTSOF(samples)

static bool is_server(enum job_kind k) {
        return k == JOB_SERVER_START || k == JOB_SERVER_STOP || k == JOB_SERVER_RESET ||
               k == JOB_SERVER_DELETE;
}

/* A build or a delete of an overlay: both hold it exclusively. */
static bool is_overlay(enum job_kind k) {
        return k == JOB_OVERLAY_BUILD || k == JOB_OVERLAY_DELETE;
}

static bool has_overlay(const struct job_payload *p, const char *o) {
        for (char **i = p->overlays; i && *i; i++)
                if (streq(*i, o))
                        return true;
        return false;
}

/* The rule from architecture.md §2, written independently of the key machinery. */
static bool expect_conflict(const struct sample *a, const struct sample *b) {
        if (a->kind == JOB_INSTALL && (b->kind == JOB_INSTALL || is_server(b->kind)))
                return true;
        if (b->kind == JOB_INSTALL && is_server(a->kind))
                return true;
        if (is_server(a->kind) && is_server(b->kind))
                return streq(a->p.server, b->p.server);
        if (is_overlay(a->kind) && is_overlay(b->kind))
                return streq(a->p.overlay, b->p.overlay);
        if (is_overlay(a->kind) && is_server(b->kind))
                return has_overlay(&b->p, a->p.overlay);
        if (is_overlay(b->kind) && is_server(a->kind))
                return has_overlay(&a->p, b->p.overlay);
        return false;
}

struct keyed {
        struct job_key *keys;
        size_t n;
};

static struct keyed derive(const struct sample *s) {
        struct keyed k;
        cr_assert_eq(job_keys_derive(s->kind, &s->p, &k.keys, &k.n), 0);
        return k;
}

Test(sched, every_pair_running_then_queued) {
        for (size_t i = 0; i < N_SAMPLES; i++)
                for (size_t j = 0; j < N_SAMPLES; j++) {
                        struct keyed a = derive(&samples[i]), b = derive(&samples[j]);
                        struct sched_job jobs[2] = {
                                {.id = 1,
                                 .kind = samples[i].kind,
                                 .running = true,
                                 .keys = a.keys,
                                 .n_keys = a.n},
                                {.id = 2, .kind = samples[j].kind, .keys = b.keys, .n_keys = b.n},
                        };
                        size_t picked[2];
                        bool conflict = expect_conflict(&samples[i], &samples[j]);
                        ssize_t k = sched_pick(jobs, 2, 4, picked);

                        cr_expect_eq(sched_conflict(a.keys, a.n, b.keys, b.n), conflict, "%s / %s",
                                     samples[i].label, samples[j].label);
                        cr_expect_eq(k, conflict ? 0 : 1, "running %s, queued %s: picked %zd",
                                     samples[i].label, samples[j].label, k);
                        job_keys_free(a.keys, a.n);
                        job_keys_free(b.keys, b.n);
                }
}

Test(sched, every_pair_both_queued) {
        for (size_t i = 0; i < N_SAMPLES; i++)
                for (size_t j = 0; j < N_SAMPLES; j++) {
                        struct keyed a = derive(&samples[i]), b = derive(&samples[j]);
                        struct sched_job jobs[2] = {
                                {.id = 1, .kind = samples[i].kind, .keys = a.keys, .n_keys = a.n},
                                {.id = 2, .kind = samples[j].kind, .keys = b.keys, .n_keys = b.n},
                        };
                        size_t picked[2];
                        ssize_t k = sched_pick(jobs, 2, 4, picked);

                        /* The first always starts; the second only if it does not conflict. */
                        cr_expect_eq(k, expect_conflict(&samples[i], &samples[j]) ? 1 : 2, "%s then %s",
                                     samples[i].label, samples[j].label);
                        cr_expect_eq(picked[0], 0);
                        job_keys_free(a.keys, a.n);
                        job_keys_free(b.keys, b.n);
                }
}

/* A server start running; a build of its overlay queued; then another server start that
 * shares the overlay: it must not overtake the waiting build (submission order per key). */
Test(sched, waits_in_submission_order) {
        struct keyed s1 = derive(&samples[1]), b = derive(&samples[7]), s2 = derive(&samples[2]),
                     st = derive(&samples[4]);
        struct sched_job jobs[] = {
                {.id = 1, .running = true, .keys = s1.keys, .n_keys = s1.n},
                {.id = 2, .keys = b.keys, .n_keys = b.n},
                {.id = 3, .keys = s2.keys, .n_keys = s2.n},
                {.id = 4, .keys = st.keys, .n_keys = st.n}, /* stop s2 [ob]: queued behind start s2 */
        };
        size_t picked[4];

        cr_assert_eq(sched_pick(jobs, 4, 8, picked), 0);
        /* The start finished: the build runs, the second start still waits for it. */
        jobs[0].n_keys = 0;
        cr_assert_eq(sched_pick(jobs, 4, 8, picked), 1);
        cr_assert_eq(picked[0], 1);
        /* The build finished too: start s2 runs; stop s2 waits behind it (same server). */
        jobs[1].n_keys = 0;
        cr_assert_eq(sched_pick(jobs, 4, 8, picked), 2);
        cr_assert_eq(picked[0], 1); /* the empty job stands for "gone": it holds nothing */
        cr_assert_eq(picked[1], 2);
        job_keys_free(s1.keys, s1.n);
        job_keys_free(b.keys, b.n);
        job_keys_free(s2.keys, s2.n);
        job_keys_free(st.keys, st.n);
}

/* Two servers sharing an overlay start together; a build of that overlay queued first delays
 * both (the container scenario, in miniature). */
Test(sched, build_delays_both_starts) {
        struct keyed b = derive(&samples[7]), s1 = derive(&samples[1]), s2 = derive(&samples[2]);
        struct sched_job jobs[] = {
                {.id = 1, .keys = b.keys, .n_keys = b.n},
                {.id = 2, .keys = s1.keys, .n_keys = s1.n},
                {.id = 3, .keys = s2.keys, .n_keys = s2.n},
        };
        size_t picked[3];

        cr_assert_eq(sched_pick(jobs, 3, 4, picked), 1);
        cr_assert_eq(picked[0], 0);
        jobs[0].running = true;
        cr_assert_eq(sched_pick(jobs, 3, 4, picked), 0);
        jobs[0].n_keys = 0; /* build done */
        jobs[0].running = false;
        cr_assert_eq(sched_pick(jobs, 3, 4, picked), 3); /* the empty one too: holds nothing */
        job_keys_free(b.keys, b.n);
        job_keys_free(s1.keys, s1.n);
        job_keys_free(s2.keys, s2.n);
}

Test(sched, worker_limit) {
        struct keyed k[4];
        struct sched_job jobs[4];
        size_t picked[4];

        for (int i = 0; i < 4; i++) {
                struct sample s = {
                        "build", JOB_OVERLAY_BUILD, {.overlay = (char *[]){"a", "b", "c", "d"}[i]}};
                k[i] = derive(&s);
                jobs[i] = (struct sched_job){.id = i + 1, .keys = k[i].keys, .n_keys = k[i].n};
        }
        cr_assert_eq(sched_pick(jobs, 4, 2, picked), 2);
        cr_assert_eq(picked[0], 0);
        cr_assert_eq(picked[1], 1);
        cr_assert_eq(sched_pick(jobs, 4, 0, picked), 0);
        jobs[0].running = true;
        cr_assert_eq(sched_pick(jobs, 4, 1, picked), 1);
        cr_assert_eq(picked[0], 1);
        for (int i = 0; i < 4; i++)
                job_keys_free(k[i].keys, k[i].n);
}

Test(sched, many_jobs_linear) {
        enum { N = 20000 };
        struct sched_job *jobs = calloc(N, sizeof(*jobs));
        size_t *picked = calloc(N, sizeof(*picked));
        struct job_key k = {.name = "install", .mode = JOB_KEY_EXCLUSIVE};

        for (int i = 0; i < N; i++)
                jobs[i] = (struct sched_job){.id = i + 1, .keys = &k, .n_keys = 1};
        cr_assert_eq(sched_pick(jobs, N, 4, picked), 1);
        free(jobs);
        free(picked);
}

Test(sched, coalescing) {
        const char pa[] = "build-a", pb[] = "build-b";
        struct sched_job jobs[] = {
                {.id = 1,
                 .kind = JOB_OVERLAY_BUILD,
                 .running = true,
                 .payload = pa,
                 .payload_len = sizeof(pa)},
                {.id = 2, .kind = JOB_SERVER_START, .payload = pa, .payload_len = sizeof(pa)},
                {.id = 3, .kind = JOB_OVERLAY_BUILD, .payload = pb, .payload_len = sizeof(pb)},
                {.id = 4, .kind = JOB_OVERLAY_BUILD, .payload = pa, .payload_len = sizeof(pa)},
        };

        /* identical queued build → that job; the running one does not count */
        cr_assert_eq(sched_coalesce(jobs, 4, JOB_OVERLAY_BUILD, pa, sizeof(pa)), 3);
        cr_assert_eq(sched_coalesce(jobs, 4, JOB_OVERLAY_BUILD, pb, sizeof(pb)), 2);
        /* different payload → none */
        cr_assert_eq(sched_coalesce(jobs, 4, JOB_OVERLAY_BUILD, "other", 6), -1);
        cr_assert_eq(sched_coalesce(jobs, 3, JOB_OVERLAY_BUILD, pa, sizeof(pa)), -1);
        /* kinds that do not coalesce never do */
        cr_assert_eq(sched_coalesce(jobs, 4, JOB_SERVER_START, pa, sizeof(pa)), -1);
        /* same bytes, prefix only → no */
        cr_assert_eq(sched_coalesce(jobs, 4, JOB_OVERLAY_BUILD, pa, sizeof(pa) - 1), -1);
}

Test(sched, overlay_delete_coalesces) {
        const char pa[] = "delete-a";
        struct sched_job jobs[] = {
                {.id = 1, .kind = JOB_OVERLAY_BUILD, .payload = pa, .payload_len = sizeof(pa)},
                {.id = 2, .kind = JOB_OVERLAY_DELETE, .payload = pa, .payload_len = sizeof(pa)},
        };

        /* an identical queued delete → that job; a build's bytes are another kind's */
        cr_assert_eq(sched_coalesce(jobs, 2, JOB_OVERLAY_DELETE, pa, sizeof(pa)), 1);
        cr_assert_eq(sched_coalesce(jobs, 1, JOB_OVERLAY_DELETE, pa, sizeof(pa)), -1);
}
