/* test_potrf.c - cv::invert(DECOMP_CHOLESKY) of 100..127-row float matrices as OpenCV 4.6 runs
 * it through Debian 12's LAPACK (OpenBLAS 0.3.21's sposv: spotrf + two strsm, SkylakeX
 * kernels), cv/potrf.c:
 *  - hand-derived cases (dyadic values: every step exact);
 *  - values recorded from the real library: a scratch program (C++, Debian's libopencv-core
 *    4.6.0+dfsg-12 and libopenblas0-pthread 0.3.21+ds-4, OPENBLAS_CORETYPE=SkylakeX) built the
 *    matrices below with the same generator, called cv::invert(a, x, DECOMP_CHOLESKY) and
 *    printed the FNV-1a 64 hash of x's bits (row-major) and a few entries as hex floats; and
 *    the hash of all 410 window-11 Sigmas of the 0.25 general experts as OpenFace's own
 *    CCNF_patch_expert::ComputeSigmas computed them with that OpenCV (each column-major, in
 *    view-major expert order, experts without neurons skipped);
 *  - the portable and AVX2 paths give the same bits (the suite also runs with FACEAU_NO_AVX2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cv/cv.h"
#include "cv/potrf_kernels.h"
#include "landmarks/ccnf.h"
#include "testutil.h"

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float unit(uint32_t *s)
{
    return (float)lcg(s) * (1.0f / 16777216.0f);
}

/* dense: B B^T / n + 0.05 I, B uniform in [-1, 1); banded: an 11-wide grid's neighbours, as
 * the CCNF SigmaInv are (the envelope the solver skips) */
static void make_spd(float *A, int n, int banded, uint32_t seed)
{
    uint32_t s = seed;
    if (banded) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                const int d = i - j;
                float v = 0;
                if (d == 0)
                    v = 3.0f + unit(&s);
                else if ((d == 1 && i % 11) || d == 10 || d == 11 || d == 12 || d == 22)
                    v = -0.25f * unit(&s);
                A[i * n + j] = A[j * n + i] = v;
            }
        return;
    }
    float *B = malloc((size_t)n * (size_t)n * sizeof *B);
    if (!B)
        abort();
    for (int i = 0; i < n * n; i++)
        B[i] = 2.0f * unit(&s) - 1.0f;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double t = 0;
            for (int k = 0; k < n; k++)
                t += (double)B[i * n + k] * B[j * n + k];
            t = t / n + (i == j ? 0.05 : 0.0);
            A[i * n + j] = A[j * n + i] = (float)t;
        }
    free(B);
}

