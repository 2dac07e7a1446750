// Dense GEMMs for training with the frozen base weight W on one side: c (M, N) (+)= a (M, K) · B, where B
// is W (K, N) or Wᵀ for W (N, K). Two AVX-512 kernels, chosen at run time (pk_gemm_*_available):
//   f32:  AVX-512F FMA; each worker packs a 32-column panel of B into its scratch, then sweeps all rows.
//   bf16: AVX512_BF16 vdpbf16ps with f32 accumulation; B packed once (pk_pack_bf16), a rounded to bf16
//         per call (round to nearest even).
// Work is split over 32-column panels of c, taken from a shared counter on the pool. Row blocks of
// MR rows × 32 columns are accumulated in 2·MR zmm registers.
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "pool_internal.h"

#define NR 32
#define MR 12

static int64_t panels_of(int64_t n) { return (n + NR - 1) / NR; }

size_t pk_pack_bf16_elements(int64_t k, int64_t n) {
    if (k <= 0 || n <= 0) return 0;
    return (size_t)panels_of(n) * (size_t)((k + 1) / 2) * NR * 2;
}

// Portable f32 → bf16, round to nearest even (NaN kept quiet): the same rounding as vcvtne2ps2bf16.
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

// B[k][n] of W: trans != 0 means B = Wᵀ with W (N, K) row-major, else B = W (K, N) row-major.
static inline float b_at(const float *w, int trans, int64_t k, int64_t n, int64_t K, int64_t N) {
    return trans ? w[n * K + k] : w[k * N + n];
}

int pk_pack_bf16(const float *w, int trans, int64_t k, int64_t n, uint16_t *out) {
    if (!w || !out) return PK_ERR_ARGUMENT;
    if (k <= 0 || n <= 0) return PK_ERR_SHAPE;
    const int64_t kp = (k + 1) / 2, np = panels_of(n);
    // panel p, pair q, column j: out[((p · kp + q) · NR + j) · 2 + e] = B[2q + e][p · NR + j]
    for (int64_t p = 0; p < np; p++) {
        for (int64_t q = 0; q < kp; q++) {
            uint16_t *o = out + (size_t)((p * kp + q) * NR) * 2;
            for (int j = 0; j < NR; j++) {
                const int64_t col = p * NR + j;
                for (int e = 0; e < 2; e++) {
                    const int64_t row = 2 * q + e;
                    o[j * 2 + e] = (col < n && row < k) ? f32_to_bf16(b_at(w, trans, row, col, k, n)) : 0;
                }
            }
        }
    }
    return 0;
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static int cpu_flags = -1;  // bit 0: avx512 f32 kernel usable, bit 1: bf16 kernel usable

static int detect(void) {
    int f = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        f |= 1;
        unsigned a, b, c, d;
        // CPUID.(EAX=7, ECX=1):EAX bit 5 = AVX512_BF16
        if (__get_cpuid_max(0, NULL) >= 7) {
            __cpuid_count(7, 1, a, b, c, d);
            if (a & (1u << 5)) f |= 2;
        }
    }
    return f;
}

static int flags(void) {
    int f = __atomic_load_n(&cpu_flags, __ATOMIC_ACQUIRE);
    if (f < 0) {
        f = detect();
        __atomic_store_n(&cpu_flags, f, __ATOMIC_RELEASE);
    }
    return f;
}

int pk_gemm_f32_available(void) { return flags() & 1; }
int pk_gemm_bf16_available(void) { return (flags() & 2) != 0; }

typedef struct {
    int bf16, trans, accumulate;
    int64_t M, N, K;
    const float *w;          // f32: W
    const uint16_t *packed;  // bf16: packed B
    const float *a;          // f32 a (M, K), row stride lda
    const uint16_t *abf;     // bf16 a (M, kp·2), row stride ldab (elements)
    int64_t lda, ldab, ldc;
    float alpha;
    float *c;
    float *scratch;          // f32: per worker NR·K floats
    int64_t npanels;
    _Alignas(64) _Atomic int64_t next;
} gemm_job;

// c[0..mr) × [0..nvalid) (+)= alpha · acc
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline void store_block(float *c, int64_t ldc, int mr, const __m512 *acc, int64_t nvalid, float alpha,
                               int accumulate) {
    const __mmask16 m0 = nvalid >= 16 ? 0xffff : (__mmask16)((1u << nvalid) - 1);
    const __mmask16 m1 = nvalid >= 32 ? 0xffff : nvalid <= 16 ? 0 : (__mmask16)((1u << (nvalid - 16)) - 1);
    const __m512 va = _mm512_set1_ps(alpha);
    for (int i = 0; i < mr; i++) {
        float *row = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(acc[2 * i], va), r1 = _mm512_mul_ps(acc[2 * i + 1], va);
        if (accumulate) {
            r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(m0, row));
            r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(m1, row + 16));
        }
        _mm512_mask_storeu_ps(row, m0, r0);
        _mm512_mask_storeu_ps(row + 16, m1, r1);
    }
}

