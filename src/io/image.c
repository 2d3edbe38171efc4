/* image.c - still images decoded to the BGR pixels cv::imread(path, IMREAD_COLOR) of OpenCV 4.6
 * gives, and OpenFace's image-directory listing.
 *
 * Reproduced from OpenCV 4.6 (imgcodecs): the format is chosen by signature, not extension;
 * JPEG through libjpeg(-turbo) with its defaults (JDCT_ISLOW, fancy upsampling), BGR output,
 * CMYK through OpenCV's icvCvt_CMYK2BGR; PNG through libpng with strip_16 / strip_alpha /
 * palette_to_rgb / expand_gray / gray_to_rgb / bgr; BMP with OpenCV's own reader (1/4/8-bit
 * palette, 15/16/24/32-bit, no RLE); the EXIF orientation of the first APP1 segment (JPEG) or
 * eXIf chunk (PNG) parsed like OpenCV's ExifReader and applied with flips/transposes.
 * Deliberate difference: OpenCV returns a grey-filled picture for a truncated JPEG; here that
 * is FACEAU_ERR_IMAGE. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "io/io.h"

#define FA_IMG_MAX_BYTES ((size_t)1 << 30)
/* A progressive JPEG needs a dozen scans; thousands of repeated ones made a 300 KB file take
 * seconds (each scan re-runs the whole image), so more than this many fail. */
#define FA_JPEG_MAX_SCANS 500
/* No PNG chunk of a photo needs more (ICC profiles, EXIF and text are kilobytes); a zTXt chunk
 * declaring 2 GB made libpng allocate and clear that much before failing. */
#define FA_PNG_MAX_CHUNK ((png_alloc_size_t)8 << 20)

int fa_is_image_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
                   !strcasecmp(dot, ".bmp"));
}

/* ---- common ----------------------------------------------------------------------------- */

