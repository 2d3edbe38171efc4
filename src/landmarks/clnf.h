/* clnf.h - OpenFace's CLNF landmark detector (LandmarkDetectorModel.cpp, LandmarkDetectorFunc.cpp):
 * the model (main 68-point CLNF + hierarchical parts + validator), per-face state, NU-RLMS fitting
 * over scales, DetectLandmarks, multi-hypothesis detection in an image and video tracking.
 *
 * A loaded fa_clnf is immutable and may be shared by threads; everything that changes while
 * fitting a face lives in its fa_clnf_face (small state + a workspace that grows on the first
 * frame and is then reused: later frames allocate nothing).
 *
 * The lower half of this header exposes the fitting core (KDE mean-shift, NU_RLMS) on plain
 * arrays so that it can be tested on synthetic response maps.
 */
#ifndef FACEAU_LANDMARKS_CLNF_H
#define FACEAU_LANDMARKS_CLNF_H

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"
#include "landmarks/pdm_fit.h"
#include "landmarks/warp.h"

/* ---- model and per-face state ----------------------------------------------------------- */

#define FA_CLNF_MAX_SCALES 4 /* window-size slots (FaceModelParameters has 4) */
#define FA_CLNF_MAX_PARTS 4

/* FaceModelParameters, the fields the CLNF fit reads (LandmarkDetectorParameters.cpp, the parts'
 * overrides in CLNF::Read). */
typedef struct fa_clnf_params {
    int n_iter;                            /* num_optimisation_iteration (5) */
    int n_windows;                         /* entries in the two window lists */
    int win_init[FA_CLNF_MAX_SCALES];      /* window_sizes_init (11, 9, 7, 5) */
    int win_small[FA_CLNF_MAX_SCALES];     /* window_sizes_small (0, 9, 7, 0) */
    float sigma, reg_factor, weight_factor;
    int refine_parameters;                 /* per-scale reg/sigma/weight adaptation */
    int refine_hierarchical, validate;
    float validation_boundary;             /* 0.725 */
    int reinit_video_every;                /* 2 */
} fa_clnf_params;

typedef struct fa_clnf fa_clnf;

/* Reads main_clnf_general.txt (OpenFace's CLNF::Read): the LandmarkDetector module (PDM, patch
 * experts per scale), each LandmarkDetector_part with its point mapping, and the
 * DetectionValidator. main_path is the main file; the files it names are relative to it. A
 * missing or malformed file fails naming it. */
faceau_status fa_clnf_load(const char *main_path, fa_clnf **out, fa_err *err);
/* fa_clnf_load with its work on `threads` threads (0: one per online CPU, at most 8); the model
 * is the same bytes for any count. */
faceau_status fa_clnf_load_threads(const char *main_path, int threads, fa_clnf **out, fa_err *err);
void fa_clnf_free(fa_clnf *m); /* NULL is fine */
/* A digest (64-bit FNV-1a) of every table the load read or computed: PDMs, CCNF arrays, Sigmas
 * (for the windows whose Sigmas each face computes, what they are computed from: the components,
 * which experts share one, the cache size), KDE grids, parameters and part mappings (not the
 * validator), for tests that compare loads. */
uint64_t fa_clnf_digest(const fa_clnf *m);

/* The main model's PDM and parameters (read-only views). */
const fa_pdm *fa_clnf_pdm(const fa_clnf *m);
const fa_clnf_params *fa_clnf_main_params(const fa_clnf *m);
/* The hierarchical parts (inner, left_eye_28, right_eye_28 in the general model). Part k's name
 * (NULL if k is out of range), PDM, parameters and point mapping: *n_map pairs (index in the
 * main model, index in the part). Any out-pointer may be NULL. */
int fa_clnf_n_parts(const fa_clnf *m);
const char *fa_clnf_part(const fa_clnf *m, int k, const fa_pdm **pdm,
                         const fa_clnf_params **params, int *n_map, const int (**map)[2]);

typedef struct fa_clnf_ws fa_clnf_ws; /* per-face scratch (responses, images, validator) */

/* One face being fitted/tracked (CLNF's mutable members). */
typedef struct fa_clnf_face {
    float g[6];                       /* params_global */
    float p[FA_PDM_MAX_MODES];        /* params_local */
    float landmarks[2 * FA_PDM_MAX_POINTS]; /* detected_landmarks (x.., y..) */
    int detection_success, tracking_initialised, failures_in_a_row;
    float confidence;                 /* detection_certainty */
    float model_likelihood;
    /* the hierarchical parts' last parameters and landmarks, in fa_clnf_part order (the eye
     * parts' landmarks are the CSV's eye_lmk_x/y) */
    float part_g[FA_CLNF_MAX_PARTS][6];
    float part_p[FA_CLNF_MAX_PARTS][FA_PDM_MAX_MODES];
    float part_landmarks[FA_CLNF_MAX_PARTS][2 * FA_PDM_MAX_POINTS];
    fa_clnf_ws *ws;
} fa_clnf_face;

