/* api/mirror_video.h - the mirrored streams written as videos (-mirror_video), for
 * mirror_run.c only. */
#ifndef FACEAU_API_MIRROR_VIDEO_H
#define FACEAU_API_MIRROR_VIDEO_H

#include "api/api.h"

typedef struct fa_mirror_enc fa_mirror_enc;

/* The file extension a codec's video gets: "mp4" (h264, or NULL) or "avi" (ffv1). */
const char *fa_mirror_video_ext(const char *codec);
/* Creates path (any name: the container is chosen by codec) for w x h BGR frames at fps.
 * On failure *out may be set: close it with finish = 0. */
faceau_status fa_mirror_enc_open(const char *path, const char *codec, int w, int h, double fps,
                                 fa_mirror_enc **out, fa_err *err);
/* Encodes one frame (pts: its 0-based number, so the file keeps the source's frame timing). */
faceau_status fa_mirror_enc_frame(fa_mirror_enc *e, const fa_image *img, long pts, fa_err *err);
/* finish: flushes the encoder and writes the trailer; 0: just frees (after a failure). */
faceau_status fa_mirror_enc_close(fa_mirror_enc *e, int finish, fa_err *err);

#endif
