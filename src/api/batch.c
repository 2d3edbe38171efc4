/* batch.c - faceau_run_batch: many inputs in one run, `jobs` of them at once, as FeatureExtraction
 * would run them one by one. The models are loaded once and shared (landmarker from the caller,
 * AU models here); each job has its own analysers and faceau_run opens its own tracker, so jobs
 * share nothing writable and every CSV is the one a lone faceau_run writes.
 *
 * One input's failure is reported through the outcome callback and the run goes on; nothing an
 * earlier input wrote is touched. With resume, an input whose CSV (and .hog, with hogalign) is
 * already in out_dir is skipped: faceau_run renames the CSV into place last, so its presence
 * means the input finished. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"

#define PROGRESS_EVERY_MS 500.0

typedef struct batch batch;

/* One worker: its analysers (dynamic for videos and sequences, static for still images, opened
 * when first needed) and what faceau_run last reported for the input it is on. */
typedef struct job {
    batch *b;
    faceau_au *au[2];
    faceau_au *mirror_au; /* -mirror: the right-mirrored stream's analyser (au[0] the left's) */
    faceau_au *dual[2];   /* -au_dual: static analysers (video-static mode), [1] the right side's */
    long frames; /* frames of the current input so far (faces, for a still image) */
    int still;   /* the current input is a still image: one frame */
} job;

