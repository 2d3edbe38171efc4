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
#define BAND 32  /* PNet output rows per band */
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

/* A single pixel (fully connected layers), 32 channels at a time for more independent sums;
 * each channel's sum is the same sequence of FMAs as in tile_avx2. */
__attribute__((target("avx2,fma"))) static void tile1_avx2(const fa_conv *c, const float *a,
                                                            size_t rstride, int cb, int nb,
                                                            float *res)
{
    int rowlen = c->kw * c->cin, cpad = c->cpad;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int nv = nb / 8;
    for (int i = 0; i < c->kh; i++) {
        const float *wp = c->w + (size_t)i * rowlen * cpad + cb;
        const float *ai = a + (size_t)i * rstride;
        if (nv == 4) {
            for (int t = 0; t < rowlen; t++, wp += cpad) {
                __m256 b = _mm256_broadcast_ss(ai + t);
                acc[0] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp), acc[0]);
                acc[1] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + 8), acc[1]);
                acc[2] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + 16), acc[2]);
                acc[3] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + 24), acc[3]);
            }
        } else {
            for (int t = 0; t < rowlen; t++, wp += cpad) {
                __m256 b = _mm256_broadcast_ss(ai + t);
                acc[0] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp), acc[0]);
                acc[1] = _mm256_fmadd_ps(b, _mm256_loadu_ps(wp + 8), acc[1]);
            }
        }
    }
    for (int v = 0; v < nv; v++) {
        const float *s = c->slope ? c->slope + cb + 8 * v : NULL;
        _mm256_storeu_ps(res + 8 * v, prelu8(_mm256_add_ps(acc[v], _mm256_loadu_ps(c->bias + cb + 8 * v)), s));
    }
}
#endif

/* Output pixels p0..p1-1 (row-major, ow per row) of c on in (win columns). */
static void conv_pixels(const fa_conv *c, const float *in, int win, int ow, long p0, long p1,
                        float *out)
{
    size_t rstride = (size_t)win * c->cin;
    float res[MR * NB] __attribute__((aligned(32)));
    for (long p = p0; p < p1; p += MR) {
        int np = p1 - p < MR ? (int)(p1 - p) : MR;
        const float *a[MR];
        for (int q = 0; q < MR; q++) {
            long pp = p + (q < np ? q : np - 1);
            a[q] = in + ((size_t)(pp / ow) * win + (size_t)(pp % ow)) * c->cin;
        }
#if FA_HAVE_X86
        if (c->avx2 && np == 1) {
            for (int cb = 0; cb < c->cpad; cb += 2 * NB) {
                int nb = c->cpad - cb >= 2 * NB ? 2 * NB : NB;
                tile1_avx2(c, a[0], rstride, cb, nb, res);
                int n = c->cout - cb < nb ? c->cout - cb : nb;
                memcpy(out + (size_t)p * c->cout + cb, res, (size_t)n * sizeof *out);
            }
            continue;
        }
#endif
        for (int cb = 0; cb < c->cpad; cb += NB) {
#if FA_HAVE_X86
            if (c->avx2)
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

/* max(v, m) keeping m when v is NaN, as OpenFace's `if (v > m) m = v`; maxps does exactly that. */
static void max_into(float *o, const float *p, int c)
{
    int ch = 0;
#if FA_HAVE_X86
    for (; ch + 4 <= c; ch += 4)
        _mm_storeu_ps(o + ch, _mm_max_ps(_mm_loadu_ps(p + ch), _mm_loadu_ps(o + ch)));
#endif
    for (; ch < c; ch++)
        o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
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
                for (int xx = x; xx < xe; xx++)
                    max_into(o, in + ((size_t)yy * w + xx) * c, c);
        }
    }
}

/* ---- networks ------------------------------------------------------------------------------- */

enum { LT_CONV, LT_POOL, LT_SIGMOID };

typedef struct layer {
    int type;
    fa_conv conv;        /* LT_CONV (OpenFace's conv, or FC as a conv over the whole map) */
    int kx, ky, sx, sy;  /* LT_POOL */
} layer;

typedef struct cnn {
    int n;
    layer l[MAX_LAYERS];
    int in_size;         /* fixed input side (RNet 24, ONet 48), 0 for PNet */
    int out_ch;
} cnn;

static void cnn_free(cnn *net)
{
    for (int i = 0; i < net->n; i++)
        fa_conv_free(&net->l[i].conv);
    net->n = 0;
}

/* Channels and size of each layer's input, for a given network input size (h, w).
 * hs/ws/cs[i] describe layer i's input; index n is the output. 0 rows = too small. */
static void cnn_shapes(const cnn *net, int h, int w, int *hs, int *ws, int *cs)
{
    hs[0] = h, ws[0] = w, cs[0] = 3;
    for (int i = 0; i < net->n; i++) {
        const layer *L = &net->l[i];
        int hh = hs[i], ww = ws[i], cc = cs[i];
        if (L->type == LT_CONV) {
            hh = hh - L->conv.kh + 1, ww = ww - L->conv.kw + 1, cc = L->conv.cout;
        } else if (L->type == LT_POOL) {
            hh = hh >= 1 ? fa_pool_out(hh, L->ky, L->sy) : 0;
            ww = ww >= 1 ? fa_pool_out(ww, L->kx, L->sx) : 0;
        }
        hs[i + 1] = hh > 0 && ww > 0 ? hh : 0;
        ws[i + 1] = hh > 0 && ww > 0 ? ww : 0;
        cs[i + 1] = cc;
    }
}

typedef struct reader {
    FILE *f;
    const char *path;
    fa_err *err;
} reader;

static faceau_status rd_i32(reader *r, int *v, const char *what)
{
    unsigned char b[4];
    if (fread(b, 1, 4, r->f) != 4)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: truncated (ends before %s)", r->path, what);
    *v = (int)(int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    return FACEAU_OK;
}

/* A float matrix whose element count must be in [1, max] (checked before fa_binmat_read
 * allocates, so a corrupt header cannot ask for gigabytes). */
static faceau_status rd_mat(reader *r, fa_mat *m, long max, const char *what)
{
    int rows = 0, cols = 0, type = 0;
    faceau_status st;
    long pos = ftell(r->f);
    if ((st = rd_i32(r, &rows, what)) || (st = rd_i32(r, &cols, what)) || (st = rd_i32(r, &type, what)))
        return st;
    if (rows < 1 || cols < 1 || (long)rows * cols > max || type != FA_CV_32F)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: bad %s matrix header (%d x %d, type %d)", r->path, what, rows, cols, type);
    if (pos < 0 || fseek(r->f, pos, SEEK_SET) != 0)
        return fa_fail(r->err, FACEAU_ERR_IO, "%s: cannot seek", r->path);
    return fa_binmat_read(r->f, r->path, m, r->err);
}

static faceau_status add_conv(cnn *net, reader *r, int ch, int li, int *out_ch)
{
    int nin = 0, nk = 0;
    faceau_status st;
    if ((st = rd_i32(r, &nin, "a conv layer")) || (st = rd_i32(r, &nk, "a conv layer")))
        return st;
    if (nin != ch || nk < 1 || nk > 4096)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: layer %d: conv with %d inputs and %d kernels after %d maps", r->path, li,
                       nin, nk, ch);
    float *bias = fa_malloc((size_t)nk * sizeof *bias, r->err, r->path);
    float *kern = NULL;
    int kh = 0, kw = 0;
    if (!bias)
        return FACEAU_ERR_NOMEM;
    for (int k = 0; k < nk && !st; k++) {
        unsigned char b[4];
        if (fread(b, 1, 4, r->f) != 4)
            st = fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: truncated in layer %d biases", r->path, li);
        else
            memcpy(&bias[k], b, 4);
    }
    for (long i = 0; i < (long)nin * nk && !st; i++) {
        fa_mat m;
        if ((st = rd_mat(r, &m, 64 * 64, "conv kernel")))
            break;
        if (i == 0) {
            kh = m.rows, kw = m.cols;
            kern = fa_malloc((size_t)nin * nk * kh * kw * sizeof *kern, r->err, r->path);
            if (!kern)
                st = FACEAU_ERR_NOMEM;
        } else if (m.rows != kh || m.cols != kw) {
            st = fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d: kernels of different sizes",
                         r->path, li);
        }
        for (int j = 0; !st && j < kh * kw; j++)
            kern[i * kh * kw + j] = (float)m.data[j];
        fa_mat_free(&m);
    }
    if (!st) {
        layer *L = &net->l[net->n];
        L->type = LT_CONV;
        if (!(st = fa_conv_init(&L->conv, nin, nk, kh, kw, kern, bias, NULL, r->err)))
            net->n++, *out_ch = nk;
    }
    free(bias);
    free(kern);
    return st;
}

