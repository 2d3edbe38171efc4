/* pdm/calc_params_kernels.h - the workspace of PDM::CalcParams and the small kernels its
 * portable loops (calc_params.c) share with their AVX2 twins (calc_params_avx2.c); private to
 * pdm/. */
#ifndef FACEAU_PDM_CALC_PARAMS_KERNELS_H
#define FACEAU_PDM_CALC_PARAMS_KERNELS_H

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "pdm/pdm.h"

#define MAXP FA_PDM_MAX_POINTS
#define MAXM FA_PDM_MAX_MODES
#define MAXC (6 + MAXM) /* unknowns: 6 rigid + m modes */

/* The hot loops work on several independent outputs at once through GCC/Clang vector types of
 * SSE2's width. Each lane performs exactly the scalar operations of its own output in the scalar
 * order (no sum is split or reassociated, contraction is off), so the results are bit-identical
 * to plain loops. Data need not be vector-aligned, so loads and stores go through memcpy.
 * "#pragma GCC unroll" on the short loops over lanes lets -O2 keep the sums in registers. */
typedef float v4f __attribute__((vector_size(16)));
typedef double v2d __attribute__((vector_size(16)));
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(v))

/* Four floats to two pairs of doubles (exact), and back (each rounded). GCC 12 converts vectors
 * element by element with __builtin_convertvector, hence SSE2's instructions where available. */
static inline void widen(v4f f, v2d d[2])
{
#ifdef __SSE2__
    d[0] = (v2d)_mm_cvtps_pd((__m128)f);
    d[1] = (v2d)_mm_cvtps_pd(_mm_movehl_ps((__m128)f, (__m128)f));
#else
    d[0] = (v2d){f[0], f[1]};
    d[1] = (v2d){f[2], f[3]};
#endif
}

static inline v4f narrow(const v2d d[2])
{
#ifdef __SSE2__
    return (v4f)_mm_movelh_ps(_mm_cvtpd_ps((__m128d)d[0]), _mm_cvtpd_ps((__m128d)d[1]));
#else
    return (v4f){(float)d[0][0], (float)d[0][1], (float)d[1][0], (float)d[1][1]};
#endif
}

/* Workspace of one fit, on the caller's stack (about 60 KB). */
typedef struct fit {
    int n, m, nc;                 /* visible points, modes, unknowns (6 + m) */
    float M[3 * MAXP];            /* visible mean shape: x.., y.., z.. */
    const float *Vt;              /* visible components transposed: Vt[j * 3n + d * n + i] */
    const double *gram;           /* Gram matrices of the components (all points visible), or NULL */
    float lm[2 * MAXP];           /* visible landmarks, x then y */
    float reg[MAXM];              /* 1 / eigenvalue */
    float S[3 * MAXP];            /* 3D shape for the current p */
    float JT[MAXC][2 * MAXP];     /* the Jacobian transposed: one row per unknown */
    float H[MAXC * MAXC];         /* Hessian (upper triangle), then its Cholesky factor */
    float b[MAXC], dp[MAXC];
    float Vsub[MAXM * 3 * MAXP];  /* storage for Vt when it cannot point into the model */
    int avx2;                     /* run the AVX2 copies of the hot loops */
    unsigned cpu;                 /* FA_CPU_* of the model, for fa_skx_hessian */
} fit;

/* fit_shape's rows from r on, one at a time. */
static inline void shape_rows(fit *F, const float *p, int r)
{
    int rows = 3 * F->n, m = F->m;
    for (; r < rows; r++) {
        double acc = 0;
        for (int j = 0; j < m; j++)
            acc += F->Vt[(size_t)j * rows + r] * (double)p[j];
        F->S[r] = (float)(acc + (double)F->M[r]);
    }
}

/* Lanes [0, cnt) of a 4-vector from or to memory, for the last points of a loop; missing lanes
 * read as 0. With cnt == 4 these are plain vector moves. */
static inline v4f load4(const float *p, int cnt)
{
    float t[4] = {0, 0, 0, 0};
    for (int l = 0; l < cnt; l++)
        t[l] = p[l];
    v4f v;
    VLOAD(v, t);
    return v;
}

static inline void store4(float *p, v4f v, int cnt)
{
    if (cnt == 4) {
        VSTORE(p, v);
        return;
    }
    float t[4];
    VSTORE(t, v);
    for (int l = 0; l < cnt; l++)
        p[l] = t[l];
}

