/* validator.c - OpenFace 2.0.2's CNN landmark detection validator (DetectionValidator::Read,
 * Check, CheckCNN, NormaliseWarpedToVector, GetViewId), its piece-wise affine warp (PAW::Read,
 * Warp, CalcCoeff, WarpRegion) and the CNN layers it runs (CNN_utils.cpp: convolution_direct_blas,
 * max_pooling, fully_connected), reproduced in C. See validator.h for the pipeline.
 *
 * Arithmetic follows OpenFace and the OpenCV 4.6 routines it calls:
 *  - PAW coefficients and maps: float, in OpenFace's expression order;
 *  - cv::remap INTER_LINEAR: B's fa_remap_grey (bit-exact);
 *  - cv::meanStdDev: sums in double, var = E[x^2] - mean^2, std = sqrt(max(var, 0)). The warped
 *    pixels are multiples of 1/1024 below 256 (8-bit grey times remap's 1/32 x 1/32 weights, all
 *    exact in float), so both sums are exact in double whatever the summation order (an IPP
 *    build may still finish the formula differently);
 *  - `vec -= mean; vec /= std` are float ops with the double scalars rounded to float (the
 *    division is convertTo's multiplication by (float)(1/std)); the global normalisation is a
 *    float subtract then a float divide;
 *  - convolutions: OpenFace multiplies its im2col matrix with BLAS sgemm; we sum each output in
 *    the im2col column order (input map, kernel column, kernel row), bias last, in float. A BLAS
 *    that blocks or vectorises the inner dimension (or uses FMA) sums in another order, so the
 *    conv outputs may differ in their last bits;
 *  - fully connected layers: OpenCV's own gemm (these are below its BLAS threshold), i.e.
 *    GEMMSingleMul<float, double> with a vector operand: four double partial sums over k mod 4,
 *    (s0+s1+s2+s3) + bias in double, rounded to float;
 *  - argmax: cv::minMaxLoc, the first maximum.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landmarks/validator.h"
#include "landmarks/validator_kernels.h"

enum { VL_CONV = 0, VL_POOL = 1, VL_FC = 2, VL_RELU = 3, VL_SIGMOID = 4 };

/* Bounds that keep a malformed file from asking for absurd work or memory. */
#define V_MAX_VIEWS 64
#define V_MAX_DEPTH 64
#define V_MAX_MAPS 4096
#define V_MAX_KERNEL 64
#define V_MAX_SIDE 4096
#define V_MAX_LMK 1024

typedef struct vlayer {
    int type;
    int cin, cout, kh, kw; /* conv: maps in/out, kernel rows/cols; FC: n_in, n_out */
    int fc_flat;           /* FC: 1 = several maps flattened (each map column-major), 0 = one column */
    float *w;              /* conv: cout rows of cin*kh*kw in im2col order (map, kx, ky);
                            * FC: cout rows of cin (OpenFace's weights.t()) */
    float *b;              /* cout */
    int in_c, in_h, in_w;  /* input shape: in_c maps of in_h x in_w */
    int out_c, out_h, out_w;
} vlayer;

typedef struct vview {
    double orient[3];      /* radians */
    /* PAW */
    int n_lmk;
    float *dst;            /* 2 n_lmk: template landmarks x.., y.. */
    int n_tri;
    int *tri;              /* 3 n_tri */
    float *alpha, *beta;   /* 3 n_tri each */
    int w, h;              /* template size (pixel_mask cols, rows) */
    int *tri_id;           /* w*h, row-major */
    uint8_t *mask;         /* w*h, 0/1 */
    int npix;
    float min_x, min_y;
    /* normalisation */
    float *mean, *std;     /* npix */
    /* CNN */
    int depth;
    vlayer *layers;
    int bins;
} vview;

struct fa_validator {
    int n;
    vview *views;
    /* workspace needs (maxima over views) */
    size_t max_tpl;        /* template pixels */
    size_t max_tri, max_lmk, max_npix;
    size_t max_act;        /* floats in one activation buffer */
    size_t max_row;        /* conv output row */
    size_t max_fc_in;      /* FC input vector */
};

struct fa_validator_ws {
    float *map_x, *map_y, *warped, *coeff, *lmk, *vec, *act0, *act1, *row, *fcin;
    size_t cap_mx, cap_my, cap_wp, cap_co, cap_lmk, cap_vec, cap_a0, cap_a1, cap_row, cap_fc;
    unsigned cpu; /* FA_CPU_* kernels the CNN runs (fa_cpu_features() at fa_validator_ws_create) */
};

/* ---- loading -------------------------------------------------------------------------------- */

/* ReadMatBin, with the context named in the message on failure. */
static faceau_status rd_mat(fa_reader *r, fa_mat *m, const char *what, int view)
{
    fa_err e;
    fa_err_clear(&e);
    faceau_status st = fa_binmat_read(r->f, r->path, m, &e);
    if (st)
        return fa_fail(r->err, st, "%s (view %d %s)", e.msg, view, what);
    return FACEAU_OK;
}

static faceau_status corrupt(fa_reader *r, int view, const char *what)
{
    return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: view %d: %s", r->path, view, what);
}

