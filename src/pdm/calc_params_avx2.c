/* calc_params_avx2.c - AVX2 twins of calc_params.c's hot loops, bit-identical to them. */
#include "pdm/calc_params_kernels.h"

#ifdef PDM_AVX2
#include <immintrin.h>

/* ---- AVX2 copies of the hot loops -------------------------------------------------------- */

/* Same arithmetic as the SSE2-width loops above, with twice the lanes: each lane still does the
 * scalar operations of its own output in the scalar order, and where a sum is split into
 * interleaved lanes (gradient: 4 double lanes, hessian_rigid: 8 float lanes) one 256-bit vector
 * holds exactly those lanes, combined as before. No FMA is enabled. */
typedef float v8f __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));
#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))

/* Four floats widened (exactly) to four doubles, and four doubles rounded to floats. */
AVX2_INLINE v4d widen4(v4f f)
{
    return (v4d)_mm256_cvtps_pd((__m128)f);
}

AVX2_INLINE v4d load_widen4(const float *p)
{
    return widen4((v4f)_mm_loadu_ps(p));
}

AVX2_INLINE v4f narrow4(v4d d)
{
    return (v4f)_mm256_cvtpd_ps((__m256d)d);
}

/* fit_shape's double sums for nu (constant after inlining) units of 4 rows from row r. */
AVX2_INLINE void shape_block_avx2(fit *F, const float *p, int r, int nu)
{
    int rows = 3 * F->n;
    v4d acc[4] = {{0}};
    for (int j = 0; j < F->m; j++) {
        const float *v = F->Vt + (size_t)j * rows + r;
        double pj = p[j];
#pragma GCC unroll 4
        for (int h = 0; h < nu; h++)
            acc[h] += load_widen4(v + 4 * h) * pj;
    }
#pragma GCC unroll 4
    for (int h = 0; h < nu; h++) {
        acc[h] += load_widen4(F->M + r + 4 * h);
        v4f sh = narrow4(acc[h]);
        VSTORE(F->S + r + 4 * h, sh);
    }
}

AVX2_FN void fa_pdm_fit_shape_avx2(fit *F, const float *p)
{
    int rows = 3 * F->n, r = 0;
    for (; r + 16 <= rows; r += 16)
        shape_block_avx2(F, p, r, 4);
    switch ((rows - r) / 4) {
    case 3:
        shape_block_avx2(F, p, r, 3);
        break;
    case 2:
        shape_block_avx2(F, p, r, 2);
        break;
    case 1:
        shape_block_avx2(F, p, r, 1);
        break;
    default:
        break;
    }
    shape_rows(F, p, rows & ~3);
}

/* jacobian_rigid4 / jacobian_mode4 (same formulas) for 8 points from i. */
AVX2_INLINE void jacobian_rigid8(fit *F, int i, const float R[9], float s)
{
    int n = F->n;
    v8f X, Y, Z;
    VLOAD(X, F->S + i);
    VLOAD(Y, F->S + n + i);
    VLOAD(Z, F->S + 2 * n + i);
    v8f jx[4] = {X * R[0] + Y * R[1] + Z * R[2], s * (Y * R[2] - Z * R[1]),
                 -s * (X * R[2] - Z * R[0]), s * (X * R[1] - Y * R[0])};
    v8f jy[4] = {X * R[3] + Y * R[4] + Z * R[5], s * (Y * R[5] - Z * R[4]),
                 -s * (X * R[5] - Z * R[3]), s * (X * R[4] - Y * R[3])};
    for (int c = 0; c < 4; c++) {
        VSTORE(F->JT[c] + i, jx[c]);
        VSTORE(F->JT[c] + n + i, jy[c]);
    }
}

AVX2_INLINE void jacobian_mode8(fit *F, int j, int i, const float R[9], float s)
{
    int n = F->n;
    const float *vx = F->Vt + (size_t)j * 3 * n + i;
    v8f x, y, z;
    VLOAD(x, vx);
    VLOAD(y, vx + n);
    VLOAD(z, vx + 2 * n);
    v8f u = s * (R[0] * x + R[1] * y + R[2] * z), v = s * (R[3] * x + R[4] * y + R[5] * z);
    VSTORE(F->JT[6 + j] + i, u);
    VSTORE(F->JT[6 + j] + n + i, v);
}

/* Points in blocks of 8, then the rest through the 4-wide code. */
AVX2_FN void fa_pdm_jacobian_avx2(fit *F, const float R[9], float s)
{
    int full = F->n & ~7;
    for (int i = 0; i < full; i += 8)
        jacobian_rigid8(F, i, R, s);
    for (int j = 0; j < F->m; j++)
        for (int i = 0; i < full; i += 8)
            jacobian_mode8(F, j, i, R, s);
    jacobian_from(F, R, s, full);
}

#else
typedef int fa_pdm_avx2_unused; /* ISO C wants a declaration in every translation unit */
#endif
