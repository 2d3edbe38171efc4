/* libm.c - the libm functions whose results differ between platforms, with the bits x86-64
 * glibc 2.36 gives, on every platform: the float arcsine and arctangents OpenFace's pose and
 * gaze call (std::asin and std::atan2 on floats), and hypot (the mirror's midline).
 *
 * Why not libm: glibc's asinf/atanf/atan2f are float polynomials (SunPro's, with Moshier's
 * asin fit), not correctly rounded. x86-64 builds them without FMA; aarch64's GCC fuses their
 * a*b+c, so arm64 glibc returns other bits for about 1 input in 10^4 (asinf) to 10^3 (atan2f),
 * which moves pose and gaze and, through tracking, later frames. Other libms (macOS, musl) use
 * other polynomials. Here the same float operations run in the same order as x86-64 glibc 2.36
 * executes them, each rounded on its own (this build has -ffp-contract=off; core.h guards it),
 * so the results are x86-64's everywhere. tests/test_libm.c compares them with the
 * system's libm on x86-64 (every float for asinf and atanf, dense samples for atan2f) and with
 * recorded x86-64 results elsewhere.
 *
 * Only sqrtf is taken from the platform: IEEE 754 requires it correctly rounded, so every
 * platform agrees. */
#include <math.h>
#include <stdint.h>

#include "cv/cv.h"

/* Bit views (C11 lets a union be read through another member). */
union fbits {
    float f;
    uint32_t u;
};
union dbits {
    double d;
    uint64_t u;
};
static uint32_t bits(float f) { return (union fbits){.f = f}.u; }
static float from_bits(uint32_t u) { return (union fbits){.u = u}.f; }
static uint64_t dbits(double d) { return (union dbits){.d = d}.u; }
static double from_dbits(uint64_t u) { return (union dbits){.u = u}.d; }

/* ---- arcsine ----------------------------------------------------------------------------- */

/* asin(x) = x + x^3 P(x^2) on |x| <= 0.5 (Moshier's fit, peak relative error 4.8e-9); Horner
 * from the top coefficient, each step rounded to float. */
static float asin_poly(float t)
{
    static const float c[5] = {0x1.5555c8p-3f, 0x1.3301e4p-4f, 0x1.747e4ap-5f, 0x1.8c283cp-6f,
                               0x1.596d28p-5f};
    float h = c[4];
    for (int i = 3; i >= 0; i--)
        h = c[i] + t * h;
    return t * h;
}

float fa_asinf(float x)
{
    /* pi/2 = 0x1.921fb6p+0 (float nearest, above) - 0x1.777a5cp-25; pi/4 rounded up. */
    const float pio2_hi = 0x1.921fb6p+0f, pio2_lo = -0x1.777a5cp-25f, pio4_hi = 0x1.921fb6p-1f;
    const uint32_t ax = bits(x) & 0x7fffffffu;
    if (ax == 0x3f800000u)
        return x * pio2_hi + x * pio2_lo;
    if (ax > 0x7f800000u)
        return x + x; /* NaN in, NaN out (quietened) */
    if (ax > 0x3f800000u)
        return NAN; /* glibc's domain error gives the positive quiet NaN on either platform */
    if (ax < 0x3f000000u) {       /* |x| < 0.5 */
        if (ax < 0x32000000u)     /* |x| < 2^-27: x itself is asin(x) rounded */
            return x;
        return x + x * asin_poly(x * x);
    }
    /* 0.5 <= |x| < 1: asin|x| = pi/2 - 2 asin(sqrt((1 - |x|)/2)). */
    const float t = (1.0f - fabsf(x)) * 0.5f;
    const float p = asin_poly(t);
    const float s = sqrtf(t);
    float r;
    if (ax >= 0x3f79999au) { /* |x| >= 0.975: the plain form loses nothing that matters */
        r = pio2_hi - (2.0f * (s + s * p) - pio2_lo);
    } else {
        /* sqrt(t) split as w (its top 11 significand bits, so w*w is exact) + c, c the
         * correction (t - w^2)/(s + w); pi/4 carries the large part. */
        const float w = from_bits(bits(s) & 0xfffff000u);
        const float c = (t - w * w) / (s + w);
        const float lo = 2.0f * s * p - (pio2_lo - 2.0f * c);
        const float hi = pio4_hi - 2.0f * w;
        r = pio4_hi - (lo - hi);
    }
    return bits(x) >> 31 ? -r : r;
}

