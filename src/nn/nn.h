/* nn/nn.h - OpenFace's CNN runtime (not installed): convolution with bias and PReLU, max pooling,
 * sigmoid, and networks read from OpenFace's binary CNN format (CNN::Read), as MTCNN's PNet,
 * RNet and ONet (and the landmark validator) use them. Feature maps are row-major
 * height x width x channels.
 */
#ifndef FACEAU_NN_H
#define FACEAU_NN_H

#include "cv/cv.h"

/* ---- layers (conv.c) -------------------------------------------------------------------- */
/* How OpenFace sums a layer (the order decides the last bits, and the boxes seed every landmark):
 *  FA_CONV      convolution_direct_blas: im2col (input map outer, kernel column, kernel row, then a
 *               1 for the bias) times the weights through OpenBLAS's sgemm_: per output one fused
 *               chain over that order from 0, the bias last (fma(1, bias, acc)); OpenBLAS's big
 *               path (M*N*K > 100^3) cuts K > 448 into blocks (driver/level3.c), each its own
 *               chain added to the sum so far.
 *  FA_FC_PIXEL  fully_connected on maps whose count is the FC's input count (PNet's head):
 *               cv::gemm with no C, OpenCV's own code (fewer than 100 outputs): one double sum
 *               over the maps per output (four interleaved ones when the map is 1x1), rounded to
 *               float, then + bias in float.
 *  FA_FC        fully_connected on a flattened map (column-major per map, maps in order) or on an
 *               FC's vector: cv::gemm(W, x, 1, bias, 1). 100 outputs or more go to OpenBLAS's
 *               small-matrix sgemm as a 1-row product: 16 lanes (k mod 16) of fused chains, the
 *               REDUCE_4 tree (cv/skx_gemm.h), + bias rounded once; fewer stay in OpenCV: four
 *               interleaved double sums, added in order, + bias in double, rounded to float.
 * Checked bit for bit against OpenFace 2.0.2's FaceDetectorMTCNN built with Debian's OpenCV 4.6
 * and OpenBLAS 0.3.21 (SkylakeX kernels), layer by layer. The AVX2 kernels give the same bits
 * (the same fused multiply-adds and double sums in the same order). */
enum { FA_CONV, FA_FC_PIXEL, FA_FC };

/* A convolution or FC layer (valid, stride 1, cross-correlation) with bias and optional PReLU. */
typedef struct fa_conv {
    int kind;                    /* FA_CONV, FA_FC_PIXEL, FA_FC */
    int cin, cout, kh, kw, cpad; /* cpad: cout rounded up to 16 */
    int nk;                      /* cin*kh*kw products per output (the bias is term nk) */
    float *w;                    /* nk x cpad, rows in OpenFace's im2col order */
    double *wd;                  /* FA_FC_PIXEL: w as doubles (OpenCV sums in double) */
    int *kx, *ky;                /* term k reads input row ky[k], offset kx[k] (= x*cin + map) */
    float *bias, *slope;         /* cpad each; slope NULL = no PReLU */
    int avx2;                    /* AVX2+FMA kernels (CPU has them and FACEAU_NO_AVX2 is unset) */
} fa_conv;
/* kernels: cin*cout matrices kh x kw in OpenFace's file order (input-major); slope may be NULL.
 * FA_FC: kh x kw is the whole input map; FA_FC_PIXEL: 1 x 1. */
faceau_status fa_conv_init(fa_conv *c, int kind, int cin, int cout, int kh, int kw,
                           const float *kernels, const float *bias, const float *slope, fa_err *err);
/* The same with the weights term by term: w[k*cout + n] for term k in the im2col order (input
 * map, kernel column, kernel row) and output n, which is OpenFace's FC weight matrix as stored
 * (its row i is term i): no reordering copy of a layer of megabytes at load. */
faceau_status fa_conv_init_terms(fa_conv *c, int kind, int cin, int cout, int kh, int kw,
                                 const float *w, const float *bias, const float *slope, fa_err *err);
void fa_conv_free(fa_conv *c);
/* in: h x w x cin; out: (h-kh+1) x (w-kw+1) x cout. full_h: the height of the whole map when
 * in is a band of it (OpenBLAS's path and OpenCV's 1x1 case depend on the whole product). */
void fa_conv_run(const fa_conv *c, const float *in, int h, int w, int full_h, float *out);
/* OpenFace's max_pooling: round((n-k)/s)+1 outputs, windows clipped at the border. */
int fa_pool_out(int n, int k, int s);
void fa_maxpool(const float *in, int h, int w, int c, int kx, int ky, int sx, int sy, int oh,
                int ow, float *out);

/* OpenCV 4.6's cv::exp of one float (exp32f as Debian's AVX2 build runs it), not libm's expf. */
float fa_cv_exp(float x);

/* ---- networks (cnn.c) ------------------------------------------------------------------- */
#define FA_CNN_MAX_LAYERS 32

enum { FA_LT_CONV, FA_LT_POOL, FA_LT_SIGMOID };

typedef struct fa_layer {
    int type;
    fa_conv conv;        /* FA_LT_CONV (OpenFace's conv, or an FC as a conv over the whole map) */
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
/* Runs the layers on buf[0] holding rows r[0]..e[0]-1 of the input (hs, ws, cs: each layer's
 * whole input height, width and channels), ping-ponging between buf[0] and buf[1]; returns the
 * output buffer. */
float *fa_cnn_run(const fa_cnn *net, float *buf[2], const int *r, const int *e, const int *hs,
                  const int *ws, const int *cs);

#endif /* FACEAU_NN_H */
