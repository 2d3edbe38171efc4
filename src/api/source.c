/* source.c - faceau_source: a video, one image or an image directory, frame by frame, with
 * OpenFace's timestamps (index / fps for video, 0 for images) and default intrinsics.
 *
 * With more than one thread, frames are decoded ahead on a thread of their own (as OpenFace's
 * SequenceCapture does) into a small ring of buffers, so decoding overlaps with whatever the
 * caller does with the previous frame; with one, on the caller's thread when it asks. Frames
 * come out in order and unchanged either way: the thread only moves work, not results. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "api/api.h"

/* the frames the caller holds (one through faceau_source_read, up to FA_SOURCE_MAX_HELD
 * through fa_source_acquire) plus one decoded ahead: tracking a frame takes several times
 * longer than decoding one, so a deeper queue would only hold memory (6 MB a frame at
 * 1080x1920), not speed anything up */
#define RING (FA_SOURCE_MAX_HELD + 1)
/* The frames held and decoded ahead stay within this many bytes unless the caller is waiting:
 * the whole ring up to 1280x720 (2.8 MB a frame), two frames at 1080x1920 (6.3 MB a frame), so
 * frames near the size limit (600 MB at 200 MP) are decoded only when asked for. At 1080x1920 a
 * third frame is 6 MB of peak RSS. The two kept are the tracker's and the AU stage's; the AU
 * stage gives its frame back as soon as it has aligned it (run.c), and the producer decodes
 * the next frame into the decoder's own pictures while it waits for a buffer (only converting
 * it waits), so the decoder keeps most of its overlap. Before those two changes, two frames
 * cost the portrait clip 12% at -threads 2; after them, paired runs on a loaded machine put the
 * difference within their noise (a few percent either way). */
#define FRAMES_BYTES ((size_t)16 << 20)

enum source_kind { SRC_VIDEO, SRC_IMAGES };

typedef struct slot {
    fa_image img;
    size_t cap; /* img's buffer size (video frames are decoded into it) */
    long index;
    const char *path; /* the image file it came from (image inputs) */
} slot;

struct faceau_source {
    enum source_kind kind;
    fa_video *video;
    double fps;
    char **paths; /* SRC_IMAGES: the files, in order */
    size_t n_paths, next;

    /* decode-ahead: the producer fills ring[(head + ready) % RING]; the caller holds ring[head]
     * from one read to the next */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot ring[RING];
    int head, ready, held, stop, finished;
    int waiting;        /* the caller waits for a frame: decode it whatever its size */
    size_t frame_bytes; /* the largest frame buffer so far */
    faceau_status end_status; /* why the producer stopped (OK = end of input) */
    fa_err producer_err;

    long index;
    const char *current_path;
    fa_err err;
    int sync;            /* one thread: no producer, frames decoded in faceau_source_read */
    const fa_image *vid; /* sync video: the decoder's own frame, valid until the next read */
    faceau_frame_limits lim;
};

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

/* Decodes the next frame into sl (straight from the decoder, no copy); *got = 0 at the end.
 * Runs on the producer thread only. A video's frame is already decoded (fa_video_decode): here
 * it is converted into sl. */
static faceau_status decode_next(faceau_source *s, slot *sl, int *got, fa_err *err)
{
    *got = 0;
    sl->path = NULL;
    if (s->kind == SRC_VIDEO) {
        faceau_status st = fa_video_convert_into(s->video, &sl->img, &sl->cap, err);
        *got = st == FACEAU_OK;
        return st;
    }
    if (s->next >= s->n_paths)
        return FACEAU_OK;
    fa_image_free(&sl->img);
    sl->cap = 0;
    faceau_status st = fa_image_read_limits(s->paths[s->next], &s->lim, &sl->img, err);
    if (st)
        return st;
    sl->path = s->paths[s->next];
    s->next++;
    *got = 1;
    return FACEAU_OK;
}

/* Big frames: sl (about to be decoded into) takes the buffer of a slot nobody uses, so the
 * ring holds as many big buffers as frames are in use at once, not one per slot. Under s->mu. */
static void take_idle_buffer(faceau_source *s, slot *sl)
{
    for (int k = s->held + s->ready + 1; k < RING; k++) {
        slot *idle = &s->ring[(s->head + k) % RING];
        if (idle->img.bgr) {
            fa_image img = sl->img;
            size_t cap = sl->cap;
            sl->img = idle->img;
            sl->cap = idle->cap;
            idle->img = img;
            idle->cap = cap;
            return;
        }
    }
}

