/* test_csv.c - OpenFace's CSV format: byte-identical round trips of OpenFace's own outputs,
 * hand-derived number formatting, column selection, reader errors, write failures. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *tmp;

static const char *tmp_path(const char *name)
{
    static char bufs[4][4096];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, 4096, "%s/%s", tmp, name);
    return b;
}

static int spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* 0 if the files are byte-identical, else the 1-based line of the first difference (-1: I/O). */
static long first_diff_line(const char *a, const char *b)
{
    size_t na, nb;
    char *x = (char *)tu_read_file(a, &na), *y = (char *)tu_read_file(b, &nb);
    long line = -1;
    if (x && y) {
        size_t i = 0, n = na < nb ? na : nb;
        line = 1;
        while (i < n && x[i] == y[i])
            line += x[i++] == '\n';
        if (i == n && na == nb)
            line = 0;
    }
    free(x);
    free(y);
    return line;
}

typedef struct rows {
    fa_csv_row *r;
    size_t n;
    unsigned groups;
} rows;

static int load_rows(const char *path, rows *out)
{
    fa_err err = {0};
    fa_csv_reader *rd;
    memset(out, 0, sizeof *out);
    if (fa_csv_reader_open(path, &rd, &err) != FACEAU_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    out->groups = fa_csv_reader_groups(rd);
    size_t cap = 0;
    for (;;) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            fa_csv_row *p = realloc(out->r, cap * sizeof *p);
            if (!p)
                break;
            out->r = p;
        }
        int got;
        if (fa_csv_reader_next(rd, &out->r[out->n], &got, &err) != FACEAU_OK) {
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        if (!got) {
            fa_csv_reader_close(rd);
            return 0;
        }
        out->n++;
    }
    fa_csv_reader_close(rd);
    free(out->r);
    return -1;
}

static int write_rows(const char *path, const rows *rs, unsigned outputs, int image_mode)
{
    fa_err err = {0};
    fa_csv_writer *w;
    if (fa_csv_writer_open(path, outputs, image_mode, &w, &err) != FACEAU_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    for (size_t i = 0; i < rs->n; i++)
        if (fa_csv_write_row(w, &rs->r[i], &err) != FACEAU_OK)
            fprintf(stderr, "%s\n", err.msg);
    int rc = fa_csv_writer_close(w, &err) == FACEAU_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    return rc;
}

/* Writes rs pre-rewrite, then rewrites its AU columns with the AU values in rs (which come from
 * a post-processed file) into final. */
static int write_and_rewrite(const rows *rs, const char *pre, const char *final)
{
    double *in = malloc((rs->n + 1) * FA_N_AU_R * sizeof *in);
    double *pr = malloc((rs->n + 1) * FA_N_AU_C * sizeof *pr);
    int rc = -1;
    if (in && pr && write_rows(pre, rs, 0, 0) == 0) {
        for (size_t i = 0; i < rs->n; i++) {
            memcpy(in + i * FA_N_AU_R, rs->r[i].au_r, sizeof rs->r[i].au_r);
            memcpy(pr + i * FA_N_AU_C, rs->r[i].au_c, sizeof rs->r[i].au_c);
        }
        fa_err err = {0};
        rc = fa_csv_rewrite_aus(pre, final, in, pr, rs->n, &err) == FACEAU_OK ? 0 : -1;
        if (rc)
            fprintf(stderr, "%s\n", err.msg);
    }
    free(in);
    free(pr);
    return rc;
}

/* FeatureExtraction outputs: reader -> writer -> AU rewrite reproduces the file byte for byte. */
static void test_roundtrip_feature_extraction(void)
{
    static const char *names[] = {"2015-10-15-15-14", "sequence", "0217_03_006_alanis_morissette",
                                  "0417_02_003_bill_clinton", "1192_01_006_julia_roberts",
                                  "1815_01_008_tony_blair", "1878_01_002_vladimir_putin",
                                  "default", "multi_face", "portrait_1080x1920"};
    static const size_t nrows[] = {842, 30, 285, 330, 259, 205, 182, 288, 702, 842};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *ref = tu_shared_path("reference/%s.csv", names[k]);
        rows rs;
        CHECK(load_rows(ref, &rs) == 0, "%s: read", ref);
        CHECK(rs.n == nrows[k], "%s: %zu rows", ref, rs.n);
        CHECK(rs.groups == 0xff, "%s: groups 0x%x", ref, rs.groups);
        CHECK(write_and_rewrite(&rs, tmp_path("pre.csv"), tmp_path("final.csv")) == 0, "%s", ref);
        long d = first_diff_line(tmp_path("final.csv"), ref);
        CHECK(d == 0, "%s: rewritten output differs from OpenFace's at line %ld", ref, d);
        free(rs.r);
    }
}

