#!/usr/bin/python3
"""Single-operator models for the operators whose ONNX node tests leave attribute combinations
out, one directory each (model.onnx, inputs in test_data_set_0 and as raw files for reference.js).

  make_cases.py OUT_DIR    writes OUT_DIR/<case>/ for every case below
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
import make_test_data  # noqa: E402  (the model tests' seeded inputs)


def single_op(op, inputs, output, opset, constants=(), order=None, **attrs):
    """One node over f32 graph inputs [(name, shape)] and constants [(name, array)], in `order`
    (names) or inputs first."""
    names = order or [n for n, _ in inputs] + [n for n, _ in constants]
    outputs = output if isinstance(output, list) else [output]  # [(name, shape)], "" skips one
    node = helper.make_node(op, names, [n for n, _ in outputs], **attrs)
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs if n],
        [numpy_helper.from_array(v, n) for n, v in constants])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def graph_of(nodes, inputs, outputs, opset):
    """Nodes over f32 graph inputs [(name, shape)] with outputs [(name, element type, shape)]."""
    graph = helper.make_graph(
        nodes, "graph",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def staged_cases():
    """Operators whose output sizes values computed from the run's data decide: the inputs are
    too large to key a plan on (over 4 KiB), so the graph runs in two stages."""
    node = helper.make_node
    i64, f32 = TensorProto.INT64, TensorProto.FLOAT
    yield ("staged_nonzero", graph_of(
        [node("Relu", ["X"], ["R"]), node("NonZero", ["R"], ["I"]), node("Neg", ["R"], ["N"])],
        [("X", [2, 30, 40])], [("I", i64, [3, "k"]), ("N", f32, [2, 30, 40])], 13))
    yield ("staged_compress", graph_of(
        [node("ReduceSum", ["X"], ["S"], axes=[1], keepdims=0),
         node("Constant", [], ["Z"], value=numpy_helper.from_array(np.array(0, np.float32))),
         node("Greater", ["S", "Z"], ["C"]), node("Compress", ["X", "C"], ["Y"], axis=0)],
        [("X", [40, 30])], [("Y", f32, ["k", 30])], 11))
    yield ("staged_unique", graph_of(
        [node("Constant", [], ["Two"], value=numpy_helper.from_array(np.array(2, np.float32))),
         node("Mul", ["X", "Two"], ["M"]), node("Floor", ["M"], ["F"]),
         node("Unique", ["F"], ["Y", "I", "V", "C"], sorted=1)],
        [("X", [3000])], [("Y", f32, ["u"]), ("I", i64, ["u"]), ("V", i64, [3000]),
                          ("C", i64, ["u"])], 11))
    consts = [("M", np.array([5], np.int64)), ("T", np.array([0.4], np.float32)),
              ("P", np.array([0.6], np.float32))]
    yield ("staged_nms", graph_of(
        [node("Constant", [], [n], value=numpy_helper.from_array(v, n)) for n, v in consts] +
        [node("Sigmoid", ["L"], ["S"]), node("NonMaxSuppression", ["B", "S", "M", "T", "P"], ["K"])],
        [("B", [2, 300, 4]), ("L", [2, 3, 300])], [("K", i64, ["k", 3])], 11))


def control_flow_cases():
    """If, Loop and Scan with subgraphs reading outer values; conditions computed from inputs
    too large to key a plan on, so they are planned in stages (a while loop: one per iteration)."""
    node, f32, i64 = helper.make_node, TensorProto.FLOAT, TensorProto.INT64

    def const(name, value, dtype):
        return node("Constant", [], [name], value=numpy_helper.from_array(np.array(value, dtype), name))

    def info(n, t, s):  # t None: a sequence of f32 tensors of shape s
        return (helper.make_tensor_sequence_value_info(n, f32, s) if t is None
                else helper.make_tensor_value_info(n, t, s))

    def body(name, nodes, inputs, outputs):
        return helper.make_graph(nodes, name, [info(*i) for i in inputs],
                                 [info(*o) for o in outputs])
    then = body("then", [node("Relu", ["X"], ["r"]), node("Add", ["r", "r"], ["t"])], [],
                [("t", f32, [2000])])
    other = body("else", [node("Neg", ["X"], ["e"])], [], [("e", f32, [2000])])
    yield ("if_on_data", graph_of(
        [node("ReduceSum", ["X"], ["S"], keepdims=0), const("Z", 0, np.float32),
         node("Greater", ["S", "Z"], ["C"]),
         node("If", ["C"], ["Y"], then_branch=then, else_branch=other)],
        [("X", [2000])], [("Y", f32, [2000])], 13))
    # while mean(x) < 0.05: x += 0.01 (each iteration's condition computed by the last; about
    # five iterations from the seeded input); the means as scan outputs.
    loop = body("body", [const("step", 0.01, np.float32), node("Add", ["x", "step"], ["x2"]),
                         node("ReduceMean", ["x2"], ["s"], keepdims=0),
                         const("limit", 0.05, np.float32), node("Less", ["s", "limit"], ["c2"]),
                         node("Identity", ["s"], ["s2"])],
                [("i", i64, []), ("c", TensorProto.BOOL, []), ("x", f32, [2000])],
                [("c2", TensorProto.BOOL, []), ("x2", f32, [2000]), ("s2", f32, [])])
    yield ("loop_while_data", graph_of(
        [node("ReduceMean", ["X"], ["S"], keepdims=0), const("L", 0.05, np.float32),
         node("Less", ["S", "L"], ["C"]), const("M", 40, np.int64),
         node("Loop", ["M", "C", "X"], ["Y", "Sums"], body=loop)],
        [("X", [2000])], [("Y", f32, [2000]), ("Sums", f32, ["n"])], 13))
    # A list appended to in a loop, then stacked (what torch exports for a Python list built in a
    # for loop): SequenceEmpty, SequenceInsert carried through Loop, ConcatFromSequence.
    append = body("append", [node("Mul", ["v", "v"], ["sq"]), node("Add", ["sq", "X"], ["v2"]),
                             node("SequenceInsert", ["s", "v2"], ["s2"]),
                             node("Identity", ["c"], ["c2"])],
                  [("i", i64, []), ("c", TensorProto.BOOL, []), ("v", f32, [4]), ("s", None, [4])],
                  [("c2", TensorProto.BOOL, []), ("v2", f32, [4]), ("s2", None, [4])])
    yield ("loop_list_append", graph_of(
        [node("SequenceEmpty", [], ["E"], dtype=TensorProto.FLOAT), const("M", 3, np.int64),
         const("T", True, np.bool_), node("Tanh", ["X"], ["V0"]),
         node("Loop", ["M", "T", "V0", "E"], ["Vf", "S"], body=append),
         node("ConcatFromSequence", ["S"], ["Y"], axis=0, new_axis=1)],
        [("X", [4])], [("Y", f32, [3, 4]), ("Vf", f32, [4])], 13))
    # Scan: a running product over axis 1 read backwards, the steps stacked on axis 1, a
    # captured bias added at each step.
    step = body("step", [node("Mul", ["p", "v"], ["m"]), node("Add", ["m", "Bias"], ["p2"]),
                         node("Identity", ["p2"], ["o"])],
                [("p", f32, [3]), ("v", f32, [3])], [("p2", f32, [3]), ("o", f32, [3])])
    yield ("scan_reverse_axis1", graph_of(
        [const("Bias", [0.1, -0.2, 0.3], np.float32),
         node("Scan", ["P", "V"], ["Pf", "O"], body=step, num_scan_inputs=1,
              scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[1])],
        [("P", [3]), ("V", [3, 5])], [("Pf", f32, [3]), ("O", f32, [3, 5])], 13))


def cases():
    yield from staged_cases()
    yield from control_flow_cases()
    # GridSample: every mode, padding and corner alignment; standard normal grid values put a
    # third of the points outside [-1, 1], so every padding rule is exercised. Two images.
    for mode in ("bilinear", "nearest", "bicubic"):
        for padding in ("zeros", "border", "reflection"):
            for align in (0, 1):
                yield (f"gridsample_{mode}_{padding}_{align}",
                       single_op("GridSample", [("X", [2, 3, 5, 6]), ("G", [2, 4, 7, 2])],
                                 ("Y", [2, 3, 4, 7]), 16, mode=mode, padding_mode=padding,
                                 align_corners=align))
    # ScatterElements and ScatterND with the reductions of opset 16 (max and min came with 18,
    # newer than Debian's ONNX knows), indices with duplicates and negative values; the updates
    # are graph inputs, the indices constants.
    elements = np.array([[1, -1, 0], [2, 2, -4], [0, 3, 1]], dtype=np.int64)  # along axis 1
    tuples = np.array([[[1, -2], [0, 0]], [[1, 2], [1, -2]]], dtype=np.int64)  # into [3, 4, 5]
    for reduction in ("none", "add", "mul"):
        if reduction != "none":  # duplicates are undefined without a reduction
            yield (f"scatterelements_{reduction}",
                   single_op("ScatterElements", [("X", [3, 4]), ("U", [3, 3])], ("Y", [3, 4]),
                             16, [("I", elements)], ["X", "I", "U"], axis=1, reduction=reduction))
            yield (f"scatternd_{reduction}",
                   single_op("ScatterND", [("X", [3, 4, 5]), ("U", [2, 2, 5])],
                             ("Y", [3, 4, 5]), 16, [("I", tuples)], ["X", "I", "U"],
                             reduction=reduction))
    # Einsum: attention's contraction, a chain of three, broadcast ellipses, diagonals, sums
    # over all but the batch, an implicit output, an outer product.
    einsums = [
        ("attention", "bhqd,bhkd->bhqk", [[2, 3, 4, 5], [2, 3, 6, 5]], [2, 3, 4, 6]),
        ("chain", "ij,jk,kl->il", [[3, 4], [4, 5], [5, 2]], [3, 2]),
        ("ellipsis", "...ij,...jk->...ik", [[2, 1, 3, 4], [1, 5, 4, 2]], [2, 5, 3, 2]),
        ("diagonal", "iij->ji", [[3, 3, 4]], [4, 3]),
        ("total", "bij->b", [[2, 3, 4]], [2]),
        ("implicit", "ij,jk", [[3, 4], [4, 5]], [3, 5]),
        ("outer", "i,j->ij", [[3], [4]], [3, 4]),
        ("trace_product", "bij,bji->b", [[2, 3, 4], [2, 4, 3]], [2]),
    ]
    for name, equation, shapes, out in einsums:
        yield (f"einsum_{name}",
               single_op("Einsum", [(f"X{i}", s) for i, s in enumerate(shapes)], ("Y", out), 12,
                         equation=equation))
    # Recurrent cells: both directions, biases, initial states, per-batch lengths (the second
    # batch stops early), peepholes, clip, both GRU reset forms; every output (onnxruntime
    # has no batch-major layout: ONNX's *_batchwise node tests cover it). X [seq 5, batch 2, input 3], hidden 4.
    lens = [("L", np.array([5, 3], dtype=np.int32))]
    for op, gates, extra in (("RNN", 1, {}), ("GRU", 3, {"linear_before_reset": 0}),
                             ("GRU", 3, {"linear_before_reset": 1}), ("LSTM", 4, {})):
        for direction, dirs in (("reverse", 1), ("bidirectional", 2)):
            inputs = [("X", [5, 2, 3]), ("W", [dirs, gates * 4, 3]), ("R", [dirs, gates * 4, 4]),
                      ("B", [dirs, 8 * gates]), ("H0", [dirs, 2, 4])]
            order = ["X", "W", "R", "B", "L", "H0"]
            outputs = [("Y", [5, dirs, 2, 4]), ("Y_h", [dirs, 2, 4])]
            if op == "LSTM":
                inputs += [("C0", [dirs, 2, 4]), ("P", [dirs, 12])]
                order += ["C0", "P"]
                outputs.append(("Y_c", [dirs, 2, 4]))
            tag = op.lower() + ("_lbr" if extra.get("linear_before_reset") else "")
            yield (f"{tag}_{direction}",
                   single_op(op, inputs, outputs, 14, lens, order, hidden_size=4,
                             direction=direction, clip=2.5, **extra))
    # DFT along the middle and a later axis, real and complex, onesided, inverse, lengths
    # padding and cutting the input; STFT with a window.
    def length(v):
        return [("N", np.array(v, dtype=np.int64))]
    yield ("dft_onesided", single_op("DFT", [("X", [2, 9, 1])], ("Y", [2, 5, 2]), 17,
                                     onesided=1, axis=1))
    yield ("dft_padded", single_op("DFT", [("X", [2, 6, 2])], ("Y", [2, 8, 2]), 17, length(8),
                                   axis=1))
    yield ("dft_cut", single_op("DFT", [("X", [3, 10, 1])], ("Y", [3, 7, 2]), 17, length(7),
                                axis=1))
    yield ("dft_inverse_axis2", single_op("DFT", [("X", [2, 3, 5, 2])], ("Y", [2, 3, 5, 2]), 17,
                                          axis=2, inverse=1))
    yield ("stft_window", single_op("STFT", [("S", [2, 50, 1]), ("W", [12])], ("Y", [2, 7, 7, 2]),
                                    17, [("T", np.array(6, dtype=np.int64))], ["S", "T", "W"]))
    # Pooling through windows: 3-D max and average (with pads counted, ceil mode), dilated 2-D.
    yield ("maxpool_3d", single_op("MaxPool", [("X", [1, 2, 5, 6, 4])], ("Y", [1, 2, 3, 3, 4]),
                                   13, kernel_shape=[2, 3, 2], strides=[2, 2, 1],
                                   pads=[1, 0, 1, 1, 1, 0]))
    # (pads where ONNX's shape inference and onnxruntime's kernel agree on the ceil-mode size:
    # they differ when the last window would start in the end padding)
    yield ("averagepool_3d_ceil", single_op("AveragePool", [("X", [1, 2, 5, 6, 4])],
                                            ("Y", [1, 2, 3, 4, 3]), 13, kernel_shape=[3, 3, 2],
                                            strides=[2, 2, 2], pads=[1, 1, 1, 0, 1, 0],
                                            ceil_mode=1, count_include_pad=1))
    yield ("maxpool_dilated_ceil", single_op("MaxPool", [("X", [2, 3, 9, 8])], ("Y", [2, 3, 4, 4]),
                                             13, kernel_shape=[3, 2], strides=[2, 2],
                                             dilations=[2, 3], pads=[1, 0, 1, 1], ceil_mode=1))
    # Convolutions over one and three spatial dims (through conv2d primitives): groups, strides,
    # dilations, asymmetric pads, biases; transposed ones with output padding and groups.
    conv = [
        ("conv_1d", "Conv", [1, 4, 17], [6, 2, 3], [1, 6, 8], dict(group=2, strides=[2],
                                                                     pads=[1, 0])),
        ("conv_1d_dilated", "Conv", [2, 3, 20], [4, 3, 4], [2, 4, 18], dict(dilations=[2],
                                                                              pads=[2, 2])),
        ("conv_3d", "Conv", [1, 2, 7, 6, 5], [4, 2, 3, 3, 2], [1, 4, 4, 3, 4],
         dict(strides=[2, 2, 1], pads=[2, 1, 0, 1, 0, 1], dilations=[1, 1, 2])),
        ("conv_3d_grouped", "Conv", [2, 4, 5, 4, 4], [6, 2, 2, 3, 3], [2, 6, 4, 4, 4],
         dict(group=2, pads=[0, 1, 1, 0, 1, 1])),
        ("convtranspose_1d", "ConvTranspose", [1, 4, 9], [4, 3, 3], [1, 6, 19],
         dict(group=2, strides=[2], output_padding=[1], pads=[1, 0])),
        ("convtranspose_3d", "ConvTranspose", [1, 2, 3, 4, 3], [2, 3, 2, 3, 3], [1, 3, 6, 8, 4],
         dict(strides=[2, 2, 1], pads=[0, 1, 1, 0, 0, 0], dilations=[1, 1, 1])),
        ("convtranspose_2d_grouped", "ConvTranspose", [1, 4, 5, 5], [4, 2, 3, 3], [1, 4, 9, 9],
         dict(group=2, strides=[2, 2], pads=[1, 1, 1, 1])),
    ]
    for name, op, xs, ws, ys, attrs in conv:
        yield (name, single_op(op, [("X", xs), ("W", ws), ("B", [ws[0] if op == "Conv" else
                                                                 ws[1] * attrs.get("group", 1)])],
                               ("Y", ys), 13, **attrs))
    # Det by signed products: batched 4x4 and 5x5.
    yield ("det_4x4", single_op("Det", [("X", [3, 4, 4])], ("Y", [3]), 13))
    yield ("det_5x5", single_op("Det", [("X", [2, 1, 5, 5])], ("Y", [2, 1]), 13))
    # RoiAlign: adaptive sampling grids (sampling_ratio 0), a scale, regions partly outside
    # the image, both modes and both coordinate modes (max with one sample per bin: onnxruntime
    # warns that its max over several will change, and ONNX's reference agrees with it today).
    rois = [("R", np.array([[0, 0, 9, 7], [2.5, 1, 11, 9.5], [-2, 3, 5, 14]], np.float32)),
            ("I", np.array([0, 1, 1], np.int64))]
    for mode, coords in (("max", "half_pixel"), ("avg", "output_half_pixel"), ("avg", "half_pixel")):
        yield (f"roialign_{mode}_{coords}",
               single_op("RoiAlign", [("X", [2, 3, 10, 12])], ("Y", [3, 3, 3, 4]), 16, rois,
                         mode=mode, coordinate_transformation_mode=coords, output_height=3,
                         output_width=4, sampling_ratio=int(mode == "max"), spatial_scale=0.8))
    yield ("scatterelements_none",
           single_op("ScatterElements", [("X", [3, 4]), ("U", [3, 2])], ("Y", [3, 4]), 16,
                     [("I", np.array([[3, -4], [1, 0], [-1, 2]], dtype=np.int64))], ["X", "I", "U"],
                     axis=1))


def main():
    import onnx
    out = sys.argv[1]
    for name, model in cases():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        onnx.save(model, os.path.join(d, "model.onnx"))
        make_test_data.write_inputs(os.path.join(d, "model.onnx"), d, False, None)


if __name__ == "__main__":
    main()
