/* warp_affine.c - cv::warpAffine(INTER_LINEAR, BORDER_CONSTANT 0) on 8-bit BGR, bit-exact with
 * OpenCV 4.6 (OpenFace's AlignFaceMask warp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(FA_NO_SIMD)
#include <emmintrin.h>
#define FA_ALIGN_SSE2 1
/* An AVX2 copy of the warp's inner loop, chosen at run time; integer arithmetic, so identical. */
#if defined(__GNUC__) && !defined(FA_NO_AVX2)
#include <immintrin.h>
#define FA_ALIGN_AVX2 1
#endif
#endif

#include "cv/cv.h"

#define MAX_SIDE FA_WARP_MAX_SIDE

/* ---- cv::warpAffine, INTER_LINEAR, BORDER_CONSTANT 0, 8UC3 ----------------------------- */

enum { AB_BITS = 10, AB_SCALE = 1 << AB_BITS, INTER_BITS = 5, INTER_TAB = 1 << INTER_BITS };

static int saturate_short(int64_t v)
{
    return v < -32768 ? -32768 : v > 32767 ? 32767 : (int)v;
}

/* Inverts the forward matrix the way cv::warpAffine does (without WARP_INVERSE_MAP). */
static void invert_affine(const float Mf[6], double M[6])
{
    for (int k = 0; k < 6; k++)
        M[k] = Mf[k];
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0 ? 1. / D : 0;
    double A11 = M[4] * D, A22 = M[0] * D;
    M[0] = A11;
    M[1] *= -D;
    M[3] *= -D;
    M[4] = A22;
    double b1 = -M[0] * M[2] - M[1] * M[5];
    double b2 = -M[3] * M[2] - M[4] * M[5];
    M[2] = b1;
    M[5] = b2;
}

/* One output pixel: remapBilinear's fixed-point sum. OpenCV's weight for corner (i, j) is
 * (32-fx or fx)*(32-fy or fy)*32 out of 2^15, so (sum*32 + 2^14) >> 15 == (sum + 512) >> 10.
 * (Its table stores the fx=fy=0 entry as 32767/0/0/1, which gives the same result.) Samples
 * outside the frame are the border value 0. */
static void sample_pixel(const fa_image *img, int sx, int sy, int fx, int fy, uint8_t *d)
{
    const int wx[2] = {INTER_TAB - fx, fx}, wy[2] = {INTER_TAB - fy, fy};
    int acc[3] = {512, 512, 512};
    for (int j = 0; j < 2; j++) {
        int y = sy + j;
        if (y < 0 || y >= img->height)
            continue;
        const uint8_t *row = img->bgr + (size_t)y * (size_t)img->stride;
        for (int i = 0; i < 2; i++) {
            int x = sx + i;
            if (x < 0 || x >= img->width)
                continue;
            int w = wx[i] * wy[j];
            const uint8_t *p = row + 3 * x;
            acc[0] += w * p[0];
            acc[1] += w * p[1];
            acc[2] += w * p[2];
        }
    }
    for (int c = 0; c < 3; c++)
        d[c] = (uint8_t)(acc[c] >> 10);
}

/* The interior case of sample_pixel: all four samples inside. Interpolating along x and then y
 * in integers gives the same sum: top = p00*(32-fx) + p01*fx = 32*p00 + (p01-p00)*fx, and
 * 32*top + (bot-top)*fy = top*(32-fy) + bot*fy. */
static void sample_inside(const uint8_t *p, size_t stride, int fx, int fy, uint8_t *d)
{
    const uint8_t *q = p + stride;
    for (int c = 0; c < 3; c++) {
        int top = (p[c] << 5) + (p[c + 3] - p[c]) * fx;
        int bot = (q[c] << 5) + (q[c + 3] - q[c]) * fx;
        d[c] = (uint8_t)(((top << 5) + (bot - top) * fy + 512) >> 10);
    }
}

/* floor(v / 2^s) for |v| < 2^39 with only a shift of a non-negative number. */
static int64_t floor_shr(int64_t v, int s)
{
    const int64_t bias = (int64_t)1 << 40;
    return ((v + bias) >> s) - (bias >> s);
}

