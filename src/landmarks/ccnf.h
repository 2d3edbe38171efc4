/* ccnf.h - OpenFace's CCNF patch experts (Patch_experts + CCNF_patch_expert) for one scale:
 * loading a ccnf_patches_*.txt file (binary despite the name), the Sigma matrices
 * (CCNF_patch_expert::ComputeSigmas), view selection (Patch_experts::GetViewIdx) and the
 * response maps of Patch_experts::Response / CCNF_patch_expert::ResponseOpenBlas.
 *
 * Threading: a loaded fa_ccnf is immutable once fa_ccnf_prepare has run for every window size
 * in use, so many trackers/threads may share it. Everything a response computation writes lives
 * in an fa_ccnf_ws (one per tracker or thread), which grows on first use and is reused, so warm
 * calls do not allocate; that includes the Sigmas of the lazy slots (fa_ccnf_plan_keep), which
 * each workspace computes for the views it fits. Each landmark's map depends only on its own expert and crop
 * (fa_ccnf_landmark_response), so landmarks can be split over threads. */
#ifndef FACEAU_LANDMARKS_CCNF_H
#define FACEAU_LANDMARKS_CCNF_H

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"
#include "landmarks/warp.h"

#define FA_CCNF_MAX_WINDOW 31   /* largest response window side accepted */
#define FA_CCNF_MAX_SUPPORT 31  /* largest expert patch side accepted from a file */
#define FA_CCNF_MAX_SLOTS 8     /* distinct window sizes that can be prepared at once */

/* One landmark's expert in one view (CCNF_patch_expert). n_neurons == 0: an empty expert (the
 * landmark is invisible in that view; the file stores it as such). */
typedef struct fa_ccnf_expert {
    int width, height;    /* support of every neuron (11 x 11 in the shipped files) */
    int n_neurons;
    /* OpenFace's weight_matrix: n_neurons rows of 1 + width*height floats: (float)bias, then
     * (float)(w * (float)norm_weights) over the patch in column-major order (x outer, y inner),
     * the order im2colContrastNormBias lays out a window. */
    float *weights;
    double *alpha;        /* n_neurons */
    double *betas;        /* n_betas of the file (0 in the eye models) */
    double confidence;    /* patch_confidence */
    /* Sigma (window² x window²) per prepared slot (fa_ccnf.slot_window), stored column-major
     * (sigma[k*window² + n] = Sigma(n, k), the layout the product with the response streams);
     * NULL for an empty expert or an unprepared slot. */
    float *sigma[FA_CCNF_MAX_SLOTS];
    /* The FA_CPU_* kernels its Sigma and responses run (fa_cpu_features() at fa_ccnf_load, so
     * FACEAU_NO_AVX2=1 picks the portable loops; a hand-made expert with 0 runs them too). The
     * bits are the same either way. */
    unsigned cpu;
} fa_ccnf_expert;

/* The sigma components stored for one window size. */
typedef struct fa_ccnf_window {
    int size;             /* response window side */
    int n_comp;           /* components (3 in general/inner, 0 in the eye models) */
    float *comp;          /* n_comp matrices of size² x size², row-major */
} fa_ccnf_window;

/* A slot whose Sigmas are computed per workspace (fa_ccnf_plan_keep): what computing one takes.
 * The model keeps these (a few hundred KB) instead of the Sigmas (12 MB for the general model's
 * window 11); each fa_ccnf_ws computes the Sigmas of the views it fits, when it first needs
 * them, into a cache of its own. */
typedef struct fa_ccnf_lazy {
    int nd;               /* distinct Sigmas */
    int *group;           /* per expert (view-major) its Sigma, or -1 (empty); NULL: not lazy */
    int *rep;             /* per distinct Sigma its first expert (in group's block) */
    int *pos;             /* SigmaInv's possibly non-zero entries */
    size_t n_pos;
    float *comp;          /* the window's components (n_comp window^4 floats), owned */
    int n_comp;
    int cap;              /* Sigmas a workspace keeps: the most distinct ones any view needs
                           * with the frontal view's */
    /* 1: no workspace keeps them: each response computes its landmarks' Sigmas as it goes (a
     * window used only on the few frames that fit from a detection or after a failure; a
     * detection's hypotheses share theirs, fa_ccnf_batch) */
    int per_call;
} fa_ccnf_lazy;

