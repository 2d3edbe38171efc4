/* clnf.c - OpenFace's CLNF model: reading main_clnf_general.txt and its parts (CLNF::Read,
 * Read_CLNF, the parts' FaceModelParameters), CLNF::Fit over scales, CLNF::DetectLandmarks with
 * the hierarchical parts and the validator, DetectLandmarksInImage's multi-hypothesis search and
 * DetectLandmarksInVideo's tracking logic (LandmarkDetectorFunc.cpp). See clnf.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "landmarks/ccnf.h"
#include "landmarks/clnf.h"
#include "landmarks/validator.h"

#define MAXP FA_PDM_MAX_POINTS
#define MAX_KDE 8

/* One CLNF (the main model or a part): PDM, patch experts per scale, parameters, KDE grids. */
typedef struct clnf_model {
    fa_pdm pdm;
    int n_scales;
    fa_ccnf ccnf[FA_CLNF_MAX_SCALES];
    fa_clnf_params params;
    int n_kde;
    fa_kde kde[MAX_KDE];
} clnf_model;

struct fa_clnf {
    clnf_model main;
    int n_parts;
    clnf_model part[FA_CLNF_MAX_PARTS];
    char part_name[FA_CLNF_MAX_PARTS][32];
    int part_nmap[FA_CLNF_MAX_PARTS];
    int part_map[FA_CLNF_MAX_PARTS][MAXP][2]; /* (index in main, index in part) */
    fa_validator *validator;
};

struct fa_clnf_ws {
    fa_ccnf_ws *ccnf;
    fa_validator_ws *val;
    fa_pool *pool;   /* NULL: the responses run on the caller (fa_clnf_face_set_threads) */
    float *bufs;     /* one fa_ccnf_worker_floats buffer per pool thread */
    size_t buf_floats, bufs_cap;
};

/* ---- parameters --------------------------------------------------------------------------- */

/* FaceModelParameters::init() with the CLNF general model (-mloc main_clnf_general.txt). */
static void params_main(fa_clnf_params *p)
{
    memset(p, 0, sizeof *p);
    p->n_iter = 5;
    p->n_windows = 4;
    const int wi[4] = {11, 9, 7, 5}, ws[4] = {0, 9, 7, 0};
    memcpy(p->win_init, wi, sizeof wi);
    memcpy(p->win_small, ws, sizeof ws);
    p->sigma = 1.5f;
    p->reg_factor = 25.0f;
    p->weight_factor = 0.0f;
    p->refine_parameters = 1;
    p->refine_hierarchical = 1;
    p->validate = 1;
    p->validation_boundary = 0.725f;
    p->reinit_video_every = 2;
}

/* The part overrides of CLNF::Read (validation, hierarchy and refinement off). Returns 0 for a
 * part name OpenFace does not configure (it would keep the defaults; we refuse it). */
static int params_part(fa_clnf_params *p, const char *name)
{
    params_main(p);
    p->validate = 0;
    p->refine_hierarchical = 0;
    p->refine_parameters = 0;
    /* the part's FaceModelParameters see the default model name main_ceclm_general: sigma and
     * reg are scaled there, but every part below sets both again */
    p->sigma = 1.5f * p->sigma;
    p->reg_factor = 0.9f * p->reg_factor;
    if (!strcmp(name, "left_eye_28") || !strcmp(name, "right_eye_28")) {
        p->n_windows = 3;
        const int w[3] = {3, 5, 9};
        memcpy(p->win_init, w, sizeof w);
        memcpy(p->win_small, w, sizeof w);
        p->reg_factor = 0.5f;
        p->sigma = 1.0f;
        return 1;
    }
    if (!strcmp(name, "inner")) {
        p->n_windows = 1;
        p->win_init[0] = p->win_small[0] = 9;
        p->reg_factor = 2.5f;
        p->sigma = 1.75f;
        p->weight_factor = 2.5f;
        return 1;
    }
    return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

static void model_free(clnf_model *M)
{
    fa_pdm_free(&M->pdm);
    for (int s = 0; s < M->n_scales; s++)
        fa_ccnf_free(&M->ccnf[s]);
    for (int k = 0; k < M->n_kde; k++)
        fa_kde_free(&M->kde[k]);
    memset(M, 0, sizeof *M);
}

/* The directory part of path ("." if none). */
static void dir_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, n, ".");
        return;
    }
    size_t len = (size_t)(slash - path);
    if (len >= n)
        len = n - 1;
    memcpy(dir, path, len);
    dir[len] = 0;
    if (len == 0)
        snprintf(dir, n, "/");
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
}

