// YUV4MPEG2 and raw frame streams (see y4m.h for the format and the choices made).
#include "media/y4m.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC "YUV4MPEG2"
#define MAGIC_LEN 9
#define HEADER_MAX 1024    // the stream header line, "YUV4MPEG2" and '\n' included
#define FRAME_LINE_MAX 256 // a FRAME line, '\n' included
#define DEFAULT_FPS_NUM 25 // what ffmpeg assumes too when F is missing
#define DEFAULT_FPS_DEN 1
#define NAME_MAX_LEN 128

#define SUPPORTED                                                                                  \
    "ageshift reads 8-bit yuv420p, yuv422p, yuv444p and gray (C420jpeg, C420paldv, C420mpeg2, "    \
    "C420, C422, C444, Cmono): convert with ffmpeg's -pix_fmt yuv420p"

// ---------------------------------------------------------------------------------------------
// Formats and frames

static bool fmt_valid(PixFmt fmt)
{
    return fmt >= PIXFMT_YUV420P && fmt <= PIXFMT_RGB24;
}

const char *pixfmt_name(PixFmt fmt)
{
    switch (fmt) {
    case PIXFMT_YUV420P: return "yuv420p";
    case PIXFMT_YUV422P: return "yuv422p";
    case PIXFMT_YUV444P: return "yuv444p";
    case PIXFMT_GRAY8: return "gray";
    case PIXFMT_RGB24: return "rgb24";
    }
    return "?";
}

int pixfmt_parse(const char *name, PixFmt *fmt, Err *err)
{
    static const struct {
        const char *name;
        PixFmt fmt;
    } names[] = {{"yuv420p", PIXFMT_YUV420P}, {"yuv422p", PIXFMT_YUV422P},
                 {"yuv444p", PIXFMT_YUV444P}, {"gray", PIXFMT_GRAY8},
                 {"gray8", PIXFMT_GRAY8},     {"rgb24", PIXFMT_RGB24}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *fmt = names[i].fmt;
            return 0;
        }
    }
    return err_set(err, "unknown pixel format \"%s\": use rgb24, yuv420p, yuv422p, yuv444p or gray",
                   name ? name : "");
}

static int plane_count(PixFmt fmt)
{
    return fmt == PIXFMT_GRAY8 || fmt == PIXFMT_RGB24 ? 1 : 3;
}

// Row length in bytes and row count of plane I of a w x h frame.
static void plane_size(PixFmt fmt, int w, int h, int i, size_t *row, size_t *rows)
{
    size_t cw = (size_t)w, ch = (size_t)h;
    if (i > 0) {
        if (fmt == PIXFMT_YUV420P || fmt == PIXFMT_YUV422P)
            cw = ((size_t)w + 1) / 2;
        if (fmt == PIXFMT_YUV420P)
            ch = ((size_t)h + 1) / 2;
    }
    *row = fmt == PIXFMT_RGB24 ? 3 * cw : cw;
    *rows = ch;
}

static bool dims_valid(int w, int h)
{
    return w >= 1 && w <= Y4M_MAX_DIM && h >= 1 && h <= Y4M_MAX_DIM;
}

size_t frame_bytes(PixFmt fmt, int w, int h)
{
    if (!fmt_valid(fmt) || !dims_valid(w, h))
        return 0;
    size_t total = 0;
    for (int i = 0; i < plane_count(fmt); i++) {
        size_t row, rows;
        plane_size(fmt, w, h, i, &row, &rows);
        total += row * rows;
    }
    return total;
}

int frame_alloc(Frame *f, PixFmt fmt, int w, int h, Err *err)
{
    memset(f, 0, sizeof *f);
    size_t n = frame_bytes(fmt, w, h);
    if (n == 0) {
        if (!fmt_valid(fmt))
            return err_set(err, "frame: invalid pixel format %d", (int)fmt);
        return err_set(err, "frame: size %dx%d is out of range (1 to %d each way)", w, h,
                       Y4M_MAX_DIM);
    }
    uint8_t *p = calloc(1, n);
    if (!p)
        return err_set(err, "frame: out of memory for a %dx%d %s frame (%zu bytes)", w, h,
                       pixfmt_name(fmt), n);
    f->width = w;
    f->height = h;
    f->fmt = fmt;
    for (int i = 0; i < plane_count(fmt); i++) {
        size_t row, rows;
        plane_size(fmt, w, h, i, &row, &rows);
        f->plane[i] = p;
        f->stride[i] = (int)row;
        p += row * rows;
    }
    return 0;
}

