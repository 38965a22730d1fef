#!/usr/bin/python3
"""Export seeded torchvision models to ONNX (opset 13, 1x3x224x224).

BatchNorm running statistics are calibrated on a few seeded random images before export so that
activations stay of order one; with default statistics the outputs are ~1e-8 and a runtime that
returns zeros would pass a tolerance check.
"""
import sys
import torch
import torchvision

MODELS = {
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "resnet18": torchvision.models.resnet18,
    "squeezenet1_1": torchvision.models.squeezenet1_1,
    "shufflenet_v2_x1_0": torchvision.models.shufflenet_v2_x1_0,
}


def calibrate_batchnorm(model, seed):
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, 224, 224, generator=gen))
    model.eval()


def main(name, out_path):
    torch.manual_seed(0)
    model = MODELS[name](weights=None)
    calibrate_batchnorm(model, seed=1)
    example = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    torch.onnx.export(model, example, out_path, opset_version=13, input_names=["input"],
                      output_names=["output"], do_constant_folding=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