/* CLNF::Read_CLNF: "PDM <path>", "Triangulations <path>", "PatchesCCNF <path>" lines; the
 * location is the rest of the line after one space. */
static faceau_status read_clnf_file(const char *path, clnf_model *M, fa_err *err)
{
    char dir[4096], line[4096], full[4096];
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    dir_of(path, dir, sizeof dir);
    int have_pdm = 0;
    while (fgets(line, sizeof line, f)) {
        chomp(line);
        char module[64];
        int used = 0;
        if (sscanf(line, "%63s%n", module, &used) != 1)
            continue;
        const char *loc = line + used;
        if (*loc)
            loc++; /* OpenFace erases the first character (the separating space) */
        if (!strcmp(module, "PDM")) {
            fa_pdm_free(&M->pdm); /* a second PDM line replaces the first, as in OpenFace */
            if ((st = fa_path_join(full, sizeof full, dir, loc, err)) ||
                (st = fa_pdm_load(full, &M->pdm, err)))
                break;
            have_pdm = 1;
        } else if (!strcmp(module, "PatchesCCNF")) {
            if (M->n_scales == FA_CLNF_MAX_SCALES) {
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: more than %d patch-expert scales",
                             path, FA_CLNF_MAX_SCALES);
                break;
            }
            if ((st = fa_path_join(full, sizeof full, dir, loc, err)) ||
                (st = fa_ccnf_load(full, &M->ccnf[M->n_scales], err)))
                break;
            M->n_scales++;
        } else if (!strcmp(module, "PatchesIntensity") || !strcmp(module, "PatchesCEN")) {
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: %s patch experts are not supported",
                         path, module);
            break;
        }
        /* Triangulations and EarlyTermination are not used by the CLNF fit. */
    }
    fclose(f);
    if (st)
        return st;
    if (!have_pdm || M->n_scales == 0)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no PDM or no patch experts", path);
    for (int s = 0; s < M->n_scales; s++)
        if (M->ccnf[s].n_points != M->pdm.n)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "%s: patch experts of scale %d have %d points, the PDM %d", path, s,
                           M->ccnf[s].n_points, M->pdm.n);
    return FACEAU_OK;
}

static const fa_kde *model_kde(const clnf_model *M, int ws)
{
    for (int k = 0; k < M->n_kde; k++)
        if (M->kde[k].ws == ws)
            return &M->kde[k];
    return NULL;
}

/* The sigma Fit uses at a scale. */
static float scale_sigma(const clnf_model *M, int scale)
{
    if (!M->params.refine_parameters)
        return M->params.sigma;
    float reg, sigma, wf;
    int sm = scale >= 2 ? 2 : scale;
    fa_clnf_scale_params(&M->params, M->ccnf[sm < M->n_scales ? sm : M->n_scales - 1].patch_scaling,
                         &reg, &sigma, &wf);
    return sigma;
}

/* Prepares the Sigmas of every window in use and the KDE grids. OpenFace caches one grid per
 * window size, computed with the sigma of its first use; the first frame always runs the init
 * windows scale by scale, so the first use of a size is its first occurrence in init, then in
 * small. */
static faceau_status model_prepare(clnf_model *M, fa_ccnf_prep *prep, fa_err *err)
{
    const int *lists[2] = {M->params.win_init, M->params.win_small};
    for (int l = 0; l < 2; l++)
        for (int s = 0; s < M->n_scales && s < M->params.n_windows; s++) {
            int ws = lists[l][s];
            if (ws <= 0)
                continue;
            faceau_status st = fa_ccnf_prepare_with(&M->ccnf[s], ws, prep, err);
            if (st)
                return st;
            if (model_kde(M, ws))
                continue;
            if (M->n_kde == MAX_KDE)
                return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "too many window sizes");
            st = fa_kde_init(&M->kde[M->n_kde], ws, fa_kde_a(scale_sigma(M, s)), err);
            if (st)
                return st;
            M->n_kde++;
        }
    return FACEAU_OK;
}

