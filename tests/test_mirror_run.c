/* test_mirror_run.c - faceau_run_mirror end to end (issue 17):
 *  - two-step equivalence: the mirrored frames made here, independently of the driver (decode,
 *    track, midline, 5-frame centred mean, fa_mirror_frame; black where the face is lost),
 *    stored losslessly (BMP sequences; FFV1 through FFmpeg's CLI for a video) and run through a
 *    plain faceau_run each, give the driver's two CSVs, .hog files and aligned faces byte for
 *    byte (the driver on 2 threads, the plain runs on 1);
 *  - a mirror-symmetric face (the sequence's frames with their left half reflected onto the
 *    right about a vertical line) gives left- and right-mirrored frames and AUs that agree;
 *  - bad input (a still image, a landmarks CSV, one analyser for both sides) is refused. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

typedef struct clip {
    int n, w, h;
    double fps;
    uint8_t *px; /* n frames of w*h*3 */
} clip;

static int load_clip(const char *path, int limit, clip *c)
{
    faceau_source *src;
    char err[512];
    memset(c, 0, sizeof *c);
    if (faceau_source_open_threads(path, 1, &src, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    c->fps = faceau_source_fps(src);
    faceau_frame f;
    int got;
    while (c->n < limit && faceau_source_read(src, &f, &got) == FACEAU_OK && got) {
        size_t sz = (size_t)f.width * (size_t)f.height * 3;
        if (!c->n)
            c->w = f.width, c->h = f.height;
        c->px = realloc(c->px, sz * (size_t)(c->n + 1));
        for (int y = 0; y < f.height; y++)
            memcpy(c->px + sz * (size_t)c->n + (size_t)y * (size_t)f.width * 3, f.bgr + (size_t)y * (size_t)f.stride,
                   (size_t)f.width * 3);
        c->n++;
    }
    faceau_source_close(src);
    return c->n == 0;
}

static fa_image frame_of(const clip *c, int i)
{
    fa_image im = {c->w, c->h, 3 * c->w, c->px + (size_t)i * (size_t)c->w * (size_t)c->h * 3};
    return im;
}

static void write_bmp(const char *path, const fa_image *im)
{
    int row = (im->width * 3 + 3) & ~3;
    size_t n = 54 + (size_t)row * (size_t)im->height;
    uint8_t *b = calloc(1, n);
    uint32_t hd[] = {(uint32_t)n, 0, 54, 40, (uint32_t)im->width, (uint32_t)im->height};
    b[0] = 'B', b[1] = 'M';
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < 4; j++)
            b[2 + 4 * k + j] = (uint8_t)(hd[k] >> (8 * j));
    b[26] = 1, b[28] = 24;
    for (int y = 0; y < im->height; y++)
        memcpy(b + 54 + (size_t)(im->height - 1 - y) * (size_t)row, im->bgr + (size_t)y * (size_t)im->stride,
               (size_t)im->width * 3);
    CHECK(tu_write_file(path, b, n) == 0, "%s", path);
    free(b);
}

/* The clip as a BMP sequence in dir (lossless). */
static void write_sequence(const clip *c, const char *dir)
{
    mkdir(dir, 0777);
    for (int i = 0; i < c->n; i++) {
        char path[4300];
        fa_image im = frame_of(c, i);
        snprintf(path, sizeof path, "%s/%04d.bmp", dir, i);
        write_bmp(path, &im);
    }
}

/* The two mirrored streams of c as the users make them by hand, written to
 * out[0] (left) and out[1] (right): BMP directories, or FFV1 .avi files when video. */
static void two_step(const clip *c, const faceau_landmarker *lmk, double seam, const char *out[2], int video,
                     fa_image *keep_l, fa_image *keep_r, int keep_index)
{
    faceau_tracker *tr;
    char err[512];
    CHECK(faceau_tracker_open(lmk, &tr, err, sizeof err) == FACEAU_OK, "%s", err);
    fa_midline *line = calloc((size_t)c->n, sizeof *line);
    int *ok = calloc((size_t)c->n, sizeof *ok), *found = calloc((size_t)c->n, sizeof *found);
    for (int i = 0; i < c->n; i++) {
        fa_image im = frame_of(c, i);
        faceau_frame f = {c->w, c->h, im.stride, im.bgr, 0, i};
        faceau_face face;
        CHECK(faceau_track(tr, &f, NULL, &face) == FACEAU_OK, "track %d", i);
        found[i] = face.success;
        ok[i] = face.success && fa_midline_from_landmarks(face.landmarks, &line[i]);
    }
    faceau_tracker_close(tr);
    FILE *pipe[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (video) {
            char cmd[8192];
            snprintf(cmd, sizeof cmd,
                     "ffmpeg -v error -y -f rawvideo -pix_fmt bgr24 -s %dx%d -r %.17g -i - -c:v ffv1 '%s'",
                     c->w, c->h, c->fps, out[k]);
            pipe[k] = popen(cmd, "w");
            CHECK(pipe[k] != NULL, "%s", cmd);
        } else {
            mkdir(out[k], 0777);
        }
    }
    fa_image dst;
    fa_image_alloc(&dst, c->w, c->h, NULL);
    for (int t = 0; t < c->n; t++) {
        fa_midline sum = {0, 0, 0, 0};
        int k = 0;
        for (int i = t - 2; i <= t + 2; i++)
            if (i >= 0 && i < c->n && ok[i]) {
                sum.gx += line[i].gx, sum.gy += line[i].gy, sum.cx += line[i].cx, sum.cy += line[i].cy;
                k++;
            }
        fa_midline m = {sum.gx / k, sum.gy / k, sum.cx / k, sum.cy / k};
        fa_image im = frame_of(c, t);
        for (int side = 0; side < 2; side++) {
            if (found[t] && k)
                fa_mirror_frame(&im, &m, side ? FA_MIRROR_RIGHT : FA_MIRROR_LEFT, seam, &dst);
            else
                memset(dst.bgr, 0, (size_t)dst.stride * (size_t)dst.height);
            if (t == keep_index && keep_l && keep_r) {
                fa_image *keep = side ? keep_r : keep_l;
                fa_image_alloc(keep, c->w, c->h, NULL);
                memcpy(keep->bgr, dst.bgr, (size_t)dst.stride * (size_t)dst.height);
            }
            if (video) {
                if (pipe[side])
                    fwrite(dst.bgr, 1, (size_t)dst.stride * (size_t)dst.height, pipe[side]);
            } else {
                char path[4200];
                snprintf(path, sizeof path, "%s/%04d.bmp", out[side], t);
                write_bmp(path, &dst);
            }
        }
    }
    for (int s = 0; s < 2; s++)
        if (pipe[s])
            CHECK(pclose(pipe[s]) == 0, "ffmpeg writing %s", out[s]);
    fa_image_free(&dst);
    free(line);
    free(ok);
    free(found);
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *A = tu_read_file(a, &na), *B = tu_read_file(b, &nb);
    int same = A && B && na == nb && memcmp(A, B, na) == 0;
    free(A);
    free(B);
    return same;
}

/* Every aligned face in dir a has its twin in b, and b has no others; returns how many. */
static int same_dirs(const char *a, const char *b)
{
    DIR *d = opendir(a);
    int n = 0, bad = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char pa[5000], pb[5000];
        snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
        bad += !same_file(pa, pb);
        n++;
    }
    if (d)
        closedir(d);
    int m = 0;
    d = opendir(b);
    while (d && (e = readdir(d)) != NULL)
        m += e->d_name[0] != '.';
    if (d)
        closedir(d);
    CHECK(d && bad == 0 && n == m, "%s vs %s: %d of %d aligned faces differ, %d against %d files", a, b, bad, n, n, m);
    return n;
}

