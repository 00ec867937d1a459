// Training data: the three layouts, age parsing and filtering, the fixed-seed split, skipped
// files and errors (test_loader.c: the background loader and augmentation).
// Layouts are built in temporary folders from a handful of the test faces (tests/faces.h: links,
// or PNG copies for the Kaggle layout).
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/rng.h"
#include "core/train/dataset.h"
#include "faces.h"

// ---------------------------------------------------------------------------------------------
// Helpers

static char g_root[] = "/tmp/ageshift_dataset_XXXXXX";

static void setup_root(void)
{
    cr_assert_not_null(mkdtemp(g_root), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown_root(void)
{
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// g_root/REL
static const char *at(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_root, rel);
    return buf[k];
}

static void make_dir(const char *rel)
{
    cr_assert_eq(mkdir(at(rel), 0755), 0, "mkdir %s: %s", rel, strerror(errno));
}

static void link_face(const char *target, const char *rel)
{
    cr_assert_eq(symlink(target, at(rel)), 0, "symlink %s: %s", rel, strerror(errno));
}

static void write_file(const char *rel, const void *p, size_t n)
{
    FILE *f = fopen(at(rel), "wb");
    cr_assert_not_null(f, "%s: %s", rel, strerror(errno));
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

// Links the first N young (or old) faces into g_root/DIR under their own names.
static void link_faces(const char *sub, const char *dir, int n)
{
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX];
        test_need_face(sub, NULL, i, p);
        char rel[PATH_MAX + 300];
        snprintf(rel, sizeof rel, "%s/%s", dir, strrchr(p, '/') + 1);
        link_face(p, rel);
    }
}

typedef struct {
    char msg[32][ERR_MAX + 128];
    int n;
} Warnings;

static void collect(void *ctx, const char *msg)
{
    Warnings *w = ctx;
    if (w->n < 32)
        snprintf(w->msg[w->n++], sizeof w->msg[0], "%s", msg);
}

static bool warned(const Warnings *w, const char *a, const char *b)
{
    for (int i = 0; i < w->n; i++)
        if (strstr(w->msg[i], a) && (!b || strstr(w->msg[i], b)))
            return true;
    return false;
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// The age in a path's UTKFace name, as the scanner should parse it.
static int name_age(const char *p)
{
    return atoi(base(p));
}

static int total(const DomainSplit *d)
{
    return d->train.count + d->test.count;
}

static bool list_has(const ImageList *l, const char *name, int *age)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(base(l->paths[i]), name) == 0) {
            if (age)
                *age = l->ages[i];
            return true;
        }
    return false;
}

// Whether NAME is in the train or test part, and with which age.
static bool split_has(const DomainSplit *d, const char *name, int *age)
{
    return list_has(&d->train, name, age) || list_has(&d->test, name, age);
}

static DatasetSpec two_folders(void)
{
    static char y[PATH_MAX], o[PATH_MAX];
    snprintf(y, sizeof y, "%s/young", g_root);
    snprintf(o, sizeof o, "%s/old", g_root);
    return (DatasetSpec){.young_dir = y, .old_dir = o, .seed = 1, .test_fraction = 0.2};
}

static DatasetSpec one_root(int ymin, int ymax, int omin, int omax)
{
    return (DatasetSpec){.root = g_root,
                         .young_min = ymin,
                         .young_max = ymax,
                         .old_min = omin,
                         .old_max = omax,
                         .seed = 1,
                         .test_fraction = 0.2};
}

// ---------------------------------------------------------------------------------------------
// Layouts

Test(dataset, two_folders, .init = setup_root, .fini = teardown_root)
{
    make_dir("young");
    make_dir("old");
    link_faces("young", "young", 5);
    link_faces("old", "old", 4);
    char p[PATH_MAX];
    test_need_face("young", NULL, 7, p);
    link_face(p, "young/portrait.JPG"); // no age in the name
    write_file("young/notes.txt", "hi", 2);
    write_file("young/.hidden.jpg", "x", 1);
    make_dir("young/sub");
    link_face(p, "young/sub/20_0_0_nested.jpg"); // not searched

    DatasetSpec spec = two_folders();
    DomainSplit y, o;
    Err err;
    Warnings w = {0};
    cr_assert_eq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(y.train.count, 5); // 6 images: round(1.2) = 1 test
    cr_expect_eq(y.test.count, 1);
    cr_expect_eq(o.train.count, 3); // 4 images: round(0.8) = 1 test
    cr_expect_eq(o.test.count, 1);
    int age = 0;
    cr_expect(split_has(&y, "portrait.JPG", &age));
    cr_expect_eq(age, -1);
    for (int k = 0; k < 2; k++) {
        const DomainSplit *d = k ? &o : &y;
        const ImageList *ls[2] = {&d->train, &d->test};
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < ls[j]->count; i++) {
                const char *path = ls[j]->paths[i];
                cr_expect_eq(strncmp(path, g_root, strlen(g_root)), 0, "%s", path);
                if (strcmp(base(path), "portrait.JPG") != 0)
                    cr_expect_eq(ls[j]->ages[i], name_age(path), "%s: age %d", path,
                                 ls[j]->ages[i]);
            }
    }
    cr_expect(warned(&w, "notes.txt", "not an image"));
    cr_expect(warned(&w, "sub", "folder"));
    cr_expect(!warned(&w, ".hidden", NULL), "hidden files are ignored silently");
    cr_expect(!split_has(&y, "20_0_0_nested.jpg", NULL));
    domain_split_free(&y);
    domain_split_free(&o);
    domain_split_free(NULL);
    image_list_free(NULL);
}

