/* test_align.c - triangulation loading, the similarity fit, the bit-exact warpAffine, the PAW
 * mask, and OpenFace's own aligned faces for 150 frames of a video. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SZ FA_ALIGN_SIZE

/* ---- triangulation files ---------------------------------------------------------------- */

static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return path;
}

static void expect_tris_error(const char *dir, const char *name, const char *text,
                              faceau_status want, const char *needle)
{
    const char *path = write_file(dir, name, text);
    fa_tris t;
    fa_err e;
    fa_err_clear(&e);
    faceau_status st = fa_tris_load(path, &t, &e);
    CHECK(st == want, "%s: status %d, want %d (%s)", name, st, want, e.msg);
    CHECK(t.idx == NULL && t.n == 0, "%s: tris left set after failure", name);
    CHECK(strstr(e.msg, name) != NULL, "%s: message does not name the file: %s", name, e.msg);
    CHECK(!needle || strstr(e.msg, needle) != NULL, "%s: message lacks '%s': %s", name,
          needle ? needle : "", e.msg);
    fa_tris_free(&t);
}

static void test_tris_load(void)
{
    fa_tris t;
    fa_err e;
    faceau_status st = fa_tris_load(tu_shared_path("models/AU_predictors/tris_68_full.txt"), &t, &e);
    CHECK(st == FACEAU_OK, "load tris_68_full: %s", e.msg);
    if (st == FACEAU_OK) {
        CHECK(t.n == 111, "triangles %d, want 111", t.n);
        /* the file's first and last rows */
        CHECK(t.idx[0] == 58 && t.idx[1] == 67 && t.idx[2] == 59, "first triangle %d %d %d",
              t.idx[0], t.idx[1], t.idx[2]);
        int bad = 0;
        for (int i = 0; i < 3 * t.n; i++)
            bad += t.idx[i] < 0 || t.idx[i] > 67;
        CHECK(bad == 0, "%d indices outside 0..67", bad);
    }
    fa_tris_free(&t);
    fa_tris_free(&t); /* idempotent */

    const char *dir = tu_tmpdir("test_align");
    st = fa_tris_load(write_file(dir, "two.txt", "2 3 4\n0 1 2\n67 3 4\n"), &t, &e);
    CHECK(st == FACEAU_OK && t.n == 2 && t.idx[3] == 67 && t.idx[5] == 4, "two-triangle file");
    fa_tris_free(&t);

    expect_tris_error(dir, "idx68.txt", "1 3 4\n0 1 68\n", FACEAU_ERR_MODEL_CORRUPT, "68");
    expect_tris_error(dir, "neg.txt", "1 3 4\n0 -1 2\n", FACEAU_ERR_MODEL_CORRUPT, "-1");
    expect_tris_error(dir, "frac.txt", "1 3 4\n0 1.5 2\n", FACEAU_ERR_MODEL_CORRUPT, "1.5");
    expect_tris_error(dir, "cols.txt", "1 2 4\n0 1\n", FACEAU_ERR_MODEL_CORRUPT, NULL);
    expect_tris_error(dir, "type.txt", "1 3 5\n0 1 2\n", FACEAU_ERR_MODEL_CORRUPT, NULL);
    expect_tris_error(dir, "short.txt", "111 3 4\n0 1 2\n3 4 5\n", FACEAU_ERR_MODEL_CORRUPT,
                      NULL);
    expect_tris_error(dir, "empty.txt", "", FACEAU_ERR_MODEL_CORRUPT, NULL);
    expect_tris_error(dir, "zero.txt", "0 3 4\n", FACEAU_ERR_MODEL_CORRUPT, NULL);

    fa_err_clear(&e);
    st = fa_tris_load(tu_shared_path("models/AU_predictors/no_such_tris.txt"), &t, &e);
    CHECK(st == FACEAU_ERR_IO && strstr(e.msg, "no_such_tris.txt"), "missing file: %d %s", st,
          e.msg);
}

/* ---- similarity ----------------------------------------------------------------------------- */

