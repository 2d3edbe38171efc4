/* align.c - OpenFace's similarity alignment with the face mask (FaceAnalysis::AlignFaceMask).
 *
 * Every step follows the float/double precision and the operation order of the OpenCV 4.6 calls
 * OpenFace makes (cv::mean, cv::sum, cv::gemm, cv::SVD, cv::warpAffine), because the aligned
 * face feeds HOG and a last-bit change of the warp matrix can move a pixel by one grey level. */
#include <float.h>
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

#include "internal.h"

#define N_RIGID 24
#define MAX_SIDE 256     /* largest aligned face we warp; bounds the stack buffers */
#define NO_TRI 0xFF      /* "no triangle" in the per-pixel triangle map */
#define MAX_TRIS 254

/* FaceAnalysis::extract_rigid_points: face outline, nose and eye corners. */
static const int rigid_idx[N_RIGID] = {1,  2,  3,  4,  12, 13, 14, 15, 27, 28, 29, 31,
                                       32, 33, 34, 35, 36, 39, 40, 41, 42, 45, 46, 47};

/* ---- triangulation ------------------------------------------------------------------- */

faceau_status fa_tris_load(const char *path, fa_tris *tris, fa_err *err)
{
    if (!path || !tris)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "triangulation: NULL argument");
    tris->n = 0;
    tris->idx = NULL;
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    fa_mat m;
    st = fa_textmat_read(f, path, &m, err);
    fclose(f);
    if (st)
        return st;
    if (m.cols != 3 || m.rows < 1 || m.rows > MAX_TRIS || m.type != FA_CV_32S) {
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                     "%s: expected a triangulation (1..%d rows x 3 cols, type 4), got %dx%d type %d",
                     path, MAX_TRIS, m.rows, m.cols, m.type);
        fa_mat_free(&m);
        return st;
    }
    int n = m.rows * 3;
    for (int i = 0; i < n; i++) {
        double v = m.data[i];
        if (!(v >= 0 && v < FA_N_LANDMARKS) || v != floor(v)) {
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                         "%s: triangle %d has landmark index %g outside 0..%d", path, i / 3, v,
                         FA_N_LANDMARKS - 1);
            fa_mat_free(&m);
            return st;
        }
    }
    tris->idx = fa_malloc((size_t)n * sizeof *tris->idx, err, path);
    if (!tris->idx) {
        fa_mat_free(&m);
        return FACEAU_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++)
        tris->idx[i] = (int)m.data[i];
    tris->n = m.rows;
    fa_mat_free(&m);
    return FACEAU_OK;
}

void fa_tris_free(fa_tris *tris)
{
    if (tris) {
        free(tris->idx);
        tris->idx = NULL;
        tris->n = 0;
    }
}

/* ---- AlignShapesWithScale ------------------------------------------------------------ */

/* cv::mean of one column of an n x 2 float Mat: a double sum in row order times 1/n. */
static float column_mean(const float *pts, int n, int col)
{
    double s = 0;
    for (int k = 0; k < n; k++)
        s += pts[2 * k + col];
    return (float)(s * (1. / n));
}

/* cv::sum of 48 contiguous floats as OpenCV's AVX2 kernel adds them: four double lanes, two
 * accumulators each, then the lanes in order. Only the last bits of the double differ from a
 * plain loop, but they can reach the float scale factor. */
_Static_assert(2 * N_RIGID % 16 == 0, "cv_sum48 handles whole 16-float blocks only");
static double cv_sum48(const float *a)
{
    double s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0};
    for (int x = 0; x < 2 * N_RIGID; x += 16) {
        for (int l = 0; l < 4; l++) {
            s0[l] += (double)a[x + l] + (double)a[x + 8 + l];
            s1[l] += (double)a[x + 4 + l] + (double)a[x + 12 + l];
        }
    }
    double s = 0;
    for (int l = 0; l < 4; l++)
        s += s0[l] + s1[l];
    return s;
}

