"""Shifted views, beyond the paper: a copy cropped by a few pixels at its borders rarely keeps the exact
hash of its original, but it does collide with a slightly cropped view of it.

Every image is hashed under a few views: its borders trimmed by 0..m pixels (of a 64-pixel image) with
top + bottom = left + right, so each view keeps the aspect ratio (19 views for m = 2; the first is the
image itself). Exact collisions between any views of two images make them candidates, found by sorting
all codes once; a candidate pair is kept when the two colliding views also agree in pixels (normalised
cross-correlation of their 32x32 views at least `verify`), which removes the chance collisions of
near-featureless images (star fields, flat walls) that more codes per image would otherwise add.
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import torch

from dcgan.dedup.grouping import code_words, component_labels, equal_runs, lowest_in_runs, run_bounds
from dcgan.dedup.inputs import SIDE, resample

_CHECK_BATCH = 2048  # candidate pairs verified at a time


def view_margins(max_margin: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) trims, identity first, each keeping the aspect ratio."""
    trims = [v for v in itertools.product(range(max_margin + 1), repeat=4) if v[0] + v[1] == v[2] + v[3]]
    return sorted(trims, key=lambda v: (sum(v), v))


def hash_views(hasher: Callable, images: np.ndarray, margins: list, device: str | torch.device = "cpu") -> np.ndarray:
    """(N, len(margins), bytes) codes: each image hashed under every view, all views in one batch."""
    small = resample(images, margins, device)
    return hasher(small.reshape(-1, SIDE, 3, SIDE)).reshape(len(images), len(margins), -1)


def own_views(images: np.ndarray, views: np.ndarray, margins: list) -> np.ndarray:
    """(N, 32, 3, 32) uint8: image k under view views[k], one batched resample per distinct view."""
    out = np.empty((len(images), SIDE, 3, SIDE), np.uint8)
    for v in np.unique(views):
        chosen = views == v
        out[chosen] = resample(images[chosen], [margins[v]])[:, 0].numpy()
    return out


def agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of each pair of rows of (N, ...) uint8 views (1: identical up to
    brightness and contrast; two flat views agree when they are equal)."""
    x = a.reshape(len(a), -1).astype(np.float64)
    y = b.reshape(len(b), -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    y -= y.mean(axis=1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    flat_equal = (x == y).all(axis=1).astype(np.float64)
    return np.where(norm > 0, (x * y).sum(axis=1) / np.where(norm > 0, norm, 1.0), flat_equal)


def _mixed_key(codes: np.ndarray) -> np.ndarray:
    """One 64-bit key per code (equal codes, equal keys; distinct codes rarely share one)."""
    words = code_words(codes)
    key = words[:, 0].copy()
    for k in range(1, words.shape[1]):
        key *= np.uint64(0x9E3779B97F4A7C15)
        key ^= words[:, k]
    return key


def collision_candidates(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entry, anchor) flat indices (image * views + view) of every code whose value first occurs, in
    image order, in another image: its anchor is that first occurrence. Linear in the codes but for one
    sort of 64-bit keys; the full codes are compared only where keys repeat across images."""
    count, nviews = codes.shape[:2]
    flat = codes.reshape(count * nviews, codes.shape[2])
    key = _mixed_key(flat)
    order = np.argsort(key)
    key = key[order]
    repeated = key[1:] == key[:-1]
    in_run = np.zeros(len(key), bool)
    in_run[1:] |= repeated
    in_run[:-1] |= repeated
    del repeated
    shared, key = order[in_run], key[in_run]  # entries whose key repeats, runs of equal keys together
    del order, in_run
    if len(shared) == 0:
        return shared, shared
    starts, sizes = run_bounds(key)
    images = shared // nviews
    many = np.minimum.reduceat(images, starts) != np.maximum.reduceat(images, starts)
    shared = shared[np.repeat(many, sizes)]  # keys seen in two images
    order, starts, sizes = equal_runs(code_words(flat[shared]))  # exact: whole codes
    shared = shared[order]
    anchors = lowest_in_runs(shared, starts, sizes)
    other = shared // nviews != anchors // nviews
    return shared[other], anchors[other]


def verified_pairs(
    entries: np.ndarray, anchors: np.ndarray, nviews: int, pixels: Callable, margins: list, verify: float
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor image, image) of every pair with at least one candidate whose two views agree in pixels.

    The candidates of one image pair are tried in rounds, each round checking one untried candidate of
    every pair not yet confirmed, in batches: a true pair usually passes in the first round.
    """
    first, second = anchors // nviews, entries // nviews
    if verify <= 0 or len(entries) == 0:
        pairs = np.unique(np.stack([first, second], axis=1), axis=0).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]
    order = np.lexsort((entries, anchors, first, second))
    entries, anchors, first, second = entries[order], anchors[order], first[order], second[order]
    starts, sizes = run_bounds(np.stack([second, first], axis=1))
    pair = np.repeat(np.arange(len(starts)), sizes)
    attempt = np.arange(len(entries)) - starts[pair]
    confirmed = np.zeros(len(starts), bool)
    for round_ in range(int(attempt.max()) + 1):
        todo = np.flatnonzero((attempt == round_) & ~confirmed[pair])
        for lo in range(0, len(todo), _CHECK_BATCH):
            batch = todo[lo : lo + _CHECK_BATCH]
            mine = own_views(pixels(second[batch]), entries[batch] % nviews, margins)
            theirs = own_views(pixels(first[batch]), anchors[batch] % nviews, margins)
            passed = agreement(mine, theirs) >= verify
            confirmed[pair[batch[passed]]] = True
    return first[starts[confirmed]], second[starts[confirmed]]


def group_by_views(codes: np.ndarray, pixels: Callable, margins: list, verify: float) -> np.ndarray:
    """Group label of every image (-1: none) from verified exact collisions between any of their views.

    codes: (N, views, bytes); pixels: (M,) image indices -> (M, S, S, 3) uint8 images.
    """
    entries, anchors = collision_candidates(codes)
    first, second = verified_pairs(entries, anchors, codes.shape[1], pixels, margins, verify)
    return component_labels(first, second, len(codes))
