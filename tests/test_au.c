/* test_au.c - AU model reading and linear predictions: tiny hand-made model files, real
 * OpenFace model facts, and bad files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *const R_NAMES[17] = {"AU01", "AU02", "AU04", "AU05", "AU06", "AU07",
                                        "AU09", "AU10", "AU12", "AU14", "AU15", "AU17",
                                        "AU20", "AU23", "AU25", "AU26", "AU45"};
static const char *const C_NAMES[18] = {"AU01", "AU02", "AU04", "AU05", "AU06", "AU07",
                                        "AU09", "AU10", "AU12", "AU14", "AU15", "AU17",
                                        "AU20", "AU23", "AU25", "AU26", "AU28", "AU45"};

static void put_mat(FILE *f, int rows, int cols, const double *v)
{
    int32_t h[3] = {rows, cols, 6};
    fwrite(h, 4, 3, f);
    fwrite(v, 8, (size_t)rows * (size_t)cols, f);
}

/* One model file: code, [cutoff], means (all `mean`), w (w1 at i1, w2 at i2), bias, [pos neg]. */
static void write_dat(const char *path, int code, double mean, int i1, double w1, int i2, double w2,
                      double bias)
{
    static double means[FA_FEAT_DIM], w[FA_FEAT_DIM];
    for (int i = 0; i < FA_FEAT_DIM; i++) {
        means[i] = mean;
        w[i] = 0;
    }
    w[i1] = w1;
    w[i2] = w2;
    FILE *f = fopen(path, "wb");
    int32_t c = code;
    double cutoff = 0.3, pos = 1, neg = 0;
    fwrite(&c, 4, 1, f);
    if (code == 1)
        fwrite(&cutoff, 8, 1, f);
    put_mat(f, 1, FA_FEAT_DIM, means);
    put_mat(f, FA_FEAT_DIM, 1, w);
    fwrite(&bias, 8, 1, f);
    if (code >= 4) {
        fwrite(&pos, 8, 1, f);
        fwrite(&neg, 8, 1, f);
    }
    fclose(f);
}

/* A model directory where AU j's intensity model has weight 1 on HOG feature 10j and 2 on
 * geometry feature j, bias j; even j are dynamic (cutoff 0.3). Presence models likewise with
 * bias -0.5. The first file of each bank has means 0.25, later ones 0.5 (to be ignored). */
static const char *make_models(void)
{
    const char *dir = tu_tmpdir("au_models");
    static char main_file[4096];
    char p[4096];
    snprintf(p, sizeof p, "%s/list.txt", dir);
    FILE *list = fopen(p, "w");
    int first[4] = {1, 1, 1, 1};
    for (int j = 0; j < 18; j++) {
        int dyn = j % 2 == 0, code = 4 + dyn;
        snprintf(p, sizeof p, "%s/c%d.dat", dir, j);
        write_dat(p, code, first[code - 2] ? 0.25 : 0.5, 10 * j, 1.0, FACEAU_HOG_SIZE + j, 2.0, -0.5);
        first[code - 2] = 0;
        fprintf(list, "c%d.dat %s\n", j, C_NAMES[j]);
    }
    for (int j = 0; j < 17; j++) {
        int dyn = j % 2 == 0, code = dyn;
        snprintf(p, sizeof p, "%s/r%d.dat", dir, j);
        write_dat(p, code, first[code] ? 0.25 : 0.5, 10 * j, 1.0, FACEAU_HOG_SIZE + j, 2.0, (double)j);
        first[code] = 0;
        fprintf(list, "r%d.dat %s\r\n", j, R_NAMES[j]); /* CRLF as OpenFace tolerates */
    }
    fclose(list);
    snprintf(main_file, sizeof main_file, "%s/main.txt", dir);
    FILE *m = fopen(main_file, "w");
    fprintf(m, "AUPredictor list.txt\nPDM %s\nTriangulation %s\n",
            tu_shared_path("models/AU_predictors/In-the-wild_aligned_PDM_68.txt"),
            tu_shared_path("models/AU_predictors/tris_68_full.txt"));
    fclose(m);
    return main_file;
}

