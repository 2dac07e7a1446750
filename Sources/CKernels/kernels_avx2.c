// AVX2 + FMA + F16C kernels. Every function here carries the target attribute (through the pragma), so
// the file builds with baseline x86-64 flags and only runs after __builtin_cpu_supports said yes.
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

#define INLINE static inline __attribute__((always_inline))

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float f16(const void *p) { return _cvtsh_ss(pk_read_u16(p)); }

// Widening bytes to dwords: in-lane vpshufb from a register holding the 16 bytes in both lanes (the
// cross-lane vpmovzxbd ymm is several times slower on Zen 3). Each byte lands in the top byte of its
// dword, so the int32 is q·2^24 with q's sign; the 2^-24 is folded into the block scale.
#define TOP_BYTE(a, b, c, d) -1, -1, -1, a, -1, -1, -1, b, -1, -1, -1, c, -1, -1, -1, d
INLINE __m256i shuf_lo(void) { return _mm256_setr_epi8(TOP_BYTE(0, 1, 2, 3), TOP_BYTE(4, 5, 6, 7)); }
INLINE __m256i shuf_hi(void) { return _mm256_setr_epi8(TOP_BYTE(8, 9, 10, 11), TOP_BYTE(12, 13, 14, 15)); }
#define INV_2_24 (1.0f / 16777216.0f)

// Kernels that walk several rows side by side prefetch this many row tiles ahead (see dot_q16_tile).
#define PF_TILES 2
INLINE void prefetch_span(const uint8_t *p, size_t bytes) {
    for (size_t o = 0; o < bytes + 63; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}

// 16 signed bytes (both lanes) → q[0] = bytes 0..7, q[1] = bytes 8..15 as floats times 2^24.
INLINE void bytes16_to_f32(__m256i v, __m256 q[2]) {
    q[0] = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, shuf_lo()));
    q[1] = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, shuf_hi()));
}

// The 32 nibbles of a Q4 block as floats times 2^24, in element order: q[0] = elements 0..7, …,
// q[3] = 24..31. sub8 subtracts 8 first (Q4_0).
INLINE void nibbles_to_f32(const uint8_t *qs, int sub8, __m256 q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    __m256i lo = _mm256_and_si256(raw, m4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    if (sub8) {
        lo = _mm256_sub_epi8(lo, _mm256_set1_epi8(8));
        hi = _mm256_sub_epi8(hi, _mm256_set1_epi8(8));
    }
    bytes16_to_f32(lo, q);
    bytes16_to_f32(hi, q + 2);
}

INLINE void int8_to_f32(const int8_t *qs, __m256 q[4]) {
    bytes16_to_f32(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs)), q);
    bytes16_to_f32(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(qs + 16))), q + 2);
}

// Weights of block b as floats times 2^24 (callers scale by 2^-24 once), with its scale d (and offset m for Q4_1, else 0).
INLINE void load_block(int ti, const uint8_t *row, int64_t b, __m256 q[4], float *d, float *m) {
    switch (ti) {
    case PK_I_Q4_0: {
        const pk_block_q4_0 *blk = (const pk_block_q4_0 *)row + b;
        *d = f16(&blk->d);
        *m = 0;
        nibbles_to_f32(blk->qs, 1, q);
        break;
    }
    case PK_I_Q4_1: {
        const pk_block_q4_1 *blk = (const pk_block_q4_1 *)row + b;
        uint32_t dm;
        memcpy(&dm, blk, 4);
        const __m128 dmf = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
        *d = _mm_cvtss_f32(dmf);
        *m = _mm_cvtss_f32(_mm_movehdup_ps(dmf));
        nibbles_to_f32(blk->qs, 0, q);
        break;
    }
    default: {  // PK_I_Q8_0
        const pk_block_q8_0 *blk = (const pk_block_q8_0 *)row + b;
        *d = f16(&blk->d);
        *m = 0;
        int8_to_f32(blk->qs, q);
        break;
    }
    }
}

