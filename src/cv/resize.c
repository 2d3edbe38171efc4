/* resize.c - cv::resize(INTER_LINEAR) of an 8-bit BGR image to float, bit-exact with OpenCV 4.6
 * (MTCNN's image pyramid and its crops). */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cv/cv.h"

/* Horizontal pass of one virtual source row r into d (dw*3 floats). xcol: each output
 * column's two source columns in img (-1: outside, i.e. the crop's zero padding). */
static void hresize_row(const fa_image *img, int y0, int r, int dw, const int *xcol,
                        const float *alpha, int xmax, float *d)
{
    int ir = r + y0;
    if (ir < 0 || ir >= img->height) {
        /* The zero padding of OpenFace's crop: 0*a0 + 0*a1 is 0. */
        memset(d, 0, (size_t)dw * 3 * sizeof *d);
        return;
    }
    const uint8_t *row = img->bgr + (size_t)ir * (size_t)img->stride;
    for (int dx = 0; dx < dw; dx++, d += 3) {
        int c0 = xcol[2 * dx], c1 = xcol[2 * dx + 1];
        if (dx < xmax && c0 >= 0 && c1 >= 0) {
            const uint8_t *p0 = row + 3 * c0, *p1 = row + 3 * c1;
            float a0 = alpha[2 * dx], a1 = alpha[2 * dx + 1];
            d[0] = (float)p0[0] * a0 + (float)p1[0] * a1;
            d[1] = (float)p0[1] * a0 + (float)p1[1] * a1;
            d[2] = (float)p0[2] * a0 + (float)p1[2] * a1;
            continue;
        }
        for (int k = 0; k < 3; k++) {
            float s0 = c0 >= 0 ? (float)row[3 * c0 + k] : 0.0f;
            if (dx < xmax) {
                float s1 = c1 >= 0 ? (float)row[3 * c1 + k] : 0.0f;
                d[k] = s0 * alpha[2 * dx] + s1 * alpha[2 * dx + 1];
            } else {
                d[k] = s0;
            }
        }
    }
}

void fa_resize_linear(const fa_image *img, int x0, int y0, int sw, int sh, int dw, int dh,
                      int row0, int nrows, float *out, float *ftmp, int *itmp)
{
    /* OpenCV's resize(): inv_scale = dsize/ssize in double, scale = 1/inv_scale, source
     * coordinate (float)((d+0.5)*scale-0.5), weights 1-f and f in float; columns clamp with
     * f = 0 and the right edge uses the single-tap path (xmax); rows clamp their index only. */
    double scale_x = 1.0 / ((double)dw / sw), scale_y = 1.0 / ((double)dh / sh);
    float *alpha = ftmp, *r0 = ftmp + 2 * dw, *r1 = ftmp + 5 * dw;
    int *xcol = itmp;
    int xmax = dw;
    for (int dx = 0; dx < dw; dx++) {
        float fx = (float)((dx + 0.5) * scale_x - 0.5);
        int sx = (int)floorf(fx);
        fx -= (float)sx;
        if (sx < 0)
            fx = 0.0f, sx = 0;
        if (sx + 1 >= sw) {
            if (dx < xmax)
                xmax = dx;
            if (sx >= sw - 1)
                fx = 0.0f, sx = sw - 1;
        }
        int c0 = sx + x0, c1 = sx + 1 + x0;
        xcol[2 * dx] = c0 >= 0 && c0 < img->width ? c0 : -1;
        xcol[2 * dx + 1] = c1 >= 0 && c1 < img->width ? c1 : -1;
        alpha[2 * dx] = 1.0f - fx;
        alpha[2 * dx + 1] = fx;
    }
    int have0 = INT_MIN, have1 = INT_MIN; /* source rows held in r0, r1 */
    for (int dy = row0; dy < row0 + nrows; dy++) {
        float fy = (float)((dy + 0.5) * scale_y - 0.5);
        int sy = (int)floorf(fy);
        fy -= (float)sy;
        int ya = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
        int yb = sy + 1 < 0 ? 0 : sy + 1 >= sh ? sh - 1 : sy + 1;
        if (have0 != ya) {
            if (have1 == ya) {
                float *t = r0;
                r0 = r1, r1 = t, have0 = ya, have1 = INT_MIN;
            } else {
                hresize_row(img, y0, ya, dw, xcol, alpha, xmax, r0);
                have0 = ya;
            }
        }
        if (have1 != yb) {
            if (yb == ya) {
                memcpy(r1, r0, (size_t)dw * 3 * sizeof *r1);
            } else {
                hresize_row(img, y0, yb, dw, xcol, alpha, xmax, r1);
            }
            have1 = yb;
        }
        float b0 = 1.0f - fy, b1 = fy;
        float *o = out + (size_t)(dy - row0) * (size_t)dw * 3;
        for (int i = 0; i < dw * 3; i++)
            o[i] = r0[i] * b0 + r1[i] * b1;
    }
}