/* A part's own main file: "LandmarkDetector <clnf file>". */
static faceau_status read_part_main(const char *path, clnf_model *M, fa_err *err)
{
    char dir[4096], line[4096], full[4096];
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    dir_of(path, dir, sizeof dir);
    int found = 0;
    while (st == FACEAU_OK && fgets(line, sizeof line, f)) {
        chomp(line);
        char module[64], loc[4096];
        if (sscanf(line, "%63s %4095s", module, loc) != 2)
            continue;
        if (!strcmp(module, "LandmarkDetector")) {
            if (!(st = fa_path_join(full, sizeof full, dir, loc, err)))
                st = read_clnf_file(full, M, err);
            found = 1;
        }
    }
    fclose(f);
    if (st == FACEAU_OK && !found)
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no LandmarkDetector line", path);
    return st;
}

static faceau_status read_part(fa_clnf *m, const char *dir, char *line, fa_ccnf_prep *prep, fa_err *err)
{
    char module[64], loc[4096], name[32], full[4096];
    int used = 0;
    if (sscanf(line, "%63s %4095s %31s%n", module, loc, name, &used) != 3)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "malformed part line: %.80s", line);
    if (m->n_parts == FA_CLNF_MAX_PARTS)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "more than %d parts", FA_CLNF_MAX_PARTS);
    int k = m->n_parts;
    clnf_model *P = &m->part[k];
    if (!params_part(&P->params, name))
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "unknown part model '%s'", name);
    snprintf(m->part_name[k], sizeof m->part_name[k], "%s", name);
    m->n_parts++;
    /* the mapping pairs first (cheap), then the part's files */
    const char *s = line + used;
    int a, b, nb, nmap = 0;
    while (sscanf(s, "%d %d%n", &a, &b, &nb) == 2) {
        if (nmap == MAXP || a < 0 || b < 0)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "part '%s': bad point mapping %d %d",
                           name, a, b);
        m->part_map[k][nmap][0] = a;
        m->part_map[k][nmap][1] = b;
        nmap++;
        s += nb;
    }
    m->part_nmap[k] = nmap;
    faceau_status st = fa_path_join(full, sizeof full, dir, loc, err);
    if (st || (st = read_part_main(full, P, err)))
        return st;
    for (int q = 0; q < nmap; q++)
        if (m->part_map[k][q][1] >= P->pdm.n)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "part '%s' maps to point %d of its %d-point PDM", name,
                           m->part_map[k][q][1], P->pdm.n);
    return model_prepare(P, prep, err);
}

faceau_status fa_clnf_load(const char *main_path, fa_clnf **out, fa_err *err)
{
    *out = NULL;
    fa_clnf *m = fa_calloc(1, sizeof *m, err, "CLNF model");
    if (!m)
        return FACEAU_ERR_NOMEM;
    char dir[4096], line[8192], full[4096];
    FILE *f;
    faceau_status st = fa_fopen_read(main_path, &f, err);
    if (st) {
        free(m);
        return st;
    }
    dir_of(main_path, dir, sizeof dir);
    params_main(&m->main.params);
    /* The Sigmas are most of the load's work: they are shared out over a thread per online CPU
     * (at most 8) for the load only. Each batch of Sigmas is one job writing its own, so the
     * bits do not depend on the count; without threads the caller does them all. */
    fa_ccnf_prep prep = {NULL, NULL, 0};
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 1) {
        fa_err pe;
        if (fa_pool_create(ncpu > 8 ? 8 : (int)ncpu, &prep.pool, &pe) != FACEAU_OK)
            prep.pool = NULL;
    }
    int have_main = 0;
    while (st == FACEAU_OK && fgets(line, sizeof line, f)) {
        chomp(line);
        char module[64], loc[4096];
        if (sscanf(line, "%63s %4095s", module, loc) != 2)
            continue;
        if (!strcmp(module, "LandmarkDetector")) {
            if (!(st = fa_path_join(full, sizeof full, dir, loc, err)))
                st = read_clnf_file(full, &m->main, err);
            have_main = 1;
        } else if (!strcmp(module, "LandmarkDetector_part")) {
            st = read_part(m, dir, line, &prep, err);
        } else if (!strcmp(module, "DetectionValidator")) {
            fa_validator_free(m->validator); /* likewise a second validator line */
            m->validator = NULL;
            if (!(st = fa_path_join(full, sizeof full, dir, loc, err)))
                st = fa_validator_load(full, &m->validator, err);
        }
    }
    fclose(f);
    if (st == FACEAU_OK && !have_main)
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no LandmarkDetector line", main_path);
    if (st == FACEAU_OK)
        st = model_prepare(&m->main, &prep, err);
    for (int k = 0; st == FACEAU_OK && k < m->n_parts; k++)
        for (int q = 0; q < m->part_nmap[k]; q++)
            if (m->part_map[k][q][0] >= m->main.pdm.n)
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "part '%s' maps main point %d of %d",
                             m->part_name[k], m->part_map[k][q][0], m->main.pdm.n);
    fa_pool_free(prep.pool);
    fa_ccnf_prep_free(&prep);
    if (st) {
        fa_clnf_free(m);
        return st;
    }
    *out = m;
    return FACEAU_OK;
}

