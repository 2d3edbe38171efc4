/* warp.h - the grey image CLNF fits on and the two OpenCV 4.6 resamplers OpenFace's landmark
 * code calls on it, reproduced bit-exactly:
 *  - cv::cvtColor(COLOR_BGR2GRAY) (8-bit fixed point) followed by convertTo(CV_32F);
 *  - cv::warpAffine(float grey, WARP_INVERSE_MAP | INTER_LINEAR, BORDER_CONSTANT 0), which
 *    Patch_experts::Response uses to crop each landmark's area of interest;
 *  - cv::remap(float grey, float map_x, float map_y, INTER_LINEAR, BORDER_CONSTANT 0), which
 *    PAW::Warp uses (the detection validator).
 * Both resamplers quantise source positions to 1/32 pixel (INTER_BITS = 5) and interpolate with
 * OpenCV's float bilinear weight table, summing the four products in OpenCV's order. */
#ifndef FACEAU_LANDMARKS_WARP_H
#define FACEAU_LANDMARKS_WARP_H

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"

/* A single-channel float image (OpenCV's Mat_<float>), row-major. */
typedef struct fa_grey {
    int width, height;
    int stride;   /* floats per row, >= width */
    float *px;    /* owned by whoever allocated it (fa_grey_resize allocates) */
    size_t cap;   /* floats allocated in px (fa_grey_resize reuses the buffer up to this) */
} fa_grey;

/* Sets g to width x height (stride = width), reallocating px only when it has fewer than
 * width*height floats. A zeroed fa_grey is a valid empty image. Sizes 1..65535. Contents are
 * undefined after a resize. */
faceau_status fa_grey_resize(fa_grey *g, int width, int height, fa_err *err);
void fa_grey_free(fa_grey *g);

/* cv::cvtColor(img, grey, COLOR_BGR2GRAY) then convertTo(CV_32F): each pixel is
 * (1868*B + 9617*G + 4899*R + 8192) >> 14 as a float. out is resized to img's size. */
faceau_status fa_grey_from_bgr(const fa_image *img, fa_grey *out, fa_err *err);

/* cv::warpAffine(src, dst, M, Size(dw, dh), WARP_INVERSE_MAP | INTER_LINEAR,
 * BORDER_CONSTANT, 0): dst(x, y) samples src at (M[0]x + M[1]y + M[2], M[3]x + M[4]y + M[5]).
 * M is double as OpenCV converts it (a float matrix, as OpenFace builds it, converts exactly).
 * dst: dh rows of dw floats, dst_stride floats apart. dw, dh >= 1. */
void fa_warp_affine_grey(const fa_grey *src, const double M[6], int dw, int dh, float *dst,
                         int dst_stride);

/* cv::remap(src, dst, map_x, map_y, INTER_LINEAR, BORDER_CONSTANT, 0) with CV_32FC1 maps:
 * dst(x, y) samples src at (map_x(x, y), map_y(x, y)) rounded to 1/32 pixel (cvRound(v*32)).
 * map_x, map_y: dh rows of dw floats, map_stride floats apart; dst likewise dst_stride. */
void fa_remap_grey(const fa_grey *src, const float *map_x, const float *map_y, int map_stride,
                   int dw, int dh, float *dst, int dst_stride);

#endif
