/* ccnf_avx2.c - the AVX2+FMA twins of ccnf.c's im2colContrastNormBias and neurons sgemm_
 * (CCNF_patch_expert::ResponseOpenBlas): the same fused chains, eight positions at a time, so
 * the same bits as the scalar loops (the dot-like positions of OpenBLAS's SkylakeX small-matrix
 * kernel, skx_gemm.h, with their 16 lanes in two registers; the Sigma product is cv's
 * fa_skx_gemv_t). */
#include <math.h>

#include "landmarks/ccnf_kernels.h"
#include "cv/skx_gemm.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#include "landmarks/ccnf_sigmoid_avx2.h"

#define AVX2_FN __attribute__((target("avx2,fma")))

/* im2colContrastNormBias as ccnf.c's im2col_norm computes it (see there): per position the
 * pixel sum (yy outer, xx inner), mean = sum / count, the sum of squared centred pixels (xx
 * outer, yy inner), norm = (float)(1.0 / (double)sqrtf(ss)) (1 for 0), then 1 and the centred
 * pixels times norm. Separate add, sub, mul and div (IEEE, like the scalar code), so the same
 * floats.
 *
 * Lanes are eight consecutive positions r = x*window + y of the output (the last block moved
 * back to end at P; its overlap is recomputed to the same values), so every output row is one
 * contiguous store and no lane is idle. Their pixels are made contiguous first: with the area
 * transposed (at[x][yy] = area[yy][x]), the copy d_yy[x*window + y] = at[x][y + yy] for each
 * kernel row yy puts pixel (xx, yy) of position r at d_yy[r + xx*window], whatever r's column.
 * NB blocks run side by side so that their serial sums overlap. */
enum { NBLK = 4 };

AVX2_FN static inline __attribute__((always_inline)) void
im2col_blocks(const float *d, size_t dstride, int window, int w, int h, const int *r0,
              float *out, float *mean_out, float *norm_out, const int NB)
{
    const size_t P = (size_t)window * (size_t)window;
    const __m256 count = _mm256_set1_ps((float)(w * h)), zero = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.f);
    const __m256d one_d = _mm256_set1_pd(1.0);
    __m256 sum[NBLK], mean[NBLK], ss[NBLK], norm[NBLK];
    for (int b = 0; b < NB; b++)
        sum[b] = ss[b] = zero;
    for (int yy = 0; yy < h; yy++) {
        const float *dy = d + (size_t)yy * dstride;
        for (int xx = 0; xx < w; xx++)
            for (int b = 0; b < NB; b++)
                sum[b] = _mm256_add_ps(
                    sum[b], _mm256_loadu_ps(dy + (size_t)xx * (size_t)window + (size_t)r0[b]));
    }
    for (int b = 0; b < NB; b++)
        mean[b] = _mm256_div_ps(sum[b], count);
    for (int xx = 0; xx < w; xx++)
        for (int yy = 0; yy < h; yy++) {
            const float *p = d + (size_t)yy * dstride + (size_t)xx * (size_t)window;
            for (int b = 0; b < NB; b++) {
                const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(p + r0[b]), mean[b]);
                ss[b] = _mm256_add_ps(ss[b], _mm256_mul_ps(c, c));
            }
        }
    for (int b = 0; b < NB; b++) {
        __m256 n = _mm256_sqrt_ps(ss[b]);
        n = _mm256_blendv_ps(n, one, _mm256_cmp_ps(n, zero, _CMP_EQ_OQ));
        /* (float)(1.0 / (double)n), lane by lane */
        const __m128 lo =
            _mm256_cvtpd_ps(_mm256_div_pd(one_d, _mm256_cvtps_pd(_mm256_castps256_ps128(n))));
        const __m128 hi =
            _mm256_cvtpd_ps(_mm256_div_pd(one_d, _mm256_cvtps_pd(_mm256_extractf128_ps(n, 1))));
        norm[b] = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
        if (mean_out) {
            _mm256_storeu_ps(mean_out + r0[b], mean[b]);
            _mm256_storeu_ps(norm_out + r0[b], norm[b]);
        }
        if (out)
            _mm256_storeu_ps(out + r0[b], one);
    }
    if (!out)
        return;
    for (int xx = 0; xx < w; xx++)
        for (int yy = 0; yy < h; yy++) {
            const float *p = d + (size_t)yy * dstride + (size_t)xx * (size_t)window;
            float *o = out + (size_t)(1 + xx * h + yy) * P;
            for (int b = 0; b < NB; b++)
                _mm256_storeu_ps(o + r0[b], _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p + r0[b]),
                                                                       mean[b]), norm[b]));
        }
}

