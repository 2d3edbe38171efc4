/* hog_avx2.c - the AVX2 twins of hog.c's row loops: the same always-inlined kernels
 * (hog_kernels.h) compiled for AVX2 without FMA, so the same bits; plus the byte shuffle that
 * splits a BGR row into planes. */
#include "au/hog_kernels.h"

#ifdef HOG_AVX2
/* 16 pixels per step with byte shuffles (SSSE3, implied by AVX2); reads exactly 48 bytes. */
__attribute__((target("avx2"))) void fa_hog_split_row_avx2(const uint8_t *bgr, int n, int32_t *b,
                                                         int32_t *g, int32_t *r)
{
    /* For each channel, the bytes it takes from each of the three 16-byte loads (-1: none). */
    static const int8_t pick[3][3][16] = {
        {{0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
         {-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1},
         {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13}},
        {{1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
         {-1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1},
         {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14}},
        {{2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
         {-1, -1, -1, -1, -1, 1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1},
         {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15}}};
    int32_t *dst[3] = {b, g, r};
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        const __m128i *s = (const __m128i *)(const void *)(bgr + 3 * x);
        const __m128i v[3] = {_mm_loadu_si128(s), _mm_loadu_si128(s + 1), _mm_loadu_si128(s + 2)};
        for (int c = 0; c < 3; c++) {
            __m128i o = _mm_setzero_si128();
            for (int k = 0; k < 3; k++)
                o = _mm_or_si128(o, _mm_shuffle_epi8(v[k], _mm_loadu_si128(
                                                               (const __m128i *)(const void *)pick[c][k])));
            __m256i *d = (__m256i *)(void *)(dst[c] + x);
            _mm256_storeu_si256(d, _mm256_cvtepu8_epi32(o));
            _mm256_storeu_si256(d + 1, _mm256_cvtepu8_epi32(_mm_srli_si128(o, 8)));
        }
    }
    split_row_scalar(bgr + 3 * x, n - x, b + x, g + x, r + x);
}

__attribute__((target("avx2"))) void fa_hog_row_pixels_avx2(const planes *p, int y, int visible_nc,
                                                            row_buf *rb)
{
    row_pixels_impl(p, y, visible_nc, 1, rb);
}

__attribute__((target("avx2"))) void fa_hog_votes_avx2(const row_buf *rb, const col_tab *t,
                                                       float vy0, float vy1, int visible_nc,
                                                       const votes *vt)
{
    votes_impl(rb, t, vy0, vy1, visible_nc, vt);
}
#else
typedef int fa_hog_avx2_unused; /* ISO C wants a declaration in every translation unit */
#endif
