/* mirror/mirror.h - the facial midline and the left- and right-mirrored faces (-mirror).
 *
 * Asymmetry studies (facial palsy) compare a face made of two copies of its left half with one
 * made of two copies of its right half. The midline runs from the glabella (the mean of
 * landmarks 21 and 22, the inner brow ends) to the chin (landmark 8); it is smoothed over a
 * centred window of FA_MIRROR_WINDOW frames so that landmark jitter does not make the seam
 * shimmer. The whole frame is reflected about that line.
 *
 * Sides are the subject's, not the image's: the subject's right half is the one holding
 * landmarks 0-7 (the right jaw) and 36-41 (the right eye), on the image's left for a face
 * looking at the camera. With u the unit vector from glabella to chin and n = (-u.y, u.x), a
 * point p lies on the subject's right when s = (p - glabella) . n > 0 (rotation-invariant, so
 * it holds for a tilted or rotated face).
 *
 * Pixels are sampled bilinearly in fixed point (as OpenCV's INTER_LINEAR, to 1/32 px): the
 * source coordinate rounded to 1/32 px, 5-bit weights per axis, (sum + 512) >> 10; coordinates
 * outside the frame are clamped to its edge. Across the seam the kept half fades into the reflected one linearly
 * over seam pixels (alpha in 1/256 steps): integer arithmetic throughout, so every platform
 * gives the same bytes.
 */
#ifndef FACEAU_MIRROR_MIRROR_H
#define FACEAU_MIRROR_MIRROR_H

#include <pthread.h>

#include "core/core.h"
#include "cv/cv.h"

enum { FA_MIRROR_WINDOW = 5 }; /* frames in the centred smoothing window (t-2 .. t+2) */

typedef struct fa_midline {
    double gx, gy; /* glabella */
    double cx, cy; /* chin */
} fa_midline;

/* The midline of one frame's 68 landmarks (x0..x67, y0..y67). 0 when it is degenerate
 * (glabella and chin less than 1 px apart, or a non-finite landmark), else 1. */
int fa_midline_from_landmarks(const float lm[136], fa_midline *out);

/* The smoothed midline of the window's centre: the mean of the glabella and of the chin over
 * the n (<= FA_MIRROR_WINDOW) frames of the window whose valid[i] is set; at the start and end
 * of a video the window is simply shorter. 0 when no frame of the window is valid. */
int fa_midline_smooth(const fa_midline *lines, const int *valid, int n, fa_midline *out);

enum fa_mirror_side {
    FA_MIRROR_LEFT = 0,  /* left_mirrored: the subject's left half and its reflection */
    FA_MIRROR_RIGHT = 1, /* right_mirrored: the subject's right half and its reflection */
};

/* Writes the mirrored frame of src (same size) into dst: the kept side's pixels as they are,
 * the other side's sampled from their reflection about the line, blended linearly across a
 * band of seam_px pixels (0: a hard edge) centred on the line. dst must not overlap src. */
void fa_mirror_frame(const fa_image *src, const fa_midline *line, enum fa_mirror_side side,
                     double seam_px, fa_image *dst);

/* ---- a mirrored frame made on demand (lazy.c) ------------------------------------------
 * A tracked frame's readers use a few percent of a mirrored frame (the patches around the
 * landmarks, the validator's crop, the AU alignment), so a side of -mirror makes its frame in
 * tiles as the readers ask for them (fa_pixel_source): a tile is mirrored and converted to grey
 * the first time a rectangle touching it is asked for, while it is still in the cache. Each pixel
 * is a function of (x, y, midline, source frame) alone, so whatever was asked, every pixel a
 * reader reads holds what fa_mirror_frame and fa_grey_from_bgr would write there. */
typedef struct fa_mirror_lazy {
    fa_tile_map tiles; /* tiles.source is what the frame's readers are given */
    /* the frame being made (fa_mirror_lazy_begin) */
    const fa_image *src;
    fa_midline line;
    int have; /* a midline: mirror; else the frame is black */
    enum fa_mirror_side side;
    double seam;
    fa_image *dst;
    fa_grey *grey;
    unsigned cpu;
} fa_mirror_lazy;

faceau_status fa_mirror_lazy_init(fa_mirror_lazy *z, fa_err *err);
void fa_mirror_lazy_free(fa_mirror_lazy *z);
/* Starts a frame: dst (BGR) and grey (src's size, allocated by the caller) are made from src
 * mirrored about line (NULL: a black frame) on demand; nothing is made yet. Allocates only when
 * the frame has more tiles than any before. grey->source is pointed at z. */
faceau_status fa_mirror_lazy_begin(fa_mirror_lazy *z, const fa_image *src, const fa_midline *line,
                                   enum fa_mirror_side side, double seam_px, fa_image *dst,
                                   fa_grey *grey, unsigned cpu, fa_err *err);
/* Makes [x0, x1) x [y0, y1) (clipped to the frame) if not made yet. */
void fa_mirror_lazy_need(fa_mirror_lazy *z, int x0, int y0, int x1, int y1);

#endif