/* OpenFace's fully_connected: per pixel when n_in equals the maps' count (PNet's head, or a
 * vector after an FC), else over the whole map flattened column-major per map. Both become a
 * conv: 1x1, or as large as the map with the weights permuted to our layout. */
static faceau_status add_fc(cnn *net, reader *r, int h, int w, int ch, int li, int *out_ch)
{
    fa_mat bm, wm;
    faceau_status st = rd_mat(r, &bm, 1 << 16, "FC bias");
    if (st)
        return st;
    if ((st = rd_mat(r, &wm, 1 << 24, "FC weight"))) {
        fa_mat_free(&bm);
        return st;
    }
    int nin = wm.rows, nout = wm.cols, per_pixel = nin == ch;
    if (bm.rows * bm.cols != nout || (!per_pixel && (h < 1 || (long)h * w * ch != nin))) {
        fa_mat_free(&bm), fa_mat_free(&wm);
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: layer %d: FC %d -> %d does not fit its %d x %d x %d input", r->path, li,
                       nin, nout, h, w, ch);
    }
    int kh = per_pixel ? 1 : h, kw = per_pixel ? 1 : w;
    float *kern = fa_malloc((size_t)nin * nout * sizeof *kern, r->err, r->path);
    float *bias = fa_malloc((size_t)nout * sizeof *bias, r->err, r->path);
    if (kern && bias) {
        for (int k = 0; k < nout; k++)
            bias[k] = (float)bm.data[k];
        for (int m = 0; m < ch; m++)
            for (int k = 0; k < nout; k++)
                for (int yy = 0; yy < kh; yy++)
                    for (int xx = 0; xx < kw; xx++) {
                        long i = per_pixel ? m : (long)m * h * w + (long)xx * h + yy;
                        kern[(((size_t)m * nout + k) * kh + yy) * kw + xx] = (float)wm.data[i * nout + k];
                    }
        layer *L = &net->l[net->n];
        L->type = LT_CONV;
        if (!(st = fa_conv_init(&L->conv, ch, nout, kh, kw, kern, bias, NULL, r->err)))
            net->n++, *out_ch = nout;
    } else {
        st = FACEAU_ERR_NOMEM;
    }
    free(kern), free(bias);
    fa_mat_free(&bm), fa_mat_free(&wm);
    return st;
}

