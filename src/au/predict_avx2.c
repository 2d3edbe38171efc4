/* predict_avx2.c - the AVX2 twin of models.c's AU predictions: the same always-inlined kernels
 * (predict_kernels.h) compiled for AVX2 without FMA, so the same bits. */
#define PK_LANES 4
#include "au/predict_kernels.h"

#if FA_BUILD_AVX2
__attribute__((target("avx2"))) void fa_au_banks_avx2(const fa_au_models *m, int nf,
                                                      const double *const *x, const double *median,
                                                      double (*y)[FA_N_BANKS][FA_MAX_BANK])
{
    pk_banks(m, nf, x, median, y);
}
#endif