Test(dataset, two_folders_age_filter, .init = setup_root, .fini = teardown_root)
{
    make_dir("young");
    make_dir("old");
    link_faces("young", "young", 3);
    char p[PATH_MAX];
    const char *ages[] = {"60_", "65_", "70_", "80_", "85_"};
    for (int i = 0; i < 5; i++) {
        test_need_face("old", ages[i], 0, p);
        char rel[PATH_MAX + 300];
        snprintf(rel, sizeof rel, "old/%s", base(p));
        link_face(p, rel);
    }
    // The two files with a missing field: only the age before the first '_' counts.
    test_need_face("old", "61_", 0, p);
    link_face(p, "old/61_1_20170109142408075.jpg.chip.jpg");
    test_need_face("old", "61_", 1, p);
    link_face(p, "old/61_3_20170109150557335.jpg.chip.jpg");
    link_face(p, "old/unknown.jpg"); // no age: kept whatever the range

    DatasetSpec spec = two_folders();
    DomainSplit y, o;
    Err err;
    Warnings w = {0};
    // Without ranges everything is used, and the odd names parse.
    cr_assert_eq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(total(&o), 8);
    int age = 0;
    cr_expect(split_has(&o, "61_1_20170109142408075.jpg.chip.jpg", &age));
    cr_expect_eq(age, 61);
    cr_expect(split_has(&o, "61_3_20170109150557335.jpg.chip.jpg", &age));
    cr_expect_eq(age, 61);
    domain_split_free(&y);
    domain_split_free(&o);

    spec.old_min = 65;
    spec.old_max = 80;
    w.n = 0;
    cr_assert_eq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(total(&o), 4, "65, 70, 80 and the unknown age");
    cr_expect(split_has(&o, "unknown.jpg", &age));
    cr_expect_eq(age, -1);
    for (int i = 0; i < o.train.count; i++)
        cr_expect(o.train.ages[i] == -1 || (o.train.ages[i] >= 65 && o.train.ages[i] <= 80));
    cr_expect_eq(total(&y), 3, "young has no range: all kept");
    cr_expect(warned(&w, "4 images outside ages 65-80", NULL));
    domain_split_free(&y);
    domain_split_free(&o);
}

Test(dataset, kaggle_layout, .init = setup_root, .fini = teardown_root)
{
    // Folders per age holding PNGs, as the facial-age dataset.
    const char *folders[] = {"020", "025", "070", "090", "45"};
    make_dir("age_notes");
    write_file("readme.txt", "x", 1);
    write_file(".DS_Store", "x", 1);
    int k = 0;
    for (int f = 0; f < 5; f++) {
        make_dir(folders[f]);
        for (int i = 0; i < 2; i++, k++) {
            char p[PATH_MAX];
            test_need_face(f < 2 ? "young" : "old", NULL, k, p);
            Image img;
            Err err;
            cr_assert_eq(image_load(p, &img, &err), 0, "%s", err.msg);
            char rel[64];
            snprintf(rel, sizeof rel, "%s/%d.png", folders[f], k);
            cr_assert_eq(image_save(at(rel), &img, &err), 0, "%s", err.msg);
            image_free(&img);
        }
    }
    DatasetSpec spec = one_root(20, 30, 65, 80);
    DomainSplit y, o;
    Err err;
    Warnings w = {0};
    cr_assert_eq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(total(&y), 4);
    cr_expect_eq(y.test.count, 1); // round(0.8)
    cr_expect_eq(total(&o), 2);
    int age = 0;
    cr_expect(split_has(&y, "0.png", &age));
    cr_expect_eq(age, 20);
    cr_expect(split_has(&y, "3.png", &age));
    cr_expect_eq(age, 25);
    cr_expect(split_has(&o, "4.png", &age));
    cr_expect_eq(age, 70);
    cr_expect(!split_has(&o, "6.png", NULL), "age 90 is outside both ranges");
    cr_expect(warned(&w, "readme.txt", NULL));
    cr_expect(warned(&w, "age_notes", NULL));
    cr_expect(!warned(&w, ".DS_Store", NULL));
    domain_split_free(&y);
    domain_split_free(&o);

    // Folder 45 holds ages 45: a wider old range picks it up.
    spec.old_min = 40;
    cr_assert_eq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(total(&o), 4);
    cr_expect(split_has(&o, "8.png", &age));
    cr_expect_eq(age, 45);
    domain_split_free(&y);
    domain_split_free(&o);
}

