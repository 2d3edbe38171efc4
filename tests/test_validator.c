/* test_validator.c - OpenFace's CNN detection validator (landmarks/validator.h): loading the
 * shipped validator_cnn.txt, a damaged copy, hand-derived PAW warps, and the confidence OpenFace
 * itself reported (reference CSVs: confidence, landmarks x_/y_, p_rx/p_ry/p_rz) on video frames
 * and a still image. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/validator.h"
#include "landmarks/validator_kernels.h"
#include "testutil.h"

#define N 68

static fa_validator *load_model(void)
{
    fa_err e;
    fa_err_clear(&e);
    fa_validator *v = NULL;
    faceau_status st =
        fa_validator_load(tu_shared_path("models/detection_validation/validator_cnn.txt"), &v, &e);
    CHECK(st == FACEAU_OK && v, "load validator_cnn.txt: %s", e.msg);
    return v;
}

/* ---- the shipped file ------------------------------------------------------------------------ */

static void test_model(const fa_validator *v)
{
    CHECK(fa_validator_views(v) == 7, "views %d, want 7", fa_validator_views(v));
    for (int i = 0; i < fa_validator_views(v); i++) {
        int w, h, n, np;
        const float *lm;
        const uint8_t *mask;
        float mx, my;
        fa_validator_view_size(v, i, &w, &h);
        CHECK(w == 60 && h == 60, "view %d template %d x %d, want 60 x 60", i, w, h);
        fa_validator_view_template(v, i, &n, &lm, &mx, &my, &mask, &np);
        CHECK(n == N, "view %d: %d landmarks", i, n);
        int count = 0;
        for (int k = 0; k < w * h; k++)
            count += mask[k];
        CHECK(count == np, "view %d: mask has %d pixels, PAW says %d", i, count, np);
        /* the file's PAW sizes (python struct read of validator_cnn.txt) */
        static const int want_np[7] = {2642, 2469, 1665, 1491, 2494, 1690, 1536};
        CHECK(np == want_np[i], "view %d: %d pixels, want %d", i, np, want_np[i]);
    }
    /* view 0: min_x, min_y as written (f64 -29.763987446501343, -25.129874326651368) */
    {
        int n, np;
        const float *lm;
        const uint8_t *mask;
        float mx, my;
        fa_validator_view_template(v, 0, &n, &lm, &mx, &my, &mask, &np);
        CHECK(mx == (float)-29.763987446501343 && my == (float)-25.129874326651368,
              "view 0 origin %.9g %.9g", mx, my);
        CHECK(lm[0] == (float)-29.763987446501343, "view 0 landmark x0 %.9g", lm[0]);
    }
    /* GetViewId: views at yaw 0, -20, -45, -70, 20, 45, 70 degrees */
    const float d2r = (float)(3.14159265358979323846 / 180.0);
    float r0[3] = {0, 0, 0}, r1[3] = {0, -25 * d2r, 0}, r2[3] = {0.3f, 50 * d2r, 0.1f},
          r3[3] = {0, -90 * d2r, 0}, r4[3] = {0, 10 * d2r, 0}, r5[3] = {0, 9 * d2r, 0};
    CHECK(fa_validator_view_id(v, r0) == 0, "view of (0,0,0)");
    CHECK(fa_validator_view_id(v, r1) == 1, "view of yaw -25");
    CHECK(fa_validator_view_id(v, r2) == 5, "view of yaw 50");
    CHECK(fa_validator_view_id(v, r3) == 3, "view of yaw -90");
    CHECK(fa_validator_view_id(v, r4) == 4 || fa_validator_view_id(v, r4) == 0,
          "view of yaw 10 (tie region)");
    CHECK(fa_validator_view_id(v, r5) == 0, "view of yaw 9");
}

/* ---- a damaged file ---------------------------------------------------------------------------- */

