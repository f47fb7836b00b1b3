"""The face stage's dataset-level outputs: detections.tsv and two contact sheets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dcgan.files import write_tsv
from dcgan.imageops import decode, tile_grid, write_png
from dcgan.table import TableImages, part_prefix, read_part
from dcgan.webimages import read_list

SHEET_TILE = 240


def face_report(table_dir: str | Path, parts: int, inputs_list: str | Path, out_dir: str | Path, *, seed: int = 0,
                crops: int = 64, images: int = 12) -> int:
    """Write out_dir/detections.tsv (every kept box, original pixels), out_dir/faces/crops.png and
    out_dir/faces/detections.png."""
    out_dir = Path(out_dir)
    rows = [row for part in range(parts) for row in read_part(part_prefix(table_dir, part))[1]]
    write_tsv(out_dir / "detections.tsv", ("image", "x", "y", "w", "h", "score"),
              [(r["source"], r["x"], r["y"], r["w"], r["h"], r["score"]) for r in rows])
    rng = np.random.default_rng(seed)
    all_crops = TableImages(table_dir, parts)
    picked = sorted(rng.choice(len(all_crops), min(crops, len(all_crops)), replace=False))
    tiles = [cv2.resize(all_crops[int(i)], (96, 96), interpolation=cv2.INTER_NEAREST) for i in picked]
    write_png(out_dir / "faces" / "crops.png", tile_grid(tiles, 8, 100))

    root, _ = read_list(inputs_list)
    by_image: dict[str, list] = {}
    for r in rows:
        by_image.setdefault(r["source"], []).append(tuple(float(r[k]) for k in ("x", "y", "w", "h")))
    names = sorted(by_image)
    tiles = []
    for name in (names[i] for i in sorted(rng.choice(len(names), min(images, len(names)), replace=False))):
        rgb, *_ = decode((root / name).read_bytes(), size=1, min_side=1, reduced=False)
        scale = SHEET_TILE / max(rgb.shape[:2])
        small = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        for x, y, w, h in by_image[name]:
            cv2.rectangle(small, (round(x * scale), round(y * scale)), (round((x + w) * scale), round((y + h) * scale)), (40, 220, 60), 2)
        tiles.append(small)
    write_png(out_dir / "faces" / "detections.png", tile_grid(tiles, 4, SHEET_TILE + 4))
    return len(rows)
