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
    /* the CCNF arrays, Sigmas and KDE grids of every model: freed after them */
    fa_large_arena arena;
    /* the CCNF sigma components, during the load only */
    fa_large_arena comps;
};

struct fa_clnf_ws {
    fa_ccnf_ws *ccnf;
    fa_ccnf_ws *part_ccnf[FA_CLNF_MAX_PARTS]; /* each part's own: the parts fit side by side */
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
static faceau_status read_clnf_file(const char *path, clnf_model *M, fa_large_arena *arena,
                                    fa_large_arena *comps, fa_err *err)
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
                (st = fa_ccnf_load_in(full, &M->ccnf[M->n_scales], arena, comps, err)))
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

/* What a load computes after reading: every Sigma batch and KDE grid of every model, shared out
 * over the pool in one batch (largest first). A job writes only its own Sigmas or grid rows and
 * its thread's scratch, so the tables are the same bits for any thread count. */
#define MAX_PLANS (FA_CLNF_MAX_SCALES * 2 * (FA_CLNF_MAX_PARTS + 1))
#define MAX_GRIDS (MAX_KDE * (FA_CLNF_MAX_PARTS + 1))
#define KDE_ROWS 16 /* grid rows (of the x loop) per job */
#define CHECK_GROUPS 4 /* Sigmas of a per-call slot checked per job */
typedef struct load_plan {
    fa_ccnf_plan plan[MAX_PLANS];
    int n_plans;
    const fa_kde *grid[MAX_GRIDS];
    int n_grids;
    /* the per-call slots, whose Sigmas are checked and dropped: ok per distinct Sigma */
    struct lazy_check {
        const fa_ccnf *c;
        int slot;
        unsigned char *ok;
    } check[MAX_PLANS];
    int n_checks;
    /* the jobs: plan p's batch b, grid g's rows from r, or check q's Sigmas from g */
    struct load_job {
        int kind, index, from;
    } *jobs;
    long n_jobs;
    float *work;  /* per pool thread */
    size_t per_thread;
} load_plan;

/* A per-call slot's Sigmas to check in the load's batch (a response cannot fail, so all are
 * checked at load, as fa_ccnf_plan_keep does alone). */
static faceau_status add_check(load_plan *L, const fa_ccnf *c, int slot, fa_err *err)
{
    if (L->n_checks == MAX_PLANS)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "too many window sizes");
    unsigned char *ok = fa_malloc((size_t)c->lazy[slot].nd + 1, err, "CCNF sigma checks");
    if (!ok)
        return FACEAU_ERR_NOMEM;
    L->check[L->n_checks++] = (struct lazy_check){c, slot, ok};
    return FACEAU_OK;
}

static long check_jobs(const struct lazy_check *q)
{
    return (q->c->lazy[q->slot].nd + CHECK_GROUPS - 1) / CHECK_GROUPS;
}

/* Plans the Sigmas of every window in use and sets up the KDE grids (in arena, filled by the
 * batch). OpenFace caches one grid per window size, computed with the sigma of its first use;
 * the first frame always runs the init windows scale by scale, so the first use of a size is
 * its first occurrence in init, then in small. */
#define LAZY_SIGMA_BYTES ((size_t)1 << 20)
static faceau_status model_plan(clnf_model *M, load_plan *L, fa_large_arena *arena, fa_err *err)
{
    const int *lists[2] = {M->params.win_init, M->params.win_small};
    for (int l = 0; l < 2; l++)
        for (int s = 0; s < M->n_scales && s < M->params.n_windows; s++) {
            int ws = lists[l][s], dup = 0;
            if (ws <= 0)
                continue;
            for (int q = 0; q < L->n_plans; q++)
                dup |= L->plan[q].c == &M->ccnf[s] && L->plan[q].window == ws;
            if (!dup) {
                if (L->n_plans == MAX_PLANS)
                    return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "too many window sizes");
                fa_ccnf_plan *P = &L->plan[L->n_plans];
                faceau_status st = fa_ccnf_plan_make(&M->ccnf[s], ws, P, err);
                if (st)
                    return st;
                /* a big window's Sigmas are computed per face, for the views it fits (a tracked
                 * face needs one view's: a third or less of them); a window tracking does not
                 * use (only fits from a detection or after a failure do) by each response */
                const size_t bytes = fa_ccnf_plan_bytes(P);
                if (bytes > LAZY_SIGMA_BYTES) {
                    int tracked = 0, slot;
                    for (int q = 0; q < M->params.n_windows; q++)
                        tracked |= M->params.win_small[q] == ws;
                    if ((st = fa_ccnf_plan_keep_unchecked(P, !tracked, &slot, err)))
                        return st;
                    if (!tracked && slot >= 0 && (st = add_check(L, &M->ccnf[s], slot, err)))
                        return st;
                } else {
                    L->n_plans++;
                    if (P->todo && !(P->store = fa_large_arena_alloc(arena, bytes ? bytes : 1, err,
                                                                     "the CCNF sigmas")))
                        return FACEAU_ERR_NOMEM;
                }
            }
            if (model_kde(M, ws))
                continue;
            if (M->n_kde == MAX_KDE || L->n_grids == MAX_GRIDS)
                return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "too many window sizes");
            float *tab = fa_large_arena_alloc(arena, fa_kde_floats(ws) * sizeof(float) + 1, err,
                                              "KDE grid");
            if (!tab)
                return FACEAU_ERR_NOMEM;
            faceau_status st = fa_kde_init_in(&M->kde[M->n_kde], ws, fa_kde_a(scale_sigma(M, s)), tab, err);
            if (st)
                return st;
            L->grid[L->n_grids++] = &M->kde[M->n_kde++];
        }
    return FACEAU_OK;
}

