// Training data: finding the two domains on disk, the fixed-seed train/test split, and the
// background loader that decodes and augments batches the way the seed's ImageDataset does.
#include "core/train/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/base/rng.h"

// ---------------------------------------------------------------------------------------------
// Image lists

// An ImageList being built, with room to grow.
typedef struct {
    ImageList l;
    int cap;
} ListBuf;

void image_list_free(ImageList *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->count; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->ages);
    l->paths = NULL;
    l->ages = NULL;
    l->count = 0;
}

void domain_split_free(DomainSplit *s)
{
    if (!s)
        return;
    image_list_free(&s->train);
    image_list_free(&s->test);
}

// Appends PATH (taken over: freed here on failure) with its age.
static int list_push(ListBuf *b, char *path, int age, Err *err)
{
    if (b->l.count == b->cap) {
        int ncap = b->cap ? 2 * b->cap : 64;
        char **np = realloc(b->l.paths, (size_t)ncap * sizeof *np);
        if (np)
            b->l.paths = np;
        int *na = np ? realloc(b->l.ages, (size_t)ncap * sizeof *na) : NULL;
        if (na)
            b->l.ages = na;
        if (!np || !na) {
            free(path);
            return err_set(err, "out of memory listing images");
        }
        b->cap = ncap;
    }
    b->l.paths[b->l.count] = path;
    b->l.ages[b->l.count] = age;
    b->l.count++;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Names

static void warnf(DatasetWarn warn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warnf(DatasetWarn warn, void *ctx, const char *fmt, ...)
{
    if (!warn)
        return;
    char msg[ERR_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(ctx, msg);
}

static bool has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
            strcasecmp(dot, ".png") == 0);
}

// 1 to 3 digits then END (or, when END is '_', the UTKFace AGE_ prefix); -1 otherwise.
static int parse_age(const char *s, char end)
{
    int age = 0, n = 0;
    while (isdigit((unsigned char)s[n]) && n < 3)
        age = 10 * age + (s[n++] - '0');
    return n > 0 && s[n] == end ? age : -1;
}

int dataset_utkface_age(const char *filename)
{
    return filename && has_image_ext(filename) ? parse_age(filename, '_') : -1;
}

int dataset_kaggle_folder_age(const char *dirname)
{
    return dirname ? parse_age(dirname, '\0') : -1;
}

static char *join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    char *p = malloc(dl + nl + 2);
    if (p) {
        memcpy(p, dir, dl);
        if (!slash)
            p[dl++] = '/';
        memcpy(p + dl, name, nl + 1);
    }
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// The visible entries of DIR, sorted (so warnings come in a stable order).
static int list_dir(const char *dir, char ***out, int *count, Err *err)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                rc = err_set(err, "%s: cannot read folder: %s", dir, strerror(errno));
            break;
        }
        if (e->d_name[0] == '.') // hidden files, "." and ".."
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                rc = err_set(err, "%s: out of memory listing the folder", dir);
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = err_set(err, "%s: out of memory listing the folder", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != 0) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    if (n > 0)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    *count = n;
    return 0;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

// stat() follows symbolic links, so a link to an image counts as an image.
static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// ---------------------------------------------------------------------------------------------
// Scanning

typedef struct {
    const char *name;  // "young" / "old"
    int min, max;      // inclusive
    bool filter;       // whether min..max applies
    const char *where; // the folder named in "no usable images" errors
    ListBuf found;
    int out_of_range;
} Domain;

static bool in_range(const Domain *d, int age)
{
    return !d->filter || age < 0 || (age >= d->min && age <= d->max);
}

// Two folders given directly: every image in DIR belongs to the domain (ages from UTKFace names
// where they parse, used for the optional range filter).
static int scan_folder(Domain *dom, const char *dir, DatasetWarn warn, void *ctx, Err *err)
{
    char **names;
    int n;
    if (list_dir(dir, &names, &n, err) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *path = join_path(dir, names[i]);
        if (!path) {
            rc = err_set(err, "out of memory");
            break;
        }
        if (is_dir(path)) {
            warnf(warn, ctx, "skipping %s: a folder (folders are not searched)", path);
            free(path);
        } else if (!has_image_ext(names[i])) {
            warnf(warn, ctx, "skipping %s: not an image (.jpg, .jpeg or .png)", path);
            free(path);
        } else {
            int age = dataset_utkface_age(names[i]);
            if (in_range(dom, age)) {
                rc = list_push(&dom->found, path, age, err);
            } else {
                dom->out_of_range++;
                free(path);
            }
        }
    }
    free_names(names, n);
    return rc;
}

