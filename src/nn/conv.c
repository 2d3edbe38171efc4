/* conv.c - the convolution and fully connected layers of OpenFace's CNNs (CNN_utils.cpp), summed
 * in OpenFace's order (nn.h: FA_CONV, FA_FC_PIXEL, FA_FC), and max pooling.
 *
 * Layout: feature maps are row-major height x width x channels, so the output channels
 * vectorise; each output still sums its terms in OpenFace's im2col order (input map, kernel
 * column, kernel row), read through the per-term offsets kx/ky. The portable and AVX2 paths give
 * the same bits: fused multiply-adds (fmaf / vfmadd) and double sums in the same order. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cv/skx_gemm.h"
#include "nn/conv_kernels.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif


/* ---- set-up ---------------------------------------------------------------------------------- */

/* Everything but the weights (c->w zeroed, c->wd filled by finish_weights). */
static faceau_status conv_setup(fa_conv *c, int kind, int cin, int cout, int kh, int kw,
                                const float *bias, const float *slope, fa_err *err)
{
    memset(c, 0, sizeof *c);
    if (cin < 1 || cout < 1 || kh < 1 || kw < 1 || cin > 4096 || cout > 4096 || kh > 64 || kw > 64 ||
        kind < FA_CONV || kind > FA_FC || (kind == FA_FC_PIXEL && (kh != 1 || kw != 1)))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "convolution %dx%d, %d -> %d maps is out of range",
                       kh, kw, cin, cout);
    int cpad = (cout + NB - 1) / NB * NB, nk = cin * kh * kw;
    c->w = fa_calloc((size_t)nk * cpad, sizeof *c->w, err, "convolution weights");
    c->kx = fa_malloc((size_t)nk * sizeof *c->kx, err, "convolution offsets");
    c->ky = fa_malloc((size_t)nk * sizeof *c->ky, err, "convolution offsets");
    c->bias = fa_calloc((size_t)cpad, sizeof *c->bias, err, "convolution biases");
    c->slope = slope ? fa_calloc((size_t)cpad, sizeof *c->slope, err, "PReLU slopes") : NULL;
    c->wd = kind == FA_FC_PIXEL ? fa_calloc((size_t)nk * cpad, sizeof *c->wd, err, "FC weights") : NULL;
    if (!c->w || !c->kx || !c->ky || !c->bias || (slope && !c->slope) || (kind == FA_FC_PIXEL && !c->wd)) {
        fa_conv_free(c);
        return FACEAU_ERR_NOMEM;
    }
    c->kind = kind, c->cin = cin, c->cout = cout, c->kh = kh, c->kw = kw, c->cpad = cpad, c->nk = nk;
    /* Term k = (map, column, row) as im2col_multimap lays out a receptive field. */
    for (int m = 0, k = 0; m < cin; m++)
        for (int x = 0; x < kw; x++)
            for (int y = 0; y < kh; y++, k++)
                c->kx[k] = x * cin + m, c->ky[k] = y;
    for (int n = 0; n < cout; n++) {
        c->bias[n] = bias[n];
        if (slope)
            c->slope[n] = slope[n];
    }
    c->avx2 = (fa_cpu_features() & (FA_CPU_AVX2 | FA_CPU_FMA)) == (FA_CPU_AVX2 | FA_CPU_FMA);
    return FACEAU_OK;
}

static void finish_weights(fa_conv *c)
{
    if (c->wd)
        for (size_t i = 0; i < (size_t)c->nk * c->cpad; i++)
            c->wd[i] = c->w[i];
}

faceau_status fa_conv_init(fa_conv *c, int kind, int cin, int cout, int kh, int kw,
                           const float *kernels, const float *bias, const float *slope, fa_err *err)
{
    faceau_status st = conv_setup(c, kind, cin, cout, kh, kw, bias, slope, err);
    if (st)
        return st;
    for (int m = 0, k = 0; m < cin; m++)
        for (int x = 0; x < kw; x++)
            for (int y = 0; y < kh; y++, k++)
                for (int n = 0; n < cout; n++)
                    c->w[(size_t)k * c->cpad + n] = kernels[(((size_t)m * cout + n) * kh + y) * kw + x];
    finish_weights(c);
    return FACEAU_OK;
}

