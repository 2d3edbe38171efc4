/* run.c - faceau_run: one input, its landmarks CSV, and OpenFace's outputs (CSV, .hog,
 * aligned faces), as FeatureExtraction writes them. Every file is written under a temporary
 * name and renamed when complete, so a failed run leaves no partial output behind. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "landmarks/validator.h"

typedef struct run_state {
    faceau_au *au;
    const faceau_run_options *opt;
    fa_err err;
    char name[1024];
    char csv_path[4096], csv_tmp[4200], csv_tmp2[4200];
    char hog_path[4096], hog_tmp[4200];
    char aligned_dir[4096];
    faceau_source *src;
    fa_csv_reader *lm;       /* the landmarks CSV (AU stage only), or NULL */
    faceau_tracker *tracker; /* our own landmark tracking when there is no landmarks CSV */
    faceau_face *faces;      /* a still image's faces (tracker mode) */
    long tracked_ok;         /* frames the tracker called successful */
    fa_csv_writer *csv;
    FILE *hog;
    long frames;
    int truncated;
    int image_mode; /* a still image: FaceLandmarkImg's behaviour and layout */
} run_state;

static void base_name(const char *path, int strip_ext, char *out, size_t n)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t end = len;
    if (strip_ext) {
        for (size_t i = len; i > start; i--) {
            if (path[i - 1] == '.') {
                end = i - 1;
                break;
            }
        }
    }
    if (end <= start)
        end = len;
    snprintf(out, n, "%.*s", (int)(end - start), path + start);
}

