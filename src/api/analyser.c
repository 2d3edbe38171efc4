/* analyser.c - the AU analyser: AU models (faceau_au_models, read-only once loaded, shared by any
 * number of analysers) and one person's running state (faceau_au), frame by frame, as
 * OpenFace's FaceAnalyser::AddNextFrame does it in FeatureExtraction's video mode. */
#include <errno.h>
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
    /* features of the first MAX_INIT_FRAMES successful frames, for re-prediction. The HOGs
     * (17.9 KB a frame, 54 MB for 3000) go to an anonymous temporary file ($TMPDIR or /tmp),
     * read back once at the end, so memory does not grow with them; in memory only if no such
     * file can be made.
     * The geometry is kept as the 34 shape parameters it is computed from (exactly again). */
    size_t n_init;
    FILE *spill;       /* n_init x FACEAU_HOG_SIZE floats, or NULL */
    float *init_hog;   /* n_init x FACEAU_HOG_SIZE when there is no spill file */
    float *init_plocal; /* n_init x FA_N_MODES */
} history;

struct faceau_au_models {
    int dynamic;            /* the dynamic banks (main_dynamic_svms.txt) or the static ones */
    char model_dir[4096];
    fa_au_models models;
    double *pc_d;           /* 3n x m principal components as double (OpenFace's princ_comp_d) */
    double load_ms;
};

/* What frame_align leaves for frame_features_rest. */
typedef struct pending_frame {
    float g[6];
    float p_local[FA_N_MODES];
    int success;
    double t0, t1, t2; /* the sub-stages' start and end times */
} pending_frame;

struct faceau_au {
    faceau_config cfg;
    const faceau_au_models *m;
    faceau_au_models *owned; /* the models faceau_au_open loaded for this analyser alone */
    fa_err err;

    fa_median hog_median, geom_median;
    double *median;   /* FA_FEAT_DIM: [hog median, geom median], what dynamic models subtract */
    fa_online online;
    long frames;
    int finished;
    int finished_in_place; /* fa_analyser_finish_in_place overwrote the history */
    int defer;             /* fa_analyser_defer_repredicted */
    history hist;

    double stage_ms[FA_N_STAGES]; /* time spent per sub-stage, for the bench */
    const fa_pixel_source *source; /* frames made on demand (fa_analyser_set_source), or NULL */

    /* the frame fa_analyser_align aligned, until fa_analyser_add_aligned */
    pending_frame pend;
    int pending;      /* pend holds an aligned frame not yet added */
    int pend_verdict; /* the tracker's verdict on it (pend.success: whether it was aligned) */

    /* the last frame's features */
    uint8_t aligned[FA_ALIGN_SIZE * FA_ALIGN_SIZE * 3];
    float hog[FACEAU_HOG_SIZE];
    float p_local[FA_N_MODES];
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
    free(h->init_plocal);
    if (h->spill)
        fclose(h->spill);
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

void faceau_au_models_close(faceau_au_models *m)
{
    if (!m)
        return;
    fa_au_models_free(&m->models);
    free(m->pc_d);
    free(m);
}

static faceau_status models_load(faceau_au_models *m, const faceau_config *cfg, fa_err *err)
{
    char errbuf[3584];
    faceau_status st = faceau_models_locate(cfg->model_dir, m->model_dir, sizeof m->model_dir,
                                            errbuf, sizeof errbuf);
    if (st)
        return fa_fail(err, st, "%s", errbuf);
    m->dynamic = cfg->au_mode == FACEAU_AU_DYNAMIC;
    char main_file[4200];
    snprintf(main_file, sizeof main_file, "%s/AU_predictors/%s", m->model_dir,
             m->dynamic ? "main_dynamic_svms.txt" : "main_static_svms.txt");
    double t0 = now_ms();
    if ((st = fa_au_models_load(main_file, &m->models, err)))
        return st;
    m->load_ms = now_ms() - t0;
    const fa_pdm *pdm = &m->models.pdm;
    m->pc_d = fa_malloc((size_t)3 * pdm->n * pdm->m * sizeof *m->pc_d, err, "the PDM");
    if (!m->pc_d)
        return FACEAU_ERR_NOMEM;
    for (int i = 0; i < 3 * pdm->n * pdm->m; i++)
        m->pc_d[i] = pdm->pc[i];
    return FACEAU_OK;
}

faceau_status faceau_au_models_open(const faceau_config *cfg, faceau_au_models **out, char *errbuf,
                                    size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!out)
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_au_models_open: out is NULL"),
                             &err, errbuf, errbuf_size);
    *out = NULL;
    faceau_config def = faceau_default_config();
    faceau_au_models *m = fa_calloc(1, sizeof *m, &err, "the AU models");
    faceau_status st = m ? models_load(m, cfg ? cfg : &def, &err) : FACEAU_ERR_NOMEM;
    if (st) {
        faceau_au_models_close(m);
        return fa_err_to_buf(st, &err, errbuf, errbuf_size);
    }
    *out = m;
    return FACEAU_OK;
}

