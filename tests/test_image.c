/* test_image.c - fa_image_read against cv2.imread(path, cv2.IMREAD_COLOR) (OpenCV 4.6) and
 * hand-built PNG/BMP files; fa_list_images on images/sequence and a scratch directory.
 *
 * The JPEG/BMP expectations were obtained once with the independent oracle, /usr/bin/python3 +
 * cv2 4.6: a = cv2.imread(path, cv2.IMREAD_COLOR); FNV-1a 64 of a.tobytes() (BGR rows,
 * width*3 bytes each) and a[y, x] at (0,0), (w/2,h/2), (w-1,h-1). o6.jpg is sequence/001.jpg
 * with an APP1 "Exif" segment (little-endian IFD0 holding only Orientation = 6) inserted after
 * SOI, built byte for byte as make_exif_jpeg() does; cv2 returns it rotated to 480x640. The
 * PNG and BMP files written here have hand-derived expected pixels (what the file format
 * says, reduced the way IMREAD_COLOR does: 16-bit -> high byte, alpha dropped, grey -> B=G=R,
 * palette looked up). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "testutil.h"

typedef struct img_check {
    const char *rel; /* under shared/, or NULL for the scratch o6.jpg */
    int w, h;
    uint64_t fnv;
    uint8_t px[3][3]; /* (0,0), (w/2,h/2), (w-1,h-1) */
} img_check;

static const uint8_t *pix(const fa_image *im, int x, int y)
{
    return im->bgr + (size_t)y * (size_t)im->stride + 3 * (size_t)x;
}

static void check_against_cv2(const img_check *c, const char *path)
{
    fa_err err;
    fa_image im;
    faceau_status st = fa_image_read(path, &im, &err);
    CHECK(st == FACEAU_OK, "%s: %s", path, err.msg);
    if (st != FACEAU_OK)
        return;
    CHECK(im.width == c->w && im.height == c->h, "%s: %dx%d, cv2 %dx%d", path, im.width, im.height, c->w,
          c->h);
    if (im.width == c->w && im.height == c->h) {
        CHECK(tu_fnv1a(&im) == c->fnv, "%s: FNV-1a %016llx, cv2 %016llx", path, (unsigned long long)tu_fnv1a(&im),
              (unsigned long long)c->fnv);
        const int xs[3] = {0, c->w / 2, c->w - 1}, ys[3] = {0, c->h / 2, c->h - 1};
        for (int k = 0; k < 3; k++) {
            const uint8_t *p = pix(&im, xs[k], ys[k]);
            CHECK(memcmp(p, c->px[k], 3) == 0, "%s (%d,%d): %d %d %d, cv2 %d %d %d", path, xs[k], ys[k], p[0],
                  p[1], p[2], c->px[k][0], c->px[k][1], c->px[k][2]);
        }
    }
    fa_image_free(&im);
}

/* sequence/001.jpg with a minimal EXIF APP1 (Orientation = 6) right after SOI. */
static int make_exif_jpeg(const char *out)
{
    static const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,  /* APP1, length 34 */
                                   'I', 'I', 42, 0, 8, 0, 0, 0,                      /* TIFF header */
                                   1, 0,                                             /* one entry */
                                   0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0,         /* Orientation SHORT 6 */
                                   0, 0, 0, 0};                                      /* no next IFD */
    size_t n;
    uint8_t *src = tu_read_file(tu_shared_path("data/images/sequence/001.jpg"), &n);
    if (!src || n < 2)
        return -1;
    uint8_t *dst = malloc(n + sizeof app1);
    int rc = -1;
    if (dst) {
        memcpy(dst, src, 2);
        memcpy(dst + 2, app1, sizeof app1);
        memcpy(dst + 2 + sizeof app1, src + 2, n - 2);
        rc = tu_write_file(out, dst, n + sizeof app1);
    }
    free(dst);
    free(src);
    return rc;
}

