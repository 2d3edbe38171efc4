/* ccnf.c - OpenFace's CCNF patch experts: view choice and responses
 * (Patch_experts.cpp, CCNF_patch_expert.cpp), see ccnf.h; reading and Sigmas are in ccnf_load.c.
 *
 * Arithmetic follows the types and operation order of OpenFace and of the OpenCV 4.6 / OpenBLAS
 * calls it makes:
 *  - im2colContrastNormBias: float sums in OpenFace's loop order.
 *  - The two sgemm_ calls (neurons, Sigma) are summed as OpenBLAS 0.3.21's SkylakeX small-matrix
 *    kernel does (see skx_gemm.h): the neurons (M = P positions, N = neurons, K = 1 + w h) one
 *    fused chain per element except, when P % 16 is 1..8, the last P % 16 positions (16 partial
 *    chains and a tree); Sigma * response (M = 1, N = K = P) 16 partial chains and a tree per
 *    row for windows of 6 or more (P >= 32), one chain per row for smaller ones.
 *  - The sigmoid sum in double, rounded to float after each neuron, as OpenFace's `*p += double`. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/ccnf_kernels.h"
#include "cv/skx_gemm.h"

/* ---- view ------------------------------------------------------------------------------------- */

int fa_ccnf_view(const fa_ccnf *c, const float g[6])
{
    int idx = 0;
    float best = 0;
    for (int i = 0; i < c->n_views; i++) {
        /* float - double, stored to float */
        float v1 = (float)((double)g[1] - c->centers[i][0]);
        float v2 = (float)((double)g[2] - c->centers[i][1]);
        float v3 = (float)((double)g[3] - c->centers[i][2]);
        float d = v1 * v1 + v2 * v2 + v3 * v3;
        if (i == 0 || d < best) {
            best = d;
            idx = i;
        }
    }
    return idx;
}

/* ---- one landmark's response ---------------------------------------------------------------- */

size_t fa_ccnf_im2col_tmp_floats(int window, int w, int h)
{
    /* the portable im2col: K floats; the AVX2 one (windows of 3 or more): the transposed area
     * (+ 8), h copies of aw x window (+ 8), then the fused kernel's P means and P norms */
    const size_t K = 1 + (size_t)w * (size_t)h;
    if (window < 3)
        return K;
    const size_t aw = (size_t)(window + w - 1), ah = (size_t)(window + h - 1);
    const size_t avx2 =
        aw * ah + 8 + (size_t)h * aw * (size_t)window + 8 + 2 * (size_t)window * (size_t)window;
    return avx2 > K ? avx2 : K;
}

size_t fa_ccnf_scratch_floats(int window, int sw, int sh)
{
    const size_t P = (size_t)window * (size_t)window, K = 1 + (size_t)sw * (size_t)sh;
    return P * K + 2 * P + fa_ccnf_im2col_tmp_floats(window, sw, sh);
}

/* im2colContrastNormBias for window position r = x*window + y (x outer, as OpenFace's j/i
 * loops): 1 (the bias column), then the window's pixels in column-major order, made zero-mean
 * and unit-norm, in float and in OpenFace's loop orders: the sum row by row (yy outer), the
 * squares and the output in the column-major order of its temporary (xx outer). Stored k-major:
 * out[k*P + r], so that consecutive positions are contiguous for the vector kernels.
 *
 * Each position's sums are serial float chains, so positions are done LANES at a time (the
 * LANES windows with the same y and consecutive x): every lane runs its own chain in the order
 * above, independent of the others, which the compiler vectorises and the CPU overlaps. A
 * centred pixel (in - mean) is recomputed where OpenFace reads it back from its temporary: the
 * same float. */
enum { LANES = 8 };

