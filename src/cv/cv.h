/* cv/cv.h - every OpenCV 4.6 routine faceau reproduces, bit for bit, in one place (not installed):
 * SVD and its hypot, Rodrigues and OpenFace's Euler helpers on top of them, resize, warpAffine,
 * the face triangulation and PAW's triangle mask.
 */
#ifndef FACEAU_CV_H
#define FACEAU_CV_H

#include "core/core.h"

/* ---- rounding (round.c) ---------------------------------------------------------------- */
/* cvRound, i.e. saturate_cast<int> of a float or double: nearest, ties to even (the default
 * FPU mode); out of range or NaN gives INT_MIN, as the x86 conversion OpenCV uses does. */
int fa_cv_round(double v);

/* ---- SVD (svd.c) ------------------------------------------------------------------------ */
/* OpenCV's hypot helper in lapack.cpp (scaled, not the libm one). */
double fa_cv_hypot(double a, double b);
/* cv::SVD (OpenCV's JacobiSVDImpl_) of an n x n matrix, n = 2 or 3, in float (f = 1: every
 * operation rounded to float, values held as doubles, eps = 2 FLT_EPSILON) or double (f = 0).
 * In: At = A transposed (the top-left n x n of the arrays). Out: At = U transposed, Vt = V
 * transposed, singular values descending. A zero singular value's vector (OpenCV: a random
 * vector orthogonalised) is completed for n = 2 only; it never occurs for the rotation-like
 * 3x3 input faceau has. */
void fa_cv_svd(double At[3][3], double Vt[3][3], int n, int f);

/* cv::SVD of a 2x2 float matrix h (row-major) as OpenCV 4.6's Jacobi SVD computes it: u, vt
 * row-major (fa_cv_svd with n = 2 in float). */
void fa_svd2x2(const float h[4], float u[4], float vt[4]);

/* ---- small products and rotations (rotation.c) ------------------------------------------ */
/* cv::gemm of 2x2 float matrices through GEMMSingleMul: double products and sums, rounded once
 * to float; ta/tb: use the transpose of a/b. */
void fa_gemm2x2(const float a[4], int ta, const float b[4], int tb, float d[4]);
/* 3x3 product as OpenCV computes it for float (gemm's len-3 special case, or Matx33f): float
 * products summed left to right in float. */
void fa_cv_mul3f(const double A[3][3], const double B[3][3], double C[3][3]);
/* cv::Rodrigues, matrix to axis-angle: double-precision re-orthonormalisation by SVD first. */
void fa_cv_rodrigues_to_vec(const double R[3][3], float out[3]);
/* cv::Rodrigues, axis-angle to matrix, in double, rounded to float. */
void fa_cv_rodrigues_to_mat(const float v[3], float R[9]);
/* OpenFace's Euler convention (RotationHelpers.h): R = Rx * Ry * Rz, row-major 3x3. */
void fa_euler_to_rotation(const float euler[3], float R[9]);
void fa_rotation_to_euler(const float R[9], float euler[3]);

/* ---- cv::resize (resize.c) -------------------------------------------------------------- */
/* cv::resize(INTER_LINEAR) of a float BGR image to dw x dh, bit-exact with OpenCV 4.6. The
 * source is a virtual sw x sh image whose pixel (r, c) is img's (r + y0, c + x0) converted to
 * float, or 0 outside img (OpenFace's zero-padded crop). Writes output rows row0..row0+nrows-1
 * (dw*3 floats each) to out; ftmp holds 12*dw floats, itmp 3*dw ints. */
void fa_resize_linear(const fa_image *img, int x0, int y0, int sw, int sh, int dw, int dh,
                      int row0, int nrows, float *out, float *ftmp, int *itmp);

/* ---- cv::warpAffine (warp_affine.c) ----------------------------------------------------- */
#define FA_WARP_MAX_SIDE 256 /* largest output side warped (bounds stack buffers) */
/* cv::warpAffine(src, out, M, Size(size, size), INTER_LINEAR) with border 0, bit-exact with
 * OpenCV 4.6. M is the forward 2x3 matrix, row-major, float as OpenFace passes it. */
faceau_status fa_warp_affine(const fa_image *src, const float M[6], int size, uint8_t *out,
                             fa_err *err);
/* The checks fa_warp_affine makes on (img, size, out): 1 <= size <= FA_WARP_MAX_SIDE. */
faceau_status fa_warp_check(const fa_image *img, int size, const void *out, fa_err *err);
/* fa_warp_affine once fa_warp_check passed; pixels where mask (size*size, may be NULL) is 0
 * are set to 0 without sampling. cpu: the FA_CPU_* kernels the caller picked (same bytes). */
void fa_warp_affine_masked_rows(const fa_image *src, const float M[6], int size,
                                const uint8_t *mask, unsigned cpu, uint8_t *out);

/* ---- triangulation and PAW mask (paw.c) ------------------------------------------------- */
#define FA_TRIS_MAX 254
typedef struct fa_tris {
    int n;        /* triangles */
    int *idx;     /* 3n landmark indices */
} fa_tris;

faceau_status fa_tris_load(const char *path, fa_tris *tris, fa_err *err);
void fa_tris_free(fa_tris *tris);
/* Fails unless tris holds 1..FA_TRIS_MAX triangles. */
faceau_status fa_tris_check(const fa_tris *tris, fa_err *err);
/* OpenFace's PAW(points, tris, 0, 0, size-1, size-1).pixel_mask: mask[y*size + x] = 1 where
 * integer pixel (x, y) is inside a triangle (inclusive same-side test, PAW's scan order),
 * else 0. xs, ys: the 68 points. */
faceau_status fa_paw_mask(const float *xs, const float *ys, const fa_tris *tris, int size,
                          uint8_t *mask, fa_err *err);

#endif /* FACEAU_CV_H */
