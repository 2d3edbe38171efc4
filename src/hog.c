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

#include "internal.h"

#define N_ORIENT 9
#define N_BINS 18 /* contrast-sensitive orientations */
#define N_CHAN 31
#define CH_RED 2
#define CH_GREEN 1
#define CH_BLUE 0
/* Workspace kept on the stack up to these sizes (a 112x112 face with cell 8 needs 5364 floats
 * and 224 ints); bigger images use one heap block per call. */
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

/* Gradients of one image row, one entry per column (only the columns dlib visits are set). */
typedef struct row_buf {
    float *gx, *gy; /* chosen channel's central differences (small integers) */
    float *len;     /* gx^2 + gy^2 */
    int *orient;    /* 0..17 */
} row_buf;

/* Columns [1, simd_end) go through dlib's 8-wide SIMD loop, the rest of the row through its
 * scalar tail; dlib's loop is `for (x = 1; x < visible_nc - 7; x += 8)`. */
static int simd_end(int visible_nc)
{
    int x = 1;
    while (x < visible_nc - 7)
        x += 8;
    return x;
}

/* Columns [x0, x1) of image row `row`: each pixel takes the colour channel with the longest
 * gradient. dlib's SIMD path keeps red only if strictly longer than green, then that only if
 * strictly longer than blue (ties go to the later channel); its scalar path replaces red only
 * by a strictly longer channel (ties go to the earlier one). */
static void row_grads(const uint8_t *row, ptrdiff_t stride, int x0, int x1, int simd, row_buf *rb)
{
    const uint8_t *up = row - stride, *dn = row + stride;
    for (int x = x0; x < x1; x++) {
        const int l = 3 * (x - 1), c = 3 * x, r = 3 * (x + 1);
        const int rx = row[r + CH_RED] - row[l + CH_RED], ry = dn[c + CH_RED] - up[c + CH_RED];
        const int gx = row[r + CH_GREEN] - row[l + CH_GREEN];
        const int gy = dn[c + CH_GREEN] - up[c + CH_GREEN];
        const int bx = row[r + CH_BLUE] - row[l + CH_BLUE], by = dn[c + CH_BLUE] - up[c + CH_BLUE];
        const int rl = rx * rx + ry * ry, gl = gx * gx + gy * gy, bl = bx * bx + by * by;
        int tx, ty, tl;
        if (simd) {
            const int keep_r = rl > gl;
            tx = keep_r ? rx : gx;
            ty = keep_r ? ry : gy;
            tl = keep_r ? rl : gl;
            const int keep_t = tl > bl;
            tx = keep_t ? tx : bx;
            ty = keep_t ? ty : by;
            tl = keep_t ? tl : bl;
        } else {
            const int take_g = gl > rl;
            tx = take_g ? gx : rx;
            ty = take_g ? gy : ry;
            tl = take_g ? gl : rl;
            const int take_b = bl > tl;
            tx = take_b ? bx : tx;
            ty = take_b ? by : ty;
            tl = take_b ? bl : tl;
        }
        rb->gx[x] = (float)tx;
        rb->gy[x] = (float)ty;
        rb->len[x] = (float)tl;
    }
}

/* Snaps a gradient to one of 18 orientations. dlib scans o = 0..8 with `if (dot > best) take o
 * else if (-dot > best) take o + 9`, best starting at 0; as best >= 0 that is the same as
 * taking o or o + 9 (by the sign of dot) whenever |dot| > best, so ties keep the earlier o and
 * a zero gradient gives 0. Both dlib paths agree on this step. */
static int orientation(float gx, float gy)
{
    float best = 0.0f;
    int best_o = 0;
    for (int o = 0; o < N_ORIENT; o++) {
        const float dot = k_dir_x[o] * gx + k_dir_y[o] * gy;
        const float mag = fabsf(dot);
        if (mag > best) {
            best = mag;
            best_o = dot > 0.0f ? o : o + N_ORIENT;
        }
    }
    return best_o;
}

/* Four lanes of float or int, GNU C vector extensions: the orientation scan is the hot loop,
 * and lane by lane these run exactly the scalar float operations (as dlib's SIMD does). */
typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));

/* orientation() of the 4 pixels at gx[0..3], gy[0..3]. */
static void orientation4(const float *gx, const float *gy, int *out)
{
    f4 x, y, best = {0.0f, 0.0f, 0.0f, 0.0f};
    i4 best_o = {0, 0, 0, 0};
    memcpy(&x, gx, sizeof x);
    memcpy(&y, gy, sizeof y);
    /* Unrolled so the per-o constants become immediates instead of per-iteration broadcasts. */
#pragma GCC unroll 9
    for (int o = 0; o < N_ORIENT; o++) {
        const f4 dot = k_dir_x[o] * x + k_dir_y[o] * y;
        const f4 mag = (f4)((i4)dot & 0x7fffffff); /* |dot| */
        const i4 take = mag > best;
        const i4 cand = (o + N_ORIENT) + ((dot > 0.0f) & -N_ORIENT);
        best = (f4)((take & (i4)mag) | (~take & (i4)best));
        best_o = (take & cand) | (~take & best_o);
    }
    int32_t lanes[4];
    memcpy(lanes, &best_o, sizeof lanes);
    for (int k = 0; k < 4; k++)
        out[k] = lanes[k];
}

