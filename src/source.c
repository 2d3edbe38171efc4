/* source.c - faceau_source: a video, one image or an image directory, frame by frame, with
 * OpenFace's timestamps (index / fps for video, 0 for images) and default intrinsics. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"

enum source_kind { SRC_VIDEO, SRC_IMAGES };

struct faceau_source {
    enum source_kind kind;
    fa_video *video;
    double fps;
    char **paths; /* SRC_IMAGES: the files, in order */
    size_t n_paths, next;
    fa_image img;
    long index;
    fa_err err;
};

int fa_is_image_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
                   !strcasecmp(dot, ".bmp"));
}

static faceau_status open_images(faceau_source *s, const char *path, int is_dir)
{
    if (is_dir)
        return fa_list_images(path, &s->paths, &s->n_paths, &s->err);
    s->paths = fa_malloc(sizeof *s->paths, &s->err, "an image list");
    if (!s->paths)
        return FACEAU_ERR_NOMEM;
    s->paths[0] = strdup(path);
    if (!s->paths[0])
        return fa_fail(&s->err, FACEAU_ERR_NOMEM, "out of memory");
    s->n_paths = 1;
    return FACEAU_OK;
}

faceau_status faceau_source_open(const char *path, faceau_source **out, char *errbuf,
                                 size_t errbuf_size)
{
    if (!path || !out)
        return FACEAU_ERR_INVALID_ARG;
    *out = NULL;
    faceau_source *s = calloc(1, sizeof *s);
    if (!s)
        return FACEAU_ERR_NOMEM;
    struct stat st;
    faceau_status rc;
    if (stat(path, &st) != 0) {
        rc = fa_fail(&s->err, FACEAU_ERR_IO, "%s: no such file or directory", path);
    } else if (S_ISDIR(st.st_mode) || fa_is_image_path(path)) {
        s->kind = SRC_IMAGES;
        rc = open_images(s, path, S_ISDIR(st.st_mode));
    } else {
        s->kind = SRC_VIDEO;
        rc = fa_video_open(path, &s->video, &s->err);
        if (!rc)
            s->fps = fa_video_fps(s->video);
    }
    if (rc) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "%s", s->err.msg);
        faceau_source_close(s);
        return rc;
    }
    *out = s;
    return FACEAU_OK;
}

faceau_status faceau_source_read(faceau_source *s, faceau_frame *frame, int *got)
{
    if (!s || !frame || !got)
        return FACEAU_ERR_INVALID_ARG;
    *got = 0;
    const fa_image *img = NULL;
    double ts = 0;
    if (s->kind == SRC_VIDEO) {
        faceau_status rc = fa_video_read(s->video, &img, got, &s->err);
        if (rc || !*got)
            return rc;
        ts = (double)s->index * (1.0 / s->fps); /* SequenceCapture's timestamp */
    } else {
        if (s->next >= s->n_paths)
            return FACEAU_OK;
        fa_image_free(&s->img);
        faceau_status rc = fa_image_read(s->paths[s->next], &s->img, &s->err);
        if (rc)
            return rc;
        s->next++;
        img = &s->img;
        *got = 1;
    }
    frame->width = img->width;
    frame->height = img->height;
    frame->stride = img->stride;
    frame->bgr = img->bgr;
    frame->timestamp = ts;
    frame->index = s->index++;
    return FACEAU_OK;
}

const char *faceau_source_last_error(const faceau_source *s)
{
    return s ? s->err.msg : "no source";
}

double faceau_source_fps(const faceau_source *s)
{
    return s && s->kind == SRC_VIDEO ? s->fps : 0;
}

void faceau_source_close(faceau_source *s)
{
    if (!s)
        return;
    if (s->video)
        fa_video_close(s->video);
    fa_free_list(s->paths, s->n_paths);
    fa_image_free(&s->img);
    free(s);
}

void faceau_default_intrinsics(int width, int height, float out[4])
{
    /* SequenceCapture::SetCameraIntrinsics: fx, fy from a 640x480 camera at 500 px, averaged */
    float fx = 500.0f * ((float)width / 640.0f);
    float fy = 500.0f * ((float)height / 480.0f);
    fx = (fx + fy) / 2.0f;
    out[0] = fx;
    out[1] = fx;
    out[2] = (float)width / 2.0f;
    out[3] = (float)height / 2.0f;
}
