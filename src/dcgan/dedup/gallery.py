"""Pictures of collision groups, one group per row, to judge precision by eye as the paper did."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from dcgan.imageops import text_band, write_png

TILE = 96
PAD = 6
KEPT, REMOVED = (40, 170, 60), (200, 50, 50)


def _tile(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    tile = np.full((TILE + 2 * PAD, TILE + 2 * PAD, 3), 255, np.uint8)
    tile[2 : TILE + 2 * PAD - 2, 2 : TILE + 2 * PAD - 2] = colour
    tile[PAD : PAD + TILE, PAD : PAD + TILE] = cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
    return tile


def _more(count: int) -> np.ndarray:
    """The last slot of a row whose group has more images than fit: how many more."""
    tile = np.full((TILE + 2 * PAD, TILE + 2 * PAD, 3), 255, np.uint8)
    for i, line in enumerate((f"+{count}", "more")):
        cv2.putText(tile, line, (PAD + 8, PAD + 40 + 26 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
    return tile


def group_sheet(
    groups: Sequence[np.ndarray],
    images: Sequence[np.ndarray],
    title: str,
    path: str | Path,
    *,
    columns: int = 8,
) -> None:
    """Write a PNG: a title (wrapped to the width), then one row per group of indices into `images` (kept
    image green, removed ones red; a group too long for the row ends with how many more it has)."""
    width = columns * (TILE + 2 * PAD)
    rows = [text_band([title], width, width)]
    if not groups:
        rows.append(text_band(["no collision groups: nothing was removed"], width, width))
    for group in groups:
        shown = group if len(group) <= columns else group[: columns - 1]
        tiles = [_tile(images[int(i)], KEPT if n == 0 else REMOVED) for n, i in enumerate(shown)]
        if len(group) > columns:
            tiles.append(_more(len(group) - len(shown)))
        row = np.full((TILE + 2 * PAD, width, 3), 255, np.uint8)
        row[:, : len(tiles) * (TILE + 2 * PAD)] = np.hstack(tiles)
        rows.append(row)
    write_png(path, np.vstack(rows))
