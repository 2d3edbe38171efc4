/* mirror_run.c - faceau_run_mirror: the left- and right-mirrored faces of one input, each
 * tracked and analysed as a person of its own, written as two OpenFace CSVs.
 *
 * One decode feeds three tracked streams: the original (whose landmarks give the midline) and
 * the two mirrored ones. The midline of frame t is the mean over t-2 .. t+2, so frame t is
 * mirrored only once frame t+2 is tracked: decoded frames are kept (copied, as the source
 * reuses its buffers) until both streams have mirrored them. Each mirrored stream then runs
 * exactly what faceau_run runs on a video (its own tracker, analyser, CSV writer and
 * post-processing), which is why its CSV equals a plain run on the mirrored frames stored
 * losslessly. With threads != 1 each mirrored stream runs on a thread of its own, mirroring
 * (and encoding) its frames there too, beside the decoding and original-tracking one: the three
 * trackers run at once, every stream still sees its frames in order and keeps its own state,
 * so the bytes are the same. -hogalign and -simalign write each stream's .hog and aligned faces
 * as a plain run on its mirrored video would (<name>_left_mirrored.hog,
 * <name>_left_mirrored_aligned/, ...). A side's frame is made lazily (mirror.h, fa_mirror_lazy):
 * only the tiles its tracker, validator, MTCNN and AU alignment ask for, mirrored and converted
 * to grey together, the same bytes where read as the whole frame (FACEAU_MIRROR_LAZY=0 makes
 * whole frames, =poison fills the unmade pixels with junk: the tests' comparisons); with
 * -mirror_video the whole frame is encoded, so it is made whole. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/mirror_video.h"
#include "mirror/mirror.h"

#define LOOKAHEAD (FA_MIRROR_WINDOW / 2) /* frames tracked past the one being mirrored */
#define SIDE_SLOTS 2                     /* frames queued per stream (threaded) */
/* Decoded frames held: t .. t+2 for the midline, and with threads the frames still queued for
 * a stream (at most SIDE_SLOTS each, all older than t): when frame i is decoded every stream
 * has finished frame i - KEPT, whose copy it overwrites. Without threads LOOKAHEAD + 1. */
#define KEPT (LOOKAHEAD + 1 + SIDE_SLOTS)

static const char *const SIDE_NAME[2] = {"left", "right"};

/* One mirrored stream: what faceau_run keeps for a video, and the frames waiting for it. */
typedef struct side {
    struct mirror_run *m;
    enum fa_mirror_side which;
    faceau_au *au;
    faceau_au *dual; /* -au_dual's static analyser, or NULL */
    faceau_tracker *tracker;
    fa_csv_writer *csv;
    fa_csv_row *row;
    char path[4200], tmp[4300], tmp2[4300];
    char vpath[4200], vtmp[4300]; /* -mirror_video */
    FILE *hog;                    /* -hogalign */
    char hpath[4200], htmp[4300];
    char adir[4200];              /* -simalign */
    fa_mirror_enc *enc;
    int enc_w, enc_h;
    fa_err err;
    long tracked_ok;
    fa_image img; /* the mirrored frame */
    fa_grey grey; /* its grey, made with it on demand (lazy mode) */
    fa_mirror_lazy lazy;
    int lazy_ok; /* lazy initialised */
    /* the queue from the decoding thread (a ring of SIDE_SLOTS frames to mirror) */
    struct side_job {
        long t;          /* frame number (0-based) in the kept ring */
        int have;        /* a face and a midline: mirror (else a black frame) */
        fa_midline line; /* the smoothed midline */
    } job[SIDE_SLOTS];
    int head, n, closed;
    faceau_status st; /* this stream failed (message in err) */
    pthread_t thread;
    int threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} side;

