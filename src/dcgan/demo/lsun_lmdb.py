"""A small LMDB in the exact LSUN scene format, with known near-duplicates and bad values.

Format as in LSUN's bedroom_train_lmdb: 40-character lowercase hex ASCII keys; values are encoded
images with the shorter side 256, JPEG quality 75 (here also some WebP and a few PNG values).

Distinct images are windows of the package photos under one of 24 variants (mirrored or not, upside
down or not, x six colour permutations, or six tints for grey photos); two windows of the same photo and variant
overlap by IoU < 0.4, so distinct images are truly distinct. Near-duplicate groups copy a distinct
image by exact bytes, re-encoding, down-and-up rescaling, a small border crop or a brightness change.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import cv2
import lmdb
import numpy as np

from dcgan.demo import photos
from dcgan.demo.encode import decode, resize_to_short
from dcgan.imageops import encode

SHORT_SIDE = 256
MAX_OVERLAP = 0.4
COPY_TRANSFORMS = ("exact_copy", "reencode", "rescale", "border_crop", "brightness")
BAD_KINDS = ("empty", "truncated_jpeg", "truncated_webp", "truncated_png", "garbage", "corrupt_jpeg", "too_small")
_PERMUTATIONS = tuple(itertools.permutations(range(3)))
_TINTS = ((1.0, 1.0, 1.0), (0.75, 0.9, 1.0), (1.0, 0.9, 0.7), (0.8, 1.0, 0.8), (1.0, 0.8, 0.95), (0.7, 0.8, 0.9))


@dataclass
class _Window:
    x: int
    y: int
    w: int
    h: int

    def iou(self, other: "_Window") -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        return inter / (self.w * self.h + other.w * other.h - inter)


VARIANTS = 24  # mirrored left-right x upside down x six colour permutations (or tints for grey photos)
MAX_ATTEMPTS = 5000  # consecutive rejected windows before giving up


def variant(image: np.ndarray, index: int, grey: bool) -> np.ndarray:
    """Variant 0..23 of an image: mirrored for index % 12 >= 6, upside down for index >= 12, then a
    channel permutation (a tint if grey)."""
    out = image[:, ::-1] if index % 12 >= 6 else image
    out = out[::-1] if index >= 12 else out
    colour = index % 6
    if grey:
        return np.clip(out * np.array(_TINTS[colour], np.float32), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out[..., _PERMUTATIONS[colour]])


class _DistinctImages:
    """Draws windows of the photos that overlap no earlier window of the same photo and variant."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.taken: dict[tuple[str, int], list[_Window]] = {}

    def draw(self) -> np.ndarray:
        rng = self.rng
        for _ in range(MAX_ATTEMPTS):
            photo = photos.PHOTOS[rng.integers(len(photos.PHOTOS))]
            index = int(rng.integers(VARIANTS))
            image = photos.load(photo)
            height, width = image.shape[:2]
            aspect = rng.uniform(1.0, 1.78)
            landscape = rng.random() < 0.75
            max_short = min(height, width / aspect) if landscape else min(width, height / aspect)
            short = int(rng.uniform(0.25, 1.0) * max_short)
            if short < 96:
                continue
            w, h = (round(short * aspect), short) if landscape else (short, round(short * aspect))
            w, h = min(w, width), min(h, height)
            window = _Window(int(rng.integers(width - w + 1)), int(rng.integers(height - h + 1)), w, h)
            taken = self.taken.setdefault((photo.name, index), [])
            if any(window.iou(t) >= MAX_OVERLAP for t in taken):
                continue
            taken.append(window)
            # The window of the variant is the variant of the mirrored window: crop first, it is cheaper.
            x = width - window.x - w if index % 12 >= 6 else window.x
            y = height - window.y - h if index >= 12 else window.y
            crop = image[y : y + h, x : x + w]
            return variant(resize_to_short(crop, SHORT_SIDE), index, photos.is_grey(photo))
        made = sum(len(t) for t in self.taken.values())
        raise ValueError(f"the demo photos gave {made} distinct images and no more: ask for fewer entries")