// f32 activations, quantized weights: Σ_b d_b Σ_j q_j x_j (+ m_b Σ_j x_j for Q4_1, from xsum).
// Two rows at a time share the x loads and give two independent accumulator chains.
INLINE void dot_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, const float *x, const float *xsum,
                       int64_t cols, float *y) {
    const int64_t nb = cols / PK_QK;
    int64_t r = 0;
    for (; r + 2 <= nrows; r += 2) {
        const uint8_t *row0 = (const uint8_t *)w + (size_t)r * row_bytes;
        const uint8_t *row1 = row0 + row_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        float macc0 = 0, macc1 = 0;
        const size_t bb = row_bytes / (size_t)nb;
        const uint8_t *pf = row0 + (size_t)PF_TILES * 2 * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            prefetch_span(pf, 2 * bb);  // two interleaved row streams: see dot_q16_tile
            pf += 2 * bb;
            const float *xb = x + b * PK_QK;
            const __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8);
            const __m256 x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);
            __m256 q[4];
            float d, m;
            load_block(ti, row0, b, q, &d, &m);
            __m256 s01 = _mm256_fmadd_ps(q[1], x1, _mm256_mul_ps(q[0], x0));
            __m256 s23 = _mm256_fmadd_ps(q[3], x3, _mm256_mul_ps(q[2], x2));
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_add_ps(s01, s23), acc0);
            if (ti == PK_I_Q4_1) macc0 = __builtin_fmaf(m, xsum[b], macc0);
            load_block(ti, row1, b, q, &d, &m);
            s01 = _mm256_fmadd_ps(q[1], x1, _mm256_mul_ps(q[0], x0));
            s23 = _mm256_fmadd_ps(q[3], x3, _mm256_mul_ps(q[2], x2));
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_add_ps(s01, s23), acc1);
            if (ti == PK_I_Q4_1) macc1 = __builtin_fmaf(m, xsum[b], macc1);
        }
        y[r] = hsum(acc0) * INV_2_24 + macc0;
        y[r + 1] = hsum(acc1) * INV_2_24 + macc1;
    }
    for (; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        float macc = 0;
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + b * PK_QK;
            __m256 q[4];
            float d, m;
            load_block(ti, row, b, q, &d, &m);
            __m256 s01 = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xb + 8), _mm256_mul_ps(q[0], _mm256_loadu_ps(xb)));
            __m256 s23 = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), _mm256_mul_ps(q[2], _mm256_loadu_ps(xb + 16)));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_add_ps(s01, s23), acc);
            if (ti == PK_I_Q4_1) macc = __builtin_fmaf(m, xsum[b], macc);
        }
        y[r] = hsum(acc) * INV_2_24 + macc;
    }
}

static void dot_rows_q4_0(const void *w, size_t rb, int64_t n, const float *x, const float *xs, int64_t c, float *y) {
    dot_rows_q(PK_I_Q4_0, w, rb, n, x, xs, c, y);
}
static void dot_rows_q4_1(const void *w, size_t rb, int64_t n, const float *x, const float *xs, int64_t c, float *y) {
    dot_rows_q(PK_I_Q4_1, w, rb, n, x, xs, c, y);
}
static void dot_rows_q8_0(const void *w, size_t rb, int64_t n, const float *x, const float *xs, int64_t c, float *y) {
    dot_rows_q(PK_I_Q8_0, w, rb, n, x, xs, c, y);
}

// F32/F16 weights: four accumulators over 32-element steps.
INLINE __m256 load_wf(int f16w, const uint8_t *row, int64_t k) {
    if (f16w) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * k)));
    return _mm256_loadu_ps((const float *)row + k);
}

INLINE void dot_rows_float(int f16w, const void *w, size_t row_bytes, int64_t nrows, const float *x, int64_t cols,
                           float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < cols; k += 32) {
            a0 = _mm256_fmadd_ps(load_wf(f16w, row, k), _mm256_loadu_ps(x + k), a0);
            a1 = _mm256_fmadd_ps(load_wf(f16w, row, k + 8), _mm256_loadu_ps(x + k + 8), a1);
            a2 = _mm256_fmadd_ps(load_wf(f16w, row, k + 16), _mm256_loadu_ps(x + k + 16), a2);
            a3 = _mm256_fmadd_ps(load_wf(f16w, row, k + 24), _mm256_loadu_ps(x + k + 24), a3);
        }
        y[r] = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
}

