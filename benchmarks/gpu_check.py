"""Every GPU claim of the project in one run, for the rare short loan of a GPU machine (one call, < 8 min).

Parts, each timed with its peak memory (CUDA: the allocator's peak; CPU: resident growth, sampled):
- step: benchmarks/train_step.py's table: the PyTorch example's loop vs ours eager (auto) vs captured
  (auto + CUDA graph), common and paper models, batch 128 and 512 (bf16 is auto on a GPU);
- train: `dcgan train` (the library call) on generated 64x64 shards of ~100k images with data: shards,
  data: memory, and data: memory with graphs: on; images/s and the fraction of the step's own rate;
- resume: in one process, a run stopped half way and resumed against an uninterrupted one (data: memory,
  eager and captured): bit-identical weights or the largest difference;
- ddp: `torchrun` over every GPU (NCCL, SyncBatchNorm) when there are several (gloo on a CPU in --smoke);
- fid: TF-Inception features and FID of 10k generated + 10k real images, and the extrapolation to 50k + 50k;
- dedup: the hash autoencoder's training budget and 1-view and 19-view hashing on the device.

    python benchmarks/gpu_check.py --out DIR [--fid-weights resources/fid/tf_inception_fid.pt] [--smoke]
                                   [--parts step train resume ddp fid dedup]
    python benchmarks/gpu_check.py --half-fid-weights fid-half.pt  # a copy of the weights to carry

Writes DIR/gpu_check.md (the report, also printed) and DIR/gpu_check.json. A part that fails is reported
with its error and the others still run; the exit status is 1 if any failed. --smoke runs every part at
a tiny size, on a CPU in a minute or two (a test runs it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dcgan.dedup.settings import AutoencoderSettings
from dcgan.dedup.stages import hash_stage, train_stage
from dcgan.device import pick_device
from dcgan.evaluation.reference import read_reference_images
from dcgan.fid.inception import InceptionFeatures
from dcgan.fid.scores import frechet_distance, gaussian
from dcgan.table import PartWriter, part_prefix
from dcgan.train.loop import train
from dcgan.train.model import build, sample_z
from dcgan.train.quality import generate_eval
from dcgan.train.settings import ModelSettings, TrainSettings
from loader import build_shards
from train_step import MODELS, PeakMemory, measure


@dataclass(frozen=True)
class Sizes:
    models: tuple[str, ...] = ("common", "paper")
    batches: tuple[int, ...] = (128, 512)
    step_steps: int = 40
    step_warmup: int = 5
    entries: int = 6000  # demo LMDB values; x copies = the training set (~100k)
    copies: int = 17
    model: ModelSettings = ModelSettings(ngf=64, ndf=64, kernel=4)  # the common 64x64 DCGAN
    train_batch: int = 128
    train_steps: int = 400
    log_every: int = 50
    workers: int = 8
    resume_steps: int = 200
    fid_images: int = 10_000
    dedup_images: int = 200_000
    dedup: AutoencoderSettings = AutoencoderSettings()


SMOKE = Sizes(
    models=("common",),
    batches=(8,),
    step_steps=2,
    step_warmup=1,
    entries=120,
    copies=2,
    model=ModelSettings(ngf=8, ndf=8),
    train_batch=8,
    train_steps=6,
    log_every=2,
    workers=1,
    resume_steps=4,
    fid_images=8,
    dedup_images=300,
    dedup=AutoencoderSettings(sample=200, steps=20, min_steps=10, batch_size=32),
)


def peak_mb(memory: PeakMemory) -> float:
    return round(memory.peak / 2**20, 1)


def step_part(sizes: Sizes, device: torch.device) -> dict:
    """Images/s of the reference loop, ours eager and ours captured, per model and batch."""
    args = argparse.Namespace(steps=sizes.step_steps, warmup=sizes.step_warmup)
    rows = []
    for name in sizes.models:
        for batch in sizes.batches:
            real = torch.rand(batch, 3, 64, 64, device=device) * 2 - 1
            found = {
                loop: measure(loop, real, MODELS[name], args, device) for loop in ("reference", "auto", "captured")
            }
            rows.append(
                {
                    "model": name,
                    "batch": batch,
                    **{loop: round(r["rate"], 1) for loop, r in found.items()},
                    **{f"{loop}_peak_mb": round(r["memory"] / 2**20, 1) for loop, r in found.items()},
                }
            )
    return {"rows": rows}


def train_settings(sizes: Sizes, steps: int, **changes) -> TrainSettings:
    quiet = {"sample_every": 10**9, "checkpoint_every": 10**9}  # no grids, no checkpoints unless asked
    return TrainSettings(
        **{
            "batch_size": sizes.train_batch,
            "max_steps": steps,
            "epochs": 1000,
            "log_every": sizes.log_every,
            "workers": sizes.workers,
            "shuffle_buffer": 5000,
            **quiet,
            **changes,
        }
    )


def logged_rate(out: Path) -> float:
    """The mean images/s that a run logged in metrics.csv, the first log (warm-up) left out."""
    with open(out / "metrics.csv", newline="") as f:
        rates = [float(row["images_per_second"]) for row in csv.DictReader(f) if row["images_per_second"]]
    return round(float(np.mean(rates[1:] or rates)), 1)


def timed_train(shards: Path, out: Path, model: ModelSettings, settings: TrainSettings, device: torch.device) -> dict:
    """One `dcgan train` run: its logged images/s, seconds, peak memory, the data path and switches."""
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        record = train(shards, out, model, settings)
        seconds = time.perf_counter() - started
    return {
        "images_per_second": logged_rate(out),
        "seconds": round(seconds, 1),
        "peak_mb": peak_mb(memory),
        "placement": record["data"].get("placement"),
        "graphs": record["speed"]["graphs"],
        "precision": record["speed"]["precision"],
    }


def train_part(sizes: Sizes, device: torch.device, work: Path, shards: Path, step_rate: float | None) -> dict:
    graphs = "on" if device.type == "cuda" else "off"
    runs = {
        "shards": {"data": "shards"},
        "memory": {"data": "memory"},
        "memory_graphs": {"data": "memory", "graphs": graphs},
    }
    found = {}
    for name, changes in runs.items():
        settings = train_settings(sizes, sizes.train_steps, **changes)
        found[name] = timed_train(shards, work / f"train-{name}", sizes.model, settings, device)
        if step_rate:
            found[name]["fraction_of_step_rate"] = round(found[name]["images_per_second"] / step_rate, 3)
    return {"runs": found, "step_rate": step_rate, "steps": sizes.train_steps}


def weights_of(out: Path) -> dict[str, torch.Tensor]:
    saved = torch.load(out / "model.pt", map_location="cpu")
    return {f"{net}.{k}": v for net in ("g", "d") for k, v in saved[net].items()}


def resume_part(sizes: Sizes, device: torch.device, work: Path, shards: Path) -> dict:
    """Stopped at half and resumed, against uninterrupted, in this process: eager and captured."""
    found = {}
    for graphs in ("off", "on") if device.type == "cuda" else ("off",):
        full = train_settings(
            sizes, sizes.resume_steps, data="memory", graphs=graphs, checkpoint_every=sizes.resume_steps // 2
        )
        train(shards, work / f"straight-{graphs}", sizes.model, full)
        train(shards, work / f"resumed-{graphs}", sizes.model, replace(full, max_steps=sizes.resume_steps // 2))
        train(shards, work / f"resumed-{graphs}", sizes.model, full)
        a, b = weights_of(work / f"straight-{graphs}"), weights_of(work / f"resumed-{graphs}")
        worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
        found[f"graphs_{graphs}"] = {"identical": all(torch.equal(a[k], b[k]) for k in a), "max_difference": worst}
    return {"steps": sizes.resume_steps, "runs": found}


def ddp_part(sizes: Sizes, device: torch.device, work: Path, shards: Path) -> dict:
    """torchrun over every GPU (NCCL, SyncBatchNorm); two gloo processes on a CPU."""
    processes = torch.cuda.device_count() if device.type == "cuda" else 2
    if processes < 2:
        return {"skipped": f"{processes} GPU: DDP needs two or more"}
    settings = train_settings(
        sizes, sizes.train_steps, data="memory", processes=processes, sync_batchnorm=device.type == "cuda"
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(processes),
        "-m",
        "dcgan",
        "train",
        str(shards),
        "--out",
        str(work / "ddp"),
        "--threads",
        str(processes),
    ]
    for key, value in {**asdict(sizes.model), **asdict(settings)}.items():
        flag = key.replace("_", "-")
        command += [f"--{flag}" if value else f"--no-{flag}"] if isinstance(value, bool) else [f"--{flag}", str(value)]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"torchrun failed: {run.stderr[-1500:]}")
    record = json.loads((work / "ddp" / "train.json").read_text())
    return {
        "processes": processes,
        "backend": record["backend"],
        "sync_batchnorm": settings.sync_batchnorm,
        "images_per_second": logged_rate(work / "ddp"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "same_weights_on_every_rank": len(set(record["parameters_sha256"])) == 1,
    }


def full_precision(weights: Path, work: Path) -> Path:
    """The FID weights as fp32: a half-precision copy (what fits in a device call) is converted back."""
    net = torch.jit.load(str(weights), map_location="cpu")
    if next(net.parameters()).dtype != torch.float16:
        return weights
    torch.jit.save(net.float(), str(work / "tf_inception_fid.pt"))
    return work / "tf_inception_fid.pt"


def fid_part(sizes: Sizes, device: torch.device, work: Path, shards: Path, weights: Path | None) -> dict:
    """Features of N generated and N real images, their FID, and the time that makes for 50k + 50k."""
    if weights is None or not weights.is_file():
        return {"skipped": f"no FID weights at {weights} (--fid-weights)"}
    g, _ = build(sizes.model)
    g.to(device)
    z = sample_z(sizes.fid_images, sizes.model, torch.Generator(device).manual_seed(0), device)
    real, _ = read_reference_images(shards, sizes.fid_images, 64)
    with PeakMemory(device) as memory:
        extractor = InceptionFeatures(full_precision(weights, work), device)
        started = time.perf_counter()
        fake_features = extractor(generate_eval(g, z), batch_size=250)
        real_features = extractor(real, batch_size=250)
        if device.type == "cuda":
            torch.cuda.synchronize()
        features_seconds = time.perf_counter() - started
        began = time.perf_counter()
        fid = frechet_distance(*gaussian(real_features), *gaussian(fake_features))
        fid_seconds = time.perf_counter() - began
    scale = 50_000 / sizes.fid_images
    return {
        "images": [len(fake_features), len(real_features)],
        "fid": round(fid, 2),
        "features_seconds": round(features_seconds, 2),
        "frechet_seconds": round(fid_seconds, 2),
        "images_per_second": round(2 * sizes.fid_images / features_seconds, 1),
        "extrapolated_50k_50k_seconds": round(scale * features_seconds + fid_seconds, 1),
        "peak_mb": peak_mb(memory),
    }


def dedup_part(sizes: Sizes, device: torch.device, work: Path) -> dict:
    """The autoencoder's training budget and hashing with 1 and 19 views, through the stage functions."""
    table = work / "dedup-table"
    block = np.random.default_rng(0).integers(0, 256, (1000, 64, 64, 3), dtype=np.uint8)
    with PartWriter(part_prefix(table, 0), 64, ("key",)) as writer:
        for i in range(sizes.dedup_images):
            writer.add(block[i % 1000], (f"k{i}",))
        writer.finish("gpu_check", {})
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        meta = train_stage(table, 1, work / "ae.pt", sizes.dedup)
        found = {
            "train_seconds": round(time.perf_counter() - started, 1),
            "train_steps": meta["steps"],
            "train_device": meta["device"],
        }
        for views in (0, 2):
            done = hash_stage(table, 0, work / f"hashes-{views}.npy", "autoencoder", work / "ae.pt", views=views)
            found[f"hash_{done['views']}_views_images_per_second"] = done["images_per_second"]
    return {"images": sizes.dedup_images, **found, "peak_mb": peak_mb(memory)}


