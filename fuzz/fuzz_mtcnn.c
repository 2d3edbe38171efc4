/* fuzz_mtcnn.c - MTCNN's model (fa_mtcnn_model_load): MTCNN_detector.txt and the three binary
 * networks it names, read as OpenFace's CNN::Read (see FUZZ_FILE_SEP). */
#include "detect/detect.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"MTCNN_detector.txt", "PNet.dat", "RNet.dat", "ONet.dat"};
    const char *dir = fuzz_scratch_dir("mtcnn", data, size, names, 4);
    if (!dir)
        return 0;
    fa_mtcnn_model *m;
    fa_err err;
    faceau_status st = fa_mtcnn_model_load(dir, &m, &err);
    fuzz_report("mtcnn", st, err.msg);
    if (st == FACEAU_OK)
        fa_mtcnn_model_free(m);
    return 0;
}
