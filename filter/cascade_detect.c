// The cascade face detector: integral images of each scale, the cascade evaluated window by
// window over them (with AVX2 for LBP stumps, the default cascade's kind), the scales split over
// a thread pool, and the raw hits handed to cascade_group.c. See cascade.h for the rules.
#include "filter/cascade_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define CASCADE_AVX2 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCALES 1024 // ln(16384) / ln(1.01) < 1000
#define MAX_FRAME 16384
#define INLINE inline __attribute__((always_inline))
#define SIMD_PAD 16

DetectOptions detect_options_default(void)
{
    return (DetectOptions){.scale_factor = 1.1, .min_neighbors = 3, .min_size = 0, .max_size = 0};
}

// The integral images of a scale share the frame's row pitch S = frame width + 1, so every
// feature becomes a fixed set of offsets from the window's top-left integral entry, computed
// once per frame width ("compiled" nodes below). They are uint32 and wrap: a window's sum
// (or sum of squares) is a difference of four entries, exact modulo 2^32, and the true value
// is below 2^32 for any window up to MAX_WINDOW (256 * 256 * 255^2 < 2^32), so wrapping over
// a large frame does no harm.

// A node with its feature's offsets. In a cascade of stumps (one node per tree, the usual
// case) node i is tree i, and leaf repeats the tree's two leaves so that a stump is evaluated
// from one record.
typedef struct {
    int32_t off[HAAR_MAX_RECTS][4]; // top-left, top-right, bottom-left, bottom-right
    float weight[HAAR_MAX_RECTS];
    float threshold;
    float leaf[2]; // stumps: leaf[0] when feature < threshold
    int32_t left, right, nrects;
} HaarNode;

typedef struct {
    int32_t off[16]; // the 4x4 grid of block corners, row by row
    uint32_t subset[LBP_SUBSET_WORDS];
    float leaf[2]; // stumps: leaf[0] when the code's bit is set
    int32_t left, right;
} LbpNode;

typedef struct {
    int32_t first_node, first_leaf;
    // Reject the window as soon as the stage's running sum falls below this: the stage's
    // threshold less the most the remaining trees could still add (the threshold itself for
    // the last tree of a stage). Only ends hopeless windows early; decisions are unchanged.
    float reject_below;
} CTree;

typedef struct {
    Rect *r;
    int n, cap;
    bool oom;
    uint32_t *sum, *sq; // integral images, (scaled h + 1) rows of S
    size_t cap_int;
    uint8_t *row;   // one scaled row
    uint32_t *hrow; // two frame rows resampled horizontally
    int32_t *x0, *x1, *xa;
    int cap_w;
} Scratch;

typedef struct {
    double factor;
    int sw, sh; // scaled image
    int step;   // window step in scaled pixels
    int work;   // estimated windows, to hand out the biggest scales first
} Scale;

struct Detector {
    const Cascade *c;
    Pool *pool;
    HaarNode *hnodes;
    LbpNode *lnodes;
    CTree *trees;
    int32_t norm_off[4]; // Haar: the window less a 1-pixel border
    int64_t norm_area;
    int stride;  // S the offsets were compiled for (0: not yet)
    bool stumps; // every tree is a single node
    bool avx2;   // the CPU has AVX2 (and AGESHIFT_SIMD is not 0)
    bool simd;   // LBP stumps: the first stages 8 windows at a time with AVX2
    Scratch *scratch;
    int nscratch;
    // The frame of the current run.
    const uint8_t *src;
    int w, h, src_stride;
    Scale scales[MAX_SCALES];
    int order[MAX_SCALES];
    int nscales;
    atomic_int next_scale;
    Grouper group;
};