static void dot_rows_f32(const void *w, size_t rb, int64_t n, const float *x, const float *xs, int64_t c, float *y) {
    (void)xs;
    dot_rows_float(0, w, rb, n, x, c, y);
}
static void dot_rows_f16(const void *w, size_t rb, int64_t n, const float *x, const float *xs, int64_t c, float *y) {
    (void)xs;
    dot_rows_float(1, w, rb, n, x, c, y);
}

// Dequantization to f32 rows (the T > 1 path): value = d*q + m in one rounding, like ggml's dequantize.
INLINE void dequant_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, int64_t cols, float *out) {
    const int64_t nb = cols / PK_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float *o = out + r * cols;
        for (int64_t b = 0; b < nb; b++) {
            __m256 q[4];
            float d, m;
            load_block(ti, row, b, q, &d, &m);
            const __m256 dv = _mm256_set1_ps(d * INV_2_24), mv = _mm256_set1_ps(m);
            for (int k = 0; k < 4; k++) {
                const __m256 v = ti == PK_I_Q4_1 ? _mm256_fmadd_ps(q[k], dv, mv) : _mm256_mul_ps(q[k], dv);
                _mm256_storeu_ps(o + b * PK_QK + 8 * k, v);
            }
        }
    }
}

static void dequant_rows_q4_0(const void *w, size_t rb, int64_t n, int64_t c, float *o) { dequant_rows_q(PK_I_Q4_0, w, rb, n, c, o); }
static void dequant_rows_q4_1(const void *w, size_t rb, int64_t n, int64_t c, float *o) { dequant_rows_q(PK_I_Q4_1, w, rb, n, c, o); }
static void dequant_rows_q8_0(const void *w, size_t rb, int64_t n, int64_t c, float *o) { dequant_rows_q(PK_I_Q8_0, w, rb, n, c, o); }

static void dequant_rows_f32(const void *w, size_t rb, int64_t n, int64_t c, float *o) {
    for (int64_t r = 0; r < n; r++) memcpy(o + r * c, (const uint8_t *)w + (size_t)r * rb, (size_t)c * sizeof(float));
}
static void dequant_rows_f16(const void *w, size_t rb, int64_t n, int64_t c, float *o) {
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        for (int64_t k = 0; k < c; k += 8) _mm256_storeu_ps(o + r * c + k, load_wf(1, row, k));
    }
}

// f32 micro-kernel: R ≤ 3 rows × N ≤ 4 tokens of accumulators stay in registers (12 + 3 + 1 of 16).
INLINE void gemm_tile(const float *w, const float *x, int64_t K, float *y, int64_t ldy, const int R, const int N) {
    __m256 acc[3][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < N; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k += 8) {
        __m256 wv[3];
        for (int r = 0; r < R; r++) wv[r] = _mm256_loadu_ps(w + r * K + k);
        for (int t = 0; t < N; t++) {
            const __m256 xv = _mm256_loadu_ps(x + t * K + k);
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int t = 0; t < N; t++)
        for (int r = 0; r < R; r++) y[t * ldy + r] = hsum(acc[r][t]);
}

#define TILE(R, N) gemm_tile(w + r * K, x + t * K, K, y + t * ldy + r, ldy, R, N)

INLINE void gemm_rows(const float *w, int64_t R, const float *x, int64_t t, const int N, int64_t K, float *y,
                      int64_t ldy) {
    int64_t r = 0;
    for (; r + 3 <= R; r += 3) TILE(3, N);
    if (R - r == 2) TILE(2, N);
    else if (R - r == 1) TILE(1, N);
}

static void gemm_f32(const float *w, int64_t R, const float *x, int64_t N, int64_t K, float *y, int64_t ldy) {
    int64_t t = 0;
    for (; t + 4 <= N; t += 4) gemm_rows(w, R, x, t, 4, K, y, ldy);
    switch (N - t) {
    case 3: gemm_rows(w, R, x, t, 3, K, y, ldy); break;
    case 2: gemm_rows(w, R, x, t, 2, K, y, ldy); break;
    case 1: gemm_rows(w, R, x, t, 1, K, y, ldy); break;
    default: break;
    }
}

// Activation quantization, bit-identical to the scalar version (same amax, scale and rounding).
static void quantize_q8a(const float *x, pk_block_q8a *out, int64_t cols) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < cols / PK_QK; b++) {
        const float *xb = x + b * PK_QK;
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(
                _mm256_round_ps(_mm256_mul_ps(v[k], idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s = _mm_hadd_epi32(s, s);
        s = _mm_hadd_epi32(s, s);
        const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
        const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
        const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), perm);
        _mm256_storeu_si256((__m256i *)out[b].qs, p);
        out[b].d = d;
        out[b].s = d * (float)_mm_cvtsi128_si32(s);
    }
}

