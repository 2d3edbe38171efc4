/* test_pdm.c - the PDM: loading, Euler angles, and CalcParams against hand-built cases and
 * OpenFace's own parameters and landmarks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define PDM_REL "models/AU_predictors/In-the-wild_aligned_PDM_68.txt"

/* ---- helpers written independently of pdm.c (double precision) ----------------------------- */

static void mat3_mul(const double A[9], const double B[9], double C[9])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j];
}

/* R = Rx(a) Ry(b) Rz(c), each the textbook right-handed rotation. */
static void rot_xyz(double a, double b, double c, double R[9])
{
    double Rx[9] = {1, 0, 0, 0, cos(a), -sin(a), 0, sin(a), cos(a)};
    double Ry[9] = {cos(b), 0, sin(b), 0, 1, 0, -sin(b), 0, cos(b)};
    double Rz[9] = {cos(c), -sin(c), 0, sin(c), cos(c), 0, 0, 0, 1};
    double T[9];
    mat3_mul(Rx, Ry, T);
    mat3_mul(T, Rz, R);
}

/* Weak-perspective landmarks of the model: x = s (R (mean + V p))_x + tx, likewise y. */
static void synth_landmarks_d(const fa_pdm *pdm, const double g[6], const double *p, double *lm)
{
    int n = pdm->n, m = pdm->m;
    double R[9];
    rot_xyz(g[1], g[2], g[3], R);
    for (int i = 0; i < n; i++) {
        double P[3];
        for (int d = 0; d < 3; d++) {
            int r = d * n + i;
            P[d] = pdm->mean[r];
            for (int j = 0; j < m; j++)
                P[d] += (double)pdm->pc[(size_t)r * m + j] * p[j];
        }
        lm[i] = g[0] * (R[0] * P[0] + R[1] * P[1] + R[2] * P[2]) + g[4];
        lm[n + i] = g[0] * (R[3] * P[0] + R[4] * P[1] + R[5] * P[2]) + g[5];
    }
}

static void synth_landmarks(const fa_pdm *pdm, const double g[6], const double *p, float *lm)
{
    double d[2 * 68];
    synth_landmarks_d(pdm, g, p, d);
    for (int k = 0; k < 2 * pdm->n; k++)
        lm[k] = (float)d[k];
}

/* Solves A x = b (n x n, row-major, destroyed) by Gaussian elimination with partial pivoting. */
static void solve_dense(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c]))
                piv = r;
        for (int k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[piv * n + k];
            A[piv * n + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++)
                A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++)
            b[c] -= A[c * n + k] * b[k];
        b[c] /= A[c * n + c];
    }
}

/* The answer CalcParams should converge to for landmarks made from (g0, p0): the minimiser of
 * |lm - proj(g, p)|^2 + sum p_j^2 / lambda_j over the visible points (x != 0). The residual is
 * (nearly) zero at the truth, so one Gauss-Newton step from there lands on the minimiser up to
 * second-order terms: x* = x0 + (J^T J + L)^-1 (J^T r - L x0), J by central differences. */
static void regularised_optimum(const fa_pdm *pdm, const float *lm, const double g0[6],
                                const double *p0, double x_out[40])
{
    int n = pdm->n, nc = 6 + pdm->m;
    static double J[2 * 68][40];
    double x0[40] = {0}, base[2 * 68], plus[2 * 68], minus[2 * 68], A[40 * 40], rhs[40];
    for (int k = 0; k < 6; k++)
        x0[k] = g0[k];
    for (int j = 0; j < pdm->m; j++)
        x0[6 + j] = p0[j];
    synth_landmarks_d(pdm, x0, x0 + 6, base);
    for (int c = 0; c < nc; c++) {
        double h = c < 4 ? 1e-6 : 1e-4, xp[40], xm[40];
        memcpy(xp, x0, sizeof xp);
        memcpy(xm, x0, sizeof xm);
        xp[c] += h;
        xm[c] -= h;
        synth_landmarks_d(pdm, xp, xp + 6, plus);
        synth_landmarks_d(pdm, xm, xm + 6, minus);
        for (int k = 0; k < 2 * n; k++)
            J[k][c] = (plus[k] - minus[k]) / (2 * h);
    }
    for (int a = 0; a < nc; a++) {
        rhs[a] = a >= 6 ? -x0[a] / pdm->eig[a - 6] : 0;
        for (int c = 0; c < nc; c++)
            A[a * nc + c] = a == c && a >= 6 ? 1.0 / pdm->eig[a - 6] : 0;
        for (int k = 0; k < 2 * n; k++) {
            if (lm[k % n] == 0)
                continue;
            rhs[a] += J[k][a] * (lm[k] - base[k]);
            for (int c = 0; c < nc; c++)
                A[a * nc + c] += J[k][a] * J[k][c];
        }
    }
    solve_dense(A, rhs, nc);
    for (int c = 0; c < nc; c++)
        x_out[c] = x0[c] + rhs[c];
}

