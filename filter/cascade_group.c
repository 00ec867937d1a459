// Grouping the raw hits of a detection into face boxes, as OpenCV's cv::groupRectangles.
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "filter/cascade_internal.h"

#define GROUP_EPS 0.2

struct Cluster {
    int64_t x, y, w, h; // sums over the members
    int n;
    Rect r; // the mean box
};

int grouper_reserve(Grouper *g, int n, Err *err)
{
    if (n <= g->cap)
        return 0;
    int cap = g->cap ? g->cap : 1024;
    while (cap < n)
        cap *= 2;
    grouper_free(g);
    g->all = malloc((size_t)cap * sizeof *g->all);
    g->parent = malloc((size_t)cap * sizeof *g->parent);
    g->label = malloc((size_t)cap * sizeof *g->label);
    g->cl = malloc((size_t)cap * sizeof *g->cl);
    g->cap = g->all && g->parent && g->label && g->cl ? cap : 0;
    if (!g->cap)
        return err_set(err, "out of memory grouping %d face candidates", n);
    return 0;
}

void grouper_free(Grouper *g)
{
    free(g->all);
    free(g->parent);
    free(g->label);
    free(g->cl);
    *g = (Grouper){0};
}

static int find_root(int *parent, int i)
{
    int r = i;
    while (parent[r] != r)
        r = parent[r];
    while (parent[i] != r) {
        int next = parent[i];
        parent[i] = r;
        i = next;
    }
    return r;
}

static bool similar(const Rect *a, const Rect *b, double eps)
{
    double delta = eps * (fmin(a->w, b->w) + fmin(a->h, b->h)) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta &&
           abs(a->x + a->w - b->x - b->w) <= delta && abs(a->y + a->h - b->y - b->h) <= delta;
}

// Orders by width, then y, then x: a total order on distinct rectangles.
static bool rect_less(const Rect *a, const Rect *b)
{
    if (a->w != b->w)
        return a->w < b->w;
    if (a->h != b->h)
        return a->h < b->h;
    if (a->y != b->y)
        return a->y < b->y;
    return a->x < b->x;
}

static void sift_down(Rect *r, int i, int n)
{
    for (;;) {
        int m = i, l = 2 * i + 1, k = l + 1;
        if (l < n && rect_less(&r[m], &r[l]))
            m = l;
        if (k < n && rect_less(&r[m], &r[k]))
            m = k;
        if (m == i)
            return;
        Rect t = r[i];
        r[i] = r[m];
        r[m] = t;
        i = m;
    }
}

static void sort_rects(Rect *r, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(r, i, n);
    for (int e = n - 1; e > 0; e--) {
        Rect t = r[0];
        r[0] = r[e];
        r[e] = t;
        sift_down(r, 0, e);
    }
}

static bool box_before(const FaceBox *a, const FaceBox *b)
{
    long aa = (long)a->w * a->h, ba = (long)b->w * b->h;
    if (aa != ba)
        return aa > ba;
    if (a->neighbors != b->neighbors)
        return a->neighbors > b->neighbors;
    if (a->y != b->y)
        return a->y < b->y;
    return a->x < b->x;
}

// Clips b to the w x h frame (as OpenCV does with its final boxes) and keeps the max_boxes
// first boxes in box_before order (insertion into a sorted prefix).
static int offer_box(FaceBox *boxes, int n, int max_boxes, FaceBox b, int w, int h)
{
    int x2 = b.x + b.w < w ? b.x + b.w : w, y2 = b.y + b.h < h ? b.y + b.h : h;
    b.x = b.x > 0 ? b.x : 0;
    b.y = b.y > 0 ? b.y : 0;
    b.w = x2 - b.x;
    b.h = y2 - b.y;
    if (max_boxes <= 0 || b.w <= 0 || b.h <= 0)
        return n;
    if (n == max_boxes) {
        if (!box_before(&b, &boxes[n - 1]))
            return n;
        n--;
    }
    int i = n;
    while (i > 0 && box_before(&b, &boxes[i - 1])) {
        boxes[i] = boxes[i - 1];
        i--;
    }
    boxes[i] = b;
    return n + 1;
}

int grouper_run(Grouper *g, int n, int min_neighbors, int w, int h, FaceBox *boxes, int max_boxes)
{
    Rect *r = g->all;
    // Sorted, so that the result does not depend on the order the threads found the hits in.
    sort_rects(r, n);
    int nout = 0;
    if (min_neighbors <= 0) {
        for (int i = 0; i < n; i++)
            nout = offer_box(boxes, nout, max_boxes, (FaceBox){r[i].x, r[i].y, r[i].w, r[i].h, 1},
                             w, h);
        return nout;
    }
    int *parent = g->parent, *label = g->label;
    for (int i = 0; i < n; i++)
        parent[i] = i;
    for (int i = 0; i < n; i++) {
        // Similar rectangles differ in width by at most eps * (w + h) of the narrower one.
        double reach = GROUP_EPS * (r[i].w + r[i].h);
        for (int j = i + 1; j < n && r[j].w - r[i].w <= reach; j++) {
            if (!similar(&r[i], &r[j], GROUP_EPS))
                continue;
            int a = find_root(parent, i), b = find_root(parent, j);
            if (a != b)
                parent[b > a ? b : a] = b > a ? a : b;
        }
    }
    int ncl = 0;
    for (int i = 0; i < n; i++) {
        int root = find_root(parent, i);
        if (root == i) {
            label[i] = ncl;
            g->cl[ncl++] = (Cluster){0};
        }
        Cluster *k = &g->cl[label[root]];
        k->x += r[i].x;
        k->y += r[i].y;
        k->w += r[i].w;
        k->h += r[i].h;
        k->n++;
    }
    Cluster *cl = g->cl;
    // The mean box, rounded as OpenCV does it (sum times a float reciprocal).
    for (int i = 0; i < ncl; i++) {
        float s = 1.0f / (float)cl[i].n;
        cl[i].r = (Rect){(int)lrintf((float)cl[i].x * s), (int)lrintf((float)cl[i].y * s),
                         (int)lrintf((float)cl[i].w * s), (int)lrintf((float)cl[i].h * s)};
    }
    for (int i = 0; i < ncl; i++) {
        int n1 = cl[i].n;
        if (n1 <= min_neighbors)
            continue;
        const Rect *r1 = &cl[i].r;
        // Drop a box inside a larger (or as large) one that has more support.
        bool inside = false;
        for (int j = 0; j < ncl && !inside; j++) {
            int n2 = cl[j].n;
            if (j == i || n2 <= min_neighbors)
                continue;
            const Rect *r2 = &cl[j].r;
            int dx = (int)lrint(r2->w * GROUP_EPS), dy = (int)lrint(r2->h * GROUP_EPS);
            inside = r1->x >= r2->x - dx && r1->y >= r2->y - dy &&
                     r1->x + r1->w <= r2->x + r2->w + dx && r1->y + r1->h <= r2->y + r2->h + dy &&
                     (n2 > (n1 > 3 ? n1 : 3) || n1 < 3);
        }
        if (!inside)
            nout =
                offer_box(boxes, nout, max_boxes, (FaceBox){r1->x, r1->y, r1->w, r1->h, n1}, w, h);
    }
    return nout;
}
