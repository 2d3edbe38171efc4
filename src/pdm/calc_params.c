/* calc_params.c - OpenFace's landmark fit PDM::CalcParams.
 *
 * The fit reproduces OpenFace 2.2 / OpenCV 4.6 / OpenBLAS 0.3.21 arithmetic step by step, bit for
 * bit (checked against OpenFace's PDM.cpp built with Debian 12's OpenCV and OpenBLAS, SkylakeX):
 *  - cv::gemm of small float matrices accumulates in double (GEMMSingleMul<float,double>), with
 *    the 4-lane interleaved sums of its "A * B^T" path, then rounds to float; `A + B * C` and
 *    `A - B * C` are one gemm (src3 A), so the sum or difference is rounded once with the product;
 *  - cv::gemm with 100 or more result rows goes to the BLAS (hal_internal.cpp): the shape
 *    M + V p of 34 or more visible points is then OpenBLAS's small-matrix sgemm, summed as
 *    CalcShape3D's sgemm_ (cv/skx_gemm.h), as is the Hessian J_w_t J (sgemm_ in OpenFace);
 *  - ComputeJacobian takes its shape from CalcShape3D (sgemm_);
 *  - cv::solve(DECOMP_CHOLESKY) is CholImpl<float> (fa_cv_cholesky);
 *  - cv::SVD of a 3x3 float matrix is the one-sided Jacobi SVD run in float (with double sums);
 *  - cv::Rodrigues works in double on the float matrix/vector and rounds the result to float;
 *  - RotationHelpers.h's sin/cos/asin/atan2 are the float overloads (PDM.cpp sees `using
 *    namespace std` from LandmarkDetectorParameters.h).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cv/skx_gemm.h"
#include "pdm/calc_params_kernels.h"


/* ---- the fit ---------------------------------------------------------------------------- */


/* The visible points (x != 0): OpenFace's CalcParams drops the others from the model. */
static void fit_select(fit *F, const fa_pdm *pdm, const float *landmarks)
{
    int n = pdm->n, m = pdm->m, k = 0;
    F->m = m;
    F->nc = 6 + m;
    for (int j = 0; j < m; j++)
        F->reg[j] = 1.0f / pdm->eig[j];
    for (int i = 0; i < n; i++)
        k += landmarks[i] != 0;
    F->n = k;
    F->gram = k == n ? pdm->gram : NULL;
    F->Vt = k == n && pdm->pct ? pdm->pct : F->Vsub;
    /* Only the upper triangle of H is built and used, but the Cholesky loops also read (and
     * discard) entries below it and in the padding: keep them defined. */
    memset(F->H, 0, sizeof F->H);
    for (int i = 0, j = 0; i < n; i++) {
        if (landmarks[i] == 0)
            continue;
        for (int d = 0; d < 3; d++) {
            F->M[d * k + j] = pdm->mean[d * n + i];
            if (F->Vt == F->Vsub)
                for (int c = 0; c < m; c++)
                    F->Vsub[c * 3 * k + d * k + j] = pdm->pc[(size_t)(d * n + i) * m + c];
        }
        F->lm[j] = landmarks[i];
        F->lm[k + j] = landmarks[n + i];
        j++;
    }
    /* The translation columns of the Jacobian are constant. */
    for (int i = 0; i < k; i++) {
        F->JT[4][i] = 1.0f;
        F->JT[4][k + i] = 0.0f;
        F->JT[5][i] = 0.0f;
        F->JT[5][k + i] = 1.0f;
    }
}


/* CalcParams' shape_3D = M + V * loc_params is one cv::gemm (src3 M, beta 1); below 100 rows
 * (fewer than 34 visible points) OpenCV sums it itself: each row's products summed in double
 * over the modes in order, + M in double, rounded once. Eight rows per pass keep four
 * independent sums in flight. From 100 rows on it is shape_sgemm. */
static void fit_shape(fit *F, const float *p)
{
    int rows = 3 * F->n, m = F->m, r = 0;
    for (; r + 8 <= rows; r += 8) {
        v2d acc[4] = {{0}};
        for (int j = 0; j < m; j++) {
            const float *v = F->Vt + (size_t)j * rows + r;
            double pj = p[j];
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                v4f x;
                v2d d[2];
                VLOAD(x, v + 4 * h);
                widen(x, d);
                acc[2 * h] += d[0] * pj;
                acc[2 * h + 1] += d[1] * pj;
            }
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            v4f mv;
            v2d md[2];
            VLOAD(mv, F->M + r + 4 * h);
            widen(mv, md);
            acc[2 * h] += md[0];
            acc[2 * h + 1] += md[1];
            v4f s = narrow(acc + 2 * h);
            VSTORE(F->S + r + 4 * h, s);
        }
    }
    shape_rows(F, p, r);
}

static void minmax(const float *v, int n, float *lo, float *hi)
{
    *lo = *hi = v[0];
    for (int i = 1; i < n; i++) {
        if (v[i] < *lo)
            *lo = v[i];
        if (v[i] > *hi)
            *hi = v[i];
    }
}

