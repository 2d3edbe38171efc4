/* test_clnf_fit.c - the CLNF fitting core (fit.c) on synthetic response maps with hand-derived
 * answers: the KDE grid, the mean-shift towards a single cell, two cells and a Gaussian peak, one
 * NU-RLMS solve from a known shape with responses peaked at a known offset (rigid and
 * non-rigid), the likelihood, and Fit's per-scale parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
#include "testutil.h"

static void test_kde(void)
{
    fa_kde k;
    fa_err err = {0};
    float a = fa_kde_a(1.5f);
    CHECK(a == (float)(-0.5 / (1.5 * 1.5)), "a = -0.5/sigma^2: %g", a);
    CHECK(fa_kde_init(&k, 9, a, &err) == FACEAU_OK, "KDE init: %s", err.msg);
    CHECK(k.steps == 90, "9 / 0.1f gives 90 grid steps, got %d", k.steps);
    /* row for dx = 2.3 (x = 23), dy = 4.0 (y = 40); cell (ii = 3, jj = 5) */
    static float scratch[81];
    const float *row = fa_kde_row(&k, 23, 40, scratch);
    float dx = 23 * 0.1f, dy = 40 * 0.1f;
    float want = expf(a * ((dy - 3) * (dy - 3) + (dx - 5) * (dx - 5)));
    CHECK(row[3 * 9 + 5] == want, "KDE cell %g, expected %g", row[3 * 9 + 5], want);
    /* a row far from the centre is not stored but computed, to the same bits */
    CHECK(k.lo > 2 && k.hi < 85, "the corner rows are not stored (%d..%d)", k.lo, k.hi);
    row = fa_kde_row(&k, 2, 85, scratch);
    CHECK(row == scratch, "a corner row is computed");
    dx = 2 * 0.1f;
    dy = 85 * 0.1f;
    want = expf(a * ((dy - 8) * (dy - 8) + (dx - 1) * (dx - 1)));
    CHECK(row[8 * 9 + 1] == want, "computed KDE cell %g, expected %g", row[8 * 9 + 1], want);
    fa_kde_free(&k);
}

/* maps of one landmark with a single nonzero cell: the centroid is that cell whatever the KDE */
static void test_mean_shift(void)
{
    enum { WS = 11, N = 3 };
    fa_kde k;
    fa_err err = {0};
    float sigma = 1.5f;
    fa_kde_init(&k, WS, fa_kde_a(sigma), &err);
    static float maps[N * WS * WS];
    memset(maps, 0, sizeof maps);
    maps[0 * WS * WS + 7 * WS + 2] = 0.8f; /* landmark 0: cell x = 2, y = 7 */
    /* landmark 1: two cells on row 5, x = 4 and x = 7, equal response */
    maps[1 * WS * WS + 5 * WS + 4] = 1.0f;
    maps[1 * WS * WS + 5 * WS + 7] = 1.0f;
    int vis[N] = {1, 1, 0};
    float dxs[N] = {5.04f, 5.0f, 3}, dys[N] = {4.96f, 5.0f, 3}, ms[2 * N];
    fa_clnf_mean_shift(&k, maps, vis, N, dxs, dys, ms);
    CHECK(ms[0] == 2 - 5.04f && ms[N] == 7 - 4.96f, "single cell: shift (%g, %g), expected (%g, %g)",
          ms[0], ms[N], 2 - 5.04, 7 - 4.96);
    double a = fa_kde_a(sigma), w4 = exp(a * 1), w7 = exp(a * 4);
    double cx = (4 * w4 + 7 * w7) / (w4 + w7);
    CHECK(fabs(ms[1] - (cx - 5)) < 1e-5 && fabs(ms[N + 1]) < 1e-6,
          "two cells: shift (%g, %g), expected (%g, 0)", ms[1], ms[N + 1], cx - 5);
    CHECK(ms[2] == 0 && ms[N + 2] == 0, "invisible landmark: no shift");

    /* out-of-range offsets are clamped to [0, ws - 0.1] before the shift is measured */
    float dxo[N] = {-3, 20, 0}, dyo[N] = {-1, 20, 0};
    fa_clnf_mean_shift(&k, maps, vis, N, dxo, dyo, ms);
    CHECK(ms[0] == 2.0f && ms[N] == 7.0f, "clamped at 0: shift (%g, %g)", ms[0], ms[N]);

    /* a Gaussian response peak at (px, py) of width s_r times the KDE Gaussian at (dx, dy): the
     * centroid is the precision-weighted mean (b px + a' dx) / (a' + b) (grid sums of Gaussians
     * this wide match the integral to ~1e-8) */
    static float g[WS * WS];
    double px = 6.3, py = 4.2, sr = 1.2, b = 1 / (2 * sr * sr), ak = 1 / (2.0 * sigma * sigma);
    for (int ii = 0; ii < WS; ii++)
        for (int jj = 0; jj < WS; jj++)
            g[ii * WS + jj] = (float)exp(-b * ((jj - px) * (jj - px) + (ii - py) * (ii - py)));
    int v1[1] = {1};
    float gx[1] = {4.5f}, gy[1] = {5.5f}, gms[2];
    fa_clnf_mean_shift(&k, g, v1, 1, gx, gy, gms);
    double ex = (b * px + ak * 4.5) / (b + ak) - 4.5, ey = (b * py + ak * 5.5) / (b + ak) - 5.5;
    CHECK(fabs(gms[0] - ex) < 2e-4 && fabs(gms[1] - ey) < 2e-4,
          "Gaussian peak: shift (%g, %g), expected (%g, %g)", gms[0], gms[1], ex, ey);
    fa_kde_free(&k);
}

