"""The hash input: 32x32 area-resampled views of the table images, as vectors for the autoencoder.

Every resampling is linear and separable: a view (the image with its borders trimmed) averaged onto 32x32
pixels is R @ image @ C.T per channel, with R and C the area weights of the kept rows and columns. All
views of a block of images come out of matrix products (one for the rows of every distinct trim, one
per view for the columns) instead of a loop over images. For the image itself at a size divisible by 32
the weights are exact binary fractions, so the result is exactly the 2x2 (or kxk) mean, rounded half to
even. Views are laid out as the products leave them, one row of channel planes at a time: (32 rows, 3
channels, 32 columns), the autoencoder's input order.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dcgan.table import part_prefix

SIDE = 32
IDENTITY = (0, 0, 0, 0)  # (top, bottom, left, right) trims of the image itself
REFERENCE_SIZE = 64  # trims are in pixels of a 64x64 image, scaled for other table sizes
_PERCENTILES = (1, 99)  # the contrast stretch of `to_vectors`


def area_weights(size: int, lo: float, hi: float) -> np.ndarray:
    """(32, size) weights: output pixel k averages its equal share of the span [lo, size - hi), each input
    pixel weighted by how much of it lies in that share (fractional trims allowed)."""
    edges = lo + np.arange(SIDE + 1) * ((size - lo - hi) / SIDE)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0, None)
    return (overlap / (right - left)).astype(np.float32)


@functools.lru_cache(maxsize=32)
def _plan(size: int, margins: tuple, device: str) -> tuple[torch.Tensor, list]:
    """The row weights of every distinct (top, bottom) trim stacked, and per view the index of its row
    trim with its column weights (transposed)."""
    scale = size / REFERENCE_SIZE
    row_trims = sorted({m[:2] for m in margins})
    rows = np.concatenate([area_weights(size, t * scale, b * scale) for t, b in row_trims])
    views = [(row_trims.index(m[:2]), torch.from_numpy(area_weights(size, m[2] * scale, m[3] * scale).T.copy()).to(device))
             for m in margins]
    return torch.from_numpy(rows).to(device), views


def resample(images: np.ndarray | torch.Tensor, margins: Sequence[tuple], device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, S, S, 3) uint8 images -> (N, len(margins), 32, 3, 32) uint8: every image under every view
    (borders trimmed by the view's margins, area-resampled to 32x32, rounded half to even), each view
    as rows of channel planes."""
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
        images = torch.from_numpy(images if images.flags.writeable else images.copy())
    n, size = images.shape[:2]
    device = torch.device(device)
    out = torch.empty((n, len(margins), SIDE, 3, SIDE), dtype=torch.uint8, device=device)
    if n == 0:
        return out
    rows, views = _plan(size, tuple(map(tuple, margins)), str(device))
    pixels = torch.empty((size, n, 3, size), device=device)  # (h, n, c, w): both products are plain GEMMs
    pixels.copy_(images.to(device, non_blocking=True).permute(1, 0, 3, 2))
    trimmed_rows = (rows @ pixels.view(size, -1)).view(-1, SIDE * n * 3, size)  # (row trim, i n c, w)
    for v, (r, cols) in enumerate(views):
        out[:, v].copy_((trimmed_rows[r] @ cols).round_().view(SIDE, n, 3, SIDE).permute(1, 0, 2, 3))
    return out


def downsample(images: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, S, S, 3) uint8 table images -> (N, 32, 3, 32) uint8 by area averaging (2x2 means for S = 64)."""
    return resample(images, [IDENTITY], device)[:, 0]


def _sorted_rows(rows: torch.Tensor) -> torch.Tensor:
    """Each row of a uint8 matrix in ascending order (numpy's radix sort on the CPU)."""
    if rows.device.type == "cpu":
        return torch.from_numpy(np.sort(rows.numpy(), axis=1, kind="stable"))
    return torch.sort(rows, dim=1).values


def stretch_bounds(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, range) of each uint8 row: its 1st and 99th percentiles, bit for bit as np.percentile (linear
    interpolation) computes them, from order statistics of one radix sort instead of a float sort."""
    ordered = _sorted_rows(rows)
    count = rows.shape[1]
    bounds = []
    for q in _PERCENTILES:
        position = (count - 1) * (q / 100)
        below = int(position)
        gamma = position - below
        a, b = ordered[:, below].float(), ordered[:, below + 1].float()
        if gamma >= 0.5:  # numpy's lerp: b - (b - a) * (1 - gamma) from the upper side
            bounds.append(b - (b - a) * np.float32(1 - gamma))
        else:
            bounds.append(a + (b - a) * np.float32(gamma))
    low, high = bounds
    return low[:, None], torch.clamp(high - low, min=1.0)[:, None]


def to_vectors(small: np.ndarray | torch.Tensor, *, normalize: bool = True, signed: bool = False,
               bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """(N, 32, 3, 32) uint8 views -> (N, 3072) float32 in [0, 1] ([-1, 1] when signed).

    normalize: stretch each image to its own 1st-99th percentile range first, so that brightness and
    contrast changes, the commonest near-duplicate edits, vanish before hashing (`bounds`: those ranges,
    when already computed).
    """
    rows = torch.as_tensor(small).reshape(len(small), -1)
    x = rows.float()
    if normalize:
        low, span = bounds if bounds is not None else stretch_bounds(rows)
        x.sub_(low).div_(span).clamp_(0.0, 1.0)
    else:
        x.div_(255.0)
    return x.mul_(2.0).sub_(1.0) if signed else x


def part_images(table_dir: str | Path, part: int) -> np.ndarray:
    """One part's images as a read-only memory map (nothing is read until used)."""
    return np.load(part_prefix(table_dir, part).with_suffix(".npy"), mmap_mode="r")