/* Weak-perspective projection as cv::gemm(shape^T, R_2D^T, scale) + t: double sums of the
 * three products, times scale, rounded to float, then the float translation. */
static void project(const fit *F, const float R[9], const float g[6], float *out)
{
    int n = F->n, i = 0;
    const float *X = F->S, *Y = F->S + n, *Z = F->S + 2 * n;
    for (; i + 4 <= n; i += 4) {
        v4f xf, yf, zf;
        v2d x[2], y[2], z[2], u[2], v[2];
        VLOAD(xf, X + i);
        VLOAD(yf, Y + i);
        VLOAD(zf, Z + i);
        widen(xf, x);
        widen(yf, y);
        widen(zf, z);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            u[h] = x[h] * (double)R[0];
            v[h] = x[h] * (double)R[3];
            u[h] += y[h] * (double)R[1];
            v[h] += y[h] * (double)R[4];
            u[h] += z[h] * (double)R[2];
            v[h] += z[h] * (double)R[5];
            u[h] *= (double)g[0];
            v[h] *= (double)g[0];
        }
        v4f px = narrow(u) + g[4], py = narrow(v) + g[5];
        VSTORE(out + i, px);
        VSTORE(out + n + i, py);
    }
    for (; i < n; i++) {
        double x = (double)X[i] * R[0], y = (double)X[i] * R[3];
        x += (double)Y[i] * R[1];
        y += (double)Y[i] * R[4];
        x += (double)Z[i] * R[2];
        y += (double)Z[i] * R[5];
        out[i] = (float)(x * g[0]) + g[4];
        out[n + i] = (float)(y * g[0]) + g[5];
    }
}

/* cv::norm(a - b) of float vectors: float differences, squares summed in double. */
static float dist(const float *a, const float *b, int len)
{
    double s = 0;
    for (int i = 0; i < len; i++) {
        double d = a[i] - b[i];
        s += d * d;
    }
    return (float)sqrt(s);
}


static void jacobian(fit *F, const float R[9], float s)
{
    jacobian_from(F, R, s, 0);
}



/* The AVX2 twins where this build has them; without, F->avx2 is always 0 and these names keep
 * the dispatch free of #ifdefs. */
#ifdef PDM_AVX2
#define fit_shape_avx2 fa_pdm_fit_shape_avx2
#define jacobian_avx2 fa_pdm_jacobian_avx2
#else
#define fit_shape_avx2 fit_shape
#define jacobian_avx2 jacobian
#endif


/* Initial scale and translation: landmark bounding box against the mean shape's. */
static void fit_init(const fit *F, float g[6])
{
    int n = F->n;
    float lx0, lx1, ly0, ly1, mx0, mx1, my0, my1;
    minmax(F->lm, n, &lx0, &lx1);
    minmax(F->lm + n, n, &ly0, &ly1);
    minmax(F->M, n, &mx0, &mx1);
    minmax(F->M + n, n, &my0, &my1);
    float w = fabsf(lx0 - lx1), h = fabsf(ly0 - ly1);
    g[0] = (w / fabsf(mx0 - mx1) + h / fabsf(my0 - my1)) / 2.0f;
    g[1] = g[2] = g[3] = 0;
    g[4] = (lx0 + lx1) / 2.0f;
    g[5] = (ly0 + ly1) / 2.0f;
}

/* The starting error, from CalcParams' explicit float projection of the mean shape. */
static float init_error(const fit *F, const float R[9], const float g[6])
{
    int n = F->n;
    float cur[2 * MAXP];
    for (int i = 0; i < n; i++) {
        float X = F->M[i], Y = F->M[n + i], Z = F->M[2 * n + i];
        cur[i] = g[0] * (R[0] * X + R[1] * Y + R[2] * Z) + g[4];
        cur[n + i] = g[0] * (R[3] * X + R[4] * Y + R[5] * Z) + g[5];
    }
    return dist(cur, F->lm, 2 * n);
}

/* CalcShape3D on the visible rows, as fa_pdm_shape3d sums it (OpenBLAS's SkylakeX small-matrix
 * sgemm_, cv/skx_gemm.h: M = 1, N = 3n, K = m), into F->S. */
static void shape_sgemm(fit *F, const float *p)
{
    fa_skx_gemv_t(p, F->Vt, F->m, 3 * F->n, F->M, F->cpu, F->S);
}

/* Hessian = J_w_t * J + regularisations by OpenFace's sgemm_ (beta 1), in OpenBLAS's SkylakeX
 * small-matrix order (fa_skx_hessian; W is the identity, so J_w_t = J^T exactly). CholImpl reads
 * the lower triangle Hessian[c][a], a <= c, which is what h_set's upper triangle (a, c) holds. */
