"""The hash input: 32x32 area-resampled views of the table images, as vectors for the autoencoder.

Every resampling is linear and separable: a view (the image with its borders trimmed) averaged onto 32x32
pixels is R @ image @ C.T per channel, with R and C the area weights of the kept rows and columns. All
views of a block of images come out of matrix products (for the rows of every distinct trim, in bands
of the input rows they touch; per view for the columns) instead of a loop over images. For the image
itself at a size divisible by 32 the weights are exact binary fractions, so the result is exactly the
2x2 (or kxk) mean, rounded half to even. Views are laid out as the products leave them, one row of
channel planes at a time: (32 rows, 3 channels, 32 columns), the autoencoder's input order.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from dcgan.files import load_npy
from dcgan.table import part_prefix

SIDE = 32
IDENTITY = (0, 0, 0, 0)  # (top, bottom, left, right) trims of the image itself
REFERENCE_SIZE = 64  # trims are in pixels of a 64x64 image, scaled for other table sizes
_PERCENTILES = (1, 99)  # the contrast stretch of `to_vectors`
_BAND = 8  # output rows resampled per product


def area_weights(size: int, lo: float, hi: float) -> np.ndarray:
    """(32, size) weights: output pixel k averages its equal share of the span [lo, size - hi), each input
    pixel weighted by how much of it lies in that share (fractional trims allowed)."""
    edges = lo + np.arange(SIDE + 1) * ((size - lo - hi) / SIDE)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0, None)
    return (overlap / (right - left)).astype(np.float32)


@functools.lru_cache(maxsize=32)
def _plan(size: int, margins: tuple, device: str) -> tuple[int, list, list]:
    """(distinct row trims, row bands, views). Area weights are banded (an output pixel spans about two
    input pixels), so the rows are resampled in bands of output rows, each band one product of the
    weights of every distinct (top, bottom) trim over just the input rows it touches: a quarter of the
    dense product's work, the same sums (only zero terms are left out). Each view: the index of its row
    trim and its column weights (transposed)."""
    scale = size / REFERENCE_SIZE
    row_trims = sorted({m[:2] for m in margins})
    rows = np.stack([area_weights(size, t * scale, b * scale) for t, b in row_trims])  # (trim, 32, size)
    bands = []
    for first in range(0, SIDE, _BAND):
        band = rows[:, first : first + _BAND]
        touched = np.flatnonzero(band.any(axis=(0, 1)))
        lo, hi = int(touched[0]), int(touched[-1]) + 1
        bands.append(
            (lo, hi, torch.from_numpy(np.ascontiguousarray(band[:, :, lo:hi].reshape(-1, hi - lo))).to(device))
        )
    views = [
        (row_trims.index(m[:2]), torch.from_numpy(area_weights(size, m[2] * scale, m[3] * scale).T.copy()).to(device))
        for m in margins
    ]
    return len(row_trims), bands, views


def _rounded_bytes(values: torch.Tensor) -> torch.Tensor:
    """Non-negative floats of at most 255 rounded half to even into uint8 (OpenCV's single pass on the CPU)."""
    if values.device.type == "cpu":
        flat = values.view(-1, values.shape[-1]).numpy()
        return torch.from_numpy(cv2.convertScaleAbs(flat)).view(values.shape)
    return values.round_().to(torch.uint8)


def resample(
    images: np.ndarray | torch.Tensor, margins: Sequence[tuple], device: str | torch.device = "cpu"
) -> torch.Tensor:
    """(N, S, S, 3) uint8 images -> (N, len(margins), 32, 3, 32) uint8: every image under every view
    (borders trimmed by the view's margins, area-resampled to 32x32, rounded half to even), each view
    as rows of channel planes."""
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
        images = torch.from_numpy(images if images.flags.writeable else images.copy())
    n, size = images.shape[:2]
    device = torch.device(device)
    if n == 0:
        return torch.empty((0, len(margins), SIDE, 3, SIDE), dtype=torch.uint8, device=device)
    trims, bands, views = _plan(size, tuple(map(tuple, margins)), str(device))
    pixels = torch.empty((size, n, 3, size), device=device)  # (h, n, c, w): both products are plain GEMMs
    pixels.copy_(images.to(device, non_blocking=True).permute(1, 0, 3, 2))
    pixels = pixels.view(size, -1)
    trimmed = torch.empty((len(bands), trims, _BAND * n * 3, size), device=device)  # (band, trim, row n c, w)
    for band, (lo, hi, weights) in enumerate(bands):
        torch.mm(weights, pixels[lo:hi], out=trimmed[band].view(trims * _BAND, -1))
    resampled = torch.empty((len(views), len(bands), _BAND * n * 3, SIDE), device=device)  # (view, band, row n c, w)
    for v, (trim, cols) in enumerate(views):
        for band in range(len(bands)):
            torch.mm(trimmed[band, trim], cols, out=resampled[v, band])
    small = _rounded_bytes(resampled).view(len(views), SIDE, n, 3, SIDE)
    return small.permute(2, 0, 1, 3, 4).contiguous()


def downsample(images: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(N, S, S, 3) uint8 table images -> (N, 32, 3, 32) uint8 by area averaging (2x2 means for S = 64)."""
    return resample(images, [IDENTITY], device)[:, 0]


@functools.lru_cache(maxsize=8)
def _row_numbers(rows: int, count: int) -> np.ndarray:
    """(rows, count) uint8: each element's row number, the second channel of a per-row histogram."""
    return np.ascontiguousarray(np.broadcast_to(np.arange(rows, dtype=np.uint8)[:, None], (rows, count)))


def _order_statistics(rows: torch.Tensor, ranks: Sequence[int]) -> torch.Tensor:
    """(N, len(ranks)) float32: the values of each uint8 row at those ranks (0: smallest). On the CPU
    from per-row histograms (OpenCV, 256 rows a call), elsewhere from a sort."""
    if rows.device.type != "cpu":
        return torch.sort(rows, dim=1).values[:, list(ranks)].float()
    values = rows.numpy()
    wanted = torch.tensor(ranks, dtype=torch.float32)
    out = torch.empty((len(values), len(ranks)))
    for lo in range(0, len(values), 256):
        block = np.ascontiguousarray(values[lo : lo + 256])
        hist = cv2.calcHist(
            [block, _row_numbers(*block.shape)], [0, 1], None, [256, len(block)], [0, 256, 0, len(block)]
        )
        at_most = torch.from_numpy(hist.T.copy()).cumsum(1)  # (row, value): how many elements are <= value
        out[lo : lo + len(block)] = torch.searchsorted(at_most, wanted.repeat(len(block), 1), right=True)
    return out


def stretch_bounds(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, range) of each uint8 row: its 1st and 99th percentiles, bit for bit as np.percentile (linear
    interpolation) computes them, from order statistics of the integer values instead of a float sort."""
    count = rows.shape[1]
    positions = [(count - 1) * (q / 100) for q in _PERCENTILES]
    ranks = [r for p in positions for r in (int(p), int(p) + 1)]
    ordered = _order_statistics(rows, ranks)
    bounds = []
    for k, position in enumerate(positions):
        gamma = position - int(position)
        a, b = ordered[:, 2 * k], ordered[:, 2 * k + 1]
        if gamma >= 0.5:  # numpy's lerp: b - (b - a) * (1 - gamma) from the upper side
            bounds.append(b - (b - a) * np.float32(1 - gamma))
        else:
            bounds.append(a + (b - a) * np.float32(gamma))
    low, high = bounds
    return low[:, None], torch.clamp(high - low, min=1.0)[:, None]


def to_vectors(
    small: np.ndarray | torch.Tensor,
    *,
    normalize: bool,
    signed: bool,
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """(N, 32, 3, 32) uint8 views -> (N, 3072) float32 in [0, 1] ([-1, 1] when signed).

    normalize: stretch each image to its own 1st-99th percentile range first, so that brightness and
    contrast changes, the commonest near-duplicate edits, vanish before hashing (`bounds`: those ranges,
    when already computed).
    """
    rows = torch.as_tensor(small).reshape(len(small), -1)
    x = torch.empty(rows.shape, device=rows.device).copy_(rows)  # several times faster than .float()
    if normalize:
        low, span = bounds if bounds is not None else stretch_bounds(rows)
        x.sub_(low).div_(span).clamp_(0.0, 1.0)
    else:
        x.div_(255.0)
    return x.mul_(2.0).sub_(1.0) if signed else x


def part_images(table_dir: str | Path, part: int) -> np.ndarray:
    """One part's images as a read-only memory map (nothing is read until used)."""
    return load_npy(part_prefix(table_dir, part).with_suffix(".npy"), mmap_mode="r")
