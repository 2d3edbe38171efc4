/* warp_grey_avx2.c - the AVX2 twins of warp_grey.c's fa_warp_affine_grey and grey conversion.
 * The warp: the same fixed-point positions (32-bit lanes where a row's positions fit: the add
 * and the arithmetic shift then give the scalar code's 64-bit values), the four corners gathered
 * (as two adjacent byte pairs) and widened to float, and OpenCV's weights and sum
 * v00*w0 + v01*w1 + v10*w2 + v11*w3 with separate multiplies and adds, left to right: the same
 * float for every pixel. */
#include <limits.h>
#include <math.h>

#include "cv/warp_grey_kernels.h"
#include "cv/warp_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))

/* fa_cv_round (round.c), here where the compiler can inline rint as one instruction. */
AVX2_FN static inline int round_cv(double v)
{
    if (!(v > -2147483648.5 && v < 2147483647.5))
        return INT_MIN;
    return (int)rint(v);
}

/* OpenCV's bilinear weights from the 1/32-pixel positions X, Y and the sum
 * v00*w0 + v01*w1 + v10*w2 + v11*w3, separate multiplies and adds, left to right. */
AVX2_FN static inline __attribute__((always_inline)) __m256
bilinear8(__m256i X, __m256i Y, __m256 v0, __m256 v1, __m256 v2, __m256 v3)
{
    const __m256i m31 = _mm256_set1_epi32(INTER_TAB - 1);
    const __m256 inv = _mm256_set1_ps(1.f / INTER_TAB), one = _mm256_set1_ps(1.f);
    const __m256 ax = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(X, m31)), inv);
    const __m256 ay = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(Y, m31)), inv);
    const __m256 wx0 = _mm256_sub_ps(one, ax), wy0 = _mm256_sub_ps(one, ay);
    const __m256 w0 = _mm256_mul_ps(wy0, wx0), w1 = _mm256_mul_ps(wy0, ax);
    const __m256 w2 = _mm256_mul_ps(ay, wx0), w3 = _mm256_mul_ps(ay, ax);
    __m256 v = _mm256_add_ps(_mm256_mul_ps(v0, w0), _mm256_mul_ps(v1, w1));
    v = _mm256_add_ps(v, _mm256_mul_ps(v2, w2));
    return _mm256_add_ps(v, _mm256_mul_ps(v3, w3));
}

/* Eight pixels from their 1/32-pixel positions X, Y; stores them at d. */
AVX2_FN static inline __attribute__((always_inline)) void
pixels8(const fa_grey *src, __m256i X, __m256i Y, float *d)
{
    const __m256i lo = _mm256_set1_epi32(-32768), hi = _mm256_set1_epi32(32767);
    const __m256i neg1 = _mm256_set1_epi32(-1);
    const __m256i sx = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(X, INTER_BITS), lo), hi);
    const __m256i sy = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(Y, INTER_BITS), lo), hi);
    /* all four corners inside: sx >= 0, sy >= 0, sx + 1 < w, sy + 1 < h */
    __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(sx, neg1), _mm256_cmpgt_epi32(sy, neg1));
    in = _mm256_and_si256(in, _mm256_cmpgt_epi32(_mm256_set1_epi32(src->width - 1), sx));
    in = _mm256_and_si256(in, _mm256_cmpgt_epi32(_mm256_set1_epi32(src->height - 1), sy));
    if (_mm256_movemask_ps(_mm256_castsi256_ps(in)) != 0xff) {
        int32_t xs[8], ys[8];
        _mm256_storeu_si256((__m256i *)(void *)xs, X);
        _mm256_storeu_si256((__m256i *)(void *)ys, Y);
        for (int l = 0; l < 8; l++)
            d[l] = fa_grey_sample(src, xs[l], ys[l]);
        return;
    }
    const __m256i idx =
        _mm256_add_epi32(_mm256_mullo_epi32(sy, _mm256_set1_epi32(src->stride)), sx);
    const uint8_t *p = src->px;
    const size_t st = (size_t)src->stride;
    /* each corner pair (v00, v01) and (v10, v11) is two adjacent bytes: one 32-bit gather
     * element per pair (its two bytes beyond lie in the row, the next one, or FA_GREY_PAD), then
     * the two bytes widened to float, exactly the values OpenFace's Mat_<float> holds */
    const int *top = (const int *)(const void *)p;
    const int *bot = (const int *)(const void *)(p + st);
    const __m256i t = _mm256_i32gather_epi32(top, idx, 1);
    const __m256i b = _mm256_i32gather_epi32(bot, idx, 1);
    const __m256i ff = _mm256_set1_epi32(0xff);
    const __m256 v0 = _mm256_cvtepi32_ps(_mm256_and_si256(t, ff));
    const __m256 v1 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(t, 8), ff));
    const __m256 v2 = _mm256_cvtepi32_ps(_mm256_and_si256(b, ff));
    const __m256 v3 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(b, 8), ff));
    _mm256_storeu_ps(d, bilinear8(X, Y, v0, v1, v2, v3));
}