static faceau_status read_whole_file(const char *path, uint8_t **buf, size_t *len, fa_err *err)
{
    FILE *f;
    *buf = NULL;
    *len = 0;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st != FACEAU_OK)
        return st;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return fa_fail(err, FACEAU_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > FA_IMG_MAX_BYTES) {
        fclose(f);
        return fa_fail(err, FACEAU_ERR_IMAGE, "%s: file too large (%lld bytes)", path,
                       (long long)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *b = fa_malloc(n, err, "an image file");
    if (!b) {
        fclose(f);
        return FACEAU_ERR_NOMEM;
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(b);
        return fa_fail(err, FACEAU_ERR_IO, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return FACEAU_OK;
}

faceau_frame_limits fa_frame_limits_resolve(const faceau_frame_limits *lim)
{
    faceau_frame_limits r = {FACEAU_MAX_FRAME_SIDE, FACEAU_MAX_FRAME_SIDE, FACEAU_MAX_FRAME_PIXELS};
    if (lim && lim->max_width > 0)
        r.max_width = lim->max_width;
    if (lim && lim->max_height > 0)
        r.max_height = lim->max_height;
    if (lim && lim->max_pixels > 0)
        r.max_pixels = lim->max_pixels;
    return r;
}

faceau_status fa_frame_size_check(const char *path, const char *what, long long w, long long h,
                                  const faceau_frame_limits *lim, faceau_status st, fa_err *err)
{
    faceau_frame_limits l = fa_frame_limits_resolve(lim);
    if (w <= 0 || h <= 0)
        return fa_fail(err, st, "%s: unsupported %s size %lldx%lld", path, what, w, h);
    /* past the side checks w, h <= INT_MAX, so w * h cannot overflow */
    if (w > l.max_width || h > l.max_height || w * h > l.max_pixels)
        return fa_fail(err, st,
                       "%s: %s size %lldx%lld exceeds the frame-size limit (%dx%d, %lld pixels)",
                       path, what, w, h, l.max_width, l.max_height, l.max_pixels);
    return FACEAU_OK;
}

/* Images also stay within FA_IMG_MAX_BYTES whatever limits the caller set. */
static faceau_status check_size(const char *path, long long w, long long h,
                                const faceau_frame_limits *lim, fa_err *err)
{
    faceau_status st = fa_frame_size_check(path, "image", w, h, lim, FACEAU_ERR_IMAGE, err);
    if (st == FACEAU_OK && (size_t)w * (size_t)h * 3 > FA_IMG_MAX_BYTES)
        st = fa_fail(err, FACEAU_ERR_IMAGE, "%s: unsupported image size %lldx%lld", path, w, h);
    return st;
}

/* ---- EXIF orientation (OpenCV's ExifReader) ---------------------------------------------- */

typedef struct exif_rd {
    const uint8_t *d;
    size_t n;
    int intel;
} exif_rd;

/* Bounds as ExifReader::getU16/getU32: a read past the end aborts the parse. */
static int ex_u16(const exif_rd *e, size_t off, uint32_t *v)
{
    if (off + 1 >= e->n || off + 1 < off)
        return -1;
    *v = e->intel ? (uint32_t)e->d[off] | (uint32_t)e->d[off + 1] << 8
                  : (uint32_t)e->d[off] << 8 | (uint32_t)e->d[off + 1];
    return 0;
}

static int ex_u32(const exif_rd *e, size_t off, uint32_t *v)
{
    if (off + 3 >= e->n || off + 3 < off)
        return -1;
    const uint8_t *p = e->d + off;
    *v = e->intel ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                  : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
    return 0;
}

/* The reads ExifReader makes for a tag it knows; -1 where it would throw. */
static int ex_rationals(const exif_rd *e, size_t entry, int count)
{
    uint32_t at, v;
    if (ex_u32(e, entry + 8, &at) != 0)
        return -1;
    for (int i = 0; i < count; i++, at += 8)
        if (ex_u32(e, at, &v) != 0 || ex_u32(e, (size_t)at + 4, &v) != 0)
            return -1;
    return 0;
}

static int ex_string(const exif_rd *e, size_t entry)
{
    uint32_t size, at = 8;
    if (ex_u32(e, entry + 4, &size) != 0)
        return -1;
    if (size > 4 && ex_u32(e, entry + 8, &at) != 0)
        return -1;
    return ((size_t)at > e->n || (size_t)at + size > e->n) ? -1 : 0;
}

static int ex_entry(const exif_rd *e, size_t entry, uint32_t tag)
{
    uint32_t v;
    switch (tag) {
    case 0x010E: case 0x010F: case 0x0110: case 0x0131: case 0x0132: case 0x8298:
        return ex_string(e, entry);
    case 0x011A: case 0x011B: return ex_rationals(e, entry, 1);
    case 0x013E: return ex_rationals(e, entry, 2);
    case 0x013F: case 0x0214: return ex_rationals(e, entry, 6);
    case 0x0211: return ex_rationals(e, entry, 3);
    case 0x0128: case 0x0213: return ex_u16(e, entry + 8, &v);
    default: return 0;
    }
}

/* The orientation value of the first 0x0112 entry of IFD0, or 0 when there is none (entries
 * after a malformed one are not seen, as in OpenCV). */
static int exif_orientation(const uint8_t *d, size_t n)
{
    exif_rd e = {d, n, 0};
    uint32_t v, off, count, tag;
    if (n < 1 || (n > 1 && d[0] != d[1]))
        e.intel = 0;
    else
        e.intel = d[0] == 'I';
    if (ex_u16(&e, 2, &v) != 0 || v != 0x2A || ex_u32(&e, 4, &off) != 0 || ex_u16(&e, off, &count) != 0)
        return 0;
    off += 2;
    for (uint32_t i = 0; i < count; i++, off += 12) {
        if (ex_u16(&e, off, &tag) != 0)
            return 0;
        if (tag == 0x0112)
            return ex_u16(&e, (size_t)off + 8, &v) == 0 ? (int)v : 0;
        if (ex_entry(&e, off, tag) != 0)
            return 0;
    }
    return 0;
}

/* Source pixel of destination (r, c) for OpenCV's ExifTransform (flip/transpose sequences). */
static void orient_src(int o, int w, int h, int r, int c, int *sr, int *sc)
{
    switch (o) {
    case 2: *sr = r; *sc = w - 1 - c; break;             /* flip horizontally */
    case 3: *sr = h - 1 - r; *sc = w - 1 - c; break;     /* flip both */
    case 4: *sr = h - 1 - r; *sc = c; break;             /* flip vertically */
    case 5: *sr = c; *sc = r; break;                     /* transpose */
    case 6: *sr = h - 1 - c; *sc = r; break;             /* transpose, flip horizontally */
    case 7: *sr = h - 1 - c; *sc = w - 1 - r; break;     /* flip both, transpose */
    default: *sr = c; *sc = w - 1 - r; break;            /* 8: transpose, flip vertically */
    }
}

static faceau_status apply_orientation(fa_image *img, int o, fa_err *err)
{
    if (o < 2 || o > 8)
        return FACEAU_OK;
    int w = img->width, h = img->height;
    fa_image dst;
    faceau_status st = fa_image_alloc(&dst, o >= 5 ? h : w, o >= 5 ? w : h, err);
    if (st != FACEAU_OK)
        return st;
    for (int r = 0; r < dst.height; r++) {
        uint8_t *d = dst.bgr + (size_t)r * (size_t)dst.stride;
        for (int c = 0; c < dst.width; c++) {
            int sr, sc;
            orient_src(o, w, h, r, c, &sr, &sc);
            memcpy(d + 3 * (size_t)c, img->bgr + (size_t)sr * (size_t)img->stride + 3 * (size_t)sc, 3);
        }
    }
    fa_image_free(img);
    *img = dst;
    return FACEAU_OK;
}

/* ---- JPEG ------------------------------------------------------------------------------- */

typedef struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
    int eof_seen;
    int rows_done;
    const char *path;
    const faceau_frame_limits *lim;
    const uint8_t *buf;
    size_t len;
    fa_image *out;
    int orientation;
    faceau_status status; /* a failure of ours (size, memory) inside the protected region */
    fa_err *err;
} jpeg_job;

static void jpeg_fail_exit(j_common_ptr c)
{
    jpeg_job *job = (jpeg_job *)c->client_data;
    (*c->err->format_message)(c, job->msg);
    longjmp(job->jmp, 1);
}

static void jpeg_truncated(jpeg_job *job, const char *msg)
{
    job->truncated = 1;
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    longjmp(job->jmp, 1);
}

static void jpeg_count_scans(j_common_ptr c)
{
    jpeg_job *job = (jpeg_job *)c->client_data;
    if (job->cinfo.input_scan_number > FA_JPEG_MAX_SCANS) {
        snprintf(job->msg, sizeof job->msg, "more than %d scans (a progressive JPEG needs a dozen)",
                 FA_JPEG_MAX_SCANS);
        longjmp(job->jmp, 1);
    }
}

/* libjpeg only warns when data is missing and fills the rest with grey: the picture is not the
 * file's, so that is an error here. "Hit marker" means a scan lacked data. "Premature end of
 * file" alone can also mean a complete image without its EOI marker (OpenCV's picture is then
 * right), which only a single-scan image proves; see jpeg_read_rows. */
static void jpeg_message(j_common_ptr c, int level)
{
    jpeg_job *job = (jpeg_job *)c->client_data;
    if (level >= 0)
        return;
    c->err->num_warnings++;
    if (job->rows_done)
        return;
    if (c->err->msg_code == JWRN_JPEG_EOF)
        job->eof_seen = 1;
    else if (c->err->msg_code == JWRN_HIT_MARKER) {
        char buf[JMSG_LENGTH_MAX];
        (*c->err->format_message)(c, buf);
        jpeg_truncated(job, buf);
    }
}

/* OpenCV 4.6 looks at the first APP1 segment only, whatever its identifier. */
static int jpeg_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1)
            return m->data_length > 6 ? exif_orientation(m->data + 6, m->data_length - 6) : 0;
    return 0;
}

