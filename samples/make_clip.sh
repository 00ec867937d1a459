#!/bin/sh
# Makes samples/astronaut.mp4, the sample clip: a slow pan and zoom over NASA's
# public-domain portrait of astronaut Eileen Collins, as shipped by Debian's
# python3-skimage package (skimage/data/astronaut.png). Run once by hand; the
# clip is committed. Needs ffmpeg and network access to Debian's mirror.
set -eu
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-skimage >/dev/null && dpkg-deb -x python3-skimage_*.deb pkg)
src=$(find "$work/pkg" -path '*skimage/data/astronaut.png')
# Crop to 4:3 above the chest, scale 4x so zoompan's whole-pixel steps are
# smooth after scaling down, then 6 s at 30 fps: the face drifts sideways and
# the camera zooms in and back out, so detection and tracking see motion.
ffmpeg -hide_banner -loglevel error -y -loop 1 -i "$src" -vf "\
crop=512:384:0:0,scale=2048:1536:flags=lanczos,\
zoompan=z='1.0+0.35*sin(PI*on/180)':\
x='(iw-iw/zoom)*(0.5+0.45*sin(2*PI*on/180))':\
y='(ih-ih/zoom)*0.05':d=180:s=640x480:fps=30,format=yuv420p" \
    -frames:v 180 -c:v libx264 -crf 23 -preset slow -movflags +faststart astronaut.mp4.tmp.mp4
mv astronaut.mp4.tmp.mp4 astronaut.mp4
echo "wrote $(pwd)/astronaut.mp4"
