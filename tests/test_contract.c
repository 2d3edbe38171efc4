/* test_contract.c - include/faceau.h's error contract: every failing public call leaves a
 * message (the caller's errbuf or the object's last error), NULL arguments included and never
 * the previous message; *out is NULL after a failed open; the library writes nothing to
 * stdout or stderr (progress goes to the callback). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char err[4096];

static void reset_err(void)
{
    strcpy(err, "stale");
}

static int says(const char *msg, const char *word)
{
    return msg && strcmp(msg, "stale") != 0 && strstr(msg, word) != NULL;
}

static void test_open_calls(void)
{
    reset_err();
    CHECK(faceau_au_open(NULL, NULL, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "out"),
          "faceau_au_open(out NULL): %s", err);
    reset_err();
    CHECK(faceau_au_models_open(NULL, NULL, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "out"),
          "faceau_au_models_open(out NULL): %s", err);
    faceau_au *au = (faceau_au *)err;
    reset_err();
    CHECK(faceau_au_open_with(NULL, NULL, &au, err, sizeof err) == FACEAU_ERR_INVALID_ARG && !au &&
              says(err, "models"),
          "faceau_au_open_with(models NULL): %s", err);
    faceau_source *src = (faceau_source *)err;
    reset_err();
    CHECK(faceau_source_open(NULL, &src, err, sizeof err) == FACEAU_ERR_INVALID_ARG && !src && says(err, "path"),
          "faceau_source_open(path NULL): %s", err);
    reset_err();
    CHECK(faceau_detector_open(NULL, 1, NULL, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "out"),
          "faceau_detector_open(out NULL): %s", err);
    reset_err();
    CHECK(faceau_write_boxes_png(NULL, NULL, NULL, 0, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "path"),
          "faceau_write_boxes_png(path NULL): %s", err);
    reset_err();
    CHECK(faceau_models_locate(NULL, NULL, 0, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "buffer"),
          "faceau_models_locate(dir NULL): %s", err);
    char one[1] = {'x'};
    CHECK(faceau_source_open(NULL, &src, one, sizeof one) == FACEAU_ERR_INVALID_ARG && one[0] == '\0',
          "a 1-byte errbuf is NUL-terminated");
    CHECK(faceau_source_open("/nonexistent.avi", &src, NULL, 0) == FACEAU_ERR_IO && !src, "errbuf NULL is allowed");
}

static void test_object_calls(void)
{
    faceau_detector *d;
    CHECK(faceau_detector_open(tu_shared_path("models"), 1, &d, err, sizeof err) == FACEAU_OK, "detector: %s", err);
    faceau_box b[4];
    int n = 7;
    CHECK(faceau_detect(d, NULL, b, 4, &n) == FACEAU_ERR_INVALID_ARG && n == 0 &&
              says(faceau_detector_last_error(d), "frame"),
          "faceau_detect(frame NULL): %s", faceau_detector_last_error(d));
    faceau_frame f = {0};
    CHECK(faceau_detect(d, &f, b, 4, NULL) == FACEAU_ERR_INVALID_ARG && says(faceau_detector_last_error(d), "n is NULL"),
          "a second NULL replaces the first message: %s", faceau_detector_last_error(d));
    faceau_detector_close(d);

    faceau_config cfg = faceau_default_config();
    cfg.model_dir = tu_shared_path("models");
    cfg.au_mode = FACEAU_AU_STATIC;
    faceau_au *au;
    CHECK(faceau_au_open(&cfg, &au, err, sizeof err) == FACEAU_OK, "analyser: %s", err);
    faceau_au_result r;
    CHECK(faceau_au_add_frame(au, NULL, NULL, 1, &r) == FACEAU_ERR_INVALID_ARG && says(faceau_au_last_error(au), "frame"),
          "faceau_au_add_frame(frame NULL): %s", faceau_au_last_error(au));
    CHECK(faceau_au_finish(au, NULL, NULL, 3) == FACEAU_ERR_INVALID_ARG && says(faceau_au_last_error(au), "intensity"),
          "faceau_au_finish(NULL buffers): %s", faceau_au_last_error(au));
    CHECK(faceau_run(au, NULL) == FACEAU_ERR_INVALID_ARG && says(faceau_au_last_error(au), "opt"),
          "faceau_run(opt NULL): %s", faceau_au_last_error(au));

    faceau_source *src;
    CHECK(faceau_source_open(tu_shared_path("data/images/Obama.jpg"), &src, err, sizeof err) == FACEAU_OK, "%s", err);
    int got;
    CHECK(faceau_source_read(src, NULL, &got) == FACEAU_ERR_INVALID_ARG && says(faceau_source_last_error(src), "frame"),
          "faceau_source_read(frame NULL): %s", faceau_source_last_error(src));
    faceau_source_close(src);

    /* a whole run with stdout and stderr redirected: nothing printed, progress called */
    const char *out = tu_tmpdir("contract");
    char log[4200];
    snprintf(log, sizeof log, "%s/printed.txt", out);
    fflush(stdout), fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2), fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    dup2(fd, 1), dup2(fd, 2);
    faceau_run_options o = {0};
    o.input = tu_shared_path("data/images/Obama.jpg");
    o.landmarks_csv = tu_shared_path("reference/images/fullprec/Obama.csv");
    o.out_dir = out;
    faceau_status st = faceau_run(au, &o); /* progress NULL: nothing anywhere */
    fflush(stdout), fflush(stderr);
    dup2(saved_out, 1), dup2(saved_err, 2);
    close(fd), close(saved_out), close(saved_err);
    CHECK(st == FACEAU_OK, "run: %s", faceau_au_last_error(au));
    size_t len = 99;
    unsigned char *printed = tu_read_file(log, &len);
    CHECK(printed && len == 0, "the library printed %zu bytes: %.200s", len, printed ? (char *)printed : "");
    free(printed);
    faceau_au_close(au);
}

