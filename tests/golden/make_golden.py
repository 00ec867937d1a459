#!/usr/bin/python3
"""Generate golden fixtures for ageshift's C tests from the PyTorch reference.

Run by hand from the repository root (needs Debian's PyTorch):

    /usr/bin/python3 tests/golden/make_golden.py

Writes (deterministic: seed 0, 1 thread, float32):
    tests/fixtures/golden_generator.safetensors        Generator(ngf=8, n_blocks=2), 2x3x32x32
    tests/fixtures/golden_discriminator.safetensors    Discriminator(ndf=8), 2x3x32x32
    tests/fixtures/golden_generator_b1_48.safetensors  Generator(ngf=4, n_blocks=1), 1x3x48x40

Keys in each file:
    input, [target], param.<name>, output, loss (shape (1,)), grad.input,
    grad.<name>, [adam3.<name>, adam3_loss]
    tests/fixtures/golden_adam.safetensors: p0, g1, g2, g3, p3 (Adam alone)
    tests/fixtures/golden_model.safetensors: a model converted by tools/pth2safetensors.py
    tests/fixtures/golden_model_io.safetensors: input, young_to_old, old_to_young outputs
where <name> is the PyTorch state_dict name (e.g. model.1.weight).
"""

import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from cyclegan_models import (Discriminator, Generator,  # noqa: E402
                             read_safetensors, weights_init_normal,
                             write_safetensors)

FIXTURES = os.path.join(ROOT, "tests", "fixtures")

LR = 2e-3
BETAS = (0.5, 0.999)
EPS = 1e-8
ADAM_STEPS = 3

OPT_META = {
    "lr": "0.002",
    "beta1": "0.5",
    "beta2": "0.999",
    "eps": "1e-08",
}


def uniform_pm1(*shape):
    """Uniform in [-1, 1)."""
    return torch.rand(*shape, dtype=torch.float32) * 2.0 - 1.0


def make_fixture(net, x, loss_fn, adam_steps):
    """Return an ordered dict of tensors: param.*, output, loss, grad.*, adam3.*"""
    names = [n for n, _ in net.named_parameters()]
    sd = net.state_dict()
    # Every state_dict entry must be a parameter (no buffers expected).
    assert list(sd.keys()) == names, (list(sd.keys()), names)

    out = {}
    for n in names:
        out["param." + n] = sd[n].detach().clone()

    xin = x.detach().clone().requires_grad_(True)
    net.zero_grad()
    y = net(xin)
    loss = loss_fn(y)
    loss.backward()
    out["output"] = y.detach().clone()
    out["loss"] = loss.detach().reshape(1).clone()
    out["grad.input"] = xin.grad.detach().clone()
    for n, p in net.named_parameters():
        out["grad." + n] = p.grad.detach().clone()

    if adam_steps:
        # Restart from the initial weights (they have not changed yet).
        opt = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS, eps=EPS)
        for _ in range(adam_steps):
            opt.zero_grad()
            y = net(x)
            loss = loss_fn(y)
            loss.backward()
            opt.step()
        for n, p in net.named_parameters():
            out["adam%d.%s" % (adam_steps, n)] = p.detach().clone()
        # The loss at the final weights: a well-conditioned check of the whole loop, where
        # single weights are not (Adam's first steps are +-lr whatever the gradient's size, so
        # a gradient element near 0 flips its step on rounding noise).
        with torch.no_grad():
            out["adam%d_loss" % adam_steps] = loss_fn(net(x)).reshape(1).clone()
    return out


def golden_adam(path):
    """Adam alone: 3 steps from p0 with given gradients g1..g3 of very different sizes."""
    torch.manual_seed(1)
    p = torch.nn.Parameter(uniform_pm1(4, 250))
    scale = torch.logspace(-6, 1, 250).repeat(4, 1)
    tensors = {"p0": p.detach().clone()}
    opt = torch.optim.Adam([p], lr=LR, betas=BETAS, eps=EPS)
    for i in range(1, 4):
        g = uniform_pm1(4, 250) * scale
        tensors["g%d" % i] = g.clone()
        p.grad = g.clone()
        opt.step()
    tensors["p3"] = p.detach().clone()
    meta = dict(OPT_META)
    meta["torch"] = torch.__version__
    write_and_check(path, tensors, meta)


