/* faceau - command-line front end: parses OpenFace FeatureExtraction-style flags and calls
 * the library. All the work is in libfaceau. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "faceau.h"

#define MAX_INPUTS CLI_MAX_INPUTS

static void usage(FILE *out)
{
    fprintf(out,
"usage: faceau -f VIDEO_OR_IMAGE [options]\n"
"       faceau -fdir DIR [options]\n"
"       faceau detect -f IMAGE_OR_VIDEO... [options]   (faces only; see faceau detect --help)\n"
"       faceau plot CSV -o AUS.png [--aus AU06,AU12]   (AU intensities over time: the Python\n"
"                                                       binding's plot, run by $FACEAU_PYTHON or python3)\n"
"\n"
"Does what OpenFace 2.2's FeatureExtraction (videos, image sequences) and FaceLandmarkImg\n"
"(still images) do, number for number, and writes OpenFace's CSV, OUT_DIR/<name>.csv:\n"
"MTCNN face detection, CLNF landmark tracking (68 points, confidence, success, p_* shape\n"
"parameters), 3D landmarks, head pose, eye landmarks and gaze, and 17 AU intensities and\n"
"18 AU presences (dynamic models with person calibration and OpenFace's end-of-video\n"
"post-processing for videos; static models for still images).\n"
"\n"
"Input:\n"
"  -f FILE          a video file (FFmpeg reads it) or an image; may be repeated\n"
"  -fdir DIR        a directory of images (.jpg .jpeg .png .bmp), in name order, as one sequence;\n"
"                   may be repeated\n"
"  -flist FILE      inputs listed in FILE, one path a line (a directory is an image sequence;\n"
"                   blank lines and lines starting with # are skipped); may be repeated\n"
"  -mloc PATH       OpenFace model directory, or its main_clnf_general.txt (default: search\n"
"                   $FACEAU_MODELS, ~/.local/share/faceau/models, <prefix>/share/faceau/models)\n"
"  -fx F -fy F -cx F -cy F\n"
"                   camera intrinsics in pixels for pose, 3D landmarks and gaze (all four or\n"
"                   none; default: OpenFace's, from the frame size)\n"
"  -landmarks CSV   AU stage only: take each frame's landmarks, success and tracking columns\n"
"                   from this OpenFace CSV instead of tracking (one per -f/-fdir, same order)\n"
"\n"
"Output:\n"
"  -out_dir DIR     output directory (default: processed), created if missing\n"
"  -of NAME         output base name (default: the input's name); only with one input\n"
"  -aus -pose -gaze -2Dfp -3Dfp -pdmparams\n"
"                   column groups to write, as in FeatureExtraction (none given: all)\n"
"  -hogalign        also write OpenFace's binary HOG file, OUT_DIR/<name>.hog (with -mirror one\n"
"                   per side: <name>_left_mirrored.hog and <name>_right_mirrored.hog)\n"
"  -simalign        also write the aligned faces, OUT_DIR/<name>_aligned/frame_det_00_NNNNNN.bmp\n"
"                   (with -mirror: <name>_left_mirrored_aligned/ and <name>_right_mirrored_aligned/)\n"
"  -fullprec        every number with 6 decimals instead of OpenFace's per-column decimals (the\n"
"                   layout of OpenFace's full-precision reference CSVs, for scoring)\n"
"\n"
"AU models:\n"
"  -online          OpenFace's live per-frame correction, no end-of-video post-processing\n"
"  -au_static       static AU models only, as FeatureExtraction -au_static (no person\n"
"                   calibration; still clamped and smoothed at the end)\n"
"  -au_dual         videos and sequences: beside each dynamic AUxx_r, the static models'\n"
"                   intensity from the same HOG and geometry, as AUxx_r_static columns after\n"
"                   all of OpenFace's columns (which keep their positions and values); they are\n"
"                   what -au_static writes as AUxx_r. Also with -mirror.\n"
"\n"
"Facial asymmetry (videos and image sequences):\n"
"  -mirror          instead of OUT_DIR/<name>.csv, write OUT_DIR/<name>_left_mirrored.csv and\n"
"                   <name>_right_mirrored.csv: the analyses of the left- and right-mirrored\n"
"                   faces. Per frame the face is tracked as usual; the midline runs from the\n"
"                   glabella (the mean of landmarks 21 and 22, the inner brow ends) to the chin\n"
"                   (landmark 8), averaged over 5 frames centred on the frame (t-2 .. t+2);\n"
"                   the whole frame is reflected about it (bilinear, edge pixels repeated)\n"
"                   keeping one half. The sides are the SUBJECT's, not the image's:\n"
"                   right_mirrored is two copies of the subject's right half (on the image's\n"
"                   left for a face looking at the camera), left_mirrored of the subject's left.\n"
"                   Each mirrored face is tracked and analysed as a person of its own (own\n"
"                   tracker, running medians and post-processing), in OpenFace's CSV format.\n"
"                   A frame where the face is lost is black in both, so both CSVs get a failed\n"
"                   row there. Not for still images or -landmarks.\n"
"  -mirror_seam PX  width of the linear blend across the midline (default 6; 0: a hard edge)\n"
"  -mirror_video    also write the two mirrored videos, OUT_DIR/<name>_left_mirrored.mp4 and\n"
"                   _right_mirrored.mp4 (H.264, FFmpeg's libx264), for a person to look at;\n"
"                   written under a temporary name and renamed when complete, like the CSVs.\n"
"                   Without it nothing is encoded.\n"
"  -mirror_codec C  h264 (default) or ffv1: lossless, in .avi (a plain run on it gives the\n"
"                   -mirror CSV, byte for byte)\n"
"\n"
"Videos and sequences: one row per frame; frames where tracking failed are written as OpenFace\n"
"writes them (the failed fit's landmarks and pose, gaze 0, AUs 0); a video in which no face\n"
"is ever found gives such rows and a warning. Still images: one row per face MTCNN finds\n"
"(FaceLandmarkImg's layout); an image with no face is reported and the run goes on.\n"
"\n"
"Many inputs:\n"
"  -jobs N          process N inputs at once (default 1), each on THREADS/N threads, the\n"
"                   longest (by frames and size in their headers) first; every CSV is the\n"
"                   same as with 1\n"
"  -resume          skip inputs whose CSV is already in OUT_DIR (an earlier run finished them)\n"
"  Each input's outcome is one line on stderr (name, frames, seconds, status); one input's\n"
"  failure does not stop the others. On a terminal a progress line shows files done, frames/s\n"
"  and the time left.\n"
"\n"
"Other:\n"
"  -threads N       threads to use (default: one per core): frames are decoded ahead (FFmpeg\n"
"                   on N - 1 threads) and the tracker and detector split each frame's work;\n"
"                   -threads 1 runs everything on one thread. Output is the same for any N.\n"
"  -q               no progress or outcome lines (errors and warnings are still printed)\n"
"  -max_frame WxH   refuse images and videos whose frames are wider than W or taller than H\n"
"                   pixels (default 30000x30000)\n"
"  -max_pixels N    refuse frames of more than N pixels (default 200000000, 600 MB a frame)\n"
"  -h, --help       this help\n"
"  --version        print the version\n"
"\n"
"Limits: frames (images and video) at most 30000 px a side and 200,000,000 pixels (see\n"
"-max_frame, -max_pixels), image files at most 1 GB; a PNG chunk at most 8 MB and within the\n"
"file; a JPEG at most 500 scans; -landmarks CSV cells finite, 2D landmarks within 1e6 px.\n"
"Beyond them the input fails with one line naming the file and the problem.\n"
"\n"
"Exit status: 0 success (warnings included); 1 an input failed (an error, or an image with no\n"
"face; the other inputs are still processed); 2 bad usage; 3 an input was truncated (the\n"
"frames before the damage were written, with a warning) and none failed.\n");
}

typedef struct cli {
    faceau_batch_input *inputs; /* -f, -fdir and -flist, in order */
    int n_inputs, cap_inputs;
    const char *landmarks[MAX_INPUTS];
    int n_landmarks;
    faceau_run_options run;
    faceau_config cfg;
    double intrinsics[4]; /* -fx -fy -cx -cy */
    int intrinsics_set;   /* bit k: intrinsics[k] given */
    faceau_camera camera;
    faceau_frame_limits limits; /* -max_frame, -max_pixels */
    int jobs, resume;
    int mirror;           /* -mirror */
    int au_dual;          /* -au_dual */
    faceau_mirror_options mirror_opt;
    char **owned;         /* the -flist lines (inputs point into them) */
    int n_owned, cap_owned;
    int tty;              /* stderr is a terminal: a live progress line */
    int line_open;        /* a progress line is on screen, not yet ended */
} cli;