static void hessian_sgemm(fit *F)
{
    static const float zero6[6] = {0};
    const int nc = F->nc, len = 2 * F->n;
    float J[2 * MAXP * MAXC], Jwt[MAXC * 2 * MAXP], reg[MAXC], Hf[MAXC * MAXC];
    for (int c = 0; c < nc; c++) {
        memcpy(Jwt + (size_t)c * (size_t)len, F->JT[c], sizeof(float) * (size_t)len);
        for (int q = 0; q < len; q++)
            J[(size_t)q * (size_t)nc + (size_t)c] = F->JT[c][q];
        reg[c] = c < 6 ? zero6[c] : F->reg[c - 6];
    }
    fa_skx_hessian(Jwt, J, len, nc, reg, F->cpu, Hf);
    for (int a = 0; a < nc; a++)
        for (int c = a; c < nc; c++)
            h_set(F, a, c, Hf[c * nc + a]);
}

/* J_w_t_m = J_w_t * error_resid (cv::gemm, fa_gemv_cv), then minus diag(1/lambda) p. */
static void gradient_cv(fit *F, const double *rd, const float *p)
{
    const int len = 2 * F->n;
    float r[2 * MAXP];
    for (int k = 0; k < len; k++)
        r[k] = (float)rd[k];
    fa_gemv_cv_cpu(F->JT[0], 2 * MAXP, F->nc, len, r, NULL, F->b, F->cpu);
    gradient_reg(F, p);
}

/* cv::solve(Hessian, J_w_t_m, DECOMP_CHOLESKY) through the one CholImpl emulation
 * (fa_cv_cholesky) on the full matrix: CholImpl reads Hessian[c][a], a <= c, held in H (a, c). */
static void cholesky_cv(fit *F)
{
    const int nc = F->nc;
    float A[MAXC * MAXC];
    for (int a = 0; a < nc; a++)
        for (int c = a; c < nc; c++)
            A[c * nc + a] = A[a * nc + c] = F->H[a * MAXC + c];
    memcpy(F->dp, F->b, sizeof(float) * (size_t)nc);
    fa_pdm_chol_solve(A, nc, F->dp, F->cpu);
}

/* One Gauss-Newton step; returns the error of the updated rigid parameters with the shape of
 * the previous local parameters (OpenFace measures it before refreshing the 3D shape). */
static float fit_step(fit *F, float g[6], float *p, float R[9])
{
    int n = F->n;
    float proj[2 * MAXP];
    double r[2 * MAXP]; /* float residuals, held as double for gradient's double products */
    /* shape_3D = M + V * loc_params: cv::gemm hands products with 100 or more rows to the BLAS
     * (OpenCV 4.6's hal_internal.cpp, HAL_GEMM_SMALL_MATRIX_THRESH), where it is the sgemm_ of
     * CalcShape3D; smaller ones it sums itself. */
    const int blas = 3 * n >= 100;
    if (blas)
        shape_sgemm(F, p);
    else if (F->avx2)
        fit_shape_avx2(F, p);
    else
        fit_shape(F, p);
    project(F, R, g, proj);
    for (int k = 0; k < 2 * n; k++)
        r[k] = (float)(F->lm[k] - proj[k]);
    /* ComputeJacobian takes its shape from CalcShape3D (sgemm_), not from the cv::gemm shape of
     * the residual: the Jacobian is built on that one, then the cv::gemm shape comes back for
     * the error after the update. */
    float S_cv[3 * MAXP];
    memcpy(S_cv, F->S, sizeof(float) * 3 * (size_t)n);
    if (!blas)
        shape_sgemm(F, p);
    if (F->avx2) {
        jacobian_avx2(F, R, g[0]);
    } else {
        jacobian(F, R, g[0]);
    }
    gradient_cv(F, r, p);
    memcpy(F->S, S_cv, sizeof(float) * 3 * (size_t)n);
    hessian_sgemm(F);
    cholesky_cv(F);
    for (int c = 0; c < F->nc; c++)
        F->dp[c] = 0.75f * F->dp[c];
    fa_pdm_update_global(g, F->dp);
    for (int j = 0; j < F->m; j++)
        p[j] = p[j] + F->dp[6 + j];
    fa_euler_to_rotation(g + 1, R);
    project(F, R, g, proj);
    return dist(proj, F->lm, 2 * n);
}

void fa_pdm_calc_params(const fa_pdm *pdm, const float *landmarks, float g[6], float *p_local)
{
    fit F;
    memset(p_local, 0, sizeof(float) * (size_t)pdm->m);
    memset(g, 0, sizeof(float) * 6);
    if (pdm->n > MAXP || pdm->m > MAXM)
        return; /* fa_pdm_load rejects such models */
    fit_select(&F, pdm, landmarks);
    F.avx2 = (pdm->cpu & FA_CPU_AVX2) != 0;
    F.cpu = pdm->cpu;
    if (F.n < 1)
        return;
    float R[9];
    fit_init(&F, g);
    fa_euler_to_rotation(g + 1, R);
    float err = init_error(&F, R, g);
    int not_improved = 0;
    for (int it = 0; it < 1000; it++) {
        float e = fit_step(&F, g, p_local, R);
        /* OpenFace never resets this counter: three non-improving steps in total end the fit. */
        if (0.999 * err < e && ++not_improved == 3)
            break;
        err = e;
    }
}

