/* mtcnn.c - OpenFace's MTCNN face detector (FaceDetectorMTCNN::DetectFaces) reproduced.
 *
 * OpenFace's stages, thresholds, rounding and tie rules are kept exactly. PNet runs on
 * horizontal bands of each pyramid level (bit-identical to a whole-level pass, as every op is
 * row-local), so memory grows with the frame width only. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/detect_steps.h"

#define BAND 32  /* PNet output rows per band */
#define NL (FA_CNN_MAX_LAYERS + 1) /* per-layer shape arrays */

/* ---- the detector ------------------------------------------------------------------------- */

#define MAX_LEVELS 32
#define T1 0.6f
#define T2 0.7f
#define T3 0.7f

typedef struct cand {
    faceau_box b;
    float corr[4];
    int lvl, x, y;
} cand;

/* One thread's scratch. Grown before a phase starts (candidates: by their thread), never shrunk. */
typedef struct tws {
    float *buf[2];
    size_t cap;
    float *ftmp;
    int *itmp;
    size_t tcap;
    cand *c;
    size_t nc, ccap;
    int nomem;
} tws;

typedef struct job {
    int lvl, o0, o1; /* PNet band; RNet/ONet: o0 = box */
    long cost;
} job;

/* The three networks, read-only once loaded (fa_cnn_run takes them const). */
struct fa_mtcnn_model {
    fa_cnn net[3];
};

struct fa_mtcnn {
    const fa_cnn *net;          /* model->net */
    fa_mtcnn_model *owned;      /* the model when fa_mtcnn_load read it for this detector */
    int threads;   /* fa_pool_threads(pool): the workspaces in use */
    fa_pool *pool; /* NULL for one thread */
    tws ws[FA_MTCNN_MAX_THREADS];
    /* the current frame */
    const fa_image *img;
    int nlvl, lw[MAX_LEVELS], lh[MAX_LEVELS];
    double scale[MAX_LEVELS];
    job *jobs;
    size_t njobs, jcap;
    cand *all;
    size_t acap;
    faceau_box *box;
    float (*corr)[4];
    int *keep, *scratch;
    size_t bcap;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t n = need + need / 2 + 16;
    void *q = realloc(*p, n * elem);
    if (!q)
        return 0;
    *p = q, *cap = n;
    return 1;
}

static int tws_reserve(tws *w, size_t nbuf, int dw)
{
    size_t c0 = w->cap, c1 = w->cap, t0 = w->tcap, t1 = w->tcap;
    if (!grow((void **)&w->buf[0], &c0, nbuf, sizeof(float)) ||
        !grow((void **)&w->buf[1], &c1, nbuf, sizeof(float)))
        return 0;
    w->cap = c0 < c1 ? c0 : c1;
    if (!grow((void **)&w->ftmp, &t0, (size_t)dw * 12, sizeof(float)) ||
        !grow((void **)&w->itmp, &t1, (size_t)dw * 3, sizeof(int)))
        return 0;
    w->tcap = t0 < t1 ? t0 : t1;
    return 1;
}

/* PNet's band buffers outgrow everything else a detector keeps (3.7 MB at two threads on a
 * 1080x1920 frame) and a video detects only now and then (its first frame, after a lost face),
 * so they are given back after each detection rather than held through the tracking between:
 * a warm detection pays a few page faults, not megabytes for the whole run. */
#define KEEP_BUF_FLOATS ((size_t)64 << 10)

static void tws_trim(tws *w)
{
    if (w->cap <= KEEP_BUF_FLOATS)
        return;
    free(w->buf[0]), free(w->buf[1]);
    w->buf[0] = w->buf[1] = NULL;
    w->cap = 0;
}

static void tws_free(tws *w)
{
    free(w->buf[0]), free(w->buf[1]), free(w->ftmp), free(w->itmp), free(w->c);
    memset(w, 0, sizeof *w);
}

void fa_mtcnn_model_free(fa_mtcnn_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < 3; i++)
        fa_cnn_free(&m->net[i]);
    free(m);
}

