/* cholesky.c - OpenCV 4.6's CholImpl<float> (lapack.cpp), behind cv::solve(DECOMP_CHOLESKY)
 * (the CLNF fit's parameter update) and cv::invert(DECOMP_CHOLESKY) (the CCNF patch experts'
 * Sigma matrices). Float products L*L and L*b are each rounded to float before they are
 * subtracted from a double sum, as the template's `s -= L[..]*L[..]` does with float operands;
 * the diagonal holds 1/sqrt of the pivot. The PDM fit's column-ordered copy (pdm/calc_params.c)
 * is the same arithmetic evaluated in another loop order for its SIMD kernels. */
#include <float.h>
#include <math.h>
#include <stdint.h>
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

/* ---- several matrices at once ------------------------------------------------------------ */

size_t fa_cv_invert_batch_floats(int N)
{
    const size_t n = (size_t)N;
    /* a dense copy, A8, X8 (+32 padding), first and last (ints, float-sized) */
    return n * n + 2 * 8 * n * n + 32 + 2 * n;
}

#if FA_BUILD_AVX2 /* (only the AVX2 batch path skips zeros) */
/* A value the skipping argument cannot take: not finite, or -0 (a sum may start from it). */
static int unusual(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return (u & 0x7f800000u) == 0x7f800000u || u == 0x80000000u;
}
#endif

void fa_cv_invert_cholesky_batch(const float *const *A, int cnt, int N, float *const *X, int *ok,
                                 int col_major, unsigned cpu, float *scratch)
{
    const size_t n = (size_t)N, nn = n * n;
    float *dense = scratch;
    unsigned redo = cnt >= 32 ? ~0u : (1u << cnt) - 1; /* matrices for the one-at-a-time path */
#if FA_BUILD_AVX2
    if ((cpu & FA_CPU_AVX2) && cnt >= 1 && cnt <= 8) {
        float *A8 = scratch + nn, *X8 = A8 + 8 * nn;
        int *first = (int *)(X8 + 8 * nn + 32), *last = first + N;
        redo = 0;
        for (int l = 0; l < cnt; l++)
            for (size_t e = 0; e < nn; e++)
                if (unusual(A[l][e])) {
                    redo |= 1u << l;
                    break;
                }
        /* row i's first column with a non-zero in any matrix; lanes past cnt repeat the first */
        for (int i = 0; i < N; i++) {
            int f = i;
            for (int l = 0; l < cnt; l++) {
                const float *row = A[l] + (size_t)i * n;
                int k = 0;
                while (k < f && row[k] == 0)
                    k++;
                f = k < f ? k : f;
            }
            first[i] = f;
        }
        for (int i = 0; i < N; i++) {
            /* first[k] <= i holds for k = i; last[i] is the largest such k */
            int m = i;
            for (int k = i + 1; k < N; k++)
                if (first[k] <= i)
                    m = k;
            last[i] = m;
        }
        fa_chol_interleave8_avx2(A, cnt, nn, A8);
        redo |= fa_chol_inverse8_avx2(A8, X8, N, first, last) & ((1u << cnt) - 1);
        /* every lane is stored; one to be redone is overwritten below */
        if (col_major)
            fa_chol_store_cols8_avx2(X8, N, X, cnt);
        for (int l = 0; l < cnt; l++) {
            if (redo >> l & 1)
                continue;
            ok[l] = 1;
            if (!col_major)
                for (size_t e = 0; e < nn; e++)
                    X[l][e] = X8[e * 8 + (size_t)l];
        }
    }
#endif
    for (int l = 0; l < cnt; l++)
        if (redo >> l & 1) {
            memcpy(dense, A[l], nn * sizeof *dense);
            if (!col_major) {
                ok[l] = fa_cv_invert_cholesky(dense, N, X[l], cpu);
                continue;
            }
            /* row-major into the other half of scratch, then transposed */
            float *rm = scratch + nn;
            ok[l] = fa_cv_invert_cholesky(dense, N, rm, cpu);
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++)
                    X[l][b * n + a] = rm[a * n + b];
        }
}