/* ---- arctangent -------------------------------------------------------------------------- */

/* atan(x) for finite x. |x| is first moved near 0, 0.5, 1, 1.5 or infinity (argument
 * reduction by atan's addition formula), then atan(r) = r - r^3 (odd + even polynomial in r^2,
 * 11 coefficients) and the breakpoint's atan, split hi + lo, added back. */
float fa_atanf(float x)
{
    static const float brk_hi[4] = {0x1.dac670p-2f, 0x1.921fb4p-1f, 0x1.f730bcp-1f,
                                    0x1.921fb4p+0f}; /* atan(0.5), atan(1), atan(1.5), pi/2 */
    static const float brk_lo[4] = {0x1.586ed2p-28f, 0x1.4442d0p-25f, 0x1.281f68p-25f,
                                    0x1.4442d0p-24f};
    static const float a[11] = {0x1.555556p-2f,  -0x1.99999ap-3f, 0x1.24924ap-3f, -0x1.c71c70p-4f,
                                0x1.745cdcp-4f,  -0x1.3b0f2ap-4f, 0x1.10d66ap-4f, -0x1.dde2d6p-5f,
                                0x1.97b4b2p-5f,  -0x1.2b4442p-5f, 0x1.0ad3aep-6f};
    const uint32_t ax = bits(x) & 0x7fffffffu;
    const int neg = (int)(bits(x) >> 31);
    if (ax >= 0x4c000000u) { /* |x| >= 2^25 (pi/2 rounded), infinity or NaN */
        if (ax > 0x7f800000u)
            return x + x;
        return neg ? -brk_hi[3] - brk_lo[3] : brk_hi[3] + brk_lo[3];
    }
    int id;
    if (ax < 0x3ee00000u) { /* |x| < 0.4375: no reduction */
        if (ax < 0x31000000u)
            return x;
        id = -1;
    } else {
        x = fabsf(x);
        if (ax < 0x3f300000u) { /* < 11/16: atan(x) = atan(0.5) + atan((2x - 1)/(2 + x)) */
            id = 0;
            x = (2.0f * x - 1.0f) / (2.0f + x);
        } else if (ax < 0x3f980000u) { /* < 19/16: around 1 */
            id = 1;
            x = (x - 1.0f) / (x + 1.0f);
        } else if (ax < 0x401c0000u) { /* < 39/16: around 1.5 */
            id = 2;
            x = (x - 1.5f) / (1.0f + 1.5f * x);
        } else { /* pi/2 - atan(1/x) */
            id = 3;
            x = -1.0f / x;
        }
    }
    const float z = x * x, w = z * z;
    /* odd-indexed coefficients times z, even-indexed ones times w, both in w (Horner) */
    float s1 = a[10], s2 = a[9];
    for (int i = 8; i >= 0; i -= 2)
        s1 = a[i] + w * s1;
    for (int i = 7; i >= 1; i -= 2)
        s2 = a[i] + w * s2;
    s1 = z * s1;
    s2 = w * s2;
    if (id < 0)
        return x - x * (s1 + s2);
    const float r = brk_hi[id] - ((x * (s1 + s2) - brk_lo[id]) - x);
    return neg ? -r : r;
}

