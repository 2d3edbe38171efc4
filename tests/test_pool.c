/* The worker pool: every job of a batch runs exactly once, on a thread index the pool reports,
 * batch after batch on the same threads; a NULL or one-thread pool runs jobs on the caller. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NJOBS 10000

typedef struct batch {
    atomic_int runs[NJOBS];
    int thread_of[NJOBS];
    int max_threads;
    atomic_int bad_thread;
} batch;

static void job(void *ctx, long j, int thread)
{
    batch *b = ctx;
    atomic_fetch_add(&b->runs[j], 1);
    b->thread_of[j] = thread;
    if (thread < 0 || thread >= b->max_threads)
        atomic_store(&b->bad_thread, 1);
}

static void check_batch(fa_pool *p, long n, const char *what)
{
    static batch b;
    memset(&b, 0, sizeof b);
    b.max_threads = fa_pool_threads(p);
    fa_pool_for(p, n, job, &b);
    int wrong = 0;
    for (long j = 0; j < NJOBS; j++)
        wrong += atomic_load(&b.runs[j]) != (j < n ? 1 : 0);
    CHECK(wrong == 0, "%s: %d of %ld jobs did not run exactly once", what, wrong, n);
    CHECK(!atomic_load(&b.bad_thread), "%s: a job ran on a thread index outside 0..%d", what,
          b.max_threads - 1);
}

int main(void)
{
    fa_err err;
    check_batch(NULL, NJOBS, "NULL pool");
    fa_pool *p = NULL;
    CHECK(fa_pool_create(1, &p, &err) == FACEAU_OK && fa_pool_threads(p) == 1, "1-thread pool: %s", err.msg);
    check_batch(p, NJOBS, "1 thread");
    fa_pool_free(p);
    CHECK(fa_pool_create(4, &p, &err) == FACEAU_OK && fa_pool_threads(p) >= 1, "4-thread pool: %s", err.msg);
    for (int round = 0; round < 200; round++)
        check_batch(p, round % 7 == 0 ? 1 : NJOBS / (1 + round % 5), "4 threads");
    check_batch(p, 0, "empty batch");
    fa_pool_free(p);
    CHECK(fa_pool_create(0, &p, &err) == FACEAU_ERR_INVALID_ARG && !p && strstr(err.msg, "out of range"),
          "0 threads refused: %s", err.msg);
    CHECK(fa_pool_create(FA_POOL_MAX_THREADS + 1, &p, &err) == FACEAU_ERR_INVALID_ARG,
          "too many threads refused");
    fa_pool_free(NULL);
    return tu_done();
}
