/* potrf.c - cv::invert(A, X, DECOMP_CHOLESKY) of a float matrix of 100..127 rows as OpenFace's
 * reference build ran it: OpenCV 4.6 hands matrices of >= 100 rows (HAL_CHOLESKY_SMALL_MATRIX_THRESH
 * in core/src/hal_internal.cpp) to LAPACK, and Debian 12's liblapack.so.3 alternative is OpenBLAS
 * 0.3.21 with its SkylakeX kernels.
 *
 * What OpenCV calls: lapack_Cholesky passes the row-major A unchanged as a column-major matrix
 * (so LAPACK sees A^T) and the identity (transposed: still the identity) as B to
 * sposv_("L", N, N, A, N, B, N). The netlib SPOSV in OpenBLAS's LAPACK calls OpenBLAS's own
 * spotrf (interface/lapack/potrf.c: one thread below 128 rows, lapack/potrf/potrf_L_single.c)
 * then the netlib SPOTRS: STRSM(L,L,N,N) and STRSM(L,L,T,N) through OpenBLAS's
 * driver/level3/trsm_L.c. B (column-major) is transposed back into the row-major result, so
 * this file computes X column by column, LAPACK's layout (col_major = 1 keeps it).
 *
 * The arithmetic, element by element (the packing and tiling only move data, and each output
 * element's operation sequence does not depend on the column split OpenBLAS's threads use):
 *  - spotrf, right-looking with blocks of bk = N/4 columns (N <= 4 GEMM_Q = 1792), each block
 *    (<= DTB_ENTRIES/2 = 32 rows) factored by potf2_L:
 *      ajj = a_jj - (float)dot, dot the double sum over pairs k, k+1 of the float
 *      fmaf(l_k, l_k, l_k1 * l_k1) (kernel/x86_64/sdot.c's strided loop, GCC contracting it),
 *      an odd last term (double)(l_k * l_k); l_jj = sqrtf(ajj); below it sgemv_n (the
 *      SkylakeX kernel for 1..48 columns but 4: a fused chain over the columns from +0, then
 *      y = fmaf(acc, -1, y); for 4 columns the Haswell 4x4 kernel, whose first (rows & 12)
 *      rows sum columns 0,2 and 1,3 apart, then add the halves, then subtract); then sscal by
 *      the float 1/l_jj;
 *    - the panel below the block, trsm_kernel_RN in column groups of 4 (then 2, 1): per element
 *      t = a - chain(the previous groups' columns) (sgemm_kernel_16x4_skylakex: one fused chain
 *      per element from +0, stored as fmaf(acc, -1, c)), then fmaf(-x_i, l_ci, t) for the
 *      group's earlier columns in order, then t * (1/l_cc) (the trsm copy routines store the
 *      float reciprocal of the diagonal);
 *    - the trailing lower triangle, syrk: c = fmaf(chain over the panel's bk columns, -1, c).
 *  - forward STRSM (trsm_kernel_LT): rows in blocks of 16 from the top, then 8, 4, 2, 1; per
 *    element t = b - chain(all rows above the block), then the block's rows above it in order,
 *    times 1/l_rr. Backward (trsm_kernel_LN): blocks 1, 2, 4, 8 (those N has) from the bottom,
 *    then blocks of 16 upwards; t = y - chain(all rows below the block, ascending), then the
 *    block's rows below it from the bottom up, times 1/l_rr.
 * Exact zeros are skipped: the identity's forward solve is lower triangular, and the factor
 * keeps A's envelope (CCNF's SigmaInv reach about 41 columns left of the diagonal): a skipped
 * term is fmaf(x, +-0, acc) = acc for the +0 or non-zero acc these chains hold (they start at
 * +0 and never reach -0), and an element left alone is the +-0 OpenBLAS's arithmetic leaves.
 * Checked bit for bit against Debian's liblapack.so.3 (OpenBLAS 0.3.21, OPENBLAS_CORETYPE=
 * SkylakeX) and cv::invert on random dense and banded SPD matrices of 5..127 rows and on all
 * 1230 window-11 Sigmas of the general experts as OpenFace's ComputeSigmas computes them:
 * tests/test_potrf.c records some. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cv/potrf_kernels.h"

#define POTF2_MAX 32 /* DTB_ENTRIES / 2 */

