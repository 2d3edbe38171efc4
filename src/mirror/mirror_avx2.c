/* mirror_avx2.c - the AVX2 twin of mirror.c's reflected pixels (fa_mirror_reflect_run): the
 * same fixed-point positions (64-bit lanes: the scalar code's sums and shifts), the same clamped
 * corners (each row's two gathered as one 8-byte element), and the same integer bilinear sum,
 * computed separably: (32 - fy) (p00 (32 - fx) + p01 fx) + fy (p10 (32 - fx) + p11 fx) is,
 * expanded, the scalar code's sum with the weights (32 - fx)(32 - fy), fx (32 - fy), ... Each
 * row of the separable form fits int16 (at most 255 * 32) and the multiply-add to 32 bits is
 * exact, so every byte equals the scalar one. */
#include <limits.h>

#include "mirror/mirror_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))

enum { FRAC = FA_MIRROR_FRAC };

/* Whether a fixed-point position lies within 2^20 px of the origin: then with mirror.c's bias
 * every lane's 1/32-px coordinate is positive and below 2^27, so 32-bit lanes hold it. */
static int near(int64_t q)
{
    const int64_t lim = (int64_t)1 << (FRAC + 20);
    return q > -lim && q < lim;
}

/* The 1/32-px coordinates of eight positions (a: lanes 0-3, b: 4-7), as mirror.c's sample
 * rounds them, in 32-bit lanes. */
AVX2_FN static inline __m256i to32(__m256i a, __m256i b)
{
    const __m256i bias = _mm256_set1_epi64x(((int64_t)1 << (FRAC + 21)) + ((int64_t)1 << (FRAC - 6)));
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    a = _mm256_permutevar8x32_epi32(_mm256_srli_epi64(_mm256_add_epi64(a, bias), FRAC - 5), even);
    b = _mm256_permutevar8x32_epi32(_mm256_srli_epi64(_mm256_add_epi64(b, bias), FRAC - 5), even);
    return _mm256_permute2x128_si256(a, b, 0x20);
}

/* 16 bytes from lo into the low lane, 16 from hi into the high one. */
AVX2_FN static inline __m256i load2(const uint8_t *lo, const uint8_t *hi)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)lo)),
                                   _mm_loadu_si128((const __m128i *)(const void *)hi), 1);
}

AVX2_FN static inline __m256i clamp(__m256i v, __m256i hi)
{
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_setzero_si256()), hi);
}

/* Four pixels' corners p0 (x0) and p1 (x1) of one source row, as int16 BGR0 (pixels 0, 1 in
 * the low lane, 2, 3 in the high), blended horizontally: p0 * 32 + (p1 - p0) fx, with fx per
 * pixel in both halves of its dword. */
AVX2_FN static inline __m256i hblend(__m256i a, __m256i b, __m256i fx)
{
    return _mm256_add_epi16(_mm256_slli_epi16(a, 5), _mm256_mullo_epi16(_mm256_sub_epi16(b, a), fx));
}

/* Four pixels (int16 BGRX; pixels 0, 1 in the low lane, 2, 3 in the high) blended vertically
 * with wy (per pixel (32 - fy, fy)) and rounded: four BGRX pixels as int16 in the same order. */
AVX2_FN static inline __m256i vblend(__m256i h0, __m256i h1, __m256i wy, __m256i sel_a, __m256i sel_b)
{
    const __m256i r = _mm256_set1_epi32(512);
    const __m256i a = _mm256_madd_epi16(_mm256_unpacklo_epi16(h0, h1), _mm256_permutevar8x32_epi32(wy, sel_a));
    const __m256i b = _mm256_madd_epi16(_mm256_unpackhi_epi16(h0, h1), _mm256_permutevar8x32_epi32(wy, sel_b));
    return _mm256_packus_epi32(_mm256_srli_epi32(_mm256_add_epi32(a, r), 10),
                               _mm256_srli_epi32(_mm256_add_epi32(b, r), 10));
}

