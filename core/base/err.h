// Error reporting for library code: functions return 0 (or a pointer) on success, a negative
// code (or NULL) on failure, and leave a human-readable reason in an Err the caller owns.
#ifndef AGESHIFT_ERR_H
#define AGESHIFT_ERR_H

#define ERR_MAX 512

typedef struct {
    char msg[ERR_MAX];
} Err;

// Formats the reason into err (which may be NULL) and returns -1, so a failure path reads
// `return err_set(err, "%s: truncated", path);`.
int err_set(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