/* Before the rewrite, AU _c are written with 1 decimal, the rest as in the final file. */
static void test_pre_rewrite_format(void)
{
    rows rs;
    const char *ref = tu_shared_path("reference/sequence.csv");
    CHECK(load_rows(ref, &rs) == 0, "read %s", ref);
    CHECK(write_rows(tmp_path("pre.csv"), &rs, 0, 0) == 0, "write");
    tu_csv pre;
    CHECK(tu_csv_load(tmp_path("pre.csv"), &pre) == 0, "load pre");
    size_t len;
    char *text = (char *)tu_read_file(tmp_path("pre.csv"), &len);
    /* Row 1 of sequence.csv ends (post-processed) in "..., 0.00, 1.00, 0.00, 0.00"; OpenFace's
     * own pre-rewrite format is 1 decimal, as in the FaceLandmarkImg files. */
    char *l2 = text ? strchr(text, '\n') : NULL;
    char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    CHECK(l3 && l3 - l2 > 40, "line 2 present");
    if (l3) {
        *l3 = '\0';
        const char *tail = l3 - strlen(", 0.0, 1.0, 0.0, 0.0");
        CHECK(strcmp(tail, ", 0.0, 1.0, 0.0, 0.0") == 0, "pre-rewrite _c tail '%s'", tail);
        const char *head = "1, 0, 0.000, 0.98, 1, 0.255259, 0.101161, -0.961566, 0.049003, "
                           "0.098367, -0.993943, 0.154, 0.102, ";
        CHECK(strncmp(l2 + 1, head, strlen(head)) == 0, "row 1 starts like OpenFace's");
    }
    CHECK(pre.nrows == 30 && pre.ncols == 714, "pre: %d x %d", pre.nrows, pre.ncols);
    free(text);
    tu_csv_free(&pre);
    free(rs.r);
}

/* Outputs that OpenFace did not post-process: reader -> writer is the identity. */
static void test_roundtrip_plain(void)
{
    static const char *files[] = {"images/Obama.csv", "images/child2.csv", "images/24795717_1.csv",
                                  "multi_face_all_faces.csv"};
    static const int image[] = {1, 1, 1, 0};
    static const size_t nrows[] = {1, 1, 3, 2125};
    for (size_t k = 0; k < 4; k++) {
        const char *ref = tu_shared_path("reference/%s", files[k]);
        rows rs;
        CHECK(load_rows(ref, &rs) == 0, "%s: read", ref);
        CHECK(rs.n == nrows[k], "%s: %zu rows", ref, rs.n);
        CHECK(write_rows(tmp_path("plain.csv"), &rs, 0, image[k]) == 0, "%s: write", ref);
        long d = first_diff_line(tmp_path("plain.csv"), ref);
        CHECK(d == 0, "%s: output differs from OpenFace's at line %ld", ref, d);
        if (image[k]) {
            for (size_t i = 0; i < rs.n; i++)
                CHECK(rs.r[i].face_id == (int)i && rs.r[i].success == 1, "%s face %zu", ref, i);
            CHECK(rs.groups == 0xff, "%s groups 0x%x", ref, rs.groups);
        }
        free(rs.r);
    }
}

/* README: face_id 0: 702 rows, 1: 659, 2: 634, 3: 130; 1879 successful rows. */
static void test_reader_multi_face(void)
{
    rows rs;
    CHECK(load_rows(tu_shared_path("reference/multi_face_all_faces.csv"), &rs) == 0, "read");
    size_t per[4] = {0}, ok = 0, other = 0;
    for (size_t i = 0; i < rs.n; i++) {
        if (rs.r[i].face_id >= 0 && rs.r[i].face_id < 4)
            per[rs.r[i].face_id]++;
        else
            other++;
        ok += rs.r[i].success == 1;
    }
    CHECK(per[0] == 702 && per[1] == 659 && per[2] == 634 && per[3] == 130 && other == 0,
          "faces %zu %zu %zu %zu %zu", per[0], per[1], per[2], per[3], other);
    CHECK(ok == 1879, "success rows %zu", ok);
    long last = rs.n ? rs.r[rs.n - 1].frame : 0;
    CHECK(last == 702, "last frame %ld", last);
    free(rs.r);
}

/* The reader's fields against an independent parse (testutil) of the same file. */
static void test_reader_fields(void)
{
    const char *ref = tu_shared_path("reference/fullprec/sequence.csv");
    rows rs;
    tu_csv t;
    CHECK(load_rows(ref, &rs) == 0, "read");
    CHECK(tu_csv_load(ref, &t) == 0, "tu load");
    struct { const char *name; size_t off; } f[] = {
        {"timestamp", offsetof(fa_csv_row, timestamp)},
        {"confidence", offsetof(fa_csv_row, confidence)},
        {"gaze_angle_y", offsetof(fa_csv_row, gaze) + 7 * sizeof(double)},
        {"eye_lmk_x_0", offsetof(fa_csv_row, eye_lmk2d)},
        {"eye_lmk_y_55", offsetof(fa_csv_row, eye_lmk2d) + 111 * sizeof(double)},
        {"eye_lmk_Z_55", offsetof(fa_csv_row, eye_lmk3d) + 167 * sizeof(double)},
        {"pose_Tx", offsetof(fa_csv_row, pose)},
        {"pose_Rz", offsetof(fa_csv_row, pose) + 5 * sizeof(double)},
        {"x_0", offsetof(fa_csv_row, lmk2d)},
        {"y_67", offsetof(fa_csv_row, lmk2d) + 135 * sizeof(double)},
        {"X_5", offsetof(fa_csv_row, lmk3d) + 5 * sizeof(double)},
        {"Z_67", offsetof(fa_csv_row, lmk3d) + 203 * sizeof(double)},
        {"p_scale", offsetof(fa_csv_row, params)},
        {"p_33", offsetof(fa_csv_row, params) + 39 * sizeof(double)},
        {"AU01_r", offsetof(fa_csv_row, au_r)},
        {"AU45_r", offsetof(fa_csv_row, au_r) + 16 * sizeof(double)},
        {"AU28_c", offsetof(fa_csv_row, au_c) + 16 * sizeof(double)},
        {"AU45_c", offsetof(fa_csv_row, au_c) + 17 * sizeof(double)},
    };
    CHECK(t.nrows == (int)rs.n && rs.n == 30, "rows %zu %d", rs.n, t.nrows);
    int bad = 0;
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        int col = tu_csv_col(&t, f[k].name);
        CHECK(col >= 0, "column %s", f[k].name);
        for (size_t i = 0; col >= 0 && i < rs.n && (int)i < t.nrows; i++) {
            double v;
            memcpy(&v, (const char *)&rs.r[i] + f[k].off, sizeof v);
            bad += v != tu_csv_at(&t, (int)i, col);
        }
    }
    CHECK(bad == 0, "%d cells differ from the independent parse", bad);
    for (size_t i = 0; i < rs.n; i++)
        CHECK(rs.r[i].frame == (long)i + 1 && rs.r[i].face_id == 0 && rs.r[i].success == 1,
              "row %zu frame %ld", i, rs.r[i].frame);
    tu_csv_free(&t);
    free(rs.r);
}

