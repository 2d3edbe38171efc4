/* paw.c - OpenFace's face triangulation (tris_68.txt) and the pixel mask of its piecewise affine
 * warp (PAW::pixel_mask), reproduced with OpenFace's float same-side test. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cv/cv.h"

#define MAX_SIDE FA_WARP_MAX_SIDE
#define NO_TRI 0xFF      /* "no triangle" in the per-pixel triangle map */
#define MAX_TRIS FA_TRIS_MAX

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

faceau_status fa_tris_check(const fa_tris *tris, fa_err *err)
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
    faceau_status st = fa_tris_check(tris, err);
    if (st)
        return st;
    tri_pts t[MAX_TRIS];
    build_triangles(tris, xs, ys, size, t);
    first_triangles(t, tris->n, size, mask);
    walk_pixels(t, size, mask);
    return FACEAU_OK;
}

