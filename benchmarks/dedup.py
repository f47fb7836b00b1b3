"""Near-duplicate removal against ground truth: ours vs imagehash's phash, budgeted vs full training.

Builds an LSUN-format LMDB with known duplicate groups (the demo generator's 10,000 values, or with
--source generated the scale benchmark's own generator: other scenes, other edits), extracts it into one
image-table part, then for the autoencoder trained two ways, (1) the workflow's budget (a sample of at
most 100,000 images, 2,000 steps) and (2) full training (30 epochs over every image, the paper-style
schedule), and for phash:
  (a) exact collisions of the image's own code (r = 0, the paper's method),
  (b) the Hamming radius with the best recall at precision >= 0.99 (multi-index hashing),
  (c) 19 shifted views with pixel verification (the workflow's default),
and prints precision, recall and the hashing rate of `dcgan dedup hash` with one view and with 19 views,
measured in the same run (one process, one thread). With --seeds k each training runs with k seeds and
the mean and range of the default method's precision and recall close the table.

    python benchmarks/dedup.py [--source demo|generated] [--entries 10000] [--max-radius 10] [--seeds 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dcgan.dedup.grouping import find_groups, groups_of
from dcgan.dedup.scoring import score
from dcgan.dedup.settings import AutoencoderSettings, FilterSettings, HashSettings
from dcgan.dedup.stages import filter_stage, hash_stage, train_stage
from dcgan.demo.lsun_lmdb import make_lsun_lmdb
from dcgan.files import read_tsv
from dcgan.sources.extract import extract_part
from dcgan.sources.settings import ExtractSettings
from dcgan.table import part_prefix

sys.path.insert(0, str(Path(__file__).parent))
from scale import make_lmdb  # noqa: E402  (the scale benchmark's generator)

TRAININGS = {
    "budget": {},
    "full": {"sample": 10**9, "steps": 10**9, "epochs": 30},
}


def removed_rows(labels: np.ndarray, keys: list[str]) -> list[dict]:
    return [{"key": keys[i], "duplicate_of": keys[g[0]]} for g in groups_of(labels) for i in g[1:]]


def best_radius(codes: np.ndarray, nbits: int, keys: list[str], truth: dict, radii) -> tuple[int, dict]:
    """Highest recall at precision >= 0.99 (failing that, the best F1) over the radii."""
    results = [(r, score(removed_rows(find_groups(codes, nbits, r), keys), truth, set(keys))) for r in radii]
    precise = [r for r in results if r[1]["precision"] >= 0.99]
    if precise:
        return max(precise, key=lambda r: (r[1]["recall"], -r[0]))
    return max(
        results, key=lambda r: 2 * r[1]["precision"] * r[1]["recall"] / max(r[1]["precision"] + r[1]["recall"], 1e-9)
    )


def evaluate(tmp: Path, method: str, model: Path | None, keys: list[str], truth: dict, max_radius: int) -> list[tuple]:
    """Rows (name, r, scores, hashing images/s) of one hash method."""
    rates, rows = {}, []
    for views in (0, 2):
        done = hash_stage(
            tmp / "images", 0, tmp / f"hashes-{views}" / "part-0000.npy", HashSettings(method, views), model
        )
        rates[views] = done["images_per_second"]
    own = np.load(tmp / "hashes-0" / "part-0000.npy")[:, 0]
    nbits = 64 if method == "phash" else own.shape[1] * 8
    exact = score(removed_rows(find_groups(own, nbits, 0), keys), truth, set(keys))
    radius, near = best_radius(own, nbits, keys, truth, range(1, max_radius + 1))
    filter_stage(tmp / "images", 1, tmp / "hashes-2", tmp / "out", FilterSettings(method))
    views = score(read_tsv(tmp / "out" / "duplicates.tsv"), truth, set(keys))
    rows.append(("r = 0 (paper)", 0, exact, rates[0]))
    rows.append(("best r", radius, near, rates[0]))
    rows.append(("19 views + pixel check", 0, views, rates[2]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=("demo", "generated"), default="demo")
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--max-radius", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.source == "demo":
            truth = make_lsun_lmdb(tmp / "lmdb", entries=args.entries, seed=0)
        else:
            truth = make_lmdb(tmp / "lmdb", args.entries, seed=1)
        extract_part(tmp / "lmdb", tmp / "images", ExtractSettings())
        keys = [r["key"] for r in read_tsv(part_prefix(tmp / "images", 0).with_suffix(".tsv"))]
        table, default_method = [], {}
        for training, overrides in TRAININGS.items():
            for seed in range(args.seeds):
                start = time.perf_counter()
                model = tmp / f"ae-{training}-{seed}.pt"
                meta = train_stage(tmp / "images", 1, model, AutoencoderSettings(seed=seed, **overrides))
                seconds = time.perf_counter() - start
                for name, radius, s, rate in evaluate(tmp, "autoencoder", model, keys, truth, args.max_radius):
                    table.append(
                        (
                            f"autoencoder ({training}: {meta['steps']} steps, {seconds:.0f} s, seed {seed}), {name}",
                            radius,
                            s,
                            rate,
                        )
                    )
                default_method.setdefault(training, []).append(table[-1][2])
        for name, radius, s, rate in evaluate(tmp, "phash", None, keys, truth, args.max_radius):
            table.append((f"phash, {name}", radius, s, rate))
    redundant = table[0][2]["redundant"]
    print(
        f"\n{args.source}: {len(keys)} images, {redundant} redundant copies in {len(truth['groups'])} groups; "
        f"CPU, one thread; hashing = `dcgan dedup hash` of the whole table, 1 view then 19 views"
    )
    print(f"{'method':<78} {'r':>3} {'removed':>8} {'precision':>9} {'recall':>7} {'hash img/s':>11}")
    for name, radius, s, rate in table:
        print(f"{name:<78} {radius:>3} {s['removed']:>8} {s['precision']:>9.3f} {s['recall']:>7.3f} {rate:>11.0f}")
    for training, scores in default_method.items():
        p, r = (np.array([s[k] for s in scores]) for k in ("precision", "recall"))
        print(
            f"19 views, {training} training over {len(scores)} seeds: precision {p.mean():.3f} "
            f"({p.min():.3f}-{p.max():.3f}), recall {r.mean():.3f} ({r.min():.3f}-{r.max():.3f})"
        )
    print(json.dumps({"hash_images_per_second": {"1 view": table[0][3], "19 views": table[2][3]}}))


if __name__ == "__main__":
    main()
