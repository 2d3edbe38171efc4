/* test_pose.c - CLNF::GetShape, GetPose (solvePnP) and EstimateGaze/GetGazeAngle against
 * OpenFace's own numbers (reference CSVs at 6 decimals) and hand-derived cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/pose.h"
#include "testutil.h"

#define PDM_REL "models/pdms/In-the-wild_aligned_PDM_68.txt"
#define RAD2DEG (180.0 / 3.14159265358979323846)

typedef struct stat {
    double max, sum;
    long n;
} stat;

static void st_add(stat *s, double d)
{
    d = fabs(d);
    if (d > s->max)
        s->max = d;
    s->sum += d;
    s->n++;
}

static double st_mean(const stat *s)
{
    return s->n ? s->sum / s->n : 0;
}

/* Per-file comparison of every frame: 3D landmarks, pose, gaze. */
typedef struct file_stats {
    stat lmk3d, pose_t, pose_r, gaze, angle, frames;
    long rows, success_rows;
} file_stats;

static void row_inputs(const fa_csv_row *row, float g[6], float p[FA_N_MODES], float lmk[136])
{
    for (int k = 0; k < 6; k++)
        g[k] = (float)row->params[k];
    for (int k = 0; k < FA_N_MODES; k++)
        p[k] = (float)row->params[6 + k];
    for (int k = 0; k < 136; k++)
        lmk[k] = (float)row->lmk2d[k];
}

static int run_file(const fa_pdm *pdm, const char *csv, int width, int height, int image_mode,
                    file_stats *fs)
{
    memset(fs, 0, sizeof(*fs));
    fa_err err = {0};
    fa_csv_reader *r = NULL;
    if (fa_csv_reader_open(csv, &r, &err) != FACEAU_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    fa_camera cam = fa_camera_default(width, height);
    fa_csv_row row;
    int got = 0;
    (void)image_mode;
    while (fa_csv_reader_next(r, &row, &got, &err) == FACEAU_OK && got) {
        float g[6], p[FA_N_MODES], lmk[136], X[204], pose[6];
        row_inputs(&row, g, p, lmk);
        fs->rows++;
        /* (a) 3D landmarks */
        fa_clnf_shape3d_camera(pdm, g, p, lmk, &cam, X);
        for (int k = 0; k < 204; k++)
            st_add(&fs->lmk3d, X[k] - row.lmk3d[k]);
        /* (b) pose */
        fa_clnf_pose(pdm, g, p, lmk, &cam, pose);
        for (int k = 0; k < 3; k++) {
            st_add(&fs->pose_t, pose[k] - row.pose[k]);
            st_add(&fs->pose_r, (pose[3 + k] - row.pose[3 + k]) * RAD2DEG);
        }
        /* (c) gaze from the CSV's eye landmarks, the face's 3D shape and the head rotation */
        float gz[2][3], ang[2];
        if (row.success) {
            float eye[3 * 56], face[204], eul[3];
            for (int k = 0; k < 3 * 56; k++)
                eye[k] = (float)row.eye_lmk3d[k];
            for (int k = 0; k < 204; k++)
                face[k] = (float)row.lmk3d[k];
            for (int k = 0; k < 3; k++)
                eul[k] = (float)row.pose[3 + k];
            fa_gaze_estimate(eye, 56, face, eul, 1, gz[0]);
            fa_gaze_estimate(eye + 28, 56, face, eul, 0, gz[1]);
            fa_gaze_angle(gz[0], gz[1], ang);
            fs->success_rows++;
        } else {
            memset(gz, 0, sizeof(gz));
            ang[0] = ang[1] = 0;
        }
        for (int e = 0; e < 2; e++)
            for (int k = 0; k < 3; k++)
                st_add(&fs->gaze, gz[e][k] - row.gaze[3 * e + k]);
        for (int k = 0; k < 2; k++)
            st_add(&fs->angle, ang[k] - row.gaze[6 + k]);
    }
    fa_csv_reader_close(r);
    if (err.status != FACEAU_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static void report(const char *name, const file_stats *fs)
{
    printf("%s: %ld rows (%ld success)\n", name, fs->rows, fs->success_rows);
    printf("  X/Y/Z      max %.3g mean %.3g mm\n", fs->lmk3d.max, st_mean(&fs->lmk3d));
    printf("  pose_T     max %.3g mean %.3g mm\n", fs->pose_t.max, st_mean(&fs->pose_t));
    printf("  pose_R     max %.3g mean %.3g deg\n", fs->pose_r.max, st_mean(&fs->pose_r));
    printf("  gaze_0/1   max %.3g mean %.3g\n", fs->gaze.max, st_mean(&fs->gaze));
    printf("  gaze_angle max %.3g mean %.3g rad\n", fs->angle.max, st_mean(&fs->angle));
}

int main(void)
{
    fa_err err = {0};
    fa_pdm pdm;
    if (fa_pdm_load(tu_shared_path(PDM_REL), &pdm, &err) != FACEAU_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    static const struct {
        const char *csv;
        int w, h, image;
    } files[] = {
        {"reference/fullprec/2015-10-15-15-14.csv", 640, 480, 0},
        {"reference/fullprec/0217_03_006_alanis_morissette.csv", 320, 240, 0},
        {"reference/fullprec/1878_01_002_vladimir_putin.csv", 320, 240, 0},
        {"reference/fullprec/default.csv", 640, 480, 0},
        {"reference/fullprec/portrait_1080x1920.csv", 1080, 1920, 0},
        {"reference/fullprec/0417_02_003_bill_clinton.csv", 320, 240, 0},
        {"reference/fullprec/1192_01_006_julia_roberts.csv", 320, 240, 0},
        {"reference/fullprec/1815_01_008_tony_blair.csv", 320, 240, 0},
        {"reference/fullprec/multi_face.csv", 640, 480, 0},
        {"reference/fullprec/multi_face_all_faces.csv", 640, 480, 0},
        {"reference/fullprec/sequence.csv", 640, 480, 0},
        {"reference/images/fullprec/Obama.csv", 616, 389, 1},
        {"reference/images/fullprec/24795717_1.csv", 1024, 677, 1},
        {"reference/images/fullprec/child2.csv", 1800, 1118, 1},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        file_stats fs;
        int rc = run_file(&pdm, tu_shared_path("%s", files[i].csv), files[i].w, files[i].h,
                          files[i].image, &fs);
        CHECK(rc == 0, "%s readable", files[i].csv);
        report(files[i].csv, &fs);
    }
    fa_pdm_free(&pdm);
    return tu_done();
}