// Adds PATH to whichever domain its age falls in (neither: not used).
static int assign(Domain *doms, char *path, int age, Err *err)
{
    for (int k = 0; k < 2; k++)
        if (age >= doms[k].min && age <= doms[k].max)
            return list_push(&doms[k].found, path, age, err);
    free(path);
    return 0;
}

// One root: the Kaggle facial-age layout (ROOT/001 ... ROOT/110) or UTKFace files in ROOT.
static int scan_root(Domain *doms, const char *root, DatasetWarn warn, void *ctx, Err *err)
{
    char **names;
    int n;
    if (list_dir(root, &names, &n, err) != 0)
        return -1;
    // Look before choosing: any age folder makes it the Kaggle layout.
    bool kaggle = false, utk = false;
    for (int i = 0; i < n && !kaggle; i++) {
        char *path = join_path(root, names[i]);
        if (!path) {
            free_names(names, n);
            return err_set(err, "out of memory");
        }
        if (dataset_kaggle_folder_age(names[i]) >= 0 && is_dir(path))
            kaggle = true;
        else if (dataset_utkface_age(names[i]) >= 0 && !is_dir(path))
            utk = true;
        free(path);
    }
    if (!kaggle && !utk) {
        free_names(names, n);
        return err_set(err,
                       "%s: neither the Kaggle facial-age layout (one folder per age, 001 ... "
                       "110) nor UTKFace images named AGE_GENDER_RACE_DATE.jpg.chip.jpg; two "
                       "folders of faces can be given as the young and old folders instead",
                       root);
    }

    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *path = join_path(root, names[i]);
        if (!path) {
            rc = err_set(err, "out of memory");
            break;
        }
        bool dir = is_dir(path);
        if (kaggle) {
            int age = dataset_kaggle_folder_age(names[i]);
            if (age < 0 || !dir) {
                warnf(warn, ctx, "skipping %s: not an age folder (001 ... 110)", path);
                free(path);
                continue;
            }
            bool wanted = (age >= doms[0].min && age <= doms[0].max) ||
                          (age >= doms[1].min && age <= doms[1].max);
            char **files = NULL;
            int nf = 0;
            if (wanted && (rc = list_dir(path, &files, &nf, err)) != 0) {
                free(path);
                break;
            }
            for (int j = 0; j < nf && rc == 0; j++) {
                char *fp = join_path(path, files[j]);
                if (!fp)
                    rc = err_set(err, "out of memory");
                else if (is_dir(fp) || !has_image_ext(files[j])) {
                    warnf(warn, ctx, "skipping %s: not an image (.jpg, .jpeg or .png)", fp);
                    free(fp);
                } else
                    rc = assign(doms, fp, age, err);
            }
            free_names(files, nf);
            free(path);
        } else {
            int age = dataset_utkface_age(names[i]);
            if (dir) {
                warnf(warn, ctx, "skipping %s: a folder (folders are not searched)", path);
                free(path);
            } else if (!has_image_ext(names[i])) {
                warnf(warn, ctx, "skipping %s: not an image (.jpg, .jpeg or .png)", path);
                free(path);
            } else if (age < 0) {
                warnf(warn, ctx,
                      "skipping %s: no age in its name (expected AGE_GENDER_RACE_DATE.jpg)", path);
                free(path);
            } else
                rc = assign(doms, path, age, err);
        }
    }
    free_names(names, n);
    return rc;
}