static void test_damaged(void)
{
    size_t n;
    unsigned char *buf =
        tu_read_file(tu_shared_path("models/detection_validation/validator_cnn.txt"), &n);
    CHECK(buf != NULL, "read validator_cnn.txt");
    if (!buf)
        return;
    const char *dir = tu_tmpdir("test_validator");
    static const struct { const char *name; size_t len; } cuts[] = {
        {"cut_header.txt", 6}, {"cut_orient.txt", 40}, {"cut_view0.txt", 5000},
        {"cut_middle.txt", 1000000}, {"cut_end.txt", 0},
    };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, cuts[i].name);
        size_t len = cuts[i].len ? cuts[i].len : n - 3;
        CHECK(tu_write_file(path, buf, len) == 0, "write %s", path);
        fa_err e;
        fa_err_clear(&e);
        fa_validator *v = (fa_validator *)1;
        faceau_status st = fa_validator_load(path, &v, &e);
        CHECK(st == FACEAU_ERR_MODEL_CORRUPT, "%s: status %d (%s)", cuts[i].name, st, e.msg);
        CHECK(v == NULL, "%s: output set after failure", cuts[i].name);
        CHECK(strstr(e.msg, cuts[i].name) != NULL, "%s: message does not name the file: %s",
              cuts[i].name, e.msg);
    }
    /* a wrong type and a mask that disagrees with the pixel count */
    {
        char path[4096];
        snprintf(path, sizeof path, "%s/type2.txt", dir);
        unsigned char save = buf[0];
        buf[0] = 2;
        CHECK(tu_write_file(path, buf, n) == 0, "write %s", path);
        buf[0] = save;
        fa_err e;
        fa_validator *v = NULL;
        faceau_status st = fa_validator_load(path, &v, &e);
        CHECK(st == FACEAU_ERR_MODEL_CORRUPT && strstr(e.msg, "type2.txt") && strstr(e.msg, "type"),
              "type 2: %d %s", st, e.msg);
    }
    {
        fa_err e;
        fa_validator *v = NULL;
        faceau_status st = fa_validator_load(tu_shared_path("models/detection_validation/none.txt"),
                                             &v, &e);
        CHECK(st == FACEAU_ERR_IO && strstr(e.msg, "none.txt"), "missing file: %d %s", st, e.msg);
    }
    free(buf);
}

/* ---- a hand-made validator: layer semantics derived by hand ------------------------------------- */

typedef tu_buf bytes;
/* ReadMatBin layout: rows, cols, OpenCV type, row-major data */
static void put_mat(bytes *o, int rows, int cols, int type, const double *v)
{
    tu_put_i32(o, rows), tu_put_i32(o, cols), tu_put_i32(o, type);
    for (int i = 0; i < rows * cols; i++) {
        if (type == FA_CV_64F)
            tu_put_f64(o, v[i]);
        else if (type == FA_CV_32F)
            tu_put_f32(o, (float)v[i]);
        else
            tu_put_i32(o, (int32_t)v[i]);
    }
}

/* One view, 3x3 template covered by one triangle, 3 landmarks. On an all-zero image the warp is
 * 0, the local normalisation leaves 0 (std 0 -> 1), so the CNN input is -mean/std placed in
 * OpenFace's column-major mask order: with mean_i = -(i+1), std 1, the input is
 *     1 4 7
 *     2 5 8
 *     3 6 9
 * conv 2x2 (1 -> 2 maps), kernels [[1,0],[0,0]] bias 0.5 and [[0,2],[0,0]] bias -1:
 *     map0 = [[1.5, 4.5], [2.5, 5.5]], map1 = [[7, 13], [9, 15]]; ReLU keeps them.
 * FC 8 -> 3 flattens each map column-major: x = 1.5 2.5 4.5 5.5 7 9 13 15; weights (file 8 x 3,
 * used transposed): out0 = x1 = 2.5, out1 = x6 = 13, out2 = x2 - x5 = -4.5; ReLU -> 2.5 13 0.
 * FC 3 -> 4 on that column: out = (2.5, 0.1*13, 13 - 10, 2.5 - 100*0) = (2.5, 1.3, 3, 2.5):
 * argmax 2 of 4 bins -> dec = -1 + 0.25 + 2*0.5 = 0.25, confidence 0.375. A row-major mask
 * order, a row-major flatten or a missing ReLU each give a different bin (0, 0, 3). */