/* faceau_run_batch's progress: one line, rewritten in place, on a terminal only. */
static void print_progress(void *user, const faceau_batch_progress *p)
{
    cli *c = user;
    if (!c->tty || c->run.quiet)
        return;
    char left[32] = "--:--";
    if (p->seconds_left >= 0) {
        long t = (long)(p->seconds_left + 0.5);
        snprintf(left, sizeof left, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    }
    fprintf(stderr, "\r\033[K[%d/%d files] %s: %ld frames, %.1f frames/s, %s left", p->files_done,
            p->files_total, p->name ? p->name : "", p->frames, p->frames_per_second, left);
    c->line_open = 1;
}

static void end_line(cli *c)
{
    if (c->line_open)
        fputs("\r\033[K", stderr);
    c->line_open = 0;
}

/* One line per input. */
static void print_outcome(void *user, const faceau_batch_result *r)
{
    cli *c = user;
    end_line(c);
    if (r->status == FACEAU_ERR_TRUNCATED)
        fprintf(stderr, "faceau: warning: %s\n", r->message);
    else if (r->status != FACEAU_OK)
        fprintf(stderr, "faceau: %s\n", r->message);
    else if (c->run.quiet)
        return;
    else if (r->skipped)
        fprintf(stderr, "%s: skipped, %s/%s.csv is complete\n", r->name, c->run.out_dir, r->name);
    else if (r->still_image)
        fprintf(stderr, "%s: image, %ld face%s in %.1f s, ok\n", r->name, r->faces,
                r->faces == 1 ? "" : "s", r->seconds);
    else
        fprintf(stderr, "%s: %ld frames in %.1f s, ok\n", r->name, r->frames, r->seconds);
}

/* Warnings (printed even with -q). */
static void print_warning(void *user, const char *name, const char *message)
{
    (void)name;
    end_line(user);
    fprintf(stderr, "faceau: warning: %s\n", message);
}

static int need_value(int i, int argc, char **argv)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "faceau: %s needs a value (see faceau --help)\n", argv[i]);
        return 0;
    }
    return 1;
}

