// ChaCha20-IETF keystream added to (or subtracted from) a word vector mod 2^32.
//
// The wide kernels run 16 (AVX-512) or 8 (AVX2) blocks side by side, one state word per register
// across blocks, then transpose the finished words back into block order and add them to the
// accumulator directly: no keystream buffer, and the accumulator is read and written once per mask.
// Each kernel carries its target attribute, so the file builds with baseline flags.
#include <stdatomic.h>
#include <string.h>

#include "cmask.h"

typedef void (*accumulate_fn)(uint32_t *acc, size_t n_words, const uint32_t state[16], int subtract);

static inline uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

#define QR(a, b, c, d)                  \
    a += b; d ^= a; d = rotl32(d, 16);  \
    c += d; b ^= c; b = rotl32(b, 12);  \
    a += b; d ^= a; d = rotl32(d, 8);   \
    c += d; b ^= c; b = rotl32(b, 7);

// One 64-byte block of keystream as 16 words (host order = the little-endian words of the stream).
static void block_portable(const uint32_t in[16], uint32_t out[16]) {
    uint32_t x[16];
    memcpy(x, in, sizeof x);
    for (int i = 0; i < 10; i++) {
        QR(x[0], x[4], x[8], x[12]) QR(x[1], x[5], x[9], x[13]) QR(x[2], x[6], x[10], x[14]) QR(x[3], x[7], x[11], x[15])
        QR(x[0], x[5], x[10], x[15]) QR(x[1], x[6], x[11], x[12]) QR(x[2], x[7], x[8], x[13]) QR(x[3], x[4], x[9], x[14])
    }
    for (int i = 0; i < 16; i++) out[i] = x[i] + in[i];
}

// Adds n words of keystream from state s, one block at a time (the counter advances in s); every
// kernel ends with it for the words that do not fill a whole batch of blocks.
static void tail_portable(uint32_t *acc, size_t n, uint32_t s[16], int subtract) {
    uint32_t ks[16];
    while (n > 0) {
        block_portable(s, ks);
        s[12] += 1;
        const size_t m = n < 16 ? n : 16;
        if (subtract) for (size_t i = 0; i < m; i++) acc[i] -= ks[i];
        else for (size_t i = 0; i < m; i++) acc[i] += ks[i];
        acc += m;
        n -= m;
    }
}

static void accumulate_portable(uint32_t *acc, size_t n_words, const uint32_t state[16], int subtract) {
    uint32_t s[16];
    memcpy(s, state, sizeof s);
    tail_portable(acc, n_words, s, subtract);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2")))

#define QR512(a, b, c, d)                                                             \
    a = _mm512_add_epi32(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);     \
    c = _mm512_add_epi32(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);     \
    a = _mm512_add_epi32(a, b); d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);      \
    c = _mm512_add_epi32(c, d); b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);

// Four 16-word rows a0…a3, whose 128-bit lane L holds words 4g…4g+3 (g = row) of block 4L + r,
// become the four whole blocks r, 4 + r, 8 + r, 12 + r, each added into its place.
AVX512 static inline void store_blocks512(uint32_t *acc, int r, __m512i a0, __m512i a1, __m512i a2, __m512i a3, int subtract) {
    const __m512i p0 = _mm512_shuffle_i32x4(a0, a1, 0x44), p1 = _mm512_shuffle_i32x4(a0, a1, 0xEE);
    const __m512i p2 = _mm512_shuffle_i32x4(a2, a3, 0x44), p3 = _mm512_shuffle_i32x4(a2, a3, 0xEE);
    const __m512i o[4] = {_mm512_shuffle_i32x4(p0, p2, 0x88), _mm512_shuffle_i32x4(p0, p2, 0xDD),
                          _mm512_shuffle_i32x4(p1, p3, 0x88), _mm512_shuffle_i32x4(p1, p3, 0xDD)};
    for (int L = 0; L < 4; L++) {
        uint32_t *dst = acc + 16 * (4 * L + r);
        const __m512i v = _mm512_loadu_si512((const void *)dst);
        _mm512_storeu_si512((void *)dst, subtract ? _mm512_sub_epi32(v, o[L]) : _mm512_add_epi32(v, o[L]));
    }
}

