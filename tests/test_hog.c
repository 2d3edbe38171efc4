/* test_hog.c - fa_fhog against OpenFace's own .hog records and hand-derived cases. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define N_REF_FRAMES 150
#define CH 31

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One .hog record: int32 cols, rows, channels; float valid; 4464 floats. 0 on success. */
static int read_record(FILE *f, float *hog)
{
    int32_t dims[3];
    float valid;
    if (fread(dims, sizeof dims[0], 3, f) != 3 || fread(&valid, sizeof valid, 1, f) != 1)
        return -1;
    if (dims[0] != FA_HOG_CELLS || dims[1] != FA_HOG_CELLS || dims[2] != FA_HOG_CHANNELS ||
        valid != 1.0f)
        return -1;
    return fread(hog, sizeof(float), FACEAU_HOG_SIZE, f) == FACEAU_HOG_SIZE ? 0 : -1;
}

/* Our HOG of each aligned BMP against OpenFace's record of the same frame. */
static void test_reference(void)
{
    const char *path = tu_shared_path("reference/stages/2015-10-15-15-14.hog");
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return;
    static float ref[FACEAU_HOG_SIZE], ours[FACEAU_HOG_SIZE];
    double max_diff = 0.0, secs = 0.0;
    long identical = 0, total = 0;
    int frames = 0;
    for (int i = 1; i <= N_REF_FRAMES; i++) {
        fa_image img = {0};
        const char *bmp = tu_shared_path("reference/stages/aligned/frame_det_00_%06d.bmp", i);
        if (read_record(f, ref) != 0 || tu_bmp_read(bmp, &img) != 0) {
            CHECK(0, "frame %d: cannot read its record or %s", i, bmp);
            break;
        }
        CHECK(img.width == FA_ALIGN_SIZE && img.height == FA_ALIGN_SIZE, "frame %d: %dx%d", i,
              img.width, img.height);
        double t0 = now_sec();
        size_t n = fa_fhog(img.bgr, img.width, img.height, img.stride, 8, ours);
        secs += now_sec() - t0;
        CHECK(n == FACEAU_HOG_SIZE, "frame %d: fa_fhog returned %zu", i, n);
        for (int k = 0; k < FACEAU_HOG_SIZE; k++) {
            double d = fabs((double)ours[k] - (double)ref[k]);
            if (d > max_diff)
                max_diff = d;
            identical += memcmp(&ours[k], &ref[k], sizeof(float)) == 0;
        }
        total += FACEAU_HOG_SIZE;
        frames++;
        fa_image_free(&img);
    }
    fclose(f);
    printf("reference: %d frames, max |diff| %.3g, %ld of %ld floats bit-identical, "
           "%.1f us/frame (cold caches)\n",
           frames, max_diff, identical, total, frames ? 1e6 * secs / frames : 0.0);
    CHECK(frames == N_REF_FRAMES, "only %d frames compared", frames);
    CHECK(max_diff <= 1e-3, "max |diff| %g", max_diff);
    CHECK(identical == total, "%ld floats differ from OpenFace's", total - identical);
}

/* A w x h BGR image whose channel c at (x, y) is fn(c, x, y). */
typedef int (*pixel_fn)(int c, int x, int y);

static uint8_t *make_image(int w, int h, pixel_fn fn)
{
    uint8_t *img = malloc((size_t)w * h * 3);
    if (!img)
        return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img[((size_t)y * w + x) * 3 + c] = (uint8_t)fn(c, x, y);
    return img;
}

static int px_const(int c, int x, int y) { return (void)x, (void)y, 40 + 50 * c; }
static int px_ramp_right(int c, int x, int y) { return (void)c, (void)y, x; }
static int px_ramp_left(int c, int x, int y) { return (void)c, (void)y, 100 - x; }
static int px_ramp_down(int c, int x, int y) { return (void)c, (void)x, 3 * y; }
/* red (channel 2) grows as (3x + 4y), green (channel 1) as 5x, blue constant: red's gradient
 * (6, 8) and green's (10, 0) are equally long everywhere. */
static int px_tie(int c, int x, int y) { return c == 2 ? 3 * x + 4 * y : c == 1 ? 5 * x : 7; }

