// Elementwise parts of the training pass with exponentials in them (SwiGLU and its backward, softmax
// rows), vectorized with AVX-512 when the CPU has it; the portable loops are the fallback. The vector
// exp is exp(x) = 2ⁿ · p(r), x = n·ln2 + r, |r| ≤ ln2/2, p of degree 6 (Taylor): within 2 ulp of expf.
#include <math.h>

#include "internal.h"

static float sigmoid_scalar(float g) { return 1.0f / (1.0f + expf(-g)); }

static void swiglu_scalar(const float *gate, const float *up, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] * sigmoid_scalar(gate[i]) * up[i];
}

static void swiglu_backward_scalar(const float *dout, const float *gate, const float *up, int64_t n, float *dgate,
                                   float *dup) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], s = sigmoid_scalar(g);
        dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s));
        dup[i] += dout[i] * g * s;
    }
}

static float exp_sum_scalar(float *x, int64_t n, float shift) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const float e = expf(x[i] - shift);
        x[i] = e;
        sum += e;
    }
    return (float)sum;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

AVX512 static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-103.9f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

AVX512 static inline __m512 sigmoid512(__m512 g) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

AVX512 static inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1); }

AVX512 static void swiglu_avx512(const float *gate, const float *up, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_mul_ps(g, sigmoid512(g)), u));
    }
}

AVX512 static void swiglu_backward_avx512(const float *dout, const float *gate, const float *up, int64_t n,
                                          float *dgate, float *dup) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
        const __m512 d = _mm512_maskz_loadu_ps(m, dout + i), s = sigmoid512(g);
        // dgate += d·u·s·(1 + g·(1 − s));  dup += d·g·s
        const __m512 dg = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, u), s),
                                        _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one));
        _mm512_mask_storeu_ps(dgate + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dgate + i), dg));
        _mm512_mask_storeu_ps(dup + i, m, _mm512_fmadd_ps(_mm512_mul_ps(d, g), s, _mm512_maskz_loadu_ps(m, dup + i)));
    }
}

AVX512 static float exp_sum_avx512(float *x, int64_t n, float shift) {
    const __m512 sh = _mm512_set1_ps(shift);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh)));
        _mm512_mask_storeu_ps(x + i, m, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

static int use_avx512(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v && pk_elementwise_vector;
}
#else
static int use_avx512(void) { return 0; }
#endif

int pk_elementwise_vector = 1;

int pk_elementwise_vectorized(void) { return use_avx512(); }

void pk_swiglu(const float *gate, const float *up, int64_t n, float *out) {
#if defined(__x86_64__)
    if (use_avx512()) { swiglu_avx512(gate, up, n, out); return; }
#endif
    swiglu_scalar(gate, up, n, out);
}

void pk_swiglu_backward(const float *dout, const float *gate, const float *up, int64_t n, float *dgate, float *dup) {
#if defined(__x86_64__)
    if (use_avx512()) { swiglu_backward_avx512(dout, gate, up, n, dgate, dup); return; }
#endif
    swiglu_backward_scalar(dout, gate, up, n, dgate, dup);
}

float pk_exp_sum(float *x, int64_t n, float shift) {
#if defined(__x86_64__)
    if (use_avx512()) return exp_sum_avx512(x, n, shift);
#endif
    return exp_sum_scalar(x, n, shift);
}
