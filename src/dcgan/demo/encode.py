"""Decoding and resizing helpers shared by the demo generators."""

from __future__ import annotations

import cv2
import numpy as np


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def resize_to_short(image: np.ndarray, short: int) -> np.ndarray:
    """Scale so the shorter side is `short`, keeping the aspect ratio."""
    h, w = image.shape[:2]
    scale = short / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation)
