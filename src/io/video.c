/* video.c - video frames through FFmpeg, converted to the BGR24 pixels OpenCV 4.6's FFmpeg
 * backend (cv::VideoCapture, cap_ffmpeg_impl.hpp) hands OpenFace.
 *
 * What is reproduced from OpenCV 4.6: the first video stream; its grab loop (packets of other
 * streams and failed receives count as errors, 512 in a row end the stream; a failed send ends
 * it; at EOF the decoder is drained; never more than nb_frames + 1 frames); the conversion with
 * sws_getCachedContext(coded_width x coded_height, same size, BGR24, SWS_BICUBIC) into a
 * 32-byte-aligned av_frame_get_buffer() frame, cropped to the stream's width x height; the
 * display-matrix auto-rotation (multiples of 90 degrees); CAP_PROP_FPS = avg_frame_rate, else
 * 1 / time_base. Where OpenCV silently ends a damaged stream, fa_video_read reports
 * FACEAU_ERR_TRUNCATED instead (see next_frame). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/display.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "io/io.h"

/* OpenCV's max_number_of_attempts in CvCapture_FFMPEG::grabFrame. */
#define FA_MAX_DECODE_ATTEMPTS (1 << 9)
/* OpenCV uses one decoder thread per online CPU; FFmpeg advises against more than 16. The
 * decoded pixels do not depend on the thread count. */
#define FA_MAX_THREADS 16

struct fa_video {
    char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int stream;
    AVPacket *pkt;
    AVFrame *picture;      /* the decoder's output */
    struct SwsContext *sws;
    AVFrame *bgr;          /* BGR24 at coded size, as OpenCV's rgb_picture */
    int conv_w, conv_h, conv_fmt; /* what sws/bgr were made for */
    uint8_t *rotated;      /* only when the stream asks for a 90/180/270 degree rotation */
    int rotation;
    int width, height;     /* the stream's size before rotation (OpenCV's frame.width/height) */
    fa_image out;          /* a view of bgr or rotated */
    int64_t nb_frames;     /* from the container, 0 if unknown */
    int threads;           /* decoder threads, 0: one per core */
    faceau_frame_limits lim; /* the largest frame accepted */
    int64_t delivered;
    int decoded;           /* fa_video_decode left a frame in picture for fa_video_convert_into */
    int ended;
    const char *damage;    /* why the stream is being drained early, or NULL */
    double fps;
};

static faceau_status av_failure(fa_err *err, faceau_status st, const char *path, const char *what,
                                int code)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(code, buf, sizeof buf);
    return fa_fail(err, st, "%s: %s: %s", path, what, buf);
}

static int cpu_threads(void)
{
    int n = fa_cpu_count();
    return n > FA_MAX_THREADS ? FA_MAX_THREADS : n;
}

/* cvRound(-av_display_rotation_get()) mapped into [0, 360); only multiples of 90 are applied. */
static int stream_rotation(const AVStream *st)
{
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!m)
        return 0;
    double deg = av_display_rotation_get((const int32_t *)(const void *)m);
    if (!isfinite(deg) || fabs(deg) > 1e6)
        return 0;
    int angle = fa_cv_round(-deg);
    angle %= 360;
    if (angle < 0)
        angle += 360;
    return angle % 90 == 0 ? angle : 0;
}

static double stream_fps(const AVStream *st)
{
    const double eps_zero = 0.000025; /* OpenCV's */
    AVRational r = st->avg_frame_rate;
    double fps = (r.num == 0 || r.den == 0) ? 0.0 : (double)r.num / r.den;
    if (fps < eps_zero && st->time_base.num != 0 && st->time_base.den != 0)
        fps = (double)st->time_base.den / st->time_base.num;
    return (fps > 0.0 && isfinite(fps)) ? fps : 30.0;
}

/* The frame size a video stream declares against the limit (0 x 0: not declared yet). */
static faceau_status check_declared(const fa_video *v, const AVStream *st, fa_err *err)
{
    const AVCodecParameters *par = st->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO || par->width <= 0 || par->height <= 0)
        return FACEAU_OK;
    return fa_frame_size_check(v->path, "video frame", par->width, par->height, &v->lim,
                               FACEAU_ERR_VIDEO, err);
}

