/* test_mirror.c - the midline and the mirrored frames on hand-derived cases: vertical and
 * diagonal lines, the seam band's weights, edge clamping, sub-pixel sampling, the smoothing
 * window, a mirror-symmetric image giving equal left and right faces, and the AVX2 kernel
 * giving the portable path's bytes on random frames and lines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mirror/mirror_kernels.h"
#include "testutil.h"

enum { W = 10, H = 4 };

/* A frame whose pixel (x, y) holds (x, y, x + 10 y) in its three channels. */
static void make_ramp(fa_image *img, uint8_t *buf, int w, int h)
{
    *img = (fa_image){w, h, 3 * w, buf};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = buf + (size_t)y * 3 * (size_t)w + 3 * (size_t)x;
            p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = (uint8_t)(x + 10 * y);
        }
}

static const uint8_t *px(const fa_image *img, int x, int y)
{
    return img->bgr + (size_t)y * (size_t)img->stride + 3 * (size_t)x;
}

static void test_vertical_line(void)
{
    uint8_t a[W * H * 3], b[W * H * 3];
    fa_image src, dst = {W, H, 3 * W, b};
    make_ramp(&src, a, W, H);
    /* the line x = 4.5, glabella above the chin: the subject's right is the image's left */
    fa_midline m = {4.5, 0, 4.5, 3};
    fa_mirror_frame(&src, &m, FA_MIRROR_RIGHT, 0, &dst);
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int want = x <= 4 ? x : 9 - x; /* 2 * 4.5 - x */
            bad += px(&dst, x, y)[0] != want || px(&dst, x, y)[1] != y;
        }
    CHECK(bad == 0, "right_mirrored about x = 4.5: %d pixels wrong", bad);
    fa_mirror_frame(&src, &m, FA_MIRROR_LEFT, 0, &dst);
    bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            bad += px(&dst, x, y)[0] != (x >= 5 ? x : 9 - x);
    CHECK(bad == 0, "left_mirrored about x = 4.5: %d pixels wrong", bad);

    /* the line x = 7, subject's left kept: x = 0..6 come from 14 - x, clamped to column 9 */
    m = (fa_midline){7, 0, 7, 3};
    fa_mirror_frame(&src, &m, FA_MIRROR_LEFT, 0, &dst);
    static const int want7[W] = {9, 9, 9, 9, 9, 9, 8, 7, 8, 9};
    bad = 0;
    for (int x = 0; x < W; x++)
        bad += px(&dst, x, 2)[0] != want7[x];
    CHECK(bad == 0, "edge clamp: %d pixels wrong (x=0 gives %d)", bad, px(&dst, 0, 2)[0]);

    /* chin above glabella (an upside-down face): the sides swap in the image */
    m = (fa_midline){4.5, 3, 4.5, 0};
    fa_mirror_frame(&src, &m, FA_MIRROR_RIGHT, 0, &dst);
    CHECK(px(&dst, 9, 1)[0] == 9 && px(&dst, 0, 1)[0] == 9, "upside down: x=0 gives %d", px(&dst, 0, 1)[0]);
}

static void test_seam(void)
{
    uint8_t a[W * H * 3], b[W * H * 3];
    fa_image src, dst = {W, H, 3 * W, b};
    make_ramp(&src, a, W, H);
    /* line x = 5, seam 4 px: k = 5 - x inside the kept (image-left) half; alpha = (k + 2) / 4
     * of the pixel itself, the rest of its reflection 10 - x. Channel 2 of row 3 is x + 30. */
    fa_midline m = {5, 0, 5, 3};
    fa_mirror_frame(&src, &m, FA_MIRROR_RIGHT, 4, &dst);
    /* x = 4: alpha 0.75 (192/256) of 34, 0.25 of its reflection 36: (34*192 + 36*64 + 128) >> 8
     * = 35 (34.5 rounds up); x = 5: on the line, 35; x = 6: alpha 0.25 of 36, 0.75 of 34: 35;
     * x = 3: alpha 1 -> 33; x = 7: alpha 0 -> its reflection 3 + 30 = 33 */
    static const int want[W] = {30, 31, 32, 33, 35, 35, 35, 33, 32, 31};
    int bad = 0;
    for (int x = 0; x < W; x++)
        bad += px(&dst, x, 3)[2] != want[x];
    CHECK(bad == 0, "seam blend: %d pixels wrong (x=4: %d, x=6: %d)", bad, px(&dst, 4, 3)[2], px(&dst, 6, 3)[2]);
}

