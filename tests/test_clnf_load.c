/* test_clnf_load.c - reading OpenFace's CLNF model (landmarks/clnf.h): the shipped general model
 * with its three parts, point mappings and parameters (CLNF::Read, LandmarkDetectorParameters),
 * a fresh face's state (CLNF::Reset), and malformed main files failing with a message naming
 * what is wrong. */
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
#include "testutil.h"

static void test_general(void)
{
    fa_err err = {0};
    fa_clnf *m;
    if (fa_clnf_load(tu_shared_path("models/main_clnf_general.txt"), &m, &err)) {
        CHECK(0, "load: %s", err.msg);
        return;
    }
    const fa_pdm *pdm = fa_clnf_pdm(m);
    CHECK(pdm->n == 68 && pdm->m == 34, "main PDM %d points %d modes", pdm->n, pdm->m);
    const fa_clnf_params *P = fa_clnf_main_params(m);
    CHECK(P->n_iter == 5 && P->sigma == 1.5f && P->reg_factor == 25 && P->weight_factor == 0 &&
              P->validation_boundary == 0.725f && P->reinit_video_every == 2 &&
              P->refine_hierarchical && P->refine_parameters && P->validate,
          "main parameters");
    CHECK(P->n_windows == 4 && P->win_init[0] == 11 && P->win_init[1] == 9 && P->win_init[2] == 7 &&
              P->win_init[3] == 5 && P->win_small[0] == 0 && P->win_small[1] == 9 &&
              P->win_small[2] == 7 && P->win_small[3] == 0,
          "window sizes");
    CHECK(fa_clnf_n_parts(m) == 3, "%d parts", fa_clnf_n_parts(m));
    static const char *names[3] = {"inner", "left_eye_28", "right_eye_28"};
    static const int npts[3] = {51, 28, 28}, nmaps[3] = {51, 6, 6};
    for (int k = 0; k < 3 && k < fa_clnf_n_parts(m); k++) {
        const fa_pdm *pp;
        const fa_clnf_params *pp_par;
        int n_map;
        const int(*map)[2];
        const char *name = fa_clnf_part(m, k, &pp, &pp_par, &n_map, &map);
        CHECK(name && !strcmp(name, names[k]), "part %d is %s", k, name ? name : "(null)");
        CHECK(pp->n == npts[k] && n_map == nmaps[k], "part %d: %d points, %d mapped", k, pp->n,
              n_map);
        int ok = 1;
        for (int q = 0; q < n_map; q++) {
            if (k == 0)
                ok &= map[q][0] == 17 + q && map[q][1] == q;
            else
                ok &= map[q][0] == (k == 1 ? 36 : 42) + q && map[q][1] == 8 + 2 * q;
        }
        CHECK(ok, "part %d mapping as main_clnf_general.txt lists it", k);
        CHECK(!pp_par->validate && !pp_par->refine_hierarchical && !pp_par->refine_parameters &&
                  pp_par->n_iter == 5,
              "part %d: validation, hierarchy and refinement off", k);
        if (k == 0)
            CHECK(pp_par->n_windows == 1 && pp_par->win_init[0] == 9 && pp_par->reg_factor == 2.5f &&
                      pp_par->sigma == 1.75f && pp_par->weight_factor == 2.5f,
                  "inner parameters");
        else
            CHECK(pp_par->n_windows == 3 && pp_par->win_init[0] == 3 && pp_par->win_init[1] == 5 &&
                      pp_par->win_init[2] == 9 && pp_par->reg_factor == 0.5f &&
                      pp_par->sigma == 1.0f && pp_par->weight_factor == 0,
                  "eye parameters");
    }
    CHECK(fa_clnf_part(m, 3, NULL, NULL, NULL, NULL) == NULL, "no fourth part");

    fa_clnf_face f;
    CHECK(fa_clnf_face_init(&f, &err) == FACEAU_OK, "face init: %s", err.msg);
    CHECK(f.g[0] == 1 && f.g[1] == 0 && f.g[4] == 0 && f.p[0] == 0 && f.failures_in_a_row == -1 &&
              f.model_likelihood == -10 && f.confidence == 0 && !f.tracking_initialised &&
              !f.detection_success,
          "fresh face as CLNF::Reset leaves it");
    f.g[0] = 3;
    f.failures_in_a_row = 7;
    f.tracking_initialised = 1;
    fa_clnf_face_reset(&f);
    CHECK(f.g[0] == 1 && f.failures_in_a_row == -1 && !f.tracking_initialised && f.ws,
          "reset keeps the workspace, clears the state");
    fa_clnf_face_free(&f);
    fa_clnf_face_free(&f); /* twice is harmless */
    fa_clnf_free(m);
}

