/* fuzz_ccnf.c - a binary CCNF patch-expert file (fa_ccnf_load: view centres, visibilities,
 * Sigma components, experts and neurons), then the Sigmas of its first window as the CLNF
 * load prepares them. */
#include "fuzz.h"
#include "landmarks/ccnf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file("ccnf", data, size);
    if (!path)
        return 0;
    fa_ccnf c;
    fa_err err;
    faceau_status st = fa_ccnf_load(path, &c, &err); /* frees what it read on failure */
    if (st == FACEAU_OK) {
        if (c.n_windows > 0)
            st = fa_ccnf_prepare(&c, c.windows[0].size, &err);
        fa_ccnf_free(&c);
    }
    fuzz_report("ccnf", st, err.msg);
    return 0;
}