/* 68 points in general position (the 24 rigid ones among them are not collinear). */
static void make_points(float *lm)
{
    for (int i = 0; i < FA_N_LANDMARKS; i++) {
        lm[i] = (float)(200 + 40 * cos(1.3 * i) + i);
        lm[FA_N_LANDMARKS + i] = (float)(150 + 30 * sin(0.9 * i) - 0.5 * i);
    }
}

/* A pdm whose mean x, y is m(src) / 0.7 for the map m, so sim_scale 0.7 gives m(src) back. */
static void make_pdm(fa_pdm *pdm, float *mean, const float *lm, const double m[6])
{
    memset(pdm, 0, sizeof *pdm);
    memset(mean, 0, 3 * FA_N_LANDMARKS * sizeof *mean);
    for (int i = 0; i < FA_N_LANDMARKS; i++) {
        double x = lm[i], y = lm[FA_N_LANDMARKS + i];
        mean[i] = (float)((m[0] * x + m[1] * y + m[2]) / 0.7);
        mean[FA_N_LANDMARKS + i] = (float)((m[3] * x + m[4] * y + m[5]) / 0.7);
    }
    pdm->n = FA_N_LANDMARKS;
    pdm->m = 0;
    pdm->mean = mean;
}

static void test_similarity(void)
{
    float lm[2 * FA_N_LANDMARKS], mean[3 * FA_N_LANDMARKS], A[4];
    fa_pdm pdm;
    make_points(lm);

    /* dst = 2 * rot(30 deg) * src + (17, -5): A must be 2 * rot(30). */
    const double c = sqrt(3.0), s = 1.0; /* 2 cos 30, 2 sin 30 */
    const double rot[6] = {c, -s, 17, s, c, -5};
    make_pdm(&pdm, mean, lm, rot);
    fa_align_similarity(lm, &pdm, 0.7, A);
    CHECK(fabs(A[0] - c) < 2e-5 && fabs(A[1] + s) < 2e-5 && fabs(A[2] - s) < 2e-5 &&
              fabs(A[3] - c) < 2e-5,
          "2*rot30: A = %.7f %.7f %.7f %.7f, want %.7f %.7f %.7f %.7f", A[0], A[1], A[2], A[3], c,
          -s, s, c);

    /* pure scale 0.5 and shift: A = 0.5 I */
    const double half[6] = {0.5, 0, 100, 0, 0.5, 40};
    make_pdm(&pdm, mean, lm, half);
    fa_align_similarity(lm, &pdm, 0.7, A);
    CHECK(fabs(A[0] - 0.5) < 1e-5 && fabs(A[1]) < 1e-5 && fabs(A[2]) < 1e-5 &&
              fabs(A[3] - 0.5) < 1e-5,
          "0.5 I: A = %g %g %g %g", A[0], A[1], A[2], A[3]);

    /* a mirror image: Kabsch's correction still returns a rotation of scale 1 (det +1). */
    const double mirror[6] = {-1, 0, 0, 0, 1, 0};
    make_pdm(&pdm, mean, lm, mirror);
    fa_align_similarity(lm, &pdm, 0.7, A);
    double det = (double)A[0] * A[3] - (double)A[1] * A[2];
    CHECK(fabs(det - 1) < 1e-5 && fabs(A[0] - A[3]) < 1e-6 && fabs(A[1] + A[2]) < 1e-6,
          "mirror: A = %g %g %g %g (det %g), want a rotation", A[0], A[1], A[2], A[3], det);
}

/* ---- warpAffine on a synthetic image ----------------------------------------------------- */

enum { IW = 8, IH = 6, OS = 10 };

static int px(const fa_image *img, int x, int y, int c)
{
    if (x < 0 || y < 0 || x >= img->width || y >= img->height)
        return 0; /* BORDER_CONSTANT 0 */
    return img->bgr[y * img->stride + 3 * x + c];
}

