/* landmarker.c - the public landmark objects: OpenFace's CLNF model (landmarks/clnf.h) shared
 * read-only, and per-face trackers that drive it as FeatureExtraction (DetectLandmarksInVideo)
 * and FaceLandmarkImg (DetectLandmarksInImage on every MTCNN face) do, then describe the fit as
 * the recorder does: GetShape, GetPose, the eye parts' landmarks and EstimateGaze. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api.h"
#include "landmarks/clnf.h"
#include "landmarks/pose.h"

#define CLNF_MAIN "main_clnf_general.txt"
#define MAX_MTCNN_BOXES 256

struct faceau_landmarker {
    fa_clnf *clnf;
    fa_mtcnn_model *mtcnn; /* every tracker's (re-)detector runs on these weights */
    char dir[4096];        /* the model directory */
    int eye_part[2]; /* fa_clnf_part index of left_eye_28 and right_eye_28, -1 if absent */
    double load_ms;
};

struct faceau_tracker {
    const faceau_landmarker *lm;
    fa_clnf_face face;
    fa_grey grey;
    /* a tracked frame's grey is made where the fit reads it (a few percent of a large frame),
     * unless FACEAU_GREY_LAZY=0 (whole frames) or =poison (junk where nothing asked: the tests'
     * check that every reader asks) */
    fa_grey_lazy lazy;
    int lazy_ok;
    enum { GREY_LAZY, GREY_WHOLE, GREY_POISON } grey_mode;
    fa_mtcnn *mtcnn;
    faceau_box boxes[MAX_MTCNN_BOXES];
    fa_err err;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

faceau_status faceau_landmarker_open(const char *model_dir, faceau_landmarker **out, char *errbuf,
                                     size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!out)
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_landmarker_open: out is NULL"),
                             &err, errbuf, errbuf_size);
    *out = NULL;
    double t0 = now_ms();
    faceau_landmarker *lm = fa_calloc(1, sizeof *lm, &err, "the landmark model");
    if (!lm)
        return fa_err_to_buf(FACEAU_ERR_NOMEM, &err, errbuf, errbuf_size);
    char main_path[4200];
    faceau_status st = FACEAU_OK;
    struct stat sb;
    if (model_dir && stat(model_dir, &sb) == 0 && S_ISREG(sb.st_mode)) {
        /* -mloc names the main CLNF file itself: use it, and its directory for the rest */
        snprintf(main_path, sizeof main_path, "%s", model_dir);
        const char *slash = strrchr(model_dir, '/');
        if (!slash)
            snprintf(lm->dir, sizeof lm->dir, ".");
        else
            snprintf(lm->dir, sizeof lm->dir, "%.*s", (int)(slash - model_dir), model_dir);
        if (!lm->dir[0])
            snprintf(lm->dir, sizeof lm->dir, "/");
    } else {
        char msg[3584];
        st = fa_models_locate(model_dir, CLNF_MAIN, lm->dir, sizeof lm->dir, msg, sizeof msg);
        if (st)
            fa_fail(&err, st, "%s", msg);
        else
            st = fa_path_join(main_path, sizeof main_path, lm->dir, CLNF_MAIN, &err);
    }
    if (!st)
        st = fa_clnf_load(main_path, &lm->clnf, &err);
    if (!st)
        st = fa_mtcnn_model_load(lm->dir, &lm->mtcnn, &err);
    if (st) {
        faceau_landmarker_close(lm);
        return fa_err_to_buf(st, &err, errbuf, errbuf_size);
    }
    lm->eye_part[0] = lm->eye_part[1] = -1;
    for (int k = 0; k < fa_clnf_n_parts(lm->clnf); k++) {
        const char *name = fa_clnf_part(lm->clnf, k, NULL, NULL, NULL, NULL);
        if (name && !strcmp(name, "left_eye_28"))
            lm->eye_part[0] = k;
        else if (name && !strcmp(name, "right_eye_28"))
            lm->eye_part[1] = k;
    }
    lm->load_ms = now_ms() - t0;
    *out = lm;
    return FACEAU_OK;
}

