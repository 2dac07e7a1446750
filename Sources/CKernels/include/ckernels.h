#pragma once
// Quantized matrix × activations kernels with runtime CPU dispatch, and the worker pool that runs them.
//
// Dimension key: T tokens, rows output features (rows of W), cols input features.
// Every kernel exists for each ISA the build can target (avx2 on x86-64 with per-function target
// attributes, neon on arm64, portable scalar everywhere); the best one the CPU supports is picked once
// at first use, and pk_set_isa can force another for tests and benchmarks.

#include <stdint.h>

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

// y (T, rows) = x (T, cols) · Wᵀ, where W is `rows` rows of `cols` elements stored in ggml type `wtype`
// (PK_TYPE_*), each row contiguous (row bytes = cols/32 * bytes per 32-block; 4*cols for F32, 2*cols for
// F16). cols must be a multiple of 32 for every type. No alignment is required of w, x or y.
// act_q8 = 0: activations stay f32 and weights are dequantized in registers (tracks f32 math).
// act_q8 = 1: activations are first quantized to 8-bit blocks as llama.cpp does (Q8_1 for Q4_0/Q4_1,
// Q8_0 for Q8_0; d and s kept in f32) and dot products run in integers. F32/F16 weights ignore act_q8.
// Parallel over rows across the pool. Returns 0 on success or a PK_ERR_* code.
int pk_matmul(pk_pool *pool, int wtype, const void *w, int64_t rows, int64_t cols,
              const float *x, int64_t T, float *y, int act_q8);

#ifdef __cplusplus
}
#endif
