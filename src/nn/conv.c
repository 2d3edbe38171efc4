/* conv.c - the convolution and max-pooling layers of OpenFace's CNNs (CNN_utils / MTCNN).
 *
 * Layout: feature maps are row-major height x width x channels, so a convolution reads each
 * kernel row as one contiguous run and the output channels vectorise. Only the order of the
 * float sums differs from OpenBLAS's, which moves scores by ~1e-6; the portable and AVX2 paths
 * give the same bits (both fused multiply-adds in the same order). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv_kernels.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif


/* ---- convolution --------------------------------------------------------------------------- */

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
    c->avx2 = (fa_cpu_features() & (FA_CPU_AVX2 | FA_CPU_FMA)) == (FA_CPU_AVX2 | FA_CPU_FMA);
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
 * PReLU applied; res gets MR x NB values. Portable version. */
static void tile_generic(const fa_conv *c, const float *const *a, size_t rstride, int cb,
                         float *res)
{
    /* Each sum is the AVX2 kernels' sequence of fused multiply-adds (fmaf rounds once, as
     * vfmadd does), so the portable path gives the same bits as the AVX2 one: a last-bit
     * difference in an MTCNN box would otherwise move every landmark fitted from it. */
    int rowlen = c->kw * c->cin, cpad = c->cpad;
    float acc[MR][NB];
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < c->kh; i++) {
        const float *wp = c->w + (size_t)i * rowlen * cpad + cb;
        size_t off = (size_t)i * rstride;
        for (int t = 0; t < rowlen; t++, wp += cpad)
            for (int q = 0; q < MR; q++) {
                float s = a[q][off + t];
                for (int k = 0; k < NB; k++)
                    acc[q][k] = fmaf(s, wp[k], acc[q][k]);
            }
    }
    for (int q = 0; q < MR; q++)
        for (int k = 0; k < NB; k++) {
            float x = acc[q][k] + c->bias[cb + k];
            if (c->slope && !(x >= 0))
                x = x * c->slope[cb + k];
            res[q * NB + k] = x;
        }
}


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
#if FA_BUILD_AVX2
        if (c->avx2 && np == 1) {
            for (int cb = 0; cb < c->cpad; cb += 2 * NB) {
                int nb = c->cpad - cb >= 2 * NB ? 2 * NB : NB;
                fa_conv_tile1_avx2(c, a[0], rstride, cb, nb, res);
                int n = c->cout - cb < nb ? c->cout - cb : nb;
                memcpy(out + (size_t)p * c->cout + cb, res, (size_t)n * sizeof *out);
            }
            continue;
        }
#endif
        for (int cb = 0; cb < c->cpad; cb += NB) {
#if FA_BUILD_AVX2
            if (c->avx2)
                fa_conv_tile_avx2(c, a, rstride, cb, res);
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
#if defined(__SSE__)
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

