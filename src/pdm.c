/* pdm.c - OpenFace's 3D point distribution model (PDM) and its landmark fit PDM::CalcParams.
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
#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* The hot loops also have AVX2 copies, picked at run time (-DFA_NO_AVX2 leaves them out). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && defined(__GNUC__) && \
    !defined(FA_NO_AVX2)
#include <immintrin.h>
#define PDM_AVX2 1
#endif

#include "internal.h"

#define MAXP FA_PDM_MAX_POINTS
#define MAXM FA_PDM_MAX_MODES
#define MAXC (6 + MAXM) /* unknowns: 6 rigid + m modes */
_Static_assert(MAXC % 4 == 0, "cholesky_solve works on blocks of 4 rows");

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
static const int gram_pair[6][2] = {{0, 0}, {1, 1}, {2, 2}, {0, 1}, {0, 2}, {1, 2}};

/* G_ab(j,k) = sum_i V_a(i,j) V_b(i,k) (+ the transposed pair when a != b) over all points. */
static void gram_build(const float *V, int n, int m, double *gram)
{
    for (int t = 0; t < 6; t++) {
        int a = gram_pair[t][0], b = gram_pair[t][1];
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

/* One row of OpenFace's CalcShape3D (sgemm, float accumulation in OpenBLAS): here the dot product
 * is exact to double and rounded once before adding the mean, as OpenBLAS's C += acc does. */
static float shape3d_row(float mean, const float *v, int m, const float *p)
{
    double s = 0;
    for (int j = 0; j < m; j++)
        s += (double)v[j] * p[j];
    return mean + (float)s;
}

void fa_pdm_shape3d(const fa_pdm *pdm, const float *p_local, float *shape3d)
{
    for (int r = 0; r < 3 * pdm->n; r++)
        shape3d[r] = shape3d_row(pdm->mean[r], pdm->pc + (size_t)r * pdm->m, pdm->m, p_local);
}

/* ---- rotations -------------------------------------------------------------------------- */

/* Utilities::Euler2RotationMatrix. Its unqualified sin/cos on a float resolve to the double C
 * functions in OpenFace's build, hence the casts. */
void fa_euler_to_rotation(const float euler[3], float R[9])
{
    float s1 = (float)sin(euler[0]), s2 = (float)sin(euler[1]), s3 = (float)sin(euler[2]);
    float c1 = (float)cos(euler[0]), c2 = (float)cos(euler[1]), c3 = (float)cos(euler[2]);
    R[0] = c2 * c3;
    R[1] = -c2 * s3;
    R[2] = s2;
    R[3] = c1 * s3 + c3 * s1 * s2;
    R[4] = c1 * c3 - s1 * s2 * s3;
    R[5] = -c2 * s1;
    R[6] = s1 * s3 - c1 * c3 * s2;
    R[7] = c3 * s1 + c1 * s2 * s3;
    R[8] = c1 * c2;
}

/* Utilities::RotationMatrix2Euler (through a quaternion). */
void fa_rotation_to_euler(const float R[9], float euler[3])
{
    float q0 = (float)(sqrt(1.0f + R[0] + R[4] + R[8]) / 2.0);
    float q1 = (R[7] - R[5]) / (4.0f * q0);
    float q2 = (R[2] - R[6]) / (4.0f * q0);
    float q3 = (R[3] - R[1]) / (4.0f * q0);
    float t1 = 2.0f * (q0 * q2 + q1 * q3);
    if (t1 > 1)
        t1 = 1.0f;
    if (t1 < -1)
        t1 = -1.0f;
    euler[1] = (float)asin(t1);
    euler[0] = (float)atan2(2.0f * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3);
    euler[2] = (float)atan2(2.0f * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3);
}

/* Rounds to float when emulating a float computation; exact for one +,-,*,/ or sqrt of floats. */
static double rnd(double x, int as_float)
{
    return as_float ? (double)(float)x : x;
}

/* OpenCV's hypot helper in lapack.cpp (scaled, not the libm one). */
static double cv_hypot(double a, double b)
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
    double beta = a - b, gamma = cv_hypot(p, beta), c, s;
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
static void svd3(double At[3][3], double Vt[3][3], int f)
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

/* 3x3 product as OpenCV computes it for float (gemm's len-3 special case, or Matx33f): float
 * products summed left to right in float. */
static void mul3f(const double A[3][3], const double B[3][3], double C[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float t = (float)A[i][0] * (float)B[0][j];
            t += (float)A[i][1] * (float)B[1][j];
            t += (float)A[i][2] * (float)B[2][j];
            C[i][j] = t;
        }
}

/* PDM::Orthonormalise: U * diag(1, 1, det(U V^T)) * V^T from a float cv::SVD. */
static void orthonormalise(double R[3][3])
{
    double At[3][3], Vt[3][3], U[3][3], X[3][3], UW[3][3];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            At[i][k] = R[k][i];
    svd3(At, Vt, 1);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            U[i][k] = At[k][i];
    mul3f(U, Vt, X);
    double det = X[0][0] * (X[1][1] * X[2][2] - X[1][2] * X[2][1]) -
                 X[0][1] * (X[1][0] * X[2][2] - X[1][2] * X[2][0]) +
                 X[0][2] * (X[1][0] * X[2][1] - X[1][1] * X[2][0]);
    double W[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, (float)det}};
    mul3f(U, W, UW);
    mul3f(UW, Vt, R);
}

/* cv::Rodrigues, matrix to axis-angle: double-precision re-orthonormalisation by SVD first. */
static void rodrigues_to_vec(const double Rf[3][3], float out[3])
{
    double At[3][3], Vt[3][3], R[3][3];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            At[i][k] = Rf[k][i];
    svd3(At, Vt, 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++)
                s += At[k][i] * Vt[k][j];
            R[i][j] = s;
        }
    double r[3] = {R[2][1] - R[1][2], R[0][2] - R[2][0], R[1][0] - R[0][1]};
    double s = sqrt((r[0] * r[0] + r[1] * r[1] + r[2] * r[2]) * 0.25);
    double c = (R[0][0] + R[1][1] + R[2][2] - 1) * 0.5;
    c = c > 1. ? 1. : c < -1. ? -1. : c;
    double theta = acos(c);
    if (s < 1e-5) {
        if (c > 0) {
            r[0] = r[1] = r[2] = 0;
        } else { /* a half turn: the axis from the diagonal */
            double t = (R[0][0] + 1) * 0.5;
            r[0] = sqrt(fmax(t, 0.));
            t = (R[1][1] + 1) * 0.5;
            r[1] = sqrt(fmax(t, 0.)) * (R[0][1] < 0 ? -1. : 1.);
            t = (R[2][2] + 1) * 0.5;
            r[2] = sqrt(fmax(t, 0.)) * (R[0][2] < 0 ? -1. : 1.);
            if (fabs(r[0]) < fabs(r[1]) && fabs(r[0]) < fabs(r[2]) && (R[1][2] > 0) != (r[1] * r[2] > 0))
                r[2] = -r[2];
            theta /= sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
            for (int k = 0; k < 3; k++)
                r[k] *= theta;
        }
    } else {
        double vth = 1 / (2 * s);
        vth *= theta;
        for (int k = 0; k < 3; k++)
            r[k] *= vth;
    }
    for (int k = 0; k < 3; k++)
        out[k] = (float)r[k];
}