// acc (mr × 32) = a (mr rows, stride lda) · panel (K × 32 f32)
#define DEF_F32_BLOCK(R)                                                                                     \
    __attribute__((target("avx512f,avx512bw,avx512vl"))) static void f32_block_##R(                        \
        const float *a, int64_t lda, const float *panel, int64_t K, __m512 *out) {                          \
        __m512 acc[2 * R];                                                                                  \
        for (int i = 0; i < 2 * R; i++) acc[i] = _mm512_setzero_ps();                                       \
        for (int64_t k = 0; k < K; k++) {                                                                   \
            const __m512 b0 = _mm512_loadu_ps(panel + k * NR), b1 = _mm512_loadu_ps(panel + k * NR + 16);     \
            for (int i = 0; i < R; i++) {                                                                   \
                const __m512 av = _mm512_set1_ps(a[i * lda + k]);                                           \
                acc[2 * i] = _mm512_fmadd_ps(av, b0, acc[2 * i]);                                           \
                acc[2 * i + 1] = _mm512_fmadd_ps(av, b1, acc[2 * i + 1]);                                   \
            }                                                                                               \
        }                                                                                                   \
        for (int i = 0; i < 2 * R; i++) out[i] = acc[i];                                                    \
    }

// acc (mr × 32) = abf (mr rows, stride ldab bf16) · packed panel (kp pairs × 32 × 2 bf16)
#define DEF_BF16_BLOCK(R)                                                                                    \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void bf16_block_##R(            \
        const uint16_t *a, int64_t ldab, const uint16_t *panel, int64_t kp, __m512 *out) {                  \
        __m512 acc[2 * R];                                                                                  \
        for (int i = 0; i < 2 * R; i++) acc[i] = _mm512_setzero_ps();                                       \
        for (int64_t q = 0; q < kp; q++) {                                                                  \
            const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(panel + q * 64));                \
            const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(panel + q * 64 + 32));           \
            for (int i = 0; i < R; i++) {                                                                   \
                uint32_t pair;                                                                              \
                memcpy(&pair, a + i * ldab + 2 * q, 4);                                                     \
                const __m512bh av = (__m512bh)_mm512_set1_epi32((int)pair);                                 \
                acc[2 * i] = _mm512_dpbf16_ps(acc[2 * i], av, b0);                                          \
                acc[2 * i + 1] = _mm512_dpbf16_ps(acc[2 * i + 1], av, b1);                                  \
            }                                                                                               \
        }                                                                                                   \
        for (int i = 0; i < 2 * R; i++) out[i] = acc[i];                                                    \
    }

#define FOR_EACH_R(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
FOR_EACH_R(DEF_F32_BLOCK)
FOR_EACH_R(DEF_BF16_BLOCK)

typedef void (*f32_block_fn)(const float *, int64_t, const float *, int64_t, __m512 *);
typedef void (*bf16_block_fn)(const uint16_t *, int64_t, const uint16_t *, int64_t, __m512 *);
#define LIST_F32(R) f32_block_##R,
#define LIST_BF16(R) bf16_block_##R,
static const f32_block_fn f32_blocks[MR + 1] = {NULL, FOR_EACH_R(LIST_F32)};
static const bf16_block_fn bf16_blocks[MR + 1] = {NULL, FOR_EACH_R(LIST_BF16)};

