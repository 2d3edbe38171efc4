/* test_limits.c - the frame-size limit (faceau_frame_limits) on videos and images, and the
 * decode-ahead bound (issue 18, item 6). The videos are made here: constant-grey JPEGs from
 * libjpeg (one row buffer, so a 16000x16000 frame costs megabytes, not 768 MB) muxed as MJPEG
 * AVIs with libavformat, never the shared media. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "faceau.h"
#include "io/io.h"
#include "testutil.h"

/* An MJPEG AVI of `frames` copies of a jpeg_w x jpeg_h JPEG whose header declares
 * decl_w x decl_h (a patched header when they differ). 0 on success. */
static int write_mjpeg_avi(const char *path, int jpeg_w, int jpeg_h, int decl_w, int decl_h, int frames)
{
    unsigned long jl = 0;
    unsigned char *grey = malloc((size_t)jpeg_w * 3);
    if (grey)
        memset(grey, 128, (size_t)jpeg_w * 3);
    unsigned char *jpeg = grey ? tu_jpeg_encode(jpeg_w, jpeg_h, 0, grey, 0, &jl) : NULL;
    free(grey);
    AVFormatContext *oc = NULL;
    int ret = avformat_alloc_output_context2(&oc, NULL, "avi", path);
    AVStream *st = ret >= 0 ? avformat_new_stream(oc, NULL) : NULL;
    if (!jpeg || !st) {
        free(jpeg);
        avformat_free_context(oc);
        return -1;
    }
    st->time_base = (AVRational){1, 25};
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_MJPEG;
    st->codecpar->width = decl_w;
    st->codecpar->height = decl_h;
    ret = avio_open(&oc->pb, path, AVIO_FLAG_WRITE);
    if (ret >= 0)
        ret = avformat_write_header(oc, NULL);
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; ret >= 0 && i < frames; i++) {
        ret = av_new_packet(pkt, (int)jl);
        if (ret < 0)
            break;
        memcpy(pkt->data, jpeg, jl);
        pkt->pts = pkt->dts = i;
        pkt->duration = 1;
        pkt->flags |= AV_PKT_FLAG_KEY;
        pkt->stream_index = st->index;
        ret = av_write_frame(oc, pkt);
        av_packet_unref(pkt);
    }
    if (ret >= 0)
        ret = av_write_trailer(oc);
    av_packet_free(&pkt);
    avio_closep(&oc->pb);
    avformat_free_context(oc);
    free(jpeg);
    return ret < 0 ? -1 : 0;
}

/* One line naming the file, the size and the limit. */
static void check_message(const char *what, const char *msg, const char *path, const char *size)
{
    CHECK(strstr(msg, path) && strstr(msg, size) && strstr(msg, "frame-size limit") &&
          !strchr(msg, '\n'), "%s: message '%s'", what, msg);
}

/* The case: a 16000x16000 MJPEG AVI is refused at open, cheaply, through the internal
 * reader, the public source (both thread modes) and a whole run. */