static inline __attribute__((always_inline)) void
im2col_lanes(const float *area, int stride, int window, int w, int h, int x0, int y, float *out,
             const int L)
{
    const size_t P = (size_t)window * (size_t)window;
    const float count = (float)(w * h);
    float sum[LANES] = {0}, mean[LANES], sum_sq[LANES] = {0}, norm[LANES];
    for (int yy = 0; yy < h; yy++) {
        const float *Mi = area + (size_t)(y + yy) * (size_t)stride + (size_t)x0;
        for (int xx = 0; xx < w; xx++)
            for (int l = 0; l < L; l++)
                sum[l] += Mi[xx + l];
    }
    for (int l = 0; l < L; l++)
        mean[l] = sum[l] / count;
    for (int xx = 0; xx < w; xx++)
        for (int yy = 0; yy < h; yy++) {
            const float *Mi = area + (size_t)(y + yy) * (size_t)stride + (size_t)(x0 + xx);
            for (int l = 0; l < L; l++) {
                float in = Mi[l] - mean[l];
                sum_sq[l] += in * in;
            }
        }
    for (int l = 0; l < L; l++) {
        float n = sqrtf(sum_sq[l]);
        if (n == 0)
            n = 1;
        norm[l] = (float)(1.0 / (double)n); /* `norm = 1.0 / norm` on a float */
    }
    float *o = out + (size_t)x0 * (size_t)window + (size_t)y;
    for (int l = 0; l < L; l++)
        o[(size_t)l * (size_t)window] = 1.f;
    for (int xx = 0; xx < w; xx++)
        for (int yy = 0; yy < h; yy++) {
            const float *Mi = area + (size_t)(y + yy) * (size_t)stride + (size_t)(x0 + xx);
            float *ok = o + (size_t)(1 + xx * h + yy) * P;
            for (int l = 0; l < L; l++)
                ok[(size_t)l * (size_t)window] = (Mi[l] - mean[l]) * norm[l];
        }
}

/* One position alone, as OpenFace computes it (tmp holds K floats). */
static void im2col_one(const float *area, int stride, int window, int w, int h, int x, int y,
                       float *tmp, float *out)
{
    const int K = 1 + w * h;
    const size_t P = (size_t)window * (size_t)window;
    const size_t r = (size_t)x * (size_t)window + (size_t)y;
    const float count = (float)(w * h);
    float sum = 0;
    for (int yy = 0; yy < h; yy++) {
        const float *Mi = area + (size_t)(y + yy) * (size_t)stride + (size_t)x;
        for (int xx = 0; xx < w; xx++) {
            float in = Mi[xx];
            sum += in;
            tmp[1 + xx * h + yy] = in;
        }
    }
    const float mean = sum / count;
    float sum_sq = 0;
    for (int k = 1; k < K; k++) {
        float in = tmp[k] - mean;
        tmp[k] = in;
        sum_sq += in * in;
    }
    float norm = sqrtf(sum_sq);
    if (norm == 0)
        norm = 1;
    norm = (float)(1.0 / (double)norm); /* `norm = 1.0 / norm` on a float */
    out[r] = 1.f;
    for (int k = 1; k < K; k++)
        out[(size_t)k * P + r] = tmp[k] * norm;
}

/* All window x window positions: blocks of LANES (or LANES/2 for narrower windows) consecutive
 * x, the last block moved back to end at the window's edge (its overlap is recomputed to the
 * same values); windows narrower still one position at a time. tmp holds K floats. */
static void im2col_norm(const float *area, int stride, int window, int w, int h, float *tmp,
                        float *out)
{
    for (int y = 0; y < window; y++) {
        if (window >= LANES)
            for (int x0 = 0; x0 < window; x0 += LANES)
                im2col_lanes(area, stride, window, w, h,
                             x0 + LANES <= window ? x0 : window - LANES, y, out, LANES);
        else if (window >= LANES / 2)
            for (int x0 = 0; x0 < window; x0 += LANES / 2)
                im2col_lanes(area, stride, window, w, h,
                             x0 + LANES / 2 <= window ? x0 : window - LANES / 2, y, out,
                             LANES / 2);
        else
            for (int x = 0; x < window; x++)
                im2col_one(area, stride, window, w, h, x, y, tmp, out);
    }
}

void fa_ccnf_im2col(const float *area, int stride, int window, int w, int h, float *tmp,
                    float *out)
{
    im2col_norm(area, stride, window, w, h, tmp, out);
}

/* The two sgemm_ products in the order of OpenBLAS's SkylakeX small-matrix kernel
 * (skx_gemm.h). The neurons: positions before fa_skx_dot_row(P, K) one fused chain each over k
 * from 0 (alpha = 1, beta = 0); the rest (at most 8) 16 partial chains and a tree. The scalar
 * loop below and its AVX2 twin in ccnf_avx2.c compute the same lanes, so they agree bit for
 * bit; the expert's cpu, picked at load, chooses. Sigma * response is fa_skx_gemv_t. */
