// arm64 NEON kernels (baseline ARMv8-A: no dotprod/fp16 arithmetic extensions needed).
// Checked for correctness under qemu-aarch64 user emulation (same tests as the other ISAs); not yet
// measured on arm64 hardware.
#include <math.h>

#include "internal.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define INLINE static inline __attribute__((always_inline))

INLINE float f16(const void *p) {
    __fp16 h;
    memcpy(&h, p, sizeof h);
    return (float)h;
}

// 16 unsigned bytes → four float32x4 (bytes 0..3, 4..7, 8..11, 12..15).
INLINE void u8x16_to_f32(uint8x16_t v, float32x4_t q[4]) {
    const uint16x8_t lo = vmovl_u8(vget_low_u8(v)), hi = vmovl_u8(vget_high_u8(v));
    q[0] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo)));
    q[1] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(lo)));
    q[2] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi)));
    q[3] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(hi)));
}

INLINE void s8x16_to_f32(int8x16_t v, float32x4_t q[4]) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_s8(vget_high_s8(v));
    q[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    q[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
    q[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    q[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
}

// Unscaled weights of block b as eight float32x4 in element order, with scale d and offset m.
INLINE void load_block(int ti, const uint8_t *row, int64_t b, float32x4_t q[8], float *d, float *m) {
    if (ti == PK_I_Q8_0) {
        const pk_block_q8_0 *blk = (const pk_block_q8_0 *)row + b;
        *d = f16(&blk->d);
        *m = 0;
        s8x16_to_f32(vld1q_s8(blk->qs), q);
        s8x16_to_f32(vld1q_s8(blk->qs + 16), q + 4);
        return;
    }
    const uint8_t *qs;
    if (ti == PK_I_Q4_1) {
        const pk_block_q4_1 *blk = (const pk_block_q4_1 *)row + b;
        *d = f16(&blk->d);
        *m = f16(&blk->m);
        qs = blk->qs;
    } else {
        const pk_block_q4_0 *blk = (const pk_block_q4_0 *)row + b;
        *d = f16(&blk->d);
        *m = 0;
        qs = blk->qs;
    }
    const uint8x16_t raw = vld1q_u8(qs);
    const uint8x16_t lo = vandq_u8(raw, vdupq_n_u8(0x0f)), hi = vshrq_n_u8(raw, 4);
    if (ti == PK_I_Q4_0) {
        s8x16_to_f32(vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8)), q);
        s8x16_to_f32(vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8)), q + 4);
    } else {
        u8x16_to_f32(lo, q);
        u8x16_to_f32(hi, q + 4);
    }
}

INLINE void dot_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, const float *x, const float *xsum,
                       int64_t cols, float *y) {
    const int64_t nb = cols / PK_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
        float macc = 0;
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + b * PK_QK;
            float32x4_t q[8];
            float d, m;
            load_block(ti, row, b, q, &d, &m);
            float32x4_t s0 = vmulq_f32(q[0], vld1q_f32(xb));
            float32x4_t s1 = vmulq_f32(q[1], vld1q_f32(xb + 4));
            for (int k = 2; k < 8; k += 2) {
                s0 = vfmaq_f32(s0, q[k], vld1q_f32(xb + 4 * k));
                s1 = vfmaq_f32(s1, q[k + 1], vld1q_f32(xb + 4 * k + 4));
            }
            if (b & 1) acc1 = vfmaq_n_f32(acc1, vaddq_f32(s0, s1), d);
            else acc0 = vfmaq_n_f32(acc0, vaddq_f32(s0, s1), d);
            if (ti == PK_I_Q4_1) macc += m * xsum[b];
        }
        y[r] = vaddvq_f32(vaddq_f32(acc0, acc1)) + macc;
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

INLINE float32x4_t load_wf(int f16w, const uint8_t *row, int64_t k) {
    if (f16w) {
        float16x4_t h;
        memcpy(&h, row + 2 * k, sizeof h);
        return vcvt_f32_f16(h);
    }
    return vld1q_f32((const float *)row + k);
}

