/* test_clnf_track.c - THE accuracy test of the CLNF fit: one tracking step from OpenFace's own
 * state. For frame t of a reference video, the face starts from frame t-1's p_scale..p_33 (the
 * full-precision reference CSV) and success (the tracking counters follow from the success
 * column), one DetectLandmarksInVideo step runs (DetectLandmarks with the small windows after a
 * success, the init windows after a failure, and MTCNN + 11-hypothesis re-detection when OpenFace
 * would run it), and landmarks, parameters, confidence and success are compared with frame t's
 * (landmarks where both succeed).
 *
 * It also runs DetectLandmarksInVideo from scratch (MTCNN box, 11 rotation hypotheses on frame 1,
 * then tracking) on the first 30 frames. Inputs: two videos (640x480 with the hierarchical parts
 * fitted, 320x240 without) and the 30-JPEG image sequence.
 *
 * Usage (ctest runs the defaults): test_clnf_track [video-stem [frames]]
 *                                  test_clnf_track -track video-stem [frames]  (whole video) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
#include "testutil.h"

typedef struct stats {
    int frames, succ_agree, succ_total;
    double sum_err, max_err, max_frame_mean, sum_conf_diff, max_param_diff;
    double sum_eye_err, max_eye_err; /* the eye parts' landmarks vs eye_lmk_x/y */
} stats;

/* Mean and max distance between the eye parts' landmarks (left_eye_28, right_eye_28: parts 1
 * and 2) and the CSV's 56 eye_lmk_x/y points. */
static double eye_error(const fa_clnf *m, const fa_clnf_face *f, const fa_csv_row *row,
                        double *max)
{
    double sum = 0;
    int cnt = 0;
    for (int k = 1; k <= 2; k++) {
        const fa_pdm *pp;
        if (!fa_clnf_part(m, k, &pp, NULL, NULL, NULL))
            continue;
        for (int i = 0; i < pp->n; i++) {
            int e = (k - 1) * pp->n + i;
            double dx = f->part_landmarks[k][i] - row->eye_lmk2d[e];
            double dy = f->part_landmarks[k][i + pp->n] - row->eye_lmk2d[FA_N_EYE_LMK + e];
            double d = sqrt(dx * dx + dy * dy);
            sum += d;
            cnt++;
            if (d > *max)
                *max = d;
        }
    }
    return cnt ? sum / cnt : 0;
}

/* data/videos/<stem>.avi, .wmv or .mp4, whichever exists. */
static const char *video_path(const char *stem)
{
    static const char *ext[3] = {"avi", "wmv", "mp4"};
    for (int i = 0; i < 3; i++) {
        const char *p = tu_shared_path("data/videos/%s.%s", stem, ext[i]);
        FILE *f = fopen(p, "rb");
        if (f) {
            fclose(f);
            return p;
        }
    }
    return tu_shared_path("data/videos/%s.avi", stem);
}

/* Frames of a reference input: a video, or the image sequence "sequence" (data/images/sequence,
 * name order, as FeatureExtraction -fdir reads it). */
typedef struct frame_src {
    fa_video *v;
    char **paths;
    size_t n, i;
    fa_image img;
} frame_src;

static faceau_status src_open(frame_src *s, const char *stem, fa_err *err)
{
    memset(s, 0, sizeof *s);
    if (!strcmp(stem, "sequence"))
        return fa_list_images(tu_shared_path("data/images/sequence"), &s->paths, &s->n, err);
    return fa_video_open(video_path(stem), &s->v, err);
}

static faceau_status src_read(frame_src *s, const fa_image **frame, int *got, fa_err *err)
{
    if (s->v)
        return fa_video_read(s->v, frame, got, err);
    *got = 0;
    if (s->i >= s->n)
        return FACEAU_OK;
    fa_image_free(&s->img);
    faceau_status st = fa_image_read(s->paths[s->i++], &s->img, err);
    if (st == FACEAU_OK) {
        *frame = &s->img;
        *got = 1;
    }
    return st;
}

static void src_close(frame_src *s)
{
    fa_video_close(s->v);
    if (s->paths)
        fa_free_list(s->paths, s->n);
    fa_image_free(&s->img);
    memset(s, 0, sizeof *s);
}