static void test_tiny_models(void)
{
    fa_au_models m;
    fa_err err;
    const char *main_file = make_models();
    faceau_status st = fa_au_models_load(main_file, &m, &err);
    CHECK(st == FACEAU_OK, "load: %s", err.msg);
    if (st)
        return;
    CHECK(m.bank[FA_BANK_SVR_DYNAMIC].k == 9 && m.bank[FA_BANK_SVR_STATIC].k == 8, "SVR banks");
    CHECK(m.bank[FA_BANK_SVM_DYNAMIC].k == 9 && m.bank[FA_BANK_SVM_STATIC].k == 9, "SVM banks");
    CHECK(m.bank[FA_BANK_SVR_DYNAMIC].cutoff[0] == 0.3, "cutoff read");
    static double x[FA_FEAT_DIM], med[FA_FEAT_DIM];
    for (int i = 0; i < FA_FEAT_DIM; i++) {
        x[i] = 0.001 * (i % 1000);
        med[i] = 0.1;
    }
    double r[17], c[18];
    fa_au_predict(&m, x, med, r, c);
    for (int j = 0; j < 17; j++) {
        /* features: hog 10j -> 0.001*(10j), geometry j -> 0.001*((4464+j) % 1000) */
        double h = 0.001 * ((10 * j) % 1000), g = 0.001 * ((FACEAU_HOG_SIZE + j) % 1000);
        double sub = j % 2 == 0 ? 0.1 : 0; /* dynamic models also subtract the median */
        double want = (h - 0.25 - sub) * 1.0 + (g - 0.25 - sub) * 2.0 + j;
        CHECK(fabs(r[j] - want) < 1e-12, "%s: %.15g want %.15g", R_NAMES[j], r[j], want);
    }
    for (int j = 0; j < 18; j++) {
        double h = 0.001 * ((10 * j) % 1000), g = 0.001 * ((FACEAU_HOG_SIZE + j) % 1000);
        double sub = j % 2 == 0 ? 0.1 : 0;
        double y = (h - 0.25 - sub) + (g - 0.25 - sub) * 2.0 - 0.5;
        CHECK(c[j] == (y > 0 ? 1.0 : 0.0), "%s: %g (y %g)", C_NAMES[j], c[j], y);
    }
    fa_au_models_free(&m);
}

static void test_bad_files(void)
{
    fa_au_models m;
    fa_err err;
    const char *main_file = make_models();
    char p[4096];
    snprintf(p, sizeof p, "%.*s/r3.dat", (int)(strrchr(main_file, '/') - main_file), main_file);
    /* truncated weight file */
    FILE *f = fopen(p, "r+b");
    CHECK(f && ftruncate(fileno(f), 20000) == 0, "truncate");
    fclose(f);
    CHECK(fa_au_models_load(main_file, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "r3.dat"),
          "truncated: %s", err.msg);
    /* missing weight file */
    remove(p);
    CHECK(fa_au_models_load(main_file, &m, &err) == FACEAU_ERR_MODEL_NOT_FOUND && strstr(err.msg, "r3.dat"),
          "missing: %s", err.msg);
    /* unknown model type */
    f = fopen(p, "wb");
    int32_t bad = 9;
    fwrite(&bad, 4, 1, f);
    fclose(f);
    CHECK(fa_au_models_load(main_file, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "type 9"),
          "bad type: %s", err.msg);
    CHECK(fa_au_models_load("/nonexistent/main.txt", &m, &err) == FACEAU_ERR_MODEL_NOT_FOUND &&
              strstr(err.msg, "/nonexistent/main.txt"),
          "no main file: %s", err.msg);
}

/* Facts of OpenFace's shipped models (docs/openface.md 2.6). */
static void test_real_models(void)
{
    fa_au_models m;
    fa_err err;
    faceau_status st = fa_au_models_load(tu_shared_path("models/AU_predictors/main_dynamic_svms.txt"), &m, &err);
    CHECK(st == FACEAU_OK, "load real: %s", err.msg);
    if (st)
        return;
    static const struct { const char *au; double cutoff; } dyn[] = {
        {"AU01", 0.55}, {"AU02", 0.75}, {"AU05", 0.80}, {"AU09", 0.70}, {"AU15", 0.55},
        {"AU17", 0.20}, {"AU20", 0.65}, {"AU23", 0.65}, {"AU25", 0.30}, {"AU26", 0.30}, {"AU45", 0.60}};
    CHECK(m.bank[FA_BANK_SVR_DYNAMIC].k == 11 && m.bank[FA_BANK_SVR_STATIC].k == 6,
          "SVR banks %d %d", m.bank[FA_BANK_SVR_DYNAMIC].k, m.bank[FA_BANK_SVR_STATIC].k);
    for (size_t i = 0; i < sizeof dyn / sizeof dyn[0]; i++) {
        int found = 0;
        const fa_au_bank *b = &m.bank[FA_BANK_SVR_DYNAMIC];
        for (int j = 0; j < b->k; j++)
            if (!strcmp(b->names[j], dyn[i].au)) {
                found = 1;
                CHECK(fabs(b->cutoff[j] - dyn[i].cutoff) < 1e-9, "%s cutoff %g", dyn[i].au, b->cutoff[j]);
            }
        CHECK(found, "%s is a dynamic SVR", dyn[i].au);
    }
    /* AU23: dynamic intensity, static presence; AU28 presence only (dynamic) */
    CHECK(m.r_bank[13] == FA_BANK_SVR_DYNAMIC && m.c_bank[13] == FA_BANK_SVM_STATIC, "AU23 banks");
    CHECK(m.c_bank[16] == FA_BANK_SVM_DYNAMIC, "AU28 presence dynamic");
    /* class values as stored (read with an independent parser): AU_4_static.dat ends with
     * pos 0, neg 1; AU_10_static.dat with pos 1, neg 0 */
    const fa_au_bank *ss = &m.bank[FA_BANK_SVM_STATIC];
    CHECK(!strcmp(ss->names[0], "AU04") && ss->pos[0] == 0 && ss->neg[0] == 1, "AU04 classes");
    CHECK(m.c_bank[7] == FA_BANK_SVM_STATIC && ss->pos[m.c_col[7]] == 1 && ss->neg[m.c_col[7]] == 0,
          "AU10 classes");
    /* the geometry part of the shared means is zero */
    CHECK(m.bank[FA_BANK_SVR_DYNAMIC].means[FACEAU_HOG_SIZE] == 0, "geometry means");
    fa_au_models_free(&m);
}

