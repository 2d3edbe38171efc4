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
 * Only the bins a dimension's samples reach are stored, in blocks of BLOCK_BINS bins made when
 * a sample first falls in them (a bin in no block counts 0). A dimension's samples fill a
 * narrow band of its bins, and each dimension its own band (HOG values lie in [0, 0.52], bins
 * 4..525 of 1000, but a dimension's in about 260 of them; a geometry dimension's in about 800
 * of 10000): on the 842-frame 1080x1920 clip the two histograms hold 2.6 MB of bins in use,
 * which one flat array kept in 8 MB of resident pages (a page holds bins of several
 * dimensions, or a row's band spans pages used by it alone). */
#include <stdlib.h>
#include <string.h>

#include "au/au.h"

#define BLOCK_BINS 64
#define CHUNK_BLOCKS 512 /* blocks allocated together: 64 KB of 16-bit bins */

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
    h->nblk = (bins + BLOCK_BINS - 1) / BLOCK_BINS;
    h->blk = fa_calloc((size_t)dim * (size_t)h->nblk, sizeof *h->blk, err, "a median histogram");
    h->bin_of = fa_malloc((size_t)dim * sizeof *h->bin_of, err, "a median");
    h->median = fa_calloc((size_t)dim, sizeof *h->median, err, "a median");
    h->med_bin = fa_calloc((size_t)dim, sizeof *h->med_bin, err, "a median");
    h->below = fa_calloc((size_t)dim, sizeof *h->below, err, "a median");
    h->med_cnt = fa_calloc((size_t)dim, sizeof *h->med_cnt, err, "a median");
    if (!h->blk || !h->bin_of || !h->median || !h->med_bin || !h->below || !h->med_cnt) {
        fa_median_free(h);
        return FACEAU_ERR_NOMEM;
    }
    return FACEAU_OK;
}

static void free_chunks(void **chunks, size_t n)
{
    for (size_t c = 0; c < n; c++)
        free(chunks[c]);
    free(chunks);
}

void fa_median_free(fa_median *h)
{
    if (h) {
        free_chunks(h->chunks, h->nchunks);
        free(h->blk);
        free(h->bin_of);
        free(h->median);
        free(h->med_bin);
        free(h->below);
        free(h->med_cnt);
        h->chunks = NULL;
        h->nchunks = 0;
        h->blk = NULL;
        h->bin_of = NULL;
        h->median = NULL;
        h->med_bin = NULL;
        h->below = NULL;
        h->med_cnt = NULL;
    }
}

static size_t bin_bytes(const fa_median *h)
{
    return h->wide ? sizeof(int32_t) : sizeof(uint16_t);
}

