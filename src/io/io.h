/* io/io.h - what goes in and out of faceau (not installed): video through FFmpeg and image files
 * decoded to OpenCV's BGR pixels, OpenFace's CSV format (writer, AU rewrite, reader), and PNG
 * pictures of detected boxes.
 */
#ifndef FACEAU_IO_H
#define FACEAU_IO_H

#include "au/au.h"

/* ---- frame input (video.c, image.c) ------------------------------------------------------ */
/* The frame-size limit (faceau_frame_limits) with its zero fields given their defaults; lim
 * NULL: all defaults. */
faceau_frame_limits fa_frame_limits_resolve(const faceau_frame_limits *lim);
/* FACEAU_OK when a w x h frame fits lim (NULL: the defaults), else fails with `st`, naming
 * path, what (e.g. "image", "video frame"), the size and the limit, in one line. */
faceau_status fa_frame_size_check(const char *path, const char *what, long long w, long long h,
                                  const faceau_frame_limits *lim, faceau_status st, fa_err *err);
/* Video through FFmpeg, converted to BGR24 exactly as OpenCV 4.6's FFmpeg backend does. */
typedef struct fa_video fa_video;
faceau_status fa_video_open(const char *path, fa_video **out, fa_err *err);
/* The same with FFmpeg's decoder on `threads` threads (0: one per core); frames do not depend
 * on it. */
faceau_status fa_video_open_threads(const char *path, int threads, fa_video **out, fa_err *err);
/* The same refusing, at open and for every frame, frames larger than lim (NULL: defaults). */
faceau_status fa_video_open_limits(const char *path, int threads, const faceau_frame_limits *lim,
                                   fa_video **out, fa_err *err);
/* Decodes the next frame into a buffer owned by v (valid until the next call). *got = 0 at the
 * end of the stream. A decode error after some frames returns FACEAU_ERR_TRUNCATED. */
faceau_status fa_video_read(fa_video *v, const fa_image **frame, int *got, fa_err *err);
/* The same frame decoded straight into dst (the caller's, freed with fa_image_free), so a caller
 * that keeps frames needs no copy and v keeps no converted frame of its own (except for a
 * rotated stream). *cap is dst's buffer size in bytes (0 for an empty dst): the buffer is
 * reused when large enough, else replaced. dst's stride may exceed 3 * width. */
faceau_status fa_video_read_into(fa_video *v, fa_image *dst, size_t *cap, int *got, fa_err *err);
/* fa_video_read_into in two steps: fa_video_decode decodes the next frame (*got = 0 at the end)
 * and keeps it in the decoder's own picture, fa_video_convert_into converts it into dst. A
 * decode-ahead thread decodes before it has a buffer to convert into: the decoding, most of
 * the work, needs none. */
faceau_status fa_video_decode(fa_video *v, int *got, fa_err *err);
faceau_status fa_video_convert_into(fa_video *v, fa_image *dst, size_t *cap, fa_err *err);
double fa_video_fps(const fa_video *v); /* OpenCV's CAP_PROP_FPS; 30 if unknown or <= 0 */
void fa_video_close(fa_video *v);

/* A video's declared frame size and frame count (0 if the header does not say), from its header
 * alone: what a batch needs to start the longest inputs first. */
faceau_status fa_video_probe(const char *path, int *width, int *height, double *frames, fa_err *err);

/* Reads an image file (.jpg/.jpeg/.png/.bmp) to the BGR pixels cv::imread(IMREAD_COLOR) gives. */
faceau_status fa_image_read(const char *path, fa_image *out, fa_err *err);
/* The same from a file's bytes already in memory (name is only for messages): what
 * fa_image_read does after reading the file, and what the fuzz target drives. */
faceau_status fa_image_decode(const char *name, const uint8_t *buf, size_t len, fa_image *out,
                              fa_err *err);
/* fa_image_read and fa_image_decode refusing images larger than lim (NULL: the defaults, which
 * the two above use). */
faceau_status fa_image_read_limits(const char *path, const faceau_frame_limits *lim, fa_image *out,
                                   fa_err *err);
faceau_status fa_image_decode_limits(const char *name, const uint8_t *buf, size_t len,
                                     const faceau_frame_limits *lim, fa_image *out, fa_err *err);
/* Lists the image files (.jpg .jpeg .png .bmp, case-insensitive) of dir sorted by path, as
 * OpenFace's -fdir does. *paths is an array of n malloc'd strings (free with fa_free_list). */
faceau_status fa_list_images(const char *dir, char ***paths, size_t *n, fa_err *err);
void fa_free_list(char **list, size_t n);
/* True when path ends in .jpg .jpeg .png or .bmp (any case). */
int fa_is_image_path(const char *path);


/* ---- OpenFace CSV (csv.c) --------------------------------------------------------------- */
#define FA_N_EYE_LMK 56

/* One row of OpenFace's CSV, every group, as numbers. */
typedef struct fa_csv_row {
    long frame;     /* 1-based (video/sequence); for image CSVs: unused */
    int face_id;    /* face_id, or `face` in image CSVs */
    double timestamp;
    double confidence;
    int success;
    double gaze[8];                   /* gaze_0_x,y,z, gaze_1_x,y,z, gaze_angle_x, gaze_angle_y */
    double eye_lmk2d[2 * FA_N_EYE_LMK]; /* eye_lmk_x_0..55, eye_lmk_y_0..55 */
    double eye_lmk3d[3 * FA_N_EYE_LMK]; /* eye_lmk_X_*, eye_lmk_Y_*, eye_lmk_Z_* */
    double pose[6];                   /* pose_Tx, Ty, Tz, Rx, Ry, Rz */
    double lmk2d[2 * FA_N_LANDMARKS]; /* x_0..x_67, y_0..y_67 */
    double lmk3d[3 * FA_N_LANDMARKS]; /* X_*, Y_*, Z_* */
    double params[6 + FA_N_MODES];    /* p_scale, p_rx, p_ry, p_rz, p_tx, p_ty, p_0..p_33 */
    double au_r[FA_N_AU_R];           /* in faceau_au_intensity_name order */
    double au_c[FA_N_AU_C];           /* in faceau_au_presence_name order */
    double au_r_static[FA_N_AU_R];    /* -au_dual: the static models' intensities (AUxx_r_static) */
} fa_csv_row;