double faceau_au_models_load_ms(const faceau_au_models *m)
{
    return m ? m->load_ms : 0;
}

void faceau_au_close(faceau_au *au)
{
    if (!au)
        return;
    faceau_au_models_close(au->owned);
    fa_median_free(&au->hog_median);
    fa_median_free(&au->geom_median);
    free(au->median);
    history_free(&au->hist);
    free(au);
}

static faceau_status state_init(faceau_au *au, fa_err *err)
{
    faceau_status st;
    if ((st = fa_median_init(&au->hog_median, FACEAU_HOG_SIZE, HOG_BINS, HOG_MIN, HOG_MAX, err)) ||
        (st = fa_median_init(&au->geom_median, FA_GEOM_DIM, GEOM_BINS, GEOM_MIN, GEOM_MAX, err)))
        return st;
    au->median = fa_calloc(FA_FEAT_DIM, sizeof *au->median, err, "the AU medians");
    if (!au->median)
        return FACEAU_ERR_NOMEM;
    faceau_au_reset(au);
    return FACEAU_OK;
}

/* Creates the analyser on models (shared) or, when models is NULL, on models it loads itself. */
static faceau_status open_au(const faceau_au_models *models, const faceau_config *cfg,
                             faceau_au **out, fa_err *err)
{
    if (!out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "faceau_au_open: out is NULL");
    *out = NULL;
    faceau_config c = cfg ? *cfg : faceau_default_config();
    if (c.au_mode != FACEAU_AU_DYNAMIC && c.au_mode != FACEAU_AU_STATIC &&
        c.au_mode != FACEAU_AU_VIDEO_STATIC)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "faceau_au_open: unknown AU mode %d", (int)c.au_mode);
    if (models && models->dynamic != (c.au_mode == FACEAU_AU_DYNAMIC))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "faceau_au_open_with: the models were opened for the %s AU mode, the config asks for the %s one",
                       models->dynamic ? "dynamic" : "static", c.au_mode == FACEAU_AU_DYNAMIC ? "dynamic" : "static");
    faceau_au *au = fa_calloc(1, sizeof *au, err, "the AU analyser");
    if (!au)
        return FACEAU_ERR_NOMEM;
    au->cfg = c;
    faceau_status st = FACEAU_OK;
    if (!models) {
        au->owned = fa_calloc(1, sizeof *au->owned, err, "the AU models");
        st = au->owned ? models_load(au->owned, &c, err) : FACEAU_ERR_NOMEM;
        models = au->owned;
    }
    au->m = models;
    if (!st)
        st = state_init(au, err);
    if (st) {
        faceau_au_close(au);
        return st;
    }
    *out = au;
    return FACEAU_OK;
}

