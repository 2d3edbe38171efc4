/* faceau.c - the context: AU models plus one person's running state, frame by frame, as
 * OpenFace's FaceAnalyser::AddNextFrame does it in FeatureExtraction's video mode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

/* FaceAnalyser's histogram settings and re-prediction window. */
#define HOG_BINS 1000
#define HOG_MIN (-0.005)
#define HOG_MAX 1.0
#define GEOM_BINS 10000
#define GEOM_MIN (-60.0)
#define GEOM_MAX 60.0
#define MAX_INIT_FRAMES 3000
#define SIM_SCALE_AU 0.7

/* Per-frame history kept for the end-of-video post-processing. */
typedef struct history {
    size_t n, cap;
    double *r;              /* n x 17 raw intensities (0 on failed frames) */
    double *c;              /* n x 18 presences */
    unsigned char *success; /* n */
    /* features of the first MAX_INIT_FRAMES successful frames, for re-prediction */
    size_t n_init;
    float *init_hog;  /* n_init x FACEAU_HOG_SIZE */
    double *init_geom; /* n_init x FA_GEOM_DIM */
} history;

struct faceau_ctx {
    faceau_config cfg;
    char model_dir[4096];
    fa_au_models models;
    double load_ms;
    fa_err err;

    fa_median hog_median, geom_median;
    double *median;   /* FA_FEAT_DIM: [hog median, geom median], what dynamic models subtract */
    double *pc_d;     /* 3n x m principal components as double (OpenFace's princ_comp_d) */
    fa_online online;
    long frames;
    int finished;
    history hist;

    double stage_ms[FA_N_STAGES]; /* time spent per sub-stage, for the bench */

    /* the last frame's features */
    uint8_t aligned[FA_ALIGN_SIZE * FA_ALIGN_SIZE * 3];
    float hog[FACEAU_HOG_SIZE];
    double x[FA_FEAT_DIM];
};

faceau_config faceau_default_config(void)
{
    faceau_config c;
    memset(&c, 0, sizeof c);
    c.au_mode = FACEAU_AU_DYNAMIC;
    return c;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void history_free(history *h)
{
    free(h->r);
    free(h->c);
    free(h->success);
    free(h->init_hog);
    free(h->init_geom);
    memset(h, 0, sizeof *h);
}

static faceau_status history_reserve(history *h, fa_err *err)
{
    if (h->n < h->cap)
        return FACEAU_OK;
    size_t cap = h->cap ? h->cap * 2 : 1024;
    double *r = realloc(h->r, cap * FA_N_AU_R * sizeof *r);
    if (r)
        h->r = r;
    double *c = realloc(h->c, cap * FA_N_AU_C * sizeof *c);
    if (c)
        h->c = c;
    unsigned char *s = realloc(h->success, cap);
    if (s)
        h->success = s;
    if (!r || !c || !s)
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory keeping %zu frames of AU history", cap);
    h->cap = cap;
    return FACEAU_OK;
}

void faceau_close(faceau_ctx *ctx)
{
    if (!ctx)
        return;
    fa_au_models_free(&ctx->models);
    fa_median_free(&ctx->hog_median);
    fa_median_free(&ctx->geom_median);
    free(ctx->median);
    free(ctx->pc_d);
    history_free(&ctx->hist);
    free(ctx);
}

static faceau_status ctx_init(faceau_ctx *ctx, fa_err *err)
{
    char errbuf[3584];
    faceau_status st = faceau_models_locate(ctx->cfg.model_dir, ctx->model_dir,
                                            sizeof ctx->model_dir, errbuf, sizeof errbuf);
    if (st)
        return fa_fail(err, st, "%s", errbuf);
    char main_file[4200];
    snprintf(main_file, sizeof main_file, "%s/AU_predictors/%s", ctx->model_dir,
             ctx->cfg.au_mode == FACEAU_AU_DYNAMIC ? "main_dynamic_svms.txt" : "main_static_svms.txt");
    double t0 = now_ms();
    if ((st = fa_au_models_load(main_file, &ctx->models, err)))
        return st;
    ctx->load_ms = now_ms() - t0;
    if ((st = fa_median_init(&ctx->hog_median, FACEAU_HOG_SIZE, HOG_BINS, HOG_MIN, HOG_MAX, err)) ||
        (st = fa_median_init(&ctx->geom_median, FA_GEOM_DIM, GEOM_BINS, GEOM_MIN, GEOM_MAX, err)))
        return st;
    const fa_pdm *pdm = &ctx->models.pdm;
    ctx->median = fa_calloc(FA_FEAT_DIM, sizeof *ctx->median, err, "the AU medians");
    ctx->pc_d = fa_malloc((size_t)3 * pdm->n * pdm->m * sizeof *ctx->pc_d, err, "the PDM");
    if (!ctx->median || !ctx->pc_d)
        return FACEAU_ERR_NOMEM;
    for (int i = 0; i < 3 * pdm->n * pdm->m; i++)
        ctx->pc_d[i] = pdm->pc[i];
    faceau_au_reset(ctx);
    return FACEAU_OK;
}

faceau_status faceau_open(const faceau_config *cfg, faceau_ctx **out, char *errbuf,
                          size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!out)
        return FACEAU_ERR_INVALID_ARG;
    *out = NULL;
    faceau_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "out of memory creating a faceau context");
        return FACEAU_ERR_NOMEM;
    }
    ctx->cfg = cfg ? *cfg : faceau_default_config();
    faceau_status st = ctx_init(ctx, &err);
    if (st) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "%s", err.msg);
        faceau_close(ctx);
        return st;
    }
    *out = ctx;
    return FACEAU_OK;
}

