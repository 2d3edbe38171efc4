/* cpu.c - which SIMD kernels may run: the build's, the CPU's and the FACEAU_NO_AVX2 switch. */
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"

unsigned fa_cpu_features(void)
{
#if FA_BUILD_AVX2
    const char *no = getenv("FACEAU_NO_AVX2");
    if (no && *no && !(no[0] == '0' && no[1] == '\0'))
        return 0;
    __builtin_cpu_init();
    unsigned f = 0;
    if (__builtin_cpu_supports("avx2"))
        f |= FA_CPU_AVX2;
    if (__builtin_cpu_supports("fma"))
        f |= FA_CPU_FMA;
    /* the compiler runtime sets avx512f only when XCR0 shows the OS saves the zmm state */
    const char *no512 = getenv("FACEAU_NO_AVX512");
    if ((f & FA_CPU_AVX2) && __builtin_cpu_supports("avx512f") &&
        !(no512 && *no512 && !(no512[0] == '0' && no512[1] == '\0')))
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
