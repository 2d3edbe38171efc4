/* conv_avx2.c - the AVX2+FMA twins of conv.c's sums: the FA_CONV tile (6 output pixels x 16
 * channels, one fused chain per output over OpenFace's term order) and FA_FC's OpenBLAS 16-lane
 * sums, eight outputs per register. The same fused multiply-adds in the same order as conv.c's
 * portable code, so the same bits. */
#include "cv/skx_gemm.h"
#include "nn/conv_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>
#define AVX2_FN __attribute__((target("avx2,fma")))

AVX2_FN static __m256 prelu8(__m256 x, const float *slope)
{
    if (!slope)
        return x;
    __m256 neg = _mm256_mul_ps(x, _mm256_loadu_ps(slope));
    __m256 ge = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(neg, x, ge);
}

AVX2_FN void fa_conv_tile_avx2(const fa_conv *c, const float *const *a, size_t rstride,
                               const int *off, int cb, int k0, int k1, int first, int last,
                               float *res)
{
    const int cpad = c->cpad, ke = k1 < c->nk ? k1 : c->nk;
    const int *kx = c->kx, *ky = c->ky;
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
    __m256 z = _mm256_setzero_ps();
    __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
    __m256 c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    const float *wp = c->w + (size_t)k0 * cpad + cb;
    for (int k = k0; k < ke; k++, wp += cpad) {
        const size_t o = off ? (size_t)off[k] : (size_t)ky[k] * rstride + (size_t)kx[k];
        __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), b;
        b = _mm256_broadcast_ss(a0 + o);
        c00 = _mm256_fmadd_ps(b, w0, c00), c01 = _mm256_fmadd_ps(b, w1, c01);
        b = _mm256_broadcast_ss(a1 + o);
        c10 = _mm256_fmadd_ps(b, w0, c10), c11 = _mm256_fmadd_ps(b, w1, c11);
        b = _mm256_broadcast_ss(a2 + o);
        c20 = _mm256_fmadd_ps(b, w0, c20), c21 = _mm256_fmadd_ps(b, w1, c21);
        b = _mm256_broadcast_ss(a3 + o);
        c30 = _mm256_fmadd_ps(b, w0, c30), c31 = _mm256_fmadd_ps(b, w1, c31);
        b = _mm256_broadcast_ss(a4 + o);
        c40 = _mm256_fmadd_ps(b, w0, c40), c41 = _mm256_fmadd_ps(b, w1, c41);
        b = _mm256_broadcast_ss(a5 + o);
        c50 = _mm256_fmadd_ps(b, w0, c50), c51 = _mm256_fmadd_ps(b, w1, c51);
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    const int bias = k1 > c->nk;
    const __m256 bias0 = _mm256_loadu_ps(c->bias + cb), bias1 = _mm256_loadu_ps(c->bias + cb + 8);
    const float *s = last && c->slope ? c->slope + cb : NULL;
    for (int q = 0; q < MR; q++)
        for (int h = 0; h < 2; h++) {
            __m256 x = acc[q][h];
            if (bias)
                x = _mm256_add_ps(x, h ? bias1 : bias0);
            x = _mm256_add_ps(x, first ? z : _mm256_loadu_ps(res + q * NB + 8 * h));
            _mm256_storeu_ps(res + q * NB + 8 * h, prelu8(x, s ? s + 8 * h : NULL));
        }
}

/* REDUCE_4 (fa_skx_reduce4) on eight outputs at once: quarters, then halves, all vertical. */
AVX2_FN static __m256 reduce4_8(const __m256 l[FA_SKX_LANES])
{
    __m256 x[4];
    for (int q = 0; q < 4; q++)
        x[q] = _mm256_add_ps(_mm256_add_ps(l[4 * q], l[4 * q + 1]), _mm256_add_ps(l[4 * q + 2], l[4 * q + 3]));
    return _mm256_add_ps(_mm256_add_ps(x[0], x[1]), _mm256_add_ps(x[2], x[3]));
}