void fa_clnf_free(fa_clnf *m)
{
    if (!m)
        return;
    model_free(&m->main);
    for (int k = 0; k < m->n_parts; k++)
        model_free(&m->part[k]);
    fa_validator_free(m->validator);
    free(m);
}

const fa_pdm *fa_clnf_pdm(const fa_clnf *m)
{
    return &m->main.pdm;
}

const fa_clnf_params *fa_clnf_main_params(const fa_clnf *m)
{
    return &m->main.params;
}

int fa_clnf_n_parts(const fa_clnf *m)
{
    return m->n_parts;
}

const char *fa_clnf_part(const fa_clnf *m, int k, const fa_pdm **pdm,
                         const fa_clnf_params **params, int *n_map, const int (**map)[2])
{
    if (k < 0 || k >= m->n_parts)
        return NULL;
    if (pdm)
        *pdm = &m->part[k].pdm;
    if (params)
        *params = &m->part[k].params;
    if (n_map)
        *n_map = m->part_nmap[k];
    if (map)
        *map = (const int(*)[2])m->part_map[k];
    return m->part_name[k];
}

/* ---- per-face state ------------------------------------------------------------------------- */

void fa_clnf_face_reset(fa_clnf_face *f)
{
    fa_clnf_ws *ws = f->ws;
    memset(f, 0, sizeof *f);
    f->ws = ws;
    f->g[0] = 1;
    /* CLNF::Read starts every part at scale 1; a zero scale would make GetShape's depth fx/0. */
    for (int k = 0; k < FA_CLNF_MAX_PARTS; k++)
        f->part_g[k][0] = 1;
    f->failures_in_a_row = -1;
    f->model_likelihood = -10;
    f->confidence = 0;
}

faceau_status fa_clnf_face_init(fa_clnf_face *f, fa_err *err)
{
    memset(f, 0, sizeof *f);
    fa_clnf_ws *ws = fa_calloc(1, sizeof *ws, err, "CLNF workspace");
    if (!ws)
        return FACEAU_ERR_NOMEM;
    faceau_status st = fa_ccnf_ws_create(&ws->ccnf, err);
    if (st == FACEAU_OK)
        st = fa_validator_ws_create(&ws->val, err);
    if (st) {
        fa_ccnf_ws_free(ws->ccnf);
        free(ws);
        return st;
    }
    f->ws = ws;
    fa_clnf_face_reset(f);
    return FACEAU_OK;
}

void fa_clnf_face_free(fa_clnf_face *f)
{
    if (f && f->ws) {
        fa_ccnf_ws_free(f->ws->ccnf);
        fa_validator_ws_free(f->ws->val);
        fa_pool_free(f->ws->pool);
        free(f->ws->bufs);
        free(f->ws);
        f->ws = NULL;
    }
}

faceau_status fa_clnf_face_set_threads(fa_clnf_face *f, int threads, fa_err *err)
{
    if (!f || !f->ws)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "clnf: threads on an uninitialised face");
    if (threads < 1 || threads > FA_POOL_MAX_THREADS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "clnf: %d threads outside 1..%d", threads,
                       FA_POOL_MAX_THREADS);
    fa_pool_free(f->ws->pool);
    f->ws->pool = NULL;
    if (threads == 1)
        return FACEAU_OK;
    return fa_pool_create(threads, &f->ws->pool, err);
}

