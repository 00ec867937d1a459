// safetensors reading and writing. The JSON header is parsed and produced by jansson; this file
// only checks what the format requires on top of valid JSON (types, ranges, overlaps).
#include "core/model/safetensors.h"

#include "core/base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Tensor data is copied between the file and float arrays byte for byte, which is only right on
// a little-endian host (x86_64, aarch64). Refuse to build anywhere else rather than load garbage.
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors.c assumes a little-endian host");

#define META_KEY "__metadata__"

struct StFile {
    char *path;
    unsigned char *buf; // the whole file; tensor data points into it
    size_t size;
    json_t *root;      // kept alive: tensor names and metadata strings point into it
    json_t *meta;      // borrowed from root, NULL when the file has none
    StTensor *tensors; // in header order
    int count;
};

// ---------------------------------------------------------------------------------------------
// Helpers

static size_t dtype_size(StDtype d)
{
    return d == ST_F16 ? 2 : 4;
}

static const char *dtype_name(StDtype d)
{
    return d == ST_F16 ? "F16" : "F32";
}

// numel * elem_size of a shape, refusing results that do not fit in size_t. A zero dimension
// makes the product 0 whatever the other dimensions are, so it is looked for first: [2^40, 2^40,
// 0] is a valid empty tensor, not an overflow.
static int shape_bytes(int ndim, const int64_t *shape, size_t elem, size_t *numel, size_t *nbytes)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *numel = 0;
            *nbytes = 0;
            return 0;
        }
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d > SIZE_MAX || n > SIZE_MAX / (size_t)d)
            return -1;
        n *= (size_t)d;
    }
    if (n > SIZE_MAX / elem)
        return -1;
    *numel = n;
    *nbytes = n * elem;
    return 0;
}

// "(2, 3, 7, 7)" for messages; truncated quietly if it does not fit.
static const char *shape_str(char *out, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = (size_t)snprintf(out, cap, "(");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < cap)
        snprintf(out + len, cap - len, ")");
    return out;
}