void faceau_landmarker_close(faceau_landmarker *lm)
{
    if (!lm)
        return;
    fa_clnf_free(lm->clnf);
    fa_mtcnn_model_free(lm->mtcnn);
    free(lm);
}

double faceau_landmarker_load_ms(const faceau_landmarker *lm)
{
    return lm ? lm->load_ms : 0;
}

faceau_status faceau_tracker_open(const faceau_landmarker *lm, faceau_tracker **out, char *errbuf,
                                  size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (!out || !lm)
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_tracker_open: %s is NULL",
                                     !out ? "out" : "lm"),
                             &err, errbuf, errbuf_size);
    *out = NULL;
    faceau_tracker *t = fa_calloc(1, sizeof *t, &err, "the landmark tracker");
    if (!t)
        return fa_err_to_buf(FACEAU_ERR_NOMEM, &err, errbuf, errbuf_size);
    t->lm = lm;
    faceau_status st = fa_clnf_face_init(&t->face, &err);
    if (!st)
        st = fa_mtcnn_create(lm->mtcnn, &t->mtcnn, &err);
    if (!st && !(st = fa_grey_lazy_init(&t->lazy, &err)))
        t->lazy_ok = 1;
    const char *mode = getenv("FACEAU_GREY_LAZY");
    t->grey_mode = mode && !strcmp(mode, "0")        ? GREY_WHOLE
                   : mode && !strcmp(mode, "poison") ? GREY_POISON
                                                     : GREY_LAZY;
    if (st) {
        faceau_tracker_close(t);
        return fa_err_to_buf(st, &err, errbuf, errbuf_size);
    }
    *out = t;
    return FACEAU_OK;
}

void faceau_tracker_close(faceau_tracker *t)
{
    if (!t)
        return;
    fa_clnf_face_free(&t->face);
    fa_grey_free(&t->grey);
    if (t->lazy_ok)
        fa_grey_lazy_free(&t->lazy);
    fa_mtcnn_free(t->mtcnn);
    free(t);
}

faceau_status faceau_tracker_set_threads(faceau_tracker *t, int threads)
{
    if (!t)
        return FACEAU_ERR_INVALID_ARG;
    fa_err_clear(&t->err);
    if (threads < 1 || threads > FA_MTCNN_MAX_THREADS)
        return fa_fail(&t->err, FACEAU_ERR_INVALID_ARG, "faceau_tracker_set_threads: %d threads (1..%d)",
                       threads, FA_MTCNN_MAX_THREADS);
    faceau_status st = fa_clnf_face_set_threads(&t->face, threads, &t->err);
    if (!st)
        st = fa_mtcnn_set_threads(t->mtcnn, threads, &t->err);
    return st;
}

const char *faceau_tracker_last_error(const faceau_tracker *t)
{
    return t ? t->err.msg : "no tracker";
}

void faceau_tracker_reset(faceau_tracker *t)
{
    if (t)
        fa_clnf_face_reset(&t->face);
}

faceau_camera faceau_default_camera(int width, int height)
{
    float k[4];
    faceau_default_intrinsics(width, height, k);
    faceau_camera c = {k[0], k[1], k[2], k[3]};
    return c;
}

static faceau_status check_frame(faceau_tracker *t, const char *fn, const faceau_frame *frame,
                                 const void *out)
{
    if (!frame || !out)
        return fa_fail(&t->err, FACEAU_ERR_INVALID_ARG, "%s: %s is NULL", fn, !frame ? "frame" : "out");
    if (!frame->bgr || frame->width <= 0 || frame->height <= 0 || frame->stride < 3 * frame->width)
        return fa_fail(&t->err, FACEAU_ERR_INVALID_ARG, "%s: bad frame (%dx%d, stride %d)", fn,
                       frame->width, frame->height, frame->stride);
    return FACEAU_OK;
}

/* What the recorder writes from the fitted face: landmarks, parameters, GetShape, GetPose, the
 * eye parts' landmarks (2D and GetShape), and EstimateGaze when `gaze` (else zeros, as
 * FeatureExtraction writes them for a failed frame). */