static void test_huge_video(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/huge16000.avi", dir);
    CHECK(write_mjpeg_avi(path, 16000, 16000, 16000, 16000, 3) == 0, "cannot write %s", path);
    long rss_made = tu_peak_rss_mb();
    double t = tu_cpu_seconds();
    fa_video *v = NULL;
    fa_err err;
    CHECK(fa_video_open(path, &v, &err) == FACEAU_ERR_VIDEO && !v, "16000x16000 AVI opened");
    check_message("fa_video_open", err.msg, path, "16000x16000");
    for (int threads = 1; threads <= 2; threads++) {
        faceau_source *src = NULL;
        char eb[512];
        CHECK(faceau_source_open_threads(path, threads, &src, eb, sizeof eb) == FACEAU_ERR_VIDEO && !src,
              "source %d threads: opened", threads);
        check_message("faceau_source_open_threads", eb, path, "16000x16000");
    }
    t = tu_cpu_seconds() - t;
    printf("16000x16000 AVI refused: %.3f s of CPU for 3 opens, peak RSS %ld MB (%ld MB after making it)\n",
           t, tu_peak_rss_mb(), rss_made);
    CHECK(t < 1 && tu_peak_rss_mb() < 200, "16000x16000 AVI: %.2f s of CPU, peak RSS %ld MB", t,
          tu_peak_rss_mb());

    /* the same frames behind a header patched to say 64x64: FFmpeg's decoder holds them to the
     * pixel limit (max_pixels) before allocating, so the input still fails quickly and small */
    snprintf(path, sizeof path, "%s/patched16000.avi", dir);
    CHECK(write_mjpeg_avi(path, 16000, 16000, 64, 64, 3) == 0, "cannot write %s", path);
    t = tu_cpu_seconds();
    faceau_source *src = NULL;
    char eb[512];
    faceau_status st = faceau_source_open_threads(path, 2, &src, eb, sizeof eb);
    faceau_frame f;
    int got = 0;
    if (st == FACEAU_OK) {
        st = faceau_source_read(src, &f, &got);
        snprintf(eb, sizeof eb, "%s", faceau_source_last_error(src));
        faceau_source_close(src);
    }
    t = tu_cpu_seconds() - t;
    CHECK(st != FACEAU_OK && !got && strstr(eb, path) && !strchr(eb, '\n'),
          "patched header: status %d, got %d, '%s'", (int)st, got, eb);
    CHECK(t < 1 && tu_peak_rss_mb() < 200, "patched header: %.2f s of CPU, peak RSS %ld MB", t,
          tu_peak_rss_mb());
    printf("patched header: %s (%.3f s of CPU, peak RSS %ld MB)\n", eb, t, tu_peak_rss_mb());
}

/* Limits set through the API: a 640x480 video refused by a smaller side or pixel limit and
 * read under limits it fits exactly. */
static void test_video_limits(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/grey640.avi", dir);
    CHECK(write_mjpeg_avi(path, 640, 480, 640, 480, 2) == 0, "cannot write %s", path);
    faceau_frame_limits def = faceau_default_frame_limits();
    CHECK(def.max_width == FACEAU_MAX_FRAME_SIDE && def.max_height == FACEAU_MAX_FRAME_SIDE &&
          def.max_pixels == FACEAU_MAX_FRAME_PIXELS, "defaults %dx%d %lld", def.max_width,
          def.max_height, def.max_pixels);
    const faceau_frame_limits refuse[] = {{639, 0, 0}, {0, 479, 0}, {0, 0, 640 * 480 - 1}};
    for (size_t i = 0; i < sizeof refuse / sizeof *refuse; i++) {
        faceau_source *src = NULL;
        char eb[512];
        CHECK(faceau_source_open_limits(path, 1, &refuse[i], &src, eb, sizeof eb) == FACEAU_ERR_VIDEO &&
              !src, "limit %zu: opened", i);
        check_message("faceau_source_open_limits", eb, path, "640x480");
    }
    const faceau_frame_limits fit = {640, 480, 640 * 480};
    for (int threads = 1; threads <= 2; threads++) {
        faceau_source *src = NULL;
        char eb[512];
        faceau_status st = faceau_source_open_limits(path, threads, &fit, &src, eb, sizeof eb);
        CHECK(st == FACEAU_OK, "exact limits, %d threads: %s", threads, eb);
        int frames = 0, got = 1;
        faceau_frame f;
        while (st == FACEAU_OK && (st = faceau_source_read(src, &f, &got)) == FACEAU_OK && got)
            frames += f.width == 640 && f.height == 480 && f.bgr[0] > 120 && f.bgr[0] < 136;
        CHECK(st == FACEAU_OK && frames == 2, "exact limits, %d threads: %d frames", threads, frames);
        faceau_source_close(src);
    }
}

/* Frames over the decode-ahead budget (5000x5000: 75 MB each) are decoded only when asked
 * for, and still all come out in order, with the caller holding two (the pipeline's pattern). */