static void compile_nodes(Detector *d, int S)
{
    const Cascade *c = d->c;
    for (int i = 0; i < c->nnodes; i++) {
        const Node *nd = &c->nodes[i];
        if (c->type == FEAT_HAAR) {
            const HaarFeature *f = &c->haar[nd->feature];
            HaarNode *h = &d->hnodes[i];
            memset(h, 0, sizeof *h);
            h->nrects = f->nrects;
            for (int k = 0; k < f->nrects; k++) {
                int x = f->x[k], y = f->y[k], x2 = x + f->w[k], y2 = y + f->h[k];
                h->off[k][0] = y * S + x;
                h->off[k][1] = y * S + x2;
                h->off[k][2] = y2 * S + x;
                h->off[k][3] = y2 * S + x2;
                h->weight[k] = f->weight[k];
            }
            h->threshold = nd->threshold;
            h->left = nd->left;
            h->right = nd->right;
        } else {
            const LbpFeature *f = &c->lbp[nd->feature];
            LbpNode *l = &d->lnodes[i];
            for (int r = 0; r < 4; r++)
                for (int k = 0; k < 4; k++)
                    l->off[r * 4 + k] = (f->y + r * f->h) * S + f->x + k * f->w;
            memcpy(l->subset, nd->subset, sizeof l->subset);
            l->left = nd->left;
            l->right = nd->right;
        }
    }
    if (d->stumps) {
        for (int t = 0; t < c->ntrees; t++) {
            const float *leaf = c->leaves + c->trees[t].first_leaf;
            if (c->type == FEAT_HAAR) {
                HaarNode *h = &d->hnodes[t];
                h->leaf[0] = leaf[-h->left];
                h->leaf[1] = leaf[-h->right];
            } else {
                LbpNode *l = &d->lnodes[t];
                l->leaf[0] = leaf[-l->left];
                l->leaf[1] = leaf[-l->right];
            }
        }
    }
    int x2 = c->win_w - 1, y2 = c->win_h - 1;
    d->norm_off[0] = 1 * S + 1;
    d->norm_off[1] = 1 * S + x2;
    d->norm_off[2] = y2 * S + 1;
    d->norm_off[3] = y2 * S + x2;
    d->norm_area = (int64_t)(c->win_w - 2) * (c->win_h - 2);
    d->stride = S;
}

Detector *detector_create(const Cascade *c, Err *err)
{
    if (!c) {
        err_set(err, "detector_create: no cascade");
        return NULL;
    }
    Detector *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(err, "out of memory for a face detector");
        return NULL;
    }
    d->c = c;
    if (c->type == FEAT_HAAR)
        d->hnodes = calloc((size_t)c->nnodes, sizeof *d->hnodes);
    else
        d->lnodes = calloc((size_t)c->nnodes, sizeof *d->lnodes);
    d->trees = calloc((size_t)c->ntrees, sizeof *d->trees);
    if ((!d->hnodes && !d->lnodes) || !d->trees) {
        detector_free(d);
        err_set(err, "out of memory for a face detector (%d nodes)", c->nnodes);
        return NULL;
    }
    d->stumps = c->nnodes == c->ntrees;
#ifdef CASCADE_AVX2
    // AGESHIFT_SIMD=0 forces the plain C path (the tests compare the two).
    const char *env = getenv("AGESHIFT_SIMD");
    d->avx2 = __builtin_cpu_supports("avx2") && !(env && strcmp(env, "0") == 0);
    d->simd = d->avx2 && c->type == FEAT_LBP && d->stumps;
#endif
    for (int s = 0; s < c->nstages; s++) {
        const Stage *st = &c->stages[s];
        // rest = the most the trees after t can add.
        double rest = 0;
        for (int t = st->first_tree + st->ntrees - 1; t >= st->first_tree; t--) {
            const Tree *tr = &c->trees[t];
            CTree *ct = &d->trees[t];
            ct->first_node = tr->first_node;
            ct->first_leaf = tr->first_leaf;
            // A margin far above float rounding keeps the early exit conservative.
            ct->reject_below = t == st->first_tree + st->ntrees - 1
                                   ? st->threshold
                                   : (float)(st->threshold - rest - 1e-3 * (1 + fabs(rest)));
            float best = -INFINITY;
            for (int k = 0; k < tr->nleaves; k++)
                best = fmaxf(best, c->leaves[tr->first_leaf + k]);
            rest += best;
        }
    }
    return d;
}

static void scratch_free(Scratch *s)
{
    free(s->r);
    free(s->sum);
    free(s->sq);
    free(s->row);
    free(s->hrow);
    free(s->x0);
    free(s->x1);
    free(s->xa);
    memset(s, 0, sizeof *s);
}

void detector_free(Detector *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nscratch; i++)
        scratch_free(&d->scratch[i]);
    free(d->scratch);
    free(d->hnodes);
    free(d->lnodes);
    free(d->trees);
    grouper_free(&d->group);
    free(d);
}