/* Columns 0..3 (scale, rotation from the small-angle model) of PDM::ComputeJacobian for the
 * cnt points from i, whose coordinates are X, Y, Z. */
static inline void jacobian_rigid4(fit *F, int i, int cnt, v4f X, v4f Y, v4f Z, const float R[9],
                                   float s)
{
    int n = F->n;
    v4f jx[4] = {X * R[0] + Y * R[1] + Z * R[2], s * (Y * R[2] - Z * R[1]),
                 -s * (X * R[2] - Z * R[0]), s * (X * R[1] - Y * R[0])};
    v4f jy[4] = {X * R[3] + Y * R[4] + Z * R[5], s * (Y * R[5] - Z * R[4]),
                 -s * (X * R[5] - Z * R[3]), s * (X * R[4] - Y * R[3])};
    for (int c = 0; c < 4; c++) {
        store4(F->JT[c] + i, jx[c], cnt);
        store4(F->JT[c] + n + i, jy[c], cnt);
    }
}

/* The column of mode j of PDM::ComputeJacobian for the cnt points from i, whose component
 * values are x, y, z. */
static inline void jacobian_mode4(fit *F, int j, int i, int cnt, v4f x, v4f y, v4f z,
                                  const float R[9], float s)
{
    store4(F->JT[6 + j] + i, s * (R[0] * x + R[1] * y + R[2] * z), cnt);
    store4(F->JT[6 + j] + F->n + i, s * (R[3] * x + R[4] * y + R[5] * z), cnt);
}

/* PDM::ComputeJacobian with unit weights, stored transposed: JT[c] holds column c over the n
 * x-rows then the n y-rows. Rows 4 and 5 (the translation) are constant and set by fit_select.
 * Only points from i0 on (a multiple of 4) are written, so the AVX2 copy can finish with this. */
static inline void jacobian_from(fit *F, const float R[9], float s, int i0)
{
    int n = F->n, rows = 3 * n, full = n & ~3, cnt = n - full;
    const float *X = F->S, *Y = X + n, *Z = Y + n;
    for (int i = i0; i < full; i += 4) {
        v4f x, y, z;
        VLOAD(x, X + i);
        VLOAD(y, Y + i);
        VLOAD(z, Z + i);
        jacobian_rigid4(F, i, 4, x, y, z, R, s);
    }
    if (cnt)
        jacobian_rigid4(F, full, cnt, load4(X + full, cnt), load4(Y + full, cnt),
                        load4(Z + full, cnt), R, s);
    for (int j = 0; j < F->m; j++) {
        const float *vx = F->Vt + (size_t)j * rows, *vy = vx + n, *vz = vy + n;
        for (int i = i0; i < full; i += 4) {
            v4f x, y, z;
            VLOAD(x, vx + i);
            VLOAD(y, vy + i);
            VLOAD(z, vz + i);
            jacobian_mode4(F, j, i, 4, x, y, z, R, s);
        }
        if (cnt)
            jacobian_mode4(F, j, full, cnt, load4(vx + full, cnt), load4(vy + full, cnt),
                           load4(vz + full, cnt), R, s);
    }
}

/* The local part of the gradient minus diag(1/lambda) p. */
static inline void gradient_reg(fit *F, const float *p)
{
    /* OpenCV evaluates `b - Reg * p` as one cv::gemm (alpha -1, src3 b, beta 1): the product
     * and the difference in double, rounded to float once. */
    for (int j = 0; j < F->m; j++)
        F->b[6 + j] = (float)((double)F->b[6 + j] - (double)F->reg[j] * (double)p[j]);
}

/* H (a, c), a <= c, holds Hessian[c][a], the entry CholImpl reads. */
static inline void h_set(fit *F, int a, int c, float v)
{
    F->H[a * MAXC + c] = v;
}

#if FA_BUILD_AVX2 && defined(__SSE2__)
#define PDM_AVX2 1
/* The AVX2 twins (calc_params_avx2.c) of fit_shape and jacobian. */
void fa_pdm_fit_shape_avx2(fit *F, const float *p);
void fa_pdm_jacobian_avx2(fit *F, const float R[9], float s);
#endif

#endif