static void test_cv2_images(const char *dir)
{
    static const img_check c[] = {
        {"data/images/Obama.jpg", 616, 389, 0xf77fc0e1a8559f59ULL, {{191, 172, 169}, {56, 104, 162}, {135, 94, 91}}},
        {"data/images/24795717_1.jpg", 1024, 677, 0xd520b74406e83217ULL, {{10, 12, 20}, {211, 221, 238}, {62, 108, 79}}},
        {"data/images/child2.jpg", 1800, 1118, 0x7027655bb1b44204ULL, {{105, 107, 107}, {133, 156, 188}, {57, 81, 105}}},
        {"data/images/sequence/001.jpg", 640, 480, 0xfdeb8c955221d896ULL, {{248, 254, 253}, {227, 244, 253}, {253, 255, 243}}},
        {"data/images/sequence/030.jpg", 640, 480, 0x14db9a14adc96a68ULL, {{248, 254, 253}, {209, 221, 255}, {252, 255, 240}}},
        {"reference/stages/aligned/frame_det_00_000001.bmp", 112, 112, 0xdd3323eac83f5220ULL, {{0, 0, 0}, {96, 87, 105}, {0, 0, 0}}},
        {NULL, 480, 640, 0xb9434c95d39933e4ULL, {{122, 129, 96}, {230, 249, 255}, {224, 255, 254}}},
    };
    char o6[4096];
    snprintf(o6, sizeof o6, "%s/o6.jpg", dir);
    CHECK(make_exif_jpeg(o6) == 0, "cannot write %s", o6);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        check_against_cv2(&c[i], c[i].rel ? tu_shared_path("%s", c[i].rel) : o6);

    /* Orientation 6 = transpose then flip horizontally: out(r, c) = plain(H-1-c, r). */
    fa_err err;
    fa_image plain, rot;
    if (fa_image_read(tu_shared_path("data/images/sequence/001.jpg"), &plain, &err) == FACEAU_OK &&
        fa_image_read(o6, &rot, &err) == FACEAU_OK) {
        int bad = 0;
        for (int r = 0; r < rot.height; r++)
            for (int k = 0; k < rot.width; k++)
                bad += memcmp(pix(&rot, k, r), pix(&plain, r, plain.height - 1 - k), 3) != 0;
        CHECK(rot.width == plain.height && rot.height == plain.width && bad == 0,
              "o6.jpg is not 001.jpg rotated 90 degrees clockwise (%d pixels differ)", bad);
        fa_image_free(&rot);
        fa_image_free(&plain);
    }
}

/* Every aligned face OpenFace wrote (24-bit BMP) against the test suite's own BMP reader. */
static void test_aligned_bmps(void)
{
    int bad = 0;
    for (int i = 1; i <= 150; i++) {
        const char *p = tu_shared_path("reference/stages/aligned/frame_det_00_%06d.bmp", i);
        fa_err err;
        fa_image a, b;
        if (fa_image_read(p, &a, &err) != FACEAU_OK) {
            bad++;
            continue;
        }
        if (tu_bmp_read(p, &b) == 0) {
            bad += a.width != b.width || a.height != b.height || memcmp(a.bgr, b.bgr, (size_t)a.stride * (size_t)a.height) != 0;
            fa_image_free(&b);
        } else
            bad++;
        fa_image_free(&a);
    }
    CHECK(bad == 0, "%d of 150 aligned BMPs differ from tu_bmp_read", bad);
}

/* ---- hand-built PNGs -------------------------------------------------------------------- */

typedef struct png_spec {
    int w, h, depth, color, interlace;
    const uint8_t *rows; /* packed rows as libpng wants them */
    size_t row_bytes;
    const png_color *palette;
    int npalette;
    const uint8_t *trans;
    int ntrans;
} png_spec;

static int write_png(const char *path, const png_spec *s)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile int rc = -1;
    if (info && setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color, s->interlace,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        if (s->palette)
            png_set_PLTE(png, info, s->palette, s->npalette);
        if (s->trans)
            png_set_tRNS(png, info, s->trans, s->ntrans, NULL);
        png_write_info(png, info);
        int passes = png_set_interlace_handling(png);
        for (int p = 0; p < passes; p++)
            for (int y = 0; y < s->h; y++)
                png_write_row(png, s->rows + (size_t)y * s->row_bytes);
        png_write_end(png, NULL);
        rc = 0;
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    return (fclose(f) == 0) ? rc : -1;
}

