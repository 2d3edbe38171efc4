/* mirror_video.c - -mirror_video: the mirrored streams encoded with FFmpeg for a person to look
 * at (H.264 through libx264 in .mp4), or losslessly (FFV1 in .avi, whose frame rate is stored
 * exactly, so a plain run on it sees the same frames and timestamps as -mirror did). */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <string.h>

#include "api/mirror_video.h"

struct fa_mirror_enc {
    AVFormatContext *oc;
    AVCodecContext *cc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    const char *path;
    int header_written;
};

static faceau_status av_fail(fa_err *err, const char *path, const char *what, int ret)
{
    char msg[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(ret, msg, sizeof msg);
    return fa_fail(err, FACEAU_ERR_IO, "%s: %s: %s", path, what, msg);
}

const char *fa_mirror_video_ext(const char *codec)
{
    return codec && !strcmp(codec, "ffv1") ? "avi" : "mp4";
}

faceau_status fa_mirror_enc_open(const char *path, const char *codec, int w, int h, double fps,
                                 fa_mirror_enc **out, fa_err *err)
{
    *out = NULL;
    const int lossless = codec && !strcmp(codec, "ffv1");
    if (codec && !lossless && strcmp(codec, "h264"))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "unknown mirror video codec '%s' (h264 or ffv1)", codec);
    const AVCodec *enc = lossless ? avcodec_find_encoder(AV_CODEC_ID_FFV1) : avcodec_find_encoder_by_name("libx264");
    if (!enc)
        return fa_fail(err, FACEAU_ERR_VIDEO, "%s: this FFmpeg has no %s encoder", path,
                       lossless ? "FFV1" : "H.264 (libx264)");
    fa_mirror_enc *e = calloc(1, sizeof *e);
    if (!e)
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for a video encoder");
    *out = e;
    e->path = path;
    int ret = avformat_alloc_output_context2(&e->oc, NULL, lossless ? "avi" : "mp4", path);
    if (ret < 0)
        return av_fail(err, path, "cannot set up the container", ret);
    e->st = avformat_new_stream(e->oc, NULL);
    e->cc = avcodec_alloc_context3(enc);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->st || !e->cc || !e->frame || !e->pkt)
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for a video encoder");
    AVRational rate = av_d2q(fps > 0 ? fps : 30, 1000000);
    e->cc->width = w;
    e->cc->height = h;
    e->cc->time_base = av_inv_q(rate);
    e->cc->framerate = rate;
    /* 4:2:0 needs even sizes; 4:4:4 otherwise (libx264 takes both) */
    e->cc->pix_fmt = lossless ? AV_PIX_FMT_BGR0 : (w % 2 || h % 2) ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P;
    e->cc->thread_count = 1; /* the encoder runs beside three trackers already */
    if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
        e->cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (!lossless)
        av_opt_set(e->cc->priv_data, "preset", "veryfast", 0);
    if ((ret = avcodec_open2(e->cc, enc, NULL)) < 0)
        return av_fail(err, path, "cannot open the encoder", ret);
    if ((ret = avcodec_parameters_from_context(e->st->codecpar, e->cc)) < 0)
        return av_fail(err, path, "encoder parameters", ret);
    e->st->time_base = e->cc->time_base;
    e->st->avg_frame_rate = e->st->r_frame_rate = rate;
    e->frame->format = e->cc->pix_fmt;
    e->frame->width = w;
    e->frame->height = h;
    if ((ret = av_frame_get_buffer(e->frame, 0)) < 0)
        return av_fail(err, path, "frame buffer", ret);
    e->sws = sws_getContext(w, h, AV_PIX_FMT_BGR24, w, h, e->cc->pix_fmt, SWS_BICUBIC, NULL, NULL, NULL);
    if (!e->sws)
        return fa_fail(err, FACEAU_ERR_VIDEO, "%s: no pixel conversion to the encoder's format", path);
    if ((ret = avio_open(&e->oc->pb, path, AVIO_FLAG_WRITE)) < 0)
        return av_fail(err, path, "cannot create", ret);
    if ((ret = avformat_write_header(e->oc, NULL)) < 0)
        return av_fail(err, path, "cannot write the header", ret);
    e->header_written = 1;
    return FACEAU_OK;
}

/* Sends frame (NULL: the end) and writes every packet the encoder has ready. */
static faceau_status drain(fa_mirror_enc *e, AVFrame *frame, fa_err *err)
{
    int ret = avcodec_send_frame(e->cc, frame);
    if (ret < 0)
        return av_fail(err, e->path, "encoding failed", ret);
    for (;;) {
        ret = avcodec_receive_packet(e->cc, e->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return FACEAU_OK;
        if (ret < 0)
            return av_fail(err, e->path, "encoding failed", ret);
        av_packet_rescale_ts(e->pkt, e->cc->time_base, e->st->time_base);
        e->pkt->stream_index = e->st->index;
        ret = av_interleaved_write_frame(e->oc, e->pkt);
        if (ret < 0)
            return av_fail(err, e->path, "write failed", ret);
    }
}

faceau_status fa_mirror_enc_frame(fa_mirror_enc *e, const fa_image *img, long pts, fa_err *err)
{
    int ret = av_frame_make_writable(e->frame);
    if (ret < 0)
        return av_fail(err, e->path, "frame buffer", ret);
    const uint8_t *src[4] = {img->bgr, NULL, NULL, NULL};
    const int stride[4] = {img->stride, 0, 0, 0};
    sws_scale(e->sws, src, stride, 0, img->height, e->frame->data, e->frame->linesize);
    e->frame->pts = pts;
    return drain(e, e->frame, err);
}

faceau_status fa_mirror_enc_close(fa_mirror_enc *e, int finish, fa_err *err)
{
    if (!e)
        return FACEAU_OK;
    faceau_status st = FACEAU_OK;
    if (finish) {
        st = drain(e, NULL, err);
        int ret = !st && e->header_written ? av_write_trailer(e->oc) : 0;
        if (!st && ret < 0)
            st = av_fail(err, e->path, "cannot finish", ret);
    }
    if (e->oc && e->oc->pb) {
        int ret = avio_closep(&e->oc->pb);
        if (finish && !st && ret < 0)
            st = av_fail(err, e->path, "close failed", ret);
    }
    avformat_free_context(e->oc);
    avcodec_free_context(&e->cc);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    sws_freeContext(e->sws);
    free(e);
    return st;
}