void detector_set_pool(Detector *d, Pool *pool)
{
    if (d)
        d->pool = pool;
}

// The frame's row j resampled horizontally to sw pixels, in 8-bit fixed point (x 256).
static void resample_row(const Detector *d, const Scratch *s, int j, int sw, uint32_t *out)
{
    const uint8_t *r = d->src + (size_t)j * d->src_stride;
    const int32_t *x0 = s->x0, *x1 = s->x1, *xa = s->xa;
    for (int x = 0; x < sw; x++)
        out[x] = r[x0[x]] * (uint32_t)(256 - xa[x]) + r[x1[x]] * (uint32_t)xa[x];
}

#ifdef CASCADE_AVX2
// resample_row 8 pixels at a time: one 32-bit gather at r + x0 brings both r[x0] and
// r[x0 + 1]. Where that would read past the row's end, the plain loop finishes.
AVX2 static void resample_row_avx2(const Detector *d, const Scratch *s, int j, int sw,
                                   uint32_t *out)
{
    const uint8_t *r = d->src + (size_t)j * d->src_stride;
    const int32_t *x0 = s->x0, *x1 = s->x1, *xa = s->xa;
    const __m256i lo = _mm256_set1_epi32(0xff), full = _mm256_set1_epi32(256);
    int x = 0;
    for (; x + 8 <= sw && x0[x + 7] + 4 <= d->w; x += 8) {
        __m256i i = _mm256_loadu_si256((const __m256i *)(x0 + x));
        __m256i a = _mm256_loadu_si256((const __m256i *)(xa + x));
        __m256i v = _mm256_i32gather_epi32((const int *)r, i, 1);
        __m256i p0 = _mm256_and_si256(v, lo), p1 = _mm256_and_si256(_mm256_srli_epi32(v, 8), lo);
        __m256i h = _mm256_add_epi32(_mm256_mullo_epi32(p0, _mm256_sub_epi32(full, a)),
                                     _mm256_mullo_epi32(p1, a));
        _mm256_storeu_si256((__m256i *)(out + x), h);
    }
    for (; x < sw; x++)
        out[x] = r[x0[x]] * (uint32_t)(256 - xa[x]) + r[x1[x]] * (uint32_t)xa[x];
}
#endif

// Bilinear downscale of the frame to sw x sh fused with the integral images: sum (and, for
// Haar, sq) get sh + 1 rows of pitch S, row 0 and column 0 zero. As OpenCV 4's pyramid
// (INTER_LINEAR_EXACT): x_src = (x + 0.5) * w / sw - 0.5, clamped at the borders, 8-bit
// weights, rounded once at the end, so that rows can be resampled horizontally first and
// blended vertically after. (With these the detections on real faces match OpenCV 4.6's box
// for box; 11-bit weights moved boxes by a pixel now and then.)
static void build_scale(const Detector *d, Scratch *s, int sw, int sh, bool squares)
{
    const int W = d->w, H = d->h, S = d->stride;
    const double fx = (double)W / sw, fy = (double)H / sh;
    const bool copy = sw == W && sh == H;
    for (int x = 0; x < sw; x++) {
        double p = (x + 0.5) * fx - 0.5;
        int i = (int)floor(p);
        int a = (int)lrint((p - i) * 256);
        if (i < 0) {
            i = 0;
            a = 0;
        }
        if (i >= W - 1) {
            i = W - 1;
            a = 0;
        }
        s->x0[x] = i;
        s->x1[x] = i + 1 < W ? i + 1 : i;
        s->xa[x] = a;
    }
    // The two resampled frame rows a scaled row blends, kept for the next scaled row (which
    // often needs one of them again).
    uint32_t *hb[2] = {s->hrow, s->hrow + sw};
    int held[2] = {-1, -1};
    uint32_t *sum = s->sum, *sq = s->sq;
    memset(sum, 0, (size_t)(sw + 1) * sizeof *sum);
    if (squares)
        memset(sq, 0, (size_t)(sw + 1) * sizeof *sq);
    for (int y = 0; y < sh; y++) {
        const uint8_t *row;
        if (copy) {
            row = d->src + (size_t)y * d->src_stride;
        } else {
            double p = (y + 0.5) * fy - 0.5;
            int j = (int)floor(p);
            int b = (int)lrint((p - j) * 256);
            if (j < 0) {
                j = 0;
                b = 0;
            }
            if (j >= H - 1) {
                j = H - 1;
                b = 0;
            }
            const int need[2] = {j, j + 1 < H ? j + 1 : j};
            const uint32_t *h[2];
            for (int k = 0; k < 2; k++) {
                int slot = held[0] == need[k] ? 0 : held[1] == need[k] ? 1 : -1;
                if (slot < 0) {
                    // Fill the slot that does not hold the other row this one needs.
                    slot = k == 1 && held[0] == need[0] ? 1 : 0;
#ifdef CASCADE_AVX2
                    if (d->avx2)
                        resample_row_avx2(d, s, need[k], sw, hb[slot]);
                    else
#endif
                        resample_row(d, s, need[k], sw, hb[slot]);
                    held[slot] = need[k];
                }
                h[k] = hb[slot];
            }
            const uint32_t b1 = (uint32_t)b, b0 = 256 - b1;
            const uint32_t *h0 = h[0], *h1 = h[1];
            uint8_t *out = s->row;
#pragma omp simd
            for (int x = 0; x < sw; x++)
                out[x] = (uint8_t)((h0[x] * b0 + h1[x] * b1 + (1u << 15)) >> 16);
            row = out;
        }
        uint32_t *out = sum + (size_t)(y + 1) * S;
        const uint32_t *prev = out - S;
        uint32_t acc = 0;
        out[0] = 0;
        for (int x = 0; x < sw; x++) {
            acc += row[x];
            out[x + 1] = prev[x + 1] + acc;
        }
        if (squares) {
            uint32_t *oq = sq + (size_t)(y + 1) * S;
            const uint32_t *pq = oq - S;
            uint32_t accq = 0;
            oq[0] = 0;
            for (int x = 0; x < sw; x++) {
                accq += (uint32_t)row[x] * row[x];
                oq[x + 1] = pq[x + 1] + accq;
            }
        }
    }
}

