/* csv.c - OpenFace's CSV format: the writer (RecorderCSV), the AU rewrite that ends
 * FeatureExtraction (FaceAnalyser::PostprocessOutputFile), and a reader for landmarks.
 *
 * Numbers: OpenFace prints with iostream std::fixed + setprecision, which libstdc++ implements
 * with vsnprintf("%.*f") in the "C" locale (its numpunct only forces '.'), so printf("%.*f") is
 * the specification. put_fixed() reproduces it exactly for the common range (see there). */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io.h"

#define FIXED_MAX FA_CSV_FIXED_MAX
#define MAX_COLS 760 /* every group (714) and -au_dual's 17 */
#define SEP_LEN 2 /* ", " */

static const char *const gaze_cols[8] = {"gaze_0_x", "gaze_0_y", "gaze_0_z", "gaze_1_x",
                                         "gaze_1_y", "gaze_1_z", "gaze_angle_x", "gaze_angle_y"};
static const char *const pose_cols[6] = {"pose_Tx", "pose_Ty", "pose_Tz",
                                         "pose_Rx", "pose_Ry", "pose_Rz"};
static const char *const rigid_cols[6] = {"p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"};

/* ---- fixed-point formatting ------------------------------------------------------------ */

static char *put_uint(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* round(prod / 2^s) with ties to even, where prod = mant * p10 (mant < 2^53, p10 <= 10^6, so
 * prod < 2^73) is held exactly in two 64-bit words. The caller guarantees the quotient fits. */
static uint64_t scaled_round(uint64_t mant, uint64_t p10, int s)
{
    uint64_t a = (mant >> 32) * p10, b = (mant & 0xffffffffu) * p10;
    uint64_t lo = (a << 32) + b;
    uint64_t hi = (a >> 32) + (lo < b);
    if (s >= 74) /* prod < 2^73 <= half of 2^s */
        return 0;
    uint64_t q = s < 64 ? (lo >> s) | (hi << (64 - s)) : hi >> (s - 64);
    int k = s - 1; /* the bit worth one half */
    uint64_t half = k < 64 ? (lo >> k) & 1 : (hi >> (k - 64)) & 1;
    int below;
    if (k == 0)
        below = 0;
    else if (k < 64)
        below = (lo & ((UINT64_C(1) << k) - 1)) != 0;
    else
        below = lo != 0 || (hi & ((UINT64_C(1) << (k - 64)) - 1)) != 0;
    if (half && (below || (q & 1)))
        q++;
    return q;
}

/* The rare values put_fixed leaves to the C library (huge, infinite, NaN): printf("%.*f") in
 * the C locale, whatever the process's LC_NUMERIC. */
static char *put_fixed_libc(char *p, double v, int dp)
{
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0), old = (locale_t)0;
    if (c != (locale_t)0)
        old = uselocale(c);
    int k = snprintf(p, FIXED_MAX, "%.*f", dp, v);
    if (c != (locale_t)0) {
        uselocale(old);
        freelocale(c);
    }
    int len = k < 0 ? 0 : k >= FIXED_MAX ? FIXED_MAX - 1 : k;
    /* without a locale object (out of memory) the radix may be the host's: it is the only
     * character of "%.*f" output that is not a digit, a sign or a letter of inf/nan */
    for (int i = 0; i < len; i++)
        if (p[i] == ',')
            p[i] = '.';
    return p + len;
}

/* Writes v as printf("%.*f", dp, v) does (exact binary value, ties to even, "-0.00" for
 * negatives that round to zero) and returns the end. Needs FIXED_MAX bytes at p; no NUL.
 * |v| < 1e12 is done exactly in integers: |v| = mant * 2^-s (frexp/ldexp are exact), so the
 * decimal result is round(mant * 10^dp / 2^s), below 10^18. Anything else goes to snprintf. */
static char *put_fixed(char *p, double v, int dp)
{
    static const uint64_t p10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    double a = fabs(v);
    if (!(a < 1e12) || dp < 0 || dp > 6)
        return put_fixed_libc(p, v, dp);
    int e;
    uint64_t mant = (uint64_t)ldexp(frexp(a, &e), 53);
    uint64_t q = scaled_round(mant, p10[dp], 53 - e);
    if (signbit(v))
        *p++ = '-';
    p = put_uint(p, q / p10[dp]);
    if (dp > 0) {
        uint64_t f = q % p10[dp];
        *p = '.';
        for (int i = dp; i >= 1; i--) {
            p[i] = (char)('0' + f % 10);
            f /= 10;
        }
        p += dp + 1;
    }
    return p;
}

