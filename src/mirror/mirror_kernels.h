/* mirror/mirror_kernels.h - what mirror.c shares with its AVX2 twin (mirror_avx2.c) and the
 * tests; private to mirror/. */
#ifndef FACEAU_MIRROR_KERNELS_H
#define FACEAU_MIRROR_KERNELS_H

#include <stdint.h>

#include "mirror/mirror.h"

/* Source positions in fixed point, 2^-FA_MIRROR_FRAC px (see mirror.c). */
#define FA_MIRROR_FRAC 20

/* fa_mirror_frame with the kernels cpu (FA_CPU_* bits) allows: the tests compare the portable
 * path (cpu 0) with the AVX2 one on the same frames. */
void fa_mirror_frame_cpu(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                         double seam_px, fa_image *dst, unsigned cpu);

/* fa_mirror_frame_cpu on the rectangle [x0, x1) x [y0, y1) of dst alone (within the frame):
 * the same bytes there as the whole frame's. */
void fa_mirror_rect_cpu(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                        double seam_px, fa_image *dst, int x0, int y0, int x1, int y1, unsigned cpu);

/* n reflected pixels of a row, the portable way: pixel i is the bilinear sample at fixed-point
 * (qx + i dqx, qy + i dqy), edge-clamped, written as 3 bytes at out + 3 i. */
void fa_mirror_reflect_run(const fa_image *src, int64_t qx, int64_t qy, int64_t dqx, int64_t dqy,
                           int n, uint8_t *out);

#if FA_BUILD_AVX2
/* fa_mirror_reflect_run, eight pixels per step (the same integers). Needs AVX2. */
void fa_mirror_reflect_run_avx2(const fa_image *src, int64_t qx, int64_t qy, int64_t dqx,
                                int64_t dqy, int n, uint8_t *out);
#endif

#endif
