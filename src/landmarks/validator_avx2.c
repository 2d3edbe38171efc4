/* validator_avx2.c - the AVX2 twin of validator.c's convolution (fa_validator_conv): each output
 * is the same float chain (0, then + w*in for the im2col columns in order, products rounded
 * on their own, then + bias), computed for 8 adjacent columns per register. The accumulators of
 * KB kernels x 2 column blocks stay in registers over the whole chain, sharing each input load
 * and each weight broadcast, where the scalar loop goes through memory for every term. */
#include "landmarks/validator_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))

/* Kernels k0..k0+KB-1, output row y, the column blocks starting at x[0..NX-1] (8 columns each;
 * blocks may overlap, the overlap recomputed to the same values). */
AVX2_FN static inline __attribute__((always_inline)) void
tile(const float *w, const float *bias, int cin, int kh, int kw, int h, int wd, int oh, int ow,
     const float *in, float *out, int k0, int y, const int *x, const int KB, const int NX)
{
    const size_t K = (size_t)cin * (size_t)kh * (size_t)kw;
    __m256 acc[5][2];
    for (int b = 0; b < KB; b++)
        for (int j = 0; j < NX; j++)
            acc[b][j] = _mm256_setzero_ps();
    size_t t = 0;
    for (int m = 0; m < cin; m++) {
        const float *map = in + (size_t)m * (size_t)h * (size_t)wd + (size_t)y * (size_t)wd;
        for (int kx = 0; kx < kw; kx++)
            for (int ky = 0; ky < kh; ky++, t++) {
                const float *src = map + (size_t)ky * (size_t)wd + (size_t)kx;
                __m256 s[2];
                for (int j = 0; j < NX; j++)
                    s[j] = _mm256_loadu_ps(src + x[j]);
                for (int b = 0; b < KB; b++) {
                    const __m256 c = _mm256_broadcast_ss(w + (size_t)(k0 + b) * K + t);
                    for (int j = 0; j < NX; j++)
                        acc[b][j] = _mm256_add_ps(acc[b][j], _mm256_mul_ps(c, s[j]));
                }
            }
    }
    for (int b = 0; b < KB; b++) {
        const __m256 bb = _mm256_broadcast_ss(bias + k0 + b);
        float *o = out + ((size_t)(k0 + b) * (size_t)oh + (size_t)y) * (size_t)ow;
        for (int j = 0; j < NX; j++)
            _mm256_storeu_ps(o + x[j], _mm256_add_ps(acc[b][j], bb));
    }
}

/* One output row of kernels k0..k0+KB-1: the column blocks two at a time. */
AVX2_FN static inline __attribute__((always_inline)) void
row_kernels(const float *w, const float *bias, int cin, int kh, int kw, int h, int wd, int oh,
            int ow, const float *in, float *out, int k0, int y, const int KB)
{
    int xs[2], n = 0;
    for (int x0 = 0; x0 < ow; x0 += 8) {
        xs[n++] = x0 + 8 <= ow ? x0 : ow - 8;
        if (n == 2) {
            tile(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, xs, KB, 2);
            n = 0;
        }
    }
    if (n)
        tile(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, xs, KB, 1);
}

AVX2_FN void fa_validator_conv_avx2(const float *w, const float *bias, int cin, int cout, int kh,
                                    int kw, int h, int wd, const float *in, float *out, float *row)
{
    const int oh = h - kh + 1, ow = wd - kw + 1;
    if (ow < 8) {
        fa_validator_conv(w, bias, cin, cout, kh, kw, h, wd, in, out, row);
        return;
    }
    for (int y = 0; y < oh; y++) {
        int k0 = 0;
        for (; k0 + 5 <= cout; k0 += 5)
            row_kernels(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, 5);
        switch (cout - k0) {
        case 4:
            row_kernels(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, 4);
            break;
        case 3:
            row_kernels(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, 3);
            break;
        case 2:
            row_kernels(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, 2);
            break;
        case 1:
            row_kernels(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, y, 1);
            break;
        default:
            break;
        }
    }
}

#endif
