#!/usr/bin/env bash
# Tessel against onnxruntime (npm onnxruntime-node, graphOptimizationLevel 'all') and MNN
# (../shared/peers/mnn, benchmark.out) on the public models, same shapes, same intra-op thread
# count, engines alternating model by model; every table is printed twice (two passes) so a
# ratio is believed only when both agree. ratio = tessel min / the faster peer's min (<= 1.00:
# tessel wins). MNN's tool reports min and average, not a median.
# Do not run while anything else builds or tests: this machine is shared.
# Then, per model at one thread: peak resident memory of a process that loads the model and runs
# it once (Tessel through its C API alone, bench/first_run.c; onnxruntime in node, less node's own
# footprint with the module loaded; MNN's benchmark.out for one run), and load + first-run time.
# Usage: bench/vs_peers.sh [RUNS] [THREADS...]        (defaults: 20 runs, threads 1 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
shift || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
models=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
mnn=${TESSEL_MNN_DIR:-$root/../shared/peers/mnn}
tessel="$root/build/tools/tessel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
echo "onnxruntime-node $(NODE_PATH="$models/node/node_modules" node -e "console.log(require('onnxruntime-node/package.json').version)"), MNN from $mnn, $runs runs each"

for t in "${threads[@]}"; do
  for pass in 1 2; do
    echo
    echo "threads $t, pass $pass (ms)"
    printf '%-20s %9s %9s %9s %9s %9s %9s %7s\n' model tessel_min tessel_med ort_min ort_med \
      mnn_min mnn_avg ratio
    for c in "${cases[@]}"; do
      read -r name dir input dims <<<"$c"
      tj=$("$tessel" bench "$work/$name.tsl" --threads "$t" --runs "$runs" --warmup 3 --json)
      oj=$(NODE_PATH="$models/node/node_modules" node "$root/bench/ort_bench.js" \
        "$models/$dir/model.onnx" "$input=$dims" "$runs" 3 "$t")
      ml=$(LD_LIBRARY_PATH="$mnn" "$mnn/benchmark.out" "$work/mnn-$name" "$runs" 3 0 "$t" 0 2>&1 |
        grep "$name.mnn")
      mmin=$(echo "$ml" | sed -E 's/.*min = *([0-9.]+).*/\1/')
      mavg=$(echo "$ml" | sed -E 's/.*avg = *([0-9.]+).*/\1/')
      tmin=$(field "$tj" min_ms) tmed=$(field "$tj" median_ms)
      omin=$(field "$oj" min_ms) omed=$(field "$oj" median_ms)
      ratio=$(python3 -c "print(f'{$tmin / min($omin, $mmin):.2f}')")
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