static void load_job_run(void *ctx, long job, int thread)
{
    const load_plan *L = ctx;
    const struct load_job *J = &L->jobs[job];
    float *work = L->work + (size_t)thread * L->per_thread;
    if (J->kind == 0) {
        fa_ccnf_plan_run(&L->plan[J->index], J->from, work);
    } else if (J->kind == 2) {
        const struct lazy_check *q = &L->check[J->index];
        fa_ccnf_lazy_check(q->c, q->slot, J->from, J->from + CHECK_GROUPS, q->ok, work);
    } else {
        const fa_kde *k = L->grid[J->index];
        const int steps = fa_kde_fill_steps(k), end = J->from + KDE_ROWS;
        fa_kde_fill(k, J->from, end < steps ? end : steps);
    }
}

/* The batch: jobs by cost, heaviest first (Sigmas by window, then grids), then every plan
 * finished in order (the first failure is the one reported). */
static faceau_status load_run(load_plan *L, fa_pool *pool, fa_err *err)
{
    long n = 0;
    size_t per = 0;
    for (int p = 0; p < L->n_plans; p++) {
        n += fa_ccnf_plan_jobs(&L->plan[p]);
        if (fa_ccnf_plan_jobs(&L->plan[p]) && fa_ccnf_plan_work_floats(L->plan[p].window) > per)
            per = fa_ccnf_plan_work_floats(L->plan[p].window);
    }
    for (int g = 0; g < L->n_grids; g++)
        n += (fa_kde_fill_steps(L->grid[g]) + KDE_ROWS - 1) / KDE_ROWS;
    for (int q = 0; q < L->n_checks; q++) {
        const size_t w = fa_ccnf_lazy_check_floats(L->check[q].c->slot_window[L->check[q].slot]);
        n += check_jobs(&L->check[q]);
        per = w > per ? w : per;
    }
    L->jobs = fa_malloc((size_t)(n ? n : 1) * sizeof *L->jobs, err, "CLNF load jobs");
    L->per_thread = per;
    /* at least one huge page, so that its pages cost one fault (freed after the load) */
    size_t work_bytes = (size_t)fa_pool_threads(pool) * per * sizeof *L->work;
    if (work_bytes < ((size_t)2 << 20))
        work_bytes = (size_t)2 << 20;
    L->work = per ? fa_malloc_large(work_bytes, err, "CCNF sigma scratch") : NULL;
    faceau_status st = FACEAU_OK;
    if (!L->jobs || (per && !L->work)) {
        st = FACEAU_ERR_NOMEM;
    } else {
        /* the checks first: the per-call slot is the largest window */
        for (int q = 0; q < L->n_checks; q++)
            for (long b = 0; b < check_jobs(&L->check[q]); b++)
                L->jobs[L->n_jobs++] = (struct load_job){2, q, (int)b * CHECK_GROUPS};
        for (int w = FA_CCNF_MAX_WINDOW; w >= 1; w--)
            for (int p = 0; p < L->n_plans; p++)
                if (L->plan[p].window == w)
                    for (long b = 0; b < fa_ccnf_plan_jobs(&L->plan[p]); b++)
                        L->jobs[L->n_jobs++] = (struct load_job){0, p, (int)b};
        for (int g = 0; g < L->n_grids; g++)
            for (int r = 0; r < fa_kde_fill_steps(L->grid[g]); r += KDE_ROWS)
                L->jobs[L->n_jobs++] = (struct load_job){1, g, r};
        fa_pool_for(pool, L->n_jobs, load_job_run, L);
    }
    for (int q = 0; q < L->n_checks && !st; q++)
        st = fa_ccnf_lazy_verdict(L->check[q].c, L->check[q].slot, L->check[q].ok, err);
    for (int p = 0; p < L->n_plans; p++) {
        faceau_status s2 = st ? (fa_ccnf_plan_free(&L->plan[p]), st)
                              : fa_ccnf_plan_finish(&L->plan[p], NULL, err);
        if (!st)
            st = s2;
    }
    L->n_plans = 0;
    free(L->jobs);
    fa_free_large(L->work);
    L->jobs = NULL;
    L->work = NULL;
    return st;
}

/* A part's own main file: "LandmarkDetector <clnf file>". */
static faceau_status read_part_main(const char *path, clnf_model *M, fa_large_arena *arena,
                                    fa_large_arena *comps, fa_err *err)
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
                st = read_clnf_file(full, M, arena, comps, err);
            found = 1;
        }
    }
    fclose(f);
    if (st == FACEAU_OK && !found)
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no LandmarkDetector line", path);
    return st;
}