/* One output pixel from its fixed-point source position v = (X, Y) in 1/1024 pixel: the
 * general case, including positions near or beyond the frame's edge. */
static void warp_pixel(const fa_image *src, int64_t vx, int64_t vy, uint8_t *d)
{
    int64_t X = floor_shr(vx, AB_BITS - INTER_BITS), Y = floor_shr(vy, AB_BITS - INTER_BITS);
    int sx = saturate_short(floor_shr(X, INTER_BITS));
    int sy = saturate_short(floor_shr(Y, INTER_BITS));
    int fx = (int)(X & (INTER_TAB - 1)), fy = (int)(Y & (INTER_TAB - 1));
    if (sx >= 0 && sy >= 0 && sx < src->width - 1 && sy < src->height - 1)
        sample_inside(src->bgr + (size_t)sy * (size_t)src->stride + 3 * (size_t)sx,
                      (size_t)src->stride, fx, fy, d);
    else if (sx >= src->width || sx + 1 < 0 || sy >= src->height || sy + 1 < 0)
        d[0] = d[1] = d[2] = 0;
    else
        sample_pixel(src, sx, sy, fx, fy, d);
}

/* Pixels x..size-1 of a row one at a time: what the vector row loops leave over. */
static void warp_tail(const fa_image *src, const int32_t *adelta, const int32_t *bdelta, int64_t X0,
                      int64_t Y0, const uint8_t *m, int x, int size, uint8_t *d)
{
    for (; x < size; x++) {
        uint8_t *dk = d + 3 * x;
        if (m && !m[x])
            dk[0] = dk[1] = dk[2] = 0;
        else
            warp_pixel(src, X0 + adelta[x], Y0 + bdelta[x], dk);
    }
}

enum { POS_BIAS = 1 << 26 }; /* makes the row's 1/1024-pixel positions non-negative */

/* Whether a row's source positions all lie within +-2^15 pixels (checked at both ends: the
 * per-column increments are monotone), so 32-bit biased positions need no saturation. */
static int row_is_small(const int32_t *adelta, const int32_t *bdelta, int64_t X0, int64_t Y0,
                        int size)
{
    const int64_t lim = (int64_t)1 << 25;
    const int64_t ends[4] = {X0 + adelta[0], X0 + adelta[size - 1], Y0 + bdelta[0],
                             Y0 + bdelta[size - 1]};
    for (int k = 0; k < 4; k++)
        if (ends[k] <= -lim || ends[k] >= lim)
            return 0;
    return 1;
}

#ifdef FA_ALIGN_SSE2
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
static void warp_row_sse2(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
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
                warp_pixel(src, X0 + adelta[x + k], Y0 + bdelta[x + k], dk);
        }
    }
    warp_tail(src, adelta, bdelta, X0, Y0, m, x, size, d);
}
#endif

#ifdef FA_ALIGN_AVX2
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
AVX2_FN void warp_row_avx2(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
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
            warp_pixel(src, X0 + adelta[x + k], Y0 + bdelta[x + k], d + 3 * (x + k));
        }
    }
    warp_tail(src, adelta, bdelta, X0, Y0, m, x, size, d);
}
#endif

/* A small row (row_is_small) in 32-bit arithmetic without saturation. */
static void warp_row_small(const fa_image *src, const int32_t *adelta, const int32_t *bdelta,
                           int64_t X0, int64_t Y0, const uint8_t *m, int size, uint8_t *d)
{
    const int32_t xb = (int32_t)(X0 + POS_BIAS), yb = (int32_t)(Y0 + POS_BIAS);
    const size_t stride = (size_t)src->stride;
    const unsigned w1 = (unsigned)src->width - 1, h1 = (unsigned)src->height - 1;
    for (int x = 0; x < size; x++, d += 3) {
        if (m && !m[x]) {
            d[0] = d[1] = d[2] = 0;
            continue;
        }
        int32_t vx = xb + adelta[x], vy = yb + bdelta[x];
        int sx = (vx >> AB_BITS) - (POS_BIAS >> AB_BITS), sy = (vy >> AB_BITS) - (POS_BIAS >> AB_BITS);
        int fx = (vx >> (AB_BITS - INTER_BITS)) & (INTER_TAB - 1);
        int fy = (vy >> (AB_BITS - INTER_BITS)) & (INTER_TAB - 1);
        if ((unsigned)sx < w1 && (unsigned)sy < h1)
            sample_inside(src->bgr + (size_t)sy * stride + 3 * (size_t)sx, stride, fx, fy, d);
        else
            warp_pixel(src, X0 + adelta[x], Y0 + bdelta[x], d);
    }
}

