#!/usr/bin/env bash
# Operators against onnxruntime: the single-operator cases of make_cases.py, their reference
# outputs from onnxruntime-node (installed by ../models/fetch_models.sh), checked with `tessel
# check` on the backend given (rtol 1e-4, atol 1e-4: the peers' own float noise near zero, as
# a transform's empty bins, is 1e-5). Usage: run.sh TESSEL_BINARY BACKEND
set -euo pipefail
tessel=$1
backend=$2
here=$(cd "$(dirname "$0")" && pwd)
models=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/make_cases.py" "$work"
for d in "$work"/*/; do
  NODE_PATH="$models/node/node_modules" node "$here/../models/reference.js" "$d/model.onnx" "$d"
  /usr/bin/python3 "$here/../models/make_test_data.py" outputs "$d" >/dev/null
done
status=0
"$tessel" check --backend "$backend" --rtol 1e-4 --atol 1e-4 "$work"/*/ >"$work/log" 2>&1 || status=1
grep -v '^PASS' "$work/log" || true
exit $status