typedef struct fa_ccnf {
    double patch_scaling; /* the scale the experts were trained at (0.25, 0.35, 0.5, 1, 1.5) */
    int n_views, n_points;
    double (*centers)[3]; /* n_views view centres (pitch, yaw, roll) in radians, (deg*pi)*(1/180) */
    int *visibility;      /* n_views x n_points flags, as stored */
    int n_windows;
    fa_ccnf_window *windows;
    int n_betas;          /* betas per expert = components of the first window */
    fa_ccnf_expert *experts; /* n_views x n_points, view-major */
    int support;          /* widest expert support (width or height) in the file */
    int n_slots;
    int slot_window[FA_CCNF_MAX_SLOTS]; /* window size of each prepared Sigma slot */
    /* each slot's distinct Sigmas (experts with the same sum(alpha) and betas share one; the
     * experts' sigma pointers point in here) */
    float *sigma_store[FA_CCNF_MAX_SLOTS];
    /* slots computed per workspace (lazy[s].group != NULL; the experts' sigma[s] are NULL) */
    fa_ccnf_lazy lazy[FA_CCNF_MAX_SLOTS];
    /* a loaded model's components and expert arrays, in one block (NULL: hand-made, each array
     * owned by its expert, or borrowed) */
    void *arena;
    /* the arrays are in a caller's fa_large_arena (fa_ccnf_load_in), freed with it */
    int borrowed;
    /* the components are gone (fa_ccnf_drop_components): no window can be prepared any more */
    int comps_dropped;
} fa_ccnf;

/* Reads an OpenFace CCNF patch-expert file (Patch_experts::Read_CCNF_patch_experts). A missing,
 * truncated or malformed file fails naming the file and what is wrong; every size is checked
 * before anything is allocated. On failure c is left empty (safe to free). */
faceau_status fa_ccnf_load(const char *path, fa_ccnf *c, fa_err *err);
/* The same with the arrays carved from arena (which must outlive c) and, if comps is not NULL,
 * the sigma components from comps: they are needed only to prepare windows, so a loader that
 * prepares every window in use at once frees comps after fa_ccnf_drop_components (the landmark
 * model keeps 3.6 MB less). */
faceau_status fa_ccnf_load_in(const char *path, fa_ccnf *c, fa_large_arena *arena,
                              fa_large_arena *comps, fa_err *err);
/* Forgets the components (windows[].comp = NULL); a later prepare of a new window fails with
 * FACEAU_ERR_STATE. */
void fa_ccnf_drop_components(fa_ccnf *c);
void fa_ccnf_free(fa_ccnf *c);

/* CCNF_patch_expert::ComputeSigmas for every non-empty expert at this window size (1..
 * FA_CCNF_MAX_WINDOW): Sigma = inv(2 (sum(alpha) I + sum_b (float)beta_b S_b)) by OpenCV's float
 * Cholesky, with S_b the file's components for window² rows (none if the file has none for this
 * size, as in the eye models). Idempotent; call it for each window size in use before sharing c
 * between threads (OpenFace computes the same lazily). Errors: FACEAU_ERR_MODEL_CORRUPT if a
 * matrix is not positive definite, FACEAU_ERR_INVALID_ARG for a window out of range or more
 * than FA_CCNF_MAX_SLOTS sizes, FACEAU_ERR_NOMEM; c is unchanged on failure. Experts with
 * equal sum(alpha) and betas share one Sigma (half of them in the shipped files). */