static void cmyk_row_to_bgr(const uint8_t *cmyk, int w, uint8_t *bgr)
{
    for (int i = 0; i < w; i++, cmyk += 4, bgr += 3) {
        int k = cmyk[3];
        bgr[2] = (uint8_t)(k - ((255 - cmyk[0]) * k >> 8));
        bgr[1] = (uint8_t)(k - ((255 - cmyk[1]) * k >> 8));
        bgr[0] = (uint8_t)(k - ((255 - cmyk[2]) * k >> 8));
    }
}

static void jpeg_read_rows(jpeg_job *job)
{
    j_decompress_ptr ci = &job->cinfo;
    JSAMPARRAY tmp = NULL;
    if (ci->out_color_space == JCS_CMYK)
        tmp = (*ci->mem->alloc_sarray)((j_common_ptr)ci, JPOOL_IMAGE, ci->output_width * 4, 1);
    while (ci->output_scanline < ci->output_height) {
        uint8_t *row = job->out->bgr + (size_t)ci->output_scanline * (size_t)job->out->stride;
        JSAMPROW dst = tmp ? tmp[0] : row;
        if (jpeg_read_scanlines(ci, &dst, 1) != 1)
            ERREXIT(ci, JERR_INPUT_EMPTY);
        if (tmp)
            cmyk_row_to_bgr(tmp[0], (int)ci->output_width, row);
    }
    if (job->eof_seen && jpeg_has_multiple_scans(ci))
        jpeg_truncated(job, "Premature end of JPEG file (a scan may be missing)");
    job->rows_done = 1;
}