void fa_mtcnn_free(fa_mtcnn *d)
{
    if (!d)
        return;
    fa_mtcnn_model_free(d->owned);
    fa_pool_free(d->pool);
    for (int t = 0; t < FA_MTCNN_MAX_THREADS; t++)
        tws_free(&d->ws[t]);
    free(d->jobs), free(d->all), free(d->box), free(d->corr), free(d->keep), free(d->scratch);
    free(d);
}

static faceau_status read_main(const char *main_path, const char *dir, char paths[3][4096], fa_err *err)
{
    static const char *const names[3] = {"PNet", "RNet", "ONet"};
    FILE *f;
    faceau_status st = fa_fopen_read(main_path, &f, err);
    if (st)
        return st;
    int found[3] = {0, 0, 0};
    char line[4096];
    while (!st && fgets(line, sizeof line, f)) {
        char mod[64], loc[2048];
        if (sscanf(line, "%63s %2047s", mod, loc) != 2)
            continue;
        size_t n = strlen(loc);
        if (n && loc[n - 1] == '\r')
            loc[n - 1] = '\0';
        for (int i = 0; i < 3 && !st; i++)
            if (!strcmp(mod, names[i])) {
                st = fa_path_join(paths[i], 4096, dir, loc, err);
                found[i] = 1;
            }
    }
    int bad = ferror(f);
    fclose(f);
    if (!st && bad)
        st = fa_fail(err, FACEAU_ERR_IO, "%s: read error", main_path);
    for (int i = 0; i < 3 && !st; i++)
        if (!found[i])
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: no %s line", main_path, names[i]);
    return st;
}

typedef struct net_reads {
    fa_mtcnn_model *m;
    char (*paths)[4096];
    faceau_status st[3];
    fa_err err[3];
} net_reads;

/* job 0 reads ONet, jobs 1 and 2 RNet and PNet */
static void net_read(void *ctx, long job, int thread)
{
    (void)thread;
    static const int sizes[3] = {0, 24, 48};
    net_reads *R = ctx;
    const int i = 2 - (int)job;
    R->st[i] = fa_cnn_read(&R->m->net[i], R->paths[i], sizes[i], &R->err[i]);
}

faceau_status fa_mtcnn_model_load(const char *dir, fa_mtcnn_model **out, fa_err *err)
{
    *out = NULL;
    if (!dir)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "no MTCNN model directory given");
    char main_path[4096], sub[4096], paths[3][4096];
    faceau_status st = fa_path_join(main_path, sizeof main_path, dir, "MTCNN_detector.txt", err);
    if (st)
        return st;
    FILE *probe = fopen(main_path, "rb");
    if (probe) {
        fclose(probe);
        if ((st = fa_path_join(sub, sizeof sub, dir, ".", err)))
            return st;
        sub[strlen(sub) - 2] = '\0';
    } else {
        if ((st = fa_path_join(sub, sizeof sub, dir, "mtcnn_detector", err)) ||
            (st = fa_path_join(main_path, sizeof main_path, sub, "MTCNN_detector.txt", err)))
            return st;
    }
    if ((st = read_main(main_path, sub, paths, err)))
        return st;
    fa_mtcnn_model *m = fa_calloc(1, sizeof *m, err, "the MTCNN model");
    if (!m)
        return FACEAU_ERR_NOMEM;
    /* The three networks are independent files: read side by side on two threads (ONet, most
     * of the bytes, alone), each into its own net; the first failure in PNet, RNet, ONet order
     * is the one reported. Without a second thread the caller reads them in turn. */
    net_reads R = {m, paths, {FACEAU_OK, FACEAU_OK, FACEAU_OK}, {{FACEAU_OK, ""}}};
    fa_pool *pool = NULL;
    fa_err pe;
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && fa_pool_create(2, &pool, &pe) != FACEAU_OK)
        pool = NULL;
    fa_pool_for(pool, 3, net_read, &R);
    fa_pool_free(pool);
    for (int i = 0; i < 3 && !st; i++)
        if ((st = R.st[i]) && err)
            *err = R.err[i];
    if (st) {
        fa_mtcnn_model_free(m);
        return st;
    }
    *out = m;
    return FACEAU_OK;
}

