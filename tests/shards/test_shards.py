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

from dcgan.errors import UserError
from dcgan.shards.reader import shard_samples, shard_urls, verify_shards
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
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


def test_verify_shards_of_an_empty_folder_names_the_missing_manifest(tmp_path):
    (tmp_path / "empty").mkdir()
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
