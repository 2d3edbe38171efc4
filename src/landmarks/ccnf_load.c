/* ccnf_load.c - OpenFace's CCNF patch experts: reading the binary patch-expert files and the
 * Sigmas computed from them (Patch_experts::Read, CCNF_patch_expert::Read / ComputeSigmas),
 * see ccnf.h. The responses are in ccnf.c.
 *
 * Sigma arithmetic follows OpenFace and the OpenCV 4.6 calls it makes:
 *  - ComputeSigmas: cv::scaleAdd (fused on OpenCV's AVX2 path), cv::invert(DECOMP_CHOLESKY) =
 *    OpenCV's CholImpl<float> (float products, double sums) solving against the identity below
 *    100 rows, LAPACK's sposv (OpenBLAS, cv/potrf.c) from 100 rows (window 11). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/ccnf_kernels.h"

#define MAX_VIEWS 64
#define MAX_POINTS 256
#define MAX_WINDOWS 16
#define MAX_COMP 16

#define FA_PI 3.14159265358979323846 /* M_PI */


/* ---- reading -------------------------------------------------------------------------------- */

typedef struct reader {
    FILE *f;
    const char *path;
    long size, pos; /* file size and bytes consumed: every count is checked against what is left */
    fa_err *err;
    unsigned char *arena; /* the model's block (fa_ccnf.arena): components and expert arrays */
    size_t arena_cap, arena_used;
    fa_large_arena *shared; /* where the block comes from (NULL: a block of the model's own) */
    fa_large_arena *comps;  /* where the components go (NULL: the block) */
} reader;

/* Arrays of the model come from one block (huge pages where offered): thousands of small
 * mallocs touched fresh pages one at a time. Every array is no larger than the bytes the file
 * stores for it, so the file's remaining size plus alignment bounds the block (take checks). */
#define ARENA_ALIGN 16

static void *take(reader *r, size_t bytes)
{
    const size_t at = (r->arena_used + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (!r->arena || bytes > r->arena_cap || at > r->arena_cap - bytes) {
        fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: CCNF arrays larger than the file allows", r->path);
        return NULL;
    }
    r->arena_used = at + bytes;
    return r->arena + at;
}

static faceau_status truncated(reader *r, const char *what)
{
    return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: truncated at byte %ld reading %s",
                   r->path, r->pos, what);
}

static faceau_status malformed(reader *r, const char *what, long long v)
{
    return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: malformed CCNF patch experts: %s (%lld) at byte %ld",
                   r->path, what, v, r->pos);
}

/* Fails unless n more bytes remain in the file (checked before allocating for them). */
static faceau_status need(reader *r, long long n, const char *what)
{
    if (n < 0 || n > (long long)(r->size - r->pos))
        return truncated(r, what);
    return FACEAU_OK;
}

static faceau_status read_raw(reader *r, void *dst, size_t n, const char *what)
{
    if (need(r, (long long)n, what) || fread(dst, 1, n, r->f) != n)
        return truncated(r, what);
    r->pos += (long)n;
    return FACEAU_OK;
}

static faceau_status read_i32(reader *r, int32_t *v, const char *what)
{
    return read_raw(r, v, 4, what);
}

static faceau_status read_f64(reader *r, double *v, const char *what)
{
    return read_raw(r, v, 8, what);
}

/* ReadMatBin's header (int32 rows, cols, OpenCV type), required to be rows x cols of type. */
static faceau_status read_mat_header(reader *r, int rows, int cols, int type, const char *what)
{
    int32_t h[3];
    faceau_status st = read_raw(r, h, sizeof h, what);
    if (st)
        return st;
    if (h[0] != rows || h[1] != cols || h[2] != type) {
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: malformed CCNF patch experts: %s is %d x %d type %d, expected %d x %d type %d (byte %ld)",
                       r->path, what, h[0], h[1], h[2], rows, cols, type, r->pos);
    }
    return need(r, (long long)rows * cols * (type == FA_CV_64F ? 8 : 4), what);
}

/* A loaded expert's arrays are in the fa_ccnf's arena, its Sigmas in sigma_store; a hand-made
 * one (no arena) owns its arrays. */
static void expert_free(fa_ccnf_expert *e, int owns)
{
    if (owns) {
        free(e->weights);
        free(e->alpha);
        free(e->betas);
    }
    memset(e, 0, sizeof *e);
}

void fa_ccnf_free(fa_ccnf *c)
{
    if (!c)
        return;
    if (c->experts)
        for (int i = 0; i < c->n_views * c->n_points; i++)
            expert_free(&c->experts[i], c->arena == NULL && !c->borrowed);
    free(c->experts);
    for (int s = 0; s < FA_CCNF_MAX_SLOTS; s++) {
        fa_free_large(c->sigma_store[s]);
        free(c->lazy[s].group); /* rep too: it is in group's block */
        free(c->lazy[s].pos);
        free(c->lazy[s].comp);
    }
    if (c->windows && !c->arena && !c->borrowed)
        for (int w = 0; w < c->n_windows; w++)
            free(c->windows[w].comp);
    fa_free_large(c->arena);
    free(c->windows);
    free(c->centers);
    free(c->visibility);
    memset(c, 0, sizeof *c);
}