def write_and_check(path, tensors, meta):
    nbytes = write_safetensors(path, tensors, meta)
    back, back_meta = read_safetensors(path)
    assert back_meta == meta, (back_meta, meta)
    assert list(back.keys()) == list(tensors.keys()), "key order mismatch"
    for k, v in tensors.items():
        b = back[k]
        assert tuple(b.shape) == tuple(v.shape), (k, b.shape, v.shape)
        assert torch.equal(b, v), "value mismatch for %s" % k
    assert os.path.getsize(path) == nbytes
    n_floats = sum(v.numel() for v in tensors.values())
    print("wrote %s: %d tensors, %d floats, %d bytes (read-back ok)"
          % (os.path.relpath(path, ROOT), len(tensors), n_floats, nbytes))


def golden_generator(path, ngf, n_blocks, batch, height, width, adam_steps):
    torch.manual_seed(0)
    net = Generator(ngf=ngf, n_blocks=n_blocks)
    net.apply(weights_init_normal)
    x = uniform_pm1(batch, 3, height, width)
    target = uniform_pm1(batch, 3, height, width)

    tensors = {"input": x.clone(), "target": target.clone()}
    tensors.update(make_fixture(net, x, lambda y: F.l1_loss(y, target), adam_steps))

    meta = {"ngf": str(ngf), "n_blocks": str(n_blocks)}
    if height == width:
        meta["size"] = str(height)
    else:
        meta["height"] = str(height)
        meta["width"] = str(width)
    meta["batch"] = str(batch)
    if adam_steps:
        meta.update(OPT_META)
    meta["loss"] = "l1_mean"
    meta["torch"] = torch.__version__
    write_and_check(path, tensors, meta)


def golden_discriminator(path, ndf, batch, size, adam_steps):
    torch.manual_seed(0)
    net = Discriminator(ndf=ndf)
    net.apply(weights_init_normal)
    x = uniform_pm1(batch, 3, size, size)
    ones = torch.ones(batch, 1)

    tensors = {"input": x.clone()}
    tensors.update(make_fixture(net, x, lambda y: F.mse_loss(y, ones), adam_steps))

    meta = {"ndf": str(ndf), "size": str(size), "batch": str(batch)}
    if adam_steps:
        meta.update(OPT_META)
    meta["loss"] = "mse_to_ones"
    meta["torch"] = torch.__version__
    write_and_check(path, tensors, meta)


def golden_model(model_path, io_path):
    """A model file made the way a user brings in the seed's checkpoints: two state_dicts saved
    with torch.save, converted by tools/pth2safetensors.py; plus an input and each generator's
    output on it, so the C side can check it runs a converted model as PyTorch does."""
    import subprocess
    import tempfile
    torch.manual_seed(2)
    nets = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name in ("netG_A2B", "netG_B2A"):
            net = Generator(ngf=4, n_blocks=1)
            net.apply(weights_init_normal)
            nets[name] = net
            paths.append(os.path.join(tmp, name + ".pth"))
            torch.save(net.state_dict(), paths[-1])
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "pth2safetensors.py"),
                        "export", "--young-to-old", paths[0], "--old-to-young", paths[1],
                        "--size", "32", "-o", model_path], check=True)
    x = uniform_pm1(1, 3, 32, 32)
    with torch.no_grad():
        tensors = {"input": x, "young_to_old": nets["netG_A2B"](x),
                   "old_to_young": nets["netG_B2A"](x)}
    write_and_check(io_path, tensors, {"torch": torch.__version__})


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(FIXTURES, exist_ok=True)
    golden_adam(os.path.join(FIXTURES, "golden_adam.safetensors"))
    golden_generator(os.path.join(FIXTURES, "golden_generator.safetensors"),
                     ngf=8, n_blocks=2, batch=2, height=32, width=32,
                     adam_steps=ADAM_STEPS)
    golden_discriminator(os.path.join(FIXTURES, "golden_discriminator.safetensors"),
                         ndf=8, batch=2, size=32, adam_steps=ADAM_STEPS)
    golden_generator(os.path.join(FIXTURES, "golden_generator_b1_48.safetensors"),
                     ngf=4, n_blocks=1, batch=1, height=48, width=40,
                     adam_steps=0)
    golden_model(os.path.join(FIXTURES, "golden_model.safetensors"),
                 os.path.join(FIXTURES, "golden_model_io.safetensors"))


if __name__ == "__main__":
    main()
