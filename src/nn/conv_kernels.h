/* nn/conv_kernels.h - conv.c's tile shape and its AVX2 twins (conv_avx2.c); private to nn/. */
#ifndef FACEAU_NN_CONV_KERNELS_H
#define FACEAU_NN_CONV_KERNELS_H

#include "nn/nn.h"

#define MR 6     /* output pixels per kernel tile */
#define NB 16    /* output channels per kernel tile */

/* OpenBLAS 0.3.21's sgemm_ choices for SkylakeX (interface/gemm.c, param.h, driver/level3.c). */
#define FA_SGEMM_SMALL_MNK 1e6 /* M*N*K up to 100^3: the small-matrix kernel, K in one piece */
#define FA_SGEMM_Q 448         /* SGEMM_DEFAULT_Q: the big path's K block */
#define FA_SGEMM_UNROLL_M 16

#define FA_CONV_OFFS 1024 /* terms whose input offsets conv_pixels tabulates on its stack */

#if FA_BUILD_AVX2
/* One tile: MR pixels whose receptive fields start at a[q], channels cb..cb+NB-1, terms
 * k0..k1-1 of OpenFace's order (term c->nk is the bias) chained from 0, then res = chain + res
 * (res = chain + 0 when first), PReLU when last; res is MR x NB. off: each term's input offset
 * (ky * rstride + kx), or NULL to compute them. */
void fa_conv_tile_avx2(const fa_conv *c, const float *const *a, size_t rstride, const int *off,
                       int cb, int k0, int k1, int first, int last, float *res);
/* FA_FC_PIXEL on npx pixels (more than one): per output one double sum over the maps. */
void fa_fc_pixel_avx2(const fa_conv *c, const float *in, long npx, float *out);
/* FA_FC with OpenBLAS's 16-lane sums: all of c->cout outputs of the input in (h x w x cin). */
void fa_fc_dot16_avx2(const fa_conv *c, const float *in, float *out);
#endif

#endif
