/* api/api.h - what the public objects share with each other and with the bench (not installed).
 */
#ifndef FACEAU_API_H
#define FACEAU_API_H

#include "detect/detect.h"
#include "io/io.h"
#include "landmarks/clnf.h"

/* ---- AU analyser internals (analyser.c) ------------------------------------------------- */
/* Whether the analyser returns per-frame values as they are (online or still-image mode). */
int fa_analyser_online(const faceau_au *au);
/* faceau_au_finish without the caller's copy: post-processes the analyser's own per-frame
 * history (n frames, n x 17 and n x 18) and points at it, valid until the next reset; a later
 * faceau_au_finish fails with FACEAU_ERR_STATE. What faceau_run uses: at 10,000 frames the
 * copy alone was 2.8 MB at the very end of the run, its peak. */
faceau_status fa_analyser_finish_in_place(faceau_au *au, const double **intensity,
                                          const double **presence, size_t *n);
/* Whether it runs FaceLandmarkImg's still-image mode (FACEAU_AU_STATIC). */
int fa_analyser_static(const faceau_au *au);
/* Frames given to the analyser from now on are made on demand by source (NULL: ordinary
 * frames): it asks for the pixels its alignment reads before reading them. */
void fa_analyser_set_source(faceau_au *au, const fa_pixel_source *source);
/* faceau_au_add_frame in two steps, so that a pipeline can give the frame back between them:
 * fa_analyser_align reads the frame (its shape parameters and aligned face, the only step that
 * does), fa_analyser_add_aligned computes and adds the rest into out. */
faceau_status fa_analyser_align(faceau_au *au, const faceau_frame *frame,
                                const float landmarks[2 * FACEAU_N_LANDMARKS], int success);
faceau_status fa_analyser_add_aligned(faceau_au *au, faceau_au_result *out);
/* on: a successful frame that faceau_au_finish will predict again with the final medians (the
 * first 3000 of an offline dynamic run) is not predicted when added; its per-frame AU values (in
 * out and the history) are 0 until finish gives the same values it would have. For callers that
 * use only finish's values, such as a CSV rewritten from them: it saves a prediction per frame
 * (the weights, 1.3 MB, read again each time), finish predicts those frames in blocks anyway. */
void fa_analyser_defer_repredicted(faceau_au *au, int on);
/* Records a failure as faceau_au_last_error() reports it. */
void fa_analyser_set_error(faceau_au *au, faceau_status st, const char *msg);
enum { FA_STAGE_PDM, FA_STAGE_ALIGN, FA_STAGE_HOG, FA_STAGE_MEDIAN, FA_STAGE_PREDICT, FA_N_STAGES };
/* Milliseconds spent in each AU sub-stage since the last reset. */
void fa_analyser_stage_ms(const faceau_au *au, double ms[FA_N_STAGES]);

/* ---- frames held across stages (source.c) ---------------------------------------------- */
/* A decode-ahead source (opened with threads != 1) can hand out several frames at once, for a
 * pipeline whose later stage still reads a frame while an earlier one reads the next:
 * fa_source_acquire gives the next frame without giving back the ones held, fa_source_release
 * gives back the oldest held (a frame stays valid until then). At most FA_SOURCE_MAX_HELD are
 * held; faceau_source_read gives them all back. Acquire from one thread; release from any.
 * Two: run.c's tracker holds one frame while the AU stage reads the one before. Every frame
 * held or decoded ahead is a full BGR frame (6 MB at 1080x1920), so the pipeline keeps no
 * more of them than it can use (source.c's FRAMES_BYTES) and gives each back as soon as it
 * can. */
#define FA_SOURCE_MAX_HELD 2
faceau_status fa_source_acquire(faceau_source *s, faceau_frame *frame, int *got);
void fa_source_release(faceau_source *s);
int fa_source_async(const faceau_source *s);

/* ---- a tracked frame validated later (landmarker.c, for run.c's pipeline) ---------------- */
/* OpenFace decides a tracked frame's success with the CNN validator, and the next frame's fit
 * depends on that verdict only through its windows (small after a success). The pipeline fits
 * frame n+1 assuming frame n passes while the AU stage's thread runs frame n's validator CNN;
 * when it does not pass (rare), frame n is finished from its saved fit and frame n+1 fitted
 * again, so every number is what faceau_track gives.
 *
 * fa_tracker_fit: the frame's grey (unless grey_ready: it is the grey of this frame already),
 * then the tracked fit when tracking is initialised (*fitted). fa_tracker_complete: after
 * fa_tracker_fit (and after the previous deferred frame is resolved): a fit the validator must
 * judge is saved into *d and deferred (*deferred; the tracker assumes it passes); otherwise the
 * frame is finished here (re-detection included) and described into out. A deferred frame is
 * then resolved with its confidence: from any thread holding the frame, fa_tracker_validate
 * (its own validator workspace; the crop warped from the frame's BGR pixels onto the
 * validator's template in d->warped, fa_tracker_defer_floats floats, the caller's) and, if
 * fa_tracker_passes,
 * fa_tracker_describe_passed; on the tracker's thread fa_tracker_passed, or fa_tracker_failed
 * (the frame's failure path, MTCNN on frame included, described into out; its grey is made
 * again, so the next frame's fit needs grey_ready = 0). */
