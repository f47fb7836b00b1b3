"""What a training run reports: metrics.csv rows and the per-epoch proof that every sample was seen once."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dcgan.files import atomic_path

METRICS = (
    "step",
    "epoch",
    "loss_d",
    "loss_g",
    "d_real",
    "d_fake",
    "images_per_second",
    "lr",
    "fid",
    "kid",
    "diversity",
)


def write_metrics(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, METRICS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_metrics(path: Path, up_to: int) -> list[dict]:
    """The rows of an earlier run up to the step it resumes from."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) <= up_to]


def key_hashes(keys: Iterable[str]) -> np.ndarray:
    """The 64-bit BLAKE2b hash of each key (uint64), the terms of keys_digest."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") for k in keys], np.uint64
    )


def keys_digest(keys: Iterable[str]) -> int:
    """An order-free digest of sample keys: the sum of their 64-bit BLAKE2b hashes, modulo 2**64 (numpy's
    uint64 sum wraps). Two multisets of keys of the same size share it only by chance (about 2**-64)."""
    return int(key_hashes(keys).sum(dtype=np.uint64))


class EpochTally:
    """The samples one rank has trained on in the current epoch: a count and their keys' digest."""

    def __init__(self, state: tuple[int, int] = (0, 0)):
        self.samples, self.digest = state

    def add(self, samples: int, digest: int) -> None:
        """Count a batch of `samples` whose keys_digest is `digest`."""
        self.samples += samples
        self.digest = (self.digest + digest) % 2**64

    def state(self) -> tuple[int, int]:
        return self.samples, self.digest


def add_epoch(runs: list[dict], epoch: int, tallies: list[tuple[int, int]], shard_samples: int) -> None:
    """Record a finished epoch over all ranks in `runs` (for train.json): the samples trained on, per
    rank, and their keys' digest, beside the shards' sample count. Consecutive epochs with the same
    record share one entry ("first" to "last"), so a normal run has one."""
    record = {
        "samples": sum(n for n, _ in tallies),
        "shard_samples": shard_samples,
        "keys_digest": f"{sum(d for _, d in tallies) % 2**64:016x}",
        "samples_per_rank": [n for n, _ in tallies],
    }
    if runs and runs[-1]["last"] == epoch - 1 and {k: runs[-1][k] for k in record} == record:
        runs[-1]["last"] = epoch
    else:
        runs.append({"first": epoch, "last": epoch, **record})