static faceau_status read_part(fa_clnf *m, const char *dir, char *line, fa_err *err)
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
    if (st || (st = read_part_main(full, P, &m->arena, &m->comps, err)))
        return st;
    for (int q = 0; q < nmap; q++)
        if (m->part_map[k][q][1] >= P->pdm.n)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "part '%s' maps to point %d of its %d-point PDM", name,
                           m->part_map[k][q][1], P->pdm.n);
    return FACEAU_OK;
}

/* The load's first batch: job 0 reads the main file's landmark models (its lines in order,
 * stopping at the first failure), job 1 the validator (the file of the last DetectionValidator
 * line), which is independent of them. Of two failures the earlier line's is reported. */
typedef struct read_jobs {
    fa_clnf *m;
    FILE *f;
    const char *main_path, *dir, *validator_path;
    faceau_status st[2];
    long fail_line[2];
    int have_main;
    fa_err err[2];
} read_jobs;

static void read_job(void *ctx, long job, int thread)
{
    (void)thread;
    read_jobs *R = ctx;
    fa_clnf *m = R->m;
    fa_err *err = &R->err[job];
    if (job == 1) {
        R->st[1] = fa_validator_load(R->validator_path, &m->validator, err);
        return;
    }
    char line[8192], full[4096];
    faceau_status st = FACEAU_OK;
    long n = 0;
    while (st == FACEAU_OK && fgets(line, sizeof line, R->f)) {
        n++;
        chomp(line);
        char module[64], loc[4096];
        if (sscanf(line, "%63s %4095s", module, loc) != 2)
            continue;
        if (!strcmp(module, "LandmarkDetector")) {
            if (!(st = fa_path_join(full, sizeof full, R->dir, loc, err)))
                st = read_clnf_file(full, &m->main, &m->arena, &m->comps, err);
            R->have_main = 1;
        } else if (!strcmp(module, "LandmarkDetector_part")) {
            st = read_part(m, R->dir, line, err);
        }
    }
    R->st[0] = st;
    R->fail_line[0] = n;
}

static faceau_status load_all(fa_clnf *m, const char *main_path, FILE *f, fa_pool *pool, fa_err *err)
{
    char dir[4096], line[8192], validator[4096];
    dir_of(main_path, dir, sizeof dir);
    params_main(&m->main.params);
    /* the validator's line (the last of them: each would replace the one before) */
    long n = 0, vline = 0;
    faceau_status st = FACEAU_OK;
    while (fgets(line, sizeof line, f)) {
        n++;
        char module[64], loc[4096];
        chomp(line);
        if (sscanf(line, "%63s %4095s", module, loc) == 2 && !strcmp(module, "DetectionValidator")) {
            if ((st = fa_path_join(validator, sizeof validator, dir, loc, err)))
                return st;
            vline = n;
        }
    }
    rewind(f);
    read_jobs R = {m, f, main_path, dir, validator, {FACEAU_OK, FACEAU_OK}, {0, vline}, 0,
                   {{FACEAU_OK, ""}, {FACEAU_OK, ""}}};
    fa_pool_for(pool, vline ? 2 : 1, read_job, &R);
    if (ferror(f) && !R.st[0])
        R.st[0] = fa_fail(&R.err[0], FACEAU_ERR_IO, "%s: read error", main_path);
    for (int j = 0; j < 2; j++)
        if (R.st[j] && (!st || R.fail_line[j] < n)) {
            st = R.st[j];
            n = R.fail_line[j];
            if (err)
                *err = R.err[j];
        }
    if (st)
        return st;
    if (!R.have_main)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no LandmarkDetector line", main_path);
    for (int k = 0; k < m->n_parts; k++)
        for (int q = 0; q < m->part_nmap[k]; q++)
            if (m->part_map[k][q][0] >= m->main.pdm.n)
                return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "part '%s' maps main point %d of %d",
                               m->part_name[k], m->part_map[k][q][0], m->main.pdm.n);
    /* the second batch: every Sigma and grid (the parts', then the main model's) */
    load_plan *L = fa_calloc(1, sizeof *L, err, "CLNF load plan");
    if (!L)
        return FACEAU_ERR_NOMEM;
    for (int k = 0; !st && k < m->n_parts; k++)
        st = model_plan(&m->part[k], L, &m->arena, err);
    if (!st)
        st = model_plan(&m->main, L, &m->arena, err);
    if (!st)
        st = load_run(L, pool, err);
    for (int p = 0; p < L->n_plans; p++) /* plans left by a failure */
        fa_ccnf_plan_free(&L->plan[p]);
    for (int q = 0; q < L->n_checks; q++)
        free(L->check[q].ok);
    free(L);
    /* the tables are all there: the components go, and the reservation's unused end */
    for (int k = 0; k <= m->n_parts; k++) {
        clnf_model *M = k < m->n_parts ? &m->part[k] : &m->main;
        for (int sc = 0; sc < M->n_scales; sc++)
            fa_ccnf_drop_components(&M->ccnf[sc]);
    }
    fa_large_arena_free(&m->comps);
    fa_large_arena_trim(&m->arena);
    return st;
}

