/* ccnf_avx2.c - the AVX2+FMA twins of ccnf.c's im2colContrastNormBias and neurons sgemm_
 * (CCNF_patch_expert::ResponseOpenBlas): the same fused chains, eight positions at a time, so
 * the same bits as the scalar loops (the dot-like positions of OpenBLAS's SkylakeX small-matrix
 * kernel, skx_gemm.h, stay in the scalar loop; the Sigma product is cv's fa_skx_gemv_t). */
#include <math.h>

#include "landmarks/ccnf_kernels.h"
#include "cv/skx_gemm.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma")))

/* im2colContrastNormBias as ccnf.c's im2col_norm computes it (see there): per position the
 * pixel sum (yy outer, xx inner), mean = sum / count, the sum of squared centred pixels (xx
 * outer, yy inner), norm = (float)(1.0 / (double)sqrtf(ss)) (1 for 0), then 1 and the centred
 * pixels times norm. Lanes are eight positions with the same y and consecutive x (the last
 * block moved back to end at the window edge); four rows run side by side, the last rows of a
 * window not a multiple of 4 repeated. Separate add, sub, mul and div (IEEE, like the scalar
 * code), so the same floats. */
AVX2_FN void fa_ccnf_im2col_avx2(const float *area, int stride, int window, int w, int h,
                                 float *out)
{
    enum { R = 4 };
    const size_t P = (size_t)window * (size_t)window;
    const __m256 count = _mm256_set1_ps((float)(w * h));
    for (int y0 = 0; y0 < window; y0 += R) {
        int ys[R];
        for (int q = 0; q < R; q++)
            ys[q] = y0 + q < window ? y0 + q : window - 1;
        for (int x0 = 0; x0 < window; x0 += 8) {
            const int xb = x0 + 8 <= window ? x0 : window - 8;
            const float *rows[R];
            for (int q = 0; q < R; q++)
                rows[q] = area + (size_t)ys[q] * (size_t)stride + (size_t)xb;
            __m256 sum[R], mean[R], ss[R], norm[R];
            for (int q = 0; q < R; q++)
                sum[q] = ss[q] = _mm256_setzero_ps();
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++)
                    for (int q = 0; q < R; q++)
                        sum[q] = _mm256_add_ps(
                            sum[q], _mm256_loadu_ps(rows[q] + (size_t)yy * (size_t)stride + (size_t)xx));
            for (int q = 0; q < R; q++)
                mean[q] = _mm256_div_ps(sum[q], count);
            for (int xx = 0; xx < w; xx++)
                for (int yy = 0; yy < h; yy++)
                    for (int q = 0; q < R; q++) {
                        const __m256 d = _mm256_sub_ps(
                            _mm256_loadu_ps(rows[q] + (size_t)yy * (size_t)stride + (size_t)xx), mean[q]);
                        ss[q] = _mm256_add_ps(ss[q], _mm256_mul_ps(d, d));
                    }
            for (int q = 0; q < R; q++) {
                float v[8];
                _mm256_storeu_ps(v, ss[q]);
                for (int l = 0; l < 8; l++) {
                    float n = sqrtf(v[l]);
                    if (n == 0)
                        n = 1;
                    v[l] = (float)(1.0 / (double)n);
                }
                norm[q] = _mm256_loadu_ps(v);
            }
            for (int q = 0; q < R; q++) {
                float *o = out + (size_t)xb * (size_t)window + (size_t)ys[q];
                for (int l = 0; l < 8; l++)
                    o[(size_t)l * (size_t)window] = 1.f;
            }
            for (int xx = 0; xx < w; xx++)
                for (int yy = 0; yy < h; yy++)
                    for (int q = 0; q < R; q++) {
                        float v[8];
                        _mm256_storeu_ps(v, _mm256_mul_ps(
                            _mm256_sub_ps(_mm256_loadu_ps(rows[q] + (size_t)yy * (size_t)stride +
                                                          (size_t)xx), mean[q]), norm[q]));
                        float *ok = out + (size_t)(1 + xx * h + yy) * P +
                                    (size_t)xb * (size_t)window + (size_t)ys[q];
                        for (int l = 0; l < 8; l++)
                            ok[(size_t)l * (size_t)window] = v[l];
                    }
        }
    }
}

/* Lanes 0..n-1 on (n <= 8): the mask of a partial block at the end of a row of positions. */
AVX2_FN static __m256i lane_mask(int n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

/* Eight consecutive floats, or only the first `rem` of them (the rest read as 0, never touched
 * in memory) when the block is the partial last one. */
#define LOAD8(p, full, mask) ((full) ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), (mask)))

/* Positions r0..r0+rem-1 (rem <= 8), up to eight neurons per pass sharing each load: each lane
 * the scalar loop's fused chain over k, then the sigmoids added in neuron order. */
AVX2_FN static inline __attribute__((always_inline)) void
neurons_block(const float *colsT, int P, int K, const fa_ccnf_expert *e, const int *live, int nl,
              int r0, int rem, float *flat)
{
    const int full = rem == 8;
    const __m256i mask = lane_mask(rem);
    for (int g = 0; g < nl; g += 8) {
        const int m = nl - g < 8 ? nl - g : 8;
        const float *w[8];
        __m256 acc[8];
        for (int j = 0; j < 8; j++) {
            w[j] = e->weights + (size_t)live[g + (j < m ? j : 0)] * (size_t)K;
            acc[j] = _mm256_setzero_ps();
        }
        for (int k = 0; k < K; k++) {
            const __m256 x = LOAD8(colsT + (size_t)k * (size_t)P + (size_t)r0, full, mask);
            for (int j = 0; j < m; j++)
                acc[j] = _mm256_fmadd_ps(x, _mm256_set1_ps(w[j][k]), acc[j]);
        }
        for (int j = 0; j < m; j++) {
            float q[8];
            _mm256_storeu_ps(q, acc[j]);
            const double a2 = 2.0 * e->alpha[live[g + j]];
            for (int l = 0; l < rem; l++)
                flat[r0 + l] = fa_ccnf_add_sigmoid(flat[r0 + l], a2, q[l]);
        }
    }
}

AVX2_FN int fa_ccnf_neurons_avx2(const float *colsT, int P, int K, const fa_ccnf_expert *e, float *flat)
{
    int live[FA_CCNF_MAX_NEURONS], nl = 0;
    for (int i = 0; i < e->n_neurons; i++)
        if (e->alpha[i] > 1e-4)
            live[nl++] = i;
    /* the chained positions; the dot-like tail (at most 8) is left to the scalar loop */
    const int rd = fa_skx_dot_row(P, K);
    int r0 = 0;
    for (; r0 + 8 <= rd; r0 += 8)
        neurons_block(colsT, P, K, e, live, nl, r0, 8, flat);
    if (r0 < rd)
        neurons_block(colsT, P, K, e, live, nl, r0, rd - r0, flat);
    return rd;
}

#endif
