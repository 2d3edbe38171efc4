/* internal.h - types and helpers shared by faceau's stages (not installed).
 *
 * Conventions:
 *  - Every fallible function takes an fa_err* and returns a faceau_status; on failure it has
 *    filled err->msg with one line naming the file (or input) and the problem.
 *  - Images are BGR24 (OpenCV's channel order), row-major, owned by whoever allocated them.
 *  - Names start with fa_ (internal) or faceau_ (public).
 */
#ifndef FACEAU_INTERNAL_H
#define FACEAU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "faceau.h"

#define FA_N_LANDMARKS 68
#define FA_N_MODES 34      /* PDM non-rigid parameters */
#define FA_ALIGN_SIZE 112  /* aligned face side in pixels */
#define FA_HOG_CELLS 12
#define FA_HOG_CHANNELS 31
#define FA_HOG_DIM (FA_HOG_CELLS * FA_HOG_CELLS * FA_HOG_CHANNELS) /* 4464 */
#define FA_GEOM_DIM (3 * FA_N_LANDMARKS + FA_N_MODES)              /* 238 */
#define FA_FEAT_DIM (FA_HOG_DIM + FA_GEOM_DIM)                      /* 4702 */

/* ---- errors ---------------------------------------------------------------------------- */
typedef struct fa_err {
    faceau_status status;
    char msg[1024];
} fa_err;

/* Records status and a printf-style message in err (if non-NULL); returns status. */
faceau_status fa_fail(fa_err *err, faceau_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fa_err_clear(fa_err *err);

/* Checked allocation: on failure records FACEAU_ERR_NOMEM (naming what) and returns NULL. */
void *fa_malloc(size_t n, fa_err *err, const char *what);
void *fa_calloc(size_t count, size_t size, fa_err *err, const char *what);

/* ---- images ---------------------------------------------------------------------------- */
typedef struct fa_image {
    int width, height;
    int stride;   /* bytes per row, >= 3*width */
    uint8_t *bgr; /* owned by the creator of the struct */
} fa_image;

faceau_status fa_image_alloc(fa_image *img, int width, int height, fa_err *err);
void fa_image_free(fa_image *img);

/* ---- text and binary matrices in OpenFace's formats (models.c) ------------------------- */
/* OpenCV type codes as OpenFace stores them. */
enum { FA_CV_8U = 0, FA_CV_32S = 4, FA_CV_32F = 5, FA_CV_64F = 6 };

typedef struct fa_mat {
    int rows, cols, type; /* type: one of FA_CV_* as found in the file */
    double *data;         /* rows*cols values, row-major, converted to double */
} fa_mat;

/* OpenFace's SkipComments: drop whole lines while the next char is '#', '\n', ' ' or '\r'. */
void fa_skip_comments(FILE *f);
/* Reads "rows cols type" and rows*cols values (OpenFace's ReadMat). path is for messages. */
faceau_status fa_textmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err);
/* Reads int32 rows, cols, type then raw little-endian data (OpenFace's ReadMatBin). */
faceau_status fa_binmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err);
void fa_mat_free(fa_mat *m);

/* faceau_models_locate for a directory holding `marker` (a path relative to it). */
faceau_status fa_models_locate(const char *hint, const char *marker, char *dir, size_t dir_size,
                               char *errbuf, size_t errbuf_size);
#define FA_MTCNN_MARKER "mtcnn_detector/MTCNN_detector.txt"

/* Opens path for reading or fails with a message naming it. */
faceau_status fa_fopen_read(const char *path, FILE **out, fa_err *err);
/* Joins dir and rel with '/' into out (size n); an absolute rel is used as is. */
faceau_status fa_path_join(char *out, size_t n, const char *dir, const char *rel, fa_err *err);

/* ---- frame input (video.c, image.c) ------------------------------------------------------ */
/* Video through FFmpeg, converted to BGR24 exactly as OpenCV 4.6's FFmpeg backend does. */
typedef struct fa_video fa_video;
faceau_status fa_video_open(const char *path, fa_video **out, fa_err *err);
/* Decodes the next frame into a buffer owned by v (valid until the next call). *got = 0 at the
 * end of the stream. A decode error after some frames returns FACEAU_ERR_TRUNCATED. */
