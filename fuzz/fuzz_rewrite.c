/* fuzz_rewrite.c - the AU-column rewrite of a written CSV (the end-of-video post-processing reads
 * the file back from disk): any header, any lines, with predictions for up to 64 rows. */
#include <stdio.h>

#include "fuzz.h"
#include "io/io.h"

enum { ROWS = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    const size_t n = lines > 0 ? (lines - 1 < ROWS ? lines - 1 : ROWS) : 0;
    static double inten[ROWS * FA_N_AU_R], pres[ROWS * FA_N_AU_C];
    for (size_t i = 0; i < ROWS * FA_N_AU_R; i++)
        inten[i] = (double)i / 7 - 3;
    for (size_t i = 0; i < ROWS * FA_N_AU_C; i++)
        pres[i] = (double)(i % 2);
    const char *in = fuzz_scratch_file("rewrite-in", data, size);
    if (!in)
        return 0;
    char in_path[4096], out_path[4100];
    snprintf(in_path, sizeof in_path, "%s", in);
    snprintf(out_path, sizeof out_path, "%s.out", in_path);
    fa_err err;
    (void)fa_csv_rewrite_aus(in_path, out_path, inten, pres, n, &err);
    return 0;
}