AVX512 static void accumulate_avx512(uint32_t *acc, size_t n_words, const uint32_t state[16], int subtract) {
    uint32_t s[16];
    memcpy(s, state, sizeof s);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    while (n_words >= 256) {
        __m512i x[16], in[16];
        for (int j = 0; j < 16; j++) in[j] = _mm512_set1_epi32((int)s[j]);
        in[12] = _mm512_add_epi32(in[12], lanes);
        for (int j = 0; j < 16; j++) x[j] = in[j];
        for (int i = 0; i < 10; i++) {
            QR512(x[0], x[4], x[8], x[12]) QR512(x[1], x[5], x[9], x[13])
            QR512(x[2], x[6], x[10], x[14]) QR512(x[3], x[7], x[11], x[15])
            QR512(x[0], x[5], x[10], x[15]) QR512(x[1], x[6], x[11], x[12])
            QR512(x[2], x[7], x[8], x[13]) QR512(x[3], x[4], x[9], x[14])
        }
        for (int j = 0; j < 16; j++) x[j] = _mm512_add_epi32(x[j], in[j]);
        // Rows g = 0…3 hold words 4g…4g+3; after two unpack stages t[4g + r] has, in lane L,
        // words 4g…4g+3 of block 4L + r.
        __m512i t[16];
        for (int g = 0; g < 4; g++) {
            const __m512i a = x[4 * g], b = x[4 * g + 1], c = x[4 * g + 2], d = x[4 * g + 3];
            const __m512i ab0 = _mm512_unpacklo_epi32(a, b), ab1 = _mm512_unpackhi_epi32(a, b);
            const __m512i cd0 = _mm512_unpacklo_epi32(c, d), cd1 = _mm512_unpackhi_epi32(c, d);
            t[4 * g + 0] = _mm512_unpacklo_epi64(ab0, cd0);
            t[4 * g + 1] = _mm512_unpackhi_epi64(ab0, cd0);
            t[4 * g + 2] = _mm512_unpacklo_epi64(ab1, cd1);
            t[4 * g + 3] = _mm512_unpackhi_epi64(ab1, cd1);
        }
        for (int r = 0; r < 4; r++) store_blocks512(acc, r, t[r], t[4 + r], t[8 + r], t[12 + r], subtract);
        s[12] += 16;
        acc += 256;
        n_words -= 256;
    }
    tail_portable(acc, n_words, s, subtract);
}

AVX2 static inline __m256i rol256(__m256i x, int n) {
    return _mm256_or_si256(_mm256_slli_epi32(x, n), _mm256_srli_epi32(x, 32 - n));
}

#define QR256(a, b, c, d)                                                                   \
    a = _mm256_add_epi32(a, b); d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot16);     \
    c = _mm256_add_epi32(c, d); b = rol256(_mm256_xor_si256(b, c), 12);                     \
    a = _mm256_add_epi32(a, b); d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot8);      \
    c = _mm256_add_epi32(c, d); b = rol256(_mm256_xor_si256(b, c), 7);

AVX2 static inline void add_half256(uint32_t *dst, __m256i v, int subtract) {
    const __m256i a = _mm256_loadu_si256((const __m256i *)dst);
    _mm256_storeu_si256((__m256i *)dst, subtract ? _mm256_sub_epi32(a, v) : _mm256_add_epi32(a, v));
}

