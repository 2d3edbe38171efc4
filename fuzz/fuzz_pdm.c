/* fuzz_pdm.c - OpenFace's text matrices as the PDM (fa_pdm_load: mean shape, principal
 * components, eigenvalues, with comments) and the triangulation (fa_tris_load) read them; the
 * input is the two files (see FUZZ_FILE_SEP). */
#include <stdio.h>

#include "fuzz.h"
#include "pdm/pdm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"pdm.txt", "tris.txt"};
    const char *dir = fuzz_scratch_dir("pdm", data, size, names, 2);
    if (!dir)
        return 0;
    char path[4200];
    fa_err err;
    snprintf(path, sizeof path, "%s/pdm.txt", dir);
    fa_pdm pdm;
    faceau_status st = fa_pdm_load(path, &pdm, &err);
    fuzz_report("pdm", st, err.msg);
    if (st == FACEAU_OK)
        fa_pdm_free(&pdm);
    snprintf(path, sizeof path, "%s/tris.txt", dir);
    fa_tris tris;
    st = fa_tris_load(path, &tris, &err);
    fuzz_report("tris", st, err.msg);
    if (st == FACEAU_OK)
        fa_tris_free(&tris);
    return 0;
}