/* Mat::convertTo(CV_8U) of one element then "!= 0": saturate_cast<uchar> rounds floats. */
static int mask_on(const fa_mat *m, size_t i)
{
    double v = m->data[i];
    if (m->type == FA_CV_32F || m->type == FA_CV_64F)
        v = rint(v);
    return v >= 1.0;
}

static float *copy_floats(const fa_mat *m, fa_err *err, const char *what)
{
    size_t n = (size_t)m->rows * (size_t)m->cols;
    float *p = fa_malloc((n ? n : 1) * sizeof *p, err, what);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = (float)m->data[i];
    return p;
}

static void view_free(vview *w)
{
    free(w->dst);
    free(w->tri);
    free(w->alpha);
    free(w->beta);
    free(w->tri_id);
    free(w->mask);
    free(w->mean);
    free(w->std);
    if (w->layers)
        for (int l = 0; l < w->depth; l++) {
            free(w->layers[l].w);
            free(w->layers[l].b);
        }
    free(w->layers);
}

void fa_validator_free(fa_validator *v)
{
    if (!v)
        return;
    if (v->views)
        for (int i = 0; i < v->n; i++)
            view_free(&v->views[i]);
    free(v->views);
    free(v);
}

/* Convolutional layer: int32 n_in, int32 n_kernels, n_kernels float32 biases, then n_in x
 * n_kernels kernel matrices (input-major). */
static faceau_status read_conv(fa_reader *r, vlayer *L, int view, int li)
{
    int32_t nin = 0, nk = 0;
    faceau_status st;
    if ((st = fa_read_i32(r, &nin, "conv input maps")) || (st = fa_read_i32(r, &nk, "conv kernel count")))
        return st;
    if (nin < 1 || nk < 1 || nin > V_MAX_MAPS || nk > V_MAX_MAPS)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: view %d layer %d: conv %d -> %d maps",
                       r->path, view, li, nin, nk);
    L->cin = nin, L->cout = nk;
    L->b = fa_malloc((size_t)nk * sizeof *L->b, r->err, r->path);
    if (!L->b)
        return FACEAU_ERR_NOMEM;
    for (int k = 0; k < nk; k++)
        if ((st = fa_read_f32(r, &L->b[k], "conv biases")))
            return st;
    for (int m = 0; m < nin; m++)
        for (int k = 0; k < nk; k++) {
            fa_mat km;
            if ((st = rd_mat(r, &km, "conv kernel", view)))
                return st;
            if (!L->w) {
                if (km.rows < 1 || km.cols < 1 || km.rows > V_MAX_KERNEL || km.cols > V_MAX_KERNEL) {
                    fa_mat_free(&km);
                    return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                                   "%s: view %d layer %d: kernel %d x %d", r->path, view, li,
                                   km.rows, km.cols);
                }
                L->kh = km.rows, L->kw = km.cols;
                L->w = fa_malloc((size_t)nk * nin * L->kh * L->kw * sizeof *L->w, r->err, r->path);
                if (!L->w) {
                    fa_mat_free(&km);
                    return FACEAU_ERR_NOMEM;
                }
            } else if (km.rows != L->kh || km.cols != L->kw) {
                fa_mat_free(&km);
                return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                               "%s: view %d layer %d: kernels of different sizes", r->path, view, li);
            }
            /* weight_matrix row k, column m*kh*kw + x*kh + y = kernel(y, x): the im2col order */
            size_t kk = (size_t)L->kh * L->kw, K = (size_t)nin * kk;
            float *dstw = L->w + (size_t)k * K + (size_t)m * kk;
            for (int y = 0; y < L->kh; y++)
                for (int x = 0; x < L->kw; x++)
                    dstw[(size_t)x * L->kh + y] = (float)km.data[(size_t)y * L->kw + x];
            fa_mat_free(&km);
        }
    return FACEAU_OK;
}

/* Fully connected layer: Mat bias (n_out values), Mat weights (n_in x n_out, transposed at use). */
static faceau_status read_fc(fa_reader *r, vlayer *L, int view, int li)
{
    fa_mat bm, wm;
    faceau_status st;
    if ((st = rd_mat(r, &bm, "FC bias", view)))
        return st;
    if ((st = rd_mat(r, &wm, "FC weights", view))) {
        fa_mat_free(&bm);
        return st;
    }
    int nin = wm.rows, nout = wm.cols;
    if (nin < 1 || nout < 1 || (long)bm.rows * bm.cols != nout) {
        st = fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                     "%s: view %d layer %d: FC weights %d x %d with %d biases", r->path, view, li,
                     nin, nout, bm.rows * bm.cols);
    } else {
        L->cin = nin, L->cout = nout;
        L->b = copy_floats(&bm, r->err, r->path);
        L->w = fa_malloc((size_t)nin * nout * sizeof *L->w, r->err, r->path);
        if (!L->b || !L->w)
            st = FACEAU_ERR_NOMEM;
        else
            for (int k = 0; k < nout; k++)
                for (int i = 0; i < nin; i++)
                    L->w[(size_t)k * nin + i] = (float)wm.data[(size_t)i * nout + k];
    }
    fa_mat_free(&bm);
    fa_mat_free(&wm);
    return st;
}

