#!/usr/bin/env bash
# Builds the runtime (loader, planner, thread pool, C API, every backend) with clang-16 and
# ThreadSanitizer and runs concurrent_sessions.cpp: sessions of one model on several threads,
# and one session entered from two threads at once. Any data race fails the test.
# -DNDEBUG as in the release build (flatbuffers asserts on the 64-byte alignment the artifact
# writer asks for its constants, which release builds honour).
# Usage: run_tsan.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/tsan"
mkdir -p "$out"
cxx="clang++-16"
command -v ccache >/dev/null && cxx="ccache clang++-16"
flags=(-std=c++20 -O1 -g -DNDEBUG -fsanitize=thread -pthread -I"$root/core/include" -I"$root/runtime/include"
  -I"$root/search/include" -I"$root/include" -I"$root/backends/reference/include"
  -I"$root/backends/null/include" -I"$root/backends/cpu_x86/include" -I"$build/core/generated")
objs=()
for src in "$root"/core/src/*.cpp "$root"/runtime/src/*.cpp "$root"/search/src/*.cpp \
  "$root"/backends/reference/*.cpp "$root"/backends/null/*.cpp "$root"/backends/cpu_x86/*.cpp \
  "$build"/runtime/builtin_backends.cpp "$root/tests/tsan/concurrent_sessions.cpp"; do
  obj="$out/$(echo "$src" | md5sum | cut -c1-12).o"
  isa=()
  case "$src" in # the kernel families at -O0: instrumented SIMD code compiles slowly
  */family_avx2.cpp) isa=(-mavx2 -mfma -O0) ;;
  */family_avx512.cpp) isa=(-mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma -O0) ;;
  esac
  $cxx "${flags[@]}" "${isa[@]}" -c "$src" -o "$obj" &
  objs+=("$obj")
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait
clang++-16 -fsanitize=thread -pthread "${objs[@]}" -o "$out/concurrent_sessions"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$out/concurrent_sessions" >"$out/log" 2>&1 || {
  cat "$out/log"
  exit 1
}