faceau_status fa_mtcnn_create(const fa_mtcnn_model *m, fa_mtcnn **out, fa_err *err)
{
    *out = NULL;
    if (!m)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "no MTCNN model given");
    fa_mtcnn *d = fa_calloc(1, sizeof *d, err, "the MTCNN detector");
    if (!d)
        return FACEAU_ERR_NOMEM;
    d->net = m->net;
    d->threads = 1;
    *out = d;
    return FACEAU_OK;
}

faceau_status fa_mtcnn_load(const char *dir, fa_mtcnn **out, fa_err *err)
{
    *out = NULL;
    fa_mtcnn_model *m;
    faceau_status st = fa_mtcnn_model_load(dir, &m, err);
    if (st)
        return st;
    if ((st = fa_mtcnn_create(m, out, err))) {
        fa_mtcnn_model_free(m);
        return st;
    }
    (*out)->owned = m;
    return FACEAU_OK;
}

faceau_status fa_mtcnn_set_threads(fa_mtcnn *d, int n, fa_err *err)
{
    if (!d || n < 1 || n > FA_MTCNN_MAX_THREADS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "thread count %d is out of range (1..%d)", n,
                       FA_MTCNN_MAX_THREADS);
    if (n == d->threads)
        return FACEAU_OK;
    fa_pool *pool = NULL;
    if (n > 1) {
        faceau_status st = fa_pool_create(n, &pool, err);
        if (st)
            return st;
    }
    fa_pool_free(d->pool);
    d->pool = pool;
    d->threads = fa_pool_threads(pool);
    return FACEAU_OK;
}

/* Normalises (v - 127.5) * 0.0078125 as OpenCV evaluates that expression (one convertTo: v *
 * 2^-7 is exact, so a single rounding) and reorders B,G,R to the R,G,B planes OpenFace feeds. */
static void normalise_rgb(float *p, size_t npix)
{
    for (size_t i = 0; i < npix; i++, p += 3) {
        float b = p[0], r = p[2];
        p[0] = r * 0.0078125f + -0.99609375f;
        p[1] = p[1] * 0.0078125f + -0.99609375f;
        p[2] = b * 0.0078125f + -0.99609375f;
    }
}
static void add_cand(tws *w, const cand *c)
{
    if (w->nc == w->ccap) {
        if (!grow((void **)&w->c, &w->ccap, w->nc + 1, sizeof *w->c)) {
            w->nomem = 1;
            return;
        }
    }
    w->c[w->nc++] = *c;
}

static void pnet_job(fa_mtcnn *d, tws *w, const job *jb)
{
    const fa_cnn *net = &d->net[0];
    int lvl = jb->lvl, hs[NL], ws[NL], cs[NL];
    int r[NL], e[NL];
    fa_cnn_shapes(net, d->lh[lvl], d->lw[lvl], hs, ws, cs);
    fa_cnn_band_rows(net, hs, ws, cs, jb->o0, jb->o1, r, e);
    const fa_image *img = d->img;
    fa_resize_linear(img, 0, 0, img->width, img->height, d->lw[lvl], d->lh[lvl], r[0], e[0] - r[0],
                     w->buf[0], w->ftmp, w->itmp);
    normalise_rgb(w->buf[0], (size_t)(e[0] - r[0]) * d->lw[lvl]);
    const float *o = fa_cnn_run(net, w->buf, r, e, hs, ws, cs);
    int wo = ws[net->n], ch = net->out_ch;
    float sc = (float)d->scale[lvl];
    for (int y = jb->o0; y < jb->o1; y++)
        for (int x = 0; x < wo; x++) {
            const float *v = o + ((size_t)(y - jb->o0) * wo + x) * ch;
            float p = 1.0f / (1.0f + fa_cv_exp(v[0] - v[1])); /* cv::exp on the map, in float */
            if (!(p >= T1))
                continue;
            cand c;
            float x1 = (float)fa_mtcnn_trunc((float)(2 * x + 1) / sc), x2 = (float)fa_mtcnn_trunc((float)(2 * x + 12) / sc);
            float y1 = (float)fa_mtcnn_trunc((float)(2 * y + 1) / sc), y2 = (float)fa_mtcnn_trunc((float)(2 * y + 12) / sc);
            c.b.x = x1, c.b.y = y1, c.b.width = x2 - x1, c.b.height = y2 - y1, c.b.confidence = p;
            memcpy(c.corr, v + 2, sizeof c.corr);
            c.lvl = lvl, c.x = x, c.y = y;
            add_cand(w, &c);
        }
}

