"""Dedup settings, importable without PyTorch (the command line reads them for every stage)."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("autoencoder", "phash")


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