// Integer dots: u8 × i8 pairs (maddubs) → i16, pairs → i32 (madd with ones), then float per block.
INLINE __m256i q4_bytes(const uint8_t *qs) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

INLINE __m256 block_dot_u8(__m256i wu8, __m256i xi8) {
    const __m256i p16 = _mm256_maddubs_epi16(wu8, xi8);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

INLINE void dot_q8_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, const pk_block_q8a *xq,
                          int64_t nb, float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        float macc = 0;
        for (int64_t b = 0; b < nb; b++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)xq[b].qs);
            __m256 p;
            float d;
            if (ti == PK_I_Q4_0) {
                const pk_block_q4_0 *blk = (const pk_block_q4_0 *)row + b;
                d = f16(&blk->d);
                p = block_dot_u8(q4_bytes(blk->qs), xv);
                macc = __builtin_fmaf(-8.0f * d, xq[b].s, macc);
            } else if (ti == PK_I_Q4_1) {
                const pk_block_q4_1 *blk = (const pk_block_q4_1 *)row + b;
                d = f16(&blk->d);
                p = block_dot_u8(q4_bytes(blk->qs), xv);
                macc = __builtin_fmaf(f16(&blk->m), xq[b].s, macc);
            } else {
                const pk_block_q8_0 *blk = (const pk_block_q8_0 *)row + b;
                d = f16(&blk->d);
                const __m256i wv = _mm256_loadu_si256((const __m256i *)blk->qs);
                p = block_dot_u8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
            }
            const __m256 scale = _mm256_set1_ps(d * xq[b].d);
            if (b & 1) acc1 = _mm256_fmadd_ps(scale, p, acc1);
            else acc0 = _mm256_fmadd_ps(scale, p, acc0);
        }
        y[r] = hsum(_mm256_add_ps(acc0, acc1)) + macc;
    }
}

static void dot_q8_q4_0(const void *w, size_t rb, int64_t n, const pk_block_q8a *xq, int64_t nb, float *y) {
    dot_q8_rows_q(PK_I_Q4_0, w, rb, n, xq, nb, y);
}
static void dot_q8_q4_1(const void *w, size_t rb, int64_t n, const pk_block_q8a *xq, int64_t nb, float *y) {
    dot_q8_rows_q(PK_I_Q4_1, w, rb, n, xq, nb, y);
}
static void dot_q8_q8_0(const void *w, size_t rb, int64_t n, const pk_block_q8a *xq, int64_t nb, float *y) {
    dot_q8_rows_q(PK_I_Q8_0, w, rb, n, xq, nb, y);
}

// ---- 16-bit activations ----

