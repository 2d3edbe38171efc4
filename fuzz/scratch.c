/* scratch.c - the targets' scratch files (see fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

const char *fuzz_scratch_file(const char *tag, const uint8_t *data, size_t size)
{
    static char path[4096];
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/faceau-fuzz-%ld-%s", dir, (long)getpid(), tag);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? path : NULL;
}
