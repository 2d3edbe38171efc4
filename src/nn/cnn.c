/* cnn.c - OpenFace's CNN: the weight reader (CNN::Read, as MTCNN's PNet/RNet/ONet .dat files
 * store it) and the layer-by-layer forward pass over row bands. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

void fa_cnn_free(fa_cnn *net)
{
    for (int i = 0; i < net->n; i++)
        fa_conv_free(&net->l[i].conv);
    net->n = 0;
}

/* Channels and size of each layer's input, for a given network input size (h, w).
 * hs/ws/cs[i] describe layer i's input; index n is the output. 0 rows = too small. */
void fa_cnn_shapes(const fa_cnn *net, int h, int w, int *hs, int *ws, int *cs)
{
    hs[0] = h, ws[0] = w, cs[0] = 3;
    for (int i = 0; i < net->n; i++) {
        const fa_layer *L = &net->l[i];
        int hh = hs[i], ww = ws[i], cc = cs[i];
        if (L->type == FA_LT_CONV) {
            hh = hh - L->conv.kh + 1, ww = ww - L->conv.kw + 1, cc = L->conv.cout;
        } else if (L->type == FA_LT_POOL) {
            hh = hh >= 1 ? fa_pool_out(hh, L->ky, L->sy) : 0;
            ww = ww >= 1 ? fa_pool_out(ww, L->kx, L->sx) : 0;
        }
        hs[i + 1] = hh > 0 && ww > 0 ? hh : 0;
        ws[i + 1] = hh > 0 && ww > 0 ? ww : 0;
        cs[i + 1] = cc;
    }
}

/* A float matrix header (rows x cols of CV_32F, at most max values), checked. */
static faceau_status rd_header(fa_reader *r, long max, const char *what, int *rows, int *cols)
{
    int type = 0;
    faceau_status st;
    if ((st = fa_read_i32(r, rows, what)) || (st = fa_read_i32(r, cols, what)) || (st = fa_read_i32(r, &type, what)))
        return st;
    if (*rows < 1 || *cols < 1 || (long)*rows * *cols > max || type != FA_CV_32F)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: bad %s matrix header (%d x %d, type %d)", r->path, what, *rows, *cols, type);
    return FACEAU_OK;
}

/* n little-endian floats straight into dst (the weights are used as floats: no double copy). */
static faceau_status rd_floats(fa_reader *r, float *dst, size_t n, int rows, int cols)
{
    unsigned char *b = (unsigned char *)dst;
    if (fread(b, 4, n, r->f) != n)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: matrix data truncated (%d x %d)", r->path,
                       rows, cols);
    for (size_t i = 0; i < n; i++) { /* assembled explicitly, as fa_read_f32 does */
        const unsigned char *q = b + 4 * i;
        const uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
    return FACEAU_OK;
}

/* A whole float matrix (header, then data) into a new array *out of rows x cols. */
static faceau_status rd_mat(fa_reader *r, long max, const char *what, int *rows, int *cols, float **out)
{
    *out = NULL;
    faceau_status st = rd_header(r, max, what, rows, cols);
    if (st)
        return st;
    const size_t n = (size_t)*rows * (size_t)*cols;
    if ((st = fa_check_bytes_left(r->f, r->path, 4 * (uint64_t)n, what, r->err)))
        return st;
    float *m = fa_malloc(n * sizeof *m, r->err, r->path);
    if (!m)
        return FACEAU_ERR_NOMEM;
    if ((st = rd_floats(r, m, n, *rows, *cols))) {
        free(m);
        return st;
    }
    *out = m;
    return FACEAU_OK;
}

static faceau_status add_conv(fa_cnn *net, fa_reader *r, int ch, int li, int *out_ch)
{
    int nin = 0, nk = 0;
    faceau_status st;
    if ((st = fa_read_i32(r, &nin, "a conv layer")) || (st = fa_read_i32(r, &nk, "a conv layer")))
        return st;
    if (nin != ch || nk < 1 || nk > 4096)
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: layer %d: conv with %d inputs and %d kernels after %d maps", r->path, li,
                       nin, nk, ch);
    float *bias = fa_malloc((size_t)nk * sizeof *bias, r->err, r->path);
    float *kern = NULL;
    int kh = 0, kw = 0;
    if (!bias)
        return FACEAU_ERR_NOMEM;
    for (int k = 0; k < nk && !st; k++)
        st = fa_read_f32(r, &bias[k], "conv biases");
    for (long i = 0; i < (long)nin * nk && !st; i++) {
        int rows = 0, cols = 0;
        if ((st = rd_header(r, 64 * 64, "conv kernel", &rows, &cols)))
            break;
        if (i == 0) {
            kh = rows, kw = cols;
            /* this kernel and the nin * nk - 1 after it, each with its 12-byte header */
            st = fa_check_bytes_left(r->f, r->path, ((uint64_t)nin * (uint64_t)nk - 1) * (12 + 4 * (uint64_t)kh * (uint64_t)kw) + 4 * (uint64_t)kh * (uint64_t)kw, "the conv kernels", r->err);
            if (st)
                break;
            kern = fa_malloc((size_t)nin * nk * kh * kw * sizeof *kern, r->err, r->path);
            if (!kern)
                st = FACEAU_ERR_NOMEM;
        } else if (rows != kh || cols != kw) {
            st = fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d: kernels of different sizes",
                         r->path, li);
        }
        if (!st)
            st = rd_floats(r, kern + (size_t)i * (size_t)(kh * kw), (size_t)(kh * kw), kh, kw);
    }
    if (!st) {
        fa_layer *L = &net->l[net->n];
        L->type = FA_LT_CONV;
        if (!(st = fa_conv_init(&L->conv, FA_CONV, nin, nk, kh, kw, kern, bias, NULL, r->err)))
            net->n++, *out_ch = nk;
    }
    free(bias);
    free(kern);
    return st;
}