def _copy(base_bytes: bytes, transform: str, rng: np.random.Generator) -> bytes:
    if transform == "exact_copy":
        return base_bytes
    pixels = decode(base_bytes)
    h, w = pixels.shape[:2]
    if transform == "reencode":
        if rng.random() < 0.3:
            return encode(pixels, "webp", int(rng.integers(60, 95)))
        return encode(pixels, "jpeg", int(rng.choice([55, 60, 65, 70, 80, 85, 90, 95])))
    if transform == "rescale":
        f = rng.uniform(0.5, 0.85)
        small = resize_to_short(pixels, round(min(h, w) * f))
        return encode(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), "jpeg")
    if transform == "border_crop":
        top, bottom = (int(rng.uniform(0, 0.04) * h) for _ in range(2))
        left, right = (int(rng.uniform(0, 0.04) * w) for _ in range(2))
        return encode(resize_to_short(pixels[top : h - bottom, left : w - right], SHORT_SIDE), "jpeg")
    if transform == "brightness":
        factor = rng.choice([rng.uniform(0.8, 0.9), rng.uniform(1.1, 1.25)])
        return encode(np.clip(pixels * factor, 0, 255).astype(np.uint8), "jpeg")
    raise ValueError(transform)


def _bad(kind: str, sample: np.ndarray, rng: np.random.Generator) -> bytes:
    if kind == "empty":
        return b""
    if kind == "garbage":
        return rng.bytes(int(rng.integers(500, 5000)))
    if kind == "corrupt_jpeg":
        return b"\xff\xd8" + rng.bytes(int(rng.integers(500, 5000))) + b"\xff\xd9"
    if kind == "too_small":
        return encode(resize_to_short(sample, 40), "jpeg")
    fmt = kind.removeprefix("truncated_")
    data = encode(sample, fmt)
    return data[: int(len(data) * rng.uniform(0.3, 0.8))]


def make_lsun_lmdb(path: str | Path, *, entries: int, seed: int) -> dict:
    """Write the LMDB at `path` (a new folder); return its ground truth."""
    rng = np.random.default_rng(seed)
    n_bad = max(len(BAD_KINDS), round(0.01 * entries))
    n_copies = round(0.12 * entries)
    n_distinct = entries - n_bad - n_copies
    if n_distinct < 10:
        raise ValueError(f"entries={entries} is too few for a demo LMDB (at least 40)")
    keys = set()

    def new_key() -> str:
        while (key := rng.bytes(20).hex()) in keys:
            pass
        keys.add(key)
        return key

    draw = _DistinctImages(rng)
    values: dict[str, bytes] = {}
    formats = {"jpeg": 0, "webp": 0, "png": 0}
    distinct = []
    for _ in range(n_distinct):
        fmt = rng.choice(["jpeg", "webp", "png"], p=[0.88, 0.09, 0.03])
        key = new_key()
        values[key] = encode(draw.draw(), str(fmt), 75 if fmt == "jpeg" else 80)
        formats[str(fmt)] += 1
        distinct.append(key)

    groups, copies = [], {}
    bases = iter(rng.permutation(distinct))
    while len(copies) < n_copies:
        base = str(next(bases))
        group = [base]
        for _ in range(min(int(rng.choice([1, 2, 3], p=[0.65, 0.25, 0.1])), n_copies - len(copies))):
            transform = COPY_TRANSFORMS[rng.integers(len(COPY_TRANSFORMS))]
            key = new_key()
            values[key] = _copy(values[base], transform, rng)
            copies[key] = transform
            group.append(key)
        groups.append(group)

    bad = {}
    for i in range(n_bad):
        kind = BAD_KINDS[i % len(BAD_KINDS)]
        key = new_key()
        values[key] = _bad(kind, draw.draw(), rng)
        bad[key] = kind

    path = Path(path)
    path.mkdir(parents=True)
    total = sum(len(v) for v in values.values())
    with lmdb.open(str(path), map_size=max(2 * total, 1 << 26)) as env, env.begin(write=True) as txn:
        for key in sorted(values):
            txn.put(key.encode("ascii"), values[key])
    return {
        "entries": entries,
        "seed": seed,
        "groups": groups,
        "copies": copies,
        "bad": bad,
        "formats": formats,
        "photos": photos.sources(),
    }
