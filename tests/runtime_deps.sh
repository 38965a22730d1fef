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
# Only the C and C++ runtimes (and the loader) may be needed: no BLAS, no OpenMP, no Highway yet.
for n in $needed; do
  case "${n//[\[\]]/}" in
  libc.so.* | libm.so.* | libstdc++.so.* | libgcc_s.so.* | ld-linux-x86-64.so.*) ;;
  *) echo "FAIL: $lib needs $n"; exit 1 ;;
  esac
done
# The stripped device runtime (loader, planner, C API, cpu_x86 with both families, reference;
# the null backend is a plugin of its own) stays under 1.5 MB.
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$lib"
size=$(stat -c %s "$stripped")
echo "stripped runtime: $size bytes"
[ "$size" -lt 1572864 ] || { echo "FAIL: stripped runtime is $size bytes (limit 1.5 MiB)"; exit 1; }
