/* test_median.c - OpenFace's running median on hand-derived sequences. */
#include <math.h>
#include <string.h>

#include "testutil.h"

static void test_small_histogram(void)
{
    fa_median h;
    /* 10 bins on [0, 10): bin j holds [j, j+1), its centre is j + 0.5 */
    CHECK(fa_median_init(&h, 2, 10, 0.0, 10.0, NULL) == FACEAU_OK, "init");
    double a[2] = {3.2, 9.9};
    fa_median_update(&h, a, 1, NULL);
    /* one sample: the median is the sample itself, unbinned */
    CHECK(h.count == 1 && h.median[0] == 3.2 && h.median[1] == 9.9, "count 1: %g %g", h.median[0],
          h.median[1]);
    double b[2] = {7.7, -4.0}; /* -4 clamps into bin 0 */
    fa_median_update(&h, b, 1, NULL);
    /* count 2: cutoff (2+1)/2 = 1, the first bin reaching 1 sample: dim0 bin 3, dim1 bin 0 */
    CHECK(h.median[0] == 3.5 && h.median[1] == 0.5, "count 2: %g %g", h.median[0], h.median[1]);
    double c[2] = {5.0, 12.0}; /* 12 clamps into bin 9 */
    fa_median_update(&h, c, 1, NULL);
    /* count 3: cutoff 2: dim0 bins 3,5,7 -> bin 5; dim1 bins 0,9,9 -> bin 9 */
    CHECK(h.median[0] == 5.5 && h.median[1] == 9.5, "count 3: %g %g", h.median[0], h.median[1]);
    double d[2] = {1.0, 1.0};
    fa_median_update(&h, d, 0, NULL); /* not added: the median stays */
    CHECK(h.count == 3 && h.median[0] == 5.5, "no update: count %d", h.count);
    fa_median_reset(&h);
    /* no sample yet: cutoff 0 is reached at bin 0, whose centre is the median */
    fa_median_update(&h, d, 0, NULL);
    CHECK(h.count == 0 && h.median[0] == 0.5 && h.median[1] == 0.5, "count 0: %g", h.median[0]);
    fa_median_free(&h);
}

static void test_hog_histogram_edges(void)
{
    fa_median h;
    /* OpenFace's HOG histogram: 1000 bins on [-0.005, 1] */
    CHECK(fa_median_init(&h, 1, 1000, -0.005, 1.0, NULL) == FACEAU_OK, "init");
    double v[1];
    const double x[5] = {0.0, 0.2, 0.2, 0.9, 2.0};
    for (int i = 0; i < 5; i++) {
        v[0] = x[i];
        fa_median_update(&h, v, 1, NULL);
    }
    /* 0.2 -> (0.205)*1000/1.005 = 203.98 -> bin 203; median of 5 = 3rd sample = bin 203;
     * centre = -0.005 + 203*0.001004975 + 0.0005024876 */
    double want = -0.005 + 203.0 * (1.005 / 1000.0) + 0.5 * 1.005 / 1000.0;
    CHECK(fabs(h.median[0] - want) < 1e-15, "median %.17g want %.17g", h.median[0], want);
    fa_median_free(&h);
}

/* OpenFace's full rescan, written out plainly, against the incremental bookkeeping; with
 * widen_at lowered, the 16-bit bins move to 32-bit ones mid-way (and back to counting from zero
 * after a reset) without a median changing. BINS bins: 50 (one block a dimension) or 3000 (blocks
 * made as the samples drift); the medians are the same. */
