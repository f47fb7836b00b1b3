"""Group images whose hashes collide (radius 0) or lie within Hamming radius r, without an all-pairs scan.

Radius 0 is the paper's method: equal codes, found by one sort of the codes as 64-bit words (codes and
groups stay arrays; no Python object per code). For r > 0, multi-index hashing: split
the code into r + 1 substrings; two codes within distance r agree exactly on at least one substring
(pigeonhole), so only codes that share a substring bucket are compared, and each candidate pair is
verified by its true Hamming distance. Groups are the connected components of the verified pairs.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance between packed codes (..., nbytes) uint8."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1)


def code_words(codes: np.ndarray) -> np.ndarray:
    """(M, bytes) uint8 codes -> (M, words) uint64 (zero-padded; a view when no padding is needed):
    equal codes, equal rows."""
    if codes.shape[1] % 8 == 0:
        return np.ascontiguousarray(codes).view(np.uint64)
    padded = np.zeros((len(codes), -(-codes.shape[1] // 8) * 8), np.uint8)
    padded[:, : codes.shape[1]] = codes
    return padded.view(np.uint64)


def run_bounds(sorted_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, sizes): where each run of equal values (or rows) of a sorted array starts, and its length."""
    differs = sorted_rows[1:] != sorted_rows[:-1]
    if differs.ndim > 1:
        differs = differs.any(axis=1)
    starts = np.concatenate([[0], np.flatnonzero(differs) + 1]) if len(sorted_rows) else np.zeros(0, np.int64)
    return starts, np.diff(np.append(starts, len(sorted_rows)))


def lowest_in_runs(indices: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each of `indices` replaced by the lowest index of its run (runs as `run_bounds` gives them)."""
    return np.repeat(np.minimum.reduceat(indices, starts), sizes) if len(indices) else indices


def equal_runs(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, starts, sizes): the row indices of a (M, words) array sorted by value, and the start and
    length of each run of equal rows in that order."""
    order = np.lexsort(words.T[::-1]) if words.shape[1] > 1 else np.argsort(words[:, 0], kind="stable")
    return order, *run_bounds(words[order])


def count_distinct(codes: np.ndarray) -> int:
    """How many different codes there are among the rows of (M, bytes) uint8 codes."""
    return len(equal_runs(code_words(codes))[1])


def _substring_words(codes: np.ndarray, nbits: int, pieces: int) -> list[np.ndarray]:
    """For each of `pieces` contiguous bit ranges, every code's bits in that range, as uint64 words."""
    bits = np.unpackbits(codes, axis=1, count=nbits)
    bounds = np.linspace(0, nbits, pieces + 1).round().astype(int)
    return [code_words(np.packbits(bits[:, lo:hi], axis=1)) for lo, hi in itertools.pairwise(bounds)]


def find_groups(codes: np.ndarray, nbits: int, radius: int = 0) -> np.ndarray:
    """Group label of every code (-1: none) for codes within `radius` of each other (connected)."""
    n = len(codes)
    if radius == 0:  # one sort: each code joins the lowest index with the same value
        order, starts, sizes = equal_runs(code_words(codes))
        return component_labels(lowest_in_runs(order, starts, sizes), order, n)
    if radius < 0 or radius >= nbits:
        raise ValueError(f"radius must be in 0..{nbits - 1}, got {radius}")
    left, right = [], []
    for words in _substring_words(codes, nbits, radius + 1):
        order, starts, sizes = equal_runs(words)
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            m = order[start : start + size]
            i, j = np.triu_indices(size, 1)
            close = hamming(codes[m[i]], codes[m[j]]) <= radius
            left.append(m[i][close])
            right.append(m[j][close])
    if not left:
        return np.full(n, -1, np.int64)
    return component_labels(np.concatenate(left), np.concatenate(right), n)


def component_labels(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """Group label of each of n indices linked by the pairs (left[k], right[k]): the connected components
    of two or more members, numbered in order of their lowest index; -1 for an index in no pair."""
    labels = np.full(n, -1, np.int64)
    if len(left) == 0:
        return labels
    graph = coo_matrix((np.ones(len(left), bool), (left, right)), shape=(n, n))
    count, component = connected_components(graph, directed=False)
    lowest = np.full(count, n, np.int64)
    np.minimum.at(lowest, component, np.arange(n))
    grouped = np.flatnonzero(np.bincount(component, minlength=count) > 1)
    number = np.full(count, -1, np.int64)
    number[grouped[np.argsort(lowest[grouped])]] = np.arange(len(grouped))
    return number[component]


def groups_of(labels: np.ndarray, chosen=None) -> list[np.ndarray]:
    """The members (ascending) of each group in `chosen` (default: every group), in label order."""
    chosen = range(int(labels.max(initial=-1)) + 1) if chosen is None else chosen
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], [(g, g + 1) for g in chosen])
    return [order[lo:hi] for lo, hi in bounds.reshape(-1, 2)]
