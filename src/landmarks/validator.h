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

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"
#include "landmarks/warp.h"

/* FaceModelParameters::validation_boundary: CLNF succeeds when confidence > this. */
#define FA_VALIDATION_BOUNDARY 0.725f

/* The loaded validator (every view's PAW, normalisation and CNN). Immutable once loaded:
 * one fa_validator may be shared by any number of threads, each with its own workspace. */
typedef struct fa_validator fa_validator;

/* Per-caller scratch (maps, warped image, CNN activations; the crop is a view into the frame,
 * never copied). The first call sizes every buffer for the validator's largest view; later
 * calls allocate nothing. Not shareable between concurrent calls. */
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
/* The view's PAW template: *n landmarks (x0..x(n-1), y0..) in template coordinates, the
 * template's origin (template pixel (x, y) is the point (x + min_x, y + min_y)), its mask
 * (width*height bytes, 1 inside the face) and the number of 1s (PAW::number_of_pixels). */
void fa_validator_view_template(const fa_validator *v, int view, int *n, const float **landmarks,
                                float *min_x, float *min_y, const uint8_t **mask, int *n_pixels);

faceau_status fa_validator_ws_create(fa_validator_ws **out, fa_err *err);
void fa_validator_ws_free(fa_validator_ws *ws); /* NULL is fine */

/* DetectionValidator::Check. grey: the grey frame as OpenFace has it (cvtColor BGR2GRAY,
 * 8-bit values held in float: fa_grey_from_bgr). landmarks: n_landmarks 2D points (the view's
 * landmark count, 68) as x0..x(n-1), y0..y(n-1), OpenFace's detected_landmarks (float).
 * rot: params_global[1..3]. *confidence receives the validator's output in [0, 1] (one of
 * `bins` values, 30 for the shipped file); 0 when the widened box covers at most 1 pixel along
 * either axis, as OpenFace returns. Fails only on invalid arguments or when a workspace buffer
 * cannot be grown. */
faceau_status fa_validator_check(const fa_validator *v, fa_validator_ws *ws, const fa_grey *grey,
                                 const float *landmarks, int n_landmarks, const float rot[3],
                                 float *confidence, fa_err *err);

/* fa_validator_check in two halves, so that the CNN can run on another thread than the one
 * holding the frame: fa_validator_crop_warp finds the view and warps the landmarks' crop of
 * grey onto its template (into warped, fa_validator_max_template floats; *empty when the
 * widened box is degenerate), fa_validator_confidence runs the CNN on it (any workspace; 0
 * when empty). The two in a row are fa_validator_check, bit for bit. */
size_t fa_validator_max_template(const fa_validator *v);
faceau_status fa_validator_crop_warp(const fa_validator *v, fa_validator_ws *ws, const fa_grey *grey,
                                     const float *landmarks, int n_landmarks, const float rot[3],
                                     int *view, float *warped, int *empty, fa_err *err);
faceau_status fa_validator_confidence(const fa_validator *v, fa_validator_ws *ws, int view,
                                      const float *warped, int empty, float *confidence,
                                      fa_err *err);
/* fa_validator_crop_warp from the frame's BGR pixels, the crop's grey made as it is sampled
 * (the same floats): for a thread that holds the frame but not its grey image. */
faceau_status fa_validator_crop_warp_bgr(const fa_validator *v, fa_validator_ws *ws,
                                         const fa_image *bgr, const float *landmarks,
                                         int n_landmarks, const float rot[3], int *view,
                                         float *warped, int *empty, fa_err *err);

/* The steps of fa_validator_check, usable alone (tests, debugging). `view` is 0..views-1
 * (checked: INVALID_ARG otherwise); the accessors above assume a valid view. */

/* PAW::Warp of a float image onto view's template: out receives template-width x
 * template-height floats, row-major (masked-out pixels are whatever remap gives at (-1, -1),
 * i.e. 0). landmarks are in img's own coordinates (x0..x(n-1), y0..), n = the view's count. */
faceau_status fa_validator_warp(const fa_validator *v, fa_validator_ws *ws, int view,
                                const fa_grey *img, const float *landmarks, float *out,
                                fa_err *err);
/* CheckCNN on a warped template image (template-size floats, row-major): *dec in [-1, 1]
 * (before the 0.5 * (1 - dec) mapping) and the winning bin in *bin (either may be NULL). */
faceau_status fa_validator_cnn(const fa_validator *v, fa_validator_ws *ws, int view,
                               const float *warped, double *dec, int *bin, fa_err *err);

#endif
