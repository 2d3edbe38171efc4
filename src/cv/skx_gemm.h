/* cv/skx_gemm.h - the summation order of OpenBLAS 0.3.21's small-matrix sgemm for
 * SkylakeX (kernel/x86_64/sgemm_small_kernel_nn_skylakex.c), which OpenFace's sgemm_ calls of
 * the CLNF fit reach (the CCNF neurons and Sigma products, the NU_RLMS Hessian, PDM::CalcShape3D);
 * private to the library.
 *
 * Why this kernel: OpenFace's reference output matches OpenBLAS's SkylakeX (AVX-512) code paths
 * (its MTCNN boxes are bit-exact only with them), and interface/gemm.c sends every NN product
 * with M*N*K <= 100^3 (all of the fit's: at most 225 x 7 x 122) to the small-matrix kernel,
 * before any blocking or threading. For C (M x N, column-major) = alpha A B + beta C it sums:
 *  - rows i < M & ~15, and all rows when the rest mm = M % 16 is > 8 or K < 32: one fused
 *    chain per element, acc = fma(A(i,k), B(k,j), acc) for k = 0, 1, ... from +0 (16 rows in
 *    a zmm register);
 *  - otherwise the last mm rows "dot-like": 16 partial chains, lane l summing k = l, l + 16, ...
 *    for k < K & ~15, the last K % 16 values of k in lanes 0, 1, ... (masked loads: the other
 *    lanes add fma(0, 0, acc)), then the 16 lanes added in one of two trees: REDUCE_4 (the
 *    rows in blocks of 4, i < M & ~3, or the columns in blocks of 4, j < N & ~3) or GCC's
 *    _mm512_reduce_add_ps (the rest);
 *  - then alpha * sum (alpha = 1 here: exact), and for beta != 0 fma(C, beta, that).
 * Checked bit for bit against Debian's libopenblas 0.3.21 with OPENBLAS_CORETYPE=SkylakeX on
 * all the fit's shapes and on random others. Both trees are plain float adds, so the portable
 * code and AVX2 (two 8-lane registers, or one accumulator register per lane) give these bits
 * without AVX-512. */
#ifndef FACEAU_CV_SKX_GEMM_H
#define FACEAU_CV_SKX_GEMM_H

#include <math.h>
#include <stddef.h>

#include "core/core.h"

enum { FA_SKX_LANES = 16 };

/* The first row summed dot-like (M if none): see above. */
static inline int fa_skx_dot_row(int M, int K)
{
    const int m16 = M & ~15, mm = M - m16;
    return (mm && mm <= 8 && K >= 32) ? m16 : M;
}

/* Whether a dot-like element (i, j) takes the REDUCE_4 tree (else _mm512_reduce_add_ps). */
static inline int fa_skx_tree4(int i, int j, int M, int N)
{
    return i < (M & ~3) || j < (N & ~3);
}

/* REDUCE_4 for one of its four vectors: the four 128-bit quarters q each (l0 + l1) + (l2 + l3),
 * then (q0 + q1) + (q2 + q3). */
static inline float fa_skx_reduce4(const float l[FA_SKX_LANES])
{
    float x[4];
    for (int q = 0; q < 4; q++)
        x[q] = (l[4 * q] + l[4 * q + 1]) + (l[4 * q + 2] + l[4 * q + 3]);
    return (x[0] + x[1]) + (x[2] + x[3]);
}

/* GCC 12's _mm512_reduce_add_ps: halves, quarters, then lanes (0 + 2) + (1 + 3). */
static inline float fa_skx_reduce_add(const float l[FA_SKX_LANES])
{
    float t8[8], t4[4];
    for (int i = 0; i < 8; i++)
        t8[i] = l[8 + i] + l[i];
    for (int i = 0; i < 4; i++)
        t4[i] = t8[4 + i] + t8[i];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

/* One dot-like element: sum_k a[k * as] * b[k * bs] in the 16 lanes, then the tree. */
static inline float fa_skx_dot(const float *a, size_t as, const float *b, size_t bs, int K,
                               int tree4)
{
    float l[FA_SKX_LANES] = {0};
    const int k16 = K & ~15;
    int k = 0;
    for (; k < k16; k += FA_SKX_LANES)
        for (int i = 0; i < FA_SKX_LANES; i++)
            l[i] = fmaf(a[(size_t)(k + i) * as], b[(size_t)(k + i) * bs], l[i]);
    if (k < K)
        for (int i = 0; i < FA_SKX_LANES; i++)
            l[i] = k + i < K ? fmaf(a[(size_t)(k + i) * as], b[(size_t)(k + i) * bs], l[i])
                             : l[i] + 0.0f; /* fma(0, 0, l): -0 becomes +0 */
    return tree4 ? fa_skx_reduce4(l) : fa_skx_reduce_add(l);
}

/* H (k x k, row-major) = Jwt * J + diag(reg) as OpenFace's
 *   sgemm_(N, N, k, k, len, 1, J, k, J_w_t, len, 1, Hessian = diag(reg), k)
 * sums it (NU_RLMS, PDM::CalcParams): Jwt k x len, J len x k, both row-major. Only the lower
 * triangle (H[r][c], c <= r: what cv's CholImpl reads) is computed; the entries above it are set
 * to 0. The AVX2 twin runs when cpu has AVX2 and FMA; the same bits either way. */
void fa_skx_hessian(const float *Jwt, const float *J, int len, int k, const float *reg,
                    unsigned cpu, float *H);
/* out[n] = sum_k a[k] Bt[k N + n] (+ c[n] when c is not NULL), n < N, as
 *   sgemm_(N, N, 1, N, K, 1, a, 1, B, K, beta, out = c, 1)
 * sums it with B(k, n) = Bt[k N + n] (CalcShape3D with Bt = princ_comp transposed, the CCNF
 * Sigma product with Bt = Sigma column-major): M = 1, so dot-like for K >= 32 (the REDUCE_4
 * tree for n < N & ~3), one chain per output below; then + c rounded once. AVX2 twin as above. */
void fa_skx_gemv_t(const float *a, const float *Bt, int K, int N, const float *c, unsigned cpu,
                   float *out);
#if FA_BUILD_AVX2
void fa_skx_gemv_t_avx2(const float *a, const float *Bt, int K, int N, const float *c,
                        float *out);
void fa_skx_hessian_avx2(const float *Jwt, const float *J, int len, int k, const float *reg,
                         float *H);
#endif

#endif