faceau_status faceau_au_open(const faceau_config *cfg, faceau_au **out, char *errbuf,
                             size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    return fa_err_to_buf(open_au(NULL, cfg, out, &err), &err, errbuf, errbuf_size);
}

faceau_status faceau_au_open_with(const faceau_au_models *models, const faceau_config *cfg,
                                  faceau_au **out, char *errbuf, size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!models) {
        if (out)
            *out = NULL;
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_au_open_with: models is NULL"),
                             &err, errbuf, errbuf_size);
    }
    return fa_err_to_buf(open_au(models, cfg, out, &err), &err, errbuf, errbuf_size);
}

const char *faceau_au_last_error(const faceau_au *au)
{
    return au ? au->err.msg : "no AU analyser (NULL)";
}

double faceau_au_model_load_ms(const faceau_au *au)
{
    return au ? au->m->load_ms : 0;
}

size_t faceau_au_frame_count(const faceau_au *au)
{
    return au ? au->hist.n : 0;
}

void faceau_au_reset(faceau_au *au)
{
    if (!au)
        return;
    fa_median_reset(&au->hog_median);
    fa_median_reset(&au->geom_median);
    memset(au->median, 0, FA_FEAT_DIM * sizeof *au->median);
    fa_online_reset(&au->online);
    au->frames = 0;
    au->finished = 0;
    au->finished_in_place = 0;
    au->pending = 0;
    au->source = NULL; /* a frame source belongs to the input that set it */
    memset(au->stage_ms, 0, sizeof au->stage_ms);
    au->hist.n = 0;
    au->hist.n_init = 0;
    if (au->hist.spill) { /* a fresh file for the next video */
        fclose(au->hist.spill);
        au->hist.spill = NULL;
    }
}

/* Geometry features: [V*p (3n), p (m)] in double, OpenFace's geom_descriptor_frame. */
static void geometry_features(const faceau_au *au, const float *p_local, double *out)
{
    const fa_pdm *pdm = &au->m->models.pdm;
    int rows = 3 * pdm->n, m = pdm->m;
    for (int i = 0; i < rows; i++) {
        double s = 0;
        for (int j = 0; j < m; j++)
            s += au->m->pc_d[(size_t)i * m + j] * (double)p_local[j];
        out[i] = s;
    }
    for (int j = 0; j < m; j++)
        out[rows + j] = (double)p_local[j];
}

/* The first half of a frame's features, the only one that reads the frame: its shape parameters
 * and aligned face, kept in au->pend for frame_features_rest. */
static faceau_status frame_align(faceau_au *au, const faceau_frame *frame, const float *lm,
                                 int success)
{
    pending_frame *pf = &au->pend;
    memset(pf->p_local, 0, sizeof pf->p_local);
    memset(pf->g, 0, sizeof pf->g);
    pf->success = success;
    pf->t0 = pf->t1 = pf->t2 = now_ms();
    if (success) {
        fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
        fa_pdm_calc_params(&au->m->models.pdm, lm, pf->g, pf->p_local);
        pf->t1 = now_ms();
        fa_align_face_mask_need(au->source, frame->width, frame->height, lm, pf->g,
                                &au->m->models.pdm, SIM_SCALE_AU, FA_ALIGN_SIZE);
        faceau_status st = fa_align_face_mask(&img, lm, pf->g, &au->m->models.pdm,
                                              &au->m->models.tris, SIM_SCALE_AU, FA_ALIGN_SIZE,
                                              au->aligned, &au->err);
        if (st)
            return st;
        pf->t2 = now_ms();
    } else {
        memset(au->aligned, 0, sizeof au->aligned);
    }
    return FACEAU_OK;
}

