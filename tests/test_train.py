"""DCGAN model and training on CPU: architecture, learning signal, exact resume, checkpoint faults."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import pytest
import torch
from tables import make_table, write_duplicates
from torch import nn

from dcgan.model import build, sample_z
from dcgan.shards import ShardSettings, write_shards
from dcgan.train import GanSteps, train
from dcgan.training_settings import ModelSettings, TrainSettings

TINY = ModelSettings(image_size=32, ngf=8, ndf=8)


def tiny_settings(**changes) -> TrainSettings:
    base = dict(batch_size=16, epochs=100, max_steps=8, workers=1, shuffle_buffer=50, log_every=2, sample_every=4,
                checkpoint_every=2, keep_checkpoints=3)
    return TrainSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train")
    table, _ = make_table(root, parts=2, per_part=40)
    write_shards(table, 2, write_duplicates(root / "dups.tsv", [], ""), root / "shards", dataset="t",
                 settings=ShardSettings(samples_per_shard=30))
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
    steps = GanSteps(g, d, TrainSettings())
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
    assert grid.shape == (8 * 34, 8 * 34, 3) and grid.std() > 5
    assert sorted(p.name for p in (uninterrupted / "samples").iterdir()) == ["step-000000004.png", "step-000000008.png"]
    assert sorted(p.name for p in (uninterrupted / "checkpoints").iterdir()) == ["metrics.csv"] + [
        f"step-00000000{i}.pt" for i in (4, 6, 8)]
    assert any((uninterrupted / "tensorboard").iterdir())


def test_resuming_equals_uninterrupted_training(shards, uninterrupted, tmp_path):
    # 8 steps over 80 images in batches of 16: the run crosses an epoch boundary at step 5
    train(shards, tmp_path, TINY, tiny_settings(max_steps=3))
    train(shards, tmp_path, TINY, tiny_settings())
    assert_same_weights(uninterrupted, tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]


def test_killed_run_resumes_to_the_same_weights(shards, tmp_path):
    model, settings = ModelSettings(image_size=32, ngf=48, ndf=48), tiny_settings(max_steps=30, checkpoint_every=3)
    train(shards, tmp_path / "straight", model, settings)
    command = [sys.executable, "-m", "dcgan", "train", str(shards), "--out", str(tmp_path / "killed")]
    for key, value in {**asdict(model), **asdict(settings)}.items():
        flag = key.replace("_", "-")
        command += [f"--{flag}" if value is True else f"--no-{flag}"] if isinstance(value, bool) else [f"--{flag}", str(value)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "killed" / "checkpoints" / "step-000000003.pt").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "model.pt").exists()  # killed mid-run
    for checkpoint in (tmp_path / "killed" / "checkpoints").glob("step-*.pt"):
        torch.load(checkpoint, weights_only=False)  # whatever is visible is whole
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0 and "resuming from step" in resumed.stderr
    assert_same_weights(tmp_path / "straight", tmp_path / "killed")


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
