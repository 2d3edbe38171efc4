/* landmarks/ccnf_kernels.h - what ccnf.c shares with its AVX2+FMA twin (ccnf_avx2.c); private
 * to landmarks/. */
#ifndef FACEAU_LANDMARKS_CCNF_KERNELS_H
#define FACEAU_LANDMARKS_CCNF_KERNELS_H

#include <math.h>

#include "landmarks/ccnf.h"

#define FA_CCNF_MAX_NEURONS 64 /* neurons per expert accepted from a file */

/* The sigmoid step for one neuron output q: OpenFace's
 *   *p += (2.0 * alpha) / (1.0 + exp(-q))
 * where -q is a float and `using namespace std` makes exp the float overload (expf); the sum is
 * double, stored back to the float response. */
static inline float fa_ccnf_add_sigmoid(float acc, double a2, float q)
{
    return (float)((double)acc + a2 / (1.0 + (double)fa_expf(-q)));
}

/* im2colContrastNormBias of a (window + w - 1) x (window + h - 1) area (row stride `stride`)
 * into out (K x P, k-major: out[k*P + x*window + y], K = 1 + w*h, P = window^2), the portable
 * way; tmp holds fa_ccnf_im2col_tmp_floats(window, w, h) floats. */
void fa_ccnf_im2col(const float *area, int stride, int window, int w, int h, float *tmp,
                    float *out);
/* The scratch either im2col needs (the AVX2 one's transposed area and row copies, the portable
 * one's K floats). */
size_t fa_ccnf_im2col_tmp_floats(int window, int w, int h);

/* The Sigmas of cnt (<= FA_CHOL_BATCH) distinct Sigmas `groups` of lazy slot `slot` into X[l]
 * (column-major), ok[l] whether each is positive definite; work holds
 * fa_ccnf_plan_work_floats(window) floats. The bits of fa_ccnf_plan_run's. */
void fa_ccnf_lazy_run(const fa_ccnf *c, int slot, const int *groups, int cnt, float *const *X,
                      int *ok, float *work);
/* The Sigma of one expert of a lazy slot into X (column-major); work holds
 * fa_ccnf_lazy_one_floats(window) floats. Returns whether it is positive definite. */
int fa_ccnf_lazy_one(const fa_ccnf *c, int slot, int expert, float *X, float *work);
size_t fa_ccnf_lazy_one_floats(int window);

/* Where the neurons read their inputs: row k = 1 + xx*h + yy of the im2col matrix at position r
 * is (base[xx*sx + yy*sy + r] - mean[r]) * norm[r] and row 0 (the bias) is bias[r]. Either colsT
 * itself (mean 0 and norm 1, NULL here: x - 0 and x * 1 are x exactly, -0 and NaN included) or,
 * fused, the row copies d_yy with the positions' means and norms: then each x is made as
 * im2col_blocks' output pass makes it (a separate subtract and multiply, no fused operation)
 * and the 40 KB matrix (window 9, 11 x 11 patch) is never written and read back; the values and
 * the order of k are the same, so the same bits. */
typedef struct fa_ccnf_cols {
    const float *base;
    size_t sx, sy;
    int w, h;
    const float *mean, *norm, *bias; /* NULL: 0, 1, 1 */
} fa_ccnf_cols;

#if FA_BUILD_AVX2
/* fa_ccnf_im2col for windows of 3 or more: eight consecutive positions per register, each lane
 * the scalar chains (no fused operation), so the same floats. */
void fa_ccnf_im2col_avx2(const float *area, int stride, int window, int w, int h, float *tmp,
                         float *out);
/* neurons_scalar (flat[r] += the sigmoids of the live neurons): the positions summed as one
 * chain each eight at a time (the last block masked), then the dot-like tail (skx_gemm.h) one
 * position at a time in two 8-lane registers; returns the first position left to the scalar
 * loop (P: none). */
int fa_ccnf_neurons_avx2(const float *colsT, int P, int K, const fa_ccnf_expert *e, float *flat);
/* fa_ccnf_im2col_avx2 then fa_ccnf_neurons_avx2 on the whole response (windows of 3 or more),
 * fused: only the positions' means and norms are stored and each input is made as the neurons
 * read it (the same operations, so the same bits, without writing and re-reading the K x P
 * matrix); tmp holds fa_ccnf_im2col_tmp_floats(window, e->width, e->height) floats. */
void fa_ccnf_neurons_fused_avx2(const float *area, int stride, int window,
                                const fa_ccnf_expert *e, float *tmp, float *flat);
/* The fused kernels' inputs: the row copies of area and each position's mean and norm in tmp
 * (as fa_ccnf_neurons_fused_avx2 makes them), described in *c. */
void fa_ccnf_fused_cols_avx2(const float *area, int stride, int window, const fa_ccnf_expert *e,
                             float *tmp, fa_ccnf_cols *c);
/* The dot-like positions r0..P-1 (skx_gemm.h) of the live neurons, one at a time (see
 * fa_ccnf_neurons_avx2). */
void fa_ccnf_neurons_dot_avx2(const fa_ccnf_cols *c, int r0, int P, const fa_ccnf_expert *e,
                              float *flat);
/* fa_ccnf_neurons_fused_avx2 with sixteen positions a register (AVX-512F): each lane the same
 * fused chain over k, so the same bits; the dot-like tail as the AVX2 kernel does it. */
void fa_ccnf_neurons_fused_avx512(const float *area, int stride, int window,
                                  const fa_ccnf_expert *e, float *tmp, float *flat);
#endif

#endif