/* The rest of the features of the frame frame_align aligned: HOG and feature vector x. */
static faceau_status frame_features_rest(faceau_au *au, faceau_au_result *out)
{
    const pending_frame *pf = &au->pend;
    /* the SIMD kernels the models picked when they were loaded (pdm.cpu) */
    if (fa_fhog_cpu(au->aligned, FA_ALIGN_SIZE, FA_ALIGN_SIZE, FA_ALIGN_SIZE * 3, 8,
                    au->m->models.pdm.cpu, au->hog) != FACEAU_HOG_SIZE)
        return fa_fail(&au->err, FACEAU_ERR_STATE, "FHOG of the aligned face has the wrong size");
    for (int i = 0; i < FACEAU_HOG_SIZE; i++)
        au->x[i] = au->hog[i];
    geometry_features(au, pf->p_local, au->x + FACEAU_HOG_SIZE);
    memcpy(au->p_local, pf->p_local, sizeof pf->p_local);
    double t3 = now_ms();
    au->stage_ms[FA_STAGE_PDM] += pf->t1 - pf->t0;
    au->stage_ms[FA_STAGE_ALIGN] += pf->t2 - pf->t1;
    au->stage_ms[FA_STAGE_HOG] += t3 - pf->t2;
    out->success = pf->success;
    memcpy(out->params_global, pf->g, sizeof pf->g);
    memcpy(out->params_local, pf->p_local, sizeof pf->p_local);
    return FACEAU_OK;
}

static faceau_status update_medians(faceau_au *au, int success)
{
    faceau_status st = fa_median_update(&au->hog_median, au->x, success, &au->err);
    if (st)
        return st;
    for (int i = 0; i < FACEAU_HOG_SIZE; i++) /* OpenFace clips the HOG median at 0 */
        if (au->hog_median.median[i] < 0)
            au->hog_median.median[i] = 0;
    memcpy(au->median, au->hog_median.median, FACEAU_HOG_SIZE * sizeof *au->median);
    if ((st = fa_median_update(&au->geom_median, au->x + FACEAU_HOG_SIZE, success, &au->err)))
        return st;
    memcpy(au->median + FACEAU_HOG_SIZE, au->geom_median.median, FA_GEOM_DIM * sizeof *au->x);
    return FACEAU_OK;
}

static faceau_status keep_for_reprediction(faceau_au *au)
{
    history *h = &au->hist;
    if (h->n_init >= MAX_INIT_FRAMES)
        return FACEAU_OK;
    if (!h->init_plocal) {
        h->init_plocal = fa_malloc((size_t)MAX_INIT_FRAMES * FA_N_MODES * sizeof *h->init_plocal,
                                   &au->err, "re-prediction features");
        if (!h->init_plocal)
            return FACEAU_ERR_NOMEM;
    }
    if (!h->spill && !h->init_hog) {
        h->spill = fa_tmpfile();
        if (!h->spill) {
            h->init_hog = fa_malloc((size_t)MAX_INIT_FRAMES * FACEAU_HOG_SIZE * sizeof *h->init_hog,
                                    &au->err, "re-prediction features");
            if (!h->init_hog)
                return FACEAU_ERR_NOMEM;
        }
    }
    if (h->spill) {
        if (fwrite(au->hog, sizeof *au->hog, FACEAU_HOG_SIZE, h->spill) != FACEAU_HOG_SIZE)
            return fa_fail(&au->err, FACEAU_ERR_IO,
                           "cannot write the re-prediction features to a temporary file: %s",
                           strerror(errno));
    } else {
        memcpy(h->init_hog + h->n_init * FACEAU_HOG_SIZE, au->hog, sizeof au->hog);
    }
    memcpy(h->init_plocal + h->n_init * FA_N_MODES, au->p_local, sizeof au->p_local);
    h->n_init++;
    return FACEAU_OK;
}

static faceau_status add_static(faceau_au *au, faceau_au_result *out)
{
    fa_au_predict(&au->m->models, au->x, au->median, out->au_intensity, out->au_presence);
    for (int i = 0; i < FA_N_AU_R; i++) {
        double v = out->au_intensity[i];
        out->au_intensity[i] = v < 0 ? 0 : v > 5 ? 5 : v;
    }
    return FACEAU_OK;
}