typedef struct mirror_run {
    const faceau_run_options *opt;
    const faceau_mirror_options *mo;
    double seam;
    char name[1024];
    fa_err err;
    faceau_source *src;
    faceau_tracker *tracker; /* the original stream's */
    int nkept;               /* KEPT with threads, else LOOKAHEAD + 1 */
    double fps;              /* the source's, for -mirror_video */
    fa_image kept[KEPT];     /* decoded frames, frame i in kept[i % nkept] */
    double kept_ts[KEPT];
    long kept_index[KEPT];   /* the source's frame numbers */
    fa_midline line[FA_MIRROR_WINDOW]; /* frame i's midline in line[i % WINDOW] */
    int line_ok[FA_MIRROR_WINDOW];
    int found[FA_MIRROR_WINDOW];       /* the original fit succeeded on frame i */
    long frames, tracked_ok;
    int truncated;
    /* how a side makes its frames: MAKE_LAZY unless the whole frame is needed anyway
     * (-mirror_video) or FACEAU_MIRROR_LAZY says otherwise (the tests' comparisons) */
    enum { MAKE_WHOLE, MAKE_LAZY, MAKE_POISON } make;
    side s[2];
} mirror_run;

/* Room for a w x h frame, reallocated only when a frame is larger than any before (an image
 * directory may mix sizes); a video allocates once. */
static faceau_status fit_image(fa_image *img, int w, int h, fa_err *err)
{
    if (img->bgr && (size_t)img->stride * (size_t)img->height >= (size_t)w * 3 * (size_t)h) {
        img->width = w, img->height = h, img->stride = 3 * w;
        return FACEAU_OK;
    }
    fa_image_free(img);
    return fa_image_alloc(img, w, h, err);
}

static faceau_status encode(side *s, const fa_image *img, long t);

/* ---- one mirrored stream: faceau_run's per-frame work -------------------------------------- */
/* Mirrors job's frame (a frame whose face was lost, or with no midline in its window, is black,
 * which the stream's tracker reports as a failed row), writes it to -mirror_video's video, and
 * tracks and analyses it. */
static faceau_status side_frame(side *s, const struct side_job *job)
{
    mirror_run *m = s->m;
    const faceau_run_options *o = m->opt;
    const int k = (int)(job->t % m->nkept);
    const fa_image *src = &m->kept[k];
    fa_image *img = &s->img;
    faceau_status st = fit_image(img, src->width, src->height, &s->err);
    if (st)
        return st;
    if (m->make != MAKE_WHOLE) {
        /* the frame and its grey are made as the tracker and the analysers read them */
        if ((st = fa_grey_resize(&s->grey, src->width, src->height, &s->err)) ||
            (st = fa_mirror_lazy_begin(&s->lazy, src, job->have ? &job->line : NULL, s->which, m->seam,
                                       img, &s->grey, fa_cpu_features(), &s->err)))
            return st;
        if (m->make == MAKE_POISON) { /* what is read but never made shows in the output */
            memset(img->bgr, 0xa5, (size_t)img->stride * (size_t)img->height);
            memset(s->grey.px, 0x5a, (size_t)s->grey.stride * (size_t)s->grey.height);
        }
    } else if (job->have)
        fa_mirror_frame(src, &job->line, s->which, m->seam, img);
    else
        memset(img->bgr, 0, (size_t)img->stride * (size_t)img->height);
    if (m->mo->write_video && (st = encode(s, img, job->t)))
        return st;
    const double ts = m->kept_ts[k];
    const long index = m->kept_index[k];
    faceau_frame frame = {img->width, img->height, img->stride, img->bgr, ts, index};
    faceau_face face;
    st = m->make != MAKE_WHOLE ? fa_tracker_track_grey(s->tracker, &frame, &s->grey, o->camera, &face)
                               : faceau_track(s->tracker, &frame, o->camera, &face);
    if (st)
        return fa_fail(&s->err, st, "%s (%s-mirrored) frame %ld: %s", o->input, SIDE_NAME[s->which],
                       index + 1, faceau_tracker_last_error(s->tracker));
    s->tracked_ok += face.success != 0;
    fa_csv_row *row = s->row;
    memset(row, 0, sizeof *row);
    fa_run_row_from_face(&face, row);
    faceau_au_result res;
    if ((st = faceau_au_add_frame(s->au, &frame, face.landmarks, face.valid, &res)))
        return fa_fail(&s->err, st, "%s (%s-mirrored) frame %ld: %s", o->input, SIDE_NAME[s->which],
                       index + 1, faceau_au_last_error(s->au));
    row->frame = index + 1;
    row->face_id = 0;
    row->timestamp = ts;
    memcpy(row->au_r, res.au_intensity, sizeof row->au_r);
    memcpy(row->au_c, res.au_presence, sizeof row->au_c);
    if (s->dual && (st = fa_run_add_dual(s->dual, &frame, face.landmarks, face.valid, row, &s->err)))
        return st;
    if ((st = fa_csv_write_row(s->csv, row, &s->err)))
        return st;
    if (s->hog) { /* the .hog record and aligned face, as faceau_run writes them */
        float hog[FACEAU_HOG_SIZE];
        faceau_au_last_features(s->au, NULL, hog);
        if ((st = fa_run_write_hog(s->hog, s->hpath, res.success, hog, &s->err)))
            return st;
    }
    if (o->simalign && res.success) {
        uint8_t aligned[FA_ALIGN_SIZE * FA_ALIGN_SIZE * 3];
        char path[4300];
        faceau_au_last_features(s->au, aligned, NULL);
        snprintf(path, sizeof path, "%s/frame_det_00_%06ld.bmp", s->adir, index + 1);
        return fa_run_write_bmp(path, aligned, FA_ALIGN_SIZE, FA_ALIGN_SIZE, &s->err);
    }
    return FACEAU_OK;
}