/* RNet (stage 1) or ONet (stage 2) on box k: OpenFace's zero-padded (h+1) x (w+1) crop from
 * (x-1, y-1), resized to the net's input. Writes the score and corrections. */
static void refine_job(fa_mtcnn *d, tws *w, int stage, int k)
{
    const fa_cnn *net = &d->net[stage];
    faceau_box *b = &d->box[k];
    int sw = fa_mtcnn_trunc(b->width + 1), sh = fa_mtcnn_trunc(b->height + 1), n = net->in_size;
    if (sw < 1 || sh < 1) {
        b->confidence = 0; /* OpenCV would throw on this empty crop; OpenFace never gets here */
        return;
    }
    int hs[NL], ws[NL], cs[NL], r[NL], e[NL];
    fa_cnn_shapes(net, n, n, hs, ws, cs);
    for (int i = 0; i <= net->n; i++)
        r[i] = 0, e[i] = hs[i];
    fa_resize_linear(d->img, fa_mtcnn_trunc(b->x) - 1, fa_mtcnn_trunc(b->y) - 1, sw, sh, n, n, 0, n, w->buf[0],
                     w->ftmp, w->itmp);
    normalise_rgb(w->buf[0], (size_t)n * n);
    const float *o = fa_cnn_run(net, w->buf, r, e, hs, ws, cs);
    b->confidence = (float)(1.0 / (1.0 + (double)fa_expf(o[0] - o[1])));
    memcpy(d->corr[k], o + 2, sizeof d->corr[k]);
}

typedef struct phase {
    fa_mtcnn *d;
    int stage;
} phase;

static void phase_job(void *ctx, long j, int thread)
{
    phase *ph = ctx;
    fa_mtcnn *d = ph->d;
    if (ph->stage == 0)
        pnet_job(d, &d->ws[thread], &d->jobs[j]);
    else
        refine_job(d, &d->ws[thread], ph->stage, d->jobs[j].o0);
}

/* Runs d->jobs on the detector's worker pool. Each job writes only its own outputs (PNet's
 * candidates go to its thread's list, merged in a fixed order afterwards), so the result does
 * not depend on which thread ran it. */
static void run_phase(fa_mtcnn *d, int stage)
{
    phase ph = {d, stage};
    fa_pool_for(d->pool, (long)d->njobs, phase_job, &ph);
}

static int cmp_cand(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->lvl != b->lvl)
        return a->lvl < b->lvl ? -1 : 1;
    if (a->x != b->x) /* generate_bounding_boxes scans x outer, y inner */
        return a->x < b->x ? -1 : 1;
    return (a->y > b->y) - (a->y < b->y);
}

static int cmp_job(const void *pa, const void *pb)
{
    const job *a = pa, *b = pb;
    if (a->cost != b->cost)
        return a->cost > b->cost ? -1 : 1;
    if (a->lvl != b->lvl)
        return a->lvl < b->lvl ? -1 : 1;
    return (a->o0 > b->o0) - (a->o0 < b->o0);
}

/* Keeps boxes keep[0..nk-1] in that order (OpenFace's select_subset). */
static int select_boxes(fa_mtcnn *d, const int *keep, int nk)
{
    for (int q = 0; q < nk; q++) {
        d->all[q].b = d->box[keep[q]];
        memcpy(d->all[q].corr, d->corr[keep[q]], sizeof d->all[q].corr);
    }
    for (int q = 0; q < nk; q++) {
        d->box[q] = d->all[q].b;
        memcpy(d->corr[q], d->all[q].corr, sizeof d->corr[q]);
    }
    return nk;
}

static int threshold_boxes(fa_mtcnn *d, int nb, float t)
{
    int nk = 0;
    for (int i = 0; i < nb; i++)
        if (d->box[i].confidence >= t)
            d->keep[nk++] = i;
    return select_boxes(d, d->keep, nk);
}

static int nms_boxes(fa_mtcnn *d, int nb, float thr, int use_min)
{
    int nk = fa_mtcnn_nms(d->box, nb, thr, use_min, d->keep, d->scratch);
    return select_boxes(d, d->keep, nk);
}

