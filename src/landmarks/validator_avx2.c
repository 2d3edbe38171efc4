/* validator_avx2.c - the AVX2 twin of validator.c's convolution (fa_validator_conv): each output
 * is the same float chain (0, then + w*in for the im2col columns in order, products rounded
 * on their own, then + bias), computed for 8 adjacent columns per register. The accumulators of
 * KB kernels x 2 column blocks stay in registers over the whole chain, sharing each input load
 * and each weight broadcast, where the scalar loop goes through memory for every term. Its
 * AVX-512F copy below does the same per lane, 16 outputs per register. */
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


/* ---- AVX-512: the same chains, 16 outputs per register ------------------------------------ */
/* Where the FP units are 512 bits wide, each instruction does twice the AVX2 kernel's work. A
 * map's outputs are one run of oh x ow floats, so a register takes 16 consecutive outputs even
 * across a row end (ow >= 16: at most two rows): the lanes past the row's end read the next
 * input row, kw - 1 floats further on than a straight load. That wastes no lane on a row's
 * remainder (rows of 52 and 20 would otherwise fill 64 and 32 lanes). The last block overlaps
 * the one before it, recomputing the same values. The 32 registers hold KB kernels x NX blocks
 * of accumulators. */
#define AVX512_FN __attribute__((target("avx512f")))

AVX512_FN static inline __attribute__((always_inline)) void
tile16(const float *w, const float *bias, int cin, int kh, int kw, int h, int wd, int oh, int ow,
       const float *in, float *out, int k0, const int *q, const int KB, const int NX)
{
    const size_t K = (size_t)cin * (size_t)kh * (size_t)kw, hw = (size_t)h * (size_t)wd;
    size_t off[2];
    __mmask16 lo[2], hi[2];
    for (int j = 0; j < NX; j++) {
        const int y0 = q[j] / ow, x0 = q[j] % ow, l = ow - x0; /* lanes l.. are row y0 + 1 */
        off[j] = (size_t)y0 * (size_t)wd + (size_t)x0;
        lo[j] = (__mmask16)(l >= 16 ? 0xffff : (1u << l) - 1);
        hi[j] = (__mmask16)~lo[j];
    }
    __m512 acc[10][2];
    for (int b = 0; b < KB; b++)
        for (int j = 0; j < NX; j++)
            acc[b][j] = _mm512_setzero_ps();
    size_t t = 0;
    for (int m = 0; m < cin; m++) {
        const float *map = in + (size_t)m * hw;
        for (int kx = 0; kx < kw; kx++)
            for (int ky = 0; ky < kh; ky++, t++) {
                const float *src = map + (size_t)ky * (size_t)wd + (size_t)kx;
                __m512 s[2];
                for (int j = 0; j < NX; j++) {
                    s[j] = _mm512_maskz_loadu_ps(lo[j], src + off[j]);
                    if (hi[j])
                        s[j] = _mm512_mask_loadu_ps(s[j], hi[j], src + off[j] + (kw - 1));
                }
                for (int b = 0; b < KB; b++) {
                    const __m512 c = _mm512_set1_ps(w[(size_t)(k0 + b) * K + t]);
                    for (int j = 0; j < NX; j++)
                        acc[b][j] = _mm512_add_ps(acc[b][j], _mm512_mul_ps(c, s[j]));
                }
            }
    }
    for (int b = 0; b < KB; b++) {
        const __m512 bb = _mm512_set1_ps(bias[k0 + b]);
        float *o = out + (size_t)(k0 + b) * (size_t)oh * (size_t)ow;
        for (int j = 0; j < NX; j++)
            _mm512_storeu_ps(o + q[j], _mm512_add_ps(acc[b][j], bb));
    }
}

AVX512_FN void fa_validator_conv_avx512(const float *w, const float *bias, int cin, int cout,
                                        int kh, int kw, int h, int wd, const float *in,
                                        float *out, float *row)
{
    const int oh = h - kh + 1, ow = wd - kw + 1;
    if (ow < 16) {
        fa_validator_conv_avx2(w, bias, cin, cout, kh, kw, h, wd, in, out, row);
        return;
    }
    const int total = oh * ow;
    for (int q0 = 0; q0 < total; q0 += 32) {
        int q[2], nx = 0;
        for (int qb = q0; qb < total && nx < 2; qb += 16)
            q[nx++] = qb + 16 <= total ? qb : total - 16;
        int k0 = 0;
        if (nx == 2) {
            for (; k0 + 10 <= cout; k0 += 10)
                tile16(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, q, 10, 2);
            for (; k0 < cout; k0++)
                tile16(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, q, 1, 2);
        } else {
            for (; k0 + 10 <= cout; k0 += 10)
                tile16(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, q, 10, 1);
            for (; k0 < cout; k0++)
                tile16(w, bias, cin, kh, kw, h, wd, oh, ow, in, out, k0, q, 1, 1);
        }
    }
}

#endif