/* Eight pixels per step: two 16-byte loads (pixels 0-3 and 4-7 at the start of each 128-bit
 * lane), byte shuffles to 16-bit pairs (B, G) and (R, 1) per pixel, and two multiply-adds with
 * (3735, 19235) and (9798, 1 << 14), all within int16: the scalar integer exactly (at most
 * 255 * 32768 + 16384), shifted and packed to bytes. A load reads 16 bytes from a pixel's first, so the loop stops where
 * that would pass the row's last byte; the rest goes to fa_grey_row. */
AVX2_FN void fa_grey_row_avx2(const uint8_t *s, int n, uint8_t *d)
{
    const __m256i shuf_bg = _mm256_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10,
                                             -1, 0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1,
                                             10, -1);
    const __m256i shuf_r = _mm256_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1,
                                            -1, -1, 2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1,
                                            11, -1, -1, -1);
    const __m256i k_bg = _mm256_set1_epi32(3735 | 19235 << 16);
    const __m256i k_r = _mm256_set1_epi32(9798 | 1 << 30); /* (9798, 16384) */
    const __m256i one_hi = _mm256_set1_epi32(1 << 16);
    int x = 0;
    /* pixel x + 4's 16-byte load ends at byte 3x + 27, at most the row's last, 3n - 1 */
    for (; 3 * x + 27 <= 3 * n - 1; x += 8) {
        const __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)(s + 3 * x));
        const __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(s + 3 * x + 12));
        const __m256i px = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        const __m256i bg = _mm256_shuffle_epi8(px, shuf_bg);
        const __m256i r1 = _mm256_or_si256(_mm256_shuffle_epi8(px, shuf_r), one_hi);
        const __m256i v = _mm256_add_epi32(_mm256_madd_epi16(bg, k_bg), _mm256_madd_epi16(r1, k_r));
        const __m256i g = _mm256_srli_epi32(v, 15); /* 0..255: the packs do not saturate */
        const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(g), _mm256_extracti128_si256(g, 1));
        _mm_storel_epi64((__m128i *)(void *)(d + x), _mm_packus_epi16(w, w));
    }
    fa_grey_row(s + 3 * x, n - x, d + x);
}