static void *side_main(void *arg)
{
    side *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->n && !s->closed)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->n) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int k = s->head;
        pthread_mutex_unlock(&s->mu);
        faceau_status st = side_frame(s, &s->job[k]);
        pthread_mutex_lock(&s->mu);
        s->head = (s->head + 1) % SIDE_SLOTS;
        s->n--;
        if (st) { /* nothing more is taken: the producer sees st and stops */
            s->st = st;
            s->closed = 1;
            s->n = 0;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (st)
            break;
    }
    return NULL;
}

/* Hands frame job->t to the stream: done at once without threads, else queued once there is
 * room. Returns the stream's failure, if any. */
static faceau_status side_submit(side *s, const struct side_job *job)
{
    if (!s->threaded)
        return s->st ? s->st : (s->st = side_frame(s, job));
    pthread_mutex_lock(&s->mu);
    while (!s->st && s->n == SIDE_SLOTS)
        pthread_cond_wait(&s->cv, &s->mu);
    faceau_status st = s->st;
    if (!st) {
        s->job[(s->head + s->n) % SIDE_SLOTS] = *job;
        s->n++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Waits until the stream has taken every frame (or failed); returns its status. */
static faceau_status side_stop(side *s)
{
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->closed = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        s->threaded = 0;
    }
    return s->st;
}

/* ---- the original stream: midlines and mirroring ------------------------------------------ */
/* -mirror_video: frame t of a stream, into its video (opened at the first frame). */
static faceau_status encode(side *s, const fa_image *img, long t)
{
    mirror_run *m = s->m;
    faceau_status st;
    if (!s->enc) {
        if ((st = fa_mirror_enc_open(s->vtmp, m->mo->video_codec, img->width, img->height, m->fps,
                                     &s->enc, &s->err)))
            return st;
        s->enc_w = img->width, s->enc_h = img->height;
    }
    if (img->width != s->enc_w || img->height != s->enc_h)
        return fa_fail(&s->err, FACEAU_ERR_INVALID_ARG,
                       "%s: frame %ld is %dx%d, the first %dx%d: -mirror_video needs frames of one size",
                       m->opt->input, t + 1, img->width, img->height, s->enc_w, s->enc_h);
    return fa_mirror_enc_frame(s->enc, img, t, &s->err);
}

/* Hands frame t (its neighbours up to t+2 tracked; `last` is the last frame decoded) with its
 * smoothed midline to both streams. */
static faceau_status emit(mirror_run *m, long t, long last)
{
    fa_midline lines[FA_MIRROR_WINDOW];
    int valid[FA_MIRROR_WINDOW], n = 0;
    for (long i = t - LOOKAHEAD; i <= t + LOOKAHEAD; i++)
        if (i >= 0 && i <= last) {
            lines[n] = m->line[i % FA_MIRROR_WINDOW];
            valid[n++] = m->line_ok[i % FA_MIRROR_WINDOW];
        }
    struct side_job job = {t, 0, {0, 0, 0, 0}};
    job.have = m->found[t % FA_MIRROR_WINDOW] && fa_midline_smooth(lines, valid, n, &job.line);
    for (int k = 0; k < 2; k++) {
        faceau_status st = side_submit(&m->s[k], &job);
        if (st)
            return st;
    }
    m->frames++;
    const faceau_run_options *o = m->opt;
    if (!o->quiet && o->progress && m->frames % 100 == 0)
        o->progress(o->progress_user, m->name, m->frames, 0);
    return FACEAU_OK;
}

/* Tracks decoded frame i (0-based) and keeps a copy of it for mirroring. */
static faceau_status track_original(mirror_run *m, const faceau_frame *frame, long i)
{
    const int k = (int)(i % m->nkept);
    fa_image *img = &m->kept[k];
    faceau_status st = fit_image(img, frame->width, frame->height, &m->err);
    if (st)
        return st;
    for (int y = 0; y < frame->height; y++)
        memcpy(img->bgr + (size_t)y * (size_t)img->stride, frame->bgr + (size_t)y * (size_t)frame->stride,
               3 * (size_t)frame->width);
    m->kept_ts[k] = frame->timestamp;
    m->kept_index[k] = frame->index;
    faceau_face face;
    if ((st = faceau_track(m->tracker, frame, m->opt->camera, &face)))
        return fa_fail(&m->err, st, "%s frame %ld: %s", m->opt->input, frame->index + 1,
                       faceau_tracker_last_error(m->tracker));
    const int w = i % FA_MIRROR_WINDOW;
    m->found[w] = face.success != 0;
    m->line_ok[w] = m->found[w] && fa_midline_from_landmarks(face.landmarks, &m->line[w]);
    m->tracked_ok += m->found[w];
    return FACEAU_OK;
}

static faceau_status read_all(mirror_run *m)
{
    long decoded = 0;
    faceau_status st = FACEAU_OK;
    for (;;) {
        faceau_frame frame;
        int got = 0;
        if ((st = fa_run_read_frame(m->src, 0, decoded, &frame, &got, &m->truncated, &m->err)) || !got)
            break;
        if ((st = track_original(m, &frame, decoded)))
            break;
        decoded++;
        if (decoded > LOOKAHEAD && (st = emit(m, decoded - 1 - LOOKAHEAD, decoded - 1)))
            break;
    }
    for (long t = decoded - LOOKAHEAD; !st && t < decoded; t++)
        if (t >= 0)
            st = emit(m, t, decoded - 1);
    if (!st && decoded == 0)
        st = fa_fail(&m->err, FACEAU_ERR_NO_INPUT, "%s: no frames", m->opt->input);
    return st;
}

/* ---- files -------------------------------------------------------------------------------- */
static faceau_status open_all(mirror_run *m, faceau_au *au[2], faceau_au *dual[2])
{
    const faceau_run_options *o = m->opt;
    char errbuf[1024];
    faceau_status st;
    fa_run_output_name(o->input, o->input_is_dir, o->out_name, m->name, sizeof m->name);
    if ((st = fa_run_make_dirs(o->out_dir, &m->err)))
        return st;
    long pid = (long)getpid();
    for (int k = 0; k < 2; k++) {
        side *s = &m->s[k];
        s->m = m;
        s->which = k ? FA_MIRROR_RIGHT : FA_MIRROR_LEFT;
        s->au = au[k];
        s->dual = dual[k];
        if (snprintf(s->path, sizeof s->path, "%s/%s_%s_mirrored.csv", o->out_dir, m->name,
                     SIDE_NAME[k]) >= (int)sizeof s->path)
            return fa_fail(&m->err, FACEAU_ERR_INVALID_ARG, "%s: output path too long", o->out_dir);
        snprintf(s->tmp, sizeof s->tmp, "%s.%ld.tmp", s->path, pid);
        snprintf(s->vpath, sizeof s->vpath, "%.*s.%s", (int)strlen(s->path) - 4, s->path,
                 fa_mirror_video_ext(m->mo->video_codec));
        snprintf(s->vtmp, sizeof s->vtmp, "%s.%ld.tmp", s->vpath, pid);
        snprintf(s->tmp2, sizeof s->tmp2, "%s.%ld.post.tmp", s->path, pid);
        snprintf(s->hpath, sizeof s->hpath, "%.*s.hog", (int)strlen(s->path) - 4, s->path);
        snprintf(s->htmp, sizeof s->htmp, "%s.%ld.tmp", s->hpath, pid);
        snprintf(s->adir, sizeof s->adir, "%.*s_aligned", (int)strlen(s->path) - 4, s->path);
    }
    for (int k = 0; k < 2 && m->make != MAKE_WHOLE; k++) {
        side *s = &m->s[k];
        if ((st = fa_mirror_lazy_init(&s->lazy, &m->err)))
            return st;
        s->lazy_ok = 1;
        fa_analyser_set_source(s->au, &s->lazy.tiles.source);
        if (s->dual)
            fa_analyser_set_source(s->dual, &s->lazy.tiles.source);
    }
    int threads = o->threads > 0 ? o->threads : fa_cpu_count();
    if ((st = faceau_source_open_limits(o->input, threads, o->frame_limits, &m->src, errbuf,
                                         sizeof errbuf)))
        return fa_fail(&m->err, st, "%s", errbuf);
    m->fps = faceau_source_fps(m->src);
    m->nkept = threads > 1 ? KEPT : LOOKAHEAD + 1;
    if ((st = faceau_tracker_open(o->landmarker, &m->tracker, errbuf, sizeof errbuf)))
        return fa_fail(&m->err, st, "%s", errbuf);
    /* with threads the streams run beside each other: only the original's tracker, which the
     * other two wait for, splits its work (the output is the same for any count) */
    if (threads > 1 && (st = faceau_tracker_set_threads(m->tracker, threads)))
        return fa_fail(&m->err, st, "%s", faceau_tracker_last_error(m->tracker));
    for (int k = 0; k < 2; k++) {
        side *s = &m->s[k];
        if ((st = faceau_tracker_open(o->landmarker, &s->tracker, errbuf, sizeof errbuf)))
            return fa_fail(&m->err, st, "%s", errbuf);
        if (!(s->row = fa_malloc(sizeof *s->row, &m->err, "a CSV row")))
            return FACEAU_ERR_NOMEM;
        if ((st = fa_csv_writer_open_dual(s->tmp, o->outputs, 0, s->dual != NULL, &s->csv, &m->err)))
            return st;
        if (o->full_precision)
            fa_csv_writer_full_precision(s->csv);
        if (o->hogalign && !(s->hog = fopen(s->htmp, "wb")))
            return fa_fail(&m->err, FACEAU_ERR_IO, "%s: cannot create: %s", s->htmp, strerror(errno));
        if (o->simalign && (st = fa_run_make_dirs(s->adir, &m->err)))
            return st;
    }
    if (threads > 1)
        for (int k = 0; k < 2; k++) {
            side *s = &m->s[k];
            if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, NULL) != 0 ||
                pthread_create(&s->thread, NULL, side_main, s) != 0)
                return fa_fail(&m->err, FACEAU_ERR_NOMEM, "cannot start the %s-mirrored stream's thread",
                               SIDE_NAME[k]);
            s->threaded = 1;
        }
    return FACEAU_OK;
}

