/* pdm_fit.c - OpenFace's PDM operations for the CLNF fitter (PDM.cpp), see pdm_fit.h.
 *
 * OpenFace keeps everything in float (cv::Mat_<float>, cv::Vec6f, cv::Matx33f); each expression
 * below is written in OpenFace's order so that the float roundings are the same. The 3D shape
 * (OpenBLAS sgemm_ in OpenFace) comes from fa_pdm_shape3d, summed in the order of OpenBLAS
 * 0.3.21's SkylakeX small-matrix kernel (cv/skx_gemm.h), which the reference matches. Checked
 * bit for bit against OpenFace's PDM.cpp (CalcShape2D, both Jacobians, UpdateModelParameters,
 * cv::solve) built with Debian 12's OpenCV 4.6 and OpenBLAS.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "landmarks/pdm_fit.h"

#define MAXP FA_PDM_MAX_POINTS
#define MAXK FA_PDM_MAX_PARAMS

void fa_pdm_project(const fa_pdm *pdm, const float *S, const float g[6], float *out)
{
    int n = pdm->n;
    float R[9];
    fa_euler_to_rotation(g + 1, R);
    float s = g[0], tx = g[4], ty = g[5];
    for (int i = 0; i < n; i++) {
        float X = S[i], Y = S[i + n], Z = S[i + 2 * n];
        out[i] = s * (R[0] * X + R[1] * Y + R[2] * Z) + tx;
        out[i + n] = s * (R[3] * X + R[4] * Y + R[5] * Z) + ty;
    }
}

void fa_pdm_shape2d(const fa_pdm *pdm, const float *p_local, const float g[6], float *shape2d)
{
    float S[3 * MAXP];
    fa_pdm_shape3d(pdm, p_local, S);
    fa_pdm_project(pdm, S, g, shape2d);
}

void fa_pdm_params_from_box(const fa_pdm *pdm, const float box[4], const float *p_local,
                            const float rotation[3], float g[6])
{
    int n = pdm->n;
    float S[3 * MAXP], R[9];
    fa_pdm_shape3d(pdm, p_local, S);
    fa_euler_to_rotation(rotation, R);
    /* cv::Mat(R) * shape(3 x n): cv::gemm's len-3 special case, float sums; cv::minMaxLoc then
     * reports the extremes as double. */
    double min_x = 0, max_x = 0, min_y = 0, max_y = 0;
    for (int i = 0; i < n; i++) {
        float X = S[i], Y = S[i + n], Z = S[i + 2 * n];
        float x = R[0] * X + R[1] * Y + R[2] * Z;
        float y = R[3] * X + R[4] * Y + R[5] * Z;
        if (i == 0 || x < min_x)
            min_x = x;
        if (i == 0 || x > max_x)
            max_x = x;
        if (i == 0 || y < min_y)
            min_y = y;
        if (i == 0 || y > max_y)
            max_y = y;
    }
    float width = (float)fabs(min_x - max_x);
    float height = (float)fabs(min_y - max_y);
    float scaling = ((box[2] / width) + (box[3] / height)) / 2.0f;
    float tx = box[0] + box[2] / 2;
    float ty = box[1] + box[3] / 2;
    /* float * double: the correction is computed in double, then stored back to float. */
    tx = (float)(tx - scaling * (min_x + max_x) / 2.0f);
    ty = (float)(ty - scaling * (min_y + max_y) / 2.0f);
    g[0] = scaling;
    g[1] = rotation[0];
    g[2] = rotation[1];
    g[3] = rotation[2];
    g[4] = tx;
    g[5] = ty;
}

void fa_pdm_bounding_box(const fa_pdm *pdm, const float *p_local, const float g[6], float box[4])
{
    int n = pdm->n;
    float sh[2 * MAXP];
    fa_pdm_shape2d(pdm, p_local, g, sh);
    /* OpenFace's ExtractBoundingBox: cv::minMaxIdx on each half, as float. */
    float min_x = sh[0], max_x = sh[0], min_y = sh[n], max_y = sh[n];
    for (int i = 1; i < n; i++) {
        if (sh[i] < min_x)
            min_x = sh[i];
        if (sh[i] > max_x)
            max_x = sh[i];
        if (sh[n + i] < min_y)
            min_y = sh[n + i];
        if (sh[n + i] > max_y)
            max_y = sh[n + i];
    }
    box[0] = min_x;
    box[1] = min_y;
    box[2] = fabsf(min_x - max_x);
    box[3] = fabsf(min_y - max_y);
}

