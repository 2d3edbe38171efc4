/* align.c - OpenFace's similarity alignment with the face mask (FaceAnalysis::AlignFaceMask).
 *
 * Every step follows the float/double precision and the operation order of the OpenCV 4.6 calls
 * OpenFace makes (AlignShapesWithScale in cv/align.c, cv::warpAffine in cv/warp_affine.c),
 * because the aligned face feeds HOG and a last-bit change of the warp matrix can move a pixel
 * by one grey level. */
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

/* ---- AlignFaceMask ---------------------------------------------------------------------- */

void fa_align_similarity(const float *landmarks, const fa_pdm *pdm, double sim_scale, float A[4])
{
    /* The destination is the mean shape scaled in float: convertTo casts alpha to float. */
    float src[2 * N_RIGID], dst[2 * N_RIGID]; /* x0.., y0.. */
    const float fscale = (float)sim_scale;
    for (int k = 0; k < N_RIGID; k++) {
        int i = rigid_idx[k];
        src[k] = landmarks[i];
        src[N_RIGID + k] = landmarks[FA_N_LANDMARKS + i];
        dst[k] = pdm->mean[i] * fscale;
        dst[N_RIGID + k] = pdm->mean[pdm->n + i] * fscale;
    }
    /* Utilities::AlignShapesWithScale(src, dst) on the rigid points: scale * Kabsch rotation. */
    fa_align_shapes_with_scale(src, dst, N_RIGID, A);
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

/* AlignFaceMask's warp matrix, frame to aligned face. */
static void mask_matrix(const float *landmarks, const float g[6], const fa_pdm *pdm,
                        double sim_scale, int size, float M[6])
{
    float A[4];
    fa_align_similarity(landmarks, pdm, sim_scale, A);
    /* cv::Matx22f * Vec2f accumulates in float; the centre is out_width/2 in integers. */
    float tx = g[4], ty = g[5];
    float T0 = A[0] * tx + A[1] * ty, T1 = A[2] * tx + A[3] * ty;
    M[0] = A[0], M[1] = A[1], M[2] = -T0 + (float)(size / 2);
    M[3] = A[2], M[4] = A[3], M[5] = -T1 + (float)(size / 2);
}

void fa_align_face_mask_need(const fa_pixel_source *src, int width, int height,
                             const float *landmarks, const float g[6], const fa_pdm *pdm,
                             double sim_scale, int size)
{
    if (!src)
        return;
    float M[6];
    mask_matrix(landmarks, g, pdm, sim_scale, size, M);
    /* warpAffine samples the frame at the inverse map of each output pixel: the output square's
     * corners bound them (an affine map); a singular M gives NaN, the whole frame. Around them
     * the fixed-point rounding, the second tap and a few pixels to spare. */
    const double det = (double)M[0] * M[4] - (double)M[1] * M[3];
    const double i0 = M[4] / det, i1 = -M[1] / det, i3 = -M[3] / det, i4 = M[0] / det;
    double lx = INFINITY, hx = -INFINITY, ly = INFINITY, hy = -INFINITY;
    for (int c = 0; c < 4; c++) {
        const double u = (c & 1 ? size - 1 : 0) - (double)M[2], v = (c & 2 ? size - 1 : 0) - (double)M[5];
        const double x = i0 * u + i1 * v, y = i3 * u + i4 * v;
        if (x != x || y != y) {
            lx = ly = -INFINITY, hx = hy = INFINITY;
            break;
        }
        lx = x < lx ? x : lx, hx = x > hx ? x : hx;
        ly = y < ly ? y : ly, hy = y > hy ? y : hy;
    }
    fa_pixel_need(src, width, height, lx - 4, ly - 4, hx + 8, hy + 5);
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
    float M[6];
    mask_matrix(landmarks, g, pdm, sim_scale, size, M);
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
