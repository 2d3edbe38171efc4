/* skx_gemm_avx2.c - the AVX2+FMA twin of skx_gemm.c's Hessian: the same fused chains, 16
 * partial chains and trees (skx_gemm.h), eight columns of H per register, so the same bits as
 * hessian_scalar. */
#include "cv/skx_gemm.h"
#if FA_BUILD_AVX2
#include <immintrin.h>
#define AVX2_FN __attribute__((target("avx2,fma")))

AVX2_FN static __m256i lane_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Row r of H, chained columns c0..c0+cw-1 (cw <= 32): one fused chain per column over q. */
AVX2_FN static void chain_cols(const float *J, int k, const float *b, int len, int c0, int cw,
                               float *h)
{
    const int nb = (cw + 7) / 8;
    __m256i mask[4];
    __m256 acc[4];
    for (int t = 0; t < 4; t++) {
        mask[t] = lane_mask(cw - 8 * t);
        acc[t] = _mm256_setzero_ps();
    }
    for (int q = 0; q < len; q++) {
        const float *jq = J + (size_t)q * (size_t)k + c0;
        const __m256 v = _mm256_set1_ps(b[q]);
        for (int t = 0; t < nb; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_maskload_ps(jq + 8 * t, mask[t]), v, acc[t]);
    }
    for (int t = 0; t < nb; t++)
        _mm256_maskstore_ps(h + c0 + 8 * t, mask[t], acc[t]);
}

/* Row r of H, dot-like columns c0..c0+cw-1 (cw <= 8): lane l of the 16 sums q = l, l + 16, ...
 * (lanes 0-7, then 8-15), + 0 in the lanes past len % 16, then per column REDUCE_4's tree or
 * _mm512_reduce_add_ps's (fa_skx_tree4), all vertical adds. */
AVX2_FN static void dot_cols(const float *J, int k, const float *b, int len, int r, int c0,
                             int cw, float *h)
{
    const __m256i mask = lane_mask(cw);
    __m256 l[FA_SKX_LANES];
    for (int half = 0; half < FA_SKX_LANES; half += 8) {
        __m256 a[8];
        for (int i = 0; i < 8; i++)
            a[i] = _mm256_setzero_ps();
        for (int qb = half; qb < len; qb += FA_SKX_LANES)
            for (int i = 0; i < 8; i++) {
                const int q = qb + i;
                if (q < len)
                    a[i] = _mm256_fmadd_ps(
                        _mm256_maskload_ps(J + (size_t)q * (size_t)k + c0, mask),
                        _mm256_set1_ps(b[q]), a[i]);
            }
        for (int i = 0; i < 8; i++)
            l[half + i] = a[i];
    }
    if (len % FA_SKX_LANES)
        for (int i = len % FA_SKX_LANES; i < FA_SKX_LANES; i++)
            l[i] = _mm256_add_ps(l[i], _mm256_setzero_ps());
    __m256 x[4];
    for (int q = 0; q < 4; q++)
        x[q] = _mm256_add_ps(_mm256_add_ps(l[4 * q], l[4 * q + 1]),
                             _mm256_add_ps(l[4 * q + 2], l[4 * q + 3]));
    const __m256 r4 = _mm256_add_ps(_mm256_add_ps(x[0], x[1]), _mm256_add_ps(x[2], x[3]));
    __m256 t8[8], t4[4];
    for (int i = 0; i < 8; i++)
        t8[i] = _mm256_add_ps(l[8 + i], l[i]);
    for (int i = 0; i < 4; i++)
        t4[i] = _mm256_add_ps(t8[4 + i], t8[i]);
    const __m256 ra = _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
    float v4[8], va[8];
    _mm256_storeu_ps(v4, r4);
    _mm256_storeu_ps(va, ra);
    for (int i = 0; i < cw; i++)
        h[c0 + i] = fa_skx_tree4(c0 + i, r, k, k) ? v4[i] : va[i];
}

/* fa_skx_gemv_t for outputs n0..n0+rem-1 (rem <= 8), one register of eight outputs per lane:
 * dot-like lanes 0-7 then 8-15 (eight accumulators in registers), + 0 in the lanes past K % 16,
 * the trees as vertical adds; or one chain per output for K < 32. Then + c. */
