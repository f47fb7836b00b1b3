"""Hashing under 19 views, per core: the dense baseline against the shipped path, in one process.

Baseline (the hashing before issue 27): each view as two dense products (all 64 input rows and columns
weigh in, though an output pixel touches about three), float-to-byte rounding in torch, the 1st/99th
percentiles from a radix sort of every view's 3,072 bytes. Shipped (`dcgan.dedup.views.hash_views`): row
products in bands of the input rows they touch, OpenCV's one-pass rounding, percentiles from per-row
histograms. Both feed the same encoder; the codes must be identical, and the script stops if not.

Two tables, so no one image source decides: the demo's LSUN-style photos and the scale benchmark's own
generated rooms. Each is hashed `--repeats` times by each path, interleaved, and the best pass counts
(this VM's neighbours make single timings noisy). One thread.

    python benchmarks/dedup_hash.py [--entries 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dcgan.dedup import autoencoder
from dcgan.dedup.hashers import make_hasher
from dcgan.dedup.inputs import REFERENCE_SIZE, SIDE, area_weights, part_images, to_vectors
from dcgan.dedup.settings import AutoencoderSettings
from dcgan.dedup.stages import train_stage
from dcgan.dedup.views import hash_views, view_margins
from dcgan.demo.lsun_lmdb import make_lsun_lmdb
from dcgan.sources.extract import extract_part
from dcgan.sources.settings import ExtractSettings

sys.path.insert(0, str(Path(__file__).parent))
from scale import make_lmdb  # noqa: E402  (the scale benchmark's generator)

CHUNK = 33  # images a batch, as `dcgan dedup hash` takes them on the CPU (640 rows / 19 views)


def dense_views(images: np.ndarray, margins: list) -> torch.Tensor:
    """(N, views, 32, 3, 32) uint8 by two dense products a view (the baseline resampling)."""
    n, size = images.shape[:2]
    scale = size / REFERENCE_SIZE
    row_trims = sorted({m[:2] for m in margins})
    rows = torch.from_numpy(np.concatenate([area_weights(size, t * scale, b * scale) for t, b in row_trims]))
    pixels = torch.empty((size, n, 3, size)).copy_(torch.from_numpy(images.copy()).permute(1, 0, 3, 2))
    trimmed = (rows @ pixels.view(size, -1)).view(len(row_trims), SIDE * n * 3, size)
    out = torch.empty((n, len(margins), SIDE, 3, SIDE), dtype=torch.uint8)
    for v, m in enumerate(margins):
        cols = torch.from_numpy(area_weights(size, m[2] * scale, m[3] * scale).T.copy())
        out[:, v].copy_((trimmed[row_trims.index(m[:2])] @ cols).round_().view(SIDE, n, 3, SIDE).permute(1, 0, 2, 3))
    return out


def sorted_bounds(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """np.percentile's 1st and 99th percentiles of each uint8 row from a radix sort (the baseline)."""
    ordered = torch.from_numpy(np.sort(rows.numpy(), axis=1, kind="stable")).float()
    bounds = []
    for q in (1, 99):
        position = (rows.shape[1] - 1) * (q / 100)
        below, gamma = int(position), position - int(position)
        a, b = ordered[:, below], ordered[:, below + 1]
        bounds.append(b - (b - a) * np.float32(1 - gamma) if gamma >= 0.5 else a + (b - a) * np.float32(gamma))
    low, high = bounds
    return low[:, None], torch.clamp(high - low, min=1.0)[:, None]


def baseline_codes(model, settings, images: np.ndarray, margins: list) -> np.ndarray:
    small = dense_views(images, margins).reshape(-1, SIDE, 3, SIDE)
    rows = small.reshape(len(small), -1)
    x = to_vectors(small, normalize=settings.normalize, signed=settings.signed, bounds=sorted_bounds(rows))
    with torch.no_grad():
        bits = (model.code(x) > settings.threshold).numpy()
    return np.packbits(bits, axis=1).reshape(len(images), len(margins), -1)


def timed(hash_chunk, images: np.ndarray) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    codes = np.concatenate([hash_chunk(images[i : i + CHUNK]) for i in range(0, len(images), CHUNK)])
    return time.perf_counter() - started, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    margins = view_margins(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_lsun_lmdb(tmp / "demo", entries=args.entries, seed=0)
        make_lmdb(tmp / "generated", args.entries, seed=1)
        tables = {}
        for name in ("demo", "generated"):
            extract_part(tmp / name, tmp / f"{name}-table", ExtractSettings())
            tables[name] = np.asarray(part_images(tmp / f"{name}-table", 0))
        model_path = tmp / "ae.pt"
        train_stage(tmp / "demo-table", 1, model_path, AutoencoderSettings())
        model, settings = autoencoder.load(model_path)
        _, hasher = make_hasher("autoencoder", model_path)
        paths = {
            "baseline": lambda chunk: baseline_codes(model, settings, chunk, margins),
            "shipped": lambda chunk: hash_views(hasher, chunk, margins),
        }
        print(f"\n19 views, one thread, best of {args.repeats} passes over {args.entries} images a table")
        for name, images in tables.items():
            best = {path: float("inf") for path in paths}
            for _ in range(args.repeats):
                codes = {}
                for path, hash_chunk in paths.items():
                    seconds, codes[path] = timed(hash_chunk, images)
                    best[path] = min(best[path], seconds)
                if not np.array_equal(codes["baseline"], codes["shipped"]):
                    sys.exit(f"{name}: the shipped codes differ from the baseline's")
            rates = {path: len(images) / seconds for path, seconds in best.items()}
            print(
                f"{name:>10}: baseline {rates['baseline']:,.0f}, shipped {rates['shipped']:,.0f} images/s per core "
                f"({rates['shipped'] / rates['baseline']:.2f}x), codes identical"
            )


if __name__ == "__main__":
    main()
