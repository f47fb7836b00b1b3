"""Group images whose hashes collide (radius 0) or lie within Hamming radius r, without an all-pairs scan.

Radius 0 is the paper's method: one linear pass over a hash table. For r > 0, multi-index hashing: split
the code into r + 1 substrings; two codes within distance r agree exactly on at least one substring
(pigeonhole), so only codes that share a substring bucket are compared, and each candidate pair is
verified by its true Hamming distance. Groups are the connected components of the verified pairs.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance between packed codes (..., nbytes) uint8."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1)


def _buckets(keys: list[bytes]) -> list[list[int]]:
    """Indices sharing each key, for keys shared by two or more: one pass through a dict."""
    table: dict[bytes, list[int]] = {}
    for index, key in enumerate(keys):
        table.setdefault(key, []).append(index)
    return [members for members in table.values() if len(members) > 1]


def _substring_keys(codes: np.ndarray, nbits: int, pieces: int) -> list[list[bytes]]:
    """For each of `pieces` contiguous bit ranges, every code's bits in that range, as bytes."""
    bits = np.unpackbits(codes, axis=1, count=nbits)
    bounds = np.linspace(0, nbits, pieces + 1).round().astype(int)
    keys = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        packed = np.packbits(bits[:, lo:hi], axis=1)
        keys.append([row.tobytes() for row in packed])
    return keys


def find_groups(codes: np.ndarray, nbits: int, radius: int = 0) -> list[np.ndarray]:
    """Groups (sorted index arrays, two or more members each) of codes within `radius` of each other."""
    n = len(codes)
    if radius == 0:
        return [np.array(m) for m in _buckets([row.tobytes() for row in codes])]
    if radius < 0 or radius >= nbits:
        raise ValueError(f"radius must be in 0..{nbits - 1}, got {radius}")
    left, right = [], []
    for keys in _substring_keys(codes, nbits, radius + 1):
        for members in _buckets(keys):
            m = np.array(members)
            i, j = np.triu_indices(len(m), 1)
            close = hamming(codes[m[i]], codes[m[j]]) <= radius
            left.append(m[i][close])
            right.append(m[j][close])
    if not left:
        return []
    return linked_groups(np.concatenate(left), np.concatenate(right), n)


def linked_groups(left, right, n: int) -> list[np.ndarray]:
    """Connected components (sorted index arrays, two or more members) of the pairs (left[k], right[k])."""
    graph = coo_matrix((np.ones(len(left), bool), (left, right)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(labels, minlength=count))[:-1])
    return [g for g in groups if len(g) > 1]