/* CalcParams' objective: |landmarks - projection|^2 + sum p_j^2 / lambda_j, in double. */
static double objective(const fa_pdm *pdm, const float *lm, const double g[6], const double *p,
                        double *data_term)
{
    float proj[2 * 68];
    synth_landmarks(pdm, g, p, proj);
    double d = 0, r = 0;
    for (int k = 0; k < 2 * pdm->n; k++)
        d += ((double)lm[k] - proj[k]) * ((double)lm[k] - proj[k]);
    for (int j = 0; j < pdm->m; j++)
        r += p[j] * p[j] / pdm->eig[j];
    if (data_term)
        *data_term = d;
    return d + r;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Loading must fail with status st and a message naming the file. */
static void expect_load_error(const char *path, faceau_status st, const char *what)
{
    fa_pdm pdm;
    fa_err err;
    fa_err_clear(&err);
    faceau_status got = fa_pdm_load(path, &pdm, &err);
    CHECK(got == st, "%s: status %d, expected %d (%s)", what, got, st, err.msg);
    CHECK(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", what, err.msg);
    CHECK(pdm.mean == NULL && pdm.pc == NULL && pdm.eig == NULL, "%s: arrays left allocated", what);
}

/* A PDM file with n points and m modes, all values simple (eigenvalue eig0 for every mode). */
static void write_pdm(const char *path, int n, int m, double eig0, int eig_cols)
{
    size_t cap = (size_t)(3 * n) * (size_t)(m + 1) * 16 + 4096, k = 0;
    char *s = malloc(cap);
    k += (size_t)snprintf(s + k, cap - k, "# mean\n%d\n1\n6\n", 3 * n);
    for (int r = 0; r < 3 * n; r++)
        k += (size_t)snprintf(s + k, cap - k, "%f\n", (double)(r % 7) - 3);
    k += (size_t)snprintf(s + k, cap - k, "# components\n%d\n%d\n6\n", 3 * n, m);
    for (int r = 0; r < 3 * n; r++) {
        for (int j = 0; j < m; j++)
            k += (size_t)snprintf(s + k, cap - k, "%f ", r == j ? 1.0 : 0.0);
        k += (size_t)snprintf(s + k, cap - k, "\n");
    }
    k += (size_t)snprintf(s + k, cap - k, "# eigenvalues\n1\n%d\n6\n", eig_cols);
    for (int j = 0; j < eig_cols; j++)
        k += (size_t)snprintf(s + k, cap - k, "%f ", j == 1 ? eig0 : 1.0 + j);
    k += (size_t)snprintf(s + k, cap - k, "\n");
    CHECK(tu_write_file(path, s, k) == 0, "cannot write %s", path);
    free(s);
}

static void test_load(const fa_pdm *pdm)
{
    /* The shipped model: 68 points, 34 modes, values as in the file. */
    CHECK(pdm->n == 68 && pdm->m == 34, "model is %d points x %d modes", pdm->n, pdm->m);
    CHECK(pdm->mean[0] == (float)-73.393523 && pdm->mean[203] == (float)-20.328022 &&
              pdm->eig[0] == (float)826.213804 && pdm->eig[33] == (float)0.582660,
          "first/last mean %g %g, eigenvalues %g %g", pdm->mean[0], pdm->mean[203], pdm->eig[0],
          pdm->eig[33]);
    double norm = 0;
    for (int r = 0; r < 204; r++)
        norm += (double)pdm->pc[r * 34 + 5] * pdm->pc[r * 34 + 5];
    CHECK(fabs(norm - 1) < 1e-4, "principal component 5 has squared norm %g, expected 1", norm);

    const char *dir = tu_tmpdir("test_pdm");
    char path[4200];
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    expect_load_error(path, FACEAU_ERR_IO, "missing file");

    size_t len = 0;
    char *text = (char *)tu_read_file(tu_shared_path(PDM_REL), &len);
    CHECK(text != NULL && len > 1000, "cannot read the model text");
    if (!text)
        return;
    /* Cut inside the principal components, inside the eigenvalues, and inside a header. */
    const char *cuts[3] = {"# The principal components", "# The variances", NULL};
    for (int c = 0; c < 3; c++) {
        size_t at;
        if (cuts[c]) {
            size_t h = (size_t)(strstr(text, cuts[c]) - text);
            at = h + 3000 < len ? h + 3000 : len - 10;
        } else {
            at = 45; /* just after the first comment line and the row count */
        }
        snprintf(path, sizeof path, "%s/truncated%d.txt", dir, c);
        CHECK(tu_write_file(path, text, at) == 0, "cannot write %s", path);
        expect_load_error(path, FACEAU_ERR_MODEL_CORRUPT, "truncated copy");
    }
    snprintf(path, sizeof path, "%s/garbage.txt", dir);
    CHECK(tu_write_file(path, "# not a model\nhello\n", 20) == 0, "cannot write %s", path);
    expect_load_error(path, FACEAU_ERR_MODEL_CORRUPT, "garbage");
    free(text);

    /* Shapes: a general 3n x 1, 3n x m, 1 x m model loads; others are rejected. */
    fa_pdm small;
    fa_err err;
    snprintf(path, sizeof path, "%s/small.txt", dir);
    write_pdm(path, 5, 3, 2.0, 3);
    CHECK(fa_pdm_load(path, &small, &err) == FACEAU_OK, "5-point 3-mode model: %s", err.msg);
    CHECK(small.n == 5 && small.m == 3 && small.mean[1] == -2.0f && small.pc[1 * 3 + 1] == 1.0f &&
              small.eig[1] == 2.0f,
          "small model read as n=%d m=%d", small.n, small.m);
    fa_pdm_free(&small);
    snprintf(path, sizeof path, "%s/eig_cols.txt", dir);
    write_pdm(path, 5, 3, 2.0, 2);
    expect_load_error(path, FACEAU_ERR_MODEL_CORRUPT, "1 x 2 eigenvalues for 3 modes");
    snprintf(path, sizeof path, "%s/eig_neg.txt", dir);
    write_pdm(path, 5, 3, -1.0, 3);
    expect_load_error(path, FACEAU_ERR_MODEL_CORRUPT, "negative eigenvalue");
    snprintf(path, sizeof path, "%s/too_many_points.txt", dir);
    write_pdm(path, 69, 3, 2.0, 3);
    expect_load_error(path, FACEAU_ERR_MODEL_CORRUPT, "69 points");
    snprintf(path, sizeof path, "%s/too_many_modes.txt", dir);
    write_pdm(path, 20, 35, 2.0, 35);
    expect_load_error(path, FACEAU_ERR_MODEL_CORRUPT, "35 modes");
}

/* ---- Euler angles --------------------------------------------------------------------------- */

static void check_rotation(const float e[3], const double want[9], const char *what)
{
    float R[9];
    fa_euler_to_rotation(e, R);
    double worst = 0;
    for (int k = 0; k < 9; k++)
        worst = fmax(worst, fabs(R[k] - want[k]));
    /* float sin/cos and products: a few float ulps of 1 */
    CHECK(worst < 3e-7, "%s: rotation differs by %g", what, worst);
}

static void test_euler(void)
{
    /* One axis at a time, entries written out by hand (c = cos, s = sin of 0.3). */
    double c = cos(0.3), s = sin(0.3);
    float ex[3] = {0.3f, 0, 0}, ey[3] = {0, 0.3f, 0}, ez[3] = {0, 0, 0.3f};
    double Rx[9] = {1, 0, 0, 0, c, -s, 0, s, c};
    double Ry[9] = {c, 0, s, 0, 1, 0, -s, 0, c};
    double Rz[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
    check_rotation(ex, Rx, "pitch 0.3");
    check_rotation(ey, Ry, "yaw 0.3");
    check_rotation(ez, Rz, "roll 0.3");
    float zero[3] = {0, 0, 0}, Rid[9], e0[3];
    fa_euler_to_rotation(zero, Rid);
    CHECK(Rid[0] == 1 && Rid[4] == 1 && Rid[8] == 1 && Rid[1] == 0 && Rid[5] == 0 && Rid[6] == 0,
          "zero angles do not give the identity");
    fa_rotation_to_euler(Rid, e0);
    CHECK(e0[0] == 0 && e0[1] == 0 && e0[2] == 0, "identity gives angles %g %g %g", e0[0], e0[1], e0[2]);

    /* Combined angles: R = Rx Ry Rz, and back. The quaternion route loses precision as the
     * rotation nears a half turn (q0 -> 0), hence a looser bound for the last, extreme case. */
    static const float angles[][3] = {{0.1f, -0.2f, 0.3f}, {-0.5f, 0.4f, -0.25f}, {0.7f, 1.2f, -1.0f},
                                      {0.02f, 0.01f, -0.03f}, {-1.3f, -0.9f, 2.5f}};
    int count = (int)(sizeof angles / sizeof angles[0]);
    for (int t = 0; t < count; t++) {
        const float *e = angles[t];
        double want[9];
        rot_xyz(e[0], e[1], e[2], want);
        check_rotation(e, want, "combined angles");
        float R[9], back[3];
        fa_euler_to_rotation(e, R);
        fa_rotation_to_euler(R, back);
        double tol = t < count - 1 ? 2e-6 : 1e-4;
        for (int k = 0; k < 3; k++)
            CHECK(fabs(back[k] - e[k]) < tol, "round trip of (%g, %g, %g): angle %d is %.9g", e[0],
                  e[1], e[2], k, back[k]);
    }
}

/* ---- CalcParams on synthetic landmarks -------------------------------------------------------- */

/* Fits landmarks made from known g, p and checks the result against the regularised optimum
 * (which is not p itself: the prior pulls p towards 0, and under weak perspective the depth of a
 * mode is barely seen, so e.g. p_0 = 20 comes out near 19). CalcParams stops once three steps
 * have each improved the error by less than 0.1 %, short of the exact minimum; the tolerances
 * allow for that. (Misses seen: scale 1.1e-6 relative, angles 1.2e-5, translation 1.1e-5 px,
 * p 4e-3; the bounds are ~10x, 8x for p.) */
static void check_recovery(const fa_pdm *pdm, const double g0[6], const double *p0, const float *lm,
                           const char *what)
{
    float g[6], p[FA_PDM_MAX_MODES];
    double want[40];
    fa_pdm_calc_params(pdm, lm, g, p);
    regularised_optimum(pdm, lm, g0, p0, want);
    CHECK(fabs(g[0] - want[0]) < 1e-5 * want[0], "%s: scale %.7g, expected %.7g", what, g[0], want[0]);
    for (int k = 1; k < 4; k++)
        CHECK(fabs(g[k] - want[k]) < 1e-4, "%s: angle %d is %.6g, expected %.6g", what, k, g[k], want[k]);
    for (int k = 4; k < 6; k++)
        CHECK(fabs(g[k] - want[k]) < 1e-4, "%s: translation %d is %.7g, expected %.7g", what, k, g[k],
              want[k]);
    for (int j = 0; j < pdm->m; j++)
        CHECK(fabs(p[j] - want[6 + j]) < 0.03, "%s: p_%d is %.6g, expected %.6g (true %g)", what, j,
              p[j], want[6 + j], p0[j]);
    /* Sanity of the expectation itself: the truth scores no better than it. */
    double f_want = objective(pdm, lm, want, want + 6, NULL), f_true = objective(pdm, lm, g0, p0, NULL);
    CHECK(f_want <= f_true + 1e-6, "%s: optimum %.6g scores worse than the truth %.6g", what, f_want,
          f_true);
}

static void test_synthetic(const fa_pdm *pdm)
{
    double g0[6] = {2.5, 0.1, -0.15, 0.05, 320.0, 240.0};
    double p0[FA_PDM_MAX_MODES] = {0};
    p0[0] = 20;  /* lambda 826 */
    p0[1] = -15; /* 696 */
    p0[2] = 10;  /* 381 */
    p0[4] = -8;  /* 210 */
    p0[6] = 5;   /* 113 */
    float lm[2 * 68];
    synth_landmarks(pdm, g0, p0, lm);
    check_recovery(pdm, g0, p0, lm, "all points");

    /* Mean shape, no rotation: the fit must not invent any shape or rotation. */
    double g1[6] = {3.0, 0, 0, 0, 100.0, 150.0}, p1[FA_PDM_MAX_MODES] = {0};
    synth_landmarks(pdm, g1, p1, lm);
    check_recovery(pdm, g1, p1, lm, "mean shape");

    /* Invisible points (x == 0) are left out of the fit. */
    synth_landmarks(pdm, g0, p0, lm);
    for (int i = 0; i < 68; i += 5)
        lm[i] = 0;
    check_recovery(pdm, g0, p0, lm, "every fifth point invisible");

    /* A hand-built model without the derived tables, and a smaller one (first 12 modes). */
    fa_pdm bare = *pdm;
    bare.gram = NULL;
    bare.pct = NULL;
    synth_landmarks(pdm, g0, p0, lm);
    check_recovery(&bare, g0, p0, lm, "no derived tables");
    fa_pdm few = bare;
    few.m = 12;
    float *pc12 = malloc(sizeof(float) * 204 * 12);
    for (int r = 0; r < 204; r++)
        memcpy(pc12 + r * 12, pdm->pc + r * 34, sizeof(float) * 12);
    few.pc = pc12;
    synth_landmarks(&few, g0, p0, lm);
    check_recovery(&few, g0, p0, lm, "12 modes");
    free(pc12);

    /* Nothing visible: zeros, as there is nothing to fit. */
    memset(lm, 0, sizeof lm);
    float g[6], p[34];
    fa_pdm_calc_params(pdm, lm, g, p);
    int zeros = 1;
    for (int k = 0; k < 6; k++)
        zeros &= g[k] == 0;
    for (int j = 0; j < 34; j++)
        zeros &= p[j] == 0;
    CHECK(zeros, "no visible landmark should give zero parameters");
}

/* ---- against OpenFace's output -------------------------------------------------------------- */

typedef struct video_stats {
    double recon_max;      /* worst |landmark - projection of the CSV params| */
    double ratio_max;      /* worst objective(fit) / objective(CSV params) */
    double rms_max;        /* worst RMS landmark residual of the fit */
    double col_frac[40];   /* mean |fit - CSV| / CSV range, per parameter */
    double ms_per_call;
    int frames;
} video_stats;

static void video_run(const fa_pdm *pdm, const tu_csv *csv, video_stats *st)
{
    int cx = tu_csv_col(csv, "x_0"), cy = tu_csv_col(csv, "y_0"), cp = tu_csv_col(csv, "p_scale"),
        cs = tu_csv_col(csv, "success");
    double lo[40], hi[40], sum[40] = {0}, secs = 0;
    memset(st, 0, sizeof *st);
    for (int k = 0; k < 40; k++)
        lo[k] = 1e300, hi[k] = -1e300;
    for (int r = 0; r < csv->nrows; r++) {
        if (tu_csv_at(csv, r, cs) != 1)
            continue;
        float lm[136], g[6], p[34], proj[136];
        double ref[40];
        for (int i = 0; i < 68; i++) {
            lm[i] = (float)tu_csv_at(csv, r, cx + i);
            lm[68 + i] = (float)tu_csv_at(csv, r, cy + i);
        }
        for (int k = 0; k < 40; k++)
            ref[k] = tu_csv_at(csv, r, cp + k);

        /* The CSV landmarks are the projection of the CSV parameters (OpenFace's CalcShape2D). */
        float pf[34], e[3] = {(float)ref[1], (float)ref[2], (float)ref[3]}, R[9], S[204];
        for (int j = 0; j < 34; j++)
            pf[j] = (float)ref[6 + j];
        fa_pdm_shape3d(pdm, pf, S);
        fa_euler_to_rotation(e, R);
        for (int i = 0; i < 68; i++) {
            proj[i] = (float)ref[0] * (R[0] * S[i] + R[1] * S[68 + i] + R[2] * S[136 + i]) + (float)ref[4];
            proj[68 + i] = (float)ref[0] * (R[3] * S[i] + R[4] * S[68 + i] + R[5] * S[136 + i]) + (float)ref[5];
        }
        for (int k = 0; k < 136; k++)
            st->recon_max = fmax(st->recon_max, fabs(proj[k] - lm[k]));

        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fa_pdm_calc_params(pdm, lm, g, p);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

        double fit[40], data;
        for (int k = 0; k < 6; k++)
            fit[k] = g[k];
        for (int j = 0; j < 34; j++)
            fit[6 + j] = p[j];
        double f_fit = objective(pdm, lm, fit, fit + 6, &data), f_ref = objective(pdm, lm, ref, ref + 6, NULL);
        st->ratio_max = fmax(st->ratio_max, f_fit / f_ref);
        st->rms_max = fmax(st->rms_max, sqrt(data / 136));
        for (int k = 0; k < 40; k++) {
            sum[k] += fabs(fit[k] - ref[k]);
            lo[k] = fmin(lo[k], ref[k]);
            hi[k] = fmax(hi[k], ref[k]);
        }
        st->frames++;
    }
    for (int k = 0; k < 40; k++)
        st->col_frac[k] = st->frames && hi[k] > lo[k] ? sum[k] / st->frames / (hi[k] - lo[k]) : 0;
    st->ms_per_call = st->frames ? 1e3 * secs / st->frames : 0;
}

static void test_video(const fa_pdm *pdm, const char *name)
{
    tu_csv csv;
    if (tu_csv_load(tu_shared_path("reference/fullprec/%s.csv", name), &csv)) {
        CHECK(0, "cannot load reference/fullprec/%s.csv", name);
        return;
    }
    video_stats st;
    video_run(pdm, &csv, &st);
    tu_csv_free(&csv);
    CHECK(st.frames > 100, "%s: only %d successful frames", name, st.frames);
    /* 6-decimal CSV parameters move a landmark by at most ~3e-4 px (rotation 5e-7 rad x 100 mm x
     * scale 3, and 34 modes x 5e-7 x scale); 6-decimal landmarks add 5e-7. */
    CHECK(st.recon_max < 1e-3, "%s: CSV landmarks differ from the CSV parameters' shape by %g px",
          name, st.recon_max);
    /* CalcParams minimises |r|^2 + sum p^2/lambda; OpenFace's tracker parameters (the CSV) fit the
     * landmarks exactly but with a larger prior term, so the fit must score strictly better. */
    CHECK(st.ratio_max < 1.0, "%s: fit objective up to %.4f x that of the CSV parameters", name,
          st.ratio_max);
    CHECK(st.rms_max < 0.25, "%s: fit residual up to %.3f px RMS", name, st.rms_max);
    /* Rigid parameters follow the tracker's closely (the local ones need not: see the report). */
    for (int k = 0; k < 6; k++)
        CHECK(st.col_frac[k] < 0.02, "%s: %s column off by %.3f%% of its range", name,
              (const char *[]){"p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"}[k], 100 * st.col_frac[k]);
    int worst = 0;
    for (int k = 0; k < 40; k++)
        if (st.col_frac[k] > st.col_frac[worst])
            worst = k;
    printf("%s: %d frames, reconstruction %.2g px, objective ratio <= %.4f, fit RMS <= %.3f px, "
           "scale/rx/ry/rz/tx/ty %.3f/%.3f/%.3f/%.3f/%.5f/%.5f %%, worst column %d at %.1f %% of range, "
           "%.3f ms per call\n",
           name, st.frames, st.recon_max, st.ratio_max, st.rms_max, 100 * st.col_frac[0],
           100 * st.col_frac[1], 100 * st.col_frac[2], 100 * st.col_frac[3], 100 * st.col_frac[4],
           100 * st.col_frac[5], worst, 100 * st.col_frac[worst], st.ms_per_call);
}

int main(void)
{
    fa_pdm pdm;
    fa_err err;
    fa_err_clear(&err);
    if (fa_pdm_load(tu_shared_path(PDM_REL), &pdm, &err) != FACEAU_OK) {
        CHECK(0, "cannot load the PDM: %s", err.msg);
        return tu_done();
    }
    test_load(&pdm);
    test_euler();
    test_synthetic(&pdm);
    test_video(&pdm, "default");
    test_video(&pdm, "0417_02_003_bill_clinton");
    fa_pdm_free(&pdm);
    return tu_done();
}
