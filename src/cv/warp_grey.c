/* warp_grey.c - the grey image: OpenCV 4.6's BGR2GRAY, and its float warpAffine/remap with
 * INTER_LINEAR and a constant 0 border, reproduced bit-exactly (see cv.h). The landmark tracker
 * fits on this image (Patch_experts::Response's area of interest, PAW::Warp in the validator).
 *
 * Both resamplers come down to OpenCV's remapBilinear<Cast<float,float>, RemapNoVec, float>:
 * every destination pixel has an integer source corner (sx, sy), saturated to short, and a
 * fraction (fx, fy) in 1/32 pixel; the value is
 *     v00*w[0] + v01*w[1] + v10*w[2] + v11*w[3]     (float products, summed left to right)
 * with OpenCV's float table w = {(1-ax)(1-ay), ax(1-ay), (1-ax)ay, ax*ay}, ax = fx/32, ay = fy/32
 * (all exact in float), and samples outside the image read as 0. OpenCV's "inlier" fast path
 * computes the same expression, so one routine covers both. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cv/warp_grey_kernels.h"
#include "cv/warp_kernels.h"

faceau_status fa_grey_resize(fa_grey *g, int width, int height, fa_err *err)
{
    if (width < 1 || height < 1 || width > 65535 || height > 65535)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "grey image size %dx%d is out of range", width,
                       height);
    size_t n = (size_t)width * (size_t)height;
    if (n > g->cap || !g->px) {
        uint8_t *p = fa_malloc(n + FA_GREY_PAD, err, "a grey image");
        if (!p)
            return FACEAU_ERR_NOMEM;
        free(g->px);
        g->px = p;
        g->cap = n;
    }
    g->width = width;
    g->height = height;
    g->stride = width;
    return FACEAU_OK;
}

void fa_grey_free(fa_grey *g)
{
    if (g) {
        free(g->px);
        g->px = NULL;
        g->cap = 0;
        g->width = g->height = g->stride = 0;
    }
}

/* OpenCV 4.6's RGB2Gray<uchar> works in 15 bits: R2Y = 9798, G2Y = 19235, B2Y = 3735 and
 * rounding 1 << 14 (its SIMD and scalar forms alike). The 14-bit coefficients (4899, 9617, 1868)
 * of yuv_shift give one grey level less on about 0.1-0.7% of pixels (checked against
 * cv::cvtColor on every frame of the shared videos: the 15-bit form never differs), and such a
 * pixel inside a landmark's area of interest moves the fit. */
void fa_grey_row(const uint8_t *s, int n, uint8_t *d)
{
    for (int x = 0; x < n; x++, s += 3) /* at most (255 * 32768 + 16384) >> 15 = 255 */
        d[x] = (uint8_t)((s[0] * 3735 + s[1] * 19235 + s[2] * 9798 + (1 << 14)) >> 15);
}

faceau_status fa_grey_from_bgr(const fa_image *img, fa_grey *out, fa_err *err)
{
    if (!img || !img->bgr || !out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "grey: NULL image");
    if (img->width < 1 || img->height < 1 || img->stride < 3 * img->width)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "grey: bad image geometry %dx%d stride %d",
                       img->width, img->height, img->stride);
    faceau_status st = fa_grey_resize(out, img->width, img->height, err);
    if (st)
        return st;
    out->source = NULL; /* every pixel is made: nothing is left to make on demand */
    const unsigned cpu = fa_cpu_features();
    for (int y = 0; y < img->height; y++) {
        const uint8_t *s = img->bgr + (size_t)y * (size_t)img->stride;
        uint8_t *d = out->px + (size_t)y * (size_t)out->stride;
#if FA_BUILD_AVX2
        if (cpu & FA_CPU_AVX2) {
            fa_grey_row_avx2(s, img->width, d);
            continue;
        }
#endif
        (void)cpu;
        fa_grey_row(s, img->width, d);
    }
    return FACEAU_OK;
}

void fa_grey_from_bgr_rect(const fa_image *img, fa_grey *out, int x0, int y0, int x1, int y1,
                           unsigned cpu)
{
    /* each grey pixel is a function of its own BGR pixel: a row's part gives the same bytes */
    for (int y = y0; y < y1; y++) {
        const uint8_t *s = img->bgr + (size_t)y * (size_t)img->stride + 3 * (size_t)x0;
        uint8_t *d = out->px + (size_t)y * (size_t)out->stride + (size_t)x0;
#if FA_BUILD_AVX2
        if (cpu & FA_CPU_AVX2) {
            fa_grey_row_avx2(s, x1 - x0, d);
            continue;
        }
#endif
        fa_grey_row(s, x1 - x0, d);
    }
    (void)cpu;
}

/* ---- remapBilinear ---------------------------------------------------------------------- */

/* One destination pixel from a source position P in 1/32 pixel (X, Y): OpenCV stores
 * saturate_cast<short>(X >> 5) and X & 31, likewise for Y, then samples. */