static void make_tiny(bytes *o)
{
    o->n = 0;
    tu_put_i32(o, 3), tu_put_i32(o, 1);
    double orient[3] = {0, 0, 0};
    put_mat(o, 3, 1, FA_CV_64F, orient);
    double mean[9], sd[9];
    for (int i = 0; i < 9; i++)
        mean[i] = -(i + 1), sd[i] = 1;
    put_mat(o, 1, 9, FA_CV_64F, mean);
    put_mat(o, 1, 9, FA_CV_64F, sd);
    tu_put_i32(o, 5); /* depth: conv, ReLU, FC, ReLU, FC */
    tu_put_i32(o, 0), tu_put_i32(o, 1), tu_put_i32(o, 2), tu_put_f32(o, 0.5f), tu_put_f32(o, -1.0f);
    double k0[4] = {1, 0, 0, 0}, k1[4] = {0, 2, 0, 0};
    put_mat(o, 2, 2, FA_CV_32F, k0);
    put_mat(o, 2, 2, FA_CV_32F, k1);
    tu_put_i32(o, 3);
    tu_put_i32(o, 2);
    double b1[3] = {0, 0, 0}, w1[24] = {0};
    w1[1 * 3 + 0] = 1, w1[6 * 3 + 1] = 1, w1[2 * 3 + 2] = 1, w1[5 * 3 + 2] = -1;
    put_mat(o, 3, 1, FA_CV_32F, b1);
    put_mat(o, 8, 3, FA_CV_32F, w1);
    tu_put_i32(o, 3);
    tu_put_i32(o, 2);
    double b2[4] = {0, 0, -10, 0}, w2[12] = {0};
    w2[0 * 4 + 0] = 1, w2[1 * 4 + 1] = 0.1, w2[1 * 4 + 2] = 1, w2[0 * 4 + 3] = 1,
    w2[2 * 4 + 3] = -100;
    put_mat(o, 4, 1, FA_CV_32F, b2);
    put_mat(o, 3, 4, FA_CV_32F, w2);
    /* PAW: triangle (-1,-1), (10,-1), (-1,10); alpha/beta from PAW's constructor formulas */
    tu_put_i32(o, 9), tu_put_f64(o, 0), tu_put_f64(o, 0);
    double dl[6] = {-1, 10, -1, -1, -1, 10}, tri[3] = {0, 1, 2}, tid[9] = {0}, mask[9];
    for (int i = 0; i < 9; i++)
        mask[i] = 1;
    double alpha[3] = {1.0 / 11, 1.0 / 11, 0}, beta[3] = {1.0 / 11, 0, 1.0 / 11};
    put_mat(o, 6, 1, FA_CV_64F, dl);
    put_mat(o, 1, 3, FA_CV_32S, tri);
    put_mat(o, 3, 3, FA_CV_32S, tid);
    put_mat(o, 3, 3, FA_CV_32S, mask);
    put_mat(o, 1, 3, FA_CV_64F, alpha);
    put_mat(o, 1, 3, FA_CV_64F, beta);
}

static void test_tiny(fa_validator_ws *ws)
{
    static bytes o;
    make_tiny(&o);
    const char *dir = tu_tmpdir("test_validator_tiny");
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny.txt", dir);
    CHECK(tu_write_file(path, o.b, o.n) == 0, "write %s", path);
    fa_err e;
    fa_validator *v = NULL;
    faceau_status st = fa_validator_load(path, &v, &e);
    CHECK(st == FACEAU_OK, "tiny: %s", e.msg);
    if (st)
        return;
    float zero[9] = {0};
    double dec = 9;
    int bin = -1;
    CHECK(fa_validator_cnn(v, ws, 0, zero, &dec, &bin, &e) == FACEAU_OK, "tiny cnn: %s", e.msg);
    CHECK(bin == 2 && dec == 0.25, "tiny: bin %d dec %g, want 2 and 0.25", bin, dec);

    /* the whole Check on an all-zero 30 x 30 frame */
    fa_grey g = {0};
    CHECK(fa_grey_resize(&g, 30, 30, &e) == FACEAU_OK, "grey");
    memset(g.px, 0, (size_t)g.stride * g.height * sizeof *g.px);
    float lm[6] = {9, 20, 9, 9, 9, 20}, rot[3] = {0.1f, -0.2f, 0.3f}, conf = -1;
    CHECK(fa_validator_check(v, ws, &g, lm, 3, rot, &conf, &e) == FACEAU_OK, "tiny check: %s",
          e.msg);
    CHECK(conf == 0.375f, "tiny check: confidence %g, want 0.375", conf);

    /* the crop rule: (int)(min - 3) .. (int)(max + 3), clipped; at most 1 pixel wide -> 0 */
    float far[6] = {-50, -40, -45, 5, 6, 7};
    CHECK(fa_validator_check(v, ws, &g, far, 3, rot, &conf, &e) == FACEAU_OK && conf == 0.0f,
          "landmarks left of the frame: %g", conf);
    float edge[6] = {-3.5f, -3.9f, -3.2f, 5, 6, 7}; /* max_x = (int)(-0.2) = 0 -> width 0 */
    CHECK(fa_validator_check(v, ws, &g, edge, 3, rot, &conf, &e) == FACEAU_OK && conf == 0.0f,
          "box of width 0: %g", conf);
    float nan3[6] = {NAN, 5, 6, 5, 6, 7};
    CHECK(fa_validator_check(v, ws, &g, nan3, 3, rot, &conf, &e) == FACEAU_OK && conf == 0.0f,
          "NaN landmark: %g", conf);
    fa_err_clear(&e);
    CHECK(fa_validator_check(v, ws, &g, lm, 68, rot, &conf, &e) == FACEAU_ERR_INVALID_ARG,
          "68 landmarks on a 3-landmark validator: %s", e.msg);
    fa_grey_free(&g);
    fa_validator_free(v);
}