static void expect_pixels(const char *path, int w, int h, const uint8_t *bgr)
{
    fa_err err;
    fa_image im;
    faceau_status st = fa_image_read(path, &im, &err);
    CHECK(st == FACEAU_OK, "%s: %s", path, err.msg);
    if (st != FACEAU_OK)
        return;
    int bad = im.width != w || im.height != h;
    for (int y = 0; !bad && y < h; y++)
        bad = memcmp(im.bgr + (size_t)y * (size_t)im.stride, bgr + (size_t)y * (size_t)w * 3, (size_t)w * 3) != 0;
    CHECK(!bad, "%s: pixels differ from the expected ones", path);
    fa_image_free(&im);
}

static void test_pngs(const char *dir)
{
    char p[4096];
    /* RGBA, 16 bit, big-endian samples: high bytes, alpha dropped */
    static const uint8_t rgba16[] = {0x12, 0x34, 0xAB, 0xCD, 0xFF, 0x00, 0x00, 0x01,
                                     0x00, 0xFF, 0x80, 0x00, 0x7F, 0xFF, 0xFF, 0xFF};
    static const uint8_t rgba16_bgr[] = {0xFF, 0xAB, 0x12, 0x7F, 0x80, 0x00};
    snprintf(p, sizeof p, "%s/rgba16.png", dir);
    png_spec s1 = {2, 1, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, rgba16, 16, NULL, 0, NULL, 0};
    CHECK(write_png(p, &s1) == 0, "cannot write %s", p);
    expect_pixels(p, 2, 1, rgba16_bgr);

    /* grey 8 bit, Adam7-interlaced: B = G = R */
    uint8_t grey[9 * 7], grey_bgr[9 * 7 * 3];
    for (int i = 0; i < 9 * 7; i++) {
        grey[i] = (uint8_t)(i * 37 + 5);
        memset(grey_bgr + 3 * i, grey[i], 3);
    }
    snprintf(p, sizeof p, "%s/grey_adam7.png", dir);
    png_spec s2 = {9, 7, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7, grey, 9, NULL, 0, NULL, 0};
    CHECK(write_png(p, &s2) == 0, "cannot write %s", p);
    expect_pixels(p, 9, 7, grey_bgr);

    /* grey 1 bit: 0 -> 0, 1 -> 255 */
    static const uint8_t bits[] = {0xA0}; /* 1 0 1 */
    static const uint8_t bits_bgr[] = {255, 255, 255, 0, 0, 0, 255, 255, 255};
    snprintf(p, sizeof p, "%s/grey1.png", dir);
    png_spec s3 = {3, 1, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, bits, 1, NULL, 0, NULL, 0};
    CHECK(write_png(p, &s3) == 0, "cannot write %s", p);
    expect_pixels(p, 3, 1, bits_bgr);

    /* palette with transparency: colours looked up, alpha dropped */
    static const png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {1, 2, 3}};
    static const uint8_t trans[3] = {0, 128, 255};
    static const uint8_t idx[] = {2, 0, 1, 1};
    static const uint8_t idx_bgr[] = {3, 2, 1, 30, 20, 10, 50, 100, 200, 50, 100, 200};
    snprintf(p, sizeof p, "%s/palette.png", dir);
    png_spec s4 = {4, 1, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, idx, 4, pal, 3, trans, 3};
    CHECK(write_png(p, &s4) == 0, "cannot write %s", p);
    expect_pixels(p, 4, 1, idx_bgr);
}

/* ---- hand-built BMPs -------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* BITMAPFILEHEADER + 40-byte BITMAPINFOHEADER; returns the header length (54). */
static size_t bmp_headers(uint8_t *b, int w, int h, int bpp, uint32_t palette_bytes, uint32_t data_bytes)
{
    memset(b, 0, 54);
    b[0] = 'B';
    b[1] = 'M';
    put32(b + 2, 54 + palette_bytes + data_bytes);
    put32(b + 10, 54 + palette_bytes);
    put32(b + 14, 40);
    put32(b + 18, (uint32_t)w);
    put32(b + 22, (uint32_t)h);
    b[26] = 1;
    b[28] = (uint8_t)bpp;
    put32(b + 34, data_bytes);
    put32(b + 46, palette_bytes / 4); /* colours used; 0 would mean 2^bpp */
    return 54;
}