/* cv::Rodrigues, axis-angle to matrix, in double, rounded to float. */
static void rodrigues_to_mat(const float v[3], float R[9])
{
    double r[3] = {v[0], v[1], v[2]};
    double theta = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    if (theta < DBL_EPSILON) {
        for (int k = 0; k < 9; k++)
            R[k] = k % 4 == 0;
        return;
    }
    double c = cos(theta), s = sin(theta), c1 = 1. - c, itheta = theta ? 1. / theta : 0.;
    for (int k = 0; k < 3; k++)
        r[k] *= itheta;
    double rrt[9] = {r[0] * r[0], r[0] * r[1], r[0] * r[2], r[0] * r[1], r[1] * r[1],
                     r[1] * r[2], r[0] * r[2], r[1] * r[2], r[2] * r[2]};
    double rx[9] = {0, -r[2], r[1], r[2], 0, -r[0], -r[1], r[0], 0};
    for (int k = 0; k < 9; k++)
        R[k] = (float)(c * (k % 4 == 0) + c1 * rrt[k] + s * rx[k]);
}

/* PDM::UpdateModelParameters for the rigid part: g += dp, rotation composed with orth(I + [w]x)
 * and taken back to Euler angles through Rodrigues twice (NaN -> 0). */
static void update_global(float g[6], const float *dp)
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
    mul3f(R1, R2, R3);
    float axis[3], Rb[9], e[3];
    rodrigues_to_vec(R3, axis);
    rodrigues_to_mat(axis, Rb);
    fa_rotation_to_euler(Rb, e);
    if (isnan(e[0]) || isnan(e[1]) || isnan(e[2]))
        e[0] = e[1] = e[2] = 0;
    g[1] = e[0];
    g[2] = e[1];
    g[3] = e[2];
}

