/* faceau.h - facial Action Units, head pose, gaze and landmarks, reproducing OpenFace 2.2.
 *
 * OVERVIEW
 *
 *   faceau is a C11 library that computes what OpenFace 2.2's FeatureExtraction (videos, image
 *   sequences) and FaceLandmarkImg (still images) compute, number for number, from pixels:
 *   frame input (video through FFmpeg, images, image directories) decoded to the BGR pixels
 *   OpenCV gives OpenFace; OpenFace's MTCNN face detector; its CLNF landmark tracker (68 points,
 *   confidence, success, PDM parameters, with MTCNN re-detection on OpenFace's schedule); 3D
 *   landmarks, head pose, eye landmarks and gaze; and the AU stage (112x112 aligned face, FHOG,
 *   person-specific running medians, 17 AU intensities and 18 presences, OpenFace's offline
 *   post-processing of the whole video); and OpenFace's CSV format.
 *
 *   The library needs OpenFace's model files (see faceau_models_locate): they are OpenFace's,
 *   under OpenFace's licence, and are never bundled.
 *
 * OBJECTS
 *
 *   faceau_landmarker  OpenFace's CLNF landmark model and MTCNN detector weights, read-only once
 *                  loaded: open once, share between trackers and threads.
 *   faceau_tracker one face tracked through a video on such a model (its state, its grey image
 *                  and its detector workspace); also fits every face of a still image.
 *   faceau_au_models  OpenFace's AU models, read-only once loaded: open once, share between
 *                  analysers and threads.
 *   faceau_au      one person's AU analysis on such models: running medians and the per-frame
 *                  history needed by the offline post-processing. One per video (per face).
 *   faceau_source  a video file, an image, or a directory of images, frame by frame.
 *   faceau_detector  OpenFace's MTCNN face detector and its workspace.
 *
 *   All are opaque; create them with *_open and free them with *_close. Buffers passed in are
 *   the caller's and are never kept; buffers handed out (faceau_frame.bgr) belong to the object
 *   that handed them out and stay valid until its next call.
 *
 * ERRORS (the contract every call keeps; the rest of this header does not repeat it)
 *
 *   - Every fallible call returns a faceau_status; FACEAU_OK is 0.
 *   - On failure it always leaves one line saying what went wrong (naming the file or input and
 *     the problem): calls that create something (faceau_*_open, faceau_models_locate,
 *     faceau_write_boxes_png) in the caller's errbuf (errbuf_size bytes, always NUL-terminated;
 *     errbuf may be NULL to ignore it), calls on an object in that object's *_last_error(),
 *     which stays valid until the object's next failing call or its close.
 *   - A NULL or out-of-range argument is FACEAU_ERR_INVALID_ARG with a message naming it, like
 *     any other failure. The one exception: a NULL object itself, which has nowhere to keep a
 *     message (its *_last_error(NULL) returns a fixed text).
 *   - On failure, *out parameters of *_open are set to NULL; nothing is left to free.
 *   - faceau never writes to stdout or stderr itself (faceau_run reports progress and warnings
 *     through faceau_run_options.progress and .warning), never changes the process locale, and
 *     reads and writes numbers with '.' whatever LC_NUMERIC the host has set. FFmpeg's own log
 *     (av_log) is the host's to configure.
 *   - Objects are not thread-safe, except faceau_au_models and faceau_landmarker, which are
 *     read-only once open: any number of analysers / trackers on any threads may share one.
 *     Different objects may be used on different threads at once.
 *
 * EXAMPLE (the whole pipeline, pixels to AUs, for one face in a video)
 *
 *   char err[512];
 *   faceau_landmarker *lm;                      // NULL: search FACEAU_MODELS, user data dir, prefix
 *   if (faceau_landmarker_open(NULL, &lm, err, sizeof err) != FACEAU_OK) { fprintf(stderr, "%s\n", err); exit(1); }
 *   faceau_tracker *tr;
 *   if (faceau_tracker_open(lm, &tr, err, sizeof err) != FACEAU_OK) { ... }
 *   faceau_config cfg = faceau_default_config(); // dynamic AU models, as FeatureExtraction
 *   faceau_au *au;                              // faceau_au_open_with() shares loaded models
 *   if (faceau_au_open(&cfg, &au, err, sizeof err) != FACEAU_OK) { ... }
 *
 *   faceau_source *src;
 *   if (faceau_source_open("video.avi", &src, err, sizeof err) != FACEAU_OK) { ... }
 *   faceau_frame frame;
 *   int got;
 *   while (faceau_source_read(src, &frame, &got) == FACEAU_OK && got) {
 *       faceau_face face;                       // landmarks, pose, gaze, parameters
 *       if (faceau_track(tr, &frame, NULL, &face) != FACEAU_OK) { fprintf(stderr, "%s\n", faceau_tracker_last_error(tr)); break; }
 *       faceau_au_result r;
 *       faceau_au_add_frame(au, &frame, face.landmarks, face.valid, &r);
 *       printf("success %d  yaw %.3f rad  gaze x %.3f  AU12 %.2f\n", face.success, face.pose[4],
 *              face.gaze_angle[0], r.au_intensity[8]);
 *   }
 *   size_t n = faceau_au_frame_count(au);
 *   double *I = malloc(n * FACEAU_N_AU_INTENSITY * sizeof *I), *P = malloc(n * FACEAU_N_AU_PRESENCE * sizeof *P);
 *   faceau_au_finish(au, I, P, n);             // OpenFace's offline post-processing
 *   faceau_source_close(src);
 *   faceau_au_close(au);
 *   faceau_tracker_close(tr);
 *   faceau_landmarker_close(lm);
 *
 *   Still images: faceau_fit_image(tr, &frame, NULL, faces, max, &n) fits every face, and an
 *   analyser opened with cfg.au_mode = FACEAU_AU_STATIC gives their AUs. The whole
 *   FeatureExtraction / FaceLandmarkImg run (input -> OpenFace CSV) is faceau_run().
 */
