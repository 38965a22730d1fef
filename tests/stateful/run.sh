#!/usr/bin/env bash
# Stateful models exported with Debian's torch (LSTM, GRU, If on an input's value, Loop), 100
# consecutive calls on one session each, against onnxruntime-node (issue 11, criterion 3).
# Usage: run.sh TESSEL_BINARY STATEFUL_STEPS_BINARY
set -euo pipefail
tessel=$1
steps=$2
here=$(cd "$(dirname "$0")" && pwd)
models=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/export_models.py" "$work"
status=0
for d in "$work"/*/; do
  NODE_PATH="$models/node/node_modules" node "$here/ort_steps.js" "$d"
  "$tessel" convert "$d/model.onnx" -o "$d/model.tsl" >/dev/null
  "$steps" "$d/model.tsl" "$d" >/dev/null || status=1
done
exit $status