/* Shapes through the network (what OpenCV would accept), and the buffer sizes they need. */
static faceau_status plan_cnn(fa_reader *r, fa_validator *v, vview *w, int view)
{
    int c = 1, h = w->h, wd = w->w;
    size_t act = (size_t)h * wd;
    for (int l = 0; l < w->depth; l++) {
        vlayer *L = &w->layers[l];
        L->in_c = c, L->in_h = h, L->in_w = wd;
        char what[160];
        switch (L->type) {
        case VL_CONV:
            if (L->cin != c || h < L->kh || wd < L->kw) {
                snprintf(what, sizeof what, "layer %d: conv %dx%d on %d maps expects %d maps of "
                         "at least that size, gets %d of %d x %d", l, L->kh, L->kw, L->cin,
                         L->cin, c, h, wd);
                return corrupt(r, view, what);
            }
            c = L->cout, h = h - L->kh + 1, wd = wd - L->kw + 1;
            if ((size_t)wd > v->max_row)
                v->max_row = (size_t)wd;
            break;
        case VL_POOL:
            h = h >= 2 ? fa_pool_out(h, 2, 2) : 0;
            wd = wd >= 2 ? fa_pool_out(wd, 2, 2) : 0;
            if (h < 1 || wd < 1) {
                snprintf(what, sizeof what, "layer %d: 2x2 max-pool of a map under 2 pixels", l);
                return corrupt(r, view, what);
            }
            break;
        case VL_FC:
            if (c > 1 && c != L->cin && (long)c * h * wd == L->cin) {
                L->fc_flat = 1;
                c = 1, h = L->cout, wd = 1;
            } else if (c == 1 && wd == 1 && h == L->cin) {
                L->fc_flat = 0;
                c = 1, h = 1, wd = L->cout;
            } else {
                snprintf(what, sizeof what, "layer %d: FC %d -> %d does not fit its input of "
                         "%d maps of %d x %d", l, L->cin, L->cout, c, h, wd);
                return corrupt(r, view, what);
            }
            if ((size_t)L->cin > v->max_fc_in)
                v->max_fc_in = (size_t)L->cin;
            break;
        case VL_RELU:
        case VL_SIGMOID:
            break;
        default:
            snprintf(what, sizeof what, "layer %d: unknown layer type %d", l, L->type);
            return corrupt(r, view, what);
        }
        L->out_c = c, L->out_h = h, L->out_w = wd;
        size_t n = (size_t)c * h * wd;
        if (n > act)
            act = n;
    }
    if (c != 1 || h != 1 || wd < 1)
        return corrupt(r, view, "the network does not end in one row of bins");
    w->bins = wd;
    if (act > v->max_act)
        v->max_act = act;
    return FACEAU_OK;
}

/* PAW::Read: int32 n_pixels, f64 min_x, f64 min_y, Mats destination landmarks, triangulation,
 * triangle_id, pixel_mask, alpha, beta. */
static faceau_status read_paw(fa_reader *r, vview *w, int view)
{
    int32_t npix = 0;
    double mx = 0, my = 0;
    faceau_status st;
    if ((st = fa_read_i32(r, &npix, "PAW pixel count")) || (st = fa_read_f64(r, &mx, "PAW min_x")) ||
        (st = fa_read_f64(r, &my, "PAW min_y")))
        return st;
    w->npix = npix, w->min_x = (float)mx, w->min_y = (float)my;
    fa_mat m[6];
    static const char *names[6] = {"PAW landmarks", "PAW triangulation", "PAW triangle_id",
                                   "PAW mask", "PAW alpha", "PAW beta"};
    int got = 0;
    for (; got < 6; got++)
        if ((st = rd_mat(r, &m[got], names[got], view)))
            break;
    if (!st) {
        fa_mat *dl = &m[0], *tr = &m[1], *ti = &m[2], *mk = &m[3], *al = &m[4], *be = &m[5];
        int n_lmk = dl->rows * dl->cols / 2, nt = tr->rows;
        if (dl->cols != 1 || dl->rows % 2 || n_lmk < 3 || n_lmk > V_MAX_LMK)
            st = corrupt(r, view, "PAW landmarks are not a column of 2n values");
        else if (tr->cols != 3 || nt < 1 || al->rows != nt || al->cols != 3 || be->rows != nt ||
                 be->cols != 3)
            st = corrupt(r, view, "PAW triangulation, alpha and beta are not n x 3 alike");
        else if (ti->rows != mk->rows || ti->cols != mk->cols || mk->rows < 1 || mk->cols < 1 ||
                 mk->rows > V_MAX_SIDE || mk->cols > V_MAX_SIDE)
            st = corrupt(r, view, "PAW triangle_id and mask differ in size");
        for (long i = 0; !st && i < 3L * nt; i++)
            if (!(tr->data[i] >= 0 && tr->data[i] < n_lmk)) /* a float matrix may hold NaN */
                st = corrupt(r, view, "PAW triangle names a landmark out of range");
        if (!st) {
            w->n_lmk = n_lmk, w->n_tri = nt, w->h = mk->rows, w->w = mk->cols;
            size_t np = (size_t)w->w * w->h;
            w->dst = copy_floats(dl, r->err, r->path);
            w->alpha = copy_floats(al, r->err, r->path);
            w->beta = copy_floats(be, r->err, r->path);
            w->tri = fa_malloc(3 * (size_t)nt * sizeof *w->tri, r->err, r->path);
            w->tri_id = fa_malloc(np * sizeof *w->tri_id, r->err, r->path);
            w->mask = fa_malloc(np, r->err, r->path);
            if (!w->dst || !w->alpha || !w->beta || !w->tri || !w->tri_id || !w->mask)
                st = FACEAU_ERR_NOMEM;
        }
        if (!st) {
            for (long i = 0; i < 3L * nt; i++)
                w->tri[i] = (int)tr->data[i];
            int count = 0;
            for (size_t i = 0; !st && i < (size_t)w->w * w->h; i++) {
                w->mask[i] = (uint8_t)mask_on(mk, i);
                double t = ti->data[i];
                w->tri_id[i] = (t >= -1 && t < nt) ? (int)t : -2;
                if (w->mask[i] && w->tri_id[i] < 0)
                    st = corrupt(r, view, "PAW mask pixel without a triangle");
                count += w->mask[i];
            }
            if (!st && count != npix)
                st = corrupt(r, view, "PAW pixel count disagrees with its mask");
        }
    }
    for (int i = 0; i < got; i++)
        fa_mat_free(&m[i]);
    return st;
}