// IEEE 754 binary16 -> binary32. Every half value is exactly representable as a float, so this
// is a rebias of the exponent, except for subnormal halves, which become normal floats.
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) { // inf or nan; keep the payload so a nan stays a nan
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) { // normal: rebias 15 -> 127
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) { // signed zero
        bits = sign;
    } else {              // subnormal mant * 2^-24: shift until the implicit bit appears
        uint32_t e = 113; // float exponent of 2^-14, the exponent subnormal halves share
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// ---------------------------------------------------------------------------------------------
// Reading

// Reads the whole file into one buffer. Also works for files whose size fstat cannot tell
// (pipes report 0), by reading until EOF.
static int read_whole(const char *path, unsigned char **out, size_t *out_size, Err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(stt.st_mode)) {
        close(fd);
        return err_set(err, "%s: is a directory, not a safetensors file", path);
    }
    if ((uintmax_t)stt.st_size >= SIZE_MAX) {
        close(fd);
        return err_set(err, "%s: file too large to load (%jd bytes)", path, (intmax_t)stt.st_size);
    }
    size_t cap = stt.st_size > 0 ? (size_t)stt.st_size : 4096;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return err_set(err, "%s: out of memory loading %zu bytes", path, cap);
    }
    size_t len = 0;
    for (;;) {
        if (len == cap) { // only when the file grew or fstat had no size
            size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            unsigned char *nbuf = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nbuf) {
                free(buf);
                close(fd);
                return err_set(err, "%s: out of memory loading more than %zu bytes", path, cap);
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return err_set(err, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    *out = buf;
    *out_size = len;
    return 0;
}

// Non-negative JSON integer, or -1 when v is anything else.
static long long json_nonneg(const json_t *v)
{
    if (!json_is_integer(v))
        return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (long long)x;
}

// Fills t from one header entry and returns its [begin, end) in the data section.
static int parse_tensor(const char *path, const char *name, json_t *v, size_t data_size,
                        StTensor *t, uint64_t *begin, uint64_t *end, Err *err)
{
    if (!json_is_object(v))
        return err_set(err, "%s: tensor '%s': entry is not a JSON object", path, name);

    json_t *jd = json_object_get(v, "dtype");
    if (!jd)
        return err_set(err, "%s: tensor '%s': missing dtype", path, name);
    if (!json_is_string(jd))
        return err_set(err, "%s: tensor '%s': dtype is not a string", path, name);
    const char *ds = json_string_value(jd);
    if (strcmp(ds, "F32") == 0)
        t->dtype = ST_F32;
    else if (strcmp(ds, "F16") == 0)
        t->dtype = ST_F16;
    else
        return err_set(err, "%s: tensor '%s': dtype %s not supported (F32 or F16 only)", path, name,
                       ds);

    json_t *js = json_object_get(v, "shape");
    if (!js)
        return err_set(err, "%s: tensor '%s': missing shape", path, name);
    if (!json_is_array(js))
        return err_set(err, "%s: tensor '%s': shape is not an array", path, name);
    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS)
        return err_set(err, "%s: tensor '%s': shape has %zu dimensions, at most %d supported", path,
                       name, nd, ST_MAX_DIMS);
    t->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        long long d = json_nonneg(json_array_get(js, i));
        if (d < 0)
            return err_set(err, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path,
                           name, i);
        t->shape[i] = d;
    }
    char sbuf[200];
    if (shape_bytes(t->ndim, t->shape, dtype_size(t->dtype), &t->numel, &t->nbytes) != 0)
        return err_set(err, "%s: tensor '%s': shape %s is too large (size overflows)", path, name,
                       shape_str(sbuf, sizeof sbuf, t->ndim, t->shape));

    json_t *jo = json_object_get(v, "data_offsets");
    if (!jo)
        return err_set(err, "%s: tensor '%s': missing data_offsets", path, name);
    long long b = -1, e = -1;
    if (json_is_array(jo) && json_array_size(jo) == 2) {
        b = json_nonneg(json_array_get(jo, 0));
        e = json_nonneg(json_array_get(jo, 1));
    }
    if (b < 0 || e < 0)
        return err_set(err,
                       "%s: tensor '%s': data_offsets is not [begin, end] of non-negative "
                       "integers",
                       path, name);
    if (b > e)
        return err_set(err, "%s: tensor '%s': data_offsets [%lld, %lld] begin after end", path,
                       name, b, e);
    if ((unsigned long long)e > data_size)
        return err_set(err,
                       "%s: tensor '%s': data_offsets [%lld, %lld] out of range: the data "
                       "section has %zu bytes",
                       path, name, b, e, data_size);
    if ((unsigned long long)(e - b) != t->nbytes)
        return err_set(err,
                       "%s: tensor '%s': data_offsets [%lld, %lld] hold %lld bytes, "
                       "inconsistent with shape %s of %s (%zu bytes)",
                       path, name, b, e, e - b, shape_str(sbuf, sizeof sbuf, t->ndim, t->shape),
                       dtype_name(t->dtype), t->nbytes);
    t->name = name;
    *begin = (uint64_t)b;
    *end = (uint64_t)e;
    return 0;
}

typedef struct {
    uint64_t begin, end;
    int idx;
} Span;

static int span_cmp(const void *pa, const void *pb)
{
    const Span *a = pa, *b = pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return 0;
}

// Sorted by begin, two non-empty ranges overlap exactly when one starts before the furthest end
// seen so far. Empty tensors hold no bytes and cannot overlap anything.
static int check_overlaps(const StFile *f, Span *sp, int n, Err *err)
{
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    int far = -1; // index into sp of the non-empty span reaching furthest
    for (int i = 0; i < n; i++) {
        if (sp[i].begin == sp[i].end)
            continue;
        if (far >= 0 && sp[i].begin < sp[far].end)
            return err_set(err,
                           "%s: tensors '%s' and '%s' overlap (bytes [%llu, %llu) and "
                           "[%llu, %llu) of the data section)",
                           f->path, f->tensors[sp[far].idx].name, f->tensors[sp[i].idx].name,
                           (unsigned long long)sp[far].begin, (unsigned long long)sp[far].end,
                           (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end);
        if (far < 0 || sp[i].end > sp[far].end)
            far = i;
    }
    return 0;
}

static int check_meta(const char *path, json_t *meta, Err *err)
{
    if (!json_is_object(meta))
        return err_set(err, "%s: %s is not an object", path, META_KEY);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (!json_is_string(v))
            return err_set(err, "%s: %s value for key '%s' is not a string", path, META_KEY, k);
    }
    return 0;
}

