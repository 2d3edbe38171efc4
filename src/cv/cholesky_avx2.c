/* cholesky_avx2.c - the AVX2 twin of cholesky.c's inverse (fa_cv_invert_cholesky): eight
 * columns of a row at a time, each lane the scalar loop's float products and double sums in the
 * same order, so the same bits. */
#include <float.h>
#include <stddef.h>
#include <string.h>

#include "cv/cholesky_kernels.h"
#include "cv/transpose8_avx2.h"

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

/* ---- eight matrices side by side (fa_cv_invert_cholesky_batch) ---------------------------- */

/* Element (i, j) of an interleaved matrix: the 8 lanes' values. */
#define AT(p, i, j) ((p) + ((size_t)(i) * n + (size_t)(j)) * 8)

AVX2_FN void load8d(const float *p, __m256d *lo, __m256d *hi)
{
    *lo = _mm256_cvtps_pd(_mm_loadu_ps(p));
    *hi = _mm256_cvtps_pd(_mm_loadu_ps(p + 4));
}

/* s -= (double)(a * b) lane by lane: the float product rounded, widened, subtracted. */
AVX2_FN void msub8(__m256d *lo, __m256d *hi, __m256 a, const float *b)
{
    const __m256 p = _mm256_mul_ps(a, _mm256_loadu_ps(b));
    *lo = _mm256_sub_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
    *hi = _mm256_sub_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
}

/* (float)(s * d) lane by lane, d the stored float diagonal widened. */
AVX2_FN void store_scaled(float *dst, __m256d lo, __m256d hi, __m256 d)
{
    const __m128 a = _mm256_cvtpd_ps(_mm256_mul_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(d))));
    const __m128 b = _mm256_cvtpd_ps(_mm256_mul_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1))));
    _mm256_storeu_ps(dst, _mm256_insertf128_ps(_mm256_castps128_ps256(a), b, 1));
}

/* Lanes of v that are not finite, or (zero_sign) -0. */
AVX2_FN __m256i flag_bad(__m256 v, int zero_sign)
{
    const __m256i b = _mm256_castps_si256(v), expo = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_cmpeq_epi32(_mm256_and_si256(b, expo), expo);
    if (zero_sign)
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(b, _mm256_set1_epi32((int)0x80000000u)));
    return bad;
}

AVX2_FN unsigned lanes_of(__m256i m)
{
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m));
}

/* CholImpl's factor evaluated column by column (all of a column's rows are independent sums,
 * so four run at once), each sum over the same k in the same order minus the leading zeros. */
AVX2_FN unsigned factor8(float *A8, int N, const int *first, const int *last)
{
    const size_t n = (size_t)N;
    const __m256d eps = _mm256_set1_pd((double)FLT_EPSILON), one = _mm256_set1_pd(1.0);
    unsigned bad = 0;
    for (int j = 0; j < N; j++) {
        /* the pivot: s = a_jj - sum t*t in double (t the stored float) */
        __m256d lo, hi;
        load8d(AT(A8, j, j), &lo, &hi);
        for (int k = first[j]; k < j; k++) {
            __m256d tl, th;
            load8d(AT(A8, j, k), &tl, &th);
            lo = _mm256_sub_pd(lo, _mm256_mul_pd(tl, tl));
            hi = _mm256_sub_pd(hi, _mm256_mul_pd(th, th));
        }
        bad |= (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(lo, eps, _CMP_LT_OQ)) |
               (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(hi, eps, _CMP_LT_OQ)) << 4;
        const __m128 dl = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(lo)));
        const __m128 dh = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(hi)));
        const __m256 d = _mm256_insertf128_ps(_mm256_castps128_ps256(dl), dh, 1);
        _mm256_storeu_ps(AT(A8, j, j), d);
        /* rows below: L_ij = (s_ij - sum_k L_ik L_jk) * d_j; rows past last[j] stay +0 */
        for (int i0 = j + 1; i0 <= last[j]; i0 += 4) {
            int r[4], k0 = N;
            for (int q = 0; q < 4; q++) {
                r[q] = i0 + q <= last[j] ? i0 + q : last[j]; /* a repeated row: same value twice */
                k0 = first[r[q]] < k0 ? first[r[q]] : k0;
            }
            if (k0 < first[j])
                k0 = first[j];
            __m256d l0, h0, l1, h1, l2, h2, l3, h3;
            load8d(AT(A8, r[0], j), &l0, &h0);
            load8d(AT(A8, r[1], j), &l1, &h1);
            load8d(AT(A8, r[2], j), &l2, &h2);
            load8d(AT(A8, r[3], j), &l3, &h3);
            const float *R0 = AT(A8, r[0], 0), *R1 = AT(A8, r[1], 0), *R2 = AT(A8, r[2], 0),
                        *R3 = AT(A8, r[3], 0);
            for (int k = k0; k < j; k++) {
                const __m256 ljk = _mm256_loadu_ps(AT(A8, j, k));
                const size_t o = (size_t)k * 8;
                msub8(&l0, &h0, ljk, R0 + o);
                msub8(&l1, &h1, ljk, R1 + o);
                msub8(&l2, &h2, ljk, R2 + o);
                msub8(&l3, &h3, ljk, R3 + o);
            }
            store_scaled(AT(A8, r[3], j), l3, h3, d);
            store_scaled(AT(A8, r[2], j), l2, h2, d);
            store_scaled(AT(A8, r[1], j), l1, h1, d);
            store_scaled(AT(A8, r[0], j), l0, h0, d);
        }
    }
    __m256i b = _mm256_setzero_si256();
    for (int i = 0; i < N; i++)
        for (int k = first[i]; k <= i; k++)
            b = _mm256_or_si256(b, flag_bad(_mm256_loadu_ps(AT(A8, i, k)), 0));
    return bad | lanes_of(b);
}

