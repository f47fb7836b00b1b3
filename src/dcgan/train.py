"""Stage 5: DCGAN training from shards, resumable bit for bit, observable while it runs.

Outputs in `out_dir`: `model.pt` (final G and D with their settings), `samples.png` (the fixed-noise
grid at the end), `metrics.csv`, `train.json` (provenance); while running `samples/step-*.png`,
`tensorboard/` events and `checkpoints/step-*.pt`. A checkpoint holds G, D, both optimisers, the step,
the data position (epoch, batches done) and the z generator's state; the data order depends only on the
seed, the epoch and the worker count, so a resumed run replays exactly what an uninterrupted one does.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dcgan.data import Loader
from dcgan.device import pick_device
from dcgan.errors import UserError
from dcgan.files import atomic_path, write_json, write_torch
from dcgan.imageops import tile_grid, write_png
from dcgan.model import build, sample_z, to_uint8
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.training_settings import ModelSettings, TrainSettings

METRICS = ("step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "images_per_second", "lr")
GRID = 64  # fixed-noise samples in a grid (8 x 8)


# Settings that change what training computes; the others (cadence, length, resume) may change on resume.
_TRAJECTORY = ("batch_size", "lr", "beta1", "beta2", "d_steps", "g_steps", "flip", "shuffle_buffer", "workers", "seed")


def fingerprint(model: ModelSettings, settings: TrainSettings, shard_dir: Path) -> str:
    """What a checkpoint must match to be resumed: model, trajectory settings and the shards' index."""
    index = shard_dir / "index.json"
    shards = index.read_text() if index.is_file() else ""
    described = {"model": asdict(model), **{k: getattr(settings, k) for k in _TRAJECTORY}, "shards": shards}
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

    def newest(self) -> dict | None:
        """The newest readable checkpoint; unreadable ones are reported and passed over."""
        for path in self.paths():
            try:
                return torch.load(path, map_location="cpu", weights_only=False)
            except Exception as e:  # a truncated or corrupted file: say so, try the previous one
                print(f"train: checkpoint {path} is unreadable ({type(e).__name__}: {e}); trying the previous one",
                      file=sys.stderr)
        return None

    def set_aside(self, reason: str) -> None:
        previous = self.folder.with_name("checkpoints-previous")
        shutil.rmtree(previous, ignore_errors=True)
        self.folder.rename(previous)
        print(f"train: {reason}; old checkpoints moved to {previous}, starting afresh", file=sys.stderr)


def _resume_state(checkpoints: Checkpoints, settings: TrainSettings, run_id: str, end: tuple[int, int]) -> dict | None:
    """The checkpoint to continue from, or None (then any old checkpoints are set aside)."""
    if not checkpoints.paths():
        return None
    state = checkpoints.newest() if settings.resume == "auto" else None
    if settings.resume == "never":
        reason = "resume: never"
    elif state is None:
        reason = "no readable checkpoint"
    elif state["fingerprint"] != run_id:
        reason = "the checkpoints were made with other model, training or shard settings"
    elif state["finished"] and tuple(state["end"]) == end:
        reason = "the checkpoints hold a finished run of these settings"
    else:
        print(f"train: resuming from step {state['step']} (epoch {state['epoch']}, batch {state['position']})", file=sys.stderr)
        return state
    checkpoints.set_aside(reason)
    return None


def _write_metrics(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, METRICS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _read_metrics(path: Path, up_to: int) -> list[dict]:
    """The rows of an earlier run up to the step it resumes from."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) <= up_to]


def _planned_steps(shard_dir: Path, settings: TrainSettings) -> int | None:
    """About how many steps the run takes, for the progress bar (the index gives the sample count)."""
    index = shard_dir / "index.json"
    if not index.is_file():
        return settings.max_steps or None
    samples = sum(s["nsamples"] for s in json.loads(index.read_text())["shardlist"])
    steps = settings.epochs * -(-samples // settings.batch_size)
    return min(steps, settings.max_steps) if settings.max_steps else steps


class GanSteps:
    """One D update and one G update of the paper's minimax game, BCE with logits (non-saturating G loss)."""

    def __init__(self, g: nn.Module, d: nn.Module, settings: TrainSettings):
        self.g, self.d = g, d
        betas = (settings.beta1, settings.beta2)
        self.opt_g = torch.optim.Adam(g.parameters(), lr=settings.lr, betas=betas)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=settings.lr, betas=betas)
        self.bce = nn.BCEWithLogitsLoss()

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (loss, D(x), D(G(z))), the last two as mean probabilities, all without a host sync."""
        real_logits, fake_logits = self.d(real), self.d(fake.detach())
        loss = self.bce(real_logits, torch.ones_like(real_logits)) + self.bce(fake_logits, torch.zeros_like(fake_logits))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.detach(), torch.sigmoid(real_logits.detach()).mean(), torch.sigmoid(fake_logits.detach()).mean()

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        """`fake` = G(z) with its graph: the D step's samples are reused, as in the PyTorch example."""
        logits = self.d(fake)
        loss = self.bce(logits, torch.ones_like(logits))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.detach()


def sample_grid(generator: nn.Module, z: torch.Tensor) -> np.ndarray:
    """G(z) in eval mode as one RGB uint8 picture, 8 to a row."""
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        images = to_uint8(generator(z))
    generator.train(was_training)
    return tile_grid(list(images), 8, images.shape[1] + 2)


