"""Every GPU claim of the project in one run, for the rare short loan of a GPU machine (one call, < 9 min).

Each part runs in a process of its own, under a time limit: a crash, a hang or a sticky CUDA error costs
that part alone, and its result is appended to the report the moment it ends. The parts, each timed with
its peak memory (CUDA: the allocator's peak; CPU: resident growth, sampled):
- data: ~100k generated 64x64 images written as shards and decoded once, as the shards and decode rules
  do (what train, resume, ddp and fid read);
- step: benchmarks/train_step.py's loops: the PyTorch example's vs ours eager (auto) vs captured (auto +
  CUDA graph), common and paper models, batch 128 and 512 (bf16 is auto on a GPU);
- train: `dcgan train` (the library call) with data: shards, data: memory (on the device; and mapped on the
  host, copied on its own stream), data: memory with graphs: on; each rate against its own baseline, the
  step alone as that run takes it (eager, or captured), measured in the same process;
- resume: a run stopped half way and resumed against an uninterrupted one, with deterministic algorithms
  on (so that a difference is a resume bug, not a nondeterministic kernel), eager and captured;
- ddp: `torchrun` over every GPU (NCCL), with and without SyncBatchNorm (gloo on a CPU in --smoke);
- fid: TF-Inception features and FID of 10k generated + 10k real images, and the extrapolation to 50k + 50k;
- dedup: the hash autoencoder's training budget and 1-view and 19-view hashing on the device.

Every part runs with cuDNN's autotuning on (as `dcgan train` does), warms up outside its timed windows,
and reports rates as the median of several repeats taken in alternating order.

    python benchmarks/gpu_check.py --out DIR [--fid-weights resources/fid/tf_inception_fid.pt] [--smoke]
                                   [--parts data step train resume ddp fid dedup] [--budget 540]
    python benchmarks/gpu_check.py --half-fid-weights fid-half.pt  # a copy of the weights to carry

Writes DIR/gpu_check.md (the report, also printed) and DIR/gpu_check.jsonl as each part ends, then
DIR/gpu_check.json; each part's output goes to DIR/logs/PART.log. The exit status is 1 if any part
failed. --smoke runs every part at a tiny size, on a CPU in about a minute (a test runs it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from unittest.mock import patch

import numpy as np
import torch

from dcgan.dedup.settings import AutoencoderSettings, HashSettings
from dcgan.dedup.stages import hash_stage, train_stage
from dcgan.device import autotune_convolutions, pick_device
from dcgan.fid.inception import InceptionFeatures
from dcgan.fid.reference import read_reference_images
from dcgan.fid.scores import frechet_distance, gaussian
from dcgan.table import PartWriter, part_prefix
from dcgan.train.decoded import write_decoded
from dcgan.train.loop import train
from dcgan.train.model import build, sample_z
from dcgan.train.quality import generate_eval
from dcgan.train.settings import ModelSettings, TrainSettings
from loader import build_shards
from train_step import MODELS, PeakMemory, loop_step, timed, warmup_steps

PARTS = ("data", "step", "train", "resume", "ddp", "fid", "dedup")
READ_SHARDS = {"train", "resume", "ddp", "fid"}
LIMITS = {"data": 120, "step": 150, "train": 240, "resume": 120, "ddp": 240, "fid": 120, "dedup": 150}  # s
FAULTS = ("crash", "hang")  # test hooks: a part that dies without a word, and one that never ends


@dataclass(frozen=True)
class Sizes:
    models: tuple[str, ...] = ("common", "paper")
    batches: tuple[int, ...] = (128, 512)
    step_steps: int = 40
    step_warmup: int = 5
    repeats: int = 5  # timings per rate, alternating in order; the median is reported
    entries: int = 6000  # demo LMDB values; x copies = the training set (~100k)
    copies: int = 17
    model: ModelSettings = ModelSettings(ngf=64, ndf=64, kernel=4)  # the common 64x64 DCGAN
    train_batch: int = 128
    train_steps: int = 400
    train_rounds: int = 2  # each training run this many times, alternating in order
    log_every: int = 50
    workers: int = 8
    resume_steps: int = 200
    fid_images: int = 10_000
    dedup_images: int = 200_000
    dedup: AutoencoderSettings = AutoencoderSettings()
    limit: int | None = None  # seconds, every part (else LIMITS)


SMOKE = Sizes(
    models=("common",),
    batches=(8,),
    step_steps=2,
    step_warmup=1,
    repeats=2,
    entries=120,
    copies=2,
    model=ModelSettings(ngf=8, ndf=8),
    train_batch=8,
    train_steps=6,
    train_rounds=1,
    log_every=2,
    workers=1,
    resume_steps=4,
    fid_images=8,
    dedup_images=300,
    dedup=AutoencoderSettings(sample=200, steps=20, min_steps=10, batch_size=32),
    limit=120,
)


def peak_mb(memory: PeakMemory) -> float:
    return round(memory.peak / 2**20, 1)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_rates(steps: dict, images: int, count: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Images/s of each warm step closure: the median of `repeats` timings of `count` steps, the order
    reversed every other repeat (so no closure always runs first, or on a cooler GPU)."""
    seconds = {name: [] for name in steps}
    order = list(steps)
    for repeat in range(repeats):
        for name in order if repeat % 2 == 0 else order[::-1]:
            seconds[name].append(timed(steps[name], count, 0, device))
    return {name: round(images / float(np.median(times)), 1) for name, times in seconds.items()}


