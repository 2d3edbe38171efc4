/* test_skx_gemm.c - the summation order of OpenBLAS 0.3.21's SkylakeX small-matrix sgemm
 * (cv/skx_gemm.h) that the CLNF fit, CalcShape3D and CalcParams follow, on hand-derived cases:
 * which elements are chained and which dot-like, the two reduction trees, the 16 lanes, the
 * Hessian and the one-row product (portable and AVX2 the same bits) and fa_pdm_shape3d. Values of 2^30 and 1 make each
 * order give a different float: 2^30 + 1 rounds back to 2^30. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cv/skx_gemm.h"
#include "pdm/pdm.h"
#include "testutil.h"

#define BIG 0x1p30f

static void test_partition(void)
{
    /* M % 16 of 1..8 with K >= 32: the last M % 16 rows are dot-like */
    CHECK(fa_skx_dot_row(121, 122) == 121, "CCNF 11x11 neurons: all chained");
    CHECK(fa_skx_dot_row(81, 122) == 80, "CCNF 9x9 neurons: the last position dot-like");
    CHECK(fa_skx_dot_row(49, 122) == 48, "CCNF 7x7 neurons: the last position dot-like");
    CHECK(fa_skx_dot_row(1, 81) == 0 && fa_skx_dot_row(1, 25) == 1,
          "Sigma: dot-like from K = 32 on, chained below");
    CHECK(fa_skx_dot_row(40, 136) == 32 && fa_skx_dot_row(6, 136) == 0 &&
              fa_skx_dot_row(16, 56) == 16 && fa_skx_dot_row(6, 20) == 6,
          "Hessians: rows 32.. of 40, all 6 rigid rows; none for K < 32");
    CHECK(fa_skx_tree4(0, 4, 1, 6) == 0 && fa_skx_tree4(0, 3, 1, 6) == 1 &&
              fa_skx_tree4(4, 5, 6, 6) == 0 && fa_skx_tree4(3, 5, 6, 6) == 1,
          "REDUCE_4 for rows or columns in blocks of 4, reduce_add for the rest");
}

static void test_trees(void)
{
    /* lanes 0..3 = 2^30, 1, -2^30, 1: REDUCE_4 pairs (2^30 + 1) + (-2^30 + 1) = 0;
     * reduce_add pairs lane l with l + 8, then l + 4, then (0 + 2) + (1 + 3) = 0 + 2 = 2 */
    float l[16] = {BIG, 1, -BIG, 1};
    CHECK(fa_skx_reduce4(l) == 0.0f, "REDUCE_4 tree: %g, expected 0", fa_skx_reduce4(l));
    CHECK(fa_skx_reduce_add(l) == 2.0f, "reduce_add tree: %g, expected 2", fa_skx_reduce_add(l));
}

/* a = 2^30, -2^30, 1 at k = 0, 1, 2 and 1 at k = 16, b = ones, K = 17: lane 0 holds
 * 2^30 + 1 (k = 16, the masked tail) = 2^30, lane 1 -2^30, lane 2 1, so REDUCE_4 gives
 * (2^30 - 2^30) + (1 + 0) = 1 and reduce_add (2^30 + 1) + (-2^30 + 0) = 0; one chain in k
 * order gives 0 + 1 + 1 = 2. */
static void fill_case(float *a, size_t stride)
{
    a[0] = BIG;
    a[1 * stride] = -BIG;
    a[2 * stride] = 1;
    a[16 * stride] = 1;
}

static void test_dot(void)
{
    float a[17] = {0}, b[17];
    for (int k = 0; k < 17; k++)
        b[k] = 1;
    fill_case(a, 1);
    CHECK(fa_skx_dot(a, 1, b, 1, 17, 1) == 1.0f, "16 lanes + REDUCE_4: %g, expected 1",
          fa_skx_dot(a, 1, b, 1, 17, 1));
    CHECK(fa_skx_dot(a, 1, b, 1, 17, 0) == 0.0f, "16 lanes + reduce_add: %g, expected 0",
          fa_skx_dot(a, 1, b, 1, 17, 0));
}

/* H = Jwt J + diag(reg) with k = 40, len = 136: column 5 is chained (2), column 35 dot-like
 * (1); the diagonal gets reg added once. Then random data: portable and AVX2 the same bits. */
