#!/usr/bin/env bash
# ONNX conformance: runs `tessel check` over every test of Debian's libonnx-testdata (the node
# tests, and the pytorch-converted, pytorch-operator and simple models) and compares the failures
# with the checked-in list: known_failures_<BACKEND>.txt where a backend fails differently, else
# known_failures.txt, which every backend shares today. A new failure is a regression; a listed
# test that now passes must be removed from the list. Nothing is skipped. Test names are unique
# across the directories. --update writes the backend's own list (remove it again if it equals the
# shared one).
# Usage: run_node_tests.sh TESSEL_BINARY [BACKEND] [--update]
set -uo pipefail
tessel=$1
backend=${2:-reference}
here=$(cd "$(dirname "$0")" && pwd)
root=/usr/share/libonnx-testdata/data
dirs="node pytorch-converted pytorch-operator simple"
known="$here/known_failures_${backend}.txt"
[ -f "$known" ] || [ "${3:-}" = "--update" ] || known="$here/known_failures.txt"
for d in $dirs; do
  [ -d "$root/$d" ] || { echo "missing $root/$d (Debian package libonnx-testdata)"; exit 1; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2046
"$tessel" check --backend "$backend" $(for d in $dirs; do echo "$root/$d"/test_*; done) >"$out" 2>&1
# A GPU backend's validation layer (on in ctest) must have nothing to say.
if grep -q "vulkan validation" "$out"; then
  grep "vulkan validation" "$out" | head -n 5
  echo "FAIL: validation messages (above)"
  exit 1
fi
# One line per failing test: "name  # reason".
failing=$(grep '^FAIL ' "$out" | sed -E 's|^FAIL ([^/]*)/test_data_set_[0-9]+: (.*)$|\1  # \2|' | sort -u -t' ' -k1,1)
if [ "${3:-}" = "--update" ]; then
  printf '%s\n' "$failing" >"$known"
  echo "wrote $known"
  exit 0
fi
new=$(comm -23 <(printf '%s\n' "$failing" | cut -d' ' -f1 | sort) <(cut -d' ' -f1 "$known" | sort))
fixed=$(comm -13 <(printf '%s\n' "$failing" | cut -d' ' -f1 | sort) <(cut -d' ' -f1 "$known" | sort))
# Per directory: tests passing of those there.
summary=""
for d in $dirs; do
  total=0 failed=0
  for t in "$root/$d"/test_*; do
    total=$((total + 1))
    printf '%s\n' "$failing" | grep -q "^$(basename "$t") " && failed=$((failed + 1))
  done
  summary+="$d $((total - failed))/$total; "
done
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
echo "onnx tests ($backend): ${summary%; }"
exit $status