static void test_diagonal_and_subpixel(void)
{
    enum { N = 8 };
    uint8_t a[N * N * 3], b[N * N * 3];
    fa_image src, dst = {N, N, 3 * N, b};
    make_ramp(&src, a, N, N);
    /* the line y = x (glabella (0,0), chin (7,7)): the reflection swaps x and y. n = (-1, 1)/sqrt2,
     * s > 0 where y > x: right_mirrored keeps y > x and writes (x, y) = src(y, x) below it */
    fa_midline m = {0, 0, 7, 7};
    fa_mirror_frame(&src, &m, FA_MIRROR_RIGHT, 0, &dst);
    int bad = 0;
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            const uint8_t *p = px(&dst, x, y);
            int wx = y >= x ? x : y, wy = y >= x ? y : x;
            bad += p[0] != wx || p[1] != wy;
        }
    CHECK(bad == 0, "diagonal reflection: %d pixels wrong", bad);

    /* x = 4.25: pixel 6 reflects to 2.5 -> half of columns 2 and 3: (2*16*32 + 3*16*32 + 512)
     * >> 10 = 3 (2.5 rounds up); pixel 5 reflects to 3.5 -> 4; pixel 7 to 1.5 -> 2 */
    m = (fa_midline){4.25, 0, 4.25, 7};
    fa_mirror_frame(&src, &m, FA_MIRROR_RIGHT, 0, &dst);
    CHECK(px(&dst, 6, 0)[0] == 3 && px(&dst, 5, 0)[0] == 4 && px(&dst, 4, 0)[0] == 4 && px(&dst, 7, 0)[0] == 2,
          "sub-pixel: %d %d %d %d", px(&dst, 4, 0)[0], px(&dst, 5, 0)[0], px(&dst, 6, 0)[0], px(&dst, 7, 0)[0]);
    /* channel 2 = x + 10 y: pixel 6 of row 1 -> 2.5 + 10 = 12.5 -> 13 */
    CHECK(px(&dst, 6, 1)[2] == 13, "sub-pixel channel 2: %d", px(&dst, 6, 1)[2]);
}

static void test_symmetric_image(void)
{
    enum { SW = 41, SH = 9 };
    uint8_t a[SW * SH * 3], l[SW * SH * 3], r[SW * SH * 3];
    fa_image src = {SW, SH, 3 * SW, a}, dl = {SW, SH, 3 * SW, l}, dr = {SW, SH, 3 * SW, r};
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++)
            for (int c = 0; c < 3; c++) {
                int d = x < 20 ? 20 - x : x - 20; /* symmetric about x = 20 */
                a[(y * SW + x) * 3 + c] = (uint8_t)(7 * d + 13 * y + 50 * c);
            }
    fa_midline m = {20, 0, 20, 8};
    fa_mirror_frame(&src, &m, FA_MIRROR_LEFT, 6, &dl);
    fa_mirror_frame(&src, &m, FA_MIRROR_RIGHT, 6, &dr);
    CHECK(memcmp(l, r, sizeof l) == 0 && memcmp(l, a, sizeof a) == 0, "a symmetric face mirrors to itself");
}

static void test_midline(void)
{
    float lm[136] = {0};
    lm[21] = 10, lm[22] = 14, lm[68 + 21] = 20, lm[68 + 22] = 22, lm[8] = 13, lm[68 + 8] = 60;
    fa_midline m;
    CHECK(fa_midline_from_landmarks(lm, &m) && m.gx == 12 && m.gy == 21 && m.cx == 13 && m.cy == 60,
          "midline (%g,%g)-(%g,%g)", m.gx, m.gy, m.cx, m.cy);
    lm[8] = 12, lm[68 + 8] = 21.5f;
    CHECK(!fa_midline_from_landmarks(lm, &m), "glabella and chin 0.5 px apart: degenerate");

    fa_midline w[FA_MIRROR_WINDOW] = {{0, 0, 0, 10}, {2, 0, 2, 10}, {4, 1, 4, 11}, {100, 0, 100, 0}, {6, 2, 6, 12}};
    int valid[FA_MIRROR_WINDOW] = {1, 1, 1, 0, 1};
    fa_midline s;
    CHECK(fa_midline_smooth(w, valid, FA_MIRROR_WINDOW, &s) && s.gx == 3 && s.gy == 0.75 && s.cy == 10.75,
          "smoothed (%g,%g)-(%g,%g)", s.gx, s.gy, s.cx, s.cy);
    CHECK(fa_midline_smooth(w, valid, 2, &s) && s.gx == 1, "a shorter window at the start: %g", s.gx);
    int none[FA_MIRROR_WINDOW] = {0};
    CHECK(!fa_midline_smooth(w, none, FA_MIRROR_WINDOW, &s), "no valid frame");
}