static faceau_status add_prelu(cnn *net, reader *r, int ch, int li)
{
    fa_mat m;
    faceau_status st = rd_mat(r, &m, 1 << 16, "PReLU");
    if (st)
        return st;
    layer *L = net->n ? &net->l[net->n - 1] : NULL;
    if (m.rows * m.cols != ch || !L || L->type != LT_CONV || L->conv.slope) {
        fa_mat_free(&m);
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: layer %d: PReLU of %d slopes must follow a conv or FC of %d maps",
                       r->path, li, m.rows * m.cols, ch);
    }
    L->conv.slope = fa_calloc((size_t)L->conv.cpad, sizeof *L->conv.slope, r->err, r->path);
    if (!L->conv.slope) {
        fa_mat_free(&m);
        return FACEAU_ERR_NOMEM;
    }
    for (int k = 0; k < ch; k++)
        L->conv.slope[k] = (float)m.data[k];
    fa_mat_free(&m);
    return FACEAU_OK;
}

/* OpenFace's CNN::Read, checking what it leaves unchecked. in_size: RNet/ONet input side. */
static faceau_status cnn_read(cnn *net, const char *path, int in_size, fa_err *err)
{
    memset(net, 0, sizeof *net);
    net->in_size = in_size;
    reader r = {NULL, path, err};
    faceau_status st = fa_fopen_read(path, &r.f, err);
    if (st)
        return st;
    int depth = 0, ch = 3, h = in_size, w = in_size;
    if (!(st = rd_i32(&r, &depth, "the layer count")) && (depth < 1 || depth > MAX_LAYERS))
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: bad layer count %d", path, depth);
    for (int li = 0; !st && li < depth; li++) {
        int type = 0, n0 = net->n;
        if ((st = rd_i32(&r, &type, "a layer type")))
            break;
        if (type == 0) {
            st = add_conv(net, &r, ch, li, &ch);
        } else if (type == 1) {
            int v[4] = {0, 0, 0, 0};
            for (int k = 0; k < 4 && !st; k++)
                st = rd_i32(&r, &v[k], "a pooling layer");
            if (!st && (v[0] < 1 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[0] > 64 || v[1] > 64 ||
                        v[2] > 64 || v[3] > 64))
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d: bad pooling %d %d %d %d",
                             path, li, v[0], v[1], v[2], v[3]);
            if (!st) {
                layer *L = &net->l[net->n++];
                L->type = LT_POOL, L->kx = v[0], L->ky = v[1], L->sx = v[2], L->sy = v[3];
            }
        } else if (type == 2) {
            st = add_fc(net, &r, h, w, ch, li, &ch);
        } else if (type == 3) {
            st = add_prelu(net, &r, ch, li);
        } else if (type == 4) {
            net->l[net->n++].type = LT_SIGMOID;
        } else {
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d: unknown type %d", path, li, type);
        }
        if (!st && net->n != n0 && in_size) {
            int hs[MAX_LAYERS + 1], ws[MAX_LAYERS + 1], cs[MAX_LAYERS + 1];
            cnn_shapes(net, in_size, in_size, hs, ws, cs);
            h = hs[net->n], w = ws[net->n];
            if (h < 1)
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d leaves no output for a %dx%d input",
                             path, li, in_size, in_size);
        }
    }
    fclose(r.f);
    if (!st && (ch < 6 || (in_size && (h != 1 || w != 1))))
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: the network does not end in %s6 outputs", path,
                     in_size ? "1 x 1 x " : "");
    net->out_ch = ch;
    if (st)
        cnn_free(net);
    return st;
}

/* ---- boxes, NMS, pyramid ------------------------------------------------------------------ */

typedef struct irect {
    long x, y, w, h;
} irect;

/* cv::Rect(Rect_<float>): each field rounded on its own. */
static irect to_rect(const fa_face_box *b)
{
    irect r = {round_i(b->x), round_i(b->y), round_i(b->width), round_i(b->height)};
    return r;
}

/* OpenFace's overlap test: (rect1 & rect2).area() over the union, or the smaller area. */
static int overlaps(irect a, irect b, float thr, int use_min)
{
    long inter = 0;
    if (a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0) {
        long x1 = a.x > b.x ? a.x : b.x, y1 = a.y > b.y ? a.y : b.y;
        long x2 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
        long y2 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
        if (x2 > x1 && y2 > y1)
            inter = (x2 - x1) * (y2 - y1);
    }
    float fi = (float)inter;
    long aa = a.w * a.h, ab = b.w * b.h;
    float u = use_min ? (float)(aa < ab ? aa : ab) : (float)(aa + ab) - fi;
    if (u == 0.0f)
        return fi > 0.0f; /* x/0 is +inf (> thr); 0/0 is NaN (not > thr) */
    return fi / u > thr;
}

static float sort_key(float s) { return s == s ? s : -INFINITY; }

/* Ascending by score, equal scores in index order: the order of OpenFace's std::multimap. */
static int before(const fa_face_box *b, int i, int j)
{
    float si = sort_key(b[i].confidence), sj = sort_key(b[j].confidence);
    return si < sj || (si == sj && i < j);
}

static void merge_sort(const fa_face_box *b, int *v, int *tmp, int n)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = before(b, v[j], v[i]) ? v[j++] : v[i++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
}

