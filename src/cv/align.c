/* align.c - Utilities::AlignShapesWithScale (OpenFace's RotationHelpers.h) on n 2D points, in
 * the float/double precision and operation order of the OpenCV 4.6 calls it makes (cv::mean,
 * cv::sum, cv::gemm, cv::SVD). Its two users: Patch_experts::Response (the similarity between
 * the current shape and the patch experts' reference shape, all n landmarks) and the AU stage's
 * AlignFaceMask (24 rigid points), where a last-bit change of the matrix can move a pixel of the
 * aligned face by one grey level. */
#include <math.h>

#include "cv/cv.h"

/* cv::mean of one column of an n x 2 float Mat: a double sum in row order times 1/n. */
static float column_mean(const float *pts, int n, int col)
{
    double s = 0;
    for (int k = 0; k < n; k++)
        s += pts[2 * k + col];
    return (float)(s * (1. / n));
}

/* cv::sum of len contiguous floats, OpenCV 4.6's AVX2 build: Sum_SIMD<float,double> over whole
 * 16-float blocks (four double lanes, two accumulators, added per lane, then the lanes in
 * order), then sum_'s unrolled tail adding four floats in float before the double, then one by
 * one. */
static double cv_sum(const float *a, int len)
{
    double s0[4] = {0, 0, 0, 0}, s1[4] = {0, 0, 0, 0};
    int x = 0;
    for (; x <= len - 16; x += 16)
        for (int l = 0; l < 4; l++) {
            s0[l] += (double)a[x + l] + (double)a[x + 8 + l];
            s1[l] += (double)a[x + 4 + l] + (double)a[x + 12 + l];
        }
    double s = 0;
    for (int l = 0; l < 4; l++)
        s += s0[l] + s1[l];
    for (; x <= len - 4; x += 4)
        s += (double)(a[x] + a[x + 1] + a[x + 2] + a[x + 3]);
    for (; x < len; x++)
        s += a[x];
    return s;
}

/* Mean-normalises pts (n x 2 interleaved, in place) and scales it to unit RMS radius; returns
 * that radius. */
static float normalise_points(float *pts, int n)
{
    float mx = column_mean(pts, n, 0), my = column_mean(pts, n, 1);
    float sq[2 * FA_ALIGN_MAX_POINTS];
    for (int k = 0; k < n; k++) {
        pts[2 * k] = pts[2 * k] - mx;
        pts[2 * k + 1] = pts[2 * k + 1] - my;
        sq[2 * k] = pts[2 * k] * pts[2 * k];
        sq[2 * k + 1] = pts[2 * k + 1] * pts[2 * k + 1];
    }
    float scale = (float)sqrt(cv_sum(sq, 2 * n) / n);
    float inv = (float)(1. / (double)scale);
    for (int k = 0; k < 2 * n; k++)
        pts[k] = pts[k] * inv;
    return scale;
}

void fa_align_shapes_with_scale(const float *src_xy, const float *dst_xy, int n, float A[4])
{
    float src[2 * FA_ALIGN_MAX_POINTS], dst[2 * FA_ALIGN_MAX_POINTS];
    if (n > FA_ALIGN_MAX_POINTS)
        n = FA_ALIGN_MAX_POINTS;
    for (int k = 0; k < n; k++) {
        src[2 * k] = src_xy[k];
        src[2 * k + 1] = src_xy[n + k];
        dst[2 * k] = dst_xy[k];
        dst[2 * k + 1] = dst_xy[n + k];
    }
    float s_src = normalise_points(src, n), s_dst = normalise_points(dst, n);
    float s = s_dst / s_src;
    /* src^T * dst: GEMMSingleMul with GEMM_1_T, a double sum in point order per entry */
    float h[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double acc = 0;
            for (int k = 0; k < n; k++)
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