static void neurons_scalar(const float *colsT, int P, int K, const fa_ccnf_expert *e, int r0,
                           float *flat)
{
    const int rd = fa_skx_dot_row(P, K);
    for (int i = 0; i < e->n_neurons; i++) {
        if (!(e->alpha[i] > 1e-4))
            continue;
        const float *w = e->weights + (size_t)i * (size_t)K;
        const double a2 = 2.0 * e->alpha[i];
        int r = r0;
        for (; r < rd; r++) {
            float acc = 0;
            for (int k = 0; k < K; k++)
                acc = fmaf(colsT[(size_t)k * (size_t)P + (size_t)r], w[k], acc);
            flat[r] = fa_ccnf_add_sigmoid(flat[r], a2, acc);
        }
        for (; r < P; r++) {
            const float acc = fa_skx_dot(colsT + r, (size_t)P, w, 1, K,
                                         fa_skx_tree4(r, i, P, e->n_neurons));
            flat[r] = fa_ccnf_add_sigmoid(flat[r], a2, acc);
        }
    }
}

static void landmark_response(const fa_ccnf_expert *e, const float *sigma_t, const float *area,
                              int area_stride, int window, float *scratch, float *out)
{
    const int P = window * window;
    if (!e->n_neurons || !sigma_t) {
        memset(out, 0, (size_t)P * sizeof *out);
        return;
    }
    const int K = 1 + e->width * e->height;
    float *colsT = scratch;                         /* K x P */
    float *flat = colsT + (size_t)P * (size_t)K;    /* P, position order x*window + y */
    float *resp = flat + P;                         /* P, row-major [y][x] */
    float *tmp = resp + P;                          /* fa_ccnf_im2col_tmp_floats */
    /* neuron_resp_full = weight_matrix * im2col^T, then per neuron with alpha > 1e-4 the
     * sigmoid added to the response (zero to start with) */
    memset(flat, 0, (size_t)P * sizeof *flat);
#if FA_BUILD_AVX2
    const int avx2 = (e->cpu & (FA_CPU_AVX2 | FA_CPU_FMA)) == (FA_CPU_AVX2 | FA_CPU_FMA);
    if (avx2 && window >= 3 && (e->cpu & FA_CPU_AVX512))
        fa_ccnf_neurons_fused_avx512(area, area_stride, window, e, tmp, flat);
    else if (avx2 && window >= 3)
        fa_ccnf_neurons_fused_avx2(area, area_stride, window, e, tmp, flat);
    else
#endif
    {
        im2col_norm(area, area_stride, window, e->width, e->height, tmp, colsT);
        int r0 = 0;
#if FA_BUILD_AVX2
        if (avx2)
            r0 = fa_ccnf_neurons_avx2(colsT, P, K, e, flat);
#endif
        neurons_scalar(colsT, P, K, e, r0, flat);
    }
    /* response.t(): flat[x*window + y] is (x, y) */
    for (int y = 0; y < window; y++)
        for (int x = 0; x < window; x++)
            resp[y * window + x] = flat[x * window + y];

    /* out = Sigma * resp (sgemm_ with M = 1; AVX2 twin picked by the expert's cpu) */
    fa_skx_gemv_t(resp, sigma_t, P, P, NULL, e->cpu, out);
    /* minMaxIdx, then response - min (a float add of -min) */
    float mn = out[0];
    for (int n = 1; n < P; n++)
        mn = out[n] < mn ? out[n] : mn;
    if (mn < 0) {
        const float shift = -mn;
        for (int n = 0; n < P; n++)
            out[n] = out[n] + shift;
    }
}

void fa_ccnf_landmark_response(const fa_ccnf_expert *e, const float *sigma_t, const float *area,
                               int area_stride, int window, float *scratch, float *out)
{
    landmark_response(e, sigma_t, area, area_stride, window, scratch, out);
}

/* ---- Patch_experts::Response ------------------------------------------------------------------ */

/* The Sigmas of one lazy slot that a workspace has computed: cap of them (fa_ccnf_lazy.cap, so
 * any one view's fit), each tagged with the view fill that last used it; a new view replaces
 * the least recently used ones it does not need. Allocated at its full size on first use. */
typedef struct sigma_cache {
    const fa_ccnf *c;
    const int *group;   /* the slot's table: with c, which model's slot this is */
    int slot, view;     /* ptr is for view (-1: none yet) */
    float *store;       /* cap Sigmas of window^4 floats */
    int *held;          /* cap: the distinct Sigma in each, or -1 */
    unsigned *used;     /* cap: the fill that last needed it */
    int *where;         /* nd: where each distinct Sigma is held, or -1 */
    const float **ptr;  /* n_points: the view's Sigma per landmark (NULL: none needed) */
    float *work;        /* fa_ccnf_plan_work_floats(window) */
    unsigned clock;
} sigma_cache;

#define SIGMA_CACHES (2 * FA_CCNF_MAX_SLOTS) /* (model, slot) pairs one workspace serves */