int fa_mtcnn_nms(const fa_face_box *b, int n, float thr, int use_min, int *keep, int *scratch)
{
    int *order = scratch, *alive = scratch + n;
    for (int i = 0; i < n; i++)
        order[i] = i;
    merge_sort(b, order, alive, n);
    for (int i = 0; i < n; i++)
        alive[i] = 1;
    int nk = 0;
    for (int oi = n - 1; oi >= 0; oi--) {
        if (!alive[oi])
            continue;
        int cur = order[oi];
        irect r1 = to_rect(&b[cur]);
        keep[nk++] = cur;
        for (int oj = 0; oj < oi; oj++)
            if (alive[oj] && overlaps(r1, to_rect(&b[order[oj]]), thr, use_min))
                alive[oj] = 0;
    }
    return nk;
}

void fa_mtcnn_correct(fa_face_box *b, const float corr[4], int add1)
{
    irect r = to_rect(b);
    if (add1)
        r.w++, r.h++;
    float x1 = (float)r.x + corr[0] * (float)r.w;
    float y1 = (float)r.y + corr[1] * (float)r.h;
    float x2 = (float)(r.x + r.w) + (float)r.w * corr[2];
    float y2 = (float)(r.y + r.h) + (float)r.h * corr[3];
    b->x = x1, b->y = y1, b->width = x2 - x1, b->height = y2 - y1;
}

void fa_mtcnn_rectify(fa_face_box *b)
{
    float h = b->height, w = b->width, side = w < h ? h : w;
    float nx = (float)((double)b->x + 0.5 * (double)(w - side));
    float ny = (float)((double)b->y + 0.5 * (double)(h - side));
    b->x = (float)trunc_i(nx);
    b->y = (float)trunc_i(ny);
    b->width = b->height = (float)trunc_i(side);
}

void fa_mtcnn_final(fa_face_box *b)
{
    b->x = (float)((double)b->width * -0.0075 + (double)b->x);
    b->y = (float)((double)b->height * 0.2459 + (double)b->y);
    b->width = (float)(1.0323 * (double)b->width);
    b->height = (float)(0.7751 * (double)b->height);
}

int fa_mtcnn_scales(int width, int height, int min_face, double *scales, int *lw, int *lh, int max)
{
    int min_dim = width < height ? width : height;
    if (min_dim <= 0 || min_face <= 0)
        return 0;
    int n = (int)floor(log((double)min_face / (double)min_dim) / log(0.709)) + 1;
    for (int i = 0; i < n && i < max; i++) {
        double s = (12.0 / (double)min_face) * pow(0.709, (double)i);
        if (scales)
            scales[i] = s;
        if (lw)
            lw[i] = (int)ceil(width * s);
        if (lh)
            lh[i] = (int)ceil(height * s);
    }
    return n;
}

int fa_mtcnn_pick_single(const fa_face_box *boxes, int n, int pref_x, int pref_y)
{
    if (n <= 0)
        return -1;
    int use_pref = pref_x != -1 && pref_y != -1, best = 0;
    float best_v = 0;
    for (int i = 0; i < n; i++) {
        const fa_face_box *b = &boxes[i];
        float v;
        if (use_pref) {
            /* int - float in float, sqrt of a float: as OpenFace's expression evaluates. */
            float dx = (float)pref_x - (b->width / 2 + b->x), dy = (float)pref_y - (b->height / 2 + b->y);
            v = sqrtf(dx * dx + dy * dy);
        } else {
            v = b->width;
        }
        if (i == 0 || (use_pref ? v < best_v : v > best_v))
            best_v = v, best = i;
    }
    return best;
}

/* ---- the detector ------------------------------------------------------------------------- */

#define MAX_LEVELS 32
#define T1 0.6f
#define T2 0.7f
#define T3 0.7f

typedef struct cand {
    fa_face_box b;
    float corr[4];
    int lvl, x, y;
} cand;

/* One thread's scratch. Grown before a phase starts (candidates: by their thread), never shrunk. */
typedef struct tws {
    float *buf[2];
    size_t cap;
    float *ftmp;
    int *itmp;
    size_t tcap;
    cand *c;
    size_t nc, ccap;
    int nomem;
} tws;

typedef struct job {
    int lvl, o0, o1; /* PNet band; RNet/ONet: o0 = box */
    long cost;
} job;

struct fa_mtcnn {
    cnn net[3];
    int threads;
    tws ws[FA_MTCNN_MAX_THREADS];
    /* the current frame */
    const fa_image *img;
    int nlvl, lw[MAX_LEVELS], lh[MAX_LEVELS];
    double scale[MAX_LEVELS];
    job *jobs;
    size_t njobs, jcap;
    cand *all;
    size_t acap;
    fa_face_box *box;
    float (*corr)[4];
    int *keep, *scratch;
    size_t bcap;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t n = need + need / 2 + 16;
    void *q = realloc(*p, n * elem);
    if (!q)
        return 0;
    *p = q, *cap = n;
    return 1;
}

static int tws_reserve(tws *w, size_t nbuf, int dw)
{
    size_t c0 = w->cap, c1 = w->cap, t0 = w->tcap, t1 = w->tcap;
    if (!grow((void **)&w->buf[0], &c0, nbuf, sizeof(float)) ||
        !grow((void **)&w->buf[1], &c1, nbuf, sizeof(float)))
        return 0;
    w->cap = c0 < c1 ? c0 : c1;
    if (!grow((void **)&w->ftmp, &t0, (size_t)dw * 12, sizeof(float)) ||
        !grow((void **)&w->itmp, &t1, (size_t)dw * 3, sizeof(int)))
        return 0;
    w->tcap = t0 < t1 ? t0 : t1;
    return 1;
}