/* faceau_run's end of a video for one stream: OpenFace's AU post-processing of its CSV. */
static faceau_status finish_side(side *s, const char **final_tmp)
{
    faceau_status st = fa_csv_writer_close(s->csv, &s->err);
    s->csv = NULL;
    *final_tmp = s->tmp;
    return st ? st : fa_run_postprocess(s->au, s->dual, s->m->opt, s->tmp, s->tmp2, final_tmp, &s->err);
}

static faceau_status finish_all(mirror_run *m)
{
    const char *final[2];
    /* the videos first: once the CSVs are in place, everything is */
    for (int k = 0; k < 2; k++) {
        side *s = &m->s[k];
        if (!s->enc)
            continue;
        faceau_status st = fa_mirror_enc_close(s->enc, 1, &m->err);
        s->enc = NULL;
        if (!st && rename(s->vtmp, s->vpath) != 0)
            st = fa_fail(&m->err, FACEAU_ERR_IO, "%s: cannot rename into place: %s", s->vpath, strerror(errno));
        if (st) {
            if (k)
                unlink(m->s[0].vpath);
            return st;
        }
    }
    for (int k = 0; k < 2; k++) {
        faceau_status st = finish_side(&m->s[k], &final[k]);
        if (st) {
            m->err = m->s[k].err;
            return st;
        }
    }
    for (int k = 0; k < 2; k++) {
        side *s = &m->s[k];
        if (!s->hog)
            continue;
        faceau_status st = FACEAU_OK;
        if (fclose(s->hog) != 0)
            st = fa_fail(&m->err, FACEAU_ERR_IO, "%s: write failed", s->hpath);
        s->hog = NULL;
        if (!st && rename(s->htmp, s->hpath) != 0)
            st = fa_fail(&m->err, FACEAU_ERR_IO, "%s: cannot rename into place: %s", s->hpath, strerror(errno));
        if (st) {
            if (k)
                unlink(m->s[0].hpath);
            for (int j = 0; j < 2 && m->mo->write_video; j++)
                unlink(m->s[j].vpath);
            return st;
        }
    }
    for (int k = 0; k < 2; k++)
        if (rename(final[k], m->s[k].path) != 0) {
            faceau_status st = fa_fail(&m->err, FACEAU_ERR_IO, "%s: cannot rename into place: %s",
                                       m->s[k].path, strerror(errno));
            if (k)
                unlink(m->s[0].path); /* both or neither */
            for (int j = 0; j < 2; j++) {
                if (m->mo->write_video)
                    unlink(m->s[j].vpath);
                if (m->opt->hogalign)
                    unlink(m->s[j].hpath);
            }
            return st;
        }
    return FACEAU_OK;
}

