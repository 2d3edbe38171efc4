/* calc_params.c - OpenFace's landmark fit PDM::CalcParams.
 *
 * The fit reproduces OpenFace 2.2 / OpenCV 4.6 arithmetic step by step where OpenCV defines it:
 *  - cv::gemm on small float matrices accumulates in double (GEMMSingleMul<float,double>), with
 *    the 4-lane interleaved sums of its "A * B^T" path, then rounds to float;
 *  - cv::SVD of a 3x3 float matrix is the one-sided Jacobi SVD run in float (with double sums);
 *  - cv::Rodrigues works in double on the float matrix/vector and rounds the result to float;
 *  - RotationHelpers.h calls the double sin/cos/asin/atan2/sqrt on float arguments.
 * Two products run through OpenBLAS in OpenFace (the 3D shape M + V p and the Hessian J^T J) and
 * accumulate in float in an order that depends on the CPU kernel (OpenBLAS picks it at run time),
 * so no fixed order can match them everywhere. Here the shape is summed in double and rounded once,
 * and J^T J is built from float partial sums (rigid rows) and Gram matrices of the components
 * (modes block, exact algebra in double). Results therefore agree with OpenFace to float rounding
 * (as two OpenBLAS kernels agree with each other), not bit for bit.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pdm/calc_params_kernels.h"

_Static_assert(MAXC % 4 == 0, "cholesky_solve works on blocks of 4 rows");

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


/* OpenFace's CalcShape3D M + V p is an OpenBLAS sgemm (float accumulation, CPU-dependent order);
 * here each row's dot product is exact to double (summed over the modes in order) and rounded
 * once before adding the mean. Eight rows per pass keep four independent sums in flight. */
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
            v4f s;
            VLOAD(s, F->M + r + 4 * h);
            s += narrow(acc + 2 * h);
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


/* b = J^T r as cv::gemm computes it (GEMMSingleMul, "A * B^T" path): per row 4 interleaved
 * double sums, lane l taking the elements l mod 4 and lane 0 the ones past the last multiple of
 * 4, combined as ((s0 + s1) + s2) + s3. Then the local part minus diag(1/lambda) p. Four rows
 * per pass keep independent sums in flight; a missing row repeats the last one. */
static void gradient(fit *F, const double *rd, const float *p)
{
    int len = 2 * F->n, full = len & ~3, nc = F->nc;
    for (int c = 0; c < nc; c += 4) {
        const float *a[4];
        v2d s[4][2] = {{{0}}};
        for (int q = 0; q < 4; q++)
            a[q] = F->JT[c + q < nc ? c + q : c];
        for (int k = 0; k < full; k += 4) {
            v2d rk[2];
            VLOAD(rk, rd + k);
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                v4f x;
                v2d d[2];
                VLOAD(x, a[q] + k);
                widen(x, d);
                s[q][0] += d[0] * rk[0];
                s[q][1] += d[1] * rk[1];
            }
        }
        for (int q = 0; q < 4 && c + q < nc; q++) {
            double s0 = s[q][0][0];
            for (int k = full; k < len; k++)
                s0 += (double)a[q][k] * rd[k];
            F->b[c + q] = (float)(s0 + s[q][0][1] + s[q][1][0] + s[q][1][1]);
        }
    }
    gradient_reg(F, p);
}


static float dot_f(const float *a, const float *b, int len)
{
    int full = len & ~7;
    v4f s[2] = {{0}};
    for (int k = 0; k < full; k += 8)
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            v4f x, y;
            VLOAD(x, a + k + 4 * h);
            VLOAD(y, b + k + 4 * h);
            s[h] += x * y;
        }
    return sum8_finish(s, a, b, full, len);
}

static float sum_f(const float *a, int len)
{
    int full = len & ~7;
    v4f s[2] = {{0}};
    for (int k = 0; k < full; k += 8)
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            v4f x;
            VLOAD(x, a + k + 4 * h);
            s[h] += x;
        }
    return sum8_finish(s, a, NULL, full, len);
}


/* Rows 0..5 of J^T J. Each column c meets the four rotation/scale rows in one pass over it.
 * Rows 4 and 5 of J^T are 0/1 (translation), so they only sum. */