float fa_atan2f(float y, float x)
{
    /* pi and pi/2, pi/4 rounded to nearest float (all above the true values); pi's remainder */
    const float pi = 0x1.921fb6p+1f, pi_lo = -0x1.777a5cp-24f, pio2 = 0x1.921fb6p+0f,
                pio4 = 0x1.921fb6p-1f, tiny = 1e-30f;
    const uint32_t hx = bits(x), hy = bits(y), ax = hx & 0x7fffffffu, ay = hy & 0x7fffffffu;
    /* NaN: x86-64 glibc's x + y returns x's NaN quietened if x is one, else y's; spelled out
     * because aarch64's addition prefers a signalling NaN operand. */
    if (ax > 0x7f800000u)
        return from_bits(hx | 0x00400000u);
    if (ay > 0x7f800000u)
        return from_bits(hy | 0x00400000u);
    if (hx == 0x3f800000u)
        return fa_atanf(y);
    const int m = (int)(((hy >> 31) & 1u) | ((hx >> 30) & 2u)); /* 2 sign(x) + sign(y) */
    if (ay == 0) {
        if (m < 2)
            return y;
        return m == 2 ? pi + tiny : -pi - tiny;
    }
    if (ax == 0)
        return (hy >> 31) ? -pio2 - tiny : pio2 + tiny;
    if (ax == 0x7f800000u) {
        if (ay == 0x7f800000u) {
            static const float inf_inf[4] = {1, -1, 3, -3}; /* times pi/4 */
            const float r = inf_inf[m] * pio4;
            return m & 1 ? r - tiny : r + tiny;
        }
        switch (m) {
        case 0:
            return 0.0f;
        case 1:
            return -0.0f;
        case 2:
            return pi + tiny;
        default:
            return -pi - tiny;
        }
    }
    if (ay == 0x7f800000u)
        return (hy >> 31) ? -pio2 - tiny : pio2 + tiny;
    /* difference of the biased exponents: beyond 2^60 either way y/x is not worth dividing */
    const int k = ((int)ay - (int)ax) >> 23;
    float z;
    if (k > 60)
        z = pio2 + 0.5f * pi_lo;
    else if ((hx >> 31) && k < -60)
        z = 0.0f;
    else
        z = fa_atanf(fabsf(y / x));
    switch (m) {
    case 0:
        return z;
    case 1:
        return -z;
    case 2:
        return pi - (z - pi_lo);
    default:
        return (z - pi_lo) - pi;
    }
}

/* ---- hypot ------------------------------------------------------------------------------- */

/* sqrt(ax^2 + ay^2) for ax >= ay >= 0 with neither square over- or underflowing, then one
 * Newton-like correction from the rounding errors of the squares (Borges, "An improved algorithm
 * for hypot(a,b)", 2019, as glibc 2.35+ does without FMA; aarch64's glibc takes an FMA form,
 * which rounds differently in about 1 case in 8). */
static double hypot_kernel(double ax, double ay)
{
    double h = sqrt(ax * ax + ay * ay), e1, e2;
    if (h <= 2.0 * ay) {
        const double d = h - ay;
        e1 = ax * (2.0 * d - ax);
        e2 = (d - 2.0 * (ax - ay)) * d;
    } else {
        const double d = h - ax;
        e1 = 2.0 * d * (ax - 2.0 * ay);
        e2 = (4.0 * d - ay) * ay + d * d;
    }
    return h - (e1 + e2) / (2.0 * h);
}

double fa_hypot(double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) {
        /* an infinity wins over a quiet NaN, not over a signalling one; NaNs come out quietened,
         * x's first, as x86-64's addition gives them (aarch64's prefers a signalling one) */
        const uint64_t ux = dbits(x), uy = dbits(y), quiet = 0x0008000000000000ull;
        const int sx = isnan(x) && !(ux & quiet), sy = isnan(y) && !(uy & quiet);
        if ((isinf(x) || isinf(y)) && !sx && !sy)
            return INFINITY;
        return isnan(x) ? from_dbits(ux | quiet) : from_dbits(uy | quiet);
    }
    x = fabs(x);
    y = fabs(y);
    const double ax = x < y ? y : x, ay = x < y ? x : y;
    const double scale = 0x1p-600, eps = 0x1p-54;
    if (ax > 0x1p+511) { /* scaled down so that the squares stay finite */
        if (ay <= ax * eps)
            return ax + ay;
        return hypot_kernel(ax * scale, ay * scale) / scale;
    }
    if (ay < 0x1p-459) { /* scaled up so that they stay normal */
        if (ax >= ay / eps)
            return ax + ay;
        return hypot_kernel(ax / scale, ay / scale) * scale;
    }
    if (ay <= ax * eps)
        return ax + ay;
    return hypot_kernel(ax, ay);
}

