/* pdm.c - OpenFace's 3D point distribution model (PDM): loading, CalcShape3D, and the rigid
 * part of UpdateModelParameters (with PDM::Orthonormalise). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cv/skx_gemm.h"
#include "pdm/pdm.h"

#define MAXP FA_PDM_MAX_POINTS
#define MAXM FA_PDM_MAX_MODES

/* ---- loading --------------------------------------------------------------------------- */

/* Reads one "comments + matrix" block; a failure message says which PDM part was being read. */
static faceau_status read_block(FILE *f, const char *path, const char *what, fa_mat *m, fa_err *err)
{
    fa_skip_comments(f);
    faceau_status st = fa_textmat_read(f, path, m, err);
    if (st != FACEAU_OK && err) {
        char inner[sizeof err->msg];
        memcpy(inner, err->msg, sizeof inner);
        fa_fail(err, st, "%s (PDM %s)", inner, what);
    }
    return st;
}

static int all_finite(const fa_mat *m)
{
    for (int i = 0; i < m->rows * m->cols; i++)
        if (!isfinite(m->data[i]))
            return 0;
    return 1;
}

static faceau_status check_shapes(const char *path, const fa_mat *mean, const fa_mat *pc,
                                  const fa_mat *eig, fa_err *err)
{
    if (mean->cols != 1 || mean->rows < 3 || mean->rows % 3 != 0)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: PDM mean shape is %d x %d, expected 3n x 1", path, mean->rows, mean->cols);
    if (pc->rows != mean->rows || pc->cols < 1)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: PDM principal components are %d x %d, expected %d x m", path, pc->rows,
                       pc->cols, mean->rows);
    if (eig->rows != 1 || eig->cols != pc->cols)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: PDM eigenvalues are %d x %d, expected 1 x %d", path, eig->rows, eig->cols,
                       pc->cols);
    if (mean->rows / 3 > MAXP || pc->cols > MAXM)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: PDM has %d points and %d modes; at most %d and %d are supported", path,
                       mean->rows / 3, pc->cols, MAXP, MAXM);
    if (!all_finite(mean) || !all_finite(pc) || !all_finite(eig))
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: PDM holds a non-finite value", path);
    for (int j = 0; j < eig->cols; j++)
        if (!(eig->data[j] > 0))
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "%s: PDM eigenvalue %d is %g, must be positive", path, j, eig->data[j]);
    return FACEAU_OK;
}

static float *to_float(const fa_mat *m, fa_err *err, const char *what)
{
    size_t k = (size_t)m->rows * (size_t)m->cols;
    float *out = fa_malloc(k * sizeof *out, err, what);
    if (out)
        for (size_t i = 0; i < k; i++)
            out[i] = (float)m->data[i]; /* OpenFace: ReadMat as double, convertTo CV_32F */
    return out;
}

/* Block pairs of the Gram matrices, in the order the fa_pdm.gram comment gives. */
const int fa_pdm_gram_pair[6][2] = {{0, 0}, {1, 1}, {2, 2}, {0, 1}, {0, 2}, {1, 2}};

/* G_ab(j,k) = sum_i V_a(i,j) V_b(i,k) (+ the transposed pair when a != b) over all points. */
static void gram_build(const float *V, int n, int m, double *gram)
{
    for (int t = 0; t < 6; t++) {
        int a = fa_pdm_gram_pair[t][0], b = fa_pdm_gram_pair[t][1];
        double *G = gram + (size_t)t * m * m;
        for (int j = 0; j < m; j++)
            for (int k = j; k < m; k++) {
                double s = 0;
                for (int i = 0; i < n; i++) {
                    const float *va = V + (size_t)(a * n + i) * m, *vb = V + (size_t)(b * n + i) * m;
                    s += (double)va[j] * vb[k];
                    if (a != b)
                        s += (double)vb[j] * va[k];
                }
                G[j * m + k] = G[k * m + j] = s;
            }
    }
}

void fa_pdm_free(fa_pdm *pdm)
{
    if (pdm) {
        free(pdm->mean);
        free(pdm->pc);
        free(pdm->eig);
        free(pdm->gram);
        free(pdm->pct);
        memset(pdm, 0, sizeof *pdm);
    }
}

static faceau_status load_from(FILE *f, const char *path, fa_pdm *pdm, fa_mat mats[3], fa_err *err)
{
    static const char *what[3] = {"mean shape", "principal components", "eigenvalues"};
    for (int i = 0; i < 3; i++) {
        faceau_status st = read_block(f, path, what[i], &mats[i], err);
        if (st)
            return st;
    }
    faceau_status st = check_shapes(path, &mats[0], &mats[1], &mats[2], err);
    if (st)
        return st;
    pdm->n = mats[0].rows / 3;
    pdm->m = mats[1].cols;
    pdm->mean = to_float(&mats[0], err, path);
    pdm->pc = to_float(&mats[1], err, path);
    pdm->eig = to_float(&mats[2], err, path);
    int rows = 3 * pdm->n, m = pdm->m;
    pdm->gram = fa_malloc((size_t)6 * m * m * sizeof *pdm->gram, err, path);
    pdm->pct = fa_malloc((size_t)rows * m * sizeof *pdm->pct, err, path);
    if (!pdm->mean || !pdm->pc || !pdm->eig || !pdm->gram || !pdm->pct)
        return FACEAU_ERR_NOMEM;
    gram_build(pdm->pc, pdm->n, m, pdm->gram);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < m; j++)
            pdm->pct[(size_t)j * rows + r] = pdm->pc[(size_t)r * m + j];
    pdm->cpu = fa_cpu_features();
    return FACEAU_OK;
}