static void tws_free(tws *w)
{
    free(w->buf[0]), free(w->buf[1]), free(w->ftmp), free(w->itmp), free(w->c);
    memset(w, 0, sizeof *w);
}

void fa_mtcnn_free(fa_mtcnn *d)
{
    if (!d)
        return;
    for (int i = 0; i < 3; i++)
        cnn_free(&d->net[i]);
    for (int t = 0; t < FA_MTCNN_MAX_THREADS; t++)
        tws_free(&d->ws[t]);
    free(d->jobs), free(d->all), free(d->box), free(d->corr), free(d->keep), free(d->scratch);
    free(d);
}

static faceau_status read_main(const char *main_path, const char *dir, char paths[3][4096], fa_err *err)
{
    static const char *const names[3] = {"PNet", "RNet", "ONet"};
    FILE *f;
    faceau_status st = fa_fopen_read(main_path, &f, err);
    if (st)
        return st;
    int found[3] = {0, 0, 0};
    char line[4096];
    while (!st && fgets(line, sizeof line, f)) {
        char mod[64], loc[2048];
        if (sscanf(line, "%63s %2047s", mod, loc) != 2)
            continue;
        size_t n = strlen(loc);
        if (n && loc[n - 1] == '\r')
            loc[n - 1] = '\0';
        for (int i = 0; i < 3 && !st; i++)
            if (!strcmp(mod, names[i])) {
                st = fa_path_join(paths[i], 4096, dir, loc, err);
                found[i] = 1;
            }
    }
    int bad = ferror(f);
    fclose(f);
    if (!st && bad)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: read error", main_path);
    for (int i = 0; i < 3 && !st; i++)
        if (!found[i])
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no %s line", main_path, names[i]);
    return st;
}

faceau_status fa_mtcnn_load(const char *dir, fa_mtcnn **out, fa_err *err)
{
    *out = NULL;
    if (!dir)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "no MTCNN model directory given");
    char main_path[4096], sub[4096], paths[3][4096];
    faceau_status st = fa_path_join(main_path, sizeof main_path, dir, "MTCNN_detector.txt", err);
    if (st)
        return st;
    FILE *probe = fopen(main_path, "rb");
    if (probe) {
        fclose(probe);
        if ((st = fa_path_join(sub, sizeof sub, dir, ".", err)))
            return st;
        sub[strlen(sub) - 2] = '\0';
    } else {
        if ((st = fa_path_join(sub, sizeof sub, dir, "mtcnn_detector", err)) ||
            (st = fa_path_join(main_path, sizeof main_path, sub, "MTCNN_detector.txt", err)))
            return st;
    }
    if ((st = read_main(main_path, sub, paths, err)))
        return st;
    fa_mtcnn *d = fa_calloc(1, sizeof *d, err, "the MTCNN detector");
    if (!d)
        return FACEAU_ERR_NOMEM;
    d->threads = 1;
    static const int sizes[3] = {0, 24, 48};
    for (int i = 0; i < 3 && !st; i++)
        st = cnn_read(&d->net[i], paths[i], sizes[i], err);
    if (st) {
        fa_mtcnn_free(d);
        return st;
    }
    *out = d;
    return FACEAU_OK;
}

faceau_status fa_mtcnn_set_threads(fa_mtcnn *d, int n, fa_err *err)
{
    if (!d || n < 1 || n > FA_MTCNN_MAX_THREADS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "thread count %d is out of range (1..%d)", n,
                       FA_MTCNN_MAX_THREADS);
    d->threads = n;
    return FACEAU_OK;
}

/* Normalises (v - 127.5) * 0.0078125 as OpenCV evaluates that expression (one convertTo: v *
 * 2^-7 is exact, so a single rounding) and reorders B,G,R to the R,G,B planes OpenFace feeds. */
static void normalise_rgb(float *p, size_t npix)
{
    for (size_t i = 0; i < npix; i++, p += 3) {
        float b = p[0], r = p[2];
        p[0] = r * 0.0078125f + -0.99609375f;
        p[1] = p[1] * 0.0078125f + -0.99609375f;
        p[2] = b * 0.0078125f + -0.99609375f;
    }
}

static void sigmoid(const float *in, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 1.0f / (1.0f + expf(-in[i]));
}

/* Runs layers on a buffer holding rows r[0]..e[0] of the input; returns the output buffer.
 * r/e: each layer's row range (global), ws/cs: widths and channels. */
static float *cnn_run(const cnn *net, tws *w, const int *r, const int *e, const int *ws, const int *cs)
{
    int cur = 0;
    for (int i = 0; i < net->n; i++) {
        const layer *L = &net->l[i];
        float *in = w->buf[cur], *out = w->buf[cur ^ 1];
        int rows = e[i] - r[i];
        if (L->type == LT_CONV)
            fa_conv_run(&L->conv, in, rows, ws[i], out);
        else if (L->type == LT_POOL)
            fa_maxpool(in, rows, ws[i], cs[i], L->kx, L->ky, L->sx, L->sy, e[i + 1] - r[i + 1],
                       ws[i + 1], out);
        else
            sigmoid(in, (size_t)rows * ws[i] * cs[i], out);
        cur ^= 1;
    }
    return w->buf[cur];
}