static faceau_status add_dynamic(faceau_au *au, int success, faceau_au_result *out)
{
    history *h = &au->hist;
    faceau_status st = au->cfg.online ? FACEAU_OK : history_reserve(h, &au->err);
    if (st)
        return st;
    au->frames++;
    double t0 = now_ms();
    if (au->frames % 2 == 1 && (st = update_medians(au, success))) /* odd frames, as OpenFace */
        return st;
    double t1 = now_ms();
    double *r = out->au_intensity, *c = out->au_presence;
    /* repredict computes these again, in blocks: the per-frame values are the same bits */
    int deferred = au->defer && !au->cfg.online && h->n_init < MAX_INIT_FRAMES;
    if (success && !deferred) {
        fa_au_predict(&au->m->models, au->x, au->median, r, c);
    } else { /* a failed frame's AUs are 0, whatever the models say (and a deferred one's 0
              * until faceau_au_finish) */
        memset(r, 0, FA_N_AU_R * sizeof *r);
        memset(c, 0, FA_N_AU_C * sizeof *c);
    }
    au->stage_ms[FA_STAGE_MEDIAN] += t1 - t0;
    au->stage_ms[FA_STAGE_PREDICT] += now_ms() - t1;
    if (au->cfg.online) { /* final now: nothing is kept for the end */
        fa_online_correct(&au->online, r, success);
        return FACEAU_OK;
    }
    memcpy(h->r + h->n * FA_N_AU_R, r, FA_N_AU_R * sizeof *r);
    memcpy(h->c + h->n * FA_N_AU_C, c, FA_N_AU_C * sizeof *c);
    h->success[h->n] = (unsigned char)(success != 0);
    h->n++;
    if (success && (st = keep_for_reprediction(au)))
        return st;
    return FACEAU_OK;
}

faceau_status fa_analyser_align(faceau_au *au, const faceau_frame *frame,
                                const float landmarks[2 * FACEAU_N_LANDMARKS], int success)
{
    if (!au)
        return FACEAU_ERR_INVALID_ARG;
    au->pending = 0;
    if (!frame || !landmarks)
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG, "faceau_au_add_frame: %s is NULL",
                       !frame ? "frame" : "landmarks");
    if (au->finished)
        return fa_fail(&au->err, FACEAU_ERR_STATE,
                       "faceau_au_add_frame after faceau_au_finish: call faceau_au_reset first");
    if (!frame->bgr || frame->width <= 0 || frame->height <= 0 || frame->stride < 3 * frame->width)
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG, "bad frame (%dx%d, stride %d)",
                       frame->width, frame->height, frame->stride);
    /* FaceLandmarkImg predicts from every face's landmarks, whatever the tracker's verdict */
    int is_static = au->cfg.au_mode == FACEAU_AU_STATIC;
    faceau_status st = frame_align(au, frame, landmarks, is_static || success);
    if (st)
        return st;
    au->pend_verdict = success != 0;
    au->pending = 1;
    return FACEAU_OK;
}

faceau_status fa_analyser_add_aligned(faceau_au *au, faceau_au_result *out)
{
    if (!au)
        return FACEAU_ERR_INVALID_ARG;
    if (!out)
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG, "faceau_au_add_frame: out is NULL");
    if (!au->pending)
        return fa_fail(&au->err, FACEAU_ERR_STATE, "fa_analyser_add_aligned: no frame aligned");
    au->pending = 0;
    memset(out, 0, sizeof *out);
    int success = au->pend_verdict;
    faceau_status st = frame_features_rest(au, out);
    if (st)
        return st;
    if (au->cfg.au_mode == FACEAU_AU_STATIC) {
        out->success = success;
        return add_static(au, out);
    }
    return add_dynamic(au, success, out);
}