/* Writes text to dir/name and returns the path. */
static const char *write_main(const char *dir, const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_write_file(path, text, strlen(text));
    return path;
}

static void expect_fail(const char *path, faceau_status want, const char *needle, const char *what)
{
    fa_err err = {0};
    fa_clnf *m = (fa_clnf *)1;
    faceau_status st = fa_clnf_load(path, &m, &err);
    CHECK(st == want && m == NULL && strstr(err.msg, needle),
          "%s: status %d (want %d), message '%s' should name '%s'", what, (int)st, (int)want,
          err.msg, needle);
    if (st == FACEAU_OK)
        fa_clnf_free(m);
}

static void test_failures(void)
{
    const char *dir = tu_tmpdir("clnf_load");
    const char *models = tu_shared_path("models");
    char text[8192];
    expect_fail(tu_shared_path("models/no_such_main.txt"), FACEAU_ERR_IO, "no_such_main.txt",
                "missing main file");
    expect_fail(write_main(dir, "a.txt", "LandmarkDetector missing_clnf.txt\n"), FACEAU_ERR_IO,
                "missing_clnf.txt", "missing CLNF file");
    snprintf(text, sizeof text,
             "LandmarkDetector_part %s/model_inner/main_clnf_inner.txt mouth 48 0 49 1\n", models);
    expect_fail(write_main(dir, "b.txt", text), FACEAU_ERR_MODEL_CORRUPT, "mouth",
                "part OpenFace does not configure");
    snprintf(text, sizeof text,
             "LandmarkDetector_part %s/model_eye/main_clnf_synth_left.txt left_eye_28 36 -8\n",
             models);
    expect_fail(write_main(dir, "c.txt", text), FACEAU_ERR_MODEL_CORRUPT, "mapping",
                "negative mapping index");
    snprintf(text, sizeof text,
             "LandmarkDetector_part %s/model_eye/main_clnf_synth_left.txt left_eye_28 36 40\n",
             models);
    expect_fail(write_main(dir, "d.txt", text), FACEAU_ERR_MODEL_CORRUPT, "28-point",
                "mapping past the part's PDM");
    expect_fail(write_main(dir, "e.txt", "DetectionValidator nothing_here.txt\n"), FACEAU_ERR_IO,
                "nothing_here.txt", "missing validator");
    expect_fail(write_main(dir, "f.txt", "# no modules\n"), FACEAU_ERR_MODEL_CORRUPT,
                "no LandmarkDetector", "no main module");
    snprintf(text, sizeof text, "PDM %s/pdms/In-the-wild_aligned_PDM_68.txt\n", models);
    write_main(dir, "nopatch.txt", text);
    expect_fail(write_main(dir, "g.txt", "LandmarkDetector nopatch.txt\n"),
                FACEAU_ERR_MODEL_CORRUPT, "no PDM or no patch experts", "CLNF without patches");
}

/* The load's work is shared out over a pool: the model must be the same bytes for any thread
 * count and with the portable kernels. */
static void test_threads(void)
{
    const char *path = tu_shared_path("models/main_clnf_general.txt");
    uint64_t first = 0;
    for (int t = 1; t <= 3; t++) {
        fa_err err = {0};
        fa_clnf *m = NULL;
        if (fa_clnf_load_threads(path, t, &m, &err) != FACEAU_OK) {
            CHECK(0, "load on %d threads: %s", t, err.msg);
            return;
        }
        const uint64_t d = fa_clnf_digest(m);
        fa_clnf_free(m);
        if (t == 1)
            first = d;
        CHECK(d == first, "load on %d threads: digest %016llx, one thread %016llx", t,
              (unsigned long long)d, (unsigned long long)first);
    }
    const char *old = getenv("FACEAU_NO_AVX2");
    setenv("FACEAU_NO_AVX2", "1", 1);
    fa_err err = {0};
    fa_clnf *m = NULL;
    CHECK(fa_clnf_load_threads(path, 2, &m, &err) == FACEAU_OK, "portable load: %s", err.msg);
    CHECK(m && fa_clnf_digest(m) == first, "portable kernels load the same tables");
    fa_clnf_free(m);
    if (old)
        setenv("FACEAU_NO_AVX2", old, 1);
    else
        unsetenv("FACEAU_NO_AVX2");
    fa_clnf *bad = NULL;
    CHECK(fa_clnf_load_threads(path, -1, &bad, &err) == FACEAU_ERR_INVALID_ARG && !bad,
          "negative thread count refused");
}

int main(void)
{
    test_general();
    test_threads();
    test_failures();
    return tu_done();
}