#define BOX(p, o0, o1, o2, o3) ((p)[o0] - (p)[o1] - (p)[o2] + (p)[o3])

INLINE static float haar_value(const HaarNode *n, const uint32_t *p)
{
    float v = n->weight[0] * (float)BOX(p, n->off[0][0], n->off[0][1], n->off[0][2], n->off[0][3]) +
              n->weight[1] * (float)BOX(p, n->off[1][0], n->off[1][1], n->off[1][2], n->off[1][3]);
    if (n->nrects > 2)
        v += n->weight[2] * (float)BOX(p, n->off[2][0], n->off[2][1], n->off[2][2], n->off[2][3]);
    return v;
}

// The Haar window's normalisation: area * sum(v^2) - sum(v)^2 = area^2 * variance, exact in 64
// bits. As OpenCV 4, a window whose standard deviation is 10 grey levels or less is no face (and
// not a first-stage rejection: the next position is still looked at); otherwise *inv is
// 1 / (area * standard deviation), what the features are multiplied by.
static inline bool haar_window_scale(const Detector *d, const uint32_t *p, const uint32_t *q,
                                     float *inv)
{
    const int32_t *no = d->norm_off;
    uint32_t s = BOX(p, no[0], no[1], no[2], no[3]);
    uint32_t s2 = BOX(q, no[0], no[1], no[2], no[3]);
    int64_t nf = d->norm_area * (int64_t)s2 - (int64_t)s * (int64_t)s;
    if (nf <= 100 * d->norm_area * d->norm_area)
        return false;
    *inv = (float)(1.0 / sqrt((double)nf));
    return true;
}

// The LBP code of a 3x3 block grid: bit 7 = top-left block >= centre, then clockwise
// (top, top-right, right, bottom-right, bottom, bottom-left) down to bit 0 = left.
INLINE static int lbp_code(const uint32_t *p, const int32_t *o)
{
    // The 4x4 grid of integral entries, row by row, and the 3x3 block sums from them.
    const uint32_t g0 = p[o[0]], g1 = p[o[1]], g2 = p[o[2]], g3 = p[o[3]];
    const uint32_t g4 = p[o[4]], g5 = p[o[5]], g6 = p[o[6]], g7 = p[o[7]];
    const uint32_t g8 = p[o[8]], g9 = p[o[9]], g10 = p[o[10]], g11 = p[o[11]];
    const uint32_t g12 = p[o[12]], g13 = p[o[13]], g14 = p[o[14]], g15 = p[o[15]];
    const uint32_t c = g5 - g6 - g9 + g10;
    return (g0 - g1 - g4 + g5 >= c) << 7 | (g1 - g2 - g5 + g6 >= c) << 6 |
           (g2 - g3 - g6 + g7 >= c) << 5 | (g6 - g7 - g10 + g11 >= c) << 4 |
           (g10 - g11 - g14 + g15 >= c) << 3 | (g9 - g10 - g13 + g14 >= c) << 2 |
           (g8 - g9 - g12 + g13 >= c) << 1 | (g4 - g5 - g8 + g9 >= c);
}

