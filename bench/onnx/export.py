#!/usr/bin/python3
"""make bench: the generators of bench_core's configurations exported to ONNX with the PyTorch
reference networks (tools/cyclegan_models.py), weights as the seed initialises them, for ONNX
Runtime to run beside ageshift.

    /usr/bin/python3 bench/onnx/export.py OUT_DIR SIZE/BLOCKS/NGF...

writes OUT_DIR/g_SIZE_BLOCKS_NGF.onnx (input "input", (1, 3, SIZE, SIZE); output "output")."""

import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from cyclegan_models import Generator, weights_init_normal  # noqa: E402


def main(out_dir, configs):
    torch.manual_seed(1)
    os.makedirs(out_dir, exist_ok=True)
    for config in configs:
        size, blocks, ngf = (int(v) for v in config.split("/"))
        net = Generator(ngf=ngf, n_blocks=blocks).eval()
        net.apply(weights_init_normal)
        path = os.path.join(out_dir, "g_%d_%d_%d.onnx" % (size, blocks, ngf))
        with warnings.catch_warnings():  # constant-folding notes about ReflectionPad's slices
            warnings.simplefilter("ignore")
            torch.onnx.export(net, torch.zeros(1, 3, size, size), path, opset_version=13,
                              input_names=["input"], output_names=["output"])
        print(path)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
