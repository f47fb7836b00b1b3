"""One slice of a sorted image list (a folder such as ImageNet's train/, one folder per class, or a
text file of paths) -> one image-table part of min-resized centre crops, each with its class."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import cv2

from dcgan.sources.extract import COLUMNS, Item, decode_into, min_side
from dcgan.sources.listing import part_slice, path_key, read_list
from dcgan.sources.settings import ExtractSettings
from dcgan.table import PartWriter, part_prefix

IMAGE_COLUMNS = (*COLUMNS, "class")


def class_of(path: str) -> str:
    """A listed path's class: its first folder under the root ('' for a file at the top; the folder
    name for an absolute path in a list file)."""
    parts = Path(path).parts
    if Path(path).is_absolute():
        return parts[-2] if len(parts) > 2 else ""
    return parts[0] if len(parts) > 1 else ""


def extract_images_part(inputs_list: str | Path, table_dir: str | Path, settings: ExtractSettings) -> dict:
    """Decode the part's slice of the list (shorter side to image_size, centre square; the LSUN decode
    path) into its table part; unreadable and unusable files become rejects named by their path.
    Returns the part's provenance record, with the kept images per class."""
    cv2.setNumThreads(1)  # one job per core; Snakemake runs the parts side by side
    root, paths = read_list(inputs_list)
    part = settings.part
    mine = paths[part_slice(len(paths), part, settings.parts)]
    fixed = asdict(replace(settings, min_size=min_side(settings)))
    record = {"inputs": str(inputs_list), "root": str(root), **fixed}
    with PartWriter(part_prefix(table_dir, part), settings.image_size, IMAGE_COLUMNS) as writer:
        items = (Item(path_key(path), path, root / path, (class_of(path),)) for path in mine)
        formats = decode_into(writer, items, settings, total=len(mine), desc=f"extract images part {part}")
        classes = Counter(row[-1] for row in writer.rows)
        return writer.finish(
            "extract_images", record, source_images=len(mine), formats=formats, classes=dict(sorted(classes.items()))
        )
