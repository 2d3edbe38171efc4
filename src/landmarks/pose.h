/* landmarks/pose.h - head pose, 3D landmarks and gaze as OpenFace 2.2 computes them from a
 * fitted CLNF (main model and the eye part models).
 *
 * Conventions (all as OpenFace stores them):
 *  - params_global g = (scale, rx, ry, rz, tx, ty) is a cv::Vec6f: float. Rotations are Euler
 *    angles in OpenFace's convention (R = Rx * Ry * Rz, fa_euler_to_rotation).
 *  - params_local p has pdm->m floats.
 *  - 2D landmarks: 2n floats x0..x(n-1), y0..y(n-1) (CLNF::detected_landmarks).
 *  - 3D landmarks: 3n floats X0..X(n-1), Y0.., Z0.. (CLNF::GetShape's 3 x n matrix, row by row,
 *    which is also the CSV's X_*, Y_*, Z_* / eye_lmk_X_*, eye_lmk_Y_*, eye_lmk_Z_* order).
 *  - Intrinsics fx, fy, cx, cy as floats (faceau_default_intrinsics gives OpenFace's defaults for
 *    both FeatureExtraction and FaceLandmarkImg: fx = fy = mean(500 w/640, 500 h/480), c = size/2).
 *  - Any PDM works (68-point face, 28-point eye parts) up to FA_PDM_MAX_POINTS points; nothing
 *    here allocates.
 */
#ifndef FACEAU_LANDMARKS_POSE_H
#define FACEAU_LANDMARKS_POSE_H

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"

typedef struct fa_camera {
    float fx, fy, cx, cy;
} fa_camera;

/* fa_camera from faceau_default_intrinsics(width, height). */
fa_camera fa_camera_default(int width, int height);

/* CLNF::GetShape(fx, fy, cx, cy): the 3D landmarks in camera coordinates (mm). Depth of point i
 * is fx/s + (R * X_i)_z, and X, Y back-project the 2D landmark at that depth. For the eye parts
 * (LandmarkDetectorUtils' Calculate3DEyeLandmarks) pass the part's PDM, params and 2D landmarks.
 * out: 3n floats. pdm->n must be <= FA_PDM_MAX_POINTS. */
void fa_clnf_shape3d_camera(const fa_pdm *pdm, const float g[6], const float *p_local,
                            const float *lmk2d, const fa_camera *cam, float *out);

/* One fitted part model as the eye helpers read it (pointers into the caller's state). */
typedef struct fa_part_view {
    const fa_pdm *pdm;
    const float *g;       /* params_global */
    const float *p_local; /* pdm->m */
    const float *lmk2d;   /* 2 * pdm->n: the part's detected_landmarks */
} fa_part_view;

/* LandmarkDetectorUtils' CalculateAllEyeLandmarks and Calculate3DEyeLandmarks over the eye parts
 * in model-file order (main_clnf_general.txt: left_eye_28, then right_eye_28), in the CSV's
 * layout with N = the parts' total points (56): eye2d (2N) = eye_lmk_x_0..N-1 then eye_lmk_y_*,
 * each part's detected_landmarks copied; eye3d (3N) = eye_lmk_X_*, eye_lmk_Y_*, eye_lmk_Z_*, each
 * part's GetShape. Either output may be NULL. */
void fa_eye_landmarks(const fa_part_view *parts, int nparts, const fa_camera *cam, float *eye2d,
                      float *eye3d);

/* LandmarkDetector::GetPose(clnf, fx, fy, cx, cy): pose = (Tx, Ty, Tz in mm, Rx, Ry, Rz Euler in
 * radians). The initial guess comes from g (Z = fx/s, X, Y from tx, ty; the Euler triple used as
 * the Rodrigues vector), then cv::solvePnP(PDM shape in model frame, lmk2d, K, no distortion,
 * useExtrinsicGuess = true, SOLVEPNP_ITERATIVE) as OpenCV 4.6 runs it. g[0] == 0 gives all
 * zeros, as OpenFace does. pdm->n must be <= FA_PDM_MAX_POINTS. */
void fa_clnf_pose(const fa_pdm *pdm, const float g[6], const float *p_local, const float *lmk2d,
                  const fa_camera *cam, float pose[6]);

/* cv::solvePnP(obj, img, K(cam), no distortion, rvec, tvec, useExtrinsicGuess = true,
 * SOLVEPNP_ITERATIVE) with float rvec/tvec as OpenFace passes them (cv::Vec3f in and out):
 * OpenCV's cvFindExtrinsicCameraParams2 Levenberg-Marquardt refinement (CvLevMarq: at most
 * 20 iterations, stop when the relative parameter step < FLT_EPSILON; lambda from 1e-3; each
 * step solved with cv::solve(DECOMP_SVD)) from the given guess, in double. obj: 3n floats
 * X0.., Y0.., Z0.. (model frame); img: 2n floats x0.., y0... n must be 4..FA_PDM_MAX_POINTS
 * (outside that range rvec/tvec are left as given). */
void fa_solve_pnp(const float *obj, const float *img, int n, const fa_camera *cam, float rvec[3],
                  float tvec[3]);

/* Utilities::AxisAngle2Euler: cv::Rodrigues (vector -> float matrix) then RotationMatrix2Euler. */
void fa_axis_angle_to_euler(const float rvec[3], float euler[3]);

/* GazeAnalysis::EstimateGaze for one eye. eye3d: the eye part's GetShape with coordinate k of
 * point i at eye3d[k * eye_stride + i] (only the first 8 points, the iris, are used; a part's
 * own output has stride 28, the CSV's 56-point eye_lmk_X/Y/Z rows stride 56 with the right eye
 * at +28). face3d: the main model's GetShape (3 x 68, stride 68). euler: pose[3..5] of
 * fa_clnf_pose. left: 1 for left_eye_28 (eyeball from face points 36, 39 -> CSV gaze_0),
 * 0 for right_eye_28 (42, 45 -> gaze_1). Writes the unit gaze vector (camera frame). */
void fa_gaze_estimate(const float *eye3d, int eye_stride, const float *face3d,
                      const float euler[3], int left, float gaze[3]);

/* GazeAnalysis::GetGazeAngle: (atan2(g.x, -g.z), atan2(g.y, -g.z)) of the mean of g0 and g1. */
void fa_gaze_angle(const float g0[3], const float g1[3], float angle[2]);

/* What the executables write for gaze:
 *  - FeatureExtraction and FaceLandmarkVidMulti: EstimateGaze only when the frame's detection
 *    succeeded (and the model has eye parts); otherwise gaze_0 = gaze_1 = (0, 0, 0), angle (0, 0).
 *  - FaceLandmarkImg: EstimateGaze for every face whatever its success; (0, 0, -1) and angle
 *    (0, 0) only when the model has no eye parts.
 * Pose and 3D landmarks are always written, from the (possibly failed) fit's parameters.
 * Eye 2D landmarks (eye_lmk_x/y) are the eye parts' detected_landmarks (PDM::CalcShape2D of the
 * part's parameters after its fit, or after CalcParams when the part was not fitted); their 3D
 * (eye_lmk_X/Y/Z) come from each part's GetShape, left_eye_28 first (fa_eye_landmarks). */

#endif
