/* detect_cmd.c - `faceau detect`: OpenFace's MTCNN boxes as CSV on stdout. Flags only; the
 * work is in libfaceau. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faceau.h"
#include "cli.h"

#define MAX_FACES 256

static void detect_usage(FILE *out)
{
    fprintf(out,
"usage: faceau detect -f IMAGE_OR_VIDEO... [-fdir DIR] [-frames N] [-vis OUT.png] [options]\n"
"\n"
"Finds faces with OpenFace's MTCNN detector and prints one CSV row per face on stdout:\n"
"  file,frame,face,x,y,width,height,confidence\n"
"(the box after OpenFace's correction for landmark fitting, pixels, 6 decimals; frame is\n"
"0-based, 0 for images; faces best first).\n"
"\n"
"  -f PATH          an image or a video; may be repeated\n"
"  -fdir DIR        every image in DIR (.jpg .jpeg .png .bmp), in name order; may be repeated\n"
"  -frames N        at most the first N frames of each video (default: all)\n"
"  -vis OUT.png     also draw the boxes of the first frame on it and save it as OUT.png\n"
"  -threads N       detector threads (default 1; the boxes do not depend on it)\n"
"  -mloc PATH       OpenFace model directory (default: the usual search, see faceau --help)\n"
"  -h, --help       this help\n"
"\n"
"Exit status: 0 success; 1 an input could not be read (the others are still processed); 2 bad usage.\n");
}

typedef struct detect_opts {
    const char *inputs[CLI_MAX_INPUTS];
    int n_inputs;
    long max_frames;
    const char *vis, *mloc;
    int threads;
} detect_opts;

static int parse(detect_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            detect_usage(stdout);
            return 0;
        }
        int known = !strcmp(a, "-f") || !strcmp(a, "-fdir") || !strcmp(a, "-frames") ||
                    !strcmp(a, "-vis") || !strcmp(a, "-threads") || !strcmp(a, "-mloc");
        if (!known) {
            fprintf(stderr, "faceau detect: unknown option '%s' (see faceau detect --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "faceau detect: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-f") || !strcmp(a, "-fdir")) {
            if (o->n_inputs == CLI_MAX_INPUTS) {
                fprintf(stderr, "faceau detect: more than %d inputs\n", CLI_MAX_INPUTS);
                return 2;
            }
            o->inputs[o->n_inputs++] = v;
        } else if (!strcmp(a, "-frames") || !strcmp(a, "-threads")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000000) {
                fprintf(stderr, "faceau detect: %s needs a positive whole number, not '%s'\n", a, v);
                return 2;
            }
            if (!strcmp(a, "-frames"))
                o->max_frames = n;
            else
                o->threads = (int)(n > 64 ? 64 : n);
        } else if (!strcmp(a, "-vis")) {
            o->vis = v;
        } else {
            o->mloc = v;
        }
    }
    if (!o->n_inputs) {
        fprintf(stderr, "faceau detect: no input given (-f or -fdir; see faceau detect --help)\n");
        return 2;
    }
    return -1;
}

/* Prints a CSV field: as is, or quoted (RFC 4180) when it holds a comma, quote or newline. */
static void print_field(const char *v)
{
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, stdout);
        return;
    }
    putchar('"');
    for (; *v; v++) {
        if (*v == '"')
            putchar('"');
        putchar(*v);
    }
    putchar('"');
}

/* Detects on every frame of one input; returns 0, or 1 if it could not be read. */
static int detect_input(faceau_detector *d, const detect_opts *o, const char *input, int *vis_done)
{
    char err[4096];
    faceau_source *src;
    if (faceau_source_open(input, &src, err, sizeof err) != FACEAU_OK) {
        fprintf(stderr, "faceau detect: %s\n", err);
        return 1;
    }
    int is_video = faceau_source_fps(src) > 0, rc = 0, got;
    faceau_frame f;
    faceau_box boxes[MAX_FACES];
    for (long k = 0; !is_video || o->max_frames == 0 || k < o->max_frames; k++) {
        faceau_status st = faceau_source_read(src, &f, &got);
        if (st) {
            fprintf(stderr, "faceau detect: %s\n", faceau_source_last_error(src));
            rc = 1;
            break;
        }
        if (!got)
            break;
        int n = 0;
        if (faceau_detect(d, &f, boxes, MAX_FACES, &n) != FACEAU_OK) {
            fprintf(stderr, "faceau detect: %s: %s\n", input, faceau_detector_last_error(d));
            rc = 1;
            continue;
        }
        const char *file = is_video ? input : faceau_source_frame_path(src);
        for (int i = 0; i < n; i++) {
            print_field(file);
            printf(",%ld,%d,%.6f,%.6f,%.6f,%.6f,%.6f\n", is_video ? f.index : 0L, i, boxes[i].x,
                   boxes[i].y, boxes[i].width, boxes[i].height, boxes[i].confidence);
        }
        if (o->vis && !*vis_done) {
            *vis_done = 1;
            if (faceau_write_boxes_png(o->vis, &f, boxes, n, err, sizeof err) != FACEAU_OK) {
                fprintf(stderr, "faceau detect: %s\n", err);
                rc = 1;
            }
        }
    }
    faceau_source_close(src);
    return rc;
}

int detect_main(int argc, char **argv)
{
    static detect_opts o;
    o.threads = 1;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    char err[4096];
    faceau_detector *d;
    if (faceau_detector_open(o.mloc, o.threads, &d, err, sizeof err) != FACEAU_OK) {
        fprintf(stderr, "faceau detect: %s\n", err);
        return 1;
    }
    printf("file,frame,face,x,y,width,height,confidence\n");
    int vis_done = 0;
    rc = 0;
    for (int k = 0; k < o.n_inputs; k++)
        rc |= detect_input(d, &o, o.inputs[k], &vis_done);
    faceau_detector_close(d);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "faceau detect: cannot write the output\n");
        rc = 1;
    }
    return rc;
}
