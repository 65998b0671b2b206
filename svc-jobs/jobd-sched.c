#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "svc-jobs/jobd-sched.h"

bool sched_conflict(const struct job_key *a, size_t na, const struct job_key *b, size_t nb) {
        for (size_t i = 0; i < na; i++)
                for (size_t j = 0; j < nb; j++)
                        if (streq(a[i].name, b[j].name) &&
                            (a[i].mode == JOB_KEY_EXCLUSIVE || b[j].mode == JOB_KEY_EXCLUSIVE))
                                return true;
        return false;
}

/* One slot per distinct key name: how many running-or-earlier-queued jobs claim it, by mode. */
struct slot {
        const char *name;
        unsigned exclusive, shared;
};

static uint64_t hash_str(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ULL;
        return h;
}

static struct slot *slot_get(struct slot *t, size_t mask, const char *name) {
        for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
                if (!t[i].name)
                        t[i].name = name;
                if (streq(t[i].name, name))
                        return &t[i];
        }
}

static void claim(struct slot *t, size_t mask, const struct sched_job *j) {
        for (size_t k = 0; k < j->n_keys; k++) {
                struct slot *s = slot_get(t, mask, j->keys[k].name);
                if (j->keys[k].mode == JOB_KEY_EXCLUSIVE)
                        s->exclusive++;
                else
                        s->shared++;
        }
}

static bool can_start(struct slot *t, size_t mask, const struct sched_job *j) {
        for (size_t k = 0; k < j->n_keys; k++) {
                struct slot *s = slot_get(t, mask, j->keys[k].name);
                if (s->exclusive > 0)
                        return false;
                if (j->keys[k].mode == JOB_KEY_EXCLUSIVE && s->shared > 0)
                        return false;
        }
        return true;
}

ssize_t sched_pick(const struct sched_job *jobs, size_t n, unsigned free_workers, size_t *ret) {
        _cleanup_free_ struct slot *table = NULL;
        size_t total = 0, size = 16, picked = 0;

        if (free_workers == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                total += jobs[i].n_keys;
        while (size < 2 * total + 1)
                size <<= 1;
        table = calloc(size, sizeof(*table));
        if (!table)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++)
                if (jobs[i].running)
                        claim(table, size - 1, &jobs[i]);
        for (size_t i = 0; i < n && picked < free_workers; i++) {
                if (jobs[i].running)
                        continue;
                if (can_start(table, size - 1, &jobs[i]))
                        ret[picked++] = i;
                /* Started or still waiting, it now stands in front of later jobs for its keys. */
                claim(table, size - 1, &jobs[i]);
        }
        return (ssize_t) picked;
}

ssize_t sched_coalesce(const struct sched_job *jobs, size_t n, enum job_kind kind, const void *payload,
                       size_t payload_len) {
        const struct job_kind_info *info = job_kind_info(kind);

        if (!info || !info->coalesce)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (!jobs[i].running && jobs[i].kind == kind && jobs[i].payload_len == payload_len &&
                    memcmp(jobs[i].payload, payload, payload_len) == 0)
                        return (ssize_t) i;
        return -1;
}