/* CCNF_patch_expert::Read (with CCNF_neuron::Read): type 5, width, height, n_neurons; an empty
 * expert has one more int32; else the neurons {2, type, norm_weights, bias, alpha, Mat weights},
 * the betas (if the file has windows) and the patch confidence. The neuron weights go into
 * OpenFace's weight_matrix layout. */
static faceau_status read_expert(reader *r, const fa_ccnf *c, fa_ccnf_expert *e)
{
    int32_t h[4];
    faceau_status st = read_raw(r, h, sizeof h, "a patch expert header");
    if (st)
        return st;
    if (h[0] != 5)
        return malformed(r, "patch expert type is not 5", h[0]);
    if (h[3] == 0) {
        int32_t dummy;
        return read_i32(r, &dummy, "an empty patch expert");
    }
    if (h[1] < 1 || h[1] > FA_CCNF_MAX_SUPPORT || h[2] < 1 || h[2] > FA_CCNF_MAX_SUPPORT)
        return malformed(r, "patch expert size out of range", (long long)h[1] * 1000 + h[2]);
    if (h[3] < 0 || h[3] > FA_CCNF_MAX_NEURONS)
        return malformed(r, "neuron count out of range", h[3]);
    const int w = h[1], hh = h[2], nn = h[3], K = 1 + w * hh;
    /* each neuron is at least 4+4+24+12 bytes plus its weights */
    if ((st = need(r, (long long)nn * (44 + 4LL * w * hh), "the neurons")))
        return st;
    e->width = w;
    e->height = hh;
    if (!(e->weights = take(r, (size_t)nn * (size_t)K * sizeof *e->weights)) ||
        !(e->alpha = take(r, (size_t)nn * sizeof *e->alpha)) ||
        !(e->betas = take(r, (size_t)(c->n_betas ? c->n_betas : 1) * sizeof *e->betas)))
        return FACEAU_ERR_MODEL_CORRUPT;
    float *wt = fa_malloc((size_t)w * (size_t)hh * sizeof *wt, r->err, r->path);
    if (!wt)
        return FACEAU_ERR_NOMEM;
    e->n_neurons = nn;
    for (int i = 0; i < nn && !st; i++) {
        int32_t t[2];
        double nw, bias, alpha;
        if ((st = read_raw(r, t, sizeof t, "a neuron header")) || (st = read_f64(r, &nw, "a neuron")) ||
            (st = read_f64(r, &bias, "a neuron")) || (st = read_f64(r, &alpha, "a neuron")))
            break;
        if (t[0] != 2) {
            st = malformed(r, "neuron type code is not 2", t[0]);
            break;
        }
        if (t[1] != 0) {
            /* ResponseOpenBlas treats every neuron as an intensity (type 0) neuron */
            st = malformed(r, "unsupported neuron type", t[1]);
            break;
        }
        if ((st = read_mat_header(r, hh, w, FA_CV_32F, "neuron weights")) ||
            (st = read_raw(r, wt, (size_t)w * (size_t)hh * sizeof *wt, "neuron weights")))
            break;
        /* weight_matrix row i: bias, then weights.t() flattened (column-major over the patch),
         * each times norm_weights (Mat * double = convertTo with a float scale). */
        float *row = e->weights + (size_t)i * (size_t)K;
        const float s = (float)nw;
        row[0] = (float)bias;
        for (int x = 0; x < w; x++)
            for (int y = 0; y < hh; y++)
                row[1 + x * hh + y] = wt[y * w + x] * s;
        e->alpha[i] = alpha;
    }
    free(wt);
    if (st)
        return st;
    if (c->n_windows > 0)
        for (int b = 0; b < c->n_betas && !st; b++)
            st = read_f64(r, &e->betas[b], "the betas");
    if (!st)
        st = read_f64(r, &e->confidence, "the patch confidence");
    return st;
}