static faceau_status read_view(fa_reader *r, fa_validator *v, vview *w, int view)
{
    fa_mat mm, sm;
    faceau_status st;
    if ((st = rd_mat(r, &mm, "mean image", view)))
        return st;
    if ((st = rd_mat(r, &sm, "standard deviations", view))) {
        fa_mat_free(&mm);
        return st;
    }
    int nmean = mm.rows * mm.cols, nstd = sm.rows * sm.cols;
    /* mean and std are transposed after loading: a row becomes the column of features. */
    w->mean = copy_floats(&mm, r->err, r->path);
    w->std = copy_floats(&sm, r->err, r->path);
    fa_mat_free(&mm);
    fa_mat_free(&sm);
    if (!w->mean || !w->std)
        return FACEAU_ERR_NOMEM;

    int32_t depth = 0;
    if ((st = fa_read_i32(r, &depth, "network depth")))
        return st;
    if (depth < 1 || depth > V_MAX_DEPTH)
        return corrupt(r, view, "network depth out of range");
    w->layers = fa_calloc((size_t)depth, sizeof *w->layers, r->err, r->path);
    if (!w->layers)
        return FACEAU_ERR_NOMEM;
    w->depth = depth;
    for (int l = 0; l < depth; l++) {
        int32_t t = 0;
        if ((st = fa_read_i32(r, &t, "layer type")))
            return st;
        w->layers[l].type = t;
        if (t == VL_CONV)
            st = read_conv(r, &w->layers[l], view, l);
        else if (t == VL_FC)
            st = read_fc(r, &w->layers[l], view, l);
        else if (t != VL_POOL && t != VL_RELU && t != VL_SIGMOID) {
            char what[64];
            snprintf(what, sizeof what, "layer %d: unknown layer type %d", l, (int)t);
            st = corrupt(r, view, what);
        }
        if (st)
            return st;
    }
    if ((st = read_paw(r, w, view)))
        return st;
    if (nmean != w->npix || nstd != w->npix)
        return corrupt(r, view, "mean or standard deviation length differs from the PAW pixel count");
    if ((st = plan_cnn(r, v, w, view)))
        return st;
    size_t tpl = (size_t)w->w * w->h;
    if (tpl > v->max_tpl)
        v->max_tpl = tpl;
    if ((size_t)w->n_tri > v->max_tri)
        v->max_tri = (size_t)w->n_tri;
    if ((size_t)w->n_lmk > v->max_lmk)
        v->max_lmk = (size_t)w->n_lmk;
    if ((size_t)w->npix > v->max_npix)
        v->max_npix = (size_t)w->npix;
    return FACEAU_OK;
}