faceau_status fa_clnf_load(const char *main_path, fa_clnf **out, fa_err *err)
{
    return fa_clnf_load_threads(main_path, 0, out, err);
}

faceau_status fa_clnf_load_threads(const char *main_path, int threads, fa_clnf **out, fa_err *err)
{
    *out = NULL;
    if (threads < 0 || threads > FA_POOL_MAX_THREADS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "clnf: %d load threads outside 0..%d", threads,
                       FA_POOL_MAX_THREADS);
    fa_clnf *m = fa_calloc(1, sizeof *m, err, "CLNF model");
    if (!m)
        return FACEAU_ERR_NOMEM;
    FILE *f;
    faceau_status st = fa_fopen_read(main_path, &f, err);
    if (st) {
        free(m);
        return st;
    }
    /* The load's work is shared out over a thread per online CPU (at most 8) for the load only:
     * the validator beside the landmark models' files, then the Sigmas and KDE grids. Each job
     * writes its own tables, so the bits do not depend on the count; without threads the caller
     * does them all. */
    fa_pool *pool = NULL;
    const long ncpu = threads ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 1) {
        fa_err pe;
        if (fa_pool_create(ncpu > 8 ? 8 : (int)ncpu, &pool, &pe) != FACEAU_OK)
            pool = NULL;
    }
    st = load_all(m, main_path, f, pool, err);
    fclose(f);
    fa_pool_free(pool);
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
    fa_large_arena_free(&m->arena);
    fa_large_arena_free(&m->comps);
    free(m);
}

/* ---- digest (tests) ----------------------------------------------------------------------- */

static void digest_bytes(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ c[i]) * 1099511628211ull;
}

static void digest_ccnf(uint64_t *h, const fa_ccnf *c)
{
    digest_bytes(h, &c->patch_scaling, sizeof c->patch_scaling);
    const int ints[4] = {c->n_views, c->n_points, c->n_betas, c->support};
    digest_bytes(h, ints, sizeof ints);
    digest_bytes(h, c->centers, sizeof *c->centers * (size_t)c->n_views);
    digest_bytes(h, c->visibility, sizeof *c->visibility * (size_t)c->n_views * (size_t)c->n_points);
    for (int i = 0; i < c->n_views * c->n_points; i++) {
        const fa_ccnf_expert *e = &c->experts[i];
        const int shape[3] = {e->width, e->height, e->n_neurons};
        digest_bytes(h, shape, sizeof shape);
        if (e->n_neurons) {
            digest_bytes(h, e->weights, sizeof *e->weights * (size_t)e->n_neurons *
                                            (size_t)(1 + e->width * e->height));
            digest_bytes(h, e->alpha, sizeof *e->alpha * (size_t)e->n_neurons);
            digest_bytes(h, e->betas, sizeof *e->betas * (size_t)c->n_betas);
        }
        digest_bytes(h, &e->confidence, sizeof e->confidence);
        for (int s = 0; s < c->n_slots; s++) {
            const size_t N = (size_t)c->slot_window[s] * (size_t)c->slot_window[s];
            digest_bytes(h, &c->slot_window[s], sizeof c->slot_window[s]);
            if (e->sigma[s])
                digest_bytes(h, e->sigma[s], sizeof(float) * N * N);
        }
    }
    /* a slot computed per face: what its Sigmas are computed from (test_ccnf checks that they
     * are the prepared ones) */
    for (int s = 0; s < c->n_slots; s++) {
        const fa_ccnf_lazy *L = &c->lazy[s];
        if (!L->group)
            continue;
        const size_t N = (size_t)c->slot_window[s] * (size_t)c->slot_window[s];
        const int ints[4] = {L->nd, L->n_comp, L->cap, L->per_call};
        digest_bytes(h, ints, sizeof ints);
        digest_bytes(h, L->group, sizeof *L->group * (size_t)(c->n_views * c->n_points));
        digest_bytes(h, L->rep, sizeof *L->rep * (size_t)L->nd);
        digest_bytes(h, L->pos, sizeof *L->pos * L->n_pos);
        digest_bytes(h, L->comp, sizeof *L->comp * (size_t)L->n_comp * N * N);
    }
}

static void digest_model(uint64_t *h, const clnf_model *M)
{
    const fa_pdm *p = &M->pdm;
    const size_t n3 = 3 * (size_t)p->n, m = (size_t)p->m;
    digest_bytes(h, p->mean, sizeof *p->mean * n3);
    digest_bytes(h, p->pc, sizeof *p->pc * n3 * m);
    digest_bytes(h, p->eig, sizeof *p->eig * m);
    if (p->gram)
        digest_bytes(h, p->gram, sizeof *p->gram * 6 * m * m);
    if (p->pct)
        digest_bytes(h, p->pct, sizeof *p->pct * n3 * m);
    for (int s = 0; s < M->n_scales; s++)
        digest_ccnf(h, &M->ccnf[s]);
    digest_bytes(h, &M->params, sizeof M->params);
    for (int k = 0; k < M->n_kde; k++) {
        const fa_kde *K = &M->kde[k];
        digest_bytes(h, &K->a, sizeof K->a);
        digest_bytes(h, K->tab, sizeof *K->tab * fa_kde_floats(K->ws));
    }
}

