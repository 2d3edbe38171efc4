/* fit.c - the fitting core of OpenFace's CLNF (LandmarkDetectorModel.cpp): the precalculated KDE
 * mean-shift (NonVectorisedMeanShift_precalc_kde), NU_RLMS and Fit's per-scale parameters.
 *
 * Types and order follow OpenFace: float throughout; the 2x2 similarity products of NU_RLMS are
 * cv::gemm calls with a transposed second operand (GEMMSingleMul's "A * B^T" path: double sums,
 * one rounding); J_w_t * mean_shifts is cv::gemm as well (fa_gemv_cv); the Hessian is an OpenBLAS
 * sgemm_ in OpenFace, summed in the order of OpenBLAS 0.3.21's SkylakeX small-matrix kernel
 * (skx_gemm.h), which the reference output matches; the solve is cv::solve(DECOMP_CHOLESKY) (fa_cholesky_solve). In LandmarkDetectorModel.cpp
 * `using namespace std` is in effect, so exp() of a float is std::exp(float) (expf) while exp()
 * and log() of a double are the double functions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
#include "landmarks/fit_kernels.h"
#include "cv/skx_gemm.h"

#define MAXP FA_PDM_MAX_POINTS
#define MAXK FA_PDM_MAX_PARAMS

static const float STEP = 0.1f; /* OpenFace's step_size */

float fa_kde_a(float sigma)
{
    float s2 = sigma * sigma;
    return (float)(-0.5 / s2);
}

/* for (x = 0; x < resp_size / step_size; x++): the bound is a float (ws / 0.1f) */
static int kde_steps(int ws)
{
    float bound = (float)ws / STEP;
    int steps = 0;
    while ((float)steps < bound)
        steps++;
    return steps;
}

/* Which cells of the grid are stored: rows and columns lo..hi-1 (of 0..kde_steps-1), the cells
 * within KDE_KEEP steps (2 px) of the window's centre, where the mean-shift looks nearly every
 * time (tracking moves a landmark well under a pixel from the centre: 99.8% of the lookups on
 * the shared videos at window 9, 100% at 7; the initial fit's window 11 ranges wider but runs
 * only on detection frames). Any other cell is computed when it is asked for, by the same code
 * as a stored one, so the bits are the same; the full grids were 12.6 MB of the landmark
 * model (5.9 MB for window 11 alone), the stored centres 2.6 MB. Windows wider than
 * FA_KDE_MAX_COMPUTED keep every cell (a computed cell needs a scratch of ws^2 floats). */
#define KDE_KEEP 20

static void kde_span(int ws, int *lo, int *hi)
{
    const int steps = kde_steps(ws), centre = (ws - 1) / 2 * 10; /* dx = (ws - 1) / 2 */
    if (ws > FA_KDE_MAX_COMPUTED) {
        *lo = 0;
        *hi = steps;
        return;
    }
    *lo = centre - KDE_KEEP < 0 ? 0 : centre - KDE_KEEP;
    *hi = centre + KDE_KEEP + 1 > steps ? steps : centre + KDE_KEEP + 1;
}

size_t fa_kde_floats(int ws)
{
    if (ws < 1 || ws > 64)
        return 0;
    int lo, hi;
    kde_span(ws, &lo, &hi);
    return (size_t)(hi - lo) * (size_t)(hi - lo) * (size_t)(ws * ws);
}

faceau_status fa_kde_init_in(fa_kde *k, int ws, float a, float *tab, fa_err *err)
{
    memset(k, 0, sizeof *k);
    if (ws < 1 || ws > 64)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "KDE window size %d out of range", ws);
    k->tab = tab;
    k->borrowed = 1;
    k->ws = ws;
    k->a = a;
    k->cpu = fa_cpu_features();
    /* the lookup's row stride: (int)(resp_size / step_size + 0.5) */
    k->steps = (int)((float)ws / STEP + 0.5);
    kde_span(ws, &k->lo, &k->hi);
    return FACEAU_OK;
}

int fa_kde_fill_steps(const fa_kde *k)
{
    return kde_steps(k->ws);
}