static void hessian_rigid(fit *F)
{
    int n = F->n, len = 2 * n, full = len & ~7;
    for (int c = 0; c < F->nc; c++) {
        const float *b = F->JT[c];
        v4f s[4][2] = {{{0}}};
        for (int k = 0; k < full; k += 8)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                v4f y;
                VLOAD(y, b + k + 4 * h);
#pragma GCC unroll 4
                for (int a = 0; a < 4; a++) {
                    v4f x;
                    VLOAD(x, F->JT[a] + k + 4 * h);
                    s[a][h] += x * y;
                }
            }
        for (int a = 0; a < 4 && a <= c; a++)
            h_set(F, a, c, sum8_finish(s[a], F->JT[a], b, full, len));
        if (c >= 4)
            h_set(F, 4, c, sum_f(b, n));
        if (c >= 5)
            h_set(F, 5, c, sum_f(b + n, n));
    }
}

/* The modes block of J^T J plus diag(1/lambda). It equals s^2 V^T (R2^T R2) V, so with the Gram
 * matrices it costs 6 m^2 instead of 2n m^2. Vectorised along a row of the upper triangle. */
static void hessian_modes(fit *F, const float R[9], float s)
{
    int m = F->m;
    if (!F->gram) {
        for (int j = 0; j < m; j++)
            for (int k = j; k < m; k++)
                h_set(F, 6 + j, 6 + k, dot_f(F->JT[6 + j], F->JT[6 + k], 2 * F->n));
    } else {
        double coef[6];
        for (int t = 0; t < 6; t++) {
            int a = fa_pdm_gram_pair[t][0], b = fa_pdm_gram_pair[t][1];
            coef[t] = ((double)R[a] * R[b] + (double)R[3 + a] * R[3 + b]) * ((double)s * s);
        }
        size_t mm = (size_t)m * m;
        for (int j = 0; j < m; j++) {
            float *h = F->H + (6 + j) * MAXC + 6;
            const double *G = F->gram + j * m;
            int k = j;
            for (; k + 4 <= m; k += 4) {
                v2d v[2];
#pragma GCC unroll 2
                for (int q = 0; q < 2; q++) {
                    v2d g[6];
#pragma GCC unroll 6
                    for (int t = 0; t < 6; t++)
                        VLOAD(g[t], G + t * mm + k + 2 * q);
                    v[q] = coef[0] * g[0] + coef[1] * g[1] + coef[2] * g[2] + coef[3] * g[3] +
                           coef[4] * g[4] + coef[5] * g[5];
                }
                v4f vf = narrow(v);
                VSTORE(h + k, vf);
            }
            for (; k < m; k++) {
                const double *Gk = G + k;
                h[k] = (float)(coef[0] * Gk[0] + coef[1] * Gk[mm] + coef[2] * Gk[2 * mm] +
                               coef[3] * Gk[3 * mm] + coef[4] * Gk[4 * mm] + coef[5] * Gk[5 * mm]);
            }
        }
    }
    for (int j = 0; j < m; j++)
        F->H[(6 + j) * (MAXC + 1)] = F->reg[j] + F->H[(6 + j) * (MAXC + 1)];
}

/* Running sums s[i] = L(i, j) - sum_k L(i, k) L(j, k) of CholImpl for rows i in [lo, hi), lo and
 * hi multiples of 4: float products, double sums, k in order. Eight rows per pass (nb = 2 blocks
 * of 4) keep four independent sums in flight. L is column-major: L[k * MAXC + i] = L(i, k). */
static inline void chol_block(const float *L, int j, int i, int nb, double *s)
{
    v2d acc[4];
#pragma GCC unroll 2
    for (int h = 0; h < nb; h++) {
        v4f a;
        VLOAD(a, L + j * MAXC + i + 4 * h);
        widen(a, acc + 2 * h);
    }
    for (int k = 0; k < j; k++) {
        float ljk = L[k * MAXC + j];
#pragma GCC unroll 2
        for (int h = 0; h < nb; h++) {
            v4f l;
            v2d d[2];
            VLOAD(l, L + k * MAXC + i + 4 * h);
            widen(l * ljk, d);
            acc[2 * h] -= d[0];
            acc[2 * h + 1] -= d[1];
        }
    }
    memcpy(s + i, acc, sizeof(double) * 4 * (size_t)nb);
}

static void chol_sums(const float *L, int j, int lo, int hi, double *s)
{
    int i = lo;
    for (; i + 8 <= hi; i += 8)
        chol_block(L, j, i, 2, s);
    if (i < hi)
        chol_block(L, j, i, 1, s);
}