static faceau_status load_body(reader *r, fa_ccnf *c)
{
    faceau_status st;
    int32_t nv, nw;
    if ((st = read_f64(r, &c->patch_scaling, "the patch scaling")) ||
        (st = read_i32(r, &nv, "the view count")))
        return st;
    if (!(c->patch_scaling > 0 && c->patch_scaling < 100)) /* %g: any double, NaN included */
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: malformed CCNF patch experts: patch scaling out of range (%g) at byte %ld",
                       r->path, c->patch_scaling, r->pos);
    if (nv < 1 || nv > MAX_VIEWS)
        return malformed(r, "view count out of range", nv);
    if ((st = need(r, (long long)nv * 36, "the view centres")))
        return st;
    c->centers = fa_malloc((size_t)nv * sizeof *c->centers, r->err, r->path);
    if (!c->centers)
        return FACEAU_ERR_NOMEM;
    c->n_views = nv;
    for (int i = 0; i < nv; i++) {
        double d[3];
        if ((st = read_mat_header(r, 3, 1, FA_CV_64F, "a view centre")) ||
            (st = read_raw(r, d, sizeof d, "a view centre")))
            return st;
        /* Vec3d * M_PI / 180.0: a product, then Vec's division (times 1/alpha) */
        for (int k = 0; k < 3; k++)
            c->centers[i][k] = (d[k] * FA_PI) * (1. / 180.0);
    }
    /* visibilities: n x 1 int32 each, n from the first */
    for (int i = 0; i < nv; i++) {
        int32_t h[3];
        if ((st = read_raw(r, h, sizeof h, "a visibility header")))
            return st;
        if (i == 0) {
            if (h[0] < 1 || h[0] > MAX_POINTS)
                return malformed(r, "landmark count out of range", h[0]);
            if ((st = need(r, (long long)nv * h[0] * 4, "the visibilities")))
                return st;
            c->n_points = h[0];
            c->visibility = fa_malloc((size_t)nv * (size_t)h[0] * sizeof *c->visibility, r->err, r->path);
            if (!c->visibility)
                return FACEAU_ERR_NOMEM;
        }
        if (h[0] != c->n_points || h[1] != 1 || h[2] != FA_CV_32S)
            return malformed(r, "visibility matrix is not n x 1 int32", (long long)h[0]);
        if ((st = read_raw(r, c->visibility + (size_t)i * (size_t)c->n_points,
                           (size_t)c->n_points * sizeof(int32_t), "a visibility")))
            return st;
    }
    if ((st = read_i32(r, &nw, "the window count")))
        return st;
    /* the block for the rest: its bytes, plus alignment for the windows and each expert's
     * three arrays (an empty expert's bytes cover its betas' 8) */
    r->arena_cap = (size_t)(r->size - r->pos) +
                   ARENA_ALIGN * ((size_t)MAX_WINDOWS + 3 * (size_t)nv * (size_t)c->n_points + 1);
    if (r->shared) {
        r->arena = fa_large_arena_alloc(r->shared, r->arena_cap, r->err, r->path);
        c->borrowed = 1;
    } else {
        c->arena = r->arena = fa_malloc_large(r->arena_cap, r->err, r->path);
    }
    if (!r->arena)
        return FACEAU_ERR_NOMEM;
    if (nw < 0 || nw > MAX_WINDOWS)
        return malformed(r, "window count out of range", nw);
    c->windows = fa_calloc((size_t)(nw ? nw : 1), sizeof *c->windows, r->err, r->path);
    if (!c->windows)
        return FACEAU_ERR_NOMEM;
    c->n_windows = nw;
    for (int w = 0; w < nw; w++) {
        int32_t ws, nc;
        if ((st = read_i32(r, &ws, "a window size")) || (st = read_i32(r, &nc, "a sigma count")))
            return st;
        if (ws < 1 || ws > FA_CCNF_MAX_WINDOW)
            return malformed(r, "window size out of range", ws);
        if (nc < 0 || nc > MAX_COMP || (w > 0 && nc != c->windows[0].n_comp))
            return malformed(r, "sigma component count out of range or unequal", nc);
        const int N = ws * ws;
        const size_t nn = (size_t)N * (size_t)N;
        if ((st = need(r, (long long)nc * (12 + 4LL * (long long)nn), "the sigma components")))
            return st;
        c->windows[w].size = ws;
        c->windows[w].n_comp = nc;
        if (nc && r->comps) {
            c->windows[w].comp = fa_large_arena_alloc(r->comps, (size_t)nc * nn * sizeof(float),
                                                      r->err, r->path);
            if (!c->windows[w].comp)
                return FACEAU_ERR_NOMEM;
        } else if (nc) {
            c->windows[w].comp = take(r, (size_t)nc * nn * sizeof(float));
            if (!c->windows[w].comp)
                return FACEAU_ERR_MODEL_CORRUPT;
        }
        for (int s = 0; s < nc; s++)
            if ((st = read_mat_header(r, N, N, FA_CV_32F, "a sigma component")) ||
                (st = read_raw(r, c->windows[w].comp + (size_t)s * nn, nn * sizeof(float),
                               "a sigma component")))
                return st;
    }
    c->n_betas = nw > 0 ? c->windows[0].n_comp : 0;
    /* every expert is at least 20 bytes */
    if ((st = need(r, (long long)nv * c->n_points * 20, "the patch experts")))
        return st;
    c->experts = fa_calloc((size_t)nv * (size_t)c->n_points, sizeof *c->experts, r->err, r->path);
    if (!c->experts)
        return FACEAU_ERR_NOMEM;
    /* the kernels every expert runs, picked once for the model's lifetime */
    const unsigned cpu = fa_cpu_features();
    for (int i = 0; i < nv * c->n_points; i++) {
        c->experts[i].cpu = cpu;
        if ((st = read_expert(r, c, &c->experts[i])))
            return st;
    }
    c->support = fa_ccnf_max_support(c);
    return FACEAU_OK;
}

