#!/usr/bin/env bash
# Installs the Debian packages Tessel needs, then configures and builds into build/.
# Usage: ./setup.sh            (idempotent; apt-get runs only when a package is missing)
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  build-essential cmake ninja-build ccache pkg-config git binutils clang-format
  # offline side: MLIR/LLVM 16 (pinned), clang for libFuzzer
  llvm-16-dev libmlir-16-dev mlir-16-tools llvm-16-tools clang-16 libclang-rt-16-dev
  # artifact schema and ONNX protobuf
  flatbuffers-compiler libflatbuffers-dev protobuf-compiler libprotobuf-dev libonnx-dev libxxhash-dev
  # tests: Catch2 v2, ONNX node test data, model export and references
  catch2 libonnx-testdata python3 python3-onnx python3-numpy python3-torch python3-torchvision
  python3-pil fonts-dejavu-core
  # GPU backends: Vulkan (loader, lavapipe as the device here, validation layers, GLSL to SPIR-V,
  # SPIR-V to MSL for Metal) and OpenCL (ICD loader, headers, PoCL as the device here)
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools glslc spirv-cross
  libspirv-cross-c-shared-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (onnxruntime-node makes the reference outputs): Debian's unless a node is there.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
