"""The baseline: imagehash's perceptual hash (64-bit DCT hash) of each table image."""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

BITS = 64


def phash_codes(images: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 RGB -> (N, 8) uint8 packed 64-bit perceptual hashes."""
    codes = np.empty((len(images), BITS // 8), np.uint8)
    for i, image in enumerate(images):
        codes[i] = np.packbits(imagehash.phash(Image.fromarray(np.asarray(image))).hash.ravel())
    return codes
