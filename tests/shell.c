#include "shell.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

int shell_capture(char *out, size_t len, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    // A subshell, so that the command's own redirections (2>file) still apply inside it.
    strcpy(cmd, "( ");
    int n = vsnprintf(cmd + 2, sizeof cmd - 16, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd - 16)
        return -1;
    strcat(cmd, " ) 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char sink[4096];
    size_t got = 0, r;
    // Read to the end (a command must not block on a full pipe), keeping what fits.
    while ((r = fread(sink, 1, sizeof sink, p)) > 0) {
        if (out && got + 1 < len) {
            size_t keep = r < len - 1 - got ? r : len - 1 - got;
            memcpy(out + got, sink, keep);
            got += keep;
        }
    }
    if (out && len)
        out[got] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
