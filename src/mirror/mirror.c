/* mirror.c - the facial midline and the mirrored frames (see mirror.h for the conventions). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cv/cv.h" /* fa_hypot: x86-64 glibc's hypot on every platform */
#include "mirror/mirror_kernels.h"

int fa_midline_from_landmarks(const float lm[136], fa_midline *out)
{
    const double gx = ((double)lm[21] + (double)lm[22]) / 2, gy = ((double)lm[68 + 21] + (double)lm[68 + 22]) / 2;
    const double cx = lm[8], cy = lm[68 + 8];
    if (!isfinite(gx) || !isfinite(gy) || !isfinite(cx) || !isfinite(cy) || fa_hypot(cx - gx, cy - gy) < 1)
        return 0;
    *out = (fa_midline){gx, gy, cx, cy};
    return 1;
}

int fa_midline_smooth(const fa_midline *lines, const int *valid, int n, fa_midline *out)
{
    fa_midline sum = {0, 0, 0, 0};
    int k = 0;
    for (int i = 0; i < n; i++)
        if (valid[i]) {
            sum.gx += lines[i].gx;
            sum.gy += lines[i].gy;
            sum.cx += lines[i].cx;
            sum.cy += lines[i].cy;
            k++;
        }
    if (!k)
        return 0;
    *out = (fa_midline){sum.gx / k, sum.gy / k, sum.cx / k, sum.cy / k};
    return 1;
}

/* Positions along a row are stepped in fixed point, 2^-20 px: exact integer arithmetic, the
 * same on every platform, and the rounding of the row's start and step moves a coordinate by
 * less than 2^-20 px per pixel (under 0.002 px across a 2000-px row). */
#define FRAC FA_MIRROR_FRAC
#define ONE ((int64_t)1 << FRAC)
/* Added before shifting so that floor division of a negative coordinate needs no signed shift:
 * any source coordinate within 2^21 px of the frame stays non-negative. */
#define BIAS ((int64_t)1 << (FRAC + 21))

static int64_t to_fixed(double v)
{
    return (int64_t)floor(v * (double)ONE + 0.5);
}

static int clamp_index(int64_t i, int n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : (int)i;
}

/* The bilinear sample at fixed-point (qx, qy), edge-clamped: the coordinate rounded to 1/32 px,
 * 5-bit weights per axis. */
static void sample(const fa_image *src, int64_t qx, int64_t qy, uint8_t px[3])
{
    const int64_t X = (qx + BIAS + ((int64_t)1 << (FRAC - 6))) >> (FRAC - 5); /* 1/32 px, rounded */
    const int64_t Y = (qy + BIAS + ((int64_t)1 << (FRAC - 6))) >> (FRAC - 5);
    const int64_t ix = (X >> 5) - (BIAS >> FRAC), iy = (Y >> 5) - (BIAS >> FRAC);
    const int fx = (int)(X & 31), fy = (int)(Y & 31);
    const int x0 = clamp_index(ix, src->width), x1 = clamp_index(ix + 1, src->width);
    const int y0 = clamp_index(iy, src->height), y1 = clamp_index(iy + 1, src->height);
    const uint8_t *r0 = src->bgr + (size_t)y0 * (size_t)src->stride;
    const uint8_t *r1 = src->bgr + (size_t)y1 * (size_t)src->stride;
    const int w00 = (32 - fx) * (32 - fy), w01 = fx * (32 - fy), w10 = (32 - fx) * fy, w11 = fx * fy;
    for (int c = 0; c < 3; c++)
        px[c] = (uint8_t)((r0[3 * x0 + c] * w00 + r0[3 * x1 + c] * w01 + r1[3 * x0 + c] * w10 +
                           r1[3 * x1 + c] * w11 + 512) >> 10);
}

void fa_mirror_reflect_run(const fa_image *src, int64_t qx, int64_t qy, int64_t dqx, int64_t dqy,
                           int n, uint8_t *out)
{
    for (int i = 0; i < n; i++, qx += dqx, qy += dqy)
        sample(src, qx, qy, out + 3 * i);
}

