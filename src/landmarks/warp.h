/* warp.h - the grey image CLNF fits on (fa_grey, fa_grey_from_bgr) and the two OpenCV 4.6
 * resamplers OpenFace's landmark code calls on it (fa_warp_affine_grey, fa_remap_grey). They are
 * OpenCV reproductions, so they live in cv/ (cv/cv.h, cv/warp_grey.c); this header keeps the
 * landmark code's include and the layers it builds on. */
#ifndef FACEAU_LANDMARKS_WARP_H
#define FACEAU_LANDMARKS_WARP_H

#include "cv/cv.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "io/io.h"

#endif
