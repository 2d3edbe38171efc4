/* test_ccnf.c - CCNF patch experts: the 8 shipped files load with the documented structure,
 * damaged copies fail naming the file, Sigma and a one-neuron response on hand-made experts
 * match hand computations, and the responses on a real frame peak where OpenFace's landmarks of
 * the next frame are. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "landmarks/ccnf.h"
#include "landmarks/ccnf_kernels.h"
#include "landmarks/warp.h"
#include "testutil.h"

#define GENERAL(s) "models/patch_experts/ccnf_patches_" s "_general.txt"
#define INNER "models/model_inner/patch_experts/ccnf_patches_1.00_inner.txt"
#define EYE(p, s) "models/model_eye/patch_experts/" p "ccnf_patches_" s "_synth_lid_.txt"
#define PDM_REL "models/pdms/In-the-wild_aligned_PDM_68.txt"
#define VIDEO "data/videos/2015-10-15-15-14.avi"
#define REF_CSV "reference/fullprec/2015-10-15-15-14.csv"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- the shipped files ----------------------------------------------------------------------- */

typedef struct expect {
    const char *rel;
    double scaling;
    int views, points, empty, n_comp;
    int vis[7];
    int n_windows; /* listed windows: 7, 9, 11, 15, preceded by 3, 5 in the left-eye files */
} expect;

static void check_structure(const expect *x)
{
    fa_ccnf c;
    fa_err e;
    faceau_status st = fa_ccnf_load(tu_shared_path("%s", x->rel), &c, &e);
    CHECK(st == FACEAU_OK, "load %s: %s", x->rel, e.msg);
    if (st)
        return;
    CHECK(c.patch_scaling == x->scaling, "%s: patch scaling %g, want %g", x->rel, c.patch_scaling,
          x->scaling);
    CHECK(c.n_views == x->views && c.n_points == x->points, "%s: %d views, %d points", x->rel,
          c.n_views, c.n_points);
    /* windows 7, 9, 11, 15 (the left-eye files also 3 and 5; the eye files without sigma
     * components) */
    CHECK(c.n_windows == x->n_windows, "%s: %d windows", x->rel, c.n_windows);
    static const int ws6[6] = {3, 5, 7, 9, 11, 15};
    const int *ws = x->n_windows == 6 ? ws6 : ws6 + 2;
    for (int w = 0; w < c.n_windows && w < x->n_windows; w++)
        CHECK(c.windows[w].size == ws[w] && c.windows[w].n_comp == x->n_comp,
              "%s: window %d is %d with %d components", x->rel, w, c.windows[w].size,
              c.windows[w].n_comp);
    CHECK(c.n_betas == x->n_comp, "%s: %d betas", x->rel, c.n_betas);
    int empty = 0, odd = 0, vis_mismatch = 0;
    for (int v = 0; v < c.n_views; v++) {
        int vis = 0;
        for (int i = 0; i < c.n_points; i++) {
            const fa_ccnf_expert *ex = &c.experts[v * c.n_points + i];
            int visible = c.visibility[v * c.n_points + i] != 0;
            vis += visible;
            if (!ex->n_neurons) {
                empty++;
                vis_mismatch += visible; /* an empty expert is always an invisible landmark */
            } else if (ex->width != 11 || ex->height != 11 || ex->n_neurons != 7) {
                odd++;
            }
        }
        CHECK(vis == x->vis[v], "%s: view %d has %d visible landmarks, want %d", x->rel, v, vis,
              x->vis[v]);
    }
    CHECK(empty == x->empty, "%s: %d empty experts, want %d", x->rel, empty, x->empty);
    CHECK(odd == 0, "%s: %d experts are not 11x11 with 7 neurons", x->rel, odd);
    CHECK(vis_mismatch == 0, "%s: %d visible landmarks without an expert", x->rel, vis_mismatch);
    /* view centres: yaw 0, -20, -45, -70, 70, 45, 20 degrees, in radians */
    static const double yaw[7] = {0, -20, -45, -70, 70, 45, 20};
    for (int v = 0; v < c.n_views; v++)
        CHECK(fabs(c.centers[v][1] - yaw[v] * 3.14159265358979323846 / 180) < 1e-15 &&
                  c.centers[v][0] == 0 && c.centers[v][2] == 0,
              "%s: view %d centre %g %g %g", x->rel, v, c.centers[v][0], c.centers[v][1],
              c.centers[v][2]);
    /* view selection: the nearest centre; ties keep the first */
    float g[6] = {1, 0, 0, 0, 0, 0};
    CHECK(fa_ccnf_view(&c, g) == 0, "%s: frontal view", x->rel);
    if (c.n_views == 7) {
        g[2] = -0.5f; /* -28.6 deg: nearer -20 than -45 */
        CHECK(fa_ccnf_view(&c, g) == 1, "%s: yaw -0.5 -> view %d", x->rel, fa_ccnf_view(&c, g));
        g[2] = 1.0f; /* 57 deg: nearer 45 (view 5) than 70 (view 4) */
        CHECK(fa_ccnf_view(&c, g) == 5, "%s: yaw 1.0 -> view %d", x->rel, fa_ccnf_view(&c, g));
        g[2] = 2.5f;
        g[1] = 0.3f;
        CHECK(fa_ccnf_view(&c, g) == 4, "%s: yaw 2.5 -> view %d", x->rel, fa_ccnf_view(&c, g));
    }
    fa_ccnf_free(&c);
    fa_ccnf_free(&c); /* idempotent */
}

static void test_shipped(void)
{
    const expect general[3] = {
        {GENERAL("0.25"), 0.25, 7, 68, 66, 3, {68, 68, 68, 35, 35, 68, 68}, 4},
        {GENERAL("0.35"), 0.35, 7, 68, 66, 3, {68, 68, 68, 35, 35, 68, 68}, 4},
        {GENERAL("0.5"), 0.5, 7, 68, 66, 3, {68, 68, 68, 35, 35, 68, 68}, 4},
    };
    for (int i = 0; i < 3; i++)
        check_structure(&general[i]);
    const expect inner = {INNER, 1.0, 7, 51, 50, 3, {51, 51, 51, 26, 26, 51, 51}, 4};
    check_structure(&inner);
    const expect eyes[4] = {
        {EYE("", "1.00"), 1.0, 1, 28, 0, 0, {28}, 4},
        {EYE("", "1.50"), 1.5, 1, 28, 0, 0, {28}, 4},
        {EYE("left_", "1.00"), 1.0, 1, 28, 0, 0, {28}, 6},
        {EYE("left_", "1.50"), 1.5, 1, 28, 0, 0, {28}, 6},
    };
    for (int i = 0; i < 4; i++)
        check_structure(&eyes[i]);
}

/* The eye models store no sigma components: every window's Sigma is inv(2 sum(alpha) I), for
 * the eye windows 3 and 5 too (which the right-eye file does not even list). */
static void test_eye_sigma(void)
{
    fa_ccnf c;
    fa_err e;
    if (fa_ccnf_load(tu_shared_path(EYE("", "1.00")), &c, &e)) {
        CHECK(0, "eye: %s", e.msg);
        return;
    }
    for (int w = 3; w <= 5; w += 2) {
        CHECK(fa_ccnf_prepare(&c, w, &e) == FACEAU_OK, "eye prepare %d: %s", w, e.msg);
        const int s = fa_ccnf_slot(&c, w), N = w * w;
        CHECK(s >= 0 && c.slot_window[s] == w, "eye slot %d", w);
        int bad = 0;
        for (int i = 0; i < c.n_points && s >= 0; i++) {
            const fa_ccnf_expert *ex = &c.experts[i];
            float sa = 0;
            for (int a = 0; a < ex->n_neurons; a++)
                sa = (float)((double)sa + ex->alpha[a]);
            const double want = 1.0 / (2.0 * sa);
            for (int a = 0; a < N; a++)
                for (int b = 0; b < N; b++) {
                    double v = ex->sigma[s][a * N + b];
                    bad += a == b ? fabs(v - want) > 1e-6 * want : v != 0;
                }
        }
        CHECK(bad == 0, "eye window %d: %d Sigma entries off inv(2 sum(alpha) I)", w, bad);
    }
    fa_ccnf_free(&c);
}

/* ---- damaged files --------------------------------------------------------------------------- */

static void expect_fail(const char *path, const char *name, faceau_status want, const char *what)
{
    fa_ccnf c;
    fa_err e;
    fa_err_clear(&e);
    faceau_status st = fa_ccnf_load(path, &c, &e);
    CHECK(st == want, "%s: status %d, want %d (%s)", what, st, want, e.msg);
    CHECK(strstr(e.msg, name) != NULL, "%s: message does not name the file: %s", what, e.msg);
    CHECK(c.experts == NULL && c.centers == NULL && c.n_views == 0, "%s: model left set", what);
    fa_ccnf_free(&c);
}