faceau_status fa_validator_load(const char *path, fa_validator **out, fa_err *err)
{
    if (!out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_load: NULL output");
    *out = NULL;
    if (!path)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_load: NULL path");
    FILE *f;
    faceau_status st = fa_fopen_read(path, &f, err);
    if (st)
        return st;
    fa_reader r = {f, path, err};
    fa_validator *v = fa_calloc(1, sizeof *v, err, path);
    if (!v) {
        fclose(f);
        return FACEAU_ERR_NOMEM;
    }
    int32_t type = 0, n = 0;
    if ((st = fa_read_i32(&r, &type, "validator type")))
        goto done;
    if (type != 3) {
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT,
                     "%s: validator type %d (only the CNN validator, type 3, is supported)", path,
                     (int)type);
        goto done;
    }
    if ((st = fa_read_i32(&r, &n, "view count")))
        goto done;
    if (n < 1 || n > V_MAX_VIEWS) {
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: %d views", path, (int)n);
        goto done;
    }
    v->views = fa_calloc((size_t)n, sizeof *v->views, err, path);
    if (!v->views) {
        st = FACEAU_ERR_NOMEM;
        goto done;
    }
    v->n = n;
    for (int i = 0; i < n; i++) {
        fa_mat o;
        if ((st = rd_mat(&r, &o, "orientation", i)))
            goto done;
        if ((long)o.rows * o.cols < 3) {
            fa_mat_free(&o);
            st = corrupt(&r, i, "orientation has fewer than 3 values");
            goto done;
        }
        /* Vec3d(degrees) * M_PI / 180.0, element by element in double */
        for (int k = 0; k < 3; k++)
            v->views[i].orient[k] = o.data[k] * 3.14159265358979323846 / 180.0;
        fa_mat_free(&o);
    }
    for (int i = 0; i < n; i++)
        if ((st = read_view(&r, v, &v->views[i], i)))
            goto done;
done:
    fclose(f);
    if (st) {
        fa_validator_free(v);
        return st;
    }
    *out = v;
    return FACEAU_OK;
}

int fa_validator_views(const fa_validator *v)
{
    return v ? v->n : 0;
}

int fa_validator_view_id(const fa_validator *v, const float rot[3])
{
    /* cv::norm(orientation, orientations[i]): sqrt of the squared differences summed in order;
     * the first view wins ties. */
    int id = 0;
    double best = -1.0;
    for (int i = 0; i < v->n; i++) {
        double s = 0;
        for (int k = 0; k < 3; k++) {
            double d = (double)rot[k] - v->views[i].orient[k];
            s += d * d;
        }
        double d = sqrt(s);
        if (i == 0 || d < best)
            best = d, id = i;
    }
    return id;
}

void fa_validator_view_size(const fa_validator *v, int view, int *width, int *height)
{
    *width = v->views[view].w;
    *height = v->views[view].h;
}

void fa_validator_view_template(const fa_validator *v, int view, int *n, const float **landmarks,
                                float *min_x, float *min_y, const uint8_t **mask, int *n_pixels)
{
    const vview *w = &v->views[view];
    *n = w->n_lmk;
    *landmarks = w->dst;
    *min_x = w->min_x;
    *min_y = w->min_y;
    *mask = w->mask;
    *n_pixels = w->npix;
}

/* ---- workspace -------------------------------------------------------------------------------- */

faceau_status fa_validator_ws_create(fa_validator_ws **out, fa_err *err)
{
    if (!out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_ws_create: NULL output");
    *out = fa_calloc(1, sizeof **out, err, "validator workspace");
    if (!*out)
        return FACEAU_ERR_NOMEM;
    (*out)->cpu = fa_cpu_features();
    return FACEAU_OK;
}

void fa_validator_ws_free(fa_validator_ws *ws)
{
    if (!ws)
        return;
    free(ws->map_x);
    free(ws->map_y);
    free(ws->warped);
    free(ws->coeff);
    free(ws->lmk);
    free(ws->vec);
    free(ws->act0);
    free(ws->act1);
    free(ws->row);
    free(ws->fcin);
    free(ws);
}

static faceau_status grow(float **p, size_t *cap, size_t n, fa_err *err)
{
    if (n <= *cap)
        return FACEAU_OK;
    float *q = realloc(*p, n * sizeof *q);
    if (!q)
        return fa_fail(err, FACEAU_ERR_NOMEM, "validator workspace: out of memory (%zu floats)", n);
    *p = q;
    *cap = n;
    return FACEAU_OK;
}

/* Grows ws to what any view of v needs; a no-op once it has. */
static faceau_status ws_reserve(fa_validator_ws *ws, const fa_validator *v, fa_err *err)
{
    faceau_status st;
    if ((st = grow(&ws->map_x, &ws->cap_mx, v->max_tpl, err)) ||
        (st = grow(&ws->map_y, &ws->cap_my, v->max_tpl, err)) ||
        (st = grow(&ws->warped, &ws->cap_wp, v->max_tpl, err)) ||
        (st = grow(&ws->act0, &ws->cap_a0, v->max_act, err)) ||
        (st = grow(&ws->act1, &ws->cap_a1, v->max_act, err)) ||
        (st = grow(&ws->coeff, &ws->cap_co, 6 * v->max_tri, err)) ||
        (st = grow(&ws->lmk, &ws->cap_lmk, 2 * v->max_lmk, err)) ||
        (st = grow(&ws->vec, &ws->cap_vec, v->max_npix, err)) ||
        (st = grow(&ws->row, &ws->cap_row, v->max_row ? v->max_row : 1, err)) ||
        (st = grow(&ws->fcin, &ws->cap_fc, v->max_fc_in ? v->max_fc_in : 1, err)))
        return st;
    return FACEAU_OK;
}

/* ---- PAW ------------------------------------------------------------------------------------ */

/* PAW::CalcCoeff then PAW::WarpRegion: per-triangle affine coefficients from the source shape,
 * then each masked template pixel's source position (unmasked: -1, -1). */
static void paw_maps(const vview *w, const float *src, float *coeff, float *map_x, float *map_y)
{
    int p = w->n_lmk;
    for (int l = 0; l < w->n_tri; l++) {
        int i = w->tri[3 * l], j = w->tri[3 * l + 1], k = w->tri[3 * l + 2];
        float c1 = src[i];
        float c2 = src[j] - c1;
        float c3 = src[k] - c1;
        float c4 = src[i + p];
        float c5 = src[j + p] - c4;
        float c6 = src[k + p] - c4;
        const float *a = w->alpha + 3 * l, *b = w->beta + 3 * l;
        float *c = coeff + 6 * l;
        c[0] = c1 + c2 * a[0] + c3 * b[0];
        c[1] = c2 * a[1] + c3 * b[1];
        c[2] = c2 * a[2] + c3 * b[2];
        c[3] = c4 + c5 * a[0] + c6 * b[0];
        c[4] = c5 * a[1] + c6 * b[1];
        c[5] = c5 * a[2] + c6 * b[2];
    }
    for (int y = 0; y < w->h; y++) {
        float yi = (float)y + w->min_y;
        for (int x = 0; x < w->w; x++) {
            size_t o = (size_t)y * w->w + x;
            float xi = (float)x + w->min_x;
            if (!w->mask[o]) {
                map_x[o] = -1;
                map_y[o] = -1;
                continue;
            }
            const float *a = coeff + 6 * w->tri_id[o];
            float xo = a[0];
            xo += a[1] * xi;
            map_x[o] = xo + a[2] * yi;
            float yo = a[3];
            yo += a[4] * xi;
            map_y[o] = yo + a[5] * yi;
        }
    }
}

static faceau_status check_view(const fa_validator *v, int view, fa_err *err)
{
    if (!v || view < 0 || view >= v->n)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "validator: view %d out of range", view);
    return FACEAU_OK;
}

