/* skx_gemm_avx2.c - the AVX2+FMA twin of skx_gemm.c's Hessian: the same fused chains, 16
 * partial chains and trees (skx_gemm.h), eight columns of H per register, so the same bits as
 * hessian_scalar (its lower triangle, all that the Cholesky solves read). */
#include "cv/skx_gemm.h"
#if FA_BUILD_AVX2
#include <immintrin.h>
#include <string.h>
#define AVX2_FN __attribute__((target("avx2,fma")))

AVX2_FN static __m256i lane_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The 16 dot-like lane sums of up to eight outputs side by side: lane l sums
 * fma(x[q], v[q]) over q = l, l + 16, ... < K (lanes 0-7, then 8-15), x[q] the eight floats
 * at base + q * stride (the first n of them, mask). */
AVX2_FN static inline __attribute__((always_inline)) void
dot_lanes(const float *base, size_t stride, const float *v, int K, __m256i mask, __m256 *l)
{
    for (int half = 0; half < FA_SKX_LANES; half += 8) {
        __m256 acc[8];
        for (int i = 0; i < 8; i++)
            acc[i] = _mm256_setzero_ps();
        for (int qb = half; qb < K; qb += FA_SKX_LANES)
            for (int i = 0; i < 8; i++) {
                const int q = qb + i;
                if (q < K)
                    acc[i] = _mm256_fmadd_ps(_mm256_maskload_ps(base + (size_t)q * stride, mask),
                                             _mm256_set1_ps(v[q]), acc[i]);
            }
        for (int i = 0; i < 8; i++)
            l[half + i] = acc[i];
    }
}

/* + 0 in the lanes past K % 16 (OpenBLAS's masked tail: fma(0, 0, -0) is +0), then both trees
 * as vertical adds: REDUCE_4's (*r4) and _mm512_reduce_add_ps's (*ra). */
AVX2_FN static inline __attribute__((always_inline)) void
dot_trees(__m256 *l, int K, __m256 *r4, __m256 *ra)
{
    if (K % FA_SKX_LANES)
        for (int i = K % FA_SKX_LANES; i < FA_SKX_LANES; i++)
            l[i] = _mm256_add_ps(l[i], _mm256_setzero_ps());
    __m256 x[4];
    for (int q = 0; q < 4; q++)
        x[q] = _mm256_add_ps(_mm256_add_ps(l[4 * q], l[4 * q + 1]),
                             _mm256_add_ps(l[4 * q + 2], l[4 * q + 3]));
    *r4 = _mm256_add_ps(_mm256_add_ps(x[0], x[1]), _mm256_add_ps(x[2], x[3]));
    __m256 t8[8], t4[4];
    for (int i = 0; i < 8; i++)
        t8[i] = _mm256_add_ps(l[8 + i], l[i]);
    for (int i = 0; i < 4; i++)
        t4[i] = _mm256_add_ps(t8[4 + i], t8[i]);
    *ra = _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
}

/* Row r of H, dot-like columns c0..c0+cw-1 (cw <= 8), then per column REDUCE_4's tree or
 * _mm512_reduce_add_ps's (fa_skx_tree4). */
AVX2_FN static void dot_cols(const float *J, int k, const float *b, int len, int r, int c0,
                             int cw, float *h)
{
    __m256 l[FA_SKX_LANES], r4, ra;
    dot_lanes(J + c0, (size_t)k, b, len, lane_mask(cw), l);
    dot_trees(l, len, &r4, &ra);
    float v4[8], va[8];
    _mm256_storeu_ps(v4, r4);
    _mm256_storeu_ps(va, ra);
    for (int i = 0; i < cw; i++)
        h[c0 + i] = fa_skx_tree4(c0 + i, r, k, k) ? v4[i] : va[i];
}

/* The dot-like finish of one block of outputs n0..n0+rem-1 from its 16 lane sums l: the trees
 * (REDUCE_4 for n < N & ~3, else _mm512_reduce_add_ps's), then + c. */