/* Four columns j0..j0+3 of one row: s -= L(rowL, k) X(k, j) over k = k0..k1 (step +1 or -1),
 * then X(row, j) = s * d for the columns below jend. lstride: floats between successive k's
 * L value (8 along a row, 8n down a column). */
AVX2_FN void solve4(const float *X8, size_t n, float *Xrow, int j0, int jend, const float *Lk0,
                    ptrdiff_t lstride, int k0, int k1, int step, __m256 d)
{
    __m256d l0, h0, l1, h1, l2, h2, l3, h3;
    const float *x = Xrow + (size_t)j0 * 8;
    load8d(x, &l0, &h0);
    load8d(x + 8, &l1, &h1);
    load8d(x + 16, &l2, &h2);
    load8d(x + 24, &l3, &h3);
    const float *L = Lk0;
    for (int k = k0; k != k1 + step; k += step, L += lstride) {
        const __m256 l = _mm256_loadu_ps(L);
        const float *xk = X8 + ((size_t)k * n + (size_t)j0) * 8;
        msub8(&l0, &h0, l, xk);
        msub8(&l1, &h1, l, xk + 8);
        msub8(&l2, &h2, l, xk + 16);
        msub8(&l3, &h3, l, xk + 24);
    }
    float *o = Xrow + (size_t)j0 * 8;
    store_scaled(o, l0, h0, d);
    if (j0 + 1 < jend)
        store_scaled(o + 8, l1, h1, d);
    if (j0 + 2 < jend)
        store_scaled(o + 16, l2, h2, d);
    if (j0 + 3 < jend)
        store_scaled(o + 24, l3, h3, d);
}

AVX2_EXPORT unsigned fa_chol_inverse8_avx2(float *A8, float *X8, int N, const int *first, const int *last)
{
    const size_t n = (size_t)N;
    unsigned bad = factor8(A8, N, first, last);
    memset(X8, 0, (n * n * 8 + 32) * sizeof *X8);
    for (int i = 0; i < N; i++)
        _mm256_storeu_ps(AT(X8, i, i), _mm256_set1_ps(1.f));
    /* forward, L y = I: row i's columns 0..i; X(k, j) is +0 for k < j, so a block may start its
     * sums at its first column (or at the row's first non-zero of L, whichever is later) */
    for (int i = 0; i < N; i++) {
        const __m256 d = _mm256_loadu_ps(AT(A8, i, i));
        for (int j0 = 0; j0 <= i; j0 += 4) {
            const int k0 = j0 > first[i] ? j0 : first[i];
            solve4(X8, n, AT(X8, i, 0), j0, i + 1, AT(A8, i, k0), 8, k0, i - 1, 1, d);
        }
    }
    __m256i b = _mm256_setzero_si256();
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++)
            b = _mm256_or_si256(b, flag_bad(_mm256_loadu_ps(AT(X8, i, j)), 1));
    bad |= lanes_of(b);
    /* backward, L^T x = y: row i, every column, k from the column's last non-zero down to i+1 */
    for (int i = N - 1; i >= 0; i--) {
        const __m256 d = _mm256_loadu_ps(AT(A8, i, i));
        for (int j0 = 0; j0 < N; j0 += 4)
            solve4(X8, n, AT(X8, i, 0), j0, N, AT(A8, last[i], i), -(ptrdiff_t)(8 * n), last[i], i + 1,
                   -1, d);
    }
    b = _mm256_setzero_si256();
    for (size_t e = 0; e < n * n; e++)
        b = _mm256_or_si256(b, flag_bad(_mm256_loadu_ps(X8 + e * 8), 0));
    return bad | lanes_of(b);
}

/* ---- moving matrices in and out of the lanes (pure copies) ------------------------------- */

AVX2_EXPORT void fa_chol_interleave8_avx2(const float *const *A, int cnt, size_t nn, float *A8)
{
    const float *src[8];
    for (int l = 0; l < 8; l++)
        src[l] = A[l < cnt ? l : 0];
    size_t e = 0;
    for (; e + 8 <= nn; e += 8) {
        __m256 r[8];
        for (int l = 0; l < 8; l++)
            r[l] = _mm256_loadu_ps(src[l] + e);
        fa_transpose8_avx2(r);
        for (int q = 0; q < 8; q++)
            _mm256_storeu_ps(A8 + (e + (size_t)q) * 8, r[q]);
    }
    for (; e < nn; e++)
        for (int l = 0; l < 8; l++)
            A8[e * 8 + (size_t)l] = src[l][e];
}

AVX2_EXPORT void fa_chol_store_cols8_avx2(const float *X8, int N, float *const *X, int cnt)
{
    const size_t n = (size_t)N;
    for (size_t b = 0; b < n; b++) {
        size_t a = 0;
        for (; a + 8 <= n; a += 8) {
            __m256 r[8];
            for (int q = 0; q < 8; q++)
                r[q] = _mm256_loadu_ps(X8 + ((a + (size_t)q) * n + b) * 8);
            fa_transpose8_avx2(r);
            for (int l = 0; l < cnt; l++)
                _mm256_storeu_ps(X[l] + b * n + a, r[l]);
        }
        for (; a < n; a++)
            for (int l = 0; l < cnt; l++)
                X[l][b * n + a] = X8[(a * n + b) * 8 + (size_t)l];
    }
}

#endif