faceau_status fa_conv_init_terms(fa_conv *c, int kind, int cin, int cout, int kh, int kw,
                                 const float *w, const float *bias, const float *slope, fa_err *err)
{
    faceau_status st = conv_setup(c, kind, cin, cout, kh, kw, bias, slope, err);
    if (st)
        return st;
    for (int k = 0; k < c->nk; k++)
        memcpy(c->w + (size_t)k * c->cpad, w + (size_t)k * cout, (size_t)cout * sizeof *w);
    finish_weights(c);
    return FACEAU_OK;
}

void fa_conv_free(fa_conv *c)
{
    if (c) {
        free(c->w);
        free(c->wd);
        free(c->kx);
        free(c->ky);
        free(c->bias);
        free(c->slope);
        memset(c, 0, sizeof *c);
    }
}

static float prelu(const fa_conv *c, int n, float x)
{
    return c->slope && !(x >= 0) ? x * c->slope[n] : x;
}

/* ---- FA_CONV: OpenBLAS's sgemm ------------------------------------------------------------- */

/* The length of the K block from term ls (driver/level3.c's min_l; all of K on the small path). */
static int block_len(int K, int ls, int big)
{
    int l = K - ls;
    if (!big)
        return l;
    if (l >= 2 * FA_SGEMM_Q)
        return FA_SGEMM_Q;
    if (l > FA_SGEMM_Q)
        l = (l / 2 + FA_SGEMM_UNROLL_M - 1) / FA_SGEMM_UNROLL_M * FA_SGEMM_UNROLL_M;
    return l;
}

/* One tile (conv_kernels.h's fa_conv_tile_avx2), portable: the same fused chains with fmaf. */
static void tile_generic(const fa_conv *c, const float *const *a, size_t rstride, const int *off,
                         int cb, int k0, int k1, int first, int last, float *res)
{
    const int cpad = c->cpad, ke = k1 < c->nk ? k1 : c->nk;
    float acc[MR][NB];
    memset(acc, 0, sizeof acc);
    for (int k = k0; k < ke; k++) {
        const float *wp = c->w + (size_t)k * cpad + cb;
        const size_t o = off ? (size_t)off[k] : (size_t)c->ky[k] * rstride + (size_t)c->kx[k];
        for (int q = 0; q < MR; q++) {
            const float s = a[q][o];
            for (int n = 0; n < NB; n++)
                acc[q][n] = fmaf(s, wp[n], acc[q][n]);
        }
    }
    for (int q = 0; q < MR; q++)
        for (int n = 0; n < NB; n++) {
            float x = acc[q][n];
            if (k1 > c->nk)
                x = x + c->bias[cb + n]; /* fma(1, bias, x): rounded once */
            x = x + (first ? 0.0f : res[q * NB + n]);
            res[q * NB + n] = last ? prelu(c, cb + n, x) : x;
        }
}

/* Output pixels p0..p1-1 (row-major, ow per row) of c on in (win columns); npix: the whole
 * product's N. */
static void conv_pixels(const fa_conv *c, const float *in, int win, int ow, long p0, long p1,
                        double npix, float *out)
{
    const size_t rstride = (size_t)win * c->cin;
    const int K = c->nk + 1, big = (double)c->cout * npix * K > FA_SGEMM_SMALL_MNK;
    float res[MR * NB] __attribute__((aligned(32)));
    int offs[FA_CONV_OFFS];
    const int *off = NULL;
    if (c->nk <= FA_CONV_OFFS && rstride * (size_t)c->kh <= (size_t)1 << 30) {
        for (int k = 0; k < c->nk; k++)
            offs[k] = c->ky[k] * (int)rstride + c->kx[k];
        off = offs;
    }
    for (long p = p0; p < p1; p += MR) {
        int np = p1 - p < MR ? (int)(p1 - p) : MR;
        const float *a[MR];
        for (int q = 0; q < MR; q++) {
            long pp = p + (q < np ? q : np - 1);
            a[q] = in + ((size_t)(pp / ow) * win + (size_t)(pp % ow)) * c->cin;
        }
        for (int cb = 0; cb < c->cpad; cb += NB) {
            for (int ls = 0, len; ls < K; ls += len) {
                len = block_len(K, ls, big);
                const int first = ls == 0, last = ls + len == K;
#if FA_BUILD_AVX2
                if (c->avx2)
                    fa_conv_tile_avx2(c, a, rstride, off, cb, ls, ls + len, first, last, res);
                else
#endif
                    tile_generic(c, a, rstride, off, cb, ls, ls + len, first, last, res);
            }
            int n = c->cout - cb < NB ? c->cout - cb : NB;
            for (int q = 0; q < np; q++)
                memcpy(out + (size_t)(p + q) * c->cout + cb, res + q * NB, (size_t)n * sizeof *out);
        }
    }
}