/* ---- hand-derived warps ------------------------------------------------------------------------ */

/* Landmarks equal to the template's own shape, shifted by (ox, oy) into a synthetic image: every
 * triangle's affine map is the translation, so warped(x, y) = img(x + min_x + ox, y + min_y + oy)
 * on the mask (exact up to the affine coefficients' float rounding, which the 1/32 quantisation
 * of remap absorbs when the shift leaves positions on the integer grid). */
static void test_warp_identity(const fa_validator *v, fa_validator_ws *ws)
{
    for (int view = 0; view < fa_validator_views(v); view++) {
        int n, np, tw, th;
        const float *lm;
        const uint8_t *mask;
        float mx, my;
        fa_validator_view_template(v, view, &n, &lm, &mx, &my, &mask, &np);
        fa_validator_view_size(v, view, &tw, &th);
        /* shift so that template pixel (x, y) lands on image pixel (x + 5, y + 7) exactly:
         * ox = 5 - min_x */
        float ox = 5.0f - mx, oy = 7.0f - my;
        float src[2 * N];
        for (int i = 0; i < n; i++) {
            src[i] = lm[i] + ox;
            src[n + i] = lm[n + i] + oy;
        }
        fa_grey img = {0};
        fa_err e;
        CHECK(fa_grey_resize(&img, tw + 12, th + 14, &e) == FACEAU_OK, "grey alloc");
        for (int y = 0; y < img.height; y++)
            for (int x = 0; x < img.width; x++)
                img.px[(size_t)y * img.stride + x] = (uint8_t)((x * 7 + y * 13) % 256);
        float *out = malloc((size_t)tw * th * sizeof *out);
        faceau_status st = fa_validator_warp(v, ws, view, &img, src, out, &e);
        CHECK(st == FACEAU_OK, "warp: %s", e.msg);
        int bad = 0, outside = 0;
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) {
                float o = out[y * tw + x];
                if (mask[y * tw + x]) {
                    float want = img.px[(size_t)(y + 7) * img.stride + x + 5];
                    if (o != want)
                        bad++;
                } else if (o != 0.0f) {
                    outside++;
                }
            }
        CHECK(bad == 0, "view %d: %d masked pixels differ from the crop", view, bad);
        CHECK(outside == 0, "view %d: %d unmasked pixels are not 0", view, outside);
        free(out);
        fa_grey_free(&img);
    }
}

/* A uniform scale by 2 about the template origin on an image linear in x and y:
 * img(x, y) = 3x + 5y, so bilinear interpolation is exact and warped = 3 sx + 5 sy at the
 * source point (2 (x + min_x) + ox, 2 (y + min_y) + oy) rounded to 1/32 pixel. */