faceau_status fa_validator_warp(const fa_validator *v, fa_validator_ws *ws, int view,
                                const fa_grey *img, const float *landmarks, float *out,
                                fa_err *err)
{
    faceau_status st = check_view(v, view, err);
    if (st)
        return st;
    if (!ws || !img || !img->px || img->width < 1 || img->height < 1 || !landmarks || !out)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_warp: bad arguments");
    if ((st = ws_reserve(ws, v, err)))
        return st;
    const vview *w = &v->views[view];
    paw_maps(w, landmarks, ws->coeff, ws->map_x, ws->map_y);
    fa_remap_grey(img, ws->map_x, ws->map_y, w->w, w->w, w->h, out, w->w);
    return FACEAU_OK;
}

/* ---- CNN -------------------------------------------------------------------------------------- */

/* convolution_direct_blas: out map k (oh x ow) = sum over the im2col columns (input map m,
 * kernel column x, kernel row y) of weight * input, then + bias (the ones column), in float.
 * in: cin maps of h x wd; out: cout maps of oh x ow. row: ow floats. The AVX2 twin
 * (validator_avx2.c) keeps the same per-output chains in registers. */
void fa_validator_conv(const float *w, const float *bias, int cin, int cout, int kh, int kw,
                       int h, int wd, const float *in, float *out, float *row)
{
    const int oh = h - kh + 1, ow = wd - kw + 1;
    size_t K = (size_t)cin * kh * kw;
    for (int k = 0; k < cout; k++) {
        const float *wk = w + (size_t)k * K;
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++)
                row[x] = 0.0f;
            const float *wp = wk;
            for (int m = 0; m < cin; m++) {
                const float *map = in + (size_t)m * h * wd;
                for (int kx = 0; kx < kw; kx++)
                    for (int ky = 0; ky < kh; ky++) {
                        float c = *wp++;
                        const float *src = map + (size_t)(y + ky) * wd + kx;
                        for (int x = 0; x < ow; x++)
                            row[x] += c * src[x];
                    }
            }
            float b = bias[k];
            float *o = out + ((size_t)k * oh + y) * ow;
            for (int x = 0; x < ow; x++)
                o[x] = row[x] + b;
        }
    }
}

static void conv_layer(const vlayer *L, const float *in, float *out, float *row, unsigned cpu)
{
#if FA_BUILD_AVX2
    if (cpu & FA_CPU_AVX512) {
        fa_validator_conv_avx512(L->w, L->b, L->cin, L->cout, L->kh, L->kw, L->in_h, L->in_w,
                                 in, out, row);
        return;
    }
    if (cpu & FA_CPU_AVX2) {
        fa_validator_conv_avx2(L->w, L->b, L->cin, L->cout, L->kh, L->kw, L->in_h, L->in_w, in,
                               out, row);
        return;
    }
#endif
    (void)cpu;
    fa_validator_conv(L->w, L->b, L->cin, L->cout, L->kh, L->kw, L->in_h, L->in_w, in, out, row);
}

/* GEMMSingleMul<float, double> for weights (n_out x n_in) times a vector, plus the bias. */
static void fc_vector(const vlayer *L, const float *x, float *out, unsigned cpu)
{
    fa_gemv_cv_cpu(L->w, (size_t)L->cin, L->cout, L->cin, x, L->b, out, cpu);
}

