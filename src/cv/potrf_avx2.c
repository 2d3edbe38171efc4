/* potrf_avx2.c - the AVX2 twin of potrf.c's solves: eight columns of the identity side by side
 * in the lanes, each lane the scalar solve's fused operations in the same order, so the same
 * bits. A lane whose column starts below the first lane's reads its own exact +0s where the
 * scalar code skips them (fmaf(x, +0, acc) = acc for these chains' +0 or non-zero acc). */
#include <math.h>
#include <stddef.h>

#include "cv/potrf_kernels.h"

#if FA_BUILD_AVX2
#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma")))

static inline int imax(int x, int y)
{
    return x > y ? x : y;
}

#define A_(r, c) a[(size_t)(c) * (size_t)n + (size_t)(r)]

/* The smallest envelope start of rows r..r+7: a lane whose own start is later only adds
 * products with its exact zeros. */
static inline int fmin8(const int *f, int r)
{
    int m = f[r];
    for (int i = 1; i < 8; i++)
        m = f[r + i] < m ? f[r + i] : m;
    return m;
}

/* potrf.c's potf2, the rows below the diagonal eight at a time (fmaf is the FMA instruction
 * here: the same roundings). */
AVX2_FN static int potf2_avx2(float *a, int n, int jb, int bk, const int *f)
{
    const __m256 m1 = _mm256_set1_ps(-1.f);
    for (int jj = 0; jj < bk; jj++) {
        const int j = jb + jj, re = jb + bk;
        double dot = 0;
        int k = jb + ((imax(jb, f[j]) - jb) & ~1);
        for (; k + 1 < j; k += 2) {
            const float x0 = A_(j, k), x1 = A_(j, k + 1);
            dot += (double)fmaf(x0, x0, x1 * x1);
        }
        if (k < j) {
            const float x0 = A_(j, k);
            dot += (double)(x0 * x0);
        }
        float ajj = A_(j, j) - (float)dot;
        if (ajj <= 0) {
            A_(j, j) = ajj;
            return jj + 1;
        }
        ajj = sqrtf(ajj);
        A_(j, j) = ajj;
        const int m = bk - jj - 1;
        if (m <= 0)
            continue;
        int r = j + 1;
        if (jj == 4) {
            const int split = (m - (m & 3)) & 12;
            const float x0 = A_(j, jb), x1 = A_(j, jb + 1), x2 = A_(j, jb + 2), x3 = A_(j, jb + 3);
            for (int i = 0; i < m; i++) {
                const int q = j + 1 + i;
                const float a0 = A_(q, jb), a1 = A_(q, jb + 1), a2 = A_(q, jb + 2), a3 = A_(q, jb + 3);
                if (i < split) {
                    const float h0 = fmaf(a2, x2, fmaf(a0, x0, 0.f));
                    const float h1 = fmaf(a3, x3, fmaf(a1, x1, 0.f));
                    A_(q, j) = A_(q, j) + (h0 + h1) * -1.f;
                } else {
                    float acc = fmaf(a0, x0, 0.f);
                    acc = fmaf(a1, x1, acc);
                    acc = fmaf(a2, x2, acc);
                    acc = fmaf(a3, x3, acc);
                    A_(q, j) = fmaf(acc, -1.f, A_(q, j));
                }
            }
        } else if (jj > 0) {
            for (; r + 8 <= re; r += 8) {
                const int k0 = imax(jb, imax(fmin8(f, r), f[j]));
                if (k0 >= j)
                    continue;
                __m256 acc = _mm256_setzero_ps();
                for (k = k0; k < j; k++)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(&A_(r, k)), _mm256_set1_ps(A_(j, k)), acc);
                _mm256_storeu_ps(&A_(r, j), _mm256_fmadd_ps(acc, m1, _mm256_loadu_ps(&A_(r, j))));
            }
            for (; r < re; r++) {
                const int k0 = imax(jb, imax(f[r], f[j]));
                if (k0 >= j)
                    continue;
                float acc = 0;
                for (k = k0; k < j; k++)
                    acc = fmaf(A_(r, k), A_(j, k), acc);
                A_(r, j) = fmaf(acc, -1.f, A_(r, j));
            }
        }
        const float inv = 1.f / ajj;
        for (r = j + 1; r < re; r++)
            A_(r, j) *= inv;
    }
    return 0;
}

