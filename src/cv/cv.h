/* cv/cv.h - every OpenCV 4.6 routine faceau reproduces, bit for bit, in one place (not installed):
 * SVD and its hypot, Rodrigues and OpenFace's Euler helpers on top of them, resize, warpAffine,
 * the float grey image with its warpAffine and remap, the face triangulation and PAW's triangle
 * mask.
 */
#ifndef FACEAU_CV_H
#define FACEAU_CV_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

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

/* The same on n x n row-major arrays, 1 <= n <= FA_SVD_MAX (n = 2 completes a zero singular
 * value's vector as above); W receives the singular values, descending. */
#define FA_SVD_MAX 6
void fa_cv_svd_n(double *At, double *Vt, double *W, int n, int f);
/* cv::solve(A, b, x, DECOMP_SVD) for a square double system (n <= FA_SVD_MAX, A row-major):
 * JacobiSVD of A, then SVBkSb with threshold 2 DBL_EPSILON * sum of the singular values. */
void fa_cv_solve_svd(const double *A, const double *b, int n, double *x);

/* cv::SVD of a 2x2 float matrix h (row-major) as OpenCV 4.6's Jacobi SVD computes it: u, vt
 * row-major (fa_cv_svd with n = 2 in float). */
void fa_svd2x2(const float h[4], float u[4], float vt[4]);

/* ---- small products and rotations (rotation.c) ------------------------------------------ */
/* cv::gemm of 2x2 float matrices through GEMMSingleMul: double products and sums, rounded once
 * to float; ta/tb: use the transpose of a/b. */
void fa_gemm2x2(const float a[4], int ta, const float b[4], int tb, float d[4]);
/* cv::gemm(A, v) [+ bias] of a float rows x len matrix (row-major) and a float vector, as
 * OpenCV's GEMMSingleMul<float, double> computes it ("A * B^T" path, a column vector counting as
 * transposed): lanes s0..s3 take the products k mod 4 over the largest multiple of 4, s0 the
 * rest, ((s0 + s1) + s2) + s3, plus bias[r] in double if bias is not NULL, rounded once. */
void fa_gemv_cv_bias(const float *A, int rows, int len, const float *v, const float *bias,
                     float *out);
/* The same bits on rows lda floats apart, with the AVX2 kernel when cpu (fa_cpu_features())
 * has FA_CPU_AVX2. */
void fa_gemv_cv_cpu(const float *A, size_t lda, int rows, int len, const float *v,
                    const float *bias, float *out, unsigned cpu);
/* fa_gemv_cv_bias without a bias. */
void fa_gemv_cv(const float *A, int rows, int len, const float *v, float *out);
/* 3x3 product as OpenCV computes it for float (gemm's len-3 special case, or Matx33f): float
 * products summed left to right in float. */
void fa_cv_mul3f(const double A[3][3], const double B[3][3], double C[3][3]);
/* cv::Rodrigues, matrix to axis-angle: double-precision re-orthonormalisation by SVD first. */
void fa_cv_rodrigues_to_vec(const double R[3][3], float out[3]);
/* cv::Rodrigues, axis-angle to matrix, in double: R row-major and, if J is not NULL, the 3x9
 * Jacobian dR/dr (one row of R's 9 elements per r_i), as solvePnP's projectPoints uses it. */
void fa_cv_rodrigues_jac(const double rv[3], double R[9], double J[27]);
/* cv::Rodrigues, axis-angle to matrix, in double, rounded to float. */
void fa_cv_rodrigues_to_mat(const float v[3], float R[9]);
/* OpenFace's Euler convention (RotationHelpers.h): R = Rx * Ry * Rz, row-major 3x3. */
void fa_euler_to_rotation(const float euler[3], float R[9]);
void fa_rotation_to_euler(const float R[9], float euler[3]);

/* ---- libm functions with x86-64 glibc's bits (libm.c) ----------------------------------- */
/* asinf, atanf, atan2f with x86-64 glibc 2.36's bits on every platform (OpenFace's reference
 * numbers come from there; other libms, aarch64 glibc included, differ in the last bit). */
float fa_asinf(float x);
float fa_atanf(float x);
float fa_atan2f(float y, float x);
/* hypot, likewise (aarch64 glibc's FMA form differs in the last bit for many inputs). */
double fa_hypot(double x, double y);
/* expf: x86-64 glibc's FMA build, step by step (fma() where it fuses); on x86-64 glibc itself
 * (the same bits, checked for every float by test_libm, and faster) fa_expf is libm's. */