/* Mean-normalises pts (n x 2, in place) and scales it to unit RMS radius; returns that radius. */
static float normalise_points(float *pts)
{
    float mx = column_mean(pts, N_RIGID, 0), my = column_mean(pts, N_RIGID, 1);
    float sq[2 * N_RIGID];
    for (int k = 0; k < N_RIGID; k++) {
        pts[2 * k] = pts[2 * k] - mx;
        pts[2 * k + 1] = pts[2 * k + 1] - my;
        sq[2 * k] = pts[2 * k] * pts[2 * k];
        sq[2 * k + 1] = pts[2 * k + 1] * pts[2 * k + 1];
    }
    float scale = (float)sqrt(cv_sum48(sq) / N_RIGID);
    /* Mat / s is convertTo with alpha = 1/s, applied in float. */
    float inv = (float)(1. / (double)scale);
    for (int k = 0; k < 2 * N_RIGID; k++)
        pts[k] = pts[k] * inv;
    return scale;
}

/* Rotates rows i and j of a 2-column float matrix as OpenCV's Jacobi step does. */
static void givens_rows(float *ri, float *rj, float c, float s)
{
    for (int k = 0; k < 2; k++) {
        float t0 = c * ri[k] + s * rj[k];
        float t1 = -s * ri[k] + c * rj[k];
        ri[k] = t0;
        rj[k] = t1;
    }
}

static double row_sq(const float *r)
{
    double sd = 0;
    for (int k = 0; k < 2; k++)
        sd += (double)r[k] * r[k];
    return sd;
}

/* cv::SVD of a 2x2 float matrix h (row-major): OpenCV's one-sided Jacobi (JacobiSVDImpl_,
 * eps = 2*FLT_EPSILON) on the transposed matrix. Outputs u and vt, row-major. */
void fa_svd2x2(const float h[4], float u[4], float vt[4])
{
    float at[2][2] = {{h[0], h[2]}, {h[1], h[3]}}; /* rows = columns of h */
    float v[2][2] = {{1, 0}, {0, 1}};
    double w[2] = {row_sq(at[0]), row_sq(at[1])};
    const float eps = FLT_EPSILON * 2;
    for (int iter = 0; iter < 30; iter++) {
        double a = w[0], b = w[1], p = 0;
        for (int k = 0; k < 2; k++)
            p += (double)at[0][k] * at[1][k];
        if (fabs(p) <= eps * sqrt(a * b))
            break; /* the only pair is already orthogonal: nothing changed this sweep */
        p *= 2;
        double beta = a - b, gamma = hypot(p, beta);
        float c, s;
        if (beta < 0) {
            double delta = (gamma - beta) * 0.5;
            s = (float)sqrt(delta / gamma);
            c = (float)(p / (gamma * s * 2));
        } else {
            c = (float)sqrt((gamma + beta) / (gamma * 2));
            s = (float)(p / (gamma * c * 2));
        }
        givens_rows(at[0], at[1], c, s);
        w[0] = row_sq(at[0]);
        w[1] = row_sq(at[1]);
        givens_rows(v[0], v[1], c, s);
    }
    w[0] = sqrt(row_sq(at[0]));
    w[1] = sqrt(row_sq(at[1]));
    if (w[0] < w[1]) {
        double tw = w[0];
        w[0] = w[1];
        w[1] = tw;
        for (int k = 0; k < 2; k++) {
            float t = at[0][k];
            at[0][k] = at[1][k];
            at[1][k] = t;
            t = v[0][k];
            v[0][k] = v[1][k];
            v[1][k] = t;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (w[i] <= FLT_MIN) {
            /* OpenCV draws a random vector and orthogonalises it. In 2D the result is the
             * normal of the other vector up to sign, and the Kabsch correction cancels the
             * sign, so the normal is used directly (degenerate, collinear input only). */
            at[i][0] = i ? -at[0][1] : 1.f;
            at[i][1] = i ? at[0][0] : 0.f;
            w[i] = sqrt(row_sq(at[i]));
        }
        float s = (float)(w[i] > FLT_MIN ? 1 / w[i] : 0.);
        at[i][0] *= s;
        at[i][1] *= s;
    }
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
            u[2 * r + c] = at[c][r];
            vt[2 * r + c] = v[r][c];
        }
}