faceau_status fa_video_read(fa_video *v, const fa_image **frame, int *got, fa_err *err);
double fa_video_fps(const fa_video *v); /* OpenCV's CAP_PROP_FPS; 30 if unknown or <= 0 */
void fa_video_close(fa_video *v);

/* Reads an image file (.jpg/.jpeg/.png/.bmp) to the BGR pixels cv::imread(IMREAD_COLOR) gives. */
faceau_status fa_image_read(const char *path, fa_image *out, fa_err *err);
/* Lists the image files (.jpg .jpeg .png .bmp, case-insensitive) of dir sorted by path, as
 * OpenFace's -fdir does. *paths is an array of n malloc'd strings (free with fa_free_list). */
faceau_status fa_list_images(const char *dir, char ***paths, size_t *n, fa_err *err);
void fa_free_list(char **list, size_t n);
/* True when path ends in .jpg .jpeg .png or .bmp (any case). */
int fa_is_image_path(const char *path);

/* ---- PDM (pdm.c) ------------------------------------------------------------------------ */
/* OpenFace's 3D point distribution model, stored as float like OpenFace does after reading. */
typedef struct fa_pdm {
    int n;        /* landmarks (68) */
    int m;        /* modes (34) */
    float *mean;  /* 3n: x0..x(n-1), y0.., z0.. */
    float *pc;    /* 3n x m, row-major */
    float *eig;   /* m eigenvalues */
    /* Derived by fa_pdm_load to speed up fa_pdm_calc_params; either may be NULL (e.g. in a
     * hand-built model), which only makes the fit slower:
     * gram: 6 symmetric m x m Gram matrices of the x/y/z blocks of pc (xx, yy, zz, xy+yx, xz+zx,
     *       yz+zy); pct: pc transposed (m x 3n). */
    double *gram;
    float *pct;
} fa_pdm;

/* Largest model fa_pdm_calc_params handles (its buffers live on the stack); load rejects more. */
#define FA_PDM_MAX_POINTS 68
#define FA_PDM_MAX_MODES 34

faceau_status fa_pdm_load(const char *path, fa_pdm *pdm, fa_err *err);
void fa_pdm_free(fa_pdm *pdm);
/* shape3d (3n) = mean + pc * p_local (each dot product summed in double, rounded once). */
void fa_pdm_shape3d(const fa_pdm *pdm, const float *p_local, float *shape3d);
/* OpenFace's PDM::CalcParams(landmarks, rotation 0): fits g = (scale, rx, ry, rz, tx, ty) and
 * p_local (m) to 2n landmarks (x0..x(n-1), y0..). Landmarks with x == 0 are invisible (all
 * invisible: g and p are zero). Uses about 60 KB of stack; no allocation. */
void fa_pdm_calc_params(const fa_pdm *pdm, const float *landmarks, float g[6], float *p_local);
/* OpenFace's Euler convention: R = Rx * Ry * Rz, row-major 3x3. */
void fa_euler_to_rotation(const float euler[3], float R[9]);
void fa_rotation_to_euler(const float R[9], float euler[3]);
/* The rigid part of PDM::UpdateModelParameters: g[0] += dp[0], g[4..5] += dp[4..5], the rotation
 * composed with orth(I + [dp1..3]x) and taken back to Euler angles through Rodrigues (NaN -> 0). */
void fa_pdm_update_global(float g[6], const float *dp);

/* ---- alignment (align.c) ---------------------------------------------------------------- */
typedef struct fa_tris {
    int n;        /* triangles */
    int *idx;     /* 3n landmark indices */
} fa_tris;

faceau_status fa_tris_load(const char *path, fa_tris *tris, fa_err *err);
void fa_tris_free(fa_tris *tris);
/* OpenFace's AlignFaceMask(frame, landmarks, g, pdm, tris, rigid=true, scale, size, size):
 * similarity-warps the frame to size x size (cv::warpAffine INTER_LINEAR, border 0, reproduced
 * bit-exactly) and zeroes pixels outside the face triangulation. out: size*size*3 BGR bytes,
 * row-major. landmarks: x0..x67, y0..y67. Only g[4], g[5] (tx, ty) are used. sim_scale is a
 * double as in OpenFace (0.7): the brow lift 30/0.7*sim_scale is computed in double. size must
 * be 1..256; tris must have 1..254 triangles. */
