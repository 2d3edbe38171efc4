/* test_warp.c - BGR2GRAY, the float warpAffine (WARP_INVERSE_MAP) and remap, on hand-derived
 * cases: the grey formula on chosen pixels, integer shifts, half and quantised fractional
 * shifts, rotations, and the constant-0 border. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/warp.h"
#include "cv/warp_grey_kernels.h"
#include "testutil.h"

#define W 7
#define H 5

/* src(x, y) = 10*y + x + 1: every value distinct, bytes (exact in float). */
static void make_src(fa_grey *g)
{
    fa_err e;
    if (fa_grey_resize(g, W, H, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(2);
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            g->px[y * g->stride + x] = (uint8_t)(10 * y + x + 1);
}

static float at(int x, int y)
{
    return (x < 0 || y < 0 || x >= W || y >= H) ? 0.f : (float)(10 * y + x + 1);
}

static void test_grey(void)
{
    /* (B, G, R) -> (3735 B + 19235 G + 9798 R + 16384) >> 15, worked by hand. The last two
     * pixels are from frame 1 of 1878_01_002_vladimir_putin.avi, where OpenCV 4.6's
     * cv::cvtColor(BGR2GRAY) gives 205 and 157 (the 14-bit coefficients 1868/9617/4899 would
     * give 3358709>>14 = 204 and 2572269>>14 = 156). */
    static const uint8_t px[][3] = {{255, 255, 255}, {0, 0, 255}, {255, 0, 0}, {0, 255, 0},
                                    {10, 20, 30},    {0, 0, 0},   {1, 1, 1},   {100, 50, 200},
                                    {157, 188, 255}, {102, 149, 192}};
    /* 255; 2514874>>15 = 76; 968809>>15 = 29; 4921309>>15 = 150; 732374>>15 = 22; 0;
     * 49152>>15 = 1; (373500+961750+1959600+16384)>>15 = 3311234>>15 = 101;
     * (586395+3616180+2498490+16384)>>15 = 6717449>>15 = 205 (205*32768 = 6717440);
     * (380970+2866015+1881216+16384)>>15 = 5144585>>15 = 157 (157*32768 = 5144576) */
    static const uint8_t want[] = {255, 76, 29, 150, 22, 0, 1, 101, 205, 157};
    const int n = (int)(sizeof want / sizeof want[0]);
    fa_image img;
    fa_err e;
    if (fa_image_alloc(&img, n, 2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(2);
    }
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < n; x++)
            memcpy(img.bgr + y * img.stride + 3 * x, px[x], 3);
    fa_grey g = {0};
    CHECK(fa_grey_from_bgr(&img, &g, &e) == FACEAU_OK, "grey: %s", e.msg);
    CHECK(g.width == n && g.height == 2 && g.stride == n, "grey size %dx%d", g.width, g.height);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < n; x++)
            CHECK(g.px[y * g.stride + x] == want[x], "grey(%d,%d) = %d, want %d", x, y,
                  g.px[y * g.stride + x], want[x]);
    /* reuse: a smaller image keeps the buffer */
    uint8_t *before = g.px;
    img.width = 3;
    CHECK(fa_grey_from_bgr(&img, &g, &e) == FACEAU_OK && g.px == before && g.width == 3,
          "grey resize down reallocated");
    img.width = 0;
    CHECK(fa_grey_from_bgr(&img, &g, &e) == FACEAU_ERR_INVALID_ARG, "bad geometry accepted");
    fa_grey_free(&g);
    fa_image_free(&img);
}

static void warp(const fa_grey *src, double m0, double m1, double m2, double m3, double m4,
                 double m5, int dw, int dh, float *out)
{
    const double M[6] = {m0, m1, m2, m3, m4, m5};
    fa_warp_affine_grey(src, M, dw, dh, out, dw);
}

static void test_warp_affine(const fa_grey *src)
{
    float out[(W + 4) * (H + 4)];

    /* identity and an integer shift: dst(x, y) = src(x + 2, y + 1), 0 beyond the image */
    warp(src, 1, 0, 0, 0, 1, 0, W, H, out);
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            bad += out[y * W + x] != at(x, y);
    CHECK(bad == 0, "identity: %d pixels differ", bad);
    warp(src, 1, 0, 2, 0, 1, 1, W, H, out);
    bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            /* the last in-image column/row blends with the 0 border at fraction 0: weight 1 on
             * the inside sample, 0 on the outside one */
            float want = at(x + 2, y + 1);
            bad += out[y * W + x] != want;
        }
    CHECK(bad == 0, "shift (2,1): %d pixels differ", bad);

    /* half-pixel shift in x: 0.5*a + 0.5*b, b = 0 past the right edge; x = -0.5 on the left */
    warp(src, 1, 0, 0.5, 0, 1, 0, W, H, out);
    CHECK(out[0] == 1.5f, "half shift (0,0) = %g, want 1.5", out[0]);
    CHECK(out[2 * W + 3] == 24.5f, "half shift (3,2) = %g, want 24.5", out[2 * W + 3]);
    CHECK(out[W - 1] == 3.5f, "half shift right edge = %g, want 0.5*7 = 3.5", out[W - 1]);
    warp(src, 1, 0, -0.5, 0, 1, -0.5, 3, 3, out);
    /* (0,0) samples (-0.5,-0.5): only src(0,0) = 1 inside, weight 1/4 */
    CHECK(out[0] == 0.25f, "corner (-0.5,-0.5) = %g, want 0.25", out[0]);
    /* (1,1) samples (0.5, 0.5): (1 + 2 + 11 + 12)/4 = 6.5 */
    CHECK(out[4] == 6.5f, "(0.5,0.5) = %g, want 6.5", out[4]);
    /* (1,0) samples (0.5,-0.5): (1 + 2)/4 */
    CHECK(out[1] == 0.75f, "(0.5,-0.5) = %g, want 0.75", out[1]);

    /* a fraction that OpenCV quantises: 0.3 px -> round(0.3*1024) + 16 = 323 -> 323 >> 5 = 10,
     * so weights 22/32 and 10/32: 1*0.6875 + 2*0.3125 = 1.3125 (not 1.3) */
    warp(src, 1, 0, 0.3, 0, 1, 0, 2, 1, out);
    CHECK(out[0] == 1.3125f, "0.3 shift = %.9g, want 1.3125", out[0]);
    /* 0.49 px -> 502 + 16 = 518 >> 5 = 16: exactly half */
    warp(src, 1, 0, 0.49, 0, 1, 0, 1, 1, out);
    CHECK(out[0] == 1.5f, "0.49 shift = %.9g, want 1.5", out[0]);
    /* y fraction 0.25: 1*0.75 + 11*0.25 = 3.5 */
    warp(src, 1, 0, 0, 0, 1, 0.25, 1, 1, out);
    CHECK(out[0] == 3.5f, "0.25 y shift = %g, want 3.5", out[0]);

    /* 90-degree rotation: dst(x, y) = src(y, W-1-x) as x' = y, y' = ... ; M maps dst to src:
     * sx = y, sy = (H-1) - x on an H x W output */
    warp(src, 0, 1, 0, -1, 0, H - 1, H, W, out);
    bad = 0;
    for (int y = 0; y < W; y++)
        for (int x = 0; x < H; x++)
            bad += out[y * H + x] != at(y, H - 1 - x);
    CHECK(bad == 0, "rotation: %d pixels differ", bad);

    /* scale 2 (a zoom out): dst(x, y) = src(2x, 2y) */
    warp(src, 2, 0, 0, 0, 2, 0, 4, 3, out);
    bad = 0;
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++)
            bad += out[y * 4 + x] != at(2 * x, 2 * y);
    CHECK(bad == 0, "scale 2: %d pixels differ", bad);

    /* entirely outside, and a huge offset (positions saturate to short): all 0 */
    warp(src, 1, 0, -100, 0, 1, 0, W, H, out);
    bad = 0;
    for (int k = 0; k < W * H; k++)
        bad += out[k] != 0.f;
    CHECK(bad == 0, "outside: %d non-zero", bad);
    warp(src, 1, 0, 1e7, 0, 1, -1e7, 2, 2, out);
    CHECK(out[0] == 0.f && out[3] == 0.f, "far outside non-zero");
}

