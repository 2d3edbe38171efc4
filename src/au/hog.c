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

#include "au/hog_kernels.h"

/* Workspace kept on the stack up to these sizes (a 112x112 face with cell 8 needs 6844 floats
 * and 360 ints); bigger images use one heap block per call. */
#define STACK_FLOATS 8192
#define STACK_INTS 1024

/* Makes image rows up to y + 1 available as planes (rows are visited in increasing order). */
static void planes_ready(planes *p, const uint8_t *bgr, ptrdiff_t stride, int y, int avx2)
{
    for (; p->next <= y + 1; p->next++) {
        const uint8_t *row = bgr + (ptrdiff_t)p->next * stride;
        int32_t *b = plane(p, p->next, CH_BLUE), *g = plane(p, p->next, CH_GREEN);
        int32_t *r = plane(p, p->next, CH_RED);
#ifdef HOG_AVX2
        if (avx2) {
            fa_hog_split_row_avx2(row, p->cols, b, g, r);
            continue;
        }
#endif
        (void)avx2;
        split_row_scalar(row, p->cols, b, g, r);
    }
}

static void row_pixels_generic(const planes *p, int y, int visible_nc, row_buf *rb)
{
    row_pixels_impl(p, y, visible_nc, 0, rb);
}

/* Gradients, orientations and magnitudes of the pixels x = 1 .. visible_nc - 1 of row y. */
static void row_pixels(const uint8_t *bgr, ptrdiff_t stride, planes *p, int y, int visible_nc,
                       int avx2, row_buf *rb)
{
    planes_ready(p, bgr, stride, y, avx2);
#ifdef HOG_AVX2
    if (avx2) {
        fa_hog_row_pixels_avx2(p, y, visible_nc, rb);
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
static void votes_generic(const row_buf *rb, const col_tab *t, float vy0, float vy1,
                          int visible_nc, const votes *vt)
{
    votes_impl(rb, t, vy0, vy1, visible_nc, vt);
}


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
        fa_hog_votes_avx2(&ws->rb, &ws->col, vy0, vy1, g->visible_nc, &ws->vt);
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
    return fa_fhog_cpu(bgr, width, height, stride, cell, fa_cpu_features(), out);
}

size_t fa_fhog_cpu(const uint8_t *bgr, int width, int height, int stride, int cell, unsigned cpu,
                   float *out)
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
        ws.avx2 = (cpu & FA_CPU_AVX2) != 0;
        fhog_cell1(bgr, stride, width, height, &ws, out);
    } else {
        fhog_ws ws;
        carve_cells(&g, width, wf, wi, &ws);
        ws.avx2 = (cpu & FA_CPU_AVX2) != 0;
        fhog_cells(bgr, stride, &g, &ws, out);
    }
    free(heap);
    return (size_t)g.hog_nr * g.hog_nc * N_CHAN;
}

