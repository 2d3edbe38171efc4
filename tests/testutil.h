/* testutil.h - a tiny test harness: checks, counters, paths into ../shared, CSV and BMP readers. */
#ifndef FACEAU_TESTUTIL_H
#define FACEAU_TESTUTIL_H

#include <stdio.h>

#include "internal.h"

extern int tu_passed, tu_failed;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (cond) {                                                                          \
            tu_passed++;                                                                     \
        } else {                                                                             \
            tu_failed++;                                                                     \
            fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

/* Prints "N passed, N failed" and returns the process exit code. */
int tu_done(void);

/* The shared/ folder as an absolute path (env FACEAU_SHARED, else the build's -DFACEAU_SHARED,
 * else ../shared), so a test runs from any working directory. */
const char *tu_shared(void);
/* snprintf into a static rotating buffer: "$SHARED/" + formatted path (absolute). */
const char *tu_shared_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh scratch directory for this test, as an absolute path (under FACEAU_TMP, else the build
 * tree's tests/tmp, else /tmp/faceau-test). */
const char *tu_tmpdir(const char *name);

/* An OpenFace CSV loaded whole: header names and numeric cells. */
typedef struct tu_csv {
    int ncols, nrows;
    char **names;
    double *cells; /* nrows * ncols */
} tu_csv;
int tu_csv_load(const char *path, tu_csv *csv); /* 0 on success */
int tu_csv_col(const tu_csv *csv, const char *name); /* -1 if absent */
double tu_csv_at(const tu_csv *csv, int row, int col);
void tu_csv_free(tu_csv *csv);

/* A w x h JPEG (libjpeg's defaults; progressive: its simple progression) of RGB rows
 * row_stride bytes apart (0: every row is the first, so a huge image needs one row of memory),
 * malloc'd into *len bytes. */
unsigned char *tu_jpeg_encode(int w, int h, int progressive, const unsigned char *rgb,
                              size_t row_stride, unsigned long *len);
/* This process's user+system CPU seconds so far, and its peak RSS in MB (getrusage). */
double tu_cpu_seconds(void);
long tu_peak_rss_mb(void);

/* Writes n bytes to path; 0 on success. */
int tu_write_file(const char *path, const void *data, size_t n);
/* Reads a whole file into a malloc'd, NUL-terminated buffer (64 spare bytes at the end);
 * NULL on failure. */
unsigned char *tu_read_file(const char *path, size_t *n);

/* A byte buffer a test builds a synthetic model file in (little-endian, as OpenFace's binary
 * readers expect); writes past its end are dropped. */
typedef struct tu_buf {
    unsigned char b[16384];
    size_t n;
} tu_buf;
void tu_put(tu_buf *o, const void *p, size_t n);
void tu_put_i32(tu_buf *o, int32_t v);
void tu_put_f32(tu_buf *o, float v);
void tu_put_f64(tu_buf *o, double v);

/* FNV-1a 64 over an image's BGR bytes, row by row (stride padding excluded). */
uint64_t tu_fnv1a(const fa_image *im);

/* Reads a 24-bit uncompressed BMP into img (allocated). 0 on success. */
int tu_bmp_read(const char *path, fa_image *img);

#endif