/* The six rigid entries of the x and y rows of one point (small-angle rotation model). */
static void rigid_rows(float X, float Y, float Z, const float R[9], float s, float *jx, float *jy)
{
    jx[0] = (X * R[0] + Y * R[1] + Z * R[2]);
    jy[0] = (X * R[3] + Y * R[4] + Z * R[5]);
    jx[1] = (s * (Y * R[2] - Z * R[1]));
    jy[1] = (s * (Y * R[5] - Z * R[4]));
    jx[2] = (-s * (X * R[2] - Z * R[0]));
    jy[2] = (-s * (X * R[5] - Z * R[3]));
    jx[3] = (s * (X * R[1] - Y * R[0]));
    jy[3] = (s * (X * R[4] - Y * R[3]));
    jx[4] = 1.0f;
    jy[4] = 0.0f;
    jx[5] = 0.0f;
    jy[5] = 1.0f;
}

/* Jw_t(c, r) = J(r, c) * w[r] (float product), or the plain transpose when w is NULL. */
static void weighted_transpose(const float *J, int rows, int k, const float *w, float *Jw_t)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < k; c++)
            Jw_t[c * rows + r] = w ? J[r * k + c] * w[r] : J[r * k + c];
}

void fa_pdm_rigid_jacobian(const fa_pdm *pdm, const float *p_local, const float g[6],
                           const float *w, float *J, float *Jw_t)
{
    int n = pdm->n;
    float S[3 * MAXP], R[9];
    fa_pdm_shape3d(pdm, p_local, S);
    fa_euler_to_rotation(g + 1, R);
    for (int i = 0; i < n; i++)
        rigid_rows(S[i], S[i + n], S[i + 2 * n], R, g[0], J + i * 6, J + (i + n) * 6);
    /* OpenFace multiplies by the weights unconditionally here; by 1 this changes nothing. */
    weighted_transpose(J, 2 * n, 6, w, Jw_t);
}

void fa_pdm_jacobian(const fa_pdm *pdm, const float *p_local, const float g[6], const float *w,
                     float *J, float *Jw_t)
{
    int n = pdm->n, m = pdm->m, k = 6 + m;
    float S[3 * MAXP], R[9];
    float s = g[0];
    fa_pdm_shape3d(pdm, p_local, S);
    fa_euler_to_rotation(g + 1, R);
    for (int i = 0; i < n; i++) {
        float *jx = J + i * k, *jy = J + (i + n) * k;
        rigid_rows(S[i], S[i + n], S[i + 2 * n], R, s, jx, jy);
        const float *vx = pdm->pc + (size_t)i * m, *vy = pdm->pc + (size_t)(i + n) * m,
                    *vz = pdm->pc + (size_t)(i + 2 * n) * m;
        for (int j = 0; j < m; j++) {
            jx[6 + j] = (s * (R[0] * vx[j] + R[1] * vy[j] + R[2] * vz[j]));
            jy[6 + j] = (s * (R[3] * vx[j] + R[4] * vy[j] + R[5] * vz[j]));
        }
    }
    /* cv::trace(W)[0] != W.rows, the trace summed in double. */
    int weighted = 0;
    if (w) {
        double tr = 0;
        for (int r = 0; r < 2 * n; r++)
            tr += w[r];
        weighted = tr != 2 * n;
    }
    weighted_transpose(J, 2 * n, k, weighted ? w : NULL, Jw_t);
}

void fa_pdm_update(const fa_pdm *pdm, const float *delta, int k, float *p_local, float g[6])
{
    fa_pdm_update_global(g, delta);
    if (k > 6)
        for (int j = 0; j < pdm->m; j++)
            p_local[j] = p_local[j] + delta[6 + j];
}

void fa_pdm_clamp(const fa_pdm *pdm, float *p_local)
{
    /* PDM.cpp sees std::sqrt(float) (LandmarkDetectorParameters.h has using namespace std). */
    const float n_sigmas = 3;
    for (int j = 0; j < pdm->m; j++) {
        float v = n_sigmas * sqrtf(pdm->eig[j]);
        if (fabsf(p_local[j]) > v)
            p_local[j] = p_local[j] > 0.0 ? v : -v;
    }
}

int fa_cholesky_solve(const float *H, const float *b, int k, float *x, unsigned cpu)
{
    float L[MAXK * MAXK];
    if (k < 1 || k > MAXK) {
        for (int i = 0; i < k; i++)
            x[i] = 0;
        return 0;
    }
    memcpy(L, H, sizeof(float) * (size_t)k * (size_t)k);
    memcpy(x, b, sizeof(float) * (size_t)k);
    return fa_pdm_chol_solve(L, k, x, cpu); /* a failed factorisation leaves x = 0, as cv::solve */
}
