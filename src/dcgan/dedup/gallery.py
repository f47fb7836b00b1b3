"""Pictures of collision groups, one group per row, to judge precision by eye as the paper did."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from dcgan.imageops import write_png

TILE = 96
PAD = 6
KEPT, REMOVED = (40, 170, 60), (200, 50, 50)


def _tile(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    tile = np.full((TILE + 2 * PAD, TILE + 2 * PAD, 3), 255, np.uint8)
    tile[2 : TILE + 2 * PAD - 2, 2 : TILE + 2 * PAD - 2] = colour
    tile[PAD : PAD + TILE, PAD : PAD + TILE] = cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
    return tile


def _caption(text: str, width: int) -> np.ndarray:
    strip = np.full((28, width, 3), 255, np.uint8)
    cv2.putText(strip, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def group_sheet(
    groups: Sequence[np.ndarray],
    images: Sequence[np.ndarray],
    title: str,
    path: str | Path,
    *,
    columns: int = 8,
) -> None:
    """Write a PNG: a title, then one row per group of indices into `images` (kept image green, removed
    ones red)."""
    width = columns * (TILE + 2 * PAD)
    rows = [_caption(title, width)]
    if not groups:
        rows.append(_caption("no collision groups: nothing was removed", width))
    for group in groups:
        tiles = [_tile(images[int(i)], KEPT if n == 0 else REMOVED) for n, i in enumerate(group[:columns])]
        row = np.full((TILE + 2 * PAD, width, 3), 255, np.uint8)
        row[:, : len(tiles) * (TILE + 2 * PAD)] = np.hstack(tiles)
        if len(group) > columns:
            cv2.putText(row, f"+{len(group) - columns}", (width - 60, TILE), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
        rows.append(row)
    write_png(path, np.vstack(rows))