// One panel of f32 B (K × 32) into dst, zero-padded past column N.
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void pack_f32_panel(const gemm_job *j, int64_t p, float *dst) {
    const int64_t K = j->K, N = j->N, n0 = p * NR;
    const int64_t nvalid = N - n0 < NR ? N - n0 : NR;
    if (!j->trans) {
        const __mmask16 m0 = nvalid >= 16 ? 0xffff : (__mmask16)((1u << nvalid) - 1);
        const __mmask16 m1 = nvalid >= 32 ? 0xffff : nvalid <= 16 ? 0 : (__mmask16)((1u << (nvalid - 16)) - 1);
        for (int64_t k = 0; k < K; k++) {
            const float *src = j->w + k * N + n0;
            _mm512_storeu_ps(dst + k * NR, _mm512_maskz_loadu_ps(m0, src));
            _mm512_storeu_ps(dst + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
    } else {
        // W (N, K): column n of B is row n of W; transpose 32 rows into the panel.
        for (int64_t jj = 0; jj < NR; jj++) {
            if (jj < nvalid) {
                const float *src = j->w + (n0 + jj) * K;
                for (int64_t k = 0; k < K; k++) dst[k * NR + jj] = src[k];
            } else {
                for (int64_t k = 0; k < K; k++) dst[k * NR + jj] = 0;
            }
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void gemm_worker(void *ctx, int ith, int nth) {
    (void)nth;
    gemm_job *j = ctx;
    __m512 acc[2 * MR];
    for (;;) {
        const int64_t p = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (p >= j->npanels) break;
        const int64_t n0 = p * NR;
        const int64_t nvalid = j->N - n0 < NR ? j->N - n0 : NR;
        float *panel = NULL;
        if (!j->bf16) {
            panel = j->scratch + (size_t)ith * (size_t)(NR * j->K);
            pack_f32_panel(j, p, panel);
        }
        const int64_t kp = (j->K + 1) / 2;
        for (int64_t m = 0; m < j->M; m += MR) {
            const int mr = (int)(j->M - m < MR ? j->M - m : MR);
            if (j->bf16) bf16_blocks[mr](j->abf + m * j->ldab, j->ldab, j->packed + (size_t)(p * kp) * NR * 2, kp, acc);
            else f32_blocks[mr](j->a + m * j->lda, j->lda, panel, j->K, acc);
            store_block(j->c + m * j->ldc + n0, j->ldc, mr, acc, nvalid, j->alpha, j->accumulate);
        }
    }
}

// a (M, K) f32 → bf16 rows of kp·2 elements (the odd tail zeroed)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void convert_rows(const float *a, int64_t M, int64_t K, int64_t lda, uint16_t *out, int64_t ldo) {
    for (int64_t m = 0; m < M; m++) {
        const float *src = a + m * lda;
        uint16_t *dst = out + m * ldo;
        int64_t k = 0;
        for (; k + 32 <= K; k += 32) {
            const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + 16), _mm512_loadu_ps(src + k));
            _mm512_storeu_si512((void *)(dst + k), (__m512i)v);
        }
        for (; k < K; k++) dst[k] = f32_to_bf16(src[k]);
        for (; k < ldo; k++) dst[k] = 0;
    }
}

static int check(pk_pool *pool, const float *a, const float *c, int64_t M, int64_t N, int64_t K, int64_t lda,
                 int64_t ldc) {
    if (!pool || !a || !c) return PK_ERR_ARGUMENT;
    if (M <= 0 || N <= 0 || K <= 0 || lda < K || ldc < N) return PK_ERR_SHAPE;
    return 0;
}

int pk_gemm_f32(pk_pool *pool, const float *w, int trans, const float *a, int64_t M, int64_t N, int64_t K,
                int64_t lda, float alpha, int accumulate, float *c, int64_t ldc) {
    if (!(flags() & 1)) return PK_ERR_ISA;
    if (!w) return PK_ERR_ARGUMENT;
    const int err = check(pool, a, c, M, N, K, lda, ldc);
    if (err) return err;
    const int nth = pk_pool_size(pool);
    float *scratch = pk_pool_scratch(pool, (size_t)nth * NR * (size_t)K * sizeof(float));
    if (!scratch) return PK_ERR_MEMORY;
    gemm_job j = {.bf16 = 0, .trans = trans, .accumulate = accumulate, .M = M, .N = N, .K = K, .w = w, .a = a,
                  .lda = lda, .ldc = ldc, .alpha = alpha, .c = c, .scratch = scratch, .npanels = panels_of(N)};
    atomic_init(&j.next, 0);
    pk_pool_run_dynamic(pool, gemm_worker, &j);
    return 0;
}

int pk_gemm_bf16(pk_pool *pool, const uint16_t *packed, const float *a, int64_t M, int64_t N, int64_t K,
                 int64_t lda, float alpha, int accumulate, float *c, int64_t ldc) {
    if (!(flags() & 2)) return PK_ERR_ISA;
    if (!packed) return PK_ERR_ARGUMENT;
    const int err = check(pool, a, c, M, N, K, lda, ldc);
    if (err) return err;
    const int64_t ldab = (K + 1) / 2 * 2;
    uint16_t *abf = pk_pool_scratch(pool, (size_t)M * (size_t)ldab * sizeof(uint16_t));
    if (!abf) return PK_ERR_MEMORY;
    convert_rows(a, M, K, lda, abf, ldab);
    gemm_job j = {.bf16 = 1, .accumulate = accumulate, .M = M, .N = N, .K = K, .packed = packed, .abf = abf,
                  .ldab = ldab, .ldc = ldc, .alpha = alpha, .c = c, .npanels = panels_of(N)};
    atomic_init(&j.next, 0);
    pk_pool_run_dynamic(pool, gemm_worker, &j);
    return 0;
}

#else  // no AVX-512 kernels in this build

int pk_gemm_f32_available(void) { return 0; }
int pk_gemm_bf16_available(void) { return 0; }
int pk_gemm_f32(pk_pool *pool, const float *w, int trans, const float *a, int64_t M, int64_t N, int64_t K,
                int64_t lda, float alpha, int accumulate, float *c, int64_t ldc) {
    (void)pool; (void)w; (void)trans; (void)a; (void)M; (void)N; (void)K; (void)lda; (void)alpha;
    (void)accumulate; (void)c; (void)ldc;
    return PK_ERR_ISA;
}
int pk_gemm_bf16(pk_pool *pool, const uint16_t *packed, const float *a, int64_t M, int64_t N, int64_t K,
                 int64_t lda, float alpha, int accumulate, float *c, int64_t ldc) {
    (void)pool; (void)packed; (void)a; (void)M; (void)N; (void)K; (void)lda; (void)alpha; (void)accumulate;
    (void)c; (void)ldc;
    return PK_ERR_ISA;
}
#endif
