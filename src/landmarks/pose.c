/* landmarks/pose.c - CLNF::GetShape, LandmarkDetector::GetPose (with OpenCV 4.6's iterative
 * solvePnP from an extrinsic guess) and Utilities::AxisAngle2Euler.
 *
 * OpenFace keeps its shapes, parameters and intrinsics in float; OpenCV's solvePnP converts them
 * to double, refines in double and writes float rvec/tvec back. Each step below says which
 * precision it reproduces.
 */
#include "landmarks/pose.h"

#include <float.h>
#include <math.h>
#include <string.h>

fa_camera fa_camera_default(int width, int height)
{
    float k[4];
    faceau_default_intrinsics(width, height, k);
    fa_camera c = {k[0], k[1], k[2], k[3]};
    return c;
}

/* ---- CLNF::GetShape ------------------------------------------------------------------------ */

void fa_clnf_shape3d_camera(const fa_pdm *pdm, const float g[6], const float *p_local,
                            const float *lmk2d, const fa_camera *cam, float *out)
{
    int n = pdm->n;
    float s3[3 * FA_PDM_MAX_POINTS], R[9];
    fa_pdm_shape3d(pdm, p_local, s3);
    fa_euler_to_rotation(g + 1, R);
    /* Zavg = fx / s, in float as OpenFace writes it */
    float zavg = cam->fx / g[0];
    for (int i = 0; i < n; i++) {
        /* Only the depth of shape3d.t() * R.t() is used: row 2 of R against the point. Both
         * operands are transposed, so cv::gemm skips its float 3x3 shortcut (flags == 0 only)
         * and GEMMSingleMul sums the float products in double, rounding once. */
        float rz = (float)((double)R[6] * s3[i] + (double)R[7] * s3[i + n] +
                           (double)R[8] * s3[i + 2 * n]);
        float z = zavg + rz;
        out[i] = z * ((lmk2d[i] - cam->cx) / cam->fx);
        out[i + n] = z * ((lmk2d[i + n] - cam->cy) / cam->fy);
        out[i + 2 * n] = z;
    }
}

void fa_eye_landmarks(const fa_part_view *parts, int nparts, const fa_camera *cam, float *eye2d,
                      float *eye3d)
{
    int total = 0;
    for (int k = 0; k < nparts; k++)
        total += parts[k].pdm->n;
    int at = 0;
    for (int k = 0; k < nparts; k++) {
        const fa_part_view *pv = &parts[k];
        int n = pv->pdm->n;
        if (eye2d)
            for (int i = 0; i < n; i++) {
                eye2d[at + i] = pv->lmk2d[i];
                eye2d[total + at + i] = pv->lmk2d[n + i];
            }
        if (eye3d) {
            float s[3 * FA_PDM_MAX_POINTS];
            fa_clnf_shape3d_camera(pv->pdm, pv->g, pv->p_local, pv->lmk2d, cam, s);
            for (int d = 0; d < 3; d++)
                for (int i = 0; i < n; i++)
                    eye3d[d * total + at + i] = s[d * n + i];
        }
        at += n;
    }
}

void fa_axis_angle_to_euler(const float rvec[3], float euler[3])
{
    /* cv::Rodrigues(Vec3f, Matx33f): computed in double, stored as float */
    float R[9];
    fa_cv_rodrigues_to_mat(rvec, R);
    fa_rotation_to_euler(R, euler);
}

/* ---- cvProjectPoints2 without distortion, with dp/dr and dp/dt ------------------------------ */

/* Projects n points M (x, y, z interleaved) with rvec/tvec p[0..5]: proj (2n, x y interleaved
 * per point, as OpenCV's 2-channel err) and, if J, the 2n x 6 Jacobian. With zero distortion
 * OpenCV's terms reduce exactly to these (its k-terms add +0 and its tilt matrix is I). */
