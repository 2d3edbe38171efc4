/* util.c - errors, checked allocation, images. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

faceau_status fa_fail(fa_err *err, faceau_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void fa_err_clear(fa_err *err)
{
    if (err) {
        err->status = FACEAU_OK;
        err->msg[0] = '\0';
    }
}

faceau_status fa_err_to_buf(faceau_status status, const fa_err *err, char *buf, size_t n)
{
    if (status != FACEAU_OK && buf && n)
        snprintf(buf, n, "%s", err && err->msg[0] ? err->msg : faceau_status_string(status));
    return status;
}

faceau_status fa_c_locale_new(locale_t *out, fa_err *err)
{
    *out = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (*out == (locale_t)0)
        return fa_fail(err, FACEAU_ERR_NOMEM, "cannot create a C locale: %s", strerror(errno));
    return FACEAU_OK;
}

void *fa_malloc(size_t n, fa_err *err, const char *what)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fa_fail(err, FACEAU_ERR_NOMEM, "out of memory allocating %zu bytes for %s", n, what);
    return p;
}

void *fa_calloc(size_t count, size_t size, fa_err *err, const char *what)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        fa_fail(err, FACEAU_ERR_NOMEM, "out of memory allocating %zu x %zu bytes for %s", count, size,
                what);
    return p;
}

faceau_status fa_image_alloc(fa_image *img, int width, int height, fa_err *err)
{
    img->width = img->height = img->stride = 0;
    img->bgr = NULL;
    if (width <= 0 || height <= 0 || width > 65535 || height > 65535)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "image size %dx%d is out of range", width, height);
    size_t stride = (size_t)width * 3;
    uint8_t *p = fa_malloc(stride * (size_t)height, err, "an image");
    if (!p)
        return FACEAU_ERR_NOMEM;
    img->width = width;
    img->height = height;
    img->stride = (int)stride;
    img->bgr = p;
    return FACEAU_OK;
}

void fa_image_free(fa_image *img)
{
    if (img) {
        free(img->bgr);
        img->bgr = NULL;
        img->width = img->height = img->stride = 0;
    }
}

faceau_status fa_fopen_read(const char *path, FILE **out, fa_err *err)
{
    *out = fopen(path, "rb");
    if (!*out)
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return FACEAU_OK;
}

FILE *fa_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/faceau-XXXXXX", dir && *dir ? dir : "/tmp") >= (int)sizeof path)
        return NULL;
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path); /* gone from the directory now: nothing is left behind, even after a kill */
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        close(fd);
    return f;
}

faceau_status fa_path_join(char *out, size_t n, const char *dir, const char *rel, fa_err *err)
{
    /* like boost's root / location: an absolute rel stands alone */
    int k = (dir && *dir && rel[0] != '/') ? snprintf(out, n, "%s/%s", dir, rel)
                                           : snprintf(out, n, "%s", rel);
    if (k < 0 || (size_t)k >= n)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "path too long: %s/%s", dir ? dir : "", rel);
    return FACEAU_OK;
}
