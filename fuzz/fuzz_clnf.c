/* fuzz_clnf.c - OpenFace's CLNF model as main_clnf_general.txt lays it out (fa_clnf_load): the
 * main file, the model file it names (PDM, patch experts), a part model's main and model files
 * with their PDM and patch experts, and the validator (see FUZZ_FILE_SEP). */
#include <stdio.h>

#include "fuzz.h"
#include "landmarks/clnf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"main.txt", "clnf.txt", "pdm.txt", "ccnf.dat",
                                        "part_main.txt", "part_clnf.txt", "part_pdm.txt",
                                        "part_ccnf.dat", "validator.dat"};
    const char *dir = fuzz_scratch_dir("clnf", data, size, names, 9);
    if (!dir)
        return 0;
    char main_file[4200];
    snprintf(main_file, sizeof main_file, "%s/main.txt", dir);
    fa_clnf *m;
    fa_err err;
    faceau_status st = fa_clnf_load(main_file, &m, &err);
    fuzz_report("clnf", st, err.msg);
    if (st == FACEAU_OK)
        fa_clnf_free(m);
    return 0;
}