static void test_remap(const fa_grey *src)
{
    /* one row of sample positions, each with its hand-derived value */
    static const float mx[] = {0, 2.5f, -0.5f, 6.5f, 1.f / 64, 3.f / 64, 0.25f, -1.f, 7.f, 3.f};
    static const float my[] = {0, 1, 0, 4, 0, 0, 0.5f, 0, 0, 4.5f};
    static const float want[] = {
        1,                 /* (0,0) */
        13.5f,             /* (2.5,1): (13 + 14)/2 */
        0.5f,              /* (-0.5,0): 0*0.5 + 1*0.5 */
        23.5f,             /* (6.5,4): src(6,4) = 47, right neighbour 0 -> 23.5 */
        1,                 /* 1/64*32 = 0.5 rounds to even 0: fraction 0 */
        1 + 2.f / 32,      /* 3/64*32 = 1.5 rounds to 2: 1*30/32 + 2*2/32 */
        6.25f,             /* (0.25, 0.5): 0.375*1 + 0.125*2 + 0.375*11 + 0.125*12 = 6.25 */
        0,                 /* (-1, 0): sx + 1 = 0 is inside, weight 0 -> 0 */
        0,                 /* (7, 0): sx = W -> border */
        22,                /* (3, 4.5): 44*0.5 + 0*0.5 */
    };
    const int n = (int)(sizeof want / sizeof want[0]);
    float out[16], out2[32];
    fa_remap_grey(src, mx, my, n, n, 1, out, n);
    for (int k = 0; k < n; k++)
        CHECK(out[k] == want[k], "remap #%d at (%g,%g) = %.9g, want %.9g", k, mx[k], my[k], out[k],
              want[k]);

    /* NaN and huge map values: cvRound gives INT_MIN, far outside: 0 */
    const float odd_x[3] = {NAN, 1e20f, -1e20f}, odd_y[3] = {0, 0, 0};
    float odd[3] = {7, 7, 7};
    fa_remap_grey(src, odd_x, odd_y, 3, 3, 1, odd, 3);
    CHECK(odd[0] == 0 && odd[1] == 0 && odd[2] == 0, "NaN/huge remap: %g %g %g", odd[0], odd[1],
          odd[2]);

    /* two rows with strides: rows are independent; row 1 is row 0 moved down 1 px */
    float mx2[2 * 16], my2[2 * 16];
    for (int k = 0; k < n; k++) {
        mx2[k] = mx2[16 + k] = mx[k];
        my2[k] = my[k];
        my2[16 + k] = my[k] + 1;
    }
    fa_remap_grey(src, mx2, my2, 16, n, 2, out2, 16);
    for (int k = 0; k < n; k++)
        CHECK(out2[k] == want[k], "remap row 0 #%d", k);
    CHECK(out2[16 + 0] == 11 && out2[16 + 1] == 23.5f && out2[16 + 3] == 0.f,
          "remap row 1: %g %g %g", out2[16], out2[17], out2[19]);

    /* remap and warpAffine agree where the affine positions are exact multiples of 1/32 */
    float a[W * H], b[W * H], gx[W * H], gy[W * H];
    const double M[6] = {0.75, 0.25, -0.5, -0.125, 1.0, 0.375};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            gx[y * W + x] = (float)(M[0] * x + M[1] * y + M[2]);
            gy[y * W + x] = (float)(M[3] * x + M[4] * y + M[5]);
        }
    fa_warp_affine_grey(src, M, W, H, a, W);
    fa_remap_grey(src, gx, gy, W, W, H, b, W);
    CHECK(memcmp(a, b, sizeof a) == 0, "remap and warpAffine differ on a 1/32-exact affine map");
}