static const struct {
    const char *flag;
    unsigned bit;
} k_groups[] = {{"-aus", FACEAU_OUT_AUS},   {"-pose", FACEAU_OUT_POSE}, {"-gaze", FACEAU_OUT_GAZE},
                {"-2Dfp", FACEAU_OUT_2DFP}, {"-3Dfp", FACEAU_OUT_3DFP}, {"-pdmparams", FACEAU_OUT_PDM}};

static int add_input(cli *c, const char *path, int is_dir)
{
    if (c->n_inputs == c->cap_inputs) {
        int cap = c->cap_inputs ? 2 * c->cap_inputs : 16;
        faceau_batch_input *p = realloc(c->inputs, (size_t)cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "faceau: out of memory for %d inputs\n", cap);
            return 0;
        }
        c->inputs = p;
        c->cap_inputs = cap;
    }
    faceau_batch_input in = {path, is_dir, NULL};
    c->inputs[c->n_inputs++] = in;
    return 1;
}

static char *keep_string(cli *c, const char *s, size_t n)
{
    if (c->n_owned == c->cap_owned) {
        int cap = c->cap_owned ? 2 * c->cap_owned : 16;
        char **p = realloc(c->owned, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        c->owned = p;
        c->cap_owned = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    c->owned[c->n_owned++] = copy;
    return copy;
}

/* -flist: one input per line; a directory is an image sequence. */
static int add_list(cli *c, const char *list)
{
    FILE *f = fopen(list, "r");
    if (!f) {
        fprintf(stderr, "faceau: %s: cannot open the input list: %s\n", list, strerror(errno));
        return 0;
    }
    char line[4096];
    int ok = 1, lineno = 0;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            fprintf(stderr, "faceau: %s:%d: line too long\n", list, lineno);
            ok = 0;
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        struct stat sb;
        int is_dir = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
        char *path = keep_string(c, p, strlen(p));
        ok = path && add_input(c, path, is_dir);
    }
    if (ok && ferror(f)) {
        fprintf(stderr, "faceau: %s: read error\n", list);
        ok = 0;
    }
    fclose(f);
    return ok;
}

/* Returns -1 to continue, or an exit code. */
static int parse_flag(cli *c, int *i, int argc, char **argv)
{
    const char *a = argv[*i];
    for (size_t g = 0; g < sizeof k_groups / sizeof k_groups[0]; g++)
        if (!strcmp(a, k_groups[g].flag)) {
            c->run.outputs |= k_groups[g].bit;
            return -1;
        }
    if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(a, "--version")) {
        printf("faceau %s\n", faceau_version());
        return 0;
    }
    if (!strcmp(a, "-hogalign")) c->run.hogalign = 1;
    else if (!strcmp(a, "-simalign")) c->run.simalign = 1;
    else if (!strcmp(a, "-online")) c->cfg.online = 1;
    else if (!strcmp(a, "-au_static")) c->cfg.au_mode = FACEAU_AU_VIDEO_STATIC;
    else if (!strcmp(a, "-q")) c->run.quiet = 1;
    else if (!strcmp(a, "-fullprec")) c->run.full_precision = 1;
    else if (!strcmp(a, "-fx") || !strcmp(a, "-fy") || !strcmp(a, "-cx") || !strcmp(a, "-cy")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || !(x == x)) {
            fprintf(stderr, "faceau: %s needs a number, not '%s'\n", a, v);
            return 2;
        }
        int k = a[1] == 'f' ? (a[2] == 'x' ? 0 : 1) : (a[2] == 'x' ? 2 : 3);
        c->intrinsics[k] = x;
        c->intrinsics_set |= 1 << k;
    } else if (!strcmp(a, "-au_dual")) {
        c->au_dual = 1;
    } else if (!strcmp(a, "-mirror_video")) {
        c->mirror_opt.write_video = 1;
    } else if (!strcmp(a, "-mirror_codec")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        if (strcmp(v, "h264") && strcmp(v, "ffv1")) {
            fprintf(stderr, "faceau: -mirror_codec is h264 or ffv1, not '%s'\n", v);
            return 2;
        }
        c->mirror_opt.video_codec = v;
    } else if (!strcmp(a, "-mirror")) {
        c->mirror = 1;
    } else if (!strcmp(a, "-mirror_seam")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || !(x >= 0 && x <= 1000)) {
            fprintf(stderr, "faceau: -mirror_seam needs a width in pixels from 0 to 1000, not '%s'\n", v);
            return 2;
        }
        c->mirror_opt.seam_px = x;
    } else if (!strcmp(a, "-max_frame") || !strcmp(a, "-max_pixels")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        char *end;
        long long x = strtoll(v, &end, 10), y = x;
        if (a[5] == 'f' && end != v && *end == 'x') {
            const char *hs = end + 1;
            y = strtoll(hs, &end, 10);
            if (end == hs)
                x = 0;
        } else if (a[5] == 'f') {
            x = 0;
        }
        if (end == v || *end || x < 1 || y < 1 || (a[5] == 'f' && (x > INT_MAX || y > INT_MAX))) {
            fprintf(stderr, "faceau: %s needs %s, not '%s'\n", a,
                    a[5] == 'f' ? "WIDTHxHEIGHT in pixels (e.g. 8000x8000)" : "a positive whole number", v);
            return 2;
        }
        if (a[5] == 'f') {
            c->limits.max_width = (int)x;
            c->limits.max_height = (int)y;
        } else {
            c->limits.max_pixels = x;
        }
        c->run.frame_limits = &c->limits;
    } else if (!strcmp(a, "-resume")) {
        c->resume = 1;
    } else if (!strcmp(a, "-jobs") || !strcmp(a, "-threads")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        char *end;
        long j = strtol(v, &end, 10);
        if (end == v || *end || j < 1 || j > 64) {
            fprintf(stderr, "faceau: %s needs a whole number from 1 to 64, not '%s'\n", a, v);
            return 2;
        }
        if (a[1] == 'j')
            c->jobs = (int)j;
        else
            c->run.threads = (int)j;
    } else if (!strcmp(a, "-f") || !strcmp(a, "-fdir") || !strcmp(a, "-landmarks") ||
             !strcmp(a, "-out_dir") || !strcmp(a, "-of") || !strcmp(a, "-mloc") || !strcmp(a, "-flist")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        if (!strcmp(a, "-f") && !add_input(c, v, 0)) return 2;
        if (!strcmp(a, "-fdir") && !add_input(c, v, 1)) return 2;
        if (!strcmp(a, "-flist") && !add_list(c, v)) return 2;
        if (!strcmp(a, "-landmarks")) {
            if (c->n_landmarks == MAX_INPUTS) return 2;
            c->landmarks[c->n_landmarks++] = v;
        }
        if (!strcmp(a, "-out_dir")) c->run.out_dir = v;
        if (!strcmp(a, "-of")) c->run.out_name = v;
        if (!strcmp(a, "-mloc")) c->cfg.model_dir = v;
    } else {
        fprintf(stderr, "faceau: unknown option '%s' (see faceau --help)\n", a);
        return 2;
    }
    return -1;
}

