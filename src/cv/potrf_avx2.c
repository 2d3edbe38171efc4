/* potrf_avx2.c - the AVX2 twin of potrf.c's solves: eight columns of the identity side by side
 * in the lanes, each lane the scalar solve's fused operations in the same order, so the same
 * bits. A lane whose column starts below the first lane's reads its own exact +0s where the
 * scalar code skips them (fmaf(x, +0, acc) = acc for these chains' +0 or non-zero acc). */
#include <stddef.h>

#include "cv/potrf_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma")))

static inline int imax(int x, int y)
{
    return x > y ? x : y;
}

AVX2_FN void fa_potrf_solve_avx2(const float *L, int n, const fa_potrf_plan *P, float *X, float *T)
{
    const size_t ld = (size_t)n;
    const int *f = P->f, *last = P->last;
    const __m256 m1 = _mm256_set1_ps(-1.f), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c0 = 0; c0 < n; c0 += 8) {
        const int w = n - c0 < 8 ? n - c0 : 8;
        /* forward: rows above c0 are +0 in every lane */
        for (int r = 0; r < c0; r++)
            _mm256_storeu_ps(T + (size_t)r * 8, zero);
        for (int b = 0; b < P->fnb; b++) {
            const int r0 = P->fs[b], r1 = r0 + P->fz[b];
            if (r1 <= c0)
                continue;
            for (int r = imax(r0, c0); r < r1; r++) {
                const __m256i diag = _mm256_cmpeq_epi32(lane, _mm256_set1_epi32(r - c0));
                __m256 t = _mm256_and_ps(_mm256_castsi256_ps(diag), one);
                const int k0 = imax(c0, f[r]);
                if (k0 < r0) {
                    __m256 acc = zero;
                    for (int k = k0; k < r0; k++)
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(L[(size_t)k * ld + (size_t)r]),
                                              _mm256_loadu_ps(T + (size_t)k * 8), acc);
                    t = _mm256_fmadd_ps(acc, m1, t);
                }
                for (int i = imax(k0, r0); i < r; i++)
                    t = _mm256_fnmadd_ps(_mm256_loadu_ps(T + (size_t)i * 8),
                                         _mm256_set1_ps(L[(size_t)i * ld + (size_t)r]), t);
                _mm256_storeu_ps(T + (size_t)r * 8, _mm256_mul_ps(t, _mm256_set1_ps(P->inv[r])));
            }
        }
        /* backward */
        for (int b = 0; b < P->bnb; b++) {
            const int r0 = P->bs[b], r1 = r0 + P->bz[b];
            for (int r = r1 - 1; r >= r0; r--) {
                const float *Lr = L + (size_t)r * ld; /* Lr[k] = l(k, r) */
                const int k1 = last[r];
                __m256 t = _mm256_loadu_ps(T + (size_t)r * 8);
                if (r1 <= k1) {
                    __m256 acc = zero;
                    for (int k = r1; k <= k1; k++)
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(Lr[k]),
                                              _mm256_loadu_ps(T + (size_t)k * 8), acc);
                    t = _mm256_fmadd_ps(acc, m1, t);
                }
                for (int i = (r1 - 1 < k1 ? r1 - 1 : k1); i > r; i--)
                    t = _mm256_fnmadd_ps(_mm256_loadu_ps(T + (size_t)i * 8),
                                         _mm256_set1_ps(Lr[i]), t);
                _mm256_storeu_ps(T + (size_t)r * 8, _mm256_mul_ps(t, _mm256_set1_ps(P->inv[r])));
            }
        }
        for (int l = 0; l < w; l++) {
            float *x = X + (size_t)(c0 + l) * ld;
            for (int r = 0; r < n; r++)
                x[r] = T[(size_t)r * 8 + (size_t)l];
        }
    }
}
#endif