/* Where a run that starts at x, margin >= 0 inside its condition, ends when each pixel takes
 * drop from the margin: the first pixel whose margin is negative (margin - j drop < 0), or w.
 * The same integers as stepping pixel by pixel, found with one division. */
static int run_end(int x, int w, int64_t margin, int64_t drop)
{
    if (drop <= 0)
        return w;
    const int64_t j = margin / drop + 1;
    return j >= w - x ? w : x + (int)j;
}

void fa_mirror_frame(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                     double seam_px, fa_image *dst)
{
    fa_mirror_frame_cpu(src, line, side, seam_px, dst, fa_cpu_features());
}

void fa_mirror_frame_cpu(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                         double seam_px, fa_image *dst, unsigned cpu)
{
    fa_mirror_rect_cpu(src, line, side, seam_px, dst, 0, 0, src->width, src->height, cpu);
}

void fa_mirror_rect_cpu(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                        double seam_px, fa_image *dst, int rx0, int ry0, int rx1, int ry1, unsigned cpu)
{
    const double len = fa_hypot(line->cx - line->gx, line->cy - line->gy);
    const double ux = (line->cx - line->gx) / len, uy = (line->cy - line->gy) / len;
    const double nx = -uy, ny = ux; /* s = (p - g) . n > 0 on the subject's right */
    const double keep = side == FA_MIRROR_RIGHT ? 1 : -1;
    const double half = seam_px > 0 ? seam_px / 2 : 0;
    const int64_t HALF = to_fixed(half);
    /* along a row, k (how far inside the kept half) and the reflection q = p - 2 s n step by
     * constants */
    const int64_t dK = to_fixed(keep * nx), dQX = to_fixed(1 - 2 * nx * nx), dQY = to_fixed(-2 * nx * ny);
    void (*reflect)(const fa_image *, int64_t, int64_t, int64_t, int64_t, int, uint8_t *) =
        fa_mirror_reflect_run;
#if FA_BUILD_AVX2
    if (cpu & FA_CPU_AVX2)
        reflect = fa_mirror_reflect_run_avx2;
#endif
    (void)cpu;
    for (int y = ry0; y < ry1; y++) {
        const uint8_t *in = src->bgr + (size_t)y * (size_t)src->stride;
        uint8_t *out = dst->bgr + (size_t)y * (size_t)dst->stride;
        const double s0 = -line->gx * nx + ((double)y - line->gy) * ny; /* s at x = 0 */
        /* the row is stepped from x = 0 in exact integers, so starting at rx0 with rx0 steps
         * taken at once gives every pixel the whole row's values: a rectangle is the same bytes
         * as that part of the whole frame */
        int64_t K = to_fixed(keep * s0) + rx0 * dK, QX = to_fixed(-2 * s0 * nx) + rx0 * dQX,
                QY = to_fixed((double)y - 2 * s0 * ny) + rx0 * dQY;
        int x = rx0;
        /* k is linear along the row: a run of kept pixels, the seam band and a run of reflected
         * ones, in one order or the other */
        while (x < rx1) {
            int x1 = x;
            if (K >= HALF) { /* kept pixels: copied as they are */
                x1 = run_end(x, rx1, K - HALF, -dK);
                memcpy(out + 3 * x, in + 3 * x, 3 * (size_t)(x1 - x));
                K += (int64_t)(x1 - x) * dK;
            } else if (K <= -HALF) { /* reflected pixels */
                x1 = run_end(x, rx1, -HALF - K, dK);
                reflect(src, QX, QY, dQX, dQY, x1 - x, out + 3 * x);
                K += (int64_t)(x1 - x) * dK;
            } else { /* inside the seam band: alpha of the kept pixel, 0 at -half, 1 at +half */
                uint8_t *o = out + 3 * x;
                sample(src, QX, QY, o);
                const double k = (double)K / (double)ONE;
                const int a = (int)floor((k + half) / seam_px * 256 + 0.5);
                for (int c = 0; c < 3; c++)
                    o[c] = (uint8_t)((in[3 * x + c] * a + o[c] * (256 - a) + 128) >> 8);
                x1++, K += dK;
            }
            QX += (int64_t)(x1 - x) * dQX, QY += (int64_t)(x1 - x) * dQY;
            x = x1;
        }
    }
}