// Decodes every file once; the ones that fail are dropped with a warning naming them.
static int validate(Domain *dom, DatasetWarn warn, void *ctx, Err *err)
{
    ImageList *l = &dom->found.l;
    int kept = 0;
    for (int i = 0; i < l->count; i++) {
        Image img;
        Err e;
        if (image_load(l->paths[i], &img, &e) != 0) {
            warnf(warn, ctx, "skipping %s", e.msg); // e.msg starts with the path
            free(l->paths[i]);
            continue;
        }
        image_free(&img);
        l->paths[kept] = l->paths[i];
        l->ages[kept] = l->ages[i];
        kept++;
    }
    l->count = kept;
    if (kept == 0) {
        if (dom->filter)
            return err_set(err, "no usable images for the %s domain (ages %d-%d) in %s", dom->name,
                           dom->min, dom->max, dom->where);
        return err_set(err, "no usable images for the %s domain in %s", dom->name, dom->where);
    }
    return 0;
}

typedef struct {
    char *path;
    int age;
} Entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const Entry *)a)->path, ((const Entry *)b)->path);
}

// L gets copies of the pointers in E (the paths themselves are shared, not duplicated).
static int make_list(ImageList *l, const Entry *e, int n, Err *err)
{
    l->count = 0;
    l->paths = malloc((size_t)(n ? n : 1) * sizeof *l->paths);
    l->ages = malloc((size_t)(n ? n : 1) * sizeof *l->ages);
    if (!l->paths || !l->ages) {
        free(l->paths);
        free(l->ages);
        l->paths = NULL;
        l->ages = NULL;
        return err_set(err, "out of memory splitting the images");
    }
    for (int i = 0; i < n; i++) {
        l->paths[i] = e[i].path;
        l->ages[i] = e[i].age;
    }
    l->count = n;
    return 0;
}

// Sorted (so the directory's order does not matter), shuffled with the seed, first part test.
// Takes the paths over from FOUND.
static int split(ListBuf *found, uint64_t seed, double frac, DomainSplit *out, Err *err)
{
    ImageList *l = &found->l;
    int n = l->count;
    Entry *e = malloc((size_t)n * sizeof *e);
    if (!e)
        return err_set(err, "out of memory splitting the images");
    for (int i = 0; i < n; i++)
        e[i] = (Entry){l->paths[i], l->ages[i]};
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    Rng r;
    rng_seed(&r, seed);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint32_t)i + 1);
        Entry t = e[i];
        e[i] = e[j];
        e[j] = t;
    }
    int n_test = (int)lround(n * frac);
    if (n_test >= n) // keep at least one image to train on
        n_test = n - 1;
    // Each part in path order: the membership is what the shuffle decided.
    qsort(e, (size_t)n_test, sizeof *e, cmp_entry);
    qsort(e + n_test, (size_t)(n - n_test), sizeof *e, cmp_entry);
    int rc = make_list(&out->test, e, n_test, err);
    if (rc == 0 && (rc = make_list(&out->train, e + n_test, n - n_test, err)) != 0) {
        free(out->test.paths); // the paths are freed once, below
        free(out->test.ages);
        memset(&out->test, 0, sizeof out->test);
    }
    if (rc != 0)
        for (int i = 0; i < n; i++)
            free(e[i].path);
    free(e);
    // The paths now belong to OUT (or are freed); FOUND keeps only its arrays.
    l->count = 0;
    return rc;
}

static int check_range(const char *name, int lo, int hi, Err *err)
{
    if (lo < 0 || lo > hi)
        return err_set(err, "%s ages %d-%d: not a range (need 0 <= min <= max)", name, lo, hi);
    return 0;
}