def warm_steps(loops: tuple[str, ...], model: ModelSettings, batch: int, sizes: Sizes, device: torch.device):
    """Each loop's step closure on one real batch, built and warmed up (a captured step: captured), and the
    memory each added."""
    real = torch.rand(batch, 3, 64, 64, device=device) * 2 - 1
    steps, peaks = {}, {}
    for loop in loops:
        torch.manual_seed(0)
        with PeakMemory(device) as memory:
            step = loop_step(loop, real, model, device)
            for _ in range(warmup_steps(loop, sizes.step_warmup)):
                step()
            synchronize(device)
        steps[loop], peaks[f"{loop}_peak_mb"] = step, peak_mb(memory)
    return steps, peaks


def step_part(sizes: Sizes, device: torch.device, work: Path) -> dict:
    """Images/s of the reference loop, ours eager and ours captured, per model and batch."""
    rows = []
    for name in sizes.models:
        for batch in sizes.batches:
            steps, peaks = warm_steps(("reference", "auto", "captured"), MODELS[name], batch, sizes, device)
            rates = median_rates(steps, batch, sizes.step_steps, sizes.repeats, device)
            rows.append({"model": name, "batch": batch, **rates, **peaks})
    return {"rows": rows, "repeats": sizes.repeats, "steps_per_timing": sizes.step_steps}


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


def training_data(work: Path) -> tuple[Path, Path]:
    """The shards and their decoded set that the data part wrote (as the shards and decode rules do);
    an error naming that part when it did not finish."""
    if not (work / "data" / "done").is_file():
        raise RuntimeError("no shards: the data part did not finish")
    return work / "data" / "shards", work / "data" / "decoded"


def logged_rates(out: Path) -> list[float]:
    """The images/s a run logged in metrics.csv, window by window, the first (warm-up) left out."""
    with open(out / "metrics.csv", newline="") as f:
        rates = [float(row["images_per_second"]) for row in csv.DictReader(f) if row["images_per_second"]]
    return rates[1:] or rates


def timed_train(
    data: tuple[Path, Path], out: Path, model: ModelSettings, settings: TrainSettings, device: torch.device
) -> dict:
    """One `dcgan train` run: its logged window rates, seconds, peak memory, the data path and switches."""
    shards, decoded = data
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        record = train(shards, out, model, settings, decoded=decoded)
        seconds = time.perf_counter() - started
    return {
        "window_rates": logged_rates(out),
        "seconds": round(seconds, 1),
        "peak_mb": peak_mb(memory),
        "placement": record["data"].get("placement"),
        "graphs": record["speed"]["graphs"],
        "precision": record["speed"]["precision"],
    }


