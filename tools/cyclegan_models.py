"""Reference CycleGAN networks (PyTorch) for ageshift.

Layer-for-layer match of aitorzip/PyTorch-CycleGAN models.py, with the
widths (ngf / ndf) and residual block count exposed as parameters, so that
state_dict names are identical to the seed's checkpoints:

    Generator(ngf=64, n_blocks=9)  ->  model.1.weight, model.1.bias, model.4.*,
        model.7.*, model.10.conv_block.1.*, model.10.conv_block.5.*, ...,
        model.(10+n_blocks).* (first ConvTranspose2d), model.(13+n_blocks).*,
        model.(17+n_blocks).* (last Conv2d)

    Generator(..., upsample="resize") replaces each ConvTranspose2d by
    Upsample(2, nearest), ReflectionPad2d(1), Conv2d(3x3) (no checkerboard):
        model.(12+n_blocks).*, model.(17+n_blocks).*, model.(21+n_blocks).* (last)

Also contains a minimal safetensors reader/writer (no dependency on the
`safetensors` package).
"""

import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


UPSAMPLE_KINDS = ("convt", "resize")


class ResidualBlock(nn.Module):
    def __init__(self, in_features):
        super(ResidualBlock, self).__init__()
        conv_block = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_features, in_features, 3),
            nn.InstanceNorm2d(in_features),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_features, in_features, 3),
            nn.InstanceNorm2d(in_features),
        ]
        self.conv_block = nn.Sequential(*conv_block)

    def forward(self, x):
        return x + self.conv_block(x)


class Generator(nn.Module):
    def __init__(self, ngf=64, n_blocks=9, input_nc=3, output_nc=3, upsample="convt"):
        super(Generator, self).__init__()
        if upsample not in UPSAMPLE_KINDS:
            raise ValueError("upsample must be one of %s, got %r" % (UPSAMPLE_KINDS, upsample))
        self.ngf = ngf
        self.n_blocks = n_blocks
        self.upsample = upsample

        # Initial convolution block
        model = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(inplace=True),
        ]

        # Downsampling
        in_features = ngf
        out_features = in_features * 2
        for _ in range(2):
            model += [
                nn.Conv2d(in_features, out_features, 3, stride=2, padding=1),
                nn.InstanceNorm2d(out_features),
                nn.ReLU(inplace=True),
            ]
            in_features = out_features
            out_features = in_features * 2

        # Residual blocks
        for _ in range(n_blocks):
            model += [ResidualBlock(in_features)]

        # Upsampling
        out_features = in_features // 2
        for _ in range(2):
            if upsample == "convt":
                model += [nn.ConvTranspose2d(in_features, out_features, 3, stride=2,
                                             padding=1, output_padding=1)]
            else:
                model += [nn.Upsample(scale_factor=2, mode="nearest"),
                          nn.ReflectionPad2d(1),
                          nn.Conv2d(in_features, out_features, 3)]
            model += [
                nn.InstanceNorm2d(out_features),
                nn.ReLU(inplace=True),
            ]
            in_features = out_features
            out_features = in_features // 2

        # Output layer
        model += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, output_nc, 7),
            nn.Tanh(),
        ]

        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class Discriminator(nn.Module):
    def __init__(self, ndf=64, input_nc=3):
        super(Discriminator, self).__init__()
        self.ndf = ndf

        model = [
            nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        model += [
            nn.Conv2d(ndf, ndf * 2, 4, stride=2, padding=1),
            nn.InstanceNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        model += [
            nn.Conv2d(ndf * 2, ndf * 4, 4, stride=2, padding=1),
            nn.InstanceNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        model += [
            nn.Conv2d(ndf * 4, ndf * 8, 4, padding=1),
            nn.InstanceNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        # FCN classification layer
        model += [nn.Conv2d(ndf * 8, 1, 4, padding=1)]

        self.model = nn.Sequential(*model)

    def forward(self, x):
        x = self.model(x)
        # Average pooling and flatten
        return F.avg_pool2d(x, x.size()[2:]).view(x.size()[0], -1)


def weights_init_normal(m):
    """As the seed's utils.weights_init_normal: Conv*/ConvTranspose* weights
    ~ N(0, 0.02); biases keep PyTorch's default initialisation."""
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find('BatchNorm2d') != -1:
        torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
        torch.nn.init.constant_(m.bias.data, 0.0)


# ---------------------------------------------------------------------------
# Minimal safetensors I/O
# ---------------------------------------------------------------------------

_READ_DTYPES = {
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
}


def write_safetensors(path, tensors, metadata=None):
    """Write name->tensor (float32 only) to `path` in safetensors format.

    Tensors are stored in the order of `tensors` (dicts keep insertion order).
    `metadata` is a dict str->str stored under "__metadata__".
    """
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError("tensor name must be str, got %r" % (name,))
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        if isinstance(t, torch.Tensor):
            if t.dtype != torch.float32:
                raise TypeError("%s: only float32 supported, got %s" % (name, t.dtype))
            arr = t.detach().cpu().contiguous().numpy()
        else:
            arr = np.asarray(t)
            if arr.dtype != np.float32:
                raise TypeError("%s: only float32 supported, got %s" % (name, arr.dtype))
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if metadata:
        md = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must be str->str, got %r: %r" % (k, v))
            md[k] = v
        header["__metadata__"] = md
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (-len(hbytes)) % 8
    hbytes += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)
    return 8 + len(hbytes) + offset


def read_safetensors(path):
    """Read a safetensors file -> (dict name->float32 torch.Tensor, metadata).

    F32 and F16 tensors are supported (F16 is widened to float32).
    Tensor dict order follows the data offsets in the file.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: file too short for a safetensors header" % path)
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError("%s: header length %d exceeds file size" % (path, hlen))
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % path)
    metadata = header.pop("__metadata__", None) or {}
    data = raw[8 + hlen:]
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    out = {}
    for name, info in items:
        dt = info["dtype"]
        if dt not in _READ_DTYPES:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        npdt, size = _READ_DTYPES[dt]
        shape = [int(s) for s in info["shape"]]
        b, e = info["data_offsets"]
        n = 1
        for s in shape:
            n *= s
        if e - b != n * size or e > len(data) or b < 0:
            raise ValueError("%s: tensor %s has bad data_offsets %r for shape %r"
                             % (path, name, [b, e], shape))
        arr = np.frombuffer(data[b:e], dtype=npdt).astype(np.float32).reshape(shape)
        out[name] = torch.from_numpy(arr.copy())
    return out, metadata
