"""DCGAN training step rate: ours vs a plain loop in the style of the canonical PyTorch DCGAN example.

Same widths, batch, device and data (one real batch held in memory, so only the step is timed). The
reference is the example's loop: sigmoid at D's end with BCELoss, fp32, no channels_last, D(x) and
D(G(z)) read with .item() every step. Ours is dcgan.train.GanSteps as `dcgan train` runs it: BCE with
logits, losses kept on the device. Prints images/s of each and the ratio, in one run:

    python benchmarks/train_step.py [--batch 128] [--ngf 64] [--steps 10] [--warmup 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from dcgan.device import pick_device
from dcgan.model import build, sample_z
from dcgan.train import GanSteps
from dcgan.training_settings import ModelSettings, TrainSettings


class ReferenceG(nn.Module):
    def __init__(self, nz: int, ngf: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class ReferenceD(nn.Module):
    def __init__(self, ndf: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def reference_steps(real: torch.Tensor, ngf: int, nz: int, device: torch.device):
    """The example's training iteration as a closure."""
    net_g, net_d = ReferenceG(nz, ngf).to(device), ReferenceD(ngf).to(device)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch = len(real)

    def step():
        net_d.zero_grad()
        label = torch.full((batch,), 1.0, device=device)
        output = net_d(real)
        err_real = criterion(output, label)
        err_real.backward()
        d_x = output.mean().item()
        noise = torch.randn(batch, nz, 1, 1, device=device)
        fake = net_g(noise)
        label.fill_(0.0)
        output = net_d(fake.detach())
        err_fake = criterion(output, label)
        err_fake.backward()
        d_g_z1 = output.mean().item()
        opt_d.step()
        net_g.zero_grad()
        label.fill_(1.0)
        output = net_d(fake)
        err_g = criterion(output, label)
        err_g.backward()
        d_g_z2 = output.mean().item()
        opt_g.step()
        return d_x, d_g_z1, d_g_z2, (err_real + err_fake).item(), err_g.item()

    return step


def our_steps(real: torch.Tensor, ngf: int, nz: int, device: torch.device):
    model = ModelSettings(image_size=real.shape[-1], nz=nz, ngf=ngf, ndf=ngf, z="normal")
    g, d = build(model)
    steps = GanSteps(g.to(device), d.to(device), TrainSettings())
    rng = torch.Generator(device).manual_seed(0)

    def step():
        fake = g(sample_z(len(real), model, rng, device))
        steps.discriminator(real, fake)
        steps.generator(fake)

    return step


def rate(step, batch: int, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=64, help="G and D width (64: 512 at 4x4, the example's)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device()
    torch.manual_seed(0)
    real = torch.rand(args.batch, 3, 64, 64, device=device) * 2 - 1
    reference = rate(reference_steps(real, args.ngf, 100, device), args.batch, args.steps, args.warmup, device)
    ours = rate(our_steps(real, args.ngf, 100, device), args.batch, args.steps, args.warmup, device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name}; 64x64, ngf = ndf = {args.ngf} ({args.ngf * 8} at 4x4), batch {args.batch}, torch {torch.__version__}")
    print(f"reference loop (PyTorch example style): {reference:,.0f} images/s")
    print(f"ours (dcgan.train.GanSteps):            {ours:,.0f} images/s")
    print(f"ratio: {ours / reference:.2f}x")


if __name__ == "__main__":
    main()