/* OpenFace's sum for one output, written out plainly: four partial sums by i mod 4, the last
 * n mod 4 features into the first, ((a0 + a1) + (a2 + a3)) + bias. */
static double ref_output(const fa_au_bank *b, int j, const double *x, const double *med)
{
    double a[4] = {0, 0, 0, 0};
    int n4 = b->dim / 4 * 4;
    for (int i = 0; i < b->dim; i++) {
        double d = x[i] - b->means[i];
        if (med)
            d -= med[i];
        a[i < n4 ? i % 4 : 0] += d * b->wt[(size_t)i * (size_t)b->kp + (size_t)j];
    }
    return ((a[0] + a[1]) + (a[2] + a[3])) + b->bias[j];
}

/* Every bank's raw outputs, one frame at a time and in blocks of 1..FA_AU_BLOCK frames, with the
 * kernels the CPU allows and the portable ones: the same bits as the plain sum. The intensity
 * outputs are pointed at each bank's columns in turn, so the presence banks' raw values are
 * compared too (their outputs are only classes). */
static void test_predict_bits(const char *main_file)
{
    fa_au_models m;
    fa_err err;
    faceau_status st = fa_au_models_load(tu_shared_path(main_file), &m, &err);
    CHECK(st == FACEAU_OK, "load %s: %s", main_file, err.msg);
    if (st)
        return;
    enum { NF = 2 * FA_AU_BLOCK + 3 };
    static double x[NF][FA_FEAT_DIM], med[FA_FEAT_DIM];
    unsigned rng = 7;
    for (int i = 0; i < FA_FEAT_DIM; i++) {
        for (int f = 0; f < NF; f++) {
            rng = rng * 1103515245u + 12345u;
            /* HOG-like values, geometry-like ones, a few large */
            double u = (double)(rng >> 8) / 16777216.0;
            x[f][i] = i < FACEAU_HOG_SIZE ? 0.4 * u : 60.0 * (u - 0.5);
            if (rng % 997 == 0)
                x[f][i] *= 1e6;
        }
        rng = rng * 1103515245u + 12345u;
        med[i] = i < FACEAU_HOG_SIZE ? 0.002 * (rng >> 24) : 0.1 * ((int)(rng >> 24) - 128);
    }
    unsigned cpu0 = m.pdm.cpu;
    int bad = 0, checked = 0;
    for (int pass = 0; pass < 2; pass++) {
        m.pdm.cpu = pass ? 0 : cpu0; /* pass 1: the portable kernels */
        for (int bk = 0; bk < FA_N_BANKS; bk++) {
            const fa_au_bank *b = &m.bank[bk];
            if (!b->k)
                continue;
            int dynamic = bk == FA_BANK_SVR_DYNAMIC || bk == FA_BANK_SVM_DYNAMIC;
            fa_au_models mm = m;
            for (int i = 0; i < FA_N_AU_R; i++) {
                mm.r_bank[i] = bk;
                mm.r_col[i] = i % b->k;
            }
            for (int nb = 1; nb <= FA_AU_BLOCK; nb++) {
                for (int f0 = 0; f0 < NF; f0 += nb) {
                    int nf = NF - f0 < nb ? NF - f0 : nb;
                    const double *xs[FA_AU_BLOCK];
                    double r[FA_AU_BLOCK][FA_N_AU_R], c[FA_AU_BLOCK][FA_N_AU_C];
                    double *rs[FA_AU_BLOCK], *cs[FA_AU_BLOCK];
                    for (int f = 0; f < nf; f++) {
                        xs[f] = x[f0 + f];
                        rs[f] = r[f];
                        cs[f] = c[f];
                    }
                    if (nf == 1)
                        fa_au_predict(&mm, xs[0], med, r[0], c[0]);
                    else
                        fa_au_predict_frames(&mm, nf, xs, med, rs, cs);
                    for (int f = 0; f < nf; f++)
                        for (int i = 0; i < FA_N_AU_R && i < b->k; i++) {
                            double want = ref_output(b, i, xs[f], dynamic ? med : NULL);
                            bad += memcmp(&r[f][i], &want, sizeof want) != 0;
                            checked++;
                        }
                }
            }
        }
    }
    CHECK(bad == 0 && checked > 0, "%s: %d of %d raw outputs differ from the plain sum", main_file, bad,
          checked);
    fa_au_models_free(&m);
}

int main(void)
{
    test_tiny_models();
    test_bad_files();
    test_real_models();
    test_predict_bits("models/AU_predictors/main_dynamic_svms.txt");
    test_predict_bits("models/AU_predictors/main_static_svms.txt");
    return tu_done();
}