#ifndef FACEAU_H
#define FACEAU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FACEAU_API marks the public functions, the only symbols libfaceau.so exports (the library is
 * built with hidden visibility, so its internals stay out of bindings' way). The build defines
 * FACEAU_BUILD; users define nothing, except FACEAU_SHARED when linking the Windows DLL (as
 * ggml's GGML_BUILD / GGML_SHARED). */
#if defined(_WIN32)
#if defined(FACEAU_BUILD)
#define FACEAU_API __declspec(dllexport)
#elif defined(FACEAU_SHARED)
#define FACEAU_API __declspec(dllimport)
#else
#define FACEAU_API
#endif
#elif defined(FACEAU_BUILD)
#define FACEAU_API __attribute__((visibility("default")))
#else
#define FACEAU_API
#endif

/* The version of this header: FACEAU_VERSION_NUMBER is major * 1000000 + minor * 1000 + patch
 * (as SQLite's), so bindings and programs can compare it with what the library they loaded
 * says, faceau_version_number(). A binding written for X.Y needs the same major and a minor
 * at least Y. */
#define FACEAU_VERSION "0.1.0"
#define FACEAU_VERSION_NUMBER 1000

/* ---- status ----------------------------------------------------------------------------- */
/* Values only grow at the end; existing values never change. */
typedef enum faceau_status {
    FACEAU_OK = 0,
    FACEAU_ERR_INVALID_ARG,     /* a NULL pointer, a size out of range, a bad option */
    FACEAU_ERR_NOMEM,           /* an allocation failed */
    FACEAU_ERR_IO,              /* a file could not be opened, read or written */
    FACEAU_ERR_MODEL_NOT_FOUND, /* no model directory found in any searched place */
    FACEAU_ERR_MODEL_CORRUPT,   /* a model file is truncated or malformed */
    FACEAU_ERR_VIDEO,           /* not a video, or no decodable video stream */
    FACEAU_ERR_IMAGE,           /* not an image, or a corrupt or truncated one */
    FACEAU_ERR_CSV,             /* a landmarks CSV lacks columns or rows */
    FACEAU_ERR_NO_INPUT,        /* an empty image directory, or no input given */
    FACEAU_ERR_TRUNCATED,       /* input ended early; what came before it is valid */
    FACEAU_ERR_STATE,           /* a call out of order (e.g. a frame after faceau_au_finish) */
    FACEAU_ERR_NO_FACE,         /* a still image in which no face was found */
    FACEAU_ERR_INPUT_FAILED     /* faceau_run_batch: some inputs failed (the others are done) */
} faceau_status;

FACEAU_API const char *faceau_status_string(faceau_status status);
FACEAU_API const char *faceau_version(void);
/* FACEAU_VERSION_NUMBER of the library as built (which may differ from the header in use). */
FACEAU_API int faceau_version_number(void);

/* ---- constants -------------------------------------------------------------------------- */
enum {
    FACEAU_N_LANDMARKS = 68,
    FACEAU_N_PARAMS_LOCAL = 34,
    FACEAU_N_AU_INTENSITY = 17, /* AU01 AU02 AU04 AU05 AU06 AU07 AU09 AU10 AU12 AU14 AU15 AU17 AU20 AU23 AU25 AU26 AU45 */
    FACEAU_N_AU_PRESENCE = 18,  /* the same and AU28, in name order */
    FACEAU_ALIGNED_SIZE = 112,
    FACEAU_HOG_SIZE = 4464      /* 12 x 12 cells x 31 channels */
};

/* "AU01" ... in the order of faceau_au_result's arrays (OpenFace's sorted name order). */
FACEAU_API const char *faceau_au_intensity_name(int i);
FACEAU_API const char *faceau_au_presence_name(int i);

/* ---- models ----------------------------------------------------------------------------- */
/* Finds OpenFace's model directory. Order: hint (-mloc: a directory, or a file such as
 * main_clnf_general.txt whose directory is used), $FACEAU_MODELS, $XDG_DATA_HOME/faceau/models
 * (default ~/.local/share/faceau/models), <install prefix>/share/faceau/models. A directory
 * qualifies when it holds AU_predictors/main_dynamic_svms.txt. On failure errbuf names every
 * place tried and how to install the models. */
FACEAU_API faceau_status faceau_models_locate(const char *hint, char *dir, size_t dir_size,
                                              char *errbuf, size_t errbuf_size);

/* ---- AU analyser ------------------------------------------------------------------------ */
/* faceau_au_models: OpenFace's AU models, PDM and triangulation, read-only once loaded, so one
 * set serves any number of analysers on any threads. faceau_au: one person's AU analysis
 * (running medians, per-frame history, the last frame's features); one per face being tracked,
 * used by one thread at a time. */
typedef struct faceau_au_models faceau_au_models;
typedef struct faceau_au faceau_au;

typedef enum faceau_au_mode {
    FACEAU_AU_DYNAMIC = 0, /* FeatureExtraction on a video: person-specific medians + post-processing */
    FACEAU_AU_STATIC = 1,  /* still images (FaceLandmarkImg): static models, clamped, no medians */
    FACEAU_AU_VIDEO_STATIC = 2 /* video with static models only (FeatureExtraction -au_static):
                                  no person calibration; clamping and smoothing at the end */
} faceau_au_mode;

typedef struct faceau_config {
    const char *model_dir; /* -mloc; NULL searches the default places */
    faceau_au_mode au_mode;
    int online;            /* 1: OpenFace's live per-frame correction, no offline post-processing */
} faceau_config;

FACEAU_API faceau_config faceau_default_config(void);

/* Loads the AU models for cfg->model_dir and cfg->au_mode (the dynamic models for
 * FACEAU_AU_DYNAMIC, the static ones otherwise); cfg NULL = faceau_default_config(). */
FACEAU_API faceau_status faceau_au_models_open(const faceau_config *cfg, faceau_au_models **out,
                                               char *errbuf, size_t errbuf_size);
FACEAU_API void faceau_au_models_close(faceau_au_models *models);
/* Milliseconds spent loading them. */
FACEAU_API double faceau_au_models_load_ms(const faceau_au_models *models);

/* An analyser with its own models (loaded as faceau_au_models_open would). */
FACEAU_API faceau_status faceau_au_open(const faceau_config *cfg, faceau_au **out, char *errbuf,
                                        size_t errbuf_size);
/* An analyser on shared models, which must outlive it; cfg->au_mode must be one the models
 * were opened for (dynamic, or one of the two static modes). */
FACEAU_API faceau_status faceau_au_open_with(const faceau_au_models *models,
                                             const faceau_config *cfg, faceau_au **out,
                                             char *errbuf, size_t errbuf_size);
FACEAU_API void faceau_au_close(faceau_au *au);
/* The last failure's message for this analyser ("" if none). */
FACEAU_API const char *faceau_au_last_error(const faceau_au *au);
/* Milliseconds its models took to load. */
FACEAU_API double faceau_au_model_load_ms(const faceau_au *au);

/* ---- frames ----------------------------------------------------------------------------- */
typedef struct faceau_frame {
    int width, height;
    int stride;                 /* bytes per row */
    const unsigned char *bgr;   /* 8-bit B,G,R per pixel, OpenCV's order */
    double timestamp;           /* seconds, as OpenFace derives it */
    long index;                 /* 0-based frame number in the source */
} faceau_frame;

typedef struct faceau_source faceau_source;

/* A video file, a single image (.jpg .jpeg .png .bmp), or a directory of images (name order). */
FACEAU_API faceau_status faceau_source_open(const char *path, faceau_source **out, char *errbuf,
                                            size_t errbuf_size);
/* The same on `threads` threads: 1 decodes on the caller's thread, in faceau_source_read; N > 1
 * decodes ahead on a thread of its own, FFmpeg's decoder using N - 1 threads (that one among
 * them; at least one); 0 = one per core.
 * The frames are the same whatever the count. */
FACEAU_API faceau_status faceau_source_open_threads(const char *path, int threads,
                                                    faceau_source **out, char *errbuf,
                                                    size_t errbuf_size);
/* Reads the next frame into *frame (its pixels belong to src until the next call). *got is 0 at
 * the end. FACEAU_ERR_TRUNCATED: the input broke off; the frames read before it are valid. */
FACEAU_API faceau_status faceau_source_read(faceau_source *src, faceau_frame *frame, int *got);
FACEAU_API const char *faceau_source_last_error(const faceau_source *src);
FACEAU_API void faceau_source_close(faceau_source *src);
/* The image file the last frame read came from (NULL for video). */
FACEAU_API const char *faceau_source_frame_path(const faceau_source *src);
/* Frames per second as OpenFace uses it (30 when the file does not say); 0 for images. */
FACEAU_API double faceau_source_fps(const faceau_source *src);
/* Default camera intrinsics OpenFace derives from the frame size (fx, fy, cx, cy). */
FACEAU_API void faceau_default_intrinsics(int width, int height, float out_fx_fy_cx_cy[4]);

/* The largest frame faceau accepts, from images and videos alike: checked against the size an
 * image's header or a video's stream declares, before any frame buffer is allocated (and held
 * to by FFmpeg's decoder for every frame after). A larger input fails with FACEAU_ERR_IMAGE or
 * FACEAU_ERR_VIDEO and one line naming the file, its size and the limit. The defaults take
 * the largest phone photo (200 MP); a frame costs 3 bytes a pixel, so 600 MB at the limit. */
#define FACEAU_MAX_FRAME_SIDE 30000
#define FACEAU_MAX_FRAME_PIXELS 200000000LL
typedef struct faceau_frame_limits {
    int max_width, max_height; /* pixels; <= 0: FACEAU_MAX_FRAME_SIDE */
    long long max_pixels;      /* width * height; <= 0: FACEAU_MAX_FRAME_PIXELS */
} faceau_frame_limits;
/* The defaults above. */
FACEAU_API faceau_frame_limits faceau_default_frame_limits(void);
/* faceau_source_open_threads with other frame limits (NULL: the defaults). Decoding ahead holds
 * at most 64 MB of frames beyond those the caller is using and the one it waits for. */
FACEAU_API faceau_status faceau_source_open_limits(const char *path, int threads,
                                                   const faceau_frame_limits *limits,
                                                   faceau_source **out, char *errbuf,
                                                   size_t errbuf_size);

/* ---- AU stage --------------------------------------------------------------------------- */
typedef struct faceau_au_result {
    int success;
    float params_global[6];                    /* scale, rx, ry, rz, tx, ty (PDM CalcParams) */
    float params_local[FACEAU_N_PARAMS_LOCAL]; /* p_0 .. p_33 */
    double au_intensity[FACEAU_N_AU_INTENSITY];
    double au_presence[FACEAU_N_AU_PRESENCE];  /* 0 or 1 */
} faceau_au_result;

/* Runs the AU stage on one frame: landmarks are x0..x67 then y0..y67 in frame pixels; success
 * is the landmark tracker's verdict (0: the frame counts as failed, AUs are 0). */
FACEAU_API faceau_status faceau_au_add_frame(faceau_au *au, const faceau_frame *frame,
                                             const float landmarks[2 * FACEAU_N_LANDMARKS],
                                             int success, faceau_au_result *out);
/* The last frame's aligned face (112*112*3 BGR bytes, row-major) and HOG (4464 floats, cell
 * row, cell column, channel), copied into caller buffers. Either pointer may be NULL. */
FACEAU_API faceau_status faceau_au_last_features(const faceau_au *au, unsigned char *aligned_bgr,
                                                 float *hog);
/* The frames faceau_au_finish will post-process: every frame added since open/reset in the
 * (default) offline dynamic mode; 0 in online and static modes, where the values
 * faceau_au_add_frame returns are final and nothing is kept, so memory stays constant however
 * long the input. */
FACEAU_API size_t faceau_au_frame_count(const faceau_au *au);
/* OpenFace's end-of-video post-processing over every frame added since open/reset: writes
 * n x 17 intensities and n x 18 presences (row = frame), n == faceau_au_frame_count() (so 0,
 * with buffers that may be NULL, in online and static modes). */
FACEAU_API faceau_status faceau_au_finish(faceau_au *au, double *intensity, double *presence,
                                          size_t n);
/* Forgets the person: medians and history start again (next video). */
FACEAU_API void faceau_au_reset(faceau_au *au);

/* ---- face detection --------------------------------------------------------------------- */
/* OpenFace's MTCNN face detector (min face 60 px, thresholds 0.6/0.7/0.7), giving OpenFace's
 * boxes: after its final correction, the box it hands to landmark fitting. */
typedef struct faceau_detector faceau_detector;

typedef struct faceau_box {
    float x, y, width, height; /* pixels */
    float confidence;          /* ONet's face probability */
} faceau_box;

/* Loads OpenFace's MTCNN weights (mtcnn_detector/ in the model directory, found as for
 * faceau_models_locate; model_dir may be NULL). threads: 1 or more (results do not depend on
 * it). */
FACEAU_API faceau_status faceau_detector_open(const char *model_dir, int threads,
                                              faceau_detector **out, char *errbuf,
                                              size_t errbuf_size);
FACEAU_API void faceau_detector_close(faceau_detector *d);
FACEAU_API const char *faceau_detector_last_error(const faceau_detector *d);
/* All faces in a frame, best first: up to max_boxes written, *n of them. A frame smaller than
 * the 60-px minimum face gives none. One detector must not be used by two threads at once. */
FACEAU_API faceau_status faceau_detect(faceau_detector *d, const faceau_frame *frame,
                                       faceau_box *boxes, int max_boxes, int *n);
/* FeatureExtraction's choice of one face (DetectSingleFaceMTCNN): the widest box, or with a
 * preference point (pref_x, pref_y; pass -1, -1 for none) the one nearest it. -1 if n <= 0. */
FACEAU_API int faceau_pick_single_face(const faceau_box *boxes, int n, int pref_x, int pref_y);
/* Writes the frame as PNG with the boxes drawn on it, for a person to look at. */
FACEAU_API faceau_status faceau_write_boxes_png(const char *path, const faceau_frame *frame,
                                                const faceau_box *boxes, int n, char *errbuf,
                                                size_t errbuf_size);

/* ---- landmarks, head pose, gaze (OpenFace's CLNF) ---------------------------------------- */
/* faceau_landmarker: OpenFace's CLNF landmark model as FeatureExtraction and FaceLandmarkImg run
 * it (-mloc main_clnf_general.txt: the 68-point PDM, CCNF patch experts at three scales and
 * seven views, the inner-face and eye part models, the CNN validator), read-only once loaded:
 * open once, share between trackers and threads; it holds the MTCNN detector's weights too.
 * faceau_tracker: one face being tracked through a video (CLNF's per-face state, its grey
 * image and an MTCNN workspace for (re-)detection on the landmarker's weights), used by one
 * thread at a time. */
typedef struct faceau_landmarker faceau_landmarker;
typedef struct faceau_tracker faceau_tracker;

enum {
    FACEAU_N_EYE_LANDMARKS = 56 /* 28 per eye: left_eye_28 then right_eye_28 (eye_lmk_*) */
};

/* Camera intrinsics in pixels (OpenFace's -fx -fy -cx -cy). */
typedef struct faceau_camera {
    float fx, fy, cx, cy;
} faceau_camera;

/* One fitted face: every tracking column of OpenFace's CSV. Layouts are the CSV's: 2D points
 * x0..x(n-1) then y0..; 3D points X0.., Y0.., Z0.. (millimetres, camera frame). */
typedef struct faceau_face {
    int success;          /* the CSV's `success` (see faceau_track, faceau_fit_image) */
    int valid;            /* the validator accepted this fit (CLNF::detection_success): what
                             FeatureExtraction passes to the AU stage (faceau_au_add_frame's
                             success); differs from success only on a first detection the
                             validator rejects, which DetectLandmarksInVideo still reports */
    float confidence;     /* the CNN validator's certainty, as OpenFace's `confidence` */
    float landmarks[2 * FACEAU_N_LANDMARKS];    /* x_*, y_* */
    float landmarks_3d[3 * FACEAU_N_LANDMARKS]; /* X_*, Y_*, Z_* (CLNF::GetShape) */
    float params_global[6];                     /* p_scale, p_rx, p_ry, p_rz, p_tx, p_ty */
    float params_local[FACEAU_N_PARAMS_LOCAL];  /* p_0 .. p_33 */
    float pose[6];        /* pose_Tx, Ty, Tz (mm), Rx, Ry, Rz (radians), LandmarkDetector::GetPose */
    float gaze_0[3], gaze_1[3]; /* unit gaze vectors of the left and right eye (camera frame) */
    float gaze_angle[2];  /* gaze_angle_x, gaze_angle_y (radians) */
    float eye_landmarks[2 * FACEAU_N_EYE_LANDMARKS];    /* eye_lmk_x_*, eye_lmk_y_* */
    float eye_landmarks_3d[3 * FACEAU_N_EYE_LANDMARKS]; /* eye_lmk_X_*, _Y_*, _Z_* */
    faceau_box box;       /* faceau_fit_image: the MTCNN box the fit started from */
} faceau_face;

/* Loads the CLNF model: model_dir as for faceau_models_locate (NULL searches), whose
 * main_clnf_general.txt is read with everything it names, and the MTCNN detector in its
 * mtcnn_detector/; if model_dir is a file, that file is the main CLNF file and its directory
 * the model directory. A missing or damaged file fails naming it. */
FACEAU_API faceau_status faceau_landmarker_open(const char *model_dir, faceau_landmarker **out,
                                                char *errbuf, size_t errbuf_size);
FACEAU_API void faceau_landmarker_close(faceau_landmarker *lm);
/* Milliseconds spent loading it. */
FACEAU_API double faceau_landmarker_load_ms(const faceau_landmarker *lm);

/* A tracker on a loaded model (which must outlive it); cheap: it loads nothing. */
FACEAU_API faceau_status faceau_tracker_open(const faceau_landmarker *lm, faceau_tracker **out,
                                             char *errbuf, size_t errbuf_size);
FACEAU_API void faceau_tracker_close(faceau_tracker *t);
FACEAU_API const char *faceau_tracker_last_error(const faceau_tracker *t);
/* Threads the tracker's patch-expert responses and MTCNN use (1, the default, .. 64); the
 * results are the same bits whatever the count. */
FACEAU_API faceau_status faceau_tracker_set_threads(faceau_tracker *t, int threads);
/* Forgets the face: the next faceau_track detects from scratch (a new video). */
FACEAU_API void faceau_tracker_reset(faceau_tracker *t);

/* The camera faceau uses when given none: faceau_default_intrinsics of the frame size. */
FACEAU_API faceau_camera faceau_default_camera(int width, int height);

/* One frame of a video, as FeatureExtraction processes it (DetectLandmarksInVideo: tracking from
 * the previous frame, MTCNN re-detection on OpenFace's schedule, then GetShape, GetPose and
 * gaze). camera NULL: faceau_default_camera of the frame. out gets the face whether or not it
 * succeeded: on failure the landmarks, parameters, 3D points and pose of the failed fit (what
 * OpenFace writes), gaze (0,0,0) and angle (0,0). out->box is zero. */
FACEAU_API faceau_status faceau_track(faceau_tracker *t, const faceau_frame *frame,
                                      const faceau_camera *camera, faceau_face *out);

/* A still image, as FaceLandmarkImg: every face MTCNN finds (best first), each fitted from its
 * box (DetectLandmarksInImage, one hypothesis) and described as faceau_track does, except that
 * gaze is computed whatever the validator says and success is the validator's verdict. Writes
 * up to max_faces faces, *n of them (0: no face found, not an error). Uses t's detector and
 * workspace and leaves t reset. */
FACEAU_API faceau_status faceau_fit_image(faceau_tracker *t, const faceau_frame *frame,
                                          const faceau_camera *camera, faceau_face *faces,
                                          int max_faces, int *n);

/* ---- whole runs (what the CLI does) ----------------------------------------------------- */
enum {
    FACEAU_OUT_GAZE = 1 << 0,
    FACEAU_OUT_POSE = 1 << 1,
    FACEAU_OUT_2DFP = 1 << 2,
    FACEAU_OUT_3DFP = 1 << 3,
    FACEAU_OUT_PDM = 1 << 4,
    FACEAU_OUT_AUS = 1 << 5,
    FACEAU_OUT_ALL = 0x3f
};

typedef struct faceau_run_options {
    const char *input;          /* video file, image, or (input_is_dir) directory of images */
    int input_is_dir;
    const char *landmarks_csv;  /* OpenFace-format CSV giving each frame's landmarks and success */
    const char *out_dir;        /* created if missing */
    const char *out_name;       /* -of: output base name; NULL = input's base name */
    unsigned outputs;           /* FACEAU_OUT_* mask; 0 = all */
    int hogalign;               /* write <name>.hog */
    int simalign;               /* write <name>_aligned/frame_det_00_NNNNNN.bmp */
    int quiet;                  /* no progress calls */
    /* Progress (the library itself never writes to stdout or stderr): unless quiet, called
     * every 100 frames and once more when the input is done (done = 1). name: the output base
     * name. NULL: no progress. With threads != 1 it may be called from the thread running the
     * AU stage rather than the caller's. */
    void (*progress)(void *user, const char *name, long frames, int done);
    void *progress_user;        /* passed to progress and warning */
    /* Landmarks from pixels: when landmarks_csv is NULL, faceau_run tracks the face itself with
     * this model (required then; a tracker is opened per run) and computes every column. */
    const faceau_landmarker *landmarker;
    const faceau_camera *camera; /* -fx -fy -cx -cy; NULL = faceau_default_camera of the frame */
    /* Warnings about a run that still succeeds (e.g. a video in which no face was ever found:
     * its CSV holds OpenFace's failed-frame rows). Called even when quiet; NULL: none. */
    void (*warning)(void *user, const char *name, const char *message);
    int full_precision;         /* every number with 6 decimals (as ../shared/reference/fullprec)
                                   instead of OpenFace's per-column decimals */
    int threads;                /* 1: everything on the calling thread; N > 1: frames decoded
                                   ahead (FFmpeg on N - 1 threads) and the tracker on N threads;
                                   0: one per core. Output is the same for any count. */
    /* -au_dual (videos and image sequences): an analyser opened with FACEAU_AU_VIDEO_STATIC,
     * given the same frames, landmarks and success as the run's own. Its intensities are written
     * as AUxx_r_static (17 columns) after all of OpenFace's columns, which keep their positions
     * and values; they equal the AUxx_r a FACEAU_AU_VIDEO_STATIC run (-au_static) writes, to
     * the character. NULL: no such columns. */
    faceau_au *dual_static;
    const faceau_frame_limits *frame_limits; /* the largest frame to accept; NULL: the defaults
                                                (faceau_default_frame_limits) */
} faceau_run_options;

/* Runs one input through the pipeline and writes out_dir/<name>.csv (through a temporary file,
 * renamed at the end; a failed run leaves no CSV).
 *  - landmarks_csv NULL (the whole pipeline, needs opt->landmarker): a video or image directory
 *    as FeatureExtraction runs it (DetectLandmarksInVideo frame by frame, pose, gaze, dynamic AU
 *    models and post-processing; one row per frame, failed frames written as OpenFace writes
 *    them: the failed fit's landmarks, parameters and pose, gaze 0, AUs 0); a video with no face
 *    at all still succeeds, with a warning. A still image as FaceLandmarkImg (every face MTCNN
 *    finds, static AU models, its CSV layout; au must be opened with FACEAU_AU_STATIC); an image
 *    with no face is FACEAU_ERR_NO_FACE and writes nothing.
 *  - landmarks_csv given (the AU stage alone): each frame's landmarks, success and tracking
 *    columns come from that OpenFace CSV (face 0 of a video; every row of an image's CSV).
 * With threads != 1 frames are decoded ahead on a thread of their own and, when tracking, the
 * AU stage and the writing run on another, beside the tracker. FACEAU_ERR_TRUNCATED: the input broke off; the
 * frames before it were written and faceau_au_last_error() says where. Errors are reported
 * through faceau_au_last_error(au). */
FACEAU_API faceau_status faceau_run(faceau_au *au, const faceau_run_options *opt);

/* ---- mirrored faces (facial asymmetry) -------------------------------------------------- */
/* Asymmetry studies (facial palsy) compare a face made of two copies of its left half with one
 * made of two copies of its right half. Per frame the face is tracked as usual; the midline
 * runs from the glabella (the mean of landmarks 21 and 22, the inner brow ends) to the chin
 * (landmark 8), averaged over a centred window of 5 frames (t-2 .. t+2, shorter at the ends;
 * frames whose fit failed left out). The whole frame is reflected about it (bilinear, pixels
 * outside the frame clamped to its edge), keeping one half: left_mirrored keeps the subject's
 * left half, right_mirrored the subject's right half (the subject's sides, not the image's:
 * the subject's right is the image's left for a face looking at the camera), with a linear
 * blend seam_px wide across the line. A frame whose face was lost is black in both mirrored
 * streams (so both CSVs get a failed row there). */
typedef struct faceau_mirror_options {
    double seam_px;          /* width of the blend across the midline, pixels (0: a hard edge) */
    int write_video;         /* also encode the mirrored streams, for a person to look at */
    const char *video_codec; /* write_video: NULL or "h264" (libx264, out_dir/<name>_X_mirrored.mp4),
                                "ffv1" (lossless, .mkv) */
    /* -au_dual on the mirrored streams: one FACEAU_AU_VIDEO_STATIC analyser per side (both or
     * neither), as faceau_run_options.dual_static (which faceau_run_mirror ignores) */
    faceau_au *left_static, *right_static;
} faceau_mirror_options;

/* seam_px 6, no video. */
FACEAU_API faceau_mirror_options faceau_default_mirror_options(void);

/* Runs one video or image directory as faceau_run does, but writes the left- and
 * right-mirrored faces' analyses instead: out_dir/<name>_left_mirrored.csv and
 * out_dir/<name>_right_mirrored.csv in OpenFace's CSV format (every column group of opt, as
 * faceau_run). Each mirrored stream is tracked and analysed as a person of its own: its own
 * tracker, and `left` and `right`, two analysers opened for the dynamic (or video-static) AU
 * models, which are reset first and never see the other stream's frames. Each CSV is the one
 * faceau_run writes on that mirrored stream stored losslessly. Needs opt->landmarker; a still
 * image or a landmarks CSV is FACEAU_ERR_INVALID_ARG. Every file is written under a temporary
 * name and renamed when complete (both CSVs, or neither). Errors through
 * faceau_au_last_error(left). mirror NULL = faceau_default_mirror_options(). */
FACEAU_API faceau_status faceau_run_mirror(faceau_au *left, faceau_au *right,
                                           const faceau_run_options *opt,
                                           const faceau_mirror_options *mirror);

/* ---- many inputs in one run ------------------------------------------------------------- */
typedef struct faceau_batch_input {
    const char *input;         /* video file, image, or (input_is_dir) directory of images */
    int input_is_dir;
    const char *landmarks_csv; /* the AU stage alone on these landmarks; NULL: track */
} faceau_batch_input;

/* What became of one input (faceau_batch_options.outcome). */
typedef struct faceau_batch_result {
    int index;             /* into the inputs array */
    const char *input;
    const char *name;      /* output base name: out_dir/<name>.csv */
    long frames;           /* frames processed (a still image: 1) */
    double seconds;        /* wall-clock time it took */
    int skipped;           /* resume: its output was already complete; nothing was run */
    faceau_status status;  /* FACEAU_OK; FACEAU_ERR_TRUNCATED (the frames before the damage were
                              written); anything else: failed, nothing written */
    const char *message;   /* why it failed or was truncated; "" otherwise */
    int still_image;       /* a still image (FaceLandmarkImg's CSV, one row per face) */
    long faces;            /* a still image: the faces found and written */
} faceau_batch_result;

/* The whole batch so far (faceau_batch_options.progress). */
typedef struct faceau_batch_progress {
    const char *name;      /* the input that last reported */
    int files_done, files_total, files_failed;
    long frames;           /* frames processed so far, all inputs */
    double seconds, frames_per_second;
    double seconds_left;   /* estimate from the time per finished file; -1 until one finishes */
} faceau_batch_progress;

typedef struct faceau_batch_options {
    /* Applied to every input: out_dir, outputs, hogalign, simalign, landmarker, camera,
     * full_precision, warning; out_name only when there is one input (else each input writes
     * out_dir/<its base name>.csv). Ignored: input, input_is_dir, landmarks_csv, quiet,
     * progress, progress_user. */
    faceau_run_options run;
    faceau_config config;  /* the AU models (videos and sequences; still images use the static
                              models, FACEAU_AU_STATIC), loaded once and shared by the jobs */
    int jobs;              /* inputs processed at once (0 or 1: one after another, in the given
                              order); each gets run.threads / jobs threads (at least 1); with
                              several, the longest inputs (by their headers) start first */
    int resume;            /* skip inputs whose CSV (and .hog with hogalign) is already in out_dir,
                              and remove the temporary files an interrupted run left for the rest */
    /* Called once per input, in the order they finish, never two at a time (nor at the same
     * time as progress or run.warning), from the thread that ran it. */
    void (*outcome)(void *user, const faceau_batch_result *result);
    /* Called at most twice a second while inputs run and after each one finishes (same rules). */
    void (*progress)(void *user, const faceau_batch_progress *progress);
    void *user;            /* passed to outcome, progress and run.warning */
    /* Non-NULL: every input runs as faceau_run_mirror with these options (resume looks for
       <name>_right_mirrored.csv, renamed into place last). */
    const faceau_mirror_options *mirror;
    int au_dual;           /* -au_dual: AUxx_r_static columns (each job opens its static analysers;
                              run.dual_static and mirror's are ignored) */
} faceau_batch_options;

/* Runs every input as faceau_run does, opt->jobs at a time, each CSV identical to what a lone
 * faceau_run writes. A failing input does not stop the others nor touch their outputs.
 * Returns FACEAU_OK when every input succeeded (or was skipped), FACEAU_ERR_INPUT_FAILED when
 * some failed (*n_failed of them), FACEAU_ERR_TRUNCATED when none failed but some were
 * truncated, or an error that stopped the whole batch (bad arguments, two inputs with the same
 * output name, AU models that do not load), with its message in errbuf. */
FACEAU_API faceau_status faceau_run_batch(const faceau_batch_input *inputs, int n,
                                          const faceau_batch_options *opt, int *n_failed,
                                          char *errbuf, size_t errbuf_size);

#ifdef __cplusplus
}
#endif
#endif /* FACEAU_H */