/* Warps img by M into OS x OS and compares every value with want(x, y, c). */
static void check_warp(const fa_image *img, const char *what, const float M[6],
                       int (*want)(const fa_image *, int, int, int))
{
    uint8_t out[OS * OS * 3];
    fa_err e;
    faceau_status st = fa_warp_affine(img, M, OS, out, &e);
    CHECK(st == FACEAU_OK, "%s: %s", what, e.msg);
    int bad = 0, first = -1;
    for (int y = 0; y < OS; y++)
        for (int x = 0; x < OS; x++)
            for (int c = 0; c < 3; c++)
                if (out[(y * OS + x) * 3 + c] != want(img, x, y, c)) {
                    if (first < 0)
                        first = (y * OS + x) * 3 + c;
                    bad++;
                }
    CHECK(bad == 0, "%s: %d values differ, first at (%d,%d,%d): %d vs %d", what, bad,
          first / 3 % OS, first / 3 / OS, first % 3, first >= 0 ? out[first] : 0,
          first >= 0 ? want(img, first / 3 % OS, first / 3 / OS, first % 3) : 0);
}

static int want_identity(const fa_image *m, int x, int y, int c) { return px(m, x, y, c); }
/* +0.5 px in x: fx = 16, weights 16/16 of 32, so (a + b + 1) >> 1 (halves round up). */
static int want_half_x(const fa_image *m, int x, int y, int c)
{
    return (px(m, x - 1, y, c) + px(m, x, y, c) + 1) >> 1;
}
/* +1/3 px in x: X0 = round(-1024/3) + 16 = -325, so X = 32x - 11: sx = x-1, fx = 21, i.e.
 * weights 11/32 and 21/32 (not 1/3, 2/3) and (11a + 21b + 16) >> 5. */
static int want_third_x(const fa_image *m, int x, int y, int c)
{
    return (11 * px(m, x - 1, y, c) + 21 * px(m, x, y, c) + 16) >> 5;
}
/* (-2, -0.5): source (x+2, y+0.5), the average of two rows rounded up. */
static int want_shift(const fa_image *m, int x, int y, int c)
{
    return (px(m, x + 2, y, c) + px(m, x + 2, y + 1, c) + 1) >> 1;
}
/* (+0.5, +0.5): four equal weights 256/1024, (sum + 2) >> 2. */
static int want_quarter(const fa_image *m, int x, int y, int c)
{
    return (px(m, x - 1, y - 1, c) + px(m, x, y - 1, c) + px(m, x - 1, y, c) + px(m, x, y, c) +
            2) >> 2;
}
/* 90 degrees: dst = (-y_src + 7, x_src), so the source of (x, y) is (y, 7 - x). */
static int want_rot90(const fa_image *m, int x, int y, int c) { return px(m, y, 7 - x, c); }

static void test_warp(void)
{
    fa_image img;
    fa_err e;
    CHECK(fa_image_alloc(&img, IW, IH, &e) == FACEAU_OK, "alloc");
    for (int y = 0; y < IH; y++)
        for (int x = 0; x < IW; x++)
            for (int c = 0; c < 3; c++)
                img.bgr[y * img.stride + 3 * x + c] = (uint8_t)(3 * x * x + y + c);

    const float ident[6] = {1, 0, 0, 0, 1, 0};
    check_warp(&img, "identity", ident, want_identity);
    const float half[6] = {1, 0, 0.5f, 0, 1, 0};
    check_warp(&img, "x + 0.5", half, want_half_x);
    const float third[6] = {1, 0, 1.f / 3, 0, 1, 0};
    check_warp(&img, "x + 1/3", third, want_third_x);
    const float shift[6] = {1, 0, -2, 0, 1, -0.5f};
    check_warp(&img, "(-2, -0.5)", shift, want_shift);
    const float quarter[6] = {1, 0, 0.5f, 0, 1, 0.5f};
    check_warp(&img, "(+0.5, +0.5)", quarter, want_quarter);
    const float rot90[6] = {0, -1, 7, 1, 0, 0};
    check_warp(&img, "rot90", rot90, want_rot90);

    /* the same through a padded copy (stride > 3*width) */
    {
        enum { PAD = 7 };
        uint8_t buf[IH * (3 * IW + PAD)];
        memset(buf, 0xAB, sizeof buf); /* padding must never be sampled */
        fa_image padded = {IW, IH, 3 * IW + PAD, buf};
        for (int y = 0; y < IH; y++)
            memcpy(buf + y * padded.stride, img.bgr + y * img.stride, 3 * IW);
        check_warp(&padded, "padded x + 1/3", third, want_third_x);
        check_warp(&padded, "padded rot90", rot90, want_rot90);
    }

    /* a frame far away: all border */
    uint8_t out[OS * OS * 3];
    const float away[6] = {1, 0, 500, 0, 1, -300};
    CHECK(fa_warp_affine(&img, away, OS, out, &e) == FACEAU_OK, "away");
    int nz = 0;
    for (int i = 0; i < OS * OS * 3; i++)
        nz += out[i] != 0;
    CHECK(nz == 0, "warp far outside: %d non-zero values", nz);

    CHECK(fa_warp_affine(&img, ident, 0, out, &e) == FACEAU_ERR_INVALID_ARG, "size 0 accepted");
    CHECK(fa_warp_affine(&img, ident, 257, out, &e) == FACEAU_ERR_INVALID_ARG,
          "size 257 accepted");
    fa_image_free(&img);
}

