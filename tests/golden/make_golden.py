#!/usr/bin/python3
"""Generate golden fixtures for ageshift's C tests from the PyTorch reference.

Run by hand from the repository root (needs Debian's PyTorch):

    /usr/bin/python3 tests/golden/make_golden.py [NAME...]

(NAMEs, e.g. golden_generator_resize, write only those fixtures.)

Writes (deterministic: seed 0, 1 thread, float32):
    tests/fixtures/golden_generator.safetensors        Generator(ngf=8, n_blocks=2), 2x3x32x32
    tests/fixtures/golden_discriminator.safetensors    Discriminator(ndf=8), 2x3x32x32
    tests/fixtures/golden_generator_b1_48.safetensors  Generator(ngf=4, n_blocks=1), 1x3x48x40
    tests/fixtures/golden_generator_resize.safetensors Generator(ngf=4, n_blocks=2,
                                                       upsample="resize"), 2x3x32x32

Keys in each file:
    input, [target], param.<name>, output, loss (shape (1,)), grad.input,
    grad.<name>, [adam3.<name>, adam3_loss]
    tests/fixtures/golden_adam.safetensors: p0, g1, g2, g3, p3 (Adam alone)
    tests/fixtures/golden_cyclegan.safetensors: the seed's training step, losses of 3 steps
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

# The seed's rate. At 2e-3 the three Adam steps were ill-conditioned: a gradient element near
# Adam's eps after step 1 leaves a weight up to 0.04 lr apart between two correct builds, and the
# 32 px network turned that into 15% differences in the next gradients; at 2e-4 (the weights'
# differences and the network's answer to them both scale with it) every weight lands within
# 0.09 lr of PyTorch's in the optimised and the sanitizer builds.
LR = 2e-4
BETAS = (0.5, 0.999)
EPS = 1e-8
ADAM_STEPS = 3

OPT_META = {
    "lr": "0.0002",
    "beta1": "0.5",
    "beta2": "0.999",
    "eps": "1e-08",
}


def uniform_pm1(*shape):
    """Uniform in [-1, 1)."""
    return torch.rand(*shape, dtype=torch.float32) * 2.0 - 1.0


def make_fixture(net, x, loss_fn, adam_steps, adam_loss_fn=None):
    """Return an ordered dict of tensors: param.*, output, loss, grad.*, adam3.*

    The Adam steps follow adam_loss_fn (loss_fn if None)."""
    adam_loss_fn = adam_loss_fn or loss_fn
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
            loss = adam_loss_fn(y)
            loss.backward()
            opt.step()
        for n, p in net.named_parameters():
            out["adam%d.%s" % (adam_steps, n)] = p.detach().clone()
        # The loss at the final weights: a well-conditioned check of the whole loop, where
        # single weights are not (Adam's first steps are +-lr whatever the gradient's size, so
        # a gradient element near 0 flips its step on rounding noise).
        with torch.no_grad():
            out["adam%d_loss" % adam_steps] = adam_loss_fn(net(x)).reshape(1).clone()
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


def golden_generator(path, ngf, n_blocks, batch, height, width, adam_steps, upsample="convt"):
    torch.manual_seed(0)
    net = Generator(ngf=ngf, n_blocks=n_blocks, upsample=upsample)
    net.apply(weights_init_normal)
    x = uniform_pm1(batch, 3, height, width)
    target = uniform_pm1(batch, 3, height, width)

    tensors = {"input": x.clone(), "target": target.clone()}
    # The gradients are checked under L1 (the seed's cycle and identity loss), the Adam steps
    # under MSE: an output that passes within rounding of its target flips L1's gradient there,
    # so any two correct implementations may part ways after it (a kink 4e-7 away was seen).
    tensors.update(make_fixture(net, x, lambda y: F.l1_loss(y, target), adam_steps,
                                lambda y: F.mse_loss(y, target)))

    meta = {"ngf": str(ngf), "n_blocks": str(n_blocks)}
    if upsample != "convt":
        meta["upsample"] = upsample
    if height == width:
        meta["size"] = str(height)
    else:
        meta["height"] = str(height)
        meta["width"] = str(width)
    meta["batch"] = str(batch)
    if adam_steps:
        meta.update(OPT_META)
    meta["loss"] = "l1_mean"
    if adam_steps:
        meta["adam_loss"] = "mse_mean"
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


def golden_cyclegan(path, steps=3):
    """The seed's training step (aitorzip/PyTorch-CycleGAN train), verbatim in its losses and
    order, on tiny networks: the five logged losses of each of `steps` iterations. The replay
    buffers are still filling (fewer than 50 pushes), so they return the newest fake."""
    torch.manual_seed(3)
    nets = {"G_A2B": Generator(4, 1), "G_B2A": Generator(4, 1),
            "D_A": Discriminator(4), "D_B": Discriminator(4)}
    for net in nets.values():
        net.apply(weights_init_normal)
    tensors = {}
    for prefix, net in nets.items():
        for n, v in net.state_dict().items():
            tensors["%s.%s" % (prefix, n)] = v.detach().clone()
    G_A2B, G_B2A, D_A, D_B = nets["G_A2B"], nets["G_B2A"], nets["D_A"], nets["D_B"]
    real_A, real_B = uniform_pm1(1, 3, 32, 32), uniform_pm1(1, 3, 32, 32)
    tensors["real_A"], tensors["real_B"] = real_A.clone(), real_B.clone()
    lr = 2e-4
    opt_G = torch.optim.Adam(list(G_A2B.parameters()) + list(G_B2A.parameters()), lr=lr, betas=BETAS)
    opt_DA = torch.optim.Adam(D_A.parameters(), lr=lr, betas=BETAS)
    opt_DB = torch.optim.Adam(D_B.parameters(), lr=lr, betas=BETAS)
    target_real, target_fake = torch.ones(1, 1), torch.zeros(1, 1)
    mse, l1 = torch.nn.MSELoss(), torch.nn.L1Loss()
    for step in range(1, steps + 1):
        opt_G.zero_grad()
        loss_identity_B = l1(G_A2B(real_B), real_B) * 5.0
        loss_identity_A = l1(G_B2A(real_A), real_A) * 5.0
        fake_B = G_A2B(real_A)
        loss_GAN_A2B = mse(D_B(fake_B), target_real)
        fake_A = G_B2A(real_B)
        loss_GAN_B2A = mse(D_A(fake_A), target_real)
        loss_cycle_ABA = l1(G_B2A(fake_B), real_A) * 10.0
        loss_cycle_BAB = l1(G_A2B(fake_A), real_B) * 10.0
        loss_G = (loss_identity_A + loss_identity_B + loss_GAN_A2B + loss_GAN_B2A
                  + loss_cycle_ABA + loss_cycle_BAB)
        loss_G.backward()
        opt_G.step()
        opt_DA.zero_grad()
        loss_D_A = (mse(D_A(real_A), target_real) + mse(D_A(fake_A.detach()), target_fake)) * 0.5
        loss_D_A.backward()
        opt_DA.step()
        opt_DB.zero_grad()
        loss_D_B = (mse(D_B(real_B), target_real) + mse(D_B(fake_B.detach()), target_fake)) * 0.5
        loss_D_B.backward()
        opt_DB.step()
        tensors["losses%d" % step] = torch.tensor([
            loss_G.item(), (loss_identity_A + loss_identity_B).item(),
            (loss_GAN_A2B + loss_GAN_B2A).item(), (loss_cycle_ABA + loss_cycle_BAB).item(),
            (loss_D_A + loss_D_B).item()])
    meta = {"ngf": "4", "n_blocks": "1", "ndf": "4", "size": "32", "batch": "1", "lr": "0.0002",
            "steps": str(steps), "losses": "loss_G,loss_G_identity,loss_G_GAN,loss_G_cycle,loss_D",
            "torch": torch.__version__}
    write_and_check(path, tensors, meta)


def main(names):
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(FIXTURES, exist_ok=True)

    def path(name):
        return os.path.join(FIXTURES, name + ".safetensors")
    fixtures = {
        "golden_adam": lambda: golden_adam(path("golden_adam")),
        "golden_generator": lambda: golden_generator(
            path("golden_generator"), ngf=8, n_blocks=2, batch=2, height=32, width=32,
            adam_steps=ADAM_STEPS),
        "golden_discriminator": lambda: golden_discriminator(
            path("golden_discriminator"), ndf=8, batch=2, size=32, adam_steps=ADAM_STEPS),
        "golden_generator_b1_48": lambda: golden_generator(
            path("golden_generator_b1_48"), ngf=4, n_blocks=1, batch=1, height=48, width=40,
            adam_steps=0),
        "golden_generator_resize": lambda: golden_generator(
            path("golden_generator_resize"), ngf=4, n_blocks=2, batch=2, height=32, width=32,
            adam_steps=ADAM_STEPS, upsample="resize"),
        "golden_cyclegan": lambda: golden_cyclegan(path("golden_cyclegan")),
        "golden_model": lambda: golden_model(path("golden_model"), path("golden_model_io")),
    }
    unknown = [n for n in names if n not in fixtures]
    if unknown:
        sys.exit("unknown fixtures: %s (known: %s)" % (", ".join(unknown), ", ".join(fixtures)))
    for name in names or fixtures:
        fixtures[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