faceau_status fa_ccnf_prepare(fa_ccnf *c, int window, fa_err *err);
/* fa_ccnf_prepare for several models and windows in a row (a model load): the Sigmas shared out
 * over pool's threads (NULL: the caller alone; the same bits for any count), one scratch
 * buffer (work, cap floats; start NULL, 0) reused by every call, freed by fa_ccnf_prep_free,
 * and the Sigmas stored in arena (NULL: a block of the model's own; else the arena's owner
 * keeps them and must outlive the model). */
typedef struct fa_ccnf_prep {
    fa_pool *pool;
    float *work;
    size_t cap;
    fa_large_arena *arena;
} fa_ccnf_prep;
faceau_status fa_ccnf_prepare_with(fa_ccnf *c, int window, fa_ccnf_prep *prep, fa_err *err);
void fa_ccnf_prep_free(fa_ccnf_prep *prep);

/* fa_ccnf_prepare in steps, so that a loader can run the Sigma batches of many windows and
 * models in one pool batch: fa_ccnf_plan_make finds the distinct Sigmas (todo = 0: the window
 * is prepared already; errors as fa_ccnf_prepare's); the caller points store at
 * fa_ccnf_plan_bytes bytes, runs fa_ccnf_plan_run for job = 0..fa_ccnf_plan_jobs-1 (any
 * threads, any order; each with its own fa_ccnf_plan_work_floats(window) floats of scratch),
 * then fa_ccnf_plan_finish (one at a time per model) checks them and fills the slot; owned:
 * store if the model is to free it (a fa_malloc_large block), else NULL. finish always
 * releases the plan; fa_ccnf_plan_free drops one that is not finished. */
typedef struct fa_ccnf_plan {
    fa_ccnf *c;
    int window, todo;
    const float *comp;
    int n_comp;
    int nd;               /* distinct Sigmas */
    int *group;           /* per expert its Sigma, or -1 (empty); then rep, group_ok */
    int *rep, *group_ok;  /* per distinct Sigma: its first expert, and whether it exists */
    int *pos;             /* SigmaInv's possibly non-zero entries */
    size_t n_pos;
    float *store;         /* nd Sigmas, set by the caller */
} fa_ccnf_plan;
faceau_status fa_ccnf_plan_make(fa_ccnf *c, int window, fa_ccnf_plan *P, fa_err *err);
size_t fa_ccnf_plan_bytes(const fa_ccnf_plan *P);
long fa_ccnf_plan_jobs(const fa_ccnf_plan *P);
size_t fa_ccnf_plan_work_floats(int window);
void fa_ccnf_plan_run(const fa_ccnf_plan *P, long job, float *work);
faceau_status fa_ccnf_plan_finish(fa_ccnf_plan *P, float *owned, fa_err *err);
void fa_ccnf_plan_free(fa_ccnf_plan *P);
/* fa_ccnf_plan_finish without the Sigmas: the slot is filled with what computing them takes
 * (fa_ccnf_lazy; always releases the plan) and each fa_ccnf_ws computes those of the views it
 * fits (per_call: each response those of its landmarks), bit for bit the Sigmas
 * fa_ccnf_plan_finish would keep. A Sigma that is not positive definite fails the response
 * that needs it, or with per_call this call (all are checked here); FACEAU_ERR_MODEL_CORRUPT. */
faceau_status fa_ccnf_plan_keep(fa_ccnf_plan *P, int per_call, fa_err *err);
/* fa_ccnf_plan_keep in steps, so that a loader can check a per-call slot's Sigmas on its
 * threads: the slot without the check (*slot: the slot made, -1 if the window was prepared
 * already); fa_ccnf_lazy_check for groups g0..g1-1 (any threads, disjoint ranges, each with its
 * own fa_ccnf_lazy_check_floats(window) floats of scratch) sets ok[g] for each distinct Sigma;
 * fa_ccnf_lazy_verdict on all lazy[slot].nd of them fails as fa_ccnf_plan_keep would (the
 * first that is not positive definite). */
faceau_status fa_ccnf_plan_keep_unchecked(fa_ccnf_plan *P, int per_call, int *slot,
                                         fa_err *err);
