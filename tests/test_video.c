/* test_video.c - fa_video against cv2.VideoCapture (OpenCV 4.6, FFmpeg backend) on this machine.
 *
 * Expected numbers were obtained once with the independent oracle, /usr/bin/python3 + cv2 4.6:
 *   cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG); cap.get(cv2.CAP_PROP_FPS);
 *   then ok, f = cap.read() until not ok; for the listed frames (1-based) FNV-1a 64 of
 *   f.tobytes() (the BGR rows, width*3 bytes each) and f[y, x] for the listed pixels.
 * Frame counts come from OpenFace's reference CSVs (one row per frame). The truncated file is
 * the first floor(size/2) bytes of 2015-10-15-15-14.avi; cv2 reads 457 frames from it, the
 * 457th being decoded from the incomplete last packet (error-concealed); frames 1..456 equal
 * the original's. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct pix_check {
    int x, y;
    uint8_t bgr[3];
} pix_check;

typedef struct frame_check {
    int frame; /* 1-based */
    uint64_t fnv;
    pix_check px[3];
} frame_check;

static void check_frame(const char *name, const fa_image *im, const frame_check *fc)
{
    CHECK(tu_fnv1a(im) == fc->fnv, "%s frame %d: FNV-1a %016llx, cv2 %016llx", name, fc->frame,
          (unsigned long long)tu_fnv1a(im), (unsigned long long)fc->fnv);
    for (int k = 0; k < 3; k++) {
        const pix_check *pc = &fc->px[k];
        const uint8_t *p = im->bgr + (size_t)pc->y * (size_t)im->stride + 3 * (size_t)pc->x;
        CHECK(memcmp(p, pc->bgr, 3) == 0, "%s frame %d pixel (%d,%d): %d %d %d, cv2 %d %d %d", name,
              fc->frame, pc->x, pc->y, p[0], p[1], p[2], pc->bgr[0], pc->bgr[1], pc->bgr[2]);
    }
}

static int reference_rows(const char *csv_name)
{
    tu_csv csv;
    if (tu_csv_load(tu_shared_path("reference/%s.csv", csv_name), &csv) != 0)
        return -1;
    int n = csv.nrows;
    tu_csv_free(&csv);
    return n;
}

/* Reads up to max_frames frames (0: all), checking the listed ones; returns the count read. */
static int read_video(const char *name, const char *path, int w, int h, double fps,
                      const frame_check *checks, int nchecks, int max_frames)
{
    fa_err err;
    fa_video *v = NULL;
    faceau_status st = fa_video_open(path, &v, &err);
    CHECK(st == FACEAU_OK, "%s: open: %s", name, err.msg);
    if (st != FACEAU_OK)
        return -1;
    CHECK(fa_video_fps(v) == fps, "%s: fps %.17g, cv2 %.17g", name, fa_video_fps(v), fps);
    int n = 0, got = 1, next = 0;
    const fa_image *im;
    while ((max_frames == 0 || n < max_frames) &&
           (st = fa_video_read(v, &im, &got, &err)) == FACEAU_OK && got) {
        n++;
        if (n == 1)
            CHECK(im->width == w && im->height == h && im->stride >= 3 * w, "%s: size %dx%d stride %d",
                  name, im->width, im->height, im->stride);
        if (next < nchecks && checks[next].frame == n)
            check_frame(name, im, &checks[next++]);
    }
    CHECK(st == FACEAU_OK, "%s: read: %s", name, err.msg);
    CHECK(next == nchecks, "%s: only %d of %d checked frames reached", name, next, nchecks);
    if (max_frames == 0) { /* past the end stays at the end */
        st = fa_video_read(v, &im, &got, &err);
        CHECK(st == FACEAU_OK && got == 0, "%s: read after the end: status %d got %d", name, st, got);
    }
    fa_video_close(v);
    return n;
}