static void test_bmps(const char *dir)
{
    char p[4096];
    uint8_t file[1024];
    /* 8-bit palette, 5x2, bottom-up (first stored row is the image's last), rows padded to 8 */
    size_t k = bmp_headers(file, 5, 2, 8, 3 * 4, 2 * 8);
    static const uint8_t pal8[12] = {1, 2, 3, 0, 40, 50, 60, 0, 250, 251, 252, 0}; /* b g r x */
    memcpy(file + k, pal8, 12);
    k += 12;
    static const uint8_t rows8[16] = {2, 2, 0, 1, 0, 9, 9, 9, /* bottom row */ 0, 1, 2, 1, 0, 9, 9, 9};
    memcpy(file + k, rows8, 16);
    k += 16;
    static const uint8_t want8[] = {1, 2, 3, 40, 50, 60, 250, 251, 252, 40, 50, 60, 1, 2, 3,
                                    250, 251, 252, 250, 251, 252, 1, 2, 3, 40, 50, 60, 1, 2, 3};
    snprintf(p, sizeof p, "%s/pal8.bmp", dir);
    CHECK(tu_write_file(p, file, k) == 0, "cannot write %s", p);
    expect_pixels(p, 5, 2, want8);

    /* 32-bit, 2x2, top-down (negative height): B G R A, alpha dropped */
    k = bmp_headers(file, 2, -2, 32, 0, 16);
    static const uint8_t px32[16] = {1, 2, 3, 99, 4, 5, 6, 0, 7, 8, 9, 255, 10, 11, 12, 7};
    memcpy(file + k, px32, 16);
    k += 16;
    static const uint8_t want32[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    snprintf(p, sizeof p, "%s/bgra32.bmp", dir);
    CHECK(tu_write_file(p, file, k) == 0, "cannot write %s", p);
    expect_pixels(p, 2, 2, want32);

    /* 16-bit without masks is 5-5-5: 0x7FFF -> 248 248 248, 0x001F -> B 248 */
    k = bmp_headers(file, 2, 1, 16, 0, 4);
    static const uint8_t px16[4] = {0xFF, 0x7F, 0x1F, 0x00};
    memcpy(file + k, px16, 4);
    k += 4;
    static const uint8_t want16[] = {248, 248, 248, 248, 0, 0};
    snprintf(p, sizeof p, "%s/rgb555.bmp", dir);
    CHECK(tu_write_file(p, file, k) == 0, "cannot write %s", p);
    expect_pixels(p, 2, 1, want16);

    /* the same 32-bit file without its last byte: OpenCV's reader fails, so must we */
    snprintf(p, sizeof p, "%s/short.bmp", dir);
    k = bmp_headers(file, 2, -2, 32, 0, 16);
    memcpy(file + k, px32, 15);
    CHECK(tu_write_file(p, file, k + 15) == 0, "cannot write %s", p);
    fa_err err;
    fa_image im;
    faceau_status st = fa_image_read(p, &im, &err);
    CHECK(st == FACEAU_ERR_IMAGE && strstr(err.msg, p) && strstr(err.msg, "truncated"), "%s: status %d '%s'", p,
          st, err.msg);
}

/* ---- failures --------------------------------------------------------------------------- */

static void expect_image_error(const char *path, faceau_status want, const char *word)
{
    fa_err err;
    fa_image im = {1, 1, 3, (uint8_t *)&err}; /* must be reset */
    faceau_status st = fa_image_read(path, &im, &err);
    CHECK(st == want && im.bgr == NULL, "%s: status %d (want %d)", path, st, want);
    CHECK(st == FACEAU_OK || (strstr(err.msg, path) && (!word || strstr(err.msg, word))),
          "%s: message '%s' lacks the file name or '%s'", path, err.msg, word ? word : "");
}

static void fill_noise(uint8_t *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 24);
    }
}

/* A 64x48 RGB PNG of fill_noise(seed). */
static void write_noise_png(const char *path, uint32_t seed)
{
    uint8_t noise[64 * 48 * 3];
    fill_noise(noise, sizeof noise, seed);
    png_spec s = {64, 48, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, noise, 64 * 3, NULL, 0, NULL, 0};
    CHECK(write_png(path, &s) == 0, "cannot write %s", path);
}

static void write_prefix(const char *from, const char *to, double fraction)
{
    size_t n;
    uint8_t *b = tu_read_file(from, &n);
    CHECK(b && tu_write_file(to, b, (size_t)((double)n * fraction)) == 0, "cannot write %s", to);
    free(b);
}

