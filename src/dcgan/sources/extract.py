"""Encoded images -> one image-table part: the decode loop every source shares, and the LSUN key-range job."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

import cv2

from dcgan.imageops import BadImage, decode_square
from dcgan.progress import progress
from dcgan.sources.listing import read_listed
from dcgan.sources.lsun import iter_range, open_lmdb, part_range, source_key, table_key
from dcgan.sources.settings import ExtractSettings
from dcgan.table import PartWriter, part_prefix

COLUMNS = ("key", "source", "width", "height", "format")


class Item(NamedTuple):
    key: str  # the image-table key
    source: str  # where it came from (LMDB key, path): what a reject is recorded under
    data: bytes | Path  # the encoded image, or the file to read it from
    extra: tuple = ()  # cells after COLUMNS (an image folder's class)


def part_quota(max_images: int, part: int, parts: int) -> int | None:
    """This part's share of `max_images` (None: no limit, for max_images 0); the shares add up to
    max_images exactly, so with more parts than images the later parts keep none."""
    if max_images <= 0:
        return None
    return max_images // parts + (1 if part < max_images % parts else 0)


def min_side(settings: ExtractSettings) -> int:
    """The shortest side an image may have: min_size, or the crop's side for min_size 0."""
    return settings.min_size or settings.image_size


def decode_into(writer: PartWriter, items: Iterable[Item], settings: ExtractSettings, *, total: int, desc: str):
    """Decode each item (shorter side to image_size, centre square) into `writer`, recording unreadable and
    unusable ones as rejects, until the part's share of max_images is kept. Returns the count of each
    kept format."""
    quota = part_quota(settings.max_images, settings.part, settings.parts)
    size, smallest = settings.image_size, min_side(settings)
    reduced, max_pixels = settings.reduced_decode, settings.max_pixels
    formats: dict[str, int] = {}
    bar = progress(total=total if quota is None else min(quota, total), desc=desc)
    seen = 0
    for seen, item in enumerate(items, 1):
        if quota is not None and len(writer) >= quota:
            break
        if seen % 64 == 0:
            bar.update(64)
        try:
            data = read_listed(item.data) if isinstance(item.data, Path) else item.data
            image, fmt, width, height = decode_square(
                data, size=size, min_side=smallest, reduced=reduced, max_pixels=max_pixels
            )
        except OSError as e:
            writer.reject(item.source, f"unreadable ({e.strerror or e})")
            continue
        except BadImage as e:
            writer.reject(item.source, str(e))
            continue
        writer.add(image, (item.key, item.source, width, height, fmt, *item.extra))
        formats[fmt] = formats.get(fmt, 0) + 1
    bar.update(seen % 64)
    bar.close()
    return formats


def extract_part(lmdb_path: str | Path, table_dir: str | Path, settings: ExtractSettings) -> dict:
    """Decode, centre-crop and resize every value in the part's key range; write the table part (images
    whose shorter side is below min_size, or whose header declares more than max_pixels, are rejects;
    at most max_images over all parts, spread evenly). Returns the part's provenance record (also
    written as part-XXXX.json)."""
    cv2.setNumThreads(1)  # one job per core; Snakemake runs the parts side by side
    part, parts = settings.part, settings.parts
    record = {"lmdb": str(lmdb_path), **asdict(replace(settings, min_size=min_side(settings)))}
    env = open_lmdb(lmdb_path)
    try:
        key_range = part_range(env, part, parts)
        with PartWriter(part_prefix(table_dir, part), settings.image_size, COLUMNS) as writer:
            items = (Item(table_key(k), source_key(k), v) for k, v in iter_range(env, *key_range))
            total, desc = env.stat()["entries"] // parts, f"extract part {part}"
            formats = decode_into(writer, items, settings, total=total, desc=desc)
            bounds = [k.decode("latin-1") if k else None for k in key_range]
            return writer.finish("extract", record, key_range=bounds, formats=formats)
    finally:
        env.close()
