"""Stage 1 for image folders (`source: images`): listing, min-resized centre crops, classes, rejects."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import cv2
import numpy as np
import pytest

from dcgan.demo.image_folder import BAD_FILES, make_image_folder
from dcgan.files import write_tsv
from dcgan.imageops import decode_square
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.sources.images import class_of, extract_images_part
from dcgan.sources.listing import write_list
from dcgan.sources.settings import ExtractSettings
from dcgan.summary import reason_category, summarise_table
from dcgan.table import part_prefix, read_part, read_rejects

SIZE = 64


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The demo's image folder (12 classes of oblong photo windows, a few too small, the bad files)."""
    root = tmp_path_factory.mktemp("folder")
    truth = make_image_folder(root / "train", per_class=8, seed=5)
    write_list(root / "train", root / "inputs.txt")
    return root, truth


def extract_all(root, table, parts: int, **options) -> tuple[dict, dict, dict]:
    """Kept rows by source path, their pixels, and rejects (path -> reason), over every part."""
    rows, pixels, rejects = {}, {}, {}
    for part in range(parts):
        extract_images_part(
            root / "inputs.txt", table, ExtractSettings(part=part, parts=parts, image_size=SIZE, **options)
        )
        images, part_rows = read_part(part_prefix(table, part))
        for image, row in zip(images, part_rows, strict=True):
            rows[row["source"]] = row
            pixels[row["source"]] = image
        rejects.update({r["key"]: r["reason"] for r in read_rejects(part_prefix(table, part))})
    return rows, pixels, rejects


@pytest.mark.parametrize("parts", [1, 3])
def test_every_file_is_kept_with_its_class_or_rejected_with_its_reason(folder, tmp_path, parts):
    root, truth = folder
    rows, pixels, rejects = extract_all(root, tmp_path / "table", parts)
    big_enough = {p for p, info in truth["images"].items() if min(info["width"], info["height"]) >= SIZE}
    assert set(rows) == big_enough and 0 < len(truth["images"]) - len(big_enough) < len(truth["images"]) // 4
    for path, row in rows.items():
        info = truth["images"][path]
        assert row["class"] == info["class"] == path.split("/")[0]
        assert (int(row["width"]), int(row["height"])) == (info["width"], info["height"])
        assert row["format"] == info["format"] and pixels[path].shape == (SIZE, SIZE, 3)
    expected = {p: "too small" for p in set(truth["images"]) - big_enough}
    expected.update({p: kind for p, kind in BAD_FILES.items() if kind != "hidden"})
    expected = {p: {"empty": "empty value"}.get(kind, kind) for p, kind in expected.items()}
    assert {p: reason_category(r) for p, r in rejects.items()} == expected  # the hidden file is never listed
    summary = summarise_table(tmp_path / "table", parts)
    assert summary["classes"] == {c: sum(r["class"] == c for r in rows.values()) for c in summary["classes"]}
    assert len(summary["classes"]) == 12 and summary["images"] == len(rows)


def test_pixels_are_the_shared_decode_path_and_the_crop_is_the_centre_square(folder, tmp_path):
    root, truth = folder
    rows, pixels, _ = extract_all(root, tmp_path / "table", 2)
    for path in list(rows)[:10]:
        expected, *_ = decode_square((root / "train" / path).read_bytes(), size=SIZE, min_side=SIZE)
        assert np.array_equal(pixels[path], expected)
    # a wide image: red sides, a green centre square; the crop must be all green
    wide = np.zeros((120, 300, 3), np.uint8)
    wide[:, :, 2] = 255
    wide[:, 90:210] = (0, 255, 0)
    (root / "wide").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "wide" / "wide.png"), wide)
    (root / "list.txt").write_text(f"{root / 'wide' / 'wide.png'}\n")
    write_list(root / "list.txt", tmp_path / "inputs.txt")
    extract_images_part(tmp_path / "inputs.txt", tmp_path / "wide", ExtractSettings(image_size=SIZE))
    [image], [row] = read_part(part_prefix(tmp_path / "wide", 0))
    assert row["class"] == "wide" and image[..., 1].min() > 240 and image[..., 0].max() < 15  # RGB: green only


def test_class_is_the_first_folder_under_the_root():
    assert class_of("n01440764/n01440764_10026.JPEG") == "n01440764"
    assert class_of("n01440764/extra/x.JPEG") == "n01440764"
    assert class_of("top_level.jpg") == ""
    assert class_of("/data/imagenet/n015/x.JPEG") == "n015"  # an absolute path in a list file


def test_max_images_is_exact_with_more_parts_than_images(folder, tmp_path):
    root, _ = folder
    rows, _, _ = extract_all(root, tmp_path / "table", 8, max_images=3)
    assert len(rows) == 3


def test_max_images_and_determinism(folder, tmp_path):
    root, _ = folder
    first, _, _ = extract_all(root, tmp_path / "a", 3, max_images=20)
    assert len(first) == 20
    extract_all(root, tmp_path / "b", 3, max_images=20)
    for part in range(3):
        for suffix in (".npy", ".tsv", ".rejects.tsv"):
            a, b = part_prefix(tmp_path / "a", part), part_prefix(tmp_path / "b", part)
            assert a.with_suffix(suffix).read_bytes() == b.with_suffix(suffix).read_bytes()


def test_shards_carry_the_class(folder, tmp_path):
    root, _ = folder
    rows, _, _ = extract_all(root, tmp_path / "table", 2)
    write_tsv(tmp_path / "dups.tsv", ("key", "duplicate_of", "distance"), [])
    write_shards(
        tmp_path / "table",
        2,
        tmp_path / "dups.tsv",
        tmp_path / "shards",
        dataset="photos",
        settings=ShardSettings(samples_per_shard=40),
    )
    classes = {}
    for shard in sorted((tmp_path / "shards").glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".json"):
                    meta = json.loads(tar.extractfile(member).read())
                    classes[meta["source"]] = meta["class"]
    assert classes == {path: row["class"] for path, row in rows.items()}


def test_cli_extracts_and_names_a_missing_folder(folder, tmp_path):
    root, _ = folder
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcgan",
            "extract-images",
            str(root / "inputs.txt"),
            str(tmp_path / "t"),
            "--part",
            "1",
            "--parts",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "images in 6 classes" in done.stdout, done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "dcgan", "list-images", str(tmp_path / "nowhere"), str(tmp_path / "l.txt")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "nowhere" in missing.stderr and "Traceback" not in missing.stderr
