"""The hash functions of the dedup methods, as the stages and the evaluation's memorisation check call them."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from dcgan.dedup import autoencoder, phash
from dcgan.dedup.inputs import IDENTITY
from dcgan.dedup.settings import METHODS
from dcgan.dedup.views import hash_views
from dcgan.device import pick_device
from dcgan.errors import UserError


def make_hasher(method: str, model_path: str | Path | None = None) -> tuple[int, Callable]:
    """(bits, function from (N, 32, 3, 32) uint8 views to (N, bytes) packed codes) for a method."""
    if method == "phash":
        return phash.BITS, lambda small: phash.phash_codes(small.permute(0, 1, 3, 2).cpu().numpy())
    if method != "autoencoder":
        raise UserError(f"unknown dedup method {method!r} (choose from {', '.join(METHODS)})")
    if model_path is None:
        raise UserError("the autoencoder method needs the trained model (--model)")
    model, settings = autoencoder.load(model_path)
    model.to(pick_device())
    return settings.bits, lambda small: autoencoder.hash_images(model, settings, small)


def hash_images(hasher: Callable, images: np.ndarray) -> np.ndarray:
    """(N, bytes) codes of whole images (their identity view)."""
    return hash_views(hasher, images, [IDENTITY], pick_device())[:, 0]
