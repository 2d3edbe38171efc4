/* warp_affine_avx2.c - the AVX2 twin of warp_affine.c's small-row loop (warp_row_small): eight
 * pixels at a time, the same integer arithmetic, so the same bytes. */
#include "cv/warp_kernels.h"

#if FA_BUILD_AVX2 && FA_WARP_SSE2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2"))) static

/* Eight pixels' positions (as positions4): offsets into the image, packed weights
 * w0 = w00 | w01 << 16 and w1 = w10 | w11 << 16, and the mask of those that can be sampled
 * with 8-byte loads. */
AVX2_FN int positions8(const fa_image *src, __m256i vx, __m256i vy, int32_t *off, __m256i *w0,
                       __m256i *w1)
{
    const __m256i unbias = _mm256_set1_epi32(POS_BIAS >> AB_BITS), m31 = _mm256_set1_epi32(31);
    const __m256i c32 = _mm256_set1_epi32(INTER_TAB), neg1 = _mm256_set1_epi32(-1);
    const __m256i sx = _mm256_sub_epi32(_mm256_srai_epi32(vx, AB_BITS), unbias);
    const __m256i sy = _mm256_sub_epi32(_mm256_srai_epi32(vy, AB_BITS), unbias);
    const __m256i fx = _mm256_and_si256(_mm256_srli_epi32(vx, AB_BITS - INTER_BITS), m31);
    const __m256i fy = _mm256_and_si256(_mm256_srli_epi32(vy, AB_BITS - INTER_BITS), m31);
    __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(sx, neg1), _mm256_cmpgt_epi32(sy, neg1));
    ok = _mm256_andnot_si256(_mm256_cmpgt_epi32(sx, _mm256_set1_epi32(src->width - 3)), ok);
    ok = _mm256_andnot_si256(_mm256_cmpgt_epi32(sy, _mm256_set1_epi32(src->height - 2)), ok);
    /* sy * stride + 3 * sx; only used where ok, where it is exact */
    const __m256i o = _mm256_add_epi32(_mm256_mullo_epi32(sy, _mm256_set1_epi32(src->stride)),
                                       _mm256_mullo_epi32(sx, _mm256_set1_epi32(3)));
    _mm256_storeu_si256((__m256i *)(void *)off, o);
    /* (32-fx | fx << 16) * (g | g << 16) lane-wise in 16 bits: each product <= 1024 */
    const __m256i hx = _mm256_or_si256(_mm256_sub_epi32(c32, fx), _mm256_slli_epi32(fx, 16));
    const __m256i gy0 = _mm256_sub_epi32(c32, fy);
    *w0 = _mm256_mullo_epi16(hx, _mm256_or_si256(gy0, _mm256_slli_epi32(gy0, 16)));
    *w1 = _mm256_mullo_epi16(hx, _mm256_or_si256(fy, _mm256_slli_epi32(fy, 16)));
    return _mm256_movemask_ps(_mm256_castsi256_ps(ok));
}

/* Rows p and p + 3 of two pixels (a in the low 128-bit lane, b in the high) as 16-bit pairs
 * (p0 p3 p1 p4 p2 p5 0 0), as load_pair gives them. */
AVX2_FN __m256i load_pair2(const uint8_t *a, const uint8_t *b)
{
    const __m256i pick = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
                                          0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
    const __m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)a);
    const __m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)b);
    return _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1), pick);
}

/* Pixels k and k + 1 of an 8-pixel step: the three channels (and a zero) as int32, pixel k in
 * the low lane. top/bot: their source pointers (a zero block for pixels not sampled here). */
AVX2_FN __m256i sample_pair(const uint8_t *const top[8], const uint8_t *const bot[8], int k,
                            __m256i w0, __m256i w1)
{
    const __m256i lanes = _mm256_setr_epi32(k, k, k, k, k + 1, k + 1, k + 1, k + 1);
    const __m256i a = _mm256_madd_epi16(load_pair2(top[k], top[k + 1]),
                                        _mm256_permutevar8x32_epi32(w0, lanes));
    const __m256i b = _mm256_madd_epi16(load_pair2(bot[k], bot[k + 1]),
                                        _mm256_permutevar8x32_epi32(w1, lanes));
    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_set1_epi32(512)), 10);
}