faceau_status fa_ccnf_load(const char *path, fa_ccnf *c, fa_err *err)
{
    return fa_ccnf_load_in(path, c, NULL, NULL, err);
}

faceau_status fa_ccnf_load_in(const char *path, fa_ccnf *c, fa_large_arena *arena,
                              fa_large_arena *comps, fa_err *err)
{
    if (!c)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: NULL model");
    memset(c, 0, sizeof *c);
    if (!path)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: NULL path");
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    reader r = {f, path, 0, 0, err, NULL, 0, 0, arena, arena ? comps : NULL};
    if (fseek(f, 0, SEEK_END) != 0 || (r.size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot determine the file size", path);
    }
    st = load_body(&r, c);
    if (arena && r.arena) /* the block's unused end goes back to the arena */
        fa_large_arena_shrink(arena, r.arena, r.arena_used);
    if (!st && ferror(f))
        st = fa_fail(err, FACEAU_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st)
        fa_ccnf_free(c);
    return st;
}

/* ---- Sigma ---------------------------------------------------------------------------------- */

/* cv::invert for n <= 3 takes a closed form (not Cholesky); only windows 1 (1x1) can reach it
 * here: x = 1/a in double, rounded (OpenCV's 1x1 case). */
/* sum(alpha) as ComputeSigmas accumulates it: double addition rounded to the float sum. */
static float sum_alphas(const fa_ccnf_expert *e)
{
    float sum = 0;
    for (int a = 0; a < e->n_neurons; a++)
        sum = (float)((double)sum + e->alpha[a]);
    return sum;
}

/* SigmaInv = 2 (sum_alphas I + sum_b (float)beta_b S_b) into out (N x N, row-major).
 * q2 = q2 + (float)beta * S_b is cv::scaleAdd, a fused multiply-add on OpenCV's AVX2 path;
 * addWeighted(q1, 2, q2, 2, 0) rounds 2 q1 + 2 q2 once, which is 2 * (float)(q1 + q2) exactly.
 * pos (n_pos entries, or NULL for all): the diagonal and the entries where some S_b is
 * non-zero. Elsewhere every fused step is fmaf(+-0, beta, +0) = +0 for a finite beta (an exact
 * zero sum is +0) and 2 * +0 = +0, so only pos is computed when the betas are finite. */
static void sigma_inv(const fa_ccnf_expert *e, const float *comp, int n_comp, int N, const int *pos,
                      size_t n_pos, float *out)
{
    const size_t nn = (size_t)N * (size_t)N;
    float beta[MAX_COMP];
    int finite = 1;
    for (int b = 0; b < n_comp; b++) {
        beta[b] = (float)e->betas[b];
        finite &= isfinite(beta[b]) != 0;
    }
    memset(out, 0, nn * sizeof *out);
    if (pos && finite) {
        for (size_t q = 0; q < n_pos; q++) {
            const size_t k = (size_t)pos[q];
            float v = 0;
            for (int b = 0; b < n_comp; b++)
                v = fmaf(comp[(size_t)b * nn + k], beta[b], v);
            out[k] = v;
        }
    } else {
        for (int b = 0; b < n_comp; b++) {
            const float *S = comp + (size_t)b * nn;
            for (size_t k = 0; k < nn; k++)
                out[k] = fmaf(S[k], beta[b], out[k]);
        }
    }
    const float sa = sum_alphas(e);
    for (int i = 0; i < N; i++)
        out[(size_t)i * (size_t)N + (size_t)i] += sa;
    if (pos && finite) {
        for (size_t q = 0; q < n_pos; q++)
            out[pos[q]] = 2.f * out[pos[q]];
    } else {
        for (size_t k = 0; k < nn; k++)
            out[k] = 2.f * out[k];
    }
}

/* cv::invert for n <= 3 takes a closed form (not Cholesky); only windows 1 (1x1) can reach it
 * here: x = 1/a in double, rounded (OpenCV's 1x1 case). */
int fa_ccnf_compute_sigma(const fa_ccnf_expert *e, const float *comp, int n_comp, int window,
                          float *sigma, float *scratch)
{
    const int N = window * window;
    sigma_inv(e, comp, n_comp, N, NULL, 0, scratch);
    if (N <= 3) {
        if (N == 1 && scratch[0] != 0) {
            sigma[0] = (float)(1. / (double)scratch[0]);
            return 1;
        }
        if (N == 1) {
            sigma[0] = 0;
            return 0;
        }
        /* windows are squares: N is 1, 4, 9, ... */
    }
    if (N >= FA_CV_LAPACK_MIN && N <= FA_CV_LAPACK_MAX) /* OpenCV hands these to LAPACK */
        return fa_cv_invert_potrf(scratch, N, sigma, 0, e->cpu, scratch);
    return fa_cv_invert_cholesky(scratch, N, sigma, e->cpu);
}

void fa_ccnf_drop_components(fa_ccnf *c)
{
    for (int w = 0; w < c->n_windows; w++)
        c->windows[w].comp = NULL;
    c->comps_dropped = 1;
}

int fa_ccnf_slot(const fa_ccnf *c, int window)
{
    for (int s = 0; s < c->n_slots; s++)
        if (c->slot_window[s] == window)
            return s;
    return -1;
}

/* What an expert's SigmaInv is made of: sum(alpha) and the float betas, bit for bit. Experts
 * with equal keys have the same SigmaInv, so the same Sigma. */
typedef struct sigma_key {
    uint32_t bits[1 + MAX_COMP];
    int expert;
} sigma_key;

static int cmp_key(const void *a, const void *b)
{
    const sigma_key *x = a, *y = b;
    int c = memcmp(x->bits, y->bits, sizeof x->bits);
    if (c)
        return c;
    return (x->expert > y->expert) - (x->expert < y->expert);
}

/* The Sigmas of up to FA_CHOL_BATCH experts (cnt), column-major into X[l], ok[l] whether each
 * exists: what a plan's batch, a workspace's fill and a response's own Sigma all run, so all
 * give the same bits. sinv: cnt window^4 floats; scratch: the inverse's (see
 * fa_ccnf_plan_work_floats). */
static void sigma_batch(const fa_ccnf *c, int window, const float *comp, int n_comp,
                        const int *pos, size_t n_pos, const int *experts, int cnt,
                        float *const *X, int *ok, float *sinv, float *scratch)
{
    const int N = window * window;
    const size_t nn = (size_t)N * (size_t)N;
    const float *A[FA_CHOL_BATCH];
    unsigned cpu = ~0u;
    for (int l = 0; l < cnt; l++) {
        const fa_ccnf_expert *e = &c->experts[experts[l]];
        cpu &= e->cpu;
        A[l] = sinv + (size_t)l * nn;
        if (N <= 3) /* cv::invert's closed forms (N = 1: a 1x1 is its own transpose) */
            ok[l] = fa_ccnf_compute_sigma(e, comp, n_comp, window, X[l], sinv + (size_t)l * nn);
        else
            sigma_inv(e, comp, n_comp, N, pos, n_pos, sinv + (size_t)l * nn);
    }
    /* OpenCV hands these to LAPACK (OpenBLAS; windows past 11 keep CholImpl's arithmetic) */
    if (N >= FA_CV_LAPACK_MIN && N <= FA_CV_LAPACK_MAX)
        for (int l = 0; l < cnt; l++)
            ok[l] = fa_cv_invert_potrf(A[l], N, X[l], 1, cpu, scratch);
    else if (N > 3)
        fa_cv_invert_cholesky_batch(A, cnt, N, X, ok, 1, cpu, scratch);
}

/* One batch of up to FA_CHOL_BATCH distinct Sigmas of a plan: it writes only its groups'
 * Sigmas and verdicts, and the running thread's scratch (work: fa_ccnf_plan_work_floats). */
void fa_ccnf_plan_run(const fa_ccnf_plan *P, long job, float *work)
{
    const int N = P->window * P->window, g0 = (int)job * FA_CHOL_BATCH;
    const size_t nn = (size_t)N * (size_t)N;
    const int cnt = P->nd - g0 < FA_CHOL_BATCH ? P->nd - g0 : FA_CHOL_BATCH;
    float *X[FA_CHOL_BATCH];
    for (int l = 0; l < cnt; l++)
        X[l] = P->store + (size_t)(g0 + l) * nn; /* column-major (see fa_ccnf_expert) */
    sigma_batch(P->c, P->window, P->comp, P->n_comp, P->pos, P->n_pos, P->rep + g0, cnt, X,
                P->group_ok + g0, work, work + FA_CHOL_BATCH * nn);
}

void fa_ccnf_lazy_run(const fa_ccnf *c, int slot, const int *groups, int cnt, float *const *X,
                      int *ok, float *work)
{
    const fa_ccnf_lazy *L = &c->lazy[slot];
    int experts[FA_CHOL_BATCH];
    for (int l = 0; l < cnt; l++)
        experts[l] = L->rep[groups[l]];
    const size_t N = (size_t)c->slot_window[slot] * (size_t)c->slot_window[slot];
    sigma_batch(c, c->slot_window[slot], L->comp, L->n_comp, L->pos, L->n_pos, experts, cnt, X,
                ok, work, work + FA_CHOL_BATCH * N * N);
}

static size_t inverse_floats(int N)
{
    return N >= FA_CV_LAPACK_MIN && N <= FA_CV_LAPACK_MAX ? fa_cv_invert_potrf_floats(N)
                                                         : fa_cv_invert_batch_floats(N);
}

size_t fa_ccnf_lazy_one_floats(int window)
{
    const size_t N = (size_t)window * (size_t)window;
    return N * N + inverse_floats((int)N);
}

int fa_ccnf_lazy_one(const fa_ccnf *c, int slot, int expert, float *X, float *work)
{
    const fa_ccnf_lazy *L = &c->lazy[slot];
    const size_t N = (size_t)c->slot_window[slot] * (size_t)c->slot_window[slot];
    int ok = 0;
    const int rep = L->rep[L->group[expert]]; /* the Sigma's first expert, as everywhere */
    sigma_batch(c, c->slot_window[slot], L->comp, L->n_comp, L->pos, L->n_pos, &rep, 1, &X, &ok,
                work, work + N * N);
    return ok;
}

size_t fa_ccnf_plan_work_floats(int window)
{
    const int N = window * window;
    const size_t nn = (size_t)N * (size_t)N;
    return FA_CHOL_BATCH * nn + inverse_floats(N);
}

void fa_ccnf_plan_free(fa_ccnf_plan *P)
{
    if (P) {
        free(P->group);
        free(P->pos);
        memset(P, 0, sizeof *P);
    }
}

faceau_status fa_ccnf_plan_make(fa_ccnf *c, int window, fa_ccnf_plan *P, fa_err *err)
{
    memset(P, 0, sizeof *P);
    if (!c || !c->experts)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: prepare on an unloaded model");
    if (window < 1 || window > FA_CCNF_MAX_WINDOW)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: window %d outside 1..%d", window,
                       FA_CCNF_MAX_WINDOW);
    P->c = c;
    P->window = window;
    if (fa_ccnf_slot(c, window) >= 0)
        return FACEAU_OK; /* nothing to do: nd 0, no jobs */
    if (c->n_slots == FA_CCNF_MAX_SLOTS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: more than %d window sizes prepared",
                       FA_CCNF_MAX_SLOTS);
    if (c->comps_dropped)
        return fa_fail(err, FACEAU_ERR_STATE,
                       "ccnf: window %d not prepared at load (its components are gone)", window);
    P->todo = 1;
    /* Patch_experts::Response picks the components whose rows equal window²; none match for
     * other sizes (and the eye models store none), which leaves Sigma = inv(2 sum(alpha) I). */
    for (int w = 0; w < c->n_windows; w++)
        if (c->windows[w].n_comp > 0 && c->windows[w].size == window) {
            P->comp = c->windows[w].comp;
            P->n_comp = c->windows[w].n_comp;
        }
    if (P->n_comp > c->n_betas)
        P->n_comp = c->n_betas;
    const int n_comp = P->n_comp;
    const float *comp = P->comp;
    const int N = window * window;
    const size_t nn = (size_t)N * (size_t)N;
    const int total = c->n_views * c->n_points;

    /* the distinct SigmaInv: keys sorted (ties by expert index, so the order is fixed) */
    int ne = 0;
    for (int i = 0; i < total; i++)
        ne += c->experts[i].n_neurons > 0;
    sigma_key *keys = fa_calloc((size_t)(ne ? ne : 1), sizeof *keys, err, "CCNF sigma keys");
    /* group (total), then rep and group_ok (up to ne each) */
    P->group = fa_malloc(((size_t)total + 2 * (size_t)ne + 1) * sizeof *P->group, err,
                         "CCNF sigma keys");
    P->pos = fa_malloc(nn * sizeof *P->pos, err, "CCNF sigma pattern");
    if (!keys || !P->group || !P->pos) {
        free(keys);
        fa_ccnf_plan_free(P);
        return FACEAU_ERR_NOMEM;
    }
    int *group = P->group;
    ne = 0;
    for (int i = 0; i < total; i++) {
        const fa_ccnf_expert *e = &c->experts[i];
        group[i] = -1;
        if (!e->n_neurons)
            continue;
        sigma_key *k = &keys[ne++];
        const float sa = sum_alphas(e);
        memcpy(&k->bits[0], &sa, 4);
        for (int b = 0; b < n_comp; b++) {
            const float beta = (float)e->betas[b];
            memcpy(&k->bits[1 + b], &beta, 4);
        }
        k->expert = i;
    }
    qsort(keys, (size_t)ne, sizeof *keys, cmp_key);
    int nd = 0;
    for (int q = 0; q < ne; q++) {
        if (q > 0 && memcmp(keys[q].bits, keys[q - 1].bits, sizeof keys[q].bits) != 0)
            nd++;
        group[keys[q].expert] = nd;
    }
    if (ne > 0)
        nd++;
    P->nd = nd;
    /* the first expert of each group (keys are sorted by key, then expert), and whether the
     * group's Sigma exists */
    P->rep = group + total;
    P->group_ok = P->rep + nd;
    for (int q = 0; q < ne; q++)
        if (q == 0 || memcmp(keys[q].bits, keys[q - 1].bits, sizeof keys[q].bits) != 0)
            P->rep[group[keys[q].expert]] = keys[q].expert;
    free(keys);
    /* the entries some component (or the diagonal) makes non-zero */
    for (size_t k = 0; k < nn; k++) {
        int on = k % ((size_t)N + 1) == 0;
        for (int b = 0; b < n_comp && !on; b++)
            on = comp[(size_t)b * nn + k] != 0;
        if (on)
            P->pos[P->n_pos++] = (int)k;
    }
    return FACEAU_OK;
}

