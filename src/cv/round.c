/* round.c - OpenCV's cvRound (saturate_cast<int>), the one rounding of every reproduction. */
#include <limits.h>
#include <math.h>

#include "cv/cv.h"

int fa_cv_round(double v)
{
    /* cvRound(float) converts the float exactly to double first: one function serves both. */
    if (!(v > -2147483648.5 && v < 2147483647.5))
        return INT_MIN;
    return (int)rint(v);
}
