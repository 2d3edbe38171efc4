/* rotation.c - cv::Rodrigues (both directions), the small products OpenCV uses (2x2 gemm, Matx33f),
 * and OpenFace's Euler-angle helpers (RotationHelpers.h) built on them. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cv/cv.h"

/* ---- rotations -------------------------------------------------------------------------- */

/* Utilities::Euler2RotationMatrix. Its unqualified sin/cos on a float resolve to std::sin(float)
 * and std::cos(float) (sinf, cosf): every OpenFace file that includes RotationHelpers.h has seen
 * `using namespace std` (LandmarkDetectorParameters.h) first. Checked bit for bit against
 * OpenFace's PDM.cpp; the double functions rounded to float differ in a few percent of cases. */
void fa_euler_to_rotation(const float euler[3], float R[9])
{
    float s1 = sinf(euler[0]), s2 = sinf(euler[1]), s3 = sinf(euler[2]);
    float c1 = cosf(euler[0]), c2 = cosf(euler[1]), c3 = cosf(euler[2]);
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

/* Utilities::RotationMatrix2Euler (through a quaternion); float asin/atan2 as above, with the
 * bits x86-64 glibc gives (libm.c: aarch64's glibc differs in the last bit). */
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
    euler[1] = fa_asinf(t1);
    euler[0] = fa_atan2f(2.0f * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3);
    euler[2] = fa_atan2f(2.0f * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3);
}


/* 3x3 product as OpenCV computes it for float (gemm's len-3 special case, or Matx33f): float
 * products summed left to right in float. */
void fa_gemm2x2(const float a[4], int ta, const float b[4], int tb, float d[4])
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 2; k++) {
                float x = ta ? a[2 * k + i] : a[2 * i + k];
                float y = tb ? b[2 * j + k] : b[2 * k + j];
                s += (double)x * y;
            }
            d[2 * i + j] = (float)s;
        }
}

void fa_cv_mul3f(const double A[3][3], const double B[3][3], double C[3][3])
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

/* cv::Rodrigues, matrix to axis-angle: double-precision re-orthonormalisation by SVD first. */
void fa_cv_rodrigues_to_vec(const double Rf[3][3], float out[3])
{
    double At[3][3], Vt[3][3], R[3][3];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            At[i][k] = Rf[k][i];
    fa_cv_svd(At, Vt, 3, 0);
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

/* calib3d's cvRodrigues2 for a rotation vector: R = cos(t) I + (1 - cos(t)) r r^T + sin(t) [r]x,
 * and dR/dr laid out as 3 rows (one per r_i) of the 9 elements of R, row-major. */
void fa_cv_rodrigues_jac(const double rv[3], double R[9], double J[27])
{
    double rx = rv[0], ry = rv[1], rz = rv[2];
    double theta = sqrt(rx * rx + ry * ry + rz * rz);
    if (theta < DBL_EPSILON) {
        for (int k = 0; k < 9; k++)
            R[k] = k % 4 == 0;
        if (J) {
            memset(J, 0, 27 * sizeof(double));
            J[5] = J[15] = J[19] = -1;
            J[7] = J[11] = J[21] = 1;
        }
        return;
    }
    double c = cos(theta), s = sin(theta), c1 = 1. - c, itheta = theta ? 1. / theta : 0.;
    rx *= itheta;
    ry *= itheta;
    rz *= itheta;
    double rrt[9] = {rx * rx, rx * ry, rx * rz, rx * ry, ry * ry,
                     ry * rz, rx * rz, ry * rz, rz * rz};
    double r_x[9] = {0, -rz, ry, rz, 0, -rx, -ry, rx, 0};
    static const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (int k = 0; k < 9; k++)
        R[k] = c * I[k] + c1 * rrt[k] + s * r_x[k];
    if (!J)
        return;
    double drrt[27] = {rx + rx, ry, rz, ry, 0, 0, rz, 0, 0,
                       0, rx, 0, rx, ry + ry, rz, 0, rz, 0,
                       0, 0, rx, 0, 0, ry, rx, ry, rz + rz};
    static const double d_r_x_[27] = {0, 0, 0, 0, 0, -1, 0, 1, 0,
                                      0, 0, 1, 0, 0, 0, -1, 0, 0,
                                      0, -1, 0, 1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        double ri = i == 0 ? rx : i == 1 ? ry : rz;
        double a0 = -s * ri, a1 = (s - 2 * c1 * itheta) * ri, a2 = c1 * itheta;
        double a3 = (c - s * itheta) * ri, a4 = s * itheta;
        for (int k = 0; k < 9; k++)
            J[i * 9 + k] = a0 * I[k] + a1 * rrt[k] + a2 * drrt[i * 9 + k] + a3 * r_x[k] +
                           a4 * d_r_x_[i * 9 + k];
    }
}

/* cv::Rodrigues, axis-angle to matrix, in double, rounded to float. */
void fa_cv_rodrigues_to_mat(const float v[3], float R[9])
{
    double r[3] = {v[0], v[1], v[2]}, Rd[9];
    fa_cv_rodrigues_jac(r, Rd, NULL);
    for (int k = 0; k < 9; k++)
        R[k] = (float)Rd[k];
}