/* A fresh face (CLNF::Reset: g = (1,0,0,0,0,0), p = 0, failures -1, likelihood -10). */
faceau_status fa_clnf_face_init(fa_clnf_face *f, fa_err *err);
/* Threads (1..FA_POOL_MAX_THREADS, caller included; fa_clnf_face_init starts with 1) that compute
 * the face's patch-expert responses, landmarks split between them: every number is the same for
 * any count. Starts a worker pool owned by the face (freed by fa_clnf_face_free); a face is then
 * fitted by one caller at a time, as always. */
faceau_status fa_clnf_face_set_threads(fa_clnf_face *f, int threads, fa_err *err);
void fa_clnf_face_reset(fa_clnf_face *f);
void fa_clnf_face_free(fa_clnf_face *f);

/* CLNF::DetectLandmarks(grey, params with window_sizes_current = windows): fits from f's current
 * g, p over the scales whose window is > 0, runs the hierarchical parts, then the validator.
 * windows has fa_clnf_main_params(m)->n_windows entries (win_init or win_small, or any other).
 * grey: the frame as fa_grey_from_bgr gives it (cvtColor BGR2GRAY, as float). Sets f->g, p,
 * landmarks, the parts' state, detection_success, confidence and model_likelihood (the latter
 * only when a scale computes it, as OpenFace); *success = detection_success. Tracking counters
 * are not touched. */
faceau_status fa_clnf_detect_landmarks(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                       const int *windows, int *success, fa_err *err);

/* DetectLandmarksInImage(grey, box, multi_view): for each rotation hypothesis (11 with
 * multi_view, else only (0,0,0)) p = 0, g = CalcParams(box, rotation), DetectLandmarks with the
 * init windows; keeps the hypothesis with the highest model_likelihood (first of equals).
 * box = (x, y, width, height) as MTCNN gives it to OpenFace. */
faceau_status fa_clnf_detect_image(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                   const float box[4], int multi_view, int *success, fa_err *err);

/* DetectLandmarksInVideo for one frame: tracking from the previous frame (small windows after a
 * success, init windows after a failure), re-detection with mtcnn when OpenFace would run it
 * (first frame, then every 12th frame while uninitialised, or every 2nd failure): the widest
 * MTCNN face, the 11-hypothesis DetectLandmarksInImage, and the restore-on-failed-redetection
 * rule. frame is the BGR frame (for MTCNN), grey its grey image. *success is what
 * DetectLandmarksInVideo returns (FeatureExtraction's `success` column; true after the first
 * detection even when the validator rejects it, while f->detection_success keeps the
 * validator's verdict). */
faceau_status fa_clnf_track_video(const fa_clnf *m, fa_clnf_face *f, fa_mtcnn *mtcnn,
                                  const fa_image *frame, const fa_grey *grey, int *success,
                                  fa_err *err);

/* fa_clnf_track_video in steps, so that a frame's validator can run beside the next frame's fit
 * (run.c's pipeline): fa_clnf_track_fit is the tracked frame's DetectLandmarks up to the
 * validator (windows from f->detection_success; only when f->tracking_initialised), then, if
 * fa_clnf_fit_needs_validator, fa_clnf_validate gives the confidence (f and grey only read),
 * and fa_clnf_track_finish applies the verdict and the rest of DetectLandmarksInVideo (failure
 * counters, re-detection on frame). The three in a row are fa_clnf_track_video for a tracked
 * frame, number for number. fa_clnf_validate is also fa_clnf_validate_warp_bgr (the crop warped
 * onto the validator's template, fa_clnf_validator_floats floats, from the grey of the frame's
 * BGR pixels, made as sampled) then fa_clnf_validate_cnn (the CNN on it), on any thread with
 * its own workspace. */
typedef struct fa_validator_ws fa_validator_ws;
faceau_status fa_clnf_track_fit(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                int *fit_ok, fa_err *err);
int fa_clnf_fit_needs_validator(const fa_clnf *m, int fit_ok);
faceau_status fa_clnf_validate(const fa_clnf *m, fa_validator_ws *ws, const fa_grey *grey,
                               const fa_clnf_face *f, float *confidence, fa_err *err);
size_t fa_clnf_validator_floats(const fa_clnf *m);
faceau_status fa_clnf_validate_warp_bgr(const fa_clnf *m, fa_validator_ws *ws, const fa_clnf_face *f,
                                        const fa_image *frame, int *view, float *warped, int *empty,
                                        fa_err *err);
faceau_status fa_clnf_validate_cnn(const fa_clnf *m, fa_validator_ws *ws, int view,
                                   const float *warped, int empty, float *confidence, fa_err *err);