size_t fa_ccnf_lazy_check_floats(int window);
void fa_ccnf_lazy_check(const fa_ccnf *c, int slot, int g0, int g1, unsigned char *ok,
                        float *work);
faceau_status fa_ccnf_lazy_verdict(const fa_ccnf *c, int slot, const unsigned char *ok,
                                   fa_err *err);
/* The prepared Sigma slot for window, or -1. */
int fa_ccnf_slot(const fa_ccnf *c, int window);

/* The widest expert support of the file (11 in the shipped ones); cached by the loader. */
int fa_ccnf_max_support(const fa_ccnf *c);

/* The Sigma computation of one expert alone: comp holds n_comp window² x window² matrices (may
 * be NULL when n_comp is 0); sigma receives window² x window² floats, row-major; scratch holds
 * window² x window² floats. Returns 0 if the matrix is not positive definite (sigma zeroed, as
 * cv::invert leaves it), else 1. */
int fa_ccnf_compute_sigma(const fa_ccnf_expert *e, const float *comp, int n_comp, int window,
                          float *sigma, float *scratch);

/* Patch_experts::GetViewIdx: the view whose centre is nearest (squared distance in float) to
 * the rotation g[1..3]; the first of equals. */
int fa_ccnf_view(const fa_ccnf *c, const float g[6]);

/* ---- responses ------------------------------------------------------------------------- */

/* Floats of scratch fa_ccnf_landmark_response needs for window and an expert of support
 * sw x sh. */
size_t fa_ccnf_scratch_floats(int window, int sw, int sh);

/* CCNF_patch_expert::ResponseOpenBlas on one area of interest: area is (window+height-1) rows
 * of (window+width-1) floats (row-major, area_stride floats apart); sigma_t is the expert's
 * Sigma for window, column-major as fa_ccnf_expert stores it (NULL only for an empty expert).
 * Writes window x window floats (row-major, [y][x]) to out: im2colContrastNormBias, the
 * neurons 2 alpha / (1 + expf(-(w . x))) summed over neurons with alpha > 1e-4, times Sigma,
 * then shifted so that the minimum is >= 0. An empty expert gives zeros. Uses AVX2+FMA kernels
 * when e->cpu has both (same bits either way). */
void fa_ccnf_landmark_response(const fa_ccnf_expert *e, const float *sigma_t, const float *area,
                               int area_stride, int window, float *scratch, float *out);

/* Patch_experts::Response for one scale. */
typedef struct fa_ccnf_response {
    int n;                     /* landmarks (pdm->n == c->n_points) */
    int window;
    int slot;                  /* the prepared Sigma slot of window */
    int view;                  /* GetViewIdx */
    const int *visible;        /* n flags of the view (c->visibility row); maps of invisible
                                * landmarks are zero (OpenFace leaves them uncomputed) */
    float *maps;               /* n maps of window x window floats, landmark i at
                                * maps + i*window*window, row-major [y][x] */
    float sim_img_to_ref[4];   /* 2x2 row-major: AlignShapesWithScale(image shape, reference) */
    float sim_ref_to_img[4];   /* its inverse (Matx22f::inv, DECOMP_LU) */
    float *shape2d;            /* 2n: the current landmarks (CalcShape2D), x0.. then y0.. */
    /* per landmark its Sigma for the view (a lazy slot's, in the workspace's cache), or NULL:
     * the experts' own (e->sigma[slot]) */
    const float *const *sigma;
} fa_ccnf_response;

/* A workspace also keeps the Sigmas of the lazy slots it used (fa_ccnf_lazy.cap of each, the
 * least recently used view's replaced first): it must not be used with a model other than the
 * ones it has seen while they are loaded (it tells them apart by address). */
typedef struct fa_ccnf_ws fa_ccnf_ws;
faceau_status fa_ccnf_ws_create(fa_ccnf_ws **out, fa_err *err);
void fa_ccnf_ws_free(fa_ccnf_ws *ws);

