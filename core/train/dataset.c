// Training data: finding the two domains on disk in their three layouts, and the fixed-seed
// train/test split (augment.c and loader.c do the rest of what dataset.h declares).
#include "core/train/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
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
