/* fuzz_validator.c - the CNN detection validator's binary file (fa_validator_load: views,
 * mean and deviation images, layers, the piecewise affine warp). */
#include "fuzz.h"
#include "landmarks/validator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file("validator", data, size);
    fa_validator *v;
    fa_err err;
    if (!path)
        return 0;
    faceau_status st = fa_validator_load(path, &v, &err);
    fuzz_report("validator", st, err.msg);
    if (st == FACEAU_OK)
        fa_validator_free(v);
    return 0;
}