/* The AVX2 warpAffine against the portable one, bit for bit: random similarity and shear
 * matrices over a random 8-bit frame, areas inside, across the border and outside, widths below,
 * at and above 8 and past the 64-column block, and rows whose fixed-point positions leave 32 bits
 * (the one-pixel path). */
static void test_warp_simd(void)
{
#if FA_BUILD_AVX2
    if (!(fa_cpu_features() & FA_CPU_AVX2))
        return;
    fa_grey src = {0};
    fa_err e;
    CHECK(fa_grey_resize(&src, 61, 47, &e) == FACEAU_OK, "resize: %s", e.msg);
    uint32_t rng = 99;
#define RND() (rng = rng * 1664525u + 1013904223u, (double)(rng >> 8) / 16777216.0)
    for (int i = 0; i < 61 * 47; i++)
        src.px[i] = (uint8_t)(int)(RND() * 256);
    static const int widths[] = {1, 5, 7, 8, 9, 13, 19, 21, 64, 70};
    float a[70 * 9], b[70 * 9];
    for (int t = 0; t < 400; t++) {
        const int dw = widths[t % 10], dh = 1 + t % 9;
        const double ang = RND() * 6.2832, sc = 0.5 + RND() * 1.5;
        double M[6] = {sc * cos(ang), -sc * sin(ang), RND() * 90 - 20,
                       sc * sin(ang) + (t % 7 == 0 ? 0.3 : 0), sc * cos(ang), RND() * 70 - 15};
        if (t % 50 == 7)
            M[2] = 3.5e6; /* positions beyond 2^31 / 1024: the 64-bit path */
        if (t % 50 == 8)
            M[5] = -2.2e6;
        fa_warp_affine_grey_cpu(&src, M, dw, dh, a, dw, 0);
        fa_warp_affine_grey_cpu(&src, M, dw, dh, b, dw, FA_CPU_AVX2);
        CHECK(memcmp(a, b, (size_t)dw * (size_t)dh * sizeof *a) == 0,
              "warp %d (%dx%d): AVX2 differs from portable", t, dw, dh);
    }
#undef RND
    fa_grey_free(&src);
#endif
}