Test(dataset, utkface_layout, .init = setup_root, .fini = teardown_root)
{
    char p[PATH_MAX];
    const char *pick[][2] = {{"young", "20_"}, {"young", "25_"}, {"young", "30_"}, {"old", "65_"},
                             {"old", "72_"},   {"old", "80_"},   {"old", "60_"},   {"old", "85_"}};
    for (int i = 0; i < 8; i++) {
        test_need_face(pick[i][0], pick[i][1], 0, p);
        link_face(p, base(p));
    }
    test_need_face("old", "61_", 0, p);
    link_face(p, "61_1_20170109142408075.jpg.chip.jpg");
    link_face(p, "portrait.jpg"); // no age
    write_file("notes.txt", "x", 1);
    write_file(".hidden", "x", 1);

    DatasetSpec spec = one_root(20, 30, 61, 80);
    DomainSplit y, o;
    Err err;
    Warnings w = {0};
    cr_assert_eq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(total(&y), 3);
    cr_expect_eq(total(&o), 4, "61, 65, 72, 80");
    int age = 0;
    cr_expect(split_has(&o, "61_1_20170109142408075.jpg.chip.jpg", &age));
    cr_expect_eq(age, 61);
    for (int i = 0; i < o.train.count; i++)
        cr_expect_eq(o.train.ages[i], name_age(o.train.paths[i]));
    cr_expect(warned(&w, "portrait.jpg", "no age"));
    cr_expect(warned(&w, "notes.txt", NULL));
    cr_expect(!warned(&w, ".hidden", NULL));
    domain_split_free(&y);
    domain_split_free(&o);
}

Test(dataset, root_of_neither_layout_is_an_error, .init = setup_root, .fini = teardown_root)
{
    make_dir("young");
    make_dir("old");
    link_faces("young", "young", 2);
    link_faces("old", "old", 2);
    DatasetSpec spec = one_root(20, 30, 65, 80);
    DomainSplit y, o;
    Err err;
    cr_assert_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, g_root), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "Kaggle"), "%s", err.msg);
    cr_expect_eq(y.train.count + o.train.count, 0);
    cr_expect_null(y.train.paths);
}

// ---------------------------------------------------------------------------------------------
// Ages from names

Test(dataset, utkface_age_from_file_names)
{
    cr_expect_eq(dataset_utkface_age("26_1_0_20170116230000000.jpg.chip.jpg"), 26);
    cr_expect_eq(dataset_utkface_age("1_0_0_20161219140623097.jpg.chip.jpg"), 1);
    cr_expect_eq(dataset_utkface_age("116_1_0_20170120134921760.jpg.chip.jpg"), 116);
    cr_expect_eq(dataset_utkface_age("0_x.PNG"), 0);
    cr_expect_eq(dataset_utkface_age("45_0.jpeg"), 45);
    cr_expect_eq(dataset_utkface_age("1000_1_0_2017.jpg"), -1, "four digits");
    cr_expect_eq(dataset_utkface_age("26_1_0_2017.txt"), -1, "not an image");
    cr_expect_eq(dataset_utkface_age("26.jpg"), -1, "no '_' after the age");
    cr_expect_eq(dataset_utkface_age("_26.jpg"), -1);
    cr_expect_eq(dataset_utkface_age("a26_1.jpg"), -1);
    cr_expect_eq(dataset_utkface_age(".jpg"), -1);
    cr_expect_eq(dataset_utkface_age(""), -1);
    cr_expect_eq(dataset_utkface_age(NULL), -1);
}