INLINE static bool lbp_bit(const LbpNode *n, const uint32_t *p)
{
    int code = lbp_code(p, n->off);
    return (n->subset[code >> 5] >> (code & 31)) & 1;
}

// What tree t adds to its stage's sum for the window at p (inv: the Haar window's
// normalisation; LBP has none). One function per feature type and tree shape; run_stages takes
// it as a parameter and, always inlined with a constant one, still compiles to a loop of its
// own for each of the four.
typedef float (*TreeValue)(const Detector *d, int t, const uint32_t *p, float inv);

INLINE static float haar_tree(const Detector *d, int t, const uint32_t *p, float inv)
{
    const HaarNode *tn = d->hnodes + d->trees[t].first_node;
    int idx = 0;
    do {
        const HaarNode *n = tn + idx;
        idx = haar_value(n, p) * inv < n->threshold ? n->left : n->right;
    } while (idx > 0);
    return d->c->leaves[d->trees[t].first_leaf - idx];
}

INLINE static float haar_stump(const Detector *d, int t, const uint32_t *p, float inv)
{
    const HaarNode *n = d->hnodes + t;
    return n->leaf[haar_value(n, p) * inv >= n->threshold];
}

INLINE static float lbp_tree(const Detector *d, int t, const uint32_t *p, float inv)
{
    (void)inv;
    const LbpNode *tn = d->lnodes + d->trees[t].first_node;
    int idx = 0;
    do {
        const LbpNode *n = tn + idx;
        idx = lbp_bit(n, p) ? n->left : n->right;
    } while (idx > 0);
    return d->c->leaves[d->trees[t].first_leaf - idx];
}

INLINE static float lbp_stump(const Detector *d, int t, const uint32_t *p, float inv)
{
    (void)inv;
    const LbpNode *n = d->lnodes + t;
    return n->leaf[lbp_bit(n, p) ^ 1];
}

// The stages from first_stage on, for the window at p: 1 when all pass, 0 when the first
// stage rejects it, -1 when a later one does. A stage's running sum is checked against each
// tree's bound, so a hopeless window ends early.
INLINE static int run_stages(const Detector *d, const uint32_t *p, float inv, int first_stage,
                             TreeValue value)
{
    const Cascade *c = d->c;
    for (int si = first_stage; si < c->nstages; si++) {
        const Stage *st = &c->stages[si];
        float sum = 0;
        for (int t = st->first_tree, te = t + st->ntrees; t < te; t++) {
            sum += value(d, t, p, inv);
            if (sum < d->trees[t].reject_below)
                return si == 0 ? 0 : -1;
        }
    }
    return 1;
}

// One window at p (q: its squares' integral, Haar only), as run_stages; a Haar window too
// flat to hold a face is -1 (no face, but not a first-stage rejection).
static inline int eval_window(const Detector *d, const uint32_t *p, const uint32_t *q)
{
    if (d->c->type == FEAT_LBP)
        return d->stumps ? run_stages(d, p, 0, 0, lbp_stump) : run_stages(d, p, 0, 0, lbp_tree);
    float inv;
    if (!haar_window_scale(d, p, q, &inv))
        return -1;
    return d->stumps ? run_stages(d, p, inv, 0, haar_stump) : run_stages(d, p, inv, 0, haar_tree);
}

static void add_hit(Scratch *s, Rect r)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 1024;
        Rect *p = realloc(s->r, (size_t)cap * sizeof *p);
        if (!p) {
            s->oom = true;
            return;
        }
        s->r = p;
        s->cap = cap;
    }
    s->r[s->n++] = r;
}

