#!/usr/bin/env bash
# The runtime must not link LLVM or MLIR: no such library among its dependencies, no such symbol
# inside it. Usage: runtime_deps.sh path/to/libtessel_runtime.so
set -euo pipefail
lib=$1
needed=$(readelf -d "$lib" | awk '/NEEDED/ {print $5}')
if echo "$needed" | grep -Ei 'llvm|mlir|clang'; then
  echo "FAIL: $lib links LLVM/MLIR"; exit 1
fi
if nm -DC --defined-only "$lib" | grep -E ' (mlir|llvm)::' | head -n 3 | grep .; then
  echo "FAIL: $lib defines LLVM/MLIR symbols"; exit 1
fi
if ldd "$lib" | grep -Ei 'llvm|mlir'; then
  echo "FAIL: $lib pulls LLVM/MLIR in transitively"; exit 1
fi
echo "runtime dependencies: $(echo $needed | tr '\n' ' ')"
