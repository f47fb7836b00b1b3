"""The hash input: 32x32 downsampled centre crops, streamed from the image table part by part."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dcgan.table import part_prefix

SIDE = 32


def downsample(images: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 table images -> (N, 32, 32, 3) uint8 by area averaging (2x2 means for S = 64)."""
    n, s = images.shape[:2]
    if n == 0:
        return np.zeros((0, SIDE, SIDE, 3), np.uint8)
    if s % SIDE == 0:
        f = s // SIDE
        blocks = np.asarray(images, dtype=np.float32).reshape(n, SIDE, f, SIDE, f, 3).mean(axis=(2, 4))
        return np.rint(blocks).astype(np.uint8)
    return np.stack([cv2.resize(np.asarray(im), (SIDE, SIDE), interpolation=cv2.INTER_AREA) for im in images])


def to_vectors(small: np.ndarray, *, normalize: bool = True, signed: bool = False) -> np.ndarray:
    """(N, 32, 32, 3) uint8 -> (N, 3072) float32 in [0, 1] ([-1, 1] when signed).

    normalize: stretch each image to its own 1st-99th percentile range first, so that brightness and
    contrast changes, the commonest near-duplicate edits, vanish before hashing.
    """
    x = small.reshape(len(small), -1).astype(np.float32)
    if normalize:
        lo = np.percentile(x, 1, axis=1, keepdims=True)
        hi = np.percentile(x, 99, axis=1, keepdims=True)
        x = np.clip((x - lo) / np.maximum(hi - lo, 1.0), 0.0, 1.0)
    else:
        x /= 255.0
    return x * 2.0 - 1.0 if signed else x


def part_images(table_dir: str | Path, part: int) -> np.ndarray:
    """One part's images as a read-only memory map (nothing is read until used)."""
    return np.load(part_prefix(table_dir, part).with_suffix(".npy"), mmap_mode="r")
