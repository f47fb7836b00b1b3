"""Shifted views, beyond the paper: a copy cropped by a few pixels at its borders rarely keeps the exact
hash of its original, but it does collide with a slightly cropped view of it.

Every image is hashed under a few views: its borders trimmed by 0..m pixels (of a 64-pixel image) with
top + bottom = left + right, so each view keeps the aspect ratio (19 views for m = 2; the first is the
image itself). Exact collisions between any views of two images make them candidates, still found in
one pass through a hash table; a candidate pair is kept when the two colliding views also agree in
pixels (normalised cross-correlation of their 32x32 downsamplings at least `verify`), which removes
the chance collisions of near-featureless images (star fields, flat walls) that more codes per image
would otherwise add.
"""

from __future__ import annotations

import itertools
from typing import Callable

import cv2
import numpy as np

from dcgan.dedup.grouping import linked_groups
from dcgan.dedup.inputs import downsample

REFERENCE_SIZE = 64  # margins are in pixels of a 64x64 image, scaled for other table sizes


def view_margins(max_margin: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) trims, identity first, each keeping the aspect ratio."""
    trims = [v for v in itertools.product(range(max_margin + 1), repeat=4) if v[0] + v[1] == v[2] + v[3]]
    return sorted(trims, key=lambda v: (sum(v), v))


def crop_view(images: np.ndarray, margins: tuple[int, int, int, int]) -> np.ndarray:
    """(N, S, S, 3) images trimmed by `margins` and resized back to S x S."""
    if not any(margins):
        return np.asarray(images)
    size = images.shape[1]
    top, bottom, left, right = (round(m * size / REFERENCE_SIZE) for m in margins)
    return np.stack([cv2.resize(np.ascontiguousarray(im[top : size - bottom, left : size - right]), (size, size),
                                interpolation=cv2.INTER_AREA) for im in images])


def hash_views(hasher: Callable[[np.ndarray], np.ndarray], images: np.ndarray, views: list) -> np.ndarray:
    """(N, len(views), bytes) codes: each image hashed under every view."""
    return np.stack([hasher(crop_view(images, v)) for v in views], axis=1)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two images' 32x32 downsamplings (1: identical up to brightness)."""
    x, y = (downsample(np.asarray(im)[None])[0].astype(np.float64).ravel() for im in (a, b))
    x, y = x - x.mean(), y - y.mean()
    norm = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / norm) if norm > 0 else float(np.array_equal(x, y))


def group_by_views(codes: np.ndarray, image: Callable[[int], np.ndarray], views: list,
                   verify: float) -> list[np.ndarray]:
    """Groups (sorted index arrays, two or more members) of images linked by verified exact collisions.

    Every (image, view) code is compared with its bucket's anchor, the first code with that value in
    image order (one sort of all codes), so each candidate pair is checked once: linear in the codes.
    """
    count, nviews = codes.shape[:2]
    if count == 0:
        return []
    flat = np.ascontiguousarray(codes.reshape(count * nviews, -1))
    _, first, inverse = np.unique(flat.view(np.dtype((np.void, flat.shape[1]))).ravel(), return_index=True,
                                  return_inverse=True)
    anchor = first[inverse.ravel()]
    candidates = np.flatnonzero(anchor // nviews != np.arange(len(flat)) // nviews)
    left, right = [], []
    for index in candidates:
        (i, v), (j, w) = divmod(int(index), nviews), divmod(int(anchor[index]), nviews)
        if verify > 0 and agreement(crop_view(image(i)[None], views[v])[0],
                                    crop_view(image(j)[None], views[w])[0]) < verify:
            continue
        left.append(j)
        right.append(i)
    return linked_groups(left, right, count) if left else []