AVX2_FN static void gemv_t_block(const float *a, const float *Bt, int K, int N, const float *c,
                                 int n0, int rem, float *out)
{
    const __m256i mask = lane_mask(rem);
    const float *b0 = Bt + n0;
    __m256 r;
    if (fa_skx_dot_row(1, K) != 0) {
        r = _mm256_setzero_ps();
        for (int k = 0; k < K; k++)
            r = _mm256_fmadd_ps(_mm256_maskload_ps(b0 + (size_t)k * (size_t)N, mask),
                                _mm256_set1_ps(a[k]), r);
    } else {
        __m256 l[FA_SKX_LANES];
        for (int half = 0; half < FA_SKX_LANES; half += 8) {
            __m256 acc[8];
            for (int i = 0; i < 8; i++)
                acc[i] = _mm256_setzero_ps();
            for (int kb = half; kb < K; kb += FA_SKX_LANES)
                for (int i = 0; i < 8; i++) {
                    const int k = kb + i;
                    if (k < K)
                        acc[i] = _mm256_fmadd_ps(
                            _mm256_maskload_ps(b0 + (size_t)k * (size_t)N, mask),
                            _mm256_set1_ps(a[k]), acc[i]);
                }
            for (int i = 0; i < 8; i++)
                l[half + i] = acc[i];
        }
        if (K % FA_SKX_LANES)
            for (int i = K % FA_SKX_LANES; i < FA_SKX_LANES; i++)
                l[i] = _mm256_add_ps(l[i], _mm256_setzero_ps());
        __m256 x[4];
        for (int q = 0; q < 4; q++)
            x[q] = _mm256_add_ps(_mm256_add_ps(l[4 * q], l[4 * q + 1]),
                                 _mm256_add_ps(l[4 * q + 2], l[4 * q + 3]));
        r = _mm256_add_ps(_mm256_add_ps(x[0], x[1]), _mm256_add_ps(x[2], x[3]));
        const int n4 = N & ~3;
        if (n0 + rem > n4) {
            __m256 t8[8], t4[4];
            for (int i = 0; i < 8; i++)
                t8[i] = _mm256_add_ps(l[8 + i], l[i]);
            for (int i = 0; i < 4; i++)
                t4[i] = _mm256_add_ps(t8[4 + i], t8[i]);
            const __m256 ra =
                _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
            const __m256i use_add = _mm256_cmpgt_epi32(
                _mm256_add_epi32(_mm256_set1_epi32(n0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                _mm256_set1_epi32(n4 - 1));
            r = _mm256_blendv_ps(r, ra, _mm256_castsi256_ps(use_add));
        }
    }
    if (c)
        r = _mm256_add_ps(r, _mm256_maskload_ps(c + n0, mask));
    _mm256_maskstore_ps(out + n0, mask, r);
}

AVX2_FN void fa_skx_gemv_t_avx2(const float *a, const float *Bt, int K, int N, const float *c,
                                float *out)
{
    for (int n0 = 0; n0 < N; n0 += 8)
        gemv_t_block(a, Bt, K, N, c, n0, N - n0 < 8 ? N - n0 : 8, out);
}

AVX2_FN void fa_skx_hessian_avx2(const float *Jwt, const float *J, int len, int k,
                                  const float *reg, float *H)
{
    const int cd = fa_skx_dot_row(k, len);
    for (int r = 0; r < k; r++) {
        const float *b = Jwt + (size_t)r * (size_t)len;
        float *h = H + (size_t)r * (size_t)k;
        for (int c0 = 0; c0 < cd; c0 += 32)
            chain_cols(J, k, b, len, c0, cd - c0 < 32 ? cd - c0 : 32, h);
        if (cd < k)
            dot_cols(J, k, b, len, r, cd, k - cd, h);
        /* fma(C, beta = 1, sum): + reg on the diagonal, + 0 elsewhere */
        for (int c = 0; c < k; c++)
            h[c] = h[c] + (r == c ? reg[r] : 0.0f);
    }
}

#endif