static void project(const double *M, int n, const double p[6], const double K[4], double *proj,
                    double *J)
{
    double R[9], dRdr[27];
    fa_cv_rodrigues_jac(p, R, J ? dRdr : NULL);
    double fx = K[0], fy = K[1], cx = K[2], cy = K[3];
    for (int i = 0; i < n; i++) {
        double X = M[3 * i], Y = M[3 * i + 1], Z = M[3 * i + 2];
        double x = R[0] * X + R[1] * Y + R[2] * Z + p[3];
        double y = R[3] * X + R[4] * Y + R[5] * Z + p[4];
        double z = R[6] * X + R[7] * Y + R[8] * Z + p[5];
        z = z ? 1. / z : 1;
        x *= z;
        y *= z;
        proj[2 * i] = x * fx + cx;
        proj[2 * i + 1] = y * fy + cy;
        if (!J)
            continue;
        double *jx = J + (size_t)(2 * i) * 6, *jy = jx + 6;
        /* dp/dr: columns 0..2 */
        for (int j = 0; j < 3; j++) {
            const double *d = dRdr + 9 * j;
            double dx0 = X * d[0] + Y * d[1] + Z * d[2];
            double dy0 = X * d[3] + Y * d[4] + Z * d[5];
            double dz0 = X * d[6] + Y * d[7] + Z * d[8];
            jx[j] = fx * (z * (dx0 - x * dz0));
            jy[j] = fy * (z * (dy0 - y * dz0));
        }
        /* dp/dt: columns 3..5 */
        jx[3] = fx * z;
        jx[4] = fx * 0.;
        jx[5] = fx * (-x * z);
        jy[3] = fy * 0.;
        jy[4] = fy * z;
        jy[5] = fy * (-y * z);
    }
}

#define NP 6

/* ---- cvFindExtrinsicCameraParams2 from a guess: CvLevMarq ---------------------------------- */