/* Splits line (NUL-terminated, modified) on ", "; returns the count. */
static int split(char *line, char **tok, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        tok[n++] = p;
        char *c = strstr(p, ", ");
        if (!c)
            break;
        *c = '\0';
        p = c + 2;
    }
    return n;
}

/* s (a fixed-point decimal) lies exactly halfway between two dp-decimal numbers. */
static int is_tie(const char *s, int dp)
{
    const char *dot = strchr(s, '.');
    if (!dot || (int)strlen(dot + 1) <= dp || dot[1 + dp] != '5')
        return 0;
    for (const char *p = dot + 2 + dp; *p; p++)
        if (*p != '0')
            return 0;
    return 1;
}

/* Reading the 6-decimal files and writing at OpenFace's decimals gives the standard files,
 * except where the 6-decimal value is an exact tie (the true value was on either side). */
static void test_fullprec_to_standard(const char *dir, const char *name, int image_mode)
{
    const char *full = tu_shared_path("reference/%sfullprec/%s", dir, name);
    const char *std_ = tu_shared_path("reference/%s%s", dir, name);
    rows rs;
    CHECK(load_rows(full, &rs) == 0, "read %s", full);
    if (image_mode)
        CHECK(write_rows(tmp_path("fp.csv"), &rs, 0, 1) == 0, "write");
    else
        CHECK(write_and_rewrite(&rs, tmp_path("fp_pre.csv"), tmp_path("fp.csv")) == 0, "write");
    size_t la, lb, lc;
    char *a = (char *)tu_read_file(tmp_path("fp.csv"), &la), *b = (char *)tu_read_file(std_, &lb), *c = (char *)tu_read_file(full, &lc);
    CHECK(a && b && c, "slurp");
    char **ta = malloc(3 * 800 * sizeof *ta);
    char **tb = ta + 800, **tc = ta + 1600;
    long cells = 0, ties = 0, bad = 0;
    char *sa, *sb, *sc;
    char *la_ = a ? strtok_r(a, "\n", &sa) : NULL, *lb_ = b ? strtok_r(b, "\n", &sb) : NULL;
    char *lc_ = c ? strtok_r(c, "\n", &sc) : NULL;
    int line = 1;
    while (ta && la_ && lb_ && lc_) {
        int na = split(la_, ta, 800), nb = split(lb_, tb, 800), nc = split(lc_, tc, 800);
        if (na != nb || nb != nc) {
            bad++;
            break;
        }
        for (int i = 0; i < na; i++, cells++) {
            if (strcmp(ta[i], tb[i]) == 0)
                continue;
            const char *dot = strchr(tb[i], '.');
            int dp = dot ? (int)strlen(dot + 1) : 0;
            if (line > 1 && is_tie(tc[i], dp) && fabs(strtod(ta[i], NULL) - strtod(tb[i], NULL)) <
                                                     1.000001 * pow(10, -dp))
                ties++;
            else if (bad++ < 5)
                fprintf(stderr, "%s line %d col %d: wrote %s, OpenFace %s (6 dp: %s)\n", name,
                        line, i + 1, ta[i], tb[i], tc[i]);
        }
        la_ = strtok_r(NULL, "\n", &sa);
        lb_ = strtok_r(NULL, "\n", &sb);
        lc_ = strtok_r(NULL, "\n", &sc);
        line++;
    }
    CHECK(!la_ && !lb_ && !lc_, "%s: same number of lines", name);
    CHECK(bad == 0, "%s: %ld cells differ other than at exact ties", name, bad);
    CHECK(ties * 10000 < cells, "%s: %ld tie cells of %ld", name, ties, cells);
    printf("fullprec %s: %ld cells, %ld differ (all at exact 6-dp ties)\n", name, cells, ties);
    free(ta);
    free(a);
    free(b);
    free(c);
    free(rs.r);
}

static void expect_fixed(double v, int dp, const char *want)
{
    char buf[FA_CSV_FIXED_MAX];
    size_t n = fa_csv_format_fixed(buf, v, dp);
    CHECK(strcmp(buf, want) == 0 && n == strlen(want), "%.17g at %d dp: '%s', want '%s'", v, dp,
          buf, want);
}