/* WarpAffineInvoker + remapBilinear: source positions in 1/32 pixel from a 10-bit fixed-point
 * row start plus a per-column increment, each rounded separately (fa_cv_round keeps them within
 * 32 bits, so their sums stay far below 2^39). Pixels where mask (if any) is 0 are set to 0
 * without sampling. */
/* Row y's fixed-point source position at x = 0. */
static void row_origin(const double M[6], int y, int64_t *X0, int64_t *Y0)
{
    const int round_delta = AB_SCALE / INTER_TAB / 2;
    *X0 = (int64_t)fa_cv_round((M[1] * y + M[2]) * AB_SCALE) + round_delta;
    *Y0 = (int64_t)fa_cv_round((M[4] * y + M[5]) * AB_SCALE) + round_delta;
}

void fa_warp_affine_masked_rows(const fa_image *src, const float Mf[6], int size, const uint8_t *mask,
                      uint8_t *out)
{
    double M[6];
    invert_affine(Mf, M);
    int32_t adelta[MAX_SIDE], bdelta[MAX_SIDE];
    for (int x = 0; x < size; x++) {
        adelta[x] = fa_cv_round(M[0] * x * AB_SCALE);
        bdelta[x] = fa_cv_round(M[3] * x * AB_SCALE);
    }
#ifdef FA_ALIGN_AVX2
    const int avx2 = __builtin_cpu_supports("avx2");
#endif
    for (int y = 0; y < size; y++) {
        int64_t X0, Y0;
        row_origin(M, y, &X0, &Y0);
        const uint8_t *m = mask ? mask + (size_t)y * (size_t)size : NULL;
        uint8_t *d = out + (size_t)y * (size_t)size * 3;
        if (row_is_small(adelta, bdelta, X0, Y0, size)) {
#ifdef FA_ALIGN_AVX2
            if (avx2 && src->stride < 32768) {
                warp_row_avx2(src, adelta, bdelta, X0, Y0, m, size, d);
                continue;
            }
#endif
#ifdef FA_ALIGN_SSE2
            if (src->stride < 32768) {
                warp_row_sse2(src, adelta, bdelta, X0, Y0, m, size, d);
                continue;
            }
#endif
            warp_row_small(src, adelta, bdelta, X0, Y0, m, size, d);
            continue;
        }
        for (int x = 0; x < size; x++, d += 3) {
            if (m && !m[x])
                d[0] = d[1] = d[2] = 0;
            else
                warp_pixel(src, X0 + adelta[x], Y0 + bdelta[x], d);
        }
    }
}

faceau_status fa_warp_check(const fa_image *img, int size, const void *out, fa_err *err)
{
    if (!img || !img->bgr || !out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: NULL image or output");
    if (img->width < 1 || img->height < 1 || img->stride < 3 * img->width)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: bad image geometry %dx%d stride %d",
                       img->width, img->height, img->stride);
    if (size < 1 || size > MAX_SIDE)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: size %d outside 1..%d", size, MAX_SIDE);
    return FACEAU_OK;
}

faceau_status fa_warp_affine(const fa_image *src, const float M[6], int size, uint8_t *out,
                             fa_err *err)
{
    faceau_status st = M ? fa_warp_check(src, size, out, err)
                         : fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: NULL matrix");
    if (st)
        return st;
    fa_warp_affine_masked_rows(src, M, size, NULL, out);
    return FACEAU_OK;
}