/* cv::gemm of 2x2 float matrices through GEMMSingleMul: double products and sums, one
 * rounding to float. ta/tb: use the transpose of a/b. */
void fa_gemm2x2(const float a[4], int ta, const float b[4], int tb, float d[4])
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 2; k++) {
                float x = ta ? a[2 * k + i] : a[2 * i + k];
                float y = tb ? b[2 * j + k] : b[2 * k + j];
                s += (double)x * y;
            }
            d[2 * i + j] = (float)s;
        }
}

/* Utilities::AlignShapesWithScale(src, dst) on the rigid points: scale * Kabsch rotation. */
static void align_shapes_with_scale(float *src, float *dst, float A[4])
{
    float s_src = normalise_points(src), s_dst = normalise_points(dst);
    float s = s_dst / s_src;

    /* src^T * dst: cv::gemm with GEMM_1_T, double accumulation in point order. */
    float h[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double acc = 0;
            for (int k = 0; k < N_RIGID; k++)
                acc += (double)src[2 * k + i] * dst[2 * k + j];
            h[2 * i + j] = (float)acc;
        }
    float u[4], vt[4], p[4];
    fa_svd2x2(h, u, vt);
    fa_gemm2x2(vt, 1, u, 1, p);
    double det = (double)p[0] * p[3] - (double)p[1] * p[2];
    float corr[4] = {1, 0, 0, det > 0 ? 1.f : -1.f};
    float tmp[4], R[4];
    fa_gemm2x2(vt, 1, corr, 0, tmp);
    fa_gemm2x2(tmp, 0, u, 1, R);
    for (int k = 0; k < 4; k++)
        A[k] = s * R[k];
}

/* ---- cv::warpAffine, INTER_LINEAR, BORDER_CONSTANT 0, 8UC3 ----------------------------- */

enum { AB_BITS = 10, AB_SCALE = 1 << AB_BITS, INTER_BITS = 5, INTER_TAB = 1 << INTER_BITS };

/* saturate_cast<int>(double) = cvRound: nearest, ties to even; out of range or NaN gives
 * INT_MIN as the x86 conversion does. */
static int64_t cv_round(double v)
{
    if (!(v > -2147483648.5 && v < 2147483647.5))
        return INT32_MIN;
    return (int64_t)rint(v);
}

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
 * row start plus a per-column increment, each rounded separately (cv_round keeps them within
 * 32 bits, so their sums stay far below 2^39). Pixels where mask (if any) is 0 are set to 0
 * without sampling. */
/* Row y's fixed-point source position at x = 0. */
static void row_origin(const double M[6], int y, int64_t *X0, int64_t *Y0)
{
    const int round_delta = AB_SCALE / INTER_TAB / 2;
    *X0 = cv_round((M[1] * y + M[2]) * AB_SCALE) + round_delta;
    *Y0 = cv_round((M[4] * y + M[5]) * AB_SCALE) + round_delta;
}

