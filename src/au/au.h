/* au/au.h - OpenFace's AU stage (not installed): the similarity-aligned face (AlignFaceMask),
 * dlib's FHOG, the AU model banks and their linear predictions, running medians and the
 * post-processing, and the AU names.
 */
#ifndef FACEAU_AU_H
#define FACEAU_AU_H

#include "pdm/pdm.h"

#define FA_ALIGN_SIZE FACEAU_ALIGNED_SIZE                          /* 112 */
#define FA_HOG_CELLS 12
#define FA_HOG_CHANNELS 31
#define FA_GEOM_DIM (3 * FA_N_LANDMARKS + FA_N_MODES)              /* 238 */
#define FA_FEAT_DIM (FACEAU_HOG_SIZE + FA_GEOM_DIM)                 /* 4702 */
_Static_assert(FACEAU_HOG_SIZE == FA_HOG_CELLS * FA_HOG_CELLS * FA_HOG_CHANNELS, "HOG size");
#define FA_N_AU_R FACEAU_N_AU_INTENSITY /* 17 */
#define FA_N_AU_C FACEAU_N_AU_PRESENCE  /* 18 */

/* ---- alignment (align.c) ---------------------------------------------------------------- */
/* OpenFace's AlignFaceMask(frame, landmarks, g, pdm, tris, rigid=true, scale, size, size):
 * similarity-warps the frame to size x size (cv::warpAffine INTER_LINEAR, border 0, reproduced
 * bit-exactly) and zeroes pixels outside the face triangulation. out: size*size*3 BGR bytes,
 * row-major. landmarks: x0..x67, y0..y67. Only g[4], g[5] (tx, ty) are used. sim_scale is a
 * double as in OpenFace (0.7): the brow lift 30/0.7*sim_scale is computed in double. size must
 * be 1..256; tris must have 1..254 triangles. The warp runs the kernels pdm->cpu names (picked
 * when the PDM was loaded). */
faceau_status fa_align_face_mask(const fa_image *frame, const float *landmarks, const float g[6],
                                 const fa_pdm *pdm, const fa_tris *tris, double sim_scale,
                                 int size, uint8_t *out, fa_err *err);
/* Its similarity step, usable alone:
 * Utilities::AlignShapesWithScale on the 24 rigid points of landmarks against (float)sim_scale
 * times the PDM mean's x, y (pdm->n must be 68): A (row-major 2x2 scale-rotation) maps the
 * landmarks onto the scaled mean shape. */
void fa_align_similarity(const float *landmarks, const fa_pdm *pdm, double sim_scale, float A[4]);
/* Asks src (a frame made on demand, or NULL) for every pixel fa_align_face_mask would read from
 * a width x height frame for these arguments. */
void fa_align_face_mask_need(const fa_pixel_source *src, int width, int height,
                             const float *landmarks, const float g[6], const fa_pdm *pdm,
                             double sim_scale, int size);

/* ---- FHOG (hog.c) ----------------------------------------------------------------------- */
/* dlib's extract_fhog_features(cv_image<bgr_pixel>, cell_size) reproduced exactly, on a BGR
 * image. Output: rows x cols cells (rows = (int)(h/cell + 0.5) - 2, likewise cols), 31 channels
 * each, laid out [row][col][channel]. Returns the number of floats written (rows*cols*31) or
 * 0 when the image is too small. out must hold that many. */
size_t fa_fhog(const uint8_t *bgr, int width, int height, int stride, int cell, float *out);
/* fa_fhog with the FA_CPU_* kernels the caller picked once (fa_fhog asks fa_cpu_features()
 * on every call); the bytes are the same either way. */
size_t fa_fhog_cpu(const uint8_t *bgr, int width, int height, int stride, int cell, unsigned cpu,
                   float *out);

/* ---- AU models and linear predictors (models.c) ----------------------------------------- */
/* One of OpenFace's four model banks (static/dynamic SVR, static/dynamic SVM): the weight
 * columns of every AU in the bank, one shared mean. */
typedef struct fa_au_bank {
    int k;          /* AUs in the bank */
    int dim;        /* feature length (4702) */
    double *means;  /* dim; only the first file's means are kept, as OpenFace does */
    int kp;         /* k rounded up to FA_AU_LANES: a weight row's length once loaded */
    double *wt;     /* while loading k x dim (AU j at wt[j*dim]); once loaded dim x kp, each row
                     * padded with zeros (models.c says why) */
    double *bias;   /* k */
    double *cutoff; /* k; dynamic SVR only (-1 elsewhere) */
    double *pos, *neg; /* k; SVM class values */
    char (*names)[16];
} fa_au_bank;

#define FA_MAX_BANK 32 /* AU models in one bank */
#define FA_AU_LANES 4  /* outputs predicted together (a vector of doubles) */
#define FA_AU_BLOCK 8  /* frames fa_au_predict_frames predicts together */
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
/* fa_au_predict for nf (1..FA_AU_BLOCK) frames x[f] at once, into r[f] and c[f]: the same bits
 * as nf calls, with the weights read once. */
void fa_au_predict_frames(const fa_au_models *m, int nf, const double *const *x,
                          const double *median, double *const *r, double *const *c);

/* ---- running medians (median.c) --------------------------------------------------------- */
/* OpenFace's histogram running median (FaceAnalyser::UpdateRunningMedian). */
typedef struct fa_median {
    int dim, bins;
    double min, max;
    /* the bins, in blocks made as samples reach them (median.c says why): blk[i * nblk + k] is
     * the number + 1 of the block holding bins [64 k, 64 k + 64) of dimension i, 0 if none
     * (all zero); block n is in chunks[n / 512] */
    int nblk;
    uint32_t *blk;
    void **chunks;       /* uint16_t bins until count reaches widen_at, then int32_t */
    size_t nchunks, chunk_cap;
    uint32_t used;       /* blocks made */
    int wide;            /* 32-bit bins (for the analyser's life) */
    int *bin_of;         /* dim: the last sample's bins */
    int widen_at;   /* FA_MEDIAN_WIDEN_AT; tests lower it to cross the switch quickly */
    int *med_bin;   /* dim: each dimension's current median bin */
    int *below;     /* dim: samples in the bins before med_bin */
    int *med_cnt;   /* dim: samples in bin med_bin */
    int count;
    double *median; /* dim */
} fa_median;

/* A bin never holds more samples than were added, so 16-bit bins are exact up to 65535 samples
 * (131,070 video frames, as the medians take every other frame): half the memory of OpenFace's
 * int bins for any video shorter than 73 minutes at 30 fps. Past that the histogram moves into
 * 32-bit bins, once. */
#define FA_MEDIAN_WIDEN_AT 65535

faceau_status fa_median_init(fa_median *h, int dim, int bins, double min, double max, fa_err *err);
void fa_median_free(fa_median *h);
void fa_median_reset(fa_median *h);
/* Adds x to the histogram if update, then recomputes the median as OpenFace does. Fails
 * (FACEAU_ERR_NOMEM, the median unchanged) only when the histogram must widen or make a block
 * for a new bin and cannot. */
faceau_status fa_median_update(fa_median *h, const double *x, int update, fa_err *err);
/* The count in bin b of dimension i. */
uint32_t fa_median_bin(const fa_median *h, int i, int b);

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

#endif /* FACEAU_AU_H */