static faceau_run_options base_opts(const faceau_landmarker *lmk, const char *input, int is_dir,
                                    const char *out_dir, const char *name, int threads)
{
    faceau_run_options o;
    memset(&o, 0, sizeof o);
    o.input = input;
    o.input_is_dir = is_dir;
    o.out_dir = out_dir;
    o.out_name = name;
    o.landmarker = lmk;
    o.quiet = 1;
    o.threads = threads;
    return o;
}

/* The driver against the two-step path on one input (`limit` frames of it, re-stored as a
 * BMP sequence or, for video, as FFV1 so that the driver's input has only those frames). */
static void check_two_step(const faceau_landmarker *lmk, faceau_au *au[2], const char *input, int video,
                           int limit, const char *tag)
{
    const char *dir = tu_tmpdir("mirror_run");
    char in[4200], side[2][4200], out1[4200], out2[4200];
    clip c;
    CHECK(load_clip(input, limit, &c) == 0, "%s", input);
    /* the driver's input: the same frames stored losslessly */
    snprintf(in, sizeof in, "%s/%s_in%s", dir, tag, video ? ".avi" : "");
    {
        if (video) {
            char cmd[8192];
            snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -f rawvideo -pix_fmt bgr24 -s %dx%d -r %.17g -i - -c:v ffv1 '%s'",
                     c.w, c.h, c.fps, in);
            FILE *p = popen(cmd, "w");
            fwrite(c.px, 1, (size_t)c.n * (size_t)c.w * (size_t)c.h * 3, p);
            CHECK(pclose(p) == 0, "%s", cmd);
        } else {
            write_sequence(&c, in);
        }
    }
    snprintf(out1, sizeof out1, "%s/%s_mirror", dir, tag);
    snprintf(out2, sizeof out2, "%s/%s_plain", dir, tag);
    faceau_run_options o = base_opts(lmk, in, !video, out1, tag, 2);
    o.hogalign = o.simalign = 1;
    faceau_status st = faceau_run_mirror(au[0], au[1], &o, NULL);
    CHECK(st == FACEAU_OK, "%s: %s", tag, faceau_au_last_error(au[0]));
    const char *sides[2] = {side[0], side[1]};
    for (int k = 0; k < 2; k++)
        snprintf(side[k], sizeof side[k], "%s/%s_%s%s", dir, tag, k ? "right" : "left", video ? ".avi" : "");
    two_step(&c, lmk, 6, sides, video, NULL, NULL, -1);
    for (int k = 0; k < 2; k++) {
        char name[256], a[4700], b[4700];
        snprintf(name, sizeof name, "%s_%s_mirrored", tag, k ? "right" : "left");
        faceau_run_options p = base_opts(lmk, side[k], !video, out2, name, 1);
        p.hogalign = p.simalign = 1;
        CHECK(faceau_run(au[k], &p) == FACEAU_OK, "%s: %s", side[k], faceau_au_last_error(au[k]));
        snprintf(a, sizeof a, "%s/%s.hog", out1, name);
        snprintf(b, sizeof b, "%s/%s.hog", out2, name);
        CHECK(same_file(a, b), "%s differs from the two-step %s", a, b);
        snprintf(a, sizeof a, "%s/%s_aligned", out1, name);
        snprintf(b, sizeof b, "%s/%s_aligned", out2, name);
        CHECK(same_dirs(a, b) >= c.n * 9 / 10, "%s: too few aligned faces", a);
        snprintf(a, sizeof a, "%s/%s.csv", out1, name);
        snprintf(b, sizeof b, "%s/%s.csv", out2, name);
        CHECK(same_file(a, b), "%s differs from the two-step %s", a, b);
        tu_csv csv;
        if (tu_csv_load(a, &csv) == 0) {
            CHECK(csv.nrows == c.n, "%s: %d rows for %d frames", a, csv.nrows, c.n);
            int ok = 0, col = tu_csv_col(&csv, "success");
            for (int r = 0; r < csv.nrows; r++)
                ok += tu_csv_at(&csv, r, col) == 1;
            CHECK(ok >= c.n * 9 / 10, "%s: only %d of %d frames tracked", a, ok, c.n);
            tu_csv_free(&csv);
        }
    }
    free(c.px);
}

