/* test_api.c - the public API end to end: a whole video through faceau_source and the AU
 * stage, post-processed by faceau_au_finish, against OpenFace's 6-decimal AU columns; and the
 * calls' argument and order checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *NAME = "1815_01_008_tony_blair";

static void test_video_against_openface(void)
{
    char err[4096];
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = tu_shared_path("models");
    faceau_au *au;
    CHECK(faceau_au_open(&cfg, &au, err, sizeof err) == FACEAU_OK, "open: %s", err);
    /* a second analyser that leaves the frames finish predicts again to finish */
    faceau_au *deferred;
    CHECK(faceau_au_open(&cfg, &deferred, err, sizeof err) == FACEAU_OK, "open: %s", err);
    fa_analyser_defer_repredicted(deferred, 1);
    int deferred_nonzero = 0;
    faceau_source *src;
    CHECK(faceau_source_open(tu_shared_path("data/videos/%s.avi", NAME), &src, err, sizeof err) == FACEAU_OK,
          "source: %s", err);
    CHECK(faceau_source_fps(src) == 25.0, "fps %g", faceau_source_fps(src));
    tu_csv ref;
    CHECK(tu_csv_load(tu_shared_path("reference/fullprec/%s.csv", NAME), &ref) == 0, "reference");
    int cx = tu_csv_col(&ref, "x_0"), cy = tu_csv_col(&ref, "y_0"), cs = tu_csv_col(&ref, "success");
    int ct = tu_csv_col(&ref, "timestamp"), cr = tu_csv_col(&ref, "AU01_r"), cc = tu_csv_col(&ref, "AU01_c");
    faceau_frame f;
    int got, n = 0, bad_ts = 0;
    faceau_au_result res;
    while (faceau_source_read(src, &f, &got) == FACEAU_OK && got && n < ref.nrows) {
        float lm[136];
        for (int i = 0; i < 68; i++) {
            lm[i] = (float)tu_csv_at(&ref, n, cx + i);
            lm[68 + i] = (float)tu_csv_at(&ref, n, cy + i);
        }
        /* timestamps as OpenFace prints them (3 decimals) */
        if (fabs(f.timestamp - tu_csv_at(&ref, n, ct)) > 0.0005 + 1e-9)
            bad_ts++;
        CHECK(faceau_au_add_frame(au, &f, lm, (int)tu_csv_at(&ref, n, cs), &res) == FACEAU_OK, "frame %d", n);
        faceau_au_result dres;
        CHECK(faceau_au_add_frame(deferred, &f, lm, (int)tu_csv_at(&ref, n, cs), &dres) == FACEAU_OK,
              "frame %d (deferred)", n);
        for (int a = 0; a < 17; a++)
            deferred_nonzero += dres.au_intensity[a] != 0;
        n++;
    }
    CHECK(n == ref.nrows && faceau_au_frame_count(au) == (size_t)n, "%d frames, reference %d", n, ref.nrows);
    CHECK(bad_ts == 0, "%d timestamps differ", bad_ts);
    double *I = malloc((size_t)n * 17 * sizeof *I), *P = malloc((size_t)n * 18 * sizeof *P);
    CHECK(faceau_au_finish(au, I, P, (size_t)n - 1) == FACEAU_ERR_INVALID_ARG, "wrong n refused");
    CHECK(faceau_au_finish(au, I, P, (size_t)n) == FACEAU_OK, "finish: %s", faceau_au_last_error(au));
    double worst = 0;
    int presence_diff = 0;
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < 17; a++)
            worst = fmax(worst, fabs(I[i * 17 + a] - tu_csv_at(&ref, i, cr + a)));
        for (int a = 0; a < 18; a++)
            presence_diff += P[i * 18 + a] != tu_csv_at(&ref, i, cc + a);
    }
    /* the reference prints 6 decimals; OpenCV's and our sums round differently at ~1e-6 */
    CHECK(worst <= 1e-5, "worst AU intensity difference %.3g", worst);
    CHECK(presence_diff == 0, "%d presence values differ", presence_diff);
    printf("%s: %d frames, worst AU intensity difference %.2g, presence differences %d\n", NAME, n, worst,
           presence_diff);
    /* deferred: 0 per frame, then finish's values bit for bit (repredict's blocks of frames) */
    double *DI = malloc((size_t)n * 17 * sizeof *DI), *DP = malloc((size_t)n * 18 * sizeof *DP);
    CHECK(deferred_nonzero == 0, "%d deferred per-frame intensities are not 0", deferred_nonzero);
    CHECK(faceau_au_finish(deferred, DI, DP, (size_t)n) == FACEAU_OK, "finish: %s", faceau_au_last_error(deferred));
    CHECK(memcmp(DI, I, (size_t)n * 17 * sizeof *I) == 0 && memcmp(DP, P, (size_t)n * 18 * sizeof *P) == 0,
          "deferred predictions differ after finish");
    free(DI);
    free(DP);
    faceau_au_close(deferred);
    /* faceau_run's post-processing in place on the analyser's history: the same numbers, and
     * no faceau_au_finish after it (the history is overwritten) until reset */
    const double *Ii, *Pi;
    size_t ni = 0;
    CHECK(fa_analyser_finish_in_place(au, &Ii, &Pi, &ni) == FACEAU_OK && ni == (size_t)n,
          "finish in place: %s", faceau_au_last_error(au));
    CHECK(memcmp(Ii, I, (size_t)n * 17 * sizeof *I) == 0 && memcmp(Pi, P, (size_t)n * 18 * sizeof *P) == 0,
          "in place differs from faceau_au_finish");
    CHECK(faceau_au_finish(au, I, P, (size_t)n) == FACEAU_ERR_STATE, "finish after in place refused");
    /* order: no frame after finish until reset */
    CHECK(faceau_au_add_frame(au, &f, (float[136]){0}, 1, &res) == FACEAU_ERR_STATE &&
              strstr(faceau_au_last_error(au), "reset"),
          "add after finish: %s", faceau_au_last_error(au));
    faceau_au_reset(au);
    CHECK(faceau_au_frame_count(au) == 0, "reset empties");
    faceau_frame bad = f;
    bad.stride = 2;
    CHECK(faceau_au_add_frame(au, &bad, (float[136]){0}, 1, &res) == FACEAU_ERR_INVALID_ARG, "bad stride");
    CHECK(faceau_au_add_frame(NULL, &f, (float[136]){0}, 1, &res) == FACEAU_ERR_INVALID_ARG, "NULL au");
    /* a failed frame: zeros, and the aligned face is black */
    CHECK(faceau_au_add_frame(au, &f, (float[136]){0}, 0, &res) == FACEAU_OK && res.au_intensity[0] == 0 &&
              res.au_presence[0] == 0,
          "failed frame");
    unsigned char face[112 * 112 * 3];
    faceau_au_last_features(au, face, NULL);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof face; i++)
        nonzero += face[i] != 0;
    CHECK(nonzero == 0, "failed frame's aligned face has %d non-zero bytes", nonzero);
    free(I);
    free(P);
    tu_csv_free(&ref);
    faceau_source_close(src);
    faceau_au_close(au);
}

