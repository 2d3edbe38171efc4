/* cv/warp_kernels.h - warp_affine.c's fixed-point constants and per-pixel steps, shared with its
 * SSE2 and AVX2 row loops (warp_affine_sse2.c, warp_affine_avx2.c); private to cv/. */
#ifndef FACEAU_CV_WARP_KERNELS_H
#define FACEAU_CV_WARP_KERNELS_H

#include <string.h>

#include "cv/cv.h"

#if defined(__SSE2__) && !defined(FA_NO_SIMD)
#define FA_WARP_SSE2 1
#else
#define FA_WARP_SSE2 0
#endif

/* OpenCV's warpAffine fixed point: positions in 1/1024 pixel, interpolation in 1/32. */
enum { AB_BITS = 10, AB_SCALE = 1 << AB_BITS, INTER_BITS = 5, INTER_TAB = 1 << INTER_BITS };
enum { POS_BIAS = 1 << 26 }; /* makes the row's 1/1024-pixel positions non-negative */

/* saturate_cast<short> of a source corner. */
static inline int fa_saturate_short(int64_t v)
{
    return v < -32768 ? -32768 : v > 32767 ? 32767 : (int)v;
}

/* floor(v / 2^s) for |v| < 2^39 with only a shift of a non-negative number. */
static inline int64_t fa_floor_shr(int64_t v, int s)
{
    const int64_t bias = (int64_t)1 << 40;
    return ((v + bias) >> s) - (bias >> s);
}

/* One output pixel from its fixed-point source position v = (X, Y) in 1/1024 pixel: the
 * general case, including positions near or beyond the frame's edge. */
void fa_warp_pixel(const fa_image *src, int64_t vx, int64_t vy, uint8_t *d);
/* Pixels x..size-1 of a row one at a time: what the vector row loops leave over. */
void fa_warp_tail(const fa_image *src, const int32_t *adelta, const int32_t *bdelta, int64_t X0,
                  int64_t Y0, const uint8_t *m, int x, int size, uint8_t *d);
/* A small row (row_is_small, stride < 32768) of size pixels into d; m: the row's mask or NULL. */
void fa_warp_row_sse2(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
                      int64_t X0, int64_t Y0, const uint8_t *m, int size, uint8_t *d);
void fa_warp_row_avx2(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
                      int64_t X0, int64_t Y0, const uint8_t *m, int size, uint8_t *d);

#endif
