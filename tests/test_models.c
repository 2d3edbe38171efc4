/* test_models.c - OpenFace's matrix formats and the model directory lookup. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "testutil.h"

static FILE *text_file(const char *dir, const char *name, const char *content, char *path)
{
    if (snprintf(path, 4096, "%s/%s", dir, name) >= 4096)
        return NULL;
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return fopen(path, "rb");
}

static void test_textmat(const char *dir)
{
    char path[4096];
    fa_mat m;
    fa_err err;
    /* comment lines, blank lines and lines starting with a space are skipped */
    FILE *f = text_file(dir, "a.txt", "# a comment\n\n  also skipped\n2\n3\n6\n1 2 3\n4 5 -6.5\n", path);
    fa_skip_comments(f);
    CHECK(fa_textmat_read(f, path, &m, &err) == FACEAU_OK, "read: %s", err.msg);
    CHECK(m.rows == 2 && m.cols == 3 && m.type == FA_CV_64F, "dims %d %d %d", m.rows, m.cols, m.type);
    CHECK(m.data[0] == 1 && m.data[5] == -6.5, "values");
    fa_mat_free(&m);
    fclose(f);
    f = text_file(dir, "b.txt", "2 2 6\n1 2 3\n", path);
    CHECK(fa_textmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "b.txt") &&
              strstr(err.msg, "3 of 4"),
          "truncated: %s", err.msg);
    fclose(f);
    f = text_file(dir, "c.txt", "2 2 7\n1 2 3 4\n", path);
    CHECK(fa_textmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "type 7"),
          "bad type: %s", err.msg);
    fclose(f);
    f = text_file(dir, "d.txt", "100000 100000 6\n", path);
    CHECK(fa_textmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT, "huge header refused: %s", err.msg);
    fclose(f);
}

/* Declared sizes against the bytes left (issue 18): a 16-byte .dat asking for a 16384 x 16384
 * double matrix (2 GiB) and a text matrix asking for as many values are refused before any
 * allocation, within a second and without growing the process. */
static void test_declared_sizes(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/huge.dat", dir);
    FILE *f = fopen(path, "wb");
    int32_t h[4] = {16384, 16384, 6, 0};
    CHECK(f && fwrite(h, 4, 4, f) == 4 && fclose(f) == 0, "write %s", path);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    fa_mat m;
    fa_err err;
    f = fopen(path, "rb");
    CHECK(f && fa_binmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "huge.dat") &&
              strstr(err.msg, "declares 2147483648 bytes"),
          "2 GiB binary matrix: %s", err.msg);
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/huge.txt", dir);
    f = fopen(path, "w");
    CHECK(f && fputs("16384 16384 6\n1 2 3\n", f) >= 0 && fclose(f) == 0, "write %s", path);
    f = fopen(path, "r");
    CHECK(f && fa_textmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "huge.txt") &&
              strstr(err.msg, "declares"),
          "huge text matrix: %s", err.msg);
    if (f)
        fclose(f);
    getrusage(RUSAGE_SELF, &after);
    CHECK(after.ru_maxrss - before.ru_maxrss < 200 * 1024 && after.ru_utime.tv_sec - before.ru_utime.tv_sec < 1,
          "peak RSS grew %ld kB", after.ru_maxrss - before.ru_maxrss);
}

static void test_binmat(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/m.bin", dir) >= (int)sizeof path)
        return;
    FILE *f = fopen(path, "wb");
    int32_t h[3] = {2, 1, 5};
    float v[2] = {1.5f, -2.25f};
    int32_t h2[3] = {1, 2, 6};
    double d[1] = {3.0}; /* one of two values: truncated */
    fwrite(h, 4, 3, f);
    fwrite(v, 4, 2, f);
    fwrite(h2, 4, 3, f);
    fwrite(d, 8, 1, f);
    fclose(f);
    f = fopen(path, "rb");
    fa_mat m;
    fa_err err;
    CHECK(fa_binmat_read(f, path, &m, &err) == FACEAU_OK && m.rows == 2 && m.data[0] == 1.5 &&
              m.data[1] == -2.25,
          "float matrix");
    fa_mat_free(&m);
    CHECK(fa_binmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT && strstr(err.msg, "m.bin"),
          "truncated double matrix: %s", err.msg);
    CHECK(fa_binmat_read(f, path, &m, &err) == FACEAU_ERR_MODEL_CORRUPT, "eof header");
    fclose(f);
}

/* Every element type widened in place (the values sit in the tail of the doubles first): long
 * matrices of each type come back value for value. */
static void test_binmat_types(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/t.bin", dir) >= (int)sizeof path)
        return;
    enum { N = 37 };
    const int types[4] = {FA_CV_8U, FA_CV_32S, FA_CV_32F, FA_CV_64F};
    FILE *f = fopen(path, "wb");
    for (int t = 0; t < 4; t++) {
        int32_t h[3] = {N, 1, types[t]};
        fwrite(h, 4, 3, f);
        for (int i = 0; i < N; i++) {
            unsigned char u8 = (unsigned char)(i * 7 + 3);
            int32_t i32 = (i - 18) * 100003;
            float f32 = (float)(i - 18) * 0.37f;
            double f64 = (i - 18) * 1.0e-3 + 1.0 / 3.0;
            if (t == 0)
                fwrite(&u8, 1, 1, f);
            else if (t == 1)
                fwrite(&i32, 4, 1, f);
            else if (t == 2)
                fwrite(&f32, 4, 1, f);
            else
                fwrite(&f64, 8, 1, f);
        }
    }
    fclose(f);
    f = fopen(path, "rb");
    for (int t = 0; t < 4 && f; t++) {
        fa_mat m;
        fa_err err;
        CHECK(fa_binmat_read(f, path, &m, &err) == FACEAU_OK && m.rows == N && m.type == types[t],
              "type %d: %s", types[t], err.msg);
        int bad = 0;
        for (int i = 0; i < N && m.data; i++) {
            double want = t == 0   ? (double)(unsigned char)(i * 7 + 3)
                          : t == 1 ? (double)((i - 18) * 100003)
                          : t == 2 ? (double)((float)(i - 18) * 0.37f)
                                   : (i - 18) * 1.0e-3 + 1.0 / 3.0;
            bad += memcmp(&m.data[i], &want, sizeof want) != 0;
        }
        CHECK(bad == 0, "type %d: %d values differ", types[t], bad);
        fa_mat_free(&m);
    }
    if (f)
        fclose(f);
}

