/* test_detect.c - MTCNN: OpenFace's own boxes for every reference item, each sub-step on
 * hand-derived cases, and bad models and frames. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol))

/* ---- hand-derived sub-steps ---------------------------------------------------------------- */

static void test_conv(int avx2)
{
    fa_err err;
    fa_conv c;
    /* 3x3 input 1..9, 2x2 kernel [[1,2],[0,-1]], bias -3, PReLU 0.25:
     * (0,0) 1+4-5-3 = -3 -> -0.75; (0,1) 2+6-6-3 = -1 -> -0.25; (1,0) 4+10-8-3 = 3; (1,1) 5. */
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, k[4] = {1, 2, 0, -1}, b = -3, s = 0.25f, out[4];
    CHECK(fa_conv_init(&c, FA_CONV, 1, 1, 2, 2, k, &b, &s, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, in, 3, 3, 3, out);
    CHECK(out[0] == -0.75f && out[1] == -0.25f && out[2] == 3 && out[3] == 5,
          "avx2 %d: conv+PReLU %g %g %g %g", avx2, out[0], out[1], out[2], out[3]);
    fa_conv_free(&c);

    /* Kernels in file order (input-major): 2 inputs x 2 outputs, 1x1; pixel (1, 2). */
    float in2[2] = {1, 2}, k2[4] = {1, 10, 100, 1000}, b2[2] = {0, 0.5f}, out2[2];
    CHECK(fa_conv_init(&c, FA_CONV, 2, 2, 1, 1, k2, b2, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, in2, 1, 1, 1, out2);
    CHECK(out2[0] == 201 && out2[1] == 2010.5f, "avx2 %d: channel order %g %g", avx2, out2[0], out2[1]);
    fa_conv_free(&c);

    /* 17 outputs (crosses a 16-channel block) over 7 pixels (crosses a 6-pixel tile):
     * out[p][k] = in[p] * k - 1, negative ones scaled by 0.5. */
    float in3[7], k3[17], b3[17], s3[17], out3[7 * 17];
    for (int i = 0; i < 17; i++)
        k3[i] = (float)i, b3[i] = -1, s3[i] = 0.5f;
    for (int p = 0; p < 7; p++)
        in3[p] = (float)p;
    CHECK(fa_conv_init(&c, FA_CONV, 1, 17, 1, 1, k3, b3, s3, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, in3, 1, 7, 1, out3);
    int bad = 0;
    for (int p = 0; p < 7; p++)
        for (int i = 0; i < 17; i++) {
            float v = (float)(p * i - 1);
            bad += out3[p * 17 + i] != (v < 0 ? v * 0.5f : v);
        }
    CHECK(bad == 0, "avx2 %d: %d of 119 values wrong in the 7x17 case", avx2, bad);
    fa_conv_free(&c);
}

/* OpenFace's summation orders (nn.h), each on a case where another order gives other bits.
 * e = 2^-24: 1 + e rounds to 1 (a tie, to even), e + e = 2^-23 is exact. */
static void test_conv_order(int avx2)
{
    fa_err err;
    fa_conv c;
    const float e = 0x1p-24f;
    /* FA_CONV: terms go input map, kernel column, kernel row. A 2x1 kernel on a 2x1 map with 2
     * channels, weights 1: OpenFace sums (m0,y0) e, (m0,y1) e, (m1,y0) 1, (m1,y1) 0 = 1 + 2e;
     * rows outer (y0: e, 1; y1: e, 0) would give 1. */
    float in[4] = {e, 1, e, 0}, k[4] = {1, 1, 1, 1}, b = 0, out[1];
    CHECK(fa_conv_init(&c, FA_CONV, 2, 1, 2, 1, k, &b, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, in, 2, 1, 2, out);
    CHECK(out[0] == 1 + 2 * e, "avx2 %d: conv term order %a", avx2, out[0]);
    fa_conv_free(&c);

    /* OpenBLAS's K blocks: 576 maps, 1x1, 16 outputs, weight 1 on map 0, e on maps 288 and 289,
     * inputs 1. K = 577 > 448 terms splits into 288 + 289 when M*N*K > 100^3 (128 pixels):
     * (e + e) + 1 = 1 + 2e; one chain (1 pixel, the small kernel) gives 1. */
    enum { CIN = 576, COUT = 16, NPX = 128 };
    static float kb[CIN * COUT], bb[COUT], inb[NPX * CIN], outb[NPX * COUT];
    for (int m = 0; m < CIN; m++)
        for (int n = 0; n < COUT; n++)
            kb[m * COUT + n] = m == 0 ? 1 : (m == 288 || m == 289) ? e : 0;
    for (int i = 0; i < NPX * CIN; i++)
        inb[i] = 1;
    CHECK(fa_conv_init(&c, FA_CONV, CIN, COUT, 1, 1, kb, bb, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, inb, 1, NPX, 1, outb);
    int bad = 0;
    for (int i = 0; i < NPX * COUT; i++)
        bad += outb[i] != 1 + 2 * e;
    CHECK(bad == 0, "avx2 %d: K blocks: %d of %d wrong (%a)", avx2, bad, NPX * COUT, outb[0]);
    fa_conv_run(&c, inb, 1, 1, 1, outb);
    CHECK(outb[0] == 1 && outb[COUT - 1] == 1, "avx2 %d: one chain %a", avx2, outb[0]);
    fa_conv_free(&c);

    /* FA_FC_PIXEL: OpenCV's double sums. Products 1, 2^-60, 0, 0, -1 over 5 maps, bias 0: on
     * 2 pixels one sum in order, 1 + 2^-60 = 1 in double, so 0; on a 1x1 map four interleaved
     * sums (k mod 4, the fifth in the first), (1 - 1) + 2^-60 = 2^-60. */
    float kp[5] = {1, 0x1p-60f, 0, 0, -1}, inp[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, bp = 0, outp[2];
    CHECK(fa_conv_init(&c, FA_FC_PIXEL, 5, 1, 1, 1, kp, &bp, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, inp, 1, 2, 1, outp);
    CHECK(outp[0] == 0 && outp[1] == 0, "avx2 %d: FC per pixel %a %a", avx2, outp[0], outp[1]);
    fa_conv_run(&c, inp, 1, 1, 1, outp);
    CHECK(outp[0] == 0x1p-60f, "avx2 %d: FC on one pixel %a", avx2, outp[0]);
    fa_conv_free(&c);
    /* The sum is rounded to float before the bias: products 1, 2^-30 and bias -1 give 0. */
    float kq[2] = {1, 0x1p-30f}, bq = -1;
    CHECK(fa_conv_init(&c, FA_FC_PIXEL, 2, 1, 1, 1, kq, &bq, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, inp, 1, 2, 1, outp);
    CHECK(outp[0] == 0 && outp[1] == 0, "avx2 %d: FC bias in float %a", avx2, outp[0]);
    fa_conv_free(&c);

    /* FA_FC with fewer than 100 outputs: OpenCV, bias added in double: 1 + 2^-30 - 1. */
    CHECK(fa_conv_init(&c, FA_FC, 2, 1, 1, 1, kq, &bq, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, inp, 1, 1, 1, outp);
    CHECK(outp[0] == 0x1p-30f, "avx2 %d: FC bias in double %a", avx2, outp[0]);
    fa_conv_free(&c);

    /* FA_FC with 100 outputs or more: OpenBLAS's 16 lanes (term k in lane k mod 16), then
     * REDUCE_4 for outputs below cout & ~3, _mm512_reduce_add_ps for the rest, then + bias.
     * 102 outputs, 32 inputs of 1, weights: term 0 1, terms 1, 3 e; term 17 (lane 1) e for
     * output 1 only. Lanes l0 = 1, l1 = e, l3 = e: REDUCE_4 (1 + e) + (0 + e) = 1, the other
     * tree (1 + 0) + (e + e) = 1 + 2e; a chain over k would give 1. Output 1: l1 = 2e,
     * REDUCE_4 (1 + 2e) + e = 1 + 4e (the tie goes to even). */
    enum { FIN = 32, FOUT = 102 };
    static float kf[FIN * FOUT], bf[FOUT], inf1[FIN], outf[FOUT];
    for (int m = 0; m < FIN; m++)
        for (int n = 0; n < FOUT; n++)
            kf[m * FOUT + n] = m == 0 ? 1 : (m == 1 || m == 3 || (m == 17 && n == 1)) ? e : 0;
    for (int m = 0; m < FIN; m++)
        inf1[m] = 1;
    CHECK(fa_conv_init(&c, FA_FC, FIN, FOUT, 1, 1, kf, bf, NULL, &err) == FACEAU_OK, "%s", err.msg);
    c.avx2 &= avx2;
    fa_conv_run(&c, inf1, 1, 1, 1, outf);
    CHECK(outf[0] == 1 && outf[1] == 1 + 4 * e && outf[99] == 1 && outf[100] == 1 + 2 * e &&
              outf[101] == 1 + 2 * e,
          "avx2 %d: FC lanes and trees %a %a %a %a", avx2, outf[0], outf[1], outf[99], outf[100]);
    fa_conv_free(&c);
}

/* OpenCV 4.6's cv::exp (exp32f), recorded from libopencv_core 4.6.0+dfsg-12 (Debian 12, AVX2
 * dispatch): inputs where glibc's expf gives another float. */
static void test_cv_exp(void)
{
    static const float v[6][2] = {
        {0x1.afd2a8p+1f, 0x1.d2f12p+4f},  {-0x1.1520cp+2f, 0x1.af6bb4p-7f},
        {0x1.eeb0d8p+2f, 0x1.1c5208p+11f}, {0x1.ee4ff8p+2f, 0x1.1aa4f6p+11f},
        {0x1.f9b4c8p+1f, 0x1.9fd3e2p+5f}, {-0x1.8d552p+1f, 0x1.6f82c8p-5f},
    };
    for (int i = 0; i < 6; i++)
        CHECK(fa_cv_exp(v[i][0]) == v[i][1], "cv::exp(%a) = %a, OpenCV %a", v[i][0], fa_cv_exp(v[i][0]),
              v[i][1]);
    CHECK(fa_cv_exp(0) == 1 && fa_cv_exp(-1e30f) == 0 && isinf(fa_cv_exp(1e30f)), "cv::exp limits");
}

static void test_pool(void)
{
    CHECK(fa_pool_out(4, 2, 2) == 2 && fa_pool_out(5, 2, 2) == 3 && fa_pool_out(4, 3, 2) == 2 &&
              fa_pool_out(46, 3, 2) == 23 && fa_pool_out(21, 3, 2) == 10 && fa_pool_out(8, 2, 2) == 4,
          "pool output sizes");
    /* 4 x 5 map, in(y,x) = y*5+x, 2x2 stride 2: 2 x 3 outputs, the last column clipped to x=4. */
    float in[20], out[6];
    for (int i = 0; i < 20; i++)
        in[i] = (float)i;
    fa_maxpool(in, 4, 5, 1, 2, 2, 2, 2, 2, 3, out);
    CHECK(out[0] == 6 && out[1] == 8 && out[2] == 9 && out[3] == 16 && out[4] == 18 && out[5] == 19,
          "pool %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4], out[5]);
    for (int i = 0; i < 20; i++)
        in[i] = -(float)i - 1000;
    fa_maxpool(in, 4, 5, 1, 2, 2, 2, 2, 2, 3, out);
    CHECK(out[0] == -1000 && out[2] == -1004 && out[5] == -1014, "negative pool %g %g %g", out[0],
          out[2], out[5]);
    /* 3x3 stride 2 on 4 rows: the second window holds rows 2..3 only; 2 channels. */
    float in2[4 * 1 * 2] = {1, -1, 5, -5, 3, -3, 2, -2}, out2[4];
    fa_maxpool(in2, 4, 1, 2, 3, 3, 2, 2, 2, 1, out2);
    CHECK(out2[0] == 5 && out2[1] == -1 && out2[2] == 3 && out2[3] == -2, "3/2 pool %g %g %g %g",
          out2[0], out2[1], out2[2], out2[3]);
}

/* OpenFace's max_pooling loop, scalar: the reference for fa_maxpool's fast paths. */
static void pool_ref(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy, int oh,
                     int ow, float *out)
{
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int ch = 0; ch < c; ch++) {
                float m = -FLT_MAX;
                for (int y = oy * sy; y < oy * sy + ky && y < h; y++)
                    for (int x = ox * sx; x < ox * sx + kx && x < w; x++) {
                        float v = in[((size_t)y * w + x) * c + ch];
                        if (v > m)
                            m = v;
                    }
                out[((size_t)oy * ow + ox) * c + ch] = m;
            }
}

/* fa_maxpool against the reference bit for bit on random maps of every small size, with NaNs,
 * infinities and both zeros (which one a tie keeps depends on the order), for the 2x2 stride 2
 * one-channel path and the generic one. */
static void test_pool_random(void)
{
    uint32_t rng = 777;
    static const float special[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -FLT_MAX, FLT_MAX};
    enum { MAXS = 21, MAXC = 3 };
    float in[MAXS * MAXS * MAXC], o1[MAXS * MAXS * MAXC], o2[MAXS * MAXS * MAXC];
    static const int shapes[][5] = {{1, 2, 2, 2, 2}, {1, 3, 3, 2, 2}, {3, 2, 2, 2, 2}, {2, 3, 3, 2, 2},
                                    {1, 2, 3, 1, 2}};
    int checked = 0;
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int h = 2; h <= MAXS; h++)
            for (int w = 2; w <= MAXS; w++)
                for (int rep = 0; rep < 3; rep++) {
                    const int c = shapes[sh][0], kx = shapes[sh][1], ky = shapes[sh][2];
                    const int sx = shapes[sh][3], sy = shapes[sh][4];
                    const int oh = fa_pool_out(h, ky, sy), ow = fa_pool_out(w, kx, sx);
                    if (oh < 1 || ow < 1)
                        continue;
                    for (int i = 0; i < h * w * c; i++) {
                        rng = rng * 1664525u + 1013904223u;
                        unsigned r = rng >> 8;
                        /* rep 0: few specials; rep 1: many; rep 2: ties of small integers */
                        if ((rep == 1 && r % 3 == 0) || (rep == 0 && r % 29 == 0))
                            in[i] = special[(r >> 4) % 8];
                        else if (rep == 2)
                            in[i] = (r >> 4) % 2 ? 0.0f : -0.0f;
                        else
                            in[i] = (float)((int)(r & 0xffff) - 0x8000) / 256.0f;
                    }
                    memset(o1, 0x55, sizeof o1);
                    memset(o2, 0x55, sizeof o2);
                    pool_ref(in, h, w, c, kx, ky, sx, sy, oh, ow, o1);
                    fa_maxpool(in, h, w, c, kx, ky, sx, sy, oh, ow, o2);
                    CHECK(memcmp(o1, o2, sizeof o1) == 0, "pool %dx%d s%dx%d c%d on %dx%d (rep %d) differs",
                          kx, ky, sx, sy, c, h, w, rep);
                    checked++;
                }
    CHECK(checked > 1000, "pool: only %d cases", checked);
}

static void test_resize(void)
{
    fa_image img;
    fa_err err;
    float out[4 * 4 * 3], ft[12 * 8];
    int it[3 * 8];
    CHECK(fa_image_alloc(&img, 3, 1, &err) == FACEAU_OK, "%s", err.msg);
    uint8_t px[9] = {10, 0, 255, 20, 1, 0, 40, 3, 7};
    memcpy(img.bgr, px, 9);
    /* 3 -> 2: source x 0.25 and 1.75 */
    fa_resize_linear(&img, 0, 0, 3, 1, 2, 1, 0, 1, out, ft, it);
    CHECK(out[0] == 12.5f && out[3] == 35 && out[1] == 0.25f && out[5] == 5.25f,
          "3->2: %g %g %g %g", out[0], out[3], out[1], out[5]);
    fa_image_free(&img);

    CHECK(fa_image_alloc(&img, 2, 2, &err) == FACEAU_OK, "%s", err.msg);
    uint8_t px2[12] = {10, 0, 0, 20, 0, 0, 30, 0, 0, 50, 0, 0};
    memcpy(img.bgr, px2, 12);
    /* 2 -> 4 both ways: x clamps to 10 / 20 with weight 0 at the edges; rows likewise. */
    fa_resize_linear(&img, 0, 0, 2, 2, 4, 4, 0, 4, out, ft, it);
    CHECK(out[0] == 10 && out[3] == 12.5f && out[6] == 17.5f && out[9] == 20, "2->4 row 0: %g %g %g %g",
          out[0], out[3], out[6], out[9]);
    CHECK(out[12 * 3] == 30 && out[12 * 3 + 9] == 50 && out[12 + 0] == 15, "2->4 rows: %g %g %g",
          out[36], out[45], out[12]);
    /* Only rows 1..2: the same values as rows 1..2 of the whole. */
    float part[2 * 12];
    fa_resize_linear(&img, 0, 0, 2, 2, 4, 4, 1, 2, part, ft, it);
    CHECK(!memcmp(part, out + 12, sizeof part), "row band differs");
    /* OpenFace's crop from (x-1, y-1): a zero column and row come first. */
    fa_resize_linear(&img, -1, -1, 3, 3, 3, 3, 0, 3, out, ft, it);
    CHECK(out[0] == 0 && out[3] == 0 && out[9] == 0 && out[12] == 10 && out[15] == 20 && out[21] == 30 &&
              out[24] == 50,
          "padded crop %g %g %g %g %g", out[0], out[12], out[15], out[21], out[24]);
    fa_image_free(&img);
}

static void box(faceau_box *b, float x, float y, float w, float h, float c)
{
    b->x = x, b->y = y, b->width = w, b->height = h, b->confidence = c;
}

static void test_nms(void)
{
    faceau_box b[5];
    box(&b[0], 0, 0, 10, 10, 0.9f);    /* A */
    box(&b[1], 1, 0, 10, 10, 0.8f);    /* B: IoU with A 90/110 */
    box(&b[2], 0, 0, 5, 5, 0.95f);     /* C: inside A, IoU 0.25, over the smaller 1 */
    box(&b[3], 0.5f, 20, 10, 10, 0.5f); /* D: x rounds to 0 (ties to even) */
    box(&b[4], 1.5f, 20, 10, 10, 0.5f); /* E: x rounds to 2: IoU with D 80/120 < 0.7 */
    int keep[5], scratch[10];
    int n = fa_mtcnn_nms(b, 5, 0.7f, 0, keep, scratch);
    /* C, A (B removed), then of the equal scores the later one (E) first, then D. */
    CHECK(n == 4 && keep[0] == 2 && keep[1] == 0 && keep[2] == 4 && keep[3] == 3,
          "IoU NMS: n %d: %d %d %d %d", n, keep[0], keep[1], keep[2], keep[3]);
    n = fa_mtcnn_nms(b, 5, 0.7f, 1, keep, scratch);
    /* min: C removes A (25/25) and B (20/25); E removes D (80/100). */
    CHECK(n == 2 && keep[0] == 2 && keep[1] == 4, "min NMS: n %d: %d %d", n, keep[0], keep[1]);
    n = fa_mtcnn_nms(b, 2, 0.85f, 0, keep, scratch);
    CHECK(n == 2 && keep[0] == 0 && keep[1] == 1, "IoU 0.818 under 0.85: n %d", n);
    CHECK(fa_mtcnn_nms(b, 0, 0.5f, 0, keep, scratch) == 0, "empty NMS");
}

static void test_boxes(void)
{
    faceau_box b;
    /* Rounded to (10, 21, 30, 40) first (30.5 and 40.5 round to even). */
    float corr[4] = {0.1f, -0.2f, 0.05f, 0.25f};
    box(&b, 10.4f, 20.6f, 30.5f, 40.5f, 1);
    fa_mtcnn_correct(&b, corr, 0);
    CHECK(NEAR(b.x, 13, 1e-5) && NEAR(b.y, 13, 1e-5) && NEAR(b.width, 28.5, 1e-5) && NEAR(b.height, 58, 1e-5),
          "correct: %g %g %g %g", b.x, b.y, b.width, b.height);
    box(&b, 10.4f, 20.6f, 30.5f, 40.5f, 1);
    fa_mtcnn_correct(&b, corr, 1); /* w, h 31, 41 */
    CHECK(NEAR(b.x, 13.1, 1e-5) && NEAR(b.y, 12.8, 1e-5) && NEAR(b.width, 29.45, 1e-4) &&
              NEAR(b.height, 59.45, 1e-4),
          "correct +1: %g %g %g %g", b.x, b.y, b.width, b.height);
    /* Square on the longer side; the start truncates toward zero: -1.75 -> -1. */
    box(&b, 13, 13, 28.5f, 58, 1);
    fa_mtcnn_rectify(&b);
    CHECK(b.x == -1 && b.y == 13 && b.width == 58 && b.height == 58, "rectify: %g %g %g %g", b.x, b.y,
          b.width, b.height);
    box(&b, 5.9f, 7.2f, 10.7f, 3, 1);
    fa_mtcnn_rectify(&b);
    CHECK(b.x == 5 && b.y == 3 && b.width == 10 && b.height == 10, "rectify 2: %g %g %g %g", b.x, b.y,
          b.width, b.height);
    box(&b, 100, 200, 50, 60, 1);
    fa_mtcnn_final(&b);
    CHECK(NEAR(b.x, 99.625, 1e-5) && NEAR(b.y, 214.754, 1e-4) && NEAR(b.width, 51.615, 1e-4) &&
              NEAR(b.height, 46.506, 1e-4),
          "final: %g %g %g %g", b.x, b.y, b.width, b.height);

    faceau_box f[3];
    box(&f[0], 0, 0, 50, 50, 0.99f);
    box(&f[1], 200, 0, 80, 80, 0.9f);
    box(&f[2], 400, 0, 80, 70, 0.8f);
    CHECK(fa_mtcnn_pick_single(f, 3, -1, -1) == 1, "widest (first of equals)");
    CHECK(fa_mtcnn_pick_single(f, 3, 430, 40) == 2, "nearest the preference");
    CHECK(fa_mtcnn_pick_single(f, 3, 0, 0) == 0, "nearest (0,0)");
    CHECK(fa_mtcnn_pick_single(f, 0, -1, -1) == -1, "none");
}

static void test_scales(void)
{
    static const int w640[7] = {128, 91, 65, 46, 33, 23, 17}, h640[7] = {96, 69, 49, 35, 25, 18, 13};
    static const int w1080[9] = {216, 154, 109, 77, 55, 39, 28, 20, 14};
    static const int h1080[9] = {384, 273, 194, 137, 98, 69, 49, 35, 25};
    double s[16];
    int lw[16], lh[16];
    int n = fa_mtcnn_scales(640, 480, 60, s, lw, lh, 16);
    CHECK(n == 7, "640x480: %d scales", n);
    for (int i = 0; i < 7 && n == 7; i++)
        CHECK(lw[i] == w640[i] && lh[i] == h640[i] && NEAR(s[i], 0.2 * pow(0.709, i), 1e-15),
              "640x480 level %d: %dx%d", i, lw[i], lh[i]);
    n = fa_mtcnn_scales(1080, 1920, 60, s, lw, lh, 16);
    CHECK(n == 9, "1080x1920: %d scales", n);
    for (int i = 0; i < 9 && n == 9; i++)
        CHECK(lw[i] == w1080[i] && lh[i] == h1080[i], "1080x1920 level %d: %dx%d", i, lw[i], lh[i]);
    n = fa_mtcnn_scales(60, 100, 60, s, lw, lh, 16);
    CHECK(n == 1 && lw[0] == 12 && lh[0] == 20, "60x100: %d", n);
    CHECK(fa_mtcnn_scales(59, 100, 60, s, lw, lh, 16) <= 0, "59 px: none");
    CHECK(fa_mtcnn_scales(7, 5, 60, s, lw, lh, 16) <= 0, "7x5: none");
}

/* ---- OpenFace's boxes -------------------------------------------------------------------- */

#define MAXF 8
typedef struct item {
    char file[256];
    int n;
    faceau_box b[MAXF];
    char txt[MAXF][5][32]; /* x, y, width, height, confidence as the CSV prints them (6 decimals) */
} item;

static int load_ref(item *items, int max)
{
    FILE *f = fopen(tu_shared_path("reference/mtcnn_boxes.csv"), "r");
    CHECK(f != NULL, "cannot open mtcnn_boxes.csv");
    if (!f)
        return 0;
    char line[1024];
    int n = 0;
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char file[256], t[5][32];
        int frame, face;
        if (sscanf(line, "%255[^,],%d,%d,%31[^,],%31[^,],%31[^,],%31[^,],%31[^,\r\n]", file, &frame, &face,
                   t[0], t[1], t[2], t[3], t[4]) != 8)
            continue;
        float x = strtof(t[0], NULL), y = strtof(t[1], NULL), w = strtof(t[2], NULL),
              h = strtof(t[3], NULL), c = strtof(t[4], NULL);
        if (n == 0 || strcmp(items[n - 1].file, file)) {
            if (n == max)
                break;
            memset(&items[n], 0, sizeof items[n]);
            snprintf(items[n].file, sizeof items[n].file, "%s", file);
            n++;
        }
        item *it = &items[n - 1];
        if (it->n < MAXF) {
            memcpy(it->txt[it->n], t, sizeof t);
            box(&it->b[it->n++], x, y, w, h, c);
        }
    }
    fclose(f);
    return n;
}

static double iou(const faceau_box *a, const faceau_box *b)
{
    double x1 = fmax(a->x, b->x), y1 = fmax(a->y, b->y);
    double x2 = fmin(a->x + a->width, b->x + b->width), y2 = fmin(a->y + a->height, b->y + b->height);
    double i = fmax(0, x2 - x1) * fmax(0, y2 - y1);
    return i / ((double)a->width * a->height + (double)b->width * b->height - i);
}

/* Detects on an item's frame (image, or a video's first frame). */
static faceau_status detect_item(fa_mtcnn *d, const char *rel, faceau_box *out, int *n, fa_err *err)
{
    const char *path = tu_shared_path("data/%s", rel);
    size_t len = strlen(rel);
    faceau_status st;
    if (len > 4 && !strcmp(rel + len - 4, ".jpg")) {
        fa_image img;
        if ((st = fa_image_read(path, &img, err)))
            return st;
        st = fa_mtcnn_detect(d, &img, out, MAXF, n, err);
        fa_image_free(&img);
        return st;
    }
    fa_video *v;
    const fa_image *fr;
    int got = 0;
    if ((st = fa_video_open(path, &v, err)))
        return st;
    st = fa_video_read(v, &fr, &got, err);
    if (!st && !got)
        st = fa_fail(err, FACEAU_ERR_VIDEO, "%s: no frame", path);
    if (!st)
        st = fa_mtcnn_detect(d, fr, out, MAXF, n, err);
    fa_video_close(v);
    return st;
}

/* Every box as OpenFace wrote it: all five numbers print as the CSV's 6 decimals (the box
 * coordinates are floats of 2^-17 resolution or coarser, so that pins them to the bit). */
static void test_reference(fa_mtcnn *d, const item *items, int n_items, int every, const char *what)
{
    double min_iou = 1;
    int boxes = 0, same = 0;
    for (int i = 0; i < n_items; i += every) {
        const item *it = &items[i];
        faceau_box got[MAXF];
        int n = 0;
        fa_err err;
        faceau_status st = detect_item(d, it->file, got, &n, &err);
        CHECK(st == FACEAU_OK, "%s: %s", it->file, err.msg);
        CHECK(n == it->n, "%s (%s): %d faces, OpenFace %d", it->file, what, n, it->n);
        for (int k = 0; k < n && k < it->n; k++) {
            const float v[5] = {got[k].x, got[k].y, got[k].width, got[k].height, got[k].confidence};
            int ok = 1;
            for (int j = 0; j < 5; j++) {
                char t[64];
                snprintf(t, sizeof t, "%.6f", (double)v[j]);
                ok &= !strcmp(t, it->txt[k][j]);
            }
            CHECK(ok, "%s face %d (%s): %.6f %.6f %.6f %.6f %.6f, OpenFace %s %s %s %s %s", it->file, k,
                  what, got[k].x, got[k].y, got[k].width, got[k].height, got[k].confidence, it->txt[k][0],
                  it->txt[k][1], it->txt[k][2], it->txt[k][3], it->txt[k][4]);
            min_iou = fmin(min_iou, iou(&got[k], &it->b[k]));
            boxes++, same += ok;
        }
    }
    printf("%s: %d boxes, %d as OpenFace's to 6 decimals, min IoU %.7f\n", what, boxes, same, min_iou);
}

/* OpenFace 2.0.2's own boxes to the bit, from the oracle in the session-4 MTCNN work: its
 * FaceDetectorMTCNN.cpp and CNN_utils.cpp built against Debian 12's OpenCV 4.6.0 and OpenBLAS
 * 0.3.21 (OPENBLAS_CORETYPE=SkylakeX), DetectFaces with its defaults on cv::imread's image or
 * cv::VideoCapture's first frame, printed with %a. (Its boxes for all 42 reference items match
 * mtcnn_boxes.csv.) */
static const struct {
    const char *file;
    int n;
    float b[3][5]; /* x, y, width, height, confidence */
} bits[] = {
    {"images/24795717_1.jpg", 3,
     {{0x1.81b8d6p+7f, 0x1.27bc22p+7f, 0x1.03973cp+7f, 0x1.1a8888p+7f, 0x1.ffffc2p-1f},
      {0x1.b0e6a6p+8f, 0x1.7a55b4p+7f, 0x1.e422f8p+6f, 0x1.0a20eap+7f, 0x1.fff3c8p-1f},
      {0x1.2ecd2ap+9f, 0x1.4016fep+7f, 0x1.e8a22ep+6f, 0x1.02f7b6p+7f, 0x1.ffd942p-1f}}},
    {"videos/0417_02_003_bill_clinton.avi", 1,
     {{0x1.0dff96p+7f, 0x1.551b0cp+6f, 0x1.404a38p+6f, 0x1.42c526p+6f, 0x1.ff4e22p-1f}}},
    {"videos/multi_face.avi", 3,
     {{0x1.2fe9d2p+8f, 0x1.9363c8p+7f, 0x1.b7027p+6f, 0x1.b67ecp+6f, 0x1.ffff38p-1f},
      {0x1.f7b02p+8f, 0x1.c4d376p+5f, 0x1.06c67ap+6f, 0x1.06c6bp+6f, 0x1.ffff1cp-1f},
      {0x1.7acffcp+7f, 0x1.7daa02p+6f, 0x1.6c3ae2p+5f, 0x1.645202p+5f, 0x1.ffd81ap-1f}}},
    {"videos/portrait_1080x1920.mp4", 1,
     {{0x1.d8802p+8f, 0x1.b8842p+9f, 0x1.2c5136p+8f, 0x1.19f52p+8f, 0x1.ffff68p-1f}}},
};

static void test_bits(fa_mtcnn *d, const char *what)
{
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        faceau_box got[MAXF];
        int n = 0;
        fa_err err;
        CHECK(detect_item(d, bits[i].file, got, &n, &err) == FACEAU_OK, "%s: %s", bits[i].file, err.msg);
        CHECK(n == bits[i].n, "%s (%s): %d faces, OpenFace %d", bits[i].file, what, n, bits[i].n);
        for (int k = 0; k < n && k < bits[i].n; k++) {
            const float *e = bits[i].b[k];
            CHECK(got[k].x == e[0] && got[k].y == e[1] && got[k].width == e[2] && got[k].height == e[3] &&
                      got[k].confidence == e[4],
                  "%s face %d (%s): %a %a %a %a %a, OpenFace %a %a %a %a %a", bits[i].file, k, what, got[k].x,
                  got[k].y, got[k].width, got[k].height, got[k].confidence, e[0], e[1], e[2], e[3], e[4]);
        }
    }
}

/* The same boxes, bit for bit, whatever the thread count. */
static void test_threads(fa_mtcnn *d, const item *items, int n_items)
{
    fa_err err;
    for (int i = 0; i < n_items; i += 7) {
        faceau_box a[MAXF], b[MAXF];
        int na = 0, nb = 0;
        CHECK(fa_mtcnn_set_threads(d, 1, &err) == FACEAU_OK, "%s", err.msg);
        detect_item(d, items[i].file, a, &na, &err);
        CHECK(fa_mtcnn_set_threads(d, 3, &err) == FACEAU_OK, "%s", err.msg);
        detect_item(d, items[i].file, b, &nb, &err);
        CHECK(na == nb && !memcmp(a, b, (size_t)na * sizeof *a), "%s: 1 and 3 threads differ",
              items[i].file);
    }
    CHECK(fa_mtcnn_set_threads(d, 0, &err) == FACEAU_ERR_INVALID_ARG, "0 threads accepted");
    fa_mtcnn_set_threads(d, 1, &err);
}

/* ---- bad input --------------------------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n, "cannot write %s", path);
    if (f)
        fclose(f);
}

static void test_bad_models(void)
{
    const char *dir = tu_tmpdir("detect_models");
    char p[4096], src[4096];
    fa_err err;
    fa_mtcnn *d = NULL;
    snprintf(p, sizeof p, "%s/MTCNN_detector.txt", dir);
    const char *mainf = "PNet PNet.dat\r\nRNet RNet.dat\nONet ONet.dat\n";
    write_file(p, mainf, strlen(mainf));
    static const char *const nets[2] = {"RNet.dat", "ONet.dat"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, nets[i]);
        snprintf(src, sizeof src, "%s", tu_shared_path("models/mtcnn_detector/%s", nets[i]));
        CHECK(symlink(src, p) == 0, "symlink %s", p);
    }
    /* missing PNet.dat */
    faceau_status st = fa_mtcnn_load(dir, &d, &err);
    CHECK(st == FACEAU_ERR_IO && strstr(err.msg, "PNet.dat") && d == NULL, "missing: %d %s", st, err.msg);
    /* the nets are read side by side: with ONet missing too, PNet (first in order) is named */
    {
        const char *m2 = "PNet PNet.dat\nRNet RNet.dat\nONet ONet_missing.dat\n";
        char sub[2048];
        snprintf(sub, sizeof sub, "%.2000s/two_missing", dir);
        mkdir(sub, 0755);
        snprintf(p, sizeof p, "%s/MTCNN_detector.txt", sub);
        write_file(p, m2, strlen(m2));
        snprintf(p, sizeof p, "%s/RNet.dat", sub);
        snprintf(src, sizeof src, "%s", tu_shared_path("models/mtcnn_detector/RNet.dat"));
        CHECK(symlink(src, p) == 0, "symlink %s", p);
        st = fa_mtcnn_load(sub, &d, &err);
        CHECK(st == FACEAU_ERR_IO && strstr(err.msg, "PNet.dat") && d == NULL, "two missing: %d %s", st,
              err.msg);
    }

    /* truncated copies of PNet.dat, cut in the header, the biases, a kernel, and the FC */
    FILE *f = fopen(tu_shared_path("models/mtcnn_detector/PNet.dat"), "rb");
    static unsigned char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK(n == 35088, "PNet.dat is %zu bytes", n);
    static const size_t cuts[5] = {0, 2, 18, 200, 35000};
    snprintf(p, sizeof p, "%s/PNet.dat", dir);
    for (int i = 0; i < 5; i++) {
        write_file(p, buf, cuts[i]);
        st = fa_mtcnn_load(dir, &d, &err);
        CHECK(st == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "PNet.dat") && strstr(err.msg, "truncated"),
              "cut at %zu: %d %s", cuts[i], st, err.msg);
    }
    /* a corrupt layer count and an absurd matrix header */
    int32_t bad = 100000;
    write_file(p, buf, n);
    FILE *g = fopen(p, "r+b");
    if (g) {
        fwrite(&bad, 4, 1, g);
        fclose(g);
    }
    st = fa_mtcnn_load(dir, &d, &err);
    CHECK(st == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "PNet.dat"), "bad depth: %s", err.msg);
    /* the first conv kernel's header (bytes 56 and 60: 3 x 3) made 64 x 64: its 30 kernels
     * would need 480 KB more than the file has, refused before any allocation */
    int32_t k64[2] = {64, 64};
    write_file(p, buf, n);
    g = fopen(p, "r+b");
    if (g) {
        fseek(g, 56, SEEK_SET);
        fwrite(k64, 4, 2, g);
        fclose(g);
    }
    st = fa_mtcnn_load(dir, &d, &err);
    CHECK(st == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "PNet.dat") && strstr(err.msg, "declares"),
          "64 x 64 kernels: %s", err.msg);
    /* the whole file: loads (the model root form is tested in main) */
    write_file(p, buf, n);
    st = fa_mtcnn_load(dir, &d, &err);
    CHECK(st == FACEAU_OK, "intact copy: %s", err.msg);
    fa_mtcnn_free(d);
    /* a main file without ONet */
    snprintf(p, sizeof p, "%s/MTCNN_detector.txt", dir);
    write_file(p, "PNet PNet.dat\nRNet RNet.dat\n", 28);
    st = fa_mtcnn_load(dir, &d, &err);
    CHECK(st == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "MTCNN_detector.txt") && strstr(err.msg, "ONet"),
          "no ONet: %s", err.msg);
    st = fa_mtcnn_load(tu_shared_path("no_such_dir"), &d, &err);
    CHECK(st == FACEAU_ERR_IO && strstr(err.msg, "MTCNN_detector.txt"), "no dir: %s", err.msg);
}

static void test_bad_frames(fa_mtcnn *d)
{
    fa_err err;
    faceau_box b[4];
    int n = -1;
    fa_image img = {0, 0, 0, NULL};
    CHECK(fa_mtcnn_detect(d, &img, b, 4, &n, &err) == FACEAU_OK && n == 0, "0x0: n %d", n);
    static const int sizes[3][2] = {{1, 1}, {7, 5}, {59, 400}};
    for (int i = 0; i < 3; i++) {
        CHECK(fa_image_alloc(&img, sizes[i][0], sizes[i][1], &err) == FACEAU_OK, "%s", err.msg);
        memset(img.bgr, 128, (size_t)img.stride * img.height);
        n = -1;
        CHECK(fa_mtcnn_detect(d, &img, b, 4, &n, &err) == FACEAU_OK && n == 0, "%dx%d: n %d",
              sizes[i][0], sizes[i][1], n);
        fa_image_free(&img);
    }
    CHECK(fa_mtcnn_detect(d, NULL, b, 4, &n, &err) == FACEAU_ERR_INVALID_ARG, "NULL frame");
    /* Too large: refused before any pixel is read (so a 1-byte buffer is enough here). */
    uint8_t one = 0;
    fa_image huge = {20000, 20000, 60000, &one};
    CHECK(fa_mtcnn_detect(d, &huge, b, 4, &n, &err) == FACEAU_ERR_INVALID_ARG && strstr(err.msg, "too large"),
          "20000x20000: %s", err.msg);
    fa_image wide = {40000, 100, 120000, &one};
    CHECK(fa_mtcnn_detect(d, &wide, b, 4, &n, &err) == FACEAU_ERR_INVALID_ARG, "40000 wide");

    /* 8000x8000: a smooth synthetic frame; memory is per band, so this stays small. */
    if (fa_image_alloc(&img, 8000, 8000, &err) == FACEAU_OK) {
        for (int y = 0; y < 8000; y++)
            for (int x = 0; x < 8000 * 3; x++)
                img.bgr[(size_t)y * img.stride + x] = (uint8_t)((x / 3 + y) / 64);
        n = -1;
        faceau_status st = fa_mtcnn_detect(d, &img, b, 4, &n, &err);
        CHECK(st == FACEAU_OK && n >= 0 && n <= 4, "8000x8000: %d %s", st, err.msg);
        fa_image_free(&img);
    } else {
        CHECK(0, "cannot allocate the 8000x8000 frame: %s", err.msg);
    }
}

int main(void)
{
    test_conv(1);
    test_conv(0);
    test_conv_order(1);
    test_conv_order(0);
    test_cv_exp();
    test_pool();
    test_pool_random();
    test_resize();
    test_nms();
    test_boxes();
    test_scales();
    test_bad_models();

    fa_err err;
    fa_mtcnn *d = NULL;
    /* The model root works as well as its mtcnn_detector folder. */
    CHECK(fa_mtcnn_load(tu_shared_path("models"), &d, &err) == FACEAU_OK, "%s", err.msg);
    if (!d)
        return tu_done();
    static item items[64];
    int n_items = load_ref(items, 64);
    CHECK(n_items == 42, "%d reference items", n_items);
    test_bits(d, "1 thread");
    test_reference(d, items, n_items, 1, "1 thread");
    CHECK(fa_mtcnn_set_threads(d, 2, &err) == FACEAU_OK, "%s", err.msg);
    test_reference(d, items, n_items, 1, "2 threads");
    test_threads(d, items, n_items);
    test_bad_frames(d);
    fa_mtcnn_free(d);

    /* The portable kernels give OpenFace's boxes too, to the bit. */
    setenv("FACEAU_NO_AVX2", "1", 1);
    CHECK(fa_mtcnn_load(tu_shared_path("models/mtcnn_detector"), &d, &err) == FACEAU_OK, "%s", err.msg);
    if (d) {
        test_bits(d, "portable kernels");
        test_reference(d, items, n_items, 5, "portable kernels");
        fa_mtcnn_free(d);
    }
    unsetenv("FACEAU_NO_AVX2");
    return tu_done();
}
