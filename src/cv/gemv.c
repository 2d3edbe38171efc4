/* gemv.c - cv::gemm of a float matrix and a vector (GEMMSingleMul<float, double>), as the CLNF
 * fit (J_w_t * mean shifts) and the detection validator's fully connected layers use it. */
#include "cv/gemv_kernels.h"

/* Rows lda floats apart. */
static void gemv_rows(const float *A, size_t lda, int rows, int len, const float *v,
                      const float *bias, float *out)
{
    int full = len & ~3;
    for (int r = 0; r < rows; r++) {
        const float *a = A + (size_t)r * lda;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int k = 0;
        for (; k < full; k += 4) {
            s0 += (double)a[k] * v[k];
            s1 += (double)a[k + 1] * v[k + 1];
            s2 += (double)a[k + 2] * v[k + 2];
            s3 += (double)a[k + 3] * v[k + 3];
        }
        for (; k < len; k++)
            s0 += (double)a[k] * v[k];
        s0 = s0 + s1 + s2 + s3;
        out[r] = bias ? (float)(s0 + (double)bias[r]) : (float)s0;
    }
}

void fa_gemv_cv_bias(const float *A, int rows, int len, const float *v, const float *bias,
                     float *out)
{
    gemv_rows(A, (size_t)len, rows, len, v, bias, out);
}

void fa_gemv_cv(const float *A, int rows, int len, const float *v, float *out)
{
    gemv_rows(A, (size_t)len, rows, len, v, NULL, out);
}

void fa_gemv_cv_cpu(const float *A, size_t lda, int rows, int len, const float *v,
                    const float *bias, float *out, unsigned cpu)
{
#if FA_BUILD_AVX2
    if (cpu & FA_CPU_AVX2) {
        fa_gemv_cv_avx2(A, lda, rows, len, v, bias, out);
        return;
    }
#endif
    (void)cpu;
    gemv_rows(A, lda, rows, len, v, bias, out);
}
