#pragma once
// Shared between the dispatcher (matmul.c) and the per-ISA kernel files; not part of the public API.

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ckernels.h"

// ggml blocks: 32 weights each; Q4 element j is the low nibble of qs[j], element j+16 the high nibble.
typedef struct { uint16_t d; uint8_t qs[16]; } pk_block_q4_0;          // value = d * (q - 8)
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } pk_block_q4_1; // value = d * q + m
typedef struct { uint16_t d; int8_t qs[32]; } pk_block_q8_0;           // value = d * q
_Static_assert(sizeof(pk_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(pk_block_q4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(pk_block_q8_0) == 34, "Q8_0 block is 34 bytes");

// Quantized activations (act_q8 = 1): llama.cpp's Q8_1 with d and s kept in f32.
// x ≈ d * qs[j]; s = d * Σ qs. Q8_0 weights use the same block and ignore s.
typedef struct { float d; float s; int8_t qs[32]; } pk_block_q8a;
_Static_assert(sizeof(pk_block_q8a) == 40, "activation block is 40 bytes");

// 16-bit activations (act = PK_ACT_Q16): x_j ≈ d * X_j with d = max|x|/32767, and s = Σ x_j exactly as
// f32 (Q4_1's offset term). qs holds the even elements first, then the odd ones:
// qs[p] = X[2p] and qs[16 + p] = X[2p + 1] for p < 16, which is the order in which the SIMD kernels split
// weight bytes into 16-bit lanes (low byte / high byte of each pair).
typedef struct { float d; float s; int16_t qs[32]; } pk_block_q16a;
_Static_assert(sizeof(pk_block_q16a) == 72, "16-bit activation block is 72 bytes");

#define PK_QK 32

// Internal type index, dense for tables.
enum { PK_I_F32, PK_I_F16, PK_I_Q4_0, PK_I_Q4_1, PK_I_Q8_0, PK_I_COUNT };

// One token, nrows consecutive rows (stride row_bytes): y[r] = Σ_k W[r][k] x[k]. xsum[b] = Σ x over block b
// (only read for Q4_1). cols is a multiple of 32.
typedef void (*pk_dot_rows_fn)(const void *w, size_t row_bytes, int64_t nrows, const float *x,
                               const float *xsum, int64_t cols, float *y);
// Dequantizes nrows rows to f32, row-major into out (nrows × cols).
typedef void (*pk_dequant_rows_fn)(const void *w, size_t row_bytes, int64_t nrows, int64_t cols, float *out);
// y[t*ldy + r] = Σ_k w[r*K + k] x[t*K + k] for r < R, t < N. K is a multiple of 8.
typedef void (*pk_gemm_f32_fn)(const float *w, int64_t R, const float *x, int64_t N, int64_t K,
                               float *y, int64_t ldy);
// One token of quantized activations (nb blocks), nrows rows: y[r] = dot.
typedef void (*pk_dot_q8_rows_fn)(const void *w, size_t row_bytes, int64_t nrows, const pk_block_q8a *xq,
                                  int64_t nb, float *y);
// Quantizes cols (multiple of 32) floats into cols/32 activation blocks.
typedef void (*pk_quantize_fn)(const float *x, pk_block_q8a *out, int64_t cols);
// One token of 16-bit activations (nb blocks), nrows rows: y[r] = dot. Integer block sums are exact,
// so every ISA computes the same Σ q·X per block; only the f32 scaling and summation order differ.
typedef void (*pk_dot_q16_rows_fn)(const void *w, size_t row_bytes, int64_t nrows, const pk_block_q16a *xq,
                                   int64_t nb, float *y);
typedef void (*pk_quantize16_fn)(const float *x, pk_block_q16a *out, int64_t cols);

typedef struct pk_kernels {
    const char *name;
    pk_dot_rows_fn dot_rows[PK_I_COUNT];
    pk_dequant_rows_fn dequant_rows[PK_I_COUNT];
    pk_dot_q8_rows_fn dot_q8_rows[PK_I_COUNT];  // Q4_0, Q4_1, Q8_0 only
    pk_gemm_f32_fn gemm_f32;
    pk_quantize_fn quantize_q8a;
    pk_dot_q16_rows_fn dot_q16_rows[PK_I_COUNT];  // Q4_0, Q4_1, Q8_0 only
    pk_quantize16_fn quantize_q16a;
} pk_kernels;

// Portable 16-bit activation quantizer (scalar and NEON tables use it; AVX2 has a bit-identical one).
void pk_quantize_q16a_portable(const float *x, pk_block_q16a *out, int64_t cols);

extern const pk_kernels pk_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define PK_HAVE_AVX2 1
extern const pk_kernels pk_kernels_avx2;
#endif
#if defined(__aarch64__)
#define PK_HAVE_NEON 1
extern const pk_kernels pk_kernels_neon;
#endif

// IEEE half → float, portable (the SIMD files use F16C / NEON conversions instead).
static inline float pk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalize
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) { mant <<= 1; exp--; }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t pk_read_u16(const void *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
