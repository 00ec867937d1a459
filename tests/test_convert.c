// End to end: a short clip with real faces moving over a background and an audio track, through
// ageshift convert and ageshift filter. Same frame count, duration and audio; the background
// bit-identical (the test encodes losslessly so that only the filter can change a pixel); the
// faces changed. Bad input gets a clear message and leaves no output file.
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faces.h"
#include "shell.h"

#define MODEL "tests/fixtures/golden_model.safetensors" // 32 px, untrained: it changes faces
// (An untrained model's change is blotches all over, which the artefact guard would hold back:
// the commands here run with --guard 0, as they test the plumbing, not the looks.)
#define W 640
#define H 480
#define FRAMES 40 // 25 fps

static char tmp[] = "/tmp/ageshift-convert-XXXXXX";
static char log_text[8192];
#define sh(...) shell_capture(log_text, sizeof log_text, __VA_ARGS__)

// Two test faces (tests/faces.h): one drifting right, one drifting down; a 440 Hz tone. A
// keyframe every 10 frames, so a stream damaged in one frame decodes again at the next.
static void make_clip(void)
{
    cr_assert_not_null(mkdtemp(tmp));
    if (access("/usr/bin/ffmpeg", X_OK) != 0)
        cr_skip_test("needs /usr/bin/ffmpeg");
    cr_assert_eq(sh("a=$(ls " TEST_FACES_SH "/young | head -n 1); b=$(ls " TEST_FACES_SH "/old | "
                    "head -n 1); ffmpeg -v error -f lavfi -i color=c=0x406080:s=%dx%d:r=25 "
                    "-loop 1 -i " TEST_FACES_SH "/young/$a -loop 1 -i " TEST_FACES_SH "/old/$b "
                    "-f lavfi -i sine=frequency=440:sample_rate=44100 -filter_complex "
                    "\"[1]scale=180:180[a];[2]scale=160:160[b];[0][a]overlay=x='60+40*t':y="
                    "120[v1];[v1][b]overlay=x=400:y='100+30*t'[v]\" -map '[v]' -map 3 "
                    "-frames:v %d -t 1.6 -c:v libx264 -crf 12 -g 10 -pix_fmt yuv420p -c:a aac "
                    "%s/clip.mp4",
                    W, H, FRAMES, tmp),
                 0, "%s", log_text);
}

static void remove_tmp(void)
{
    sh("rm -rf %s", tmp);
}

TestSuite(convert, .init = make_clip, .fini = remove_tmp, .timeout = 300);

static long count_frames(const char *path)
{
    cr_assert_eq(sh("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                    "stream=nb_read_frames -of csv=p=0 %s",
                    path),
                 0, "%s", log_text);
    return atol(log_text);
}

static void audio_md5(const char *path, char *out, size_t len)
{
    cr_assert_eq(sh("ffmpeg -v error -i %s -map 0:a -c copy -f md5 -", path), 0, "%s", log_text);
    snprintf(out, len, "%.100s", log_text);
}