static uint32_t rng = 12345;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static double uniform(double a, double b)
{
    return a + (b - a) * (next() / 16777216.0);
}

/* One random frame (padded rows, the last row unpadded so the buffer ends at its last pixel)
 * mirrored with the portable path and with the AVX2 kernel: the same bytes, and nothing
 * written past a row's last pixel. */
static int scalar_vs_avx2(int w, int h, const fa_midline *m, enum fa_mirror_side side, double seam)
{
    const int stride = 3 * w + (int)(next() % 3) * 5;
    const size_t bytes = (size_t)stride * (size_t)(h - 1) + 3 * (size_t)w;
    uint8_t *a = malloc(bytes), *d0 = malloc(bytes), *d1 = malloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        a[i] = (uint8_t)next();
    memset(d0, 0x5a, bytes);
    memset(d1, 0x5a, bytes);
    fa_image src = {w, h, stride, a}, o0 = {w, h, stride, d0}, o1 = {w, h, stride, d1};
    fa_mirror_frame_cpu(&src, m, side, seam, &o0, 0);
    fa_mirror_frame_cpu(&src, m, side, seam, &o1, FA_CPU_AVX2);
    int same = memcmp(d0, d1, bytes) == 0;
    for (int y = 0; y < h - 1 && same; y++) /* the padding untouched */
        for (int x = 3 * w; x < stride; x++)
            same &= d1[(size_t)y * (size_t)stride + (size_t)x] == 0x5a;
    free(a), free(d0), free(d1);
    return same;
}

static void test_avx2_kernel(void)
{
    if (!(fa_cpu_features() & FA_CPU_AVX2)) {
        printf("note: no AVX2 here (or FACEAU_NO_AVX2): the kernel comparison is skipped\n");
        return;
    }
    int bad = 0, n = 0;
    for (int t = 0; t < 3000; t++) {
        const int w = 1 + (int)(next() % (t < 2000 ? 70 : 300)), h = 1 + (int)(next() % 40);
        /* glabella anywhere near the frame (sometimes far off it), any direction */
        const double far = t % 50 == 0 ? 3e6 : t % 7 == 0 ? 1e4 : 1.5 * (w > h ? w : h);
        const double gx = uniform(-far, w + far), gy = uniform(-far, h + far);
        /* a fifth near vertical (a face's midline: the kernel's windowed loads), a fifth near
         * horizontal, the rest any direction */
        const double a = t % 5 == 0   ? 1.5707963267948966 + uniform(-0.05, 0.05)
                         : t % 5 == 1 ? uniform(-0.05, 0.05)
                                      : uniform(0, 6.283185307179586);
        const double len = uniform(1, 3 * h + 10);
        const fa_midline m = {gx, gy, gx + len * cos(a), gy + len * sin(a)};
        static const double seams[] = {0, 0.5, 3, 6, 17.3};
        const double seam = seams[next() % 5];
        bad += !scalar_vs_avx2(w, h, &m, t & 1 ? FA_MIRROR_LEFT : FA_MIRROR_RIGHT, seam);
        n++;
    }
    /* a portrait frame with a face's slightly tilted midline, both sides */
    const fa_midline face = {530.3, 700.7, 548.9, 1150.2};
    bad += !scalar_vs_avx2(1080, 1920, &face, FA_MIRROR_LEFT, 6);
    bad += !scalar_vs_avx2(1080, 1920, &face, FA_MIRROR_RIGHT, 6);
    CHECK(bad == 0, "AVX2 and portable mirrored frames differ in %d of %d cases", bad, n + 2);
}

/* The lazily made frame (fa_mirror_lazy) against the whole one: random frames, midlines
 * (sometimes none: black), seams and rectangles (at and past the edges, empty, NaN bounds
 * through fa_pixel_need), with the portable and the AVX2 kernels. Every asked pixel is made and
 * equals the whole frame's (BGR and grey), nothing outside the made tiles is written, and once
 * the whole frame is asked for both images equal fa_mirror_frame's and fa_grey_from_bgr's. */