faceau_status faceau_au_add_frame(faceau_au *au, const faceau_frame *frame,
                                  const float landmarks[2 * FACEAU_N_LANDMARKS], int success,
                                  faceau_au_result *out)
{
    if (!au)
        return FACEAU_ERR_INVALID_ARG;
    if (!frame || !landmarks || !out)
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG, "faceau_au_add_frame: %s is NULL",
                       !frame ? "frame" : !landmarks ? "landmarks" : "out");
    faceau_status st = fa_analyser_align(au, frame, landmarks, success);
    return st ? st : fa_analyser_add_aligned(au, out);
}

faceau_status faceau_au_last_features(const faceau_au *au, unsigned char *aligned_bgr, float *hog)
{
    if (!au)
        return FACEAU_ERR_INVALID_ARG;
    if (aligned_bgr)
        memcpy(aligned_bgr, au->aligned, sizeof au->aligned);
    if (hog)
        memcpy(hog, au->hog, sizeof au->hog);
    return FACEAU_OK;
}

/* OpenFace's PostprocessPredictions: the first successful frames again, with final medians,
 * FA_AU_BLOCK frames at a time so that the weights are read once a block (one at a time, in
 * au->x, if the block's features find no memory: the same values either way). */
static faceau_status repredict(faceau_au *au)
{
    history *h = &au->hist;
    if (h->spill && (fflush(h->spill) != 0 || fseek(h->spill, 0, SEEK_SET) != 0))
        return fa_fail(&au->err, FACEAU_ERR_IO, "cannot read back the re-prediction features: %s",
                       strerror(errno));
    double *xb = malloc((size_t)FA_AU_BLOCK * FA_FEAT_DIM * sizeof *xb);
    int block = xb ? FA_AU_BLOCK : 1;
    const double *xs[FA_AU_BLOCK];
    double *rs[FA_AU_BLOCK], *cs[FA_AU_BLOCK];
    int nf = 0;
    size_t k = 0;
    for (size_t i = 0; i < h->n && k < h->n_init; i++) {
        if (!h->success[i])
            continue;
        const float *hog = h->init_hog + k * FACEAU_HOG_SIZE;
        if (h->spill) {
            if (fread(au->hog, sizeof *au->hog, FACEAU_HOG_SIZE, h->spill) != FACEAU_HOG_SIZE) {
                free(xb);
                return fa_fail(&au->err, FACEAU_ERR_IO,
                               "cannot read back the re-prediction features of frame %zu", i + 1);
            }
            hog = au->hog;
        }
        double *x = xb ? xb + (size_t)nf * FA_FEAT_DIM : au->x;
        for (int j = 0; j < FACEAU_HOG_SIZE; j++)
            x[j] = hog[j];
        geometry_features(au, h->init_plocal + k * FA_N_MODES, x + FACEAU_HOG_SIZE);
        xs[nf] = x;
        rs[nf] = h->r + i * FA_N_AU_R;
        cs[nf] = h->c + i * FA_N_AU_C;
        if (++nf == block) {
            fa_au_predict_frames(&au->m->models, nf, xs, au->median, rs, cs);
            nf = 0;
        }
        k++;
    }
    if (nf)
        fa_au_predict_frames(&au->m->models, nf, xs, au->median, rs, cs);
    free(xb);
    return FACEAU_OK;
}

static double intensity_cutoff(const faceau_au *au, int i)
{
    const fa_au_models *m = &au->m->models;
    if (m->r_bank[i] != FA_BANK_SVR_DYNAMIC)
        return -1;
    return m->bank[FA_BANK_SVR_DYNAMIC].cutoff[m->r_col[i]];
}

