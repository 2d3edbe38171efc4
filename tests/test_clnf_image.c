/* test_clnf_image.c - landmarks in still images as FaceLandmarkImg runs them: MTCNN's boxes, then
 * for each face DetectLandmarksInImage with the default parameters (multi_view off: the single
 * (0, 0, 0) hypothesis, init windows), against OpenFace's own landmarks and confidence
 * (reference/images/fullprec/<image>.csv, one row per face in detection order). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
#include "landmarks/pdm_fit.h"
#include "testutil.h"

static void run_image(const fa_clnf *m, fa_mtcnn *mtcnn, fa_clnf_face *face, const char *stem)
{
    fa_err err = {0};
    fa_image img = {0};
    fa_grey grey = {0};
    fa_csv_reader *csv = NULL;
    static fa_csv_row row;
    faceau_box boxes[32];
    int nb = 0;
    if (fa_image_read(tu_shared_path("data/images/%s.jpg", stem), &img, &err) ||
        fa_grey_from_bgr(&img, &grey, &err) ||
        fa_mtcnn_detect(mtcnn, &img, boxes, 32, &nb, &err) ||
        fa_csv_reader_open(tu_shared_path("reference/images/fullprec/%s.csv", stem), &csv, &err)) {
        CHECK(0, "%s: %s", stem, err.msg);
        fa_image_free(&img);
        fa_grey_free(&grey);
        return;
    }
    int n = fa_clnf_pdm(m)->n;
    for (int k = 0; k < nb; k++) {
        int got, ok;
        if (fa_csv_reader_next(csv, &row, &got, &err) || !got) {
            CHECK(0, "%s: no reference row for face %d", stem, k);
            break;
        }
        float box[4] = {boxes[k].x, boxes[k].y, boxes[k].width, boxes[k].height};
        fa_clnf_face_reset(face);
        if (fa_clnf_detect_image(m, face, &grey, box, 0, &ok, &err)) {
            CHECK(0, "%s: %s", stem, err.msg);
            break;
        }
        double sum = 0, max = 0;
        for (int i = 0; i < n; i++) {
            double dx = face->landmarks[i] - row.lmk2d[i], dy = face->landmarks[i + n] - row.lmk2d[i + n];
            double e = sqrt(dx * dx + dy * dy);
            sum += e;
            if (e > max)
                max = e;
        }
        printf("%s face %d: landmark error mean %.4f px, max %.4f px; confidence %.6f (OpenFace "
               "%.6f)\n",
               stem, k, sum / n, max, face->confidence, row.confidence);
        CHECK(sum / n <= 0.2, "%s face %d: mean error %.4f px", stem, k, sum / n);
        CHECK(fabs(face->confidence - row.confidence) < 1e-3, "%s face %d: confidence %g vs %g",
              stem, k, face->confidence, row.confidence);
    }
    fa_csv_reader_close(csv);
    fa_image_free(&img);
    fa_grey_free(&grey);
}

/* DetectLandmarksInImage's loop as OpenFace writes it: the 11 hypotheses in order, each
 * DetectLandmarks from p = 0 and CalcParams(box, rotation), the best likelihood kept (the first
 * of equals). fa_clnf_detect_image runs them grouped by view with their first responses in one
 * batch; every field must come out the same. */
static void reference_detect(const fa_clnf *m, fa_clnf_face *f, const fa_grey *grey,
                             const float box[4], int *success)
{
    static const float rots[11][3] = {
        {0, 0, 0},       {0, -0.5236f, 0}, {0, 0.5236f, 0}, {0, -0.96f, 0},       {0, 0.96f, 0},
        {0, 0, 0.5236f}, {0, 0, -0.5236f}, {0, -1.57f, 0},  {0, 1.57f, 0},        {0, -1.22f, 0.698f},
        {0, 1.22f, -0.698f}};
    static fa_clnf_face best;
    int best_ok = 0;
    fa_err err = {0};
    for (int h = 0; h < 11; h++) {
        memset(f->p, 0, sizeof f->p);
        memset(f->part_p, 0, sizeof f->part_p);
        fa_pdm_params_from_box(fa_clnf_pdm(m), box, f->p, rots[h], f->g);
        int ok;
        if (fa_clnf_detect_landmarks(m, f, grey, fa_clnf_main_params(m)->win_init, &ok, &err)) {
            CHECK(0, "reference hypothesis %d: %s", h, err.msg);
            return;
        }
        if (h == 0 || best.model_likelihood < f->model_likelihood) {
            best = *f;
            best_ok = ok;
        }
    }
    *f = best;
    f->detection_success = *success = best_ok;
}

/* The multi-view detection against the reference loop, bit for bit, on every MTCNN face of
 * two images, with one thread and with two (the batch's jobs then split). */
static void test_multi_view(const fa_clnf *m, fa_mtcnn *mtcnn)
{
    const char *stems[2] = {"24795717_1", "child2"};
    fa_err err = {0};
    fa_clnf_face a, b;
    if (fa_clnf_face_init(&a, &err) || fa_clnf_face_init(&b, &err)) {
        CHECK(0, "faces: %s", err.msg);
        return;
    }
    int compared = 0;
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(fa_clnf_face_set_threads(&a, threads, &err) == FACEAU_OK, "threads: %s", err.msg);
        for (int s = 0; s < 2; s++) {
            fa_image img = {0};
            fa_grey grey = {0};
            faceau_box boxes[8];
            int nb = 0;
            if (fa_image_read(tu_shared_path("data/images/%s.jpg", stems[s]), &img, &err) ||
                fa_grey_from_bgr(&img, &grey, &err) ||
                fa_mtcnn_detect(mtcnn, &img, boxes, 8, &nb, &err)) {
                CHECK(0, "%s: %s", stems[s], err.msg);
                nb = 0;
            }
            for (int k = 0; k < nb; k++) {
                const float box[4] = {boxes[k].x, boxes[k].y, boxes[k].width, boxes[k].height};
                int ok_a = -1, ok_b = -2;
                fa_clnf_face_reset(&a);
                fa_clnf_face_reset(&b);
                CHECK(fa_clnf_detect_image(m, &a, &grey, box, 1, &ok_a, &err) == FACEAU_OK,
                      "%s: %s", stems[s], err.msg);
                reference_detect(m, &b, &grey, box, &ok_b);
                CHECK(ok_a == ok_b && memcmp(&a, &b, offsetof(fa_clnf_face, ws)) == 0,
                      "%s face %d, %d threads: multi-view detection differs from the loop in order",
                      stems[s], k, threads);
                compared++;
            }
            fa_image_free(&img);
            fa_grey_free(&grey);
        }
    }
    CHECK(compared >= 4, "only %d multi-view detections compared", compared);
    fa_clnf_face_free(&a);
    fa_clnf_face_free(&b);
}

int main(void)
{
    fa_err err = {0};
    fa_clnf *m = NULL;
    fa_mtcnn *mtcnn = NULL;
    fa_clnf_face face;
    if (fa_clnf_load(tu_shared_path("models/main_clnf_general.txt"), &m, &err) ||
        fa_mtcnn_load(tu_shared_path("models/mtcnn_detector"), &mtcnn, &err) ||
        fa_clnf_face_init(&face, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char *stems[3] = {"Obama", "24795717_1", "child2"};
    for (int i = 0; i < 3; i++)
        run_image(m, mtcnn, &face, stems[i]);
    test_multi_view(m, mtcnn);
    fa_clnf_face_free(&face);
    fa_mtcnn_free(mtcnn);
    fa_clnf_free(m);
    return tu_done();
}