static int check_usage(const cli *c)
{
    if (c->n_inputs == 0) {
        fprintf(stderr, "faceau: no input given (-f VIDEO, -fdir DIR or -flist FILE; see faceau --help)\n");
        return 2;
    }
    if (c->n_landmarks != 0 && c->n_landmarks != c->n_inputs) {
        fprintf(stderr, "faceau: %d inputs but %d -landmarks files: give one landmarks CSV per input, "
                "or none to track the landmarks\n", c->n_inputs, c->n_landmarks);
        return 2;
    }
    if (c->intrinsics_set != 0 && c->intrinsics_set != 15) {
        fprintf(stderr, "faceau: give all four of -fx -fy -cx -cy, or none\n");
        return 2;
    }
    if (c->intrinsics_set && (c->intrinsics[0] <= 0 || c->intrinsics[1] <= 0)) {
        fprintf(stderr, "faceau: -fx and -fy must be positive\n");
        return 2;
    }
    if (!c->mirror && (c->mirror_opt.write_video || c->mirror_opt.video_codec)) {
        fprintf(stderr, "faceau: -mirror_video and -mirror_codec go with -mirror\n");
        return 2;
    }
    if (c->mirror && c->n_landmarks) {
        fprintf(stderr, "faceau: -mirror tracks the mirrored faces itself: it cannot take -landmarks\n");
        return 2;
    }
    if (c->run.out_name && c->n_inputs > 1) {
        fprintf(stderr, "faceau: -of names one output, but %d inputs were given\n", c->n_inputs);
        return 2;
    }
    return -1;
}

