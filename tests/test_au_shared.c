/* test_au_shared.c - one faceau_au_models shared by several faceau_au analysers on several
 * threads at once gives each exactly what an analyser with its own models gives; the mode of
 * shared models must match. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define NF 60
static const char *NAME = "1815_01_008_tony_blair";

typedef struct clip {
    faceau_frame f[NF];
    unsigned char *pix[NF];
    float lm[NF][136];
    int success[NF];
} clip;

typedef struct run {
    faceau_au *au;
    const clip *c;
    double I[NF * 17], P[NF * 18];
    faceau_status st;
} run;

static void *analyse(void *arg)
{
    run *r = arg;
    faceau_au_result res;
    for (int i = 0; i < NF && !r->st; i++)
        r->st = faceau_au_add_frame(r->au, &r->c->f[i], r->c->lm[i], r->c->success[i], &res);
    if (!r->st)
        r->st = faceau_au_finish(r->au, r->I, r->P, NF);
    return NULL;
}

static void load_clip(clip *c)
{
    char err[4096];
    faceau_source *src;
    CHECK(faceau_source_open(tu_shared_path("data/videos/%s.avi", NAME), &src, err, sizeof err) == FACEAU_OK,
          "source: %s", err);
    tu_csv ref;
    CHECK(tu_csv_load(tu_shared_path("reference/fullprec/%s.csv", NAME), &ref) == 0, "reference");
    int cx = tu_csv_col(&ref, "x_0"), cy = tu_csv_col(&ref, "y_0"), cs = tu_csv_col(&ref, "success");
    int got;
    for (int i = 0; i < NF; i++) {
        CHECK(faceau_source_read(src, &c->f[i], &got) == FACEAU_OK && got, "frame %d", i);
        size_t n = (size_t)c->f[i].stride * c->f[i].height;
        c->pix[i] = malloc(n);
        memcpy(c->pix[i], c->f[i].bgr, n);
        c->f[i].bgr = c->pix[i];
        for (int k = 0; k < 68; k++) {
            c->lm[i][k] = (float)tu_csv_at(&ref, i, cx + k);
            c->lm[i][68 + k] = (float)tu_csv_at(&ref, i, cy + k);
        }
        c->success[i] = (int)tu_csv_at(&ref, i, cs);
    }
    tu_csv_free(&ref);
    faceau_source_close(src);
}

int main(void)
{
    static clip c;
    static run own, shared[3];
    char err[4096];
    load_clip(&c);
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = tu_shared_path("models");
    CHECK(faceau_au_open(&cfg, &own.au, err, sizeof err) == FACEAU_OK, "own models: %s", err);
    own.c = &c;
    analyse(&own);
    CHECK(own.st == FACEAU_OK, "own models: %s", faceau_au_last_error(own.au));

    faceau_au_models *models;
    CHECK(faceau_au_models_open(&cfg, &models, err, sizeof err) == FACEAU_OK, "shared models: %s", err);
    pthread_t tid[3];
    for (int k = 0; k < 3; k++) {
        CHECK(faceau_au_open_with(models, &cfg, &shared[k].au, err, sizeof err) == FACEAU_OK, "analyser %d: %s", k, err);
        shared[k].c = &c;
        CHECK(pthread_create(&tid[k], NULL, analyse, &shared[k]) == 0, "thread %d", k);
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(tid[k], NULL);
        CHECK(shared[k].st == FACEAU_OK, "analyser %d: %s", k, faceau_au_last_error(shared[k].au));
        CHECK(!memcmp(shared[k].I, own.I, sizeof own.I) && !memcmp(shared[k].P, own.P, sizeof own.P),
              "analyser %d on shared models differs from one with its own", k);
        faceau_au_close(shared[k].au);
    }

    /* static models cannot serve the dynamic mode; a NULL model set is refused with a message */
    faceau_config scfg = cfg;
    scfg.au_mode = FACEAU_AU_STATIC;
    faceau_au *a = NULL;
    CHECK(faceau_au_open_with(models, &scfg, &a, err, sizeof err) == FACEAU_ERR_INVALID_ARG && !a &&
              strstr(err, "dynamic"),
          "mode mismatch: %s", err);
    CHECK(faceau_au_open_with(NULL, &cfg, &a, err, sizeof err) == FACEAU_ERR_INVALID_ARG && strstr(err, "NULL"),
          "NULL models: %s", err);
    faceau_au_models_close(models);
    faceau_au_close(own.au);
    for (int i = 0; i < NF; i++)
        free(c.pix[i]);
    return tu_done();
}
