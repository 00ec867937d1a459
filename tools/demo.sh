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
# One frame (at 2 s) of the original and of each result, side by side.
ffmpeg -hide_banner -loglevel error -y -ss 2 -i "$clip" -ss 2 -i out/astronaut-old.mp4 \
    -ss 2 -i out/astronaut-young.mp4 -filter_complex "hstack=inputs=3" -frames:v 1 \
    out/before-older-younger.png
cat <<MSG

done:
  out/astronaut-old.mp4            the sample clip, older
  out/astronaut-young.mp4          the sample clip, younger
  out/before-older-younger.png     one frame: original | older | younger
MSG