size_t fa_csv_format_fixed(char *out, double v, int dp)
{
    char *end = put_fixed(out, v, dp);
    *end = '\0';
    return (size_t)(end - out);
}

static char *put_sep(char *p)
{
    p[0] = ',';
    p[1] = ' ';
    return p + SEP_LEN;
}

static char *put_long(char *p, long v)
{
    if (v < 0) {
        *p++ = '-';
        return put_uint(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_uint(p, (uint64_t)v);
}

/* ---- column layout --------------------------------------------------------------------- */

enum { K_NUM, K_FRAME, K_FACE_ID, K_SUCCESS };
enum { LAYOUT_SEQ, LAYOUT_IMAGE, LAYOUT_ANY };

typedef struct col_spec {
    char name[16];
    unsigned char kind, dp;
    unsigned short group; /* FA_CSV_HAS_* bit, 0 for the leading columns */
    size_t off;           /* K_NUM: byte offset of the double in fa_csv_row */
} col_spec;

typedef struct col_list {
    col_spec *c;
    int n;
} col_list;

#define ROW_OFF(field, i) (offsetof(fa_csv_row, field) + (size_t)(i) * sizeof(double))

static void add_col(col_list *l, const char *name, int idx, int kind, int dp, unsigned group,
                    size_t off)
{
    col_spec *c = &l->c[l->n++];
    if (idx >= 0)
        snprintf(c->name, sizeof c->name, "%s%d", name, idx);
    else
        snprintf(c->name, sizeof c->name, "%s", name);
    c->kind = (unsigned char)kind;
    c->dp = (unsigned char)dp;
    c->group = (unsigned short)group;
    c->off = off;
}

static void add_series(col_list *l, const char *prefix, int count, size_t off0, int dp,
                       unsigned group)
{
    for (int i = 0; i < count; i++)
        add_col(l, prefix, i, K_NUM, dp, group, off0 + (size_t)i * sizeof(double));
}

static void add_named(col_list *l, const char *const *names, int count, size_t off0, int dp,
                      unsigned group)
{
    for (int i = 0; i < count; i++)
        add_col(l, names[i], -1, K_NUM, dp, group, off0 + (size_t)i * sizeof(double));
}

/* OpenFace writes the AUs in sorted name order (RecorderCSV::Open sorts them): the order of
 * faceau_au_intensity_name / faceau_au_presence_name, with suffix _r or _c. */
static void add_aus(col_list *l, int presence, size_t off0, int dp)
{
    int count = presence ? FA_N_AU_C : FA_N_AU_R;
    for (int i = 0; i < count; i++) {
        char name[16];
        const char *au = presence ? faceau_au_presence_name(i) : faceau_au_intensity_name(i);
        snprintf(name, sizeof name, "%s_%c", au, presence ? 'c' : 'r');
        add_col(l, name, -1, K_NUM, dp, FA_CSV_HAS_AUS, off0 + (size_t)i * sizeof(double));
    }
}

static void add_leading(col_list *l, int layout)
{
    if (layout != LAYOUT_IMAGE) {
        add_col(l, "frame", -1, K_FRAME, 0, 0, 0);
        add_col(l, "face_id", -1, K_FACE_ID, 0, 0, 0);
    }
    if (layout != LAYOUT_SEQ)
        add_col(l, "face", -1, K_FACE_ID, 0, 0, 0);
    if (layout != LAYOUT_IMAGE)
        add_col(l, "timestamp", -1, K_NUM, 3, 0, ROW_OFF(timestamp, 0));
    add_col(l, "confidence", -1, K_NUM, layout == LAYOUT_IMAGE ? 3 : 2, FA_CSV_HAS_CONF,
            ROW_OFF(confidence, 0));
    if (layout != LAYOUT_IMAGE)
        add_col(l, "success", -1, K_SUCCESS, 0, 0, 0);
}

/* OpenFace's column order (RecorderCSV::Open / WriteLine); the eye landmarks belong to gaze. */
static int build_columns(col_spec *cols, unsigned outputs, int layout, int dual)
{
    col_list l = {cols, 0};
    const int E = FA_N_EYE_LMK, L = FA_N_LANDMARKS;
    add_leading(&l, layout);
    if (outputs & FACEAU_OUT_GAZE) {
        add_named(&l, gaze_cols, 6, ROW_OFF(gaze, 0), 6, FA_CSV_HAS_GAZE);
        add_named(&l, gaze_cols + 6, 2, ROW_OFF(gaze, 6), 3, FA_CSV_HAS_GAZE);
        add_series(&l, "eye_lmk_x_", E, ROW_OFF(eye_lmk2d, 0), 1, FA_CSV_HAS_EYE);
        add_series(&l, "eye_lmk_y_", E, ROW_OFF(eye_lmk2d, E), 1, FA_CSV_HAS_EYE);
        add_series(&l, "eye_lmk_X_", E, ROW_OFF(eye_lmk3d, 0), 1, FA_CSV_HAS_EYE);
        add_series(&l, "eye_lmk_Y_", E, ROW_OFF(eye_lmk3d, E), 1, FA_CSV_HAS_EYE);
        add_series(&l, "eye_lmk_Z_", E, ROW_OFF(eye_lmk3d, 2 * E), 1, FA_CSV_HAS_EYE);
    }
    if (outputs & FACEAU_OUT_POSE) {
        add_named(&l, pose_cols, 3, ROW_OFF(pose, 0), 1, FA_CSV_HAS_POSE);
        add_named(&l, pose_cols + 3, 3, ROW_OFF(pose, 3), 3, FA_CSV_HAS_POSE);
    }
    if (outputs & FACEAU_OUT_2DFP) {
        add_series(&l, "x_", L, ROW_OFF(lmk2d, 0), 1, FA_CSV_HAS_2D);
        add_series(&l, "y_", L, ROW_OFF(lmk2d, L), 1, FA_CSV_HAS_2D);
    }
    if (outputs & FACEAU_OUT_3DFP) {
        add_series(&l, "X_", L, ROW_OFF(lmk3d, 0), 1, FA_CSV_HAS_3D);
        add_series(&l, "Y_", L, ROW_OFF(lmk3d, L), 1, FA_CSV_HAS_3D);
        add_series(&l, "Z_", L, ROW_OFF(lmk3d, 2 * L), 1, FA_CSV_HAS_3D);
    }
    if (outputs & FACEAU_OUT_PDM) {
        add_named(&l, rigid_cols, 6, ROW_OFF(params, 0), 3, FA_CSV_HAS_PDM);
        add_series(&l, "p_", FA_N_MODES, ROW_OFF(params, 6), 3, FA_CSV_HAS_PDM);
    }
    if (outputs & FACEAU_OUT_AUS) {
        add_aus(&l, 0, ROW_OFF(au_r, 0), 2);
        add_aus(&l, 1, ROW_OFF(au_c, 0), 1);
    }
    /* -au_dual: after every OpenFace column, so those keep their positions (and scripts that
     * find them by name or number read the file unchanged) */
    if ((outputs & FACEAU_OUT_AUS) && dual && layout != LAYOUT_IMAGE)
        for (int i = 0; i < FA_N_AU_R; i++) {
            char name[16];
            snprintf(name, sizeof name, "%.4s_r_static", faceau_au_intensity_name(i));
            add_col(&l, name, -1, K_NUM, 2, 0, ROW_OFF(au_r_static, i));
        }
    return l.n;
}

static double row_num(const fa_csv_row *row, size_t off)
{
    double v;
    memcpy(&v, (const char *)row + off, sizeof v);
    return v;
}

static void set_row_num(fa_csv_row *row, size_t off, double v)
{
    memcpy((char *)row + off, &v, sizeof v);
}

/* ---- writer ---------------------------------------------------------------------------- */

struct fa_csv_writer {
    FILE *f;
    char *path;
    int failed; /* a write failed: later calls fail too, the file is incomplete */
    int ncols;
    col_spec cols[MAX_COLS];
    char *buf; /* one row: ncols * (SEP_LEN + FIXED_MAX) + newline */
};

static char *dup_str(const char *s, fa_err *err)
{
    size_t n = strlen(s) + 1;
    char *d = fa_malloc(n, err, "a file name");
    if (d)
        memcpy(d, s, n);
    return d;
}

static faceau_status write_all(fa_csv_writer *w, const char *p, size_t n, fa_err *err)
{
    if (fwrite(p, 1, n, w->f) != n) {
        w->failed = 1;
        return fa_fail(err, FACEAU_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    }
    return FACEAU_OK;
}

static void writer_free(fa_csv_writer *w)
{
    free(w->buf);
    free(w->path);
    free(w);
}

static faceau_status write_header(fa_csv_writer *w, fa_err *err)
{
    char *p = w->buf;
    for (int i = 0; i < w->ncols; i++) {
        if (i)
            p = put_sep(p);
        size_t k = strlen(w->cols[i].name);
        memcpy(p, w->cols[i].name, k);
        p += k;
    }
    *p++ = '\n';
    return write_all(w, w->buf, (size_t)(p - w->buf), err);
}

faceau_status fa_csv_writer_open(const char *path, unsigned outputs, int image_mode,
                                 fa_csv_writer **out, fa_err *err)
{
    return fa_csv_writer_open_dual(path, outputs, image_mode, 0, out, err);
}

faceau_status fa_csv_writer_open_dual(const char *path, unsigned outputs, int image_mode, int dual,
                                      fa_csv_writer **out, fa_err *err)
{
    *out = NULL;
    if (outputs & ~(unsigned)FACEAU_OUT_ALL)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "%s: unknown output flags 0x%x", path,
                       outputs);
    fa_csv_writer *w = fa_calloc(1, sizeof *w, err, "a CSV writer");
    if (!w)
        return FACEAU_ERR_NOMEM;
    w->ncols = build_columns(w->cols, outputs ? outputs : (unsigned)FACEAU_OUT_ALL,
                             image_mode ? LAYOUT_IMAGE : LAYOUT_SEQ, dual);
    w->path = dup_str(path, err);
    w->buf = fa_malloc((size_t)w->ncols * (SEP_LEN + FIXED_MAX) + 2, err, "a CSV row");
    if (!w->path || !w->buf) {
        writer_free(w);
        return FACEAU_ERR_NOMEM;
    }
    w->f = fopen(path, "wb");
    if (!w->f) {
        faceau_status st = fa_fail(err, FACEAU_ERR_IO, "%s: cannot create: %s", path,
                                   strerror(errno));
        writer_free(w);
        return st;
    }
    /* A failed setvbuf only costs speed. */
    (void)setvbuf(w->f, NULL, _IOFBF, 1 << 16);
    faceau_status st = write_header(w, err);
    if (st != FACEAU_OK) {
        fclose(w->f);
        writer_free(w);
        return st;
    }
    *out = w;
    return FACEAU_OK;
}

void fa_csv_writer_full_precision(fa_csv_writer *w)
{
    for (int i = 0; i < w->ncols; i++)
        if (w->cols[i].kind == K_NUM)
            w->cols[i].dp = 6;
}

static char *put_cell(char *p, const col_spec *c, const fa_csv_row *row)
{
    switch (c->kind) {
    case K_FRAME: return put_long(p, row->frame);
    case K_FACE_ID: return put_long(p, row->face_id);
    case K_SUCCESS: *p++ = row->success ? '1' : '0'; return p;
    default: return put_fixed(p, row_num(row, c->off), c->dp);
    }
}

faceau_status fa_csv_write_row(fa_csv_writer *w, const fa_csv_row *row, fa_err *err)
{
    if (w->failed)
        return fa_fail(err, FACEAU_ERR_IO, "%s: an earlier write failed", w->path);
    char *p = w->buf;
    for (int i = 0; i < w->ncols; i++) {
        if (i)
            p = put_sep(p);
        p = put_cell(p, &w->cols[i], row);
    }
    *p++ = '\n';
    return write_all(w, w->buf, (size_t)(p - w->buf), err);
}

faceau_status fa_csv_writer_close(fa_csv_writer *w, fa_err *err)
{
    if (!w)
        return FACEAU_OK;
    faceau_status st = FACEAU_OK;
    if (w->failed)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: incomplete, an earlier write failed", w->path);
    if (fflush(w->f) != 0 || ferror(w->f)) {
        if (st == FACEAU_OK)
            st = fa_fail(err, FACEAU_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    }
    if (fclose(w->f) != 0 && st == FACEAU_OK)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: close failed: %s", w->path, strerror(errno));
    writer_free(w);
    return st;
}

/* ---- shared text helpers --------------------------------------------------------------- */

/* The characters boost::trim removes in the classic locale. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Trims [*b, *e) in place. */
static void trim_span(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

/* getline that tells a read error (or out of memory) from the end of the file. */
static faceau_status read_line(FILE *f, const char *path, char **buf, size_t *cap, ssize_t *len,
                               fa_err *err)
{
    errno = 0;
    *len = getline(buf, cap, f);
    if (*len < 0 && !feof(f)) {
        if (errno == ENOMEM)
            return fa_fail(err, FACEAU_ERR_NOMEM, "%s: out of memory reading a line", path);
        return fa_fail(err, FACEAU_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    }
    return FACEAU_OK;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* ---- AU rewrite (PostprocessOutputFile) ------------------------------------------------ */

typedef struct rewrite_ctx {
    const char *in_path, *out_path;
    FILE *in, *out;
    char *line, *obuf;
    size_t line_cap, obuf_cap;
    int au_begin; /* header token index of the first column containing "AU" */
    const double *stat; /* -au_dual: the static intensities, n x 17, for the last 17 columns */
    int stat_begin;
    int dp;       /* decimals of the rewritten AU values (OpenFace: 2) */
} rewrite_ctx;

static faceau_status rw_write(rewrite_ctx *c, const char *p, size_t n, fa_err *err)
{
    if (fwrite(p, 1, n, c->out) != n)
        return fa_fail(err, FACEAU_ERR_IO, "%s: write failed: %s", c->out_path, strerror(errno));
    return FACEAU_OK;
}

/* OpenFace splits the header on ',' and takes the first token containing "AU". */
static faceau_status rw_header(rewrite_ctx *c, fa_err *err)
{
    ssize_t n;
    faceau_status st = read_line(c->in, c->in_path, &c->line, &c->line_cap, &n, err);
    if (st != FACEAU_OK)
        return st;
    if (n < 0)
        return fa_fail(err, FACEAU_ERR_CSV, "%s: empty file, no header", c->in_path);
    if (n > 0 && c->line[n - 1] == '\n')
        n--;
    int tok = 0, ntok = 1;
    c->au_begin = -1;
    const char *b = c->line, *end = c->line + n;
    for (const char *p = c->line; p <= end; p++) {
        if (p < end && *p != ',')
            continue;
        for (const char *q = b; c->au_begin < 0 && q + 1 < p; q++)
            if (q[0] == 'A' && q[1] == 'U')
                c->au_begin = tok;
        if (p < end)
            ntok++;
        tok++;
        b = p + 1;
    }
    if (c->au_begin < 1 || c->au_begin + FA_N_AU_R + FA_N_AU_C > ntok)
        return fa_fail(err, FACEAU_ERR_CSV, "%s: the header has no block of %d AU columns",
                       c->in_path, FA_N_AU_R + FA_N_AU_C);
    c->stat_begin = c->stat ? ntok - FA_N_AU_R : ntok;
    if (c->stat && c->stat_begin < c->au_begin + FA_N_AU_R + FA_N_AU_C)
        return fa_fail(err, FACEAU_ERR_CSV, "%s: no static AU columns after OpenFace's", c->in_path);
    st = rw_write(c, c->line, (size_t)n, err);
    return st != FACEAU_OK ? st : rw_write(c, "\n", 1, err);
}

static faceau_status rw_reserve(rewrite_ctx *c, size_t need, fa_err *err)
{
    if (need <= c->obuf_cap)
        return FACEAU_OK;
    char *p = realloc(c->obuf, need);
    if (!p)
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory (%zu bytes) rewriting %s", need,
                       c->in_path);
    c->obuf = p;
    c->obuf_cap = need;
    return FACEAU_OK;
}

/* One data line: token 0 and the non-AU tokens trimmed, AU tokens replaced with 2 decimals. */
static faceau_status rw_line(rewrite_ctx *c, size_t n, const double *inten, const double *pres,
                             const double *stat, fa_err *err)
{
    /* every ',' may become ", " (one byte more), every other token is copied or shortened */
    faceau_status st = rw_reserve(c, 2 * n + (size_t)(2 * FA_N_AU_R + FA_N_AU_C) * FIXED_MAX + 2, err);
    if (st != FACEAU_OK)
        return st;
    const int begin = c->au_begin, mid = begin + FA_N_AU_R, stop = mid + FA_N_AU_C;
    const char *b = c->line, *end = c->line + n;
    char *o = c->obuf;
    int t = 0;
    for (const char *p = c->line; p <= end; p++) {
        if (p < end && *p != ',')
            continue;
        if (t)
            o = put_sep(o);
        if (t >= begin && t < mid) {
            o = put_fixed(o, inten[t - begin], c->dp);
        } else if (t >= mid && t < stop) {
            o = put_fixed(o, pres[t - mid], c->dp);
        } else if (stat && t >= c->stat_begin) {
            o = put_fixed(o, stat[t - c->stat_begin], c->dp);
        } else {
            const char *tb = b, *te = p;
            trim_span(&tb, &te);
            memcpy(o, tb, (size_t)(te - tb));
            o += te - tb;
        }
        t++;
        b = p + 1;
    }
    *o++ = '\n';
    return rw_write(c, c->obuf, (size_t)(o - c->obuf), err);
}

static faceau_status rw_body(rewrite_ctx *c, const double *intensity, const double *presence,
                             size_t n, fa_err *err)
{
    size_t i = 0;
    for (;;) {
        ssize_t len;
        faceau_status st = read_line(c->in, c->in_path, &c->line, &c->line_cap, &len, err);
        if (st != FACEAU_OK)
            return st;
        if (len < 0)
            break;
        if (i == n)
            return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                           "%s: more data rows than the %zu AU predictions given", c->in_path, n);
        if (len > 0 && c->line[len - 1] == '\n')
            len--;
        st = rw_line(c, (size_t)len, intensity + i * FA_N_AU_R, presence + i * FA_N_AU_C,
                     c->stat ? c->stat + i * FA_N_AU_R : NULL, err);
        if (st != FACEAU_OK)
            return st;
        i++;
    }
    if (i != n)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "%s: %zu data rows but %zu AU predictions given", c->in_path, i, n);
    return FACEAU_OK;
}

faceau_status fa_csv_rewrite_aus(const char *in_path, const char *out_path, const double *intensity,
                                 const double *presence, size_t n, fa_err *err)
{
    return fa_csv_rewrite_aus_dp(in_path, out_path, intensity, presence, n, 2, err);
}

faceau_status fa_csv_rewrite_aus_dp(const char *in_path, const char *out_path,
                                    const double *intensity, const double *presence, size_t n,
                                    int dp, fa_err *err)
{
    return fa_csv_rewrite_aus_dual(in_path, out_path, intensity, presence, NULL, n, dp, err);
}

faceau_status fa_csv_rewrite_aus_dual(const char *in_path, const char *out_path,
                                      const double *intensity, const double *presence,
                                      const double *stat, size_t n, int dp, fa_err *err)
{
    if (same_file(in_path, out_path))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "%s: cannot rewrite a CSV onto itself",
                       in_path);
    rewrite_ctx c = {in_path, out_path, NULL, NULL, NULL, NULL, 0, 0, -1, stat, 0, dp < 0 || dp > 6 ? 2 : dp};
    faceau_status st = fa_fopen_read(in_path, &c.in, err);
    if (st != FACEAU_OK)
        return st;
    c.out = fopen(out_path, "wb");
    if (!c.out) {
        fclose(c.in);
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot create: %s", out_path, strerror(errno));
    }
    (void)setvbuf(c.out, NULL, _IOFBF, 1 << 16);
    st = rw_header(&c, err);
    if (st == FACEAU_OK)
        st = rw_body(&c, intensity, presence, n, err);
    if (fflush(c.out) != 0 && st == FACEAU_OK)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: write failed: %s", out_path, strerror(errno));
    if (fclose(c.out) != 0 && st == FACEAU_OK)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: close failed: %s", out_path, strerror(errno));
    fclose(c.in);
    free(c.line);
    free(c.obuf);
    return st;
}

/* ---- reader ---------------------------------------------------------------------------- */

struct fa_csv_reader {
    FILE *f;
    char *path;
    char *line;
    size_t line_cap;
    long lineno;
    int ncols;
    unsigned groups;
    col_spec *map;   /* per file column: what it fills (name[0] == 0: ignored) */
    col_spec known[MAX_COLS];
    int nknown;
    locale_t c_locale; /* strtod's locale (numbers always use '.') */
};

void fa_csv_reader_close(fa_csv_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->map);
    free(r->line);
    free(r->path);
    if (r->c_locale != (locale_t)0)
        freelocale(r->c_locale);
    free(r);
}

unsigned fa_csv_reader_groups(const fa_csv_reader *r)
{
    return r->groups;
}

static int count_fields(const char *s, size_t n)
{
    int k = 1;
    for (const char *p = s; (p = memchr(p, ',', (size_t)(s + n - p))) != NULL; p++)
        k++;
    return k;
}

static int find_known(const fa_csv_reader *r, const char *b, size_t n)
{
    for (int i = 0; i < r->nknown; i++)
        if (strlen(r->known[i].name) == n && memcmp(r->known[i].name, b, n) == 0)
            return i;
    return -1;
}

/* Maps each header name to its field; seen[] counts the known columns found. */
static faceau_status map_header(fa_csv_reader *r, const char *line, size_t n, int *seen,
                                fa_err *err)
{
    r->ncols = count_fields(line, n);
    r->map = fa_calloc((size_t)r->ncols, sizeof *r->map, err, "a CSV column map");
    if (!r->map)
        return FACEAU_ERR_NOMEM;
    const char *b = line, *end = line + n;
    int col = 0;
    for (const char *p = line; p <= end; p++) {
        if (p < end && *p != ',')
            continue;
        const char *tb = b, *te = p;
        trim_span(&tb, &te);
        int k = find_known(r, tb, (size_t)(te - tb));
        if (k >= 0 && seen[k]++)
            return fa_fail(err, FACEAU_ERR_CSV, "%s: column %s appears twice", r->path,
                           r->known[k].name);
        if (k >= 0)
            r->map[col] = r->known[k];
        col++;
        b = p + 1;
    }
    return FACEAU_OK;
}

static int known_index(const fa_csv_reader *r, const char *name)
{
    return find_known(r, name, strlen(name));
}

/* A group counts as present when all its columns are. */
static unsigned complete_groups(const fa_csv_reader *r, const int *seen)
{
    static const unsigned bits[] = {FA_CSV_HAS_GAZE, FA_CSV_HAS_POSE, FA_CSV_HAS_2D,
                                    FA_CSV_HAS_3D,   FA_CSV_HAS_PDM,  FA_CSV_HAS_AUS,
                                    FA_CSV_HAS_EYE,  FA_CSV_HAS_CONF};
    unsigned groups = 0;
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        int all = 1;
        for (int i = 0; i < r->nknown; i++)
            if (r->known[i].group == bits[b] && !seen[i])
                all = 0;
        if (all)
            groups |= bits[b];
    }
    return groups;
}