static faceau_status make_dirs(const char *dir, fa_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return fa_fail(err, FACEAU_ERR_IO, "%s: cannot create directory: %s", buf,
                               strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fa_fail(err, FACEAU_ERR_IO, "%s: not a directory", dir);
    if (access(dir, W_OK) != 0)
        return fa_fail(err, FACEAU_ERR_IO, "%s: output directory is not writable", dir);
    return FACEAU_OK;
}

void fa_run_output_name(const char *input, int input_is_dir, const char *out_name, char *name,
                        size_t n)
{
    if (out_name && *out_name)
        base_name(out_name, 1, name, n);
    else
        base_name(input, !input_is_dir, name, n);
}

void fa_run_temp_stem(const char *name, char *stem, size_t n)
{
    size_t len = strlen(name);
    if (len <= FA_RUN_STEM_MAX) {
        snprintf(stem, n, "%s", name);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    snprintf(stem, n, "%.*s~%08x", FA_RUN_STEM_KEEP, name, (unsigned)h);
}

static faceau_status set_paths(run_state *r)
{
    const faceau_run_options *o = r->opt;
    fa_run_output_name(o->input, o->input_is_dir, o->out_name, r->name, sizeof r->name);
    long pid = (long)getpid();
    /* a 250-byte name leaves no room for ".csv.<pid>.post.tmp" in a 255-byte file name */
    char stem[FA_RUN_STEM_MAX + 1], tmp_dir_stem[4096 + sizeof stem];
    fa_run_temp_stem(r->name, stem, sizeof stem);
    snprintf(tmp_dir_stem, sizeof tmp_dir_stem, "%s/%s", o->out_dir, stem);
    if (snprintf(r->csv_path, sizeof r->csv_path, "%s/%s.csv", o->out_dir, r->name) >=
            (int)sizeof r->csv_path ||
        snprintf(r->hog_path, sizeof r->hog_path, "%s/%s.hog", o->out_dir, r->name) >=
            (int)sizeof r->hog_path ||
        snprintf(r->aligned_dir, sizeof r->aligned_dir, "%s/%s_aligned", o->out_dir, r->name) >=
            (int)sizeof r->aligned_dir)
        return fa_fail(&r->err, FACEAU_ERR_INVALID_ARG, "%s: output path too long", o->out_dir);
    if (snprintf(r->csv_tmp, sizeof r->csv_tmp, "%s.csv.%ld.tmp", tmp_dir_stem, pid) >=
            (int)sizeof r->csv_tmp ||
        snprintf(r->csv_tmp2, sizeof r->csv_tmp2, "%s.csv.%ld.post.tmp", tmp_dir_stem, pid) >=
            (int)sizeof r->csv_tmp2 ||
        snprintf(r->hog_tmp, sizeof r->hog_tmp, "%s.hog.%ld.tmp", tmp_dir_stem, pid) >=
            (int)sizeof r->hog_tmp)
        return fa_fail(&r->err, FACEAU_ERR_INVALID_ARG, "%s: output path too long", o->out_dir);
    return FACEAU_OK;
}

/* The landmarks row for frame number `frame` (1-based); rows of other faces are skipped. */
static faceau_status next_landmarks(run_state *r, long frame, fa_csv_row *row)
{
    for (;;) {
        int got = 0;
        faceau_status st = fa_csv_reader_next(r->lm, row, &got, &r->err);
        if (st)
            return st;
        if (!got)
            return fa_fail(&r->err, FACEAU_ERR_CSV,
                           "%s: has no row for frame %ld of %s (fewer rows than the video)",
                           r->opt->landmarks_csv, frame, r->opt->input);
        if (row->face_id != 0)
            continue;
        if (row->frame != 0 && row->frame != frame) /* 0: the CSV has no frame column */
            return fa_fail(&r->err, FACEAU_ERR_CSV, "%s: row for frame %ld where frame %ld was expected",
                           r->opt->landmarks_csv, row->frame, frame);
        return FACEAU_OK;
    }
}

static faceau_status write_hog(run_state *r, int success, const float *hog)
{
    return fa_run_write_hog(r->hog, r->hog_path, success, hog, &r->err);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* A 24-bit bottom-up BMP, byte for byte as OpenCV's imwrite writes the aligned faces
 * (image size field left 0). */
static faceau_status write_bmp(const char *path, const uint8_t *bgr, int w, int h, fa_err *err)
{
    unsigned char hd[54] = {'B', 'M'};
    uint32_t row = ((uint32_t)w * 3 + 3) & ~3u;
    put_le32(hd + 2, 54 + row * (uint32_t)h);
    put_le32(hd + 10, 54);
    put_le32(hd + 14, 40);
    put_le32(hd + 18, (uint32_t)w);
    put_le32(hd + 22, (uint32_t)h);
    hd[26] = 1;
    hd[28] = 24;
    FILE *f = fopen(path, "wb");
    if (!f)
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    unsigned char pad[4] = {0};
    int ok = fwrite(hd, 1, 54, f) == 54;
    for (int y = h - 1; ok && y >= 0; y--)
        ok = fwrite(bgr + (size_t)y * (size_t)w * 3, 1, (size_t)w * 3, f) == (size_t)w * 3 &&
             fwrite(pad, 1, row - (uint32_t)w * 3, f) == row - (uint32_t)w * 3;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        return fa_fail(err, FACEAU_ERR_IO, "%s: write failed", path);
    return FACEAU_OK;
}

/* The last aligned face, named as OpenFace names it: frame_det_00_NNNNNN.bmp in a sequence,
 * face_det_NNNNNN.bmp (NNNNNN = face) for a still image. */
static faceau_status write_aligned(run_state *r, long number)
{
    uint8_t face[FA_ALIGN_SIZE * FA_ALIGN_SIZE * 3];
    char path[4200];
    faceau_au_last_features(r->au, face, NULL);
    snprintf(path, sizeof path, r->image_mode ? "%s/face_det_%06ld.bmp" : "%s/frame_det_00_%06ld.bmp",
             r->aligned_dir, number);
    return write_bmp(path, face, FA_ALIGN_SIZE, FA_ALIGN_SIZE, &r->err);
}

/* The .hog record and aligned face of the frame just processed, when asked for. */
static faceau_status write_stage_outputs(run_state *r, int success, long number)
{
    faceau_status st = FACEAU_OK;
    if (r->hog) {
        float hog[FACEAU_HOG_SIZE];
        faceau_au_last_features(r->au, NULL, hog);
        st = write_hog(r, success, hog);
    }
    if (!st && r->opt->simalign && success)
        st = write_aligned(r, number);
    return st;
}

static void progress(run_state *r, int force)
{
    if (r->opt->quiet || !r->opt->progress)
        return;
    if (force || r->frames % 100 == 0)
        r->opt->progress(r->opt->progress_user, r->name, r->frames, force);
}

/* The tracking columns of a CSV row from our own fit (what RecorderOpenFace is given). */
static void row_from_face(const faceau_face *f, fa_csv_row *row)
{
    row->confidence = f->confidence;
    row->success = f->success;
    for (int k = 0; k < 3; k++) {
        row->gaze[k] = f->gaze_0[k];
        row->gaze[3 + k] = f->gaze_1[k];
    }
    row->gaze[6] = f->gaze_angle[0];
    row->gaze[7] = f->gaze_angle[1];
    for (int i = 0; i < 2 * FA_N_EYE_LMK; i++)
        row->eye_lmk2d[i] = f->eye_landmarks[i];
    for (int i = 0; i < 3 * FA_N_EYE_LMK; i++)
        row->eye_lmk3d[i] = f->eye_landmarks_3d[i];
    for (int i = 0; i < 6; i++)
        row->pose[i] = f->pose[i];
    for (int i = 0; i < 2 * FA_N_LANDMARKS; i++)
        row->lmk2d[i] = f->landmarks[i];
    for (int i = 0; i < 3 * FA_N_LANDMARKS; i++)
        row->lmk3d[i] = f->landmarks_3d[i];
    for (int i = 0; i < 6; i++)
        row->params[i] = f->params_global[i];
    for (int i = 0; i < FA_N_MODES; i++)
        row->params[6 + i] = f->params_local[i];
}

/* DetectLandmarksInVideo on one frame, then what RecorderOpenFace is given (FeatureExtraction
 * hands the AU stage the fit with the validator's verdict, face_model.detection_success).
 * Failures go to err: the caller's own when this runs beside the AU stage's thread. */
static faceau_status track_frame(run_state *r, const faceau_frame *frame, faceau_face *face, fa_err *err)
{
    faceau_status st = faceau_track(r->tracker, frame, r->opt->camera, face);
    if (st)
        return fa_fail(err, st, "%s frame %ld: %s", r->opt->input, frame->index + 1,
                       faceau_tracker_last_error(r->tracker));
    r->tracked_ok += face->success != 0;
    return FACEAU_OK;
}

/* A frame on its way through the AU stage: what emit_align leaves for emit_rest. */
typedef struct emit_state {
    fa_csv_row *row;
    long number;      /* 1-based */
    double timestamp;
    int success;
} emit_state;

/* The AU stage's reads of the frame (the aligned faces, -au_dual's too) and the row's tracking
 * columns: face is our fit, or NULL to take the frame's landmarks from the landmarks CSV. After
 * this the frame itself is no longer needed (emit_rest). */
static faceau_status emit_align(run_state *r, const faceau_frame *frame, const faceau_face *face,
                                emit_state *e)
{
    fa_csv_row *row = e->row;
    faceau_status st;
    float lm[2 * FA_N_LANDMARKS];
    e->number = frame->index + 1;
    e->timestamp = frame->timestamp;
    if (face) {
        memset(row, 0, sizeof *row);
        row_from_face(face, row);
        memcpy(lm, face->landmarks, sizeof lm);
        e->success = face->valid;
    } else {
        if ((st = next_landmarks(r, e->number, row)))
            return st;
        for (int i = 0; i < 2 * FA_N_LANDMARKS; i++)
            lm[i] = (float)row->lmk2d[i];
        e->success = row->success;
    }
    if ((st = fa_analyser_align(r->au, frame, lm, e->success)))
        return fa_fail(&r->err, st, "%s frame %ld: %s", r->opt->input, e->number,
                       faceau_au_last_error(r->au));
    if (r->opt->dual_static &&
        (st = fa_run_add_dual(r->opt->dual_static, frame, lm, e->success, row, &r->err)))
        return st;
    return FACEAU_OK;
}

/* The rest of the AU stage and the outputs for the frame emit_align began. */
static faceau_status emit_rest(run_state *r, emit_state *e)
{
    fa_csv_row *row = e->row;
    faceau_au_result res;
    faceau_status st;
    if ((st = fa_analyser_add_aligned(r->au, &res)))
        return fa_fail(&r->err, st, "%s frame %ld: %s", r->opt->input, e->number,
                       faceau_au_last_error(r->au));
    row->frame = e->number;
    row->face_id = 0;
    row->timestamp = e->timestamp;
    /* OpenFace's p_* columns are the landmark tracker's parameters: keep ours or the given ones;
     * only a landmarks file without them gets the AU stage's own CalcParams fit. */
    if (res.success && r->lm && !(fa_csv_reader_groups(r->lm) & FA_CSV_HAS_PDM)) {
        for (int i = 0; i < 6; i++)
            row->params[i] = res.params_global[i];
        for (int i = 0; i < FA_N_MODES; i++)
            row->params[6 + i] = res.params_local[i];
    }
    memcpy(row->au_r, res.au_intensity, sizeof row->au_r);
    memcpy(row->au_c, res.au_presence, sizeof row->au_c);
    if ((st = fa_csv_write_row(r->csv, row, &r->err)) ||
        (st = write_stage_outputs(r, res.success, e->number)))
        return st;
    r->frames++;
    progress(r, 0);
    return FACEAU_OK;
}

/* The AU stage and the outputs for one frame (emit_align, then emit_rest). */
static faceau_status emit_frame(run_state *r, const faceau_frame *frame, const faceau_face *face,
                                fa_csv_row *row)
{
    emit_state e = {row, 0, 0, 0};
    faceau_status st = emit_align(r, frame, face, &e);
    return st ? st : emit_rest(r, &e);
}

static faceau_status process_frame(run_state *r, const faceau_frame *frame, fa_csv_row *row)
{
    if (!r->tracker)
        return emit_frame(r, frame, NULL, row);
    faceau_face face;
    faceau_status st = track_frame(r, frame, &face, &r->err);
    return st ? st : emit_frame(r, frame, &face, row);
}

#define MAX_IMAGE_FACES 256

/* A still image with our own landmarks, as FaceLandmarkImg: every MTCNN face fitted from its
 * box, static AUs from its landmarks (PredictStaticAUsAndComputeFeatures, no success gating). */
static faceau_status process_image_faces(run_state *r, const faceau_frame *frame, fa_csv_row *row)
{
    int n = 0;
    faceau_status st = faceau_fit_image(r->tracker, frame, r->opt->camera, r->faces,
                                        MAX_IMAGE_FACES, &n);
    if (st)
        return fa_fail(&r->err, st, "%s: %s", r->opt->input, faceau_tracker_last_error(r->tracker));
    if (n == 0)
        return fa_fail(&r->err, FACEAU_ERR_NO_FACE, "%s: no face found in the image", r->opt->input);
    for (int k = 0; k < n; k++) {
        memset(row, 0, sizeof *row);
        row_from_face(&r->faces[k], row);
        row->face_id = k;
        faceau_au_result res;
        if ((st = faceau_au_add_frame(r->au, frame, r->faces[k].landmarks, 1, &res)))
            return fa_fail(&r->err, st, "%s face %d: %s", r->opt->input, k, faceau_au_last_error(r->au));
        memcpy(row->au_r, res.au_intensity, sizeof row->au_r);
        memcpy(row->au_c, res.au_presence, sizeof row->au_c);
        if ((st = fa_csv_write_row(r->csv, row, &r->err)) ||
            (st = write_stage_outputs(r, r->faces[k].success, k)))
            return st;
        r->frames++;
    }
    return FACEAU_OK;
}

/* A still image, as FaceLandmarkImg: every face (row) of the landmarks CSV, static models, no
 * post-processing, the image CSV layout. */
static faceau_status process_image(run_state *r)
{
    faceau_frame frame;
    int got = 0;
    faceau_status st = faceau_source_read(r->src, &frame, &got);
    if (st || !got)
        return fa_fail(&r->err, st ? st : FACEAU_ERR_IMAGE, "%s", faceau_source_last_error(r->src));
    fa_csv_row *row = fa_malloc(sizeof *row, &r->err, "a CSV row");
    if (!row)
        return FACEAU_ERR_NOMEM;
    if (r->tracker) {
        st = process_image_faces(r, &frame, row);
        free(row);
        return st;
    }
    for (;;) {
        if ((st = fa_csv_reader_next(r->lm, row, &got, &r->err)) || !got)
            break;
        float lm[2 * FA_N_LANDMARKS];
        for (int i = 0; i < 2 * FA_N_LANDMARKS; i++)
            lm[i] = (float)row->lmk2d[i];
        faceau_au_result res;
        if ((st = faceau_au_add_frame(r->au, &frame, lm, row->success, &res))) {
            fa_fail(&r->err, st, "%s face %d: %s", r->opt->input, row->face_id,
                    faceau_au_last_error(r->au));
            break;
        }
        memcpy(row->au_r, res.au_intensity, sizeof row->au_r);
        memcpy(row->au_c, res.au_presence, sizeof row->au_c);
        if ((st = fa_csv_write_row(r->csv, row, &r->err)) ||
            (st = write_stage_outputs(r, res.success, row->face_id)))
            break;
        r->frames++;
    }
    free(row);
    return st;
}

static faceau_status open_all(run_state *r)
{
    const faceau_run_options *o = r->opt;
    faceau_status st;
    char errbuf[1024];
    if ((st = set_paths(r)) || (st = make_dirs(o->out_dir, &r->err)))
        return st;
    int threads = o->threads > 0 ? o->threads : fa_cpu_count();
    if ((st = faceau_source_open_limits(o->input, threads, o->frame_limits, &r->src, errbuf,
                                        sizeof errbuf)))
        return fa_fail(&r->err, st, "%s", errbuf);
    if (o->landmarks_csv) {
        if ((st = fa_csv_reader_open(o->landmarks_csv, &r->lm, &r->err)))
            return st;
    } else {
        if (!o->landmarker)
            return fa_fail(&r->err, FACEAU_ERR_INVALID_ARG,
                           "%s: faceau_run needs a landmark model (opt->landmarker) or a landmarks CSV",
                           o->input);
        if ((st = faceau_tracker_open(o->landmarker, &r->tracker, errbuf, sizeof errbuf)))
            return fa_fail(&r->err, st, "%s", errbuf);
        if (threads > 1 && (st = faceau_tracker_set_threads(r->tracker, threads)))
            return fa_fail(&r->err, st, "%s", faceau_tracker_last_error(r->tracker));
        if (r->image_mode &&
            !(r->faces = fa_malloc(MAX_IMAGE_FACES * sizeof *r->faces, &r->err, "the image's faces")))
            return FACEAU_ERR_NOMEM;
    }
    if ((st = fa_csv_writer_open_dual(r->csv_tmp, o->outputs, r->image_mode, o->dual_static != NULL,
                                      &r->csv, &r->err)))
        return st;
    if (o->full_precision)
        fa_csv_writer_full_precision(r->csv);
    if (o->hogalign) {
        r->hog = fopen(r->hog_tmp, "wb");
        if (!r->hog)
            return fa_fail(&r->err, FACEAU_ERR_IO, "%s: cannot create: %s", r->hog_tmp,
                           strerror(errno));
    }
    if (o->simalign && (st = make_dirs(r->aligned_dir, &r->err)))
        return st;
    return FACEAU_OK;
}

/* ---- two stages on two threads ------------------------------------------------------------ */
/* With a decode-ahead source, tracking (this thread) and the AU stage with the outputs (a
 * thread of its own) overlap: tracked frames go through a small FIFO, in order, and each frame
 * stays held by the source until the AU stage has used it. Everything written is what the
 * one-thread loop writes: the AU stage sees the same frames and fits in the same order.
 *
 * A tracked frame's validator CNN (about a seventh of the tracker's work on 640x480) runs on
 * the AU stage's thread, beside the next frame's fit (landmarker.c's fa_tracker_complete: the
 * next fit assumes the frame passes; when it does not, the tracker finishes the frame from its
 * saved fit and fits the next one again). The validator is the last step of a frame's tracking
 * and the next fit needs only its verdict, so this takes it off the tracker's serial chain. The
 * crop's warp runs there too, from the frame's BGR pixels (its grey made as it is sampled), so
 * no second grey image is kept. */
#define STAGE_QUEUE (FA_SOURCE_MAX_HELD - 1) /* the tracker holds the other frame */

typedef struct au_stage {
    run_state *r;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    faceau_frame frame[STAGE_QUEUE];
    faceau_face face[STAGE_QUEUE];
    int deferred[STAGE_QUEUE]; /* the face is to be validated here: defer[dslot] */
    int dslot[STAGE_QUEUE];
    int head, n;
    int closed;         /* no more frames are coming */
    faceau_status st;   /* the AU stage failed (its message in r->err) */
    /* deferred validations: the two latest (the tracker fills one while this thread reads the
     * other); verdict[k] once confidence[k] is known */
    fa_track_defer defer[2];
    int verdict[2];
    float confidence[2];
    /* a deferred frame that failed: the tracker's finished face for it */
    faceau_face failed_face;
    int failed_ready;
    fa_validator_ws *vws; /* this thread's validator workspace */
} au_stage;

/* The validator's verdict on queue entry k, then its face: described here if it passed, else
 * the tracker's (which finishes a failed frame itself). *stop: the tracker stopped first. */
static faceau_status resolve_deferred(au_stage *q, int k, int *stop)
{
    run_state *r = q->r;
    int ds = q->dslot[k];
    float conf;
    faceau_status st =
        fa_tracker_validate(r->tracker, q->vws, &q->defer[ds], &q->frame[k], &conf, &r->err);
    if (st)
        return st;
    int pass = fa_tracker_passes(r->tracker, conf);
    pthread_mutex_lock(&q->mu);
    q->confidence[ds] = conf;
    q->verdict[ds] = 1;
    pthread_cond_broadcast(&q->cv);
    if (!pass) {
        while (!q->failed_ready && !q->closed)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->failed_ready)
            q->face[k] = q->failed_face;
        else
            *stop = 1;
        q->failed_ready = 0;
    }
    pthread_mutex_unlock(&q->mu);
    if (pass) /* defer[ds] is not refilled before this thread has given the next verdict */
        fa_tracker_describe_passed(r->tracker, &q->defer[ds], conf, &q->frame[k], r->opt->camera,
                                   &q->face[k]);
    return FACEAU_OK;
}

static void *au_stage_main(void *arg)
{
    au_stage *q = arg;
    run_state *r = q->r;
    fa_csv_row *row = fa_malloc(sizeof *row, &r->err, "a CSV row");
    faceau_status st = row ? FACEAU_OK : FACEAU_ERR_NOMEM;
    int stop = 0;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!st && !q->n && !q->closed)
            pthread_cond_wait(&q->cv, &q->mu);
        if (st || stop || !q->n) {
            q->st = st;
            pthread_cond_broadcast(&q->cv);
            pthread_mutex_unlock(&q->mu);
            break;
        }
        int k = q->head;
        pthread_mutex_unlock(&q->mu);
        if (q->deferred[k])
            st = resolve_deferred(q, k, &stop);
        emit_state e = {row, 0, 0, 0};
        if (!st && !stop)
            st = emit_align(r, &q->frame[k], &q->face[k], &e);
        /* the frame back before the rest of the AU stage (most of it): the decoder converts the
         * next frame into its buffer, which lets 1080x1920 run with two frames in flight, not
         * three (source.c's FRAMES_BYTES) */
        fa_source_release(r->src);
        if (!st && !stop)
            st = emit_rest(r, &e);
        pthread_mutex_lock(&q->mu);
        q->head = (q->head + 1) % STAGE_QUEUE;
        q->n--;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
    free(row);
    return NULL;
}

/* Waits for room, then queues a tracked frame (deferred: its face is to be validated there,
 * from defer[dslot]); returns the AU stage's failure, if any. */
static faceau_status au_stage_push(au_stage *q, const faceau_frame *frame, const faceau_face *face,
                                   int deferred, int dslot)
{
    pthread_mutex_lock(&q->mu);
    while (!q->st && q->n == STAGE_QUEUE)
        pthread_cond_wait(&q->cv, &q->mu);
    faceau_status st = q->st;
    if (!st) {
        int k = (q->head + q->n) % STAGE_QUEUE;
        q->frame[k] = *frame;
        if (!deferred)
            q->face[k] = *face;
        q->deferred[k] = deferred;
        q->dslot[k] = dslot;
        q->n++;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

/* The verdict on the deferred frame in defer[ds]: applied to the tracker (after a failure the
 * frame is finished here and its face handed to the AU stage). *refit: the tracker's state
 * after the frame changed, so a fit made since assuming a pass must be made again. */
static faceau_status settle(au_stage *q, const faceau_frame *frame, int ds, int *refit, fa_err *err)
{
    run_state *r = q->r;
    *refit = 0;
    pthread_mutex_lock(&q->mu);
    while (!q->verdict[ds] && !q->st)
        pthread_cond_wait(&q->cv, &q->mu);
    faceau_status st = q->st;
    float conf = q->confidence[ds];
    pthread_mutex_unlock(&q->mu);
    if (st)
        return st;
    if (fa_tracker_passes(r->tracker, conf)) {
        fa_tracker_passed(r->tracker, conf);
        r->tracked_ok++;
        return FACEAU_OK;
    }
    faceau_face face;
    if ((st = fa_tracker_failed(r->tracker, &q->defer[ds], frame, r->opt->camera, conf, &face)))
        return fa_fail(err, st, "%s frame %ld: %s", r->opt->input, frame->index + 1,
                       faceau_tracker_last_error(r->tracker));
    r->tracked_ok += face.success != 0;
    pthread_mutex_lock(&q->mu);
    q->failed_face = face;
    q->failed_ready = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    *refit = 1;
    return FACEAU_OK;
}

static faceau_status read_all_pipelined(run_state *r)
{
    au_stage *q = fa_calloc(1, sizeof *q, &r->err, "the AU stage's queue");
    if (!q)
        return FACEAU_ERR_NOMEM;
    q->r = r;
    faceau_status st = fa_validator_ws_create(&q->vws, &r->err);
    size_t wf = fa_tracker_defer_floats(r->tracker);
    for (int k = 0; k < 2 && !st; k++)
        if (!(q->defer[k].warped = fa_malloc((wf ? wf : 1) * sizeof(float), &r->err,
                                             "the validator's warped crops")))
            st = FACEAU_ERR_NOMEM;
    if (st) {
        fa_validator_ws_free(q->vws);
        free(q->defer[0].warped);
        free(q->defer[1].warped);
        free(q);
        return st;
    }
    if (pthread_mutex_init(&q->mu, NULL) != 0 || pthread_cond_init(&q->cv, NULL) != 0 ||
        pthread_create(&q->thread, NULL, au_stage_main, q) != 0) {
        fa_validator_ws_free(q->vws);
        free(q->defer[0].warped);
        free(q->defer[1].warped);
        free(q); /* (a failed init leaves nothing to destroy on Linux) */
        return fa_fail(&r->err, FACEAU_ERR_NOMEM, "cannot start the AU stage's thread");
    }
    fa_err err; /* this thread's failures: r->err belongs to the AU stage until it is joined */
    fa_err_clear(&err);
    long read = 0;
    int pending = 0, pend_ds = 0, n_deferred = 0;
    faceau_frame pend_frame;
    for (;;) {
        faceau_frame frame;
        faceau_face face;
        int got = 0;
        if ((st = fa_run_read_frame(r->src, 1, read, &frame, &got, &r->truncated, &err)) || !got)
            break;
        read++;
        int fitted, fit_ok, refit = 0, deferred = 0;
        st = fa_tracker_fit(r->tracker, &frame, 0, &fitted, &fit_ok);
        if (!st && pending) {
            pending = 0;
            st = settle(q, &pend_frame, pend_ds, &refit, &err);
            if (!st && refit) /* fa_tracker_failed made the failed frame's grey again */
                st = fa_tracker_fit(r->tracker, &frame, 0, &fitted, &fit_ok);
        }
        int ds = n_deferred & 1;
        if (!st)
            st = fa_tracker_complete(r->tracker, &frame, r->opt->camera, fitted, fit_ok,
                                     &q->defer[ds], &deferred, &face);
        if (st) {
            if (!err.msg[0])
                fa_fail(&err, st, "%s frame %ld: %s", r->opt->input, frame.index + 1,
                        faceau_tracker_last_error(r->tracker));
            break;
        }
        if (deferred) {
            pthread_mutex_lock(&q->mu);
            q->verdict[ds] = 0;
            pthread_mutex_unlock(&q->mu);
            pending = 1, pend_ds = ds, pend_frame = frame;
            n_deferred++;
        } else {
            r->tracked_ok += face.success != 0;
        }
        if ((st = au_stage_push(q, &frame, &face, deferred, ds)))
            break;
    }
    if (!st && pending) {
        int refit;
        st = settle(q, &pend_frame, pend_ds, &refit, &err);
    }
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    if (q->st) /* the AU stage's own failure (also what stopped this loop) */
        st = q->st;
    else if (st)
        r->err = err;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    fa_validator_ws_free(q->vws);
    free(q->defer[0].warped);
    free(q->defer[1].warped);
    free(q);
    return st;
}

static faceau_status read_all(run_state *r)
{
    faceau_status st;
    if (r->tracker && fa_source_async(r->src)) {
        st = read_all_pipelined(r);
    } else {
        fa_csv_row *row = fa_malloc(sizeof *row, &r->err, "a CSV row");
        if (!row)
            return FACEAU_ERR_NOMEM;
        for (;;) {
            faceau_frame frame;
            int got = 0;
            if ((st = fa_run_read_frame(r->src, 0, r->frames, &frame, &got, &r->truncated, &r->err)) || !got)
                break;
            if ((st = process_frame(r, &frame, row)))
                break;
        }
        free(row);
    }
    if (!st && r->frames == 0)
        st = fa_fail(&r->err, FACEAU_ERR_NO_INPUT, "%s: no frames", r->opt->input);
    return st;
}

faceau_status fa_run_postprocess(faceau_au *au, faceau_au *dual, const faceau_run_options *o,
                                 const char *tmp, const char *tmp2, const char **final_tmp, fa_err *err)
{
    *final_tmp = tmp;
    size_t n = faceau_au_frame_count(au), n2 = n;
    if ((o->outputs && !(o->outputs & FACEAU_OUT_AUS)) || n == 0)
        return FACEAU_OK;
    const double *I, *P, *S = NULL, *SP; /* the analysers' own histories, post-processed in place */
    faceau_status st = fa_analyser_finish_in_place(au, &I, &P, &n);
    if (st)
        return fa_fail(err, st, "%s", faceau_au_last_error(au));
    if (dual && (st = fa_analyser_finish_in_place(dual, &S, &SP, &n2)))
        return fa_fail(err, st, "%s", faceau_au_last_error(dual));
    if (fa_analyser_online(au))
        return FACEAU_OK;
    *final_tmp = tmp2;
    return fa_csv_rewrite_aus_dual(tmp, tmp2, I, P, n2 == n ? S : NULL, n, o->full_precision ? 6 : 2, err);
}

faceau_status fa_run_add_dual(faceau_au *dual, const faceau_frame *frame, const float *lm, int success,
                              fa_csv_row *row, fa_err *err)
{
    faceau_au_result res;
    faceau_status st = faceau_au_add_frame(dual, frame, lm, success, &res);
    if (st)
        return fa_fail(err, st, "frame %ld (-au_dual's static models): %s", frame->index + 1,
                       faceau_au_last_error(dual));
    memcpy(row->au_r_static, res.au_intensity, sizeof row->au_r_static);
    return FACEAU_OK;
}

/* Applies OpenFace's end-of-video AU post-processing to the written CSV. */
static faceau_status postprocess(run_state *r, const char **final_tmp)
{
    return fa_run_postprocess(r->au, r->image_mode ? NULL : r->opt->dual_static, r->opt, r->csv_tmp,
                              r->csv_tmp2, final_tmp, &r->err);
}

static faceau_status finish_files(run_state *r)
{
    faceau_status st = fa_csv_writer_close(r->csv, &r->err);
    r->csv = NULL;
    if (r->hog) {
        int bad = fclose(r->hog) != 0;
        r->hog = NULL;
        if (!st && bad)
            st = fa_fail(&r->err, FACEAU_ERR_IO, "%s: write failed", r->hog_path);
    }
    const char *final_tmp = r->csv_tmp;
    if (!st)
        st = postprocess(r, &final_tmp);
    /* the CSV last: once it is in place every output is (faceau_run_batch's resume) */
    if (!st && r->opt->hogalign && rename(r->hog_tmp, r->hog_path) != 0)
        st = fa_fail(&r->err, FACEAU_ERR_IO, "%s: cannot rename into place: %s", r->hog_path,
                     strerror(errno));
    if (!st && rename(final_tmp, r->csv_path) != 0)
        st = fa_fail(&r->err, FACEAU_ERR_IO, "%s: cannot rename into place: %s", r->csv_path,
                     strerror(errno));
    return st;
}

static void cleanup(run_state *r)
{
    if (r->csv) {
        fa_err ignore;
        fa_csv_writer_close(r->csv, &ignore);
    }
    if (r->hog)
        fclose(r->hog);
    unlink(r->csv_tmp);
    unlink(r->csv_tmp2);
    unlink(r->hog_tmp);
    fa_csv_reader_close(r->lm);
    faceau_tracker_close(r->tracker);
    free(r->faces);
    faceau_source_close(r->src);
}

faceau_status faceau_run(faceau_au *au, const faceau_run_options *opt)
{
    if (!au)
        return FACEAU_ERR_INVALID_ARG;
    if (!opt || !opt->input || !opt->out_dir) {
        fa_analyser_set_error(au, FACEAU_ERR_INVALID_ARG,
                              !opt ? "faceau_run: opt is NULL" : !opt->input ? "faceau_run: no input"
                                                                  : "faceau_run: no out_dir");
        return FACEAU_ERR_INVALID_ARG;
    }
    const faceau_camera *cam = opt->camera;
    if (cam && !(cam->fx > 0 && cam->fy > 0 && cam->cx == cam->cx && cam->cy == cam->cy)) {
        fa_analyser_set_error(au, FACEAU_ERR_INVALID_ARG, "faceau_run: camera fx and fy must be positive");
        return FACEAU_ERR_INVALID_ARG;
    }
    run_state *r = calloc(1, sizeof *r);
    if (!r) {
        fa_analyser_set_error(au, FACEAU_ERR_NOMEM, "faceau_run: out of memory");
        return FACEAU_ERR_NOMEM;
    }
    r->au = au;
    r->opt = opt;
    r->image_mode = !opt->input_is_dir && fa_is_image_path(opt->input);
    faceau_au_reset(au);
    if (opt->dual_static)
        faceau_au_reset(opt->dual_static);
    faceau_status st = FACEAU_OK;
    if (r->image_mode && !fa_analyser_static(au))
        st = fa_fail(&r->err, FACEAU_ERR_INVALID_ARG,
                     "%s: still images need an AU analyser opened with FACEAU_AU_STATIC", opt->input);
    if (!st)
        st = open_all(r);
    if (!st)
        st = r->image_mode ? process_image(r) : read_all(r);
    if (!st)
        st = finish_files(r);
    if (!st)
        progress(r, 1);
    if (!st && r->tracker && !r->image_mode && r->tracked_ok == 0 && opt->warning) {
        char msg[4500];
        snprintf(msg, sizeof msg, "%s: no face found in any of its %ld frames; %s has only failed-frame rows",
                 opt->input, r->frames, r->csv_path);
        opt->warning(opt->progress_user, r->name, msg);
    }
    if (!st && r->truncated)
        st = fa_fail(&r->err, FACEAU_ERR_TRUNCATED, "%s; wrote the %ld frames before it",
                     faceau_source_last_error(r->src), r->frames);
    if (st)
        fa_analyser_set_error(au, st, r->err.msg);
    cleanup(r);
    free(r);
    return st;
}

/* ---- for the mirrored run (mirror_run.c), which writes the same rows for its two streams ---- */
void fa_run_row_from_face(const faceau_face *f, fa_csv_row *row)
{
    row_from_face(f, row);
}

faceau_status fa_run_make_dirs(const char *dir, fa_err *err)
{
    return make_dirs(dir, err);
}

faceau_status fa_run_write_bmp(const char *path, const uint8_t *bgr, int w, int h, fa_err *err)
{
    return write_bmp(path, bgr, w, h, err);
}

/* ---- shared by faceau_run and faceau_run_mirror ------------------------------------------- */
faceau_status fa_run_read_frame(faceau_source *src, int hold, long frames_so_far, faceau_frame *frame,
                                int *got, int *truncated, fa_err *err)
{
    *got = 0;
    faceau_status st = hold ? fa_source_acquire(src, frame, got) : faceau_source_read(src, frame, got);
    if (st == FACEAU_ERR_TRUNCATED && frames_so_far > 0) {
        *got = 0;
        *truncated = 1;
        return FACEAU_OK;
    }
    if (st)
        return fa_fail(err, st, "%s", faceau_source_last_error(src));
    return FACEAU_OK;
}

faceau_status fa_run_write_hog(FILE *f, const char *path, int success, const float *hog, fa_err *err)
{
    int32_t head[3] = {FA_HOG_CELLS, FA_HOG_CELLS, FA_HOG_CHANNELS};
    float valid = success ? 1.0f : -1.0f;
    if (fwrite(head, 4, 3, f) != 3 || fwrite(&valid, 4, 1, f) != 1 ||
        fwrite(hog, 4, FACEAU_HOG_SIZE, f) != FACEAU_HOG_SIZE)
        return fa_fail(err, FACEAU_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return FACEAU_OK;
}