static faceau_status reserve_all(fa_mtcnn *d, size_t need, fa_err *err)
{
    size_t c[5] = {d->acap, d->bcap, d->bcap, d->bcap, d->bcap};
    if (!grow((void **)&d->all, &c[0], need, sizeof *d->all) ||
        !grow((void **)&d->box, &c[1], need, sizeof *d->box) ||
        !grow((void **)&d->corr, &c[2], need, sizeof *d->corr) ||
        !grow((void **)&d->keep, &c[3], need, sizeof *d->keep) ||
        !grow((void **)&d->scratch, &c[4], 2 * need, sizeof *d->scratch))
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for %zu face candidates", need);
    /* scratch's capacity counts ints (2 per box); the box capacity is the smallest. */
    size_t m = c[4] / 2;
    for (int i = 1; i < 4; i++)
        m = c[i] < m ? c[i] : m;
    d->acap = c[0], d->bcap = m;
    return FACEAU_OK;
}

static faceau_status reserve_threads(fa_mtcnn *d, size_t nbuf, int dw, fa_err *err)
{
    for (int t = 0; t < d->threads; t++)
        if (!tws_reserve(&d->ws[t], nbuf, dw))
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for detector buffers (%zu floats)", nbuf);
    return FACEAU_OK;
}

/* PNet over the pyramid, in bands, then OpenFace's per-level NMS 0.5. Returns the box count. */
static faceau_status stage_pnet(fa_mtcnn *d, int *nb_out, fa_err *err)
{
    const fa_cnn *net = &d->net[0];
    int hs[NL], ws[NL], cs[NL], r[NL], e[NL];
    size_t need = 0, njobs = 0;
    for (int pass = 0; pass < 2; pass++) {
        njobs = 0;
        for (int l = 0; l < d->nlvl; l++) {
            fa_cnn_shapes(net, d->lh[l], d->lw[l], hs, ws, cs);
            for (int o0 = 0; o0 < hs[net->n]; o0 += BAND, njobs++) {
                int o1 = o0 + BAND < hs[net->n] ? o0 + BAND : hs[net->n];
                if (pass == 0) {
                    size_t n = fa_cnn_band_rows(net, hs, ws, cs, o0, o1, r, e);
                    need = n > need ? n : need;
                } else {
                    job jb = {l, o0, o1, (long)(o1 - o0) * ws[net->n]};
                    d->jobs[njobs] = jb;
                }
            }
        }
        if (pass == 0 && !grow((void **)&d->jobs, &d->jcap, njobs, sizeof *d->jobs))
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for %zu detector jobs", njobs);
    }
    d->njobs = njobs;
    qsort(d->jobs, njobs, sizeof *d->jobs, cmp_job);
    faceau_status st = reserve_threads(d, need, d->lw[0], err);
    if (st)
        return st;
    for (int t = 0; t < d->threads; t++)
        d->ws[t].nc = 0, d->ws[t].nomem = 0;
    run_phase(d, 0);
    size_t total = 0;
    for (int t = 0; t < d->threads; t++) {
        if (d->ws[t].nomem)
            return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for face candidates");
        total += d->ws[t].nc;
    }
    if (total > INT_MAX / 2)
        return fa_fail(err, FACEAU_ERR_NOMEM, "too many face candidates (%zu)", total);
    if ((st = reserve_all(d, total, err)))
        return st;
    size_t k = 0;
    for (int t = 0; t < d->threads; t++) {
        if (d->ws[t].nc)
            memcpy(d->all + k, d->ws[t].c, d->ws[t].nc * sizeof *d->all);
        k += d->ws[t].nc;
    }
    if (total) /* a frame with no candidate: d->all may still be NULL, which qsort must not get */
        qsort(d->all, total, sizeof *d->all, cmp_cand);
    for (size_t i = 0; i < total; i++)
        d->box[i] = d->all[i].b;
    int nb = 0;
    for (size_t i = 0, j; i < total; i = j) {
        for (j = i; j < total && d->all[j].lvl == d->all[i].lvl; j++)
            ;
        int nk = fa_mtcnn_nms(d->box + i, (int)(j - i), 0.5f, 0, d->keep, d->scratch);
        for (int q = 0; q < nk; q++, nb++) {
            d->box[nb] = d->all[i + d->keep[q]].b;
            memcpy(d->corr[nb], d->all[i + d->keep[q]].corr, sizeof d->corr[nb]);
        }
    }
    *nb_out = nb;
    return FACEAU_OK;
}