/* OpenFace's fully_connected: on an FC's output vector (vec), per pixel when n_in equals the
 * maps' count (PNet's head), else over the whole map flattened column-major per map. Each
 * becomes a conv (nn.h's FA_FC_PIXEL, FA_FC): 1x1, or as large as the map, its terms in the
 * flattened order. */
static faceau_status add_fc(fa_cnn *net, fa_reader *r, int h, int w, int ch, int vec, int li,
                            int *out_ch)
{
    float *bd = NULL, *wd = NULL;
    int br = 0, bc = 0, nin = 0, nout = 0;
    faceau_status st = rd_mat(r, 1 << 16, "FC bias", &br, &bc, &bd);
    if (st)
        return st;
    if ((st = rd_mat(r, 1 << 24, "FC weight", &nin, &nout, &wd))) {
        free(bd);
        return st;
    }
    int per_pixel = nin == ch && !vec;
    if (br * bc != nout || (vec && nin != ch) || (!per_pixel && !vec && (h < 1 || (long)h * w * ch != nin))) {
        free(bd), free(wd);
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: layer %d: FC %d -> %d does not fit its %d x %d x %d input", r->path, li,
                       nin, nout, h, w, ch);
    }
    /* term (m, column xx, row yy) of the conv is row m*h*w + xx*h + yy of OpenFace's weight
     * matrix (row m for a 1x1 kernel): its rows are the terms in order */
    int kh = per_pixel || vec ? 1 : h, kw = per_pixel || vec ? 1 : w;
    fa_layer *L = &net->l[net->n];
    L->type = FA_LT_CONV;
    if (!(st = fa_conv_init_terms(&L->conv, per_pixel ? FA_FC_PIXEL : FA_FC, ch, nout, kh, kw, wd,
                                  bd, NULL, r->err)))
        net->n++, *out_ch = nout;
    free(bd), free(wd);
    return st;
}

static faceau_status add_prelu(fa_cnn *net, fa_reader *r, int ch, int li)
{
    float *m = NULL;
    int rows = 0, cols = 0;
    faceau_status st = rd_mat(r, 1 << 16, "PReLU", &rows, &cols, &m);
    if (st)
        return st;
    fa_layer *L = net->n ? &net->l[net->n - 1] : NULL;
    if (rows * cols != ch || !L || L->type != FA_LT_CONV || L->conv.slope) {
        free(m);
        return fa_fail(r->err, FACEAU_ERR_MODEL_CORRUPT,
                       "%s: layer %d: PReLU of %d slopes must follow a conv or FC of %d maps",
                       r->path, li, rows * cols, ch);
    }
    L->conv.slope = fa_calloc((size_t)L->conv.cpad, sizeof *L->conv.slope, r->err, r->path);
    if (!L->conv.slope) {
        free(m);
        return FACEAU_ERR_NOMEM;
    }
    for (int k = 0; k < ch; k++)
        L->conv.slope[k] = m[k];
    free(m);
    return FACEAU_OK;
}

