/* The password workers (svc-web/webd-work.c): jobs run off the loop and come back on it,
 * the queue is bounded (-EBUSY beyond it, nothing queued), and freeing the pool delivers
 * every job once: run ones with their result, ones that never ran as cancelled. */
#include <criterion/criterion.h>
#include <errno.h>
#include <semaphore.h>
#include <unistd.h>
#include <stdatomic.h>

#include "svc-web/webd-work.h"

struct tjob {
        struct webd_job super;
        int value;
        bool ran, done, cancelled;
        pthread_t ran_on;
};

static sem_t gate;
static atomic_int running;
static unsigned delivered;

static void run_gated(struct webd_job *j) {
        struct tjob *t = (struct tjob *) j;

        atomic_fetch_add(&running, 1);
        sem_wait(&gate);
        t->ran = true;
        t->ran_on = pthread_self();
        t->value *= 2;
}

static void done(struct webd_job *j) {
        struct tjob *t = (struct tjob *) j;

        t->done = true;
        t->cancelled = j->cancelled;
        delivered++;
}

static void run_until(h2o_evloop_t *loop, unsigned n) {
        for (int i = 0; i < 2000 && delivered < n; i++)
                (void) h2o_evloop_run(loop, 5);
}

Test(work, jobs_run_off_the_loop_and_come_back) {
        h2o_evloop_t *loop = h2o_evloop_create();
        struct webd_work *w;
        struct tjob jobs[3] = {};

        sem_init(&gate, 0, 100);
        delivered = 0;
        cr_assert_eq(webd_work_new(loop, 2, 8, &w), 0);
        for (int i = 0; i < 3; i++) {
                jobs[i] = (struct tjob){.super = {.run = run_gated, .done = done}, .value = i + 1};
                cr_assert_eq(webd_work_submit(w, &jobs[i].super), 0);
        }
        run_until(loop, 3);
        for (int i = 0; i < 3; i++) {
                cr_assert(jobs[i].done && jobs[i].ran && !jobs[i].cancelled, "job %d", i);
                cr_assert_eq(jobs[i].value, 2 * (i + 1));
                cr_assert_not(pthread_equal(jobs[i].ran_on, pthread_self()), "job %d ran on the loop", i);
        }
        cr_assert_eq(webd_work_pending(w), 0);
        webd_work_free(w);
        h2o_evloop_destroy(loop);
}

Test(work, the_queue_is_bounded_and_free_delivers_everything) {
        h2o_evloop_t *loop = h2o_evloop_create();
        struct webd_work *w;
        struct tjob jobs[4] = {};

        sem_init(&gate, 0, 0);
        atomic_store(&running, 0);
        delivered = 0;
        cr_assert_eq(webd_work_new(loop, 1, 2, &w), 0);
        for (int i = 0; i < 4; i++)
                jobs[i] = (struct tjob){.super = {.run = run_gated, .done = done}};
        cr_assert_eq(webd_work_submit(w, &jobs[0].super), 0);
        for (int i = 0; i < 1000 && atomic_load(&running) == 0; i++)
                usleep(1000);
        cr_assert_eq(atomic_load(&running), 1, "the first job never started");
        /* The worker is busy: two may wait, the fourth is refused. */
        cr_assert_eq(webd_work_submit(w, &jobs[1].super), 0);
        cr_assert_eq(webd_work_submit(w, &jobs[2].super), 0);
        cr_assert_eq(webd_work_submit(w, &jobs[3].super), -EBUSY);
        cr_assert_eq(webd_work_refused(w), 1);
        cr_assert_eq(webd_work_pending(w), 3);
        /* Free with jobs waiting: the worker may pick up more before it sees the stop, so
         * each job is delivered exactly once, either run or cancelled (never both); the
         * refused one never. */
        for (int i = 0; i < 3; i++)
                sem_post(&gate);
        webd_work_free(w);
        cr_assert(jobs[0].done && jobs[0].ran && !jobs[0].cancelled);
        for (int i = 1; i <= 2; i++)
                cr_assert(jobs[i].done && jobs[i].ran != jobs[i].cancelled, "waiting job %d", i);
        cr_assert_eq(delivered, 3);
        cr_assert_not(jobs[3].done || jobs[3].ran, "the refused job was queued after all");
        h2o_evloop_destroy(loop);
}

Test(work, bad_sizes_are_refused) {
        h2o_evloop_t *loop = h2o_evloop_create();
        struct webd_work *w = NULL;

        cr_assert_eq(webd_work_new(loop, 0, 8, &w), -EINVAL);
        cr_assert_eq(webd_work_new(loop, 17, 8, &w), -EINVAL);
        cr_assert_eq(webd_work_new(loop, 1, 0, &w), -EINVAL);
        cr_assert_null(w);
        h2o_evloop_destroy(loop);
}
