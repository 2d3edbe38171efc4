/* gemv_avx2.c - the AVX2 twin of gemv.c (GEMMSingleMul<float, double>'s four double lanes).
 * A product of two floats is exact in double, so multiplying in double then adding rounds
 * exactly as the scalar `s += (double)a * v` does; the four lanes k mod 4 are the register's
 * lanes, each summed in the same order. Rows go eight at a time: the lanes of one row form a
 * single dependency chain, which alone would wait on the adder's latency. */
#include "cv/gemv_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))

/* Rows r0..r0+R-1: the lanes over the multiple of 4, then the scalar tail into s0, the sum and
 * the bias in gemv.c's order. */
AVX2_FN static inline __attribute__((always_inline)) void
rows_block(const float *A, size_t lda, int r0, int len, const float *v, const float *bias,
           float *out, const int R)
{
    const int full = len & ~3;
    __m256d acc[8];
    for (int i = 0; i < R; i++)
        acc[i] = _mm256_setzero_pd();
    const float *a = A + (size_t)r0 * lda;
    for (int k = 0; k < full; k += 4) {
        const __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(v + k));
        for (int i = 0; i < R; i++) {
            const __m256d w = _mm256_cvtps_pd(_mm_loadu_ps(a + (size_t)i * lda + k));
            acc[i] = _mm256_add_pd(acc[i], _mm256_mul_pd(w, x));
        }
    }
    for (int i = 0; i < R; i++) {
        double s[4];
        _mm256_storeu_pd(s, acc[i]);
        const float *ai = a + (size_t)i * lda;
        for (int k = full; k < len; k++)
            s[0] += (double)ai[k] * v[k];
        double t = s[0] + s[1] + s[2] + s[3];
        out[r0 + i] = bias ? (float)(t + (double)bias[r0 + i]) : (float)t;
    }
}

AVX2_FN void fa_gemv_cv_avx2(const float *A, size_t lda, int rows, int len, const float *v,
                             const float *bias, float *out)
{
    int r = 0;
    for (; r + 8 <= rows; r += 8)
        rows_block(A, lda, r, len, v, bias, out, 8);
    for (; r + 4 <= rows; r += 4)
        rows_block(A, lda, r, len, v, bias, out, 4);
    for (; r < rows; r++)
        rows_block(A, lda, r, len, v, bias, out, 1);
}
#else
typedef int fa_gemv_avx2_unused; /* ISO C wants a declaration in every translation unit */
#endif