/* Patch_experts::Response(responses, sim_ref_to_img, sim_img_to_ref, grey, pdm, g, p_local,
 * window, scale) with c = the experts of that scale: the view from g; the landmarks
 * (CalcShape2D) and the reference shape (CalcShape2D with g = (patch_scaling, 0,0,0,0,0));
 * the similarity between them; for every visible landmark the (window + support - 1)² area of
 * interest cropped with warpAffine(WARP_INVERSE_MAP | INTER_LINEAR) around the landmark and its
 * response map. grey is the float frame (fa_grey_from_bgr). window must
 * have been prepared (fa_ccnf_prepare), else FACEAU_ERR_STATE. *out points into ws (valid until
 * the next call with ws). pdm->n must equal c->n_points. */
faceau_status fa_ccnf_response_compute(const fa_ccnf *c, const fa_pdm *pdm, const float g[6],
                                       const float *p_local, const fa_grey *grey, int window,
                                       fa_ccnf_ws *ws, const fa_ccnf_response **out, fa_err *err);

/* The two halves of fa_ccnf_response_compute, for callers that split the landmarks over
 * threads. fa_ccnf_response_begin does everything but the maps (view, shapes, similarities;
 * same checks and errors). fa_ccnf_response_landmarks then fills the maps of landmarks
 * i0..i1-1 of r (the image must be the same for all calls); buf is the caller's
 * fa_ccnf_worker_floats(c, window) floats, one buffer per concurrent call. Disjoint ranges may
 * run concurrently; the maps do not depend on how the landmarks are split. */
faceau_status fa_ccnf_response_begin(const fa_ccnf *c, const fa_pdm *pdm, const float g[6],
                                     const float *p_local, int window, fa_ccnf_ws *ws,
                                     const fa_ccnf_response **out, fa_err *err);
void fa_ccnf_response_landmarks(const fa_ccnf *c, const fa_grey *grey, const fa_ccnf_response *r,
                                int i0, int i1, float *buf);
size_t fa_ccnf_worker_floats(const fa_ccnf *c, int window);

/* Patch_experts::Response for several fits at once (DetectLandmarksInImage's rotation
 * hypotheses all start with one window) in a window whose Sigmas each response computes
 * (fa_ccnf_per_call): every distinct Sigma the fits' views need is computed once and used for
 * all the maps that need it, where fit after fit would compute one per landmark each time. The
 * maps are those of fa_ccnf_response_compute with each (g[k], p_local[k]), bit for bit.
 * fa_ccnf_batch_begin sets up the fits' views, shapes and similarities (errors as
 * fa_ccnf_response_begin's, FACEAU_ERR_STATE if the window is not per call); then
 * fa_ccnf_batch_run for job = 0..fa_ccnf_batch_jobs-1 (any threads, any order, each with its
 * own fa_ccnf_worker_floats(c, window) buffer) fills the maps; fa_ccnf_batch_response(b, k) is
 * fit k's response (valid until fa_ccnf_batch_free). It allocates its maps (count x n x
 * window² floats) and frees them with it. */
typedef struct fa_ccnf_batch fa_ccnf_batch;
int fa_ccnf_per_call(const fa_ccnf *c, int window);
faceau_status fa_ccnf_batch_begin(const fa_ccnf *c, const fa_pdm *pdm, const float (*g)[6],
                                  const float *const *p_local, int count, int window,
                                  fa_ccnf_batch **out, fa_err *err);
long fa_ccnf_batch_jobs(const fa_ccnf_batch *b);
void fa_ccnf_batch_run(const fa_ccnf_batch *b, const fa_grey *grey, long job, float *buf);
const fa_ccnf_response *fa_ccnf_batch_response(const fa_ccnf_batch *b, int k);
void fa_ccnf_batch_free(fa_ccnf_batch *b);

/* fa_align_shapes_with_scale (AlignShapesWithScale) is in cv/cv.h. */
_Static_assert(FA_PDM_MAX_POINTS <= FA_ALIGN_MAX_POINTS, "a PDM shape fits the alignment");

#endif