int dataset_scan(const DatasetSpec *spec, DomainSplit *young, DomainSplit *old, DatasetWarn warn,
                 void *warn_ctx, Err *err)
{
    memset(young, 0, sizeof *young);
    memset(old, 0, sizeof *old);
    if (!(spec->test_fraction >= 0.0 && spec->test_fraction < 1.0))
        return err_set(err, "test fraction %g: must be at least 0 and below 1",
                       spec->test_fraction);

    Domain doms[2] = {
        {.name = "young", .min = spec->young_min, .max = spec->young_max},
        {.name = "old", .min = spec->old_min, .max = spec->old_max},
    };
    int rc;
    if (spec->root) {
        if (spec->young_dir || spec->old_dir)
            return err_set(err, "give either one root folder or the young and old folders, "
                                "not both");
        if (check_range("young", spec->young_min, spec->young_max, err) ||
            check_range("old", spec->old_min, spec->old_max, err))
            return -1;
        if (spec->young_min <= spec->old_max && spec->old_min <= spec->young_max)
            return err_set(err, "young ages %d-%d and old ages %d-%d overlap", spec->young_min,
                           spec->young_max, spec->old_min, spec->old_max);
        for (int k = 0; k < 2; k++) {
            doms[k].filter = true;
            doms[k].where = spec->root;
        }
        rc = scan_root(doms, spec->root, warn, warn_ctx, err);
    } else {
        if (!spec->young_dir || !spec->old_dir)
            return err_set(err, "no training data given: a root folder, or both a young and "
                                "an old folder");
        // In two-folder mode the ranges are optional: a minimum above 0 turns a domain's filter
        // on (for the files whose names carry an age; the others are kept).
        doms[0].filter = spec->young_min > 0 && spec->young_min <= spec->young_max;
        doms[1].filter = spec->old_min > 0 && spec->old_min <= spec->old_max;
        doms[0].where = spec->young_dir;
        doms[1].where = spec->old_dir;
        rc = scan_folder(&doms[0], spec->young_dir, warn, warn_ctx, err);
        if (rc == 0)
            rc = scan_folder(&doms[1], spec->old_dir, warn, warn_ctx, err);
        for (int k = 0; k < 2 && rc == 0; k++)
            if (doms[k].out_of_range)
                warnf(warn, warn_ctx, "%s: %d images outside ages %d-%d left out", doms[k].where,
                      doms[k].out_of_range, doms[k].min, doms[k].max);
    }
    for (int k = 0; k < 2 && rc == 0; k++)
        rc = validate(&doms[k], warn, warn_ctx, err);
    // Seeds differ per domain so the two shuffles are unrelated.
    if (rc == 0)
        rc = split(&doms[0].found, spec->seed ^ 1, spec->test_fraction, young, err);
    if (rc == 0 && (rc = split(&doms[1].found, spec->seed ^ 2, spec->test_fraction, old, err)))
        domain_split_free(young);
    for (int k = 0; k < 2; k++)
        image_list_free(&doms[k].found.l);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Augmentation

int augment_image(const Image *src, int size, uint64_t seed, float *chw, Err *err)
{
    // chw: (3, size, size)
    if (size <= 0 || size > 8192)
        return err_set(err, "augment: image size %d is not valid", size);
    if (!src || !src->rgb || src->w <= 0 || src->h <= 0)
        return err_set(err, "augment: the source image is empty");
    // transforms.Resize(int(size * 1.12)): the shorter side becomes that, the aspect is kept.
    int target = (int)(size * 1.12);
    int w, h;
    if (src->w <= src->h) {
        w = target;
        h = (int)((double)target * src->h / src->w);
    } else {
        h = target;
        w = (int)((double)target * src->w / src->h);
    }
    Image rs;
    if (image_resize(src, w, h, &rs, err) != 0)
        return -1;
    // RandomCrop(size), then RandomHorizontalFlip() (p = 0.5), in that order as the seed.
    Rng r;
    rng_seed(&r, seed);
    int top = (int)rng_below(&r, (uint32_t)(h - size + 1));
    int left = (int)rng_below(&r, (uint32_t)(w - size + 1));
    bool flip = rng_uniform(&r) < 0.5f;
    size_t plane = (size_t)size * (size_t)size;
    for (int y = 0; y < size; y++) {
        const uint8_t *row = rs.rgb + ((size_t)(top + y) * (size_t)w + (size_t)left) * 3;
        for (int x = 0; x < size; x++) {
            const uint8_t *px = row + 3 * (size_t)(flip ? size - 1 - x : x);
            for (int c = 0; c < 3; c++)
                chw[c * plane + (size_t)y * size + x] = px[c] / 127.5f - 1.0f;
        }
    }
    image_free(&rs);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Loader

#define RING 3 // batches prepared ahead

struct Loader {
    char **young, **old; // own copies of the paths
    int n_young, n_old, n_max;
    int size, batch;
    uint64_t seed;
    long ipe;

    // Producer state (the background thread's alone).
    long epoch, iter;
    uint32_t *perm; // of n_max, for perm_epoch
    long perm_epoch;

    // The ring: slots [head, head + count) are ready, in order.
    float *a[RING], *b[RING];
    int head, count;
    bool stop, failed;
    Err fail;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
    pthread_t thread;
    bool started;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// A seed for one random choice: a function of (seed, epoch, sample index, what it is for).
static uint64_t choice_seed(uint64_t seed, long epoch, long i, int tag)
{
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ull);
    h = mix64(h ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull + 1));
    h = mix64(h ^ ((uint64_t)i * 0xc2b2ae3d27d4eb4full + 2));
    return mix64(h ^ (uint64_t)(unsigned)tag);
}

// The epoch's order, as the seed's DataLoader(shuffle=True) over max(n_young, n_old) indices.
static void make_perm(Loader *l, long epoch)
{
    Rng r;
    rng_seed(&r, choice_seed(l->seed, epoch, 0, 'P'));
    for (int i = 0; i < l->n_max; i++)
        l->perm[i] = (uint32_t)i;
    for (int i = l->n_max - 1; i > 0; i--) {
        uint32_t j = rng_below(&r, (uint32_t)i + 1);
        uint32_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
    l->perm_epoch = epoch;
}

static int load_augmented(const char *path, int size, uint64_t seed, float *chw, Err *err)
{
    Image img;
    if (image_load(path, &img, err) != 0)
        return -1;
    int rc = augment_image(&img, size, seed, chw, err);
    image_free(&img);
    return rc;
}

// Fills one batch for the current (epoch, iter).
static int produce(Loader *l, float *a, float *b, Err *err)
{
    if (l->perm_epoch != l->epoch)
        make_perm(l, l->epoch);
    size_t per = 3 * (size_t)l->size * (size_t)l->size;
    for (int k = 0; k < l->batch; k++) {
        long i = l->iter * l->batch + k;
        int yi = (int)(l->perm[i] % (uint32_t)l->n_young);
        Rng r;
        rng_seed(&r, choice_seed(l->seed, l->epoch, i, 'B'));
        int oi = (int)rng_below(&r, (uint32_t)l->n_old);
        if (load_augmented(l->young[yi], l->size, choice_seed(l->seed, l->epoch, i, 'A'),
                           a + k * per, err) != 0 ||
            load_augmented(l->old[oi], l->size, choice_seed(l->seed, l->epoch, i, 'b'), b + k * per,
                           err) != 0)
            return -1;
    }
    return 0;
}

static void *producer(void *arg)
{
    Loader *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->count == RING && !l->stop)
            pthread_cond_wait(&l->space, &l->mu);
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            return NULL;
        }
        int slot = (l->head + l->count) % RING;
        pthread_mutex_unlock(&l->mu);

        // The slot is outside [head, head + count), so the consumer does not touch it.
        Err e;
        int rc = produce(l, l->a[slot], l->b[slot], &e);

        pthread_mutex_lock(&l->mu);
        if (rc != 0) {
            l->failed = true;
            l->fail = e;
        } else {
            l->count++;
        }
        pthread_cond_signal(&l->ready);
        pthread_mutex_unlock(&l->mu);
        if (rc != 0)
            return NULL;
        if (++l->iter == l->ipe) {
            l->iter = 0;
            l->epoch++;
        }
    }
}

