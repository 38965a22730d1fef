#!/usr/bin/env bash
# The Metal shaders the build generated (MSL_DIR, build/backends/metal/msl) against the golden
# files in backends/metal/shaders: every generated file must equal its golden one and every
# golden one must still be generated. --update rewrites the golden files (review the diff).
# Usage: check_golden.sh MSL_DIR [--update]
set -euo pipefail
msl=$1
golden=$(cd "$(dirname "$0")" && pwd)/shaders
if [ "${2:-}" = "--update" ]; then
  rm -rf "$golden" && mkdir -p "$golden"
  cp "$msl"/*.metal "$golden"/
  echo "wrote $(ls "$golden" | wc -l) golden files to $golden"
  exit 0
fi
status=0
for f in "$msl"/*.metal; do
  name=$(basename "$f")
  # The fixed indices (README.md): no two resources of one kind at one index in a kernel.
  dup=$(grep '^kernel void' "$f" | grep -oE '\[\[(buffer|texture)\([0-9]+\)\]\]' | sort | uniq -d)
  if [ -n "$dup" ]; then
    echo "FAIL: $name binds two resources at $dup"
    status=1
  fi
  if [ ! -f "$golden/$name" ]; then
    echo "FAIL: $name is generated but has no golden file (run with --update)"
    status=1
  elif ! cmp -s "$f" "$golden/$name"; then
    echo "FAIL: $name differs from its golden file:"
    diff -u "$golden/$name" "$f" | head -n 20
    status=1
  fi
done
for f in "$golden"/*.metal; do
  [ -f "$msl/$(basename "$f")" ] || { echo "FAIL: golden $(basename "$f") is no longer generated"; status=1; }
done
exit $status