static faceau_status check_required(fa_csv_reader *r, const int *seen, fa_err *err)
{
    for (int i = 0; i < r->nknown; i++)
        if (r->known[i].group == FA_CSV_HAS_2D && !seen[i])
            return fa_fail(err, FACEAU_ERR_CSV, "%s: missing column %s", r->path,
                           r->known[i].name);
    /* Image CSVs have no success column: FaceLandmarkImg only writes the faces it found. */
    if (!seen[known_index(r, "success")] && !seen[known_index(r, "face")])
        return fa_fail(err, FACEAU_ERR_CSV, "%s: missing column success", r->path);
    return FACEAU_OK;
}

static faceau_status read_header(fa_csv_reader *r, fa_err *err)
{
    ssize_t n;
    faceau_status st = read_line(r->f, r->path, &r->line, &r->line_cap, &n, err);
    if (st != FACEAU_OK)
        return st;
    if (n <= 0)
        return fa_fail(err, FACEAU_ERR_CSV, "%s: empty file, no header", r->path);
    r->lineno = 1;
    if (r->line[n - 1] != '\n')
        return fa_fail(err, FACEAU_ERR_CSV, "%s: the header line is cut off (file truncated?)",
                       r->path);
    const char *line = r->line;
    if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
        line += 3;
        n -= 3;
    }
    int seen[MAX_COLS] = {0};
    st = map_header(r, line, (size_t)n, seen, err);
    if (st == FACEAU_OK)
        st = check_required(r, seen, err);
    r->groups = complete_groups(r, seen);
    return st;
}

