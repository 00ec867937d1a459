// Running the ageshift command (or ffmpeg) from tests the way a user would, through the shell.
#ifndef AGESHIFT_TESTS_SHELL_H
#define AGESHIFT_TESTS_SHELL_H

#include <stddef.h>

// Runs the formatted command with its stderr joined to its stdout; keeps the first len - 1 bytes
// of that output in out (NUL-terminated; out may be NULL to discard it). Returns the exit status,
// or -1 when the command did not exit normally.
int shell_capture(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
