# Sourced by the sanitizer test scripts (fuzz/run_fuzzer.sh, tsan/run_tsan.sh): how they compile
# the project's sources with clang-16 outside CMake. Expects `root` (the source tree), `build`
# (the CMake build, for generated headers) and `out` (where objects go); the caller sets `flags`
# (its sanitizer and defines) after `includes`.
cxx="clang++-16"
command -v ccache >/dev/null && cxx="ccache clang++-16"
# Paths inside the tree hashed as relative ones (and no working directory in the hash, which
# -g would add): a fresh checkout, as CI's, reuses the objects an earlier checkout compiled.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
includes=(-I"$root/core/include" -I"$root/runtime/include" -I"$root/search/include"
  -I"$root/include" -I"$root/decompose/include" -I"$root/graph/include" -I"$root/frontend/onnx/include"
  -I"$root/backends/reference/include" -I"$root/backends/null/include"
  -I"$root/backends/cpu_x86/include" -I"$build/core/generated")
# The runtime library's sources: loader, planner, thread pool, C API, every backend.
runtimeSources=("$root"/core/src/*.cpp "$root"/runtime/src/*.cpp "$root"/search/src/*.cpp
  "$root"/backends/reference/*.cpp "$root"/backends/null/*.cpp "$root"/backends/cpu_x86/*.cpp
  "$build"/runtime/builtin_backends.cpp)

# Compiles sources (two at a time) with "${flags[@]}" and prints the object files.
compile() {
  local objs=() src obj
  for src in "$@"; do
    obj="$out/$(echo "$src" | md5sum | cut -c1-12).o"
    # cpu_x86 families: the flags backends/cpu_x86/CMakeLists.txt gives them, and -O0: optimising
    # their unrolled SIMD kernels under the sanitizers took 3-6 minutes a file (kernels are
    # checked against the reference in ctest; here they only have to run).
    local isa=()
    case "$src" in
    */family_avx2.cpp) isa=(-mavx2 -mfma -O0) ;;
    */family_avx512.cpp) isa=(-mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma -O0) ;;
    esac
    $cxx "${flags[@]}" "${isa[@]}" -c "$src" -o "$obj" &
    objs+=("$obj")
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  done
  wait
  printf '%s\n' "${objs[@]}"
}
