"""DCGAN model and training on CPU: architecture, learning signal, exact resume, checkpoint faults."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import psutil
import pytest
import torch
from torch import nn

from dcgan.fid.settings import ReferenceSettings, ScoreSettings
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.train.distributed import parameters_digest
from dcgan.train.loop import train
from dcgan.train.model import build, sample_z
from dcgan.train.quality import CollapseWatch
from dcgan.train.settings import ModelSettings, TrainSettings
from dcgan.train.steps import GanSteps, Speed
from dcgan.train.tracking import keys_digest
from helpers import make_table, write_duplicates

TINY = ModelSettings(image_size=32, ngf=8, ndf=8)
FP32 = Speed(precision="fp32", memory_format="contiguous", compile="eager", adam="foreach")


def tiny_settings(**changes) -> TrainSettings:
    base = dict(
        batch_size=16,
        epochs=100,
        max_steps=8,
        workers=1,
        shuffle_buffer=50,
        log_every=2,
        sample_every=4,
        checkpoint_every=2,
        keep_checkpoints=3,
    )
    return TrainSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train")
    table, _ = make_table(root, parts=2, per_part=40)
    write_shards(
        table,
        2,
        write_duplicates(root / "dups.tsv", [], ""),
        root / "shards",
        dataset="t",
        settings=ShardSettings(samples_per_shard=30),
    )
    return root / "shards"


@pytest.mark.parametrize("size, doublings", [(32, 3), (64, 4)])
@pytest.mark.parametrize("kernel", [4, 5])
def test_shapes_and_the_papers_architecture(size, doublings, kernel):
    settings = ModelSettings(image_size=size, ngf=16, ndf=16, kernel=kernel)
    g, d = build(settings)
    z = sample_z(5, settings, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert z.shape == (5, 100) and z.min() >= -1 and z.max() <= 1  # uniform in [-1, 1]
    images = g(z)
    assert images.shape == (5, 3, size, size) and images.abs().max() <= 1
    assert d(images).shape == (5,)
    g_convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    d_convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(g_convs) == doublings + 1 and g_convs[0].out_channels == 16 * 2 ** (doublings - 1)
    assert len(d_convs) == doublings + 1 and d_convs[-2].out_channels == 16 * 2 ** (doublings - 1)
    assert not any(isinstance(m, (nn.Linear, nn.MaxPool2d, nn.AvgPool2d)) for m in [*g.modules(), *d.modules()])
    d_layers = list(d.features)
    assert isinstance(d_layers[1], nn.LeakyReLU) and d_layers[1].negative_slope == 0.2  # no BatchNorm on layer 1
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == doublings - 1
    assert isinstance(list(g.net)[-1], nn.Tanh)


def test_paper_widths_and_init():
    paper, common = build(ModelSettings(ngf=128))[0], build(ModelSettings())[0]
    assert paper.net[0].out_channels == 1024 and common.net[0].out_channels == 512
    weights = torch.cat([m.weight.flatten() for m in paper.modules() if isinstance(m, nn.ConvTranspose2d)])
    gammas = torch.cat([m.weight for m in paper.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    assert abs(gammas.mean().item() - 1) < 0.005 and abs(gammas.std().item() - 0.02) < 0.005


def test_a_few_steps_on_a_fixed_batch_move_d_and_g_the_right_way():
    torch.manual_seed(0)
    settings = ModelSettings(image_size=32, ngf=16, ndf=16)
    g, d = build(settings)
    steps = GanSteps(g, d, TrainSettings(), FP32, torch.device("cpu"))
    stripes = torch.linspace(-1, 1, 32).repeat(32, 1)
    real = torch.stack([stripes, stripes.T, -stripes]).expand(16, 3, 32, 32).contiguous()
    z = sample_z(16, settings, torch.Generator().manual_seed(1), torch.device("cpu"))

    def judged() -> tuple[float, float]:
        with torch.no_grad():
            return torch.sigmoid(d(real)).mean().item(), torch.sigmoid(d(g(z))).mean().item()

    d_real, d_fake = judged()
    for _ in range(5):
        steps.discriminator(real, g(z))
    d_real_after, d_fake_after = judged()
    assert d_real_after > d_real + 0.1 and d_fake_after < d_fake - 0.1
    for _ in range(5):
        steps.generator(g(z))
    assert judged()[1] > d_fake_after + 0.1  # G learns to fool this D


def test_bf16_autocast_runs_the_convolutions_in_bf16_and_keeps_batchnorm_and_the_loss_in_fp32():
    settings = ModelSettings(image_size=32, ngf=8, ndf=8)
    g, d = build(settings)
    speed = Speed(precision="bf16", memory_format="channels_last", compile="eager", adam="foreach")
    steps = GanSteps(g, d, TrainSettings(), speed, torch.device("cpu"))
    seen: dict[str, set] = {"conv": set(), "batchnorm_input": set()}
    for module in [*g.modules(), *d.modules()]:
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.register_forward_hook(lambda m, i, out: seen["conv"].add(out.dtype))
        if isinstance(module, nn.BatchNorm2d):
            module.register_forward_hook(lambda m, i, out: seen["batchnorm_input"].add(i[0].dtype))
    real = torch.rand(4, 3, 32, 32).mul(2).sub(1).contiguous(memory_format=torch.channels_last)
    stats = steps.iteration(
        real, lambda n: sample_z(n, settings, torch.Generator().manual_seed(0), torch.device("cpu"))
    )
    assert seen["conv"] == {torch.bfloat16} and seen["batchnorm_input"] == {torch.bfloat16}
    assert stats.dtype == torch.float32 and torch.isfinite(stats).all()
    state = [*g.state_dict().values(), *d.state_dict().values()]
    assert {t.dtype for t in state if t.is_floating_point()} == {torch.float32}  # weights, running statistics
    assert g.net[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert g.net[0].weight.is_contiguous()  # the projection of z (1x1 maps) keeps the plain layout


def test_resumed_optimisers_take_this_runs_adam_flags_and_keep_the_saved_state():
    """Optimizer.load_state_dict restores the saved run's fused/foreach/capturable flags: a resume with
    another `adam` would silently keep the old one, and a capture would fail on capturable=False."""
    settings = ModelSettings(image_size=32, ngf=8, ndf=8)
    real = torch.rand(4, 3, 32, 32).mul(2).sub(1)
    noise = lambda n: sample_z(n, settings, torch.Generator().manual_seed(0), torch.device("cpu"))  # noqa: E731
    before = GanSteps(
        *build(settings), TrainSettings(), Speed("fp32", "contiguous", "eager", "foreach"), torch.device("cpu")
    )
    before.iteration(real, noise)
    saved = before.opt_g.state_dict(), before.opt_d.state_dict()
    after = GanSteps(
        *build(settings), TrainSettings(), Speed("fp32", "contiguous", "eager", "fused"), torch.device("cpu")
    )
    after.load_optimisers(*saved)
    for optimiser, state in zip((after.opt_g, after.opt_d), saved, strict=True):
        assert all(
            group["fused"] and not group["foreach"] and not group["capturable"] for group in optimiser.param_groups
        )
        loaded = optimiser.state_dict()["state"]
        for index, moments in state["state"].items():
            for name, value in moments.items():
                assert torch.equal(loaded[index][name].cpu(), value.cpu()), (index, name)
    assert before.opt_g.param_groups[0]["foreach"]  # the saved run's own optimiser is left as it was
    assert torch.isfinite(after.iteration(real, noise)).all()


def test_every_speed_switch_on_resumes_to_the_same_weights(shards, tmp_path):
    fast = tiny_settings(max_steps=6, precision="bf16", memory_format="channels_last", compile="inductor", adam="fused")
    train(shards, tmp_path / "straight", TINY, fast)
    train(shards, tmp_path / "resumed", TINY, tiny_settings(**{**asdict(fast), "max_steps": 3}))
    train(shards, tmp_path / "resumed", TINY, fast)
    assert_same_weights(tmp_path / "straight", tmp_path / "resumed")
    record = json.loads((tmp_path / "resumed" / "train.json").read_text())
    assert record["speed"] == {
        "precision": "bf16",
        "memory_format": "channels_last",
        "compile": "inductor",
        "adam": "fused",
        "graphs": "off",
    }
    assert record["resumed_from"] == 3


def final_networks(out: Path) -> tuple[nn.Module, nn.Module]:
    saved = torch.load(out / "model.pt")
    g, d = build(ModelSettings(**saved["model"]))
    g.load_state_dict(saved["g"])
    d.load_state_dict(saved["d"])
    return g, d


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = torch.load(a / "model.pt"), torch.load(b / "model.pt")
    for net in ("g", "d"):
        assert first[net].keys() == second[net].keys()
        for name in first[net]:
            assert torch.equal(first[net][name], second[net][name]), f"{net}.{name} differs"


@pytest.fixture(scope="module")
def uninterrupted(shards, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    train(shards, out, TINY, tiny_settings())
    return out


def test_training_writes_its_outputs(uninterrupted):
    rows = list(csv.DictReader(open(uninterrupted / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]
    assert all(0 < float(r["d_real"]) < 1 and float(r["images_per_second"]) > 0 for r in rows)
    grid = cv2.imread(str(uninterrupted / "samples.png"))
    assert grid.shape[1] == 8 * 34 * 3 and grid.shape[0] > 8 * 34 * 3 and grid.std() > 5  # upscaled, with a title
    assert sorted(p.name for p in (uninterrupted / "samples").iterdir()) == ["step-000000004.png", "step-000000008.png"]
    assert sorted(p.name for p in (uninterrupted / "checkpoints").iterdir()) == ["metrics.csv"] + [
        f"step-00000000{i}.pt" for i in (4, 6, 8)
    ]
    assert any((uninterrupted / "tensorboard").iterdir())


def test_resuming_equals_uninterrupted_training(shards, uninterrupted, tmp_path):
    # 8 steps over 80 images in batches of 16: the run crosses an epoch boundary at step 5
    train(shards, tmp_path, TINY, tiny_settings(max_steps=3))
    train(shards, tmp_path, TINY, tiny_settings())
    assert_same_weights(uninterrupted, tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]


def train_command(shards: Path, out: Path, model: ModelSettings, settings: TrainSettings) -> list[str]:
    """`dcgan train` with every setting spelled out, under torchrun when settings.processes > 1."""
    if settings.processes > 1:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(settings.processes),
            "-m",
            "dcgan",
        ]
    else:
        command = [sys.executable, "-m", "dcgan"]
    command += ["train", str(shards), "--out", str(out), "--threads", str(settings.processes)]
    for key, value in {**asdict(model), **asdict(settings)}.items():
        flag = key.replace("_", "-")
        command += (
            [f"--{flag}" if value is True else f"--no-{flag}"] if isinstance(value, bool) else [f"--{flag}", str(value)]
        )
    return command


def kill_mid_run(command: list[str], checkpoint: Path) -> None:
    """Start `command` and SIGKILL it and every process it started once `checkpoint` appears, as a
    scheduler does to a job that runs out of time."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not checkpoint.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    family = [process.pid, *(child.pid for child in psutil.Process(process.pid).children(recursive=True))]
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    assert not (checkpoint.parents[1] / "model.pt").exists()  # killed mid-run
    for path in checkpoint.parent.glob("step-*.pt"):
        torch.load(path, weights_only=False)  # whatever is visible is whole


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(shards, tmp_path):
    """With the shard loader (its workers are killed too); the DDP test below kills a run from memory."""
    model = ModelSettings(image_size=32, ngf=48, ndf=48)
    settings = tiny_settings(max_steps=30, checkpoint_every=3, data="shards")
    train(shards, tmp_path / "straight", model, settings)
    command = train_command(shards, tmp_path / "killed", model, settings)
    kill_mid_run(command, tmp_path / "killed" / "checkpoints" / "step-000000003.pt")
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0 and "resuming from step" in resumed.stderr
    assert_same_weights(tmp_path / "straight", tmp_path / "killed")


