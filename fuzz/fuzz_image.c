/* fuzz_image.c - the JPEG, PNG and BMP decoders (fa_image_decode: the bytes of an image file). */
#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fa_image im;
    fa_err err;
    if (fa_image_decode("fuzz-input", data, size, &im, &err) == FACEAU_OK)
        fa_image_free(&im);
    return 0;
}
