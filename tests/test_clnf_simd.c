/* test_clnf_simd.c - the landmark tracker's AVX2+FMA kernels (CCNF responses, Sigma inverses)
 * and the portable loops they twin give the same bits, and so does any thread count: 30 frames
 * of a 640x480 video (main model and hierarchical parts) tracked from scratch with the model
 * loaded as the CPU allows, then with a model loaded under FACEAU_NO_AVX2=1 (the kernels are
 * picked at load), then natively again with the responses split over 3 threads, must produce
 * identical landmarks, parameters, confidences and part landmarks. The MTCNN detector is loaded
 * once and shared, so only the landmark code differs between the runs. */
#include <stdlib.h>
#include <string.h>

#include "landmarks/clnf.h"
#include "testutil.h"

enum { FRAMES = 30, PER_FRAME = 2 * FA_PDM_MAX_POINTS + 6 + FA_N_MODES + 2 +
                                FA_CLNF_MAX_PARTS * 2 * FA_PDM_MAX_POINTS };

static int track(const fa_clnf *m, fa_mtcnn *mtcnn, int threads, float *out)
{
    fa_err err = {0};
    fa_video *v = NULL;
    fa_clnf_face f;
    fa_grey grey = {0};
    if (fa_video_open(tu_shared_path("data/videos/2015-10-15-15-14.avi"), &v, &err) ||
        fa_clnf_face_init(&f, &err)) {
        CHECK(0, "%s", err.msg);
        fa_video_close(v);
        return 0;
    }
    if (fa_clnf_face_set_threads(&f, threads, &err)) {
        CHECK(0, "threads: %s", err.msg);
        fa_clnf_face_free(&f);
        fa_video_close(v);
        return 0;
    }
    int t = 0;
    for (; t < FRAMES; t++) {
        const fa_image *frame;
        int got, ok;
        if (fa_video_read(v, &frame, &got, &err) || !got || fa_grey_from_bgr(frame, &grey, &err) ||
            fa_clnf_track_video(m, &f, mtcnn, frame, &grey, &ok, &err)) {
            CHECK(0, "frame %d: %s", t + 1, err.msg);
            break;
        }
        float *o = out + (size_t)t * PER_FRAME;
        memcpy(o, f.landmarks, sizeof f.landmarks);
        o += 2 * FA_PDM_MAX_POINTS;
        memcpy(o, f.g, sizeof f.g);
        o += 6;
        memcpy(o, f.p, FA_N_MODES * sizeof *o);
        o += FA_N_MODES;
        o[0] = f.confidence;
        o[1] = (float)ok;
        memcpy(o + 2, f.part_landmarks, sizeof f.part_landmarks);
    }
    fa_grey_free(&grey);
    fa_clnf_face_free(&f);
    fa_video_close(v);
    return t;
}

static fa_clnf *load(void)
{
    fa_err err = {0};
    fa_clnf *m = NULL;
    if (fa_clnf_load(tu_shared_path("models/main_clnf_general.txt"), &m, &err))
        CHECK(0, "clnf: %s", err.msg);
    return m;
}

int main(void)
{
    fa_err err = {0};
    fa_mtcnn *mtcnn = NULL;
    float *native = calloc((size_t)FRAMES * PER_FRAME, sizeof *native);
    float *portable = calloc((size_t)FRAMES * PER_FRAME, sizeof *portable);
    if (!native || !portable || fa_mtcnn_load(tu_shared_path("models/mtcnn_detector"), &mtcnn, &err)) {
        CHECK(0, "setup: %s", err.msg);
        goto done;
    }
    const char *old = getenv("FACEAU_NO_AVX2");
    char *saved = old ? strdup(old) : NULL;
    unsetenv("FACEAU_NO_AVX2");
    const unsigned cpu = fa_cpu_features();
    fa_clnf *m = load();
    int n1 = m ? track(m, mtcnn, 1, native) : 0;
    fa_clnf_free(m);
    setenv("FACEAU_NO_AVX2", "1", 1);
    CHECK(fa_cpu_features() == 0, "FACEAU_NO_AVX2=1 leaves kernels %u", fa_cpu_features());
    m = load();
    int n2 = m ? track(m, mtcnn, 1, portable) : 0;
    fa_clnf_free(m);
    if (saved)
        setenv("FACEAU_NO_AVX2", saved, 1);
    else
        unsetenv("FACEAU_NO_AVX2");
    free(saved);
    CHECK(n1 == FRAMES && n2 == FRAMES, "tracked %d and %d frames of %d", n1, n2, FRAMES);
    for (int t = 0; t < n1 && t < n2; t++)
        if (memcmp(native + (size_t)t * PER_FRAME, portable + (size_t)t * PER_FRAME,
                   PER_FRAME * sizeof *native)) {
            CHECK(0, "frame %d: AVX2 and portable landmark kernels differ", t + 1);
            break;
        }
    m = load();
    int n3 = m ? track(m, mtcnn, 3, portable) : 0;
    fa_clnf_free(m);
    CHECK(n3 == FRAMES, "tracked %d frames of %d with 3 threads", n3, FRAMES);
    for (int t = 0; t < n1 && t < n3; t++)
        if (memcmp(native + (size_t)t * PER_FRAME, portable + (size_t)t * PER_FRAME,
                   PER_FRAME * sizeof *native)) {
            CHECK(0, "frame %d: 1 and 3 threads differ", t + 1);
            break;
        }
    if (!(cpu & FA_CPU_AVX2))
        fprintf(stderr, "note: no AVX2 kernels here (CPU or build), both runs were portable\n");
done:
    fa_mtcnn_free(mtcnn);
    free(native);
    free(portable);
    return tu_done();
}
