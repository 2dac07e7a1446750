// Worker pool: workers spin on an epoch counter for about a millisecond after each job (matmuls of one
// token follow each other within microseconds), then sleep on a condition variable so that idle
// workers cost nothing between requests.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "pool_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_NS 1000000LL  // how long an idle worker spins before sleeping

// Per worker: the last epoch it entered, or that the caller skipped it for (see pk_pool_run_dynamic).
typedef struct {
    pk_pool *pool;
    int ith;
    _Alignas(64) _Atomic uint32_t slot;
} worker_arg;

struct pk_pool {
    // Written by the caller for each job, read by workers after they observe the new epoch.
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    int n;  // threads including the caller
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *scratch;
    size_t scratch_cap;

    _Alignas(64) _Atomic uint32_t epoch;
    _Atomic int stop;
    _Atomic int sleepers;
    _Alignas(64) _Atomic int remaining;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Returns the new epoch once it differs from seen.
static uint32_t wait_for_job(pk_pool *pool, uint32_t seen) {
    int64_t deadline = 0;
    for (uint32_t spins = 0;; spins++) {
        uint32_t e = atomic_load_explicit(&pool->epoch, memory_order_acquire);
        if (e != seen) return e;
        CPU_RELAX();
        if ((spins & 255) == 255) {
            int64_t t = now_ns();
            if (deadline == 0) deadline = t + SPIN_NS;
            else if (t > deadline) break;
        }
    }
    pthread_mutex_lock(&pool->mu);
    // seq_cst pairs with pk_pool_run: either it sees this sleeper and broadcasts (under the mutex we
    // hold until cond_wait), or we see its new epoch here.
    atomic_fetch_add(&pool->sleepers, 1);
    uint32_t e;
    while ((e = atomic_load(&pool->epoch)) == seen) pthread_cond_wait(&pool->cv, &pool->mu);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->mu);
    return e;
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    pk_pool *pool = arg->pool;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) break;
        // Every earlier job was entered or skipped, so the slot holds seen - 1 unless the caller has just
        // skipped this worker for this job (then it already counted us out and we must not touch ctx).
        uint32_t expected = seen - 1;
        if (!atomic_compare_exchange_strong(&arg->slot, &expected, seen)) continue;
        pool->fn(pool->ctx, arg->ith, pool->n);
        atomic_fetch_sub_explicit(&pool->remaining, 1, memory_order_release);
    }
    return NULL;
}

pk_pool *pk_pool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 256) n_threads = 256;
    pk_pool *pool = aligned_alloc(64, (sizeof(pk_pool) + 63) / 64 * 64);
    if (!pool) return NULL;
    memset(pool, 0, sizeof *pool);
    pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    pool->args = aligned_alloc(64, (size_t)n_threads * sizeof(worker_arg));
    if (pool->args) memset(pool->args, 0, (size_t)n_threads * sizeof(worker_arg));
    if (!pool->threads || !pool->args) {
        free(pool->threads);
        free(pool->args);
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    atomic_init(&pool->epoch, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->remaining, 0);
    pool->n = 1;
    for (int i = 1; i < n_threads; i++) {
        pool->args[i].pool = pool;
        pool->args[i].ith = i;
        atomic_init(&pool->args[i].slot, 0);
        if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]) != 0) break;
        pool->n = i + 1;
    }
    return pool;
}

void pk_pool_destroy(pk_pool *pool) {
    if (!pool) return;
    atomic_store(&pool->stop, 1);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->epoch, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->scratch);
    free(pool->threads);
    free(pool->args);
    free(pool);
}

int pk_pool_size(const pk_pool *pool) { return pool ? pool->n : 1; }

static void run(pk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx, int skip_late) {
    if (pool->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->remaining, pool->n - 1, memory_order_relaxed);
    const uint32_t e = atomic_fetch_add(&pool->epoch, 1) + 1;  // seq_cst: publishes fn/ctx/remaining
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);
    }
    fn(ctx, 0, pool->n);
    if (skip_late) {
        // All work is claimed: workers that have not entered yet (asleep, preempted) are not waited for.
        for (int i = 1; i < pool->n; i++) {
            uint32_t expected = e - 1;
            if (atomic_compare_exchange_strong(&pool->args[i].slot, &expected, e))
                atomic_fetch_sub_explicit(&pool->remaining, 1, memory_order_relaxed);
        }
    }
    for (uint32_t spins = 0; atomic_load_explicit(&pool->remaining, memory_order_acquire) != 0; spins++) {
        CPU_RELAX();
        // A worker preempted by another process: give the core away instead of spinning against it.
        if (spins > 4096) sched_yield();
    }
}

void pk_pool_run(pk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx) { run(pool, fn, ctx, 0); }

void pk_pool_run_dynamic(pk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx) { run(pool, fn, ctx, 1); }

void *pk_pool_scratch(pk_pool *pool, size_t bytes) {
    if (bytes <= pool->scratch_cap) return pool->scratch;
    size_t cap = bytes + bytes / 4;
    cap = (cap + 63) / 64 * 64;
    void *p = aligned_alloc(64, cap);
    if (!p) return NULL;
    free(pool->scratch);
    pool->scratch = p;
    pool->scratch_cap = cap;
    return p;
}