AVX2 static void accumulate_avx2(uint32_t *acc, size_t n_words, const uint32_t state[16], int subtract) {
    uint32_t s[16];
    memcpy(s, state, sizeof s);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i rot16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                           2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const __m256i rot8 = _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14,
                                          3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
    while (n_words >= 128) {
        __m256i x[16], in[16];
        for (int j = 0; j < 16; j++) in[j] = _mm256_set1_epi32((int)s[j]);
        in[12] = _mm256_add_epi32(in[12], lanes);
        for (int j = 0; j < 16; j++) x[j] = in[j];
        for (int i = 0; i < 10; i++) {
            QR256(x[0], x[4], x[8], x[12]) QR256(x[1], x[5], x[9], x[13])
            QR256(x[2], x[6], x[10], x[14]) QR256(x[3], x[7], x[11], x[15])
            QR256(x[0], x[5], x[10], x[15]) QR256(x[1], x[6], x[11], x[12])
            QR256(x[2], x[7], x[8], x[13]) QR256(x[3], x[4], x[9], x[14])
        }
        for (int j = 0; j < 16; j++) x[j] = _mm256_add_epi32(x[j], in[j]);
        // As in the AVX-512 kernel: t[4g + r], lane L = words 4g…4g+3 of block 4L + r (L = 0, 1).
        __m256i t[16];
        for (int g = 0; g < 4; g++) {
            const __m256i a = x[4 * g], b = x[4 * g + 1], c = x[4 * g + 2], d = x[4 * g + 3];
            const __m256i ab0 = _mm256_unpacklo_epi32(a, b), ab1 = _mm256_unpackhi_epi32(a, b);
            const __m256i cd0 = _mm256_unpacklo_epi32(c, d), cd1 = _mm256_unpackhi_epi32(c, d);
            t[4 * g + 0] = _mm256_unpacklo_epi64(ab0, cd0);
            t[4 * g + 1] = _mm256_unpackhi_epi64(ab0, cd0);
            t[4 * g + 2] = _mm256_unpacklo_epi64(ab1, cd1);
            t[4 * g + 3] = _mm256_unpackhi_epi64(ab1, cd1);
        }
        for (int r = 0; r < 4; r++) {
            // Lane 0 of each row belongs to block r, lane 1 to block 4 + r.
            add_half256(acc + 16 * r, _mm256_permute2x128_si256(t[r], t[4 + r], 0x20), subtract);
            add_half256(acc + 16 * r + 8, _mm256_permute2x128_si256(t[8 + r], t[12 + r], 0x20), subtract);
            add_half256(acc + 16 * (4 + r), _mm256_permute2x128_si256(t[r], t[4 + r], 0x31), subtract);
            add_half256(acc + 16 * (4 + r) + 8, _mm256_permute2x128_si256(t[8 + r], t[12 + r], 0x31), subtract);
        }
        s[12] += 8;
        acc += 128;
        n_words -= 128;
    }
    tail_portable(acc, n_words, s, subtract);
}
#endif

typedef struct {
    const char *name;
    accumulate_fn accumulate;
} kernel;

static const kernel k_portable = {"portable", accumulate_portable};
#if defined(__x86_64__)
static const kernel k_avx2 = {"avx2", accumulate_avx2};
static const kernel k_avx512 = {"avx512", accumulate_avx512};
#endif

static _Atomic(const kernel *) chosen = NULL;

static int runnable(const kernel *k) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == &k_avx512) return __builtin_cpu_supports("avx512f");
    if (k == &k_avx2) return __builtin_cpu_supports("avx2");
#endif
    return k == &k_portable;
}

static const kernel *current(void) {
    const kernel *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (k) return k;
    k = &k_portable;
#if defined(__x86_64__)
    if (runnable(&k_avx512)) k = &k_avx512;
    else if (runnable(&k_avx2)) k = &k_avx2;
#endif
    atomic_store_explicit(&chosen, k, memory_order_release);
    return k;
}

void cmask_chacha20_accumulate(uint32_t *acc, size_t n_words, const uint8_t key[32], const uint8_t nonce[12],
                               uint32_t counter, int subtract) {
    uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; i++) s[4 + i] = load_le32(key + 4 * i);
    s[12] = counter;
    for (int i = 0; i < 3; i++) s[13 + i] = load_le32(nonce + 4 * i);
    current()->accumulate(acc, n_words, s, subtract);
}

const char *cmask_kernel_name(void) { return current()->name; }

int cmask_select_kernel(const char *name) {
    const kernel *all[] = {
#if defined(__x86_64__)
        &k_avx512, &k_avx2,
#endif
        &k_portable};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(all[i]->name, name) == 0 && runnable(all[i])) {
            atomic_store_explicit(&chosen, all[i], memory_order_release);
            return 0;
        }
    }
    return -1;
}
