/* fuzz_csv.c - the OpenFace CSV reader (-landmarks): header mapping and every data row. */
#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file("csv", data, size);
    fa_csv_reader *r;
    fa_err err;
    if (!path || fa_csv_reader_open(path, &r, &err) != FACEAU_OK)
        return 0;
    static fa_csv_row row;
    int got = 1;
    while (got && fa_csv_reader_next(r, &row, &got, &err) == FACEAU_OK)
        ;
    fa_csv_reader_close(r);
    return 0;
}
