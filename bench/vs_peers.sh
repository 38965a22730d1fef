#!/usr/bin/env bash
# Tessel against onnxruntime (npm onnxruntime-node, graphOptimizationLevel 'all') and MNN
# (../shared/peers/mnn, benchmark.out) on the public models, same shapes, same intra-op thread
# count, the engines alternating turn by turn (below); every table is printed twice (two passes) so a
# ratio is believed only when both agree. ratio = tessel min / the faster peer's min (<= 1.00:
# tessel wins). MNN's tool reports min and average, not a median.
# Do not run while anything else builds or tests: this machine is shared.
# Then, per model at one thread: peak resident memory of a process that loads the model and runs
# it once (Tessel through its C API alone, bench/first_run.c; onnxruntime in node, less node's own
# footprint with the module loaded; MNN's benchmark.out for one run), and load + first-run time.
# Each engine's RUNS are taken in TESSEL_BENCH_ROUNDS turns (default 4), the engines alternating
# turn by turn, so that a busy minute lands on all three rather than on one.
# Then the GPU backends: Tessel's Vulkan backend against MNN's (../shared/peers/mnn-gpu, forward
# type 7) on this machine's Vulkan device (lavapipe here: a CPU rasteriser, so compare the two
# GPU backends with each other, never with the CPU tables), alternating the same way.
# TESSEL_BENCH_PARTS picks the parts (default "cpu memory gpu"). TESSEL_BENCH_SEARCH=model|measure
# has Tessel's CPU runs plan at load by the cost model or by measurement (docs/search.md; the
# measured times kept in one profile cache for the whole script, so only the first load measures)
# instead of taking the artifact's first-fit plan.
# Usage: bench/vs_peers.sh [RUNS] [THREADS...]        (defaults: 20 runs, threads 1 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
shift || true
rounds=${TESSEL_BENCH_ROUNDS:-4}              # each engine's runs split over this many turns
perRound=$(((runs + rounds - 1) / rounds))
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
models=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
mnn=${TESSEL_MNN_DIR:-$root/../shared/peers/mnn}
tessel="$root/build/tools/tessel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
searchFlags=()
if [ -n "${TESSEL_BENCH_SEARCH:-}" ]; then
  searchFlags=(--search "$TESSEL_BENCH_SEARCH")
  [ "$TESSEL_BENCH_SEARCH" = measure ] && searchFlags+=(--profile "$work/search.profile")
fi
bash "$root/tests/models/fetch_models.sh" >/dev/null

# name model-dir input-name dims
cases=(
  "mobilenet_v2 mobilenet_v2 input 1x3x224x224"
  "resnet18 resnet18 input 1x3x224x224"
  "squeezenet1_1 squeezenet1_1 input 1x3x224x224"
  "shufflenet_v2_x1_0 shufflenet_v2_x1_0 input 1x3x224x224"
  "ppocr_det_640 ppocr_v4_det x 1x3x640x640"
  "ppocr_det_320 ppocr_v4_det x 1x3x320x320"
)

# Each case: a .tsl, and for MNN an ONNX file with the input dims pinned, converted to .mnn.
for c in "${cases[@]}"; do
  read -r name dir input dims <<<"$c"
  "$tessel" convert "$models/$dir/model.onnx" -o "$work/$name.tsl" --shape "$input=$dims" >/dev/null
  mkdir -p "$work/mnn-$name"
  /usr/bin/python3 - "$models/$dir/model.onnx" "$work/$name.onnx" "$dims" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim, sys.argv[3].split('x')):
    d.ClearField('dim_param')
    d.dim_value = int(v)
onnx.save(m, sys.argv[2])
PY
  LD_LIBRARY_PATH="$mnn" "$mnn/MNNConvert" -f ONNX --modelFile "$work/$name.onnx" \
    --MNNModel "$work/mnn-$name/$name.mnn" --bizCode tessel >/dev/null