/* fmaf without the library call where the hardware has none in this build (portable x86): the
 * float product is exact in double, so round-to-double then to float is the correctly rounded
 * fused result unless that double sits exactly halfway between two floats without being exact
 * (double rounding), or is below FLT_MIN but not 0 (another rounding position): those few take
 * fmaf. */
static inline float fma1(float a, float b, float c)
{
#ifdef FP_FAST_FMAF
    return fmaf(a, b, c);
#else
    const double p = (double)a * (double)b, s = p + (double)c;
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    if (((u & 0x1fffffffu) != 0x10000000u || (s - p == (double)c && s - (double)c == p)) &&
        (fabs(s) >= (double)FLT_MIN || s == 0))
        return (float)s;
    return fmaf(a, b, c);
#endif
}

#define A_(r, c) a[(size_t)(c) * (size_t)n + (size_t)(r)]

static int imax(int x, int y)
{
    return x > y ? x : y;
}

/* potf2_L on the bk x bk diagonal block at (jb, jb) of the n x n column-major a; 0 or the
 * failing column (block-relative) + 1. f: the rows' envelope (see fa_potrf_factor). */
static int potf2(float *a, int n, int jb, int bk, const int *f)
{
    for (int jj = 0; jj < bk; jj++) {
        const int j = jb + jj;
        double dot = 0;
        /* the pairs stay aligned to the block's column 0; a pair of exact zeros adds +0 */
        int k = jb + ((imax(jb, f[j]) - jb) & ~1);
        for (; k + 1 < j; k += 2) {
            const float x0 = A_(j, k), x1 = A_(j, k + 1);
            dot += (double)fma1(x0, x0, x1 * x1);
        }
        if (k < j) {
            const float x0 = A_(j, k);
            dot += (double)(x0 * x0);
        }
        float ajj = A_(j, j) - (float)dot;
        if (ajj <= 0) {
            A_(j, j) = ajj;
            return jj + 1;
        }
        ajj = sqrtf(ajj);
        A_(j, j) = ajj;
        const int m = bk - jj - 1;
        if (m <= 0)
            continue;
        if (jj == 4) {
            const int split = (m - (m & 3)) & 12;
            const float x0 = A_(j, jb), x1 = A_(j, jb + 1), x2 = A_(j, jb + 2), x3 = A_(j, jb + 3);
            for (int i = 0; i < m; i++) {
                const int r = j + 1 + i;
                const float a0 = A_(r, jb), a1 = A_(r, jb + 1), a2 = A_(r, jb + 2), a3 = A_(r, jb + 3);
                if (i < split) {
                    const float h0 = fma1(a2, x2, fma1(a0, x0, 0.f));
                    const float h1 = fma1(a3, x3, fma1(a1, x1, 0.f));
                    A_(r, j) = A_(r, j) + (h0 + h1) * -1.f;
                } else {
                    float acc = fma1(a0, x0, 0.f);
                    acc = fma1(a1, x1, acc);
                    acc = fma1(a2, x2, acc);
                    acc = fma1(a3, x3, acc);
                    A_(r, j) = fma1(acc, -1.f, A_(r, j));
                }
            }
        } else if (jj > 0) {
            for (int r = j + 1; r < jb + bk; r++) {
                const int k0 = imax(jb, imax(f[r], f[j]));
                if (k0 >= j)
                    continue;
                float acc = 0;
                for (k = k0; k < j; k++)
                    acc = fma1(A_(r, k), A_(j, k), acc);
                A_(r, j) = fma1(acc, -1.f, A_(r, j));
            }
        }
        const float inv = 1.f / ajj;
        for (int r = j + 1; r < jb + bk; r++)
            A_(r, j) *= inv;
    }
    return 0;
}

/* The panel rows jb+bk..n-1 of columns jb..jb+bk-1 (trsm_kernel_RN against the block's
 * factor), then the trailing lower triangle (syrk). inv: bk floats. */