/* Waits for room for one more frame, then gives the slot to decode it into (NULL: stopped). */
static slot *wait_for_slot(faceau_source *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->stop &&
           (s->ready + s->held >= RING ||
            (!s->waiting && (size_t)(s->ready + s->held + 1) * s->frame_bytes > FRAMES_BYTES)))
        pthread_cond_wait(&s->cv, &s->mu);
    slot *sl = s->stop ? NULL : &s->ring[(s->head + s->held + s->ready) % RING];
    if (sl && !sl->img.bgr && (size_t)RING * s->frame_bytes > FRAMES_BYTES)
        take_idle_buffer(s, sl);
    pthread_mutex_unlock(&s->mu);
    return sl;
}

static void *producer(void *arg)
{
    faceau_source *s = arg;
    long index = 0;
    for (;;) {
        /* a video's next frame is decoded before waiting for a buffer (fa_video_decode): only
         * its conversion into the buffer waits for one, not the decoding, most of the work */
        int got = 1;
        faceau_status st = FACEAU_OK;
        if (s->kind == SRC_VIDEO)
            st = fa_video_decode(s->video, &got, &s->producer_err);
        slot *sl = NULL;
        if (!st && got) {
            if (!(sl = wait_for_slot(s)))
                break;
            st = decode_next(s, sl, &got, &s->producer_err);
            sl->index = index++;
        }
        pthread_mutex_lock(&s->mu);
        if (st || !got) {
            s->end_status = st;
            s->finished = 1;
        } else {
            s->ready++;
            s->waiting = 0; /* answered: until the caller wakes, the flag would let another
                               frame (and buffer) past FRAMES_BYTES */
            if (sl->cap > s->frame_bytes)
                s->frame_bytes = sl->cap;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (st || !got)
            break;
    }
    return NULL;
}

static faceau_status start_producer(faceau_source *s)
{
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return fa_fail(&s->err, FACEAU_ERR_NOMEM, "cannot create a mutex");
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        return fa_fail(&s->err, FACEAU_ERR_NOMEM, "cannot create a condition variable");
    }
    if (pthread_create(&s->thread, NULL, producer, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        return fa_fail(&s->err, FACEAU_ERR_NOMEM, "cannot start the decoding thread");
    }
    s->thread_started = 1;
    return FACEAU_OK;
}

/* FFmpeg's decoder threads for a source on `threads` threads (0: one per core). Decoding ahead
 * is already a thread of its own, so the decoder gets the others: with 2, one. Each frame
 * thread of FFmpeg's H.264 decoder keeps its own context and pictures in flight (9 MB on the
 * 1080x1920 clip), and the frame it would gain is not the one the pipeline waits for: the
 * tracker is several times slower than decoding. The pixels do not depend on it. */
static int decoder_threads(int threads)
{
    int n = threads > 0 ? threads : fa_cpu_count();
    return n > 2 ? n - 1 : 1;
}

faceau_status faceau_source_open(const char *path, faceau_source **out, char *errbuf,
                                 size_t errbuf_size)
{
    return faceau_source_open_threads(path, 0, out, errbuf, errbuf_size);
}

faceau_status faceau_source_open_threads(const char *path, int threads, faceau_source **out,
                                         char *errbuf, size_t errbuf_size)
{
    return faceau_source_open_limits(path, threads, NULL, out, errbuf, errbuf_size);
}

faceau_frame_limits faceau_default_frame_limits(void)
{
    return fa_frame_limits_resolve(NULL);
}

faceau_status faceau_source_open_limits(const char *path, int threads,
                                        const faceau_frame_limits *limits, faceau_source **out,
                                        char *errbuf, size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!path || !out) {
        if (out)
            *out = NULL;
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_source_open: %s is NULL",
                                     path ? "out" : "path"), &err, errbuf, errbuf_size);
    }
    *out = NULL;
    faceau_source *s = fa_calloc(1, sizeof *s, &err, "a frame source");
    if (!s)
        return fa_err_to_buf(FACEAU_ERR_NOMEM, &err, errbuf, errbuf_size);
    s->lim = fa_frame_limits_resolve(limits);
    struct stat st;
    faceau_status rc;
    if (stat(path, &st) != 0) {
        rc = fa_fail(&s->err, FACEAU_ERR_IO, "%s: no such file or directory", path);
    } else if (S_ISDIR(st.st_mode) || fa_is_image_path(path)) {
        s->kind = SRC_IMAGES;
        rc = open_images(s, path, S_ISDIR(st.st_mode));
    } else {
        s->kind = SRC_VIDEO;
        rc = fa_video_open_limits(path, decoder_threads(threads), &s->lim, &s->video, &s->err);
        if (!rc)
            s->fps = fa_video_fps(s->video);
    }
    s->sync = threads == 1;
    if (!rc && !s->sync)
        rc = start_producer(s);
    if (rc) {
        fa_err_to_buf(rc, &s->err, errbuf, errbuf_size);
        faceau_source_close(s);
        return rc;
    }
    *out = s;
    return FACEAU_OK;
}