/* The AVX2 twins where this build has them; without, F->avx2 is always 0 and these names keep
 * the dispatch free of #ifdefs. */
#ifdef PDM_AVX2
#define chol_sums_avx2 fa_pdm_chol_sums_avx2
#define fit_shape_avx2 fa_pdm_fit_shape_avx2
#define jacobian_avx2 fa_pdm_jacobian_avx2
#define gradient_avx2 fa_pdm_gradient_avx2
#define hessian_rigid_avx2 fa_pdm_hessian_rigid_avx2
#else
#define chol_sums_avx2 chol_sums
#define fit_shape_avx2 fit_shape
#define jacobian_avx2 jacobian
#define gradient_avx2 gradient
#define hessian_rigid_avx2 hessian_rigid
#endif


/* cv::solve(H, b, DECOMP_CHOLESKY) for float: OpenCV's CholImpl (products of floats in float,
 * sums in double, the diagonal kept as 1/sqrt; a non-positive pivot gives a zero solution).
 * Evaluated column by column instead of row by row: every entry still receives the same
 * subtractions in the same order, but the sums of different rows no longer wait on each other. */
static void cholesky_solve(fit *F)
{
    int nc = F->nc, hi = (nc + 3) & ~3;
    float *L = F->H; /* symmetric, so H is also column-major: L[j * MAXC + i] = L(i, j) */
    float *x = F->dp;
    /* Sums run over blocks of 4 rows from a multiple of 4, so some are computed for rows above
     * the diagonal or in the zero padding past nc; they are never used. */
    double s[MAXC], dd[MAXC];
    for (int i = 0; i < nc; i++)
        dd[i] = L[i * MAXC + i];
    for (int j = 0; j < nc; j++) {
        if (dd[j] < FLT_EPSILON) {
            memset(x, 0, sizeof(float) * (size_t)nc);
            return;
        }
        float dinv = (float)(1. / sqrt(dd[j]));
        if (F->avx2)
            chol_sums_avx2(L, j, (j + 1) & ~3, hi, s);
        else
            chol_sums(L, j, (j + 1) & ~3, hi, s);
        L[j * MAXC + j] = dinv;
        for (int i = j + 1; i < nc; i++) {
            float lij = (float)(s[i] * dinv);
            L[j * MAXC + i] = lij;
            dd[i] -= (double)lij * lij;
        }
    }
    /* L y = b, then L^T x = y; each unknown's sum again in OpenCV's order. */
    for (int i = 0; i < MAXC; i++)
        s[i] = i < nc ? F->b[i] : 0;
    for (int k = 0; k < nc; k++) {
        const float *lk = L + k * MAXC;
        x[k] = (float)(s[k] * lk[k]);
        for (int i = (k + 1) & ~3; i < hi; i += 4) {
            v4f l;
            v2d d[2], si[2];
            VLOAD(l, lk + i);
            VLOAD(si, s + i);
            widen(l * x[k], d);
            si[0] -= d[0];
            si[1] -= d[1];
            VSTORE(s + i, si);
        }
    }
    for (int i = 0; i < nc; i++)
        s[i] = x[i];
    for (int k = nc - 1; k >= 0; k--) {
        x[k] = (float)(s[k] * L[k * MAXC + k]);
        for (int i = 0; i < k; i++)
            s[i] -= L[i * MAXC + k] * x[k];
    }
}

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

/* One Gauss-Newton step; returns the error of the updated rigid parameters with the shape of
 * the previous local parameters (OpenFace measures it before refreshing the 3D shape). */
static float fit_step(fit *F, float g[6], float *p, float R[9])
{
    int n = F->n;
    float proj[2 * MAXP];
    double r[2 * MAXP]; /* float residuals, held as double for gradient's double products */
    if (F->avx2)
        fit_shape_avx2(F, p);
    else
        fit_shape(F, p);
    project(F, R, g, proj);
    for (int k = 0; k < 2 * n; k++)
        r[k] = (float)(F->lm[k] - proj[k]);
    if (F->avx2) {
        jacobian_avx2(F, R, g[0]);
        gradient_avx2(F, r, p);
        hessian_rigid_avx2(F);
    } else {
        jacobian(F, R, g[0]);
        gradient(F, r, p);
        hessian_rigid(F);
    }
    hessian_modes(F, R, g[0]);
    cholesky_solve(F);
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