/* ---- FA_FC_PIXEL and FA_FC: OpenCV's gemm and OpenBLAS's one-row sgemm ---------------------- */

/* OpenCV's GEMMSingleMul "A * Bt" sum (a one-column product): four double sums over k mod 4,
 * the rest in the first, then added in order. Products of floats are exact in double. */
static double cv_dot4(const fa_conv *c, const float *in, size_t rstride, int n)
{
    double s[4] = {0, 0, 0, 0};
    const int k4 = c->nk & ~3;
    int k = 0;
    for (; k < k4; k++)
        s[k & 3] += (double)in[(size_t)c->ky[k] * rstride + (size_t)c->kx[k]] *
                    (double)c->w[(size_t)k * c->cpad + n];
    for (; k < c->nk; k++)
        s[0] += (double)in[(size_t)c->ky[k] * rstride + (size_t)c->kx[k]] *
                (double)c->w[(size_t)k * c->cpad + n];
    return s[0] + s[1] + s[2] + s[3];
}

/* PNet's head: W (cout x cin) times the maps (cin x pixels) in OpenCV, then + bias in float.
 * One double sum per output in map order (products of floats are exact in double, so a fused
 * multiply-add of doubles gives the same sums: the AVX2 twin); a single pixel takes the
 * "A * Bt" branch. */
static void fc_pixel(const fa_conv *c, const float *in, long npx, int one, float *out)
{
#if FA_BUILD_AVX2
    if (c->avx2 && !one) {
        fa_fc_pixel_avx2(c, in, npx, out);
        return;
    }
#endif
    double s[NB];
    for (long p = 0; p < npx; p++) {
        const float *x = in + (size_t)p * c->cin;
        for (int cb = 0; cb < c->cout; cb += NB) {
            const int nb = c->cout - cb < NB ? c->cout - cb : NB;
            if (one) {
                for (int n = 0; n < nb; n++)
                    s[n] = cv_dot4(c, x, 0, cb + n);
            } else {
                for (int n = 0; n < nb; n++)
                    s[n] = 0;
                for (int m = 0; m < c->cin; m++) {
                    const double xm = x[m], *wd = c->wd + (size_t)m * c->cpad + cb;
                    for (int n = 0; n < nb; n++)
                        s[n] += xm * wd[n];
                }
            }
            for (int n = 0; n < nb; n++)
                out[(size_t)p * c->cout + cb + n] = prelu(c, cb + n, (float)s[n] + c->bias[cb + n]);
        }
    }
}

/* cv::gemm(W, x, 1, bias, 1): from 100 outputs LAPACK's cblas_sgemm (hal_internal.cpp), which
 * OpenBLAS runs as a 1 x cout x nk small-matrix product: 16 lanes, a tree, + bias (skx_gemm.h);
 * below that OpenCV's four double sums, + bias in double. */
static void fc_flat(const fa_conv *c, const float *in, float *out)
{
    const size_t rstride = (size_t)c->kw * c->cin;
    if (c->cout < 100) {
        for (int n = 0; n < c->cout; n++)
            out[n] = prelu(c, n, (float)(cv_dot4(c, in, rstride, n) + (double)c->bias[n]));
        return;
    }
#if FA_BUILD_AVX2
    if (c->avx2) {
        fa_fc_dot16_avx2(c, in, out);
        return;
    }
#endif
    const int k16 = c->nk & ~15, tree4 = c->cout & ~3;
    for (int n = 0; n < c->cout; n++) {
        float l[FA_SKX_LANES] = {0};
        int k = 0;
        for (; k < c->nk; k++) {
            const float x = in[(size_t)c->ky[k] * rstride + (size_t)c->kx[k]];
            l[k & 15] = fmaf(x, c->w[(size_t)k * c->cpad + n], l[k & 15]);
        }
        if (k16 < c->nk) /* the masked last step adds fma(0, 0, l) to the idle lanes */
            for (int i = c->nk - k16; i < FA_SKX_LANES; i++)
                l[i] = l[i] + 0.0f;
        const float s = n < tree4 ? fa_skx_reduce4(l) : fa_skx_reduce_add(l);
        out[n] = prelu(c, n, s + c->bias[n]);
    }
}