static void test_open_errors(void)
{
    char err[4096];
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = "/nonexistent/models";
    faceau_au *au = (faceau_au *)&cfg;
    setenv("FACEAU_MODELS", "/nonexistent/env", 1);
    setenv("XDG_DATA_HOME", "/nonexistent/xdg", 1);
    CHECK(faceau_au_open(&cfg, &au, err, sizeof err) == FACEAU_ERR_MODEL_NOT_FOUND && au == NULL &&
              strstr(err, "/nonexistent/models") && strstr(err, "/nonexistent/env"),
          "no models: %s", err);
    faceau_source *src;
    CHECK(faceau_source_open("/nonexistent.avi", &src, err, sizeof err) == FACEAU_ERR_IO && strstr(err, "/nonexistent.avi"),
          "missing video: %s", err);
    CHECK(faceau_source_open(NULL, &src, err, sizeof err) == FACEAU_ERR_INVALID_ARG, "NULL path");
    float k[4];
    faceau_default_intrinsics(640, 480, k);
    CHECK(k[0] == 500 && k[1] == 500 && k[2] == 320 && k[3] == 240, "intrinsics 640x480");
    faceau_default_intrinsics(320, 240, k);
    CHECK(k[0] == 250 && k[2] == 160, "intrinsics 320x240");
    CHECK(!strcmp(faceau_au_intensity_name(16), "AU45") && !strcmp(faceau_au_presence_name(16), "AU28") &&
              faceau_au_intensity_name(17) == NULL,
          "names");
}

/* Online mode: each frame's values are final when added, so nothing is kept for the end (a
 * live or endless input runs in constant memory) and faceau_au_finish takes n = 0 only. */
static void test_online_keeps_nothing(void)
{
    char err[4096];
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = tu_shared_path("models");
    cfg.online = 1;
    faceau_au *au;
    CHECK(faceau_au_open(&cfg, &au, err, sizeof err) == FACEAU_OK, "open: %s", err);
    faceau_source *src;
    CHECK(faceau_source_open(tu_shared_path("data/videos/%s.avi", NAME), &src, err, sizeof err) == FACEAU_OK,
          "source: %s", err);
    tu_csv ref;
    CHECK(tu_csv_load(tu_shared_path("reference/fullprec/%s.csv", NAME), &ref) == 0, "reference");
    int cx = tu_csv_col(&ref, "x_0"), cy = tu_csv_col(&ref, "y_0");
    faceau_frame f;
    faceau_au_result res;
    int got, n = 0, nonzero = 0;
    while (n < 20 && faceau_source_read(src, &f, &got) == FACEAU_OK && got) {
        float lm[136];
        for (int i = 0; i < 68; i++) {
            lm[i] = (float)tu_csv_at(&ref, n, cx + i);
            lm[68 + i] = (float)tu_csv_at(&ref, n, cy + i);
        }
        CHECK(faceau_au_add_frame(au, &f, lm, 1, &res) == FACEAU_OK, "frame %d: %s", n, faceau_au_last_error(au));
        for (int a = 0; a < 17; a++)
            nonzero += res.au_intensity[a] != 0;
        n++;
    }
    CHECK(n == 20 && nonzero > 0, "%d frames, %d non-zero intensities", n, nonzero);
    CHECK(faceau_au_frame_count(au) == 0, "online keeps %zu frames", faceau_au_frame_count(au));
    double I[17], P[18];
    CHECK(faceau_au_finish(au, I, P, 1) == FACEAU_ERR_INVALID_ARG && strstr(faceau_au_last_error(au), "online"),
          "finish(n = 1) online: %s", faceau_au_last_error(au));
    CHECK(faceau_au_finish(au, NULL, NULL, 0) == FACEAU_OK, "finish(n = 0): %s", faceau_au_last_error(au));
    tu_csv_free(&ref);
    faceau_source_close(src);
    faceau_au_close(au);
}

int main(void)
{
    test_video_against_openface();
    test_online_keeps_nothing();
    test_open_errors();
    return tu_done();
}