/* faceau_au_finish into intensity/presence, which may be the history itself (in place). */
static faceau_status finish_into(faceau_au *au, double *intensity, double *presence, size_t n)
{
    history *h = &au->hist;
    if (au->finished_in_place)
        return fa_fail(&au->err, FACEAU_ERR_STATE,
                       "faceau_au_finish: the history was post-processed in place; call faceau_au_reset first");
    /* FeatureExtraction post-processes both; only the dynamic models are re-predicted with the
     * final medians and shifted by their cut-off (static models have no cut-off) */
    int offline = au->cfg.au_mode != FACEAU_AU_STATIC && !au->cfg.online;
    if (offline && au->cfg.au_mode == FACEAU_AU_DYNAMIC && !au->finished) {
        faceau_status st = repredict(au);
        if (st)
            return st;
    }
    au->finished = 1;
    if (intensity != h->r)
        memcpy(intensity, h->r, n * FA_N_AU_R * sizeof *intensity);
    if (presence != h->c)
        memcpy(presence, h->c, n * FA_N_AU_C * sizeof *presence);
    if (!offline || n == 0)
        return FACEAU_OK;
    double *col = fa_malloc(n * sizeof *col, &au->err, "AU post-processing");
    if (!col)
        return FACEAU_ERR_NOMEM;
    faceau_status st = FACEAU_OK;
    for (int a = 0; a < FA_N_AU_R && !st; a++) {
        for (size_t i = 0; i < n; i++)
            col[i] = intensity[i * FA_N_AU_R + a];
        st = fa_post_intensity(col, h->success, n, intensity_cutoff(au, a), &au->err);
        for (size_t i = 0; i < n; i++)
            intensity[i * FA_N_AU_R + a] = col[i];
    }
    for (int a = 0; a < FA_N_AU_C && !st; a++) {
        for (size_t i = 0; i < n; i++)
            col[i] = presence[i * FA_N_AU_C + a];
        st = fa_post_presence(col, n, &au->err);
        for (size_t i = 0; i < n; i++)
            presence[i * FA_N_AU_C + a] = col[i];
    }
    free(col);
    return st;
}

faceau_status faceau_au_finish(faceau_au *au, double *intensity, double *presence, size_t n)
{
    if (!au)
        return FACEAU_ERR_INVALID_ARG;
    if (n && (!intensity || !presence))
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG, "faceau_au_finish: %s is NULL",
                       !intensity ? "intensity" : "presence");
    if (n && fa_analyser_online(au))
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG,
                       "faceau_au_finish: %s mode keeps no frames (the values faceau_au_add_frame "
                       "returned are final): n must be 0, not %zu",
                       au->cfg.online ? "online" : "static", n);
    if (n != au->hist.n)
        return fa_fail(&au->err, FACEAU_ERR_INVALID_ARG,
                       "faceau_au_finish: buffers for %zu frames, %zu frames added", n, au->hist.n);
    return finish_into(au, intensity, presence, n);
}

faceau_status fa_analyser_finish_in_place(faceau_au *au, const double **intensity,
                                          const double **presence, size_t *n)
{
    history *h = &au->hist;
    *n = h->n;
    *intensity = h->r;
    *presence = h->c;
    faceau_status st = h->n ? finish_into(au, h->r, h->c, h->n) : FACEAU_OK;
    au->finished_in_place = 1;
    return st;
}

int fa_analyser_online(const faceau_au *au)
{
    return au->cfg.online || au->cfg.au_mode == FACEAU_AU_STATIC;
}

void fa_analyser_defer_repredicted(faceau_au *au, int on)
{
    au->defer = on != 0;
}

void fa_analyser_set_error(faceau_au *au, faceau_status st, const char *msg)
{
    fa_fail(&au->err, st, "%s", msg);
}

void fa_analyser_stage_ms(const faceau_au *au, double ms[FA_N_STAGES])
{
    memcpy(ms, au->stage_ms, sizeof au->stage_ms);
}

void fa_analyser_set_source(faceau_au *au, const fa_pixel_source *source)
{
    au->source = source;
}

int fa_analyser_static(const faceau_au *au)
{
    return au->cfg.au_mode == FACEAU_AU_STATIC;
}