static void test_bad_images(const char *dir)
{
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/trunc40.jpg", dir);
    write_prefix(tu_shared_path("data/images/Obama.jpg"), p, 0.4);
    expect_image_error(p, FACEAU_ERR_IMAGE, "truncated");

    /* a 64x48 noise PNG cut to 60% of its bytes */
    snprintf(q, sizeof q, "%s/noise.png", dir);
    write_noise_png(q, 12345);
    snprintf(p, sizeof p, "%s/trunc60.png", dir);
    write_prefix(q, p, 0.6);
    expect_image_error(p, FACEAU_ERR_IMAGE, "truncated");

    snprintf(p, sizeof p, "%s/garbage.jpg", dir);
    static const char junk[] = "GIF89a? no: this is just text pretending to be a .jpg file\n";
    CHECK(tu_write_file(p, junk, sizeof junk - 1) == 0, "cannot write %s", p);
    expect_image_error(p, FACEAU_ERR_IMAGE, NULL);

    snprintf(p, sizeof p, "%s/empty.png", dir);
    CHECK(tu_write_file(p, "", 0) == 0, "cannot write %s", p);
    expect_image_error(p, FACEAU_ERR_IMAGE, "empty");

    /* a JPEG whose frame header claims 65000x65000: refused before any big allocation */
    size_t n;
    uint8_t *b = tu_read_file(tu_shared_path("data/images/sequence/001.jpg"), &n);
    for (size_t i = 0; b && i + 9 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) {
            b[i + 5] = b[i + 7] = 0xFD;
            b[i + 6] = b[i + 8] = 0xE8;
            break;
        }
    snprintf(p, sizeof p, "%s/huge.jpg", dir);
    CHECK(b && tu_write_file(p, b, n) == 0, "cannot write %s", p);
    free(b);
    expect_image_error(p, FACEAU_ERR_IMAGE, "size");

    snprintf(p, sizeof p, "%s/missing.jpg", dir);
    expect_image_error(p, FACEAU_ERR_IO, NULL);
}

/* ---- files that ask for too much (issue 18) ---------------------------------------------- */

/* The error, and within 1 s of CPU and 200 MB of peak RSS (the bound for each class). */
static void expect_cheap_error(const char *path, const char *word)
{
    double t = tu_cpu_seconds();
    expect_image_error(path, FACEAU_ERR_IMAGE, word);
    t = tu_cpu_seconds() - t;
    CHECK(t < 1 && tu_peak_rss_mb() < 200, "%s: %.2f s of CPU, peak RSS %ld MB", path, t, tu_peak_rss_mb());
}

static void test_limits(const char *dir)
{
    char p[4096];
    uint8_t noise[64 * 48 * 3];
    fill_noise(noise, sizeof noise, 777);
    /* a PNG whose zTXt chunk (before the pixels) declares 2 GB */
    snprintf(p, sizeof p, "%s/ztxt.png", dir);
    write_noise_png(p, 777);
    size_t n;
    uint8_t *png = tu_read_file(p, &n);
    CHECK(png && n > 33 && memcmp(png + 12, "IHDR", 4) == 0, "PNG layout");
    if (png) {
        uint8_t *big = malloc(n + 64);
        static const uint8_t ztxt[] = {0x7F, 0xFF, 0xFF, 0xF0, 'z', 'T', 'X', 't', 'C', 'o', 'm', 0, 0};
        memcpy(big, png, 33); /* signature and IHDR */
        memcpy(big + 33, ztxt, sizeof ztxt);
        memcpy(big + 33 + sizeof ztxt, png + 33, n - 33);
        CHECK(tu_write_file(p, big, n + sizeof ztxt) == 0, "cannot write %s", p);
        free(big);
        expect_cheap_error(p, "PNG");
    }
    free(png);

    /* a progressive JPEG whose last scan is repeated 2,000 times */
    unsigned long jl = 0;
    unsigned char *j = tu_jpeg_encode(64, 48, 1, noise, 64 * 3, &jl);
    size_t last = 0;
    for (size_t i = 0; j && i + 1 < jl; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xDA)
            last = i;
    CHECK(j && last > 0 && j[jl - 2] == 0xFF && j[jl - 1] == 0xD9, "JPEG layout");
    if (j && last > 0) {
        size_t scan = jl - 2 - last, total = last + 2000 * scan + 2;
        uint8_t *many = malloc(total);
        memcpy(many, j, last);
        for (int k = 0; k < 2000; k++)
            memcpy(many + last + (size_t)k * scan, j + last, scan);
        memcpy(many + total - 2, j + jl - 2, 2);
        snprintf(p, sizeof p, "%s/scans.jpg", dir);
        CHECK(tu_write_file(p, many, total) == 0, "cannot write %s", p);
        free(many);
        expect_cheap_error(p, "scans");
        /* the same file as made, a dozen scans: read */
        snprintf(p, sizeof p, "%s/progressive.jpg", dir);
        CHECK(tu_write_file(p, j, jl) == 0, "cannot write %s", p);
        fa_err err;
        fa_image im = {0};
        CHECK(fa_image_read(p, &im, &err) == FACEAU_OK && im.width == 64, "progressive: %s", err.msg);
        fa_image_free(&im);
    }
    free(j);
}