/* potrf.c's panel_update, eight rows at a time. */
AVX2_FN static void panel_update_avx2(float *a, int n, int jb, int bk, const int *f, float *inv)
{
    const int je = jb + bk;
    const __m256 m1 = _mm256_set1_ps(-1.f);
    for (int c = 0; c < bk; c++)
        inv[c] = 1.f / A_(jb + c, jb + c);
    int re = je; /* rows past the last one reaching into the panel are exact zeros there */
    for (int r = je; r < n; r++)
        if (f[r] < je)
            re = r + 1;
    int r = je;
    for (; r + 8 <= re; r += 8) {
        const int fr = fmin8(f, r);
        for (int c0 = 0; c0 < bk;) {
            const int w = bk - c0 >= 4 ? 4 : (bk - c0 >= 2 ? 2 : 1);
            for (int c = c0; c < c0 + w; c++) {
                const int jc = jb + c, k0 = imax(fr, f[jc]);
                __m256 t = _mm256_loadu_ps(&A_(r, jc));
                if (imax(k0, jb) < jb + c0) {
                    __m256 acc = _mm256_setzero_ps();
                    for (int k = imax(k0, jb); k < jb + c0; k++)
                        acc = _mm256_fmadd_ps(_mm256_loadu_ps(&A_(r, k)), _mm256_set1_ps(A_(jc, k)), acc);
                    t = _mm256_fmadd_ps(acc, m1, t);
                }
                for (int i = imax(k0, jb + c0); i < jc; i++)
                    t = _mm256_fnmadd_ps(_mm256_loadu_ps(&A_(r, i)), _mm256_set1_ps(A_(jc, i)), t);
                _mm256_storeu_ps(&A_(r, jc), _mm256_mul_ps(t, _mm256_set1_ps(inv[c])));
            }
            c0 += w;
        }
    }
    for (; r < re; r++) {
        if (f[r] >= je)
            continue;
        for (int c0 = 0; c0 < bk;) {
            const int w = bk - c0 >= 4 ? 4 : (bk - c0 >= 2 ? 2 : 1);
            for (int c = c0; c < c0 + w; c++) {
                const int jc = jb + c, k0 = imax(f[r], f[jc]);
                if (jc < f[r])
                    continue;
                float t = A_(r, jc);
                if (imax(k0, jb) < jb + c0) {
                    float acc = 0;
                    for (int k = imax(k0, jb); k < jb + c0; k++)
                        acc = fmaf(A_(r, k), A_(jc, k), acc);
                    t = fmaf(acc, -1.f, t);
                }
                for (int i = imax(k0, jb + c0); i < jc; i++)
                    t = fmaf(-A_(r, i), A_(jc, i), t);
                A_(r, jc) = t * inv[c];
            }
            c0 += w;
        }
    }
    for (int s = je; s < re; s++) {
        int q = s;
        for (; q + 8 <= re; q += 8) {
            const int k0 = imax(jb, imax(fmin8(f, q), f[s]));
            if (k0 >= je)
                continue;
            __m256 acc = _mm256_setzero_ps();
            for (int k = k0; k < je; k++)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(&A_(q, k)), _mm256_set1_ps(A_(s, k)), acc);
            _mm256_storeu_ps(&A_(q, s), _mm256_fmadd_ps(acc, m1, _mm256_loadu_ps(&A_(q, s))));
        }
        for (; q < re; q++) {
            const int k0 = imax(jb, imax(f[q], f[s]));
            if (k0 >= je)
                continue;
            float acc = 0;
            for (int k = k0; k < je; k++)
                acc = fmaf(A_(q, k), A_(s, k), acc);
            A_(q, s) = fmaf(acc, -1.f, A_(q, s));
        }
    }
}

AVX2_FN int fa_potrf_factor_avx2(float *a, int n, const int *f, float *inv)
{
    if (n <= 32)
        return potf2_avx2(a, n, 0, n, f);
    const int blocking = n / 4;
    for (int j = 0; j < n; j += blocking) {
        const int bk = n - j < blocking ? n - j : blocking;
        const int info = potf2_avx2(a, n, j, bk, f);
        if (info)
            return info + j;
        if (n - j - bk > 0)
            panel_update_avx2(a, n, j, bk, f, inv);
    }
    return 0;
}
#undef A_