/* NormaliseWarpedToVector then the CNN input image: masked pixels taken column by column,
 * normalised locally then with the view's mean/std, put back at their pixels (0 elsewhere). */
static void normalise(const vview *w, const float *warped, float *vec, float *img)
{
    size_t n = 0;
    for (int x = 0; x < w->w; x++)
        for (int y = 0; y < w->h; y++) {
            size_t o = (size_t)y * w->w + x;
            if (w->mask[o])
                vec[n++] = warped[o];
        }
    /* cv::meanStdDev */
    double s = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        double t = vec[i];
        s += t;
        sq += t * t;
    }
    double scale = n ? 1.0 / (double)n : 0.0;
    double mean = s * scale;
    double var = sq * scale - mean * mean;
    double sd = sqrt(var > 0 ? var : 0);
    if (sd == 0)
        sd = 1;
    float mf = (float)mean, inv = (float)(1.0 / sd);
    for (size_t i = 0; i < n; i++) {
        float t = vec[i] - mf;
        t = t * inv;
        vec[i] = (t - w->mean[i]) / w->std[i];
    }
    memset(img, 0, (size_t)w->w * w->h * sizeof *img);
    n = 0;
    for (int x = 0; x < w->w; x++)
        for (int y = 0; y < w->h; y++) {
            size_t o = (size_t)y * w->w + x;
            if (w->mask[o])
                img[o] = vec[n++];
        }
}

faceau_status fa_validator_cnn(const fa_validator *v, fa_validator_ws *ws, int view,
                               const float *warped, double *dec, int *bin, fa_err *err)
{
    faceau_status st = check_view(v, view, err);
    if (st)
        return st;
    if (!ws || !warped)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_cnn: bad arguments");
    if ((st = ws_reserve(ws, v, err)))
        return st;
    const vview *w = &v->views[view];
    float *in = ws->act0, *out = ws->act1;
    normalise(w, warped, ws->vec, in);
    for (int l = 0; l < w->depth; l++) {
        const vlayer *L = &w->layers[l];
        size_t n_in = (size_t)L->in_c * L->in_h * L->in_w;
        switch (L->type) {
        case VL_CONV:
            conv_layer(L, in, out, ws->row, ws->cpu);
            break;
        case VL_POOL: {
            size_t isz = (size_t)L->in_h * L->in_w, osz = (size_t)L->out_h * L->out_w;
            for (int m = 0; m < L->in_c; m++)
                fa_maxpool(in + m * isz, L->in_h, L->in_w, 1, 2, 2, 2, 2, L->out_h, L->out_w,
                           out + m * osz);
            break;
        }
        case VL_FC:
            if (L->fc_flat) {
                /* each map transposed and flattened: index m*h*w + x*h + y */
                size_t t = 0, hw = (size_t)L->in_h * L->in_w;
                for (int m = 0; m < L->in_c; m++)
                    for (int x = 0; x < L->in_w; x++)
                        for (int y = 0; y < L->in_h; y++)
                            ws->fcin[t++] = in[m * hw + (size_t)y * L->in_w + x];
                fc_vector(L, ws->fcin, out, ws->cpu);
            } else {
                fc_vector(L, in, out, ws->cpu);
            }
            break;
        case VL_RELU: /* cv::threshold(THRESH_TOZERO, 0) */
            for (size_t i = 0; i < n_in; i++)
                out[i] = in[i] > 0 ? in[i] : 0.0f;
            break;
        case VL_SIGMOID: /* cv::exp then 1 / (1 + e); OpenCV's exp is its own, expf may differ */
            for (size_t i = 0; i < n_in; i++)
                out[i] = 1.0f / (1.0f + fa_expf(-in[i]));
            break;
        }
        float *t = in;
        in = out;
        out = t;
    }
    /* cv::minMaxLoc: the first maximum */
    int best = 0;
    for (int i = 1; i < w->bins; i++)
        if (in[i] > in[best])
            best = i;
    double step = 2.0 / (double)w->bins;
    if (dec)
        *dec = -1.0 + step / 2.0 + best * step;
    if (bin)
        *bin = best;
    return FACEAU_OK;
}

/* ---- Check ------------------------------------------------------------------------------------ */

/* (int)f as x86 does it (cvttss2si): out of range or NaN gives INT_MIN; C would be undefined. */
static int trunc_int(float f)
{
    if (!(f > -2147483904.0f && f < 2147483648.0f))
        return INT32_MIN;
    return (int)f;
}

size_t fa_validator_max_template(const fa_validator *v)
{
    return v->max_tpl;
}

