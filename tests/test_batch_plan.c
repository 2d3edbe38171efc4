/* test_batch_plan.c - the order a batch with several jobs starts its inputs in (fa_batch_plan):
 * longest estimated work first, from each video's header alone, ties and the unreadable at the
 * end in the given order, and inputs -resume will skip counting as nothing. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "testutil.h"

static void check_order(const int *got, const int *want, int n, const char *what)
{
    int same = got != NULL;
    for (int k = 0; same && k < n; k++)
        same = got[k] == want[k];
    CHECK(same, "%s: order %d %d %d %d %d %d %d", what, got ? got[0] : -1, got ? got[1] : -1,
          got ? got[2] : -1, got ? got[3] : -1, got ? got[4] : -1, got ? got[5] : -1, got ? got[6] : -1);
}

int main(void)
{
    /* frames x size, from the headers: portrait 842 x 1080x1920, 2015 842 x 640x480, the
     * sequence directory's images at 640x480 each, putin 182 x 320x240, a still image, a file
     * that is not a video */
    const char *bad = tu_shared_path("reference/README.md");
    faceau_batch_input in[7];
    memset(in, 0, sizeof in);
    in[0].input = tu_shared_path("data/images/Obama.jpg");
    in[1].input = tu_shared_path("data/videos/1878_01_002_vladimir_putin.avi");
    in[2].input = bad;
    in[3].input = tu_shared_path("data/videos/2015-10-15-15-14.avi");
    in[4].input = tu_shared_path("data/images/sequence");
    in[4].input_is_dir = 1;
    in[5].input = tu_shared_path("data/videos/portrait_1080x1920.mp4");
    in[6].input = tu_shared_path("data/images/child2.jpg");
    faceau_batch_options opt;
    memset(&opt, 0, sizeof opt);
    opt.run.out_dir = tu_tmpdir("batch_plan");
    opt.jobs = 2;

    int w = 0, h = 0;
    double frames = 0;
    fa_err err;
    fa_err_clear(&err);
    CHECK(fa_video_probe(in[5].input, &w, &h, &frames, &err) == FACEAU_OK && w == 1080 && h == 1920 &&
              frames == 842,
          "portrait header: %dx%d, %.0f frames (%s)", w, h, frames, err.msg);
    CHECK(fa_video_probe(in[1].input, &w, &h, &frames, &err) == FACEAU_OK && w == 320 && h == 240 &&
              frames == 182,
          "putin header: %dx%d, %.0f frames (%s)", w, h, frames, err.msg);
    CHECK(fa_video_probe(bad, &w, &h, &frames, &err) == FACEAU_ERR_VIDEO && strstr(err.msg, bad),
          "a text file: %s", err.msg);

    int *order = fa_batch_plan(in, 7, &opt);
    /* the sequence's 30 images weigh less than putin's 182 frames, more than a still image */
    const int want[7] = {5, 3, 1, 4, 0, 6, 2};
    check_order(order, want, 7, "longest first");
    free(order);

    /* -resume: a finished input (its CSV in out_dir) counts as nothing: after the stills, before
     * the unreadable (index order breaks the tie with the bad file) */
    char path[4200];
    snprintf(path, sizeof path, "%s/portrait_1080x1920.csv", opt.run.out_dir);
    CHECK(tu_write_file(path, "x\n", 2) == 0, "writing %s", path);
    opt.resume = 1;
    order = fa_batch_plan(in, 7, &opt);
    const int want_resume[7] = {3, 1, 4, 0, 6, 2, 5};
    check_order(order, want_resume, 7, "resume");
    free(order);
    return tu_done();
}
