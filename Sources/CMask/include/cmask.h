// ChaCha20 (IETF: 96-bit nonce, 32-bit block counter) keystream folded straight into a vector of
// 32-bit words mod 2^32: the mask expansion of secure aggregation without a keystream buffer.
// Kernels for AVX-512, AVX2 and portable C; the fastest one the CPU runs is picked at first use.
#ifndef CMASK_H
#define CMASK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// acc[i] ← acc[i] ± w_i (mod 2^32) for i < n_words, where w_i is the little-endian word at bytes
/// 4i…4i+3 of crypto_stream_chacha20_ietf(key, nonce) starting at block `counter`.
/// `subtract` ≠ 0 subtracts. Requires counter + ⌈n_words / 16⌉ ≤ 2^32 (no counter wrap).
void cmask_chacha20_accumulate(uint32_t *acc, size_t n_words, const uint8_t key[32], const uint8_t nonce[12],
                               uint32_t counter, int subtract);

/// The kernel in use: "avx512", "avx2" or "portable".
const char *cmask_kernel_name(void);

/// Forces a kernel by name (for tests); returns 0 on success, -1 if unknown or not runnable here.
int cmask_select_kernel(const char *name);

#ifdef __cplusplus
}
#endif

#endif
