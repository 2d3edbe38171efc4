/* median.c - OpenFace's person-specific running median (FaceAnalyser::UpdateRunningMedian).
 *
 * A histogram per feature dimension; the median is the centre of the first bin whose
 * cumulative count reaches (count+1)/2. Bin indices are computed as OpenCV evaluates the
 * expression (x - min) * bins / len: x * alpha + beta with alpha = bins * (1/len) and
 * beta = -min * bins * (1/len), so that a value on a bin edge falls where it fell for OpenFace. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

faceau_status fa_median_init(fa_median *h, int dim, int bins, double min, double max, fa_err *err)
{
    memset(h, 0, sizeof *h);
    if (dim <= 0 || bins <= 0 || !(max > min))
        return fa_fail(err, FACEAU_ERR_INVALID_ARG, "bad median histogram (%d dims, %d bins)", dim,
                       bins);
    h->dim = dim;
    h->bins = bins;
    h->min = min;
    h->max = max;
    h->hist = fa_calloc((size_t)dim * (size_t)bins, sizeof *h->hist, err, "a median histogram");
    h->median = fa_calloc((size_t)dim, sizeof *h->median, err, "a median");
    if (!h->hist || !h->median) {
        fa_median_free(h);
        return FACEAU_ERR_NOMEM;
    }
    return FACEAU_OK;
}

void fa_median_free(fa_median *h)
{
    if (h) {
        free(h->hist);
        free(h->median);
        h->hist = NULL;
        h->median = NULL;
    }
}

void fa_median_reset(fa_median *h)
{
    memset(h->hist, 0, (size_t)h->dim * (size_t)h->bins * sizeof *h->hist);
    memset(h->median, 0, (size_t)h->dim * sizeof *h->median);
    h->count = 0;
    h->started = 0;
}

static void add_to_histogram(fa_median *h, const double *x)
{
    double len = h->max - h->min;
    double alpha = (double)h->bins;
    double beta = -h->min * (double)h->bins;
    alpha *= 1.0 / len;
    beta *= 1.0 / len;
    double top = (double)(h->bins - 1);
    for (int i = 0; i < h->dim; i++) {
        double v = x[i] * alpha + beta;
        if (v > top)
            v = top;
        if (v < 0)
            v = 0;
        h->hist[(size_t)i * (size_t)h->bins + (size_t)(int)v]++;
    }
    h->count++;
}

static void recompute(fa_median *h)
{
    double len = h->max - h->min;
    int cutoff = (h->count + 1) / 2;
    for (int i = 0; i < h->dim; i++) {
        const int *row = h->hist + (size_t)i * (size_t)h->bins;
        int sum = 0;
        for (int j = 0; j < h->bins; j++) {
            sum += row[j];
            if (sum >= cutoff) {
                h->median[i] = h->min + (double)j * (len / (double)h->bins) +
                               (0.5 * len / (double)h->bins);
                break;
            }
        }
    }
}

void fa_median_update(fa_median *h, const double *x, int update)
{
    if (!h->started) { /* OpenFace seeds the median with the first descriptor it sees */
        memcpy(h->median, x, (size_t)h->dim * sizeof *x);
        h->started = 1;
    }
    if (update)
        add_to_histogram(h, x);
    if (h->count == 1)
        memcpy(h->median, x, (size_t)h->dim * sizeof *x);
    else
        recompute(h);
}
