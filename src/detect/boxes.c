/* boxes.c - MTCNN's box arithmetic as OpenFace writes it: the pyramid scales, cv::Rect rounding,
 * non_maximum_supression, apply_correction, rectify, the final correction and the choice of a
 * single face. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_steps.h"

/* ---- boxes, NMS, pyramid ------------------------------------------------------------------ */

typedef struct irect {
    long x, y, w, h;
} irect;

/* cv::Rect(Rect_<float>): each field rounded on its own. */
static irect to_rect(const faceau_box *b)
{
    irect r = {fa_cv_round(b->x), fa_cv_round(b->y), fa_cv_round(b->width), fa_cv_round(b->height)};
    return r;
}

/* OpenFace's overlap test: (rect1 & rect2).area() over the union, or the smaller area. */
static int overlaps(irect a, irect b, float thr, int use_min)
{
    long inter = 0;
    if (a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0) {
        long x1 = a.x > b.x ? a.x : b.x, y1 = a.y > b.y ? a.y : b.y;
        long x2 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
        long y2 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
        if (x2 > x1 && y2 > y1)
            inter = (x2 - x1) * (y2 - y1);
    }
    float fi = (float)inter;
    /* Sides are ints (cvRound gives INT_MIN out of range), so each area fits in 63 bits; their
     * sum is taken in double, exact below 2^53, to stay defined for absurd boxes. */
    long aa = a.w * a.h, ab = b.w * b.h;
    float u = use_min ? (float)(aa < ab ? aa : ab) : (float)((double)aa + (double)ab) - fi;
    if (u == 0.0f)
        return fi > 0.0f; /* x/0 is +inf (> thr); 0/0 is NaN (not > thr) */
    return fi / u > thr;
}

static float sort_key(float s) { return s == s ? s : -INFINITY; }

/* Ascending by score, equal scores in index order: the order of OpenFace's std::multimap. */
static int before(const faceau_box *b, int i, int j)
{
    float si = sort_key(b[i].confidence), sj = sort_key(b[j].confidence);
    return si < sj || (si == sj && i < j);
}

static void merge_sort(const faceau_box *b, int *v, int *tmp, int n)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = before(b, v[j], v[i]) ? v[j++] : v[i++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
}

int fa_mtcnn_nms(const faceau_box *b, int n, float thr, int use_min, int *keep, int *scratch)
{
    int *order = scratch, *alive = scratch + n;
    for (int i = 0; i < n; i++)
        order[i] = i;
    merge_sort(b, order, alive, n);
    for (int i = 0; i < n; i++)
        alive[i] = 1;
    int nk = 0;
    for (int oi = n - 1; oi >= 0; oi--) {
        if (!alive[oi])
            continue;
        int cur = order[oi];
        irect r1 = to_rect(&b[cur]);
        keep[nk++] = cur;
        for (int oj = 0; oj < oi; oj++)
            if (alive[oj] && overlaps(r1, to_rect(&b[order[oj]]), thr, use_min))
                alive[oj] = 0;
    }
    return nk;
}

void fa_mtcnn_correct(faceau_box *b, const float corr[4], int add1)
{
    irect r = to_rect(b);
    if (add1)
        r.w++, r.h++;
    float x1 = (float)r.x + corr[0] * (float)r.w;
    float y1 = (float)r.y + corr[1] * (float)r.h;
    float x2 = (float)(r.x + r.w) + (float)r.w * corr[2];
    float y2 = (float)(r.y + r.h) + (float)r.h * corr[3];
    b->x = x1, b->y = y1, b->width = x2 - x1, b->height = y2 - y1;
}

void fa_mtcnn_rectify(faceau_box *b)
{
    float h = b->height, w = b->width, side = w < h ? h : w;
    float nx = (float)((double)b->x + 0.5 * (double)(w - side));
    float ny = (float)((double)b->y + 0.5 * (double)(h - side));
    b->x = (float)fa_mtcnn_trunc(nx);
    b->y = (float)fa_mtcnn_trunc(ny);
    b->width = b->height = (float)fa_mtcnn_trunc(side);
}

void fa_mtcnn_final(faceau_box *b)
{
    b->x = (float)((double)b->width * -0.0075 + (double)b->x);
    b->y = (float)((double)b->height * 0.2459 + (double)b->y);
    b->width = (float)(1.0323 * (double)b->width);
    b->height = (float)(0.7751 * (double)b->height);
}

int fa_mtcnn_scales(int width, int height, int min_face, double *scales, int *lw, int *lh, int max)
{
    int min_dim = width < height ? width : height;
    if (min_dim <= 0 || min_face <= 0)
        return 0;
    int n = (int)floor(log((double)min_face / (double)min_dim) / log(0.709)) + 1;
    for (int i = 0; i < n && i < max; i++) {
        double s = (12.0 / (double)min_face) * pow(0.709, (double)i);
        if (scales)
            scales[i] = s;
        if (lw)
            lw[i] = (int)ceil(width * s);
        if (lh)
            lh[i] = (int)ceil(height * s);
    }
    return n;
}

int fa_mtcnn_pick_single(const faceau_box *boxes, int n, int pref_x, int pref_y)
{
    if (n <= 0)
        return -1;
    int use_pref = pref_x != -1 && pref_y != -1, best = 0;
    float best_v = 0;
    for (int i = 0; i < n; i++) {
        const faceau_box *b = &boxes[i];
        float v;
        if (use_pref) {
            /* int - float in float, sqrt of a float: as OpenFace's expression evaluates. */
            float dx = (float)pref_x - (b->width / 2 + b->x), dy = (float)pref_y - (b->height / 2 + b->y);
            v = sqrtf(dx * dx + dy * dy);
        } else {
            v = b->width;
        }
        if (i == 0 || (use_pref ? v < best_v : v > best_v))
            best_v = v, best = i;
    }
    return best;
}
