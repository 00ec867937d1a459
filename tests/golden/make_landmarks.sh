#!/bin/sh
# Writes tests/fixtures/landmarks_dlib.tsv, the golden landmarks for tests/test_landmarks.c:
# dlib's own boxes and 68 points on the luma of every 12th frame of samples/astronaut.mp4 and of
# the test faces in tests/fixtures/faces. Run by hand from the repository root; needs Debian's
# libdlib-dev and libdlib-data, g++ and ffmpeg.
#
# The test reads the same pixels the same way (ffmpeg's luma: the Y plane of the decoded
# yuv420p video, ffmpeg's gray8 of a JPEG, which is its Y plane), so both sides see the same bytes.
set -eu
model=/usr/share/dlib/shape_predictor_68_face_landmarks.dat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
g++ -O2 -o "$work/dlib_landmarks" tests/golden/dlib_landmarks.cpp $(pkg-config --cflags --libs dlib-1)

# The clip: 640x480 yuv420p frames; the first 640*480 bytes of each are its luma.
w=640 h=480
ffmpeg -v error -i samples/astronaut.mp4 -f rawvideo -pix_fmt yuv420p "$work/clip.yuv"
frame_bytes=$((w * h * 3 / 2))
frames=$(($(stat -c %s "$work/clip.yuv") / frame_bytes))
args=""
n=0
while [ $n -lt "$frames" ]; do
    { printf 'P5\n%d %d\n255\n' $w $h
      dd if="$work/clip.yuv" bs=$frame_bytes skip=$n count=1 status=none | head -c $((w * h)); } \
        > "$work/clip_$n.pgm"
    args="$args astronaut.mp4:$n=$work/clip_$n.pgm"
    n=$((n + 12))
done
for f in tests/fixtures/faces/*/*.jpg; do
    name=${f#tests/fixtures/}
    out="$work/$(basename "$f").pgm"
    ffmpeg -v error -i "$f" -f image2 -c:v pgm -pix_fmt gray "$out"
    args="$args $name=$out"
done
# shellcheck disable=SC2086 # the names hold no spaces
"$work/dlib_landmarks" "$model" $args > tests/fixtures/landmarks_dlib.tsv.tmp
mv tests/fixtures/landmarks_dlib.tsv.tmp tests/fixtures/landmarks_dlib.tsv
echo "wrote tests/fixtures/landmarks_dlib.tsv: $(wc -l < tests/fixtures/landmarks_dlib.tsv) faces"