static void test_damaged(void)
{
    size_t n;
    unsigned char *data = tu_read_file(tu_shared_path(EYE("", "1.00")), &n);
    CHECK(data != NULL, "cannot read the eye model");
    if (!data)
        return;
    const char *dir = tu_tmpdir("test_ccnf");
    char path[4096];

    /* missing */
    snprintf(path, sizeof path, "%s/no_such_ccnf.txt", dir);
    expect_fail(path, "no_such_ccnf.txt", FACEAU_ERR_IO, "missing file");

    /* truncated at many points: header, centres, visibilities, windows, experts, last byte */
    const size_t cuts[] = {0, 3, 8, 11, 20, 40, 100, 200, 500, 1000, n / 2, n - 9, n - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        snprintf(path, sizeof path, "%s/cut_%zu_ccnf.txt", dir, cuts[k]);
        CHECK(tu_write_file(path, data, cuts[k]) == 0, "write %s", path);
        char name[64];
        snprintf(name, sizeof name, "cut_%zu_ccnf.txt", cuts[k]);
        expect_fail(path, name, FACEAU_ERR_MODEL_CORRUPT, name);
    }

    /* malformed fields, each in its own copy */
    unsigned char *bad = malloc(n);
    if (!bad) {
        free(data);
        return;
    }
    struct {
        size_t off;
        int32_t v;
        const char *name;
    } edits[] = {
        {8, -1, "views_neg.txt"},          /* view count */
        {8, 1 << 30, "views_huge.txt"},    /* view count: must fail before allocating */
        {12, 1 << 30, "centre_rows.txt"},  /* first centre's rows */
        {12 + 12 + 24 + 0, 1 << 28, "vis_rows.txt"}, /* visibility rows */
    };
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        memcpy(bad, data, n);
        memcpy(bad + edits[k].off, &edits[k].v, 4);
        snprintf(path, sizeof path, "%s/%s", dir, edits[k].name);
        CHECK(tu_write_file(path, bad, n) == 0, "write %s", path);
        expect_fail(path, edits[k].name, FACEAU_ERR_MODEL_CORRUPT, edits[k].name);
    }
    free(bad);
    free(data);
}

/* ---- hand-made experts ----------------------------------------------------------------------- */

/* A 2x2-support expert with one neuron: row-major weights w (2x2), bias, norm weight, alpha. */
static void make_expert(fa_ccnf_expert *e, float *weights, double *alpha, double *betas,
                        const float w[4], double bias, double nw, double a, double beta)
{
    memset(e, 0, sizeof *e);
    e->width = e->height = 2;
    e->n_neurons = 1;
    e->weights = weights;
    e->alpha = alpha;
    e->betas = betas;
    alpha[0] = a;
    betas[0] = beta;
    /* weight_matrix row: bias, then column-major (w00, w10, w01, w11) times norm weight */
    weights[0] = (float)bias;
    weights[1] = w[0] * (float)nw;
    weights[2] = w[2] * (float)nw;
    weights[3] = w[1] * (float)nw;
    weights[4] = w[3] * (float)nw;
}

static void test_sigma(void)
{
    float wts[5];
    double alpha[1], betas[1];
    fa_ccnf_expert e;
    const float w[4] = {0, 0, 0, 0};
    float sigma[16], scratch[16];

    /* no components, alpha 2: Sigma = inv(2*2*I) = 0.25 I exactly (L = 1/sqrt(4) = 0.5) */
    make_expert(&e, wts, alpha, betas, w, 0, 1, 2.0, 0);
    CHECK(fa_ccnf_compute_sigma(&e, NULL, 0, 2, sigma, scratch) == 1, "diagonal sigma failed");
    int bad = 0;
    for (int i = 0; i < 16; i++)
        bad += sigma[i] != ((i % 5) == 0 ? 0.25f : 0.f);
    CHECK(bad == 0, "diagonal sigma: %d entries differ from 0.25 I", bad);

    /* one component pairing positions 0-1 and 2-3, alpha 1, beta 0.5:
     * SigmaInv blocks [[2, 1], [1, 2]], inverse (1/3) [[2, -1], [-1, 2]] */
    float S[16] = {0};
    S[0 * 4 + 1] = S[1 * 4 + 0] = S[2 * 4 + 3] = S[3 * 4 + 2] = 1;
    make_expert(&e, wts, alpha, betas, w, 0, 1, 1.0, 0.5);
    CHECK(fa_ccnf_compute_sigma(&e, S, 1, 2, sigma, scratch) == 1, "block sigma failed");
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double want = (i / 2 != j / 2) ? 0 : (i == j ? 2.0 / 3 : -1.0 / 3);
            CHECK(fabs(sigma[i * 4 + j] - want) < 1e-7, "block sigma (%d,%d) = %.9g, want %.9g", i,
                  j, sigma[i * 4 + j], want);
        }
    /* Sigma * SigmaInv = I to float precision */
    double maxerr = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) {
                double inv = (k == j ? 2.0 : 0) + (S[k * 4 + j] ? 1.0 : 0);
                s += sigma[i * 4 + k] * inv;
            }
            maxerr = fmax(maxerr, fabs(s - (i == j)));
        }
    CHECK(maxerr < 1e-6, "Sigma * SigmaInv differs from I by %g", maxerr);

    /* not positive definite (alpha 0, beta 1: eigenvalues +-2): zeros and 0 */
    make_expert(&e, wts, alpha, betas, w, 0, 1, 0.0, 1.0);
    CHECK(fa_ccnf_compute_sigma(&e, S, 1, 2, sigma, scratch) == 0, "indefinite sigma accepted");
    bad = 0;
    for (int i = 0; i < 16; i++)
        bad += sigma[i] != 0;
    CHECK(bad == 0, "indefinite sigma not zeroed");
}

/* q = bias + nw * (b - mean)/norm over the 2x2 window whose top-right pixel is b. */
static double hand_q(const float p[4], double bias, double nw)
{
    double mean = (p[0] + p[1] + p[2] + p[3]) / 4, ss = 0;
    for (int k = 0; k < 4; k++)
        ss += (p[k] - mean) * (p[k] - mean);
    return bias + nw * (p[1] - mean) / sqrt(ss);
}