/* OpenFace's CNN::Read, checking what it leaves unchecked. in_size: RNet/ONet input side. */
faceau_status fa_cnn_read(fa_cnn *net, const char *path, int in_size, fa_err *err)
{
    memset(net, 0, sizeof *net);
    net->in_size = in_size;
    fa_reader r = {NULL, path, err};
    faceau_status st = fa_fopen_read(path, &r.f, err);
    if (st)
        return st;
    int depth = 0, ch = 3, h = in_size, w = in_size, vec = 0; /* vec: an FC's vector so far */
    if (!(st = fa_read_i32(&r, &depth, "the layer count")) && (depth < 1 || depth > FA_CNN_MAX_LAYERS))
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: bad layer count %d", path, depth);
    for (int li = 0; !st && li < depth; li++) {
        int type = 0, n0 = net->n;
        if ((st = fa_read_i32(&r, &type, "a layer type")))
            break;
        if (type == 0) {
            st = add_conv(net, &r, ch, li, &ch);
        } else if (type == 1) {
            int v[4] = {0, 0, 0, 0};
            for (int k = 0; k < 4 && !st; k++)
                st = fa_read_i32(&r, &v[k], "a pooling layer");
            if (!st && (v[0] < 1 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[0] > 64 || v[1] > 64 ||
                        v[2] > 64 || v[3] > 64))
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d: bad pooling %d %d %d %d",
                             path, li, v[0], v[1], v[2], v[3]);
            if (!st) {
                fa_layer *L = &net->l[net->n++];
                L->type = FA_LT_POOL, L->kx = v[0], L->ky = v[1], L->sx = v[2], L->sy = v[3];
            }
        } else if (type == 2) {
            st = add_fc(net, &r, h, w, ch, vec, li, &ch);
            /* after a flattening or vector FC OpenFace holds one vector, not maps */
            vec = vec || (!st && net->l[net->n - 1].conv.kind == FA_FC);
        } else if (type == 3) {
            st = add_prelu(net, &r, ch, li);
        } else if (type == 4) {
            net->l[net->n++].type = FA_LT_SIGMOID;
        } else {
            st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d: unknown type %d", path, li, type);
        }
        if (!st && net->n != n0 && in_size) {
            int hs[FA_CNN_MAX_LAYERS + 1], ws[FA_CNN_MAX_LAYERS + 1], cs[FA_CNN_MAX_LAYERS + 1];
            fa_cnn_shapes(net, in_size, in_size, hs, ws, cs);
            h = hs[net->n], w = ws[net->n];
            if (h < 1)
                st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: layer %d leaves no output for a %dx%d input",
                             path, li, in_size, in_size);
        }
    }
    fclose(r.f);
    if (!st && (ch < 6 || (in_size && (h != 1 || w != 1))))
        st = fa_fail(err, FACEAU_ERR_MODEL_CORRUPT, "%s: the network does not end in %s6 outputs", path,
                     in_size ? "1 x 1 x " : "");
    net->out_ch = ch;
    if (st)
        fa_cnn_free(net);
    return st;
}

static void sigmoid(const float *in, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 1.0f / (1.0f + fa_expf(-in[i]));
}

/* Runs layers on a buffer holding rows r[0]..e[0] of the input; returns the output buffer.
 * r/e: each layer's row range (global), ws/cs: widths and channels. */
float *fa_cnn_run(const fa_cnn *net, float *buf[2], const int *r, const int *e, const int *hs,
                  const int *ws, const int *cs)
{
    int cur = 0;
    for (int i = 0; i < net->n; i++) {
        const fa_layer *L = &net->l[i];
        float *in = buf[cur], *out = buf[cur ^ 1];
        int rows = e[i] - r[i];
        if (L->type == FA_LT_CONV)
            fa_conv_run(&L->conv, in, rows, ws[i], hs[i], out);
        else if (L->type == FA_LT_POOL)
            fa_maxpool(in, rows, ws[i], cs[i], L->kx, L->ky, L->sx, L->sy, e[i + 1] - r[i + 1],
                       ws[i + 1], out);
        else
            sigmoid(in, (size_t)rows * ws[i] * cs[i], out);
        cur ^= 1;
    }
    return buf[cur];
}

/* Row ranges each layer needs for PNet output rows o0..o1-1; returns the largest buffer. */
size_t fa_cnn_band_rows(const fa_cnn *net, const int *hs, const int *ws, const int *cs, int o0, int o1,
                        int *r, int *e)
{
    r[net->n] = o0, e[net->n] = o1;
    for (int i = net->n - 1; i >= 0; i--) {
        const fa_layer *L = &net->l[i];
        if (L->type == FA_LT_CONV) {
            r[i] = r[i + 1], e[i] = e[i + 1] + L->conv.kh - 1;
        } else if (L->type == FA_LT_POOL) {
            r[i] = r[i + 1] * L->sy;
            e[i] = (e[i + 1] - 1) * L->sy + L->ky;
            if (e[i] > hs[i])
                e[i] = hs[i];
        } else {
            r[i] = r[i + 1], e[i] = e[i + 1];
        }
    }
    size_t need = 0;
    for (int i = 0; i <= net->n; i++) {
        size_t n = (size_t)(e[i] - r[i]) * ws[i] * (size_t)(cs[i] < 3 ? 3 : cs[i]);
        if (n > need)
            need = n;
    }
    return need;
}
