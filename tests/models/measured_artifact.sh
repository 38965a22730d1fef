#!/usr/bin/env bash
# tessel convert --search measure (docs/search.md, The plan in the artifact): the candidates are
# timed on this machine into a profile cache and the compiler plans with the cache's times, so
# the artifact carries the measured plan: step for step (kernel, layouts, fused chains) what a
# load with --search measure and the same cache runs. A second conversion with the warm cache
# measures nothing and writes the same bytes. The measured plan matches the test data.
# Usage: measured_artifact.sh TESSEL_BINARY MODELS_DIR
set -euo pipefail
tessel=$1
models=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VK_ICD_FILENAMES=/nonexistent.json OCL_ICD_VENDORS=/nonexistent # the CPU's plan

# The session's steps, without their times: per step its backend, primitive and kernel, output
# (with its layout) and origin, sorted.
steps() { "$tessel" bench "$@" --threads "$threads" --runs 1 --per-op | grep -F ' f32[' |
  awk '{ $1 = $2 = $3 = $4 = ""; print }' | sort; }

# mobilenet_v2 at one thread: on Zen 3 (AVX2) the isolated times fuse five of its chains, and
# the sessions keep one, so the chains' session times reach the artifact.
for run in squeezenet1_1:2 mobilenet_v2:1; do
  model=${run%:*} threads=${run#*:}
  onnx="$models/$model/model.onnx"
  out=$("$tessel" convert "$onnx" -o "$work/$model.tsl" --search measure --threads "$threads" \
    --profile "$work/$model.profile")
  grep -Eq '^measured [1-9][0-9]* candidates' <<<"$out" || { echo "FAIL $model: $out"; exit 1; }
  again=$("$tessel" convert "$onnx" -o "$work/$model.again.tsl" --search measure \
    --threads "$threads" --profile "$work/$model.profile")
  grep -q '^measured 0 candidates (.*), 0 fused chains and 0 kernel pairs' <<<"$again" ||
    { echo "FAIL $model, warm cache: $again"; exit 1; }
  cmp -s "$work/$model.tsl" "$work/$model.again.tsl" ||
    { echo "FAIL $model: the warm cache gave another artifact"; exit 1; }
  steps "$work/$model.tsl" >"$work/artifact.txt"
  steps "$onnx" --search measure --profile "$work/$model.profile" >"$work/measured.txt"
  [ -s "$work/artifact.txt" ] || { echo "FAIL $model: no steps listed"; exit 1; }
  if ! diff "$work/artifact.txt" "$work/measured.txt" >"$work/diff.txt"; then
    echo "FAIL $model: the artifact's plan is not the measured plan"; cat "$work/diff.txt"; exit 1
  fi
  "$tessel" check "$models/$model" --rtol 1e-3 --atol 1e-4 --threads "$threads" --search measure \
    --profile "$work/$model.profile" >/dev/null
done