/* Everything libjpeg may longjmp out of; all state lives in *job. Returns 0 or 1 (failed). */
static int jpeg_run(jpeg_job *job)
{
    j_decompress_ptr ci = &job->cinfo;
    if (setjmp(job->jmp))
        return 1;
    jpeg_create_decompress(ci);
    ci->client_data = job;
    ci->mem->max_memory_to_use = (long)FA_IMG_MAX_BYTES;
    job->progress.progress_monitor = jpeg_count_scans;
    ci->progress = &job->progress;
    jpeg_mem_src(ci, job->buf, (unsigned long)job->len);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(ci, TRUE);
    job->orientation = jpeg_orientation(ci);
    ci->out_color_space = ci->num_components != 4 ? JCS_EXT_BGR : JCS_CMYK;
    jpeg_calc_output_dimensions(ci);
    job->status = check_size(job->path, ci->output_width, ci->output_height, job->lim, job->err);
    if (job->status == FACEAU_OK)
        job->status = fa_image_alloc(job->out, (int)ci->output_width, (int)ci->output_height, job->err);
    if (job->status != FACEAU_OK)
        return 1;
    jpeg_start_decompress(ci);
    jpeg_read_rows(job);
    jpeg_finish_decompress(ci);
    return 0;
}

static faceau_status decode_jpeg(const char *path, const uint8_t *buf, size_t len,
                                 const faceau_frame_limits *lim, fa_image *out, int *orientation,
                                 fa_err *err)
{
    jpeg_job *job = fa_calloc(1, sizeof *job, err, "a JPEG decoder");
    if (!job)
        return FACEAU_ERR_NOMEM;
    job->cinfo.err = jpeg_std_error(&job->jerr);
    job->jerr.error_exit = jpeg_fail_exit;
    job->jerr.emit_message = jpeg_message;
    job->cinfo.client_data = job;
    job->path = path;
    job->lim = lim;
    job->buf = buf;
    job->len = len;
    job->out = out;
    job->err = err;
    faceau_status st = FACEAU_OK;
    if (jpeg_run(job)) {
        st = job->status;
        if (st == FACEAU_OK)
            st = fa_fail(err, FACEAU_ERR_IMAGE, "%s: %s JPEG: %s", path,
                         job->truncated || job->eof_seen ? "truncated or corrupt" : "unreadable", job->msg);
        fa_image_free(out);
    }
    *orientation = job->orientation;
    jpeg_destroy_decompress(&job->cinfo);
    free(job);
    return st;
}

/* ---- PNG -------------------------------------------------------------------------------- */

typedef struct png_job {
    png_structp png;
    png_infop info, end;
    const uint8_t *buf;
    size_t len, pos;
    const char *path;
    const faceau_frame_limits *lim;
    fa_image *out;
    png_bytep *rows;
    int orientation;
    faceau_status status;
    fa_err *err;
    char msg[256];
} png_job;

static void png_read_mem(png_structp png, png_bytep data, png_size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos) {
        snprintf(job->msg, sizeof job->msg, "truncated (file ends early)");
        png_longjmp(png, 1);
    }
    memcpy(data, job->buf + job->pos, n);
    job->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* OpenCV proceeds after libpng warnings too */
}

/* OpenCV reads eXIf after the image: from before IDAT if there, else from after it. */
static int png_orientation(png_job *job)
{
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    png_infop from = png_get_valid(job->png, job->info, PNG_INFO_eXIf) ? job->info : job->end;
    if (png_get_valid(job->png, from, PNG_INFO_eXIf) &&
        png_get_eXIf_1(job->png, from, &n, &exif) && exif && n > 0)
        return exif_orientation(exif, n);
    return 0;
}