/* fa_validator_crop_warp from grey, or (grey NULL) from the grey of the BGR image bgr. */
static faceau_status crop_warp(const fa_validator *v, fa_validator_ws *ws, const fa_grey *grey,
                               const fa_image *bgr, const float *landmarks, int n_landmarks,
                               const float rot[3], int *view, float *warped, int *empty,
                               fa_err *err)
{
    const int width = grey ? grey->width : bgr ? bgr->width : 0;
    const int height = grey ? grey->height : bgr ? bgr->height : 0;
    if (!v || !ws || (grey && !grey->px) || (!grey && (!bgr || !bgr->bgr)) || width < 1 ||
        height < 1 || !landmarks || !rot || !view || !warped || !empty)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_check: bad arguments");
    int id = fa_validator_view_id(v, rot);
    const vview *w = &v->views[id];
    *view = id;
    *empty = 0;
    if (n_landmarks != w->n_lmk)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG,
                       "fa_validator_check: %d landmarks, the validator's view %d has %d",
                       n_landmarks, id, w->n_lmk);
    faceau_status st = ws_reserve(ws, v, err);
    if (st)
        return st;
    int n = n_landmarks;
    /* ExtractBoundingBox */
    float min_xf = landmarks[0], max_xf = landmarks[0], min_yf = landmarks[n], max_yf = landmarks[n];
    for (int i = 1; i < n; i++) {
        float x = landmarks[i], y = landmarks[n + i];
        if (x < min_xf)
            min_xf = x;
        if (x > max_xf)
            max_xf = x;
        if (y < min_yf)
            min_yf = y;
        if (y > max_yf)
            max_yf = y;
    }
    /* the ROI with 3 px to spare for the bilinear interpolation, truncated, clipped */
    int min_x = trunc_int(min_xf - 3.0f), max_x = trunc_int(max_xf + 3.0f);
    int min_y = trunc_int(min_yf - 3.0f), max_y = trunc_int(max_yf + 3.0f);
    if (min_x < 0)
        min_x = 0;
    if (min_y < 0)
        min_y = 0;
    if (max_x > width - 1)
        max_x = width - 1;
    if (max_y > height - 1)
        max_y = height - 1;
    if ((long long)max_x - min_x <= 1 || (long long)max_y - min_y <= 1) {
        *empty = 1;
        return FACEAU_OK;
    }
    /* landmarks in the crop's frame: x - (float)min_x */
    float fx = (float)min_x, fy = (float)min_y;
    for (int i = 0; i < n; i++) {
        ws->lmk[i] = landmarks[i] - fx;
        ws->lmk[n + i] = landmarks[n + i] - fy;
    }
    paw_maps(w, ws->lmk, ws->coeff, ws->map_x, ws->map_y);
    if (!grey) {
        fa_remap_bgr_grey(bgr, min_x, min_y, max_x - min_x, max_y - min_y, ws->map_x, ws->map_y,
                          w->w, w->w, w->h, warped, w->w);
        return FACEAU_OK;
    }
    /* the crop Rect(min_x, min_y, max_x - min_x, max_y - min_y), as a view into the frame
     * (a frame made on demand makes it first: the view has no source of its own) */
    fa_grey_need(grey, min_x, min_y, max_x, max_y);
    fa_grey crop = {max_x - min_x, max_y - min_y, grey->stride,
                    grey->px + (size_t)min_y * (size_t)grey->stride + (size_t)min_x, 0, NULL};
    fa_remap_grey(&crop, ws->map_x, ws->map_y, w->w, w->w, w->h, warped, w->w);
    return FACEAU_OK;
}

faceau_status fa_validator_crop_warp(const fa_validator *v, fa_validator_ws *ws, const fa_grey *grey,
                                     const float *landmarks, int n_landmarks, const float rot[3],
                                     int *view, float *warped, int *empty, fa_err *err)
{
    if (!grey)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_check: bad arguments");
    return crop_warp(v, ws, grey, NULL, landmarks, n_landmarks, rot, view, warped, empty, err);
}

faceau_status fa_validator_crop_warp_bgr(const fa_validator *v, fa_validator_ws *ws,
                                         const fa_image *bgr, const float *landmarks,
                                         int n_landmarks, const float rot[3], int *view,
                                         float *warped, int *empty, fa_err *err)
{
    if (!bgr)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_check: bad arguments");
    return crop_warp(v, ws, NULL, bgr, landmarks, n_landmarks, rot, view, warped, empty, err);
}

faceau_status fa_validator_confidence(const fa_validator *v, fa_validator_ws *ws, int view,
                                      const float *warped, int empty, float *confidence,
                                      fa_err *err)
{
    if (!confidence)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_check: bad arguments");
    if (empty) {
        *confidence = 0.0f;
        return FACEAU_OK;
    }
    double dec;
    faceau_status st = fa_validator_cnn(v, ws, view, warped, &dec, NULL, err);
    if (st)
        return st;
    *confidence = (float)(0.5 * (1.0 - dec));
    return FACEAU_OK;
}

faceau_status fa_validator_check(const fa_validator *v, fa_validator_ws *ws, const fa_grey *grey,
                                 const float *landmarks, int n_landmarks, const float rot[3],
                                 float *confidence, fa_err *err)
{
    if (!v || !ws || !confidence)
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "fa_validator_check: bad arguments");
    faceau_status st = ws_reserve(ws, v, err);
    if (st)
        return st;
    int view, empty;
    if ((st = fa_validator_crop_warp(v, ws, grey, landmarks, n_landmarks, rot, &view, ws->warped,
                                     &empty, err)))
        return st;
    return fa_validator_confidence(v, ws, view, ws->warped, empty, confidence, err);
}
