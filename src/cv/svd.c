/* svd.c - OpenCV 4.6's Jacobi SVD (lapack.cpp JacobiSVDImpl_) on small matrices and its scaled
 * hypot. */
#include <float.h>
#include <math.h>

#include "cv/cv.h"

/* Rounds to float when emulating a float computation; exact for one +,-,*,/ or sqrt of floats. */
static double rnd(double x, int as_float)
{
    return as_float ? (double)(float)x : x;
}

/* OpenCV's hypot helper in lapack.cpp (scaled, not the libm one). */
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

/* One Jacobi rotation of rows i, j of At and Vt; returns 0 if they were already orthogonal. */
static int svd3_rotate(double At[3][3], double Vt[3][3], double W[3], int i, int j, int f, double eps)
{
    double a = W[i], b = W[j], p = 0;
    for (int k = 0; k < 3; k++)
        p += At[i][k] * At[j][k];
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
    a = b = 0;
    for (int k = 0; k < 3; k++) {
        double t0 = rnd(rnd(c * At[i][k], f) + rnd(s * At[j][k], f), f);
        double t1 = rnd(rnd(-s * At[i][k], f) + rnd(c * At[j][k], f), f);
        At[i][k] = t0;
        At[j][k] = t1;
        a += t0 * t0;
        b += t1 * t1;
    }
    W[i] = a;
    W[j] = b;
    for (int k = 0; k < 3; k++) {
        double t0 = rnd(rnd(c * Vt[i][k], f) + rnd(s * Vt[j][k], f), f);
        double t1 = rnd(rnd(-s * Vt[i][k], f) + rnd(c * Vt[j][k], f), f);
        Vt[i][k] = t0;
        Vt[j][k] = t1;
    }
    return 1;
}

static void swap_rows(double A[3][3], int i, int j)
{
    for (int k = 0; k < 3; k++) {
        double t = A[i][k];
        A[i][k] = A[j][k];
        A[j][k] = t;
    }
}

/* OpenCV's JacobiSVDImpl_ on a 3x3 matrix, in float (f = 1, values held as doubles) or double.
 * In: At = A transposed. Out: At = U transposed, Vt = V transposed, singular values descending.
 * (The random completion for zero singular values never triggers for rotation-like input.) */
void fa_cv_svd3(double At[3][3], double Vt[3][3], int f)
{
    double eps = f ? (double)(float)(FLT_EPSILON * 2) : DBL_EPSILON * 10;
    double minval = f ? FLT_MIN : DBL_MIN, W[3];
    for (int i = 0; i < 3; i++) {
        W[i] = 0;
        for (int k = 0; k < 3; k++) {
            W[i] += At[i][k] * At[i][k];
            Vt[i][k] = i == k;
        }
    }
    for (int iter = 0; iter < 30; iter++) {
        int changed = 0;
        for (int i = 0; i < 2; i++)
            for (int j = i + 1; j < 3; j++)
                changed |= svd3_rotate(At, Vt, W, i, j, f, eps);
        if (!changed)
            break;
    }
    for (int i = 0; i < 3; i++) {
        double sd = 0;
        for (int k = 0; k < 3; k++)
            sd += At[i][k] * At[i][k];
        W[i] = sqrt(sd);
    }
    for (int i = 0; i < 2; i++) {
        int j = i;
        for (int k = i + 1; k < 3; k++)
            if (W[j] < W[k])
                j = k;
        if (i != j) {
            double t = W[i];
            W[i] = W[j];
            W[j] = t;
            swap_rows(At, i, j);
            swap_rows(Vt, i, j);
        }
    }
    for (int i = 0; i < 3; i++) {
        double s = rnd(W[i] > minval ? 1 / W[i] : 0., f);
        for (int k = 0; k < 3; k++)
            At[i][k] = rnd(At[i][k] * s, f);
    }
}

