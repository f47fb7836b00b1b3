"""One training iteration of the paper's minimax game, with the speed switches applied.

The switches (`precision`, `memory_format`, `compile`, `adam`, `graphs` in TrainSettings) default to
"auto", which `resolve_speed` turns into the fastest choice for the device. None of them needs a host
sync: the iteration returns its losses as a device tensor, read by the caller every `log_every` steps.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dcgan.errors import UserError
from dcgan.train.settings import TrainSettings


@dataclass(frozen=True)
class Speed:
    precision: str  # bf16 | fp32
    memory_format: str  # channels_last | contiguous
    compile: str  # inductor | eager
    adam: str  # fused | foreach
    graphs: str = "off"  # on | off

    @property
    def layout(self) -> torch.memory_format:
        """`memory_format` as PyTorch names it, for the models and the loader's batches alike."""
        return torch.channels_last if self.memory_format == "channels_last" else torch.contiguous_format


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 beats fp32 here: a GPU with bf16 tensor cores, or a CPU with AMX tiles (with AVX-512 BF16
    alone, oneDNN's bf16 convolutions measured slower than fp32: docs/benchmarks.md)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_amx_tile_supported()


def resolve_speed(settings: TrainSettings, device: torch.device, processes: int = 1) -> Speed:
    """The switches with "auto" replaced by the device's default (measured: docs/benchmarks.md). CUDA
    graphs stay off under "auto" until a GPU run of benchmarks/gpu_check.py has measured them."""
    cuda = device.type == "cuda"
    auto = Speed(
        precision="bf16" if bf16_is_fast(device) else "fp32",
        memory_format="channels_last",
        compile="eager",
        adam="fused" if cuda else "foreach",
        graphs="off",
    )
    speed = Speed(
        **{
            k: auto_value if getattr(settings, k) == "auto" else getattr(settings, k)
            for k, auto_value in asdict(auto).items()
        }
    )
    if speed.graphs == "on" and (not cuda or processes > 1 or speed.compile == "inductor"):
        raise UserError(
            "train.graphs: on needs one training process on a CUDA GPU, with compile off "
            f"(this run: {device.type}, {processes} process(es), compile {speed.compile})"
        )
    return speed


class GanSteps:
    """D and G updates with BCE on logits (non-saturating G loss), as `dcgan train` runs them.

    `g` and `d` stay the plain modules (their state dicts are what checkpoints hold); the steps run
    them through DDP (when `distributed`) and torch.compile as the switches say.
    """

    def __init__(
        self,
        g: nn.Module,
        d: nn.Module,
        settings: TrainSettings,
        speed: Speed,
        device: torch.device,
        *,
        distributed: bool = False,
    ):
        self.g, self.d, self.speed, self.settings = g, d, speed, settings
        g.to(device, memory_format=speed.layout)
        d.to(device, memory_format=speed.layout)
        # G's projection takes z as 1x1 maps, where channels_last buys nothing; with a channels_last weight,
        # cuDNN returns its weight gradient contiguous while inductor expects channels_last (an assertion
        # error on an H200, torch 2.11), so that layer keeps the plain layout.
        g.net[0].to(memory_format=torch.contiguous_format)
        run_g, run_d = g, d
        if distributed:  # gradients averaged over the ranks
            # BatchNorm's running statistics: SyncBatchNorm keeps them the same on every rank already; plain
            # BatchNorm takes rank 0's, broadcast at every forward
            broadcast = not settings.sync_batchnorm
            run_g, run_d = (DistributedDataParallel(net, broadcast_buffers=broadcast) for net in (g, d))
        self.d_without_sync = run_d.no_sync if distributed else nullcontext
        if speed.compile == "inductor":
            run_g, run_d = torch.compile(run_g), torch.compile(run_d)
        self.run_g, self.run_d = run_g, run_d
        betas = (settings.beta1, settings.beta2)
        adam = {"fused": True} if speed.adam == "fused" else {"foreach": True}
        adam["capturable"] = speed.graphs == "on"  # the step count stays on the GPU, inside the graph
        self.opt_g = torch.optim.Adam(g.parameters(), lr=settings.lr, betas=betas, **adam)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=settings.lr, betas=betas, **adam)
        self.bce = nn.BCEWithLogitsLoss()
        self.device_type = device.type

    def load_optimisers(self, saved_g: dict, saved_d: dict) -> None:
        """Load the saved Adam states under this run's speed flags. Optimizer.load_state_dict keeps the
        saved param groups' fused/foreach/capturable flags, so a resume with another `adam` or `graphs`
        would run the old kind of step (or fail at capture); the flags are set before loading, which
        also places each step count where this run's kind of step needs it."""
        for optimiser, saved in ((self.opt_g, saved_g), (self.opt_d, saved_d)):
            flags = {key: optimiser.param_groups[0][key] for key in ("fused", "foreach", "capturable")}
            groups = [{**group, **flags} for group in saved["param_groups"]]
            optimiser.load_state_dict({**saved, "param_groups": groups})

    def autocast(self):
        # no cache of cast weights under a graph: autocast frees its cached casts on exit, which a graph's
        # replays would still read (PyTorch's CUDA-graph notes ask for cache_enabled=False)
        return torch.autocast(
            self.device_type,
            torch.bfloat16,
            enabled=self.speed.precision == "bf16",
            cache_enabled=self.speed.graphs != "on",
        )

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.run_g(z)

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One D update on a real and a fake batch; returns (loss, D(x), D(G(z))) as device tensors."""
        with self.autocast():
            real_logits, fake_logits = self.run_d(real), self.run_d(fake.detach())
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        loss = self.bce(real_logits, torch.ones_like(real_logits)) + self.bce(
            fake_logits, torch.zeros_like(fake_logits)
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.detach(), torch.sigmoid(real_logits.detach()).mean(), torch.sigmoid(fake_logits.detach()).mean()

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        """One G update through the current D: `fake` = G(z) with its graph. D's weights get no gradient
        here (they are frozen for this backward and, under DDP, not all-reduced)."""
        self.d.requires_grad_(False)
        with self.d_without_sync(), self.autocast():
            logits = self.run_d(fake)
        loss = self.bce(logits.float(), torch.ones_like(logits, dtype=torch.float32))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.d.requires_grad_(True)
        return loss.detach()

    def iteration(self, real: torch.Tensor, noise: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """d_steps D updates then g_steps G updates on one real batch; the first G update reuses the
        last D update's samples, as the PyTorch example does. Returns (loss_d, loss_g, D(x), D(G(z)))."""
        for k in range(self.settings.d_steps):
            reused = k == self.settings.d_steps - 1
            with nullcontext() if reused else torch.no_grad():
                fake = self.generate(noise(len(real)))
            loss_d, d_real, d_fake = self.discriminator(real, fake)
        for k in range(self.settings.g_steps):
            if k > 0:
                fake = self.generate(noise(len(real)))
            loss_g = self.generator(fake)
        return torch.stack([loss_d, loss_g, d_real, d_fake])