float fa_expf_portable(float x);
/* Its table, 2^(i/32) as double bits, for a vector twin that must give the same bits. */
extern const uint64_t fa_expf_two_i32[32];
static inline float fa_expf(float x)
{
#if defined(__x86_64__) && defined(__GLIBC__)
    return expf(x);
#else
    return fa_expf_portable(x);
#endif
}

/* ---- Cholesky (cholesky.c) ------------------------------------------------------------- */
/* OpenCV's CholImpl<float>, as cv::solve(A, b, x, DECOMP_CHOLESKY) runs it: A (N x N row-major)
 * is overwritten by its factor, b (N x m row-major) by the solution. Returns 0, b zeroed (what
 * cv::solve leaves), when A is not positive definite. */
int fa_cv_cholesky(float *A, int N, float *b, int m);
/* cv::invert(A, X, DECOMP_CHOLESKY) for N > 3 (CholImpl<float> against the identity; X N x N,
 * A overwritten). Returns 0, X zeroed, if A is not positive definite. cpu: the FA_CPU_* kernels
 * the caller picked (same bits either way). */
int fa_cv_invert_cholesky(float *A, int N, float *X, unsigned cpu);
/* fa_cv_invert_cholesky for n (1..FA_CHOL_BATCH) matrices of one size N at once: A[l] (left
 * unchanged) to X[l], ok[l] its return value, the same bits as one call each. With AVX2 the
 * matrices run side by side in the lanes and the sums skip the factor's known zeros (the rows'
 * leading zeros, shared by the whole envelope: a skipped term is a product with +0, which leaves
 * a double sum unchanged); a matrix whose values would break that argument (not finite, -0, not
 * positive definite) is redone alone. col_major: X[l] receives the inverse transposed.
 * scratch: fa_cv_invert_batch_floats(N) floats. */
#define FA_CHOL_BATCH 8
size_t fa_cv_invert_batch_floats(int N);
void fa_cv_invert_cholesky_batch(const float *const *A, int n, int N, float *const *X, int *ok,
                                 int col_major, unsigned cpu, float *scratch);

/* ---- cv::invert(DECOMP_CHOLESKY) through LAPACK (potrf.c) --------------------------------
 * cv::invert(A, X, DECOMP_CHOLESKY) for float matrices of 100 <= N < 128 rows, which OpenCV 4.6
 * sends to LAPACK's sposv: OpenBLAS 0.3.21's spotrf and strsm with its SkylakeX kernels, the
 * reference build's (Debian 12's liblapack.so.3), bit for bit. A (row-major) is left unchanged;
 * col_major: X receives the inverse transposed (LAPACK's own layout, no transpose pass).
 * Returns 0, X zeroed, if A is not positive definite (a pivot <= 0). Every value must be
 * finite. cpu: the FA_CPU_* kernels the caller picked (same bits either way). scratch:
 * fa_cv_invert_potrf_floats(N) (= N x N) floats; it may be A itself (A is then overwritten). */
#define FA_CV_LAPACK_MIN 100 /* OpenCV's HAL_CHOLESKY_SMALL_MATRIX_THRESH */
#define FA_CV_LAPACK_MAX 127 /* spotrf is single-threaded below 128 rows; larger: returns 0 */
size_t fa_cv_invert_potrf_floats(int N);
int fa_cv_invert_potrf(const float *A, int N, float *X, int col_major, unsigned cpu,
                       float *scratch);

/* ---- AlignShapesWithScale (align.c) ---------------------------------------------------- */
#define FA_ALIGN_MAX_POINTS 68
/* Utilities::AlignShapesWithScale(src, dst) for n 2D points (each x0.., y0.. as 2n floats):
 * the 2x2 scale-rotation A (row-major) mapping src onto dst, with OpenCV 4.6's cv::mean, cv::sum
 * (its AVX2 build's summation order), cv::gemm and cv::SVD arithmetic. 1 <= n; points past
 * FA_ALIGN_MAX_POINTS are ignored. */
void fa_align_shapes_with_scale(const float *src, const float *dst, int n, float A[4]);

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

/* ---- the grey image and its resamplers (warp_grey.c) ------------------------------------
 * The image the landmark tracker fits on, and the two OpenCV 4.6 resamplers OpenFace's landmark
 * code calls on it. Both quantise source positions to 1/32 pixel (INTER_BITS = 5) and
 * interpolate with OpenCV's float bilinear weight table, summing the four products in OpenCV's
 * order. */