Test(dataset, kaggle_age_from_folder_names)
{
    cr_expect_eq(dataset_kaggle_folder_age("001"), 1);
    cr_expect_eq(dataset_kaggle_folder_age("110"), 110);
    cr_expect_eq(dataset_kaggle_folder_age("7"), 7);
    cr_expect_eq(dataset_kaggle_folder_age("0001"), -1, "four digits");
    cr_expect_eq(dataset_kaggle_folder_age("01a"), -1);
    cr_expect_eq(dataset_kaggle_folder_age("01_"), -1);
    cr_expect_eq(dataset_kaggle_folder_age(""), -1);
    cr_expect_eq(dataset_kaggle_folder_age(NULL), -1);
}

// ---------------------------------------------------------------------------------------------
// The split

// Sorted basenames of a list, joined.
static void names_of(const ImageList *l, char *out, size_t len)
{
    out[0] = 0;
    for (int i = 0; i < l->count; i++) {
        strncat(out, base(l->paths[i]), len - strlen(out) - 1);
        strncat(out, "|", len - strlen(out) - 1);
    }
}

// Links 20 young and 10 old faces into g_root/SUBDIR/{young,old}, in forward or reverse order.
static void build_split_tree(const char *sub, bool reverse)
{
    char rel[PATH_MAX + 300];
    make_dir(sub);
    snprintf(rel, sizeof rel, "%s/young", sub);
    make_dir(rel);
    snprintf(rel, sizeof rel, "%s/old", sub);
    make_dir(rel);
    for (int k = 0; k < 30; k++) {
        int i = reverse ? 29 - k : k;
        bool young = i < 20;
        char p[PATH_MAX];
        test_need_face(young ? "young" : "old", NULL, young ? i : i - 20, p);
        snprintf(rel, sizeof rel, "%s/%s/%s", sub, young ? "young" : "old", base(p));
        link_face(p, rel);
    }
}

static void scan_sub(const char *sub, uint64_t seed, DomainSplit *y, DomainSplit *o)
{
    char yd[PATH_MAX], od[PATH_MAX];
    snprintf(yd, sizeof yd, "%s/%s/young", g_root, sub);
    snprintf(od, sizeof od, "%s/%s/old", g_root, sub);
    DatasetSpec spec = {.young_dir = yd, .old_dir = od, .seed = seed, .test_fraction = 0.2};
    Err err;
    cr_assert_eq(dataset_scan(&spec, y, o, NULL, NULL, &err), 0, "%s", err.msg);
}

Test(dataset, split_is_reproducible, .init = setup_root, .fini = teardown_root)
{
    build_split_tree("a", false);
    build_split_tree("b", true);
    DomainSplit ya, oa, yb, ob, yc, oc;
    scan_sub("a", 42, &ya, &oa);
    scan_sub("b", 42, &yb, &ob);
    scan_sub("a", 43, &yc, &oc);
    cr_expect_eq(ya.train.count, 16);
    cr_expect_eq(ya.test.count, 4);
    cr_expect_eq(oa.train.count, 8);
    cr_expect_eq(oa.test.count, 2);

    static char s1[8192], s2[8192], s3[8192];
    names_of(&ya.test, s1, sizeof s1);
    names_of(&yb.test, s2, sizeof s2);
    names_of(&yc.test, s3, sizeof s3);
    cr_expect_str_eq(s1, s2, "same seed, other creation order: same young test set");
    cr_expect_str_neq(s1, s3, "another seed: another young test set");
    names_of(&ya.train, s1, sizeof s1);
    names_of(&yb.train, s2, sizeof s2);
    cr_expect_str_eq(s1, s2);
    names_of(&oa.test, s1, sizeof s1);
    names_of(&ob.test, s2, sizeof s2);
    cr_expect_str_eq(s1, s2);

    // Train and test partition the files.
    for (int i = 0; i < ya.test.count; i++)
        cr_expect(!list_has(&ya.train, base(ya.test.paths[i]), NULL));
    for (int i = 0; i < 20; i++) {
        char p[PATH_MAX];
        test_need_face("young", NULL, i, p);
        cr_expect(split_has(&ya, base(p), NULL), "%s missing", base(p));
    }
    DomainSplit *all[] = {&ya, &oa, &yb, &ob, &yc, &oc};
    for (int i = 0; i < 6; i++)
        domain_split_free(all[i]);
}