faceau_status fa_align_face_mask(const fa_image *frame, const float *landmarks, const float g[6],
                                 const fa_pdm *pdm, const fa_tris *tris, double sim_scale,
                                 int size, uint8_t *out, fa_err *err);
/* The steps of fa_align_face_mask, usable alone. Sizes are 1..256 pixels.
 * Utilities::AlignShapesWithScale on the 24 rigid points of landmarks against (float)sim_scale
 * times the PDM mean's x, y (pdm->n must be 68): A (row-major 2x2 scale-rotation) maps the
 * landmarks onto the scaled mean shape. */
void fa_align_similarity(const float *landmarks, const fa_pdm *pdm, double sim_scale, float A[4]);
/* cv::SVD of a 2x2 float matrix h (row-major) as OpenCV 4.6's Jacobi SVD computes it: u, vt. */
void fa_svd2x2(const float h[4], float u[4], float vt[4]);
/* cv::gemm of 2x2 float matrices (double products and sums, rounded once); ta/tb transpose. */
void fa_gemm2x2(const float a[4], int ta, const float b[4], int tb, float d[4]);
/* cv::warpAffine(src, out, M, Size(size, size), INTER_LINEAR) with border 0, bit-exact with
 * OpenCV 4.6. M is the forward 2x3 matrix, row-major, float as OpenFace passes it. */
faceau_status fa_warp_affine(const fa_image *src, const float M[6], int size, uint8_t *out,
                             fa_err *err);
/* OpenFace's PAW(points, tris, 0, 0, size-1, size-1).pixel_mask: mask[y*size + x] = 1 where
 * integer pixel (x, y) is inside a triangle (inclusive same-side test, PAW's scan order),
 * else 0. xs, ys: the 68 points. */
faceau_status fa_paw_mask(const float *xs, const float *ys, const fa_tris *tris, int size,
                          uint8_t *mask, fa_err *err);

/* ---- FHOG (hog.c) ----------------------------------------------------------------------- */
/* dlib's extract_fhog_features(cv_image<bgr_pixel>, cell_size) reproduced exactly, on a BGR
 * image. Output: rows x cols cells (rows = (int)(h/cell + 0.5) - 2, likewise cols), 31 channels
 * each, laid out [row][col][channel]. Returns the number of floats written (rows*cols*31) or
 * 0 when the image is too small. out must hold that many. */
size_t fa_fhog(const uint8_t *bgr, int width, int height, int stride, int cell, float *out);

/* ---- OpenFace CSV (csv.c) --------------------------------------------------------------- */
#define FA_N_EYE_LMK 56
#define FA_N_AU_R 17
#define FA_N_AU_C 18

/* One row of OpenFace's CSV, every group, as numbers. */
typedef struct fa_csv_row {
    long frame;     /* 1-based (video/sequence); for image CSVs: unused */
    int face_id;    /* face_id, or `face` in image CSVs */
    double timestamp;
    double confidence;
    int success;
    double gaze[8];                   /* gaze_0_x,y,z, gaze_1_x,y,z, gaze_angle_x, gaze_angle_y */
    double eye_lmk2d[2 * FA_N_EYE_LMK]; /* eye_lmk_x_0..55, eye_lmk_y_0..55 */
    double eye_lmk3d[3 * FA_N_EYE_LMK]; /* eye_lmk_X_*, eye_lmk_Y_*, eye_lmk_Z_* */
    double pose[6];                   /* pose_Tx, Ty, Tz, Rx, Ry, Rz */
    double lmk2d[2 * FA_N_LANDMARKS]; /* x_0..x_67, y_0..y_67 */
    double lmk3d[3 * FA_N_LANDMARKS]; /* X_*, Y_*, Z_* */
    double params[6 + FA_N_MODES];    /* p_scale, p_rx, p_ry, p_rz, p_tx, p_ty, p_0..p_33 */
    double au_r[FA_N_AU_R];           /* in faceau_au_intensity_name order */
    double au_c[FA_N_AU_C];           /* in faceau_au_presence_name order */
} fa_csv_row;

/* Bits of fa_csv_reader_groups(): which groups the file had. */
enum { FA_CSV_HAS_GAZE = 1, FA_CSV_HAS_POSE = 2, FA_CSV_HAS_2D = 4, FA_CSV_HAS_3D = 8,
       FA_CSV_HAS_PDM = 16, FA_CSV_HAS_AUS = 32, FA_CSV_HAS_EYE = 64, FA_CSV_HAS_CONF = 128 };