/* Bits of fa_csv_reader_groups(): which groups the file had. */
/* The reader refuses cells that are not finite numbers, and 2D landmarks beyond this many
 * pixels from the origin, naming the file, line and column. */
#define FA_CSV_MAX_COORD 1e6
enum { FA_CSV_HAS_GAZE = 1, FA_CSV_HAS_POSE = 2, FA_CSV_HAS_2D = 4, FA_CSV_HAS_3D = 8,
       FA_CSV_HAS_PDM = 16, FA_CSV_HAS_AUS = 32, FA_CSV_HAS_EYE = 64, FA_CSV_HAS_CONF = 128 };

typedef struct fa_csv_writer fa_csv_writer;
/* Creates path and writes OpenFace's header (RecorderCSV) for the FACEAU_OUT_* groups in
 * outputs (0 = all). image_mode: FaceLandmarkImg's layout (face, confidence; confidence 3 dp). */
faceau_status fa_csv_writer_open(const char *path, unsigned outputs, int image_mode,
                                 fa_csv_writer **out, fa_err *err);
/* The same; dual (-au_dual, not for image_mode): AUxx_r_static columns (the row's au_r_static,
 * 2 dp) after all of OpenFace's when the AU group is written. */
faceau_status fa_csv_writer_open_dual(const char *path, unsigned outputs, int image_mode, int dual,
                                      fa_csv_writer **out, fa_err *err);
/* Writes one row with OpenFace's per-group decimals (AU _r 2 dp, _c 1 dp, as before OpenFace's
 * post-processing rewrite). */
faceau_status fa_csv_write_row(fa_csv_writer *w, const fa_csv_row *row, fa_err *err);
/* Every number of later rows with 6 decimals (the layout of ../shared/reference/fullprec:
 * integers stay integers), for scoring against full-precision references. */
void fa_csv_writer_full_precision(fa_csv_writer *w);
/* Flushes and closes, checking every write; frees w even on failure. */
faceau_status fa_csv_writer_close(fa_csv_writer *w, fa_err *err);
/* OpenFace's PostprocessOutputFile: copies in_path to out_path replacing the AU columns of data
 * row i with intensity[i*17..] and presence[i*18..], both printed with 2 decimals; everything
 * else re-emitted verbatim (trimmed, ", " separated). n must equal the number of data rows;
 * in_path and out_path must be different files. */
faceau_status fa_csv_rewrite_aus(const char *in_path, const char *out_path, const double *intensity,
                                 const double *presence, size_t n, fa_err *err);
/* The same with dp (0..6) decimals for the AU values. */
faceau_status fa_csv_rewrite_aus_dp(const char *in_path, const char *out_path,
                                    const double *intensity, const double *presence, size_t n,
                                    int dp, fa_err *err);

/* The same, also replacing the last 17 columns (-au_dual's AUxx_r_static) of data row i with
 * stat[i*17..] (stat NULL: as fa_csv_rewrite_aus_dp). */
faceau_status fa_csv_rewrite_aus_dual(const char *in_path, const char *out_path,
                                      const double *intensity, const double *presence,
                                      const double *stat, size_t n, int dp, fa_err *err);

typedef struct fa_csv_reader fa_csv_reader;
/* Opens an OpenFace-format CSV (FeatureExtraction, FaceLandmarkImg or FaceLandmarkVidMulti
 * layout, any decimals) to read landmarks from. Requires x_0..x_67, y_0..y_67 and success
 * (image CSVs: success taken as 1); missing ones => FACEAU_ERR_CSV naming file and column. */
faceau_status fa_csv_reader_open(const char *path, fa_csv_reader **out, fa_err *err);
/* Next data row (fields of groups the file lacks are 0). *got = 0 at the end. A malformed row
 * (wrong field count, non-number) => FACEAU_ERR_CSV naming file and line. */
faceau_status fa_csv_reader_next(fa_csv_reader *r, fa_csv_row *row, int *got, fa_err *err);
unsigned fa_csv_reader_groups(const fa_csv_reader *r);
void fa_csv_reader_close(fa_csv_reader *r);

/* Longest "%.*f" for dp <= 6: '-', the 309 digits of DBL_MAX, '.', 6 decimals, NUL. */
#define FA_CSV_FIXED_MAX 320
/* Writes v into out as printf("%.*f", dp, v) would (= OpenFace's std::fixed output), dp 0..6;
 * out holds FA_CSV_FIXED_MAX bytes. Returns the length. */
size_t fa_csv_format_fixed(char *out, double v, int dp);

/* ---- visualisation (vis.c) -------------------------------------------------------------- */
/* Writes img as an 8-bit RGB PNG with each box drawn as a 2-px green rectangle. */
faceau_status fa_png_write_boxes(const char *path, const fa_image *img, const faceau_box *boxes,
                                 int n, fa_err *err);



#endif /* FACEAU_IO_H */