/* A frame whose pixels are made on demand (-mirror's mirrored frames, of which a tracked frame's
 * readers use a few percent): before reading the rectangle [x0, x1) x [y0, y1) a reader calls
 * need, after which those pixels of the grey image and of the BGR frame it belongs to are final.
 * Since every pixel made is what making the whole frame would give, the readers' results are
 * the same bytes as on a whole frame. need may be called from several threads at once. */
typedef struct fa_pixel_source {
    void (*need)(void *ctx, int x0, int y0, int x1, int y1);
    void *ctx;
} fa_pixel_source;

/* Asks src (NULL: an ordinary frame, nothing to do) for [x0, x1) x [y0, y1) of a w x h frame,
 * widened to whole pixels and clipped to the frame; a NaN bound means the frame's edge. */
static inline void fa_pixel_need(const fa_pixel_source *src, int w, int h, double x0, double y0,
                                 double x1, double y1)
{
    if (!src)
        return;
    x0 = x0 > 0 ? (x0 < w ? x0 : w) : 0, y0 = y0 > 0 ? (y0 < h ? y0 : h) : 0;
    x1 = x1 < w ? (x1 > 0 ? x1 : 0) : w, y1 = y1 < h ? (y1 > 0 ? y1 : 0) : h;
    const int ix0 = (int)x0, iy0 = (int)y0;                 /* >= 0: truncation floors */
    const int ix1 = (int)x1 + (x1 > (int)x1), iy1 = (int)y1 + (y1 > (int)y1); /* ceil */
    if (ix1 > ix0 && iy1 > iy0)
        src->need(src->ctx, ix0, iy0, ix1, iy1);
}

/* ---- a frame made tile by tile (tiles.c) ----------------------------------------------------
 * The pixel source behind a frame whose readers use a few percent of it: the frame is cut into
 * FA_TILE_W x FA_TILE_H tiles, and the first request touching a tile makes it (make), so each
 * pixel is made at most once a frame and only if read. make must give every pixel the bytes the
 * whole frame would have there. */
enum { FA_TILE_W = 64, FA_TILE_H = 32 };
typedef void (*fa_tile_make_fn)(void *ctx, int x0, int y0, int x1, int y1);
typedef struct fa_tile_map {
    fa_pixel_source source; /* what the frame's readers are given: need -> fa_tile_map_need */
    fa_tile_make_fn make;
    void *ctx;
    int w, h, tw, th; /* the frame's size, its tiles across and down */
    atomic_uchar *done; /* tw * th: the tile is made (set once its pixels are written) */
    size_t done_cap;
    pthread_mutex_t mu; /* readers on several threads may ask at once */
    int mu_ok;
} fa_tile_map;

/* t must not move after init (source.ctx points at it). */
faceau_status fa_tile_map_init(fa_tile_map *t, fa_tile_make_fn make, void *ctx, fa_err *err);
void fa_tile_map_free(fa_tile_map *t);
/* Starts a w x h frame with no tile made; allocates only for more tiles than any frame before. */
faceau_status fa_tile_map_begin(fa_tile_map *t, int w, int h, fa_err *err);
/* Makes the tiles [x0, x1) x [y0, y1) (clipped to the frame) touches that are not made yet. */
void fa_tile_map_need(fa_tile_map *t, int x0, int y0, int x1, int y1);

/* A single-channel image, row-major. OpenFace converts its 8-bit grey frame to Mat_<float>
 * before fitting; every value is an integer 0..255, so it is kept here as bytes (a quarter of
 * the memory: 2 MB instead of 8 on a 1080x1920 frame) and each sample is converted to float
 * where it is read, which is exact: the same floats the Mat_<float> holds. */
typedef struct fa_grey {
    int width, height;
    int stride;   /* bytes per row, >= width */
    uint8_t *px;  /* owned by whoever allocated it (fa_grey_resize allocates) */
    size_t cap;   /* pixels allocated in px (fa_grey_resize reuses the buffer up to this) */
    const fa_pixel_source *source; /* NULL, or where the pixels are made on demand */
} fa_grey;

/* fa_pixel_need on a grey image's source. */
static inline void fa_grey_need(const fa_grey *g, double x0, double y0, double x1, double y1)
{
    fa_pixel_need(g->source, g->width, g->height, x0, y0, x1, y1);
}

