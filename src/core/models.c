/* models.c - finding OpenFace's model directory and reading its matrix formats. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

#ifndef FACEAU_INSTALL_DATADIR
#define FACEAU_INSTALL_DATADIR "/usr/local/share"
#endif

/* A directory holding this file is an OpenFace model directory usable by the AU stage. */
#define FA_MODEL_MARKER "AU_predictors/main_dynamic_svms.txt"

void fa_skip_comments(FILE *f)
{
    for (;;) {
        int c = getc(f);
        if (c == EOF)
            return;
        if (c != '#' && c != '\n' && c != ' ' && c != '\r') {
            ungetc(c, f);
            return;
        }
        if (c != '\n') {
            while ((c = getc(f)) != EOF && c != '\n')
                ;
        }
    }
}

void fa_mat_free(fa_mat *m)
{
    if (m) {
        free(m->data);
        m->data = NULL;
        m->rows = m->cols = 0;
    }
}

static int type_known(int t)
{
    return t == FA_CV_8U || t == FA_CV_32S || t == FA_CV_32F || t == FA_CV_64F;
}

/* Bounds a matrix so a corrupt header cannot ask for an absurd allocation. */
static faceau_status check_dims(const char *path, int rows, int cols, int type, fa_err *err)
{
    if (rows < 0 || cols < 0 || (int64_t)rows * cols > (int64_t)1 << 28 || !type_known(type))
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: bad matrix header (rows %d, cols %d, type %d)", path, rows, cols, type);
    return FACEAU_OK;
}

faceau_status fa_check_bytes_left(FILE *f, const char *path, uint64_t need, const char *what,
                                  fa_err *err)
{
    struct stat sb;
    long at = ftell(f);
    if (at < 0 || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        return FACEAU_OK; /* not a file we can measure: the reads themselves will tell */
    uint64_t left = (uint64_t)sb.st_size > (uint64_t)at ? (uint64_t)sb.st_size - (uint64_t)at : 0;
    if (need > left)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: %s declares %llu bytes, the file has %llu left (damaged or truncated)",
                       path, what, (unsigned long long)need, (unsigned long long)left);
    return FACEAU_OK;
}

/* fa_textmat_read in the C locale already. */
static faceau_status textmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err)
{
    if (fscanf(f, "%d %d %d", &m->rows, &m->cols, &m->type) != 3)
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: expected a matrix header", path);
    faceau_status st = check_dims(path, m->rows, m->cols, m->type, err);
    if (st)
        return st;
    size_t n = (size_t)m->rows * (size_t)m->cols;
    /* each value takes at least a digit and a separator */
    if ((st = fa_check_bytes_left(f, path, n ? 2 * (uint64_t)n - 1 : 0, "a text matrix", err)))
        return st;
    m->data = fa_malloc(n * sizeof *m->data, err, path);
    if (!m->data)
        return FACEAU_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (fscanf(f, "%lf", &m->data[i]) != 1) {
            fa_mat_free(m);
            return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                           "%s: matrix ends after %zu of %zu values (truncated?)", path, i, n);
        }
    }
    return FACEAU_OK;
}

faceau_status fa_textmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err)
{
    m->data = NULL;
    locale_t c;
    faceau_status st = fa_c_locale_new(&c, err);
    if (st)
        return st;
    locale_t old = uselocale(c);
    st = textmat_read(f, path, m, err);
    uselocale(old);
    freelocale(c);
    return st;
}

/* Reads n little-endian bytes into the host's value (all supported hosts are little-endian;
 * the bytes are assembled explicitly so a big-endian host would still read them right). */
static faceau_status read_le(fa_reader *r, void *v, int n, const char *what)
{
    unsigned char b[8];
    if (fread(b, 1, (size_t)n, r->f) != (size_t)n)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: truncated (ends before %s)", r->path,
                       what);
    uint64_t u = 0;
    for (int k = n - 1; k >= 0; k--)
        u = u << 8 | b[k];
    if (n == 4) {
        uint32_t u32 = (uint32_t)u;
        memcpy(v, &u32, 4);
    } else {
        memcpy(v, &u, 8);
    }
    return FACEAU_OK;
}

faceau_status fa_read_i32(fa_reader *r, int32_t *v, const char *what) { return read_le(r, v, 4, what); }
faceau_status fa_read_f32(fa_reader *r, float *v, const char *what) { return read_le(r, v, 4, what); }
faceau_status fa_read_f64(fa_reader *r, double *v, const char *what) { return read_le(r, v, 8, what); }

faceau_status fa_binmat_read(FILE *f, const char *path, fa_mat *m, fa_err *err)
{
    int32_t r = 0, c = 0, t = 0;
    m->data = NULL;
    fa_reader rd = {f, path, err};
    faceau_status st;
    if ((st = fa_read_i32(&rd, &r, "the matrix header")) || (st = fa_read_i32(&rd, &c, "the matrix header")) ||
        (st = fa_read_i32(&rd, &t, "the matrix header")))
        return st;
    return fa_binmat_read_data(f, path, r, c, t, m, err);
}

