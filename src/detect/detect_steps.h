/* detect/detect_steps.h - MTCNN's sub-steps (boxes.c), shared by mtcnn.c and declared for the
 * tests that check each step alone. Not for other folders: use detect/detect.h.
 */
#ifndef FACEAU_DETECT_STEPS_H
#define FACEAU_DETECT_STEPS_H

#include <math.h>

#include "detect/detect.h"

/* C++'s (int)v truncation without UB on absurd values (NaN -> 0, clamped to +-1e9). */
static inline int fa_mtcnn_trunc(float v)
{
    if (!(v == v))
        return 0;
    return (int)(v < -1e9f ? -1e9f : v > 1e9f ? 1e9f : v);
}

/* Pyramid: fills up to max scales and level sizes (ceil(w*s), ceil(h*s)); returns the count
 * OpenFace uses (<= 0 means none: the image is smaller than min_face). */
int fa_mtcnn_scales(int width, int height, int min_face, double *scales, int *lw, int *lh, int max);
/* OpenFace's non_maximum_supression on boxes (as cv::Rect, rounded): keep receives the kept
 * indices, best first; returns their count. thr: overlap threshold; use_min: overlap over the
 * smaller area instead of the union. scratch: 2n ints. */
int fa_mtcnn_nms(const faceau_box *b, int n, float thr, int use_min, int *keep, int *scratch);
/* apply_correction (corr: dx1, dy1, dx2, dy2), rectify, and the final box correction. */
void fa_mtcnn_correct(faceau_box *b, const float corr[4], int add1);
void fa_mtcnn_rectify(faceau_box *b);
void fa_mtcnn_final(faceau_box *b);

#endif /* FACEAU_DETECT_STEPS_H */