static void test_warp_scale(const fa_validator *v, fa_validator_ws *ws)
{
    int n, np, tw, th;
    const float *lm;
    const uint8_t *mask;
    float mx, my;
    fa_validator_view_template(v, 0, &n, &lm, &mx, &my, &mask, &np);
    fa_validator_view_size(v, 0, &tw, &th);
    float ox = 10.0f - 2 * mx, oy = 12.0f - 2 * my; /* template (0,0) -> (10, 12) */
    float src[2 * N];
    for (int i = 0; i < n; i++) {
        src[i] = 2 * lm[i] + ox;
        src[n + i] = 2 * lm[n + i] + oy;
    }
    fa_grey img = {0};
    fa_err e;
    CHECK(fa_grey_resize(&img, 2 * tw + 30, 2 * th + 30, &e) == FACEAU_OK, "grey alloc");
    /* grey pixels are bytes: one ramp per axis (x, then y), each within 0..255 */
    CHECK(img.width <= 256 && img.height <= 256, "view %dx%d too large for byte ramps", tw, th);
    float *out = malloc((size_t)tw * th * sizeof *out);
    for (int axis = 0; axis < 2; axis++) {
        for (int y = 0; y < img.height; y++)
            for (int x = 0; x < img.width; x++)
                img.px[(size_t)y * img.stride + x] = (uint8_t)(axis ? y : x);
        CHECK(fa_validator_warp(v, ws, 0, &img, src, out, &e) == FACEAU_OK, "warp: %s", e.msg);
        double maxd = 0;
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++)
                if (mask[y * tw + x]) {
                    double want = axis ? 12 + 2 * y : 10 + 2 * x;
                    double d = fabs(out[y * tw + x] - want);
                    if (d > maxd)
                        maxd = d;
                }
        /* positions within 1/64 px of the exact point: |error| <= 1 / 64 */
        CHECK(maxd <= 1.0 / 64 + 1e-4, "scaled warp, %c ramp: max |diff| %g", axis ? 'y' : 'x', maxd);
    }
    free(out);
    fa_grey_free(&img);
}

/* ---- OpenFace's own confidences ---------------------------------------------------------------- */

/* bin of a confidence: conf = 0.5 (1 - (-1 + step/2 + bin step)), step = 2/30 */
static int conf_bin(double conf)
{
    double dec = 1.0 - 2.0 * conf, step = 2.0 / 30;
    return (int)lround((dec + 1.0 - step / 2) / step);
}

typedef struct agree {
    int n, same, maxdiff, skipped;
    int succ_same; /* success = conf > 0.725 agrees */
} agree;

static void check_frame(const fa_validator *v, fa_validator_ws *ws, const fa_image *frame,
                        fa_grey *grey, const fa_csv_row *row, agree *a, const char *name)
{
    fa_err e;
    CHECK(fa_grey_from_bgr(frame, grey, &e) == FACEAU_OK, "grey: %s", e.msg);
    float lmk[2 * N], rot[3];
    for (int i = 0; i < 2 * N; i++)
        lmk[i] = (float)row->lmk2d[i];
    for (int k = 0; k < 3; k++)
        rot[k] = (float)row->params[1 + k];
    float conf = -1;
    faceau_status st = fa_validator_check(v, ws, grey, lmk, N, rot, &conf, &e);
    CHECK(st == FACEAU_OK, "%s frame %ld: %s", name, row->frame, e.msg);
    /* the crop warped from the BGR pixels (its grey made as sampled) is the grey crop's, bit for
     * bit: as fitted, and moved half out of the frame at each side (the crop clipped, the
     * bilinear taps at its edges) */
    const size_t nt = fa_validator_max_template(v);
    float *wg = malloc(nt * sizeof *wg), *wb = malloc(nt * sizeof *wb);
    CHECK(wg && wb, "out of memory");
    float minx = lmk[0], maxx = lmk[0], miny = lmk[N], maxy = lmk[N];
    for (int i = 1; i < N; i++) {
        minx = lmk[i] < minx ? lmk[i] : minx, maxx = lmk[i] > maxx ? lmk[i] : maxx;
        miny = lmk[N + i] < miny ? lmk[N + i] : miny, maxy = lmk[N + i] > maxy ? lmk[N + i] : maxy;
    }
    const float shifts[5][2] = {{0, 0},
                                {-(minx + maxx) / 2, 0},
                                {(float)frame->width - (minx + maxx) / 2, 0},
                                {0, -(miny + maxy) / 2},
                                {0, (float)frame->height - (miny + maxy) / 2}};
    for (int q = 0; q < 5 && wg && wb; q++) {
        float moved[2 * N];
        for (int i = 0; i < N; i++) {
            moved[i] = lmk[i] + shifts[q][0];
            moved[N + i] = lmk[N + i] + shifts[q][1];
        }
        int vg = -1, vb = -2, eg = -1, eb = -2;
        memset(wg, 0, nt * sizeof *wg); /* the floats past a view's template stay 0 in both */
        memset(wb, 0, nt * sizeof *wb);
        CHECK(fa_validator_crop_warp(v, ws, grey, moved, N, rot, &vg, wg, &eg, &e) == FACEAU_OK &&
                  fa_validator_crop_warp_bgr(v, ws, frame, moved, N, rot, &vb, wb, &eb, &e) ==
                      FACEAU_OK,
              "%s frame %ld: crop warp: %s", name, row->frame, e.msg);
        CHECK(vg == vb && eg == eb &&
                  (eg || memcmp(wg, wb, nt * sizeof *wg) == 0),
              "%s frame %ld, shift %d: the crop warped from BGR differs from the grey one's", name,
              row->frame, q);
    }
    free(wg);
    free(wb);
    int b = conf_bin(conf), rb = conf_bin(row->confidence);
    int d = abs(b - rb);
    a->n++;
    a->same += d == 0;
    if (d > a->maxdiff)
        a->maxdiff = d;
    a->succ_same += (conf > FA_VALIDATION_BOUNDARY) == (row->confidence > FA_VALIDATION_BOUNDARY);
    if (d && getenv("VALIDATOR_VERBOSE"))
        fprintf(stderr, "%s frame %ld: conf %.6f (bin %d), OpenFace %.6f (bin %d)\n", name,
                row->frame, conf, b, row->confidence, rb);
}

