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
    save(f"pad_{n}", [helper.make_node("Pad", ["x", "p"], ["y"])], [ints("p", [a, b, 0, 0])], [2, 3], 2)
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
