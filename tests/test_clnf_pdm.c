/* test_clnf_pdm.c - the PDM operations of the CLNF fitter (landmarks/pdm_fit.h) on the real
 * 68-point model, against hand-derived cases: Jacobian columns against finite differences of the
 * shape, a box -> params -> shape round trip, the update, the clamp, the Cholesky solve and
 * OpenCV's gemm summation order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/pdm_fit.h"
#include "testutil.h"

static const float G0[6] = {1.3f, 0.12f, -0.25f, 0.07f, 310.5f, 242.25f};

static void some_params(const fa_pdm *pdm, float *p)
{
    for (int j = 0; j < pdm->m; j++)
        p[j] = (float)(0.4 * sqrt(pdm->eig[j]) * sin(1.7 * j + 0.3));
}

/* Shape of (g, p) with double arithmetic (independent of pdm_fit.c): R = Rx Ry Rz. */
static void shape_ref(const fa_pdm *pdm, const float g[6], const float *p, double *out)
{
    int n = pdm->n, m = pdm->m;
    double a = g[1], b = g[2], c = g[3];
    double Rx[9] = {1, 0, 0, 0, cos(a), -sin(a), 0, sin(a), cos(a)};
    double Ry[9] = {cos(b), 0, sin(b), 0, 1, 0, -sin(b), 0, cos(b)};
    double Rz[9] = {cos(c), -sin(c), 0, sin(c), cos(c), 0, 0, 0, 1};
    double T[9], R[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            T[3 * i + j] = 0;
            for (int k = 0; k < 3; k++)
                T[3 * i + j] += Rx[3 * i + k] * Ry[3 * k + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            R[3 * i + j] = 0;
            for (int k = 0; k < 3; k++)
                R[3 * i + j] += T[3 * i + k] * Rz[3 * k + j];
        }
    for (int i = 0; i < n; i++) {
        double P[3];
        for (int d = 0; d < 3; d++) {
            P[d] = pdm->mean[d * n + i];
            for (int j = 0; j < m; j++)
                P[d] += (double)pdm->pc[(size_t)(d * n + i) * m + j] * p[j];
        }
        out[i] = g[0] * (R[0] * P[0] + R[1] * P[1] + R[2] * P[2]) + g[4];
        out[n + i] = g[0] * (R[3] * P[0] + R[4] * P[1] + R[5] * P[2]) + g[5];
    }
}

static void test_shape2d(const fa_pdm *pdm)
{
    float p[FA_PDM_MAX_MODES], sh[2 * 68];
    double ref[2 * 68];
    some_params(pdm, p);
    fa_pdm_shape2d(pdm, p, G0, sh);
    shape_ref(pdm, G0, p, ref);
    double worst = 0;
    for (int k = 0; k < 2 * pdm->n; k++)
        worst = fmax(worst, fabs(sh[k] - ref[k]));
    CHECK(worst < 1e-3, "CalcShape2D differs from the double reference by %g px", worst);
}

/* Column c of J against the central difference of the shape (non-rigid, scale, translation:
 * the shape is linear in them) or of fa_pdm_update's rotation (small-angle model). */
static void test_jacobian(const fa_pdm *pdm)
{
    int n = pdm->n, m = pdm->m, k = 6 + m;
    float p[FA_PDM_MAX_MODES];
    some_params(pdm, p);
    static float J[2 * 68 * FA_PDM_MAX_PARAMS], Jt[2 * 68 * FA_PDM_MAX_PARAMS];
    static float Jr[2 * 68 * 6], Jrt[2 * 68 * 6];
    fa_pdm_jacobian(pdm, p, G0, NULL, J, Jt);
    fa_pdm_rigid_jacobian(pdm, p, G0, NULL, Jr, Jrt);
    double worst_rel = 0, worst_rot = 0;
    int same_rigid = 1, transposed = 1;
    for (int c = 0; c < k; c++) {
        float gp[6], gm[6], pp[FA_PDM_MAX_MODES], pm[FA_PDM_MAX_MODES];
        double sp[2 * 68], sm[2 * 68];
        double h = c >= 1 && c <= 3 ? 1e-4 : c == 0 ? 1e-3 : c < 6 ? 0.5 : 0.5;
        memcpy(gp, G0, sizeof gp);
        memcpy(gm, G0, sizeof gm);
        memcpy(pp, p, sizeof(float) * m);
        memcpy(pm, p, sizeof(float) * m);
        if (c >= 1 && c <= 3) {
            /* rotation: compose through the model's own update (double shapes from its g) */
            float d[6] = {0, 0, 0, 0, 0, 0};
            d[c] = (float)h;
            fa_pdm_update_global(gp, d);
            d[c] = (float)-h;
            fa_pdm_update_global(gm, d);
        } else if (c < 6) {
            gp[c] += (float)h;
            gm[c] -= (float)h;
        } else {
            pp[c - 6] += (float)h;
            pm[c - 6] -= (float)h;
        }
        shape_ref(pdm, gp, pp, sp);
        shape_ref(pdm, gm, pm, sm);
        for (int r = 0; r < 2 * n; r++) {
            double fd = (sp[r] - sm[r]) / (2 * h);
            double jv = J[r * k + c];
            double err = fabs(fd - jv) / (1 + fabs(jv));
            if (c >= 1 && c <= 3)
                worst_rot = fmax(worst_rot, err);
            else
                worst_rel = fmax(worst_rel, err);
            if (c < 6 && Jr[r * 6 + c] != J[r * k + c])
                same_rigid = 0;
            if (Jt[c * 2 * n + r] != J[r * k + c])
                transposed = 0;
        }
    }
    CHECK(worst_rel < 2e-3, "scale/translation/mode columns vs finite differences: %g", worst_rel);
    /* the Euler angles are float: a 1e-4 rad step resolves the derivative to ~1e-2 */
    CHECK(worst_rot < 3e-2, "rotation columns vs finite differences of the update: %g", worst_rot);
    CHECK(same_rigid, "rigid Jacobian equals the first 6 columns of the full one");
    CHECK(transposed, "unweighted Jw_t is J transposed");

    /* weights: row r of J scaled by w[r] in Jw_t; unit weights (trace == 2n) are skipped */
    static float w[2 * 68], Jw[2 * 68 * FA_PDM_MAX_PARAMS];
    for (int r = 0; r < 2 * n; r++)
        w[r] = 0.5f + 0.01f * (float)(r % n);
    fa_pdm_jacobian(pdm, p, G0, w, J, Jw);
    int ok = 1;
    for (int c = 0; c < k; c++)
        for (int r = 0; r < 2 * n; r++)
            ok &= Jw[c * 2 * n + r] == J[r * k + c] * w[r];
    CHECK(ok, "weighted Jw_t = (W J)^T");
    fa_pdm_rigid_jacobian(pdm, p, G0, w, Jr, Jrt);
    ok = 1;
    for (int c = 0; c < 6; c++)
        for (int r = 0; r < 2 * n; r++)
            ok &= Jrt[c * 2 * n + r] == Jr[r * 6 + c] * w[r];
    CHECK(ok, "weighted rigid Jw_t = (W J)^T");
}

/* box -> g with p = 0 and no rotation: the mean shape's extent is centred in the box, and the
 * scale is the mean of the two width/height ratios. */
static void test_params_from_box(const fa_pdm *pdm)
{
    int n = pdm->n;
    float p[FA_PDM_MAX_MODES] = {0}, rot[3] = {0, 0, 0}, g[6], box[4] = {100.5f, 80.25f, 210, 190};
    fa_pdm_params_from_box(pdm, box, p, rot, g);
    float sh[2 * 68], mb[4], unit[6] = {1, 0, 0, 0, 0, 0};
    fa_pdm_shape2d(pdm, p, g, sh);
    fa_pdm_bounding_box(pdm, p, unit, mb);
    float sb[4];
    fa_pdm_bounding_box(pdm, p, g, sb);
    double s_expect = (box[2] / mb[2] + box[3] / mb[3]) / 2;
    CHECK(fabs(g[0] - s_expect) < 1e-5, "scale %g, expected %g", g[0], s_expect);
    CHECK(fabs(sb[0] + sb[2] / 2 - (box[0] + box[2] / 2)) < 1e-3 &&
              fabs(sb[1] + sb[3] / 2 - (box[1] + box[3] / 2)) < 1e-3,
          "shape centre (%g, %g) vs box centre (%g, %g)", sb[0] + sb[2] / 2, sb[1] + sb[3] / 2,
          box[0] + box[2] / 2, box[1] + box[3] / 2);
    CHECK(fabs(sb[2] - g[0] * mb[2]) < 1e-3 && fabs(sb[3] - g[0] * mb[3]) < 1e-3,
          "shape extent scales with g[0]");
    CHECK(g[1] == 0 && g[2] == 0 && g[3] == 0, "rotation copied");
    (void)n;

    /* a box with the model's own aspect ratio is filled exactly */
    float box2[4] = {40, 30, 3 * mb[2], 3 * mb[3]};
    fa_pdm_params_from_box(pdm, box2, p, rot, g);
    fa_pdm_bounding_box(pdm, p, g, sb);
    CHECK(fabs(g[0] - 3) < 1e-5 && fabs(sb[0] - 40) < 1e-3 && fabs(sb[1] - 30) < 1e-3 &&
              fabs(sb[2] - box2[2]) < 1e-3 && fabs(sb[3] - box2[3]) < 1e-3,
          "box (%g %g %g %g) -> shape bbox (%g %g %g %g)", box2[0], box2[1], box2[2], box2[3],
          sb[0], sb[1], sb[2], sb[3]);

    /* with a rotation, it is copied into g and the rotated extent is what is centred */
    float rot3[3] = {0.1f, -0.5236f, 0.2f};
    fa_pdm_params_from_box(pdm, box, p, rot3, g);
    fa_pdm_bounding_box(pdm, p, g, sb);
    CHECK(g[1] == rot3[0] && g[2] == rot3[1] && g[3] == rot3[2], "rotation hypothesis kept");
    CHECK(fabs(sb[0] + sb[2] / 2 - (box[0] + box[2] / 2)) < 1e-3 &&
              fabs(sb[1] + sb[3] / 2 - (box[1] + box[3] / 2)) < 1e-3,
          "rotated shape centred in the box");
}

static void test_update_clamp(const fa_pdm *pdm)
{
    int m = pdm->m;
    float p[FA_PDM_MAX_MODES], g[6], d[FA_PDM_MAX_PARAMS];
    some_params(pdm, p);
    memcpy(g, G0, sizeof g);
    for (int c = 0; c < 6 + m; c++)
        d[c] = c == 0 ? 0.01f : c < 4 ? 0 : c < 6 ? 2.5f : 0.125f * (float)(c - 6);
    float p0[FA_PDM_MAX_MODES];
    memcpy(p0, p, sizeof(float) * m);
    fa_pdm_update(pdm, d, 6 + m, p, g);
    int ok = 1;
    for (int j = 0; j < m; j++)
        ok &= p[j] == p0[j] + d[6 + j];
    CHECK(ok, "p += delta[6..]");
    CHECK(g[0] == G0[0] + 0.01f && g[4] == G0[4] + 2.5f && g[5] == G0[5] + 2.5f,
          "scale and translation add");
    CHECK(fabsf(g[1] - G0[1]) < 1e-6 && fabsf(g[2] - G0[2]) < 1e-6 && fabsf(g[3] - G0[3]) < 1e-6,
          "zero rotation update keeps the angles (%g %g %g)", g[1], g[2], g[3]);
    memcpy(p0, p, sizeof(float) * m);
    fa_pdm_update(pdm, d, 6, p, g);
    CHECK(memcmp(p, p0, sizeof(float) * m) == 0, "a rigid update leaves p alone");

    /* a pure rotation about z by w, from zero angles, gives roll w */
    float gz[6] = {1, 0, 0, 0, 0, 0}, dz[6] = {0, 0, 0, 0.05f, 0, 0};
    fa_pdm_update_global(gz, dz);
    CHECK(fabsf(gz[1]) < 1e-6 && fabsf(gz[2]) < 1e-6 && fabsf(gz[3] - atanf(0.05f)) < 1e-5,
          "z rotation: angles (%g %g %g), expected roll %g", gz[1], gz[2], gz[3], atanf(0.05f));

    for (int j = 0; j < m; j++)
        p[j] = (j % 2 ? -4.0f : 4.0f) * sqrtf(pdm->eig[j]) * (j % 3 ? 1.0f : 0.5f);
    fa_pdm_clamp(pdm, p);
    ok = 1;
    for (int j = 0; j < m; j++) {
        float lim = 3 * sqrtf(pdm->eig[j]);
        float want = j % 3 ? (j % 2 ? -lim : lim) : (j % 2 ? -4.0f : 4.0f) * sqrtf(pdm->eig[j]) * 0.5f;
        ok &= p[j] == want;
    }
    CHECK(ok, "clamp to +-3 sigma, inside values untouched");
}

static void test_solve_gemv(void)
{
    /* H = A^T A + I for a fixed A; x known, b = H x */
    enum { K = 12 };
    float H[K * K], b[K], x[K], xs[K];
    double A[K * K];
    for (int i = 0; i < K * K; i++)
        A[i] = sin(0.37 * i) + (i % (K + 1) == 0 ? 2 : 0);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double s = i == j;
            for (int q = 0; q < K; q++)
                s += A[q * K + i] * A[q * K + j];
            H[i * K + j] = (float)s;
        }
    for (int i = 0; i < K; i++)
        x[i] = (float)(i - 5) * 0.25f;
    for (int i = 0; i < K; i++) {
        double s = 0;
        for (int j = 0; j < K; j++)
            s += (double)H[i * K + j] * x[j];
        b[i] = (float)s;
    }
    CHECK(fa_cholesky_solve(H, b, K, xs, fa_cpu_features()) == 1, "positive definite solve succeeds");
    double worst = 0;
    for (int i = 0; i < K; i++)
        worst = fmax(worst, fabs(xs[i] - x[i]));
    CHECK(worst < 1e-4, "Cholesky solution error %g", worst);
    float Hn[4] = {1, 2, 2, 1}, bn[2] = {1, 1}, xn[2] = {7, 7};
    CHECK(fa_cholesky_solve(Hn, bn, 2, xn, fa_cpu_features()) == 0 && xn[0] == 0 && xn[1] == 0,
          "indefinite H gives a zero solution, as cv::solve");
    /* the column-ordered AVX2 solve (fa_pdm_chol_solve) gives fa_cv_cholesky's bits: random
     * Gram matrices of every size up to 40 (ill-conditioned ones too: few rows), a pivot that
     * fails part-way, garbage above the diagonal (never read) */
    {
        enum { KM = 40 };
        static float G[KM * KM], A1[KM * KM], A2[KM * KM], J[3 * KM * KM];
        float b1[KM], b2[KM];
        srand(5);
        int bad = 0, fails = 0;
        for (int t = 0; t < 160; t++) {
            const int n = 1 + t % KM, rows = t % 3 == 0 ? n / 2 + 1 : 2 * n + 3;
            for (int i = 0; i < rows * n; i++)
                J[i] = (float)rand() / RAND_MAX - 0.5f;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    float acc = 0;
                    for (int q = 0; q < rows; q++)
                        acc += J[q * n + i] * J[q * n + j];
                    G[i * n + j] = j > i ? (float)rand() : acc + (i == j ? 1e-3f : 0.0f);
                }
            if (t % 5 == 4) /* a negative pivot half-way */
                G[(n / 2) * n + n / 2] = -1.0f;
            for (int i = 0; i < n; i++)
                b1[i] = b2[i] = (float)rand() / RAND_MAX - 0.5f;
            memcpy(A1, G, sizeof(float) * (size_t)(n * n));
            memcpy(A2, G, sizeof(float) * (size_t)(n * n));
            const int r1 = fa_cv_cholesky(A1, n, b1, 1);
            const int r2 = fa_pdm_chol_solve(A2, n, b2, fa_cpu_features());
            fails += !r1;
            bad += r1 != r2 || memcmp(b1, b2, sizeof(float) * (size_t)n) != 0;
        }
        CHECK(bad == 0, "column-ordered Cholesky: %d of 160 solves differ from CholImpl's", bad);
        CHECK(fails > 0 && fails < 160, "Cholesky cases: %d of 160 not positive definite", fails);
    }

    /* gemv: lanes k mod 4, then the tail into lane 0, combined ((s0 + s1) + s2) + s3. With
     * a = (2^60, 1, -2^60, 1, 1) against ones: s0 = 2^60 (+1 lost), s1 = 1 (lost against s0),
     * s2 = -2^60, s3 = 1 -> 1, where a running sum in order would give 2. */
    float row[5] = {0x1p60f, 1, -0x1p60f, 1, 1}, ones[5] = {1, 1, 1, 1, 1}, out;
    fa_gemv_cv(row, 1, 5, ones, &out);
    CHECK(out == 1.0f, "gemv summation order: %g, expected 1", out);
    float Am[3 * 7], v[7], o[3];
    for (int i = 0; i < 21; i++)
        Am[i] = (float)(i % 5) - 1.5f;
    for (int i = 0; i < 7; i++)
        v[i] = 0.5f * (float)i;
    fa_gemv_cv(Am, 3, 7, v, o);
    int ok = 1;
    for (int r = 0; r < 3; r++) {
        double s = 0;
        for (int k = 0; k < 7; k++)
            s += (double)Am[r * 7 + k] * v[k];
        ok &= o[r] == (float)s;
    }
    CHECK(ok, "gemv rows equal exact dot products on exactly representable data");

    /* fa_gemv_cv_cpu (the AVX2 kernel when the CPU has it) against the portable sums bit
     * for bit: every row count through the 8/4/1-row blocks, lengths with every tail, values
     * over many binades (so the order shows), with and without a bias, and NaN/inf inputs. */
    enum { MR = 21, ML = 1003 };
    float *M = malloc(sizeof(float) * MR * (ML + 2)), *xv = malloc(sizeof(float) * ML);
    float bias[MR], g1[MR], g2[MR];
    CHECK(M && xv, "gemv test: out of memory");
    if (M && xv) {
        uint32_t rng = 99;
        int diff = 0, cases = 0;
        for (int rows = 1; rows <= MR; rows++)
            for (int len = 1; len <= ML; len += len < 20 ? 1 : 97) {
                const int lda = len + cases % 3; /* rows apart by more than their length too */
                for (int i = 0; i < rows * lda; i++) {
                    rng = rng * 1664525u + 1013904223u;
                    M[i] = ldexpf((float)((int)(rng >> 8 & 0xffff) - 0x8000), (int)(rng >> 24 & 31) - 20);
                }
                for (int i = 0; i < len; i++) {
                    rng = rng * 1664525u + 1013904223u;
                    xv[i] = ldexpf((float)((int)(rng >> 8 & 0xffff) - 0x8000), (int)(rng >> 24 & 15) - 10);
                }
                if (len >= 4 && cases % 2 == 0) /* lanes 0 and 2 cancel: the combining order shows */
                    for (int r = 0; r < rows; r++) {
                        xv[0] = xv[2] = 1;
                        M[r * lda] = r & 1 ? 0x1p60f : -0x1p60f;
                        M[r * lda + 2] = -M[r * lda];
                    }
                if (cases % 7 == 3)
                    M[(rng >> 3) % (unsigned)(rows * lda)] = (cases & 8) ? NAN : INFINITY;
                for (int r = 0; r < rows; r++)
                    bias[r] = (float)r * 0.37f - 3.0f;
                const float *b = cases & 1 ? bias : NULL;
                fa_gemv_cv_cpu(M, (size_t)lda, rows, len, xv, b, g1, 0);
                fa_gemv_cv_cpu(M, (size_t)lda, rows, len, xv, b, g2, fa_cpu_features());
                diff += memcmp(g1, g2, sizeof(float) * (size_t)rows) != 0;
                if (lda == len) {
                    fa_gemv_cv_bias(M, rows, len, xv, b, g2);
                    diff += memcmp(g1, g2, sizeof(float) * (size_t)rows) != 0;
                }
                cases++;
            }
        CHECK(diff == 0, "gemv: %d of %d cases differ between the kernels", diff, cases);
    }
    free(M);
    free(xv);
}

int main(void)
{
    fa_pdm pdm;
    fa_err err = {0};
    if (fa_pdm_load(tu_shared_path("models/pdms/In-the-wild_aligned_PDM_68.txt"), &pdm, &err)) {
        fprintf(stderr, "cannot load the PDM: %s\n", err.msg);
        return 1;
    }
    test_shape2d(&pdm);
    test_jacobian(&pdm);
    test_params_from_box(&pdm);
    test_update_clamp(&pdm);
    test_solve_gemv();
    fa_pdm_free(&pdm);
    return tu_done();
}