static void test_hessian(void)
{
    enum { K = 40, LEN = 136 };
    static float J[LEN * K], Jwt[K * LEN], H[K * K], H2[K * K];
    float reg[K] = {0};
    memset(J, 0, sizeof J);
    for (int r = 0; r < K; r++)
        for (int q = 0; q < LEN; q++)
            Jwt[r * LEN + q] = q < 17 ? 1.0f : 0.0f;
    fill_case(J + 5, K);
    fill_case(J + 35, K);
    reg[5] = 0.5f;
    fa_skx_hessian(Jwt, J, LEN, K, reg, 0, H);
    CHECK(H[39 * K + 5] == 2.0f && H[39 * K + 35] == 1.0f,
          "Hessian: chained column %g (2), dot-like column %g (1)", H[39 * K + 5], H[39 * K + 35]);
    CHECK(H[5 * K + 5] == 2.5f && H[35 * K + 35] == 1.0f, "Hessian diagonal + reg");

    const int shapes[][2] = {{40, 136}, {6, 136}, {26, 102}, {6, 56}, {20, 20}, {13, 40},
                             {37, 60},  {33, 136}, {24, 50}, {17, 32}, {9, 33}, {1, 40}};
    srand(7);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int k = shapes[s][0], len = shapes[s][1];
        for (int i = 0; i < k * len; i++) {
            J[i] = (float)rand() / RAND_MAX - 0.5f;
            Jwt[i] = (float)rand() / RAND_MAX * 4 - 2;
        }
        for (int i = 0; i < k; i++)
            reg[i] = i < 6 ? 0 : (float)i;
        fa_skx_hessian(Jwt, J, len, k, reg, 0, H);
        fa_skx_hessian(Jwt, J, len, k, reg, fa_cpu_features(), H2);
        CHECK(memcmp(H, H2, sizeof(float) * (size_t)k * (size_t)k) == 0,
              "Hessian %dx%d (len %d): portable and picked kernel differ", k, k, len);
        /* every element of the lower triangle against its definition, the rest 0 */
        const int cd = fa_skx_dot_row(k, len);
        int bad = 0;
        for (int r = 0; r < k; r++)
            for (int c = 0; c < k; c++) {
                float e;
                if (c > r) {
                    bad += H[r * k + c] != 0.0f;
                    continue;
                }
                if (c < cd) {
                    e = 0;
                    for (int q = 0; q < len; q++)
                        e = fmaf(J[q * k + c], Jwt[r * len + q], e);
                } else {
                    e = fa_skx_dot(J + c, (size_t)k, Jwt + r * len, 1, len,
                                   fa_skx_tree4(c, r, k, k));
                }
                e = e + (r == c ? reg[r] : 0.0f);
                bad += memcmp(&e, &H[r * k + c], sizeof e) != 0;
            }
        CHECK(bad == 0, "Hessian %dx%d: %d elements differ from their definition", k, k, bad);
    }
}

/* CalcShape3D with m = 34 modes: M = 1, K = 34, so dot-like; 3 rows (N & ~3 = 0), so the
 * reduce_add tree: (2^30 + 1) + (-2^30) = 0 (REDUCE_4 would give 1, a chain 2); + mean. */
static void test_shape3d(void)
{
    enum { N = 1, M = 34 };
    float mean[3 * N] = {0.25f, 0, 0}, pc[3 * N * M] = {0}, p[M], out[3 * N];
    for (int j = 0; j < M; j++)
        p[j] = 1;
    fill_case(pc, 1); /* row 0: 2^30, -2^30, 1 at modes 0..2, 1 at mode 16 (lane 0 again) */
    fa_pdm pdm = {.n = N, .m = M, .mean = mean, .pc = pc};
    fa_pdm_shape3d(&pdm, p, out);
    CHECK(out[0] == 0.25f, "shape3d row 0: %g, expected 0 + 0.25", out[0]);
    CHECK(out[1] == 0.0f && out[2] == 0.0f, "shape3d zero rows");
}

/* fa_skx_gemv_t on the fit's shapes (the CCNF Sigma products P x P, CalcShape3D K = 34) and
 * others: the picked kernel (AVX2 blocks of 32, 16 and 8 outputs) gives the portable bits, and
 * every output is its definition: a dot-like sum for K >= 32, else one chain; then + c. Some
 * products are exactly -0, which the lanes past K % 16 turn into +0. */
static void test_gemv_t(void)
{
    enum { MAXN = 225 };
    static float a[MAXN], Bt[MAXN * MAXN], cc[MAXN], o1[MAXN], o2[MAXN];
    const int shapes[][2] = {{121, 121}, {81, 81}, {49, 49}, {25, 25}, {9, 9}, {34, 204},
                             {34, 153}, {34, 84}, {40, 17}, {16, 48}, {225, 225}, {33, 100}};
    srand(11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int K = shapes[s][0], N = shapes[s][1];
        for (int k = 0; k < K; k++)
            a[k] = k % 7 == 3 ? -0.0f : (float)rand() / RAND_MAX - 0.5f;
        for (int i = 0; i < K * N; i++)
            Bt[i] = i % 5 == 1 ? 0.0f : (float)rand() / RAND_MAX * 4 - 2;
        for (int n = 0; n < N; n++)
            cc[n] = (float)rand() / RAND_MAX;
        for (int withc = 0; withc < 2; withc++) {
            const float *c = withc ? cc : NULL;
            fa_skx_gemv_t(a, Bt, K, N, c, 0, o1);
            fa_skx_gemv_t(a, Bt, K, N, c, fa_cpu_features(), o2);
            CHECK(memcmp(o1, o2, sizeof(float) * (size_t)N) == 0,
                  "gemv_t K %d N %d: portable and picked kernel differ", K, N);
            int bad = 0;
            for (int n = 0; n < N; n++) {
                float e;
                if (fa_skx_dot_row(1, K) == 0) {
                    e = fa_skx_dot(Bt + n, (size_t)N, a, 1, K, fa_skx_tree4(0, n, 1, N));
                } else {
                    e = 0;
                    for (int k = 0; k < K; k++)
                        e = fmaf(Bt[k * N + n], a[k], e);
                }
                if (c)
                    e = e + c[n];
                bad += memcmp(&e, &o2[n], sizeof e) != 0;
            }
            CHECK(bad == 0, "gemv_t K %d N %d: %d outputs differ from their definition", K, N, bad);
        }
    }
}

int main(void)
{
    test_partition();
    test_trees();
    test_dot();
    test_hessian();
    test_shape3d();
    test_gemv_t();
    return tu_done();
}
