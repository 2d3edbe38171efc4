/* cv/gemv_kernels.h - gemv.c's AVX2 twin (gemv_avx2.c); private to cv/. */
#ifndef FACEAU_CV_GEMV_KERNELS_H
#define FACEAU_CV_GEMV_KERNELS_H

#include "cv/cv.h"

#if FA_BUILD_AVX2
/* fa_gemv_cv_bias bit for bit: its lanes s0..s3 are one register's four doubles, eight rows
 * at a time sharing each load of v. Needs AVX2. */
void fa_gemv_cv_avx2(const float *A, size_t lda, int rows, int len, const float *v,
                     const float *bias, float *out);
#endif

#endif