done

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
family=${TESSEL_X86_ISA:-$(grep -qw avx512f /proc/cpuinfo && echo avx512 || echo avx2)}
echo "CPU: $cpu; cpu_x86 family in use: $family; FMA peak per core (GFLOP/s, this run):" \
  $("$root/build/bench/tessel_fma_peak" | tr '\n' ' ')
echo "onnxruntime-node $(NODE_PATH="$models/node/node_modules" node -e "console.log(require('onnxruntime-node/package.json').version)"), MNN from $mnn, $runs runs each in $rounds turns"

parts=${TESSEL_BENCH_PARTS:-cpu memory gpu}
want() { [[ " $parts " == *" $1 "* ]]; }

for t in "${threads[@]}"; do
  want cpu || break
  for pass in 1 2; do
    echo
    echo "threads $t, pass $pass (ms)"
    printf '%-20s %9s %9s %9s %9s %9s %9s %7s\n' model tessel_min tessel_med ort_min ort_med \
      mnn_min mnn_avg ratio
    for c in "${cases[@]}"; do
      read -r name dir input dims <<<"$c"
      # Rounds: each engine in turn, a share of the runs each time, so that all three sample
      # the same minutes of this shared machine (a neighbour moves a model's time by 30% within
      # a minute); min over every round, median = the median of the rounds' medians (MNN: the
      # mean of their means).
      tmins=() tmeds=() omins=() omeds=() mmins=() mavgs=()
      for ((r = 0; r < rounds; r++)); do
        tj=$("$tessel" bench "$work/$name.tsl" --threads "$t" --runs "$perRound" --warmup 3 \
          "${searchFlags[@]}" --json)
        oj=$(NODE_PATH="$models/node/node_modules" node "$root/bench/ort_bench.js" \
          "$models/$dir/model.onnx" "$input=$dims" "$perRound" 3 "$t")
        ml=$(LD_LIBRARY_PATH="$mnn" "$mnn/benchmark.out" "$work/mnn-$name" "$perRound" 3 0 "$t" 0 2>&1 |
          grep "$name.mnn")
        tmins+=("$(field "$tj" min_ms)") tmeds+=("$(field "$tj" median_ms)")
        omins+=("$(field "$oj" min_ms)") omeds+=("$(field "$oj" median_ms)")
        mmins+=("$(echo "$ml" | sed -E 's/.*min = *([0-9.]+).*/\1/')")
        mavgs+=("$(echo "$ml" | sed -E 's/.*avg = *([0-9.]+).*/\1/')")
      done
      read -r tmin tmed omin omed mmin mavg ratio < <(python3 - "${tmins[*]}" "${tmeds[*]}" \
        "${omins[*]}" "${omeds[*]}" "${mmins[*]}" "${mavgs[*]}" <<'PY'
import statistics, sys
v = [[float(x) for x in a.split()] for a in sys.argv[1:]]
tmin, omin, mmin = min(v[0]), min(v[2]), min(v[4])
print(tmin, statistics.median(v[1]), omin, statistics.median(v[3]), mmin,
      statistics.mean(v[5]), f"{tmin / min(omin, mmin):.2f}")
PY
      )
      printf '%-20s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %7s\n' "$name" "$tmin" "$tmed" "$omin" \
        "$omed" "$mmin" "$mavg" "$ratio"
    done
  done
done

