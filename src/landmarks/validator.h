/* landmarks/validator.h - OpenFace's CNN landmark detection validator (DetectionValidator with
 * its piece-wise affine warp, PAW), as CLNF::DetectLandmarks uses it to decide success.
 *
 * OpenFace 2.0.2, LandmarkDetectionValidator.cpp / PAW.cpp / CNN_utils.cpp:
 *   view  = the validator view whose orientation is nearest (Euclidean, radians) to
 *           (params_global[1], params_global[2], params_global[3]);
 *   crop  = the grey image inside the landmarks' bounding box widened by 3 px (truncated to
 *           int, clipped to the image);
 *   warp  = PAW::Warp of the crop onto the view's template shape (per-triangle affine
 *           coefficients, a map per template pixel, cv::remap INTER_LINEAR, border 0);
 *   vec   = the masked template pixels in column-major order, normalised locally (mean/std of
 *           the vector) then globally (the view's mean and standard deviation);
 *   cnn   = conv, ReLU, 2x2 max-pool, FC layers of the view; argmax over the last layer's
 *           bins -> dec = -1 + step/2 + argmax*step with step = 2/bins;
 *   confidence = 0.5 * (1 - dec).
 * detection_success = confidence > FA_VALIDATION_BOUNDARY (LandmarkDetectorParameters).
 */
#ifndef FACEAU_LANDMARKS_VALIDATOR_H
#define FACEAU_LANDMARKS_VALIDATOR_H

#include "internal.h"

/* FaceModelParameters::validation_boundary: CLNF succeeds when confidence > this. */
#define FA_VALIDATION_BOUNDARY 0.725f

/* The loaded validator (every view's PAW, normalisation and CNN). Immutable once loaded:
 * one fa_validator may be shared by any number of threads, each with its own workspace. */
typedef struct fa_validator fa_validator;

/* Per-caller scratch (crop, maps, warped image, CNN activations). Buffers grow on the first
 * calls and are reused: once a call has seen a crop as large as the current one, checking
 * allocates nothing. Not shareable between concurrent calls. */
typedef struct fa_validator_ws fa_validator_ws;

/* Reads OpenFace's binary validator file (model/detection_validation/validator_cnn.txt), as
 * DetectionValidator::Read does. A missing, truncated or malformed file (wrong type, sizes
 * that do not fit, a PAW whose pixel count disagrees with its mask, a CNN that does not end
 * in one vector of bins) fails naming the file and what was wrong; *out is then NULL. */
faceau_status fa_validator_load(const char *path, fa_validator **out, fa_err *err);
void fa_validator_free(fa_validator *v); /* NULL is fine */

/* Number of views (the shipped file has 7). */
int fa_validator_views(const fa_validator *v);
/* DetectionValidator::GetViewId: index of the nearest view orientation (first of equals) to
 * rot = (rx, ry, rz) in radians (OpenFace passes params_global's floats, widened to double). */
int fa_validator_view_id(const fa_validator *v, const float rot[3]);
/* The view's warp template size (PAW pixel_mask cols x rows; 60 x 60 for the shipped file). */
void fa_validator_view_size(const fa_validator *v, int view, int *width, int *height);

faceau_status fa_validator_ws_create(fa_validator_ws **out, fa_err *err);
void fa_validator_ws_free(fa_validator_ws *ws); /* NULL is fine */

/* DetectionValidator::Check. grey: width x height floats, row-major with `stride` floats per
 * row (stride >= width); the grey frame as OpenFace has it (cvtColor BGR2GRAY, 8-bit values
 * held in float). landmarks: the 68 (or the view's landmark count) 2D points as
 * x0..x(n-1), y0..y(n-1), OpenFace's detected_landmarks (float). rot: params_global[1..3].
 * *confidence receives the validator's output in [0, 1] (one of `bins` values, 30 for the
 * shipped file); 0 when the widened box covers at most 1 pixel along either axis, as OpenFace
 * returns. Fails only on invalid arguments or when a workspace buffer cannot be grown. */
faceau_status fa_validator_check(const fa_validator *v, fa_validator_ws *ws, const float *grey,
                                 int width, int height, int stride, const float *landmarks,
                                 int n_landmarks, const float rot[3], float *confidence,
                                 fa_err *err);

/* The steps of fa_validator_check, usable alone (tests, debugging). */

/* PAW::Warp of a float image (width x height, stride floats per row) onto view's template:
 * out receives template-width x template-height floats (0 outside the mask). landmarks are in
 * the image's own coordinates (x0..x(n-1), y0..). Uses ws. */
faceau_status fa_validator_warp(const fa_validator *v, fa_validator_ws *ws, int view,
                                const float *img, int width, int height, int stride,
                                const float *landmarks, float *out, fa_err *err);
/* CheckCNN on a warped template image (template-size floats, row-major): *dec in [-1, 1]
 * (before the 0.5 * (1 - dec) mapping) and the winning bin in *bin (either may be NULL). */
faceau_status fa_validator_cnn(const fa_validator *v, fa_validator_ws *ws, int view,
                               const float *warped, double *dec, int *bin, fa_err *err);

#endif
