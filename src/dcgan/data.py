"""Training input: batches of float NCHW tensors in [-1, 1] from WebDataset shards.

Each DataLoader worker of each DDP rank reads its own slice of the shards (shards split by rank and
worker; when there are fewer shards than slices, every slice reads all shards and keeps every n-th
sample), shuffles through a buffer, decodes (simplejpeg, or OpenCV for PNG and WebP), downscales to
`size` when asked, and collates uint8 batches. The main process
copies them to the device (pinned memory, non-blocking) and scales to [-1, 1] there, so the workers
move a quarter of the bytes that float batches would take. Given the seed, the epoch and the worker
count, the batches and their order are the same on every run.

In the default mode an epoch is one pass: each sample once per rank group. With `resampled` each
slice draws shards at random for ever and an epoch is `epoch_samples` samples per rank, the same on
every rank, as DDP needs.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import simplejpeg
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from dcgan.errors import UserError
from dcgan.shards import shard_samples

IMAGE_EXTENSIONS = ("jpg", "png", "webp")


@dataclass
class Batch:
    images: torch.Tensor  # (N, 3, S, S) float32 in [-1, 1] on the loader's device
    keys: list[str]


def shard_urls(source: str | Path) -> list[str]:
    """The shard files of a folder (its index.json, else every *.tar) or of a brace pattern."""
    import braceexpand

    path = Path(source)
    if path.is_dir():
        index = path / "index.json"
        if index.is_file():
            urls = [str(path / s["url"]) for s in json.loads(index.read_text())["shardlist"]]
        else:
            urls = sorted(str(p) for p in path.glob("*.tar"))
        if not urls:
            raise UserError(f"{path}: no shards in this folder")
    else:
        urls = list(braceexpand.braceexpand(str(source)))
    missing = [u for u in urls if not Path(u).is_file()]
    if missing:
        raise UserError(f"shard not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return urls


def decode_rgb(data: bytes, name: str) -> np.ndarray:
    """RGB pixels of an encoded image: libjpeg-turbo through simplejpeg for JPEG, OpenCV otherwise."""
    try:
        if data[:2] == b"\xff\xd8":
            return simplejpeg.decode_jpeg(data, colorspace="RGB")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    except ValueError:
        image = None
    if image is None:
        raise ValueError(f"undecodable image in sample {name}")
    return image


def sample_image(sample: dict, size: int = 0) -> np.ndarray:
    """A shard sample's RGB image, downscaled to size x size (INTER_AREA) unless size is 0."""
    ext = next((e for e in IMAGE_EXTENSIONS if e in sample), None)
    if ext is None:
        raise ValueError(f"sample {sample['__key__']} in {sample['__url__']} has no {'/'.join(IMAGE_EXTENSIONS)} image")
    image = decode_rgb(sample[ext], f"{sample['__key__']} of {sample['__url__']}")
    if size and image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


class ShardStream(IterableDataset):
    """uint8 batches {'images': (N, S, S, 3), 'keys': [...]} of this rank's and worker's slice."""

    def __init__(self, urls: list[str], *, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 shuffle_buffer: int = 1000, flip: bool = False, resampled: bool = False, epoch_samples: int = 0,
                 size: int = 0):
        if resampled and epoch_samples <= 0:
            raise ValueError("resampled loading needs epoch_samples > 0")
        self.urls, self.batch_size = list(urls), batch_size
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.shuffle_buffer, self.flip = shuffle_buffer, flip
        self.resampled, self.epoch_samples = resampled, epoch_samples
        self.size = size
        self.epoch = 0

    def _slice(self) -> tuple[int, int]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        return self.rank * workers + worker, self.world_size * workers

    def _samples(self, slice_id: int, slices: int, rng: random.Random) -> Iterator[dict]:
        if self.resampled:
            quota = math.ceil(self.epoch_samples * self.world_size / slices)
            while True:
                for sample in shard_samples(rng.choice(self.urls)):
                    yield sample
                    quota -= 1
                    if quota == 0:
                        return
        order = list(self.urls)
        random.Random(f"{self.seed}:{self.epoch}").shuffle(order)  # the same shard order on every slice
        if len(order) >= slices:
            for url in order[slice_id::slices]:
                yield from shard_samples(url)
            return
        for url in order:  # fewer shards than slices: split inside each shard
            for position, sample in enumerate(shard_samples(url)):
                if position % slices == slice_id:
                    yield sample

    def _shuffled(self, samples: Iterator[dict], rng: random.Random) -> Iterator[dict]:
        buffer: list[dict] = []
        for sample in samples:
            buffer.append(sample)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
        rng.shuffle(buffer)
        yield from buffer

    def __iter__(self) -> Iterator[dict]:
        cv2.setNumThreads(1)
        slice_id, slices = self._slice()
        rng = random.Random(f"{self.seed}:{self.epoch}:{slice_id}")
        images, keys = [], []
        for sample in self._shuffled(self._samples(slice_id, slices, rng), rng):
            image = sample_image(sample, self.size)
            if self.flip and rng.random() < 0.5:
                image = image[:, ::-1]
            images.append(image)
            keys.append(sample["__key__"])
            if len(images) == self.batch_size:
                yield {"images": torch.from_numpy(np.stack(images)), "keys": keys}
                images, keys = [], []
        if images:
            yield {"images": torch.from_numpy(np.stack(images)), "keys": keys}


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, S, S, 3) -> float32 (N, 3, S, S) in [-1, 1], on the tensor's device."""
    return images.permute(0, 3, 1, 2).contiguous().float().mul_(1 / 127.5).sub_(1.0)  # transpose bytes, not floats


class Loader:
    """Iterate over one epoch of Batches; call set_epoch(e) before each epoch for a new order."""

    def __init__(self, source: str | Path, batch_size: int, *, workers: int = 2, rank: int = 0, world_size: int = 1,
                 seed: int = 0, shuffle_buffer: int = 1000, flip: bool = False, resampled: bool = False,
                 epoch_samples: int = 0, size: int = 0, device: torch.device | str = "cpu", prefetch: int = 4):
        self.stream = ShardStream(shard_urls(source), batch_size=batch_size, rank=rank, world_size=world_size, seed=seed,
                                  shuffle_buffer=shuffle_buffer, flip=flip, resampled=resampled,
                                  epoch_samples=epoch_samples, size=size)
        self.device = torch.device(device)
        self.workers, self.prefetch = workers, prefetch

    def set_epoch(self, epoch: int) -> None:
        self.stream.epoch = epoch

    def __iter__(self) -> Iterator[Batch]:
        loader = DataLoader(self.stream, batch_size=None, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda",
                            prefetch_factor=self.prefetch if self.workers else None)
        for batch in loader:
            images = batch["images"].to(self.device, non_blocking=True)
            yield Batch(to_unit_range(images), batch["keys"])