static unsigned char *decode_all(const char *path, size_t *size)
{
    char raw[512];
    snprintf(raw, sizeof raw, "%s.yuv", path);
    cr_assert_eq(sh("ffmpeg -v error -y -i %s -f rawvideo -pix_fmt yuv420p %s", path, raw), 0, "%s",
                 log_text);
    FILE *f = fopen(raw, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(*size);
    cr_assert_eq(fread(buf, 1, *size, f), *size);
    fclose(f);
    return buf;
}

// Luma pixels that differ, inside and outside the regions the faces cross (with a margin).
static void compare_luma(const unsigned char *a, const unsigned char *b, size_t frames,
                         long *inside, long *outside)
{
    *inside = *outside = 0;
    const size_t frame = (size_t)W * H * 3 / 2;
    for (size_t f = 0; f < frames; f++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t i = f * frame + (size_t)y * W + x;
                // Face A: x 60..304 + 180, y 120..300; face B: x 400..560, y 100..308 + 160.
                bool near_a = x > 0 && x < 360 && y > 40 && y < 380;
                bool near_b = x > 330 && x < 640 && y > 20 && y < 460;
                if (a[i] != b[i])
                    (near_a || near_b ? (*inside)++ : (*outside)++);
            }
}

Test(convert, faces_change_and_everything_else_is_kept)
{
    char in[512], out[512], plain[512], md5_in[128], md5_out[128];
    snprintf(in, sizeof in, "%s/clip.mp4", tmp);
    snprintf(out, sizeof out, "%s/old.mp4", tmp);
    snprintf(plain, sizeof plain, "%s/plain.mp4", tmp);
    cr_assert_eq(sh("${AGESHIFT_BIN:-./build/ageshift} convert -i %s -o %s --to old --guard 0 "
                    "--model %s -crf 0 "
                    "--detect-every 1",
                    in, out, MODEL),
                 0, "%s", log_text);
    cr_expect_not_null(strstr(log_text, "faces changed"), "%s", log_text);
    cr_expect_eq(count_frames(out), FRAMES);
    audio_md5(in, md5_in, sizeof md5_in);
    audio_md5(out, md5_out, sizeof md5_out);
    cr_expect_str_eq(md5_in, md5_out, "the audio was not copied as it was");
    // The same clip losslessly re-encoded without a face changed, as the reference.
    cr_assert_eq(sh("ffmpeg -v error -i %s -c:v libx264 -crf 0 -c:a copy %s", in, plain), 0, "%s",
                 log_text);
    size_t na, nb;
    unsigned char *a = decode_all(plain, &na), *b = decode_all(out, &nb);
    cr_assert_eq(na, nb);
    long inside, outside;
    compare_luma(a, b, FRAMES, &inside, &outside);
    cr_expect_eq(outside, 0, "%ld background pixels changed", outside);
    cr_expect_gt(inside, 1000 * FRAMES, "only %ld face pixels changed", inside);
    free(a);
    free(b);
}

Test(convert, filter_pipes_y4m_through)
{
    char in[512];
    snprintf(in, sizeof in, "%s/clip.mp4", tmp);
    cr_assert_eq(sh("ffmpeg -v error -i %s -f yuv4mpegpipe -pix_fmt yuv420p - | "
                    "${AGESHIFT_BIN:-./build/ageshift} filter --to young --guard 0 --model %s "
                    "--detect-every "
                    "1 --generate-every 1 2>%s/err | "
                    "ffmpeg -v error -i - -f rawvideo -pix_fmt yuv420p %s/filtered.yuv",
                    in, MODEL, tmp, tmp),
                 0, "%s", log_text);
    cr_assert_eq(sh("ffmpeg -v error -i %s -f rawvideo -pix_fmt yuv420p %s/orig.yuv", in, tmp), 0);
    struct stat sa, sb;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/orig.yuv", tmp);
    snprintf(b, sizeof b, "%s/filtered.yuv", tmp);
    cr_assert_eq(stat(a, &sa), 0);
    cr_assert_eq(stat(b, &sb), 0);
    cr_expect_eq(sa.st_size, sb.st_size, "frame count differs");
    cr_expect_eq(sa.st_size, (off_t)W * H * 3 / 2 * FRAMES);
    cr_expect_neq(sh("cmp -s %s %s", a, b), 0, "no face was changed");
}

// convert changes the frames it decodes; a decoded frame shares its buffer with the decoder's
// reference pictures, so a change made there reached the frames decoded after it (the faces
// of P-frames were aged twice, and with frame threads differently from run to run). So convert
// (lossless) must give exactly the frames of filter on the same decoded stream, and the same
// frames every time.
Test(convert, gives_the_frames_filter_gives)
{
    // P-frames only, one keyframe: every frame is predicted from the one before it.
    cr_assert_eq(sh("ffmpeg -v error -i %s/clip.mp4 -an -c:v libx264 -crf 12 -bf 0 -g %d "
                    "%s/chain.mp4",
                    tmp, FRAMES, tmp),
                 0, "%s", log_text);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(sh("${AGESHIFT_BIN:-./build/ageshift} convert -i %s/chain.mp4 -o "
                        "%s/lossless%d.mkv --to old -crf 0 --guard 0 --model %s >/dev/null 2>&1 && "
                        "ffmpeg -v error -i %s/lossless%d.mkv -map 0:v -f framemd5 - | "
                        "grep -v '^#' | cut -d, -f6 > %s/convert%d.md5",
                        tmp, tmp, i, MODEL, tmp, i, tmp, i),
                     0, "%s", log_text);
    cr_assert_eq(
        sh("ffmpeg -v error -i %s/chain.mp4 -f yuv4mpegpipe -pix_fmt yuv420p - | "
           "${AGESHIFT_BIN:-./build/ageshift} filter --to old --guard 0 --model %s 2>/dev/null | "
           "ffmpeg -v error -i - -f framemd5 - | grep -v '^#' | cut -d, -f6 > "
           "%s/filter.md5",
           tmp, MODEL, tmp),
        0, "%s", log_text);
    cr_expect_eq(sh("wc -l < %s/filter.md5", tmp), 0);
    cr_expect_eq(atol(log_text), FRAMES, "%s frames", log_text);
    cr_expect_eq(sh("diff %s/convert0.md5 %s/convert1.md5 | grep -c '^<'", tmp, tmp), 1,
                 "two runs differ in %s frames", log_text);
    cr_expect_eq(sh("diff %s/convert0.md5 %s/filter.md5 | grep -c '^<'", tmp, tmp), 1,
                 "convert and filter differ in %s frames", log_text);
}

Test(convert, bad_input_leaves_no_output)
{
    char out[512];
    snprintf(out, sizeof out, "%s/none.mp4", tmp);
    cr_expect_eq(sh("${AGESHIFT_BIN:-./build/ageshift} convert -i /nonexistent.mp4 -o %s --to old "
                    "--guard 0 --model %s",
                    out, MODEL),
                 1);
    cr_expect_not_null(strstr(log_text, "/nonexistent.mp4"), "%s", log_text);
    cr_expect_neq(access(out, F_OK), 0);
    // A file that is not a video.
    cr_expect_eq(
        sh("${AGESHIFT_BIN:-./build/ageshift} convert -i %s -o %s --to old --guard 0 --model %s",
           MODEL, out, MODEL),
        1);
    cr_expect_neq(access(out, F_OK), 0);
    cr_expect_neq(sh("ls %s | grep tmp", tmp), 0, "a temporary file was left: %s", log_text);
    // A truncated y4m stream: the frames before the cut come out, then a clear error.
    cr_expect_neq(sh("(ffmpeg -v quiet -i %s/clip.mp4 -f yuv4mpegpipe -pix_fmt yuv420p - | "
                     "head -c 1000000 | ${AGESHIFT_BIN:-./build/ageshift} filter --to old --model "
                     "%s > /dev/null)",
                     tmp, MODEL),
                  0);
    cr_expect_not_null(strstr(log_text, "truncated"), "%s", log_text);
}

Test(convert, a_stream_broken_off_midway_gives_what_it_has)
{
    // MPEG-TS can be cut anywhere; damage some bytes in the middle too.
    cr_assert_eq(sh("ffmpeg -v error -i %s/clip.mp4 -c copy -f mpegts %s/clip.ts", tmp, tmp), 0,
                 "%s", log_text);
    char ts[512];
    snprintf(ts, sizeof ts, "%s/clip.ts", tmp);
    struct stat st;
    cr_assert_eq(stat(ts, &st), 0);
    cr_assert_eq(truncate(ts, st.st_size * 2 / 3), 0);
    cr_assert_eq(sh("printf 'garbagegarbagegarbage' | dd of=%s bs=1 seek=%ld conv=notrunc "
                    "status=none",
                    ts, (long)(st.st_size / 3)),
                 0);
    char out[512];
    snprintf(out, sizeof out, "%s/cut.mkv", tmp);
    cr_expect_eq(
        sh("${AGESHIFT_BIN:-./build/ageshift} convert -i %s -o %s --to old --guard 0 --model %s",
           ts, out, MODEL),
        0, "%s", log_text);
    long frames = count_frames(out);
    cr_expect(frames > 5 && frames < FRAMES, "%ld frames", frames);
}

Test(convert, an_unwritable_output_is_an_error_naming_it)
{
    cr_expect_eq(sh("${AGESHIFT_BIN:-./build/ageshift} convert -i %s/clip.mp4 -o "
                    "/nonexistent/dir/out.mp4 --to old --guard 0 --model %s",
                    tmp, MODEL),
                 1);
    cr_expect_not_null(strstr(log_text, "/nonexistent/dir/out.mp4"), "%s", log_text);
}

Test(convert, duration_is_kept)
{
    char out[512];
    snprintf(out, sizeof out, "%s/same.mkv", tmp);
    cr_assert_eq(sh("${AGESHIFT_BIN:-./build/ageshift} convert -i %s/clip.mp4 -o %s --to young "
                    "--guard 0 --model %s",
                    tmp, out, MODEL),
                 0, "%s", log_text);
    double d[2];
    const char *files[2] = {"clip.mp4", "same.mkv"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sh("ffprobe -v error -select_streams v:0 -show_entries format=duration -of "
                        "csv=p=0 %s/%s",
                        tmp, files[i]),
                     0, "%s", log_text);
        d[i] = atof(log_text);
    }
    cr_expect(d[0] > 1.0 && fabs(d[0] - d[1]) < 0.05, "duration %g s became %g s", d[0], d[1]);
}