/* ---- the PAW mask -------------------------------------------------------------------------- */

static int count_mask(const uint8_t *m, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += m[i];
    return k;
}

static void test_mask(void)
{
    enum { MS = 16 };
    float xs[FA_N_LANDMARKS] = {0}, ys[FA_N_LANDMARKS] = {0};
    int idx[6] = {0, 1, 2, 3, 4, 5};
    fa_tris one = {1, idx};
    uint8_t mask[MS * MS];
    fa_err e;

    /* right triangle (1,1) (8,1) (1,8): x, y >= 1 and x + y <= 9, edges included: 36 pixels */
    xs[0] = 1, ys[0] = 1, xs[1] = 8, ys[1] = 1, xs[2] = 1, ys[2] = 8;
    CHECK(fa_paw_mask(xs, ys, &one, MS, mask, &e) == FACEAU_OK, "mask: %s", e.msg);
    int bad = 0;
    for (int y = 0; y < MS; y++)
        for (int x = 0; x < MS; x++)
            bad += mask[y * MS + x] != (x >= 1 && y >= 1 && x + y <= 9);
    CHECK(bad == 0 && count_mask(mask, MS * MS) == 36, "right triangle: %d wrong, %d set", bad,
          count_mask(mask, MS * MS));

    /* a second triangle (10.5,10.5) (14.2,10.5) (10.5,14.2) adds x, y >= 11 with
     * x + y <= 24.7: 3 + 2 + 1 pixels in rows 11..13 */
    xs[3] = 10.5f, ys[3] = 10.5f, xs[4] = 14.2f, ys[4] = 10.5f, xs[5] = 10.5f, ys[5] = 14.2f;
    fa_tris two = {2, idx};
    CHECK(fa_paw_mask(xs, ys, &two, MS, mask, &e) == FACEAU_OK, "mask2");
    bad = 0;
    for (int y = 0; y < MS; y++)
        for (int x = 0; x < MS; x++) {
            int in1 = x >= 1 && y >= 1 && x + y <= 9;
            int in2 = x >= 11 && y >= 11 && x + y <= 24;
            bad += mask[y * MS + x] != (in1 || in2);
        }
    CHECK(bad == 0 && count_mask(mask, MS * MS) == 36 + 6, "two triangles: %d wrong, %d set",
          bad, count_mask(mask, MS * MS));

    /* A degenerate (collinear) triangle passes PAW's same-side test everywhere. The scan
     * finds it first at (5,5), inside its box; from then on PAW retries it for every pixel
     * without the box test, so all pixels from (5,5) on in row order are set: 256 - 85. */
    xs[0] = 5, ys[0] = 5, xs[1] = 7, ys[1] = 7, xs[2] = 10, ys[2] = 10;
    CHECK(fa_paw_mask(xs, ys, &one, MS, mask, &e) == FACEAU_OK, "mask3");
    CHECK(count_mask(mask, MS * MS) == MS * MS - (5 * MS + 5) && mask[5 * MS + 4] == 0 &&
              mask[5 * MS + 5] == 1 && mask[MS * MS - 1] == 1,
          "degenerate triangle: %d set, want %d", count_mask(mask, MS * MS), MS * MS - 85);

    int badidx[3] = {0, 1, 68};
    fa_tris badt = {1, badidx};
    CHECK(fa_paw_mask(xs, ys, &badt, MS, mask, &e) == FACEAU_ERR_INVALID_ARG,
          "index 68 accepted");
}

