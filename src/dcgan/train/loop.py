"""Stage 5: DCGAN training from shards, on one process or a torchrun group, resumable bit for bit.

Outputs in `out_dir` (written by rank 0): `model.pt` (final G and D with their settings), `best.pt` (the
weights with the lowest tracked FID, when a reference is given), `samples.png` (the fixed-noise grid at
the end), `metrics.csv` (losses every `log_every` steps, FID/KID/diversity every `fid_every`),
`memorisation.png`, `train.json` (provenance, the speed switches used, the epochs' sample counts and key
digests, each rank's parameter digest, the tracked quality and any collapse warnings); while running
`samples/step-*.png`, `tensorboard/` events and `checkpoints/` (dcgan.train.checkpoints).
Under DDP every rank holds the same weights: gradients are averaged across ranks, and BatchNorm's
running statistics are rank 0's, broadcast at each forward (or global ones with `sync_batchnorm`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dcgan.errors import UserError
from dcgan.fid.scores import TooFewImages
from dcgan.files import write_json, write_torch
from dcgan.imageops import titled_grid, write_png
from dcgan.plots import memorisation_figure, message_figure
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.train.checkpoints import Checkpoints, fingerprint
from dcgan.train.distributed import Group, join, parameters_digest
from dcgan.train.model import build, sample_z
from dcgan.train.quality import MEMORISATION_SAMPLES, CollapseWatch, Tracker, generate_eval
from dcgan.train.resident import training_input
from dcgan.train.settings import ModelSettings, TrainSettings
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
) -> dict | None:
    """Train (or resume) until `epochs` or `max_steps`, in this process's place in the torchrun group
    (if any); `threads` CPU threads are shared by the group's processes. With `reference` and
    `fid_weights`, rank 0 tracks FID and keeps best.pt. Returns the provenance record on rank 0, None on
    the others."""
    if settings.resume not in ("auto", "never"):
        raise UserError(f"train.resume must be auto or never, got {settings.resume!r}")
    if (reference is None) != (fid_weights is None):
        raise UserError("tracking FID needs both the reference (--reference) and the Inception weights (--fid-weights)")
    group = join(settings.processes)
    try:
        return _train(
            Path(shard_dir),
            Path(out_dir),
            model,
            settings,
            group,
            max(1, threads // group.world_size),
            reference,
            fid_weights,
        )
    finally:
        group.close()


def _train(
    shard_dir: Path,
    out_dir: Path,
    model: ModelSettings,
    settings: TrainSettings,
    group: Group,
    threads: int,
    reference: str | Path | None,
    fid_weights: str | Path | None,
) -> dict | None:
    torch.set_num_threads(threads)
    device = group.device
    speed = resolve_speed(settings, device, group.world_size)
    distributed = group.world_size > 1
    if settings.sync_batchnorm and distributed and device.type != "cuda":
        raise UserError(
            "train.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm has no CPU kernels): "
            "turn it off for CPU processes"
        )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    loader, data = training_input(shard_dir, out_dir, settings, model.image_size, group, speed.layout)
    small_data = None
    if loader.samples < settings.batch_size * group.world_size:
        small_data = (
            f"{shard_dir}: {loader.samples} image(s), fewer than one batch ({settings.batch_size} x "
            f"{group.world_size} process(es)): every step sees the same images"
        )
        if group.main:
            print(f"train: warning: {small_data}", file=sys.stderr)
    torch.manual_seed(settings.seed)
    g, d = build(model)
    if settings.sync_batchnorm and distributed:
        g, d = nn.SyncBatchNorm.convert_sync_batchnorm(g), nn.SyncBatchNorm.convert_sync_batchnorm(d)
    steps = GanSteps(g, d, settings, speed, device, distributed=distributed)
    iterate = CapturedSteps(steps).iteration if speed.graphs == "on" else steps.iteration
    fixed_z = sample_z(GRID, model, torch.Generator(device).manual_seed(settings.seed), device)
    z_rng = torch.Generator(device).manual_seed(settings.seed + 1 + group.rank)  # each rank its own fakes

    def noise(count: int) -> torch.Tensor:
        return sample_z(count, model, z_rng, device)

    run_id = fingerprint(model, settings, speed, shard_dir, data["mode"])
    end = (settings.epochs, settings.max_steps)
    checkpoints = Checkpoints(out_dir / "checkpoints", settings.keep_checkpoints)
    found = checkpoints.to_resume(settings.resume, run_id, end) if group.main else None
    resume_path = group.share(found[0] if found else None)
    state = (
        found[1] if found else torch.load(resume_path, map_location="cpu", weights_only=False) if resume_path else None
    )
    step, epoch, position, epochs, tally = 0, 0, 0, [], EpochTally()
    if state is not None:
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
        steps.opt_g.load_state_dict(state["opt_g"])
        steps.opt_d.load_state_dict(state["opt_d"])
        mine = state["ranks"][group.rank]
        z_rng.set_state(mine["z_rng"])
        tally = EpochTally(mine["tally"])
        step, epoch, position, epochs = state["step"], state["epoch"], state["position"], state["epochs"]
    # the running log lives beside the checkpoints: Snakemake deletes an interrupted job's metrics.csv
    running_log = checkpoints.folder / "metrics.csv"
    metrics = read_metrics(running_log, step) if state is not None else []
    board = None
    if group.main:
        from torch.utils.tensorboard import SummaryWriter

        board = SummaryWriter(str(out_dir / "tensorboard"), purge_step=step if step else None)
    tracker, untracked = None, None
    if reference is not None and group.main:
        try:
            tracker = Tracker(
                reference, fid_weights, model, samples=settings.fid_samples, seed=settings.seed, device=device
            )
        except TooFewImages as e:  # e.g. one image left after dedup: train anyway, say what is not measured
            untracked = str(e)
            print(
                f"train: warning: FID tracking and memorisation skipped: {untracked}; best.pt is the final model",
                file=sys.stderr,
            )
    # what rank 0 tracks, saved in every checkpoint: the best FID so far, the collapse watch, memorisation
    quality = {
        "best": None,
        "watch": None,
        "memorisation": [],
        "stopped": None,
        **((state.get("quality") or {}) if state is not None else {}),
    }
    tracking_time = [0.0]  # seconds this process spent tracking (not in checkpoints: they stay deterministic)
    watch = CollapseWatch(settings.collapse_patience, quality["watch"])

    def warn(warnings: list[dict]) -> None:
        for warning in warnings:
            print(
                f"train: warning at step {warning['step']}: {warning['what']} ({warning['in_a_row']} in a row)",
                file=sys.stderr,
            )
        if warnings and settings.stop_on_collapse and quality["stopped"] is None:
            quality["stopped"] = warnings[0]

    def measure() -> float:
        """FID, KID and diversity of the fixed samples into metrics and TensorBoard; best.pt if best.
        Returns the seconds it took (left out of the training rate)."""
        began = time.perf_counter()
        result = tracker.quality(g)
        if not metrics or int(metrics[-1]["step"]) != step:
            metrics.append({"step": step, "epoch": epoch})
        metrics[-1].update(result)
        for name, value in result.items():
            board.add_scalar(name, value, step)
        if quality["best"] is None or result["fid"] < quality["best"]["fid"]:
            quality["best"] = {"step": step, "fid": result["fid"]}
            write_torch(
                checkpoints.folder / "best.pt",
                {"g": g.state_dict(), "d": d.state_dict(), "model": asdict(model), **quality["best"]},
            )
        warn(watch.diversity(step, result["diversity"]))
        write_metrics(running_log, metrics)
        write_metrics(out_dir / "metrics.csv", metrics)
        elapsed = time.perf_counter() - began
        tracking_time[0] += elapsed
        return elapsed

    def when() -> str:
        """Where the run is, for picture titles: the step and its epoch (the count once an epoch ends)."""
        return f"step {step}, " + (f"after epoch {epoch}" if position == 0 and epoch else f"epoch {epoch + 1}")

    def remember_epoch() -> float:
        """The memorisation score at an epoch's end; returns the seconds it took."""
        began = time.perf_counter()
        quality["memorisation"].append({"epoch": epoch, "step": step, "distance": tracker.memorisation(g)})
        elapsed = time.perf_counter() - began
        tracking_time[0] += elapsed
        return elapsed

    def save(finished: bool) -> None:
        """A checkpoint (every rank takes part: rank 0 gathers their generator states and tallies)."""
        ranks = group.gather({"z_rng": z_rng.get_state(), "tally": tally.state()})
        if group.main:
            checkpoints.save(
                {
                    "g": g.state_dict(),
                    "d": d.state_dict(),
                    "opt_g": steps.opt_g.state_dict(),
                    "opt_d": steps.opt_d.state_dict(),
                    "ranks": ranks,
                    "step": step,
                    "epoch": epoch,
                    "position": position,
                    "epochs": epochs,
                    "fingerprint": run_id,
                    "finished": finished,
                    "end": list(end),
                    "model": asdict(model),
                    "settings": asdict(settings),
                    "quality": {**quality, "watch": watch.state()},
                }
            )

    stopping = False  # a collapse warning under stop_on_collapse, shared by rank 0 with every rank

    def done() -> bool:
        return stopping or epoch >= settings.epochs or (settings.max_steps > 0 and step >= settings.max_steps)

    sums = torch.zeros(4, device=device)  # loss_d, loss_g, D(x), D(G(z)) since the last log
    counted, window_start, window_images = 0, time.perf_counter(), 0
    started = time.perf_counter()
    planned = settings.epochs * len(loader)
    bar = progress(
        total=min(planned, settings.max_steps) if settings.max_steps else planned,
        desc="train",
        unit="step",
        initial=step,
        disable=not group.main,
    )
    while not done():
        loader.set_epoch(epoch)
        for batch_index, batch in enumerate(loader):
            if batch_index < position:
                continue  # replaying the epoch up to the resumed position
            sums += iterate(batch.images, noise)
            tally.add(len(batch.images), batch.digest)
            counted += 1
            window_images += len(batch.images)
            step, position = step + 1, position + 1
            bar.update()
            if step % settings.log_every == 0:
                means = group.mean(sums / counted).tolist()  # the only host sync: every log_every steps
                rate = group.world_size * window_images / (time.perf_counter() - window_start)
                if group.main:
                    logged = [step, epoch, *[round(v, 5) for v in means], round(rate, 1), settings.lr]
                    row = dict(zip(METRICS, logged, strict=False))  # fid, kid, diversity: added when tracked
                    metrics.append(row)
                    for name in METRICS[2:8]:
                        board.add_scalar(name, row[name], step)
                    warn(watch.losses(step, *means))
                    write_metrics(running_log, metrics)
                    write_metrics(out_dir / "metrics.csv", metrics)
                    bar.set_postfix(loss_d=f"{means[0]:.3f}", loss_g=f"{means[1]:.3f}", img_s=f"{rate:.0f}")
                sums.zero_()
                counted, window_start, window_images = 0, time.perf_counter(), 0
            if step % settings.sample_every == 0 and group.main:
                write_png(out_dir / "samples" / f"step-{step:09d}.png", sample_grid(g, fixed_z, when()))
            tracked = settings.fid_every > 0 and step % settings.fid_every == 0
            if tracked and tracker is not None:
                window_start += measure()
            if settings.stop_on_collapse and (tracked or step % settings.log_every == 0):
                stopping = group.share(quality["stopped"] is not None)
            if position == len(loader):  # the epoch is over on every rank at once
                last = quality["memorisation"][-1]["step"] if quality["memorisation"] else None
                if tracker is not None and (
                    last is None or step - last >= settings.log_every
                ):  # tiny epochs: less often
                    window_start += remember_epoch()
                add_epoch(epochs, epoch, group.gather(tally.state()), loader.samples)
                epoch, position, tally = epoch + 1, 0, EpochTally()
            if step % settings.checkpoint_every == 0:
                save(finished=False)
            if done() or position == 0:
                break
    bar.close()
    if tracker is not None and (not metrics or int(metrics[-1]["step"]) != step or not metrics[-1].get("fid")):
        measure()  # the end is always measured
    save(finished=True)
    digests = group.gather(parameters_digest(g, d))
    if not group.main:
        return None
    if len(set(digests)) > 1:
        raise RuntimeError(f"the ranks ended with different weights: {digests}")
    final = {"g": g.state_dict(), "d": d.state_dict(), "model": asdict(model)}
    write_torch(out_dir / "model.pt", final)
    final_grid = sample_grid(g, fixed_z, when())
    write_png(out_dir / "samples.png", final_grid)
    board.add_image("samples", torch.from_numpy(final_grid).permute(2, 0, 1), step)
    board.close()
    write_metrics(out_dir / "metrics.csv", metrics)
    tracking = None
    if tracker is not None:
        write_torch(out_dir / "best.pt", torch.load(checkpoints.folder / "best.pt", weights_only=False))
        memorisation_figure(out_dir / "memorisation.png", quality["memorisation"], tracker.training_distances)
        seconds = time.perf_counter() - started
        tracking = {
            "reference": str(reference),
            "fid_every": settings.fid_every,
            "fid_samples": settings.fid_samples,
            "best": quality["best"],
            "memorisation": {
                "training_distances": tracker.training_distances,
                "samples": MEMORISATION_SAMPLES,
                "per_epoch": quality["memorisation"],
            },
            "seconds": round(tracking_time[0], 1),
            "fraction_of_run": round(tracking_time[0] / seconds, 3),
        }
    elif untracked:
        write_torch(out_dir / "best.pt", {**final, "step": step, "fid": None})
        message_figure(out_dir / "memorisation.png", f"Memorisation not measured: {untracked}")
        tracking = {"reference": str(reference), "skipped": untracked}
    meta = record(
        "train",
        {"model": asdict(model), "train": asdict(settings)},
        steps=step,
        epochs_done=epoch,
        device=str(device),
        processes=group.world_size,
        backend=group.backend or None,
        global_batch=settings.batch_size * group.world_size,
        speed=asdict(speed),
        data=data,
        epochs=epochs,
        parameters_sha256=digests,
        resumed_from=state["step"] if state else None,
        tracking=tracking,
        warnings=watch.warnings,
        stopped_by=quality["stopped"],
        small_data=small_data,
        seconds=round(time.perf_counter() - started, 3),
    )
    write_json(out_dir / "train.json", meta)
    return meta
