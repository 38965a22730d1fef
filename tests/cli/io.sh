#!/usr/bin/env bash
# tessel run reads .pb and .npy inputs and writes each output as DIR/<name>.pb (ONNX TensorProto).
# Usage: io.sh TESSEL_BINARY
set -euo pipefail
tessel=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/make_models.py" "$work"
"$tessel" convert "$work/relu.onnx" -o "$work/relu.tsl" >/dev/null
for input in x_ok.pb x_ok.npy; do
  rm -rf "$work/out"
  "$tessel" run "$work/relu.tsl" --input "x=$work/$input" --output-dir "$work/out" >"$work/log"
  grep -q "output y: f32\[1,4\] min 1 max 1 mean 1" "$work/log" || { cat "$work/log"; exit 1; }
  /usr/bin/python3 - "$work/out/y.pb" <<'PY'
import sys
import numpy as np
import onnx
from onnx import numpy_helper
y = numpy_helper.to_array(onnx.load_tensor(sys.argv[1]))
assert y.shape == (1, 4) and y.dtype == np.float32 and (y == 1).all(), y
PY
done
# The .onnx is converted in memory when given directly.
"$tessel" run "$work/relu.onnx" --input "x=$work/x_ok.npy" | grep -q "output y: f32\[1,4\] min 1 max 1"
echo "3 passed, 0 failed"
