/* conv_avx2.c - the AVX2+FMA twin of conv.c's convolution tile (tile_generic): 6 output pixels
 * x 16 channels, fused multiply-adds. FMA rounds once where tile_generic rounds twice, so the
 * scores differ from the portable kernel by ~1e-6 (OpenFace's own OpenBLAS sums differ as much);
 * MTCNN's boxes are the same. */
#include "nn/conv_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static __m256 prelu8(__m256 x, const float *slope)
{
    if (!slope)
        return x;
    __m256 neg = _mm256_mul_ps(x, _mm256_loadu_ps(slope));
    __m256 ge = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(neg, x, ge);
}

__attribute__((target("avx2,fma"))) void fa_conv_tile_avx2(const fa_conv *c, const float *const *a,
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
__attribute__((target("avx2,fma"))) void fa_conv_tile1_avx2(const fa_conv *c, const float *a,
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
#else
typedef int fa_conv_avx2_unused; /* ISO C wants a declaration in every translation unit */
#endif
