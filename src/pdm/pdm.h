/* pdm/pdm.h - OpenFace's 3D point distribution model (not installed): loading, CalcShape3D,
 * UpdateModelParameters' rigid part and the landmark fit CalcParams.
 */
#ifndef FACEAU_PDM_H
#define FACEAU_PDM_H

#include "cv/cv.h"

/* OpenFace's 3D point distribution model, stored as float like OpenFace does after reading. */
typedef struct fa_pdm {
    int n;        /* landmarks (68) */
    int m;        /* modes (34) */
    float *mean;  /* 3n: x0..x(n-1), y0.., z0.. */
    float *pc;    /* 3n x m, row-major */
    float *eig;   /* m eigenvalues */
    /* Derived by fa_pdm_load to speed up fa_pdm_calc_params; either may be NULL (e.g. in a
     * hand-built model), which only makes the fit slower:
     * gram: 6 symmetric m x m Gram matrices of the x/y/z blocks of pc (xx, yy, zz, xy+yx, xz+zx,
     *       yz+zy); pct: pc transposed (m x 3n). */
    double *gram;
    float *pct;
    /* FA_CPU_* kernels fa_pdm_calc_params may use: fa_pdm_load picks them (fa_cpu_features);
     * a hand-built model (0) runs the portable loops, with the same results. */
    unsigned cpu;
} fa_pdm;
/* The (a, b) coordinate pairs of the 6 Gram matrices: xx, yy, zz, xy, xz, yz. */
extern const int fa_pdm_gram_pair[6][2];

/* Largest model fa_pdm_calc_params handles (its buffers live on the stack); load rejects more. */
#define FA_PDM_MAX_POINTS 68
#define FA_PDM_MAX_MODES 34

/* ---- model (pdm.c) ---- */
faceau_status fa_pdm_load(const char *path, fa_pdm *pdm, fa_err *err);
void fa_pdm_free(fa_pdm *pdm);
/* shape3d (3n) = mean + pc * p_local, summed as OpenFace's sgemm_ on OpenBLAS 0.3.21 SkylakeX
 * (cv/skx_gemm.h), then + mean rounded once. */
void fa_pdm_shape3d(const fa_pdm *pdm, const float *p_local, float *shape3d);
/* PDM::UpdateModelParameters for the rigid part: g (scale, rx, ry, rz, tx, ty) += dp, the
 * rotation composed with orth(I + [w]x) and taken back to Euler angles through Rodrigues
 * twice (NaN -> 0). dp: the 6 rigid updates. */
void fa_pdm_update_global(float g[6], const float *dp);

/* cv::solve(A, b, DECOMP_CHOLESKY) for one right-hand side: fa_cv_cholesky(A, N, b, 1), or with
 * AVX2 in cpu its column-ordered twin (chol_solve_avx2.c), the same bits. Reads A's lower
 * triangle and overwrites A; b becomes x (0 and returns 0 when A is not positive definite). */
int fa_pdm_chol_solve(float *A, int N, float *b, unsigned cpu);
#if FA_BUILD_AVX2
int fa_pdm_chol_solve_avx2(float *A, int N, float *b);
#endif

/* ---- fit (calc_params.c) ---- */
/* OpenFace's PDM::CalcParams(landmarks, rotation 0): fits g = (scale, rx, ry, rz, tx, ty) and
 * p_local (m) to 2n landmarks (x0..x(n-1), y0..). Landmarks with x == 0 are invisible (all
 * invisible: g and p are zero). Uses about 60 KB of stack; no allocation. */
void fa_pdm_calc_params(const fa_pdm *pdm, const float *landmarks, float g[6], float *p_local);

#endif /* FACEAU_PDM_H */
