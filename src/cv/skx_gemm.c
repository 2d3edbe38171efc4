/* skx_gemm.c - products in the order of OpenBLAS's SkylakeX small-matrix sgemm (skx_gemm.h):
 * the Hessian J_w_t * J + diag(reg) of OpenFace's NU_RLMS and PDM::CalcParams, and the
 * one-row products (CalcShape3D, the CCNF Sigma product). */
#include "cv/skx_gemm.h"

/* H = Jwt * J + diag(reg), Jwt k x len, J len x k, as OpenFace's
 *   sgemm_(N, N, k, k, len, 1, J, k, J_w_t, len, 1, Hessian = regTerm, k)
 * computes it: column-major, C(i, j) = H[j][i] = sum_q J[q][i] * Jwt[j][q], so the kernel's
 * row i is H's column c and its column j is H's row r. Columns c < fa_skx_dot_row(k, len) one
 * fused chain over q from 0, the rest 16 partial chains and a tree (skx_gemm.h); then
 * fma(C, beta = 1, sum) = sum + reg (0 off the diagonal) rounded once. Only c <= r: CholImpl
 * reads the lower triangle alone, and each element is summed on its own, so skipping the rest
 * changes none of these bits; the rest is set to 0. */
static void hessian_scalar(const float *Jwt, const float *J, int len, int k, const float *reg,
                           float *H)
{
    const int cd = fa_skx_dot_row(k, len);
    for (int r = 0; r < k; r++) {
        const float *b = Jwt + (size_t)r * (size_t)len;
        for (int c = r + 1; c < k; c++)
            H[r * k + c] = 0.0f;
        for (int c = 0; c <= r; c++) {
            float s;
            if (c < cd) {
                s = 0;
                for (int q = 0; q < len; q++)
                    s = fmaf(J[(size_t)q * (size_t)k + (size_t)c], b[q], s);
            } else {
                s = fa_skx_dot(J + c, (size_t)k, b, 1, len, fa_skx_tree4(c, r, k, k));
            }
            H[r * k + c] = s + (r == c ? reg[r] : 0.0f);
        }
    }
}

void fa_skx_hessian(const float *Jwt, const float *J, int len, int k, const float *reg,
                    unsigned cpu, float *H)
{
#if FA_BUILD_AVX2
    if ((cpu & (FA_CPU_AVX2 | FA_CPU_FMA)) == (FA_CPU_AVX2 | FA_CPU_FMA)) {
        fa_skx_hessian_avx2(Jwt, J, len, k, reg, H);
        return;
    }
#endif
    (void)cpu;
    hessian_scalar(Jwt, J, len, k, reg, H);
}


void fa_skx_gemv_t(const float *a, const float *Bt, int K, int N, const float *c, unsigned cpu,
                   float *out)
{
#if FA_BUILD_AVX2
    if ((cpu & (FA_CPU_AVX2 | FA_CPU_FMA)) == (FA_CPU_AVX2 | FA_CPU_FMA)) {
        fa_skx_gemv_t_avx2(a, Bt, K, N, c, out);
        return;
    }
#endif
    (void)cpu;
    const int dot = fa_skx_dot_row(1, K) == 0;
    for (int n = 0; n < N; n++) {
        float s;
        if (dot) {
            s = fa_skx_dot(Bt + n, (size_t)N, a, 1, K, fa_skx_tree4(0, n, 1, N));
        } else {
            s = 0;
            for (int k = 0; k < K; k++)
                s = fmaf(Bt[(size_t)k * (size_t)N + (size_t)n], a[k], s);
        }
        out[n] = c ? s + c[n] : s;
    }
}