faceau_status fa_clnf_track_finish(const fa_clnf *m, fa_clnf_face *f, fa_mtcnn *mtcnn,
                                   const fa_image *frame, const fa_grey *grey, int fit_ok,
                                   float confidence, int *success, fa_err *err);

/* ---- the fitting core on plain arrays (fit.c) ------------------------------------------- */

/* The precalculated KDE grid of CLNF::NonVectorisedMeanShift_precalc_kde for one window size:
 * row (round(dx/0.1) * steps + round(dy/0.1)) holds exp(a ((dy - ii)^2 + (dx - jj)^2)) for the
 * ws x ws response cells (ii row, jj column); steps = (int)(ws / 0.1f + 0.5). OpenFace caches it
 * per window size with the `a` of the first call. Only the cells near the window's centre are
 * stored (fit.c says why); fa_kde_row gives any. */
#define FA_KDE_MAX_COMPUTED 31 /* wider windows store every cell */
typedef struct fa_kde {
    int ws, steps;
    float a;
    int lo, hi;   /* the stored cells: dx and dy steps lo..hi-1 */
    float *tab;   /* (hi - lo)^2 rows of ws^2, dx step major */
    unsigned cpu; /* FA_CPU_* kernels the mean-shift runs (fa_cpu_features() at fa_kde_init) */
    int borrowed; /* tab is the caller's (fa_kde_init_in), not freed by fa_kde_free */
} fa_kde;

faceau_status fa_kde_init(fa_kde *k, int ws, float a, fa_err *err);
/* fa_kde_init in steps, for a loader that fills many grids on several threads: the grid's
 * floats (0 for a window out of range); the set-up on the caller's tab of that many floats
 * (kept by the caller); then the rows of x = x0..x1-1 (the outer loop, 0..kde_steps), in any
 * order or split. */
size_t fa_kde_floats(int ws);
faceau_status fa_kde_init_in(fa_kde *k, int ws, float a, float *tab, fa_err *err);
int fa_kde_fill_steps(const fa_kde *k);
void fa_kde_fill(const fa_kde *k, int x0, int x1);
void fa_kde_free(fa_kde *k);
/* The grid's row for dx step `row` and dy step `col` (0..steps-1): in the table, or computed
 * into scratch (ws^2 floats, ws <= FA_KDE_MAX_COMPUTED) when not stored. */
const float *fa_kde_row(const fa_kde *k, int row, int col, float *scratch);

/* a = -0.5 / (sigma * sigma) as NU_RLMS computes it (float square, double division). */
float fa_kde_a(float sigma);

/* The mean-shift of NonVectorisedMeanShift_precalc_kde: for each visible landmark i, the
 * response map maps + i*ws*ws (row-major, ws = kde->ws) weighted by the KDE row nearest
 * (dxs[i], dys[i]) (clamped to [0, ws - 0.1]); ms[i], ms[n + i] = centroid - (dx, dy).
 * Invisible landmarks (visible[i] == 0) get 0. */
void fa_clnf_mean_shift(const fa_kde *kde, const float *maps, const int *visible, int n,
                        const float *dxs, const float *dys, float *ms);

/* Inputs of one NU_RLMS call besides the parameters it updates. */
typedef struct fa_nurlms_in {
    const fa_pdm *pdm;
    const float *maps;          /* n response maps of ws x ws (Patch_experts::Response) */
    int ws;
    const int *visible;         /* n: visibilities[scale][view] */
    float sim_img_to_ref[4];    /* 2x2 row-major */
    float sim_ref_to_img[4];
    const float *base_shape;    /* 2n: the shape the responses are centred on */
    const fa_kde *kde;          /* the grid for ws */
    const float *weights;       /* 2n diagonal of W, or NULL for the identity */
    float sigma, reg_factor;
    int n_iter;
    int rigid;                  /* 1: 6 rigid parameters, no regularisation */
    int compute_lhood;
} fa_nurlms_in;

/* CLNF::NU_RLMS: updates g, p in place (from the initial values they hold) and returns the
 * log-likelihood (0 unless compute_lhood). landmark_lhoods (n floats, may be NULL) receives the
 * per-landmark sums (-1e8 for invisible ones) when compute_lhood. No allocation. */
float fa_clnf_nu_rlms(const fa_nurlms_in *in, float g[6], float *p, float *landmark_lhoods);

/* The per-scale adaptation of Fit when refine_parameters (ps = patch_scaling[min(scale, 2)]):
 * reg = reg0 - 15 log2(ps/0.25) (floored at 0.001), sigma = sigma0 + 0.25 log2(ps/0.25),
 * wf = wf0 + 2 wf0 log2(ps/0.25), each computed in double from the float inputs. */
void fa_clnf_scale_params(const fa_clnf_params *base, double ps, float *reg, float *sigma,
                          float *wf);

#endif