AVX2_FN void fa_warp_affine_grey_avx2(const fa_grey *src, const double M[6], int dw, int dh,
                                      float *dst, int dst_stride)
{
    enum { COLS = 64 }; /* as warp_grey.c */
    const int round_delta = AB_SCALE / INTER_TAB / 2;
    /* gathers index bytes with 32-bit offsets */
    const int gather_ok = (int64_t)src->stride * (int64_t)src->height < INT_MAX;
    int32_t adelta[COLS], bdelta[COLS];
    for (int x0 = 0; x0 < dw; x0 += COLS) {
        const int nx = dw - x0 < COLS ? dw - x0 : COLS;
        int64_t amin = INT64_MAX, amax = INT64_MIN, bmin = INT64_MAX, bmax = INT64_MIN;
        for (int x = 0; x < nx; x++) {
            adelta[x] = round_cv(M[0] * (x0 + x) * AB_SCALE);
            bdelta[x] = round_cv(M[3] * (x0 + x) * AB_SCALE);
            amin = adelta[x] < amin ? adelta[x] : amin;
            amax = adelta[x] > amax ? adelta[x] : amax;
            bmin = bdelta[x] < bmin ? bdelta[x] : bmin;
            bmax = bdelta[x] > bmax ? bdelta[x] : bmax;
        }
        for (int y = 0; y < dh; y++) {
            const int64_t X0 = (int64_t)round_cv((M[1] * y + M[2]) * AB_SCALE) + round_delta;
            const int64_t Y0 = (int64_t)round_cv((M[4] * y + M[5]) * AB_SCALE) + round_delta;
            float *d = dst + (size_t)y * (size_t)dst_stride + (size_t)x0;
            if (!gather_ok || nx < 8 || X0 + amin < INT32_MIN || X0 + amax > INT32_MAX ||
                Y0 + bmin < INT32_MIN || Y0 + bmax > INT32_MAX) {
                for (int x = 0; x < nx; x++)
                    d[x] = fa_grey_sample(src, fa_floor_shr(X0 + adelta[x], AB_BITS - INTER_BITS),
                                          fa_floor_shr(Y0 + bdelta[x], AB_BITS - INTER_BITS));
                continue;
            }
            /* X0 + adelta[x] fits in 32 bits: the lane add is exact, the arithmetic shift floors */
            const __m256i X0v = _mm256_set1_epi32((int32_t)X0);
            const __m256i Y0v = _mm256_set1_epi32((int32_t)Y0);
            for (int xb = 0; xb < nx; xb += 8) {
                const int xs = xb + 8 <= nx ? xb : nx - 8; /* the last block ends at nx */
                const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(adelta + xs));
                const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(bdelta + xs));
                pixels8(src, _mm256_srai_epi32(_mm256_add_epi32(X0v, a), AB_BITS - INTER_BITS),
                        _mm256_srai_epi32(_mm256_add_epi32(Y0v, b), AB_BITS - INTER_BITS), d + xs);
            }
        }
    }
}

/* fa_grey_row's integer for the BGR bytes b, g, r in the low bytes of three lanes' shifts. */
AVX2_FN static inline __m256 grey8(__m256i px, int shift)
{
    const __m256i ff = _mm256_set1_epi32(0xff);
    const __m256i b = _mm256_and_si256(_mm256_srli_epi32(px, shift), ff);
    const __m256i g = _mm256_and_si256(_mm256_srli_epi32(px, shift + 8), ff);
    const __m256i r = _mm256_and_si256(_mm256_srli_epi32(px, shift + 16), ff);
    __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(b, _mm256_set1_epi32(3735)),
                                 _mm256_mullo_epi32(g, _mm256_set1_epi32(19235)));
    v = _mm256_add_epi32(v, _mm256_mullo_epi32(r, _mm256_set1_epi32(9798)));
    return _mm256_cvtepi32_ps(_mm256_srli_epi32(_mm256_add_epi32(v, _mm256_set1_epi32(1 << 14)), 15));
}

