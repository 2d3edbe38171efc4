/* test_clnf_image.c - landmarks in still images as FaceLandmarkImg runs them: MTCNN's boxes, then
 * for each face DetectLandmarksInImage with the default parameters (multi_view off: the single
 * (0, 0, 0) hypothesis, init windows), against OpenFace's own landmarks and confidence
 * (reference/images/fullprec/<image>.csv, one row per face in detection order). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
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
    fa_clnf_face_free(&face);
    fa_mtcnn_free(mtcnn);
    fa_clnf_free(m);
    return tu_done();
}
