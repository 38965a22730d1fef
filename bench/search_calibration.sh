#!/usr/bin/env bash
# The cost model against measurement, leaving one model out (docs/search.md, Kernel fits):
# 1. each public model's candidates measured into its own profile cache (tessel search --search
#    measure, which also keeps the measured plan's session times), at THREADS threads; with
#    FRESH=1, all five again right before each model is evaluated, so that a machine whose speed
#    drifts over minutes measures the caches and times the model in the same minutes;
# 2. for each model, the other four models' caches merged: the kernels' fits the model-only plan
#    of this model takes, none of them fitted to its own primitives;
# 3. per model: how often the cost model's pick (with those fits) is within 10% of the measured
#    best where two or more candidates were measured; the model-only plan's predicted total
#    against its time in a session (the sum of each step's least time over profiled runs) and
#    end to end (tessel bench, min of RUNS); the model-only plan end to end against the measured
#    plan, both converted to artifacts and timed run by run in one process (tessel_load_ab,
#    10 x RUNS pairs): the median of the paired ratios, and the ratio of the minima.
# Usage: [FRESH=1] bench/search_calibration.sh [THREADS] [RUNS]   (defaults: 2 threads, 20 runs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
runs=${2:-20}
models=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
tessel="$root/build/tools/tessel"
loadAb="$root/build/bench/tessel_load_ab"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
names=(resnet18 mobilenet_v2 squeezenet1_1 shufflenet_v2_x1_0 ppocr_v4_det)
shape() { [ "$1" = ppocr_v4_det ] && echo "--shape x=1x3x640x640" || true; }
measureAll() {
  local m
  for m in "${names[@]}"; do
    rm -f "$work/$m.profile"
    # shellcheck disable=SC2046
    "$tessel" search "$models/$m/model.onnx" $(shape "$m") --threads "$threads" --search measure \
      --profile "$work/$m.profile" >/dev/null
  done
}
measureAll
printf '| model | pick within 10%% | model-only predicted | in a session | end to end (min of %d) | model-only / measured plan (paired median; minima) |\n' "$runs"
printf '|---|---|---|---|---|---|\n'
for m in "${names[@]}"; do
  if [ "${FRESH:-0}" = 1 ] && [ "$m" != "${names[0]}" ]; then measureAll; fi
  others="$work/others-$m.profile"
  head -n 1 "$work/${names[0]}.profile" >"$others" # this build's format
  for o in "${names[@]}"; do
    [ "$o" = "$m" ] || tail -n +2 "$work/$o.profile" >>"$others"
  done
  cp "$others" "$work/pick.profile"
  # shellcheck disable=SC2046
  pick=$("$tessel" search "$models/$m/model.onnx" $(shape "$m") --threads "$threads" \
    --search measure --profile "$work/pick.profile" | sed -n 's/^cost model: its pick within 10% of the measured best for \([0-9]*\) of \([0-9]*\) .*/\1 of \2/p')
  # shellcheck disable=SC2046
  totals=$("$tessel" search "$models/$m/model.onnx" $(shape "$m") --threads "$threads" \
    --search model --profile "$others" | sed -n 's/^predicted \([0-9.]*\) ms .*measured \([0-9.]*\) ms .*/\1 \2/p')
  # shellcheck disable=SC2046
  best_model=$("$tessel" bench "$models/$m/model.onnx" $(shape "$m") --threads "$threads" \
    --runs "$runs" --search model --profile "$others" --json | sed -n 's/.*"min_ms": \([0-9.]*\).*/\1/p')
  # The two plans as artifacts (the compiler plans with a cache's times as a load measuring
  # does), timed in turn: model-only over measured.
  # shellcheck disable=SC2046
  "$tessel" convert "$models/$m/model.onnx" $(shape "$m") -o "$work/model.tsl" --search model \
    --profile "$others" --threads "$threads" >/dev/null
  # shellcheck disable=SC2046
  "$tessel" convert "$models/$m/model.onnx" $(shape "$m") -o "$work/measured.tsl" --search model \
    --profile "$work/$m.profile" --threads "$threads" >/dev/null
  ab=$("$loadAb" "$work/measured.tsl" default "$work/model.tsl" "$threads" $((10 * runs)) |
    sed -n 's/^paired ratio .*: median \([0-9.]*\), ratio of minima \([0-9.]*\) .*/\1 \2/p')
  read -r predicted measured <<<"$totals"
  read -r pairedMedian minima <<<"$ab"
  printf '| %s | %s | %s ms | %s ms (%+.0f%%) | %s ms (%+.0f%%) | %s; %s |\n' "$m" "$pick" \
    "$predicted" "$measured" "$(echo "$predicted $measured" | awk '{print 100 * ($1 / $2 - 1)}')" \
    "$best_model" "$(echo "$predicted $best_model" | awk '{print 100 * ($1 / $2 - 1)}')" \
    "$pairedMedian" "$minima"
done
