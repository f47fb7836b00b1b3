"""The DDP process group of a `torchrun` launch: one process per GPU (NCCL), or per CPU share (gloo).

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them `dcgan train` is one plain process. The
helpers below are no-ops for a single process, so the training loop reads the same either way.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from dcgan.device import pick_device
from dcgan.errors import UserError

# How long a rank waits in a collective before the group fails. It covers rank 0's one-off work that the
# others wait out in their first collective: opening the FID tracker (reading the reference and its
# features, the Inception weights) and writing checkpoints, grids and FID (NCCL's own default is 10 min).
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Group:
    rank: int
    world_size: int
    device: torch.device
    backend: str  # "" for a single process

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints, grids, metrics and TensorBoard."""
        return self.rank == 0

    def gather(self, value) -> list:
        """Every rank's `value` (any picklable object), in rank order, on every rank."""
        if self.world_size == 1:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def share(self, value):
        """Rank 0's `value` on every rank."""
        if self.world_size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of `tensor` over the ranks, in place."""
        if self.world_size > 1:
            dist.all_reduce(tensor)
            tensor /= self.world_size
        return tensor

    def close(self) -> None:
        if self.backend:
            dist.destroy_process_group()


def join(processes: int) -> Group:
    """Join the process group torchrun started, checking it has the `processes` the settings ask for."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size != processes:
        launch = f"torchrun --standalone --nproc-per-node {processes} -m dcgan train ..."
        raise UserError(
            f"train.processes is {processes} but this run has {world_size} process(es): "
            + (f"launch it as `{launch}`" if processes > 1 else "set train.processes to match torchrun")
        )
    if world_size == 1:
        return Group(0, 1, pick_device(), "")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    _exit_with_launcher()
    if torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"train.processes is {processes} but this node has {torch.cuda.device_count()} GPU(s)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device, timeout=TIMEOUT)
        return Group(rank, world_size, device, "nccl")
    dist.init_process_group("gloo", timeout=TIMEOUT)
    return Group(rank, world_size, torch.device("cpu"), "gloo")


def _exit_with_launcher() -> None:
    """Stop this process when its torchrun launcher dies. torchrun starts each worker in a session of its
    own, so a job killed as a process group (SIGKILL to Snakemake and its children) would otherwise leave
    the ranks training on as orphans, racing the rerun for the checkpoints."""
    launcher = os.getppid()

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(0.5)
        print("train: the torchrun launcher is gone; stopping this rank", file=sys.stderr, flush=True)
        os._exit(1)

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def parameters_digest(*modules: torch.nn.Module) -> str:
    """sha256 of the modules' parameters, in order: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for module in modules:
        for name, parameter in module.named_parameters():
            digest.update(name.encode())
            digest.update(parameter.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()