/* The AVX2 grey conversion against the portable row, bit for bit: rows of 1..40 pixels (the
 * vector loop, its tail, rows too short for it), every byte value in the channels, each row
 * in a buffer ending at its last byte (a read past it would show under a sanitizer). */
static void test_grey_simd(void)
{
#if FA_BUILD_AVX2
    if (!(fa_cpu_features() & FA_CPU_AVX2))
        return;
    uint32_t rng = 5;
    for (int n = 1; n <= 40; n++) {
        uint8_t *row = malloc(3 * (size_t)n);
        uint8_t a[40], b[40];
        CHECK(row != NULL, "grey test: out of memory");
        if (!row)
            return;
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < 3 * n; i++) {
                rng = rng * 1664525u + 1013904223u;
                row[i] = (uint8_t)(rep == 0 ? 255 : rep == 1 ? 0 : rng >> 24);
            }
            fa_grey_row(row, n, a);
            fa_grey_row_avx2(row, n, b);
            CHECK(memcmp(a, b, (size_t)n * sizeof *a) == 0, "grey row of %d: AVX2 differs", n);
        }
        free(row);
    }
    /* 255, 255, 255 is 255 and (1, 1, 1) is (32768 + 16384) >> 15 = 1; (157, 188, 255) is 205
     * (OpenCV's value, see test_grey) */
    const uint8_t w9[27] = {255, 255, 255, 1, 1, 1, 0, 0, 255, 255, 0, 0, 0, 255, 0,
                            10, 20, 30, 157, 188, 255, 255, 255, 255, 255, 255, 255};
    uint8_t g9[9];
    fa_grey_row_avx2(w9, 9, g9);
    CHECK(g9[0] == 255 && g9[1] == 1 && g9[2] == ((255 * 9798 + 16384) >> 15) &&
              g9[3] == ((255 * 3735 + 16384) >> 15) &&
              g9[5] == ((10 * 3735 + 20 * 19235 + 30 * 9798 + 16384) >> 15) &&
              g9[6] == 205,
          "grey hand pixels %d %d %d %d %d %d", g9[0], g9[1], g9[2], g9[3], g9[5], g9[6]);
#endif
}

/* The grey made where asked (fa_grey_lazy): random frames and requests; every asked pixel is
 * fa_grey_from_bgr's, tiles nobody asked for keep their junk, a repeated request makes nothing
 * again, and fa_grey_from_bgr makes a whole grey that no longer asks its source. */