faceau_status fa_csv_reader_open(const char *path, fa_csv_reader **out, fa_err *err)
{
    *out = NULL;
    fa_csv_reader *r = fa_calloc(1, sizeof *r, err, "a CSV reader");
    if (!r)
        return FACEAU_ERR_NOMEM;
    r->path = dup_str(path, err);
    if (!r->path) {
        fa_csv_reader_close(r);
        return FACEAU_ERR_NOMEM;
    }
    r->nknown = build_columns(r->known, FACEAU_OUT_ALL, LAYOUT_ANY, 0);
    faceau_status st = fa_c_locale_new(&r->c_locale, err);
    if (st == FACEAU_OK)
        st = fa_fopen_read(path, &r->f, err);
    if (st == FACEAU_OK)
        st = read_header(r, err);
    if (st != FACEAU_OK) {
        fa_csv_reader_close(r);
        return st;
    }
    *out = r;
    return FACEAU_OK;
}

static faceau_status bad_cell(const fa_csv_reader *r, int col, const char *b, const char *e,
                              const char *why, fa_err *err)
{
    const char *name = r->map[col].name[0] ? r->map[col].name : "?";
    return fa_fail(err, FACEAU_ERR_CSV, "%s: line %ld, field %d (%s): %s: \"%.*s\"", r->path,
                   r->lineno, col + 1, name, why, (int)(e - b > 40 ? 40 : e - b), b);
}