AVX2_FN void fa_mirror_reflect_run_avx2(const fa_image *src, int64_t qx, int64_t qy, int64_t dqx,
                                        int64_t dqy, int n, uint8_t *out)
{
    int i = 0;
    /* the bytes a gather may read: from the first pixel's to the last pixel's third */
    const int64_t bytes = (int64_t)src->stride * (src->height - 1) + 3 * (int64_t)src->width;
    const int64_t last = (int64_t)n - 1;
    if (n >= 8 && bytes < INT_MAX && near(qx) && near(qy) && near(qx + last * dqx) && near(qy + last * dqy)) {
        const __m256i w1 = _mm256_set1_epi32(src->width - 1), h1 = _mm256_set1_epi32(src->height - 1);
        const __m256i w2 = _mm256_set1_epi32(src->width - 2), h2 = _mm256_set1_epi32(src->height - 2);
        const __m256i stride = _mm256_set1_epi32(src->stride), base = _mm256_set1_epi32(1 << 21);
        const __m256i m31 = _mm256_set1_epi32(31), c32 = _mm256_set1_epi32(32), zero = _mm256_setzero_si256();
        const __m256i safe = _mm256_set1_epi32((int)(bytes - 8)); /* an 8-byte gather at most here */
        const __m256i lo4 = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), hi4 = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
        const __m256i sel0 = _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2), sel1 = _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3);
        const __m256i sel4 = _mm256_setr_epi32(4, 4, 4, 4, 6, 6, 6, 6), sel5 = _mm256_setr_epi32(5, 5, 5, 5, 7, 7, 7, 7);
        /* a gathered 8-byte element holds the pixel at x0 and the one after it: to int16 BGR0 */
        const __m256i first = _mm256_setr_epi8(0, -1, 1, -1, 2, -1, -1, -1, 8, -1, 9, -1, 10, -1, -1, -1, 0, -1,
                                               1, -1, 2, -1, -1, -1, 8, -1, 9, -1, 10, -1, -1, -1);
        const __m256i second = _mm256_setr_epi8(3, -1, 4, -1, 5, -1, -1, -1, 11, -1, 12, -1, 13, -1, -1, -1, 3,
                                                -1, 4, -1, 5, -1, -1, -1, 11, -1, 12, -1, 13, -1, -1, -1);
        const __m256i bgr = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1,
                                             2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
        const __m256i pack24 = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
        /* the windowed path: a pixel's corners at its offset in a 16-byte window, to int16 BGR0
         * (0x80 + offset still has the top bit: a zero byte) */
        const __m256i pat0 = _mm256_setr_epi8(0, -128, 1, -128, 2, -128, -128, -128, 0, -128, 1, -128, 2, -128, -128,
                                              -128, 0, -128, 1, -128, 2, -128, -128, -128, 0, -128, 1, -128, 2, -128,
                                              -128, -128);
        const __m256i pat1 = _mm256_setr_epi8(3, -128, 4, -128, 5, -128, -128, -128, 3, -128, 4, -128, 5, -128, -128,
                                              -128, 3, -128, 4, -128, 5, -128, -128, -128, 3, -128, 4, -128, 5, -128,
                                              -128, -128);
        const __m256i bcast = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4,
                                               4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
        const __m256i two = _mm256_set1_epi32(2);
        const __m256i safe16 = _mm256_set1_epi32((int)(bytes - 16)); /* a 16-byte load at most here */
        const long long *p = (const long long *)(const void *)src->bgr;
        const __m256i steps = _mm256_setr_epi64x(0, dqx, 2 * dqx, 3 * dqx);
        const __m256i stepsy = _mm256_setr_epi64x(0, dqy, 2 * dqy, 3 * dqy);
        const __m256i sx4 = _mm256_set1_epi64x(4 * dqx), sy4 = _mm256_set1_epi64x(4 * dqy);
        const __m256i sx8 = _mm256_add_epi64(sx4, sx4), sy8 = _mm256_add_epi64(sy4, sy4);
        __m256i qxa = _mm256_add_epi64(_mm256_set1_epi64x(qx), steps);
        __m256i qya = _mm256_add_epi64(_mm256_set1_epi64x(qy), stepsy);
        __m256i qxb = _mm256_add_epi64(qxa, sx4), qyb = _mm256_add_epi64(qya, sy4);
        for (; i < n; i += 8) {
            if (i + 8 > n) {
                /* the last 8 pixels again, overlapping: the same bytes where they overlap */
                i = n - 8;
                qxa = _mm256_add_epi64(_mm256_set1_epi64x(qx + i * dqx), steps);
                qya = _mm256_add_epi64(_mm256_set1_epi64x(qy + i * dqy), stepsy);
                qxb = _mm256_add_epi64(qxa, sx4), qyb = _mm256_add_epi64(qya, sy4);
            }
            const __m256i X = to32(qxa, qxb), Y = to32(qya, qyb);
            qxa = _mm256_add_epi64(qxa, sx8), qxb = _mm256_add_epi64(qxb, sx8);
            qya = _mm256_add_epi64(qya, sy8), qyb = _mm256_add_epi64(qyb, sy8);
            const __m256i ix = _mm256_sub_epi32(_mm256_srli_epi32(X, 5), base);
            const __m256i iy = _mm256_sub_epi32(_mm256_srli_epi32(Y, 5), base);
            /* where a coordinate is clamped both corners are the same pixel (x1 = x0 or
             * y1 = y0): its weight fx (fy) is then zeroed, which gives the scalar sum exactly,
             * p0 (32 - f) + p0 f = 32 p0, and the gathered neighbour is never used */
            const __m256i cx = _mm256_or_si256(_mm256_cmpgt_epi32(zero, ix), _mm256_cmpgt_epi32(ix, w2));
            const __m256i cy = _mm256_or_si256(_mm256_cmpgt_epi32(zero, iy), _mm256_cmpgt_epi32(iy, h2));
            const __m256i x0 = clamp(ix, w1);
            const __m256i r0 = _mm256_mullo_epi32(clamp(iy, h1), stride);
            const __m256i o0 = _mm256_add_epi32(r0, _mm256_add_epi32(x0, _mm256_add_epi32(x0, x0)));
            const __m256i o1 = _mm256_add_epi32(o0, _mm256_andnot_si256(cy, stride));
            if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(o1, safe))) {
                /* near the frame's last pixel: an 8-byte gather would pass the end */
                fa_mirror_reflect_run(src, qx + i * dqx, qy + i * dqy, dqx, dqy, 8, out + 3 * i);
                continue;
            }
            const __m256i fx = _mm256_andnot_si256(cx, _mm256_and_si256(X, m31));
            const __m256i fy = _mm256_andnot_si256(cy, _mm256_and_si256(Y, m31));
            const __m256i fxw = _mm256_or_si256(fx, _mm256_slli_epi32(fx, 16));
            const __m256i wy = _mm256_or_si256(_mm256_sub_epi32(c32, fy), _mm256_slli_epi32(fy, 16));
            const __m256i fxl = _mm256_permutevar8x32_epi32(fxw, lo4), fxh = _mm256_permutevar8x32_epi32(fxw, hi4);
            /* Pixels 0-1, 2-3, 4-5 and 6-7 go two to a 128-bit lane. When a lane's two pixels
             * read the same source rows, at most 2 px apart, and nothing is clamped (a face
             * reflected about a nearly vertical line: neighbours come from neighbouring source
             * pixels), one 16-byte load per row holds both pixels' corners and byte shuffles
             * take them out; otherwise the corners are gathered. The same bytes either way. */
            const __m256i ixs = _mm256_shuffle_epi32(ix, _MM_SHUFFLE(2, 3, 0, 1)); /* the lane partner's */
            const __m256i xm = _mm256_min_epi32(ix, ixs);
            const __m256i dx = _mm256_sub_epi32(ix, xm);
            const __m256i ow = _mm256_add_epi32(r0, _mm256_add_epi32(xm, _mm256_add_epi32(xm, xm)));
            __m256i slow = _mm256_or_si256(cx, cy);
            slow = _mm256_or_si256(slow, _mm256_xor_si256(_mm256_cmpeq_epi32(iy, _mm256_shuffle_epi32(iy, _MM_SHUFFLE(2, 3, 0, 1))),
                                                          _mm256_set1_epi32(-1)));
            slow = _mm256_or_si256(slow, _mm256_cmpgt_epi32(dx, two));
            slow = _mm256_or_si256(slow, _mm256_cmpgt_epi32(_mm256_add_epi32(ow, stride), safe16));
            __m256i t03, t47, b03, b47;
            if (!_mm256_movemask_epi8(slow)) {
                const uint8_t *b = src->bgr;
                const size_t st = (size_t)src->stride;
                const size_t a0 = (size_t)_mm256_extract_epi32(ow, 0), a2 = (size_t)_mm256_extract_epi32(ow, 2);
                const size_t a4 = (size_t)_mm256_extract_epi32(ow, 4), a6 = (size_t)_mm256_extract_epi32(ow, 6);
                const __m256i w03 = load2(b + a0, b + a2), w03b = load2(b + a0 + st, b + a2 + st);
                const __m256i w47 = load2(b + a4, b + a6), w47b = load2(b + a4 + st, b + a6 + st);
                /* each pixel's byte offset in its window, 3 dx, in all 8 bytes of its slot */
                const __m256i d = _mm256_add_epi32(dx, _mm256_add_epi32(dx, dx));
                const __m256i dl = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(d, lo4), bcast);
                const __m256i dh = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(d, hi4), bcast);
                const __m256i l0 = _mm256_add_epi8(dl, pat0), l1 = _mm256_add_epi8(dl, pat1);
                const __m256i h0 = _mm256_add_epi8(dh, pat0), h1 = _mm256_add_epi8(dh, pat1);
                t03 = hblend(_mm256_shuffle_epi8(w03, l0), _mm256_shuffle_epi8(w03, l1), fxl);
                b03 = hblend(_mm256_shuffle_epi8(w03b, l0), _mm256_shuffle_epi8(w03b, l1), fxl);
                t47 = hblend(_mm256_shuffle_epi8(w47, h0), _mm256_shuffle_epi8(w47, h1), fxh);
                b47 = hblend(_mm256_shuffle_epi8(w47b, h0), _mm256_shuffle_epi8(w47b, h1), fxh);
            } else {
                const __m256i g0a = _mm256_i32gather_epi64(p, _mm256_castsi256_si128(o0), 1);
                const __m256i g0b = _mm256_i32gather_epi64(p, _mm256_extracti128_si256(o0, 1), 1);
                const __m256i g1a = _mm256_i32gather_epi64(p, _mm256_castsi256_si128(o1), 1);
                const __m256i g1b = _mm256_i32gather_epi64(p, _mm256_extracti128_si256(o1, 1), 1);
                t03 = hblend(_mm256_shuffle_epi8(g0a, first), _mm256_shuffle_epi8(g0a, second), fxl);
                t47 = hblend(_mm256_shuffle_epi8(g0b, first), _mm256_shuffle_epi8(g0b, second), fxh);
                b03 = hblend(_mm256_shuffle_epi8(g1a, first), _mm256_shuffle_epi8(g1a, second), fxl);
                b47 = hblend(_mm256_shuffle_epi8(g1b, first), _mm256_shuffle_epi8(g1b, second), fxh);
            }
            const __m256i v03 = vblend(t03, b03, wy, sel0, sel1), v47 = vblend(t47, b47, wy, sel4, sel5);
            /* bytes: pixels 0 1 4 5 | 2 3 6 7, put in order, then BGRX to BGR */
            __m256i v = _mm256_permute4x64_epi64(_mm256_packus_epi16(v03, v47), _MM_SHUFFLE(3, 1, 2, 0));
            v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, bgr), pack24);
            _mm_storeu_si128((__m128i *)(void *)(out + 3 * i), _mm256_castsi256_si128(v));
            _mm_storel_epi64((__m128i *)(void *)(out + 3 * i + 16), _mm256_extracti128_si256(v, 1));
        }
    }
    fa_mirror_reflect_run(src, qx + i * dqx, qy + i * dqy, dqx, dqy, n - i, out + 3 * i);
}

#endif
