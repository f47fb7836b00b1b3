"""The training loaders (dcgan.train.loader) and the choice between them (dcgan.train.inputs): the decoded
set, the resident loader, the captured step's static-buffer path and the shard loader, on shards made here."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from unittest.mock import patch

import cv2
import numpy as np
import pytest
import torch
from webdataset import TarWriter

from dcgan.cli import main
from dcgan.errors import UserError
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.train.decoded import open_decoded, write_decoded
from dcgan.train.inputs import choose_data, fewest_free_bytes
from dcgan.train.loader import Loader, ResidentLoader
from dcgan.train.loop import train
from dcgan.train.model import build, sample_z
from dcgan.train.settings import ModelSettings, TrainSettings
from dcgan.train.steps import CapturedSteps, GanSteps, Speed, resolve_speed
from dcgan.train.tracking import keys_digest
from helpers import SIZE, make_table, write_duplicates

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> dict:
    """113 kept images in shards of 25 (the last one short), with the table's pixels by key."""
    root = tmp_path_factory.mktemp("resident")
    table, pixels = make_table(root, parts=2, per_part=60)
    removed = sorted(pixels)[:7]
    duplicates = write_duplicates(root / "dups.tsv", removed, sorted(pixels)[7])
    write_shards(table, 2, duplicates, root / "shards", dataset="r", settings=ShardSettings(samples_per_shard=25))
    kept = {k: v for k, v in pixels.items() if k not in removed}
    return {"root": root, "table": table, "duplicates": duplicates, "shards": root / "shards", "pixels": kept}


def decode(shard_dir: Path, folder: Path, size: int = SIZE, workers: int = 0):
    write_decoded(shard_dir, folder, size, workers=workers)
    return open_decoded(shard_dir, folder, size)


def shard_keys_in_order(shard_dir: Path) -> list[str]:
    """The samples' keys in index order, read with tarfile (not the code under test)."""
    keys = []
    for entry in json.loads((shard_dir / "index.json").read_text())["shardlist"]:
        with tarfile.open(shard_dir / entry["url"]) as tar:
            keys += [name.rpartition(".")[0] for name in tar.getnames() if name.endswith(".jpg")]
    return keys