static uint64_t fnv_step(uint64_t h, const float *x, size_t n)
{
    const unsigned char *p = (const unsigned char *)x;
    for (size_t i = 0; i < 4 * n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define FNV0 1469598103934665603ull

static unsigned cpus[2];
static int n_cpus;

static void test_hand(void)
{
    float scratch[4 * 4 + 9 * 4], X[16];
    /* [[4,2],[2,5]]: L = [[2,0],[1,2]], inverse [[5,-2],[-2,4]] / 16 */
    const float A2[4] = {4, 2, 2, 5}, W2[4] = {0.3125f, -0.125f, -0.125f, 0.25f};
    /* diag(4, 16, 64, 1/4): powers of two throughout */
    const float A4[16] = {4, 0, 0, 0, 0, 16, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0.25f};
    for (int c = 0; c < n_cpus; c++) {
        CHECK(fa_cv_invert_potrf(A2, 2, X, 0, cpus[c], scratch) == 1, "2x2 is positive definite");
        CHECK(memcmp(X, W2, sizeof W2) == 0, "2x2 inverse %g %g %g %g", X[0], X[1], X[2], X[3]);
        CHECK(fa_cv_invert_potrf(A4, 4, X, 1, cpus[c], scratch) == 1, "diagonal");
        CHECK(X[0] == 0.25f && X[5] == 0.0625f && X[10] == 0.015625f && X[15] == 4.f &&
                  X[1] == 0 && X[4] == 0 && X[14] == 0,
              "diagonal inverse");
        /* [[1,2],[2,1]] is not positive definite: the second pivot is 1 - 4 */
        const float B2[4] = {1, 2, 2, 1};
        X[0] = 7;
        CHECK(fa_cv_invert_potrf(B2, 2, X, 0, cpus[c], scratch) == 0 && X[0] == 0 && X[3] == 0,
              "indefinite: 0 and X zeroed");
    }
}

static void test_recorded(void)
{
    static const struct {
        int banded, n;
        uint64_t hash;
        float x0, x1, xlast, x57_3;
    } cases[] = {
        {0, 100, 0x75e6c1e41d5d01b6ull, 0x1.6cdb42p+2f, 0x1.ba354ep-2f, 0x1.583b26p+2f, 0x1.3251ccp-3f},
        {0, 121, 0x9af5d8bbb98f879eull, 0x1.c499aep+2f, 0x1.bf9eb8p-2f, 0x1.98b64cp+2f, -0x1.9a19bp-6f},
        {0, 127, 0x3db8ec1fd5871300ull, 0x1.6673a2p+2f, -0x1.2799b2p-4f, 0x1.a9c78p+2f, -0x1.adbe7ep-3f},
        {1, 100, 0x2a8ccdfcbad28d02ull, 0x1.52a18ap-2f, 0x1.03c44cp-8f, 0x1.1b8366p-2f, 0x1.1a975p-15f},
        {1, 121, 0x0bfebec52a84a8deull, 0x1.537ea2p-2f, 0x1.968222p-6f, 0x1.4290ccp-2f, 0x1.ecc9p-15f},
        {1, 127, 0xde91e30996a38d04ull, 0x1.507f18p-2f, 0x1.d9297p-7f, 0x1.040184p-2f, 0x1.972e1p-13f},
    };
    enum { NMAX = 127 };
    static float A[NMAX * NMAX], X[NMAX * NMAX], Xc[NMAX * NMAX];
    float *scratch = malloc(fa_cv_invert_potrf_floats(NMAX) * sizeof *scratch);
    if (!scratch)
        abort();
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const int n = cases[t].n;
        make_spd(A, n, cases[t].banded, 12345u + (uint32_t)n);
        for (int c = 0; c < n_cpus; c++) {
            CHECK(fa_cv_invert_potrf(A, n, X, 0, cpus[c], scratch) == 1, "case %zu", t);
            const uint64_t h = fnv_step(FNV0, X, (size_t)n * (size_t)n);
            CHECK(h == cases[t].hash && X[0] == cases[t].x0 && X[1] == cases[t].x1 &&
                      X[n * n - 1] == cases[t].xlast && X[57 * n + 3] == cases[t].x57_3,
                  "%s n=%d cpu %u: hash %016llx, X[0] %a, want OpenCV+OpenBLAS's %016llx, %a",
                  cases[t].banded ? "banded" : "dense", n, cpus[c], (unsigned long long)h,
                  (double)X[0], (unsigned long long)cases[t].hash, (double)cases[t].x0);
            /* col_major: the same matrix transposed */
            fa_cv_invert_potrf(A, n, Xc, 1, cpus[c], scratch);
            int d = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    d += memcmp(&X[i * n + j], &Xc[j * n + i], sizeof *X) != 0;
            CHECK(d == 0, "col_major is the transpose (%d differ)", d);
        }
    }
    free(scratch);
}

/* OpenFace's own Sigmas (the model's window-11 SigmaInv, through fa_ccnf_prepare). */
static void test_model_sigmas(void)
{
    fa_ccnf c;
    fa_err err = {0};
    memset(&c, 0, sizeof c);
    if (fa_ccnf_load(tu_shared_path("models/patch_experts/ccnf_patches_0.25_general.txt"), &c,
                     &err)) {
        CHECK(0, "cannot load the CCNF experts: %s", err.msg);
        return;
    }
    CHECK(fa_ccnf_prepare(&c, 11, &err) == FACEAU_OK, "prepare 11: %s", err.msg);
    const int slot = fa_ccnf_slot(&c, 11);
    uint64_t h = FNV0;
    int cnt = 0;
    for (int i = 0; slot >= 0 && i < c.n_views * c.n_points; i++)
        if (c.experts[i].n_neurons) {
            h = fnv_step(h, c.experts[i].sigma[slot], 121 * 121);
            cnt++;
        }
    CHECK(cnt == 410 && h == 0x2a58ac8648fe2860ull,
          "window-11 Sigmas: %d, hash %016llx, want OpenFace's 410, 2a58ac8648fe2860", cnt,
          (unsigned long long)h);
    fa_ccnf_free(&c);
}

int main(void)
{
    cpus[n_cpus++] = 0;
    if (fa_cpu_features() & FA_CPU_AVX2)
        cpus[n_cpus++] = fa_cpu_features();
    test_hand();
    test_recorded();
    test_model_sigmas();
    return tu_done();
}