typedef struct fa_csv_writer fa_csv_writer;
/* Creates path and writes OpenFace's header (RecorderCSV) for the FACEAU_OUT_* groups in
 * outputs (0 = all). image_mode: FaceLandmarkImg's layout (face, confidence; confidence 3 dp). */
faceau_status fa_csv_writer_open(const char *path, unsigned outputs, int image_mode,
                                 fa_csv_writer **out, fa_err *err);
/* Writes one row with OpenFace's per-group decimals (AU _r 2 dp, _c 1 dp, as before OpenFace's
 * post-processing rewrite). */
faceau_status fa_csv_write_row(fa_csv_writer *w, const fa_csv_row *row, fa_err *err);
/* Flushes and closes, checking every write; frees w even on failure. */
faceau_status fa_csv_writer_close(fa_csv_writer *w, fa_err *err);
/* OpenFace's PostprocessOutputFile: copies in_path to out_path replacing the AU columns of data
 * row i with intensity[i*17..] and presence[i*18..], both printed with 2 decimals; everything
 * else re-emitted verbatim (trimmed, ", " separated). n must equal the number of data rows;
 * in_path and out_path must be different files. */
faceau_status fa_csv_rewrite_aus(const char *in_path, const char *out_path, const double *intensity,
                                 const double *presence, size_t n, fa_err *err);

typedef struct fa_csv_reader fa_csv_reader;
/* Opens an OpenFace-format CSV (FeatureExtraction, FaceLandmarkImg or FaceLandmarkVidMulti
 * layout, any decimals) to read landmarks from. Requires x_0..x_67, y_0..y_67 and success
 * (image CSVs: success taken as 1); missing ones => FACEAU_ERR_CSV naming file and column. */
faceau_status fa_csv_reader_open(const char *path, fa_csv_reader **out, fa_err *err);
/* Next data row (fields of groups the file lacks are 0). *got = 0 at the end. A malformed row
 * (wrong field count, non-number) => FACEAU_ERR_CSV naming file and line. */
faceau_status fa_csv_reader_next(fa_csv_reader *r, fa_csv_row *row, int *got, fa_err *err);
unsigned fa_csv_reader_groups(const fa_csv_reader *r);
void fa_csv_reader_close(fa_csv_reader *r);

/* Longest "%.*f" for dp <= 6: '-', the 309 digits of DBL_MAX, '.', 6 decimals, NUL. */
#define FA_CSV_FIXED_MAX 320
/* Writes v into out as printf("%.*f", dp, v) would (= OpenFace's std::fixed output), dp 0..6;
 * out holds FA_CSV_FIXED_MAX bytes. Returns the length. */
size_t fa_csv_format_fixed(char *out, double v, int dp);

/* ---- AU models and linear predictors (au.c) --------------------------------------------- */
/* One of OpenFace's four model banks (static/dynamic SVR, static/dynamic SVM): the weight
 * columns of every AU in the bank, one shared mean. */
typedef struct fa_au_bank {
    int k;          /* AUs in the bank */
    int dim;        /* feature length (4702) */
    double *means;  /* dim; only the first file's means are kept, as OpenFace does */
    double *wt;     /* while loading k x dim (AU j at wt[j*dim]); once loaded dim x k */
    double *bias;   /* k */
    double *cutoff; /* k; dynamic SVR only (-1 elsewhere) */
    double *pos, *neg; /* k; SVM class values */
    char (*names)[16];
} fa_au_bank;

#define FA_MAX_BANK 32 /* AU models in one bank */
enum { FA_BANK_SVR_STATIC, FA_BANK_SVR_DYNAMIC, FA_BANK_SVM_STATIC, FA_BANK_SVM_DYNAMIC, FA_N_BANKS };

typedef struct fa_au_models {
    fa_au_bank bank[FA_N_BANKS];
    fa_pdm pdm;
    fa_tris tris;
    /* Output column i (sorted names) comes from bank r_bank[i], column r_col[i]. */
    int r_bank[FA_N_AU_R], r_col[FA_N_AU_R];
    int c_bank[FA_N_AU_C], c_col[FA_N_AU_C];
} fa_au_models;