/* Decimal values from the exact binary expansions of the doubles (e.g. 2.675 is
 * 2.67499999999999982236431605997495353221893310546875). */
static void test_format_hand(void)
{
    expect_fixed(-0.0, 2, "-0.00");
    expect_fixed(-0.004, 2, "-0.00");
    expect_fixed(-0.005, 2, "-0.01");     /* -0.005000000000000000104 */
    expect_fixed(0.0, 2, "0.00");
    expect_fixed(0.125, 2, "0.12");       /* exact tie: to even */
    expect_fixed(0.375, 2, "0.38");       /* exact tie: to even */
    expect_fixed(-0.125, 2, "-0.12");
    expect_fixed(2.5, 0, "2");
    expect_fixed(3.5, 0, "4");
    expect_fixed(0.5, 0, "0");
    expect_fixed(-0.5, 0, "-0");
    expect_fixed(0.005, 2, "0.01");       /* 0.005000000000000000104 */
    expect_fixed(1.005, 2, "1.00");       /* 1.00499999999999989 */
    expect_fixed(2.675, 2, "2.67");
    expect_fixed(0.045, 2, "0.04");       /* 0.04499999999999999833 */
    expect_fixed(0.995, 2, "0.99");
    expect_fixed(9.995, 2, "9.99");
    expect_fixed(0.25, 1, "0.2");
    expect_fixed(0.35, 1, "0.3");         /* 0.34999999999999997780 */
    expect_fixed(0.45, 1, "0.5");         /* 0.45000000000000001110 */
    expect_fixed(123.45, 1, "123.5");     /* 123.45000000000000284 */
    expect_fixed(0.0005, 3, "0.001");
    expect_fixed(1.0005, 3, "1.000");     /* 1.00049999999999994493 */
    expect_fixed(5e-7, 6, "0.000000");    /* 4.99999999999999977e-7 */
    expect_fixed(1.5e-6, 6, "0.000002");  /* 1.50000000000000004e-6 */
    expect_fixed(-123456789.125, 2, "-123456789.12");
    expect_fixed(999999999999.9995, 3, "1000000000000.000"); /* ...99951171875, fast path edge */
    expect_fixed(1e15, 2, "1000000000000000.00");
    expect_fixed(4503599627370497.0, 1, "4503599627370497.0");
    expect_fixed(1e-320, 6, "0.000000");
    expect_fixed(-1e-320, 1, "-0.0");
    expect_fixed(INFINITY, 2, "inf");
    expect_fixed(-INFINITY, 3, "-inf");
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The fast formatter against the C library's printf over many values, ties included. */
static void test_format_vs_printf(void)
{
    uint64_t s = 0x9E3779B97F4A7C15u;
    long bad = 0, n = 0;
    for (int i = 0; i < 400000; i++) {
        uint64_t r = rng(&s);
        double v;
        switch (i % 5) {
        case 0: /* any bit pattern; huge ones are slow for printf, so keep few */
            if (i % 50 == 0)
                memcpy(&v, &r, sizeof v);
            else
                v = ldexp((double)(r >> 11), (int)(r % 64) - 53);
            break;
        case 1: v = ldexp((double)(r >> 11), -(int)(r % 80)); break;  /* dyadic: exact ties */
        case 2: v = ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 2000; break;
        case 3: v = (double)(int64_t)(r >> 30) / 1000.0 + 0.0005; break;
        default: v = ldexp((double)(r >> 11), (int)(r % 120) - 100); break;
        }
        if (r & 1)
            v = -v;
        if (isnan(v))
            continue;
        for (int dp = 0; dp <= 6; dp++) {
            char a[FA_CSV_FIXED_MAX], b[FA_CSV_FIXED_MAX + 8];
            fa_csv_format_fixed(a, v, dp);
            snprintf(b, sizeof b, "%.*f", dp, v);
            n++;
            if (strcmp(a, b) != 0 && bad++ < 5)
                fprintf(stderr, "%a at %d dp: '%s' vs printf '%s'\n", v, dp, a, b);
        }
        double w = nextafter(v, 0);
        char a[FA_CSV_FIXED_MAX], b[FA_CSV_FIXED_MAX + 8];
        fa_csv_format_fixed(a, w, 2);
        snprintf(b, sizeof b, "%.2f", w);
        bad += strcmp(a, b) != 0;
    }
    CHECK(bad == 0, "%ld of %ld formatted values differ from printf", bad, n);
}

static const char *AU_HEADER =
    "AU01_r, AU02_r, AU04_r, AU05_r, AU06_r, AU07_r, AU09_r, AU10_r, AU12_r, AU14_r, AU15_r, "
    "AU17_r, AU20_r, AU23_r, AU25_r, AU26_r, AU45_r, AU01_c, AU02_c, AU04_c, AU05_c, AU06_c, "
    "AU07_c, AU09_c, AU10_c, AU12_c, AU14_c, AU15_c, AU17_c, AU20_c, AU23_c, AU25_c, AU26_c, "
    "AU28_c, AU45_c\n";

/* -aus only (RecorderCSV: the leading columns, then only the AU block), with edge values. */
static void test_aus_only(void)
{
    fa_err err = {0};
    fa_csv_writer *w;
    const char *path = tmp_path("aus.csv");
    CHECK(fa_csv_writer_open(path, FACEAU_OUT_AUS, 0, &w, &err) == FACEAU_OK, "%s", err.msg);
    fa_csv_row row;
    memset(&row, 0, sizeof row);
    row.frame = 123456789;
    row.face_id = 3;
    row.timestamp = 1.0005;
    row.confidence = 0.985;
    row.success = 0;
    const double r[FA_N_AU_R] = {-0.0, -0.004, 0.125, 0.375, 0.005, 1.005, 2.675, 0.045, 0.995,
                                 9.995, -0.005, 1e15, -123456789.125, 5, 0, 1, 4.999};
    const double c[FA_N_AU_C] = {0.25, 0.35, 0.05, -0.04, 0.15, 0.45, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                 0, 1, 0};
    memcpy(row.au_r, r, sizeof r);
    memcpy(row.au_c, c, sizeof c);
    row.lmk2d[0] = 99; /* not written: the 2D group is off */
    CHECK(fa_csv_write_row(w, &row, &err) == FACEAU_OK, "%s", err.msg);
    row.frame = 2;
    row.face_id = 0;
    row.timestamp = 999999999999.9995;
    row.confidence = -0.0;
    row.success = 1;
    CHECK(fa_csv_write_row(w, &row, &err) == FACEAU_OK, "%s", err.msg);
    CHECK(fa_csv_writer_close(w, &err) == FACEAU_OK, "%s", err.msg);

    const char *au_vals = "-0.00, -0.00, 0.12, 0.38, 0.01, 1.00, 2.67, 0.04, 0.99, 9.99, -0.01, "
                          "1000000000000000.00, -123456789.12, 5.00, 0.00, 1.00, 5.00, "
                          "0.2, 0.3, 0.1, -0.0, 0.1, 0.5, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, "
                          "1.0, 0.0, 1.0, 0.0\n";
    char want[4096];
    snprintf(want, sizeof want,
             "frame, face_id, timestamp, confidence, success, %s"
             "123456789, 3, 1.000, 0.98, 0, %s"
             "2, 0, 1000000000000.000, -0.00, 1, %s",
             AU_HEADER, au_vals, au_vals);
    size_t len;
    char *got = (char *)tu_read_file(path, &len);
    CHECK(got && strcmp(got, want) == 0, "aus-only file:\n%s\nwant:\n%s", got ? got : "", want);
    free(got);

    /* The rewrite: AU columns at 2 dp from the given values, everything else trimmed. */
    double in[2 * FA_N_AU_R], pr[2 * FA_N_AU_C];
    for (int i = 0; i < 2 * FA_N_AU_R; i++)
        in[i] = i == 0 ? 0.125 : i == 1 ? -0.001 : i / 8.0;
    for (int i = 0; i < 2 * FA_N_AU_C; i++)
        pr[i] = i % 3 == 0;
    CHECK(fa_csv_rewrite_aus(path, tmp_path("aus2.csv"), in, pr, 2, &err) == FACEAU_OK, "%s",
          err.msg);
    got = (char *)tu_read_file(tmp_path("aus2.csv"), &len);
    snprintf(want, sizeof want,
             "frame, face_id, timestamp, confidence, success, %s"
             "123456789, 3, 1.000, 0.98, 0, 0.12, -0.00, 0.25, 0.38, 0.50, 0.62, 0.75, 0.88, "
             "1.00, 1.12, 1.25, 1.38, 1.50, 1.62, 1.75, 1.88, 2.00, "
             "1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 1.00, "
             "0.00, 0.00, 1.00, 0.00, 0.00\n"
             "2, 0, 1000000000000.000, -0.00, 1, 2.12, 2.25, 2.38, 2.50, 2.62, 2.75, 2.88, 3.00, "
             "3.12, 3.25, 3.38, 3.50, 3.62, 3.75, 3.88, 4.00, 4.12, "
             "1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 1.00, 0.00, 0.00, 1.00, "
             "0.00, 0.00, 1.00, 0.00, 0.00\n",
             AU_HEADER);
    CHECK(got && strcmp(got, want) == 0, "rewritten:\n%s\nwant:\n%s", got ? got : "", want);
    free(got);

    /* Image layout, -aus only. */
    CHECK(fa_csv_writer_open(path, FACEAU_OUT_AUS, 1, &w, &err) == FACEAU_OK, "%s", err.msg);
    memset(&row, 0, sizeof row);
    row.face_id = 1;
    row.confidence = 0.9805; /* 0.98050000000000003819 */
    CHECK(fa_csv_write_row(w, &row, &err) == FACEAU_OK, "%s", err.msg);
    CHECK(fa_csv_writer_close(w, &err) == FACEAU_OK, "%s", err.msg);
    got = (char *)tu_read_file(path, &len);
    snprintf(want, sizeof want, "face, confidence, %s1, 0.981, %s", AU_HEADER,
             "0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, "
             "0.00, 0.00, 0.00, 0.00, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "
             "0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0\n");
    CHECK(got && strcmp(got, want) == 0, "image aus-only:\n%s\nwant:\n%s", got ? got : "", want);
    free(got);
}

/* Which group a column of OpenFace's full header belongs to (by RecorderCSV's names). */
static unsigned group_of(const char *name)
{
    if (!strncmp(name, "gaze_", 5) || !strncmp(name, "eye_lmk_", 8))
        return FACEAU_OUT_GAZE;
    if (!strncmp(name, "pose_", 5))
        return FACEAU_OUT_POSE;
    if (!strncmp(name, "x_", 2) || !strncmp(name, "y_", 2))
        return FACEAU_OUT_2DFP;
    if (!strncmp(name, "X_", 2) || !strncmp(name, "Y_", 2) || !strncmp(name, "Z_", 2))
        return FACEAU_OUT_3DFP;
    if (!strncmp(name, "p_", 2))
        return FACEAU_OUT_PDM;
    if (!strncmp(name, "AU", 2))
        return FACEAU_OUT_AUS;
    return 0;
}

/* Each subset of groups gives the leading columns and those groups' columns of OpenFace's
 * full header, in its order. */
static void test_column_selection(void)
{
    tu_csv ref;
    CHECK(tu_csv_load(tu_shared_path("reference/sequence.csv"), &ref) == 0, "load");
    static const unsigned sets[] = {FACEAU_OUT_GAZE, FACEAU_OUT_POSE, FACEAU_OUT_2DFP,
                                    FACEAU_OUT_3DFP, FACEAU_OUT_PDM, FACEAU_OUT_AUS,
                                    FACEAU_OUT_POSE | FACEAU_OUT_AUS,
                                    FACEAU_OUT_2DFP | FACEAU_OUT_PDM | FACEAU_OUT_GAZE,
                                    FACEAU_OUT_ALL, 0};
    static const int ncols[] = {5 + 288, 5 + 6, 5 + 136, 5 + 204, 5 + 40, 5 + 35, 5 + 41,
                                5 + 464, 714, 714};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        unsigned want_set = sets[k] ? sets[k] : (unsigned)FACEAU_OUT_ALL;
        char *want = malloc(16384);
        size_t n = 0;
        int cols = 0;
        for (int i = 0; want && i < ref.ncols; i++) {
            unsigned g = group_of(ref.names[i]);
            if (g && !(g & want_set))
                continue;
            n += (size_t)snprintf(want + n, 16384 - n, "%s%s", cols ? ", " : "", ref.names[i]);
            cols++;
        }
        CHECK(cols == ncols[k], "set 0x%x: %d columns", sets[k], cols);
        fa_err err = {0};
        fa_csv_writer *w;
        CHECK(fa_csv_writer_open(tmp_path("sel.csv"), sets[k], 0, &w, &err) == FACEAU_OK, "%s",
              err.msg);
        CHECK(fa_csv_writer_close(w, &err) == FACEAU_OK, "%s", err.msg);
        size_t len;
        char *got = (char *)tu_read_file(tmp_path("sel.csv"), &len);
        CHECK(got && want && len == n + 1 && got[n] == '\n' && strncmp(got, want, n) == 0,
              "set 0x%x header", sets[k]);
        free(got);
        free(want);
    }
    fa_err err = {0};
    fa_csv_writer *w;
    CHECK(fa_csv_writer_open(tmp_path("sel.csv"), 0x40, 0, &w, &err) == FACEAU_ERR_INVALID_ARG,
          "unknown flag");
    tu_csv_free(&ref);
}