/* The transposed area and its row copies d_yy (see above) in tmp; returns d. */
AVX2_FN static float *im2col_copies(const float *area, int stride, int window, int w, int h,
                                    float *tmp)
{
    const int aw = window + w - 1, ah = window + h - 1;
    /* at: aw rows of ah (+ 8 floats read past the last row's end, never used); then the d_yy
     * (fa_ccnf_im2col_tmp_floats in all) */
    float *at = tmp, *d = tmp + (size_t)aw * (size_t)ah + 8;
    const size_t dstride = (size_t)aw * (size_t)window;
    for (int y = 0; y < ah; y++) {
        const float *a = area + (size_t)y * (size_t)stride;
        for (int x = 0; x < aw; x++)
            at[(size_t)x * (size_t)ah + (size_t)y] = a[x];
    }
    /* d_yy: window floats per column, copied eight at a time in increasing order (a copy's
     * spill past its column is overwritten by the next column's; the last spills into 8 spare
     * floats) */
    for (int yy = 0; yy < h; yy++) {
        float *dy = d + (size_t)yy * dstride;
        for (int x = 0; x < aw; x++) {
            const float *src = at + (size_t)x * (size_t)ah + (size_t)yy;
            float *dst = dy + (size_t)x * (size_t)window;
            for (int j = 0; j < window; j += 8)
                _mm256_storeu_ps(dst + j, _mm256_loadu_ps(src + j));
        }
    }
    return d;
}

/* im2col_blocks over all positions: into out (if not NULL) and/or each position's mean and norm
 * (if mean is not NULL). */
AVX2_FN static void im2col_all(const float *d, int window, int w, int h, float *out,
                               float *mean, float *norm)
{
    const int P = window * window;
    const size_t dstride = (size_t)(window + w - 1) * (size_t)window;
    const int nblocks = (P + 7) / 8;
    int r0[NBLK], b = 0;
    for (; b + NBLK <= nblocks; b += NBLK) {
        for (int q = 0; q < NBLK; q++)
            r0[q] = (b + q) * 8 + 8 <= P ? (b + q) * 8 : P - 8;
        im2col_blocks(d, dstride, window, w, h, r0, out, mean, norm, NBLK);
    }
    const int rem = nblocks - b;
    for (int q = 0; q < rem; q++)
        r0[q] = (b + q) * 8 + 8 <= P ? (b + q) * 8 : P - 8;
    switch (rem) {
    case 3:
        im2col_blocks(d, dstride, window, w, h, r0, out, mean, norm, 3);
        break;
    case 2:
        im2col_blocks(d, dstride, window, w, h, r0, out, mean, norm, 2);
        break;
    case 1:
        im2col_blocks(d, dstride, window, w, h, r0, out, mean, norm, 1);
        break;
    default:
        break;
    }
}

AVX2_FN void fa_ccnf_im2col_avx2(const float *area, int stride, int window, int w, int h,
                                 float *tmp, float *out)
{
    const float *d = im2col_copies(area, stride, window, w, h, tmp);
    im2col_all(d, window, w, h, out, NULL, NULL);
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

/* Positions r0..r0+7 (the lanes past rem read as 0 and never stored), M neurons sharing each
 * input: each lane the scalar loop's fused chain over k, then the sigmoids added in neuron
 * order. M is a constant at each call so that the accumulators stay in registers. */
AVX2_FN static inline __attribute__((always_inline)) void
neurons_pass(const fa_ccnf_cols *c, __m256 mean, __m256 norm, __m256 bias, const float *const *w,
             const double *a2, int r0, int full, __m256i mask, __m256 *fv, const int M)
{
    __m256 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < M; j++)
        acc[j] = _mm256_fmadd_ps(bias, _mm256_broadcast_ss(w[j]), _mm256_setzero_ps());
    int k = 1;
    for (int xx = 0; xx < c->w; xx++) {
        const float *p = c->base + (size_t)xx * c->sx + (size_t)r0;
        for (int yy = 0; yy < c->h; yy++, k++, p += c->sy) {
            const __m256 x = _mm256_mul_ps(_mm256_sub_ps(LOAD8(p, full, mask), mean), norm);
#pragma GCC unroll 8
            for (int j = 0; j < M; j++)
                acc[j] = _mm256_fmadd_ps(x, _mm256_broadcast_ss(w[j] + k), acc[j]);
        }
    }
    /* unrolled too: an indexed acc would live in memory, stored at every k above */
#pragma GCC unroll 8
    for (int j = 0; j < M; j++)
        *fv = fa_ccnf_add_sigmoid8(*fv, a2[j], acc[j]);
}