static int run_video(const fa_clnf *m, fa_mtcnn *mtcnn, const char *stem, int max_frames, stats *S)
{
    fa_err err = {0};
    frame_src v;
    fa_csv_reader *csv = NULL;
    fa_clnf_face face;
    fa_grey grey = {0};
    memset(S, 0, sizeof *S);
    if (src_open(&v, stem, &err) ||
        fa_csv_reader_open(tu_shared_path("reference/fullprec/%s.csv", stem), &csv, &err) ||
        fa_clnf_face_init(&face, &err)) {
        fprintf(stderr, "%s: %s\n", stem, err.msg);
        return 1;
    }
    const fa_pdm *pdm = fa_clnf_pdm(m);
    int n = pdm->n, mm = pdm->m;
    static fa_csv_row prev, row;
    int have_prev = 0, fails = 0;
    for (int t = 1; t <= max_frames; t++) {
        const fa_image *frame;
        int got;
        if (src_read(&v, &frame, &got, &err) || !got)
            break;
        if (fa_csv_reader_next(csv, &row, &got, &err) || !got)
            break;
        if (fa_grey_from_bgr(frame, &grey, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        if (have_prev) {
            /* CLNF's state after frame t-1 as OpenFace printed it; the tracking counters follow
             * from the success column (failures_in_a_row = failed frames in a row - 1) */
            for (int k = 0; k < 6; k++)
                face.g[k] = (float)prev.params[k];
            for (int j = 0; j < mm; j++)
                face.p[j] = (float)prev.params[6 + j];
            face.detection_success = prev.success;
            face.tracking_initialised = 1;
            face.failures_in_a_row = prev.success ? -1 : fails - 1;
            int ok;
            if (fa_clnf_track_video(m, &face, mtcnn, frame, &grey, &ok, &err)) {
                fprintf(stderr, "frame %d: %s\n", t, err.msg);
                break;
            }
            S->succ_total++;
            S->succ_agree += ok == row.success;
            if (row.success) {
                double fsum = 0;
                for (int i = 0; i < n; i++) {
                    double dx = face.landmarks[i] - row.lmk2d[i];
                    double dy = face.landmarks[i + n] - row.lmk2d[i + n];
                    double e = sqrt(dx * dx + dy * dy);
                    fsum += e;
                    if (e > S->max_err)
                        S->max_err = e;
                }
                fsum /= n;
                S->sum_err += fsum;
                if (fsum > S->max_frame_mean)
                    S->max_frame_mean = fsum;
                S->sum_conf_diff += fabs(face.confidence - row.confidence);
                S->sum_eye_err += eye_error(m, &face, &row, &S->max_eye_err);
                for (int k = 0; k < 6 + mm; k++) {
                    double d = fabs((k < 6 ? face.g[k] : face.p[k - 6]) - row.params[k]);
                    if (d > S->max_param_diff)
                        S->max_param_diff = d;
                }
                S->frames++;
                if (getenv("FA_TRACK_VERBOSE"))
                    printf("frame %d: mean %.5f px  conf %.3f/%.3f\n", t, fsum, face.confidence,
                           row.confidence);
            }
        }
        fails = row.success ? 0 : fails + 1;
        prev = row;
        have_prev = 1;
    }
    fa_clnf_face_free(&face);
    fa_grey_free(&grey);
    fa_csv_reader_close(csv);
    src_close(&v);
    printf("%s: %d frames tracked from OpenFace's state: landmark error mean %.4f px, worst frame "
           "mean %.4f px, max %.4f px; |confidence diff| mean %.4f; success agreement %d/%d; "
           "max |param diff| %.5f; eye landmarks mean %.4f px, max %.4f px\n",
           stem, S->frames, S->frames ? S->sum_err / S->frames : 0, S->max_frame_mean, S->max_err,
           S->frames ? S->sum_conf_diff / S->frames : 0, S->succ_agree, S->succ_total,
           S->max_param_diff, S->frames ? S->sum_eye_err / S->frames : 0, S->max_eye_err);
    return 0;
}

/* DetectLandmarksInVideo over the first max_frames frames from scratch (MTCNN on frame 1, the
 * 11-hypothesis detection, then tracking and re-detection): per-frame landmark error against
 * OpenFace where both succeed, and success agreement. */
static int run_tracking(const fa_clnf *m, fa_mtcnn *mtcnn, const char *stem, int max_frames,
                        stats *S, double *first_err)
{
    fa_err err = {0};
    frame_src v;
    fa_csv_reader *csv = NULL;
    fa_clnf_face face;
    fa_grey grey = {0};
    static fa_csv_row row;
    memset(S, 0, sizeof *S);
    *first_err = -1;
    if (src_open(&v, stem, &err) ||
        fa_csv_reader_open(tu_shared_path("reference/fullprec/%s.csv", stem), &csv, &err) ||
        fa_clnf_face_init(&face, &err)) {
        fprintf(stderr, "%s: %s\n", stem, err.msg);
        return 1;
    }
    int n = fa_clnf_pdm(m)->n;
    for (int t = 1; t <= max_frames; t++) {
        const fa_image *frame;
        int got, ok;
        if (src_read(&v, &frame, &got, &err) || !got)
            break;
        if (fa_csv_reader_next(csv, &row, &got, &err) || !got)
            break;
        if (fa_grey_from_bgr(frame, &grey, &err) ||
            fa_clnf_track_video(m, &face, mtcnn, frame, &grey, &ok, &err)) {
            fprintf(stderr, "frame %d: %s\n", t, err.msg);
            break;
        }
        S->succ_total++;
        S->succ_agree += ok == row.success;
        if (ok && row.success) {
            double fsum = 0;
            for (int i = 0; i < n; i++) {
                double dx = face.landmarks[i] - row.lmk2d[i];
                double dy = face.landmarks[i + n] - row.lmk2d[i + n];
                double e = sqrt(dx * dx + dy * dy);
                fsum += e;
                if (e > S->max_err)
                    S->max_err = e;
            }
            fsum /= n;
            if (t == 1)
                *first_err = fsum;
            S->sum_err += fsum;
            if (fsum > S->max_frame_mean)
                S->max_frame_mean = fsum;
            S->sum_conf_diff += fabs(face.confidence - row.confidence);
            S->frames++;
            if (getenv("FA_TRACK_VERBOSE"))
                printf("frame %d: mean %.5f px  conf %.3f/%.3f\n", t, fsum, face.confidence,
                       row.confidence);
        } else if (getenv("FA_TRACK_VERBOSE")) {
            printf("frame %d: success %d vs OpenFace %d\n", t, ok, row.success);
        }
    }
    fa_clnf_face_free(&face);
    fa_grey_free(&grey);
    fa_csv_reader_close(csv);
    src_close(&v);
    printf("%s: tracked from scratch over %d frames: frame 1 (11 hypotheses from MTCNN) error "
           "%.4f px; landmark error mean %.4f px, worst frame mean %.4f px, max %.4f px; "
           "success agreement %d/%d\n",
           stem, S->succ_total, *first_err, S->frames ? S->sum_err / S->frames : 0,
           S->max_frame_mean, S->max_err, S->succ_agree, S->succ_total);
    return 0;
}

int main(int argc, char **argv)
{
    fa_err err = {0};
    fa_clnf *m;
    if (fa_clnf_load(tu_shared_path("models/main_clnf_general.txt"), &m, &err)) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    stats S;
    fa_mtcnn *mtcnn = NULL;
    if (fa_mtcnn_load(tu_shared_path("models/mtcnn_detector"), &mtcnn, &err)) {
        fprintf(stderr, "mtcnn: %s\n", err.msg);
        return 1;
    }
    double e1;
    if (argc > 2 && !strcmp(argv[1], "-track")) {
        run_tracking(m, mtcnn, argv[2], argc > 3 ? atoi(argv[3]) : 1000000, &S, &e1);
    } else if (argc > 1) {
        run_video(m, mtcnn, argv[1], argc > 2 ? atoi(argv[2]) : 100, &S);
    } else {
        const char *stems[3] = {"2015-10-15-15-14", "1815_01_008_tony_blair", "sequence"};
        for (int i = 0; i < 3; i++) {
            if (run_video(m, mtcnn, stems[i], 100, &S)) {
                tu_failed++;
                continue;
            }
            CHECK(S.frames >= 29, "%s: %d frames scored", stems[i], S.frames);
            CHECK(S.frames && S.sum_err / S.frames <= 0.2, "%s: mean landmark error %.4f px",
                  stems[i], S.frames ? S.sum_err / S.frames : 0);
            CHECK(S.succ_agree == S.succ_total, "%s: success agrees on %d of %d frames", stems[i],
                  S.succ_agree, S.succ_total);
            CHECK(S.frames && S.sum_eye_err / S.frames <= 0.2, "%s: eye landmark error %.4f px",
                  stems[i], S.frames ? S.sum_eye_err / S.frames : 0);
            /* from scratch: MTCNN box, 11 hypotheses on frame 1, then DetectLandmarksInVideo */
            if (run_tracking(m, mtcnn, stems[i], 30, &S, &e1)) {
                tu_failed++;
                continue;
            }
            CHECK(e1 >= 0 && e1 <= 0.05, "%s: frame 1 (multi-hypothesis) error %.4f px", stems[i],
                  e1);
            CHECK(S.frames >= 25 && S.sum_err / S.frames <= 0.2,
                  "%s: tracking from scratch, mean error %.4f px over %d frames", stems[i],
                  S.frames ? S.sum_err / S.frames : 0, S.frames);
            CHECK(S.succ_agree == S.succ_total, "%s: success agrees on %d of %d frames", stems[i],
                  S.succ_agree, S.succ_total);
        }
    }
    fa_mtcnn_free(mtcnn);
    fa_clnf_free(m);
    return tu_done();
}
