#!/usr/bin/env bash
# A GPU backend without its driver: asked for by name, one clear error line naming the backend
# and why; not asked for, the CPU backends run the model. Usage: gpu_no_driver.sh TESSEL BACKENDS...
set -uo pipefail
tessel=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/relu.onnx" <<'PY'
import sys, onnx
from onnx import helper, TensorProto
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
PY
mkdir -p "$work/none"
# No Vulkan ICD and no OpenCL vendor files: neither loader finds a driver.
export VK_ICD_FILENAMES="$work/none/none.json" VK_DRIVER_FILES="$work/none/none.json"
export OCL_ICD_VENDORS="$work/none"
status=0
for backend in "$@"; do
  err=$("$tessel" run "$work/relu.onnx" --backend "$backend" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] ||
    ! grep -q "backend '$backend': .*no .* driver" <<<"$err"; then
    echo "FAIL $backend without a driver: exit $rc, stderr: $err"
    status=1
  fi
done
if ! out=$("$tessel" run "$work/relu.onnx" 2>&1) || ! grep -q "primitives by backend: cpu_x86" <<<"$out"; then
  echo "FAIL the CPU backends without GPU drivers: $out"
  status=1
fi
exit $status