/* ---- reader errors --------------------------------------------------------------------- */

static faceau_status read_all(const char *path, int *rows_ok, fa_err *err)
{
    fa_csv_reader *r;
    *rows_ok = 0;
    faceau_status st = fa_csv_reader_open(path, &r, err);
    if (st != FACEAU_OK)
        return st;
    fa_csv_row row;
    int got = 1;
    while (st == FACEAU_OK && got) {
        st = fa_csv_reader_next(r, &row, &got, err);
        *rows_ok += st == FACEAU_OK && got;
    }
    fa_csv_reader_close(r);
    return st;
}

/* Every line of text with the field at index col removed. */
static char *drop_column(const char *text, int col)
{
    size_t n = strlen(text);
    char *out = malloc(n + 1), *o = out;
    const char *p = text;
    while (out && *p) {
        const char *eol = strchr(p, '\n');
        const char *e = eol ? eol : p + strlen(p);
        int f = 0;
        for (const char *q = p; q < e; f++) {
            const char *c = memchr(q, ',', (size_t)(e - q));
            const char *fe = c ? c : e;
            if (f != col) {
                if (o > out && o[-1] != '\n')
                    *o++ = ',';
                memcpy(o, q, (size_t)(fe - q));
                o += fe - q;
            }
            q = c ? c + 1 : e;
        }
        if (eol)
            *o++ = '\n';
        p = eol ? eol + 1 : e;
    }
    if (out)
        *o = '\0';
    return out;
}