void fa_pdm_update_global(float g[6], const float *dp)
{
    update_global(g, dp);
}

/* ---- the fit ---------------------------------------------------------------------------- */

/* The hot loops work on several independent outputs at once through GCC/Clang vector types of
 * SSE2's width. Each lane performs exactly the scalar operations of its own output in the scalar
 * order (no sum is split or reassociated, contraction is off), so the results are bit-identical
 * to plain loops. Data need not be vector-aligned, so loads and stores go through memcpy.
 * "#pragma GCC unroll" on the short loops over lanes lets -O2 keep the sums in registers. */
typedef float v4f __attribute__((vector_size(16)));
typedef double v2d __attribute__((vector_size(16)));
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(v))

/* Four floats to two pairs of doubles (exact), and back (each rounded). GCC 12 converts vectors
 * element by element with __builtin_convertvector, hence SSE2's instructions where available. */
static inline void widen(v4f f, v2d d[2])
{
#ifdef __SSE2__
    d[0] = (v2d)_mm_cvtps_pd((__m128)f);
    d[1] = (v2d)_mm_cvtps_pd(_mm_movehl_ps((__m128)f, (__m128)f));
#else
    d[0] = (v2d){f[0], f[1]};
    d[1] = (v2d){f[2], f[3]};
#endif
}

static inline v4f narrow(const v2d d[2])
{
#ifdef __SSE2__
    return (v4f)_mm_movelh_ps(_mm_cvtpd_ps((__m128d)d[0]), _mm_cvtpd_ps((__m128d)d[1]));
#else
    return (v4f){(float)d[0][0], (float)d[0][1], (float)d[1][0], (float)d[1][1]};
#endif
}

/* Workspace of one fit, on the caller's stack (about 60 KB). */
typedef struct fit {
    int n, m, nc;                 /* visible points, modes, unknowns (6 + m) */
    float M[3 * MAXP];            /* visible mean shape: x.., y.., z.. */
    const float *Vt;              /* visible components transposed: Vt[j * 3n + d * n + i] */
    const double *gram;           /* Gram matrices of the components (all points visible), or NULL */
    float lm[2 * MAXP];           /* visible landmarks, x then y */
    float reg[MAXM];              /* 1 / eigenvalue */
    float S[3 * MAXP];            /* 3D shape for the current p */
    float JT[MAXC][2 * MAXP];     /* the Jacobian transposed: one row per unknown */
    float H[MAXC * MAXC];         /* Hessian (upper triangle), then its Cholesky factor */
    float b[MAXC], dp[MAXC];
    float Vsub[MAXM * 3 * MAXP];  /* storage for Vt when it cannot point into the model */
    int avx2;                     /* run the AVX2 copies of the hot loops */
} fit;

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

