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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypedDict

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


@dataclass
class Quality:
    """What rank 0's tracking has found so far; saved in every checkpoint, beside the collapse watch."""

    best: dict | None = None  # {"step", "fid"}: the lowest tracked FID, whose weights are best.pt
    memorisation: list = field(default_factory=list)  # per finished epoch: {"epoch", "step", "distance"}
    stopped: dict | None = None  # the collapse warning that stopped the run (stop_on_collapse)

    def saved(self, watch: dict) -> dict:
        """As a checkpoint holds it, with the collapse watch's state."""
        return {"best": self.best, "watch": watch, "memorisation": self.memorisation, "stopped": self.stopped}

    @classmethod
    def loaded(cls, saved: dict | None) -> Quality:
        saved = saved or {}
        return cls(saved.get("best"), list(saved.get("memorisation", [])), saved.get("stopped"))


class RankState(TypedDict):
    z_rng: torch.Tensor  # the rank's generator of fake z
    tally: dict  # its samples and key digest in the current epoch (EpochTally.state)


class Checkpoint(TypedDict):
    """One checkpoint, as Run.save writes it and Run.resume reads it."""

    g: dict
    d: dict
    opt_g: dict
    opt_d: dict
    ranks: list[RankState]
    step: int
    epoch: int
    position: int  # batches done in the epoch
    epochs: list  # per finished epoch: samples and key digest
    fingerprint: str  # what a run must match to resume from it (fingerprint)
    finished: bool
    end: list  # [epochs, max_steps] of the run that wrote it
    model: dict
    settings: dict
    quality: dict  # Quality.saved


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

    def save(self, state: Checkpoint) -> None:
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

    def to_resume(self, resume: str, run_id: str, end: tuple[int, int]) -> tuple[Path, Checkpoint] | None:
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