/* Gradients and orientations of the pixels x = 1 .. visible_nc - 1 of image row y. */
static void row_pixels(const uint8_t *bgr, ptrdiff_t stride, int y, int visible_nc, row_buf *rb)
{
    const uint8_t *row = bgr + (ptrdiff_t)y * stride;
    const int xs = simd_end(visible_nc);
    row_grads(row, stride, 1, xs, 1, rb);
    row_grads(row, stride, xs, visible_nc, 0, rb);
    int x = 1;
    for (; x + 4 <= visible_nc; x += 4)
        orientation4(rb->gx + x, rb->gy + x, rb->orient + x);
    for (; x < visible_nc; x++)
        rb->orient[x] = orientation(rb->gx[x], rb->gy[x]);
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

typedef struct fhog_ws {
    float *hist; /* (cells_nr + 2) x (cells_nc + 2) x 18, a 1-cell border all round */
    float *norm; /* cells_nr x cells_nc block energies */
    col_tab col;
    row_buf rb;
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

/* Adds the votes of image row y (gradients in rb) into hist. */
static void vote_row(int y, const fhog_geom *g, const col_tab *t, const row_buf *rb, float *hist)
{
    const int hnc = g->cells_nc + 2;
    const float yp = (float)(((double)(float)y + 0.5) / (double)(float)g->cell - 0.5);
    const int iy = (int)floorf(yp) + 1;
    const float vy0 = yp - (float)(iy - 1);
    const float vy1 = (float)(1.0 - (double)vy0);
    const int xs = simd_end(g->visible_nc);
    float *top = hist + (size_t)iy * hnc * N_BINS;
    float *bot = top + (size_t)hnc * N_BINS;

    for (int x = 1; x < g->visible_nc; x++) {
        const float v = sqrtf(rb->len[x]);
        const float w0 = t->w0[x], w1 = t->w1[x];
        float v11, v01, v10, v00;
        if (x < xs) { /* vy * (vx * v) */
            const float a1 = w1 * v, a0 = w0 * v;
            v11 = vy1 * a1;
            v01 = vy0 * a1;
            v10 = vy1 * a0;
            v00 = vy0 * a0;
        } else { /* (vy * vx) * v */
            v11 = vy1 * w1 * v;
            v01 = vy0 * w1 * v;
            v10 = vy1 * w0 * v;
            v00 = vy0 * w0 * v;
        }
        const size_t c0 = (size_t)t->ix[x] * N_BINS + rb->orient[x], c1 = c0 + N_BINS;
        top[c0] += v11;
        bot[c0] += v01;
        top[c1] += v10;
        bot[c1] += v00;
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
        row_pixels(bgr, stride, y, g->visible_nc, &ws->rb);
        vote_row(y, g, &ws->col, &ws->rb, ws->hist);
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
    row_buf ring[3]; /* gx, gy shared by all three */
} cell1_ws;

/* Squared lengths and orientations of image row y; zero on the image border, as dlib's
 * zero_border_pixels leaves them. */
static void cell1_row_pixels(const uint8_t *bgr, int stride, int width, int height, int y,
                             row_buf *rb)
{
    memset(rb->len, 0, sizeof(float) * (size_t)width);
    memset(rb->orient, 0, sizeof(int) * (size_t)width);
    if (y > 0 && y < height - 1)
        row_pixels(bgr, stride, y, width - 1, rb);
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
        clip_lanes(sqrtf(q[x + 1]), nn, n, l);
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
    cell1_row_pixels(bgr, stride, width, height, 0, &ring[0]);
    cell1_row_pixels(bgr, stride, width, height, 1, &ring[1]);
    for (int y = 0; y < height - 2; y++) {
        cell1_row_pixels(bgr, stride, width, height, y + 2, &ring[(y + 2) % 3]);
        cell1_features(&ring[y % 3], &ring[(y + 1) % 3], &ring[(y + 2) % 3], width - 2,
                       out + (size_t)y * (width - 2) * N_CHAN);
    }
}

/* ---- entry point -------------------------------------------------------------------------- */

/* Carves the workspace: floats f and ints i, sized by ws_need. */
static void carve_cells(const fhog_geom *g, int width, float *f, int *i, fhog_ws *ws)
{
    ws->hist = f;
    ws->norm = ws->hist + (size_t)(g->cells_nr + 2) * (g->cells_nc + 2) * N_BINS;
    ws->col.w0 = ws->norm + (size_t)g->cells_nr * g->cells_nc;
    ws->col.w1 = ws->col.w0 + width;
    ws->rb.gx = ws->col.w1 + width;
    ws->rb.gy = ws->rb.gx + width;
    ws->rb.len = ws->rb.gy + width;
    ws->col.ix = i;
    ws->rb.orient = i + width;
}

static void carve_cell1(int width, float *f, int *i, cell1_ws *ws)
{
    for (int k = 0; k < 3; k++) {
        ws->ring[k].gx = f;
        ws->ring[k].gy = f + width;
        ws->ring[k].len = f + (size_t)(2 + k) * width;
        ws->ring[k].orient = i + (size_t)k * width;
    }
}

/* Workspace sizes in floats and ints; 0 if they would overflow. */
static int ws_need(const fhog_geom *g, int width, int cell, size_t *nf, size_t *ni)
{
    const size_t w = (size_t)width;
    if (cell == 1) {
        *nf = 5 * w;
        *ni = 3 * w;
    } else {
        const size_t hr = (size_t)g->cells_nr + 2, hc = (size_t)g->cells_nc + 2;
        if (hr > SIZE_MAX / 4 / N_BINS / hc)
            return 0;
        *nf = hr * hc * N_BINS + (size_t)g->cells_nr * g->cells_nc + 5 * w;
        *ni = 2 * w;
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
        fhog_cell1(bgr, stride, width, height, &ws, out);
    } else {
        fhog_ws ws;
        carve_cells(&g, width, wf, wi, &ws);
        fhog_cells(bgr, stride, &g, &ws, out);
    }
    free(heap);
    return (size_t)g.hog_nr * g.hog_nc * N_CHAN;
}