/* Reads OpenFace's AU main file (e.g. <dir>/AU_predictors/main_dynamic_svms.txt): the AU list
 * it names, the PDM and the triangulation. */
faceau_status fa_au_models_load(const char *main_file, fa_au_models *m, fa_err *err);
void fa_au_models_free(fa_au_models *m);
/* Raw linear predictions for feature x (FA_FEAT_DIM): dynamic banks subtract median (same
 * length) after the means. r (17) raw intensities, c (18) SVM classes, output order. */
void fa_au_predict(const fa_au_models *m, const double *x, const double *median, double *r,
                   double *c);

/* ---- context internals (faceau.c) -------------------------------------------------------- */
int fa_ctx_online(const faceau_ctx *ctx);
int fa_ctx_static(const faceau_ctx *ctx);
void fa_ctx_set_error(faceau_ctx *ctx, faceau_status st, const char *msg);
enum { FA_STAGE_PDM, FA_STAGE_ALIGN, FA_STAGE_HOG, FA_STAGE_MEDIAN, FA_STAGE_PREDICT, FA_N_STAGES };
/* Milliseconds spent in each AU sub-stage since the last reset. */
void fa_ctx_stage_ms(const faceau_ctx *ctx, double ms[FA_N_STAGES]);

/* ---- running medians (median.c) --------------------------------------------------------- */
/* OpenFace's histogram running median (FaceAnalyser::UpdateRunningMedian). */
typedef struct fa_median {
    int dim, bins;
    double min, max;
    int *hist;      /* dim x bins */
    int *med_bin;   /* dim: each dimension's current median bin */
    int *below;     /* dim: samples in the bins before med_bin */
    int count;
    double *median; /* dim */
} fa_median;

faceau_status fa_median_init(fa_median *h, int dim, int bins, double min, double max, fa_err *err);
void fa_median_free(fa_median *h);
void fa_median_reset(fa_median *h);
/* Adds x to the histogram if update, then recomputes the median as OpenFace does. */
void fa_median_update(fa_median *h, const double *x, int update);

/* ---- post-processing (post.c) ----------------------------------------------------------- */
/* OpenFace's ExtractAllPredictionsOfflineReg after re-prediction: per AU, subtract the cutoff
 * percentile of successful frames (cutoff < 0: none), clamp to [0,5], failures 0, 3-frame
 * moving average. v is n values of one AU (modified in place). */
faceau_status fa_post_intensity(double *v, const unsigned char *success, size_t n, double cutoff,
                                fa_err *err);
/* OpenFace's ExtractAllPredictionsOfflineClass: 7-frame majority smoothing, in place. */
faceau_status fa_post_presence(double *v, size_t n, fa_err *err);

/* OpenFace's online correction (CorrectOnlineAUs with dyn_shift, clip): histogram of 200 bins
 * on [-3, 5] per AU. */
typedef struct fa_online {
    int hist[FA_N_AU_R][200];
    int count;
} fa_online;
void fa_online_reset(fa_online *o);
/* Corrects r (17 values) in place; update = the frame's success. */
void fa_online_correct(fa_online *o, double *r, int update);

/* ---- face detection (detect.c) ---------------------------------------------------------- */
/* OpenFace's MTCNN (FaceDetectorMTCNN::DetectFaces with its defaults: min face 60 px,
 * thresholds 0.6/0.7/0.7). Internally feature maps are row-major height x width x channels. */

/* A face box in frame pixels (OpenFace's cv::Rect_<float>) and the detector's confidence. */
typedef struct fa_face_box {
    float x, y, width, height;
    float confidence;
} fa_face_box;

#define FA_MTCNN_MIN_FACE 60
/* Frames larger than this are refused (bounds memory and time): side and pixel count. */
#define FA_MTCNN_MAX_SIDE 32768
#define FA_MTCNN_MAX_PIXELS (1L << 27)
#define FA_MTCNN_MAX_THREADS 64

typedef struct fa_mtcnn fa_mtcnn;

/* Reads OpenFace's detector: dir holds MTCNN_detector.txt (or dir/mtcnn_detector/ does, so
 * the model root works too), which names PNet, RNet and ONet .dat files beside it. A missing,
 * truncated or malformed file fails naming the file and the problem. One thread by default. */
