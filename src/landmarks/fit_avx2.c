/* fit_avx2.c - the AVX2 twin of fit.c's mean-shift sums (fa_mean_shift_sums): lane l of every
 * register is landmark l, so each of its three float chains gets the same products and adds in
 * the same order as the scalar loop. Eight consecutive steps of the eight landmarks' rows are
 * loaded as rows and transposed, which gives the per-step vectors without gathers. */
#include "landmarks/fit_kernels.h"
#include "cv/transpose8_avx2.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))

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
        fa_transpose8_avx2(a);
        fa_transpose8_avx2(b);
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