faceau_status fa_binmat_read_data(FILE *f, const char *path, int r, int c, int t, fa_mat *m, fa_err *err)
{
    m->data = NULL;
    faceau_status st = check_dims(path, r, c, t, err);
    if (st)
        return st;
    m->rows = r;
    m->cols = c;
    m->type = t;
    size_t n = (size_t)r * (size_t)c;
    size_t esz = t == FA_CV_8U ? 1 : t == FA_CV_64F ? 8 : 4;
    if ((st = fa_check_bytes_left(f, path, (uint64_t)n * esz, "a matrix", err)))
        return st;
    m->data = fa_malloc((n ? n : 1) * sizeof *m->data, err, path);
    if (!m->data)
        return FACEAU_ERR_NOMEM;
    /* The file's values are read into the tail of the doubles and widened front to back in
     * place (no second buffer): double i is written over bytes [8i, 8i+8), which end before
     * value i+1's bytes start (8(i+1) <= 8n - esz(n - i - 1) for esz <= 8), and value i is
     * copied out before its double is written. */
    unsigned char *raw = (unsigned char *)m->data + n * (sizeof *m->data - esz);
    if (fread(raw, esz, n, f) != n) {
        fa_mat_free(m);
        return fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: matrix data truncated (%d x %d)", path, r, c);
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = raw + i * esz;
        if (t == FA_CV_8U) {
            m->data[i] = p[0];
        } else if (t == FA_CV_64F) {
            double d;
            memcpy(&d, p, 8);
            m->data[i] = d;
        } else if (t == FA_CV_32F) {
            float x;
            memcpy(&x, p, 4);
            m->data[i] = x;
        } else {
            int32_t x;
            memcpy(&x, p, 4);
            m->data[i] = x;
        }
    }
    return FACEAU_OK;
}

/* ---- locating the model directory ------------------------------------------------------- */

static int has_marker(const char *dir, const char *marker)
{
    char p[4096];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/%s", dir, marker) >= (int)sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Appends one searched place to the message listing them. */
static void note_tried(char *tried, size_t n, const char *what, const char *dir)
{
    size_t len = strlen(tried);
    if (len < n)
        snprintf(tried + len, n - len, "\n  %s: %s", what, dir);
}

static faceau_status try_dir(const char *what, const char *dir, const char *marker, char *out,
                             size_t out_size, char *tried, size_t tried_size)
{
    if (dir && *dir && has_marker(dir, marker)) {
        if (strlen(dir) >= out_size)
            return FACEAU_ERR_INVALID_ARG;
        strcpy(out, dir);
        return FACEAU_OK;
    }
    note_tried(tried, tried_size, what, dir && *dir ? dir : "(not set)");
    return FACEAU_ERR_MODEL_NOT_FOUND;
}

faceau_status faceau_models_locate(const char *hint, char *dir, size_t dir_size, char *errbuf,
                                   size_t errbuf_size)
{
    return fa_models_locate(hint, FA_MODEL_MARKER, dir, dir_size, errbuf, errbuf_size);
}

faceau_status fa_models_locate(const char *hint, const char *marker, char *dir, size_t dir_size,
                               char *errbuf, size_t errbuf_size)
{
    char tried[3072] = "";
    char buf[4096];
    if (!dir || dir_size == 0) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "faceau_models_locate: no buffer for the directory");
        return FACEAU_ERR_INVALID_ARG;
    }
    if (hint && *hint) {
        /* -mloc may name OpenFace's main_clnf_general.txt: its directory holds the models. */
        struct stat st;
        snprintf(buf, sizeof buf, "%s", hint);
        if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) {
            char *slash = strrchr(buf, '/');
            if (slash)
                *slash = '\0';
            else
                strcpy(buf, ".");
        }
        if (try_dir("-mloc", buf, marker, dir, dir_size, tried, sizeof tried) == FACEAU_OK)
            return FACEAU_OK;
    }
    if (try_dir("$FACEAU_MODELS", getenv("FACEAU_MODELS"), marker, dir, dir_size, tried, sizeof tried) ==
        FACEAU_OK)
        return FACEAU_OK;
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, sizeof buf, "%s/faceau/models", xdg);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.local/share/faceau/models", home);
    else
        buf[0] = '\0';
    if (try_dir("user data dir", buf, marker, dir, dir_size, tried, sizeof tried) == FACEAU_OK)
        return FACEAU_OK;
    snprintf(buf, sizeof buf, "%s/faceau/models", FACEAU_INSTALL_DATADIR);
    if (try_dir("install prefix", buf, marker, dir, dir_size, tried, sizeof tried) == FACEAU_OK)
        return FACEAU_OK;
    if (errbuf && errbuf_size)
        snprintf(errbuf, errbuf_size,
                 "OpenFace model files not found (looked for %s in each place):%s\n"
                 "Install them with 'scripts/get-models.sh --from OPENFACE_MODEL_DIR' (or without "
                 "arguments to download them), or point -mloc or FACEAU_MODELS at OpenFace's model "
                 "directory.",
                 marker, tried);
    return FACEAU_ERR_MODEL_NOT_FOUND;
}
