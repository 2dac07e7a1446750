// Portable kernels: the fallback on every CPU, and the baseline the SIMD paths are tested against.
#include <math.h>

#include "internal.h"

// Dequantizes one 32-block of any type to f32. F32/F16 "blocks" are 32 consecutive elements.
static inline void deq_block(int ti, const uint8_t *blk, float *out) {
    switch (ti) {
    case PK_I_F32:
        memcpy(out, blk, 32 * sizeof(float));
        break;
    case PK_I_F16:
        for (int j = 0; j < 32; j++) out[j] = pk_f16_to_f32(pk_read_u16(blk + 2 * j));
        break;
    case PK_I_Q4_0: {
        const pk_block_q4_0 *b = (const pk_block_q4_0 *)blk;
        float d = pk_f16_to_f32(pk_read_u16(&b->d));
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)((b->qs[j] & 0x0f) - 8);
            out[j + 16] = d * (float)((b->qs[j] >> 4) - 8);
        }
        break;
    }
    case PK_I_Q4_1: {
        const pk_block_q4_1 *b = (const pk_block_q4_1 *)blk;
        float d = pk_f16_to_f32(pk_read_u16(&b->d));
        float m = pk_f16_to_f32(pk_read_u16(&b->m));
        for (int j = 0; j < 16; j++) {
            out[j] = fmaf(d, (float)(b->qs[j] & 0x0f), m);
            out[j + 16] = fmaf(d, (float)(b->qs[j] >> 4), m);
        }
        break;
    }
    case PK_I_Q8_0: {
        const pk_block_q8_0 *b = (const pk_block_q8_0 *)blk;
        float d = pk_f16_to_f32(pk_read_u16(&b->d));
        for (int j = 0; j < 32; j++) out[j] = d * (float)b->qs[j];
        break;
    }
    }
}

static const size_t block_bytes[PK_I_COUNT] = {
    [PK_I_F32] = 32 * 4, [PK_I_F16] = 32 * 2, [PK_I_Q4_0] = 18, [PK_I_Q4_1] = 20, [PK_I_Q8_0] = 34,
};

// Eight partial sums keep the error of long rows near that of a pairwise sum.
static inline void dot32(const float *a, const float *b, float acc[8]) {
    for (int j = 0; j < 32; j += 8)
        for (int l = 0; l < 8; l++) acc[l] = fmaf(a[j + l], b[j + l], acc[l]);
}

static inline float sum8(const float acc[8]) {
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static inline void dot_rows_generic(int ti, const void *w, size_t row_bytes, int64_t nrows, const float *x,
                                    int64_t cols, float *y) {
    const int64_t nb = cols / PK_QK;
    float tmp[32];
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            deq_block(ti, row + (size_t)b * block_bytes[ti], tmp);
            dot32(tmp, x + b * PK_QK, acc);
        }
        y[r] = sum8(acc);
    }
}

#define DOT_ROWS(NAME, TI)                                                                              \
    static void NAME(const void *w, size_t row_bytes, int64_t nrows, const float *x, const float *xsum, \
                     int64_t cols, float *y) {                                                          \
        (void)xsum;                                                                                     \
        dot_rows_generic(TI, w, row_bytes, nrows, x, cols, y);                                          \
    }
DOT_ROWS(dot_rows_f32, PK_I_F32)
DOT_ROWS(dot_rows_f16, PK_I_F16)
DOT_ROWS(dot_rows_q4_0, PK_I_Q4_0)
DOT_ROWS(dot_rows_q4_1, PK_I_Q4_1)
DOT_ROWS(dot_rows_q8_0, PK_I_Q8_0)

static inline void dequant_rows_generic(int ti, const void *w, size_t row_bytes, int64_t nrows, int64_t cols,
                                        float *out) {
    const int64_t nb = cols / PK_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb; b++) deq_block(ti, row + (size_t)b * block_bytes[ti], out + r * cols + b * PK_QK);
    }
}

