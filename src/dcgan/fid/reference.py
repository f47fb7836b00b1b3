"""Reference features of a dataset's training shards for FID/KID, computed once and cached (rule fid_reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcgan.errors import UserError
from dcgan.fid.inception import InceptionFeatures
from dcgan.fid.settings import ReferenceSettings
from dcgan.files import atomic_path
from dcgan.progress import progress
from dcgan.shards.reader import sample_image, shard_samples, shard_urls


def read_reference_images(shard_dir: str | Path, count: int, size: int) -> tuple[np.ndarray, list[str]]:
    """The first `count` training images in shard order (the shards are a seeded global shuffle, so
    this is a random sample), at the model's `size` as the training loader gives them to D."""
    images, keys = [], []
    for url in shard_urls(shard_dir):
        for sample in shard_samples(url):
            images.append(sample_image(sample, size))
            keys.append(sample["__key__"])
            if len(images) == count:
                return np.stack(images), keys
    if not images:
        raise UserError(f"{shard_dir}: no images in the shards")
    return np.stack(images), keys


def write_reference(
    shard_dir: str | Path, weights: str | Path, out: str | Path, settings: ReferenceSettings, *, size: int, device
) -> dict:
    images, keys = read_reference_images(shard_dir, settings.reference, size)
    batch_size = settings.batch_size
    extractor = InceptionFeatures(weights, device)
    bar = progress(total=len(images), desc="inception (reference)")
    features = []
    for lo in range(0, len(images), batch_size):
        features.append(extractor(images[lo : lo + batch_size], batch_size))
        bar.update(len(features[-1]))
    bar.close()
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, features=np.concatenate(features).astype(np.float32), images=images, keys=np.array(keys))
    return {"images": len(images), "size": size, "source": str(shard_dir)}
