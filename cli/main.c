// The ageshift command: picks the OpenBLAS kernel, then hands over to a subcommand.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/base/blas_setup.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "ageshift — make faces look decades older or younger\n"
        "\n"
        "usage: ageshift <command> [options]\n"
        "\n"
        "commands:\n"
        "  convert        make every face in a video file older or younger\n"
        "  filter         the same for frames piped in (y4m or raw) and out, as ffmpeg pipes\n"
        "  image          the same for one photo\n"
        "  live           the same live from a webcam, to a window and/or a virtual webcam\n"
        "  train          learn young->old and old->young from folders of face photos\n"
        "  translate      run face crops through a model, one direction\n"
        "  info FILE      show the networks, architecture and tensors in a model or checkpoint\n"
        "  version        show the version and the OpenBLAS kernel in use\n"
        "\n"
        "  ageshift <command> --help   shows a command's options.\n");
}

int main(int argc, char **argv)
{
    Err err;
    // A file-size limit (ulimit -f) then fails a write with EFBIG, which is reported like a
    // full disk, instead of killing the process mid-file.
    signal(SIGXFSZ, SIG_IGN);
    if (blas_select_kernel(argv, &err) != 0)
        fprintf(stderr, "ageshift: warning: %s\n", err.msg);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version"))
        return cmd_version(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "live"))
        return cmd_live(argc - 1, argv + 1);
    if (!strcmp(cmd, "image"))
        return cmd_image(argc - 1, argv + 1);
    if (!strcmp(cmd, "filter"))
        return cmd_filter(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert"))
        return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "translate"))
        return cmd_translate(argc - 1, argv + 1);
    fprintf(stderr, "ageshift: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