#define DEQUANT_ROWS(NAME, TI)                                                                         \
    static void NAME(const void *w, size_t row_bytes, int64_t nrows, int64_t cols, float *out) {       \
        dequant_rows_generic(TI, w, row_bytes, nrows, cols, out);                                      \
    }
DEQUANT_ROWS(dequant_rows_f32, PK_I_F32)
DEQUANT_ROWS(dequant_rows_f16, PK_I_F16)
DEQUANT_ROWS(dequant_rows_q4_0, PK_I_Q4_0)
DEQUANT_ROWS(dequant_rows_q4_1, PK_I_Q4_1)
DEQUANT_ROWS(dequant_rows_q8_0, PK_I_Q8_0)

static void gemm_f32(const float *w, int64_t R, const float *x, int64_t N, int64_t K, float *y, int64_t ldy) {
    for (int64_t t = 0; t < N; t++) {
        for (int64_t r = 0; r < R; r++) {
            float acc[8] = {0};
            for (int64_t k = 0; k < K; k += 32) dot32(w + r * K + k, x + t * K + k, acc);
            y[t * ldy + r] = sum8(acc);
        }
    }
}

// Round half to even, as the SIMD paths' round instructions do, so every ISA makes the same blocks.
static void quantize_q8a(const float *x, pk_block_q8a *out, int64_t cols) {
    for (int64_t b = 0; b < cols / PK_QK; b++) {
        const float *xb = x + b * PK_QK;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(xb[j] * id);
            out[b].qs[j] = (int8_t)q;
            sum += q;
        }
        out[b].d = d;
        out[b].s = d * (float)sum;
    }
}

// Integer dot of one weight block with one activation block.
static void dot_q8_q4_0(const void *w, size_t row_bytes, int64_t nrows, const pk_block_q8a *xq, int64_t nb,
                        float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const pk_block_q4_0 *row = (const pk_block_q4_0 *)((const uint8_t *)w + (size_t)r * row_bytes);
        float acc = 0;
        for (int64_t b = 0; b < nb; b++) {
            int s = 0;
            for (int j = 0; j < 16; j++) {
                s += (row[b].qs[j] & 0x0f) * xq[b].qs[j];
                s += (row[b].qs[j] >> 4) * xq[b].qs[j + 16];
            }
            const float d = pk_f16_to_f32(pk_read_u16(&row[b].d));
            acc += d * (xq[b].d * (float)s) - 8.0f * d * xq[b].s;
        }
        y[r] = acc;
    }
}

static void dot_q8_q4_1(const void *w, size_t row_bytes, int64_t nrows, const pk_block_q8a *xq, int64_t nb,
                        float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const pk_block_q4_1 *row = (const pk_block_q4_1 *)((const uint8_t *)w + (size_t)r * row_bytes);
        float acc = 0;
        for (int64_t b = 0; b < nb; b++) {
            int s = 0;
            for (int j = 0; j < 16; j++) {
                s += (row[b].qs[j] & 0x0f) * xq[b].qs[j];
                s += (row[b].qs[j] >> 4) * xq[b].qs[j + 16];
            }
            const float d = pk_f16_to_f32(pk_read_u16(&row[b].d));
            const float m = pk_f16_to_f32(pk_read_u16(&row[b].m));
            acc += d * (xq[b].d * (float)s) + m * xq[b].s;
        }
        y[r] = acc;
    }
}

static void dot_q8_q8_0(const void *w, size_t row_bytes, int64_t nrows, const pk_block_q8a *xq, int64_t nb,
                        float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const pk_block_q8_0 *row = (const pk_block_q8_0 *)((const uint8_t *)w + (size_t)r * row_bytes);
        float acc = 0;
        for (int64_t b = 0; b < nb; b++) {
            int s = 0;
            for (int j = 0; j < 32; j++) s += row[b].qs[j] * xq[b].qs[j];
            acc += pk_f16_to_f32(pk_read_u16(&row[b].d)) * (xq[b].d * (float)s);
        }
        y[r] = acc;
    }
}