/* Row ranges each layer needs for PNet output rows o0..o1-1; returns the largest buffer. */
static size_t band_rows(const cnn *net, const int *hs, const int *ws, const int *cs, int o0, int o1,
                        int *r, int *e)
{
    r[net->n] = o0, e[net->n] = o1;
    for (int i = net->n - 1; i >= 0; i--) {
        const layer *L = &net->l[i];
        if (L->type == LT_CONV) {
            r[i] = r[i + 1], e[i] = e[i + 1] + L->conv.kh - 1;
        } else if (L->type == LT_POOL) {
            r[i] = r[i + 1] * L->sy;
            e[i] = (e[i + 1] - 1) * L->sy + L->ky;
            if (e[i] > hs[i])
                e[i] = hs[i];
        } else {
            r[i] = r[i + 1], e[i] = e[i + 1];
        }
    }
    size_t need = 0;
    for (int i = 0; i <= net->n; i++) {
        size_t n = (size_t)(e[i] - r[i]) * ws[i] * (size_t)(cs[i] < 3 ? 3 : cs[i]);
        if (n > need)
            need = n;
    }
    return need;
}

static void add_cand(tws *w, const cand *c)
{
    if (w->nc == w->ccap) {
        if (!grow((void **)&w->c, &w->ccap, w->nc + 1, sizeof *w->c)) {
            w->nomem = 1;
            return;
        }
    }
    w->c[w->nc++] = *c;
}

static void pnet_job(fa_mtcnn *d, tws *w, const job *jb)
{
    const cnn *net = &d->net[0];
    int lvl = jb->lvl, hs[MAX_LAYERS + 1], ws[MAX_LAYERS + 1], cs[MAX_LAYERS + 1];
    int r[MAX_LAYERS + 1], e[MAX_LAYERS + 1];
    cnn_shapes(net, d->lh[lvl], d->lw[lvl], hs, ws, cs);
    band_rows(net, hs, ws, cs, jb->o0, jb->o1, r, e);
    const fa_image *img = d->img;
    fa_resize_linear(img, 0, 0, img->width, img->height, d->lw[lvl], d->lh[lvl], r[0], e[0] - r[0],
                     w->buf[0], w->ftmp, w->itmp);
    normalise_rgb(w->buf[0], (size_t)(e[0] - r[0]) * d->lw[lvl]);
    const float *o = cnn_run(net, w, r, e, ws, cs);
    int wo = ws[net->n], ch = net->out_ch;
    float sc = (float)d->scale[lvl];
    for (int y = jb->o0; y < jb->o1; y++)
        for (int x = 0; x < wo; x++) {
            const float *v = o + ((size_t)(y - jb->o0) * wo + x) * ch;
            float p = 1.0f / (1.0f + expf(v[0] - v[1]));
            if (!(p >= T1))
                continue;
            cand c;
            float x1 = (float)trunc_i((float)(2 * x + 1) / sc), x2 = (float)trunc_i((float)(2 * x + 12) / sc);
            float y1 = (float)trunc_i((float)(2 * y + 1) / sc), y2 = (float)trunc_i((float)(2 * y + 12) / sc);
            c.b.x = x1, c.b.y = y1, c.b.width = x2 - x1, c.b.height = y2 - y1, c.b.confidence = p;
            memcpy(c.corr, v + 2, sizeof c.corr);
            c.lvl = lvl, c.x = x, c.y = y;
            add_cand(w, &c);
        }
}

/* RNet (stage 1) or ONet (stage 2) on box k: OpenFace's zero-padded (h+1) x (w+1) crop from
 * (x-1, y-1), resized to the net's input. Writes the score and corrections. */
static void refine_job(fa_mtcnn *d, tws *w, int stage, int k)
{
    const cnn *net = &d->net[stage];
    fa_face_box *b = &d->box[k];
    int sw = trunc_i(b->width + 1), sh = trunc_i(b->height + 1), n = net->in_size;
    if (sw < 1 || sh < 1) {
        b->confidence = 0; /* OpenCV would throw on this empty crop; OpenFace never gets here */
        return;
    }
    int hs[MAX_LAYERS + 1], ws[MAX_LAYERS + 1], cs[MAX_LAYERS + 1], r[MAX_LAYERS + 1], e[MAX_LAYERS + 1];
    cnn_shapes(net, n, n, hs, ws, cs);
    for (int i = 0; i <= net->n; i++)
        r[i] = 0, e[i] = hs[i];
    fa_resize_linear(d->img, trunc_i(b->x) - 1, trunc_i(b->y) - 1, sw, sh, n, n, 0, n, w->buf[0],
                     w->ftmp, w->itmp);
    normalise_rgb(w->buf[0], (size_t)n * n);
    const float *o = cnn_run(net, w, r, e, ws, cs);
    b->confidence = (float)(1.0 / (1.0 + (double)expf(o[0] - o[1])));
    memcpy(d->corr[k], o + 2, sizeof d->corr[k]);
}

typedef struct phase {
    fa_mtcnn *d;
    int stage;
    atomic_long next;
} phase;

typedef struct targ {
    phase *ph;
    int t;
} targ;

static void *worker(void *arg)
{
    targ *a = arg;
    phase *ph = a->ph;
    fa_mtcnn *d = ph->d;
    for (;;) {
        long j = atomic_fetch_add(&ph->next, 1);
        if (j >= (long)d->njobs)
            break;
        if (ph->stage == 0)
            pnet_job(d, &d->ws[a->t], &d->jobs[j]);
        else
            refine_job(d, &d->ws[a->t], ph->stage, d->jobs[j].o0);
    }
    return NULL;
}