static void describe(const faceau_landmarker *lm, const fa_clnf_face *f, const fa_camera *cam,
                     int gaze, faceau_face *out)
{
    const fa_pdm *pdm = fa_clnf_pdm(lm->clnf);
    memset(out, 0, sizeof *out);
    out->confidence = f->confidence;
    memcpy(out->landmarks, f->landmarks, sizeof out->landmarks);
    memcpy(out->params_global, f->g, sizeof out->params_global);
    memcpy(out->params_local, f->p, sizeof out->params_local);
    fa_clnf_shape3d_camera(pdm, f->g, f->p, f->landmarks, cam, out->landmarks_3d);
    fa_clnf_pose(pdm, f->g, f->p, f->landmarks, cam, out->pose);
    if (lm->eye_part[0] < 0 || lm->eye_part[1] < 0)
        return;
    fa_part_view parts[2];
    for (int e = 0; e < 2; e++) {
        int k = lm->eye_part[e];
        fa_clnf_part(lm->clnf, k, &parts[e].pdm, NULL, NULL, NULL);
        parts[e].g = f->part_g[k];
        parts[e].p_local = f->part_p[k];
        parts[e].lmk2d = f->part_landmarks[k];
    }
    fa_eye_landmarks(parts, 2, cam, out->eye_landmarks, out->eye_landmarks_3d);
    if (gaze) {
        /* the 56-point layout: coordinate k of eye point i at k * 56 + i, right eye at +28 */
        fa_gaze_estimate(out->eye_landmarks_3d, FACEAU_N_EYE_LANDMARKS, out->landmarks_3d,
                         out->pose + 3, 1, out->gaze_0);
        fa_gaze_estimate(out->eye_landmarks_3d + FACEAU_N_EYE_LANDMARKS / 2,
                         FACEAU_N_EYE_LANDMARKS, out->landmarks_3d, out->pose + 3, 0, out->gaze_1);
        fa_gaze_angle(out->gaze_0, out->gaze_1, out->gaze_angle);
    }
}

static fa_camera camera_of(const faceau_camera *camera, const faceau_frame *frame)
{
    faceau_camera c = camera ? *camera : faceau_default_camera(frame->width, frame->height);
    fa_camera fc = {c.fx, c.fy, c.cx, c.cy};
    return fc;
}

/* A tracked frame's result; FeatureExtraction gives gaze only when DetectLandmarksInVideo
 * succeeded. */
static void describe_tracked(const faceau_tracker *t, const fa_clnf_face *f, const faceau_frame *frame,
                             const faceau_camera *camera, int ok, faceau_face *out)
{
    fa_camera cam = camera_of(camera, frame);
    describe(t->lm, f, &cam, ok, out);
    out->success = ok;
    out->valid = f->detection_success;
}

/* Makes the grey around the face's last landmarks, 1.5 times the face's size, before the fit: its
 * response batches split the landmarks over the face's threads, which would otherwise contend
 * for the first touch of every tile (each wait a sleep and a wake-up). What the fit reads
 * outside is still made when asked for. */
static void grey_premake(faceau_tracker *t)
{
    const int n = fa_clnf_pdm(t->lm->clnf)->n;
    const float *lm = t->face.landmarks;
    if (!t->face.tracking_initialised || n < 1)
        return;
    float x0 = lm[0], x1 = lm[0], y0 = lm[n], y1 = lm[n];
    for (int i = 1; i < n; i++) {
        x0 = fminf(x0, lm[i]), x1 = fmaxf(x1, lm[i]);
        y0 = fminf(y0, lm[n + i]), y1 = fmaxf(y1, lm[n + i]);
    }
    const double mx = 0.25 * (double)(x1 - x0), my = 0.25 * (double)(y1 - y0);
    fa_grey_need(&t->grey, x0 - mx, y0 - my, x1 + mx, y1 + my); /* NaNs: fa_pixel_need's edges */
}