size_t fa_ccnf_plan_bytes(const fa_ccnf_plan *P)
{
    const size_t N = (size_t)P->window * (size_t)P->window;
    return P->todo ? (size_t)P->nd * N * N * sizeof(float) : 0;
}

long fa_ccnf_plan_jobs(const fa_ccnf_plan *P)
{
    return P->todo && P->store ? (P->nd + FA_CHOL_BATCH - 1) / FA_CHOL_BATCH : 0;
}

faceau_status fa_ccnf_plan_finish(fa_ccnf_plan *P, float *owned, fa_err *err)
{
    fa_ccnf *c = P->c;
    if (!P->todo) {
        fa_free_large(owned);
        fa_ccnf_plan_free(P);
        return FACEAU_OK;
    }
    const int total = c->n_views * c->n_points;
    const size_t nn = (size_t)P->window * P->window * (size_t)P->window * P->window;
    faceau_status st = FACEAU_OK;
    for (int i = 0; i < total && !st; i++)
        if (P->group[i] >= 0 && !P->group_ok[P->group[i]])
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                         "ccnf: Sigma for window %d of expert %d (view %d) is not positive definite",
                         P->window, i % c->n_points, i / c->n_points);
    if (st) {
        fa_free_large(owned);
        fa_ccnf_plan_free(P);
        return st;
    }
    const int slot = c->n_slots;
    for (int i = 0; i < total; i++)
        c->experts[i].sigma[slot] = P->group[i] >= 0 ? P->store + (size_t)P->group[i] * nn : NULL;
    c->sigma_store[slot] = owned;
    c->slot_window[slot] = P->window;
    c->n_slots++;
    fa_ccnf_plan_free(P);
    return FACEAU_OK;
}