INLINE void dot_rows_float(int f16w, const void *w, size_t row_bytes, int64_t nrows, const float *x, int64_t cols,
                           float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float32x4_t a[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
        for (int64_t k = 0; k < cols; k += 16)
            for (int l = 0; l < 4; l++) a[l] = vfmaq_f32(a[l], load_wf(f16w, row, k + 4 * l), vld1q_f32(x + k + 4 * l));
        y[r] = vaddvq_f32(vaddq_f32(vaddq_f32(a[0], a[1]), vaddq_f32(a[2], a[3])));
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

INLINE void dequant_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, int64_t cols, float *out) {
    const int64_t nb = cols / PK_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            float32x4_t q[8];
            float d, m;
            load_block(ti, row, b, q, &d, &m);
            const float32x4_t mv = vdupq_n_f32(m);
            for (int k = 0; k < 8; k++) {
                const float32x4_t v = ti == PK_I_Q4_1 ? vfmaq_n_f32(mv, q[k], d) : vmulq_n_f32(q[k], d);
                vst1q_f32(out + r * cols + b * PK_QK + 4 * k, v);
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
    for (int64_t r = 0; r < n; r++)
        for (int64_t k = 0; k < c; k += 4) vst1q_f32(o + r * c + k, load_wf(1, (const uint8_t *)w + (size_t)r * rb, k));
}

// f32 micro-kernel: R ≤ 4 rows × N ≤ 4 tokens (16 accumulators + 4 + 1 of 32 registers).
INLINE void gemm_tile(const float *w, const float *x, int64_t K, float *y, int64_t ldy, const int R, const int N) {
    float32x4_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < N; t++) acc[r][t] = vdupq_n_f32(0);
    for (int64_t k = 0; k < K; k += 4) {
        float32x4_t wv[4];
        for (int r = 0; r < R; r++) wv[r] = vld1q_f32(w + r * K + k);
        for (int t = 0; t < N; t++) {
            const float32x4_t xv = vld1q_f32(x + t * K + k);
            for (int r = 0; r < R; r++) acc[r][t] = vfmaq_f32(acc[r][t], wv[r], xv);
        }
    }
    for (int t = 0; t < N; t++)
        for (int r = 0; r < R; r++) y[t * ldy + r] = vaddvq_f32(acc[r][t]);
}

#define TILE(R, N) gemm_tile(w + r * K, x + t * K, K, y + t * ldy + r, ldy, R, N)

INLINE void gemm_rows(const float *w, int64_t R, const float *x, int64_t t, const int N, int64_t K, float *y,
                      int64_t ldy) {
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) TILE(4, N);
    switch (R - r) {
    case 3: TILE(3, N); break;
    case 2: TILE(2, N); break;
    case 1: TILE(1, N); break;
    default: break;
    }
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

// Same amax, scale and round-half-even as the scalar version, so the blocks are identical.
static void quantize_q8a(const float *x, pk_block_q8a *out, int64_t cols) {
    for (int64_t b = 0; b < cols / PK_QK; b++) {
        const float *xb = x + b * PK_QK;
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(xb + 4 * k);
            amax = vmaxq_f32(amax, vabsq_f32(v[k]));
        }
        const float d = vmaxvq_f32(amax) / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int32x4_t sum = vdupq_n_s32(0);
        for (int k = 0; k < 8; k += 2) {
            const int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(v[k], id));
            const int32x4_t c = vcvtnq_s32_f32(vmulq_n_f32(v[k + 1], id));
            sum = vaddq_s32(sum, vaddq_s32(a, c));
            const int16x8_t h = vcombine_s16(vqmovn_s32(a), vqmovn_s32(c));
            vst1_s8(out[b].qs + 4 * k, vqmovn_s16(h));
        }
        out[b].d = d;
        out[b].s = d * (float)vaddvq_s32(sum);
    }
}

// Σ of 16 products of int8 pairs (|products| ≤ 2·127·128, so the int16 pair sums cannot overflow).
INLINE int32x4_t dot16(int8x16_t a, int8x16_t b) {
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b));
    return vpaddlq_s16(p);
}

INLINE void dot_q8_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, const pk_block_q8a *xq,
                          int64_t nb, float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float acc = 0, macc = 0;
        for (int64_t b = 0; b < nb; b++) {
            const int8x16_t x0 = vld1q_s8(xq[b].qs), x1 = vld1q_s8(xq[b].qs + 16);
            int32x4_t s;
            float d;
            if (ti == PK_I_Q8_0) {
                const pk_block_q8_0 *blk = (const pk_block_q8_0 *)row + b;
                d = f16(&blk->d);
                s = vaddq_s32(dot16(vld1q_s8(blk->qs), x0), dot16(vld1q_s8(blk->qs + 16), x1));
            } else {
                const uint8_t *qs;
                if (ti == PK_I_Q4_1) {
                    const pk_block_q4_1 *blk = (const pk_block_q4_1 *)row + b;
                    d = f16(&blk->d);
                    macc += f16(&blk->m) * xq[b].s;
                    qs = blk->qs;
                } else {
                    const pk_block_q4_0 *blk = (const pk_block_q4_0 *)row + b;
                    d = f16(&blk->d);
                    macc += -8.0f * d * xq[b].s;
                    qs = blk->qs;
                }
                const uint8x16_t raw = vld1q_u8(qs);
                const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f)));
                const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
                s = vaddq_s32(dot16(lo, x0), dot16(hi, x1));
            }
            acc += d * (xq[b].d * (float)vaddvq_s32(s));
        }
        y[r] = acc + macc;
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

