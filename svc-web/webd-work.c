/* See webd-work.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/util.h"
#include "svc-web/webd-work.h"

#define WORK_THREADS_MAX 16u

struct webd_work {
        h2o_multithread_queue_t *queue;
        h2o_multithread_receiver_t receiver;

        pthread_mutex_t lock;
        pthread_cond_t wake;
        h2o_linklist_t waiting; /* struct webd_job._queued, under lock */
        unsigned n_waiting, max_queued;
        bool stopping;

        pthread_t threads[WORK_THREADS_MAX];
        unsigned n_threads;

        unsigned pending; /* loop only */
        unsigned long long refused;
};

static void *worker(void *arg) {
        struct webd_work *w = arg;

        for (;;) {
                struct webd_job *j;

                pthread_mutex_lock(&w->lock);
                while (!w->stopping && h2o_linklist_is_empty(&w->waiting))
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->stopping) {
                        pthread_mutex_unlock(&w->lock);
                        return NULL;
                }
                j = H2O_STRUCT_FROM_MEMBER(struct webd_job, _queued, w->waiting.next);
                h2o_linklist_unlink(&j->_queued);
                w->n_waiting--;
                pthread_mutex_unlock(&w->lock);

                j->run(j);
                h2o_multithread_send_message(&w->receiver, &j->_msg);
        }
}

static void deliver(struct webd_work *w, struct webd_job *j) {
        w->pending--;
        /* req (if still set) stays valid through done(), which runs without returning to
         * the loop; after it the job may be gone, so the pool must not reach it any more. */
        if (j->_req_slot)
                *j->_req_slot = NULL;
        j->_req_slot = NULL;
        j->done(j);
}

static void on_results(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages) {
        struct webd_work *w = H2O_STRUCT_FROM_MEMBER(struct webd_work, receiver, receiver);

        while (!h2o_linklist_is_empty(messages)) {
                struct webd_job *j = H2O_STRUCT_FROM_MEMBER(struct webd_job, _msg.link, messages->next);

                h2o_linklist_unlink(&j->_msg.link);
                deliver(w, j);
        }
}

int webd_work_new(h2o_loop_t *loop, unsigned threads, unsigned max_queued, struct webd_work **ret) {
        struct webd_work *w;
        int r;

        if (threads == 0 || threads > WORK_THREADS_MAX || max_queued == 0)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        h2o_linklist_init_anchor(&w->waiting);
        w->max_queued = max_queued;
        w->queue = h2o_multithread_create_queue(loop);
        h2o_multithread_register_receiver(w->queue, &w->receiver, on_results);
        for (; w->n_threads < threads; w->n_threads++) {
                r = pthread_create(&w->threads[w->n_threads], NULL, worker, w);
                if (r != 0) {
                        webd_work_free(w);
                        return -r;
                }
        }
        *ret = w;
        return 0;
}

struct webd_work *webd_work_free(struct webd_work *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->lock);
        for (unsigned i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);

        /* No thread is left: the lists can be walked without the locks. Finished jobs whose
         * result has not been read by the loop yet come first, then those never run. */
        while (!h2o_linklist_is_empty(&w->receiver._messages)) {
                struct webd_job *j =
                        H2O_STRUCT_FROM_MEMBER(struct webd_job, _msg.link, w->receiver._messages.next);
                h2o_linklist_unlink(&j->_msg.link);
                deliver(w, j);
        }
        while (!h2o_linklist_is_empty(&w->waiting)) {
                struct webd_job *j = H2O_STRUCT_FROM_MEMBER(struct webd_job, _queued, w->waiting.next);
                h2o_linklist_unlink(&j->_queued);
                j->cancelled = true;
                deliver(w, j);
        }
        h2o_multithread_unregister_receiver(w->queue, &w->receiver);
        h2o_multithread_destroy_queue(w->queue);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int webd_work_submit(struct webd_work *w, struct webd_job *j) {
        pthread_mutex_lock(&w->lock);
        if (w->n_waiting >= w->max_queued) {
                pthread_mutex_unlock(&w->lock);
                w->refused++;
                return -EBUSY;
        }
        j->cancelled = false;
        j->_msg.link = (h2o_linklist_t){};
        h2o_linklist_insert(&w->waiting, &j->_queued);
        w->n_waiting++;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        w->pending++;
        return 0;
}

/* The request's pool outlives every use of req; when h2o frees it (response done, or the
 * client gone), the job forgets the request. */
static void on_req_dispose(void *p) {
        struct webd_job **slot = p;

        if (*slot) {
                (*slot)->req = NULL;
                (*slot)->_req_slot = NULL;
        }
}

void webd_job_bind_req(struct webd_job *j, h2o_req_t *req) {
        struct webd_job **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_req_dispose);

        *slot = j;
        j->req = req;
        j->_req_slot = (void **) slot;
}

unsigned webd_work_pending(const struct webd_work *w) {
        return w->pending;
}

unsigned long long webd_work_refused(const struct webd_work *w) {
        return w->refused;
}