faceau_status fa_ccnf_plan_keep_unchecked(fa_ccnf_plan *P, int per_call, int *slot_out,
                                         fa_err *err)
{
    *slot_out = -1;
    fa_ccnf *c = P->c;
    if (!P->todo) {
        fa_ccnf_plan_free(P);
        return FACEAU_OK;
    }
    const size_t N = (size_t)P->window * (size_t)P->window;
    const size_t comp_floats = (size_t)P->n_comp * N * N;
    fa_ccnf_lazy L = {.nd = P->nd, .n_pos = P->n_pos, .n_comp = P->n_comp};
    L.comp = fa_malloc((comp_floats ? comp_floats : 1) * sizeof *L.comp, err, "CCNF sigma components");
    int *seen = fa_calloc((size_t)P->nd + 1, sizeof *seen, err, "CCNF sigma keys");
    if (!L.comp || !seen) {
        free(L.comp);
        free(seen);
        fa_ccnf_plan_free(P);
        return FACEAU_ERR_NOMEM;
    }
    if (comp_floats)
        memcpy(L.comp, P->comp, comp_floats * sizeof *L.comp);
    /* the cache a workspace keeps: every distinct Sigma of any view together with the frontal
     * view's (the invisible landmarks' are never computed), so that a face turning to and fro
     * across the frontal view's edge (yaw +-10 degrees in the general model) computes them once */
    const float g0[6] = {1, 0, 0, 0, 0, 0};
    const int frontal = fa_ccnf_view(c, g0);
    for (int v = 0; v < c->n_views; v++) {
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            const int u = pass ? frontal : v;
            for (int i = 0; i < c->n_points; i++) {
                const size_t k = (size_t)u * (size_t)c->n_points + (size_t)i;
                const int g = P->group[k];
                if (g >= 0 && c->visibility[k] && seen[g] != v + 1) {
                    seen[g] = v + 1;
                    n++;
                }
            }
        }
        L.cap = n > L.cap ? n : L.cap;
    }
    free(seen);
    /* the plan's group (with rep after it) and pos arrays become the slot's */
    L.group = P->group;
    L.rep = P->rep;
    L.pos = P->pos;
    P->group = NULL;
    P->pos = NULL;
    L.per_call = per_call;
    const int slot = c->n_slots;
    for (int i = 0; i < c->n_views * c->n_points; i++)
        c->experts[i].sigma[slot] = NULL;
    c->lazy[slot] = L;
    c->slot_window[slot] = P->window;
    c->n_slots++;
    fa_ccnf_plan_free(P);
    *slot_out = slot;
    return FACEAU_OK;
}