// Everything after the file is in memory: header length, JSON, entries, overlaps.
static int parse_file(StFile *f, Err *err)
{
    const char *path = f->path;
    if (f->size < 8)
        return err_set(err,
                       "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte "
                       "header length",
                       path, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) // little-endian u64, assembled byte by byte
        hlen = (hlen << 8) | f->buf[i];
    if (hlen == 0)
        return err_set(err, "%s: header length is 0, expected a JSON header", path);
    if (hlen > f->size - 8)
        return err_set(err, "%s: header length %llu is beyond the file size %zu", path,
                       (unsigned long long)hlen, f->size);
    // Checked before jansson builds a tree that takes several times the header's size.
    if (hlen > ST_MAX_HEADER)
        return err_set(err, "%s: header length %llu is over the %d bytes a header may have", path,
                       (unsigned long long)hlen, ST_MAX_HEADER);

    json_error_t je;
    // Duplicate keys would make two tensors share a name; jansson can refuse them for us.
    f->root = json_loadb((const char *)f->buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!f->root)
        return err_set(err, "%s: invalid JSON at line %d column %d: %s", path, je.line, je.column,
                       je.text);
    if (!json_is_object(f->root))
        return err_set(err, "%s: header is not a JSON object", path);

    size_t data_size = f->size - 8 - (size_t)hlen;
    size_t nkeys = json_object_size(f->root);
    size_t ntensors = nkeys - (json_object_get(f->root, META_KEY) != NULL);
    if (ntensors > ST_MAX_TENSORS)
        return err_set(err, "%s: %zu tensors, over the %d a file may have", path, ntensors,
                       ST_MAX_TENSORS);
    f->tensors = calloc(nkeys ? nkeys : 1, sizeof *f->tensors);
    Span *sp = calloc(nkeys ? nkeys : 1, sizeof *sp);
    if (!f->tensors || !sp) {
        free(sp);
        return err_set(err, "%s: out of memory for %zu tensor entries", path, nkeys);
    }

    const unsigned char *data = f->buf + 8 + hlen;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(f->root, key, v)
    {
        if (strcmp(key, META_KEY) == 0) {
            if ((rc = check_meta(path, v, err)) != 0)
                break;
            f->meta = v;
            continue;
        }
        StTensor *t = &f->tensors[f->count];
        if ((rc = parse_tensor(path, key, v, data_size, t, &sp[f->count].begin, &sp[f->count].end,
                               err)) != 0)
            break;
        t->data = data + sp[f->count].begin;
        sp[f->count].idx = f->count;
        f->count++;
    }
    if (rc == 0)
        rc = check_overlaps(f, sp, f->count, err);
    free(sp);
    return rc;
}

