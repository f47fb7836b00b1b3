"""WebDataset shards (stage 4) and the training loader, on image tables made here."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dcgan.errors import UserError
from dcgan.shards.reader import shard_samples, shard_urls, verify_shards
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.train.loader import Loader
from helpers import SIZE, make_table, write_duplicates


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    table, pixels = make_table(root, parts=3, per_part=70)
    removed = sorted(pixels)[5:40:3]
    duplicates = write_duplicates(root / "duplicates.tsv", removed, sorted(pixels)[0])
    meta = write_shards(table, 3, duplicates, root / "out", dataset="bed", settings=ShardSettings(samples_per_shard=40))
    kept = set(pixels) - set(removed)
    return {
        "root": root,
        "table": table,
        "pixels": pixels,
        "removed": set(removed),
        "kept": kept,
        "duplicates": duplicates,
        "out": root / "out",
        "meta": meta,
    }


def test_webdataset_reads_every_kept_key_once(sharded):
    import webdataset as wds

    urls = shard_urls(sharded["out"])
    assert len(urls) == sharded["meta"]["shards"] == -(-len(sharded["kept"]) // 40)
    keys, worst = Counter(), 0.0
    for sample in wds.WebDataset(urls, shardshuffle=False).decode("rgb8"):
        keys[sample["__key__"]] += 1
        assert sample["jpg"].shape == (SIZE, SIZE, 3)
        worst = max(worst, np.abs(sample["jpg"].astype(int) - sharded["pixels"][sample["__key__"]]).mean())
        meta = sample["json"]
        assert meta["dataset"] == "bed" and meta["source"] == f"src/{sample['__key__']}.jpg" and "box" not in meta
    assert set(keys) == sharded["kept"] and set(keys.values()) == {1}
    assert worst < 3.0  # JPEG q95 of the table's pixels


def test_a_range_of_a_shards_samples_equals_that_slice_of_them_all(sharded):
    url = shard_urls(sharded["out"])[0]
    everything = list(shard_samples(url))
    assert len(everything) == 40 and all({"jpg", "json"} <= set(s) for s in everything)
    for start, stop in [(0, 40), (3, 7), (39, None), (12, 12)]:
        assert list(shard_samples(url, start, stop)) == everything[start:stop]


def test_wids_reads_the_index(sharded):
    import wids

    dataset = wids.ShardListDataset(
        str(sharded["out"] / "index.json"), cache_dir=str(sharded["root"] / "wids-cache"), transformations=[]
    )
    assert len(dataset) == len(sharded["kept"])
    samples = [dataset[i] for i in range(len(dataset))]
    assert sorted(s["__key__"] for s in samples) == sorted(sharded["kept"])
    for s in samples[:10]:
        image = cv2.imdecode(np.frombuffer(s[".jpg"].read(), np.uint8), cv2.IMREAD_COLOR_RGB)
        assert np.abs(image.astype(int) - sharded["pixels"][s["__key__"]]).mean() < 3.0


def test_shards_are_shuffled_and_byte_identical_on_rerun(sharded, tmp_path):
    again = write_shards(
        sharded["table"],
        3,
        sharded["duplicates"],
        tmp_path / "again",
        dataset="bed",
        settings=ShardSettings(samples_per_shard=40),
    )
    assert again["shards"] == sharded["meta"]["shards"]
    for url in shard_urls(sharded["out"]):
        name = Path(url).name
        assert (
            hashlib.sha256(Path(url).read_bytes()).digest()
            == hashlib.sha256((tmp_path / "again" / name).read_bytes()).digest()
        )
    with tarfile.open(shard_urls(sharded["out"])[0]) as tar:
        first = [name.split(".")[0] for name in tar.getnames() if name.endswith(".jpg")]
    assert first != sorted(first)  # globally shuffled, not in table order
    reseeded = write_shards(
        sharded["table"],
        3,
        sharded["duplicates"],
        tmp_path / "seed1",
        dataset="bed",
        settings=ShardSettings(samples_per_shard=40, seed=1),
    )
    assert reseeded["images"] == again["images"]
    assert (tmp_path / "seed1" / "bed-000000.tar").read_bytes() != (tmp_path / "again" / "bed-000000.tar").read_bytes()


def test_face_boxes_in_metadata(tmp_path):
    import webdataset as wds

    table, pixels = make_table(tmp_path, parts=1, per_part=5, faces=True)
    duplicates = write_duplicates(tmp_path / "duplicates.tsv", [], "")
    write_shards(table, 1, duplicates, tmp_path / "out", dataset="faces", settings=ShardSettings(format="png"))
    samples = list(wds.WebDataset(shard_urls(tmp_path / "out"), shardshuffle=False).decode("rgb8"))
    assert {s["__key__"] for s in samples} == set(pixels)
    for s in samples:
        assert (
            s["json"]["box"] == [10.5, 12.0, 40.0, 40.0]
            and s["json"]["score"] == 0.93
            and s["json"]["sharpness"] == 812.5
        )
        assert np.array_equal(s["png"], pixels[s["__key__"]])  # png is lossless


def test_verify_shards_reports_the_first_mismatch(sharded, tmp_path):
    import shutil

    assert verify_shards(sharded["out"]) == {"shards": sharded["meta"]["shards"], "samples": len(sharded["kept"])}
    copy = tmp_path / "copy"
    shutil.copytree(sharded["out"], copy)
    victim = copy / "bed-000001.tar"
    data = bytearray(victim.read_bytes())
    data[700] ^= 0xFF
    victim.write_bytes(bytes(data))
    run = subprocess.run([sys.executable, "-m", "dcgan", "verify-shards", str(copy)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "bed-000001.tar: sha256" in run.stderr and "Traceback" not in run.stderr
    victim.unlink()
    with pytest.raises(UserError, match="bed-000001.tar: missing"):
        verify_shards(copy)


def test_nothing_to_shard_is_a_clear_error(tmp_path):
    table, pixels = make_table(tmp_path, parts=1, per_part=3)
    duplicates = write_duplicates(tmp_path / "duplicates.tsv", sorted(pixels), "elsewhere")
    with pytest.raises(UserError, match="no images left to shard"):
        write_shards(table, 1, duplicates, tmp_path / "out", dataset="bed", settings=ShardSettings())
    assert not (tmp_path / "out").exists()


def keys_seen(loader: Loader) -> list[str]:
    return [k for batch in loader for k in batch.keys]


@pytest.mark.parametrize("samples_per_shard", [40, 1000])  # 5 shards, then 1 shard for 4 slices
def test_two_ranks_two_workers_see_disjoint_samples_covering_the_set(sharded, tmp_path, samples_per_shard):
    out = sharded["out"]
    if samples_per_shard != 40:
        out = tmp_path / "one"
        write_shards(
            sharded["table"],
            3,
            sharded["duplicates"],
            out,
            dataset="bed",
            settings=ShardSettings(samples_per_shard=samples_per_shard),
        )
    per_rank = [
        keys_seen(Loader(out, 16, workers=2, rank=r, world_size=2, seed=3, shuffle_buffer=50)) for r in range(2)
    ]
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == sorted(sharded["kept"])


def test_loader_batches_order_and_epochs(sharded):
    loader = Loader(sharded["out"], 32, workers=2, seed=7, shuffle_buffer=64, flip=True)
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
)  # 198 samples; 4 x 7: 49 or 50
def test_every_rank_gets_the_same_number_of_batches_and_every_sample_once(sharded, world_size, batch_size, workers):
    loaders = [
        Loader(sharded["out"], batch_size, workers=workers, rank=r, world_size=world_size, seed=1, shuffle_buffer=30)
        for r in range(world_size)
    ]
    batches = [[b.keys for b in loader] for loader in loaders]
    assert {len(per_rank) for per_rank in batches} == {len(loaders[0])}  # DDP steps in lockstep
    assert all(0 < len(keys) <= batch_size + 1 for per_rank in batches for keys in per_rank)  # 50 = 6 x 7 + 8
    seen = [k for per_rank in batches for keys in per_rank for k in keys]
    assert sorted(seen) == sorted(sharded["kept"])
    shares = sorted(sum(map(len, per_rank)) for per_rank in batches)
    assert shares[-1] - shares[0] <= 1


def test_missing_or_empty_shard_sets(tmp_path):
    with pytest.raises(UserError, match="shard not found"):
        Loader(tmp_path / "nothing-{000000..000002}.tar", 8, shuffle_buffer=50)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no shards"):
        Loader(tmp_path / "empty", 8, shuffle_buffer=50)
    run = subprocess.run(
        [sys.executable, "-m", "dcgan", "verify-shards", str(tmp_path / "empty")], capture_output=True, text=True
    )
    assert run.returncode == 2 and "manifest.tsv: missing" in run.stderr


def test_index_is_wids_format(sharded):
    index = json.loads((sharded["out"] / "index.json").read_text())
    assert index["__kind__"] == "wids-shard-index-v1"
    assert sum(s["nsamples"] for s in index["shardlist"]) == len(sharded["kept"])
    for s in index["shardlist"]:
        data = (sharded["out"] / s["url"]).read_bytes()
        assert s["filesize"] == len(data) and s["md5sum"] == hashlib.md5(data).hexdigest()
