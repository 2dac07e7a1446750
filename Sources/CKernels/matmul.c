// pk_matmul / pk_matmul_batch: check the shapes, prepare the activations once (block sums, 8- or 16-bit
// blocks) in the pool's scratch, then split the rows of every W into chunks that workers take from one
// shared counter, so a worker slowed by another process takes fewer chunks instead of holding everyone
// up, and a batch of small matmuls costs a single dispatch.
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

enum { MODE_DOT, MODE_GEMM, MODE_Q8, MODE_Q16 };

// From this many tokens on, rows are dequantized to f32 once per chunk and multiplied by the f32
// micro-kernel; below, each token takes the fused dequantize-and-dot kernel (or the integer one).
#ifndef GEMM_MIN_T
#define GEMM_MIN_T 3
#endif
// Activation preparation runs on the pool from this many tokens (summed over a batch) on.
#define PARALLEL_PREP_T 16
// Largest batch handled in one dispatch; longer batches are split.
#define MAX_BATCH 16

// One matmul of a job.
typedef struct {
    int ti, mode;
    const uint8_t *w;
    size_t row_bytes;
    int64_t rows, cols, nb, T;
    const float *x;
    float *xsum;           // T × nb, MODE_DOT with Q4_1
    pk_block_q8a *xq;      // T × nb, MODE_Q8
    pk_block_q16a *xq16;   // T × nb, MODE_Q16
    float *y;
    int64_t chunk_rows, nchunks;
    int prep_owner;        // 1 if this matmul prepares its activations, 0 if it shares an earlier one's
} mm;

typedef struct {
    const pk_kernels *k;
    int n;
    mm *mms;
    int64_t first_chunk[MAX_BATCH + 1];  // chunks of mms[i] are [first_chunk[i], first_chunk[i+1])
    uint8_t *thread_scratch;  // MODE_GEMM: per worker, chunk_rows × cols floats (max over the batch)
    size_t thread_scratch_bytes;
    int64_t prep_items;       // Σ T over the matmuls that prepare
    _Alignas(64) _Atomic int64_t next_chunk;
} job;

static void prepare_token(const pk_kernels *k, mm *m, int64_t t) {
    const float *x = m->x + t * m->cols;
    if (m->mode == MODE_Q8) {
        k->quantize_q8a(x, m->xq + t * m->nb, m->cols);
    } else if (m->mode == MODE_Q16) {
        k->quantize_q16a(x, m->xq16 + t * m->nb, m->cols);
    } else if (m->xsum) {
        for (int64_t b = 0; b < m->nb; b++) {
            float s[4] = {0, 0, 0, 0};
            for (int l = 0; l < 32; l++) s[l & 3] += x[b * PK_QK + l];
            m->xsum[t * m->nb + b] = (s[0] + s[1]) + (s[2] + s[3]);
        }
    }
}

// Item i of the flattened (matmul, token) preparation list, i in [0, prep_items).
static void prepare_item(job *j, int64_t i) {
    for (int q = 0; q < j->n; q++) {
        mm *m = &j->mms[q];
        if (!m->prep_owner) continue;
        if (i < m->T) {
            prepare_token(j->k, m, i);
            return;
        }
        i -= m->T;
    }
}

static void prepare_worker(void *ctx, int ith, int nth) {
    job *j = ctx;
    for (int64_t i = ith; i < j->prep_items; i += nth) prepare_item(j, i);
}

static void run_chunk(const job *j, const mm *m, int ith, int64_t c) {
    const pk_kernels *k = j->k;
    const int64_t r0 = c * m->chunk_rows;
    const int64_t n = r0 + m->chunk_rows <= m->rows ? m->chunk_rows : m->rows - r0;
    const uint8_t *w = m->w + (size_t)r0 * m->row_bytes;
    switch (m->mode) {
    case MODE_DOT:
        for (int64_t t = 0; t < m->T; t++)
            k->dot_rows[m->ti](w, m->row_bytes, n, m->x + t * m->cols, m->xsum ? m->xsum + t * m->nb : NULL,
                               m->cols, m->y + t * m->rows + r0);
        break;
    case MODE_Q8:
        for (int64_t t = 0; t < m->T; t++)
            k->dot_q8_rows[m->ti](w, m->row_bytes, n, m->xq + t * m->nb, m->nb, m->y + t * m->rows + r0);
        break;
    case MODE_Q16:
        for (int64_t t = 0; t < m->T; t++)
            k->dot_q16_rows[m->ti](w, m->row_bytes, n, m->xq16 + t * m->nb, m->nb, m->y + t * m->rows + r0);
        break;
    case MODE_GEMM: {
        const float *wf;
        if (m->ti == PK_I_F32) {
            wf = (const float *)w;
        } else {
            float *buf = (float *)(j->thread_scratch + (size_t)ith * j->thread_scratch_bytes);
            k->dequant_rows[m->ti](w, m->row_bytes, n, m->cols, buf);
            wf = buf;
        }
        k->gemm_f32(wf, n, m->x, m->T, m->cols, m->y + r0, m->rows);
        break;
    }
    }
}