Test(dataset, test_fraction_edges, .init = setup_root, .fini = teardown_root)
{
    build_split_tree("a", false);
    char yd[PATH_MAX], od[PATH_MAX];
    snprintf(yd, sizeof yd, "%s/a/young", g_root);
    snprintf(od, sizeof od, "%s/a/old", g_root);
    DatasetSpec spec = {.young_dir = yd, .old_dir = od, .seed = 1, .test_fraction = 0.0};
    DomainSplit y, o;
    Err err;
    cr_assert_eq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(y.train.count, 20);
    cr_expect_eq(y.test.count, 0);
    domain_split_free(&y);
    domain_split_free(&o);
    spec.test_fraction = 0.5;
    cr_assert_eq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(y.test.count, 10);
    cr_expect_eq(o.test.count, 5);
    domain_split_free(&y);
    domain_split_free(&o);
    spec.test_fraction = 1.0;
    cr_expect_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, "fraction"), "%s", err.msg);
}

// ---------------------------------------------------------------------------------------------
// Skipped files and errors

Test(dataset, corrupt_images_are_skipped_with_a_warning, .init = setup_root, .fini = teardown_root)
{
    make_dir("young");
    make_dir("old");
    link_faces("young", "young", 3);
    link_faces("old", "old", 2);
    unsigned char junk[2000];
    Rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rng_below(&r, 256);
    write_file("young/25_0_0_random.jpg", junk, sizeof junk);
    char p[PATH_MAX];
    test_need_face("young", NULL, 0, p);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    size_t n = fread(junk, 1, sizeof junk, f);
    fclose(f);
    write_file("old/70_0_0_truncated.jpg", junk, n / 2 < 1000 ? n / 2 : 1000);

    DatasetSpec spec = two_folders();
    DomainSplit y, o;
    Err err;
    Warnings w = {0};
    cr_assert_eq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(total(&y), 3);
    cr_expect_eq(total(&o), 2);
    cr_expect(warned(&w, "skipping", at("young/25_0_0_random.jpg")), "warnings: %d, first: %s", w.n,
              w.n ? w.msg[0] : "");
    cr_expect(warned(&w, "skipping", at("old/70_0_0_truncated.jpg")));
    cr_expect(!split_has(&y, "25_0_0_random.jpg", NULL));
    domain_split_free(&y);
    domain_split_free(&o);
}

Test(dataset, empty_domain_is_an_error, .init = setup_root, .fini = teardown_root)
{
    make_dir("young");
    make_dir("old");
    link_faces("young", "young", 2);
    write_file("old/notes.txt", "x", 1);
    write_file("old/66_0_0_bad.jpg", "not a jpeg", 10);
    DatasetSpec spec = two_folders();
    DomainSplit y, o;
    Err err;
    Warnings w = {0};
    cr_assert_neq(dataset_scan(&spec, &y, &o, collect, &w, &err), 0);
    cr_expect_not_null(strstr(err.msg, "no usable images for the old domain"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, spec.old_dir), "%s", err.msg);
    cr_expect_eq(y.train.count, 0, "nothing is returned on failure");
    cr_expect_null(y.train.paths);

    // With a root, the message names the ages that found nothing.
    teardown_root();
    strcpy(g_root, "/tmp/ageshift_dataset_XXXXXX");
    setup_root();
    char p[PATH_MAX];
    test_need_face("young", "22_", 0, p);
    link_face(p, base(p));
    spec = one_root(20, 30, 65, 80);
    cr_assert_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, "old domain (ages 65-80)"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, g_root), "%s", err.msg);
}

Test(dataset, missing_folder_is_an_error, .init = setup_root, .fini = teardown_root)
{
    make_dir("old");
    link_faces("old", "old", 1);
    DatasetSpec spec = two_folders();
    DomainSplit y, o;
    Err err;
    cr_assert_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, spec.young_dir), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "No such file"), "%s", err.msg);

    spec = one_root(20, 30, 65, 80);
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/nowhere", g_root);
    spec.root = missing;
    cr_assert_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, missing), "%s", err.msg);
}

Test(dataset, bad_specs_are_errors)
{
    DomainSplit y, o;
    Err err;
    DatasetSpec spec = {.young_dir = "/tmp", .test_fraction = 0.2};
    cr_expect_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0, "old folder missing");
    spec = (DatasetSpec){.root = "/tmp",
                         .young_min = 20,
                         .young_max = 70,
                         .old_min = 65,
                         .old_max = 80,
                         .test_fraction = 0.2};
    cr_expect_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, "overlap"), "%s", err.msg);
    spec.young_max = 10;
    cr_expect_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
    cr_expect_not_null(strstr(err.msg, "20-10"), "%s", err.msg);
    spec = (DatasetSpec){.root = "/tmp", .young_dir = "/tmp", .old_dir = "/tmp"};
    cr_expect_neq(dataset_scan(&spec, &y, &o, NULL, NULL, &err), 0);
}
