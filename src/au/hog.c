/* hog.c - dlib 19.13's FHOG (impl_fhog::impl_extract_fhog_features) reproduced bit for bit.
 *
 * OpenFace calls extract_fhog_features(cv_image<bgr_pixel>(face), hog, 8) on every aligned face
 * and its AU models consume the floats, so every rounding step of dlib is kept:
 *  - dlib walks each row 8 columns at a time with SIMD and finishes the row with scalar code.
 *    The two paths break ties between colour channels differently and multiply the bilinear
 *    weights in a different order, so every column follows the path dlib used for it.
 *  - The 4 normaliser lanes are summed as dlib's simd4f sum() does when compiled for plain
 *    SSE2 (OpenFace's -msse3 does not define __SSSE3__, dlib's test for its SSE3 path):
 *    (l0 + l2) + (l1 + l3).
 *  - Constants that dlib writes as double literals but applies to float vectors are rounded to
 *    float first, as the implicit simd4f(float) conversion does.
 * Pixels are BGR (OpenCV's order); dlib's bgr_pixel red/green/blue are channels 2/1/0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au/au.h"

#define N_ORIENT 9
#define N_BINS 18 /* contrast-sensitive orientations */
#define N_CHAN 31
#define CH_RED 2
#define CH_GREEN 1
#define CH_BLUE 0
/* Workspace kept on the stack up to these sizes (a 112x112 face with cell 8 needs 6844 floats
 * and 360 ints); bigger images use one heap block per call. */
#define STACK_FLOATS 8192
#define STACK_INTS 1024

/* dlib's unit vectors, written as double literals and stored in matrix<float,2,1>. */
static const float k_dir_x[N_ORIENT] = {1.0000f, 0.9397f, 0.7660f, 0.500f, 0.1736f,
                                        -0.1736f, -0.5000f, -0.7660f, -0.9397f};
static const float k_dir_y[N_ORIENT] = {0.0000f, 0.3420f, 0.6428f, 0.8660f, 0.9848f,
                                        0.9848f, 0.8660f, 0.6428f, 0.3420f};
/* dlib's `t *= 2*0.2357` on a simd4f: the double product rounded to float. */
static const float k_texture = (float)(2 * 0.2357);

/* ---- per-pixel gradients ------------------------------------------------------------------ */

/* The pixel stage (gradients, channel choice, orientation, magnitude) runs 8 independent pixels
 * per step with GNU C vector extensions. Every lane performs exactly the scalar operations of
 * dlib's code for its pixel (integer gradients, then the same float products, sums and
 * comparisons; no reassociation, no FMA), so the vector width cannot change a result. On x86-64
 * the same source is also compiled for AVX2 (no FMA) and picked at run time. -DFA_NO_SIMD
 * leaves out the intrinsics and the AVX2 copy, -DFA_NO_AVX2 only the AVX2 copy. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && !defined(FA_NO_SIMD)
#include <immintrin.h>
#define HOG_SSE2 1
#if defined(__GNUC__) && !defined(FA_NO_AVX2)
#define HOG_AVX2 1
#endif
#endif

#define LANES 8
typedef int32_t v8i __attribute__((vector_size(4 * LANES)));
typedef float v8f __attribute__((vector_size(4 * LANES)));
#define INLINE static inline __attribute__((always_inline))
/* Helpers returning 32-byte vectors are always inlined, so GCC's ABI warning about returning
 * them without AVX concerns no real call. (They take vectors by pointer: for by-value vector
 * parameters GCC prints an ABI note that no pragma silences.) */
#if defined(__clang__)
#if __has_warning("-Wpsabi")
#pragma clang diagnostic ignored "-Wpsabi"
#endif
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Results of one image row, one entry per column (only the columns dlib visits are set). */
typedef struct row_buf {
    float *len; /* chosen channel's gx^2 + gy^2 */
    float *mag; /* sqrtf(len) */
    int *orient; /* 0..17 */
} row_buf;

/* Image rows split into B, G, R planes of int32, so a channel of 8 neighbouring pixels is one
 * vector load (widening bytes in the loop costs more than it saves). Three rows (y-1, y, y+1)
 * are live; row y sits in slot y % 3. Each plane has pw entries: the row's first `cols` pixels,
 * then zeros that the last step's loads may touch. */