/* Every cell of a (rows x cols) output equals `want` within tol. */
static void check_cells(const float *hog, int rows, int cols, const float want[CH], double tol,
                        const char *what)
{
    double worst = 0.0;
    int at = -1;
    for (int i = 0; i < rows * cols * CH; i++) {
        double d = fabs((double)hog[i] - (double)want[i % CH]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    CHECK(worst <= tol, "%s: cell %d channel %d is %.7g, expected %.7g", what, at / CH, at % CH,
          at >= 0 ? hog[at] : 0.0, at >= 0 ? want[at % CH] : 0.0);
}

/*
 * A uniform gradient g = (gx, gy), the same in all channels, on a 32x32 image with cell 8:
 * 4x4 cells, 2x2 outputs. Every pixel x, y = 1..30 has |g| = v and one orientation bin b.
 * In 1-D the bilinear weights a pixel run gives cell 1 or 2 (its tent spans pixels 4..19 or
 * 12..27, all inside 1..30) sum to 8, so each output cell's histogram is h_b = 64 v, other
 * bins 0. The edge cells get 1-D sums of 6.4375 (pixels 1..11), so every 2x2 energy block B
 * satisfies B <= 4 h_b^2 and h_b / sqrt(B) >= 0.5 > 0.2: each of the 4 normalisers clips,
 * giving 0.5 * 0.2 = 0.1 per lane (up to float rounding of 0.1/nn * nn).
 * Hence channel b = 0.4, channel b % 9 + 18 = 0.4, channels 27..30 = 0.4714 * 0.1, rest 0.
 */
static void expect_uniform(int bin, float want[CH])
{
    for (int k = 0; k < CH; k++)
        want[k] = 0.0f;
    want[bin] = 0.4f;
    want[bin % 9 + 18] = 0.4f;
    for (int k = 27; k < 31; k++)
        want[k] = 0.04714f;
}

static void check_uniform(pixel_fn fn, int bin, const char *what)
{
    uint8_t *img = make_image(32, 32, fn);
    float hog[2 * 2 * CH], want[CH];
    CHECK(img != NULL, "out of memory");
    if (!img)
        return;
    size_t n = fa_fhog(img, 32, 32, 32 * 3, 8, hog);
    CHECK(n == 2 * 2 * CH, "%s: returned %zu", what, n);
    expect_uniform(bin, want);
    check_cells(hog, 2, 2, want, 2e-6, what);
    free(img);
}

static void test_hand_derived(void)
{
    /* gradient (2, 0): dot with u_0 = (1, 0) is 2, larger than any other |u_o . g|. */
    check_uniform(px_ramp_right, 0, "ramp right");
    /* gradient (-2, 0): -(u_0 . g) = 2 wins, bin 0 + 9. */
    check_uniform(px_ramp_left, 9, "ramp left");
    /* gradient (0, 6): u_4 and u_5 give the same 0.9848 * 6; the first (4) wins. */
    check_uniform(px_ramp_down, 4, "ramp down");

    /* A constant image has no gradient: every feature is 0 (0 clipped by nn, times n). */
    uint8_t *img = make_image(32, 32, px_const);
    float hog[2 * 2 * CH], zero[CH] = {0};
    CHECK(img && fa_fhog(img, 32, 32, 96, 8, hog) == 2 * 2 * CH, "constant image");
    check_cells(hog, 2, 2, zero, 0.0, "constant image");
    free(img);
}

/*
 * Channel ties on px_tie (32 wide): dlib's SIMD path (columns 1..24) keeps red only if strictly
 * longer than green, so it takes green's (10, 0) -> bin 0; the scalar tail (columns 25..30)
 * keeps red on a tie -> (6, 8), whose best direction is u_3 (60 deg, 0.5*6 + 0.866*8 = 9.928
 * vs 9.738 for u_2) -> bin 3. Output column 0 (cell 1, pixels 4..19) sees only bin 0; output
 * column 1 (cell 2, pixels 12..27) also gets bin-3 votes from columns 25..27.
 */
static void test_channel_ties(void)
{
    uint8_t *img = make_image(32, 32, px_tie);
    float hog[2 * 2 * CH];
    CHECK(img && fa_fhog(img, 32, 32, 96, 8, hog) == 2 * 2 * CH, "tie image");
    for (int r = 0; r < 2 && img; r++) {
        const float *left = hog + (size_t)(r * 2 + 0) * CH, *right = hog + (size_t)(r * 2 + 1) * CH;
        CHECK(left[0] > 0.3f && left[3] == 0.0f && left[21] == 0.0f,
              "row %d left: bin0 %g bin3 %g", r, left[0], left[3]);
        CHECK(right[0] > 0.3f && right[3] > 0.0f && right[21] > 0.0f,
              "row %d right: bin0 %g bin3 %g", r, right[0], right[3]);
        for (int k = 0; k < 18; k++)
            if (k != 0 && k != 3)
                CHECK(left[k] == 0.0f && right[k] == 0.0f, "row %d bin %d nonzero", r, k);
    }
    free(img);
}

/*
 * Sizes: cells per side = (int)(n / cell + 0.5), outputs = cells - 2; dlib returns an empty
 * map (fa_fhog: 0) when that is <= 0. With cell 8: 19 px -> 2 cells -> 0; 20 px -> 3 cells ->
 * 1 output. 40x24 -> 5x3 cells -> 1 row x 3 columns.
 */
static void test_sizes(void)
{
    uint8_t *img = make_image(48, 48, px_ramp_right);
    static float hog[48 * 48 * CH];
    CHECK(img != NULL, "out of memory");
    if (!img)
        return;
    CHECK(fa_fhog(img, 16, 16, 48 * 3, 8, hog) == 0, "16x16 is too small");
    CHECK(fa_fhog(img, 19, 19, 48 * 3, 8, hog) == 0, "19x19 is too small");
    CHECK(fa_fhog(img, 20, 20, 48 * 3, 8, hog) == CH, "20x20 gives one cell");
    CHECK(fa_fhog(img, 40, 24, 48 * 3, 8, hog) == 3 * CH, "40x24 gives 1x3 cells");
    CHECK(fa_fhog(img, 24, 40, 48 * 3, 8, hog) == 3 * CH, "24x40 gives 3x1 cells");
    CHECK(fa_fhog(img, 48, 48, 48 * 3, 8, hog) == 4 * 4 * CH, "48x48 gives 4x4 cells");
    CHECK(fa_fhog(img, 0, 48, 48 * 3, 8, hog) == 0, "zero width");
    CHECK(fa_fhog(img, 48, 48, 48 * 3 - 1, 8, hog) == 0, "stride too small");
    CHECK(fa_fhog(img, 48, 48, 48 * 3, 0, hog) == 0, "zero cell size");
    CHECK(fa_fhog(NULL, 48, 48, 48 * 3, 8, hog) == 0, "no image");
    /* cell 1 is dlib's per-pixel variant: (w - 2) x (h - 2) outputs, nothing below 3 px. */
    CHECK(fa_fhog(img, 3, 3, 48 * 3, 1, hog) == CH, "3x3, cell 1");
    CHECK(fa_fhog(img, 2, 5, 48 * 3, 1, hog) == 0, "2x5, cell 1");
    free(img);
}

/*
 * Cell 1 (dlib's per-pixel variant) on a 5x5 horizontal ramp I = x: interior pixels have
 * g = (2, 0), squared length 4, bin 0; border pixels count as 0. Each output pixel's 4 blocks
 * of 2x2 squared lengths contain the pixel itself, so 4 <= B <= 16 (for output (0, 0): 16, 8,
 * 8, 4) and nn = 0.2 * sqrt(B) <= 0.8 < |g| = 2: every lane clips to 0.1, giving channels 0
 * and 18 = 0.4, 27..30 = 0.04714, the rest 0, at all 3x3 outputs.
 */
static void test_cell1(void)
{
    uint8_t *img = make_image(5, 5, px_ramp_right);
    float hog[3 * 3 * CH], want[CH];
    CHECK(img && fa_fhog(img, 5, 5, 15, 1, hog) == 3 * 3 * CH, "cell 1 ramp");
    expect_uniform(0, want);
    check_cells(hog, 3, 3, want, 2e-6, "cell 1 ramp");
    free(img);
}

/* An image wider than the stack workspace goes through the heap path with the same maths:
 * the ramp gives the uniform-gradient values in every output cell away from the border. */
static void test_large(void)
{
    const int w = 1600, h = 32;
    uint8_t *img = malloc((size_t)w * h * 3);
    float *hog = malloc(sizeof(float) * 2 * 198 * CH), want[CH];
    CHECK(img && hog, "out of memory");
    if (img && hog) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                memset(img + ((size_t)y * w + x) * 3, y * 5, 3);
        CHECK(fa_fhog(img, w, h, w * 3, 8, hog) == 2 * 198 * CH, "1600x32");
        expect_uniform(4, want);
        check_cells(hog, 2, 198, want, 2e-6, "1600x32 vertical ramp");
    }
    free(img);
    free(hog);
}

int main(void)
{
    test_reference();
    test_hand_derived();
    test_channel_ties();
    test_sizes();
    test_cell1();
    test_large();
    return tu_done();
}