static void test_grey_lazy(void)
{
    fa_err e;
    fa_grey_lazy z;
    CHECK(fa_grey_lazy_init(&z, &e) == FACEAU_OK, "fa_grey_lazy_init: %s", e.msg);
    fa_grey whole = {0}, g = {0};
    uint32_t rng = 11;
    for (int rep = 0; rep < 60; rep++) {
        rng = rng * 1664525u + 1013904223u;
        const int w = 1 + (int)(rng >> 24) % 300;
        rng = rng * 1664525u + 1013904223u;
        const int h = 1 + (int)(rng >> 24) % 200;
        fa_image img;
        if (fa_image_alloc(&img, w, h, &e)) {
            CHECK(0, "image: %s", e.msg);
            break;
        }
        for (int i = 0; i < img.stride * h; i++) {
            rng = rng * 1664525u + 1013904223u;
            img.bgr[i] = (uint8_t)(rng >> 24);
        }
        CHECK(fa_grey_from_bgr(&img, &whole, &e) == FACEAU_OK && !whole.source, "whole grey");
        CHECK(fa_grey_lazy_begin(&z, &img, &g, fa_cpu_features(), &e) == FACEAU_OK &&
                  g.source == &z.tiles.source && g.width == w && g.height == h,
              "lazy begin %dx%d", w, h);
        memset(g.px, 0x5a, (size_t)g.stride * (size_t)h);
        uint8_t *asked = calloc((size_t)w * (size_t)h, 1);
        CHECK(asked != NULL, "out of memory");
        if (!asked) {
            fa_image_free(&img);
            break;
        }
        for (int q = 0; q < 4; q++) {
            double r[4];
            for (int k = 0; k < 4; k++) {
                rng = rng * 1664525u + 1013904223u;
                r[k] = (double)(rng >> 8) / (double)(1u << 24) * (k % 2 ? h + 20 : w + 20) - 10;
            }
            const double x0 = fmin(r[0], r[2]), x1 = fmax(r[0], r[2]);
            const double y0 = fmin(r[1], r[3]), y1 = fmax(r[1], r[3]);
            fa_grey_need(&g, x0, y0, x1, y1);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (x + 1 > x0 && x < x1 && y + 1 > y0 && y < y1)
                        asked[y * w + x] = 1;
        }
        int bad = 0, junk_kept = 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint8_t v = g.px[y * g.stride + x], want = whole.px[y * whole.stride + x];
                const int made = z.tiles.done[(y / FA_TILE_H) * z.tiles.tw + x / FA_TILE_W];
                bad += (asked[y * w + x] || made) && v != want;
                bad += asked[y * w + x] && !made;
                junk_kept &= made || v == 0x5a;
            }
        CHECK(bad == 0, "lazy grey %dx%d: %d pixels wrong or asked but not made", w, h, bad);
        CHECK(junk_kept, "lazy grey %dx%d: a tile nobody asked for was written", w, h);
        free(asked);
        fa_image_free(&img);
    }
    /* the whole grey after a lazy one: made whole, asking nothing */
    fa_image one;
    if (!fa_image_alloc(&one, 5, 3, &e)) {
        memset(one.bgr, 200, (size_t)one.stride * 3);
        CHECK(fa_grey_lazy_begin(&z, &one, &g, fa_cpu_features(), &e) == FACEAU_OK, "begin");
        CHECK(fa_grey_from_bgr(&one, &g, &e) == FACEAU_OK && !g.source && g.px[14] == 200,
              "fa_grey_from_bgr after a lazy grey: source %p, pixel %d", (const void *)g.source,
              g.px[14]);
        fa_image_free(&one);
    }
    fa_grey_free(&whole);
    fa_grey_free(&g);
    fa_grey_lazy_free(&z);
}

int main(void)
{
    test_grey();
    test_grey_simd();
    test_grey_lazy();
    fa_grey src = {0};
    make_src(&src);
    test_warp_affine(&src);
    test_remap(&src);
    test_warp_simd();
    fa_grey_free(&src);
    return tu_done();
}
