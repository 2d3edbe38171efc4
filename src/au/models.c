/* models.c - OpenFace's AU model files and its linear SVR/SVM predictions.
 *
 * The main file (main_dynamic_svms.txt / main_static_svms.txt) names the AU list, the PDM and
 * the triangulation. Each .dat of the list starts with an int32 bank code; the banks keep the
 * first file's means only (OpenFace compares later means but uses the first). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PK_LANES 2
#include "au/predict_kernels.h"

/* OpenFace's regressor codes (FaceAnalyser.h RegressorType). */
enum { CODE_SVR_STATIC = 0, CODE_SVR_DYNAMIC = 1, CODE_SVM_STATIC = 4, CODE_SVM_DYNAMIC = 5 };

static const char *const k_names_r[FA_N_AU_R] = {"AU01", "AU02", "AU04", "AU05", "AU06", "AU07",
                                                 "AU09", "AU10", "AU12", "AU14", "AU15", "AU17",
                                                 "AU20", "AU23", "AU25", "AU26", "AU45"};
static const char *const k_names_c[FA_N_AU_C] = {
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU28", "AU45"};

const char *faceau_au_intensity_name(int i)
{
    return i >= 0 && i < FA_N_AU_R ? k_names_r[i] : NULL;
}

const char *faceau_au_presence_name(int i)
{
    return i >= 0 && i < FA_N_AU_C ? k_names_c[i] : NULL;
}

static void bank_free(fa_au_bank *b)
{
    free(b->means);
    free(b->wt);
    free(b->bias);
    free(b->cutoff);
    free(b->pos);
    free(b->neg);
    free(b->names);
    memset(b, 0, sizeof *b);
}

void fa_au_models_free(fa_au_models *m)
{
    if (!m)
        return;
    for (int i = 0; i < FA_N_BANKS; i++)
        bank_free(&m->bank[i]);
    fa_pdm_free(&m->pdm);
    fa_tris_free(&m->tris);
}

static faceau_status read_f64(FILE *f, const char *path, double *v, fa_err *err)
{
    if (fread(v, 8, 1, f) != 1)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: file ends early (truncated?)", path);
    return FACEAU_OK;
}

/* Grows every per-AU array of the bank by one slot. */
static faceau_status bank_grow(fa_au_bank *b, int dim, const char *path, fa_err *err)
{
    int k = b->k + 1;
    double *wt = realloc(b->wt, (size_t)k * (size_t)dim * sizeof *wt);
    if (wt)
        b->wt = wt;
    double *bias = realloc(b->bias, (size_t)k * sizeof *bias);
    if (bias)
        b->bias = bias;
    double *cut = realloc(b->cutoff, (size_t)k * sizeof *cut);
    if (cut)
        b->cutoff = cut;
    double *pos = realloc(b->pos, (size_t)k * sizeof *pos);
    if (pos)
        b->pos = pos;
    double *neg = realloc(b->neg, (size_t)k * sizeof *neg);
    if (neg)
        b->neg = neg;
    char(*names)[16] = realloc(b->names, (size_t)k * sizeof *names);
    if (names)
        b->names = names;
    if (!wt || !bias || !cut || !pos || !neg || !names)
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory reading %s", path);
    return FACEAU_OK;
}

/* Reads one AU model file's body (after its code) into bank b under name. */
static faceau_status read_regressor(FILE *f, const char *path, int code, const char *name,
                                    fa_au_bank *b, fa_err *err)
{
    faceau_status st;
    double cutoff = -1, bias, pos = 1, neg = 0;
    fa_mat means = {0}, w = {0};
    if (code == CODE_SVR_DYNAMIC && (st = read_f64(f, path, &cutoff, err)))
        return st;
    if ((st = fa_binmat_read(f, path, &means, err)))
        return st;
    if ((st = fa_binmat_read(f, path, &w, err)))
        goto out;
    int dim = means.rows * means.cols;
    if (dim <= 0 || w.rows != dim || w.cols != 1 || (b->k && dim != b->dim)) {
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                     "%s: weights are %dx%d for %d means (expected %dx1)", path, w.rows, w.cols,
                     dim, dim);
        goto out;
    }
    if ((st = read_f64(f, path, &bias, err)))
        goto out;
    if ((code == CODE_SVM_STATIC || code == CODE_SVM_DYNAMIC) &&
        ((st = read_f64(f, path, &pos, err)) || (st = read_f64(f, path, &neg, err))))
        goto out;
    if ((st = bank_grow(b, dim, path, err)))
        goto out;
    if (!b->means) { /* the bank keeps the first file's means */
        b->means = means.data;
        means.data = NULL;
        b->dim = dim;
    }
    memcpy(b->wt + (size_t)b->k * (size_t)dim, w.data, (size_t)dim * sizeof *w.data);
    b->bias[b->k] = bias;
    b->cutoff[b->k] = cutoff;
    b->pos[b->k] = pos;
    b->neg[b->k] = neg;
    snprintf(b->names[b->k], sizeof b->names[b->k], "%s", name);
    b->k++;
out:
    fa_mat_free(&means);
    fa_mat_free(&w);
    return st;
}

