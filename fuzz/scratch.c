/* scratch.c - the targets' scratch files (see fuzz.h). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

const char *fuzz_scratch_dir(const char *tag, const uint8_t *data, size_t size,
                             const char *const *names, int n)
{
    static char dir[4096];
    char path[8192];
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/faceau-fuzz-%ld-%s", tmp, (long)getpid(), tag);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return NULL;
    static const char sep[] = FUZZ_FILE_SEP;
    const size_t seplen = sizeof sep - 1;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path); /* a piece this input lacks must not be the last input's */
        if (at > size)
            continue;
        const uint8_t *end = size - at >= seplen ? memmem(data + at, size - at, sep, seplen) : NULL;
        size_t len = end ? (size_t)(end - (data + at)) : size - at;
        FILE *f = fopen(path, "wb");
        if (!f)
            return NULL;
        int ok = fwrite(data + at, 1, len, f) == len;
        ok &= fclose(f) == 0;
        if (!ok)
            return NULL;
        at += len + (end ? seplen : 1); /* past the separator; past the end without one */
    }
    return dir;
}

void fuzz_report(const char *target, int status, const char *msg)
{
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%s: %s\n", target, status ? msg : "loaded");
}
