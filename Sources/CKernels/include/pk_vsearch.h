#pragma once
// Kernels for the memory store's dense retrieval: approximate inner products of one query against
// many 8-bit vectors, with their own run-time dispatch (AVX-512 VNNI, AVX2, portable scalar).
//
// A stored vector x (dim floats) is kept as dim unsigned bytes u[j] = X[j] + 128, x ≈ scale · X; the
// query as signed bytes Q, q ≈ qscale · Q. The integer dot Σ X[j]·Q[j] = Σ u[j]·Q[j] − 128·Σ Q[j] is
// computed exactly in int32 on every ISA (any byte values; dim < 2^16), then scaled once in f32, so
// every ISA returns the same scores bit for bit.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// out[r] = (float)(Σ_j (u[r·dim + j] − 128) · q[j]) · scales[r] · qscale, for r < rows.
// No alignment needed; dim ≥ 1 and below 65536.
void pk_u8i8_scores(const uint8_t *u, const float *scales, int64_t rows, int64_t dim, const int8_t *q,
                    float qscale, float *out);

// "avx512vnni", "avx2" or "scalar": what the dispatch picked for pk_u8i8_scores (or what was forced).
const char *pk_vsearch_isa_name(void);
// Forces an ISA by name ("avx512vnni", "avx2", "scalar"; "auto" or NULL for the best available).
// Returns 0 if this build and CPU support it, nonzero (changing nothing) otherwise. For tests.
int pk_vsearch_set_isa(const char *name);

#ifdef __cplusplus
}
#endif