// ---- 16-bit activations ----

// Round half to even like the SIMD converts; |x·id| ≤ 32767 up to rounding of id, clamped anyway.
// The block sum adds in four interleaved partial sums in this exact order (the AVX2 version matches it).
void pk_quantize_q16a_portable(const float *x, pk_block_q16a *out, int64_t cols) {
    for (int64_t b = 0; b < cols / PK_QK; b++) {
        const float *xb = x + b * PK_QK;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 32767.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        float s[4] = {0, 0, 0, 0};
        for (int l = 0; l < 32; l++) s[l & 3] += xb[l];
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(xb[j] * id);
            q = q > 32767 ? 32767 : q < -32767 ? -32767 : q;
            out[b].qs[(j & 1) * 16 + (j >> 1)] = (int16_t)q;
        }
        out[b].d = d;
        out[b].s = (s[0] + s[1]) + (s[2] + s[3]);
    }
}

// Weight element j of a block as an integer (Q4_0 with its -8).
static inline int wq(int ti, const uint8_t *blk, int j) {
    switch (ti) {
    case PK_I_Q4_0: {
        const uint8_t q = ((const pk_block_q4_0 *)blk)->qs[j & 15];
        return (j < 16 ? q & 0x0f : q >> 4) - 8;
    }
    case PK_I_Q4_1: {
        const uint8_t q = ((const pk_block_q4_1 *)blk)->qs[j & 15];
        return j < 16 ? q & 0x0f : q >> 4;
    }
    default:
        return ((const pk_block_q8_0 *)blk)->qs[j];
    }
}

static inline void dot_q16_rows_generic(int ti, const void *w, size_t row_bytes, int64_t nrows,
                                        const pk_block_q16a *xq, int64_t nb, float *y) {
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float acc = 0, macc = 0;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *blk = row + (size_t)b * block_bytes[ti];
            int32_t s = 0;
            for (int j = 0; j < 32; j++) s += wq(ti, blk, j) * xq[b].qs[(j & 1) * 16 + (j >> 1)];
            const float d = pk_f16_to_f32(pk_read_u16(blk));
            acc = fmaf(d * xq[b].d, (float)s, acc);
            if (ti == PK_I_Q4_1) macc = fmaf(pk_f16_to_f32(pk_read_u16(blk + 2)), xq[b].s, macc);
        }
        y[r] = acc + macc;
    }
}

#define DOT_Q16_ROWS(NAME, TI)                                                                          \
    static void NAME(const void *w, size_t row_bytes, int64_t nrows, const pk_block_q16a *xq, int64_t nb, \
                     float *y) {                                                                          \
        dot_q16_rows_generic(TI, w, row_bytes, nrows, xq, nb, y);                                         \
    }
DOT_Q16_ROWS(dot_q16_q4_0, PK_I_Q4_0)
DOT_Q16_ROWS(dot_q16_q4_1, PK_I_Q4_1)
DOT_Q16_ROWS(dot_q16_q8_0, PK_I_Q8_0)

const pk_kernels pk_kernels_scalar = {
    .name = "scalar",
    .dot_rows = {dot_rows_f32, dot_rows_f16, dot_rows_q4_0, dot_rows_q4_1, dot_rows_q8_0},
    .dequant_rows = {dequant_rows_f32, dequant_rows_f16, dequant_rows_q4_0, dequant_rows_q4_1, dequant_rows_q8_0},
    .dot_q8_rows = {NULL, NULL, dot_q8_q4_0, dot_q8_q4_1, dot_q8_q8_0},
    .gemm_f32 = gemm_f32,
    .quantize_q8a = quantize_q8a,
    .dot_q16_rows = {NULL, NULL, dot_q16_q4_0, dot_q16_q4_1, dot_q16_q8_0},
    .quantize_q16a = pk_quantize_q16a_portable,
};