struct fa_ccnf_ws {
    fa_ccnf_response out;
    size_t maps_cap, shape2d_cap, ref_cap, shape3d_cap, worker_cap;
    float *ref;      /* 2n reference shape */
    float *shape3d;  /* 3n */
    float *worker;   /* fa_ccnf_worker_floats: one landmark's area of interest and scratch */
    sigma_cache cache[SIGMA_CACHES];
    int n_cache;
};

faceau_status fa_ccnf_ws_create(fa_ccnf_ws **out, fa_err *err)
{
    *out = fa_calloc(1, sizeof **out, err, "a CCNF workspace");
    return *out ? FACEAU_OK : FACEAU_ERR_NOMEM;
}

static void cache_free(sigma_cache *k)
{
    free(k->store);
    free(k->held);
    free(k->used);
    free(k->where);
    free(k->ptr);
    free(k->work);
    memset(k, 0, sizeof *k);
}

/* The cache of (c, slot), made on first use. */
static faceau_status cache_get(fa_ccnf_ws *ws, const fa_ccnf *c, int slot, sigma_cache **out,
                               fa_err *err)
{
    const fa_ccnf_lazy *L = &c->lazy[slot];
    for (int q = 0; q < ws->n_cache; q++)
        if (ws->cache[q].c == c && ws->cache[q].slot == slot && ws->cache[q].group == L->group) {
            *out = &ws->cache[q];
            return FACEAU_OK;
        }
    if (ws->n_cache == SIGMA_CACHES)
        return fa_fail(err, FACEAU_ERR_STATE, "ccnf: a workspace used with more than %d lazy Sigma slots",
                       SIGMA_CACHES);
    const size_t N = (size_t)c->slot_window[slot] * (size_t)c->slot_window[slot];
    const size_t cap = (size_t)(L->cap ? L->cap : 1);
    sigma_cache k = {.c = c, .group = L->group, .slot = slot, .view = -1};
    k.store = fa_malloc(cap * N * N * sizeof *k.store, err, "a CCNF Sigma cache");
    k.held = fa_malloc(cap * sizeof *k.held, err, "a CCNF Sigma cache");
    k.used = fa_calloc(cap, sizeof *k.used, err, "a CCNF Sigma cache");
    k.where = fa_malloc(((size_t)L->nd + 1) * sizeof *k.where, err, "a CCNF Sigma cache");
    k.ptr = fa_calloc((size_t)c->n_points, sizeof *k.ptr, err, "a CCNF Sigma cache");
    k.work = fa_malloc(fa_ccnf_plan_work_floats(c->slot_window[slot]) * sizeof *k.work, err,
                       "a CCNF Sigma cache");
    if (!k.store || !k.held || !k.used || !k.where || !k.ptr || !k.work) {
        cache_free(&k);
        return FACEAU_ERR_NOMEM;
    }
    for (size_t q = 0; q < cap; q++)
        k.held[q] = -1;
    for (int g = 0; g < L->nd; g++)
        k.where[g] = -1;
    ws->cache[ws->n_cache] = k;
    *out = &ws->cache[ws->n_cache++];
    return FACEAU_OK;
}

/* Points k->ptr at view's Sigmas, computing those the cache does not hold (in batches, as the
 * load would) in place of the least recently used ones the view does not need. */