/* The transformations of OpenCV's PngDecoder::readData for an 8-bit 3-channel target. */
static void png_set_transforms(png_structp png, int bit_depth, int color_type)
{
    if (bit_depth == 16)
        png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (color_type & PNG_COLOR_MASK_COLOR)
        png_set_bgr(png);
    else
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
}

static int png_run(png_job *job)
{
    if (setjmp(png_jmpbuf(job->png)))
        return 1;
    png_set_read_fn(job->png, job, png_read_mem);
    faceau_frame_limits lim = fa_frame_limits_resolve(job->lim);
    png_set_user_limits(job->png, (png_uint_32)lim.max_width, (png_uint_32)lim.max_height);
    png_set_chunk_malloc_max(job->png, FA_PNG_MAX_CHUNK);
    png_read_info(job->png, job->info);
    png_uint_32 w, h;
    int bit_depth, color_type;
    png_get_IHDR(job->png, job->info, &w, &h, &bit_depth, &color_type, NULL, NULL, NULL);
    job->status = check_size(job->path, (long long)w, (long long)h, job->lim, job->err);
    if (job->status == FACEAU_OK)
        job->status = fa_image_alloc(job->out, (int)w, (int)h, job->err);
    if (job->status == FACEAU_OK) {
        job->rows = fa_malloc(sizeof *job->rows * h, job->err, "PNG row pointers");
        job->status = job->rows ? FACEAU_OK : FACEAU_ERR_NOMEM;
    }
    if (job->status != FACEAU_OK)
        return 1;
    png_set_transforms(job->png, bit_depth, color_type);
    png_read_update_info(job->png, job->info);
    if (png_get_rowbytes(job->png, job->info) != (size_t)w * 3)
        png_error(job->png, "unexpected row layout");
    for (png_uint_32 y = 0; y < h; y++)
        job->rows[y] = job->out->bgr + (size_t)y * (size_t)job->out->stride;
    png_read_image(job->png, job->rows);
    png_read_end(job->png, job->end); /* OpenCV fails the image when the end is missing too */
    job->orientation = png_orientation(job);
    return 0;
}

/* The chunks' declared lengths against the bytes the file has: libpng allocates (and clears) a
 * chunk's whole declared size before reading it, so a tiny file declaring a 2 GB chunk cost
 * gigabytes and seconds before failing. The whole file is in memory, so a length past its end
 * is proof enough that it is damaged. */
static faceau_status png_check_chunks(const char *path, const uint8_t *buf, size_t len, fa_err *err)
{
    size_t at = 8; /* after the signature */
    while (len >= 12 && at <= len - 12) {
        const uint8_t *c = buf + at;
        const uint32_t n = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
        if (n > len - at - 12)
            return fa_fail(err, FACEAU_ERR_IMAGE,
                           "%s: corrupt or truncated PNG: chunk %.4s declares %lu bytes, the file has "
                           "%zu left", path, (const char *)(c + 4), (unsigned long)n, len - at - 12);
        if (memcmp(c + 4, "IEND", 4) == 0)
            break;
        at += 12 + (size_t)n;
    }
    return FACEAU_OK;
}

static faceau_status decode_png(const char *path, const uint8_t *buf, size_t len,
                                const faceau_frame_limits *lim, fa_image *out, int *orientation,
                                fa_err *err)
{
    faceau_status checked = png_check_chunks(path, buf, len, err);
    if (checked != FACEAU_OK)
        return checked;
    png_job *job = fa_calloc(1, sizeof *job, err, "a PNG decoder");
    if (!job)
        return FACEAU_ERR_NOMEM;
    job->buf = buf;
    job->len = len;
    job->path = path;
    job->lim = lim;
    job->out = out;
    job->err = err;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_on_error, png_on_warning);
    job->info = job->png ? png_create_info_struct(job->png) : NULL;
    job->end = job->png ? png_create_info_struct(job->png) : NULL;
    faceau_status st = FACEAU_OK;
    if (!job->info || !job->end)
        st = fa_fail(err, FACEAU_ERR_NOMEM, "%s: out of memory for the PNG decoder", path);
    else if (png_run(job)) {
        st = job->status;
        if (st == FACEAU_OK)
            st = fa_fail(err, FACEAU_ERR_IMAGE, "%s: corrupt or truncated PNG: %s", path, job->msg);
        fa_image_free(out);
    }
    *orientation = job->orientation;
    png_destroy_read_struct(job->png ? &job->png : NULL, job->info ? &job->info : NULL,
                            job->end ? &job->end : NULL);
    free(job->rows);
    free(job);
    return st;
}