#ifdef CASCADE_AVX2
// LBP stumps on AVX2: windows x0 .. x0 + 7 of a row side by side. A stage costs about what
// one window costs in plain C, and windows next to each other read neighbouring integral
// entries, so the first stages, which every window or most windows go through, run this way;
// the few windows still alive after SIMD_STAGES stages finish in plain C. Decisions are those
// of run_stages with lbp_stump: the same float sums in the same order, compared with the same
// thresholds.
#define SIMD_STAGES 5

// The codes of one LBP feature for 8 windows (see lbp_code).
AVX2 INLINE static __m256i lbp_code8(const uint32_t *p, const int32_t *o)
{
#define LD(k) _mm256_loadu_si256((const __m256i *)(p + o[k]))
#define SUB(a, b) _mm256_sub_epi32(a, b)
    // Differences along the grid rows, then the block sums (true values < 2^31, so signed
    // compares are right).
    __m256i g0 = LD(0), g1 = LD(1), g2 = LD(2), g3 = LD(3);
    __m256i h00 = SUB(g0, g1), h01 = SUB(g1, g2), h02 = SUB(g2, g3);
    g0 = LD(4), g1 = LD(5), g2 = LD(6), g3 = LD(7);
    __m256i h10 = SUB(g0, g1), h11 = SUB(g1, g2), h12 = SUB(g2, g3);
    g0 = LD(8), g1 = LD(9), g2 = LD(10), g3 = LD(11);
    __m256i h20 = SUB(g0, g1), h21 = SUB(g1, g2), h22 = SUB(g2, g3);
    g0 = LD(12), g1 = LD(13), g2 = LD(14), g3 = LD(15);
    __m256i h30 = SUB(g0, g1), h31 = SUB(g1, g2), h32 = SUB(g2, g3);
    const __m256i c = SUB(h11, h21);
#define BIT(b, v) _mm256_andnot_si256(_mm256_cmpgt_epi32(c, b), _mm256_set1_epi32(v))
    __m256i code = _mm256_or_si256(BIT(SUB(h00, h10), 128), BIT(SUB(h01, h11), 64));
    code = _mm256_or_si256(code, BIT(SUB(h02, h12), 32));
    code = _mm256_or_si256(code, BIT(SUB(h12, h22), 16));
    code = _mm256_or_si256(code, BIT(SUB(h22, h32), 8));
    code = _mm256_or_si256(code, BIT(SUB(h21, h31), 4));
    code = _mm256_or_si256(code, BIT(SUB(h20, h30), 2));
    return _mm256_or_si256(code, BIT(SUB(h10, h20), 1));
#undef BIT
#undef SUB
#undef LD
}

// Stage si for windows p .. p + 7: a mask of those whose sum reaches the threshold.
AVX2 INLINE static int lbp_stage8(const Detector *d, const uint32_t *p, int si)
{
    const Stage *st = &d->c->stages[si];
    const LbpNode *n = d->lnodes + st->first_tree;
    __m256 sum = _mm256_setzero_ps();
    for (int t = 0; t < st->ntrees; t++, n++) {
        __m256i code = lbp_code8(p, n->off);
        __m256i word = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)n->subset),
                                                   _mm256_srli_epi32(code, 5));
        __m256i bit = _mm256_srlv_epi32(word, _mm256_and_si256(code, _mm256_set1_epi32(31)));
        __m256i set = _mm256_slli_epi32(bit, 31); // the bit into the sign, for blendv
        sum = _mm256_add_ps(sum, _mm256_blendv_ps(_mm256_broadcast_ss(&n->leaf[1]),
                                                  _mm256_broadcast_ss(&n->leaf[0]),
                                                  _mm256_castsi256_ps(set)));
    }
    return _mm256_movemask_ps(_mm256_cmp_ps(sum, _mm256_set1_ps(st->threshold), _CMP_GE_OQ));
}