static void test_avi_640(void)
{
    static const frame_check c[] = {
        {1, 0xc189e74da79e3166ULL, {{0, 0, {196, 176, 173}}, {320, 240, {139, 132, 166}}, {639, 479, {19, 22, 20}}}},
        {2, 0xc7aa5f07a2752012ULL, {{0, 0, {196, 176, 173}}, {320, 240, {136, 130, 154}}, {639, 479, {19, 22, 20}}}},
        {100, 0xee44147a428bc2d4ULL, {{0, 0, {192, 176, 174}}, {320, 240, {79, 67, 79}}, {639, 479, {19, 22, 20}}}},
        {842, 0x6b0b8e66cccc38bdULL, {{0, 0, {192, 176, 174}}, {320, 240, {95, 81, 108}}, {639, 479, {20, 23, 21}}}},
    };
    int n = read_video("2015-10-15-15-14.avi", tu_shared_path("data/videos/2015-10-15-15-14.avi"), 640,
                       480, 30.0, c, 4, 0);
    int ref = reference_rows("2015-10-15-15-14");
    CHECK(n == 842 && n == ref, "2015-10-15-15-14.avi: %d frames, reference CSV %d rows", n, ref);
}

static void test_avi_320(void)
{
    static const frame_check c[] = {
        {1, 0x13adbd4846d7e638ULL, {{0, 0, {0, 0, 0}}, {160, 120, {86, 89, 102}}, {319, 239, {255, 255, 255}}}},
        {143, 0xa05890d6dd11212bULL, {{0, 0, {0, 0, 0}}, {160, 120, {93, 95, 111}}, {319, 239, {255, 255, 255}}}},
        {285, 0xcf803e79e9277d61ULL, {{0, 0, {0, 0, 0}}, {160, 120, {87, 101, 127}}, {319, 239, {114, 107, 92}}}},
    };
    const char *name = "0217_03_006_alanis_morissette";
    int n = read_video(name, tu_shared_path("data/videos/%s.avi", name), 320, 240, 25.0, c, 3, 0);
    int ref = reference_rows(name);
    CHECK(n == 285 && n == ref, "%s: %d frames, reference CSV %d rows", name, n, ref);
}

static void test_wmv(void)
{
    static const frame_check c[] = {
        {1, 0x1b58e7095de1d722ULL, {{0, 0, {248, 253, 253}}, {320, 240, {232, 244, 249}}, {639, 479, {253, 254, 243}}}},
        {150, 0x6d1a5aab173a65e2ULL, {{0, 0, {252, 255, 253}}, {320, 240, {247, 250, 248}}, {639, 479, {255, 250, 245}}}},
        {288, 0x5ef572ffa04c9555ULL, {{0, 0, {247, 252, 252}}, {320, 240, {179, 189, 233}}, {639, 479, {252, 253, 242}}}},
    };
    int n = read_video("default.wmv", tu_shared_path("data/videos/default.wmv"), 640, 480, 15.0, c, 3, 0);
    int ref = reference_rows("default");
    CHECK(n == 288 && n == ref, "default.wmv: %d frames, reference CSV %d rows", n, ref);
}

/* H.264 with B-frames: the first frames only, to stay fast under sanitizers. */
static void test_mp4_head(void)
{
    static const frame_check c[] = {
        {1, 0x4980ed348da89165ULL, {{0, 0, {0, 0, 0}}, {540, 960, {135, 133, 161}}, {1079, 1919, {0, 0, 0}}}},
        {2, 0xe5a4c83b67ef55bcULL, {{0, 0, {0, 0, 0}}, {540, 960, {132, 131, 156}}, {1079, 1919, {0, 0, 0}}}},
        {3, 0xb0b1a64b6c872a9bULL, {{0, 0, {0, 0, 0}}, {540, 960, {138, 133, 162}}, {1079, 1919, {0, 0, 0}}}},
    };
    int n = read_video("portrait_1080x1920.mp4", tu_shared_path("data/videos/portrait_1080x1920.mp4"), 1080,
                       1920, 59.0, c, 3, 3);
    CHECK(n == 3, "portrait_1080x1920.mp4: read %d of the first 3 frames", n);
}