/* Grid cell (x, y) (dx = x * 0.1, dy = y * 0.1) as OpenFace's precalculation loop computes it. */
static void kde_cell(int ws, float a, int x, int y, float *out)
{
    float dx = (float)x * STEP;
    float dy = (float)y * STEP;
    for (int ii = 0; ii < ws; ii++) {
        float vx = (dy - (float)ii) * (dy - (float)ii);
        for (int jj = 0; jj < ws; jj++) {
            float vy = (dx - (float)jj) * (dx - (float)jj);
            *out++ = fa_expf(a * (vx + vy));
        }
    }
}

void fa_kde_fill(const fa_kde *k, int x0, int x1)
{
    const int ws = k->ws, span = k->hi - k->lo;
    for (int x = x0 < k->lo ? k->lo : x0; x < x1 && x < k->hi; x++)
        for (int y = k->lo; y < k->hi; y++)
            kde_cell(ws, k->a, x, y,
                     k->tab + ((size_t)(x - k->lo) * (size_t)span + (size_t)(y - k->lo)) * (size_t)(ws * ws));
}

const float *fa_kde_row(const fa_kde *k, int row, int col, float *scratch)
{
    if (row >= k->lo && row < k->hi && col >= k->lo && col < k->hi)
        return k->tab + ((size_t)(row - k->lo) * (size_t)(k->hi - k->lo) + (size_t)(col - k->lo)) *
                            (size_t)(k->ws * k->ws);
    kde_cell(k->ws, k->a, row, col, scratch);
    return scratch;
}

faceau_status fa_kde_init(fa_kde *k, int ws, float a, fa_err *err)
{
    memset(k, 0, sizeof *k);
    const size_t n = fa_kde_floats(ws);
    if (!n)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "KDE window size %d out of range", ws);
    float *tab = fa_malloc_large(n * sizeof *tab, err, "KDE grid");
    if (!tab)
        return FACEAU_ERR_NOMEM;
    faceau_status st = fa_kde_init_in(k, ws, a, tab, err);
    k->borrowed = 0;
    fa_kde_fill(k, 0, fa_kde_fill_steps(k));
    return st;
}

void fa_kde_free(fa_kde *k)
{
    if (k) {
        if (!k->borrowed)
            fa_free_large(k->tab);
        memset(k, 0, sizeof *k);
    }
}

/* NonVectorisedMeanShift_precalc_kde: per visible landmark three float sums over the ws x ws
 * response (row ii outer, column jj inner): sum += v, mx += v*jj, my += v*ii with v = response *
 * kde, then mx/sum - dx, my/sum - dy. Each sum is a serial chain, so MS_LANES landmarks run side
 * by side (each lane its own chains in that order: the same floats, without each step waiting on
 * the one before). */
void fa_mean_shift_sums(const float *const *p, const float *const *k, int nl, int ws, int t0,
                        float *sum, float *mx, float *my)
{
    const int ws2 = ws * ws;
    for (int t = t0, ii = t0 / ws, jj = t0 % ws; t < ws2; t++) {
        for (int l = 0; l < nl; l++) {
            float v = p[l][t] * k[l][t];
            sum[l] += v;
            mx[l] += v * (float)jj;
            my[l] += v * (float)ii;
        }
        if (++jj == ws) {
            jj = 0;
            ii++;
        }
    }
}

