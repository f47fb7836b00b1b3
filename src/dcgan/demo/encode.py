"""Encoding helpers shared by the demo generators."""

from __future__ import annotations

import cv2
import numpy as np


def encode(image: np.ndarray, fmt: str, quality: int = 75) -> bytes:
    """Encode BGR pixels as jpeg, webp, png or bmp bytes."""
    params = {
        "jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
        "webp": [cv2.IMWRITE_WEBP_QUALITY, quality],
        "png": [cv2.IMWRITE_PNG_COMPRESSION, 6],
        "bmp": [],
    }[fmt]
    ok, buf = cv2.imencode("." + ("jpg" if fmt == "jpeg" else fmt), image, params)
    if not ok:
        raise RuntimeError(f"could not encode {fmt}")
    return buf.tobytes()


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def resize_to_short(image: np.ndarray, short: int) -> np.ndarray:
    """Scale so the shorter side is `short`, keeping the aspect ratio."""
    h, w = image.shape[:2]
    scale = short / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation)
