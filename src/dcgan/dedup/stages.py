"""The three dedup stages behind `dcgan dedup train|hash|filter`."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dcgan.dedup import autoencoder, phash
from dcgan.dedup.gallery import group_sheet
from dcgan.dedup.grouping import find_groups, hamming
from dcgan.dedup.inputs import downsample, part_images
from dcgan.dedup.settings import METHODS, AutoencoderSettings
from dcgan.dedup.views import group_by_views, hash_views, view_margins
from dcgan.device import pick_device
from dcgan.errors import UserError
from dcgan.files import atomic_path, read_tsv, write_json, write_tsv
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.table import TableImages, part_prefix


def train_stage(table_dir: str | Path, parts: int, model_path: str | Path, settings: AutoencoderSettings,
                threads: int = 1) -> dict:
    """Train the hash autoencoder on the dataset's image table; save weights and a provenance record."""
    torch.set_num_threads(threads)
    model, report = autoencoder.train(table_dir, parts, settings)
    autoencoder.save(model, settings, model_path)
    meta = record("dedup_train", asdict(settings), **report)
    write_json(Path(model_path).with_suffix(".json"), meta)
    return meta


def make_hasher(method: str, model_path: str | Path | None = None) -> tuple[int, Callable[[np.ndarray], np.ndarray]]:
    """(bits, function from (N, S, S, 3) table images to (N, bytes) packed codes) for a method."""
    if method == "phash":
        return phash.BITS, phash.phash_codes
    if method != "autoencoder":
        raise UserError(f"unknown dedup method {method!r} (choose from {', '.join(METHODS)})")
    if model_path is None:
        raise UserError("the autoencoder method needs the trained model (--model)")
    model, settings = autoencoder.load(model_path)
    model.to(pick_device())
    return settings.bits, lambda images: autoencoder.hash_images(model, settings, downsample(images))


def hash_stage(table_dir: str | Path, part: int, out: str | Path, method: str, model_path: str | Path | None = None,
               views: int = 0, threads: int = 1, chunk: int = 4096) -> dict:
    """Hash one image-table part under every view: (N, views, bytes) uint8 packed codes, row-aligned
    with the part (view 0 is the image itself)."""
    torch.set_num_threads(threads)
    nbits, hasher = make_hasher(method, model_path)
    margins = view_margins(views)
    images = part_images(table_dir, part)
    codes = np.empty((len(images), len(margins), (nbits + 7) // 8), np.uint8)
    started = time.perf_counter()
    bar = progress(total=len(images), desc=f"dedup hash part {part}")
    for start in range(0, len(images), chunk):
        block = np.asarray(images[start : start + chunk])
        codes[start : start + len(block)] = hash_views(hasher, block, margins)
        bar.update(len(block))
    bar.close()
    seconds = time.perf_counter() - started
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, codes)
    return {"images": len(images), "bits": nbits, "views": len(margins), "seconds": round(seconds, 3),
            "images_per_second": round(len(images) / seconds, 1) if seconds > 0 else None}


def filter_stage(table_dir: str | Path, parts: int, hash_dir: str | Path, out_dir: str | Path, *, method: str,
                 radius: int, views: int = 0, verify: float = 0.0, seed: int = 0, gallery_groups: int = 12) -> dict:
    """Group colliding hashes over the whole dataset; keep the first image of each group (table order,
    which is LMDB key order) and list the rest in duplicates.tsv; write stats.json and two galleries.

    Radius 0: exact collisions between any views of two images, checked in pixels (`verify`).
    Radius r > 0: codes of the images themselves within r bits, by multi-index hashing.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    keys = [row["key"] for part in range(parts) for row in read_tsv(part_prefix(table_dir, part).with_suffix(".tsv"))]
    codes = np.concatenate([np.load(Path(hash_dir) / f"part-{part:04d}.npy") for part in range(parts)])
    margins = view_margins(views)
    if codes.ndim != 3 or len(codes) != len(keys) or codes.shape[1] != len(margins):
        raise UserError(f"{hash_dir}: hashes of shape {codes.shape} for {len(keys)} table rows and {len(margins)} "
                        "views; rerun dedup_hash")
    nbits = phash.BITS if method == "phash" else codes.shape[2] * 8
    own = codes[:, 0]
    images = TableImages(table_dir, parts)
    if radius == 0:
        found = group_by_views(codes, images.__getitem__, margins, verify)
    else:
        found = find_groups(own, nbits, radius)
    groups = sorted(found, key=lambda g: int(g[0]))
    rows = [(keys[i], keys[g[0]], int(hamming(own[i], own[g[0]]))) for g in groups for i in g[1:]]
    rows.sort(key=lambda r: r[0])
    write_tsv(out_dir / "duplicates.tsv", ("key", "duplicate_of", "distance"), rows)

    rng = np.random.default_rng(seed)
    sample = [groups[i] for i in sorted(rng.choice(len(groups), min(gallery_groups, len(groups)), replace=False))]
    largest = sorted(groups, key=len, reverse=True)[:gallery_groups]
    group_sheet(sample, images, f"{method} r={radius}: {len(sample)} of {len(groups)} groups at random", out_dir / "gallery.png")
    group_sheet(largest, images, f"{method} r={radius}: the {len(largest)} largest groups", out_dir / "largest.png")
    removed = len(rows)
    stats = record(
        "dedup_filter",
        {"method": method, "radius": radius, "views": views, "verify": verify, "bits": nbits, "seed": seed},
        images=len(keys),
        groups=len(groups),
        removed=removed,
        kept=len(keys) - removed,
        largest_group=max((len(g) for g in groups), default=0),
        distinct_codes=len({row.tobytes() for row in own}),
        mean_bits_set=round(float(np.unpackbits(own, axis=1, count=nbits).mean()), 4) if len(own) else None,
        seconds=round(time.perf_counter() - started, 3),
        message=f"{removed} near duplicates in {len(groups)} groups" if groups else "no near duplicates found",
    )
    write_json(out_dir / "stats.json", stats)
    return stats
