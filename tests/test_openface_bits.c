/* test_openface_bits.c - values computed by OpenFace 2.0.2's own code (CCNF_patch_expert.cpp,
 * PDM.cpp) built against Debian 12's OpenCV 4.6 and OpenBLAS 0.3.21 with OPENBLAS_CORETYPE=
 * SkylakeX (the configuration the reference CSVs match), recorded as hex floats, and faceau's
 * results compared bit for bit:
 *  - CCNF_patch_expert::ResponseOpenBlas of view 0, landmark 30 of the 0.25 general experts at
 *    windows 9 and 7 on a fixed synthetic area (im2col, the neurons sgemm_ with its dot-like last
 *    position, the Sigma sgemm_; Sigma from CholImpl, as OpenCV inverts matrices under 100 rows);
 *  - PDM::CalcParams from the first frame's landmarks of tony_blair's fullprec reference, and
 *    CalcShape3D (sgemm_) of the result.
 * The portable and AVX2 paths must both give these bits (CI runs the suite both ways). */
#include <string.h>

#include "landmarks/ccnf.h"
#include "pdm/pdm.h"
#include "testutil.h"

static const float RESP9[81] = {0x1.1b8094p-13, 0x1.f46968p-12, 0x1.b6f59p-17, 0x0p+0, 0x1.20f3dap-14, 0x1.4d945cp-14, 0x1.15e288p-14, 0x1.55525ap-11, 0x1.b874e6p-10, 0x1.4b422p-14, 0x1.34830cp-14, 0x1.4c6bcap-13, 0x1.14f60ap-13, 0x1.463c68p-13, 0x1.d070eap-14, 0x1.3d3d4cp-14, 0x1.ebcf52p-14, 0x1.661598p-13, 0x1.9f403p-15, 0x1.52a186p-14, 0x1.68a9e4p-14, 0x1.3de6d6p-11, 0x1.9885b6p-10, 0x1.42d8p-13, 0x1.2dbf12p-14, 0x1.f1fb58p-15, 0x1.0dd004p-14, 0x1.4ddfd4p-15, 0x1.ebc1e8p-15, 0x1.334bdep-14, 0x1.224212p-13, 0x1.3ba52ep-12, 0x1.1478a6p-11, 0x1.681cb6p-14, 0x1.12046p-14, 0x1.233bacp-14, 0x1.d0e026p-14, 0x1.c824e4p-14, 0x1.365724p-14, 0x1.143684p-14, 0x1.d316aap-14, 0x1.7d618p-14, 0x1.92807cp-13, 0x1.6e2808p-13, 0x1.7df4b8p-13, 0x1.759ce6p-12, 0x1.8a95c4p-11, 0x1.53e98cp-14, 0x1.1dd9f4p-15, 0x1.21196ep-14, 0x1.5e407cp-14, 0x1.28a43p-14, 0x1.421a9ap-11, 0x1.aefcf6p-10, 0x1.79c672p-14, 0x1.daf65cp-14, 0x1.a43e96p-11, 0x1.a98758p-13, 0x1.295c6p-13, 0x1.68d4e2p-14, 0x1.27f924p-14, 0x1.92a07p-14, 0x1.103a94p-13, 0x1.9c013ep-15, 0x1.51e2c8p-14, 0x1.793494p-13, 0x1.a4952ap-10, 0x1.73ae42p-11, 0x1.14c3f8p-13, 0x1.1f2b46p-14, 0x1.c4fe94p-15, 0x1.d80bap-15, 0x1.03bdc6p-15, 0x1.c8ffdcp-15, 0x1.c0f8acp-14, 0x1.6f0d18p-13, 0x1.56dc34p-11, 0x1.23ccep-11, 0x1.3e8d3p-14, 0x1.a05336p-15, 0x1.d5d4e6p-15};
static const float RESP7[49] = {0x1.0848f2p-16, 0x1.2c49cp-17, 0x1.79990ep-14, 0x1.78d4aap-12, 0x1.bf61e4p-14, 0x1.0102ccp-16, 0x1.2b73e8p-14, 0x1.23e5d2p-15, 0x1.13b9e8p-17, 0x1.ffcf36p-14, 0x1.f43d26p-10, 0x1.0a82b4p-13, 0x1.a3a7fap-16, 0x1.425c98p-17, 0x1.58e68ep-15, 0x1.007ad2p-16, 0x1.aa177p-14, 0x1.95b024p-12, 0x1.c2d9a6p-14, 0x1.0518c4p-16, 0x1.0c92b8p-14, 0x1.2bcf58p-16, 0x1.9d3fccp-16, 0x1.89965ap-15, 0x1.6b9accp-12, 0x1.72664p-15, 0x1.035abcp-16, 0x1.e20306p-17, 0x1.3491p-13, 0x1.67ad4p-16, 0x1.4064d8p-14, 0x1.d438fap-13, 0x1.59d404p-15, 0x1.302662p-17, 0x1.6aab32p-14, 0x1.3b2934p-15, 0x1.ef61aap-16, 0x1.ca932ep-16, 0x1.19b2e8p-15, 0x1.467244p-16, 0x1.9b647ap-16, 0x1.75333ep-15, 0x1.ce99ap-17, 0x1.818e6ap-17, 0x1.398804p-15, 0x1.d34e62p-13, 0x1.3b5e2ep-16, 0x1.09d328p-15, 0x1.312868p-11};
static const float CP_G[6] = {0x1.28c79cp-1, 0x1.7d3198p-4, -0x1.5e5c8ep-5, 0x1.0e198ap-6, 0x1.5950f6p+7, 0x1.d5b56p+6};
static const float CP_P[34] = {0x1.d7e536p+2, 0x1.00175ap+2, -0x1.40afa2p+0, -0x1.1d378cp-5, -0x1.063fb2p+3, 0x1.0dd07cp+3, -0x1.cb8104p-1, -0x1.409edcp-1, 0x1.319074p+0, -0x1.2749c4p-1, -0x1.e3a85ep+0, -0x1.b21cd2p-4, -0x1.25338p+1, -0x1.993508p-3, 0x1.056a04p-2, -0x1.9e03eep-6, -0x1.665384p-3, 0x1.d7d698p-1, 0x1.6d3cep-4, -0x1.003456p+0, -0x1.1057p-2, -0x1.e65482p-3, -0x1.af7196p-6, 0x1.a641d4p-7, -0x1.02ddcap-7, -0x1.43f74ep-5, -0x1.b05ab8p-3, -0x1.a03af6p-6, -0x1.62fcbcp-7, -0x1.8dab9p-7, -0x1.81da02p-9, -0x1.eae3b2p-7, -0x1.49ae2ep-6, -0x1.990ae2p-6};
static const float SHAPE3D_HEAD[6] = {-0x1.24395ep+6, -0x1.21b9d8p+6, -0x1.18ea78p+6, -0x1.0b612ep+6, -0x1.e06ffap+5, -0x1.871daep+5};