// Whether process pid holds an open file that has no name in the file system yet (an
// O_TMPFILE output shows as "DIR/#inode (deleted)"), or any file in dir.
static bool holds_output(long pid, const char *dir)
{
    char fds[64];
    snprintf(fds, sizeof fds, "/proc/%ld/fd", pid);
    DIR *d = opendir(fds);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char link[400], target[PATH_MAX] = "";
        snprintf(link, sizeof link, "%s/%s", fds, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        found = n > 0 && strncmp(target, dir, strlen(dir)) == 0;
    }
    closedir(d);
    return found;
}

// SIGKILL in the middle of a conversion: no output and no temporary file is left behind (the
// output was an unnamed file until complete); with the named fallback of file systems that
// have no unnamed files, the next conversion to that output removes the dead one's temporary.
Test(convert, a_killed_convert_leaves_nothing_behind)
{
    const char *modes[] = {"", "AGESHIFT_NO_TMPFILE=1 "};
    for (int m = 0; m < 2; m++) {
        char dir[600], pidfile[700];
        snprintf(dir, sizeof dir, "%s/killed%d", tmp, m);
        snprintf(pidfile, sizeof pidfile, "%s.pid", dir);
        cr_assert_eq(mkdir(dir, 0755), 0);
        // Input in real time from a pipe, so the command is mid-stream, its output open, when
        // it is killed; $! is the pipeline's last process, the command.
        cr_assert_eq(sh("ffmpeg -v error -re -stream_loop 8 -i %s/clip.mp4 -c copy -f matroska - "
                        "2>/dev/null | %s${AGESHIFT_BIN:-./build/ageshift} convert -i pipe:0 -o "
                        "%s/out.mkv --to old --guard 0 --model %s >/dev/null 2>&1 & echo $! > %s",
                        tmp, modes[m], dir, MODEL, pidfile),
                     0, "%s", log_text);
        FILE *f = fopen(pidfile, "r");
        cr_assert_not_null(f);
        long pid = 0;
        cr_assert_eq(fscanf(f, "%ld", &pid), 1);
        fclose(f);
        bool open = false;
        for (int i = 0; i < 300 && !(open = holds_output(pid, dir)); i++)
            usleep(50000);
        cr_assert(open, "convert (pid %ld) never opened its output in %s", pid, dir);
        usleep(300000); // some frames written
        cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/%ld", pid);
        for (int i = 0; i < 100 && access(proc, F_OK) == 0; i++)
            usleep(20000);
        cr_expect_eq(sh("ls -A %s", dir), 0);
        if (m == 0) {
            cr_expect_str_eq(log_text, "", "left behind: %s", log_text);
            continue;
        }
        // The named fallback leaves its temporary until the next write of that output.
        cr_expect_not_null(strstr(log_text, "out.mkv.tmp."), "%s", log_text);
        cr_expect_eq(sh("AGESHIFT_NO_TMPFILE=1 ${AGESHIFT_BIN:-./build/ageshift} convert -i "
                        "%s/clip.mp4 -o %s/out.mkv --to old --guard 0 --model %s",
                        tmp, dir, MODEL),
                     0, "%s", log_text);
        cr_expect_eq(sh("ls -A %s", dir), 0);
        cr_expect_str_eq(log_text, "out.mkv\n", "%s", log_text);
    }
}