/* Stores eight pixels' results (pairs as sample_pair gives them) as 24 BGR bytes at d. */
AVX2_FN void store8(__m256i p01, __m256i p23, __m256i p45, __m256i p67, uint8_t *d)
{
    /* lanes after packing: (0 2 4 6 | 1 3 5 7) as BGRx dwords */
    const __m256i v = _mm256_packus_epi16(_mm256_packs_epi32(p01, p23), _mm256_packs_epi32(p45, p67));
    const __m256i ordered = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    const __m256i squeeze = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                             0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    const __m256i bgr = _mm256_shuffle_epi8(ordered, squeeze);
    const __m128i lo = _mm256_castsi256_si128(bgr), hi = _mm256_extracti128_si256(bgr, 1);
    _mm_storeu_si128((__m128i *)(void *)d, lo); /* its last 4 bytes are rewritten just below */
    _mm_storel_epi64((__m128i *)(void *)(d + 12), hi);
    const uint32_t tail = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(hi, 8));
    memcpy(d + 20, &tail, 4);
}

/* Bit k set where mask byte m[k] (of 8) is non-zero; all set without a mask. */
AVX2_FN int mask_bits8(const uint8_t *m)
{
    if (!m)
        return 0xFF;
    const __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)m);
    return ~_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) & 0xFF;
}

/* A small row (row_is_small) eight pixels at a time. Pixels outside the mask come out 0 by
 * sampling a zero block ((0 + 512) >> 10 == 0); in-mask pixels too close to the frame's edge
 * for 8-byte loads are redone one by one. Needs stride < 2^15. */
__attribute__((target("avx2"))) void fa_warp_row_avx2(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
                           int64_t X0, int64_t Y0, const uint8_t *m, int size, uint8_t *d)
{
    static const uint8_t zeros[16] = {0};
    const __m256i xb = _mm256_set1_epi32((int32_t)(X0 + POS_BIAS));
    const __m256i yb = _mm256_set1_epi32((int32_t)(Y0 + POS_BIAS));
    const size_t stride = (size_t)src->stride;
    int x = 0;
    for (; x + 8 <= size; x += 8) {
        int32_t off[8];
        __m256i w0, w1;
        const __m256i ad = _mm256_loadu_si256((const __m256i *)(const void *)(adelta + x));
        const __m256i bd = _mm256_loadu_si256((const __m256i *)(const void *)(bdelta + x));
        const int ok = positions8(src, _mm256_add_epi32(xb, ad), _mm256_add_epi32(yb, bd), off,
                                  &w0, &w1);
        const int in = mask_bits8(m ? m + x : NULL);
        const uint8_t *top[8], *bot[8];
        for (int k = 0; k < 8; k++) {
            const int use = (ok & in) >> k & 1;
            top[k] = use ? src->bgr + off[k] : zeros;
            bot[k] = use ? top[k] + stride : zeros;
        }
        store8(sample_pair(top, bot, 0, w0, w1), sample_pair(top, bot, 2, w0, w1),
               sample_pair(top, bot, 4, w0, w1), sample_pair(top, bot, 6, w0, w1), d + 3 * x);
        for (int redo = in & ~ok; redo; redo &= redo - 1) {
            const int k = __builtin_ctz((unsigned)redo);
            fa_warp_pixel(src, X0 + adelta[x + k], Y0 + bdelta[x + k], d + 3 * (x + k));
        }
    }
    fa_warp_tail(src, adelta, bdelta, X0, Y0, m, x, size, d);
}
#else
typedef int fa_warp_avx2_unused; /* ISO C wants a declaration in every translation unit */
#endif
