/* nn/conv_kernels.h - conv.c's tile shape and its AVX2 twin (conv_avx2.c); private to nn/. */
#ifndef FACEAU_NN_CONV_KERNELS_H
#define FACEAU_NN_CONV_KERNELS_H

#include "nn/nn.h"

#define MR 6     /* output pixels per kernel tile */
#define NB 16    /* output channels per kernel tile */

#if FA_BUILD_AVX2
/* One tile: MR pixels whose receptive fields start at a[q], channels cb..cb+NB-1, into res
 * (MR x NB), bias added and PReLU applied. */
void fa_conv_tile_avx2(const fa_conv *c, const float *const *a, size_t rstride, int cb, float *res);
/* A single pixel (fully connected layers), nb (16 or 32) channels from cb. */
void fa_conv_tile1_avx2(const fa_conv *c, const float *a, size_t rstride, int cb, int nb,
                        float *res);
#endif

#endif