void frame_free(Frame *f)
{
    if (!f)
        return;
    free(f->plane[0]);
    memset(f, 0, sizeof *f);
}

// A frame handed to a reader or writer must match the stream and have sane planes.
static int check_frame(const char *name, const StreamInfo *info, const Frame *f, Err *err)
{
    if (!f)
        return err_set(err, "%s: no frame given", name);
    if (f->fmt != info->fmt || f->width != info->width || f->height != info->height)
        return err_set(err, "%s: the frame is %dx%d %s but the stream is %dx%d %s", name, f->width,
                       f->height, pixfmt_name(f->fmt), info->width, info->height,
                       pixfmt_name(info->fmt));
    for (int i = 0; i < plane_count(f->fmt); i++) {
        size_t row, rows;
        plane_size(f->fmt, f->width, f->height, i, &row, &rows);
        if (!f->plane[i] || f->stride[i] < 0 || (size_t)f->stride[i] < row)
            return err_set(err, "%s: frame plane %d is missing or its stride %d is under %zu", name,
                           i, f->stride[i], row);
    }
    return 0;
}

// Up to LEN characters of S (N bytes) in OUT with non-printable bytes as \xNN, for messages.
static void printable(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            o += (size_t)snprintf(out + o, outlen - o, "\\n");
        else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void copy_name(char *dst, const char *name)
{
    snprintf(dst, NAME_MAX_LEN, "%s", name && *name ? name : "stream");
}

// ---------------------------------------------------------------------------------------------
// Reading

struct FrameReader {
    FILE *in;
    char name[NAME_MAX_LEN];
    StreamInfo info;
    bool y4m;
    bool failed;
    size_t frame_size;
    long long frames;
};

// Blocks until FD is ready for EVENTS (a descriptor someone made non-blocking).
static void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
}

// Reads N bytes unless the input ends or fails first; returns how many arrived. *ERRNUM is 0 or
// the errno of a read error. Interrupted and would-block reads are retried.
static size_t read_full(FILE *in, void *buf, size_t n, int *errnum)
{
    size_t got = 0;
    *errnum = 0;
    while (got < n) {
        errno = 0;
        got += fread((char *)buf + got, 1, n - got, in);
        if (got == n || feof(in))
            break;
        if (!ferror(in))
            continue;
        int e = errno;
        if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK) {
            clearerr(in);
            if (e != EINTR && fileno(in) >= 0)
                wait_fd(fileno(in), POLLIN);
            continue;
        }
        *errnum = e ? e : EIO;
        break;
    }
    return got;
}

// Reads bytes into BUF (room for MAX) up to and including '\n'. Returns the length (with the
// '\n'), or the count read when the input ended or MAX was reached without one (the caller tells
// these apart by the last byte); -1 on a read error (errno in *ERRNUM).
static long read_line(FILE *in, char *buf, size_t max, int *errnum)
{
    size_t len = 0;
    while (len < max) {
        if (read_full(in, buf + len, 1, errnum) != 1)
            return *errnum ? -1 : (long)len;
        if (buf[len++] == '\n')
            break;
    }
    return (long)len;
}

// A decimal integer 0..INT_MAX, digits only, the whole of [S, END).
static bool parse_uint(const char *s, const char *end, int *out)
{
    if (s == end)
        return false;
    long v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
        if (v > INT_MAX)
            return false;
    }
    *out = (int)v;
    return true;
}

// "N:D" with both decimal integers >= 0.
static bool parse_ratio(const char *s, int *num, int *den)
{
    const char *colon = strchr(s, ':');
    return colon && parse_uint(s, colon, num) && parse_uint(colon + 1, colon + strlen(colon), den);
}