def training_runs(device: torch.device) -> dict[str, tuple[dict, str, bool]]:
    """Each timed training run: its settings, the step loop it is measured against, whether the set is
    kept off the GPU (mapped on the host, as a set too large for the GPU is)."""
    graphs = "on" if device.type == "cuda" else "off"
    runs = {
        "shards": ({"data": "shards"}, "auto", False),
        "memory": ({"data": "memory"}, "auto", False),
        "memory_graphs": ({"data": "memory", "graphs": graphs}, "captured", False),
    }
    if device.type == "cuda":  # on a CPU the set is always mapped: "memory" is that run
        runs["mapped"] = ({"data": "memory"}, "auto", True)
    return runs


def train_part(sizes: Sizes, device: torch.device, work: Path) -> dict:
    """`dcgan train`'s images/s per data path, each against the step alone as that run takes it."""
    data = training_data(work)
    steps, _ = warm_steps(("auto", "captured"), sizes.model, sizes.train_batch, sizes, device)
    baselines = median_rates(steps, sizes.train_batch, sizes.step_steps, sizes.repeats, device)
    del steps
    runs, found = training_runs(device), {}
    for round_ in range(sizes.train_rounds):
        for name in list(runs) if round_ % 2 == 0 else list(runs)[::-1]:
            changes, baseline, off_gpu = runs[name]
            settings = train_settings(sizes, sizes.train_steps, **changes)
            with patch("dcgan.train.inputs.device_free_bytes", return_value=0) if off_gpu else nullcontext():
                run = timed_train(data, work / f"train-{name}-{round_}", sizes.model, settings, device)
            windows = found.get(name, {}).get("window_rates", []) + run["window_rates"]
            found[name] = {**run, "window_rates": windows, "baseline": baseline}
    for run in found.values():
        run["images_per_second"] = round(float(np.median(run.pop("window_rates"))), 1)
        run["fraction_of_step_rate"] = round(run["images_per_second"] / baselines[run["baseline"]], 3)
    return {"runs": found, "step_rates": baselines, "steps": sizes.train_steps, "rounds": sizes.train_rounds}


def weights_of(out: Path) -> dict[str, torch.Tensor]:
    saved = torch.load(out / "model.pt", map_location="cpu")
    return {f"{net}.{k}": v for net in ("g", "d") for k, v in saved[net].items()}


def resume_part(sizes: Sizes, device: torch.device, work: Path) -> dict:
    """Stopped at half and resumed, against uninterrupted, in this process, deterministic algorithms on:
    eager and captured. An operation with no deterministic kernel runs anyway and is named in the result
    (a hard error would lose the part's figures)."""
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # deterministic cuBLAS; read when its first handle is made
    torch.use_deterministic_algorithms(True, warn_only=True)
    data, found = training_data(work), {}
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        for graphs in ("off", "on") if device.type == "cuda" else ("off",):
            found[f"graphs_{graphs}"] = resumed_against_straight(sizes, data, work, graphs)
    nondeterministic = sorted({str(w.message)[:200] for w in warned if "deterministic" in str(w.message)})
    return {"steps": sizes.resume_steps, "deterministic": True, "runs": found, "nondeterministic": nondeterministic}


