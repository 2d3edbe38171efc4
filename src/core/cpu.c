/* cpu.c - which SIMD kernels may run: the build's, the CPU's and the FACEAU_NO_AVX2 and
 * FACEAU_NO_AVX512 switches. */
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"

#if FA_BUILD_AVX2
/* Whether the environment sets name to anything but "" or "0". */
static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v && !(v[0] == '0' && v[1] == '\0');
}
#endif

unsigned fa_cpu_features(void)
{
#if FA_BUILD_AVX2
    if (env_set("FACEAU_NO_AVX2"))
        return 0;
    __builtin_cpu_init();
    unsigned f = 0;
    if (__builtin_cpu_supports("avx2"))
        f |= FA_CPU_AVX2;
    if (__builtin_cpu_supports("fma"))
        f |= FA_CPU_FMA;
    /* the runtime's check includes the OS saving the 512-bit state */
    if (f == (FA_CPU_AVX2 | FA_CPU_FMA) && __builtin_cpu_supports("avx512f") &&
        !env_set("FACEAU_NO_AVX512"))
        f |= FA_CPU_AVX512;
    return f;
#else
    return 0;
#endif
}

int fa_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > FA_POOL_MAX_THREADS ? FA_POOL_MAX_THREADS : (int)n;
}