// The pixel format of a C value, or -1 and a message that says why it is refused.
static int parse_colorspace(const char *name, const char *c, PixFmt *fmt, Err *err)
{
    static const struct {
        const char *c;
        PixFmt fmt;
    } known[] = {{"420jpeg", PIXFMT_YUV420P},  {"420paldv", PIXFMT_YUV420P},
                 {"420mpeg2", PIXFMT_YUV420P}, {"420", PIXFMT_YUV420P},
                 {"422", PIXFMT_YUV422P},      {"444", PIXFMT_YUV444P},
                 {"mono", PIXFMT_GRAY8}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(c, known[i].c) == 0) {
            *fmt = known[i].fmt;
            return 0;
        }
    }
    char shown[64];
    printable(c, strlen(c), shown, sizeof shown);
    // Deeper formats: 420p10, 422p12, 444p16, 420p9, mono10, mono16, ...
    const char *digits = NULL;
    if (strncmp(c, "mono", 4) == 0)
        digits = c + 4;
    else if ((strncmp(c, "420p", 4) == 0 || strncmp(c, "422p", 4) == 0 ||
              strncmp(c, "444p", 4) == 0))
        digits = c + 4;
    int bits;
    if (digits && parse_uint(digits, digits + strlen(digits), &bits) && bits > 8)
        return err_set(err, "%s: colour space C%s is %d bits per sample; " SUPPORTED, name, shown,
                       bits);
    if (strcmp(c, "444alpha") == 0)
        return err_set(
            err, "%s: colour space C444alpha (with an alpha plane) is not supported; " SUPPORTED,
            name);
    if (strcmp(c, "411") == 0)
        return err_set(err, "%s: colour space C411 (4:1:1 chroma) is not supported; " SUPPORTED,
                       name);
    return err_set(err, "%s: unknown colour space C%s; " SUPPORTED, name, shown);
}