static void free_cli(cli *c)
{
    for (int i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->inputs);
}

static int run_all(cli *c)
{
    if (c->intrinsics_set) {
        c->camera.fx = (float)c->intrinsics[0];
        c->camera.fy = (float)c->intrinsics[1];
        c->camera.cx = (float)c->intrinsics[2];
        c->camera.cy = (float)c->intrinsics[3];
        c->run.camera = &c->camera;
    }
    for (int k = 0; k < c->n_landmarks; k++)
        c->inputs[k].landmarks_csv = c->landmarks[k];
    c->run.warning = print_warning;
    /* without -landmarks faceau tracks the face itself: one landmark model for every input */
    faceau_landmarker *landmarker = NULL;
    char err[4096];
    if (c->n_landmarks == 0) {
        if (faceau_landmarker_open(c->cfg.model_dir, &landmarker, err, sizeof err) != FACEAU_OK) {
            fprintf(stderr, "faceau: %s\n", err);
            return 1;
        }
        c->run.landmarker = landmarker;
    }
    faceau_batch_options b;
    memset(&b, 0, sizeof b);
    b.run = c->run;
    b.config = c->cfg;
    b.jobs = c->jobs;
    b.resume = c->resume;
    b.mirror = c->mirror ? &c->mirror_opt : NULL;
    b.au_dual = c->au_dual;
    b.outcome = print_outcome;
    b.progress = print_progress;
    b.user = c;
    int failed = 0;
    faceau_status st = faceau_run_batch(c->inputs, c->n_inputs, &b, &failed, err, sizeof err);
    end_line(c);
    faceau_landmarker_close(landmarker);
    if (st == FACEAU_OK)
        return 0;
    if (st == FACEAU_ERR_TRUNCATED)
        return 3;
    if (st == FACEAU_ERR_INPUT_FAILED) {
        if (c->n_inputs > 1)
            fprintf(stderr, "faceau: %s\n", err);
        return 1;
    }
    fprintf(stderr, "faceau: %s\n", err);
    return st == FACEAU_ERR_INVALID_ARG ? 2 : 1;
}