/* The sequence's frames made mirror-symmetric about a vertical line near the face's midline:
 * both mirrored faces are then (nearly) the same picture, and their AUs the same. */
static void check_symmetric(const faceau_landmarker *lmk, faceau_au *au[2])
{
    const char *dir = tu_tmpdir("mirror_sym");
    char in[4200], out[4200], a[4400], b[4400];
    clip c;
    CHECK(load_clip(tu_shared_path("data/images/sequence"), 1000, &c) == 0, "sequence");
    /* the line: half-way between two columns, at the first frame's glabella-chin midpoint */
    faceau_tracker *tr;
    char err[512];
    CHECK(faceau_tracker_open(lmk, &tr, err, sizeof err) == FACEAU_OK, "%s", err);
    fa_image f0 = frame_of(&c, 0);
    faceau_frame f = {c.w, c.h, f0.stride, f0.bgr, 0, 0};
    faceau_face face;
    fa_midline l0 = {0, 0, 0, 0};
    CHECK(faceau_track(tr, &f, NULL, &face) == FACEAU_OK && face.success &&
              fa_midline_from_landmarks(face.landmarks, &l0),
          "first frame tracked");
    faceau_tracker_close(tr);
    const int c2 = (int)floor(l0.gx + l0.cx) | 1; /* 2c, odd: the line falls between columns */
    for (int i = 0; i < c.n; i++) {
        fa_image im = frame_of(&c, i);
        for (int y = 0; y < c.h; y++)
            for (int x = 0; x < c.w; x++)
                if (2 * x > c2) {
                    int sx = c2 - x < 0 ? 0 : c2 - x;
                    memcpy(im.bgr + (size_t)y * (size_t)im.stride + 3 * (size_t)x,
                           im.bgr + (size_t)y * (size_t)im.stride + 3 * (size_t)sx, 3);
                }
    }
    snprintf(in, sizeof in, "%s/sym", dir);
    write_sequence(&c, in);
    /* the mirrored frames of the middle frame, over the face (the landmarks' box) */
    fa_image L = {0}, R = {0};
    char lr[2][4200];
    const char *sides[2] = {lr[0], lr[1]};
    snprintf(lr[0], sizeof lr[0], "%s/l", dir);
    snprintf(lr[1], sizeof lr[1], "%s/r", dir);
    two_step(&c, lmk, 6, sides, 0, &L, &R, c.n / 2);
    double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    for (int i = 0; i < 68; i++) {
        x0 = fmin(x0, face.landmarks[i]), x1 = fmax(x1, face.landmarks[i]);
        y0 = fmin(y0, face.landmarks[68 + i]), y1 = fmax(y1, face.landmarks[68 + i]);
    }
    int maxd = 0;
    double sumd = 0;
    long npx = 0;
    for (int y = (int)y0; y <= (int)y1 && L.bgr; y++)
        for (int x = (int)x0; x <= (int)x1; x++)
            for (int k = 0; k < 3; k++) {
                int d = abs(L.bgr[(size_t)y * (size_t)L.stride + 3 * (size_t)x + (size_t)k] -
                            R.bgr[(size_t)y * (size_t)R.stride + 3 * (size_t)x + (size_t)k]);
                maxd = d > maxd ? d : maxd;
                sumd += d;
                npx++;
            }
    printf("symmetric face: left vs right mirrored frame %d over the face: mean |diff| %.3f, max %d grey levels\n",
           c.n / 2, sumd / (double)npx, maxd);
    /* the tracked midline is within a pixel of the symmetry line, not on it: 1.47 measured */
    CHECK(npx > 10000 && sumd / (double)npx <= 2.5, "mean |left - right| %.3f grey levels", sumd / (double)npx);
    /* about the symmetry line itself the two mirrored frames are the same picture (hand-derived:
     * every reflected sample lands on a whole column, so only the seam's rounding may differ) */
    fa_image mid = frame_of(&c, c.n / 2);
    fa_midline exact = {c2 / 2.0, 10, c2 / 2.0, 100};
    fa_mirror_frame(&mid, &exact, FA_MIRROR_LEFT, 6, &L);
    fa_mirror_frame(&mid, &exact, FA_MIRROR_RIGHT, 6, &R);
    maxd = 0;
    for (int y = 0; y < c.h; y++)
        for (int x = 0; x < 3 * c.w; x++) {
            int d = abs(L.bgr[(size_t)y * (size_t)L.stride + (size_t)x] - R.bgr[(size_t)y * (size_t)R.stride + (size_t)x]);
            maxd = d > maxd ? d : maxd;
        }
    CHECK(maxd <= 1, "about the exact line: left and right differ by %d grey levels", maxd);
    fa_image_free(&L);
    fa_image_free(&R);

    snprintf(out, sizeof out, "%s/out", dir);
    faceau_run_options o = base_opts(lmk, in, 1, out, "sym", 2);
    CHECK(faceau_run_mirror(au[0], au[1], &o, NULL) == FACEAU_OK, "%s", faceau_au_last_error(au[0]));
    snprintf(a, sizeof a, "%s/sym_left_mirrored.csv", out);
    snprintf(b, sizeof b, "%s/sym_right_mirrored.csv", out);
    tu_csv A, B;
    if (tu_csv_load(a, &A) == 0 && tu_csv_load(b, &B) == 0) {
        CHECK(A.nrows == c.n && B.nrows == c.n, "%d / %d rows", A.nrows, B.nrows);
        double worst = 0, mean = 0;
        int n = 0;
        const char *worst_au = "";
        for (int i = 0; i < FACEAU_N_AU_INTENSITY; i++) {
            char name[16];
            snprintf(name, sizeof name, "%s_r", faceau_au_intensity_name(i));
            int ca = tu_csv_col(&A, name), cb = tu_csv_col(&B, name);
            for (int r = 0; r < A.nrows && r < B.nrows; r++) {
                double d = fabs(tu_csv_at(&A, r, ca) - tu_csv_at(&B, r, cb));
                mean += d, n++;
                if (d > worst)
                    worst = d, worst_au = faceau_au_intensity_name(i);
            }
        }
        printf("symmetric face: AU intensities left vs right: mean |diff| %.4f, max %.2f (%s)\n", mean / n, worst,
               worst_au);
        /* measured: mean 0.024, max 0.19 (AU25) */
        /* measured: mean 0.024, max 0.19 (AU25) */
        CHECK(mean / n <= 0.05, "mean AU |left - right| %.4f", mean / n);
        CHECK(worst <= 0.5, "max AU |left - right| %.2f (%s)", worst, worst_au);
        tu_csv_free(&A);
        tu_csv_free(&B);
    } else {
        CHECK(0, "reading %s and %s", a, b);
    }
    free(c.px);
}

