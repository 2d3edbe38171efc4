/* chol_solve_avx2.c - cv::solve(DECOMP_CHOLESKY) for one right-hand side (OpenCV 4.6's
 * CholImpl<float>, cv/cholesky.c's fa_cv_cholesky with m = 1) evaluated column by column, so
 * that eight rows' sums run side by side in AVX2 registers: the parameter update of NU_RLMS
 * and CalcParams, many times per frame.
 *
 * Every element is the same sequence of operations as in fa_cv_cholesky, only the elements are
 * visited in another order: L[i][j] (j < i) = (A[i][j] - sum over k = 0, 1, .. j-1 of the
 * float product L[i][k] L[j][k] widened to double) times the float 1/sqrt of pivot j, which
 * needs columns 0..j of L alone; pivot j = A[j][j] - sum of (double)L[j][k] squared in double,
 * each row's sum advanced as column k is finished.
 * The pivots are checked in the same order (a pivot below FLT_EPSILON: b = 0, return 0). The
 * substitutions keep one double sum per row and subtract the rounded float products as each
 * solution element becomes known, in the same k order per row as CholImpl's loops. No FMA: the
 * products are rounded to float before they are widened. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "pdm/pdm.h"

#if FA_BUILD_AVX2
#include <immintrin.h>
#define AVX2_FN __attribute__((target("avx2")))

enum { MAXN = 6 + FA_PDM_MAX_MODES, STR = ((6 + FA_PDM_MAX_MODES + 7) & ~7) + 8 };

/* s (double) -= the float product x * y of eight lanes, widened */
#define SUB_PRODUCTS(s0, s1, x, y)                                                              \
    do {                                                                                        \
        const __m256 p_ = _mm256_mul_ps((x), (y));                                              \
        s0 = _mm256_sub_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(p_)));                    \
        s1 = _mm256_sub_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(p_, 1)));                  \
    } while (0)

AVX2_FN int fa_pdm_chol_solve_avx2(float *A, int N, float *b)
{
    if (N < 1 || N > MAXN)
        return fa_cv_cholesky(A, N, b, 1);
    const size_t n = (size_t)N;
    /* T[k][i] = L[i][k]: column k of L, contiguous over rows i; rows past N stay 0 */
    float T[MAXN * STR];
    for (int k = 0; k < N; k++)
        for (int i = 0; i < STR; i++)
            T[k * STR + i] = i >= k && i < N ? A[(size_t)i * n + (size_t)k] : 0.0f;
    /* dg[i]: pivot i's double sum, A[i][i] minus (double)L[i][k] squared for each finished
     * column k in turn (k increasing, CholImpl's order), all rows side by side */
    double dg[STR];
    for (int i = 0; i < STR; i++)
        dg[i] = i < N ? (double)A[(size_t)i * n + (size_t)i] : 0.0;
    for (int j = 0; j < N; j++) {
        float *Tj = T + j * STR;
        const double s = dg[j];
        if (s < (double)FLT_EPSILON) {
            memset(b, 0, n * sizeof *b);
            return 0;
        }
        const float d = (float)(1. / sqrt(s));
        Tj[j] = d;
        const __m256d dd = _mm256_set1_pd((double)d);
        for (int i0 = j + 1; i0 < N; i0 += 8) {
            __m256d s0 = _mm256_cvtps_pd(_mm_loadu_ps(Tj + i0));
            __m256d s1 = _mm256_cvtps_pd(_mm_loadu_ps(Tj + i0 + 4));
            for (int k = 0; k < j; k++) {
                const float *Tk = T + k * STR;
                SUB_PRODUCTS(s0, s1, _mm256_loadu_ps(Tk + i0), _mm256_set1_ps(Tk[j]));
            }
            const __m128 l0 = _mm256_cvtpd_ps(_mm256_mul_pd(s0, dd));
            const __m128 l1 = _mm256_cvtpd_ps(_mm256_mul_pd(s1, dd));
            _mm_storeu_ps(Tj + i0, l0);
            _mm_storeu_ps(Tj + i0 + 4, l1);
            const __m256d t0 = _mm256_cvtps_pd(l0), t1 = _mm256_cvtps_pd(l1);
            _mm256_storeu_pd(dg + i0, _mm256_sub_pd(_mm256_loadu_pd(dg + i0), _mm256_mul_pd(t0, t0)));
            _mm256_storeu_pd(dg + i0 + 4,
                             _mm256_sub_pd(_mm256_loadu_pd(dg + i0 + 4), _mm256_mul_pd(t1, t1)));
        }
        /* the lanes past N computed 0 * d: restore the zero padding exactly */
        for (int i = N; i < STR; i++)
            Tj[i] = 0.0f;
    }
    /* L y = b: y_k = sum_k * L[k][k], then every later row subtracts L[i][k] y_k */
    double sd[STR];
    for (int i = 0; i < STR; i++)
        sd[i] = i < N ? (double)b[i] : 0.0;
    float y[STR];
    for (int k = 0; k < N; k++) {
        const float *Tk = T + k * STR;
        y[k] = (float)(sd[k] * Tk[k]);
        const __m256 yk = _mm256_set1_ps(y[k]);
        for (int i0 = k + 1; i0 < N; i0 += 8) {
            __m256d s0 = _mm256_loadu_pd(sd + i0), s1 = _mm256_loadu_pd(sd + i0 + 4);
            SUB_PRODUCTS(s0, s1, _mm256_loadu_ps(Tk + i0), yk);
            _mm256_storeu_pd(sd + i0, s0);
            _mm256_storeu_pd(sd + i0 + 4, s1);
        }
    }
    /* L^T x = y: rows from the last, each x_i = (y_i - sum over k = N-1 down to i+1 of
     * L[k][i] x_k) * L[i][i]; row i of T holds L[k][i] for k > i, contiguous */
    for (int i = 0; i < STR; i++)
        sd[i] = i < N ? (double)y[i] : 0.0;
    for (int k = N - 1; k >= 0; k--) {
        const float xk = (float)(sd[k] * T[k * STR + k]);
        b[k] = xk;
        /* rows i < k subtract L[k][i] x_k = T[i][k] x_k: one column of T, strided */
        for (int i = 0; i < k; i++)
            sd[i] -= (double)(T[i * STR + k] * xk);
    }
    return 1;
}
#endif
