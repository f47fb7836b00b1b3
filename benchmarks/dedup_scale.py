"""Throughput of the hash autoencoder on this machine's device (the GPU when there is one).

Writes a table of --images random 64x64 images (content does not change the arithmetic), then times the
training budget (the defaults: a 100,000-image sample, 2,000 steps) and the hashing of every image with
one view and with 19 views, through the stage functions, streaming from disk.

    python benchmarks/dedup_scale.py [--images 200000] [--batch-size 64 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from dcgan.dedup.settings import AutoencoderSettings, HashSettings
from dcgan.dedup.stages import hash_stage, train_stage
from dcgan.device import pick_device
from dcgan.table import PartWriter, part_prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--threads", type=int, default=1)
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
            start = time.perf_counter()
            meta = train_stage(
                table, 1, Path(tmp) / "ae.pt", AutoencoderSettings(batch_size=batch), threads=args.threads
            )
            seconds = time.perf_counter() - start
            print(
                f"train, batch {batch:>4}: {meta['steps']} steps on a {meta['sample']}-image sample in {seconds:.1f} s "
                f"(sample prepared in {meta['prepare_seconds']:.1f} s; "
                f"{meta['steps'] / (seconds - meta['prepare_seconds']):.0f} steps/s)"
            )
        for views in (0, 2):
            done = hash_stage(
                table, 0, Path(tmp) / "hashes.npy", HashSettings(views=views), Path(tmp) / "ae.pt", threads=args.threads
            )
            print(f"hash, {done['views']:>2} views: {done['images_per_second']:>9.0f} images/s")


if __name__ == "__main__":
    main()