static void cleanup(mirror_run *m)
{
    for (int k = 0; k < 2; k++) {
        side *s = &m->s[k];
        side_stop(s);
        if (s->csv) {
            fa_err ignore;
            fa_csv_writer_close(s->csv, &ignore);
        }
        unlink(s->tmp);
        unlink(s->tmp2);
        if (s->enc) {
            fa_err ignore;
            fa_mirror_enc_close(s->enc, 0, &ignore);
        }
        if (m->mo->write_video)
            unlink(s->vtmp);
        if (s->hog)
            fclose(s->hog);
        if (m->opt->hogalign)
            unlink(s->htmp);
        faceau_tracker_close(s->tracker);
        free(s->row);
        fa_image_free(&s->img);
        fa_grey_free(&s->grey);
        if (s->au) /* the analysers outlive the run: no pointer into it stays behind */
            fa_analyser_set_source(s->au, NULL);
        if (s->dual)
            fa_analyser_set_source(s->dual, NULL);
        if (s->lazy_ok)
            fa_mirror_lazy_free(&s->lazy);
    }
    for (int i = 0; i < KEPT; i++)
        fa_image_free(&m->kept[i]);
    faceau_tracker_close(m->tracker);
    faceau_source_close(m->src);
}

faceau_mirror_options faceau_default_mirror_options(void)
{
    faceau_mirror_options o = {6.0, 0, NULL, NULL, NULL};
    return o;
}

