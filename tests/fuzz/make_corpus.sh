#!/bin/sh
# Regenerates the fuzz seed corpora in tests/fuzz/corpus/ from real sources, each a few KB:
#   safetensors   files written by our own writer (make_corpus.c): a tiny complete model, a
#                 plain file with metadata, scalar and empty tensors, and an F16 file
#   landmarks     Debian's dlib 68-point model cut to 1 cascade of 2 trees and to 3 cascades of
#                 1 tree, written by make_corpus.c (needs libdlib-data)
#   y4m, raw      streams written by ffmpeg (testsrc), raw ones behind the 7-byte header that
#                 fuzz_raw.c reads (int16 width, int16 height, int8 format, fps, fps den)
#   cascade       Debian's opencv-data cascades cut to their first stages (prune_cascade.py)
#   dataset_name  real UTKFace file names (names only, from ../shared/faces) and Kaggle folders
#   camera        YUYV and MJPEG frames written by ffmpeg behind the 7-byte mode header that
#                 fuzz_camera.c reads (format, uint16 width, height, bytes per line)
# Needs `make` done first (it links the build's objects), ffmpeg, python3, opencv-data and
# libdlib-data.
#   usage: tests/fuzz/make_corpus.sh [BUILD]   (run from the project root)
set -eu
build=${1:-build}
out=tests/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/safetensors" "$out/y4m" "$out/raw" "$out/cascade" "$out/dataset_name" \
    "$out/camera" "$out/landmarks"

# Little-endian integers as raw bytes.
le16() { printf "$(printf '\\%03o\\%03o' $(($1 & 255)) $((($1 >> 8) & 255)))"; }
byte() { printf "$(printf '\\%03o' $(($1 & 255)))"; }
ff() { ffmpeg -nostdin -loglevel error -y "$@"; }

# safetensors and landmarks: our own writers.
# (the objects of today's sources: a build folder may still hold those of removed files)
objs=$(for s in core/*/*.c media/*.c filter/*.c capture/*.c; do echo "$build/${s%.c}.o"; done)
libs=$(pkg-config --libs openblas jansson libavformat libavcodec libswscale libavutil \
    libxml-2.0 sdl2)
cc -std=c11 -D_GNU_SOURCE -I. -O1 -o "$tmp/make_corpus" tests/fuzz/make_corpus.c tests/dlib_serialize.c $objs $libs \
    -lm -pthread
"$tmp/make_corpus" "$out"

# y4m: two frames of each pixel format ageshift reads, one of them an odd size.
ff -f lavfi -i testsrc=size=16x12:rate=25 -frames:v 2 -pix_fmt yuv420p -f yuv4mpegpipe \
    "$out/y4m/yuv420p_16x12.y4m"
ff -f lavfi -i testsrc=size=15x9:rate=30000/1001 -frames:v 2 -pix_fmt yuv420p \
    -f yuv4mpegpipe "$out/y4m/yuv420p_15x9.y4m"
ff -f lavfi -i testsrc=size=8x6 -frames:v 2 -pix_fmt yuv422p -f yuv4mpegpipe \
    "$out/y4m/yuv422p_8x6.y4m"
ff -f lavfi -i testsrc=size=8x6 -frames:v 2 -pix_fmt yuv444p -f yuv4mpegpipe \
    "$out/y4m/yuv444p_8x6.y4m"
ff -f lavfi -i testsrc=size=8x6 -frames:v 2 -pix_fmt gray -f yuv4mpegpipe -strict -1 \
    "$out/y4m/gray_8x6.y4m"

# raw: the same pictures as rawvideo, behind the header (formats: 0 yuv420p ... 4 rgb24).
raw() { # NAME W H FMTNUM PIX_FMT
    ff -f lavfi -i testsrc=size=$2x$3 -frames:v 2 -pix_fmt "$5" -f rawvideo "$tmp/frames"
    { le16 "$2"; le16 "$3"; byte "$4"; byte 25; byte 1; cat "$tmp/frames"; } >"$out/raw/$1"
}
raw rgb24_8x6.raw 8 6 4 rgb24
raw yuv420p_15x9.raw 15 9 0 yuv420p
raw yuv422p_8x6.raw 8 6 1 yuv422p
raw gray_8x6.raw 8 6 3 gray

# cascade: the first stages of real cascades, HAAR and LBP, stumps and trees, two window sizes.
cv=/usr/share/opencv4
python3 tests/fuzz/prune_cascade.py "$cv/lbpcascades/lbpcascade_frontalface.xml" 3 \
    "$out/cascade/lbp_frontalface_3stages.xml"
python3 tests/fuzz/prune_cascade.py "$cv/lbpcascades/lbpcascade_frontalface_improved.xml" 2 \
    "$out/cascade/lbp_frontalface_improved_2stages.xml"
python3 tests/fuzz/prune_cascade.py "$cv/haarcascades/haarcascade_frontalface_default.xml" 2 \
    "$out/cascade/haar_frontalface_default_2stages.xml"
python3 tests/fuzz/prune_cascade.py "$cv/haarcascades/haarcascade_frontalface_alt2.xml" 2 \
    "$out/cascade/haar_frontalface_alt2_trees_2stages.xml"

# dataset_name: a few real UTKFace names of each domain, and Kaggle folder names.
faces=../shared/faces
for d in young old; do
    ls "$faces/$d" | awk 'NR % 300 == 1' | while read -r n; do
        # Named .txt: the file holds a name, not the image (no *.chip.jpg in the repository).
        printf '%s' "$n" >"$out/dataset_name/utk_${n%%.jpg.chip.jpg}.txt"
    done
done
for n in 001 045 110; do printf '%s' "$n" >"$out/dataset_name/kaggle_$n"; done

# camera: a YUYV frame (packed, and with padded lines) and an MJPEG frame of 16x12.
ff -f lavfi -i testsrc=size=16x12 -frames:v 1 -pix_fmt yuyv422 -f rawvideo "$tmp/yuyv"
{ byte 0; le16 16; le16 12; le16 0; cat "$tmp/yuyv"; } >"$out/camera/yuyv_16x12.bin"
python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"".join(d[i:i + 32] + bytes(8) for i in range(0, len(d), 32)))
' "$tmp/yuyv" >"$tmp/yuyv_padded"
{ byte 0; le16 16; le16 12; le16 40; cat "$tmp/yuyv_padded"; } >"$out/camera/yuyv_16x12_stride40.bin"
ff -f lavfi -i testsrc=size=16x12 -frames:v 1 -pix_fmt yuvj422p -f mjpeg "$tmp/mjpeg"
{ byte 1; le16 16; le16 12; le16 0; cat "$tmp/mjpeg"; } >"$out/camera/mjpeg_16x12.bin"
ls -l "$out"/*
