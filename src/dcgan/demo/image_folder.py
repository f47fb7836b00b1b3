"""The demo's image folder, laid out like ImageNet's train/ (one folder per class): windows of the demo
photos in many shapes, sizes and formats, the class being the photo, plus files that must be rejected.

Unlike the SVM's square windows (`labelled.py`), these are oblong, so the extraction's shorter-side
resize and centre crop matter; about one in nine is smaller than 64 pixels on its shorter side.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dcgan.demo import photos
from dcgan.imageops import encode

EXTENSIONS = {"jpeg": ".JPEG", "png": ".png", "webp": ".webp"}  # ImageNet's own files end in .JPEG
BAD_FILES = {  # relative path -> what it is (each must be rejected, or skipped when hidden)
    "coins/truncated.JPEG": "truncated jpeg",
    "flower/empty.png": "empty",
    "china/notes.JPEG": "not an image",
    "README.txt": "not an image",
    "coffee/.DS_Store": "hidden",
}


def _window(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random window of `picture` with an aspect ratio of 0.6 to 1.7, scaled to a shorter side of 40
    to 240 pixels."""
    height, width = picture.shape[:2]
    aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))  # width / height
    h = int(rng.uniform(0.35, 0.8) * min(height, width / aspect))
    w = int(h * aspect)
    y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    short = int(rng.integers(40, 241))
    scale = short / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(
        picture[y : y + h, x : x + w], size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    )


def make_image_folder(folder: str | Path, *, per_class: int, seed: int) -> dict:
    """Write `per_class` windows of each demo photo under folder/<photo>/ (every seventh one a folder
    deeper) and the bad files; return the truth: each file's class and size, and the bad files."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    images = {}
    for photo in photos.PHOTOS:
        picture = photos.load(photo)
        for index in range(per_class):
            image = _window(picture, rng)
            fmt = str(rng.choice(list(EXTENSIONS), p=[0.7, 0.2, 0.1]))
            deeper = "more/" if index % 7 == 6 else ""
            name = f"{photo.name}/{deeper}{photo.name}_{index:04d}{EXTENSIONS[fmt]}"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(encode(image, fmt, int(rng.integers(80, 96))))
            images[name] = {"class": photo.name, "width": image.shape[1], "height": image.shape[0], "format": fmt}
    sample = encode(_window(photos.load(photos.PHOTOS[0]), rng), "jpeg", 90)
    contents = {
        "truncated jpeg": sample[: len(sample) // 2],
        "empty": b"",
        "not an image": b"notes, not pixels\n",
        "hidden": sample,
    }
    for name, kind in BAD_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(contents[kind])
    return {"per_class": per_class, "seed": seed, "images": images, "bad": dict(BAD_FILES), "photos": photos.sources()}
