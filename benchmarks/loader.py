"""Training input throughput: the in-memory path and our shard loader vs the ImageFolder way.

Builds a demo LMDB, extracts it into a 64x64 image table, writes the same images (a) as our WebDataset
shards (JPEG q95) and (b) as one PNG file per image, then times one epoch of batches of 128 float NCHW
tensors in [-1, 1] through each, with 1, 2 and 4 DataLoader workers, in one process. Then, per core
(images per CPU-second of the process and its workers, one thread), the shard loader with one worker
against the in-memory path (`train.data: memory`: the same shards decoded once, batches gathered by
index from the memory-mapped array), and the one-time cost of decoding:

    python benchmarks/loader.py [--entries 6000] [--copies 4] [--workers 1 2 4]

--copies writes every image that many times (under new keys) so an epoch is long enough to time.
The last line is `in-memory / shard loader: <ratio>x (<a> vs <b> images/s)`, per core.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from dcgan.demo.lsun_lmdb import make_lsun_lmdb
from dcgan.files import write_tsv
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.sources.extract import extract_part
from dcgan.sources.settings import ExtractSettings
from dcgan.table import PartWriter, part_prefix, read_part
from dcgan.train.decoded import open_decoded, write_decoded
from dcgan.train.loader import Loader, ResidentLoader

BATCH = 128


class PngFolder(Dataset):
    """The common way: a list of image files, PIL decode, to a float tensor per image."""

    def __init__(self, paths: list[Path]):
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = np.array(Image.open(self.paths[index]).convert("RGB"))
        return torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1.0


def epoch_rate(batches) -> float:
    started, count = time.perf_counter(), 0
    for batch in batches:
        images = batch.images if hasattr(batch, "images") else batch
        count += len(images)
    return count / (time.perf_counter() - started)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the loader's workers, joined at an epoch's end)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def per_core_rate(loader) -> tuple[float, float]:
    """(images/s, images per CPU-second) of one epoch, after a warm one."""
    epoch_rate(loader)
    cpu, started = cpu_seconds(), time.perf_counter()
    count = sum(len(batch.images) for batch in loader)
    return count / (time.perf_counter() - started), count / (cpu_seconds() - cpu)


def compare_per_core(shards: Path, root: Path) -> None:
    """The shard loader (one worker) against the in-memory path on the same shards, per core."""
    started = time.perf_counter()
    write_decoded(shards, root / "decoded", 64, workers=1)
    decoded = open_decoded(shards, root / "decoded", 64)
    decode_seconds = time.perf_counter() - started
    shard_rate, shard_per_core = per_core_rate(Loader(shards, BATCH, workers=1, shuffle_buffer=1000))
    memory_rate, memory_per_core = per_core_rate(ResidentLoader(decoded, BATCH, placement="mapped"))
    print(
        f"\nper core, one thread, batch {BATCH} ({len(decoded.images)} images; decoding them once took "
        f"{decode_seconds:.1f} s, {len(decoded.images) / decode_seconds:,.0f} images/s):"
    )
    print(f"  shard loader, 1 worker: {shard_rate:,.0f} images/s, {shard_per_core:,.0f} per CPU-second")
    print(f"  in-memory (mapped):     {memory_rate:,.0f} images/s, {memory_per_core:,.0f} per CPU-second")
    print(
        f"in-memory / shard loader: {memory_per_core / shard_per_core:.1f}x "
        f"({memory_per_core:,.0f} vs {shard_per_core:,.0f} images/s)"
    )


def build_shards(root: Path, entries: int, copies: int) -> Path:
    """A demo LMDB extracted at 64x64, every image written `copies` times (under new keys; odd copies
    mirrored) into an image table and from it into shards: root / "shards"."""
    make_lsun_lmdb(root / "lmdb", entries=entries, seed=0)
    extract_part(root / "lmdb", root / "extracted", ExtractSettings())
    images, rows = read_part(part_prefix(root / "extracted", 0))
    with PartWriter(part_prefix(root / "images", 0), images.shape[1], ("key", "source", "width", "height")) as table:
        for copy in range(copies):
            for image, row in zip(images, rows, strict=True):
                table.add(
                    image if copy % 2 == 0 else image[:, ::-1],
                    (f"{row['key']}_{copy}", row["source"], row["width"], row["height"]),
                )
        table.finish("benchmark", {})
    write_tsv(root / "duplicates.tsv", ("key", "duplicate_of", "distance"), [])
    write_shards(
        root / "images",
        1,
        root / "duplicates.tsv",
        root / "shards",
        dataset="bench",
        settings=ShardSettings(samples_per_shard=2000),
    )
    return root / "shards"


def write_pngs(root: Path) -> list[Path]:
    """The image table that build_shards wrote, as one PNG file per image in root / "png"."""
    table_images, table_rows = read_part(part_prefix(root / "images", 0))
    (root / "png").mkdir()
    paths = []
    for image, row in zip(table_images, table_rows, strict=True):
        path = root / "png" / f"{row['key']}.png"
        cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=6000)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        shards = build_shards(Path(tmp), args.entries, args.copies)
        paths = write_pngs(Path(tmp))
        print(f"\n{len(paths)} images of 64x64, batch {BATCH}, {os.cpu_count()} CPUs; one epoch each")
        print(f"{'workers':>7} {'PNG files + PIL (img/s)':>24} {'our shards (img/s)':>19} {'ratio':>6}")
        for workers in args.workers:
            baseline = DataLoader(PngFolder(paths), batch_size=BATCH, shuffle=True, num_workers=workers)
            ours = Loader(shards, BATCH, workers=workers, shuffle_buffer=1000)
            base_rate, our_rate = epoch_rate(baseline), epoch_rate(ours)
            print(f"{workers:>7} {base_rate:>24,.0f} {our_rate:>19,.0f} {our_rate / base_rate:>5.1f}x")
        compare_per_core(shards, Path(tmp))


if __name__ == "__main__":
    main()