static faceau_status read_model_file(const char *path, const char *name, fa_au_models *m,
                                     fa_err *err)
{
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st == FACEAU_ERR_IO ? fa_fail(err, FACEAU_ERR_MODEL_NOT_FOUND,
                                             "%s: AU model file missing or unreadable", path)
                                   : st;
    int32_t code;
    if (fread(&code, 4, 1, f) != 1) {
        fclose(f);
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: empty AU model file", path);
    }
    int bank = code == CODE_SVR_STATIC    ? FA_BANK_SVR_STATIC
               : code == CODE_SVR_DYNAMIC ? FA_BANK_SVR_DYNAMIC
               : code == CODE_SVM_STATIC  ? FA_BANK_SVM_STATIC
               : code == CODE_SVM_DYNAMIC ? FA_BANK_SVM_DYNAMIC
                                          : -1;
    if (bank < 0) {
        fclose(f);
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: unknown AU model type %d", path,
                       (int)code);
    }
    st = read_regressor(f, path, code, name, &m->bank[bank], err);
    fclose(f);
    return st;
}

/* Trims trailing white space in place. */
static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

/* The directory part of path ("." if none); fails if it does not fit. */
static faceau_status dir_of(const char *path, char *dir, size_t n, fa_err *err)
{
    if (snprintf(dir, n, "%s", path) >= (int)n)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "%s: path too long", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    return FACEAU_OK;
}

/* Reads the AU list: each line "<relative .dat> <AU name>" (one name per model file here). */
static faceau_status read_au_list(const char *path, fa_au_models *m, fa_err *err)
{
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return fa_fail(err, FACEAU_ERR_MODEL_NOT_FOUND, "%s: AU list missing or unreadable", path);
    char dir[4096], line[4096], full[8192];
    int nread = 0;
    if ((st = dir_of(path, dir, sizeof dir, err))) {
        fclose(f);
        return st;
    }
    while (fgets(line, sizeof line, f)) {
        rtrim(line);
        char *sp = strchr(line, ' ');
        if (!line[0])
            continue;
        if (!sp) {
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: line '%s' names no AU", path, line);
            break;
        }
        *sp = '\0';
        const char *name = sp + 1;
        if (strchr(name, ',')) {
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                         "%s: multi-AU model files ('%s') are not supported", path, name);
            break;
        }
        if ((st = fa_path_join(full, sizeof full, dir, line, err)) ||
            (st = read_model_file(full, name, m, err)))
            break;
        nread++;
    }
    fclose(f);
    if (!st && nread == 0)
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: lists no AU models", path);
    return st;
}

static int find_in_banks(const fa_au_models *m, const int *banks, int nb, const char *name,
                         int *bank, int *col)
{
    int found = 0;
    for (int i = 0; i < nb; i++) {
        const fa_au_bank *b = &m->bank[banks[i]];
        for (int j = 0; j < b->k; j++) {
            if (strcmp(b->names[j], name) == 0) {
                *bank = banks[i];
                *col = j;
                found++;
            }
        }
    }
    return found;
}

/* Maps the fixed output order (sorted names) onto bank columns; every AU needs one model. */
static faceau_status map_outputs(const char *path, fa_au_models *m, fa_err *err)
{
    static const int svr[] = {FA_BANK_SVR_STATIC, FA_BANK_SVR_DYNAMIC};
    static const int svm[] = {FA_BANK_SVM_STATIC, FA_BANK_SVM_DYNAMIC};
    for (int i = 0; i < FA_N_AU_R; i++)
        if (find_in_banks(m, svr, 2, k_names_r[i], &m->r_bank[i], &m->r_col[i]) != 1)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "%s: needs exactly one intensity model for %s", path, k_names_r[i]);
    for (int i = 0; i < FA_N_AU_C; i++)
        if (find_in_banks(m, svm, 2, k_names_c[i], &m->c_bank[i], &m->c_col[i]) != 1)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "%s: needs exactly one presence model for %s", path, k_names_c[i]);
    for (int b = 0; b < FA_N_BANKS; b++)
        if (m->bank[b].k && m->bank[b].dim != FA_FEAT_DIM)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "%s: AU models expect %d features, faceau computes %d", path,
                           m->bank[b].dim, FA_FEAT_DIM);
    return FACEAU_OK;
}