static void report(const char *name, const agree *a, double need)
{
    printf("%s: %d/%d frames same bin (%.2f%%), max |diff| %d bins, success agrees on %d "
           "(%d frames with confidence 0 skipped)\n", name, a->same, a->n,
           a->n ? 100.0 * a->same / a->n : 0, a->maxdiff, a->succ_same, a->skipped);
    CHECK(a->n > 0, "%s: no frames compared", name);
    CHECK(a->same >= need * a->n, "%s: %d/%d frames agree, need %.0f%%", name, a->same, a->n,
          100 * need);
}

/* Frames 1..max_frames of a video against its reference CSV; frames OpenFace did not validate
 * (confidence 0: no face, or the fit failed before the check) are skipped. */
static void test_video(const fa_validator *v, fa_validator_ws *ws, const char *video,
                       const char *ext, int max_frames)
{
    fa_err e;
    fa_video *vid = NULL;
    fa_csv_reader *rd = NULL;
    char vpath[4096];
    snprintf(vpath, sizeof vpath, "%s", tu_shared_path("data/videos/%s.%s", video, ext));
    if (fa_video_open(vpath, &vid, &e) != FACEAU_OK ||
        fa_csv_reader_open(tu_shared_path("reference/fullprec/%s.csv", video), &rd, &e) !=
            FACEAU_OK) {
        CHECK(0, "%s: %s", video, e.msg);
        fa_video_close(vid);
        return;
    }
    CHECK(fa_csv_reader_groups(rd) & FA_CSV_HAS_PDM, "%s: no p_ columns", video);
    fa_grey grey = {0};
    agree a = {0};
    static fa_csv_row row;
    for (int f = 0; !max_frames || f < max_frames; f++) {
        const fa_image *frame;
        int got = 0, gotr = 0;
        if (fa_video_read(vid, &frame, &got, &e) != FACEAU_OK || !got)
            break;
        if (fa_csv_reader_next(rd, &row, &gotr, &e) != FACEAU_OK || !gotr)
            break;
        if (row.confidence == 0) {
            a.skipped++;
            continue;
        }
        check_frame(v, ws, frame, &grey, &row, &a, video);
    }
    report(video, &a, 0.99);
    fa_grey_free(&grey);
    fa_csv_reader_close(rd);
    fa_video_close(vid);
}

/* FaceLandmarkVidMulti's CSV: several rows (faces) per frame, in frame order. Its confidences
 * spread over 27 of the 30 bins and 246 rows fail validation. */
