/* testutil.c - see testutil.h. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h> /* before jpeglib.h */
#include <sys/resource.h>
#include <sys/stat.h>

#include <jpeglib.h>

#include "testutil.h"

int tu_passed, tu_failed;

int tu_done(void)
{
    printf("%d passed, %d failed\n", tu_passed, tu_failed);
    return tu_failed ? 1 : 0;
}

/* An absolute path for p (resolved against the working directory now, so that a test may chdir,
 * hand the path to a child or write it into a symlink); p itself if it does not exist. */
static const char *absolute(const char *p, char *buf)
{
    return realpath(p, buf) ? buf : p;
}

const char *tu_shared(void)
{
    static char abs[PATH_MAX];
    static const char *shared;
    if (!shared) {
        const char *s = getenv("FACEAU_SHARED");
#ifdef FACEAU_TEST_SHARED
        if (!s || !*s)
            s = FACEAU_TEST_SHARED; /* the build's -DFACEAU_SHARED: a test run by hand finds it */
#endif
        shared = absolute(s && *s ? s : "../shared", abs);
    }
    return shared;
}

const char *tu_shared_path(const char *fmt, ...)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ & 7];
    int k = snprintf(b, 4096, "%s/", tu_shared());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + k, (size_t)(4096 - k), fmt, ap);
    va_end(ap);
    return b;
}

const char *tu_tmpdir(const char *name)
{
    static char b[4096], abs[PATH_MAX];
    const char *t = getenv("FACEAU_TMP");
#ifdef FACEAU_TEST_TMP
    if (!t || !*t)
        t = FACEAU_TEST_TMP; /* the build tree's tests/tmp, as under ctest */
#endif
    char cmd[8300];
    snprintf(b, sizeof b, "%s/%s", t && *t ? t : "/tmp/faceau-test", name);
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", b, b) >= (int)sizeof cmd ||
        system(cmd) != 0 || !realpath(b, abs)) {
        fprintf(stderr, "cannot create %s\n", b);
        exit(2);
    }
    return abs;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int tu_csv_load(const char *path, tu_csv *csv)
{
    memset(csv, 0, sizeof *csv);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t cap = 1 << 16, len;
    char *line = malloc(cap);
    int ok = -1;
    int rows_cap = 0;
    while (line && fgets(line, (int)cap, f)) {
        len = strlen(line);
        while (len == cap - 1 && line[len - 1] != '\n') { /* grow for long lines */
            char *bigger = realloc(line, cap * 2);
            if (!bigger)
                goto out;
            line = bigger;
            if (!fgets(line + len, (int)(cap * 2 - len), f))
                break;
            cap *= 2;
            len = strlen(line);
        }
        int n = 0;
        for (char *p = line; *p; p++)
            n += *p == ',';
        n += 1;
        if (!csv->names) {
            csv->ncols = n;
            csv->names = calloc((size_t)n, sizeof *csv->names);
            if (!csv->names)
                goto out;
            char *save, *tok = strtok_r(line, ",", &save);
            for (int i = 0; tok && i < n; i++, tok = strtok_r(NULL, ",", &save))
                csv->names[i] = strdup(trim(tok));
            continue;
        }
        if (n != csv->ncols)
            goto out;
        if (csv->nrows == rows_cap) {
            rows_cap = rows_cap ? rows_cap * 2 : 256;
            double *c = realloc(csv->cells, (size_t)rows_cap * (size_t)n * sizeof *c);
            if (!c)
                goto out;
            csv->cells = c;
        }
        char *save, *tok = strtok_r(line, ",", &save);
        for (int i = 0; tok && i < n; i++, tok = strtok_r(NULL, ",", &save))
            csv->cells[(size_t)csv->nrows * (size_t)n + (size_t)i] = strtod(trim(tok), NULL);
        csv->nrows++;
    }
    ok = csv->names ? 0 : -1;
out:
    free(line);
    fclose(f);
    return ok;
}

int tu_csv_col(const tu_csv *csv, const char *name)
{
    for (int i = 0; i < csv->ncols; i++)
        if (csv->names[i] && strcmp(csv->names[i], name) == 0)
            return i;
    return -1;
}

double tu_csv_at(const tu_csv *csv, int row, int col)
{
    return csv->cells[(size_t)row * (size_t)csv->ncols + (size_t)col];
}

void tu_csv_free(tu_csv *csv)
{
    for (int i = 0; i < csv->ncols && csv->names; i++)
        free(csv->names[i]);
    free(csv->names);
    free(csv->cells);
    memset(csv, 0, sizeof *csv);
}

static unsigned le32(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24;
}

int tu_bmp_read(const char *path, fa_image *img)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char h[54];
    int rc = -1;
    if (fread(h, 1, 54, f) != 54 || h[0] != 'B' || h[1] != 'M' || h[28] != 24)
        goto out;
    int w = (int)le32(h + 18), hh = (int)le32(h + 22);
    int bottom_up = hh > 0;
    if (hh < 0)
        hh = -hh;
    if (fa_image_alloc(img, w, hh, NULL) != FACEAU_OK)
        goto out;
    size_t row = ((size_t)w * 3 + 3) & ~(size_t)3;
    unsigned char *buf = malloc(row);
    if (!buf || fseek(f, (long)le32(h + 10), SEEK_SET) != 0) {
        free(buf);
        goto out;
    }
    for (int y = 0; y < hh; y++) {
        if (fread(buf, 1, row, f) != row) {
            free(buf);
            fa_image_free(img);
            goto out;
        }
        int dy = bottom_up ? hh - 1 - y : y;
        memcpy(img->bgr + (size_t)dy * (size_t)img->stride, buf, (size_t)w * 3);
    }
    free(buf);
    rc = 0;
out:
    fclose(f);
    return rc;
}

int tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

unsigned char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    *n = (size_t)size;
    unsigned char *b = malloc(*n + 64);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[*n] = '\0';
    fclose(f);
    return b;
}

uint64_t tu_fnv1a(const fa_image *im)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int r = 0; r < im->height; r++) {
        const uint8_t *p = im->bgr + (size_t)r * (size_t)im->stride;
        for (int i = 0; i < im->width * 3; i++) {
            h ^= p[i];
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

void tu_put(tu_buf *o, const void *p, size_t n)
{
    if (o->n + n <= sizeof o->b) {
        memcpy(o->b + o->n, p, n);
        o->n += n;
    }
}
void tu_put_i32(tu_buf *o, int32_t v) { tu_put(o, &v, 4); }
void tu_put_f32(tu_buf *o, float v) { tu_put(o, &v, 4); }
void tu_put_f64(tu_buf *o, double v) { tu_put(o, &v, 8); }

double tu_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

long tu_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

unsigned char *tu_jpeg_encode(int w, int h, int progressive, const unsigned char *rgb,
                              size_t row_stride, unsigned long *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, len);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * row_stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return out;
}
