#!/usr/bin/env bash
# Builds the artifact-loader fuzzer with clang-16 (libFuzzer + ASan + UBSan) from the runtime's
# sources and runs it for a few seconds from a seed corpus of real artifacts.
# Usage: run_fuzzer.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=${2:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/fuzz"
mkdir -p "$out/corpus"
cxx="clang++-16"
command -v ccache >/dev/null && cxx="ccache clang++-16"
sources=(
  "$root"/core/src/*.cpp
  "$root"/runtime/src/{program,backend,memory_plan,session,artifact_reader,artifact_writer}.cpp
  "$root"/backends/reference/*.cpp "$root"/backends/null/*.cpp
  "$build"/runtime/builtin_backends.cpp
  "$root"/tests/fuzz/artifact_fuzzer.cpp
)
objs=()
for src in "${sources[@]}"; do
  obj="$out/$(echo "$src" | md5sum | cut -c1-12).o"
  $cxx -std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/core/include" -I"$root/runtime/include" -I"$root/include" \
    -I"$root/backends/reference/include" -I"$root/backends/null/include" -I"$build/core/generated" \
    -c "$src" -o "$obj" &
  objs+=("$obj")
  # two compile jobs at a time
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait
clang++-16 -fsanitize=fuzzer,address,undefined "${objs[@]}" -o "$out/artifact_fuzzer"
# A fixed seed and run count keep CI reproducible; the time limit only caps a slow machine.
rm -rf "$out/corpus/"*
"$build/tools/tessel-opt" "$root/tests/lit/emit.mlir" -tessel-emit=output="$out/corpus/emit.tsl" >/dev/null
"$out/artifact_fuzzer" -seed=20261127 -runs="${FUZZ_RUNS:-2000000}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
  -artifact_prefix="$out/" "$out/corpus" "$root/tests/fuzz/regressions" 2>"$out/fuzz.log" || { tail -n 60 "$out/fuzz.log"; exit 1; }
echo "fuzzer: $(grep -oE 'DONE +cov: [0-9]+' "$out/fuzz.log" || echo 'time limit'), no crash"
