"""Encoded images -> one image-table part: the decode loop every source shares, and the LSUN key-range job."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import cv2

from dcgan.imageformat import MAX_PIXELS
from dcgan.imageops import BadImage, decode_square
from dcgan.progress import progress
from dcgan.sources.listing import read_listed
from dcgan.sources.lsun import iter_range, open_lmdb, part_range, source_key, table_key
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


def decode_into(
    writer: PartWriter,
    items: Iterable[Item],
    *,
    quota: int | None,
    total: int,
    desc: str,
    size: int,
    min_side: int,
    reduced: bool,
    max_pixels: int,
) -> dict[str, int]:
    """Decode each item (shorter side to `size`, centre square) into `writer`, recording unreadable and
    unusable ones as rejects, until `quota` images are kept (None: no limit). Returns the count of each
    kept format."""
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
                data, size=size, min_side=min_side, reduced=reduced, max_pixels=max_pixels
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


def extract_part(
    lmdb_path: str | Path,
    table_dir: str | Path,
    *,
    part: int = 0,
    parts: int = 1,
    image_size: int = 64,
    min_size: int = 0,
    max_images: int = 0,
    reduced_decode: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> dict:
    """Decode, centre-crop and resize every value in the part's key range; write the table part.

    min_size: reject images whose shorter side is below it (0 means image_size).
    max_images: keep at most this many images over all parts (0 = all), spread evenly.
    max_pixels: reject images whose header declares more pixels, before decoding them.
    Returns the part's provenance record (also written as part-XXXX.json).
    """
    cv2.setNumThreads(1)  # one job per core; Snakemake runs the parts side by side
    min_side = min_size or image_size
    settings = {
        "lmdb": str(lmdb_path),
        "part": part,
        "parts": parts,
        "image_size": image_size,
        "min_size": min_side,
        "max_images": max_images,
        "reduced_decode": reduced_decode,
        "max_pixels": max_pixels,
    }
    env = open_lmdb(lmdb_path)
    try:
        key_range = part_range(env, part, parts)
        with PartWriter(part_prefix(table_dir, part), image_size, COLUMNS) as writer:
            items = (Item(table_key(k), source_key(k), v) for k, v in iter_range(env, *key_range))
            formats = decode_into(
                writer,
                items,
                quota=part_quota(max_images, part, parts),
                total=env.stat()["entries"] // parts,
                desc=f"extract part {part}",
                size=image_size,
                min_side=min_side,
                reduced=reduced_decode,
                max_pixels=max_pixels,
            )
            bounds = [k.decode("latin-1") if k else None for k in key_range]
            return writer.finish("extract", settings, key_range=bounds, formats=formats)
    finally:
        env.close()
