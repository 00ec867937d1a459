#!/usr/bin/env bash
# make seed-compare: the seed project's four example faces (../shared/seed/imgs: y2o_*y.png
# aged, o2y_*o.png rejuvenated) through a model, in one picture beside the seed's own outputs
# (rows: input | seed | ours), and the estimator's ages of all three.
#   bench/quality/seed_compare.sh AGESHIFT MODEL OUT.png
set -euo pipefail
bin=$1 model=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
seed=${AGESHIFT_SHARED:-$here/../../../shared}/seed/imgs
[ -d "$seed" ] || { echo "no $seed: the seed's pictures are not beside the clone"; exit 1; }
if [ ! -d "$here/node_modules/@vladmandic/human" ]; then
    echo "== npm ci (the estimator, pinned in bench/quality/package-lock.json)"
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inputs=()
for n in 1 2; do
    cp "$seed/y2o_${n}y.png" "$work/y2o_${n}_in.png"
    cp "$seed/y2o_${n}o.png" "$work/y2o_${n}_seed.png"
    cp "$seed/o2y_${n}o.png" "$work/o2y_${n}_in.png"
    cp "$seed/o2y_${n}y.png" "$work/o2y_${n}_seed.png"
done
mkdir -p "$work/old" "$work/young"
"$bin" translate "$work"/y2o_1_in.png "$work"/y2o_2_in.png -o "$work/old" --to old \
    --model "$model" >/dev/null 2>&1
"$bin" translate "$work"/o2y_1_in.png "$work"/o2y_2_in.png -o "$work/young" --to young \
    --model "$model" >/dev/null 2>&1
for name in y2o_1 y2o_2 o2y_1 o2y_2; do
    dir=old
    [ "${name%%_*}" = o2y ] && dir=young
    cp "$work/$dir/${name}_in.png" "$work/${name}_ours.png"
    for kind in in seed ours; do
        ffmpeg -v error -y -i "$work/${name}_$kind.png" -vf scale=256:256:flags=bicubic \
            "$work/${name}_$kind.ppm"
        inputs+=(-i "$work/${name}_$kind.ppm")
    done
done
# 4 rows of input | seed | ours
ffmpeg -v error -y "${inputs[@]}" -filter_complex \
    "[0][1][2]hstack=3[r0];[3][4][5]hstack=3[r1];[6][7][8]hstack=3[r2];[9][10][11]hstack=3[r3];[r0][r1][r2][r3]vstack=4" \
    "$out"
echo "wrote $out (rows: y2o_1, y2o_2, o2y_1, o2y_2; columns: input, the seed's output, ours)"
node "$here/seed_compare.js" "$work"