float fa_grey_sample(const fa_grey *src, int64_t X, int64_t Y)
{
    int sx = fa_saturate_short(fa_floor_shr(X, INTER_BITS));
    int sy = fa_saturate_short(fa_floor_shr(Y, INTER_BITS));
    int fx = (int)(X & (INTER_TAB - 1)), fy = (int)(Y & (INTER_TAB - 1));
    const int w = src->width, h = src->height;
    if (sx >= w || sx + 1 < 0 || sy >= h || sy + 1 < 0)
        return 0.f; /* cval */
    const float ax = (float)fx * (1.f / INTER_TAB), ay = (float)fy * (1.f / INTER_TAB);
    const float wx0 = 1.f - ax, wy0 = 1.f - ay;
    const float w0 = wy0 * wx0, w1 = wy0 * ax, w2 = ay * wx0, w3 = ay * ax;
    const size_t stride = (size_t)src->stride;
    float v0 = 0.f, v1 = 0.f, v2 = 0.f, v3 = 0.f;
    if (sx >= 0 && sy >= 0 && sx + 1 < w && sy + 1 < h) {
        const uint8_t *p = src->px + (size_t)sy * stride + (size_t)sx;
        v0 = p[0];
        v1 = p[1];
        v2 = p[stride];
        v3 = p[stride + 1];
    } else {
        const int x0ok = sx >= 0, x1ok = sx + 1 < w, y0ok = sy >= 0, y1ok = sy + 1 < h;
        const uint8_t *r0 = y0ok ? src->px + (size_t)sy * stride : NULL;
        const uint8_t *r1 = y1ok ? src->px + (size_t)(sy + 1) * stride : NULL;
        if (r0 && x0ok)
            v0 = r0[sx];
        if (r0 && x1ok)
            v1 = r0[sx + 1];
        if (r1 && x0ok)
            v2 = r1[sx];
        if (r1 && x1ok)
            v3 = r1[sx + 1];
    }
    return v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3;
}

/* fa_grey_row's value of img's pixel (x, y). */
static inline float grey_of(const fa_image *img, int x, int y)
{
    const uint8_t *s = img->bgr + (size_t)y * (size_t)img->stride + 3 * (size_t)x;
    return (float)((s[0] * 3735 + s[1] * 19235 + s[2] * 9798 + (1 << 14)) >> 15);
}

/* fa_grey_sample on the grey image of img's w x h rectangle at (x0, y0), its pixels made from
 * the BGR ones as they are read. */
static float sample_bgr(const fa_image *img, int x0, int y0, int w, int h, int64_t X, int64_t Y)
{
    int sx = fa_saturate_short(fa_floor_shr(X, INTER_BITS));
    int sy = fa_saturate_short(fa_floor_shr(Y, INTER_BITS));
    int fx = (int)(X & (INTER_TAB - 1)), fy = (int)(Y & (INTER_TAB - 1));
    if (sx >= w || sx + 1 < 0 || sy >= h || sy + 1 < 0)
        return 0.f; /* cval */
    const float ax = (float)fx * (1.f / INTER_TAB), ay = (float)fy * (1.f / INTER_TAB);
    const float wx0 = 1.f - ax, wy0 = 1.f - ay;
    const float w0 = wy0 * wx0, w1 = wy0 * ax, w2 = ay * wx0, w3 = ay * ax;
    const int x0ok = sx >= 0, x1ok = sx + 1 < w, y0ok = sy >= 0, y1ok = sy + 1 < h;
    const float v0 = x0ok && y0ok ? grey_of(img, x0 + sx, y0 + sy) : 0.f;
    const float v1 = x1ok && y0ok ? grey_of(img, x0 + sx + 1, y0 + sy) : 0.f;
    const float v2 = x0ok && y1ok ? grey_of(img, x0 + sx, y0 + sy + 1) : 0.f;
    const float v3 = x1ok && y1ok ? grey_of(img, x0 + sx + 1, y0 + sy + 1) : 0.f;
    return v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3;
}

void fa_remap_bgr_grey_row(const fa_image *img, int x0, int y0, int w, int h, const float *mx,
                           const float *my, int n, float *d)
{
    for (int x = 0; x < n; x++)
        d[x] = sample_bgr(img, x0, y0, w, h, fa_cv_round(mx[x] * (float)INTER_TAB),
                          fa_cv_round(my[x] * (float)INTER_TAB));
}

void fa_remap_bgr_grey(const fa_image *img, int x0, int y0, int w, int h, const float *map_x,
                       const float *map_y, int map_stride, int dw, int dh, float *dst,
                       int dst_stride)
{
#if FA_BUILD_AVX2
    if (fa_cpu_features() & FA_CPU_AVX2) {
        fa_remap_bgr_grey_avx2(img, x0, y0, w, h, map_x, map_y, map_stride, dw, dh, dst,
                               dst_stride);
        return;
    }
#endif
    for (int y = 0; y < dh; y++)
        fa_remap_bgr_grey_row(img, x0, y0, w, h, map_x + (size_t)y * (size_t)map_stride,
                              map_y + (size_t)y * (size_t)map_stride, dw,
                              dst + (size_t)y * (size_t)dst_stride);
}

