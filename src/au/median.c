/* median.c - OpenFace's person-specific running median (FaceAnalyser::UpdateRunningMedian).
 *
 * A histogram per feature dimension; the median is the centre of the first bin whose
 * cumulative count reaches (count+1)/2. OpenFace rescans every histogram on every update
 * (4464 x 1000 and 238 x 10000 bins); here each dimension remembers its median bin and the
 * count below it, which move by a bin or two per sample: the same bin, found in O(1). Bin indices are computed as OpenCV evaluates the
 * expression (x - min) * bins / len: x * alpha + beta with alpha = bins * (1/len) and
 * beta = -min * bins * (1/len), so that a value on a bin edge falls where it fell for OpenFace.
 *
 * The bins are 16-bit until a count could pass 65535 (see FA_MEDIAN_WIDEN_AT in au.h), then
 * 32-bit: the counts, and so the medians, are the same either way.
 *
 * The histogram's layout follows its shape (fa_median_init): OpenFace's one row per dimension
 * when a row spans many 4 KB pages (geometry: 10000 bins, 20 KB), bin-major (bin b of every
 * dimension side by side) when a row is shorter than a page (HOG: 1000 bins, 2 KB). The counts
 * are the same either way; what differs is which pages are ever written, and so resident. A
 * dimension's samples fill a narrow band of its bins (HOG values lie in [0, 0.52], bins 4..525
 * of 1000; a geometry row's in a page or two of its five), so rows of many pages stay mostly
 * untouched, but with rows of half a page every page held a used band and all 8.7 MB of the HOG
 * histogram was resident within a few frames; bin-major, only the bins in use are (4.1 MB).
 * Each dimension's written bins (lo..hi) are tracked, so a reset clears only those. */
#include <stdlib.h>
#include <string.h>

#include "au/au.h"

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
    h->widen_at = FA_MEDIAN_WIDEN_AT;
    /* bin-major when a dimension's row of 16-bit bins is shorter than a page (see above) */
    int bin_major = (size_t)bins * sizeof *h->hist < 4096;
    h->dim_step = bin_major ? 1 : (size_t)bins;
    h->bin_step = bin_major ? (size_t)dim : 1;
    h->hist = fa_calloc((size_t)dim * (size_t)bins, sizeof *h->hist, err, "a median histogram");
    h->median = fa_calloc((size_t)dim, sizeof *h->median, err, "a median");
    h->med_bin = fa_calloc((size_t)dim, sizeof *h->med_bin, err, "a median");
    h->below = fa_calloc((size_t)dim, sizeof *h->below, err, "a median");
    h->lo = fa_malloc((size_t)dim * sizeof *h->lo, err, "a median");
    h->hi = fa_malloc((size_t)dim * sizeof *h->hi, err, "a median");
    if (!h->hist || !h->median || !h->med_bin || !h->below || !h->lo || !h->hi) {
        fa_median_free(h);
        return FACEAU_ERR_NOMEM;
    }
    for (int i = 0; i < dim; i++) {
        h->lo[i] = bins;
        h->hi[i] = -1;
    }
    return FACEAU_OK;
}

void fa_median_free(fa_median *h)
{
    if (h) {
        free(h->hist);
        free(h->wide);
        free(h->median);
        free(h->med_bin);
        free(h->below);
        free(h->lo);
        free(h->hi);
        h->lo = NULL;
        h->hi = NULL;
        h->hist = NULL;
        h->wide = NULL;
        h->median = NULL;
        h->med_bin = NULL;
        h->below = NULL;
    }
}

void fa_median_reset(fa_median *h)
{
    /* Only add_to_histogram writes the histogram and it counts every write, so with count 0 it
     * is still all zero. Skipping the clear matters at open: the histograms (4464 x 1000 HOG
     * and 238 x 10000 geometry bins, 13 MB) are fresh calloc memory, and clearing them faulted
     * in every page up front (most of what the AU "model load" measured). A widened histogram
     * stays wide (a reset allocates nothing, so it cannot fail). */
    for (int i = 0; h->count && i < h->dim; i++) {
        for (int b = h->lo[i]; b <= h->hi[i]; b++) {
            size_t k = (size_t)i * h->dim_step + (size_t)b * h->bin_step;
            if (h->wide)
                h->wide[k] = 0;
            else
                h->hist[k] = 0;
        }
    }
    for (int i = 0; i < h->dim; i++) {
        h->lo[i] = h->bins;
        h->hi[i] = -1;
    }
    memset(h->median, 0, (size_t)h->dim * sizeof *h->median);
    memset(h->med_bin, 0, (size_t)h->dim * sizeof *h->med_bin);
    memset(h->below, 0, (size_t)h->dim * sizeof *h->below);
    h->count = 0;
}