static void test_video_multi(const fa_validator *v, fa_validator_ws *ws, const char *video,
                             const char *csv, int max_frames, double need)
{
    fa_err e;
    fa_video *vid = NULL;
    fa_csv_reader *rd = NULL;
    char vpath[4096];
    snprintf(vpath, sizeof vpath, "%s", tu_shared_path("data/videos/%s", video));
    if (fa_video_open(vpath, &vid, &e) != FACEAU_OK ||
        fa_csv_reader_open(tu_shared_path("reference/fullprec/%s.csv", csv), &rd, &e) !=
            FACEAU_OK) {
        CHECK(0, "%s: %s", video, e.msg);
        fa_video_close(vid);
        return;
    }
    fa_grey grey = {0};
    agree a = {0};
    static fa_csv_row row;
    int have = 0, got = 1;
    if (fa_csv_reader_next(rd, &row, &have, &e) != FACEAU_OK)
        have = 0;
    for (long f = 1; have && (!max_frames || f <= max_frames); f++) {
        const fa_image *frame;
        if (fa_video_read(vid, &frame, &got, &e) != FACEAU_OK || !got)
            break;
        while (have && row.frame == f) {
            if (row.confidence == 0)
                a.skipped++;
            else
                check_frame(v, ws, frame, &grey, &row, &a, csv);
            if (fa_csv_reader_next(rd, &row, &have, &e) != FACEAU_OK)
                have = 0;
        }
    }
    report(csv, &a, need);
    fa_grey_free(&grey);
    fa_csv_reader_close(rd);
    fa_video_close(vid);
}

static void test_image(const fa_validator *v, fa_validator_ws *ws, const char *name)
{
    fa_err e;
    fa_image img = {0};
    fa_csv_reader *rd = NULL;
    if (fa_image_read(tu_shared_path("data/images/%s.jpg", name), &img, &e) != FACEAU_OK ||
        fa_csv_reader_open(tu_shared_path("reference/images/fullprec/%s.csv", name), &rd, &e) !=
            FACEAU_OK) {
        CHECK(0, "%s: %s", name, e.msg);
        fa_image_free(&img);
        return;
    }
    fa_grey grey = {0};
    agree a = {0};
    static fa_csv_row row;
    int got = 0;
    while (fa_csv_reader_next(rd, &row, &got, &e) == FACEAU_OK && got)
        check_frame(v, ws, &img, &grey, &row, &a, name);
    report(name, &a, 1.0);
    fa_grey_free(&grey);
    fa_csv_reader_close(rd);
    fa_image_free(&img);
}

/* ---- the convolution and its AVX2 twin ------------------------------------------------------- */

#if FA_BUILD_AVX2 /* (test_conv_simd's data) */
static uint32_t conv_rng = 12345;
static float conv_rand(void)
{
    conv_rng = conv_rng * 1664525u + 1013904223u;
    return (float)((conv_rng >> 8) & 0xffff) / 4096.0f - 8.0f;
}
#endif

/* A hand case: one 2x2 kernel over a 2x3 map, (0 + w0*a + w1*b + ...) in (kx, ky) order, then
 * + bias; the float chain order shows in the rounding of 1e8 + 1 - 1e8. */
static void test_conv_hand(void)
{
    /* in: [[1e8, 1, 2], [1, -1e8, 3]]; im2col order (kx, ky): (0,0) (0,1) (1,0) (1,1) */
    const float in[6] = {1e8f, 1, 2, 1, -1e8f, 3};
    const float w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
    float out[2], row[2];
    fa_validator_conv(w, b, 1, 1, 2, 2, 2, 3, in, out, row);
    /* x = 0: 1e8, 1, 1, -1e8: 1e8 + 1 rounds to 1e8 (float ulp 8 there), so 0, then + 0.5 */
    CHECK(out[0] == 0.5f, "conv x=0: %.9g, want 0.5", out[0]);
    /* x = 1: 1, -1e8, 2, 3: every partial sum rounds back to -1e8, + 0.5 too; summing 1 + 2 + 3
     * first would give -99999994 -> -99999992 */
    CHECK(out[1] == -1e8f, "conv x=1: %.9g, want -1e8", out[1]);
}

/* The AVX2 and AVX-512 kernels against the portable one, bit for bit, on random layers of every
 * shape class: rows narrower than 8 or 16 (the fallbacks), exactly 8 or 16, blocks overlapping
 * at the row's end, one to four blocks of 16 in a group and more than one group, 1..21 kernels
 * (the 5- and 10-kernel groups and every remainder), several input maps. */
