#!/usr/bin/env bash
# The README's list of supported operators and element types must be what `tessel operators`
# prints from the lists the code runs on (onnx_ops.def, the control-flow table, TESSEL_DTYPES).
# Usage: readme_operators.sh TESSEL_BINARY [--update]
set -euo pipefail
tessel=$1
readme="$(cd "$(dirname "$0")/.." && pwd)/README.md"
begin='<!-- tessel operators: begin -->'
end='<!-- tessel operators: end -->'
generated=$("$tessel" operators)
if [ "${2:-}" = "--update" ]; then
  awk -v b="$begin" -v e="$end" -v g="$generated" '
    $0 == b { print; print g; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' "$readme" >"$readme.new" && mv "$readme.new" "$readme"
  exit 0
fi
current=$(awk -v b="$begin" -v e="$end" '$0 == e { on = 0 } on { print } $0 == b { on = 1 }' "$readme")
if [ "$current" != "$generated" ]; then
  echo "README.md's operator list differs from 'tessel operators' (run tests/readme_operators.sh TESSEL --update):"
  diff <(printf '%s\n' "$current") <(printf '%s\n' "$generated") | head -20
  exit 1
fi