enum { MS_LANES = FA_MS_LANES };
void fa_clnf_mean_shift(const fa_kde *kde, const float *maps, const int *visible, int n,
                        const float *dxs, const float *dys, float *ms)
{
    const int ws = kde->ws;
    const size_t ws2 = (size_t)ws * (size_t)ws;
    int lane_i[MS_LANES], nl = 0;
    const float *kde_it[MS_LANES], *p[MS_LANES];
    float dxl[MS_LANES], dyl[MS_LANES];
    float computed[MS_LANES][FA_KDE_MAX_COMPUTED * FA_KDE_MAX_COMPUTED]; /* cells not stored */
    for (int i = 0; i <= n; i++) {
        if (i < n) {
            if (!visible[i]) {
                ms[i] = 0;
                ms[i + n] = 0;
                continue;
            }
            float dx = dxs[i], dy = dys[i];
            if (dx < 0)
                dx = 0;
            if (dy < 0)
                dy = 0;
            if (dx > ws - STEP)
                dx = ws - STEP;
            if (dy > ws - STEP)
                dy = ws - STEP;
            /* (int)(d / step_size + 0.5): float quotient, double sum, truncation */
            int closest_col = (int)(dy / STEP + 0.5);
            int closest_row = (int)(dx / STEP + 0.5);
            lane_i[nl] = i;
            dxl[nl] = dx;
            dyl[nl] = dy;
            kde_it[nl] = fa_kde_row(kde, closest_row, closest_col, computed[nl]);
            p[nl] = maps + (size_t)i * ws2;
            nl++;
            if (nl < MS_LANES)
                continue;
        }
        if (nl == 0)
            break;
        float mx[MS_LANES] = {0}, my[MS_LANES] = {0}, sum[MS_LANES] = {0};
#if FA_BUILD_AVX2
        if (kde->cpu & FA_CPU_AVX2)
            fa_mean_shift_sums_avx2(p, kde_it, nl, ws, sum, mx, my);
        else
#endif
            fa_mean_shift_sums(p, kde_it, nl, ws, 0, sum, mx, my);
        for (int l = 0; l < nl; l++) {
            ms[lane_i[l]] = mx[l] / sum[l] - dxl[l];
            ms[lane_i[l] + n] = my[l] / sum[l] - dyl[l];
        }
        nl = 0;
    }
}

/* Row-vector (a, b) times S^T for a 2x2 S, as cv::gemm(A, S, GEMM_2_T) computes it for float:
 * (0 + a S00) + b S01 in double, rounded once. */
static void mul_t(float a, float b, const float S[4], float *u, float *v)
{
    double s0 = 0;
    s0 += (double)a * S[0];
    s0 += (double)b * S[1];
    double s1 = 0;
    s1 += (double)a * S[2];
    s1 += (double)b * S[3];
    *u = (float)s0;
    *v = (float)s1;
}

/* cv::norm(a, b) (L2) of two float vectors (normDiffL2_32f -> normL2Sqr<float, double>): float
 * differences widened to double, squares added four at a time, then the tail. */
static double l2_diff(const float *a, const float *b, int len)
{
    double s = 0;
    int i = 0;
    for (; i <= len - 4; i += 4) {
        double v0 = (float)(a[i] - b[i]), v1 = (float)(a[i + 1] - b[i + 1]);
        double v2 = (float)(a[i + 2] - b[i + 2]), v3 = (float)(a[i + 3] - b[i + 3]);
        s += v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3;
    }
    for (; i < len; i++) {
        double v = (float)(a[i] - b[i]);
        s += v * v;
    }
    return sqrt(s);
}

