/* bench - AU-stage throughput on one thread, landmarks given, decode excluded.
 *
 *   faceau_bench [VIDEO LANDMARKS_CSV [REPEATS]]
 *
 * Then times OpenFace's MTCNN face detector on a 640x480 and a 1080x1920 frame, 1 and 2
 * threads.
 *
 * Decodes the whole video into memory first (timed separately: decode-only FPS of the same
 * file, in the same run), then runs the AU stage over every frame REPEATS times and prints
 * frames/s, ms per sub-stage, model load ms and peak RSS. Quote ratios, not absolutes: these
 * machines are shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct clip {
    int n, w, h, stride;
    unsigned char *pixels; /* n frames */
    float *lm;             /* n x 136 */
    int *success;
} clip;

static int load_clip(const char *video, const char *csv, clip *c, double *decode_ms)
{
    char err[1024];
    faceau_source *src;
    if (faceau_source_open(video, &src, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 0;
    }
    size_t cap = 0;
    faceau_frame f;
    int got;
    double t0 = now_ms();
    memset(c, 0, sizeof *c);
    while (faceau_source_read(src, &f, &got) == FACEAU_OK && got) {
        size_t fsz = (size_t)f.stride * (size_t)f.height;
        if ((size_t)c->n == cap) {
            cap = cap ? cap * 2 : 256;
            unsigned char *p = realloc(c->pixels, cap * fsz);
            if (!p) {
                fprintf(stderr, "bench: out of memory\n");
                faceau_source_close(src);
                return 0;
            }
            c->pixels = p;
        }
        memcpy(c->pixels + (size_t)c->n * fsz, f.bgr, fsz);
        c->w = f.width;
        c->h = f.height;
        c->stride = f.stride;
        c->n++;
    }
    *decode_ms = now_ms() - t0;
    faceau_source_close(src);
    fa_err e;
    fa_csv_reader *r;
    if (fa_csv_reader_open(csv, &r, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 0;
    }
    c->lm = malloc((size_t)c->n * 136 * sizeof *c->lm);
    c->success = malloc((size_t)c->n * sizeof *c->success);
    fa_csv_row *row = malloc(sizeof *row);
    if (!c->lm || !c->success || !row) {
        fprintf(stderr, "bench: out of memory\n");
        return 0;
    }
    for (int i = 0; i < c->n; i++) {
        if (fa_csv_reader_next(r, row, &got, &e) || !got) {
            fprintf(stderr, "bench: %s has fewer rows than the video\n", csv);
            return 0;
        }
        for (int k = 0; k < 136; k++)
            c->lm[(size_t)i * 136 + (size_t)k] = (float)row->lmk2d[k];
        c->success[i] = row->success;
    }
    free(row);
    fa_csv_reader_close(r);
    return 1;
}

/* MTCNN on the first frame of a video: best and mean ms over repeats, 1 and 2 threads. */
static void bench_detect(const char *video, const char *models, int repeats)
{
    char err[4096];
    faceau_source *src;
    faceau_frame f;
    int got;
    if (faceau_source_open(video, &src, err, sizeof err) || faceau_source_read(src, &f, &got) || !got) {
        fprintf(stderr, "bench: %s\n", err);
        return;
    }
    for (int threads = 1; threads <= 2; threads++) {
        faceau_detector *d;
        if (faceau_detector_open(models, threads, &d, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            break;
        }
        faceau_box boxes[64];
        int n = 0;
        faceau_detect(d, &f, boxes, 64, &n); /* warm-up: the workspace grows once */
        double best = 1e30, sum = 0;
        for (int r = 0; r < repeats; r++) {
            double t0 = now_ms();
            faceau_detect(d, &f, boxes, 64, &n);
            double t = now_ms() - t0;
            sum += t;
            best = t < best ? t : best;
        }
        printf("detect %4dx%-4d  %d thread%s: %.2f ms best, %.2f ms mean (%d faces)\n", f.width, f.height,
               threads, threads > 1 ? "s" : " ", best, sum / repeats, n);
        faceau_detector_close(d);
    }
    faceau_source_close(src);
}

int main(int argc, char **argv)
{
    const char *shared = getenv("FACEAU_SHARED") ? getenv("FACEAU_SHARED") : "../shared";
    char vbuf[4096], cbuf[4096];
    snprintf(vbuf, sizeof vbuf, "%s/data/videos/2015-10-15-15-14.avi", shared);
    snprintf(cbuf, sizeof cbuf, "%s/reference/fullprec/2015-10-15-15-14.csv", shared);
    const char *video = argc > 2 ? argv[1] : vbuf;
    const char *csv = argc > 2 ? argv[2] : cbuf;
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    if (repeats < 1)
        repeats = 1;

    char err[4096];
    faceau_au *au;
    faceau_config cfg = faceau_default_config();
    char mbuf[4096];
    snprintf(mbuf, sizeof mbuf, "%s/models", shared);
    if (!getenv("FACEAU_MODELS"))
        cfg.model_dir = mbuf; /* the shared models unless told otherwise */
    if (faceau_au_open(&cfg, &au, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    clip c;
    double decode_ms;
    if (!load_clip(video, csv, &c, &decode_ms))
        return 1;
    double total = 0, best = 1e30, stages[FA_N_STAGES] = {0};
    faceau_au_result res;
    for (int rep = 0; rep < repeats; rep++) {
        faceau_au_reset(au);
        double t0 = now_ms();
        for (int i = 0; i < c.n; i++) {
            faceau_frame f = {c.w, c.h, c.stride, c.pixels + (size_t)i * (size_t)c.stride * (size_t)c.h, 0, i};
            if (faceau_au_add_frame(au, &f, c.lm + (size_t)i * 136, c.success[i], &res)) {
                fprintf(stderr, "bench: %s\n", faceau_au_last_error(au));
                return 1;
            }
        }
        double t = now_ms() - t0;
        total += t;
        best = t < best ? t : best;
        double ms[FA_N_STAGES];
        fa_analyser_stage_ms(au, ms);
        for (int s = 0; s < FA_N_STAGES; s++)
            stages[s] += ms[s];
    }
    double frames = (double)c.n * repeats;
    /* the whole CLI path: decode ahead on its own thread, AU stage, CSV, post-processing */
    char outdir[64];
    snprintf(outdir, sizeof outdir, "/tmp/faceau-bench-%ld", (long)getpid());
    faceau_run_options ro = {0};
    ro.input = video;
    ro.landmarks_csv = csv;
    ro.out_dir = outdir;
    ro.quiet = 1;
    double t_run = now_ms();
    if (faceau_run(au, &ro) != FACEAU_OK) {
        fprintf(stderr, "bench: %s\n", faceau_au_last_error(au));
        return 1;
    }
    t_run = now_ms() - t_run;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", outdir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", outdir);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    static const char *names[FA_N_STAGES] = {"calc_params", "align", "hog+geom", "median", "predict"};
    printf("video            %s (%dx%d, %d frames)\n", video, c.w, c.h, c.n);
    printf("model load       %.1f ms\n", faceau_au_model_load_ms(au));
    printf("decode only      %.1f frames/s\n", c.n / (decode_ms / 1e3));
    printf("AU stage         %.1f frames/s (1 thread, mean of %d passes; best pass %.1f frames/s)\n",
           frames / (total / 1e3), repeats, c.n / (best / 1e3));
    printf("ratio AU/decode  %.2f\n", (frames / (total / 1e3)) / (c.n / (decode_ms / 1e3)));
    printf("whole run        %.1f frames/s (faceau_run: decode thread + AU stage + CSV), ratio to decode %.2f\n",
           c.n / (t_run / 1e3), (c.n / (t_run / 1e3)) / (c.n / (decode_ms / 1e3)));
    for (int s = 0; s < FA_N_STAGES; s++)
        printf("  %-14s %.4f ms/frame\n", names[s], stages[s] / frames);
    printf("peak RSS         %.1f MB (frames held in memory: %.1f MB)\n", ru.ru_maxrss / 1024.0,
           (double)c.n * c.stride * c.h / 1048576.0);
    free(c.pixels);
    free(c.lm);
    free(c.success);
    faceau_au_close(au);

    /* face detection, OpenFace's MTCNN: 640x480 and the 1080x1920 portrait clip */
    char v2[4096];
    snprintf(v2, sizeof v2, "%s/data/videos/portrait_1080x1920.mp4", shared);
    const char *mloc = getenv("FACEAU_MODELS") ? NULL : mbuf;
    bench_detect(vbuf, mloc, 20);
    bench_detect(v2, mloc, 10);
    return 0;
}