/* ---- Fit and DetectLandmarks ---------------------------------------------------------------- */

/* Patch_experts::Response's per-landmark loop split over the face's pool: job j takes the
 * landmarks [j*n/jobs, (j+1)*n/jobs), each map computed alone in the running thread's buffer,
 * so the maps are the same whatever the thread count. */
enum { RESPONSE_JOBS = 17 };
typedef struct response_jobs {
    const fa_ccnf *c;
    const fa_grey *grey;
    const fa_ccnf_response *r;
    float *bufs;
    size_t buf_floats;
} response_jobs;

static void response_job(void *ctx, long job, int thread)
{
    const response_jobs *J = ctx;
    const int n = J->r->n;
    fa_ccnf_response_landmarks(J->c, J->grey, J->r, (int)(job * n / RESPONSE_JOBS),
                               (int)((job + 1) * n / RESPONSE_JOBS),
                               J->bufs + (size_t)thread * J->buf_floats);
}

static faceau_status responses(const fa_ccnf *c, const fa_pdm *pdm, const float g[6],
                               const float *p, const fa_grey *grey, int window, fa_clnf_ws *ws,
                               const fa_ccnf_response **out, fa_err *err)
{
    if (!ws->pool)
        return fa_ccnf_response_compute(c, pdm, g, p, grey, window, ws->ccnf, out, err);
    if (!grey || !grey->px)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf response: NULL image");
    faceau_status st = fa_ccnf_response_begin(c, pdm, g, p, window, ws->ccnf, out, err);
    if (st)
        return st;
    const size_t per = fa_ccnf_worker_floats(c, window);
    const size_t need = per * (size_t)fa_pool_threads(ws->pool);
    if (need > ws->bufs_cap) {
        float *b = fa_malloc(need * sizeof *b, err, "CLNF response buffers");
        if (!b)
            return FACEAU_ERR_NOMEM;
        free(ws->bufs);
        ws->bufs = b;
        ws->bufs_cap = need;
    }
    response_jobs J = {c, grey, *out, ws->bufs, per};
    fa_pool_for(ws->pool, RESPONSE_JOBS, response_job, &J);
    return FACEAU_OK;
}

/* CLNF::Fit over the scales whose window is > 0. *fit_ok = 0 when the face got too small (scale
 * < 0.25 after a scale); *lhood is set when a scale computes the likelihood. */
static faceau_status fit(const clnf_model *M, fa_clnf_ws *ws, const fa_grey *grey,
                         const int *windows, int n_windows, float g[6], float *p, float *lhood,
                         int *fit_ok, fa_err *err)
{
    const fa_pdm *pdm = &M->pdm;
    int n = pdm->n;
    float cur[2 * MAXP], weights[2 * MAXP];
    *fit_ok = 1;
    for (int scale = 0; scale < M->n_scales; scale++) {
        int w = scale < n_windows ? windows[scale] : 0;
        if (w == 0)
            continue;
        const fa_ccnf_response *r;
        faceau_status st = responses(&M->ccnf[scale], pdm, g, p, grey, w, ws, &r, err);
        if (st)
            return st;
        float reg = M->params.reg_factor, sigma = M->params.sigma, wf = M->params.weight_factor;
        if (M->params.refine_parameters) {
            int sm = scale >= 2 ? 2 : scale;
            fa_clnf_scale_params(&M->params, M->ccnf[sm].patch_scaling, &reg, &sigma, &wf);
        }
        fa_pdm_shape2d(pdm, p, g, cur);
        /* GetWeightMatrix: patch confidences of the view times the weight factor, else I */
        const float *wp = NULL;
        if (wf > 0) {
            const fa_ccnf_expert *e = M->ccnf[scale].experts + (size_t)r->view * n;
            for (int i = 0; i < n; i++) {
                float c = (float)(0.0f + e[i].confidence);
                weights[i] = weights[i + n] = wf * c;
            }
            wp = weights;
        }
        const fa_kde *kde = model_kde(M, w);
        if (!kde)
            return fa_fail(err, FACEAU_ERR_STATE, "no KDE grid for window %d", w);
        fa_nurlms_in in = {.pdm = pdm, .maps = r->maps, .ws = w, .visible = r->visible,
                           .base_shape = cur, .kde = kde, .weights = wp, .sigma = sigma,
                           .reg_factor = reg, .n_iter = M->params.n_iter, .rigid = 1,
                           .compute_lhood = 0};
        memcpy(in.sim_img_to_ref, r->sim_img_to_ref, sizeof in.sim_img_to_ref);
        memcpy(in.sim_ref_to_img, r->sim_ref_to_img, sizeof in.sim_ref_to_img);
        fa_clnf_nu_rlms(&in, g, p, NULL);
        in.rigid = 0;
        in.compute_lhood = scale == M->n_scales - 1 ||
                           (scale + 1 < n_windows ? windows[scale + 1] : 0) == 0 || g[0] < 0.30;
        float ll = fa_clnf_nu_rlms(&in, g, p, NULL);
        if (in.compute_lhood)
            *lhood = ll;
        if (g[0] < 0.25) {
            *fit_ok = 0; /* "Face too small for landmark detection" */
            return FACEAU_OK;
        }
    }
    return FACEAU_OK;
}