static void test_response_hand(void)
{
    /* 3x3 area, window 2, 2x2 support. The windows (row-major [a b; c d]) are
     *  (x0,y0) [1 2; 4 5]  mean 3,    devs -2 -1 1 2,           ||.||^2 10
     *  (x1,y0) [2 4; 5 6]  mean 4.25, devs -2.25 -.25 .75 1.75, ||.||^2 8.75
     *  (x0,y1) [4 5; 7 9]  mean 6.25, devs -2.25 -1.25 .75 2.75, ||.||^2 14.75
     *  (x1,y1) [5 6; 9 10] mean 7.5,  devs -2.5 -1.5 1.5 2.5,    ||.||^2 17
     * and the neuron weighs only the top-right pixel b. */
    const float area[9] = {1, 2, 4, 4, 5, 6, 7, 9, 10};
    const float win[4][4] = {{1, 2, 4, 5}, {2, 4, 5, 6}, {4, 5, 7, 9}, {5, 6, 9, 10}};
    const double devs_b[4] = {-1, -0.25, -1.25, -1.5}, ss[4] = {10, 8.75, 14.75, 17};
    const float w[4] = {0, 1, 0, 0};
    float wts[5], sigma[16], scratch_s[16];
    double alpha[1], betas[1];
    fa_ccnf_expert e;
    float scratch[64], out[4];
    CHECK(fa_ccnf_scratch_floats(2, 2, 2) <= 64, "scratch size %zu", fa_ccnf_scratch_floats(2, 2, 2));

    /* alpha 0.5: Sigma = I, the factor 2 alpha = 1: out = sigmoid(q) */
    make_expert(&e, wts, alpha, betas, w, 0.25, 2.0, 0.5, 0);
    fa_ccnf_compute_sigma(&e, NULL, 0, 2, sigma, scratch_s);
    fa_ccnf_landmark_response(&e, sigma, area, 3, 2, scratch, out);
    for (int k = 0; k < 4; k++) {
        double q = 0.25 + 2.0 * devs_b[k] / sqrt(ss[k]);
        double q2 = hand_q(win[k], 0.25, 2.0);
        double want = 1 / (1 + exp(-q));
        CHECK(fabs(q - q2) < 1e-12, "hand table wrong at %d", k);
        /* out is [y][x]: k = y*2 + x with the windows listed x-fastest above */
        CHECK(fabs(out[k] - want) < 2e-7, "sigmoid response %d = %.9g, want %.9g", k, out[k], want);
    }

    /* a stride larger than the width reads the same pixels */
    float wide[3 * 5];
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 5; x++)
            wide[y * 5 + x] = x < 3 ? area[y * 3 + x] : 1e6f;
    float out2[4];
    fa_ccnf_landmark_response(&e, sigma, wide, 5, 2, scratch, out2);
    CHECK(memcmp(out, out2, sizeof out) == 0, "stride changes the response");

    /* with the block Sigma (alpha 1, beta 0.5): out = Sigma * 2 sigmoid(q), then shifted so its
     * minimum is 0 if it was negative */
    float S[16] = {0};
    S[0 * 4 + 1] = S[1 * 4 + 0] = S[2 * 4 + 3] = S[3 * 4 + 2] = 1;
    make_expert(&e, wts, alpha, betas, w, 0.25, 2.0, 1.0, 0.5);
    fa_ccnf_compute_sigma(&e, S, 1, 2, sigma, scratch_s);
    fa_ccnf_landmark_response(&e, sigma, area, 3, 2, scratch, out);
    double r[4], o[4], mn = 0;
    for (int k = 0; k < 4; k++)
        r[k] = 2.0 / (1 + exp(-(0.25 + 2.0 * devs_b[k] / sqrt(ss[k]))));
    for (int k = 0; k < 4; k++) {
        int m = k ^ 1; /* the partner in its block */
        o[k] = (2 * r[k] - r[m]) / 3;
        mn = k == 0 || o[k] < mn ? o[k] : mn;
    }
    for (int k = 0; k < 4; k++) {
        double want = mn < 0 ? o[k] - mn : o[k];
        CHECK(fabs(out[k] - want) < 1e-6, "Sigma response %d = %.9g, want %.9g", k, out[k], want);
    }

    /* alpha <= 1e-4: the neuron is skipped: zero before Sigma, zero after */
    make_expert(&e, wts, alpha, betas, w, 0.25, 2.0, 1e-4, 0);
    fa_ccnf_compute_sigma(&e, NULL, 0, 2, sigma, scratch_s);
    fa_ccnf_landmark_response(&e, sigma, area, 3, 2, scratch, out);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 0, "tiny alpha not skipped");

    /* a flat window (norm 0 -> 1): q = bias exactly */
    const float flat[9] = {3, 3, 3, 3, 3, 3, 3, 3, 3};
    make_expert(&e, wts, alpha, betas, w, 0.25, 2.0, 0.5, 0);
    fa_ccnf_compute_sigma(&e, NULL, 0, 2, sigma, scratch_s);
    fa_ccnf_landmark_response(&e, sigma, flat, 3, 2, scratch, out);
    CHECK(fabs(out[0] - 1 / (1 + exp(-0.25))) < 1e-7, "flat window = %.9g", out[0]);
}

static void test_align_shapes(void)
{
    /* dst = 0.5 * R(30 deg) * src + t: A must be 0.5 R */
    enum { N = 68 };
    float src[2 * N], dst[2 * N], A[4];
    const double c = cos(0.5235987755982988), s = sin(0.5235987755982988);
    for (int i = 0; i < N; i++) {
        double x = 100 + 40 * cos(i * 0.37) + i, y = 50 + 30 * sin(i * 0.91);
        src[i] = (float)x;
        src[N + i] = (float)y;
        dst[i] = (float)(0.5 * (c * x - s * y) + 7);
        dst[N + i] = (float)(0.5 * (s * x + c * y) - 3);
    }
    fa_align_shapes_with_scale(src, dst, N, A);
    CHECK(fabs(A[0] - 0.5 * c) < 1e-5 && fabs(A[1] + 0.5 * s) < 1e-5 && fabs(A[2] - 0.5 * s) < 1e-5 &&
              fabs(A[3] - 0.5 * c) < 1e-5,
          "A = %g %g %g %g", A[0], A[1], A[2], A[3]);
}

/* ---- a synthetic file, end to end ------------------------------------------------------------ */

typedef tu_buf buf;
static void put_hdr(buf *o, int r, int c, int t)
{
    tu_put_i32(o, r);
    tu_put_i32(o, c);
    tu_put_i32(o, t);
}

/* Double-precision inverse by Gauss-Jordan (n <= 25), for the reference. */
static void invert_ref(double *a, int n, double *inv)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            inv[i * n + j] = i == j;
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            piv = fabs(a[r * n + c]) > fabs(a[piv * n + c]) ? r : piv;
        for (int j = 0; j < n; j++) {
            double t = a[c * n + j];
            a[c * n + j] = a[piv * n + j];
            a[piv * n + j] = t;
            t = inv[c * n + j];
            inv[c * n + j] = inv[piv * n + j];
            inv[piv * n + j] = t;
        }
        double d = a[c * n + c];
        for (int j = 0; j < n; j++) {
            a[c * n + j] /= d;
            inv[c * n + j] /= d;
        }
        for (int r = 0; r < n; r++)
            if (r != c) {
                double f = a[r * n + c];
                for (int j = 0; j < n; j++) {
                    a[r * n + j] -= f * a[c * n + j];
                    inv[r * n + j] -= f * inv[c * n + j];
                }
            }
    }
}

/* A one-view, two-landmark file with a 3-wide, 2-high support, 10 neurons (one with a tiny
 * alpha), window 5 with one sigma component: load it, prepare, and compare the response with a
 * straightforward double-precision reading of the same numbers (row-major weights as stored). */