static faceau_status stage_refine(fa_mtcnn *d, int stage, int nb, fa_err *err)
{
    const fa_cnn *net = &d->net[stage];
    int hs[NL], ws[NL], cs[NL];
    fa_cnn_shapes(net, net->in_size, net->in_size, hs, ws, cs);
    size_t need = 0;
    for (int i = 0; i <= net->n; i++) {
        size_t n = (size_t)hs[i] * ws[i] * (size_t)(cs[i] < 3 ? 3 : cs[i]);
        need = n > need ? n : need;
    }
    faceau_status st = reserve_threads(d, need, net->in_size, err);
    if (st)
        return st;
    if (!grow((void **)&d->jobs, &d->jcap, (size_t)nb, sizeof *d->jobs))
        return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for %d detector jobs", nb);
    for (int k = 0; k < nb; k++) {
        job jb = {0, k, 0, 0};
        d->jobs[k] = jb;
    }
    d->njobs = (size_t)nb;
    run_phase(d, stage);
    return FACEAU_OK;
}

/* The PNet and RNet stages' box regression (no +1) followed by squaring. */
static void regress_and_square(fa_mtcnn *d, int nb)
{
    for (int i = 0; i < nb; i++) {
        fa_mtcnn_correct(&d->box[i], d->corr[i], 0);
        fa_mtcnn_rectify(&d->box[i]);
    }
}

faceau_status fa_mtcnn_detect(fa_mtcnn *d, const fa_image *img, faceau_box *boxes, int max_boxes,
                              int *n, fa_err *err)
{
    if (n)
        *n = 0;
    if (!d || !img || !n || max_boxes < 0 || (max_boxes > 0 && !boxes))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "face detection: bad arguments");
    if (img->width <= 0 || img->height <= 0)
        return FACEAU_OK; /* nothing to search */
    if (!img->bgr || img->stride < 3 * img->width)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "face detection: %dx%d image without pixels",
                       img->width, img->height);
    if (img->width > FA_MTCNN_MAX_SIDE || img->height > FA_MTCNN_MAX_SIDE ||
        (long)img->width * img->height > FA_MTCNN_MAX_PIXELS)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "face detection: %dx%d image is too large (at most %d per side, %ld pixels)",
                       img->width, img->height, FA_MTCNN_MAX_SIDE, (long)FA_MTCNN_MAX_PIXELS);
    d->nlvl = fa_mtcnn_scales(img->width, img->height, FA_MTCNN_MIN_FACE, d->scale, d->lw, d->lh,
                              MAX_LEVELS);
    if (d->nlvl <= 0)
        return FACEAU_OK;
    if (d->nlvl > MAX_LEVELS)
        d->nlvl = MAX_LEVELS;
    d->img = img;
    int nb = 0;
    faceau_status st = stage_pnet(d, &nb, err);
    if (st)
        return st;
    nb = nms_boxes(d, nb, 0.7f, 0);
    regress_and_square(d, nb);
    if ((st = stage_refine(d, 1, nb, err)))
        return st;
    nb = threshold_boxes(d, nb, T2);
    nb = nms_boxes(d, nb, 0.7f, 0);
    regress_and_square(d, nb);
    if ((st = stage_refine(d, 2, nb, err)))
        return st;
    nb = threshold_boxes(d, nb, T3);
    for (int i = 0; i < nb; i++)
        fa_mtcnn_correct(&d->box[i], d->corr[i], 1);
    nb = nms_boxes(d, nb, 0.7f, 1);
    int out = nb < max_boxes ? nb : max_boxes;
    for (int i = 0; i < out; i++) {
        fa_mtcnn_final(&d->box[i]);
        boxes[i] = d->box[i];
    }
    *n = out;
    d->img = NULL;
    for (int t = 0; t < d->threads; t++)
        tws_trim(&d->ws[t]);
    return FACEAU_OK;
}