static void warp_rows(const fa_image *src, const float Mf[6], int size, const uint8_t *mask,
                      uint8_t *out)
{
    double M[6];
    invert_affine(Mf, M);
    int32_t adelta[MAX_SIDE], bdelta[MAX_SIDE];
    for (int x = 0; x < size; x++) {
        adelta[x] = (int32_t)cv_round(M[0] * x * AB_SCALE);
        bdelta[x] = (int32_t)cv_round(M[3] * x * AB_SCALE);
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

static faceau_status check_image(const fa_image *img, int size, const void *out, fa_err *err)
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
    faceau_status st = M ? check_image(src, size, out, err)
                         : fa_fail(err, FACEAU_ERR_INVALID_ARG, "warp: NULL matrix");
    if (st)
        return st;
    warp_rows(src, M, size, NULL, out);
    return FACEAU_OK;
}

/* ---- the PAW pixel mask ---------------------------------------------------------------- */

/* PAW::sameSide(p, ref, a, b): is p on the same side of the line a-b as ref? Zero counts as the
 * same side. In float, in OpenFace's expression order:
 *   s = (xb - xa)*(py - ya) - (px - xa)*(yb - ya),  r = (xb - xa)*(yref - ya) - (xref - xa)*(yb - ya)
 * and the test is s*r >= 0. For one row, dx*(py - ya) is constant, so s is a monotone function
 * of px (every float operation rounds monotonically), and so is the test: along a row each edge
 * passes on a prefix or a suffix of the pixels, and a triangle on one interval. */
typedef struct edge {
    float xa, ya, dx, c, r; /* dx = xb - xa, c = yb - ya, r = the reference's side */
    int kind;               /* EDGE_* below */
    int certain_ok;         /* clip_edge_certain may be used */
    double slope, margin;   /* dx/c; see clip_edge_certain */
} edge;

enum { EDGE_CONST, EDGE_PREFIX, EDGE_SUFFIX };

typedef struct tri_pts {
    edge e[3];
    float min_x, max_x, min_y, max_y;
    int finite; /* coordinates small enough that no product overflows */
} tri_pts;

/* The edge of PAW::sameSide(p, ref, a, b) for an image of side size. */
static edge make_edge(float xr, float yr, float xa, float ya, float xb, float yb, int size)
{
    edge e = {xa, ya, xb - xa, yb - ya, 0, EDGE_CONST, 0, 0, 0};
    e.r = e.dx * (yr - ya) - (xr - xa) * e.c;
    if (e.c != 0 && e.r != 0 && e.r == e.r)
        e.kind = (e.c > 0) == (e.r > 0) ? EDGE_PREFIX : EDGE_SUFFIX;
    if (e.kind != EDGE_CONST) {
        e.slope = (double)e.dx / e.c;
        e.margin = 4e-7 * (2 * (fabs(xa) + size + 2) + 1) + 1e-9;
        e.certain_ok = fabsf(xa) < 1e5f && fabsf(ya) < 1e5f && fabsf(xb) < 1e5f &&
                       fabsf(yb) < 1e5f && fabsf(e.c) > 1e-8f && fabsf(e.r) > 1e-15f &&
                       fabs(e.slope) < 1e5;
    }
    return e;
}

/* The edge test at (px, row) given row_term = dx*(py - ya). */
static int edge_ok(const edge *e, float row_term, float px)
{
    float s = row_term - (px - e->xa) * e->c;
    return s * e->r >= 0;
}

static int point_in_tri(const tri_pts *t, float px, float py)
{
    for (int k = 0; k < 3; k++)
        if (!edge_ok(&t->e[k], t->e[k].dx * (py - t->e[k].ya), px))
            return 0;
    return 1;
}

/* Integer range [lo, hi] of pixel coordinates v in 0..size-1 with min <= v <= max. Returns 0
 * when empty (also for NaN bounds, which PAW's comparisons never accept either). */
static int pixel_span(float min, float max, int size, int *lo, int *hi)
{
    if (!(min <= (float)(size - 1) && max >= 0.f))
        return 0;
    *lo = min <= 0.f ? 0 : (int)ceilf(min);
    *hi = max >= (float)(size - 1) ? size - 1 : (int)floorf(max);
    return *lo <= *hi;
}

static int clamp_guess(double t, int lo, int hi)
{
    return !(t >= lo) ? lo : !(t <= hi) ? hi : (int)t;
}

/* Narrows [*lo, *hi] to where the edge test passes, from the real-valued crossing
 * t = xa + (py - ya)*dx/c, when the float test must agree with the real one at the integers
 * next to t. With unit roundoff u the float s is within 3.1u(|dx(py-ya)| + |(px-xa)c|) of
 * the real s, i.e. within 3.1u(|t-xa| + |px-xa|) pixels of the crossing; the margin is twice
 * that for any t and px in or next to the image, plus room for the double rounding of t. The
 * limits in make_edge keep the numbers small and s*r clear of underflow. Returns 0 when t is
 * too close to an integer. */
static int clip_edge_certain(const edge *e, float py, int *lo, int *hi)
{
    double t = e->xa + ((double)py - e->ya) * e->slope;
    int prefix = e->kind == EDGE_PREFIX;
    if (t < *lo - 1) { /* the crossing is left of the row: all pass or none */
        if (prefix)
            *hi = *lo - 1;
        return 1;
    }
    if (t >= *hi + 1) {
        if (!prefix)
            *lo = *hi + 1;
        return 1;
    }
    int f = (int)(t + 2) - 2; /* floor: t >= -2 here */
    double frac = t - f;
    if (!(frac > e->margin && frac < 1 - e->margin))
        return 0;
    if (prefix) /* passes for px <= f */
        *hi = f < *hi ? f : *hi;
    else /* passes for px >= f + 1 */
        *lo = f + 1 > *lo ? f + 1 : *lo;
    return 1;
}

/* Narrows [*lo, *hi] to the pixels of one row where the edge test passes. When the crossing
 * is not certain, it is only a starting guess: stepping with the exact float test to where it
 * flips gives the exact bound because the test is monotone along the row. */
static void clip_edge(const edge *e, float py, int *lo, int *hi)
{
    if (*lo > *hi)
        return;
    if (e->certain_ok && clip_edge_certain(e, py, lo, hi))
        return;
    float row_term = e->dx * (py - e->ya);
    if (e->kind == EDGE_CONST) {
        if (!edge_ok(e, row_term, (float)*lo))
            *hi = *lo - 1;
        return;
    }
    int x = clamp_guess(e->xa + row_term / (double)e->c, *lo, *hi);
    if (e->kind == EDGE_PREFIX) { /* passes on a prefix: find its last pixel */
        while (x + 1 <= *hi && edge_ok(e, row_term, (float)(x + 1)))
            x++;
        while (x >= *lo && !edge_ok(e, row_term, (float)x))
            x--;
        *hi = x;
    } else { /* passes on a suffix: find its first pixel */
        while (x - 1 >= *lo && edge_ok(e, row_term, (float)(x - 1)))
            x--;
        while (x <= *hi && !edge_ok(e, row_term, (float)x))
            x++;
        *lo = x;
    }
}

static void paint_span(uint8_t *row, int lo, int hi, int tri)
{
    if (lo <= hi)
        memset(row + lo, tri, (size_t)(hi - lo + 1));
}

/* first[p] = the lowest-numbered triangle whose bounding box holds pixel p and whose
 * same-side test passes: what PAW::findTriangle's full scan returns. */
static void first_triangles(const tri_pts *t, int ntri, int size, uint8_t *first)
{
    memset(first, NO_TRI, (size_t)size * (size_t)size);
    for (int i = ntri - 1; i >= 0; i--) {
        int x0, x1, y0, y1;
        if (!pixel_span(t[i].min_x, t[i].max_x, size, &x0, &x1) ||
            !pixel_span(t[i].min_y, t[i].max_y, size, &y0, &y1))
            continue;
        for (int y = y0; y <= y1; y++) {
            uint8_t *row = first + (size_t)y * (size_t)size;
            if (!t[i].finite) { /* huge coordinates: test every pixel */
                for (int x = x0; x <= x1; x++)
                    if (point_in_tri(&t[i], (float)x, (float)y))
                        row[x] = (uint8_t)i;
                continue;
            }
            int lo = x0, hi = x1;
            for (int k = 0; k < 3; k++)
                clip_edge(&t[i].e[k], (float)y, &lo, &hi);
            paint_span(row, lo, hi, i);
        }
    }
}

/* map[p] = map[p] != NO_TRI, 8 bytes at a time: complementing turns NO_TRI into the only zero
 * byte, and ((x & 0x7f) + 0x7f) | x has its top bit set exactly for non-zero bytes. */
static void to_mask(uint8_t *map, int n)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fu, top = 0x8080808080808080u;
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        uint64_t x;
        memcpy(&x, map + p, 8);
        x = ~x;
        x = (((x & low7) + low7) | x) & top;
        x >>= 7;
        memcpy(map + p, &x, 8);
    }
    for (; p < n; p++)
        map[p] = map[p] != NO_TRI;
}