faceau_status fa_clnf_detect_landmarks(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                       const int *windows, int *success, fa_err *err)
{
    const clnf_model *M = &m->main;
    const fa_pdm *pdm = &M->pdm;
    int n = pdm->n, fit_ok;
    faceau_status st = fit(M, f->ws, grey, windows, M->params.n_windows, f->g, f->p,
                           &f->model_likelihood, &fit_ok, err);
    if (st)
        return st;
    fa_pdm_shape2d(pdm, f->p, f->g, f->landmarks);

    if (M->params.refine_hierarchical && m->n_parts > 0) {
        int parts_used = 0;
        for (int k = 0; k < m->n_parts; k++) {
            const clnf_model *P = &m->part[k];
            int np = P->pdm.n;
            float locs[2 * MAXP];
            memset(locs, 0, sizeof locs);
            for (int q = 0; q < m->part_nmap[k]; q++) {
                int a = m->part_map[k][q][0], b = m->part_map[k][q][1];
                locs[b] = f->landmarks[a];
                locs[b + np] = f->landmarks[a + n];
            }
            fa_pdm_calc_params(&P->pdm, locs, f->part_g[k], f->part_p[k]);
            if ((double)f->g[0] > 0.9 * P->ccnf[0].patch_scaling) {
                parts_used = 1;
                float part_lh = -10; /* the part's likelihood is not used */
                int part_ok;
                st = fit(P, f->ws, grey, P->params.win_init, P->params.n_windows, f->part_g[k],
                         f->part_p[k], &part_lh, &part_ok, err);
                if (st)
                    return st;
            }
            fa_pdm_shape2d(&P->pdm, f->part_p[k], f->part_g[k], f->part_landmarks[k]);
        }
        if (parts_used) {
            for (int k = 0; k < m->n_parts; k++) {
                int np = m->part[k].pdm.n;
                for (int q = 0; q < m->part_nmap[k]; q++) {
                    int a = m->part_map[k][q][0], b = m->part_map[k][q][1];
                    f->landmarks[a] = f->part_landmarks[k][b];
                    f->landmarks[a + n] = f->part_landmarks[k][b + np];
                }
            }
            fa_pdm_calc_params(pdm, f->landmarks, f->g, f->p);
            fa_pdm_shape2d(pdm, f->p, f->g, f->landmarks);
        }
    }

    if (M->params.validate && fit_ok && m->validator) {
        float conf;
        st = fa_validator_check(m->validator, f->ws->val, grey, f->landmarks, n, f->g + 1, &conf,
                                err);
        if (st)
            return st;
        f->confidence = conf;
        f->detection_success = conf > M->params.validation_boundary;
    } else {
        f->detection_success = fit_ok;
        f->confidence = fit_ok ? 1.0f : 0.0f;
    }
    *success = f->detection_success;
    return FACEAU_OK;
}

/* ---- detection in an image and tracking in a video ------------------------------------------ */