static void test_truncated(const char *dir)
{
    static const frame_check c456 = {
        456, 0x41cead0841d1305dULL, {{320, 240, {65, 57, 79}}, {320, 240, {65, 57, 79}}, {320, 240, {65, 57, 79}}}};
    char path[4096];
    snprintf(path, sizeof path, "%s/half.avi", dir);
    size_t n;
    uint8_t *half = tu_read_file(tu_shared_path("data/videos/2015-10-15-15-14.avi"), &n);
    n /= 2;
    CHECK(half && tu_write_file(path, half, n) == 0, "cannot write %s", path);
    free(half);
    fa_err err;
    fa_video *v;
    faceau_status st = fa_video_open(path, &v, &err);
    CHECK(st == FACEAU_OK, "half.avi: open: %s", err.msg);
    if (st != FACEAU_OK)
        return;
    const fa_image *im;
    int got, frames = 0;
    while ((st = fa_video_read(v, &im, &got, &err)) == FACEAU_OK && got)
        if (++frames == 456)
            check_frame("half.avi", im, &c456);
    CHECK(st == FACEAU_ERR_TRUNCATED, "half.avi: status %d after %d frames (%s)", st, frames, err.msg);
    CHECK(frames == 456, "half.avi: %d good frames before the damaged one, expected 456", frames);
    CHECK(strstr(err.msg, path) && strstr(err.msg, "456"), "half.avi: message '%s'", err.msg);
    st = fa_video_read(v, &im, &got, &err);
    CHECK(st == FACEAU_OK && got == 0, "half.avi: read after the error: status %d got %d", st, got);
    fa_video_close(v);
}

/* A 0.1 s mono 8 kHz WAV: a valid media file without a video stream. */
static void write_wav(const char *path)
{
    uint8_t w[44 + 1600] = {0};
    static const uint8_t hdr[44] = {'R', 'I', 'F', 'F', 0x64, 0x06, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
                                    16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0,
                                    2, 0, 16, 0, 'd', 'a', 't', 'a', 0x40, 0x06, 0, 0};
    memcpy(w, hdr, sizeof hdr);
    CHECK(tu_write_file(path, w, sizeof w) == 0, "cannot write %s", path);
}

static void expect_open_error(const char *path, faceau_status want)
{
    fa_err err;
    fa_video *v = (fa_video *)&err; /* must be reset to NULL */
    faceau_status st = fa_video_open(path, &v, &err);
    CHECK(st == want && v == NULL, "%s: status %d (want %d), reader %p", path, st, want, (void *)v);
    CHECK(st == FACEAU_OK || strstr(err.msg, path) != NULL, "%s: message '%s' does not name it", path,
          err.msg);
}

static void test_bad_inputs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/does-not-exist.avi", dir);
    expect_open_error(path, FACEAU_ERR_IO);
    snprintf(path, sizeof path, "%s/notes.avi", dir);
    static const char text[] = "frame, face_id, timestamp\n1, 0, 0.000\nthis is not a video\n";
    CHECK(tu_write_file(path, text, sizeof text - 1) == 0, "cannot write %s", path);
    expect_open_error(path, FACEAU_ERR_VIDEO);
    snprintf(path, sizeof path, "%s/sound.wav", dir);
    write_wav(path);
    expect_open_error(path, FACEAU_ERR_VIDEO);
    /* the MP4's index is at its end: half of it is not a readable video */
    snprintf(path, sizeof path, "%s/half.mp4", dir);
    size_t n;
    uint8_t *half = tu_read_file(tu_shared_path("data/videos/portrait_1080x1920.mp4"), &n);
    n /= 2;
    CHECK(half && tu_write_file(path, half, n) == 0, "cannot write %s", path);
    free(half);
    expect_open_error(path, FACEAU_ERR_VIDEO);
    fa_video_close(NULL);
}

int main(void)
{
    const char *dir = tu_tmpdir("test_video");
    test_avi_640();
    test_avi_320();
    test_wmv();
    test_mp4_head();
    test_truncated(dir);
    test_bad_inputs(dir);
    return tu_done();
}