// Bit-identical to pk_quantize_q16a_portable: same amax, scale, rounding (cvtps uses round-to-nearest-
// even), and the block sum in the same order (four partial sums over elements l ≡ 0..3 mod 4).
static void quantize_q16a(const float *x, pk_block_q16a *out, int64_t cols) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i evens_first = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256 lim = _mm256_set1_ps(32767.0f);
    for (int64_t b = 0; b < cols / PK_QK; b++) {
        const float *xb = x + b * PK_QK;
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 32767.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const __m256 idv = _mm256_set1_ps(id);
        // Sequential sum of the eight 4-element groups, then (s0 + s1) + (s2 + s3).
        __m128 s4 = _mm256_castps256_ps128(v[0]);
        s4 = _mm_add_ps(s4, _mm256_extractf128_ps(v[0], 1));
        for (int k = 1; k < 4; k++) {
            s4 = _mm_add_ps(s4, _mm256_castps256_ps128(v[k]));
            s4 = _mm_add_ps(s4, _mm256_extractf128_ps(v[k], 1));
        }
        const __m128 pairs = _mm_add_ps(s4, _mm_movehdup_ps(s4));  // (s0+s1, _, s2+s3, _)
        const float sum = _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehl_ps(pairs, pairs)));
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 t = _mm256_mul_ps(v[k], idv);
            t = _mm256_max_ps(_mm256_min_ps(t, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
            // each group of 8 → its even elements in the low lane, odd ones in the high lane
            q[k] = _mm256_permutevar8x32_epi32(_mm256_cvtps_epi32(t), evens_first);
        }
        // packs works per 128-bit lane: lane 0 gets [a.lo, b.lo], lane 1 [a.hi, b.hi].
        const __m256i ev02 = _mm256_permute2x128_si256(q[0], q[2], 0x20), od02 = _mm256_permute2x128_si256(q[0], q[2], 0x31);
        const __m256i ev13 = _mm256_permute2x128_si256(q[1], q[3], 0x20), od13 = _mm256_permute2x128_si256(q[1], q[3], 0x31);
        _mm256_storeu_si256((__m256i *)out[b].qs, _mm256_packs_epi32(ev02, ev13));
        _mm256_storeu_si256((__m256i *)(out[b].qs + 16), _mm256_packs_epi32(od02, od13));
        out[b].d = d;
        out[b].s = sum;
    }
}

// One weight block as two vectors of 16-bit lanes matching the activation layout: e = even elements
// (0, 2, …, 30), o = odd ones. Q4: the 16 bytes go to both lanes, the high lane shifted by 4 (vpsrlvd,
// in-lane) so that the low nibbles of lane 0 are elements 0..15 and those of lane 1 elements 16..31;
// then the low byte of each 16-bit pair is an even element and the high byte the next odd one.
INLINE void q16_weights(int ti, const uint8_t *blk, __m256i *e, __m256i *o) {
    if (ti == PK_I_Q8_0) {
        const __m256i wv = _mm256_loadu_si256((const __m256i *)((const pk_block_q8_0 *)blk)->qs);
        *e = _mm256_srai_epi16(_mm256_slli_epi16(wv, 8), 8);
        *o = _mm256_srai_epi16(wv, 8);
        return;
    }
    const uint8_t *qs = ti == PK_I_Q4_1 ? ((const pk_block_q4_1 *)blk)->qs : ((const pk_block_q4_0 *)blk)->qs;
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i v = _mm256_srlv_epi32(raw, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    const __m256i m4 = _mm256_set1_epi16(0x000f);
    *e = _mm256_and_si256(v, m4);
    *o = _mm256_and_si256(_mm256_srli_epi16(v, 8), m4);
    if (ti == PK_I_Q4_0) {
        *e = _mm256_sub_epi16(*e, _mm256_set1_epi16(8));
        *o = _mm256_sub_epi16(*o, _mm256_set1_epi16(8));
    }
}

// (d, m) of a weight block as the low two floats (m = 0 but for Q4_1).
INLINE __m128 q16_scales(int ti, const uint8_t *blk) {
    if (ti == PK_I_Q4_1) {
        uint32_t dm;
        memcpy(&dm, blk, 4);
        return _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
    }
    return _mm_cvtph_ps(_mm_cvtsi32_si128(pk_read_u16(blk)));
}

// R rows (≤ 4) over all nb blocks; the activation block loads are shared by the rows.
// Per block and row: Σ q·X in int32 lanes (vpmaddwd, exact), converted once, scaled by d_w·d_x; Q4_1 adds
// m_w·Σx through lane 1 of the product (d_w, m_w)·(d_x, Σx), lane 0 zeroed.
INLINE void dot_q16_tile(int ti, const int R, const uint8_t *row0, size_t row_bytes, const pk_block_q16a *xq,
                         int64_t nb, float *y) {
    const size_t bb = ti == PK_I_Q4_0 ? sizeof(pk_block_q4_0) : ti == PK_I_Q4_1 ? sizeof(pk_block_q4_1)
                                                                                 : sizeof(pk_block_q8_0);
    __m256 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    // The R rows are read as R short interleaved streams, which the hardware prefetchers follow badly
    // when the weights come from DRAM (measured: the 49152-row Q8_0 output took 2-3× longer than a
    // row-at-a-time scan): prefetch the rows PF_TILES tiles ahead, spread over the blocks.
    const uint8_t *pf = row0 + (size_t)PF_TILES * R * row_bytes;
    const size_t pf_step = (size_t)R * bb;
    for (int64_t b = 0; b < nb; b++) {
        prefetch_span(pf, pf_step);
        pf += pf_step;
        const __m256i xe = _mm256_loadu_si256((const __m256i *)xq[b].qs);
        const __m256i xo = _mm256_loadu_si256((const __m256i *)(xq[b].qs + 16));
        const __m128 ds = _mm_castpd_ps(_mm_load_sd((const double *)&xq[b].d));  // (d_x, Σx, 0, 0)
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = row0 + (size_t)r * row_bytes + (size_t)b * bb;
            __m256i e, o;
            q16_weights(ti, blk, &e, &o);
            const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(e, xe), _mm256_madd_epi16(o, xo));
            const __m128 sc = _mm_mul_ps(q16_scales(ti, blk), ds);
            acc[r] = _mm256_fmadd_ps(_mm256_broadcastss_ps(sc), _mm256_cvtepi32_ps(p), acc[r]);
            if (ti == PK_I_Q4_1) acc[r] = _mm256_add_ps(acc[r], _mm256_zextps128_ps256(_mm_insert_ps(sc, sc, 0x01)));
        }
    }
    for (int r = 0; r < R; r++) y[r] = hsum(acc[r]);
}