/* Runs d->jobs on up to d->threads threads. Each job writes only its own outputs, so the
 * result does not depend on which thread ran it; a failed pthread_create just means fewer. */
static void run_phase(fa_mtcnn *d, int stage)
{
    if (d->njobs == 0)
        return;
    phase ph;
    ph.d = d, ph.stage = stage;
    atomic_init(&ph.next, 0);
    int nt = d->threads < (long)d->njobs ? d->threads : (int)d->njobs;
    pthread_t tid[FA_MTCNN_MAX_THREADS];
    targ args[FA_MTCNN_MAX_THREADS];
    int started[FA_MTCNN_MAX_THREADS] = {0};
    for (int t = 0; t < nt; t++)
        args[t].ph = &ph, args[t].t = t;
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, worker, &args[t]) == 0;
    worker(&args[0]);
    for (int t = 1; t < nt; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
}

static int cmp_cand(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->lvl != b->lvl)
        return a->lvl < b->lvl ? -1 : 1;
    if (a->x != b->x) /* generate_bounding_boxes scans x outer, y inner */
        return a->x < b->x ? -1 : 1;
    return (a->y > b->y) - (a->y < b->y);
}

static int cmp_job(const void *pa, const void *pb)
{
    const job *a = pa, *b = pb;
    if (a->cost != b->cost)
        return a->cost > b->cost ? -1 : 1;
    if (a->lvl != b->lvl)
        return a->lvl < b->lvl ? -1 : 1;
    return (a->o0 > b->o0) - (a->o0 < b->o0);
}

/* Keeps boxes keep[0..nk-1] in that order (OpenFace's select_subset). */
static int select_boxes(fa_mtcnn *d, const int *keep, int nk)
{
    for (int q = 0; q < nk; q++) {
        d->all[q].b = d->box[keep[q]];
        memcpy(d->all[q].corr, d->corr[keep[q]], sizeof d->all[q].corr);
    }
    for (int q = 0; q < nk; q++) {
        d->box[q] = d->all[q].b;
        memcpy(d->corr[q], d->all[q].corr, sizeof d->corr[q]);
    }
    return nk;
}

static int threshold_boxes(fa_mtcnn *d, int nb, float t)
{
    int nk = 0;
    for (int i = 0; i < nb; i++)
        if (d->box[i].confidence >= t)
            d->keep[nk++] = i;
    return select_boxes(d, d->keep, nk);
}

static int nms_boxes(fa_mtcnn *d, int nb, float thr, int use_min)
{
    int nk = fa_mtcnn_nms(d->box, nb, thr, use_min, d->keep, d->scratch);
    return select_boxes(d, d->keep, nk);
}

static faceau_status reserve_all(fa_mtcnn *d, size_t need, fa_err *err)
{
    size_t c[5] = {d->acap, d->bcap, d->bcap, d->bcap, d->bcap};
    if (!grow((void **)&d->all, &c[0], need, sizeof *d->all) ||
        !grow((void **)&d->box, &c[1], need, sizeof *d->box) ||
        !grow((void **)&d->corr, &c[2], need, sizeof *d->corr) ||
        !grow((void **)&d->keep, &c[3], need, sizeof *d->keep) ||
        !grow((void **)&d->scratch, &c[4], 2 * need, sizeof *d->scratch))
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for %zu face candidates", need);
    /* scratch's capacity counts ints (2 per box); the box capacity is the smallest. */
    size_t m = c[4] / 2;
    for (int i = 1; i < 4; i++)
        m = c[i] < m ? c[i] : m;
    d->acap = c[0], d->bcap = m;
    return FACEAU_OK;
}

static faceau_status reserve_threads(fa_mtcnn *d, size_t nbuf, int dw, fa_err *err)
{
    for (int t = 0; t < d->threads; t++)
        if (!tws_reserve(&d->ws[t], nbuf, dw))
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for detector buffers (%zu floats)", nbuf);
    return FACEAU_OK;
}

