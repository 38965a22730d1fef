#!/usr/bin/env bash
# Builds the runtime (loader, planner, thread pool, C API, every backend) with clang-16 and
# ThreadSanitizer and runs concurrent_sessions.cpp: sessions of one model on several threads,
# and one session entered from two threads at once. Any data race fails the test.
# -DNDEBUG as in the release build (flatbuffers asserts on the 64-byte alignment the artifact
# writer asks for its constants, which release builds honour).
# Usage: run_tsan.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/tsan"
mkdir -p "$out"
source "$root/tests/sanitized_build.sh"
flags=(-std=c++20 -O1 -g -DNDEBUG -fsanitize=thread -pthread "${includes[@]}")
mapfile -t objs < <(compile "${runtimeSources[@]}" "$root/tests/tsan/concurrent_sessions.cpp")
clang++-16 -fsanitize=thread -pthread "${objs[@]}" -o "$out/concurrent_sessions"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$out/concurrent_sessions" >"$out/log" 2>&1 || {
  cat "$out/log"
  exit 1
}
