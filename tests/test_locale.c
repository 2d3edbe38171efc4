/* test_locale.c - numbers are read and written the same inside a host that sets a locale with a
 * decimal comma (de_DE.UTF-8; scripts/install-deps.sh generates it): OpenFace's text matrices
 * (PDM, triangulation), the landmarks CSV reader, and the CSV writer, each compared with what the
 * same calls give in the "C" locale. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *CSV_NAME = "2015-10-15-15-14";

typedef struct snapshot {
    fa_pdm pdm;
    fa_tris tris;
    fa_csv_row *rows;
    int n;
    char *written; /* the CSV the writer produced from rows */
    size_t written_len;
} snapshot;

static void take(snapshot *s, const char *tag)
{
    fa_err err;
    CHECK(fa_pdm_load(tu_shared_path("models/AU_predictors/In-the-wild_aligned_PDM_68.txt"), &s->pdm, &err) ==
              FACEAU_OK, "%s: PDM: %s", tag, err.msg);
    CHECK(fa_tris_load(tu_shared_path("models/tris_68_full.txt"), &s->tris, &err) == FACEAU_OK,
          "%s: triangulation: %s", tag, err.msg);
    fa_csv_reader *r;
    CHECK(fa_csv_reader_open(tu_shared_path("reference/fullprec/%s.csv", CSV_NAME), &r, &err) == FACEAU_OK,
          "%s: CSV: %s", tag, err.msg);
    int cap = 4096, got = 0;
    s->rows = calloc((size_t)cap, sizeof *s->rows);
    while (r && s->n < cap && fa_csv_reader_next(r, &s->rows[s->n], &got, &err) == FACEAU_OK && got)
        s->n++;
    CHECK(got == 0 && s->n > 100, "%s: read %d rows (%s)", tag, s->n, err.msg);
    fa_csv_reader_close(r);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.csv", tu_tmpdir("locale"), tag);
    fa_csv_writer *w;
    CHECK(fa_csv_writer_open(path, 0, 0, &w, &err) == FACEAU_OK, "%s: writer: %s", tag, err.msg);
    s->rows[0].pose[0] = 1.5e300; /* a value printf formats (beyond the integer fast path) */
    for (int i = 0; w && i < s->n; i++)
        CHECK(fa_csv_write_row(w, &s->rows[i], &err) == FACEAU_OK, "%s: row %d: %s", tag, i, err.msg);
    CHECK(fa_csv_writer_close(w, &err) == FACEAU_OK, "%s: close: %s", tag, err.msg);
    s->written = (char *)tu_read_file(path, &s->written_len);
    CHECK(s->written != NULL, "%s: read back %s", tag, path);
}

static void release(snapshot *s)
{
    fa_pdm_free(&s->pdm);
    fa_tris_free(&s->tris);
    free(s->rows);
    free(s->written);
}

int main(void)
{
    static snapshot c, de;
    take(&c, "C");
    if (!setlocale(LC_ALL, "de_DE.UTF-8")) {
        CHECK(0, "the de_DE.UTF-8 locale is not installed (scripts/install-deps.sh generates it)");
        return tu_done();
    }
    /* the host's locale really is in force: strtod takes a decimal comma now */
    CHECK(strtod("1,5", NULL) == 1.5, "de_DE.UTF-8 does not parse a decimal comma");
    take(&de, "de_DE");
    setlocale(LC_ALL, "C");
    CHECK(c.pdm.n == de.pdm.n && c.pdm.m == de.pdm.m &&
              !memcmp(c.pdm.mean, de.pdm.mean, sizeof(float) * 3 * (size_t)c.pdm.n) &&
              !memcmp(c.pdm.pc, de.pdm.pc, sizeof(float) * 3 * (size_t)c.pdm.n * (size_t)c.pdm.m) &&
              !memcmp(c.pdm.eig, de.pdm.eig, sizeof(float) * (size_t)c.pdm.m),
          "PDM read differently under de_DE.UTF-8");
    CHECK(c.pdm.mean[0] != (float)(int)c.pdm.mean[0], "PDM mean has fractions (%g)", c.pdm.mean[0]);
    CHECK(c.tris.n == de.tris.n && !memcmp(c.tris.idx, de.tris.idx, sizeof(int) * 3 * (size_t)c.tris.n),
          "triangulation read differently under de_DE.UTF-8");
    CHECK(c.n == de.n && !memcmp(c.rows, de.rows, sizeof *c.rows * (size_t)c.n),
          "landmarks CSV read differently under de_DE.UTF-8");
    CHECK(c.written_len == de.written_len && !memcmp(c.written, de.written, c.written_len),
          "CSV written differently under de_DE.UTF-8");
    char want[400]; /* pose_Tx has 1 decimal; printf in the C locale is the specification */
    snprintf(want, sizeof want, ", %.1f, ", 1.5e300);
    CHECK(c.written && strstr(c.written, want) != NULL, "1.5e300 not printed as %s", want);
    release(&c);
    release(&de);
    return tu_done();
}