// One row of windows (prow: the integral entries of the row's first window), as scan_scale's
// loop does it: positions 0, step, 2 step ..., skipping one more after a first-stage
// rejection.
AVX2 static void scan_row_lbp_avx2(const Detector *d, Scratch *s, const uint32_t *prow, int nx,
                                   int step, int y, double f, int bw, int bh)
{
    const int nstages = d->c->nstages, nsimd = nstages < SIMD_STAGES ? nstages : SIMD_STAGES;
    int next = 0; // the next position the scan looks at
    for (int x0 = 0; x0 < nx; x0 += 8) {
        if (next >= x0 + 8)
            continue;
        const int pass0 = lbp_stage8(d, prow + x0, 0);
        int alive = 0;
        for (; next < x0 + 8 && next < nx; next += step) {
            if (pass0 >> (next - x0) & 1)
                alive |= 1 << (next - x0);
            else
                next += step;
        }
        for (int si = 1; si < nsimd && alive; si++)
            alive &= lbp_stage8(d, prow + x0, si);
        while (alive) {
            int x = x0 + __builtin_ctz((unsigned)alive);
            alive &= alive - 1;
            if (nsimd == nstages || run_stages(d, prow + x, 0, nsimd, lbp_stump) > 0)
                add_hit(s, (Rect){(int)lrint(x * f), (int)lrint(y * f), bw, bh});
        }
    }
}
#endif

static void scan_scale(const Detector *d, Scratch *s, const Scale *sc)
{
    const Cascade *c = d->c;
    const bool haar = c->type == FEAT_HAAR;
    build_scale(d, s, sc->sw, sc->sh, haar);
    const int nx = sc->sw - c->win_w + 1, ny = sc->sh - c->win_h + 1;
    const int step = sc->step;
    const double f = sc->factor;
    const int bw = (int)lrint(c->win_w * f), bh = (int)lrint(c->win_h * f);
    const int S = d->stride;
    for (int y = 0; y < ny; y += step) {
        const uint32_t *prow = s->sum + (size_t)y * S;
        const uint32_t *qrow = haar ? s->sq + (size_t)y * S : NULL;
#ifdef CASCADE_AVX2
        if (d->simd) {
            scan_row_lbp_avx2(d, s, prow, nx, step, y, f, bw, bh);
            continue;
        }
#endif
        for (int x = 0; x < nx; x += step) {
            int r = eval_window(d, prow + x, haar ? qrow + x : NULL);
            if (r > 0)
                add_hit(s, (Rect){(int)lrint(x * f), (int)lrint(y * f), bw, bh});
            else if (r == 0)
                x += step;
        }
    }
}

static void scan_job(void *ctx, int t, int n)
{
    (void)n;
    Detector *d = ctx;
    Scratch *s = &d->scratch[t];
    for (;;) {
        int k = atomic_fetch_add_explicit(&d->next_scale, 1, memory_order_relaxed);
        if (k >= d->nscales)
            break;
        scan_scale(d, s, &d->scales[d->order[k]]);
    }
}

// Buffers for an nthreads run over a w x h frame.
static int ensure_buffers(Detector *d, int w, int h, int nthreads, Err *err)
{
    if (d->nscratch < nthreads) {
        Scratch *p = realloc(d->scratch, (size_t)nthreads * sizeof *p);
        if (!p)
            return err_set(err, "out of memory for face detection scratch");
        memset(p + d->nscratch, 0, (size_t)(nthreads - d->nscratch) * sizeof *p);
        d->scratch = p;
        d->nscratch = nthreads;
    }
    const int S = w + 1;
    // + SIMD_PAD: the AVX2 code reads up to 7 entries past a row's last window.
    const size_t nint = (size_t)S * (size_t)(h + 1) + SIMD_PAD;
    const bool haar = d->c->type == FEAT_HAAR;
    for (int i = 0; i < nthreads; i++) {
        Scratch *s = &d->scratch[i];
        if (s->cap_int < nint) {
            free(s->sum);
            free(s->sq);
            // Zeroed once: whatever the AVX2 code reads past a scaled image is initialised.
            s->sum = calloc(nint, sizeof *s->sum);
            s->sq = haar ? calloc(nint, sizeof *s->sq) : NULL;
            s->cap_int = s->sum && (s->sq || !haar) ? nint : 0;
            if (!s->cap_int)
                return err_set(err, "out of memory for the integral images of a %dx%d frame", w, h);
        }
        if (s->cap_w < w) {
            free(s->row);
            free(s->hrow);
            free(s->x0);
            free(s->x1);
            free(s->xa);
            s->row = malloc((size_t)w);
            s->hrow = malloc(2 * (size_t)w * sizeof *s->hrow);
            s->x0 = malloc((size_t)w * sizeof *s->x0);
            s->x1 = malloc((size_t)w * sizeof *s->x1);
            s->xa = malloc((size_t)w * sizeof *s->xa);
            s->cap_w = s->row && s->hrow && s->x0 && s->x1 && s->xa ? w : 0;
            if (!s->cap_w)
                return err_set(err, "out of memory for a %d-pixel row", w);
        }
    }
    if (d->stride != S)
        compile_nodes(d, S);
    return 0;
}