AVX2_FN void fa_remap_bgr_grey_avx2(const fa_image *img, int x0, int y0, int w, int h,
                                    const float *map_x, const float *map_y, int map_stride, int dw,
                                    int dh, float *dst, int dst_stride)
{
    const size_t st = (size_t)img->stride;
    /* gathers index bytes with 32-bit offsets from the rectangle's first pixel */
    const int gather_ok = dw >= 8 && w >= 2 && h >= 2 && (int64_t)img->stride * (int64_t)h < INT_MAX - 16;
    const uint8_t *base = img->bgr + (size_t)y0 * st + 3 * (size_t)x0;
    const __m256i lo = _mm256_set1_epi32(-32768), hi = _mm256_set1_epi32(32767);
    const __m256i neg1 = _mm256_set1_epi32(-1);
    const __m256 tab = _mm256_set1_ps((float)INTER_TAB);
    for (int y = 0; y < dh; y++) {
        const float *mx = map_x + (size_t)y * (size_t)map_stride;
        const float *my = map_y + (size_t)y * (size_t)map_stride;
        float *d = dst + (size_t)y * (size_t)dst_stride;
        if (!gather_ok) {
            fa_remap_bgr_grey_row(img, x0, y0, w, h, mx, my, dw, d);
            continue;
        }
        for (int xb = 0; xb < dw; xb += 8) {
            const int xs = xb + 8 <= dw ? xb : dw - 8; /* the last block ends at dw */
            /* cvRound(map * 32): the product is exact, cvtps rounds half to even as rint, and
             * gives INT_MIN where fa_cv_round does (out of range, NaN) */
            const __m256i X = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(mx + xs), tab));
            const __m256i Y = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(my + xs), tab));
            const __m256i sx = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(X, INTER_BITS), lo), hi);
            const __m256i sy = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(Y, INTER_BITS), lo), hi);
            __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(sx, neg1), _mm256_cmpgt_epi32(sy, neg1));
            in = _mm256_and_si256(in, _mm256_cmpgt_epi32(_mm256_set1_epi32(w - 1), sx));
            in = _mm256_and_si256(in, _mm256_cmpgt_epi32(_mm256_set1_epi32(h - 1), sy));
            const int inside = _mm256_movemask_ps(_mm256_castsi256_ps(in));
            /* pixel (sx, sy) from 4 bytes at its B (B G R, then the next B, unused) and pixel
             * (sx + 1, sy) from 4 bytes one before its B (R of the first, then B G R): both
             * within the two pixels, which lie in the rectangle (w, h >= 2); a lane with a tap
             * outside reads clamped ones and is done again one pixel at a time below (the
             * template's masked pixels, at -1, are such) */
            const __m256i cx = _mm256_min_epi32(_mm256_max_epi32(sx, _mm256_setzero_si256()),
                                                _mm256_set1_epi32(w - 2));
            const __m256i cy = _mm256_min_epi32(_mm256_max_epi32(sy, _mm256_setzero_si256()),
                                                _mm256_set1_epi32(h - 2));
            const __m256i idx = _mm256_add_epi32(_mm256_mullo_epi32(cy, _mm256_set1_epi32((int)st)),
                                                 _mm256_mullo_epi32(cx, _mm256_set1_epi32(3)));
            const int *r0 = (const int *)(const void *)base;
            const int *r1 = (const int *)(const void *)(base + st);
            const int *r0b = (const int *)(const void *)(base + 2);
            const int *r1b = (const int *)(const void *)(base + st + 2);
            const __m256 v0 = grey8(_mm256_i32gather_epi32(r0, idx, 1), 0);
            const __m256 v1 = grey8(_mm256_i32gather_epi32(r0b, idx, 1), 8);
            const __m256 v2 = grey8(_mm256_i32gather_epi32(r1, idx, 1), 0);
            const __m256 v3 = grey8(_mm256_i32gather_epi32(r1b, idx, 1), 8);
            _mm256_storeu_ps(d + xs, bilinear8(X, Y, v0, v1, v2, v3));
            if (inside != 0xff)
                for (int l = 0; l < 8; l++)
                    if (!(inside >> l & 1))
                        fa_remap_bgr_grey_row(img, x0, y0, w, h, mx + xs + l, my + xs + l, 1,
                                              d + xs + l);
        }
    }
}

#endif
