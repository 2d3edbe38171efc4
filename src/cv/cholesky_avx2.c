/* cholesky_avx2.c - the AVX2 twin of cholesky.c's inverse (fa_cv_invert_cholesky): eight
 * columns of a row at a time, each lane the scalar loop's float products and double sums in the
 * same order, so the same bits. */
#include "cv/cholesky_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2"))) static
#define AVX2_EXPORT __attribute__((target("avx2")))

/* s (8 doubles in two halves) -= (double)(l * x) for 8 floats x: the float product rounded,
 * then widened and subtracted, lane by lane exactly as the scalar code. */
AVX2_FN void sub_prod8(__m256d *lo, __m256d *hi, float l, const float *x)
{
    const __m256 p = _mm256_mul_ps(_mm256_set1_ps(l), _mm256_loadu_ps(x));
    *lo = _mm256_sub_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
    *hi = _mm256_sub_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
}

AVX2_FN void store_scaled8(float *dst, __m256d lo, __m256d hi, float d)
{
    const __m256d v = _mm256_set1_pd((double)d);
    const __m128 a = _mm256_cvtpd_ps(_mm256_mul_pd(lo, v)), b = _mm256_cvtpd_ps(_mm256_mul_pd(hi, v));
    _mm256_storeu_ps(dst, _mm256_insertf128_ps(_mm256_castps128_ps256(a), b, 1));
}

/* Forward-solve row i for columns in whole blocks of 8 within 0..i; returns the first column
 * left to the scalar code. */
AVX2_EXPORT int fa_chol_forward_row_avx2(const float *A, float *X, int N, int i)
{
    const size_t n = (size_t)N;
    const float *Li = A + (size_t)i * n;
    float *Xi = X + (size_t)i * n;
    int jb = 0;
    for (; jb + 8 <= i + 1; jb += 8) {
        __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(Xi + jb)), hi = _mm256_cvtps_pd(_mm_loadu_ps(Xi + jb + 4));
        for (int k = jb; k < i; k++)
            sub_prod8(&lo, &hi, Li[k], X + (size_t)k * n + (size_t)jb);
        store_scaled8(Xi + jb, lo, hi, Li[i]);
    }
    return jb;
}

AVX2_EXPORT int fa_chol_backward_row_avx2(const float *A, float *X, int N, int i)
{
    const size_t n = (size_t)N;
    float *Xi = X + (size_t)i * n;
    int jb = 0;
    for (; jb + 8 <= N; jb += 8) {
        __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(Xi + jb)), hi = _mm256_cvtps_pd(_mm_loadu_ps(Xi + jb + 4));
        for (int k = N - 1; k > i; k--)
            sub_prod8(&lo, &hi, A[(size_t)k * n + (size_t)i], X + (size_t)k * n + (size_t)jb);
        store_scaled8(Xi + jb, lo, hi, A[(size_t)i * n + (size_t)i]);
    }
    return jb;
}

#endif
