/* detect.c - OpenFace's MTCNN face detector (FaceDetectorMTCNN::DetectFaces) reproduced.
 *
 * Layout: feature maps are row-major height x width x channels, so a convolution reads each
 * kernel row as one contiguous run and the output channels vectorise. OpenFace's stages,
 * thresholds, rounding and tie rules are kept exactly; only the order of the float sums in a
 * convolution differs from OpenBLAS's (and AVX2 uses FMA), which moves scores by ~1e-6.
 * PNet runs on horizontal bands of each pyramid level (bit-identical to a whole-level pass,
 * as every op is row-local), so memory grows with the frame width only. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FA_HAVE_X86 1
#else
#define FA_HAVE_X86 0
#endif

#define MR 6     /* output pixels per kernel tile */
#define NB 16    /* output channels per kernel tile */
#define BAND 24  /* PNet output rows per band */
#define MAX_LAYERS 32

typedef float v4f __attribute__((vector_size(16)));

/* ---- float -> int as OpenCV/C++ would, without UB on absurd values ----------------------- */

static float clampf(float v)
{
    if (!(v == v))
        return 0.0f;
    return v < -1e9f ? -1e9f : v > 1e9f ? 1e9f : v;
}

/* C++'s (int)v: truncation. */
static int trunc_i(float v) { return (int)clampf(v); }

/* saturate_cast<int>(float) = cvRound: nearest, ties to even (the default FPU mode). */
static int round_i(float v) { return (int)lrintf(clampf(v)); }

/* ---- cv::resize INTER_LINEAR, float, 3 channels ----------------------------------------- */

/* Horizontal pass of one virtual source row r into d (dw*3 floats). */
static void hresize_row(const fa_image *img, int x0, int y0, int r, int dw, const int *xofs,
                        const int *xcol, const float *alpha, int xmax, float *d)
{
    int ir = r + y0;
    if (ir < 0 || ir >= img->height) {
        /* The zero padding of OpenFace's crop: 0*a0 + 0*a1 is 0. */
        memset(d, 0, (size_t)dw * 3 * sizeof *d);
        return;
    }
    const uint8_t *row = img->bgr + (size_t)ir * (size_t)img->stride;
    for (int dx = 0; dx < dw; dx++) {
        int c0 = xcol[2 * dx], c1 = xcol[2 * dx + 1];
        for (int k = 0; k < 3; k++) {
            float s0 = c0 >= 0 ? (float)row[3 * c0 + k] : 0.0f;
            if (dx < xmax) {
                float s1 = c1 >= 0 ? (float)row[3 * c1 + k] : 0.0f;
                d[3 * dx + k] = s0 * alpha[2 * dx] + s1 * alpha[2 * dx + 1];
            } else {
                d[3 * dx + k] = s0;
            }
        }
    }
    (void)x0;
    (void)xofs;
}

void fa_resize_linear(const fa_image *img, int x0, int y0, int sw, int sh, int dw, int dh,
                      int row0, int nrows, float *out, float *ftmp, int *itmp)
{
    /* OpenCV's resize(): inv_scale = dsize/ssize in double, scale = 1/inv_scale, source
     * coordinate (float)((d+0.5)*scale-0.5), weights 1-f and f in float; columns clamp with
     * f = 0 and the right edge uses the single-tap path (xmax); rows clamp their index only. */
    double scale_x = 1.0 / ((double)dw / sw), scale_y = 1.0 / ((double)dh / sh);
    float *alpha = ftmp, *r0 = ftmp + 2 * dw, *r1 = ftmp + 5 * dw;
    int *xcol = itmp, *xofs = itmp + 2 * dw;
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
        xofs[dx] = sx;
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
                hresize_row(img, x0, y0, ya, dw, xofs, xcol, alpha, xmax, r0);
                have0 = ya;
            }
        }
        if (have1 != yb) {
            if (yb == ya) {
                memcpy(r1, r0, (size_t)dw * 3 * sizeof *r1);
            } else {
                hresize_row(img, x0, y0, yb, dw, xofs, xcol, alpha, xmax, r1);
            }
            have1 = yb;
        }
        float b0 = 1.0f - fy, b1 = fy;
        float *o = out + (size_t)(dy - row0) * (size_t)dw * 3;
        for (int i = 0; i < dw * 3; i++)
            o[i] = r0[i] * b0 + r1[i] * b1;
    }
}

/* ---- convolution --------------------------------------------------------------------------- */

