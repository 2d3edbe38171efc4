/* warp_affine_sse2.c - the SSE2 twin of warp_affine.c's small-row loop (warp_row_small): four
 * pixels at a time, the same integer arithmetic, so the same bytes. */
#include "cv/warp_kernels.h"

#if FA_WARP_SSE2
#include <emmintrin.h>

/* Channels of pixels p and p+3 as 16-bit pairs (p0 p3 p1 p4 p2 p5 . .); reads p[0..7]. */
static __m128i load_pair(const uint8_t *p)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm_unpacklo_epi8(_mm_unpacklo_epi8(v, _mm_srli_si128(v, 3)), _mm_setzero_si128());
}

/* sample_inside with the channels in SIMD lanes, as OpenCV's RemapVec_8u multiply-adds them;
 * integer arithmetic, so identical. w0 = w00 | w01 << 16, w1 = w10 | w11 << 16. Stores 4
 * bytes (the 4th is junk) unless last. */
static void sample_sse2(const uint8_t *p, size_t stride, int32_t w0, int32_t w1, int last,
                        uint8_t *d)
{
    __m128i top = _mm_madd_epi16(load_pair(p), _mm_set1_epi32(w0));
    __m128i bot = _mm_madd_epi16(load_pair(p + stride), _mm_set1_epi32(w1));
    __m128i v = _mm_srli_epi32(_mm_add_epi32(_mm_add_epi32(top, bot), _mm_set1_epi32(512)), 10);
    v = _mm_packs_epi32(v, v);
    uint32_t px = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(v, v));
    if (!last) {
        memcpy(d, &px, 4); /* the 4th byte belongs to the next pixel, written after this */
    } else {
        d[0] = (uint8_t)px;
        d[1] = (uint8_t)(px >> 8);
        d[2] = (uint8_t)(px >> 16);
    }
}

/* Four pixels' positions at once: offsets into the image, packed weights, and which of them
 * can be sampled with 8-byte loads (0 <= sx <= w-3, 0 <= sy <= h-2) as a bit mask. */
static int positions4(const fa_image *src, __m128i vx, __m128i vy, int32_t *off, int32_t *w0,
                      int32_t *w1)
{
    const __m128i unbias = _mm_set1_epi32(POS_BIAS >> AB_BITS), m31 = _mm_set1_epi32(31);
    const __m128i c32 = _mm_set1_epi32(INTER_TAB), neg1 = _mm_set1_epi32(-1);
    __m128i sx = _mm_sub_epi32(_mm_srai_epi32(vx, AB_BITS), unbias);
    __m128i sy = _mm_sub_epi32(_mm_srai_epi32(vy, AB_BITS), unbias);
    __m128i fx = _mm_and_si128(_mm_srli_epi32(vx, AB_BITS - INTER_BITS), m31);
    __m128i fy = _mm_and_si128(_mm_srli_epi32(vy, AB_BITS - INTER_BITS), m31);
    __m128i ok = _mm_and_si128(_mm_cmpgt_epi32(sx, neg1), _mm_cmpgt_epi32(sy, neg1));
    ok = _mm_andnot_si128(_mm_cmpgt_epi32(sx, _mm_set1_epi32(src->width - 3)), ok);
    ok = _mm_andnot_si128(_mm_cmpgt_epi32(sy, _mm_set1_epi32(src->height - 2)), ok);
    __m128i s16 = _mm_packs_epi32(sx, sy); /* (sx0..3, sy0..3); exact, |s| <= 2^15 */
    __m128i pairs = _mm_unpacklo_epi16(s16, _mm_srli_si128(s16, 8));
    _mm_storeu_si128((__m128i *)(void *)off,
                     _mm_madd_epi16(pairs, _mm_set1_epi32(3 | src->stride << 16)));
    /* (32-fx | fx << 16) * (g | g << 16) lane-wise in 16 bits: each product <= 1024 */
    __m128i hx = _mm_or_si128(_mm_sub_epi32(c32, fx), _mm_slli_epi32(fx, 16));
    __m128i gy0 = _mm_sub_epi32(c32, fy);
    _mm_storeu_si128((__m128i *)(void *)w0,
                     _mm_mullo_epi16(hx, _mm_or_si128(gy0, _mm_slli_epi32(gy0, 16))));
    _mm_storeu_si128((__m128i *)(void *)w1,
                     _mm_mullo_epi16(hx, _mm_or_si128(fy, _mm_slli_epi32(fy, 16))));
    return _mm_movemask_ps(_mm_castsi128_ps(ok));
}

/* A small row (row_is_small) four pixels at a time. Needs stride < 2^15. */
void fa_warp_row_sse2(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
                          int64_t X0, int64_t Y0, const uint8_t *m, int size, uint8_t *d)
{
    const __m128i xb = _mm_set1_epi32((int32_t)(X0 + POS_BIAS));
    const __m128i yb = _mm_set1_epi32((int32_t)(Y0 + POS_BIAS));
    const size_t stride = (size_t)src->stride;
    int x = 0;
    for (; x + 4 <= size; x += 4) {
        int32_t off[4], w0[4], w1[4];
        __m128i ad = _mm_loadu_si128((const __m128i *)(const void *)(adelta + x));
        __m128i bd = _mm_loadu_si128((const __m128i *)(const void *)(bdelta + x));
        int ok = positions4(src, _mm_add_epi32(xb, ad), _mm_add_epi32(yb, bd), off, w0, w1);
        for (int k = 0; k < 4; k++) {
            uint8_t *dk = d + 3 * (x + k);
            if (m && !m[x + k])
                dk[0] = dk[1] = dk[2] = 0;
            else if (ok >> k & 1)
                sample_sse2(src->bgr + off[k], stride, w0[k], w1[k], x + k + 1 == size, dk);
            else
                fa_warp_pixel(src, X0 + adelta[x + k], Y0 + bdelta[x + k], dk);
        }
    }
    fa_warp_tail(src, adelta, bdelta, X0, Y0, m, x, size, d);
}
#else
typedef int fa_warp_sse2_unused; /* ISO C wants a declaration in every translation unit */
#endif
