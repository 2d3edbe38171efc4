/* Configure-time check (CMakeLists.txt): with the project's compiler flags, a*b+c must round
 * the product before the sum. a = 1 + 2^-30, b = 1 - 2^-30: a*b = 1 - 2^-60 exactly, which
 * rounds to 1, so a*b + (-1) is 0 unfused and -2^-60 when fused into an FMA. Exit 0 = not fused,
 * 1 = fused (contraction is on), 2 = fast-math. */
#include <stdio.h>

static double mad(double a, double b, double c)
{
    return a * b + c;
}

int main(void)
{
#ifdef __FAST_MATH__
    return 2;
#else
    volatile double a = 1.0 + 0x1p-30, b = 1.0 - 0x1p-30, c = -1.0;
    double r = mad(a, b, c);
    printf("%a\n", r);
    return r == 0.0 ? 0 : 1;
#endif
}
