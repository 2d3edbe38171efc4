/* warp_affine.c - cv::warpAffine(INTER_LINEAR, BORDER_CONSTANT 0) on 8-bit BGR, bit-exact with
 * OpenCV 4.6 (OpenFace's AlignFaceMask warp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cv/warp_kernels.h"

#define MAX_SIDE FA_WARP_MAX_SIDE

/* ---- cv::warpAffine, INTER_LINEAR, BORDER_CONSTANT 0, 8UC3 ----------------------------- */


/* Inverts the forward matrix the way cv::warpAffine does (without WARP_INVERSE_MAP). */
static void invert_affine(const float Mf[6], double M[6])
{
    for (int k = 0; k < 6; k++)
        M[k] = Mf[k];
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0 ? 1. / D : 0;
    double A11 = M[4] * D, A22 = M[0] * D;
    M[0] = A11;
    M[1] *= -D;
    M[3] *= -D;
    M[4] = A22;
    double b1 = -M[0] * M[2] - M[1] * M[5];
    double b2 = -M[3] * M[2] - M[4] * M[5];
    M[2] = b1;
    M[5] = b2;
}

/* One output pixel: remapBilinear's fixed-point sum. OpenCV's weight for corner (i, j) is
 * (32-fx or fx)*(32-fy or fy)*32 out of 2^15, so (sum*32 + 2^14) >> 15 == (sum + 512) >> 10.
 * (Its table stores the fx=fy=0 entry as 32767/0/0/1, which gives the same result.) Samples
 * outside the frame are the border value 0. */
static void sample_pixel(const fa_image *img, int sx, int sy, int fx, int fy, uint8_t *d)
{
    const int wx[2] = {INTER_TAB - fx, fx}, wy[2] = {INTER_TAB - fy, fy};
    int acc[3] = {512, 512, 512};
    for (int j = 0; j < 2; j++) {
        int y = sy + j;
        if (y < 0 || y >= img->height)
            continue;
        const uint8_t *row = img->bgr + (size_t)y * (size_t)img->stride;
        for (int i = 0; i < 2; i++) {
            int x = sx + i;
            if (x < 0 || x >= img->width)
                continue;
            int w = wx[i] * wy[j];
            const uint8_t *p = row + 3 * x;
            acc[0] += w * p[0];
            acc[1] += w * p[1];
            acc[2] += w * p[2];
        }
    }
    for (int c = 0; c < 3; c++)
        d[c] = (uint8_t)(acc[c] >> 10);
}

/* The interior case of sample_pixel: all four samples inside. Interpolating along x and then y
 * in integers gives the same sum: top = p00*(32-fx) + p01*fx = 32*p00 + (p01-p00)*fx, and
 * 32*top + (bot-top)*fy = top*(32-fy) + bot*fy. */
static void sample_inside(const uint8_t *p, size_t stride, int fx, int fy, uint8_t *d)
{
    const uint8_t *q = p + stride;
    for (int c = 0; c < 3; c++) {
        int top = (p[c] << 5) + (p[c + 3] - p[c]) * fx;
        int bot = (q[c] << 5) + (q[c + 3] - q[c]) * fx;
        d[c] = (uint8_t)(((top << 5) + (bot - top) * fy + 512) >> 10);
    }
}

/* One output pixel from its fixed-point source position v = (X, Y) in 1/1024 pixel: the
 * general case, including positions near or beyond the frame's edge. */
void fa_warp_pixel(const fa_image *src, int64_t vx, int64_t vy, uint8_t *d)
{
    int64_t X = fa_floor_shr(vx, AB_BITS - INTER_BITS), Y = fa_floor_shr(vy, AB_BITS - INTER_BITS);
    int sx = fa_saturate_short(fa_floor_shr(X, INTER_BITS));
    int sy = fa_saturate_short(fa_floor_shr(Y, INTER_BITS));
    int fx = (int)(X & (INTER_TAB - 1)), fy = (int)(Y & (INTER_TAB - 1));
    if (sx >= 0 && sy >= 0 && sx < src->width - 1 && sy < src->height - 1)
        sample_inside(src->bgr + (size_t)sy * (size_t)src->stride + 3 * (size_t)sx,
                      (size_t)src->stride, fx, fy, d);
    else if (sx >= src->width || sx + 1 < 0 || sy >= src->height || sy + 1 < 0)
        d[0] = d[1] = d[2] = 0;
    else
        sample_pixel(src, sx, sy, fx, fy, d);
}

/* Pixels x..size-1 of a row one at a time: what the vector row loops leave over. */
void fa_warp_tail(const fa_image *src, const int32_t *adelta, const int32_t *bdelta, int64_t X0,
                      int64_t Y0, const uint8_t *m, int x, int size, uint8_t *d)
{
    for (; x < size; x++) {
        uint8_t *dk = d + 3 * x;
        if (m && !m[x])
            dk[0] = dk[1] = dk[2] = 0;
        else
            fa_warp_pixel(src, X0 + adelta[x], Y0 + bdelta[x], dk);
    }
}


/* Whether a row's source positions all lie within +-2^15 pixels (checked at both ends: the
 * per-column increments are monotone), so 32-bit biased positions need no saturation. */
