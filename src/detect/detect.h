/* detect/detect.h - OpenFace's MTCNN face detector (not installed): FaceDetectorMTCNN::DetectFaces
 * with its defaults (min face 60 px, thresholds 0.6/0.7/0.7). Boxes are the public faceau_box
 * (OpenFace's cv::Rect_<float> and the detector's confidence). Its sub-steps, for tests, are in
 * detect/detect_steps.h.
 */
#ifndef FACEAU_DETECT_H
#define FACEAU_DETECT_H

#include "nn/nn.h"

#define FA_MTCNN_MIN_FACE 60
/* Frames larger than this are refused (bounds memory and time): side and pixel count. */
#define FA_MTCNN_MAX_SIDE 32768
#define FA_MTCNN_MAX_PIXELS (1L << 27)
#define FA_MTCNN_MAX_THREADS FA_POOL_MAX_THREADS

/* fa_mtcnn_model: the weights, read-only once loaded, shared by any number of detectors and
 * threads. fa_mtcnn: one detector's workspace and threads on a model; one thread at a time. */
typedef struct fa_mtcnn_model fa_mtcnn_model;
typedef struct fa_mtcnn fa_mtcnn;

/* Reads OpenFace's detector: dir holds MTCNN_detector.txt (or dir/mtcnn_detector/ does, so
 * the model root works too), which names PNet, RNet and ONet .dat files beside it. A missing,
 * truncated or malformed file fails naming the file and the problem. */
faceau_status fa_mtcnn_model_load(const char *dir, fa_mtcnn_model **out, fa_err *err);
void fa_mtcnn_model_free(fa_mtcnn_model *m);
/* A detector on m (which must outlive it), one thread. */
faceau_status fa_mtcnn_create(const fa_mtcnn_model *m, fa_mtcnn **out, fa_err *err);
/* fa_mtcnn_model_load + fa_mtcnn_create, the detector owning its model. */
faceau_status fa_mtcnn_load(const char *dir, fa_mtcnn **out, fa_err *err);
void fa_mtcnn_free(fa_mtcnn *d);
/* Threads used by later fa_mtcnn_detect calls (1..FA_MTCNN_MAX_THREADS); the boxes do not
 * depend on it. */
faceau_status fa_mtcnn_set_threads(fa_mtcnn *d, int n, fa_err *err);
/* DetectFaces on a BGR frame: writes up to max_boxes boxes, best first (OpenFace's final NMS
 * order), after OpenFace's final correction (the box OpenFace hands to CLNF); *n = how many
 * were written. A frame whose smaller side is under 60 px gives *n = 0. Not thread-safe on
 * one fa_mtcnn (it owns the workspace, which only grows, so warm calls allocate only PNet's
 * band buffers, which each call gives back: see mtcnn.c's tws_trim). */
faceau_status fa_mtcnn_detect(fa_mtcnn *d, const fa_image *bgr, faceau_box *boxes, int max_boxes,
                              int *n, fa_err *err);
/* DetectSingleFaceMTCNN's choice: the widest box (first of equals), or with a preference
 * point (pref_x, pref_y both != -1) the one whose centre is nearest it. -1 if n <= 0. */
int fa_mtcnn_pick_single(const faceau_box *boxes, int n, int pref_x, int pref_y);

#endif /* FACEAU_DETECT_H */
