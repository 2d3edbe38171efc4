/* cv/cholesky_kernels.h - cholesky.c's AVX2 twin (cholesky_avx2.c); private to cv/. */
#ifndef FACEAU_CV_CHOLESKY_KERNELS_H
#define FACEAU_CV_CHOLESKY_KERNELS_H

#include "cv/cv.h"

#if FA_BUILD_AVX2
/* fa_cv_invert_cholesky's forward (backward) solve of row i of X for the columns in whole
 * blocks of 8 within 0..i (0..N-1); returns the first column left to the scalar loop. */
int fa_chol_forward_row_avx2(const float *A, float *X, int N, int i);
int fa_chol_backward_row_avx2(const float *A, float *X, int N, int i);
/* fa_cv_invert_cholesky_batch's kernel: eight N x N matrices interleaved lane by lane
 * (A8[(i*N + k)*8 + lane], factored in place; X8 the same layout with 32 floats of padding
 * after it receives the inverses). first[i]: no lane has a non-zero in row i of A before
 * column first[i]; last[i] = the last row k with first[k] <= i. Returns a bit per lane whose
 * result must not be used: a pivot below FLT_EPSILON, a factor or forward value that is not
 * finite or a forward value that is -0, an inverse value that is not finite. */
unsigned fa_chol_inverse8_avx2(float *A8, float *X8, int N, const int *first, const int *last);
/* The batch's copies in and out of that layout, 8 x 8 transposes: A8[e*8 + l] = A[l][e] for
 * the nn values (lanes past cnt repeat A[0]); X[l][b*N + a] = X8[(a*N + b)*8 + l] (the inverse
 * transposed) for l < cnt. */
void fa_chol_interleave8_avx2(const float *const *A, int cnt, size_t nn, float *A8);
void fa_chol_store_cols8_avx2(const float *X8, int N, float *const *X, int cnt);
#endif

#endif