const char *faceau_last_error(const faceau_ctx *ctx)
{
    return ctx ? ctx->err.msg : "no context";
}

double faceau_model_load_ms(const faceau_ctx *ctx)
{
    return ctx ? ctx->load_ms : 0;
}

size_t faceau_au_frame_count(const faceau_ctx *ctx)
{
    return ctx ? ctx->hist.n : 0;
}

void faceau_au_reset(faceau_ctx *ctx)
{
    if (!ctx)
        return;
    fa_median_reset(&ctx->hog_median);
    fa_median_reset(&ctx->geom_median);
    memset(ctx->median, 0, FA_FEAT_DIM * sizeof *ctx->median);
    fa_online_reset(&ctx->online);
    ctx->frames = 0;
    ctx->finished = 0;
    memset(ctx->stage_ms, 0, sizeof ctx->stage_ms);
    ctx->hist.n = 0;
    ctx->hist.n_init = 0;
}

/* Geometry features: [V*p (3n), p (m)] in double, OpenFace's geom_descriptor_frame. */
static void geometry_features(const faceau_ctx *ctx, const float *p_local, double *out)
{
    const fa_pdm *pdm = &ctx->models.pdm;
    int rows = 3 * pdm->n, m = pdm->m;
    for (int i = 0; i < rows; i++) {
        double s = 0;
        for (int j = 0; j < m; j++)
            s += ctx->pc_d[(size_t)i * m + j] * (double)p_local[j];
        out[i] = s;
    }
    for (int j = 0; j < m; j++)
        out[rows + j] = (double)p_local[j];
}

/* Computes the aligned face, HOG and feature vector x of one frame. */
static faceau_status frame_features(faceau_ctx *ctx, const faceau_frame *frame, const float *lm,
                                    int success, faceau_au_result *out)
{
    float p_local[FA_N_MODES] = {0};
    float g[6] = {0};
    double t0 = now_ms(), t1 = t0, t2 = t0;
    if (success) {
        fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
        fa_pdm_calc_params(&ctx->models.pdm, lm, g, p_local);
        t1 = now_ms();
        faceau_status st = fa_align_face_mask(&img, lm, g, &ctx->models.pdm, &ctx->models.tris,
                                              SIM_SCALE_AU, FA_ALIGN_SIZE, ctx->aligned, &ctx->err);
        if (st)
            return st;
        t2 = now_ms();
    } else {
        memset(ctx->aligned, 0, sizeof ctx->aligned);
    }
    if (fa_fhog(ctx->aligned, FA_ALIGN_SIZE, FA_ALIGN_SIZE, FA_ALIGN_SIZE * 3, 8, ctx->hog) !=
        FACEAU_HOG_SIZE)
        return fa_fail(&ctx->err, FACEAU_ERR_STATE, "FHOG of the aligned face has the wrong size");
    for (int i = 0; i < FACEAU_HOG_SIZE; i++)
        ctx->x[i] = ctx->hog[i];
    geometry_features(ctx, p_local, ctx->x + FACEAU_HOG_SIZE);
    double t3 = now_ms();
    ctx->stage_ms[FA_STAGE_PDM] += t1 - t0;
    ctx->stage_ms[FA_STAGE_ALIGN] += t2 - t1;
    ctx->stage_ms[FA_STAGE_HOG] += t3 - t2;
    out->success = success;
    memcpy(out->params_global, g, sizeof g);
    memcpy(out->params_local, p_local, sizeof p_local);
    return FACEAU_OK;
}

