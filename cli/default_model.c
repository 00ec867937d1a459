#include "cli/default_model.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"

#ifndef AGESHIFT_DATADIR
#define AGESHIFT_DATADIR "/usr/local/share/ageshift"
#endif

const char *model_or_default(const char *command, const char *given)
{
    static char beside_exe[PATH_MAX + 64];
    if (given)
        return given;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    beside_exe[0] = '\0';
    if (n > 0) {
        exe[n] = '\0';
        snprintf(beside_exe, sizeof beside_exe, "%s/%s", dirname(exe), DEFAULT_MODEL);
    }
    const char *candidates[] = {DEFAULT_MODEL, beside_exe, AGESHIFT_DATADIR "/model.safetensors"};
    for (int i = 0; i < 3; i++)
        if (candidates[i][0] && access(candidates[i], R_OK) == 0)
            return candidates[i];
    fprintf(stderr,
            "ageshift %s: no default model (looked for %s here, beside the executable and in "
            "%s); give one with --model FILE, e.g. the model.safetensors of a run of ageshift "
            "train\n",
            command, DEFAULT_MODEL, AGESHIFT_DATADIR);
    return NULL;
}