typedef struct fa_track_defer {
    fa_clnf_face snap; /* the face after the fit, before the verdict */
    int fit_ok;
    /* fa_tracker_validate's: */
    int view, empty;   /* the validator's view, and a degenerate crop (confidence 0) */
    float *warped;     /* the crop on the view's template */
} fa_track_defer;
/* faceau_track on a frame whose grey image the caller made (the tracker reads it, through its
 * source when it has one, instead of converting the frame itself). */
faceau_status fa_tracker_track_grey(faceau_tracker *t, const faceau_frame *frame, const fa_grey *grey,
                                   const faceau_camera *camera, faceau_face *out);
size_t fa_tracker_defer_floats(const faceau_tracker *t);
faceau_status fa_tracker_fit(faceau_tracker *t, const faceau_frame *frame, int grey_ready,
                             int *fitted, int *fit_ok);
faceau_status fa_tracker_complete(faceau_tracker *t, const faceau_frame *frame,
                                  const faceau_camera *camera, int fitted, int fit_ok,
                                  fa_track_defer *d, int *deferred, faceau_face *out);
faceau_status fa_tracker_validate(const faceau_tracker *t, fa_validator_ws *ws, fa_track_defer *d,
                                  const faceau_frame *frame, float *confidence, fa_err *err);
int fa_tracker_passes(const faceau_tracker *t, float confidence);
void fa_tracker_describe_passed(const faceau_tracker *t, const fa_track_defer *d, float confidence,
                                const faceau_frame *frame, const faceau_camera *camera,
                                faceau_face *out);
void fa_tracker_passed(faceau_tracker *t, float confidence);
faceau_status fa_tracker_failed(faceau_tracker *t, const fa_track_defer *d, const faceau_frame *frame,
                                const faceau_camera *camera, float confidence, faceau_face *out);

/* ---- runs (run.c) ------------------------------------------------------------------------ */
/* The base name faceau_run writes out_dir/<name>.csv under: out_name's, else the input's (a
 * file's without its extension, a directory's whole). */
void fa_run_output_name(const char *input, int input_is_dir, const char *out_name, char *name,
                        size_t n);
/* The tracking columns of a CSV row from a fit, as faceau_run writes them. */
void fa_run_row_from_face(const faceau_face *f, fa_csv_row *row);
/* OpenFace's end-of-video AU post-processing of the CSV written to tmp (into tmp2, *final_tmp
 * says which holds the result), with -au_dual's static columns from dual (or NULL). */
faceau_status fa_run_postprocess(faceau_au *au, faceau_au *dual, const faceau_run_options *o,
                                 const char *tmp, const char *tmp2, const char **final_tmp, fa_err *err);
/* -au_dual: the static analyser's intensities for this frame into row->au_r_static. */
faceau_status fa_run_add_dual(faceau_au *dual, const faceau_frame *frame, const float *lm, int success,
                              fa_csv_row *row, fa_err *err);
/* The next frame of src (*got = 0 at its end): with hold, fa_source_acquire's (held until
 * released), else faceau_source_read's. A truncated video after frames_so_far > 0 good frames
 * counts as its end, with *truncated set (the run writes what came before and then reports
 * it); any other failure is the source's own message in err. */
faceau_status fa_run_read_frame(faceau_source *src, int hold, long frames_so_far, faceau_frame *frame,
                                int *got, int *truncated, fa_err *err);
/* One frame's record of OpenFace's .hog file (rows, cols, channels, then 1 or -1 for success,
 * then the descriptor), written to f; path names it in err. */
faceau_status fa_run_write_hog(FILE *f, const char *path, int success, const float *hog, fa_err *err);
/* An aligned face as OpenCV's imwrite writes a BMP, byte for byte. */
faceau_status fa_run_write_bmp(const char *path, const uint8_t *bgr, int w, int h, fa_err *err);
/* Creates dir and its parents; fails unless it ends up a writable directory. */
faceau_status fa_run_make_dirs(const char *dir, fa_err *err);
/* The stem of an output's temporary files (<stem>.csv.<pid>.tmp, <stem>.csv.<pid>.post.tmp,
 * <stem>.hog.<pid>.tmp): the output name itself, or for a name too long to take those
 * suffixes within a file name's 255 bytes, its first FA_RUN_STEM_KEEP bytes, '~' and a hash
 * of the whole name (so that two long names sharing a prefix do not share temporaries). */
#define FA_RUN_STEM_MAX 230
#define FA_RUN_STEM_KEEP 221
void fa_run_temp_stem(const char *name, char *stem, size_t n);

/* The order a batch with several jobs starts its inputs in: indices into in, longest estimated
 * work first (from each video's header: frames and size; an image directory's image count; a
 * still image or an unreadable input: little), ties in the given order; inputs resume will skip
 * count as nothing. A malloc'd array the caller frees, or NULL when out of memory. */
int *fa_batch_plan(const faceau_batch_input *in, int n, const faceau_batch_options *opt);

#endif /* FACEAU_API_H */