/* _mm512_reduce_add_ps (fa_skx_reduce_add) on eight outputs at once. */
AVX2_FN static __m256 reduce_add_8(const __m256 l[FA_SKX_LANES])
{
    __m256 t8[8], t4[4];
    for (int i = 0; i < 8; i++)
        t8[i] = _mm256_add_ps(l[8 + i], l[i]);
    for (int i = 0; i < 4; i++)
        t4[i] = _mm256_add_ps(t8[4 + i], t8[i]);
    return _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
}

AVX2_FN void fa_fc_dot16_avx2(const fa_conv *c, const float *in, float *out)
{
    const size_t rstride = (size_t)c->kw * c->cin;
    const int nk = c->nk, k16 = nk & ~15, tree4 = c->cout & ~3;
    float buf[8] __attribute__((aligned(32)));
    for (int n0 = 0; n0 < c->cout; n0 += 8) {
        __m256 l[FA_SKX_LANES];
        for (int i = 0; i < FA_SKX_LANES; i++)
            l[i] = _mm256_setzero_ps();
        const float *wp = c->w + n0;
        int k = 0;
        for (; k < k16; k += FA_SKX_LANES)
            for (int i = 0; i < FA_SKX_LANES; i++, wp += c->cpad) {
                const size_t off = (size_t)c->ky[k + i] * rstride + (size_t)c->kx[k + i];
                l[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(in + off), _mm256_loadu_ps(wp), l[i]);
            }
        for (int i = 0; k < nk; k++, i++, wp += c->cpad) {
            const size_t off = (size_t)c->ky[k] * rstride + (size_t)c->kx[k];
            l[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(in + off), _mm256_loadu_ps(wp), l[i]);
        }
        if (k16 < nk)
            for (int i = nk - k16; i < FA_SKX_LANES; i++)
                l[i] = _mm256_add_ps(l[i], _mm256_setzero_ps());
        __m256 s4 = reduce4_8(l), sa = reduce_add_8(l);
        __m256 b = _mm256_loadu_ps(c->bias + n0);
        _mm256_store_ps(buf, prelu8(_mm256_add_ps(s4, b), c->slope ? c->slope + n0 : NULL));
        float bufa[8];
        _mm256_storeu_ps(bufa, prelu8(_mm256_add_ps(sa, b), c->slope ? c->slope + n0 : NULL));
        for (int j = 0; j < 8 && n0 + j < c->cout; j++)
            out[n0 + j] = n0 + j < tree4 ? buf[j] : bufa[j];
    }
}
AVX2_FN void fa_fc_pixel_avx2(const fa_conv *c, const float *in, long npx, float *out)
{
    float buf[NB];
    for (long p = 0; p < npx; p++) {
        const float *x = in + (size_t)p * c->cin;
        for (int cb = 0; cb < c->cout; cb += NB) {
            __m256d s[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
            const int nv = (c->cout - cb + 3) / 4 < 4 ? (c->cout - cb + 3) / 4 : 4;
            for (int m = 0; m < c->cin; m++) {
                const __m256d xm = _mm256_set1_pd((double)x[m]);
                const double *wd = c->wd + (size_t)m * c->cpad + cb;
                for (int v = 0; v < nv; v++) /* x * w is exact: fused or not, one rounding */
                    s[v] = _mm256_fmadd_pd(xm, _mm256_loadu_pd(wd + 4 * v), s[v]);
            }
            for (int v = 0; v < nv; v++) {
                const __m128 f = _mm256_cvtpd_ps(s[v]);
                __m128 r = _mm_add_ps(f, _mm_loadu_ps(c->bias + cb + 4 * v));
                if (c->slope) {
                    const __m128 neg = _mm_mul_ps(r, _mm_loadu_ps(c->slope + cb + 4 * v));
                    r = _mm_blendv_ps(neg, r, _mm_cmpge_ps(r, _mm_setzero_ps()));
                }
                _mm_storeu_ps(buf + 4 * v, r);
            }
            const int nb = c->cout - cb < NB ? c->cout - cb : NB;
            for (int n = 0; n < nb; n++)
                out[(size_t)p * c->cout + cb + n] = buf[n];
        }
    }
}
#else
typedef int fa_conv_avx2_unused; /* ISO C wants a declaration in every translation unit */
#endif