def resumed_against_straight(sizes: Sizes, data: tuple[Path, Path], work: Path, graphs: str) -> dict:
    """Train straight through, and to half then resumed: identical weights, or the largest difference."""
    full = train_settings(
        sizes, sizes.resume_steps, data="memory", graphs=graphs, checkpoint_every=sizes.resume_steps // 2
    )
    (shards, decoded), straight, resumed = data, work / f"straight-{graphs}", work / f"resumed-{graphs}"
    train(shards, straight, sizes.model, full, decoded=decoded)
    train(shards, resumed, sizes.model, replace(full, max_steps=sizes.resume_steps // 2), decoded=decoded)
    train(shards, resumed, sizes.model, full, decoded=decoded)
    a, b = weights_of(straight), weights_of(resumed)
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    return {"identical": all(torch.equal(a[k], b[k]) for k in a), "max_difference": worst}


def torchrun(command: list[str], timeout: float) -> None:
    """Run a torchrun command; stop it (its ranks stop with their launcher) when it outlasts `timeout`."""
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = launcher.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.communicate()
        raise RuntimeError(f"torchrun hung: stopped after {timeout:.0f} s") from None
    if launcher.returncode != 0:
        raise RuntimeError(f"torchrun failed: {output.decode(errors='replace')[-1500:]}")


def ddp_command(processes: int, data: tuple[Path, Path], out: Path, sizes: Sizes, settings: TrainSettings) -> list[str]:
    (shards, decoded), threads = data, str(processes)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
    command += ["-m", "dcgan", "train", str(shards), "--out", str(out), "--decoded", str(decoded), "--threads", threads]
    for key, value in {**asdict(sizes.model), **asdict(settings)}.items():
        flag = key.replace("_", "-")
        command += [f"--{flag}" if value else f"--no-{flag}"] if isinstance(value, bool) else [f"--{flag}", str(value)]
    return command


def ddp_part(sizes: Sizes, device: torch.device, work: Path, deadline: float) -> dict:
    """torchrun over every GPU (NCCL) with and without SyncBatchNorm; two gloo processes on a CPU (where
    SyncBatchNorm has no kernels)."""
    processes = torch.cuda.device_count() if device.type == "cuda" else 2
    if processes < 2:
        return {"skipped": f"{processes} GPU: DDP needs two or more"}
    data, found = training_data(work), {}
    variants = (True, False) if device.type == "cuda" else (False,)
    for left, sync in zip(range(len(variants), 0, -1), variants, strict=True):
        settings = train_settings(sizes, sizes.train_steps, data="memory", processes=processes, sync_batchnorm=sync)
        out = work / f"ddp-{'sync' if sync else 'plain'}"
        started = time.perf_counter()
        torchrun(ddp_command(processes, data, out, sizes, settings), (deadline - time.time()) / left)
        record = json.loads((out / "train.json").read_text())
        found["sync_batchnorm" if sync else "plain_batchnorm"] = {
            "images_per_second": round(float(np.median(logged_rates(out))), 1),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "same_weights_on_every_rank": len(set(record["parameters_sha256"])) == 1,
        }
    return {"processes": processes, "backend": "nccl" if device.type == "cuda" else "gloo", "runs": found}


def full_precision(weights: Path, work: Path) -> Path:
    """The FID weights as fp32: a half-precision copy (what fits in a device call) is converted back."""
    net = torch.jit.load(str(weights), map_location="cpu")
    if next(net.parameters()).dtype != torch.float16:
        return weights
    torch.jit.save(net.float(), str(work / "tf_inception_fid.pt"))
    return work / "tf_inception_fid.pt"


def fid_part(sizes: Sizes, device: torch.device, work: Path, weights: Path | None) -> dict:
    """Features of N generated and N real images, their FID, and the time that makes for 50k + 50k."""
    if weights is None or not weights.is_file():
        return {"skipped": f"no FID weights at {weights} (--fid-weights)"}
    g, _ = build(sizes.model)
    g.to(device)
    z = sample_z(sizes.fid_images, sizes.model, torch.Generator(device).manual_seed(0), device)
    real, _ = read_reference_images(training_data(work)[0], sizes.fid_images, 64)
    with PeakMemory(device) as memory:
        extractor = InceptionFeatures(full_precision(weights, work), device)
        extractor(generate_eval(g, z[:250]), batch_size=250)  # warm-up: autotuning, the allocator's pools
        synchronize(device)
        started = time.perf_counter()
        fake_features = extractor(generate_eval(g, z), batch_size=250)
        real_features = extractor(real, batch_size=250)
        synchronize(device)
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
            done = hash_stage(table, 0, work / f"hashes-{views}.npy", HashSettings(views=views), work / "ae.pt")
            found[f"hash_{done['views']}_views_images_per_second"] = done["images_per_second"]
    return {"images": sizes.dedup_images, **found, "peak_mb": peak_mb(memory)}


def data_part(sizes: Sizes, work: Path) -> dict:
    """The shards the training parts read and their decoded set (for `data: memory`), marked done once whole."""
    shards = build_shards(work / "data", sizes.entries, sizes.copies)
    started = time.perf_counter()
    write_decoded(shards, work / "data" / "decoded", sizes.model.image_size, workers=sizes.workers)
    (work / "data" / "done").touch()
    return {
        "images": sizes.entries * sizes.copies,
        "shards": len(list(shards.glob("*.tar"))),
        "decode_seconds": round(time.perf_counter() - started, 1),
    }


def run_part(part: str, args: argparse.Namespace) -> dict:
    """This process's one part (the harness started it): its result, or its error."""
    sizes, device, work = SMOKE if args.smoke else Sizes(), pick_device(), args.work
    fault = dict(f.split("=") for f in args.fault).get(part)
    if fault == "crash":
        os.abort()
    if fault == "hang":
        time.sleep(10**6)
    autotune_convolutions(device)
    calls = {
        "data": lambda: data_part(sizes, work),
        "step": lambda: step_part(sizes, device, work),
        "train": lambda: train_part(sizes, device, work),
        "resume": lambda: resume_part(sizes, device, work),
        "ddp": lambda: ddp_part(sizes, device, work, args.deadline),
        "fid": lambda: fid_part(sizes, device, work, args.fid_weights),
        "dedup": lambda: dedup_part(sizes, device, work),
    }
    try:
        return calls[part]()
    except Exception as e:  # noqa: BLE001 -- a failing part is reported; the others still run
        traceback.print_exc()
        return {"error": f"{type(e).__name__}: {e}"}


def ended(code: int | None, limit: float, log: Path) -> str:
    """Why a part left no result: stopped at its limit, or the way its process died and its last words."""
    if code is None:
        return f"hung: stopped after its {limit:.0f} s limit"
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    lines = log.read_text(errors="replace").strip().splitlines()
    return f"crashed ({how})" + (f": {lines[-1]}" if lines else "")


def isolated(part: str, args: argparse.Namespace, work: Path, limit: float) -> dict:
    """Run one part in a process of its own (a session of its own: a hang is killed whole) under `limit`."""
    result_file, log = work / f"{part}.json", args.out / "logs" / f"{part}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--run-part", part, "--work", str(work)]
    command += ["--result", str(result_file), "--deadline", str(time.time() + limit), "--fid-weights"]
    command += [str(args.fid_weights), *(["--smoke"] if args.smoke else [])]
    command += ["--fault", *args.fault] if args.fault else []
    started = time.perf_counter()
    with open(log, "w") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = child.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            code = None
    result = json.loads(result_file.read_text()) if result_file.is_file() else {"error": ended(code, limit, log)}
    return {**result, "seconds": round(time.perf_counter() - started, 1)}


def step_table(result: dict) -> list[str]:
    lines = [
        f"Median of {result['repeats']} timings of {result['steps_per_timing']} steps each, in alternating order.",
        "",
        "| model | batch | reference img/s | ours eager | ours captured | eager / ref | captured / eager |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    return lines + [
        f"| {r['model']} | {r['batch']} | {r['reference']:,.0f} | {r['auto']:,.0f} | {r['captured']:,.0f} | "
        f"{r['auto'] / r['reference']:.2f}x | {r['captured'] / r['auto']:.2f}x |"
        for r in result["rows"]
    ]


def train_table(result: dict) -> list[str]:
    rates = result["step_rates"]
    lines = [
        f"{result['steps']} steps a run, {result['rounds']} round(s) in alternating order; rates are medians of the "
        f"logged windows. The step alone: eager {rates['auto']:,.0f} images/s, captured {rates['captured']:,.0f}.",
        "",
        "| run | images/s | of its step's rate | against | placement | graphs | seconds | peak MB |",
        "| --- | ---: | ---: | --- | --- | --- | ---: | ---: |",
    ]
    return lines + [
        f"| {run} | {r['images_per_second']:,.0f} | {r['fraction_of_step_rate']} | {r['baseline']} | "
        f"{r['placement']} | {r['graphs']} | {r['seconds']} | {r['peak_mb']} |"
        for run, r in result["runs"].items()
    ]


def section(part: str, result: dict) -> str:
    """One part's result as markdown."""
    lines = [f"## {part} ({result['seconds']:.0f} s)", ""]
    if "error" in result or "skipped" in result:
        lines.append(f"{'FAILED' if 'error' in result else 'skipped'}: {result.get('error') or result['skipped']}")
    elif part in ("step", "train"):
        lines += (step_table if part == "step" else train_table)(result)
    else:
        lines += ["```json", json.dumps({k: v for k, v in result.items() if k != "seconds"}, indent=1), "```"]
    return "\n".join(lines) + "\n\n"


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def planned(parts: list[str]) -> list[str]:
    """The parts asked for in their order, with the data part first when one of them reads its shards."""
    wanted = set(parts) | ({"data"} if READ_SHARDS & set(parts) else set())
    return [part for part in PARTS if part in wanted]


def harness(args: argparse.Namespace) -> dict:
    """Every part in turn, each isolated; the report grows as each ends. Returns the whole report."""
    sizes, started = SMOKE if args.smoke else Sizes(), time.perf_counter()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    report = {"mode": "smoke" if args.smoke else "full", "device": device, "torch": torch.__version__}
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.jsonl").write_text("")
    (args.out / "gpu_check.md").write_text(
        f"# gpu_check ({report['mode']})\n\n- device: {device}\n- torch {torch.__version__}\n- started "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}; cuDNN autotuning on in every part\n\n"
    )
    report["parts"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part in planned(args.parts):
            left = args.budget - (time.perf_counter() - started)
            limit = min(args.part_limit or sizes.limit or LIMITS[part], left)
            if limit < 10:
                result = {"skipped": f"the time budget ({args.budget:.0f} s) is spent", "seconds": 0}
            else:
                result = isolated(part, args, Path(tmp), limit)
            print(f"gpu_check: {part} done in {result['seconds']:.0f} s", file=sys.stderr, flush=True)
            report["parts"][part] = result
            append(args.out / "gpu_check.jsonl", json.dumps({"part": part, **result}, default=str) + "\n")
            append(args.out / "gpu_check.md", section(part, result))
    report |= {"sizes": asdict(sizes), "seconds": round(time.perf_counter() - started, 1)}
    append(args.out / "gpu_check.md", f"{report['seconds']:.0f} s in all\n")
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    return report


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="folder for the report")
    parser.add_argument("--fid-weights", type=Path, default=Path("resources/fid/tf_inception_fid.pt"))
    parser.add_argument("--smoke", action="store_true", help="every part at a tiny size (a CPU: about a minute)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--budget", type=float, default=540, help="seconds for all parts (a device call has 600)")
    parser.add_argument("--part-limit", type=float, help="seconds for each part (default: each part's own)")
    parser.add_argument("--fault", nargs="+", default=[], metavar="PART=crash|hang", help="test hook: make parts fail")
    parser.add_argument(
        "--half-fid-weights",
        type=Path,
        help="write a half-precision copy of --fid-weights here "
        "(44 MB: it fits in a device call; features within 0.3%% of fp32) and stop",
    )
    for inner in ("--run-part", "--work", "--result", "--deadline"):  # the harness's call of one part
        parser.add_argument(inner, help=argparse.SUPPRESS, type=float if inner == "--deadline" else None)
    args = parser.parse_args()
    for fault in args.fault:
        part, _, kind = fault.partition("=")
        if part not in PARTS or kind not in FAULTS:
            parser.error(f"--fault {fault}: PART=crash or PART=hang, PART one of {', '.join(PARTS)}")
    if not (args.out or args.half_fid_weights or args.run_part):
        parser.error("--out is needed")
    return args


def main() -> None:
    args = parse()
    if args.half_fid_weights:
        torch.jit.save(torch.jit.load(str(args.fid_weights)).half(), str(args.half_fid_weights))
    elif args.run_part:
        args.work = Path(args.work)
        result = run_part(args.run_part, args)
        Path(args.result + ".tmp").write_text(json.dumps(result, default=str))
        os.replace(args.result + ".tmp", args.result)
    else:
        report = harness(args)
        print((args.out / "gpu_check.md").read_text())
        failed = [part for part, result in report["parts"].items() if "error" in result]
        if failed:
            print(f"gpu_check: failed: {', '.join(failed)}", file=sys.stderr)
            raise SystemExit(1)


if __name__ == "__main__":
    main()
