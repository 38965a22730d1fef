#!/usr/bin/env bash
# Every C++ source follows .clang-format (LLVM base, 100 columns).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(find core decompose graph frontend ir runtime search backends tools tests include bench \
  -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.mm' | sort)
clang-format --dry-run -Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
