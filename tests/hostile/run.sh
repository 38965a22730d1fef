#!/usr/bin/env bash
# Converts, then runs, every tiny hostile model from tiny_models.py. Each step must end in success
# or in exactly one `tessel: error:` line (never a signal or a timeout of 10 s), with peak RSS
# under 384 MiB (256 MiB of work over the CLI's ~128 MiB baseline); the slowest conversion and
# the largest footprint are printed (issue 10: under 1 s, under 256 MiB). Runs get a 256 MiB
# memory budget: a model asking more is refused before allocating.
# Usage: run.sh TESSEL_BINARY
set -uo pipefail
tessel=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/tiny_models.py" "$work" || exit 1
failures=0 count=0 slowest=0 biggest=0

# step NAME COMMAND...: runs it; sets rc, secs, kib; counts a failure.
step() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" timeout 10 "$@" >/dev/null 2>"$work/err"
  rc=$?
  read -r secs kib < <(tail -n 1 "$work/time") || { secs=99 kib=0; }
  local lines
  lines=$(grep -c . "$work/err")
  if [ $rc -ge 124 ] || [ "$kib" -gt $((384 * 1024)) ] ||
     { [ $rc -ne 0 ] && { [ "$lines" -ne 1 ] || ! grep -q '^tessel: error: ' "$work/err"; }; }; then
    echo "FAIL $name: exit $rc, $secs s, $kib KiB"
    head -3 "$work/err"
    failures=$((failures + 1))
  fi
}

for m in "$work"/*.onnx; do
  count=$((count + 1))
  name=$(basename "$m" .onnx)
  rm -f "$work/o.tsl"
  step "$name convert" "$tessel" convert "$m" -o "$work/o.tsl"
  awk -v a="$secs" -v b="$slowest" 'BEGIN { exit !(a > b) }' && slowest=$secs
  [ "$kib" -gt "$biggest" ] && biggest=$kib
  [ $rc -eq 0 ] && step "$name run" "$tessel" run --memory-budget 256MiB "$work/o.tsl"
done
echo "$count tiny models: $failures failures; slowest conversion $slowest s, largest $((biggest / 1024)) MiB"
[ "$failures" -eq 0 ]
