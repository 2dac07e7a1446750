// pk_matmul: checks the shape, prepares the activations once (block sums or 8-bit blocks) in the pool's
// scratch, then splits the rows of W into chunks that workers take from a shared counter, so a worker
// slowed by another process takes fewer chunks instead of holding everyone up.
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "pool_internal.h"

// ---- dispatch -----------------------------------------------------------------------------------

static _Atomic(const pk_kernels *) active_kernels;

static const pk_kernels *best_kernels(void) {
#if defined(PK_HAVE_AVX2)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return &pk_kernels_avx2;
#endif
#if defined(PK_HAVE_NEON)
    return &pk_kernels_neon;
#endif
    return &pk_kernels_scalar;
}

static const pk_kernels *kernels(void) {
    const pk_kernels *k = atomic_load_explicit(&active_kernels, memory_order_acquire);
    if (k) return k;
    k = best_kernels();  // idempotent, so a race only computes it twice
    atomic_store_explicit(&active_kernels, k, memory_order_release);
    return k;
}

const char *pk_isa_name(void) { return kernels()->name; }

int pk_set_isa(const char *name) {
    const pk_kernels *k = NULL;
    if (!name || strcmp(name, "auto") == 0) k = best_kernels();
    else if (strcmp(name, "scalar") == 0) k = &pk_kernels_scalar;
#if defined(PK_HAVE_AVX2)
    else if (strcmp(name, "avx2") == 0 && best_kernels() == &pk_kernels_avx2) k = &pk_kernels_avx2;
#endif
#if defined(PK_HAVE_NEON)
    else if (strcmp(name, "neon") == 0) k = &pk_kernels_neon;
#endif
    if (!k) return 1;
    atomic_store_explicit(&active_kernels, k, memory_order_release);
    return 0;
}

// ---- matmul driver ------------------------------------------------------------------------------

enum { MODE_DOT, MODE_GEMM, MODE_Q8 };

// From this many tokens on, rows are dequantized to f32 once per chunk and multiplied by the f32
// micro-kernel; below, each token takes the fused dequantize-and-dot kernel.
#ifndef GEMM_MIN_T
#define GEMM_MIN_T 3
#endif
// Activation preparation runs on the pool from this many tokens on.
#define PARALLEL_PREP_T 16

typedef struct {
    const pk_kernels *k;
    int ti, mode;
    const uint8_t *w;
    size_t row_bytes;
    int64_t rows, cols, nb, T;
    const float *x;
    float *xsum;          // T × nb, MODE_DOT with Q4_1
    pk_block_q8a *xq;     // T × nb, MODE_Q8
    float *y;
    int64_t chunk_rows, nchunks;
    uint8_t *thread_scratch;  // MODE_GEMM: per worker, chunk_rows × cols floats
    size_t thread_scratch_bytes;
    _Alignas(64) _Atomic int64_t next_chunk;
} job;

static void prepare_token(job *j, int64_t t) {
    const float *x = j->x + t * j->cols;
    if (j->mode == MODE_Q8) {
        j->k->quantize_q8a(x, j->xq + t * j->nb, j->cols);
    } else if (j->xsum) {
        for (int64_t b = 0; b < j->nb; b++) {
            float s[4] = {0, 0, 0, 0};
            for (int l = 0; l < 32; l++) s[l & 3] += x[b * PK_QK + l];
            j->xsum[t * j->nb + b] = (s[0] + s[1]) + (s[2] + s[3]);
        }
    }
}

static void prepare_worker(void *ctx, int ith, int nth) {
    job *j = ctx;
    for (int64_t t = ith; t < j->T; t += nth) prepare_token(j, t);
}

static void run_chunk(job *j, int ith, int64_t c) {
    const int64_t r0 = c * j->chunk_rows;
    const int64_t n = r0 + j->chunk_rows <= j->rows ? j->chunk_rows : j->rows - r0;
    const uint8_t *w = j->w + (size_t)r0 * j->row_bytes;
    switch (j->mode) {
    case MODE_DOT:
        for (int64_t t = 0; t < j->T; t++)
            j->k->dot_rows[j->ti](w, j->row_bytes, n, j->x + t * j->cols, j->xsum ? j->xsum + t * j->nb : NULL,
                                  j->cols, j->y + t * j->rows + r0);
        break;
    case MODE_Q8:
        for (int64_t t = 0; t < j->T; t++)
            j->k->dot_q8_rows[j->ti](w, j->row_bytes, n, j->xq + t * j->nb, j->nb, j->y + t * j->rows + r0);
        break;
    case MODE_GEMM: {
        const float *wf;
        if (j->ti == PK_I_F32) {
            wf = (const float *)w;
        } else {
            float *buf = (float *)(j->thread_scratch + (size_t)ith * j->thread_scratch_bytes);
            j->k->dequant_rows[j->ti](w, j->row_bytes, n, j->cols, buf);
            wf = buf;
        }
        j->k->gemm_f32(wf, n, j->x, j->T, j->cols, j->y + r0, j->rows);
        break;
    }
    }
}