/* ---- OpenFace's aligned faces -------------------------------------------------------------- */

static int load_pdm_mean(fa_pdm *pdm)
{
    const char *path = tu_shared_path("models/AU_predictors/In-the-wild_aligned_PDM_68.txt");
    FILE *f = fopen(path, "r");
    fa_mat m = {0, 0, 0, NULL};
    fa_err e;
    memset(pdm, 0, sizeof *pdm);
    if (!f)
        return -1;
    fa_skip_comments(f);
    faceau_status st = fa_textmat_read(f, path, &m, &e);
    fclose(f);
    if (st || m.rows != 3 * FA_N_LANDMARKS || m.cols != 1) {
        fa_mat_free(&m);
        return -1;
    }
    pdm->mean = malloc((size_t)m.rows * sizeof *pdm->mean);
    if (!pdm->mean) {
        fa_mat_free(&m);
        return -1;
    }
    for (int i = 0; i < m.rows; i++)
        pdm->mean[i] = (float)m.data[i]; /* OpenFace reads double, keeps float */
    pdm->n = FA_N_LANDMARKS;
    pdm->m = FA_N_MODES;
    fa_mat_free(&m);
    return 0;
}

typedef struct frame_stats {
    int exact_frames, frames;
    double worst_pct;
    int max_diff, mask_mismatch;
} frame_stats;

static void compare_frame(const uint8_t *ours, const fa_image *ref, int frame, frame_stats *s)
{
    int within = 0, maxd = 0, zero_mismatch = 0;
    for (int y = 0; y < SZ; y++)
        for (int x = 0; x < SZ; x++) {
            const uint8_t *a = ours + (y * SZ + x) * 3, *b = ref->bgr + y * ref->stride + 3 * x;
            int d = 0;
            for (int c = 0; c < 3; c++)
                d = abs(a[c] - b[c]) > d ? abs(a[c] - b[c]) : d;
            within += d <= 1;
            maxd = d > maxd ? d : maxd;
            zero_mismatch += !(a[0] | a[1] | a[2]) != !(b[0] | b[1] | b[2]);
        }
    double pct = 100.0 * within / (SZ * SZ);
    CHECK(pct >= 99.0, "frame %d: only %.2f%% of pixels within 1", frame, pct);
    s->frames++;
    s->exact_frames += maxd == 0;
    s->worst_pct = pct < s->worst_pct ? pct : s->worst_pct;
    s->max_diff = maxd > s->max_diff ? maxd : s->max_diff;
    s->mask_mismatch += zero_mismatch;
}

static int csv_cols(const tu_csv *csv, int *cx, int *cy, int *ctx, int *cty)
{
    char name[16];
    for (int i = 0; i < FA_N_LANDMARKS; i++) {
        snprintf(name, sizeof name, "x_%d", i);
        cx[i] = tu_csv_col(csv, name);
        snprintf(name, sizeof name, "y_%d", i);
        cy[i] = tu_csv_col(csv, name);
        if (cx[i] < 0 || cy[i] < 0)
            return -1;
    }
    *ctx = tu_csv_col(csv, "p_tx");
    *cty = tu_csv_col(csv, "p_ty");
    return *ctx < 0 || *cty < 0 ? -1 : 0;
}