static void panel_update(float *a, int n, int jb, int bk, const int *f, float *inv)
{
    const int je = jb + bk;
    for (int c = 0; c < bk; c++)
        inv[c] = 1.f / A_(jb + c, jb + c);
    for (int r = je; r < n; r++) {
        if (f[r] >= je)
            continue; /* exact zeros, left as they are (t * inv keeps a zero's sign) */
        for (int c0 = 0; c0 < bk;) {
            const int w = bk - c0 >= 4 ? 4 : (bk - c0 >= 2 ? 2 : 1);
            for (int c = c0; c < c0 + w; c++) {
                const int jc = jb + c, k0 = imax(f[r], f[jc]);
                if (jc < f[r])
                    continue;
                float t = A_(r, jc);
                if (imax(k0, jb) < jb + c0) {
                    float acc = 0;
                    for (int k = imax(k0, jb); k < jb + c0; k++)
                        acc = fma1(A_(r, k), A_(jc, k), acc);
                    t = fma1(acc, -1.f, t);
                }
                for (int i = imax(k0, jb + c0); i < jc; i++)
                    t = fma1(-A_(r, i), A_(jc, i), t);
                A_(r, jc) = t * inv[c];
            }
            c0 += w;
        }
    }
    for (int s = je; s < n; s++)
        for (int r = s; r < n; r++) {
            const int k0 = imax(jb, imax(f[r], f[s]));
            if (k0 >= je)
                continue;
            float acc = 0;
            for (int k = k0; k < je; k++)
                acc = fma1(A_(r, k), A_(s, k), acc);
            A_(r, s) = fma1(acc, -1.f, A_(r, s));
        }
}

int fa_potrf_factor(float *a, int n, const int *f, float *inv)
{
    if (n <= POTF2_MAX)
        return potf2(a, n, 0, n, f);
    const int blocking = n / 4;
    for (int j = 0; j < n; j += blocking) {
        const int bk = n - j < blocking ? n - j : blocking;
        const int info = potf2(a, n, j, bk, f);
        if (info)
            return info + j;
        if (n - j - bk > 0)
            panel_update(a, n, j, bk, f, inv);
    }
    return 0;
}
#undef A_

void fa_potrf_envelope(const float *a, int n, int *f, int *last)
{
    for (int r = 0; r < n; r++) {
        int k = 0;
        while (k < r && a[(size_t)k * (size_t)n + (size_t)r] == 0)
            k++;
        f[r] = k;
    }
    for (int r = 0; r < n; r++)
        last[r] = r;
    for (int k = 0; k < n; k++)
        for (int r = f[k]; r < k; r++)
            if (last[r] < k)
                last[r] = k;
}

/* The row blocks trsm_kernel_LT (forward) and trsm_kernel_LN (backward) solve, in solve order:
 * start[b], size[b]; returns the count. */
int fa_potrf_blocks(int n, int forward, int *start, int *size)
{
    int nb = 0;
    if (forward) {
        int r = 0;
        for (; r + 16 <= n; r += 16) {
            start[nb] = r;
            size[nb++] = 16;
        }
        for (int i = 8; i > 0; i >>= 1)
            if (n & i) {
                start[nb] = r;
                size[nb++] = i;
                r += i;
            }
    } else {
        for (int i = 1; i < 16; i *= 2)
            if (n & i) {
                start[nb] = (n & ~(i - 1)) - i;
                size[nb++] = i;
            }
        for (int r = (n & ~15) - 16; r >= 0; r -= 16) {
            start[nb] = r;
            size[nb++] = 16;
        }
    }
    return nb;
}

/* Columns c0..c0+w-1 (w <= G) of X = L^-T L^-1 (the identity's columns), into X
 * (column-major); G columns side by side in T (n rows of G floats) so that their independent
 * chains overlap. A column starting below c0 reads its own exact +0s where a lone column would
 * skip them (the same bits). */