/* ---- BMP (OpenCV's BmpDecoder) ---------------------------------------------------------- */

typedef struct bmp_info {
    long long width, height; /* height < 0: rows stored top-down */
    int bpp;                 /* 15 for 5-5-5 16-bit pixels, as OpenCV */
    size_t offset;           /* of the pixel rows */
    uint8_t palette[256][4]; /* b, g, r, reserved */
} bmp_info;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static faceau_status bmp_bad(const char *path, const char *what, fa_err *err)
{
    return fa_fail(err, FACEAU_ERR_IMAGE, "%s: %s BMP", path, what);
}

static faceau_status bmp_palette(const char *path, const uint8_t *buf, size_t len, size_t at,
                                 uint32_t used, bmp_info *bi, fa_err *err)
{
    if (used > 256)
        return bmp_bad(path, "corrupt (palette size) in", err);
    size_t n = used ? used : (size_t)1 << bi->bpp;
    if (at > len || n * 4 > len - at)
        return bmp_bad(path, "truncated", err);
    memcpy(bi->palette, buf + at, n * 4);
    return FACEAU_OK;
}

/* The 40-byte (or larger) Windows header. */
static faceau_status bmp_header_win(const char *path, const uint8_t *buf, size_t len, uint32_t hsize,
                                    bmp_info *bi, fa_err *err)
{
    if (len < 54)
        return bmp_bad(path, "truncated", err);
    int32_t w = (int32_t)le32(buf + 18), h = (int32_t)le32(buf + 22);
    int bpp = (int)(le32(buf + 26) >> 16);
    uint32_t comp = le32(buf + 30), used = le32(buf + 46);
    size_t after = 14 + (size_t)hsize;
    bi->width = w;
    bi->height = h;
    bi->bpp = bpp;
    int plain = comp == 0 && (bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32);
    int fields = comp == 3 && (bpp == 16 || bpp == 32);
    if (comp == 1 || comp == 2)
        return bmp_bad(path, "unsupported (RLE compressed)", err);
    if (!plain && !fields)
        return bmp_bad(path, "unsupported (compression/bit depth of the)", err);
    if (bpp <= 8)
        return bmp_palette(path, buf, len, after, used, bi, err);
    if (bpp == 16 && comp == 0)
        bi->bpp = 15;
    if (bpp == 16 && comp == 3) {
        if (after > len || len - after < 12)
            return bmp_bad(path, "truncated", err);
        uint32_t r = le32(buf + after), g = le32(buf + after + 4), b = le32(buf + after + 8);
        if (b == 0x1f && g == 0x3e0 && r == 0x7c00)
            bi->bpp = 15;
        else if (!(b == 0x1f && g == 0x7e0 && r == 0xf800))
            return bmp_bad(path, "unsupported (16-bit masks of the)", err);
    }
    return FACEAU_OK;
}

/* The 12-byte OS/2 header: 16-bit sizes, 3-byte palette entries. */
static faceau_status bmp_header_os2(const char *path, const uint8_t *buf, size_t len, bmp_info *bi,
                                    fa_err *err)
{
    if (len < 26)
        return bmp_bad(path, "truncated", err);
    bi->width = le16(buf + 18);
    bi->height = le16(buf + 20);
    bi->bpp = (int)(le32(buf + 22) >> 16);
    if (bi->bpp != 1 && bi->bpp != 4 && bi->bpp != 8 && bi->bpp != 24 && bi->bpp != 32)
        return bmp_bad(path, "unsupported (bit depth of the)", err);
    if (bi->bpp <= 8) {
        size_t n = (size_t)1 << bi->bpp;
        if (len - 26 < n * 3)
            return bmp_bad(path, "truncated", err);
        for (size_t j = 0; j < n; j++)
            memcpy(bi->palette[j], buf + 26 + 3 * j, 3);
    }
    return FACEAU_OK;
}