struct batch {
    const faceau_batch_input *in;
    int n;
    const faceau_batch_options *opt;
    faceau_au_models *models[2]; /* [0] videos, [1] still images; opened when first needed */
    pthread_mutex_t mu;
    int *order; /* the inputs' indices, longest estimated work first (several jobs), or NULL */
    int next, done, failed, truncated, skipped;
    long frames_finished; /* frames of inputs that finished */
    long frames_running;  /* sum of the running jobs' current counts */
    double t0, last_progress;
    int threads_per_job; /* run.threads split between the jobs, so the cores are full, not
                            oversubscribed */
    faceau_status fatal; /* a failure that stops every job (models that do not load) */
    char fatal_msg[4200];
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int is_still(const faceau_batch_input *in)
{
    return !in->input_is_dir && fa_is_image_path(in->input);
}

/* Caller holds b->mu. */
static void report_progress(batch *b, const char *name, int force)
{
    const faceau_batch_options *o = b->opt;
    double t = now_ms();
    if (!o->progress || (!force && t - b->last_progress < PROGRESS_EVERY_MS))
        return;
    b->last_progress = t;
    faceau_batch_progress p;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.files_done = b->done;
    p.files_total = b->n;
    p.files_failed = b->failed;
    p.frames = b->frames_finished + b->frames_running;
    p.seconds = (t - b->t0) / 1e3;
    p.frames_per_second = p.seconds > 0 ? (double)p.frames / p.seconds : 0;
    /* time left from the files still to do at the mean time per finished file (skipped ones
     * cost nothing and are not counted); unknown until one finishes */
    int ran = b->done - b->skipped;
    p.seconds_left = ran > 0 ? p.seconds / ran * (b->n - b->done) : -1;
    o->progress(o->user, &p);
}

/* faceau_run's per-input progress: counts frames for the batch's line. */
static void job_progress(void *user, const char *name, long frames, int done)
{
    job *j = user;
    batch *b = j->b;
    (void)done;
    pthread_mutex_lock(&b->mu);
    if (!j->still)
        b->frames_running += frames - j->frames;
    j->frames = frames;
    report_progress(b, name, 0);
    pthread_mutex_unlock(&b->mu);
}

static void job_warning(void *user, const char *name, const char *message)
{
    job *j = user;
    const faceau_batch_options *o = j->b->opt;
    if (o->run.warning) {
        pthread_mutex_lock(&j->b->mu);
        o->run.warning(o->user, name, message);
        pthread_mutex_unlock(&j->b->mu);
    }
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Whether a previous run finished this input (resume). */
static int already_done(const faceau_batch_options *o, const char *name)
{
    char path[4200];
    if (o->mirror) { /* both or neither: the right one is renamed into place last */
        snprintf(path, sizeof path, "%s/%s_right_mirrored.csv", o->run.out_dir, name);
        if (!file_exists(path))
            return 0;
        snprintf(path, sizeof path, "%s/%s_right_mirrored.hog", o->run.out_dir, name);
        return !o->run.hogalign || file_exists(path);
    }
    snprintf(path, sizeof path, "%s/%s.csv", o->run.out_dir, name);
    if (!file_exists(path))
        return 0;
    snprintf(path, sizeof path, "%s/%s.hog", o->run.out_dir, name);
    return !o->run.hogalign || file_exists(path);
}

/* Removes the temporary files an interrupted run left for this output name
 * (<stem>.csv.<pid>.tmp, <stem>.csv.<pid>.post.tmp, <stem>.hog.<pid>.tmp; fa_run_temp_stem). */
static void remove_stale_temporaries(const char *out_dir, const char *output_name)
{
    DIR *d = opendir(out_dir);
    if (!d)
        return;
    char name[FA_RUN_STEM_MAX + 1];
    fa_run_temp_stem(output_name, name, sizeof name);
    size_t nl = strlen(name);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *f = e->d_name;
        size_t fl = strlen(f);
        if (fl <= nl + 8 || strncmp(f, name, nl) != 0 || strcmp(f + fl - 4, ".tmp") != 0)
            continue;
        if (strncmp(f + nl, ".csv.", 5) != 0 && strncmp(f + nl, ".hog.", 5) != 0)
            continue;
        char path[4200];
        if (snprintf(path, sizeof path, "%s/%s", out_dir, f) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* The analyser of the right kind for an input, opening it (and the shared models) when first
 * needed. */
static faceau_status job_analyser(job *j, int still, faceau_au **out, char *err, size_t errsz)
{
    batch *b = j->b;
    if (!j->au[still]) {
        faceau_config cfg = b->opt->config;
        if (still)
            cfg.au_mode = FACEAU_AU_STATIC;
        faceau_status st = FACEAU_OK;
        pthread_mutex_lock(&b->mu);
        if (!b->models[still])
            st = faceau_au_models_open(&cfg, &b->models[still], err, errsz);
        pthread_mutex_unlock(&b->mu);
        if (!st)
            st = faceau_au_open_with(b->models[still], &cfg, &j->au[still], err, errsz);
        if (st)
            return st;
    }
    *out = j->au[still];
    return FACEAU_OK;
}

/* -au_dual's static analysers (video-static mode, on the still-image models, which are the
 * same static banks), opened when first needed: one, or two with -mirror. */
static faceau_status job_dual(job *j, char *err, size_t errsz)
{
    batch *b = j->b;
    faceau_config cfg = b->opt->config;
    faceau_status st = FACEAU_OK;
    for (int k = 0; k < (b->opt->mirror ? 2 : 1) && !st; k++) {
        if (j->dual[k])
            continue;
        cfg.au_mode = FACEAU_AU_STATIC;
        pthread_mutex_lock(&b->mu);
        if (!b->models[1])
            st = faceau_au_models_open(&cfg, &b->models[1], err, errsz);
        pthread_mutex_unlock(&b->mu);
        cfg.au_mode = FACEAU_AU_VIDEO_STATIC;
        if (!st)
            st = faceau_au_open_with(b->models[1], &cfg, &j->dual[k], err, errsz);
    }
    return st;
}

static void run_one(job *j, int k)
{
    batch *b = j->b;
    const faceau_batch_options *o = b->opt;
    const faceau_batch_input *in = &b->in[k];
    faceau_batch_result res;
    memset(&res, 0, sizeof res);
    res.index = k;
    res.input = in->input;
    char name[1024], err[4200] = "";
    fa_run_output_name(in->input, in->input_is_dir, b->n == 1 ? o->run.out_name : NULL, name, sizeof name);
    res.name = name;
    double t0 = now_ms();
    if (o->resume && already_done(o, name)) {
        res.skipped = 1;
    } else {
        faceau_au *au = NULL;
        res.status = job_analyser(j, is_still(in), &au, err, sizeof err);
        if (res.status && !is_still(in)) {
            /* the video models are every video's: nothing else can run */
            pthread_mutex_lock(&b->mu);
            if (!b->fatal) {
                b->fatal = res.status;
                snprintf(b->fatal_msg, sizeof b->fatal_msg, "%s", err);
            }
            pthread_mutex_unlock(&b->mu);
        }
        if (!res.status) {
            if (o->resume && o->mirror) {
                char side[1100];
                snprintf(side, sizeof side, "%s_left_mirrored", name);
                remove_stale_temporaries(o->run.out_dir, side);
                snprintf(side, sizeof side, "%s_right_mirrored", name);
                remove_stale_temporaries(o->run.out_dir, side);
            } else if (o->resume) {
                remove_stale_temporaries(o->run.out_dir, name);
            }
            faceau_run_options run = o->run;
            run.input = in->input;
            run.input_is_dir = in->input_is_dir;
            run.landmarks_csv = in->landmarks_csv;
            run.out_name = b->n == 1 ? o->run.out_name : NULL;
            run.quiet = 0;
            run.progress = job_progress;
            run.warning = job_warning;
            run.progress_user = j;
            run.threads = b->threads_per_job;
            j->frames = 0;
            j->still = is_still(in);
            if (o->mirror && !j->mirror_au && !is_still(in))
                res.status = faceau_au_open_with(b->models[0], &o->config, &j->mirror_au, err, sizeof err);
            if (!res.status && o->au_dual && !is_still(in))
                res.status = job_dual(j, err, sizeof err);
            run.dual_static = o->au_dual && !is_still(in) ? j->dual[0] : NULL;
            faceau_mirror_options mo;
            if (o->mirror) {
                mo = *o->mirror;
                mo.left_static = run.dual_static;
                mo.right_static = run.dual_static ? j->dual[1] : NULL;
            }
            if (!res.status) {
                res.status = o->mirror ? faceau_run_mirror(au, j->mirror_au, &run, &mo)
                                       : faceau_run(au, &run);
                if (res.status)
                    snprintf(err, sizeof err, "%s", faceau_au_last_error(au));
            }
        }
    }
    res.still_image = is_still(in);
    res.frames = res.still_image ? !res.skipped : j->frames;
    res.faces = res.still_image ? j->frames : 0;
    res.seconds = (now_ms() - t0) / 1e3;
    res.message = err;
    pthread_mutex_lock(&b->mu);
    if (!j->still)
        b->frames_running -= j->frames;
    b->frames_finished += res.status ? 0 : res.frames;
    j->frames = 0;
    j->still = 0;
    b->done++;
    b->skipped += res.skipped;
    b->failed += res.status != FACEAU_OK && res.status != FACEAU_ERR_TRUNCATED;
    b->truncated += res.status == FACEAU_ERR_TRUNCATED;
    if (o->outcome)
        o->outcome(o->user, &res);
    report_progress(b, name, 1);
    pthread_mutex_unlock(&b->mu);
}

static void *worker(void *arg)
{
    job *j = arg;
    batch *b = j->b;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int k = b->fatal ? b->n : b->next++;
        pthread_mutex_unlock(&b->mu);
        if (k >= b->n)
            break;
        run_one(j, b->order ? b->order[k] : k);
    }
    return NULL;
}

/* An input's work in milliseconds of one core, roughly: per frame a fixed part (tracking, the AU
 * stage) and a part growing with the pixels (decoding, colour conversion), as the bench measures
 * them on 640x480 and 1080x1920. Only the order of inputs depends on it, never what is written. */
static double frame_work_ms(double width, double height)
{
    return 3.3 + 1.85e-6 * width * height;
}

static double input_work(const faceau_batch_input *in)
{
    fa_err err;
    fa_err_clear(&err);
    if (in->input_is_dir) {
        char **paths = NULL;
        size_t n = 0;
        if (fa_list_images(in->input, &paths, &n, &err) != FACEAU_OK)
            return 0; /* it fails when its turn comes, with the reason */
        fa_free_list(paths, n);
        return (double)n * frame_work_ms(640, 480);
    }
    if (is_still(in))
        return 40.0; /* one detection and fit */
    int w = 0, h = 0;
    double frames = 0;
    if (fa_video_probe(in->input, &w, &h, &frames, &err) != FACEAU_OK)
        return 0;
    if (frames <= 0) /* not declared: assume long, so it does not start last */
        frames = 1e6;
    return frames * frame_work_ms(w, h);
}

typedef struct planned {
    double work;
    int index;
} planned;

static int by_work(const void *pa, const void *pb)
{
    const planned *a = pa, *c = pb;
    if (a->work != c->work)
        return a->work > c->work ? -1 : 1;
    return a->index - c->index;
}

int *fa_batch_plan(const faceau_batch_input *in, int n, const faceau_batch_options *opt)
{
    fa_err err;
    planned *p = fa_calloc((size_t)n, sizeof *p, &err, "the batch plan");
    int *order = p ? fa_calloc((size_t)n, sizeof *order, &err, "the batch plan") : NULL;
    if (!order) {
        free(p);
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        char name[1024];
        fa_run_output_name(in[k].input, in[k].input_is_dir, NULL, name, sizeof name);
        p[k].index = k;
        p[k].work = opt->resume && already_done(opt, name) ? 0 : input_work(&in[k]);
    }
    qsort(p, (size_t)n, sizeof *p, by_work);
    for (int k = 0; k < n; k++)
        order[k] = p[k].index;
    free(p);
    return order;
}

/* Two inputs writing the same out_dir/<name>.csv would overwrite each other: refused up front. */
static faceau_status check_names(const faceau_batch_input *in, int n, fa_err *err)
{
    char (*names)[1024] = fa_malloc((size_t)n * sizeof *names, err, "the output names");
    if (!names)
        return FACEAU_ERR_NOMEM;
    faceau_status st = FACEAU_OK;
    for (int k = 0; k < n && !st; k++) {
        if (!in[k].input) {
            st = fa_fail(err, FACEAU_ERR_INVALID_ARG, "faceau_run_batch: input %d is NULL", k);
            break;
        }
        fa_run_output_name(in[k].input, in[k].input_is_dir, NULL, names[k], sizeof names[k]);
        for (int i = 0; i < k && !st; i++)
            if (!strcmp(names[i], names[k]))
                st = fa_fail(err, FACEAU_ERR_INVALID_ARG,
                             "%s and %s would both write %s.csv: give them different names or "
                             "output directories", in[i].input, in[k].input, names[k]);
    }
    free(names);
    return st;
}

faceau_status faceau_run_batch(const faceau_batch_input *inputs, int n, const faceau_batch_options *opt,
                               int *n_failed, char *errbuf, size_t errbuf_size)
{
    fa_err err;
    fa_err_clear(&err);
    if (n_failed)
        *n_failed = 0;
    if (!opt || (n > 0 && !inputs) || n < 0 || !opt->run.out_dir || opt->jobs < 0)
        return fa_err_to_buf(fa_fail(&err, FACEAU_ERR_INVALID_ARG, "faceau_run_batch: %s",
                                     !opt ? "opt is NULL" : !opt->run.out_dir ? "no out_dir" : "bad inputs or jobs"),
                             &err, errbuf, errbuf_size);
    faceau_status st = check_names(inputs, n, &err);
    if (st)
        return fa_err_to_buf(st, &err, errbuf, errbuf_size);
    batch *b = fa_calloc(1, sizeof *b, &err, "a batch run");
    int jobs = opt->jobs > 0 ? opt->jobs : 1;
    if (jobs > n)
        jobs = n > 0 ? n : 1;
    job *J = b ? fa_calloc((size_t)jobs, sizeof *J, &err, "the batch jobs") : NULL;
    pthread_t *tid = J ? fa_calloc((size_t)jobs, sizeof *tid, &err, "the batch threads") : NULL;
    if (!tid) {
        free(J);
        free(b);
        return fa_err_to_buf(FACEAU_ERR_NOMEM, &err, errbuf, errbuf_size);
    }
    b->in = inputs;
    b->n = n;
    b->opt = opt;
    b->t0 = now_ms();
    int threads = opt->run.threads > 0 ? opt->run.threads : fa_cpu_count();
    b->threads_per_job = threads / jobs > 1 ? threads / jobs : 1;
    /* With several jobs the longest inputs start first, so the run does not end with one long
     * input alone on its share of the cores (the nine shared videos list the portrait clip last:
     * -jobs 2 was slower than one after another). Without a plan (no memory): the given order. */
    b->order = jobs > 1 && n > 2 ? fa_batch_plan(inputs, n, opt) : NULL;
    pthread_mutex_init(&b->mu, NULL);
    int started = 0;
    for (int i = 0; i < jobs; i++)
        J[i].b = b;
    /* the calling thread is job 0; the others get threads of their own */
    for (int i = 1; i < jobs; i++) {
        if (pthread_create(&tid[i], NULL, worker, &J[i]) != 0)
            break;
        started = i;
    }
    worker(&J[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < jobs; i++) {
        faceau_au_close(J[i].au[0]);
        faceau_au_close(J[i].au[1]);
        faceau_au_close(J[i].mirror_au);
        faceau_au_close(J[i].dual[0]);
        faceau_au_close(J[i].dual[1]);
    }
    faceau_au_models_close(b->models[0]);
    faceau_au_models_close(b->models[1]);
    if (n_failed)
        *n_failed = b->failed;
    st = b->fatal ? fa_fail(&err, b->fatal, "%s", b->fatal_msg)
         : b->failed ? fa_fail(&err, FACEAU_ERR_INPUT_FAILED, "%d of %d inputs failed", b->failed, n)
         : b->truncated ? fa_fail(&err, FACEAU_ERR_TRUNCATED, "%d of %d inputs were truncated", b->truncated, n)
                        : FACEAU_OK;
    pthread_mutex_destroy(&b->mu);
    free(b->order);
    free(tid);
    free(J);
    free(b);
    return st ? fa_err_to_buf(st, &err, errbuf, errbuf_size) : FACEAU_OK;
}