static faceau_status cache_fill(sigma_cache *k, int view, fa_err *err)
{
    const fa_ccnf *c = k->c;
    const fa_ccnf_lazy *L = &c->lazy[k->slot];
    const int n = c->n_points, window = c->slot_window[k->slot];
    const size_t nn = (size_t)window * window * (size_t)window * window;
    const unsigned now = ++k->clock;
    int missing[FA_PDM_MAX_POINTS], n_missing = 0; /* n <= FA_PDM_MAX_POINTS (response_begin) */
    for (int i = 0; i < n; i++) {
        const size_t e = (size_t)view * (size_t)n + (size_t)i;
        const int g = L->group[e];
        if (g < 0 || !c->visibility[e])
            continue;
        if (k->where[g] >= 0) {
            k->used[k->where[g]] = now;
        } else if (k->where[g] == -1) {
            k->where[g] = -2; /* to compute (once, when two landmarks share it) */
            missing[n_missing++] = g;
        }
    }
    /* places for the missing: free ones first, then the least recently used (the lowest index
     * of equals); cap covers any one view, so none the view needs is taken */
    for (int m = 0; m < n_missing; m++) {
        int best = -1;
        for (int q = 0; q < L->cap; q++) {
            if (k->used[q] == now)
                continue;
            if (k->held[q] < 0) {
                best = q;
                break;
            }
            if (best < 0 || k->used[q] < k->used[best])
                best = q;
        }
        if (best < 0) /* cannot happen: cap is the most any view needs */
            return fa_fail(err, FACEAU_ERR_STATE, "ccnf: Sigma cache smaller than view %d needs", view);
        if (k->held[best] >= 0)
            k->where[k->held[best]] = -1;
        k->held[best] = missing[m];
        k->used[best] = now;
        k->where[missing[m]] = best;
    }
    faceau_status st = FACEAU_OK;
    for (int m0 = 0; m0 < n_missing; m0 += FA_CHOL_BATCH) {
        const int cnt = n_missing - m0 < FA_CHOL_BATCH ? n_missing - m0 : FA_CHOL_BATCH;
        float *X[FA_CHOL_BATCH];
        int ok[FA_CHOL_BATCH];
        for (int l = 0; l < cnt; l++)
            X[l] = k->store + (size_t)k->where[missing[m0 + l]] * nn;
        fa_ccnf_lazy_run(c, k->slot, missing + m0, cnt, X, ok, k->work);
        for (int l = 0; l < cnt && !st; l++)
            if (!ok[l]) {
                const int e = L->rep[missing[m0 + l]];
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                             "ccnf: Sigma for window %d of expert %d (view %d) is not positive definite",
                             window, e % n, e / n);
            }
    }
    if (st) { /* nothing half-made stays */
        for (int m = 0; m < n_missing; m++) {
            k->held[k->where[missing[m]]] = -1;
            k->used[k->where[missing[m]]] = 0;
            k->where[missing[m]] = -1;
        }
        k->view = -1;
        return st;
    }
    for (int i = 0; i < n; i++) {
        const size_t e = (size_t)view * (size_t)n + (size_t)i;
        const int g = L->group[e];
        k->ptr[i] = g >= 0 && c->visibility[e] ? k->store + (size_t)k->where[g] * nn : NULL;
    }
    k->view = view;
    return FACEAU_OK;
}

void fa_ccnf_ws_free(fa_ccnf_ws *ws)
{
    if (!ws)
        return;
    for (int q = 0; q < ws->n_cache; q++)
        cache_free(&ws->cache[q]);
    free(ws->out.maps);
    free(ws->out.shape2d);
    free(ws->ref);
    free(ws->shape3d);
    free(ws->worker);
    free(ws);
}

/* Grows *p to hold n floats (never shrinks). */
static faceau_status grow(float **p, size_t *cap, size_t n, fa_err *err)
{
    if (n <= *cap && *p)
        return FACEAU_OK;
    float *q = fa_malloc(n * sizeof *q, err, "a CCNF workspace buffer");
    if (!q)
        return FACEAU_ERR_NOMEM;
    free(*p);
    *p = q;
    *cap = n;
    return FACEAU_OK;
}

/* PDM::CalcShape2D: weak perspective, float, in OpenFace's expression order. */
static void shape2d(const fa_pdm *pdm, const float *shape3d, const float g[6], float *out)
{
    const int n = pdm->n;
    const float e[3] = {g[1], g[2], g[3]};
    float R[9];
    fa_euler_to_rotation(e, R);
    for (int i = 0; i < n; i++) {
        const float X = shape3d[i], Y = shape3d[i + n], Z = shape3d[i + 2 * n];
        out[i] = g[0] * (R[0] * X + R[1] * Y + R[2] * Z) + g[4];
        out[i + n] = g[0] * (R[3] * X + R[4] * Y + R[5] * Z) + g[5];
    }
}

int fa_ccnf_max_support(const fa_ccnf *c)
{
    if (c->support > 0)
        return c->support;
    int support = 1;
    for (int i = 0; i < c->n_views * c->n_points; i++) {
        const fa_ccnf_expert *e = &c->experts[i];
        if (e->n_neurons) {
            support = e->width > support ? e->width : support;
            support = e->height > support ? e->height : support;
        }
    }
    return support;
}

size_t fa_ccnf_worker_floats(const fa_ccnf *c, int window)
{
    const int support = fa_ccnf_max_support(c);
    const size_t side = (size_t)(window + support - 1);
    const int slot = fa_ccnf_slot(c, window);
    /* a per-call slot's landmark computes its Sigma here too */
    const size_t P = (size_t)window * (size_t)window;
    const size_t own = slot >= 0 && c->lazy[slot].group && c->lazy[slot].per_call
                           ? P * P + fa_ccnf_lazy_one_floats(window) : 0;
    return side * side + fa_ccnf_scratch_floats(window, support, support) + own;
}