/* The AVX2 mean-shift sums against the portable ones, bit for bit: window sizes 3..11 (steps
 * past the last multiple of 8 included), 1..20 landmarks (full and partial groups of 8), some
 * invisible, random responses and offsets (clamped ones too). */
static void test_mean_shift_simd(void)
{
    fa_err err = {0};
    uint32_t rng = 4242;
#define RNDF() (rng = rng * 1664525u + 1013904223u, (float)(rng >> 8) / 16777216.0f)
    for (int ws = 3; ws <= 11; ws += 2) {
        fa_kde k;
        CHECK(fa_kde_init(&k, ws, fa_kde_a(1.5f), &err) == FACEAU_OK, "kde: %s", err.msg);
        const unsigned cpu = k.cpu;
        if (!(cpu & FA_CPU_AVX2)) {
            fa_kde_free(&k);
            return;
        }
        for (int n = 1; n <= 20; n++) {
            float *maps = malloc((size_t)n * ws * ws * sizeof *maps);
            float dxs[20], dys[20], m1[40], m2[40];
            int vis[20];
            CHECK(maps != NULL, "out of memory");
            if (!maps)
                break;
            for (int i = 0; i < n * ws * ws; i++)
                maps[i] = RNDF() * (i % 5 == 0 ? 10.0f : 1.0f);
            for (int i = 0; i < n; i++) {
                vis[i] = i % 7 != 3;
                dxs[i] = RNDF() * (ws + 2) - 1;
                dys[i] = RNDF() * (ws + 2) - 1;
            }
            k.cpu = 0;
            fa_clnf_mean_shift(&k, maps, vis, n, dxs, dys, m1);
            k.cpu = cpu;
            fa_clnf_mean_shift(&k, maps, vis, n, dxs, dys, m2);
            CHECK(memcmp(m1, m2, 2 * (size_t)n * sizeof *m1) == 0,
                  "mean shift ws %d, %d landmarks: AVX2 differs from portable", ws, n);
            free(maps);
        }
        fa_kde_free(&k);
    }
#undef RNDF
}

/* NU-RLMS from a known shape: every landmark's response peaks 1 px right of it (sims identity),
 * so the update is exactly a translation by 1 in x, rigid or not. */
