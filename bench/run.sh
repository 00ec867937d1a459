#!/usr/bin/env bash
# make bench: ageshift's core and, when Debian's python3-torch is installed, PyTorch on the
# same configurations in the same run, with the ratio PyTorch time / ageshift time (> 1 means
# ageshift is faster).
set -euo pipefail
bin=${1:-build/bench}
core_bench=$bin/bench_core
here=$(cd "$(dirname "$0")" && pwd)
ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# ageshift and PyTorch alternately, config by config, 5 rounds: the machine's speed drifts
# within minutes (by up to 2x), so each ratio is the median of the rounds' pairwise ratios.
configs="128:6:16:32:1:7 128:6:32:64:1:7 64:6:32:64:1:11 256:9:64:64:0:3"
torch=
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    # PyTorch at its best here: 2 threads, oneDNN, and OpenBLAS's AVX-512 kernel where the CPU
    # has AVX-512 (Debian's OpenBLAS does not know Zen 4 and would take its AVX2 kernel there).
    coretype=${OPENBLAS_CORETYPE:-}
    [ -z "$coretype" ] && grep -qw avx512f /proc/cpuinfo && coretype=SkylakeX
    torch=(env ${coretype:+OPENBLAS_CORETYPE=$coretype} /usr/bin/python3 "$here/torch_bench.py")
else
    echo "python3-torch is not installed: PyTorch is not measured"
fi
exec 4>/dev/null
for round in 1 2 3 4 5; do
    for cfg in $configs; do
        IFS=: read -r size blocks ngf ndf train runs <<<"$cfg"
        err=4
        [ "$round$cfg" = "1${configs%% *}" ] && err=2 # the libraries' lines, once
        "$core_bench" --row "$size" "$blocks" "$ngf" "$ndf" "$train" "$runs" >>"$ours" 2>&"$err"
        [ -z "$torch" ] || "${torch[@]}" "$size" "$blocks" "$ngf" "$ndf" "$train" "$runs" \
            >>"$theirs" 2>&"$err"
    done
done
exec 4>&-

# Columns 7-10: infer ms, train s, bf16 infer ms, bf16 train s. Per config and column: the
# median of our times, of theirs, and of the rounds' ratios theirs / ours.
awk -F'\t' '
    function med(a, n,   i, j, x, b) { for (i = 1; i <= n; i++) b[i] = a[i]
        for (i = 2; i <= n; i++) { x = b[i]; for (j = i - 1; j > 0 && b[j] > x; j--) b[j + 1] = b[j]
            b[j + 1] = x }
        return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2 }
    function stat(key, c, what,   a, i, n, v) {
        n = 0
        for (i = 1; i <= rounds[key]; i++) {
            if (what == "ours") v = o[key, i, c]
            else if (what == "torch") v = t[key, i, c]
            else v = (t[key, i, c] > 0 && o[key, i, c] > 0) ? t[key, i, c] / o[key, i, c] : -1
            if (v > 0) a[++n] = v
        }
        return n ? med(a, n) : -1 }
    function shown(v, f) { return v > 0 ? sprintf(f, v) : "-" }
    FILENAME == ARGV[1] { key = $2 "/" $3 "/" $4; r = ++tn[key]; for (c = 7; c <= 10; c++) t[key, r, c] = $c; next }
    { key = $2 "/" $3 "/" $4; r = ++rounds[key]; for (c = 7; c <= 10; c++) o[key, r, c] = $c
      if (r == 1) { order[++keys] = key; params[key] = $5; macs[key] = $6 } }
    END {
        printf "\n%-12s %9s %6s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s\n",
               "size/blk/ngf", "params", "GMACs", "infer ms", "torch", "ratio", "bf16 ms", "torch",
               "ratio", "train s", "torch", "ratio", "bf16 s", "torch", "ratio"
        for (k = 1; k <= keys; k++) {
            key = order[k]
            printf "%-12s %9d %6.2f", key, params[key], macs[key] / 1e9
            split("7 9 8 10", cols, " ")
            for (i = 1; i <= 4; i++) {
                f = (cols[i] == 7 || cols[i] == 9) ? "%.2f" : "%.3f"
                printf " | %8s %8s %6s", shown(stat(key, cols[i], "ours"), f),
                       shown(stat(key, cols[i], "torch"), f), shown(stat(key, cols[i], "ratio"), "%.2fx")
            }
            printf "\n"
        }
    }' "$theirs" "$ours"