static void test_locate(const char *dir)
{
    char out[4096], err[4096];
    const char *models = tu_shared_path("models");
    /* -mloc as a directory, and as OpenFace's main_clnf_general.txt path */
    CHECK(faceau_models_locate(models, out, sizeof out, err, sizeof err) == FACEAU_OK && !strcmp(out, models),
          "dir hint: %s", out);
    CHECK(faceau_models_locate(tu_shared_path("models/main_clnf_general.txt"), out, sizeof out, err,
                               sizeof err) == FACEAU_OK && !strcmp(out, models),
          "file hint: %s", out);
    /* the environment, then nothing anywhere: every place is named */
    setenv("FACEAU_MODELS", models, 1);
    CHECK(faceau_models_locate(NULL, out, sizeof out, err, sizeof err) == FACEAU_OK, "env");
    setenv("FACEAU_MODELS", "/nonexistent/env", 1);
    setenv("XDG_DATA_HOME", dir, 1);
    CHECK(faceau_models_locate("/nonexistent/hint", out, sizeof out, err, sizeof err) ==
              FACEAU_ERR_MODEL_NOT_FOUND,
          "not found");
    CHECK(strstr(err, "-mloc: /nonexistent/hint") && strstr(err, "$FACEAU_MODELS: /nonexistent/env") &&
              strstr(err, "user data dir: ") && strstr(err, "/faceau/models") && strstr(err, "install prefix"),
          "message names every place: %s", err);
    /* the user data dir */
    char cmd[8300];
    int k = snprintf(cmd, sizeof cmd, "mkdir -p '%s/faceau/models' && cp -r '%s/AU_predictors' '%s/faceau/models/'",
             dir, models, dir);
    CHECK(k < (int)sizeof cmd && system(cmd) == 0, "copy");
    CHECK(faceau_models_locate(NULL, out, sizeof out, err, sizeof err) == FACEAU_OK && strstr(out, dir),
          "user data dir: %s", out);
}

/* The model arena: aligned, zeroed tables that do not overlap; the newest can give its end back;
 * a table larger than a reservation; trimming keeps what was handed out. */
static void test_arena(void)
{
    fa_large_arena a = {0};
    fa_err err = {0};
    unsigned char *p[6];
    const size_t sizes[6] = {100, 3 << 20, 1, 5000, 12345, 70u << 20};
    for (int i = 0; i < 6; i++) {
        p[i] = fa_large_arena_alloc(&a, sizes[i], &err, "test table");
        CHECK(p[i] && (uintptr_t)p[i] % 64 == 0, "table %d: %p", i, (void *)p[i]);
        if (!p[i])
            return;
        int zero = 1;
        for (size_t k = 0; k < sizes[i]; k += 4093)
            zero &= p[i][k] == 0;
        CHECK(zero && p[i][sizes[i] - 1] == 0, "table %d starts zeroed", i);
        if (i == 3) /* the newest gives back all but 10 bytes: the next starts right after */
            fa_large_arena_shrink(&a, p[3], 10);
        memset(p[i], 0x40 + i, i == 3 ? 10 : sizes[i]);
    }
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            const size_t si = i == 3 ? 10 : sizes[i];
            if (i != j)
                CHECK(p[i] + si <= p[j] || p[j] + (j == 3 ? 10 : sizes[j]) <= p[i],
                      "tables %d and %d overlap", i, j);
        }
#if defined(__linux__)
    CHECK(p[3] + 64 == p[4], "a shrunk table's end is reused");
#endif
    fa_large_arena_trim(&a);
    unsigned char *q = fa_large_arena_alloc(&a, 1000, &err, "after trim");
    CHECK(q && q[0] == 0 && q[999] == 0, "a table after trimming");
    int kept = 1;
    for (int i = 0; i < 6; i++)
        kept &= p[i][0] == 0x40 + i && p[i][(i == 3 ? 10 : sizes[i]) - 1] == 0x40 + i;
    CHECK(kept, "trimming keeps every table");
    fa_large_arena_free(&a);
    CHECK(a.chunks == NULL, "freed");
    fa_large_arena_free(&a); /* twice is fine */
}

int main(void)
{
    const char *dir = tu_tmpdir("models");
    test_arena();
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    test_textmat(d);
    test_binmat(d);
    test_declared_sizes(d);
    test_binmat_types(d);
    test_locate(d);
    CHECK(!strcmp(faceau_status_string(FACEAU_ERR_MODEL_CORRUPT), "model file corrupt or truncated"),
          "status string");
    CHECK(!strcmp(faceau_status_string((faceau_status)999), "unknown status"), "unknown status");
    return tu_done();
}