// Parses the tags of the header line (after "YUV4MPEG2", '\n' removed) into INFO.
static int parse_header_tags(const char *name, char *tags, StreamInfo *info, Err *err)
{
    bool have_w = false, have_h = false;
    int fps_num = 0, fps_den = 0;
    char *save = NULL;
    for (char *tok = strtok_r(tags, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char shown[64];
        printable(tok, strlen(tok), shown, sizeof shown);
        const char *v = tok + 1;
        switch (tok[0]) {
        case 'W':
        case 'H': {
            int n;
            const char *what = tok[0] == 'W' ? "width" : "height";
            if (!parse_uint(v, v + strlen(v), &n))
                return err_set(err, "%s: stream header: %s is not a valid %s", name, shown, what);
            if (n < 1 || n > Y4M_MAX_DIM)
                return err_set(err, "%s: stream header: %s: the %s must be 1 to %d", name, shown,
                               what, Y4M_MAX_DIM);
            if (tok[0] == 'W') {
                info->width = n;
                have_w = true;
            } else {
                info->height = n;
                have_h = true;
            }
            break;
        }
        case 'F':
            if (!parse_ratio(v, &fps_num, &fps_den))
                return err_set(err, "%s: stream header: %s is not a frame rate like F25:1", name,
                               shown);
            break;
        case 'A':
            if (!parse_ratio(v, &info->sar_num, &info->sar_den))
                return err_set(err, "%s: stream header: %s is not an aspect ratio like A1:1", name,
                               shown);
            break;
        case 'I':
            if (strlen(v) != 1 || !strchr("ptbm?", v[0]))
                return err_set(err,
                               "%s: stream header: %s is not an interlacing mode (Ip, It, Ib, "
                               "Im or I?)",
                               name, shown);
            info->interlace = v[0];
            break;
        case 'C':
            if (strlen(v) >= sizeof info->colorspace)
                return err_set(err, "%s: unknown colour space %s; " SUPPORTED, name, shown);
            strcpy(info->colorspace, v);
            break;
        case 'X': {
            size_t used = strlen(info->extra), add = strlen(tok);
            if (used + (used > 0) + add >= sizeof info->extra)
                return err_set(err, "%s: stream header: the X tags are longer than %zu bytes", name,
                               sizeof info->extra - 1);
            if (used > 0)
                info->extra[used++] = ' ';
            memcpy(info->extra + used, tok, add + 1);
            break;
        }
        default: break; // unknown tags are ignored, as the format asks
        }
    }
    if (!have_w)
        return err_set(err, "%s: stream header has no W (width) tag", name);
    if (!have_h)
        return err_set(err, "%s: stream header has no H (height) tag", name);
    if (fps_num > 0 && fps_den > 0) {
        info->fps_num = fps_num;
        info->fps_den = fps_den;
    } else {
        info->fps_num = DEFAULT_FPS_NUM;
        info->fps_den = DEFAULT_FPS_DEN;
        info->fps_assumed = true;
    }
    if (info->sar_num == 0 || info->sar_den == 0)
        info->sar_num = info->sar_den = 0;
    return parse_colorspace(name, info->colorspace, &info->fmt, err);
}

FrameReader *y4m_reader_open(FILE *in, const char *name, Err *err)
{
    char nm[NAME_MAX_LEN];
    copy_name(nm, name);
    if (!in) {
        err_set(err, "%s: no input stream", nm);
        return NULL;
    }
    char line[HEADER_MAX + 1];
    int e;
    size_t got = read_full(in, line, MAGIC_LEN, &e);
    if (e) {
        err_set(err, "%s: cannot read the stream header: %s", nm, strerror(e));
        return NULL;
    }
    if (got == 0) {
        err_set(err, "%s: empty input: expected a YUV4MPEG2 stream (ffmpeg -f yuv4mpegpipe)", nm);
        return NULL;
    }
    if (memcmp(line, MAGIC, got) != 0) {
        char shown[64];
        printable(line, got, shown, sizeof shown);
        err_set(err,
                "%s: not a YUV4MPEG2 stream: it starts with \"%s\" instead of \"" MAGIC
                "\" (ffmpeg -f yuv4mpegpipe writes one; raw frames need the size and pixel "
                "format given)",
                nm, shown);
        return NULL;
    }
    if (got < MAGIC_LEN) {
        err_set(err, "%s: truncated stream header: the input ends after %zu bytes", nm, got);
        return NULL;
    }
    long n = read_line(in, line + MAGIC_LEN, HEADER_MAX - MAGIC_LEN, &e);
    if (n < 0) {
        err_set(err, "%s: cannot read the stream header: %s", nm, strerror(e));
        return NULL;
    }
    size_t len = MAGIC_LEN + (size_t)n;
    if (line[len - 1] != '\n') {
        if (len >= HEADER_MAX)
            err_set(err, "%s: stream header is longer than %d bytes (no newline)", nm, HEADER_MAX);
        else
            err_set(err,
                    "%s: truncated stream header: the input ends after %zu bytes, before the "
                    "newline",
                    nm, len);
        return NULL;
    }
    line[len - 1] = '\0';
    if (line[MAGIC_LEN] != ' ' && line[MAGIC_LEN] != '\0') {
        char shown[64];
        printable(line, len - 1 < 20 ? len - 1 : 20, shown, sizeof shown);
        err_set(err, "%s: not a YUV4MPEG2 stream: it starts with \"%s\"", nm, shown);
        return NULL;
    }

    StreamInfo info = {.interlace = 'p'};
    strcpy(info.colorspace, "420jpeg");
    if (parse_header_tags(nm, line + MAGIC_LEN, &info, err) < 0)
        return NULL;

    FrameReader *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(err, "%s: out of memory", nm);
        return NULL;
    }
    r->in = in;
    memcpy(r->name, nm, sizeof nm);
    r->info = info;
    r->y4m = true;
    r->frame_size = frame_bytes(info.fmt, info.width, info.height);
    return r;
}

// The y4m C value written for a format without one.
static const char *default_colorspace(PixFmt fmt)
{
    switch (fmt) {
    case PIXFMT_YUV420P: return "420jpeg";
    case PIXFMT_YUV422P: return "422";
    case PIXFMT_YUV444P: return "444";
    case PIXFMT_GRAY8: return "mono";
    case PIXFMT_RGB24: break;
    }
    return "";
}

