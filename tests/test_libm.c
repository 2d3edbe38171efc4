/* test_libm.c - cv/libm.c's asinf, atanf, atan2f, hypot and expf give x86-64 glibc 2.36's bits.
 *
 * On x86-64 with glibc 2.36 (where OpenFace's references were made) every sampled result is
 * compared with the system's libm; everywhere (aarch64 under qemu in CI) the samples' bits are
 * hashed and compared with the hashes recorded on x86-64, and inputs where aarch64's glibc gives
 * another last bit are checked one by one. The samples: every 4099th float bit pattern for asinf,
 * atanf and expf (about a million, all ranges and NaNs; expf is the portable one, which
 * fa_expf is everywhere but on x86-64 glibc), a million atan2f pairs (random bit patterns,
 * the unit square pose and gaze use, and exponents 2^-15..2^-4 against 1/2 that stress the
 * reductions); a million hypot pairs (any bit patterns, pixel coordinates, and exponents that
 * take the scaled paths). FACEAU_LIBM_EXHAUSTIVE=1 on x86-64 glibc 2.36 compares all 2^32 floats of
 * asinf, atanf and expf instead (about a minute; checked so before this test was written, with 2*10^8
 * atan2f pairs and 10^8 hypot pairs). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cv/cv.h"
#include "testutil.h"

union fview {
    float f;
    uint32_t u;
};
union dview {
    double d;
    uint64_t u;
};
static uint32_t fbits(float f) { return (union fview){.f = f}.u; }
static float bitsf(uint32_t u) { return (union fview){.u = u}.f; }
static uint64_t dbits(double d) { return (union dview){.d = d}.u; }
static double bitsd(uint64_t u) { return (union dview){.u = u}.d; }

/* FNV-1a over the result bits, in sample order */
static uint64_t fnv_u32(uint64_t h, uint32_t u)
{
    for (int i = 0; i < 4; i++) {
        h ^= (u >> (8 * i)) & 0xffu;
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv(uint64_t h, float r)
{
    return fnv_u32(h, fbits(r));
}

static int host_is_reference(void)
{
#if defined(__x86_64__) && defined(__GLIBC__)
    char v[64] = "";
    confstr(_CS_GNU_LIBC_VERSION, v, sizeof v);
    return strcmp(v, "glibc 2.36") == 0;
#else
    return 0;
#endif
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* sample i of atan2f's million: (y, x) */
static void atan2_pair(int i, float *y, float *x)
{
    uint64_t r = xorshift();
    uint32_t a = (uint32_t)r, b = (uint32_t)(r >> 32);
    switch (i % 4) {
    case 0: /* any bit patterns */
        *y = bitsf(a);
        *x = bitsf(b);
        break;
    case 1: /* [-2, 2)^2, 24 random bits each */
        *y = (float)((int32_t)(a >> 8) - (1 << 23)) * 0x1p-22f;
        *x = (float)((int32_t)(b >> 8) - (1 << 23)) * 0x1p-22f;
        break;
    case 2: /* |y| in 2^-15..2^-4, |x| in [1/2, 1): small quotients */
        *y = bitsf((a & 0x807fffffu) | ((0x70u + a % 12u) << 23));
        *x = bitsf((b & 0x807fffffu) | 0x3f000000u);
        break;
    default: /* both around 1: every reduction interval of atanf */
        *y = bitsf((a & 0x80ffffffu) | 0x3e000000u);
        *x = bitsf((b & 0x80ffffffu) | 0x3e000000u);
        break;
    }
}

/* sample i of hypot's million: (x, y) */
static void hypot_pair(int i, double *x, double *y)
{
    const uint64_t a = xorshift(), b = xorshift();
    switch (i % 4) {
    case 0: /* any bit patterns */
        *x = bitsd(a);
        *y = bitsd(b);
        break;
    case 1: /* coordinates below +-1024, as the mirror's midline has */
        *x = (double)(int64_t)a * 0x1p-53;
        *y = (double)(int64_t)b * 0x1p-53;
        break;
    case 2: /* any exponent (both scalings, the eps shortcuts), no NaN or infinity */
        *x = bitsd((a & 0x800fffffffffffffull) | (a % 2047) << 52);
        *y = bitsd((b & 0x800fffffffffffffull) | (b % 2047) << 52);
        break;
    default: /* near each other: the h <= 2 ay branch */
        *x = (double)(int64_t)a * 0x1p-53;
        *y = *x * (1 + (double)(b >> 12) * 0x1p-56);
        break;
    }
    if (i % 100 == 7) /* NaN (quiet or signalling) or infinity, either or both */
        *x = bitsd(a & 1 ? a | 0x7ff0000000000000ull : (a & 0xfff0000000000000ull) | 0x7ff0000000000000ull);
    if (i % 50 == 7)
        *y = bitsd(b & 2 ? b | 0x7ff0000000000000ull : (b & 0xfff0000000000000ull) | 0x7ff0000000000000ull);
}

typedef float (*unary)(float);

int main(void)
{
    const int ref = host_is_reference();
    const int exhaustive = ref && getenv("FACEAU_LIBM_EXHAUSTIVE") && atoi(getenv("FACEAU_LIBM_EXHAUSTIVE"));
    printf("comparing with the system libm: %s%s\n", ref ? "yes (x86-64 glibc 2.36)" : "no",
           exhaustive ? ", every float" : "");

    /* Recorded on x86-64 glibc 2.36 (Debian 12): the hashes of glibc's own results. */
    const uint64_t want_asin = 0x11fa89a1fb21fe75ull, want_atan = 0x79501cf28ef958e6ull,
                   want_atan2 = 0xd026c9c186f85825ull, want_hypot = 0x503431431ec21ef4ull, want_exp = 0xfd949e0a46fbb207ull;
    static const char *names[3] = {"asinf", "atanf", "expf"};
    static const unary mine[3] = {fa_asinf, fa_atanf, fa_expf_portable};
    static const unary sys[3] = {asinf, atanf, expf};
    const uint64_t want[3] = {want_asin, want_atan, want_exp};
    const uint32_t stride = exhaustive ? 1u : 4099u;
    for (int f = 0; f < 3; f++) {
        uint64_t h = 0xcbf29ce484222325ull, n = 0, bad = 0;
        for (uint64_t u = 0; u <= 0xffffffffull; u += stride, n++) {
            const float x = bitsf((uint32_t)u), r = mine[f](x);
            h = fnv(h, r);
            if (ref) {
                const float s = sys[f](x);
                if (fbits(s) != fbits(r) && bad++ < 5)
                    CHECK(0, "%s(%a) = %a (%08x), x86-64 glibc %a (%08x)", names[f], x, r, fbits(r), s, fbits(s));
            }
        }
        if (ref)
            CHECK(bad == 0, "%s: %llu of %llu differ from the system libm", names[f], (unsigned long long)bad,
                  (unsigned long long)n);
        if (!exhaustive)
            CHECK(h == want[f], "%s: hash of %llu samples %016llx, x86-64 glibc's %016llx", names[f],
                  (unsigned long long)n, (unsigned long long)h, (unsigned long long)want[f]);
        printf("%s: %llu inputs%s\n", names[f], (unsigned long long)n, ref ? ", all equal to libm's" : "");
    }

    uint64_t h = 0xcbf29ce484222325ull, bad = 0;
    const int npairs = 1000000;
    for (int i = 0; i < npairs; i++) {
        float y, x;
        atan2_pair(i, &y, &x);
        const float r = fa_atan2f(y, x);
        h = fnv(h, r);
        if (ref) {
            const float s = atan2f(y, x);
            if (fbits(s) != fbits(r) && bad++ < 5)
                CHECK(0, "atan2f(%a, %a) = %a, x86-64 glibc %a", y, x, r, s);
        }
    }
    if (ref)
        CHECK(bad == 0, "atan2f: %llu of %d differ from the system libm", (unsigned long long)bad, npairs);
    CHECK(h == want_atan2, "atan2f: hash of %d samples %016llx, x86-64 glibc's %016llx", npairs,
          (unsigned long long)h, (unsigned long long)want_atan2);

    h = 0xcbf29ce484222325ull;
    bad = 0;
    for (int i = 0; i < npairs; i++) {
        double x, y;
        hypot_pair(i, &x, &y);
        const double r = fa_hypot(x, y);
        h = fnv_u32(fnv_u32(h, (uint32_t)dbits(r)), (uint32_t)(dbits(r) >> 32));
        if (ref && dbits(hypot(x, y)) != dbits(r) && bad++ < 5)
            CHECK(0, "hypot(%a, %a) = %a, x86-64 glibc %a", x, y, r, hypot(x, y));
    }
    if (ref)
        CHECK(bad == 0, "hypot: %llu of %d differ from the system libm", (unsigned long long)bad, npairs);
    CHECK(h == want_hypot, "hypot: hash of %d samples %016llx, x86-64 glibc's %016llx", npairs,
          (unsigned long long)h, (unsigned long long)want_hypot);

    /* x86-64 glibc's bits where aarch64 glibc (FMA-contracted) gives the neighbouring float,
     * and the special cases. */
    static const uint32_t asin_cases[][2] = {
        {0x3d97c68eu, 0x3d97ea36u}, {0x3e91b45fu, 0x3e93bf1eu}, {0x3ee0ee96u, 0x3ee8e108u},
        {0x3f061914u, 0x3f0d23edu}, {0x3f2f0798u, 0x3f40b9bbu}, {0xbe9edb49u, 0xbea185c2u},
        {0xbee2b479u, 0xbeeadac4u}, {0xbf66ab35u, 0xbf8fa3bcu}, {0x3f800000u, 0x3fc90fdbu},
        {0xbf800000u, 0xbfc90fdbu}, {0x40000000u, 0x7fc00000u}, {0xff800000u, 0x7fc00000u},
        {0x80000000u, 0x80000000u}, {0x31000000u, 0x31000000u}};
    for (size_t i = 0; i < sizeof asin_cases / sizeof asin_cases[0]; i++) {
        const float r = fa_asinf(bitsf(asin_cases[i][0]));
        CHECK(fbits(r) == asin_cases[i][1], "asinf(%a) = %08x, want %08x", bitsf(asin_cases[i][0]), fbits(r),
              asin_cases[i][1]);
    }
    static const uint32_t atan2_cases[][3] = {
        {0x3ffa5b07u, 0xbf448a98u, 0x3ff8f093u}, {0xbfa026f8u, 0x3ee20697u, 0xbf9da52bu},
        {0x3eed248cu, 0xbf9e243au, 0x40321b55u}, {0x3f427231u, 0x3fdedbabu, 0x3ed29e78u},
        {0x3e2696b5u, 0x3f03df23u, 0x3e9c9f53u}, {0x3f455c9cu, 0x3e911aa7u, 0x3f9bf87cu},
        {0xbf25ae2fu, 0x3fd40a9fu, 0xbebeb12cu}, {0xbfa8c0a2u, 0x3eec6bffu, 0xbf9df06au},
        {0x3f49fb00u, 0x3ffd755du, 0x3ec22260u}, {0xbdedf051u, 0x3ede3603u, 0xbe85eb6fu},
        {0x00000000u, 0xbf800000u, 0x40490fdbu}, {0x7f800000u, 0xff800000u, 0x4016cbe4u},
        {0x4c000000u, 0x3f800000u, 0x3fc90fdbu}, {0xc818356au, 0x3b7c28e1u, 0xbfc90fdbu}};
    for (size_t i = 0; i < sizeof atan2_cases / sizeof atan2_cases[0]; i++) {
        const float y = bitsf(atan2_cases[i][0]), x = bitsf(atan2_cases[i][1]), r = fa_atan2f(y, x);
        CHECK(fbits(r) == atan2_cases[i][2], "atan2f(%a, %a) = %08x, want %08x", y, x, fbits(r), atan2_cases[i][2]);
        if (ref)
            CHECK(fbits(atan2f(y, x)) == atan2_cases[i][2], "the table: glibc's atan2f(%a, %a) = %08x", y, x,
                  fbits(atan2f(y, x)));
    }
    static const uint64_t hypot_cases[][3] = {
        {0x4099438f7aaae29aull, 0x409208a58ea83a22ull, 0x409f0a3e013bfa2cull},
        {0x409841a9736dc85cull, 0xc052297dbbe8c240ull, 0x40984875279cd61bull},
        {0xc09bebdff2fb2106ull, 0xc08cfa728b75f656ull, 0x409f74fa5eac1a89ull},
        {0xc090c57c15c8824cull, 0x4082df41ab682d00ull, 0x40933e629a650dd1ull},
        {0x408328927cd27cccull, 0xc0916577d151d216ull, 0x4093dc00b91e08e1ull},
        {0x7ff0000000000000ull, 0x7ff8000000000000ull, 0x7ff0000000000000ull},
        {0x0000000000000003ull, 0x0000000000000004ull, 0x0000000000000005ull}};
    for (size_t i = 0; i < sizeof hypot_cases / sizeof hypot_cases[0]; i++) {
        const double x = bitsd(hypot_cases[i][0]), y = bitsd(hypot_cases[i][1]), r = fa_hypot(x, y);
        CHECK(dbits(r) == hypot_cases[i][2], "hypot(%a, %a) = %016llx, want %016llx", x, y,
              (unsigned long long)dbits(r), (unsigned long long)hypot_cases[i][2]);
        if (ref)
            CHECK(dbits(hypot(x, y)) == hypot_cases[i][2], "the table: glibc's hypot(%a, %a) = %a", x, y, hypot(x, y));
    }
    /* expf: where aarch64's glibc differs (found over all floats under qemu), the ends */
    static const uint32_t exp_cases[][2] = {{0x4202422fu, 0x56fc9f1cu}, {0xc27c65d9u, 0x11fa2993u},
                                            {0xff800000u, 0x00000000u}, {0x42b17218u, 0x7f800000u},
                                            {0xc2cff1b5u, 0x00000000u}, {0xc2cf0000u, 0x00000001u},
                                            {0x00000000u, 0x3f800000u}, {0x7fa00000u, 0x7fe00000u}};
    for (size_t i = 0; i < sizeof exp_cases / sizeof exp_cases[0]; i++) {
        const float x = bitsf(exp_cases[i][0]), r = fa_expf_portable(x);
        CHECK(fbits(r) == exp_cases[i][1], "expf(%a) = %08x, want %08x", x, fbits(r), exp_cases[i][1]);
        CHECK(fbits(fa_expf(x)) == exp_cases[i][1], "fa_expf(%a) = %08x, want %08x", x, fbits(fa_expf(x)),
              exp_cases[i][1]);
        if (ref)
            CHECK(fbits(expf(x)) == exp_cases[i][1], "the table: glibc's expf(%a) = %08x", x, fbits(expf(x)));
    }
    if (ref)
        for (size_t i = 0; i < sizeof asin_cases / sizeof asin_cases[0]; i++)
            CHECK(fbits(asinf(bitsf(asin_cases[i][0]))) == asin_cases[i][1], "the table: glibc's asinf(%a) = %08x",
                  bitsf(asin_cases[i][0]), fbits(asinf(bitsf(asin_cases[i][0]))));
    return tu_done();
}