/* Lays each bank's weights out feature-major (dim x kp), so one pass over the features feeds
 * every AU of the bank: the per-AU sums keep their order, the loads are shared. Rows are padded
 * with zeros to a whole number of vectors (predict_kernels.h), whose extra lanes are dropped. */
static faceau_status transpose_banks(fa_au_models *m, fa_err *err)
{
    for (int b = 0; b < FA_N_BANKS; b++) {
        fa_au_bank *bk = &m->bank[b];
        if (!bk->k)
            continue;
        if (bk->k > FA_MAX_BANK)
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "more than %d AU models in one bank",
                           FA_MAX_BANK);
        int kp = (bk->k + FA_AU_LANES - 1) / FA_AU_LANES * FA_AU_LANES;
        double *w = fa_calloc((size_t)bk->dim * (size_t)kp, sizeof *w, err, "AU weights");
        if (!w)
            return FACEAU_ERR_NOMEM;
        for (int j = 0; j < bk->k; j++)
            for (int i = 0; i < bk->dim; i++)
                w[(size_t)i * (size_t)kp + (size_t)j] = bk->wt[(size_t)j * (size_t)bk->dim + (size_t)i];
        free(bk->wt);
        bk->wt = w;
        bk->kp = kp;
    }
    return FACEAU_OK;
}

faceau_status fa_au_models_load(const char *main_file, fa_au_models *m, fa_err *err)
{
    memset(m, 0, sizeof *m);
    FILE *f;
    faceau_status st = fa_fopen_read(main_file, &f, err);
    if (st)
        return fa_fail(err, FACEAU_ERR_MODEL_NOT_FOUND, "%s: AU main model file missing", main_file);
    char dir[4096], line[4096], full[8192];
    int have_au = 0, have_pdm = 0, have_tris = 0;
    st = dir_of(main_file, dir, sizeof dir, err);
    while (!st && fgets(line, sizeof line, f)) {
        char module[64], rel[4000];
        if (sscanf(line, "%63s %3999s", module, rel) != 2)
            continue;
        if ((st = fa_path_join(full, sizeof full, dir, rel, err)))
            break;
        if (strcmp(module, "AUPredictor") == 0) {
            st = read_au_list(full, m, err);
            have_au = 1;
        } else if (strcmp(module, "PDM") == 0 && !have_pdm) {
            st = fa_pdm_load(full, &m->pdm, err);
            have_pdm = 1;
        } else if (strcmp(module, "Triangulation") == 0 && !have_tris) {
            st = fa_tris_load(full, &m->tris, err);
            have_tris = 1;
        }
    }
    fclose(f);
    if (!st && (!have_au || !have_pdm || !have_tris))
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                     "%s: must name an AUPredictor, a PDM and a Triangulation", main_file);
    if (!st && m->pdm.n != FA_N_LANDMARKS)
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: the PDM has %d points, not 68", main_file,
                     m->pdm.n);
    if (!st)
        st = map_outputs(main_file, m, err);
    if (!st)
        st = transpose_banks(m, err);
    if (st)
        fa_au_models_free(m);
    return st;
}

static void banks_portable(const fa_au_models *m, int nf, const double *const *x,
                           const double *median, double (*y)[FA_N_BANKS][FA_MAX_BANK])
{
    pk_banks(m, nf, x, median, y);
}

void fa_au_predict_frames(const fa_au_models *m, int nf, const double *const *x,
                          const double *median, double *const *r, double *const *c)
{
    double y[FA_AU_BLOCK][FA_N_BANKS][FA_MAX_BANK];
#if FA_BUILD_AVX2
    /* the kernels the PDM of these models picked at load (as the analyser's HOG and warp) */
    if (m->pdm.cpu & FA_CPU_AVX2)
        fa_au_banks_avx2(m, nf, x, median, y);
    else
#endif
        banks_portable(m, nf, x, median, y);
    for (int f = 0; f < nf; f++) {
        for (int i = 0; i < FA_N_AU_R; i++)
            r[f][i] = y[f][m->r_bank[i]][m->r_col[i]];
        for (int i = 0; i < FA_N_AU_C; i++) {
            const fa_au_bank *b = &m->bank[m->c_bank[i]];
            c[f][i] = y[f][m->c_bank[i]][m->c_col[i]] > 0 ? b->pos[m->c_col[i]] : b->neg[m->c_col[i]];
        }
    }
}

void fa_au_predict(const fa_au_models *m, const double *x, const double *median, double *r,
                   double *c)
{
    fa_au_predict_frames(m, 1, &x, median, &r, &c);
}