/* DetectLandmarksInImage's rotation hypotheses (cv::Vec3d, converted to float by CalcParams). */
static const double HYPOTHESES[11][3] = {
    {0, 0, 0},       {0, -0.5236, 0}, {0, 0.5236, 0}, {0, -0.96, 0},       {0, 0.96, 0},
    {0, 0, 0.5236},  {0, 0, -0.5236}, {0, -1.57, 0},  {0, 1.57, 0},        {0, -1.22, 0.698},
    {0, 1.22, -0.698}};

faceau_status fa_clnf_detect_image(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                   const float box[4], int multi_view, int *success, fa_err *err)
{
    const clnf_model *M = &m->main;
    int nh = multi_view ? 11 : 1;
    fa_clnf_face best;
    int best_success = 0;
    for (int h = 0; h < nh; h++) {
        float rot[3] = {(float)HYPOTHESES[h][0], (float)HYPOTHESES[h][1], (float)HYPOTHESES[h][2]};
        memset(f->p, 0, sizeof f->p);
        for (int k = 0; k < m->n_parts; k++)
            memset(f->part_p[k], 0, sizeof f->part_p[k]);
        fa_pdm_params_from_box(&M->pdm, box, f->p, rot, f->g);
        int ok;
        faceau_status st = fa_clnf_detect_landmarks(m, f, grey, M->params.win_init, &ok, err);
        if (st)
            return st;
        if (h == 0 || best.model_likelihood < f->model_likelihood) {
            best = *f;
            best_success = ok;
        }
    }
    /* keep the tracking fields of f, take the fit of the best hypothesis */
    int tracking = f->tracking_initialised, failures = f->failures_in_a_row;
    *f = best;
    f->tracking_initialised = tracking;
    f->failures_in_a_row = failures;
    f->detection_success = best_success;
    *success = best_success;
    return FACEAU_OK;
}

faceau_status fa_clnf_track_video(const fa_clnf *m, fa_clnf_face *f, fa_mtcnn *mtcnn,
                                  const fa_image *frame, const fa_grey *grey, int *success,
                                  fa_err *err)
{
    const fa_clnf_params *P = &m->main.params;
    int initial_detection = !f->tracking_initialised;
    faceau_status st;
    if (f->tracking_initialised) {
        const int *win = f->detection_success ? P->win_small : P->win_init;
        int ok;
        if ((st = fa_clnf_detect_landmarks(m, f, grey, win, &ok, err)))
            return st;
        if (!ok)
            f->failures_in_a_row++;
        else
            f->failures_in_a_row = -1;
    }
    if ((!f->tracking_initialised &&
         (f->failures_in_a_row + 1) % (P->reinit_video_every * 6) == 0) ||
        (f->tracking_initialised && !f->detection_success && P->reinit_video_every > 0 &&
         f->failures_in_a_row % P->reinit_video_every == 0)) {
        faceau_box boxes[256];
        int nb = 0;
        if ((st = fa_mtcnn_detect(mtcnn, frame, boxes, 256, &nb, err)))
            return st;
        int pick = fa_mtcnn_pick_single(boxes, nb, -1, -1);
        if (pick >= 0) {
            f->tracking_initialised = 1;
            fa_clnf_face saved = *f;
            float box[4] = {boxes[pick].x, boxes[pick].y, boxes[pick].width, boxes[pick].height};
            memset(f->p, 0, sizeof f->p);
            fa_pdm_params_from_box(&m->main.pdm, box, f->p, (const float[3]){0, 0, 0}, f->g);
            int ok;
            if ((st = fa_clnf_detect_image(m, f, grey, box, 1, &ok, err)))
                return st;
            if (!initial_detection && !ok) {
                /* OpenFace restores params_global, params_local, model_likelihood and the
                 * landmarks only: detection_success, the confidence and the parts keep what the
                 * failed detection left */
                memcpy(f->g, saved.g, sizeof f->g);
                memcpy(f->p, saved.p, sizeof f->p);
                memcpy(f->landmarks, saved.landmarks, sizeof f->landmarks);
                f->model_likelihood = saved.model_likelihood;
                *success = 0;
                return FACEAU_OK;
            }
            f->failures_in_a_row = -1;
            *success = 1;
            return FACEAU_OK;
        }
    }
    if (!f->tracking_initialised)
        f->failures_in_a_row++;
    if (f->failures_in_a_row > 100)
        f->tracking_initialised = 0;
    *success = f->detection_success;
    return FACEAU_OK;
}