/* The first q >= p with map[q] != v, or n: 8 bytes at a time, the first differing byte found
 * from the lowest set bit of the difference on little-endian machines. */
static int run_end(const uint8_t *map, int p, int n, uint8_t v)
{
    const uint64_t run = 0x0101010101010101u * v;
    for (; p + 8 <= n; p += 8) {
        uint64_t word;
        memcpy(&word, map + p, 8);
        if (word != run) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + __builtin_ctzll(word ^ run) / 8;
#else
            break;
#endif
        }
    }
    while (p < n && map[p] == v)
        p++;
    return p;
}

/* PAW's constructor walks the pixels in row order and first retries the previous pixel's
 * triangle without its bounding-box test; only then does it scan. Replaying that walk keeps
 * the mask identical where the retry accepts a point the scan would not (a degenerate
 * triangle accepts every point). Runs where the scan already returns the retried triangle
 * (or nothing, with nothing to retry) are skipped 8 pixels at a time. Turns first[] into the
 * 0/1 mask in place. */
static void walk_pixels(const tri_pts *t, int size, uint8_t *map)
{
    const int n = size * size;
    int cur = NO_TRI;
    int row = 0, row_start = 0; /* p's row, tracked to avoid a division per retry */
    for (int p = 0; p < n; p++) {
        p = run_end(map, p, n, (uint8_t)cur);
        if (p == n)
            break;
        while (p >= row_start + size) {
            row_start += size;
            row++;
        }
        if (cur != NO_TRI && point_in_tri(&t[cur], (float)(p - row_start), (float)row))
            map[p] = (uint8_t)cur; /* the retry wins, even outside the triangle's box */
        else
            cur = map[p];
    }
    to_mask(map, n);
}

