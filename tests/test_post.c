/* test_post.c - OpenFace's offline AU post-processing and online correction, by hand. */
#include <math.h>

#include "testutil.h"

static void test_intensity(void)
{
    /* 6 frames, frame 3 failed; cutoff 0.5 of the 5 good values {0.5,1,2,3,6} sorted -> index
     * (int)(5*0.5)=2 -> offset 2. Shifted and clamped: 0, 0, 0, [fail]0, 1, 4 then smoothed
     * by 3 (first and last kept): 0, 0, 0, 1/3, 5/3, 4 */
    double v[6] = {1.0, 0.5, 2.0, 7.0, 3.0, 6.0};
    unsigned char ok[6] = {1, 1, 1, 0, 1, 1};
    CHECK(fa_post_intensity(v, ok, 6, 0.5, NULL) == FACEAU_OK, "runs");
    const double want[6] = {0, 0, 0, 1.0 / 3, 5.0 / 3, 4};
    for (int i = 0; i < 6; i++)
        CHECK(fabs(v[i] - want[i]) < 1e-12, "frame %d: %g want %g", i, v[i], want[i]);
    /* no cutoff (static model): only clamping to [0,5] and smoothing */
    double w[4] = {-1, 6, 3, 2};
    unsigned char all[4] = {1, 1, 1, 1};
    fa_post_intensity(w, all, 4, -1, NULL);
    const double want2[4] = {0, 8.0 / 3, 10.0 / 3, 2};
    for (int i = 0; i < 4; i++)
        CHECK(fabs(w[i] - want2[i]) < 1e-12, "static frame %d: %g want %g", i, w[i], want2[i]);
}

static void test_presence(void)
{
    /* 9 frames: frames 3..5 take the majority of 7 around them; 0..2 and 6..8 keep theirs */
    double v[9] = {1, 0, 1, 1, 0, 0, 1, 0, 0};
    CHECK(fa_post_presence(v, 9, NULL) == FACEAU_OK, "runs");
    /* i=3: {1,0,1,1,0,0,1} = 4/7 -> 1; i=4: {0,1,1,0,0,1,0} = 3/7 -> 0; i=5: {1,1,0,0,1,0,0} -> 0 */
    const double want[9] = {1, 0, 1, 1, 0, 0, 1, 0, 0};
    for (int i = 0; i < 9; i++)
        CHECK(v[i] == want[i], "frame %d: %g", i, v[i]);
    double u[8] = {0, 0, 0, 1, 0, 1, 1, 1}; /* i=3: 3/7 -> 0; i=4: 4/7 -> 1 */
    fa_post_presence(u, 8, NULL);
    CHECK(u[3] == 0 && u[4] == 1, "u3 %g u4 %g", u[3], u[4]);
    double s[3] = {1, 0, 1}; /* too short to smooth */
    fa_post_presence(s, 3, NULL);
    CHECK(s[1] == 0, "short sequence unchanged");
}

static void test_online(void)
{
    fa_online o;
    fa_online_reset(&o);
    double r[FA_N_AU_R];
    /* 9 updates: no correction yet, values only clipped to [0,5] */
    for (int k = 0; k < 9; k++) {
        for (int i = 0; i < FA_N_AU_R; i++)
            r[i] = 1.0 + 0.1 * k;
        fa_online_correct(&o, r, 1);
    }
    CHECK(fabs(r[0] - 1.8) < 1e-12, "before 10 frames: %g", r[0]);
    /* 10th update with 7: cutoff (int)(0.1*10) = 1; bins of 1.0 .. 1.8: (x+3)*200/8 = 100..120;
     * cumulative > 1 first at the second sample, 1.1 -> bin (4.1*25)=102.5 -> 102;
     * correction = -3 + 102*0.04 = 1.08; 7 - 1.08 = 5.92 -> clipped to 5 */
    for (int i = 0; i < FA_N_AU_R; i++)
        r[i] = 7.0;
    fa_online_correct(&o, r, 1);
    CHECK(r[0] == 5.0, "clipped: %g", r[0]);
    for (int i = 0; i < FA_N_AU_R; i++)
        r[i] = 2.0;
    fa_online_correct(&o, r, 1); /* 11 samples, cutoff 1: still bin 102 */
    CHECK(fabs(r[0] - (2.0 - (-3.0 + 102 * 0.04))) < 1e-12, "corrected: %g", r[0]);
    r[0] = 0.5;
    fa_online_correct(&o, r, 0); /* a failed frame: no correction, clipped */
    CHECK(r[0] == 0.5, "failed frame: %g", r[0]);
}

int main(void)
{
    test_intensity();
    test_presence();
    test_online();
    return tu_done();
}
