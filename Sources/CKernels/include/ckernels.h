#pragma once
// Quantized matrix × activations kernels with runtime CPU dispatch, and the worker pool that runs them.
//
// Dimension key: T tokens, rows output features (rows of W), cols input features.
// Every kernel exists for each ISA the build can target (avx2 on x86-64 with per-function target
// attributes, neon on arm64, portable scalar everywhere); the best one the CPU supports is picked once
// at first use, and pk_set_isa can force another for tests and benchmarks.

#include <stddef.h>
#include <stdint.h>

#include "pk_vsearch.h"  // the dense-retrieval kernels (their own dispatch)

#ifdef __cplusplus
extern "C" {
#endif

// ggml type ids understood by pk_matmul.
enum {
    PK_TYPE_F32 = 0,
    PK_TYPE_F16 = 1,
    PK_TYPE_Q4_0 = 2,
    PK_TYPE_Q4_1 = 3,
    PK_TYPE_Q8_0 = 8,
};

// Error codes returned by pk_matmul (0 is success).
enum {
    PK_ERR_TYPE = 1,      // weight type not supported
    PK_ERR_SHAPE = 2,     // rows/cols/T not positive, or cols not a multiple of 32
    PK_ERR_ARGUMENT = 3,  // a NULL pointer
    PK_ERR_MEMORY = 4,    // the pool's scratch could not grow
    PK_ERR_ISA = 5,       // the kernel needs an instruction set this CPU (or build) lacks
};

typedef struct pk_pool pk_pool;

// n_threads counts the caller, which runs as worker 0; fewer threads are used if the system refuses
// to start more (pk_pool_size tells). Returns NULL only when out of memory.
pk_pool *pk_pool_create(int n_threads);
void pk_pool_destroy(pk_pool *pool);
int pk_pool_size(const pk_pool *pool);

// Runs fn(ctx, i, n) for i in [0, n) on all workers, caller included; returns when all are done.
// Idle workers spin for about a millisecond, then sleep until the next run. A pool runs one job at a
// time: do not call pk_pool_run (or pk_matmul) on the same pool from two threads at once or from fn.
void pk_pool_run(pk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx);

// "avx2", "neon" or "scalar": what dispatch picked (or what pk_set_isa forced).
const char *pk_isa_name(void);
// Forces an ISA by name ("avx2", "neon", "scalar"), or the best available for "auto" / NULL.
// Returns 0 if that ISA is supported by this build and CPU, nonzero (and changes nothing) otherwise.
// Process-wide: meant for tests and benchmarks, not to be called while matmuls run.
int pk_set_isa(const char *name);

// How pk_matmul treats the activations x for quantized weights (F32/F16 weights always use f32).
enum {
    // f32 activations, weights dequantized in registers: tracks f32 math (relative error ~1e-7).
    PK_ACT_F32 = 0,
    // llama.cpp's scheme: x first quantized to 8-bit blocks (Q8_1 for Q4_0/Q4_1, Q8_0 for Q8_0; d and
    // s kept in f32), integer dots. Fastest, but ~1e-3 relative error, enough to flip a greedy token.
    PK_ACT_Q8 = 1,
    // x rounded to 16-bit blocks (d = max|x|/32767, exact f32 block sums for Q4_1's offset), integer
    // dots exact in int32: relative error per block ≲ 2^-16 of its max. Used for T ≤ 2 (decode); from
    // 3 tokens on the f32 tiled path is as fast and is taken instead.
    PK_ACT_Q16 = 2,
};

// y (T, rows) = x (T, cols) · Wᵀ, where W is `rows` rows of `cols` elements stored in ggml type `wtype`
// (PK_TYPE_*), each row contiguous (row bytes = cols/32 * bytes per 32-block; 4*cols for F32, 2*cols for
// F16). cols must be a multiple of 32 for every type. No alignment is required of w, x or y.
// act is a PK_ACT_* value (others are treated as PK_ACT_F32).
// Parallel over rows across the pool. Returns 0 on success or a PK_ERR_* code.
int pk_matmul(pk_pool *pool, int wtype, const void *w, int64_t rows, int64_t cols,
              const float *x, int64_t T, float *y, int act);

// One matmul of a batch: the arguments of pk_matmul.
typedef struct pk_matmul_desc {
    int wtype;
    const void *w;
    int64_t rows, cols;
    const float *x;
    int64_t T;
    float *y;
    int act;
} pk_matmul_desc;

// Runs n independent matmuls (no desc's y may overlap another's x or y) in one pool dispatch: their
// row chunks share one counter, so small matmuls (q, k, v of one layer; gate and up) cost one wake-up
// and one join instead of several. Descs reading the same x (same pointer, cols, T and activation
// preparation) quantize it once. Checks every desc before running any; returns 0 or the first error.
int pk_matmul_batch(pk_pool *pool, int n, const pk_matmul_desc *descs);

// ---- Dense training GEMMs with a frozen weight: c (M, N) = alpha · a (M, K) · B [+ c] ----------------
// B is a weight W in f32, row-major: trans != 0 means B = Wᵀ with W (N, K) (a forward y = x·Wᵀ), trans == 0
// means B = W with W (K, N) (a backward dx = dy·W). a has row stride lda ≥ K, c row stride ldc ≥ N;
// accumulate != 0 adds into c. Parallel over 32-column panels of c on the pool. Return 0 or PK_ERR_*
// (PK_ERR_ISA when the CPU lacks the instructions: callers fall back to BLAS).

// AVX-512F f32 FMA kernel: f32 math, only the summation order differs from a naive loop.
int pk_gemm_f32_available(void);
int pk_gemm_f32(pk_pool *pool, const float *w, int trans, const float *a, int64_t M, int64_t N, int64_t K,
                int64_t lda, float alpha, int accumulate, float *c, int64_t ldc);

// AVX512_BF16 kernel: B packed once by pk_pack_bf16, a rounded to bf16 per call (nearest even), products
// summed in f32 (vdpbf16ps). Each product carries up to ~2⁻⁸ relative error from the two roundings.
int pk_gemm_bf16_available(void);
// Elements (uint16_t) of the packed form of a (K, N) B.
size_t pk_pack_bf16_elements(int64_t k, int64_t n);
// Packs B (K, N) of W (see trans above) into out (pk_pack_bf16_elements(K, N) elements). Portable code.
int pk_pack_bf16(const float *w, int trans, int64_t k, int64_t n, uint16_t *out);
int pk_gemm_bf16(pk_pool *pool, const uint16_t *packed, const float *a, int64_t M, int64_t N, int64_t K,
                 int64_t lda, float alpha, int accumulate, float *c, int64_t ldc);

// ---- Elementwise training ops with exponentials (AVX-512 when the CPU has it, else portable loops) ------
// out = silu(gate)·up over n values.
void pk_swiglu(const float *gate, const float *up, int64_t n, float *out);
// Backward of pk_swiglu: dgate += dout·u·σ(g)·(1 + g·(1 − σ(g))), dup += dout·g·σ(g).
void pk_swiglu_backward(const float *dout, const float *gate, const float *up, int64_t n, float *dgate, float *dup);
// In place x[i] = exp(x[i] − shift); returns Σ of the new values.
float pk_exp_sum(float *x, int64_t n, float shift);
// 1 if the calls above take the AVX-512 path. pk_elementwise_vector = 0 forces the portable loops (tests).
int pk_elementwise_vectorized(void);
extern int pk_elementwise_vector;

#ifdef __cplusplus
}
#endif