static void test_decode_ahead(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/grey5000.avi", dir);
    CHECK(write_mjpeg_avi(path, 5000, 5000, 5000, 5000, 4) == 0, "cannot write %s", path);
    faceau_source *src = NULL;
    char eb[512];
    CHECK(faceau_source_open_threads(path, 2, &src, eb, sizeof eb) == FACEAU_OK, "%s", eb);
    int frames = 0, got = 1;
    faceau_frame f;
    faceau_status st = FACEAU_OK;
    while (src && (st = faceau_source_read(src, &f, &got)) == FACEAU_OK && got) {
        CHECK(f.index == frames && f.width == 5000 && f.height == 5000, "frame %d: %ld %dx%d", frames,
              f.index, f.width, f.height);
        frames++;
    }
    CHECK(st == FACEAU_OK && frames == 4, "5000x5000: %d frames, %s", frames,
          src ? faceau_source_last_error(src) : "");
    faceau_source_close(src);
    printf("5000x5000 MJPEG, 4 frames through a 2-thread source: peak RSS %ld MB\n", tu_peak_rss_mb());
#if !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
#define FA_PLAIN_HEAP 1
#elif defined(__has_feature)
#if !__has_feature(address_sanitizer)
#define FA_PLAIN_HEAP 1
#endif
#endif
#ifdef FA_PLAIN_HEAP
    /* two 75 MB frame buffers (the one held, the one decoded) and the decoder's 37.5 MB picture;
     * a buffer per ring slot came to 299 MB (ASan's quarantine keeps freed blocks: not there) */
    CHECK(tu_peak_rss_mb() < 260, "5000x5000: peak RSS %ld MB", tu_peak_rss_mb());
#endif
}

/* The same limit on images: a 100x50 BMP against limits one short in each direction. */
static void test_image_limits(const char *dir)
{
    enum { W = 100, H = 50 };
    size_t pitch = W * 3, n = 54 + pitch * H;
    uint8_t *bmp = calloc(1, n);
    memcpy(bmp, "BM", 2);
    const uint32_t hdr[] = {(uint32_t)n, 0, 54, 40, W, H, 1 | 24u << 16, 0, (uint32_t)(pitch * H), 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++)
        for (int b = 0; b < 4; b++)
            bmp[2 + 4 * i + (size_t)b] = (uint8_t)(hdr[i] >> (8 * b));
    char path[4096];
    snprintf(path, sizeof path, "%s/small.bmp", dir);
    CHECK(tu_write_file(path, bmp, n) == 0, "cannot write %s", path);
    fa_err err;
    fa_image im = {0};
    const faceau_frame_limits refuse[] = {{W - 1, 0, 0}, {0, H - 1, 0}, {0, 0, W * H - 1}};
    for (size_t i = 0; i < sizeof refuse / sizeof *refuse; i++) {
        CHECK(fa_image_read_limits(path, &refuse[i], &im, &err) == FACEAU_ERR_IMAGE && !im.bgr,
              "image limit %zu: read", i);
        check_message("fa_image_read_limits", err.msg, path, "100x50");
        faceau_source *src = NULL;
        char eb[512];
        faceau_frame f;
        int got = 0;
        faceau_status st = faceau_source_open_limits(path, 1, &refuse[i], &src, eb, sizeof eb);
        CHECK(st == FACEAU_OK, "image source: %s", eb);
        if (st == FACEAU_OK) {
            CHECK(faceau_source_read(src, &f, &got) == FACEAU_ERR_IMAGE && !got, "image source %zu read", i);
            check_message("image source", faceau_source_last_error(src), path, "100x50");
            faceau_source_close(src);
        }
    }
    const faceau_frame_limits fit = {W, H, W * H};
    CHECK(fa_image_read_limits(path, &fit, &im, &err) == FACEAU_OK && im.width == W, "exact: %s", err.msg);
    fa_image_free(&im);
    /* the defaults: a 20000x20000 BMP header (400 MP) is refused before any allocation */
    for (int b = 0; b < 4; b++)
        bmp[18 + b] = bmp[22 + b] = (uint8_t)(20000u >> (8 * b));
    CHECK(fa_image_decode("big.bmp", bmp, n, &im, &err) == FACEAU_ERR_IMAGE, "20000x20000 BMP read");
    check_message("default limits", err.msg, "big.bmp", "20000x20000");
    free(bmp);
}

int main(void)
{
    const char *dir = tu_tmpdir("test_limits");
    test_huge_video(dir);
    test_video_limits(dir);
    test_image_limits(dir);
    test_decode_ahead(dir);
    return tu_done();
}