size_t fa_ccnf_lazy_check_floats(int window)
{
    const size_t N = (size_t)window * (size_t)window;
    return N * N + fa_ccnf_lazy_one_floats(window);
}

void fa_ccnf_lazy_check(const fa_ccnf *c, int slot, int g0, int g1, unsigned char *ok, float *work)
{
    const fa_ccnf_lazy *L = &c->lazy[slot];
    const size_t N = (size_t)c->slot_window[slot] * (size_t)c->slot_window[slot];
    for (int g = g0; g < g1 && g < L->nd; g++)
        ok[g] = (unsigned char)(fa_ccnf_lazy_one(c, slot, L->rep[g], work, work + N * N) != 0);
}

faceau_status fa_ccnf_lazy_verdict(const fa_ccnf *c, int slot, const unsigned char *ok, fa_err *err)
{
    const fa_ccnf_lazy *L = &c->lazy[slot];
    for (int g = 0; g < L->nd; g++)
        if (!ok[g])
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "ccnf: Sigma for window %d of expert %d (view %d) is not positive definite",
                           c->slot_window[slot], L->rep[g] % c->n_points, L->rep[g] / c->n_points);
    return FACEAU_OK;
}

faceau_status fa_ccnf_plan_keep(fa_ccnf_plan *P, int per_call, fa_err *err)
{
    fa_ccnf *c = P->c;
    int slot;
    faceau_status st = fa_ccnf_plan_keep_unchecked(P, per_call, &slot, err);
    if (st || slot < 0 || !per_call)
        return st;
    /* a response has no way to fail: a slot whose Sigmas each response computes is checked
     * here, all of them, as the load would have (into one scratch, kept nowhere) */
    const int nd = c->lazy[slot].nd;
    float *X = fa_malloc(fa_ccnf_lazy_check_floats(c->slot_window[slot]) * sizeof *X, err,
                         "CCNF sigma scratch");
    unsigned char *ok = fa_malloc((size_t)nd + 1, err, "CCNF sigma scratch");
    if (X && ok) {
        fa_ccnf_lazy_check(c, slot, 0, nd, ok, X);
        st = fa_ccnf_lazy_verdict(c, slot, ok, err);
    } else {
        st = FACEAU_ERR_NOMEM;
    }
    free(X);
    free(ok);
    return st;
}