static void test_conv_simd(void)
{
#if FA_BUILD_AVX2
    if (!(fa_cpu_features() & FA_CPU_AVX2))
        return;
    static const int shapes[][6] = {/* cin cout kh kw h wd */
        {1, 10, 9, 9, 60, 60}, {10, 10, 7, 7, 26, 26}, {1, 1, 3, 3, 5, 10}, {2, 3, 2, 3, 9, 10},
        {3, 7, 3, 2, 6, 17}, {1, 4, 1, 1, 3, 8}, {2, 11, 4, 4, 8, 11}, {1, 2, 2, 2, 4, 30},
        {4, 6, 3, 3, 7, 25}, {2, 13, 3, 3, 6, 90}, {1, 7, 2, 2, 3, 17}, {3, 12, 2, 3, 5, 73},
        {1, 21, 2, 1, 3, 40}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int cin = shapes[s][0], cout = shapes[s][1], kh = shapes[s][2], kw = shapes[s][3];
        const int h = shapes[s][4], wd = shapes[s][5], oh = h - kh + 1, ow = wd - kw + 1;
        const size_t nw = (size_t)cout * cin * kh * kw, nin = (size_t)cin * h * wd;
        const size_t nout = (size_t)cout * oh * ow;
        float *w = malloc(nw * sizeof *w), *b = malloc((size_t)cout * sizeof *b);
        float *in = malloc(nin * sizeof *in), *o1 = malloc(nout * sizeof *o1);
        float *o2 = malloc(nout * sizeof *o2), *row = malloc((size_t)ow * sizeof *row);
        CHECK(w && b && in && o1 && o2 && row, "conv test: out of memory");
        if (w && b && in && o1 && o2 && row) {
            for (size_t i = 0; i < nw; i++)
                w[i] = conv_rand();
            for (int i = 0; i < cout; i++)
                b[i] = conv_rand();
            for (size_t i = 0; i < nin; i++)
                in[i] = conv_rand() * 1000.0f;
            fa_validator_conv(w, b, cin, cout, kh, kw, h, wd, in, o1, row);
            fa_validator_conv_avx2(w, b, cin, cout, kh, kw, h, wd, in, o2, row);
            CHECK(memcmp(o1, o2, nout * sizeof *o1) == 0, "conv shape %zu: AVX2 differs", s);
            if (fa_cpu_features() & FA_CPU_AVX512) {
                memset(o2, 0, nout * sizeof *o2);
                fa_validator_conv_avx512(w, b, cin, cout, kh, kw, h, wd, in, o2, row);
                CHECK(memcmp(o1, o2, nout * sizeof *o1) == 0, "conv shape %zu: AVX-512 differs", s);
            }
        }
        free(w);
        free(b);
        free(in);
        free(o1);
        free(o2);
        free(row);
    }
#endif
}

int main(int argc, char **argv)
{
    fa_validator *v = load_model();
    if (!v)
        return tu_done();
    fa_validator_ws *ws = NULL;
    fa_err e;
    CHECK(fa_validator_ws_create(&ws, &e) == FACEAU_OK, "ws: %s", e.msg);
    test_model(v);
    test_damaged();
    test_warp_identity(v, ws);
    test_warp_scale(v, ws);
    test_tiny(ws);
    test_conv_hand();
    test_conv_simd();
    /* --full: every frame of every single-face reference video (slow) */
    int full = argc > 1 && strcmp(argv[1], "--full") == 0;
    test_video(v, ws, "2015-10-15-15-14", "avi", full ? 0 : 150);
    test_video(v, ws, "1815_01_008_tony_blair", "avi", 0);
    if (full) {
        test_video(v, ws, "0217_03_006_alanis_morissette", "avi", 0);
        test_video(v, ws, "0417_02_003_bill_clinton", "avi", 0);
        test_video(v, ws, "1192_01_006_julia_roberts", "avi", 0);
        test_video(v, ws, "1878_01_002_vladimir_putin", "avi", 0);
        test_video(v, ws, "default", "wmv", 0);
        test_video(v, ws, "portrait_1080x1920", "mp4", 0);
        test_image(v, ws, "24795717_1");
        test_image(v, ws, "child2");
    }
    test_image(v, ws, "Obama");
    test_video_multi(v, ws, "multi_face.avi", "multi_face_all_faces", full ? 0 : 120, 0.99);
    fa_validator_ws_free(ws);
    fa_validator_free(v);
    return tu_done();
}