StFile *st_open(const char *path, Err *err)
{
    StFile *f = calloc(1, sizeof *f);
    if (!f) {
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    f->path = strdup(path);
    if (!f->path) {
        free(f);
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    if (read_whole(path, &f->buf, &f->size, err) != 0 || parse_file(f, err) != 0) {
        st_close(f);
        return NULL;
    }
    return f;
}

void st_close(StFile *f)
{
    if (!f)
        return;
    json_decref(f->root);
    free(f->tensors);
    free(f->buf);
    free(f->path);
    free(f);
}

const char *st_path(const StFile *f)
{
    return f->path;
}

int st_count(const StFile *f)
{
    return f->count;
}

const StTensor *st_get(const StFile *f, int i)
{
    return i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const StTensor *st_find(const StFile *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key)
{
    return f->meta ? json_string_value(json_object_get(f->meta, key)) : NULL;
}

void st_meta_foreach(const StFile *f, void (*fn)(const char *key, const char *value, void *ctx),
                     void *ctx)
{
    const char *k;
    json_t *v;
    if (f->meta)
        json_object_foreach(f->meta, k, v) fn(k, json_string_value(v), ctx);
}

int st_read_f32(const StFile *f, const char *name, float *dst, size_t numel, Err *err)
{
    const StTensor *t = st_find(f, name);
    if (!t)
        return err_set(err, "%s: no tensor '%s'", f->path, name);
    if (t->numel != numel) {
        char sbuf[200];
        return err_set(err, "%s: tensor '%s' has %zu values (shape %s), expected %zu", f->path,
                       name, t->numel, shape_str(sbuf, sizeof sbuf, t->ndim, t->shape), numel);
    }
    const unsigned char *src = t->data;
    for (size_t i = 0; i < numel; i++) {
        float x;
        if (t->dtype == ST_F32) {
            memcpy(&x, src + 4 * i, 4); // memcpy: the data need not be 4-byte aligned
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            x = half_to_float(h);
        }
        if (!isfinite(x))
            return err_set(err, "%s: tensor '%s': value at index %zu is %s", f->path, name, i,
                           isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf"));
        dst[i] = x;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Writing

typedef struct {
    unsigned char *data; // own copy, in the file's dtype
    size_t nbytes;
} WTensor;

struct StWriter {
    json_t *entries; // name -> {"dtype", "shape", "data_offsets"}, in insertion order
    json_t *meta;    // key -> string
    WTensor *ts;
    size_t count, cap;
    uint64_t total; // bytes of data so far = begin of the next tensor
};

StWriter *st_writer_create(void)
{
    StWriter *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->entries = json_object();
    w->meta = json_object();
    if (!w->entries || !w->meta) {
        st_writer_free(w);
        return NULL;
    }
    return w;
}

void st_writer_free(StWriter *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++)
        free(w->ts[i].data);
    free(w->ts);
    json_decref(w->entries);
    json_decref(w->meta);
    free(w);
}

// Builds {"dtype": "F32" or "F16", "shape": [...], "data_offsets": [b, e]}; NULL when out of
// memory.
static json_t *entry_json(StDtype dtype, int ndim, const int64_t *shape, uint64_t b, uint64_t e)
{
    json_t *js = json_array();
    json_t *jo = json_array();
    json_t *ent = json_object();
    int bad = !js || !jo || !ent;
    for (int i = 0; i < ndim && !bad; i++)
        bad = json_array_append_new(js, json_integer((json_int_t)shape[i])) != 0;
    if (!bad)
        bad = json_array_append_new(jo, json_integer((json_int_t)b)) != 0 ||
              json_array_append_new(jo, json_integer((json_int_t)e)) != 0;
    if (!bad)
        bad = json_object_set_new(ent, "dtype", json_string(dtype_name(dtype))) != 0;
    if (!bad) {
        bad = json_object_set_new(ent, "shape", js) != 0;
        js = NULL; // owned by ent now, even on failure
    }
    if (!bad) {
        bad = json_object_set_new(ent, "data_offsets", jo) != 0;
        jo = NULL;
    }
    json_decref(js);
    json_decref(jo);
    if (bad) {
        json_decref(ent);
        return NULL;
    }
    return ent;
}

// The largest finite half, and float -> half by the compiler's _Float16 (IEEE binary16, round
// to nearest even, subnormal halves included), stored little-endian as the format wants.
#define HALF_MAX 65504.0f

static void floats_to_halves(const float *src, size_t n, unsigned char *dst)
{
    for (size_t i = 0; i < n; i++) {
        _Float16 h = (_Float16)src[i];
        uint16_t bits;
        memcpy(&bits, &h, sizeof bits);
        dst[2 * i] = (unsigned char)(bits & 0xffu);
        dst[2 * i + 1] = (unsigned char)(bits >> 8);
    }
}

// Refuses NaN/Inf: st_read_f32 would refuse them on loading, and an atomic save of a diverged
// model would otherwise replace the last good checkpoint with one that cannot be used.
int st_writer_add(StWriter *w, const char *name, int ndim, const int64_t *shape,
                  const float *data, StDtype dtype, Err *err)
{
    if (!name)
        return err_set(err, "st_writer_add: tensor name is NULL");
    if (strcmp(name, META_KEY) == 0)
        return err_set(err, "tensor '%s': the name is reserved for metadata", name);
    if (json_object_get(w->entries, name))
        return err_set(err, "tensor '%s': added twice", name);
    if (w->count >= ST_MAX_TENSORS) // st_open would refuse the file
        return err_set(err, "tensor '%s': a file holds at most %d tensors", name, ST_MAX_TENSORS);
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return err_set(err, "tensor '%s': %d dimensions, expected 0 to %d", name, ndim,
                       ST_MAX_DIMS);
    if (ndim > 0 && !shape)
        return err_set(err, "tensor '%s': shape is NULL", name);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return err_set(err, "tensor '%s': shape[%d] is negative (%lld)", name, i,
                           (long long)shape[i]);
    size_t numel, nbytes;
    if (shape_bytes(ndim, shape, dtype_size(dtype), &numel, &nbytes) != 0 ||
        nbytes > INT64_MAX - w->total)
        return err_set(err, "tensor '%s': too large (size overflows)", name);
    if (numel > 0 && !data)
        return err_set(err, "tensor '%s': data is NULL", name);
    for (size_t i = 0; i < numel; i++)
        if (!isfinite(data[i]))
            return err_set(err, "tensor '%s': value at index %zu is %s, refusing to save it", name,
                           i, isnan(data[i]) ? "NaN" : "Inf");
    for (size_t i = 0; dtype == ST_F16 && i < numel; i++)
        if (fabsf(data[i]) > HALF_MAX)
            return err_set(err, "tensor '%s': value at index %zu (%g) is beyond half precision's "
                           "range, refusing to save it as F16", name, i, (double)data[i]);

    if (w->count == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 16;
        WTensor *nts = realloc(w->ts, ncap * sizeof *nts);
        if (!nts)
            return err_set(err, "tensor '%s': out of memory", name);
        w->ts = nts;
        w->cap = ncap;
    }
    unsigned char *copy = malloc(nbytes ? nbytes : 1);
    if (!copy)
        return err_set(err, "tensor '%s': out of memory copying %zu bytes", name, nbytes);
    if (dtype == ST_F16)
        floats_to_halves(data, numel, copy);
    else if (nbytes)
        memcpy(copy, data, nbytes);
    json_t *ent = entry_json(dtype, ndim, shape, w->total, w->total + nbytes);
    // json_object_set_new also fails on a name that is not valid UTF-8.
    if (!ent || json_object_set_new(w->entries, name, ent) != 0) {
        free(copy);
        return err_set(err,
                       "tensor '%s': cannot store the name (not valid UTF-8, or out of "
                       "memory)",
                       name);
    }
    w->ts[w->count].data = copy;
    w->ts[w->count].nbytes = nbytes;
    w->count++;
    w->total += nbytes;
    return 0;
}

int st_writer_add_f32(StWriter *w, const char *name, int ndim, const int64_t *shape,
                      const float *data, Err *err)
{
    return st_writer_add(w, name, ndim, shape, data, ST_F32, err);
}

// A key given twice keeps the last value.
int st_writer_meta(StWriter *w, const char *key, const char *value, Err *err)
{
    if (!key || !value)
        return err_set(err, "st_writer_meta: key or value is NULL");
    if (json_object_set_new(w->meta, key, json_string(value)) != 0)
        return err_set(err, "metadata '%s': cannot store it (not valid UTF-8, or out of memory)",
                       key);
    return 0;
}

static int write_all(const StWriter *w, AtomicFile *f, const char *json, size_t hlen, size_t padded,
                     Err *err)
{
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    if (atomic_write(f, len8, 8, err) || atomic_write(f, json, hlen, err) ||
        atomic_write(f, spaces, padded - hlen, err))
        return -1;
    for (size_t i = 0; i < w->count; i++)
        if (atomic_write(f, w->ts[i].data, w->ts[i].nbytes, err))
            return -1;
    return 0;
}

int st_writer_save(const StWriter *w, const char *path, Err *err)
{
    // "__metadata__" first (as the Python library writes it), then tensors in insertion order.
    json_t *root = json_object();
    if (!root || (json_object_size(w->meta) > 0 && json_object_set(root, META_KEY, w->meta) != 0) ||
        json_object_update(root, w->entries) != 0) {
        json_decref(root);
        return err_set(err, "%s: out of memory building the header", path);
    }
    char *json = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!json)
        return err_set(err, "%s: out of memory building the header", path);
    size_t hlen = strlen(json);
    // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
    size_t padded = (hlen + 7) & ~(size_t)7;

    AtomicFile f;
    int rc = -1;
    if (atomic_open(&f, path, err) == 0 && write_all(w, &f, json, hlen, padded, err) == 0)
        rc = atomic_commit(&f, err);
    free(json);
    return rc;
}