def test_the_decoded_set_is_the_shards_pixels_byte_identical_whatever_the_workers(sharded, tmp_path):
    serial = decode(sharded["shards"], tmp_path / "serial", workers=0)
    parallel = decode(sharded["shards"], tmp_path / "parallel", workers=2)
    for name in (f"images-{SIZE}.npy", f"keys-{SIZE}.txt"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "parallel" / name).read_bytes()
    keys = (tmp_path / "serial" / f"keys-{SIZE}.txt").read_text().split()
    assert keys == shard_keys_in_order(sharded["shards"]) and len(keys) == 113
    assert serial.images.shape == (113, SIZE, SIZE, 3) and parallel.rejects == 0
    worst = max(np.abs(serial.images[i].astype(int) - sharded["pixels"][k]).mean() for i, k in enumerate(keys))
    assert worst < 3.0  # the JPEG q95 of the table's pixels, in RGB
    stamp = (tmp_path / "serial" / f"images-{SIZE}.npy").stat().st_mtime_ns
    again = decode(sharded["shards"], tmp_path / "serial")  # made from these shards: reused as it is
    assert (tmp_path / "serial" / f"images-{SIZE}.npy").stat().st_mtime_ns == stamp
    assert np.array_equal(again.images, serial.images)
    half = decode(sharded["shards"], tmp_path / "serial", size=SIZE // 2)  # another size: its own files
    expected = cv2.resize(serial.images[0], (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_AREA)
    assert (
        half.images.shape[1:] == (SIZE // 2, SIZE // 2, 3) and np.abs(half.images[0].astype(int) - expected).max() <= 2
    )


def test_an_undecodable_sample_is_left_out_with_a_line_and_the_rest_kept(sharded, tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    good = cv2.imencode(".jpg", sharded["pixels"][next(iter(sharded["pixels"]))])[1].tobytes()
    with open(folder / "bad-000000.tar", "wb") as f, TarWriter(f, encoder=False) as tar:
        for i in range(5):
            tar.write({"__key__": f"s{i}", "jpg": b"\xff\xd8 not a jpeg" if i == 2 else good, "json": b"{}"})
    (folder / "index.json").write_text(json.dumps({"shardlist": [{"url": "bad-000000.tar", "nsamples": 5}]}))
    decoded = decode(folder, tmp_path / "decoded")
    assert decoded.rejects == 1 and len(decoded.images) == 4
    assert (tmp_path / "decoded" / f"keys-{SIZE}.txt").read_text().split() == ["s0", "s1", "s3", "s4"]
    rejects = (tmp_path / "decoded" / f"rejects-{SIZE}.tsv").read_text().splitlines()
    assert rejects[1].startswith("s2\tundecodable image in sample s2")
    assert "1 undecodable sample(s) left out" in capsys.readouterr().err
    assert all(np.abs(image.astype(int) - decoded.images[0]).max() == 0 for image in decoded.images)


@pytest.mark.parametrize("world_size, batch_size", [(2, 8), (3, 16), (4, 7)])  # 113 = 56 + 57; 37/38; 28/29
def test_ranks_take_every_sample_once_per_epoch_in_equal_batch_counts(sharded, tmp_path, world_size, batch_size):
    decoded = decode(sharded["shards"], tmp_path)
    loaders = [
        ResidentLoader(decoded, batch_size, placement="mapped", rank=r, world_size=world_size, seed=3)
        for r in range(world_size)
    ]
    batches = [list(loader) for loader in loaders]
    assert {len(per_rank) for per_rank in batches} == {len(loaders[0])} == {-(-(113 // world_size) // batch_size)}
    assert all(0 < len(b.keys) <= batch_size + 1 for per_rank in batches for b in per_rank)
    seen = [k for per_rank in batches for b in per_rank for k in b.keys]
    assert sorted(seen) == sorted(sharded["pixels"])
    assert all(b.digest == keys_digest(b.keys) for per_rank in batches for b in per_rank)
    shares = sorted(sum(len(b.keys) for b in per_rank) for per_rank in batches)
    assert shares[-1] - shares[0] <= 1


def test_resident_batches_are_the_images_in_a_new_order_each_epoch_with_flips(sharded, tmp_path):
    loader = ResidentLoader(
        decode(sharded["shards"], tmp_path),
        32,
        placement="mapped",
        seed=7,
        flip=True,
        layout=torch.channels_last,
    )
    batches = list(loader)
    assert all(
        b.images.dtype == torch.float32 and b.images.is_contiguous(memory_format=torch.channels_last) for b in batches
    )
    flipped = 0
    for batch in batches:
        for key, image in zip(batch.keys, batch.images, strict=True):
            table = torch.from_numpy(sharded["pixels"][key]).permute(2, 0, 1).float() / 127.5 - 1
            straight, mirrored = (image - table).abs().mean(), (image - table.flip(-1)).abs().mean()
            assert min(straight, mirrored) < 0.03  # the JPEG of the table's pixels, mirrored or not
            flipped += mirrored < straight
    assert 0.3 < flipped / 113 < 0.7
    first = [k for b in batches for k in b.keys]
    assert [k for b in loader for k in b.keys] == first  # the same epoch, the same order
    loader.set_epoch(1)
    assert [k for b in loader for k in b.keys] != first


def test_auto_trains_from_memory_when_the_set_fits_and_from_shards_when_not_and_graphs_never_from_shards():
    assert choose_data("auto", 1000, 64, None) == ("memory", "mapped")
    assert choose_data("auto", 10**12, 64, None) == ("shards", None)  # 12 PB
    assert choose_data("shards", 1000, 64, None) == ("shards", None)
    assert choose_data("memory", 10**12, 64, None) == ("memory", "mapped")  # asked for: mapped, with a warning
    # A captured step never reads shards: its capture would race the DataLoader's pin-memory thread.
    assert choose_data("auto", 10**12, 64, None, captured=True) == ("memory", "mapped")
    with pytest.raises(UserError, match="train.graphs: on needs the training set in memory .*this run: train.data sh"):
        choose_data("shards", 1000, 64, None, captured=True)


class TwoRanks:
    """Rank 0 of two, on a CPU, whose other rank reports `other` free GPU bytes (no process group needed)."""

    device = CPU

    def __init__(self, other: int):
        self.other = other

    def gather(self, value) -> list:
        return [value, self.other]


def test_the_set_goes_on_the_gpu_only_when_it_fits_on_every_rank():
    needed = 1000 * 64 * 64 * 3  # the decoded set: 12.3 MB
    assert choose_data("auto", 1000, 64, 4 * needed) == ("memory", "device")
    assert choose_data("memory", 1000, 64, needed) == ("memory", "mapped")  # more than half of what is free
    # Each rank holds its own copy: the rank with the least free memory decides for all.
    roomy, cramped = 10**12, needed
    assert fewest_free_bytes(TwoRanks(cramped)) is None  # this rank is a CPU: no GPU copy anywhere
    with patch("dcgan.train.inputs.device_free_bytes", return_value=roomy):
        fewest = fewest_free_bytes(TwoRanks(cramped))
    assert fewest == cramped and choose_data("auto", 1000, 64, fewest) == ("memory", "mapped")


def test_memory_and_shards_train_on_the_same_keys_every_epoch(sharded, tmp_path):
    model = ModelSettings(image_size=SIZE, ngf=8, ndf=8)
    settings = {
        "batch_size": 16,
        "epochs": 2,
        "workers": 1,
        "shuffle_buffer": 50,
        "log_every": 2,
        "checkpoint_every": 100,
    }
    records = {
        data: train(sharded["shards"], tmp_path / data, model, TrainSettings(**settings, data=data))
        for data in ("memory", "shards")
    }
    assert records["memory"]["data"]["mode"] == "memory" and records["shards"]["data"] == {"mode": "shards"}
    [memory], [shards] = records["memory"]["epochs"], records["shards"]["epochs"]
    assert memory == shards and (memory["first"], memory["last"]) == (0, 1)
    assert memory["keys_digest"] == f"{keys_digest(sharded['pixels']):016x}" and memory["samples"] == 113
    assert records["memory"]["steps"] == records["shards"]["steps"] == 2 * 8


def test_training_reads_the_decode_commands_set_and_refuses_one_of_other_shards(sharded, tmp_path, capsys):
    folder, shards = tmp_path / "decoded", sharded["shards"]
    assert main(["decode", str(shards), "--out", str(folder), "--size", str(SIZE)]) == 0
    assert f"113 images decoded at {SIZE}x{SIZE}, 0 rejects" in capsys.readouterr().out
    model = ModelSettings(image_size=SIZE, ngf=8, ndf=8)
    settings = TrainSettings(batch_size=16, max_steps=2, data="memory", workers=1, shuffle_buffer=50, log_every=1)
    record = train(shards, tmp_path / "train", model, settings, decoded=folder)
    assert record["data"]["decoded"] == str(folder / f"images-{SIZE}.npy")
    assert not (tmp_path / "train" / "decoded").exists()  # the train job decodes nothing itself
    shard = next(shards.glob("*.tar"))
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))  # rewritten since
    again = ["train", str(shards), "--out", str(tmp_path / "again"), "--decoded", str(folder), "--data", "memory"]
    assert main([*again, "--image-size", str(SIZE), "--ngf", "8", "--ndf", "8", "--max-steps", "1"]) == 2
    assert f"{folder}: not the decoded set of {shards} at {SIZE}x{SIZE}" in capsys.readouterr().err


def eager_and_static_weights(batches: list[torch.Tensor]) -> list[dict]:
    """Weights after the same batches through GanSteps and through CapturedSteps' static buffers (d_steps
    and g_steps 2, so the pre-drawn noise is used three times an iteration)."""
    model = ModelSettings(image_size=16, ngf=4, ndf=4)
    settings = TrainSettings(batch_size=8, d_steps=2, g_steps=2)
    speed = Speed(precision="fp32", memory_format="channels_last", compile="eager", adam="foreach")
    weights = []
    for captured in (False, True):
        torch.manual_seed(0)
        g, d = build(model)
        steps = GanSteps(g, d, settings, speed, CPU)
        iterate = CapturedSteps(steps, warmup=1).iteration if captured else steps.iteration
        rng = torch.Generator().manual_seed(1)
        for real in batches:
            losses = iterate(real, lambda n, rng=rng: sample_z(n, model, rng, CPU))
            assert torch.isfinite(losses).all()
        weights.append({**g.state_dict(), **{f"d.{k}": v for k, v in d.state_dict().items()}})
    return weights


def test_the_captured_steps_static_buffers_train_exactly_as_eager_steps():
    rng = torch.Generator().manual_seed(2)
    sizes = [8, 8, 8, 5, 8, 9, 8]  # warm-up, record, replays, an epoch's shorter and longer last batches
    batches = [torch.rand(n, 3, 16, 16, generator=rng).mul(2).sub(1) for n in sizes]
    eager, static = eager_and_static_weights(batches)
    assert eager.keys() == static.keys()
    assert all(torch.equal(eager[k], static[k]) for k in eager), "static-buffer steps diverged from eager ones"


def test_graphs_resolve_off_on_a_cpu_and_on_is_a_clear_error_there():
    assert resolve_speed(TrainSettings(), CPU).graphs == "off"
    with pytest.raises(UserError, match="graphs: on needs one training process on a CUDA GPU"):
        resolve_speed(TrainSettings(graphs="on"), CPU)


def test_memory_needs_an_indexed_shard_folder(sharded, tmp_path):
    pattern = str(sharded["shards"] / "r-{000000..000004}.tar")
    with pytest.raises(UserError, match="needs a shard folder with its index.json"):
        train(
            pattern, tmp_path, ModelSettings(image_size=SIZE, ngf=8, ndf=8), TrainSettings(data="memory", max_steps=1)
        )
    assert Loader(pattern, 8, shuffle_buffer=50).samples == 113  # the shard loader takes a pattern


# The shard loader


def keys_seen(loader: Loader) -> list[str]:
    return [k for batch in loader for k in batch.keys]


@pytest.mark.parametrize("samples_per_shard", [25, 1000])  # 5 shards, then 1 shard for 4 slices
def test_two_ranks_two_workers_see_disjoint_samples_covering_the_set(sharded, tmp_path, samples_per_shard):
    out = sharded["shards"]
    if samples_per_shard != 25:
        out = tmp_path / "one"
        write_shards(
            sharded["table"],
            2,
            sharded["duplicates"],
            out,
            dataset="r",
            settings=ShardSettings(samples_per_shard=samples_per_shard),
        )
    per_rank = [
        keys_seen(Loader(out, 16, workers=2, rank=r, world_size=2, seed=3, shuffle_buffer=50)) for r in range(2)
    ]
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == sorted(sharded["pixels"])


def test_loader_batches_order_and_epochs(sharded):
    loader = Loader(sharded["shards"], 32, workers=2, seed=7, shuffle_buffer=64, flip=True)
    batches = list(loader)
    assert all(b.images.dtype == torch.float32 and b.images.shape[1:] == (3, SIZE, SIZE) for b in batches)
    assert max(len(b.keys) for b in batches) == 32
    images = torch.cat([b.images for b in batches])
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.2
    # flips: about half the images come back mirrored (compare with the table's pixels)
    flipped = 0
    for batch in batches:
        for key, image in zip(batch.keys, batch.images, strict=True):
            table = torch.from_numpy(sharded["pixels"][key]).permute(2, 0, 1).float() / 127.5 - 1
            if (image - table.flip(-1)).abs().mean() < (image - table).abs().mean():
                flipped += 1
    assert 0.3 < flipped / len(images) < 0.7
    assert keys_seen(loader) == [k for b in batches for k in b.keys]  # the same epoch, the same order
    loader.set_epoch(1)
    assert keys_seen(loader) != [k for b in batches for k in b.keys]


@pytest.mark.parametrize(
    "world_size, batch_size, workers", [(3, 8, 2), (2, 20, 0), (4, 7, 1)]
)  # 113 samples; 4 x 7: 28 or 29
def test_every_rank_gets_the_same_number_of_batches_and_every_sample_once(sharded, world_size, batch_size, workers):
    loaders = [
        Loader(sharded["shards"], batch_size, workers=workers, rank=r, world_size=world_size, seed=1, shuffle_buffer=30)
        for r in range(world_size)
    ]
    batches = [[b.keys for b in loader] for loader in loaders]
    assert {len(per_rank) for per_rank in batches} == {len(loaders[0])}  # DDP steps in lockstep
    assert all(0 < len(keys) <= batch_size + 1 for per_rank in batches for keys in per_rank)  # 29 = 3 x 7 + 8
    seen = [k for per_rank in batches for keys in per_rank for k in keys]
    assert sorted(seen) == sorted(sharded["pixels"])
    shares = sorted(sum(map(len, per_rank)) for per_rank in batches)
    assert shares[-1] - shares[0] <= 1


def test_missing_or_empty_shard_sets(tmp_path):
    with pytest.raises(UserError, match="shard not found"):
        Loader(tmp_path / "nothing-{000000..000002}.tar", 8, shuffle_buffer=50)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no shards"):
        Loader(tmp_path / "empty", 8, shuffle_buffer=50)