static void test_synthetic_file(void)
{
    enum { WS = 5, SW = 3, SH = 2, NN = 10, P = WS * WS, AH = WS + SH - 1, AW = WS + SW - 1 };
    static buf o;
    o.n = 0;
    unsigned seed = 12345;
#define RND() ((seed = seed * 1103515245u + 12345u), ((seed >> 8) & 0xffff) / 65536.0)
    tu_put_f64(&o, 0.3);
    tu_put_i32(&o, 1);
    put_hdr(&o, 3, 1, 6);
    tu_put_f64(&o, 0);
    tu_put_f64(&o, 10);
    tu_put_f64(&o, 0);
    put_hdr(&o, 2, 1, 4);
    tu_put_i32(&o, 1);
    tu_put_i32(&o, 0);
    tu_put_i32(&o, 1); /* windows */
    tu_put_i32(&o, WS);
    tu_put_i32(&o, 1);
    put_hdr(&o, P, P, 5);
    static float S[P * P];
    for (int a = 0; a < P; a++)
        for (int b = 0; b < P; b++) {
            int ya = a / WS, xa = a % WS, yb = b / WS, xb = b % WS;
            S[a * P + b] = (abs(ya - yb) + abs(xa - xb) == 1) ? 1.f : 0.f; /* 4-neighbours */
        }
    tu_put(&o, S, sizeof S);
    /* expert 0 */
    double nw[NN], bias[NN], alpha[NN];
    float W[NN][SH * SW];
    tu_put_i32(&o, 5);
    tu_put_i32(&o, SW);
    tu_put_i32(&o, SH);
    tu_put_i32(&o, NN);
    for (int i = 0; i < NN; i++) {
        nw[i] = 0.5 + 2 * RND();
        bias[i] = RND() - 0.5;
        alpha[i] = i == 3 ? 5e-5 : 0.05 + RND();
        tu_put_i32(&o, 2);
        tu_put_i32(&o, 0);
        tu_put_f64(&o, nw[i]);
        tu_put_f64(&o, bias[i]);
        tu_put_f64(&o, alpha[i]);
        put_hdr(&o, SH, SW, 5);
        for (int k = 0; k < SH * SW; k++)
            W[i][k] = (float)(RND() * 2 - 1);
        tu_put(&o, W[i], sizeof W[i]);
    }
    const double beta = 0.3;
    tu_put_f64(&o, beta);
    tu_put_f64(&o, 0.875); /* confidence */
    /* expert 1: empty */
    tu_put_i32(&o, 5);
    tu_put_i32(&o, 0);
    tu_put_i32(&o, 0);
    tu_put_i32(&o, 0);
    tu_put_i32(&o, 0);
    const char *dir = tu_tmpdir("test_ccnf_synth");
    char path[4096];
    snprintf(path, sizeof path, "%s/synthetic_ccnf.txt", dir);
    CHECK(tu_write_file(path, o.b, o.n) == 0, "write %s", path);

    fa_ccnf c;
    fa_err e;
    if (fa_ccnf_load(path, &c, &e) != FACEAU_OK) {
        CHECK(0, "synthetic load: %s", e.msg);
        return;
    }
    CHECK(c.n_views == 1 && c.n_points == 2 && c.n_betas == 1 && c.patch_scaling == 0.3,
          "synthetic structure");
    CHECK(c.centers[0][1] == (10 * 3.14159265358979323846) * (1. / 180), "centre %.17g",
          c.centers[0][1]);
    CHECK(c.experts[0].n_neurons == NN && c.experts[0].width == SW && c.experts[0].height == SH &&
              c.experts[0].confidence == 0.875 && c.experts[0].betas[0] == beta,
          "synthetic expert 0");
    CHECK(c.experts[1].n_neurons == 0 && c.visibility[1] == 0, "synthetic expert 1");
    CHECK(fa_ccnf_prepare(&c, WS, &e) == FACEAU_OK, "synthetic prepare: %s", e.msg);
    CHECK(c.experts[1].sigma[0] == NULL, "empty expert got a Sigma");

    /* the reference */
    static double inv_in[P * P], sig[P * P];
    double sa = 0;
    for (int i = 0; i < NN; i++)
        sa += alpha[i];
    for (int k = 0; k < P * P; k++)
        inv_in[k] = 2 * ((k % (P + 1) == 0 ? sa : 0) + beta * S[k]);
    invert_ref(inv_in, P, sig);
    float area[AH * AW];
    for (int k = 0; k < AH * AW; k++)
        area[k] = (float)(255 * RND());
    double resp[P], want[P];
    for (int y = 0; y < WS; y++)
        for (int x = 0; x < WS; x++) {
            double pm = 0, ss = 0, v[SH * SW];
            for (int yy = 0; yy < SH; yy++)
                for (int xx = 0; xx < SW; xx++)
                    pm += v[yy * SW + xx] = area[(y + yy) * AW + x + xx];
            pm /= SH * SW;
            for (int k = 0; k < SH * SW; k++)
                ss += (v[k] - pm) * (v[k] - pm);
            double r = 0;
            for (int i = 0; i < NN; i++) {
                if (alpha[i] <= 1e-4)
                    continue;
                double q = bias[i];
                for (int k = 0; k < SH * SW; k++)
                    q += nw[i] * W[i][k] * (v[k] - pm) / sqrt(ss);
                r += 2 * alpha[i] / (1 + exp(-q));
            }
            resp[y * WS + x] = r;
        }
    double mn = 0;
    for (int n = 0; n < P; n++) {
        double t = 0;
        for (int k = 0; k < P; k++)
            t += sig[n * P + k] * resp[k];
        want[n] = t;
        mn = n == 0 || t < mn ? t : mn;
    }
    float scratch[4096], out[P], out_scalar[P];
    CHECK(fa_ccnf_scratch_floats(WS, SW, SH) <= 4096, "scratch");
    fa_ccnf_landmark_response(&c.experts[0], c.experts[0].sigma[0], area, AW, WS, scratch, out);
    double maxerr = 0, scale = 0;
    for (int n = 0; n < P; n++) {
        double w = mn < 0 ? want[n] - mn : want[n];
        maxerr = fmax(maxerr, fabs(out[n] - w));
        scale = fmax(scale, fabs(w));
    }
    CHECK(maxerr < 1e-5 * scale, "synthetic response differs from the double reference by %g (max %g)",
          maxerr, scale);
    /* scalar kernels (what FACEAU_NO_AVX2=1 picks at load): same bits */
    fa_ccnf_expert scalar = c.experts[0];
    scalar.cpu = 0;
    fa_ccnf_landmark_response(&scalar, c.experts[0].sigma[0], area, AW, WS, scratch, out_scalar);
    CHECK(memcmp(out, out_scalar, sizeof out) == 0, "synthetic: scalar and vector kernels differ");
    /* an empty expert gives zeros */
    fa_ccnf_landmark_response(&c.experts[1], NULL, area, AW, WS, scratch, out);
    int nz = 0;
    for (int n = 0; n < P; n++)
        nz += out[n] != 0;
    CHECK(nz == 0, "empty expert response not zero");

    /* a neuron type other than 0 is refused, naming the file */
    size_t off = 0;
    {
        /* find the first neuron: after the header, centre, visibility, window and expert header */
        off = 8 + 4 + (12 + 24) + (12 + 8) + 4 + 8 + (12 + sizeof S) + 16;
        int32_t t3 = 3;
        memcpy(o.b + off + 4, &t3, 4);
        snprintf(path, sizeof path, "%s/neuron_type_ccnf.txt", dir);
        CHECK(tu_write_file(path, o.b, o.n) == 0, "write %s", path);
        fa_ccnf c2;
        CHECK(fa_ccnf_load(path, &c2, &e) == FACEAU_ERR_MODEL_CORRUPT &&
                  strstr(e.msg, "neuron_type_ccnf.txt") && strstr(e.msg, "neuron type"),
              "neuron type 3 accepted: %s", e.msg);
        fa_ccnf_free(&c2);
    }
    fa_ccnf_free(&c);
#undef RND
}

/* ---- a real frame ---------------------------------------------------------------------------- */

