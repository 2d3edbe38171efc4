/* landmarks/ccnf_sigmoid_avx2.h - the CCNF sigmoid step (fa_ccnf_add_sigmoid) on eight lanes,
 * shared by the AVX2 and AVX-512 neuron kernels (ccnf_avx2.c, ccnf_avx512.c); private to
 * landmarks/. Include only under FA_BUILD_AVX2. */
#ifndef FACEAU_LANDMARKS_CCNF_SIGMOID_AVX2_H
#define FACEAU_LANDMARKS_CCNF_SIGMOID_AVX2_H

#include <immintrin.h>

#include "landmarks/ccnf_kernels.h"

#define FA_CCNF_AVX2_FN __attribute__((target("avx2,fma")))

/* fa_expf on eight floats known to lie where glibc's expf takes its main path (|x| < 88, see
 * cv/libm.c's fa_expf_portable): the same double operations lane by lane, four lanes a
 * register, fused where it fuses, then rounded to float: the same bits. */
FA_CCNF_AVX2_FN static inline __attribute__((always_inline)) __m128 fa_ccnf_expf4_main(__m128 x)
{
    const __m256d inv_ln2_32 = _mm256_set1_pd(0x1.71547652b82fep+5);
    const __m256d shift = _mm256_set1_pd(0x1.8p+52);
    const __m256d c0 = _mm256_set1_pd(0x1.c6af84b912394p-20), c1 = _mm256_set1_pd(0x1.ebfce50fac4f3p-13);
    const __m256d c2 = _mm256_set1_pd(0x1.62e42ff0c52d6p-6), one = _mm256_set1_pd(1.0);
    const __m256d xd = _mm256_cvtps_pd(x);
    __m256d kd = _mm256_fmadd_pd(inv_ln2_32, xd, shift);
    const __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    const __m256d r = _mm256_fmsub_pd(inv_ln2_32, xd, kd); /* fma(inv_ln2_32, xd, -kd) */
    const __m256i t = _mm256_i64gather_epi64((const long long *)fa_expf_two_i32,
                                             _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
    const __m256d sc =
        _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(_mm256_srli_epi64(ki, 5), 52)));
    const __m256d z = _mm256_fmadd_pd(c0, r, c1), r2 = _mm256_mul_pd(r, r);
    const __m256d y = _mm256_fmadd_pd(c2, r, one);
    return _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_fmadd_pd(z, r2, y), sc));
}

/* (float)((double)f + a2 / (1.0 + (double)e)) on four lanes: the rest of fa_ccnf_add_sigmoid,
 * IEEE double add and divide as the scalar code. */
FA_CCNF_AVX2_FN static inline __attribute__((always_inline)) __m128 fa_ccnf_sigmoid_sum4(__m128 f, __m256d a2,
                                                                        __m128 e)
{
    const __m256d t = _mm256_div_pd(a2, _mm256_add_pd(_mm256_set1_pd(1.0), _mm256_cvtps_pd(e)));
    return _mm256_cvtpd_ps(_mm256_add_pd(_mm256_cvtps_pd(f), t));
}

/* fa_ccnf_add_sigmoid on eight lanes: f + a2 / (1 + expf(-q)). A lane outside expf's main path
 * (|q| >= 88, never seen in the shipped models but possible) sends the eight to the scalar
 * function, which handles the ends of the range as glibc does. */
FA_CCNF_AVX2_FN static inline __attribute__((always_inline)) __m256 fa_ccnf_add_sigmoid8(__m256 f, double a2,
                                                                        __m256 q)
{
    const __m256 nq = _mm256_xor_ps(q, _mm256_set1_ps(-0.0f)); /* -q: the sign flipped */
    /* the scalar test top = (bits >> 20) & 0x7ff > 0x42a, as signed compares (the values fit) */
    const __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(nq), 20),
                                         _mm256_set1_epi32(0x7ff));
    if (!_mm256_testz_si256(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x42a)),
                            _mm256_set1_epi32(-1))) {
        float fl[8], ql[8];
        _mm256_storeu_ps(fl, f);
        _mm256_storeu_ps(ql, q);
        for (int l = 0; l < 8; l++)
            fl[l] = fa_ccnf_add_sigmoid(fl[l], a2, ql[l]);
        return _mm256_loadu_ps(fl);
    }
    const __m256d a = _mm256_set1_pd(a2);
    const __m128 lo = fa_ccnf_sigmoid_sum4(_mm256_castps256_ps128(f), a,
                                   fa_ccnf_expf4_main(_mm256_castps256_ps128(nq)));
    const __m128 hi = fa_ccnf_sigmoid_sum4(_mm256_extractf128_ps(f, 1), a,
                                   fa_ccnf_expf4_main(_mm256_extractf128_ps(nq, 1)));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

#endif
