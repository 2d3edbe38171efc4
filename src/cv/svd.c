/* svd.c - OpenCV 4.6's one-sided Jacobi SVD (lapack.cpp JacobiSVDImpl_) on small square
 * matrices, the scaled hypot it uses, and cv::solve(DECOMP_SVD)'s back-substitution. The only
 * SVD in faceau: AlignShapesWithScale's 2x2 (float), PDM::Orthonormalise's 3x3 (float),
 * cv::Rodrigues' 3x3 (double) and solvePnP's 6x6 Levenberg-Marquardt step (double) all run here. */
#include <float.h>
#include <math.h>

#include "cv/cv.h"

/* Rounds to float when emulating a float computation; exact for one +,-,*,/ or sqrt of floats. */
static double rnd(double x, int as_float)
{
    return as_float ? (double)(float)x : x;
}

double fa_cv_hypot(double a, double b)
{
    a = fabs(a);
    b = fabs(b);
    if (a > b) {
        b /= a;
        return a * sqrt(1 + b * b);
    }
    if (b > 0) {
        a /= b;
        return b * sqrt(1 + a * a);
    }
    return 0;
}

static double row_sq(const double *r, int n)
{
    double s = 0;
    for (int k = 0; k < n; k++)
        s += r[k] * r[k];
    return s;
}

/* Rotates rows i, j of M (n x n, row-major) by (c, s), each product and sum rounded as in type f. */
static void givens(double *M, int i, int j, int n, double c, double s, int f)
{
    double *Mi = M + i * n, *Mj = M + j * n;
    for (int k = 0; k < n; k++) {
        double t0 = rnd(rnd(c * Mi[k], f) + rnd(s * Mj[k], f), f);
        double t1 = rnd(rnd(-s * Mi[k], f) + rnd(c * Mj[k], f), f);
        Mi[k] = t0;
        Mj[k] = t1;
    }
}

/* One Jacobi rotation of rows i, j of At and Vt; returns 0 if they were already orthogonal. */
static int rotate(double *At, double *Vt, double *W, int i, int j, int n, int f, double eps)
{
    double a = W[i], b = W[j], p = 0;
    for (int k = 0; k < n; k++)
        p += At[i * n + k] * At[j * n + k];
    if (fabs(p) <= eps * sqrt(a * b))
        return 0;
    p *= 2;
    double beta = a - b, gamma = fa_cv_hypot(p, beta), c, s;
    if (beta < 0) {
        s = rnd(sqrt((gamma - beta) * 0.5 / gamma), f);
        c = rnd(p / (gamma * s * 2), f);
    } else {
        c = rnd(sqrt((gamma + beta) / (gamma * 2)), f);
        s = rnd(p / (gamma * c * 2), f);
    }
    givens(At, i, j, n, c, s, f);
    W[i] = row_sq(At + i * n, n);
    W[j] = row_sq(At + j * n, n);
    givens(Vt, i, j, n, c, s, f);
    return 1;
}

static void swap_rows(double *A, int i, int j, int n)
{
    for (int k = 0; k < n; k++) {
        double t = A[i * n + k];
        A[i * n + k] = A[j * n + k];
        A[j * n + k] = t;
    }
}

void fa_svd2x2(const float h[4], float u[4], float vt[4])
{
    double at[3][3] = {{h[0], h[2]}, {h[1], h[3]}}, v[3][3] = {{0}}; /* rows = columns of h */
    fa_cv_svd(at, v, 2, 1);
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
            u[2 * r + c] = (float)at[c][r];
            vt[2 * r + c] = (float)v[r][c];
        }
}

void fa_cv_svd_n(double *At, double *Vt, double *W, int n, int f)
{
    double eps = f ? (double)(float)(FLT_EPSILON * 2) : DBL_EPSILON * 10;
    double minval = f ? FLT_MIN : DBL_MIN;
    for (int i = 0; i < n; i++) {
        W[i] = row_sq(At + i * n, n);
        for (int k = 0; k < n; k++)
            Vt[i * n + k] = i == k;
    }
    for (int iter = 0; iter < 30; iter++) { /* max(30, n) iterations */
        int changed = 0;
        for (int i = 0; i < n - 1; i++)
            for (int j = i + 1; j < n; j++)
                changed |= rotate(At, Vt, W, i, j, n, f, eps);
        if (!changed)
            break;
    }
    for (int i = 0; i < n; i++)
        W[i] = sqrt(row_sq(At + i * n, n));
    for (int i = 0; i < n - 1; i++) {
        int j = i;
        for (int k = i + 1; k < n; k++)
            if (W[j] < W[k])
                j = k;
        if (i != j) {
            double t = W[i];
            W[i] = W[j];
            W[j] = t;
            swap_rows(At, i, j, n);
            swap_rows(Vt, i, j, n);
        }
    }
    for (int i = 0; i < n; i++) {
        double *Ai = At + i * n;
        if (n == 2 && W[i] <= minval) {
            /* OpenCV draws a random vector and orthogonalises it. In 2D the result is the
             * normal of the other vector up to sign, and the Kabsch correction cancels the
             * sign, so the normal is used directly (degenerate, collinear input only). */
            Ai[0] = i ? -At[1] : 1.;
            Ai[1] = i ? At[0] : 0.;
            W[i] = sqrt(row_sq(Ai, n));
        }
        double s = rnd(W[i] > minval ? 1 / W[i] : 0., f);
        for (int k = 0; k < n; k++)
            Ai[k] = rnd(Ai[k] * s, f);
    }
}

void fa_cv_svd(double At[3][3], double Vt[3][3], int n, int f)
{
    double a[9], v[9], w[3];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++)
            a[i * n + k] = At[i][k];
    fa_cv_svd_n(a, v, w, n, f);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            At[i][k] = a[i * n + k];
            Vt[i][k] = v[i * n + k];
        }
}

void fa_cv_solve_svd(const double *A, const double *b, int n, double *x)
{
    double At[FA_SVD_MAX * FA_SVD_MAX], Vt[FA_SVD_MAX * FA_SVD_MAX], W[FA_SVD_MAX];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++)
            At[i * n + k] = A[k * n + i];
    fa_cv_svd_n(At, Vt, W, n, 0);
    /* SVBkSb: threshold 2 DBL_EPSILON * sum(w), one right-hand side. (A zero singular value's
     * left vector, OpenCV's random completion, is never used: its term is skipped.) */
    double threshold = 0;
    for (int i = 0; i < n; i++) {
        x[i] = 0;
        threshold += W[i];
    }
    threshold *= DBL_EPSILON * 2;
    for (int i = 0; i < n; i++) {
        double wi = W[i];
        if (fabs(wi) <= threshold)
            continue;
        wi = 1 / wi;
        double s = 0;
        for (int j = 0; j < n; j++)
            s += At[i * n + j] * b[j];
        s *= wi;
        for (int j = 0; j < n; j++)
            x[j] = x[j] + s * Vt[i * n + j];
    }
}