static void update_medians(faceau_ctx *ctx, int success)
{
    fa_median_update(&ctx->hog_median, ctx->x, success);
    for (int i = 0; i < FACEAU_HOG_SIZE; i++) /* OpenFace clips the HOG median at 0 */
        if (ctx->hog_median.median[i] < 0)
            ctx->hog_median.median[i] = 0;
    memcpy(ctx->median, ctx->hog_median.median, FACEAU_HOG_SIZE * sizeof *ctx->median);
}

static faceau_status keep_for_reprediction(faceau_ctx *ctx)
{
    history *h = &ctx->hist;
    if (h->n_init >= MAX_INIT_FRAMES)
        return FACEAU_OK;
    if (!h->init_hog) {
        h->init_hog = fa_malloc((size_t)MAX_INIT_FRAMES * FACEAU_HOG_SIZE * sizeof *h->init_hog,
                                &ctx->err, "re-prediction features");
        h->init_geom = fa_malloc((size_t)MAX_INIT_FRAMES * FA_GEOM_DIM * sizeof *h->init_geom,
                                 &ctx->err, "re-prediction features");
        if (!h->init_hog || !h->init_geom)
            return FACEAU_ERR_NOMEM;
    }
    memcpy(h->init_hog + h->n_init * FACEAU_HOG_SIZE, ctx->hog, FACEAU_HOG_SIZE * sizeof *ctx->hog);
    memcpy(h->init_geom + h->n_init * FA_GEOM_DIM, ctx->x + FACEAU_HOG_SIZE,
           FA_GEOM_DIM * sizeof *ctx->x);
    h->n_init++;
    return FACEAU_OK;
}

static faceau_status add_static(faceau_ctx *ctx, faceau_au_result *out)
{
    fa_au_predict(&ctx->models, ctx->x, ctx->median, out->au_intensity, out->au_presence);
    for (int i = 0; i < FA_N_AU_R; i++) {
        double v = out->au_intensity[i];
        out->au_intensity[i] = v < 0 ? 0 : v > 5 ? 5 : v;
    }
    return FACEAU_OK;
}

static faceau_status add_dynamic(faceau_ctx *ctx, int success, faceau_au_result *out)
{
    history *h = &ctx->hist;
    faceau_status st = history_reserve(h, &ctx->err);
    if (st)
        return st;
    ctx->frames++;
    double t0 = now_ms();
    if (ctx->frames % 2 == 1) { /* OpenFace updates the medians on odd frames only */
        update_medians(ctx, success);
        fa_median_update(&ctx->geom_median, ctx->x + FACEAU_HOG_SIZE, success);
        memcpy(ctx->median + FACEAU_HOG_SIZE, ctx->geom_median.median, FA_GEOM_DIM * sizeof *ctx->x);
    }
    double t1 = now_ms();
    double *r = out->au_intensity, *c = out->au_presence;
    fa_au_predict(&ctx->models, ctx->x, ctx->median, r, c);
    ctx->stage_ms[FA_STAGE_MEDIAN] += t1 - t0;
    ctx->stage_ms[FA_STAGE_PREDICT] += now_ms() - t1;
    if (!success) {
        memset(r, 0, FA_N_AU_R * sizeof *r);
        memset(c, 0, FA_N_AU_C * sizeof *c);
    }
    memcpy(h->r + h->n * FA_N_AU_R, r, FA_N_AU_R * sizeof *r);
    memcpy(h->c + h->n * FA_N_AU_C, c, FA_N_AU_C * sizeof *c);
    h->success[h->n] = (unsigned char)(success != 0);
    h->n++;
    if (ctx->cfg.online)
        fa_online_correct(&ctx->online, r, success);
    if (success && (st = keep_for_reprediction(ctx)))
        return st;
    return FACEAU_OK;
}

faceau_status faceau_au_add_frame(faceau_ctx *ctx, const faceau_frame *frame,
                                  const float landmarks[2 * FACEAU_N_LANDMARKS], int success,
                                  faceau_au_result *out)
{
    if (!ctx || !frame || !landmarks || !out)
        return FACEAU_ERR_INVALID_ARG;
    if (ctx->finished)
        return fa_fail(&ctx->err, FACEAU_ERR_STATE,
                       "faceau_au_add_frame after faceau_au_finish: call faceau_au_reset first");
    if (!frame->bgr || frame->width <= 0 || frame->height <= 0 || frame->stride < 3 * frame->width)
        return fa_fail(&ctx->err, FACEAU_ERR_INVALID_ARG, "bad frame (%dx%d, stride %d)",
                       frame->width, frame->height, frame->stride);
    memset(out, 0, sizeof *out);
    /* FaceLandmarkImg predicts from every face's landmarks, whatever the tracker's verdict */
    int is_static = ctx->cfg.au_mode == FACEAU_AU_STATIC;
    faceau_status st = frame_features(ctx, frame, landmarks, is_static || success, out);
    if (st)
        return st;
    if (is_static) {
        out->success = success != 0;
        return add_static(ctx, out);
    }
    return add_dynamic(ctx, success != 0, out);
}