static int cpu_avx2(void)
{
#if FA_HAVE_X86
    const char *no = getenv("FACEAU_NO_AVX2");
    if (no && *no && *no != '0')
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

faceau_status fa_conv_init(fa_conv *c, int cin, int cout, int kh, int kw, const float *kernels,
                           const float *bias, const float *slope, fa_err *err)
{
    memset(c, 0, sizeof *c);
    if (cin < 1 || cout < 1 || kh < 1 || kw < 1 || cin > 4096 || cout > 4096 || kh > 64 || kw > 64)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "convolution %dx%d, %d -> %d maps is out of range",
                       kh, kw, cin, cout);
    int cpad = (cout + NB - 1) / NB * NB;
    size_t nw = (size_t)kh * kw * cin * cpad;
    c->w = fa_calloc(nw, sizeof *c->w, err, "convolution weights");
    c->bias = fa_calloc((size_t)cpad, sizeof *c->bias, err, "convolution biases");
    c->slope = slope ? fa_calloc((size_t)cpad, sizeof *c->slope, err, "PReLU slopes") : NULL;
    if (!c->w || !c->bias || (slope && !c->slope)) {
        fa_conv_free(c);
        return FACEAU_ERR_NOMEM;
    }
    c->cin = cin, c->cout = cout, c->kh = kh, c->kw = kw, c->cpad = cpad;
    for (int m = 0; m < cin; m++)
        for (int k = 0; k < cout; k++)
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    c->w[(((size_t)i * kw + j) * cin + m) * cpad + k] =
                        kernels[(((size_t)m * cout + k) * kh + i) * kw + j];
    for (int k = 0; k < cout; k++) {
        c->bias[k] = bias[k];
        if (slope)
            c->slope[k] = slope[k];
    }
    c->avx2 = cpu_avx2();
    return FACEAU_OK;
}

void fa_conv_free(fa_conv *c)
{
    if (c) {
        free(c->w);
        free(c->bias);
        free(c->slope);
        memset(c, 0, sizeof *c);
    }
}

/* One tile: np (1..MR) pixels whose receptive fields start at a[q], channels cb..cb+NB-1.
 * Sums run over kernel rows, then along each row (kw*cin values), then the bias is added and
 * PReLU applied; res gets MR x NB values. Portable version: 8 channels at a time in SSE. */
static void tile_generic(const fa_conv *c, const float *const *a, size_t rstride, int cb,
                         float *res)
{
    int rowlen = c->kw * c->cin, cpad = c->cpad;
    for (int half = 0; half < NB; half += 8) {
        v4f acc[MR][2];
        memset(acc, 0, sizeof acc);
        for (int i = 0; i < c->kh; i++) {
            const float *wp = c->w + (size_t)i * rowlen * cpad + cb + half;
            size_t off = (size_t)i * rstride;
            for (int t = 0; t < rowlen; t++, wp += cpad) {
                v4f w0, w1;
                memcpy(&w0, wp, sizeof w0);
                memcpy(&w1, wp + 4, sizeof w1);
                for (int q = 0; q < MR; q++) {
                    float s = a[q][off + t];
                    v4f b = {s, s, s, s};
                    acc[q][0] += b * w0;
                    acc[q][1] += b * w1;
                }
            }
        }
        for (int q = 0; q < MR; q++) {
            float v[8];
            memcpy(v, acc[q], sizeof v);
            for (int k = 0; k < 8; k++) {
                float x = v[k] + c->bias[cb + half + k];
                if (c->slope && !(x >= 0))
                    x = x * c->slope[cb + half + k];
                res[q * NB + half + k] = x;
            }
        }
    }
}

#if FA_HAVE_X86
__attribute__((target("avx2,fma"))) static __m256 prelu8(__m256 x, const float *slope)
{
    if (!slope)
        return x;
    __m256 neg = _mm256_mul_ps(x, _mm256_loadu_ps(slope));
    __m256 ge = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(neg, x, ge);
}

__attribute__((target("avx2,fma"))) static void tile_avx2(const fa_conv *c, const float *const *a,
                                                           size_t rstride, int cb, float *res)
{
    int rowlen = c->kw * c->cin, cpad = c->cpad;
    __m256 z = _mm256_setzero_ps();
    __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
    __m256 c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    for (int i = 0; i < c->kh; i++) {
        const float *wp = c->w + (size_t)i * rowlen * cpad + cb;
        size_t off = (size_t)i * rstride;
        const float *a0 = a[0] + off, *a1 = a[1] + off, *a2 = a[2] + off;
        const float *a3 = a[3] + off, *a4 = a[4] + off, *a5 = a[5] + off;
        for (int t = 0; t < rowlen; t++, wp += cpad) {
            __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), b;
            b = _mm256_broadcast_ss(a0 + t);
            c00 = _mm256_fmadd_ps(b, w0, c00), c01 = _mm256_fmadd_ps(b, w1, c01);
            b = _mm256_broadcast_ss(a1 + t);
            c10 = _mm256_fmadd_ps(b, w0, c10), c11 = _mm256_fmadd_ps(b, w1, c11);
            b = _mm256_broadcast_ss(a2 + t);
            c20 = _mm256_fmadd_ps(b, w0, c20), c21 = _mm256_fmadd_ps(b, w1, c21);
            b = _mm256_broadcast_ss(a3 + t);
            c30 = _mm256_fmadd_ps(b, w0, c30), c31 = _mm256_fmadd_ps(b, w1, c31);
            b = _mm256_broadcast_ss(a4 + t);
            c40 = _mm256_fmadd_ps(b, w0, c40), c41 = _mm256_fmadd_ps(b, w1, c41);
            b = _mm256_broadcast_ss(a5 + t);
            c50 = _mm256_fmadd_ps(b, w0, c50), c51 = _mm256_fmadd_ps(b, w1, c51);
        }
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 bias0 = _mm256_loadu_ps(c->bias + cb), bias1 = _mm256_loadu_ps(c->bias + cb + 8);
    const float *s = c->slope ? c->slope + cb : NULL;
    for (int q = 0; q < MR; q++) {
        _mm256_storeu_ps(res + q * NB, prelu8(_mm256_add_ps(acc[q][0], bias0), s));
        _mm256_storeu_ps(res + q * NB + 8, prelu8(_mm256_add_ps(acc[q][1], bias1), s ? s + 8 : NULL));
    }
}