class CapturedSteps:
    """GanSteps.iteration recorded once as a CUDA graph and replayed: one launch for the ~100 kernels of a
    step, where a small model at batch 128 is bound by kernel launches (train.graphs: on).

    The graph reads static buffers: the real batch and the iteration's noise (drawn outside, from the
    same generator in the same order as eagerly) are copied into them before each replay, and the losses
    come back in a static tensor, valid until the next call. The first `warmup` full batches run eagerly
    on a side stream (they are real steps: lazy initialisation, cuDNN's autotuning and Adam's state
    happen there); then the next one is captured and replayed. A batch of another size (an epoch's last)
    runs eagerly. Off CUDA the same buffers are used without a graph, which is how this path is tested.
    """

    WARMUP = 3  # eager full batches before the capture

    def __init__(self, steps: GanSteps, warmup: int = WARMUP):
        self.steps, self.warmup, self.warmed = steps, warmup, 0
        self.draws = steps.settings.d_steps + steps.settings.g_steps - 1  # noise batches of one iteration
        self.capture = steps.device_type == "cuda"
        self.graph, self.real, self.noise, self.losses = None, None, [], None
        modules = [*steps.g.modules(), *steps.d.modules()]
        if any(getattr(m, "momentum", 0.1) is None for m in modules):  # BatchNorm's cumulative average syncs
            raise UserError("train.graphs: on needs BatchNorm with a momentum (not None)")

    def _eager(self, real: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        draws = iter(noise)
        return self.steps.iteration(real, lambda count: next(draws))

    def _record(self, real: torch.Tensor, noise: list[torch.Tensor]) -> None:
        """Static copies of the inputs, and the graph of one iteration on them (capture runs no kernel)."""
        self.real, self.noise = real.clone(), [z.clone() for z in noise]
        if self.capture:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.losses = self._eager(self.real, self.noise)

    def _replay(self, real: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        self.real.copy_(real)
        for buffer, z in zip(self.noise, noise, strict=True):
            buffer.copy_(z)
        if self.graph is None:
            return self._eager(self.real, self.noise)
        self.graph.replay()
        return self.losses

    def _warm(self, real: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        if not self.capture:
            return self._eager(real, noise)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            losses = self._eager(real, noise)
        torch.cuda.current_stream().wait_stream(side)
        return losses

    def iteration(self, real: torch.Tensor, noise: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """As GanSteps.iteration; full batches (batch_size) are replayed once warm, others run eagerly."""
        draws = [noise(len(real)) for _ in range(self.draws)]
        full = len(real) == self.steps.settings.batch_size
        if full and self.real is None and self.warmed >= self.warmup:
            self._record(real, draws)
        if full and self.real is not None:
            return self._replay(real, draws)
        if self.real is None:
            self.warmed += full
            return self._warm(real, draws)
        return self._eager(real, draws)