/* The landmarks and the reference shape (scale patch_scaling, no rotation or translation) of
 * a response, and the similarities between them; shape3d (3n) and ref (2n) are scratch. */
static void geometry(const fa_ccnf *c, const fa_pdm *pdm, const float g[6], const float *p_local,
                     float *shape3d, float *ref, fa_ccnf_response *r)
{
    fa_pdm_shape3d(pdm, p_local, shape3d);
    shape2d(pdm, shape3d, g, r->shape2d);
    const float g_ref[6] = {(float)c->patch_scaling, 0, 0, 0, 0, 0};
    shape2d(pdm, shape3d, g_ref, ref);

    fa_align_shapes_with_scale(r->shape2d, ref, pdm->n, r->sim_img_to_ref);
    /* Matx22f::inv(DECOMP_LU): float determinant, d = 1/d, entries times d */
    const float *m = r->sim_img_to_ref;
    float det = m[0] * m[3] - m[1] * m[2];
    if (det != 0) {
        float d = 1 / det;
        r->sim_ref_to_img[3] = m[0] * d;
        r->sim_ref_to_img[0] = m[3] * d;
        r->sim_ref_to_img[1] = -m[1] * d;
        r->sim_ref_to_img[2] = -m[2] * d;
    } else {
        memset(r->sim_ref_to_img, 0, sizeof r->sim_ref_to_img);
    }
}