static void test_real_frame(void)
{
    fa_err e;
    fa_pdm pdm;
    if (fa_pdm_load(tu_shared_path(PDM_REL), &pdm, &e)) {
        CHECK(0, "pdm: %s", e.msg);
        return;
    }
    fa_ccnf c;
    if (fa_ccnf_load(tu_shared_path(GENERAL("0.25")), &c, &e)) {
        CHECK(0, "ccnf: %s", e.msg);
        fa_pdm_free(&pdm);
        return;
    }
    tu_csv csv;
    int ok = tu_csv_load(tu_shared_path(REF_CSV), &csv) == 0;
    CHECK(ok, "cannot load %s", REF_CSV);
    fa_video *v = NULL;
    fa_grey grey = {0};
    fa_ccnf_ws *ws = NULL;
    if (!ok)
        goto done;
    CHECK(fa_video_open(tu_shared_path(VIDEO), &v, &e) == FACEAU_OK, "video: %s", e.msg);
    if (!v)
        goto done;
    const fa_image *frame = NULL;
    int got = 0;
    for (int k = 0; k < 2; k++)
        if (fa_video_read(v, &frame, &got, &e) || !got) {
            CHECK(0, "frame %d: %s", k + 1, e.msg);
            goto done;
        }
    CHECK(fa_grey_from_bgr(frame, &grey, &e) == FACEAU_OK, "grey: %s", e.msg);

    /* params of frame 1 (row 0), landmarks of frame 2 (row 1) */
    float g[6], p[FA_N_MODES];
    static const char *gname[6] = {"p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"};
    for (int k = 0; k < 6; k++)
        g[k] = (float)tu_csv_at(&csv, 0, tu_csv_col(&csv, gname[k]));
    for (int k = 0; k < FA_N_MODES; k++) {
        char name[16];
        snprintf(name, sizeof name, "p_%d", k);
        p[k] = (float)tu_csv_at(&csv, 0, tu_csv_col(&csv, name));
    }
    const int window = 11;
    {
        /* the Sigma of real experts: the AVX2 solves give the scalar bits; Sigma * SigmaInv = I */
        static float sv[225 * 225], ss[225 * 225], scr[225 * 225];
        const int wins[4] = {7, 9, 11, 15};
        for (int wi = 0; wi < 4; wi++) {
            const int W2 = wins[wi] * wins[wi];
            const fa_ccnf_expert *ex = &c.experts[2 * 68 + 30];
            const float *comp = c.windows[wi].comp;
            CHECK(fa_ccnf_compute_sigma(ex, comp, 3, wins[wi], sv, scr) == 1, "sigma %d", wins[wi]);
            fa_ccnf_expert scalar = *ex; /* the portable kernels */
            scalar.cpu = 0;
            CHECK(fa_ccnf_compute_sigma(&scalar, comp, 3, wins[wi], ss, scr) == 1, "sigma %d",
                  wins[wi]);
            CHECK(memcmp(sv, ss, (size_t)W2 * W2 * sizeof *sv) == 0,
                  "window %d: scalar and vector Cholesky differ", wins[wi]);
            /* residual of Sigma * SigmaInv on a few rows */
            double sa = 0, worst = 0;
            for (int a = 0; a < ex->n_neurons; a++)
                sa += ex->alpha[a];
            for (int row = 0; row < W2; row += 17)
                for (int col = 0; col < W2; col++) {
                    double acc = 0;
                    for (int k = 0; k < W2; k++) {
                        double inv = k == col ? sa : 0;
                        for (int b = 0; b < 3; b++)
                            inv += ex->betas[b] * comp[(size_t)b * W2 * W2 + (size_t)k * W2 + col];
                        acc += sv[(size_t)row * W2 + k] * 2 * inv;
                    }
                    worst = fmax(worst, fabs(acc - (row == col)));
                }
            CHECK(worst < 1e-4, "window %d: Sigma * SigmaInv - I up to %g", wins[wi], worst);
        }
    }
    double t0 = now_ms();
    CHECK(fa_ccnf_prepare(&c, window, &e) == FACEAU_OK, "prepare: %s", e.msg);
    double t1 = now_ms();
    CHECK(fa_ccnf_prepare(&c, window, &e) == FACEAU_OK && c.n_slots == 1, "prepare twice");
    CHECK(fa_ccnf_ws_create(&ws, &e) == FACEAU_OK, "ws: %s", e.msg);
    const fa_ccnf_response *r = NULL;
    CHECK(fa_ccnf_response_compute(&c, &pdm, g, p, &grey, 9, ws, &r, &e) == FACEAU_ERR_STATE,
          "unprepared window accepted");
    faceau_status st = fa_ccnf_response_compute(&c, &pdm, g, p, &grey, window, ws, &r, &e);
    double t2 = now_ms();
    CHECK(st == FACEAU_OK, "response: %s", e.msg);
    if (st)
        goto done;
    /* a second call reuses the workspace and gives the same maps */
    float *first = malloc(68 * 121 * sizeof *first);
    if (first) {
        memcpy(first, r->maps, 68 * 121 * sizeof *first);
        float *maps_before = r->maps;
        const fa_ccnf_response *r2 = NULL;
        CHECK(fa_ccnf_response_compute(&c, &pdm, g, p, &grey, window, ws, &r2, &e) == FACEAU_OK &&
                  r2->maps == maps_before && memcmp(first, r2->maps, 68 * 121 * sizeof *first) == 0,
              "second call differs or reallocated");
        /* the scalar kernels (what FACEAU_NO_AVX2=1 picks at load) give the same bits as the
         * AVX2 ones */
        const unsigned cpu = c.experts[0].cpu;
        for (int k = 0; k < c.n_views * c.n_points; k++)
            c.experts[k].cpu = 0;
        CHECK(fa_ccnf_response_compute(&c, &pdm, g, p, &grey, window, ws, &r2, &e) == FACEAU_OK &&
                  memcmp(first, r2->maps, 68 * 121 * sizeof *first) == 0,
              "scalar and vector kernels differ");
        for (int k = 0; k < c.n_views * c.n_points; k++)
            c.experts[k].cpu = cpu;
        CHECK(fa_ccnf_response_compute(&c, &pdm, g, p, &grey, window, ws, &r2, &e) == FACEAU_OK,
              "response with the load-time kernels again");
        /* split in three ranges with separate worker buffers: the same maps */
        const size_t nb = fa_ccnf_worker_floats(&c, window);
        float *b1 = malloc(nb * sizeof *b1), *b2 = malloc(nb * sizeof *b2);
        if (b1 && b2) {
            CHECK(fa_ccnf_response_begin(&c, &pdm, g, p, window, ws, &r2, &e) == FACEAU_OK, "begin");
            memset(r2->maps, 0xff, 68 * 121 * sizeof *first); /* NaNs until filled */
            fa_ccnf_response_landmarks(&c, &grey, r2, 40, 68, b2);
            fa_ccnf_response_landmarks(&c, &grey, r2, 0, 17, b1);
            fa_ccnf_response_landmarks(&c, &grey, r2, 17, 40, b2);
            CHECK(memcmp(first, r2->maps, 68 * 121 * sizeof *first) == 0, "split ranges differ");
        }
        free(b1);
        free(b2);
        free(first);
        /* window 9 (P = 81, K = 122): the last position is dot-like (skx_gemm.h), its 16 lanes
         * in AVX2 registers; the scalar kernels give the same bits */
        fa_ccnf_ws *ws9 = NULL;
        float *v9 = malloc(68 * 81 * sizeof *v9);
        if (v9 && fa_ccnf_prepare(&c, 9, &e) == FACEAU_OK &&
            fa_ccnf_ws_create(&ws9, &e) == FACEAU_OK) {
            const fa_ccnf_response *r9 = NULL;
            CHECK(fa_ccnf_response_compute(&c, &pdm, g, p, &grey, 9, ws9, &r9, &e) == FACEAU_OK,
                  "window 9: %s", e.msg);
            memcpy(v9, r9->maps, 68 * 81 * sizeof *v9);
            /* the portable kernels, then AVX2 alone (where the load picked AVX-512) */
            const unsigned others[2] = {0, cpu & ~(unsigned)FA_CPU_AVX512};
            for (int o = 0; o < 2; o++) {
                for (int k = 0; k < c.n_views * c.n_points; k++)
                    c.experts[k].cpu = others[o];
                CHECK(fa_ccnf_response_compute(&c, &pdm, g, p, &grey, 9, ws9, &r9, &e) == FACEAU_OK &&
                          memcmp(v9, r9->maps, 68 * 81 * sizeof *v9) == 0,
                      "window 9: %s and load-time kernels differ", o ? "AVX2" : "scalar");
            }
            for (int k = 0; k < c.n_views * c.n_points; k++)
                c.experts[k].cpu = cpu;
        } else {
            CHECK(0, "window 9: %s", e.msg);
        }
        fa_ccnf_ws_free(ws9);
        free(v9);
    }
    fprintf(stderr, "prepare(11): %.0f ms; response: %.1f ms; view %d\n", t1 - t0, t2 - t1, r->view);
    CHECK(r->view == fa_ccnf_view(&c, g), "view");

    /* the CalcShape2D landmarks match OpenFace's frame-1 landmarks (the CSV's are PDM
     * reconstructions of the same params) */
    double maxd = 0;
    for (int i = 0; i < 68; i++) {
        char nx[16], ny[16];
        snprintf(nx, sizeof nx, "x_%d", i);
        snprintf(ny, sizeof ny, "y_%d", i);
        maxd = fmax(maxd, fabs(r->shape2d[i] - tu_csv_at(&csv, 0, tu_csv_col(&csv, nx))));
        maxd = fmax(maxd, fabs(r->shape2d[68 + i] - tu_csv_at(&csv, 0, tu_csv_col(&csv, ny))));
    }
    CHECK(maxd < 1e-3, "CalcShape2D differs from the CSV landmarks by %g px", maxd);
    {
        /* on the 24 rigid points fa_align_shapes_with_scale is align.c's AlignFaceMask fit */
        static const int rigid[24] = {1,  2,  3,  4,  12, 13, 14, 15, 27, 28, 29, 31,
                                      32, 33, 34, 35, 36, 39, 40, 41, 42, 45, 46, 47};
        float src[48], dst[48], A1[4], A2[4];
        for (int k = 0; k < 24; k++) {
            src[k] = r->shape2d[rigid[k]];
            src[24 + k] = r->shape2d[68 + rigid[k]];
            dst[k] = pdm.mean[rigid[k]] * 0.7f;
            dst[24 + k] = pdm.mean[68 + rigid[k]] * 0.7f;
        }
        fa_align_similarity(r->shape2d, &pdm, 0.7, A1);
        fa_align_shapes_with_scale(src, dst, 24, A2);
        CHECK(memcmp(A1, A2, sizeof A1) == 0, "24-point fit differs from align.c's: %g %g vs %g %g",
              A1[0], A1[1], A2[0], A2[1]);
    }
    /* the similarity: ref_to_img is the inverse of img_to_ref; the scale is 0.25/p_scale-ish */
    const float *A = r->sim_img_to_ref, *B = r->sim_ref_to_img;
    CHECK(fabs(A[0] * B[0] + A[1] * B[2] - 1) < 1e-5 && fabs(A[0] * B[1] + A[1] * B[3]) < 1e-5,
          "ref_to_img is not the inverse");
    double sc = sqrt(A[0] * A[3] - A[1] * A[2]);
    CHECK(fabs(sc - 0.25 / g[0]) < 0.05 * 0.25 / g[0], "similarity scale %g, p_scale %g", sc, g[0]);

    /* each visible map peaks near where OpenFace put the landmark on frame 2: the offset
     * sim_img_to_ref * (x2 - x1) from the window centre */
    int n_vis = 0, near = 0, nonneg = 1;
    double sumd = 0;
    for (int i = 0; i < 68; i++) {
        if (!r->visible[i])
            continue;
        n_vis++;
        const float *m = r->maps + i * window * window;
        int best = 0;
        for (int k = 0; k < window * window; k++) {
            best = m[k] > m[best] ? k : best;
            nonneg &= m[k] >= 0;
        }
        char nx[16], ny[16];
        snprintf(nx, sizeof nx, "x_%d", i);
        snprintf(ny, sizeof ny, "y_%d", i);
        double dx = tu_csv_at(&csv, 1, tu_csv_col(&csv, nx)) - r->shape2d[i];
        double dy = tu_csv_at(&csv, 1, tu_csv_col(&csv, ny)) - r->shape2d[68 + i];
        double ex = A[0] * dx + A[1] * dy + (window - 1) / 2.0;
        double ey = A[2] * dx + A[3] * dy + (window - 1) / 2.0;
        double d = hypot(best % window - ex, best / window - ey);
        sumd += d;
        near += d <= 2.0;
    }
    fprintf(stderr, "peaks: %d of %d within 2 px of OpenFace's next landmark (mean %.2f px)\n", near,
            n_vis, sumd / n_vis);
    CHECK(n_vis == 68, "frontal view: %d visible", n_vis);
    CHECK(nonneg, "a response map has a negative value after the shift");
    CHECK(near >= (n_vis * 3) / 4, "only %d of %d peaks within 2 px", near, n_vis);
    CHECK(sumd / n_vis < 1.5, "mean peak distance %.2f px", sumd / n_vis);

done:
    fa_ccnf_ws_free(ws);
    fa_grey_free(&grey);
    if (v)
        fa_video_close(v);
    if (ok)
        tu_csv_free(&csv);
    fa_ccnf_free(&c);
    fa_pdm_free(&pdm);
}

