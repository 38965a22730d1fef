#!/usr/bin/env bash
# Tessel against onnxruntime-node (1 thread), alternating the two engines (A, B, A, B) on each
# public model and reporting min and median ms and the ratio tessel/ort (lower is better for
# tessel). Do not run while anything else is building or testing.
# Usage: bench/compare_onnxruntime.sh [BACKEND] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
backend=${1:-reference}
rounds=${2:-2}
models=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
bash "$root/tests/models/fetch_models.sh" >/dev/null
tessel="$root/build/tools/tessel"
printf '%-20s %12s %12s %12s %12s %9s\n' model tessel_min tessel_med ort_min ort_med ratio_min
for m in mobilenet_v2 resnet18 squeezenet1_1 shufflenet_v2_x1_0 ppocr_v4_det; do
  shape="input=1x3x224x224"
  [ "$m" = ppocr_v4_det ] && shape="x=1x3x320x320"
  "$tessel" convert "$models/$m/model.onnx" -o "/tmp/tessel-bench-$m.tsl" --shape "$shape" >/dev/null
  tmin=1e18 tmed=1e18 omin=1e18 omed=1e18
  for ((r = 0; r < rounds; ++r)); do
    t=$("$tessel" bench "/tmp/tessel-bench-$m.tsl" --backend "$backend" --runs 5 --warmup 1 --json)
    o=$(NODE_PATH="$models/node/node_modules" node "$root/bench/ort_bench.js" "$models/$m/model.onnx" "$shape" 20 3)
    tmin=$(python3 -c "import json,sys; print(min($tmin, json.loads(sys.argv[1])['min_ms']))" "$t")
    tmed=$(python3 -c "import json,sys; print(min($tmed, json.loads(sys.argv[1])['median_ms']))" "$t")
    omin=$(python3 -c "import json,sys; print(min($omin, json.loads(sys.argv[1])['min_ms']))" "$o")
    omed=$(python3 -c "import json,sys; print(min($omed, json.loads(sys.argv[1])['median_ms']))" "$o")
  done
  printf '%-20s %12.2f %12.2f %12.2f %12.2f %9.1f\n' "$m" "$tmin" "$tmed" "$omin" "$omed" \
    "$(python3 -c "print($tmin / $omin)")"
  rm -f "/tmp/tessel-bench-$m.tsl"
done