static void test_against_rescan(int widen_at, int BINS)
{
    enum { DIM = 4, MAXBINS = 3000, STEPS = 3000 };
    fa_median h;
    CHECK(fa_median_init(&h, DIM, BINS, -1.0, 4.0, NULL) == FACEAU_OK, "init");
    CHECK(h.widen_at == FA_MEDIAN_WIDEN_AT && FA_MEDIAN_WIDEN_AT <= UINT16_MAX, "widen_at %d", h.widen_at);
    CHECK(BINS <= MAXBINS, "%d bins", BINS);
    h.widen_at = widen_at;
    for (int round = 0; round < 2; round++) {
    static int hist[DIM][MAXBINS];
    memset(hist, 0, sizeof hist);
    fa_median_reset(&h);
    int count = 0, mismatches = 0;
    unsigned rng = 12345;
    for (int step = 0; step < STEPS; step++) {
        double x[DIM];
        for (int i = 0; i < DIM; i++) {
            rng = rng * 1103515245u + 12345u;
            /* drifting values, some outside the range, so the median walks both ways */
            double drift = step < STEPS / 2 ? step * 0.001 : (STEPS - step) * 0.001;
            x[i] = -1.5 + 6.0 * (double)(rng >> 8) / 16777216.0 * 0.5 + drift + i * 0.3;
        }
        int update = step % 7 != 3;
        fa_median_update(&h, x, update, NULL);
        if (update) {
            for (int i = 0; i < DIM; i++) {
                double v = (x[i] - -1.0) * BINS / 5.0;
                v = v > BINS - 1 ? BINS - 1 : v < 0 ? 0 : v;
                hist[i][(int)v]++;
            }
            count++;
        }
        for (int i = 0; i < DIM; i++) {
            double want = x[i];
            if (count != 1) {
                int cum = 0, cutoff = (count + 1) / 2;
                for (int j = 0; j < BINS; j++) {
                    cum += hist[i][j];
                    if (cum >= cutoff) {
                        want = -1.0 + j * (5.0 / BINS) + 0.5 * 5.0 / BINS;
                        break;
                    }
                }
            }
            if (fabs(h.median[i] - want) > 1e-12)
                mismatches++;
        }
    }
    CHECK(mismatches == 0, "widen_at %d, %d bins, round %d: %d of %d medians differ from a full rescan",
          widen_at, BINS, round, mismatches, STEPS * DIM);
    CHECK(!!h.wide == (count > widen_at),
          "widen_at %d, %d samples: %s bins", widen_at, count, h.wide ? "32-bit" : "16-bit");
    }
    fa_median_free(&h);
}

/* Reset clears the histogram only when something was counted (a fresh one is calloc'd zeros);
 * either way the next run starts from an empty histogram. */
static void test_reset(void)
{
    fa_median h;
    CHECK(fa_median_init(&h, 3, 20, 0.0, 1.0, NULL) == FACEAU_OK, "init");
    fa_median_reset(&h); /* nothing counted yet */
    int nz = 0;
    for (int i = 0; i < 60; i++)
        nz += fa_median_bin(&h, i / 20, i % 20) != 0;
    CHECK(nz == 0 && h.count == 0, "fresh reset: %d non-zero bins", nz);
    double x[3] = {0.1, 0.5, 0.9}, y[3] = {0.8, 0.2, 0.3};
    fa_median_update(&h, x, 1, NULL);
    fa_median_update(&h, x, 1, NULL);
    fa_median_reset(&h);
    nz = 0;
    for (int i = 0; i < 60; i++)
        nz += fa_median_bin(&h, i / 20, i % 20) != 0;
    CHECK(nz == 0 && h.count == 0, "reset after samples: %d non-zero bins", nz);
    fa_median_reset(&h); /* twice in a row: still empty */
    fa_median_update(&h, y, 1, NULL);
    fa_median_update(&h, x, 1, NULL);
    fa_median_update(&h, y, 1, NULL);
    /* count 3, cutoff 2: only y's bins reach it (x's were cleared) */
    const double w = 1.0 / 20; /* bin j's centre: j * w + 0.5 * w, as recompute writes it */
    CHECK(h.median[0] == 16 * w + 0.5 * w && h.median[1] == 4 * w + 0.5 * w && h.median[2] == 6 * w + 0.5 * w,
          "after reset: %g %g %g", h.median[0], h.median[1], h.median[2]);
    fa_median_free(&h);
}

/* Past 65535 samples in one bin: 70000 in bin 0, then bin 1 takes the median exactly when its
 * count passes bin 0's (16-bit bins would have wrapped bin 0 to 4464 long before). */
static void test_past_16_bits(void)
{
    fa_median h;
    CHECK(fa_median_init(&h, 1, 2, 0.0, 2.0, NULL) == FACEAU_OK, "init");
    double a = 0.5, b = 1.5;
    for (int i = 0; i < 70000; i++)
        CHECK(fa_median_update(&h, &a, 1, NULL) == FACEAU_OK, "update");
    CHECK(h.wide && fa_median_bin(&h, 0, 0) == 70000, "70000 samples: %s", h.wide ? "32-bit" : "16-bit");
    for (int i = 0; i < 70000; i++)
        fa_median_update(&h, &b, 1, NULL);
    CHECK(h.median[0] == 0.5, "140000 samples, 70000 each: median %g (bin 0)", h.median[0]);
    fa_median_update(&h, &b, 1, NULL);
    CHECK(h.median[0] == 1.5, "70001 in bin 1: median %g (bin 1)", h.median[0]);
    fa_median_reset(&h);
    CHECK(h.wide && fa_median_bin(&h, 0, 0) == 0 && fa_median_bin(&h, 0, 1) == 0 && h.count == 0,
          "reset keeps the 32-bit bins, empty");
    fa_median_free(&h);
}