/* Byte offset of the start of the given 1-based line. */
static size_t line_start(const char *text, int line)
{
    const char *p = text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return p ? (size_t)(p - text) : strlen(text);
}

static void expect_csv_error(const char *file, const char *data, size_t len, int rows_before,
                             const char *needle)
{
    const char *path = tmp_path(file);
    CHECK(spit(path, data, len) == 0, "write %s", path);
    fa_err err = {0};
    int ok;
    faceau_status st = read_all(path, &ok, &err);
    CHECK(st == FACEAU_ERR_CSV, "%s: status %d (%s)", file, st, err.msg);
    CHECK(ok == rows_before, "%s: %d good rows before the error, want %d", file, ok, rows_before);
    CHECK(strstr(err.msg, path) && strstr(err.msg, needle), "%s: message '%s' lacks '%s'", file,
          err.msg, needle);
}

static void test_reader_errors(void)
{
    size_t len;
    char *text = (char *)tu_read_file(tu_shared_path("reference/sequence.csv"), &len);
    CHECK(text != NULL, "slurp");
    if (!text)
        return;
    tu_csv ref;
    CHECK(tu_csv_load(tu_shared_path("reference/sequence.csv"), &ref) == 0, "load");
    int c_x5 = tu_csv_col(&ref, "x_5"), c_succ = tu_csv_col(&ref, "success");
    int c_x10 = tu_csv_col(&ref, "x_10");

    char *t = drop_column(text, c_x5);
    expect_csv_error("no_x5.csv", t, t ? strlen(t) : 0, 0, "missing column x_5");
    free(t);
    t = drop_column(text, c_succ);
    expect_csv_error("no_success.csv", t, t ? strlen(t) : 0, 0, "missing column success");
    free(t);

    /* Cut in the middle of line 4 (the third data row). */
    expect_csv_error("cut.csv", text, line_start(text, 4) + 1000, 2, "line 4");
    /* Cut after the last digit of the last line, before its '\n'. */
    expect_csv_error("cut_eol.csv", text, len - 1, 29, "line 31");
    /* Cut inside the header. */
    expect_csv_error("cut_header.csv", text, 500, 0, "header");

    /* Line 5 loses its last field. */
    char *copy = malloc(len + 64);
    size_t s5 = line_start(text, 5), s6 = line_start(text, 6);
    const char *last = text + s6 - 1;
    while (last > text + s5 && *last != ',')
        last--;
    size_t k = (size_t)(last - text);
    memcpy(copy, text, k);
    memcpy(copy + k, text + s6 - 1, len - (s6 - 1));
    expect_csv_error("short.csv", copy, k + len - (s6 - 1), 3, "line 5 has 713 fields");

    /* x_10 of line 3 replaced with "abc", then with an empty cell, then "1.5x". */
    static const char *bad[] = {"abc", "", "1.5x", "--1", "nan", "inf", "-INF", "1e30", "-1000001"};
    static const char *why[] = {"not a number", "not a number", "not a number", "not a number",
                                "not a finite number", "not a finite number", "not a finite number",
                                "outside +-1e6 px", "outside +-1e6 px"};
    for (int b = 0; b < 9; b++) {
        size_t s3 = line_start(text, 3), pos = s3;
        for (int f = 0; f < c_x10; f++)
            pos = (size_t)((const char *)memchr(text + pos, ',', len - pos) - text) + 1;
        size_t end = (size_t)((const char *)memchr(text + pos, ',', len - pos) - text);
        size_t n = 0;
        memcpy(copy, text, pos);
        n = pos;
        n += (size_t)sprintf(copy + n, " %s", bad[b]);
        memcpy(copy + n, text + end, len - end);
        n += len - end;
        expect_csv_error("nan.csv", copy, n, 1, "line 3, field");
        fa_err err = {0};
        int ok;
        read_all(tmp_path("nan.csv"), &ok, &err);
        CHECK(strstr(err.msg, "(x_10)") != NULL && strstr(err.msg, why[b]) != NULL,
              "names the column and the fault (%s): %s", why[b], err.msg);
    }
    /* A success cell that is not an integer: " 1" becomes " 0.5". */
    t = malloc(len + 8);
    char *succ = text + line_start(text, 2);
    for (int f = 0; f < c_succ; f++)
        succ = strchr(succ, ',') + 1;
    CHECK(succ[0] == ' ' && succ[1] == '1' && succ[2] == ',', "success cell");
    size_t at = (size_t)(succ - text) + 1;
    memcpy(t, text, at);
    memcpy(t + at, "0.5", 3);
    memcpy(t + at + 3, text + at + 1, len - at - 1);
    expect_csv_error("succ.csv", t, len + 2, 0, "line 2, field 5 (success): not an integer");
    free(t);

    expect_csv_error("empty.csv", "", 0, 0, "empty");
    fa_err err = {0};
    int ok;
    CHECK(read_all(tmp_path("does_not_exist.csv"), &ok, &err) == FACEAU_ERR_IO, "missing file");
    CHECK(strstr(err.msg, "does_not_exist.csv") != NULL, "%s", err.msg);

    /* Tolerated: CRLF line ends, blank lines, extra unknown columns, any column order. */
    char *crlf = malloc(2 * len + 16), *o = crlf;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            *o++ = '\r';
        *o++ = text[i];
    }
    memcpy(o, "\r\n\n", 3);
    o += 3;
    CHECK(spit(tmp_path("crlf.csv"), crlf, (size_t)(o - crlf)) == 0, "write");
    CHECK(read_all(tmp_path("crlf.csv"), &ok, &err) == FACEAU_OK && ok == 30, "crlf: %d %s", ok,
          err.msg);
    free(crlf);
    free(copy);
    tu_csv_free(&ref);
    free(text);
}