INLINE void dot_q16_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, const pk_block_q16a *xq,
                           int64_t nb, float *y) {
    int64_t r = 0;
    for (; r + 4 <= nrows; r += 4) dot_q16_tile(ti, 4, (const uint8_t *)w + (size_t)r * row_bytes, row_bytes, xq, nb, y + r);
    for (; r < nrows; r++) dot_q16_tile(ti, 1, (const uint8_t *)w + (size_t)r * row_bytes, row_bytes, xq, nb, y + r);
}

static void dot_q16_q4_0(const void *w, size_t rb, int64_t n, const pk_block_q16a *xq, int64_t nb, float *y) {
    dot_q16_rows_q(PK_I_Q4_0, w, rb, n, xq, nb, y);
}
static void dot_q16_q4_1(const void *w, size_t rb, int64_t n, const pk_block_q16a *xq, int64_t nb, float *y) {
    dot_q16_rows_q(PK_I_Q4_1, w, rb, n, xq, nb, y);
}
static void dot_q16_q8_0(const void *w, size_t rb, int64_t n, const pk_block_q16a *xq, int64_t nb, float *y) {
    dot_q16_rows_q(PK_I_Q8_0, w, rb, n, xq, nb, y);
}

const pk_kernels pk_kernels_avx2 = {
    .name = "avx2",
    .dot_rows = {dot_rows_f32, dot_rows_f16, dot_rows_q4_0, dot_rows_q4_1, dot_rows_q8_0},
    .dequant_rows = {dequant_rows_f32, dequant_rows_f16, dequant_rows_q4_0, dequant_rows_q4_1, dequant_rows_q8_0},
    .dot_q8_rows = {NULL, NULL, dot_q8_q4_0, dot_q8_q4_1, dot_q8_q8_0},
    .gemm_f32 = gemm_f32,
    .quantize_q8a = quantize_q8a,
    .dot_q16_rows = {NULL, NULL, dot_q16_q4_0, dot_q16_q4_1, dot_q16_q8_0},
    .quantize_q16a = quantize_q16a,
};

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif
