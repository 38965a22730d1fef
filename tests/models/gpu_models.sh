#!/usr/bin/env bash
# The public models on a GPU backend: each matches onnxruntime's reference (fp32, rtol 1e-3,
# atol 1e-4) with `--backend BACKEND`, and runs every primitive on that backend (tessel bench
# --json: "primitives_by_backend" names it alone), with two copies a run (input up, output
# down). Usage: gpu_models.sh TESSEL BACKEND MODELS_DIR
set -uo pipefail
tessel=$1 backend=$2 models=$3
status=0
for m in mobilenet_v2 resnet18 squeezenet1_1 shufflenet_v2_x1_0 ppocr_v4_det; do
  if ! out=$("$tessel" check --backend "$backend" --rtol 1e-3 --atol 1e-4 "$models/$m" 2>&1); then
    printf 'FAIL %s on %s:\n%s\n' "$m" "$backend" "$out"
    status=1
  fi
  shape=()
  [ "$m" = ppocr_v4_det ] && shape=(--shape x=1x3x320x320)
  json=$("$tessel" bench "$models/$m/model.onnx" "${shape[@]}" --backend "$backend" --runs 1 \
    --warmup 0 --json 2>&1)
  if ! /usr/bin/python3 - "$backend" "$json" <<'PY'; then
import json, sys
backend, text = sys.argv[1], sys.argv[2]
r = json.loads(text)
by = r["primitives_by_backend"]
ok = list(by) == [backend] and by[backend] > 0 and r["copies_per_run"] == 2
if not ok:
    print(f"primitives by backend {by}, copies a run {r['copies_per_run']}")
sys.exit(0 if ok else 1)
PY
    echo "FAIL $m: not every primitive on $backend ($json)"
    status=1
  fi
done
exit $status