void fa_conv_run(const fa_conv *c, const float *in, int h, int w, int full_h, float *out)
{
    int oh = h - c->kh + 1, ow = w - c->kw + 1;
    if (oh <= 0 || ow <= 0)
        return;
    const double npix = (double)(full_h - c->kh + 1) * ow;
    if (c->kind == FA_FC_PIXEL)
        fc_pixel(c, in, (long)oh * ow, npix == 1, out);
    else if (c->kind == FA_FC)
        fc_flat(c, in, out);
    else
        conv_pixels(c, in, w, ow, 0, (long)oh * ow, npix, out);
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
#if defined(__SSE__)
    for (; ch + 4 <= c; ch += 4)
        _mm_storeu_ps(o + ch, _mm_max_ps(_mm_loadu_ps(p + ch), _mm_loadu_ps(o + ch)));
#endif
    for (; ch < c; ch++)
        o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
}

/* OpenFace's loop on output rows oy0..oy1-1, columns ox0..ox1-1 (ow outputs per row). */
static void maxpool_generic(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy,
                            int oy0, int oy1, int ox0, int ox1, int ow, float *out)
{
    for (int oy = oy0; oy < oy1; oy++) {
        int y = oy * sy, ye = y + ky < h ? y + ky : h;
        for (int ox = ox0; ox < ox1; ox++) {
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

/* The 2x2, stride 2 pool of one map (the validator's layers) on output rows 0..oh-1 and
 * columns 0..ow-1 (ostride outputs per row), whose windows all lie inside the map. Each output takes its four inputs in
 * the generic loop's order (row by row, left to right, from -FLT_MAX), which keeps the bits:
 * `v > m ? v : m` is not symmetric for NaN and for -0 against +0. */
static void pool2_map(const float *in, int w, int oh, int ow, int ostride, float *out)
{
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = in + (size_t)(2 * oy) * (size_t)w, *r1 = r0 + w;
        float *o = out + (size_t)oy * (size_t)ostride;
        int ox = 0;
#if defined(__SSE__)
        const __m128 lo = _mm_set1_ps(-FLT_MAX);
        for (; ox + 4 <= ow; ox += 4) {
            /* even and odd columns of the four windows: (x0 x2 x4 x6) and (x1 x3 x5 x7) */
            const __m128 a0 = _mm_loadu_ps(r0 + 2 * ox), b0 = _mm_loadu_ps(r0 + 2 * ox + 4);
            const __m128 a1 = _mm_loadu_ps(r1 + 2 * ox), b1 = _mm_loadu_ps(r1 + 2 * ox + 4);
            __m128 m = _mm_max_ps(_mm_shuffle_ps(a0, b0, _MM_SHUFFLE(2, 0, 2, 0)), lo);
            m = _mm_max_ps(_mm_shuffle_ps(a0, b0, _MM_SHUFFLE(3, 1, 3, 1)), m);
            m = _mm_max_ps(_mm_shuffle_ps(a1, b1, _MM_SHUFFLE(2, 0, 2, 0)), m);
            m = _mm_max_ps(_mm_shuffle_ps(a1, b1, _MM_SHUFFLE(3, 1, 3, 1)), m);
            _mm_storeu_ps(o + ox, m);
        }
#endif
        for (; ox < ow; ox++) {
            const float *p0 = r0 + 2 * ox, *p1 = r1 + 2 * ox;
            float m = -FLT_MAX;
            m = p0[0] > m ? p0[0] : m;
            m = p0[1] > m ? p0[1] : m;
            m = p1[0] > m ? p1[0] : m;
            m = p1[1] > m ? p1[1] : m;
            o[ox] = m;
        }
    }
}

void fa_maxpool(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy, int oh,
                int ow, float *out)
{
    int oy0 = 0;
    if (c == 1 && kx == 2 && ky == 2 && sx == 2 && sy == 2) {
        /* The generic loop goes through max_into for every input pixel: with one channel that
         * call is all overhead. The inner windows go the fast way, clipped ones below. */
        const int fh = oh < h / 2 ? oh : h / 2, fw = ow < w / 2 ? ow : w / 2;
        if (fh > 0 && fw > 0) {
            pool2_map(in, w, fh, fw, ow, out);
            maxpool_generic(in, h, w, 1, 2, 2, 2, 2, 0, fh, fw, ow, ow, out);
            oy0 = fh;
        }
    }
    maxpool_generic(in, h, w, c, kx, ky, sx, sy, oy0, oh, 0, ow, ow, out);
}
