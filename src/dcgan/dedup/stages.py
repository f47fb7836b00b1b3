"""The three dedup stages behind `dcgan dedup train|hash|filter`."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from dcgan.dedup import autoencoder, phash
from dcgan.dedup.gallery import group_sheet
from dcgan.dedup.grouping import count_distinct, find_groups, groups_of, hamming
from dcgan.dedup.hashers import make_hasher
from dcgan.dedup.inputs import part_images
from dcgan.dedup.settings import AutoencoderSettings, FilterSettings, HashSettings
from dcgan.dedup.views import group_by_views, hash_views, view_margins
from dcgan.device import pick_device
from dcgan.errors import UserError
from dcgan.files import atomic_path, load_npy, write_json, write_tsv
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.table import TableImages, read_keys

_HASH_ROWS = {"cpu": 640, "cuda": 65536}  # (image, view) codes computed at a time (CPU: within its caches)


def checkpoint_path(model_path: str | Path) -> Path:
    """Where dedup training keeps its checkpoint while it runs (removed once the model is written)."""
    return Path(model_path).with_suffix(".checkpoint.pt")


def train_stage(
    table_dir: str | Path,
    parts: int,
    model_path: str | Path,
    settings: AutoencoderSettings,
    threads: int = 1,
    checkpoint_every: int = 500,
) -> dict:
    """Train the hash autoencoder on a sample of the dataset's image table, continuing from a checkpoint
    of an interrupted run; save weights and a provenance record."""
    torch.set_num_threads(threads)
    checkpoint = checkpoint_path(model_path)
    model, report = autoencoder.train(
        table_dir, parts, settings, checkpoint=checkpoint, checkpoint_every=checkpoint_every
    )
    autoencoder.save(model, settings, model_path)
    meta = record("dedup_train", asdict(settings), threads=threads, **report)
    write_json(Path(model_path).with_suffix(".json"), meta)
    checkpoint.unlink(missing_ok=True)
    return meta


def hash_stage(
    table_dir: str | Path,
    part: int,
    out: str | Path,
    settings: HashSettings,
    model_path: str | Path | None = None,
    threads: int = 1,
) -> dict:
    """Hash one image-table part under every view: (N, views, bytes) uint8 packed codes, row-aligned
    with the part (view 0 is the image itself). All views of a block of images are resampled, stretched
    and encoded as one batch, on the GPU when there is one."""
    torch.set_num_threads(threads)
    nbits, hasher = make_hasher(settings.method, model_path)
    margins = view_margins(settings.views)
    images = part_images(table_dir, part)
    codes = np.empty((len(images), len(margins), (nbits + 7) // 8), np.uint8)
    device = pick_device()
    chunk = max(1, _HASH_ROWS[device.type] // len(margins))
    started = time.perf_counter()
    bar = progress(total=len(images), desc=f"dedup hash part {part}")
    for start in range(0, len(images), chunk):
        block = np.asarray(images[start : start + chunk])
        codes[start : start + len(block)] = hash_views(hasher, block, margins, device)
        bar.update(len(block))
    bar.close()
    seconds = time.perf_counter() - started
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, codes)
    return {
        "images": len(images),
        "bits": nbits,
        "views": len(margins),
        "seconds": round(seconds, 3),
        "images_per_second": round(len(images) / seconds, 1) if seconds > 0 else None,
    }


def _read_codes(
    table_dir: str | Path, parts: int, hash_dir: str | Path, margins: list
) -> tuple[np.ndarray, np.ndarray]:
    """(keys, codes) of the whole dataset, checked to agree with each other and with the views."""
    keys = np.concatenate([read_keys(table_dir, part) for part in range(parts)])
    codes = np.concatenate([load_npy(Path(hash_dir) / f"part-{part:04d}.npy") for part in range(parts)])
    if codes.ndim != 3 or len(codes) != len(keys) or codes.shape[1] != len(margins):
        raise UserError(
            f"{hash_dir}: hashes of shape {codes.shape} for {len(keys)} table rows and {len(margins)} "
            "views; rerun dedup_hash"
        )
    return keys, codes


def _write_removals(labels: np.ndarray, keys: np.ndarray, own: np.ndarray, path: Path) -> int:
    """duplicates.tsv: every grouped image but the first of its group (table order), sorted by key, with
    the kept image and the Hamming distance of their own codes; returns how many."""
    groups = int(labels.max(initial=-1)) + 1
    grouped = np.flatnonzero(labels >= 0)
    first = np.full(groups, len(keys), np.int64)
    np.minimum.at(first, labels[grouped], grouped)
    removed = grouped[grouped != first[labels[grouped]]]
    removed = removed[np.argsort(keys[removed], kind="stable")]
    kept_of = first[labels[removed]]
    distance = hamming(own[removed], own[kept_of])
    rows = zip(keys[removed], keys[kept_of], distance, strict=True)
    write_tsv(path, ("key", "duplicate_of", "distance"), ((a.decode(), b.decode(), int(d)) for a, b, d in rows))
    return len(removed)


def _write_galleries(labels: np.ndarray, images: TableImages, title: str, count: int, seed: int, out_dir: Path) -> None:
    """gallery.png (`count` groups drawn with `seed`) and largest.png (the `count` largest groups)."""
    groups = int(labels.max(initial=-1)) + 1
    sizes = np.bincount(labels[labels >= 0], minlength=groups)
    sample = sorted(np.random.default_rng(seed).choice(groups, min(count, groups), replace=False))
    largest = np.argsort(-sizes, kind="stable")[:count]
    group_sheet(
        groups_of(labels, sample),
        images,
        f"{title}: {len(sample)} of {groups} collision groups at random, one a row (green: kept, red: removed)",
        out_dir / "gallery.png",
    )
    group_sheet(
        groups_of(labels, largest),
        images,
        f"{title}: the {len(largest)} largest collision groups (green: kept, red: removed)",
        out_dir / "largest.png",
    )


def filter_stage(
    table_dir: str | Path,
    parts: int,
    hash_dir: str | Path,
    out_dir: str | Path,
    settings: FilterSettings,
    gallery_groups: int = 12,
) -> dict:
    """Group colliding hashes over the whole dataset; keep the first image of each group (table order,
    which is LMDB key order) and list the rest in duplicates.tsv; write stats.json and two galleries.

    Radius 0: exact collisions between any views of two images, checked in pixels (`verify`).
    Radius r > 0: codes of the images themselves within r bits, by multi-index hashing.
    Keys, codes and groups are arrays throughout: memory is a few bytes per code, not Python objects.
    """
    started = time.perf_counter()
    out_dir, method, radius, views = Path(out_dir), settings.method, settings.radius, settings.views
    margins = view_margins(views)
    keys, codes = _read_codes(table_dir, parts, hash_dir, margins)
    nbits = phash.BITS if method == "phash" else codes.shape[2] * 8
    own = np.ascontiguousarray(codes[:, 0])
    images = TableImages(table_dir, parts)
    if radius == 0:
        labels = group_by_views(codes, images.take, margins, settings.verify)
    else:
        labels = find_groups(own, nbits, radius)
    del codes
    removed = _write_removals(labels, keys, own, out_dir / "duplicates.tsv")
    _write_galleries(labels, images, f"{method} r={radius}", gallery_groups, settings.seed, out_dir)
    groups = int(labels.max(initial=-1)) + 1
    stats = record(
        "dedup_filter",
        {
            "method": method,
            "radius": radius,
            "views": views,
            "verify": settings.verify,
            "bits": nbits,
            "seed": settings.seed,
        },
        images=len(keys),
        groups=groups,
        removed=removed,
        kept=len(keys) - removed,
        largest_group=int(np.bincount(labels[labels >= 0]).max(initial=0)),
        distinct_codes=count_distinct(own),
        mean_bits_set=round(float(np.bitwise_count(own).sum()) / (len(own) * nbits), 4) if len(own) else None,
        seconds=round(time.perf_counter() - started, 3),
        message=f"{removed} near duplicates in {groups} groups" if groups else "no near duplicates found",
    )
    write_json(out_dir / "stats.json", stats)
    return stats
