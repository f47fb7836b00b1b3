"""Stage 5: DCGAN training from shards, on one process or a torchrun group, resumable bit for bit.

Outputs in `out_dir` (written by rank 0): `model.pt` (final G and D with their settings), `best.pt` (the
weights with the lowest tracked FID, when a reference is given), `samples.png` (the fixed-noise grid at
the end), `metrics.csv` (losses every `log_every` steps, FID/KID/diversity every `fid_every`),
`memorisation.png`, `train.json` (provenance, the speed switches used, the epochs' sample counts and key
digests, each rank's parameter digest, the tracked quality and any collapse warnings); while running
`samples/step-*.png`, `tensorboard/` events and `checkpoints/` (dcgan.train.checkpoints).
Under DDP every rank holds the same weights: gradients are averaged across ranks, and BatchNorm's
running statistics are rank 0's, broadcast at each forward (or, with `sync_batchnorm`, global ones that
every rank computes alike, with no broadcast).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dcgan.device import autotune_convolutions
from dcgan.errors import UserError
from dcgan.fid.scores import TooFewImages
from dcgan.fid.settings import ScoreSettings
from dcgan.files import write_json, write_torch
from dcgan.imageops import titled_grid, write_png
from dcgan.plots import memorisation_figure, message_figure
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.train.checkpoints import Checkpoint, Checkpoints, Quality, fingerprint
from dcgan.train.distributed import Group, join, parameters_digest
from dcgan.train.inputs import training_input
from dcgan.train.model import build, sample_z
from dcgan.train.quality import MEMORISATION_SAMPLES, CollapseWatch, Tracker, TrackingInputs, generate_eval
from dcgan.train.settings import RESUME, ModelSettings, TrainSettings
from dcgan.train.steps import CapturedSteps, GanSteps, resolve_speed
from dcgan.train.tracking import METRICS, EpochTally, add_epoch, read_metrics, write_metrics

GRID = 64  # fixed-noise samples in a grid (8 x 8)


def sample_grid(generator: nn.Module, z: torch.Tensor, when: str) -> np.ndarray:
    """G(z) in eval mode as one labelled RGB uint8 picture, 8 to a row, the tiles upscaled to be seen."""
    images = generate_eval(generator, z)
    return titled_grid(images, 8, f"G(z) of the same {len(images)} z at {when}")


def train(
    shard_dir: str | Path,
    out_dir: str | Path,
    model: ModelSettings,
    settings: TrainSettings,
    *,
    threads: int = 1,
    reference: str | Path | None = None,
    fid_weights: str | Path | None = None,
    scoring: ScoreSettings | None = None,
    decoded: str | Path | None = None,
) -> dict | None:
    """Train (or resume) until `epochs` or `max_steps`, in this process's place in the torchrun group
    (if any); `threads` CPU threads are shared by the group's processes. With `reference` and
    `fid_weights`, rank 0 tracks FID and KID (`scoring`: as evaluation measures them) and keeps best.pt.
    From memory it reads the decoded set in `decoded` (the decode rule's), else decodes one into
    out_dir/decoded. Returns the provenance record on rank 0, None on the others."""
    if settings.resume not in RESUME:
        raise UserError(f"train.resume must be one of {', '.join(RESUME)}, got {settings.resume!r}")
    if (reference is None) != (fid_weights is None):
        raise UserError("tracking FID needs both the reference (--reference) and the Inception weights (--fid-weights)")
    group = join(settings.processes)
    try:
        torch.set_num_threads(max(1, threads // group.world_size))
        tracking = None
        if reference is not None:
            tracking = TrackingInputs(Path(reference), Path(fid_weights), scoring or ScoreSettings())
        run = Run(Path(shard_dir), Path(out_dir), model, settings, group, tracking, decoded)
        run.resume()
        run.train()
        return run.finish()
    finally:
        group.close()


@dataclass
class RunState:
    """Where the run is and what it has measured. Step, epoch, position, epochs, tally and quality go
    into every checkpoint; the rest is this process's own: the stop flag and the timing of the logging
    window and of tracking."""

    step: int = 0
    epoch: int = 0
    position: int = 0  # batches done in the current epoch
    epochs: list = field(default_factory=list)  # per finished epoch: its sample count and key digest
    tally: EpochTally = field(default_factory=EpochTally)
    quality: Quality = field(default_factory=Quality)  # rank 0's tracking: best FID, memorisation, stop
    stopping: bool = False  # a collapse warning under stop_on_collapse, shared by rank 0 with every rank
    tracking_seconds: float = 0.0  # spent tracking quality (left out of the training rate)
    counted: int = 0  # steps, images and the start of the current logging window
    window_images: int = 0
    window_start: float = 0.0


class Run:
    """One training run in this process: set up, resumed, trained step by step, finished."""

    def __init__(
        self,
        shard_dir: Path,
        out_dir: Path,
        model: ModelSettings,
        settings: TrainSettings,
        group: Group,
        tracking: TrackingInputs | None,
        decoded: str | Path | None = None,
    ):
        self.shard_dir, self.out_dir, self.model, self.settings, self.group = shard_dir, out_dir, model, settings, group
        self.tracking, self.device = tracking, group.device  # None: no FID reference, nothing tracked
        self.speed = resolve_speed(settings, self.device, group.world_size)
        distributed = group.world_size > 1
        if settings.sync_batchnorm and distributed and self.device.type != "cuda":
            raise UserError(
                "train.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm has no CPU kernels): "
                "turn it off for CPU processes"
            )
        autotune_convolutions(self.device)
        captured, decoded_dir = self.speed.graphs == "on", Path(decoded) if decoded else None
        self.loader, self.data = training_input(
            shard_dir, out_dir, settings, model.image_size, group, self.speed.layout, captured, decoded_dir
        )
        self.small_data = self._small_data_warning()
        torch.manual_seed(settings.seed)
        self.g, self.d = build(model)
        if settings.sync_batchnorm and distributed:
            self.g, self.d = (
                nn.SyncBatchNorm.convert_sync_batchnorm(self.g),
                nn.SyncBatchNorm.convert_sync_batchnorm(self.d),
            )
        self.steps = GanSteps(self.g, self.d, settings, self.speed, self.device, distributed=distributed)
        self.iterate = CapturedSteps(self.steps).iteration if self.speed.graphs == "on" else self.steps.iteration
        self.fixed_z = sample_z(GRID, model, torch.Generator(self.device).manual_seed(settings.seed), self.device)
        self.z_rng = torch.Generator(self.device).manual_seed(settings.seed + 1 + group.rank)  # each rank its own fakes
        self.run_id = fingerprint(model, settings, self.speed, shard_dir, self.data["mode"])
        self.limits = (settings.epochs, settings.max_steps)
        self.checkpoints = Checkpoints(out_dir / "checkpoints", settings.keep_checkpoints)
        # the running log lives beside the checkpoints: Snakemake deletes an interrupted job's metrics.csv
        self.running_log = self.checkpoints.folder / "metrics.csv"
        self.state = RunState()
        self.loss_sums = torch.zeros(4, device=self.device)  # loss_d, loss_g, D(x), D(G(z)) since the last log
        self.resumed: Checkpoint | None = None  # the checkpoint this run continues from
        self.metrics: list[dict] = []
        self.board = None  # rank 0's TensorBoard writer
        self.tracker: Tracker | None = None  # rank 0's FID/KID/memorisation, with a reference
        self.untracked: str | None = None  # why tracking was skipped
        self.watch: CollapseWatch | None = None
        self.started = 0.0  # when training began (train), for the run's seconds

    def _small_data_warning(self) -> str | None:
        if self.loader.samples >= self.settings.batch_size * self.group.world_size:
            return None
        warning = (
            f"{self.shard_dir}: {self.loader.samples} image(s), fewer than one batch ({self.settings.batch_size} x "
            f"{self.group.world_size} process(es)): every step sees the same images"
        )
        if self.group.main:
            print(f"train: warning: {warning}", file=sys.stderr)
        return warning

    def noise(self, count: int) -> torch.Tensor:
        return sample_z(count, self.model, self.z_rng, self.device)

    def resume(self) -> None:
        """Continue from the newest matching checkpoint (rank 0 picks it, every rank loads it), then open
        the logs and the quality tracker."""
        group, state = self.group, self.state
        found = self.checkpoints.to_resume(self.settings.resume, self.run_id, self.limits) if group.main else None
        resume_path = group.share(found[0] if found else None)
        loaded = torch.load(resume_path, map_location="cpu", weights_only=False) if resume_path and not found else None
        self.resumed = found[1] if found else loaded
        if self.resumed is not None:
            saved: Checkpoint = self.resumed
            self.g.load_state_dict(saved["g"])
            self.d.load_state_dict(saved["d"])
            self.steps.load_optimisers(saved["opt_g"], saved["opt_d"])
            this_rank = saved["ranks"][group.rank]
            self.z_rng.set_state(this_rank["z_rng"])
            state.tally = EpochTally(this_rank["tally"])
            state.step, state.epoch, state.position, state.epochs = (
                saved["step"],
                saved["epoch"],
                saved["position"],
                saved["epochs"],
            )
            self.metrics = read_metrics(self.running_log, state.step)
        if group.main:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=state.step if state.step else None)
        self._open_tracker()
        saved_quality = self.resumed.get("quality") if self.resumed is not None else None
        state.quality = Quality.loaded(saved_quality)
        self.watch = CollapseWatch(self.settings.collapse_patience, (saved_quality or {}).get("watch"))

    def _open_tracker(self) -> None:
        if self.tracking is None or not self.group.main:
            return
        try:
            self.tracker = Tracker(
                self.tracking.reference,
                self.tracking.fid_weights,
                self.model,
                samples=self.settings.fid_samples,
                seed=self.settings.seed,
                scoring=self.tracking.scoring,
                device=self.device,
            )
        except TooFewImages as e:  # e.g. one image left after dedup: train anyway, say what is not measured
            self.untracked = str(e)
            print(
                f"train: warning: FID tracking and memorisation skipped: {self.untracked}; best.pt is the final model",
                file=sys.stderr,
            )

    def warn(self, warnings: list[dict]) -> None:
        for warning in warnings:
            print(
                f"train: warning at step {warning['step']}: {warning['what']} ({warning['in_a_row']} in a row)",
                file=sys.stderr,
            )
        if warnings and self.settings.stop_on_collapse and self.state.quality.stopped is None:
            self.state.quality.stopped = warnings[0]

    def progress_label(self) -> str:
        """Where the run is, for picture titles: the step and its epoch (the count once an epoch ends)."""
        state = self.state
        return f"step {state.step}, " + (
            f"after epoch {state.epoch}" if state.position == 0 and state.epoch else f"epoch {state.epoch + 1}"
        )

    def done(self) -> bool:
        state, settings = self.state, self.settings
        return (
            state.stopping
            or state.epoch >= settings.epochs
            or (settings.max_steps > 0 and state.step >= settings.max_steps)
        )

    def train(self) -> None:
        """Step through the epochs until the end (or a stop), replaying a resumed epoch up to its position."""
        state, settings = self.state, self.settings
        self.started = state.window_start = time.perf_counter()
        planned = settings.epochs * len(self.loader)
        total = min(planned, settings.max_steps) if settings.max_steps else planned
        bar = progress(total=total, desc="train", unit="step", initial=state.step, disable=not self.group.main)
        while not self.done():
            self.loader.set_epoch(state.epoch)
            for batch_index, batch in enumerate(self.loader):
                if batch_index < state.position:
                    continue  # replaying the epoch up to the resumed position
                self.step(batch)
                bar.update()
                self.after_step(bar)
                if self.done() or state.position == 0:
                    break
        bar.close()

    def step(self, batch) -> None:
        """One iteration: D's update, then G's (dcgan.train.steps), and the epoch's tally."""
        state = self.state
        self.loss_sums += self.iterate(batch.images, self.noise)
        state.tally.add(len(batch.images), batch.digest)
        state.counted += 1
        state.window_images += len(batch.images)
        state.step, state.position = state.step + 1, state.position + 1

    def after_step(self, bar) -> None:
        """What falls due at this step: the log, a sample grid, quality tracking, the stop decision, the
        epoch's end, a checkpoint."""
        state, settings, group = self.state, self.settings, self.group
        if state.step % settings.log_every == 0:
            self.log(bar)
        if state.step % settings.sample_every == 0 and group.main:
            grid = sample_grid(self.g, self.fixed_z, self.progress_label())
            write_png(self.out_dir / "samples" / f"step-{state.step:09d}.png", grid)
        tracked = settings.fid_every > 0 and state.step % settings.fid_every == 0
        if tracked and self.tracker is not None:
            self.measure()
        if settings.stop_on_collapse and (tracked or state.step % settings.log_every == 0):
            state.stopping = group.share(state.quality.stopped is not None)
        if state.position == len(self.loader):  # the epoch is over on every rank at once
            self.end_epoch()
        if state.step % settings.checkpoint_every == 0:
            self.save(finished=False)

    def log(self, bar) -> None:
        """The window's mean losses and D outputs, and the rate, into metrics.csv and TensorBoard (the
        loop's only host sync)."""
        state, group = self.state, self.group
        means = group.mean(self.loss_sums / state.counted).tolist()
        rate = group.world_size * state.window_images / (time.perf_counter() - state.window_start)
        if group.main:
            logged = [state.step, state.epoch, *[round(v, 5) for v in means], round(rate, 1), self.settings.lr]
            row = dict(zip(METRICS, logged, strict=False))  # fid, kid, diversity: added when tracked
            self.metrics.append(row)
            for name in METRICS[2:8]:
                self.board.add_scalar(name, row[name], state.step)
            self.warn(self.watch.losses(state.step, *means))
            self._write_metrics()
            bar.set_postfix(loss_d=f"{means[0]:.3f}", loss_g=f"{means[1]:.3f}", img_s=f"{rate:.0f}")
        self.loss_sums.zero_()
        state.counted, state.window_start, state.window_images = 0, time.perf_counter(), 0

    def measure(self) -> None:
        """FID, KID and diversity of the fixed samples into metrics and TensorBoard; best.pt if best."""
        state, quality = self.state, self.state.quality
        began = time.perf_counter()
        result = self.tracker.quality(self.g)
        if not self.metrics or int(self.metrics[-1]["step"]) != state.step:
            self.metrics.append({"step": state.step, "epoch": state.epoch})
        self.metrics[-1].update(result)
        for name, value in result.items():
            self.board.add_scalar(name, value, state.step)
        if quality.best is None or result["fid"] < quality.best["fid"]:
            quality.best = {"step": state.step, "fid": result["fid"]}
            write_torch(
                self.checkpoints.folder / "best.pt",
                {"g": self.g.state_dict(), "d": self.d.state_dict(), "model": asdict(self.model), **quality.best},
            )
        self.warn(self.watch.diversity(state.step, result["diversity"]))
        self._write_metrics()
        self._tracked_since(began)

    def _tracked_since(self, began: float) -> None:
        """The seconds since `began`, spent tracking quality: counted, and left out of the training rate."""
        elapsed = time.perf_counter() - began
        self.state.tracking_seconds += elapsed
        self.state.window_start += elapsed

    def _write_metrics(self) -> None:
        """metrics.csv, the running copy beside the checkpoints and the one in the training folder."""
        write_metrics(self.running_log, self.metrics)
        write_metrics(self.out_dir / "metrics.csv", self.metrics)

    def end_epoch(self) -> None:
        """The memorisation score (on tiny epochs not more often than every log_every steps) and the
        epoch's proof that every sample was seen once."""
        state = self.state
        last = state.quality.memorisation[-1]["step"] if state.quality.memorisation else None
        if self.tracker is not None and (last is None or state.step - last >= self.settings.log_every):
            began = time.perf_counter()
            distance = self.tracker.memorisation(self.g)
            state.quality.memorisation.append({"epoch": state.epoch, "step": state.step, "distance": distance})
            self._tracked_since(began)
        add_epoch(state.epochs, state.epoch, self.group.gather(state.tally.state()), self.loader.samples)
        state.epoch, state.position, state.tally = state.epoch + 1, 0, EpochTally()

    def save(self, finished: bool) -> None:
        """A checkpoint (every rank takes part: rank 0 gathers their generator states and tallies)."""
        state = self.state
        ranks = self.group.gather({"z_rng": self.z_rng.get_state(), "tally": state.tally.state()})
        if self.group.main:
            checkpoint: Checkpoint = {
                "g": self.g.state_dict(),
                "d": self.d.state_dict(),
                "opt_g": self.steps.opt_g.state_dict(),
                "opt_d": self.steps.opt_d.state_dict(),
                "ranks": ranks,
                "step": state.step,
                "epoch": state.epoch,
                "position": state.position,
                "epochs": state.epochs,
                "fingerprint": self.run_id,
                "finished": finished,
                "end": list(self.limits),
                "model": asdict(self.model),
                "settings": asdict(self.settings),
                "quality": state.quality.saved(self.watch.state()),
            }
            self.checkpoints.save(checkpoint)

    def finish(self) -> dict | None:
        """The end measured, the last checkpoint, the same weights on every rank checked; on rank 0
        model.pt, samples.png, best.pt, memorisation.png and train.json. Returns train.json's record on
        rank 0, None on the others."""
        state, metrics = self.state, self.metrics
        unmeasured = not metrics or int(metrics[-1]["step"]) != state.step or not metrics[-1].get("fid")
        if self.tracker is not None and unmeasured:
            self.measure()  # the end is always measured
        self.save(finished=True)
        digests = self.group.gather(parameters_digest(self.g, self.d))
        if not self.group.main:
            return None
        if len(set(digests)) > 1:
            raise RuntimeError(f"the ranks ended with different weights: {digests}")
        final = {"g": self.g.state_dict(), "d": self.d.state_dict(), "model": asdict(self.model)}
        write_torch(self.out_dir / "model.pt", final)
        final_grid = sample_grid(self.g, self.fixed_z, self.progress_label())
        write_png(self.out_dir / "samples.png", final_grid)
        self.board.add_image("samples", torch.from_numpy(final_grid).permute(2, 0, 1), state.step)
        self.board.close()
        write_metrics(self.out_dir / "metrics.csv", metrics)
        meta = self._record(digests, self._finish_tracking(final))
        write_json(self.out_dir / "train.json", meta)
        return meta

    def _finish_tracking(self, final: dict) -> dict | None:
        """best.pt and memorisation.png, and train.json's `tracking` (None without a reference)."""
        state, quality = self.state, self.state.quality
        if self.tracker is not None:
            write_torch(self.out_dir / "best.pt", torch.load(self.checkpoints.folder / "best.pt", weights_only=False))
            distances = self.tracker.training_distances
            memorisation_figure(self.out_dir / "memorisation.png", quality.memorisation, distances)
            seconds = time.perf_counter() - self.started
            return {
                "reference": str(self.tracking.reference),
                "fid_every": self.settings.fid_every,
                "fid_samples": self.settings.fid_samples,
                "best": quality.best,
                "memorisation": {
                    "training_distances": distances,
                    "samples": MEMORISATION_SAMPLES,
                    "per_epoch": quality.memorisation,
                },
                "seconds": round(state.tracking_seconds, 1),
                "fraction_of_run": round(state.tracking_seconds / seconds, 3),
            }
        if self.untracked:
            write_torch(self.out_dir / "best.pt", {**final, "step": state.step, "fid": None})
            message_figure(self.out_dir / "memorisation.png", f"Memorisation not measured: {self.untracked}")
            return {"reference": str(self.tracking.reference), "skipped": self.untracked}
        return None

    def _record(self, digests: list, tracking: dict | None) -> dict:
        """train.json's provenance record."""
        state, settings, group = self.state, self.settings, self.group
        return record(
            "train",
            {"model": asdict(self.model), "train": asdict(settings)},
            steps=state.step,
            epochs_done=state.epoch,
            device=str(self.device),
            processes=group.world_size,
            backend=group.backend or None,
            global_batch=settings.batch_size * group.world_size,
            speed=asdict(self.speed),
            data=self.data,
            epochs=state.epochs,
            parameters_sha256=digests,
            resumed_from=self.resumed["step"] if self.resumed else None,
            tracking=tracking,
            warnings=self.watch.warnings,
            stopped_by=state.quality.stopped,
            small_data=self.small_data,
            seconds=round(time.perf_counter() - self.started, 3),
        )
