/* pool.c - a persistent worker pool: threads started once, then batches of jobs run on them
 * (MTCNN's pyramid bands and boxes; later the landmark tracker's patch responses). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/core.h"

struct fa_pool {
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    pthread_t tid[FA_POOL_MAX_THREADS];
    int nworkers;          /* threads started besides the caller */
    int quit;
    unsigned long batch;   /* incremented for every fa_pool_for */
    int busy;              /* workers still in the current batch */
    /* the current batch */
    fa_pool_fn fn;
    void *ctx;
    long n;
    atomic_long next;
};

typedef struct worker_arg {
    fa_pool *p;
    int index;
} worker_arg;

/* Takes jobs of the current batch until none is left. */
static void drain(fa_pool *p, int thread)
{
    for (;;) {
        long j = atomic_fetch_add(&p->next, 1);
        if (j >= p->n)
            return;
        p->fn(p->ctx, j, thread);
    }
}

static void *worker(void *arg)
{
    fa_pool *p = ((worker_arg *)arg)->p;
    int index = ((worker_arg *)arg)->index;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->batch == seen && !p->quit)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->batch;
        pthread_mutex_unlock(&p->mu);
        drain(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

faceau_status fa_pool_create(int threads, fa_pool **out, fa_err *err)
{
    if (!out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "worker pool: NULL output");
    *out = NULL;
    if (threads < 1 || threads > FA_POOL_MAX_THREADS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "thread count %d is out of range (1..%d)",
                       threads, FA_POOL_MAX_THREADS);
    fa_pool *p = fa_calloc(1, sizeof *p, err, "the worker pool");
    if (!p)
        return FACEAU_ERR_NOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return fa_fail(err, FACEAU_ERR_NOMEM, "worker pool: cannot create a mutex");
    }
    if (pthread_cond_init(&p->start, NULL) != 0 || pthread_cond_init(&p->done, NULL) != 0) {
        /* destroying a never-initialised condition is avoided by initialising both first */
        pthread_mutex_destroy(&p->mu);
        free(p);
        return fa_fail(err, FACEAU_ERR_NOMEM, "worker pool: cannot create a condition variable");
    }
    atomic_init(&p->next, 0);
    /* A thread that cannot be started just means a smaller pool: results never depend on it. */
    for (int t = 1; t < threads; t++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a)
            break;
        a->p = p, a->index = t;
        if (pthread_create(&p->tid[p->nworkers], NULL, worker, a) != 0) {
            free(a);
            break;
        }
        p->nworkers++;
    }
    *out = p;
    return FACEAU_OK;
}

int fa_pool_threads(const fa_pool *p)
{
    return p ? p->nworkers + 1 : 1;
}

void fa_pool_for(fa_pool *p, long n, fa_pool_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!p || p->nworkers == 0 || n == 1) {
        for (long j = 0; j < n; j++)
            fn(ctx, j, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn, p->ctx = ctx, p->n = n;
    atomic_store(&p->next, 0);
    p->busy = p->nworkers;
    p->batch++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void fa_pool_free(fa_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->nworkers; t++)
        pthread_join(p->tid[t], NULL);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