/* Starts a tracked frame's grey (see grey_mode). */
static faceau_status grey_begin(faceau_tracker *t, const fa_image *img)
{
    if (t->grey_mode == GREY_WHOLE)
        return fa_grey_from_bgr(img, &t->grey, &t->err);
    faceau_status st = fa_grey_lazy_begin(&t->lazy, img, &t->grey, fa_cpu_features(), &t->err);
    if (st)
        return st;
    if (t->grey_mode == GREY_POISON) /* and nothing made ahead: every reader must ask */
        memset(t->grey.px, 0x5a, (size_t)t->grey.stride * (size_t)t->grey.height);
    else
        grey_premake(t);
    return FACEAU_OK;
}

faceau_status faceau_track(faceau_tracker *t, const faceau_frame *frame, const faceau_camera *camera,
                           faceau_face *out)
{
    if (!t)
        return FACEAU_ERR_INVALID_ARG;
    faceau_status st = check_frame(t, "faceau_track", frame, out);
    if (st)
        return st;
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    int ok = 0;
    if ((st = grey_begin(t, &img)) ||
        (st = fa_clnf_track_video(t->lm->clnf, &t->face, t->mtcnn, &img, &t->grey, &ok, &t->err)))
        return st;
    describe_tracked(t, &t->face, frame, camera, ok, out);
    return FACEAU_OK;
}

faceau_status fa_tracker_track_grey(faceau_tracker *t, const faceau_frame *frame, const fa_grey *grey,
                                   const faceau_camera *camera, faceau_face *out)
{
    faceau_status st = check_frame(t, "fa_tracker_track_grey", frame, out);
    if (st)
        return st;
    if (grey->width != frame->width || grey->height != frame->height)
        return fa_fail(&t->err, FACEAU_ERR_INVALID_ARG, "fa_tracker_track_grey: grey %dx%d for a %dx%d frame",
                       grey->width, grey->height, frame->width, frame->height);
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    int ok = 0;
    if ((st = fa_clnf_track_video(t->lm->clnf, &t->face, t->mtcnn, &img, grey, &ok, &t->err)))
        return st;
    describe_tracked(t, &t->face, frame, camera, ok, out);
    return FACEAU_OK;
}

faceau_status faceau_fit_image(faceau_tracker *t, const faceau_frame *frame, const faceau_camera *camera,
                               faceau_face *faces, int max_faces, int *n)
{
    if (n)
        *n = 0;
    if (!t)
        return FACEAU_ERR_INVALID_ARG;
    if (!n || max_faces < 0 || (max_faces > 0 && !faces))
        return fa_fail(&t->err, FACEAU_ERR_INVALID_ARG, "faceau_fit_image: %s",
                       !n ? "n is NULL" : max_faces < 0 ? "max_faces is negative" : "faces is NULL");
    faceau_status st = check_frame(t, "faceau_fit_image", frame, n);
    if (st)
        return st;
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    int nb = 0;
    if ((st = fa_grey_from_bgr(&img, &t->grey, &t->err)) ||
        (st = fa_mtcnn_detect(t->mtcnn, &img, t->boxes, MAX_MTCNN_BOXES, &nb, &t->err)))
        return st;
    fa_camera cam = camera_of(camera, frame);
    int written = 0;
    for (int k = 0; k < nb && written < max_faces; k++) {
        float box[4] = {t->boxes[k].x, t->boxes[k].y, t->boxes[k].width, t->boxes[k].height};
        int ok = 0;
        fa_clnf_face_reset(&t->face);
        /* FaceLandmarkImg's default parameters: multi_view off (one hypothesis) */
        if ((st = fa_clnf_detect_image(t->lm->clnf, &t->face, &t->grey, box, 0, &ok, &t->err)))
            break;
        /* FaceLandmarkImg: gaze for every face; success is the validator's verdict */
        describe(t->lm, &t->face, &cam, 1, &faces[written]);
        faces[written].success = faces[written].valid = t->face.detection_success;
        faces[written].box = t->boxes[k];
        written++;
    }
    fa_clnf_face_reset(&t->face);
    *n = written;
    return st;
}

/* ---- a tracked frame validated later (api.h) ------------------------------------------------ */