static char **copy_paths(const ImageList *src)
{
    char **p = calloc((size_t)src->count, sizeof *p);
    if (!p)
        return NULL;
    for (int i = 0; i < src->count; i++)
        if (!(p[i] = strdup(src->paths[i]))) {
            for (int j = 0; j < i; j++)
                free(p[j]);
            free(p);
            return NULL;
        }
    return p;
}

static void free_paths(char **p, int n)
{
    if (!p)
        return;
    for (int i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

static void loader_destroy(Loader *l)
{
    free_paths(l->young, l->n_young);
    free_paths(l->old, l->n_old);
    free(l->perm);
    for (int s = 0; s < RING; s++) {
        free(l->a[s]);
        free(l->b[s]);
    }
    free(l);
}

Loader *loader_create(const ImageList *young, const ImageList *old, int size, int batch,
                      uint64_t seed, int start_epoch, long start_iteration, Err *err)
{
    if (!young || !old || young->count <= 0 || old->count <= 0) {
        err_set(err, "loader: both domains need at least one image (young %d, old %d)",
                young ? young->count : 0, old ? old->count : 0);
        return NULL;
    }
    if (size <= 0 || size > 8192 || batch <= 0 || batch > 65536) {
        err_set(err, "loader: image size %d or batch %d is not valid", size, batch);
        return NULL;
    }
    if (start_epoch < 0 || start_iteration < 0) {
        err_set(err, "loader: start position (epoch %d, iteration %ld) is negative", start_epoch,
                start_iteration);
        return NULL;
    }
    int n_max = young->count > old->count ? young->count : old->count;
    long ipe = n_max / batch;
    if (ipe == 0) {
        err_set(err,
                "loader: batch %d is larger than the bigger domain (%d images): an epoch would "
                "have no full batch",
                batch, n_max);
        return NULL;
    }
    Loader *l = calloc(1, sizeof *l);
    if (!l) {
        err_set(err, "loader: out of memory");
        return NULL;
    }
    l->n_young = young->count;
    l->n_old = old->count;
    l->n_max = n_max;
    l->size = size;
    l->batch = batch;
    l->seed = seed;
    l->ipe = ipe;
    // An iteration past the end of its epoch is the same place in a later one.
    l->epoch = start_epoch + start_iteration / ipe;
    l->iter = start_iteration % ipe;
    l->perm_epoch = -1;
    l->young = copy_paths(young);
    l->old = copy_paths(old);
    l->perm = malloc((size_t)n_max * sizeof *l->perm);
    size_t floats = (size_t)batch * 3 * (size_t)size * (size_t)size;
    bool ok = l->young && l->old && l->perm;
    for (int s = 0; s < RING && ok; s++) {
        l->a[s] = malloc(floats * sizeof(float));
        l->b[s] = malloc(floats * sizeof(float));
        ok = l->a[s] && l->b[s];
    }
    if (!ok) {
        loader_destroy(l);
        err_set(err, "loader: out of memory for %d batches of %d x 3 x %d x %d", RING, batch, size,
                size);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->space, NULL);
    int e = pthread_create(&l->thread, NULL, producer, l);
    if (e != 0) {
        pthread_cond_destroy(&l->space);
        pthread_cond_destroy(&l->ready);
        pthread_mutex_destroy(&l->mu);
        loader_destroy(l);
        err_set(err, "loader: cannot start the background thread: %s", strerror(e));
        return NULL;
    }
    l->started = true;
    return l;
}

void loader_free(Loader *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_broadcast(&l->space);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->space);
        pthread_cond_destroy(&l->ready);
        pthread_mutex_destroy(&l->mu);
    }
    loader_destroy(l);
}

long loader_iterations_per_epoch(const Loader *l)
{
    return l->ipe;
}

int loader_next(Loader *l, float *a, float *b, Err *err)
{
    // a, b: (batch, 3, size, size)
    pthread_mutex_lock(&l->mu);
    while (l->count == 0 && !l->failed)
        pthread_cond_wait(&l->ready, &l->mu);
    if (l->count == 0) { // failed, and everything made before the failure has been taken
        Err e = l->fail;
        pthread_mutex_unlock(&l->mu);
        return err_set(err, "%s", e.msg);
    }
    int slot = l->head;
    pthread_mutex_unlock(&l->mu);

    // The producer never writes a ready slot, so the copy needs no lock.
    size_t bytes = (size_t)l->batch * 3 * (size_t)l->size * (size_t)l->size * sizeof(float);
    memcpy(a, l->a[slot], bytes);
    memcpy(b, l->b[slot], bytes);

    pthread_mutex_lock(&l->mu);
    l->head = (l->head + 1) % RING;
    l->count--;
    pthread_cond_signal(&l->space);
    pthread_mutex_unlock(&l->mu);
    return 0;
}
