// The training faces for the benches: see bench_faces.h.
#include "bench/bench_faces.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

unsigned bench_lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

void paste_gray(const Image *img, uint8_t *dst, int stride, int ox, int oy)
{
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            const uint8_t *p = img->rgb + 3 * ((size_t)y * img->w + x);
            dst[(size_t)(oy + y) * stride + ox + x] =
                (uint8_t)(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + 0.5);
        }
}

int face_list(const char *root, FaceList *out)
{
    const char *subs[] = {"young", "old"};
    out->paths = NULL;
    out->n = 0;
    for (int s = 0; s < 2; s++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", root, subs[s]);
        struct dirent **ents;
        int n = scandir(dir, &ents, NULL, alphasort);
        if (n < 0)
            continue;
        char **p = realloc(out->paths, (size_t)(out->n + n) * sizeof *p);
        if (!p)
            return -1;
        out->paths = p;
        for (int i = 0; i < n; i++) {
            const char *name = ents[i]->d_name;
            size_t len = strlen(name);
            if (name[0] != '.' && len > 4 && strcmp(name + len - 4, ".jpg") == 0) {
                size_t need = strlen(dir) + len + 2;
                char *path = malloc(need);
                if (path) {
                    snprintf(path, need, "%s/%s", dir, name);
                    out->paths[out->n++] = path;
                }
            }
            free(ents[i]);
        }
        free(ents);
    }
    return out->n > 0 ? 0 : -1;
}

const char *bench_faces_dir(const char *arg)
{
    const char *dir = arg ? arg : getenv("AGESHIFT_FACES");
    return dir && *dir ? dir : "../shared/faces";
}

void face_list_free(FaceList *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = 0;
}