/* Stores one cell (already split off and NUL-terminated at e). */
static faceau_status store_cell(const fa_csv_reader *r, int col, const char *b, const char *e,
                                fa_csv_row *row, fa_err *err)
{
    const col_spec *c = &r->map[col];
    if (!c->name[0])
        return FACEAU_OK;
    const char *tb = b, *te = e;
    trim_span(&tb, &te);
    char *stop;
    double v = tb < te ? strtod(tb, &stop) : 0;
    if (tb == te || stop != te)
        return bad_cell(r, col, b, e, "not a number", err);
    /* nan, inf and absurd coordinates would reach the AU stage's histograms and geometry */
    if (!isfinite(v))
        return bad_cell(r, col, b, e, "not a finite number", err);
    if (c->group == FA_CSV_HAS_2D && fabs(v) > FA_CSV_MAX_COORD)
        return bad_cell(r, col, b, e, "a landmark outside +-1e6 px", err);
    if (c->kind != K_NUM && !(v == floor(v) && fabs(v) <= 2147483647.0))
        return bad_cell(r, col, b, e, "not an integer", err);
    switch (c->kind) {
    case K_FRAME: row->frame = (long)v; break;
    case K_FACE_ID: row->face_id = (int)v; break;
    case K_SUCCESS: row->success = v != 0; break;
    default: set_row_num(row, c->off, v); break;
    }
    return FACEAU_OK;
}