static void matmul_worker(void *ctx, int ith, int nth) {
    (void)nth;
    job *j = ctx;
    const int64_t total = j->first_chunk[j->n];
    int q = 0;  // chunks are claimed in increasing order, so the matmul index only moves forward
    for (;;) {
        const int64_t c = atomic_fetch_add_explicit(&j->next_chunk, 1, memory_order_relaxed);
        if (c >= total) break;
        while (c >= j->first_chunk[q + 1]) q++;
        run_chunk(j, &j->mms[q], ith, c - j->first_chunk[q]);
    }
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Validates d and fills m (all but the scratch pointers). Returns 0 or a PK_ERR_* code.
static int setup_mm(const pk_matmul_desc *d, int nth, mm *m) {
    if (!d->w || !d->x || !d->y) return PK_ERR_ARGUMENT;
    int ti;
    size_t block_bytes;
    switch (d->wtype) {
    case PK_TYPE_F32: ti = PK_I_F32; block_bytes = 32 * 4; break;
    case PK_TYPE_F16: ti = PK_I_F16; block_bytes = 32 * 2; break;
    case PK_TYPE_Q4_0: ti = PK_I_Q4_0; block_bytes = sizeof(pk_block_q4_0); break;
    case PK_TYPE_Q4_1: ti = PK_I_Q4_1; block_bytes = sizeof(pk_block_q4_1); break;
    case PK_TYPE_Q8_0: ti = PK_I_Q8_0; block_bytes = sizeof(pk_block_q8_0); break;
    default: return PK_ERR_TYPE;
    }
    if (d->rows <= 0 || d->cols <= 0 || d->T <= 0 || d->cols % PK_QK != 0) return PK_ERR_SHAPE;
    memset(m, 0, sizeof *m);
    m->ti = ti;
    m->w = d->w;
    m->rows = d->rows;
    m->cols = d->cols;
    m->nb = d->cols / PK_QK;
    m->T = d->T;
    m->x = d->x;
    m->y = d->y;
    m->row_bytes = (size_t)m->nb * block_bytes;
    const int quantized = ti != PK_I_F32 && ti != PK_I_F16;
    if (quantized && d->act == PK_ACT_Q8) m->mode = MODE_Q8;
    else if (quantized && d->act == PK_ACT_Q16 && d->T < GEMM_MIN_T) m->mode = MODE_Q16;
    else m->mode = d->T >= GEMM_MIN_T ? MODE_GEMM : MODE_DOT;

    if (m->mode == MODE_GEMM) {
        // Dequantized chunk of ~96 KB f32 in L2, in whole 3-row micro-tiles.
        int64_t cr = 98304 / (m->cols * 4);
        cr = cr < 3 ? 3 : cr / 3 * 3;
        int64_t per_worker = (m->rows + nth - 1) / nth;
        if (cr > per_worker) cr = per_worker < 3 ? 3 : (per_worker + 2) / 3 * 3;
        m->chunk_rows = cr;
    } else {
        // Multiples of 16 rows (a cache line of y), at most ~32 KB of weights (stays in L1 across the
        // tokens of the chunk), and enough chunks for every worker to take several.
        int64_t cr = (int64_t)(32768 / m->row_bytes) / 16 * 16;
        if (cr < 16) cr = 16;
        const int64_t want_chunks = (int64_t)nth * 8;
        int64_t balanced = (m->rows + want_chunks - 1) / want_chunks;
        balanced = (balanced + 15) / 16 * 16;
        if (cr > balanced) cr = balanced;
        m->chunk_rows = cr;
    }
    m->nchunks = (m->rows + m->chunk_rows - 1) / m->chunk_rows;
    return 0;
}

// Bytes of prepared activations m needs (0 if none).
static size_t prep_bytes(const mm *m) {
    switch (m->mode) {
    case MODE_Q8: return align64((size_t)(m->T * m->nb) * sizeof(pk_block_q8a));
    case MODE_Q16: return align64((size_t)(m->T * m->nb) * sizeof(pk_block_q16a));
    case MODE_DOT: return m->ti == PK_I_Q4_1 ? align64((size_t)(m->T * m->nb) * sizeof(float)) : 0;
    default: return 0;
    }
}

// Same activations prepared the same way: the later matmul can read the earlier one's blocks.
static int same_prep(const mm *a, const mm *b) {
    return a->x == b->x && a->cols == b->cols && a->T == b->T && a->mode == b->mode && prep_bytes(a) != 0 &&
           prep_bytes(b) != 0;
}

static int run_batch(pk_pool *pool, int n, const pk_matmul_desc *descs) {
    const int nth = pk_pool_size(pool);
    mm mms[MAX_BATCH];
    job j = {.k = kernels(), .n = n, .mms = mms};
    for (int i = 0; i < n; i++) {
        const int err = setup_mm(&descs[i], nth, &mms[i]);
        if (err) return err;
    }

    // Scratch: prepared activations of each distinct x, then per-worker dequantization buffers.
    size_t need = 0, off[MAX_BATCH], thr = 0;
    int share[MAX_BATCH];
    j.prep_items = 0;
    j.first_chunk[0] = 0;
    for (int i = 0; i < n; i++) {
        mm *m = &mms[i];
        j.first_chunk[i + 1] = j.first_chunk[i] + m->nchunks;
        share[i] = -1;
        off[i] = 0;
        const size_t pb = prep_bytes(m);
        if (!pb) continue;
        for (int p = 0; p < i && share[i] < 0; p++)
            if (mms[p].prep_owner && same_prep(&mms[p], m)) share[i] = p;
        if (share[i] < 0) {
            m->prep_owner = 1;
            off[i] = need;
            need += pb;
            j.prep_items += m->T;
        }
    }
    for (int i = 0; i < n; i++) {
        const mm *m = &mms[i];
        if (m->mode == MODE_GEMM && m->ti != PK_I_F32) {
            const size_t b = align64((size_t)(m->chunk_rows * m->cols) * sizeof(float));
            if (b > thr) thr = b;
        }
    }
    size_t off_thr = need;
    need += thr * (size_t)nth;
    if (need) {
        uint8_t *s = pk_pool_scratch(pool, need);
        if (!s) return PK_ERR_MEMORY;
        for (int i = 0; i < n; i++) {
            mm *m = &mms[i];
            if (!prep_bytes(m)) continue;
            uint8_t *p = share[i] >= 0 ? s + off[share[i]] : s + off[i];
            if (m->mode == MODE_Q8) m->xq = (pk_block_q8a *)p;
            else if (m->mode == MODE_Q16) m->xq16 = (pk_block_q16a *)p;
            else m->xsum = (float *)p;
        }
        j.thread_scratch = s + off_thr;
        j.thread_scratch_bytes = thr;
    }

    if (j.prep_items) {
        if (j.prep_items >= PARALLEL_PREP_T && nth > 1) pk_pool_run(pool, prepare_worker, &j);
        else for (int64_t i = 0; i < j.prep_items; i++) prepare_item(&j, i);
    }
    atomic_init(&j.next_chunk, 0);
    pk_pool_run_dynamic(pool, matmul_worker, &j);
    return 0;
}

int pk_matmul_batch(pk_pool *pool, int n, const pk_matmul_desc *descs) {
    if (!pool || (n > 0 && !descs) || n < 0) return PK_ERR_ARGUMENT;
    // Check everything first so that an error leaves every y untouched.
    const int nth = pk_pool_size(pool);
    for (int i = 0; i < n; i++) {
        mm m;
        const int err = setup_mm(&descs[i], nth, &m);
        if (err) return err;
    }
    for (int i = 0; i < n; i += MAX_BATCH) {
        const int err = run_batch(pool, n - i < MAX_BATCH ? n - i : MAX_BATCH, descs + i);
        if (err) return err;
    }
    return 0;
}

int pk_matmul(pk_pool *pool, int wtype, const void *w, int64_t rows, int64_t cols, const float *x, int64_t T,
              float *y, int act) {
    if (!pool) return PK_ERR_ARGUMENT;
    const pk_matmul_desc d = {.wtype = wtype, .w = w, .rows = rows, .cols = cols, .x = x, .T = T, .y = y, .act = act};
    return run_batch(pool, 1, &d);
}