FrameReader *raw_reader_open(FILE *in, const char *name, int w, int h, PixFmt fmt, int fps_num,
                             int fps_den, Err *err)
{
    char nm[NAME_MAX_LEN];
    copy_name(nm, name);
    if (!in) {
        err_set(err, "%s: no input stream", nm);
        return NULL;
    }
    if (!fmt_valid(fmt)) {
        err_set(err, "%s: invalid pixel format %d", nm, (int)fmt);
        return NULL;
    }
    if (!dims_valid(w, h)) {
        err_set(err, "%s: raw frame size %dx%d is out of range (1 to %d each way)", nm, w, h,
                Y4M_MAX_DIM);
        return NULL;
    }
    FrameReader *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(err, "%s: out of memory", nm);
        return NULL;
    }
    r->in = in;
    memcpy(r->name, nm, sizeof nm);
    r->info.width = w;
    r->info.height = h;
    r->info.fmt = fmt;
    r->info.interlace = 'p';
    if (fps_num > 0 && fps_den > 0) {
        r->info.fps_num = fps_num;
        r->info.fps_den = fps_den;
    } else {
        r->info.fps_num = DEFAULT_FPS_NUM;
        r->info.fps_den = DEFAULT_FPS_DEN;
        r->info.fps_assumed = true;
    }
    strcpy(r->info.colorspace, default_colorspace(fmt));
    r->frame_size = frame_bytes(fmt, w, h);
    return r;
}

const StreamInfo *frame_reader_info(const FrameReader *r)
{
    return &r->info;
}

long long frame_reader_count(const FrameReader *r)
{
    return r->frames;
}

// Reads the FRAME line of frame NO. 1: one is there; 0: clean end of input; -1: error.
static int read_frame_line(FrameReader *r, long long no, Err *err)
{
    char line[FRAME_LINE_MAX];
    int e;
    size_t got = read_full(r->in, line, 5, &e);
    if (e)
        return err_set(err, "%s: cannot read frame %lld: %s", r->name, no, strerror(e));
    if (got == 0)
        return 0;
    if (got < 5 || memcmp(line, "FRAME", 5) != 0) {
        if (got < 5 && memcmp(line, "FRAME", got) == 0)
            return err_set(err, "%s: frame %lld: the input ends inside its FRAME line", r->name,
                           no);
        char shown[64];
        printable(line, got, shown, sizeof shown);
        return err_set(err,
                       "%s: frame %lld: expected \"FRAME\" but found \"%s\" (is the stream's W, "
                       "H or C wrong?)",
                       r->name, no, shown);
    }
    // "FRAME" must be followed by '\n', or by ' ' and tags up to '\n'.
    got = read_full(r->in, line + 5, 1, &e);
    if (e)
        return err_set(err, "%s: cannot read frame %lld: %s", r->name, no, strerror(e));
    if (got == 0)
        return err_set(err, "%s: frame %lld: the input ends inside its FRAME line", r->name, no);
    if (line[5] == '\n')
        return 1;
    if (line[5] != ' ') {
        char shown[64];
        printable(line, 6, shown, sizeof shown);
        return err_set(err, "%s: frame %lld: expected \"FRAME\" but found \"%s\"", r->name, no,
                       shown);
    }
    long n = read_line(r->in, line + 6, sizeof line - 6, &e);
    if (n < 0)
        return err_set(err, "%s: cannot read frame %lld: %s", r->name, no, strerror(e));
    size_t len = 6 + (size_t)n;
    if (line[len - 1] != '\n') {
        if (len >= sizeof line)
            return err_set(err, "%s: frame %lld: FRAME line longer than %zu bytes", r->name, no,
                           sizeof line);
        return err_set(err, "%s: frame %lld: the input ends inside its FRAME line", r->name, no);
    }
    return 1; // frame tags, if any, are skipped
}

int frame_reader_next(FrameReader *r, Frame *f, Err *err)
{
    if (r->failed)
        return err_set(err, "%s: the stream already failed", r->name);
    if (check_frame(r->name, &r->info, f, err) < 0)
        return -1;
    long long no = r->frames + 1;
    bool first_byte_read = false;
    if (r->y4m) {
        int rc = read_frame_line(r, no, err);
        if (rc <= 0) {
            r->failed = rc < 0;
            return rc;
        }
        first_byte_read = true;
    }
    size_t done = 0;
    for (int i = 0; i < plane_count(f->fmt); i++) {
        size_t row, rows;
        plane_size(f->fmt, f->width, f->height, i, &row, &rows);
        size_t chunk = (size_t)f->stride[i] == row ? row * rows : row; // whole plane if packed
        for (size_t y = 0; y < rows; y += chunk / row) {
            int e;
            size_t got = read_full(r->in, f->plane[i] + y * (size_t)f->stride[i], chunk, &e);
            done += got;
            if (e) {
                r->failed = true;
                return err_set(err, "%s: cannot read frame %lld: %s", r->name, no, strerror(e));
            }
            if (got < chunk) {
                if (done == 0 && !first_byte_read)
                    return 0; // raw stream: ended at a frame boundary
                r->failed = true;
                return err_set(err, "%s: frame %lld is truncated: %zu of %zu bytes", r->name, no,
                               done, r->frame_size);
            }
        }
    }
    r->frames = no;
    return 1;
}

