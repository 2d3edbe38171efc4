/* test_tracker_shared.c - one faceau_landmarker (CLNF and MTCNN weights) shared by trackers on
 * three threads at once: each tracker, from its own first-frame detection through 25 tracked
 * frames of two clips, gives the same bits as a tracker running alone, and its fit is OpenFace's
 * (the reference's landmarks within 0.05 px). Results are checked on the main thread. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "faceau.h"
#include "testutil.h"

#define NF 25

typedef struct clip {
    const char *name;
    faceau_frame f[NF];
    unsigned char *pix[NF];
} clip;

typedef struct run {
    const faceau_landmarker *lm;
    const clip *c;
    faceau_status st;
    faceau_face face[NF];
} run;

static void *track(void *arg)
{
    run *r = arg;
    char err[1024];
    faceau_tracker *t;
    r->st = faceau_tracker_open(r->lm, &t, err, sizeof err);
    for (int i = 0; i < NF && r->st == FACEAU_OK; i++)
        r->st = faceau_track(t, &r->c->f[i], NULL, &r->face[i]);
    faceau_tracker_close(t);
    return NULL;
}

static void load_clip(clip *c, const char *name)
{
    char err[1024];
    faceau_source *src;
    c->name = name;
    CHECK(faceau_source_open(tu_shared_path("data/videos/%s.avi", name), &src, err, sizeof err) == FACEAU_OK,
          "source: %s", err);
    int got;
    for (int i = 0; i < NF; i++) {
        CHECK(faceau_source_read(src, &c->f[i], &got) == FACEAU_OK && got, "%s frame %d", name, i);
        size_t n = (size_t)c->f[i].stride * c->f[i].height;
        c->pix[i] = malloc(n);
        CHECK(c->pix[i] != NULL, "frame copy");
        memcpy(c->pix[i], c->f[i].bgr, n);
        c->f[i].bgr = c->pix[i];
    }
    faceau_source_close(src);
}

/* mean landmark distance (px) to the reference on the last frame */
static double last_frame_error(const clip *c, const faceau_face *f)
{
    tu_csv ref;
    CHECK(tu_csv_load(tu_shared_path("reference/fullprec/%s.csv", c->name), &ref) == 0, "reference");
    int cx = tu_csv_col(&ref, "x_0"), cy = tu_csv_col(&ref, "y_0");
    double sum = 0;
    for (int k = 0; k < FACEAU_N_LANDMARKS; k++)
        sum += hypot(f->landmarks[k] - tu_csv_at(&ref, NF - 1, cx + k),
                     f->landmarks[FACEAU_N_LANDMARKS + k] - tu_csv_at(&ref, NF - 1, cy + k));
    tu_csv_free(&ref);
    return sum / FACEAU_N_LANDMARKS;
}

int main(void)
{
    static clip clips[2];
    static run alone[2], shared[3];
    char err[4096];
    load_clip(&clips[0], "1815_01_008_tony_blair");
    load_clip(&clips[1], "0417_02_003_bill_clinton");
    faceau_landmarker *lm;
    if (faceau_landmarker_open(tu_shared_path("models"), &lm, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        alone[k].lm = lm;
        alone[k].c = &clips[k];
        track(&alone[k]);
        CHECK(alone[k].st == FACEAU_OK, "%s alone", clips[k].name);
        double e = last_frame_error(&clips[k], &alone[k].face[NF - 1]);
        printf("%s: frame %d %.4f px from OpenFace\n", clips[k].name, NF, e);
        CHECK(alone[k].face[NF - 1].success && e <= 0.05, "%s: %.4f px", clips[k].name, e);
    }
    pthread_t tid[3];
    for (int k = 0; k < 3; k++) {
        shared[k].lm = lm;
        shared[k].c = &clips[k % 2];
        CHECK(pthread_create(&tid[k], NULL, track, &shared[k]) == 0, "thread %d", k);
    }
    for (int k = 0; k < 3; k++)
        pthread_join(tid[k], NULL);
    for (int k = 0; k < 3; k++) {
        CHECK(shared[k].st == FACEAU_OK, "thread %d", k);
        CHECK(!memcmp(shared[k].face, alone[k % 2].face, sizeof shared[k].face),
              "thread %d (%s): not the same bits as the tracker alone", k, clips[k % 2].name);
    }
    faceau_landmarker_close(lm);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NF; i++)
            free(clips[k].pix[i]);
    return tu_done();
}