/* The rewrite's output is sized from what it writes: a data line of 10,600 fields with bare
 * commas grows by a byte a field (each ',' becomes ", "). */
static void test_rewrite_wide_line(void)
{
    enum { EXTRA = 10600 };
    const char *path = tmp_path("wide.csv");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create %s", path);
    if (!f)
        return;
    fprintf(f, "frame,%.*s", (int)strlen(AU_HEADER) - 1, AU_HEADER); /* without its newline */
    for (int i = 0; i < EXTRA; i++)
        fputs(",x", f);
    fputc('\n', f);
    fputs("1", f);
    for (int i = 0; i < FA_N_AU_R + FA_N_AU_C + EXTRA; i++)
        fputs(",7", f);
    fputc('\n', f);
    CHECK(fclose(f) == 0, "write %s", path);
    double in[FA_N_AU_R] = {0}, pr[FA_N_AU_C] = {0};
    fa_err err = {0};
    CHECK(fa_csv_rewrite_aus(path, tmp_path("wide2.csv"), in, pr, 1, &err) == FACEAU_OK, "%s", err.msg);
    size_t len;
    char *got = (char *)tu_read_file(tmp_path("wide2.csv"), &len);
    const char *body = got ? strchr(got, '\n') : NULL;
    size_t want = 1 + (size_t)(FA_N_AU_R + FA_N_AU_C) * strlen(", 0.00") + (size_t)EXTRA * strlen(", 7") + 1;
    CHECK(body && strlen(body + 1) == want && strncmp(body + 1, "1, 0.00, ", 9) == 0,
          "wide line rewritten: %zu bytes, want %zu", body ? strlen(body + 1) : 0, want);
    free(got);
}