static void test_lazy(void)
{
    fa_err err;
    fa_mirror_lazy z;
    CHECK(fa_mirror_lazy_init(&z, &err) == FACEAU_OK, "fa_mirror_lazy_init");
    fa_grey full_grey = {0}, grey = {0};
    int bad = 0, cases = 0;
    for (int t = 0; t < 600; t++) {
        const unsigned cpu = t & 1 ? fa_cpu_features() : 0;
        const int w = 1 + (int)(next() % (t < 300 ? 150 : 400)), h = 1 + (int)(next() % 200);
        const int stride = 3 * w + (int)(next() % 3) * 4;
        const size_t bytes = (size_t)stride * (size_t)h;
        uint8_t *a = malloc(bytes), *full = malloc(bytes), *lazy = malloc(bytes);
        for (size_t i = 0; i < bytes; i++)
            a[i] = (uint8_t)next();
        memset(full, 0x5a, bytes);
        memset(lazy, 0x5a, bytes);
        fa_image src = {w, h, stride, a}, of = {w, h, stride, full}, ol = {w, h, stride, lazy};
        const double gx = uniform(-w, 2 * w), gy = uniform(-h, h), ang = uniform(0, 6.283185307179586);
        const double len = uniform(1, 2 * h + 5);
        const fa_midline m = {gx, gy, gx + len * cos(ang), gy + len * sin(ang)};
        const int black = t % 11 == 0;
        const double seam = (double)(next() % 4) * 3.5;
        const enum fa_mirror_side side = t & 2 ? FA_MIRROR_LEFT : FA_MIRROR_RIGHT;
        if (black)
            memset(full, 0, bytes);
        else
            fa_mirror_frame_cpu(&src, &m, side, seam, &of, cpu);
        fa_grey_from_bgr(&of, &full_grey, &err);
        fa_grey_resize(&grey, w, h, &err);
        memset(grey.px, 0xa5, (size_t)w * (size_t)h);
        fa_mirror_lazy_begin(&z, &src, black ? NULL : &m, side, seam, &ol, &grey, cpu, &err);
        CHECK(grey.source == &z.tiles.source, "the grey points at its maker");
        for (int r = 0; r < 6; r++) {
            int x0 = (int)(next() % (unsigned)(w + 40)) - 20, y0 = (int)(next() % (unsigned)(h + 40)) - 20;
            int x1 = x0 + (int)(next() % 90), y1 = y0 + (int)(next() % 90);
            if (r == 5)
                fa_grey_need(&grey, NAN, y0, x1, y1); /* NaN: from the left edge */
            else
                fa_grey_need(&grey, x0, y0, x1, y1);
            if (r == 5)
                x0 = 0;
            /* every asked pixel made */
            for (int y = y0 < 0 ? 0 : y0; y < (y1 < h ? y1 : h); y++)
                for (int x = x0 < 0 ? 0 : x0; x < (x1 < w ? x1 : w); x++) {
                    const size_t o = (size_t)y * (size_t)stride + 3 * (size_t)x;
                    bad += memcmp(lazy + o, full + o, 3) != 0 ||
                           grey.px[(size_t)y * (size_t)w + (size_t)x] != full_grey.px[(size_t)y * (size_t)w + (size_t)x];
                }
        }
        /* made tiles equal the whole frame's; the others untouched */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const int made = z.tiles.done[(y / FA_TILE_H) * z.tiles.tw + x / FA_TILE_W];
                const size_t o = (size_t)y * (size_t)stride + 3 * (size_t)x, g = (size_t)y * (size_t)w + (size_t)x;
                if (made)
                    bad += memcmp(lazy + o, full + o, 3) != 0 || grey.px[g] != full_grey.px[g];
                else
                    bad += lazy[o] != 0x5a || lazy[o + 1] != 0x5a || lazy[o + 2] != 0x5a || grey.px[g] != 0xa5;
            }
        fa_mirror_lazy_need(&z, -5, -5, w + 5, h + 5);
        for (int y = 0; y < h; y++) {
            const size_t o = (size_t)y * (size_t)stride;
            bad += memcmp(lazy + o, full + o, 3 * (size_t)w) != 0 ||
                   memcmp(grey.px + (size_t)y * (size_t)w, full_grey.px + (size_t)y * (size_t)w, (size_t)w) != 0;
            for (int x = 3 * w; x < stride; x++) /* row padding never written */
                bad += lazy[o + (size_t)x] != 0x5a;
        }
        cases++;
        free(a), free(full), free(lazy);
    }
    CHECK(bad == 0, "lazily made mirrored frames differ from the whole frame in %d pixels (%d cases)", bad, cases);
    grey.source = NULL;
    fa_grey_free(&grey);
    fa_grey_free(&full_grey);
    fa_mirror_lazy_free(&z);
}

int main(void)
{
    test_lazy();
    test_avx2_kernel();
    test_vertical_line();
    test_seam();
    test_diagonal_and_subpixel();
    test_symmetric_image();
    test_midline();
    return tu_done();
}
