/* cv/cholesky_kernels.h - cholesky.c's AVX2 twin (cholesky_avx2.c); private to cv/. */
#ifndef FACEAU_CV_CHOLESKY_KERNELS_H
#define FACEAU_CV_CHOLESKY_KERNELS_H

#include "cv/cv.h"

#if FA_BUILD_AVX2
/* fa_cv_invert_cholesky's forward (backward) solve of row i of X for the columns in whole
 * blocks of 8 within 0..i (0..N-1); returns the first column left to the scalar loop. */
int fa_chol_forward_row_avx2(const float *A, float *X, int N, int i);
int fa_chol_backward_row_avx2(const float *A, float *X, int N, int i);
#endif

#endif