static void test_nu_rlms(const fa_pdm *pdm)
{
    enum { WS = 9 };
    int n = pdm->n;
    fa_kde k;
    fa_err err = {0};
    fa_kde_init(&k, WS, fa_kde_a(1.621f), &err);
    static float maps[68 * WS * WS];
    memset(maps, 0, sizeof maps);
    int vis[68];
    for (int i = 0; i < n; i++) {
        vis[i] = i != 5; /* one invisible landmark */
        maps[i * WS * WS + 4 * WS + 5] = 1.0f;
    }
    float g[6] = {2.1f, 0.05f, -0.1f, 0.02f, 300, 250}, p[FA_PDM_MAX_MODES] = {0}, base[2 * 68];
    fa_pdm_shape2d(pdm, p, g, base);
    for (int rigid = 1; rigid >= 0; rigid--) {
        fa_nurlms_in in = {.pdm = pdm, .maps = maps, .ws = WS, .visible = vis,
                           .sim_img_to_ref = {1, 0, 0, 1}, .sim_ref_to_img = {1, 0, 0, 1},
                           .base_shape = base, .kde = &k, .weights = NULL, .sigma = 1.621f,
                           .reg_factor = 17.7f, .n_iter = 1, .rigid = rigid, .compute_lhood = 1};
        float g1[6], p1[FA_PDM_MAX_MODES], lh[68];
        memcpy(g1, g, sizeof g1);
        memcpy(p1, p, sizeof p1);
        float ll = fa_clnf_nu_rlms(&in, g1, p1, lh);
        double dp = 0;
        for (int j = 0; j < pdm->m; j++)
            dp = fmax(dp, fabs(p1[j]));
        CHECK(fabs(g1[4] - (g[4] + 1)) < 1e-3 && fabs(g1[5] - g[5]) < 1e-3 &&
                  fabs(g1[0] - g[0]) < 1e-5 && fabs(g1[1] - g[1]) < 1e-5 &&
                  fabs(g1[2] - g[2]) < 1e-5 && fabs(g1[3] - g[3]) < 1e-5 && dp < 1e-3,
              "%s step: g (%g %g %g %g %g %g), |p| %g; expected tx + 1", rigid ? "rigid" : "non-rigid",
              g1[0], g1[1], g1[2], g1[3], g1[4], g1[5], dp);
        /* likelihood at the starting offsets (4, 4): response 1 at distance 1 */
        double s2 = (double)(1.621f * 1.621f);
        float want = (float)log((float)exp(-0.5 * 1 / s2) + 1e-8);
        CHECK(fabsf(ll - want) < 1e-6 && lh[5] == -1e8f, "likelihood %g, expected %g", ll, want);

        /* more iterations: once at the peak the shift is 0 and the loop stops */
        in.n_iter = 5;
        memcpy(g1, g, sizeof g1);
        memcpy(p1, p, sizeof p1);
        fa_clnf_nu_rlms(&in, g1, p1, NULL);
        CHECK(fabs(g1[4] - (g[4] + 1)) < 1e-3 && fabs(g1[5] - g[5]) < 1e-3,
              "%s, 5 iterations: tx %g, ty %g", rigid ? "rigid" : "non-rigid", g1[4] - g[4],
              g1[5] - g[5]);
    }

    /* a rotated similarity: the response frame is the image frame rotated by 90 degrees and
     * halved (sim_img_to_ref = 0.5 R); a peak 2 cells "right" in the reference frame is an
     * image shift of S^-1 (2, 0) = 2 * R^T (2, 0)... here R = [[0,-1],[1,0]]:
     * S^-1 (2, 0) = (0, -4) */
    memset(maps, 0, sizeof maps);
    for (int i = 0; i < n; i++)
        maps[i * WS * WS + 4 * WS + 6] = 1.0f;
    fa_nurlms_in in = {.pdm = pdm, .maps = maps, .ws = WS, .visible = vis,
                       .sim_img_to_ref = {0, -0.5f, 0.5f, 0}, .sim_ref_to_img = {0, 2, -2, 0},
                       .base_shape = base, .kde = &k, .weights = NULL, .sigma = 1.621f,
                       .reg_factor = 17.7f, .n_iter = 1, .rigid = 1, .compute_lhood = 0};
    float g1[6], p1[FA_PDM_MAX_MODES];
    memcpy(g1, g, sizeof g1);
    memcpy(p1, p, sizeof p1);
    fa_clnf_nu_rlms(&in, g1, p1, NULL);
    CHECK(fabs(g1[4] - g[4]) < 1e-3 && fabs(g1[5] - (g[5] - 4)) < 1e-3,
          "rotated frame: translation (%g, %g), expected (0, -4)", g1[4] - g[4], g1[5] - g[5]);
    fa_kde_free(&k);
}

static void test_scale_params(void)
{
    fa_clnf_params base = {0};
    base.reg_factor = 25;
    base.sigma = 1.5f;
    base.weight_factor = 0;
    float reg, sig, wf;
    const double ps[3] = {0.25, 0.35, 0.5};
    const float want_reg[3] = {25, 17.7186f, 10}, want_sig[3] = {1.5f, 1.62136f, 1.75f};
    for (int s = 0; s < 3; s++) {
        fa_clnf_scale_params(&base, ps[s], &reg, &sig, &wf);
        CHECK(fabsf(reg - want_reg[s]) < 1e-4 && fabsf(sig - want_sig[s]) < 1e-4 && wf == 0,
              "scale %d: reg %g sigma %g wf %g", s, reg, sig, wf);
    }
    base.weight_factor = 2.5f;
    base.reg_factor = 5;
    fa_clnf_scale_params(&base, 1.0, &reg, &sig, &wf);
    CHECK(reg == 0.001f && fabsf(wf - 12.5f) < 1e-5, "floor and weight: reg %g wf %g", reg, wf);
}

int main(void)
{
    fa_pdm pdm;
    fa_err err = {0};
    if (fa_pdm_load(tu_shared_path("models/pdms/In-the-wild_aligned_PDM_68.txt"), &pdm, &err)) {
        fprintf(stderr, "cannot load the PDM: %s\n", err.msg);
        return 1;
    }
    test_kde();
    test_mean_shift();
    test_mean_shift_simd();
    test_nu_rlms(&pdm);
    test_scale_params();
    fa_pdm_free(&pdm);
    return tu_done();
}