/* ---- directory listing ------------------------------------------------------------------ */

static void test_listing(const char *dir)
{
    fa_err err;
    char **list;
    size_t n;
    const char *seq = tu_shared_path("data/images/sequence");
    faceau_status st = fa_list_images(seq, &list, &n, &err);
    CHECK(st == FACEAU_OK && n == 30, "sequence: status %d, %zu files (%s)", st, n, err.msg);
    if (st == FACEAU_OK && n == 30) {
        char want[4096];
        snprintf(want, sizeof want, "%s/001.jpg", seq);
        CHECK(strcmp(list[0], want) == 0, "first: %s", list[0]);
        snprintf(want, sizeof want, "%s/030.jpg", seq);
        CHECK(strcmp(list[29], want) == 0, "last: %s", list[29]);
        int sorted = 1;
        for (size_t i = 1; i < n; i++)
            sorted &= strcmp(list[i - 1], list[i]) < 0;
        CHECK(sorted, "sequence listing is not sorted");
    }
    if (st == FACEAU_OK)
        fa_free_list(list, n);

    /* mixed names: extensions case-insensitive, byte order ('B' < 'a'), no directories */
    char sub[4096], p[4200];
    snprintf(sub, sizeof sub, "%s/mixed", dir);
    CHECK(mkdir(sub, 0755) == 0, "cannot create %s", sub);
    static const char *const files[] = {"b.JPG", "a.png", "B.bmp", "c.txt", "d.jpeg", "e.jpg.bak", "noext"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", sub, files[i]);
        CHECK(tu_write_file(p, "x", 1) == 0, "cannot write %s", p);
    }
    snprintf(p, sizeof p, "%s/f.jpg", sub);
    CHECK(mkdir(p, 0755) == 0, "cannot create %s", p);
    st = fa_list_images(sub, &list, &n, &err);
    static const char *const want[] = {"B.bmp", "a.png", "b.JPG", "d.jpeg"};
    CHECK(st == FACEAU_OK && n == 4, "mixed: status %d, %zu files", st, n);
    for (size_t i = 0; st == FACEAU_OK && i < n && i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", sub, want[i]);
        CHECK(strcmp(list[i], p) == 0, "mixed[%zu]: %s, want %s", i, list[i], p);
    }
    if (st == FACEAU_OK)
        fa_free_list(list, n);

    snprintf(sub, sizeof sub, "%s/empty", dir);
    CHECK(mkdir(sub, 0755) == 0, "cannot create %s", sub);
    st = fa_list_images(sub, &list, &n, &err);
    CHECK(st == FACEAU_ERR_NO_INPUT && n == 0 && list == NULL && strstr(err.msg, sub), "empty dir: status %d '%s'",
          st, err.msg);

    snprintf(sub, sizeof sub, "%s/no-such-dir", dir);
    st = fa_list_images(sub, &list, &n, &err);
    CHECK(st == FACEAU_ERR_IO && strstr(err.msg, sub), "missing dir: status %d '%s'", st, err.msg);
}

int main(void)
{
    const char *dir = tu_tmpdir("test_image");
    test_cv2_images(dir);
    test_aligned_bmps();
    test_pngs(dir);
    test_bmps(dir);
    test_bad_images(dir);
    test_limits(dir);
    test_listing(dir);
    return tu_done();
}