static faceau_status bmp_header(const char *path, const uint8_t *buf, size_t len, bmp_info *bi,
                                const faceau_frame_limits *lim, fa_err *err)
{
    memset(bi, 0, sizeof *bi);
    if (len < 18)
        return bmp_bad(path, "truncated", err);
    bi->offset = le32(buf + 10);
    uint32_t hsize = le32(buf + 14);
    faceau_status st;
    if (hsize >= 36 && hsize <= 0x7fffffff)
        st = bmp_header_win(path, buf, len, hsize, bi, err);
    else if (hsize == 12)
        st = bmp_header_os2(path, buf, len, bi, err);
    else
        return bmp_bad(path, "unsupported (header size of the)", err);
    if (st != FACEAU_OK)
        return st;
    if (bi->width <= 0 || bi->height == 0)
        return bmp_bad(path, "corrupt (size) in", err);
    return check_size(path, bi->width, bi->height < 0 ? -bi->height : bi->height, lim, err);
}

static void bmp_row(const bmp_info *bi, const uint8_t *src, int w, uint8_t *dst)
{
    for (int x = 0; x < w; x++, dst += 3) {
        const uint8_t *p;
        unsigned t;
        switch (bi->bpp) {
        case 1: p = bi->palette[(src[x >> 3] >> (7 - (x & 7))) & 1]; break;
        case 4: p = bi->palette[(src[x >> 1] >> ((x & 1) ? 0 : 4)) & 15]; break;
        case 8: p = bi->palette[src[x]]; break;
        case 24: p = src + 3 * x; break;
        case 32: p = src + 4 * x; break;
        case 15:
            t = le16(src + 2 * x);
            dst[0] = (uint8_t)((t << 3) & 0xf8);
            dst[1] = (uint8_t)((t >> 2) & 0xf8);
            dst[2] = (uint8_t)((t >> 7) & 0xf8);
            continue;
        default: /* 16: 5-6-5 */
            t = le16(src + 2 * x);
            dst[0] = (uint8_t)((t << 3) & 0xf8);
            dst[1] = (uint8_t)((t >> 3) & 0xfc);
            dst[2] = (uint8_t)((t >> 8) & 0xf8);
            continue;
        }
        memcpy(dst, p, 3);
    }
}

static faceau_status decode_bmp(const char *path, const uint8_t *buf, size_t len,
                                const faceau_frame_limits *lim, fa_image *out, fa_err *err)
{
    bmp_info *bi = fa_malloc(sizeof *bi, err, "a BMP header");
    if (!bi)
        return FACEAU_ERR_NOMEM;
    faceau_status st = bmp_header(path, buf, len, bi, lim, err);
    int w = (int)bi->width, h = (int)(bi->height < 0 ? -bi->height : bi->height);
    size_t pitch = (((size_t)w * (size_t)(bi->bpp != 15 ? bi->bpp : 16) + 7) / 8 + 3) & ~(size_t)3;
    /* OpenCV's stream reader fails when a row (with its padding) runs past the end. */
    if (st == FACEAU_OK && (bi->offset > len || (len - bi->offset) / pitch < (size_t)h))
        st = bmp_bad(path, "truncated", err);
    if (st == FACEAU_OK)
        st = fa_image_alloc(out, w, h, err);
    for (int y = 0; st == FACEAU_OK && y < h; y++) {
        int row = bi->height > 0 ? h - 1 - y : y;
        bmp_row(bi, buf + bi->offset + (size_t)y * pitch, w, out->bgr + (size_t)row * (size_t)out->stride);
    }
    free(bi);
    return st;
}

/* ---- public ----------------------------------------------------------------------------- */

static faceau_status decode_any(const char *path, const uint8_t *buf, size_t len,
                                const faceau_frame_limits *lim, fa_image *out, fa_err *err)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int orientation = 0;
    faceau_status st;
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        st = decode_jpeg(path, buf, len, lim, out, &orientation, err);
    else if (len >= 8 && memcmp(buf, png_sig, 8) == 0)
        st = decode_png(path, buf, len, lim, out, &orientation, err);
    else if (len >= 2 && buf[0] == 'B' && buf[1] == 'M')
        st = decode_bmp(path, buf, len, lim, out, err);
    else
        return fa_fail(err, FACEAU_ERR_IMAGE, "%s: not a JPEG, PNG or BMP image", path);
    if (st == FACEAU_OK)
        st = apply_orientation(out, orientation, err);
    if (st != FACEAU_OK)
        fa_image_free(out);
    return st;
}

