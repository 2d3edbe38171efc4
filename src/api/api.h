/* api/api.h - what the public objects share with each other and with the bench (not installed).
 */
#ifndef FACEAU_API_H
#define FACEAU_API_H

#include "detect/detect.h"
#include "io/io.h"

/* ---- AU analyser internals (analyser.c) ------------------------------------------------- */
/* Whether the analyser returns per-frame values as they are (online or still-image mode). */
int fa_analyser_online(const faceau_au *au);
/* Whether it runs FaceLandmarkImg's still-image mode (FACEAU_AU_STATIC). */
int fa_analyser_static(const faceau_au *au);
/* Records a failure as faceau_au_last_error() reports it. */
void fa_analyser_set_error(faceau_au *au, faceau_status st, const char *msg);
enum { FA_STAGE_PDM, FA_STAGE_ALIGN, FA_STAGE_HOG, FA_STAGE_MEDIAN, FA_STAGE_PREDICT, FA_N_STAGES };
/* Milliseconds spent in each AU sub-stage since the last reset. */
void fa_analyser_stage_ms(const faceau_au *au, double ms[FA_N_STAGES]);

/* ---- runs (run.c) ------------------------------------------------------------------------ */
/* The base name faceau_run writes out_dir/<name>.csv under: out_name's, else the input's (a
 * file's without its extension, a directory's whole). */
void fa_run_output_name(const char *input, int input_is_dir, const char *out_name, char *name,
                        size_t n);

#endif /* FACEAU_API_H */