echo
echo "infer: one image, batch 1, median after warm-up. train: one CycleGAN iteration (two"
echo "generators, two discriminators with ndf 64 (ndf 32 for 128/6/16, the default model's"
echo "architecture), the seed's losses, batch 1), median. bf16: ageshift's bf16 convolutions"
echo "(core/nn/conv_bf16.h: AMX tiles, else AVX512_BF16 vectors; training: train --bf16's mixed"
echo "precision) against PyTorch under torch.autocast(bfloat16) (oneDNN); '-' where the CPU has"
echo "neither."
echo "ratio = PyTorch time / ageshift time, the median of 5 interleaved rounds' ratios: above 1"
echo "means ageshift is faster; the times are each side's median over the rounds."

echo
echo "== 3x3 stride-1 convolutions: im2col + sgemm against Winograd F(2x2, 3x3), alternately"
"$core_bench" --conv 2>/dev/null
echo "(the filter and trainer take Winograd where 'by shape' is not noted: core/nn/winograd.h)"

echo
echo "== 7x7 convolutions from and to RGB: im2col + sgemm against the direct kernel, alternately"
"$core_bench" --direct 2>/dev/null

echo
echo "== the roofline: fp32 FMA peak, effective GFLOP/s (2 x direct-convolution MACs / time) and"
echo "   where a generator's forward pass spends it; where a training iteration's passes do"
"$core_bench" --roofline 2>/dev/null

echo
echo "== bf16 convolutions (AMX or AVX512_BF16) against fp32 in one generator, alternately, and their accuracy"
"$core_bench" --bf16 2>/dev/null

echo
echo "== ONNX Runtime (npm onnxruntime-node, its bundled CPU build, 2 intra-op threads) on the"
echo "   same generators exported by torch.onnx: ageshift and it alternately, 5 rounds"
onnx_dir=$here/onnx
if command -v node >/dev/null && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    if [ ! -d "$onnx_dir/node_modules/onnxruntime-node" ] ||
        [ "$onnx_dir/package-lock.json" -nt "$onnx_dir/node_modules" ]; then
        # --ignore-scripts: its install script would download GPU libraries; the CPU one ships
        # in the package.
        (cd "$onnx_dir" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
    fi
    models=$(mktemp -d)
    /usr/bin/python3 "$onnx_dir/export.py" "$models" 128/6/16 128/6/32 256/9/64 >/dev/null
    printf "%-12s %10s %10s %8s %10s %8s\n" "size/blk/ngf" "ours ms" "ORT ms" "ratio" "ours bf16" "ratio"
    for cfg in 128/6/16:15 128/6/32:11 256/9/64:5; do
        IFS=/: read -r size blocks ngf runs <<<"$cfg"
        pairs=""
        for round in 1 2 3 4 5; do
            ours_ms=$("$core_bench" --infer "$size" "$blocks" "$ngf" "$runs" 2>/dev/null)
            ort_ms=$(node "$onnx_dir/ort_bench.js" "$models/g_${size}_${blocks}_${ngf}.onnx" "$size" "$runs")
            bf16_ms=$("$core_bench" --infer-bf16 "$size" "$blocks" "$ngf" "$runs" 2>/dev/null) ||
                bf16_ms=-1
            pairs="$pairs $ours_ms:$ort_ms:$bf16_ms"
        done
        echo "$pairs" | tr ' ' '\n' | awk -F: -v key="$size/$blocks/$ngf" 'NF == 3 {
            o[++n] = $1; t[n] = $2; r[n] = $2 / $1; b[n] = $3; rb[n] = $3 > 0 ? $2 / $3 : -1 }
            function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]
                for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            END { printf "%-12s %10.2f %10.2f %7.2fx", key, med(o, n), med(t, n), med(r, n)
                if (b[1] > 0) printf " %10.2f %7.2fx\n", med(b, n), med(rb, n); else printf " %10s %8s\n", "-", "-" }'
    done
    rm -rf "$models"
    echo "ratio: the median of the 5 rounds' ORT time / ageshift time (above 1: ageshift faster);"
    echo "ours bf16: with bf16 convolutions, timed in the same rounds"
else
    echo "needs Node.js and python3-torch: ONNX Runtime is not measured"
fi