static faceau_status parse_row(fa_csv_reader *r, size_t n, fa_csv_row *row, fa_err *err)
{
    int k = count_fields(r->line, n);
    if (k != r->ncols)
        return fa_fail(err, FACEAU_ERR_CSV, "%s: line %ld has %d fields, the header has %d",
                       r->path, r->lineno, k, r->ncols);
    memset(row, 0, sizeof *row);
    row->success = 1;
    char *b = r->line, *end = r->line + n;
    int col = 0;
    for (char *p = r->line; p <= end; p++) {
        if (p < end && *p != ',')
            continue;
        *p = '\0';
        faceau_status st = store_cell(r, col++, b, p, row, err);
        if (st != FACEAU_OK)
            return st;
        b = p + 1;
    }
    return FACEAU_OK;
}

faceau_status fa_csv_reader_next(fa_csv_reader *r, fa_csv_row *row, int *got, fa_err *err)
{
    *got = 0;
    for (;;) {
        ssize_t n;
        faceau_status st = read_line(r->f, r->path, &r->line, &r->line_cap, &n, err);
        if (st != FACEAU_OK || n < 0)
            return st;
        r->lineno++;
        /* OpenFace ends every line with '\n': a last line without one was cut off. */
        if (r->line[n - 1] != '\n')
            return fa_fail(err, FACEAU_ERR_CSV, "%s: line %ld is cut off (file truncated?)",
                           r->path, r->lineno);
        r->line[--n] = '\0';
        const char *b = r->line, *e = r->line + n;
        trim_span(&b, &e);
        if (b == e)
            continue;
        locale_t old = uselocale(r->c_locale);
        st = parse_row(r, (size_t)n, row, err);
        uselocale(old);
        if (st != FACEAU_OK)
            return st;
        *got = 1;
        return FACEAU_OK;
    }
}