/* ---- warpAffine --------------------------------------------------------------------------- */

/* WarpAffineInvoker (WARP_INVERSE_MAP, so M is used as given): per row a 10-bit fixed-point
 * origin X0 = round((M1*y + M2)*1024) + 16 and per column round(M0*x*1024), each rounded on its
 * own; the sum shifted right by 5 is the position in 1/32 pixel. OpenCV's 64x64 blocking only
 * groups pixels; no value depends on it (the column offsets are computed once per block of 64
 * columns here, as OpenCV does per block). */
void fa_warp_affine_grey_cpu(const fa_grey *src, const double M[6], int dw, int dh, float *dst,
                             int dst_stride, unsigned cpu)
{
    if (src->source) {
        /* the source positions span the parallelogram of the corners' (an affine map); around
         * them, the rounding to 1/32 px, the second bilinear tap and the AVX2 path's 4-byte
         * corner-pair loads, with a pixel to spare */
        double lx = INFINITY, hx = -INFINITY, ly = INFINITY, hy = -INFINITY;
        for (int c = 0; c < 4; c++) {
            const double x = c & 1 ? dw - 1 : 0, y = c & 2 ? dh - 1 : 0;
            const double sx = M[0] * x + M[1] * y + M[2], sy = M[3] * x + M[4] * y + M[5];
            lx = sx < lx ? sx : lx, hx = sx > hx ? sx : hx;
            ly = sy < ly ? sy : ly, hy = sy > hy ? sy : hy;
        }
        fa_grey_need(src, lx - 2, ly - 2, hx + 6, hy + 3);
    }
#if FA_BUILD_AVX2
    if (cpu & FA_CPU_AVX2) {
        fa_warp_affine_grey_avx2(src, M, dw, dh, dst, dst_stride);
        return;
    }
#endif
    (void)cpu;
    enum { COLS = 64 }; /* columns whose offsets are computed once for all rows */
    const int round_delta = AB_SCALE / INTER_TAB / 2;
    int64_t adelta[COLS], bdelta[COLS];
    for (int x0 = 0; x0 < dw; x0 += COLS) {
        const int nx = dw - x0 < COLS ? dw - x0 : COLS;
        for (int x = 0; x < nx; x++) {
            adelta[x] = (int64_t)fa_cv_round(M[0] * (x0 + x) * AB_SCALE);
            bdelta[x] = (int64_t)fa_cv_round(M[3] * (x0 + x) * AB_SCALE);
        }
        for (int y = 0; y < dh; y++) {
            int64_t X0 = (int64_t)fa_cv_round((M[1] * y + M[2]) * AB_SCALE) + round_delta;
            int64_t Y0 = (int64_t)fa_cv_round((M[4] * y + M[5]) * AB_SCALE) + round_delta;
            float *d = dst + (size_t)y * (size_t)dst_stride + (size_t)x0;
            for (int x = 0; x < nx; x++) {
                int64_t X = fa_floor_shr(X0 + adelta[x], AB_BITS - INTER_BITS);
                int64_t Y = fa_floor_shr(Y0 + bdelta[x], AB_BITS - INTER_BITS);
                d[x] = fa_grey_sample(src, X, Y);
            }
        }
    }
}

void fa_warp_affine_grey(const fa_grey *src, const double M[6], int dw, int dh, float *dst,
                         int dst_stride)
{
    fa_warp_affine_grey_cpu(src, M, dw, dh, dst, dst_stride, fa_cpu_features());
}

/* ---- remap ---------------------------------------------------------------------------------- */

/* RemapInvoker with planar CV_32FC1 maps: sx = cvRound(map_x*32) (exact product, fa_cv_round of
 * the float), then as
 * above; OpenCV's SIMD conversion (v_round, saturating pack) gives the same integers. */
void fa_remap_grey(const fa_grey *src, const float *map_x, const float *map_y, int map_stride,
                   int dw, int dh, float *dst, int dst_stride)
{
    if (src->source) { /* the maps' extent, with the second tap and a pixel to spare */
        double lx = INFINITY, hx = -INFINITY, ly = INFINITY, hy = -INFINITY;
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                const double sx = map_x[(size_t)y * (size_t)map_stride + (size_t)x];
                const double sy = map_y[(size_t)y * (size_t)map_stride + (size_t)x];
                lx = sx < lx ? sx : lx, hx = sx > hx ? sx : hx;
                ly = sy < ly ? sy : ly, hy = sy > hy ? sy : hy;
            }
        fa_grey_need(src, lx - 2, ly - 2, hx + 3, hy + 3);
    }
    for (int y = 0; y < dh; y++) {
        const float *mx = map_x + (size_t)y * (size_t)map_stride;
        const float *my = map_y + (size_t)y * (size_t)map_stride;
        float *d = dst + (size_t)y * (size_t)dst_stride;
        for (int x = 0; x < dw; x++)
            d[x] = fa_grey_sample(src, fa_cv_round(mx[x] * (float)INTER_TAB),
                          fa_cv_round(my[x] * (float)INTER_TAB));
    }
}
