/* lazy.c - a mirrored frame made tile by tile as its readers ask (see mirror.h). */
#include <stdlib.h>
#include <string.h>

#include "mirror/mirror_kernels.h"

static void need_cb(void *ctx, int x0, int y0, int x1, int y1)
{
    fa_mirror_lazy_need(ctx, x0, y0, x1, y1);
}

faceau_status fa_mirror_lazy_init(fa_mirror_lazy *z, fa_err *err)
{
    memset(z, 0, sizeof *z);
    z->source.need = need_cb;
    z->source.ctx = z;
    if (pthread_mutex_init(&z->mu, NULL) != 0)
        return fa_fail(err, FACEAU_ERR_NOMEM, "cannot create the mirrored frame's lock");
    z->mu_ok = 1;
    return FACEAU_OK;
}

void fa_mirror_lazy_free(fa_mirror_lazy *z)
{
    if (z->mu_ok)
        pthread_mutex_destroy(&z->mu);
    free(z->done);
    memset(z, 0, sizeof *z);
}

faceau_status fa_mirror_lazy_begin(fa_mirror_lazy *z, const fa_image *src, const fa_midline *line,
                                   enum fa_mirror_side side, double seam_px, fa_image *dst,
                                   fa_grey *grey, unsigned cpu, fa_err *err)
{
    const int tw = (src->width + FA_MIRROR_TILE_W - 1) / FA_MIRROR_TILE_W;
    const int th = (src->height + FA_MIRROR_TILE_H - 1) / FA_MIRROR_TILE_H;
    const size_t n = (size_t)tw * (size_t)th;
    if (n > z->done_cap) {
        uint8_t *d = fa_malloc(n, err, "the mirrored frame's tile map");
        if (!d)
            return FACEAU_ERR_NOMEM;
        free(z->done);
        z->done = d;
        z->done_cap = n;
    }
    memset(z->done, 0, n);
    z->src = src;
    z->have = line != NULL;
    if (line)
        z->line = *line;
    z->side = side;
    z->seam = seam_px;
    z->dst = dst;
    z->grey = grey;
    z->cpu = cpu;
    z->tw = tw, z->th = th;
    grey->source = &z->source;
    return FACEAU_OK;
}

/* Makes the pixels [x0, x1) x [y0, y1): BGR, then grey while the rows are in the cache. */
static void make(fa_mirror_lazy *z, int x0, int y0, int x1, int y1)
{
    if (z->have)
        fa_mirror_rect_cpu(z->src, &z->line, z->side, z->seam, z->dst, x0, y0, x1, y1, z->cpu);
    else /* a black frame (face lost, or no midline): grey (16384 >> 15) is 0 too */
        for (int y = y0; y < y1; y++)
            memset(z->dst->bgr + (size_t)y * (size_t)z->dst->stride + 3 * (size_t)x0, 0, 3 * (size_t)(x1 - x0));
    fa_grey_from_bgr_rect(z->dst, z->grey, x0, y0, x1, y1, z->cpu);
}

void fa_mirror_lazy_need(fa_mirror_lazy *z, int x0, int y0, int x1, int y1)
{
    const int w = z->src->width, h = z->src->height;
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > w ? w : x1, y1 = y1 > h ? h : y1;
    if (x1 <= x0 || y1 <= y0)
        return;
    const int tx0 = x0 / FA_MIRROR_TILE_W, tx1 = (x1 - 1) / FA_MIRROR_TILE_W;
    const int ty0 = y0 / FA_MIRROR_TILE_H, ty1 = (y1 - 1) / FA_MIRROR_TILE_H;
    pthread_mutex_lock(&z->mu);
    for (int ty = ty0; ty <= ty1; ty++) {
        uint8_t *d = z->done + (size_t)ty * (size_t)z->tw;
        const int py0 = ty * FA_MIRROR_TILE_H, py1 = py0 + FA_MIRROR_TILE_H < h ? py0 + FA_MIRROR_TILE_H : h;
        /* each run of missing tiles along the band in one go: longer kernel runs */
        for (int tx = tx0; tx <= tx1;) {
            if (d[tx]) {
                tx++;
                continue;
            }
            int te = tx;
            while (te <= tx1 && !d[te])
                d[te++] = 1;
            const int px1 = te * FA_MIRROR_TILE_W < w ? te * FA_MIRROR_TILE_W : w;
            make(z, tx * FA_MIRROR_TILE_W, py0, px1, py1);
            tx = te;
        }
    }
    pthread_mutex_unlock(&z->mu);
}
