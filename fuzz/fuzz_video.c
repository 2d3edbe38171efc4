/* fuzz_video.c - video containers and codecs through FFmpeg as faceau opens them
 * (fa_video_open_limits: probing, the decoder, the frame-size limit) and the first frames
 * converted to BGR, from a scratch file. Frames are limited to 1024x1024 and 16 are read, so
 * one input costs milliseconds. */
#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file("video", data, size);
    const faceau_frame_limits lim = {1024, 1024, 1 << 20};
    fa_video *v;
    fa_err err;
    if (!path)
        return 0;
    faceau_status st = fa_video_open_limits(path, 1, &lim, &v, &err);
    if (st != FACEAU_OK) {
        fuzz_report("video", st, err.msg);
        return 0;
    }
    const fa_image *frame;
    int got = 1, n = 0;
    while (n < 16 && got && (st = fa_video_read(v, &frame, &got, &err)) == FACEAU_OK)
        n += got;
    fuzz_report("video", st, st ? err.msg : "");
    fa_video_close(v);
    return 0;
}