/* Bytes readable past a grey image's last pixel (fa_grey_resize allocates them): the AVX2 warp
 * reads a corner pair as 4 bytes. */
#define FA_GREY_PAD 16

/* Sets g to width x height (stride = width), reallocating px only when it has fewer than
 * width*height pixels (plus FA_GREY_PAD). A zeroed fa_grey is a valid empty image. Sizes
 * 1..65535. Contents are undefined after a resize. */
faceau_status fa_grey_resize(fa_grey *g, int width, int height, fa_err *err);
void fa_grey_free(fa_grey *g);

/* cv::cvtColor(img, grey, COLOR_BGR2GRAY) (whose convertTo(CV_32F) the readers do): each pixel
 * is (3735*B + 19235*G + 9798*R + 16384) >> 15 (OpenCV 4.6's 15-bit RGB2Gray<uchar>). out is
 * resized to img's size and made whole (its source is cleared). */
faceau_status fa_grey_from_bgr(const fa_image *img, fa_grey *out, fa_err *err);

/* A tracked frame's grey made where its readers read (fa_grey_need): the patches around the
 * landmarks and the validator's crop are a few percent of a large frame, and a frame that runs
 * MTCNN asks for all of it. */
typedef struct fa_grey_lazy {
    fa_tile_map tiles;
    fa_image img; /* the BGR frame being converted (its pixels are the caller's) */
    fa_grey *grey;
    unsigned cpu;
} fa_grey_lazy;
faceau_status fa_grey_lazy_init(fa_grey_lazy *z, fa_err *err); /* z must not move after */
void fa_grey_lazy_free(fa_grey_lazy *z);
/* Resizes grey to img's size and points grey->source at z: from here each pixel read through
 * fa_grey_need is fa_grey_from_bgr's. img's pixels must stay until the last read; cpu: the
 * FA_CPU_* kernels allowed. */
faceau_status fa_grey_lazy_begin(fa_grey_lazy *z, const fa_image *img, fa_grey *grey, unsigned cpu,
                                 fa_err *err);
/* The same conversion of img's rectangle [x0, x1) x [y0, y1) into out (already img's size):
 * pixel for pixel the bytes fa_grey_from_bgr writes there. cpu: the FA_CPU_* kernels allowed. */
void fa_grey_from_bgr_rect(const fa_image *img, fa_grey *out, int x0, int y0, int x1, int y1,
                           unsigned cpu);

/* cv::warpAffine(src, dst, M, Size(dw, dh), WARP_INVERSE_MAP | INTER_LINEAR,
 * BORDER_CONSTANT, 0), as Patch_experts::Response crops each landmark's area of interest:
 * dst(x, y) samples src at (M[0]x + M[1]y + M[2], M[3]x + M[4]y + M[5]).
 * M is double as OpenCV converts it (a float matrix, as OpenFace builds it, converts exactly).
 * dst: dh rows of dw floats, dst_stride floats apart. dw, dh >= 1. */
void fa_warp_affine_grey(const fa_grey *src, const double M[6], int dw, int dh, float *dst,
                         int dst_stride);
/* The same with the FA_CPU_* kernels the caller picked (fa_warp_affine_grey asks
 * fa_cpu_features() on every call); the same floats either way. */
void fa_warp_affine_grey_cpu(const fa_grey *src, const double M[6], int dw, int dh, float *dst,
                             int dst_stride, unsigned cpu);

/* cv::remap(src, dst, map_x, map_y, INTER_LINEAR, BORDER_CONSTANT, 0) with CV_32FC1 maps, as
 * PAW::Warp uses it (the detection validator):
 * dst(x, y) samples src at (map_x(x, y), map_y(x, y)) rounded to 1/32 pixel (cvRound(v*32)).
 * map_x, map_y: dh rows of dw floats, map_stride floats apart; dst likewise dst_stride. */
void fa_remap_grey(const fa_grey *src, const float *map_x, const float *map_y, int map_stride,
                   int dw, int dh, float *dst, int dst_stride);
/* fa_remap_grey of the grey image (fa_grey_from_bgr's) of img's w x h rectangle at (x0, y0),
 * each grey pixel made from its BGR one when sampled: the same floats, without a grey image. */
void fa_remap_bgr_grey(const fa_image *img, int x0, int y0, int w, int h, const float *map_x,
                       const float *map_y, int map_stride, int dw, int dh, float *dst,
                       int dst_stride);

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
