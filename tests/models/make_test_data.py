#!/usr/bin/python3
"""Write seeded inputs for a model, and wrap reference outputs as ONNX test_data_set_N.

  make_test_data.py inputs MODEL.onnx CASE_DIR [--text-page] [--shape AxBxC...] [--set N]
      writes CASE_DIR/test_data_set_N/input_K.pb (N = 0 unless given) and CASE_DIR/inputs.json
      (raw .bin files for node)
  make_test_data.py outputs CASE_DIR [--set N]
      turns the raw outputs written by reference.js into test_data_set_N/output_K.pb
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ONNX_TO_NP = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def text_page(h, w, seed):
    """A synthetic page of text, normalised as PP-OCR expects (ImageNet mean/std, NCHW)."""
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (w, h), (245, 245, 240))
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 18)
    except OSError:
        font = ImageFont.load_default()
    words = ["tessel", "runtime", "raster", "primitive", "model", "device", "cloud", "kernel",
             "region", "stride", "offset", "2026", "OCR", "text", "line", "page"]
    y = 8
    while y < h - 24:
        x = int(rng.integers(4, 30))
        line = " ".join(words[int(i)] for i in rng.integers(0, len(words), size=6))
        draw.text((x, y), line, fill=(20, 20, 30), font=font)
        y += int(rng.integers(24, 34))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    arr = (arr - mean) / std
    return arr.transpose(2, 0, 1)[None].astype(np.float32).copy()


def write_inputs(model_path, case_dir, page, shape_override, set_index=0):
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    ds = os.path.join(case_dir, f"test_data_set_{set_index}")
    os.makedirs(ds, exist_ok=True)
    rng = np.random.default_rng(1234)
    meta = []
    for idx, inp in enumerate(i for i in model.graph.input if i.name not in inits):
        tt = inp.type.tensor_type
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in tt.shape.dim]
        if shape_override:
            dims = shape_override
        if page:
            arr = text_page(dims[2], dims[3], seed=7)
        else:
            arr = rng.standard_normal(dims).astype(ONNX_TO_NP[tt.elem_type])
        t = numpy_helper.from_array(arr, inp.name)
        with open(os.path.join(ds, f"input_{idx}.pb"), "wb") as f:
            f.write(t.SerializeToString())
        raw = os.path.join(case_dir, f"input_{idx}.bin")
        arr.tofile(raw)
        meta.append({"name": inp.name, "dims": list(arr.shape), "file": raw})
    with open(os.path.join(case_dir, "inputs.json"), "w") as f:
        json.dump(meta, f)


def write_outputs(case_dir, set_index=0):
    with open(os.path.join(case_dir, "outputs.json")) as f:
        meta = json.load(f)
    ds = os.path.join(case_dir, f"test_data_set_{set_index}")
    for idx, out in enumerate(meta):
        dtype = np.dtype(out.get("type", "float32"))  # onnxruntime-node's names are numpy's
        arr = np.fromfile(out["file"], dtype=dtype).reshape(out["dims"])
        degenerate = dtype.kind == "f" and (not np.isfinite(arr).all() or float(arr.std()) < 1e-3)
        if degenerate or arr.size == 0:
            sys.exit(f"{case_dir}: reference output '{out['name']}' is degenerate (std {arr.std()})")
        t = numpy_helper.from_array(arr, out["name"])
        with open(os.path.join(ds, f"output_{idx}.pb"), "wb") as f:
            f.write(t.SerializeToString())
        os.remove(out["file"])


def set_index():
    return int(sys.argv[sys.argv.index("--set") + 1]) if "--set" in sys.argv else 0


if __name__ == "__main__":
    if sys.argv[1] == "inputs":
        shape = None
        if "--shape" in sys.argv:
            shape = [int(v) for v in sys.argv[sys.argv.index("--shape") + 1].split("x")]
        write_inputs(sys.argv[2], sys.argv[3], "--text-page" in sys.argv, shape, set_index())
    else:
        write_outputs(sys.argv[2], set_index())
