/* vis.c - pictures for a person to look at: a frame with the detected boxes, as PNG. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

/* Paints pixel (x, y) green if it is inside the image. */
static void paint(uint8_t *rgb, int w, int h, int x, int y)
{
    if (x < 0 || y < 0 || x >= w || y >= h)
        return;
    uint8_t *p = rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
    p[0] = 0;
    p[1] = 255;
    p[2] = 0;
}

static void draw_box(uint8_t *rgb, int w, int h, const faceau_box *b)
{
    if (!isfinite(b->x) || !isfinite(b->y) || !isfinite(b->width) || !isfinite(b->height))
        return;
    /* clamp to a little beyond the image so the loops stay bounded */
    double x0 = fmax(-4, fmin(w + 4, floor(b->x))), y0 = fmax(-4, fmin(h + 4, floor(b->y)));
    double x1 = fmax(-4, fmin(w + 4, floor(b->x + b->width))), y1 = fmax(-4, fmin(h + 4, floor(b->y + b->height)));
    for (int t = 0; t < 2; t++) {
        for (int x = (int)x0; x <= (int)x1; x++) {
            paint(rgb, w, h, x, (int)y0 + t);
            paint(rgb, w, h, x, (int)y1 - t);
        }
        for (int y = (int)y0; y <= (int)y1; y++) {
            paint(rgb, w, h, (int)x0 + t, y);
            paint(rgb, w, h, (int)x1 - t, y);
        }
    }
}

static faceau_status write_png(const char *path, const uint8_t *rgb, int w, int h, fa_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    faceau_status st = FACEAU_OK;
    if (!png || !info) {
        st = fa_fail(err, FACEAU_ERR_NOMEM, "%s: cannot start the PNG writer", path);
    } else if (setjmp(png_jmpbuf(png))) {
        st = fa_fail(err, FACEAU_ERR_IO, "%s: PNG write failed", path);
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < h; y++)
            png_write_row(png, rgb + (size_t)y * (size_t)w * 3);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(f) != 0 && !st)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: write failed", path);
    if (st)
        remove(path);
    return st;
}

faceau_status fa_png_write_boxes(const char *path, const fa_image *img, const faceau_box *boxes,
                                 int n, fa_err *err)
{
    size_t w = (size_t)img->width, h = (size_t)img->height;
    uint8_t *rgb = fa_malloc(w * h * 3, err, "a picture");
    if (!rgb)
        return FACEAU_ERR_NOMEM;
    for (size_t y = 0; y < h; y++) {
        const uint8_t *src = img->bgr + y * (size_t)img->stride;
        uint8_t *dst = rgb + y * w * 3;
        for (size_t x = 0; x < w; x++) {
            dst[3 * x] = src[3 * x + 2];
            dst[3 * x + 1] = src[3 * x + 1];
            dst[3 * x + 2] = src[3 * x];
        }
    }
    for (int i = 0; i < n; i++)
        draw_box(rgb, img->width, img->height, &boxes[i]);
    faceau_status st = write_png(path, rgb, img->width, img->height, err);
    free(rgb);
    return st;
}
