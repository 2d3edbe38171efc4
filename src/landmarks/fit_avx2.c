/* fit_avx2.c - the AVX2 twin of fit.c's mean-shift sums (fa_mean_shift_sums): lane l of every
 * register is landmark l, so each of its three float chains gets the same products and adds in
 * the same order as the scalar loop. Eight consecutive steps of the eight landmarks' rows are
 * loaded as rows and transposed, which gives the per-step vectors without gathers. */
#include "landmarks/fit_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))

/* r[0..7] (row l = lane l's eight steps) to columns: r[j] lane l = old r[l] lane j. */
AVX2_FN static inline __attribute__((always_inline)) void transpose8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

AVX2_FN void fa_mean_shift_sums_avx2(const float *const *p, const float *const *k, int nl, int ws,
                                     float *sum, float *mx, float *my)
{
    /* lanes past nl repeat lane 0 (computed, never stored) */
    const float *pl[8], *kl[8];
    for (int l = 0; l < 8; l++) {
        pl[l] = p[l < nl ? l : 0];
        kl[l] = k[l < nl ? l : 0];
    }
    const int ws2 = ws * ws;
    __m256 s = _mm256_setzero_ps(), x = _mm256_setzero_ps(), y = _mm256_setzero_ps();
    int t = 0, ii = 0, jj = 0;
    for (; t + 8 <= ws2; t += 8) {
        __m256 a[8], b[8];
        for (int l = 0; l < 8; l++) {
            a[l] = _mm256_loadu_ps(pl[l] + t);
            b[l] = _mm256_loadu_ps(kl[l] + t);
        }
        transpose8(a);
        transpose8(b);
        for (int j = 0; j < 8; j++) {
            const __m256 v = _mm256_mul_ps(a[j], b[j]);
            s = _mm256_add_ps(s, v);
            x = _mm256_add_ps(x, _mm256_mul_ps(v, _mm256_set1_ps((float)jj)));
            y = _mm256_add_ps(y, _mm256_mul_ps(v, _mm256_set1_ps((float)ii)));
            if (++jj == ws) {
                jj = 0;
                ii++;
            }
        }
    }
    float fs[8], fx[8], fy[8];
    _mm256_storeu_ps(fs, s);
    _mm256_storeu_ps(fx, x);
    _mm256_storeu_ps(fy, y);
    for (int l = 0; l < nl; l++) {
        sum[l] = fs[l];
        mx[l] = fx[l];
        my[l] = fy[l];
    }
    fa_mean_shift_sums(p, k, nl, ws, t, sum, mx, my);
}

#endif