typedef struct progress_log {
    long calls, last_frames;
    int done;
} progress_log;

static void on_progress(void *user, const char *name, long frames, int done)
{
    progress_log *p = user;
    p->calls++;
    p->last_frames = frames;
    p->done |= done && name && name[0];
}

static void test_progress(void)
{
    faceau_config cfg = faceau_default_config();
    cfg.model_dir = tu_shared_path("models");
    faceau_au *au;
    CHECK(faceau_au_open(&cfg, &au, err, sizeof err) == FACEAU_OK, "analyser: %s", err);
    progress_log p = {0, 0, 0};
    faceau_run_options o = {0};
    o.input = tu_shared_path("data/images/sequence");
    o.input_is_dir = 1;
    o.landmarks_csv = tu_shared_path("reference/fullprec/sequence.csv");
    o.out_dir = tu_tmpdir("contract_progress");
    o.progress = on_progress;
    o.progress_user = &p;
    CHECK(faceau_run(au, &o) == FACEAU_OK, "run: %s", faceau_au_last_error(au));
    CHECK(p.calls >= 1 && p.done && p.last_frames == (long)faceau_au_frame_count(au),
          "progress: %ld calls, done %d, last %ld frames of %zu", p.calls, p.done, p.last_frames,
          faceau_au_frame_count(au));
    o.quiet = 1;
    p.calls = 0;
    CHECK(faceau_run(au, &o) == FACEAU_OK && p.calls == 0, "quiet: %ld progress calls", p.calls);
    faceau_au_close(au);
}

typedef struct batch_log {
    int outcomes, ok, failed, progress;
    long frames;
} batch_log;

static void on_outcome(void *user, const faceau_batch_result *r)
{
    batch_log *b = user;
    b->outcomes++;
    b->ok += r->status == FACEAU_OK;
    b->failed += r->status != FACEAU_OK && r->message && r->message[0];
    b->frames += r->frames;
}

static void on_batch_progress(void *user, const faceau_batch_progress *p)
{
    batch_log *b = user;
    b->progress += p->files_total == 2 && p->files_done <= 2;
}

/* faceau_run_batch: argument errors in errbuf; a failing input is an outcome, not an abort;
 * nothing printed. */
static void test_batch(void)
{
    faceau_batch_options o;
    memset(&o, 0, sizeof o);
    reset_err();
    CHECK(faceau_run_batch(NULL, 1, &o, NULL, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "faceau_run_batch"),
          "batch(NULL inputs): %s", err);
    reset_err();
    CHECK(faceau_run_batch(NULL, 0, NULL, NULL, err, sizeof err) == FACEAU_ERR_INVALID_ARG && says(err, "opt"),
          "batch(NULL opt): %s", err);
    o.run.out_dir = tu_tmpdir("contract_batch");
    o.config = faceau_default_config();
    o.config.model_dir = tu_shared_path("models");
    o.jobs = 2;
    batch_log log = {0, 0, 0, 0, 0};
    o.outcome = on_outcome;
    o.progress = on_batch_progress;
    o.user = &log;
    faceau_batch_input in[2] = {
        {tu_shared_path("data/images/sequence"), 1, tu_shared_path("reference/fullprec/sequence.csv")},
        {"/nonexistent/clip.avi", 0, tu_shared_path("reference/fullprec/sequence.csv")}};
    int failed = -1;
    reset_err();
    faceau_status st = faceau_run_batch(in, 2, &o, &failed, err, sizeof err);
    CHECK(st == FACEAU_ERR_INPUT_FAILED && failed == 1 && says(err, "1 of 2"), "batch: %s, %d failed: %s",
          faceau_status_string(st), failed, err);
    CHECK(log.outcomes == 2 && log.ok == 1 && log.failed == 1 && log.frames == 30 && log.progress >= 2,
          "batch outcomes %d ok %d failed %d frames %ld progress %d", log.outcomes, log.ok, log.failed,
          log.frames, log.progress);
    CHECK(faceau_run_batch(in, 0, &o, &failed, err, sizeof err) == FACEAU_OK && failed == 0, "empty batch");
}

int main(void)
{
    test_open_calls();
    test_object_calls();
    test_progress();
    test_batch();
    return tu_done();
}
