/* au/predict_kernels.h - the AU banks' linear predictions as always-inlined kernels, compiled
 * twice: portable in models.c and for AVX2 in predict_avx2.c (same source, so the same bits);
 * private to au/.
 *
 * y_j = sum_i d_i * w_ij + bias_j, d_i = (x_i - means_i) [- median_i], summed as OpenFace's
 * build does it: four partial sums by i mod 4 (i in increasing order, the n mod 4 last features
 * into the first), combined ((a0 + a1) + (a2 + a3)) + bias. The kernels run that sum for four
 * outputs j at once in GNU C vectors of PK_LANES doubles (4 in the AVX2 twin, 2 in the portable
 * one, which SSE2 and NEON have as registers; 4 there made GCC spill every vector): every lane
 * does exactly one output's scalar products and sums, in the same order (no FMA: the build has
 * -ffp-contract=off and the AVX2 twin is compiled without FMA), so the lane width cannot change a
 * bit. Up to FA_AU_BLOCK frames are
 * predicted together, the weights walked in tiles that stay in cache while every frame of the
 * block reads them: the weights (1.3 MB) are read once per block instead of once per frame. */
#ifndef FACEAU_AU_PREDICT_KERNELS_H
#define FACEAU_AU_PREDICT_KERNELS_H

#include <string.h>

#include "au/au.h"

#if defined(__clang__)
#if __has_warning("-Wpsabi")
#pragma clang diagnostic ignored "-Wpsabi"
#endif
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* The includer picks PK_LANES, 2 or 4 (a divisor of FA_AU_LANES, which pads the rows). */
#if !defined(PK_LANES) || FA_AU_LANES % PK_LANES != 0
#error "define PK_LANES (2 or 4) before including predict_kernels.h"
#endif
typedef double pk_vec __attribute__((vector_size(PK_LANES * sizeof(double))));
#define PK_INLINE static inline __attribute__((always_inline))
#define PK_NV (FA_MAX_BANK / PK_LANES) /* vectors of outputs in the widest bank */
#define PK_GROUP 3 /* output vectors kept in registers at once: 4 partial sums x 3 = 12 */
/* Feature rows per tile of a block (a multiple of 4, so a tile starts a partial-sum cycle):
 * 160 rows of a 12-wide bank are 15 KB of weights, read by every frame of the block from L1. */
#define PK_TILE 160

PK_INLINE pk_vec pk_splat(double d)
{
    pk_vec v;
    for (int l = 0; l < PK_LANES; l++)
        v[l] = d;
    return v;
}

/* Partial sums acc[r][v] (lanes: outputs PK_LANES v ..) over feature rows [i0, i1), for output
 * vectors v0 .. v0+g-1; g a constant after inlining, so the sums live in registers. */
PK_INLINE void pk_rows(const fa_au_bank *b, const double *x, const double *med, int i0, int i1,
                       pk_vec (*acc)[PK_NV], int v0, const int g)
{
    const int kp = b->kp, n4 = b->dim & ~3;
    pk_vec a[4][PK_GROUP];
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < g; v++)
            a[r][v] = acc[r][v0 + v];
    int i = i0;
    const int e = i1 < n4 ? i1 : n4;
    for (; i < e; i += 4) {
        for (int r = 0; r < 4; r++) {
            double d = x[i + r] - b->means[i + r];
            if (med)
                d -= med[i + r];
            const pk_vec dv = pk_splat(d);
            const double *w = b->wt + (size_t)(i + r) * (size_t)kp + (size_t)(PK_LANES * v0);
            for (int v = 0; v < g; v++) {
                pk_vec wv;
                memcpy(&wv, w + PK_LANES * v, sizeof wv);
                a[r][v] += dv * wv;
            }
        }
    }
    for (; i < i1; i++) { /* the last n mod 4 features, into the first partial sum */
        double d = x[i] - b->means[i];
        if (med)
            d -= med[i];
        const pk_vec dv = pk_splat(d);
        const double *w = b->wt + (size_t)i * (size_t)kp + (size_t)(PK_LANES * v0);
        for (int v = 0; v < g; v++) {
            pk_vec wv;
            memcpy(&wv, w + PK_LANES * v, sizeof wv);
            a[0][v] += dv * wv;
        }
    }
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < g; v++)
            acc[r][v0 + v] = a[r][v];
}

/* Bank b's outputs y[f][j] for nf (1..FA_AU_BLOCK) frames x[f]. */
PK_INLINE void pk_bank(const fa_au_bank *b, int nf, const double *const *x, const double *med,
                       double (*y)[FA_MAX_BANK])
{
    pk_vec acc[FA_AU_BLOCK][4][PK_NV];
    const int nv = b->kp / PK_LANES, n = b->dim;
    memset(acc, 0, (size_t)nf * sizeof acc[0]);
    const int tile = nf == 1 ? n : PK_TILE;
    for (int i0 = 0; i0 < n; i0 += tile) {
        int i1 = n - i0 > tile ? i0 + tile : n;
        for (int f = 0; f < nf; f++) {
            for (int v0 = 0; v0 < nv; v0 += PK_GROUP) {
                int g = nv - v0 < PK_GROUP ? nv - v0 : PK_GROUP;
                if (g == 3)
                    pk_rows(b, x[f], med, i0, i1, acc[f], v0, 3);
                else if (g == 2)
                    pk_rows(b, x[f], med, i0, i1, acc[f], v0, 2);
                else
                    pk_rows(b, x[f], med, i0, i1, acc[f], v0, 1);
            }
        }
    }
    for (int f = 0; f < nf; f++) {
        double s[4][FA_MAX_BANK];
        memcpy(s, acc[f], sizeof s);
        for (int j = 0; j < b->k; j++)
            y[f][j] = ((s[0][j] + s[1][j]) + (s[2][j] + s[3][j])) + b->bias[j];
    }
}

/* Every bank's outputs y[f][bank][j] (banks with no AU are skipped); dynamic banks subtract
 * median. */
PK_INLINE void pk_banks(const fa_au_models *m, int nf, const double *const *x,
                        const double *median, double (*y)[FA_N_BANKS][FA_MAX_BANK])
{
    for (int bk = 0; bk < FA_N_BANKS; bk++) {
        const fa_au_bank *b = &m->bank[bk];
        if (!b->k)
            continue;
        int dynamic = bk == FA_BANK_SVR_DYNAMIC || bk == FA_BANK_SVM_DYNAMIC;
        double yb[FA_AU_BLOCK][FA_MAX_BANK];
        pk_bank(b, nf, x, dynamic ? median : NULL, yb);
        for (int f = 0; f < nf; f++)
            memcpy(y[f][bk], yb[f], (size_t)b->k * sizeof yb[f][0]);
    }
}

#if FA_BUILD_AVX2
/* The AVX2 twin (predict_avx2.c). */
void fa_au_banks_avx2(const fa_au_models *m, int nf, const double *const *x, const double *median,
                      double (*y)[FA_N_BANKS][FA_MAX_BANK]);
#endif

#endif
