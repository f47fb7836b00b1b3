"""Near-duplicate removal against the demo generator's ground truth: ours vs imagehash's phash.

Builds a demo LMDB of --entries values (known duplicate groups), extracts it into an image table, then:
  (a) the autoencoder semantic hash with exact collisions (r = 0, the paper's method),
  (b) the same hash at the Hamming radius with the best recall at precision >= 0.99 (multi-index hashing),
  (c) the same hash with shifted views and pixel verification (the workflow's default),
  (d) phash at its best Hamming threshold by the same rule as (b), and (e) phash with views as (c),
and prints precision, recall and hashing images/s (one process; torch and OpenCV on one thread).

    python benchmarks/dedup.py [--entries 10000] [--max-radius 10] [--views 2] [--verify 0.94]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dcgan.dedup.settings import AutoencoderSettings
from dcgan.dedup.grouping import find_groups
from dcgan.dedup.scoring import score
from dcgan.dedup.stages import make_hasher, train_stage
from dcgan.dedup.views import group_by_views, hash_views, view_margins
from dcgan.demo.lsun_lmdb import make_lsun_lmdb
from dcgan.extract import extract_part
from dcgan.files import read_tsv
from dcgan.table import part_prefix


def sweep(codes: np.ndarray, nbits: int, keys: list[str], truth: dict, radii) -> list[tuple[int, dict]]:
    results = []
    for radius in radii:
        groups = find_groups(codes, nbits, radius)
        rows = [{"key": keys[i], "duplicate_of": keys[g[0]]} for g in groups for i in g[1:]]
        results.append((radius, score(rows, truth, set(keys))))
    return results


def best(results: list[tuple[int, dict]]) -> tuple[int, dict]:
    """Highest recall at precision >= 0.99; failing that, the best F1."""
    precise = [r for r in results if r[1]["precision"] >= 0.99]
    if precise:
        return max(precise, key=lambda r: (r[1]["recall"], -r[0]))
    return max(results, key=lambda r: 2 * r[1]["precision"] * r[1]["recall"] / max(r[1]["precision"] + r[1]["recall"], 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--max-radius", type=int, default=10)
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--verify", type=float, default=0.94)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        truth = make_lsun_lmdb(tmp / "lmdb", entries=args.entries, seed=0)
        extract_part(tmp / "lmdb", tmp / "images")
        keys = [r["key"] for r in read_tsv(part_prefix(tmp / "images", 0).with_suffix(".tsv"))]
        images = np.load(part_prefix(tmp / "images", 0).with_suffix(".npy"))
        start = time.perf_counter()
        train_stage(tmp / "images", 1, tmp / "ae.pt", AutoencoderSettings())
        train_seconds = time.perf_counter() - start
        rows = []
        margins = view_margins(args.views)
        for method in ("autoencoder", "phash"):
            nbits, hasher = make_hasher(method, tmp / "ae.pt")
            start = time.perf_counter()
            codes = np.concatenate([hasher(images[i : i + 4096]) for i in range(0, len(images), 4096)])
            rate = len(images) / (time.perf_counter() - start)
            results = sweep(codes, nbits, keys, truth, range(args.max_radius + 1))
            start = time.perf_counter()
            all_views = np.concatenate([hash_views(hasher, images[i : i + 4096], margins)
                                        for i in range(0, len(images), 4096)])
            views_rate = len(images) / (time.perf_counter() - start)
            groups = group_by_views(all_views, images.__getitem__, margins, args.verify)
            with_views = score([{"key": keys[i], "duplicate_of": keys[g[0]]} for g in groups for i in g[1:]], truth,
                               set(keys))
            if method == "autoencoder":
                rows.append(("autoencoder, r = 0 (paper)", *results[0], rate))
                rows.append(("autoencoder, best r", *best(results), rate))
            else:
                rows.append(("phash, best threshold", *best(results), rate))
            rows.append((f"{method}, {len(margins)} views", 0, with_views, views_rate))
    redundant = rows[0][2]["redundant"]
    print(f"\n{len(keys)} images, {redundant} redundant copies in {len(truth['groups'])} groups; "
          f"autoencoder trained in {train_seconds:.0f} s (CPU, one thread)")
    print(f"views: borders trimmed by 0..{args.views} px, aspect kept; pixel verification at {args.verify}")
    print(f"{'method':<28} {'r':>3} {'removed':>8} {'precision':>9} {'recall':>7} {'hash img/s':>11}")
    for name, radius, s, rate in rows:
        print(f"{name:<28} {radius:>3} {s['removed']:>8} {s['precision']:>9.3f} {s['recall']:>7.3f} {rate:>11.0f}")


if __name__ == "__main__":
    main()
