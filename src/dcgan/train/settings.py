"""Model and training settings, importable without PyTorch (the command line reads them for every stage)."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.config import choices

Z_DISTRIBUTIONS = choices("train.z")
# The speed switches: "auto" picks per device (dcgan.train.steps.resolve_speed); the others force a choice.
PRECISIONS = choices("train.precision")
MEMORY_FORMATS = choices("train.memory_format")
COMPILERS = choices("train.compile")
ADAMS = choices("train.adam")
GRAPHS = choices("train.graphs")
DATA = choices("train.data")
RESUME = choices("train.resume")


@dataclass(frozen=True)
class ModelSettings:
    image_size: int = 64
    nz: int = 100  # z dimensions
    ngf: int = 64  # G width (channels at 4x4: ngf * 8 for 64x64; the paper's Figure 1: 128 -> 1024)
    ndf: int = 64  # D width, likewise
    kernel: int = 4  # 4 (common) or 5 (the authors' code)
    z: str = "uniform"  # uniform in [-1, 1] (the paper) or normal


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int = 128  # per process: the global batch is batch_size x processes
    epochs: int = 5  # passes over the shards (the paper shows LSUN bedrooms after 1 and 5)
    max_steps: int = 0  # stop after this many iterations as well (0: epochs alone decide)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1  # D updates per iteration
    g_steps: int = 1  # G updates per iteration
    flip: bool = False  # random horizontal flips of the real images
    shuffle_buffer: int = 5000
    data: str = "auto"  # memory: the decoded set gathered by index (ResidentLoader); shards: the shard loader
    workers: int = 2  # shard loader workers per process (part of its data order: keep it when resuming); decoding too
    processes: int = 1  # DDP processes (one per GPU), launched by torchrun
    sync_batchnorm: bool = False  # BatchNorm statistics over the global batch (CUDA, processes > 1)
    precision: str = "auto"  # bf16 autocast (BatchNorm statistics and the loss in fp32) or fp32
    memory_format: str = "auto"  # channels_last or contiguous activations
    compile: str = "auto"  # torch.compile (inductor) of G and D, or eager
    adam: str = "auto"  # fused (one kernel for all parameters) or foreach Adam
    graphs: str = "auto"  # the iteration captured once as a CUDA graph and replayed (one process on a GPU)
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    fid_every: int = 2000  # FID/KID of fid_samples fixed samples every this many steps, and at the end (0: end only)
    fid_samples: int = 5000
    collapse_patience: int = 3  # logs (FID measurements for diversity) in a row that make a collapse warning
    stop_on_collapse: bool = False  # end the run at the first collapse or divergence warning
    resume: str = "auto"  # auto: continue from the newest usable checkpoint; never: start afresh
    seed: int = 0