size_t fa_tracker_defer_floats(const faceau_tracker *t)
{
    return fa_clnf_validator_floats(t->lm->clnf);
}

faceau_status fa_tracker_fit(faceau_tracker *t, const faceau_frame *frame, int grey_ready,
                             int *fitted, int *fit_ok)
{
    *fitted = *fit_ok = 0;
    faceau_status st = check_frame(t, "fa_tracker_fit", frame, fitted);
    if (st)
        return st;
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    if (!grey_ready && (st = grey_begin(t, &img)))
        return st;
    if (!t->face.tracking_initialised)
        return FACEAU_OK;
    *fitted = 1;
    return fa_clnf_track_fit(t->lm->clnf, &t->face, &t->grey, fit_ok, &t->err);
}

faceau_status fa_tracker_complete(faceau_tracker *t, const faceau_frame *frame,
                                  const faceau_camera *camera, int fitted, int fit_ok,
                                  fa_track_defer *d, int *deferred, faceau_face *out)
{
    *deferred = 0;
    const fa_clnf *m = t->lm->clnf;
    faceau_status st;
    if (fitted && fa_clnf_fit_needs_validator(m, fit_ok)) {
        d->snap = t->face;
        d->fit_ok = fit_ok;
        /* the next frame's windows as after a success; fa_tracker_failed undoes it */
        t->face.detection_success = 1;
        *deferred = 1;
        return FACEAU_OK;
    }
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    int ok = 0;
    st = fitted ? fa_clnf_track_finish(m, &t->face, t->mtcnn, &img, &t->grey, fit_ok, 0, &ok,
                                       &t->err)
                : fa_clnf_track_video(m, &t->face, t->mtcnn, &img, &t->grey, &ok, &t->err);
    if (st)
        return st;
    describe_tracked(t, &t->face, frame, camera, ok, out);
    return FACEAU_OK;
}

faceau_status fa_tracker_validate(const faceau_tracker *t, fa_validator_ws *ws, fa_track_defer *d,
                                  const faceau_frame *frame, float *confidence, fa_err *err)
{
    const fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    faceau_status st = fa_clnf_validate_warp_bgr(t->lm->clnf, ws, &d->snap, &img, &d->view,
                                                 d->warped, &d->empty, err);
    return st ? st
              : fa_clnf_validate_cnn(t->lm->clnf, ws, d->view, d->warped, d->empty, confidence, err);
}

int fa_tracker_passes(const faceau_tracker *t, float confidence)
{
    return confidence > fa_clnf_main_params(t->lm->clnf)->validation_boundary;
}

void fa_tracker_describe_passed(const faceau_tracker *t, const fa_track_defer *d, float confidence,
                                const faceau_frame *frame, const faceau_camera *camera,
                                faceau_face *out)
{
    /* fa_clnf_track_finish after a pass: the confidence, success, no failures, nothing else */
    fa_clnf_face f = d->snap;
    f.confidence = confidence;
    f.detection_success = 1;
    f.failures_in_a_row = -1;
    describe_tracked(t, &f, frame, camera, 1, out);
}

void fa_tracker_passed(faceau_tracker *t, float confidence)
{
    t->face.confidence = confidence;
    t->face.detection_success = 1;
    t->face.failures_in_a_row = -1;
}

faceau_status fa_tracker_failed(faceau_tracker *t, const fa_track_defer *d, const faceau_frame *frame,
                                const faceau_camera *camera, float confidence, faceau_face *out)
{
    t->face = d->snap;
    fa_image img = {frame->width, frame->height, frame->stride, (uint8_t *)frame->bgr};
    int ok = 0;
    /* the failure path may re-detect on this frame's grey, which the next fit has replaced */
    faceau_status st = fa_grey_from_bgr(&img, &t->grey, &t->err);
    if (!st)
        st = fa_clnf_track_finish(t->lm->clnf, &t->face, t->mtcnn, &img, &t->grey, d->fit_ok,
                                  confidence, &ok, &t->err);
    if (st)
        return st;
    describe_tracked(t, &t->face, frame, camera, ok, out);
    return FACEAU_OK;
}