static void build_triangles(const fa_tris *tris, const float *xs, const float *ys, int size,
                            tri_pts *t)
{
    for (int i = 0; i < tris->n; i++) {
        const int *v = tris->idx + 3 * i;
        float x[3] = {xs[v[0]], xs[v[1]], xs[v[2]]}, y[3] = {ys[v[0]], ys[v[1]], ys[v[2]]};
        /* same_1, same_2, same_3 of PAW::pointInTriangle */
        t[i].e[0] = make_edge(x[0], y[0], x[1], y[1], x[2], y[2], size);
        t[i].e[1] = make_edge(x[1], y[1], x[0], y[0], x[2], y[2], size);
        t[i].e[2] = make_edge(x[2], y[2], x[0], y[0], x[1], y[1], size);
        t[i].min_x = fminf(fminf(x[0], x[1]), x[2]);
        t[i].max_x = fmaxf(fmaxf(x[0], x[1]), x[2]);
        t[i].min_y = fminf(fminf(y[0], y[1]), y[2]);
        t[i].max_y = fmaxf(fmaxf(y[0], y[1]), y[2]);
        t[i].finite = 1;
        for (int k = 0; k < 3; k++)
            t[i].finite &= fabsf(x[k]) < 1e15f && fabsf(y[k]) < 1e15f;
    }
}

static faceau_status check_tris(const fa_tris *tris, fa_err *err)
{
    if (!tris || !tris->idx || tris->n < 1 || tris->n > MAX_TRIS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "mask: need 1..%d triangles", MAX_TRIS);
    for (int i = 0; i < 3 * tris->n; i++)
        if (tris->idx[i] < 0 || tris->idx[i] >= FA_N_LANDMARKS)
            return fa_fail(err, FACEAU_ERR_INVALID_ARG, "mask: triangle index %d out of range",
                           tris->idx[i]);
    return FACEAU_OK;
}

