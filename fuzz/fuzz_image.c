/* fuzz_image.c - the JPEG, PNG and BMP decoders (fa_image_decode: the bytes of an image file).
 * Frames are limited to 4096x4096 (16 MP) here: a few hundred bytes may declare a frame up to
 * the default limit (600 MB), which the decoder reserves before it finds the data missing;
 * untouched, that costs a plain build nothing (0.02 s, 3 MB), but ASan maps and clears it, 10 s
 * an input. The limit itself is tested in tests/test_limits.c. */
#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const faceau_frame_limits lim = {4096, 4096, 1 << 24};
    fa_image im;
    fa_err err;
    faceau_status st = fa_image_decode_limits("fuzz-input", data, size, &lim, &im, &err);
    fuzz_report("image", st, err.msg);
    if (st == FACEAU_OK)
        fa_image_free(&im);
    return 0;
}
