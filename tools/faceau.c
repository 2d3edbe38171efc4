/* faceau - command-line front end: parses OpenFace FeatureExtraction-style flags and calls
 * the library. All the work is in libfaceau. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "faceau.h"

#define MAX_INPUTS CLI_MAX_INPUTS

static void usage(FILE *out)
{
    fprintf(out,
"usage: faceau -f VIDEO_OR_IMAGE [options]\n"
"       faceau -fdir DIR [options]\n"
"       faceau detect -f IMAGE_OR_VIDEO... [options]   (faces only; see faceau detect --help)\n"
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
"  -hogalign        also write OpenFace's binary HOG file, OUT_DIR/<name>.hog\n"
"  -simalign        also write the aligned faces, OUT_DIR/<name>_aligned/frame_det_00_NNNNNN.bmp\n"
"  -fullprec        every number with 6 decimals instead of OpenFace's per-column decimals (the\n"
"                   layout of OpenFace's full-precision reference CSVs, for scoring)\n"
"\n"
"AU models:\n"
"  -online          OpenFace's live per-frame correction, no end-of-video post-processing\n"
"  -au_static       static AU models only, as FeatureExtraction -au_static (no person\n"
"                   calibration; still clamped and smoothed at the end)\n"
"\n"
"Videos and sequences: one row per frame; frames where tracking failed are written as OpenFace\n"
"writes them (the failed fit's landmarks and pose, gaze 0, AUs 0); a video in which no face\n"
"is ever found gives such rows and a warning. Still images: one row per face MTCNN finds\n"
"(FaceLandmarkImg's layout); an image with no face is reported and the run goes on.\n"
"\n"
"Other:\n"
"  -q               no progress messages\n"
"  -h, --help       this help\n"
"  --version        print the version\n"
"\n"
"Exit status: 0 success (warnings included); 1 an input failed (an error, or an image with no\n"
"face; the other inputs are still processed); 2 bad usage; 3 an input was truncated (the\n"
"frames before the damage were written, with a warning).\n");
}

typedef struct cli {
    const char *inputs[MAX_INPUTS];
    int input_is_dir[MAX_INPUTS];
    int n_inputs;
    const char *landmarks[MAX_INPUTS];
    int n_landmarks;
    faceau_run_options run;
    faceau_config cfg;
    double intrinsics[4]; /* -fx -fy -cx -cy */
    int intrinsics_set;   /* bit k: intrinsics[k] given */
    faceau_camera camera;
} cli;

/* faceau_run's progress, on stderr as FeatureExtraction prints it. */
static void print_progress(void *user, const char *name, long frames, int done)
{
    (void)user;
    fprintf(stderr, "\r%s: %ld frames%s", name, frames, done ? "\n" : "");
}

/* faceau_run's warnings (printed even with -q). */
static void print_warning(void *user, const char *name, const char *message)
{
    (void)user;
    (void)name;
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
    if (c->n_inputs == MAX_INPUTS) {
        fprintf(stderr, "faceau: more than %d inputs\n", MAX_INPUTS);
        return 0;
    }
    c->input_is_dir[c->n_inputs] = is_dir;
    c->inputs[c->n_inputs++] = path;
    return 1;
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
    } else if (!strcmp(a, "-f") || !strcmp(a, "-fdir") || !strcmp(a, "-landmarks") ||
             !strcmp(a, "-out_dir") || !strcmp(a, "-of") || !strcmp(a, "-mloc")) {
        if (!need_value(*i, argc, argv))
            return 2;
        const char *v = argv[++*i];
        if (!strcmp(a, "-f") && !add_input(c, v, 0)) return 2;
        if (!strcmp(a, "-fdir") && !add_input(c, v, 1)) return 2;
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

static int is_image_path(const char *p)
{
    const char *dot = strrchr(p, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
                   !strcasecmp(dot, ".bmp"));
}

static int check_usage(const cli *c)
{
    if (c->n_inputs == 0) {
        fprintf(stderr, "faceau: no input given (-f VIDEO or -fdir DIR; see faceau --help)\n");
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
    if (c->run.out_name && c->n_inputs > 1) {
        fprintf(stderr, "faceau: -of names one output, but %d inputs were given\n", c->n_inputs);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static cli c;
    c.cfg = faceau_default_config();
    c.run.out_dir = "processed";
    c.run.progress = print_progress;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "detect"))
        return detect_main(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        int rc = parse_flag(&c, &i, argc, argv);
        if (rc >= 0)
            return rc;
    }
    int rc = check_usage(&c);
    if (rc >= 0)
        return rc;
    if (c.intrinsics_set) {
        c.camera.fx = (float)c.intrinsics[0];
        c.camera.fy = (float)c.intrinsics[1];
        c.camera.cx = (float)c.intrinsics[2];
        c.camera.cy = (float)c.intrinsics[3];
        c.run.camera = &c.camera;
    }
    c.run.warning = print_warning;
    /* without -landmarks faceau tracks the face itself: one landmark model for every input */
    faceau_landmarker *landmarker = NULL;
    if (c.n_landmarks == 0) {
        char err[4096];
        if (faceau_landmarker_open(c.cfg.model_dir, &landmarker, err, sizeof err) != FACEAU_OK) {
            fprintf(stderr, "faceau: %s\n", err);
            return 1;
        }
        c.run.landmarker = landmarker;
    }
    /* videos and sequences use the dynamic AU models, still images the static ones */
    faceau_au *au[2] = {NULL, NULL};
    int exit_code = 0;
    for (int k = 0; k < c.n_inputs; k++) {
        int still = !c.input_is_dir[k] && is_image_path(c.inputs[k]);
        if (!au[still]) {
            char err[4096];
            faceau_config cfg = c.cfg;
            if (still)
                cfg.au_mode = FACEAU_AU_STATIC;
            if (faceau_au_open(&cfg, &au[still], err, sizeof err) != FACEAU_OK) {
                fprintf(stderr, "faceau: %s\n", err);
                exit_code = 1;
                break;
            }
        }
        faceau_run_options run = c.run;
        run.input = c.inputs[k];
        run.input_is_dir = c.input_is_dir[k];
        run.landmarks_csv = c.n_landmarks ? c.landmarks[k] : NULL;
        faceau_status st = faceau_run(au[still], &run);
        if (st == FACEAU_ERR_TRUNCATED) {
            fprintf(stderr, "faceau: warning: %s\n", faceau_au_last_error(au[still]));
            if (exit_code == 0)
                exit_code = 3;
        } else if (st != FACEAU_OK) {
            fprintf(stderr, "faceau: %s\n", faceau_au_last_error(au[still]));
            exit_code = 1;
        }
    }
    faceau_au_close(au[0]);
    faceau_au_close(au[1]);
    faceau_landmarker_close(landmarker);
    return exit_code;
}
