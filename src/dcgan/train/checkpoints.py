"""Checkpoints of a training run and the decision to resume from one.

A checkpoint holds G, D, both optimisers, the step, the data position (epoch, batches done), every
rank's z generator state and epoch tally, and the run's fingerprint: the settings that change what
training computes. The data order depends only on the seed, the epoch and the rank and worker counts,
so a resumed run replays exactly what an uninterrupted one does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from dcgan.files import write_torch
from dcgan.train.settings import ModelSettings, TrainSettings
from dcgan.train.steps import Speed

# Settings that change what training computes; the others (cadence, length, resume, and the speed
# switches that only pick kernels) may change on resume.
TRAJECTORY = (
    "batch_size",
    "lr",
    "beta1",
    "beta2",
    "d_steps",
    "g_steps",
    "flip",
    "shuffle_buffer",
    "workers",
    "processes",
    "sync_batchnorm",
    "seed",
)


def fingerprint(model: ModelSettings, settings: TrainSettings, speed: Speed, shard_dir: Path, data: str) -> str:
    """What a checkpoint must match to be resumed: model, trajectory settings, precision, the shards' index
    and the data path actually used (memory and shards draw different orders)."""
    index = shard_dir / "index.json"
    shards = index.read_text() if index.is_file() else ""
    described = {
        "model": asdict(model),
        **{k: getattr(settings, k) for k in TRAJECTORY},
        "precision": speed.precision,
        "shards": shards,
        "data": data,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


class Checkpoints:
    """checkpoints/step-XXXXXXXXX.pt, written atomically, the newest `keep` kept."""

    def __init__(self, folder: Path, keep: int):
        self.folder, self.keep = folder, keep

    def paths(self) -> list[Path]:
        return sorted(self.folder.glob("step-*.pt"), reverse=True)

    def save(self, state: dict) -> None:
        write_torch(self.folder / f"step-{state['step']:09d}.pt", state)
        for old in self.paths()[self.keep :]:
            old.unlink()

    def newest(self) -> tuple[Path, dict] | None:
        """The newest readable checkpoint; unreadable ones are reported and passed over."""
        for path in self.paths():
            try:
                return path, torch.load(path, map_location="cpu", weights_only=False)
            except Exception as e:  # noqa: BLE001 -- a truncated or corrupted file: say so, try the previous one
                print(
                    f"train: checkpoint {path} is unreadable ({type(e).__name__}: {e}); trying the previous one",
                    file=sys.stderr,
                )
        return None

    def set_aside(self, reason: str) -> None:
        previous = self.folder.with_name("checkpoints-previous")
        shutil.rmtree(previous, ignore_errors=True)
        self.folder.rename(previous)
        print(f"train: {reason}; old checkpoints moved to {previous}, starting afresh", file=sys.stderr)

    def to_resume(self, resume: str, run_id: str, end: tuple[int, int]) -> tuple[Path, dict] | None:
        """The checkpoint to continue from, or None (then any old checkpoints are set aside)."""
        if not self.paths():
            return None
        found = self.newest() if resume == "auto" else None
        if resume == "never":
            reason = "resume: never"
        elif found is None:
            reason = "no readable checkpoint"
        elif found[1]["fingerprint"] != run_id:
            reason = "the checkpoints were made with other model, training or shard settings"
        elif found[1]["finished"] and tuple(found[1]["end"]) == end:
            reason = "the checkpoints hold a finished run of these settings"
        else:
            state = found[1]
            print(
                f"train: resuming from step {state['step']} (epoch {state['epoch']}, batch {state['position']})",
                file=sys.stderr,
            )
            return found
        self.set_aside(reason)
        return None