/* fit_shape's rows from r on, one at a time. */
static void shape_rows(fit *F, const float *p, int r)
{
    int rows = 3 * F->n, m = F->m;
    for (; r < rows; r++) {
        double acc = 0;
        for (int j = 0; j < m; j++)
            acc += F->Vt[(size_t)j * rows + r] * (double)p[j];
        F->S[r] = F->M[r] + (float)acc;
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

/* Lanes [0, cnt) of a 4-vector from or to memory, for the last points of a loop; missing lanes
 * read as 0. With cnt == 4 these are plain vector moves. */
static inline v4f load4(const float *p, int cnt)
{
    float t[4] = {0, 0, 0, 0};
    for (int l = 0; l < cnt; l++)
        t[l] = p[l];
    v4f v;
    VLOAD(v, t);
    return v;
}

static inline void store4(float *p, v4f v, int cnt)
{
    if (cnt == 4) {
        VSTORE(p, v);
        return;
    }
    float t[4];
    VSTORE(t, v);
    for (int l = 0; l < cnt; l++)
        p[l] = t[l];
}

/* Columns 0..3 (scale, rotation from the small-angle model) of PDM::ComputeJacobian for the
 * cnt points from i, whose coordinates are X, Y, Z. */
static inline void jacobian_rigid4(fit *F, int i, int cnt, v4f X, v4f Y, v4f Z, const float R[9],
                                   float s)
{
    int n = F->n;
    v4f jx[4] = {X * R[0] + Y * R[1] + Z * R[2], s * (Y * R[2] - Z * R[1]),
                 -s * (X * R[2] - Z * R[0]), s * (X * R[1] - Y * R[0])};
    v4f jy[4] = {X * R[3] + Y * R[4] + Z * R[5], s * (Y * R[5] - Z * R[4]),
                 -s * (X * R[5] - Z * R[3]), s * (X * R[4] - Y * R[3])};
    for (int c = 0; c < 4; c++) {
        store4(F->JT[c] + i, jx[c], cnt);
        store4(F->JT[c] + n + i, jy[c], cnt);
    }
}

/* The column of mode j of PDM::ComputeJacobian for the cnt points from i, whose component
 * values are x, y, z. */
static inline void jacobian_mode4(fit *F, int j, int i, int cnt, v4f x, v4f y, v4f z,
                                  const float R[9], float s)
{
    store4(F->JT[6 + j] + i, s * (R[0] * x + R[1] * y + R[2] * z), cnt);
    store4(F->JT[6 + j] + F->n + i, s * (R[3] * x + R[4] * y + R[5] * z), cnt);
}

/* PDM::ComputeJacobian with unit weights, stored transposed: JT[c] holds column c over the n
 * x-rows then the n y-rows. Rows 4 and 5 (the translation) are constant and set by fit_select.
 * Only points from i0 on (a multiple of 4) are written, so the AVX2 copy can finish with this. */
static inline void jacobian_from(fit *F, const float R[9], float s, int i0)
{
    int n = F->n, rows = 3 * n, full = n & ~3, cnt = n - full;
    const float *X = F->S, *Y = X + n, *Z = Y + n;
    for (int i = i0; i < full; i += 4) {
        v4f x, y, z;
        VLOAD(x, X + i);
        VLOAD(y, Y + i);
        VLOAD(z, Z + i);
        jacobian_rigid4(F, i, 4, x, y, z, R, s);
    }
    if (cnt)
        jacobian_rigid4(F, full, cnt, load4(X + full, cnt), load4(Y + full, cnt),
                        load4(Z + full, cnt), R, s);
    for (int j = 0; j < F->m; j++) {
        const float *vx = F->Vt + (size_t)j * rows, *vy = vx + n, *vz = vy + n;
        for (int i = i0; i < full; i += 4) {
            v4f x, y, z;
            VLOAD(x, vx + i);
            VLOAD(y, vy + i);
            VLOAD(z, vz + i);
            jacobian_mode4(F, j, i, 4, x, y, z, R, s);
        }
        if (cnt)
            jacobian_mode4(F, j, full, cnt, load4(vx + full, cnt), load4(vy + full, cnt),
                           load4(vz + full, cnt), R, s);
    }
}

static void jacobian(fit *F, const float R[9], float s)
{
    jacobian_from(F, R, s, 0);
}

/* The local part of the gradient minus diag(1/lambda) p. */
static void gradient_reg(fit *F, const float *p)
{
    for (int j = 0; j < F->m; j++)
        F->b[6 + j] = F->b[6 + j] - F->reg[j] * p[j];
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

/* For J^T J, where OpenFace's OpenBLAS sgemm sums floats in a CPU-dependent order: 8 float
 * partial sums (lane l takes the elements l mod 8, the rest go to the first), combined pairwise.
 * This finishes such a sum whose 8 lanes are in memory order (two 4-vectors or one 8-vector);
 * b == NULL means plain sums of a. */
static inline float sum8_finish(const void *lanes, const float *a, const float *b, int full,
                                int len)
{
    float t[8];
    memcpy(t, lanes, sizeof t);
    for (int k = full; k < len; k++)
        t[0] += b ? a[k] * b[k] : a[k];
    return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
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

/* H is symmetric and only its upper triangle (a <= c) is used. */
static void h_set(fit *F, int a, int c, float v)
{
    F->H[a * MAXC + c] = v;
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
            int a = gram_pair[t][0], b = gram_pair[t][1];
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

/* ---- AVX2 copies of the hot loops -------------------------------------------------------- */

/* Same arithmetic as the SSE2-width loops above, with twice the lanes: each lane still does the
 * scalar operations of its own output in the scalar order, and where a sum is split into
 * interleaved lanes (gradient: 4 double lanes, hessian_rigid: 8 float lanes) one 256-bit vector
 * holds exactly those lanes, combined as before. No FMA is enabled. */
#ifdef PDM_AVX2
typedef float v8f __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));
#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))

/* Four floats widened (exactly) to four doubles, and four doubles rounded to floats. */
AVX2_INLINE v4d widen4(v4f f)
{
    return (v4d)_mm256_cvtps_pd((__m128)f);
}

AVX2_INLINE v4d load_widen4(const float *p)
{
    return widen4((v4f)_mm_loadu_ps(p));
}

AVX2_INLINE v4f narrow4(v4d d)
{
    return (v4f)_mm256_cvtpd_ps((__m256d)d);
}

/* chol_block for nu (constant after inlining) units of 4 rows from row i. */
AVX2_INLINE void chol_block_avx2(const float *L, int j, int i, int nu, double *s)
{
    v4d acc[4];
#pragma GCC unroll 4
    for (int h = 0; h < nu; h++)
        acc[h] = load_widen4(L + j * MAXC + i + 4 * h);
    for (int k = 0; k < j; k++) {
        float ljk = L[k * MAXC + j];
#pragma GCC unroll 4
        for (int h = 0; h < nu; h++) {
            v4f l;
            VLOAD(l, L + k * MAXC + i + 4 * h);
            acc[h] -= widen4(l * ljk);
        }
    }
    memcpy(s + i, acc, sizeof(double) * 4 * (size_t)nu);
}

AVX2_FN static void chol_sums_avx2(const float *L, int j, int lo, int hi, double *s)
{
    int i = lo;
    for (; i + 16 <= hi; i += 16)
        chol_block_avx2(L, j, i, 4, s);
    switch ((hi - i) / 4) {
    case 3:
        chol_block_avx2(L, j, i, 3, s);
        break;
    case 2:
        chol_block_avx2(L, j, i, 2, s);
        break;
    case 1:
        chol_block_avx2(L, j, i, 1, s);
        break;
    default:
        break;
    }
}

/* fit_shape's double sums for nu (constant after inlining) units of 4 rows from row r. */
AVX2_INLINE void shape_block_avx2(fit *F, const float *p, int r, int nu)
{
    int rows = 3 * F->n;
    v4d acc[4] = {{0}};
    for (int j = 0; j < F->m; j++) {
        const float *v = F->Vt + (size_t)j * rows + r;
        double pj = p[j];
#pragma GCC unroll 4
        for (int h = 0; h < nu; h++)
            acc[h] += load_widen4(v + 4 * h) * pj;
    }
#pragma GCC unroll 4
    for (int h = 0; h < nu; h++) {
        v4f sh;
        VLOAD(sh, F->M + r + 4 * h);
        sh += narrow4(acc[h]);
        VSTORE(F->S + r + 4 * h, sh);
    }
}

AVX2_FN static void fit_shape_avx2(fit *F, const float *p)
{
    int rows = 3 * F->n, r = 0;
    for (; r + 16 <= rows; r += 16)
        shape_block_avx2(F, p, r, 4);
    switch ((rows - r) / 4) {
    case 3:
        shape_block_avx2(F, p, r, 3);
        break;
    case 2:
        shape_block_avx2(F, p, r, 2);
        break;
    case 1:
        shape_block_avx2(F, p, r, 1);
        break;
    default:
        break;
    }
    shape_rows(F, p, rows & ~3);
}

/* jacobian_rigid4 / jacobian_mode4 (same formulas) for 8 points from i. */
AVX2_INLINE void jacobian_rigid8(fit *F, int i, const float R[9], float s)
{
    int n = F->n;
    v8f X, Y, Z;
    VLOAD(X, F->S + i);
    VLOAD(Y, F->S + n + i);
    VLOAD(Z, F->S + 2 * n + i);
    v8f jx[4] = {X * R[0] + Y * R[1] + Z * R[2], s * (Y * R[2] - Z * R[1]),
                 -s * (X * R[2] - Z * R[0]), s * (X * R[1] - Y * R[0])};
    v8f jy[4] = {X * R[3] + Y * R[4] + Z * R[5], s * (Y * R[5] - Z * R[4]),
                 -s * (X * R[5] - Z * R[3]), s * (X * R[4] - Y * R[3])};
    for (int c = 0; c < 4; c++) {
        VSTORE(F->JT[c] + i, jx[c]);
        VSTORE(F->JT[c] + n + i, jy[c]);
    }
}

AVX2_INLINE void jacobian_mode8(fit *F, int j, int i, const float R[9], float s)
{
    int n = F->n;
    const float *vx = F->Vt + (size_t)j * 3 * n + i;
    v8f x, y, z;
    VLOAD(x, vx);
    VLOAD(y, vx + n);
    VLOAD(z, vx + 2 * n);
    v8f u = s * (R[0] * x + R[1] * y + R[2] * z), v = s * (R[3] * x + R[4] * y + R[5] * z);
    VSTORE(F->JT[6 + j] + i, u);
    VSTORE(F->JT[6 + j] + n + i, v);
}

/* Points in blocks of 8, then the rest through the 4-wide code. */
AVX2_FN static void jacobian_avx2(fit *F, const float R[9], float s)
{
    int full = F->n & ~7;
    for (int i = 0; i < full; i += 8)
        jacobian_rigid8(F, i, R, s);
    for (int j = 0; j < F->m; j++)
        for (int i = 0; i < full; i += 8)
            jacobian_mode8(F, j, i, R, s);
    jacobian_from(F, R, s, full);
}

/* gradient with the 4 interleaved lanes of each row in one vector. */
AVX2_FN static void gradient_avx2(fit *F, const double *rd, const float *p)
{
    int len = 2 * F->n, full = len & ~3, nc = F->nc;
    for (int c = 0; c < nc; c += 4) {
        const float *a[4];
        v4d s[4] = {{0}};
        for (int q = 0; q < 4; q++)
            a[q] = F->JT[c + q < nc ? c + q : c];
        for (int k = 0; k < full; k += 4) {
            v4d rk;
            VLOAD(rk, rd + k);
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++)
                s[q] += load_widen4(a[q] + k) * rk;
        }
        for (int q = 0; q < 4 && c + q < nc; q++) {
            double s0 = s[q][0];
            for (int k = full; k < len; k++)
                s0 += (double)a[q][k] * rd[k];
            F->b[c + q] = (float)(s0 + s[q][1] + s[q][2] + s[q][3]);
        }
    }
    gradient_reg(F, p);
}

/* sum_f of a and of b together (two independent chains). */
AVX2_INLINE void sum2_avx2(const float *a, const float *b, int len, float *sa, float *sb)
{
    int full = len & ~7;
    v8f s[2] = {{0}};
    for (int k = 0; k < full; k += 8) {
        v8f x, y;
        VLOAD(x, a + k);
        VLOAD(y, b + k);
        s[0] += x;
        s[1] += y;
    }
    *sa = sum8_finish(&s[0], a, NULL, full, len);
    *sb = sum8_finish(&s[1], b, NULL, full, len);
}

/* Rows 0..3 of hessian_rigid for columns c and c + 1 (the last column repeats when c + 1 is
 * nc), with the 8 float lanes of each sum in one vector. Two columns per pass keep eight
 * independent sums in flight and share the loads of the four rows. */
AVX2_INLINE void hessian_rigid_pair(fit *F, int c)
{
    int len = 2 * F->n, full = len & ~7, c1 = c + 1 < F->nc ? c + 1 : c;
    const float *b[2] = {F->JT[c], F->JT[c1]};
    v8f s[2][4] = {{{0}}};
    for (int k = 0; k < full; k += 8) {
        v8f y[2];
        VLOAD(y[0], b[0] + k);
        VLOAD(y[1], b[1] + k);
#pragma GCC unroll 4
        for (int a = 0; a < 4; a++) {
            v8f x;
            VLOAD(x, F->JT[a] + k);
            s[0][a] += x * y[0];
            s[1][a] += x * y[1];
        }
    }
    for (int q = 0; q < 2 && c + q < F->nc; q++)
        for (int a = 0; a < 4 && a <= c + q; a++)
            h_set(F, a, c + q, sum8_finish(&s[q][a], F->JT[a], b[q], full, len));
}

/* hessian_rigid: rows 0..3 by pairs of columns, rows 4 and 5 as plain sums. */
AVX2_FN static void hessian_rigid_avx2(fit *F)
{
    int n = F->n;
    for (int c = 0; c < F->nc; c += 2)
        hessian_rigid_pair(F, c);
    for (int c = 4; c < F->nc; c++) {
        float sx, sy;
        sum2_avx2(F->JT[c], F->JT[c] + n, n, &sx, &sy);
        h_set(F, 4, c, sx);
        if (c >= 5)
            h_set(F, 5, c, sy);
    }
}
#else
/* Without AVX2 support F->avx2 is always 0; these names keep the dispatch free of #ifdefs. */
#define chol_sums_avx2 chol_sums
#define fit_shape_avx2 fit_shape
#define jacobian_avx2 jacobian
#define gradient_avx2 gradient
#define hessian_rigid_avx2 hessian_rigid
#endif

/* Whether to run the AVX2 copies (decided once per fit). */
static int use_avx2(void)
{
#ifdef PDM_AVX2
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

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
    update_global(g, F->dp);
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
    F.avx2 = use_avx2();
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
