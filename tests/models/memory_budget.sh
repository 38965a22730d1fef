#!/usr/bin/env bash
# The plan's memory (docs/search.md, Memory budget) on the public models, by the cost model at two
# threads: the arena the plan predicts is never under the session's (equal where the session
# shares no storage beyond views); a budget under the fastest plan's weights plus arena gives a
# plan within it that still matches the test data; one under what the leanest kernels need fails
# naming the numbers.
# Usage: memory_budget.sh TESSEL_BINARY MODELS_DIR
set -euo pipefail
tessel=$1
models=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VK_ICD_FILENAMES=/nonexistent.json OCL_ICD_VENDORS=/nonexistent # the CPU's plan

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

for model in resnet18 mobilenet_v2 squeezenet1_1 shufflenet_v2_x1_0 ppocr_v4_det; do
  shape=()
  [ "$model" = ppocr_v4_det ] && shape=(--shape x=1x3x640x640)
  "$tessel" search "$models/$model/model.onnx" "${shape[@]}" --search model --threads 2 \
    --runs 1 --json > "$work/$model.json"
  predicted=$(field "$work/$model.json" arena_bytes)
  session=$(field "$work/$model.json" session_arena_bytes)
  if [ "$session" -gt "$predicted" ]; then
    echo "$model: the session's arena ($session bytes) is over the plan's ($predicted)" >&2
    exit 1
  fi
  # resnet18 and mobilenet_v2 share no storage beyond views: the prediction is the session's.
  if [ "$model" = resnet18 ] || [ "$model" = mobilenet_v2 ]; then
    if [ "$session" -ne "$predicted" ]; then
      echo "$model: the plan predicts $predicted bytes of arena, the session has $session" >&2
      exit 1
    fi
  fi
done

# squeezenet1_1: 1 MB under the fastest plan's weights plus arena. The plan takes leaner kernels
# and still computes the model.
weights=$(field "$work/squeezenet1_1.json" weight_bytes)
arena=$(field "$work/squeezenet1_1.json" arena_bytes)
budget=$((weights + arena - 1000000))
"$tessel" search "$models/squeezenet1_1/model.onnx" --search model --threads 2 --runs 1 \
  --memory-budget "$budget" --json > "$work/budget.json"
total=$(($(field "$work/budget.json" weight_bytes) + $(field "$work/budget.json" arena_bytes)))
if [ "$total" -gt "$budget" ]; then
  echo "squeezenet1_1: the plan needs $total bytes, over the budget of $budget" >&2
  exit 1
fi
"$tessel" check --search model --threads 2 --memory-budget "$budget" --rtol 1e-3 --atol 1e-4 \
  "$models/squeezenet1_1" > "$work/check.txt"

# mobilenet_v2: under what its leanest kernels keep of weights alone.
if "$tessel" search "$models/mobilenet_v2/model.onnx" --search model --threads 2 --runs 1 \
  --memory-budget 10MiB > "$work/over.txt" 2>&1; then
  echo "mobilenet_v2: a 10 MiB budget was met" >&2
  exit 1
fi
grep -q "over the memory budget of 10485760 bytes; the leanest kernels found need" "$work/over.txt" || {
  cat "$work/over.txt" >&2
  exit 1
}
