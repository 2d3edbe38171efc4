/* au/hog_kernels.h - hog.c's per-pixel and per-row kernels as always-inlined functions, compiled
 * twice: portable in hog.c and for AVX2 in hog_avx2.c (same source, so the same bits); private
 * to au/. */
#ifndef FACEAU_AU_HOG_KERNELS_H
#define FACEAU_AU_HOG_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "au/au.h"

#define N_ORIENT 9
#define N_BINS 18 /* contrast-sensitive orientations */
#define N_CHAN 31
#define CH_RED 2
#define CH_GREEN 1
#define CH_BLUE 0

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
 * leaves out the intrinsics and the AVX2 copy, the FACEAU_NO_AVX2 build option only the AVX2
 * copy (see core/core.h). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && !defined(FA_NO_SIMD)
#include <immintrin.h>
#define HOG_SSE2 1
#if FA_BUILD_AVX2
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

static inline int32_t *plane(const planes *p, int y, int c)
{
    return p->buf + (size_t)((y % 3) * 3 + c) * (size_t)p->pw;
}

static inline void split_row_scalar(const uint8_t *bgr, int n, int32_t *b, int32_t *g, int32_t *r)
{
    for (int x = 0; x < n; x++) {
        b[x] = bgr[3 * x];
        g[x] = bgr[3 * x + 1];
        r[x] = bgr[3 * x + 2];
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
static inline int simd_end(int visible_nc)
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


#ifdef HOG_AVX2
/* The AVX2 twins (hog_avx2.c). */
void fa_hog_split_row_avx2(const uint8_t *bgr, int n, int32_t *b, int32_t *g, int32_t *r);
void fa_hog_row_pixels_avx2(const planes *p, int y, int visible_nc, row_buf *rb);
void fa_hog_votes_avx2(const row_buf *rb, const col_tab *t, float vy0, float vy1, int visible_nc,
                       const votes *vt);
#endif

#endif
