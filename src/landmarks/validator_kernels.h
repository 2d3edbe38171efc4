/* landmarks/validator_kernels.h - the validator's convolution (validator.c), shared with its
 * AVX2 twin (validator_avx2.c) and the tests; private to landmarks/. */
#ifndef FACEAU_LANDMARKS_VALIDATOR_KERNELS_H
#define FACEAU_LANDMARKS_VALIDATOR_KERNELS_H

#include "core/core.h"

/* convolution_direct_blas as validator.c sums it: out map k (oh x ow, oh = h - kh + 1,
 * ow = wd - kw + 1) at (y, x) is, in float, 0 + w[0]*in[0] + w[1]*in[1] + ... in the im2col
 * column order (input map m, kernel column kx, kernel row ky), then + bias[k]: every product
 * rounded, then added to the running sum. w: cout rows of cin*kh*kw (that order); in: cin maps
 * of h x wd; out: cout maps of oh x ow. row: ow floats of scratch. */
void fa_validator_conv(const float *w, const float *bias, int cin, int cout, int kh, int kw,
                       int h, int wd, const float *in, float *out, float *row);
#if FA_BUILD_AVX2
/* The same outputs, bit for bit (separate multiply and add, each output's sum in the same
 * order), several kernels and 16 columns at a time; rows narrower than 8 outputs fall back to
 * fa_validator_conv. Needs AVX2. */
void fa_validator_conv_avx2(const float *w, const float *bias, int cin, int cout, int kh, int kw,
                            int h, int wd, const float *in, float *out, float *row);
/* The same again with AVX-512F, 16 columns per register; rows narrower than 16 outputs go to
 * fa_validator_conv_avx2. Needs AVX-512F. */
void fa_validator_conv_avx512(const float *w, const float *bias, int cin, int cout, int kh,
                              int kw, int h, int wd, const float *in, float *out, float *row);
#endif

#endif