# peak RSS (KiB) of a command's process tree, and its stdout
rss() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}")
PY
}
if want memory; then
echo
echo "memory and start-up, 1 thread (peak RSS MiB; load + first run ms)"
printf '%-20s %10s %10s %10s %12s %12s\n' model tessel_rss ort_rss mnn_rss tessel_start ort_start
nodeBase=$(rss env NODE_PATH="$models/node/node_modules" node "$root/bench/ort_first_run.js" --baseline | sed -n 1p)
for c in "${cases[@]}"; do
  read -r name dir input dims <<<"$c"
  mapfile -t t < <(rss "$root/build/bench/tessel_first_run" "$work/$name.tsl" 1)
  mapfile -t o < <(rss env NODE_PATH="$models/node/node_modules" node "$root/bench/ort_first_run.js" \
    "$models/$dir/model.onnx" "$input=$dims" 1)
  mapfile -t m < <(rss env LD_LIBRARY_PATH="$mnn" "$mnn/benchmark.out" "$work/mnn-$name" 1 0 0 1 0)
  printf '%-20s %10.1f %10.1f %10.1f %12.1f %12.1f\n' "$name" "$(python3 -c "print(${t[0]} / 1024)")" \
    "$(python3 -c "print((${o[0]} - $nodeBase) / 1024)")" "$(python3 -c "print(${m[0]} / 1024)")" \
    "$(field "${t[1]}" load_and_first_ms)" "$(field "${o[1]}" load_and_first_ms)"
done
fi

# GPU backends: Tessel's Vulkan backend and MNN's, same .mnn files, alternating turn by turn.
mnnGpu=${TESSEL_MNN_GPU_DIR:-$root/../shared/peers/mnn-gpu}
if want gpu; then
  echo
  if ! "$tessel" bench "$work/${cases[0]%% *}.tsl" --backend vulkan --runs 1 --warmup 0 >/dev/null 2>&1; then
    echo "GPU: no Vulkan backend or device here ($("$tessel" bench "$work/${cases[0]%% *}.tsl" --backend vulkan --runs 1 2>&1 | tail -n 1))"
  else
    device=$(vulkaninfo --summary 2>/dev/null | grep -m1 deviceName | cut -d= -f2- | sed 's/^ *//')
    echo "GPU: Vulkan on ${device:-an unnamed device}; MNN from $mnnGpu (forward type 7)"
    for pass in 1 2; do
      echo
      echo "vulkan, pass $pass (ms)"
      printf '%-20s %9s %9s %9s %9s %7s
' model tessel_min tessel_med mnn_min mnn_avg ratio
      for c in "${cases[@]}"; do
        read -r name dir input dims <<<"$c"
        tmins=() tmeds=() mmins=() mavgs=()
        for ((r = 0; r < rounds; r++)); do
          tj=$("$tessel" bench "$work/$name.tsl" --backend vulkan --threads 1 --runs "$perRound" \
            --warmup 2 --json)
          ml=$(LD_LIBRARY_PATH="$mnnGpu" "$mnnGpu/benchmark.out" "$work/mnn-$name" "$perRound" 2 7 1 0 2>&1)
          if grep -q "Can't Find type=7" <<<"$ml"; then
            mmins+=(nan) mavgs+=(nan) # MNN fell back to its CPU backend: no GPU figure
          else
            ml=$(grep "$name.mnn" <<<"$ml")
            mmins+=("$(echo "$ml" | sed -E 's/.*min = *([0-9.]+).*/\1/')")
            mavgs+=("$(echo "$ml" | sed -E 's/.*avg = *([0-9.]+).*/\1/')")
          fi
          tmins+=("$(field "$tj" min_ms)") tmeds+=("$(field "$tj" median_ms)")
        done
        python3 - "$name" "${tmins[*]}" "${tmeds[*]}" "${mmins[*]}" "${mavgs[*]}" <<'PY'
import math, statistics, sys
name = sys.argv[1]
v = [[float(x) for x in a.split()] for a in sys.argv[2:]]
tmin, tmed = min(v[0]), statistics.median(v[1])
mmin, mavg = min(v[2]), statistics.mean(v[3])
ratio = "n/a" if math.isnan(mmin) else f"{tmin / mmin:.2f}"
print(f"{name:<20} {tmin:9.2f} {tmed:9.2f} {mmin:9.2f} {mavg:9.2f} {ratio:>7}")
PY
      done
    done
  fi
fi