/* The solves, 32 columns (four registers) at a time: four independent chains in flight. */
AVX2_FN void fa_potrf_solve_avx2(const float *L, int n, const fa_potrf_plan *P, float *X, float *T)
{
    enum { G = 32, V = G / 8 };
    const size_t ld = (size_t)n;
    const int *f = P->f, *last = P->last;
    const __m256 m1 = _mm256_set1_ps(-1.f), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c0 = 0; c0 < n; c0 += G) {
        const int w = n - c0 < G ? n - c0 : G;
        /* forward: rows above c0 are +0 in every lane */
        for (int r = 0; r < c0; r++)
            for (int v = 0; v < V; v++)
                _mm256_storeu_ps(T + (size_t)r * G + 8 * v, zero);
        for (int b = 0; b < P->fnb; b++) {
            const int r0 = P->fs[b], r1 = r0 + P->fz[b];
            if (r1 <= c0)
                continue;
            for (int r = imax(r0, c0); r < r1; r++) {
                __m256 t[V];
                for (int v = 0; v < V; v++) {
                    const __m256i d = _mm256_cmpeq_epi32(lane, _mm256_set1_epi32(r - c0 - 8 * v));
                    t[v] = _mm256_and_ps(_mm256_castsi256_ps(d), one);
                }
                const int k0 = imax(c0, f[r]);
                if (k0 < r0) {
                    __m256 acc[V] = {zero, zero, zero, zero};
                    for (int k = k0; k < r0; k++) {
                        const __m256 l = _mm256_set1_ps(L[(size_t)k * ld + (size_t)r]);
                        const float *tk = T + (size_t)k * G;
                        for (int v = 0; v < V; v++)
                            acc[v] = _mm256_fmadd_ps(l, _mm256_loadu_ps(tk + 8 * v), acc[v]);
                    }
                    for (int v = 0; v < V; v++)
                        t[v] = _mm256_fmadd_ps(acc[v], m1, t[v]);
                }
                for (int i = imax(k0, r0); i < r; i++) {
                    const __m256 l = _mm256_set1_ps(L[(size_t)i * ld + (size_t)r]);
                    const float *ti = T + (size_t)i * G;
                    for (int v = 0; v < V; v++)
                        t[v] = _mm256_fnmadd_ps(_mm256_loadu_ps(ti + 8 * v), l, t[v]);
                }
                const __m256 iv = _mm256_set1_ps(P->inv[r]);
                for (int v = 0; v < V; v++)
                    _mm256_storeu_ps(T + (size_t)r * G + 8 * v, _mm256_mul_ps(t[v], iv));
            }
        }
        /* backward */
        for (int b = 0; b < P->bnb; b++) {
            const int r0 = P->bs[b], r1 = r0 + P->bz[b];
            for (int r = r1 - 1; r >= r0; r--) {
                const float *Lr = L + (size_t)r * ld; /* Lr[k] = l(k, r) */
                const int k1 = last[r];
                __m256 t[V];
                for (int v = 0; v < V; v++)
                    t[v] = _mm256_loadu_ps(T + (size_t)r * G + 8 * v);
                if (r1 <= k1) {
                    __m256 acc[V] = {zero, zero, zero, zero};
                    for (int k = r1; k <= k1; k++) {
                        const __m256 l = _mm256_set1_ps(Lr[k]);
                        const float *tk = T + (size_t)k * G;
                        for (int v = 0; v < V; v++)
                            acc[v] = _mm256_fmadd_ps(l, _mm256_loadu_ps(tk + 8 * v), acc[v]);
                    }
                    for (int v = 0; v < V; v++)
                        t[v] = _mm256_fmadd_ps(acc[v], m1, t[v]);
                }
                for (int i = (r1 - 1 < k1 ? r1 - 1 : k1); i > r; i--) {
                    const __m256 l = _mm256_set1_ps(Lr[i]);
                    const float *ti = T + (size_t)i * G;
                    for (int v = 0; v < V; v++)
                        t[v] = _mm256_fnmadd_ps(_mm256_loadu_ps(ti + 8 * v), l, t[v]);
                }
                const __m256 iv = _mm256_set1_ps(P->inv[r]);
                for (int v = 0; v < V; v++)
                    _mm256_storeu_ps(T + (size_t)r * G + 8 * v, _mm256_mul_ps(t[v], iv));
            }
        }
        for (int l = 0; l < w; l++) {
            float *x = X + (size_t)(c0 + l) * ld;
            for (int r = 0; r < n; r++)
                x[r] = T[(size_t)r * G + (size_t)l];
        }
    }
}
#endif