/* cv::norm(NORM_L2) of a double vector (normL2Sqr's unrolled-by-4 sum). */
static double norm_l2(const double *v, int len)
{
    double s = 0;
    int i = 0;
    for (; i <= len - 4; i += 4)
        s += v[i] * v[i] + v[i + 1] * v[i + 1] + v[i + 2] * v[i + 2] + v[i + 3] * v[i + 3];
    for (; i < len; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

typedef struct lm {
    int nerr;
    double JtJ[NP * NP], JtErr[NP], param[NP], prev[NP];
    int lambda_lg10;
} lm;

/* CvLevMarq::step: param = prev - solve(JtJ with diagonal * (1 + lambda), JtErr). */
static void lm_step(lm *L)
{
    double lambda = exp(L->lambda_lg10 * log(10.));
    double A[NP * NP], d[NP];
    memcpy(A, L->JtJ, sizeof(A));
    for (int i = 0; i < NP; i++)
        A[i * NP + i] *= 1. + lambda;
    fa_cv_solve_svd(A, L->JtErr, NP, d); /* cv::solve(DECOMP_SVD) */
    for (int i = 0; i < NP; i++)
        L->param[i] = L->prev[i] - d[i];
}

void fa_solve_pnp(const float *obj, const float *img, int n, const fa_camera *cam, float rvec[3],
                  float tvec[3])
{
    enum { MAXN = FA_PDM_MAX_POINTS };
    double M[3 * MAXN], m[2 * MAXN], proj[2 * MAXN], err[2 * MAXN], J[2 * MAXN * NP];
    double K[4] = {cam->fx, cam->fy, cam->cx, cam->cy};
    if (n < 4 || n > MAXN)
        return;
    for (int i = 0; i < n; i++) {
        M[3 * i] = obj[i];
        M[3 * i + 1] = obj[i + n];
        M[3 * i + 2] = obj[i + 2 * n];
        m[2 * i] = img[i];
        m[2 * i + 1] = img[i + n];
    }
    int ne = 2 * n;
    lm L = {.nerr = ne, .lambda_lg10 = -3};
    for (int k = 0; k < 3; k++) {
        L.param[k] = rvec[k];
        L.param[k + 3] = tvec[k];
    }
    /* CvLevMarq(6, 2n, (EPS+ITER, 20, FLT_EPSILON), completeSymm = true), driven as
     * cvFindExtrinsicCameraParams2 drives it: STARTED -> CALC_J -> CHECK_ERR ... */
    const int max_iter = 20;
    const double epsilon = FLT_EPSILON;
    int iters = 0;
    double err_norm, prev_err_norm = DBL_MAX;
    int state_calc_j = 1; /* the next evaluation needs the Jacobian */
    for (;;) {
        /* evaluate err (and J) at L.param */
        project(M, n, L.param, K, proj, state_calc_j ? J : NULL);
        for (int k = 0; k < ne; k++)
            err[k] = proj[k] - m[k];
        if (state_calc_j) {
            /* CALC_J: JtJ = J^T J (MulTransposedR: one sequential double sum per element of
             * the upper triangle, mirrored) */
            for (int i = 0; i < NP; i++)
                for (int j = i; j < NP; j++) {
                    double s = 0;
                    for (int k = 0; k < ne; k++)
                        s += J[k * NP + i] * J[k * NP + j];
                    L.JtJ[i * NP + j] = L.JtJ[j * NP + i] = s;
                }
            /* cvGEMM(J, err, GEMM_A_T) on a one-column err runs GEMMSingleMul's A * B^T branch:
             * four interleaved partial sums, added at the end */
            for (int i = 0; i < NP; i++) {
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                int k = 0;
                for (; k <= ne - 4; k += 4) {
                    s0 += J[k * NP + i] * err[k];
                    s1 += J[(k + 1) * NP + i] * err[k + 1];
                    s2 += J[(k + 2) * NP + i] * err[k + 2];
                    s3 += J[(k + 3) * NP + i] * err[k + 3];
                }
                for (; k < ne; k++)
                    s0 += J[k * NP + i] * err[k];
                L.JtErr[i] = s0 + s1 + s2 + s3;
            }
            memcpy(L.prev, L.param, sizeof(L.prev));
            lm_step(&L);
            if (iters == 0)
                prev_err_norm = norm_l2(err, ne);
            state_calc_j = 0;
            continue;
        }
        /* CHECK_ERR */
        err_norm = norm_l2(err, ne);
        if (err_norm > prev_err_norm) {
            if (++L.lambda_lg10 <= 16) {
                lm_step(&L);
                continue;
            }
        }
        L.lambda_lg10 = L.lambda_lg10 - 1 > -16 ? L.lambda_lg10 - 1 : -16;
        double dn[NP];
        for (int i = 0; i < NP; i++)
            dn[i] = L.param[i] - L.prev[i];
        double rel = norm_l2(dn, NP) / (norm_l2(L.prev, NP) + DBL_EPSILON);
        if (++iters >= max_iter || rel < epsilon)
            break;
        prev_err_norm = err_norm;
        state_calc_j = 1;
    }
    for (int k = 0; k < 3; k++) {
        rvec[k] = (float)L.param[k];
        tvec[k] = (float)L.param[k + 3];
    }
}

/* ---- LandmarkDetector::GetPose -------------------------------------------------------------- */

void fa_clnf_pose(const fa_pdm *pdm, const float g[6], const float *p_local, const float *lmk2d,
                  const fa_camera *cam, float pose[6])
{
    if (g[0] == 0) {
        for (int k = 0; k < 6; k++)
            pose[k] = 0;
        return;
    }
    /* The initial guess, with OpenFace's mix of float and double (1.0 / fx is double). */
    float Z = cam->fx / g[0];
    float X = (float)(((double)(g[4] - cam->cx) * (1.0 / cam->fx)) * Z);
    float Y = (float)(((double)(g[5] - cam->cy) * (1.0 / cam->fy)) * Z);
    float s3[3 * FA_PDM_MAX_POINTS];
    fa_pdm_shape3d(pdm, p_local, s3);
    float t[3] = {X, Y, Z}, r[3] = {g[1], g[2], g[3]}, e[3];
    fa_solve_pnp(s3, lmk2d, pdm->n, cam, r, t);
    fa_axis_angle_to_euler(r, e);
    pose[0] = t[0];
    pose[1] = t[1];
    pose[2] = t[2];
    pose[3] = e[0];
    pose[4] = e[1];
    pose[5] = e[2];
}