static void check_refusals(const faceau_landmarker *lmk, faceau_au *au[2])
{
    const char *dir = tu_tmpdir("mirror_refuse");
    faceau_run_options o = base_opts(lmk, tu_shared_path("data/images/Obama.jpg"), 0, dir, NULL, 1);
    CHECK(faceau_run_mirror(au[0], au[1], &o, NULL) == FACEAU_ERR_INVALID_ARG &&
              strstr(faceau_au_last_error(au[0]), "not a still image"),
          "still image: %s", faceau_au_last_error(au[0]));
    o = base_opts(lmk, tu_shared_path("data/videos/1815_01_008_tony_blair.avi"), 0, dir, NULL, 1);
    o.landmarks_csv = tu_shared_path("reference/1815_01_008_tony_blair.csv");
    CHECK(faceau_run_mirror(au[0], au[1], &o, NULL) == FACEAU_ERR_INVALID_ARG &&
              strstr(faceau_au_last_error(au[0]), "landmarks CSV"),
          "landmarks: %s", faceau_au_last_error(au[0]));
    o.landmarks_csv = NULL;
    CHECK(faceau_run_mirror(au[0], au[0], &o, NULL) == FACEAU_ERR_INVALID_ARG &&
              strstr(faceau_au_last_error(au[0]), "of its own"),
          "one analyser: %s", faceau_au_last_error(au[0]));
    faceau_mirror_options mo = faceau_default_mirror_options();
    CHECK(mo.seam_px == 6 && !mo.write_video, "defaults");
}

int main(void)
{
    char err[1024];
    faceau_landmarker *lmk;
    faceau_au_models *models;
    faceau_config cfg = faceau_default_config();
    faceau_au *au[2];
    if (faceau_landmarker_open(NULL, &lmk, err, sizeof err) || faceau_au_models_open(&cfg, &models, err, sizeof err) ||
        faceau_au_open_with(models, &cfg, &au[0], err, sizeof err) ||
        faceau_au_open_with(models, &cfg, &au[1], err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    check_refusals(lmk, au);
    check_two_step(lmk, au, tu_shared_path("data/images/sequence"), 0, 1000, "seq");
    check_two_step(lmk, au, tu_shared_path("data/videos/1815_01_008_tony_blair.avi"), 1, 80, "blair");
    check_symmetric(lmk, au);
    faceau_au_close(au[0]);
    faceau_au_close(au[1]);
    faceau_au_models_close(models);
    faceau_landmarker_close(lmk);
    return tu_done();
}