/* Gives the caller frame number `index` (0-based), decoded into img. */
static void hand_out(faceau_source *s, const fa_image *img, long index, const char *path,
                     faceau_frame *frame)
{
    frame->width = img->width;
    frame->height = img->height;
    frame->stride = img->stride;
    frame->bgr = img->bgr;
    /* SequenceCapture's timestamps: index * (1/fps) for video, 0 for image sequences */
    frame->timestamp = s->kind == SRC_VIDEO ? (double)index * (1.0 / s->fps) : 0.0;
    frame->index = index;
    s->index = index + 1;
    s->current_path = path;
}

/* One thread: decode now, straight from the decoder's buffer for video (no copy). */
static faceau_status read_sync(faceau_source *s, faceau_frame *frame, int *got)
{
    if (s->finished)
        return s->end_status;
    faceau_status st;
    slot *sl = &s->ring[0];
    const fa_image *img = &sl->img;
    if (s->kind == SRC_VIDEO) {
        sl->path = NULL;
        st = fa_video_read(s->video, &img, got, &s->err);
    } else {
        st = decode_next(s, sl, got, &s->err);
    }
    if (st || !*got) {
        s->finished = 1;
        s->end_status = st;
        *got = 0;
        return st;
    }
    hand_out(s, img, s->index, sl->path, frame);
    return FACEAU_OK;
}

faceau_status faceau_source_read(faceau_source *s, faceau_frame *frame, int *got)
{
    if (got)
        *got = 0;
    if (!s)
        return FACEAU_ERR_INVALID_ARG;
    if (!frame || !got)
        return fa_fail(&s->err, FACEAU_ERR_INVALID_ARG, "faceau_source_read: %s is NULL",
                       frame ? "got" : "frame");
    if (s->sync)
        return read_sync(s, frame, got);
    pthread_mutex_lock(&s->mu);
    if (s->held) { /* the caller is done with the previous frame */
        s->head = (s->head + s->held) % RING;
        s->held = 0;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return fa_source_acquire(s, frame, got);
}

faceau_status fa_source_acquire(faceau_source *s, faceau_frame *frame, int *got)
{
    *got = 0;
    if (s->sync)
        return fa_fail(&s->err, FACEAU_ERR_STATE, "fa_source_acquire: a one-thread source");
    pthread_mutex_lock(&s->mu);
    if (s->held >= FA_SOURCE_MAX_HELD) {
        pthread_mutex_unlock(&s->mu);
        return fa_fail(&s->err, FACEAU_ERR_STATE, "fa_source_acquire: too many frames held");
    }
    if (!s->ready && !s->finished) {
        s->waiting = 1;
        pthread_cond_broadcast(&s->cv);
        while (!s->ready && !s->finished)
            pthread_cond_wait(&s->cv, &s->mu);
        s->waiting = 0;
    }
    faceau_status st = FACEAU_OK;
    if (s->ready) {
        s->ready--;
        s->held++;
        *got = 1;
    } else {
        st = s->end_status;
        if (st)
            s->err = s->producer_err;
    }
    int k = (s->head + s->held + RING - 1) % RING; /* the frame just taken (when got) */
    pthread_mutex_unlock(&s->mu);
    if (!*got)
        return st;
    hand_out(s, &s->ring[k].img, s->ring[k].index, s->ring[k].path, frame);
    return FACEAU_OK;
}

void fa_source_release(faceau_source *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->held) {
        s->head = (s->head + 1) % RING;
        s->held--;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

int fa_source_async(const faceau_source *s)
{
    return !s->sync;
}

const char *faceau_source_last_error(const faceau_source *s)
{
    return s ? s->err.msg : "no source";
}

const char *faceau_source_frame_path(const faceau_source *s)
{
    return s ? s->current_path : NULL;
}

double faceau_source_fps(const faceau_source *s)
{
    return s && s->kind == SRC_VIDEO ? s->fps : 0;
}

void faceau_source_close(faceau_source *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
    }
    if (s->video)
        fa_video_close(s->video);
    fa_free_list(s->paths, s->n_paths);
    for (int i = 0; i < RING; i++)
        fa_image_free(&s->ring[i].img);
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
