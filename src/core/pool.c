/* pool.c - a persistent worker pool: threads started once, then batches of jobs run on them
 * (MTCNN's pyramid bands and boxes, the landmark tracker's patch responses and parts).
 *
 * The caller waits for the batch's jobs, not for the workers: a worker that has not woken by
 * the time the caller (which takes jobs too) has run them all costs the caller nothing, and
 * finds the batch over when it does wake. On two cores shared with a decoder and an AU stage
 * a worker is often not running when a batch starts; waiting for it to check in cost the
 * tracker a sleep and a wake-up per batch. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/core.h"

/* How long the caller spins for a job a worker still runs before it sleeps: a job is a few
 * tens of microseconds (one slice of a batch), less than a futex sleep and wake-up costs on a
 * busy virtual machine. */
#define CALLER_SPIN_NS 60000

struct fa_pool {
    pthread_mutex_t mu;
    pthread_cond_t start, done_cv;
    pthread_t tid[FA_POOL_MAX_THREADS];
    int nworkers;          /* threads started besides the caller */
    int quit;
    uint32_t batch;        /* incremented for every fa_pool_for (under mu) */
    int caller_sleeps;     /* the caller waits on done_cv (under mu) */
    /* the current batch: set under mu before batch is incremented, unchanged until all of its
     * jobs are done */
    fa_pool_fn fn;
    void *ctx;
    long n;
    /* (batch << 32) | next job: a worker claims a job only of the batch it woke for, so one
     * that wakes late never runs a later batch's job with an earlier batch's fn */
    _Atomic uint64_t claim;
    atomic_long done;      /* jobs of the current batch finished */
};

typedef struct worker_arg {
    fa_pool *p;
    int index;
} worker_arg;

/* Runs jobs of batch `batch` (n jobs of fn, ctx) until none is left to claim. A claimed job
 * keeps its batch current (the caller waits for it), so fn and ctx stay valid while it runs. */
static void drain(fa_pool *p, uint32_t batch, long n, fa_pool_fn fn, void *ctx, int thread)
{
    uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(v >> 32) != batch || (long)(uint32_t)v >= n)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* v reloaded */
        fn(ctx, (long)(uint32_t)v, thread);
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == n) {
            /* the batch's last job: wake the caller if it went to sleep */
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeps)
                pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
            return;
        }
        v = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *worker(void *arg)
{
    fa_pool *p = ((worker_arg *)arg)->p;
    int index = ((worker_arg *)arg)->index;
    free(arg);
    uint32_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->batch == seen && !p->quit)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->batch;
        long n = p->n;
        fa_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        drain(p, seen, n, fn, ctx, index);
        pthread_mutex_lock(&p->mu);
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
    if (pthread_cond_init(&p->start, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return fa_fail(err, FACEAU_ERR_NOMEM, "worker pool: cannot create a condition variable");
    }
    if (pthread_cond_init(&p->done_cv, NULL) != 0) {
        pthread_cond_destroy(&p->start);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return fa_fail(err, FACEAU_ERR_NOMEM, "worker pool: cannot create a condition variable");
    }
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
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

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void fa_pool_for(fa_pool *p, long n, fa_pool_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!p || p->nworkers == 0 || n == 1 || n > (long)UINT32_MAX) {
        for (long j = 0; j < n; j++)
            fn(ctx, j, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn, p->ctx = ctx, p->n = n;
    uint32_t batch = ++p->batch;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (uint64_t)batch << 32, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    drain(p, batch, n, fn, ctx, 0);
    /* the jobs workers still run: briefly spin, then sleep until the last one signals */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int s = 1;; s++) {
        if (atomic_load_explicit(&p->done, memory_order_acquire) == n)
            return;
        cpu_relax();
        if (s % 32 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > CALLER_SPIN_NS)
                break;
        }
    }
    pthread_mutex_lock(&p->mu);
    p->caller_sleeps = 1;
    while (atomic_load_explicit(&p->done, memory_order_acquire) != n)
        pthread_cond_wait(&p->done_cv, &p->mu);
    p->caller_sleeps = 0;
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
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