faceau_status faceau_au_last_features(const faceau_ctx *ctx, unsigned char *aligned_bgr, float *hog)
{
    if (!ctx)
        return FACEAU_ERR_INVALID_ARG;
    if (aligned_bgr)
        memcpy(aligned_bgr, ctx->aligned, sizeof ctx->aligned);
    if (hog)
        memcpy(hog, ctx->hog, sizeof ctx->hog);
    return FACEAU_OK;
}

/* OpenFace's PostprocessPredictions: the first successful frames again, with final medians. */
static void repredict(faceau_ctx *ctx)
{
    history *h = &ctx->hist;
    size_t k = 0;
    for (size_t i = 0; i < h->n && k < h->n_init; i++) {
        if (!h->success[i])
            continue;
        for (int j = 0; j < FACEAU_HOG_SIZE; j++)
            ctx->x[j] = h->init_hog[k * FACEAU_HOG_SIZE + j];
        memcpy(ctx->x + FACEAU_HOG_SIZE, h->init_geom + k * FA_GEOM_DIM, FA_GEOM_DIM * sizeof *ctx->x);
        fa_au_predict(&ctx->models, ctx->x, ctx->median, h->r + i * FA_N_AU_R, h->c + i * FA_N_AU_C);
        k++;
    }
}

static double intensity_cutoff(const faceau_ctx *ctx, int i)
{
    const fa_au_models *m = &ctx->models;
    if (m->r_bank[i] != FA_BANK_SVR_DYNAMIC)
        return -1;
    return m->bank[FA_BANK_SVR_DYNAMIC].cutoff[m->r_col[i]];
}

faceau_status faceau_au_finish(faceau_ctx *ctx, double *intensity, double *presence, size_t n)
{
    if (!ctx || (n && (!intensity || !presence)))
        return FACEAU_ERR_INVALID_ARG;
    history *h = &ctx->hist;
    if (n != h->n)
        return fa_fail(&ctx->err, FACEAU_ERR_INVALID_ARG,
                       "faceau_au_finish: buffers for %zu frames, %zu frames added", n, h->n);
    /* FeatureExtraction post-processes both; only the dynamic models are re-predicted with the
     * final medians and shifted by their cut-off (static models have no cut-off) */
    int offline = ctx->cfg.au_mode != FACEAU_AU_STATIC && !ctx->cfg.online;
    if (offline && ctx->cfg.au_mode == FACEAU_AU_DYNAMIC && !ctx->finished)
        repredict(ctx);
    ctx->finished = 1;
    memcpy(intensity, h->r, n * FA_N_AU_R * sizeof *intensity);
    memcpy(presence, h->c, n * FA_N_AU_C * sizeof *presence);
    if (!offline || n == 0)
        return FACEAU_OK;
    double *col = fa_malloc(n * sizeof *col, &ctx->err, "AU post-processing");
    if (!col)
        return FACEAU_ERR_NOMEM;
    faceau_status st = FACEAU_OK;
    for (int a = 0; a < FA_N_AU_R && !st; a++) {
        for (size_t i = 0; i < n; i++)
            col[i] = intensity[i * FA_N_AU_R + a];
        st = fa_post_intensity(col, h->success, n, intensity_cutoff(ctx, a), &ctx->err);
        for (size_t i = 0; i < n; i++)
            intensity[i * FA_N_AU_R + a] = col[i];
    }
    for (int a = 0; a < FA_N_AU_C && !st; a++) {
        for (size_t i = 0; i < n; i++)
            col[i] = presence[i * FA_N_AU_C + a];
        st = fa_post_presence(col, n, &ctx->err);
        for (size_t i = 0; i < n; i++)
            presence[i * FA_N_AU_C + a] = col[i];
    }
    free(col);
    return st;
}

int fa_ctx_online(const faceau_ctx *ctx)
{
    return ctx->cfg.online || ctx->cfg.au_mode == FACEAU_AU_STATIC;
}

void fa_ctx_set_error(faceau_ctx *ctx, faceau_status st, const char *msg)
{
    fa_fail(&ctx->err, st, "%s", msg);
}

void fa_ctx_stage_ms(const faceau_ctx *ctx, double ms[FA_N_STAGES])
{
    memcpy(ms, ctx->stage_ms, sizeof ctx->stage_ms);
}

int fa_ctx_static(const faceau_ctx *ctx)
{
    return ctx->cfg.au_mode == FACEAU_AU_STATIC;
}