/* FFmpeg's decoders check max_pixels before they allocate a frame, on the padded size (width
 * rounded up to 64, height to the codec's block rows): the limit with room for that, so a frame
 * that fits the limit is never refused by the decoder (its exact size is checked per frame). */
static int64_t decoder_max_pixels(const fa_video *v)
{
    return v->lim.max_pixels + v->lim.max_pixels / 8 + (1 << 16);
}

/* Probing the streams decodes frames; the decoders it opens are held to the pixel limit, so a
 * huge frame costs neither the memory nor the time. */
static faceau_status find_stream_info(fa_video *v, fa_err *err)
{
    unsigned n = v->fmt->nb_streams;
    AVDictionary **opts = n ? fa_calloc(n, sizeof *opts, err, "stream options") : NULL;
    if (n && !opts)
        return FACEAU_ERR_NOMEM;
    int ret = 0;
    for (unsigned i = 0; i < n && ret >= 0; i++)
        ret = av_dict_set_int(&opts[i], "max_pixels", decoder_max_pixels(v), 0);
    if (ret >= 0)
        ret = avformat_find_stream_info(v->fmt, opts);
    for (unsigned i = 0; i < n; i++)
        av_dict_free(&opts[i]);
    free(opts);
    return ret < 0 ? av_failure(err, FACEAU_ERR_VIDEO, v->path, "cannot read the stream parameters", ret)
                   : FACEAU_OK;
}

static faceau_status open_input(fa_video *v, fa_err *err)
{
    int ret = avformat_open_input(&v->fmt, v->path, NULL, NULL);
    if (ret < 0) {
        v->fmt = NULL;
        if (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES))
            return av_failure(err, FACEAU_ERR_IO, v->path, "cannot open", ret);
        return av_failure(err, FACEAU_ERR_VIDEO, v->path, "not a readable video", ret);
    }
    for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
        faceau_status st = check_declared(v, v->fmt->streams[i], err);
        if (st != FACEAU_OK)
            return st;
    }
    faceau_status probed = find_stream_info(v, err);
    if (probed != FACEAU_OK)
        return probed;
    for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
        if (v->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            v->stream = (int)i;
            return FACEAU_OK;
        }
    }
    return fa_fail(err, FACEAU_ERR_VIDEO, "%s: no video stream", v->path);
}

static faceau_status open_decoder(fa_video *v, fa_err *err)
{
    const AVCodecParameters *par = v->fmt->streams[v->stream]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return fa_fail(err, FACEAU_ERR_VIDEO, "%s: no decoder for the video codec '%s'", v->path,
                       avcodec_get_name(par->codec_id));
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec)
        return fa_fail(err, FACEAU_ERR_NOMEM, "%s: out of memory for the decoder", v->path);
    v->dec->thread_count = v->threads > 0 ? v->threads : cpu_threads();
    int ret = avcodec_parameters_to_context(v->dec, par);
    if (ret >= 0) /* every frame after is held to the limit by the decoder itself */
        v->dec->max_pixels = decoder_max_pixels(v);
    if (ret >= 0)
        ret = avcodec_open2(v->dec, codec, NULL);
    if (ret < 0)
        return av_failure(err, FACEAU_ERR_VIDEO, v->path, "cannot open the video decoder", ret);
    /* OpenCV keeps the container's size when the decoder changed it (e.g. vp6f). */
    if (par->width)
        v->dec->width = par->width;
    if (par->height)
        v->dec->height = par->height;
    v->width = v->dec->width;
    v->height = v->dec->height;
    if (v->width <= 0 || v->height <= 0 || v->width > 65535 || v->height > 65535)
        return fa_fail(err, FACEAU_ERR_VIDEO, "%s: bad video size %dx%d", v->path, v->width,
                       v->height);
    return fa_frame_size_check(v->path, "video frame", v->width, v->height, &v->lim,
                               FACEAU_ERR_VIDEO, err);
}