// ---- 16-bit activations (layout: even elements, then odd; see pk_block_q16a) ----

// Σ over 8 lanes of e·xe + o·xo into acc (int16 × int16 → int32, exact).
INLINE int32x4_t mla16(int32x4_t acc, int16x8_t e, int16x8_t x) {
    acc = vmlal_s16(acc, vget_low_s16(e), vget_low_s16(x));
    return vmlal_high_s16(acc, e, x);
}

INLINE void dot_q16_rows_q(int ti, const void *w, size_t row_bytes, int64_t nrows, const pk_block_q16a *xq,
                           int64_t nb, float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float32x4_t acc = vdupq_n_f32(0);
        float macc = 0;
        for (int64_t b = 0; b < nb; b++) {
            // xe0/xo0: elements 0..15 (even / odd), xe1/xo1: elements 16..31.
            const int16x8_t xe0 = vld1q_s16(xq[b].qs), xe1 = vld1q_s16(xq[b].qs + 8);
            const int16x8_t xo0 = vld1q_s16(xq[b].qs + 16), xo1 = vld1q_s16(xq[b].qs + 24);
            int16x8_t e0, o0, e1, o1;
            float d;
            if (ti == PK_I_Q8_0) {
                const pk_block_q8_0 *blk = (const pk_block_q8_0 *)row + b;
                d = f16(&blk->d);
                const int16x8_t w0 = vreinterpretq_s16_s8(vld1q_s8(blk->qs));
                const int16x8_t w1 = vreinterpretq_s16_s8(vld1q_s8(blk->qs + 16));
                e0 = vshrq_n_s16(vshlq_n_s16(w0, 8), 8);
                o0 = vshrq_n_s16(w0, 8);
                e1 = vshrq_n_s16(vshlq_n_s16(w1, 8), 8);
                o1 = vshrq_n_s16(w1, 8);
            } else {
                const uint8_t *qs;
                if (ti == PK_I_Q4_1) {
                    const pk_block_q4_1 *blk = (const pk_block_q4_1 *)row + b;
                    d = f16(&blk->d);
                    macc = fmaf(f16(&blk->m), xq[b].s, macc);
                    qs = blk->qs;
                } else {
                    const pk_block_q4_0 *blk = (const pk_block_q4_0 *)row + b;
                    d = f16(&blk->d);
                    qs = blk->qs;
                }
                const uint8x16_t raw = vld1q_u8(qs);
                const uint16x8_t lo = vreinterpretq_u16_u8(vandq_u8(raw, vdupq_n_u8(0x0f)));  // elements 0..15
                const uint16x8_t hi = vreinterpretq_u16_u8(vshrq_n_u8(raw, 4));               // elements 16..31
                const uint16x8_t mask = vdupq_n_u16(0x00ff);
                e0 = vreinterpretq_s16_u16(vandq_u16(lo, mask));
                o0 = vreinterpretq_s16_u16(vshrq_n_u16(lo, 8));
                e1 = vreinterpretq_s16_u16(vandq_u16(hi, mask));
                o1 = vreinterpretq_s16_u16(vshrq_n_u16(hi, 8));
                if (ti == PK_I_Q4_0) {
                    const int16x8_t eight = vdupq_n_s16(8);
                    e0 = vsubq_s16(e0, eight);
                    o0 = vsubq_s16(o0, eight);
                    e1 = vsubq_s16(e1, eight);
                    o1 = vsubq_s16(o1, eight);
                }
            }
            int32x4_t s = vdupq_n_s32(0);
            s = mla16(s, e0, xe0);
            s = mla16(s, o0, xo0);
            s = mla16(s, e1, xe1);
            s = mla16(s, o1, xo1);
            acc = vfmaq_n_f32(acc, vcvtq_f32_s32(s), d * xq[b].d);
        }
        y[r] = vaddvq_f32(acc) + macc;
    }
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

const pk_kernels pk_kernels_neon = {
    .name = "neon",
    .dot_rows = {dot_rows_f32, dot_rows_f16, dot_rows_q4_0, dot_rows_q4_1, dot_rows_q8_0},
    .dequant_rows = {dequant_rows_f32, dequant_rows_f16, dequant_rows_q4_0, dequant_rows_q4_1, dequant_rows_q8_0},
    .dot_q8_rows = {NULL, NULL, dot_q8_q4_0, dot_q8_q4_1, dot_q8_q8_0},
    .gemm_f32 = gemm_f32,
    .quantize_q8a = quantize_q8a,
    .dot_q16_rows = {NULL, NULL, dot_q16_q4_0, dot_q16_q4_1, dot_q16_q8_0},
    .quantize_q16a = pk_quantize_q16a_portable,
};

#endif