enum { G = 8 };
static void solve_columns(const float *L, int n, const fa_potrf_plan *P, int c0, int w, float *X,
                          float *T)
{
    const size_t ld = (size_t)n;
    const int *f = P->f, *last = P->last;
#define L_(r, k) L[(size_t)(k) * ld + (size_t)(r)]
    for (int r = 0; r < c0 * G; r++)
        T[r] = 0;
    for (int b = 0; b < P->fnb; b++) {
        const int r0 = P->fs[b], r1 = r0 + P->fz[b];
        if (r1 <= c0)
            continue;
        for (int r = imax(r0, c0); r < r1; r++) {
            float t[G];
            for (int v = 0; v < G; v++)
                t[v] = r == c0 + v ? 1.f : 0.f;
            const int k0 = imax(c0, f[r]);
            if (k0 < r0) {
                float acc[G] = {0};
                for (int k = k0; k < r0; k++)
                    for (int v = 0; v < G; v++)
                        acc[v] = fma1(L_(r, k), T[k * G + v], acc[v]);
                for (int v = 0; v < G; v++)
                    t[v] = fma1(acc[v], -1.f, t[v]);
            }
            for (int i = imax(k0, r0); i < r; i++)
                for (int v = 0; v < G; v++)
                    t[v] = fma1(-T[i * G + v], L_(r, i), t[v]);
            for (int v = 0; v < G; v++)
                T[r * G + v] = t[v] * P->inv[r];
        }
    }
    for (int b = 0; b < P->bnb; b++) {
        const int r0 = P->bs[b], r1 = r0 + P->bz[b];
        for (int r = r1 - 1; r >= r0; r--) {
            float t[G];
            for (int v = 0; v < G; v++)
                t[v] = T[r * G + v];
            const int k1 = last[r]; /* l(k, r) = 0 past it */
            if (r1 <= k1) {
                float acc[G] = {0};
                for (int k = r1; k <= k1; k++)
                    for (int v = 0; v < G; v++)
                        acc[v] = fma1(L_(k, r), T[k * G + v], acc[v]);
                for (int v = 0; v < G; v++)
                    t[v] = fma1(acc[v], -1.f, t[v]);
            }
            for (int i = (r1 - 1 < k1 ? r1 - 1 : k1); i > r; i--)
                for (int v = 0; v < G; v++)
                    t[v] = fma1(-T[i * G + v], L_(i, r), t[v]);
            for (int v = 0; v < G; v++)
                T[r * G + v] = t[v] * P->inv[r];
        }
    }
    for (int v = 0; v < w; v++)
        for (int r = 0; r < n; r++)
            X[(size_t)(c0 + v) * ld + (size_t)r] = T[r * G + v];
#undef L_
}

size_t fa_cv_invert_potrf_floats(int N)
{
    return (size_t)N * (size_t)N;
}

int fa_cv_invert_potrf(const float *A, int N, float *X, int col_major, unsigned cpu,
                       float *scratch)
{
    const size_t nn = (size_t)N * (size_t)N;
    float *L = scratch, inv[FA_POTRF_MAX], T[32 * FA_POTRF_MAX];
    int f[FA_POTRF_MAX], last[FA_POTRF_MAX];
    if (N < 1 || N > FA_POTRF_MAX) {
        memset(X, 0, nn * sizeof *X);
        return 0;
    }
    if (L != A) /* A's rows read as columns: LAPACK's view of it */
        memcpy(L, A, nn * sizeof *L);
    fa_potrf_envelope(L, N, f, last);
#if FA_BUILD_AVX2
    const int fail = cpu & FA_CPU_AVX2 ? fa_potrf_factor_avx2(L, N, f, inv)
                                       : fa_potrf_factor(L, N, f, inv);
#else
    const int fail = fa_potrf_factor(L, N, f, inv);
#endif
    if (fail) {
        memset(X, 0, nn * sizeof *X);
        return 0;
    }
    for (int r = 0; r < N; r++)
        inv[r] = 1.f / L[(size_t)r * (size_t)N + (size_t)r];
    fa_potrf_plan P = {f, last, inv, {0}, {0}, {0}, {0}, 0, 0};
    P.fnb = fa_potrf_blocks(N, 1, P.fs, P.fz);
    P.bnb = fa_potrf_blocks(N, 0, P.bs, P.bz);
#if FA_BUILD_AVX2
    if (cpu & FA_CPU_AVX2) {
        fa_potrf_solve_avx2(L, N, &P, X, T);
    } else
#endif
    {
        (void)cpu;
        for (int c = 0; c < N; c += G)
            solve_columns(L, N, &P, c, N - c < G ? N - c : G, X, T);
    }
    if (!col_major) /* X holds the result column by column; transpose in place */
        for (int r = 0; r < N; r++)
            for (int c = r + 1; c < N; c++) {
                const float t = X[(size_t)r * (size_t)N + (size_t)c];
                X[(size_t)r * (size_t)N + (size_t)c] = X[(size_t)c * (size_t)N + (size_t)r];
                X[(size_t)c * (size_t)N + (size_t)r] = t;
            }
    return 1;
}
