// Reading dlib's serialised shape_predictor (see landmarks.h for the layout) into a
// LandmarkModel, checking every count against the bytes left before allocating, and every index
// against what it indexes, so that prediction needs no checks.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter/landmarks_internal.h"

// Limits far above dlib's models (15 cascades of 500 depth-4 trees over 400 feature points)
// that keep every product below overflow.
#define MAX_CASCADES 256
#define MAX_TREES 100000
#define MAX_SPLITS 4095 // depth 12
#define MAX_FEATURES 65535
// Shapes and offsets are in units of the box (dlib's are within +-1.1): a value beyond this is
// corrupt, and the bound keeps every sum of them finite.
#define MAX_SHAPE_VALUE 16.0f
// Every serialised float takes at least 4 bytes (two integers of a control byte and >= 1 byte).
#define MIN_FLOAT_BYTES 4

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    const char *name;
    Err *err;
} Reader;

static int bad(Reader *r, const char *what)
{
    return err_set(r->err, "%s: not a dlib shape predictor: %s at byte %zu", r->name, what, r->pos);
}

// dlib's integers: a control byte (bits 0-3 the byte count n, bit 7 the sign for signed types),
// then n bytes, least significant first. `bytes` is the size of the C++ type written.
static int read_int(Reader *r, bool is_signed, int bytes, int64_t *out, const char *what)
{
    if (r->pos >= r->size)
        return bad(r, "the file is truncated");
    uint8_t ctrl = r->data[r->pos];
    bool neg = is_signed && (ctrl & 0x80);
    int n = is_signed ? ctrl & 0x0F : ctrl & 0x8F;
    if (n == 0 || n > bytes)
        return bad(r, what);
    if (r->size - r->pos - 1 < (size_t)n)
        return bad(r, "the file is truncated");
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | r->data[r->pos + 1 + (size_t)i];
    if (v > (uint64_t)INT64_MAX) // no count or index of a model comes near this
        return bad(r, what);
    r->pos += 1 + (size_t)n;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

// An unsigned long that counts or indexes something, at most max.
static int read_count(Reader *r, int64_t max, int64_t *out, const char *what)
{
    if (read_int(r, false, 8, out, what))
        return -1;
    if (*out > max)
        return bad(r, what);
    return 0;
}

// dlib's floats: an int64 mantissa and an int16 exponent, the value mantissa * 2^exponent
// (computed as dlib does: the mantissa rounded to float first). Infinities and NaN (exponents
// 32000..32002) and values beyond float's range are refused: no model needs them.
static int read_float(Reader *r, float *out, const char *what)
{
    int64_t mantissa = 0, exponent = 0;
    if (r->pos < r->size && (r->data[r->pos] & 0x70))
        return bad(r, "a float in dlib's old text format");
    if (read_int(r, true, 8, &mantissa, what) || read_int(r, true, 2, &exponent, what))
        return -1;
    float v = exponent < 32000 ? ldexpf((float)mantissa, (int)exponent) : NAN;
    if (!isfinite(v))
        return bad(r, "a value that is not a finite number");
    *out = v;
    return 0;
}

// Room for n more floats (or anything else at least MIN_FLOAT_BYTES long).
static int need_floats(Reader *r, int64_t n, const char *what)
{
    if (n > (int64_t)((r->size - r->pos) / MIN_FLOAT_BYTES))
        return bad(r, what);
    return 0;
}

// A float in units of the box.
static int read_shape_value(Reader *r, float *out, const char *what)
{
    if (read_float(r, out, what))
        return -1;
    if (!(fabsf(*out) <= MAX_SHAPE_VALUE))
        return bad(r, "a shape value beyond 16 box sizes");
    return 0;
}

// A column vector matrix<float, 0, 1> of exactly n elements (dlib writes -rows, -columns) of
// shape values.
static int read_column(Reader *r, int64_t n, float *out, const char *what)
{
    int64_t rows, cols;
    if (read_int(r, true, 8, &rows, what) || read_int(r, true, 8, &cols, what))
        return -1;
    if (rows < 0)
        rows = -rows;
    if (cols < 0)
        cols = -cols;
    if (rows != n || cols != 1)
        return bad(r, what);
    for (int64_t i = 0; i < n; i++)
        if (read_shape_value(r, &out[i], what))
            return -1;
    return 0;
}

// A length of a vector that must match one read before (expect >= 0), or any up to max.
static int read_length(Reader *r, int64_t expect, int64_t max, int64_t *out, const char *what)
{
    if (read_count(r, max, out, what))
        return -1;
    if ((expect >= 0 && *out != expect) || *out == 0)
        return bad(r, what);
    return 0;
}

static int read_tree(Reader *r, LandmarkModel *m, size_t tree, bool first)
{
    int64_t splits, leaves, v;
    if (read_length(r, first ? -1 : m->splits, MAX_SPLITS, &splits, "a tree with another depth"))
        return -1;
    if (first) {
        // A full binary tree: 2^depth - 1 splits.
        if ((splits & (splits + 1)) != 0)
            return bad(r, "a tree that is not a full binary tree");
        int64_t cells = (int64_t)m->cascades * m->trees;
        if (need_floats(r, cells * (splits + (splits + 1) * 2 * m->points),
                        "deeper trees than the file holds (truncated?)"))
            return -1;
        m->splits = (int)splits;
        m->split =
            malloc((size_t)m->cascades * (size_t)m->trees * (size_t)splits * sizeof *m->split);
        m->leaf = malloc((size_t)m->cascades * (size_t)m->trees * (size_t)(splits + 1) *
                         (size_t)(2 * m->points) * sizeof *m->leaf);
        if (!m->split || !m->leaf)
            return err_set(r->err, "%s: out of memory for the landmark model", r->name);
    }
    LandmarkSplit *sp = m->split + tree * (size_t)m->splits;
    for (int i = 0; i < m->splits; i++) {
        if (read_count(r, MAX_FEATURES, &v, "a split's feature index"))
            return -1;
        sp[i].a = (uint16_t)v;
        if (read_count(r, MAX_FEATURES, &v, "a split's feature index"))
            return -1;
        sp[i].b = (uint16_t)v;
        if (read_float(r, &sp[i].thresh, "a split's threshold"))
            return -1;
    }
    if (read_length(r, m->splits + 1, MAX_SPLITS + 1, &leaves, "a tree with leaves != splits + 1"))
        return -1;
    size_t len = 2 * (size_t)m->points;
    float *leaf = m->leaf + tree * (size_t)(m->splits + 1) * len;
    for (int64_t i = 0; i < leaves; i++)
        if (read_column(r, (int64_t)len, leaf + (size_t)i * len, "a leaf of the wrong length"))
            return -1;
    return 0;
}

static int read_forests(Reader *r, LandmarkModel *m)
{
    int64_t cascades, trees;
    if (read_length(r, -1, MAX_CASCADES, &cascades, "the number of cascades"))
        return -1;
    m->cascades = (int)cascades;
    for (int c = 0; c < m->cascades; c++) {
        if (read_length(r, c ? m->trees : -1, MAX_TREES, &trees,
                        c ? "cascades with different numbers of trees" : "the number of trees"))
            return -1;
        if (c == 0) {
            // Each tree holds at least one split (a threshold) and two leaves of 2P floats.
            if (need_floats(r, cascades * trees * (1 + 2 * 2 * (int64_t)m->points),
                            "more trees than the file holds (truncated?)"))
                return -1;
            m->trees = (int)trees;
        }
        for (int t = 0; t < m->trees; t++)
            if (read_tree(r, m, (size_t)c * (size_t)m->trees + (size_t)t, c == 0 && t == 0))
                return -1;
    }
    return 0;
}

static int read_anchors(Reader *r, LandmarkModel *m)
{
    int64_t n, features, v;
    if (read_length(r, m->cascades, MAX_CASCADES, &n, "anchors for another number of cascades"))
        return -1;
    for (int c = 0; c < m->cascades; c++) {
        if (read_length(r, c ? m->features : -1, MAX_FEATURES, &features,
                        "cascades with different numbers of feature points"))
            return -1;
        if (c == 0) {
            if (need_floats(r, m->cascades * features,
                            "more feature points than the file holds (truncated?)"))
                return -1;
            m->features = (int)features;
            m->anchor = malloc((size_t)m->cascades * (size_t)features);
            m->delta = malloc((size_t)m->cascades * (size_t)features * 2 * sizeof *m->delta);
            if (!m->anchor || !m->delta)
                return err_set(r->err, "%s: out of memory for the landmark model", r->name);
        }
        for (int i = 0; i < m->features; i++) {
            if (read_count(r, m->points - 1, &v, "an anchor that is not a landmark"))
                return -1;
            m->anchor[(size_t)c * (size_t)m->features + (size_t)i] = (uint8_t)v;
        }
    }
    return 0;
}

static int read_deltas(Reader *r, LandmarkModel *m)
{
    int64_t n;
    if (read_length(r, m->cascades, MAX_CASCADES, &n, "offsets for another number of cascades"))
        return -1;
    for (int c = 0; c < m->cascades; c++) {
        if (read_length(r, m->features, MAX_FEATURES, &n, "offsets for another number of points"))
            return -1;
        float *d = m->delta + (size_t)c * (size_t)m->features * 2;
        for (int i = 0; i < 2 * m->features; i++)
            if (read_shape_value(r, &d[i], "a feature point's offset"))
                return -1;
    }
    return 0;
}

// What the reader cannot check as it goes: split indices against the feature count, which
// comes after the trees.
static int check_splits(Reader *r, const LandmarkModel *m)
{
    size_t n = (size_t)m->cascades * (size_t)m->trees * (size_t)m->splits;
    for (size_t i = 0; i < n; i++)
        if (m->split[i].a >= m->features || m->split[i].b >= m->features)
            return err_set(r->err,
                           "%s: not a dlib shape predictor: a split compares feature point %d "
                           "of %d",
                           r->name, m->split[i].a > m->split[i].b ? m->split[i].a : m->split[i].b,
                           m->features);
    return 0;
}

LandmarkModel *landmarks_load_bytes(const uint8_t *data, size_t size, const char *name, Err *err)
{
    Reader r = {data, size, 0, name, err};
    LandmarkModel *m = calloc(1, sizeof *m);
    if (!m) {
        err_set(err, "%s: out of memory for the landmark model", name);
        return NULL;
    }
    int64_t version, rows, cols;
    if (read_int(&r, true, 4, &version, "no version number"))
        goto fail;
    if (version != 1) {
        err_set(err, "%s: not a dlib shape predictor (version %lld, expected 1)", name,
                (long long)version);
        goto fail;
    }
    // The initial shape's length gives the number of points.
    size_t at = r.pos;
    if (read_int(&r, true, 8, &rows, "the mean shape's size") ||
        read_int(&r, true, 8, &cols, "the mean shape's size"))
        goto fail;
    rows = rows < 0 ? -rows : rows;
    if (rows < 2 || rows % 2 || rows > 2 * LANDMARKS_MAX_POINTS) {
        bad(&r, "a mean shape that is not 1 to 128 points");
        goto fail;
    }
    m->points = (int)(rows / 2);
    r.pos = at;
    if (!(m->initial_shape = malloc((size_t)rows * sizeof *m->initial_shape))) {
        err_set(err, "%s: out of memory for the landmark model", name);
        goto fail;
    }
    if (read_column(&r, rows, m->initial_shape, "a mean shape that is not a column") ||
        read_forests(&r, m) || read_anchors(&r, m) || read_deltas(&r, m) || check_splits(&r, m))
        goto fail;
    if (r.pos != r.size) {
        bad(&r, "bytes after the model");
        goto fail;
    }
    return m;
fail:
    landmarks_free(m);
    return NULL;
}

LandmarkModel *landmarks_load(const char *path, Err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, "%s: cannot open the landmark model: %s%s", path, strerror(errno),
                errno == ENOENT && !strcmp(path, LANDMARKS_DEFAULT_MODEL)
                    ? " (Debian's package libdlib-data installs it)"
                    : "");
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
        err_set(err, "%s: the landmark model is not a regular file with bytes in it", path);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        err_set(err, "%s: cannot read the landmark model: %s", path, strerror(errno));
        return NULL;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    LandmarkModel *m = landmarks_load_bytes(map, (size_t)st.st_size, path, err);
    munmap(map, (size_t)st.st_size);
    return m;
}

void landmarks_free(LandmarkModel *m)
{
    if (!m)
        return;
    free(m->initial_shape);
    free(m->split);
    free(m->leaf);
    free(m->anchor);
    free(m->delta);
    free(m);
}

int landmarks_count(const LandmarkModel *m)
{
    return m ? m->points : 0;
}
