/* ccnf_avx512.c - the CCNF neurons (ccnf_avx2.c's fused kernel) with sixteen positions a
 * register. A lane is one position's fused chain over k, as in the AVX2 and scalar kernels, so
 * the lane count changes nothing but speed: the inputs are made by the AVX2 code, the sigmoids
 * are added eight lanes at a time by the AVX2 step, and the dot-like tail (skx_gemm.h) is the
 * AVX2 kernel's. What sixteen lanes buy: half the weight broadcasts and input loads per
 * neuron product, and the 32 registers keep eight accumulators with room to spare. */
#include "landmarks/ccnf_kernels.h"
#include "cv/skx_gemm.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#include "landmarks/ccnf_sigmoid_avx2.h"

#define AVX512_FN __attribute__((target("avx512f,avx2,fma")))

/* fa_ccnf_add_sigmoid8 on the two halves of sixteen lanes. */
AVX512_FN static inline __attribute__((always_inline)) __m512 add_sigmoid16(__m512 f, double a2,
                                                                            __m512 q)
{
    const __m256 lo = fa_ccnf_add_sigmoid8(_mm512_castps512_ps256(f), a2, _mm512_castps512_ps256(q));
    const __m256 hi = fa_ccnf_add_sigmoid8(
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)), a2,
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(q), 1)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                               _mm256_castps_pd(hi), 1));
}

/* Positions r0..r0+15 under mask m (the dead lanes read as 0 and are never stored), M neurons
 * sharing each input: neurons_pass of ccnf_avx2.c, sixteen lanes wide. */
AVX512_FN static inline __attribute__((always_inline)) void
pass16(const fa_ccnf_cols *c, __m512 mean, __m512 norm, __m512 bias, const float *const *w,
       const double *a2, int r0, __mmask16 m, __m512 *fv, const int M)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < M; j++)
        acc[j] = _mm512_fmadd_ps(bias, _mm512_set1_ps(w[j][0]), _mm512_setzero_ps());
    int k = 1;
    for (int xx = 0; xx < c->w; xx++) {
        const float *p = c->base + (size_t)xx * c->sx + (size_t)r0;
        for (int yy = 0; yy < c->h; yy++, k++, p += c->sy) {
            const __m512 x = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p), mean), norm);
#pragma GCC unroll 8
            for (int j = 0; j < M; j++)
                acc[j] = _mm512_fmadd_ps(x, _mm512_set1_ps(w[j][k]), acc[j]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < M; j++)
        *fv = add_sigmoid16(*fv, a2[j], acc[j]);
}

/* Positions r0..r0+rem-1 (rem <= 16), the live neurons eight at a time. */
AVX512_FN static void block16(const fa_ccnf_cols *c, const float *const *w, const double *a2,
                              int nl, int r0, int rem, float *flat)
{
    const __mmask16 m = (__mmask16)((1u << rem) - 1u);
    const __m512 one = _mm512_maskz_mov_ps(m, _mm512_set1_ps(1.f));
    const __m512 mean = c->mean ? _mm512_maskz_loadu_ps(m, c->mean + r0) : _mm512_setzero_ps();
    const __m512 norm = c->norm ? _mm512_maskz_loadu_ps(m, c->norm + r0) : one;
    const __m512 bias = c->bias ? _mm512_maskz_loadu_ps(m, c->bias + r0) : one;
    __m512 fv = _mm512_maskz_loadu_ps(m, flat + r0);
    for (int g = 0; g < nl; g += 8) {
        switch (nl - g < 8 ? nl - g : 8) {
        case 1: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 1); break;
        case 2: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 2); break;
        case 3: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 3); break;
        case 4: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 4); break;
        case 5: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 5); break;
        case 6: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 6); break;
        case 7: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 7); break;
        default: pass16(c, mean, norm, bias, w + g, a2 + g, r0, m, &fv, 8); break;
        }
    }
    _mm512_mask_storeu_ps(flat + r0, m, fv);
}

AVX512_FN void fa_ccnf_neurons_fused_avx512(const float *area, int stride, int window,
                                            const fa_ccnf_expert *e, float *tmp, float *flat)
{
    fa_ccnf_cols c;
    fa_ccnf_fused_cols_avx2(area, stride, window, e, tmp, &c);
    const int P = window * window, K = 1 + c.w * c.h;
    const float *w[FA_CCNF_MAX_NEURONS];
    double a2[FA_CCNF_MAX_NEURONS];
    int nl = 0;
    for (int i = 0; i < e->n_neurons; i++)
        if (e->alpha[i] > 1e-4) {
            w[nl] = e->weights + (size_t)i * (size_t)K;
            a2[nl++] = 2.0 * e->alpha[i];
        }
    const int rd = fa_skx_dot_row(P, K);
    for (int r0 = 0; r0 < rd; r0 += 16)
        block16(&c, w, a2, nl, r0, rd - r0 < 16 ? rd - r0 : 16, flat);
    fa_ccnf_neurons_dot_avx2(&c, rd, P, e, flat);
}

#endif