@pytest.fixture(scope="module")
def demo_shards(tmp_path_factory) -> Path:
    """The demo's bedrooms through extraction and sharding (no dedup): 113 samples, so that two ranks
    share them 56 + 57, and with batches of 8 the larger share folds its extra sample into its last batch."""
    root = tmp_path_factory.mktemp("demo")
    dcgan = [sys.executable, "-m", "dcgan"]
    subprocess.run(
        [*dcgan, "demo-data", "--out", str(root), "--bedroom-entries", "120", "--web-images", "1"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *dcgan,
            "extract",
            str(root / "bedroom_train_lmdb"),
            str(root / "table"),
            "--image-size",
            "32",
            "--max-images",
            "113",
        ],
        check=True,
        capture_output=True,
    )
    write_shards(
        root / "table",
        1,
        write_duplicates(root / "none.tsv", [], ""),
        root / "shards",
        dataset="bed",
        settings=ShardSettings(samples_per_shard=25),
    )
    return root / "shards"


def shard_keys(shard_dir: Path) -> list[str]:
    """Every sample key in the shards, read with tarfile (not the loader under test)."""
    keys = set()
    for shard in shard_dir.glob("*.tar"):
        with tarfile.open(shard) as tar:
            keys |= {name.rpartition(".")[0] for name in tar.getnames()}
    return sorted(keys)