void fa_median_reset(fa_median *h)
{
    /* The blocks stay where they are, emptied: the next video's samples mostly fall in the same
     * bands, and a reset allocates nothing, so it cannot fail. A widened histogram stays wide. */
    size_t block = BLOCK_BINS * bin_bytes(h);
    for (size_t c = 0; c < h->nchunks; c++) {
        size_t first = c * CHUNK_BLOCKS;
        size_t n = h->used > first ? h->used - first : 0;
        if (n)
            memset(h->chunks[c], 0, (n < CHUNK_BLOCKS ? n : CHUNK_BLOCKS) * block);
    }
    memset(h->median, 0, (size_t)h->dim * sizeof *h->median);
    memset(h->med_bin, 0, (size_t)h->dim * sizeof *h->med_bin);
    memset(h->below, 0, (size_t)h->dim * sizeof *h->below);
    memset(h->med_cnt, 0, (size_t)h->dim * sizeof *h->med_cnt);
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

/* Gives the block holding bin b of dimension i a place (zeros), if it has none. */
static faceau_status ensure_block(fa_median *h, int i, int b, fa_err *err)
{
    uint32_t *slot = &h->blk[(size_t)i * (size_t)h->nblk + (size_t)(b / BLOCK_BINS)];
    if (*slot)
        return FACEAU_OK;
    if (h->used % CHUNK_BLOCKS == 0 && h->used / CHUNK_BLOCKS == h->nchunks) {
        if (h->nchunks == h->chunk_cap) {
            size_t cap = h->chunk_cap ? 2 * h->chunk_cap : 16;
            void **c = realloc(h->chunks, cap * sizeof *c);
            if (!c)
                return fa_fail(err, FACEAU_ERR_NOMEM, "out of memory for a median histogram");
            h->chunks = c;
            h->chunk_cap = cap;
        }
        void *chunk = fa_calloc(CHUNK_BLOCKS * BLOCK_BINS, bin_bytes(h), err, "a median histogram");
        if (!chunk)
            return FACEAU_ERR_NOMEM;
        h->chunks[h->nchunks++] = chunk;
    }
    *slot = ++h->used; /* block number + 1: 0 means none */
    return FACEAU_OK;
}

/* The add and the median's move for either bin type (T: uint16_t or int32_t), in two passes over
 * the dimensions. The add touches each dimension's bins once, at the sample, in a loop with no
 * chain from one dimension to the next, so the memory system overlaps its misses (the bins,
 * scattered over megabytes, are out of cache by the next frame). The move reads the bins only when
 * the median leaves its bin: each dimension keeps its median bin's count (med_cnt), which tells
 * whether it does. A dimension's median depends on its own bins and the count only. */
#define MEDIAN_KERNELS(T, SUFFIX)                                                                  \
    static inline T *block_##SUFFIX(const fa_median *h, uint32_t n)                                \
    {                                                                                              \
        return (T *)h->chunks[n / CHUNK_BLOCKS] + (size_t)(n % CHUNK_BLOCKS) * BLOCK_BINS;         \
    }                                                                                              \
    static inline T bin_##SUFFIX(const fa_median *h, const uint32_t *blk, int j)                   \
    {                                                                                              \
        uint32_t n = blk[j / BLOCK_BINS];                                                          \
        return n ? block_##SUFFIX(h, n - 1)[j % BLOCK_BINS] : 0;                                   \
    }                                                                                              \
    /* Takes back the first n dimensions' samples (bin_of), as add_ counted them. */               \
    static void unadd_##SUFFIX(fa_median *h, int n)                                                \
    {                                                                                              \
        for (int i = 0; i < n; i++) {                                                              \
            int b = h->bin_of[i], j = h->med_bin[i];                                               \
            const uint32_t *blk = h->blk + (size_t)i * (size_t)h->nblk;                            \
            block_##SUFFIX(h, blk[b / BLOCK_BINS] - 1)[b % BLOCK_BINS]--;                          \
            if (b < j)                                                                             \
                h->below[i]--;                                                                     \
            else if (b == j)                                                                       \
                h->med_cnt[i]--;                                                                   \
        }                                                                                          \
    }                                                                                              \
    /* Counts x in each dimension's bin (made if new): all or nothing. */                          \
    static faceau_status add_##SUFFIX(fa_median *h, const double *x, fa_err *err)                  \
    {                                                                                              \
        double len = h->max - h->min;                                                              \
        double alpha = (double)h->bins;                                                            \
        double beta = -h->min * (double)h->bins;                                                   \
        alpha *= 1.0 / len;                                                                        \
        beta *= 1.0 / len;                                                                         \
        double top = (double)(h->bins - 1);                                                        \
        for (int i = 0; i < h->dim; i++) {                                                         \
            int b = bin_of(x[i], alpha, beta, top);                                                \
            const uint32_t *slot = &h->blk[(size_t)i * (size_t)h->nblk + (size_t)(b / BLOCK_BINS)]; \
            if (!*slot) {                                                                          \
                faceau_status st = ensure_block(h, i, b, err);                                     \
                if (st) {                                                                          \
                    unadd_##SUFFIX(h, i);                                                          \
                    return st;                                                                     \
                }                                                                                  \
            }                                                                                      \
            block_##SUFFIX(h, *slot - 1)[b % BLOCK_BINS]++;                                        \
            h->bin_of[i] = b;                                                                      \
            int j = h->med_bin[i];                                                                 \
            if (b < j)                                                                             \
                h->below[i]++;                                                                     \
            else if (b == j)                                                                       \
                h->med_cnt[i]++;                                                                   \
        }                                                                                          \
        return FACEAU_OK;                                                                          \
    }                                                                                              \
    /* Moves each dimension's median bin to the first bin whose cumulative count reaches the    \
     * cutoff, keeping below[i] = the count in the bins before it and med_cnt[i] its own. */      \
    static void settle_##SUFFIX(fa_median *h)                                                      \
    {                                                                                              \
        double len = h->max - h->min;                                                              \
        int cutoff = (h->count + 1) / 2;                                                           \
        for (int i = 0; i < h->dim; i++) {                                                         \
            int j = h->med_bin[i], below = h->below[i], cnt = h->med_cnt[i];                       \
            if (below >= cutoff || below + cnt < cutoff) {                                         \
                const uint32_t *blk = h->blk + (size_t)i * (size_t)h->nblk;                        \
                while (j > 0 && below >= cutoff)                                                   \
                    below -= bin_##SUFFIX(h, blk, --j);                                            \
                while (j < h->bins - 1 && below + bin_##SUFFIX(h, blk, j) < cutoff)                \
                    below += bin_##SUFFIX(h, blk, j++);                                            \
                cnt = bin_##SUFFIX(h, blk, j);                                                     \
                h->med_bin[i] = j;                                                                 \
                h->below[i] = below;                                                               \
                h->med_cnt[i] = cnt;                                                               \
            }                                                                                      \
            if (below + cnt >= cutoff) /* never false for cutoff <= count */                       \
                h->median[i] = h->min + (double)j * (len / (double)h->bins) +                      \
                               (0.5 * len / (double)h->bins);                                      \
        }                                                                                          \
    }

MEDIAN_KERNELS(uint16_t, narrow)
MEDIAN_KERNELS(int32_t, wide)

/* Moves the 16-bit counts into 32-bit bins, before the add that could take one past 65535. */
static faceau_status widen(fa_median *h, fa_err *err)
{
    void **wide = fa_calloc(h->chunk_cap ? h->chunk_cap : 1, sizeof *wide, err, "a widened median histogram");
    if (!wide)
        return FACEAU_ERR_NOMEM;
    for (size_t c = 0; c < h->nchunks; c++) {
        int32_t *w = fa_calloc(CHUNK_BLOCKS * BLOCK_BINS, sizeof *w, err, "a widened median histogram");
        if (!w) {
            free_chunks(wide, c);
            return FACEAU_ERR_NOMEM;
        }
        const uint16_t *n16 = h->chunks[c];
        for (size_t k = 0; k < (size_t)CHUNK_BLOCKS * BLOCK_BINS; k++)
            w[k] = n16[k];
        wide[c] = w;
    }
    free_chunks(h->chunks, h->nchunks);
    h->chunks = wide;
    h->wide = 1;
    return FACEAU_OK;
}

uint32_t fa_median_bin(const fa_median *h, int i, int b)
{
    const uint32_t *blk = h->blk + (size_t)i * (size_t)h->nblk;
    return h->wide ? (uint32_t)bin_wide(h, blk, b) : bin_narrow(h, blk, b);
}

faceau_status fa_median_update(fa_median *h, const double *x, int update, fa_err *err)
{
    if (update) {
        /* every bin is <= count, so while count < widen_at <= 65535 one more add fits */
        faceau_status st = FACEAU_OK;
        if (!h->wide && h->count >= h->widen_at)
            st = widen(h, err);
        if (!st)
            st = h->wide ? add_wide(h, x, err) : add_narrow(h, x, err);
        if (st)
            return st;
        h->count++;
    }
    if (h->count == 1) /* a first sample is its own median, unbinned (OpenFace copies it) */
        memcpy(h->median, x, (size_t)h->dim * sizeof *x);
    else if (h->wide)
        settle_wide(h);
    else
        settle_narrow(h);
    return FACEAU_OK;
}