faceau_status fa_mtcnn_load(const char *dir, fa_mtcnn **out, fa_err *err);
void fa_mtcnn_free(fa_mtcnn *d);
/* Threads used by later fa_mtcnn_detect calls (1..FA_MTCNN_MAX_THREADS); the boxes do not
 * depend on it. */
faceau_status fa_mtcnn_set_threads(fa_mtcnn *d, int n, fa_err *err);
/* DetectFaces on a BGR frame: writes up to max_boxes boxes, best first (OpenFace's final NMS
 * order), after OpenFace's final correction (the box OpenFace hands to CLNF); *n = how many
 * were written. A frame whose smaller side is under 60 px gives *n = 0. Not thread-safe on
 * one fa_mtcnn (it owns the workspace, which only grows, so warm calls do not allocate). */
faceau_status fa_mtcnn_detect(fa_mtcnn *d, const fa_image *bgr, fa_face_box *boxes, int max_boxes,
                              int *n, fa_err *err);
/* DetectSingleFaceMTCNN's choice: the widest box (first of equals), or with a preference
 * point (pref_x, pref_y both != -1) the one whose centre is nearest it. -1 if n <= 0. */
int fa_mtcnn_pick_single(const fa_face_box *boxes, int n, int pref_x, int pref_y);

/* Sub-steps, usable alone (and tested alone). */
/* Pyramid: fills up to max scales and level sizes (ceil(w*s), ceil(h*s)); returns the count
 * OpenFace uses (<= 0 means none: the image is smaller than min_face). */
int fa_mtcnn_scales(int width, int height, int min_face, double *scales, int *lw, int *lh, int max);
/* A convolution layer (valid, stride 1, cross-correlation) with bias and optional PReLU. */
typedef struct fa_conv {
    int cin, cout, kh, kw, cpad; /* cpad: cout rounded up to 16 */
    float *w;                    /* kh x (kw*cin) x cpad */
    float *bias, *slope;         /* cpad each; slope NULL = no PReLU */
    int avx2;                    /* AVX2+FMA kernel (CPU has it and FACEAU_NO_AVX2 is unset) */
} fa_conv;
/* kernels: cin*cout matrices kh x kw in OpenFace's file order (input-major); slope may be NULL. */
faceau_status fa_conv_init(fa_conv *c, int cin, int cout, int kh, int kw, const float *kernels,
                           const float *bias, const float *slope, fa_err *err);
void fa_conv_free(fa_conv *c);
/* in: h x w x cin; out: (h-kh+1) x (w-kw+1) x cout. */
void fa_conv_run(const fa_conv *c, const float *in, int h, int w, float *out);
/* OpenFace's max_pooling: round((n-k)/s)+1 outputs, windows clipped at the border. */
int fa_pool_out(int n, int k, int s);
void fa_maxpool(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy, int oh,
                int ow, float *out);
/* cv::resize(INTER_LINEAR) of a float BGR image to dw x dh, bit-exact with OpenCV 4.6. The
 * source is a virtual sw x sh image whose pixel (r, c) is img's (r + y0, c + x0) converted to
 * float, or 0 outside img (OpenFace's zero-padded crop). Writes output rows row0..row0+nrows-1
 * (dw*3 floats each) to out; ftmp holds 12*dw floats, itmp 3*dw ints. */
void fa_resize_linear(const fa_image *img, int x0, int y0, int sw, int sh, int dw, int dh,
                      int row0, int nrows, float *out, float *ftmp, int *itmp);
/* OpenFace's non_maximum_supression on boxes (as cv::Rect, rounded): keep receives the kept
 * indices, best first; returns their count. thr: overlap threshold; use_min: overlap over the
 * smaller area instead of the union. scratch: 2n ints. */
int fa_mtcnn_nms(const fa_face_box *b, int n, float thr, int use_min, int *keep, int *scratch);
/* apply_correction (corr: dx1, dy1, dx2, dy2), rectify, and the final box correction. */
void fa_mtcnn_correct(fa_face_box *b, const float corr[4], int add1);
void fa_mtcnn_rectify(fa_face_box *b);
void fa_mtcnn_final(fa_face_box *b);

/* ---- visualisation (vis.c) -------------------------------------------------------------- */
/* Writes img as an 8-bit RGB PNG with each box drawn as a 2-px green rectangle. */
faceau_status fa_png_write_boxes(const char *path, const fa_image *img, const fa_face_box *boxes,
                                 int n, fa_err *err);


#endif
