#!/usr/bin/python3
"""Writes the small models and tensors the CLI error tests feed to tessel."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(op, name, dims=(1, 4), **attrs):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(dims))
    node = helper.make_node(op, ["x"], ["y"], name=name, **attrs)
    graph = helper.make_graph([node], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


out = sys.argv[1]
onnx.save(model("Relu", "relu_0"), f"{out}/relu.onnx")
onnx.save(model("RandomUniformLike", "random_0", dims=(4, 4)), f"{out}/unsupported.onnx")
# Invalid ONNX the ONNX checker rejects (and an opset from the future).
onnx.save(model("Concat", "concat_no_axis"), f"{out}/no_axis.onnx")
onnx.save(model("Clip", "clip_attrs", min=0.0, max=1.0), f"{out}/clip_attrs.onnx")
x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
y4 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
twice = helper.make_graph([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["x"], ["y"])],
                          "g", [x4], [y4])
onnx.save(helper.make_model(twice, opset_imports=[helper.make_opsetid("", 13)]), f"{out}/twice.onnx")
future = model("Relu", "relu_future")
future.opset_import[0].version = 99
onnx.save(future, f"{out}/opset99.onnx")
no_ir = model("Relu", "relu_no_ir")
no_ir.ir_version = 0
onnx.save(no_ir, f"{out}/ir0.onnx")
# Declares an output shape its graph does not compute.
wrong = model("Relu", "relu_wrong")
wrong.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5
onnx.save(wrong, f"{out}/wrong_output.onnx")
# Declares 256 MiB tensors, and 1 TiB ones: for the memory budget.
onnx.save(model("Relu", "relu_big", (8192, 8192)), f"{out}/big.onnx")
onnx.save(model("Relu", "relu_8g", (1 << 15, 1 << 15)), f"{out}/big8.onnx")
onnx.save(model("Relu", "relu_huge", (1 << 18, 1 << 20)), f"{out}/huge.onnx")
# A symbolic batch dim: converted without --shape, the artifact plans at run time.
onnx.save(model("Relu", "relu_batch", ("batch", 4)), f"{out}/batch.onnx")
np.save(f"{out}/x_ok.npy", np.ones((1, 4), np.float32))
np.save(f"{out}/x_batch3.npy", np.ones((3, 4), np.float32))
np.save(f"{out}/x_shape.npy", np.ones((1, 5), np.float32))
np.save(f"{out}/x_dtype.npy", np.ones((1, 4), np.int64))
with open(f"{out}/x_ok.pb", "wb") as f:
    f.write(numpy_helper.from_array(np.ones((1, 4), np.float32), "x").SerializeToString())
# An ONNX sequence value file (as the node tests ship), given where a tensor is expected.
with open(f"{out}/x_seq.pb", "wb") as f:
    seq = helper.make_sequence("x", onnx.SequenceProto.TENSOR,
                               [numpy_helper.from_array(np.ones((1, 4), np.float32), "t")])
    f.write(seq.SerializeToString())


# Tiny files asking the converter for huge work: each must fail (or convert) within a second.
def hostile(nodes, inits, name, xshape, rank):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"d{i}" for i in range(rank)])
    g = helper.make_graph(nodes, "g", [x], [y], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{out}/{name}.onnx")


def ints(name, v):
    return numpy_helper.from_array(np.array(v, np.int64), name)


hostile([helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="nearest")],
        [ints("s", [1, 1, 1 << 40, 1 << 40])], "resize_huge", [1, 1, 2, 2], 4)
hostile([helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
        [ints("s", [1, 1, 1 << 14, 1 << 14])], "resize_phases", [1, 1, 2, 2], 4)
hostile([helper.make_node("Gather", ["x", "i"], ["y"], axis=0)],
        [ints("i", [(j * 7919) % 3 - 2 for j in range(1 << 19)])],
        "gather_many", [2, 3], 2)
hostile([helper.make_node("Tile", ["x", "r"], ["y"])], [ints("r", [100000, 100000])], "tile_huge",
        [2, 3], 2)