DDP_MODEL = ModelSettings(image_size=32, ngf=32, ndf=32)
DDP_SETTINGS = tiny_settings(
    processes=2, batch_size=8, epochs=3, max_steps=0, checkpoint_every=2, log_every=3, data="memory"
)


def ddp_run(shards: Path, out: Path, settings: TrainSettings) -> Path:
    run = subprocess.run(train_command(shards, out, DDP_MODEL, settings), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def ddp_straight(demo_shards, tmp_path_factory) -> Path:
    return ddp_run(demo_shards, tmp_path_factory.mktemp("ddp-straight"), DDP_SETTINGS)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["memory", "shards"])
def test_two_processes_hold_identical_weights_and_see_each_sample_once_per_epoch(
    demo_shards, ddp_straight, data, tmp_path
):
    out = ddp_straight if data == "memory" else ddp_run(demo_shards, tmp_path, replace(DDP_SETTINGS, data=data))
    record = json.loads((out / "train.json").read_text())
    assert record["processes"] == 2 and record["backend"] == "gloo" and record["global_batch"] == 16
    assert record["data"]["mode"] == data
    first, second = record["parameters_sha256"]
    assert first == second == parameters_digest(*final_networks(out))
    keys = shard_keys(demo_shards)
    assert len(keys) == 113
    [epochs] = record["epochs"]  # three epochs, each the same record
    assert epochs["first"] == 0 and epochs["last"] == 2
    assert epochs["samples"] == len(keys) and sorted(epochs["samples_per_rank"]) == [len(keys) // 2, len(keys) // 2 + 1]
    assert epochs["keys_digest"] == f"{keys_digest(keys):016x}"
    steps_per_epoch = -(-(len(keys) // 2) // 8)
    assert record["steps"] == 3 * steps_per_epoch


@pytest.mark.slow
def test_two_processes_killed_mid_run_resume_to_the_same_weights(demo_shards, ddp_straight, tmp_path):
    command = train_command(demo_shards, tmp_path, DDP_MODEL, DDP_SETTINGS)
    kill_mid_run(command, tmp_path / "checkpoints" / "step-000000004.pt")
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0 and "resuming from step" in resumed.stderr, resumed.stderr[-2000:]
    assert_same_weights(ddp_straight, tmp_path)
    straight, again = (json.loads((out / "train.json").read_text()) for out in (ddp_straight, tmp_path))
    assert again["epochs"] == straight["epochs"] and again["parameters_sha256"] == straight["parameters_sha256"]


def test_processes_without_torchrun_is_a_clear_error(demo_shards, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "dcgan", "train", str(demo_shards), "--out", str(tmp_path), "--processes", "2"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "torchrun --standalone --nproc-per-node 2" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_corrupted_newest_checkpoint_is_reported_and_the_previous_used(shards, uninterrupted, tmp_path, capsys):
    train(shards, tmp_path, TINY, tiny_settings(max_steps=5))  # checkpoints at steps 2, 4 and 5 (final)
    newest = tmp_path / "checkpoints" / "step-000000005.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    capsys.readouterr()
    train(shards, tmp_path, TINY, tiny_settings())
    err = capsys.readouterr().err
    assert "step-000000005.pt is unreadable" in err and "resuming from step 4" in err
    assert_same_weights(uninterrupted, tmp_path)


def test_other_settings_start_afresh(shards, uninterrupted, tmp_path, capsys):
    train(shards, tmp_path, TINY, tiny_settings(max_steps=4, lr=1e-3))
    capsys.readouterr()
    train(shards, tmp_path, TINY, tiny_settings())
    assert "made with other model, training or shard settings" in capsys.readouterr().err
    assert (tmp_path / "checkpoints-previous" / "step-000000004.pt").exists()
    assert_same_weights(uninterrupted, tmp_path)


@pytest.fixture(scope="module")
def reference(shards, fid_weights, tmp_path_factory) -> Path:
    from dcgan.fid.reference import write_reference

    path = tmp_path_factory.mktemp("reference") / "reference.npz"
    write_reference(shards, fid_weights, path, ReferenceSettings(reference=30), size=32, device=torch.device("cpu"))
    return path


@pytest.mark.slow
def test_the_tracker_and_evaluation_score_the_same_samples_alike(reference, fid_weights):
    from dcgan.evaluation.metrics import distribution_scores
    from dcgan.train.quality import Tracker, generate_eval

    scoring, seed = ScoreSettings(kid_subsets=7, kid_subset_size=9), 3
    tracker = Tracker(reference, fid_weights, TINY, samples=12, seed=seed, scoring=scoring, device=torch.device("cpu"))
    torch.manual_seed(0)
    g, _ = build(TINY)
    tracked = tracker.quality(g)
    features = tracker.extractor(generate_eval(g, tracker.z))
    evaluated = distribution_scores(tracker.real, features, scoring, seed, reference)
    assert tracked["fid"] == evaluated["fid"] and tracked["kid"] == evaluated["kid"]["mean"]
    assert evaluated["kid"]["subsets"] == 7 and evaluated["kid"]["subset_size"] == 9
    other = distribution_scores(tracker.real, features, ScoreSettings(kid_subsets=7, kid_subset_size=12), seed, "")
    assert other["kid"]["mean"] != tracked["kid"]  # the settings reach the estimate


@pytest.mark.slow
def test_tracked_fid_and_best_checkpoint_survive_a_sigkill_exactly(shards, reference, fid_weights, tmp_path):
    settings = tiny_settings(max_steps=12, fid_every=4, fid_samples=12)
    tracking = {"reference": reference, "fid_weights": fid_weights}
    straight = train(shards, tmp_path / "straight", TINY, settings, **tracking)
    rows = list(csv.DictReader(open(tmp_path / "straight" / "metrics.csv")))
    tracked = [r for r in rows if r["fid"]]
    assert [int(r["step"]) for r in tracked] == [4, 8, 12] and all(float(r["fid"]) > 0 for r in tracked)
    best = min(tracked, key=lambda r: float(r["fid"]))
    saved = torch.load(tmp_path / "straight" / "best.pt")
    assert saved["step"] == int(best["step"]) == straight["tracking"]["best"]["step"]
    assert [e["epoch"] for e in straight["tracking"]["memorisation"]["per_epoch"]] == [0, 1]  # 80 images, 16 a step
    assert cv2.imread(str(tmp_path / "straight" / "memorisation.png")) is not None

    command = train_command(shards, tmp_path / "killed", TINY, settings)
    command += ["--reference", str(reference), "--fid-weights", str(fid_weights)]
    kill_mid_run(command, tmp_path / "killed" / "checkpoints" / "step-000000006.pt")
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    resumed_rows = list(csv.DictReader(open(tmp_path / "killed" / "metrics.csv")))
    timing = "images_per_second"
    assert [{k: v for k, v in r.items() if k != timing} for r in resumed_rows] == [
        {k: v for k, v in r.items() if k != timing} for r in rows
    ]
    resumed = torch.load(tmp_path / "killed" / "best.pt")
    assert resumed["step"] == saved["step"] and all(torch.equal(resumed["g"][k], saved["g"][k]) for k in saved["g"])
    record = json.loads((tmp_path / "killed" / "train.json").read_text())
    assert record["tracking"]["best"] == straight["tracking"]["best"]
    assert record["tracking"]["memorisation"] == straight["tracking"]["memorisation"]


def test_a_collapsing_run_warns_and_can_stop_and_a_sane_one_does_not(shards, tmp_path):
    sane = train(shards, tmp_path / "sane", TINY, tiny_settings(max_steps=60, checkpoint_every=100))
    assert sane["warnings"] == [] and sane["stopped_by"] is None
    wild = tiny_settings(max_steps=60, checkpoint_every=100, lr=0.5)  # D wins outright within a few logs
    collapsed = train(shards, tmp_path / "wild", TINY, wild)
    assert collapsed["steps"] == 60 and collapsed["warnings"]
    assert {w["sign"] for w in collapsed["warnings"]} <= set(CollapseWatch.RULES)
    stopped = train(shards, tmp_path / "stopped", TINY, tiny_settings(**{**asdict(wild), "stop_on_collapse": True}))
    assert stopped["stopped_by"] == collapsed["warnings"][0] and stopped["steps"] == collapsed["warnings"][0]["step"]


def test_each_collapse_sign_needs_its_streak():
    watch = CollapseWatch(patience=3)
    fired = [watch.losses(step, 0.01, 2.0 + step, 0.9, 0.1) for step in range(1, 6)]  # D near 0, G rising
    assert [len(f) for f in fired] == [0, 0, 0, 1, 0] and fired[3][0]["sign"] == "d_wins"  # the first has no rise
    assert watch.losses(6, float("nan"), 1.0, 0.5, 0.5)[0]["sign"] == "non_finite"  # at once
    watch = CollapseWatch(patience=2)
    assert [watch.diversity(s, d) for s in range(4) for d in [(0.8, 0.9, 0.4, 0.3)[s]]][-1][0][
        "sign"
    ] == "diversity_falling"
    again = CollapseWatch(patience=2, state=watch.state())  # from a checkpoint: the same streaks
    assert again.state() == watch.state()
