/* align.c - OpenFace's similarity alignment with the face mask (FaceAnalysis::AlignFaceMask).
 *
 * Every step follows the float/double precision and the operation order of the OpenCV 4.6 calls
 * OpenFace makes (cv::mean, cv::sum, cv::gemm, cv::SVD, cv::warpAffine), because the aligned
 * face feeds HOG and a last-bit change of the warp matrix can move a pixel by one grey level. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "au/au.h"

#define N_RIGID 24
#define MAX_SIDE FA_WARP_MAX_SIDE

/* FaceAnalysis::extract_rigid_points: face outline, nose and eye corners. */
static const int rigid_idx[N_RIGID] = {1,  2,  3,  4,  12, 13, 14, 15, 27, 28, 29, 31,
                                       32, 33, 34, 35, 36, 39, 40, 41, 42, 45, 46, 47};

/* ---- AlignShapesWithScale ------------------------------------------------------------ */

/* cv::mean of one column of an n x 2 float Mat: a double sum in row order times 1/n. */
static float column_mean(const float *pts, int n, int col)
{
    double s = 0;
    for (int k = 0; k < n; k++)
        s += pts[2 * k + col];
    return (float)(s * (1. / n));
}

/* cv::sum of 48 contiguous floats as OpenCV's AVX2 kernel adds them: four double lanes, two
 * accumulators each, then the lanes in order. Only the last bits of the double differ from a
 * plain loop, but they can reach the float scale factor. */
_Static_assert(2 * N_RIGID % 16 == 0, "cv_sum48 handles whole 16-float blocks only");
static double cv_sum48(const float *a)
{
    double s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0};
    for (int x = 0; x < 2 * N_RIGID; x += 16) {
        for (int l = 0; l < 4; l++) {
            s0[l] += (double)a[x + l] + (double)a[x + 8 + l];
            s1[l] += (double)a[x + 4 + l] + (double)a[x + 12 + l];
        }
    }
    double s = 0;
    for (int l = 0; l < 4; l++)
        s += s0[l] + s1[l];
    return s;
}

/* Mean-normalises pts (n x 2, in place) and scales it to unit RMS radius; returns that radius. */
static float normalise_points(float *pts)
{
    float mx = column_mean(pts, N_RIGID, 0), my = column_mean(pts, N_RIGID, 1);
    float sq[2 * N_RIGID];
    for (int k = 0; k < N_RIGID; k++) {
        pts[2 * k] = pts[2 * k] - mx;
        pts[2 * k + 1] = pts[2 * k + 1] - my;
        sq[2 * k] = pts[2 * k] * pts[2 * k];
        sq[2 * k + 1] = pts[2 * k + 1] * pts[2 * k + 1];
    }
    float scale = (float)sqrt(cv_sum48(sq) / N_RIGID);
    /* Mat / s is convertTo with alpha = 1/s, applied in float. */
    float inv = (float)(1. / (double)scale);
    for (int k = 0; k < 2 * N_RIGID; k++)
        pts[k] = pts[k] * inv;
    return scale;
}

/* Utilities::AlignShapesWithScale(src, dst) on the rigid points: scale * Kabsch rotation. */
static void align_shapes_with_scale(float *src, float *dst, float A[4])
{
    float s_src = normalise_points(src), s_dst = normalise_points(dst);
    float s = s_dst / s_src;

    /* src^T * dst: cv::gemm with GEMM_1_T, double accumulation in point order. */
    float h[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double acc = 0;
            for (int k = 0; k < N_RIGID; k++)
                acc += (double)src[2 * k + i] * dst[2 * k + j];
            h[2 * i + j] = (float)acc;
        }
    float u[4], vt[4], p[4];
    fa_svd2x2(h, u, vt);
    fa_gemm2x2(vt, 1, u, 1, p);
    double det = (double)p[0] * p[3] - (double)p[1] * p[2];
    float corr[4] = {1, 0, 0, det > 0 ? 1.f : -1.f};
    float tmp[4], R[4];
    fa_gemm2x2(vt, 1, corr, 0, tmp);
    fa_gemm2x2(tmp, 0, u, 1, R);
    for (int k = 0; k < 4; k++)
        A[k] = s * R[k];
}

/* ---- AlignFaceMask ---------------------------------------------------------------------- */

void fa_align_similarity(const float *landmarks, const fa_pdm *pdm, double sim_scale, float A[4])
{
    /* The destination is the mean shape scaled in float: convertTo casts alpha to float. */
    float src[2 * N_RIGID], dst[2 * N_RIGID];
    const float fscale = (float)sim_scale;
    for (int k = 0; k < N_RIGID; k++) {
        int i = rigid_idx[k];
        src[2 * k] = landmarks[i];
        src[2 * k + 1] = landmarks[FA_N_LANDMARKS + i];
        dst[2 * k] = pdm->mean[i] * fscale;
        dst[2 * k + 1] = pdm->mean[pdm->n + i] * fscale;
    }
    align_shapes_with_scale(src, dst, A);
}

/* AlignFaceMask's destination landmarks: all 68 points through the warp (cv::gemm with a
 * transposed 2x2, double sums), then brows and jaw corners lifted by 30*sim_scale/0.7. */
static void warped_landmarks(const float *lm, const float M[6], double sim_scale, float *xs,
                             float *ys)
{
    for (int i = 0; i < FA_N_LANDMARKS; i++) {
        double lx = lm[i], ly = lm[FA_N_LANDMARKS + i];
        xs[i] = (float)(lx * M[0] + ly * M[1]) + M[2];
        ys[i] = (float)(lx * M[3] + ly * M[4]) + M[5];
    }
    const double lift = (30 / 0.7) * sim_scale;
    static const int lifted[] = {0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26};
    for (size_t k = 0; k < sizeof lifted / sizeof lifted[0]; k++)
        ys[lifted[k]] = (float)((double)ys[lifted[k]] - lift);
}

faceau_status fa_align_face_mask(const fa_image *frame, const float *landmarks, const float g[6],
                                 const fa_pdm *pdm, const fa_tris *tris, double sim_scale,
                                 int size, uint8_t *out, fa_err *err)
{
    if (!landmarks || !g || !pdm || !pdm->mean)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "align: NULL argument");
    if (pdm->n != FA_N_LANDMARKS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "align: PDM has %d landmarks, need %d",
                       pdm->n, FA_N_LANDMARKS);
    faceau_status st = fa_warp_check(frame, size, out, err);
    if (!st)
        st = fa_tris_check(tris, err);
    if (st)
        return st;
    float A[4];
    fa_align_similarity(landmarks, pdm, sim_scale, A);

    /* cv::Matx22f * Vec2f accumulates in float; the centre is out_width/2 in integers. */
    float tx = g[4], ty = g[5];
    float T0 = A[0] * tx + A[1] * ty, T1 = A[2] * tx + A[3] * ty;
    const float M[6] = {A[0], A[1], -T0 + (float)(size / 2), A[2], A[3], -T1 + (float)(size / 2)};
    float xs[FA_N_LANDMARKS], ys[FA_N_LANDMARKS];
    warped_landmarks(landmarks, M, sim_scale, xs, ys);
    uint8_t mask[MAX_SIDE * MAX_SIDE];
    st = fa_paw_mask(xs, ys, tris, size, mask, err);
    if (st)
        return st;
    /* Masked-out pixels end up 0 whatever the warp gives, so they are not sampled. */
    fa_warp_affine_masked_rows(frame, M, size, mask, pdm->cpu, out);
    return FACEAU_OK;
}
