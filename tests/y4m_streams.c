#include "y4m_streams.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

void buf_free(Buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

// A read-only stream over a copy of DATA (a tmpfile, so an empty one works too).
FILE *mem_in(const void *data, size_t len)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    if (len)
        cr_assert_eq(fwrite(data, 1, len, f), len);
    rewind(f);
    return f;
}

// A y4m stream: HEADER (without '\n'), then FRAMES frames of BODY_LEN bytes each whose byte k of
// frame i is (i * 31 + k * 7) & 255; LAST_CUT bytes cut off the end.
Buf make_y4m(const char *header, int frames, size_t body_len, size_t last_cut)
{
    Buf b = {0};
    size_t hl = strlen(header);
    b.len = hl + 1 + (size_t)frames * (6 + body_len);
    b.data = malloc(b.len);
    cr_assert_not_null(b.data);
    memcpy(b.data, header, hl);
    b.data[hl] = '\n';
    char *p = b.data + hl + 1;
    for (int i = 0; i < frames; i++) {
        memcpy(p, "FRAME\n", 6);
        p += 6;
        for (size_t k = 0; k < body_len; k++)
            *p++ = (char)((i * 31 + k * 7) & 255);
    }
    b.len -= last_cut;
    return b;
}

// Frame F's planes, packed, equal LEN bytes at WANT.
void assert_frame_bytes(const Frame *f, const char *want, size_t len, const char *what)
{
    size_t off = 0;
    int planes = f->fmt == PIXFMT_GRAY8 || f->fmt == PIXFMT_RGB24 ? 1 : 3;
    for (int i = 0; i < planes; i++) {
        int cw = f->width, ch = f->height;
        if (i > 0 && (f->fmt == PIXFMT_YUV420P || f->fmt == PIXFMT_YUV422P))
            cw = (f->width + 1) / 2;
        if (i > 0 && f->fmt == PIXFMT_YUV420P)
            ch = (f->height + 1) / 2;
        if (f->fmt == PIXFMT_RGB24)
            cw *= 3;
        for (int y = 0; y < ch; y++) {
            cr_assert_leq(off + (size_t)cw, len, "%s: frame larger than expected", what);
            cr_assert(memcmp(f->plane[i] + (size_t)y * f->stride[i], want + off, (size_t)cw) == 0,
                      "%s: plane %d row %d differs", what, i, y);
            off += (size_t)cw;
        }
    }
    cr_assert_eq(off, len, "%s: %zu bytes compared, %zu expected", what, off, len);
}

void expect_open_error(const char *text, size_t len, const char *const *want)
{
    FILE *in = mem_in(text, len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_null(r, "opened a broken stream: %.*s", (int)(len < 60 ? len : 60), text);
    for (const char *const *w = want; *w; w++)
        cr_assert(strstr(err.msg, *w), "message \"%s\" lacks \"%s\"", err.msg, *w);
    fclose(in);
}
