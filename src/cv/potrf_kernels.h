/* cv/potrf_kernels.h - potrf.c's pieces shared with its AVX2 twin (potrf_avx2.c) and its test;
 * private to cv/. */
#ifndef FACEAU_CV_POTRF_KERNELS_H
#define FACEAU_CV_POTRF_KERNELS_H

#include <stddef.h>

#include "cv/cv.h"

#define FA_POTRF_MAX FA_CV_LAPACK_MAX

/* The envelope of the n x n column-major a's lower triangle: f[r] the first column k <= r with
 * a(r, k) != 0; last[r] the last row k >= r with f[k] <= r. The factor keeps it (l(r, k) = 0
 * for k < f[r]), and a product with one of its exact zeros leaves OpenBLAS's chains (which
 * start at +0 and so never hold -0) unchanged: every loop skips them. */
void fa_potrf_envelope(const float *a, int n, int *f, int *last);
/* OpenBLAS's spotrf('L') of the n x n column-major a (n <= FA_POTRF_MAX, finite), in place;
 * inv: n floats of scratch. 0, or the failing column + 1 (not positive definite). */
int fa_potrf_factor(float *a, int n, const int *f, float *inv);
/* The row blocks of the forward (trsm_kernel_LT) or backward (trsm_kernel_LN) solve, in the
 * order they are solved: start[b], size[b] (at most 16 for n < 256); returns the count. */
int fa_potrf_blocks(int n, int forward, int *start, int *size);

/* What the solves need: the envelope, the diagonal's float reciprocals (the trsm copy routines'
 * INV), the blocks. */
typedef struct fa_potrf_plan {
    const int *f, *last;
    const float *inv;
    int fs[16], fz[16], bs[16], bz[16];
    int fnb, bnb;
} fa_potrf_plan;

#if FA_BUILD_AVX2
/* fa_potrf_factor with the rows eight at a time (the same bits). */
int fa_potrf_factor_avx2(float *a, int n, const int *f, float *inv);
/* The two solves against the identity, 32 columns at a time (lanes), the same bits as potrf.c's
 * solve_columns: X (column-major) = L^-T L^-1. T: 32 n floats of scratch. */
void fa_potrf_solve_avx2(const float *L, int n, const fa_potrf_plan *P, float *X, float *T);
#endif

#endif
