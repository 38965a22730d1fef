#!/usr/bin/python3
"""Writes tiny (< 1 KiB) ONNX models whose constants ask for huge or degenerate work: every
shape-driving input of the movement and generator operators set to large, zero, negative or
overflowing values. run.sh converts (and runs) each under time and memory limits."""
import itertools
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
BIG = [0, -1, 1 << 20, 1 << 31, 1 << 40, (1 << 62)]


def ints(name, v):
    return numpy_helper.from_array(np.array(v, np.int64), name)


def save(name, nodes, inits, xshape, rank, dtype=TensorProto.FLOAT):
    x = helper.make_tensor_value_info("x", dtype, xshape)
    y = helper.make_tensor_value_info("y", dtype, [f"d{i}" for i in range(rank)])
    g = helper.make_graph(nodes, "g", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    data = m.SerializeToString()
    if len(data) < 1024:
        with open(f"{out}/{name}.onnx", "wb") as f:
            f.write(data)


n = 0
for a, b in itertools.product(BIG, repeat=2):
    n += 1
    save(f"tile_{n}", [helper.make_node("Tile", ["x", "r"], ["y"])], [ints("r", [a, b])], [2, 3], 2)
    save(f"expand_{n}", [helper.make_node("Expand", ["x", "s"], ["y"])], [ints("s", [a, b])], [1, 1], 2)
    save(f"reshape_{n}", [helper.make_node("Reshape", ["x", "s"], ["y"])], [ints("s", [a, b])], [2, 3], 2)
    save(f"pad_{n}", [helper.make_node("Pad", ["x", "p"], ["y"], mode=["constant", "edge", "reflect"][n % 3])],
         [ints("p", [a, b, 0, 0])], [2, 3], 2)
    save(f"cos_{n}", [helper.make_node("ConstantOfShape", ["s"], ["y"])], [ints("s", [a, b])], [1], 2)
    save(f"slice_{n}", [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
         [ints("st", [a]), ints("en", [b]), ints("ax", [0]), ints("sp", [a if a else 1])], [8, 3], 2)
    save(f"resize_{n}", [helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="nearest")],
         [ints("s", [1, 1, a, b])], [1, 1, 2, 2], 4)
    save(f"gather_{n}", [helper.make_node("Gather", ["x", "i"], ["y"], axis=0)],
         [ints("i", [a, b])], [2, 3], 2)
    save(f"range_{n}", [helper.make_node("Range", ["s", "l", "d"], ["y"])],
         [ints("s", a), ints("l", b), ints("d", 1)], [1], 1)
    save(f"onehot_{n}", [helper.make_node("OneHot", ["i", "d", "v"], ["y"])],
         [ints("i", [0, 1]), ints("d", a), ints("v", [0, 1])], [1], 2)

# Attributes and operands that size windows, splits and axes: the same values on the operators
# whose shape inference multiplies or adds them (convolution and pooling windows, transposed
# strides, split sizes, block sizes, axes).
w = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
n = 0
for a, b in itertools.product(BIG, repeat=2):
    n += 1
    small = [max(v, 1) if v < (1 << 31) else v for v in (a, b)]  # kernel sizes must be >= 1
    save(f"conv_{n}", [helper.make_node("Conv", ["x", "w"], ["y"], strides=small, pads=[a, b, a, b],
                                        dilations=small)], [w], [1, 1, 4, 4], 4)
    save(f"maxpool_{n}", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=small,
                                           strides=small, pads=[a, b, 0, 0])], [], [1, 1, 4, 4], 4)
    save(f"avgpool_{n}", [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=small,
                                           pads=[0, 0, a, b], count_include_pad=1)], [], [1, 1, 4, 4], 4)
    save(f"convt_{n}", [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=small,
                                         output_padding=[a, b], pads=[0, 0, a, b])], [w], [1, 1, 3, 3], 4)
    save(f"convts_{n}", [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=small,
                                          output_shape=[a, b])], [w], [1, 1, 3, 3], 4)
    save(f"split_{n}", [helper.make_node("Split", ["x", "s"], ["y", "z"], axis=1)], [ints("s", [a, b])],
         [2, 6], 2)
    save(f"unsqueeze_{n}", [helper.make_node("Unsqueeze", ["x", "ax"], ["y"])], [ints("ax", [a, b])],
         [2, 3], 4)
    save(f"reducesum_{n}", [helper.make_node("ReduceSum", ["x", "ax"], ["y"])], [ints("ax", [a, b])],
         [2, 3], 2)
    save(f"transpose_{n}", [helper.make_node("Transpose", ["x"], ["y"], perm=[a, b])], [], [2, 3], 2)
    if b == BIG[0]:  # one value each
        save(f"d2s_{n}", [helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=a)], [],
             [1, 4, 2, 2], 4)
        save(f"concat_{n}", [helper.make_node("Concat", ["x", "x"], ["y"], axis=a)], [], [2, 3], 2)
        save(f"flatten_{n}", [helper.make_node("Flatten", ["x"], ["y"], axis=a)], [], [2, 3], 2)
    save(f"resizef_{n}", [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
         [numpy_helper.from_array(np.array([1, 1, float(a) / 7, float(b) / 3], np.float32), "sc")],
         [1, 1, 2, 2], 4)

# Folding must not grow the artifact past what the file holds: six ConstantOfShape of 2^22
# elements added in a chain (once 96 MB of folded constants from a 0.5 KiB file) stay operations.
s = ints("s", [1 << 22])
nodes, prev = [], "x"
for i in range(6):
    nodes.append(helper.make_node("ConstantOfShape", ["s"], [f"c{i}"],
                                  value=numpy_helper.from_array(np.array([i + 1.0], np.float32))))
    nodes.append(helper.make_node("Add", [prev, f"c{i}"], [f"a{i}"]))
    prev = f"a{i}"
nodes.append(helper.make_node("Identity", [prev], ["y"]))
save("foldchain", nodes, [s], [1 << 22], 1)

# Control flow laid out when the plan is made must stay bounded: a Loop whose trip count is huge
# (or absent) with a condition that stays true, with and without a scan output; a Scan over a
# long axis; an If nested in a Loop body.
for k, count in enumerate(BIG):
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c2"]), helper.make_node("Relu", ["v"], ["v2"]),
         helper.make_node("Identity", ["v2"], ["s"])], "b",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("c2", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v2", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [2])])
    save(f"loop_{k}", [helper.make_node("Loop", ["m" if k % 2 else "", "t", "x"], ["y", "z"],
                                        body=body)],
         [ints("m", count), numpy_helper.from_array(np.array(True), "t")], [2], 1)
save("scan_long", [helper.make_node(
    "Scan", ["x", "x"], ["y", "z"], num_scan_inputs=1,
    body=helper.make_graph([helper.make_node("Add", ["a", "b"], ["a2"]),
                            helper.make_node("Identity", ["a2"], ["o"])], "b",
                           [helper.make_tensor_value_info("a", TensorProto.FLOAT, []),
                            helper.make_tensor_value_info("b", TensorProto.FLOAT, [])],
                           [helper.make_tensor_value_info("a2", TensorProto.FLOAT, []),
                            helper.make_tensor_value_info("o", TensorProto.FLOAT, [])]))],
     [], [1 << 20], 1)