faceau_status fa_ccnf_response_begin(const fa_ccnf *c, const fa_pdm *pdm, const float g[6],
                                     const float *p_local, int window, fa_ccnf_ws *ws,
                                     const fa_ccnf_response **out, fa_err *err)
{
    if (!c || !pdm || !g || !p_local || !ws || !out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf response: NULL argument");
    if (pdm->n != c->n_points || pdm->n > FA_PDM_MAX_POINTS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "ccnf response: PDM has %d landmarks, patch experts %d", pdm->n, c->n_points);
    const int slot = fa_ccnf_slot(c, window);
    if (slot < 0)
        return fa_fail(err, FACEAU_ERR_STATE, "ccnf response: window %d not prepared", window);
    const int n = pdm->n;
    faceau_status st;
    if ((st = grow(&ws->out.maps, &ws->maps_cap, (size_t)n * (size_t)window * (size_t)window, err)) ||
        (st = grow(&ws->out.shape2d, &ws->shape2d_cap, 2 * (size_t)n, err)) ||
        (st = grow(&ws->ref, &ws->ref_cap, 2 * (size_t)n, err)) ||
        (st = grow(&ws->shape3d, &ws->shape3d_cap, 3 * (size_t)n, err)) ||
        (st = grow(&ws->worker, &ws->worker_cap, fa_ccnf_worker_floats(c, window), err)))
        return st;

    fa_ccnf_response *r = &ws->out;
    r->n = n;
    r->window = window;
    r->slot = slot;
    r->view = fa_ccnf_view(c, g);
    r->visible = c->visibility + (size_t)r->view * (size_t)n;
    r->sigma = NULL;
    if (c->lazy[slot].group && !c->lazy[slot].per_call) {
        sigma_cache *k = NULL;
        if ((st = cache_get(ws, c, slot, &k, err)) ||
            (k->view != r->view && (st = cache_fill(k, r->view, err))))
            return st;
        r->sigma = k->ptr;
    }

    geometry(c, pdm, g, p_local, ws->shape3d, ws->ref, r);
    *out = r;
    return FACEAU_OK;
}

/* Landmark i's map of r with the given Sigma: its area of interest warped from the image, then
 * its expert's response. buf: fa_ccnf_worker_floats (the area, then the scratch). */
static void landmark_map(const fa_ccnf *c, const fa_grey *grey, const fa_ccnf_response *r, int i,
                         const float *sigma, float *buf)
{
    const int n = r->n, window = r->window;
    const size_t P = (size_t)window * (size_t)window;
    const int support = fa_ccnf_max_support(c), side = window + support - 1;
    float *area = buf, *scratch = buf + (size_t)side * (size_t)side;
    float *map = r->maps + (size_t)i * P;
    const fa_ccnf_expert *e = &c->experts[(size_t)r->view * (size_t)n + (size_t)i];
    if (!r->visible[i] || !e->n_neurons) {
        memset(map, 0, P * sizeof *map);
        return;
    }
    const float a1 = r->sim_ref_to_img[0], b1 = -r->sim_ref_to_img[1];
    const int aw = window + e->width - 1, ah = window + e->height - 1;
    const float span = (float)aw - 1.0f; /* area_of_interest_width - 1.0f */
    const float x = r->shape2d[i], y = r->shape2d[i + n];
    /* OpenFace's float sim matrix for warpAffine WARP_INVERSE_MAP (centred on the landmark) */
    const double M[6] = {a1, -b1, x - a1 * span / 2.0f + b1 * span / 2.0f,
                         b1, a1,  y - a1 * span / 2.0f - b1 * span / 2.0f};
    fa_warp_affine_grey_cpu(grey, M, aw, ah, area, aw, e->cpu);
    landmark_response(e, sigma, area, aw, window, scratch, map);
}

/* A per-call slot's Sigma goes at the end of a worker buffer (fa_ccnf_worker_floats). */
static float *own_sigma(const fa_ccnf *c, int window, float *buf)
{
    const int support = fa_ccnf_max_support(c), side = window + support - 1;
    return buf + (size_t)side * (size_t)side + fa_ccnf_scratch_floats(window, support, support);
}

void fa_ccnf_response_landmarks(const fa_ccnf *c, const fa_grey *grey, const fa_ccnf_response *r,
                                int i0, int i1, float *buf)
{
    const int n = r->n, window = r->window;
    const size_t P = (size_t)window * (size_t)window;
    /* a per-call slot: each landmark's Sigma computed into the buffer's end, then used */
    float *own = c->lazy[r->slot].group && c->lazy[r->slot].per_call ? own_sigma(c, window, buf)
                                                                       : NULL;
    for (int i = i0 < 0 ? 0 : i0; i < i1 && i < n; i++) {
        const fa_ccnf_expert *e = &c->experts[(size_t)r->view * (size_t)n + (size_t)i];
        const float *sigma = r->sigma ? r->sigma[i] : e->sigma[r->slot];
        if (own && r->visible[i] && e->n_neurons) {
            /* positive definite: fa_ccnf_plan_keep checked every one */
            fa_ccnf_lazy_one(c, r->slot, r->view * n + i, own, own + P * P);
            sigma = own;
        }
        landmark_map(c, grey, r, i, sigma, buf);
    }
}

faceau_status fa_ccnf_response_compute(const fa_ccnf *c, const fa_pdm *pdm, const float g[6],
                                       const float *p_local, const fa_grey *grey, int window,
                                       fa_ccnf_ws *ws, const fa_ccnf_response **out, fa_err *err)
{
    if (!grey || !grey->px)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf response: NULL image");
    faceau_status st = fa_ccnf_response_begin(c, pdm, g, p_local, window, ws, out, err);
    if (st)
        return st;
    fa_ccnf_response_landmarks(c, grey, *out, 0, (*out)->n, ws->worker);
    return FACEAU_OK;
}

/* ---- several responses at once (a detection's hypotheses) ------------------------------------- */

/* A map to compute: fit k's landmark i, whose Sigma is the slot's distinct Sigma `group`. */
typedef struct batch_task {
    int group, k, i;
} batch_task;

struct fa_ccnf_batch {
    const fa_ccnf *c;
    int count, slot;
    fa_ccnf_response *r;   /* count responses; their maps and shapes in block */
    float *block;
    batch_task *task;      /* sorted by group, then fit, then landmark */
    int *first;            /* per job its first task; first[n_jobs] = the number of tasks */
    long n_jobs;
};

int fa_ccnf_per_call(const fa_ccnf *c, int window)
{
    const int slot = fa_ccnf_slot(c, window);
    return slot >= 0 && c->lazy[slot].group && c->lazy[slot].per_call;
}

void fa_ccnf_batch_free(fa_ccnf_batch *b)
{
    if (!b)
        return;
    free(b->r);
    free(b->block);
    free(b->task);
    free(b->first);
    free(b);
}

static int cmp_task(const void *a, const void *b)
{
    const batch_task *x = a, *y = b;
    if (x->group != y->group)
        return (x->group > y->group) - (x->group < y->group);
    if (x->k != y->k)
        return (x->k > y->k) - (x->k < y->k);
    return (x->i > y->i) - (x->i < y->i);
}

/* The visible landmarks' maps of every fit, grouped by the Sigma they use: a job per distinct
 * Sigma. */
static faceau_status batch_tasks(fa_ccnf_batch *b, fa_err *err)
{
    const fa_ccnf *c = b->c;
    const fa_ccnf_lazy *L = &c->lazy[b->slot];
    const int n = c->n_points;
    b->task = fa_malloc((size_t)b->count * (size_t)n * sizeof *b->task, err, "CCNF batch tasks");
    b->first = fa_malloc(((size_t)b->count * (size_t)n + 1) * sizeof *b->first, err,
                         "CCNF batch tasks");
    if (!b->task || !b->first)
        return FACEAU_ERR_NOMEM;
    int nt = 0;
    for (int k = 0; k < b->count; k++)
        for (int i = 0; i < n; i++) {
            const size_t e = (size_t)b->r[k].view * (size_t)n + (size_t)i;
            if (b->r[k].visible[i] && c->experts[e].n_neurons && L->group[e] >= 0)
                b->task[nt++] = (batch_task){L->group[e], k, i};
        }
    qsort(b->task, (size_t)nt, sizeof *b->task, cmp_task);
    for (int t = 0; t < nt; t++)
        if (t == 0 || b->task[t].group != b->task[t - 1].group)
            b->first[b->n_jobs++] = t;
    b->first[b->n_jobs] = nt;
    return FACEAU_OK;
}

faceau_status fa_ccnf_batch_begin(const fa_ccnf *c, const fa_pdm *pdm, const float (*g)[6],
                                  const float *const *p_local, int count, int window,
                                  fa_ccnf_batch **out, fa_err *err)
{
    *out = NULL;
    if (!c || !pdm || !g || !p_local || count < 1)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "ccnf batch: NULL argument or no fit");
    if (pdm->n != c->n_points || pdm->n > FA_PDM_MAX_POINTS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "ccnf batch: PDM has %d landmarks, patch experts %d", pdm->n, c->n_points);
    if (!fa_ccnf_per_call(c, window))
        return fa_fail(err, FACEAU_ERR_STATE, "ccnf batch: window %d is not computed per call",
                       window);
    const int n = pdm->n;
    const size_t P = (size_t)window * (size_t)window;
    const size_t per = (size_t)n * P + 2 * (size_t)n; /* maps, shape2d */
    fa_ccnf_batch *b = fa_calloc(1, sizeof *b, err, "a CCNF batch");
    if (!b)
        return FACEAU_ERR_NOMEM;
    b->c = c;
    b->count = count;
    b->slot = fa_ccnf_slot(c, window);
    b->r = fa_calloc((size_t)count, sizeof *b->r, err, "a CCNF batch");
    /* then 3n + 2n floats of scratch for the shapes */
    b->block = fa_malloc(((size_t)count * per + 5 * (size_t)n) * sizeof *b->block, err,
                         "a CCNF batch");
    faceau_status st = b->r && b->block ? FACEAU_OK : FACEAU_ERR_NOMEM;
    float *shape3d = b->block ? b->block + (size_t)count * per : NULL;
    for (int k = 0; k < count && !st; k++) {
        fa_ccnf_response *r = &b->r[k];
        r->n = n;
        r->window = window;
        r->slot = b->slot;
        r->view = fa_ccnf_view(c, g[k]);
        r->visible = c->visibility + (size_t)r->view * (size_t)n;
        r->maps = b->block + (size_t)k * per;
        r->shape2d = r->maps + (size_t)n * P;
        memset(r->maps, 0, (size_t)n * P * sizeof *r->maps); /* invisible or empty: zeros */
        geometry(c, pdm, g[k], p_local[k], shape3d, shape3d + 3 * (size_t)n, r);
    }
    if (!st)
        st = batch_tasks(b, err);
    if (st) {
        fa_ccnf_batch_free(b);
        return st;
    }
    *out = b;
    return FACEAU_OK;
}

long fa_ccnf_batch_jobs(const fa_ccnf_batch *b)
{
    return b->n_jobs;
}

void fa_ccnf_batch_run(const fa_ccnf_batch *b, const fa_grey *grey, long job, float *buf)
{
    const fa_ccnf *c = b->c;
    const int t0 = b->first[job], t1 = b->first[job + 1];
    const int window = b->r[0].window, n = c->n_points;
    const size_t P = (size_t)window * (size_t)window;
    float *own = own_sigma(c, window, buf);
    const batch_task *T = &b->task[t0];
    /* the Sigma once (its first expert's, as everywhere; positive definite: fa_ccnf_plan_keep
     * checked every one), then every map that uses it */
    fa_ccnf_lazy_one(c, b->slot, b->r[T->k].view * n + T->i, own, own + P * P);
    for (int t = t0; t < t1; t++)
        landmark_map(c, grey, &b->r[b->task[t].k], b->task[t].i, own, buf);
}

const fa_ccnf_response *fa_ccnf_batch_response(const fa_ccnf_batch *b, int k)
{
    return &b->r[k];
}
