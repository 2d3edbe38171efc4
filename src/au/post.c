/* post.c - OpenFace's end-of-video AU post-processing and its online (live) correction. */
#include <stdlib.h>
#include <string.h>

#include "au/au.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

faceau_status fa_post_intensity(double *v, const unsigned char *success, size_t n, double cutoff,
                                fa_err *err)
{
    if (n == 0)
        return FACEAU_OK;
    double *tmp = fa_malloc(n * sizeof *tmp, err, "AU post-processing");
    if (!tmp)
        return FACEAU_ERR_NOMEM;
    double offset = 0;
    if (cutoff >= 0) { /* the model's cut-off percentile of the successful frames */
        size_t good = 0;
        for (size_t i = 0; i < n; i++)
            if (success[i])
                tmp[good++] = v[i];
        if (good) {
            qsort(tmp, good, sizeof *tmp, cmp_double);
            size_t at = (size_t)(int)((double)good * cutoff);
            offset = tmp[at < good ? at : good - 1];
        }
    }
    for (size_t i = 0; i < n; i++) {
        double x = success[i] ? v[i] - offset : 0;
        tmp[i] = x < 0 ? 0 : x > 5 ? 5 : x;
    }
    /* centred 3-frame moving average; the first and last frames keep their values */
    v[0] = tmp[0];
    v[n - 1] = tmp[n - 1];
    for (size_t i = 1; i + 1 < n; i++)
        v[i] = (tmp[i - 1] + tmp[i] + tmp[i + 1]) / 3;
    free(tmp);
    return FACEAU_OK;
}

faceau_status fa_post_presence(double *v, size_t n, fa_err *err)
{
    if (n <= 3)
        return FACEAU_OK;
    double *tmp = fa_malloc(n * sizeof *tmp, err, "AU post-processing");
    if (!tmp)
        return FACEAU_ERR_NOMEM;
    memcpy(tmp, v, n * sizeof *tmp);
    for (size_t i = 3; i + 3 < n; i++) {
        double sum = 0;
        for (size_t k = i - 3; k <= i + 3; k++)
            sum += tmp[k];
        v[i] = sum / 7 < 0.5 ? 0 : 1;
    }
    free(tmp);
    return FACEAU_OK;
}

/* OpenFace's UpdatePredictionTrack constants for CorrectOnlineAUs. */
#define ONLINE_BINS 200
#define ONLINE_MIN (-3.0)
#define ONLINE_MAX 5.0
#define ONLINE_RATIO 0.10
#define ONLINE_MIN_FRAMES 10

void fa_online_reset(fa_online *o)
{
    memset(o, 0, sizeof *o);
}

void fa_online_correct(fa_online *o, double *r, int update)
{
    double corr[FA_N_AU_R] = {0};
    const double len = ONLINE_MAX - ONLINE_MIN;
    if (update) {
        for (int i = 0; i < FA_N_AU_R; i++) {
            int idx = (int)((r[i] - ONLINE_MIN) * (double)ONLINE_BINS / len);
            idx = idx < 0 ? 0 : idx > ONLINE_BINS - 1 ? ONLINE_BINS - 1 : idx;
            o->hist[i][idx]++;
        }
        o->count++;
        if (o->count >= ONLINE_MIN_FRAMES) {
            int cut = (int)(ONLINE_RATIO * o->count);
            for (int i = 0; i < FA_N_AU_R; i++) {
                int sum = 0;
                for (int j = 0; j < ONLINE_BINS; j++) {
                    sum += o->hist[i][j];
                    if (sum > cut) {
                        corr[i] = ONLINE_MIN + j * (len / ONLINE_BINS);
                        break;
                    }
                }
            }
        }
    }
    for (int i = 0; i < FA_N_AU_R; i++) {
        double x = r[i] - corr[i];
        r[i] = x < 0 ? 0 : x > 5 ? 5 : x;
    }
}