/* Only the bins samples reach are stored: dimensions whose samples stay within a few bins each,
 * at different places, take one or two blocks each, not the whole histogram (the HOG median's
 * shape: 4464 x 1000 bins). */
static void test_blocks_follow_the_samples(void)
{
    enum { DIM = 4464, BINS = 1000 };
    fa_median h;
    CHECK(fa_median_init(&h, DIM, BINS, 0.0, 1.0, NULL) == FACEAU_OK, "init");
    static double x[DIM];
    for (int step = 0; step < 200; step++) {
        for (int i = 0; i < DIM; i++) /* dimension i near bin (i * 7) % 990, within 10 bins */
            x[i] = ((double)((i * 7) % 990) + (double)(step % 10) + 0.5) / BINS;
        CHECK(fa_median_update(&h, x, 1, NULL) == FACEAU_OK, "update");
    }
    CHECK(h.used <= 2u * DIM, "%u blocks of 64 bins for %d dimensions", h.used, DIM);
    CHECK(fa_median_bin(&h, 5, 35) == 20 && fa_median_bin(&h, 5, 34) == 0 && fa_median_bin(&h, 5, 999) == 0,
          "dimension 5's bins: %u %u %u", fa_median_bin(&h, 5, 35), fa_median_bin(&h, 5, 34),
          fa_median_bin(&h, 5, 999));
    fa_median_free(&h);
}

/* Many dimensions, each with its own band of a 1000-bin histogram (as the HOG median's), some
 * samples far outside it, some frames not added: after every update each dimension's median is
 * the one a plain histogram rescan gives, in 16-bit bins and after they widen to 32-bit. */
static void test_random_dims(int widen_at)
{
    enum { DIM = 97, BINS = 1000, STEPS = 700 };
    static int hist[DIM][BINS];
    memset(hist, 0, sizeof hist);
    fa_median h;
    CHECK(fa_median_init(&h, DIM, BINS, -0.005, 1.0, NULL) == FACEAU_OK, "init");
    h.widen_at = widen_at;
    double centre[DIM], x[DIM];
    unsigned rng = 99;
    for (int i = 0; i < DIM; i++) {
        rng = rng * 1103515245u + 12345u;
        centre[i] = 0.9 * (double)(rng >> 8) / 16777216.0;
    }
    int count = 0, mismatches = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < DIM; i++) {
            rng = rng * 1103515245u + 12345u;
            double u = (double)(rng >> 8) / 16777216.0 - 0.5;
            x[i] = centre[i] + 0.15 * u * u * u + 0.0001 * step;
            if (rng % 61 == 0)
                x[i] = rng % 2 ? -3.0 : 7.0; /* clamped into the first or last bin */
        }
        int update = step % 11 != 5;
        CHECK(fa_median_update(&h, x, update, NULL) == FACEAU_OK, "update");
        if (update) {
            for (int i = 0; i < DIM; i++) {
                double b = x[i] * (BINS * (1.0 / 1.005)) + (0.005 * BINS * (1.0 / 1.005));
                b = b > BINS - 1 ? BINS - 1 : b < 0 ? 0 : b;
                hist[i][(int)b]++;
            }
            count++;
        }
        for (int i = 0; i < DIM; i++) {
            double want = x[i];
            if (count != 1) {
                int cum = 0, cutoff = (count + 1) / 2;
                for (int j = 0; j < BINS; j++)
                    if ((cum += hist[i][j]) >= cutoff) {
                        want = -0.005 + j * (1.005 / BINS) + 0.5 * 1.005 / BINS;
                        break;
                    }
            }
            if (h.median[i] != want)
                mismatches++;
        }
    }
    CHECK(mismatches == 0, "widen_at %d: %d of %d medians differ from a rescan", widen_at, mismatches,
          STEPS * DIM);
    CHECK(!!h.wide == (count > widen_at), "widen_at %d, %d samples: %s bins", widen_at, count,
          h.wide ? "32-bit" : "16-bit");
    fa_median_free(&h);
}

int main(void)
{
    test_blocks_follow_the_samples();
    test_reset();
    test_past_16_bits();
    test_against_rescan(FA_MEDIAN_WIDEN_AT, 50);
    test_against_rescan(100, 50); /* 16-bit, then 32-bit bins from the 101st sample */
    test_against_rescan(FA_MEDIAN_WIDEN_AT, 3000);
    test_against_rescan(100, 3000);
    test_random_dims(FA_MEDIAN_WIDEN_AT);
    test_random_dims(300);
    test_small_histogram();
    test_hog_histogram_edges();
    fa_median h;
    CHECK(fa_median_init(&h, 0, 10, 0, 1, NULL) == FACEAU_ERR_INVALID_ARG, "bad dims rejected");
    return tu_done();
}