static faceau_status check_args(const faceau_run_options *opt, const faceau_mirror_options *mo,
                                fa_err *err)
{
    if (!opt || !opt->input || !opt->out_dir)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "faceau_run_mirror: %s",
                       !opt ? "opt is NULL" : !opt->input ? "no input" : "no out_dir");
    if (opt->landmarks_csv)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "%s: -mirror tracks the mirrored faces itself and cannot take a landmarks CSV (%s)",
                       opt->input, opt->landmarks_csv);
    if (!opt->input_is_dir && fa_is_image_path(opt->input))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "%s: -mirror needs a video or an image directory, not a still image", opt->input);
    if (!opt->landmarker)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "%s: faceau_run_mirror needs a landmark model (opt->landmarker)",
                       opt->input);
    const faceau_camera *cam = opt->camera;
    if (cam && !(cam->fx > 0 && cam->fy > 0 && cam->cx == cam->cx && cam->cy == cam->cy))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "faceau_run_mirror: camera fx and fy must be positive");
    if (!(mo->seam_px >= 0 && mo->seam_px <= 1000))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "%s: mirror seam width must be 0 to 1000 px", opt->input);
    return FACEAU_OK;
}

faceau_status faceau_run_mirror(faceau_au *left, faceau_au *right, const faceau_run_options *opt,
                                const faceau_mirror_options *mirror)
{
    if (!left)
        return FACEAU_ERR_INVALID_ARG;
    const faceau_mirror_options mo = mirror ? *mirror : faceau_default_mirror_options();
    fa_err err;
    fa_err_clear(&err);
    faceau_status st = check_args(opt, &mo, &err);
    if (!st && (!right || right == left))
        st = fa_fail(&err, FACEAU_ERR_INVALID_ARG,
                     "faceau_run_mirror: the right side needs an analyser of its own");
    if (!st && !mo.left_static != !mo.right_static)
        st = fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_run_mirror: -au_dual needs a static analyser for both sides");
    if (!st && (fa_analyser_static(left) || fa_analyser_static(right)))
        st = fa_fail(&err, FACEAU_ERR_INVALID_ARG,
                     "%s: -mirror analyses a video: its analysers cannot be still-image (FACEAU_AU_STATIC) ones",
                     opt->input);
    mirror_run *m = st ? NULL : calloc(1, sizeof *m);
    if (!st && !m)
        st = fa_fail(&err, FACEAU_ERR_NOMEM, "faceau_run_mirror: out of memory");
    if (st) {
        fa_analyser_set_error(left, st, err.msg);
        return st;
    }
    m->opt = opt;
    m->mo = &mo;
    m->seam = mo.seam_px;
    const char *make = getenv("FACEAU_MIRROR_LAZY");
    m->make = mo.write_video || (make && !strcmp(make, "0")) ? MAKE_WHOLE
              : make && !strcmp(make, "poison")             ? MAKE_POISON
                                                            : MAKE_LAZY;
    faceau_au *au[2] = {left, right}, *dual[2] = {mo.left_static, mo.right_static};
    for (int k = 0; k < 2; k++) {
        faceau_au_reset(au[k]);
        if (dual[k])
            faceau_au_reset(dual[k]);
    }
    st = open_all(m, au, dual);
    if (!st)
        st = read_all(m);
    for (int k = 0; k < 2; k++) { /* the streams' own failures come first: they stopped the loop */
        faceau_status sst = side_stop(&m->s[k]);
        if (sst && (!st || st == sst)) {
            st = sst;
            m->err = m->s[k].err;
            break;
        }
    }
    if (!st)
        st = finish_all(m);
    if (!st && !opt->quiet && opt->progress)
        opt->progress(opt->progress_user, m->name, m->frames, 1);
    if (!st && m->tracked_ok == 0 && opt->warning) {
        char msg[4500];
        snprintf(msg, sizeof msg, "%s: no face found in any of its %ld frames; both mirrored CSVs have only failed-frame rows",
                 opt->input, m->frames);
        opt->warning(opt->progress_user, m->name, msg);
    }
    if (!st && m->truncated)
        st = fa_fail(&m->err, FACEAU_ERR_TRUNCATED, "%s; wrote the %ld frames before it",
                     faceau_source_last_error(m->src), m->frames);
    if (st)
        fa_analyser_set_error(left, st, m->err.msg);
    cleanup(m);
    free(m);
    return st;
}