/* im2colContrastNormBias: the AVX2 kernel (eight consecutive positions per register, from
 * transposed copies of the area) against the portable one, bit for bit, for every window the
 * tracker uses and odd ones (3..12: one block with overlap, several, the last moved back),
 * patch shapes square and not, an area with a row stride wider than the area, values of mixed
 * magnitude, and a flat patch (zero norm -> 1: the bias then zeros). */
static void test_im2col_simd(void)
{
#if FA_BUILD_AVX2
    if (!(fa_cpu_features() & FA_CPU_AVX2))
        return;
    static const int patch[][2] = {{11, 11}, {3, 5}, {5, 3}, {1, 1}, {2, 7}};
    uint32_t rng = 777;
    for (size_t pi = 0; pi < sizeof patch / sizeof patch[0]; pi++)
        for (int window = 3; window <= 12; window++) {
            const int w = patch[pi][0], h = patch[pi][1];
            const int aw = window + w - 1, ah = window + h - 1, stride = aw + 5;
            const size_t P = (size_t)window * window, K = 1 + (size_t)w * h;
            const size_t nt = fa_ccnf_im2col_tmp_floats(window, w, h);
            float *area = malloc((size_t)stride * ah * sizeof *area);
            float *o1 = malloc(P * K * sizeof *o1), *o2 = malloc(P * K * sizeof *o2);
            float *tmp = malloc(nt * sizeof *tmp);
            CHECK(area && o1 && o2 && tmp, "im2col test: out of memory");
            if (area && o1 && o2 && tmp) {
                for (int i = 0; i < stride * ah; i++) {
                    rng = rng * 1664525u + 1013904223u;
                    area[i] = (float)(rng >> 24) * ((rng >> 20) & 1 ? 1.0f : 0.37f);
                }
                /* a flat patch at position (0, 0): its w x h pixels all 7 */
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++)
                        area[yy * stride + xx] = 7.0f;
                fa_ccnf_im2col(area, stride, window, w, h, tmp, o1);
                memset(tmp, 0xff, nt * sizeof *tmp); /* NaNs: nothing read before written */
                fa_ccnf_im2col_avx2(area, stride, window, w, h, tmp, o2);
                CHECK(memcmp(o1, o2, P * K * sizeof *o1) == 0,
                      "im2col window %d patch %dx%d: AVX2 differs from portable", window, w, h);
                int flat_ok = o2[0] == 1.0f;
                for (size_t k = 1; k < K; k++)
                    flat_ok &= o2[k * P] == 0.0f;
                CHECK(flat_ok, "im2col window %d patch %dx%d: flat patch not 1, 0, 0...", window,
                      w, h);
            }
            free(area);
            free(o1);
            free(o2);
            free(tmp);
        }
#endif
}

/* The neurons' sigmoids: the AVX2 kernel (and the AVX-512 one, eight lanes twice) takes expf's
 * main path eight lanes at a time and sends a block with a lane at |q| >= 88 (expf's range ends)
 * to the scalar function. A real expert
 * with its weights scaled so that q sweeps from inside that range across its ends (and to
 * overflow and underflow) gives the portable kernels' bits at every window in use. */
