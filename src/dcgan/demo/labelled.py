"""A labelled set for the SVM protocol on the demo: windows of the demo photos, labelled by photo.

The demo bedrooms are windows of these photos, so a discriminator trained on them has seen this
kind of image; the class of a window is the photo it was cut from (12 classes).
"""

from __future__ import annotations

import cv2
import numpy as np

from dcgan.demo import photos


def photo_windows(size: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images (N, size, size, 3) uint8 RGB, labels, class names): `per_class` random square windows of
    every photo, a quarter to half of its shorter side, half of them mirrored."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, photo in enumerate(photos.PHOTOS):
        picture = photos.load(photo)
        height, width = picture.shape[:2]
        for _ in range(per_class):
            side = int(rng.integers(min(height, width) // 4, min(height, width) // 2 + 1))
            y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
            window = cv2.resize(picture[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
            if rng.random() < 0.5:
                window = window[:, ::-1]
            images.append(np.ascontiguousarray(window[..., ::-1]))
            labels.append(label)
    return np.stack(images), np.array(labels), [p.name for p in photos.PHOTOS]
