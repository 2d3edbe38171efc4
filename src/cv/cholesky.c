/* cholesky.c - OpenCV 4.6's CholImpl<float> (lapack.cpp), behind cv::solve(DECOMP_CHOLESKY)
 * (the CLNF fit's parameter update) and cv::invert(DECOMP_CHOLESKY) (the CCNF patch experts'
 * Sigma matrices). Float products L*L and L*b are each rounded to float before they are
 * subtracted from a double sum, as the template's `s -= L[..]*L[..]` does with float operands;
 * the diagonal holds 1/sqrt of the pivot. The PDM fit's column-ordered copy (pdm/calc_params.c)
 * is the same arithmetic evaluated in another loop order for its SIMD kernels. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cv/cholesky_kernels.h"

/* The factorisation, in place; 0 if a pivot is below FLT_EPSILON (not positive definite). */
static int factor(float *A, int N)
{
    const size_t n = (size_t)N;
    for (int i = 0; i < N; i++) {
        float *Li = A + (size_t)i * n;
        int j;
        for (j = 0; j < i; j++) {
            const float *Lj = A + (size_t)j * n;
            double s = Li[j];
            for (int k = 0; k < j; k++)
                s -= (double)(Li[k] * Lj[k]);
            Li[j] = (float)(s * Lj[j]);
        }
        double s = Li[i];
        for (int k = 0; k < j; k++) {
            double t = Li[k];
            s -= t * t;
        }
        if (s < (double)FLT_EPSILON)
            return 0;
        Li[i] = (float)(1. / sqrt(s));
    }
    return 1;
}

int fa_cv_cholesky(float *A, int N, float *b, int m)
{
    const size_t n = (size_t)N, mm = (size_t)m;
    if (!factor(A, N)) {
        memset(b, 0, n * mm * sizeof *b);
        return 0;
    }
    /* L y = b */
    for (int i = 0; i < N; i++) {
        const float *Li = A + (size_t)i * n;
        for (int j = 0; j < m; j++) {
            double s = b[(size_t)i * mm + (size_t)j];
            for (int k = 0; k < i; k++)
                s -= (double)(Li[k] * b[(size_t)k * mm + (size_t)j]);
            b[(size_t)i * mm + (size_t)j] = (float)(s * Li[i]);
        }
    }
    /* L^T x = y */
    for (int i = N - 1; i >= 0; i--) {
        const float dii = A[(size_t)i * n + (size_t)i];
        for (int j = 0; j < m; j++) {
            double s = b[(size_t)i * mm + (size_t)j];
            for (int k = N - 1; k > i; k--)
                s -= (double)(A[(size_t)k * n + (size_t)i] * b[(size_t)k * mm + (size_t)j]);
            b[(size_t)i * mm + (size_t)j] = (float)(s * dii);
        }
    }
    return 1;
}

int fa_cv_invert_cholesky(float *A, int N, float *X, unsigned cpu)
{
    const size_t n = (size_t)N;
    memset(X, 0, n * n * sizeof *X);
    if (!factor(A, N))
        return 0;
#if FA_BUILD_AVX2
    const int avx2 = (cpu & FA_CPU_AVX2) != 0;
#else
    const int avx2 = 0;
    (void)cpu;
#endif
    /* X = I; forward: L y = b. Column j of b is 0 above row j throughout (each such entry is
     * +0 times a positive diagonal), and subtracting the +-0 products of those rows leaves s
     * unchanged (s starts at +0 or 1 and never becomes -0), so the sums may start at any
     * k <= j: the scalar code starts at j, the vector code at its block's first column. */
    for (int i = 0; i < N; i++)
        X[(size_t)i * n + (size_t)i] = 1.f;
    for (int i = 0; i < N; i++) {
        const float *Li = A + (size_t)i * n;
        float *Xi = X + (size_t)i * n;
        int j0 = 0;
#if FA_BUILD_AVX2
        if (avx2)
            j0 = fa_chol_forward_row_avx2(A, X, N, i);
#endif
        for (int j = j0; j <= i; j++) {
            double s = Xi[j];
            for (int k = j; k < i; k++)
                s -= (double)(Li[k] * X[(size_t)k * n + (size_t)j]);
            Xi[j] = (float)(s * Li[i]);
        }
    }
    /* backward: L^T x = y */
    for (int i = N - 1; i >= 0; i--) {
        float *Xi = X + (size_t)i * n;
        const float dii = A[(size_t)i * n + (size_t)i];
        int j0 = 0;
#if FA_BUILD_AVX2
        if (avx2)
            j0 = fa_chol_backward_row_avx2(A, X, N, i);
#endif
        for (int j = j0; j < N; j++) {
            double s = Xi[j];
            for (int k = N - 1; k > i; k--)
                s -= (double)(A[(size_t)k * n + (size_t)i] * X[(size_t)k * n + (size_t)j]);
            Xi[j] = (float)(s * dii);
        }
    }
    (void)avx2;
    return 1;
}