/* A single pixel (fully connected layers): same sum order as tile_avx2. */
__attribute__((target("avx2,fma"))) static void tile1_avx2(const fa_conv *c, const float *a,
                                                            size_t rstride, int cb, float *res)
{
    int rowlen = c->kw * c->cin, cpad = c->cpad;
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    for (int i = 0; i < c->kh; i++) {
        const float *wp = c->w + (size_t)i * rowlen * cpad + cb;
        const float *ai = a + (size_t)i * rstride;
        for (int t = 0; t < rowlen; t++, wp += cpad) {
            __m256 b = _mm256_broadcast_ss(ai + t);
            c0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp), c0);
            c1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + 8), c1);
        }
    }
    const float *s = c->slope ? c->slope + cb : NULL;
    _mm256_storeu_ps(res, prelu8(_mm256_add_ps(c0, _mm256_loadu_ps(c->bias + cb)), s));
    _mm256_storeu_ps(res + 8, prelu8(_mm256_add_ps(c1, _mm256_loadu_ps(c->bias + cb + 8)),
                                     s ? s + 8 : NULL));
}
#endif

/* Output pixels p0..p1-1 (row-major, ow per row) of c on in (win columns). */
static void conv_pixels(const fa_conv *c, const float *in, int win, int ow, long p0, long p1,
                        float *out)
{
    size_t rstride = (size_t)win * c->cin;
    float res[MR * NB];
    for (long p = p0; p < p1; p += MR) {
        int np = p1 - p < MR ? (int)(p1 - p) : MR;
        const float *a[MR];
        for (int q = 0; q < MR; q++) {
            long pp = p + (q < np ? q : np - 1);
            a[q] = in + ((size_t)(pp / ow) * win + (size_t)(pp % ow)) * c->cin;
        }
        for (int cb = 0; cb < c->cpad; cb += NB) {
#if FA_HAVE_X86
            if (c->avx2 && np == 1)
                tile1_avx2(c, a[0], rstride, cb, res);
            else if (c->avx2)
                tile_avx2(c, a, rstride, cb, res);
            else
#endif
                tile_generic(c, a, rstride, cb, res);
            int n = c->cout - cb < NB ? c->cout - cb : NB;
            for (int q = 0; q < np; q++)
                memcpy(out + (size_t)(p + q) * c->cout + cb, res + q * NB, (size_t)n * sizeof *out);
        }
    }
}

void fa_conv_run(const fa_conv *c, const float *in, int h, int w, float *out)
{
    int oh = h - c->kh + 1, ow = w - c->kw + 1;
    if (oh > 0 && ow > 0)
        conv_pixels(c, in, w, ow, 0, (long)oh * ow, out);
}

/* ---- max pooling ----------------------------------------------------------------------------- */

int fa_pool_out(int n, int k, int s)
{
    return (int)roundf((float)(n - k) / (float)s) + 1;
}

void fa_maxpool(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy, int oh,
                int ow, float *out)
{
    for (int oy = 0; oy < oh; oy++) {
        int y = oy * sy, ye = y + ky < h ? y + ky : h;
        for (int ox = 0; ox < ow; ox++) {
            int x = ox * sx, xe = x + kx < w ? x + kx : w;
            float *o = out + ((size_t)oy * ow + ox) * c;
            for (int ch = 0; ch < c; ch++)
                o[ch] = -FLT_MAX;
            for (int yy = y; yy < ye; yy++)
                for (int xx = x; xx < xe; xx++) {
                    const float *p = in + ((size_t)yy * w + xx) * c;
                    for (int ch = 0; ch < c; ch++)
                        if (p[ch] > o[ch])
                            o[ch] = p[ch];
                }
        }
    }
}
