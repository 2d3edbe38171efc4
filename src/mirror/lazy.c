/* lazy.c - a mirrored frame made tile by tile as its readers ask (see mirror.h). */
#include <stdlib.h>
#include <string.h>

#include "mirror/mirror_kernels.h"

/* Makes the pixels [x0, x1) x [y0, y1): BGR, then grey while the rows are in the cache. */
static void make(void *ctx, int x0, int y0, int x1, int y1)
{
    fa_mirror_lazy *z = ctx;
    if (z->have)
        fa_mirror_rect_cpu(z->src, &z->line, z->side, z->seam, z->dst, x0, y0, x1, y1, z->cpu);
    else /* a black frame (face lost, or no midline): grey (16384 >> 15) is 0 too */
        for (int y = y0; y < y1; y++)
            memset(z->dst->bgr + (size_t)y * (size_t)z->dst->stride + 3 * (size_t)x0, 0, 3 * (size_t)(x1 - x0));
    fa_grey_from_bgr_rect(z->dst, z->grey, x0, y0, x1, y1, z->cpu);
}

faceau_status fa_mirror_lazy_init(fa_mirror_lazy *z, fa_err *err)
{
    memset(z, 0, sizeof *z);
    return fa_tile_map_init(&z->tiles, make, z, err);
}

void fa_mirror_lazy_free(fa_mirror_lazy *z)
{
    fa_tile_map_free(&z->tiles);
    memset(z, 0, sizeof *z);
}

faceau_status fa_mirror_lazy_begin(fa_mirror_lazy *z, const fa_image *src, const fa_midline *line,
                                   enum fa_mirror_side side, double seam_px, fa_image *dst,
                                   fa_grey *grey, unsigned cpu, fa_err *err)
{
    faceau_status st = fa_tile_map_begin(&z->tiles, src->width, src->height, err);
    if (st)
        return st;
    z->src = src;
    z->have = line != NULL;
    if (line)
        z->line = *line;
    z->side = side;
    z->seam = seam_px;
    z->dst = dst;
    z->grey = grey;
    z->cpu = cpu;
    grey->source = &z->tiles.source;
    return FACEAU_OK;
}

void fa_mirror_lazy_need(fa_mirror_lazy *z, int x0, int y0, int x1, int y1)
{
    fa_tile_map_need(&z->tiles, x0, y0, x1, y1);
}
