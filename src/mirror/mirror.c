/* mirror.c - the facial midline and the mirrored frames (see mirror.h for the conventions). */
#include <math.h>
#include <string.h>

#include "mirror/mirror.h"

int fa_midline_from_landmarks(const float lm[136], fa_midline *out)
{
    const double gx = ((double)lm[21] + (double)lm[22]) / 2, gy = ((double)lm[68 + 21] + (double)lm[68 + 22]) / 2;
    const double cx = lm[8], cy = lm[68 + 8];
    if (!isfinite(gx) || !isfinite(gy) || !isfinite(cx) || !isfinite(cy) || hypot(cx - gx, cy - gy) < 1)
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

/* Source coordinates are clamped to this many pixels outside the frame before the fixed-point
 * conversion: far enough that clamping to the edge has already happened, small enough that
 * (q + OFFSET) * 32 fits a long. */
#define FAR 1048576.0
#define OFFSET 2097152L

/* One coordinate in 1/32 px: the pixel index (floor) and the 5-bit fraction. */
static void fixed_coord(double q, long *i, int *frac)
{
    if (q < -FAR)
        q = -FAR;
    if (q > FAR)
        q = FAR;
    long v = (long)floor(q * 32 + 0.5) + OFFSET * 32; /* non-negative: shifts and masks exact */
    *i = (v >> 5) - OFFSET;
    *frac = (int)(v & 31);
}

static int clamp_index(long i, int n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : (int)i;
}

/* The bilinear sample of src at (qx, qy), edge-clamped, into px[3]. */
static void sample(const fa_image *src, double qx, double qy, uint8_t px[3])
{
    long ix, iy;
    int fx, fy;
    fixed_coord(qx, &ix, &fx);
    fixed_coord(qy, &iy, &fy);
    const int x0 = clamp_index(ix, src->width), x1 = clamp_index(ix + 1, src->width);
    const int y0 = clamp_index(iy, src->height), y1 = clamp_index(iy + 1, src->height);
    const uint8_t *r0 = src->bgr + (size_t)y0 * (size_t)src->stride;
    const uint8_t *r1 = src->bgr + (size_t)y1 * (size_t)src->stride;
    const int w00 = (32 - fx) * (32 - fy), w01 = fx * (32 - fy), w10 = (32 - fx) * fy, w11 = fx * fy;
    for (int c = 0; c < 3; c++)
        px[c] = (uint8_t)((r0[3 * x0 + c] * w00 + r0[3 * x1 + c] * w01 + r1[3 * x0 + c] * w10 +
                           r1[3 * x1 + c] * w11 + 512) >> 10);
}

void fa_mirror_frame(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                     double seam_px, fa_image *dst)
{
    const double len = hypot(line->cx - line->gx, line->cy - line->gy);
    const double ux = (line->cx - line->gx) / len, uy = (line->cy - line->gy) / len;
    const double nx = -uy, ny = ux; /* s = (p - g) . n > 0 on the subject's right */
    const double keep = side == FA_MIRROR_RIGHT ? 1 : -1;
    const double half = seam_px > 0 ? seam_px / 2 : 0;
    for (int y = 0; y < src->height; y++) {
        const uint8_t *in = src->bgr + (size_t)y * (size_t)src->stride;
        uint8_t *out = dst->bgr + (size_t)y * (size_t)dst->stride;
        for (int x = 0; x < src->width; x++) {
            const double s = ((double)x - line->gx) * nx + ((double)y - line->gy) * ny;
            const double k = keep * s; /* how far inside the kept half */
            if (k >= half) {
                memcpy(out + 3 * x, in + 3 * x, 3);
                continue;
            }
            uint8_t r[3];
            sample(src, (double)x - 2 * s * nx, (double)y - 2 * s * ny, r);
            if (k <= -half) {
                memcpy(out + 3 * x, r, 3);
                continue;
            }
            /* inside the seam band: alpha of the kept pixel, 0 at -half, 1 at +half */
            const int a = (int)floor((k + half) / seam_px * 256 + 0.5);
            for (int c = 0; c < 3; c++)
                out[3 * x + c] = (uint8_t)((in[3 * x + c] * a + r[c] * (256 - a) + 128) >> 8);
        }
    }
}
