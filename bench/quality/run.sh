#!/usr/bin/env bash
# make quality, the running half: ageshift run as a user runs it on the team's real footage and
# on the trainer's test split, both directions, every picture then handed to quality.js.
#   bench/quality/run.sh BUILD MODEL "OPTS" QUICK [INPUT...]
# BUILD: the build folder (BUILD/ageshift, BUILD/bench/quality/test_split); MODEL: the model
# file; OPTS: more filter options for image and convert; QUICK: 1 for a subset; INPUT: more
# photos, clips or folders of them. Results in out/quality/, intermediate pictures in
# out/quality/work/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1 model=$2 opts=$3 quick=$4
shift 4
bin=$root/$build/ageshift
shared=${AGESHIFT_SHARED:-$root/../shared}
out=$root/out/quality
work=$out/work
here=$root/bench/quality
# shellcheck disable=SC2206
extra=($opts)

command -v node >/dev/null || { echo "make quality needs Node.js (Debian: nodejs)"; exit 1; }
if [ ! -d "$here/node_modules/@vladmandic/human" ] || [ "$here/package-lock.json" -nt "$here/node_modules" ]; then
    echo "== npm ci (the estimator, pinned in bench/quality/package-lock.json)"
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
rm -rf "$work" && mkdir -p "$work/split" "$work/photos" "$work/clips" "$out/sheets"
rm -f "$out"/sheets/*.png
log() { echo "== $* ($SECONDS s)"; }

# ---- inputs ----
clips=() photos=()
add() {
    case "${1,,}" in
    *.mp4 | *.mkv | *.mov | *.avi | *.webm) clips+=("$1") ;;
    *.jpg | *.jpeg | *.png) photos+=("$1") ;;
    esac
}
if [ "$quick" = 1 ]; then
    for c in d3 d6; do [ -f "$shared/wild/clips/$c.mp4" ] && add "$shared/wild/clips/$c.mp4"; done
    for p in d8.jpg d38.jpg s2.jpg group_t1.jpg s9.jpg s33.jpg; do
        [ -f "$shared/wild/photos/$p" ] && add "$shared/wild/photos/$p"
    done
else
    for f in "$shared"/wild/clips/* "$shared"/wild/photos/*; do [ -f "$f" ] && add "$f"; done
fi
add "$root/samples/astronaut.mp4"
for i in "$@"; do
    if [ -d "$i" ]; then for f in "$i"/*; do add "$f"; done; else add "$i"; fi
done

# ---- the test split: ageshift translate, both directions ----
if [ -d "$shared/faces/young" ]; then
    # The default model's data: young 20-30, old 65-85, seed 1 (samples/README.md).
    "$root/$build/bench/quality/test_split" "$shared/faces/young" "$shared/faces/old" 20-30 65-85 1 \
        >"$work/split_all.tsv"
    per=1000000
    [ "$quick" = 1 ] && per=30
    mkdir -p "$work/split/in"
    : >"$work/split.tsv"
    for d in young old; do
        # (awk reads to the end: grep | head would die of SIGPIPE under pipefail, now and then)
        awk -v d="$d" -v n="$per" 'index($0, d) == 1 && k++ < n' "$work/split_all.tsv" |
            while IFS=$'\t' read -r dom age path; do
                name=$(basename "$path" .jpg.chip.jpg)
                # PNG names, so that translate writes PNG (no JPEG noise in what is judged).
                ln -s "$path" "$work/split/in/$name.png"
                printf '%s\t%s\t%s\t%s\n' "$dom" "$age" "$name" "$work/split/in/$name.ppm" \
                    >>"$work/split.tsv"
            done
    done
    log "test split: $(wc -l <"$work/split.tsv") faces through ageshift translate"
    for d in old young; do
        "$bin" translate "$work/split/in" -o "$work/split/$d" --to "$d" --model "$model" >/dev/null
        mogrify -format ppm "$work/split/$d"/*.png
    done
    (cd "$work/split/in" && for f in *.png; do convert "$f" "${f%.png}.ppm"; done)
else
    echo "no $shared/faces: the test split is not judged"
fi

# ---- photos: ageshift image ----
: >"$work/photos.tsv"
for p in "${photos[@]}"; do
    name=$(basename "$p")
    d=$work/photos/$name
    mkdir -p "$d"
    kind=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$here/faces_present.tsv")
    present=$(awk -F'\t' -v n="$name" '$1 == n { print $3 }' "$here/faces_present.tsv")
    # The input as ageshift decodes it: the same command with the change at strength 0.
    "$bin" image "$p" -o "$d/in.png" --to old --strength 0 --model "$model" >/dev/null 2>&1
    changed=()
    for dir in old young; do
        msg=$("$bin" image "$p" -o "$d/$dir.png" --to "$dir" --model "$model" "${extra[@]}" 2>&1)
        changed+=("$(echo "$msg" | sed -n 's/.*: \([0-9]*\) faces\{0,1\} changed.*/\1/p')")
    done
    mogrify -format ppm "$d"/*.png
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "${kind:-unlisted}" "${present:--1}" "${changed[0]:-0}" \
        "${changed[1]:-0}" >>"$work/photos.tsv"
done
log "photos: ${#photos[@]} through ageshift image"

# ---- clips: ageshift convert, losslessly, on 3 s from the middle ----
run=48 sampled=6 seconds=3
[ "$quick" = 1 ] && run=24 sampled=4
: >"$work/clips.tsv"
for c in "${clips[@]}"; do
    name=$(basename "$c")
    d=$work/clips/$name
    mkdir -p "$d/in" "$d/old" "$d/young"
    dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$c")
    start=$(awk -v d="$dur" -v s="$seconds" 'BEGIN { t = d / 2 - s / 2; print (t > 0 ? t : 0) }')
    ffmpeg -v error -y -ss "$start" -i "$c" -t "$seconds" -an -c:v libx264 -crf 0 -pix_fmt yuv420p \
        "$d/cut.mkv"
    for dir in old young; do
        "$bin" convert -i "$d/cut.mkv" -o "$d/$dir.mkv" --to "$dir" -crf 0 --model "$model" \
            "${extra[@]}" >/dev/null 2>&1
    done
    n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
        -of csv=p=0 "$d/cut.mkv")
    # The run of consecutive frames from the middle, past the tracker's first frames.
    first=$(((n - run) / 2))
    [ "$first" -lt 3 ] && first=3
    for v in in old young; do
        src=$d/cut.mkv
        [ "$v" != in ] && src=$d/$v.mkv
        ffmpeg -v error -y -i "$src" -vf "select='between(n\,$first\,$((first + run - 1)))'" \
            -vsync 0 -start_number 0 "$d/$v/%04d.ppm"
    done
    printf '%s\t%s\t%s\n' "$name" "$d" "$sampled" >>"$work/clips.tsv"
done
log "clips: ${#clips[@]} through ageshift convert"

node "$here/quality.js" "$work" "$out" | tee "$out/stdout.txt"

# ---- the artefact guard's score (filter/artefact_guard.h) on the same test faces and photos:
# where its thresholds lie against what faces the model handles well give ----
guard() { "$root/$build/bench/quality/guard_scores" "$model" "$@" 2>/dev/null || true; }
: >"$out/guard.tsv"
for d in old young; do
    from=young
    [ "$d" = young ] && from=old
    [ -f "$work/split.tsv" ] &&
        guard "$d" $(awk -F'\t' -v f="$from" '$1 == f { print $4 }' "$work/split.tsv" | sed 's/\.ppm$/.png/') |
        sed "s/^/split\t$d\t/" >>"$out/guard.tsv"
    [ "${#photos[@]}" -gt 0 ] && guard "$d" "${photos[@]}" | sed "s/^/photos\t$d\t/" >>"$out/guard.tsv"
done
{
    echo "Artefact guard (held back from a score of 30, not shown from 50), the highest score per picture:"
    awk -F'\t' '$4 > 0 { k = $1 " " $2; n[k]++; v[k, n[k]] = $5 }
        END { for (k in n) { m = n[k]; for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
                  if (v[k, j] < v[k, i]) { t = v[k, i]; v[k, i] = v[k, j]; v[k, j] = t }
              held = 0; for (i = 1; i <= m; i++) if (v[k, i] > 30) held++
              p95 = int(0.95 * m + 0.5); if (p95 < 1) p95 = 1
              printf "  %-16s faces %3d  median %5.1f  95th %5.1f  highest %5.1f  held back %d\n",
                  k, m, v[k, int((m + 1) / 2)], v[k, p95], v[k, m], held } }' \
        "$out/guard.tsv" | sort
} | tee -a "$out/report.txt"
log "make quality done: out/quality/report.txt, faces.csv, clips.csv, photos.csv, guard.tsv, sheets/*.png"