faceau_status fa_pdm_load(const char *path, fa_pdm *pdm, fa_err *err)
{
    memset(pdm, 0, sizeof *pdm);
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    fa_mat mats[3] = {{0, 0, 0, NULL}, {0, 0, 0, NULL}, {0, 0, 0, NULL}};
    st = load_from(f, path, pdm, mats, err);
    for (int i = 0; i < 3; i++)
        fa_mat_free(&mats[i]);
    if (ferror(f) && st == FACEAU_OK)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st)
        fa_pdm_free(pdm);
    return st;
}

/* ---- shape ------------------------------------------------------------------------------ */

/* OpenFace's CalcShape3D: sgemm_(N, N, 1, 3n, m, 1, p, 1, princ_comp, m, 1, out = mean, 1), a
 * small-matrix product in OpenBLAS's SkylakeX order (cv/skx_gemm.h): M = 1, so each row is
 * dot-like (16 partial chains and a tree) when m >= 32, else one fused chain; then + mean,
 * rounded once (fma(C, beta = 1, sum)). */
void fa_pdm_shape3d(const fa_pdm *pdm, const float *p_local, float *shape3d)
{
    const int N = 3 * pdm->n, m = pdm->m;
    if (pdm->pct) { /* the transposed components: eight rows per vector (same bits) */
        fa_skx_gemv_t(p_local, pdm->pct, m, N, pdm->mean, pdm->cpu, shape3d);
        return;
    }
    const int dot = fa_skx_dot_row(1, m) == 0;
    for (int r = 0; r < N; r++) {
        const float *v = pdm->pc + (size_t)r * (size_t)m;
        float s;
        if (dot) {
            s = fa_skx_dot(p_local, 1, v, 1, m, fa_skx_tree4(0, r, 1, N));
        } else {
            s = 0;
            for (int j = 0; j < m; j++)
                s = fmaf(p_local[j], v[j], s);
        }
        shape3d[r] = s + pdm->mean[r];
    }
}


static void orthonormalise(double R[3][3])
{
    double At[3][3], Vt[3][3], U[3][3], X[3][3], UW[3][3];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            At[i][k] = R[k][i];
    fa_cv_svd(At, Vt, 3, 1);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            U[i][k] = At[k][i];
    fa_cv_mul3f(U, Vt, X);
    double det = X[0][0] * (X[1][1] * X[2][2] - X[1][2] * X[2][1]) -
                 X[0][1] * (X[1][0] * X[2][2] - X[1][2] * X[2][0]) +
                 X[0][2] * (X[1][0] * X[2][1] - X[1][1] * X[2][0]);
    double W[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, (float)det}};
    fa_cv_mul3f(U, W, UW);
    fa_cv_mul3f(UW, Vt, R);
}

/* cv::Rodrigues, matrix to axis-angle: double-precision re-orthonormalisation by SVD first. */

/* PDM::UpdateModelParameters for the rigid part: g += dp, rotation composed with orth(I + [w]x)
 * and taken back to Euler angles through Rodrigues twice (NaN -> 0). */
void fa_pdm_update_global(float g[6], const float *dp)
{
    g[0] += dp[0];
    g[4] += dp[4];
    g[5] += dp[5];
    float R1f[9];
    fa_euler_to_rotation(g + 1, R1f);
    double R1[3][3], R2[3][3] = {{1, -dp[3], dp[2]}, {dp[3], 1, -dp[1]}, {-dp[2], dp[1], 1}}, R3[3][3];
    for (int k = 0; k < 9; k++)
        R1[k / 3][k % 3] = R1f[k];
    orthonormalise(R2);
    fa_cv_mul3f(R1, R2, R3);
    float axis[3], Rb[9], e[3];
    fa_cv_rodrigues_to_vec(R3, axis);
    fa_cv_rodrigues_to_mat(axis, Rb);
    fa_rotation_to_euler(Rb, e);
    if (isnan(e[0]) || isnan(e[1]) || isnan(e[2]))
        e[0] = e[1] = e[2] = 0;
    g[1] = e[0];
    g[2] = e[1];
    g[3] = e[2];
}

int fa_pdm_chol_solve(float *A, int N, float *b, unsigned cpu)
{
#if FA_BUILD_AVX2
    if (cpu & FA_CPU_AVX2)
        return fa_pdm_chol_solve_avx2(A, N, b);
#endif
    (void)cpu;
    return fa_cv_cholesky(A, N, b, 1);
}
