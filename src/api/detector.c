/* detector.c - the public face detector: OpenFace's MTCNN (detect/) behind faceau.h. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

struct faceau_detector {
    fa_mtcnn *mtcnn;
    fa_err err;
};

faceau_status faceau_detector_open(const char *model_dir, int threads, faceau_detector **out,
                                   char *errbuf, size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!out)
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_detector_open: out is NULL"),
                             &err, errbuf, errbuf_size);
    *out = NULL;
    faceau_detector *d = fa_calloc(1, sizeof *d, &err, "the face detector");
    if (!d)
        return fa_err_to_buf(FACEAU_ERR_NOMEM, &err, errbuf, errbuf_size);
    char dir[4096], msg[3584];
    faceau_status st = fa_models_locate(model_dir, FA_MTCNN_MARKER, dir, sizeof dir, msg, sizeof msg);
    if (st)
        fa_fail(&d->err, st, "%s", msg);
    else
        st = fa_mtcnn_load(dir, &d->mtcnn, &d->err);
    if (!st)
        st = fa_mtcnn_set_threads(d->mtcnn, threads > 0 ? threads : 1, &d->err);
    if (st) {
        fa_err_to_buf(st, &d->err, errbuf, errbuf_size);
        faceau_detector_close(d);
        return st;
    }
    *out = d;
    return FACEAU_OK;
}

void faceau_detector_close(faceau_detector *d)
{
    if (!d)
        return;
    fa_mtcnn_free(d->mtcnn);
    free(d);
}

const char *faceau_detector_last_error(const faceau_detector *d)
{
    return d ? d->err.msg : "no detector";
}

faceau_status faceau_detect(faceau_detector *d, const faceau_frame *frame, faceau_box *boxes,
                            int max_boxes, int *n)
{
    if (n)
        *n = 0;
    if (!d)
        return FACEAU_ERR_INVALID_ARG;
    if (!frame || !n || (max_boxes > 0 && !boxes) || max_boxes < 0)
        return fa_fail(&d->err, FACEAU_ERR_INVALID_ARG,
                       "faceau_detect: %s", !frame ? "frame is NULL" : !n ? "n is NULL"
                                            : max_boxes < 0 ? "max_boxes is negative" : "boxes is NULL");
    if (!frame->bgr || frame->width < 0 || frame->height < 0 || frame->stride < 3 * frame->width)
        return fa_fail(&d->err, FACEAU_ERR_INVALID_ARG, "bad frame (%dx%d, stride %d)", frame->width,
                       frame->height, frame->stride);
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    return fa_mtcnn_detect(d->mtcnn, &img, boxes, max_boxes, n, &d->err);
}

int faceau_pick_single_face(const faceau_box *boxes, int n, int pref_x, int pref_y)
{
    return fa_mtcnn_pick_single(boxes, n, pref_x, pref_y);
}

faceau_status faceau_write_boxes_png(const char *path, const faceau_frame *frame, const faceau_box *boxes,
                                     int n, char *errbuf, size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!path || !frame || !frame->bgr || frame->width <= 0 || frame->height <= 0 || (n > 0 && !boxes))
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG,
                                     "faceau_write_boxes_png: %s", !path ? "path is NULL"
                                     : !frame || !frame->bgr ? "no frame pixels"
                                     : !boxes && n > 0 ? "boxes is NULL" : "empty frame"),
                             &err, errbuf, errbuf_size);
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    faceau_status st = fa_png_write_boxes(path, &img, boxes, n, &err);
    return fa_err_to_buf(st, &err, errbuf, errbuf_size);
}