void frame_reader_close(FrameReader *r)
{
    free(r);
}

// ---------------------------------------------------------------------------------------------
// Writing

struct FrameWriter {
    FILE *out;
    int fd; // -1: write through stdio
    char name[NAME_MAX_LEN];
    StreamInfo info;
    bool y4m;
    bool failed;
    long long frames;
    struct iovec *iov; // one per row at most, plus the FRAME line
    size_t iov_cap;
};

static int write_error(FrameWriter *w, int e, const char *what, Err *err)
{
    w->failed = true;
    if (e == EPIPE)
        return err_set(err,
                       "%s: the reader of the output went away (broken pipe, EPIPE) while writing "
                       "%s; %lld frames were written",
                       w->name, what, w->frames);
    return err_set(err, "%s: cannot write %s: %s", w->name, what, strerror(e ? e : EIO));
}

// Writes the N segments IOV (modified) completely. WHAT names the data for messages.
static int write_all(FrameWriter *w, struct iovec *iov, size_t n, const char *what, Err *err)
{
    if (w->fd < 0) {
        for (size_t i = 0; i < n; i++) {
            errno = 0;
            if (iov[i].iov_len &&
                fwrite(iov[i].iov_base, 1, iov[i].iov_len, w->out) != iov[i].iov_len)
                return write_error(w, errno, what, err);
        }
        errno = 0;
        if (fflush(w->out) != 0)
            return write_error(w, errno, what, err);
        return 0;
    }
    size_t i = 0;
    while (i < n) {
        if (iov[i].iov_len == 0) {
            i++;
            continue;
        }
        size_t cnt = n - i < IOV_MAX ? n - i : IOV_MAX;
        ssize_t k = writev(w->fd, iov + i, (int)cnt);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_fd(w->fd, POLLOUT);
                continue;
            }
            return write_error(w, errno, what, err);
        }
        size_t left = (size_t)k;
        while (i < n && left >= iov[i].iov_len) {
            left -= iov[i].iov_len;
            i++;
        }
        if (left > 0) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    return 0;
}

static FrameWriter *writer_open(FILE *out, const char *name, const StreamInfo *info, bool y4m,
                                Err *err)
{
    char nm[NAME_MAX_LEN];
    copy_name(nm, name);
    if (!out || !info) {
        err_set(err, "%s: no output stream or stream info", nm);
        return NULL;
    }
    if (!fmt_valid(info->fmt)) {
        err_set(err, "%s: invalid pixel format %d", nm, (int)info->fmt);
        return NULL;
    }
    if (!dims_valid(info->width, info->height)) {
        err_set(err, "%s: frame size %dx%d is out of range (1 to %d each way)", nm, info->width,
                info->height, Y4M_MAX_DIM);
        return NULL;
    }
    FrameWriter *w = calloc(1, sizeof *w);
    if (!w) {
        err_set(err, "%s: out of memory", nm);
        return NULL;
    }
    w->out = out;
    w->fd = fileno(out);
    memcpy(w->name, nm, sizeof nm);
    w->info = *info;
    w->y4m = y4m;
    // Room for one segment per row of every plane, plus the FRAME line.
    w->iov_cap = 1 + 3 * (size_t)info->height;
    w->iov = calloc(w->iov_cap, sizeof *w->iov);
    if (!w->iov) {
        err_set(err, "%s: out of memory", nm);
        free(w);
        return NULL;
    }
    errno = 0;
    if (fflush(out) != 0) {
        write_error(w, errno, "earlier output", err);
        frame_writer_close(w);
        return NULL;
    }
    return w;
}