static faceau_status alloc_state(fa_video *v, fa_err *err)
{
    v->pkt = av_packet_alloc();
    v->picture = av_frame_alloc();
    v->bgr = av_frame_alloc();
    if (!v->pkt || !v->picture || !v->bgr)
        return fa_fail(err, FACEAU_ERR_NOMEM, "%s: out of memory for video frames", v->path);
    const AVStream *st = v->fmt->streams[v->stream];
    v->rotation = stream_rotation(st);
    if (v->rotation) {
        v->rotated = fa_malloc((size_t)v->width * (size_t)v->height * 3, err, "a rotated frame");
        if (!v->rotated)
            return FACEAU_ERR_NOMEM;
    }
    v->nb_frames = st->nb_frames > 0 ? st->nb_frames : 0;
    v->fps = stream_fps(st);
    return FACEAU_OK;
}

faceau_status fa_video_open(const char *path, fa_video **out, fa_err *err)
{
    return fa_video_open_threads(path, 0, out, err);
}

/* FFmpeg logs to stderr by default ("Packet corrupt", ...), and faceau never prints: its own
 * error names the file and the problem. Only FFmpeg's default level is changed, so a program
 * that set its own keeps it. Once per process (av_log_set_level is a plain global). */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void quiet_ffmpeg(void)
{
    if (av_log_get_level() == AV_LOG_INFO)
        av_log_set_level(AV_LOG_QUIET);
}

faceau_status fa_video_open_threads(const char *path, int threads, fa_video **out, fa_err *err)
{
    return fa_video_open_limits(path, threads, NULL, out, err);
}

faceau_status fa_video_open_limits(const char *path, int threads, const faceau_frame_limits *lim,
                                   fa_video **out, fa_err *err)
{
    pthread_once(&quiet_once, quiet_ffmpeg);
    *out = NULL;
    if (!path)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "video path is NULL");
    fa_video *v = fa_calloc(1, sizeof *v, err, "a video reader");
    if (!v)
        return FACEAU_ERR_NOMEM;
    v->stream = -1;
    v->threads = threads > FA_MAX_THREADS ? FA_MAX_THREADS : threads;
    v->lim = fa_frame_limits_resolve(lim);
    v->path = fa_malloc(strlen(path) + 1, err, "a video path");
    faceau_status st = v->path ? FACEAU_OK : FACEAU_ERR_NOMEM;
    if (v->path)
        memcpy(v->path, path, strlen(path) + 1);
    if (st == FACEAU_OK)
        st = open_input(v, err);
    if (st == FACEAU_OK)
        st = open_decoder(v, err);
    if (st == FACEAU_OK)
        st = alloc_state(v, err);
    if (st != FACEAU_OK) {
        fa_video_close(v);
        return st;
    }
    *out = v;
    return FACEAU_OK;
}

void fa_video_close(fa_video *v)
{
    if (!v)
        return;
    sws_freeContext(v->sws);
    av_frame_free(&v->bgr);
    av_frame_free(&v->picture);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    free(v->rotated);
    free(v->path);
    free(v);
}

double fa_video_fps(const fa_video *v)
{
    return v ? v->fps : 30.0;
}

static faceau_status truncated(fa_video *v, fa_err *err, const char *what)
{
    v->ended = 1;
    if (v->delivered == 0)
        return fa_fail(err, FACEAU_ERR_VIDEO, "%s: %s before the first frame", v->path, what);
    return fa_fail(err, FACEAU_ERR_TRUNCATED, "%s: %s after frame %lld (the last good frame)",
                   v->path, what, (long long)v->delivered);
}

/* A frame the decoder had to conceal or that came from a short read is damaged; OpenCV would
 * pass it on, we stop before it. */
static int frame_damaged(const AVFrame *f)
{
    return f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT) != 0;
}

/* Feeds the decoder one packet (NULL drains it). A short-read packet is not decoded: the
 * decoder is drained instead so that the good frames still inside it come out first. */
static int send_packet(fa_video *v, int at_eof)
{
    if (!at_eof && (v->pkt->flags & AV_PKT_FLAG_CORRUPT)) {
        v->damage = "damaged or incomplete video data";
        at_eof = 1;
    }
    return avcodec_send_packet(v->dec, at_eof ? NULL : v->pkt);
}