static int row_is_small(const int32_t *adelta, const int32_t *bdelta, int64_t X0, int64_t Y0,
                        int size)
{
    const int64_t lim = (int64_t)1 << 25;
    const int64_t ends[4] = {X0 + adelta[0], X0 + adelta[size - 1], Y0 + bdelta[0],
                             Y0 + bdelta[size - 1]};
    for (int k = 0; k < 4; k++)
        if (ends[k] <= -lim || ends[k] >= lim)
            return 0;
    return 1;
}


/* A small row (row_is_small) in 32-bit arithmetic without saturation. */
static void warp_row_small(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
                           int64_t X0, int64_t Y0, const uint8_t *m, int size, uint8_t *d)
{
    const int32_t xb = (int32_t)(X0 + POS_BIAS), yb = (int32_t)(Y0 + POS_BIAS);
    const size_t stride = (size_t)src->stride;
    const unsigned w1 = (unsigned)src->width - 1, h1 = (unsigned)src->height - 1;
    for (int x = 0; x < size; x++, d += 3) {
        if (m && !m[x]) {
            d[0] = d[1] = d[2] = 0;
            continue;
        }
        int32_t vx = xb + adelta[x], vy = yb + bdelta[x];
        int sx = (vx >> AB_BITS) - (POS_BIAS >> AB_BITS), sy = (vy >> AB_BITS) - (POS_BIAS >> AB_BITS);
        int fx = (vx >> (AB_BITS - INTER_BITS)) & (INTER_TAB - 1);
        int fy = (vy >> (AB_BITS - INTER_BITS)) & (INTER_TAB - 1);
        if ((unsigned)sx < w1 && (unsigned)sy < h1)
            sample_inside(src->bgr + (size_t)sy * stride + 3 * (size_t)sx, stride, fx, fy, d);
        else
            fa_warp_pixel(src, X0 + adelta[x], Y0 + bdelta[x], d);
    }
}

/* WarpAffineInvoker + remapBilinear: source positions in 1/32 pixel from a 10-bit fixed-point
 * row start plus a per-column increment, each rounded separately (fa_cv_round keeps them within
 * 32 bits, so their sums stay far below 2^39). Pixels where mask (if any) is 0 are set to 0
 * without sampling. */
/* Row y's fixed-point source position at x = 0. */
static void row_origin(const double M[6], int y, int64_t *X0, int64_t *Y0)
{
    const int round_delta = AB_SCALE / INTER_TAB / 2;
    *X0 = (int64_t)fa_cv_round((M[1] * y + M[2]) * AB_SCALE) + round_delta;
    *Y0 = (int64_t)fa_cv_round((M[4] * y + M[5]) * AB_SCALE) + round_delta;
}

void fa_warp_affine_masked_rows(const fa_image *src, const float Mf[6], int size,
                                const uint8_t *mask, unsigned cpu, uint8_t *out)
{
    double M[6];
    invert_affine(Mf, M);
    int32_t adelta[MAX_SIDE], bdelta[MAX_SIDE];
    for (int x = 0; x < size; x++) {
        adelta[x] = fa_cv_round(M[0] * x * AB_SCALE);
        bdelta[x] = fa_cv_round(M[3] * x * AB_SCALE);
    }
#if FA_BUILD_AVX2 && FA_WARP_SSE2
    const int avx2 = (cpu & FA_CPU_AVX2) != 0;
#else
    (void)cpu;
#endif
    for (int y = 0; y < size; y++) {
        int64_t X0, Y0;
        row_origin(M, y, &X0, &Y0);
        const uint8_t *m = mask ? mask + (size_t)y * (size_t)size : NULL;
        uint8_t *d = out + (size_t)y * (size_t)size * 3;
        if (row_is_small(adelta, bdelta, X0, Y0, size)) {
#if FA_BUILD_AVX2 && FA_WARP_SSE2
            if (avx2 && src->stride < 32768) {
                fa_warp_row_avx2(src, adelta, bdelta, X0, Y0, m, size, d);
                continue;
            }
#endif
#if FA_WARP_SSE2
            if (src->stride < 32768) {
                fa_warp_row_sse2(src, adelta, bdelta, X0, Y0, m, size, d);
                continue;
            }
#endif
            warp_row_small(src, adelta, bdelta, X0, Y0, m, size, d);
            continue;
        }
        for (int x = 0; x < size; x++, d += 3) {
            if (m && !m[x])
                d[0] = d[1] = d[2] = 0;
            else
                fa_warp_pixel(src, X0 + adelta[x], Y0 + bdelta[x], d);
        }
    }
}

faceau_status fa_warp_check(const fa_image *img, int size, const void *out, fa_err *err)
{
    if (!img || !img->bgr || !out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: NULL image or output");
    if (img->width < 1 || img->height < 1 || img->stride < 3 * img->width)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: bad image geometry %dx%d stride %d",
                       img->width, img->height, img->stride);
    if (size < 1 || size > MAX_SIDE)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: size %d outside 1..%d", size, MAX_SIDE);
    return FACEAU_OK;
}

faceau_status fa_warp_affine(const fa_image *src, const float M[6], int size, uint8_t *out,
                             fa_err *err)
{
    faceau_status st = M ? fa_warp_check(src, size, out, err)
                         : fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: NULL matrix");
    if (st)
        return st;
    fa_warp_affine_masked_rows(src, M, size, NULL, fa_cpu_features(), out);
    return FACEAU_OK;
}

