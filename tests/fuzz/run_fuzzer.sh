#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-16 (+ ASan + UBSan) from the project's sources and runs
# each from a seed corpus, with a fixed seed and run count so CI is reproducible (the time limit
# only caps a slow machine). Inputs that once broke a target stay in regressions/.
#   artifact: the .tsl loader, then running what loads, graph tables included (seeds: an emitted
#             artifact, one planned by the cost model with blocked layouts and a fused chain,
#             and seven that plan at run time, control flow among them)
#   onnx:     the ONNX frontend, then the whole model run (seeds: the node models of
#             libonnx-testdata); first it replays the hostile corpora once each
#   profile:  the profile cache's parser, and printing back what parses (seed: a small cache)
# Usage: run_fuzzer.sh BUILD_DIR [SECONDS_PER_TARGET]
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/fuzz"
mkdir -p "$out"
source "$root/tests/sanitized_build.sh"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -DONNX_NAMESPACE=onnx -DONNX_ML=1 -pthread "${includes[@]}")

mapfile -t runtime < <(compile "${runtimeSources[@]}")
mapfile -t graph < <(compile "$root"/decompose/src/*.cpp "$root"/graph/src/*.cpp)
mapfile -t frontend < <(compile "$root"/frontend/onnx/src/*.cpp)
mapfile -t artifactMain < <(compile "$root/tests/fuzz/artifact_fuzzer.cpp")
mapfile -t onnxMain < <(compile "$root/tests/fuzz/onnx_fuzzer.cpp")
mapfile -t profileMain < <(compile "$root/tests/fuzz/profile_fuzzer.cpp")
clang++-16 -fsanitize=fuzzer,address,undefined "${runtime[@]}" "${graph[@]}" "${artifactMain[@]}" \
  -o "$out/artifact_fuzzer"
clang++-16 -fsanitize=fuzzer,address,undefined "${runtime[@]}" "${graph[@]}" "${frontend[@]}" \
  "${onnxMain[@]}" -lonnx -lonnx_proto -lprotobuf -o "$out/onnx_fuzzer"
clang++-16 -fsanitize=fuzzer,address,undefined "${runtime[@]}" "${profileMain[@]}" \
  -o "$out/profile_fuzzer"

# run TARGET RUNS SEED_DIR...
run() {
  local target=$1 runs=$2
  shift 2
  rm -rf "$out/corpus-$target" && mkdir -p "$out/corpus-$target"
  if ! "$out/${target}_fuzzer" -seed=20261127 -runs="$runs" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 -artifact_prefix="$out/$target-" \
      "$out/corpus-$target" "$@" 2>"$out/$target.log"; then
    tail -n 60 "$out/$target.log"
    echo "fuzzer $target: FAILED (input saved as $out/$target-*)"
    return 1
  fi
  echo "fuzzer $target: $(grep -oE 'DONE +cov: [0-9]+' "$out/$target.log" || echo 'time limit'), no crash"
}

seeds="$out/seeds-artifact"
mkdir -p "$seeds"
"$build/tools/tessel-opt" "$root/tests/lit/emit.mlir" -tessel-emit=output="$seeds/emit.tsl" >/dev/null
# A cost-model plan for this machine (kGraphPlanVersion): blocked layouts and a fused chain that
# the loader checks and keeps.
"$build/tools/tessel-opt" "$root/tests/lit/search-graph-plan.mlir" -tessel-decompose \
  -tessel-search="search=model threads=1" -tessel-emit=output="$seeds/graph_plan.tsl" >/dev/null
# Artifacts that plan at run time (a graph table, no program): shapes and bounds fed as inputs,
# subgraphs (If's branches, a Loop body reading an enclosing value), a data-dependent output.
for t in test_reshape_reduced_dims test_clip_splitbounds test_slice test_if test_loop11 \
  test_range_float_type_positive_delta_expanded test_nonzero_example; do
  "$build/tools/tessel" convert "/usr/share/libonnx-testdata/data/node/$t/model.onnx" \
    -o "$seeds/$t.tsl" >/dev/null
done
onnxSeeds="$out/seeds-onnx"
mkdir -p "$onnxSeeds"
for m in /usr/share/libonnx-testdata/data/node/*/model.onnx; do
  cp "$m" "$onnxSeeds/$(basename "$(dirname "$m")").onnx"
done
# The hostile corpora, replayed once each under the sanitizers and the same memory cap: the tiny
# models of tests/hostile (huge, zero and negative shape values on every shape-driving operator)
# and the CLI error tests' models (invalid ONNX, compact-form blow-ups).
hostile="$out/hostile"
rm -rf "$hostile" && mkdir -p "$hostile"
/usr/bin/python3 "$root/tests/hostile/tiny_models.py" "$hostile"
/usr/bin/python3 "$root/tests/cli/make_models.py" "$hostile"
replay() {
  local files=("$hostile"/*.onnx)
  if ! "$out/onnx_fuzzer" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/hostile-" \
      "${files[@]}" 2>"$out/hostile.log"; then
    tail -n 60 "$out/hostile.log"
    echo "hostile corpus under ASan/UBSan: FAILED"
    return 1
  fi
  echo "hostile corpus under ASan/UBSan: ${#files[@]} models, no finding"
}

status=0
replay || status=1
run artifact "${FUZZ_RUNS:-2000000}" "$seeds" "$root/tests/fuzz/regressions" || status=1
run onnx "${FUZZ_ONNX_RUNS:-200000}" "$onnxSeeds" "$root/tests/fuzz/regressions-onnx" || status=1
profileSeeds="$out/seeds-profile"
mkdir -p "$profileSeeds"
printf 'tessel-profile 1\n0123456789abcdef 0.000125\nfedcba9876543210 1.5e-05\n' \
  >"$profileSeeds/small.txt"
printf 'tessel-profile 2\ndevice cpu_x86 00000000000000aa\n%s\n%s\n' \
  '0123456789abcdef 0.000125 1111111111111111 2222222222222222 0.0001' \
  'fedcba9876543210 1.5e-05' >"$profileSeeds/fitted.txt"
printf 'tessel-profile 3\ndevice cpu_x86 00000000000000aa\n%s\n%s\n%s\n' \
  '0123456789abcdef 0.000125 1111111111111111 2222222222222222 0.0001' \
  'fedcba9876543210 1.5e-05' 'session 0123456789abcdef 0.00015' >"$profileSeeds/session.txt"
printf 'tessel-profile 4\ndevice cpu_x86 00000000000000aa\ntransfer 00000000000000bb 4e-05 3.5e+09\n%s\n%s\n%s\n' \
  '0123456789abcdef 0.000125 1111111111111111 2222222222222222 0.0001' \
  'fedcba9876543210 1.5e-05' 'session 0123456789abcdef 0.00015 00000000000000c1' \
  >"$profileSeeds/session_class.txt"
printf 'tessel-profile 5\ndevice cpu_x86 00000000000000aa\nmemory 00000000000000aa 2 2.25e+10\n%s\n' \
  '0123456789abcdef 0.000125 1111111111111111 2222222222222222 0.0001' >"$profileSeeds/memory.txt"
printf 'tessel-profile 6\ndevice cpu_x86 00000000000000aa\nchain 00000000000000cc 0.00025 0.0003\n%s\n' \
  '0123456789abcdef 0.000125 1111111111111111 2222222222222222 0.0001' >"$profileSeeds/chain.txt"
printf 'tessel-profile 7\ndevice cpu_x86 00000000000000aa\nkernels 00000000000000dd 0.0004 0.00035\n%s\n' \
  '0123456789abcdef 0.000125 1111111111111111 2222222222222222 0.0001' >"$profileSeeds/kernels.txt"
run profile "${FUZZ_PROFILE_RUNS:-300000}" "$profileSeeds" || status=1
exit $status
