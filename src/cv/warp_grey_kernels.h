/* cv/warp_grey_kernels.h - what warp_grey.c shares with its AVX2 twin (warp_grey_avx2.c) and
 * the tests; private to cv/. */
#ifndef FACEAU_CV_WARP_GREY_KERNELS_H
#define FACEAU_CV_WARP_GREY_KERNELS_H

#include <stdint.h>

#include "cv/cv.h"

/* remapBilinear's value at a source position (X, Y) in 1/32 pixel (see warp_grey.c). */
float fa_grey_sample(const fa_grey *src, int64_t X, int64_t Y);

/* n pixels of one row of fa_remap_bgr_grey (its maps' mx, my), the portable way. */
void fa_remap_bgr_grey_row(const fa_image *img, int x0, int y0, int w, int h, const float *mx,
                           const float *my, int n, float *d);

/* One row of fa_grey_from_bgr: n pixels of BGR bytes to grey bytes, the portable way. */
void fa_grey_row(const uint8_t *bgr, int n, uint8_t *out);

#if FA_BUILD_AVX2
/* fa_grey_row, eight pixels per register (the same integers). Needs AVX2. */
void fa_grey_row_avx2(const uint8_t *bgr, int n, uint8_t *out);
/* fa_warp_affine_grey's pixels, the same floats: rows whose fixed-point positions fit in 32 bits
 * eight pixels at a time (the corner pairs gathered, the same products and sums); pixels near
 * the border, rows narrower than 8, and sources of 2^31 pixels or more one at a time. Needs
 * AVX2. */
void fa_warp_affine_grey_avx2(const fa_grey *src, const double M[6], int dw, int dh, float *dst,
                              int dst_stride);
/* fa_remap_bgr_grey, eight pixels at a time (both taps' BGR bytes gathered, the grey integers
 * and the same weights, products and sums); blocks with a tap outside the rectangle by
 * fa_remap_bgr_grey_row. Needs AVX2. */
void fa_remap_bgr_grey_avx2(const fa_image *img, int x0, int y0, int w, int h,
                            const float *map_x, const float *map_y, int map_stride, int dw,
                            int dh, float *dst, int dst_stride);
#endif

#endif
