"""The compute device every stage uses: the GPU when there is one, else the CPU."""

from __future__ import annotations

import torch


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_with_threads(threads: int) -> torch.device:
    """The compute device, this process using `threads` CPU threads (a job's share of the node)."""
    torch.set_num_threads(threads)
    return pick_device()


def autotune_convolutions(device: torch.device) -> None:
    """cuDNN's autotuning (cudnn.benchmark) on a GPU: every training run, and every timed gpu_check part,
    runs with it, so that rates measured apart compare."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
