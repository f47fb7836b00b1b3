"""Dedup settings, importable without PyTorch (the command line reads them for every stage)."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.commands import non_negative, option, positive
from dcgan.config import choices

METHODS = choices("dedup.method")


@dataclass(frozen=True)
class AutoencoderSettings:
    bits: int = 128  # code units, one hash bit each (paper: 128)
    noise_std: float = 0.2  # denoising: Gaussian input corruption, in units of the input range
    dropout: float = 0.2  # dropout on the code layer while training
    sample: int = 100_000  # images drawn (seeded) from the table to train on, whatever the dataset's size
    steps: int = 5000  # Adam steps: the training budget, whatever the dataset's size ...
    epochs: int = 30  # ... and at most this many passes over the sample (fewer steps on small datasets) ...
    min_steps: int = 1000  # ... but never fewer steps than this (a tiny dataset still trains a usable hash)
    batch_size: int = 64
    lr: float = 1e-3
    threshold: float = 0.0  # bit = activation > threshold (paper: binarised by thresholding)
    normalize: bool = True  # per-image contrast stretch of the input (beyond the paper)
    signed: bool = True  # input in [-1, 1] (centred: with [0, 1] short runs collapse to one code)
    seed: int = 0


@dataclass(frozen=True)
class DedupTrainJob:
    checkpoint_every: int = option(
        500, "steps between checkpoints; a rerun of a killed job continues from the last one", type=positive
    )


@dataclass(frozen=True)
class HashSettings:
    """How `dedup hash` hashes a part: the method, and the views of each image besides itself."""

    method: str = "autoencoder"
    views: int = option(2, type=non_negative)


@dataclass(frozen=True)
class FilterSettings:
    """How `dedup filter` groups the hashes: the method and views they were made with, the search radius,
    the pixel check of a collision, and the galleries' seed."""

    method: str = "autoencoder"
    radius: int = option(0, type=non_negative)
    views: int = option(2, "as given to dedup hash", type=non_negative)
    verify: float = 0.94
    seed: int = 0
