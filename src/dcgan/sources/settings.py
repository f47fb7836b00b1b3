"""Stage 1's settings (the `extract` config section and each part's job), importable without OpenCV."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.commands import non_negative, option, positive
from dcgan.imageformat import MAX_PIXELS


@dataclass(frozen=True)
class ExtractSettings:
    """One part of an image table: which part, and the crops it holds."""

    part: int = option(0, "which part to write, 0-based", type=non_negative)
    parts: int = option(1, "number of parts (key ranges of the LMDB, slices of the list)", type=positive)
    image_size: int = option(64, "side of the square crops", type=positive)
    min_size: int = option(0, type=non_negative)  # 0: image_size
    max_images: int = option(0, "keep at most this many over all parts (0: all)", type=non_negative)
    reduced_decode: bool = True
    max_pixels: int = option(MAX_PIXELS, type=positive)  # rejected before decoding above this


@dataclass(frozen=True)
class SummarySettings:
    dataset: str = option("", "the dataset's name, for messages")
    source: str = option("", "the dataset's LMDB, folder or list, for messages")