float fa_clnf_nu_rlms(const fa_nurlms_in *in, float g[6], float *p, float *landmark_lhoods)
{
    const fa_pdm *pdm = in->pdm;
    int n = pdm->n, m = pdm->m, k = in->rigid ? 6 : 6 + m, ws = in->ws;
    float J[2 * MAXP * MAXK], Jwt[2 * MAXP * MAXK], H[MAXK * MAXK], b[MAXK], delta[MAXK];
    float reg[MAXK];
    float cur[2 * MAXP], prev[2 * MAXP], dxs[MAXP], dys[MAXP], ms[2 * MAXP];
    /* regTerm: zeros (rigid) or diag(0 x 6, reg_factor / eigenvalues) (cv's float division) */
    for (int c = 0; c < k; c++)
        reg[c] = c < 6 ? 0.0f : in->reg_factor / pdm->eig[c - 6];
    int have_offsets = 0;

    for (int iter = 0; iter < in->n_iter; iter++) {
        fa_pdm_shape2d(pdm, p, g, cur);
        if (iter > 0 && l2_diff(cur, prev, 2 * n) < 0.01)
            break;
        memcpy(prev, cur, sizeof(float) * 2 * (size_t)n);

        if (in->rigid)
            fa_pdm_rigid_jacobian(pdm, p, g, in->weights, J, Jwt);
        else
            fa_pdm_jacobian(pdm, p, g, in->weights, J, Jwt);

        /* offsets = (current - base) * sim_img_to_ref^T, then + (ws - 1) / 2 (integer) */
        for (int i = 0; i < n; i++) {
            float ox, oy;
            mul_t(cur[i] - in->base_shape[i], cur[i + n] - in->base_shape[i + n],
                  in->sim_img_to_ref, &ox, &oy);
            dxs[i] = ox + (float)((ws - 1) / 2);
            dys[i] = oy + (float)((ws - 1) / 2);
        }
        have_offsets = 1;
        fa_clnf_mean_shift(in->kde, in->maps, in->visible, n, dxs, dys, ms);
        /* back to the image frame: mean_shifts_2D * sim_ref_to_img^T */
        for (int i = 0; i < n; i++)
            mul_t(ms[i], ms[i + n], in->sim_ref_to_img, &ms[i], &ms[i + n]);
        /* invisible landmarks: their rows of J and columns of J_w_t, and their shifts, are 0 */
        for (int i = 0; i < n; i++) {
            if (in->visible[i])
                continue;
            for (int c = 0; c < k; c++) {
                J[i * k + c] = 0;
                J[(i + n) * k + c] = 0;
                Jwt[c * 2 * n + i] = 0;
                Jwt[c * 2 * n + i + n] = 0;
            }
            ms[i] = 0.0f;
            ms[i + n] = 0.0f;
        }
        fa_gemv_cv_cpu(Jwt, (size_t)(2 * n), k, 2 * n, ms, NULL, b, pdm->cpu);
        if (!in->rigid)
            /* `J_w_t_m - regTerm * p` is one cv::gemm (alpha -1, src3, beta 1): double, one
             * rounding */
            for (int j = 0; j < m; j++)
                b[6 + j] = (float)((double)b[6 + j] - (double)reg[6 + j] * (double)p[j]);
        /* Hessian = J_w_t * J + regTerm (sgemm with beta 1: the product, then + C) */
        fa_skx_hessian(Jwt, J, 2 * n, k, reg, pdm->cpu, H);
        fa_cholesky_solve(H, b, k, delta, pdm->cpu);
        fa_pdm_update(pdm, delta, k, p, g);
        fa_pdm_clamp(pdm, p);
    }

    float loglhood = 0;
    if (in->compute_lhood) {
        int n_vis = 0;
        double s2 = (double)(in->sigma * in->sigma);
        for (int i = 0; i < n; i++) {
            if (landmark_lhoods)
                landmark_lhoods[i] = -1e8f;
            if (!in->visible[i])
                continue;
            n_vis++;
            if (!have_offsets)
                continue; /* n_iter == 0: OpenFace would read empty offsets */
            float dx = dxs[i], dy = dys[i], sum = 0.0f;
            const float *r = in->maps + (size_t)i * (size_t)(ws * ws);
            for (int ii = 0; ii < ws; ii++) {
                float vx = (dy - (float)ii) * (dy - (float)ii);
                for (int jj = 0; jj < ws; jj++) {
                    float vy = (dx - (float)jj) * (dx - (float)jj);
                    float v = *r++;
                    v = (float)(v * exp(-0.5 * (vx + vy) / s2));
                    sum += v;
                }
            }
            if (landmark_lhoods)
                landmark_lhoods[i] = sum;
            loglhood = (float)(loglhood + log(sum + 1e-8));
        }
        loglhood = (float)(loglhood / (double)n_vis);
    }
    return loglhood;
}

void fa_clnf_scale_params(const fa_clnf_params *base, double ps, float *reg, float *sigma,
                          float *wf)
{
    /* OpenFace's expressions, left to right: reg0 - ((15 * log(r)) / log(2)) etc. */
    double r = ps / 0.25;
    *reg = (float)(base->reg_factor - 15 * log(r) / log(2));
    if (*reg <= 0)
        *reg = (float)0.001;
    *sigma = (float)(base->sigma + 0.25 * log(r) / log(2));
    *wf = (float)(base->weight_factor + 2 * base->weight_factor * log(r) / log(2));
}