/* Reads packets into the decoder until it yields a frame (1), the stream ends (0), or it is
 * found damaged (error). Mirrors OpenCV's grabFrame loop. */
static faceau_status next_frame(fa_video *v, int *got, fa_err *err)
{
    int errs = 0;
    *got = 0;
    if (v->ended || (v->nb_frames > 0 && v->delivered > v->nb_frames))
        return FACEAU_OK;
    int ret = avcodec_receive_frame(v->dec, v->picture);
    while (ret < 0) {
        av_packet_unref(v->pkt);
        int rd = v->damage ? AVERROR_EOF : av_read_frame(v->fmt, v->pkt);
        if (rd == AVERROR(EAGAIN))
            continue;
        if (rd < 0 && rd != AVERROR_EOF)
            return truncated(v, err, "read error");
        if (rd >= 0 && v->pkt->stream_index != v->stream) {
            if (++errs > FA_MAX_DECODE_ATTEMPTS)
                break;
            continue;
        }
        int sent = send_packet(v, rd == AVERROR_EOF);
        if (sent == AVERROR_EOF)
            break; /* drained: the end */
        if (sent < 0)
            return truncated(v, err, "video decoding error");
        ret = avcodec_receive_frame(v->dec, v->picture);
        if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF && ++errs > FA_MAX_DECODE_ATTEMPTS)
            return truncated(v, err, "repeated video decoding errors");
    }
    if (ret < 0) {
        v->ended = 1;
        return v->damage ? truncated(v, err, v->damage) : FACEAU_OK;
    }
    if (frame_damaged(v->picture))
        return truncated(v, err, "damaged video frame");
    faceau_status fits = fa_frame_size_check(v->path, "video frame", v->picture->width,
                                             v->picture->height, &v->lim, FACEAU_ERR_VIDEO, err);
    if (fits != FACEAU_OK) {
        v->ended = 1;
        return fits;
    }
    *got = 1;
    return FACEAU_OK;
}

/* The conversion size: the decoder's coded size, as OpenCV's. */
static void conversion_size(const fa_video *v, int *w, int *h)
{
    *w = v->dec->coded_width;
    *h = v->dec->coded_height;
    if (*w <= 0 || *h <= 0) { /* some decoders leave coded_* unset; OpenCV would fail here */
        *w = v->picture->width;
        *h = v->picture->height;
    }
}

/* The swscale context for the current picture; with_frame: also v->bgr, OpenCV's rgb_picture
 * (read_into without rotation converts into the caller's buffer instead). */
static faceau_status prepare_conversion(fa_video *v, int with_frame, fa_err *err)
{
    int w, h, fmt = v->picture->format;
    conversion_size(v, &w, &h);
    if (!(v->sws && w == v->conv_w && h == v->conv_h && fmt == v->conv_fmt)) {
        v->sws = sws_getCachedContext(v->sws, w, h, (enum AVPixelFormat)fmt, w, h, AV_PIX_FMT_BGR24,
                                      SWS_BICUBIC, NULL, NULL, NULL);
        if (!v->sws) {
            const char *name = av_get_pix_fmt_name((enum AVPixelFormat)fmt);
            return fa_fail(err, FACEAU_ERR_VIDEO, "%s: cannot convert pixel format '%s' to BGR",
                           v->path, name ? name : "unknown");
        }
        av_frame_unref(v->bgr);
        v->conv_w = w;
        v->conv_h = h;
        v->conv_fmt = fmt;
    }
    if (with_frame && !v->bgr->buf[0]) {
        v->bgr->format = AV_PIX_FMT_BGR24;
        v->bgr->width = w;
        v->bgr->height = h;
        if (av_frame_get_buffer(v->bgr, 32) < 0)
            return fa_fail(err, FACEAU_ERR_NOMEM, "%s: out of memory for a %dx%d frame", v->path, w, h);
    }
    return FACEAU_OK;
}

/* OpenCV's rotateFrame: 90 = cv::ROTATE_90_COUNTERCLOCKWISE, 270 = ROTATE_90_CLOCKWISE
 * (verified against cv2 on clips with rotate=90/180/270 display matrices). */
