"""Writing a dataset's shards: the table read once into per-shard buckets, each shard written from its bucket."""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np

from dcgan.errors import UserError
from dcgan.files import (
    file_digests,
    no_space_reported,
    read_first_column,
    temporary_beside,
    write_json,
    write_tsv,
)
from dcgan.imageops import encode
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.shards.settings import FORMATS, ShardSettings
from dcgan.table import part_prefix, read_keys, read_part

INDEX_KIND = "wids-shard-index-v1"
_MTIME = 0  # constant member times: the same input gives the same bytes
_BOX = ("x", "y", "w", "h")


def shard_name(dataset: str, index: int) -> str:
    return f"{dataset}-{index:06d}.tar"


def sample_metadata(dataset: str, row: dict[str, str]) -> dict:
    """The JSON record of one sample: dataset, source key or path, original size, class or face box (and its
    scores) if any."""
    meta = {"dataset": dataset, "source": row["source"], "width": int(row["width"]), "height": int(row["height"])}
    if row.get("class") is not None:  # an image folder's class (source images)
        meta["class"] = row["class"]
    if all(row.get(k) for k in _BOX):
        meta["box"] = [float(row[k]) for k in _BOX]
        meta.update(score=float(row["score"]), sharpness=float(row["sharpness"]), detector=row["detector"])
    return meta


def kept_masks(table_dir: str | Path, parts: int, duplicates: str | Path) -> list[np.ndarray]:
    """Per part, which rows dedup kept (a boolean array in row order)."""
    removed = np.unique(read_first_column(duplicates))
    masks = []
    for part in range(parts):
        path = part_prefix(table_dir, part).with_suffix(".tsv")
        if not path.is_file():
            raise UserError(f"image-table part missing: {path}")
        masks.append(~np.isin(read_keys(table_dir, part), removed))
    return masks


_RECORD = struct.Struct("<qIII")  # place in the shard, then the lengths of key, image and JSON


def _fill_buckets(
    table_dir: Path,
    masks: list[np.ndarray],
    place: np.ndarray,
    bucket_dir: Path,
    *,
    dataset: str,
    settings: ShardSettings,
    bar,
) -> None:
    """Pass 1: each kept sample, encoded, appended to its shard's bucket as (place, key, image, JSON)."""
    done = 0
    for part, mask in enumerate(masks):
        images, rows = read_part(part_prefix(table_dir, part))
        kept = np.flatnonzero(mask)
        places = place[done : done + len(kept)]
        done += len(kept)
        shard_of = places // settings.samples_per_shard
        for shard in np.unique(shard_of):
            with open(bucket_dir / f"{shard}.bin", "ab") as bucket:
                for row, at in zip(kept[shard_of == shard], places[shard_of == shard], strict=True):
                    meta = rows[row]
                    key = meta["key"].encode()
                    pixels = np.asarray(images[row])[..., ::-1]  # RGB -> BGR for OpenCV
                    image = encode(pixels, FORMATS[settings.format], settings.quality)
                    record = json.dumps(sample_metadata(dataset, meta), sort_keys=True).encode()
                    bucket.write(_RECORD.pack(int(at), len(key), len(image), len(record)) + key + image + record)
                    bar.update()


def _bucket_samples(path: Path) -> Iterator[dict]:
    """Pass 2: a bucket's samples in their shuffled order."""
    data = path.read_bytes()
    found, offset = [], 0
    while offset < len(data):
        at, *lengths = _RECORD.unpack_from(data, offset)
        found.append((at, offset + _RECORD.size, lengths))
        offset += _RECORD.size + sum(lengths)
    for _, start, (key, image, meta) in sorted(found):
        yield {
            "__key__": data[start : start + key].decode(),
            "image": data[start + key : start + key + image],
            "json": data[start + key + image : start + key + image + meta],
        }


def write_shards(
    table_dir: str | Path,
    parts: int,
    duplicates: str | Path,
    out_dir: str | Path,
    *,
    dataset: str,
    settings: ShardSettings,
) -> dict:
    """Write the shard folder `out_dir` (replacing it whole); returns the provenance record."""
    from webdataset import TarWriter

    if settings.format not in FORMATS:
        raise UserError(f"shards.format must be one of {', '.join(FORMATS)}, got {settings.format!r}")
    started = time.perf_counter()
    masks = kept_masks(table_dir, parts, duplicates)
    total = int(sum(m.sum() for m in masks))
    if total == 0:
        raise UserError(f"{table_dir}: no images left to shard (table empty or every image removed)")
    order = np.random.default_rng(settings.seed).permutation(total)  # shuffled position k holds kept image order[k]
    place = np.empty(total, np.int64)
    place[order] = np.arange(total)
    del order
    out_dir = Path(out_dir)
    staging = temporary_beside(out_dir, folder=True)
    try:
        with no_space_reported(out_dir, staging):
            buckets = staging / "buckets"
            buckets.mkdir()
            bar = progress(total=total, desc=f"shards {dataset}: encode")
            _fill_buckets(Path(table_dir), masks, place, buckets, dataset=dataset, settings=settings, bar=bar)
            bar.close()
            shards = []
            for index in progress(
                range(-(-total // settings.samples_per_shard)), desc=f"shards {dataset}: write", unit="shard"
            ):
                path, bucket = staging / shard_name(dataset, index), buckets / f"{index}.bin"
                with open(path, "wb") as f, TarWriter(f, encoder=False, mtime=_MTIME) as tar:
                    count = 0
                    for sample in _bucket_samples(bucket):
                        tar.write(
                            {"__key__": sample["__key__"], settings.format: sample["image"], "json": sample["json"]}
                        )
                        count += 1
                bucket.unlink()
                md5, sha = file_digests(path)
                shards.append(
                    {"url": path.name, "nsamples": count, "filesize": path.stat().st_size, "md5sum": md5, "sha256": sha}
                )
            buckets.rmdir()
            index = {
                "__kind__": INDEX_KIND,
                "wids_version": 1,
                "name": dataset,
                "shardlist": [{k: s[k] for k in ("url", "nsamples", "filesize", "md5sum")} for s in shards],
            }
            write_json(staging / "index.json", index)
            write_tsv(
                staging / "manifest.tsv",
                ("shard", "nsamples", "bytes", "sha256"),
                [(s["url"], s["nsamples"], s["filesize"], s["sha256"]) for s in shards],
            )
            meta = record(
                "shards",
                {**asdict(settings), "dataset": dataset},
                images=total,
                shards=len(shards),
                removed=sum(len(m) for m in masks) - total,
                bytes=sum(s["filesize"] for s in shards),
                seconds=round(time.perf_counter() - started, 3),
            )
            write_json(staging / "shards.json", meta)
            if out_dir.exists():
                shutil.rmtree(out_dir)
            os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return meta