/* ---- expf -------------------------------------------------------------------------------- */

/* 2^(i/32), i = 0..31, each the nearest double (also read by vector twins: ccnf_avx2.c) */
const uint64_t fa_expf_two_i32[32] = {
    0x3ff0000000000000ull, 0x3ff059b0d3158574ull, 0x3ff0b5586cf9890full, 0x3ff11301d0125b51ull,
    0x3ff172b83c7d517bull, 0x3ff1d4873168b9aaull, 0x3ff2387a6e756238ull, 0x3ff29e9df51fdee1ull,
    0x3ff306fe0a31b715ull, 0x3ff371a7373aa9cbull, 0x3ff3dea64c123422ull, 0x3ff44e086061892dull,
    0x3ff4bfdad5362a27ull, 0x3ff5342b569d4f82ull, 0x3ff5ab07dd485429ull, 0x3ff6247eb03a5585ull,
    0x3ff6a09e667f3bcdull, 0x3ff71f75e8ec5f74ull, 0x3ff7a11473eb0187ull, 0x3ff82589994cce13ull,
    0x3ff8ace5422aa0dbull, 0x3ff93737b0cdc5e5ull, 0x3ff9c49182a3f090ull, 0x3ffa5503b23e255dull,
    0x3ffae89f995ad3adull, 0x3ffb7f76f2fb5e47ull, 0x3ffc199bdd85529cull, 0x3ffcb720dcef9069ull,
    0x3ffd5818dcfba487ull, 0x3ffdfc97337b9b5full, 0x3ffea4afa2a490daull, 0x3fff50765b6e4540ull};

/* glibc 2.28+'s expf in double: x/ln2 * 32 = k + r (|r| <= 1/2), exp(x) = 2^(k/32) 2^(r/32) with
 * 2^(r/32) ~ 1 + c2 r + c1 r^2 + c0 r^3, as x86-64 glibc runs it on CPUs with FMA (every x86-64
 * CPU since 2013 takes its -mfma build, and OpenFace's references were made so): the reduction
 * and three of the polynomial's steps fused. aarch64's glibc fuses other steps (about 1 input in
 * 10^8 differs, e.g. 0x1.04845ep+5); here each fma is explicit, so every platform gives x86-64's
 * bits (an fma is exact by definition; without the instruction libm's fma is slow but right). */
float fa_expf_portable(float x)
{
    const double inv_ln2_32 = 0x1.71547652b82fep+5, shift = 0x1.8p+52;
    const double c0 = 0x1.c6af84b912394p-20, c1 = 0x1.ebfce50fac4f3p-13, c2 = 0x1.62e42ff0c52d6p-6;
    const uint32_t ux = bits(x), top = (ux >> 20) & 0x7ffu;
    if (top > 0x42au) { /* |x| >= 88: the ends of the range, as glibc returns them */
        if (ux == 0xff800000u)
            return 0.0f;
        if (top >= 0x7f8u)
            return x + x; /* +inf, NaN */
        if (x > 0x1.62e42ep+6f)
            return INFINITY;
        if (x < -0x1.9fe368p+6f)
            return 0.0f;
        if (x < -0x1.9d1d9ep+6f)
            return 0x1p-149f; /* glibc's "may underflow": 0x1.4p-75f squared */
    }
    const double xd = (double)x;
    /* k + 2^52 * 1.5 rounds x/ln2 * 32 to an integer in the low bits (to nearest, ties even) */
    double kd = fma(inv_ln2_32, xd, shift);
    const uint64_t ki = dbits(kd);
    kd -= shift;
    const double r = fma(inv_ln2_32, xd, -kd);
    const double s = from_dbits(fa_expf_two_i32[ki & 31u] + ((ki >> 5) << 52));
    const double z = fma(c0, r, c1), r2 = r * r, y = fma(c2, r, 1.0);
    return (float)(fma(z, r2, y) * s);
}
