#!/usr/bin/env bash
# libtessel_graph (decomposition at run time) ships to devices beside the runtime: it may need the
# runtime and the C/C++ runtimes, never LLVM, MLIR, protobuf or ONNX. Reports its stripped size.
# Usage: graph_deps.sh path/to/libtessel_graph.so
set -euo pipefail
lib=$1
needed=$(readelf -d "$lib" | awk '/NEEDED/ {print $5}')
for n in $needed; do
  case "${n//[\[\]]/}" in
  libtessel_runtime.so | libc.so.* | libm.so.* | libstdc++.so.* | libgcc_s.so.* | ld-linux-x86-64.so.*) ;;
  *) echo "FAIL: $lib needs $n"; exit 1 ;;
  esac
done
if ldd "$lib" | grep -Ei 'llvm|mlir|protobuf|onnx'; then
  echo "FAIL: $lib pulls LLVM/MLIR/protobuf/ONNX in transitively"; exit 1
fi
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$lib"
echo "graph library dependencies: $(echo $needed | tr '\n' ' '); stripped: $(stat -c %s "$stripped") bytes"
