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
"usage: faceau -f VIDEO_OR_IMAGE -landmarks CSV [options]\n"
"       faceau detect -f IMAGE_OR_VIDEO... [options]   (faces only; see faceau detect --help)\n"
"       faceau -fdir DIR -landmarks CSV [options]\n"
"\n"
"Computes OpenFace 2.2's facial Action Units for each frame and writes OpenFace's CSV\n"
"(OUT_DIR/<name>.csv). Landmark tracking is not built into faceau yet: each frame's 68\n"
"landmarks and success flag come from an OpenFace-format CSV (-landmarks).\n"
"\n"
"Input:\n"
"  -f FILE          a video file (FFmpeg reads it) or an image; may be repeated\n"
"  -fdir DIR        a directory of images (.jpg .jpeg .png .bmp), in name order, as one sequence;\n"
"                   may be repeated\n"
"  -landmarks CSV   OpenFace CSV with the landmarks of each frame; give one per -f/-fdir, in the\n"
"                   same order. Confidence, success, gaze, eye landmarks, pose and 2D/3D\n"
"                   landmarks are copied from it; p_* and AU* are computed by faceau.\n"
"  -mloc PATH       OpenFace model directory, or its main_clnf_general.txt (default: search\n"
"                   $FACEAU_MODELS, ~/.local/share/faceau/models, <prefix>/share/faceau/models)\n"
"\n"
"Output:\n"
"  -out_dir DIR     output directory (default: processed), created if missing\n"
"  -of NAME         output base name (default: the input's name); only with one input\n"
"  -aus -pose -gaze -2Dfp -3Dfp -pdmparams\n"
"                   column groups to write, as in FeatureExtraction (none given: all)\n"
"  -hogalign        also write OpenFace's binary HOG file, OUT_DIR/<name>.hog\n"
"  -simalign        also write the aligned faces, OUT_DIR/<name>_aligned/frame_det_00_NNNNNN.bmp\n"
"\n"
"AU models:\n"
"  -online          OpenFace's live per-frame correction, no end-of-video post-processing\n"
"  -au_static       static AU models only, as FeatureExtraction -au_static (no person\n"
"                   calibration; still clamped and smoothed at the end)\n"
"  Still images (-f photo.jpg) are processed as FaceLandmarkImg does: every face (row) of the\n"
"  landmarks CSV, static AU models, no post-processing, FaceLandmarkImg's CSV layout.\n"
"\n"
"Other:\n"
"  -q               no progress messages\n"
"  -h, --help       this help\n"
"  --version        print the version\n"
"\n"
"Exit status: 0 success; 1 error (nothing written for that input); 2 bad usage;\n"
"3 an input was truncated (the frames before the damage were written, with a warning).\n");
}

typedef struct cli {
    const char *inputs[MAX_INPUTS];
    int input_is_dir[MAX_INPUTS];
    int n_inputs;
    const char *landmarks[MAX_INPUTS];
    int n_landmarks;
    faceau_run_options run;
    faceau_config cfg;
} cli;

/* faceau_run's progress, on stderr as FeatureExtraction prints it. */
static void print_progress(void *user, const char *name, long frames, int done)
{
    (void)user;
    fprintf(stderr, "\r%s: %ld frames%s", name, frames, done ? "\n" : "");
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
    else if (!strcmp(a, "-f") || !strcmp(a, "-fdir") || !strcmp(a, "-landmarks") ||
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
    if (c->n_landmarks != c->n_inputs) {
        fprintf(stderr, "faceau: %d inputs but %d -landmarks files: give one landmarks CSV per input\n",
                c->n_inputs, c->n_landmarks);
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
        run.landmarks_csv = c.landmarks[k];
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
    return exit_code;
}