root=$(cd "$here/.." && pwd)
peak_kb() { /usr/bin/time -f %M -o "$1" "${@:2}" >/dev/null 2>&1 && cat "$1"; }
echo
echo "== peak memory (max RSS): ageshift convert on the sample clip, 1x and 4x as long"
if [ -f "$root/samples/model.safetensors" ] && [ -x /usr/bin/time ]; then
    mem=$(mktemp -d)
    ffmpeg -v error -stream_loop 3 -i "$root/samples/astronaut.mp4" -c copy "$mem/long.mp4"
    for clip in "$root/samples/astronaut.mp4" "$mem/long.mp4"; do
        frames=$(ffprobe -v error -count_packets -select_streams v:0 \
            -show_entries stream=nb_read_packets -of csv=p=0 "$clip")
        kb=$(peak_kb "$mem/rss" "$bin/../ageshift" convert -i "$clip" -o "$mem/out.mp4" --to old \
            --model "$root/samples/model.safetensors")
        awk -v f="$frames" -v kb="$kb" 'BEGIN { printf "%5d frames: %6.1f MiB\n", f, kb / 1024 }'
    done
    rm -rf "$mem"
else
    echo "no samples/model.safetensors or no /usr/bin/time: not measured"
fi

faces=$(cd "$here/.." && pwd)/../shared/faces
if [ ! -d "$faces" ]; then
    echo "no $faces: the face detector and the filter are not measured"
    exit 0
fi

echo
echo "== face detection (our cascade evaluator on opencv-data's cascades)"
"$bin/bench_detect" "$faces"

echo
echo "== landmarks (our evaluator of dlib's 68-point model) on the training faces"
"$bin/bench_landmarks" "$faces"

echo
echo "== the filter: ageshift convert on a 1280x720 clip with one face"
work=$(mktemp -d)
trap 'rm -f "$ours" "$theirs"; rm -rf "$work"' EXIT
face=$(cd "$faces/young" && set -- *.jpg && echo "$1")
ffmpeg -v error -f lavfi -i color=c=0x506070:s=1280x720:r=30 -loop 1 -i "$faces/young/$face" \
    -filter_complex "[1]scale=300:300[f];[0][f]overlay=x='400+60*t':y=180" -frames:v 90 \
    -c:v libx264 -crf 18 -pix_fmt yuv420p "$work/clip.mp4"
"$bin/bench_filter" "$work/clip.mp4" "$work" "$root/samples/model.safetensors"

echo
echo "== live: ageshift live --input samples/astronaut.mp4 (640x480, 30 fps, one face), 10 s each"
if command -v Xvfb >/dev/null; then
    (Xvfb :88 -screen 0 800x600x24 -nolisten tcp >/dev/null 2>&1 &)
    for i in $(seq 50); do [ -e /tmp/.X11-unix/X88 ] && break; sleep 0.1; done
    for model in "$work/bench_model.safetensors" "$root/samples/model.safetensors"; do
        [ -f "$model" ] || continue
        "$bin/../ageshift" info "$model" | awk '$1 ~ /^G_A2B\.(size|n_blocks|ngf)$/ {
            sub("G_A2B.", "", $1); a = a " " $1 " " $2 } END { print "-- generator" a }'
        DISPLAY=:88 "$bin/../ageshift" live --input "$root/samples/astronaut.mp4" --to old \
            --model "$model" --seconds 10 || true
    done
    # A webcam close-up (480x480), the default model.
    webcam=$root/../shared/wild/clips/d6.mp4
    if [ -f "$webcam" ]; then
        echo "-- ../shared/wild/clips/d6.mp4, the default model"
        DISPLAY=:88 "$bin/../ageshift" live --input "$webcam" --to old \
            --model "$root/samples/model.safetensors" --seconds 10 || true
    fi
    pkill -f "Xvfb :88" || true
else
    echo "Xvfb is not installed: the live pipeline is not measured"
fi

echo
echo "== peak memory (max RSS): 30 training iterations at the default model's architecture"
if [ -x /usr/bin/time ]; then
    kb=$(peak_kb "$work/rss" "$bin/../ageshift" train --young "$faces/young" --old "$faces/old" \
        --out "$work/run" --size 128 --ngf 16 --ndf 32 --max-iterations 30)
    awk -v kb="$kb" 'BEGIN { printf "train 128/6/16, ndf 32: %.1f MiB\n", kb / 1024 }'
fi
