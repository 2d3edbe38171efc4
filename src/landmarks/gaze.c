/* landmarks/gaze.c - GazeAnalysis::EstimateGaze and GetGazeAngle (GazeEstimation.cpp), in float
 * as OpenFace computes them (cv::Point3f arithmetic; cv::norm of a Point3f in double).
 */
#include "landmarks/pose.h"

#include <math.h>

/* cv::norm(Point3f): sqrt of the double sum of squares. */
static double norm3(const float v[3])
{
    return sqrt((double)v[0] * v[0] + (double)v[1] * v[1] + (double)v[2] * v[2]);
}

/* Point3f / double: each coordinate divided in double, rounded to float. */
static void div3(float v[3], double d)
{
    for (int k = 0; k < 3; k++)
        v[k] = (float)(v[k] / d);
}

/* RaySphereIntersect, float throughout, with its precedence quirk t = ((-b - sqrt(disc)) / 2) * a
 * and (0, 0, -1) returned when the ray misses. */
static void ray_sphere(const float o[3], const float d[3], const float c[3], float r, float out[3])
{
    float dx = d[0], dy = d[1], dz = d[2];
    float x0 = o[0], y0 = o[1], z0 = o[2];
    float cx = c[0], cy = c[1], cz = c[2];
    float a = dx * dx + dy * dy + dz * dz;
    float b = 2 * dx * (x0 - cx) + 2 * dy * (y0 - cy) + 2 * dz * (z0 - cz);
    float cc = cx * cx + cy * cy + cz * cz + x0 * x0 + y0 * y0 + z0 * z0 +
               -2 * (cx * x0 + cy * y0 + cz * z0) - r * r;
    /* GazeEstimation.cpp has `using namespace std`, so sqrt(float) is std::sqrt(float). */
    float t = (-b - sqrtf(b * b - 4 * a * cc)) / 2 * a;
    if (b * b - 4 * a * cc < 0) {
        out[0] = 0;
        out[1] = 0;
        out[2] = -1;
        return;
    }
    for (int k = 0; k < 3; k++)
        out[k] = o[k] + d[k] * t;
}

void fa_gaze_estimate(const float *eye3d, int eye_stride, const float *face3d,
                      const float euler[3], int left, float gaze[3])
{
    float R[9];
    fa_euler_to_rotation(euler, R);
    /* GetPupilPosition: cv::mean of the 8 iris points per coordinate (a double sum, exact for
     * 8 floats of one scale), divided in double, stored as float. (float)(s / 8) is written
     * (float)s / 8.0f (the same number: scaling by 2^-3 commutes with rounding): GCC 12 -O3's
     * SLP vectoriser kept two of the three s / 8 in double, unrounded, for norm3 and div3 below,
     * which moved the gaze by up to 3e-5 (OpenFace rounds them to float in its cv::Point3f). */
    float pupil[3];
    for (int k = 0; k < 3; k++) {
        double s = 0;
        for (int i = 0; i < 8; i++)
            s += eye3d[k * eye_stride + i];
        pupil[k] = (float)s / 8.0f;
    }
    float ray[3] = {pupil[0], pupil[1], pupil[2]};
    div3(ray, norm3(pupil));

    /* Eyeball centre: (corner a + corner b) / 2 (addWeighted 0.5, 0.5: exact halves summed,
     * rounded once) plus (R * (0, -3.5, 7)).t(). The transpose turns the product into
     * gemm(offset, R, GEMM_1_T | GEMM_2_T), which skips cv::gemm's float shortcut: the float
     * products are summed in double by GEMMSingleMul and rounded once. */
    int ia = left ? 36 : 42, ib = left ? 39 : 45;
    static const float off[3] = {0, -3.5f, 7.0f};
    float centre[3];
    for (int k = 0; k < 3; k++) {
        float ro = (float)((double)off[0] * R[3 * k] + (double)off[1] * R[3 * k + 1] +
                           (double)off[2] * R[3 * k + 2]);
        float mid = (float)(0.5 * face3d[k * 68 + ia] + 0.5 * face3d[k * 68 + ib]);
        centre[k] = mid + ro;
    }
    static const float origin[3] = {0, 0, 0};
    float hit[3], v[3];
    ray_sphere(origin, ray, centre, 12, hit);
    for (int k = 0; k < 3; k++)
        v[k] = hit[k] - centre[k];
    double nv = norm3(v);
    for (int k = 0; k < 3; k++)
        gaze[k] = v[k];
    div3(gaze, nv);
}

void fa_gaze_angle(const float g0[3], const float g1[3], float angle[2])
{
    /* (g0 + g1) / 2 in float; std::atan2 on floats (using namespace std) is atan2f, here
     * with x86-64 glibc's bits on every platform (cv/libm.c). */
    float g[3];
    for (int k = 0; k < 3; k++)
        g[k] = (g0[k] + g1[k]) / 2;
    angle[0] = fa_atan2f(g[0], -g[2]);
    angle[1] = fa_atan2f(g[1], -g[2]);
}
