/* fuzz_au.c - OpenFace's AU model files (fa_au_models_load): the main file, the AU list, one
 * .dat regressor, and the PDM and triangulation it names (see FUZZ_FILE_SEP). */
#include <stdio.h>

#include "au/au.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"main.txt", "list.txt", "m.dat", "pdm.txt", "tris.txt"};
    const char *dir = fuzz_scratch_dir("au", data, size, names, 5);
    if (!dir)
        return 0;
    char main_file[4200];
    snprintf(main_file, sizeof main_file, "%s/main.txt", dir);
    fa_au_models m;
    fa_err err;
    faceau_status st = fa_au_models_load(main_file, &m, &err);
    fuzz_report("au", st, err.msg);
    if (st == FACEAU_OK)
        fa_au_models_free(&m);
    return 0;
}