static void test_reference_frames(void)
{
    enum { NFRAMES = 150 };
    fa_pdm pdm;
    fa_tris tris = {0, NULL};
    tu_csv csv;
    fa_video *v = NULL;
    fa_err e;
    int cx[FA_N_LANDMARKS], cy[FA_N_LANDMARKS], ctx = -1, cty = -1;
    frame_stats s = {0, 0, 100.0, 0, 0};

    CHECK(load_pdm_mean(&pdm) == 0, "cannot read the PDM mean shape");
    CHECK(fa_tris_load(tu_shared_path("models/AU_predictors/tris_68_full.txt"), &tris, &e) ==
              FACEAU_OK,
          "tris: %s", e.msg);
    int csv_ok = tu_csv_load(tu_shared_path("reference/fullprec/2015-10-15-15-14.csv"), &csv) == 0 &&
                 csv.nrows >= NFRAMES && csv_cols(&csv, cx, cy, &ctx, &cty) == 0;
    CHECK(csv_ok, "reference CSV unreadable or lacks rows or columns");
    faceau_status st =
        fa_video_open(tu_shared_path("data/videos/2015-10-15-15-14.avi"), &v, &e);
    CHECK(st == FACEAU_OK, "video: %s", e.msg);
    if (!pdm.mean || !tris.idx || !csv_ok || st != FACEAU_OK)
        goto out;

    for (int k = 0; k < NFRAMES; k++) {
        const fa_image *frame;
        int got = 0;
        st = fa_video_read(v, &frame, &got, &e);
        CHECK(st == FACEAU_OK && got, "frame %d: %s", k + 1, st ? e.msg : "end of video");
        if (st || !got)
            break;
        float lm[2 * FA_N_LANDMARKS], g[6] = {0};
        for (int i = 0; i < FA_N_LANDMARKS; i++) {
            lm[i] = (float)tu_csv_at(&csv, k, cx[i]);
            lm[FA_N_LANDMARKS + i] = (float)tu_csv_at(&csv, k, cy[i]);
        }
        g[4] = (float)tu_csv_at(&csv, k, ctx);
        g[5] = (float)tu_csv_at(&csv, k, cty);
        uint8_t out[SZ * SZ * 3];
        st = fa_align_face_mask(frame, lm, g, &pdm, &tris, 0.7, SZ, out, &e);
        CHECK(st == FACEAU_OK, "align frame %d: %s", k + 1, e.msg);
        fa_image ref = {0, 0, 0, NULL};
        int rc = tu_bmp_read(tu_shared_path("reference/stages/aligned/frame_det_00_%06d.bmp", k + 1),
                             &ref);
        CHECK(rc == 0 && ref.width == SZ && ref.height == SZ, "reference bmp %d", k + 1);
        if (rc == 0 && ref.width == SZ && ref.height == SZ)
            compare_frame(out, &ref, k + 1, &s);
        fa_image_free(&ref);
    }
    printf("aligned faces: %d/%d frames identical, worst frame %.3f%% within 1, max diff %d, "
           "%d mask (zero/non-zero) mismatches\n",
           s.exact_frames, s.frames, s.worst_pct, s.max_diff, s.mask_mismatch);
    CHECK(s.frames == NFRAMES, "compared %d frames", s.frames);
    CHECK(s.mask_mismatch == 0, "%d pixels masked on one side only", s.mask_mismatch);

    /* argument checks of the whole stage */
    {
        const fa_image *frame;
        int got;
        uint8_t out[SZ * SZ * 3];
        float lm[2 * FA_N_LANDMARKS] = {0}, g[6] = {0};
        if (fa_video_read(v, &frame, &got, &e) == FACEAU_OK && got) {
            CHECK(fa_align_face_mask(frame, lm, g, &pdm, &tris, 0.7, 0, out, &e) ==
                      FACEAU_ERR_INVALID_ARG,
                  "size 0 accepted");
            fa_tris none = {0, NULL};
            CHECK(fa_align_face_mask(frame, lm, g, &pdm, &none, 0.7, SZ, out, &e) ==
                      FACEAU_ERR_INVALID_ARG,
                  "empty triangulation accepted");
            CHECK(fa_align_face_mask(NULL, lm, g, &pdm, &tris, 0.7, SZ, out, &e) ==
                      FACEAU_ERR_INVALID_ARG,
                  "NULL frame accepted");
        }
    }
out:
    fa_video_close(v);
    tu_csv_free(&csv);
    fa_tris_free(&tris);
    free(pdm.mean);
}

int main(void)
{
    test_tris_load();
    test_similarity();
    test_warp();
    test_mask();
    test_reference_frames();
    return tu_done();
}