int detector_run(Detector *d, const uint8_t *gray, int w, int h, int stride, const DetectOptions *o,
                 FaceBox *boxes, int max_boxes, Err *err)
{
    if (!d)
        return err_set(err, "detector_run: no detector");
    DetectOptions def = detect_options_default();
    if (!o)
        o = &def;
    if (!gray || w < 1 || h < 1 || w > MAX_FRAME || h > MAX_FRAME || stride < w)
        return err_set(err,
                       "detector_run: bad frame (%p, %dx%d, stride %d): need 1..%d pixels a side "
                       "and stride >= width",
                       (const void *)gray, w, h, stride, MAX_FRAME);
    if (!(o->scale_factor >= 1.01 && o->scale_factor <= 4))
        return err_set(err, "detector_run: scale_factor %g is outside [1.01, 4]", o->scale_factor);
    if (o->min_neighbors < 0 || o->min_size < 0 || o->max_size < 0)
        return err_set(err, "detector_run: min_neighbors %d, min_size %d, max_size %d must be >= 0",
                       o->min_neighbors, o->min_size, o->max_size);
    if (max_boxes < 0 || (max_boxes > 0 && !boxes))
        return err_set(err, "detector_run: no room for boxes (%p, %d)", (void *)boxes, max_boxes);
    const Cascade *c = d->c;
    const int nthreads = pool_threads(d->pool);
    if (ensure_buffers(d, w, h, nthreads, err) < 0)
        return -1;
    d->src = gray;
    d->w = w;
    d->h = h;
    d->src_stride = stride;

    // The scales, as OpenCV: window sizes below min_size are skipped; the list ends past
    // max_size or when the scaled frame gets smaller than the window.
    const int max_size = o->max_size > 0 ? o->max_size : (w > h ? w : h);
    d->nscales = 0;
    for (double f = 1; d->nscales < MAX_SCALES; f *= o->scale_factor) {
        int bw = (int)lrint(c->win_w * f), bh = (int)lrint(c->win_h * f);
        int sw = (int)lrint(w / f), sh = (int)lrint(h / f);
        if (sw < c->win_w || sh < c->win_h || bw > max_size || bh > max_size)
            break;
        if (bw < o->min_size || bh < o->min_size)
            continue;
        // OpenCV's step: 2 scaled pixels up to factor 2, then 1 (so 2..4 frame pixels, then
        // about factor). Keeping step 2 beyond factor 2 for the 45-px LBP window halves its time
        // but found 91.6% of the training faces instead of 97.8% (fewer raw hits to group).
        int step = f > 2 ? 1 : 2;
        int nx = (sw - c->win_w) / step + 1, ny = (sh - c->win_h) / step + 1;
        d->scales[d->nscales] = (Scale){f, sw, sh, step, nx * ny};
        d->order[d->nscales] = d->nscales;
        d->nscales++;
    }
    // Biggest first, so that the threads finish together.
    for (int i = 1; i < d->nscales; i++) {
        int k = d->order[i], j = i;
        while (j > 0 && d->scales[d->order[j - 1]].work < d->scales[k].work) {
            d->order[j] = d->order[j - 1];
            j--;
        }
        d->order[j] = k;
    }
    for (int i = 0; i < nthreads; i++) {
        d->scratch[i].n = 0;
        d->scratch[i].oom = false;
    }
    atomic_store(&d->next_scale, 0);
    pool_run(d->pool, scan_job, d);

    int n = 0;
    for (int i = 0; i < nthreads; i++) {
        if (d->scratch[i].oom)
            return err_set(err, "out of memory for face candidates");
        n += d->scratch[i].n;
    }
    if (grouper_reserve(&d->group, n, err) < 0)
        return -1;
    n = 0;
    for (int i = 0; i < nthreads; i++) {
        if (d->scratch[i].n > 0)
            memcpy(d->group.all + n, d->scratch[i].r, (size_t)d->scratch[i].n * sizeof(Rect));
        n += d->scratch[i].n;
    }
    return grouper_run(&d->group, n, o->min_neighbors, w, h, boxes, max_boxes);
}