uint64_t fa_clnf_digest(const fa_clnf *m)
{
    uint64_t h = 1469598103934665603ull;
    digest_model(&h, &m->main);
    for (int k = 0; k < m->n_parts; k++) {
        digest_model(&h, &m->part[k]);
        digest_bytes(&h, m->part_map[k], sizeof m->part_map[k][0] * (size_t)m->part_nmap[k]);
    }
    return h;
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
    for (int k = 0; k < FA_CLNF_MAX_PARTS && st == FACEAU_OK; k++)
        st = fa_ccnf_ws_create(&ws->part_ccnf[k], err);
    if (st == FACEAU_OK)
        st = fa_validator_ws_create(&ws->val, err);
    if (st) {
        fa_ccnf_ws_free(ws->ccnf);
        for (int k = 0; k < FA_CLNF_MAX_PARTS; k++)
            fa_ccnf_ws_free(ws->part_ccnf[k]);
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
        for (int k = 0; k < FA_CLNF_MAX_PARTS; k++)
            fa_ccnf_ws_free(f->ws->part_ccnf[k]);
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

/* ws->bufs holding per floats for each pool thread. */
static faceau_status grow_bufs(fa_clnf_ws *ws, size_t per, fa_err *err)
{
    const size_t need = per * (size_t)fa_pool_threads(ws->pool);
    if (need > ws->bufs_cap) {
        float *b = fa_malloc(need * sizeof *b, err, "CLNF response buffers");
        if (!b)
            return FACEAU_ERR_NOMEM;
        free(ws->bufs);
        ws->bufs = b;
        ws->bufs_cap = need;
    }
    return FACEAU_OK;
}

/* cws: the response workspace; pooled: split the landmarks over ws's pool (else this thread). */
static faceau_status responses(const fa_ccnf *c, const fa_pdm *pdm, const float g[6],
                               const float *p, const fa_grey *grey, int window, fa_clnf_ws *ws,
                               fa_ccnf_ws *cws, int pooled, const fa_ccnf_response **out,
                               fa_err *err)
{
    if (!ws->pool || !pooled)
        return fa_ccnf_response_compute(c, pdm, g, p, grey, window, cws, out, err);
    if (!grey || !grey->px)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf response: NULL image");
    faceau_status st = fa_ccnf_response_begin(c, pdm, g, p, window, cws, out, err);
    if (st)
        return st;
    const size_t per = fa_ccnf_worker_floats(c, window);
    if ((st = grow_bufs(ws, per, err)))
        return st;
    response_jobs J = {c, grey, *out, ws->bufs, per};
    fa_pool_for(ws->pool, RESPONSE_JOBS, response_job, &J);
    return FACEAU_OK;
}

/* CLNF::Fit over the scales whose window is > 0. *fit_ok = 0 when the face got too small (scale
 * < 0.25 after a scale); *lhood is set when a scale computes the likelihood (then *lhood_set =
 * 1). pre: scale 0's responses, computed already (a detection's batch), or NULL. */
static faceau_status fit(const clnf_model *M, fa_clnf_ws *ws, fa_ccnf_ws *cws, int pooled,
                         const fa_grey *grey, const int *windows, int n_windows,
                         const fa_ccnf_response *pre, float g[6], float *p, float *lhood,
                         int *lhood_set, int *fit_ok, fa_err *err)
{
    const fa_pdm *pdm = &M->pdm;
    int n = pdm->n;
    float cur[2 * MAXP], weights[2 * MAXP];
    *fit_ok = 1;
    for (int scale = 0; scale < M->n_scales; scale++) {
        int w = scale < n_windows ? windows[scale] : 0;
        if (w == 0)
            continue;
        const fa_ccnf_response *r = scale == 0 ? pre : NULL;
        faceau_status st = FACEAU_OK;
        if (!r)
            st = responses(&M->ccnf[scale], pdm, g, p, grey, w, ws, cws, pooled, &r, err);
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
        if (in.compute_lhood) {
            *lhood = ll;
            *lhood_set = 1;
        }
        if (g[0] < 0.25) {
            *fit_ok = 0; /* "Face too small for landmark detection" */
            return FACEAU_OK;
        }
    }
    return FACEAU_OK;
}

/* One hierarchical part of CLNF::DetectLandmarks: its CalcParams from the main fit's landmarks,
 * its own Fit when the face is large enough, its landmarks. */
typedef struct parts_jobs {
    const fa_clnf *m;
    fa_clnf_face *f;
    const fa_grey *grey;
    int used[FA_CLNF_MAX_PARTS];
    faceau_status st[FA_CLNF_MAX_PARTS];
    fa_err err[FA_CLNF_MAX_PARTS];
} parts_jobs;

static void part_job(void *ctx, long job, int thread)
{
    (void)thread;
    parts_jobs *J = ctx;
    const fa_clnf *m = J->m;
    fa_clnf_face *f = J->f;
    const int k = (int)job, n = m->main.pdm.n;
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
    J->used[k] = 0;
    J->st[k] = FACEAU_OK;
    if ((double)f->g[0] > 0.9 * P->ccnf[0].patch_scaling) {
        J->used[k] = 1;
        float part_lh = -10; /* the part's likelihood is not used */
        int part_ok, part_set;
        fa_err_clear(&J->err[k]);
        J->st[k] = fit(P, f->ws, f->ws->part_ccnf[k], 0, J->grey, P->params.win_init,
                       P->params.n_windows, NULL, f->part_g[k], f->part_p[k], &part_lh,
                       &part_set, &part_ok, &J->err[k]);
        if (J->st[k])
            return;
    }
    fa_pdm_shape2d(&P->pdm, f->part_p[k], f->part_g[k], f->part_landmarks[k]);
}

/* DetectLandmarks up to the validator: the main fit, the hierarchical parts and the main
 * CalcParams after them. *fit_ok = 0 when the face got too small; pre and *lhood_set as fit's. */
static faceau_status fit_landmarks(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                   const int *windows, const fa_ccnf_response *pre,
                                   int *lhood_set, int *fit_ok, fa_err *err)
{
    const clnf_model *M = &m->main;
    const fa_pdm *pdm = &M->pdm;
    int n = pdm->n;
    *lhood_set = 0;
    faceau_status st = fit(M, f->ws, f->ws->ccnf, 1, grey, windows, M->params.n_windows, pre,
                           f->g, f->p, &f->model_likelihood, lhood_set, fit_ok, err);
    if (st)
        return st;
    fa_pdm_shape2d(pdm, f->p, f->g, f->landmarks);

    if (M->params.refine_hierarchical && m->n_parts > 0) {
        /* the parts depend on the main fit alone, and each writes only its own state: they run
         * side by side on the pool (each on one thread, its responses unsplit), the same
         * arithmetic as one after another */
        parts_jobs J = {.m = m, .f = f, .grey = grey};
        fa_pool_for(f->ws->pool, m->n_parts, part_job, &J);
        int parts_used = 0;
        for (int k = 0; k < m->n_parts; k++) {
            if (J.st[k]) {
                *err = J.err[k];
                return J.st[k];
            }
            parts_used |= J.used[k];
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
    return FACEAU_OK;
}

int fa_clnf_fit_needs_validator(const fa_clnf *m, int fit_ok)
{
    return m->main.params.validate && fit_ok && m->validator;
}

faceau_status fa_clnf_validate(const fa_clnf *m, fa_validator_ws *ws, const fa_grey *grey,
                               const fa_clnf_face *f, float *confidence, fa_err *err)
{
    return fa_validator_check(m->validator, ws, grey, f->landmarks, m->main.pdm.n, f->g + 1,
                              confidence, err);
}

size_t fa_clnf_validator_floats(const fa_clnf *m)
{
    return m->validator ? fa_validator_max_template(m->validator) : 0;
}

faceau_status fa_clnf_validate_warp_bgr(const fa_clnf *m, fa_validator_ws *ws, const fa_clnf_face *f,
                                        const fa_image *frame, int *view, float *warped, int *empty,
                                        fa_err *err)
{
    return fa_validator_crop_warp_bgr(m->validator, ws, frame, f->landmarks, m->main.pdm.n,
                                      f->g + 1, view, warped, empty, err);
}

faceau_status fa_clnf_validate_cnn(const fa_clnf *m, fa_validator_ws *ws, int view,
                                   const float *warped, int empty, float *confidence, fa_err *err)
{
    return fa_validator_confidence(m->validator, ws, view, warped, empty, confidence, err);
}

/* The validator's verdict on a fit (conf: its confidence when fa_clnf_fit_needs_validator). */
static void apply_verdict(const fa_clnf *m, fa_clnf_face *f, int fit_ok, float conf)
{
    if (fa_clnf_fit_needs_validator(m, fit_ok)) {
        f->confidence = conf;
        f->detection_success = conf > m->main.params.validation_boundary;
    } else {
        f->detection_success = fit_ok;
        f->confidence = fit_ok ? 1.0f : 0.0f;
    }
}

/* fa_clnf_detect_landmarks with pre and *lhood_set as fit's. */
static faceau_status detect_landmarks(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                      const int *windows, const fa_ccnf_response *pre,
                                      int *lhood_set, int *success, fa_err *err)
{
    int fit_ok;
    faceau_status st = fit_landmarks(m, f, grey, windows, pre, lhood_set, &fit_ok, err);
    if (st)
        return st;
    float conf = 0;
    if (fa_clnf_fit_needs_validator(m, fit_ok) &&
        (st = fa_clnf_validate(m, f->ws->val, grey, f, &conf, err)))
        return st;
    apply_verdict(m, f, fit_ok, conf);
    *success = f->detection_success;
    return FACEAU_OK;
}

faceau_status fa_clnf_detect_landmarks(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                       const int *windows, int *success, fa_err *err)
{
    int lhood_set;
    return detect_landmarks(m, f, grey, windows, NULL, &lhood_set, success, err);
}

/* ---- detection in an image and tracking in a video ------------------------------------------ */

/* DetectLandmarksInImage's rotation hypotheses (cv::Vec3d, converted to float by CalcParams). */
#define N_HYPOTHESES 11
static const double HYPOTHESES[N_HYPOTHESES][3] = {
    {0, 0, 0},       {0, -0.5236, 0}, {0, 0.5236, 0}, {0, -0.96, 0},       {0, 0.96, 0},
    {0, 0, 0.5236},  {0, 0, -0.5236}, {0, -1.57, 0},  {0, 1.57, 0},        {0, -1.22, 0.698},
    {0, 1.22, -0.698}};

/* The hypotheses of one detection: their starting parameters, then each one's fit. */
typedef struct hypotheses {
    int n;
    float g[N_HYPOTHESES][6];
    float zero[FA_PDM_MAX_MODES];          /* every hypothesis starts from p = 0 */
    const float *p[N_HYPOTHESES];
    int view[N_HYPOTHESES];                /* the first scale's view's view_rank */
    int order[N_HYPOTHESES];               /* the order they run in */
    fa_clnf_face face[N_HYPOTHESES];       /* each one's fit */
    int ok[N_HYPOTHESES], lhood_set[N_HYPOTHESES];
} hypotheses;

typedef struct batch_jobs {
    const fa_ccnf_batch *b;
    const fa_grey *grey;
    float *bufs;
    size_t buf_floats;
} batch_jobs;

static void batch_job(void *ctx, long job, int thread)
{
    const batch_jobs *J = ctx;
    fa_ccnf_batch_run(J->b, J->grey, job, J->bufs + (size_t)thread * J->buf_floats);
}

/* The first scale's responses of every hypothesis at once when its window's Sigmas are
 * computed per response (each distinct one then once per detection, not once per landmark
 * and hypothesis); *out stays NULL otherwise. They depend only on each hypothesis's start. */
static faceau_status first_responses(const fa_clnf *m, fa_clnf_ws *ws, const fa_grey *grey,
                                     const hypotheses *H, fa_ccnf_batch **out, fa_err *err)
{
    const clnf_model *M = &m->main;
    const int w = M->params.n_windows > 0 ? M->params.win_init[0] : 0;
    *out = NULL;
    if (w <= 0 || !fa_ccnf_per_call(&M->ccnf[0], w))
        return FACEAU_OK;
    if (!grey || !grey->px)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf response: NULL image");
    const size_t per = fa_ccnf_worker_floats(&M->ccnf[0], w);
    faceau_status st = grow_bufs(ws, per, err);
    if (st || (st = fa_ccnf_batch_begin(&M->ccnf[0], &M->pdm, (const float(*)[6])H->g, H->p,
                                        H->n, w, out, err)))
        return st;
    batch_jobs J = {*out, grey, ws->bufs, per};
    fa_pool_for(ws->pool, fa_ccnf_batch_jobs(*out), batch_job, &J);
    return FACEAU_OK;
}

/* Where view v comes when the views are sorted by their centre's distance from the frontal
 * pose (then by index): mirrored views (yaw -20 and +20 in the general models) come side by
 * side, and those share their Sigmas. */
static int view_rank(const fa_ccnf *c, int v)
{
    double d[2];
    int rank = 0;
    for (int u = 0; u < c->n_views; u++) {
        for (int q = 0; q < 2; q++) {
            const double *x = c->centers[q ? v : u];
            d[q] = x[0] * x[0] + x[1] * x[1] + x[2] * x[2];
        }
        rank += d[0] < d[1] || (d[0] == d[1] && u < v);
    }
    return rank;
}

/* The order the hypotheses run in: by their first view's rank, stably. The next scales' Sigma
 * caches keep about one view each (with the frontal one's), so they then fill once per pair of
 * mirrored views rather than once per hypothesis. The order changes no number: each hypothesis
 * starts afresh from its box and rotation (p, the parts' p and g reset or recomputed), except
 * for the likelihood a fit leaves unset, which detect_image resolves in OpenFace's order. */
static void hypotheses_order(hypotheses *H)
{
    for (int h = 0; h < H->n; h++) {
        int q = h;
        for (; q > 0 && H->view[H->order[q - 1]] > H->view[h]; q--)
            H->order[q] = H->order[q - 1];
        H->order[q] = h;
    }
}

/* Each hypothesis's fit (H->face, ok, lhood_set), in H->order. */
static faceau_status fit_hypotheses(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                    hypotheses *H, fa_err *err)
{
    const clnf_model *M = &m->main;
    fa_ccnf_batch *B = NULL;
    faceau_status st = first_responses(m, f->ws, grey, H, &B, err);
    for (int h = 0; h < H->n && !st; h++)
        H->view[h] = view_rank(&M->ccnf[0], B ? fa_ccnf_batch_response(B, h)->view
                                              : fa_ccnf_view(&M->ccnf[0], H->g[h]));
    hypotheses_order(H);
    for (int q = 0; q < H->n && !st; q++) {
        const int h = H->order[q];
        memset(f->p, 0, sizeof f->p);
        for (int k = 0; k < m->n_parts; k++)
            memset(f->part_p[k], 0, sizeof f->part_p[k]);
        memcpy(f->g, H->g[h], sizeof f->g);
        st = detect_landmarks(m, f, grey, M->params.win_init, B ? fa_ccnf_batch_response(B, h) : NULL,
                              &H->lhood_set[h], &H->ok[h], err);
        H->face[h] = *f;
    }
    fa_ccnf_batch_free(B);
    return st;
}

faceau_status fa_clnf_detect_image(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                   const float box[4], int multi_view, int *success, fa_err *err)
{
    const clnf_model *M = &m->main;
    hypotheses *H = fa_malloc(sizeof *H, err, "the detection's hypotheses");
    if (!H)
        return FACEAU_ERR_NOMEM;
    H->n = multi_view ? N_HYPOTHESES : 1;
    memset(H->zero, 0, sizeof H->zero);
    for (int h = 0; h < H->n; h++) {
        float rot[3] = {(float)HYPOTHESES[h][0], (float)HYPOTHESES[h][1], (float)HYPOTHESES[h][2]};
        fa_pdm_params_from_box(&M->pdm, box, H->zero, rot, H->g[h]);
        H->p[h] = H->zero;
    }
    const float entry_lhood = f->model_likelihood;
    faceau_status st = fit_hypotheses(m, f, grey, H, err);
    if (st) {
        free(H);
        return st;
    }
    /* OpenFace's order: a fit that computes no likelihood keeps the one before it (the face's
     * own before the first); the best is the highest, the first of equals (NaN never wins, a
     * NaN first hypothesis always) */
    int best = 0;
    for (int h = 0; h < H->n; h++) {
        if (!H->lhood_set[h])
            H->face[h].model_likelihood = h ? H->face[h - 1].model_likelihood : entry_lhood;
        if (h > 0 && H->face[best].model_likelihood < H->face[h].model_likelihood)
            best = h;
    }
    /* keep the tracking fields of f, take the fit of the best hypothesis */
    int tracking = f->tracking_initialised, failures = f->failures_in_a_row;
    *f = H->face[best];
    f->tracking_initialised = tracking;
    f->failures_in_a_row = failures;
    f->detection_success = H->ok[best];
    *success = H->ok[best];
    free(H);
    return FACEAU_OK;
}

/* DetectLandmarksInVideo after the tracked fit's verdict (or from the start when tracking is
 * not initialised): the re-detection rule and the failure counters. */
static faceau_status track_rest(const fa_clnf *m, fa_clnf_face *f, fa_mtcnn *mtcnn,
                                const fa_image *frame, const fa_grey *grey, int initial_detection,
                                int *success, fa_err *err)
{
    const fa_clnf_params *P = &m->main.params;
    faceau_status st;
    if ((!f->tracking_initialised &&
         (f->failures_in_a_row + 1) % (P->reinit_video_every * 6) == 0) ||
        (f->tracking_initialised && !f->detection_success && P->reinit_video_every > 0 &&
         f->failures_in_a_row % P->reinit_video_every == 0)) {
        faceau_box boxes[256];
        int nb = 0;
        fa_grey_need(grey, 0, 0, grey->width, grey->height); /* MTCNN reads the whole frame */
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

faceau_status fa_clnf_track_fit(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                                int *fit_ok, fa_err *err)
{
    const fa_clnf_params *P = &m->main.params;
    if (!f->tracking_initialised)
        return fa_fail(err, FACEAU_ERR_STATE, "clnf: a tracked fit before the face was detected");
    int lhood_set;
    return fit_landmarks(m, f, grey, f->detection_success ? P->win_small : P->win_init, NULL,
                         &lhood_set, fit_ok, err);
}

faceau_status fa_clnf_track_finish(const fa_clnf *m, fa_clnf_face *f, fa_mtcnn *mtcnn,
                                   const fa_image *frame, const fa_grey *grey, int fit_ok,
                                   float confidence, int *success, fa_err *err)
{
    apply_verdict(m, f, fit_ok, confidence);
    if (!f->detection_success)
        f->failures_in_a_row++;
    else
        f->failures_in_a_row = -1;
    return track_rest(m, f, mtcnn, frame, grey, 0, success, err);
}

faceau_status fa_clnf_track_video(const fa_clnf *m, fa_clnf_face *f, fa_mtcnn *mtcnn,
                                  const fa_image *frame, const fa_grey *grey, int *success,
                                  fa_err *err)
{
    if (!f->tracking_initialised)
        return track_rest(m, f, mtcnn, frame, grey, 1, success, err);
    int fit_ok;
    float conf = 0;
    faceau_status st = fa_clnf_track_fit(m, f, grey, &fit_ok, err);
    if (!st && fa_clnf_fit_needs_validator(m, fit_ok))
        st = fa_clnf_validate(m, f->ws->val, grey, f, &conf, err);
    if (st)
        return st;
    return fa_clnf_track_finish(m, f, mtcnn, frame, grey, fit_ok, conf, success, err);
}