/* PNet over the pyramid, in bands, then OpenFace's per-level NMS 0.5. Returns the box count. */
static faceau_status stage_pnet(fa_mtcnn *d, int *nb_out, fa_err *err)
{
    const cnn *net = &d->net[0];
    int hs[MAX_LAYERS + 1], ws[MAX_LAYERS + 1], cs[MAX_LAYERS + 1], r[MAX_LAYERS + 1], e[MAX_LAYERS + 1];
    size_t need = 0, njobs = 0;
    for (int pass = 0; pass < 2; pass++) {
        njobs = 0;
        for (int l = 0; l < d->nlvl; l++) {
            cnn_shapes(net, d->lh[l], d->lw[l], hs, ws, cs);
            for (int o0 = 0; o0 < hs[net->n]; o0 += BAND, njobs++) {
                int o1 = o0 + BAND < hs[net->n] ? o0 + BAND : hs[net->n];
                if (pass == 0) {
                    size_t n = band_rows(net, hs, ws, cs, o0, o1, r, e);
                    need = n > need ? n : need;
                } else {
                    job jb = {l, o0, o1, (long)(o1 - o0) * ws[net->n]};
                    d->jobs[njobs] = jb;
                }
            }
        }
        if (pass == 0 && !grow((void **)&d->jobs, &d->jcap, njobs, sizeof *d->jobs))
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for %zu detector jobs", njobs);
    }
    d->njobs = njobs;
    qsort(d->jobs, njobs, sizeof *d->jobs, cmp_job);
    faceau_status st = reserve_threads(d, need, d->lw[0], err);
    if (st)
        return st;
    for (int t = 0; t < d->threads; t++)
        d->ws[t].nc = 0, d->ws[t].nomem = 0;
    run_phase(d, 0);
    size_t total = 0;
    for (int t = 0; t < d->threads; t++) {
        if (d->ws[t].nomem)
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for face candidates");
        total += d->ws[t].nc;
    }
    if (total > INT_MAX / 2)
        return fa_fail(err, FACEAU_ERR_NOMEM, "too many face candidates (%zu)", total);
    if ((st = reserve_all(d, total, err)))
        return st;
    size_t k = 0;
    for (int t = 0; t < d->threads; t++) {
        if (d->ws[t].nc)
            memcpy(d->all + k, d->ws[t].c, d->ws[t].nc * sizeof *d->all);
        k += d->ws[t].nc;
    }
    qsort(d->all, total, sizeof *d->all, cmp_cand);
    for (size_t i = 0; i < total; i++)
        d->box[i] = d->all[i].b;
    int nb = 0;
    for (size_t i = 0, j; i < total; i = j) {
        for (j = i; j < total && d->all[j].lvl == d->all[i].lvl; j++)
            ;
        int nk = fa_mtcnn_nms(d->box + i, (int)(j - i), 0.5f, 0, d->keep, d->scratch);
        for (int q = 0; q < nk; q++, nb++) {
            d->box[nb] = d->all[i + d->keep[q]].b;
            memcpy(d->corr[nb], d->all[i + d->keep[q]].corr, sizeof d->corr[nb]);
        }
    }
    *nb_out = nb;
    return FACEAU_OK;
}

static faceau_status stage_refine(fa_mtcnn *d, int stage, int nb, fa_err *err)
{
    const cnn *net = &d->net[stage];
    int hs[MAX_LAYERS + 1], ws[MAX_LAYERS + 1], cs[MAX_LAYERS + 1];
    cnn_shapes(net, net->in_size, net->in_size, hs, ws, cs);
    size_t need = 0;
    for (int i = 0; i <= net->n; i++) {
        size_t n = (size_t)hs[i] * ws[i] * (size_t)(cs[i] < 3 ? 3 : cs[i]);
        need = n > need ? n : need;
    }
    faceau_status st = reserve_threads(d, need, net->in_size, err);
    if (st)
        return st;
    if (!grow((void **)&d->jobs, &d->jcap, (size_t)nb, sizeof *d->jobs))
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for %d detector jobs", nb);
    for (int k = 0; k < nb; k++) {
        job jb = {0, k, 0, 0};
        d->jobs[k] = jb;
    }
    d->njobs = (size_t)nb;
    run_phase(d, stage);
    return FACEAU_OK;
}

/* The PNet and RNet stages' box regression (no +1) followed by squaring. */
static void regress_and_square(fa_mtcnn *d, int nb)
{
    for (int i = 0; i < nb; i++) {
        fa_mtcnn_correct(&d->box[i], d->corr[i], 0);
        fa_mtcnn_rectify(&d->box[i]);
    }
}

faceau_status fa_mtcnn_detect(fa_mtcnn *d, const fa_image *img, fa_face_box *boxes, int max_boxes,
                              int *n, fa_err *err)
{
    if (n)
        *n = 0;
    if (!d || !img || !n || max_boxes < 0 || (max_boxes > 0 && !boxes))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "face detection: bad arguments");
    if (img->width <= 0 || img->height <= 0)
        return FACEAU_OK; /* nothing to search */
    if (!img->bgr || img->stride < 3 * img->width)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "face detection: %dx%d image without pixels",
                       img->width, img->height);
    if (img->width > FA_MTCNN_MAX_SIDE || img->height > FA_MTCNN_MAX_SIDE ||
        (long)img->width * img->height > FA_MTCNN_MAX_PIXELS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "face detection: %dx%d image is too large (at most %d per side, %ld pixels)",
                       img->width, img->height, FA_MTCNN_MAX_SIDE, (long)FA_MTCNN_MAX_PIXELS);
    d->nlvl = fa_mtcnn_scales(img->width, img->height, FA_MTCNN_MIN_FACE, d->scale, d->lw, d->lh,
                              MAX_LEVELS);
    if (d->nlvl <= 0)
        return FACEAU_OK;
    if (d->nlvl > MAX_LEVELS)
        d->nlvl = MAX_LEVELS;
    d->img = img;
    int nb = 0;
    faceau_status st = stage_pnet(d, &nb, err);
    if (st)
        return st;
    nb = nms_boxes(d, nb, 0.7f, 0);
    regress_and_square(d, nb);
    if ((st = stage_refine(d, 1, nb, err)))
        return st;
    nb = threshold_boxes(d, nb, T2);
    nb = nms_boxes(d, nb, 0.7f, 0);
    regress_and_square(d, nb);
    if ((st = stage_refine(d, 2, nb, err)))
        return st;
    nb = threshold_boxes(d, nb, T3);
    for (int i = 0; i < nb; i++)
        fa_mtcnn_correct(&d->box[i], d->corr[i], 1);
    nb = nms_boxes(d, nb, 0.7f, 1);
    int out = nb < max_boxes ? nb : max_boxes;
    for (int i = 0; i < out; i++) {
        fa_mtcnn_final(&d->box[i]);
        boxes[i] = d->box[i];
    }
    *n = out;
    d->img = NULL;
    return FACEAU_OK;
}
