"""Throughput of the hash autoencoder at scale on this machine's device (GPU when present).

Writes a table of --images random 64x64 images (content does not change the arithmetic), then times
one training epoch and the hashing of every image through the stage functions, streaming from disk.

    python benchmarks/dedup_scale.py [--images 200000] [--batch-size 64 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from dcgan.dedup.settings import AutoencoderSettings
from dcgan.dedup.stages import hash_stage, train_stage
from dcgan.device import pick_device
from dcgan.table import PartWriter, part_prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "images"
        with PartWriter(part_prefix(table, 0), 64, ("key",)) as writer:
            block = rng.integers(0, 256, (1000, 64, 64, 3), dtype=np.uint8)
            for i in range(args.images):
                writer.add(block[i % 1000], (f"k{i}",))
            writer.finish("benchmark", {})
        print(f"device: {pick_device()}; {args.images} images; {args.threads} CPU threads")
        for batch in args.batch_size:
            settings = AutoencoderSettings(epochs=1, min_steps=0, batch_size=batch)
            start = time.perf_counter()
            train_stage(table, 1, Path(tmp) / "ae.pt", settings, threads=args.threads)
            rate = args.images / (time.perf_counter() - start)
            print(f"train, batch {batch:>4}: {rate:>9.0f} images/s  (3,033,042 images: {3033042 / rate / 60:.1f} min per epoch)")
        done = hash_stage(table, 0, Path(tmp) / "hashes.npy", "autoencoder", Path(tmp) / "ae.pt", threads=args.threads)
        print(f"hash: {done['images_per_second']:>9.0f} images/s")


if __name__ == "__main__":
    main()