def train(shard_dir: str | Path, out_dir: str | Path, model: ModelSettings, settings: TrainSettings, *,
          threads: int = 1) -> dict:
    """Train (or resume) until `epochs` or `max_steps`; returns the provenance record."""
    shard_dir, out_dir = Path(shard_dir), Path(out_dir)
    if settings.resume not in ("auto", "never"):
        raise UserError(f"train.resume must be auto or never, got {settings.resume!r}")
    torch.set_num_threads(threads)
    device = pick_device()
    loader = Loader(shard_dir, settings.batch_size, workers=settings.workers, seed=settings.seed,
                    shuffle_buffer=settings.shuffle_buffer, flip=settings.flip, size=model.image_size, device=device)
    torch.manual_seed(settings.seed)
    g, d = build(model)
    g, d = g.to(device), d.to(device)
    steps = GanSteps(g, d, settings)
    fixed_z = sample_z(GRID, model, torch.Generator(device).manual_seed(settings.seed), device)
    z_rng = torch.Generator(device).manual_seed(settings.seed + 1)

    run_id = fingerprint(model, settings, shard_dir)
    end = (settings.epochs, settings.max_steps)
    checkpoints = Checkpoints(out_dir / "checkpoints", settings.keep_checkpoints)
    state = _resume_state(checkpoints, settings, run_id, end)
    step, epoch, position = 0, 0, 0
    if state is not None:
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
        steps.opt_g.load_state_dict(state["opt_g"])
        steps.opt_d.load_state_dict(state["opt_d"])
        z_rng.set_state(state["z_rng"])
        step, epoch, position = state["step"], state["epoch"], state["position"]
    # the running log lives beside the checkpoints: Snakemake deletes an interrupted job's metrics.csv
    running_log = checkpoints.folder / "metrics.csv"
    metrics = _read_metrics(running_log, step) if state is not None else []

    from torch.utils.tensorboard import SummaryWriter

    board = SummaryWriter(str(out_dir / "tensorboard"), purge_step=step if step else None)

    def snapshot(finished: bool) -> dict:
        return {"g": g.state_dict(), "d": d.state_dict(), "opt_g": steps.opt_g.state_dict(),
                "opt_d": steps.opt_d.state_dict(),
                "z_rng": z_rng.get_state(), "step": step, "epoch": epoch, "position": position,
                "fingerprint": run_id, "finished": finished, "end": list(end),
                "model": asdict(model), "settings": asdict(settings)}

    def done() -> bool:
        return epoch >= settings.epochs or (settings.max_steps > 0 and step >= settings.max_steps)

    sums = torch.zeros(4, device=device)  # loss_d, loss_g, D(x), D(G(z)) since the last log
    counted, window_start, window_images = 0, time.perf_counter(), 0
    started = time.perf_counter()
    bar = progress(total=_planned_steps(shard_dir, settings), desc="train", unit="step")
    bar.update(step)
    while not done():
        loader.set_epoch(epoch)
        for batch_index, batch in enumerate(loader):
            if batch_index < position:
                continue  # replaying the epoch up to the resumed position
            real = batch.images
            for _ in range(settings.d_steps):
                fake = g(sample_z(len(real), model, z_rng, device))
                loss_d, d_real, d_fake = steps.discriminator(real, fake)
            for k in range(settings.g_steps):
                if k > 0:
                    fake = g(sample_z(len(real), model, z_rng, device))
                loss_g = steps.generator(fake)
            sums += torch.stack([loss_d, loss_g, d_real, d_fake])
            counted += 1
            window_images += len(real)
            step, position = step + 1, batch_index + 1
            bar.update()
            if step % settings.log_every == 0:
                means = (sums / counted).tolist()  # the only host sync: every log_every steps
                rate = window_images / (time.perf_counter() - window_start)
                row = dict(zip(METRICS, [step, epoch, *[round(v, 5) for v in means], round(rate, 1), settings.lr]))
                metrics.append(row)
                for name in METRICS[2:]:
                    board.add_scalar(name, row[name], step)
                _write_metrics(running_log, metrics)
                _write_metrics(out_dir / "metrics.csv", metrics)
                bar.set_postfix(loss_d=f"{means[0]:.3f}", loss_g=f"{means[1]:.3f}", img_s=f"{rate:.0f}")
                sums.zero_()
                counted, window_start, window_images = 0, time.perf_counter(), 0
            if step % settings.sample_every == 0:
                write_png(out_dir / "samples" / f"step-{step:09d}.png", sample_grid(g, fixed_z))
            if step % settings.checkpoint_every == 0:
                checkpoints.save(snapshot(finished=False))
            if done():
                break
        else:
            epoch, position = epoch + 1, 0
    bar.close()
    checkpoints.save(snapshot(finished=True))
    write_torch(out_dir / "model.pt", {"g": g.state_dict(), "d": d.state_dict(), "model": asdict(model)})
    final_grid = sample_grid(g, fixed_z)
    write_png(out_dir / "samples.png", final_grid)
    board.add_image("samples", torch.from_numpy(final_grid).permute(2, 0, 1), step)
    board.close()
    _write_metrics(out_dir / "metrics.csv", metrics)
    meta = record("train", {"model": asdict(model), "train": asdict(settings)}, steps=step, epochs_done=epoch,
                  device=str(device), resumed_from=state["step"] if state else None,
                  seconds=round(time.perf_counter() - started, 3))
    write_json(out_dir / "train.json", meta)
    return meta