FrameWriter *y4m_writer_open(FILE *out, const char *name, const StreamInfo *info, Err *err)
{
    char nm[NAME_MAX_LEN];
    copy_name(nm, name);
    if (info && info->fmt == PIXFMT_RGB24) {
        err_set(err,
                "%s: y4m carries YUV or gray frames, not rgb24: convert first, or write raw "
                "frames",
                nm);
        return NULL;
    }
    if (info && fmt_valid(info->fmt)) {
        PixFmt cs_fmt;
        const char *cs = info->colorspace[0] ? info->colorspace : default_colorspace(info->fmt);
        if (strnlen(info->colorspace, sizeof info->colorspace) == sizeof info->colorspace ||
            parse_colorspace(nm, cs, &cs_fmt, err) < 0)
            return NULL;
        if (cs_fmt != info->fmt) {
            err_set(err, "%s: colour space C%s does not match the frames' pixel format %s", nm, cs,
                    pixfmt_name(info->fmt));
            return NULL;
        }
        if (info->fps_num <= 0 || info->fps_den <= 0 || info->sar_num < 0 || info->sar_den < 0) {
            err_set(err, "%s: invalid frame rate %d:%d or aspect ratio %d:%d", nm, info->fps_num,
                    info->fps_den, info->sar_num, info->sar_den);
            return NULL;
        }
        if (info->interlace && !strchr("ptbm?", info->interlace)) {
            err_set(err, "%s: invalid interlacing mode '%c'", nm, info->interlace);
            return NULL;
        }
        size_t xlen = strnlen(info->extra, sizeof info->extra);
        if (xlen == sizeof info->extra || memchr(info->extra, '\n', xlen)) {
            err_set(err, "%s: the X tags are not one line of under %zu bytes", nm,
                    sizeof info->extra);
            return NULL;
        }
    }
    FrameWriter *w = writer_open(out, nm, info, true, err);
    if (!w)
        return NULL;
    const StreamInfo *s = &w->info;
    if (!s->colorspace[0])
        strcpy(w->info.colorspace, default_colorspace(s->fmt));
    char header[HEADER_MAX + 64];
    int n = snprintf(header, sizeof header, MAGIC " W%d H%d F%d:%d I%c A%d:%d C%s%s%s\n", s->width,
                     s->height, s->fps_num, s->fps_den, s->interlace ? s->interlace : 'p',
                     s->sar_num, s->sar_den, s->colorspace, s->extra[0] ? " " : "", s->extra);
    struct iovec iov = {.iov_base = header, .iov_len = (size_t)n};
    if (write_all(w, &iov, 1, "the stream header", err) < 0) {
        frame_writer_close(w);
        return NULL;
    }
    return w;
}

FrameWriter *raw_writer_open(FILE *out, const char *name, const StreamInfo *info, Err *err)
{
    return writer_open(out, name, info, false, err);
}

int frame_writer_put(FrameWriter *w, const Frame *f, Err *err)
{
    if (w->failed)
        return err_set(err, "%s: the stream already failed", w->name);
    if (check_frame(w->name, &w->info, f, err) < 0)
        return -1;
    static const char frame_line[] = "FRAME\n";
    size_t n = 0;
    if (w->y4m)
        w->iov[n++] = (struct iovec){.iov_base = (void *)frame_line, .iov_len = 6};
    for (int i = 0; i < plane_count(f->fmt); i++) {
        size_t row, rows;
        plane_size(f->fmt, f->width, f->height, i, &row, &rows);
        if ((size_t)f->stride[i] == row) {
            w->iov[n++] = (struct iovec){.iov_base = f->plane[i], .iov_len = row * rows};
            continue;
        }
        for (size_t y = 0; y < rows; y++)
            w->iov[n++] =
                (struct iovec){.iov_base = f->plane[i] + y * (size_t)f->stride[i], .iov_len = row};
    }
    char what[64];
    snprintf(what, sizeof what, "frame %lld", w->frames + 1);
    if (write_all(w, w->iov, n, what, err) < 0)
        return -1;
    w->frames++;
    return 0;
}

void frame_writer_close(FrameWriter *w)
{
    if (!w)
        return;
    if (w->fd < 0 && !w->failed)
        fflush(w->out);
    free(w->iov);
    free(w);
}