/* Positions r0..r0+rem-1 (rem <= 8), the live neurons eight at a time. The dead lanes' mean,
 * norm and bias read as 0, so their inputs are 0 as colsT's masked loads gave. */
AVX2_FN static inline __attribute__((always_inline)) void
neurons_block(const fa_ccnf_cols *c, const float *const *w, const double *a2, int nl, int r0, int rem,
              float *flat)
{
    const int full = rem == 8;
    const __m256i mask = lane_mask(rem);
    const __m256 one = _mm256_and_ps(_mm256_set1_ps(1.f), _mm256_castsi256_ps(mask));
    const __m256 mean = c->mean ? LOAD8(c->mean + r0, full, mask) : _mm256_setzero_ps();
    const __m256 norm = c->norm ? LOAD8(c->norm + r0, full, mask) : one;
    const __m256 bias = c->bias ? LOAD8(c->bias + r0, full, mask) : one;
    __m256 fv = LOAD8(flat + r0, full, mask);
    for (int g = 0; g < nl; g += 8) {
        switch (nl - g < 8 ? nl - g : 8) {
        case 1: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 1); break;
        case 2: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 2); break;
        case 3: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 3); break;
        case 4: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 4); break;
        case 5: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 5); break;
        case 6: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 6); break;
        case 7: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 7); break;
        default: neurons_pass(c, mean, norm, bias, w + g, a2 + g, r0, full, mask, &fv, 8); break;
        }
    }
    if (full)
        _mm256_storeu_ps(flat + r0, fv);
    else
        _mm256_maskstore_ps(flat + r0, mask, fv);
}

/* A dot-like position r (those from fa_skx_dot_row on, at most 8): with its column of inputs x,
 * per live neuron the 16 lanes of skx_gemm.h as two registers, lane l summing k = l, l + 16, ...
 * (the lanes past K % 16 in the last step add fma(0, 0, l), as OpenBLAS's masked loads do: -0
 * becomes +0, like fa_skx_dot's + 0), the tree fa_skx_tree4 picks, and the sigmoids added in
 * neuron order: neurons_scalar's tail, bit for bit. */
AVX2_FN static void neurons_dot_one(const float *x, int r, int P, int K, const fa_ccnf_expert *e,
                                    const int *live, int nl, float *flat)
{
    const int k16 = K & ~15;
    const __m256i m0 = lane_mask(K - k16), m1 = lane_mask(K - k16 - 8);
    for (int j = 0; j < nl; j++) {
        const int i = live[j];
        const float *w = e->weights + (size_t)i * (size_t)K;
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        int k = 0;
        for (; k < k16; k += 16) {
            lo = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), lo);
            hi = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), _mm256_loadu_ps(w + k + 8), hi);
        }
        if (k < K) {
            lo = _mm256_fmadd_ps(_mm256_maskload_ps(x + k, m0), _mm256_maskload_ps(w + k, m0),
                                 lo);
            hi = _mm256_fmadd_ps(_mm256_maskload_ps(x + k + 8, m1),
                                 _mm256_maskload_ps(w + k + 8, m1), hi);
        }
        float l[FA_SKX_LANES];
        _mm256_storeu_ps(l, lo);
        _mm256_storeu_ps(l + 8, hi);
        const float acc = fa_skx_tree4(r, i, P, e->n_neurons) ? fa_skx_reduce4(l)
                                                               : fa_skx_reduce_add(l);
        flat[r] = fa_ccnf_add_sigmoid(flat[r], 2.0 * e->alpha[i], acc);
    }
}

