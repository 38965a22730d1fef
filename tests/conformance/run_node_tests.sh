#!/usr/bin/env bash
# ONNX node conformance: runs `tessel check` over every node test of Debian's libonnx-testdata
# and compares the failures with the checked-in list for the backend. A new failure is a
# regression; a listed test that now passes must be removed from the list. Nothing is skipped.
# Usage: run_node_tests.sh TESSEL_BINARY [BACKEND] [--update]
set -uo pipefail
tessel=$1
backend=${2:-reference}
here=$(cd "$(dirname "$0")" && pwd)
data=/usr/share/libonnx-testdata/data/node
known="$here/known_failures_${backend}.txt"
[ -d "$data" ] || { echo "missing $data (Debian package libonnx-testdata)"; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$tessel" check --backend "$backend" "$data"/test_* >"$out" 2>&1
# One line per failing test: "name  # reason".
failing=$(grep '^FAIL ' "$out" | sed -E 's|^FAIL ([^/]*)/test_data_set_[0-9]+: (.*)$|\1  # \2|' | sort -u -t' ' -k1,1)
if [ "${3:-}" = "--update" ]; then
  printf '%s\n' "$failing" >"$known"
  echo "wrote $known"
  exit 0
fi
new=$(comm -23 <(printf '%s\n' "$failing" | cut -d' ' -f1 | sort) <(cut -d' ' -f1 "$known" | sort))
fixed=$(comm -13 <(printf '%s\n' "$failing" | cut -d' ' -f1 | sort) <(cut -d' ' -f1 "$known" | sort))
summary=$(tail -n 1 "$out")
status=0
if [ -n "$new" ]; then
  echo "New failures (regressions):"
  for t in $new; do grep "^FAIL $t/" "$out"; done
  status=1
fi
if [ -n "$fixed" ]; then
  echo "Now passing, remove from $(basename "$known"):"
  printf '  %s\n' $fixed
  status=1
fi
echo "node tests ($backend): $summary"
exit $status
