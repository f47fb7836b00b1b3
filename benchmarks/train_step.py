"""DCGAN training step rate: ours, switch by switch, vs a loop in the style of the PyTorch DCGAN example.

Same widths, batch, device and data (one real batch held on the device, so only the step is timed),
all in one process. The reference is the example's loop: sigmoid at D's end with BCELoss, fp32,
contiguous tensors, two D backward passes, D's weight gradients computed in the G update too, and
D(x), D(G(z)) and both losses read with .item() every step. Ours is dcgan.train.steps.GanSteps as
`dcgan train` runs it: first with every speed switch off, then each switch alone, then all of them,
then "auto" (what `dcgan train` picks on this device), then "captured" (auto with the iteration replayed
from a CUDA graph, train.graphs: on; on a CPU the same static buffers without a graph). For each:
images/s, the ratio to the reference, peak memory (CUDA: allocated; CPU: resident growth, sampled) and
the FLOP/s achieved, from PyTorch's FLOP count of one step. Then our shard loader alone, with a worker per core:

    python benchmarks/train_step.py [--models common paper] [--batches 128 512] [--steps 5] [--warmup 2]
                                    [--loops reference off bf16 ...] [--threads N] [--no-loader]

Models: common = ngf = ndf = 64 with 4x4 kernels (512 channels at 4x4, the PyTorch example's),
paper = ngf = ndf = 128 with 5x5 kernels (1024 at 4x4, Figure 1 and the authors' code), 64x64 images.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import tempfile
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dcgan.device import autotune_convolutions, pick_device
from dcgan.train.loader import Loader
from dcgan.train.model import build, sample_z
from dcgan.train.settings import ModelSettings, TrainSettings
from dcgan.train.steps import CapturedSteps, GanSteps, Speed, resolve_speed
from loader import build_shards, epoch_rate

MODELS = {
    "common": ModelSettings(ngf=64, ndf=64, kernel=4, z="normal"),
    "paper": ModelSettings(ngf=128, ndf=128, kernel=5, z="normal"),
}
OFF = Speed(precision="fp32", memory_format="contiguous", compile="eager", adam="foreach")
SWITCHES = {
    "bf16": {"precision": "bf16"},
    "channels_last": {"memory_format": "channels_last"},
    "compile": {"compile": "inductor"},
    "fused_adam": {"adam": "fused"},
}
LOOPS = ("reference", "off", *SWITCHES, "all", "auto", "captured")


class ReferenceG(nn.Module):
    """The example's generator, for any width and kernel (same layer shapes as dcgan.train.model)."""

    def __init__(self, s: ModelSettings):
        super().__init__()
        pad, out_pad = (1, 0) if s.kernel == 4 else (2, 1)
        w = s.ngf
        layers = [nn.ConvTranspose2d(s.nz, w * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(w * 8), nn.ReLU(True)]
        for width in (w * 8, w * 4, w * 2):
            layers += [
                nn.ConvTranspose2d(width, width // 2, s.kernel, 2, pad, out_pad, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(w, 3, s.kernel, 2, pad, out_pad, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class ReferenceD(nn.Module):
    def __init__(self, s: ModelSettings):
        super().__init__()
        pad = 1 if s.kernel == 4 else 2
        w = s.ndf
        layers = [nn.Conv2d(3, w, s.kernel, 2, pad, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for width in (w, w * 2, w * 4):
            layers += [
                nn.Conv2d(width, width * 2, s.kernel, 2, pad, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(w * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def reference_step(real: torch.Tensor, model: ModelSettings, device: torch.device):
    """The example's training iteration as a closure."""
    net_g, net_d = ReferenceG(model).to(device), ReferenceD(model).to(device)
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
        noise = torch.randn(batch, model.nz, 1, 1, device=device)
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


def our_step(real: torch.Tensor, model: ModelSettings, speed: Speed, device: torch.device, captured: bool = False):
    g, d = build(model)
    steps = GanSteps(g, d, TrainSettings(batch_size=len(real)), speed, device)
    iterate = CapturedSteps(steps).iteration if captured else steps.iteration
    real = real.contiguous(memory_format=speed.layout)
    rng = torch.Generator(device).manual_seed(0)
    return lambda: iterate(real, lambda n: sample_z(n, model, rng, device))


def speed_of(loop: str, device: torch.device) -> Speed:
    if loop == "captured":  # capturable Adam exists on CUDA only: a CPU runs the buffers without a graph
        return replace(resolve_speed(TrainSettings(), device), graphs="on" if device.type == "cuda" else "off")
    if loop == "auto":
        return resolve_speed(TrainSettings(), device)
    if loop == "all":
        changes = {k: v for switches in SWITCHES.values() for k, v in switches.items()}
    else:
        changes = SWITCHES.get(loop, {})
    return Speed(**{**asdict(OFF), **changes})


def step_flops(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory the block adds: CUDA's allocator peak over what was allocated before, or resident growth
    sampled every ms."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so growth is this block's
        self.start, self.running = resident_bytes(), True
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, resident_bytes() - self.start)
            time.sleep(0.001)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated() - self.start
        else:
            self.running = False
            self.sampler.join()


def timed(step, steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per step after `warmup` steps (which include any compilation, and a graph's capture)."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def loop_step(loop: str, real: torch.Tensor, model: ModelSettings, device: torch.device):
    """The named loop's training iteration on `real`, as a closure: the reference's or ours."""
    if loop == "reference":
        return reference_step(real, model, device)
    return our_step(real, model, speed_of(loop, device), device, captured=loop == "captured")


def warmup_steps(loop: str, warmup: int) -> int:
    """Steps before timing: `warmup`, and for a captured loop its eager warm-up and the capture too."""
    return max(warmup, CapturedSteps.WARMUP + 1) if loop == "captured" else warmup


def measure(loop: str, real: torch.Tensor, model: ModelSettings, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    with PeakMemory(device) as memory:
        step = loop_step(loop, real, model, device)
        flops = step_flops(step) if loop in ("reference", "off") else None
        seconds = timed(step, args.steps, warmup_steps(loop, args.warmup), device)
    return {"rate": len(real) / seconds, "seconds": seconds, "memory": memory.peak, "flops": flops}


def loader_rate(batch: int) -> tuple[int, float]:
    """Images/s of our shard loader alone (64x64 JPEG shards, a worker per core), after one warm epoch."""
    with tempfile.TemporaryDirectory() as tmp:
        shards = build_shards(Path(tmp), entries=2000, copies=4)
        loader = Loader(shards, batch, workers=os.cpu_count(), shuffle_buffer=1000)
        epoch_rate(loader)
        return loader.samples, epoch_rate(loader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=["common"])
    parser.add_argument("--batches", nargs="+", type=int, default=[128])
    parser.add_argument("--loops", nargs="+", choices=LOOPS, default=list(LOOPS))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    parser.add_argument("--loader", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device()
    autotune_convolutions(device)  # as `dcgan train` runs
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name}; torch {torch.__version__}; 64x64 images; auto = {asdict(resolve_speed(TrainSettings(), device))}")
    print(f"{'model':<7} {'batch':>5} {'loop':<14} {'img/s':>8} {'ratio':>6} {'peak MB':>8} {'TFLOP/s':>8}")
    for model_name in args.models:
        model = MODELS[model_name]
        for batch in args.batches:
            real = torch.rand(batch, 3, 64, 64, device=device) * 2 - 1
            results, flops = {}, {}
            for loop in args.loops:
                results[loop] = measure(loop, real, model, args, device)
                flops[loop] = results[loop]["flops"] or flops.get("off")  # our switches keep the arithmetic
                reference = results.get("reference", {}).get("rate")
                ratio = f"{results[loop]['rate'] / reference:.2f}x" if reference else "-"
                achieved = f"{flops[loop] / results[loop]['seconds'] / 1e12:.3f}" if flops[loop] else "-"
                print(
                    f"{model_name:<7} {batch:>5} {loop:<14} {results[loop]['rate']:>8,.1f} {ratio:>6} "
                    f"{results[loop]['memory'] / 2**20:>8,.0f} {achieved:>8}",
                    flush=True,
                )
    if args.loader:
        samples, rate = loader_rate(max(args.batches))
        print(
            f"loader alone: {rate:,.0f} images/s ({samples} 64x64 JPEG samples, {os.cpu_count()} workers, "
            f"batch {max(args.batches)})"
        )


if __name__ == "__main__":
    main()
