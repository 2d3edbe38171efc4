/* pdm_fit.h - the PDM operations OpenFace's CLNF fitter uses (PDM.cpp), on fa_pdm (internal.h).
 *
 * Conventions (as OpenFace's cv::Mat_<float> column vectors):
 *  - g[6] = params_global (scale, rx, ry, rz, tx, ty), Euler angles as in fa_euler_to_rotation.
 *  - p_local: pdm->m floats.
 *  - 2D shapes: 2n floats, x0..x(n-1) then y0..y(n-1). 3D shapes: 3n floats, x.., y.., z...
 *  - Jacobians: 2n rows (x rows then y rows) by k = 6 (rigid) or 6 + m columns, row-major;
 *    their weighted transposes k x 2n, row-major.
 *  - Weights: the diagonal of OpenFace's 2n x 2n weight matrix W, or NULL for the identity.
 * Arithmetic is float with OpenFace's operation order; where OpenFace calls cv::gemm on small
 * float matrices the products are summed in double as OpenCV's GEMMSingleMul does. None of these
 * functions allocate; scratch lives on the stack (n <= FA_PDM_MAX_POINTS, m <= FA_PDM_MAX_MODES).
 */
#ifndef FACEAU_LANDMARKS_PDM_FIT_H
#define FACEAU_LANDMARKS_PDM_FIT_H

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"

/* Largest number of unknowns of one solve: 6 rigid + the modes. */
#define FA_PDM_MAX_PARAMS (6 + FA_PDM_MAX_MODES)

/* PDM::CalcShape2D: weak-perspective projection of the 3D shape for p_local with g. */
void fa_pdm_shape2d(const fa_pdm *pdm, const float *p_local, const float g[6], float *shape2d);
/* The projection step of CalcShape2D for an already computed 3D shape (3n). */
void fa_pdm_project(const fa_pdm *pdm, const float *shape3d, const float g[6], float *shape2d);

/* PDM::CalcParams(out_g, bounding_box, p_local, rotation): the g that places the rotated 3D shape
 * for p_local so that its x/y extent fills box = (x, y, width, height). */
void fa_pdm_params_from_box(const fa_pdm *pdm, const float box[4], const float *p_local,
                            const float rotation[3], float g[6]);

/* PDM::CalcBoundingBox: (min_x, min_y, width, height) of CalcShape2D(p_local, g). */
void fa_pdm_bounding_box(const fa_pdm *pdm, const float *p_local, const float g[6], float box[4]);

/* PDM::ComputeRigidJacobian: J (2n x 6) and Jw_t = (W J)^T (6 x 2n). OpenFace always applies the
 * weights here (w NULL = all ones). */
void fa_pdm_rigid_jacobian(const fa_pdm *pdm, const float *p_local, const float g[6],
                           const float *w, float *J, float *Jw_t);
/* PDM::ComputeJacobian: J (2n x (6+m)) and Jw_t (6+m x 2n); the weights are applied only when
 * their sum (cv::trace of W) differs from 2n, as OpenFace tests. */
void fa_pdm_jacobian(const fa_pdm *pdm, const float *p_local, const float g[6], const float *w,
                     float *J, float *Jw_t);

/* PDM::UpdateModelParameters: delta has k = 6 (rigid only) or 6 + m entries. Scale and
 * translation add, the rotation composes with the orthonormalised small-angle rotation and goes
 * back to Euler angles through axis-angle (NaN -> 0), p_local += delta[6..]. */
void fa_pdm_update(const fa_pdm *pdm, const float *delta, int k, float *p_local, float g[6]);

/* PDM::Clamp: each p_local[i] limited to +-3 sqrt(eigenvalue i). */
void fa_pdm_clamp(const fa_pdm *pdm, float *p_local);

/* cv::solve(H, b, x, DECOMP_CHOLESKY) on float k x k H (row-major, k <= FA_PDM_MAX_PARAMS) as
 * OpenCV's CholImpl does it (float products, double sums); a non-positive-definite H gives x = 0
 * and returns 0, else 1. H and b are not modified. cpu: FA_CPU_* for fa_pdm_chol_solve (same
 * bits either way). */
int fa_cholesky_solve(const float *H, const float *b, int k, float *x, unsigned cpu);

/* fa_gemv_cv (cv::gemm of a float matrix and vector) is in cv/cv.h. */

#endif
