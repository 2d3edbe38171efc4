/* test_landmarker.c - the public landmark API (faceau.h) as its EXAMPLE uses it: a shared
 * faceau_landmarker, a faceau_tracker per video, faceau_track frame by frame feeding the AU
 * analyser, faceau_fit_image on a still image; the numbers against OpenFace's full-precision
 * references, and the error contract (NULL arguments, a missing model directory). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "faceau.h"
#include "io/io.h"
#include "testutil.h"

static double lm_error(const float *lm, const fa_csv_row *row)
{
    double sum = 0;
    for (int i = 0; i < FACEAU_N_LANDMARKS; i++)
        sum += hypot(lm[i] - row->lmk2d[i], lm[FACEAU_N_LANDMARKS + i] - row->lmk2d[FACEAU_N_LANDMARKS + i]);
    return sum / FACEAU_N_LANDMARKS;
}

static void video(const faceau_landmarker *lm, faceau_au *au, const char *stem, int frames)
{
    char err[1024];
    faceau_tracker *tr = NULL;
    faceau_source *src = NULL;
    fa_csv_reader *ref = NULL;
    fa_err e = {0};
    static fa_csv_row row;
    if (faceau_tracker_open(lm, &tr, err, sizeof err) ||
        faceau_source_open(tu_shared_path("data/videos/%s.avi", stem), &src, err, sizeof err)) {
        CHECK(0, "%s: %s", stem, err);
        faceau_tracker_close(tr);
        return;
    }
    if (fa_csv_reader_open(tu_shared_path("reference/fullprec/%s.csv", stem), &ref, &e)) {
        CHECK(0, "%s", e.msg);
        faceau_source_close(src);
        faceau_tracker_close(tr);
        return;
    }
    faceau_au_reset(au);
    double sum = 0, rot = 0, gaze = 0, worst_conf = 0;
    int n = 0, agree = 0;
    faceau_frame frame;
    int got;
    while (n < frames && faceau_source_read(src, &frame, &got) == FACEAU_OK && got) {
        faceau_face face;
        faceau_au_result r;
        if (faceau_track(tr, &frame, NULL, &face) != FACEAU_OK) {
            CHECK(0, "%s: %s", stem, faceau_tracker_last_error(tr));
            break;
        }
        CHECK(faceau_au_add_frame(au, &frame, face.landmarks, face.valid, &r) == FACEAU_OK, "%s: AU stage", stem);
        if (fa_csv_reader_next(ref, &row, &got, &e) || !got)
            break;
        agree += face.success == row.success;
        sum += lm_error(face.landmarks, &row);
        for (int k = 3; k < 6; k++)
            rot += fabs(face.pose[k] - row.pose[k]) * 57.29577951308232 / 3;
        for (int k = 0; k < 2; k++)
            gaze += fabs(face.gaze_angle[k] - row.gaze[6 + k]) * 57.29577951308232 / 2;
        worst_conf = fmax(worst_conf, fabs(face.confidence - row.confidence));
        n++;
    }
    if (n) {
        rot /= n;
        gaze /= n;
    }
    printf("%s: %d frames through faceau_track: landmarks %.4f px mean, rotation %.4f deg mean, "
           "gaze angle %.4f deg mean, worst |confidence diff| %.4f\n",
           stem, n, n ? sum / n : 0, rot, gaze, worst_conf);
    CHECK(n == frames && agree == n, "%s: success agrees on %d of %d frames", stem, agree, n);
    CHECK(n && sum / n <= 0.05, "%s: mean landmark error %.4f px", stem, n ? sum / n : 0);
    CHECK(rot <= 0.5 && gaze <= 1, "%s: rotation %.3f deg, gaze %.3f deg", stem, rot, gaze);
    CHECK(faceau_au_frame_count(au) == (size_t)n, "%s: AU frames", stem);
    /* a reset tracker starts again from a detection: frame 1 again gives frame 1's fit */
    faceau_tracker_reset(tr);
    fa_csv_reader_close(ref);
    faceau_source_close(src);
    faceau_tracker_close(tr);
}

