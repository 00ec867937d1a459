#!/bin/sh
# `make demo`: ages the sample clip's face both ways with the default model and
# puts a before/after still beside the two videos, all in out/.
set -eu
cd "$(dirname "$0")/.."
clip=samples/astronaut.mp4
mkdir -p out
for to in old young; do
    echo "== ageshift convert -i $clip -o out/astronaut-$to.mp4 --to $to"
    ./ageshift convert -i "$clip" -o "out/astronaut-$to.mp4" --to "$to"
done
# One frame (at 3 s, the closest zoom) of the original and of each result, side by side:
# whole, and cropped to where the face is at that moment.
frames="-ss 3 -i $clip -ss 3 -i out/astronaut-old.mp4 -ss 3 -i out/astronaut-young.mp4"
ffmpeg -hide_banner -loglevel error -y $frames -filter_complex "hstack=inputs=3" \
    -frames:v 1 out/before-older-younger.png
ffmpeg -hide_banner -loglevel error -y $frames -filter_complex \
    "[0]crop=280:300:125:10[a];[1]crop=280:300:125:10[b];[2]crop=280:300:125:10[c];\
[a][b][c]hstack=inputs=3" -frames:v 1 out/face-before-older-younger.png
cat <<MSG

done:
  out/astronaut-old.mp4               the sample clip, older
  out/astronaut-young.mp4             the sample clip, younger
  out/before-older-younger.png        one frame: original | older | younger
  out/face-before-older-younger.png   the same frame's face, close up
MSG