def markdown(report: dict) -> str:
    """The report as markdown: the machine, then one table a part."""
    lines = [
        f"# gpu_check ({report['mode']})",
        "",
        f"- device: {report['device']}",
        f"- torch {report['torch']}",
        f"- {report['seconds']:.0f} s in all",
        "",
    ]
    for part, result in report["parts"].items():
        lines += [f"## {part} ({result.get('seconds', 0):.0f} s)", ""]
        if "error" in result or "skipped" in result:
            lines += [f"{'FAILED' if 'error' in result else 'skipped'}: {result.get('error') or result['skipped']}", ""]
        elif part == "step":
            lines += [
                "| model | batch | reference img/s | ours eager | ours captured | eager / ref | captured / eager |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            lines += [
                f"| {r['model']} | {r['batch']} | {r['reference']:,.0f} | {r['auto']:,.0f} | {r['captured']:,.0f} | "
                f"{r['auto'] / r['reference']:.2f}x | {r['captured'] / r['auto']:.2f}x |"
                for r in result["rows"]
            ]
            lines.append("")
        elif part == "train":
            lines += [
                f"{result['steps']} steps; the step alone (ours eager): {result['step_rate']} images/s",
                "",
                "| run | images/s | of the step's rate | placement | graphs | seconds | peak MB |",
                "| --- | ---: | ---: | --- | --- | ---: | ---: |",
            ]
            lines += [
                f"| {run} | {r['images_per_second']:,.0f} | {r.get('fraction_of_step_rate', '-')} | {r['placement']} | "
                f"{r['graphs']} | {r['seconds']} | {r['peak_mb']} |"
                for run, r in result["runs"].items()
            ]
            lines.append("")
        else:
            lines += ["```json", json.dumps({k: v for k, v in result.items() if k != "seconds"}, indent=1), "```", ""]
    return "\n".join(lines)