faceau_status fa_paw_mask(const float *xs, const float *ys, const fa_tris *tris, int size,
                          uint8_t *mask, fa_err *err)
{
    if (!xs || !ys || !mask)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "mask: NULL argument");
    if (size < 1 || size > MAX_SIDE)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "mask: size %d outside 1..%d", size, MAX_SIDE);
    faceau_status st = check_tris(tris, err);
    if (st)
        return st;
    tri_pts t[MAX_TRIS];
    build_triangles(tris, xs, ys, size, t);
    first_triangles(t, tris->n, size, mask);
    walk_pixels(t, size, mask);
    return FACEAU_OK;
}

/* ---- AlignFaceMask ---------------------------------------------------------------------- */

void fa_align_similarity(const float *landmarks, const fa_pdm *pdm, double sim_scale, float A[4])
{
    /* The destination is the mean shape scaled in float: convertTo casts alpha to float. */
    float src[2 * N_RIGID], dst[2 * N_RIGID];
    const float fscale = (float)sim_scale;
    for (int k = 0; k < N_RIGID; k++) {
        int i = rigid_idx[k];
        src[2 * k] = landmarks[i];
        src[2 * k + 1] = landmarks[FA_N_LANDMARKS + i];
        dst[2 * k] = pdm->mean[i] * fscale;
        dst[2 * k + 1] = pdm->mean[pdm->n + i] * fscale;
    }
    align_shapes_with_scale(src, dst, A);
}

/* AlignFaceMask's destination landmarks: all 68 points through the warp (cv::gemm with a
 * transposed 2x2, double sums), then brows and jaw corners lifted by 30*sim_scale/0.7. */
static void warped_landmarks(const float *lm, const float M[6], double sim_scale, float *xs,
                             float *ys)
{
    for (int i = 0; i < FA_N_LANDMARKS; i++) {
        double lx = lm[i], ly = lm[FA_N_LANDMARKS + i];
        xs[i] = (float)(lx * M[0] + ly * M[1]) + M[2];
        ys[i] = (float)(lx * M[3] + ly * M[4]) + M[5];
    }
    const double lift = (30 / 0.7) * sim_scale;
    static const int lifted[] = {0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26};
    for (size_t k = 0; k < sizeof lifted / sizeof lifted[0]; k++)
        ys[lifted[k]] = (float)((double)ys[lifted[k]] - lift);
}

faceau_status fa_align_face_mask(const fa_image *frame, const float *landmarks, const float g[6],
                                 const fa_pdm *pdm, const fa_tris *tris, double sim_scale,
                                 int size, uint8_t *out, fa_err *err)
{
    if (!landmarks || !g || !pdm || !pdm->mean)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "align: NULL argument");
    if (pdm->n != FA_N_LANDMARKS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "align: PDM has %d landmarks, need %d",
                       pdm->n, FA_N_LANDMARKS);
    faceau_status st = check_image(frame, size, out, err);
    if (!st)
        st = check_tris(tris, err);
    if (st)
        return st;
    float A[4];
    fa_align_similarity(landmarks, pdm, sim_scale, A);

    /* cv::Matx22f * Vec2f accumulates in float; the centre is out_width/2 in integers. */
    float tx = g[4], ty = g[5];
    float T0 = A[0] * tx + A[1] * ty, T1 = A[2] * tx + A[3] * ty;
    const float M[6] = {A[0], A[1], -T0 + (float)(size / 2), A[2], A[3], -T1 + (float)(size / 2)};
    float xs[FA_N_LANDMARKS], ys[FA_N_LANDMARKS];
    warped_landmarks(landmarks, M, sim_scale, xs, ys);
    uint8_t mask[MAX_SIDE * MAX_SIDE];
    st = fa_paw_mask(xs, ys, tris, size, mask, err);
    if (st)
        return st;
    /* Masked-out pixels end up 0 whatever the warp gives, so they are not sampled. */
    warp_rows(frame, M, size, mask, out);
    return FACEAU_OK;
}