typedef struct plan_job {
    const fa_ccnf_plan *P;
    float *work;
    size_t per_thread;
} plan_job;

static void plan_job_run(void *ctx, long job, int thread)
{
    const plan_job *J = ctx;
    fa_ccnf_plan_run(J->P, job, J->work + (size_t)thread * J->per_thread);
}

faceau_status fa_ccnf_prepare(fa_ccnf *c, int window, fa_err *err)
{
    fa_ccnf_prep prep = {.pool = NULL};
    faceau_status st = fa_ccnf_prepare_with(c, window, &prep, err);
    fa_ccnf_prep_free(&prep);
    return st;
}

void fa_ccnf_prep_free(fa_ccnf_prep *prep)
{
    if (prep) {
        fa_free_large(prep->work);
        prep->work = NULL;
        prep->cap = 0;
    }
}

faceau_status fa_ccnf_prepare_with(fa_ccnf *c, int window, fa_ccnf_prep *prep, fa_err *err)
{
    fa_ccnf_plan P;
    faceau_status st = fa_ccnf_plan_make(c, window, &P, err);
    if (st || !P.todo)
        return st;
    /* per thread: FA_CHOL_BATCH SigmaInv, then the inverse's scratch */
    const size_t per = fa_ccnf_plan_work_floats(window);
    const size_t work_floats = (size_t)fa_pool_threads(prep->pool) * per;
    if (prep->cap < work_floats) {
        /* grown, never shrunk, across the prepares of one load: fresh pages cost a fault each */
        fa_free_large(prep->work);
        prep->cap = 0;
        prep->work = fa_malloc_large(work_floats * sizeof *prep->work, err, "CCNF sigma scratch");
        if (prep->work)
            prep->cap = work_floats;
    }
    const size_t bytes = fa_ccnf_plan_bytes(&P);
    float *owned = NULL;
    P.store = prep->arena ? fa_large_arena_alloc(prep->arena, bytes ? bytes : 1, err, "the CCNF sigmas")
                          : (owned = fa_malloc_large(bytes ? bytes : 1, err, "the CCNF sigmas"));
    if (!prep->work || !P.store) {
        fa_free_large(owned);
        fa_ccnf_plan_free(&P);
        return FACEAU_ERR_NOMEM;
    }
    plan_job J = {&P, prep->work, per};
    fa_pool_for(prep->pool, fa_ccnf_plan_jobs(&P), plan_job_run, &J);
    return fa_ccnf_plan_finish(&P, owned, err);
}