/* ---- write failures -------------------------------------------------------------------- */

static void test_write_failures(void)
{
    rows rs;
    CHECK(load_rows(tu_shared_path("reference/sequence.csv"), &rs) == 0, "read");
    fa_err err = {0};
    fa_csv_writer *w;
    faceau_status st = fa_csv_writer_open("/dev/full", 0, 0, &w, &err);
    size_t fails = st != FACEAU_OK;
    CHECK(st == FACEAU_OK || st == FACEAU_ERR_IO, "open /dev/full: %d", st);
    if (st == FACEAU_OK) {
        for (size_t i = 0; i < rs.n; i++) {
            faceau_status s = fa_csv_write_row(w, &rs.r[i], &err);
            CHECK(s == FACEAU_OK || s == FACEAU_ERR_IO, "write status %d", s);
            CHECK(!fails || s == FACEAU_ERR_IO, "row %zu written after a failure", i);
            fails += s != FACEAU_OK;
        }
        CHECK(fails > 0, "30 full rows (~165 KB) to /dev/full all 'succeeded'");
        CHECK(fa_csv_writer_close(w, &err) == FACEAU_ERR_IO, "close after failure");
    }
    CHECK(strstr(err.msg, "/dev/full") != NULL, "message: %s", err.msg);

    /* Small enough to sit in the buffer until close, which must report it. */
    CHECK(fa_csv_writer_open("/dev/full", FACEAU_OUT_POSE, 0, &w, &err) == FACEAU_OK, "%s",
          err.msg);
    CHECK(fa_csv_write_row(w, &rs.r[0], &err) == FACEAU_OK, "%s", err.msg);
    err.msg[0] = '\0';
    CHECK(fa_csv_writer_close(w, &err) == FACEAU_ERR_IO && strstr(err.msg, "/dev/full"),
          "close: %s", err.msg);

    CHECK(fa_csv_writer_open(tmp_path("no/such/dir.csv"), 0, 0, &w, &err) == FACEAU_ERR_IO &&
              strstr(err.msg, "no/such/dir.csv"),
          "%s", err.msg);

    /* The rewrite: to /dev/full, wrong row count, onto itself, no AU columns. */
    double *in = calloc(rs.n * FA_N_AU_R + 1, sizeof *in);
    double *pr = calloc(rs.n * FA_N_AU_C + 1, sizeof *pr);
    const char *ref = tu_shared_path("reference/sequence.csv");
    err.msg[0] = '\0';
    CHECK(fa_csv_rewrite_aus(ref, "/dev/full", in, pr, rs.n, &err) == FACEAU_ERR_IO &&
              strstr(err.msg, "/dev/full"),
          "rewrite to /dev/full: %s", err.msg);
    CHECK(fa_csv_rewrite_aus(ref, tmp_path("rw.csv"), in, pr, rs.n - 1, &err) ==
              FACEAU_ERR_INVALID_ARG,
          "fewer predictions than rows");
    CHECK(fa_csv_rewrite_aus(ref, tmp_path("rw.csv"), in, pr, rs.n + 1, &err) ==
              FACEAU_ERR_INVALID_ARG,
          "more predictions than rows");
    CHECK(fa_csv_rewrite_aus(ref, ref, in, pr, rs.n, &err) == FACEAU_ERR_INVALID_ARG, "in place");
    CHECK(write_rows(tmp_path("noau.csv"), &rs, FACEAU_OUT_POSE, 0) == 0, "write");
    CHECK(fa_csv_rewrite_aus(tmp_path("noau.csv"), tmp_path("rw.csv"), in, pr, rs.n, &err) ==
              FACEAU_ERR_CSV,
          "no AU columns");
    free(in);
    free(pr);
    free(rs.r);
}

int main(void)
{
    tmp = tu_tmpdir("csv");
    test_rewrite_wide_line();
    test_format_hand();
    test_format_vs_printf();
    test_aus_only();
    test_column_selection();
    test_roundtrip_feature_extraction();
    test_pre_rewrite_format();
    test_roundtrip_plain();
    test_reader_multi_face();
    test_reader_fields();
    test_fullprec_to_standard("", "2015-10-15-15-14.csv", 0);
    test_fullprec_to_standard("", "multi_face.csv", 0);
    test_fullprec_to_standard("images/", "24795717_1.csv", 1);
    test_reader_errors();
    test_write_failures();
    return tu_done();
}
