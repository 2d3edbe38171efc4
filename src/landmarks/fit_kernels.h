/* landmarks/fit_kernels.h - the mean-shift sums fit.c shares with their AVX2 twin (fit_avx2.c)
 * and the tests; private to landmarks/. */
#ifndef FACEAU_LANDMARKS_FIT_KERNELS_H
#define FACEAU_LANDMARKS_FIT_KERNELS_H

#include "core/core.h"

enum { FA_MS_LANES = 8 }; /* landmarks whose mean-shift sums run side by side */

/* The sums of NonVectorisedMeanShift_precalc_kde for nl <= FA_MS_LANES landmarks: lane l's
 * response p[l] and KDE row k[l] (ws*ws floats each, row ii outer, column jj inner), steps
 * t0..ws*ws-1 added in order to sum[l] (v = p*k), mx[l] (v*jj) and my[l] (v*ii), in float. */
void fa_mean_shift_sums(const float *const *p, const float *const *k, int nl, int ws, int t0,
                        float *sum, float *mx, float *my);
#if FA_BUILD_AVX2
/* fa_mean_shift_sums from t0 = 0, the same floats: the lanes in one register each step, eight
 * steps of the eight rows transposed at a time; the steps past the last multiple of 8 by
 * fa_mean_shift_sums. Needs AVX2. */
void fa_mean_shift_sums_avx2(const float *const *p, const float *const *k, int nl, int ws,
                             float *sum, float *mx, float *my);
#endif

#endif