/* The live neurons of e: their weight rows and 2 alpha; returns how many. */
static int live_neurons(const fa_ccnf_expert *e, int K, const float **w, double *a2, int *live)
{
    int nl = 0;
    for (int i = 0; i < e->n_neurons; i++)
        if (e->alpha[i] > 1e-4) {
            w[nl] = e->weights + (size_t)i * (size_t)K;
            a2[nl] = 2.0 * e->alpha[i];
            live[nl++] = i;
        }
    return nl;
}

AVX2_FN void fa_ccnf_neurons_dot_avx2(const fa_ccnf_cols *c, int r0, int P, const fa_ccnf_expert *e,
                                      float *flat)
{
    const int K = 1 + c->w * c->h;
    int live[FA_CCNF_MAX_NEURONS];
    const float *w[FA_CCNF_MAX_NEURONS];
    double a2[FA_CCNF_MAX_NEURONS];
    const int nl = live_neurons(e, K, w, a2, live);
    float x[1 + FA_CCNF_MAX_SUPPORT * FA_CCNF_MAX_SUPPORT + 16];
    for (int r = r0; r < P; r++) {
        /* the inputs as neurons_pass makes them, one lane */
        const float mean = c->mean ? c->mean[r] : 0.f, norm = c->norm ? c->norm[r] : 1.f;
        x[0] = c->bias ? c->bias[r] : 1.f;
        for (int xx = 0, k = 1; xx < c->w; xx++)
            for (int yy = 0; yy < c->h; yy++, k++)
                x[k] = (c->base[(size_t)xx * c->sx + (size_t)yy * c->sy + (size_t)r] - mean) * norm;
        neurons_dot_one(x, r, P, K, e, live, nl, flat);
    }
}

/* fa_ccnf_neurons_avx2 from any fa_ccnf_cols. */
AVX2_FN static void neurons_src(const fa_ccnf_cols *c, int P, const fa_ccnf_expert *e, float *flat)
{
    const int K = 1 + c->w * c->h;
    int live[FA_CCNF_MAX_NEURONS];
    const float *w[FA_CCNF_MAX_NEURONS];
    double a2[FA_CCNF_MAX_NEURONS];
    const int nl = live_neurons(e, K, w, a2, live);
    /* the chained positions */
    const int rd = fa_skx_dot_row(P, K);
    int r0 = 0;
    for (; r0 + 8 <= rd; r0 += 8)
        neurons_block(c, w, a2, nl, r0, 8, flat);
    if (r0 < rd)
        neurons_block(c, w, a2, nl, r0, rd - r0, flat);
    fa_ccnf_neurons_dot_avx2(c, rd, P, e, flat);
}

AVX2_FN int fa_ccnf_neurons_avx2(const float *colsT, int P, int K, const fa_ccnf_expert *e, float *flat)
{
    const fa_ccnf_cols c = {colsT + P, (size_t)e->height * (size_t)P, (size_t)P, e->width, e->height,
                        NULL, NULL, colsT};
    (void)K; /* 1 + width * height */
    neurons_src(&c, P, e, flat);
    return P;
}

AVX2_FN void fa_ccnf_fused_cols_avx2(const float *area, int stride, int window,
                                     const fa_ccnf_expert *e, float *tmp, fa_ccnf_cols *c)
{
    const int w = e->width, h = e->height, P = window * window;
    const float *d = im2col_copies(area, stride, window, w, h, tmp);
    const size_t dstride = (size_t)(window + w - 1) * (size_t)window;
    /* after the row copies and their 8 spare floats (fa_ccnf_im2col_tmp_floats) */
    float *mean = tmp + (size_t)(window + w - 1) * (size_t)(window + h - 1) + 8 +
                  (size_t)h * dstride + 8,
          *norm = mean + P;
    im2col_all(d, window, w, h, NULL, mean, norm);
    *c = (fa_ccnf_cols){d, (size_t)window, dstride, w, h, mean, norm, NULL};
}

AVX2_FN void fa_ccnf_neurons_fused_avx2(const float *area, int stride, int window,
                                        const fa_ccnf_expert *e, float *tmp, float *flat)
{
    fa_ccnf_cols c;
    fa_ccnf_fused_cols_avx2(area, stride, window, e, tmp, &c);
    neurons_src(&c, window * window, e, flat);
}

#endif
