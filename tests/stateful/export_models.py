#!/usr/bin/python3
"""Models exported with Debian's torch that carry state across calls (issue 11): an LSTM, a GRU,
a model branching (If) on an input's value and one looping (Loop) a number of times an input
gives. Writes OUT/<name>/model.onnx, OUT/<name>/spec.txt and each step's inputs as raw files.

spec.txt, one line each:
  steps N
  input NAME DTYPE DIMS...          a fresh value every step: step_<t>_<NAME>.bin
  state NAME DTYPE DIMS... OUTPUT   zeros at step 0, then the previous step's output OUTPUT
  output NAME                       compared at every step

  export_models.py OUT_DIR
"""
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

STEPS = 100


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, x, h, c):
        y, (h2, c2) = self.rnn(x, (h, c))
        return self.head(y), h2, c2


class Gru(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, num_layers=2)
        self.head = nn.Linear(16, 4)

    def forward(self, x, h):
        y, h2 = self.rnn(x, h)
        return self.head(y), h2


class Gate(nn.Module):
    """Decays or feeds its state depending on the sign of the input's sum (an If)."""

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(6, 6)

    def forward(self, x, state):
        if bool(x.sum() > 0):
            state = torch.tanh(self.mix(state) + x)
        else:
            state = state * 0.5 - x * 0.1
        return state * 2.0, state


class Repeat(nn.Module):
    """Applies a cell to its state as many times as an input says (a Loop)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(5, 5)

    def forward(self, x, n, state):
        for _ in range(int(n)):
            state = torch.tanh(self.cell(state) + x)
        return state.sum(dim=1), state


def export(module, args, names, outputs, path, script=False):
    module.eval()
    if script:
        module = torch.jit.script(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, path, input_names=names, output_names=outputs,
                          opset_version=14)


def main():
    out = sys.argv[1]
    torch.manual_seed(7)
    rng = np.random.default_rng(11)
    models = {
        # name: (module, example args, [(input, dtype, dims, state output or None)], outputs, script)
        "lstm": (Lstm(), [("x", "f32", [3, 2, 8], None), ("h", "f32", [1, 2, 16], "h_out"),
                          ("c", "f32", [1, 2, 16], "c_out")], ["y", "h_out", "c_out"], False),
        "gru": (Gru(), [("x", "f32", [3, 2, 8], None), ("h", "f32", [2, 2, 16], "h_out")],
                ["y", "h_out"], False),
        "if_on_input": (Gate(), [("x", "f32", [2, 6], None), ("state", "f32", [2, 6], "state_out")],
                        ["y", "state_out"], True),
        "loop": (Repeat(), [("x", "f32", [3, 5], None), ("n", "i64", [], None),
                            ("state", "f32", [3, 5], "state_out")], ["y", "state_out"], True),
    }
    dtypes = {"f32": (np.float32, torch.float32), "i64": (np.int64, torch.int64)}
    for name, (module, inputs, outputs, script) in models.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        args = tuple(torch.zeros(dims, dtype=dtypes[t][1]) + (2 if t == "i64" else 0)
                     for _, t, dims, _ in inputs)
        export(module, args, [n for n, _, _, _ in inputs], outputs,
               os.path.join(d, "model.onnx"), script)
        with open(os.path.join(d, "spec.txt"), "w") as spec:
            spec.write(f"steps {STEPS}\n")
            for n, t, dims, state in inputs:
                kind = "state" if state else "input"
                spec.write(" ".join([kind, n, t] + [str(v) for v in dims] +
                                    ([state] if state else [])) + "\n")
            for o in outputs:
                spec.write(f"output {o}\n")
        for t in range(STEPS):
            for n, dt, dims, state in inputs:
                if state:
                    continue
                if dt == "i64":  # loop counts 0..4, zero included
                    value = np.array(rng.integers(0, 5), dtype=np.int64).reshape(dims)
                else:
                    value = rng.standard_normal(dims).astype(np.float32)
                value.tofile(os.path.join(d, f"step_{t}_{n}.bin"))


if __name__ == "__main__":
    main()