static void matmul_worker(void *ctx, int ith, int nth) {
    (void)nth;
    job *j = ctx;
    for (;;) {
        const int64_t c = atomic_fetch_add_explicit(&j->next_chunk, 1, memory_order_relaxed);
        if (c >= j->nchunks) break;
        run_chunk(j, ith, c);
    }
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

int pk_matmul(pk_pool *pool, int wtype, const void *w, int64_t rows, int64_t cols, const float *x, int64_t T,
              float *y, int act_q8) {
    if (!pool || !w || !x || !y) return PK_ERR_ARGUMENT;
    int ti;
    size_t block_bytes;
    switch (wtype) {
    case PK_TYPE_F32: ti = PK_I_F32; block_bytes = 32 * 4; break;
    case PK_TYPE_F16: ti = PK_I_F16; block_bytes = 32 * 2; break;
    case PK_TYPE_Q4_0: ti = PK_I_Q4_0; block_bytes = sizeof(pk_block_q4_0); break;
    case PK_TYPE_Q4_1: ti = PK_I_Q4_1; block_bytes = sizeof(pk_block_q4_1); break;
    case PK_TYPE_Q8_0: ti = PK_I_Q8_0; block_bytes = sizeof(pk_block_q8_0); break;
    default: return PK_ERR_TYPE;
    }
    if (rows <= 0 || cols <= 0 || T <= 0 || cols % PK_QK != 0) return PK_ERR_SHAPE;

    const int nth = pk_pool_size(pool);
    job j = {
        .k = kernels(), .ti = ti, .w = w, .rows = rows, .cols = cols, .nb = cols / PK_QK, .T = T, .x = x, .y = y,
    };
    j.row_bytes = (size_t)j.nb * block_bytes;
    const int quantized = ti != PK_I_F32 && ti != PK_I_F16;
    j.mode = act_q8 && quantized ? MODE_Q8 : T >= GEMM_MIN_T ? MODE_GEMM : MODE_DOT;

    // Chunks: multiples of 16 rows (a cache line of y), at most ~32 KB of weights (stays in L1 across
    // the tokens of the chunk), and enough of them for every worker to take several.
    if (j.mode == MODE_GEMM) {
        // Dequantized chunk of ~96 KB f32 in L2, in whole 3-row micro-tiles.
        int64_t cr = 98304 / (cols * 4);
        cr = cr < 3 ? 3 : cr / 3 * 3;
        int64_t per_worker = (rows + nth - 1) / nth;
        if (cr > per_worker) cr = per_worker < 3 ? 3 : (per_worker + 2) / 3 * 3;
        j.chunk_rows = cr;
    } else {
        int64_t cr = (int64_t)(32768 / j.row_bytes) / 16 * 16;
        if (cr < 16) cr = 16;
        const int64_t want_chunks = (int64_t)nth * 8;
        int64_t balanced = (rows + want_chunks - 1) / want_chunks;
        balanced = (balanced + 15) / 16 * 16;
        if (cr > balanced) cr = balanced;
        j.chunk_rows = cr;
    }
    j.nchunks = (rows + j.chunk_rows - 1) / j.chunk_rows;
    atomic_init(&j.next_chunk, 0);

    size_t need = 0, off_xsum = 0, off_xq = 0, off_thr = 0;
    if (j.mode == MODE_DOT && ti == PK_I_Q4_1) {
        off_xsum = need;
        need += align64((size_t)(T * j.nb) * sizeof(float));
    }
    if (j.mode == MODE_Q8) {
        off_xq = need;
        need += align64((size_t)(T * j.nb) * sizeof(pk_block_q8a));
    }
    if (j.mode == MODE_GEMM && ti != PK_I_F32) {
        off_thr = need;
        j.thread_scratch_bytes = align64((size_t)(j.chunk_rows * cols) * sizeof(float));
        need += j.thread_scratch_bytes * (size_t)nth;
    }
    if (need) {
        uint8_t *s = pk_pool_scratch(pool, need);
        if (!s) return PK_ERR_MEMORY;
        if (j.mode == MODE_DOT && ti == PK_I_Q4_1) j.xsum = (float *)(s + off_xsum);
        if (j.mode == MODE_Q8) j.xq = (pk_block_q8a *)(s + off_xq);
        if (j.mode == MODE_GEMM && ti != PK_I_F32) j.thread_scratch = s + off_thr;
    }

    if (j.xsum || j.xq) {
        if (T >= PARALLEL_PREP_T && nth > 1) pk_pool_run(pool, prepare_worker, &j);
        else for (int64_t t = 0; t < T; t++) prepare_token(&j, t);
    }
    pk_pool_run_dynamic(pool, matmul_worker, &j);
    return 0;
}
