/* ccnf_load.c - OpenFace's CCNF patch experts: reading the binary patch-expert files and the
 * Sigmas computed from them (Patch_experts::Read, CCNF_patch_expert::Read / ComputeSigmas),
 * see ccnf.h. The responses are in ccnf.c.
 *
 * Sigma arithmetic follows OpenFace and the OpenCV 4.6 calls it makes:
 *  - ComputeSigmas: cv::scaleAdd (fused on OpenCV's AVX2 path), cv::invert(DECOMP_CHOLESKY) =
 *    OpenCV's CholImpl<float> (float products, double sums) solving against the identity. */
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
} reader;

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

static void expert_free(fa_ccnf_expert *e)
{
    free(e->weights);
    free(e->alpha);
    free(e->betas);
    for (int s = 0; s < FA_CCNF_MAX_SLOTS; s++)
        free(e->sigma[s]);
    memset(e, 0, sizeof *e);
}

void fa_ccnf_free(fa_ccnf *c)
{
    if (!c)
        return;
    if (c->experts)
        for (int i = 0; i < c->n_views * c->n_points; i++)
            expert_free(&c->experts[i]);
    free(c->experts);
    if (c->windows)
        for (int w = 0; w < c->n_windows; w++)
            free(c->windows[w].comp);
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
    e->weights = fa_malloc((size_t)nn * (size_t)K * sizeof *e->weights, r->err, r->path);
    e->alpha = fa_malloc((size_t)nn * sizeof *e->alpha, r->err, r->path);
    e->betas = fa_malloc((size_t)(c->n_betas ? c->n_betas : 1) * sizeof *e->betas, r->err, r->path);
    float *wt = fa_malloc((size_t)w * (size_t)hh * sizeof *wt, r->err, r->path);
    if (!e->weights || !e->alpha || !e->betas || !wt) {
        free(wt);
        return FACEAU_ERR_NOMEM;
    }
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
    if (!(c->patch_scaling > 0 && c->patch_scaling < 100))
        return malformed(r, "patch scaling out of range", (long long)c->patch_scaling);
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
        if (nc) {
            c->windows[w].comp = fa_malloc((size_t)nc * nn * sizeof(float), r->err, r->path);
            if (!c->windows[w].comp)
                return FACEAU_ERR_NOMEM;
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
    if (!c)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: NULL model");
    memset(c, 0, sizeof *c);
    if (!path)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: NULL path");
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    reader r = {f, path, 0, 0, err};
    if (fseek(f, 0, SEEK_END) != 0 || (r.size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot determine the file size", path);
    }
    st = load_body(&r, c);
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
int fa_ccnf_compute_sigma(const fa_ccnf_expert *e, const float *comp, int n_comp, int window,
                          float *sigma, float *scratch)
{
    const int N = window * window;
    const size_t nn = (size_t)N * (size_t)N;
    /* sum_alphas = sum_alphas + alpha: double addition rounded to the float accumulator */
    float sum_alphas = 0;
    for (int a = 0; a < e->n_neurons; a++)
        sum_alphas = (float)((double)sum_alphas + e->alpha[a]);
    /* q2 = q2 + (float)beta * S_b: cv::scaleAdd, fused multiply-add on OpenCV's AVX2 path */
    memset(scratch, 0, nn * sizeof *scratch);
    for (int b = 0; b < n_comp; b++) {
        const float beta = (float)e->betas[b];
        const float *S = comp + (size_t)b * nn;
        for (size_t k = 0; k < nn; k++)
            scratch[k] = fmaf(S[k], beta, scratch[k]);
    }
    /* SigmaInv = 2 * (q1 + q2), q1 = sum_alphas * I: addWeighted(q1, 2, q2, 2, 0) rounds
     * 2 q1 + 2 q2 once, which is 2 * (float)(q1 + q2) exactly */
    for (int i = 0; i < N; i++)
        scratch[(size_t)i * (size_t)N + (size_t)i] += sum_alphas;
    for (size_t k = 0; k < nn; k++)
        scratch[k] = 2.f * scratch[k];
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
    return fa_cv_invert_cholesky(scratch, N, sigma, e->cpu);
}

int fa_ccnf_slot(const fa_ccnf *c, int window)
{
    for (int s = 0; s < c->n_slots; s++)
        if (c->slot_window[s] == window)
            return s;
    return -1;
}

faceau_status fa_ccnf_prepare(fa_ccnf *c, int window, fa_err *err)
{
    if (!c || !c->experts)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: prepare on an unloaded model");
    if (window < 1 || window > FA_CCNF_MAX_WINDOW)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: window %d outside 1..%d", window,
                       FA_CCNF_MAX_WINDOW);
    if (fa_ccnf_slot(c, window) >= 0)
        return FACEAU_OK;
    if (c->n_slots == FA_CCNF_MAX_SLOTS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf: more than %d window sizes prepared",
                       FA_CCNF_MAX_SLOTS);
    /* Patch_experts::Response picks the components whose rows equal window²; none match for
     * other sizes (and the eye models store none), which leaves Sigma = inv(2 sum(alpha) I). */
    const float *comp = NULL;
    int n_comp = 0;
    for (int w = 0; w < c->n_windows; w++)
        if (c->windows[w].n_comp > 0 && c->windows[w].size == window) {
            comp = c->windows[w].comp;
            n_comp = c->windows[w].n_comp;
        }
    if (n_comp > c->n_betas)
        n_comp = c->n_betas;
    const size_t N = (size_t)window * (size_t)window, nn = N * N;
    float *scratch = fa_malloc(2 * nn * sizeof *scratch, err, "CCNF sigma scratch");
    if (!scratch)
        return FACEAU_ERR_NOMEM;
    float *rowmajor = scratch + nn;
    const int slot = c->n_slots;
    faceau_status st = FACEAU_OK;
    for (int i = 0; i < c->n_views * c->n_points && !st; i++) {
        fa_ccnf_expert *e = &c->experts[i];
        if (!e->n_neurons)
            continue;
        e->sigma[slot] = fa_malloc(nn * sizeof(float), err, "a CCNF sigma");
        if (!e->sigma[slot])
            st = FACEAU_ERR_NOMEM;
        else if (!fa_ccnf_compute_sigma(e, comp, n_comp, window, rowmajor, scratch))
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                         "ccnf: Sigma for window %d of expert %d (view %d) is not positive definite",
                         window, i % c->n_points, i / c->n_points);
        else
            for (size_t a = 0; a < N; a++) /* stored column-major (see fa_ccnf_expert) */
                for (size_t b = 0; b < N; b++)
                    e->sigma[slot][b * N + a] = rowmajor[a * N + b];
    }
    free(scratch);
    if (st) {
        for (int i = 0; i < c->n_views * c->n_points; i++) {
            free(c->experts[i].sigma[slot]);
            c->experts[i].sigma[slot] = NULL;
        }
        return st;
    }
    c->slot_window[slot] = window;
    c->n_slots++;
    return FACEAU_OK;
}