/* `faceau plot ...` is the Python binding's plot command (matplotlib lives there): run by the
 * interpreter in $FACEAU_PYTHON, else python3 on PATH, as `-m faceau plot ...`. Returns only
 * when it cannot be started. */
static int plot_main(int argc, char **argv)
{
    const char *py = getenv("FACEAU_PYTHON") && *getenv("FACEAU_PYTHON") ? getenv("FACEAU_PYTHON") : "python3";
    char **args = calloc((size_t)argc + 4, sizeof *args); /* interpreter, -m, faceau, argv, NULL */
    if (!args) {
        fprintf(stderr, "faceau: out of memory\n");
        return 1;
    }
    args[0] = (char *)py;
    args[1] = "-m";
    args[2] = "faceau";
    for (int i = 0; i < argc; i++) /* "plot" and its arguments */
        args[3 + i] = argv[i];
    fflush(NULL);
    execvp(py, args);
    fprintf(stderr, "faceau plot: cannot run %s (%s): the plot command is the Python binding's; "
            "install it (pip install .) or set FACEAU_PYTHON to an interpreter that has it\n",
            py, strerror(errno));
    free(args);
    return 1;
}

int main(int argc, char **argv)
{
    static cli c;
    c.cfg = faceau_default_config();
    c.run.out_dir = "processed";
    c.mirror_opt = faceau_default_mirror_options();
    c.jobs = 1;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "detect"))
        return detect_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "plot"))
        return plot_main(argc - 1, argv + 1);
    int rc = -1;
    for (int i = 1; i < argc && rc < 0; i++)
        rc = parse_flag(&c, &i, argc, argv);
    if (rc < 0)
        rc = check_usage(&c);
    if (rc < 0) {
        c.tty = isatty(fileno(stderr));
        rc = run_all(&c);
    }
    free_cli(&c);
    return rc;
}
