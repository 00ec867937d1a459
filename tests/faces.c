#include "faces.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *test_faces_dir(void)
{
    const char *env = getenv("AGESHIFT_FACES");
    return env && *env ? env : TEST_FACES_DEFAULT;
}

bool test_face(const char *sub, const char *prefix, bool (*pred)(const char *), int k, char *out,
               size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", test_faces_dir(), sub);
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return false;
    bool found = false;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char rel[PATH_MAX + 300], abs[PATH_MAX];
        snprintf(rel, sizeof rel, "%s/%s", dir, name);
        if (!found && name[0] != '.' && (!prefix || strncmp(name, prefix, strlen(prefix)) == 0) &&
            (!pred || pred(rel)) && k-- == 0 && realpath(rel, abs) && strlen(abs) < len) {
            memcpy(out, abs, strlen(abs) + 1);
            found = true;
        }
        free(ents[i]);
    }
    free(ents);
    return found;
}

void test_need_face(const char *sub, const char *prefix, int k, char *out)
{
    cr_assert(test_face(sub, prefix, NULL, k, out, PATH_MAX), "no face %s* (#%d) under %s/%s",
              prefix ? prefix : "", k, test_faces_dir(), sub);
}
