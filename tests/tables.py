"""Image tables made in the tests: smooth random colour images, any number of parts."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dcgan.files import write_tsv
from dcgan.table import PartWriter, part_prefix

SIZE = 32


def smooth_image(rng: np.random.Generator) -> np.ndarray:
    """A random smooth colour image (JPEG keeps it within a few grey levels)."""
    coarse = rng.integers(0, 256, (4, 4, 3)).astype(np.float32)
    return cv2.resize(coarse, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def make_table(root: Path, parts: int, per_part: int, *, faces: bool = False, seed: int = 0) -> tuple[Path, dict]:
    """A table of `parts` parts; returns (table dir, key -> image)."""
    rng = np.random.default_rng(seed)
    table = root / "images"
    columns = ("key", "source", "width", "height") + (
        ("x", "y", "w", "h", "score", "sharpness", "detector") if faces else ()
    )
    pixels = {}
    for part in range(parts):
        with PartWriter(part_prefix(table, part), SIZE, columns) as writer:
            for i in range(per_part):
                key = f"k{part}_{i:04d}"
                image = smooth_image(rng)
                pixels[key] = image
                row = [key, f"src/{key}.jpg", 100 + i, 80]
                if faces:
                    row += [10.5, 12, 40, 40, 0.93, 812.5, "verified"]
                writer.add(image, row)
            writer.finish("test", {})
    return table, pixels


def write_duplicates(path: Path, removed: list[str], kept_of: str) -> Path:
    write_tsv(path, ("key", "duplicate_of", "distance"), [(k, kept_of, 0) for k in removed])
    return path
