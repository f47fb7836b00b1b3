"""The shard stage's settings."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = {"jpg": "jpeg", "png": "png", "webp": "webp"}  # sample extension -> encoder format


@dataclass(frozen=True)
class ShardSettings:
    samples_per_shard: int = 50000  # ~270 MB of 64x64 JPEG samples with their tar headers
    format: str = "jpg"  # jpg | png | webp
    quality: int = 95  # jpg / webp quality
    seed: int = 0  # global shuffle