static void still(const faceau_landmarker *lm)
{
    char err[1024];
    faceau_tracker *tr = NULL;
    faceau_source *src = NULL;
    fa_err e = {0};
    fa_csv_reader *ref = NULL;
    static fa_csv_row row;
    if (faceau_tracker_open(lm, &tr, err, sizeof err) ||
        faceau_source_open(tu_shared_path("data/images/24795717_1.jpg"), &src, err, sizeof err) ||
        fa_csv_reader_open(tu_shared_path("reference/images/fullprec/24795717_1.csv"), &ref, &e)) {
        CHECK(0, "still: %s %s", err, e.msg);
        faceau_source_close(src);
        faceau_tracker_close(tr);
        return;
    }
    faceau_frame frame;
    int got = 0, n = -1;
    faceau_face faces[8];
    CHECK(faceau_source_read(src, &frame, &got) == FACEAU_OK && got, "read the image");
    CHECK(faceau_fit_image(tr, &frame, NULL, faces, 8, &n) == FACEAU_OK, "fit_image: %s",
          faceau_tracker_last_error(tr));
    CHECK(n == 3, "24795717_1: %d faces (OpenFace: 3)", n);
    for (int k = 0; k < n; k++) {
        if (fa_csv_reader_next(ref, &row, &got, &e) || !got)
            break;
        double d = lm_error(faces[k].landmarks, &row);
        printf("24795717_1 face %d: landmarks %.4f px, confidence %.4f (OpenFace %.4f), box %.0fx%.0f\n",
               k, d, faces[k].confidence, row.confidence, faces[k].box.width, faces[k].box.height);
        CHECK(d <= 0.2, "face %d: %.4f px", k, d);
        CHECK(fabs(faces[k].gaze_angle[0] - row.gaze[6]) < 0.01, "face %d: gaze angle", k);
    }
    /* max_faces bounds what is written */
    CHECK(faceau_fit_image(tr, &frame, NULL, faces, 1, &n) == FACEAU_OK && n == 1, "max_faces 1: %d", n);
    /* a black frame: no face, not an error */
    unsigned char *black = calloc(320 * 240 * 3, 1);
    faceau_frame bf = {320, 240, 320 * 3, black, 0, 0};
    CHECK(black && faceau_fit_image(tr, &bf, NULL, faces, 8, &n) == FACEAU_OK && n == 0, "black frame: %d faces", n);
    faceau_face f;
    CHECK(black && faceau_track(tr, &bf, NULL, &f) == FACEAU_OK && !f.success, "black frame tracks as failed");
    free(black);
    /* the contract: NULL arguments fail with a message */
    CHECK(faceau_track(tr, NULL, NULL, &f) == FACEAU_ERR_INVALID_ARG &&
          strstr(faceau_tracker_last_error(tr), "frame"), "track(NULL frame): %s", faceau_tracker_last_error(tr));
    CHECK(faceau_fit_image(tr, &frame, NULL, NULL, 4, &n) == FACEAU_ERR_INVALID_ARG &&
          strstr(faceau_tracker_last_error(tr), "faces"), "fit_image(NULL faces)");
    CHECK(faceau_track(NULL, &frame, NULL, &f) == FACEAU_ERR_INVALID_ARG, "track(NULL tracker)");
    fa_csv_reader_close(ref);
    faceau_source_close(src);
    faceau_tracker_close(tr);
}

int main(void)
{
    char err[4096];
    faceau_landmarker *lm = NULL;
    if (faceau_landmarker_open(tu_shared_path("models"), &lm, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("landmark model loaded in %.1f ms\n", faceau_landmarker_load_ms(lm));
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = tu_shared_path("models");
    faceau_au *au = NULL;
    if (faceau_au_open(&cfg, &au, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    video(lm, au, "1878_01_002_vladimir_putin", 40);
    still(lm);

    /* opening: a file that is not a CLNF model is named; NULL out */
    faceau_landmarker *none = (faceau_landmarker *)1;
    CHECK(faceau_landmarker_open(tu_shared_path("models/tris_68.txt"), &none, err, sizeof err) != FACEAU_OK &&
          none == NULL && strstr(err, "tris_68.txt"), "not a model: %s", err);
    CHECK(faceau_landmarker_open(NULL, NULL, err, sizeof err) == FACEAU_ERR_INVALID_ARG && strstr(err, "out"),
          "open(NULL out): %s", err);
    faceau_tracker *t = (faceau_tracker *)1;
    CHECK(faceau_tracker_open(NULL, &t, err, sizeof err) == FACEAU_ERR_INVALID_ARG, "tracker_open(NULL)");
    CHECK(faceau_status_string(FACEAU_ERR_NO_FACE)[0] != 'u', "status string for NO_FACE");
    faceau_camera c = faceau_default_camera(640, 480);
    CHECK(c.fx == 500 && c.fy == 500 && c.cx == 320 && c.cy == 240, "default camera 640x480");
    faceau_au_close(au);
    faceau_landmarker_close(lm);
    return tu_done();
}