static void rotate_into(const uint8_t *src, int stride, int w, int h, int angle, uint8_t *dst)
{
    int dw = angle == 180 ? w : h, dh = angle == 180 ? h : w;
    for (int r = 0; r < dh; r++) {
        uint8_t *d = dst + (size_t)r * (size_t)dw * 3;
        for (int c = 0; c < dw; c++) {
            int sr = angle == 270 ? h - 1 - c : angle == 180 ? h - 1 - r : c;
            int sc = angle == 270 ? r : angle == 180 ? w - 1 - c : w - 1 - r;
            memcpy(d + 3 * c, src + (size_t)sr * (size_t)stride + 3 * (size_t)sc, 3);
        }
    }
}

/* The visible (cropped) size of the converted frame. */
static void visible_size(const fa_video *v, int *w, int *h)
{
    *w = v->width < v->conv_w ? v->width : v->conv_w;
    *h = v->height < v->conv_h ? v->height : v->conv_h;
}

static faceau_status convert(fa_video *v, fa_err *err)
{
    faceau_status st = prepare_conversion(v, 1, err);
    if (st != FACEAU_OK)
        return st;
    int w, h;
    visible_size(v, &w, &h);
    sws_scale(v->sws, (const uint8_t *const *)v->picture->data, v->picture->linesize, 0,
              v->picture->height, v->bgr->data, v->bgr->linesize);
    if (v->rotation) {
        rotate_into(v->bgr->data[0], v->bgr->linesize[0], w, h, v->rotation, v->rotated);
        v->out.width = v->rotation == 180 ? w : h;
        v->out.height = v->rotation == 180 ? h : w;
        v->out.stride = 3 * v->out.width;
        v->out.bgr = v->rotated;
    } else {
        v->out.width = w;
        v->out.height = h;
        v->out.stride = v->bgr->linesize[0];
        v->out.bgr = v->bgr->data[0];
    }
    return FACEAU_OK;
}

faceau_status fa_video_read(fa_video *v, const fa_image **frame, int *got, fa_err *err)
{
    *got = 0;
    *frame = NULL;
    if (!v)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "video reader is NULL");
    faceau_status st = next_frame(v, got, err);
    if (st != FACEAU_OK || !*got)
        return st;
    *got = 0;
    st = convert(v, err);
    av_frame_unref(v->picture);
    if (st != FACEAU_OK)
        return st;
    v->delivered++;
    *frame = &v->out;
    *got = 1;
    return FACEAU_OK;
}

/* av_frame_get_buffer(frame, 32)'s layout for BGR24 at w x h (FFmpeg 5.1's get_video_buffer):
 * the row length, and the bytes with its 32-row padding and plane padding. swscale's output
 * does not depend on where its buffer is, but it picks code paths by the alignment of the
 * rows, so the caller's buffer gets exactly the rows rgb_picture has. */
static faceau_status frame_layout(int w, int h, int *linesize, size_t *bytes)
{
    int ls[4] = {0};
    for (int a = 1; a <= 32; a += a) {
        if (av_image_fill_linesizes(ls, AV_PIX_FMT_BGR24, (w + a - 1) & ~(a - 1)) < 0)
            return FACEAU_ERR_VIDEO;
        if (!(ls[0] & 31))
            break;
    }
    *linesize = (ls[0] + 31) & ~31;
    *bytes = (size_t)*linesize * (size_t)((h + 31) & ~31) + 4 * 32;
    return FACEAU_OK;
}

/* dst's buffer for `bytes` with rows of `stride`: kept when it is large enough (*cap), else
 * replaced; 64-byte aligned, as av_malloc's. */
static faceau_status ensure_buffer(fa_video *v, fa_image *dst, size_t *cap, size_t bytes, int stride,
                                   fa_err *err)
{
    if (dst->bgr && *cap >= bytes && dst->stride == stride)
        return FACEAU_OK;
    fa_image_free(dst);
    *cap = 0;
    size_t n = (bytes + 63) & ~(size_t)63;
    dst->bgr = aligned_alloc(64, n);
    if (!dst->bgr)
        return fa_fail(err, FACEAU_ERR_NOMEM, "%s: out of memory for a frame (%zu bytes)", v->path, n);
    *cap = n;
    dst->stride = stride;
    return FACEAU_OK;
}