def run_part(name: str, call) -> dict:
    started = time.perf_counter()
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 -- a failing part is reported; the others still run
        traceback.print_exc()
        result = {"error": f"{type(e).__name__}: {e}"}
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"gpu_check: {name} done in {result['seconds']:.0f} s", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="folder for gpu_check.md and gpu_check.json")
    parser.add_argument("--fid-weights", type=Path, default=Path("resources/fid/tf_inception_fid.pt"))
    parser.add_argument("--smoke", action="store_true", help="every part at a tiny size (a CPU: a minute or two)")
    parser.add_argument("--parts", nargs="+", default=["step", "train", "resume", "ddp", "fid", "dedup"])
    parser.add_argument(
        "--half-fid-weights",
        type=Path,
        help="write a half-precision copy of --fid-weights here "
        "(44 MB: it fits in a device call; features within 0.3%% of fp32) and stop",
    )
    args = parser.parse_args()
    if args.half_fid_weights:
        torch.jit.save(torch.jit.load(str(args.fid_weights)).half(), str(args.half_fid_weights))
        return
    if args.out is None:
        parser.error("--out is needed")
    sizes, device, started = SMOKE if args.smoke else Sizes(), pick_device(), time.perf_counter()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    parts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shards = (
            build_shards(work / "data", sizes.entries, sizes.copies)
            if {"train", "resume", "ddp", "fid"} & set(args.parts)
            else None
        )
        calls = {
            "step": lambda: step_part(sizes, device),
            "train": lambda: train_part(sizes, device, work, shards, step_rate()),
            "resume": lambda: resume_part(sizes, device, work, shards),
            "ddp": lambda: ddp_part(sizes, device, work, shards),
            "fid": lambda: fid_part(sizes, device, work, shards, args.fid_weights),
            "dedup": lambda: dedup_part(sizes, device, work),
        }

        def step_rate() -> float | None:
            """Ours eager, common model, at the smallest batch: what `dcgan train` should reach (when it
            trains that model: not in --smoke)."""
            if sizes.model != replace(MODELS["common"], z=sizes.model.z):
                return None
            rows = parts.get("step", {}).get("rows", [])
            return next((r["auto"] for r in rows if r["model"] == "common" and r["batch"] == min(sizes.batches)), None)

        for part in args.parts:
            parts[part] = run_part(part, calls[part])
    report = {
        "mode": "smoke" if args.smoke else "full",
        "device": name,
        "torch": torch.__version__,
        "sizes": asdict(sizes),
        "seconds": round(time.perf_counter() - started, 1),
        "parts": parts,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    text = markdown(report)
    (args.out / "gpu_check.md").write_text(text + "\n")
    print(text)
    failed = [part for part, result in parts.items() if "error" in result]
    if failed:
        print(f"gpu_check: failed: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