/* The bin OpenFace puts v in: (int) of v * alpha + beta, clamped to the histogram. */
static inline int bin_of(double v, double alpha, double beta, double top)
{
    double b = v * alpha + beta;
    if (b > top)
        b = top;
    if (b < 0)
        b = 0;
    return (int)b;
}

/* A dimension's bins are far apart (4464 x 2 bytes for HOG): each increment is a cache miss, so
 * the line PREFETCH_AHEAD dimensions on is requested while this one is counted. */
#define PREFETCH_AHEAD 16

/* add_to_histogram and recompute for either bin type (T: uint16_t or int32_t). */
#define MEDIAN_KERNELS(T, SUFFIX)                                                                  \
    static void add_##SUFFIX(fa_median *h, T *hist, const double *x)                              \
    {                                                                                              \
        double len = h->max - h->min;                                                              \
        double alpha = (double)h->bins;                                                            \
        double beta = -h->min * (double)h->bins;                                                   \
        alpha *= 1.0 / len;                                                                        \
        beta *= 1.0 / len;                                                                         \
        double top = (double)(h->bins - 1);                                                        \
        const size_t ds = h->dim_step, bs = h->bin_step;                                          \
        for (int i = 0; i < h->dim; i++) {                                                         \
            if (i + PREFETCH_AHEAD < h->dim) {                                                     \
                int ahead = i + PREFETCH_AHEAD;                                                    \
                __builtin_prefetch(hist + (size_t)ahead * ds +                                     \
                                       (size_t)bin_of(x[ahead], alpha, beta, top) * bs, 1);        \
            }                                                                                      \
            int b = bin_of(x[i], alpha, beta, top);                                                \
            hist[(size_t)i * ds + (size_t)b * bs]++;                                               \
            h->lo[i] = b < h->lo[i] ? b : h->lo[i];                                                \
            h->hi[i] = b > h->hi[i] ? b : h->hi[i];                                                \
            if (b < h->med_bin[i])                                                                 \
                h->below[i]++;                                                                     \
        }                                                                                          \
        h->count++;                                                                                \
    }                                                                                              \
    /* Moves each dimension's median bin to the first bin whose cumulative count reaches the    \
     * cutoff, keeping below[i] = the count in the bins before it. */                              \
    static void recompute_##SUFFIX(fa_median *h, const T *hist)                                   \
    {                                                                                              \
        double len = h->max - h->min;                                                              \
        int cutoff = (h->count + 1) / 2;                                                           \
        const size_t bs = h->bin_step;                                                             \
        for (int i = 0; i < h->dim; i++) {                                                         \
            const T *row = hist + (size_t)i * h->dim_step; /* bin j of dimension i: row[j * bs] */ \
            int j = h->med_bin[i], below = h->below[i];                                            \
            while (j > 0 && below >= cutoff)                                                       \
                below -= row[(size_t)--j * bs];                                                    \
            while (j < h->bins - 1 && below + row[(size_t)j * bs] < cutoff)                        \
                below += row[(size_t)j++ * bs];                                                    \
            h->med_bin[i] = j;                                                                     \
            h->below[i] = below;                                                                   \
            if (below + row[(size_t)j * bs] >= cutoff) /* never false for cutoff <= count */       \
                h->median[i] = h->min + (double)j * (len / (double)h->bins) +                      \
                               (0.5 * len / (double)h->bins);                                      \
        }                                                                                          \
    }

MEDIAN_KERNELS(uint16_t, narrow)
MEDIAN_KERNELS(int32_t, wide)

/* Moves the 16-bit counts into 32-bit bins, before the add that could take one past 65535. */
static faceau_status widen(fa_median *h, fa_err *err)
{
    size_t n = (size_t)h->dim * (size_t)h->bins;
    /* calloc'd: only the bins in use are written, so only those become resident */
    int32_t *w = fa_calloc(n, sizeof *w, err, "a widened median histogram");
    if (!w)
        return FACEAU_ERR_NOMEM;
    for (int i = 0; i < h->dim; i++) {
        for (int b = h->lo[i]; b <= h->hi[i]; b++) {
            size_t k = (size_t)i * h->dim_step + (size_t)b * h->bin_step;
            w[k] = h->hist[k];
        }
    }
    free(h->hist);
    h->hist = NULL;
    h->wide = w;
    return FACEAU_OK;
}

faceau_status fa_median_update(fa_median *h, const double *x, int update, fa_err *err)
{
    if (update) {
        /* every bin is <= count, so while count < widen_at <= 65535 one more add fits */
        if (!h->wide && h->count >= h->widen_at) {
            faceau_status st = widen(h, err);
            if (st)
                return st;
        }
        if (h->wide)
            add_wide(h, h->wide, x);
        else
            add_narrow(h, h->hist, x);
    }
    if (h->count == 1)
        memcpy(h->median, x, (size_t)h->dim * sizeof *x);
    else if (h->wide)
        recompute_wide(h, h->wide);
    else
        recompute_narrow(h, h->hist);
    return FACEAU_OK;
}
