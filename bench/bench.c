/* bench - what faceau costs, measured in this run on this machine (one thread unless said).
 *
 *   faceau_bench [-frames N] [-rounds R] the benchmark (the stage timings over the first N
 *                                       frames of each clip, default 300; N = 0: all; the
 *                                       whole runs' ratios as the median of R rounds, default 3)
 *   faceau_bench -load                  the model load line alone (and the load's CPU ms), then
 *                                       exit: run it a few times for a best-of-N
 *
 * Prints:
 *  - model load ms: the CLNF model (main_clnf_general.txt and everything it names), MTCNN and
 *    the AU models, each and their sum;
 *  - a fresh detection + fit: MTCNN plus the 11-hypothesis DetectLandmarksInImage on the first
 *    frame of each clip (best and mean of a few repeats);
 *  - per clip (2015-10-15-15-14.avi 640x480 and portrait_1080x1920.mp4), one streamed pass of
 *    the whole pipeline decode -> grey -> DetectLandmarksInVideo -> pose/gaze -> AU stage, frames
 *    never held in memory: landmark ms per tracked frame (frames tracked from the previous one;
 *    frames that ran MTCNN are counted apart), ms per frame of each stage, and the whole
 *    pipeline's frames/s and peak RSS (faceau_run in a process of its own) with -threads 1 and
 *    -threads 2, each against `ffmpeg -threads 1 -i FILE -f null -` decode-only frames/s of the
 *    same file measured right before and after it, R rounds, the median ratio and its range
 *    (the ratio is what to quote: these machines are shared);
 *  - the AU-only whole run (faceau_run with -landmarks) on the 640x480 clip, same ratio;
 *  - MTCNN alone on a 640x480 and a 1080x1920 frame, 1 and 2 threads;
 *  - the nine shared videos through faceau_run_batch with -jobs 2 and one after another;
 *  - peak RSS.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "landmarks/clnf.h"
#include "landmarks/pose.h"
#include "landmarks/warp.h"

extern char **environ;

#define BENCH_MAX_ROUNDS 9 /* -rounds' upper bound */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Everything one face's pipeline needs: the shared models and the per-face state. */
typedef struct pipeline {
    fa_clnf *clnf;
    fa_mtcnn *mtcnn;
    faceau_au_models *aum;
    faceau_au *au;
    faceau_landmarker *lm; /* the public API's model (only in spawn_run's child) */
    fa_clnf_face face;
    fa_grey grey;
    double load_clnf, load_mtcnn, load_au;
    double cpu_clnf, cpu_mtcnn, cpu_au; /* the process's CPU ms (all threads) of each load */
} pipeline;

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int pipe_open(pipeline *P, const char *models)
{
    fa_err e = {0};
    char path[4200], err[4096];
    memset(P, 0, sizeof *P);
    double c0 = cpu_ms(), t0 = now_ms();
    snprintf(path, sizeof path, "%s/main_clnf_general.txt", models);
    if (fa_clnf_load(path, &P->clnf, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 0;
    }
    double t1 = now_ms(), c1 = cpu_ms();
    snprintf(path, sizeof path, "%s/mtcnn_detector", models);
    if (fa_mtcnn_load(path, &P->mtcnn, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 0;
    }
    double t2 = now_ms(), c2 = cpu_ms();
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = models;
    if (faceau_au_models_open(&cfg, &P->aum, err, sizeof err) ||
        faceau_au_open_with(P->aum, &cfg, &P->au, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 0;
    }
    double t3 = now_ms(), c3 = cpu_ms();
    P->cpu_clnf = c1 - c0;
    P->cpu_mtcnn = c2 - c1;
    P->cpu_au = c3 - c2;
    P->load_clnf = t1 - t0;
    P->load_mtcnn = t2 - t1;
    P->load_au = t3 - t2;
    if (fa_clnf_face_init(&P->face, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 0;
    }
    return 1;
}

static void pipe_close(pipeline *P)
{
    faceau_landmarker_close(P->lm);
    fa_clnf_face_free(&P->face);
    fa_grey_free(&P->grey);
    faceau_au_close(P->au);
    faceau_au_models_close(P->aum);
    fa_mtcnn_free(P->mtcnn);
    fa_clnf_free(P->clnf);
}

/* A new video: fresh tracker and person. */
static void pipe_reset(pipeline *P)
{
    fa_clnf_face_reset(&P->face);
    faceau_au_reset(P->au);
}

enum { ST_GREY, ST_TRACK, ST_POSE, ST_AU, ST_N };

typedef struct frame_out {
    int success;
    float pose[6], gaze0[3], gaze1[3], angle[2];
    faceau_au_result au;
} frame_out;

/* One frame of FeatureExtraction's loop as faceau does it internally: grey, tracking,
 * pose and gaze (gaze only on success, as FeatureExtraction), AU stage. ms[] accumulates the
 * time of each stage; *tracked says whether the frame started from a successful previous
 * frame (OpenFace tracks it with the small windows and runs no MTCNN unless that fails). */
static int pipe_frame(pipeline *P, const fa_image *img, long index, double fps, frame_out *o,
                      double ms[ST_N], int *tracked)
{
    fa_err e = {0};
    double t0 = now_ms();
    if (fa_grey_from_bgr(img, &P->grey, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 0;
    }
    double t1 = now_ms();
    *tracked = P->face.tracking_initialised && P->face.detection_success;
    if (fa_clnf_track_video(P->clnf, &P->face, P->mtcnn, img, &P->grey, &o->success, &e)) {
        fprintf(stderr, "bench: frame %ld: %s\n", index, e.msg);
        return 0;
    }
    double t2 = now_ms();
    const fa_pdm *pdm = fa_clnf_pdm(P->clnf);
    fa_camera cam = fa_camera_default(img->width, img->height);
    fa_clnf_pose(pdm, P->face.g, P->face.p, P->face.landmarks, &cam, o->pose);
    memset(o->gaze0, 0, sizeof o->gaze0);
    memset(o->gaze1, 0, sizeof o->gaze1);
    memset(o->angle, 0, sizeof o->angle);
    if (o->success && fa_clnf_n_parts(P->clnf) >= 3) {
        static const int eye_part[2] = {1, 2}; /* left_eye_28, right_eye_28 */
        float face3d[3 * FA_PDM_MAX_POINTS], eye3d[3 * FA_PDM_MAX_POINTS];
        fa_clnf_shape3d_camera(pdm, P->face.g, P->face.p, P->face.landmarks, &cam, face3d);
        for (int k = 0; k < 2; k++) {
            const fa_pdm *ep;
            int part = eye_part[k];
            fa_clnf_part(P->clnf, part, &ep, NULL, NULL, NULL);
            fa_clnf_shape3d_camera(ep, P->face.part_g[part], P->face.part_p[part],
                                   P->face.part_landmarks[part], &cam, eye3d);
            fa_gaze_estimate(eye3d, ep->n, face3d, o->pose + 3, k == 0, k == 0 ? o->gaze0 : o->gaze1);
        }
        fa_gaze_angle(o->gaze0, o->gaze1, o->angle);
    }
    double t3 = now_ms();
    faceau_frame f = {img->width, img->height, img->stride, img->bgr, (double)index / fps, index};
    if (faceau_au_add_frame(P->au, &f, P->face.landmarks, o->success, &o->au)) {
        fprintf(stderr, "bench: %s\n", faceau_au_last_error(P->au));
        return 0;
    }
    double t4 = now_ms();
    ms[ST_GREY] += t1 - t0;
    ms[ST_TRACK] += t2 - t1;
    ms[ST_POSE] += t3 - t2;
    ms[ST_AU] += t4 - t3;
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (n <= BENCH_MAX_ROUNDS; v is left as it was). */
static double median(const double *v, int n)
{
    double s[BENCH_MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double timed_run(pipeline *P, const char *video, const char *landmarks_csv, int threads,
                        long *n);
static int bench_whole(const char *file, int rounds);

/* A run in a process of its own (this program with child_args: "-run VIDEO THREADS" or
 * "-batch JOBS THREADS FILE..."): its peak RSS is then the pipeline's alone (models, trackers,
 * the frame queues), not the bench's. Returns the run's ms (-1 on failure); *n frames, *rss_mb
 * the child's peak RSS (it reports both). */
/* This process's peak RSS in MiB: VmHWM, which belongs to the address space exec made. Not
 * ru_maxrss: Linux carries the exec'ing address space's peak into it, and posix_spawn's child
 * shares the bench's (CLONE_VM) until exec, so a spawned run would report the bench's own peak. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atof(line + 6);
    if (f)
        fclose(f);
    if (kb < 0) { /* no procfs: the rusage figure, possibly too high */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss;
    }
    return kb / 1024.0;
}

static double spawn_child(char **child_args, int n_args, long *n, double *rss_mb)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    int fds[2];
    *n = 0;
    *rss_mb = 0;
    if (len <= 0 || n_args > 30 || pipe(fds))
        return -1;
    self[len] = 0;
    char *argv[32] = {self};
    for (int i = 0; i < n_args; i++)
        argv[1 + i] = child_args[i];
    argv[1 + n_args] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return -1;
    }
    char buf[256] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    double ms;
    if (!WIFEXITED(status) || WEXITSTATUS(status) || sscanf(buf, "%ld %lf %lf", n, &ms, rss_mb) != 3)
        return -1;
    return ms;
}

static double spawn_run(const char *video, int threads, long *n, double *rss_mb)
{
    char t[16];
    snprintf(t, sizeof t, "%d", threads);
    char *args[] = {"-run", (char *)video, t};
    return spawn_child(args, 3, n, rss_mb);
}

/* `ffmpeg -threads 1 -i FILE -f null -` through posix_spawnp: wall ms, or -1 when ffmpeg is
 * not installed (or fails). */
static double ffmpeg_decode_ms(const char *file)
{
    char *argv[] = {"ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", (char *)file,
                    "-f", "null", "-", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = now_ms();
    int rc = posix_spawnp(&pid, "ffmpeg", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    double t = now_ms() - t0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

/* The library's own decode-only loop (the fallback when ffmpeg is absent). */
static double own_decode_ms(const char *file, long *frames)
{
    fa_err e = {0};
    fa_video *v;
    const fa_image *img;
    int got;
    *frames = 0;
    if (fa_video_open(file, &v, &e))
        return -1;
    double t0 = now_ms();
    while (fa_video_read(v, &img, &got, &e) == FACEAU_OK && got)
        (*frames)++;
    double t = now_ms() - t0;
    fa_video_close(v);
    return t;
}

/* Single-thread decode-only wall ms of the whole file and a label saying how it was measured
 * (-1 on failure). */
static double decode_ms(const char *file, const char **how)
{
    double t = ffmpeg_decode_ms(file);
    *how = "ffmpeg -threads 1 -f null";
    if (t > 0)
        return t;
    long frames;
    *how = "ffmpeg not found: faceau's own decode loop";
    return own_decode_ms(file, &frames);
}

/* Decode-only frames/s of file (n frames). */
static double decode_fps(const char *file, long n, const char **how)
{
    double t = decode_ms(file, how);
    return t > 0 ? n / (t / 1e3) : 0;
}

/* MTCNN + 11-hypothesis DetectLandmarksInImage on the first frame, fresh face each time. */
static void bench_fresh(pipeline *P, const char *file, int repeats)
{
    fa_err e = {0};
    fa_video *v;
    const fa_image *img;
    int got;
    if (fa_video_open(file, &v, &e) || fa_video_read(v, &img, &got, &e) || !got) {
        fprintf(stderr, "bench: %s: %s\n", file, e.msg);
        return;
    }
    double best = 1e30, sum = 0, det_sum = 0;
    int ok = 0;
    for (int r = 0; r < repeats; r++) {
        faceau_box boxes[256];
        int nb = 0;
        fa_clnf_face_reset(&P->face);
        if (fa_grey_from_bgr(img, &P->grey, &e))
            break;
        double t0 = now_ms();
        if (fa_mtcnn_detect(P->mtcnn, img, boxes, 256, &nb, &e))
            break;
        double t1 = now_ms();
        int pick = fa_mtcnn_pick_single(boxes, nb, -1, -1);
        if (pick < 0)
            break;
        float box[4] = {boxes[pick].x, boxes[pick].y, boxes[pick].width, boxes[pick].height};
        if (fa_clnf_detect_image(P->clnf, &P->face, &P->grey, box, 1, &ok, &e))
            break;
        double t = now_ms() - t0;
        det_sum += t1 - t0;
        sum += t;
        best = t < best ? t : best;
        if (r + 1 == repeats)
            printf("fresh detect+fit %4dx%-4d %.1f ms best, %.1f ms mean (MTCNN %.1f + 11-hypothesis fit "
                   "%.1f; success %d)\n",
                   img->width, img->height, best, sum / repeats, det_sum / repeats,
                   (sum - det_sum) / repeats, ok);
    }
    if (e.msg[0])
        fprintf(stderr, "bench: %s\n", e.msg);
    fa_video_close(v);
}

/* One streamed pass of the whole pipeline over file (at most max_frames frames). */
static int bench_pipeline(pipeline *P, const char *file, long max_frames, int rounds)
{
    fa_err e = {0};
    fa_video *v;
    if (fa_video_open(file, &v, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 0;
    }
    pipe_reset(P);
    double fps = fa_video_fps(v);
    double ms[ST_N] = {0}, track_tracked = 0, track_other = 0, decode = 0;
    long n = 0, n_tracked = 0, n_success = 0;
    int w = 0, h = 0;
    /* per tracked frame landmark ms, for the median (the mean drifts with the machine's load) */
    size_t cap = 1024;
    double *tms = malloc(cap * sizeof *tms);
    if (!tms) {
        fprintf(stderr, "bench: out of memory\n");
        fa_video_close(v);
        return 0;
    }
    double t_start = now_ms();
    for (;;) {
        if (max_frames > 0 && n >= max_frames)
            break;
        const fa_image *img;
        int got, tracked;
        double t0 = now_ms();
        if (fa_video_read(v, &img, &got, &e) || !got)
            break;
        decode += now_ms() - t0;
        w = img->width;
        h = img->height;
        frame_out o;
        double before = ms[ST_TRACK];
        if (!pipe_frame(P, img, n, fps, &o, ms, &tracked)) {
            fa_video_close(v);
            free(tms);
            return 0;
        }
        if (tracked) {
            if ((size_t)n_tracked == cap) {
                double *g = realloc(tms, 2 * cap * sizeof *tms);
                if (!g) {
                    fprintf(stderr, "bench: out of memory\n");
                    fa_video_close(v);
                    free(tms);
                    return 0;
                }
                tms = g;
                cap *= 2;
            }
            tms[n_tracked] = ms[ST_TRACK] - before;
            track_tracked += tms[n_tracked];
            n_tracked++;
        } else {
            track_other += ms[ST_TRACK] - before;
        }
        n_success += o.success;
        n++;
    }
    double total = now_ms() - t_start;
    fa_video_close(v);
    if (n == 0) {
        fprintf(stderr, "bench: %s: no frames\n", file);
        free(tms);
        return 0;
    }
    if (e.msg[0])
        fprintf(stderr, "bench: %s\n", e.msg);
    double stages[FA_N_STAGES];
    fa_analyser_stage_ms(P->au, stages);
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    qsort(tms, (size_t)n_tracked, sizeof *tms, cmp_double);
    printf("\n%s (%dx%d)\n", base, w, h);
    printf("  stages, first %ld frames (success on %ld), one thread, faceau's internal calls:\n", n,
           n_success);
    printf("  landmarks        %.2f ms per tracked frame (mean of %ld; median %.2f); %.1f ms per "
           "frame that ran detection or the init windows (%ld)\n",
           n_tracked ? track_tracked / n_tracked : 0, n_tracked,
           n_tracked ? tms[n_tracked / 2] : 0,
           n > n_tracked ? track_other / (double)(n - n_tracked) : 0, n - n_tracked);
    printf("  per frame        decode %.2f, grey %.2f, landmarks %.2f, pose+gaze %.3f, AU stage %.2f ms "
           "(%.1f frames/s)\n",
           decode / n, ms[ST_GREY] / n, ms[ST_TRACK] / n, ms[ST_POSE] / n, ms[ST_AU] / n,
           n / (total / 1e3));
    printf("  AU stage         calc_params %.3f, align %.3f, hog+geom %.3f, median %.3f, predict %.3f ms\n",
           stages[0] / n, stages[1] / n, stages[2] / n, stages[3] / n, stages[4] / n);
    free(tms);
    return bench_whole(file, rounds);
}

/* The whole pipeline as the CLI runs it (faceau_run in a process of its own, every frame, CSV
 * and post-processing) at -threads 1 and 2, against single-thread decode-only of the same
 * file. On these shared machines decode-only alone moved 1676-2750 frames/s between runs, so
 * each round goes decode, run t1, decode, run t2, decode: each run's ratio is against the mean
 * of the decode-only runs just before and after it, and the line gives the median and the
 * range over the rounds. Returns 0 when a run failed. */
static int bench_whole(const char *file, int rounds)
{
    double ratio[2][BENCH_MAX_ROUNDS], fps[2][BENCH_MAX_ROUNDS], dec[2][BENCH_MAX_ROUNDS];
    double rss[2] = {0, 0};
    long nrun = 0;
    const char *how = "";
    double d_prev = decode_ms(file, &how);
    for (int r = 0; r < rounds; r++)
        for (int t = 0; t < 2; t++) {
            double rss_t, trun = spawn_run(file, t + 1, &nrun, &rss_t);
            double d_next = decode_ms(file, &how);
            if (trun <= 0 || d_prev <= 0 || d_next <= 0) {
                fprintf(stderr, "bench: the whole-pipeline or decode-only run on %s failed\n", file);
                return 0;
            }
            fps[t][r] = nrun / (trun / 1e3);
            dec[t][r] = (nrun / (d_prev / 1e3) + nrun / (d_next / 1e3)) / 2;
            ratio[t][r] = fps[t][r] / dec[t][r];
            rss[t] = rss_t > rss[t] ? rss_t : rss[t];
            d_prev = d_next;
        }
    for (int t = 0; t < 2; t++) {
        double lo = ratio[t][0], hi = ratio[t][0];
        for (int r = 1; r < rounds; r++) {
            lo = ratio[t][r] < lo ? ratio[t][r] : lo;
            hi = ratio[t][r] > hi ? ratio[t][r] : hi;
        }
        double med_ratio = median(ratio[t], rounds), med_fps = median(fps[t], rounds),
               med_dec = median(dec[t], rounds);
        printf("  whole pipeline   -threads %d: ratio %.3fx median of %d (range %.3f-%.3f); %.1f frames/s "
               "(faceau_run, no -landmarks: %ld frames, CSV, post-processing) against decode only "
               "%.1f frames/s (%s, the runs just before and after), medians; peak RSS %.1f MB\n",
               t + 1, med_ratio, rounds, lo, hi, med_fps, nrun, med_dec, how, rss[t]);
    }
    return 1;
}

/* faceau_run over video (the CLI's path: decode thread, tracking, pose, gaze, AU stage,
 * post-processing, CSV); landmarks_csv NULL tracks with P->lm. Returns ms, *n = frames. */
static double timed_run(pipeline *P, const char *video, const char *landmarks_csv, int threads,
                        long *n)
{
    char err[4096], outdir[64];
    faceau_au *au;
    faceau_config cfg = faceau_default_config();
    *n = 0;
    if (faceau_au_open_with(P->aum, &cfg, &au, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    snprintf(outdir, sizeof outdir, "/tmp/faceau-bench-%ld", (long)getpid());
    faceau_run_options ro = {0};
    ro.input = video;
    ro.landmarks_csv = landmarks_csv;
    ro.landmarker = P->lm;
    ro.out_dir = outdir;
    ro.out_name = "bench";
    ro.quiet = 1;
    ro.threads = threads;
    double t = now_ms();
    faceau_status st = faceau_run(au, &ro);
    t = now_ms() - t;
    *n = (long)faceau_au_frame_count(au);
    if (st != FACEAU_OK) {
        fprintf(stderr, "bench: %s\n", faceau_au_last_error(au));
        t = -1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/bench.csv", outdir);
    remove(path);
    rmdir(outdir);
    faceau_au_close(au);
    return t;
}

/* The AU-only whole run (-landmarks mode): faceau_run's decode thread + AU stage + CSV. */
static void bench_au_only(pipeline *P, const char *video, const char *csv)
{
    long n;
    double t = timed_run(P, video, csv, 0, &n);
    if (t <= 0)
        return;
    const char *how;
    double dfps = decode_fps(video, n, &how), fps = n / (t / 1e3);
    printf("\nAU-only run      %.1f frames/s (faceau_run with -landmarks: decode thread + AU stage + "
           "CSV, %ld frames); decode only %.1f (%s); ratio %.3fx\n",
           fps, n, dfps, how, dfps > 0 ? fps / dfps : 0);
}

/* MTCNN alone on the first frame of a video: best and mean ms, 1 and 2 threads. */
static void bench_detect(pipeline *P, const char *video, int repeats)
{
    fa_err e = {0};
    fa_video *v;
    const fa_image *img;
    int got;
    if (fa_video_open(video, &v, &e) || fa_video_read(v, &img, &got, &e) || !got) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return;
    }
    for (int threads = 1; threads <= 2; threads++) {
        faceau_box boxes[64];
        int n = 0;
        if (fa_mtcnn_set_threads(P->mtcnn, threads, &e) ||
            fa_mtcnn_detect(P->mtcnn, img, boxes, 64, &n, &e)) /* warm-up */
            break;
        double best = 1e30, sum = 0;
        for (int r = 0; r < repeats; r++) {
            double t0 = now_ms();
            fa_mtcnn_detect(P->mtcnn, img, boxes, 64, &n, &e);
            double t = now_ms() - t0;
            sum += t;
            best = t < best ? t : best;
        }
        printf("MTCNN %4dx%-4d  %d thread%s: %.2f ms best, %.2f ms mean (%d faces)\n", img->width,
               img->height, threads, threads > 1 ? "s" : " ", best, sum / repeats, n);
    }
    fa_mtcnn_set_threads(P->mtcnn, 1, &e);
    fa_video_close(v);
}

static void count_frames(void *user, const faceau_batch_result *r)
{
    long *n = user;
    *n += r->status == FACEAU_OK ? r->frames : 0;
}

/* The child of bench_batch: faceau_run_batch over files, as `faceau -jobs J -threads T` runs
 * them; prints "frames ms rss". */
static int batch_child(const char *models, int jobs, int threads, char **files, int n)
{
    faceau_batch_input *in = calloc((size_t)n, sizeof *in);
    char err[4096], outdir[64];
    faceau_landmarker *lm;
    if (!in || faceau_landmarker_open(models, &lm, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", in ? err : "out of memory");
        free(in);
        return 1;
    }
    for (int i = 0; i < n; i++)
        in[i].input = files[i];
    snprintf(outdir, sizeof outdir, "/tmp/faceau-bench-batch-%ld", (long)getpid());
    faceau_batch_options o;
    memset(&o, 0, sizeof o);
    o.run.out_dir = outdir;
    o.run.landmarker = lm;
    o.run.threads = threads;
    o.config = faceau_default_config();
    o.config.model_dir = models;
    o.jobs = jobs;
    long frames = 0;
    o.outcome = count_frames;
    o.user = &frames;
    double t = now_ms();
    faceau_status st = faceau_run_batch(in, n, &o, NULL, err, sizeof err);
    t = now_ms() - t;
    for (int i = 0; i < n; i++) { /* the outputs are not kept */
        char name[1024], path[1200];
        fa_run_output_name(files[i], 0, NULL, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s.csv", outdir, name);
        remove(path);
    }
    rmdir(outdir);
    faceau_landmarker_close(lm);
    free(in);
    if (st) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    printf("%ld %.3f %.1f\n", frames, t, peak_rss_mb());
    return 0;
}

/* The nine shared videos with a reference: -jobs 2 against one after another, both -threads 2. */
static void bench_batch(const char *shared)
{
    static const char *names[] = {"0217_03_006_alanis_morissette.avi", "0417_02_003_bill_clinton.avi",
                                  "1192_01_006_julia_roberts.avi", "1815_01_008_tony_blair.avi",
                                  "1878_01_002_vladimir_putin.avi", "2015-10-15-15-14.avi",
                                  "default.wmv", "multi_face.avi", "portrait_1080x1920.mp4"};
    enum { NV = sizeof names / sizeof names[0] };
    char paths[NV][4096], *args[3 + NV];
    for (int i = 0; i < NV; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/data/videos/%s", shared, names[i]);
        args[3 + i] = paths[i];
    }
    args[0] = "-batch";
    args[2] = "2";
    double ms[2] = {0}, rss[2] = {0};
    long frames[2] = {0};
    for (int jobs = 1; jobs <= 2; jobs++) {
        args[1] = jobs == 1 ? "1" : "2";
        ms[jobs - 1] = spawn_child(args, 3 + NV, &frames[jobs - 1], &rss[jobs - 1]);
        if (ms[jobs - 1] <= 0) {
            fprintf(stderr, "bench: the %d-job batch run failed\n", jobs);
            return;
        }
    }
    printf("\nnine videos      -jobs 1: %.1f s (%ld frames, %.1f frames/s, peak RSS %.1f MB); -jobs 2: "
           "%.1f s (%.1f frames/s, peak RSS %.1f MB); speed-up %.2fx (both -threads 2)\n",
           ms[0] / 1e3, frames[0], frames[0] / (ms[0] / 1e3), rss[0], ms[1] / 1e3,
           frames[1] / (ms[1] / 1e3), rss[1], ms[0] / ms[1]);
}

/* ---- -mirror against a plain run (issue 17; helper Mi's, kept apart from the rest) ------ */
/* The whole portrait clip through faceau_run and faceau_run_mirror (both -threads 2, models
 * loaded, CSVs written and removed): frames/s of each, and -mirror's time over the plain run's,
 * wall and CPU (user + sys of this process: what the others' load distorts least). Target:
 * wall ratio <= 2.5 (three tracked streams and two AU stages against one of each). The plain run
 * goes before and after -mirror, and the ratio is against their mean, so that a machine whose
 * load drifts during the line skews it less. `faceau_bench -mirror` runs this line alone. */
static void bench_mirror(pipeline *P, const char *models, const char *video)
{
    char err[4096], outdir[64];
    faceau_config cfg = faceau_default_config();
    faceau_au *au[2] = {NULL, NULL};
    faceau_landmarker *lm = NULL; /* the public API's model: P holds the internal one */
    if (faceau_landmarker_open(models, &lm, err, sizeof err) ||
        faceau_au_open_with(P->aum, &cfg, &au[0], err, sizeof err) ||
        faceau_au_open_with(P->aum, &cfg, &au[1], err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        faceau_au_close(au[0]);
        faceau_landmarker_close(lm);
        return;
    }
    snprintf(outdir, sizeof outdir, "/tmp/faceau-bench-mirror-%ld", (long)getpid());
    faceau_run_options ro = {0};
    ro.input = video;
    ro.landmarker = lm;
    ro.out_dir = outdir;
    ro.out_name = "bench";
    ro.quiet = 1;
    ro.threads = 2;
    double c0 = cpu_ms(), t0 = now_ms();
    faceau_status st = faceau_run(au[0], &ro);
    double c1 = cpu_ms(), t1 = now_ms();
    long n = (long)faceau_au_frame_count(au[0]);
    if (!st)
        st = faceau_run_mirror(au[0], au[1], &ro, NULL);
    double c2 = cpu_ms(), t2 = now_ms();
    if (!st)
        st = faceau_run(au[0], &ro);
    double c3 = cpu_ms(), t3 = now_ms();
    const double plain_t = (t1 - t0 + t3 - t2) / 2, plain_c = (c1 - c0 + c3 - c2) / 2;
    if (st)
        fprintf(stderr, "bench: %s\n", faceau_au_last_error(au[0]));
    else
        printf("mirror           portrait, -threads 2: plain %.1f frames/s (%.1f, %.1f), -mirror %.1f frames/s "
               "(%ld frames): time ratio %.2fx wall (target <= 2.5), %.2fx CPU\n",
               n / (plain_t / 1e3), n / ((t1 - t0) / 1e3), n / ((t3 - t2) / 1e3), n / ((t2 - t1) / 1e3), n,
               (t2 - t1) / plain_t, (c2 - c1) / plain_c);
    const char *names[] = {"bench.csv", "bench_left_mirrored.csv", "bench_right_mirrored.csv"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", outdir, names[i]);
        remove(path);
    }
    rmdir(outdir);
    faceau_au_close(au[0]);
    faceau_au_close(au[1]);
    faceau_landmarker_close(lm);
}

int main(int argc, char **argv)
{
    const char *shared = getenv("FACEAU_SHARED") ? getenv("FACEAU_SHARED") : "../shared";
    char models[4096];
    if (getenv("FACEAU_MODELS"))
        snprintf(models, sizeof models, "%s", getenv("FACEAU_MODELS"));
    else
        snprintf(models, sizeof models, "%s/models", shared);
    long max_frames = 300;
    int load_only = 0, mirror_only = 0, rounds = 3;
    if (argc >= 5 && !strcmp(argv[1], "-batch"))
        return batch_child(models, atoi(argv[2]), atoi(argv[3]), argv + 4, argc - 4);
    if (argc == 4 && !strcmp(argv[1], "-run")) {
        /* the child of spawn_run: load what faceau_run needs, run, print "frames ms rss" */
        pipeline R = {0};
        char err[4096];
        faceau_config cfg = faceau_default_config();
        cfg.model_dir = models;
        if (faceau_au_models_open(&cfg, &R.aum, err, sizeof err) ||
            faceau_landmarker_open(models, &R.lm, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        long n;
        double t = timed_run(&R, argv[2], NULL, atoi(argv[3]), &n);
        faceau_landmarker_close(R.lm);
        faceau_au_models_close(R.aum);
        if (t <= 0)
            return 1;
        printf("%ld %.3f %.1f\n", n, t, peak_rss_mb());
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-frames") && i + 1 < argc)
            max_frames = atol(argv[++i]);
        else if (!strcmp(argv[i], "-rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
            if (rounds < 1 || rounds > BENCH_MAX_ROUNDS) {
                fprintf(stderr, "faceau_bench: -rounds takes 1 to %d\n", BENCH_MAX_ROUNDS);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "-load"))
            load_only = 1;
        else if (!strcmp(argv[i], "-mirror"))
            mirror_only = 1; /* only the -mirror line (issue 17) */
        else {
            fprintf(stderr, "usage: faceau_bench [-frames N] [-rounds R] | -load | -mirror\n");
            return 2;
        }
    }
    pipeline P;
    if (!pipe_open(&P, models))
        return 1;
    printf("model load       CLNF %.1f ms + MTCNN %.1f ms + AU %.1f ms = %.1f ms (target < 100)\n",
           P.load_clnf, P.load_mtcnn, P.load_au, P.load_clnf + P.load_mtcnn + P.load_au);
    if (load_only) {
        printf("model load CPU   CLNF %.1f ms + MTCNN %.1f ms + AU %.1f ms = %.1f ms (all threads)\n",
               P.cpu_clnf, P.cpu_mtcnn, P.cpu_au, P.cpu_clnf + P.cpu_mtcnn + P.cpu_au);
        pipe_close(&P);
        return 0;
    }

    char v640[4096], vport[4096], csv640[4096];
    snprintf(v640, sizeof v640, "%s/data/videos/2015-10-15-15-14.avi", shared);
    snprintf(vport, sizeof vport, "%s/data/videos/portrait_1080x1920.mp4", shared);
    snprintf(csv640, sizeof csv640, "%s/reference/fullprec/2015-10-15-15-14.csv", shared);
    if (mirror_only) {
        bench_mirror(&P, models, vport);
        pipe_close(&P);
        return 0;
    }
    bench_fresh(&P, v640, 3);
    bench_fresh(&P, vport, 3);
    int ok = bench_pipeline(&P, v640, max_frames, rounds) && bench_pipeline(&P, vport, max_frames, rounds);
    bench_au_only(&P, v640, csv640);
    bench_mirror(&P, models, vport);
    printf("\n");
    bench_detect(&P, v640, 10);
    bench_detect(&P, vport, 5);
    bench_batch(shared);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS         %.1f MB (this bench process: internal calls, AU-only run)\n",
           ru.ru_maxrss / 1024.0);
    pipe_close(&P);
    return ok ? 0 : 1;
}