faceau_status fa_image_decode(const char *name, const uint8_t *buf, size_t len, fa_image *out,
                              fa_err *err)
{
    return fa_image_decode_limits(name, buf, len, NULL, out, err);
}

faceau_status fa_image_decode_limits(const char *name, const uint8_t *buf, size_t len,
                                     const faceau_frame_limits *lim, fa_image *out, fa_err *err)
{
    out->width = out->height = out->stride = 0;
    out->bgr = NULL;
    if (len == 0)
        return fa_fail(err, FACEAU_ERR_IMAGE, "%s: empty file", name);
    if (len > FA_IMG_MAX_BYTES)
        return fa_fail(err, FACEAU_ERR_IMAGE, "%s: larger than %zu bytes", name, FA_IMG_MAX_BYTES);
    return decode_any(name, buf, len, lim, out, err);
}

faceau_status fa_image_read(const char *path, fa_image *out, fa_err *err)
{
    return fa_image_read_limits(path, NULL, out, err);
}

faceau_status fa_image_read_limits(const char *path, const faceau_frame_limits *lim, fa_image *out,
                                   fa_err *err)
{
    out->width = out->height = out->stride = 0;
    out->bgr = NULL;
    if (!path)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "image path is NULL");
    uint8_t *buf;
    size_t len;
    faceau_status st = read_whole_file(path, &buf, &len, err);
    if (st != FACEAU_OK)
        return st;
    if (len == 0)
        st = fa_fail(err, FACEAU_ERR_IMAGE, "%s: empty file", path);
    else
        st = decode_any(path, buf, len, lim, out, err);
    free(buf);
    return st;
}

/* ---- directory listing ------------------------------------------------------------------ */

static int has_image_ext(const char *name)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".bmp"};
    const char *dot = strrchr(name, '.'); /* boost (v3) path::extension */
    if (!dot || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static faceau_status list_push(char ***list, size_t *n, size_t *cap, char *s, fa_err *err)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **bigger = realloc(*list, nc * sizeof *bigger);
        if (!bigger) {
            free(s);
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory listing images");
        }
        *list = bigger;
        *cap = nc;
    }
    (*list)[(*n)++] = s;
    return FACEAU_OK;
}

/* Full path of a directory entry if it is a regular image file, else NULL (and *st set on
 * failure). */
static char *image_entry(const char *dir, const char *name, faceau_status *st, fa_err *err)
{
    *st = FACEAU_OK;
    if (!has_image_ext(name))
        return NULL;
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = fa_malloc(n, err, "an image path");
    if (!p) {
        *st = FACEAU_ERR_NOMEM;
        return NULL;
    }
    size_t dl = strlen(dir);
    /* boost's dir / name: no second separator after a trailing one */
    snprintf(p, n, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name);
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        free(p);
        return NULL;
    }
    return p;
}

faceau_status fa_list_images(const char *dir, char ***paths, size_t *n, fa_err *err)
{
    *paths = NULL;
    *n = 0;
    if (!dir)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "image directory is NULL");
    DIR *d = opendir(dir);
    if (!d)
        return fa_fail(err, FACEAU_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **list = NULL;
    size_t count = 0, cap = 0;
    faceau_status st = FACEAU_OK;
    struct dirent *e;
    errno = 0;
    while (st == FACEAU_OK && (e = readdir(d)) != NULL) {
        char *p = image_entry(dir, e->d_name, &st, err);
        if (p)
            st = list_push(&list, &count, &cap, p, err);
        errno = 0;
    }
    if (st == FACEAU_OK && errno != 0)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: cannot read directory: %s", dir, strerror(errno));
    closedir(d);
    if (st == FACEAU_OK && count == 0)
        st = fa_fail(err, FACEAU_ERR_NO_INPUT, "%s: no .jpg, .jpeg, .png or .bmp images found", dir);
    if (st != FACEAU_OK) {
        fa_free_list(list, count);
        return st;
    }
    qsort(list, count, sizeof *list, cmp_paths);
    *paths = list;
    *n = count;
    return FACEAU_OK;
}

void fa_free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}
