#!/usr/bin/python3
"""The PyTorch side of `make bench`: the seed's networks and training step on the same
configurations, 2 threads, printed in bench_core's row format (impl size blocks ngf params macs
infer_ms train_s infer_bf16_ms train_bf16_s); with SIZE BLOCKS NGF NDF TRAIN RUNS, that one row.
Run by bench/run.sh with Debian's python3-torch."""

import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from cyclegan_models import Discriminator, Generator, weights_init_normal  # noqa: E402


def cpu_has_bf16():
    with open("/proc/cpuinfo") as f:
        flags = f.read().split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


CPU_HAS_BF16 = cpu_has_bf16()


def timed(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class SeedStep:
    """One iteration of aitorzip/PyTorch-CycleGAN's train loop, batch 1, buffers skipped
    (they cost nothing measurable)."""

    def __init__(self, size, blocks, ngf, ndf, bf16=False):
        self.bf16 = bf16  # forward passes under torch.autocast(bfloat16), as mixed precision
        self.G_A2B, self.G_B2A = Generator(ngf, blocks), Generator(ngf, blocks)
        self.D_A, self.D_B = Discriminator(ndf), Discriminator(ndf)
        for net in (self.G_A2B, self.G_B2A, self.D_A, self.D_B):
            net.apply(weights_init_normal)
        betas = (0.5, 0.999)
        self.opt_G = torch.optim.Adam(list(self.G_A2B.parameters()) + list(self.G_B2A.parameters()),
                                      lr=2e-4, betas=betas)
        self.opt_DA = torch.optim.Adam(self.D_A.parameters(), lr=2e-4, betas=betas)
        self.opt_DB = torch.optim.Adam(self.D_B.parameters(), lr=2e-4, betas=betas)
        self.real_A = torch.rand(1, 3, size, size) * 2 - 1
        self.real_B = torch.rand(1, 3, size, size) * 2 - 1
        self.ones, self.zeros = torch.ones(1, 1), torch.zeros(1, 1)

    def __call__(self):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            self.step()

    def step(self):
        A, B = self.real_A, self.real_B
        self.opt_G.zero_grad()
        loss_id = F.l1_loss(self.G_A2B(B), B) * 5 + F.l1_loss(self.G_B2A(A), A) * 5
        fake_B = self.G_A2B(A)
        fake_A = self.G_B2A(B)
        loss_gan = F.mse_loss(self.D_B(fake_B), self.ones) + F.mse_loss(self.D_A(fake_A), self.ones)
        loss_cycle = F.l1_loss(self.G_B2A(fake_B), A) * 10 + F.l1_loss(self.G_A2B(fake_A), B) * 10
        (loss_id + loss_gan + loss_cycle).backward()
        self.opt_G.step()
        for D, opt, real, fake in ((self.D_A, self.opt_DA, A, fake_A), (self.D_B, self.opt_DB, B, fake_B)):
            opt.zero_grad()
            loss = (F.mse_loss(D(real), self.ones) + F.mse_loss(D(fake.detach()), self.zeros)) * 0.5
            loss.backward()
            opt.step()


def bench(size, blocks, ngf, ndf, train, runs):
    torch.manual_seed(0)
    G = Generator(ngf, blocks)
    G.apply(weights_init_normal)
    G.eval()
    x = torch.rand(1, 3, size, size) * 2 - 1
    params = sum(p.numel() for p in G.parameters())
    with torch.no_grad():
        infer = timed(lambda: G(x), runs)
        # PyTorch's own bf16: autocast, which oneDNN runs on AMX or AVX512_BF16 where the CPU
        # has them (elsewhere it emulates them, 10-30x slower than fp32: not worth timing).
        infer_bf16 = -1.0
        if CPU_HAS_BF16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                infer_bf16 = timed(lambda: G(x), runs)
    train_s = train_bf16 = -1.0
    if train:
        train_s = timed(SeedStep(size, blocks, ngf, ndf), min(runs, 5), warmup=1)
        if CPU_HAS_BF16:
            train_bf16 = timed(SeedStep(size, blocks, ngf, ndf, bf16=True), min(runs, 5),
                               warmup=1)
    print("pytorch\t%d\t%d\t%d\t%d\t-\t%.2f\t%.3f\t%.2f\t%.3f"
          % (size, blocks, ngf, params, infer * 1e3, train_s, infer_bf16 * 1e3, train_bf16),
          flush=True)


def main():
    torch.set_num_threads(2)
    print("pytorch %s: %d threads, mkldnn %s, %s" % (
        torch.__version__, torch.get_num_threads(), torch.backends.mkldnn.is_available(),
        os.environ.get("OPENBLAS_CORETYPE", "OpenBLAS default kernel")), file=sys.stderr)
    if len(sys.argv) == 7:  # SIZE BLOCKS NGF NDF TRAIN RUNS: one row (run.sh alternates them)
        size, blocks, ngf, ndf, train, runs = (int(a) for a in sys.argv[1:])
        bench(size, blocks, ngf, ndf, train != 0, runs)
        return
    bench(128, 6, 16, 32, True, 15)  # the default model (samples/)
    bench(128, 6, 32, 64, True, 15)
    bench(64, 6, 32, 64, True, 25)
    bench(256, 9, 64, 64, False, 7)


if __name__ == "__main__":
    main()
