// Helpers of the y4m tests (test_y4m.c and test_y4m_broken.c): byte buffers, streams over
// memory, made-up y4m streams and frame comparisons.
#ifndef AGESHIFT_TESTS_Y4M_STREAMS_H
#define AGESHIFT_TESTS_Y4M_STREAMS_H

#include <stddef.h>
#include <stdio.h>

#include "media/y4m.h"

typedef struct {
    char *data;
    size_t len;
} Buf;

void buf_free(Buf *b);
// A read-only stream over a copy of DATA (a tmpfile, so an empty one works too).
FILE *mem_in(const void *data, size_t len);
// A y4m stream: HEADER (without '\n'), then FRAMES frames of BODY_LEN bytes each whose byte k of
// frame i is (i * 31 + k * 7) & 255; LAST_CUT bytes cut off the end.
Buf make_y4m(const char *header, int frames, size_t body_len, size_t last_cut);
// Frame F's planes, packed, equal LEN bytes at WANT (a Criterion assertion).
void assert_frame_bytes(const Frame *f, const char *want, size_t len, const char *what);
// Opens a y4m reader on TEXT and expects it to fail with a message containing each of the
// NULL-terminated WANT strings.
void expect_open_error(const char *text, size_t len, const char *const *want);
#define EXPECT_OPEN_ERROR(text, ...)                                                               \
    expect_open_error(text, strlen(text), (const char *const[]){__VA_ARGS__, NULL})

#endif
