/* tiles.c - a frame made tile by tile as its readers ask (fa_tile_map), and the tracker's grey
 * image made that way from a BGR frame (fa_grey_lazy). */
#include <stdlib.h>
#include <string.h>

#include "cv/cv.h"

static void need_cb(void *ctx, int x0, int y0, int x1, int y1)
{
    fa_tile_map_need(ctx, x0, y0, x1, y1);
}

faceau_status fa_tile_map_init(fa_tile_map *t, fa_tile_make_fn make, void *ctx, fa_err *err)
{
    memset(t, 0, sizeof *t);
    t->source.need = need_cb;
    t->source.ctx = t;
    t->make = make;
    t->ctx = ctx;
    if (pthread_mutex_init(&t->mu, NULL) != 0)
        return fa_fail(err, FACEAU_ERR_NOMEM, "cannot create a frame's tile lock");
    t->mu_ok = 1;
    return FACEAU_OK;
}

void fa_tile_map_free(fa_tile_map *t)
{
    if (t->mu_ok)
        pthread_mutex_destroy(&t->mu);
    free(t->done);
    memset(t, 0, sizeof *t);
}

faceau_status fa_tile_map_begin(fa_tile_map *t, int w, int h, fa_err *err)
{
    const int tw = (w + FA_TILE_W - 1) / FA_TILE_W, th = (h + FA_TILE_H - 1) / FA_TILE_H;
    const size_t n = (size_t)tw * (size_t)th;
    if (n > t->done_cap) {
        atomic_uchar *d = fa_malloc(n * sizeof *d, err, "a frame's tile map");
        if (!d)
            return FACEAU_ERR_NOMEM;
        free(t->done);
        t->done = d;
        t->done_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&t->done[i], 0, memory_order_relaxed);
    t->w = w, t->h = h, t->tw = tw, t->th = th;
    return FACEAU_OK;
}

/* Whether the tiles [tx0, tx1] x [ty0, ty1] are all made (and their pixels visible here): after
 * a frame's first few requests nearly every one is, and the readers run on several threads. */
static int all_made(fa_tile_map *t, int tx0, int ty0, int tx1, int ty1)
{
    for (int ty = ty0; ty <= ty1; ty++) {
        const atomic_uchar *d = t->done + (size_t)ty * (size_t)t->tw;
        for (int tx = tx0; tx <= tx1; tx++)
            if (!atomic_load_explicit(&d[tx], memory_order_acquire))
                return 0;
    }
    return 1;
}

void fa_tile_map_need(fa_tile_map *t, int x0, int y0, int x1, int y1)
{
    const int w = t->w, h = t->h;
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > w ? w : x1, y1 = y1 > h ? h : y1;
    if (x1 <= x0 || y1 <= y0)
        return;
    const int tx0 = x0 / FA_TILE_W, tx1 = (x1 - 1) / FA_TILE_W;
    const int ty0 = y0 / FA_TILE_H, ty1 = (y1 - 1) / FA_TILE_H;
    if (all_made(t, tx0, ty0, tx1, ty1))
        return;
    pthread_mutex_lock(&t->mu);
    for (int ty = ty0; ty <= ty1; ty++) {
        atomic_uchar *d = t->done + (size_t)ty * (size_t)t->tw;
        const int py0 = ty * FA_TILE_H, py1 = py0 + FA_TILE_H < h ? py0 + FA_TILE_H : h;
        /* each run of missing tiles along the band in one go: longer kernel runs */
        for (int tx = tx0; tx <= tx1;) {
            if (atomic_load_explicit(&d[tx], memory_order_relaxed)) {
                tx++;
                continue;
            }
            int te = tx;
            while (te <= tx1 && !atomic_load_explicit(&d[te], memory_order_relaxed))
                te++;
            const int px1 = te * FA_TILE_W < w ? te * FA_TILE_W : w;
            t->make(t->ctx, tx * FA_TILE_W, py0, px1, py1);
            /* marked once made: all_made's readers go on without the lock */
            for (; tx < te; tx++)
                atomic_store_explicit(&d[tx], 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- the tracker's grey, made where read ---------------------------------------------------- */

static void grey_make(void *ctx, int x0, int y0, int x1, int y1)
{
    fa_grey_lazy *z = ctx;
    fa_grey_from_bgr_rect(&z->img, z->grey, x0, y0, x1, y1, z->cpu);
}

faceau_status fa_grey_lazy_init(fa_grey_lazy *z, fa_err *err)
{
    memset(z, 0, sizeof *z);
    return fa_tile_map_init(&z->tiles, grey_make, z, err);
}

void fa_grey_lazy_free(fa_grey_lazy *z)
{
    fa_tile_map_free(&z->tiles);
    memset(z, 0, sizeof *z);
}

faceau_status fa_grey_lazy_begin(fa_grey_lazy *z, const fa_image *img, fa_grey *grey, unsigned cpu,
                                 fa_err *err)
{
    if (!img || !img->bgr || img->width < 1 || img->height < 1 || img->stride < 3 * img->width)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "grey: bad image geometry");
    faceau_status st = fa_grey_resize(grey, img->width, img->height, err);
    if (!st)
        st = fa_tile_map_begin(&z->tiles, img->width, img->height, err);
    if (st)
        return st;
    z->img = *img;
    z->grey = grey;
    z->cpu = cpu;
    grey->source = &z->tiles.source;
    return FACEAU_OK;
}