faceau_status fa_video_decode(fa_video *v, int *got, fa_err *err)
{
    *got = 0;
    if (!v)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "video reader is NULL");
    if (v->decoded) /* not converted yet: still the next frame */
        return *got = 1, FACEAU_OK;
    faceau_status st = next_frame(v, got, err);
    v->decoded = st == FACEAU_OK && *got;
    return st;
}

faceau_status fa_video_convert_into(fa_video *v, fa_image *dst, size_t *cap, fa_err *err)
{
    if (!v || !v->decoded)
        return fa_fail(err, FACEAU_ERR_STATE, "fa_video_convert_into: no frame decoded");
    v->decoded = 0;
    faceau_status st;
    int w, h;
    if (v->rotation) { /* through rgb_picture, then turned into dst */
        st = convert(v, err);
        if (st == FACEAU_OK)
            st = ensure_buffer(v, dst, cap, (size_t)v->out.stride * (size_t)v->out.height,
                               v->out.stride, err);
        if (st == FACEAU_OK) {
            memcpy(dst->bgr, v->out.bgr, (size_t)v->out.stride * (size_t)v->out.height);
            dst->width = v->out.width;
            dst->height = v->out.height;
        }
    } else {
        int linesize = 0;
        size_t bytes = 0;
        st = prepare_conversion(v, 0, err);
        if (st == FACEAU_OK && frame_layout(v->conv_w, v->conv_h, &linesize, &bytes) != FACEAU_OK)
            st = fa_fail(err, FACEAU_ERR_VIDEO, "%s: bad frame size %dx%d", v->path, v->conv_w, v->conv_h);
        if (st == FACEAU_OK)
            st = ensure_buffer(v, dst, cap, bytes, linesize, err);
        if (st == FACEAU_OK) {
            uint8_t *data[4] = {dst->bgr, NULL, NULL, NULL};
            int lines[4] = {linesize, 0, 0, 0};
            sws_scale(v->sws, (const uint8_t *const *)v->picture->data, v->picture->linesize, 0,
                      v->picture->height, data, lines);
            visible_size(v, &w, &h);
            dst->width = w;
            dst->height = h;
        }
    }
    av_frame_unref(v->picture);
    if (st != FACEAU_OK)
        return st;
    v->delivered++;
    return FACEAU_OK;
}

faceau_status fa_video_read_into(fa_video *v, fa_image *dst, size_t *cap, int *got, fa_err *err)
{
    faceau_status st = fa_video_decode(v, got, err);
    if (st != FACEAU_OK || !*got)
        return st;
    *got = 0;
    if ((st = fa_video_convert_into(v, dst, cap, err)) != FACEAU_OK)
        return st;
    *got = 1;
    return FACEAU_OK;
}

/* Reads only the container's header (no stream probing, no decoder): cheap enough to do for
 * every input of a batch before the first starts. */
faceau_status fa_video_probe(const char *path, int *width, int *height, double *frames, fa_err *err)
{
    pthread_once(&quiet_once, quiet_ffmpeg);
    AVFormatContext *fmt = NULL;
    int ret = avformat_open_input(&fmt, path, NULL, NULL);
    if (ret < 0)
        return av_failure(err, FACEAU_ERR_VIDEO, path, "not a readable video", ret);
    int found = 0;
    for (unsigned i = 0; i < fmt->nb_streams && !found; i++) {
        const AVStream *s = fmt->streams[i];
        if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
            continue;
        *width = s->codecpar->width;
        *height = s->codecpar->height;
        double n = (double)s->nb_frames;
        if (n <= 0 && fmt->duration > 0) /* e.g. ASF: from the duration at the declared rate */
            n = (double)fmt->duration / AV_TIME_BASE * stream_fps(s);
        *frames = n > 0 ? n : 0;
        found = 1;
    }
    avformat_close_input(&fmt);
    return found ? FACEAU_OK : fa_fail(err, FACEAU_ERR_VIDEO, "%s: no video stream in the header", path);
}