AVX2_FN static inline __attribute__((always_inline)) void
gemv_t_finish(__m256 *l, int K, int N, const float *c, int n0, int rem, float *out)
{
    const __m256i mask = lane_mask(rem);
    __m256 r, ra;
    dot_trees(l, K, &r, &ra);
    if (n0 + rem > (N & ~3)) {
        const __m256i use_add = _mm256_cmpgt_epi32(
            _mm256_add_epi32(_mm256_set1_epi32(n0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
            _mm256_set1_epi32((N & ~3) - 1));
        r = _mm256_blendv_ps(r, ra, _mm256_castsi256_ps(use_add));
    }
    if (c)
        r = _mm256_add_ps(r, _mm256_maskload_ps(c + n0, mask));
    _mm256_maskstore_ps(out + n0, mask, r);
}

/* fa_skx_gemv_t's dot-like sums for NB full blocks of eight outputs from n0 (one register of
 * eight outputs per lane): 8 / NB lanes per pass, so that NB * (8 / NB) = 8 chains are in flight
 * and each broadcast a[k] serves NB blocks. Every lane is still its own chain k = l, l + 16, ...
 * in increasing k, so the same bits as one block at a time. */
AVX2_FN static inline __attribute__((always_inline)) void
gemv_t_dot_blocks(const float *a, const float *Bt, int K, int N, const float *c, int n0,
                  float *out, const int NB)
{
    const int L = 8 / NB;
    __m256 l[4][FA_SKX_LANES];
    for (int l0 = 0; l0 < FA_SKX_LANES; l0 += L) {
        __m256 acc[8];
        for (int i = 0; i < 8; i++)
            acc[i] = _mm256_setzero_ps();
        for (int kb = l0; kb < K; kb += FA_SKX_LANES)
            for (int i = 0; i < L; i++) {
                const int k = kb + i;
                if (k < K) {
                    const __m256 v = _mm256_broadcast_ss(a + k);
                    const float *bk = Bt + (size_t)k * (size_t)N + (size_t)n0;
                    for (int b = 0; b < NB; b++)
                        acc[b * L + i] =
                            _mm256_fmadd_ps(_mm256_loadu_ps(bk + 8 * b), v, acc[b * L + i]);
                }
            }
        for (int b = 0; b < NB; b++)
            for (int i = 0; i < L; i++)
                l[b][l0 + i] = acc[b * L + i];
    }
    for (int b = 0; b < NB; b++)
        gemv_t_finish(l[b], K, N, c, n0 + 8 * b, 8, out);
}

/* fa_skx_gemv_t for outputs n0..n0+rem-1 (rem <= 8), one register of eight outputs per lane:
 * dot-like lanes 0-7 then 8-15 (eight accumulators in registers), then gemv_t_finish; or one
 * chain per output for K < 32, then + c. */
AVX2_FN static void gemv_t_block(const float *a, const float *Bt, int K, int N, const float *c,
                                 int n0, int rem, float *out)
{
    const __m256i mask = lane_mask(rem);
    const float *b0 = Bt + n0;
    if (fa_skx_dot_row(1, K) != 0) {
        __m256 r = _mm256_setzero_ps();
        for (int k = 0; k < K; k++)
            r = _mm256_fmadd_ps(_mm256_maskload_ps(b0 + (size_t)k * (size_t)N, mask),
                                _mm256_set1_ps(a[k]), r);
        if (c)
            r = _mm256_add_ps(r, _mm256_maskload_ps(c + n0, mask));
        _mm256_maskstore_ps(out + n0, mask, r);
        return;
    }
    __m256 l[FA_SKX_LANES];
    dot_lanes(b0, (size_t)N, a, K, mask, l);
    gemv_t_finish(l, K, N, c, n0, rem, out);
}

AVX2_FN void fa_skx_gemv_t_avx2(const float *a, const float *Bt, int K, int N, const float *c,
                                float *out)
{
    int n0 = 0;
    if (fa_skx_dot_row(1, K) == 0) {
        for (; n0 + 32 <= N; n0 += 32)
            gemv_t_dot_blocks(a, Bt, K, N, c, n0, out, 4);
        for (; n0 + 16 <= N; n0 += 16)
            gemv_t_dot_blocks(a, Bt, K, N, c, n0, out, 2);
    }
    for (; n0 < N; n0 += 8)
        gemv_t_block(a, Bt, K, N, c, n0, N - n0 < 8 ? N - n0 : 8, out);
}

/* Rows r0..r0+nr-1 of H (nr <= R), chained columns c0..c0+cw-1 (cw <= 8 * NB): one fused chain
 * per element over q from +0, R rows side by side so that R * NB independent chains
 * hide the FMA latency, and each J load serves every row. Only the lower triangle is stored. */
AVX2_FN static inline __attribute__((always_inline)) void
chain_rows(const float *Jwt, const float *J, int len, int k, int r0, int nr, int c0, int cw,
           float *H, const int R, const int NB)
{
    __m256 acc[8];
    const float *b[8];
    for (int i = 0; i < R; i++)
        b[i] = Jwt + (size_t)(r0 + (i < nr ? i : 0)) * (size_t)len;
    for (int i = 0; i < 8; i++)
        acc[i] = _mm256_setzero_ps();
    const int full_last = cw - 8 * (NB - 1) == 8;
    const __m256i last = lane_mask(cw - 8 * (NB - 1));
    for (int q = 0; q < len; q++) {
        const float *jq = J + (size_t)q * (size_t)k + c0;
        __m256 x[4];
        for (int t = 0; t < NB; t++)
            x[t] = t < NB - 1 || full_last ? _mm256_loadu_ps(jq + 8 * t)
                                           : _mm256_maskload_ps(jq + 8 * t, last);
        for (int i = 0; i < R; i++) {
            const __m256 v = _mm256_broadcast_ss(b[i] + q);
            for (int t = 0; t < NB; t++)
                acc[i * NB + t] = _mm256_fmadd_ps(x[t], v, acc[i * NB + t]);
        }
    }
    for (int i = 0; i < nr; i++) {
        const int r = r0 + i, n = r - c0 + 1 < cw ? r - c0 + 1 : cw; /* columns c <= r */
        float *h = H + (size_t)r * (size_t)k + c0;
        for (int t = 0; t < NB && 8 * t < n; t++)
            _mm256_maskstore_ps(h + 8 * t, lane_mask(n - 8 * t), acc[i * NB + t]);
    }
}

AVX2_FN void fa_skx_hessian_avx2(const float *Jwt, const float *J, int len, int k,
                                  const float *reg, float *H)
{
    const int cd = fa_skx_dot_row(k, len);
    memset(H, 0, sizeof(float) * (size_t)k * (size_t)k);
    /* the chained columns, 32 at a time; rows from c0 on (the rows above need none of them),
     * as many side by side as eight accumulators allow */
    for (int c0 = 0; c0 < cd; c0 += 32) {
        const int cmax = cd - c0 < 32 ? cd - c0 : 32;
        for (int r0 = c0; r0 < k;) {
            /* rows r0 .. r0 + nr - 1 need columns c0 .. min(r0 + nr - 1, c0 + cmax - 1) */
            int nr = 8;
            while (nr > 1 && ((r0 + nr - c0 < cmax ? r0 + nr - c0 : cmax) + 7) / 8 * nr > 8)
                nr--;
            if (nr > k - r0)
                nr = k - r0;
            const int cw = r0 + nr - c0 < cmax ? r0 + nr - c0 : cmax;
            switch ((cw + 7) / 8) {
            case 1:
                chain_rows(Jwt, J, len, k, r0, nr, c0, cw, H, 8, 1);
                break;
            case 2:
                chain_rows(Jwt, J, len, k, r0, nr, c0, cw, H, 4, 2);
                break;
            case 3:
                chain_rows(Jwt, J, len, k, r0, nr, c0, cw, H, 2, 3);
                break;
            default:
                chain_rows(Jwt, J, len, k, r0, nr, c0, cw, H, 2, 4);
                break;
            }
            r0 += nr;
        }
    }
    for (int r = cd; r < k; r++)
        dot_cols(J, k, Jwt + (size_t)r * (size_t)len, len, r, cd, r - cd + 1,
                 H + (size_t)r * (size_t)k);
    /* fma(C, beta = 1, sum): + reg on the diagonal, + 0 elsewhere */
    for (int r = 0; r < k; r++) {
        float *h = H + (size_t)r * (size_t)k;
        for (int c = 0; c <= r; c++)
            h[c] = h[c] + (r == c ? reg[r] : 0.0f);
    }
}

#endif