static int same_bits(const float *a, const float *b, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++)
        d += memcmp(a + i, b + i, sizeof *a) != 0;
    return d;
}

static void test_ccnf(void)
{
    fa_ccnf c;
    fa_err err = {0};
    memset(&c, 0, sizeof c);
    if (fa_ccnf_load(tu_shared_path("models/patch_experts/ccnf_patches_0.25_general.txt"), &c,
                     &err)) {
        CHECK(0, "cannot load the CCNF experts: %s", err.msg);
        return;
    }
    const float *want[2] = {RESP9, RESP7};
    const int windows[2] = {9, 7};
    static float area[19 * 19], scratch[1 << 16], out[81];
    for (int t = 0; t < 2; t++) {
        const int window = windows[t];
        CHECK(fa_ccnf_prepare(&c, window, &err) == FACEAU_OK, "prepare %d: %s", window, err.msg);
        const fa_ccnf_expert *e = &c.experts[30];
        const int A = window + e->width - 1;
        for (int i = 0; i < A * A; i++)
            area[i] = (float)((i * 37) % 251) + 0.25f * (float)(i % 3);
        CHECK(fa_ccnf_scratch_floats(window, e->width, e->height) <= sizeof scratch / sizeof *scratch,
              "scratch");
        fa_ccnf_landmark_response(e, e->sigma[fa_ccnf_slot(&c, window)], area, A, window, scratch,
                                  out);
        const int d = same_bits(out, want[t], window * window);
        CHECK(d == 0, "window %d response: %d of %d cells differ from OpenFace's", window, d,
              window * window);
    }
    fa_ccnf_free(&c);
}

static void test_calc_params(void)
{
    fa_pdm pdm;
    fa_err err = {0};
    tu_csv csv;
    if (fa_pdm_load(tu_shared_path("models/pdms/In-the-wild_aligned_PDM_68.txt"), &pdm, &err) ||
        tu_csv_load(tu_shared_path("reference/fullprec/1815_01_008_tony_blair.csv"), &csv)) {
        CHECK(0, "cannot load the PDM or the reference CSV");
        return;
    }
    float lm[136], g[6], p[34], S[204];
    const int x0 = tu_csv_col(&csv, "x_0");
    for (int i = 0; i < 136; i++)
        lm[i] = (float)tu_csv_at(&csv, 0, x0 + i);
    fa_pdm_calc_params(&pdm, lm, g, p);
    CHECK(same_bits(g, CP_G, 6) == 0 && same_bits(p, CP_P, 34) == 0,
          "CalcParams differs from OpenFace's: %d global, %d local", same_bits(g, CP_G, 6),
          same_bits(p, CP_P, 34));
    fa_pdm_shape3d(&pdm, CP_P, S);
    CHECK(same_bits(S, SHAPE3D_HEAD, 6) == 0, "CalcShape3D differs from OpenFace's");
    tu_csv_free(&csv);
    fa_pdm_free(&pdm);
}

int main(void)
{
    test_ccnf();
    test_calc_params();
    return tu_done();
}