typedef struct planes {
    int32_t *buf;
    int pw, cols;
    int next; /* the next image row to split */
} planes;

static int32_t *plane(const planes *p, int y, int c)
{
    return p->buf + (size_t)((y % 3) * 3 + c) * (size_t)p->pw;
}

static void split_row_scalar(const uint8_t *bgr, int n, int32_t *b, int32_t *g, int32_t *r)
{
    for (int x = 0; x < n; x++) {
        b[x] = bgr[3 * x];
        g[x] = bgr[3 * x + 1];
        r[x] = bgr[3 * x + 2];
    }
}

#ifdef HOG_AVX2
/* 16 pixels per step with byte shuffles (SSSE3, implied by AVX2); reads exactly 48 bytes. */
__attribute__((target("avx2"))) static void split_row_avx2(const uint8_t *bgr, int n, int32_t *b,
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
#endif

/* Makes image rows up to y + 1 available as planes (rows are visited in increasing order). */
static void planes_ready(planes *p, const uint8_t *bgr, ptrdiff_t stride, int y, int avx2)
{
    for (; p->next <= y + 1; p->next++) {
        const uint8_t *row = bgr + (ptrdiff_t)p->next * stride;
        int32_t *b = plane(p, p->next, CH_BLUE), *g = plane(p, p->next, CH_GREEN);
        int32_t *r = plane(p, p->next, CH_RED);
#ifdef HOG_AVX2
        if (avx2) {
            split_row_avx2(row, p->cols, b, g, r);
            continue;
        }
#endif
        (void)avx2;
        split_row_scalar(row, p->cols, b, g, r);
    }
}

INLINE v8i load8(const int32_t *p)
{
    v8i v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Lane-wise m ? a : b for all-ones / all-zeros masks m (any 32-bit lanes). */
#define PICK8(m, a, b) (((m) & (v8i)(a)) | (~(m) & (v8i)(b)))

/* a > b lane-wise. GCC turns comparisons of vectors wider than the target's into scalar code,
 * so where 8 floats are not native (native = 0, a constant after inlining) the two halves are
 * compared separately. */
INLINE v8i gt8(const v8f *a, const v8f *b, int native)
{
    typedef float v4f __attribute__((vector_size(16)));
    typedef int32_t v4i __attribute__((vector_size(16)));
    if (native)
        return *a > *b;
    const union { v8f v; v4f h[2]; } x = {*a}, y = {*b};
    union { v8i v; v4i h[2]; } r;
    r.h[0] = x.h[0] > y.h[0];
    r.h[1] = x.h[1] > y.h[1];
    return r.v;
}

/* Snaps gradients to one of 18 orientations. dlib scans o = 0..8 with `if (dot > best) take o
 * else if (-dot > best) take o + 9`, best starting at 0; as best >= 0 that is the same as
 * taking o or o + 9 (by the sign of dot) whenever |dot| > best, so ties keep the earlier o and
 * a zero gradient gives 0. Both dlib paths agree on this step. The sign is applied once at the
 * end from the taken dot (0 if none was taken). */
INLINE v8i orientation8(const v8f *x, const v8f *y, int native)
{
    v8f best = {0}, best_dot = {0};
    v8i best_o = {0};
    /* Unrolled so the per-o constants become immediates instead of per-iteration broadcasts. */
#pragma GCC unroll 9
    for (int o = 0; o < N_ORIENT; o++) {
        const v8f dot = k_dir_x[o] * *x + k_dir_y[o] * *y;
        const v8f mag = (v8f)((v8i)dot & 0x7fffffff); /* |dot| */
        const v8i take = gt8(&mag, &best, native);
        best = (v8f)PICK8(take, mag, best);
        best_dot = (v8f)PICK8(take, dot, best_dot);
        best_o = PICK8(take, (v8i){0} + o, best_o);
    }
    const v8f zero = {0};
    return best_o + (gt8(&zero, &best_dot, native) & N_ORIENT);
}

INLINE void sqrt8(const float *in, float *out)
{
#ifdef HOG_SSE2
    for (int k = 0; k < LANES; k += 4)
        _mm_storeu_ps(out + k, _mm_sqrt_ps(_mm_loadu_ps(in + k)));
#else
    for (int k = 0; k < LANES; k++)
        out[k] = sqrtf(in[k]);
#endif
}

/* Pixels x0 .. x0+7 of image row y (planes of rows y-1, y, y+1 ready): each pixel takes the
 * colour channel with the longest gradient. dlib's SIMD path keeps red only if strictly longer
 * than green, then that only if strictly longer than blue (ties go to the later channel); its
 * scalar path replaces red only by a strictly longer channel (ties go to the earlier one).
 * Writes 8 entries from x0 (the row arrays have room past the last column). */
INLINE void pixels8(const planes *p, int y, int x0, int simd_rule, int native, row_buf *rb)
{
    /* Differences of bytes and their squared lengths are integers below 2^18, exact in float:
     * computing them in float is computing them in integers, without needing SSE4.1's
     * 32-bit multiply. */
    v8f dx[3], dy[3], dl[3];
    for (int c = 0; c < 3; c++) {
        const int32_t *mid = plane(p, y, c) + x0;
        dx[c] = __builtin_convertvector(load8(mid + 1) - load8(mid - 1), v8f);
        dy[c] = __builtin_convertvector(load8(plane(p, y + 1, c) + x0) -
                                            load8(plane(p, y - 1, c) + x0),
                                        v8f);
        dl[c] = dx[c] * dx[c] + dy[c] * dy[c];
    }
    v8f tx, ty, tl;
    if (simd_rule) {
        const v8i keep_r = gt8(&dl[CH_RED], &dl[CH_GREEN], native);
        tx = (v8f)PICK8(keep_r, dx[CH_RED], dx[CH_GREEN]);
        ty = (v8f)PICK8(keep_r, dy[CH_RED], dy[CH_GREEN]);
        tl = (v8f)PICK8(keep_r, dl[CH_RED], dl[CH_GREEN]);
        const v8i keep_t = gt8(&tl, &dl[CH_BLUE], native);
        tx = (v8f)PICK8(keep_t, tx, dx[CH_BLUE]);
        ty = (v8f)PICK8(keep_t, ty, dy[CH_BLUE]);
        tl = (v8f)PICK8(keep_t, tl, dl[CH_BLUE]);
    } else {
        const v8i take_g = gt8(&dl[CH_GREEN], &dl[CH_RED], native);
        tx = (v8f)PICK8(take_g, dx[CH_GREEN], dx[CH_RED]);
        ty = (v8f)PICK8(take_g, dy[CH_GREEN], dy[CH_RED]);
        tl = (v8f)PICK8(take_g, dl[CH_GREEN], dl[CH_RED]);
        const v8i take_b = gt8(&dl[CH_BLUE], &tl, native);
        tx = (v8f)PICK8(take_b, dx[CH_BLUE], tx);
        ty = (v8f)PICK8(take_b, dy[CH_BLUE], ty);
        tl = (v8f)PICK8(take_b, dl[CH_BLUE], tl);
    }
    const v8i orient = orientation8(&tx, &ty, native);
    memcpy(rb->len + x0, &tl, sizeof tl);
    memcpy(rb->orient + x0, &orient, sizeof orient);
    sqrt8(rb->len + x0, rb->mag + x0);
}

/* Columns [1, simd_end) go through dlib's 8-wide SIMD loop, the rest of the row through its
 * scalar tail; dlib's loop is `for (x = 1; x < visible_nc - 7; x += 8)`, so the tail has at
 * most 7 columns. */
static int simd_end(int visible_nc)
{
    int x = 1;
    while (x < visible_nc - 7)
        x += 8;
    return x;
}

/* Columns 1 .. visible_nc - 1 of image row y. */
INLINE void row_pixels_impl(const planes *p, int y, int visible_nc, int native, row_buf *rb)
{
    const int xs = simd_end(visible_nc);
    for (int x = 1; x < xs; x += LANES)
        pixels8(p, y, x, 1, native, rb);
    if (xs < visible_nc)
        pixels8(p, y, xs, 0, native, rb);
}

static void row_pixels_generic(const planes *p, int y, int visible_nc, row_buf *rb)
{
    row_pixels_impl(p, y, visible_nc, 0, rb);
}

#ifdef HOG_AVX2
__attribute__((target("avx2"))) static void row_pixels_avx2(const planes *p, int y,
                                                            int visible_nc, row_buf *rb)
{
    row_pixels_impl(p, y, visible_nc, 1, rb);
}
#endif

/* Whether to run the AVX2 copies (decided once per call). */
static int use_avx2(void)
{
#ifdef HOG_AVX2
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

/* Gradients, orientations and magnitudes of the pixels x = 1 .. visible_nc - 1 of row y. */
static void row_pixels(const uint8_t *bgr, ptrdiff_t stride, planes *p, int y, int visible_nc,
                       int avx2, row_buf *rb)
{
    planes_ready(p, bgr, stride, y, avx2);
#ifdef HOG_AVX2
    if (avx2) {
        row_pixels_avx2(p, y, visible_nc, rb);
        return;
    }
#endif
    row_pixels_generic(p, y, visible_nc, rb);
}

/* ---- normalisation shared by both cell sizes ---------------------------------------------- */

/* dlib's sum(simd4f) on an SSE2-only build. */
static float lane_sum(const float l[4])
{
    return (l[0] + l[2]) + (l[1] + l[3]);
}

/* nn = 0.2 * sqrt(z1 + z2 + z3 + z4 + eps) and n = 0.1 / nn per lane. */
static void lane_norms(const float z1[4], const float z2[4], const float z3[4], const float z4[4],
                       float nn[4], float n[4])
{
    for (int k = 0; k < 4; k++) {
        nn[k] = 0.2f * sqrtf(z1[k] + z2[k] + z3[k] + z4[k] + 0.0001f);
        n[k] = 0.1f / nn[k];
    }
}

/* Truncates h at each normaliser and scales: min(h, nn) * n per lane (SSE's minps order). */
static void clip_lanes(float h, const float nn[4], const float n[4], float out[4])
{
    for (int k = 0; k < 4; k++)
        out[k] = (h < nn[k] ? h : nn[k]) * n[k];
}

/* ---- cell_size > 1 ------------------------------------------------------------------------ */

typedef struct fhog_geom {
    int cell, cells_nr, cells_nc, hog_nr, hog_nc, visible_nr, visible_nc;
} fhog_geom;

/* dlib: cells = (int)((float)n / (float)cell + 0.5), output = cells - 2 each way. */
static int cell_count(int n, int cell)
{
    const float q = (float)n / (float)cell;
    return (int)((double)q + 0.5);
}

static int fhog_geometry(int width, int height, int cell, fhog_geom *g)
{
    g->cell = cell;
    g->cells_nr = cell_count(height, cell);
    g->cells_nc = cell_count(width, cell);
    g->hog_nr = g->cells_nr - 2;
    g->hog_nc = g->cells_nc - 2;
    if (g->hog_nr <= 0 || g->hog_nc <= 0)
        return 0;
    const long vr = (long)g->cells_nr * cell, vc = (long)g->cells_nc * cell;
    g->visible_nr = (int)(vr < height ? vr : height) - 1;
    g->visible_nc = (int)(vc < width ? vc : width) - 1;
    return 1;
}

/* Per-column bilinear placement: hist column index (already +1 for the padding) and weights. */
typedef struct col_tab {
    int *ix;
    float *w0, *w1;
} col_tab;

/* One image row's bilinear votes: per column the first bin it feeds and the magnitude times
 * the four corner weights (to bins top[bin], bot[bin], top[bin + 18], bot[bin + 18]). */
typedef struct votes {
    int *bin;
    float *v11, *v01, *v10, *v00;
} votes;

typedef struct fhog_ws {
    float *hist; /* (cells_nr + 2) x (cells_nc + 2) x 18, a 1-cell border all round */
    float *norm; /* cells_nr x cells_nc block energies */
    col_tab col;
    row_buf rb;
    votes vt;
    planes pl;
    int avx2;
} fhog_ws;

/* The SIMD path computes xp = (x + 0.5f) / cell + 0.5f in float and truncates; the scalar
 * tail computes xp = (x + 0.5) / cell - 0.5 in double, rounds to float and floors. */
static void fill_col_tab(const fhog_geom *g, col_tab *t)
{
    const int xs = simd_end(g->visible_nc);
    for (int x = 1; x < g->visible_nc; x++) {
        if (x < xs) {
            const float xp = ((float)x + 0.5f) / (float)g->cell + 0.5f;
            const int ix = (int)xp;
            t->w0[x] = xp - (float)ix;
            t->w1[x] = 1.0f - t->w0[x];
            t->ix[x] = ix;
        } else {
            const float xp = (float)(((double)x + 0.5) / (double)g->cell - 0.5);
            const int ix = (int)floorf(xp);
            t->w0[x] = xp - (float)ix;
            t->w1[x] = (float)(1.0 - (double)t->w0[x]);
            t->ix[x] = ix + 1;
        }
    }
}

INLINE v8f loadf8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The votes of columns x0 .. x0+7; reads and writes 8 entries of each table from x0.
 * dlib's SIMD path multiplies vy * (vx * v), its scalar tail (vy * vx) * v. */
INLINE void votes8(const row_buf *rb, const col_tab *t, float vy0, float vy1, int x0,
                   int simd_rule, const votes *vt)
{
    const v8f v = loadf8(rb->mag + x0), w0 = loadf8(t->w0 + x0), w1 = loadf8(t->w1 + x0);
    v8f v11, v01, v10, v00;
    if (simd_rule) {
        const v8f a1 = w1 * v, a0 = w0 * v;
        v11 = vy1 * a1;
        v01 = vy0 * a1;
        v10 = vy1 * a0;
        v00 = vy0 * a0;
    } else {
        v11 = vy1 * w1 * v;
        v01 = vy0 * w1 * v;
        v10 = vy1 * w0 * v;
        v00 = vy0 * w0 * v;
    }
    memcpy(vt->v11 + x0, &v11, sizeof v11);
    memcpy(vt->v01 + x0, &v01, sizeof v01);
    memcpy(vt->v10 + x0, &v10, sizeof v10);
    memcpy(vt->v00 + x0, &v00, sizeof v00);
    const v8i bin = load8(t->ix + x0) * N_BINS + load8(rb->orient + x0);
    memcpy(vt->bin + x0, &bin, sizeof bin);
}

INLINE void votes_impl(const row_buf *rb, const col_tab *t, float vy0, float vy1,
                       int visible_nc, const votes *vt)
{
    const int xs = simd_end(visible_nc);
    for (int x = 1; x < xs; x += LANES)
        votes8(rb, t, vy0, vy1, x, 1, vt);
    if (xs < visible_nc)
        votes8(rb, t, vy0, vy1, xs, 0, vt);
}

static void votes_generic(const row_buf *rb, const col_tab *t, float vy0, float vy1,
                          int visible_nc, const votes *vt)
{
    votes_impl(rb, t, vy0, vy1, visible_nc, vt);
}

#ifdef HOG_AVX2
__attribute__((target("avx2"))) static void votes_avx2(const row_buf *rb, const col_tab *t,
                                                       float vy0, float vy1, int visible_nc,
                                                       const votes *vt)
{
    votes_impl(rb, t, vy0, vy1, visible_nc, vt);
}
#endif

/* Adds the votes of image row y (gradients in rb) into hist. The additions into each bin keep
 * dlib's column order, so the scatter itself stays scalar. */
static void vote_row(int y, const fhog_geom *g, const fhog_ws *ws, float *hist)
{
    const int hnc = g->cells_nc + 2;
    const float yp = (float)(((double)(float)y + 0.5) / (double)(float)g->cell - 0.5);
    const int iy = (int)floorf(yp) + 1;
    const float vy0 = yp - (float)(iy - 1);
    const float vy1 = (float)(1.0 - (double)vy0);
    const votes *vt = &ws->vt;
#ifdef HOG_AVX2
    if (ws->avx2)
        votes_avx2(&ws->rb, &ws->col, vy0, vy1, g->visible_nc, &ws->vt);
    else
#endif
        votes_generic(&ws->rb, &ws->col, vy0, vy1, g->visible_nc, &ws->vt);
    float *top = hist + (size_t)iy * hnc * N_BINS;
    float *bot = top + (size_t)hnc * N_BINS;
    for (int x = 1; x < g->visible_nc; x++) {
        const int c0 = vt->bin[x], c1 = c0 + N_BINS;
        top[c0] += vt->v11[x];
        bot[c0] += vt->v01[x];
        top[c1] += vt->v10[x];
        bot[c1] += vt->v00[x];
    }
}

/* Energy of each (unpadded) cell: sum over o < 9 of (h_o + h_{o+9})^2, in float. */
static void cell_energy(const fhog_geom *g, const float *hist, float *norm)
{
    const int hnc = g->cells_nc + 2;
    for (int r = 0; r < g->cells_nr; r++) {
        for (int c = 0; c < g->cells_nc; c++) {
            const float *h = hist + ((size_t)(r + 1) * hnc + (c + 1)) * N_BINS;
            float e = 0.0f;
            for (int o = 0; o < N_ORIENT; o++) {
                const float s = h[o] + h[o + N_ORIENT];
                e += s * s;
            }
            norm[(size_t)r * g->cells_nc + c] = e;
        }
    }
}

/* The four normalisers of the block around norm cell (r, c), in dlib's lane order: lane 0
 * looks right/down, 1 up/right, 2 left/down, 3 up/left. */
static void normalisers(const float *norm, int nc, int r, int c, float nn[4], float n[4])
{
#define N_(dr, dc) norm[(size_t)(r + (dr)) * nc + (c + (dc))]
    const float z1[4] = {N_(0, 0), N_(-1, 0), N_(0, -1), N_(-1, -1)};
    const float z2[4] = {N_(0, 1), N_(-1, 1), N_(0, 0), N_(-1, 0)};
    const float z3[4] = {N_(1, 0), N_(0, 0), N_(1, -1), N_(0, -1)};
    const float z4[4] = {N_(1, 1), N_(0, 1), N_(1, 0), N_(0, 0)};
#undef N_
    lane_norms(z1, z2, z3, z4, nn, n);
}

/* The 31 features of one output cell whose histogram is h (18 bins). */
static void cell_features(const float *h, const float nn[4], const float n[4], float *out)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int o = 0; o < N_BINS; o += 3) {
        float l0[4], l1[4], l2[4];
        clip_lanes(h[o], nn, n, l0);
        clip_lanes(h[o + 1], nn, n, l1);
        clip_lanes(h[o + 2], nn, n, l2);
        out[o] = lane_sum(l0);
        out[o + 1] = lane_sum(l1);
        out[o + 2] = lane_sum(l2);
        for (int k = 0; k < 4; k++)
            t[k] += l0[k] + l1[k] + l2[k];
    }
    for (int o = 0; o < N_ORIENT; o++) {
        float l[4];
        clip_lanes(h[o] + h[o + N_ORIENT], nn, n, l);
        out[N_BINS + o] = lane_sum(l);
    }
    for (int k = 0; k < 4; k++)
        out[N_BINS + N_ORIENT + k] = t[k] * k_texture;
}

static void fhog_cells(const uint8_t *bgr, int stride, const fhog_geom *g, fhog_ws *ws, float *out)
{
    const int hnc = g->cells_nc + 2;
    memset(ws->hist, 0, sizeof(float) * (size_t)(g->cells_nr + 2) * hnc * N_BINS);
    fill_col_tab(g, &ws->col);
    for (int y = 1; y < g->visible_nr; y++) {
        row_pixels(bgr, stride, &ws->pl, y, g->visible_nc, ws->avx2, &ws->rb);
        vote_row(y, g, ws, ws->hist);
    }
    cell_energy(g, ws->hist, ws->norm);
    for (int y = 0; y < g->hog_nr; y++) {
        for (int x = 0; x < g->hog_nc; x++) {
            float nn[4], n[4];
            normalisers(ws->norm, g->cells_nc, y + 1, x + 1, nn, n);
            const float *h = ws->hist + ((size_t)(y + 2) * hnc + (x + 2)) * N_BINS;
            cell_features(h, nn, n, out + ((size_t)y * g->hog_nc + x) * N_CHAN);
        }
    }
}

/* ---- cell_size == 1 (dlib's separate impl_extract_fhog_features_cell_size_1) -------------- */

/* Three consecutive image rows of squared gradient lengths and orientations, as a ring. */
typedef struct cell1_ws {
    row_buf ring[3];
    planes pl;
    int avx2;
} cell1_ws;

/* Sets columns [x0, x1) of a row to 0. */
static void zero_cols(row_buf *rb, int x0, int x1)
{
    const size_t n = (size_t)(x1 - x0);
    memset(rb->len + x0, 0, sizeof(float) * n);
    memset(rb->mag + x0, 0, sizeof(float) * n);
    memset(rb->orient + x0, 0, sizeof(int) * n);
}

/* Squared lengths, magnitudes and orientations of image row y; zero on the image border, as
 * dlib's zero_border_pixels leaves them (row_pixels' last step may write past column
 * width - 1; only that column is read). */
static void cell1_row_pixels(const uint8_t *bgr, int stride, int width, int height, int y,
                             cell1_ws *ws, row_buf *rb)
{
    if (y > 0 && y < height - 1) {
        row_pixels(bgr, stride, &ws->pl, y, width - 1, ws->avx2, rb);
        zero_cols(rb, 0, 1);
        zero_cols(rb, width - 1, width);
    } else {
        zero_cols(rb, 0, width);
    }
}

/* Output row from image rows above (a), at (b) and below (c) it. */
static void cell1_features(const row_buf *a, const row_buf *b, const row_buf *c, int hog_nc,
                           float *out)
{
    for (int x = 0; x < hog_nc; x++) {
        const float *p = a->len, *q = b->len, *s = c->len;
        const float z1[4] = {q[x + 1], p[x + 1], q[x], p[x]};
        const float z2[4] = {q[x + 2], p[x + 2], q[x + 1], p[x + 1]};
        const float z3[4] = {s[x + 1], q[x + 1], s[x], q[x]};
        const float z4[4] = {s[x + 2], q[x + 2], s[x + 1], q[x + 1]};
        float nn[4], n[4], l[4];
        lane_norms(z1, z2, z3, z4, nn, n);
        clip_lanes(b->mag[x + 1], nn, n, l);
        float *f = out + (size_t)x * N_CHAN;
        const int o = b->orient[x + 1];
        memset(f, 0, sizeof(float) * N_CHAN);
        f[o] = lane_sum(l);
        f[o % N_ORIENT + N_BINS] = f[o];
        for (int k = 0; k < 4; k++)
            f[N_BINS + N_ORIENT + k] = l[k] * k_texture;
    }
}

static void fhog_cell1(const uint8_t *bgr, int stride, int width, int height, cell1_ws *ws,
                       float *out)
{
    row_buf *ring = ws->ring;
    cell1_row_pixels(bgr, stride, width, height, 0, ws, &ring[0]);
    cell1_row_pixels(bgr, stride, width, height, 1, ws, &ring[1]);
    for (int y = 0; y < height - 2; y++) {
        cell1_row_pixels(bgr, stride, width, height, y + 2, ws, &ring[(y + 2) % 3]);
        cell1_features(&ring[y % 3], &ring[(y + 1) % 3], &ring[(y + 2) % 3], width - 2,
                       out + (size_t)y * (width - 2) * N_CHAN);
    }
}

/* ---- entry point -------------------------------------------------------------------------- */

/* Entries per plane row for `cols` pixels: room for the 7 past them that the last vector
 * step may load, rounded to 8. */
static size_t plane_width(int cols)
{
    return ((size_t)cols + 7 + 7) & ~(size_t)7;
}

/* Splits off the plane ring (9 rows of plane_width(cols) int32) from the float workspace,
 * zeroed so the entries past `cols` are defined. Returns the floats used. */
static size_t carve_planes(int cols, float *f, planes *p)
{
    p->pw = (int)plane_width(cols);
    p->cols = cols;
    p->next = 0;
    p->buf = (int32_t *)(void *)f;
    memset(p->buf, 0, 9 * (size_t)p->pw * sizeof(int32_t));
    return 9 * (size_t)p->pw;
}

/* Carves the workspace: floats f and ints i, sized by ws_need. */
static void carve_cells(const fhog_geom *g, int width, float *f, int *i, fhog_ws *ws)
{
    f += carve_planes(g->visible_nc + 1, f, &ws->pl);
    ws->hist = f;
    ws->norm = ws->hist + (size_t)(g->cells_nr + 2) * (g->cells_nc + 2) * N_BINS;
    /* Per-column arrays, 8 entries longer than the row: the last vector step reads 8 from its
     * start. Zeroed, as fill_col_tab and row_pixels set only the columns dlib visits. */
    const size_t n = (size_t)width + LANES;
    float *cols = ws->norm + (size_t)g->cells_nr * g->cells_nc;
    memset(cols, 0, 8 * n * sizeof(float));
    memset(i, 0, 3 * n * sizeof(int));
    ws->col.w0 = cols;
    ws->col.w1 = cols + n;
    ws->rb.len = cols + 2 * n;
    ws->rb.mag = cols + 3 * n;
    ws->vt.v11 = cols + 4 * n;
    ws->vt.v01 = cols + 5 * n;
    ws->vt.v10 = cols + 6 * n;
    ws->vt.v00 = cols + 7 * n;
    ws->col.ix = i;
    ws->rb.orient = i + n;
    ws->vt.bin = i + 2 * n;
}

static void carve_cell1(int width, float *f, int *i, cell1_ws *ws)
{
    f += carve_planes(width, f, &ws->pl);
    const size_t n = (size_t)width + LANES; /* room for the last vector step's stores */
    for (int k = 0; k < 3; k++) {
        ws->ring[k].len = f + 2 * k * n;
        ws->ring[k].mag = f + (2 * k + 1) * n;
        ws->ring[k].orient = i + k * n;
    }
}

/* Workspace sizes in floats and ints; 0 if they would overflow. */
static int ws_need(const fhog_geom *g, int width, int cell, size_t *nf, size_t *ni)
{
    const size_t w = (size_t)width, np = 9 * plane_width(width);
    if (cell == 1) {
        *nf = np + 6 * (w + LANES);
        *ni = 3 * (w + LANES);
    } else {
        const size_t hr = (size_t)g->cells_nr + 2, hc = (size_t)g->cells_nc + 2;
        if (hr > SIZE_MAX / 4 / N_BINS / hc)
            return 0;
        *nf = np + hr * hc * N_BINS + (size_t)g->cells_nr * g->cells_nc + 8 * (w + LANES);
        *ni = 3 * (w + LANES);
    }
    return *nf <= SIZE_MAX / 4 / sizeof(float) && *ni <= SIZE_MAX / 4 / sizeof(int);
}

size_t fa_fhog(const uint8_t *bgr, int width, int height, int stride, int cell, float *out)
{
    if (!bgr || !out || width <= 0 || height <= 0 || cell <= 0 || stride / 3 < width)
        return 0;
    fhog_geom g = {0};
    if (cell == 1) {
        if (width <= 2 || height <= 2)
            return 0;
        g.hog_nr = height - 2;
        g.hog_nc = width - 2;
    } else if (!fhog_geometry(width, height, cell, &g)) {
        return 0;
    }
    size_t nf, ni;
    if (!ws_need(&g, width, cell, &nf, &ni))
        return 0;

    float stack_f[STACK_FLOATS];
    int stack_i[STACK_INTS];
    float *wf = stack_f;
    int *wi = stack_i;
    void *heap = NULL;
    if (nf > STACK_FLOATS || ni > STACK_INTS) {
        heap = malloc(nf * sizeof(float) + ni * sizeof(int));
        if (!heap)
            return 0;
        wf = heap;
        wi = (int *)(wf + nf);
    }

    if (cell == 1) {
        cell1_ws ws;
        carve_cell1(width, wf, wi, &ws);
        ws.avx2 = use_avx2();
        fhog_cell1(bgr, stride, width, height, &ws, out);
    } else {
        fhog_ws ws;
        carve_cells(&g, width, wf, wi, &ws);
        ws.avx2 = use_avx2();
        fhog_cells(bgr, stride, &g, &ws, out);
    }
    free(heap);
    return (size_t)g.hog_nr * g.hog_nc * N_CHAN;
}
