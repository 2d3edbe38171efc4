/* api/api.h - what the public objects share with each other and with the bench (not installed).
 */
#ifndef FACEAU_API_H
#define FACEAU_API_H

#include "detect/detect.h"
#include "io/io.h"

/* ---- context internals (faceau.c) -------------------------------------------------------- */
int fa_ctx_online(const faceau_ctx *ctx);
int fa_ctx_static(const faceau_ctx *ctx);
void fa_ctx_set_error(faceau_ctx *ctx, faceau_status st, const char *msg);
enum { FA_STAGE_PDM, FA_STAGE_ALIGN, FA_STAGE_HOG, FA_STAGE_MEDIAN, FA_STAGE_PREDICT, FA_N_STAGES };
/* Milliseconds spent in each AU sub-stage since the last reset. */
void fa_ctx_stage_ms(const faceau_ctx *ctx, double ms[FA_N_STAGES]);

#endif /* FACEAU_API_H */
