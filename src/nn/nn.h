/* nn/nn.h - OpenFace's CNN runtime (not installed): convolution with bias and PReLU, max pooling,
 * sigmoid, and networks read from OpenFace's binary CNN format (CNN::Read), as MTCNN's PNet,
 * RNet and ONet (and the landmark validator) use them. Feature maps are row-major
 * height x width x channels.
 */
#ifndef FACEAU_NN_H
#define FACEAU_NN_H

#include "cv/cv.h"

/* ---- layers (conv.c) -------------------------------------------------------------------- */
/* A convolution layer (valid, stride 1, cross-correlation) with bias and optional PReLU. */
typedef struct fa_conv {
    int cin, cout, kh, kw, cpad; /* cpad: cout rounded up to 16 */
    float *w;                    /* kh x (kw*cin) x cpad */
    float *bias, *slope;         /* cpad each; slope NULL = no PReLU */
    int avx2;                    /* AVX2+FMA kernel (CPU has it and FACEAU_NO_AVX2 is unset) */
} fa_conv;
/* kernels: cin*cout matrices kh x kw in OpenFace's file order (input-major); slope may be NULL. */
faceau_status fa_conv_init(fa_conv *c, int cin, int cout, int kh, int kw, const float *kernels,
                           const float *bias, const float *slope, fa_err *err);
void fa_conv_free(fa_conv *c);
/* in: h x w x cin; out: (h-kh+1) x (w-kw+1) x cout. */
void fa_conv_run(const fa_conv *c, const float *in, int h, int w, float *out);
/* OpenFace's max_pooling: round((n-k)/s)+1 outputs, windows clipped at the border. */
int fa_pool_out(int n, int k, int s);
void fa_maxpool(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy, int oh,
                int ow, float *out);

/* ---- networks (cnn.c) ------------------------------------------------------------------- */
#define FA_CNN_MAX_LAYERS 32

enum { FA_LT_CONV, FA_LT_POOL, FA_LT_SIGMOID };

typedef struct fa_layer {
    int type;
    fa_conv conv;        /* FA_LT_CONV (OpenFace's conv, or FC as a conv over the whole map) */
    int kx, ky, sx, sy;  /* FA_LT_POOL */
} fa_layer;

typedef struct fa_cnn {
    int n;
    fa_layer l[FA_CNN_MAX_LAYERS];
    int in_size;         /* fixed input side (RNet 24, ONet 48), 0 for PNet */
    int out_ch;
} fa_cnn;

/* OpenFace's CNN::Read, checking what it leaves unchecked. in_size: the fixed input side (its
 * FC layers are sized for it), 0 for a fully convolutional net; the net must end in at least
 * 6 channels (1 x 1 when in_size is set). */
faceau_status fa_cnn_read(fa_cnn *net, const char *path, int in_size, fa_err *err);
void fa_cnn_free(fa_cnn *net);
/* Channels and size of each layer's input, for a given network input size (h, w).
 * hs/ws/cs[i] describe layer i's input; index n is the output. 0 rows = too small. */
void fa_cnn_shapes(const fa_cnn *net, int h, int w, int *hs, int *ws, int *cs);
/* Row ranges r[i]..e[i]-1 each layer needs for output rows o0..o1-1; returns the largest
 * buffer (floats) any layer needs. */
size_t fa_cnn_band_rows(const fa_cnn *net, const int *hs, const int *ws, const int *cs, int o0,
                        int o1, int *r, int *e);
/* Runs the layers on buf[0] holding rows r[0]..e[0]-1 of the input (ws, cs: each layer's input
 * width and channels), ping-ponging between buf[0] and buf[1]; returns the output buffer. */
float *fa_cnn_run(const fa_cnn *net, float *buf[2], const int *r, const int *e, const int *ws,
                  const int *cs);

#endif /* FACEAU_NN_H */