static void test_sigmoid_range(void)
{
#if FA_BUILD_AVX2
    if ((fa_cpu_features() & (FA_CPU_AVX2 | FA_CPU_FMA)) != (FA_CPU_AVX2 | FA_CPU_FMA))
        return;
    fa_ccnf c;
    fa_err e;
    if (fa_ccnf_load(tu_shared_path(GENERAL("0.35")), &c, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    static const int windows[] = {3, 5, 7, 9, 11};
    static const float scales[] = {1.0f, 20.0f, 60.0f, 90.0f, 150.0f, 1000.0f};
    fa_ccnf_expert ex = c.experts[30];
    const int K = 1 + ex.width * ex.height;
    float *wts = malloc((size_t)ex.n_neurons * K * sizeof *wts);
    float *area = malloc(40 * 40 * sizeof *area), *scratch = NULL;
    float *sig = malloc(121 * 121 * sizeof *sig), out1[121], out2[121];
    uint32_t rng = 4242;
    for (int i = 0; area && i < 40 * 40; i++) {
        rng = rng * 1664525u + 1013904223u;
        area[i] = (float)(rng >> 24);
    }
    for (size_t wi = 0; wi < sizeof windows / sizeof *windows && wts && area && sig; wi++) {
        const int window = windows[wi];
        free(scratch);
        scratch = malloc(fa_ccnf_scratch_floats(window, ex.width, ex.height) * sizeof *scratch);
        if (!scratch)
            break;
        const int N = window * window;
        for (int i = 0; i < N * N; i++)
            sig[i] = i % (N + 1) == 0 ? 1.0f : 0.0f; /* the identity: the sums come out as such */
        /* the largest |q| at weights x1 (im2col and one neuron's dot, as the kernels' inputs) */
        float *cols = scratch, *tmp = scratch + (size_t)N * K;
        fa_ccnf_im2col(area, window + ex.width - 1, window, ex.width, ex.height, tmp, cols);
        float qmax = 0;
        for (int i = 0; i < ex.n_neurons; i++)
            for (int r = 0; r < N; r++) {
                float q = 0;
                for (int k = 0; k < K; k++)
                    q += cols[(size_t)k * N + r] * c.experts[30].weights[(size_t)i * K + k];
                qmax = fabsf(q) > qmax ? fabsf(q) : qmax;
            }
        /* some scale puts the largest |q| below 88 and some above */
        CHECK(qmax * scales[0] < 80 && qmax * scales[sizeof scales / sizeof *scales - 1] > 100,
              "window %d: |q| up to %g does not cross expf's range ends", window, (double)qmax);
        for (size_t si = 0; si < sizeof scales / sizeof *scales; si++) {
            for (int i = 0; i < ex.n_neurons * K; i++)
                wts[i] = c.experts[30].weights[i] * scales[si];
            ex.weights = wts;
            ex.cpu = 0;
            fa_ccnf_landmark_response(&ex, sig, area, window + ex.width - 1, window, scratch, out2);
            /* the AVX2 kernel, and the AVX-512 one where the CPU has it */
            const unsigned cpus[2] = {c.experts[30].cpu & ~(unsigned)FA_CPU_AVX512,
                                      c.experts[30].cpu};
            for (int v = 0; v < 2; v++) {
                ex.cpu = cpus[v];
                fa_ccnf_landmark_response(&ex, sig, area, window + ex.width - 1, window, scratch,
                                          out1);
                CHECK(memcmp(out1, out2, (size_t)window * window * sizeof *out1) == 0,
                      "sigmoids, window %d, weights x%g: %s differs from portable", window,
                      (double)scales[si], v ? "AVX-512" : "AVX2");
            }
        }
    }
    free(scratch);
    free(wts);
    free(area);
    free(sig);
    fa_ccnf_free(&c);
#endif
}

/* ---- Sigmas computed together --------------------------------------------------------------- */

/* Every expert's prepared Sigma is, bit for bit, what fa_ccnf_compute_sigma gives it alone with
 * the portable kernels (one at a time, no skipped zeros, no sharing); experts share a Sigma
 * exactly when their sum(alpha) and float betas agree. */
static void check_prepared(const char *rel, const int *wins, int n_wins)
{
    fa_ccnf c;
    fa_err e;
    if (fa_ccnf_load(tu_shared_path(rel), &c, &e)) {
        CHECK(0, "%s: %s", rel, e.msg);
        return;
    }
    float *one = malloc(121 * 121 * sizeof *one), *scr = malloc(121 * 121 * sizeof *scr);
    for (int wi = 0; wi < n_wins && one && scr; wi++) {
        const int w = wins[wi], N = w * w;
        CHECK(fa_ccnf_prepare(&c, w, &e) == FACEAU_OK, "%s window %d: %s", rel, w, e.msg);
        const int s = fa_ccnf_slot(&c, w);
        const float *comp = NULL;
        int n_comp = 0;
        for (int k = 0; k < c.n_windows; k++)
            if (c.windows[k].size == w && c.windows[k].n_comp)
                comp = c.windows[k].comp, n_comp = c.windows[k].n_comp;
        int differ = 0, shared = 0, wrong_share = 0, n = 0;
        for (int i = 0; i < c.n_views * c.n_points && s >= 0; i++) {
            fa_ccnf_expert ex = c.experts[i];
            if (!ex.n_neurons) {
                differ += ex.sigma[s] != NULL;
                continue;
            }
            n++;
            ex.cpu = 0;
            CHECK(fa_ccnf_compute_sigma(&ex, comp, n_comp, w, one, scr) == 1, "sigma alone");
            for (int a = 0; a < N; a++)
                for (int b = 0; b < N; b++)
                    differ += memcmp(&one[a * N + b], &ex.sigma[s][b * N + a], 4) != 0;
            for (int j = 0; j < i; j++) {
                const fa_ccnf_expert *o = &c.experts[j];
                if (!o->n_neurons)
                    continue;
                float sa = 0, so = 0;
                int same = 1;
                for (int a = 0; a < ex.n_neurons; a++)
                    sa = (float)((double)sa + ex.alpha[a]);
                for (int a = 0; a < o->n_neurons; a++)
                    so = (float)((double)so + o->alpha[a]);
                same = sa == so;
                for (int b = 0; b < n_comp; b++)
                    same &= (float)ex.betas[b] == (float)o->betas[b];
                if ((o->sigma[s] == ex.sigma[s]) != same)
                    wrong_share++;
                if (same) {
                    shared++;
                    break;
                }
            }
        }
        CHECK(differ == 0, "%s window %d: %d Sigma values differ from one-at-a-time", rel, w, differ);
        /* the same prepared on three threads */
        fa_ccnf c3;
        fa_pool *pool = NULL;
        if (fa_ccnf_load(tu_shared_path(rel), &c3, &e) == FACEAU_OK &&
            fa_pool_create(3, &pool, &e) == FACEAU_OK) {
            fa_ccnf_prep prep = {.pool = pool};
            CHECK(fa_ccnf_prepare_with(&c3, w, &prep, &e) == FACEAU_OK, "pool prepare: %s", e.msg);
            fa_ccnf_prep_free(&prep);
            int d3 = 0;
            for (int i = 0; i < c.n_views * c.n_points && s >= 0; i++)
                if (c.experts[i].n_neurons)
                    d3 += memcmp(c.experts[i].sigma[s], c3.experts[i].sigma[0], (size_t)N * N * 4) != 0;
            CHECK(d3 == 0, "%s window %d: %d Sigmas differ on three threads", rel, w, d3);
        }
        fa_pool_free(pool);
        fa_ccnf_free(&c3);
        CHECK(wrong_share == 0, "%s window %d: %d experts share wrongly", rel, w, wrong_share);
        if (w == wins[0])
            printf("%s window %d: %d experts, %d share an earlier one's Sigma\n", rel, w, n, shared);
    }
    free(one);
    free(scr);
    fa_ccnf_free(&c);
}

/* fa_cv_invert_cholesky_batch against one fa_cv_invert_cholesky call per matrix, on banded
 * random matrices (leading zeros per row, as the Sigmas have) of several sizes and counts, with
 * matrices the skipping cannot take mixed in: a -0 entry, a NaN, an indefinite one. */
static void test_batch_inverse(void)
{
    enum { NMAX = 49 };
    static float A[8][NMAX * NMAX], X[8][NMAX * NMAX], ref[NMAX * NMAX], tmp[NMAX * NMAX];
    float *scratch = malloc(fa_cv_invert_batch_floats(NMAX) * sizeof *scratch);
    unsigned rng = 7;
#define RND() ((rng = rng * 1103515245u + 12345u) >> 8 & 0xffff)
    const int sizes[4] = {4, 9, 25, 49};
    int bad = 0, runs = 0;
    for (int si = 0; si < 4 && scratch; si++)
        for (int cnt = 1; cnt <= 8; cnt++)
            for (int col = 0; col < 2; col++) {
                const int N = sizes[si], band = 1 + (int)(RND() % (unsigned)N);
                for (int l = 0; l < cnt; l++) {
                    /* M = B B^T + N I with B banded: symmetric positive definite */
                    static float B[NMAX * NMAX];
                    for (int i = 0; i < N * N; i++)
                        B[i] = (i / N) - (i % N) >= 0 && (i / N) - (i % N) < band
                                   ? (float)RND() / 65536.f - 0.5f : 0.f;
                    for (int i = 0; i < N; i++)
                        for (int j = 0; j < N; j++) {
                            float s = i == j ? (float)N * 0.1f : 0.f;
                            for (int k = 0; k < N; k++)
                                s += B[i * N + k] * B[j * N + k];
                            A[l][i * N + j] = s;
                        }
                }
                if (cnt >= 3) {
                    /* an explicit -0 (inside or outside the band), a NaN, an indefinite matrix */
                    A[0][(N - 1) * N] = -0.f;
                    A[1][N + 1] = NAN;
                    A[2][0] = -1.f;
                }
                const float *ap[8];
                float *xp[8];
                int ok[8];
                for (int l = 0; l < cnt; l++)
                    ap[l] = A[l], xp[l] = X[l];
                fa_cv_invert_cholesky_batch(ap, cnt, N, xp, ok, col, fa_cpu_features(), scratch);
                for (int l = 0; l < cnt; l++) {
                    memcpy(tmp, A[l], (size_t)N * N * sizeof *tmp);
                    const int want_ok = fa_cv_invert_cholesky(tmp, N, ref, 0);
                    bad += ok[l] != want_ok;
                    for (int i = 0; i < N; i++)
                        for (int j = 0; j < N; j++)
                            bad += memcmp(&ref[i * N + j], col ? &X[l][j * N + i] : &X[l][i * N + j], 4) != 0;
                    runs++;
                }
            }
#undef RND
    CHECK(runs > 0 && bad == 0, "batch inverse: %d values or verdicts differ over %d matrices", bad, runs);
    free(scratch);
}

/* A model read into arenas (fa_ccnf_load_in) has the same arrays and Sigmas as one read alone;
 * once its components are dropped a prepared window stays usable and a new one is refused. */
static void test_arena_load(void)
{
    fa_err e = {0};
    fa_ccnf a, b;
    fa_large_arena arena = {0}, comps = {0};
    const char *path = tu_shared_path(GENERAL("0.5"));
    if (fa_ccnf_load(path, &a, &e) || fa_ccnf_load_in(path, &b, &arena, &comps, &e)) {
        CHECK(0, "load: %s", e.msg);
        return;
    }
    fa_ccnf_prep prep = {.arena = &arena};
    CHECK(fa_ccnf_prepare(&a, 7, &e) == FACEAU_OK && fa_ccnf_prepare_with(&b, 7, &prep, &e) == FACEAU_OK,
          "prepare: %s", e.msg);
    fa_ccnf_prep_free(&prep);
    fa_ccnf_drop_components(&b);
    fa_large_arena_free(&comps);
    int same = a.n_views == b.n_views && a.n_points == b.n_points && a.support == b.support;
    for (int i = 0; same && i < a.n_views * a.n_points; i++) {
        const fa_ccnf_expert *x = &a.experts[i], *y = &b.experts[i];
        same = x->n_neurons == y->n_neurons && x->confidence == y->confidence;
        if (same && x->n_neurons)
            same = !memcmp(x->weights, y->weights, sizeof(float) * (size_t)x->n_neurons *
                                                       (size_t)(1 + x->width * x->height)) &&
                   !memcmp(x->alpha, y->alpha, sizeof(double) * (size_t)x->n_neurons) &&
                   !memcmp(x->sigma[0], y->sigma[0], sizeof(float) * 49 * 49);
    }
    CHECK(same, "arena load: the same arrays and Sigmas");
    CHECK(fa_ccnf_prepare(&b, 7, &e) == FACEAU_OK, "a prepared window after the drop: %s", e.msg);
    CHECK(fa_ccnf_prepare(&b, 9, &e) == FACEAU_ERR_STATE && strstr(e.msg, "window 9"),
          "a new window after the drop: %s", e.msg);
    fa_ccnf_free(&a);
    fa_ccnf_free(&b);
    fa_large_arena_free(&arena);
}

/* ---- Sigmas computed per workspace ---------------------------------------------------------- */

/* A lazy slot's Sigmas, as a workspace computes them for the views it fits, are bit for bit the
 * prepared ones, whatever the order of views (its cache replaces the least recently used); one
 * workspace serves two lazy slots of a model. */
static void test_lazy(void)
{
    fa_err e = {0};
    fa_ccnf a, b;
    fa_pdm pdm;
    const char *path = tu_shared_path(GENERAL("0.25"));
    if (fa_pdm_load(tu_shared_path(PDM_REL), &pdm, &e)) {
        CHECK(0, "pdm: %s", e.msg);
        return;
    }
    if (fa_ccnf_load(path, &a, &e) || fa_ccnf_load(path, &b, &e)) {
        CHECK(0, "load: %s", e.msg);
        fa_pdm_free(&pdm);
        return;
    }
    const int wins[2] = {11, 9};
    for (int k = 0; k < 2; k++) {
        fa_ccnf_plan P;
        CHECK(fa_ccnf_prepare(&a, wins[k], &e) == FACEAU_OK, "prepare %d: %s", wins[k], e.msg);
        CHECK(fa_ccnf_plan_make(&b, wins[k], &P, &e) == FACEAU_OK && fa_ccnf_plan_keep(&P, 0, &e) == FACEAU_OK,
              "keep %d: %s", wins[k], e.msg);
    }
    CHECK(b.lazy[0].group && b.lazy[1].group && b.lazy[0].cap == 107 && b.lazy[0].nd == 210,
          "lazy slots: cap %d of %d distinct", b.lazy[0].cap, b.lazy[0].nd);
    fa_ccnf_ws *ws = NULL;
    CHECK(fa_ccnf_ws_create(&ws, &e) == FACEAU_OK, "ws: %s", e.msg);
    const int order[14] = {0, 1, 6, 2, 5, 0, 3, 4, 3, 1, 2, 0, 4, 6};
    float p[FA_PDM_MAX_MODES] = {0};
    int bad = 0, null_bad = 0, checked = 0;
    for (int q = 0; q < 28 && ws; q++) {
        const int v = order[q % 14], w = wins[(q / 3) % 2];
        const float g[6] = {1, (float)a.centers[v][0], (float)a.centers[v][1],
                            (float)a.centers[v][2], 100, 100};
        const fa_ccnf_response *r;
        if (fa_ccnf_response_begin(&b, &pdm, g, p, w, ws, &r, &e)) {
            CHECK(0, "begin: %s", e.msg);
            break;
        }
        CHECK(r->view == v && r->sigma, "view %d: got %d", v, r->view);
        const int sa = fa_ccnf_slot(&a, w);
        const size_t nn = (size_t)w * w * (size_t)w * w;
        for (int i = 0; i < a.n_points && r->sigma; i++) {
            const fa_ccnf_expert *x = &a.experts[v * a.n_points + i];
            if (!x->n_neurons || !r->visible[i]) {
                null_bad += r->sigma[i] != NULL;
                continue;
            }
            checked++;
            bad += !r->sigma[i] || memcmp(r->sigma[i], x->sigma[sa], nn * sizeof(float)) != 0;
        }
    }
    CHECK(bad == 0 && null_bad == 0 && checked > 1000,
          "lazy Sigmas: %d of %d differ from the prepared ones, %d missing ones set", bad, checked,
          null_bad);
    /* a slot whose every response computes its Sigmas: the prepared slot's maps, in every view */
    fa_ccnf d;
    fa_ccnf_ws *ws_a = NULL, *ws_d = NULL;
    fa_grey grey = {400, 400, 400, malloc(400 * 400), 400 * 400, NULL};
    unsigned rng = 11;
    for (int i = 0; grey.px && i < 400 * 400; i++)
        grey.px[i] = (uint8_t)((rng = rng * 1103515245u + 12345u) >> 16);
    if (!grey.px || fa_ccnf_load(path, &d, &e) || fa_ccnf_ws_create(&ws_a, &e) ||
        fa_ccnf_ws_create(&ws_d, &e)) {
        CHECK(0, "per-call set-up: %s", e.msg);
    } else {
        fa_ccnf_plan P;
        CHECK(fa_ccnf_plan_make(&d, 11, &P, &e) == FACEAU_OK && fa_ccnf_plan_keep(&P, 1, &e) == FACEAU_OK,
              "keep per call: %s", e.msg);
        int differ = 0;
        for (int v = 0; v < a.n_views; v++) {
            const float g[6] = {1, (float)a.centers[v][0], (float)a.centers[v][1],
                                (float)a.centers[v][2], 200, 200};
            const fa_ccnf_response *ra, *rd;
            if (fa_ccnf_response_compute(&a, &pdm, g, p, &grey, 11, ws_a, &ra, &e) ||
                fa_ccnf_response_compute(&d, &pdm, g, p, &grey, 11, ws_d, &rd, &e)) {
                CHECK(0, "per-call responses: %s", e.msg);
                break;
            }
            differ += memcmp(ra->maps, rd->maps, sizeof(float) * 121 * (size_t)a.n_points) != 0;
        }
        CHECK(differ == 0, "per-call Sigmas: %d views' maps differ from the prepared ones'", differ);
        /* the same fits in one batch (each distinct Sigma once, jobs in reverse order): the
         * prepared slot's maps and geometry, fit by fit */
        float gs[8][6];
        const float *ps[8];
        for (int k = 0; k < 8; k++) {
            const int v = (k * 3) % a.n_views;
            const float gk[6] = {1.0f + 0.05f * (float)k, (float)a.centers[v][0],
                                 (float)a.centers[v][1], (float)a.centers[v][2] + 0.01f * (float)k,
                                 190.0f + (float)k, 205.0f - (float)k};
            memcpy(gs[k], gk, sizeof gk);
            ps[k] = p;
        }
        fa_ccnf_batch *B = NULL;
        float *buf = malloc(fa_ccnf_worker_floats(&d, 11) * sizeof *buf);
        CHECK(fa_ccnf_batch_begin(&a, &pdm, (const float(*)[6])gs, ps, 8, 11, &B, &e) ==
                  FACEAU_ERR_STATE, "a batch in a prepared window is refused");
        if (!buf || fa_ccnf_batch_begin(&d, &pdm, (const float(*)[6])gs, ps, 8, 11, &B, &e)) {
            CHECK(0, "batch: %s", e.msg);
        } else {
            for (long j = fa_ccnf_batch_jobs(B) - 1; j >= 0; j--)
                fa_ccnf_batch_run(B, &grey, j, buf);
            int bdiff = 0;
            for (int k = 0; k < 8; k++) {
                const fa_ccnf_response *ra, *rb = fa_ccnf_batch_response(B, k);
                if (fa_ccnf_response_compute(&a, &pdm, gs[k], p, &grey, 11, ws_a, &ra, &e)) {
                    CHECK(0, "batch reference: %s", e.msg);
                    break;
                }
                bdiff += ra->view != rb->view ||
                         memcmp(ra->maps, rb->maps, sizeof(float) * 121 * (size_t)a.n_points) ||
                         memcmp(ra->shape2d, rb->shape2d, sizeof(float) * 2 * (size_t)a.n_points) ||
                         memcmp(ra->sim_img_to_ref, rb->sim_img_to_ref, sizeof ra->sim_img_to_ref) ||
                         memcmp(ra->sim_ref_to_img, rb->sim_ref_to_img, sizeof ra->sim_ref_to_img);
            }
            CHECK(fa_ccnf_batch_jobs(B) > 8 && bdiff == 0,
                  "batch: %d of 8 fits differ from one response each (%ld jobs)", bdiff,
                  fa_ccnf_batch_jobs(B));
        }
        fa_ccnf_batch_free(B);
        free(buf);
        fa_ccnf_free(&d);
    }
    free(grey.px);
    fa_ccnf_ws_free(ws_a);
    fa_ccnf_ws_free(ws_d);
    fa_ccnf_ws_free(ws);
    fa_ccnf_free(&a);
    fa_ccnf_free(&b);
    fa_pdm_free(&pdm);
}

int main(void)
{
    test_lazy();
    test_batch_inverse();
    test_arena_load();
    {
        const int gw[3] = {11, 9, 7}, iw[1] = {9};
        check_prepared(GENERAL("0.25"), gw, 3);
        check_prepared(INNER, iw, 1);
    }
    test_shipped();
    test_eye_sigma();
    test_damaged();
    test_sigma();
    test_response_hand();
    test_im2col_simd();
    test_sigmoid_range();
    test_align_shapes();
    test_synthetic_file();
    test_real_frame();
    return tu_done();
}
